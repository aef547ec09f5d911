#!/usr/bin/python3
"""make bench: the in-tree virtio_balloon (A) against memballoon (B) in the
same QEMU, guest kernel and memory size (4 GiB guests, 2 vCPUs), runs
alternating A B A B ..., a fresh guest per run.

  tests/vm/bench.py [--module driver/memballoon.ko] [--baseline OTHER.ko]
                    [--rounds 5]
                    [--scenarios cycle,ranges,latency,oom,oomdeep,stats,reporting,
                                 daemon]
                    [--qemu 7.2|10.0|system|PATH] [--kernel-env FILE]
                    [--ram 4096] [--out build/bench]

--baseline compares the module with another build of memballoon (say,
before a change) instead of the in-tree driver: the same runs, alternating.

Scenarios (docs/bench.md explains each):
  cycle      4096 -> 1024 -> 4096 MiB, on untouched memory and after the
             guest touched 3 GiB (--ram 2048: 2048 -> 512 -> 2048 MiB
             after touching 1.5 GiB); QEMU RSS returned per GiB ballooned;
             for memballoon, where each move's time went, from its
             tracepoints (scenarios 1, 2 and 7; one guest per run)
  ranges     the cycle on a device with free-page-reporting=on, where
             memballoon gives its 2 MiB blocks to the host as ranges
             (scenario 9; the in-tree driver reports free pages there)
  latency    a workload's latency (mbtool probe: every 1 ms, write 1 MiB)
             idle, while the balloon inflates and while it deflates, on
             scenario 9's device, touched (scenario 10)
  stats      qom-set guest-stats-polling-interval -> fresh guest-stats
             (scenario 4; in the cycle guest, after the cycles)
  oom        deflate-on-oom=on: a 2 GiB workload on a guest ballooned to
             1 GiB, against the same workload with no balloon (scenario 3)
  oomdeep    the same deep: a 2 GiB guest (whatever --ram says) ballooned
             to 256 MiB runs a 1200 MiB workload (scenario 8)
  reporting  free-page-reporting=on: 1 GiB freed in tmpfs leaves QEMU's RSS
             (scenario 5)
  daemon     memballoond: idle CPU over a minute, RSS, PSI spike -> host
             event latency (scenario 6; memballoon only, once per bench)

Writes build/bench/<timestamp>/{results.md,results.json,cycle.png,logs/}
and points build/bench/latest at it.  Exit status 0 when every run
produced its numbers.
"""
import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import matrix  # noqa: E402
from harness import Ctx, kernel_env, mbnl_dump, module_name, wait_actual  # noqa: E402
from harness import trace_clear, trace_events, trace_start  # noqa: E402
from vm import MiB  # noqa: E402


def set_ram(mib):
    """Guest RAM (--ram) and the sizes that follow from it: LOW, the cycle's
    and the OOM scenario's target; TOUCH, what the guest touches before the
    "touched" cycle; OOM_WORK, the OOM workload: 1 GiB beyond the target."""
    global RAM, LOW, TOUCH, OOM_WORK
    RAM, LOW, TOUCH = mib, mib // 4, mib * 3 // 4
    OOM_WORK = LOW + 1024


set_ram(4096)       # MiB, every guest
# scenario 8: a deeply ballooned guest (issue 15's case), the same on every --ram
DEEP_RAM, DEEP_LOW, DEEP_WORK = 2048, 256, 1200
TMPFS_MIB = 1024    # MiB written into tmpfs and deleted (reporting)
STATS_SAMPLES = 3   # stats latency samples per cycle guest
DAEMON_IDLE_S = 60
SCENARIOS = ("cycle", "ranges", "latency", "stats", "oom", "oomdeep", "reporting", "daemon")
REPORTING_OPTS = "free-page-reporting=on"
PROBE_US = 1000     # the latency probe's period
INTREE = "virtio_balloon"
CLK_TCK = os.sysconf("SC_CLK_TCK")
GUEST_HZ = 100      # USER_HZ of the guest's /proc/stat


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# ---------------------------------------------------------------------------
# CPU accounting, host (QEMU threads) and guest (/proc/stat)

def qemu_threads(pid):
    """{tid: (comm, utime, stime ticks)} of a QEMU process, plus its minflt."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                s = f.read()
        except OSError:
            continue
        comm = s[s.index("(") + 1:s.rindex(")")]
        f = s[s.rindex(")") + 2:].split()
        out[int(tid)] = (comm, int(f[11]), int(f[12]))
    with open("/proc/%d/stat" % pid) as f:
        s = f.read()
    minflt = int(s[s.rindex(")") + 2:].split()[7])
    return {"threads": out, "minflt": minflt}


def qemu_cpu_delta(pid, a, b):
    """CPU seconds of QEMU's main thread, vCPU threads and the rest between
    two qemu_threads() snapshots (user + system, and system alone: in a
    TCG vCPU thread user time is the guest's code being run, system time the
    host kernel's work for it: page faults on guest RAM and the balloon's
    MADV_DONTNEED discards), and host minor faults."""
    d = {"main": 0.0, "vcpu": 0.0, "other": 0.0, "main_sys": 0.0, "vcpu_sys": 0.0,
         "other_sys": 0.0}
    for tid, (comm, ut, st) in b["threads"].items():
        _, ut0, st0 = a["threads"].get(tid, (comm, 0, 0))
        k = "main" if tid == pid else "vcpu" if comm.startswith("CPU ") else "other"
        d[k] += (ut - ut0 + st - st0) / CLK_TCK
        d[k + "_sys"] += (st - st0) / CLK_TCK
    d["minflt"] = b["minflt"] - a["minflt"]
    return d


def guest_stat(vm):
    """The guest's aggregate cpu line of /proc/stat (ticks) and vmstat counters."""
    out = vm.sh("head -1 /proc/stat; grep -E '^(oom_kill|balloon_inflate|balloon_deflate) ' "
                "/proc/vmstat")
    lines = out.splitlines()
    f = [int(x) for x in lines[0].split()[1:8]]
    d = dict(zip(("user", "nice", "system", "idle", "iowait", "irq", "softirq"), f))
    for l in lines[1:]:
        k, v = l.split()
        d[k] = int(v)
    return d


