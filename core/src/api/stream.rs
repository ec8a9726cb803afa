//! Responses in parts: a render's files handed out a host at a time, so that neither side of
//! the wasm boundary ever holds the whole response, let alone two copies of it (a render of
//! 10,000 services is about 140 MB of configuration). Documented in `docs/abi.md` ("Streamed
//! responses"); served by the module's `svcintent_stream` and `svcintent_stream_next` exports and
//! by the `svcintent` command's native engine, which both take the parts from [`Stream`].
//!
//! Every part is one tag byte and its payload:
//!
//! | tag | payload | when |
//! | --- | --- | --- |
//! | `R` | a whole JSON response, exactly what [`super::handle_json`] answers | every request but a render that succeeds; the only part |
//! | `H` | the response's head: JSON with `version`, `ok` (true) and `diagnostics` (warnings) | a render of a site without errors: the first part |
//! | `F` | files: for each, its tree path's length (u32, little-endian), the path, its contents' length (u32 LE), the contents | after `H`, each part about [`PART_SIZE`] bytes (at least one file) |
//! | `M` | the next bytes of `manifest.json` (what [`crate::render::Output::manifest_json`] gives) | after the last `F` |
//! | `E` | the response's end: JSON with `version`, `ok` and, when the render failed after all, `diagnostics` (all of them, as `R` would carry) | the last part of a render |
//!
//! Files come host by host in host-name order, each host's files in path order; the manifest
//! lists them all sorted by path. Every file of the tree comes exactly once; `topology` and the
//! files' `origins` are only in the JSON response.

use std::collections::VecDeque;

use serde::Serialize;

use super::{InputFile, Request, Response, sources};
use crate::diagnostic::Diagnostic;
use crate::diagnostic::json::to_json_all;
use crate::model::Intent;
use crate::plan::Plan;
use crate::plan::facts::{HostFacts, ServiceFacts};
use crate::render::{self, Finished, Manifest, ManifestEntry, Shared};
use crate::source::{FileId, Sources};
use crate::{Code, Span};

/// About how many bytes of files an `F` part carries (more when one file is larger), and of the
/// manifest an `M` part.
pub const PART_SIZE: usize = 1 << 20;

/// About how many bytes of renderings a streamed render keeps for reuse between hosts
/// ([`Shared::forget_renderings_over`]): a 1,000-service site keeps nearly all it can reuse (its
/// render's fuel is within 1.3 % of the 48 MiB budget's), while at 10,000 services a larger
/// budget is what decides whether the module stays under 256 MiB (docs/performance.md).
pub const MEMO_BUDGET: usize = 24 << 20;

/// A whole response: the only part.
pub const TAG_RESPONSE: u8 = b'R';
/// A render's head.
pub const TAG_HEAD: u8 = b'H';
/// Rendered files.
pub const TAG_FILES: u8 = b'F';
/// A piece of `manifest.json`.
pub const TAG_MANIFEST: u8 = b'M';
/// A render's end.
pub const TAG_END: u8 = b'E';

/// A request being served in parts: [`Stream::start`] gives the first, [`Stream::next_part`]
/// the others.
#[derive(Debug)]
pub struct Stream {
    render: Option<Box<RenderParts>>,
}

impl Stream {
    /// Starts serving the JSON `request` and returns its first part. Never panics; a malformed
    /// request gets an `R` part with the error, as [`super::handle_json`] answers it.
    pub fn start(request: &str) -> (Stream, Vec<u8>) {
        let envelope = match super::parse_envelope(request) {
            Ok(envelope) => envelope,
            Err(response) => return (Stream { render: None }, whole(&response)),
        };
        match envelope.request {
            Request::Render { files } => start_render(files, MEMO_BUDGET),
            request => (Stream { render: None }, whole(&super::handle(request))),
        }
    }

    /// The next part, `None` after the last.
    pub fn next_part(&mut self) -> Option<Vec<u8>> {
        let render = self.render.as_mut()?;
        let part = render.next_part();
        if part.is_none() {
            self.render = None;
        }
        part
    }
}

