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
# LAB (this directory), ANSIBLE_VENV (ansible-core), SALT_VENV (salt), DEB (the package), CTL (the
# package's files extracted: the controller's svcintent), REPO (the repository), SITE (examples/lab).
set -euo pipefail
: "${ANSIBLE_VENV:?}" "${SALT_VENV:?}" "${DEB:?}" "${CTL:?}" "${REPO:?}" "${SITE:?}"
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

# ---------------------------------------------------------------------------- scenarios (a)-(f)
# They need `svcintent apply` and `svcintent rollout` (issue #13) in the package: without them
# this fails here rather than pass without running.
if ! on lb1 svcintent apply --help >/dev/null 2>&1; then
  echo "FAIL: the packaged svcintent has no 'apply' command (issue #13): scenarios (a)-(f) cannot run"
  exit 1   # (no state dump: nothing has run yet)
fi

# The operator's working copy of the site; the inventory plugin renders it into the controller's
# tree on every run (so inventory and rollout see the same generation). A lab host has no init
# system: examples/lab's site.deploy restarts anycast-healthchecker with /run/lab/ahc-restart
# (installed here in each host's private /run, as tests/lab/deploy.sh does) and reloads Icinga2
# with Debian's safe-reload; everything else is Debian's default.
cp -r "$SITE" "$W/site"
grep -q 'healthchecker_restart: \[/run/lab/ahc-restart\]' "$W/site/site.yaml" \
  || fail "examples/lab/site.yaml does not restart anycast-healthchecker with /run/lab/ahc-restart"
for h in $HOSTS; do
  mkdir -p "$W/$h/run/lab"
  sed "s|@VENV@|$VENV|" "$LAB/ahc-restart" > "$W/$h/run/lab/ahc-restart"
  chmod +x "$W/$h/run/lab/ahc-restart"
done

# What runs on a Debian host before svcintent: the packages' daemons with their own default
# configurations (apply reloads them; it does not start them): BIRD, HAProxy in master-worker
# mode with its master CLI, Apache, Icinga2.
for h in rr1 lb1 lb2 dns1 dns2; do
  on "$h" bird -c /etc/bird/bird.conf -P /run/bird/bird.pid || fail "Debian's BIRD does not start on $h"
done
for h in lb1 lb2; do
  on "$h" haproxy -W -D -S /run/haproxy-master.sock -f /etc/haproxy/haproxy.cfg -p /run/haproxy.pid \
    || fail "Debian's HAProxy does not start on $h"
done
for h in web1 web2; do on "$h" apache2ctl start || fail "Debian's Apache does not start on $h"; done
on mon1 sh -c 'mkdir -p /var/lib/icinga2 /var/cache/icinga2 /var/log/icinga2 /run/icinga2/cmd &&
  chown -R nagios:nagios /var/lib/icinga2 /var/cache/icinga2 /var/log/icinga2 /run/icinga2 &&
  icinga2 daemon -d > /var/log/icinga2/start.log 2>&1' || { on mon1 cat /var/log/icinga2/start.log; fail "Debian's Icinga2 does not start on mon1"; }
