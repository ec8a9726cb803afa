//! One function per command. Each returns the exit code, or a [`CliError`].

use std::collections::BTreeSet;

use svcintent_core::api::Request;
use svcintent_core::diagnostic::human::{self, Color};
use svcintent_core::diagnostic::json::JsonDiagnostic;
use svcintent_core::diagnostic::{github, sarif};
use svcintent_core::{SourceFile, Sources};

use super::{
    CliError, Ctx, DiffArgs, DiffFormat, Format, LintArgs, RenderArgs, ValidateArgs, ValidateFormat,
};
use crate::exit;
use crate::module;
use crate::protocol::{self, Response};
use crate::site::{self, Site};
use crate::tree::{self, TreeFile, WriteOutcome};

/// The diagnostics of a site with paths as the user sees them ([`Site::display_path`]).
fn displayed(site: &Site, diagnostics: Vec<JsonDiagnostic>) -> Vec<JsonDiagnostic> {
    let fix = |file: &mut String| {
        if !file.is_empty() {
            *file = site.display_path(file);
        }
    };
    diagnostics
        .into_iter()
        .map(|mut d| {
            fix(&mut d.location.file);
            for r in &mut d.related {
                fix(&mut r.location.file);
            }
            d
        })
        .collect()
}

/// The site's files under their displayed paths, for source excerpts.
fn displayed_sources(site: &Site) -> Sources {
    Sources::new(
        site.files
            .iter()
            .map(|f| SourceFile::new(site.display_path(&f.path), f.text.clone()))
            .collect(),
    )
}

fn human_report(site: &Site, diagnostics: &[JsonDiagnostic], color: Color) -> String {
    human::render_all(diagnostics, &displayed_sources(site), color)
}

/// A request that must succeed as a request (lint, render: only the intent may have errors).
fn served(response: Response) -> Result<Response, CliError> {
    match &response.error {
        Some(error) => Err(CliError::Protocol(format!(
            "the compiler refused the request: {error}"
        ))),
        None => Ok(response),
    }
}

pub(super) fn lint(ctx: &Ctx<'_>, args: &LintArgs) -> Result<u8, CliError> {
    let sites = if let Some(dir) = &args.site {
        vec![site::read(dir)?]
    } else if args.paths.is_empty() {
        vec![site::bundled()?]
    } else {
        let targets = site::lint_targets(&args.paths)?;
        if !targets.outside.is_empty() {
            let list = targets
                .outside
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            ctx.out.note(&format!(
                "skipped {} YAML file(s) that belong to no site (no directory above them has a file with a top-level `site:` key): {list}",
                targets.outside.len()
            ));
        }
        targets
            .sites
            .iter()
            .map(|dir| site::read(dir))
            .collect::<Result<Vec<_>, _>>()?
    };
    if sites.is_empty() {
        return Ok(exit::OK);
    }

    let engine = ctx.engine()?;
    let mut results = Vec::new();
    let mut errors = false;
    for site in &sites {
        let response = served(ctx.call(&engine, &protocol::lint(&site.files))?)?;
        errors |= response.has_errors();
        results.push((site, displayed(site, response.diagnostics)));
    }

    let all = || {
        results
            .iter()
            .flat_map(|(_, ds)| ds.iter().cloned())
            .collect::<Vec<_>>()
    };
    let text = match args.format {
        Format::Human => results
            .iter()
            .map(|(site, ds)| human_report(site, ds, ctx.out.stdout_color))
            .collect(),
        Format::Json => {
            #[derive(serde::Serialize)]
            struct Report {
                ok: bool,
                diagnostics: Vec<JsonDiagnostic>,
            }
            serde_json::to_string_pretty(&Report {
                ok: !errors,
                diagnostics: all(),
            })
            .unwrap_or_default()
                + "\n"
        }
        Format::Github => github::render_all(&all()),
        Format::Sarif => sarif::render(
            &all(),
            &sarif::Tool {
                name: "svcintent",
                version: module::CLI_VERSION,
                information_uri: "",
            },
        ),
    };
    ctx.out.out(&text);
    Ok(if errors { exit::ERRORS } else { exit::OK })
}

