#!/usr/bin/env bash
# Builds the Debian package of the `svcintent` command (docs/deploy.md, "The Debian package"):
#
#   svcintent_<version>-<revision>_amd64.deb
#     /usr/bin/svcintent                                   release build, the optimised module embedded
#     /usr/share/man/man1/svcintent.1.gz, svcintent-*.1.gz  generated from the clap command line
#     /usr/share/bash-completion/completions/svcintent      bash, zsh, fish completions (clap_complete)
#     /usr/share/zsh/vendor-completions/_svcintent
#     /usr/share/fish/vendor_completions.d/svcintent.fish
#     /usr/share/doc/svcintent/                             README, copyright, changelog
#   Depends: only the shared libraries the binary links (dpkg-shlibdeps).
#
# Steps: cargo-deb (pinned, `cargo install --locked` when missing or another version), the
# module through scripts/build-wasm.sh (which installs the pinned wasm-opt), the release binary
# with SVCINTENT_REQUIRE_WASM_OPT=1 (an unoptimised module is an error, not a warning), the man
# pages and completions from host-runner/examples/gen-assets.rs, then cargo-deb without
# building again. The package metadata is [package.metadata.deb] in host-runner/Cargo.toml.
#
# Usage: scripts/build-deb.sh [--out DIR]      (default: $CARGO_TARGET_DIR/debian or target/debian)
# Prints the path of the .deb as its last line.
set -euo pipefail
exec </dev/null
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CARGO_DEB_VERSION=3.8.0
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="$TARGET/debian"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-deb.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
say() { echo "build-deb.sh: $*" >&2; }

# 1. cargo-deb, pinned.
if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
  say "installing cargo-deb $CARGO_DEB_VERSION"
  cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet
fi
command -v dpkg-shlibdeps >/dev/null || { say "dpkg-shlibdeps is needed for Depends (apt-get install dpkg-dev)"; exit 1; }

# 2. The optimised module, then the release binary that embeds it.
rustup target add wasm32-unknown-unknown >/dev/null 2>&1 || true
bash scripts/build-wasm.sh --quiet
export SVCINTENT_REQUIRE_WASM_OPT=1
cargo build --release --locked -p svcintent --bin svcintent
BIN="$TARGET/release/svcintent"
"$BIN" version | grep -q 'wasm-opt -O3' || { "$BIN" version >&2; say "the embedded module is not optimised"; exit 1; }

# 3. Man pages and completions, from the same clap definitions (a debug build is enough: the
# command line is the same in every profile, and `cargo test` has usually built it already).
ASSETS="$TARGET/release/deb-assets"
rm -rf "$ASSETS"
cargo run --quiet --locked -p svcintent --example gen-assets -- "$ASSETS" >&2
# Debian policy: man pages gzipped (-n: no name or time stamp, so the bytes are reproducible).
gzip -9nf "$ASSETS"/man/*.1
# A non-native package carries a Debian changelog; one entry for this build, dated by the commit
# it was built from (reproducible), or by now outside a git checkout.
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
DATE=$(git log -1 --format=%cD 2>/dev/null || date -R)
{
  printf 'svcintent (%s-1) unstable; urgency=medium\n\n' "$VERSION"
  printf '  * Built by scripts/build-deb.sh from commit %s.\n\n' "$COMMIT"
  printf ' -- svcintent maintainers <svcintent@example.invalid>  %s\n' "$DATE"
} | gzip -9n > "$ASSETS/changelog.Debian.gz"

# 4. The package.
mkdir -p "$OUT"
DEB=$(cargo deb --quiet --locked -p svcintent --no-build --output "$OUT")
[ -f "$DEB" ] || { say "cargo-deb reported '$DEB', which is not a file"; exit 1; }
say "$(dpkg-deb -f "$DEB" Package Version Architecture Depends | tr '\n' ' ')($(stat -c %s "$DEB") bytes)"
echo "$DEB"
