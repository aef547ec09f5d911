"""The kernel x QEMU matrix: which kernels and QEMUs exist, which cells
`make check` and `make check-matrix` run, and how each is set up (kernel
fetched, module built, QEMU found) through the scripts in scripts/.

Kernels are named by where they come from, so the names stay true when a
suite moves to a newer kernel; the label printed in test names comes from the
resolved version (6.1, 6.1-cloud, 6.1-rt, 6.12, 7.3, ...).

plan() turns the command line into cells; tests/vm/conftest.py makes them
pytest parameters and sets each one up (Plan.setup) when its first test runs.
"""
import fnmatch
import os
import re
import signal
import subprocess
import sys
import time

import distro

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SCRIPTS = os.path.join(REPO, "scripts")

# kernel id -> (Debian suite, metapackage); "bookworm" is the machine's own.
KERNELS = {
    "bookworm": ("bookworm", "linux-image-amd64"),
    "bookworm/cloud": ("bookworm", "linux-image-cloud-amd64"),
    "bookworm/rt": ("bookworm", "linux-image-rt-amd64"),
    "bookworm-backports": ("bookworm-backports", "linux-image-amd64"),
    "bookworm-backports/cloud": ("bookworm-backports", "linux-image-cloud-amd64"),
    "bookworm-backports/rt": ("bookworm-backports", "linux-image-rt-amd64"),
    "trixie-backports": ("trixie-backports", "linux-image-amd64"),
    "trixie-backports/cloud": ("trixie-backports", "linux-image-cloud-amd64"),
    "trixie-backports/rt": ("trixie-backports", "linux-image-rt-amd64"),
    "bookworm/arm64": ("bookworm", "linux-image-arm64"),
    "bookworm/ppc64el": ("bookworm", "linux-image-powerpc64le"),
}
# kernel id -> the Debian architecture of its guests, where it is not the
# host's (scripts/guest-kernel.sh --arch; tests/vm/vm.py's GUEST_ARCHES)
KERNEL_ARCHES = {"bookworm/arm64": "arm64", "bookworm/ppc64el": "ppc64el"}
QEMUS = ("7.2", "10.0")   # bookworm's, bookworm-backports'

SUPPORTED = ["bookworm", "bookworm/cloud", "bookworm/rt", "bookworm-backports",
             "trixie-backports"]

# Test selections for cells (comma separated globs, "!glob" excludes):
# everything; the driver's tests (the daemon is userspace and the soak long:
# both run on the reference cell); the tests of what QEMU's side of the
# device does, where a QEMU version shows (queues, stats and their tags,
# the legacy transport, hot-plug, free page reporting and hinting, and a
# host whose hinting thread stops consuming hints, and live migration).
# debug_* (tests/vm/test_debug.py) need the debug kernel: make check-debug
# (scripts/check-debug.sh) runs them with the DEBUG selection below.
ALL = "*,!debug_*"
DRIVER = "*,!daemon_*,!soak_*,!debug_*"
# The tests of the driver's code that differs by kernel version (compat.h:
# virtqueue setup, the genetlink ops, the shrinker, the workqueue, balloon
# compaction and page accounting; and ranges_lifecycle: removing and
# freezing a balloon with a queue absent before reporting, which oopses in
# Debian 6.12's virtio-pci unless the queues are asked for without holes):
# the kernel between the reference and the newest runs these; the newest
# runs all of DRIVER.
KAPI = ("inflate_deflate,stats,stats_extended,unload,hotunplug,deflate_on_oom,reporting,"
        "free_page_hint,netlink,netlink_admin,netlink_parallel,deflate_blocks,"
        "ranges_lifecycle")
DEVICE = ("inflate_deflate,stats,stats_extended,legacy,hotunplug,reporting,free_page_hint,"
          "hint_remove_stalled,ranges,ranges_migrate")
# The newest kernel's cells in make check: DEVICE under the newer QEMU, the
# rest of DRIVER under the reference QEMU, so each of its tests runs once;
# the range path's life cycle and its host that cannot discard run on the
# reference cell only (make check's time; check-matrix runs them everywhere).
DRIVER_BUT_DEVICE = (DRIVER + "".join(",!" + t for t in DEVICE.split(","))
                     + ",!ranges_lifecycle,!ranges_no_discard")
