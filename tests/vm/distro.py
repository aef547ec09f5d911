"""The distro tier's pieces (tests/vm/test_distro.py): the cell's setup
(the guest image, the packages), the guest under a private libvirtd, and a
client for memballoond's channel on the host.

The guest is Debian 12 as scripts/distro-image.sh builds it, booted by OVMF
from a qcow2 overlay of the cached image, through the domain XML of
packaging/libvirt/memballoon-guest.xml with its paths changed, type='qemu'
(TCG) and the serial console in a file.  Everything the tests do goes
through libvirt: virsh setmem/dommemstat, and commands in the guest through
qemu-guest-agent (virsh qemu-agent-command guest-exec).
"""
import glob
import json
import os
import re
import socket
import subprocess
import time
import xml.etree.ElementTree as ET

from harness import TestFailure, check
from knobs import scaled
from libvirtd import Libvirtd
from vm import PROBLEM_RE, parse_meminfo

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCRIPTS = os.path.join(REPO, "scripts")
DOMAIN_XML = os.path.join(REPO, "packaging", "libvirt", "memballoon-guest.xml")
DEB_DIR = os.path.join(REPO, "build", "deb")
LABEL = "debian-12"              # the cell, in test names: distro_install[debian-12]
DOM = "memballoon-guest"         # the domain's name (packaging/libvirt/memballoon-guest.xml)
GUEST_MIB = 2048
BOOT_TIMEOUT = 300               # domain start until the guest agent answers (TCG, busy host)


# ---------------------------------------------------------------------------
# the cell: image and packages

def _run(cmd, log):
    log.write("$ %s\n" % " ".join(cmd))
    log.flush()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
    log.flush()
    return p


def source_mtime():
    """The newest modification time of the files make deb packs (what git
    knows, tracked or not ignored)."""
    p = subprocess.run(["git", "-C", REPO, "ls-files", "--cached", "--others",
                        "--exclude-standard"], stdout=subprocess.PIPE, text=True)
    files = p.stdout.split() if p.returncode == 0 else []
    newest = 0.0
    for f in files:
        try:
            newest = max(newest, os.stat(os.path.join(REPO, f)).st_mtime)
        except OSError:
            pass
    return newest


def debs(log):
    """{package: path} of build/deb's two packages: `make deb` first unless
    both exist and are newer than every source file."""
    found = sorted(glob.glob(os.path.join(DEB_DIR, "*.deb")))
    fresh = len(found) == 2 and min(os.stat(d).st_mtime for d in found) > source_mtime()
    t0 = time.monotonic()
    if not fresh:
        p = _run(["make", "-C", REPO, "deb"], log)
        if p.returncode != 0:
            raise OSError("make deb failed (rc %d), see %s" % (p.returncode, log.name))
        found = sorted(glob.glob(os.path.join(DEB_DIR, "*.deb")))
    pkgs = {os.path.basename(d).split("_")[0]: d for d in found}
    if sorted(pkgs) != ["memballoon-dkms", "memballoond"]:
        raise OSError("build/deb has %s, not memballoon-dkms and memballoond"
                      % [os.path.basename(d) for d in found])
    log.write("distro: packages %s (%s, %.0fs)\n" % (
        ", ".join(os.path.basename(d) for d in found), "reused" if fresh else "make deb",
        time.monotonic() - t0))
    return pkgs


IMAGE_SH = os.path.join(SCRIPTS, "distro-image.sh")


def prefetch(cell, out):
    """Start scripts/distro-image.sh in the background when a run that has
    the distro tier starts, so that on a fresh machine the image (minutes,
    most of them waiting for the archive and the disk) is built while the
    other cells run: at the lowest CPU priority and a low I/O one, its
    output in <out>/distro-image.log.  A cached image makes it a no-op;
    setup() waits for it."""
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "distro-image.log"), "w") as f:
        cell.prefetch = subprocess.Popen(["nice", "-n", "19", "ionice", "-c", "2", "-n", "7",
                                          "sh", IMAGE_SH], stdout=f, stderr=subprocess.STDOUT,
                                         start_new_session=True)
    cell.prefetch_log = f.name


