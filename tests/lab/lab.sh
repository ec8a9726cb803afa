#!/usr/bin/env bash
# The anycast lab (docs/lab.md): the rendered files of examples/lab, unmodified, run by the real
# daemons, one network namespace per host on one bridge, plus the upstream "client" router.
#
# Run by tests/tests/lab.rs inside `unshare --user --mount --net --pid --fork --mount-proc`:
# every process started here dies with that PID namespace; the EXIT trap also kills them by
# PID. Environment: W (work dir), T (rendered tree), T2 (tree rendered with lb2 drained),
# VENV (anycast-healthchecker venv), LAB (this directory).
set -euo pipefail
: "${T2:?}"
source "$LAB/common.sh"

# apply HOST TREE: install the host's files from TREE as an operator would (the rendered /etc
# files; /var/lib/anycast-healthchecker is anycast-healthchecker's own state), then reload what
# changed: BIRD (configure), anycast-healthchecker (restart), HAProxy (reload), nftables, Apache.
apply() {
  local h=$1 tree=$2 f changed=""
  for f in $(cd "$tree/$h" && find etc -type f | sort); do
    if ! cmp -s "$tree/$h/$f" "$T/$h/$f"; then
      on "$h" cp "$tree/$h/$f" "/$f"
      changed="$changed /$f"
    fi
  done
  echo "apply $h:$changed"
  case "$changed" in *nftables.conf*) on "$h" nft -f /etc/nftables.conf ;; esac
  case "$changed" in *haproxy.cfg*) on "$h" sh -c 'haproxy -c -q -f /etc/haproxy/haproxy.cfg && haproxy -f /etc/haproxy/haproxy.cfg -p /run/haproxy.pid -sf $(cat /run/haproxy.pid)' ;; esac
  case "$changed" in *bird.conf*) birdc_on "$h" configure >/dev/null ;; esac
  case "$changed" in *anycast-healthchecker*) stop_ahc "$h"; start_ahc "$h" ;; esac
  case "$changed" in *apache2*) on "$h" apache2ctl graceful ;; esac
}

# ---------------------------------------------------------------------------- the core router
# "core": the site's own router (iBGP with rr1, so inside the site for `announce: site`), on the
# same bridge as every host. Like the client it merges every path into ECMP kernel routes and
# forwards; mon1 reaches the site-only VIPs through it (the client never learns them).
CORE4=198.18.0.253; CORE6=2001:db8:ff::fd
SITE_VIPS="192.0.2.54"; SITE_VIPS6="2001:db8:100::54"
ip netns add core
ip -n sw link add vcore type veth peer name eth0 netns core
ip -n sw link set vcore master br0 up
ip -n core link set lo up
ip -n core link set eth0 up
ip -n core addr add "$CORE4/15" dev eth0
ip -n core addr add "$CORE6/48" dev eth0 nodad
ip netns exec core sh -c '
  sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  sysctl -qw net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1
  sysctl -qw net.ipv4.conf.all.send_redirects=0 net.ipv4.conf.eth0.send_redirects=0'
for v in $SITE_VIPS; do ip -n mon1 route add "$v/32" via "$CORE4"; done
for v in $SITE_VIPS6; do ip -n mon1 -6 route add "$v/128" via "$CORE6"; done
cat > "$W/core.conf" <<CORE
router id $CORE4;
protocol device { }
protocol kernel { ipv4 { import none; export all; }; merge paths on; }
protocol kernel { ipv6 { import none; export all; }; merge paths on; }
protocol bgp rr1_v4 {
  local $CORE4 as 65010; neighbor ${V4[rr1]} as 65010; connect delay time 1; direct;
  ipv4 { import all; export none; add paths rx; gateway direct; };
}
protocol bgp rr1_v6 {
  local $CORE6 as 65010; neighbor ${V6[rr1]} as 65010; connect delay time 1; direct;
  ipv6 { import all; export none; add paths rx; gateway direct; };
}
CORE
corebirdc() { birdc -s "$W/core.ctl" "$@"; }
# core_routes FAMILY DEST: the sorted next hops of DEST in core's kernel table, one line.
core_routes() {
  ip -n core "$1" route show "$2" | grep -o 'via [0-9a-f:.]*' | sort | tr '\n' ' ' | sed 's/ $//' || true
}
wait_core_routes() {
  local i=0
  while [ "$(core_routes "$1" "$2")" != "$3" ]; do
    i=$((i+1)); [ $i -lt 600 ] || fail "core: $2 via '$(core_routes "$1" "$2")', want '$3'"; sleep 0.05
  done
}

