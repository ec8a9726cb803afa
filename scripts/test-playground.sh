#!/usr/bin/env bash
# Builds and tests the browser playground (playground/, docs/playground.md):
#   1. Debian's chromium, installed with apt when missing (the e2e tests drive it headless);
#   2. scripts/build-js.sh --web-only -> wasm/js/pkg-web (the compiler as a wasm-bindgen package);
#   3. npm ci, npm run build -> playground/dist (static, relative paths);
#   4. the end-to-end tests (node --test) against dist/ on a loopback server.
# Idempotent; fails when any step fails. Screenshots land in playground/test-results/.
#
# Options: --skip-js  reuse an existing wasm/js/pkg-web (do not run build-js.sh)
# Environment: CHROMIUM (default /usr/bin/chromium), NPM (default npm).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_JS=1
while [ $# -gt 0 ]; do
  case "$1" in
    --skip-js) BUILD_JS=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "test-playground.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
say() { echo "test-playground.sh: $*" >&2; }

CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if ! [ -x "$CHROMIUM" ]; then
  [ "$(id -u)" = 0 ] || { say "chromium is missing and only root can apt-get install it"; exit 1; }
  say "installing chromium (apt)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
"$CHROMIUM" --version >&2

if [ "$BUILD_JS" = 1 ]; then
  "$ROOT/scripts/build-js.sh" --web-only
fi
[ -f "$ROOT/wasm/js/pkg-web/svcintent.js" ] || { say "wasm/js/pkg-web is missing: run scripts/build-js.sh"; exit 1; }

cd "$ROOT/playground"
NPM="${NPM:-npm}"
"$NPM" ci --no-audit --no-fund --loglevel=error
"$NPM" run build
CHROMIUM="$CHROMIUM" node --test --test-concurrency=1 tests/
