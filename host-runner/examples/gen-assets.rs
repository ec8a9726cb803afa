//! Writes the `svcintent` command's man pages and shell completions, generated from its real
//! clap command line (`svcintent_host::cli::Cli`), so they can never disagree with `--help`:
//!
//! ```text
//! cargo run -p svcintent --example gen-assets -- OUT_DIR
//! ```
//!
//! OUT_DIR/man/svcintent.1 and one page per subcommand (svcintent-render.1 ...), and
//! OUT_DIR/completions/{svcintent.bash, _svcintent, svcintent.fish}. scripts/build-deb.sh runs it
//! and packages the result (see [package.metadata.deb] in host-runner/Cargo.toml). An example,
//! not a subcommand, so that the command itself carries neither generator.
#![allow(
    clippy::print_stdout,
    reason = "a build tool that reports what it wrote"
)]

use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;
use svcintent_host::cli::Cli;

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args_os().skip(1);
    let out = match (args.next(), args.next()) {
        (Some(out), None) => PathBuf::from(out),
        _ => return Err("usage: gen-assets OUT_DIR".into()),
    };
    let written = man_pages(&out.join("man"))? + completions(&out.join("completions"))?;
    println!("gen-assets: wrote {written} files to {}", out.display());
    Ok(())
}

/// One page for the command and one per visible subcommand, named as man(1) looks them up
/// (`man svcintent-render`; clap names a built subcommand `svcintent-render`).
fn man_pages(dir: &Path) -> Result<usize, Box<dyn Error>> {
    fs::create_dir_all(dir)?;
    clap_mangen::generate_to(Cli::command(), dir)?;
    Ok(fs::read_dir(dir)?.count())
}

/// Completions for the shells Debian packages a completion directory for.
fn completions(dir: &Path) -> Result<usize, Box<dyn Error>> {
    fs::create_dir_all(dir)?;
    let mut written = 0;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut command = Cli::command();
        clap_complete::generate_to(shell, &mut command, "svcintent", dir)?;
        written += 1;
    }
    Ok(written)
}
