#!/usr/bin/env bash
# Tests the Debian package of the svcintent command (scripts/build-deb.sh):
#   1. builds it (or takes --deb FILE);
#   2. lintian: no error or warning (what it says is printed);
#   3. in a private mount namespace whose /usr, /etc and /var are overlays on the machine's (so
#      the machine's own dpkg database and files are never touched, and parallel runs cannot
#      collide): dpkg -i; `svcintent version` reports the package's version and the optimised
#      module; the installed command renders the bundled example; a man page for the command and
#      for every subcommand `svcintent --help` lists; bash completion completes a subcommand;
#      zsh and fish completion files; then dpkg -r, after which dpkg knows nothing of the
#      package and no file of it is left (the overlays' upper layers are inspected).
# Needs root (mount namespaces, overlays). Usage: scripts/test-deb.sh [--deb FILE]
set -euo pipefail
exec </dev/null
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DEB=""
while [ $# -gt 0 ]; do
  case "$1" in
    --deb) DEB="$2"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "test-deb.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
  esac
done
fail() { echo "test-deb.sh: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "needs root (mount namespaces and overlays)"

T0=$(date +%s.%N)
if [ -z "$DEB" ]; then DEB=$(bash scripts/build-deb.sh | tail -1); fi
DEB=$(realpath "$DEB")
[ -f "$DEB" ] || fail "no package at $DEB"
echo "test-deb.sh: built $(basename "$DEB") in $(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }') s"
VERSION=$(dpkg-deb -f "$DEB" Version)
case "$(basename "$DEB")" in "svcintent_${VERSION}_amd64.deb") ;; *) fail "file name $(basename "$DEB"), want svcintent_${VERSION}_amd64.deb" ;; esac
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
# Only what the binary links: the C library (libgcc-s1 comes with it on every Debian system).
grep -qE '^libc6 \(>= [0-9.]+\)$' <<<"$DEPENDS" || fail "Depends is '$DEPENDS', want only libc6"

# lintian: every tag is a failure (the package's own overrides are honoured).
if command -v lintian >/dev/null; then
  out=$(lintian --allow-root "$DEB" 2>&1) || true
  if [ -n "$out" ]; then echo "$out"; fail "lintian reports the above"; fi
  echo "test-deb.sh: lintian $(lintian --version | awk '{print $2}'): clean"
else
  fail "lintian is not installed (apt-get install lintian)"
fi

S=$(mktemp -d /tmp/svcintent-deb.XXXXXX)
trap 'rm -rf "$S"' EXIT
cp "$DEB" "$S/pkg.deb"
export S VERSION
unshare --mount --propagation private bash -euo pipefail <<'EOF'
fail() { echo "test-deb.sh: FAIL: $*" >&2; exit 1; }
for d in usr etc var; do
  mkdir -p "$S/$d/up" "$S/$d/work"
  mount -t overlay overlay -o "lowerdir=/$d,upperdir=$S/$d/up,workdir=$S/$d/work" "/$d"