def setup(cell, log):
    """The distro cell's setup: the image (scripts/distro-image.sh, cached;
    after the background build prefetch() started, if any) and the packages
    (make deb unless fresh)."""
    t0 = time.monotonic()
    bg = cell.prefetch
    if bg is not None:
        rc = bg.wait()
        with open(cell.prefetch_log) as f:
            log.write("$ sh %s (in the background since the run started: rc %d)\n%s"
                      % (IMAGE_SH, rc, f.read()))
        log.write("distro: waited %.0fs for the image\n" % (time.monotonic() - t0))
        if rc != 0:
            raise OSError("distro-image.sh failed (rc %d), see %s" % (rc, cell.prefetch_log))
    p = _run(["sh", IMAGE_SH], log)
    if p.returncode != 0:
        raise OSError("distro-image.sh failed (rc %d), see %s" % (p.returncode, log.name))
    env = dict(l.split("=", 1) for l in p.stdout.splitlines() if "=" in l)
    if not os.path.exists(env.get("DISK", "")):
        raise OSError("distro-image.sh printed no DISK, see %s" % log.name)
    env["IMAGE_SECONDS"] = "%.0f" % (time.monotonic() - t0)
    cell.kenv = env
    cell.debs = debs(log)


# The version an upgrade starts from (distro_upgrade): main when `make deb`
# landed, the first packaged memballoon (0.2.0 was never tagged).  Point it
# at the last release once releases are tagged.
PREVIOUS = "de6f15bc8297e1153943b49e0b5285e1e558868a"


def previous_debs(dest, log):
    """{package: path} of PREVIOUS's two packages, built by that version's
    own `make deb` from `git archive` into dest (its VERSION file given the
    full version its checkout had: 0.2.0+git223.de6f15b)."""
    def git(*args, **kw):
        return subprocess.run(["git", "-C", REPO] + list(args), stdout=subprocess.PIPE,
                              stderr=log, text=kw.get("text", True), check=False)
    if git("cat-file", "-e", PREVIOUS + "^{commit}").returncode != 0:
        raise TestFailure("the previous version's commit %s is not in this clone (a shallow "
                          "clone? fetch its history)" % PREVIOUS[:12])
    src = os.path.join(dest, "memballoon-previous")
    subprocess.run(["rm", "-rf", src], check=True)
    os.makedirs(src)
    tar = git("archive", "--format=tar", PREVIOUS, text=False).stdout
    subprocess.run(["tar", "-x", "-C", src], input=tar, check=True)
    with open(os.path.join(src, "VERSION")) as f:
        base = f.read().split()[0]
    version = "%s+git%s.%s" % (base, git("rev-list", "--count", PREVIOUS).stdout.strip(),
                               PREVIOUS[:7])
    with open(os.path.join(src, "VERSION"), "w") as f:
        f.write(version + "\n")
    p = _run(["make", "-C", src, "deb"], log)
    if p.returncode != 0:
        raise TestFailure("make deb of the previous version (%s) failed, see %s"
                          % (version, log.name))
    found = sorted(glob.glob(os.path.join(src, "build", "deb", "*.deb")))
    pkgs = {os.path.basename(d).split("_")[0]: d for d in found}
    check(sorted(pkgs) == ["memballoon-dkms", "memballoond"],
          "the previous version's make deb made %s" % [os.path.basename(d) for d in found])
    return pkgs


BACKPORTS = "bookworm-backports"
# What the image lacks for a 6.12 kernel's headers: linux-kbuild-6.12 runs
# pahole (bookworm's: 1.24), with its libraries.
KBUILD_DEPS = ("pahole", "libbpf1", "libdw1")