cat > "$W/controller/lab.svcintent.yml" <<EOF
plugin: svcintent.anycast.svcintent
site: ../site
tree: tree
EOF
export ANSIBLE_CALLBACK_PLUGINS=$REPO/deploy/tests/callback_plugins ANSIBLE_CALLBACKS_ENABLED=svcintent_timeline
# deploy NAME [ansible-playbook options]: the playbook, its log in $W/NAME.log, its timeline
# (deploy/tests/timeline.py) in $W/NAME.tl; returns ansible-playbook's exit code.
deploy() {
  local name=$1 rc=0; shift
  rm -f "$W/$name.timeline"
  SVCINTENT_TIMELINE=$W/$name.timeline ctl ansible-playbook -i "$W/controller/lab.svcintent.yml" \
    svcintent.anycast.deploy -e "svcintent_deb=$DEB" "$@" > "$W/$name.log" 2>&1 || rc=$?
  "$PY" "$REPO/deploy/tests/timeline.py" "$W/$name.timeline" > "$W/$name.tl"
  return $rc
}
# What a host runs: its state file and the sha256 of every file it has installed.
host_state() {
  echo "== $1 $(on "$1" sha256sum /var/lib/svcintent/state.json 2>/dev/null | cut -d' ' -f1)"
  on "$1" sh -c 'for f in $(python3 -c "import json; print(\" \".join(f[\"path\"] for f in json.load(open(\"/var/lib/svcintent/state.json\"))[\"files\"]))" 2>/dev/null); do sha256sum "$f"; done'
}
snapshot() { local h; for h in $HOSTS; do host_state "$h"; done; }
# check_plan NAME: the apply batches ran in the plan's order, every planned host changed, every
# other host ran apply --check and reported ok.
check_plan() {
  local name=$1 planned
  grep -q '^ORDER ok$' "$W/$name.tl" || { cat "$W/$name.tl"; fail "$name: the batches did not run in the plan's order"; }
  planned=$(sed -n 's/^PLAN //p' "$W/$name.tl" | "$PY" -c 'import json,sys; print(" ".join(h for b in json.load(sys.stdin) for h in b))')
  for h in $HOSTS; do
    line=$(grep "^APPLY $h " "$W/$name.tl") || { cat "$W/$name.tl"; fail "$name: $h never ran svcintent apply"; }
    case " $planned " in
      *" $h "*) [ "$(cut -d' ' -f3,4 <<<"$line")" = "ok True" ] || { cat "$W/$name.log"; fail "$name: planned $h did not report changed: $line"; } ;;
      *) [ "$(cut -d' ' -f3,4 <<<"$line")" = "ok False" ] || { cat "$W/$name.log"; fail "$name: unplanned $h did not report ok: $line"; } ;;
    esac
  done
  echo "measured: $name: $(sed -n 's/^BATCH \([0-9]*\) \([0-9.]*\) \(.*\)/batch \1 (\3) \2 s;/p' "$W/$name.tl" | tr '\n' ' ')playbook $(sed -n 's/^TOTAL //p' "$W/$name.tl") s"
}

# The inventory the plugin makes from the site: hosts, roles as groups, addresses.
inv=$(ctl ansible-inventory -i "$W/controller/lab.svcintent.yml" --list 2>"$W/inventory.err") || { cat "$W/inventory.err"; fail "ansible-inventory"; }
"$PY" - "$inv" <<'EOF' || { cat "$W/inventory.err"; fail "the inventory made from the site is not the lab's"; }
import json, sys
# ansible-inventory marks strings from a plugin as unsafe (never templated): {"__ansible_unsafe": s}.
unwrap = lambda d: d.get("__ansible_unsafe", d) if isinstance(d, dict) and len(d) == 1 else d
inv = json.loads(sys.argv[1], object_hook=unwrap)
want = {"balancer": ["lb1", "lb2"], "route_reflector": ["rr1"], "web": ["web1", "web2"],
        "anycast_node": ["dns1", "dns2"], "monitoring": ["mon1"],
        "svcintent": ["dns1", "dns2", "lb1", "lb2", "mon1", "rr1", "web1", "web2"]}
for group, hosts in want.items():
    got = sorted(inv.get(group, {}).get("hosts", []))
    assert got == hosts, (group, got)
hostvars = inv["_meta"]["hostvars"]
assert hostvars["lb1"]["ansible_host"] == "198.18.1.1", hostvars["lb1"]
assert hostvars["rr1"]["svcintent_ipv6"] == "2001:db8:ff::1", hostvars["rr1"]
assert hostvars["lb2"]["svcintent_roles"] == ["balancer"], hostvars["lb2"]
EOF
echo "ok: the inventory plugin: 8 hosts, a group per role, ansible_host from ipv4, svcintent_* host variables"

