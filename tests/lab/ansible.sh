#!/usr/bin/env bash
# The Ansible lab (docs/deploy.md, "Ansible"): the collection svcintent.anycast, installed with
# ansible-galaxy from deploy/ansible, rolls examples/lab out to the netns lab's hosts over SSH
# while the lab client sends requests. Run by scripts/test-ansible.sh inside
# `unshare --mount --net --pid --fork --mount-proc` (as root): every process started here dies
# with that PID namespace, and common.sh's EXIT trap kills them by PID.
#
# Each lab host (common.sh, host.sh) additionally gets, in its own mount namespace:
#   - /usr and /var/lib/dpkg as overlays on the machine's, and a private /var/cache, so that
#     `dpkg -i` of the .deb installs on that host only (the machine's dpkg database and /usr are
#     never written);
#   - sshd on port 22 (host keys, authorized_keys and config under $W/ssh; StrictModes no).
# The controller (ansible-playbook) runs in the client's network namespace, the lab's upstream.
#
# Environment: W, T (an empty tree: every host starts from nothing), VENV (anycast-healthchecker),
# LAB (this directory), ANSIBLE_VENV (ansible-core), DEB (the package), CTL (the package's files
# extracted: the controller's svcintent), REPO (the repository), SITE (examples/lab).
set -euo pipefail
: "${ANSIBLE_VENV:?}" "${DEB:?}" "${CTL:?}" "${REPO:?}" "${SITE:?}"
source "$LAB/common.sh"
T0=$(now)

# ---------------------------------------------------------------------------- hosts, dpkg, sshd
# The machine's dpkg database, reachable below $W in every host's mount namespace (created
# before the hosts' namespaces are, so they inherit the bind).
mkdir -p "$W/dpkg-lower"
mount --bind /var/lib/dpkg "$W/dpkg-lower"
lab_hosts_up

mkdir -p "$W/ssh"
ssh-keygen -q -t ed25519 -N '' -C lab-host -f "$W/ssh/host_ed25519_key"
ssh-keygen -q -t ed25519 -N '' -C lab-controller -f "$W/ssh/id_ed25519"
cp "$W/ssh/id_ed25519.pub" "$W/ssh/authorized_keys"
cat > "$W/ssh/sshd_config" <<EOF
Port 22
HostKey $W/ssh/host_ed25519_key
AuthorizedKeysFile $W/ssh/authorized_keys
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile /run/sshd.pid
Subsystem sftp internal-sftp
EOF
for h in $HOSTS; do
  d=$W/$h
  mkdir -p "$d/usr-up" "$d/usr-work" "$d/dpkg-up" "$d/dpkg-work"
  on "$h" mount -t overlay overlay -o "lowerdir=/usr,upperdir=$d/usr-up,workdir=$d/usr-work" /usr
  on "$h" mkdir -p /var/lib/dpkg
  on "$h" mount -t overlay overlay -o "lowerdir=$W/dpkg-lower,upperdir=$d/dpkg-up,workdir=$d/dpkg-work" /var/lib/dpkg
  on "$h" mount -t tmpfs tmpfs /var/cache
  # A machine that has svcintent installed: this host starts without it all the same.
  if on "$h" dpkg-query -W svcintent >/dev/null 2>&1; then on "$h" dpkg --purge svcintent >/dev/null; fi
  on "$h" test ! -e /usr/bin/svcintent || fail "$h has /usr/bin/svcintent before the rollout"
  on "$h" mkdir -p /run/sshd
  on "$h" /usr/sbin/sshd -f "$W/ssh/sshd_config" -E "/var/log/sshd.log" || fail "sshd does not start on $h"
done

# ---------------------------------------------------------------------------- the controller
# The collection as a user installs it from the repository.
export ANSIBLE_CONFIG=$W/ansible.cfg
mkdir -p "$W/collections" "$W/ansible-home" "$W/cp"
cat > "$ANSIBLE_CONFIG" <<EOF
[defaults]
collections_path = $W/collections
home = $W/ansible-home
local_tmp = $W/ansible-home/tmp
remote_tmp = /run/ansible-tmp
remote_user = root
private_key_file = $W/ssh/id_ed25519
host_key_checking = False
interpreter_python = /usr/bin/python3
forks = 10
timeout = 10
nocolor = True
deprecation_warnings = False
[ssh_connection]
pipelining = True
control_path_dir = $W/cp
ssh_args = -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR
EOF
ctl() { ip netns exec client env PATH="$ANSIBLE_VENV/bin:$CTL/usr/bin:$PATH" PYTHONWARNINGS=ignore "$@"; }
ctl ansible-galaxy collection install --offline "$REPO/deploy/ansible" -p "$W/collections" > "$W/galaxy.log" 2>&1 \
  || { cat "$W/galaxy.log"; fail "ansible-galaxy collection install"; }
echo "ok: $(grep -o 'svcintent.anycast:[^ ]* was installed successfully' "$W/galaxy.log")"

# The inventory: the lab's hosts, their addresses from the topology.
{
  echo "[svcintent]"
  for h in $HOSTS; do echo "$h ansible_host=${V4[$h]}"; done
} > "$W/hosts.ini"