fn whole(response: &Response) -> Vec<u8> {
    tagged(TAG_RESPONSE, response)
}

fn tagged(tag: u8, response: &Response) -> Vec<u8> {
    let mut out = vec![tag];
    if serde_json::to_writer(&mut out, response).is_err() {
        out.truncate(1);
        out.extend_from_slice(super::serialisation_failure().as_bytes());
    }
    out
}

fn start_render(files: Vec<InputFile>, memo_budget: usize) -> (Stream, Vec<u8>) {
    let sources = sources(files);
    let compiled = crate::compile(&sources);
    let diagnostics = compiled.diagnostics;
    let intent = match compiled.intent {
        Some(intent) if !diagnostics.iter().any(Diagnostic::is_error) => intent,
        _ => {
            let response = Response {
                diagnostics: to_json_all(&diagnostics, &sources),
                ..Response::empty(false)
            };
            return (Stream { render: None }, whole(&response));
        }
    };
    let head = Response {
        diagnostics: to_json_all(&diagnostics, &sources),
        ..Response::empty(true)
    };
    let plan = crate::plan::plan(&intent);
    let hosts = plan.hosts.keys().cloned().collect::<Vec<_>>().into();
    let render = RenderParts {
        sources,
        intent,
        plan,
        shared: Shared::default(),
        diagnostics,
        hosts,
        pending: VecDeque::new(),
        entries: Vec::new(),
        errors: Vec::new(),
        manifest: None,
        done: false,
        memo_budget,
    };
    (
        Stream {
            render: Some(Box::new(render)),
        },
        tagged(TAG_HEAD, &head),
    )
}

/// A render in progress.
#[derive(Debug)]
struct RenderParts {
    sources: Sources,
    intent: Intent,
    plan: Plan,
    shared: Shared,
    /// The site's diagnostics (no errors: the render started).
    diagnostics: Vec<Diagnostic>,
    /// Hosts not rendered yet, in name order.
    hosts: VecDeque<String>,
    /// Files rendered and not handed out yet.
    pending: VecDeque<Finished>,
    /// The manifest's entries of every file rendered so far.
    entries: Vec<ManifestEntry>,
    /// What failed (a bug in a target; then no more files are handed out).
    errors: Vec<render::RenderError>,
    /// `manifest.json`, being written, once every host is rendered.
    manifest: Option<ManifestPieces>,
    /// The end has been handed out.
    done: bool,
    /// See [`MEMO_BUDGET`].
    memo_budget: usize,
}

impl RenderParts {
    fn next_part(&mut self) -> Option<Vec<u8>> {
        if self.done {
            return None;
        }
        if let Some(pieces) = &mut self.manifest {
            if let Some(piece) = pieces.next_piece() {
                return Some(piece);
            }
            return Some(self.end());
        }
        let files = self.files_part();
        if files.len() > 1 {
            return Some(files);
        }
        if !self.errors.is_empty() {
            return Some(self.end());
        }
        let mut entries = std::mem::take(&mut self.entries);
        crate::collect::sort_by(&mut entries, |a, b| a.path.cmp(&b.path));
        let manifest = render::manifest(&self.intent, &self.plan, entries);
        let mut pieces = ManifestPieces::new(manifest);
        match pieces.next_piece() {
            Some(piece) => {
                self.manifest = Some(pieces);
                Some(piece)
            }
            None => Some(self.end()),
        }
    }

    /// An `F` part of about [`PART_SIZE`] bytes, rendering hosts as needed; just the tag when
    /// every file has been handed out (or a host failed).
    fn files_part(&mut self) -> Vec<u8> {
        let mut part = vec![TAG_FILES];
        while part.len() < PART_SIZE {
            if self.pending.is_empty() && !self.render_next_host() {
                break;
            }
            let Some(f) = self.pending.pop_front() else {
                break;
            };
            // Exactly what this file needs: a part grown by doubling around a file of tens of
            // megabytes (the Icinga2 Services of a large site) would hold up to twice its size.
            let need = 8 + f.path.len() + f.file.contents.len();
            if part.capacity() - part.len() < need {
                part.reserve_exact(need.max(PART_SIZE));
            }
            for bytes in [f.path.as_bytes(), f.file.contents.as_bytes()] {
                part.extend_from_slice(
                    &u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes(),
                );
                part.extend_from_slice(bytes);
            }
        }
        part
    }