# ---------------------------------------------------------------------------- bring-up
T0=$(now)
lab_hosts_up
# State svcintent renders for installation where missing (BIRD's hold list, included by
# bird.conf): host.sh gives each host a private /var/lib ($W/HOST/varlib) with only
# anycast-healthchecker's files, so the rest is installed here.
for h in $HOSTS; do
  if [ -d "$T/$h/var/lib/svcintent" ]; then cp -r "$T/$h/var/lib/svcintent" "$W/$h/varlib/"; fi
done

# Firewall first, everywhere: the rendered rules must let BGP, the checks and the service in.
for h in $HOSTS; do on "$h" nft -f /etc/nftables.conf || fail "nft rejects $h's rules"; done

# Web backends: the rendered vhosts, enabled as Debian's tools do; a page naming the host.
for h in web1 web2; do
  for s in www shop; do
    on "$h" mkdir -p "/srv/www/$s"
    on "$h" sh -c "echo '$s $h' > /srv/www/$s/index.html"
  done
  on "$h" sh -c 'a2enconf -q svcintent && a2ensite -q svcintent-www svcintent-shop && a2dissite -q 000-default' >/dev/null
  on "$h" apache2ctl configtest 2>/dev/null || fail "apache2 configtest on $h: $(on "$h" apache2ctl configtest 2>&1)"
  on "$h" apache2ctl start || fail "apache2 does not start on $h"
done

# Anycast DNS nodes: dnsmasq answering for the lab's names (the service itself is not
# rendered by svcintent: "the service daemon itself is yours").
for h in dns1 dns2; do
  on "$h" dnsmasq --conf-file=/dev/null --no-resolv --no-hosts --pid-file=/run/dnsmasq.pid \
    --local=/lab.example/ --host-record=www.lab.example,192.0.2.10 --log-facility=/var/log/dnsmasq.log \
    || fail "dnsmasq does not start on $h"
done

for h in lb1 lb2; do start_haproxy "$h" || fail "haproxy does not start on $h"; done
for h in rr1 lb1 lb2 dns1 dns2; do start_bird "$h" || fail "bird does not start on $h"; done
ip netns exec client bird -c "$W/client.conf" -s "$W/client.ctl" -P "$W/client.pid"
ip netns exec core bird -c "$W/core.conf" -s "$W/core.ctl" -P "$W/core.pid"
for h in lb1 lb2 dns1 dns2; do start_ahc "$h"; done

# 1. Bring-up: ECMP routes to every VIP via both balancers / both nodes.
for v in $WEB_VIPS; do wait_routes -4 "$v" "$LBS4" 30; done
for v in $WEB_VIPS6; do wait_routes -6 "$v" "$LBS6" 30; done
wait_routes -4 192.0.2.53 "$DNS4" 30
wait_routes -6 2001:db8:100::53 "$DNS6" 30
echo "measured: bring-up (namespaces, daemons, every VIP with ECMP at the client) $(since "$T0") s"
for v in $SITE_VIPS; do wait_core_routes -4 "$v" "$DNS4"; done
for v in $SITE_VIPS6; do wait_core_routes -6 "$v" "$DNS6"; done
echo "measured: bring-up to the site-only VIPs with ECMP at the core router $(since "$T0") s"

# Every session of the site is up.
for p in rr1_v4 rr1_v6; do cbirdc show protocols "$p" | grep -q Established || fail "client $p not Established"; done
for p in rr1_v4 rr1_v6; do corebirdc show protocols "$p" | grep -q Established || fail "core $p not Established"; done
n=$(birdc_on rr1 show protocols | grep -c Established || true)
[ "$n" -eq 12 ] || fail "rr1 has $n Established sessions, want 12 (4 clients x 2 families + 4 upstreams)"

