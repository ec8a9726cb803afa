#!/usr/bin/env bash
# Builds the sandboxed svcintent module (wasm/, crate svcintent-wasm) and optimises it:
#
#   cargo build -p svcintent-wasm --target wasm32-unknown-unknown --profile wasm-module
#   wasm-opt -O3 --strip-debug --strip-producers --strip-target-features
#
# Built for speed (profile wasm-module: opt-level 3): this module runs in the `svcintent` command,
# in Python and in CI, embedded, never downloaded by a page. The browser's package (build-js.sh)
# is built for size instead.
#
# Output: target/wasm/svcintent.wasm (or --out FILE), plus FILE.sha256.
#
# wasm-opt is binaryen 132 from npm (the `binaryen` package), installed once into
# target/tools/binaryen (idempotent: npm runs only when that exact version is missing). A pinned
# wasm-opt keeps the module's bytes (and its sha256, which `svcintent version` prints) the same on
# every machine. Set WASM_OPT=/path/to/wasm-opt to use another one.
#
# The host-runner's build.rs calls this script with --no-install to embed the module in the
# `svcintent` binary; a build script must not download anything, so without a wasm-opt it embeds
# the unoptimised module and warns (SVCINTENT_REQUIRE_WASM_OPT=1 makes that an error). CI runs
# this script once first, which installs wasm-opt, so the later cargo commands find it.
#
# Options:
#   --out FILE         where to write the module (default target/wasm/svcintent.wasm)
#   --target-dir DIR   cargo target dir for the wasm build (default $CARGO_TARGET_DIR/wasm-module or
#                      target/wasm-module: apart from the main target dir, so that build.rs can run
#                      this while cargo holds that dir's lock; shared with build.rs, so the module
#                      is compiled once)
#   --no-install       never run npm; without a wasm-opt, copy the module unoptimised
#   --quiet            no size report
#
# Environment: CARGO (cargo to use), CARGO_TARGET_DIR, WASM_OPT, SVCINTENT_REQUIRE_WASM_OPT=1, NPM.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BINARYEN_VERSION=132
OUT="$ROOT/target/wasm/svcintent.wasm"
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}/wasm-module"
INSTALL=1
QUIET=0
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --target-dir) TARGET_DIR="$2"; shift 2 ;;
    --no-install) INSTALL=0; shift ;;
    --quiet) QUIET=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-wasm.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done

say() { if [ "$QUIET" = 0 ]; then echo "build-wasm.sh: $*" >&2; fi; }
sha256() { sha256sum "$1" | cut -d' ' -f1; }

# 1. The module.
CARGO="${CARGO:-cargo}"
CARGO_QUIET=()
if [ "$QUIET" = 1 ]; then CARGO_QUIET=(--quiet); fi
"$CARGO" build --manifest-path "$ROOT/Cargo.toml" -p svcintent-wasm \
  --target wasm32-unknown-unknown --profile wasm-module --target-dir "$TARGET_DIR" "${CARGO_QUIET[@]}"
RAW="$TARGET_DIR/wasm32-unknown-unknown/wasm-module/svcintent_wasm.wasm"
[ -f "$RAW" ] || { echo "build-wasm.sh: cargo produced no $RAW" >&2; exit 1; }

# 2. wasm-opt: $WASM_OPT, else the pinned npm binaryen (installed here when allowed).
TOOLS="$ROOT/target/tools/binaryen"
PINNED="$TOOLS/node_modules/.bin/wasm-opt"
if [ -n "${WASM_OPT:-}" ]; then
  OPT="$WASM_OPT"
elif [ -x "$PINNED" ] && "$PINNED" --version 2>/dev/null | grep -q "version $BINARYEN_VERSION"; then
  OPT="$PINNED"
elif [ "$INSTALL" = 1 ]; then
  command -v "${NPM:-npm}" >/dev/null || {
    echo "build-wasm.sh: npm is needed to install wasm-opt (apt-get install npm), or set WASM_OPT" >&2
    exit 1
  }
  say "installing wasm-opt (npm binaryen@$BINARYEN_VERSION) into $TOOLS"
  mkdir -p "$TOOLS"
  "${NPM:-npm}" install --prefix "$TOOLS" --no-audit --no-fund --silent "binaryen@$BINARYEN_VERSION" >&2
  OPT="$PINNED"
else
  OPT=""
fi

mkdir -p "$(dirname "$OUT")"
OPT_FLAGS=(-O3 --strip-debug --strip-producers --strip-target-features)
if [ -n "$OPT" ]; then
  OPT_VERSION="$("$OPT" --version)"
  # wasm-opt runs under node and takes about a minute: run it once per (input, tool, flags) and
  # keep the result in the target dir, so that this script and build.rs (one output per cargo
  # profile) share it.
  STAMP="$(sha256sum "$RAW" | cut -d' ' -f1) $OPT_VERSION ${OPT_FLAGS[*]}"
  CACHED="$TARGET_DIR/wasm-opt-cache/$(printf '%s' "$STAMP" | sha256sum | cut -d' ' -f1).wasm"
  if [ -f "$OUT" ] && [ -f "$OUT.stamp" ] && [ "$(cat "$OUT.stamp")" = "$STAMP" ]; then
    say "up to date: $OUT"
  else
    if [ ! -f "$CACHED" ]; then
      mkdir -p "$(dirname "$CACHED")"
      "$OPT" "${OPT_FLAGS[@]}" "$RAW" -o "$CACHED.tmp.$$"
      mv -f "$CACHED.tmp.$$" "$CACHED"
    fi
    cp -f "$CACHED" "$OUT.tmp"
    mv -f "$OUT.tmp" "$OUT"
    printf '%s' "$STAMP" > "$OUT.stamp"
  fi
else
  if [ "${SVCINTENT_REQUIRE_WASM_OPT:-0}" = 1 ]; then
    echo "build-wasm.sh: no wasm-opt (run scripts/build-wasm.sh once to install it, or set WASM_OPT)" >&2
    exit 1
  fi
  say "WARNING: no wasm-opt found; the module is NOT optimised (run scripts/build-wasm.sh once to install it)"
  cp -f "$RAW" "$OUT.tmp"
  mv -f "$OUT.tmp" "$OUT"
  rm -f "$OUT.stamp"
fi
printf '%s  %s\n' "$(sha256 "$OUT")" "$(basename "$OUT")" > "$OUT.sha256"

if [ "$QUIET" = 0 ]; then
  say "raw $(stat -c %s "$RAW") bytes -> $(stat -c %s "$OUT") bytes ($(gzip -9c "$OUT" | wc -c) gzipped): $OUT"
  say "sha256 $(cut -d' ' -f1 "$OUT.sha256")"
fi
