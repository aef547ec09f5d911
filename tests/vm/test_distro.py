"""The distro tier: memballoon as a guest admin gets it.  A Debian 12 guest
(scripts/distro-image.sh) booted by a real libvirtd (tests/vm/libvirtd.py)
from the domain XML in packaging/libvirt/, installs the two packages of
`make deb` with apt, DKMS builds the module inside the guest, and after a
reboot everything is checked through libvirt only: virsh setmem and
dommemstat, memballoond's channel socket, commands through the guest agent.

The tests share one guest, in this order (each needs the install; run alone,
one does it first):
  distro_install         apt install, DKMS, reboot: memballoon owns the
                         balloon, memballoond active and READY
  distro_setmem          setmem down and up, dommemstat, channel events
  distro_reload_restart  systemctl reload and restart keep the channel
  distro_no_balloon      <memballoon model='none'/>: the daemon still serves
and, in make check-distro only, the packages' life cycle:
  distro_upgrade         from the previous version's packages: the edited
                         conffile stays
  distro_initramfs       virtio_balloon in the initramfs: memballoon owns
                         the balloon from there
  distro_kernel_upgrade  a kernel without headers falls back to
                         virtio_balloon; with them DKMS builds for it
  distro_purge           nothing left, virtio_balloon owns the balloon
"""
import os
import re
import subprocess
import time

import pytest

import distro
from harness import Skip, TestFailure, check
from knobs import scaled

MiB = 1024                      # KiB


@pytest.fixture(scope="module")
def guest_holder(request, cell):
    """The one guest of this module's tests (not booted yet)."""
    outdir = cell.outdir(request.config.option.out)
    os.makedirs(outdir, exist_ok=True)
    g = distro.Guest(cell, outdir, ctx=None)
    yield g
    g.close()


@pytest.fixture
def guest(ctx, guest_holder):
    """The guest, logging to this test; running, with a balloon."""
    g = guest_holder
    g.ctx = ctx
    seen = len(g.console_problems())
    if g.lv.proc is None:
        g.start()
        ctx.log("libvirtd: started in %.1fs (%s)" % (g.lv.start_seconds, g.lv.uri))
    if g.running and not g.balloon:
        g.shutdown()                # distro_no_balloon's guest: back to a balloon
    if not g.running:
        g.boot(balloon=True)
    yield g
    new = g.console_problems()[seen:]
    check(not new, "guest console: %s" % (new[0].strip() if new else ""))


# every path on the guest's root file system, sorted (distro_purge compares)
FIND = "find / -xdev -path /proc -prune -o -print | LC_ALL=C sort"


def balloon_driver(g):
    """The driver bound to the virtio balloon (device 5), "" if none, None
    without a balloon device."""
    out = g.sh("for d in /sys/bus/virtio/devices/*; do "
               "[ \"$(cat $d/device)\" = 0x0005 ] || continue; "
               "if [ -e $d/driver ]; then basename $(readlink $d/driver); else echo; fi; "
               "done; echo END")
    lines = out.splitlines()
    return lines[0].strip() if len(lines) > 1 else None


def bound_driver(g, want, timeout=30):
    """The balloon's driver once it is want, or whatever it is after
    timeout: udev binds it a moment after the boot is "done" (on a kernel
    without memballoon, modprobe first tries memballoon, then loads
    virtio_balloon)."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        driver = balloon_driver(g)
        if driver == want or time.monotonic() > deadline:
            return driver
        time.sleep(1)


def deb_version(path):
    return os.path.basename(path).split("_")[1]


def apt_phases(out):
    """Seconds of the DKMS build and of the initramfs update, from apt's
    output stamped with the guest's uptime."""
    stamps = []
    for line in out.splitlines():
        ts, _, text = line.partition(" ")
        try:
            stamps.append((float(ts), text))
        except ValueError:
            pass
    if not stamps:
        return {}

    def at(pats, after=0.0):
        return next((ts for ts, text in stamps if ts >= after and any(p in text for p in pats)),
                    None)
    end = stamps[-1][0]
    # the package's first build (dkms's common.postinst) or a kernel hook's
    build = at(("Building initial module", "Building module:"))
    done = at(("Signing module", "Done.", "memballoon.ko:"), build or 0.0)
    trig = at(("Processing triggers for initramfs-tools",))
    phases = {}
    if build is not None and done is not None:
        phases["dkms_build"] = done - build
    if trig is not None:
        phases["initramfs"] = end - trig
    return phases


def apt(g, args, what, cwd="/root", timeout=1200):
    """apt ARGS in the guest (noninteractive, no network), which must exit 0;
    (seconds, apt_phases) with its output in the log, each line stamped with
    the guest's uptime to say where the time went."""
    t0 = time.monotonic()
    rc, out = g.run("cd %s && { DEBIAN_FRONTEND=noninteractive apt %s; "
                    "echo \"apt: rc $?\"; } 2>&1 | while IFS= read -r l; do "
                    "echo \"$(cut -d' ' -f1 /proc/uptime) $l\"; done" % (cwd, args),
                    timeout=timeout)
    secs = time.monotonic() - t0
    g.log("%s (%.0fs):\n%s" % (what, secs, out))
    m = re.search(r"apt: rc (\d+)", out)
    rc = int(m.group(1)) if m and rc == 0 else rc or -1
    check(rc == 0, "%s failed (rc %d): %s" % (what, rc, out.strip().splitlines()[-2:]))
    return secs, apt_phases(out)


