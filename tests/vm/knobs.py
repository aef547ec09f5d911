"""Environment knobs of the VM tests, read once.

MB_TIMEOUT_SCALE  (default 1) multiplies every timeout the harness knows of:
                  a test's time limit (pytest.mark.timeout, scaled in
                  conftest.py), Ctx.set_target, wait_actual, Ctx.wait_bound,
                  VM.run, QMP.wait_event, suspend/resume waits, and (at most
                  x2) the VM boot.  scripts/check-debug.sh sets it for the
                  debug kernel, which runs many times slower under TCG.
                  Assertions that measure speed are not scaled.
MB_GUEST_MIB      (default 2048) the RAM of the tests' standard guest, and
                  with it the targets that are fractions of it (2048: 1024,
                  512, 1536 and 2048 MiB in inflate_deflate; share()).  The debug
                  kernel's own bookkeeping takes ~20% of a guest's RAM, so
                  check-debug boots larger guests.
"""
import os


def _float(name, default, lowest):
    try:
        return max(lowest, float(os.environ.get(name) or default))
    except ValueError:
        raise SystemExit("%s=%r is not a number" % (name, os.environ.get(name)))


TIMEOUT_SCALE = _float("MB_TIMEOUT_SCALE", 1, 1.0)
GUEST_MIB = int(_float("MB_GUEST_MIB", 2048, 1024))
# a hung early boot is retried once (harness.Ctx.boot): do not wait long for it
BOOT_SCALE = min(TIMEOUT_SCALE, 2.0)


def share(mib):
    """The same share of this guest's RAM as mib MiB is of a 2048 MiB guest
    (tests written for 2 GiB guests name their targets this way)."""
    return mib * GUEST_MIB // 2048


def scaled(seconds):
    """seconds * MB_TIMEOUT_SCALE"""
    return seconds * TIMEOUT_SCALE
