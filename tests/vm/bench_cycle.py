#!/usr/bin/python3
"""Benchmark the 2048 -> 512 -> 2048 MiB balloon cycle: in-tree virtio_balloon
(A) against the module under test (B), same QEMU and guest kernel, runs
alternating A B A B ..., a fresh guest per run. Prints every run and medians.
The quick 2 GiB check of issue 2; `make bench` runs tests/vm/bench.py, which
covers this cycle (on 4 GiB guests) and the other scenarios of issue 6.

  tests/vm/bench_cycle.py [--module driver/memballoon.ko] [--rounds 3]
                          [--touch 1536] [--kernel-env FILE] [--out DIR]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from harness import module_name  # noqa: E402
from harness import kernel_env  # noqa: E402
from vm import VM, MiB  # noqa: E402

RAM = 2048
LOW = 512


def wait_actual(vm, target_mib, timeout=120):
    t0 = time.monotonic()
    vm.qmp.balloon(target_mib * MiB)
    while vm.qmp.query_balloon() != target_mib * MiB:
        if time.monotonic() - t0 > timeout:
            raise RuntimeError("target %d MiB not reached in %ds" % (target_mib, timeout))
        time.sleep(0.01)
    return time.monotonic() - t0


def one_run(kenv, initrd, driver, load_cmd, touch, logdir, tag):
    vm = VM(kenv, initrd, mem_mib=RAM, name=tag, logdir=logdir)
    try:
        vm.start()
        vm.sh(load_cmd)
        deadline = time.monotonic() + 30
        while vm.run("ls /sys/bus/virtio/drivers/%s/ | grep -q ^virtio" % driver)[0] != 0:
            if time.monotonic() > deadline:
                raise RuntimeError("%s did not bind" % driver)
            time.sleep(0.2)
        if touch:
            vm.sh("mbtool touch %d" % touch, timeout=120)
        rss0 = vm.rss_kib()
        t_in = wait_actual(vm, LOW)
        rss1 = vm.rss_kib()
        t_out = wait_actual(vm, RAM)
        problems = vm.console_problems()
        if problems:
            raise RuntimeError("console: %s" % problems[0])
        return {"inflate": t_in, "deflate": t_out, "rss0": rss0 // 1024, "rss1": rss1 // 1024}
    finally:
        vm.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", default=os.path.join(REPO, "driver", "memballoon.ko"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--touch", type=int, default=1536, help="MiB the guest touches first (0: none)")
    ap.add_argument("--kernel-env")
    ap.add_argument("--vmlinuz")
    ap.add_argument("--moddir")
    ap.add_argument("--kdir")
    ap.add_argument("--out", default=os.path.join(REPO, "build", "bench-logs"))
    a = ap.parse_args()

    kenv = kernel_env(a)
    if not os.path.exists(a.module):
        raise SystemExit("bench_cycle: %s not found" % a.module)
    os.makedirs(a.out, exist_ok=True)
    initrd = os.path.join(a.out, "initramfs.cpio.gz")
    subprocess.run([sys.executable, os.path.join(REPO, "scripts", "mkinitramfs.py"),
                    "--moddir", kenv["MODDIR"], "--module", a.module, "--out", initrd],
                   check=True)
    drv_b = module_name(a.module)
    if drv_b == "virtio_balloon":
        raise SystemExit("bench_cycle: --module must not be the in-tree driver")
    variants = [
        ("virtio_balloon", "virtio_balloon",
         "while read m; do insmod /lib/modules/kernel/$m; done "
         "< /lib/modules/kernel/virtio_balloon.list"),
        (drv_b, drv_b, "insmod /lib/modules/%s.ko" % drv_b),
    ]
    print("# %s guest %d MiB, touch %d MiB, cycle %d -> %d -> %d MiB, %d rounds" % (
        kenv.get("KVER", "?"), RAM, a.touch, RAM, LOW, RAM, a.rounds), flush=True)
    results = {v[0]: [] for v in variants}
    for r in range(a.rounds):
        for label, driver, load in variants:
            tag = "bench-%s-%d" % (label, r + 1)
            try:
                res = one_run(kenv, initrd, driver, load, a.touch, a.out, tag)
            except Exception as e:
                print("%-16s run %d: ERROR %s" % (label, r + 1, str(e).splitlines()[0]), flush=True)
                continue
            results[label].append(res)
            print("%-16s run %d: inflate %.2fs deflate %.2fs rss %d -> %d MiB" % (
                label, r + 1, res["inflate"], res["deflate"], res["rss0"], res["rss1"]), flush=True)
    print()
    print("| driver | runs | inflate 1536 MiB (s) | deflate (s) | inflate MiB/s | RSS after inflate (MiB) |")
    print("|---|---|---|---|---|---|")
    med = {}
    for label, _, _ in variants:
        rs = results[label]
        if not rs:
            print("| %s | 0 | - | - | - | - |" % label)
            continue
        mi = statistics.median(x["inflate"] for x in rs)
        md = statistics.median(x["deflate"] for x in rs)
        mr = statistics.median(x["rss1"] for x in rs)
        med[label] = (mi, md)
        print("| %s | %d | %.2f | %.2f | %.0f | %d |" % (label, len(rs), mi, md,
                                                        (RAM - LOW) / mi, mr))
    if len(med) == 2:
        (ai, ad), (bi, bd) = med["virtio_balloon"], med[drv_b]
        print("\n%s vs virtio_balloon: inflate %.2fx faster, deflate %.2fx faster (median ratios)"
              % (drv_b, ai / bi, ad / bd))
    return 0 if all(len(results[v[0]]) == a.rounds for v in variants) else 1


if __name__ == "__main__":
    sys.exit(main())
