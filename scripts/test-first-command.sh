#!/usr/bin/env bash
# The README's first command works on a fresh machine: in a clean clone of this repository's HEAD,
# with the toolchain's wasm32-unknown-unknown target removed and rustup's automatic installs off
# (RUSTUP_AUTO_INSTALL=0, as on a machine whose toolchain came without the target), run exactly
# the first command of the README's "The two commands" block and check the tree it writes
# (manifest.json and a folder per host of the manifest). host-runner/build.rs must add the target
# itself. The target is put back at the end whatever happens (trap).
#
# The clone builds into this repository's CARGO_TARGET_DIR (default: target/), so dependencies
# are not rebuilt; the workspace's own crates are (another path), which takes a few minutes.
#
# It changes the toolchain for everything on the machine while it runs: run it alone (CI runs it
# from scripts/test-all.sh), or point RUSTUP_HOME at a copy of the rustup home.
set -euo pipefail
exec </dev/null
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TARGET=wasm32-unknown-unknown
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
say() { echo "test-first-command.sh: $*" >&2; }

# The command, read from the README: the first line of the first ```sh block that is not a
# comment.
COMMAND="$(awk '/^```sh$/ { inside = 1; next } inside && /^```/ { exit } inside && !/^#/ && NF { print; exit }' "$ROOT/README.md")"
case "$COMMAND" in
  "cargo run -p svcintent -- render --out out/campus") ;;
  *) say "the README's first command is now: $COMMAND (update this script's check of its output)"; exit 1 ;;
esac

WORK="$(mktemp -d)"
CLONE="$WORK/svcintent"
git clone --quiet --no-local "$ROOT" "$CLONE"
git -C "$CLONE" checkout --quiet --detach "$(git -C "$ROOT" rev-parse HEAD)"
cd "$CLONE"
# The toolchain the clone selects (rust-toolchain.toml), by its full name.
TOOLCHAIN="$(rustup show active-toolchain | cut -d' ' -f1)"
restore() {
  local status=$?
  rustup target add --toolchain "$TOOLCHAIN" "$TARGET" >/dev/null 2>&1 ||
    say "WARNING: could not put $TARGET back: run \`rustup target add --toolchain $TOOLCHAIN $TARGET\`"
  rm -rf "$WORK"
  exit "$status"
}
trap restore EXIT
trap 'exit 130' INT TERM

rustup target remove --toolchain "$TOOLCHAIN" "$TARGET" >/dev/null 2>&1 || true
if rustup target list --toolchain "$TOOLCHAIN" --installed | grep -qx "$TARGET"; then
  say "could not remove $TARGET from $TOOLCHAIN"
  exit 1
fi
say "$TARGET removed from $TOOLCHAIN; running in a clean clone: $COMMAND"

START=$SECONDS
LOG="$WORK/first-command.log"
if ! RUSTUP_AUTO_INSTALL=0 bash -c "$COMMAND" >"$LOG" 2>&1; then
  cat "$LOG" >&2
  say "FAILED: the README's first command failed on a toolchain without $TARGET"
  exit 1
fi
ELAPSED=$((SECONDS - START))

# The build script said what it did.
grep -q "added the $TARGET target" "$LOG" || {
  cat "$LOG" >&2
  say "FAILED: the build did not report adding $TARGET"
  exit 1
}
# The tree: manifest.json, and a folder for every host it lists.
OUT="$CLONE/out/campus"
[ -f "$OUT/manifest.json" ] || { say "FAILED: no $OUT/manifest.json"; exit 1; }
python3 - "$OUT" <<'EOF'
import json, os, sys
out = sys.argv[1]
manifest = json.load(open(os.path.join(out, "manifest.json")))
hosts = sorted({f["host"] for f in manifest["files"]})
missing = [h for h in hosts if not os.path.isdir(os.path.join(out, h))]
if len(hosts) < 2 or missing:
    sys.exit(f"test-first-command.sh: FAILED: hosts {hosts}, missing folders {missing}")
print(f"test-first-command.sh: {len(hosts)} host folders and manifest.json in {out}", file=sys.stderr)
EOF
say "ok: the README's first command worked from a clean clone without $TARGET (${ELAPSED}s)"