# make check-debug: the memory-safety tests on the debug kernel (on q35, where
# hotunplug* run as debug_hotunplug*: the balloon behind a PCIe root port).
DEBUG = ("inflate_deflate,stats,unreasonable_targets,unload,deflate_on_oom,reporting,"
         "poison,netlink,soak_integrity,deflate_blocks,netlink_admin,release_during_inflate,"
         "netlink_parallel,removed_last_event,hint_remove_stalled,debug_*")

# make check-arch's guests of other architectures: inflate/deflate, stats
# and unload, the target limits, OOM deflate and free page reporting; and
# hot-unplug on arm64 (pseries unplugs a PCI device only with the guest's
# drmgr, from powerpc-utils, which the initramfs lacks; docs/arch.md).
ARCH_GUEST = "inflate_deflate,stats,unload,unreasonable_targets,deflate_on_oom,reporting"

# The distro tier (tests/vm/test_distro.py): make check installs the
# packages in the Debian guest and checks what the host sees; make
# check-distro adds their life cycle (removal, ...).
DISTRO_CHECK = "distro_install,distro_setmem,distro_reload_restart,distro_no_balloon"

# A matrix: "build" kernels get the kernel-scope tests (build_w1); "vm" cells
# are (kernel, qemu, test selection) and get the vm-scope tests selected;
# "distro" selects the distro tier's tests and "once" the once tests (all
# by default).
# Every matrix runs the once tests (checkpatch, netlink_generated,
# intree_w1, and the packages: deb_lintian, deb_dkms).
MATRICES = {
    # make check: build on every supported kernel; the whole VM suite on the
    # reference cell (bookworm's 6.1 and QEMU), the kernel-dependent tests on
    # 6.12, and the driver's tests on 7.x: the device-facing ones under
    # QEMU 10.0, the others under QEMU 7.2.
    "check": {
        # and the distro tier once (a Debian guest under libvirt installs
        # the packages); the cross builds are make check-arch's
        "once": "*,!cross_*",
        "distro": DISTRO_CHECK,
        "build": SUPPORTED,
        "vm": [("bookworm", "7.2", ALL),
               ("bookworm-backports", "7.2", KAPI),
               ("trixie-backports", "7.2", DRIVER_BUT_DEVICE),
               ("trixie-backports", "10.0", DEVICE)],
    },
    # make check-arch: the cross builds of tests/vm/test_arch.py (arm64,
    # ppc64el, s390x), and the driver's tests in arm64 and ppc64el guests
    # (qemu-system-aarch64 -M virt, qemu-system-ppc64 -M pseries, under
    # TCG; ARCH_GUEST above).
    "arch": {"once": "cross_*", "build": [],
             "vm": [("bookworm/arm64", "7.2", ARCH_GUEST + ",hotunplug,legacy"),
                    ("bookworm/ppc64el", "7.2", ARCH_GUEST)], "distro": ""},
    # make check-distro: every test of the distro tier, nothing else.
    "distro": {"once": "", "build": [], "vm": [], "distro": "distro_*"},
    # make check-matrix: everything on everything.
    "full": {
        "once": "*,!cross_*",
        "build": SUPPORTED,
        "vm": [(k, q, ALL) for k in SUPPORTED for q in QEMUS],
    },
}


class SetupError(Exception):
    pass


def _run(cmd, log):
    """Run a setup script; its stderr goes to the log file; return stdout."""
    log.write("$ %s\n" % " ".join(cmd))
    log.flush()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True)
    if p.returncode != 0:
        log.flush()
        raise SetupError("%s failed (rc %d), see %s" % (
            os.path.basename(cmd[1] if cmd[0] == "sh" else cmd[0]), p.returncode, log.name))
    return p.stdout


def parse_env(text):
    env = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            env[k.strip()] = v.strip()
    return env


