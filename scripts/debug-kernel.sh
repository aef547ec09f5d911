#!/bin/sh
# Build (once per machine) a memballoon debug kernel from a Debian kernel
# source package and print its kernel env, as scripts/guest-kernel.sh does
# for the distribution kernels:
#
#   KVER=<version>-debug-memballoon  (label 6.1-debug, 7.3-debug in test names)
#   KDIR=<cache>/linux            (full build tree: make -C KDIR M=...)
#   VMLINUZ=<cache>/linux/arch/x86/boot/bzImage
#   MODDIR=<cache>/lib/modules/KVER  (modules_install: modules.dep, modules.builtin)
#   SUITE=<suite>                 (where the source came from)
#
# Usage: scripts/debug-kernel.sh [--suite SUITE] [--print-key] [--rebuild]
#                                [--config-only]
#
# --suite  bookworm (default: linux-source-6.1) or trixie-backports (the
#          newest 7.x: the package the suite's linux-source metapackage
#          depends on, resolved at run time, e.g. linux-source-7.3); also
#          "system" for the machine's own suite
# --config-only  fetch and configure (checking the fragment), do not build
#
# Where: bookworm's kernel builds on the host (gcc-12).  The 7.x kernels'
# kbuild needs gcc-14 and trixie's glibc: every make from the defconfig on
# runs in the trixie build chroot (scripts/build-root.sh), entered as
# scripts/build-module.sh enters it (unshare -m, /proc, the cache directory
# and the ccache directory bind-mounted at their own paths).  Such a tree
# gets a .kernelvariables (CC = gcc-14, read by the top Makefile, as in
# Debian's own header packages), so `make -C KDIR M=...` in the chroot and
# scripts/build-module.sh's choice of compiler and chroot work on it.
#
# The config is `make x86_64_defconfig kvm_guest.config` plus the fragment
# scripts/debug-kernel.config (for 7.x with scripts/debug-kernel-7.config on
# top: its lines replace the base fragment's lines for the same options)
# applied with scripts/config and `make olddefconfig` (every fragment line
# is checked afterwards).  The result lives in
#   ${MB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memballoon}/debug-kernel/<key>/
# where <key> hashes the source package and version, the fragment(s) and the
# compiler's `--version`; a complete cache (stamp + env) is reused without
# building.  The source package is fetched with `apt-get download` + `dpkg
# -x` (nothing is installed from it); the build runs under `nice -n 19` with
# -j$(nproc) (MB_DEBUG_JOBS) and ccache when it is there (on the host
# scripts/check-debug.sh installs it; in the chroot this script does).
# Build log: <cache>/build.log.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${MB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memballoon}
FRAG=$HERE/debug-kernel.config

log() { echo "debug-kernel.sh: $*" >&2; }
die() { log "$*"; exit 1; }

codename() {
	# shellcheck disable=SC1091
	(. /etc/os-release && echo "${VERSION_CODENAME:-}")
}

SUITE=bookworm
PRINT_KEY=0
REBUILD=0
CONFIG_ONLY=0
while [ $# -gt 0 ]; do
	case "$1" in
	--suite) SUITE=$2; shift 2 ;;
	--print-key) PRINT_KEY=1; shift ;;
	--rebuild) REBUILD=1; shift ;;
	--config-only) CONFIG_ONLY=1; shift ;;
	-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
done
[ "$SUITE" = system ] && SUITE=$(codename)

apt_in() { sh "$HERE/apt-suite.sh" "$SUITE" "$@"; }

# Where the suite's kernels build: the host for the machine's own Debian
# release, else that release's build chroot with its compiler (the table of
# scripts/build-module.sh).
CH=
case "${SUITE%-backports}" in
"$(codename)") GCC=gcc ;;
trixie) GCC=gcc-14 ;;
*) die "no compiler known for $SUITE's kernels (bookworm or trixie-backports)" ;;
esac
[ "$GCC" = gcc ] || CH=$(sh "$HERE/build-root.sh" "${SUITE%-backports}" "$GCC")

