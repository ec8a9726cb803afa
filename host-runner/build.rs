//! Embeds into the `svcintent` binary what it carries with it:
//!
//! 1. The sandboxed module. Built by `scripts/build-wasm.sh --no-install` (a nested
//!    `cargo build -p svcintent-wasm --target wasm32-unknown-unknown --profile wasm-module` with its own
//!    `--target-dir`, so it never waits for the lock cargo holds on the outer target dir, then
//!    `wasm-opt` when one is installed). `SVCINTENT_WASM_MODULE=FILE` embeds a prebuilt module
//!    instead (release pipelines that build it once). A toolchain without the
//!    `wasm32-unknown-unknown` target gets it through rustup first ([`ensure_wasm_target`]).
//! 2. Its sha256, a build identity (for the compiled-module cache), the wasmtime version (from
//!    Cargo.lock) and whether wasm-opt ran, as `SVCINTENT_*` compile-time variables.
//! 3. The bundled example site `examples/campus/` (`bundled.rs` in OUT_DIR: `include_str!` of
//!    every YAML file), so that `cargo install` gives a self-contained tool. An empty or missing
//!    directory gives an empty list; the commands then ask for a SITE.
#![allow(clippy::print_stdout, reason = "build scripts talk to cargo on stdout")]

use std::error::Error;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::{env, fs};

use sha2::{Digest, Sha256};

type Result<T> = std::result::Result<T, Box<dyn Error>>;

fn main() -> Result<()> {
    let manifest_dir =
        PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR unset")?);
    let root = manifest_dir
        .parent()
        .ok_or("host-runner has no parent directory")?
        .to_path_buf();
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").ok_or("OUT_DIR unset")?);

    let (module, optimised) = build_module(&root, &out_dir)?;
    let module_sha = hex(&Sha256::digest(&module));
    let wasmtime_version =
        locked_version(&root.join("Cargo.lock"), "wasmtime").unwrap_or_else(|| "48".to_owned());

    // Identity of this build, for the compiled-module cache: the same inputs produce the same
    // machine code, so two identical builds may share cache entries; anything else may not.
    let mut id = Sha256::new();
    for part in [
        module_sha.as_str(),
        &env::var("CARGO_PKG_VERSION")?,
        &env::var("TARGET")?,
        &env::var("PROFILE")?,
        &wasmtime_version,
        &rustc_version(),
    ] {
        id.update(part.as_bytes());
        id.update([0]);
    }

    println!("cargo:rustc-env=SVCINTENT_MODULE_SHA256={module_sha}");
    println!(
        "cargo:rustc-env=SVCINTENT_MODULE_OPTIMISED={}",
        u8::from(optimised)
    );
    println!("cargo:rustc-env=SVCINTENT_BUILD_ID={}", hex(&id.finalize()));
    println!("cargo:rustc-env=SVCINTENT_WASMTIME_VERSION={wasmtime_version}");
    println!("cargo:rustc-env=SVCINTENT_TARGET={}", env::var("TARGET")?);

    bundle_example(&root, &out_dir)?;
    Ok(())
}

