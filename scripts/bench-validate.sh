#!/usr/bin/env bash
# Times `svcintent validate` on a generated site (tests/examples/gensite.rs: 1000 services x 200
# hosts by default), rendered with `svcintent render --out`. Not a test: it prints numbers for
# docs/performance.md ("validate of a large tree").
#
# What it runs, each --runs times (default 5), reporting the median and the range of the wall
# time and of the CPU time (user + sys of the whole process tree, which the machine's other
# load disturbs less than the wall time):
#
#   cold      validate OUT                              no result cache
#   filled    validate OUT --cache EMPTY                no cache yet: every check runs and is stored
#   warm      validate OUT --cache FULL                 nothing changed since the cache was filled
#   changed   validate OUT2 --cache FULL                OUT2: the site with one service's server
#                                                       name changed (a one-service CI re-run)
#   DAEMON    validate OUT --daemon DAEMON              with --per-daemon, cold, each daemon alone
#
# With --before BIN (an older `svcintent`, e.g. a release build of main), `cold` and the
# per-daemon runs are also timed with BIN, alternating with the new binary run by run, so both
# see the same load; BIN gets no --cache (older builds have none).
#
# Options:
#   --svcintent BIN   the svcintent to time (default: cargo build --release -p svcintent)
#   --before BIN      an older svcintent to compare with, side by side
#   --gensite BIN     the gensite example (default: cargo build --release -p svcintent-tests
#                     --example gensite)
#   --services N      services in the generated site (default 1000)
#   --hosts N         hosts in the generated site (default 200)
#   --runs N          runs per measurement (default 5)
#   --jobs N          validate --jobs N (default: validate's own default, one per CPU)
#   --per-daemon      also time each daemon alone
#   --work DIR        scratch folder (default $CARGO_TARGET_DIR/bench-validate or
#                     target/bench-validate); the sandboxes go to DIR/tmp
#
# Run it under `nice -n 19` on a shared machine, and say what else ran when quoting it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
SVCINTENT=""
BEFORE=""
GENSITE=""
SERVICES=1000
HOSTS=200
RUNS=5
JOBS=""
PER_DAEMON=0
WORK="$TARGET/bench-validate"

while [ $# -gt 0 ]; do
    case "$1" in
        --svcintent) SVCINTENT="$2"; shift 2 ;;
        --before) BEFORE="$2"; shift 2 ;;
        --gensite) GENSITE="$2"; shift 2 ;;
        --services) SERVICES="$2"; shift 2 ;;
        --hosts) HOSTS="$2"; shift 2 ;;
        --runs) RUNS="$2"; shift 2 ;;
        --jobs) JOBS="$2"; shift 2 ;;
        --per-daemon) PER_DAEMON=1; shift ;;
        --work) WORK="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench-validate: unknown option $1" >&2; exit 2 ;;
    esac
done

if [ -z "$SVCINTENT" ]; then
    (cd "$ROOT" && cargo build --release -p svcintent >&2)
    SVCINTENT="$TARGET/release/svcintent"
fi
if [ -z "$GENSITE" ]; then
    (cd "$ROOT" && cargo build --release -p svcintent-tests --example gensite >&2)
    GENSITE="$TARGET/release/examples/gensite"
fi
for bin in "$SVCINTENT" "$GENSITE" ${BEFORE:+"$BEFORE"}; do
    [ -x "$bin" ] || { echo "bench-validate: $bin is not an executable" >&2; exit 2; }
done

# Our own temporary folder: the sandboxes of other validate runs on the machine stay apart.
mkdir -p "$WORK/tmp"
export TMPDIR="$WORK/tmp"
JOB_ARGS=()
[ -n "$JOBS" ] && JOB_ARGS=(--jobs "$JOBS")

echo "machine: $(nproc) CPU(s), $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1), $(uname -r)"
echo "load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "svcintent: $SVCINTENT ($("$SVCINTENT" version | head -1))"
[ -n "$BEFORE" ] && echo "before:    $BEFORE"

