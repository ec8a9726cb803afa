//! Library side of the `svcintent` command: the daemon-check harness, the sandboxed engine,
//! atomic tree writes. `main.rs` is only argument parsing and exit codes.

pub mod daemons;
