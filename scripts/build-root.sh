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
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${MB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memballoon}
SUITE=${1:?usage: build-root.sh SUITE [GCC]}
GCC=${2:-gcc-14}
DIR=$CACHE/chroots/$SUITE-$GCC
PKGS="$GCC,make,libelf-dev,libssl-dev,bc,flex,bison,kmod,xz-utils,zstd,dwarves,python3"

log() { echo "build-root.sh: $*" >&2; }

is_complete() {
	[ -f "$DIR/.mb-stamp" ] && [ -x "$DIR/usr/bin/$GCC" ] && [ -x "$DIR/usr/bin/make" ]
}

if is_complete; then
	echo "$DIR"
	exit 0
fi

SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
command -v debootstrap >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
command -v debootstrap >/dev/null 2>&1 || { log "debootstrap is missing (scripts/deps.sh installs it)"; exit 1; }

mkdir -p "$CACHE/chroots"
exec 9>"$CACHE/chroots/.$SUITE-$GCC.lock"
flock 9
if is_complete; then
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
$SUDO mv "$TMP" "$DIR"
date | $SUDO tee "$DIR/.mb-stamp" >/dev/null
log "$DIR ready in $(($(date +%s) - t0)) s"
echo "$DIR"
