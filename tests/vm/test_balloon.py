"""Core balloon tests (tests a-f of the harness brief).

Every test boots its own guest(s) through ctx.boot(); the module under test is
loaded with insmod from /lib/modules/<driver>.ko in the initramfs.
"""
import re
import time

import pytest

from harness import Skip, TestFailure, balloon_pages_held, balloon_sysfs, check, settle_free
from knobs import GUEST_MIB, share
from vm import MiB

RAM_MIB = GUEST_MIB            # 2048 unless MB_GUEST_MIB says otherwise
TOUCH_MIB = share(1536)
CYCLE_MIB = tuple(share(t) for t in (1024, 512, 1536, 2048))   # inflate_deflate's targets
U64_UNSET = 2 ** 64 - 1

# What the driver logs when it cannot get pages for the balloon. Covers the
# in-tree driver ("Out of puff! Can't get N pages") and the usual wordings.
ALLOC_FAIL_RE = re.compile(r"(?i)out of puff|alloc\w* fail|fail\w* to alloc|"
                           r"can't (get|alloc)|cannot alloc|could not alloc|"
                           r"unable to alloc")
OOM_RE = re.compile(r"Out of memory|oom-kill|invoked oom-killer")


# ---------------------------------------------------------------------------
# bodies shared by several tests

QEMU_OVERHEAD_KIB = 64 * 1024   # QEMU's own RSS, at least (TCG, ROMs, libraries)


