#!/bin/sh
# Build driver/ (memballoon.ko) for one kernel and print the .ko's path.
#
# Usage: scripts/build-module.sh [-o OUTDIR] [-n] [--arch ARCH] KVER|KDIR|ENV_FILE [MAKE_ARGS...]
#   KVER       a Debian kernel version: /lib/modules/KVER/build when the
#              machine has it, else its headers are fetched into the cache
#              (scripts/guest-kernel.sh --headers --kver KVER [--arch ARCH])
#   KDIR       a kernel build tree (a directory with a Makefile)
#   ENV_FILE   KEY=VALUE lines from scripts/guest-kernel.sh
#   MAKE_ARGS  e.g. W=1
#   -o OUTDIR  where to build (default build/modules/<kver>): driver/ and
#              include/ are copied to OUTDIR/driver and OUTDIR/include (and the
#              version to OUTDIR/VERSION, scripts/version.sh --export) and the
#              module is built in OUTDIR/driver, so builds for different
#              kernels never share objects
#   -n         print what would be used (KVER, KDIR, how) and exit
#   --arch ARCH  the Debian architecture of a KVER to fetch (arm64, ppc64el,
#              s390x); trees and env files say their own
#
# The make output goes to stderr, the .ko path to stdout.
#
# Where: on the host when the host can run the kernel's kbuild tools and has
# its compiler (Debian 6.1 and 6.12: gcc-12); otherwise (Debian 7.x: gcc-14,
# glibc 2.38+) inside a cached minbase chroot of the matching Debian suite
# (scripts/build-root.sh), entered in a private mount namespace with /proc,
# the kernel tree and OUTDIR bind-mounted at their own paths; the mounts end
# with the namespace, also on failure.  Kernels with vmlinux in their
# headers (6.12+) would run pahole for module BTF: the build passes
# CONFIG_DEBUG_INFO_BTF_MODULES= so modules are built without BTF.
#
# Another architecture's kernel (its Debian headers say `override ARCH =
# arm64` in .kernelvariables; guest-kernel.sh --arch fetches them) is
# cross-compiled: CROSS_COMPILE=aarch64-linux-gnu- (powerpc64le-linux-gnu-,
# s390x-linux-gnu-) and Debian's cross compiler of the kernel's gcc version,
# installed on first use: gcc-12-aarch64-linux-gnu on the host (scripts/deps.sh)
# or gcc-14-aarch64-linux-gnu in the chroot (apt-get install there, once).
# kbuild's host programs are the host's (guest-kernel.sh fetches the host's
# linux-kbuild).  -n prints ARCH= and CROSS_COMPILE= for such a kernel.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")

log() { echo "build-module.sh: $*" >&2; }
die() { log "$*"; exit 1; }

OUT=
DRY=0
DEBARCH=
while [ $# -gt 0 ]; do
	case "$1" in
	-o) OUT=$2; shift 2 ;;
	--arch) DEBARCH=$2; shift 2 ;;
	-n) DRY=1; shift ;;
	-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) break ;;
	esac
done
[ $# -ge 1 ] || die "usage: build-module.sh [-o OUTDIR] [-n] KVER|KDIR|ENV_FILE [MAKE_ARGS...]"
TARGET=$1
shift

envval() {	# envval KEY FILE
	sed -n "s/^$1=//p" "$2" | head -n1
}

KVER='' KDIR='' SUITE=''
if [ -f "$TARGET" ]; then
	KVER=$(envval KVER "$TARGET")
	KDIR=$(envval KDIR "$TARGET")
	SUITE=$(envval SUITE "$TARGET")
elif [ -d "$TARGET" ] && [ -f "$TARGET/Makefile" ]; then
	KDIR=$(cd "$TARGET" && pwd)
elif [ -d "/lib/modules/$TARGET/build" ]; then
	KVER=$TARGET
	KDIR=$(cd "/lib/modules/$TARGET/build" && pwd)
else
	case "$TARGET" in
	[0-9]*.*-*) ;;
	*) die "$TARGET is neither a kernel version, a kernel build tree nor an env file" ;;
	esac
	ENV=$(sh "$HERE/guest-kernel.sh" --headers ${DEBARCH:+--arch "$DEBARCH"} --kver "$TARGET")
	KVER=$(echo "$ENV" | sed -n 's/^KVER=//p')
	KDIR=$(echo "$ENV" | sed -n 's/^KDIR=//p')
	SUITE=$(echo "$ENV" | sed -n 's/^SUITE=//p')