# 1b. The announce scope: the site-only resolver (intdns, `announce: site`) is at rr1 and at
# the core router (inside the site) with NO_EXPORT, never at the client's upstream session;
# the public VIPs reach both routers, without a community.
for v in $SITE_VIPS/32 $SITE_VIPS6/128; do
  birdc_on rr1 show route "$v" | grep -q "via" || fail "rr1 has no route to $v"
  corebirdc show route "$v" all | grep -q 'BGP.community:.*(65535,65281)' || fail "core: $v without NO_EXPORT"
  if cbirdc show route "$v" | grep -q "${v%/*}"; then fail "the client's upstream session got the site-only $v"; fi
done
for p in up_client4 up_client6; do
  out=$(birdc_on rr1 show route export "$p")
  grep -qE '192\.0\.2\.10/32|2001:db8:100::10/128' <<<"$out" || fail "rr1 exports no public VIP to $p"
  if grep -qE '192\.0\.2\.54/32|2001:db8:100::54/128' <<<"$out"; then fail "rr1 exports a site-only VIP to $p"; fi
done
[ -z "$(routes -4 192.0.2.54)" ] && [ -z "$(routes -6 2001:db8:100::54)" ] || fail "the client has a kernel route to a site-only VIP"
wait_core_routes -4 192.0.2.10 "$LBS4"
if corebirdc show route 192.0.2.10/32 all | grep -q 'BGP.community'; then fail "core: a public VIP carries a community"; fi
# Reachable inside the site (mon1 routes through the core), unreachable from the client.
for s in 192.0.2.54 2001:db8:100::54; do
  a=$(ip netns exec mon1 dig +short +time=2 +tries=1 @"$s" www.lab.example A)
  [ "$a" = 192.0.2.10 ] || fail "mon1: DNS at the site-only $s answered '$a'"
  if ip netns exec client dig +short +time=1 +tries=1 @"$s" www.lab.example A >/dev/null 2>&1; then
    fail "the client reached the site-only $s"
  fi
done
echo "ok: intdns (announce: site) at rr1 and at the core with NO_EXPORT, not at the client's upstream sessions; answers mon1 through the core, not the client"

# HTTP over each VIP, both families, answered by both backends.
for t in $TARGETS; do
  out=$(load 20 0 "$t")
  echo "bring-up $t: $out"
  [ "$(failed_of "$out")" = 0 ] || fail "requests to $t failed"
  for w in web1 web2; do grep -q ":$w=" <<<"$out" || fail "$t never answered by $w: $out"; done
done
# DNS over the anycast VIP, both families.
for s in 192.0.2.53 2001:db8:100::53; do
  a=$(ip netns exec client dig +short +time=2 +tries=1 @"$s" www.lab.example A)
  [ "$a" = 192.0.2.10 ] || fail "DNS at $s answered '$a'"
done
echo "ok: DNS answers on both anycast VIPs"

# The real client address reaches Apache: X-Forwarded-For (www) and PROXY protocol (shop).
for s in www shop; do
  for c in "${V4[client]}" "${V6[client]}"; do
    grep -qE "^$c 198\.18\.1\.[12] .*\"GET / HTTP" "$W"/web{1,2}/log/apache2/svcintent-$s-access.log \
      || fail "$s: Apache never logged the client $c as the remote address"
  done
done
# Other remote addresses: the balancers (HAProxy's checks), the monitoring host, and the VIPs
# (anycast-healthchecker's checks on a balancer connect from the local VIP).
if grep -vE '^(198\.18\.0\.254|2001:db8:ff::fe|198\.18\.1\.[12]|198\.18\.9\.1|192\.0\.2\.1[01]|2001:db8:100::1[01]) ' \
  "$W"/web{1,2}/log/apache2/svcintent-*-access.log | head -5 | grep .; then
  fail "Apache logged an unexpected remote address"
fi
echo "ok: Apache logs the client ${V4[client]} / ${V6[client]} through X-Forwarded-For (www) and PROXY protocol (shop)"

