//! Requests to and responses from an engine, in the JSON protocol of [`svcintent_core::api`].
//! Only (de)serialisation: what the answers mean is decided by the core.

use serde::Deserialize;
use serde_json::value::RawValue;
use svcintent_core::api::{Envelope, InputFile, PROTOCOL_VERSION, Request};
use svcintent_core::diagnostic::json::JsonDiagnostic;

/// The JSON text of a request.
pub fn request(request: Request) -> String {
    let envelope = Envelope {
        version: PROTOCOL_VERSION,
        request,
    };
    // Serialising plain strings and vectors cannot fail.
    serde_json::to_string(&envelope).unwrap_or_default()
}

/// A lint request for `files`.
pub fn lint(files: &[InputFile]) -> String {
    request(Request::Lint {
        files: files.to_vec(),
    })
}

/// A render request for `files`.
pub fn render(files: &[InputFile]) -> String {
    request(Request::Render {
        files: files.to_vec(),
    })
}

/// A diff request from `old` to `new`.
pub fn diff(old: &[InputFile], new: &[InputFile]) -> String {
    request(Request::Diff {
        old: old.to_vec(),
        new: new.to_vec(),
    })
}

/// A response.
#[derive(Debug, Deserialize)]
pub struct Response {
    /// Protocol version.
    pub version: u32,
    /// False when the request failed or the intent has errors.
    pub ok: bool,
    /// Diagnostics.
    #[serde(default)]
    pub diagnostics: Vec<JsonDiagnostic>,
    /// diff: the old site's diagnostics when it has errors.
    #[serde(default)]
    pub old_diagnostics: Vec<JsonDiagnostic>,
    /// Rendered files.
    #[serde(default)]
    pub files: Vec<ResponseFile>,
    /// The manifest, as the core serialised it.
    #[serde(default)]
    pub manifest: Option<Box<RawValue>>,
    /// What changes (diff).
    #[serde(default)]
    pub diff: Option<svcintent_core::diff::SiteDiff>,
    /// The rollout's batches or refusals (rollout).
    #[serde(default)]
    pub rollout: Option<svcintent_core::rollout::Rollout>,
    /// Text payload.
    #[serde(default)]
    pub text: Option<String>,
    /// Why the request failed.
    #[serde(default)]
    pub error: Option<String>,
}

/// A rendered file (the fields the host uses).
#[derive(Debug, Deserialize)]
pub struct ResponseFile {
    /// Tree path, `<host>/<path>`.
    pub path: String,
    /// Contents.
    pub contents: String,
}

impl Response {
    /// Parses a response; an `Err` is a protocol violation (a bug).
    pub fn parse(text: &str) -> Result<Response, String> {
        let response: Response = serde_json::from_str(text)
            .map_err(|e| format!("the module's response is not valid protocol JSON: {e}"))?;
        if response.version != PROTOCOL_VERSION {
            return Err(format!(
                "the module answered in protocol version {}; this host speaks {PROTOCOL_VERSION}",
                response.version
            ));
        }
        Ok(response)
    }

    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics
            .iter()
            .any(|d| d.severity == svcintent_core::Severity::Error)
    }

    /// `manifest.json`: the manifest pretty-printed with its keys in the core's order, plus a
    /// trailing newline (the same bytes as `svcintent_core::render::Output::manifest_json`).
    pub fn manifest_json(&self) -> Option<String> {
        let raw = self.manifest.as_ref()?;
        let mut out = Vec::new();
        let mut de = serde_json::Deserializer::from_str(raw.get());
        let mut ser = serde_json::Serializer::pretty(&mut out);
        serde_transcode::transcode(&mut de, &mut ser).ok()?;
        let mut text = String::from_utf8(out).ok()?;
        text.push('\n');
        Some(text)
    }
}