def install(g):
    """apt install the two packages (DKMS builds the module), reboot; the
    first test to need it does it, once."""
    if g.installed is True:
        return
    if g.installed is not None:
        raise Skip("the guest's install failed in an earlier test: %s" % g.installed)
    g.installed = "unfinished"
    t = g.install_times
    driver = balloon_driver(g)
    check(driver == "virtio_balloon", "before the install the balloon's driver is %r, "
          "not virtio_balloon" % driver)
    # what the file system holds before (distro_purge compares)
    g.sh(FIND + " > /var/tmp/files.before", timeout=300)
    t0 = time.monotonic()
    debs = [g.copy_in(p) for p in sorted(g.cell.debs.values())]
    t["copy"] = time.monotonic() - t0
    t["apt"], phases = apt(g, "install -y " + " ".join(debs), "apt install")
    t.update(phases)
    g.installed = True
    t0 = time.monotonic()
    phases = g.reboot()
    t["reboot"] = time.monotonic() - t0
    g.log("reboot after the install: %s" % distro.boot_summary(phases))


@pytest.mark.timeout(1200)
@pytest.mark.distro
def test_distro_install(ctx, guest):
    """apt install ./memballoon-dkms_*.deb ./memballoond_*.deb in a guest
    with no network: DKMS builds the module for the running kernel; after a
    reboot (a power cycle: Guest.reboot says why) memballoon owns the
    balloon (virtio_balloon not loaded), signed with the MOK key DKMS made,
    and
    memballoond is active, reached READY (Type=notify), shows its status
    line in systemctl status and answers on the channel; nothing it logged
    is an error."""
    g = guest
    kver = g.env["KVER"]
    version = deb_version(g.cell.debs["memballoon-dkms"])
    first = g.boots[0]
    install(g)
    t = g.install_times
    out = g.sh("dkms status memballoon")
    check(re.search(r"memballoon/%s, %s, x86_64: installed" % (re.escape(version.rsplit("-", 1)[0]),
                                                               re.escape(kver)), out),
          "dkms status: %r (want memballoon %s installed for %s)" % (out.strip(), version, kver))
    # the module DKMS built, loaded and bound after the reboot
    driver = bound_driver(g, "memballoon")
    check(driver == "memballoon", "the balloon's driver after the reboot is %r" % driver)
    bound = g.sh("ls /sys/bus/virtio/drivers/memballoon/").split()
    check(len([b for b in bound if b.startswith("virtio")]) == 1,
          "/sys/bus/virtio/drivers/memballoon/ has %s" % bound)
    rc, _ = g.run("test -e /sys/module/virtio_balloon")
    check(rc != 0, "virtio_balloon is loaded beside memballoon")
    path = g.sh("modinfo -F filename memballoon").strip()
    check(path == "/lib/modules/%s/updates/dkms/memballoon.ko" % kver,
          "memballoon.ko is %s, not DKMS's" % path)
    loaded = g.sh("cat /sys/module/memballoon/version").strip()
    check(loaded == version.rsplit("-", 1)[0], "the loaded module is version %s, the package %s"
          % (loaded, version))
    # Secure Boot's half in the guest: DKMS made its MOK key pair at the
    # first build and signed the module with it (docs/packaging.md: enrol
    # it with mokutil): the signature names the certificate's serial
    signer = g.sh("modinfo -F signer memballoon").strip()
    check(signer == "DKMS module signing key", "memballoon.ko's signer: %r" % signer)
    key_id = g.sh("modinfo -F sig_key memballoon").strip().replace(":", "").upper()
    serial = g.sh("openssl x509 -inform DER -in /var/lib/dkms/mok.pub -noout -serial"
                  ).strip().split("=")[-1].upper()
    check(key_id and key_id == serial, "memballoon.ko signed by key %s, DKMS's MOK "
          "certificate has serial %s" % (key_id, serial))
    # the daemon
    u = g.unit("memballoond", "ActiveState", "SubState", "Type", "NotifyAccess", "StatusText",
               "UnitFileState", "MainPID", "NRestarts")
    g.log("memballoond: %s" % u)
    check(u["ActiveState"] == "active" and u["SubState"] == "running",
          "memballoond is %s/%s" % (u["ActiveState"], u["SubState"]))
    check(u["Type"] == "notify", "memballoond's unit is Type=%s" % u["Type"])
    check(u["UnitFileState"] == "enabled", "memballoond is %s, not enabled" % u["UnitFileState"])
    check(u["NRestarts"] == "0", "memballoond restarted %s times" % u["NRestarts"])
    check(u["StatusText"].startswith("1 balloon(s), "),
          "memballoond's status (READY, then STATUS=): %r" % u["StatusText"])
    rc, status = g.run("SYSTEMD_COLORS=0 systemctl status --no-pager memballoond")
    check(('Status: "%s' % u["StatusText"][:20]) in status,
          "systemctl status shows no Status line: %s" % status)
    errors = g.sh("journalctl -b -q -p err -u memballoond --no-pager").strip()
    check(not errors, "memballoond logged errors: %s" % errors)
    # the daemon serves the channel's host socket
    ch = distro.Channel(g.channel_path())
    try:
        r = ch.request("ping")
    finally:
        ch.close()
    check(r.get("reply") == "ping" and r.get("version") == 1, "ping on the channel: %s" % r)
    ctx.note("kernel %s; boot %s; apt install %.0fs (DKMS build %.0fs, update-initramfs %.0fs); "
             "reboot %s" % (kver, distro.boot_summary(first), t["apt"], t.get("dkms_build", -1),
                            t.get("initramfs", -1), distro.boot_summary(g.boots[1])))