def guest_delta(a, b):
    """Guest CPU seconds (summed over vCPUs) spent in the kernel (system +
    irq + softirq) and in user space between two guest_stat() snapshots."""
    dd = {k: b.get(k, 0) - a.get(k, 0) for k in b}
    return {"gsys": (dd["system"] + dd["irq"] + dd["softirq"]) / GUEST_HZ,
            "guser": (dd["user"] + dd["nice"]) / GUEST_HZ,
            "oom_kill": dd.get("oom_kill", 0)}


def trace_sums(vm):
    """Sums over the memballoon:inflate/deflate events since trace_start:
    requests, 4 KiB pages, 2 MiB blocks and every *_ns field (as seconds,
    "trace_<field>_s"), prefixed "trace_"."""
    out = {}
    for ev in trace_events(vm):
        out["trace_reqs"] = out.get("trace_reqs", 0) + 1
        for k, v in ev.items():
            if k in ("dev", "event"):
                continue
            key = "trace_%s_s" % k[:-3] if k.endswith("_ns") else "trace_" + k
            out[key] = out.get(key, 0) + (v / 1e9 if k.endswith("_ns") else v)
    return out


# ---------------------------------------------------------------------------
# one guest

class Run:
    """One guest for one driver: boot, load the driver, measure."""

    def __init__(self, b, driver, tag, balloon_opts="", ram=None):
        self.b = b
        self.ram = ram or RAM
        self.driver = driver
        initrd, module = b.builds.get(driver, b.builds[b.drv_b])
        self.ctx = Ctx(tag, b.kenv, initrd, module, b.logdir, qemu=b.qemu)
        try:
            # debug-threads=on names the vCPU threads ("CPU 0/TCG"), so
            # their CPU time can be told from the main loop's
            self.vm = self.ctx.boot(mem_mib=self.ram, balloon_opts=balloon_opts,
                                    extra_args=["-name", "%s,debug-threads=on" % tag])
            if driver == INTREE:
                self.ctx.load_intree(self.vm)
            else:
                self.ctx.load_driver(self.vm)
            self.traced = trace_start(self.vm)
        except BaseException:
            self.ctx.close_all()
            raise
        self.pid = self.vm.proc.pid
        self.t_origin = time.monotonic()

    def close(self):
        problems = self.ctx.close_all()
        return problems

    def finish(self):
        """Shut the guest down; a problem on its console fails the run."""
        problems = self.close()
        if problems:
            raise RuntimeError("console: %s" % problems[0])

    def qsnap(self):
        return qemu_threads(self.pid)

    def move(self, target, trace=None, timeout=180):
        """Set the balloon target (logical MiB), wait until actual == target;
        return the measurements of the move."""
        vm = self.vm
        g0 = guest_stat(vm)
        if self.traced:
            trace_clear(vm)
        rss0 = vm.rss_kib()
        q0 = self.qsnap()
        peak = [rss0]

        def sample(actual, seconds):
            rss = vm.rss_kib()
            peak[0] = max(peak[0], rss)
            if trace is not None:
                trace.append((round(seconds, 4), (self.ram * MiB - actual) / MiB, rss / 1024))
        t0 = time.monotonic()
        vm.qmp.balloon(target * MiB)
        dt = wait_actual(vm, target, timeout, poll=0.01, since=t0, on_sample=sample)
        q1 = self.qsnap()
        g1 = guest_stat(vm)
        r = {"s": dt, "rss0": rss0 / 1024, "rss1": vm.rss_kib() / 1024, "rss_peak": peak[0] / 1024}
        r.update(qemu_cpu_delta(self.pid, q0, q1))
        r.update(guest_delta(g0, g1))
        if self.traced:
            r.update(trace_sums(vm))
        return r


# ---------------------------------------------------------------------------
# scenarios: each returns a flat {metric: value} for one run

def sc_cycle(b, driver, tag, want_stats, balloon_opts=""):
    """Scenarios 1, 2 (and 4 in the same guest); 9 with balloon_opts
    REPORTING_OPTS."""
    res, traces = {}, {}
    run = Run(b, driver, tag, balloon_opts)
    try:
        vm = run.vm
        for kind in ("untouched", "touched"):
            if kind == "touched":
                out = vm.sh("mbtool touch %d" % TOUCH, timeout=300)
                m = re.search(r"in ([0-9.]+) s", out)
                res["touch_s"] = float(m.group(1)) if m else None
            time.sleep(0.5)
            tr = []
            inf = run.move(LOW, tr)
            t_def = tr[-1][0] if tr else 0
            tr_def = []
            de = run.move(RAM, tr_def)
            tr += [(t + t_def + 0.5, s, r) for t, s, r in tr_def]
            traces[kind] = tr
            for k, v in inf.items():
                res["%s_inflate_%s" % (kind, k)] = v
            for k, v in de.items():
                res["%s_deflate_%s" % (kind, k)] = v
            ballooned_gib = (RAM - LOW) / 1024
            res["%s_returned_mib_per_gib" % kind] = (inf["rss0"] - inf["rss1"]) / ballooned_gib
        if want_stats:
            res.update(stats_latency(vm))
        run.finish()
    finally:
        run.close()
    return res, traces


def probe(vm, during):
    """mbtool probe runs in the guest while during() runs on the host;
    returns during()'s result and {p50, p99, max: us, ticks, late}."""
    vm.sh("mbtool probe %d > /tmp/probe.log 2>&1 & echo $! > /tmp/probe.pid" % PROBE_US)
    t0 = time.monotonic()
    while "probing" not in vm.sh("cat /tmp/probe.log"):
        if time.monotonic() - t0 > 20:
            raise RuntimeError("mbtool probe did not start: %s" % vm.sh("cat /tmp/probe.log"))
        time.sleep(0.05)
    r = during()
    vm.sh("kill $(cat /tmp/probe.pid)")
    while True:
        m = re.search(r"probe (\d+) ticks p50 (\d+) p99 (\d+) max (\d+) us late (\d+)",
                      vm.sh("cat /tmp/probe.log"))
        if m:
            break
        if time.monotonic() - t0 > 600:
            raise RuntimeError("mbtool probe: %s" % vm.sh("cat /tmp/probe.log"))
        time.sleep(0.05)
    n, p50, p99, mx, late = (int(x) for x in m.groups())
    return r, {"ticks": n, "p50_us": p50, "p99_us": p99, "max_us": mx, "late": late}


