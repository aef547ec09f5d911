"""What the VM tests share: the per-test context Ctx (the guest factory that
the ctx fixture of tests/vm/conftest.py hands every test, and that
tests/vm/bench.py uses on its own) and the helpers every test needs.

A test is a pytest function taking ctx (see docs/harness.md):

    @pytest.mark.timeout(240)
    def test_stats(ctx):
        vm = ctx.boot(mem_mib=2048)
        ctx.load_driver(vm)
        ...
        ctx.note("512MiB in 1.2s")        # shown on the PASS line
        check(x == y, "reason")           # TestFailure -> FAIL
        raise Skip("why")                 # -> SKIP

Every VM booted through ctx.boot() is closed after the test, and its console
is scanned for WARNING:/BUG:/Oops/Call Trace/KASAN: any such line fails the test.

ctx.kenv is the kernel's KEY=VALUE environment (scripts/guest-kernel.sh, plus
ENV_FILE, the file it is in, and LABEL, e.g. 6.12); ctx.qemu and
ctx.qemu_version ((10, 0)) say which QEMU a test runs on.

Every timeout here (set_target, wait_bound, wait_actual) is scaled by
MB_TIMEOUT_SCALE, and ctx.boot()'s default RAM is MB_GUEST_MIB
(tests/vm/knobs.py); unset, they are 1 and 2048 MiB.  A test's own timeout
(pytest.mark.timeout) is scaled by conftest.py.
"""
import os
import re
import sys
import time

import pytest

from knobs import GUEST_MIB, scaled
from vm import VM, MiB

# A module's name: one copy, with the initramfs that installs it by that name.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "scripts"))
from mkinitramfs import modname as module_name  # noqa: E402,F401

# raise Skip("why") is pytest.skip("why")
Skip = pytest.skip.Exception


class TestFailure(AssertionError):
    __test__ = False               # an exception, not a test class


def check(cond, msg):
    """Fail the test with msg unless cond (an assert that is never optimised away)."""
    if not cond:
        raise TestFailure(msg)


class Ctx:
    def __init__(self, name, kenv, initrd, module, outdir, echo=None,
                 qemu=None, qemu_version=None):
        self.name = name
        self._t0 = time.monotonic()               # the test's start (log times)
        self.qemu = qemu                          # path of qemu-system-x86_64 (or wrapper)
        self.qemu_version = qemu_version          # e.g. (7, 2)
        self.kenv = kenv
        self.initrd = initrd
        self.module = module                      # host path of the .ko under test
        # e.g. memballoon, virtio_balloon (None for tests without a guest)
        self.driver = module_name(module) if module else None
        self.guest_ko = "/lib/modules/%s.ko" % self.driver if module else None
        self.outdir = outdir
        self.echo = echo                          # prints a log line live (pytest -v)
        self.vms = []
        self.notes = []
        path = os.path.join(outdir, name + ".log")
        open(path, "w").close()
        # appending: the runner adds tracebacks and captured output to it too
        self.logf = open(path, "a")

    # -- reporting -------------------------------------------------------------
    def log(self, msg):
        line = "[%8.2f] %s" % (time.monotonic() - self._t0, msg)
        if not self.logf.closed:
            self.logf.write(line + "\n")
            self.logf.flush()
        if self.echo:
            self.echo("    " + line)

    def note(self, msg):
        self.notes.append(msg)
        self.log("note: " + msg)

    # -- guests ------------------------------------------------------------------
    def boot(self, mem_mib=GUEST_MIB, balloon_opts="", **kw):
        n = len(self.vms)
        if self.qemu:
            kw.setdefault("qemu", self.qemu)
        name = self.name if n == 0 else "%s-%d" % (self.name, n + 1)
        for attempt in (1, 2):
            vm = VM(self.kenv, self.initrd, mem_mib=mem_mib, balloon_opts=balloon_opts,
                    name=name, logdir=self.outdir, **kw)
            try:
                vm.start()
                break
            except Exception as e:
                # The guest kernel itself can die or hang while booting under
                # TCG (seen on 7.x: an int3 Oops in live code patching, a
                # hang after the HPET came up), always before any module of
                # ours is loaded (tests load it once the agent answers).
                # Retry that once; a second failure fails the test.
                try:    # start() closed the VM, which saved its console here
                    with open(os.path.join(self.outdir, name + ".console.log"),
                              errors="replace") as f:
                        console = f.read()
                except OSError:
                    console = ""
                if attempt == 2 or not boot_failed_before_our_code(
                        console, self.kenv.get("KVER")):
                    self.vms.append(vm)
                    raise
                self.log("boot of %s failed before any of our code ran (%s); retrying:\n%s"
                         % (name, str(e).splitlines()[0][:80] if str(e) else type(e).__name__,
                            "\n".join(console.splitlines()[-40:])))
                self.note("boot retried (guest kernel failed to boot)")
        self.vms.append(vm)
        self.log("booted %s (-m %d %s) in %.1fs" % (vm.name, mem_mib, balloon_opts,
                                                    vm.boot_seconds))
        return vm

    def close_all(self):
        """Close every VM; return the console problem lines found."""
        problems = []
        for vm in self.vms:
            try:
                problems += ["%s: %s" % (vm.name, l) for l in vm.console_problems()]
            finally:
                vm.close()
        self.vms = []
        for p in problems:
            self.log("guest console: " + p)
        self.logf.close()
        return problems

    # -- driver helpers ----------------------------------------------------------
    def bound_devices(self, vm, driver=None):
        driver = driver or self.driver
        rc, out = vm.run("ls /sys/bus/virtio/drivers/%s/ 2>/dev/null | grep '^virtio'" % driver)
        return out.split() if rc == 0 else []

    def load_driver(self, vm, timeout=30):
        """insmod the module under test and wait until it binds the balloon."""
        vm.sh("insmod %s" % self.guest_ko)
        self.wait_bound(vm, self.driver, timeout)

    def load_intree(self, vm, timeout=30):
        """Load the kernel's own virtio_balloon (and its deps) from the initramfs."""
        vm.sh("while read m; do insmod /lib/modules/kernel/$m || exit 1; done "
              "< /lib/modules/kernel/virtio_balloon.list")
        self.wait_bound(vm, "virtio_balloon", timeout)

    def wait_bound(self, vm, driver, timeout=30):
        timeout = scaled(timeout)
        deadline = time.monotonic() + timeout
        while not self.bound_devices(vm, driver):
            if time.monotonic() > deadline:
                raise TestFailure("driver %s did not bind a device within %ds" % (driver, timeout))
            time.sleep(0.2)

    def set_target(self, vm, target_mib, timeout=60):
        """balloon to target_mib logical size and wait until actual == target;
        return the seconds it took."""
        t0 = time.monotonic()
        vm.qmp.balloon(target_mib * MiB)
        dt = wait_actual(vm, target_mib, timeout, since=t0)
        self.log("target %d MiB reached in %.2fs" % (target_mib, dt))
        return dt


