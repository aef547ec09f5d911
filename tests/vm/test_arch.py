"""Other architectures, from this x86_64 machine (issue 16, builds): the
module cross-built against the arm64, ppc64el and s390x Debian kernels'
headers, W=1, and the daemon, memballoonctl and the daemon's unit tests
cross-built and run under qemu-user.  `make check-arch` runs them (the
"arch" matrix of tests/vm/matrix.py); docs/arch.md has what each fetches
and how long it takes.

    cross_module_<arch>_<kernel>   arch: arm64, ppc64el, s390x;
                                   kernel: 6.1 (bookworm), 6.12
                                   (bookworm-backports), 7.x
                                   (trixie-backports, the newest)
    cross_daemon_<arch>

They are once-scope tests; a run whose selection does not name them
(its once selection has no "cross_", no --only) skips them: they are
make check-arch's, and the other matrices run them only where they name
them.
"""
import glob
import os
import re
import shutil
import struct
import subprocess
import tempfile
import time

import pytest

from harness import Skip

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(REPO, "scripts")

# Debian architecture -> (ELF e_machine, big-endian, metapackage flavour)
ARCHES = {
    "arm64": (183, False, "arm64"),
    "ppc64el": (21, False, "powerpc64le"),
    "s390x": (22, True, "s390x"),
}
# the kernels by the label in the test name: (suite, metapackage suffix per arch)
KERNELS = {
    "6.1": ("bookworm", {}),
    # 6.12 and 7.x: ppc64el's 64 KiB page kernel is its own flavour there
    # (6.1's powerpc64le has 64 KiB pages itself)
    "6.12": ("bookworm-backports", {"ppc64el": "powerpc64le-64k"}),
    "7.x": ("trixie-backports", {"ppc64el": "powerpc64le-64k"}),
}


def _selected(request):
    """Run only where the run asks for these tests by name."""
    o = request.config.option
    cell = request.getfixturevalue("cell")
    if o.only or "cross_" in (cell.select or ""):
        return
    raise Skip("make check-arch runs it (this run's selection does not name cross_ tests)")


def elf_header(path):
    """(e_machine, big_endian) of an ELF file."""
    with open(path, "rb") as f:
        ident = f.read(20)
    assert ident[:4] == b"\x7fELF", "%s is not an ELF file" % path
    big = ident[5] == 2
    (machine,) = struct.unpack(">H" if big else "<H", ident[18:20])
    return machine, big


def _run(cmd, ctx, **kw):
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    ctx.log("$ %s (rc %d, %.1fs)\n%s" % (" ".join(cmd), p.returncode, time.monotonic() - t0,
                                         p.stdout))
    return p, time.monotonic() - t0


def parse_env(text):
    return dict(l.split("=", 1) for l in text.splitlines() if "=" in l)