SITE="$WORK/site"
SITE2="$WORK/site-changed"
OUT="$WORK/out"
OUT2="$WORK/out-changed"
rm -rf "$SITE" "$SITE2" "$OUT" "$OUT2" "$WORK/out.gen" "$WORK/out-changed.gen"
"$GENSITE" "$SITE" "$SERVICES" "$HOSTS"
cp -r "$SITE" "$SITE2"
# One service's server name: its Apache vhosts, HAProxy sections and Icinga2 checks change.
part="$(grep -l '\bsvc0\.example\.edu' "$SITE2"/services/*.yaml | head -1)"
sed -i '0,/svc0\.example\.edu/s//svc0-renamed.example.edu/' "$part"
"$SVCINTENT" render "$SITE" --out "$OUT" >/dev/null
"$SVCINTENT" render "$SITE2" --out "$OUT2" >/dev/null
echo "tree: $(find -L "$OUT" -type f | wc -l) files in $(find -L "$OUT" -mindepth 1 -maxdepth 1 -type d | wc -l) hosts; changed tree differs in $(diff -rq "$OUT/" "$OUT2/" | wc -l) files"
echo

TIMES="$WORK/times"
rm -rf "$TIMES"
mkdir -p "$TIMES"

# run NAME CMD...: times one run, appends "wall cpu" to $TIMES/NAME; a failing validate stops
# the bench (its output is shown).
run() {
    local name="$1"
    shift
    if ! /usr/bin/time -f "%e %U %S" -o "$TIMES/.one" "$@" >"$TIMES/.out" 2>&1; then
        echo "bench-validate: failed: $*" >&2
        tail -20 "$TIMES/.out" >&2
        exit 1
    fi
    awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$TIMES/.one" >>"$TIMES/$name"
}

# stat NAME COLUMN: "median (min-max)" of a column (1 wall, 2 cpu).
stat() {
    sort -n -k"$2","$2" "$TIMES/$1" | awk -v c="$2" '
        { v[NR] = $c }
        END {
            m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
            printf "%.2f s (%.2f-%.2f)", m, v[1], v[NR]
        }'
}

FULL="$WORK/cache-full"
rm -rf "$FULL"
"$SVCINTENT" validate "$OUT" --cache "$FULL" "${JOB_ARGS[@]}" >/dev/null

DAEMONS=(haproxy bird nftables icinga2 apache healthchecker)
for i in $(seq "$RUNS"); do
    echo "run $i/$RUNS (load $(cut -d' ' -f1 /proc/loadavg))" >&2
    [ -n "$BEFORE" ] && run before-cold "$BEFORE" validate "$OUT" "${JOB_ARGS[@]}"
    run cold "$SVCINTENT" validate "$OUT" "${JOB_ARGS[@]}"
    rm -rf "$WORK/cache-empty"
    run filled "$SVCINTENT" validate "$OUT" --cache "$WORK/cache-empty" "${JOB_ARGS[@]}"
    run warm "$SVCINTENT" validate "$OUT" --cache "$FULL" "${JOB_ARGS[@]}"
    rm -rf "$WORK/cache-copy"
    cp -r "$FULL" "$WORK/cache-copy"
    run changed "$SVCINTENT" validate "$OUT2" --cache "$WORK/cache-copy" "${JOB_ARGS[@]}"
    if [ "$PER_DAEMON" = 1 ]; then
        for d in "${DAEMONS[@]}"; do
            [ -n "$BEFORE" ] && run "before-$d" "$BEFORE" validate "$OUT" --daemon "$d" "${JOB_ARGS[@]}"
            run "$d" "$SVCINTENT" validate "$OUT" --daemon "$d" "${JOB_ARGS[@]}"
        done
    fi
done

"$SVCINTENT" --stats validate "$OUT2" --cache "$FULL" "${JOB_ARGS[@]}" 2>&1 >/dev/null | sed -n 's/^stats: validate: /changed tree, warm cache: /p'
echo "load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| what | wall, median (range) | CPU user+sys, median (range) |"
echo "|---|---|---|"
names=()
[ -n "$BEFORE" ] && names+=(before-cold)
names+=(cold filled warm changed)
if [ "$PER_DAEMON" = 1 ]; then
    for d in "${DAEMONS[@]}"; do
        [ -n "$BEFORE" ] && names+=("before-$d")
        names+=("$d")
    done
fi
for name in "${names[@]}"; do
    echo "| $name | $(stat "$name" 1) | $(stat "$name" 2) |"
done