# (a) First deployment, from nothing: every host changed, in the plan's batches.
deploy a-first || { cat "$W/a-first.log"; fail "(a) the first deployment failed"; }
check_plan a-first
for h in $HOSTS; do on "$h" test -f /var/lib/svcintent/state.json || fail "(a) $h has no state.json"; done
echo "ok: (a) first deployment: $(sed -n 's/^PLAN //p' "$W/a-first.tl")"

# The daemons, started as lab.sh starts them, where the first apply left them stopped (a lab host
# has no init system; on a real host the packages' units run them).
running() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
for h in web1 web2; do
  for s in www shop; do on "$h" mkdir -p "/srv/www/$s"; on "$h" sh -c "echo '$s $h' > /srv/www/$s/index.html"; done
  running "$W/$h/run/apache2/apache2.pid" || {
    on "$h" sh -c 'a2enconf -q svcintent && a2ensite -q svcintent-www svcintent-shop && a2dissite -q 000-default' >/dev/null
    on "$h" apache2ctl start || fail "apache2 does not start on $h"
  }
done
for h in dns1 dns2; do
  on "$h" dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --pid-file=/run/dnsmasq.pid \
    --local=/lab.example/ --host-record=www.lab.example,192.0.2.10 --log-facility=/var/log/dnsmasq.log
done
for h in lb1 lb2; do running "$W/$h/run/haproxy.pid" || start_haproxy "$h" || fail "haproxy does not start on $h"; done
for h in rr1 lb1 lb2 dns1 dns2; do running "$W/$h/run/bird/bird.pid" || start_bird "$h" || fail "bird does not start on $h"; done
ip netns exec client bird -c "$W/client.conf" -s "$W/client.ctl" -P "$W/client.pid"
for h in lb1 lb2 dns1 dns2; do
  running "$W/$h/run/anycast-healthchecker/anycast-healthchecker.pid" || start_ahc "$h"
done
for v in $WEB_VIPS; do wait_routes -4 "$v" "$LBS4" 30; done
for v in $WEB_VIPS6; do wait_routes -6 "$v" "$LBS6" 30; done
out=$(load 40 0 $TARGETS)
[ "$(failed_of "$out")" = 0 ] || fail "(a) the deployed site does not serve: $out"
echo "ok: (a) the site works: every VIP routed to both balancers, $out"

# site_edit FILE SED: an operator's edit of the working copy.
site_edit() { sed -i "$2" "$W/site/$1"; }
# under_load NAME COMMAND...: runs COMMAND while the client sends requests (15 ms apart, every
# VIP, both families; bounded at 4000 requests); fails on any failed request.
under_load() {
  local name=$1 rc=0 out; shift
  ip netns exec client "$PY" "$LAB/load.py" 4000 15 $TARGETS > "$W/$name.load" &
  local loadpid=$!
  sleep 1
  "$@" || rc=$?
  sleep 1
  kill -TERM "$loadpid" 2>/dev/null; wait "$loadpid" 2>/dev/null || true
  out=$(head -1 "$W/$name.load")
  echo "measured: $name: requests during the run: $out"
  [ "$(failed_of "$out")" = 0 ] || { cat "$W/$name.load"; fail "$name: requests failed"; }
  return $rc
}
bird_reconfigured() { local h; for h in rr1 lb1 lb2 dns1 dns2; do birdc_on "$h" show status | grep 'Last reconfiguration'; done; }

# (b) A change rolled out under load: 0 failed requests, the planned hosts changed, the others ok.
site_edit services/web.yaml 's/^    description: Lab website, client address by X-Forwarded-For/    description: Lab website (b), client address by X-Forwarded-For/'
under_load b-change deploy b-change || { cat "$W/b-change.log"; fail "(b) the rollout failed"; }
check_plan b-change
echo "ok: (b) $(sed -n 's/^PLAN //p' "$W/b-change.tl") changed, the other hosts ok"

