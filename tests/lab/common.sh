#!/usr/bin/env bash
# The lab's shared part (docs/lab.md), sourced by the lab scripts (lab.sh, deploy.sh, ...): the
# topology (one network namespace per host of examples/lab on one bridge, plus the upstream
# "client" router with its BIRD), the helpers every scenario uses, and lab_hosts_up, which
# gives each host its private filesystem view (host.sh).
#
# Sourced inside `unshare --mount --net --pid --fork --mount-proc` (tests/tests/lab*.rs): every
# process started here dies with that PID namespace; the EXIT trap also kills them by PID.
# Environment: W (work dir), T (the tree each host starts from; a host without a folder in it
# starts with the machine's /etc only), VENV (anycast-healthchecker venv), LAB (this directory).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
: "${W:?}" "${T:?}" "${VENV:?}" "${LAB:?}"
PY=/usr/bin/python3

mount -t tmpfs tmpfs /run
mkdir -p /run/netns

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# Every process this script starts in the background, by PID (the holders; the daemons write
# their own PID files below $W/HOST/run).
cleanup() {
  local rc=$? f
  set +e
  for f in "$W"/*/holder.pid "$W"/*/run/*.pid "$W"/*/run/*/*.pid "$W"/*.pid; do
    if [ -f "$f" ]; then kill "$(cat "$f")" 2>/dev/null; fi
  done
  exit "$rc"
}
trap cleanup EXIT

# ---------------------------------------------------------------------------- topology
# name ipv4 ipv6 (the addresses of examples/lab/hosts.yaml; client is the site's upstream)
HOSTS="rr1 lb1 lb2 web1 web2 dns1 dns2 mon1"
declare -A V4=([rr1]=198.18.0.1 [lb1]=198.18.1.1 [lb2]=198.18.1.2 [web1]=198.18.2.1 [web2]=198.18.2.2
  [dns1]=198.18.3.1 [dns2]=198.18.3.2 [mon1]=198.18.9.1 [client]=198.18.0.254)
declare -A V6=([rr1]=2001:db8:ff::1 [lb1]=2001:db8:ff:1::1 [lb2]=2001:db8:ff:1::2 [web1]=2001:db8:ff:2::1
  [web2]=2001:db8:ff:2::2 [dns1]=2001:db8:ff:3::1 [dns2]=2001:db8:ff:3::2 [mon1]=2001:db8:ff:9::1
  [client]=2001:db8:ff::fe)

ip netns add sw
ip -n sw link add br0 type bridge
ip -n sw link set br0 up
for h in $HOSTS client; do
  ip netns add "$h"
  ip -n sw link add "v$h" type veth peer name eth0 netns "$h"
  ip -n sw link set "v$h" master br0 up
  ip -n "$h" link set lo up
  ip -n "$h" link set eth0 up
  ip -n "$h" addr add "${V4[$h]}/15" dev eth0
  ip -n "$h" addr add "${V6[$h]}/48" dev eth0 nodad
done

# The client router: forwards for the monitoring host, spreads flows over the ECMP next hops
# by L4 hash, sends no redirects (mon1 must keep following the BGP routes).
ip netns exec client sh -c '
  sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  sysctl -qw net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1
  sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0'
ip netns exec mon1 sh -c '
  sysctl -qw net.ipv4.conf.all.accept_redirects=0 net.ipv4.conf.eth0.accept_redirects=0
  sysctl -qw net.ipv6.conf.all.accept_redirects=0 net.ipv6.conf.eth0.accept_redirects=0'
ip -n mon1 route add default via "${V4[client]}"
ip -n mon1 -6 route add default via "${V6[client]}"

# The client's BIRD: not part of the site, written here. eBGP with rr1 in both families, every
# path (ADD-PATH receive) merged into ECMP kernel routes.
cat > "$W/client.conf" <<EOF
router id ${V4[client]};
protocol device { }
protocol kernel { ipv4 { import none; export all; }; merge paths on; }
protocol kernel { ipv6 { import none; export all; }; merge paths on; }
protocol bgp rr1_v4 {
  local ${V4[client]} as 65000; neighbor ${V4[rr1]} as 65010; connect delay time 1;
  ipv4 { import all; export none; add paths rx; };
}
protocol bgp rr1_v6 {
  local ${V6[client]} as 65000; neighbor ${V6[rr1]} as 65010; connect delay time 1;
  ipv6 { import all; export none; add paths rx; };
}
EOF

# ---------------------------------------------------------------------------- helpers
on() { local h=$1; shift; nsenter -t "$(cat "$W/$h/holder.pid")" -m -n -- "$@"; }
birdc_on() { local h=$1; shift; birdc -s "$W/$h/run/bird/bird.ctl" "$@"; }
cbirdc() { birdc -s "$W/client.ctl" "$@"; }

dump() {
  set +e
  echo "===== state dump"
  echo "--- client protocols"; cbirdc show protocols
  echo "--- client routes"; cbirdc show route all
  ip -n client route; ip -n client -6 route
  echo "--- rr1"; birdc_on rr1 show protocols; birdc_on rr1 show route
  for h in lb1 lb2 dns1 dns2; do
    echo "--- $h protocols"; birdc_on "$h" show protocols
    echo "--- $h prefixes"; cat "$W/$h/varlib/anycast-healthchecker/anycast-prefixes.conf" \
      "$W/$h/varlib/anycast-healthchecker/6/anycast-prefixes.conf"
    echo "--- $h anycast-healthchecker log"
    tail -n 15 "$W/$h/log/anycast-healthchecker/anycast-healthchecker.log" "$W/$h/log/anycast-healthchecker/stderr.log" "$W/$h/ahc.out"
  done
  for h in lb1 lb2; do
    echo "--- $h haproxy stats"; on "$h" curl -s --max-time 2 "http://${V4[$h]}:8404/;csv" | cut -d, -f1,2,18
    echo "--- $h nft"; on "$h" nft list chain inet svcintent input
  done
  for h in web1 web2; do
    echo "--- $h apache logs"; tail -n 5 "$W/$h"/log/apache2/*.log
  done
  echo "===== end of dump"
}
fail() { echo "FAIL: $*"; dump; exit 1; }

# routes FAMILY DEST: the sorted next hops of DEST in the client's kernel table, one line.
routes() {
  ip -n client "$1" route show "$2" | grep -o 'via [0-9a-f:.]*' | sort | tr '\n' ' ' | sed 's/ $//' || true
}
# wait_routes FAMILY DEST WANT SECONDS: waits until the client routes DEST via WANT.
wait_routes() {
  local end
  end=$(awk -v a="$(now)" -v s="$4" 'BEGIN { printf "%.2f", a + s }')
  while [ "$(routes "$1" "$2")" != "$3" ]; do
    if awk -v e="$end" -v n="$(now)" 'BEGIN { exit !(n > e) }'; then
      fail "$2 via '$(routes "$1" "$2")', want '$3' (waited $4 s)"
    fi
    sleep 0.05
  done
}
via() { local r="" a; for a in "$@"; do r="$r via $a"; done; echo "${r# }"; }
LBS4=$(via "${V4[lb1]}" "${V4[lb2]}"); LBS6=$(via "${V6[lb1]}" "${V6[lb2]}")
DNS4=$(via "${V4[dns1]}" "${V4[dns2]}"); DNS6=$(via "${V6[dns1]}" "${V6[dns2]}")
WEB_VIPS="192.0.2.10 192.0.2.11"; WEB_VIPS6="2001:db8:100::10 2001:db8:100::11"
# Load targets: both services, both families.
TARGETS="www.lab.example@192.0.2.10 shop.lab.example@192.0.2.11 www.lab.example@[2001:db8:100::10] shop.lab.example@[2001:db8:100::11]"
load() { ip netns exec client "$PY" "$LAB/load.py" "$@"; }
# loaded LINE: the failure count of a load.py summary line.
failed_of() { sed -n 's/.*failed=\([0-9]*\).*/\1/p' <<<"$1"; }

# The fall time of a haproxy service's announcement check, from the rendered configuration.
# (The Ansible lab starts from an empty tree: it has no such file and needs no fall time.)
ahc_value() { sed -n "0,/^$2 = /s/^$2 = //p" "$T/lb1/etc/anycast-healthchecker.d/$1.conf" 2>/dev/null || true; }
FALL_S=$(awk -v i="$(ahc_value www check_interval)" -v f="$(ahc_value www check_fail)" -v t="$(ahc_value www check_timeout)" \
  'BEGIN { printf "%.1f", i * f + t }')

start_bird() { on "$1" bird -c /etc/bird/bird.conf -P /run/bird/bird.pid; }
start_ahc() {
  on "$1" sh -c "$VENV/bin/anycast-healthchecker > /var/log/anycast-healthchecker/stdout.log 2>&1 &"
}
stop_ahc() {
  local f=$W/$1/run/anycast-healthchecker/anycast-healthchecker.pid p i=0
  p=$(cat "$f"); kill "$p"
  while kill -0 "$p" 2>/dev/null; do i=$((i+1)); [ $i -lt 100 ] || fail "anycast-healthchecker on $1 does not stop"; sleep 0.05; done
}
start_haproxy() { on "$1" haproxy -f /etc/haproxy/haproxy.cfg -p /run/haproxy.pid; }
# The state (UP, DOWN, MAINT...) of SERVER in BACKEND on balancer LB, from its stats page.
hap_state() { on "$1" curl -s --max-time 2 "http://${V4[$1]}:8404/;csv" | awk -F, -v b="$2" -v s="$3" '$1 == b && $2 == s { print $18 }'; }

# lab_hosts_up: every host of $HOSTS gets its namespaces and filesystem view (host.sh), held by a
# process whose PID is in $W/HOST/holder.pid.
lab_hosts_up() {
  for h in $HOSTS; do
    ip netns exec "$h" bash "$LAB/host.sh" "$h" > "$W/$h.holder.log" 2>&1 &
  done
  for h in $HOSTS; do
    i=0
    until [ -s "$W/$h/holder.pid" ]; do
      i=$((i+1)); [ $i -lt 200 ] || { cat "$W/$h.holder.log"; fail "host $h not set up"; }; sleep 0.05
    done
  done

}