def sc_latency(b, driver, tag):
    """Scenario 10: the probe's latency idle (3 s), during the inflate to
    LOW and during the deflate back, after the guest touched TOUCH MiB."""
    res = {}
    run = Run(b, driver, tag, REPORTING_OPTS)
    try:
        vm = run.vm
        vm.sh("mbtool touch %d" % TOUCH, timeout=300)
        time.sleep(0.5)
        for what, fn in (("idle", lambda: time.sleep(3)),
                         ("inflate", lambda: run.move(LOW)),
                         ("deflate", lambda: run.move(RAM))):
            r, lat = probe(vm, fn)
            if what != "idle":
                res[what + "_s"] = r["s"]
            for k, v in lat.items():
                res["%s_%s" % (what, k)] = v
        run.finish()
    finally:
        run.close()
    return res


def stats_latency(vm):
    """Scenario 4: qom-set guest-stats-polling-interval 0 -> N makes QEMU
    ask at once; time until qom-get guest-stats shows a new last-update."""
    lat, moved = [], 0
    vm.qmp.set_stats_interval(0)
    for i in range(STATS_SAMPLES):
        vm.run("true")                  # the fork moves the fault counters
        time.sleep(1.1)                 # last-update has 1 s resolution
        before = vm.qmp.guest_stats()
        t0 = time.monotonic()
        vm.qmp.set_stats_interval(1000)
        while True:
            gs = vm.qmp.guest_stats()
            if gs.get("last-update") != before.get("last-update"):
                break
            if time.monotonic() - t0 > 20:
                raise RuntimeError("guest-stats last-update stuck for 20 s")
            time.sleep(0.002)
        lat.append(time.monotonic() - t0)
        moved += any(gs["stats"].get(k) != before["stats"].get(k) for k in gs["stats"])
        vm.qmp.set_stats_interval(0)
    return {"stats_latency_s": statistics.median(lat), "stats_latency_all": lat,
            "stats_values_moved": moved, "stats_samples": len(lat)}


def workload(run, mib, timeout=600):
    """mbtool touch MIB: allocate and write MIB, then exit; measured."""
    vm = run.vm
    g0 = guest_stat(vm)
    q0 = run.qsnap()
    t0 = time.monotonic()
    rc, out = vm.run("mbtool touch %d" % mib, timeout=timeout)
    dt = time.monotonic() - t0
    q1 = run.qsnap()
    g1 = guest_stat(vm)
    r = {"rc": rc, "s": dt}
    r.update(qemu_cpu_delta(run.pid, q0, q1))
    r.update(guest_delta(g0, g1))
    return r


def settle(vm, target, timeout=300, still=3.0):
    """Set the balloon's target (logical MiB) and wait until actual reaches
    it or stops moving for `still` seconds (memballoon stops at its reserve
    of MemAvailable short of a target this deep); the seconds it moved."""
    t0 = time.monotonic()
    vm.qmp.balloon(target * MiB)
    last, since = None, t0
    while True:
        actual = vm.qmp.query_balloon()
        now = time.monotonic()
        if actual != last:
            last, since = actual, now
        if actual == target * MiB or now - since >= still:
            return since - t0
        if now - t0 > timeout:
            raise RuntimeError("balloon still moving after %ds (actual %.1f MiB)"
                               % (timeout, actual / MiB))
        time.sleep(0.05)


def sc_oom(b, driver, tag, ram=None, low=None, work=None):
    """Scenario 3: deflate-on-oom, a workload 1 GiB beyond the target;
    scenario 8 (sc_oomdeep) the same in another guest size and depth,
    where the balloon may stop short of the target (settle())."""
    deep = ram is not None
    ram, low, work = ram or RAM, low or LOW, work or OOM_WORK
    res = {}
    run = Run(b, driver, tag, "deflate-on-oom=on", ram=ram)
    try:
        vm = run.vm
        base = workload(run, work)
        for k, v in base.items():
            res["base_" + k] = v
        time.sleep(1)
        if deep:
            res["inflate_s"] = settle(vm, low)
        else:
            res["inflate_s"] = run.move(low, timeout=300)["s"]
        low = vm.qmp.query_balloon() / MiB
        res["target_reached_mib"] = low
        time.sleep(1)
        d0 = mbnl_dump(vm, required=False)
        w = workload(run, work)
        d1 = mbnl_dump(vm, required=False)
        for k, v in w.items():
            res["oom_" + k] = v
        res["oom_released_mib"] = vm.qmp.query_balloon() / MiB - low
        # what the workload needed beyond the target, at least: the guest's
        # own use before the workload is left out, so this overstates it
        res["oom_excess_mib"] = max(0.0, res["oom_released_mib"] - (work - low))
        if d1:
            res["oom_deflates"] = d1.get("oom_deflates", 0) - d0.get("oom_deflates", 0)
        res["oom_over_base"] = w["s"] / base["s"]
        problems = [p for p in run.close() if "oom" not in p.lower()]
        if problems:
            res["console_problem"] = problems[0]
    finally:
        run.close()
    return res


def sc_oomdeep(b, driver, tag):
    """Scenario 8: deflate-on-oom in a deeply ballooned guest."""
    return sc_oom(b, driver, tag, DEEP_RAM, DEEP_LOW, DEEP_WORK)


def sc_reporting(b, driver, tag):
    """Scenario 5: free page reporting of 1 GiB freed in tmpfs."""
    res = {}
    run = Run(b, driver, tag, "free-page-reporting=on")
    try:
        vm = run.vm
        vm.sh("mkdir -p /mnt && mount -t tmpfs -o size=%dm tmpfs /mnt" % (TMPFS_MIB + 176))
        time.sleep(2)   # the boot's own free memory is reported first
        rss0 = vm.rss_kib()
        vm.sh("dd if=/dev/zero of=/mnt/fill bs=1M count=%d 2>/dev/null" % TMPFS_MIB, timeout=300)
        rss1 = vm.rss_kib()
        rise = rss1 - rss0
        g0, q0 = guest_stat(vm), run.qsnap()
        vm.sh("rm /mnt/fill")
        t0 = time.monotonic()
        marks = {}
        rss = rss1
        while time.monotonic() - t0 < 30:
            rss = vm.rss_kib()
            frac = (rss1 - rss) / max(rise, 1)
            for p in (0.5, 0.8, 0.9):
                if frac >= p and p not in marks:
                    marks[p] = time.monotonic() - t0
            if 0.9 in marks:
                break
            time.sleep(0.05)
        window = time.monotonic() - t0
        q1, g1 = run.qsnap(), guest_stat(vm)
        res.update({"rise_mib": rise / 1024, "returned_mib": (rss1 - rss) / 1024,
                    "t50_s": marks.get(0.5), "t80_s": marks.get(0.8), "t90_s": marks.get(0.9),
                    "window_s": window})
        res.update(qemu_cpu_delta(run.pid, q0, q1))
        res.update(guest_delta(g0, g1))
        run.finish()
    finally:
        run.close()
    return res