/// A piece of the tree a streamed render delivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// A whole rendered file: its tree path and contents.
    File(&'a str, &'a [u8]),
    /// The first bytes of `manifest.json`.
    ManifestStart(&'a [u8]),
    /// More bytes of `manifest.json`.
    Manifest(&'a [u8]),
}

/// What went wrong while taking a streamed render's parts.
#[derive(Debug)]
pub enum StreamError<E> {
    /// The module broke the protocol (a bug).
    Protocol(String),
    /// Whoever took the tree's pieces failed.
    Sink(E),
}

/// A streamed render's response once every part arrived.
#[derive(Debug)]
pub enum Received {
    /// The module answered with one whole JSON response (an `R` part): a site with errors, a
    /// malformed request.
    Whole(Box<Response>),
    /// The module streamed the tree: its head (warnings) and its end (`ok`, and every
    /// diagnostic when the render failed after all).
    Tree {
        /// The `H` part.
        head: Box<Response>,
        /// The `E` part.
        end: Box<Response>,
    },
}

/// Takes a streamed render's parts in order (`docs/abi.md`, "Streamed responses"), handing the
/// files and the pieces of `manifest.json` on as they come and checking the order of the parts.
#[derive(Debug, Default)]
pub struct RenderParts {
    stage: Stage,
    head: Option<Box<Response>>,
    received: Option<Received>,
    /// Files handed on (`manifest.json` not counted).
    pub files: usize,
    /// The hosts those files are for (their paths' first component).
    pub hosts: std::collections::BTreeSet<String>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Nothing received.
    #[default]
    Start,
    /// After `H` and any `F`.
    Files,
    /// After the first `M`.
    Manifest,
    /// After `R` or `E`: nothing more may come.
    Done,
}

impl RenderParts {
    /// Takes the next part; `sink` gets the tree's pieces in it.
    pub fn accept<E>(
        &mut self,
        part: &[u8],
        sink: &mut dyn FnMut(Chunk<'_>) -> Result<(), E>,
    ) -> Result<(), StreamError<E>> {
        use svcintent_core::api::{TAG_END, TAG_FILES, TAG_HEAD, TAG_MANIFEST, TAG_RESPONSE};
        let protocol = |what: &str| StreamError::Protocol(format!("streamed render: {what}"));
        let (&tag, payload) = part
            .split_first()
            .ok_or_else(|| protocol("an empty part"))?;
        let json = || {
            std::str::from_utf8(payload)
                .map_err(|_| protocol("a part that is not UTF-8"))
                .and_then(|text| Response::parse(text).map_err(StreamError::Protocol))
        };
        match (tag, self.stage) {
            (TAG_RESPONSE, Stage::Start) => {
                self.received = Some(Received::Whole(Box::new(json()?)));
                self.stage = Stage::Done;
            }
            (TAG_HEAD, Stage::Start) => {
                self.head = Some(Box::new(json()?));
                self.stage = Stage::Files;
            }
            (TAG_FILES, Stage::Files) => {
                let files = svcintent_core::api::files_of(part)
                    .ok_or_else(|| protocol("a malformed F part"))?;
                for (path, contents) in files {
                    if let Some(host) = path.split('/').next()
                        && !self.hosts.contains(host)
                    {
                        self.hosts.insert(host.to_owned());
                    }
                    self.files += 1;
                    sink(Chunk::File(path, contents)).map_err(StreamError::Sink)?;
                }
            }
            (TAG_MANIFEST, Stage::Files) => {
                sink(Chunk::ManifestStart(payload)).map_err(StreamError::Sink)?;
                self.stage = Stage::Manifest;
            }
            (TAG_MANIFEST, Stage::Manifest) => {
                sink(Chunk::Manifest(payload)).map_err(StreamError::Sink)?;
            }
            (TAG_END, Stage::Files | Stage::Manifest) => {
                let end = json()?;
                if end.ok && self.stage != Stage::Manifest {
                    return Err(protocol("a successful end without a manifest"));
                }
                let head = self
                    .head
                    .take()
                    .ok_or_else(|| protocol("an end without a head"))?;
                self.received = Some(Received::Tree {
                    head,
                    end: Box::new(end),
                });
                self.stage = Stage::Done;
            }
            (tag, stage) => {
                return Err(protocol(&format!(
                    "a part tagged {:?} where it cannot come ({stage:?})",
                    char::from(tag)
                )));
            }
        }
        Ok(())
    }

    /// The response, once the last part (`R` or `E`) arrived.
    pub fn finish(self) -> Result<Received, String> {
        self.received
            .ok_or_else(|| "streamed render: the module stopped before the last part".to_owned())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    fn take(parts: &[&[u8]]) -> Result<(Vec<String>, Received), String> {
        let mut decoder = RenderParts::default();
        let mut seen = Vec::new();
        for part in parts {
            decoder
                .accept(part, &mut |chunk| -> Result<(), String> {
                    seen.push(format!("{chunk:?}"));
                    Ok(())
                })
                .map_err(|e| match e {
                    StreamError::Protocol(m) | StreamError::Sink(m) => m,
                })?;
        }
        Ok((seen, decoder.finish()?))
    }

    const HEAD: &[u8] = br#"H{"version":1,"ok":true}"#;
    const END: &[u8] = br#"E{"version":1,"ok":true}"#;
    const FILES: &[u8] = b"F\x03\0\0\0h/a\x02\0\0\0hi";

    #[test]
    fn parts_in_order_give_the_tree() {
        let (seen, received) = take(&[HEAD, FILES, b"M{", b"M}\n", END]).unwrap();
        assert_eq!(
            seen,
            [
                r#"File("h/a", [104, 105])"#,
                "ManifestStart([123])",
                "Manifest([125, 10])"
            ]
        );
        assert!(matches!(received, Received::Tree { end, .. } if end.ok));
        let (seen, received) = take(&[br#"R{"version":1,"ok":false,"error":"x"}"#]).unwrap();
        assert!(seen.is_empty());
        assert!(matches!(received, Received::Whole(r) if r.error.as_deref() == Some("x")));
    }

    #[test]
    fn parts_out_of_order_or_missing_are_refused() {
        for parts in [
            &[FILES][..],
            &[HEAD, b"M{", FILES, END],
            &[HEAD, FILES, END],
            &[HEAD, FILES, b"M{", END, END],
            &[HEAD, b"F\x09\0\0\0h/a"],
            &[HEAD, FILES, b"M{"],
            &[b""],
        ] {
            assert!(take(parts).is_err(), "{parts:?}");
        }
    }
}
