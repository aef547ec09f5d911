#!/bin/sh
# Run the kernel's checkpatch.pl (--no-tree --strict) on the given files.
# checkpatch.pl is not in Debian's header packages, so it comes from
# bookworm's linux-source-6.1, fetched once with `apt-get download` into the
# cache; only the script and its data files are kept.
# Usage: scripts/checkpatch.sh FILE...
set -eu

CACHE=${MB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memballoon}
DIR=$CACHE/tools/checkpatch
CP=$DIR/checkpatch.pl

log() { echo "checkpatch.sh: $*" >&2; }

if [ ! -f "$DIR/stamp" ]; then
	command -v perl >/dev/null || { log "perl is missing"; exit 1; }
	mkdir -p "$DIR/tmp"
	if ! (cd "$DIR/tmp" && apt-get download -q linux-source-6.1 >&2); then
		apt-get update -qq >&2
		(cd "$DIR/tmp" && apt-get download -q linux-source-6.1 >&2)
	fi
	dpkg -x "$DIR"/tmp/linux-source-6.1_*.deb "$DIR/tmp/x"
	tar -xJf "$DIR"/tmp/x/usr/src/linux-source-6.1.tar.xz -C "$DIR/tmp" \
		linux-source-6.1/scripts/checkpatch.pl \
		linux-source-6.1/scripts/spelling.txt \
		linux-source-6.1/scripts/const_structs.checkpatch
	mv "$DIR"/tmp/linux-source-6.1/scripts/* "$DIR/"
	rm -rf "$DIR/tmp"
	date >"$DIR/stamp"
fi

exec perl "$CP" --no-tree --strict --terse --show-types -f "$@"
