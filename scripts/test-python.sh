#!/usr/bin/env bash
# Tests the Python package (wasm/python, import name `svcintent`) on this machine or a fresh one:
#   1. builds the sandboxed module if needed (scripts/build-wasm.sh: a no-op when up to date);
#   2. creates or reuses a venv (target/python-venv; python3 -m venv, installing Debian's
#      python3-venv first when this Python lacks it and we are root);
#   3. pip installs the test tools pinned in wasm/python/requirements-test.txt and the package
#      itself (`pip install ./wasm/python`, which bundles target/wasm/svcintent.wasm);
#   4. runs pytest (wasm/python/tests) against the installed package, and mypy --strict on the
#      package, its tests and its examples.
# Idempotent; needs no stdin. Environment: PYTHON (interpreter for the venv, default python3),
# SVCINTENT_PY_VENV (venv directory).
set -euo pipefail
exec </dev/null
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PKG="$ROOT/wasm/python"
VENV="${SVCINTENT_PY_VENV:-$ROOT/target/python-venv}"
PYTHON="${PYTHON:-python3}"

step() { printf '\n==> %s\n' "$*"; }

step "building the sandboxed module"
bash scripts/build-wasm.sh --quiet

step "Python venv ($VENV)"
apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "test-python.sh: installing $* (apt)" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  else
    echo "test-python.sh: need $* (apt-get install $*), or set PYTHON=/path/to/python3.10+" >&2
    exit 1
  fi
}
command -v "$PYTHON" >/dev/null || apt_install python3 python3-venv
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
  echo "test-python.sh: $PYTHON is $("$PYTHON" --version 2>&1); the package needs Python 3.10 or later" >&2
  exit 1
}
if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  rm -rf "$VENV"
  "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1 || apt_install python3-venv
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check --no-input)

step "installing the test tools and the package"
"${PIP[@]}" install --quiet -r "$PKG/requirements-test.txt"
# A path install always rebuilds and reinstalls: the package gets the module built above.
"${PIP[@]}" install --quiet "$PKG"
"$VENV/bin/python" - "$ROOT/target/wasm/svcintent.wasm" <<'PY'
import hashlib, importlib.resources, sys
bundled = importlib.resources.files("svcintent").joinpath("svcintent.wasm").read_bytes()
built = open(sys.argv[1], "rb").read()
assert bundled == built, "the installed package does not carry target/wasm/svcintent.wasm"
print(f"installed svcintent bundles the module, sha256 {hashlib.sha256(bundled).hexdigest()}")
PY

step "pytest (wasm/python/tests)"
cd "$PKG"
"$VENV/bin/python" -m pytest -p no:cacheprovider tests

step "mypy --strict (package, tests, examples)"
"$VENV/bin/python" -m mypy --strict --cache-dir "$ROOT/target/python-mypy-cache" src/svcintent tests examples