def backports_kernel(dest, log):
    """The packages `apt install -t bookworm-backports linux-image-amd64
    linux-headers-amd64` brings into the image, downloaded into dest with
    scripts/apt-suite.sh; return the kernel release (6.12.95+deb12-amd64)."""
    def apt(suite, *args):
        p = subprocess.run(["sh", os.path.join(SCRIPTS, "apt-suite.sh"), suite] + list(args),
                           cwd=dest, stdout=subprocess.PIPE, stderr=log, text=True)
        check(p.returncode == 0, "apt-suite.sh %s %s failed, see %s"
              % (suite, " ".join(args[:2]), log.name))
        return p.stdout

    def depends(pkg):
        return re.findall(r"^\s+Depends: (\S+)", apt(BACKPORTS, "apt-cache", "depends", pkg), re.M)
    os.makedirs(dest, exist_ok=True)
    image = [d for d in depends("linux-image-amd64") if d.startswith("linux-image-")][0]
    headers = [d for d in depends("linux-headers-amd64") if d.startswith("linux-headers-")][0]
    common_kbuild = [d for d in depends(headers)
                     if d.startswith(("linux-headers-", "linux-kbuild-")) and d != headers
                     and not d.startswith("linux-image-")]
    pkgs = ["linux-image-amd64", "linux-headers-amd64", image, headers] + \
        common_kbuild
    for f in glob.glob(os.path.join(dest, "*.deb")):
        os.unlink(f)
    apt(BACKPORTS, "apt-get", "download", "-q", *pkgs)
    apt("system", "apt-get", "download", "-q", *KBUILD_DEPS)
    log.write("distro: %s\n" % ", ".join(sorted(os.listdir(dest))))
    return image[len("linux-image-"):]


# ---------------------------------------------------------------------------
# the guest

def domain_xml(disk, nvram, console, balloon=True, extra_disk=None):
    """packaging/libvirt/memballoon-guest.xml for this run: the disk and
    NVRAM paths, TCG, the serial console into a file; balloon=False is
    <memballoon model='none'/>; extra_disk a file the guest sees read-only
    as /dev/vdb (how packages reach a guest without a network)."""
    dom = ET.parse(DOMAIN_XML).getroot()
    dom.set("type", "qemu")
    dom.find("devices/disk/source").set("file", disk)
    dom.find("os/nvram").text = nvram
    devices = dom.find("devices")
    for tag in ("serial", "console"):
        for e in devices.findall(tag):
            devices.remove(e)
    serial = ET.SubElement(devices, "serial", type="file")
    ET.SubElement(serial, "source", path=console, append="on")
    ET.SubElement(serial, "target", port="0")
    if extra_disk:
        d = ET.Element("disk", type="file", device="disk")
        ET.SubElement(d, "driver", name="qemu", type="raw")
        ET.SubElement(d, "source", file=extra_disk)
        ET.SubElement(d, "target", dev="vdb", bus="virtio")
        ET.SubElement(d, "readonly")
        devices.insert(list(devices).index(devices.find("disk")) + 1, d)
    if not balloon:
        mb = devices.find("memballoon")
        for child in list(mb):
            mb.remove(child)
        mb.attrib.clear()
        mb.set("model", "none")
    return ET.tostring(dom, encoding="unicode")


def boot_summary(seen):
    """A boot's milestones as the time each part took: "firmware 9s, grub 4s,
    ..." (userspace is systemd's own count; ready the total)."""
    parts, prev = [], 0.0
    if "shutdown" in seen:
        parts.append("shutdown %.0fs" % seen["shutdown"])
    for name in ("firmware", "grub", "kernel", "initramfs"):
        if name in seen:
            parts.append("%s %.0fs" % (name, seen[name] - prev))
            prev = seen[name]
    if "userspace" in seen:
        parts.append("systemd %.0fs" % seen["userspace"])
    return "%.0fs (%s)" % (seen.get("ready", 0) + seen.get("shutdown", 0), ", ".join(parts))


