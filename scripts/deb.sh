#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# `make deb`: build memballoon's two Debian packages, memballoon-dkms
# (arch all) and memballoond (arch any), and check them with lintian.
#
# Usage: scripts/deb.sh [OUTDIR]          (default build/deb)
#
# The packages are built from a copy of the tree in OUTDIR/src, so the tree
# itself stays clean: the files git knows (tracked, and untracked ones it
# does not ignore) as they are in the working tree, or, outside a git
# checkout, everything but build/.  In the copy, VERSION holds the full
# version (scripts/version.sh --export), packaging/debian/ becomes debian/,
# and debian/changelog is written for VERSION-1.  dpkg-buildpackage -b
# builds without root (Rules-Requires-Root: no) and without the network;
# no debug symbol package (DEB_BUILD_OPTIONS=noautodbgsym), so OUTDIR holds
# exactly two .deb files, with their .changes and .buildinfo.  Then lintian
# runs on the .changes (both packages): any error or warning fails.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
OUT=${1:-$REPO/build/deb}

log() { echo "deb.sh: $*" >&2; }
die() { log "$*"; exit 1; }

for t in dpkg-buildpackage dh dh_dkms lintian; do
	command -v "$t" >/dev/null || die "$t is missing (scripts/deps.sh installs it)"
done

VERSION=$(sh "$HERE/version.sh")
DEBVER=$VERSION-1
t0=$(date +%s)

# OUTDIR is emptied: never the tree, a directory holding it, or /
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd -P)
case "$(cd "$REPO" && pwd -P)/" in
"$OUT"/*) die "will not empty $OUT: it holds the source tree" ;;
esac
[ "$OUT" != / ] || die "will not empty /"
rm -rf "$OUT"
SRC=$OUT/src/memballoon-$VERSION
mkdir -p "$SRC"

if [ "$(git -C "$REPO" rev-parse --show-toplevel 2>/dev/null)" = "$(cd "$REPO" && pwd -P)" ]; then
	git -C "$REPO" ls-files --cached --others --exclude-standard |
		while read -r f; do [ -f "$REPO/$f" ] && printf '%s\n' "$f"; done |
		tar -C "$REPO" -cf - -T - | tar -C "$SRC" -xf -
	DATE=$(git -C "$REPO" log -1 --format=%cD)
else
	tar -C "$REPO" --exclude=./build -cf - . | tar -C "$SRC" -xf -
	DATE=$(date -R)
fi
sh "$HERE/version.sh" --export "$SRC"
[ "$(sh "$SRC/scripts/version.sh")" = "$VERSION" ] || die "the copy's version is not $VERSION"
cp -R "$REPO/packaging/debian" "$SRC/debian"
MAINT=$(sed -n 's/^Maintainer: //p' "$SRC/debian/control")
cat >"$SRC/debian/changelog" <<EOT
memballoon ($DEBVER) unstable; urgency=medium

  * memballoon $VERSION.
  * What changed is in NEWS (changelog.gz).

 -- $MAINT  $DATE
EOT

log "building memballoon $DEBVER in $SRC"
(
	cd "$SRC"
	DEB_BUILD_OPTIONS="${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }noautodbgsym parallel=$(nproc)" \
		dpkg-buildpackage -b -us -uc --no-sign >"$OUT/build.log" 2>&1
) || { tail -n 40 "$OUT/build.log" >&2; die "dpkg-buildpackage failed (log: $OUT/build.log)"; }
mv "$OUT"/src/*.deb "$OUT"/src/*.changes "$OUT"/src/*.buildinfo "$OUT/"
t1=$(date +%s)

CHANGES=$OUT/memballoon_${DEBVER}_$(dpkg --print-architecture).changes
rc=0
lintian --fail-on error,warning "$CHANGES" >"$OUT/lintian.log" 2>&1 || rc=$?
cat "$OUT/lintian.log"
t2=$(date +%s)
for d in "$OUT"/*.deb; do log "built $d"; done
log "memballoon $DEBVER: built in $((t1 - t0)) s, lintian $((t2 - t1)) s"
[ "$rc" -eq 0 ] || die "lintian found errors or warnings (above; $OUT/lintian.log)"
log "lintian: no errors, no warnings"