def kernel_label(kver, arch=None):
    """6.1.0-56-cloud-amd64 -> 6.1-cloud, 7.3.4+deb13-amd64 -> 7.3; a guest
    of another architecture has it in front: 6.1.0-57-arm64 -> arm64-6.1."""
    m = re.match(r"(\d+)\.(\d+)[.\d]*(?:\+[0-9a-z]+)?-(?:\d+-)?(?:([a-z]+)-)?[a-z0-9_]+$", kver)
    if not m:
        return kver
    label = "%s.%s" % (m.group(1), m.group(2))
    label += "-" + m.group(3) if m.group(3) else ""
    return "%s-%s" % (arch, label) if arch else label


class Kernel:
    """One guest kernel: an id from KERNELS, or an env file."""

    def __init__(self, spec):
        self.spec = spec
        self.env = None
        self.full = False          # image and modules too, not just headers

    @property
    def label(self):
        if self.env and self.env.get("KVER"):
            return kernel_label(self.env["KVER"], self.env.get("ARCH"))
        return self.spec

    def setup(self, need_image, outdir, log):
        """Fetch (or find in the cache) the kernel; return its env dict."""
        if self.env is not None and (self.full or not need_image):
            return self.env
        if self.spec in KERNELS:
            suite, meta = KERNELS[self.spec]
            cmd = ["sh", os.path.join(SCRIPTS, "guest-kernel.sh"), "--suite", suite]
            if self.spec in KERNEL_ARCHES:
                cmd += ["--arch", KERNEL_ARCHES[self.spec]]
            if not need_image:
                cmd.append("--headers")
            env = parse_env(_run(cmd + [meta], log))
        elif os.path.isfile(self.spec):
            env = parse_env(open(self.spec).read())
        else:
            raise SetupError("unknown kernel %r (one of %s, or a KEY=VALUE env file)"
                             % (self.spec, ", ".join(KERNELS)))
        if need_image:
            for k in ("VMLINUZ", "MODDIR"):
                if not env.get(k) or not os.path.exists(env[k]):
                    raise SetupError("kernel %s: %s missing (%r)" % (self.spec, k, env.get(k)))
        self.full = need_image
        env["LABEL"] = (kernel_label(env["KVER"], env.get("ARCH")) if env.get("KVER")
                        else self.spec)
        os.makedirs(outdir, exist_ok=True)
        env_file = os.path.join(outdir, "kernel-%s.env" % env["LABEL"])
        with open(env_file, "w") as f:
            f.write("".join("%s=%s\n" % (k, v) for k, v in env.items()))
        env["ENV_FILE"] = env_file
        self.env = env
        return env

    def module(self, outdir, log):
        """Build driver/ for this kernel (scripts/build-module.sh) in outdir
        (the run's own, so that concurrent runs never replace each other's
        .ko; kbuild rebuilds only what changed since the last run there);
        return the .ko."""
        out = _run(["sh", os.path.join(SCRIPTS, "build-module.sh"), "-o", outdir,
                    self.env["ENV_FILE"]], log)
        ko = out.strip().splitlines()[-1] if out.strip() else ""
        if not ko.endswith(".ko") or not os.path.exists(ko):
            raise SetupError("build-module.sh printed no .ko for %s, see %s" % (self.label, log.name))
        return ko

    def intree_module(self):
        base = os.path.join(self.env["MODDIR"], "kernel", "drivers", "virtio", "virtio_balloon.ko")
        for ext in ("", ".xz", ".zst", ".gz"):
            if os.path.exists(base + ext):
                return base + ext
        raise SetupError("kernel %s has no virtio_balloon.ko" % self.label)


_qemu_cache = {}


