#!/bin/sh
# Build the driver in tree, as a maintainer would take it: driver/ copied
# into drivers/virtio/ of the newest Debian kernel source (linux-source-X.Y
# from trixie-backports, scripts/kernel-source.sh), Kconfig's entry added to
# the virtio menu (drivers/virtio/Kconfig), driver/Kbuild's lines to
# drivers/virtio/Makefile, include/uapi/linux/memballoon.h to the tree's
# include/uapi/linux/, CONFIG_VIRTIO_MEMBALLOON=m, then
#
#   make W=1 [MAKE_ARGS] drivers/virtio/memballoon.o
#
# Usage: scripts/check-intree.sh [MAKE_ARGS...]       e.g. C=2 for sparse
# The make output goes to stdout and stderr; the exit status is make's, or 1
# when the tree cannot be prepared or Kconfig does not offer the symbol.
#
# The tree is configured with the Debian kernel's own config (the .config
# of linux-headers of the same version, from the test suite's kernel cache)
# and `make modules_prepare`d once, in the trixie build chroot (gcc-14,
# scripts/build-root.sh), into
#   ${MB_CACHE}/intree/<key>/{src,obj}
# keyed by the source version, the config and the compiler: src is a
# hard-link copy of the unpacked source (every file this script changes is
# replaced, never written through), obj the O= build directory, so the
# kernel's own files are never touched.  The first run takes a few minutes,
# later ones only rebuild the driver.  The target is the module's object,
# compiled as a module of that tree (obj-m: -DMODULE, its KBUILD_MODNAME):
# without vmlinux, which is not built, modpost could only report every
# kernel symbol as undefined; build_w1 runs modpost (W=1) against each
# Debian kernel's Module.symvers.  C=2 runs the chroot's sparse
# (scripts/build-root.sh says which and why).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
CACHE=${MB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memballoon}
RECIPE=1	# bump when the preparation below changes

log() { echo "check-intree.sh: $*" >&2; }
die() { log "$*"; exit 1; }

envval() { echo "$2" | sed -n "s/^$1=//p" | head -n1; }

SENV=$(sh "$HERE/kernel-source.sh")
SRC=$(envval SRC "$SENV")
VERSION=$(envval VERSION "$SENV")
# The Debian kernel built from that source: its config.
KENV=$(sh "$HERE/guest-kernel.sh" --suite trixie-backports --headers linux-image-amd64)
KDIR=$(envval KDIR "$KENV")
KVER=$(envval KVER "$KENV")
CONFIG=$KDIR/.config
[ -f "$CONFIG" ] || die "no .config in $KDIR"
case "$KVER" in
"${VERSION%%-*}"+*) ;;
*) log "note: the source is $VERSION, the config is $KVER's" ;;
esac
GCC=$(sed -n 's/^CC *=.*\(gcc-[0-9][0-9]*\) *$/\1/p' "$KDIR/.kernelvariables" 2>/dev/null | head -n1)
GCC=${GCC:-gcc-14}
CH=$(sh "$HERE/build-root.sh" trixie "$GCC")

KEY=$( (echo "$RECIPE $VERSION $GCC"; cat "$CONFIG"; chroot "$CH" "$GCC" --version | head -n1) |
	sha256sum | cut -c1-16)
TOP=$CACHE/intree
DIR=$TOP/$KEY
mkdir -p "$TOP"
exec 9>"$TOP/.$KEY.lock"
flock 9

# make in the chroot, /proc and DIR bound at their own paths.
kmake() {
	SUDO=
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	# shellcheck disable=SC2016
	$SUDO unshare -m --propagation private sh -c '
		set -e
		CH=$1 DIR=$2
		shift 2
		mkdir -p "$CH/proc" "$CH$DIR"
		mount -t proc proc "$CH/proc"
		mount --bind "$DIR" "$CH$DIR"
		rc=0
		chroot "$CH" /usr/bin/env -i PATH=/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 make -C "$DIR/src" O="$DIR/obj" \
			CC=x86_64-linux-gnu-'"$GCC"' HOSTCC='"$GCC"' "$@" || rc=$?
		umount "$CH$DIR" "$CH/proc"
		exit $rc
	' sh "$CH" "$DIR" "$@"
}

# Replace a file of the hard-link copy (never write through a link).
put() {	# put SRCFILE DEST
	rm -f "$2"
	cp "$1" "$2"
}

