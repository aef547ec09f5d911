#!/bin/sh
# Fetch a Debian kernel (image, modules, headers, kbuild) into a cache
# directory without installing anything on the host, and print where it is:
#
#   KVER=6.1.0-56-amd64
#   KDIR=<cache>/usr/src/linux-headers-6.1.0-56-amd64   (for make -C KDIR M=...)
#   VMLINUZ=<cache>/boot/vmlinuz-6.1.0-56-amd64
#   MODDIR=<cache>/lib/modules/6.1.0-56-amd64            (modules.dep generated)
#   SUITE=bookworm                                       (where it came from)
#   ARCH=arm64                     (--arch: only for another architecture's)
#
# Usage: scripts/guest-kernel.sh [--suite SUITE] [--arch ARCH] [--headers] [META_PACKAGE]
#        scripts/guest-kernel.sh [--suite SUITE] [--arch ARCH] [--headers] --kver KVER
#
# META_PACKAGE (default linux-image-amd64; also linux-image-cloud-amd64,
# linux-image-rt-amd64) is resolved to the kernel it depends on in SUITE
# (default: the machine's own apt sources; other suites such as
# bookworm-backports or trixie-backports go through scripts/apt-suite.sh's
# private apt configuration).  --kver takes an exact version instead and,
# without --suite, looks for it in the system's sources, then in
# bookworm-backports, trixie-backports and trixie.  --headers fetches only
# what building a module needs (headers, kbuild) and prints KVER, KDIR and
# SUITE; a later full fetch of the same kernel replaces it.
#
# --arch ARCH (a Debian architecture: arm64, ppc64el, s390x) fetches that
# architecture's kernel (default metapackage linux-image-arm64,
# -powerpc64le, -s390x) through apt-suite.sh SUITE:ARCH, for cross builds
# (scripts/cross-module.sh) and foreign guests; the env says ARCH=.  Its
# linux-kbuild package (kbuild's host programs: fixdep, modpost) is the
# host architecture's of the same version, so that the host can run them.
#
# The packages to fetch are the image's and the headers' dependencies on the
# same kernel build, whatever the packaging (6.1: linux-image + headers +
# -common[-rt] + linux-kbuild; 7.x: linux-image is split into linux-binary,
# linux-modules and linux-base).  They are fetched with `apt-get download`,
# unpacked with `dpkg -x` into
#   ${MB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memballoon}/kernels/<kver>/root
# the headers made relocatable, and depmod run there.  A complete cache is
# reused without asking apt anything but the version.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${MB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memballoon}
codename() {
	# shellcheck disable=SC1091
	(. /etc/os-release && echo "${VERSION_CODENAME:-}")
}
SEARCH_SUITES="$(codename) bookworm-backports trixie-backports trixie"

log() { echo "guest-kernel.sh: $*" >&2; }
die() { log "$*"; exit 1; }

SUITE=
META=
WANT_KVER=
HEADERS_ONLY=0
ARCH=
while [ $# -gt 0 ]; do
	case "$1" in
	--suite) SUITE=$2; shift 2 ;;
	--arch) ARCH=$2; shift 2 ;;
	--kver) WANT_KVER=$2; shift 2 ;;
	--headers) HEADERS_ONLY=1; shift ;;
	-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	-*) die "unknown option $1" ;;
	*) META=$1; shift ;;
	esac
done
[ -n "$META" ] && [ -n "$WANT_KVER" ] && die "give a metapackage or --kver, not both"
HOSTARCH=$(dpkg --print-architecture)
[ "$ARCH" != "$HOSTARCH" ] || ARCH=
case "$ARCH" in
"") FLAVOUR=amd64 ;;
ppc64el) FLAVOUR=powerpc64le ;;
arm64 | s390x) FLAVOUR=$ARCH ;;
*) die "unknown architecture $ARCH (arm64, ppc64el, s390x)" ;;
esac
[ -n "$META" ] || META=linux-image-$FLAVOUR

[ "$SUITE" = system ] && SUITE=$(codename)

apt_in() {	# apt_in SUITE apt-get|apt-cache ARGS...: in ARCH's lists
	s=$1
	shift
	sh "$HERE/apt-suite.sh" "$s${ARCH:+:$ARCH}" "$@"
}
apt_host() {	# apt_host SUITE ...: the host architecture's lists
	sh "$HERE/apt-suite.sh" "$@"
}