fi
[ -n "$KDIR" ] && [ -f "$KDIR/Makefile" ] || die "no kernel build tree at '$KDIR'"
if [ -z "$KVER" ]; then
	KVER=$(cat "$KDIR/include/config/kernel.release" 2>/dev/null || true)
	[ -n "$KVER" ] || KVER=$(basename "$KDIR")
fi

# The compiler the kernel was built with (Debian's .kernelvariables says
# CC = ... $(CROSS_COMPILE)gcc-N; elsewhere take CONFIG_CC_VERSION_TEXT).
GCC=$(sed -n 's/^CC *=.*\(gcc-[0-9][0-9]*\) *$/\1/p' "$KDIR/.kernelvariables" 2>/dev/null | head -n1)
[ -n "$GCC" ] || GCC=$(sed -n 's/^CONFIG_CC_VERSION_TEXT="\([^ ]*-\)\{0,1\}\(gcc-[0-9][0-9]*\) .*/\2/p' "$KDIR/.config" 2>/dev/null | head -n1)
[ -n "$GCC" ] || GCC=gcc

# The kernel's architecture against the host's (kbuild's ARCH names).
KARCH=$(sed -n 's/^override ARCH *= *\([a-z0-9_]*\).*/\1/p' "$KDIR/.kernelvariables" 2>/dev/null | head -n1)
case "$(uname -m)" in
x86_64 | i?86) HOSTKARCH=x86 ;;
aarch64) HOSTKARCH=arm64 ;;
ppc64*) HOSTKARCH=powerpc ;;
s390x) HOSTKARCH=s390 ;;
*) HOSTKARCH=$(uname -m) ;;
esac
CROSS=
if [ -n "$KARCH" ] && [ "$KARCH" != "$HOSTKARCH" ]; then
	case "$KARCH" in
	arm64) CROSS=aarch64-linux-gnu- ;;
	s390) CROSS=s390x-linux-gnu- ;;
	powerpc)
		grep -q '^CONFIG_CPU_LITTLE_ENDIAN=y' "$KDIR/.config" ||
			die "$KVER: big-endian powerpc has no Debian cross compiler here"
		CROSS=powerpc64le-linux-gnu-
		;;
	*) die "$KVER: no cross compiler known for ARCH=$KARCH" ;;
	esac
fi
# Debian's package of the cross compiler: gcc-12-aarch64-linux-gnu
CROSS_PKG=$GCC-${CROSS%-}

# Can the host build for this kernel?  Its compiler must exist and kbuild's
# prebuilt tools must find every library symbol they need.
host_ok() {
	if [ -n "$CROSS" ]; then
		# the cross compiler is installed with deps.sh below when the
		# host's apt has it
		command -v "$CROSS$GCC" >/dev/null 2>&1 ||
			apt-cache show "$CROSS_PKG" >/dev/null 2>&1 || return 1
	else
		command -v "$GCC" >/dev/null 2>&1 || command -v "x86_64-linux-gnu-$GCC" >/dev/null 2>&1 || return 1
	fi
	for t in "$KDIR"/scripts/basic/fixdep "$KDIR"/scripts/mod/modpost*; do
		[ -f "$t" ] || continue
		if ldd "$t" 2>&1 | grep -q 'not found'; then return 1; fi
	done
	return 0
}

HOW=host
if ! host_ok; then
	# Debian's suites by compiler, for trees that do not say where they came from.
	if [ -z "$SUITE" ]; then
		case "$GCC" in
		gcc-12) SUITE=bookworm ;;
		gcc-14) SUITE=trixie ;;
		*) die "the host cannot build for $KVER ($GCC) and its Debian suite is unknown" ;;
		esac
	fi
	HOW=chroot:${SUITE%-backports}
fi

[ -n "$OUT" ] || OUT=$REPO/build/modules/$KVER
if [ "$DRY" = 1 ]; then
	printf 'KVER=%s\nKDIR=%s\nCC=%s\nHOW=%s\nOUT=%s\n' "$KVER" "$KDIR" "$GCC" "$HOW" "$OUT"
	[ -z "$CROSS" ] || printf 'ARCH=%s\nCROSS_COMPILE=%s\n' "$KARCH" "$CROSS"
	exit 0
fi

mkdir -p "$OUT/driver"
OUT=$(cd "$OUT" && pwd)
MOD=$OUT/driver
exec 9>"$OUT/.build.lock"
flock 9

