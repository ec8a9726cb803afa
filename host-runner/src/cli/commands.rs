//! One function per command. Each returns the exit code, or a [`CliError`].

use std::collections::BTreeSet;

use svcintent_core::api::Request;
use svcintent_core::diagnostic::human::{self, Color};
use svcintent_core::diagnostic::json::JsonDiagnostic;
use svcintent_core::diagnostic::{github, sarif};
use svcintent_core::{SourceFile, Sources};

use super::{
    ApplyArgs, CliError, Ctx, DiffArgs, DiffFormat, Format, LintArgs, RenderArgs, RolloutArgs,
    ValidateArgs, ValidateFormat,
};
use crate::engine::Flow;
use crate::exit;
use crate::module;
use crate::protocol::{self, Response};
use crate::protocol::{Chunk, Received, StreamError};
use crate::site::{self, Site};
use crate::tree::{Incoming, WriteOutcome};

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
    let out_dir = args.out.display();

    // The module streams the tree (docs/abi.md, "Streamed responses"): each file goes to the
    // staging generation (or is compared, with --check) as it arrives, so the tree is never
    // whole in memory. Dropping `incoming` unfinished removes the staging directory.
    let mut parts = protocol::RenderParts::default();
    let mut incoming: Option<Incoming> = None;
    let mut failure: Option<CliError> = None;
    let (out, check) = (&args.out, args.check);
    ctx.stream(&engine, &protocol::render(&site.files), &mut |part| {
        let taken = parts.accept(part, &mut |chunk| {
            let tree = match &mut incoming {
                Some(tree) => tree,
                None => incoming.insert(if check {
                    Incoming::compare(out)?
                } else {
                    Incoming::write(out)?
                }),
            };
            match chunk {
                Chunk::File(path, contents) => tree.file(path, contents),
                Chunk::ManifestStart(bytes) => tree.file("manifest.json", bytes),
                Chunk::Manifest(bytes) => tree.append(bytes),
            }
        });
        match taken {
            Ok(()) => Flow::Continue(()),
            Err(e) => {
                failure = Some(match e {
                    StreamError::Protocol(message) => CliError::Protocol(message),
                    StreamError::Sink(e) => CliError::Tree(e),
                });
                Flow::Break(())
            }
        }
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let (mut rendered, hosts) = (parts.files + 1, parts.hosts.len());
    let response = match parts.finish().map_err(CliError::Protocol)? {
        Received::Tree { head, end } if end.ok => *head,
        Received::Tree { end, .. } => *end,
        Received::Whole(response) => served(*response)?,
    };

    let diagnostics = displayed(&site, response.diagnostics.clone());
    if response.has_errors() || !response.ok {
        drop(incoming);
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
    let (incoming, hosts) = match incoming {
        Some(tree) => (tree, hosts),
        // A whole successful response (a module that does not stream renders).
        None => whole_tree(&response, &args.out, check, &mut rendered)?,
    };

    if check {
        let drift = incoming.drift()?;
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

    match incoming.commit(args.keep)? {
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
                "wrote {rendered} files for {hosts} host(s) to {out_dir} (generation {generation}"
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

/// The tree of a whole render response, written or compared; also its number of hosts.
fn whole_tree(
    response: &Response,
    out: &std::path::Path,
    check: bool,
    rendered: &mut usize,
) -> Result<(Incoming, usize), CliError> {
    let manifest = response
        .manifest_json()
        .ok_or_else(|| CliError::Protocol("the render response has no manifest".to_owned()))?;
    let mut tree = if check {
        Incoming::compare(out)?
    } else {
        Incoming::write(out)?
    };
    let mut hosts = BTreeSet::new();
    for f in &response.files {
        hosts.extend(f.path.split('/').next());
        tree.file(&f.path, f.contents.as_bytes())?;
    }
    tree.file("manifest.json", manifest.as_bytes())?;
    *rendered = response.files.len() + 1;
    Ok((tree, hosts.len()))
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
        cache: validate_cache(args, ctx.global.no_cache),
        ..Options::default()
    };
    let started = std::time::Instant::now();
    let report = daemons::check_tree(&args.dir, &options).map_err(CliError::Harness)?;
    if ctx.global.stats {
        let work = report.work;
        let cpu = cpu_seconds()
            .map(|(own, children)| {
                format!(", CPU {own:.2}s in svcintent + {children:.2}s in the sandboxes")
            })
            .unwrap_or_default();
        ctx.out.err(&format!(
            "stats: validate: {} check(s), {} distinct, {} from the cache, {} run ({} in a sandbox of their own), {:.1}ms{cpu}\n",
            report.checked.len(),
            work.distinct,
            work.cached,
            work.ran,
            work.private,
            started.elapsed().as_secs_f64() * 1000.0
        ));
    }
    for note in &report.notes {
        ctx.out.note(&note.to_string());
    }
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

/// CPU seconds (user + system) used so far by this process and by its waited-for children,
/// from `/proc/self/stat` (Linux; in clock ticks of 1/100 s there).
fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces), from field 3 (state) on.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let fields: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(4)
        .map(|f| f.parse().ok())
        .collect::<Option<_>>()?;
    match fields.as_slice() {
        [utime, stime, cutime, cstime] => {
            Some(((utime + stime) / 100.0, (cutime + cstime) / 100.0))
        }
        _ => None,
    }
}

/// The result cache `validate` uses: `--cache DIR`, else `$SVCINTENT_VALIDATE_CACHE`; none
/// with `--no-cache`.
fn validate_cache(args: &ValidateArgs, no_cache: bool) -> Option<std::path::PathBuf> {
    if no_cache {
        return None;
    }
    args.cache.clone().or_else(|| {
        std::env::var_os("SVCINTENT_VALIDATE_CACHE")
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
    })
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

/// A `rollout` operand as the protocol carries it.
fn rollout_side(
    spec: &str,
    other: Option<&str>,
    is_old: bool,
) -> Result<(svcintent_core::api::RolloutSide, Option<Site>), CliError> {
    use svcintent_core::api::RolloutSide;
    let path = std::path::Path::new(spec);
    if is_old && spec == "none" && !path.exists() {
        return Ok((RolloutSide::None, None));
    }
    if path.is_dir() {
        let manifest = path.join("manifest.json");
        if manifest.is_file() {
            let bytes = std::fs::read(&manifest)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", manifest.display())))?;
            let manifest = serde_json::from_slice(&bytes).map_err(|e| {
                CliError::Usage(format!(
                    "{} is not a manifest svcintent can read: {e}",
                    manifest.display()
                ))
            })?;
            return Ok((RolloutSide::Manifest { manifest }, None));
        }
        if site::is_site_root(path) {
            let site = site::read(path)?;
            return Ok((
                RolloutSide::Site {
                    files: site.files.clone(),
                },
                Some(site),
            ));
        }
        if is_old {
            let mut states = Vec::new();
            let entries = std::fs::read_dir(path)
                .map_err(|e| CliError::Usage(format!("cannot read {spec}: {e}")))?;
            let mut names: Vec<std::path::PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            names.sort();
            for p in names {
                let bytes = std::fs::read(&p)
                    .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", p.display())))?;
                let state: svcintent_core::rollout::HostState = serde_json::from_slice(&bytes)
                    .map_err(|e| {
                        CliError::Usage(format!(
                            "{} is not a host state (state.json of svcintent apply): {e}",
                            p.display()
                        ))
                    })?;
                states.push(state);
            }
            if !states.is_empty() {
                return Ok((RolloutSide::States { states }, None));
            }
        }
        return Err(CliError::Usage(format!(
            "{spec} is neither a site (no YAML file with a top-level `site:` key), nor a rendered tree (no manifest.json){}",
            if is_old {
                ", nor a directory of host states (no <host>.json)"
            } else {
                ""
            }
        )));
    }
    let site = diff_site(spec, other)?;
    Ok((
        RolloutSide::Site {
            files: site.files.clone(),
        },
        Some(site),
    ))
}

pub(super) fn rollout(ctx: &Ctx<'_>, args: &RolloutArgs) -> Result<u8, CliError> {
    let (new, new_site) = rollout_side(&args.new, None, false)?;
    let (old, old_site) = rollout_side(&args.old, Some(&args.new), true)?;
    let engine = ctx.engine()?;
    let request = protocol::request(Request::Rollout {
        old,
        new,
        options: svcintent_core::rollout::Options {
            allow_withdraw: args.allow_withdraw.clone(),
            max_batch: args.max_batch,
        },
    });
    let response = ctx.call(&engine, &request)?;
    if let Some(error) = &response.error {
        for (site, diagnostics) in [
            (&old_site, &response.old_diagnostics),
            (&new_site, &response.diagnostics),
        ] {
            if let Some(site) = site
                && !diagnostics.is_empty()
            {
                let ds = displayed(site, diagnostics.clone());
                ctx.out.err(&human_report(site, &ds, ctx.out.stderr_color));
            }
        }
        ctx.out.error(error);
        return Ok(
            if response.has_errors() || !response.old_diagnostics.is_empty() {
                exit::ERRORS
            } else {
                exit::USAGE
            },
        );
    }
    let Some(plan) = response.rollout else {
        return Err(CliError::Protocol(
            "the rollout response has no rollout".to_owned(),
        ));
    };
    match args.format {
        DiffFormat::Json => ctx
            .out
            .out(&(serde_json::to_string_pretty(&plan).unwrap_or_default() + "\n")),
        DiffFormat::Human => ctx.out.out(&human_rollout(&plan)),
    }
    Ok(if plan.ok { exit::OK } else { exit::REFUSED })
}

fn human_rollout(plan: &svcintent_core::rollout::Rollout) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for c in &plan.statements {
        let kind = serde_json::to_value(c.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        let _ = writeln!(out, "{kind:<9} {}", c.summary);
    }
    if !plan.statements.is_empty() {
        out.push('\n');
    }
    if !plan.ok {
        for r in &plan.refusals {
            let _ = writeln!(out, "refused: {}", r.summary);
        }
        let _ = writeln!(out, "\nthe rollout is refused: no host may be applied");
        return out;
    }
    let hosts: usize = plan.batches.iter().map(Vec::len).sum();
    if hosts == 0 {
        let _ = writeln!(
            out,
            "nothing to apply: all {} host(s) already run these files",
            plan.unchanged.len()
        );
        return out;
    }
    for (n, batch) in plan.batches.iter().enumerate() {
        let detail: Vec<String> = batch
            .iter()
            .map(|h| {
                let mut parts = Vec::new();
                if let Some(step) = plan.hosts.get(h) {
                    if !step.withdraws.is_empty() {
                        parts.push(format!("withdraws {}", step.withdraws.len()));
                    }
                    if !step.announces.is_empty() {
                        parts.push(format!("announces {}", step.announces.len()));
                    }
                    if step.bird_restarts.is_some() {
                        parts.push("BIRD restarts".to_owned());
                    }
                }
                if parts.is_empty() {
                    h.clone()
                } else {
                    format!("{h} ({})", parts.join(", "))
                }
            })
            .collect();
        let _ = writeln!(out, "batch {}: {}", n + 1, detail.join(", "));
    }
    let _ = writeln!(
        out,
        "\n{hosts} host(s) to apply in {} batch(es); {} unchanged",
        plan.batches.len(),
        plan.unchanged.len()
    );
    out
}

pub(super) fn apply(ctx: &Ctx<'_>, args: &ApplyArgs) -> Result<u8, CliError> {
    use crate::deploy::{self, Outcome};
    let options = deploy::Options {
        host: args.host.clone(),
        tree: args.tree.clone(),
        check: args.check,
        diff: args.diff,
        force: args.force,
        root: args.root.clone(),
        state_dir: args.state_dir.clone(),
        checks: crate::daemons::Options {
            timeout: args.check_timeout,
            ..crate::daemons::Options::default()
        },
    };
    let report = deploy::apply(&options);
    match args.format {
        DiffFormat::Json => ctx
            .out
            .out(&(serde_json::to_string_pretty(&report).unwrap_or_default() + "\n")),
        DiffFormat::Human => ctx.out.out(&report.human()),
    }
    if report.outcome == Outcome::Refused
        && report.failure.as_ref().is_some_and(|f| f.step == "lock")
    {
        return Ok(exit::IO);
    }
    Ok(report.outcome.exit_code())
}
