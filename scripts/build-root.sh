#!/bin/sh
# Make (once) and print a minimal Debian chroot for building kernel modules
# against kernels whose kbuild tools need a newer toolchain than the host's
# (Debian 7.x kernels: gcc-14 and trixie's glibc).
#
# Usage: scripts/build-root.sh SUITE [GCC]      e.g. trixie gcc-14
# Prints the chroot directory:
#   ${MB_CACHE:-~/.cache/memballoon}/chroots/SUITE-GCC
# made with `debootstrap --variant=minbase` from the mirror the machine's own
# apt sources use (~60 s and ~560 MB, once).  Needs root (or sudo) and
# debootstrap (scripts/deps.sh installs it).  A complete chroot is reused.
#
# The chroot also has sparse (`make C=2`, the build checks) in /usr/local/bin,
# from Debian testing: 7.x headers use __typeof_unqual__, which the sparse of
# trixie (0.6.4) cannot parse and the kernel's Makefile then refuses
# (scripts/checker-valid.sh); testing's (0.6.5~rc1) can.  It is fetched with
# `apt-get download` and unpacked, not installed (it would pull testing's
# gcc); a chroot made without it gets it on its next use.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${MB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memballoon}
SUITE=${1:?usage: build-root.sh SUITE [GCC]}
GCC=${2:-gcc-14}
DIR=$CACHE/chroots/$SUITE-$GCC
PKGS="$GCC,make,libelf-dev,libssl-dev,bc,flex,bison,kmod,xz-utils,zstd,dwarves,python3"

log() { echo "build-root.sh: $*" >&2; }

SPARSE=usr/local/bin/sparse
SPARSE_SUITE=testing

is_made() {
	[ -f "$DIR/.mb-stamp" ] && [ -x "$DIR/usr/bin/$GCC" ] && [ -x "$DIR/usr/bin/make" ]
}

is_complete() {
	is_made && [ -x "$DIR/$SPARSE" ]
}

if is_complete; then
	echo "$DIR"
	exit 0
fi

SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo

# sparse from $SPARSE_SUITE into ROOT/$SPARSE, once it proved it runs there
# and parses what 7.x headers need.
add_sparse() {	# add_sparse ROOT
	tmp=$(mktemp -d)
	# shellcheck disable=SC2016
	if (cd "$tmp" && sh "$HERE/apt-suite.sh" "$SPARSE_SUITE" apt-get download -q sparse >&2) &&
		dpkg -x "$tmp"/sparse_*.deb "$tmp/x" &&
		$SUDO install -D -m 755 "$tmp/x/usr/bin/sparse" "$1/$SPARSE.new" &&
		printf 'static int u(const int *q) { __typeof_unqual__(*q) v = *q; return v; }\n' |
		$SUDO chroot "$1" sh -c '"$0" -x c - 2>&1 | grep -q . && exit 1; exit 0' "/$SPARSE.new"; then
		$SUDO mv "$1/$SPARSE.new" "$1/$SPARSE"
		log "sparse $(dpkg-deb -f "$tmp"/sparse_*.deb Version) from $SPARSE_SUITE in $1/$SPARSE"
		rm -rf "$tmp"
		return 0
	fi
	$SUDO rm -f "$1/$SPARSE.new"
	rm -rf "$tmp"
	log "could not add sparse from $SPARSE_SUITE to $1"
	return 1
}
command -v debootstrap >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
command -v debootstrap >/dev/null 2>&1 || { log "debootstrap is missing (scripts/deps.sh installs it)"; exit 1; }

mkdir -p "$CACHE/chroots"
exec 9>"$CACHE/chroots/.$SUITE-$GCC.lock"
flock 9
if is_complete; then
	echo "$DIR"
	exit 0
fi
if is_made; then
	add_sparse "$DIR" || exit 1
	echo "$DIR"
	exit 0
fi

MIRROR=$(sh "$HERE/apt-suite.sh" --mirror)
TMP=$DIR.tmp
$SUDO rm -rf "$TMP" "$DIR"
log "debootstrap $SUITE ($PKGS), about a minute"
t0=$(date +%s)
if ! $SUDO debootstrap --variant=minbase --include="$PKGS" "$SUITE" "$TMP" "$MIRROR" \
	>"$CACHE/chroots/$SUITE-$GCC.log" 2>&1; then
	tail -n 20 "$CACHE/chroots/$SUITE-$GCC.log" >&2
	log "debootstrap failed (log: $CACHE/chroots/$SUITE-$GCC.log)"
	exit 1
fi
# Downloaded .debs are not needed any more.
$SUDO rm -rf "$TMP"/var/cache/apt/archives/*.deb
add_sparse "$TMP" || exit 1
$SUDO mv "$TMP" "$DIR"
date | $SUDO tee "$DIR/.mb-stamp" >/dev/null
log "$DIR ready in $(($(date +%s) - t0)) s"
echo "$DIR"
