"""Host-side checks of the driver's source: a W=1 build and checkpatch."""
import glob
import os
import shutil
import subprocess
import tempfile

from harness import test

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def driver_sources():
    return sorted(f for f in glob.glob(os.path.join(REPO, "driver", "*.[ch]"))
                  if not f.endswith(".mod.c")) + [os.path.join(REPO, "driver", "Kbuild"),
                                                  os.path.join(REPO, "Kconfig")]


@test("build_w1", timeout=300)
def build_w1(ctx):
    """The module builds against the guest kernel's headers with W=1, no warnings."""
    kdir = ctx.kenv.get("KDIR")
    assert kdir and os.path.isdir(kdir), "no kernel headers (KDIR=%r)" % kdir
    with tempfile.TemporaryDirectory(prefix="mb-w1-") as tmp:
        for f in driver_sources()[:-1]:
            shutil.copy(f, tmp)
        p = subprocess.run(["make", "-C", kdir, "M=" + tmp, "W=1", "modules"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ctx.log(p.stdout)
        assert p.returncode == 0, "build failed: %s" % p.stdout.strip().splitlines()[-1]
        warnings = [l for l in p.stdout.splitlines() if "warning:" in l]
        assert not warnings, "%d warning(s): %s" % (len(warnings), warnings[0])
        assert os.path.exists(os.path.join(tmp, "memballoon.ko")), "no memballoon.ko"
    ctx.note("kernel %s" % ctx.kenv.get("KVER", "?"))


@test("checkpatch", timeout=300)
def checkpatch(ctx):
    """checkpatch.pl --no-tree --strict finds nothing in the driver."""
    p = subprocess.run(["sh", os.path.join(REPO, "scripts", "checkpatch.sh")] + driver_sources(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ctx.log(p.stdout)
    assert p.returncode == 0, "checkpatch: %s" % p.stdout.strip().splitlines()[0]
    ctx.note("%d files clean" % len(driver_sources()))