# (c) A rerun: nothing planned, every host ok (apply --check says unchanged), no daemon reloaded:
# BIRD's last reconfiguration time and the HAProxy PID files as before. (With HAProxy in
# master-worker mode the PID file names the master, which a reload keeps: then read the master
# CLI's reload counter instead.)
before_state=$(snapshot); before_bird=$(bird_reconfigured)
before_hap="$(cat "$W/lb1/run/haproxy.pid" "$W/lb2/run/haproxy.pid")"
under_load c-rerun deploy c-rerun || { cat "$W/c-rerun.log"; fail "(c) the rerun failed"; }
check_plan c-rerun
[ "$(sed -n 's/^PLAN //p' "$W/c-rerun.tl")" = "[]" ] || fail "(c) the rerun planned $(sed -n 's/^PLAN //p' "$W/c-rerun.tl")"
n=$(grep -cE "^(${HOSTS// /|}) +: ok=[0-9]+ +changed=0 +unreachable=0 +failed=0" "$W/c-rerun.log" || true)
[ "$n" = 8 ] || { cat "$W/c-rerun.log"; fail "(c) $n of 8 hosts report changed=0"; }
n=$(grep -c '^APPLY [a-z0-9]* ok False unchanged$' "$W/c-rerun.tl" || true)
[ "$n" = 8 ] || { cat "$W/c-rerun.tl"; fail "(c) $n of 8 hosts' apply said unchanged"; }
[ "$(snapshot)" = "$before_state" ] || fail "(c) a host's files or state changed"
[ "$(bird_reconfigured)" = "$before_bird" ] || fail "(c) a BIRD was reconfigured"
[ "$(cat "$W/lb1/run/haproxy.pid" "$W/lb2/run/haproxy.pid")" = "$before_hap" ] || fail "(c) an HAProxy was reloaded or restarted"
echo "ok: (c) rerun: 8 hosts ok, changed=0; no BIRD reconfigured, no HAProxy reloaded, no file changed"

# (d) --check --diff: the diffs shown, nothing changed.
site_edit services/web.yaml 's/^    description: Lab website (b), /    description: Lab website (d), /'
before_state=$(snapshot); before_bird=$(bird_reconfigured)
under_load d-check deploy d-check --check --diff || { cat "$W/d-check.log"; fail "(d) the check run failed"; }
check_plan d-check
grep -q '^+.*Lab website (d)' "$W/d-check.log" || { cat "$W/d-check.log"; fail "(d) no diff with the new description shown"; }
[ "$(snapshot)" = "$before_state" ] || fail "(d) --check changed a host"
[ "$(bird_reconfigured)" = "$before_bird" ] || fail "(d) --check reconfigured a BIRD"
echo "ok: (d) --check --diff: $(grep -c '^+++ ' "$W/d-check.log") file diffs shown, nothing changed"

# (e) One host's daemon check fails: the play stops there; that host and the later batches keep
# the old generation. The check fails for real: lb1's HAProxy configuration names the user
# `haproxy`, which is removed from lb1's /etc/passwd (haproxy -c resolves it).
passwd_line=$(on lb1 grep '^haproxy:' /etc/passwd) || fail "(e) lb1 has no haproxy user"
on lb1 sed -i '/^haproxy:/d' /etc/passwd
declare -A before
for h in $HOSTS; do before[$h]=$(host_state "$h"); done
rc=0; under_load e-fail deploy e-fail || rc=$?
on lb1 sh -c "echo '$passwd_line' >> /etc/passwd"
[ $rc != 0 ] || { cat "$W/e-fail.log"; fail "(e) the play did not fail"; }
grep -q "svcintent apply on lb1: " "$W/e-fail.log" || { cat "$W/e-fail.log"; fail "(e) apply's message for lb1 is not the task's error"; }
grep -q "^APPLY lb1 failed " "$W/e-fail.tl" || { cat "$W/e-fail.tl"; fail "(e) lb1 did not fail"; }
grep '^BATCH' "$W/e-fail.tl" | tail -1 | grep -qE ' lb1( |$)' || { cat "$W/e-fail.tl"; fail "(e) batches ran after lb1's"; }
ran=" $(awk '/^BATCH/ { for (i = 4; i <= NF; i++) printf "%s ", $i }' "$W/e-fail.tl")"
later=$(sed -n 's/^PLAN //p' "$W/e-fail.tl" | "$PY" -c 'import json,sys
b = json.load(sys.stdin); i = [n for n, x in enumerate(b) if "lb1" in x][0]
print(" ".join(h for x in b[i + 1:] for h in x))')
[ -n "$later" ] || fail "(e) lb1 is in the last batch: nothing shows the later batches stay untouched"
for h in $HOSTS; do
  case "$ran" in *" $h "*) [ "$h" = lb1 ] || continue ;; esac
  [ "$(host_state "$h")" = "${before[$h]}" ] || fail "(e) $h changed"
