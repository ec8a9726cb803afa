#!/usr/bin/env bash
# Tests the `language: rust` hook of .pre-commit-hooks.yaml through pre-commit itself:
#   1. creates or reuses a venv with pre-commit (target/pre-commit-venv, version pinned below);
#   2. makes a scratch git repository holding a copy of examples/campus and runs
#        pre-commit try-repo <this repository> svcintent-lint --files <the site's files>
#      pre-commit clones this repository (uncommitted changes included), builds the hook with
#      `cargo install --bins --path .` (the root package, binary `svcintent-pre-commit`) and
#      runs it: the clean site must pass;
#   3. puts an unknown host into one file: the hook must fail, naming SI020 at file:line:col.
# pre-commit's cache (PRE_COMMIT_HOME) is made afresh each run, so the build is always tested;
# the build shares this repository's cargo target dir ($CARGO_TARGET_DIR, default target/).
# Idempotent; needs no stdin. Environment: PYTHON, CARGO_TARGET_DIR.
set -euo pipefail
exec </dev/null
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PRE_COMMIT_VERSION=4.7.0
VENV="$ROOT/target/pre-commit-venv"
PYTHON="${PYTHON:-python3}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"

step() { printf '\n==> %s\n' "$*"; }
fail() { echo "test-pre-commit.sh: FAIL: $*" >&2; exit 1; }

step "pre-commit $PRE_COMMIT_VERSION ($VENV)"
if ! "$VENV/bin/pre-commit" --version 2>/dev/null | grep -qx "pre-commit $PRE_COMMIT_VERSION"; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip --disable-pip-version-check --no-input install --quiet \
    "pre-commit==$PRE_COMMIT_VERSION"
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export PRE_COMMIT_HOME="$WORK/cache"
SITE_REPO="$WORK/repo"
mkdir -p "$SITE_REPO/sites"
cp -r "$ROOT/examples/campus" "$SITE_REPO/sites/campus"
git -C "$SITE_REPO" init -q
git -C "$SITE_REPO" add -A
git -C "$SITE_REPO" -c user.name=test -c user.email=test@invalid commit -qm site

run_hook() { # files...; prints pre-commit's output, returns its exit code
  (cd "$SITE_REPO" && "$VENV/bin/pre-commit" try-repo "$ROOT" svcintent-lint --color never --files "$@")
}

step "the hook on a clean site (builds the hook: a few minutes the first time)"
if ! out="$(run_hook sites/campus/services/web.yaml sites/campus/hosts.yaml 2>&1)"; then
  echo "$out"
  fail "the hook failed on examples/campus, which lints clean"
fi
echo "$out" | grep -q "svcintent lint.*Passed" || { echo "$out"; fail "the hook did not report Passed"; }
echo "ok: clean site passes"

step "the hook on a site with an unknown host"
sed -i '6s/web4/web9/' "$SITE_REPO/sites/campus/services/web.yaml"
grep -q 'web9' "$SITE_REPO/sites/campus/services/web.yaml" || fail "the test could not break the site"
if out="$(run_hook sites/campus/services/web.yaml 2>&1)"; then
  echo "$out"
  fail "the hook passed a site with an unknown host"
fi
for expected in "svcintent lint.*Failed" "error\[SI020\]: unknown host \`web9\`" "sites/campus/services/web.yaml:6:34"; do
  echo "$out" | grep -q "$expected" || { echo "$out"; fail "the hook's output lacks /$expected/"; }
done
echo "ok: the broken site fails with SI020 at web.yaml:6:34"