# A cached kernel is complete when its stamp and the paths it names exist
# (stamp: everything; stamp.headers: KDIR only, enough for --headers).
cached_env() {	# cached_env KVER -> prints the env, or fails
	d=$CACHE/kernels/$1
	[ -f "$d/env" ] || return 1
	if [ -f "$d/stamp" ]; then
		(
			# shellcheck disable=SC1091
			. "$d/env"
			[ -f "$VMLINUZ" ] && [ -f "$KDIR/Makefile" ] && [ -f "$MODDIR/modules.dep" ]
		) || return 1
	elif [ "$HEADERS_ONLY" = 1 ] && [ -f "$d/stamp.headers" ]; then
		# shellcheck disable=SC1091
		(. "$d/env" && [ -f "$KDIR/Makefile" ]) || return 1
	else
		return 1
	fi
	cat "$d/env"
}

resolve_kver() {	# from META in SUITE
	apt_in "$SUITE" apt-cache depends "$META" 2>/dev/null |
		sed -n 's/^ *Depends: linux-image-\([0-9][^ ]*\)$/\1/p' |
		sed 's/-unsigned$//' | head -n1
}

has_pkg() {	# has_pkg SUITE PKG: the suite's lists know PKG (not only as virtual)
	apt_in "$1" apt-cache show "$2" >/dev/null 2>&1
}

if [ -n "$WANT_KVER" ]; then
	KVER=$WANT_KVER
	if cached_env "$KVER"; then exit 0; fi
	if [ -z "$SUITE" ]; then
		for s in $SEARCH_SUITES; do
			if has_pkg "$s" "linux-headers-$KVER"; then SUITE=$s; break; fi
		done
		if [ -z "$SUITE" ]; then
			# Stale lists? Refresh the ones we searched and look again.
			for s in $SEARCH_SUITES; do
				apt_in "$s" --update || true
				if has_pkg "$s" "linux-headers-$KVER"; then SUITE=$s; break; fi
			done
		fi
		[ -n "$SUITE" ] || die "linux-headers-$KVER is in none of: $SEARCH_SUITES"
	fi
else
	SUITE=${SUITE:-$(codename)}
	KVER=$(resolve_kver || true)
	if [ -z "$KVER" ]; then
		apt_in "$SUITE" --update
		KVER=$(resolve_kver || true)
	fi
	[ -n "$KVER" ] || die "cannot resolve the kernel version from $META in $SUITE"
	if cached_env "$KVER"; then exit 0; fi
fi

DIR=$CACHE/kernels/$KVER
ROOT=$DIR/root
mkdir -p "$DIR"
# Serialise concurrent fetches of the same kernel.
exec 9>"$DIR/.lock"
flock 9
if cached_env "$KVER"; then exit 0; fi

# The package set: linux-headers-KVER (and linux-image-KVER unless
# --headers), plus what they depend on from the same kernel build: the
# versioned linux-{binary,modules,base,headers,kbuild}-* packages.  Plain
# linux-base, kmod, initramfs-tools, virtual packages, other images (6.12's
# headers depend on "image | image-unsigned") and -unsigned twins of signed
# packages are not needed.
closure() {
	todo="linux-headers-$KVER"
	[ "$HEADERS_ONLY" = 1 ] || todo="linux-image-$KVER $todo"
	done_=" "
	while :; do
		# shellcheck disable=SC2086
		set -- $todo
		[ $# -gt 0 ] || break
		p=$1
		shift
		todo=$*
		case "$done_" in *" $p "*) continue ;; esac
		done_="$done_$p "
		deps=$(apt_in "$SUITE" apt-cache depends "$p" 2>/dev/null |
			sed -n 's/^ *Depends: \(linux-\(binary\|modules\|base\|headers\|kbuild\)-[0-9][^ ]*\)$/\1/p' |
			grep -v -- '-unsigned$' || true)
		todo="$todo $deps"
	done
	# shellcheck disable=SC2086
	echo $done_
}

