"""Host-side checks of the driver's source: W=1 builds out of tree and in
tree, checkpatch, sparse, and the generated netlink code."""
import glob
import os
import subprocess
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def driver_sources():
    return sorted(f for f in glob.glob(os.path.join(REPO, "driver", "*.[ch]"))
                  if not f.endswith(".mod.c")) + [os.path.join(REPO, "driver", "Kbuild"),
                                                  os.path.join(REPO, "Kconfig")]


@pytest.mark.timeout(900)
@pytest.mark.kernel
def test_build_w1(ctx):
    """The module builds against the kernel's headers with W=1 and sparse
    (make C=2, endianness on) in the same pass, and nothing is reported
    (scripts/check-build.sh: a fresh copy of driver/, built on the host or
    in the kernel's Debian chroot when the host's toolchain is too old for
    it).  7.x header trees cannot run sparse: there it runs in tree
    (intree_w1)."""
    target = ctx.kenv.get("ENV_FILE") or ctx.kenv.get("KDIR")
    assert target, "no kernel headers"
    p = subprocess.run(["sh", os.path.join(REPO, "scripts", "check-build.sh"), target],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ctx.log(p.stdout)
    lines = p.stdout.strip().splitlines() or ["(no output)"]
    diags = [l for l in lines if ("warning:" in l or "error:" in l)
             and "pahole version differs" not in l]
    assert p.returncode == 0, "%s%s" % (lines[-1].split(": ", 1)[-1],
                                        (": " + diags[0]) if diags else "")
    how = [l.split(": ", 2)[2] for l in lines
           if l.startswith("build-module.sh: ") and l.count(": ") >= 2]
    ctx.note("%s; %s" % (lines[-1].split(": ", 2)[-1],
                         how[0].split(" (")[0] if how else "?"))


@pytest.mark.timeout(300)
@pytest.mark.once
def test_checkpatch(ctx):
    """checkpatch.pl --no-tree --strict finds nothing in the driver."""
    p = subprocess.run(["sh", os.path.join(REPO, "scripts", "checkpatch.sh")] + driver_sources(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ctx.log(p.stdout)
    assert p.returncode == 0, "checkpatch: %s" % p.stdout.strip().splitlines()[0]
    ctx.note("%d files clean" % len(driver_sources()))


@pytest.mark.timeout(600)
@pytest.mark.once
def test_netlink_generated(ctx):
    """The committed UAPI header, kernel policies and ops (driver/netlink-gen.[ch])
    and userspace's names (include/memballoon-names.h) are exactly what the
    kernel's ynl-gen-c makes of the spec today: nobody edited them by hand
    and nobody changed the spec without `make netlink`."""
    p = subprocess.run(["sh", os.path.join(REPO, "scripts", "netlink-gen.sh"), "--check"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ctx.log(p.stdout)
    lines = p.stdout.strip().splitlines() or ["(no output)"]
    assert p.returncode == 0, "regenerating changes: %s" % (
        "; ".join(l for l in lines if "differs" in l) or lines[-1])
    ctx.note(lines[-1].split(": ", 1)[-1])


@pytest.mark.timeout(1800)
@pytest.mark.once
def test_intree_w1(ctx):
    """The driver builds in tree without a warning: driver/ copied into
    drivers/virtio/ of the newest Debian kernel source, Kconfig's entry in
    the virtio menu and driver/Kbuild's lines in drivers/virtio/Makefile,
    CONFIG_VIRTIO_MEMBALLOON=m with the Debian config, W=1, and sparse
    (C=2) over every file: the sparse check of the 7.x kernels, whose
    header packages cannot run it (scripts/check-intree.sh; the prepared
    tree is cached)."""
    t0 = time.monotonic()
    p = subprocess.run(["sh", os.path.join(REPO, "scripts", "check-intree.sh"), "C=2"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ctx.log(p.stdout)
    lines = p.stdout.strip().splitlines() or ["(no output)"]
    assert p.returncode == 0, "in-tree build failed: %s" % lines[-1]
    warnings = [l for l in lines if "warning:" in l or "error:" in l]
    assert not warnings, "%d warning(s): %s" % (len(warnings), warnings[0])
    compiled = [l for l in lines if l.startswith("  CC [M]  drivers/virtio/")]
    assert len(compiled) == len([f for f in driver_sources() if f.endswith(".c")]), \
        "compiled %d driver files in tree: %s" % (len(compiled), compiled)
    checked = [l for l in lines if l.startswith("  CHECK   ") and "drivers/virtio/" in l]
    assert len(checked) == len(compiled), \
        "sparse checked %d of %d driver files" % (len(checked), len(compiled))
    setup = [l.split(": ", 1)[1] for l in lines
             if l.startswith("check-intree.sh: ") and "CONFIG_VIRTIO_MEMBALLOON=m" in l]
    prepared = [l for l in lines if "prepared in" in l]
    ctx.note("%s%s, %d files, W=1 and sparse clean, %.0fs" % (setup[0].split(" (")[0] if setup else "?",
                                         "; tree " + prepared[0].split(": ", 1)[1] if prepared else "",
                                         len(compiled), time.monotonic() - t0))
