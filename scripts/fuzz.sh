#!/usr/bin/env bash
# Coverage-guided fuzzing (cargo-fuzz, libFuzzer) of the compiler and the sandboxed module:
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     each TARGET (default: compile site module) for SECONDS (default 60)
#
# Targets (fuzz/fuzz_targets/ and fuzz/module/fuzz_targets/, oracles in tests/src/fuzzing.rs, see docs/reliability.md):
#   compile  arbitrary bytes as one to three site files (0xff separates them): lint, render
#   site     a valid-shaped site generated from the bytes (tests/src/random_site.rs)
#   module   arbitrary request bytes into the wasm module under the runner's engine
#
# Installs what it needs: the nightly pinned in fuzz/rust-toolchain.toml (the one place its date
# is written) and cargo-fuzz $CARGO_FUZZ_VERSION. The module is built with the stable toolchain
# (scripts/build-wasm.sh) and embedded through SVCINTENT_WASM_MODULE, so the nightly build never
# builds wasm. Seeds come from examples/ and tests/fixtures/ (written into the working corpus
# fuzz/corpus/TARGET/, which is not committed), plus the committed regression inputs
# tests/fixtures/fuzz/TARGET/. A crash stops the run (exit 1) and leaves the input in
# fuzz/artifacts/TARGET/: minimise it (`cargo fuzz tmin TARGET FILE` in fuzz/), commit it as
# tests/fixtures/fuzz/TARGET/NAME, and `cargo test -p svcintent-tests --test fuzz_regressions`
# replays it on the stable toolchain.
#
# Environment: FUZZ_TARGET_DIR (cargo target dir of the fuzz build, default target/fuzz; `site`
# builds in its no-trace-compares/ subdirectory),
# FUZZ_JOBS (libFuzzer -fork=N, default none), FUZZ_ARGS (more libFuzzer flags),
# NICE (nice level for the fuzzing itself, default 0), FUZZ_CODEGEN_UNITS (rustc codegen units
# of the fuzz build; cargo-fuzz's default is 1, for the fastest executions: the module target's
# instrumented wasmtime and cranelift then take most of a CI run to build, see
# docs/reliability.md; CI sets 16).
set -euo pipefail
exec </dev/null
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

SECONDS_PER_TARGET="${1:-60}"
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then TARGETS=(compile site module); fi
CARGO_FUZZ_VERSION=0.13.1
FUZZ_TARGET_DIR="${FUZZ_TARGET_DIR:-$ROOT/target/fuzz}"
# Build options of TARGET, the same for `cargo fuzz build` and `cargo fuzz run` (else run builds
# again). `site` is built without cargo-fuzz's comparison tracing (`--no-trace-compares`), in its
# own target directory (other RUSTFLAGS than `compile`'s build): its bytes are only read as the
# generator's choices (`int_in_range`), never compared with what the compiler compares, so the
# traced operands cannot guide its mutations, and the tracing hooks were over half of an
# execution's instructions (docs/reliability.md). `compile`, whose bytes are the YAML the
# compiler compares, keeps it.
build_opts_of() {
  local opts=(--fuzz-dir . --sanitizer none)
  if [ -n "${FUZZ_CODEGEN_UNITS:-}" ]; then opts+=(--codegen-units "$FUZZ_CODEGEN_UNITS"); fi
  if [ "$1" = site ]; then
    opts+=(--no-trace-compares --target-dir "$FUZZ_TARGET_DIR/no-trace-compares")
  else
    opts+=(--target-dir "$FUZZ_TARGET_DIR")
  fi
  printf '%s\n' "${opts[@]}"
}
NICE="${NICE:-0}"

say() { printf 'fuzz.sh: %s\n' "$*" >&2; }

# 1. The pinned nightly and cargo-fuzz.
NIGHTLY="$(sed -n 's/^channel *= *"\(.*\)"/\1/p' fuzz/rust-toolchain.toml)"
if ! rustup run "$NIGHTLY" rustc --version >/dev/null 2>&1; then
  say "installing $NIGHTLY"
  rustup toolchain install "$NIGHTLY" --profile minimal
