"""Soak with data integrity: random targets while the guest allocates and
frees, then every checksum must match and actual must converge exactly.

make check runs the short soak (MB_SOAK_TARGETS, default 150 targets); the
debug-kernel tier runs it with 1000.
"""
import os
import random
import re
import time

import pytest

from harness import balloon_pages_held, check
from knobs import GUEST_MIB, share
from vm import MiB

RAM_MIB = GUEST_MIB
DATA_FILES = 8
DATA_MIB = 64          # 8 x 64 MiB of random data kept in tmpfs (RAM)


@pytest.mark.timeout(900)
def test_soak_integrity(ctx):
    """Guest data survives many random balloon moves under allocation churn."""
    n_targets = int(os.environ.get("MB_SOAK_TARGETS", "150"))
    seed = int(os.environ.get("MB_SOAK_SEED", "12345"))
    rnd = random.Random(seed)
    vm = ctx.boot(mem_mib=RAM_MIB)
    ctx.load_driver(vm)
    vm.sh("mkdir -p /data && mount -t tmpfs -o size=%dm tmpfs /data" % (DATA_FILES * DATA_MIB + 16))
    rc, out = vm.run("for i in $(seq %d); do dd if=/dev/urandom of=/data/f$i bs=1M count=%d "
                     "2>/dev/null || exit 1; done; md5sum /data/f*" % (DATA_FILES, DATA_MIB),
                     timeout=300)
    check(rc == 0, "writing the data failed: %s" % out)
    sums = out.strip()
    # churn: allocate and free in the background for the whole soak
    vm.sh("(while :; do mbtool touch 96 >/dev/null 2>&1; done) & echo $! > /tmp/churn.pid")

    moved = 0
    t0 = time.monotonic()
    prev = RAM_MIB
    for i in range(n_targets):
        target = rnd.randrange(share(900), RAM_MIB + 1)
        vm.qmp.balloon(target * MiB)
        moved += abs(target - prev)
        prev = target
        if i % 25 == 24:          # now and then wait for it to get there
            ctx.set_target(vm, target, timeout=120)
        elif rnd.random() < 0.2:
            time.sleep(rnd.random() * 0.5)
    final = share(1200)
    ctx.set_target(vm, final, timeout=120)
    soak_s = time.monotonic() - t0
    vm.sh("kill $(cat /tmp/churn.pid); sleep 1")

    rc, out = vm.run("md5sum /data/f*", timeout=120)
    check(rc == 0 and out.strip() == sums, "guest data changed during the soak:\n%s\nvs\n%s"
          % (out.strip(), sums))
    held = balloon_pages_held(vm)
    check(held == (RAM_MIB - final) * 256,
          "the kernel counts %d balloon pages, the host sees %d" % (held, (RAM_MIB - final) * 256))
    dmesg = vm.dmesg()
    check(not re.search(r"Out of memory|oom-kill", dmesg), "OOM during the soak")
    ctx.set_target(vm, RAM_MIB, timeout=120)
    check(balloon_pages_held(vm) == 0, "pages left in the balloon at the end")
    ctx.note("%d targets (%d MiB of target changes) in %.0fs, %d MiB of data intact"
             % (n_targets, moved, soak_s, DATA_FILES * DATA_MIB))