def sc_daemon(b, tag, spikes):
    """Scenario 6: memballoond idle CPU, RSS, PSI spike -> host event."""
    import test_daemon
    test_daemon.RAM_MIB = RAM
    initrd, module = b.builds[b.drv_b]
    ctx = Ctx(tag, b.kenv, initrd, module, b.logdir, qemu=b.qemu)
    res = {}
    g = None
    try:
        g = test_daemon.Guest(ctx)
        vm = g.vm
        ser = g.serial()
        assert ser.request({"cmd": "subscribe"}).get("ok") is True, "subscribe failed"
        ser.close()
        time.sleep(2)
        st = "cat /proc/%d/stat; cat /proc/uptime" % g.pid
        a = vm.sh(st).split("\n")
        time.sleep(DAEMON_IDLE_S)
        z = vm.sh(st).split("\n")
        ticks = [sum(int(x) for x in s.rsplit(")", 1)[1].split()[11:13]) for s in (a[0], z[0])]
        wall = float(z[1].split()[0]) - float(a[1].split()[0])
        res["idle_cpu_pct"] = (ticks[1] - ticks[0]) / GUEST_HZ / wall * 100
        res["idle_wall_s"] = wall
        status = vm.sh("cat /proc/%d/status" % g.pid)
        res["rss_mib"] = int(re.search(r"VmRSS:\s+(\d+)", status).group(1)) / 1024
        # PSI spikes: a hog far above its cgroup's memory.high stalls at once
        ser = g.serial()
        assert ser.request({"cmd": "subscribe"}).get("ok") is True, "subscribe failed"
        off, rtt = ser.clock_offset()
        vm.sh("mkdir -p /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup && "
              "echo +memory > /sys/fs/cgroup/cgroup.subtree_control && "
              "mkdir /sys/fs/cgroup/hog && echo 32M > /sys/fs/cgroup/hog/memory.high")
        lat, deliver = [], []
        for i in range(spikes):
            out = vm.sh("cat /proc/uptime; sh -c 'echo $$ > /sys/fs/cgroup/hog/cgroup.procs && "
                        "exec mbtool hog 256 60' >/tmp/hog.log 2>&1 &")
            start = float(out.split()[0]) + off
            t_host, ev = ser.json(20, lambda o: o.get("event") == "pressure")
            lat.append(t_host - start)
            deliver.append(t_host - (ev["mono_ms"] / 1000.0 + off))
            vm.run("pkill mbtool; sleep 3")
            ser.lines.clear()
            ser.s.setblocking(False)
            try:
                while ser.s.recv(65536):
                    pass
            except (BlockingIOError, OSError):
                pass
            ser.buf = b""
        res["psi_event_latency_s"] = statistics.median(lat)
        res["psi_event_latency_all"] = lat
        res["psi_delivery_s"] = statistics.median(deliver)
        res["clock_rtt_s"] = rtt
        ser.close()
    finally:
        if g:
            g.close()
        problems = ctx.close_all()
    if problems:
        raise RuntimeError("console: %s" % problems[0])
    return res


# ---------------------------------------------------------------------------
# the bench

