//! The exports: moving bytes across the wasm boundary, nothing else (see the crate docs).
//!
//! The functions get their wasm export names (`alloc`, `free`, `svcintent_call`,
//! `svcintent_stream`, `svcintent_stream_next`, `svcintent_abi_version`) only when compiled for
//! wasm; natively they are ordinary functions.
//!
//! Every buffer handed out or taken back here has the layout `Layout::array::<u8>(len)`
//! (size `len`, alignment 1): [`alloc`] creates it, a response or a part of one is a
//! `Box<[u8]>` of exactly its length (the same layout), and [`free`] releases either. That single layout is what makes
//! `free(ptr, len)` sound for both kinds of buffer.
#![allow(
    unsafe_code,
    reason = "the wasm ABI passes raw pointers; each unsafe block states its invariant"
)]

use std::alloc::Layout;
use std::ptr;

/// Returns [`crate::ABI_VERSION`]. Exported as `svcintent_abi_version`.
#[cfg_attr(target_family = "wasm", unsafe(export_name = "svcintent_abi_version"))]
pub extern "C" fn abi_version() -> u32 {
    crate::ABI_VERSION
}

/// Allocates `len` bytes for the host to write a request into. Exported as `alloc`.
///
/// Returns null (0) when `len` is 0 or the allocation fails (the memory limit was reached).
#[cfg_attr(target_family = "wasm", unsafe(export_name = "alloc"))]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    if len == 0 {
        return ptr::null_mut();
    }
    let Ok(layout) = Layout::array::<u8>(len) else {
        return ptr::null_mut();
    };
    // SAFETY: `layout` has a non-zero size (len > 0), as `std::alloc::alloc` requires. A failed
    // allocation returns null, which is the documented "out of memory" answer.
    unsafe { std::alloc::alloc(layout) }
}

/// Frees a buffer from [`alloc`], a response from [`call`] or a part from [`stream`] or
/// [`stream_next`]. Exported as `free`.
///
/// `free(0, 0)` and any call with a null pointer or a zero length do nothing.
///
/// # Safety
///
/// `ptr` must come from [`alloc`]`(len)` or be the pointer half of a [`call`], [`stream`] or
/// [`stream_next`] result whose length half is `len`, and must not have been freed already.
#[cfg_attr(target_family = "wasm", unsafe(export_name = "free"))]
pub unsafe extern "C" fn free(ptr: *mut u8, len: usize) {
    if ptr.is_null() || len == 0 {
        return;
    }
    let Ok(layout) = Layout::array::<u8>(len) else {
        return;
    };
    // SAFETY: by the caller's contract, `ptr` was allocated with exactly this layout (see the
    // module docs: `alloc` and `Box<[u8]>` of length `len` both use `Layout::array::<u8>(len)`)
    // and is live.
    unsafe { std::alloc::dealloc(ptr, layout) }
}

/// Serves the JSON request in `ptr[..len]`; returns `ptr << 32 | len` of the response, or 0 if
/// the response could not be handed out. Exported as `svcintent_call`.
///
/// The request buffer is only read; it still belongs to the caller afterwards.
///
/// # Safety
///
/// `ptr[..len]` must be readable memory that nothing writes to during the call (a buffer from
/// [`alloc`]`(n)` with `len <= n`, for instance). A null `ptr` or `len` 0 is an empty request.
#[cfg_attr(target_family = "wasm", unsafe(export_name = "svcintent_call"))]
pub unsafe extern "C" fn call(ptr: *const u8, len: usize) -> u64 {
    let request: &[u8] = if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: by the caller's contract `ptr[..len]` is readable and not written to while
        // this shared slice lives (until `crate::call` returns).
        unsafe { std::slice::from_raw_parts(ptr, len) }
    };
    hand_out(crate::call(request).into_bytes())
}

/// Starts serving the JSON request in `ptr[..len]` in parts and returns the first part as
/// `ptr << 32 | len` (see `docs/abi.md`, "Streamed responses"). Exported as `svcintent_stream`.
///
/// # Safety
///
/// As for [`call`].
#[cfg_attr(target_family = "wasm", unsafe(export_name = "svcintent_stream"))]
pub unsafe extern "C" fn stream(ptr: *const u8, len: usize) -> u64 {
    let request: &[u8] = if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: by the caller's contract `ptr[..len]` is readable and not written to while
        // this shared slice lives (until `crate::stream_start` returns).
        unsafe { std::slice::from_raw_parts(ptr, len) }
    };
    hand_out(crate::stream_start(request))
}

/// The next part of the request [`stream`] started, as `ptr << 32 | len`; 0 after the last
/// part. Exported as `svcintent_stream_next`.
#[cfg_attr(target_family = "wasm", unsafe(export_name = "svcintent_stream_next"))]
pub extern "C" fn stream_next() -> u64 {
    crate::stream_next().map_or(0, hand_out)
}

/// Hands a buffer to the host as `ptr << 32 | len` (0 for an empty one); the host gives it back
/// through `free(ptr, len)`.
fn hand_out(bytes: Vec<u8>) -> u64 {
    let buffer = bytes.into_boxed_slice();
    let len = buffer.len();
    if len == 0 {
        return 0;
    }
    // Ownership passes to the host, which gives it back through `free(ptr, len)`.
    let ptr = Box::into_raw(buffer).cast::<u8>();
    ((ptr as usize as u64) << 32) | len as u64
}