class Guest:
    """The Debian guest under our own libvirtd; ctx is the current test's
    harness.Ctx (its log and notes)."""

    def __init__(self, cell, outdir, ctx):
        self.cell, self.outdir, self.ctx = cell, outdir, ctx
        self.env = cell.kenv
        self.lv = Libvirtd(outdir, log=self.log)
        self.console = os.path.join(outdir, "distro-guest.console.log")
        self.running = False
        self.balloon = True
        self.boots = []                 # {phase: seconds} per boot
        self.installed = None           # None: not tried; True; or the failure
        self.install_times = {}

    def log(self, msg):
        self.ctx.log(msg)

    def start(self):
        self.lv.start()
        self.disk = os.path.join(self.lv.work, "disk.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", self.env["DISK"],
                        "-F", "qcow2", self.disk], check=True)
        open(self.console, "w").close()

    def close(self):
        self.lv.stop()

    # -- boots -------------------------------------------------------------
    def console_text(self):
        try:
            with open(self.console, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def console_problems(self):
        return [l for l in self.console_text().splitlines() if PROBLEM_RE.search(l)]

    def boot(self, balloon=True, extra_disk=None):
        """Start the domain (a transient one, virsh create) and wait for its
        agent; record where the time went."""
        xml = domain_xml(self.disk, os.path.join(self.lv.work, "VARS.fd"), self.console,
                         balloon, extra_disk)
        start = len(self.console_text())
        t0 = time.monotonic()
        self.lv.create(xml, DOM)
        self.running, self.balloon = True, balloon
        return self._wait_boot(t0, start)

    def reboot(self, extra_disk=None):
        """Reboot the guest as a power cycle: systemctl poweroff inside,
        then the same domain XML started again.  A warm reboot (systemctl
        reboot, QEMU resets the machine) works too, but under TCG, after
        update-initramfs, OVMF and GRUB then take 40-130 s longer than in a
        fresh QEMU (measured: a warm reset after a compile or after reading
        a gigabyte does not; one after update-initramfs does)."""
        old = self.boot_id()
        t0 = time.monotonic()
        self.shutdown()
        down = time.monotonic() - t0
        phases = self.boot(self.balloon, extra_disk)
        phases["shutdown"] = down
        check(self.boot_id() != old, "the guest's boot_id did not change across the reboot")
        return phases

    def shutdown(self, timeout=120):
        """Power off from inside (systemctl poweroff); the transient
        domain goes away."""
        self.detach("systemctl poweroff")
        deadline = time.monotonic() + scaled(timeout)
        while DOM in self.lv.virsh("list", "--name").split():
            check(time.monotonic() < deadline, "the guest did not power off in %ds" % timeout)
            time.sleep(1)
        self.lv.domains.discard(DOM)
        self.running = False

    def detach(self, cmd):
        """Start a command in the guest without waiting for it (guest-exec
        returns at once; its status is never asked for): one that takes the
        agent down with it.  virsh reboot/shutdown --mode agent would wait
        for an answer the agent never sends."""
        self.lv.agent(DOM, "guest-exec", {"path": "/bin/sh", "arg": ["-c", cmd]})

    def boot_id(self, check_rc=True):
        try:
            rc, out = self.lv.agent_exec(DOM, "cat /proc/sys/kernel/random/boot_id", timeout=30)
        except Exception:
            if check_rc:
                raise
            return None
        return out.strip() if rc == 0 else None

    def _wait_boot(self, t0, start):
        """Poll the console (from offset start) for the boot's milestones
        and the agent; return {milestone: seconds since t0}: firmware (OVMF
        until GRUB), grub (until
        the kernel), kernel (until the initramfs), initramfs (until systemd),
        agent (the guest agent answers), userspace (systemd's own count until
        the system is up), ready (all that)."""
        marks = [("firmware", "Welcome to GRUB"), ("grub", "Linux version"),
                 ("kernel", "Run /init"), ("initramfs", "systemd[1]: systemd ")]
        seen = {}
        deadline = t0 + scaled(BOOT_TIMEOUT)
        while True:
            text = self.console_text()[start:]
            for name, pat in marks:
                if name not in seen and pat in text:
                    seen[name] = time.monotonic() - t0
            if len(seen) == len(marks) and self.lv.agent_ready(DOM):
                seen["agent"] = time.monotonic() - t0
                break
            if time.monotonic() > deadline:
                raise TestFailure("the guest did not boot within %ds (seen %s); console:\n%s" % (
                    scaled(BOOT_TIMEOUT), ", ".join(seen) or "nothing",
                    "\n".join(text.splitlines()[-25:])))
            time.sleep(0.5)
        # systemd's own account of the userspace part, once it is done
        rc, out = self.run("systemctl is-system-running --wait >/dev/null; "
                           "systemd-analyze time | head -1", timeout=180)
        m = re.search(r"\+ ([\d.]+min )?([\d.]+)s \(userspace\)", out)
        if m:
            seen["userspace"] = (float(m.group(1)[:-4]) * 60 if m.group(1) else 0) + \
                float(m.group(2))
        seen["ready"] = time.monotonic() - t0
        self.boots.append(seen)
        self.log("boot: %s; systemd: %s" % (
            ", ".join("%s at %.1fs" % kv for kv in seen.items()), out.strip()))
        return seen

    # -- commands in the guest ------------------------------------------------
    def run(self, script, timeout=60):
        """(rc, output) of a sh script in the guest, through the agent."""
        rc, out = self.lv.agent_exec(DOM, script, timeout=scaled(timeout))
        return rc, out

    def sh(self, script, timeout=60):
        """A script that must succeed; its output."""
        rc, out = self.run(script, timeout)
        check(rc == 0, "guest: `%s` failed (rc %d): %s" % (script[:120], rc, out.strip()[-600:]))
        return out

    def copy_in(self, path, dest_dir="/root"):
        dest = os.path.join(dest_dir, os.path.basename(path))
        with open(path, "rb") as f:
            self.lv.agent_write(DOM, dest, f.read())
        return dest

    def meminfo(self):
        return parse_meminfo(self.sh("cat /proc/meminfo"))

    def unit(self, name, *props):
        """systemctl show's properties of a unit, as a dict."""
        out = self.sh("systemctl show %s %s" % (" ".join("-p " + p for p in props), name))
        return dict(l.split("=", 1) for l in out.splitlines() if "=" in l)

    # -- the host's side ------------------------------------------------------
    def dommemstat(self):
        return self.lv.dommemstat(DOM)

    def setmem(self, mib):
        self.lv.virsh("setmem", DOM, "%dM" % mib, "--live")

    def wait_actual(self, mib, timeout=120):
        """Until dommemstat's actual is mib (to the 4 KiB page); seconds."""
        t0 = time.monotonic()
        while True:
            actual = self.dommemstat().get("actual")
            if actual is not None and abs(actual - mib * 1024) < 4:
                return time.monotonic() - t0
            if time.monotonic() - t0 > scaled(timeout):
                raise TestFailure("dommemstat actual %s KiB, not %d MiB after %ds"
                                  % (actual, mib, scaled(timeout)))
            time.sleep(0.25)

    def setmem_round_trip(self, mib=1024):
        """virsh setmem down to mib and back to GUEST_MIB, each waited for in
        dommemstat's actual; the seconds the way down took."""
        self.setmem(mib)
        secs = self.wait_actual(mib)
        self.setmem(GUEST_MIB)
        self.wait_actual(GUEST_MIB)
        return secs

    def channel_path(self):
        """The host socket of the org.memballoon.0 channel, from the live
        XML as an admin finds it (virsh dumpxml), as seen outside
        libvirtd's namespace."""
        dom = ET.fromstring(self.lv.virsh("dumpxml", DOM))
        for ch in dom.findall("devices/channel"):
            if ch.find("target").get("name") == "org.memballoon.0":
                return self.lv.host_path(ch.find("source").get("path"))
        raise TestFailure("no org.memballoon.0 channel in the live XML")


class Channel:
    """memballoond's JSON-lines protocol on the channel's host socket
    (docs/protocol.md); everything read is kept in .lines."""

    def __init__(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        self.buf = b""
        self.lines = []
        self.next_id = 1

    def close(self):
        self.sock.close()

    def send(self, obj):
        self.sock.sendall((json.dumps(obj) + "\n").encode())

    def _read(self, timeout):
        self.sock.settimeout(max(timeout, 0.01))
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            return
        if not data:
            raise TestFailure("the channel's socket closed")
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            if line.strip():
                try:
                    self.lines.append(json.loads(line))
                except ValueError:
                    raise TestFailure("not JSON on the channel: %r" % line[:200])

    def wait(self, pred, timeout, what, start=0):
        """The first object from index start on that pred accepts."""
        deadline = time.monotonic() + timeout
        i = start
        while True:
            while i < len(self.lines):
                if pred(self.lines[i]):
                    return self.lines[i]
                i += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise TestFailure("no %s on the channel within %ds (got %d lines: %s)" % (
                    what, timeout, len(self.lines),
                    "; ".join(json.dumps(l)[:120] for l in self.lines[-4:])))
            self._read(min(left, 1.0))

    def request(self, cmd, timeout=30, **args):
        """Send a request with a fresh id; its reply."""
        rid = self.next_id
        self.next_id += 1
        msg = {"cmd": cmd, "id": rid}
        msg.update(args)
        start = len(self.lines)
        self.send(msg)
        return self.wait(lambda o: o.get("id") == rid, timeout, "reply to %s" % cmd, start)
