#!/usr/bin/env bash
# Tests the JavaScript/TypeScript package (wasm/js):
#   1. scripts/build-js.sh (pkg-web and pkg-node, tools installed when missing, size limit);
#   2. `npm ci` in wasm/js (typescript, pinned by package-lock.json);
#   3. `node --test` on wasm/js/tests/ against the built pkg-node;
#   4. `tsc --noEmit` on usage examples against the generated pkg-node and pkg-web declarations.
# Needs no stdin. Environment: as scripts/build-js.sh, and NPM.
set -euo pipefail
exec </dev/null
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NPM="${NPM:-npm}"

bash "$ROOT/scripts/build-js.sh"

cd "$ROOT/wasm/js"
# npm ci (which deletes and reinstalls node_modules) only when the pinned tsc is missing.
TS_VERSION="$(node -p 'require("./package-lock.json").packages["node_modules/typescript"].version')"
if ! node_modules/.bin/tsc --version 2>/dev/null | grep -qx "Version $TS_VERSION"; then
  "$NPM" ci --no-audit --no-fund >&2
fi

echo "test-js.sh: node --test (pkg-node)" >&2
node --test tests/

echo "test-js.sh: tsc --noEmit (pkg-node and pkg-web declarations)" >&2
node_modules/.bin/tsc --noEmit -p tests/tsconfig.json
echo "test-js.sh: ok" >&2