# ---------------------------------------------------------------------------
# the guest's state, as the tests read it

def wait_actual(vm, target_mib, timeout=60, poll=0.05, since=None, on_sample=None):
    """Wait until QEMU's actual (query-balloon) equals target_mib; return
    the seconds since `since` (a time.monotonic(), e.g. from before the
    balloon command; default: now), which the timeout counts from too.
    on_sample(actual_bytes, seconds) sees every reading (the bench traces
    the balloon and QEMU's RSS with it).  The timeout is scaled by
    MB_TIMEOUT_SCALE."""
    timeout = scaled(timeout)
    t0 = time.monotonic() if since is None else since
    while True:
        actual = vm.qmp.query_balloon()
        dt = time.monotonic() - t0
        if on_sample:
            on_sample(actual, dt)
        if actual == target_mib * MiB:
            return dt
        if dt > timeout:
            raise TestFailure("actual %d bytes (%.1f MiB) != target %d MiB after %ds"
                              % (actual, actual / MiB, target_mib, timeout))
        time.sleep(poll)


def kv(line):
    """'a=1 b=x' -> {'a': 1, 'b': 'x'} (numbers as int or float; 0x.. hex)."""
    d = {}
    for item in line.split():
        k, _, v = item.partition("=")
        if re.fullmatch(r"\d+", v):
            d[k] = int(v)
        elif re.fullmatch(r"0x[0-9a-f]+", v):
            d[k] = int(v, 16)
        elif re.fullmatch(r"\d+\.\d+", v):
            d[k] = float(v)
        else:
            d[k] = v
    return d


def mbnl_dump(vm, required=True):
    """The one balloon device of memballoon's netlink dump (mbnl dump) as a
    dict.  required=False: {} when there is none (another driver bound, the
    family not registered) instead of failing."""
    rc, out = vm.run("mbnl dump")
    devs = [kv(line) for line in out.splitlines() if "id=" in line] if rc == 0 else []
    devs = [d for d in devs if "id" in d]
    if not required and len(devs) != 1:
        return {}
    check(rc == 0, "mbnl dump failed: %s" % out.strip())
    check(len(devs) == 1, "expected one device in the dump, got %r" % out)
    return devs[0]


TRACEFS = "/sys/kernel/tracing"
TRACE_RE = re.compile(r"memballoon_(inflate|deflate): (.*)$")