pub(super) fn render(ctx: &Ctx<'_>, args: &RenderArgs) -> Result<u8, CliError> {
    let site = match &args.site {
        Some(dir) => site::read(dir)?,
        None => site::bundled()?,
    };
    let engine = ctx.engine()?;
    let response = served(ctx.call(&engine, &protocol::render(&site.files))?)?;
    let out_dir = args.out.display();

    let diagnostics = displayed(&site, response.diagnostics.clone());
    if response.has_errors() || !response.ok {
        ctx.out
            .err(&human_report(&site, &diagnostics, ctx.out.stderr_color));
        ctx.out.error(&format!(
            "the intent has errors; nothing was written to {out_dir}"
        ));
        return Ok(exit::ERRORS);
    }
    if !diagnostics.is_empty() {
        ctx.out
            .err(&human_report(&site, &diagnostics, ctx.out.stderr_color));
    }

    let manifest = response
        .manifest_json()
        .ok_or_else(|| CliError::Protocol("the render response has no manifest".to_owned()))?;
    let hosts: BTreeSet<&str> = response
        .files
        .iter()
        .filter_map(|f| f.path.split('/').next())
        .collect();
    let mut files: Vec<TreeFile> = response
        .files
        .iter()
        .map(|f| TreeFile {
            path: f.path.clone(),
            contents: f.contents.as_bytes().to_vec(),
        })
        .collect();
    files.push(TreeFile {
        path: "manifest.json".to_owned(),
        contents: manifest.into_bytes(),
    });
    let rendered = files.len();

    if args.check {
        let drift = tree::diff(&args.out, &files)?;
        if drift.is_empty() {
            ctx.out
                .out(&format!("{out_dir} is up to date ({rendered} files)\n"));
            return Ok(exit::OK);
        }
        let mut text = String::new();
        for d in &drift {
            text.push_str(&format!("{d}\n"));
        }
        ctx.out.out(&text);
        ctx.out.error(&format!(
            "{out_dir} differs from what {} renders to ({} file(s)); run `svcintent render` without --check to update it",
            site.name(),
            drift.len()
        ));
        return Ok(exit::DRIFT);
    }

    match tree::write(&args.out, &files, args.keep)? {
        WriteOutcome::Unchanged { generation } => {
            ctx.out.out(&format!(
                "{out_dir} is up to date (generation {generation}); nothing written\n"
            ));
        }
        WriteOutcome::Written {
            generation,
            previous,
            removed,
            migrated,
        } => {
            if let Some(m) = migrated {
                ctx.out.note(&format!(
                    "the directory that was at {out_dir} is kept as generation {m}"
                ));
            }
            let mut line = format!(
                "wrote {rendered} files for {} host(s) to {out_dir} (generation {generation}",
                hosts.len()
            );
            if let Some(p) = previous {
                line.push_str(&format!("; previous: {p}"));
            }
            if !removed.is_empty() {
                line.push_str(&format!("; removed: {}", removed.join(", ")));
            }
            line.push_str(")\n");
            ctx.out.out(&line);
        }
    }
    Ok(exit::OK)
}

/// A request whose answer is text (explain, schema, version).
fn text_request(ctx: &Ctx<'_>, request: Request) -> Result<Result<String, String>, CliError> {
    let engine = ctx.engine()?;
    let response = ctx.call(&engine, &protocol::request(request))?;
    Ok(match (response.error, response.text) {
        (Some(error), _) => Err(error),
        (None, Some(text)) => Ok(text),
        (None, None) => return Err(CliError::Protocol("the response has no text".to_owned())),
    })
}

