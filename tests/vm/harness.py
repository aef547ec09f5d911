"""Test registry and per-test context for the VM tests (tests/vm/run.py).

A test is a plain function taking a Ctx, registered with @test:

    @test("inflate_deflate", timeout=240)
    def t(ctx):
        vm = ctx.boot(mem_mib=2048)
        ctx.load_driver(vm)
        ...
        ctx.note("512MiB in 1.2s")        # shown on the PASS line
        assert x == y, "reason"           # AssertionError -> FAIL
        raise Skip("why")                 # -> SKIP

Every VM booted through ctx.boot() is closed by the runner, and its console
is scanned for WARNING:/BUG:/Oops/Call Trace/KASAN: any such line fails the test.

A test's scope says where in the kernel x QEMU matrix it runs:
  "vm"      (default) once per kernel x QEMU cell, e.g. stats[6.12/qemu-7.2]
  "kernel"  once per kernel, no guest, e.g. build_w1[6.12]
  "once"    once per run, e.g. checkpatch
ctx.kenv is the kernel's KEY=VALUE environment (scripts/guest-kernel.sh, plus
ENV_FILE, the file it is in, and LABEL, e.g. 6.12); ctx.qemu and
ctx.qemu_version ((10, 0)) say which QEMU a "vm" test runs on.

Every timeout here (a test's alarm, set_target, wait_bound) is scaled by
MB_TIMEOUT_SCALE, and ctx.boot()'s default RAM is MB_GUEST_MIB
(tests/vm/knobs.py); unset, they are 1 and 2048 MiB.
"""
import os
import re
import time

from knobs import GUEST_MIB, scaled
from vm import VM, MiB

TESTS = []


class Skip(Exception):
    pass


class TestFailure(AssertionError):
    pass


SCOPES = ("vm", "kernel", "once")


def test(name, timeout=300, scope="vm"):
    assert scope in SCOPES, scope

    def deco(fn):
        fn.test_name = name
        fn.test_timeout = int(scaled(timeout))
        fn.test_scope = scope
        TESTS.append(fn)
        return fn
    return deco


class Ctx:
    def __init__(self, name, kenv, initrd, module, outdir, verbose=False,
                 qemu=None, qemu_version=None):
        self.name = name
        self.qemu = qemu                          # path of qemu-system-x86_64 (or wrapper)
        self.qemu_version = qemu_version          # e.g. (7, 2)
        self.kenv = kenv
        self.initrd = initrd
        self.module = module                      # host path of the .ko under test
        # e.g. memballoon, virtio_balloon (None for tests without a guest)
        self.driver = module_name(module) if module else None
        self.guest_ko = "/lib/modules/%s.ko" % self.driver if module else None
        self.outdir = outdir
        self.verbose = verbose
        self.vms = []
        self.notes = []
        self.logf = open(os.path.join(outdir, name + ".log"), "w")

    # -- reporting -------------------------------------------------------------
    def log(self, msg):
        line = "[%8.2f] %s" % (time.monotonic() - self._t0, msg) if hasattr(self, "_t0") else msg
        self.logf.write(line + "\n")
        self.logf.flush()
        if self.verbose:
            print("    " + line, flush=True)

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

    def set_target(self, vm, target_mib, timeout=60, exact=True):
        """balloon to target_mib logical size and wait until actual == target.

        Returns the seconds it took. With exact=False just wait until actual
        stops changing and return (seconds, actual_mib)."""
        timeout = scaled(timeout)
        t0 = time.monotonic()
        vm.qmp.balloon(target_mib * MiB)
        want = target_mib * MiB
        deadline = t0 + timeout
        while True:
            actual = vm.qmp.query_balloon()
            if actual == want:
                dt = time.monotonic() - t0
                self.log("target %d MiB reached in %.2fs" % (target_mib, dt))
                return dt
            if time.monotonic() > deadline:
                raise TestFailure("actual %d bytes (%.1f MiB) != target %d MiB after %ds" % (
                    actual, actual / MiB, target_mib, timeout))
            time.sleep(0.05)


def kernel_env(a):
    """The guest kernel a tool boots: --kernel-env FILE (KEY=VALUE lines from
    scripts/guest-kernel.sh), --vmlinuz/--moddir/--kdir or VMLINUZ etc. in
    the environment, else the default guest kernel (fetched if needed)."""
    import subprocess
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    def parse(text):
        return dict(l.split("=", 1) for l in text.splitlines()
                    if "=" in l and not l.startswith("#"))
    if getattr(a, "kernel_env", None):
        env = parse(open(a.kernel_env).read())
    elif getattr(a, "vmlinuz", None) or os.environ.get("VMLINUZ"):
        env = {"VMLINUZ": a.vmlinuz or os.environ["VMLINUZ"],
               "MODDIR": a.moddir or os.environ.get("MODDIR", ""),
               "KDIR": a.kdir or os.environ.get("KDIR", "")}
    else:
        out = subprocess.run(["sh", os.path.join(repo, "scripts", "guest-kernel.sh")],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        env = parse(out)
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


def module_name(path):
    base = os.path.basename(path)
    for ext in (".xz", ".gz", ".zst"):
        if base.endswith(ext):
            base = base[: -len(ext)]
    if base.endswith(".ko"):
        base = base[:-3]
    return base.replace("-", "_")
