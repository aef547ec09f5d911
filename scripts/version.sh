#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Print memballoon's version: the one number the module (MODULE_VERSION),
# memballoond --version, memballoonctl --version and the Debian packages
# carry.
#
#   in a git checkout with a tag v<version>:
#       git describe --tags --match 'v[0-9]*' --dirty, without the v
#       (0.2.0, 0.2.0-3-gabcdef0, 0.2.0-3-gabcdef0-dirty)
#   in a git checkout without such a tag:
#       VERSION, +git<commits>.<short hash>, -dirty for local changes
#       (0.2.0+git123.abcdef0)
#   anywhere else (a release tarball, the DKMS source tree, the copy
#   `make deb` builds from): the VERSION file, which a tree exported from
#   a checkout holds the full version in (0.2.0+git123.abcdef0)
#
#   scripts/version.sh --export DIR
#       for a copy of the sources in DIR: writes this script to
#       DIR/scripts/version.sh and the version printed above to DIR/VERSION
#       (scripts/build-module.sh, the DKMS source tree, make deb)
#
# VERSION is the last release; a checkout is that release plus what git
# counts since.  git is asked only about the tree this script lives in: a
# copy inside another checkout (build/deb/...) is not that checkout.
set -eu

TOP=$(cd "$(dirname "$0")/.." && pwd -P)
if [ "${1:-}" = --export ]; then
	DIR=${2:?usage: version.sh --export DIR}
	v=$(sh "$0")
	mkdir -p "$DIR/scripts"
	[ "$(cd "$DIR" && pwd -P)" != "$TOP" ] ||
		{ echo "version.sh: will not export into the checkout itself" >&2; exit 1; }
	cp "$0" "$DIR/scripts/version.sh"
	echo "$v" >"$DIR/VERSION.tmp"
	mv "$DIR/VERSION.tmp" "$DIR/VERSION"
	exit 0
fi
BASE=$(sed -n '1{s/[[:space:]]//g;p;}' "$TOP/VERSION" 2>/dev/null || true)
[ -n "$BASE" ] || { echo "version.sh: no version in $TOP/VERSION" >&2; exit 1; }

if command -v git >/dev/null 2>&1 &&
	[ "$(git -C "$TOP" rev-parse --show-toplevel 2>/dev/null)" = "$TOP" ]; then
	if d=$(git -C "$TOP" describe --tags --match 'v[0-9]*' --dirty 2>/dev/null); then
		echo "${d#v}"
		exit 0
	fi
	if n=$(git -C "$TOP" rev-list --count HEAD 2>/dev/null) &&
		h=$(git -C "$TOP" rev-parse --short=7 HEAD 2>/dev/null); then
		dirty=
		git -C "$TOP" update-index -q --refresh >/dev/null 2>&1 || true
		git -C "$TOP" diff-index --quiet HEAD -- 2>/dev/null || dirty=-dirty
		echo "$BASE+git$n.$h$dirty"
		exit 0
	fi
fi
echo "$BASE"