fn with_newline(mut s: String) -> String {
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

pub(super) fn explain(ctx: &Ctx<'_>, code: &str) -> Result<u8, CliError> {
    let text = text_request(
        ctx,
        Request::Explain {
            code: code.to_owned(),
        },
    )?
    .map_err(CliError::Usage)?;
    ctx.out.out(&with_newline(text));
    Ok(exit::OK)
}

pub(super) fn schema(ctx: &Ctx<'_>) -> Result<u8, CliError> {
    let text = text_request(ctx, Request::Schema)?
        .map_err(|e| CliError::Protocol(format!("the compiler refused the schema request: {e}")))?;
    ctx.out.out(&with_newline(text));
    Ok(exit::OK)
}

pub(super) fn version(ctx: &Ctx<'_>) -> Result<u8, CliError> {
    let engine_kind = match ctx.global.engine {
        super::EngineArg::Wasm => "wasm",
        super::EngineArg::Native => "native",
    };
    let core = text_request(ctx, Request::Version)?.map_err(|e| {
        CliError::Protocol(format!("the compiler refused the version request: {e}"))
    })?;
    let text = format!(
        "svcintent {cli}\n\
         compiler  {core} (engine: {engine_kind})\n\
         native    svcintent-core {native} (linked into this binary)\n\
         wasmtime  {wasmtime}\n\
         module    sha256 {sha} ({size} bytes, {opt}, ABI {abi})\n\
         target    {target}\n",
        cli = module::CLI_VERSION,
        native = svcintent_core::VERSION,
        wasmtime = module::WASMTIME_VERSION,
        sha = module::MODULE_SHA256,
        size = module::MODULE.len(),
        opt = if module::OPTIMISED {
            "wasm-opt -O3"
        } else {
            "not optimised"
        },
        abi = module::ABI_VERSION,
        target = module::TARGET,
    );
    ctx.out.out(&text);
    Ok(exit::OK)
}

pub(super) fn validate(ctx: &Ctx<'_>, args: &ValidateArgs) -> Result<u8, CliError> {
    use crate::daemons::{self, Daemon, Options};
    let options = Options {
        daemons: if args.daemons.is_empty() {
            Daemon::ALL.to_vec()
        } else {
            args.daemons.clone()
        },
        hosts: args.hosts.clone(),
        timeout: args.check_timeout,
        warnings_are_failures: !args.allow_warnings,
        jobs: args.jobs,
        keep_sandboxes: args.keep_sandboxes,
        ..Options::default()
    };
    let report = daemons::check_tree(&args.dir, &options).map_err(CliError::Harness)?;
    match args.format {
        ValidateFormat::Json => {
            ctx.out
                .out(&(serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"));
        }
        ValidateFormat::Human => ctx.out.out(&validate_summary(&report)),
    }
    Ok(if report.is_ok() {
        exit::OK
    } else {
        exit::ERRORS
    })
}

/// The human `validate` report: each failed check (one daemon on one host) with the lines the
/// daemon complained about under it, then how many checks ran and how many failed. A check
/// counts once however many lines it reports.
fn validate_summary(report: &crate::daemons::Report) -> String {
    let failed: std::collections::BTreeSet<(&str, crate::daemons::Daemon)> = report
        .failures
        .iter()
        .map(|f| (f.host.as_str(), f.daemon))
        .collect();
    let mut text = String::new();
    for (host, daemon) in &failed {
        let checked = report
            .checked
            .iter()
            .find(|(d, h, _)| d == daemon && h == host)
            .map_or_else(String::new, |(_, _, path)| format!(" ({})", path.display()));
        text.push_str(&format!("{daemon} rejected {host}{checked}:\n"));
        for finding in report
            .failures
            .iter()
            .filter(|f| f.daemon == *daemon && f.host == *host)
        {
            text.push_str(&format!("  {finding}\n"));
        }
    }
    text.push_str(&format!(
        "{} check(s) ran, {} failed\n",
        report.checked.len(),
        failed.len()
    ));
    text
}

/// A `diff` operand: a directory, `REV:DIR`, or (for OLD) a bare revision of `other`'s
/// directory.
fn diff_site(spec: &str, other: Option<&str>) -> Result<Site, CliError> {
    let path = std::path::Path::new(spec);
    if path.is_dir() {
        return Ok(site::read(path)?);
    }
    if let Some((rev, dir)) = spec.split_once(':')
        && !rev.is_empty()
    {
        let dir = if dir.is_empty() { "." } else { dir };
        return Ok(site::read_git(rev, std::path::Path::new(dir))?);
    }
    match other {
        Some(dir) if std::path::Path::new(dir).is_dir() => {
            Ok(site::read_git(spec, std::path::Path::new(dir))?)
        }
        _ => Err(CliError::Usage(format!(
            "{spec} is neither a site directory nor REV:DIR (a git revision and a directory)"
        ))),
    }
}

pub(super) fn diff(ctx: &Ctx<'_>, args: &DiffArgs) -> Result<u8, CliError> {
    let new = diff_site(&args.new, None)?;
    let old = diff_site(&args.old, Some(&args.new))?;
    let engine = ctx.engine()?;
    let response = ctx.call(&engine, &protocol::diff(&old.files, &new.files))?;
    if let Some(error) = &response.error {
        // The old site does not build: show why, as lint would.
        let ds = displayed(&old, response.old_diagnostics.clone());
        ctx.out.err(&human_report(&old, &ds, ctx.out.stderr_color));
        ctx.out.error(&format!("{}: {error}", old.name()));
        return Ok(exit::ERRORS);
    }
    let diagnostics = displayed(&new, response.diagnostics.clone());
    if !diagnostics.is_empty() {
        ctx.out
            .err(&human_report(&new, &diagnostics, ctx.out.stderr_color));
    }
    let Some(diff) = response.diff.filter(|_| response.ok) else {
        ctx.out
            .error(&format!("{} has errors; nothing to compare", new.name()));
        return Ok(exit::ERRORS);
    };
    let changed = !diff.is_empty();
    match args.format {
        DiffFormat::Json => {
            #[derive(serde::Serialize)]
            struct Report<'a> {
                ok: bool,
                changes: &'a [svcintent_core::diff::Change],
                #[serde(skip_serializing_if = "Option::is_none")]
                files: Option<&'a [svcintent_core::diff::FileDiff]>,
            }
            let report = Report {
                ok: true,
                changes: &diff.changes,
                files: (!args.summary).then_some(diff.files.as_slice()),
            };
            ctx.out
                .out(&(serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"));
        }
        DiffFormat::Human => ctx
            .out
            .out(&human_diff(&diff, args.summary, ctx.out.stdout_color)),
    }
    Ok(if changed && args.exit_code {
        exit::DRIFT
    } else {
        exit::OK
    })
}

fn human_diff(diff: &svcintent_core::diff::SiteDiff, summary: bool, color: Color) -> String {
    use std::fmt::Write as _;
    use svcintent_core::diff::FileStatus;

    let paint = |code: &str, line: &str| match color {
        Color::Always => format!("\x1b[{code}m{line}\x1b[0m"),
        Color::Never => line.to_owned(),
    };
    let mut out = String::new();
    if diff.is_empty() {
        out.push_str("no changes: both sites render to the same files\n");
        return out;
    }
    for c in &diff.changes {
        let kind = serde_json::to_value(c.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(out, "{kind:<9} {}", c.summary);
    }
    if diff.changes.is_empty() {
        out.push_str("(no change to hosts, services, announcements, sessions or the firewall)\n");
    }
    let count = |s: FileStatus| diff.files.iter().filter(|f| f.status == s).count();
    let _ = writeln!(
        out,
        "\n{} rendered file(s) change: {} added, {} removed, {} changed",
        diff.files.len(),
        count(FileStatus::Added),
        count(FileStatus::Removed),
        count(FileStatus::Changed)
    );
    if summary {
        for f in &diff.files {
            let status = match f.status {
                FileStatus::Added => "added",
                FileStatus::Removed => "removed",
                FileStatus::Changed => "changed",
            };
            let _ = writeln!(out, "  {status:<8} {}", f.path);
        }
        return out;
    }
    for f in &diff.files {
        out.push('\n');
        for line in f.unified.lines() {
            let painted = if line.starts_with("+++") || line.starts_with("---") {
                paint("1", line)
            } else if line.starts_with('+') {
                paint("32", line)
            } else if line.starts_with('-') {
                paint("31", line)
            } else if line.starts_with("@@") {
                paint("36", line)
            } else {
                line.to_owned()
            };
            out.push_str(&painted);
            out.push('\n');
        }
    }
    out
}