class Bench:
    def __init__(self, a):
        self.a = a
        self.kenv = kernel_env(a)
        self.module = os.path.abspath(a.module)
        self.drv_b = module_name(self.module)
        if self.drv_b == INTREE:
            raise SystemExit("bench: --module must not be the in-tree driver")
        # A: the in-tree driver, or another build of the module (--baseline)
        self.drv_a = "baseline" if a.baseline else INTREE
        stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.dir = os.path.join(os.path.abspath(a.out), stamp)
        self.logdir = os.path.join(self.dir, "logs")
        os.makedirs(self.logdir, exist_ok=True)
        setup_log = open(os.path.join(self.logdir, "setup.log"), "w")
        self.qemu, ver = matrix.find_qemu(a.qemu, setup_log)
        self.qemu_version = "%d.%d" % ver
        p = subprocess.run([self.qemu, "--version"], stdout=subprocess.PIPE, text=True)
        self.qemu_version_full = p.stdout.splitlines()[0] if p.stdout else self.qemu_version
        # Each module is copied into its initramfs now: a rebuild of
        # driver/memballoon.ko while the bench runs does not change what it
        # measures.  The in-tree driver is in every initramfs.
        self.builds = {}      # driver -> (initramfs, module)
        for drv, path in ((self.drv_b, a.module), (self.drv_a, a.baseline)):
            if not path:
                continue
            path = os.path.abspath(path)
            if not os.path.exists(path):
                raise SystemExit("bench: %s not found (make guest-module)" % path)
            sub = os.path.join(self.dir, drv)
            os.makedirs(sub, exist_ok=True)
            copy = os.path.join(sub, os.path.basename(path))
            shutil.copy(path, copy)
            initrd = os.path.join(sub, "initramfs.cpio.gz")
            subprocess.run([sys.executable, os.path.join(REPO, "scripts", "mkinitramfs.py"),
                            "--moddir", self.kenv["MODDIR"], "--module", copy,
                            "--out", initrd], check=True, stdout=setup_log, stderr=setup_log)
            self.builds[drv] = (initrd, copy)
        self.results = {}     # scenario -> driver -> [run dicts]
        self.errors = []
        self.traces = {}      # driver -> kind -> [trace per round]

    def machine(self):
        cpu = "?"
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        mem = 0
        with open("/proc/meminfo") as f:
            mem = int(f.readline().split()[1]) // 1024

        def git(*args):
            p = subprocess.run(["git", "-C", REPO] + list(args), stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
            return p.stdout.strip()
        import hashlib

        def sha(drv):
            with open(self.builds[drv][1], "rb") as f:
                return hashlib.sha256(f.read()).hexdigest()[:12]
        return {
            "cpu": cpu, "cores": os.cpu_count(), "host_kernel": os.uname().release,
            "host_mem_mib": mem, "qemu": self.qemu_version_full, "qemu_path": self.qemu,
            "accel": "tcg", "guest_kernel": self.kenv.get("KVER", "?"),
            "guest_ram_mib": RAM, "guest_vcpus": 2,
            "git": git("rev-parse", "--short", "HEAD") +
                   (" (driver/ modified)" if git("status", "--porcelain", "--", "driver") else ""),
            "module_sha256": sha(self.drv_b),
            "baseline_sha256": sha(self.drv_a) if self.drv_a in self.builds else None,
        }

    def record(self, scenario, driver, res):
        self.results.setdefault(scenario, {}).setdefault(driver, []).append(res)

    def one(self, scenario, driver, rnd, fn):
        tag = "%s-%s-%d" % (scenario, driver, rnd)
        t0 = time.monotonic()
        try:
            res = fn(tag)
        except Exception as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            log("%-10s %-15s round %d: ERROR %s" % (scenario, driver, rnd, msg))
            with open(os.path.join(self.logdir, tag + ".error"), "w") as f:
                f.write(traceback.format_exc())
            self.errors.append("%s: %s" % (tag, msg))
            return None
        log("%-10s %-15s round %d (%.0fs): %s" % (scenario, driver, rnd, time.monotonic() - t0,
                                                   summary(scenario, res)))
        return res

    def run(self):
        a = self.a
        scen = a.scenarios
        drivers = [self.drv_a, self.drv_b]
        self.started = time.time()
        self.load_start = loadavg()
        log("bench: %s, QEMU %s, guest %s, %d MiB, %d rounds, scenarios %s; load %s" % (
            self.dir, self.qemu_version, self.kenv.get("KVER"), RAM, a.rounds,
            ",".join(scen), self.load_start))
        for rnd in range(1, a.rounds + 1):
            for drv in drivers:
                if "cycle" in scen or "stats" in scen:
                    name = "cycle" if "cycle" in scen else "stats"
                    r = self.one(name, drv, rnd,
                                 lambda tag: sc_cycle(self, drv, tag, "stats" in scen))
                    if r:
                        res, traces = r
                        self.record("cycle", drv, res)
                        for k, tr in traces.items():
                            self.traces.setdefault(drv, {}).setdefault(k, []).append(tr)
            for drv in drivers:
                if "ranges" in scen:
                    r = self.one("ranges", drv, rnd,
                                 lambda tag: sc_cycle(self, drv, tag, False, REPORTING_OPTS))
                    if r:
                        self.record("ranges", drv, r[0])
            for drv in drivers:
                if "latency" in scen:
                    r = self.one("latency", drv, rnd, lambda tag: sc_latency(self, drv, tag))
                    if r:
                        self.record("latency", drv, r)
            for drv in drivers:
                if "oom" in scen:
                    r = self.one("oom", drv, rnd, lambda tag: sc_oom(self, drv, tag))
                    if r:
                        self.record("oom", drv, r)
            for drv in drivers:
                if "oomdeep" in scen:
                    r = self.one("oomdeep", drv, rnd, lambda tag: sc_oomdeep(self, drv, tag))
                    if r:
                        self.record("oomdeep", drv, r)
            for drv in drivers:
                if "reporting" in scen:
                    r = self.one("reporting", drv, rnd, lambda tag: sc_reporting(self, drv, tag))
                    if r:
                        self.record("reporting", drv, r)
        if "daemon" in scen:
            r = self.one("daemon", self.drv_b, 1,
                         lambda tag: sc_daemon(self, tag, max(3, a.rounds)))
            if r:
                self.record("daemon", self.drv_b, r)
        self.finished = time.time()
        self.load_end = loadavg()

    # -- output ------------------------------------------------------------------
    def write(self):
        mach = self.machine()
        mach["load_start"], mach["load_end"] = self.load_start, self.load_end
        mach["minutes"] = round((self.finished - self.started) / 60, 1)
        rows = table_rows(self)
        md = render_md(self, mach, rows)
        with open(os.path.join(self.dir, "results.md"), "w") as f:
            f.write(md)
        with open(os.path.join(self.dir, "results.json"), "w") as f:
            json.dump({"machine": mach, "rounds": self.a.rounds, "scenarios": self.a.scenarios,
                       "results": self.results, "errors": self.errors,
                       "traces": self.traces}, f, indent=1)
        png = plot(self)
        latest = os.path.join(os.path.dirname(self.dir), "latest")
        try:
            if os.path.islink(latest) or os.path.exists(latest):
                os.remove(latest)
            os.symlink(os.path.basename(self.dir), latest)
        except OSError as e:
            log("cannot link %s: %s" % (latest, e))
        print()
        print(md)
        log("results: %s (%s)" % (self.dir, "plot: cycle.png" if png else "no plot"))


def summary(scenario, r):
    if scenario in ("cycle", "stats", "ranges"):
        r = r[0]
        s = "untouched %.2fs/%.2fs touched %.2fs/%.2fs (inflate/deflate), returned %.0f MiB/GiB" % (
            r["untouched_inflate_s"], r["untouched_deflate_s"], r["touched_inflate_s"],
            r["touched_deflate_s"], r["touched_returned_mib_per_gib"])
        if "stats_latency_s" in r:
            s += ", stats %.0fms" % (r["stats_latency_s"] * 1000)
        if r.get("touched_inflate_trace_pages"):
            s += ", ranges %.0f%%" % (100.0 * r.get("touched_inflate_trace_ranges", 0) * 512
                                      / r["touched_inflate_trace_pages"])
        return s
    if scenario in ("oom", "oomdeep"):
        return "base %.1fs, ballooned %.1fs rc %d, %d OOM kills, released %.0f MiB" % (
            r["base_s"], r["oom_s"], r["oom_rc"], r["oom_oom_kill"], r["oom_released_mib"])
    if scenario == "latency":
        return "p50/p99 us: idle %d/%d, inflate %d/%d in %.2fs, deflate %d/%d in %.2fs" % (
            r["idle_p50_us"], r["idle_p99_us"], r["inflate_p50_us"], r["inflate_p99_us"],
            r["inflate_s"], r["deflate_p50_us"], r["deflate_p99_us"], r["deflate_s"])
    if scenario == "reporting":
        return "RSS +%.0f MiB, returned %.0f MiB, 80%% in %s s" % (
            r["rise_mib"], r["returned_mib"],
            "%.1f" % r["t80_s"] if r["t80_s"] is not None else "-")
    if scenario == "daemon":
        return "idle CPU %.3f%%, RSS %.1f MiB, PSI event %.0f ms" % (
            r["idle_cpu_pct"], r["rss_mib"], r["psi_event_latency_s"] * 1000)
    return ""


# metric rows: (scenario, key, label, format, scale)
ROWS = [
    ("cycle", "untouched_inflate_s", "1 untouched: inflate {RAM}->{LOW} MiB (s)", "%.2f", 1),
    ("cycle", "untouched_deflate_s", "1 untouched: deflate {LOW}->{RAM} MiB (s)", "%.2f", 1),
    ("cycle", "untouched_inflate_rss_peak", "1 untouched: QEMU RSS peak while inflating (MiB)",
     "%.0f", 1),
    ("cycle", "touch_s", "1 guest touching {TOUCH} MiB first (s, guest clock)", "%.2f", 1),
    ("cycle", "touched_inflate_s", "1 touched: inflate {RAM}->{LOW} MiB (s)", "%.2f", 1),
    ("cycle", "touched_deflate_s", "1 touched: deflate {LOW}->{RAM} MiB (s)", "%.2f", 1),
    ("cycle", "touched_deflate_gsys", "1 touched deflate: guest kernel CPU (s)", "%.2f", 1),
    ("cycle", "touched_deflate_vcpu", "1 touched deflate: QEMU vCPU threads CPU (s)", "%.2f", 1),
    ("cycle", "touched_inflate_gsys", "1 touched inflate: guest kernel CPU (s, all vCPUs)",
     "%.2f", 1),
    ("cycle", "touched_inflate_vcpu", "1 touched inflate: QEMU vCPU threads CPU (s)", "%.2f", 1),
    ("cycle", "touched_inflate_vcpu_sys",
     "1 touched inflate: ... of it host kernel (discards, faults) (s)", "%.2f", 1),
    ("cycle", "touched_inflate_main", "1 touched inflate: QEMU main thread CPU (s)", "%.2f", 1),
    ("cycle", "touched_inflate_main_sys", "1 touched inflate: ... of it host kernel (s)",
     "%.2f", 1),
    ("cycle", "untouched_inflate_gsys", "1 untouched inflate: guest kernel CPU (s)", "%.2f", 1),
    ("cycle", "untouched_inflate_vcpu", "1 untouched inflate: QEMU vCPU threads CPU (s)",
     "%.2f", 1),
    ("cycle", "untouched_inflate_vcpu_sys",
     "1 untouched inflate: ... of it host kernel (discards, faults) (s)", "%.2f", 1),
    ("cycle", "untouched_inflate_main", "1 untouched inflate: QEMU main thread CPU (s)",
     "%.2f", 1),
    ("cycle", "untouched_inflate_minflt",
     "1 untouched inflate: host page faults in QEMU (THP: 2 MiB each)", "%.0f", 1),
    ("cycle", "touched_inflate_rss0", "2 QEMU RSS before inflating, touched (MiB)", "%.0f", 1),
    ("cycle", "touched_inflate_rss1", "2 QEMU RSS after inflating, touched (MiB)", "%.0f", 1),
    ("cycle", "touched_returned_mib_per_gib", "2 QEMU RSS returned per GiB ballooned (MiB)",
     "%.0f", 1),
    ("ranges", "untouched_inflate_s", "9 reporting on, untouched: inflate {RAM}->{LOW} MiB (s)",
     "%.2f", 1),
    ("ranges", "untouched_deflate_s", "9 reporting on, untouched: deflate {LOW}->{RAM} MiB (s)",
     "%.2f", 1),
    ("ranges", "touch_s", "9 guest touching {TOUCH} MiB first (s, guest clock)", "%.2f", 1),
    ("ranges", "touched_inflate_s", "9 reporting on, touched: inflate {RAM}->{LOW} MiB (s)",
     "%.2f", 1),
    ("ranges", "touched_deflate_s", "9 reporting on, touched: deflate {LOW}->{RAM} MiB (s)",
     "%.2f", 1),
    ("ranges", "touched_returned_mib_per_gib",
     "9 reporting on: QEMU RSS returned per GiB ballooned (MiB)", "%.0f", 1),
    ("latency", "idle_p50_us", "10 probe (1 ms ticks, 1 MiB written), idle: p50 (us)", "%.0f", 1),
    ("latency", "idle_p99_us", "10 ... idle: p99 (us)", "%.0f", 1),
    ("latency", "inflate_s", "10 reporting on, touched: inflate {RAM}->{LOW} MiB (s)", "%.2f", 1),
    ("latency", "inflate_p50_us", "10 ... probe during the inflate: p50 (us)", "%.0f", 1),
    ("latency", "inflate_p99_us", "10 ... p99 (us)", "%.0f", 1),
    ("latency", "inflate_max_us", "10 ... max (us)", "%.0f", 1),
    ("latency", "inflate_late", "10 ... ticks later than a period", "%.0f", 1),
    ("latency", "deflate_s", "10 deflate {LOW}->{RAM} MiB (s)", "%.2f", 1),
    ("latency", "deflate_p50_us", "10 ... probe during the deflate: p50 (us)", "%.0f", 1),
    ("latency", "deflate_p99_us", "10 ... p99 (us)", "%.0f", 1),
    ("cycle", "stats_latency_s", "4 stats: qom-set -> fresh guest-stats (ms)", "%.0f", 1000),
    ("oom", "base_s", "3 workload {OOM_WORK} MiB, no balloon: baseline (s)", "%.1f", 1),
    ("oom", "inflate_s", "3 inflate to {LOW} MiB with deflate-on-oom (s)", "%.2f", 1),
    ("oom", "oom_s", "3 workload {OOM_WORK} MiB on a {LOW} MiB target (s)", "%.1f", 1),
    ("oom", "oom_over_base", "3 ... / baseline in the same guest (target <= 1.5)", "%.2f", 1),
    ("oom", "oom_oom_kill", "3 OOM kills (/proc/vmstat oom_kill)", "%.0f", 1),
    ("oom", "oom_rc", "3 workload exit status (0 = finished)", "%.0f", 1),
    ("oom", "oom_released_mib", "3 balloon released to the workload (MiB)", "%.0f", 1),
    ("oom", "oom_gsys", "3 guest kernel CPU during the workload (s)", "%.2f", 1),
    ("oom", "base_gsys", "3 guest kernel CPU during the baseline (s)", "%.2f", 1),
    ("oomdeep", "base_s", "8 {DEEP_RAM} MiB guest: workload {DEEP_WORK} MiB, no balloon (s)",
     "%.1f", 1),
    ("oomdeep", "target_reached_mib", "8 ... ballooned to a {DEEP_LOW} MiB target: reached (MiB)",
     "%.0f", 1),
    ("oomdeep", "oom_s", "8 ... the workload ballooned (s)", "%.1f", 1),
    ("oomdeep", "oom_over_base", "8 ... / baseline in the same guest (target <= 1.3)", "%.2f", 1),
    ("oomdeep", "oom_oom_kill", "8 OOM kills (/proc/vmstat oom_kill)", "%.0f", 1),
    ("oomdeep", "oom_rc", "8 workload exit status (0 = finished)", "%.0f", 1),
    ("oomdeep", "oom_deflates", "8 OOM notifications that released pages", "%.0f", 1),
    ("oomdeep", "oom_released_mib", "8 balloon released to the workload (MiB)", "%.0f", 1),
    ("oomdeep", "oom_excess_mib", "8 ... beyond workload - target (MiB)", "%.0f", 1),
    ("reporting", "rise_mib", "5 QEMU RSS rise writing 1 GiB to tmpfs (MiB)", "%.0f", 1),
    ("reporting", "t50_s", "5 freed 1 GiB: 50% out of QEMU RSS (s)", "%.1f", 1),
    ("reporting", "t80_s", "5 freed 1 GiB: 80% out of QEMU RSS (s)", "%.1f", 1),
    ("reporting", "t90_s", "5 freed 1 GiB: 90% out of QEMU RSS (s)", "%.1f", 1),
    ("reporting", "returned_mib", "5 returned when 90% was reached (or after 30 s) (MiB)", "%.0f", 1),
    ("reporting", "gsys", "5 guest kernel CPU in the window (s)", "%.2f", 1),
    ("reporting", "vcpu_sys", "5 QEMU vCPU host-kernel CPU in the window (s)", "%.2f", 1),
    ("daemon", "idle_cpu_pct", "6 memballoond idle CPU over 60 s (%)", "%.3f", 1),
    ("daemon", "rss_mib", "6 memballoond RSS (MiB)", "%.1f", 1),
    ("daemon", "psi_event_latency_s", "6 PSI spike -> pressure event on the host (ms)",
     "%.0f", 1000),
    ("daemon", "psi_delivery_s", "6 ... of which daemon -> host (ms)", "%.0f", 1000),
]

# Scenario 7, memballoon's tracepoints (memballoon:inflate/deflate), per move
# of scenario 1: (move, field of trace_sums(), label, format, scale)
TRACE_ROWS = [
    ("inflate", "trace_alloc_s", "guest allocating, both vCPUs' time (alloc_ns) (s)", "%.2f", 1),
    ("inflate", "trace_host_s", "QEMU using the requests (host_ns) (s)", "%.2f", 1),
    ("inflate", "trace_blocks", "of the pages in 2 MiB blocks (%)", "%.0f", None),
    ("inflate", "trace_ranges", "of the pages in blocks given as ranges (%)", "%.0f", None),
    ("deflate", "trace_host_s", "QEMU using the requests (host_ns) (s)", "%.2f", 1),
    ("deflate", "trace_free_s", "guest freeing the pages (free_ns) (s)", "%.2f", 1),
    ("deflate", "trace_blocks", "of the pages in 2 MiB blocks (%)", "%.0f", None),
]


def stat_cell(vals, fmt, scale):
    vals = [v * scale for v in vals if v is not None]
    if not vals:
        return "-", None
    med = statistics.median(vals)
    if len(vals) == 1:
        return fmt % med, med
    return "%s (%s-%s)" % (fmt % med, fmt % min(vals), fmt % max(vals)), med


def table_rows(b):
    rows = []
    drivers = [b.drv_a, b.drv_b]
    for scen, key, label, fmt, scale in ROWS:
        label = label.format(RAM=RAM, LOW=LOW, TOUCH=TOUCH, OOM_WORK=OOM_WORK, DEEP_RAM=DEEP_RAM,
                             DEEP_LOW=DEEP_LOW, DEEP_WORK=DEEP_WORK)
        per = b.results.get(scen, {})
        if not per:
            continue
        cells, meds, ns = [], [], []
        for d in drivers:
            runs = per.get(d, [])
            vals = [r.get(key) for r in runs if key in r]
            if not vals or all(v is None for v in vals):
                cells.append("n/a" if scen == "daemon" and d == b.drv_a else "-")
                meds.append(None)
            else:
                c, m = stat_cell(vals, fmt, scale)
                if any(v is None for v in vals):
                    c += " [%d/%d not reached]" % (sum(v is None for v in vals), len(vals))
                cells.append(c)
                meds.append(m)
            ns.append(len(runs))
        if all(m is None for m in meds):
            continue
        ratio = "%.2f" % (meds[1] / meds[0]) if meds[0] and meds[1] is not None else "-"
        rows.append((label, cells[0], cells[1], ratio, ns))
    # scenario 7 (and 9's): where memballoon's moves spent their time, from
    # its tracepoints
    for scen, num in (("cycle", 7), ("ranges", 9)):
        rows += trace_rows(b, b.results.get(scen, {}), num)
    return rows


def trace_rows(b, cycle, num):
    """The TRACE_ROWS of one cycle scenario's runs, labelled num."""
    rows = []
    drivers = [b.drv_a, b.drv_b]
    for kind in ("untouched", "touched"):
        for move, field, label, fmt, scale in TRACE_ROWS:
            key = "%s_%s_%s" % (kind, move, field)
            cells, meds = [], []
            for d in drivers:
                runs = cycle.get(d, [])
                if scale is None:   # a share of the move's pages
                    vals = [100.0 * r[key] * 512 / r["%s_%s_trace_pages" % (kind, move)]
                            for r in runs if r.get("%s_%s_trace_pages" % (kind, move))
                            and key in r]
                else:
                    vals = [r[key] for r in runs if key in r]
                c, m = stat_cell(vals, fmt, scale or 1)
                cells.append(c if vals else "n/a")
                meds.append(m)
            if all(m is None for m in meds):
                continue
            ratio = "%.2f" % (meds[1] / meds[0]) if meds[0] and meds[1] is not None else "-"
            rows.append(("%d %s %s: %s" % (num, kind, move, label), cells[0], cells[1], ratio,
                         [len(cycle.get(d, [])) for d in drivers]))
    return rows


def render_md(b, mach, rows):
    L = []
    L.append("# make bench: %s vs %s" % (b.drv_b, b.drv_a))
    L.append("")
    L.append("Machine: %s, %d cores, host kernel %s, %d MiB RAM; %s (%s); guest %s, "
             "%d MiB, 2 vCPUs; git %s, %s.ko sha256 %s." % (
                 mach["cpu"], mach["cores"], mach["host_kernel"], mach["host_mem_mib"],
                 mach["qemu"], "TCG", mach["guest_kernel"], RAM, mach["git"], b.drv_b,
                 mach["module_sha256"]) +
             (" Baseline: memballoon.ko sha256 %s." % mach["baseline_sha256"]
              if mach["baseline_sha256"] else ""))
    L.append("Load average (1/5/15 min) at start %s, at end %s; %d rounds, alternating "
             "A B A B, a fresh guest per run; %.1f minutes." % (
                 mach["load_start"], mach["load_end"], b.a.rounds, mach["minutes"]))
    L.append("")
    L.append("Cells: median (min-max) over the runs; ratio = %s median / %s median "
             "(for times, below 1 is faster)." % (b.drv_b, b.drv_a))
    L.append("")
    L.append("| scenario / metric | %s | %s | ratio |" % (b.drv_a, b.drv_b))
    L.append("|---|---|---|---|")
    for label, ca, cb, ratio, ns in rows:
        L.append("| %s | %s | %s | %s |" % (label, ca, cb, ratio))
    L.append("")
    runs = {s: {d: len(v) for d, v in per.items()} for s, per in b.results.items()}
    L.append("Runs that produced numbers: %s." % "; ".join(
        "%s %s" % (s, ", ".join("%s %d" % kv for kv in per.items())) for s, per in runs.items()))
    if b.errors:
        L.append("")
        L.append("Errors (%d): %s" % (len(b.errors), "; ".join(b.errors)))
    L.append("")
    return "\n".join(L)


def ensure_matplotlib():
    import importlib.util
    if importlib.util.find_spec("matplotlib"):
        return True
    log("installing python3-matplotlib (apt-get) for the plot")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    p = subprocess.run(["apt-get", "install", "-y", "-q", "python3-matplotlib"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if p.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, env=env)
        p = subprocess.run(["apt-get", "install", "-y", "-q", "python3-matplotlib"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    if p.returncode != 0:
        log("apt-get install python3-matplotlib failed: %s" % p.stdout[-300:])
        return False
    importlib.invalidate_caches()
    return True


def plot(b):
    if not b.traces or not ensure_matplotlib():
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    kinds = ("untouched", "touched")
    fig, axes = plt.subplots(2, 2, figsize=(12, 8), sharex="col")
    colors = {b.drv_a: "tab:blue", b.drv_b: "tab:red"}
    for col, kind in enumerate(kinds):
        for drv, per in b.traces.items():
            for i, tr in enumerate(per.get(kind, [])):
                t = [x[0] for x in tr]
                lab = drv if i == 0 else None
                axes[0][col].plot(t, [x[1] for x in tr], color=colors.get(drv), lw=1,
                                  alpha=0.8, label=lab)
                axes[1][col].plot(t, [x[2] for x in tr], color=colors.get(drv), lw=1,
                                  alpha=0.8, label=lab)
        axes[0][col].set_title("%s guest memory: %d -> %d -> %d MiB" % (kind, RAM, LOW, RAM))
        axes[0][col].set_ylabel("balloon size (MiB)")
        axes[1][col].set_ylabel("QEMU RSS (MiB)")
        axes[1][col].set_xlabel("seconds since the inflate request (deflate follows)")
        for r in (0, 1):
            axes[r][col].grid(alpha=0.3)
            axes[r][col].legend(loc="best", fontsize=8)
    fig.suptitle("%s vs %s, QEMU %s TCG, guest %s (%d rounds, every run drawn)" % (
        b.drv_b, b.drv_a, b.qemu_version, b.kenv.get("KVER"), b.a.rounds))
    fig.tight_layout()
    out = os.path.join(b.dir, "cycle.png")
    fig.savefig(out, dpi=90)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--module", default=os.path.join(REPO, "driver", "memballoon.ko"))
    ap.add_argument("--baseline",
                    help="another memballoon.ko to compare with, instead of the in-tree driver")
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS") or 5))
    ap.add_argument("--scenarios", default=",".join(SCENARIOS),
                    help="comma separated: %s (rss = cycle)" % ",".join(SCENARIOS))
    ap.add_argument("--qemu", default="system", help="7.2, 10.0, system or a path")
    ap.add_argument("--kernel-env")
    ap.add_argument("--vmlinuz")
    ap.add_argument("--moddir")
    ap.add_argument("--kdir")
    ap.add_argument("--out", default=os.path.join(REPO, "build", "bench"))
    ap.add_argument("--ram", type=int, default=int(os.environ.get("BENCH_RAM_MIB") or RAM),
                    help="guest RAM in MiB (default 4096); the targets scale with it")
    a = ap.parse_args()
    if a.ram < 2048 or a.ram % 4:
        ap.error("--ram must be at least 2048 MiB and a multiple of 4")
    set_ram(a.ram)
    scen = [s.strip() for s in a.scenarios.replace("rss", "cycle").split(",") if s.strip()]
    bad = [s for s in scen if s not in SCENARIOS]
    if bad or not scen:
        ap.error("unknown scenario(s) %s; choose from %s" % (",".join(bad), ",".join(SCENARIOS)))
    a.scenarios = [s for s in SCENARIOS if s in scen]
    if a.rounds < 1:
        ap.error("--rounds must be >= 1")
    b = Bench(a)
    try:
        b.run()
    except KeyboardInterrupt:
        log("interrupted: writing what was measured")
        b.finished, b.load_end = time.time(), loadavg()
    b.write()
    return 1 if b.errors else 0


if __name__ == "__main__":
    sys.exit(main())
