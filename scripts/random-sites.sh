#!/usr/bin/env bash
# Random valid sites through every real daemon (docs/reliability.md):
#
#   scripts/random-sites.sh N [FIRST]      seeds FIRST..FIRST+N-1 (FIRST defaults to 0)
#
# Each seed's site (tests/src/random_site.rs) must lint without errors (SI051 warnings aside),
# `svcintent render SITE --out TREE`, pass the consistency checks (tests/src/tree_checks.rs:
# VIP bound = announced = exported = allowed = filtered in = monitored) and
# `svcintent validate TREE` (every daemon's own check, warnings fatal). Prints one line per
# seed and a summary; exits 1 when any seed failed. Reproduce a seed by hand with
#   SVCINTENT_WRITE_SEED=S SVCINTENT_WRITE_DIR=/tmp/s cargo test -p svcintent-tests --test random_sites write_seed
# Needs the daemons (.ci/install-daemons.sh).
set -euo pipefail
exec </dev/null
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
N="${1:?usage: scripts/random-sites.sh N [FIRST]}"
FIRST="${2:-0}"
cargo build --locked -p svcintent --quiet
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/svcintent"
SVCINTENT_BIN="$BIN" SVCINTENT_RANDOM_SITES="$N" SVCINTENT_RANDOM_FIRST="$FIRST" \
  cargo test --locked -p svcintent-tests --test random_sites_daemons -- --nocapture random_sites_pass_every_daemon