download() {
	PKGS=$(closure)
	HOSTPKGS=
	if [ -n "$ARCH" ]; then
		# kbuild's programs run on the host: its architecture's build of
		# the same version (the source version every package of the
		# kernel has)
		ver=$(apt_in "$SUITE" apt-cache show --no-all-versions "linux-headers-$KVER" |
			sed -n 's/^Version: //p' | head -n1)
		[ -n "$ver" ] || return 1
		p_=
		for p in $PKGS; do
			case "$p" in
			linux-kbuild-*) HOSTPKGS="$HOSTPKGS $p=$ver" ;;
			*) p_="$p_ $p" ;;
			esac
		done
		PKGS=$p_
	fi
	log "fetching from $SUITE${ARCH:+ ($ARCH)}: $PKGS${HOSTPKGS:+ ($HOSTARCH:$HOSTPKGS)}"
	rm -rf "$DIR/debs" "$ROOT"
	mkdir -p "$DIR/debs" "$ROOT"
	# shellcheck disable=SC2086
	(cd "$DIR/debs" && apt_in "$SUITE" apt-get download -q $PKGS >&2) || return 1
	[ -n "$HOSTPKGS" ] || return 0
	# shellcheck disable=SC2086
	(cd "$DIR/debs" && apt_host "$SUITE" apt-get download -q $HOSTPKGS >&2) && return 0
	# the host's lists may be older than ARCH's
	apt_host "$SUITE" --update
	# shellcheck disable=SC2086
	(cd "$DIR/debs" && apt_host "$SUITE" apt-get download -q $HOSTPKGS >&2)
}
if ! download; then
	# Lists missing or stale (an old ABI is gone from the archive): refresh,
	# resolve the version again (unless it was given) and retry.
	apt_in "$SUITE" --update
	if [ -z "$WANT_KVER" ]; then
		KVER2=$(resolve_kver || true)
		if [ -n "$KVER2" ] && [ "$KVER2" != "$KVER" ]; then
			# A new ABI: start over under its own cache directory.
			rm -rf "$DIR"
			set -- --suite "$SUITE" ${ARCH:+--arch "$ARCH"} "$META"
			[ "$HEADERS_ONLY" = 0 ] || set -- --headers "$@"
			exec sh "$0" "$@"
		fi
	fi
	download || die "cannot download the packages of $KVER from $SUITE"
fi

for deb in "$DIR"/debs/*.deb; do
	dpkg -x "$deb" "$ROOT"
done

KDIR=$ROOT/usr/src/linux-headers-$KVER
[ -f "$KDIR/Makefile" ] || die "missing $KDIR/Makefile"
# The headers Makefile includes the -common tree by absolute path, and 7.x
# also sets KBUILD_OUTPUT to its absolute /usr/src path: make both relative
# to the Makefile itself.
sed -i -e 's|^include /usr/src/|include $(dir $(lastword $(MAKEFILE_LIST)))../|' \
	-e 's|^KBUILD_OUTPUT *:\{0,1\}= */usr/src/.*|KBUILD_OUTPUT := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))|' \
	"$KDIR/Makefile"
# Absolute symlinks (e.g. scripts -> /usr/lib/linux-kbuild-X) must point into ROOT.
find "$ROOT/usr/src" -type l | while read -r l; do
	t=$(readlink "$l")
	case "$t" in
	/*) ln -sfn "$ROOT$t" "$l" ;;
	esac
done

rm -rf "$DIR/debs"
if [ "$HEADERS_ONLY" = 1 ]; then
	printf 'KVER=%s\nKDIR=%s\nSUITE=%s\n' "$KVER" "$KDIR" "$SUITE" >"$DIR/env"
	[ -z "$ARCH" ] || echo "ARCH=$ARCH" >>"$DIR/env"
	rm -f "$DIR/stamp"
	date >"$DIR/stamp.headers"
	cat "$DIR/env"
	exit 0
fi

# 6.1: /lib/modules and /boot; 7.x: merged /usr, the image beside the modules.
# ppc64el's image is an uncompressed vmlinux (QEMU's pseries boots the ELF).
MODDIR=
for d in "$ROOT/lib/modules/$KVER" "$ROOT/usr/lib/modules/$KVER"; do
	if [ -d "$d/kernel" ]; then MODDIR=$d; break; fi
done
[ -n "$MODDIR" ] || die "no modules directory for $KVER in $ROOT"
VMLINUZ=
for f in "$ROOT/boot/vmlinuz-$KVER" "$ROOT/boot/vmlinux-$KVER" "$MODDIR/vmlinuz" \
	"$MODDIR/vmlinuz.unsigned"; do
	if [ -f "$f" ]; then VMLINUZ=$f; break; fi
done
[ -n "$VMLINUZ" ] || die "no kernel image for $KVER in $ROOT"

# depmod -b looks under BASE/lib/modules: give it a base that has MODDIR there.
case "$MODDIR" in
"$ROOT/lib/modules/"*) depmod -b "$ROOT" "$KVER" ;;
*)
	[ -e "$ROOT/lib" ] || ln -s usr/lib "$ROOT/lib"
	depmod -b "$ROOT" "$KVER"
	;;
esac
[ -f "$MODDIR/modules.dep" ] || die "depmod wrote no $MODDIR/modules.dep"

cat >"$DIR/env" <<EOF
KVER=$KVER
KDIR=$KDIR
VMLINUZ=$VMLINUZ
MODDIR=$MODDIR
SUITE=$SUITE
EOF
[ -z "$ARCH" ] || echo "ARCH=$ARCH" >>"$DIR/env"
date >"$DIR/stamp"
rm -f "$DIR/stamp.headers"
cat "$DIR/env"
