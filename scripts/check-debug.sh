#!/bin/sh
# The debug-kernel tier (make check-debug): build or reuse the debug kernels
# (scripts/debug-kernel.sh: KASAN, lockdep, kmemleak, KFENCE, DEBUG_VM/LIST/
# PAGEALLOC, fault injection), bookworm's 6.1 and trixie-backports' newest
# 7.x, write their kernel env files with QEMU_MACHINE=q35 and
# APPEND=panic_on_warn=1 ..., and run the debug selection of VM tests on
# both (tests/vm/run.py: pytest):
#
#   sh scripts/check-debug.sh [--out DIR] [--kernel debug:SUITE|ID|ENV]
#                             [--qemu VER] [--only TESTS] [-v]
#
# --out     logs (default build/test-logs-debug); the env files go there too
# --kernel  debug:SUITE: the debug kernel built from SUITE's source
#           (debug:bookworm = 6.1, debug:trixie-backports = 7.x); a kernel env
#           file (e.g. a debug kernel built elsewhere; QEMU_MACHINE and APPEND
#           are added when it has none); or a kernel id of run.py.
#           Repeatable; default: debug:bookworm debug:trixie-backports
# --qemu    QEMU version for run.py (default 7.2); repeatable
# --only    test names/globs (default: $DEBUG_TESTS below)
#
# Environment: MB_SOAK_TARGETS (default 1000 here), MB_DEBUG_CYCLES (100),
# MB_TIMEOUT_SCALE (4: the tests' timeouts x4) and MB_GUEST_MIB (4096: the
# debug kernel keeps ~20% of RAM for itself), see tests/vm/knobs.py.
# Prints run.py's lines (each test's cell names its kernel: 6.1-debug,
# 7.3-debug) and exits with its status; the last line is "N passed, N
# failed" for all kernels together (a debug kernel that failed to build
# counts as one failure).
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
PY=/usr/bin/python3

# What the tier runs: the memory-safety VM tests, then the debug_* tests.
# hotunplug and hotunplug_inflating run as debug_hotunplug*: the same bodies
# with the balloon behind a PCIe root port (q35 cannot hot-unplug from its
# root bus).  Keep in sync with DEBUG in tests/vm/matrix.py.
DEBUG_TESTS=$($PY -c "import sys; sys.path.insert(0, '$REPO/tests/vm'); import matrix; print(matrix.DEBUG)")

OUT=$REPO/build/test-logs-debug
KERNELS=
QEMUS=
ONLY=
VERBOSE=
while [ $# -gt 0 ]; do
	case "$1" in
	--out) OUT=$2; shift 2 ;;
	--kernel) KERNELS="$KERNELS $2"; shift 2 ;;
	--qemu) QEMUS="$QEMUS $2"; shift 2 ;;
	--only) ONLY=$2; shift 2 ;;
	-v) VERBOSE=-v; shift ;;
	-h | --help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "check-debug.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
[ -n "$ONLY" ] || ONLY=$DEBUG_TESTS
[ -n "$QEMUS" ] || QEMUS=7.2
[ -n "$KERNELS" ] || KERNELS="debug:bookworm debug:trixie-backports"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

APPEND="panic_on_warn=1 no_hash_pointers"

# env_with_knobs SRC DST: a kernel env file with the debug tier's QEMU machine
# and command line (kept if SRC already sets them).
env_with_knobs() {
	grep -v '^\(QEMU_MACHINE\|APPEND\)=' "$1" >"$2.tmp" || true
	m=$(sed -n 's/^QEMU_MACHINE=//p' "$1" | head -n1)
	a=$(sed -n 's/^APPEND=//p' "$1" | head -n1)
	# The pc machine's ACPI interrupt routing is too slow under this kernel in
	# TCG (the balloon never gets its interrupt): q35.
	echo "QEMU_MACHINE=${m:-q35}" >>"$2.tmp"
	echo "APPEND=${a:-$APPEND}" >>"$2.tmp"
	mv "$2.tmp" "$2"
}

case "$KERNELS" in
*debug:*)
	# Build dependencies of the kernels (ccache when apt has it; cheap
	# rebuilds); 7.x builds in the trixie chroot (debootstrap).
	sh "$HERE/deps.sh" bc bison flex libelf-dev libssl-dev cpio xz-utils kmod debootstrap ccache >&2 ||
		sh "$HERE/deps.sh" bc bison flex libelf-dev libssl-dev cpio xz-utils kmod debootstrap >&2
	;;
esac

# Each debug kernel in turn (built the first time, cached after).
set --
SETUP_FAILED=0
i=0
for k in $KERNELS; do
	case "$k" in
	debug:*)
		suite=${k#debug:}
		log=$OUT/debug-$suite.log
		t0=$(date +%s)
		echo "# debug kernel from $suite: scripts/debug-kernel.sh --suite $suite (log $log)"
		if ! sh "$HERE/debug-kernel.sh" --suite "$suite" >"$OUT/debug-$suite.env.raw" 2>"$log"; then
			tail -n 20 "$log"
			echo "FAIL setup[debug:$suite]: scripts/debug-kernel.sh --suite $suite failed, see $log"
			SETUP_FAILED=$((SETUP_FAILED + 1))
			continue
		fi
		echo "# debug kernel from $suite ready in $(($(date +%s) - t0))s:" \
			"$(sed -n 's/^KVER=//p' "$OUT/debug-$suite.env.raw")"
		env_with_knobs "$OUT/debug-$suite.env.raw" "$OUT/debug-$suite.env"
		set -- "$@" --kernel "$OUT/debug-$suite.env"
		;;
	*)
		if [ -f "$k" ]; then
			i=$((i + 1))
			env_with_knobs "$k" "$OUT/kernel-$i.env"
			set -- "$@" --kernel "$OUT/kernel-$i.env"
		else
			set -- "$@" --kernel "$k"
		fi
		;;
	esac
done
if [ $# -eq 0 ]; then
	echo "0 passed, $SETUP_FAILED failed"
	exit 1
fi
for q in $QEMUS; do set -- "$@" --qemu "$q"; done

export MB_SOAK_TARGETS="${MB_SOAK_TARGETS:-1000}"
export MB_DEBUG_CYCLES="${MB_DEBUG_CYCLES:-100}"
export MB_TIMEOUT_SCALE="${MB_TIMEOUT_SCALE:-4}"
# The debug kernels boot as bzImages, as they always did: their early boot
# (KASAN's shadow set-up) has not been tried through PVH (tests/vm/vm.py).
export MB_BOOT="${MB_BOOT:-bzimage}"
export MB_GUEST_MIB="${MB_GUEST_MIB:-4096}"
echo "# MB_SOAK_TARGETS=$MB_SOAK_TARGETS MB_DEBUG_CYCLES=$MB_DEBUG_CYCLES MB_TIMEOUT_SCALE=$MB_TIMEOUT_SCALE MB_GUEST_MIB=$MB_GUEST_MIB"
rc=0
if [ "$SETUP_FAILED" = 0 ]; then
	$PY "$REPO/tests/vm/run.py" "$@" --only "$ONLY" --out "$OUT" $VERBOSE || rc=$?
	exit $rc
fi
# A kernel that did not build is a failure of the run: run.py's closing
# "N passed, N failed" line counts it too.
{ $PY "$REPO/tests/vm/run.py" "$@" --only "$ONLY" --out "$OUT" $VERBOSE || true; } |
	awk -v extra="$SETUP_FAILED" '
		/^[0-9]+ passed, [0-9]+ failed/ { $3 += extra }
		{ print; fflush() }'
exit 1
