#!/bin/sh
# Print the path of a qemu-system-x86_64 of the given version, fetching it
# into the cache when the system's QEMU is another version.
#
# Usage: scripts/qemu.sh [--arch ARCH] VERSION        e.g. 7.2 or 10.0
#
# --arch arm64 prints a qemu-system-aarch64 instead (Debian's
# qemu-system-arm), --arch ppc64el a qemu-system-ppc64 (qemu-system-ppc),
# installed with scripts/deps.sh on first use: only the system's version
# (7.2; VERSION may be "system"); the fetch below is the x86 QEMU's.
#
# 7.2 is bookworm's QEMU (qemu-system-x86, installed by scripts/deps.sh).
# Another version comes from bookworm-backports (10.0 today): its
# qemu-system-x86, qemu-system-common, qemu-system-data and seabios are
# fetched with `apt-get download` (scripts/apt-suite.sh) and unpacked with
# `dpkg -x` into ${MB_CACHE:-~/.cache/memballoon}/qemu/<version>/root, beside
# the system's QEMU, which stays installed.  What is printed then is a
# wrapper script in that directory: it runs the unpacked binary in a private
# mount namespace (unshare -m; as non-root also a user namespace) with the
# unpacked module directory bind-mounted over the system's
# /usr/lib/x86_64-linux-gnu/qemu (the system QEMU's modules would otherwise
# be loaded and break it) and -L pointing at the unpacked firmware.  The
# wrapper execs QEMU, so its process id is QEMU's.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${MB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memballoon}
ARCH=
if [ "${1:-}" = --arch ]; then
	ARCH=$2
	shift 2
fi
WANT=${1:?usage: qemu.sh [--arch ARCH] VERSION (e.g. 7.2 or 10.0)}
SUITE=bookworm-backports
PKGS="qemu-system-x86 qemu-system-common qemu-system-data seabios"
MODDIR=/usr/lib/x86_64-linux-gnu/qemu

log() { echo "qemu.sh: $*" >&2; }
die() { log "$*"; exit 1; }

majmin() {	# "QEMU emulator version 10.0.2 (...)" or "1:10.0.2+ds-2" -> 10.0
	sed -n 's/^\(QEMU emulator version \|[0-9]*:\)\{0,1\}\([0-9][0-9]*\.[0-9][0-9]*\).*/\2/p' | head -n1
}

# another architecture's guests: the system's QEMU for them (package, binary)
case "$ARCH" in
"" | amd64) PKG= ;;
arm64) PKG=qemu-system-arm BIN=qemu-system-aarch64 ;;
ppc64el) PKG=qemu-system-ppc BIN=qemu-system-ppc64 ;;
*) die "no QEMU for guests of $ARCH (arm64, ppc64el)" ;;
esac
if [ -n "$PKG" ]; then
	sh "$HERE/deps.sh" "$PKG"
	got=$("$BIN" --version | majmin)
	[ "$got" = "$WANT" ] || [ "$WANT" = system ] ||
		die "QEMU $WANT for $ARCH: only the system's ($got)"
	command -v "$BIN"
	exit 0
fi

SYS=$(command -v qemu-system-x86_64 || true)
if [ -n "$SYS" ] && [ "$("$SYS" --version 2>/dev/null | majmin)" = "$WANT" ]; then
	echo "$SYS"
	exit 0
fi

# Any complete cached build of the wanted major.minor will do.
for d in "$CACHE"/qemu/"$WANT".*; do
	if [ -f "$d/stamp" ] && [ -x "$d/qemu-system-x86_64" ]; then
		echo "$d/qemu-system-x86_64"
		exit 0
	fi
done

apt_in() { sh "$HERE/apt-suite.sh" "$SUITE" "$@"; }
candidate() {
	apt_in apt-cache policy qemu-system-x86 2>/dev/null | sed -n 's/^ *Candidate: //p'
}
VER=$(candidate)
if [ "$(echo "$VER" | majmin)" != "$WANT" ]; then
	apt_in --update
	VER=$(candidate)
fi
[ "$(echo "$VER" | majmin)" = "$WANT" ] ||
	die "QEMU $WANT is neither the system's nor in $SUITE (which has ${VER:-nothing})"

DIR=$CACHE/qemu/${VER#*:}
ROOT=$DIR/root
mkdir -p "$DIR"
exec 9>"$DIR/.lock"
flock 9
if [ ! -f "$DIR/stamp" ]; then
	log "fetching QEMU $VER from $SUITE"
	rm -rf "$DIR/debs" "$ROOT"
	mkdir -p "$DIR/debs" "$ROOT"
	# The same source version for the qemu packages; seabios as the suite has it.
	set --
	for p in $PKGS; do
		case "$p" in
		qemu-*) set -- "$@" "$p=$VER" ;;
		*) set -- "$@" "$p" ;;
		esac
	done
	(cd "$DIR/debs" && apt_in apt-get download -q "$@" >&2)
	for deb in "$DIR"/debs/*.deb; do
		dpkg -x "$deb" "$ROOT"
	done
	rm -rf "$DIR/debs"
	BIN=$ROOT/usr/bin/qemu-system-x86_64
	[ -x "$BIN" ] || die "no $BIN in the packages"
	missing=$(ldd "$BIN" 2>&1 | grep 'not found' || true)
	[ -z "$missing" ] || die "QEMU $VER needs libraries this machine lacks: $missing"

	cat >"$DIR/qemu-system-x86_64.tmp" <<EOF
#!/bin/sh
# QEMU $VER from $SUITE, unpacked by scripts/qemu.sh.
R='$ROOT'
M=$MODDIR
set -- "\$R/usr/bin/qemu-system-x86_64" -L "\$R/usr/share/qemu" -L "\$R/usr/share/seabios" "\$@"
[ -d "\$M" ] || exec "\$@"
U=
[ "\$(id -u)" -eq 0 ] || U=-r
exec unshare -m \$U --propagation private sh -c \\
	'mount --bind "\$0/usr/lib/x86_64-linux-gnu/qemu" "\$1" && shift && exec "\$@"' "\$R" "\$M" "\$@"
EOF
	chmod +x "$DIR/qemu-system-x86_64.tmp"
	mv "$DIR/qemu-system-x86_64.tmp" "$DIR/qemu-system-x86_64"
	got=$("$DIR/qemu-system-x86_64" --version | majmin)
	[ "$got" = "$WANT" ] || die "the unpacked QEMU says it is $got, not $WANT"
	date >"$DIR/stamp"
fi
echo "$DIR/qemu-system-x86_64"
