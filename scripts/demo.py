#!/usr/bin/python3
"""memballoon demo: boot a guest with the driver and drive its balloon from
the host the way libvirt does, showing a live view (refreshed twice a second)
of target, actual, guest memory, QEMU RSS and the guest stats the host reads.

  scripts/demo.py [--module driver/memballoon.ko | --module intree] [--hold 8]

Plain lines instead of a redrawn screen when stdout is not a terminal.
"""
import argparse
import os
import signal
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "vm"))

from harness import module_name  # noqa: E402
from harness import kernel_env  # noqa: E402
from vm import VM, MiB, parse_meminfo  # noqa: E402

RAM = 2048
STEPS = [2048, 1024, 512, 1536, 2048]
U64_UNSET = 2 ** 64 - 1


def mib(b):
    return "%6.0f MiB" % (b / MiB)


def bar(total_mib, balloon_mib, free_mib, width=50):
    b = int(round(width * balloon_mib / total_mib))
    f = int(round(width * free_mib / total_mib))
    u = max(0, width - b - f)
    return "[" + "#" * b + "=" * u + "." * (width - b - u) + "]"


class View:
    def __init__(self, vm, tty):
        self.vm = vm
        self.tty = tty
        self.target = RAM
        self.phase = "boot"
        self.last_change = None
        self.t0 = time.monotonic()

    def sample(self):
        vm = self.vm
        actual = vm.qmp.query_balloon()
        for ev in vm.qmp.take_events("BALLOON_CHANGE"):
            self.last_change = ev["data"]["actual"]
        mi = parse_meminfo(vm.sh("cat /proc/meminfo", timeout=10))
        gs = vm.qmp.guest_stats()
        return actual, mi, vm.rss_kib(), gs

    def show(self):
        actual, mi, rss, gs = self.sample()
        st = gs.get("stats", {})
        age = time.time() - gs["last-update"] if gs.get("last-update") else None

        def s(k, div=MiB, fmt="%6.0f MiB"):
            v = st.get(k, U64_UNSET)
            return "     n/a" if v == U64_UNSET else fmt % (v / div)
        el = time.monotonic() - self.t0
        if not self.tty:
            print("t=%5.1fs %-18s target %5d MiB actual %5.0f MiB | guest MemTotal %5d "
                  "MemFree %5d MiB | QEMU RSS %5d MiB | stats free %s avail %s caches %s"
                  % (el, self.phase, self.target, actual / MiB, mi["MemTotal"] // 1024,
                     mi["MemFree"] // 1024, rss // 1024, s("stat-free-memory").strip(),
                     s("stat-available-memory").strip(), s("stat-disk-caches").strip()),
                  flush=True)
            return
        balloon = (RAM * MiB - actual) / MiB
        lines = [
            "\x1b[1mmemballoon demo\x1b[0m  driver %s  guest %d MiB  t=%.1fs" % (
                self.driver, RAM, el),
            "phase: \x1b[33m%s\x1b[0m" % self.phase,
            "",
            "host (QMP)",
            "  target (balloon value)   %s" % mib(self.target * MiB),
            "  actual (query-balloon)   %s   balloon %6.0f MiB" % (mib(actual), balloon),
            "  last BALLOON_CHANGE      %s" % (mib(self.last_change) if self.last_change else "       -"),
            "  QEMU RSS                 %6d MiB" % (rss // 1024),
            "",
            "guest /proc/meminfo",
            "  MemTotal %6d MiB  MemFree %6d MiB  MemAvailable %6d MiB  Cached %4d MiB" % (
                mi["MemTotal"] // 1024, mi["MemFree"] // 1024, mi["MemAvailable"] // 1024,
                mi["Cached"] // 1024),
            "  %s  # balloon  = used  . free" % bar(RAM, balloon, mi["MemFree"] / 1024),
            "",
            "guest stats as the host reads them (qom-get guest-stats, %s)" % (
                "updated %.1fs ago" % age if age is not None else "no update yet"),
            "  free %s  total %s  available %s  disk caches %s" % (
                s("stat-free-memory"), s("stat-total-memory"), s("stat-available-memory"),
                s("stat-disk-caches")),
            "  faults major %s minor %s   swap in %s out %s" % (
                s("stat-major-faults", 1, "%d"), s("stat-minor-faults", 1, "%d"),
                s("stat-swap-in"), s("stat-swap-out")),
        ]
        sys.stdout.write("\x1b[H\x1b[J" + "\n".join(lines) + "\n")
        sys.stdout.flush()

    def hold(self, seconds, until=None):
        end = time.monotonic() + seconds
        while True:
            t = time.monotonic()
            self.show()
            if until and until():
                return True
            if t >= end:
                return False
            time.sleep(max(0.0, 0.5 - (time.monotonic() - t)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", default=os.path.join(REPO, "driver", "memballoon.ko"))
    ap.add_argument("--hold", type=float, default=6.0, help="seconds to show each step after it is reached")
    ap.add_argument("--kernel-env")
    ap.add_argument("--vmlinuz")
    ap.add_argument("--moddir")
    ap.add_argument("--kdir")
    ap.add_argument("--out", default=os.path.join(REPO, "build", "demo"))
    a = ap.parse_args()

    kenv = kernel_env(a)
    module = a.module
    if module == "intree":
        module = os.path.join(kenv["MODDIR"], "kernel", "drivers", "virtio", "virtio_balloon.ko")
    if not os.path.exists(module):
        raise SystemExit("demo: %s not found (build the driver first)" % module)
    driver = module_name(module)
    os.makedirs(a.out, exist_ok=True)
    initrd = os.path.join(a.out, "initramfs.cpio.gz")
    subprocess.run([sys.executable, os.path.join(REPO, "scripts", "mkinitramfs.py"),
                    "--moddir", kenv["MODDIR"], "--module", module, "--out", initrd],
                   check=True)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    tty = sys.stdout.isatty()
    print("booting a %d MiB guest under QEMU (TCG)..." % RAM, flush=True)
    vm = VM(kenv, initrd, mem_mib=RAM, name="demo", logdir=a.out)
    rc = 0
    try:
        vm.start()
        vm.sh("insmod /lib/modules/%s.ko" % driver)
        view = View(vm, tty)
        view.driver = driver
        vm.qmp.set_stats_interval(1)
        view.phase = "guest touches 1 GiB"
        vm.sh("mbtool touch 1024", timeout=120)
        for target in STEPS:
            view.target = target
            view.phase = "balloon -> %d MiB" % target
            t0 = time.monotonic()
            vm.qmp.balloon(target * MiB)
            ok = view.hold(60, until=lambda: vm.qmp.query_balloon() == target * MiB)
            view.phase = ("reached %d MiB in %.1fs" % (target, time.monotonic() - t0)) if ok \
                else "target %d MiB NOT reached" % target
            if not ok:
                rc = 1
            view.hold(a.hold)
        problems = vm.console_problems()
        if problems:
            print("guest console shows problems:\n  " + "\n  ".join(problems[:5]))
            rc = 1
    except KeyboardInterrupt:
        print("\ninterrupted")
        rc = 130
    finally:
        vm.close()
    print("demo finished (%s); guest console log in %s" % (
        "ok" if rc == 0 else "rc=%d" % rc, os.path.join(a.out, "demo.console.log")))
    return rc


if __name__ == "__main__":
    sys.exit(main())