    /// Renders the next host into `pending`; false when there is none left or a host failed.
    fn render_next_host(&mut self) -> bool {
        if !self.errors.is_empty() {
            return false;
        }
        let Some(name) = self.hosts.pop_front() else {
            return false;
        };
        let Some(host) = self.plan.hosts.get(&name) else {
            return true;
        };
        let cx = render::Context::new(&self.intent, &self.plan, &self.sources, &self.shared);
        match render::render_host(&cx, host) {
            Ok(files) => {
                self.entries
                    .extend(files.iter().map(render::manifest_entry));
                self.pending.extend(files);
                self.shared.forget_renderings_over(self.memo_budget);
            }
            Err(errors) => {
                self.errors = errors;
                // What a whole render reports: every host's failures.
                while let Some(name) = self.hosts.pop_front() {
                    if let Some(host) = self.plan.hosts.get(&name)
                        && let Err(more) = render::render_host(&cx, host)
                    {
                        self.errors.extend(more);
                    }
                }
                self.pending.clear();
            }
        }
        true
    }

    /// The `E` part.
    fn end(&mut self) -> Vec<u8> {
        self.done = true;
        let response = if self.errors.is_empty() {
            Response::empty(true)
        } else {
            // As `crate::build` reports a failed render.
            let mut diagnostics = std::mem::take(&mut self.diagnostics);
            let span = Span::new(FileId(0), 0, 0);
            for e in &self.errors {
                diagnostics.push(
                    Diagnostic::new(Code::InternalError, span, e.to_string())
                        .help("this is a bug in svcintent: please report it with the input"),
                );
            }
            Response {
                diagnostics: to_json_all(&diagnostics, &self.sources),
                ..Response::empty(false)
            }
        };
        tagged(TAG_END, &response)
    }
}

/// `manifest.json` written a piece at a time: the same bytes as
/// `serde_json::to_string_pretty(&manifest)` and a newline, with the long lists (files, hosts'
/// and services' facts) serialised an item at a time.
#[derive(Debug)]
struct ManifestPieces {
    /// The manifest without its hosts and services, which are below.
    manifest: Manifest,
    hosts: Vec<(String, HostFacts)>,
    services: Vec<(String, ServiceFacts)>,
    /// The next thing to write.
    step: Step,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Head,
    File(usize),
    Hosts,
    Host(usize),
    Services,
    Service(usize),
    Tail,
    Done,
}

impl ManifestPieces {
    fn new(mut manifest: Manifest) -> Self {
        ManifestPieces {
            hosts: std::mem::take(&mut manifest.hosts).into_iter().collect(),
            services: std::mem::take(&mut manifest.services).into_iter().collect(),
            manifest,
            step: Step::Head,
        }
    }

    /// The next piece of about [`PART_SIZE`] bytes, tagged `M`; `None` when all is written.
    fn next_piece(&mut self) -> Option<Vec<u8>> {
        if self.step == Step::Done {
            return None;
        }
        let mut out = vec![TAG_MANIFEST];
        while out.len() < PART_SIZE && self.step != Step::Done {
            self.step = self.write(&mut out);
        }
        Some(out)
    }

