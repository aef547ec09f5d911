"""Boot a test guest under QEMU (TCG) and talk to it.

VM(...) starts qemu-system-x86_64 with
  - ttyS0 -> console log file (kernel console and /init output)
  - ttyS1 -> unix socket served by the guest agent (tests/agent/agent.sh)
  - a QMP unix socket
  - pre_args, then -device virtio-balloon-pci,id=balloon0[,opts], then
    extra_args (pre_args can define a bus the balloon then sits on, e.g. a
    pcie-root-port for hot-unplug on q35: balloon_opts="bus=rp1")
On machines without a second UART (machine="microvm") the agent talks over
a virtio-serial port named "mbagent" instead (agent="virtio"); /init finds
it from `mb.agent=virtio` on the kernel command line.  A kernel env file may
set QEMU_MACHINE (e.g. q35 for the debug kernel) and APPEND (extra kernel
command line) for every VM booted with it.
A kernel env with ARCH= (scripts/guest-kernel.sh --arch) boots a guest of
that architecture (GUEST_ARCHES: arm64 on the virt machine, the console on
its one UART, ttyAMA0, the agent on virtio-serial, a PCI balloon behind a
PCIe root port, where QMP's device_add puts one too when no bus is named;
ppc64el on pseries, the console on its hypervisor console, hvc0) on the
QEMU it is given.
QEMU is killed for sure on close(), on interpreter exit, and (via
PR_SET_PDEATHSIG) when the Python process dies.
Timeouts (VM.run, the boot) are scaled by MB_TIMEOUT_SCALE (tests/vm/knobs.py).
"""
import atexit
import base64
import ctypes
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import time

from knobs import BOOT_SCALE, GUEST_MIB, TIMEOUT_SCALE
from qmp import QMP, connect_unix

MiB = 1024 * 1024
PROBLEM_RE = re.compile(r"WARNING:|BUG:|Oops|Call Trace|KASAN|kernel BUG|"
                        r"Kernel panic|general protection fault|UBSAN")

_live = set()

# The QEMU a VM runs when the caller names none: the runner sets it to the
# QEMU of the matrix cell under test (scripts/qemu.sh), so that tests which
# construct VM() themselves run on that QEMU too.
DEFAULT_QEMU = "qemu-system-x86_64"

# A guest architecture other than the host's (the kernel env's ARCH; its
# QEMU binary is scripts/qemu.sh --arch's): the machine and CPU (-M, -cpu),
# the console's tty (pseries: the spapr-vty -serial makes), the agent's
# channel (virt has one UART, pseries one console: virtio-serial),
# and whether a PCI balloon sits behind a PCIe root port (virt's root bus,
# pcie.0, cannot hot-plug; libvirt gives every device of such a machine
# its own root port too).  arm64's CPU signs pointers with QEMU's own
# algorithm (pauth-impdef=on) rather than the architected QARMA5, which TCG
# computes slowly and Debian's kernel runs on every function return: a boot
# takes 5 s instead of 16 (measured, docs/arch.md).
GUEST_ARCHES = {
    "arm64": {"machine": "virt", "cpu": "max,pauth-impdef=on", "console": "ttyAMA0",
              "agent": "virtio", "root_port": True},
    "ppc64el": {"machine": "pseries", "console": "hvc0", "agent": "virtio"},
}
# The root port a PCI balloon sits behind where the root bus cannot hot-plug
# (its chassis and slot clear of the ones tests give their own ports).
ROOT_PORT = "mbport0"
ROOT_PORT_DEV = "pcie-root-port,id=%s,bus=pcie.0,chassis=30,slot=0" % ROOT_PORT


