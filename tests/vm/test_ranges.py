"""The range path (issue 15): the balloon's 2 MiB blocks handed to the host
as ranges on the free page reporting queue, its 4 KiB pages as PFNs.

ranges: exact odd targets with blocks and 4 KiB pages mixed, data intact,
QEMU's RSS down, range-only deflates without a message, range_blocks=0 at
run time.  ranges_lifecycle: deflate-on-OOM, suspend, rmmod and hot-unplug
while inflating, all in one guest whose balloon went through ranges.
ranges_no_discard: a host that cannot discard (a QEMU background snapshot
running): the buffers are used, actual and the guest's data stay right, and
the balloon discards again once the snapshot is over.  ranges_migrate: live
migration to a second QEMU of a balloon held through both paths.

The guests are 1 GiB (the assertions do not need more) and each test boots
one, to keep make check short.  memballoon's tracepoints tell the paths
apart: every inflate and deflate event says how many of its blocks went or
came back as ranges, and host_ns 0 on a deflate means no message.
"""
import time

import pytest

from harness import Skip, check, mbnl_dump, settle_free, trace_clear, trace_events, trace_start
from harness import balloon_pages_held
from test_features import F_REPORTING, OOM_RE, suspend_cycle
from vm import MiB

RAM_MIB = 1024
PARAM = "/sys/module/memballoon/parameters/range_blocks"
REPORTING = "free-page-reporting=on"


def ranges_guest(ctx, balloon_opts=REPORTING, **kw):
    """A 1 GiB guest whose balloon offers REPORTING, memballoon bound and
    its tracepoints on."""
    if ctx.driver != "memballoon":
        raise Skip("the range path and its tracepoints are memballoon's")
    vm = ctx.boot(mem_mib=RAM_MIB, balloon_opts=balloon_opts, **kw)
    ctx.load_driver(vm)
    dev = mbnl_dump(vm)
    check(dev["features"] >> F_REPORTING & 1, "REPORTING not negotiated: %#x" % dev["features"])
    check(vm.sh("cat %s" % PARAM).strip() == "Y", "range_blocks is not Y by default")
    check(trace_start(vm), "memballoon's tracepoints cannot be enabled")
    return vm


def write_data(vm, mib=32):
    """Random data in the guest's page cache; returns its md5."""
    return vm.sh("dd if=/dev/urandom of=/tmp/data bs=1M count=%d 2>/dev/null && "
                 "md5sum /tmp/data" % mib).split()[0]


def check_data(vm, md5, when):
    got = vm.sh("md5sum /tmp/data").split()[0]
    check(got == md5, "guest data changed %s: md5 %s, was %s" % (when, got, md5))


def moved(vm, kind):
    """The trace's events of one kind (inflate/deflate), then an empty trace."""
    evs = [e for e in trace_events(vm) if e["event"] == kind]
    trace_clear(vm)
    return evs


def total(evs, field):
    return sum(e[field] for e in evs)


UNTOUCHED_MIB = 60      # free memory touch_free() leaves alone (a margin above the watermarks)


def touch_free(vm):
    """Make the guest's free memory resident on the host (but UNTOUCHED_MIB):
    written by a process that then exits.  Returns mbtool's line."""
    return vm.sh("mbtool touch %d" % (mem_mib(vm, "MemFree") - UNTOUCHED_MIB),
                 timeout=120).strip()


def ram_rss_kib(vm):
    """QEMU's resident KiB of the guest's RAM alone: the Rss of its RAM
    mapping in /proc/PID/smaps (QEMU's own memory, its TCG code buffer
    included, varies by hundreds of MiB between runs and versions)."""
    size = None
    with open("/proc/%d/smaps" % vm.proc.pid) as f:
        for line in f:
            if line.startswith("Size:"):
                size = int(line.split()[1])
            elif line.startswith("Rss:") and size is not None:
                if RAM_MIB * 1024 <= size <= RAM_MIB * 1024 + 4096:
                    return int(line.split()[1])
                size = None
    raise AssertionError("no %d MiB mapping in QEMU's smaps" % RAM_MIB)


def resident_want(balloon_kib, rss0_kib):
    """The ballooned KiB the guest RAM's RSS must lose: the balloon less the
    guest RAM that was not resident (the balloon may take those pages, and
    zeroing and dropping one that was not resident changes nothing)."""
    return max(0, balloon_kib - (RAM_MIB * 1024 - rss0_kib))


