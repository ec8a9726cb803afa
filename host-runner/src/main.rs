//! The `svcintent` command: see `svcintent --help`, docs/cli.md and [`svcintent_host::cli`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = svcintent_host::cli::Cli::parse();
    ExitCode::from(svcintent_host::cli::run(&cli))
}