/// Builds (or copies) the module into OUT_DIR/svcintent.wasm; returns its bytes and whether
/// wasm-opt ran.
fn build_module(root: &Path, out_dir: &Path) -> Result<(Vec<u8>, bool)> {
    let out = out_dir.join("svcintent.wasm");
    println!("cargo:rerun-if-env-changed=SVCINTENT_WASM_MODULE");
    if let Some(prebuilt) = env::var_os("SVCINTENT_WASM_MODULE") {
        let prebuilt = PathBuf::from(prebuilt);
        println!("cargo:rerun-if-changed={}", prebuilt.display());
        fs::copy(&prebuilt, &out)
            .map_err(|e| format!("SVCINTENT_WASM_MODULE={}: {e}", prebuilt.display()))?;
        // A prebuilt module comes from scripts/build-wasm.sh, which leaves a stamp beside an
        // optimised one.
        let optimised = prebuilt.with_extension("wasm.stamp").exists();
        return Ok((fs::read(&out)?, optimised));
    }

    for watched in [
        "core",
        "wasm",
        "docs/diagnostics.md",
        "Cargo.lock",
        "Cargo.toml",
        "scripts/build-wasm.sh",
        "rust-toolchain.toml",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    for var in ["WASM_OPT", "SVCINTENT_REQUIRE_WASM_OPT", "CARGO_TARGET_DIR"] {
        println!("cargo:rerun-if-env-changed={var}");
    }

    ensure_wasm_target()?;
    let target_dir = env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("wasm-module");
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("scripts/build-wasm.sh"))
        .args(["--no-install", "--quiet", "--out"])
        .arg(&out)
        .arg("--target-dir")
        .arg(&target_dir);
    // The nested cargo builds for another target with its own profile: nothing of this build's
    // configuration may leak into it (flags meant for the host, clippy's wrapper, a target dir).
    for var in [
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_TARGET_DIR",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CLIPPY_ARGS",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd
        .status()
        .map_err(|e| format!("cannot run scripts/build-wasm.sh: {e}"))?;
    if !status.success() {
        return Err(
            format!("scripts/build-wasm.sh failed ({status}); run it by hand to see why").into(),
        );
    }
    let optimised = out.with_extension("wasm.stamp").exists();
    if !optimised {
        println!(
            "cargo:warning=the embedded svcintent module is not optimised (no wasm-opt): run scripts/build-wasm.sh once to install it"
        );
    }
    Ok((fs::read(&out)?, optimised))
}

const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// Makes sure the toolchain that builds the module has the `wasm32-unknown-unknown` standard
/// library. `rust-toolchain.toml` lists the target, but rustup installs it only when it installs
/// the toolchain, and not at all with `RUSTUP_AUTO_INSTALL=0`: the README's first command would
/// then fail deep in the nested build ("can't find crate for `core`"). With rustup, the target is
/// added to the toolchain cargo runs (`RUSTUP_TOOLCHAIN`, which rustup sets) and a warning says
/// so; without rustup the build stops with what to install.
fn ensure_wasm_target() -> Result<()> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|s| PathBuf::from(s.trim()))
        .ok_or_else(|| format!("cannot run `{} --print sysroot`", rustc.to_string_lossy()))?;
    let libdir = sysroot.join("lib/rustlib").join(WASM_TARGET).join("lib");
    if libdir.is_dir() {
        return Ok(());
    }
    let toolchain = env::var("RUSTUP_TOOLCHAIN").ok();
    let manual = format!(
        "the Rust toolchain at {} has no {WASM_TARGET} target, which the embedded svcintent module is built for. \
         Install it: `rustup target add {WASM_TARGET}{}` (rustup), or your distribution's {WASM_TARGET} standard library for this exact rustc; \
         or build the module elsewhere with scripts/build-wasm.sh and set SVCINTENT_WASM_MODULE=/path/to/svcintent.wasm",
        sysroot.display(),
        toolchain
            .as_deref()
            .map(|t| format!(" --toolchain {t}"))
            .unwrap_or_default()
    );
    let Some(toolchain) = toolchain else {
        return Err(format!(
            "{manual} (rustup is not managing this toolchain: RUSTUP_TOOLCHAIN is unset)"
        )
        .into());
    };
    let added = Command::new("rustup")
        .args(["target", "add", WASM_TARGET, "--toolchain", &toolchain])
        .status();
    match added {
        Ok(status) if status.success() && libdir.is_dir() => {
            println!(
                "cargo:warning=added the {WASM_TARGET} target to toolchain {toolchain} (`rustup target add {WASM_TARGET} --toolchain {toolchain}`): rust-toolchain.toml lists it, but rustup had not installed it"
            );
            Ok(())
        }
        Ok(status) => Err(format!("{manual} (`rustup target add` failed: {status})").into()),
        Err(e) => Err(format!("{manual} (cannot run rustup: {e})").into()),
    }
}

/// The version of `name` in a Cargo.lock.
fn locked_version(lock: &Path, name: &str) -> Option<String> {
    let text = fs::read(lock).ok()?;
    let text = String::from_utf8(text).ok()?;
    let needle = format!("name = \"{name}\"\nversion = \"");
    let start = text.find(&needle)? + needle.len();
    let rest = text.get(start..)?;
    Some(rest.get(..rest.find('"')?)?.to_owned())
}

fn rustc_version() -> String {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    Command::new(rustc)
        .arg("-vV")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default()
}

/// Writes OUT_DIR/bundled.rs: `BUNDLED_EXAMPLE: &[(&str, &str)]`, the YAML files of
/// examples/campus with site-relative paths, sorted.
fn bundle_example(root: &Path, out_dir: &Path) -> Result<()> {
    let examples = root.join("examples");
    println!("cargo:rerun-if-changed={}", examples.display());
    let dir = examples.join("campus");
    let mut files = Vec::new();
    if dir.is_dir() {
        walk(&dir, &dir, &mut files)?;
    }
    files.sort();
    let mut src = String::from(
        "/// The bundled example site (`examples/campus/`): site-relative path and text.\n",
    );
    src.push_str("pub static BUNDLED_EXAMPLE: &[(&str, &str)] = &[\n");
    for (rel, abs) in &files {
        println!("cargo:rerun-if-changed={}", abs.display());
        writeln!(
            src,
            "    ({rel:?}, include_str!({:?})),",
            abs.display().to_string()
        )?;
    }
    src.push_str("];\n");
    fs::write(out_dir.join("bundled.rs"), src)?;
    Ok(())
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<()> {
    println!("cargo:rerun-if-changed={}", dir.display());
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let name = entry.file_name();
        if name.to_string_lossy().starts_with('.') {
            continue;
        }
        let kind = entry.file_type()?;
        if kind.is_dir() {
            walk(root, &path, out)?;
        } else if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            let rel = path.strip_prefix(root)?;
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, path));
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
