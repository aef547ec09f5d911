#!/bin/sh
# Fetch a Debian guest kernel (image, modules, headers, kbuild) into a cache
# directory without installing anything on the host, and print where it is:
#
#   KVER=6.1.0-56-amd64
#   KDIR=<cache>/usr/src/linux-headers-6.1.0-56-amd64   (for make -C KDIR M=...)
#   VMLINUZ=<cache>/boot/vmlinuz-6.1.0-56-amd64
#   MODDIR=<cache>/lib/modules/6.1.0-56-amd64            (modules.dep generated)
#
# Usage: scripts/guest-kernel.sh [META_PACKAGE]   (default linux-image-amd64)
# Cache: ${MB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memballoon}/kernels/<kver>/
# The version is resolved from the metapackage with apt-cache; the packages
# come from the machine's own apt sources via `apt-get download`.
set -eu

META=${1:-linux-image-amd64}
CACHE=${MB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memballoon}

log() { echo "guest-kernel.sh: $*" >&2; }

UPDATED=0
apt_update() {
	[ "$UPDATED" = 1 ] && return 0
	log "apt-get update"
	if [ "$(id -u)" -ne 0 ]; then sudo apt-get update -qq >&2; else apt-get update -qq >&2; fi
	UPDATED=1
}

resolve_kver() {
	apt-cache depends "$META" 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*\)$/\1/p' |
		sed 's/-unsigned$//' | head -n1
}

# Sets KVER and everything derived from it.
setup_names() {
	KVER=$(resolve_kver || true)
	[ -n "$KVER" ] || return 1
	# 6.1.0-56-amd64 -> base 6.1.0-56, flavour amd64 (or rt-amd64, cloud-amd64)
	BASE=$(echo "$KVER" | cut -d- -f1-2)
	FLAVOUR=${KVER#"$BASE"-}
	case "$FLAVOUR" in
	rt-*) COMMON="linux-headers-$BASE-common-rt" ;;
	*) COMMON="linux-headers-$BASE-common" ;;
	esac
	MAJMIN=$(echo "$KVER" | cut -d. -f1-2)
	PKGS="linux-image-$KVER linux-headers-$KVER $COMMON linux-kbuild-$MAJMIN"
	DIR=$CACHE/kernels/$KVER
	ROOT=$DIR/root
	KDIR=$ROOT/usr/src/linux-headers-$KVER
	VMLINUZ=$ROOT/boot/vmlinuz-$KVER
	MODDIR=$ROOT/lib/modules/$KVER
}

if ! setup_names; then
	apt_update
	setup_names || { log "cannot resolve the kernel version from $META"; exit 1; }
fi

print_env() {
	echo "KVER=$KVER"
	echo "KDIR=$KDIR"
	echo "VMLINUZ=$VMLINUZ"
	echo "MODDIR=$MODDIR"
}

if [ -f "$DIR/stamp" ] && [ -f "$VMLINUZ" ] && [ -f "$KDIR/Makefile" ] && [ -f "$MODDIR/modules.dep" ]; then
	print_env
	exit 0
fi

mkdir -p "$DIR"
# Serialise concurrent fetches of the same kernel.
exec 9>"$DIR/.lock"
if command -v flock >/dev/null 2>&1; then flock 9; fi
if [ -f "$DIR/stamp" ]; then print_env; exit 0; fi

# As root, apt would drop to _apt for the download and warn that it cannot
# write into this directory: download as root instead.
APTOPT=
[ "$(id -u)" -eq 0 ] && APTOPT="-o APT::Sandbox::User=root"
download() {
	log "fetching $PKGS"
	rm -rf "$DIR/debs" "$ROOT"
	mkdir -p "$DIR/debs" "$ROOT"
	# shellcheck disable=SC2086
	(cd "$DIR/debs" && apt-get download -q $APTOPT $PKGS >&2)
}
if ! download; then
	# Lists missing or stale (an old ABI is gone from the archive): refresh,
	# resolve the version again and retry.
	apt_update
	setup_names || { log "cannot resolve the kernel version from $META"; exit 1; }
	mkdir -p "$DIR"
	download
fi

for deb in "$DIR"/debs/*.deb; do
	dpkg -x "$deb" "$ROOT"
done

# The headers Makefile includes the -common tree by absolute path.
sed -i 's|^include /usr/src/|include $(dir $(lastword $(MAKEFILE_LIST)))../|' "$KDIR/Makefile"
# Absolute symlinks (e.g. scripts -> /usr/lib/linux-kbuild-X) must point into ROOT.
find "$ROOT/usr/src" -type l | while read -r l; do
	t=$(readlink "$l")
	case "$t" in
	/*) ln -sfn "$ROOT$t" "$l" ;;
	esac
done

depmod -b "$ROOT" "$KVER"

[ -f "$VMLINUZ" ] || { log "missing $VMLINUZ"; exit 1; }
[ -f "$KDIR/Makefile" ] || { log "missing $KDIR/Makefile"; exit 1; }
rm -rf "$DIR/debs"
date >"$DIR/stamp"
print_env