# ---------------------------------------------------------------------------- 7a monitoring, healthy
monitor() { "$PY" "$LAB/icinga.py" "$T/mon1/etc/icinga2/conf.d/svcintent" mon1 "$W"; }
# check_monitoring LABEL CRITICAL_KEYS...: every check OK except the given ones, which are CRITICAL.
check_monitoring() {
  local label=$1 out key rc line bad=0
  shift
  out=$(monitor)
  while read -r key rc line; do
    want=0
    for k in "$@"; do [ "$k" = "$key" ] && want=2; done
    if [ "$rc" != "$want" ]; then echo "  $key: rc $rc, want $want: $line"; bad=1; fi
  done <<<"$out"
  local total critical
  total=$(wc -l <<<"$out"); critical=$(awk '$2 == 2' <<<"$out" | wc -l)
  echo "monitoring ($label): $total checks, $critical CRITICAL"
  [ "$total" -ge 30 ] || { echo "$out"; fail "only $total monitoring checks"; }
  [ $bad = 0 ] || { echo "$out"; fail "monitoring ($label) disagrees with the lab state"; }
}
check_monitoring healthy

# ---------------------------------------------------------------------------- 2. withdrawal
T1=$(now)
ip netns exec client "$PY" "$LAB/load.py" 100000 20 $TARGETS > "$W/load2.out" &
LOADPID=$!
sleep 1
kill "$(cat "$W/lb1/run/haproxy.pid")"
T1=$(now)
for v in $WEB_VIPS; do wait_routes -4 "$v" "$(via "${V4[lb2]}")" 20; done
for v in $WEB_VIPS6; do wait_routes -6 "$v" "$(via "${V6[lb2]}")" 20; done
withdraw=$(since "$T1")
kill -TERM "$LOADPID" 2>/dev/null; wait "$LOADPID" 2>/dev/null || true
echo "measured: haproxy killed on lb1 -> every lb1 route withdrawn at the client in $withdraw s (checks: fall x interval + timeout = $FALL_S s)"
awk -v w="$withdraw" -v f="$FALL_S" 'BEGIN { exit !(w <= f + 3) }' || fail "withdrawal took $withdraw s, more than $FALL_S s + 3 s"
echo "measured: requests during the withdrawal (20 ms apart, from 1 s before the kill to the withdrawal): $(head -1 "$W/load2.out")"
sed -n '2,$p' "$W/load2.out"
out=$(load 200 0 $TARGETS)
echo "after withdrawal: $out"
[ "$(failed_of "$out")" = 0 ] || fail "requests fail after the withdrawal"
# The VIPs are fine through lb2; the per-balancer HAProxy check sees lb1's.
check_monitoring "HAProxy killed on lb1" lb1/haproxy

# ---------------------------------------------------------------------------- 3. drain
# Restore lb1 first.
T1=$(now)
start_haproxy lb1
for v in $WEB_VIPS; do wait_routes -4 "$v" "$LBS4" 20; done
for v in $WEB_VIPS6; do wait_routes -6 "$v" "$LBS6" 20; done
echo "measured: haproxy restarted on lb1 -> ECMP again in $(since "$T1") s"

ip netns exec client "$PY" "$LAB/load.py" 1000 15 $TARGETS > "$W/load3.out" &
LOADPID=$!
sleep 2
T1=$(now)
apply lb2 "$T2"
for v in $WEB_VIPS; do wait_routes -4 "$v" "$(via "${V4[lb1]}")" 20; done
for v in $WEB_VIPS6; do wait_routes -6 "$v" "$(via "${V6[lb1]}")" 20; done
echo "measured: drain applied on lb2 -> its routes withdrawn in $(since "$T1") s"
wait "$LOADPID" || true
out=$(head -1 "$W/load3.out")
echo "measured: 1000 requests (15 ms apart) over the drain: $out"
cat "$W/load3.out" | sed -n '2,$p'
grep -q '^requests=1000 ' <<<"$out" || fail "the drain load did not run 1000 requests"
[ "$(failed_of "$out")" = 0 ] || fail "requests failed during the drain"

# ---------------------------------------------------------------------------- 4. backend failure
# Load runs through the failure; lb1 is the only announcing balancer (lb2 is drained).
withdrawals() { cat "$W"/lb1/log/anycast-healthchecker/stdout.log | grep -c "withdrawing" || true; }
w_before=$(withdrawals)
ip netns exec client "$PY" "$LAB/load.py" 100000 20 $TARGETS > "$W/load4.out" &
LOADPID=$!
sleep 1
T1=$(now)
on web1 apache2ctl stop
for lb in lb1 lb2; do
  for b in www shop; do
    i=0
    until [ "$(hap_state "$lb" "$b" web1)" = DOWN ]; do
      i=$((i+1)); [ $i -lt 200 ] || fail "$lb never marked web1 DOWN in $b"; sleep 0.05
    done
  done
