#!/bin/sh
# Run apt-get or apt-cache against ONE Debian suite through a private apt
# configuration kept in the cache, without touching the system's sources:
#
#   scripts/apt-suite.sh SUITE apt-cache depends linux-image-amd64
#   scripts/apt-suite.sh SUITE apt-get download qemu-system-x86
#   scripts/apt-suite.sh SUITE --update        (refresh the suite's lists)
#   scripts/apt-suite.sh --mirror              (print the mirror URI)
#   scripts/apt-suite.sh SUITE:ARCH ...        (another architecture, e.g.
#                                              bookworm:arm64)
#
# SUITE "system" (or the machine's own codename, e.g. bookworm) uses the
# system's apt configuration unchanged.  Any other suite (bookworm-backports,
# trixie, trixie-backports, ...) gets ${MB_CACHE}/apt/SUITE/ with a
# sources.list naming only that suite, its own lists and package cache.  The
# mirror URI is copied from the machine's own apt sources (the entry that
# serves its codename), so no archive host name is written into the project.
# The lists are fetched on first use; --update refreshes them.
#
# SUITE:ARCH (a Debian architecture: arm64, ppc64el, s390x) is the same for
# packages of that architecture: ${MB_CACHE}/apt/SUITE-ARCH/ with
# APT::Architecture and APT::Architectures set to ARCH, for `apt-get
# download` (nothing of ARCH is installed, no dpkg architecture is added).
# The machine's own codename keeps the system's sources (its -updates and
# -security too, so the kernel is the same build as the host's suite has)
# with private lists and cache.
set -eu

CACHE=${MB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memballoon}
log() { echo "apt-suite.sh: $*" >&2; }

codename() {
	# shellcheck disable=SC1091
	(. /etc/os-release && echo "${VERSION_CODENAME:-}")
}

# The URI of the system's entry for its own codename (deb822 .sources first,
# then one-line sources.list files).
mirror() {
	cn=$(codename)
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		awk -v cn="$cn" '
			function flush() {
				if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " cn " ") && uris != "") {
					split(uris, u, " "); print u[1]; found = 1; exit
				}
				types = suites = uris = ""
			}
			/^[ \t]*$/ { flush(); next }
			/^[ \t]*#/ { next }
			tolower($1) == "types:" { $1 = ""; types = $0 }
			tolower($1) == "suites:" { $1 = ""; suites = $0 }
			tolower($1) == "uris:" { $1 = ""; uris = $0; sub(/^ +/, "", uris) }
			END { if (!found) flush() }
		' "$f"
	done | head -n1 | grep . && return 0
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		# deb [options] URI SUITE COMPONENTS...
		sed -n 's/^[ \t]*deb[ \t]\+\(\[[^]]*\][ \t]\+\)\?\([^ \t]\+\)[ \t]\+'"$cn"'[ \t].*/\2/p' "$f"
	done | head -n1 | grep . && return 0
	log "no apt source for '$cn' found in /etc/apt"
	return 1
}

if [ "${1:-}" = --mirror ]; then
	mirror
	exit
fi

[ $# -ge 2 ] || { echo "usage: $0 SUITE apt-get|apt-cache ARGS... | SUITE --update | --mirror" >&2; exit 2; }
SUITE=$1
shift
ARCH=
case "$SUITE" in
*:*) ARCH=${SUITE#*:}; SUITE=${SUITE%%:*} ;;
esac

SUDO=
[ "$(id -u)" -ne 0 ] && SUDO=sudo
# As root, apt drops to _apt for downloads and then warns that it cannot
# write into the caller's directory: stay root.
ROOTOPT=
[ "$(id -u)" -eq 0 ] && ROOTOPT="-o APT::Sandbox::User=root"

[ "$SUITE" != system ] || SUITE=$(codename)
if [ -z "$ARCH" ] && [ "$SUITE" = "$(codename)" ]; then
	if [ "$1" = --update ]; then
		log "apt-get update (system)"
		exec $SUDO apt-get update -qq
	fi
	cmd=$1
	shift
	# shellcheck disable=SC2086
	exec "$cmd" $ROOTOPT "$@"
fi

DIR=$CACHE/apt/$SUITE${ARCH:+-$ARCH}
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
mkdir -p "$DIR/lists/partial" "$DIR/cache/archives/partial"
# The system's sources (another architecture of the machine's codename) or
# one suite's.
SOURCES="-o Dir::Etc::SourceList=$DIR/sources.list -o Dir::Etc::SourceParts=/dev/null"
[ "$SUITE" = "$(codename)" ] && SOURCES=
ARCHOPT=
[ -z "$ARCH" ] || ARCHOPT="-o APT::Architecture=$ARCH -o APT::Architectures=$ARCH"
if [ -n "$SOURCES" ] && [ ! -f "$DIR/sources.list" ]; then
	uri=$(mirror)
	echo "deb [signed-by=$KEYRING] $uri $SUITE main" >"$DIR/sources.list.tmp"
	mv "$DIR/sources.list.tmp" "$DIR/sources.list"
fi

cmd=$1
shift
case "$cmd" in
apt-get | apt-cache | --update) ;;
*) log "unknown command $cmd (apt-get, apt-cache or --update)"; exit 2 ;;
esac

# Nothing from /etc/apt's sources or pinning; everything else (proxy
# settings, ...) as the system has it.
aptp() {
	# shellcheck disable=SC2086
	"$@" $SOURCES $ARCHOPT \
		-o Dir::Etc::Preferences=/dev/null \
		-o Dir::Etc::PreferencesParts=/dev/null \
		-o Dir::State::Lists="$DIR/lists" \
		-o Dir::Cache="$DIR/cache" \
		-o Acquire::Languages=none \
		$ROOTOPT
}

update() {
	log "apt-get update ($SUITE${ARCH:+:$ARCH})"
	# Serialise concurrent updates of the same suite.
	(
		flock 9
		aptp apt-get -qq update >&2
		date >"$DIR/updated"
	) 9>"$DIR/.lock"
}

if [ "$cmd" = --update ]; then
	update
	exit
fi
[ -f "$DIR/updated" ] || update
aptp "$cmd" "$@"