def libvirt_doc_claims(g):
    """What docs/libvirt.md tells a host admin about this domain: QEMU's
    -device for the balloon, and the channel's socket found with the doc's
    sed recipe over virsh dumpxml, in libvirt's default place."""
    qlog = g.lv.host_path("/var/log/libvirt/qemu/%s.log" % distro.DOM)
    with open(qlog, errors="replace") as f:
        text = f.read()
    want = ('"driver":"virtio-balloon-pci","id":"balloon0","deflate-on-oom":true,'
            '"free-page-reporting":true')
    check(want in text, "QEMU's command line in %s has no -device with %s" % (qlog, want))
    xml = g.lv.virsh("dumpxml", distro.DOM)
    recipe = "s|.*<source mode='bind' path='\\([^']*org.memballoon.0\\)'.*|\\1|p"
    p = subprocess.run(["sed", "-n", recipe], input=xml, stdout=subprocess.PIPE, text=True,
                       check=True)
    path = p.stdout.strip()
    check(re.fullmatch(r"/var/lib/libvirt/qemu/channel/target/domain-\d+-%s/org\.memballoon\.0"
                       % re.escape(distro.DOM), path),
          "the doc's sed recipe over dumpxml gives %r" % path)
    check(g.lv.host_path(path) == g.channel_path(), "%s is not the channel's socket" % path)


def wait_dominfo_used(g, kib, timeout=30):
    """Until virsh dominfo's "Used memory" (libvirt's record, updated from
    QEMU's BALLOON_CHANGE events) is kib; seconds."""
    t0 = time.monotonic()
    while True:
        out = g.lv.virsh("dominfo", distro.DOM)
        m = re.search(r"^Used memory:\s+(\d+) KiB", out, re.M)
        if m and int(m.group(1)) == kib:
            return time.monotonic() - t0
        check(time.monotonic() - t0 < scaled(timeout), "virsh dominfo's Used memory is %s, "
              "not %d KiB after %ds" % (m.group(1) if m else "missing", kib, scaled(timeout)))
        time.sleep(0.5)


@pytest.mark.timeout(600)
@pytest.mark.distro
def test_distro_setmem(ctx, guest):
    """virsh setmem --live down to 1024 MiB and back up to 2048 MiB: dommemstat's
    actual lands on the target (to the 4 KiB page), memballoond's balloon
    events reach the channel's host socket with the driver's numbers, and
    dommemstat's stats are fresh (last_update moves by the 2 s period) and
    agree with the guest's /proc/meminfo."""
    g = guest
    install(g)
    libvirt_doc_claims(g)
    ch = distro.Channel(g.channel_path())
    try:
        r = ch.request("subscribe")
        check(r.get("ok") is True, "subscribe: %s" % r)
        stats = g.dommemstat()
        check(stats.get("actual") == distro.GUEST_MIB * MiB,
              "dommemstat actual %s KiB before setmem" % stats.get("actual"))
        times = {}
        for mib in (1024, distro.GUEST_MIB):
            pages = (distro.GUEST_MIB - mib) * 256
            start = len(ch.lines)
            t0 = time.monotonic()
            g.setmem(mib)
            times[mib] = g.wait_actual(mib)
            g.log("setmem %d MiB: dommemstat actual reached in %.2fs" % (mib, times[mib]))
            ev = ch.wait(lambda o: o.get("event") == "balloon" and o.get("type") == "target_changed"
                         and o["device"].get("target_pages") == pages, scaled(30),
                         "target_changed to %d pages" % pages, start)
            ev2 = ch.wait(lambda o: o.get("event") == "balloon" and o.get("type") == "target_reached"
                          and o["device"].get("actual_pages") == pages, scaled(30),
                          "target_reached at %d pages" % pages, start)
            g.log("events: %s ... %s (%.2fs after setmem)" % (
                ev["type"], ev2["type"], time.monotonic() - t0))
            check(ev2["device"]["target_pages"] == pages,
                  "target_reached with target %s pages" % ev2["device"]["target_pages"])
            # libvirt's record of the size (BALLOON_CHANGE events): dominfo
            used = wait_dominfo_used(g, mib * MiB)
            g.log("dominfo Used memory %d KiB %.2fs after setmem" % (mib * MiB, used))
            out = g.sh("memballoonctl --json status")
            check('"actual_pages":%d' % pages in out.replace(" ", ""),
                  "memballoonctl status in the guest: %s" % out.strip())
            if mib == 1024:
                fresh_stats(g, ctx)
    finally:
        ch.close()
    ctx.note("2048->1024 MiB %.1fs, ->2048 MiB %.1fs (dommemstat actual exact)" % (
        times[1024], times[distro.GUEST_MIB]))


