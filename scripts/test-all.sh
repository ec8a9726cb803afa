#!/usr/bin/env bash
# The whole test suite, on a fresh Debian 12 machine or an already prepared one:
#   1. installs what the tests need (idempotent, fast when present): the daemons whose checks the
#      tests run (haproxy, bird2, nftables, icinga2, apache2, monitoring-plugins, the
#      anycast-healthchecker venv), the wasm target, wasm-opt;
#   2. builds the sandboxed module once;
#   3. runs formatting, clippy (native and wasm32) and every test of the workspace (including
#      the netns lab and the daemons' own checks);
#   4. tests the bindings over the same module: Python (wasm/python), JS/TS (wasm/js), and the
#      browser playground in headless Chromium;
#   5. runs the `language: rust` pre-commit hook through pre-commit (a release build of the
#      command, as pre-commit does it).
# CI (.ci/run) runs exactly this. Needs no stdin.
set -euo pipefail
exec </dev/null
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# A one-shot run gains nothing from incremental caches, and they double target/'s size.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

# Each step also prints the free disk space: a build that runs out of it fails far from the cause.
step() { printf '\n==> %s  [%s free]\n' "$*" "$(df -h --output=avail . | tail -1 | tr -d ' ')"; }

step "installing test dependencies"
bash .ci/install-daemons.sh
# rust-toolchain.toml pins the toolchain; make sure its components and the wasm target exist.
rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
rustup component add rustfmt clippy >/dev/null
rustup target add wasm32-unknown-unknown >/dev/null

step "building the sandboxed module"
bash scripts/build-wasm.sh

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (native)"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo clippy (wasm32)"
cargo clippy -p svcintent-core -p svcintent-wasm -p svcintent-js --target wasm32-unknown-unknown --locked -- -D warnings

step "cargo test"
cargo test --workspace --locked --no-fail-fast

step "the README's first command in a clean clone, without the wasm32 target"
bash scripts/test-first-command.sh

step "Python package (wasm/python)"
bash scripts/test-python.sh

step "JS/TS package (wasm/js)"
bash scripts/test-js.sh

step "playground (headless Chromium)"
bash scripts/test-playground.sh --skip-js  # test-js.sh just built wasm/js/pkg-web

step "pre-commit hook (language: rust, through pre-commit)"
bash scripts/test-pre-commit.sh

step "Debian package (build, lintian, install, remove)"
DEB=$(bash scripts/build-deb.sh | tail -1)
bash scripts/test-deb.sh --deb "$DEB"

step "Ansible collection (ansible-test sanity, playbook against the netns lab)"
bash scripts/test-ansible.sh --deb "$DEB"

# Reliability (docs/reliability.md). The committed crash inputs are replayed by `cargo test`
# (tests/tests/fuzz_regressions.rs). Then each fuzz target for 60 s: compile and site (the
# compiler core only: a build of about 2 minutes of CPU each with the pinned nightly, which
# scripts/fuzz.sh installs with cargo-fuzz; site is built without comparison tracing, in its own
# target directory), and module (an instrumented release build of the runner, wasmtime
# and cranelift: with 16 codegen units instead of cargo-fuzz's one, 7 min 19 s with the 60 s run
# here on 2 cores; the long runs made by hand use one unit, for speed).
step "fuzzing: compile and site, 60 s each (scripts/fuzz.sh)"
bash scripts/fuzz.sh 60 compile site
step "fuzzing: module, ${FUZZ_MODULE_SECONDS:-60} s (scripts/fuzz.sh)"
FUZZ_CODEGEN_UNITS=16 FUZZ_TARGET_DIR="$ROOT/target/fuzz-module" \
  bash scripts/fuzz.sh "${FUZZ_MODULE_SECONDS:-60}" module
step "random valid sites through the daemons: 20 seeds (scripts/random-sites.sh)"
bash scripts/random-sites.sh 20 "$(( $(git rev-list --count HEAD 2>/dev/null || echo 0) * 20 ))"