if [ ! -f "$DIR/stamp" ]; then
	t0=$(date +%s)
	log "preparing $VERSION with $KVER's config in $DIR (once; a few minutes)"
	rm -rf "$DIR"
	mkdir -p "$DIR/obj"
	cp -al "$SRC" "$DIR/src"
	cp "$CONFIG" "$DIR/obj/.config"
	kmake olddefconfig >"$DIR/prepare.log" 2>&1 &&
		kmake -j"$(nproc)" modules_prepare >>"$DIR/prepare.log" 2>&1 ||
		{ tail -n 30 "$DIR/prepare.log" >&2; die "modules_prepare failed (log: $DIR/prepare.log)"; }
	echo $(($(date +%s) - t0)) >"$DIR/prepare-seconds"
	date >"$DIR/stamp"
	log "prepared in $(cat "$DIR/prepare-seconds") s"
	# Trees of older sources or configs are of no use any more.
	for d in "$TOP"/*/; do
		[ "${d%/}" = "$DIR" ] || rm -rf "${d%/}"
	done
fi

# Hook the driver in.  Files are replaced only when they differ, so an
# unchanged Kconfig does not make kbuild read the configuration again; the
# driver's objects are always rebuilt, so every warning shows every time.
V=$DIR/src/drivers/virtio
NEW=$DIR/new
rm -rf "$NEW"
mkdir -p "$NEW/drivers/virtio" "$NEW/include/uapi/linux"
for f in "$REPO"/driver/*.c "$REPO"/driver/*.h "$REPO"/driver/*.sh; do
	case "$f" in *.mod.c) continue ;; esac
	b=$(basename "$f")
	[ ! -e "$SRC/drivers/virtio/$b" ] || die "driver/$b would replace the kernel's drivers/virtio/$b"
	cp "$f" "$NEW/drivers/virtio/$b"
done
(cd "$NEW" && find . -type f | sed 's|^\./||' | sort) >"$NEW.list"
cp "$REPO/include/uapi/linux/memballoon.h" "$NEW/include/uapi/linux/"
# The Kconfig entry goes into the virtio menu, before its closing endif.
grep -q '^endif # VIRTIO_MENU' "$SRC/drivers/virtio/Kconfig" ||
	die "drivers/virtio/Kconfig has no 'endif # VIRTIO_MENU' line"
awk -v entry="$REPO/Kconfig" '
	/^endif # VIRTIO_MENU/ { while ((getline l < entry) > 0) print l; print "" }
	{ print }
' "$SRC/drivers/virtio/Kconfig" >"$NEW/drivers/virtio/Kconfig"
cat "$SRC/drivers/virtio/Makefile" "$REPO/driver/Kbuild" >"$NEW/drivers/virtio/Makefile"
# Files of the driver gone since the last run go from the tree too.
if [ -f "$DIR/hooked" ]; then
	sort "$DIR/hooked" | comm -23 - "$NEW.list" | while read -r f; do rm -f "$DIR/src/$f"; done
fi
mv "$NEW.list" "$DIR/hooked"
KCONFIG_CHANGED=0
for f in $(cd "$NEW" && find . -type f | sed 's|^\./||'); do
	cmp -s "$NEW/$f" "$DIR/src/$f" && continue
	put "$NEW/$f" "$DIR/src/$f"
	[ "$f" != drivers/virtio/Kconfig ] || KCONFIG_CHANGED=1
done
rm -rf "$NEW"
while read -r f; do
	rm -f "$DIR/obj/${f%.c}.o"
done <"$DIR/hooked"

t0=$(date +%s)
if [ "$KCONFIG_CHANGED" = 1 ] || ! grep -qx 'CONFIG_VIRTIO_MEMBALLOON=m' "$DIR/obj/.config"; then
	"$DIR/src/scripts/config" --file "$DIR/obj/.config" --module VIRTIO_MEMBALLOON
	kmake olddefconfig >"$DIR/config.log" 2>&1 ||
		{ cat "$DIR/config.log" >&2; die "olddefconfig failed"; }
	grep -qx 'CONFIG_VIRTIO_MEMBALLOON=m' "$DIR/obj/.config" ||
		die "Kconfig does not let VIRTIO_MEMBALLOON be m in $VERSION (its dependencies?)"
fi
log "$VERSION, $KVER's config, CONFIG_VIRTIO_MEMBALLOON=m, $GCC ($(($(date +%s) - t0)) s)"

OBJ=$DIR/obj/drivers/virtio/memballoon.o
rm -f "$OBJ"
t0=$(date +%s)
kmake -j"$(nproc)" W=1 "$@" drivers/virtio/memballoon.o
log "built in $(($(date +%s) - t0)) s"
[ -f "$OBJ" ] || die "no drivers/virtio/memballoon.o"
echo "$OBJ"
