#!/bin/sh
# Fetch the newest Debian kernel source (linux-source-X.Y, from
# trixie-backports) into the cache, unpacked, and print where it is:
#
#   SRC=<cache>/kernel-source/linux-source-7.3_7.3.4-1~bpo13+1/linux-source-7.3
#   VERSION=7.3.4-1~bpo13+1
#   PACKAGE=linux-source-7.3
#
# Usage: scripts/kernel-source.sh [--suite SUITE]
#
# The tree serves the tools Debian does not package for a kernel we build
# against: the netlink spec generator (tools/net/ynl, `make netlink`) and
# the in-tree build check (scripts/check-intree.sh).  The `linux-source`
# metapackage of SUITE names the package; it is fetched with `apt-get
# download` through scripts/apt-suite.sh, unpacked with dpkg -x and tar,
# never installed.  The unpacked tree (~1.6 GB) is kept, the .deb and the
# tarball are not.  A complete tree is reused; when apt cannot answer, the
# newest complete tree in the cache is used.  Callers never write into SRC.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${MB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memballoon}
SUITE=trixie-backports

log() { echo "kernel-source.sh: $*" >&2; }
die() { log "$*"; exit 1; }

while [ $# -gt 0 ]; do
	case "$1" in
	--suite) SUITE=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
done

apt_in() { sh "$HERE/apt-suite.sh" "$SUITE" "$@"; }

# linux-source -> linux-source-X.Y and the candidate version of that.
resolve() {
	PKG=$(apt_in apt-cache depends linux-source 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-source-[0-9][0-9.]*\)$/\1/p' | head -n1)
	[ -n "$PKG" ] || return 1
	VERSION=$(apt_in apt-cache policy "$PKG" 2>/dev/null |
		sed -n 's/^ *Candidate: //p' | head -n1)
	[ -n "$VERSION" ] && [ "$VERSION" != "(none)" ]
}

print() {	# print DIR
	printf 'SRC=%s\nVERSION=%s\nPACKAGE=%s\n' "$1/$PKG" "$VERSION" "$PKG"
}

BASE=$CACHE/kernel-source
if ! resolve; then
	apt_in --update || true
	if ! resolve; then
		# Offline: the newest complete tree we have.
		d=$(ls -d "$BASE"/linux-source-*_*/stamp 2>/dev/null | sort -V | tail -n1)
		[ -n "$d" ] || die "cannot resolve linux-source in $SUITE and nothing is cached"
		d=$(dirname "$d")
		n=$(basename "$d")
		PKG=${n%%_*}
		VERSION=${n#*_}
		log "apt did not answer: using the cached $PKG $VERSION"
		print "$d"
		exit 0
	fi
fi

DIR=$BASE/${PKG}_$VERSION
if [ -f "$DIR/stamp" ] && [ -f "$DIR/$PKG/Makefile" ]; then
	print "$DIR"
	exit 0
fi

mkdir -p "$BASE"
exec 9>"$BASE/.${PKG}.lock"
flock 9
if [ -f "$DIR/stamp" ] && [ -f "$DIR/$PKG/Makefile" ]; then
	print "$DIR"
	exit 0
fi

t0=$(date +%s)
TMP=$DIR.tmp
rm -rf "$TMP" "$DIR"
mkdir -p "$TMP/deb"
log "fetching $PKG $VERSION from $SUITE (about 170 MB)"
(cd "$TMP/deb" && apt_in apt-get download -q "$PKG=$VERSION" >&2) ||
	die "cannot download $PKG=$VERSION from $SUITE"
dpkg -x "$TMP"/deb/"$PKG"_*.deb "$TMP/x"
rm -rf "$TMP/deb"
tarball=$(ls "$TMP"/x/usr/src/"$PKG".tar.* 2>/dev/null | head -n1)
[ -n "$tarball" ] || die "no usr/src/$PKG.tar.* in $PKG"
log "unpacking $(basename "$tarball")"
tar -xaf "$tarball" -C "$TMP"
rm -rf "$TMP/x"
[ -f "$TMP/$PKG/Makefile" ] || die "no $PKG/Makefile in the tarball"
date >"$TMP/stamp"
mv "$TMP" "$DIR"
log "$DIR ready in $(($(date +%s) - t0)) s"
# Older sources are not used any more (check-intree.sh keeps its own links).
for d in "$BASE"/linux-source-*_*; do
	case "$d" in "$DIR" | *.tmp) continue ;; esac
	[ ! -f "$d/stamp" ] || rm -rf "$d"
done
print "$DIR"
