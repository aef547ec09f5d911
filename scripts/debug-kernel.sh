#!/bin/sh
# Build (once per machine) the memballoon debug kernel from Debian's
# linux-source-6.1 and print its kernel env, as scripts/guest-kernel.sh does
# for the distribution kernels:
#
#   KVER=6.1.NNN-debug-memballoon  (label 6.1-debug in test names)
#   KDIR=<cache>/linux            (full build tree: make -C KDIR M=...)
#   VMLINUZ=<cache>/linux/arch/x86/boot/bzImage
#   MODDIR=<cache>/lib/modules/KVER  (modules_install: modules.dep, modules.builtin)
#   SUITE=debug
#
# Usage: scripts/debug-kernel.sh [--print-key] [--rebuild]
#
# The config is `make x86_64_defconfig kvm_guest.config` plus the fragment
# scripts/debug-kernel.config applied with scripts/config and
# `make olddefconfig` (every fragment line is checked afterwards).  The
# result lives in
#   ${MB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memballoon}/debug-kernel/<key>/
# where <key> hashes the linux-source-6.1 version, the fragment's content and
# `gcc --version`; a complete cache (stamp + env) is reused without building.
# The source package is fetched with `apt-get download` + `dpkg -x` (nothing
# is installed from it); the build runs under `nice -n 10` with -j$(nproc)
# and ccache when it is installed (scripts/check-debug.sh installs it).
# Build log: <cache>/build.log.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${MB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memballoon}
FRAG=$HERE/debug-kernel.config
SRCPKG=linux-source-6.1

log() { echo "debug-kernel.sh: $*" >&2; }
die() { log "$*"; exit 1; }

PRINT_KEY=0
REBUILD=0
while [ $# -gt 0 ]; do
	case "$1" in
	--print-key) PRINT_KEY=1; shift ;;
	--rebuild) REBUILD=1; shift ;;
	-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument $1" ;;
	esac
done

apt_sys() { sh "$HERE/apt-suite.sh" system "$@"; }

# The version apt would fetch (the installed one if the package is installed).
srcver() {
	v=$(dpkg-query -W -f='${Status} ${Version}' "$SRCPKG" 2>/dev/null |
		sed -n 's/^install ok installed //p')
	[ -n "$v" ] || v=$(apt_sys apt-cache policy "$SRCPKG" 2>/dev/null |
		sed -n 's/^ *Candidate: //p' | grep -v '(none)' || true)
	echo "$v"
}

SRCVER=$(srcver)
if [ -z "$SRCVER" ]; then
	apt_sys --update >&2 || true
	SRCVER=$(srcver)
fi
[ -n "$SRCVER" ] || die "apt knows no $SRCPKG"
GCCVER=$(gcc --version | head -n1)
KEY=$( { echo "$SRCPKG $SRCVER"; cat "$FRAG"; echo "$GCCVER"; } | sha256sum | cut -c1-16)
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

# 1. The source tree.
SRC=$DIR/linux
if [ ! -f "$SRC/Makefile" ]; then
	log "fetching $SRCPKG $SRCVER"
	rm -rf "$DIR/deb" "$DIR/pkg" "$SRC"
	mkdir -p "$DIR/deb"
	(cd "$DIR/deb" && apt_sys apt-get download -q "$SRCPKG=$SRCVER" >&2)
	dpkg -x "$DIR"/deb/*.deb "$DIR/pkg"
	tarball=$(find "$DIR/pkg/usr/src" -maxdepth 1 -name 'linux-source-*.tar.*' | head -n1)
	[ -n "$tarball" ] || die "no source tarball in $SRCPKG"
	log "unpacking $(basename "$tarball")"
	mkdir -p "$SRC.tmp"
	tar -xf "$tarball" -C "$SRC.tmp" --strip-components=1
	mv "$SRC.tmp" "$SRC"
	rm -rf "$DIR/deb" "$DIR/pkg"
fi

# 2. The config.
CC=gcc
if command -v ccache >/dev/null 2>&1; then
	CC="ccache gcc"
	export CCACHE_DIR="${CCACHE_DIR:-$CACHE/ccache}"
	export CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-8G}"
	# The kernel embeds no build paths we care about; make hits independent of KEY.
	export CCACHE_BASEDIR="$SRC"
	export CCACHE_NOHASHDIR=1
fi
# MB_DEBUG_JOBS: make -j (default: the number of CPUs).
J=${MB_DEBUG_JOBS:-$(nproc)}
mk() { nice -n 10 make -C "$SRC" CC="$CC" HOSTCC=gcc -j"$J" "$@"; }

log "configuring (x86_64_defconfig kvm_guest.config + $(basename "$FRAG"))"
mk x86_64_defconfig kvm_guest.config >>"$LOGF" 2>&1
# Apply the fragment with scripts/config.
grep -E '^CONFIG_[A-Za-z0-9_]+=' "$FRAG" | while IFS= read -r line; do
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
done
# DEBUG_INFO_NONE is a choice: turn the DWARF options off explicitly.
"$SRC/scripts/config" --file "$SRC/.config" -d DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT \
	-d DEBUG_INFO_DWARF4 -d DEBUG_INFO_DWARF5 -d DEBUG_INFO_BTF
mk olddefconfig >>"$LOGF" 2>&1
# Two passes: options whose dependencies were enabled only in the first one.
grep -E '^CONFIG_[A-Za-z0-9_]+=[ym]$' "$FRAG" | while IFS= read -r line; do
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
done <<EOF
$(grep -E '^CONFIG_[A-Za-z0-9_]+=' "$FRAG")
EOF
[ "$bad" = 0 ] || die "the fragment did not apply (see above); fix scripts/debug-kernel.config"

# 3. Build and install the modules into the cache.
log "building with -j$J ($CC), log: $LOGF"
mk bzImage modules >>"$LOGF" 2>&1 || { tail -n 40 "$LOGF" >&2; die "kernel build failed"; }
# (make kernelrelease before the build ignores CONFIG_LOCALVERSION: no auto.conf yet)
KVER=$(cat "$SRC/include/config/kernel.release")
rm -rf "$DIR/lib"
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
SUITE=debug
EOF
date >"$DIR/stamp"
cat "$DIR/env"