    /// Writes the current step; returns the next.
    fn write(&self, out: &mut Vec<u8>) -> Step {
        let m = &self.manifest;
        match self.step {
            Step::Head => {
                out.extend_from_slice(b"{");
                field(out, true, "generator", &m.generator);
                field(out, false, "site", &m.site);
                field(out, false, "sources", &m.sources);
                out.extend_from_slice(b",\n  \"files\": [");
                if m.files.is_empty() {
                    out.extend_from_slice(b"]");
                    Step::Hosts
                } else {
                    Step::File(0)
                }
            }
            Step::File(i) => match m.files.get(i) {
                Some(entry) => {
                    out.extend_from_slice(if i == 0 { b"\n    " } else { b",\n    " });
                    pretty_at(out, 2, entry);
                    Step::File(i + 1)
                }
                None => {
                    out.extend_from_slice(b"\n  ]");
                    Step::Hosts
                }
            },
            Step::Hosts => {
                out.extend_from_slice(b",\n  \"hosts\": {");
                if self.hosts.is_empty() {
                    out.extend_from_slice(b"}");
                    Step::Services
                } else {
                    Step::Host(0)
                }
            }
            Step::Host(i) => match self.hosts.get(i) {
                Some((name, facts)) => {
                    entry(out, i == 0, name, facts);
                    Step::Host(i + 1)
                }
                None => {
                    out.extend_from_slice(b"\n  }");
                    Step::Services
                }
            },
            Step::Services => {
                out.extend_from_slice(b",\n  \"services\": {");
                if self.services.is_empty() {
                    out.extend_from_slice(b"}");
                    Step::Tail
                } else {
                    Step::Service(0)
                }
            }
            Step::Service(i) => match self.services.get(i) {
                Some((name, facts)) => {
                    entry(out, i == 0, name, facts);
                    Step::Service(i + 1)
                }
                None => {
                    out.extend_from_slice(b"\n  }");
                    Step::Tail
                }
            },
            Step::Tail => {
                field(out, false, "deploy", &m.deploy);
                out.extend_from_slice(b"\n}\n");
                Step::Done
            }
            Step::Done => Step::Done,
        }
    }
}

/// A field of the manifest object: `"name": value` after a line break and two spaces.
fn field<T: Serialize + ?Sized>(out: &mut Vec<u8>, first: bool, name: &str, value: &T) {
    out.extend_from_slice(if first { b"\n  " } else { b",\n  " });
    pretty_at(out, 1, name);
    out.extend_from_slice(b": ");
    pretty_at(out, 1, value);
}

/// An entry of a map that is a field of the manifest object.
fn entry<T: Serialize + ?Sized>(out: &mut Vec<u8>, first: bool, key: &str, value: &T) {
    out.extend_from_slice(if first { b"\n    " } else { b",\n    " });
    pretty_at(out, 2, key);
    out.extend_from_slice(b": ");
    pretty_at(out, 2, value);
}

/// `value` pretty-printed as serde_json's `PrettyFormatter` prints it `depth` levels deep.
fn pretty_at<T: Serialize + ?Sized>(out: &mut Vec<u8>, depth: usize, value: &T) {
    let mut ser = serde_json::Serializer::with_formatter(
        &mut *out,
        PrettyAt {
            depth,
            has_value: false,
        },
    );
    // The manifest is plain strings, numbers and collections with string keys: always
    // serialisable.
    let _ = value.serialize(&mut ser);
}

/// serde_json's `PrettyFormatter` (two spaces) starting `depth` levels deep.
struct PrettyAt {
    depth: usize,
    has_value: bool,
}

impl PrettyAt {
    fn indent<W: ?Sized + std::io::Write>(&self, w: &mut W) -> std::io::Result<()> {
        for _ in 0..self.depth {
            w.write_all(b"  ")?;
        }
        Ok(())
    }
}

impl serde_json::ser::Formatter for PrettyAt {
    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"[")
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.has_value {
            w.write_all(b"\n")?;
            self.indent(w)?;
        }
        w.write_all(b"]")
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(w)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth += 1;
        self.has_value = false;
        w.write_all(b"{")
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.depth = self.depth.saturating_sub(1);
        if self.has_value {
            w.write_all(b"\n")?;
            self.indent(w)?;
        }
        w.write_all(b"}")
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        self.indent(w)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        w.write_all(b": ")
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, _: &mut W) -> std::io::Result<()> {
        self.has_value = true;
        Ok(())
    }
}