def inflate_deflate_body(ctx, vm, tag="", nonresident_ok=False):
    """a: touch memory, then 1024 -> 512 -> 1536 -> 2048 MiB (CYCLE_MIB: the
    same fractions of a guest of another size), exact actual, MemTotal
    follows the balloon, QEMU RSS drops at 512 MiB.

    nonresident_ok: guest memory that an earlier balloon had discarded on the
    host may still be non-resident after the touch, and a balloon may take
    exactly those pages first (free 2 MiB blocks); the RSS drop asked for is
    then 90% of the balloon less the guest RAM that was not resident."""
    if vm.qmp.query_balloon() != RAM_MIB * MiB:
        ctx.set_target(vm, RAM_MIB)
    total0 = vm.meminfo()["MemTotal"]
    # The lowest target leaves the guest at least 256 MiB of its MemTotal:
    # 512 MiB on a distribution kernel's 2 GiB guest, more on a debug kernel,
    # which keeps ~20% of RAM for itself (KASAN's shadow, ...)
    cycle = [max(t, RAM_MIB - total0 // 1024 + 256) for t in CYCLE_MIB]
    out = vm.sh("mbtool touch %d" % TOUCH_MIB, timeout=120 * TOUCH_MIB // 1536)
    ctx.log(out.strip())
    rss0 = vm.rss_kib()
    ctx.log("MemTotal %d KiB, QEMU RSS after touch %d KiB" % (total0, rss0))
    times = []
    for target in cycle:
        dt = ctx.set_target(vm, target, timeout=60)
        times.append("%d:%.1fs" % (target, dt))
        mi = vm.meminfo()
        balloon_kib = (RAM_MIB - target) * 1024
        drop = total0 - mi["MemTotal"]
        rss = vm.rss_kib()
        ctx.log("target %d: MemTotal %d (drop %d KiB, balloon %d KiB) MemFree %d RSS %d KiB"
                % (target, mi["MemTotal"], drop, balloon_kib, mi["MemFree"], rss))
        check(abs(drop - balloon_kib) <= 1024,
              "at %d MiB MemTotal dropped %d KiB, balloon is %d KiB"
              % (target, drop, balloon_kib))
        if target == cycle[1]:
            freed = rss0 - rss
            want = balloon_kib
            if nonresident_ok:
                nonres = max(0, RAM_MIB * 1024 - (rss0 - QEMU_OVERHEAD_KIB))
                want = max(0, balloon_kib - nonres)
                ctx.log("up to %d KiB of guest RAM was not resident: RSS must drop by "
                        "90%% of %d KiB" % (nonres, want))
            check(freed >= 0.9 * want,
                  "QEMU RSS dropped only %d MiB (%d -> %d) for a %d MiB balloon"
                  % (freed // 1024, rss0 // 1024, rss // 1024, balloon_kib // 1024))
            ctx.note("%srss %d->%dMiB" % (tag, rss0 // 1024, rss // 1024))
        actual = vm.qmp.query_balloon()
        check(actual == target * MiB, "actual moved away from target: %d" % actual)
    ctx.note("%ssteps %s" % (tag, " ".join(times)))


def wait_fresh_stats(vm, prev_update, timeout=15):
    """Poll guest-stats until last-update differs from prev_update."""
    deadline = time.monotonic() + timeout
    while True:
        gs = vm.qmp.guest_stats()
        lu = gs.get("last-update", 0)
        if lu and lu != prev_update:
            return gs
        if time.monotonic() > deadline:
            raise TestFailure("guest-stats last-update stuck at %s for %ds" % (lu, timeout))
        time.sleep(0.05)


# stat name -> function(meminfo) giving the expected value in bytes.
# disk caches: the in-tree driver (6.1) reports global NR_FILE_PAGES, which
# /proc/meminfo splits into Cached + Buffers + SwapCached.
STAT_MEMINFO = {
    "stat-free-memory": lambda m: m["MemFree"] * 1024,
    "stat-total-memory": lambda m: m["MemTotal"] * 1024,
    "stat-available-memory": lambda m: m["MemAvailable"] * 1024,
    "stat-disk-caches": lambda m: (m["Cached"] + m["Buffers"] + m.get("SwapCached", 0)) * 1024,
}
COUNTERS = ("stat-swap-in", "stat-swap-out", "stat-major-faults", "stat-minor-faults")
REL_TOL = 0.02
ABS_TOL = 1 * MiB   # floor for small values (disk caches of a tiny initramfs)


def stats_body(ctx, vm, tag=""):
    """b: guest stats refresh and agree with /proc/meminfo; counters monotonic."""
    vm.qmp.set_stats_interval(1)
    gs = wait_fresh_stats(vm, None, timeout=20)
    lu0 = gs["last-update"]
    missing = [k for k in list(STAT_MEMINFO) + list(COUNTERS)
               if gs["stats"].get(k, U64_UNSET) == U64_UNSET]
    check(not missing, "stats not reported: %s" % ", ".join(missing))

    # Agreement with meminfo read right after a fresh update (retry for a quiet sample).
    best = None
    for attempt in range(8):
        gs = wait_fresh_stats(vm, gs["last-update"])
        mi = vm.meminfo()
        devs = {}
        for k, f in STAT_MEMINFO.items():
            want, got = f(mi), gs["stats"][k]
            devs[k] = (got, want, abs(got - want) / max(want, 1))
        bad = {k: v for k, v in devs.items()
               if abs(v[0] - v[1]) > max(REL_TOL * v[1], ABS_TOL)}
        worst = max(d[2] for d in devs.values())
        ctx.log("sample %d: %s" % (attempt, ", ".join(
            "%s %d vs %d (%.2f%%)" % (k[5:], g // 1024, w // 1024, r * 100)
            for k, (g, w, r) in devs.items())))
        if best is None or worst < best[0]:
            best = (worst, bad)
        if not bad:
            break
    check(not best[1], "stats disagree with /proc/meminfo: %s" % "; ".join(
        "%s=%d KiB vs %d KiB" % (k, g // 1024, w // 1024) for k, (g, w, _) in best[1].items()))

    # Counters never decrease; minor faults move (the agent forks for each command).
    samples = [gs]
    for _ in range(4):
        vm.run("cat /proc/vmstat >/dev/null")
        samples.append(wait_fresh_stats(vm, samples[-1]["last-update"]))
    for k in COUNTERS + ("stat-htlb-pgalloc", "stat-htlb-pgfail"):
        vals = [s["stats"].get(k, U64_UNSET) for s in samples]
        if all(v == U64_UNSET for v in vals):
            continue
        check(all(b >= a for a, b in zip(vals, vals[1:])),
              "%s decreased: %s" % (k, vals))
    mf = [s["stats"]["stat-minor-faults"] for s in samples]
    check(mf[-1] > mf[0], "stat-minor-faults did not move: %s" % mf)
    lus = [s["last-update"] for s in samples]
    check(lus[-1] > lu0, "last-update did not advance: %s" % lus)
    vm.qmp.set_stats_interval(0)
    ctx.note("%sstats max dev %.2f%% updates %d" % (tag, best[0] * 100, len(lus)))


def wait_stable(ctx, vm, quiet=4.0, timeout=90):
    """Wait until query-balloon actual stops changing for `quiet` seconds."""
    deadline = time.monotonic() + timeout
    last, since = vm.qmp.query_balloon(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.25)
        cur = vm.qmp.query_balloon()
        if cur != last:
            last, since = cur, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return cur
    raise TestFailure("balloon never settled (actual %d MiB)" % (last // MiB))


def count_re(text, rx):
    return sum(1 for line in text.splitlines() if rx.search(line))


# ---------------------------------------------------------------------------
# tests

@pytest.mark.timeout(300)
def test_inflate_deflate(ctx, vm):
    check(vm.qmp.query_balloon() == RAM_MIB * MiB, "balloon not empty after load")
    inflate_deflate_body(ctx, vm)


@pytest.mark.timeout(240)
def test_stats(ctx, vm):
    vm.sh("mbtool touch 256")
    stats_body(ctx, vm)


@pytest.mark.timeout(360)
def test_unreasonable_targets(ctx, vm):
    total0 = vm.meminfo()["MemTotal"]
    vm.qmp.take_events()

    # Above guest RAM: QEMU clamps to an empty balloon.
    vm.qmp.balloon(2 * RAM_MIB * MiB)
    t_end = time.monotonic() + 3
    while time.monotonic() < t_end:
        a = vm.qmp.query_balloon()
        check(a == RAM_MIB * MiB, "target above RAM moved actual to %d MiB" % (a // MiB))
        time.sleep(0.2)

    # 1 MiB logical size: the driver must stop somewhere safe.
    vm.sh("dmesg -c >/dev/null")
    t0 = time.monotonic()
    vm.qmp.balloon(1 * MiB)
    settled = wait_stable(ctx, vm, quiet=5.0, timeout=120)
    t_settle = time.monotonic() - t0
    # Let it keep trying a while to see whether it floods the log.
    time.sleep(10)
    t1 = time.monotonic()
    rc, _ = vm.run("true", timeout=30)
    resp = time.monotonic() - t1
    check(rc == 0, "agent command failed under a 1 MiB target")
    mi = vm.meminfo()
    dmesg = vm.dmesg()
    ctx.log("1 MiB target: settled at %d MiB after %.1fs, MemFree %d KiB, "
            "MemAvailable %d KiB, agent rtt %.2fs" % (settled // MiB, t_settle, mi["MemFree"],
                                                       mi["MemAvailable"], resp))
    ctx.log("dmesg during 1 MiB target:\n" + dmesg)
    ooms = count_re(dmesg, OOM_RE)
    # the driver's own lines (dev_* prefix "<driver> virtioN:") and any
    # allocation-failure wording count toward the flood limit
    own = re.compile(r"\b%s virtio\d+:" % re.escape(ctx.driver))
    fails = sum(1 for line in dmesg.splitlines()
                if own.search(line) or ALLOC_FAIL_RE.search(line))
    check(ooms == 0, "OOM in the guest under a 1 MiB target (%d lines)" % ooms)
    check(resp < 5, "agent took %.1fs to answer under a 1 MiB target" % resp)
    check(settled < RAM_MIB * MiB, "balloon did not inflate at all toward 1 MiB")
    check(fails <= 5, "driver log flood under a 1 MiB target: %d lines in %.0fs"
          % (fails, time.monotonic() - t0))

    # Back to full size: everything deflates.
    dt = ctx.set_target(vm, RAM_MIB, timeout=90)
    total = vm.meminfo()["MemTotal"]
    check(abs(total - total0) <= 1024, "MemTotal %d KiB after full deflate, was %d" % (total, total0))
    check(count_re(vm.dmesg(), OOM_RE) == 0, "OOM after deflating")
    ctx.note("stopped at %dMiB free %dMiB in %.1fs, %d driver msgs, deflate %.1fs"
             % (settled // MiB, mi["MemFree"] // 1024, t_settle, fails, dt))


@pytest.mark.timeout(420)
def test_legacy(ctx):
    vm = ctx.boot(mem_mib=RAM_MIB, balloon_opts="disable-modern=on")
    ctx.load_driver(vm)
    # a legacy-only device has no VIRTIO_F_VERSION_1 (bit 32)
    feats = vm.sh("cat %s/features" % balloon_sysfs(vm)).strip()
    ctx.log("features %s" % feats)
    check(len(feats) < 33 or feats[32] == "0", "device is not legacy: %s" % feats)
    inflate_deflate_body(ctx, vm)
    stats_body(ctx, vm)


def first_balloon_change(ctx, vm):
    """Deflate from a balloon of exactly 1 GiB (0x40000 pages: a carry
    across a byte of `actual`) by 512 MiB; the first BALLOON_CHANGE value
    QEMU sent (logical MiB).  QEMU sends the first change after a quiet
    second at once, later ones at most once a second."""
    ctx.set_target(vm, RAM_MIB - 1024)
    time.sleep(2.5)
    vm.qmp.take_events("BALLOON_CHANGE")
    ctx.set_target(vm, RAM_MIB - 512)
    seen = [e["data"]["actual"] / MiB for e in vm.qmp.take_events("BALLOON_CHANGE")]
    ctx.log("BALLOON_CHANGE while deflating %d -> %d MiB: %s" % (RAM_MIB - 1024, RAM_MIB - 512,
                                                                 seen))
    check(seen, "no BALLOON_CHANGE event")
    return seen[0]


@pytest.mark.timeout(420)
def test_legacy_actual(ctx):
    """On the legacy virtio-pci transport (disable-modern=on), QEMU reports
    only values of `actual` the balloon really held.  QEMU 7.2 sends a
    BALLOON_CHANGE for every config write that changes `actual`, and the
    legacy transport writes a config field byte by byte: deflating from
    0x40000 pages, the first byte written turns it into 0x4f000 (memballoon's
    16 MiB step) or 0x4ff00 (the in-tree driver's 1 MiB step), 240-255 MiB
    more than the balloon ever held, and that is the event libvirt and its
    users see first.  memballoon writes the field in one 32-bit store
    (driver/config.c); the in-tree driver, in a second guest, shows the torn
    value that store prevents."""
    notes = []
    intree = [] if ctx.driver == "virtio_balloon" else ["virtio_balloon"]
    for drv in [ctx.driver] + intree:
        vm = ctx.boot(mem_mib=RAM_MIB, balloon_opts="disable-modern=on")
        if drv == ctx.driver:
            ctx.load_driver(vm)
        else:
            ctx.load_intree(vm)
        first = first_balloon_change(ctx, vm)
        torn = not RAM_MIB - 1024 <= first <= RAM_MIB - 512
        notes.append("%s: first BALLOON_CHANGE %.0f MiB%s" % (drv, first, " (torn)" if torn else ""))
        if drv == ctx.driver:
            check(not torn, "%s: the first BALLOON_CHANGE says %.0f MiB while the guest went "
                  "from %d to %d MiB" % (drv, first, RAM_MIB - 1024, RAM_MIB - 512))
        else:
            check(torn, "the in-tree driver's first BALLOON_CHANGE is %.0f MiB, within %d-%d "
                  "MiB: it no longer tears `actual`, and driver/config.c may go"
                  % (first, RAM_MIB - 1024, RAM_MIB - 512))
        vm.close()
        ctx.vms.remove(vm)
    ctx.note("; ".join(notes))


@pytest.mark.timeout(300)
def test_unload(ctx, vm):
    vm.sh("mbtool touch 512")
    mi0 = settle_free(vm)
    ctx.set_target(vm, RAM_MIB - 1024)     # a 1 GiB balloon
    mi1 = vm.meminfo()
    check(mi0["MemTotal"] - mi1["MemTotal"] >= 1023 * 1024, "MemTotal did not drop on inflate")
    t0 = time.monotonic()
    vm.sh("rmmod %s" % ctx.driver, timeout=120)
    t_rmmod = time.monotonic() - t0
    check(balloon_pages_held(vm) == 0,
          "%d pages still ballooned after rmmod" % balloon_pages_held(vm))
    mi2 = settle_free(vm)
    ctx.log("MemTotal %d -> %d -> %d, MemFree %d -> %d -> %d" % (
        mi0["MemTotal"], mi1["MemTotal"], mi2["MemTotal"],
        mi0["MemFree"], mi1["MemFree"], mi2["MemFree"]))
    check(abs(mi2["MemTotal"] - mi0["MemTotal"]) <= 1024,
          "MemTotal %d KiB after rmmod, %d before inflating" % (mi2["MemTotal"], mi0["MemTotal"]))
    check(abs(mi2["MemFree"] - mi0["MemFree"]) <= 0.03 * mi0["MemFree"],
          "MemFree %d KiB after rmmod, %d before inflating" % (mi2["MemFree"], mi0["MemFree"]))
    check(not ctx.bound_devices(vm), "device still bound after rmmod")
    check(ctx.driver not in vm.sh("cat /proc/modules"), "module still loaded")
    # rebind and balloon again
    ctx.load_driver(vm)
    dt = ctx.set_target(vm, RAM_MIB - 512)
    mi3 = vm.meminfo()
    check(abs((mi0["MemTotal"] - mi3["MemTotal"]) - 512 * 1024) <= 1024,
          "after reload MemTotal %d KiB for a 512 MiB balloon" % mi3["MemTotal"])
    ctx.set_target(vm, RAM_MIB)
    ctx.note("rmmod %.1fs with 1GiB balloon, reload+512MiB %.1fs" % (t_rmmod, dt))


@pytest.mark.timeout(420)
def test_takeover(ctx):
    if ctx.driver == "virtio_balloon":
        raise Skip("module under test is the in-tree driver itself")
    vm = ctx.boot(mem_mib=RAM_MIB)
    ctx.load_intree(vm)
    ctx.set_target(vm, 1024)
    out = vm.run("/usr/bin/takeover.sh -m %s" % ctx.guest_ko, timeout=120)
    ctx.log("takeover.sh rc=%d:\n%s" % out)
    check(out[0] == 0, "takeover.sh failed rc=%d: %s" % (out[0], out[1].strip()[-200:]))
    check(ctx.bound_devices(vm), "device not bound to %s after takeover" % ctx.driver)
    check(not ctx.bound_devices(vm, "virtio_balloon"), "virtio_balloon still bound")
    # the new driver must pick up the standing 1 GiB target
    ctx.set_target(vm, 1024, timeout=60)
    # The in-tree balloon's 1 GiB was discarded on the host; on 7.x the
    # guest does not touch all of it again before memballoon balloons it.
    inflate_deflate_body(ctx, vm, nonresident_ok=True)


@pytest.mark.timeout(300)
def test_hotunplug(ctx):
    """device_del with an inflated balloon gives every page back; device_add
    of a new balloon binds the (still loaded) driver, which then works."""
    vm = ctx.boot(mem_mib=RAM_MIB)
    ctx.load_driver(vm)
    mi0 = settle_free(vm)
    ctx.set_target(vm, share(1024))
    t0 = time.monotonic()
    vm.qmp.device_del("balloon0")
    vm.qmp.wait_event("DEVICE_DELETED", timeout=60,
                      pred=lambda d: d.get("device") == "balloon0")
    t_del = time.monotonic() - t0
    check(not ctx.bound_devices(vm), "a device is still bound after device_del")
    check(balloon_pages_held(vm) == 0,
          "%d pages still ballooned after device_del" % balloon_pages_held(vm))
    mi1 = settle_free(vm)
    ctx.log("MemTotal %d -> %d, MemFree %d -> %d" % (mi0["MemTotal"], mi1["MemTotal"],
                                                      mi0["MemFree"], mi1["MemFree"]))
    check(abs(mi1["MemTotal"] - mi0["MemTotal"]) <= 1024,
          "MemTotal %d KiB after unplug, %d before inflating" % (mi1["MemTotal"], mi0["MemTotal"]))
    check(abs(mi1["MemFree"] - mi0["MemFree"]) <= 0.03 * mi0["MemFree"],
          "MemFree %d KiB after unplug, %d before inflating" % (mi1["MemFree"], mi0["MemFree"]))
    vm.qmp.device_add("virtio-balloon-pci", id="balloon0")
    ctx.wait_bound(vm, ctx.driver, timeout=60)
    dt = ctx.set_target(vm, share(1536))
    ctx.set_target(vm, RAM_MIB)
    ctx.note("unplug with 1GiB balloon %.1fs, replug+512MiB %.1fs" % (t_del, dt))


MMIO_MODES = (("legacy", []), ("modern", ["-global", "virtio-mmio.force-legacy=false"]))


@pytest.mark.timeout(600)
def test_mmio(ctx):
    """virtio-mmio on QEMU's microvm machine (the transport of Firecracker
    and Cloud Hypervisor style VMMs), as legacy MMIO (microvm's default) and
    as virtio 1.0 MMIO: the driver binds, reaches each target exactly, its
    stats match the guest, and rmmod gives every page back."""
    if ctx.kenv.get("ARCH", "amd64") != "amd64":
        raise Skip("QEMU's microvm machine is x86's")
    if "cloud" in ctx.kenv.get("LABEL", "") and (ctx.qemu_version or (0,)) >= (10, 0):
        # measured 2026-11-27: 7 of 7 boots hang right after "ACPI: Core
        # revision", before the APIC is set up (any -cpu, pit/pic/rtc on,
        # acpi off, nox2apic); the generic kernel on QEMU 10.0 and the cloud
        # kernel on QEMU 7.2 boot.  No module of ours is loaded by then.
        raise Skip("Debian's cloud kernel does not boot on QEMU 10.0's microvm under TCG "
                   "(hangs in early timer/APIC setup; docs/harness.md)")
    notes = []
    for mode, extra in MMIO_MODES:
        vm = ctx.boot(mem_mib=RAM_MIB, machine="microvm",
                      balloon_dev="virtio-balloon-device", extra_args=extra)
        ctx.load_driver(vm)
        dev = balloon_sysfs(vm)
        check("virtio-mmio" in dev or ".virtio_mmio" in dev or "LNRO0005" in dev,
              "%s: balloon is not on virtio-mmio: %s" % (mode, dev))
        feats = vm.sh("cat %s/features" % dev).strip()
        v1 = len(feats) > 32 and feats[32] == "1"
        check(v1 == (mode == "modern"), "%s: VERSION_1 is %s (features %s)" % (mode, v1, feats))
        inflate_deflate_body(ctx, vm, tag="%s: " % mode)
        stats_body(ctx, vm, tag="%s: " % mode)
        mi0 = settle_free(vm)
        # `actual` is written in one store on both: QEMU reports every value
        # it sees, and a byte-wise write would show values the balloon never
        # held (out of order or out of range) while it grows
        vm.qmp.take_events("BALLOON_CHANGE")
        ctx.set_target(vm, 1024)
        seen = [e["data"]["actual"] // MiB for e in vm.qmp.take_events("BALLOON_CHANGE")]
        check(seen and all(1024 <= a <= RAM_MIB for a in seen) and seen == sorted(seen, reverse=True),
              "%s: BALLOON_CHANGE values not monotonic in [1024, %d] MiB: %s" % (mode, RAM_MIB, seen))
        vm.sh("rmmod %s" % ctx.driver, timeout=120)
        check(balloon_pages_held(vm) == 0, "%s: pages still ballooned after rmmod" % mode)
        mi1 = settle_free(vm)
        check(abs(mi1["MemTotal"] - mi0["MemTotal"]) <= 1024,
              "%s: MemTotal %d KiB after rmmod, %d before" % (mode, mi1["MemTotal"], mi0["MemTotal"]))
        notes.append("%s boot %.1fs, %d BALLOON_CHANGE in order" % (mode, vm.boot_seconds, len(seen)))
        vm.close()
        ctx.vms.remove(vm)
    ctx.note("; ".join(notes))
