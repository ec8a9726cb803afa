//! The `svcintent` command: see `svcintent --help`, docs/cli.md and [`svcintent_host::cli`].
//!
//! Built by two packages: `host-runner` as `svcintent` (`cargo install --path host-runner`) and
//! the repository root as `svcintent-pre-commit` (pre-commit's `language: rust` installs that).

fn main() -> std::process::ExitCode {
    svcintent_host::cli::main()
}
