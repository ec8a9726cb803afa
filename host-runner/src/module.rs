//! The embedded sandboxed module and facts about this build (see `build.rs` and `docs/abi.md`).

/// The module's bytes: `svcintent-wasm` built for `wasm32-unknown-unknown`, optimised with
/// wasm-opt when the build found one ([`OPTIMISED`]).
pub static MODULE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/svcintent.wasm"));

/// SHA-256 of [`MODULE`], hex.
pub const MODULE_SHA256: &str = env!("SVCINTENT_MODULE_SHA256");

/// Whether wasm-opt ran on [`MODULE`].
pub const OPTIMISED: bool = matches!(env!("SVCINTENT_MODULE_OPTIMISED").as_bytes(), b"1");

/// The wasmtime version this binary runs the module with.
pub const WASMTIME_VERSION: &str = env!("SVCINTENT_WASMTIME_VERSION");

/// Identity of this build (module, versions, target, profile, compiler), hex; part of the key
/// of the compiled-module cache.
pub const BUILD_ID: &str = env!("SVCINTENT_BUILD_ID");

/// The target triple this binary was built for.
pub const TARGET: &str = env!("SVCINTENT_TARGET");

/// Version of the `svcintent` command.
pub const CLI_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The wasm ABI version this host speaks (`svcintent_abi_version()` must return it).
pub const ABI_VERSION: u32 = 2;

mod bundled {
    include!(concat!(env!("OUT_DIR"), "/bundled.rs"));
}

pub use bundled::BUNDLED_EXAMPLE;

/// Where the bundled example comes from in the repository (the prefix its paths are shown with).
pub const BUNDLED_EXAMPLE_DIR: &str = "examples/campus";

#[cfg(test)]
#[allow(clippy::expect_used, reason = "tests")]
mod tests {
    use super::*;

    /// The module must import nothing (no clock, files, randomness or host functions) and export
    /// exactly the ABI (plus the two globals the Rust toolchain's linker always adds).
    #[test]
    fn module_has_no_imports_and_exactly_the_abi_exports() {
        use wasmparser::{ExternalKind, Parser, Payload, TypeRef};
        let mut imports = Vec::new();
        let mut exports = Vec::new();
        for payload in Parser::new(0).parse_all(MODULE) {
            match payload.expect("the module parses") {
                Payload::ImportSection(reader) => {
                    for import in reader.into_imports() {
                        let import = import.expect("import entry parses");
                        let kind = match import.ty {
                            TypeRef::Func(_) | TypeRef::FuncExact(_) => "func",
                            TypeRef::Memory(_) => "memory",
                            TypeRef::Table(_) => "table",
                            TypeRef::Global(_) => "global",
                            TypeRef::Tag(_) => "tag",
                        };
                        imports.push(format!("{}::{} ({kind})", import.module, import.name));
                    }
                }
                Payload::ExportSection(reader) => {
                    for export in reader {
                        let export = export.expect("export entry parses");
                        let kind = match export.kind {
                            ExternalKind::Func | ExternalKind::FuncExact => "func",
                            ExternalKind::Memory => "memory",
                            ExternalKind::Table => "table",
                            ExternalKind::Global => "global",
                            ExternalKind::Tag => "tag",
                        };
                        exports.push(format!("{} ({kind})", export.name));
                    }
                }
                _ => {}
            }
        }
        assert!(
            imports.is_empty(),
            "the module must not import anything, it imports {imports:?}"
        );
        exports.sort();
        assert_eq!(
            exports,
            [
                "__data_end (global)",
                "__heap_base (global)",
                "alloc (func)",
                "free (func)",
                "memory (memory)",
                "svcintent_abi_version (func)",
                "svcintent_call (func)",
                "svcintent_stream (func)",
                "svcintent_stream_next (func)",
            ]
        );
    }
}
