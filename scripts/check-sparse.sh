#!/bin/sh
# Run sparse (`make C=2`, endianness checks on) over the driver for one
# kernel and fail on anything it reports.
#
# Usage: scripts/check-sparse.sh KVER|KDIR|ENV_FILE     (as build-module.sh)
#
# Prints the build's output, then one verdict line; exit status 0 when sparse
# checked every driver/*.c and reported nothing (no "warning:" or "error:"
# line at all: W=1 is on too), 1 otherwise.
#
# Debian's 6.1 and 6.12 header trees run the host's sparse
# (scripts/build-module.sh ... C=2 W=1).  7.x trees cannot: their Makefile
# validates sparse with scripts/checker-valid.sh, which the header packages
# do not ship, and their headers need a newer sparse than trixie's; such a
# kernel is checked in the kernel source tree of the same version instead
# (scripts/check-intree.sh C=2: the same headers and the Debian config, and
# the chroot's newer sparse).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")

log() { echo "check-sparse.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[ $# -eq 1 ] || die "usage: check-sparse.sh KVER|KDIR|ENV_FILE"
TARGET=$1

INFO=$(sh "$HERE/build-module.sh" -n "$TARGET")
KVER=$(echo "$INFO" | sed -n 's/^KVER=//p')
KDIR=$(echo "$INFO" | sed -n 's/^KDIR=//p')

# The tree kbuild runs in: a header tree's Makefile includes its -common one.
TOPMK=$KDIR/Makefile
inc=$(sed -n 's|^include \$(dir \$(lastword \$(MAKEFILE_LIST)))\(.*\)/Makefile$|\1|p' "$TOPMK" | head -n1)
[ -z "$inc" ] || TOPMK=$KDIR/$inc/Makefile
SRCTREE=$(dirname "$TOPMK")

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
OUT=$TMP/out
if grep -q 'checker-valid.sh' "$TOPMK" && [ ! -f "$SRCTREE/scripts/checker-valid.sh" ]; then
	SENV=$(sh "$HERE/kernel-source.sh")
	SVER=$(echo "$SENV" | sed -n 's/^VERSION=//p')
	case "$KVER" in
	"${SVER%%-*}"+*) ;;
	*) die "$KVER: its headers cannot run sparse and the kernel source is $SVER" ;;
	esac
	HOW="in tree (linux-source $SVER)"
	rc=0
	sh "$HERE/check-intree.sh" C=2 >"$OUT" 2>&1 || rc=$?
else
	HOW="against its headers"
	rc=0
	sh "$HERE/build-module.sh" -o "$TMP/build" "$TARGET" C=2 W=1 >"$OUT" 2>&1 || rc=$?
fi
cat "$OUT"

files=0
checked=0
for f in "$REPO"/driver/*.c; do
	case "$f" in *.mod.c) continue ;; esac
	files=$((files + 1))
	b=$(basename "$f")
	if grep -Eq "^ +CHECK +(.*/)?$b\$" "$OUT"; then checked=$((checked + 1)); fi
done
diags=$(grep -Ec '(warning|error):' "$OUT" || true)
if [ "$rc" -ne 0 ]; then
	log "$KVER: the build failed ($HOW)"
	exit 1
fi
if grep -q 'is not available or not up to date' "$OUT" || [ "$checked" -ne "$files" ]; then
	log "$KVER: sparse checked $checked of $files files ($HOW)"
	exit 1
fi
if [ "$diags" -ne 0 ]; then
	log "$KVER: $diags sparse/compiler diagnostics in $files files ($HOW)"
	exit 1
fi
log "$KVER: sparse clean, $files files, endianness checked ($HOW)"