# The driver's sources (not its build products), timestamps kept so that
# kbuild rebuilds only what changed; sources gone from driver/ go here too.
# The driver includes ../include (the UAPI header): copied beside it.
for f in "$MOD"/*.c "$MOD"/*.h "$MOD"/*.S "$MOD"/*.sh "$MOD"/Kbuild "$MOD"/Makefile; do
	[ -f "$f" ] || continue
	case "$f" in *.mod.c) continue ;; esac
	[ -f "$REPO/driver/$(basename "$f")" ] || rm -f "$f"
done
for f in "$REPO"/driver/*.c "$REPO"/driver/*.h "$REPO"/driver/*.S "$REPO"/driver/*.sh \
	"$REPO"/driver/Kbuild "$REPO"/driver/Makefile; do
	[ -f "$f" ] || continue
	case "$f" in *.mod.c) continue ;; esac
	cp -p "$f" "$MOD/"
done
rm -rf "$OUT/include"
[ -d "$REPO/include" ] && cp -pR "$REPO/include" "$OUT/include"
# The version (driver/Kbuild's MODULE_VERSION) as the checkout has it.
sh "$REPO/scripts/version.sh" --export "$OUT"

# The cross compiler into the chroot (once, under build-root.sh's lock):
# apt-get install there, from the chroot's own suite.
cross_in_chroot() {	# cross_in_chroot CH
	(
		flock 9
		[ -x "$1/usr/bin/$CROSS$GCC" ] && exit 0
		log "installing $CROSS_PKG in $(basename "$1") (once)"
		S=
		[ "$(id -u)" -ne 0 ] && S=sudo
		# shellcheck disable=SC2016
		$S unshare -m --propagation private sh -c '
			mount -t proc proc "$1/proc"
			chroot "$1" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
				DEBIAN_FRONTEND=noninteractive HOME=/root LANG=C.UTF-8 \
				sh -c "apt-get install -y -q --no-install-recommends $2 ||
					{ apt-get update -q && apt-get install -y -q --no-install-recommends $2; }"
			rc=$?
			umount "$1/proc"
			exit $rc
		' sh "$1" "$CROSS_PKG" >&2
	) 9>"$(dirname "$1")/.$(basename "$1").lock" ||
		die "cannot install $CROSS_PKG in $1"
	[ -x "$1/usr/bin/$CROSS$GCC" ] || die "no $CROSS$GCC in $1 after installing $CROSS_PKG"
}

set -- -C "$KDIR" M="$MOD" CONFIG_DEBUG_INFO_BTF_MODULES= "$@" modules
[ -z "$CROSS" ] || set -- ARCH="$KARCH" CROSS_COMPILE="$CROSS" "$@"
case "$HOW" in
host)
	[ -z "$CROSS" ] || command -v "$CROSS$GCC" >/dev/null 2>&1 || sh "$HERE/deps.sh" "$CROSS_PKG"
	log "$KVER: host, $CROSS$GCC"
	make "$@" >&2
	;;
chroot:*)
	CH=$(sh "$HERE/build-root.sh" "${HOW#chroot:}" "$GCC")
	[ -z "$CROSS" ] || [ -x "$CH/usr/bin/$CROSS$GCC" ] || cross_in_chroot "$CH"

	# Bind the whole unpacked kernel (KDIR's symlinks point around in it).
	case "$KDIR" in
	*/usr/src/*) KROOT=${KDIR%%/usr/src/*} ;;
	*) KROOT=$(dirname "$KDIR") ;;
	esac
	[ -n "$KROOT" ] && [ "$KROOT" != / ] ||
		die "a chroot build needs a kernel unpacked outside /usr/src (fetch it with KVER=)"
	log "$KVER: chroot $(basename "$CH"), $CROSS$GCC ($CH)"
	SUDO=
	NS="unshare -m --propagation private"
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	# shellcheck disable=SC2016
	# shellcheck disable=SC2086
	$SUDO $NS sh -c '
		set -e
		CH=$1 KROOT=$2 OUT=$3
		shift 3
		mkdir -p "$CH/proc" "$CH$KROOT" "$CH$OUT"
		mount -t proc proc "$CH/proc"
		mount --bind "$KROOT" "$CH$KROOT"
		mount --bind "$OUT" "$CH$OUT"
		rc=0
		chroot "$CH" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 make "$@" || rc=$?
		# (the namespace takes the mounts along anyway, also when killed)
		umount "$CH$OUT" "$CH$KROOT" "$CH/proc"
		rmdir "$CH$OUT" 2>/dev/null || true
		exit $rc
	' sh "$CH" "$KROOT" "$OUT" "$@" >&2
	;;
esac
[ -f "$MOD/memballoon.ko" ] || die "no $MOD/memballoon.ko after the build"
echo "$MOD/memballoon.ko"
