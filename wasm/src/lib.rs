//! The sandboxed svcintent module: [`svcintent_core`] behind a zero-import WebAssembly ABI.
//!
//! Built for `wasm32-unknown-unknown` with `--profile wasm-module` (for speed) and optimised with
//! `wasm-opt -O3` (`scripts/build-wasm.sh`). The module imports nothing: no clock, no files, no randomness, no
//! host functions. It cannot do anything but compute, which is what lets the `svcintent`
//! command (`host-runner/`) run it under fuel, memory and time limits, and lets Python or a
//! browser run the very same bytes.
//!
//! # ABI, version 2
//!
//! Exports (all numbers are wasm `i32`/`i64`; pointers are offsets into `memory`):
//!
//! | export | signature | what it does |
//! | --- | --- | --- |
//! | `memory` | memory | the module's linear memory |
//! | `svcintent_abi_version` | `() -> i32` | returns [`ABI_VERSION`] (2) |
//! | `alloc` | `(len: i32) -> i32` | allocates `len` bytes, returns their address; 0 when `len` is 0 or memory is exhausted |
//! | `free` | `(ptr: i32, len: i32)` | frees a buffer from `alloc`, `svcintent_call`, `svcintent_stream` or `svcintent_stream_next`; `free(0, 0)` does nothing |
//! | `svcintent_call` | `(ptr: i32, len: i32) -> i64` | serves one JSON request, returns `ptr << 32 \| len` of the JSON response |
//! | `svcintent_stream` | `(ptr: i32, len: i32) -> i64` | starts serving one JSON request in parts ([`svcintent_core::api::Stream`]), returns the first |
//! | `svcintent_stream_next` | `() -> i64` | the next part, 0 after the last |
//!
//! Every part belongs to the host, which frees it before asking for the next one; the parts
//! and their tags are documented in `docs/abi.md` ("Streamed responses").
//!
//! One call:
//!
//! 1. The host calls `alloc(n)` for the UTF-8 JSON request of `n` bytes and writes it at the
//!    returned address. A result of 0 means the module is out of memory.
//! 2. The host calls `svcintent_call(ptr, n)`. The request buffer still belongs to the host:
//!    the module only reads it.
//! 3. The result packs the response buffer: `ptr = result >> 32`, `len = result & 0xffff_ffff`
//!    (JavaScript and Python see an `i64`: mask it as unsigned). The response is UTF-8 JSON
//!    and belongs to the host from now on. A result of 0 means the module could not allocate
//!    the response.
//! 4. The host frees both buffers with `free(ptr, len)`, passing the exact length it got.
//!
//! Rule of thumb: every buffer ends up freed by the host, with the length it was created with.
//! A host that throws the whole instance away after the call (as `svcintent` does) may skip the
//! frees.
//!
//! The request and response are the JSON protocol of [`svcintent_core::api`]: a request is
//! `{"version": 1, "op": "lint" | "render" | "explain" | "schema" | "version", ...}`, the response
//! `{"version": 1, "ok": ..., "diagnostics": [...], "files": [...], "manifest": {...},
//! "text": "...", "error": "..."}`. The JSON protocol has its own version
//! ([`svcintent_core::api::PROTOCOL_VERSION`]) inside the messages; [`ABI_VERSION`] covers only
//! the exports and the memory protocol above. Both are documented in `docs/abi.md`.
//!
//! A request that is not UTF-8 gets an `{"ok": false, "error": ...}` response, like any other
//! malformed request. The module never panics on any input; if it ever did, it is built with
//! `panic = "abort"`, which traps (`unreachable`), and the host reports an internal error.
//!
//! # Layout
//!
//! [`call`] is the whole logic of this crate: bytes in, bytes out, safe and target-independent
//! (it also runs in native unit tests). The [`abi`] module only moves bytes across the wasm
//! boundary; the exports get their wasm names only when compiled for wasm, so a native build
//! of this crate exports nothing that could clash with the C library's `free`. A
//! wasm-bindgen shim can sit beside this one and call [`svcintent_core::api::handle_json`]
//! directly: there is nothing here it would need to duplicate.

pub mod abi;

use std::cell::RefCell;

use svcintent_core::api::{Stream, TAG_RESPONSE};

/// Version of the exports and the memory protocol (not of the JSON messages). Version 2 added
/// the streamed responses (`svcintent_stream`, `svcintent_stream_next`); version 1's exports
/// are unchanged.
pub const ABI_VERSION: u32 = 2;

/// Serves one request: UTF-8 JSON in, UTF-8 JSON out.
pub fn call(request: &[u8]) -> String {
    match std::str::from_utf8(request) {
        Ok(text) => svcintent_core::api::handle_json(text),
        Err(e) => not_utf8(&e),
    }
}

fn not_utf8(e: &std::str::Utf8Error) -> String {
    format!(
        "{{\"version\":{},\"ok\":false,\"error\":\"the request is not valid UTF-8 (invalid byte at offset {})\"}}",
        svcintent_core::api::PROTOCOL_VERSION,
        e.valid_up_to()
    )
}

thread_local! {
    /// The request being served in parts (the module runs one thing at a time).
    static STREAM: RefCell<Option<Stream>> = const { RefCell::new(None) };
}

/// Starts serving one request in parts ([`svcintent_core::api::Stream`]) and returns the first;
/// a stream started before is dropped.
pub fn stream_start(request: &[u8]) -> Vec<u8> {
    STREAM.with_borrow_mut(|s| *s = None);
    let (stream, first) = match std::str::from_utf8(request) {
        Ok(text) => Stream::start(text),
        Err(e) => {
            let mut part = vec![TAG_RESPONSE];
            part.extend_from_slice(not_utf8(&e).as_bytes());
            return part;
        }
    };
    STREAM.with_borrow_mut(|s| *s = Some(stream));
    first
}

/// The next part of the request [`stream_start`] started; `None` after its last part.
pub fn stream_next() -> Option<Vec<u8>> {
    STREAM.with_borrow_mut(|s| {
        let part = s.as_mut()?.next_part();
        if part.is_none() {
            *s = None;
        }
        part
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_request() {
        let out = call(br#"{"version":1,"op":"version"}"#);
        assert!(out.contains(r#""ok":true"#), "{out}");
    }

    #[test]
    fn streams_end_and_a_new_one_replaces_the_old() {
        let first = stream_start(br#"{"version":1,"op":"version"}"#);
        assert_eq!(first.first(), Some(&TAG_RESPONSE));
        assert!(stream_next().is_none());
        let first = stream_start(b"\xff");
        assert!(String::from_utf8_lossy(&first).contains("not valid UTF-8"));
        assert!(stream_next().is_none());
    }

    #[test]
    fn invalid_utf8_is_a_response() {
        let out = call(b"{\"version\":1,\"op\":\"\xff\"}");
        assert!(
            out.contains("not valid UTF-8 (invalid byte at offset 19)"),
            "{out}"
        );
    }
}