def fresh_stats(g, ctx):
    """dommemstat's stats are refreshed every period and agree with the
    guest's /proc/meminfo.

    Freshness: dommemstat polled for 8 s shows last_update (QEMU's clock,
    whole seconds) moving in steps of the 2 s period (1-3 s after rounding).
    Agreement: /proc/meminfo is read before and after a stats update that
    comes after the first read returned (last_update moves past the value
    it had then), so the sample was taken between the two readings; it must
    lie between them, give or take TOL: the guest's allocations that come
    and go between the reads (the agent runs cat, journald writes), far
    below any unit error (KiB for pages or bytes is 4x or 1024x off).
    MemTotal does not move at all: it must be equal."""
    tol = 4 * MiB
    seen, t0 = [], time.monotonic()
    while time.monotonic() - t0 < scaled(8):
        u = g.dommemstat()["last_update"]
        if not seen or u != seen[-1]:
            seen.append(u)
        time.sleep(0.2)
    steps = [b - a for a, b in zip(seen, seen[1:])]
    check(len(steps) >= 2 and all(1 <= d <= 3 for d in steps),
          "dommemstat last_update over 8 s: %s (period 2 s)" % seen)
    for _ in range(2):
        before = g.meminfo()
        last = g.dommemstat()["last_update"]
        deadline = time.monotonic() + scaled(20)
        while True:
            s = g.dommemstat()
            if s["last_update"] > last:
                break
            check(time.monotonic() < deadline, "dommemstat's last_update stuck at %d" % last)
            time.sleep(0.2)
        after = g.meminfo()
        check(s["available"] == before["MemTotal"] == after["MemTotal"],
              "dommemstat available %d KiB, MemTotal %d, %d" % (
                  s["available"], before["MemTotal"], after["MemTotal"]))
        for stat, field in (("unused", "MemFree"), ("usable", "MemAvailable")):
            lo, hi = sorted((before[field], after[field]))
            check(lo - tol <= s[stat] <= hi + tol,
                  "dommemstat %s %d KiB vs %s %d..%d KiB" % (stat, s[stat], field, lo, hi))
        g.log("stats at %d: available %d (MemTotal %d), unused %d (MemFree %d..%d), usable %d "
              "(MemAvailable %d..%d)" % (s["last_update"], s["available"], after["MemTotal"],
                                         s["unused"], before["MemFree"], after["MemFree"],
                                         s["usable"], before["MemAvailable"],
                                         after["MemAvailable"]))
    ctx.log("last_update steps %s" % steps)


@pytest.mark.timeout(600)
@pytest.mark.distro
def test_distro_reload_restart(ctx, guest):
    """systemctl reload memballoond: the same process rereads its
    configuration and the host's connection goes on; systemctl restart: a
    new process, READY again, and the channel serves the same host socket
    again (requests, and balloon events after subscribing anew)."""
    g = guest
    install(g)
    ch = distro.Channel(g.channel_path())
    try:
        r = ch.request("ping")
        check(r.get("reply") == "ping" and r.get("version") == 1, "ping: %s" % r)
        pid = g.unit("memballoond", "MainPID")["MainPID"]
        since = g.sh("date '+%Y-%m-%d %H:%M:%S'").strip()
        t0 = time.monotonic()
        g.sh("systemctl reload memballoond")
        u = g.unit("memballoond", "ActiveState", "MainPID", "StatusText")
        check(u["ActiveState"] == "active" and u["MainPID"] == pid,
              "after reload: %s (MainPID was %s)" % (u, pid))
        r = ch.request("snapshot")
        check(len(r.get("devices", [])) == 1 and r.get("driver") == "loaded",
              "snapshot after reload: driver %s, %d devices" % (r.get("driver"),
                                                                len(r.get("devices", []))))
        log = g.sh("journalctl -q -u memballoond --since '%s' --no-pager" % since)
        check("reloading /etc/memballoon/memballoond.conf" in log,
              "no reload in memballoond's log: %s" % log.strip())
        reload_s = time.monotonic() - t0
        t0 = time.monotonic()
        g.sh("systemctl restart memballoond")
        u = g.unit("memballoond", "ActiveState", "SubState", "MainPID", "StatusText")
        check(u["ActiveState"] == "active" and u["SubState"] == "running" and u["MainPID"] != pid,
              "after restart: %s (MainPID was %s)" % (u, pid))
        check(u["StatusText"].startswith("1 balloon(s), "), "status after restart: %r"
              % u["StatusText"])
        # the same host socket, a new daemon behind it
        r = ch.request("subscribe", timeout=scaled(30))
        check(r.get("ok") is True, "subscribe after restart: %s" % r)
        restart_s = time.monotonic() - t0
        start = len(ch.lines)
        g.setmem(1536)
        g.wait_actual(1536)
        ch.wait(lambda o: o.get("event") == "balloon" and o.get("type") == "target_reached"
                and o["device"].get("actual_pages") == 512 * 256, scaled(30),
                "target_reached at 512 MiB after the restart", start)
        g.setmem(distro.GUEST_MIB)
        g.wait_actual(distro.GUEST_MIB)
        errors = g.sh("journalctl -b -q -p err -u memballoond --no-pager").strip()
        check(not errors, "memballoond logged errors: %s" % errors)
    finally:
        ch.close()
    ctx.note("reload %.1fs, restart to a served channel %.1fs" % (reload_s, restart_s))