/// Reads an `F` part's files: `(tree path, contents)`; `None` when the part is malformed.
pub fn files_of(part: &[u8]) -> Option<Vec<(&str, &[u8])>> {
    let mut rest = part.strip_prefix(&[TAG_FILES])?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let (path, tail) = length_prefixed(rest)?;
        let (contents, tail) = length_prefixed(tail)?;
        out.push((std::str::from_utf8(path).ok()?, contents));
        rest = tail;
    }
    Some(out)
}

/// The bytes after a u32 LE length at the start of `bytes`, and what follows them.
fn length_prefixed(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, tail) = bytes.split_first_chunk::<4>()?;
    tail.split_at_checked(usize::try_from(u32::from_le_bytes(*len)).ok()?)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::panic,
        clippy::indexing_slicing,
        reason = "tests"
    )]

    use super::*;

    fn request(files: &[(&str, &str)]) -> String {
        let files: Vec<InputFile> = files
            .iter()
            .map(|(p, t)| InputFile {
                path: (*p).to_owned(),
                text: (*t).to_owned(),
            })
            .collect();
        serde_json::to_string(&super::super::Envelope {
            version: super::super::PROTOCOL_VERSION,
            request: Request::Render { files },
        })
        .unwrap()
    }

    fn parts(request: &str) -> Vec<Vec<u8>> {
        let (mut stream, first) = Stream::start(request);
        let mut out = vec![first];
        while let Some(p) = stream.next_part() {
            out.push(p);
        }
        out
    }

    const SITE: &str = "site:\n  name: t\n  asn: 65000\n  anycast_prefixes: [192.0.2.0/24]\nhosts:\n  rr1: { roles: [route-reflector], ipv4: 198.51.100.2 }\n  lb1: { roles: [balancer], ipv4: 198.51.100.1 }\n  mon1: { roles: [monitoring], ipv4: 198.51.100.3 }\n  web1: { roles: [web], ipv4: 198.51.100.11 }\nservices:\n  www:\n    vips: [192.0.2.10]\n    ports: [80/tcp]\n    mode: http\n    backends: [web1]\n    web: { server_names: [www.example.org], document_root: /srv/www }\n";

    #[test]
    fn a_render_streams_the_files_and_manifest_of_the_json_response() {
        let req = request(&[("site.yaml", SITE)]);
        let whole: serde_json::Value =
            serde_json::from_str(&super::super::handle_json(&req)).unwrap();
        assert_eq!(whole["ok"], true, "{whole}");
        let output = crate::render(&Sources::from_pairs([("site.yaml", SITE)]))
            .output
            .unwrap();
        let parts = parts(&req);
        assert_eq!(parts.first().and_then(|p| p.first()), Some(&TAG_HEAD));
        let end = parts.last().unwrap();
        assert_eq!(end.first(), Some(&TAG_END));
        assert_eq!(&end[1..], br#"{"version":1,"ok":true}"#);
        let mut files = Vec::new();
        let mut manifest = Vec::new();
        for p in &parts {
            match p.first() {
                Some(&TAG_FILES) => files.extend(
                    files_of(p)
                        .unwrap()
                        .into_iter()
                        .map(|(path, c)| (path.to_owned(), c.to_vec())),
                ),
                Some(&TAG_MANIFEST) => manifest.extend_from_slice(&p[1..]),
                _ => {}
            }
        }
        files.sort();
        let want: Vec<(String, Vec<u8>)> = output
            .files
            .iter()
            .map(|f| (f.tree_path(), f.contents.as_bytes().to_vec()))
            .collect();
        assert!(want.len() > 10);
        assert_eq!(files, want);
        assert_eq!(String::from_utf8(manifest).unwrap(), output.manifest_json());
    }

    #[test]
    fn forgetting_the_renderings_after_every_host_changes_no_byte() {
        // The campus example: balancers of a group share renderings.
        macro_rules! campus {
            ($($path:literal),*) => {
                vec![$(($path.to_owned(), include_str!(concat!("../../../examples/campus/", $path)).to_owned())),*]
            };
        }
        let files: Vec<(String, String)> = campus!(
            "site.yaml",
            "hosts.yaml",
            "services/directory.yaml",
            "services/infra.yaml",
            "services/web.yaml",
            "services/mail.yaml"
        );
        let pairs: Vec<(&str, &str)> = files
            .iter()
            .map(|(p, t)| (p.as_str(), t.as_str()))
            .collect();
        let req = request(&pairs);
        let collect = |budget: usize| {
            let envelope: super::super::Envelope = serde_json::from_str(&req).unwrap();
            let Request::Render { files } = envelope.request else {
                panic!("not a render");
            };
            let (mut stream, first) = start_render(files, budget);
            let mut out = vec![first];
            while let Some(p) = stream.next_part() {
                out.push(p);
            }
            out
        };
        // A budget of 0 does forget: after a host, nothing is held.
        let envelope: super::super::Envelope = serde_json::from_str(&req).unwrap();
        let Request::Render { files: inputs } = envelope.request else {
            panic!("not a render");
        };
        let (mut stream, _) = start_render(inputs, 0);
        let render = stream.render.as_mut().unwrap();
        let cx = render::Context::new(
            &render.intent,
            &render.plan,
            &render.sources,
            &render.shared,
        );
        let balancer = render
            .plan
            .hosts
            .values()
            .find(|h| h.name.starts_with("lb"))
            .unwrap();
        render::render_host(&cx, balancer).unwrap();
        assert!(render.shared.renderings_held() > 0);
        render.shared.forget_renderings_over(0);
        assert_eq!(render.shared.renderings_held(), 0);

        let kept = collect(usize::MAX);
        let forgotten = collect(0);
        assert!(kept.len() > 3);
        assert!(
            kept == forgotten,
            "the parts differ when renderings are forgotten"
        );
    }

    #[test]
    fn other_requests_and_sites_with_errors_are_one_whole_response() {
        for req in [
            r#"{"version":1,"op":"version"}"#.to_owned(),
            "not json".to_owned(),
            request(&[("site.yaml", "site: {}\n")]),
        ] {
            let parts = parts(&req);
            assert_eq!(parts.len(), 1, "{req}");
            let p = &parts[0];
            assert_eq!(p.first(), Some(&TAG_RESPONSE));
            assert_eq!(
                std::str::from_utf8(&p[1..]).unwrap(),
                super::super::handle_json(&req)
            );
        }
    }

    #[test]
    fn pieces_of_the_manifest_are_serde_jsons_pretty_print() {
        let mut manifest = Manifest {
            generator: "g".into(),
            site: "s\"\\".into(),
            sources: Vec::new(),
            files: Vec::new(),
            hosts: Default::default(),
            services: Default::default(),
            deploy: Default::default(),
        };
        let joined = |m: &Manifest| {
            let mut p = ManifestPieces::new(m.clone());
            let mut out = Vec::new();
            while let Some(piece) = p.next_piece() {
                out.extend_from_slice(&piece[1..]);
            }
            String::from_utf8(out).unwrap()
        };
        assert_eq!(
            joined(&manifest),
            serde_json::to_string_pretty(&manifest).unwrap() + "\n"
        );
        manifest.sources = vec!["a.yaml".into(), "b.yaml".into()];
        for i in 0..3 {
            manifest.files.push(ManifestEntry {
                path: format!("h{i}/etc/x"),
                host: format!("h{i}"),
                host_path: "/etc/x".into(),
                target: render::Target::Nftables,
                sha256: "00".into(),
                services: vec!["www".into(); i],
                state: i == 1,
            });
        }
        assert_eq!(
            joined(&manifest),
            serde_json::to_string_pretty(&manifest).unwrap() + "\n"
        );
    }

    #[test]
    fn malformed_file_parts_are_refused() {
        assert!(files_of(b"F").unwrap().is_empty());
        assert!(files_of(b"F\x01\0\0\0a\0\0\0\0").is_some());
        assert!(files_of(b"F\x01\0\0\0a\x05\0\0\0ab").is_none());
        assert!(files_of(b"F\x01\0\0").is_none());
        assert!(files_of(b"M").is_none());
    }
}