def mem_mib(vm, key="MemAvailable"):
    return vm.meminfo()[key] // 1024


# ---------------------------------------------------------------------------

@pytest.mark.timeout(300)
def test_ranges(ctx):
    """Range-only balloon: every block goes as a range, and the deflate (by
    whole blocks, by 1 MiB splitting a range block, then to empty) sends no
    message.  Fragmented guest: a balloon of an odd size takes blocks (as
    ranges) and 4 KiB pages (as PFNs), reaches the target to the page, goes
    down by an odd 3 MiB and back to empty; MemTotal and the kernel's count of
    ballooned pages are exact, QEMU's RSS falls by >= 98% of the ballooned
    resident memory, the guest's data is intact.  range_blocks=0 at run time:
    the next inflate uses PFNs only."""
    vm = ranges_guest(ctx)
    total0 = vm.meminfo()["MemTotal"]
    md5 = write_data(vm)
    notes = []

    # range-only: 256 MiB of free 2 MiB blocks
    ctx.set_target(vm, RAM_MIB - 256)
    inf = moved(vm, "inflate")
    check(total(inf, "pages") == 256 * 256, "inflate events add up to %d pages, not %d"
          % (total(inf, "pages"), 256 * 256))
    check(all(e["ranges"] == e["blocks"] and e["pages"] == 512 * e["ranges"] for e in inf),
          "a range-only balloon went partly as PFNs: %r" % inf[:4])
    check(total0 - vm.meminfo()["MemTotal"] == 256 * 1024, "MemTotal did not drop by 256 MiB")
    t0 = time.monotonic()
    ctx.set_target(vm, RAM_MIB - 128)
    t_half = time.monotonic() - t0
    de = moved(vm, "deflate")
    check(total(de, "pages") == 128 * 256 and all(e["host_ns"] == 0 for e in de),
          "deflating range blocks sent messages or moved the wrong pages: %r" % de[:4])
    # 1 MiB: a range block splits, the kept half stays ballooned as PFNs
    ctx.set_target(vm, RAM_MIB - 127)
    de = moved(vm, "deflate")
    check([(e["pages"], e["blocks"], e["host_ns"]) for e in de] == [(256, 0, 0)],
          "a 1 MiB deflate of range blocks was %r, not 256 pages without a message" % de)
    check(balloon_pages_held(vm) == 127 * 256, "the kernel counts %d ballooned pages, the "
          "balloon holds %d" % (balloon_pages_held(vm), 127 * 256))
    ctx.set_target(vm, RAM_MIB)
    de = moved(vm, "deflate")
    check(total(de, "pages") == 127 * 256, "deflated %d pages of %d" % (total(de, "pages"),
                                                                         127 * 256))
    check(balloon_pages_held(vm) == 0 and vm.meminfo()["MemTotal"] == total0,
          "after the full deflate: %d pages ballooned, MemTotal %d KiB (was %d)"
          % (balloon_pages_held(vm), vm.meminfo()["MemTotal"], total0))
    notes.append("256MiB as %d ranges, 128MiB back without messages in %.2fs"
                 % (total(inf, "ranges"), t_half))

    # fragmented: 4 KiB pages in 128 KiB holes besides ~200 MiB of free
    # blocks (proactive compaction off: it would merge the holes meanwhile)
    vm.sh("echo 0 > /proc/sys/vm/compaction_proactiveness")
    fill = mem_mib(vm, "MemFree") - 200
    vm.sh("mbtool frag %d > /tmp/frag.log 2>&1 & echo $! > /tmp/frag.pid" % fill)
    deadline = time.monotonic() + 120
    while "fragmented" not in vm.sh("cat /tmp/frag.log"):
        check(time.monotonic() < deadline, "mbtool frag: %s" % vm.sh("cat /tmp/frag.log"))
        time.sleep(0.5)
    balloon = min(517, mem_mib(vm) - 120) | 1          # odd
    touched = touch_free(vm)
    rss0 = ram_rss_kib(vm)
    rep0 = mbnl_dump(vm)["reported_pages"]
    ctx.log("frag %d MiB, %s, RSS %d KiB; balloon %d MiB" % (fill, touched, rss0, balloon))
    ctx.set_target(vm, RAM_MIB - balloon, timeout=120)
    rss1 = ram_rss_kib(vm)
    inf = moved(vm, "inflate")
    held = balloon * 256
    check(total(inf, "pages") == held, "inflate events add up to %d pages, the balloon holds %d"
          % (total(inf, "pages"), held))
    check(total(inf, "ranges") > 0 and total(inf, "ranges") == total(inf, "blocks"),
          "blocks %d, of them ranges %d: every block must go as a range"
          % (total(inf, "blocks"), total(inf, "ranges")))
    check(total(inf, "blocks") * 512 < held, "the fragmented guest's balloon is all blocks")
    check(total0 - vm.meminfo()["MemTotal"] == balloon * 1024,
          "MemTotal dropped %d KiB for a %d MiB balloon"
          % (total0 - vm.meminfo()["MemTotal"], balloon))
    want = resident_want(balloon * 1024, rss0)
    rep = mbnl_dump(vm)["reported_pages"] - rep0
    ctx.log("RSS %d -> %d KiB, %d KiB of the balloon were resident, %d MiB reported meanwhile"
            % (rss0, rss1, want, rep // 256))
    check(rss0 - rss1 >= 0.98 * want, "QEMU RSS fell only %d KiB for %d KiB ballooned resident"
          % (rss0 - rss1, want))
    ctx.set_target(vm, RAM_MIB - balloon + 3)
    ctx.set_target(vm, RAM_MIB)
    de = moved(vm, "deflate")
    check(total(de, "pages") == held, "deflated %d pages, the balloon held %d"
          % (total(de, "pages"), held))
    check(balloon_pages_held(vm) == 0 and vm.meminfo()["MemTotal"] == total0,
          "%d pages still ballooned, MemTotal %d KiB (was %d)"
          % (balloon_pages_held(vm), vm.meminfo()["MemTotal"], total0))
    check_data(vm, md5, "by the mixed balloon")
    vm.sh("kill $(cat /tmp/frag.pid); wait 2>/dev/null; sleep 0.5")
    notes.append("fragmented %d MiB: %d%% ranges, RSS -%d MiB of %d resident"
                 % (balloon, 100 * total(inf, "ranges") * 512 // held, (rss0 - rss1) // 1024,
                    want // 1024))

    # range_blocks=0 at run time: the next inflate is PFNs only
    vm.sh("echo 0 > %s" % PARAM)
    ctx.set_target(vm, RAM_MIB - 201)
    inf = moved(vm, "inflate")
    check(total(inf, "pages") == 201 * 256 and total(inf, "ranges") == 0
          and total(inf, "blocks") > 0,
          "range_blocks=0: %d pages, %d blocks, %d ranges" % (
              total(inf, "pages"), total(inf, "blocks"), total(inf, "ranges")))
    ctx.set_target(vm, RAM_MIB)
    de = moved(vm, "deflate")
    check(all(e["ranges"] == 0 and e["host_ns"] > 0 for e in de),
          "PFN blocks came back without a message: %r" % de[:4])
    vm.sh("echo 1 > %s" % PARAM)
    check_data(vm, md5, "at the end")
    # the netlink counters count range pages like any others
    dev = mbnl_dump(vm)
    moved_pages = (256 + balloon + 201) * 256
    check(dev["inflated"] == moved_pages and dev["deflated"] == moved_pages
          and dev["actual_pages"] == 0,
          "netlink counters: inflated %d, deflated %d, actual %d; %d pages went each way"
          % (dev["inflated"], dev["deflated"], dev["actual_pages"], moved_pages))
    notes.append("range_blocks=0: 201MiB as PFNs")
    ctx.note("; ".join(notes))


@pytest.mark.timeout(400)
def test_ranges_lifecycle(ctx):
    """A balloon inflated through ranges, in one guest (deflate-on-oom):
    the OOM path releases range blocks first, without a message, and a
    workload needing more than is free survives with no OOM kill; suspend
    (freeze/restore) keeps actual right and the balloon follows a new target
    through ranges after resume; rmmod gives every page back and the host
    sees actual 0; a reloaded driver's device unplugged while it inflates
    leaves nothing ballooned, and a new device works."""
    vm = ranges_guest(ctx, balloon_opts="deflate-on-oom=on," + REPORTING,
                      append="no_console_suspend", pvh=False)
    notes = []

    # deflate on OOM
    ctx.set_target(vm, RAM_MIB - 640)
    check(total(moved(vm, "inflate"), "ranges") == 640 // 2, "the balloon is not all ranges")
    need = mem_mib(vm) + 200
    t0 = time.monotonic()
    rc, out = vm.run("mbtool hog %d 1" % need, timeout=180)
    dt = time.monotonic() - t0
    kills = len(OOM_RE.findall(vm.dmesg()))
    actual = vm.qmp.query_balloon() // MiB
    de = moved(vm, "deflate")
    ctx.log("hog %d MiB: rc %d in %.1fs (%s), %d OOM lines, actual %d MiB, deflates %r"
            % (need, rc, dt, out.strip()[-80:], kills, actual, de[:3]))
    check(rc == 0 and kills == 0, "the workload: rc %d, %d OOM kill lines" % (rc, kills))
    check(RAM_MIB - 640 < actual < RAM_MIB, "balloon after the workload: actual %d MiB" % actual)
    check(de and all(e["ranges"] * 512 == e["pages"] and e["host_ns"] == 0 for e in de),
          "the OOM path released something other than whole ranges, or sent messages: %r"
          % de[:4])
    check(mbnl_dump(vm)["oom_deflates"] > 0, "no OOM deflate counted")
    notes.append("OOM: %d MiB hog in %.1fs, %d MiB released as ranges"
                 % (need, dt, total(de, "pages") // 256))

    # suspend: freeze gives everything back, restore inflates through ranges again
    how = "s3"
    if ctx.kenv.get("KVER", "").startswith("6.12.") and (ctx.qemu_version or (0,)) < (10, 0):
        how = "s2idle"      # test_suspend: 6.12 on QEMU 7.2 crashes on S3 resume
    ctx.set_target(vm, RAM_MIB - 301)
    trace_clear(vm)
    dts = suspend_cycle(ctx, vm, how)
    ctx.set_target(vm, RAM_MIB - 301)
    dev = mbnl_dump(vm)
    check(dev["actual_pages"] == 301 * 256, "%s: the driver holds %d pages after resume, not %d"
          % (how, dev["actual_pages"], 301 * 256))
    ctx.set_target(vm, RAM_MIB - 401)
    inf = moved(vm, "inflate")
    check(total(inf, "ranges") > 0, "no ranges after resume: %r" % inf[:4])
    notes.append("%s %.1fs, actual right, ranges after resume" % (how, dts))

    # rmmod with a range balloon
    mi0 = settle_free(vm)
    vm.sh("rmmod %s" % ctx.driver, timeout=120)
    mi1 = settle_free(vm)
    check(balloon_pages_held(vm) == 0, "%d pages ballooned after rmmod" % balloon_pages_held(vm))
    check(mi1["MemFree"] - mi0["MemFree"] >= 0.97 * 401 * 1024,
          "MemFree %d -> %d KiB after rmmod of a 401 MiB balloon" % (mi0["MemFree"], mi1["MemFree"]))
    check(vm.qmp.query_balloon() == RAM_MIB * MiB, "the host sees actual %d MiB after rmmod"
          % (vm.qmp.query_balloon() // MiB))

    # hot-unplug while inflating (a reloaded driver)
    ctx.load_driver(vm)
    check(trace_start(vm), "tracepoints after reload")
    mi0 = settle_free(vm)
    vm.qmp.balloon(256 * MiB)
    t0 = time.monotonic()
    while vm.qmp.query_balloon() == RAM_MIB * MiB and time.monotonic() - t0 < 30:
        time.sleep(0.01)
    mid = vm.qmp.query_balloon() // MiB
    vm.qmp.device_del("balloon0")
    vm.qmp.wait_event("DEVICE_DELETED", timeout=60, pred=lambda d: d.get("device") == "balloon0")
    check(balloon_pages_held(vm) == 0,
          "%d pages ballooned after device_del" % balloon_pages_held(vm))
    mi1 = settle_free(vm)
    check(mi1["MemFree"] >= 0.97 * mi0["MemFree"], "MemFree %d KiB after unplug, %d before"
          % (mi1["MemFree"], mi0["MemFree"]))
    vm.qmp.device_add("virtio-balloon-pci", id="balloon0", **{"free-page-reporting": True,
                                                              "deflate-on-oom": True})
    ctx.wait_bound(vm, ctx.driver, timeout=60)
    trace_clear(vm)
    ctx.set_target(vm, RAM_MIB - 101)
    check(total(moved(vm, "inflate"), "ranges") > 0, "the re-plugged device got no ranges")
    ctx.set_target(vm, RAM_MIB)
    notes.append("rmmod all back, actual 0; unplugged at %d MiB mid-inflate, replug works" % mid)
    ctx.note("; ".join(notes))


def migration_status(vm):
    return vm.qmp.cmd("query-migrate").get("status")


@pytest.mark.timeout(300)
def test_ranges_no_discard(ctx):
    """QEMU skips the discard of reported ranges while a background snapshot
    runs (virtio_balloon_inhibited()), but still uses the buffers: the
    balloon reaches its target through ranges, QEMU's RSS stays, the guest's
    data is intact and the range pages come back without a message; once
    the snapshot is over, the next inflate discards again."""
    vm = ranges_guest(ctx)
    md5 = write_data(vm)
    vm.sh("mbtool touch %d" % (mem_mib(vm) - 100), timeout=120)
    try:
        vm.qmp.cmd("migrate-set-capabilities", {"capabilities": [
            {"capability": "background-snapshot", "state": True}]})
    except Exception as e:
        raise Skip("this QEMU cannot take a background snapshot: %s" % str(e)[:120])
    # slow enough that the snapshot runs for a while (each page the guest
    # writes meanwhile is saved first, at this rate)
    vm.qmp.cmd("migrate-set-parameters", {"max-bandwidth": 64 << 20})
    vm.qmp.cmd("migrate", {"uri": "exec:cat > /dev/null"})
    t0 = time.monotonic()
    while migration_status(vm) != "active":
        st = migration_status(vm)
        if st in ("failed", "cancelled") or time.monotonic() - t0 > 30:
            raise Skip("the background snapshot did not start (%s): %s"
                       % (st, vm.qmp.cmd("query-migrate").get("error-desc", "")))
        time.sleep(0.05)
    rss_before = ram_rss_kib(vm)
    ctx.set_target(vm, RAM_MIB - 101, timeout=120)
    rss_during = ram_rss_kib(vm)
    during = migration_status(vm)
    check(during == "active", "the snapshot ended (%s) before the balloon reached its target"
          % during)
    inf = moved(vm, "inflate")
    check(total(inf, "ranges") > 0 and total(inf, "pages") == 101 * 256,
          "during the snapshot: %d pages, %d ranges" % (total(inf, "pages"), total(inf, "ranges")))
    check(rss_before - rss_during < 25 * 1024, "QEMU's RSS fell %d KiB while it may not discard"
          % (rss_before - rss_during))
    check_data(vm, md5, "by a balloon the host could not discard")
    ctx.set_target(vm, RAM_MIB)
    de = moved(vm, "deflate")
    # 101 MiB: 50 blocks as ranges, 1 MiB of single pages as PFNs
    check(total(de, "pages") == 101 * 256 and total(de, "ranges") > 0
          and all(e["host_ns"] == 0 for e in de if e["pages"] == 512 * e["ranges"]),
          "range pages came back with messages: %r" % de[:4])
    rc, out = vm.run("mbtool fill 200", timeout=180)
    check(rc == 0, "the memory did not read back what was written: %s" % out.strip()[-200:])
    # let it finish
    vm.qmp.cmd("migrate-set-parameters", {"max-bandwidth": 8 << 30})
    t0 = time.monotonic()
    while migration_status(vm) == "active":
        check(time.monotonic() - t0 < 120, "the snapshot did not finish")
        time.sleep(0.2)
    check(migration_status(vm) == "completed", "snapshot %s" % migration_status(vm))
    check(vm.qmp.cmd("query-status")["status"] == "running", "the guest is not running")
    # discards again
    touch_free(vm)
    rss0 = ram_rss_kib(vm)
    ctx.set_target(vm, RAM_MIB - 101)
    rss1 = ram_rss_kib(vm)
    want = resident_want(101 * 1024, rss0)
    check(rss0 - rss1 >= 0.98 * want, "after the snapshot QEMU's RSS fell only %d KiB of %d"
          % (rss0 - rss1, want))
    ctx.set_target(vm, RAM_MIB)
    check_data(vm, md5, "at the end")
    ctx.note("during the snapshot: 101 MiB as %d ranges, RSS %+d KiB, data intact; after: "
             "RSS -%d MiB" % (total(inf, "ranges"), rss_during - rss_before, (rss0 - rss1) // 1024))


@pytest.mark.timeout(300)
def test_ranges_migrate(ctx):
    """Live migration (to a second QEMU on this machine started with
    -incoming, over a unix socket) of a guest whose balloon holds pages of
    both paths: 2 MiB blocks given as ranges, then, with range_blocks=0,
    blocks and 4 KiB pages given as PFNs.  On the destination: QEMU's actual,
    the driver's count of ballooned pages and MemTotal are as before, the
    guest's data is intact, and the balloon is not resident (its pages
    migrate as zero pages, which the destination does not allocate); the
    balloon deflates to empty (the ranges without a message, the PFN pages
    with the new QEMU's answer) and inflates again through ranges."""
    vm = ranges_guest(ctx)
    md5 = write_data(vm)
    total0 = vm.meminfo()["MemTotal"]
    touched = touch_free(vm)
    by_ranges, by_pfns = 301, 151
    balloon = by_ranges + by_pfns
    ctx.set_target(vm, RAM_MIB - by_ranges)
    inf = moved(vm, "inflate")
    check(total(inf, "ranges") * 512 == by_ranges * 256 - 256,
          "%d MiB went as %d ranges (want all but the odd MiB)" % (by_ranges, total(inf, "ranges")))
    vm.sh("echo 0 > %s" % PARAM)
    ctx.set_target(vm, RAM_MIB - balloon)
    vm.sh("echo 1 > %s" % PARAM)
    inf = moved(vm, "inflate")
    check(total(inf, "pages") == by_pfns * 256 and total(inf, "ranges") == 0,
          "range_blocks=0: %d pages, %d ranges" % (total(inf, "pages"), total(inf, "ranges")))
    held = balloon * 256
    rss_src = ram_rss_kib(vm)

    info = vm.migrate()
    ram = info.get("ram", {})
    rss_dst = ram_rss_kib(vm)
    ctx.log("%s; migrated in %s ms: %s; RSS %d KiB on the source, %d on the destination"
            % (touched, info.get("total-time"), ram, rss_src, rss_dst))
    actual = vm.qmp.query_balloon()
    check(actual == (RAM_MIB - balloon) * MiB, "the destination's actual is %d MiB, not %d"
          % (actual // MiB, RAM_MIB - balloon))
    dev = mbnl_dump(vm)
    check(dev["actual_pages"] == held and balloon_pages_held(vm) == held,
          "after the migration the driver holds %d pages, the kernel counts %d, not %d"
          % (dev["actual_pages"], balloon_pages_held(vm), held))
    check(total0 - vm.meminfo()["MemTotal"] == balloon * 1024,
          "MemTotal is %d KiB after the migration, %d before the balloon"
          % (vm.meminfo()["MemTotal"], total0))
    check_data(vm, md5, "by the migration")
    # what is resident on the destination is at most what was not ballooned
    check(rss_dst <= (RAM_MIB - balloon) * 1024 + 16 * 1024,
          "the destination holds %d KiB of guest RAM for %d MiB not ballooned"
          % (rss_dst, RAM_MIB - balloon))

    ctx.set_target(vm, RAM_MIB)
    de = moved(vm, "deflate")
    check(total(de, "pages") == held, "deflated %d pages of %d" % (total(de, "pages"), held))
    check(all(e["host_ns"] == 0 for e in de if e["ranges"] and e["pages"] == 512 * e["ranges"])
          and all(e["host_ns"] > 0 for e in de if not e["ranges"]),
          "range pages came back with messages or PFN pages without: %r" % de[:6])
    check(balloon_pages_held(vm) == 0 and vm.meminfo()["MemTotal"] == total0,
          "%d pages ballooned, MemTotal %d KiB (was %d)"
          % (balloon_pages_held(vm), vm.meminfo()["MemTotal"], total0))
    ctx.set_target(vm, RAM_MIB - 101)
    inf = moved(vm, "inflate")
    check(total(inf, "ranges") > 0 and total(inf, "pages") == 101 * 256,
          "on the destination: %d pages, %d ranges" % (total(inf, "pages"), total(inf, "ranges")))
    ctx.set_target(vm, RAM_MIB)
    rc, out = vm.run("mbtool fill 200", timeout=180)
    check(rc == 0, "the memory did not read back what was written: %s" % out.strip()[-200:])
    check_data(vm, md5, "at the end")
    ctx.note("%d MiB as ranges + %d MiB as PFNs migrated in %s ms (%d MiB sent); guest RAM "
             "resident %d MiB on the source, %d MiB on the destination; deflate and inflate "
             "there right" % (by_ranges, by_pfns, info.get("total-time"),
                              ram.get("transferred", 0) >> 20, rss_src >> 10, rss_dst >> 10))