def psi_total(g):
    """/proc/pressure/memory's some and full totals (us)."""
    out = g.sh("cat /proc/pressure/memory")
    return {l.split()[0]: int(l.split("total=")[1]) for l in out.splitlines() if "total=" in l}


@pytest.mark.timeout(600)
@pytest.mark.distro
def test_distro_no_balloon(ctx, guest):
    """The same guest with <memballoon model='none'/> (oVirt's "balloon
    disabled"): memballoond starts and serves the guest's pressure on its
    channel (a stall in the guest arrives as a pressure event; a snapshot's
    PSI totals lie between two readings of /proc/pressure/memory, its
    MemTotal is the guest's), memballoonctl status says there is no balloon
    device, and nothing is logged as an error."""
    g = guest
    install(g)
    g.shutdown()
    phases = g.boot(balloon=False)
    check(balloon_driver(g) is None, "a balloon device in a guest with model='none'")
    rc, out, err = g.lv.virsh("setmem", distro.DOM, "1024M", "--live", check=False)
    check(rc != 0, "virsh setmem succeeded without a balloon")
    u = g.unit("memballoond", "ActiveState", "SubState", "StatusText", "NRestarts")
    check(u["ActiveState"] == "active" and u["SubState"] == "running",
          "memballoond is %s/%s without a balloon" % (u["ActiveState"], u["SubState"]))
    check(u["StatusText"].startswith("0 balloon(s)"), "status: %r" % u["StatusText"])
    # Memory pressure: a read of the disk in a memory cgroup of 8 MiB
    # reclaims all the time (~160 ms of stall a second here), which
    # memballoond's PSI trigger (150 ms within 1 s) reports as it happens.
    ch = distro.Channel(g.channel_path())
    try:
        r = ch.request("subscribe")
        check(r.get("ok") is True, "subscribe: %s" % r)
        start = len(ch.lines)
        before = psi_total(g)
        ev = None
        for i in range(3):
            g.sh("systemd-run --wait -q -p MemoryMax=8M "
                 "dd if=/dev/vda of=/dev/null bs=1M count=300 skip=%d" % (300 * i), timeout=300)
            try:
                ev = ch.wait(lambda o: o.get("event") == "pressure", scaled(10),
                             "pressure event", start)
                break
            except TestFailure as e:
                g.log("round %d: %s" % (i + 1, e))
        check(ev is not None, "no pressure event while the guest stalled (%s -> %s us)"
              % (before, psi_total(g)))
        g.log("pressure event: %s" % ev)
        check(ev["psi"]["some"]["total_us"] > before["some"],
              "pressure event's some total %d us, %d before the stall"
              % (ev["psi"]["some"]["total_us"], before["some"]))
        # a snapshot's totals are the kernel's, read between two readings
        before = psi_total(g)
        mem = g.meminfo()
        snap = ch.request("snapshot")
        after = psi_total(g)
    finally:
        ch.close()
    g.log("snapshot: %s" % snap)
    check(snap.get("devices") == [], "snapshot devices: %s" % snap.get("devices"))
    psi = snap.get("psi") or {}
    for kind in ("some", "full"):
        got = (psi.get(kind) or {}).get("total_us")
        check(got is not None and before[kind] <= got <= after[kind],
              "snapshot psi %s total %s us, /proc/pressure/memory %d..%d" % (
                  kind, got, before[kind], after[kind]))
    check(snap["memory_kib"]["total"] == mem["MemTotal"],
          "snapshot memory total %s KiB, MemTotal %d" % (snap["memory_kib"]["total"],
                                                         mem["MemTotal"]))
    errors = g.sh("journalctl -b -q -p err -u memballoond --no-pager").strip()
    check(not errors, "memballoond logged errors: %s" % errors)
    rc, out = g.run("memballoonctl status")
    g.log("memballoonctl status (rc %d): %s" % (rc, out.strip()))
    check("no balloon device" in out, "memballoonctl status: %s" % out.strip())
    ctx.note("boot %s; %s" % (distro.boot_summary(phases), u["StatusText"]))


