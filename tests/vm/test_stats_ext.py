"""The Linux 6.12 stats tags 10-15 as the host sees them.

QEMU 9.2+ (here 10.0) returns them in guest-stats as stat-oom-kills,
stat-alloc-stalls, stat-async-scans, stat-direct-scans, stat-async-reclaims
and stat-direct-reclaims; QEMU 7.2 drops tags >= 10.  The driver sends all 16
tags to every host.
"""
import re
import time

import pytest

from harness import check, vmstat as guest_vmstat
from test_balloon import U64_UNSET, stats_body, wait_fresh_stats
from vm import MiB

EXT = ("stat-oom-kills", "stat-alloc-stalls", "stat-async-scans", "stat-direct-scans",
       "stat-async-reclaims", "stat-direct-reclaims")
STANDARD = ("stat-swap-in", "stat-swap-out", "stat-major-faults", "stat-minor-faults",
            "stat-free-memory", "stat-total-memory", "stat-available-memory",
            "stat-disk-caches")
PAGE = 4096
# What each tag counts, from /proc/vmstat: (counter regex, unit).  The spec
# gives scans and reclaims in bytes, the others as counts.
VMSTAT = {
    "stat-oom-kills": (r"oom_kill", 1),
    "stat-alloc-stalls": (r"allocstall_\w+", 1),
    "stat-async-scans": (r"pgscan_kswapd", PAGE),
    "stat-direct-scans": (r"pgscan_direct", PAGE),
    "stat-async-reclaims": (r"pgsteal_kswapd", PAGE),
    "stat-direct-reclaims": (r"pgsteal_direct", PAGE),
}
RD_MIB = 1536      # page cache filled from a RAM disk: reclaimable memory
HOG_MIB = 1200     # then an allocation that needs most of it back


def vmstat(vm):
    """The guest's /proc/vmstat counters behind each tag, in the tag's unit."""
    counters = guest_vmstat(vm)
    out = {}
    for tag, (rx, unit) in VMSTAT.items():
        r = re.compile(rx + "$")
        out[tag] = sum(v for k, v in counters.items() if r.match(k)) * unit
    return out


def bracketed_sample(vm, prev):
    """A guest-stats sample taken strictly after a /proc/vmstat reading:
    (vmstat before, sample, vmstat after).  The sample of the second update
    after the first reading was requested by QEMU after that reading."""
    before = vmstat(vm)
    s1 = wait_fresh_stats(vm, prev["last-update"])
    s2 = wait_fresh_stats(vm, s1["last-update"])
    after = vmstat(vm)
    return before, s2, after


def fmt(tag, v):
    return "%s=%s" % (tag[5:], "%.0fMiB" % (v / MiB) if VMSTAT[tag][1] == PAGE else v)


