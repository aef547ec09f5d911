#!/usr/bin/python3
"""Run the memballoon tests on one or more kernels and QEMUs.

  tests/vm/run.py --matrix check|full             the matrices of make check / check-matrix
  tests/vm/run.py [--kernel ID|ENV_FILE ...] [--qemu 7.2|10.0|PATH ...]
  tests/vm/run.py --kernel-env FILE [--module driver/memballoon.ko]
  common: [--module build|intree|KO] [--only NAME[,NAME]] [--out build/test-logs]
          [--list] [-v]

Kernel ids (tests/vm/matrix.py): bookworm, bookworm/cloud, bookworm/rt,
bookworm-backports, trixie-backports (and their /cloud, /rt); each is fetched
into the cache by scripts/guest-kernel.sh.  With several --kernel and --qemu
the VM tests run on every kernel x QEMU; with --matrix, --kernel and --qemu
narrow the matrix down.  --module build (the default) builds driver/ for each
kernel with scripts/build-module.sh.

Prints one line per test, with its matrix cell in the name:
  PASS inflate_deflate[6.12/qemu-7.2] (12.3s) ...      (vm tests)
  PASS build_w1[6.12] (8.1s) ...                       (kernel tests)
  PASS checkpatch (3.0s) ...                           (once per run)
then a summary per cell as # comments, and closes with one "N passed, N
failed" line for everything.  Logs go to --out, one directory per cell.
"""
import argparse
import fnmatch
import glob
import importlib
import os
import signal
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import harness  # noqa: E402
import matrix  # noqa: E402
import vm as vmmod  # noqa: E402
from harness import Ctx, Skip  # noqa: E402
from matrix import Kernel, SetupError  # noqa: E402


class TestTimeout(Exception):
    pass


def parse_env_lines(text):
    return matrix.parse_env(text)


def load_tests():
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        importlib.import_module(os.path.basename(path)[:-3])
    return harness.TESTS


class Unit:
    """One place in the matrix: scope "once", "kernel" (k) or "vm" (k x q)."""

    def __init__(self, scope, kernel=None, qemu=None, tests=()):
        self.scope, self.kernel, self.qemu, self.tests = scope, kernel, qemu, list(tests)
        self.qemu_path = self.qemu_ver = None
        self.passed = self.failed = self.skipped = 0
        self.seconds = 0.0

    def cell(self):
        if self.scope == "once":
            return ""
        if self.scope == "kernel":
            return self.kernel.label
        ver = "qemu-%d.%d" % self.qemu_ver if self.qemu_ver else "qemu-" + self.qemu
        return "%s/%s" % (self.kernel.label, ver)

    def full_name(self, test_name):
        c = self.cell()
        return "%s[%s]" % (test_name, c) if c else test_name

    def outdir(self, base):
        c = self.cell()
        return os.path.join(base, c.replace("/", "-")) if c else base


def cell_selects(pat, name):
    """pat: comma separated globs; "!glob" excludes, e.g. "*,!daemon_*"."""
    pats = [p for p in pat.split(",") if p]
    return (any(fnmatch.fnmatch(name, p) for p in pats if not p.startswith("!"))
            and not any(fnmatch.fnmatch(name, p[1:]) for p in pats if p.startswith("!")))


def plan(a, tests):
    """The units to run, in order: once, per kernel, per kernel x QEMU."""
    by_scope = {s: [t for t in tests if t.test_scope == s] for s in harness.SCOPES}
    kernels = {}

    def kernel(spec):
        if spec not in kernels:
            kernels[spec] = Kernel(spec)
        return kernels[spec]

    if a.matrix:
        m = matrix.MATRICES[a.matrix]
        build = [k for k in m["build"] if not a.kernel or k in a.kernel]
        cells = [(k, q, pat) for k, q, pat in m["vm"]
                 if (not a.kernel or k in a.kernel) and (not a.qemu or q in a.qemu)]
    else:
        specs = list(a.kernel)
        if a.kernel_env:
            specs.append(a.kernel_env)
        if not specs:
            specs = ["bookworm"]
        build = specs
        cells = [(k, q, "*") for k in specs for q in (a.qemu or ["system"])]

    units = []
    if by_scope["once"]:
        units.append(Unit("once", tests=by_scope["once"]))
    for k in build:
        if by_scope["kernel"]:
            units.append(Unit("kernel", kernel(k), tests=by_scope["kernel"]))
    for k, q, pat in cells:
        sel = [t for t in by_scope["vm"] if cell_selects(pat, t.test_name)]
        if sel:
            units.append(Unit("vm", kernel(k), q, sel))
    return units