@pytest.mark.timeout(900)
@pytest.mark.distro
def test_distro_upgrade(ctx, guest):
    """An upgrade from the previous version's packages (distro.PREVIOUS,
    built by its own make deb) keeps the admin's edited conffile: the guest
    goes back to the previous version (apt install --allow-downgrades),
    the admin edits /etc/memballoon/memballoond.conf, and apt install of
    this version's packages leaves the file as edited (no prompt, no
    .dpkg-* copy), memballoond runs the new version with the edited value,
    and DKMS has this version's module (the previous one removed)."""
    g = guest
    install(g)
    version = deb_version(g.cell.debs["memballoon-dkms"]).rsplit("-", 1)[0]
    t0 = time.monotonic()
    prev = distro.previous_debs(os.path.join(g.lv.work, "previous"), g.ctx.logf)
    build_s = time.monotonic() - t0
    prev_version = deb_version(prev["memballoon-dkms"]).rsplit("-", 1)[0]
    rc, _ = g.run("dpkg --compare-versions %s lt %s" % (prev_version, version))
    check(rc == 0, "the previous version %s is not older than %s" % (prev_version, version))
    g.sh("mkdir -p /root/previous")
    debs = [g.copy_in(p, "/root/previous") for p in sorted(prev.values())]
    down_s, _ = apt(g, "install -y --allow-downgrades " + " ".join(debs),
                    "apt install of %s" % prev_version)
    out = g.sh("dpkg-query -W -f='${Version}\\n' memballoond memballoon-dkms")
    check(out.split() == [prev_version + "-1"] * 2, "after the downgrade dpkg has %s" % out.split())
    # the admin's edit: a value and a comment of their own
    conf = "/etc/memballoon/memballoond.conf"
    g.sh("sed -i 's/^max_clients = .*/max_clients = 7/' %s && "
         "printf '# site: fewer host clients (ticket 42)\\n' >> %s" % (conf, conf))
    edited = g.sh("sha256sum %s" % conf).split()[0]
    debs = [g.cell.debs[p] for p in ("memballoon-dkms", "memballoond")]
    debs = [g.copy_in(p) for p in debs]
    pid = g.unit("memballoond", "MainPID")["MainPID"]
    up_s, phases = apt(g, "install -y " + " ".join(debs), "apt install of %s" % version)
    out = g.sh("dpkg-query -W -f='${Version}\\n' memballoond memballoon-dkms")
    check(out.split() == [version + "-1"] * 2, "after the upgrade dpkg has %s" % out.split())
    now = g.sh("sha256sum %s" % conf).split()[0]
    check(now == edited, "the upgrade changed the admin's %s" % conf)
    left = g.sh("ls -a /etc/memballoon/").split()
    check(not [f for f in left if ".dpkg-" in f or ".ucf" in f],
          "/etc/memballoon after the upgrade: %s" % left)
    u = g.unit("memballoond", "ActiveState", "MainPID", "StatusText")
    check(u["ActiveState"] == "active" and u["MainPID"] != pid,
          "memballoond after the upgrade (was PID %s): %s" % (pid, u))
    out = g.sh("memballoond --version; memballoond --print-config | grep '^max_clients'")
    check(version in out and re.search(r"^max_clients = 7$", out, re.M),
          "after the upgrade: %s" % out.strip())
    out = g.sh("dkms status memballoon")
    check(("memballoon/%s, " % version) in out and prev_version not in out,
          "dkms status after the upgrade: %r" % out.strip())
    errors = g.sh("journalctl -b -q -p err -u memballoond --no-pager").strip()
    check(not errors, "memballoond logged errors: %s" % errors)
    # the module in memory is still the one loaded at boot; the next boot
    # loads this version's
    ctx.note("%s -> %s: previous built in %.0fs, downgrade %.0fs, upgrade %.0fs (DKMS build "
             "%.0fs), conffile kept" % (prev_version, version, build_s, down_s, up_s,
                                        phases.get("dkms_build", -1)))


@pytest.mark.timeout(900)
@pytest.mark.distro
def test_distro_initramfs(ctx, guest):
    """An initramfs that loads virtio_balloon (the admin listed it in
    /etc/initramfs-tools/modules): the package's hook puts memballoon and
    the modprobe rule in beside it, and after a reboot memballoon owns the
    balloon from the initramfs (bound before systemd starts from the root
    file system), virtio_balloon not loaded.  The list is restored after."""
    g = guest
    install(g)
    kver = g.sh("uname -r").strip()
    modules = "/etc/initramfs-tools/modules"
    t0 = time.monotonic()
    g.sh("cp %s /var/tmp/modules.saved && echo virtio_balloon >> %s && "
         "update-initramfs -u -k %s" % (modules, modules, kver), timeout=600)
    update_s = time.monotonic() - t0
    try:
        listing = g.sh("lsinitramfs /boot/initrd.img-%s" % kver, timeout=300)
        for want in ("/virtio_balloon.ko", "/updates/dkms/memballoon.ko",
                     "modprobe.d/memballoon.conf"):
            check(any(l.endswith(want) for l in listing.splitlines()),
                  "the initramfs has no %s" % want.lstrip("/"))
        phases = g.reboot()
        driver = bound_driver(g, "memballoon")
        check(driver == "memballoon", "with virtio_balloon in the initramfs the balloon's "
              "driver is %r" % driver)
        rc, _ = g.run("test -e /sys/module/virtio_balloon")
        check(rc != 0, "virtio_balloon is loaded beside memballoon")
        log = g.sh("dmesg").splitlines()
        bound = next((i for i, l in enumerate(log) if "memballoon bound" in l), None)
        pid1 = next((i for i, l in enumerate(log) if "systemd[1]: systemd " in l), None)
        check(bound is not None and pid1 is not None and bound < pid1,
              "memballoon was not bound in the initramfs (dmesg line %s, systemd at %s)"
              % (bound, pid1))
        g.log("dmesg: %s" % log[bound].strip())
        secs = g.setmem_round_trip(1024)
    finally:
        g.sh("cp /var/tmp/modules.saved %s && update-initramfs -u -k %s" % (modules, kver),
             timeout=600)
    ctx.note("update-initramfs %.0fs; reboot %s; memballoon bound in the initramfs; 1024 MiB "
             "in %.1fs" % (update_s, distro.boot_summary(phases), secs))


