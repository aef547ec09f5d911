"""Host-side checks of the driver's source: a W=1 build and checkpatch."""
import glob
import os
import subprocess
import tempfile

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def driver_sources():
    return sorted(f for f in glob.glob(os.path.join(REPO, "driver", "*.[ch]"))
                  if not f.endswith(".mod.c")) + [os.path.join(REPO, "driver", "Kbuild"),
                                                  os.path.join(REPO, "Kconfig")]


@pytest.mark.timeout(600)
@pytest.mark.kernel
def test_build_w1(ctx):
    """The module builds against the kernel's headers with W=1, no warnings.

    scripts/build-module.sh builds a fresh copy of driver/ (on the host, or in
    the kernel's Debian chroot when the host's toolchain is too old for it)."""
    env_file = ctx.kenv.get("ENV_FILE")
    kdir = ctx.kenv.get("KDIR")
    assert kdir and os.path.isdir(kdir), "no kernel headers (KDIR=%r)" % kdir
    with tempfile.TemporaryDirectory(prefix="mb-w1-") as tmp:
        p = subprocess.run(["sh", os.path.join(REPO, "scripts", "build-module.sh"),
                            "-o", tmp, env_file or kdir, "W=1"],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        ctx.log(p.stdout)
        assert p.returncode == 0, "build failed: %s" % p.stdout.strip().splitlines()[-1]
        # compiler and kbuild warnings ("warning:"); kbuild's notices that are
        # not about the code (a differing pahole) are not warnings.
        warnings = [l for l in p.stdout.splitlines()
                    if "warning:" in l and "pahole version differs" not in l]
        assert not warnings, "%d warning(s): %s" % (len(warnings), warnings[0])
        ko = os.path.join(tmp, "driver", "memballoon.ko")
        assert os.path.exists(ko), "no memballoon.ko"
        how = [l.split(": ", 2)[2] for l in p.stdout.splitlines()
               if l.startswith("build-module.sh: ") and l.count(": ") >= 2]
        where = how[0].split(" (")[0] if how else "?"
    ctx.note("kernel %s, %s" % (ctx.kenv.get("KVER", "?"), where))


@pytest.mark.timeout(300)
@pytest.mark.once
def test_checkpatch(ctx):
    """checkpatch.pl --no-tree --strict finds nothing in the driver."""
    p = subprocess.run(["sh", os.path.join(REPO, "scripts", "checkpatch.sh")] + driver_sources(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    ctx.log(p.stdout)
    assert p.returncode == 0, "checkpatch: %s" % p.stdout.strip().splitlines()[0]
    ctx.note("%d files clean" % len(driver_sources()))
