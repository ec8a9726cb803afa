#!/usr/bin/env bash
# Installs what the real-daemon checks (svcintent_host::daemons, host-runner/tests/daemons.rs) need:
# the Debian daemons, the monitoring plugins the Icinga2 ITL points at, openssl (throwaway certs),
# util-linux/coreutils tools for the sandbox, and a venv with anycast-healthchecker.
#
# Idempotent and fast when everything is present: apt runs only when something is missing, pip
# only when the venv lacks the pinned version. Needs no stdin. Run as root (CI is root); as a
# non-root user it only checks and tells what is missing.
#
# Environment:
#   SVCINTENT_HEALTHCHECKER  venv to create (default /opt/svcintent-venv); the harness reads the
#                            same variable, and falls back to the same default.
#   AHC_VERSION              anycast-healthchecker version to pin (default 0.9.10).
set -euo pipefail
exec </dev/null
export DEBIAN_FRONTEND=noninteractive

VENV="${SVCINTENT_HEALTHCHECKER:-/opt/svcintent-venv}"
AHC_VERSION="${AHC_VERSION:-0.9.10}"
# The venv's interpreter must live under /usr: the sandbox binds /usr, not pyenv or /usr/local
# shims in $HOME.
SYS_PYTHON=/usr/bin/python3

# file that must exist -> Debian package that provides it
declare -A NEED=(
  [/usr/sbin/haproxy]=haproxy
  [/usr/sbin/bird]=bird2
  [/usr/sbin/nft]=nftables
  [/usr/sbin/icinga2]=icinga2
  [/usr/share/icinga2/include/itl]=icinga2-common
  [/usr/sbin/apache2]=apache2
  [/usr/lib/apache2/modules/mod_remoteip.so]=apache2
  [/usr/lib/nagios/plugins/check_http]=monitoring-plugins
  [/usr/lib/nagios/plugins/check_tcp]=monitoring-plugins
  [/usr/lib/nagios/plugins/check_ping]=monitoring-plugins
  [/usr/bin/openssl]=openssl
  [/usr/bin/unshare]=util-linux
  [/usr/bin/mount]=mount
  [/usr/sbin/chroot]=coreutils
  [/usr/bin/timeout]=coreutils
  [/usr/bin/python3]=python3
  # The namespace lab (tests/tests/lab.rs): iproute2 for the namespaces, curl as the client,
  # nslookup for check_dns, dnsmasq as the anycast DNS service, ping for check_ping.
  [/usr/sbin/ip]=iproute2
  [/usr/bin/nsenter]=util-linux
  [/usr/bin/curl]=curl
  [/usr/bin/nslookup]=bind9-dnsutils
  [/usr/sbin/dnsmasq]=dnsmasq-base
  [/usr/bin/ping]=iputils-ping
  # The Debian package's checks (scripts/test-deb.sh).
  [/usr/bin/lintian]=lintian
)

missing=()
for f in "${!NEED[@]}"; do
  [ -e "$f" ] || missing+=("${NEED[$f]}")
done
# ensurepip is what python3-venv adds; without it `python3 -m venv` cannot build the venv below.
if [ -x "$SYS_PYTHON" ] && ! "$SYS_PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  missing+=(python3-venv)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  # Deduplicate, keep a stable order.
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-daemons: missing packages: ${missing[*]} (run as root to install)" >&2
    exit 1
  fi
  echo "install-daemons: installing ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}"
fi

ahc_ok() {
  [ -x "$VENV/bin/anycast-healthchecker" ] || return 1
  [ "$("$VENV/bin/anycast-healthchecker" --version 2>/dev/null)" = "$AHC_VERSION" ]
}

if ! ahc_ok; then
  target="$VENV"
  [ -e "$target" ] || target="$(dirname "$VENV")"
  if [ ! -w "$target" ]; then
    echo "install-daemons: cannot write $VENV (run as root, or set SVCINTENT_HEALTHCHECKER to a writable path)" >&2
    exit 1
  fi
  echo "install-daemons: creating $VENV with anycast-healthchecker==$AHC_VERSION"
  "$SYS_PYTHON" -m venv --clear "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input \
    "anycast-healthchecker==$AHC_VERSION"
  ahc_ok || { echo "install-daemons: $VENV/bin/anycast-healthchecker does not report $AHC_VERSION" >&2; exit 1; }
fi

echo "install-daemons: haproxy $(/usr/sbin/haproxy -v | sed -n '1s/HAProxy version \([^ ]*\).*/\1/p')," \
  "$(/usr/sbin/bird --version 2>&1)," \
  "$(/usr/sbin/nft --version)," \
  "icinga2 $(/usr/sbin/icinga2 --version | sed -n 's/.*(version: \(.*\)).*/\1/p')," \
  "$(/usr/sbin/apache2 -v | sed -n 's/Server version: //p')," \
  "anycast-healthchecker $("$VENV/bin/anycast-healthchecker" --version)"