done
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
if dpkg-query -W svcintent >/dev/null 2>&1; then
  dpkg -r svcintent >/dev/null   # installed on this machine: start from without it (in the overlay)
  rm -rf "$S"/usr/up/* "$S"/etc/up/*
fi
[ ! -e /usr/bin/svcintent ] || fail "/usr/bin/svcintent exists before the install"

dpkg -i "$S/pkg.deb" > "$S/dpkg-i.log" 2>&1 || { cat "$S/dpkg-i.log"; fail "dpkg -i"; }
[ "$(dpkg-query -W -f '${Status} ${Version}' svcintent)" = "install ok installed $VERSION" ] || fail "dpkg-query after install"
[ "$(command -v svcintent)" = /usr/bin/svcintent ] || fail "svcintent is not /usr/bin/svcintent"
v=$(svcintent version)
[ "$(head -1 <<<"$v")" = "svcintent ${VERSION%-*}" ] || fail "svcintent version says '$(head -1 <<<"$v")', package is $VERSION"
grep -q '^module .*wasm-opt -O3' <<<"$v" || fail "the packaged module is not optimised: $v"
echo "test-deb.sh: installed; svcintent version: $(head -1 <<<"$v"), $(grep '^module' <<<"$v")"
# The installed command works: the embedded module renders the bundled example.
SVCINTENT_CACHE_DIR=$S/cache svcintent render --out "$S/out" > "$S/render.log" 2>&1 || { cat "$S/render.log"; fail "svcintent render (bundled example)"; }
[ -f "$S/out/manifest.json" ] || fail "render wrote no manifest.json"
echo "test-deb.sh: the installed command renders the bundled example: $(cat "$S/render.log")"

# A man page for the command and each subcommand of `svcintent --help`.
subs=$(svcintent --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && $1 != "help" && NF { print $1 }')
[ -n "$subs" ] || fail "no subcommands in svcintent --help"
for page in svcintent $(sed 's/^/svcintent-/' <<<"$subs"); do
  f=$(man -w "$page" 2>/dev/null) || fail "no man page $page"
  [ "$f" = "/usr/share/man/man1/$page.1.gz" ] || fail "man -w $page: $f"
  zcat "$f" | grep -q '^\.TH' || fail "$f is not a man page"
done
echo "test-deb.sh: man pages: svcintent(1) and $(wc -w <<<"$subs") subcommand pages"
# (man -l: the formatted page is not cached below /var/cache/man)
MANPAGER=cat man -l /usr/share/man/man1/svcintent.1.gz 2>/dev/null | grep -q 'Exit codes' || fail "man svcintent has no exit codes"

# Completions: bash completes a subcommand; zsh and fish files name the command.
got=$(bash -c 'source /usr/share/bash-completion/completions/svcintent
  COMP_WORDS=(svcintent ren); COMP_CWORD=1; COMP_LINE="svcintent ren"; COMP_POINT=${#COMP_LINE}
  _svcintent svcintent ren svcintent; echo "${COMPREPLY[*]}"')
[ "$got" = render ] || fail "bash completion of 'svcintent ren' gave '$got'"
head -1 /usr/share/zsh/vendor-completions/_svcintent | grep -q '^#compdef svcintent' || fail "zsh completion"
grep -q "complete -c svcintent" /usr/share/fish/vendor_completions.d/svcintent.fish || fail "fish completion"
echo "test-deb.sh: completions: bash completes 'svcintent ren' to 'render'; zsh, fish installed"
dpkg -L svcintent > "$S/files"

dpkg -r svcintent > "$S/dpkg-r.log" 2>&1 || { cat "$S/dpkg-r.log"; fail "dpkg -r"; }
if dpkg-query -W -f '${Status}' svcintent 2>/dev/null | grep -qv '^unknown ok not-installed$\|^$'; then
  fail "dpkg still knows svcintent: $(dpkg-query -W -f '${Status}' svcintent)"
fi
while read -r f; do
  if [ -f "$f" ] || [ -L "$f" ]; then fail "$f is left after dpkg -r"; fi
done < "$S/files"
# Below /usr and /etc nothing at all may be left (directories dpkg created are gone, the copies
# of pre-existing ones are empty); below /var only dpkg's own database and logs, none naming us.
left=$(cd "$S" && find usr/up etc/up ! -type d | head -5)
[ -z "$left" ] || fail "left below /usr or /etc after dpkg -r: $left"
left=$(cd "$S/var/up" && find . -path '*svcintent*' | head -5)
[ -z "$left" ] || fail "left below /var after dpkg -r: $left"
echo "test-deb.sh: dpkg -r: $(wc -l < "$S/files") paths removed, nothing left below /usr, /etc, and nothing of svcintent below /var"
EOF
echo "test-deb.sh: OK ($(awk -v a="$T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.0f", b - a }') s)"
