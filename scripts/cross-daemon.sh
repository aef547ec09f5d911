#!/bin/sh
# Cross-build memballoond, memballoonctl and the daemon's unit tests
# (ASan/UBSan, as `make -C daemon unit` builds them) for another
# architecture, and run them there under qemu-user:
#
#   scripts/cross-daemon.sh ARCH          ARCH: arm64, ppc64el or s390x
#
# Builds in daemon/build/ARCH/ with Debian's cross compiler
# (gcc-<triplet>, libc6-dev-ARCH-cross) and a sysroot of the libraries
# (scripts/cross-sysroot.sh), -Wall -Wextra -Werror as natively; installs
# what it needs on first use (scripts/deps.sh: the cross compiler, its C
# library, qemu-user).  Then runs, each with `qemu-<cpu> -L /usr/<triplet>`
# (the cross toolchain's C library and sanitizer runtimes) and the
# sysroot's libraries on LD_LIBRARY_PATH, explicitly, not through binfmt:
#   memballoond --version, memballoonctl --version   (must print the version)
#   the unit tests, from daemon/tests                 (their cmocka output)
# LeakSanitizer needs ptrace, which qemu-user does not offer: leak checks
# are the native run's (make -C daemon unit).  AddressSanitizer's shadow
# memory does not fit qemu-user's guest address space on ppc64el and s390x
# ("ReserveShadowMemoryRange failed"; ASan wants 2^52 bytes up on s390x):
# there the unit tests are built with UBSan alone; arm64 has both.  qemu-user creates no
# NETLINK_GENERIC sockets (EPROTONOSUPPORT), so the one unit test that asks
# the running kernel's nlctrl family (requests_and_deadline) cannot run
# there: its failure is reported and not counted, any other fails the run.
#
# The last line says what ran, e.g.
#   cross-daemon.sh: s390x: 95 passed, 0 failed (1 not run under qemu-user: requests_and_deadline)
# Exit status 0 when both programs ran and every other unit test passed.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
ARCH=${1:?usage: cross-daemon.sh ARCH}
log() { echo "cross-daemon.sh: $*" >&2; }
die() { log "$*"; exit 1; }

case "$ARCH" in
arm64) TRIPLET=aarch64-linux-gnu QEMU=qemu-aarch64 SAN= ;;
ppc64el) TRIPLET=powerpc64le-linux-gnu QEMU=qemu-ppc64le SAN=ubsan ;;
s390x) TRIPLET=s390x-linux-gnu QEMU=qemu-s390x SAN=ubsan ;;
*) die "unknown architecture $ARCH (arm64, ppc64el, s390x)" ;;
esac
# the unit tests that need what qemu-user does not emulate (see above)
NOT_UNDER_QEMU="requests_and_deadline"

sh "$HERE/deps.sh" "gcc-$TRIPLET" "libc6-dev-$ARCH-cross" qemu-user
SYSROOT=$(sh "$HERE/cross-sysroot.sh" "$ARCH")
B=build/$ARCH
set -- CC="$TRIPLET-gcc" SYSROOT="$SYSROOT" B="$B"
[ -z "$SAN" ] || set -- "$@" SAN="-fsanitize=undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"

t0=$(date +%s)
make -C "$REPO/daemon" -j2 "$@" all "$B/unit-tests" >&2 || die "$ARCH: the build failed"
t1=$(date +%s)
log "$ARCH: built in $((t1 - t0)) s ($TRIPLET-gcc, unit tests under $([ -n "$SAN" ] && echo UBSan || echo ASan+UBSan), sysroot $SYSROOT)"

LIBS=$SYSROOT/usr/lib/$TRIPLET:$SYSROOT/lib/$TRIPLET
RUN="$QEMU -L /usr/$TRIPLET -E LD_LIBRARY_PATH=$LIBS"
D=$REPO/daemon
for p in memballoond memballoonctl; do
	# shellcheck disable=SC2086
	out=$($RUN "$D/$B/$p" --version 2>&1) || die "$ARCH: $p --version failed: $out"
	echo "$out"
	case "$out" in
	"$p "[0-9]*) ;;
	*) die "$ARCH: $p --version printed '$out'" ;;
	esac
done

OUT=$D/$B/unit.log
rc=0
make -C "$D" "$@" unit RUN="$RUN" UNIT_ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 >"$OUT" 2>&1 || rc=$?
cat "$OUT"
log "$ARCH: unit tests ran in $(($(date +%s) - t1)) s under $QEMU"
summary=$(sed -n 's/^daemon unit tests: //p' "$OUT" | tail -n1)
[ -n "$summary" ] || die "$ARCH: the unit tests printed no summary (rc $rc)"
passed=${summary%% passed*}
failed_names=$(sed -n 's/^\[  FAILED  \] \([a-z0-9_]*\)$/\1/p' "$OUT" | sort -u)
unexpected=
not_run=
for n in $failed_names; do
	case " $NOT_UNDER_QEMU " in
	*" $n "*) not_run="$not_run $n" ;;
	*) unexpected="$unexpected $n" ;;
	esac
done
nfail=$(echo "$unexpected" | wc -w)
nnot=$(echo "$not_run" | wc -w)
# every failure is a named one: the summary's count must match
total_failed=${summary#* passed, }
total_failed=${total_failed%% failed*}
[ "$total_failed" -eq $((nfail + nnot)) ] || unexpected="$unexpected (summary: $summary)"
log "$ARCH: $passed passed, $nfail failed${not_run:+ ($nnot not run under qemu-user:$not_run)}${unexpected:+: failed:$unexpected}"
[ -z "$unexpected" ]
