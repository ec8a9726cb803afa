#!/usr/bin/env bash
# Builds the JavaScript/TypeScript package `svcintent` (crate wasm/js, svcintent-js) with wasm-pack,
# twice:
#
#   wasm-pack build wasm/js --target web    --out-dir pkg-web   # ES module for the browser (playground/)
#   wasm-pack build wasm/js --target nodejs --out-dir pkg-node  # CommonJS for Node (tests, tools)
#
# both with `--profile wasm` (opt-level z, fat LTO, one codegen unit, panic abort) in their own cargo
# target dir ($CARGO_TARGET_DIR/wasm-js or target/wasm-js, so the main target dir's lock is never
# waited on), and `--mode no-install`, so wasm-pack never downloads anything: it uses
#   - wasm-bindgen-cli 0.2.130 (must equal the `wasm-bindgen` crate pin in wasm/js/Cargo.toml) and
#     wasm-pack 0.15.1, installed here with `cargo install` only when that exact version is missing;
#   - wasm-opt from npm binaryen 132 in target/tools/binaryen (shared with scripts/build-wasm.sh,
#     installed here when missing). Debian's binaryen 108 corrupts wasm-bindgen output. Its flags
#     are in wasm/js/Cargo.toml, [package.metadata.wasm-pack.profile.custom].
#
# Fails when a built svcintent_bg.wasm exceeds 2 MiB (budget: 1.2 MB raw / 400 KB gzip); prints
# raw and gzip sizes.
#
# Options:
#   --web-only   build only pkg-web
#   --no-install never install tools (fail when one is missing)
#
# Environment: CARGO_TARGET_DIR, CARGO_HOME, NPM, SVCINTENT_JS_MAX_BYTES (the size limit, default
# 2097152).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WASM_BINDGEN_VERSION=0.2.130
WASM_PACK_VERSION=0.15.1
BINARYEN_VERSION=132
LIMIT_BYTES="${SVCINTENT_JS_MAX_BYTES:-$((2 * 1024 * 1024))}"
CRATE="$ROOT/wasm/js"
TARGETS=(web nodejs)
INSTALL=1
while [ $# -gt 0 ]; do
  case "$1" in
    --web-only) TARGETS=(web); shift ;;
    --no-install) INSTALL=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-js.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done

say() { echo "build-js.sh: $*" >&2; }
die() { say "$*"; exit 1; }

CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

# `TOOL --version` prints "TOOL X.Y.Z"; true when that is exactly $2.
has_version() { "$1" --version 2>/dev/null | awk '{print $2}' | grep -qx "$2"; }

# 1. wasm-bindgen-cli and wasm-pack, exact versions.
install_crate() { # crate version binary
  local crate="$1" version="$2" bin="$3"
  if has_version "$CARGO_BIN/$bin" "$version"; then return 0; fi
  [ "$INSTALL" = 1 ] || die "$bin $version is missing (cargo install $crate --version $version --locked)"
  say "installing $crate $version (cargo install --locked; a few minutes, once)"
  if ! cargo install "$crate" --version "$version" --locked; then
    # wasm-bindgen-cli 0.2.130's own Cargo.lock names webpki-roots 1.0.11, which the crates.io
    # index reachable here does not carry; the exact version of the tool is what matters.
    say "cargo install --locked failed for $crate $version; retrying without --locked"
    cargo install "$crate" --version "$version"
  fi
  has_version "$CARGO_BIN/$bin" "$version" || die "$bin $version not installed in $CARGO_BIN"
}
install_crate wasm-bindgen-cli "$WASM_BINDGEN_VERSION" wasm-bindgen
install_crate wasm-pack "$WASM_PACK_VERSION" wasm-pack

# 2. wasm-opt: npm binaryen, the same install as scripts/build-wasm.sh.
TOOLS="$ROOT/target/tools/binaryen"
if ! "$TOOLS/node_modules/.bin/wasm-opt" --version 2>/dev/null | grep -q "version $BINARYEN_VERSION"; then
  [ "$INSTALL" = 1 ] || die "wasm-opt (npm binaryen@$BINARYEN_VERSION) is missing in $TOOLS"
  command -v "${NPM:-npm}" >/dev/null || die "npm is needed to install wasm-opt (apt-get install npm)"
  say "installing wasm-opt (npm binaryen@$BINARYEN_VERSION) into $TOOLS"
  mkdir -p "$TOOLS"
  "${NPM:-npm}" install --prefix "$TOOLS" --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION" >&2
fi
# First on PATH: wasm-pack takes the first wasm-opt it finds.
export PATH="$TOOLS/node_modules/.bin:$PATH"
[ "$(command -v wasm-opt)" = "$TOOLS/node_modules/.bin/wasm-opt" ] || die "wrong wasm-opt on PATH"

# 3. Build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/wasm-js"
for target in "${TARGETS[@]}"; do
  case "$target" in
    web) out=pkg-web ;;
    nodejs) out=pkg-node ;;
  esac
  say "wasm-pack build --target $target -> wasm/js/$out"
  wasm-pack --log-level warn build "$CRATE" --mode no-install --target "$target" \
    --out-dir "$out" --out-name svcintent --profile wasm
  # The npm package is `svcintent` (wasm-pack names it after the crate, svcintent-js).
  node -e 'const fs = require("fs"); const f = process.argv[1];
    const p = JSON.parse(fs.readFileSync(f, "utf8")); p.name = "svcintent";
    fs.writeFileSync(f, JSON.stringify(p, null, 2) + "\n");' "$CRATE/$out/package.json"
  wasm="$CRATE/$out/svcintent_bg.wasm"
  [ -f "$wasm" ] || die "wasm-pack produced no $wasm"
  raw=$(stat -c %s "$wasm")
  gz=$(gzip -9c "$wasm" | wc -c)
  say "$out/svcintent_bg.wasm: $raw bytes raw, $gz bytes gzip -9 (limit $LIMIT_BYTES raw)"
  if [ "$raw" -gt "$LIMIT_BYTES" ]; then
    die "FAIL: $wasm is $raw bytes, over the $LIMIT_BYTES-byte limit"
  fi
done
