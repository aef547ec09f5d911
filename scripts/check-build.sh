#!/bin/sh
# The driver's build checks for one kernel, out of tree against its headers:
# a W=1 build (modpost included) with sparse (`make C=2`, endianness checks
# on) in the same pass, failing on anything either reports.
#
# Usage: scripts/check-build.sh KVER|KDIR|ENV_FILE     (as build-module.sh)
#
# Prints the build's output, then one verdict line; exit status 0 when the
# module was built, sparse checked every driver/*.c and nothing was
# reported (no "warning:" or "error:" line; kbuild's "pahole version
# differs" notice is not about the code), 1 otherwise.
#
# Debian's 6.1 and 6.12 header trees run the host's sparse
# (scripts/build-module.sh ... C=2 W=1).  7.x trees cannot: their Makefile
# validates sparse with scripts/checker-valid.sh, which the header packages
# do not ship, and their headers need a newer sparse than trixie's; for
# such a kernel this is the W=1 build alone, and sparse runs in the kernel
# source tree of the same version (scripts/check-intree.sh C=2, the
# intree_w1 test: the same headers and the Debian config, and the chroot's
# newer sparse).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")

log() { echo "check-build.sh: $*" >&2; }
die() { log "$*"; exit 1; }

[ $# -eq 1 ] || die "usage: check-build.sh KVER|KDIR|ENV_FILE"
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
SPARSE=C=2
HOW="against its headers"
if grep -q 'checker-valid.sh' "$TOPMK" && [ ! -f "$SRCTREE/scripts/checker-valid.sh" ]; then
	SPARSE=
	HOW="against its headers; sparse in tree: intree_w1"
fi
rc=0
# shellcheck disable=SC2086
sh "$HERE/build-module.sh" -o "$TMP/build" "$TARGET" $SPARSE W=1 >"$OUT" 2>&1 || rc=$?
cat "$OUT"

files=0
checked=0
for f in "$REPO"/driver/*.c; do
	case "$f" in *.mod.c) continue ;; esac
	files=$((files + 1))
	b=$(basename "$f")
	if grep -Eq "^ +CHECK +(.*/)?$b\$" "$OUT"; then checked=$((checked + 1)); fi
done
diags=$(grep -E '(warning|error):' "$OUT" | grep -vc 'pahole version differs' || true)
if [ "$rc" -ne 0 ] || [ ! -f "$TMP/build/driver/memballoon.ko" ]; then
	log "$KVER: the build failed ($HOW)"
	exit 1
fi
if [ -n "$SPARSE" ] && { grep -q 'is not available or not up to date' "$OUT" ||
	[ "$checked" -ne "$files" ]; }; then
	log "$KVER: sparse checked $checked of $files files ($HOW)"
	exit 1
fi
if [ "$diags" -ne 0 ]; then
	log "$KVER: $diags compiler/sparse diagnostics in $files files ($HOW)"
	exit 1
fi
if [ -n "$SPARSE" ]; then
	log "$KVER: W=1 and sparse clean, $files files, endianness checked ($HOW)"
else
	log "$KVER: W=1 clean, $files files ($HOW)"
fi