T1=$(now)
out=$(ctl ansible -i "$W/hosts.ini" svcintent -m ansible.builtin.ping -o 2>&1) || { echo "$out"; fail "ansible cannot reach every lab host"; }
n=$(grep -c 'SUCCESS' <<<"$out" || true)
[ "$n" = "$(wc -w <<<"$HOSTS")" ] || { echo "$out"; fail "ansible ping: $n hosts answered"; }
echo "measured: ansible ping over SSH to the $n lab hosts: $(since "$T1") s"

# Each host answers from its own namespaces (its address, its private /run).
out=$(ctl ansible -i "$W/hosts.ini" svcintent -m ansible.builtin.command -a 'ip -4 -o addr show dev eth0' -o 2>&1)
for h in $HOSTS; do
  grep -q "^$h | CHANGED | rc=0 .*inet ${V4[$h]}/15" <<<"$out" || { echo "$out"; fail "$h does not answer from its namespace"; }
done
echo "ok: every host answers over SSH from its own network namespace"

echo "measured: lab with sshd and the controller ready in $(since "$T0") s"

# ---------------------------------------------------------------------------- the package
# The role's package step: installs where svcintent is missing or older, leaves a newer one. Two
# hosts get a repackaged older and newer version first (same files, another Version).
repack() {
  local version=$1 out=$2 dir=$W/repack-$1
  dpkg-deb -R "$DEB" "$dir"
  sed -i "s/^Version: .*/Version: $version/" "$dir/DEBIAN/control"
  dpkg-deb -b "$dir" "$out" >/dev/null
}
NEW_VERSION=$(dpkg-deb -f "$DEB" Version)
repack 0.0.1-1 "$W/svcintent_0.0.1-1_amd64.deb"
repack 99.0.0-1 "$W/svcintent_99.0.0-1_amd64.deb"
on web1 dpkg -i "$W/svcintent_0.0.1-1_amd64.deb" >/dev/null 2>&1
on web2 dpkg -i "$W/svcintent_99.0.0-1_amd64.deb" >/dev/null 2>&1
installed() { on "$1" dpkg-query -W -f '${Version}' svcintent 2>/dev/null || echo none; }

mkdir -p "$W/controller"
ctl svcintent render "$SITE" --out "$W/controller/tree" > /dev/null
GEN=$(sha256sum "$W/controller/tree/manifest.json" | cut -d' ' -f1)
cat > "$W/prepare.yml" <<EOF
- hosts: svcintent
  gather_facts: false
  vars:
    svcintent_tree: $W/controller/tree
    svcintent_generation: "$GEN"
    svcintent_deb: $DEB
  tasks:
    - ansible.builtin.include_role:
        name: svcintent.anycast.deploy
        tasks_from: prepare
EOF
T1=$(now)
ctl ansible-playbook -i "$W/hosts.ini" "$W/prepare.yml" > "$W/prepare1.log" 2>&1 || { cat "$W/prepare1.log"; fail "the prepare play"; }
echo "measured: package + staging on 8 hosts (6 installs, 1 upgrade): $(since "$T1") s"
for h in $HOSTS; do
  want=$NEW_VERSION; [ "$h" = web2 ] && want=99.0.0-1
  [ "$(installed "$h")" = "$want" ] || { cat "$W/prepare1.log"; fail "$h has svcintent $(installed "$h"), want $want"; }
  diff -r "$W/controller/tree/$h" "$W/$h/varlib/svcintent-staging/$GEN/$h" || fail "$h: staged files differ from the tree"
  cmp "$W/controller/tree/manifest.json" "$W/$h/varlib/svcintent-staging/$GEN/manifest.json" || fail "$h: manifest.json not staged"
done
recap() { grep -E "^$1 +: " "$2" | tr -s ' '; }
grep -q 'changed=2 ' <<<"$(recap web1 "$W/prepare1.log")" || { cat "$W/prepare1.log"; fail "web1 (older) was not upgraded with 2 changes"; }
grep -q 'changed=0 ' <<<"$(recap web2 "$W/prepare1.log")" || { cat "$W/prepare1.log"; fail "web2 (newer) was changed"; }
[ ! -e /usr/bin/svcintent ] || fail "the machine's /usr/bin/svcintent exists: a lab install escaped its overlay"
out=$(on lb1 svcintent version | head -1)
[ "$out" = "svcintent ${NEW_VERSION%-*}" ] || fail "lb1: svcintent version says '$out'"
echo "ok: the .deb installed on the 6 hosts without it, upgraded web1's 0.0.1-1, left web2's newer 99.0.0-1; files staged"
T1=$(now)
ctl ansible-playbook -i "$W/hosts.ini" "$W/prepare.yml" > "$W/prepare2.log" 2>&1 || { cat "$W/prepare2.log"; fail "the prepare play, again"; }
n=$(grep -cE '^[a-z0-9]+ +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0' "$W/prepare2.log" || true)
[ "$n" = 8 ] || { cat "$W/prepare2.log"; fail "the second prepare play changed something ($n of 8 hosts unchanged)"; }
echo "measured: package + staging again, nothing to do: $(since "$T1") s, 8 hosts changed=0"
echo ANSIBLE-LAB-OK
