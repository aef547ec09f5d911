#!/usr/bin/python3
"""Run the memballoon VM tests.

  tests/vm/run.py [--module driver/memballoon.ko | --module intree]
                  [--kernel-env FILE | --vmlinuz F --moddir D] [--only NAME[,NAME]]
                  [--out build/test-logs] [--list] [-v]

Prints one line per test (PASS/FAIL/SKIP) and closes with "N passed, N failed".
Logs (per-test log, guest console, QEMU output) go to --out.
"""
import argparse
import fnmatch
import glob
import importlib
import os
import signal
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import harness  # noqa: E402
from harness import Ctx, Skip  # noqa: E402


class TestTimeout(Exception):
    pass


def parse_env_lines(text):
    env = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            env[k.strip()] = v.strip()
    return env


def kernel_env(a):
    if a.kernel_env:
        env = parse_env_lines(open(a.kernel_env).read())
    elif a.vmlinuz or os.environ.get("VMLINUZ"):
        env = {"VMLINUZ": a.vmlinuz or os.environ["VMLINUZ"],
               "MODDIR": a.moddir or os.environ.get("MODDIR", ""),
               "KDIR": a.kdir or os.environ.get("KDIR", "")}
    else:
        out = subprocess.run(["sh", os.path.join(REPO, "scripts", "guest-kernel.sh")],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        env = parse_env_lines(out)
    for k in ("VMLINUZ", "MODDIR"):
        if not env.get(k) or not os.path.exists(env[k]):
            raise SystemExit("run.py: kernel %s missing (%r)" % (k, env.get(k)))
    return env


def load_tests():
    for path in sorted(glob.glob(os.path.join(HERE, "test_*.py"))):
        importlib.import_module(os.path.basename(path)[:-3])
    return harness.TESTS


def main():
    ap = argparse.ArgumentParser(description="memballoon VM tests")
    ap.add_argument("--module", default=os.path.join(REPO, "driver", "memballoon.ko"),
                    help="the .ko under test, or 'intree' for the kernel's virtio_balloon.ko")
    ap.add_argument("--kernel-env", help="file of KEY=VALUE lines from scripts/guest-kernel.sh")
    ap.add_argument("--vmlinuz")
    ap.add_argument("--moddir")
    ap.add_argument("--kdir")
    ap.add_argument("--only", action="append", default=[],
                    help="run only these tests (names or globs, comma separated)")
    ap.add_argument("--out", default=os.path.join(REPO, "build", "test-logs"))
    ap.add_argument("--list", action="store_true")
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args()

    tests = load_tests()
    pats = [p for o in a.only for p in o.split(",") if p]
    if pats:
        tests = [t for t in tests if any(fnmatch.fnmatch(t.test_name, p) for p in pats)]
        if not tests:
            print("run.py: no test matches %s" % ",".join(pats))
            print("0 passed, 1 failed")
            return 1
    if a.list:
        for t in tests:
            print(t.test_name)
        return 0

    os.makedirs(a.out, exist_ok=True)
    try:
        kenv = kernel_env(a)
        module = a.module
        if module == "intree":
            module = os.path.join(kenv["MODDIR"], "kernel", "drivers", "virtio",
                                  "virtio_balloon.ko")
            if not os.path.exists(module):
                module = module + ".xz"
        if not os.path.exists(module):
            raise SystemExit("module under test not found: %s (build it first)" % module)
        initrd = os.path.join(a.out, "initramfs.cpio.gz")
        subprocess.run([sys.executable, os.path.join(REPO, "scripts", "mkinitramfs.py"),
                        "--moddir", kenv["MODDIR"], "--module", module, "--out", initrd],
                       check=True)
    except (SystemExit, subprocess.CalledProcessError) as e:
        print("FAIL setup: %s" % e)
        print("0 passed, 1 failed")
        return 1

    print("# kernel %s, module %s (driver %s), logs in %s" % (
        kenv.get("KVER", os.path.basename(kenv["VMLINUZ"])), module,
        harness.module_name(module), a.out), flush=True)

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
    for t in tests:
        name = t.test_name
        ctx = Ctx(name, kenv, initrd, module, a.out, verbose=a.verbose)
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
            print("FAIL %s: interrupted" % name)
            print("%d passed, %d failed" % (passed, failed + 1))
            return 130
        except (AssertionError, TestTimeout) as e:
            status, reason = "FAIL", str(e) or type(e).__name__
            ctx.log(traceback.format_exc())
        except Exception as e:
            status, reason = "FAIL", "%s: %s" % (type(e).__name__, e)
            ctx.log(traceback.format_exc())
        reason = reason.strip().splitlines()[0] if reason.strip() else ""
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
            print("PASS %s (%.1fs) %s" % (name, dt, " ".join(ctx.notes)), flush=True)
        elif status == "SKIP":
            skipped += 1
            print("SKIP %s: %s" % (name, reason), flush=True)
        else:
            failed += 1
            print("FAIL %s: %s (%.1fs, log %s)" % (name, reason, dt,
                  os.path.join(a.out, name + ".log")), flush=True)
    print("# total %.1fs" % (time.monotonic() - t_all))
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