def snapshot(g):
    """The guest's file list before an apt step that is not the packages'."""
    g.sh(FIND + " > /var/tmp/files.k0", timeout=300)


def fold_in(g):
    """distro_purge's "before" moves with what the step since snapshot()
    changed (a kernel, its headers): those are not the packages' files.
    What DKMS made for memballoon is, and stays out."""
    g.sh(FIND + " > /var/tmp/files.k1; cd /var/tmp && export LC_ALL=C && "
         "comm -23 files.k0 files.k1 > k.removed && "
         "{ comm -13 files.k0 files.k1 | grep -v -e memballoon -e '/updates/dkms$' "
         "-e '/updates$' > k.added || true; } && "
         "comm -23 files.before k.removed | sort -m - k.added > files.b2 && "
         "mv files.b2 files.before", timeout=300)


@pytest.mark.timeout(2400)
@pytest.mark.distro
def test_distro_kernel_upgrade(ctx, guest):
    """A kernel upgrade as an admin does it, and a kernel DKMS cannot build
    for: bookworm-backports' 6.12 kernel (the packages reach the guest on a
    read-only disk: it has no network) installed first without its headers,
    so DKMS cannot build memballoon for it: apt still succeeds, update-grub
    makes 6.12 the default, and after a reboot into it virtio_balloon owns
    the balloon (modprobe.d's fallback), memballoond runs without a balloon,
    memballoonctl status names virtio_balloon and virsh setmem lands.  Then
    the headers: DKMS builds memballoon for 6.12 from their hook, and after
    a reboot memballoon owns the balloon, memballoond is active with it, and
    virsh setmem lands."""
    g = guest
    install(g)
    old_kver = g.sh("uname -r").strip()
    pkgdir = os.path.join(g.lv.work, "backports")
    t0 = time.monotonic()
    kver = distro.backports_kernel(pkgdir, g.ctx.logf)
    tar = os.path.join(g.lv.work, "backports.tar")
    subprocess.run(["tar", "-cf", tar, "-C", pkgdir] + sorted(os.listdir(pkgdir)), check=True)
    fetch_s = time.monotonic() - t0
    check(kver != old_kver, "bookworm-backports' kernel is the image's (%s)" % kver)
    g.reboot(extra_disk=tar)
    g.sh("mkdir -p /root/bpo && tar -xf /dev/vdb -C /root/bpo")
    snapshot(g)
    version = deb_version(g.cell.debs["memballoon-dkms"]).rsplit("-", 1)[0]

    # the kernel alone: DKMS has no headers to build with
    image_s, _ = apt(g, "install -y ./linux-image-*.deb", "apt install of %s without headers"
                     % kver, cwd="/root/bpo", timeout=1500)
    fold_in(g)
    out = g.sh("dkms status memballoon")
    check(("memballoon/%s, %s, x86_64: installed" % (version, kver)) not in out,
          "dkms status says installed for %s without its headers: %r" % (kver, out.strip()))
    default = g.sh("sed -n 's/^[[:space:]]*linux[[:space:]]\\+\\(\\S*\\).*/\\1/p' "
                   "/boot/grub/grub.cfg | head -1").strip()
    check(default == "/boot/vmlinuz-" + kver, "grub.cfg's first kernel is %r, not %s"
          % (default, kver))
    boot1 = g.reboot(extra_disk=tar)
    running = g.sh("uname -r").strip()
    check(running == kver, "the guest runs %s after the reboot, not %s" % (running, kver))
    driver = bound_driver(g, "virtio_balloon")
    check(driver == "virtio_balloon", "on %s without memballoon the balloon's driver is %r"
          % (kver, driver))
    u = g.unit("memballoond", "ActiveState", "StatusText")
    check(u["ActiveState"] == "active" and u["StatusText"].startswith("0 balloon(s)"),
          "memballoond on %s without memballoon: %s" % (kver, u))
    rc, out = g.run("memballoonctl status")
    check(rc == 1 and "driven by virtio_balloon" in out,
          "memballoonctl status on virtio_balloon: rc %d %r" % (rc, out.strip()))
    fallback_secs = g.setmem_round_trip(1024)

    # the headers: DKMS builds for the running kernel from their hook
    snapshot(g)
    headers_s, phases = apt(g, "install -y ./*.deb", "apt install of %s's headers" % kver,
                            cwd="/root/bpo", timeout=1500)
    fold_in(g)
    out = g.sh("dkms status memballoon")
    for k in (old_kver, kver):
        check("memballoon/%s, %s, x86_64: installed" % (version, k) in out,
              "dkms status: %r (want memballoon %s installed for %s)" % (out.strip(), version, k))
    boot2 = g.reboot()
    running = g.sh("uname -r").strip()
    check(running == kver, "the guest runs %s after the reboot, not %s" % (running, kver))
    driver = bound_driver(g, "memballoon")
    check(driver == "memballoon", "on %s the balloon's driver is %r" % (kver, driver))
    path = g.sh("modinfo -F filename memballoon").strip()
    check(path.startswith("/lib/modules/%s/updates/dkms/memballoon.ko" % kver),
          "memballoon.ko on %s is %s, not DKMS's" % (kver, path))
    signer = g.sh("modinfo -F signer memballoon").strip()
    check(signer == "DKMS module signing key", "memballoon.ko's signer on %s: %r"
          % (kver, signer))
    u = g.unit("memballoond", "ActiveState", "StatusText")
    check(u["ActiveState"] == "active" and u["StatusText"].startswith("1 balloon(s), "),
          "memballoond on %s: %s" % (kver, u))
    secs = g.setmem_round_trip(1024)
    ctx.note("%s -> %s: fetch %.0fs; kernel alone: apt %.0fs, reboot %s, virtio_balloon to "
             "1024 MiB in %.1fs; headers: apt %.0fs (DKMS build %.0fs), reboot %s, memballoon "
             "to 1024 MiB in %.1fs" % (old_kver, kver, fetch_s, image_s,
                                       distro.boot_summary(boot1), fallback_secs, headers_s,
                                       phases.get("dkms_build", -1), distro.boot_summary(boot2),
                                       secs))