fi
if [ "$(cargo fuzz --version 2>/dev/null || true)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  say "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  # Built with the project's stable toolchain (run from the repository root).
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked
fi

# 2. The module, with the stable toolchain, for the runner's engine inside the fuzz build.
mkdir -p "$FUZZ_TARGET_DIR"
MODULE="$FUZZ_TARGET_DIR/svcintent.wasm"
bash scripts/build-wasm.sh --quiet --out "$MODULE"
export SVCINTENT_WASM_MODULE="$MODULE"
# The module target compiles the module once per process; the compiled-module cache keeps it.
export SVCINTENT_FUZZ_CACHE="$FUZZ_TARGET_DIR/module-cache"

# 3. Seeds.
seed_sites() {
  # Every example and fixture site (a directory of YAML files), printed as DIR.
  for d in examples/* tests/fixtures/invalid/* tests/fixtures/render/*; do
    if [ -d "$d" ]; then echo "$d"; fi
  done
}
write_seeds() {
  local target="$1" corpus="fuzz/corpus/$1"
  mkdir -p "$corpus"
  case "$target" in
    compile)
      # The site's files joined by 0xff, at most three: the first two as they are, the rest
      # (services files) merged into the third under one `services:`.
      while read -r d; do
        mapfile -t files < <(find "$d" -name '*.yaml' -o -name '*.yml' | LC_ALL=C sort)
        [ ${#files[@]} -gt 0 ] || continue
        local out; out="$corpus/seed-$(echo "$d" | tr '/' '_')"
        {
          cat "${files[0]}"
          if [ ${#files[@]} -gt 1 ]; then printf '\xff'; cat "${files[1]}"; fi
          if [ ${#files[@]} -gt 2 ]; then
            printf '\xff'
            cat "${files[2]}"
            for f in "${files[@]:3}"; do grep -v '^services:' "$f" || true; done
          fi
        } > "$out"
      done < <(seed_sites)
      ;;
    module)
      # Requests of every kind over the example and fixture sites.
      while read -r d; do
        python3 - "$d" "$corpus/seed-$(echo "$d" | tr '/' '_')" <<'PY'
import json, os, sys
root, out = sys.argv[1], sys.argv[2]
files = []
for base, _, names in os.walk(root):
    for n in sorted(names):
        if n.endswith((".yaml", ".yml")):
            p = os.path.join(base, n)
            files.append({"path": os.path.relpath(p, root), "text": open(p, encoding="utf-8", errors="replace").read()})
requests = [
    {"version": 1, "op": "render", "files": files},
    {"version": 1, "op": "lint", "files": files},
    {"version": 1, "op": "diff", "old": files, "new": files[:-1]},
    {"version": 1, "op": "trace", "files": files, "service": "www"},
]
for i, r in enumerate(requests):
    with open(f"{out}-{r['op']}", "w") as f:
        json.dump(r, f)
PY
      done < <(seed_sites | head -n 12)
      printf '{"version":1,"op":"explain","code":"SI010"}' > "$corpus/seed-explain"
      printf '{"version":1,"op":"schema"}' > "$corpus/seed-schema"
      printf '{"version":1,"op":"version"}' > "$corpus/seed-version"
      ;;
    site)
      # The generator reads choices from the bytes; a few fixed byte patterns to start from.
      for i in 0 1 2 3 4 5 6 7; do
        head -c 2048 </dev/zero | tr '\0' "\\$(printf '%03o' $((i * 31 + 7)))" > "$corpus/seed-$i"
      done
      ;;
  esac
}

# 4. Build each chosen target, then run each. `compile` and `site` live in fuzz/ (the compiler
# core only); `module` in fuzz/module/ (the runner, wasmtime).
package_of() { if [ "$1" = module ]; then echo fuzz/module; else echo fuzz; fi; }
export CARGO_TARGET_DIR="$FUZZ_TARGET_DIR"
for t in "${TARGETS[@]}"; do
  pkg=$(package_of "$t")
  mapfile -t opts < <(build_opts_of "$t")
  say "building $t in $pkg (nightly $NIGHTLY)"
  # From inside the package (its toolchain file, or fuzz/'s, applies) and named explicitly:
  # cargo-fuzz would otherwise take <project>/fuzz for every package.
  (cd "$pkg" && cargo fuzz build "${opts[@]}" "$t")
done

status=0
for t in "${TARGETS[@]}"; do
  write_seeds "$t"
  mkdir -p "fuzz/artifacts/$t"
  regress=()
  if [ -d "tests/fixtures/fuzz/$t" ]; then regress=("$ROOT/tests/fixtures/fuzz/$t"); fi
  mapfile -t opts < <(build_opts_of "$t")
  say "$t: ${SECONDS_PER_TARGET}s"
  # shellcheck disable=SC2086
  if ! (cd "$(package_of "$t")" && nice -n "$NICE" cargo fuzz run "${opts[@]}" "$t" \
      "$ROOT/fuzz/corpus/$t" "${regress[@]}" -- \
      -max_total_time="$SECONDS_PER_TARGET" -timeout=60 -rss_limit_mb=4096 -max_len=65536 \
      -artifact_prefix="$ROOT/fuzz/artifacts/$t/" -print_final_stats=1 \
      ${FUZZ_JOBS:+-fork=$FUZZ_JOBS} ${FUZZ_ARGS:-}); then
    say "$t: FAILED (input in fuzz/artifacts/$t/)"
    status=1
  fi
done
exit "$status"