done
echo "measured: Apache stopped on web1 -> DOWN in HAProxy (both balancers, both backends) in $(since "$T1") s"
# Whatever happened meanwhile, the VIPs must be announced by lb1 again.
for v in $WEB_VIPS; do wait_routes -4 "$v" "$(via "${V4[lb1]}")" 15; done
for v in $WEB_VIPS6; do wait_routes -6 "$v" "$(via "${V6[lb1]}")" 15; done
sleep 1
kill -TERM "$LOADPID" 2>/dev/null; wait "$LOADPID" 2>/dev/null || true
out=$(head -1 "$W/load4.out")
w_during=$(( $(withdrawals) - w_before ))
echo "measured: requests through the backend failure (20 ms apart): $out; VIP withdrawals by lb1 meanwhile: $w_during"
sed -n '2,$p' "$W/load4.out"
# One backend failing must neither withdraw a VIP (balancers announce on HAProxy's own view:
# the svcintent_health frontend answers 200 while a server of every backend is usable) nor fail
# a request (retries + option redispatch move a refused connection to another server).
if [ "$w_during" -gt 0 ] || [ "$(failed_of "$out")" != 0 ]; then
  grep -h "check timed out\|CRITICAL\|withdraw" "$W"/lb1/log/anycast-healthchecker/stdout.log | tail -n 4
  fail "one backend's failure caused $w_during VIP withdrawal(s) by lb1 and $(failed_of "$out") failed request(s)"
fi
out=$(load 200 0 $TARGETS)
echo "after web1 down: $out"
[ "$(failed_of "$out")" = 0 ] || fail "requests fail with web1 down"
grep -q "web1" <<<"$out" && fail "web1 still answers"

# 7b. monitoring sees web1's Apache down.
check_monitoring "Apache stopped on web1" web1/backend_www_8080 web1/backend_shop_8090

# ---------------------------------------------------------------------------- 5. firewall
# A port not in the intent, with a listener behind it on both balancers: dropped (a timeout,
# not a refusal), though the balancer itself reaches it.
for lb in lb1 lb2; do
  on "$lb" sh -c "cd /srv && exec $PY -m http.server --bind :: 2222 > /dev/null 2>&1 & echo \$! > /run/extra.pid"
done
i=0
until on lb1 curl -s -o /dev/null --max-time 1 http://192.0.2.10:2222/; do
  i=$((i+1)); [ $i -lt 100 ] || fail "test listener on lb1:2222 does not answer locally"; sleep 0.05
done
for dst in 192.0.2.10 "[2001:db8:100::10]"; do
  rc=0; ip netns exec client curl -s -o /dev/null --max-time 2 "http://$dst:2222/" || rc=$?
  [ $rc = 28 ] || fail "client -> $dst:2222 not dropped (curl rc $rc, want 28 timeout)"