# Where extracted kernels are kept (the scripts' cache, scripts/*.sh).
CACHE = os.environ.get("MB_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "memballoon")
# bzImage payload magic -> the command that decompresses it to stdout
DECOMPRESS = ((b"\xfd7zXZ\x00", ["xz", "-dc"]), (b"\x28\xb5\x2f\xfd", ["zstd", "-dcq"]),
              (b"\x1f\x8b", ["gzip", "-dc"]))
_pvh = {}


def pvh_image(vmlinuz):
    """The kernel ELF inside an x86 bzImage, when it has a PVH entry point
    (the XEN_ELFNOTE_PHYS32_ENTRY note: Debian's amd64 kernels, CONFIG_PVH),
    extracted once into CACHE/pvh/.  QEMU's -kernel boots such an ELF
    directly through its PVH option ROM: no real-mode setup and no
    decompression of the bzImage, which under TCG took about 4 of the 7 s
    from QEMU's start to the test agent's answer.  None (boot the bzImage)
    for anything else, or with MB_BOOT=bzimage."""
    if os.environ.get("MB_BOOT") == "bzimage":
        return None
    try:
        st = os.stat(vmlinuz)
    except OSError:
        return None
    key = "%s-%d-%d" % (os.path.basename(vmlinuz), st.st_size, st.st_mtime_ns)
    if key in _pvh:
        return _pvh[key]
    out = os.path.join(CACHE, "pvh", key + ".elf")
    if not os.path.exists(out):
        _pvh[key] = None
        with open(vmlinuz, "rb") as f:
            head = f.read(0x400)
            if len(head) < 0x260 or head[0x202:0x206] != b"HdrS":
                return None
            setup = (head[0x1f1] or 4) + 1
            off = int.from_bytes(head[0x248:0x24c], "little")
            size = int.from_bytes(head[0x24c:0x250], "little")
            f.seek(setup * 512 + off)
            payload = f.read(size)
        cmd = [c for magic, c in DECOMPRESS if payload.startswith(magic)]
        if not cmd:
            return None
        os.makedirs(os.path.dirname(out), exist_ok=True)
        tmp = "%s.%d.tmp" % (out, os.getpid())
        # the payload ends with the kernel's size, which the tools take for
        # trailing garbage (exit status 1): the ELF's notes decide
        with open(tmp, "wb") as f:
            subprocess.run(cmd[0], input=payload, stdout=f, stderr=subprocess.DEVNULL)
        notes = subprocess.run(["readelf", "-n", tmp], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True).stdout
        if not re.search(r"^\s*Xen\s+\S+\s.*\(0x00000012\)", notes, re.M):
            os.unlink(tmp)
            return None
        os.replace(tmp, out)
    _pvh[key] = out
    return out


def _kill_all():
    for vm in list(_live):
        vm.kill()


atexit.register(_kill_all)


def _pdeathsig():
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _remove_stale_tmpdirs():
    """Remove temp dirs left by harness processes that were SIGKILLed."""
    base = tempfile.gettempdir()
    for d in os.listdir(base):
        parts = d.split("-")
        if len(parts) >= 3 and parts[0] == "mbvm" and parts[1].isdigit():
            if not os.path.exists("/proc/%s" % parts[1]):
                shutil.rmtree(os.path.join(base, d), ignore_errors=True)


class AgentError(Exception):
    pass


class VM:
    def __init__(self, kenv, initrd, mem_mib=GUEST_MIB, smp=2, balloon_opts="",
                 name="vm", logdir=None, append="", extra_args=(), pre_args=(),
                 boot_timeout=120, qemu=None,
                 balloon_dev="virtio-balloon-pci", machine=None, agent=None, pvh=True):
        self.kenv = kenv
        self.initrd = initrd
        self.mem_mib = mem_mib
        self.smp = smp
        self.balloon_opts = balloon_opts
        self.name = name
        self.logdir = logdir
        self.append = append
        self.extra_args = list(extra_args)
        self.pre_args = list(pre_args)
        self.boot_timeout = boot_timeout * BOOT_SCALE
        self.arch = GUEST_ARCHES.get(kenv.get("ARCH"), {})
        self.qemu = qemu or DEFAULT_QEMU
        self.balloon_dev = balloon_dev   # e.g. virtio-balloon-device on microvm
        # boot the kernel ELF through PVH (pvh_image); False for a guest
        # that suspends to RAM: QEMU quits at the S3 wakeup of a PVH-booted
        # guest (measured on 7.2: the reset that resumes it through the
        # firmware ends QEMU, -no-reboot), a bzImage-booted one resumes
        self.pvh = pvh
        self.machine = machine or kenv.get("QEMU_MACHINE") or self.arch.get("machine")
        # the agent's channel: a second UART, or a virtio-serial port
        self.agent_via = agent or self.arch.get("agent") or (
            "virtio" if self.machine and self.machine.split(",")[0] == "microvm" else "serial")
        # the balloon's root port (ROOT_PORT), unless the caller put it on a
        # bus or it is legacy-only (QEMU has no legacy device behind a PCIe
        # port: it stays on the root bus, as an integrated endpoint)
        self.root_port = (self.arch.get("root_port") and "-pci" in balloon_dev
                          and "bus=" not in balloon_opts
                          and "disable-modern=on" not in balloon_opts)
        self.proc = None
        self.qmp = None
        self.agent = None
        self.abuf = b""
        self.req_id = 0
        self.tmp = None
        self.console_path = None
        self.console_before = ""    # the consoles of the QEMUs migrate() left
        self.boot_seconds = None

    # -- lifecycle -----------------------------------------------------------
    def _command(self, tmp):
        """QEMU's command line with its sockets and console in tmp."""
        agent_sock = os.path.join(tmp, "agent.sock")
        dev = self.balloon_dev + ",id=balloon0"
        if self.balloon_opts:
            dev += "," + self.balloon_opts
        port = []
        if self.root_port:
            port = ["-device", ROOT_PORT_DEV]
            dev += ",bus=" + ROOT_PORT
        cmdline = "console=%s panic=-1 %s %s" % (self.arch.get("console", "ttyS0"),
                                                 self.kenv.get("APPEND", ""), self.append)
        machine = ["-machine", self.machine] if self.machine else []
        if self.arch.get("cpu"):
            machine += ["-cpu", self.arch["cpu"]]
        if (self.machine or "").startswith("microvm"):
            # microvm has no HPET and, under TCG, no PIT the kernel can
            # calibrate against: measured, a 6.1 guest hangs in timer setup
            # unless it is told the TSC rate (and gets a CPU with the TSC
            # deadline timer).
            machine += ["-cpu", "max"]
            cmdline += " tsc_early_khz=2000000"
        if self.agent_via == "virtio":
            bus = "virtio-serial-device" if (self.machine or "").startswith("microvm") \
                else "virtio-serial-pci"
            agent = ["-chardev", "socket,id=mbagent,path=%s,server=on,wait=off" % agent_sock,
                     "-device", bus + ",id=mbserial",
                     "-device", "virtserialport,bus=mbserial.0,chardev=mbagent,name=mbagent"]
            cmdline += " mb.agent=virtio"
        else:
            agent = ["-serial", "unix:%s,server=on,wait=off" % agent_sock]
        return [self.qemu, "-accel", "tcg"] + machine + ["-m", str(self.mem_mib),
                "-smp", str(self.smp), "-nographic", "-no-reboot",
                "-nodefaults", "-no-user-config", "-display", "none",
                "-kernel", self.kernel_image(), "-initrd", self.initrd,
                "-append", " ".join(cmdline.split()),
                "-serial", "file:" + os.path.join(tmp, "console.log")] + agent + [
                "-qmp", "unix:%s,server=on,wait=off" % os.path.join(tmp, "qmp.sock"),
                "-monitor", "none"] + port + self.pre_args + [
                "-device", dev] + self.extra_args

    def kernel_image(self):
        """What -kernel boots: the kernel ELF (pvh_image) for an x86 guest,
        else the image as fetched."""
        if self.pvh and self.kenv.get("ARCH", "amd64") in ("amd64", "x86_64") and \
                self.qemu.endswith("x86_64"):
            return pvh_image(self.kenv["VMLINUZ"]) or self.kenv["VMLINUZ"]
        return self.kenv["VMLINUZ"]

    def _launch(self, tmp, args):
        """Start QEMU with args (its logs in tmp), connect QMP; returns
        (proc, qmp, qemu_log)."""
        qmp_sock = os.path.join(tmp, "qmp.sock")
        qemu_log = open(os.path.join(tmp, "qemu.log"), "wb")
        proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=qemu_log,
                                stderr=subprocess.STDOUT, preexec_fn=_pdeathsig)
        deadline = time.monotonic() + 30
        while not os.path.exists(qmp_sock):
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                qemu_log.close()
                with open(os.path.join(tmp, "qemu.log"), errors="replace") as f:
                    out = f.read()[-2000:]
                raise AgentError("QEMU (rc=%s) did not create its QMP socket\n%s"
                                 % (proc.returncode, out))
            time.sleep(0.02)
        qmp = QMP(qmp_sock, timeout=30)
        if self.root_port:
            qmp.pci_bus = ROOT_PORT     # where a balloon device_add'ed again goes
        return proc, qmp, qemu_log

    def start(self):
        _remove_stale_tmpdirs()
        self.tmp = tempfile.mkdtemp(prefix="mbvm-%d-" % os.getpid())
        self.console_path = os.path.join(self.tmp, "console.log")
        args = self._command(self.tmp)
        self.cmd = args
        t0 = time.monotonic()
        _live.add(self)
        try:
            self.proc, self.qmp, self.qemu_log = self._launch(self.tmp, args)
            self._agent_connect(os.path.join(self.tmp, "agent.sock"), t0 + self.boot_timeout)
        except Exception as e:
            if self.proc is None:       # _launch failed and said why
                self.close()
                raise
            time.sleep(0.2)
            dead = self.proc.poll() is not None
            out = self.qemu_output()
            self.close()
            if dead and not isinstance(e, AgentError):
                raise AgentError("QEMU exited (rc=%s): %s" % (self.proc.returncode, out.strip()))
            raise
        except BaseException:
            self.close()
            raise
        self.boot_seconds = time.monotonic() - t0
        return self

    def _agent_connect(self, path, deadline):
        self.agent = connect_unix(path, deadline, alive=self._check_alive)
        if self.agent is None:
            raise AgentError("agent socket never appeared")
        # Ping until the agent answers (bytes sent before it opened the tty
        # are lost or garbled; it ignores malformed lines).
        while True:
            self._check_alive()
            if time.monotonic() > deadline:
                raise AgentError("guest agent did not answer within boot timeout\n"
                                 + self.console_tail())
            try:
                rc, out = self.run("echo ping", timeout=5, _reply_wait=1.0)
                if rc == 0 and out.strip() == "ping":
                    return
            except AgentError:
                pass

    def _check_alive(self):
        if self.proc is None or self.proc.poll() is not None:
            raise AgentError("QEMU exited (rc=%s)%s\n%s\n%s" % (
                None if self.proc is None else self.proc.returncode,
                self.death_reason(), self.qemu_output(), self.console_tail()))

    def death_reason(self):
        """': <first panic line>' if the guest console shows a panic, else ''."""
        for line in self.console().splitlines():
            if "Kernel panic" in line:
                return ": guest " + line.strip()
        return ""

    def qemu_output(self):
        try:
            with open(os.path.join(self.tmp, "qemu.log"), errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def kill(self, keep_live=False):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if not keep_live:
            _live.discard(self)

    def close(self, save_as=None, keep_live=False):
        """Quit QEMU (QMP quit, then SIGKILL), save logs, remove temp dir
        (keep_live: the VM object lives on, with another QEMU)."""
        try:
            if self.qmp and self.proc and self.proc.poll() is None:
                try:
                    self.qmp.quit()
                    self.proc.wait(5)
                except Exception:
                    pass
        finally:
            self.kill(keep_live)
            if self.qmp:
                self.qmp.close()
                self.qmp = None
            if self.agent:
                self.agent.close()
                self.agent = None
            if self.tmp:
                if self.logdir:
                    os.makedirs(self.logdir, exist_ok=True)
                    base = save_as or self.name
                    for src, suffix in (("console.log", ".console.log"),
                                        ("qemu.log", ".qemu.log")):
                        p = os.path.join(self.tmp, src)
                        if os.path.exists(p):
                            shutil.copy(p, os.path.join(self.logdir, base + suffix))
                try:
                    self.qemu_log.close()
                except Exception:
                    pass
                shutil.rmtree(self.tmp, ignore_errors=True)
                self.tmp = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False

    def migrate(self, timeout=120):
        """Live-migrate the running guest to a second QEMU on this machine
        (the same command line with -incoming, over a unix socket) and go on
        with that one: QMP, the agent and the console are the destination's
        from then on, and the source QEMU quits (its logs are saved as
        <name>-src.*).  Returns the source's last query-migrate answer
        (status completed).  The timeout is scaled by MB_TIMEOUT_SCALE."""
        deadline = time.monotonic() + timeout * TIMEOUT_SCALE
        tmp = tempfile.mkdtemp(prefix="mbvm-%d-" % os.getpid())
        sock = os.path.join(tmp, "migrate.sock")
        try:
            proc, qmp, qemu_log = self._launch(tmp, self._command(tmp)
                                               + ["-incoming", "unix:" + sock])
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        dst = (proc, qmp, None, tmp, qemu_log, os.path.join(tmp, "console.log"))
        try:
            while not os.path.exists(sock):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AgentError("the destination QEMU does not listen on %s" % sock)
                time.sleep(0.02)
            self.qmp.cmd("migrate", {"uri": "unix:" + sock})
            while True:
                info = self.qmp.cmd("query-migrate")
                if info.get("status") == "completed":
                    break
                if info.get("status") in ("failed", "cancelled") or time.monotonic() > deadline:
                    raise AgentError("migration %s: %s" % (info.get("status"),
                                                           info.get("error-desc", info)))
                time.sleep(0.05)
            while qmp.cmd("query-status").get("status") != "running":
                if time.monotonic() > deadline:
                    raise AgentError("the destination is %s after the migration"
                                     % qmp.cmd("query-status").get("status"))
                time.sleep(0.05)
        except BaseException:
            qmp.close()
            proc.kill()
            proc.wait()
            qemu_log.close()
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        # the source is done: keep its console, save its logs, quit it
        self.console_before = self.console()
        self.close(save_as=self.name + "-src", keep_live=True)
        self.proc, self.qmp, self.agent, self.tmp, self.qemu_log, self.console_path = dst
        self.abuf = b""
        self._agent_connect(os.path.join(tmp, "agent.sock"), deadline)
        return info

    # -- agent ---------------------------------------------------------------
    def run(self, cmd, timeout=60, check=False, _reply_wait=None):
        """Run a sh script in the guest; return (rc, combined stdout+stderr).
        Both timeout and _reply_wait (the boot-time ping's wait for an answer:
        a slow guest would never answer the latest ping) are scaled by
        MB_TIMEOUT_SCALE."""
        timeout *= TIMEOUT_SCALE
        if _reply_wait:
            _reply_wait *= TIMEOUT_SCALE
        self.req_id += 1
        rid = "%d.%d" % (os.getpid(), self.req_id)
        b64 = base64.b64encode(cmd.encode()).decode()
        self.agent.sendall(("MBREQ %s %d %s\n" % (rid, max(1, int(timeout)), b64)).encode())
        deadline = time.monotonic() + (_reply_wait if _reply_wait else timeout + 15)
        begin = b"MBBEGIN " + rid.encode()
        endp = b"MBEND " + rid.encode() + b" "
        body, inside = [], False
        while True:
            while b"\n" not in self.abuf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AgentError("no agent reply to %r within %ss" % (cmd[:60], timeout))
                r, _, _ = select.select([self.agent], [], [], min(left, 1.0))
                if not r:
                    self._check_alive()
                    continue
                chunk = self.agent.recv(65536)
                if not chunk:
                    time.sleep(0.5)  # let the console log catch up
                    raise AgentError("agent connection closed%s" % self.death_reason())
                self.abuf += chunk
            line, self.abuf = self.abuf.split(b"\n", 1)
            line = line.strip(b"\r")
            if line == begin:
                inside, body = True, []
            elif inside and line.startswith(endp):
                rc = int(line[len(endp):].strip())
                try:
                    out = base64.b64decode(b"".join(body)).decode(errors="replace")
                except Exception as e:
                    raise AgentError("bad agent output encoding: %s" % e)
                if check and rc != 0:
                    raise AgentError("guest command failed rc=%d: %s\n%s" % (rc, cmd, out))
                return rc, out
            elif inside:
                body.append(line.strip())

    def sh(self, cmd, timeout=60):
        """Run and require rc 0; return output."""
        return self.run(cmd, timeout=timeout, check=True)[1]

    # -- measurements --------------------------------------------------------
    def meminfo(self):
        """Guest /proc/meminfo as {key: KiB}."""
        return parse_meminfo(self.sh("cat /proc/meminfo"))

    def rss_kib(self):
        """Host-side QEMU resident set size (KiB)."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def console(self):
        try:
            with open(self.console_path, errors="replace") as f:
                return self.console_before + f.read()
        except (OSError, TypeError):
            return self.console_before

    def console_tail(self, n=30):
        return "\n".join(self.console().splitlines()[-n:])

    def console_problems(self):
        """Console lines that show a kernel WARN/BUG/Oops/trace."""
        return [l for l in self.console().splitlines() if PROBLEM_RE.search(l)]

    def dmesg(self):
        return self.sh("dmesg")


def parse_meminfo(text):
    d = {}
    for line in text.splitlines():
        parts = line.replace(":", " ").split()
        if len(parts) >= 2 and parts[1].isdigit():
            d[parts[0]] = int(parts[1])
    return d