def trace_start(vm):
    """Record memballoon's tracepoints (memballoon:*) from now on, in an
    empty trace buffer; False when the driver has none (the in-tree
    driver, an older build)."""
    rc, _ = vm.run("grep -q ' %s tracefs' /proc/mounts || mount -t tracefs nodev %s; "
                   "echo 1 > %s/events/memballoon/enable && echo > %s/trace"
                   % (TRACEFS, TRACEFS, TRACEFS, TRACEFS))
    return rc == 0


def trace_clear(vm):
    """Empty the trace buffer; recording goes on."""
    vm.sh("echo > %s/trace" % TRACEFS)


def trace_events(vm):
    """The memballoon events in the trace buffer, oldest first, as dicts:
    {"event": "inflate"|"deflate", "pages": 4 KiB pages, "blocks": whole
    2 MiB blocks among them, and the *_ns times}."""
    evs = []
    for line in vm.sh("cat %s/trace" % TRACEFS).splitlines():
        m = TRACE_RE.search(line)
        if m:
            ev = {k: int(v) for k, _, v in (f.partition("=") for f in m.group(2).split())}
            ev["event"] = m.group(1)
            evs.append(ev)
    return evs


def vmstat(vm):
    """The guest's /proc/vmstat as {counter: int}."""
    return {k: int(v) for k, v in (line.split() for line in vm.sh("cat /proc/vmstat").splitlines()
                                   if len(line.split()) == 2 and line.split()[1].isdigit())}


def balloon_sysfs(vm):
    """The balloon's directory under /sys/devices (virtio device id 5), in
    a guest that may have other virtio devices (the agent's virtio-serial
    port on microvm, arm64 and ppc64el)."""
    return vm.sh("for d in /sys/bus/virtio/devices/*; do "
                 "[ \"$(cat $d/device)\" = 0x0005 ] && readlink -f $d; done").strip()


def balloon_pages_held(vm):
    """Pages the kernel's balloon core still counts as ballooned, by any
    driver: balloon_inflate - balloon_deflate in /proc/vmstat (exact)."""
    vs = vmstat(vm)
    return vs.get("balloon_inflate", 0) - vs.get("balloon_deflate", 0)


def settle_free(vm):
    """meminfo with MemFree counting the pages parked on per-CPU free lists
    too (newer kernels keep tens of MiB there after a large free, and
    MemFree leaves them out)."""
    mi = vm.meminfo()
    pcp = sum(int(x) for x in re.findall(r"^\s+count:\s+(\d+)", vm.sh("cat /proc/zoneinfo"), re.M))
    mi["MemFree"] += pcp * 4
    return mi


# ---------------------------------------------------------------------------
# kernels and modules

def kernel_env(a):
    """The guest kernel a tool boots: --kernel-env FILE (KEY=VALUE lines from
    scripts/guest-kernel.sh), --vmlinuz/--moddir/--kdir or VMLINUZ etc. in
    the environment, else the default guest kernel (fetched if needed)."""
    import subprocess
    from matrix import parse_env
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    if getattr(a, "kernel_env", None):
        env = parse_env(open(a.kernel_env).read())
    elif getattr(a, "vmlinuz", None) or os.environ.get("VMLINUZ"):
        env = {"VMLINUZ": a.vmlinuz or os.environ["VMLINUZ"],
               "MODDIR": a.moddir or os.environ.get("MODDIR", ""),
               "KDIR": a.kdir or os.environ.get("KDIR", "")}
    else:
        out = subprocess.run(["sh", os.path.join(repo, "scripts", "guest-kernel.sh")],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        env = parse_env(out)
    for k in ("VMLINUZ", "MODDIR"):
        if not env.get(k) or not os.path.exists(env[k]):
            raise SystemExit("kernel %s missing (%r)" % (k, env.get(k)))
    return env


def kernel_config(kenv):
    """The guest kernel's build configuration as {CONFIG_X: value} (from
    boot/config-<KVER> beside the image, or <KDIR>/.config), or None."""
    cands = []
    if kenv.get("VMLINUZ") and kenv.get("KVER"):
        cands.append(os.path.join(os.path.dirname(kenv["VMLINUZ"]), "config-" + kenv["KVER"]))
    if kenv.get("KDIR"):
        cands.append(os.path.join(kenv["KDIR"], ".config"))
    for path in cands:
        try:
            with open(path) as f:
                return dict(l.strip().split("=", 1) for l in f
                            if l.startswith("CONFIG_") and "=" in l)
        except OSError:
            continue
    return None


def boot_failed_before_our_code(console, kver=None):
    """A boot that failed while none of our code ran: no module of ours in
    the console (tests insmod it only after the agent answered).  The
    kernel's own release (the debug kernel's is 6.1.N-debug-memballoon)
    does not count."""
    if kver:
        console = console.replace(kver, "")
    return not re.search(r"memballoon|virtio_balloon", console)

