#!/usr/bin/env bash
# Peak memory and call time of `svcintent render --out` on a generated site
# (tests/examples/gensite.rs), in the sandbox and natively. Not a test: it prints numbers for
# docs/performance.md ("The render response, streamed").
#
# Each run renders into a fresh output directory under `/usr/bin/time -v` and with `--stats`,
# and prints one line: the binary, the engine, the peak RSS of the process (Maximum resident
# set size), the call time, the fuel and the module's memory as `--stats` reports them, and the
# wall time. With --before BIN the older binary runs alternately with the new one, run by run,
# so that both see the same load.
#
# Options:
#   --svcintent BIN   the svcintent to measure (default: cargo build --release -p svcintent)
#   --before BIN      an older svcintent to compare with, side by side
#   --gensite BIN     the gensite example (default: cargo build --release -p svcintent-tests
#                     --example gensite)
#   --services N      services in the generated site (default 10000)
#   --hosts N         hosts in the generated site (default 400)
#   --runs N          runs per binary and engine (default 2)
#   --engines LIST    comma-separated, of wasm and native (default wasm,native)
# Environment: CARGO_TARGET_DIR (where the default binaries are), NICE (default 19).
set -euo pipefail
exec </dev/null
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
NEW="" BEFORE="" GENSITE="" SERVICES=10000 HOSTS=400 RUNS=2 ENGINES="wasm,native"
while [ $# -gt 0 ]; do
  case "$1" in
    --svcintent) NEW="$2"; shift 2 ;;
    --before) BEFORE="$2"; shift 2 ;;
    --gensite) GENSITE="$2"; shift 2 ;;
    --services) SERVICES="$2"; shift 2 ;;
    --hosts) HOSTS="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --engines) ENGINES="$2"; shift 2 ;;
    *) echo "bench-render.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
if [ -z "$NEW" ]; then
  cargo build --release -q -p svcintent
  NEW="$TARGET/release/svcintent"
fi
if [ -z "$GENSITE" ]; then
  cargo build --release -q -p svcintent-tests --example gensite
  GENSITE="$TARGET/release/examples/gensite"
fi
[ -x /usr/bin/time ] || { echo "bench-render.sh: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
"$GENSITE" "$WORK/site" "$SERVICES" "$HOSTS" >/dev/null
echo "site: $SERVICES services x $HOSTS hosts; nproc $(nproc); load $(cut -d' ' -f1-3 /proc/loadavg)"

# One render; prints the result line.
run() {
  local label="$1" bin="$2" engine="$3"
  rm -rf "$WORK/out" "$WORK/out.generations"
  local start end
  start=$(date +%s.%N)
  SVCINTENT_CACHE_DIR="$WORK/cache-$label" nice -n "${NICE:-19}" /usr/bin/time -v \
    "$bin" --engine "$engine" --stats render "$WORK/site" --out "$WORK/out" \
    >"$WORK/stdout" 2>"$WORK/stderr" || { cat "$WORK/stderr" >&2; return 1; }
  end=$(date +%s.%N)
  local rss call
  rss=$(awk -F: '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$WORK/stderr")
  call=$(grep '^stats: call' "$WORK/stderr" | head -1 | sed 's/^stats: //')
  printf '%-7s %-6s peak RSS %5s MiB  wall %6.1f s  %s\n' "$label" "$engine" "$rss" \
    "$(echo "$end - $start" | bc)" "$call"
}

# Warm the module caches (the compile is not what is measured).
for pair in "new:$NEW" ${BEFORE:+"before:$BEFORE"}; do
  SVCINTENT_CACHE_DIR="$WORK/cache-${pair%%:*}" "${pair#*:}" lint "$WORK/site" >/dev/null 2>&1 || true
done
for _ in $(seq "$RUNS"); do
  for engine in ${ENGINES//,/ }; do
    [ -n "$BEFORE" ] && run before "$BEFORE" "$engine"
    run new "$NEW" "$engine"
  done
done