# The source package: the suite's linux-source metapackage's dependency.
srcpkg() {
	apt_in apt-cache depends linux-source 2>/dev/null |
		sed -n 's/^ *Depends: \(linux-source-[0-9][0-9.]*\)$/\1/p' | sort -V | tail -n1
}
# The version apt would fetch (the installed one if the package is installed).
srcver() {
	v=$(dpkg-query -W -f='${Status} ${Version}' "$SRCPKG" 2>/dev/null |
		sed -n 's/^install ok installed //p')
	[ -n "$v" ] || v=$(apt_in apt-cache policy "$SRCPKG" 2>/dev/null |
		sed -n 's/^ *Candidate: //p' | grep -v '(none)' || true)
	echo "$v"
}

SRCPKG=$(srcpkg)
[ -n "$SRCPKG" ] && SRCVER=$(srcver) || SRCVER=
if [ -z "$SRCVER" ]; then
	apt_in --update >&2 || true
	SRCPKG=$(srcpkg)
	[ -n "$SRCPKG" ] || die "$SUITE has no linux-source metapackage"
	SRCVER=$(srcver)
fi
[ -n "$SRCVER" ] || die "apt knows no $SRCPKG in $SUITE"

# The fragment: 7.x renamed some options; its own file overrides the base.
OVERLAY=
case "${SRCPKG#linux-source-}" in
[0-6].*) ;;
*) OVERLAY=$HERE/debug-kernel-7.config ;;
esac

# in_root CMD...: run CMD where the kernel builds (host or chroot); in the
# chroot the cache directory and the ccache directory are there at their own
# paths, the environment is PATH, HOME, LANG and what CCACHE_* says.
in_root() {
	if [ -z "$CH" ]; then "$@"; return; fi
	SUDO=
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	# shellcheck disable=SC2016
	$SUDO unshare -m --propagation private sh -c '
		set -e
		CH=$1 D=$2 CC_DIR=$3
		shift 3
		mkdir -p "$CH/proc" "$CH$D"
		mount -t proc proc "$CH/proc"
		mount --bind "$D" "$CH$D"
		if [ -n "$CC_DIR" ]; then
			mkdir -p "$CC_DIR" "$CH$CC_DIR"
			mount --bind "$CC_DIR" "$CH$CC_DIR"
		fi
		exec chroot "$CH" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
			${CCACHE_DIR:+CCACHE_DIR="$CCACHE_DIR"} \
			${CCACHE_MAXSIZE:+CCACHE_MAXSIZE="$CCACHE_MAXSIZE"} \
			${CCACHE_BASEDIR:+CCACHE_BASEDIR="$CCACHE_BASEDIR"} \
			${CCACHE_NOHASHDIR:+CCACHE_NOHASHDIR="$CCACHE_NOHASHDIR"} \
			"$@"
	' sh "$CH" "$DIR" "${CCACHE_DIR:-}" "$@"
}

# The compiler, as the key sees it.
if [ -n "$CH" ]; then
	GCCVER=$(chroot "$CH" "$GCC" --version | head -n1)
else
	GCCVER=$(gcc --version | head -n1)
fi
# (6.1: the key's input is what it was before 7.x was added.)
KEY=$( {
	echo "$SRCPKG $SRCVER"
	cat "$FRAG"
	[ -z "$OVERLAY" ] || cat "$OVERLAY"
	echo "$GCCVER"
} | sha256sum | cut -c1-16)
[ "$PRINT_KEY" = 1 ] && { echo "$KEY"; exit 0; }

DIR=$CACHE/debug-kernel/$KEY
mkdir -p "$DIR"

cached() {
	[ -f "$DIR/stamp" ] && [ -f "$DIR/env" ] || return 1
	(
		# shellcheck disable=SC1091
		. "$DIR/env"
		[ -f "$VMLINUZ" ] && [ -f "$KDIR/Makefile" ] && [ -f "$MODDIR/modules.dep" ] &&
			[ -f "$MODDIR/modules.builtin" ]
	)
}

if [ "$REBUILD" = 0 ] && cached; then cat "$DIR/env"; exit 0; fi

# One build at a time per key.
exec 9>"$DIR/.lock"
flock 9
if [ "$REBUILD" = 0 ] && cached; then cat "$DIR/env"; exit 0; fi
rm -f "$DIR/stamp"