# What may change on the guest's root file system between a moment before the
# install and one after the purge without being a file the packages left:
# the package manager's and systemd's own records, logs, caches, the .deb
# files the test copied into /root, and dkms's own signing key (dkms, which
# made it at the first build, stays installed).
CHURN = re.compile(r"^/(var/log|var/lib/dpkg|var/lib/apt|var/cache|var/lib/systemd|var/tmp|tmp|"
                   r"root)(/|$)|^/var/lib/dkms/mok\.(key|pub)$")


@pytest.mark.timeout(900)
@pytest.mark.distro
def test_distro_purge(ctx, guest):
    """apt purge of both packages: dpkg knows neither any more, no file they
    or DKMS installed is left (the file system is what it was before the
    install, but for CHURN), and after a reboot virtio_balloon owns the
    balloon again and virsh setmem lands with it."""
    g = guest
    install(g)
    t0 = time.monotonic()
    rc, out = g.run("DEBIAN_FRONTEND=noninteractive apt purge -y memballoon-dkms memballoond",
                    timeout=600)
    purge_s = time.monotonic() - t0
    g.log("apt purge (%.0fs, rc %d):\n%s" % (purge_s, rc, out))
    check(rc == 0, "apt purge failed (rc %d): %s" % (rc, out.strip().splitlines()[-2:]))
    # dpkg may remember a purged package as "pn" (wanted purged, not installed)
    out = g.sh("dpkg-query -W -f='${db:Status-Abbrev} ${Package}\\n' 'memballoon*' "
               "2>/dev/null || true")
    left = [l for l in out.splitlines() if l.strip() and l.split()[0][1:2] != "n"]
    check(not left, "dpkg after the purge: %s" % left)
    diff = g.sh(FIND + " > /var/tmp/files.after; "
                "diff /var/tmp/files.before /var/tmp/files.after || true", timeout=300)
    added = [l[2:] for l in diff.splitlines() if l.startswith("> ")]
    removed = [l[2:] for l in diff.splitlines() if l.startswith("< ")]
    g.log("after the purge, new: %s; gone: %s" % (added, removed))
    stray = [f for f in added + removed if not CHURN.match(f)]
    check(not stray, "after the purge %d paths differ from before the install: %s"
          % (len(stray), ", ".join(stray[:8])))
    u = g.unit("memballoond", "LoadState", "ActiveState")
    check(u["LoadState"] == "not-found" and u["ActiveState"] == "inactive",
          "memballoond after the purge: %s" % u)
    phases = g.reboot()
    driver = bound_driver(g, "virtio_balloon")
    check(driver == "virtio_balloon", "after the purge and a reboot the balloon's driver is %r"
          % driver)
    secs = g.setmem_round_trip(1024)
    ctx.note("purge %.0fs, %d paths of churn; reboot %s; virtio_balloon to 1024 MiB in %.1fs"
             % (purge_s, len(added) + len(removed), distro.boot_summary(phases), secs))
