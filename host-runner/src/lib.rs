//! Library side of the `svcintent` command: the daemon-check harness, the sandboxed engine,
//! atomic tree writes. `main.rs` only parses the command line and exits with the code
//! [`cli::run`] returns.
//!
//! - [`module`]: the embedded WebAssembly module (built by `build.rs`) and build facts.
//! - [`engine`]: runs requests in the module under wasmtime with limits, or natively.
//! - [`protocol`]: the JSON requests and responses of `svcintent_core::api`.
//! - [`site`]: reading a site directory, finding the site of a file, the bundled example.
//! - [`tree`]: writing a rendered tree atomically as generations; `--check` comparison.
//! - [`cli`]: the commands; [`exit`]: their exit codes.
//! - [`daemons`]: the daemons' own config checks of a rendered tree (`validate`), and how each
//!   daemon is activated and verified on a host.
//! - [`deploy`]: `apply`, one host from what it runs to a rendered tree, in the anycast-safe order.

pub mod cli;
pub mod daemons;
pub mod deploy;
pub mod engine;
pub mod exit;
pub mod module;
pub mod protocol;
pub mod site;
pub mod tree;