done
echo "ok: (e) lb1's check failed: the play stopped; lb1 and the later batches ($later) untouched: $(grep -m1 -o 'svcintent apply on lb1: .*' "$W/e-fail.log" | cut -c1-160)"

# (f) A change the guard refuses: the DNS services removed, resolver and intdns (their VIPs would lose every
# announcer; rollout wants --allow-withdraw resolver). The play fails with the statement before
# any host is touched: no batch, no prepare play, every host as before.
cp "$W/site/services/dns.yaml" "$W/dns.yaml.before"
printf 'services: {}\n' > "$W/site/services/dns.yaml"
before_state=$(snapshot)
rc=0; under_load f-refused deploy f-refused || rc=$?
[ $rc != 0 ] || { cat "$W/f-refused.log"; fail "(f) the refused rollout did not fail"; }
grep -q "svcintent rollout refuses the change; no host was touched" "$W/f-refused.log" || { cat "$W/f-refused.log"; fail "(f) no refusal statement"; }
grep -q -- "--allow-withdraw resolver" "$W/f-refused.log" || { cat "$W/f-refused.log"; fail "(f) the statement does not name --allow-withdraw resolver"; }
grep -q '^BATCH' "$W/f-refused.tl" && fail "(f) a batch ran after the refusal"
grep -q '"name": "Install svcintent and stage the new generation"' "$W/f-refused.timeline" && fail "(f) the hosts were prepared after the refusal"
[ "$(snapshot)" = "$before_state" ] || fail "(f) a host changed"
echo "ok: (f) refused before any host was touched: $(sed -n '/svcintent rollout refuses the change/{n;p;q}' "$W/f-refused.log" | cut -c1-240)"
cp "$W/dns.yaml.before" "$W/site/services/dns.yaml"

# A site with errors (both balancers drained: SI050) stops at the inventory: the play fails at
# its first task with the pointer to the plugin's warning, which carries the diagnostics.
cp "$W/site/hosts.yaml" "$W/hosts.yaml.before"
site_edit hosts.yaml 's/^  \(lb[12]\): *{ \(.*\) }$/  \1: { \2, drain: true }/'
rc=0; deploy f-errors || rc=$?
[ $rc != 0 ] || { cat "$W/f-errors.log"; fail "a site with errors did not fail the play"; }
grep -q 'error\[SI050\]' "$W/f-errors.log" && grep -q 'the inventory has no host in svcintent' "$W/f-errors.log" \
  || { cat "$W/f-errors.log"; fail "a site with errors: no diagnostics or no clear failure"; }
[ "$(snapshot)" = "$before_state" ] || fail "a site with errors changed a host"
cp "$W/hosts.yaml.before" "$W/site/hosts.yaml"
echo "ok: a site with errors: the play fails at its first task, svcintent's diagnostics (SI050) in the inventory warning, no host touched"

