#!/usr/bin/env bash
# Tests the Ansible collection svcintent.anycast (deploy/ansible, docs/deploy.md "Ansible"):
#   1. ansible-core, pinned, in a venv ($TARGET/ansible-venv; pip runs only when the pinned
#      version is missing);
#   2. `ansible-test sanity` on the collection, every test that applies (its venvs and caches in
#      $TARGET/ansible-test/home; the get-pip bootstrap it would download from outside the
#      package registries is replaced by deploy/tests/get-pip-offline.py);
#   3. unless --sanity-only: the playbook against the netns lab (tests/lab/ansible.sh) with the
#      .deb of scripts/build-deb.sh (--deb FILE, else built here), sshd in every lab host, the
#      lab client sending requests through every scenario; then deploy/salt's state with
#      salt-call (salt, pinned, in $TARGET/salt-venv) on one lab host.
# Needs root for 3 (namespaces, sshd).
# Usage: scripts/test-ansible.sh [--sanity-only | --skip-sanity] [--deb FILE]
set -euo pipefail
exec </dev/null
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ANSIBLE_CORE_VERSION=2.19.14
SALT_VERSION=3008.4
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
VENV="$TARGET/ansible-venv"
SANITY_ONLY=0
SKIP_SANITY=0
DEB=""
while [ $# -gt 0 ]; do
  case "$1" in
    --sanity-only) SANITY_ONLY=1; shift ;;
    --skip-sanity) SKIP_SANITY=1; shift ;;
    --deb) DEB="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "test-ansible.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
say() { echo "test-ansible.sh: $*"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }'; }

# 1. ansible-core. Debian's interpreter: the lab hosts run modules with /usr/bin/python3 too.
T0=$(now)
if [ "$("$VENV/bin/ansible" --version 2>/dev/null | sed -n '1s/.*\[core \(.*\)\]/\1/p')" != "$ANSIBLE_CORE_VERSION" ]; then
  say "installing ansible-core $ANSIBLE_CORE_VERSION into $VENV"
  /usr/bin/python3 -m venv --clear "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "ansible-core==$ANSIBLE_CORE_VERSION"
fi
export PATH="$VENV/bin:$PATH"
export PYTHONWARNINGS="ignore::DeprecationWarning"
say "$(ansible --version 2>/dev/null | head -1) ($(since "$T0") s)"

# 2. ansible-test sanity, in a copy laid out as ansible_collections/NAMESPACE/NAME.
T0=$(now)
if [ "$SKIP_SANITY" = 0 ]; then
SANITY="$TARGET/ansible-test"
COLL="$SANITY/ansible_collections/svcintent/anycast"
rm -rf "$SANITY/ansible_collections"
mkdir -p "$COLL" "$SANITY/home/.ansible/test/cache"
cp -a deploy/ansible/. "$COLL/"
# ansible-test 2.19 bootstraps pip 24.2 (python_requirements.get_venv_packages).
cp deploy/tests/get-pip-offline.py "$SANITY/home/.ansible/test/cache/get_pip_24_2.py"
# ansible-test lists a collection's files with git when it lies inside a git work tree: the copy
# under target/ (ignored by the repository's .gitignore) would show no files and every test
# would be skipped. The copy is made a repository of its own, its files in the index.
# ansible-test writes its venvs and results under tests/output/, which the index must not list.
printf 'tests/output/\n' > "$COLL/.gitignore"
git -C "$COLL" init -q
git -C "$COLL" add -A
(
  cd "$COLL"
  HOME="$SANITY/home" ansible-test sanity --venv --python 3.11 --color no
) > "$SANITY/sanity.log" 2>&1 || { cat "$SANITY/sanity.log"; say "FAIL: ansible-test sanity"; exit 1; }
grep -E '^Running sanity test' "$SANITY/sanity.log" | sed 's/^/  /'
n=$(grep -c '^Running sanity test' "$SANITY/sanity.log" || true)
[ "$n" -ge 20 ] || { cat "$SANITY/sanity.log"; say "FAIL: only $n sanity tests ran"; exit 1; }
say "ansible-test sanity: $n tests passed ($(since "$T0") s)"
fi

[ "$SANITY_ONLY" = 0 ] || exit 0

# 3. The playbook against the netns lab.
[ "$(id -u)" = 0 ] || { say "FAIL: the lab needs root"; exit 1; }
T0=$(now)
if [ -z "$DEB" ]; then DEB=$(bash scripts/build-deb.sh | tail -1); fi
DEB=$(realpath "$DEB")
say "package $(basename "$DEB") ($(since "$T0") s)"
bash .ci/install-daemons.sh >/dev/null
command -v sshd >/dev/null || [ -x /usr/sbin/sshd ] || {
  say "installing openssh-server (sshd for the lab hosts)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null
}
# Salt, for deploy/salt's state (run with salt-call in the lab after the Ansible scenarios).
SALT_VENV="$TARGET/salt-venv"
T1=$(now)
if [ "$("$SALT_VENV/bin/salt-call" --version 2>/dev/null | awk '{print $2}')" != "$SALT_VERSION" ]; then
  say "installing salt $SALT_VERSION into $SALT_VENV"
  /usr/bin/python3 -m venv --clear "$SALT_VENV"
  "$SALT_VENV/bin/pip" install --quiet --disable-pip-version-check "salt==$SALT_VERSION"
fi
say "salt-call $("$SALT_VENV/bin/salt-call" --version 2>/dev/null | awk '{print $2}') ($(since "$T1") s)"
W=$(mktemp -d /tmp/svcintent-ansible-lab.XXXXXX)
trap 'if [ "${KEEP:-0}" = 1 ]; then echo "kept $W"; else rm -rf "$W"; fi' EXIT
mkdir -p "$W/empty-tree" "$W/ctl" "$W/lab"
dpkg-deb -x "$DEB" "$W/ctl"
T0=$(now)
rc=0
timeout -k 5 900 unshare --mount --net --pid --fork --mount-proc -- \
  env W="$W/lab" T="$W/empty-tree" VENV="${SVCINTENT_HEALTHCHECKER:-/opt/svcintent-venv}" LAB="$ROOT/tests/lab" \
  ANSIBLE_VENV="$VENV" SALT_VENV="$SALT_VENV" DEB="$DEB" CTL="$W/ctl" REPO="$ROOT" SITE="$ROOT/examples/lab" \
  bash "$ROOT/tests/lab/ansible.sh" > "$W/lab.log" 2>&1 || rc=$?
cat "$W/lab.log"
if [ $rc != 0 ] || ! grep -q '^ANSIBLE-LAB-OK$' "$W/lab.log"; then
  say "FAIL: the Ansible lab (exit $rc)"
  exit 1
fi
say "the Ansible lab passed ($(since "$T0") s)"
