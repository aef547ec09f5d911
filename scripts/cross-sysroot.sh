#!/bin/sh
# Make (once) and print a sysroot with the libraries the daemon links for
# another architecture, for cross builds (scripts/cross-daemon.sh):
#
#   scripts/cross-sysroot.sh ARCH        ARCH: arm64, ppc64el or s390x
#   -> ${MB_CACHE:-~/.cache/memballoon}/sysroots/<codename>-ARCH
#
# The machine's own suite's (bookworm) .debs of libudev-dev, libnl-3-dev,
# libnl-genl-3-dev, libcmocka-dev and their runtime libraries, of ARCH,
# fetched with `apt-get download` (scripts/apt-suite.sh CODENAME:ARCH, a
# private apt configuration) and unpacked with `dpkg -x`: no dpkg foreign
# architecture is added and nothing is installed.  The C library, libgcc
# and the sanitizers' runtimes are the cross compiler's (Debian's
# libc6-dev-ARCH-cross etc. in /usr/<triplet>, which gcc-<triplet> pulls in).
# About 1 MB of downloads per architecture; a complete sysroot is reused.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${MB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memballoon}
ARCH=${1:?usage: cross-sysroot.sh ARCH}
log() { echo "cross-sysroot.sh: $*" >&2; }

case "$ARCH" in
arm64 | ppc64el | s390x) ;;
*) log "unknown architecture $ARCH (arm64, ppc64el, s390x)"; exit 1 ;;
esac
# shellcheck disable=SC1091
CODENAME=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
PKGS="libudev-dev libudev1 libnl-3-dev libnl-3-200 libnl-genl-3-dev libnl-genl-3-200
      libcmocka-dev libcmocka0"
DIR=$CACHE/sysroots/$CODENAME-$ARCH

if [ -f "$DIR/.mb-stamp" ]; then
	echo "$DIR"
	exit 0
fi
mkdir -p "$CACHE/sysroots"
exec 9>"$CACHE/sysroots/.$CODENAME-$ARCH.lock"
flock 9
if [ -f "$DIR/.mb-stamp" ]; then
	echo "$DIR"
	exit 0
fi

TMP=$DIR.tmp
rm -rf "$TMP" "$DIR"
mkdir -p "$TMP/debs"
apt_arch() { sh "$HERE/apt-suite.sh" "$CODENAME:$ARCH" "$@"; }
# shellcheck disable=SC2086
if ! (cd "$TMP/debs" && apt_arch apt-get download -q $PKGS >&2); then
	apt_arch --update
	# shellcheck disable=SC2086
	(cd "$TMP/debs" && apt_arch apt-get download -q $PKGS >&2) || {
		log "cannot download $PKGS for $ARCH"
		exit 1
	}
fi
for deb in "$TMP"/debs/*.deb; do
	dpkg -x "$deb" "$TMP"
done
log "$ARCH: $(ls "$TMP"/debs | wc -l) packages, $(du -ck "$TMP"/debs/*.deb | tail -n1 | cut -f1) KiB"
rm -rf "$TMP/debs"
# The -dev packages' .so links are absolute (/lib/...): into the sysroot.
find "$TMP" -type l | while read -r l; do
	t=$(readlink "$l")
	case "$t" in
	/*) ln -sfn "$TMP$t" "$l" ;;
	esac
done
mv "$TMP" "$DIR"
# the links again, now that the directory has its final name
find "$DIR" -type l | while read -r l; do
	t=$(readlink "$l")
	case "$t" in
	"$TMP"/*) ln -sfn "$DIR${t#"$TMP"}" "$l" ;;
	esac
done
date >"$DIR/.mb-stamp"
echo "$DIR"