LOGF=$DIR/build.log
: >"$LOGF"
t0=$(date +%s)
log "$SRCPKG $SRCVER from $SUITE, ${CH:+chroot $(basename "$CH"), }$GCC; key $KEY"

# 1. The source tree.
SRC=$DIR/linux
if [ ! -f "$SRC/Makefile" ]; then
	log "fetching $SRCPKG $SRCVER"
	rm -rf "$DIR/deb" "$DIR/pkg" "$SRC"
	mkdir -p "$DIR/deb"
	(cd "$DIR/deb" && apt_in apt-get download -q "$SRCPKG=$SRCVER" >&2)
	dpkg -x "$DIR"/deb/*.deb "$DIR/pkg"
	tarball=$(find "$DIR/pkg/usr/src" -maxdepth 1 -name 'linux-source-*.tar.*' | head -n1)
	[ -n "$tarball" ] || die "no source tarball in $SRCPKG"
	log "unpacking $(basename "$tarball")"
	rm -rf "$SRC.tmp"
	mkdir -p "$SRC.tmp"
	tar -xf "$tarball" -C "$SRC.tmp" --strip-components=1
	mv "$SRC.tmp" "$SRC"
	rm -rf "$DIR/deb" "$DIR/pkg"
fi
if [ -n "$CH" ]; then
	# Debian's top Makefile reads it (-include $(objtree)/.kernelvariables):
	# out-of-tree builds in the chroot then use the compiler the tree was
	# built with.
	# shellcheck disable=SC2016
	grep -qF -- '-include $(objtree)/.kernelvariables' "$SRC/Makefile" ||
		die "$SRC/Makefile does not read .kernelvariables (not Debian's source?)"
	printf 'CC = %s\nHOSTCC = %s\n' "$GCC" "$GCC" >"$SRC/.kernelvariables"
fi

# 2. The config.
CC=$GCC
if [ -n "$CH" ] && [ ! -x "$CH/usr/bin/ccache" ]; then
	log "installing ccache in $CH"
	in_root sh -c 'apt-get install -y -q --no-install-recommends ccache ||
		{ apt-get update -q && apt-get install -y -q --no-install-recommends ccache; }' \
		>>"$LOGF" 2>&1 || log "no ccache in the chroot (see $LOGF); building without"
fi
if { [ -z "$CH" ] && command -v ccache >/dev/null 2>&1; } || { [ -n "$CH" ] && [ -x "$CH/usr/bin/ccache" ]; }; then
	CC="ccache $GCC"
	export CCACHE_DIR="${CCACHE_DIR:-$CACHE/ccache}"
	export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-8G}"
	# The kernel embeds no build paths we care about; make hits independent of KEY.
	export CCACHE_BASEDIR="$SRC"
	export CCACHE_NOHASHDIR=1
fi
# MB_DEBUG_JOBS: make -j (default: the number of CPUs).
J=${MB_DEBUG_JOBS:-$(nproc)}
mk() { in_root nice -n 19 make -C "$SRC" CC="$CC" HOSTCC="$GCC" -j"$J" "$@"; }

# The effective fragment: the base lines whose option the overlay does not
# name, then the overlay's lines.
FRAGFILE=$DIR/fragment.config
{
	if [ -n "$OVERLAY" ]; then
		awk 'FNR == NR { if (match($0, /^CONFIG_[A-Za-z0-9_]+=/)) o[substr($0, 1, RLENGTH - 1)] = 1; next }
			/^CONFIG_[A-Za-z0-9_]+=/ { s = $0; sub(/=.*/, "", s); if (!(s in o)) print }' \
			"$OVERLAY" "$FRAG"
		grep -E '^CONFIG_[A-Za-z0-9_]+=' "$OVERLAY" || true
	else
		grep -E '^CONFIG_[A-Za-z0-9_]+=' "$FRAG"
	fi
} >"$FRAGFILE"

