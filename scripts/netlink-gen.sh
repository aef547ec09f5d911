#!/bin/sh
# Generate everything the memballoon netlink family's spec
# (Documentation/netlink/specs/memballoon.yaml) describes, with the kernel's
# own generator, ynl-gen-c (tools/net/ynl/pyynl/ynl_gen_c.py of the newest
# Debian kernel source, scripts/kernel-source.sh):
#
#   include/uapi/linux/memballoon.h   the UAPI          (ynl-gen-c --mode uapi)
#   driver/netlink-gen.[ch]           policies, ops     (ynl-gen-c --mode kernel)
#   include/memballoon-names.h        userspace's names (scripts/nl-names.py)
#
# Usage: scripts/netlink-gen.sh            write them (make netlink)
#        scripts/netlink-gen.sh --check    generate into a temporary tree and
#                                          fail, with the diff, if any
#                                          committed file differs
#
# ynl-gen-c finds the spec's schema (Documentation/netlink/genetlink-legacy.yaml)
# next to the spec and the tree's root by its MAINTAINERS file, so it runs on
# a copy of the spec staged in a kernel-shaped temporary directory; its
# "To regenerate run: tools/net/ynl/ynl-regen.sh" line is replaced with
# this project's command.  Needs python3-yaml and python3-jsonschema.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
PY=/usr/bin/python3
SPEC=Documentation/netlink/specs/memballoon.yaml
FILES="include/uapi/linux/memballoon.h driver/netlink-gen.h driver/netlink-gen.c
       include/memballoon-names.h"

log() { echo "netlink-gen.sh: $*" >&2; }
die() { log "$*"; exit 1; }

CHECK=0
case "${1:-}" in
--check) CHECK=1 ;;
"") ;;
*) die "usage: netlink-gen.sh [--check]" ;;
esac

SRC=$(sh "$HERE/kernel-source.sh" | sed -n 's/^SRC=//p')
GEN=$SRC/tools/net/ynl/pyynl/ynl_gen_c.py
SCHEMA=$SRC/Documentation/netlink/genetlink-legacy.yaml
[ -f "$GEN" ] && [ -f "$SCHEMA" ] || die "no ynl-gen-c in $SRC"
$PY -c 'import yaml, jsonschema' 2>/dev/null ||
	die "ynl-gen-c needs python3-yaml and python3-jsonschema (scripts/deps.sh)"

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/k/Documentation/netlink/specs" "$TMP/out/include/uapi/linux" "$TMP/out/driver"
: >"$TMP/k/MAINTAINERS"
cp "$SCHEMA" "$TMP/k/Documentation/netlink/"
cp "$REPO/$SPEC" "$TMP/k/$SPEC"

ynl() {	# ynl OUTPUT ARGS...
	out=$1
	shift
	$PY "$GEN" --spec "$TMP/k/$SPEC" "$@" -o "$TMP/out/$out" >"$TMP/log" 2>&1 ||
		{ cat "$TMP/log" >&2; die "ynl-gen-c failed for $out"; }
}
ynl include/uapi/linux/memballoon.h --mode uapi --header
ynl driver/netlink-gen.h --mode kernel --header --function-prefix mb-nl
ynl driver/netlink-gen.c --mode kernel --source --function-prefix mb-nl
$PY "$HERE/nl-names.py" --ynl "$GEN" --spec "$TMP/k/$SPEC" \
	-o "$TMP/out/include/memballoon-names.h"

for f in $FILES; do
	sed -i 's|^/\* To regenerate run: tools/net/ynl/ynl-regen.sh \*/$|/* To regenerate run: make netlink */|' \
		"$TMP/out/$f"
done

if [ "$CHECK" = 1 ]; then
	rc=0
	for f in $FILES; do
		if ! diff -u "$REPO/$f" "$TMP/out/$f" >"$TMP/diff" 2>&1; then
			log "$f differs from what $SPEC generates (run make netlink):"
			cat "$TMP/diff" >&2
			rc=1
		fi
	done
	[ "$rc" = 0 ] && log "the generated files match $SPEC (ynl-gen-c of $(basename "$SRC"))"
	exit $rc
fi

for f in $FILES; do
	if cmp -s "$TMP/out/$f" "$REPO/$f"; then
		continue
	fi
	cp "$TMP/out/$f" "$REPO/$f"
	log "wrote $f"
done