def main():
    ap = argparse.ArgumentParser(description="memballoon tests",
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--matrix", choices=sorted(matrix.MATRICES),
                    help="a named kernel x QEMU matrix (check: make check, full: make check-matrix)")
    ap.add_argument("--kernel", action="append", default=[],
                    help="kernel id (%s) or KEY=VALUE env file; repeatable"
                    % ", ".join(matrix.KERNELS))
    ap.add_argument("--qemu", action="append", default=[],
                    help="7.2, 10.0, system, or a path to qemu-system-x86_64 or a "
                    "wrapper; repeatable")
    ap.add_argument("--module", default="build",
                    help="build (driver/ built per kernel), intree (the kernel's "
                    "virtio_balloon.ko) or a .ko file (one kernel only)")
    ap.add_argument("--kernel-env", help="file of KEY=VALUE lines from scripts/guest-kernel.sh")
    ap.add_argument("--vmlinuz")
    ap.add_argument("--moddir")
    ap.add_argument("--kdir")
    ap.add_argument("--only", action="append", default=[],
                    help="run only these tests (names or globs, comma separated; "
                    "or a full name such as stats[6.12/qemu-10.0])")
    ap.add_argument("--out", default=os.path.join(REPO, "build", "test-logs"))
    ap.add_argument("--list", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()

    # --vmlinuz/--moddir (or $VMLINUZ/$MODDIR): a kernel given by its paths.
    if not a.kernel_env and (a.vmlinuz or os.environ.get("VMLINUZ")) and not a.kernel:
        os.makedirs(a.out, exist_ok=True)
        a.kernel_env = os.path.join(a.out, "kernel-args.env")
        with open(a.kernel_env, "w") as f:
            for k, v in (("VMLINUZ", a.vmlinuz or os.environ.get("VMLINUZ")),
                         ("MODDIR", a.moddir or os.environ.get("MODDIR", "")),
                         ("KDIR", a.kdir or os.environ.get("KDIR", ""))):
                f.write("%s=%s\n" % (k, v))

    tests = load_tests()
    pats = [p for o in a.only for p in o.split(",") if p]
    full_pats = [p for p in pats if "[" in p]          # exact full names
    name_pats = [p for p in pats if "[" not in p]
    if name_pats or full_pats:
        tests = [t for t in tests if any(fnmatch.fnmatch(t.test_name, p) for p in name_pats)
                 or any(p.startswith(t.test_name + "[") for p in full_pats)]
        if not tests:
            print("run.py: no test matches %s" % ",".join(pats))
            print("0 passed, 1 failed")
            return 1
    units = plan(a, tests)
    if a.list:
        for u in units:
            cell = u.cell() if u.scope != "vm" else "%s/qemu-%s" % (u.kernel.spec, u.qemu)
            for t in u.tests:
                print("%s[%s]" % (t.test_name, cell) if cell else t.test_name)
        return 0
    if a.module not in ("build", "intree") and len({u.kernel for u in units if u.scope == "vm"}) > 1:
        print("run.py: --module %s cannot serve several kernels (use build)" % a.module)
        print("0 passed, 1 failed")
        return 1

    os.makedirs(a.out, exist_ok=True)
    setup_log = open(os.path.join(a.out, "setup.log"), "a")
    vm_kernels = {u.kernel for u in units if u.scope == "vm"}

    def on_alarm(signum, frame):
        raise TestTimeout("test timed out")

    def on_term(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    passed = failed = skipped = 0
    t_all = time.monotonic()
    initrds = {}
    done = []
    try:
        for u in units:
            t_unit = time.monotonic()
            done.append(u)
            # -- set the unit up: kernel, module, initramfs, QEMU ---------------
            module = initrd = None
            kenv = {}
            try:
                if u.kernel:
                    kenv = u.kernel.setup(u.kernel in vm_kernels,
                                          os.path.join(a.out, "kernels"), setup_log)
                if u.scope == "vm":
                    u.qemu_path, u.qemu_ver = matrix.find_qemu(u.qemu, setup_log)
                    key = (u.kernel, a.module)
                    if key not in initrds:
                        if a.module == "build":
                            module = u.kernel.module(os.path.join(
                                a.out, "kernels", "module-%s" % u.kernel.label), setup_log)
                        elif a.module == "intree":
                            module = u.kernel.intree_module()
                        else:
                            module = os.path.abspath(a.module)
                            if not os.path.exists(module):
                                raise SetupError("module under test not found: %s "
                                                 "(build it first)" % module)
                        kdir = os.path.join(a.out, "kernels")
                        initrd = matrix.initramfs(u.kernel, module, os.path.join(
                            kdir, "initramfs-%s.cpio.gz" % u.kernel.label), setup_log)
                        initrds[key] = (module, initrd)
                    module, initrd = initrds[key]
            except (SetupError, OSError) as e:
                failed += 1
                u.failed += 1
                print("FAIL setup[%s]: %s" % (u.cell() or "-", e), flush=True)
                u.seconds = time.monotonic() - t_unit
                continue
            outdir = u.outdir(a.out)
            os.makedirs(outdir, exist_ok=True)
            if u.scope == "vm":
                vmmod.DEFAULT_QEMU = u.qemu_path
                print("# %s: kernel %s (%s), %s (%s), module %s (driver %s), logs in %s" % (
                    u.cell(), kenv.get("KVER", kenv.get("VMLINUZ")), u.kernel.spec,
                    "qemu-%d.%d" % u.qemu_ver, u.qemu_path, module,
                    harness.module_name(module), outdir), flush=True)

            # -- run its tests ----------------------------------------------------
            for t in u.tests:
                name = t.test_name
                full = u.full_name(name)
                if full_pats and not any(fnmatch.fnmatch(t.test_name, p) for p in name_pats) \
                        and full not in full_pats:
                    continue
                ctx = Ctx(name, kenv, initrd, module, outdir, verbose=a.verbose,
                          qemu=u.qemu_path, qemu_version=u.qemu_ver)
                ctx._t0 = t0 = time.monotonic()
                status, reason = "PASS", ""
                try:
                    signal.alarm(t.test_timeout)
                    try:
                        t(ctx)
                    finally:
                        signal.alarm(0)
                except Skip as e:
                    status, reason = "SKIP", str(e)
                except KeyboardInterrupt:
                    ctx.close_all()
                    print("FAIL %s: interrupted" % full)
                    raise
                except (AssertionError, TestTimeout) as e:
                    status, reason = "FAIL", str(e) or type(e).__name__
                    ctx.log(traceback.format_exc())
                except Exception as e:
                    status, reason = "FAIL", "%s: %s" % (type(e).__name__, e)
                    ctx.log(traceback.format_exc())
                reason = reason.strip().splitlines()[0] if reason.strip() else ""
                if status == "FAIL":
                    # A broken socket is QEMU's death seen from our side:
                    # say so, with the guest's panic line if there is one.
                    for vm in ctx.vms:
                        if vm.proc is not None and vm.proc.poll() is not None \
                                and "QEMU exited" not in reason:
                            reason += " (QEMU %s exited rc=%s%s)" % (
                                vm.name, vm.proc.returncode, vm.death_reason())
                try:
                    problems = ctx.close_all()
                except Exception as e:
                    problems = ["closing VMs: %s" % e]
                if problems and status != "SKIP":
                    if status == "PASS":
                        status = "FAIL"
                        reason = "guest console: %s" % problems[0].strip()
                    else:
                        reason += " (console: %s)" % problems[0].strip()
                dt = time.monotonic() - t0
                if status == "PASS":
                    passed += 1
                    u.passed += 1
                    print("PASS %s (%.1fs) %s" % (full, dt, " ".join(ctx.notes)), flush=True)
                elif status == "SKIP":
                    skipped += 1
                    u.skipped += 1
                    print("SKIP %s: %s" % (full, reason), flush=True)
                else:
                    failed += 1
                    u.failed += 1
                    print("FAIL %s: %s (%.1fs, log %s)" % (full, reason, dt,
                          os.path.join(outdir, name + ".log")), flush=True)
            u.seconds = time.monotonic() - t_unit
    except KeyboardInterrupt:
        print("%d passed, %d failed" % (passed, failed + 1))
        return 130
    finally:
        setup_log.close()

    for u in done:
        if u.scope == "once" and len(done) == 1:
            break
        print("# %-24s %s %d passed, %d failed%s in %.1fs" % (
            u.cell() or "(once)", "PASS" if not u.failed else "FAIL", u.passed, u.failed,
            ", %d skipped" % u.skipped if u.skipped else "", u.seconds))
    print("# total %.1fs" % (time.monotonic() - t_all))
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