done
echo "ok: client -> VIP:2222 (v4, v6) dropped at the balancer (curl timed out); the balancer reaches it locally"
rc=0; ip netns exec client curl -s -o /dev/null --max-time 2 "http://${V4[lb1]}:8404/" || rc=$?
[ $rc = 28 ] || fail "client -> lb1 stats port not dropped (curl rc $rc)"
code=$(ip netns exec mon1 curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://${V4[lb1]}:8404/")
[ "$code" = 200 ] || fail "mon1 -> lb1 stats: HTTP $code"
echo "ok: lb1 stats port: dropped from the client, open to mon1"
# Backends: service ports only from the balancers (and the monitoring host).
for port in 8080 8090; do
  rc=0; ip netns exec client curl -s -o /dev/null --max-time 2 "http://${V4[web2]}:$port/" || rc=$?
  [ $rc = 28 ] || fail "client -> web2:$port not dropped (curl rc $rc)"
  rc=0; ip netns exec dns1 curl -s -o /dev/null --max-time 2 "http://${V4[web2]}:$port/" || rc=$?
  [ $rc = 28 ] || fail "dns1 -> web2:$port not dropped (curl rc $rc)"
done
code=$(on lb1 curl -s -o /dev/null -w '%{http_code}' --max-time 2 -H 'Host: www.lab.example' "http://${V4[web2]}:8080/")
[ "$code" = 200 ] || fail "lb1 -> web2:8080: HTTP $code"
echo "ok: web2:8080/8090 dropped from the client and dns1, open to lb1"
n=$(birdc_on rr1 show protocols | grep -c Established || true)
[ "$n" -eq 12 ] || fail "rr1 has $n Established sessions after the firewall tests, want 12"
echo "ok: BGP stays up (12 sessions on rr1) with every host's rules loaded"

# ---------------------------------------------------------------------------- 6. RR filter
# lb1 misbehaves: by hand, its BIRD exports a VIP of another service (the resolver's), a VIP
# of no service and a prefix outside the site, bypassing its own rendered export filter.
sed -e 's/^filter svcintent_announce4 {/filter svcintent_announce4 {\n  if proto = "rogue4" then accept;/' \
  "$T/lb1/etc/bird/bird.conf" > "$W/lb1-rogue.conf"
cat >> "$W/lb1-rogue.conf" <<'EOF'
protocol static rogue4 {
  ipv4;
  route 192.0.2.53/32 blackhole;
  route 192.0.2.99/32 blackhole;
  route 198.51.100.0/24 blackhole;
}
EOF
before=$(birdc_on rr1 show protocols all cl_lb1_v4 | awk '/Import updates:/ { print $5 }')
birdc_on lb1 configure \""$W/lb1-rogue.conf"\" | grep -q "Reconfigured" || fail "lb1 does not take the rogue config"
i=0
until [ "$(birdc_on lb1 show route export rr_rr1_v4 | grep -cE '192.0.2.53/32|192.0.2.99/32|198.51.100.0/24')" = 3 ]; do
  i=$((i+1)); [ $i -lt 100 ] || fail "lb1 does not export the rogue routes"; sleep 0.05
done
i=0
until after=$(birdc_on rr1 show protocols all cl_lb1_v4 | awk '/Import updates:/ { print $5 }'); [ "$after" -ge $((before + 3)) ]; do
  i=$((i+1)); [ $i -lt 100 ] || fail "rr1 did not receive lb1's rogue routes (filtered count $before -> $after)"; sleep 0.05
done
sleep 1
birdc_on rr1 show route protocol cl_lb1_v4 | grep -E '192.0.2.53|192.0.2.99|198.51.100' && fail "rr1 accepted a rogue route from lb1"
[ "$(routes -4 192.0.2.53)" = "$DNS4" ] || fail "client: 192.0.2.53 via '$(routes -4 192.0.2.53)'"
[ -z "$(routes -4 192.0.2.99)" ] || fail "client has a route to 192.0.2.99"
[ -z "$(routes -4 198.51.100.0/24)" ] || fail "client has a route to 198.51.100.0/24"
echo "ok: rr1 filtered lb1's 3 rogue routes (import updates filtered $before -> $after); the client routes 192.0.2.53 via the DNS nodes only"
out=$(birdc_on lb1 configure \"/etc/bird/bird.conf\")
grep -qE "Reconfigured|Reconfiguration in progress" <<<"$out" || fail "lb1 does not go back to its rendered config: $out"

# ---------------------------------------------------------------------------- 7c monitoring, haproxy down
# No balancer is left for www and shop: their VIPs are withdrawn, and both balancers' HAProxy
# checks fail.
for lb in lb1 lb2; do kill "$(cat "$W/$lb/run/haproxy.pid")"; done
for v in $WEB_VIPS; do wait_routes -4 "$v" "" 20; done
for v in $WEB_VIPS6; do wait_routes -6 "$v" "" 20; done
check_monitoring "HAProxy killed on both balancers, Apache stopped on web1" \
  web1/backend_www_8080 web1/backend_shop_8090 lb1/haproxy lb2/haproxy \
  "vip_www/tcp_80_192.0.2.10" "vip_www/tcp_80_2001:db8:100::10" \
  "vip_shop/tcp_80_192.0.2.11" "vip_shop/tcp_80_2001:db8:100::11" \
  "vip_www/ping_192.0.2.10" "vip_www/ping_2001:db8:100::10" \
  "vip_shop/ping_192.0.2.11" "vip_shop/ping_2001:db8:100::11"

echo "measured: whole lab $(since "$T0") s"
echo LAB-OK