@pytest.mark.timeout(360)
def test_stats_extended(ctx, vm):
    vm.qmp.set_stats_interval(1)
    gs = wait_fresh_stats(vm, None, timeout=20)
    gs = wait_fresh_stats(vm, gs["last-update"])
    stats = gs["stats"]
    ctx.log("guest-stats: %s" % stats)
    missing = [k for k in STANDARD if stats.get(k, U64_UNSET) == U64_UNSET]
    check(not missing, "standard stats not reported: %s" % ", ".join(missing))

    if ctx.qemu_version and ctx.qemu_version < (9, 2):
        # QEMU 7.2 knows tags 0-9 only: the others must be dropped, and the
        # standard ones still arrive and agree with the guest.
        present = [k for k in EXT if k in stats]
        check(not present, "QEMU %d.%d reported tags it does not know: %s"
              % (ctx.qemu_version + (", ".join(present),)))
        stats_body(ctx, vm)
        ctx.note("qemu %d.%d: tags 10-15 dropped, standard stats intact" % ctx.qemu_version)
        return

    unset = [k for k in EXT if stats.get(k, U64_UNSET) == U64_UNSET]
    check(not unset, "tags 10-15 not reported: %s" % ", ".join(unset))

    samples = []      # (vmstat before, guest-stats, vmstat after)

    def sample(what):
        b, s, a = bracketed_sample(vm, samples[-1][1] if samples else gs)
        samples.append((b, s, a))
        ctx.log("%s: %s | vmstat %s" % (what, " ".join(fmt(t, s["stats"][t]) for t in EXT),
                                         " ".join(fmt(t, a[t]) for t in EXT)))
        for t in EXT:
            v = s["stats"].get(t, U64_UNSET)
            check(v != U64_UNSET, "%s: %s no longer reported" % (what, t))
            # The driver's value must be the guest's counter at some moment
            # between the two readings.
            check(b[t] <= v <= a[t],
                  "%s: %s is %d but the guest's /proc/vmstat (%s) went from %d to %d "
                  "around that sample" % (what, t, v, VMSTAT[t][0], b[t], a[t]))
        return s["stats"]

    s0 = sample("idle")
    # Reclaimable memory: the page cache of a RAM disk (held open, or its
    # cache goes with the last close); then an allocation that needs it.
    rc, out = vm.run("test -f /lib/modules/kernel/brd.ko || { echo no brd.ko; exit 3; }; "
                     "insmod /lib/modules/kernel/brd.ko rd_nr=1 rd_size=%d && "
                     "(sleep 3600 </dev/ram0 >/dev/null 2>&1 &) && "
                     "dd if=/dev/ram0 of=/dev/null bs=1M 2>&1 | tail -n1; "
                     "grep -E '^(MemFree|Buffers|Cached):' /proc/meminfo" % (RD_MIB * 1024),
                     timeout=120)
    ctx.log("RAM disk read (rc %d):\n%s" % (rc, out))
    check(rc == 0, "could not fill the page cache from a RAM disk: %s" % out.strip()[-200:])
    s1 = sample("page cache full")
    t0 = time.monotonic()
    out = vm.sh("mbtool hog %d 2" % HOG_MIB, timeout=180)
    ctx.log("hog %d MiB in %.1fs: %s" % (HOG_MIB, time.monotonic() - t0, out.strip()))
    s2 = sample("after hog")
    s3 = sample("settled")

    # Counters never go down.
    seq = [s0, s1, s2, s3]
    for t in EXT:
        vals = [s[t] for s in seq]
        check(all(b >= a for a, b in zip(vals, vals[1:])), "%s decreased: %s" % (t, vals))
    # No OOM kill; the pressure made the guest scan and reclaim, and nothing
    # reclaims more than it scanned.
    check(s3["stat-oom-kills"] == 0, "stat-oom-kills %d" % s3["stat-oom-kills"])
    scanned = (s3["stat-async-scans"] + s3["stat-direct-scans"]
               - s0["stat-async-scans"] - s0["stat-direct-scans"])
    reclaimed = (s3["stat-async-reclaims"] + s3["stat-direct-reclaims"]
                 - s0["stat-async-reclaims"] - s0["stat-direct-reclaims"])
    check(scanned >= 64 * MiB, "scans did not move under memory pressure: +%d bytes" % scanned)
    check(reclaimed >= 64 * MiB,
          "reclaims did not move under memory pressure: +%d bytes" % reclaimed)
    for kind in ("async", "direct"):
        sc, rc_ = s3["stat-%s-scans" % kind], s3["stat-%s-reclaims" % kind]
        check(rc_ <= sc, "stat-%s-reclaims %d > stat-%s-scans %d" % (kind, rc_, kind, sc))
    if s3["stat-direct-scans"] > s0["stat-direct-scans"]:
        check(s3["stat-alloc-stalls"] > s0["stat-alloc-stalls"],
              "direct scans moved but stat-alloc-stalls did not")
    ctx.note("under pressure: scanned +%dMiB, reclaimed +%dMiB (direct %dMiB), %d stalls, "
             "0 OOM kills" % (scanned // MiB, reclaimed // MiB,
                              (s3["stat-direct-reclaims"] - s0["stat-direct-reclaims"]) // MiB,
                              s3["stat-alloc-stalls"] - s0["stat-alloc-stalls"]))
