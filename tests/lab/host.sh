#!/usr/bin/env bash
# One lab host's private filesystem view, run as `ip netns exec HOST bash host.sh HOST` (so it
# is already in the host's network namespace and a fresh mount namespace). The rendered files
# sit at their on-host paths: the host's rendered etc/ is overlaid on /etc (the real /etc
# below it, so the packages' own files are there too; writes go to a per-host upper layer).
# Runtime and state directories are private per host. Then the process stays as the "holder"
# of these namespaces: everything else enters them with nsenter -t $(cat holder.pid) -m -n.
set -euo pipefail
h=$1
d=$W/$h
mkdir -p "$d/run" "$d/varlib" "$d/log" "$d/srv" "$d/ovl/up" "$d/ovl/work"

# Always an overlay, so that nothing a lab host writes to /etc (an applied change, a2ensite)
# ever reaches the machine's /etc; a host the tree has no files for starts with /etc as it is.
lower=$T/$h/etc
if [ ! -d "$lower" ]; then lower=$d/no-rendered-etc; mkdir -p "$lower"; fi
mount -t overlay overlay -o "lowerdir=$lower:/etc,upperdir=$d/ovl/up,workdir=$d/ovl/work" /etc
mount --bind "$d/run" /run
mkdir -p /run/bird /run/haproxy /run/apache2 /run/lock /run/anycast-healthchecker
mount --bind "$d/varlib" /var/lib
mkdir -p /var/lib/haproxy
# The rendered state files (anycast-healthchecker's prefix lists, svcintent apply's BIRD hold
# list), installed as a first deployment installs them.
if [ -d "$T/$h/var/lib" ]; then
  cp -r "$T/$h/var/lib/." /var/lib/
fi
mount --bind "$d/log" /var/log
mkdir -p /var/log/apache2 /var/log/anycast-healthchecker
mount --bind "$d/srv" /srv

# The VIPs on lo, as systemd-networkd would add them from the rendered .network file.
net=/etc/systemd/network/50-svcintent-vips.network
if [ -f "$net" ]; then
  for a in $(sed -n 's/^Address=//p' "$net"); do ip addr add "$a" dev lo; done
fi

echo $$ > "$d/holder.pid"
exec sleep infinity