def qemu_version(path):
    """(major, minor) from `qemu --version`."""
    p = subprocess.run([path, "--version"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    m = re.search(r"version (\d+)\.(\d+)", p.stdout)
    if p.returncode != 0 or not m:
        raise SetupError("%s --version: %s" % (path, p.stdout.strip()[:200]))
    return int(m.group(1)), int(m.group(2))


def find_qemu(spec, log, arch=None):
    """spec: "7.2", "10.0", "system" or a path; return (path, (major, minor)).
    arch: the guests' Debian architecture, where it is not the host's
    (scripts/qemu.sh --arch: the system's QEMU for it, installed on first use)."""
    if (spec, arch) in _qemu_cache:
        return _qemu_cache[(spec, arch)]
    qemu_sh = ["sh", os.path.join(SCRIPTS, "qemu.sh")] + (["--arch", arch] if arch else [])
    if spec == "system" and not arch:
        path = "qemu-system-x86_64"
    elif os.sep in spec:
        path = os.path.abspath(spec)
        if not os.access(path, os.X_OK):
            raise SetupError("QEMU %s is not executable" % path)
    elif spec == "system" or re.match(r"^\d+\.\d+$", spec):
        path = _run(qemu_sh + [spec], log).strip()
    else:
        raise SetupError("unknown QEMU %r (7.2, 10.0, system or a path)" % spec)
    ver = qemu_version(path)
    _qemu_cache[(spec, arch)] = (path, ver)
    return path, ver


def initramfs(kernel, module, out, log):
    """The test initramfs for kernel + module (scripts/mkinitramfs.py)."""
    _run([sys.executable, os.path.join(SCRIPTS, "mkinitramfs.py"),
          "--moddir", kernel.env["MODDIR"], "--module", module, "--out", out]
         + (["--arch", kernel.env["ARCH"]] if kernel.env.get("ARCH") else []), log)
    return out


# ---------------------------------------------------------------------------
# the cells of one run

SCOPES = ("once", "kernel", "vm", "distro")   # in the order a run goes through them


def cell_selects(pat, name):
    """pat: comma separated globs; "!glob" excludes, e.g. "*,!daemon_*"."""
    pats = [p for p in pat.split(",") if p]
    return (any(fnmatch.fnmatch(name, p) for p in pats if not p.startswith("!"))
            and not any(fnmatch.fnmatch(name, p[1:]) for p in pats if p.startswith("!")))


class Cell:
    """One place in the matrix: "once" (no kernel: checkpatch), "kernel" (a
    kernel's headers: build_w1), "vm" (a kernel booted under one QEMU, with
    select, the globs of the tests that run there) or "distro" (the Debian
    guest image and the packages: tests/vm/distro.py).  Plan.setup fills in
    the rest."""

    def __init__(self, scope, kernel=None, qemu=None, select="*"):
        self.scope, self.kernel, self.qemu, self.select = scope, kernel, qemu, select
        self.kenv = {}              # distro: the image's (scripts/distro-image.sh)
        self.debs = {}              # distro: {package: .deb}
        self.module = self.initrd = None
        self.qemu_path = self.qemu_version = None
        self.ready = False
        self.prefetch = None       # distro: the image's build in the background (Popen)
        self.prefetch_log = None
        self.error = None          # why the setup failed (SetupError, OSError)
        self.seconds = 0.0         # setup time

    @property
    def id(self):
        """The cell as given (kernel id, QEMU version): pytest's parameter id,
        known before anything is fetched, e.g. bookworm-backports/qemu-7.2."""
        if self.scope == "once":
            return ""
        if self.scope == "distro":
            return distro.LABEL
        if self.scope == "kernel":
            return self.kernel.spec
        return "%s/qemu-%s" % (self.kernel.spec, self.qemu)

    @property
    def label(self):
        """The cell as resolved (kernel and QEMU versions), e.g. 6.12/qemu-7.2;
        the id until the setup resolved it."""
        if self.scope == "once":
            return ""
        if self.scope == "distro":
            return distro.LABEL
        if self.scope == "kernel":
            return self.kernel.label
        ver = "qemu-%d.%d" % self.qemu_version if self.qemu_version else "qemu-" + self.qemu
        return "%s/%s" % (self.kernel.label, ver)

    def selects(self, test_name):
        return cell_selects(self.select, test_name)

    def outdir(self, base):
        return os.path.join(base, self.label.replace("/", "-")) if self.label else base


class Plan:
    """The cells of one run and what their setups share: each kernel is
    fetched, and the module built and packed into an initramfs, once per run
    (outputs in <out>/kernels, their logs in <out>/setup.log)."""

    def __init__(self, cells, out, module="build"):
        self.cells = cells
        self.out = out
        self.module_mode = module        # build, intree or a .ko path
        self.vm_kernels = {c.kernel for c in cells if c.scope == "vm"}
        self._initrds = {}
        self._log = None

    def log(self):
        if self._log is None:
            os.makedirs(self.out, exist_ok=True)
            self._log = open(os.path.join(self.out, "setup.log"), "a")
        return self._log

    def close(self):
        for cell in self.cells:
            if cell.prefetch is not None and cell.prefetch.poll() is None:
                # a run that ends (or is stopped) before the distro cell
                os.killpg(cell.prefetch.pid, signal.SIGTERM)
                cell.prefetch.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def prefetch(self, cell):
        """Start what a cell's setup can do in the background before its
        turn (the distro tier's image)."""
        if cell.scope == "distro" and cell.error is None and not cell.ready:
            distro.prefetch(cell, self.out)

    def setup(self, cell):
        """Get the cell ready (once); raise SetupError if it cannot be."""
        if cell.ready:
            return cell
        if cell.error is None:
            t0 = time.monotonic()
            try:
                self._setup(cell)
                cell.ready = True
            except (SetupError, OSError) as e:
                cell.error = e
            cell.seconds = time.monotonic() - t0
        if cell.error is not None:
            raise SetupError(str(cell.error))
        return cell

    def _setup(self, cell):
        log = self.log()
        if cell.scope == "distro":
            distro.setup(cell, log)
            return
        kdir = os.path.join(self.out, "kernels")
        if cell.kernel:
            cell.kenv = cell.kernel.setup(cell.kernel in self.vm_kernels, kdir, log)
        if cell.scope != "vm":
            return
        cell.qemu_path, cell.qemu_version = find_qemu(cell.qemu, log, cell.kenv.get("ARCH"))
        if cell.kernel not in self._initrds:
            if self.module_mode == "build":
                module = cell.kernel.module(os.path.join(kdir, "module-%s" % cell.kernel.label),
                                            log)
            elif self.module_mode == "intree":
                module = cell.kernel.intree_module()
            else:
                module = os.path.abspath(self.module_mode)
                if not os.path.exists(module):
                    raise SetupError("module under test not found: %s (build it first)" % module)
            initrd = initramfs(cell.kernel, module, os.path.join(
                kdir, "initramfs-%s.cpio.gz" % cell.kernel.label), log)
            self._initrds[cell.kernel] = (module, initrd)
        cell.module, cell.initrd = self._initrds[cell.kernel]


def plan(matrix=None, kernels=(), qemus=(), kernel_env=None):
    """The cells of a run, in the order they run: the once cell, one per
    kernel to build on, one per kernel x QEMU, the distro cell.  With a
    matrix, kernels and qemus narrow it down; without, the VM tests run on
    every kernel (default bookworm) x QEMU (default the system's).  The
    distro tier (its own kernel and QEMU) runs where the matrix has it, or
    without a matrix, unless kernels or QEMUs are named."""
    known = {}

    def kernel(spec):
        if spec not in known:
            known[spec] = Kernel(spec)
        return known[spec]

    if matrix:
        m = MATRICES[matrix]
        build = [k for k in m["build"] if not kernels or k in kernels]
        vm = [(k, q, sel) for k, q, sel in m["vm"]
              if (not kernels or k in kernels) and (not qemus or q in qemus)]
    else:
        specs = list(kernels) + ([kernel_env] if kernel_env else [])
        specs = specs or ["bookworm"]
        build = specs
        vm = [(k, q, "*") for k in specs for q in (qemus or ["system"])]
    narrowed = bool(kernels or qemus or kernel_env)
    distro_sel = MATRICES[matrix].get("distro") if matrix else DISTRO_CHECK
    once_sel = MATRICES[matrix].get("once", "*") if matrix else "*"
    return ([Cell("once", select=once_sel)] + [Cell("kernel", kernel(k)) for k in build]
            + [Cell("vm", kernel(k), q, sel) for k, q, sel in vm]
            + ([Cell("distro", select=distro_sel)] if distro_sel and not narrowed else []))
