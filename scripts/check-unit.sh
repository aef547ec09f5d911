#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Offline checks of packaging/ (no systemd running needed), run by
# `make -C daemon check`:
#   - systemd-analyze verify: the unit, alone and with each example drop-in
#     (TCP, vsock), has nothing to say (ExecStart points at the built daemon:
#     /usr/sbin/memballoond need not exist on a build machine);
#   - systemd-analyze security --offline=true: the unit's exposure is not
#     above the one docs/security.md quotes;
#   - systemd-sysusers creates the memballoon user and group from the
#     sysusers.d file in an empty root.
# Usage: scripts/check-unit.sh [BUILT_MEMBALLOOND]
set -eu

REPO=$(cd "$(dirname "$0")/.." && pwd)
PKG=$REPO/packaging
UNIT=$PKG/memballoond.service
DAEMON=${1:-$REPO/daemon/memballoond}
DOC=$REPO/docs/security.md

fail() {
	echo "check-unit: $*" >&2
	exit 1
}

for tool in systemd-analyze systemd-sysusers; do
	command -v $tool >/dev/null || fail "$tool missing (Debian package systemd; scripts/deps.sh installs it)"
done
[ -x "$DAEMON" ] || fail "$DAEMON: build the daemon first"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# verify the unit alone (bare/), then with each drop-in beside it, where
# systemd-analyze finds it (tcp/, vsock/)
verify() {
	out=$(systemd-analyze verify --man=no "$tmp/$1/memballoond.service" 2>&1) ||
		fail "verify $2: $out"
	[ -z "$out" ] || fail "verify $2: $out"
}
mkdir -p "$tmp/bare"
sed "s|^ExecStart=/usr/sbin/memballoond|ExecStart=$DAEMON|" "$UNIT" >"$tmp/bare/memballoond.service"
grep -q "^ExecStart=$DAEMON\$" "$tmp/bare/memballoond.service" ||
	fail "no ExecStart=/usr/sbin/memballoond in $UNIT"
verify bare memballoond.service
for d in tcp vsock; do
	mkdir -p "$tmp/$d/memballoond.service.d"
	cp "$tmp/bare/memballoond.service" "$tmp/$d/"
	cp "$PKG/memballoond-$d.conf" "$tmp/$d/memballoond.service.d/$d.conf"
	verify $d "memballoond.service + memballoond-$d.conf"
done

# exposure: never above what docs/security.md quotes
exposure() {
	systemd-analyze security --offline=true "$1" 2>&1 |
		sed -n 's/^.*Overall exposure level for memballoond.service: \([0-9.]*\).*$/\1/p'
}
limit=$(sed -n 's/^.*Overall exposure level for memballoond.service: \([0-9.]*\).*$/\1/p' "$DOC" | head -n 1)
[ -n "$limit" ] || fail "$DOC quotes no \"Overall exposure level for memballoond.service: N\""
score=$(exposure "$UNIT")
[ -n "$score" ] || fail "systemd-analyze security printed no exposure for $UNIT"
tcp_score=$(exposure "$tmp/tcp/memballoond.service")
vsock_score=$(exposure "$tmp/vsock/memballoond.service")
awk -v s="$score" -v l="$limit" 'BEGIN { exit !(s <= l) }' ||
	fail "exposure $score is above the $limit of docs/security.md: harden the unit or document why"

# the sysusers.d file creates the user and group the udev rule and the daemon expect
mkdir -p "$tmp/root/etc"
out=$(systemd-sysusers --root="$tmp/root" "$PKG/memballoon.sysusers" 2>&1) || fail "systemd-sysusers: $out"
grep -q '^memballoon:x:[0-9]*:[0-9]*:[^:]*:/:/usr/sbin/nologin$' "$tmp/root/etc/passwd" ||
	fail "systemd-sysusers created no memballoon user: $(cat "$tmp/root/etc/passwd")"
grep -q '^memballoon:x:[0-9]*:$' "$tmp/root/etc/group" ||
	fail "systemd-sysusers created no memballoon group"
grep -q 'GROUP="memballoon", MODE="0660"' "$PKG/60-memballoon.rules" ||
	fail "60-memballoon.rules does not give the serial port to group memballoon"

echo "check-unit: verify clean (unit, + TCP, + vsock drop-in); exposure $score (limit $limit;" \
	"with the TCP drop-in $tcp_score, the vsock one $vsock_score); sysusers ok"