log "configuring (x86_64_defconfig kvm_guest.config + $(basename "$FRAG")${OVERLAY:+ + $(basename "$OVERLAY")})"
mk x86_64_defconfig kvm_guest.config >>"$LOGF" 2>&1 ||
	{ tail -n 20 "$LOGF" >&2; die "make defconfig failed"; }
# Apply the fragment with scripts/config.
while IFS= read -r line; do
	sym=${line%%=*}
	sym=${sym#CONFIG_}
	val=${line#*=}
	case "$val" in
	y) "$SRC/scripts/config" --file "$SRC/.config" --enable "$sym" ;;
	m) "$SRC/scripts/config" --file "$SRC/.config" --module "$sym" ;;
	n) "$SRC/scripts/config" --file "$SRC/.config" --disable "$sym" ;;
	\"*\") v=${val#\"}; v=${v%\"}; "$SRC/scripts/config" --file "$SRC/.config" --set-str "$sym" "$v" ;;
	*) "$SRC/scripts/config" --file "$SRC/.config" --set-val "$sym" "$val" ;;
	esac
done <"$FRAGFILE"
# DEBUG_INFO_NONE is a choice: turn the DWARF options off explicitly.
"$SRC/scripts/config" --file "$SRC/.config" -d DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT \
	-d DEBUG_INFO_DWARF4 -d DEBUG_INFO_DWARF5 -d DEBUG_INFO_BTF
mk olddefconfig >>"$LOGF" 2>&1
# Two passes: options whose dependencies were enabled only in the first one.
grep -E '^CONFIG_[A-Za-z0-9_]+=[ym]$' "$FRAGFILE" | while IFS= read -r line; do
	sym=${line%%=*}
	grep -qx "$line" "$SRC/.config" || {
		v=${line#*=}
		if [ "$v" = m ]; then "$SRC/scripts/config" --file "$SRC/.config" --module "${sym#CONFIG_}"
		else "$SRC/scripts/config" --file "$SRC/.config" --enable "${sym#CONFIG_}"; fi
	}
done
mk olddefconfig >>"$LOGF" 2>&1
bad=0
while IFS= read -r line; do
	sym=${line%%=*}
	val=${line#*=}
	case "$val" in
	n) if grep -q "^$sym=" "$SRC/.config"; then log "config: $sym is not off (selected by something; fine)"; fi ;;
	*) grep -qxF "$line" "$SRC/.config" || {
		log "config: wanted $line, got: $(grep "^$sym=\|# $sym is not set" "$SRC/.config" || echo absent)"
		bad=1
	} ;;
	esac
done <"$FRAGFILE"
[ "$bad" = 0 ] || die "the fragment did not apply (see above); fix scripts/$(basename "${OVERLAY:-$FRAG}")"
[ "$CONFIG_ONLY" = 0 ] || { log "configured: $SRC/.config"; exit 0; }

# 3. Build and install the modules into the cache.
log "building with -j$J ($CC), log: $LOGF"
mk bzImage modules >>"$LOGF" 2>&1 || { tail -n 40 "$LOGF" >&2; die "kernel build failed"; }
# (make kernelrelease before the build ignores CONFIG_LOCALVERSION: no auto.conf yet)
KVER=$(cat "$SRC/include/config/kernel.release")
rm -rf "${DIR:?}/lib"
mk modules_install INSTALL_MOD_PATH="$DIR" INSTALL_MOD_STRIP=1 >>"$LOGF" 2>&1 ||
	{ tail -n 20 "$LOGF" >&2; die "modules_install failed"; }
MODDIR=$DIR/lib/modules/$KVER
# modules_install links build/source to the tree: fine (absolute, same machine).
[ -f "$MODDIR/modules.dep" ] || die "no $MODDIR/modules.dep"
[ -f "$MODDIR/modules.builtin" ] || die "no $MODDIR/modules.builtin"
t1=$(date +%s)
log "built in $((t1 - t0)) s"
echo "$((t1 - t0))" >"$DIR/build-seconds"

cat >"$DIR/env" <<EOF
KVER=$KVER
KDIR=$SRC
VMLINUZ=$SRC/arch/x86/boot/bzImage
MODDIR=$MODDIR
SUITE=$SUITE
EOF
date >"$DIR/stamp"
cat "$DIR/env"