def cross_module(ctx, request, arch, label):
    """The module cross-builds for ARCH against the headers of that Debian
    kernel (scripts/guest-kernel.sh --arch, scripts/build-module.sh: Debian's
    cross compiler, on the host or in the trixie chroot for 7.x) with W=1:
    every driver/*.c compiled, no warning or error, a memballoon.ko for that
    machine and byte order whose vermagic is the kernel's release."""
    _selected(request)
    machine, big, flavour = ARCHES[arch]
    suite, metas = KERNELS[label]
    meta = "linux-image-" + metas.get(arch, flavour)
    p, t_fetch = _run(["sh", os.path.join(SCRIPTS, "guest-kernel.sh"), "--suite", suite,
                       "--arch", arch, "--headers", meta], ctx)
    if p.returncode != 0 and "404  Not Found" in p.stdout:
        raise Skip("this machine's Debian mirror has no %s %s kernel packages (404)"
                   % (suite, arch))
    assert p.returncode == 0, "guest-kernel.sh: %s" % (p.stdout.strip().splitlines() or ["?"])[-1]
    env = parse_env(p.stdout)
    kver, kdir = env["KVER"], env["KDIR"]
    cfg = open(os.path.join(kdir, ".config")).read()
    out = tempfile.mkdtemp(prefix="cross-%s-%s." % (arch, label),
                           dir=request.config.option.out)
    envfile = os.path.join(out, "kernel.env")
    with open(envfile, "w") as f:
        f.write(p.stdout)
    # sparse too (make C=2, endianness checks on: s390x is big-endian), as
    # scripts/check-build.sh runs it, where the header tree can run it:
    # not 7.x's, whose Makefile wants scripts/checker-valid.sh (sparse
    # runs in tree there, intree_w1, x86 only)
    common = glob.glob(os.path.join(os.path.dirname(kdir), "linux-headers-*-common"))
    assert common, "no -common header tree beside %s" % kdir
    top = open(os.path.join(common[0], "Makefile")).read()
    sparse = "checker-valid.sh" not in top or \
        os.path.exists(os.path.join(common[0], "scripts", "checker-valid.sh"))
    p, t_build = _run(["sh", os.path.join(SCRIPTS, "build-module.sh"), "-o", out, envfile,
                       "W=1", "-j2"] + (["C=2"] if sparse else []), ctx)
    lines = p.stdout.splitlines()
    diags = [l for l in lines if ("warning:" in l or "error:" in l)
             and "pahole version differs" not in l]
    assert p.returncode == 0, "the build failed: %s" % (diags[0] if diags else lines[-1])
    assert not diags, "%d diagnostic(s) with W=1: %s" % (len(diags), diags[0])
    sources = [os.path.basename(f) for f in glob.glob(os.path.join(REPO, "driver", "*.c"))
               if not f.endswith(".mod.c")]
    compiled = {os.path.basename(l.split()[-1])[:-2] + ".c" for l in lines
                if re.match(r"^ +CC \[M\] ", l)} & set(sources)
    missing = sorted(set(sources) - compiled)
    assert not missing, "not compiled: %s" % ", ".join(missing)
    if sparse:
        checked = {os.path.basename(l.split()[-1]) for l in lines
                   if re.match(r"^ +CHECK +", l)} & set(sources)
        assert checked == set(sources), "sparse did not check %s" % ", ".join(
            sorted(set(sources) - checked))
    ko = os.path.join(out, "driver", "memballoon.ko")
    m, b = elf_header(ko)
    assert (m, b) == (machine, big), "memballoon.ko is e_machine %d %s-endian, not %s's %d %s" % (
        m, "big" if b else "little", arch, machine, "big" if big else "little")
    vm = subprocess.run(["/sbin/modinfo", "-F", "vermagic", ko], stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, text=True).stdout.strip()
    assert vm.startswith(kver + " "), "vermagic %r is not %s's" % (vm, kver)
    how = [l.split(": ", 2)[2] for l in lines if l.startswith("build-module.sh: ")
           and l.count(": ") >= 2]
    pages = ""
    if arch == "ppc64el":
        pages = ", 64 KiB pages" if "CONFIG_PPC_64K_PAGES=y" in cfg else ", 4 KiB pages"
    # the compat probe reads the -common tree's headers (kbuild's srctree)
    probe = subprocess.run(["sh", os.path.join(REPO, "driver", "compat-probe.sh")] + common[:1],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert probe.returncode == 0, "compat-probe.sh: %s" % probe.stdout
    ctx.log("compat-probe.sh %s: %s" % (common[0], " ".join(probe.stdout.split())))
    shutil.rmtree(out)          # kept only when the test fails
    ctx.note("%s%s: %d files, W=1%s clean; %s; headers %.0fs, build %.0fs" % (
        kver, pages, len(compiled), " and sparse" if sparse else "",
        how[0].split(" (")[0] if how else "?", t_fetch, t_build))


def cross_daemon(ctx, request, arch):
    """memballoond, memballoonctl and the daemon's unit tests cross-build for
    ARCH (-Werror; scripts/cross-daemon.sh, a sysroot of that
    architecture's -dev packages) and run under qemu-user: both programs
    print their version, every unit test passes but the one qemu-user
    cannot host (a NETLINK_GENERIC socket to the running kernel), and the
    programs are ELF for that machine and byte order."""
    _selected(request)
    machine, big, _ = ARCHES[arch]
    p, t = _run(["sh", os.path.join(SCRIPTS, "cross-daemon.sh"), arch], ctx)
    lines = p.stdout.strip().splitlines() or ["(no output)"]
    last = [l for l in lines if l.startswith("cross-daemon.sh: ")][-1:] or lines[-1:]
    assert p.returncode == 0, last[0].split(": ", 1)[-1]
    for prog in ("memballoond", "memballoonctl"):
        path = os.path.join(REPO, "daemon", "build", arch, prog)
        assert elf_header(path) == (machine, big), "%s is not an %s program" % (prog, arch)
        assert any(l.startswith(prog + " ") for l in lines), "%s --version printed nothing" % prog
    m = re.search(r": (\d+) passed, (\d+) failed(.*)$", last[0])
    assert m and int(m.group(1)) > 0 and m.group(2) == "0", last[0]
    built = [l for l in lines if "built in" in l]
    ctx.note("%s passed%s; %s; %.0fs" % (m.group(1), m.group(3),
                                         built[0].split("(", 1)[1].split(",")[1].strip()
                                         if built else "", t))


def _make(kind, arch, label=None):
    if kind == "module":
        def test(ctx, request):
            cross_module(ctx, request, arch, label)
        test.__doc__ = cross_module.__doc__
        name = "test_cross_module_%s_%s" % (arch, label)
        test = pytest.mark.timeout(1200)(test)
    else:
        def test(ctx, request):
            cross_daemon(ctx, request, arch)
        test.__doc__ = cross_daemon.__doc__
        name = "test_cross_daemon_%s" % arch
        test = pytest.mark.timeout(900)(test)
    test.__name__ = test.__qualname__ = name
    return name, pytest.mark.once(test)


# test_cross_module_arm64_6.1 ... test_cross_daemon_s390x (names with a dot
# cannot be written as a def)
for _arch in ARCHES:
    for _label in KERNELS:
        _n, _f = _make("module", _arch, _label)
        globals()[_n] = _f
    _n, _f = _make("daemon", _arch)
    globals()[_n] = _f