# ---------------------------------------------------------------------------- Salt
# deploy/salt's state, run with salt-call (masterless, PyPI's salt in $SALT_VENV) inside lb1's
# namespaces: svcintent.applied maps apply's exit codes like the Ansible module. lb1 still runs
# the generation before (d)'s edit (its check failed in (e)); it is a batch of its own in that plan.
mkdir -p "$W/salt/roots/svcintent" "$W/salt/lb1"
cp -r "$REPO/deploy/salt/_states" "$W/salt/roots/"
cp "$REPO/deploy/salt/svcintent/"*.sls "$W/salt/roots/svcintent/"
ln -s "$W/controller/tree" "$W/salt/roots/svcintent/tree"
cat > "$W/salt/minion" <<EOF
file_client: local
file_roots:
  base: [$W/salt/roots]
root_dir: $W/salt/lb1
id: lb1
log_level: warning
EOF
# salt_apply NAME [test=True]: the state on lb1; prints "RESULT <result> CHANGES <n files>" and the comment.
salt_apply() {
  local name=$1 gen; shift
  gen=$(sha256sum "$W/controller/tree/manifest.json" | cut -d' ' -f1)
  on lb1 env PYTHONWARNINGS=ignore "$SALT_VENV/bin/salt-call" --local -c "$W/salt" --out=json state.apply svcintent "$@" \
    pillar="{\"svcintent\": {\"generation\": \"$gen\"}}" > "$W/$name.salt" 2>"$W/$name.salt.err" || true
  "$PY" -c 'import json, sys
d = json.load(open(sys.argv[1]))["local"]
(state,) = [v for k, v in d.items() if k.startswith("svcintent_|-")]
print("RESULT %s CHANGES %d" % (state["result"], len((state["changes"] or {}).get("files") or {})))
print(state["comment"])' "$W/$name.salt" || { cat "$W/$name.salt" "$W/$name.salt.err"; fail "salt ($name): no state result"; }
}
on lb1 "$SALT_VENV/bin/salt-call" --local -c "$W/salt" saltutil.sync_states > /dev/null 2>&1 || fail "salt: sync_states"
ctl svcintent render "$W/site" --out "$W/controller/tree" > /dev/null
lb1_before=$(host_state lb1)
out=$(salt_apply g-test test=True)
grep -q '^RESULT None CHANGES [1-9]' <<<"$out" || fail "salt test=True on lb1: $out"
[ "$(host_state lb1)" = "$lb1_before" ] || fail "salt test=True changed lb1"
T1=$(now)
under_load g-salt salt_apply g-apply > "$W/g-apply.out" || fail "salt apply on lb1"
out=$(cat "$W/g-apply.out")
grep -q '^RESULT True CHANGES [1-9]' <<<"$out" || fail "salt apply on lb1: $out"
[ "$(host_state lb1)" != "$lb1_before" ] || fail "salt apply did not change lb1"
echo "measured: salt-call state.apply svcintent on lb1 (changed): $(since "$T1") s"
out=$(salt_apply g-again)
grep -q '^RESULT True CHANGES 0$' <<<"$out" || fail "salt rerun on lb1: $out"
# A file modified by hand, and a new generation: apply refuses (exit 8), the state fails with its words.
on lb1 sh -c 'echo "# edited by hand" >> /etc/haproxy/haproxy.cfg'
site_edit services/web.yaml 's/^    description: Lab website (d), /    description: Lab website (g), /'
ctl svcintent render "$W/site" --out "$W/controller/tree" > /dev/null
out=$(salt_apply g-refused)
grep -q '^RESULT False ' <<<"$out" && grep -q 'svcintent apply on lb1: refused; nothing was touched (exit 8' <<<"$out" \
  || fail "salt with a hand-modified file on lb1: $out"
on lb1 sed -i '/^# edited by hand$/d' /etc/haproxy/haproxy.cfg
echo "ok: salt-call $("$SALT_VENV/bin/salt-call" --version 2>/dev/null | awk '{print $2}'): test=True would change lb1 and touched nothing; applied (changed); rerun unchanged; a hand-modified file: result False, '$(sed -n 2p <<<"$out" | cut -c1-120)'"

echo ANSIBLE-LAB-OK
