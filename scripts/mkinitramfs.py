#!/usr/bin/python3
"""Build the memballoon test initramfs (a gzip'd newc cpio), no root needed.

Contents:
  /bin/busybox + applet symlinks (from busybox-static: the host's, or for
                                         --arch the suite's package of ARCH)
  /init, /usr/lib/mb/agent.sh            (tests/agent/)
  /usr/bin/mbtool                        (tests/agent/mbtool.c, built static)
  /usr/bin/mbnl                          (tests/agent/mbnl.c: memballoon netlink client)
  /usr/bin/takeover.sh                   (scripts/takeover.sh)
  /lib/modules/kernel/*.ko               virtio transport modules (+ deps) and
                                         the in-tree virtio_balloon.ko, decompressed
  /lib/modules/kernel/boot.list          load order used by /init (no balloon!)
  /lib/modules/kernel/virtio_balloon.list  load order for the in-tree balloon
  /lib/modules/kernel/brd.ko             the RAM disk, when the kernel has it as a
                                         module (tests fill its page cache to get
                                         reclaimable memory; the initramfs has none)
  /lib/modules/<name>.ko                 the module(s) under test (--module)
  any --extra HOST[:GUEST] file; for a dynamic ELF also the shared
  libraries and loader ldd lists, at the same paths

Usage: mkinitramfs.py --moddir DIR --out FILE [--module KO ...] [--mbtool BIN]
                      [--extra HOST[:GUEST] ...] [--arch ARCH]

--arch ARCH (a Debian architecture, e.g. arm64) builds the initramfs of a
guest of another architecture: the C tools cross-compiled statically with
Debian's <triplet>-gcc, busybox-static of ARCH from the machine's own suite
(`apt-get download` through scripts/apt-suite.sh CODENAME:ARCH, unpacked
with `dpkg -x` into ${MB_CACHE}/busybox/CODENAME-ARCH/ once) and its applet
list asked from it under qemu-user; what they need is installed on first
use (scripts/deps.sh).
"""
import argparse
import fcntl
import glob
import gzip
import lzma
import os
import shutil
import stat
import subprocess
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOOT_MODULES = ["virtio_ring", "virtio", "virtio_pci_modern_dev",
                "virtio_pci_legacy_dev", "virtio_pci"]
# Loaded by /init when the kernel has them: the virtio-mmio transport
# (microvm) and virtio-serial (the agent's channel there).
OPT_BOOT_MODULES = ["virtio_mmio", "virtio_console"]
EXTRA_MODULES = ["virtio_balloon"]
# Loaded by tests that need them (insmod /lib/modules/kernel/NAME.ko), never by /init.
AUX_MODULES = ["brd"]
BUSYBOX = "/bin/busybox"
# Debian architecture -> (GNU triplet, qemu-user binary) of a foreign guest
CROSS = {"arm64": ("aarch64-linux-gnu", "qemu-aarch64"),
         "ppc64el": ("powerpc64le-linux-gnu", "qemu-ppc64le"),
         "s390x": ("s390x-linux-gnu", "qemu-s390x")}
CACHE = os.environ.get("MB_CACHE") or os.path.join(
    os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "memballoon")


class Cpio:
    """Minimal newc writer."""

    def __init__(self):
        self.buf = bytearray()
        self.ino = 1
        self.names = set()

    def _add(self, name, mode, data=b"", rmaj=0, rmin=0):
        name = name.lstrip("/")
        if name in self.names:
            raise SystemExit("mkinitramfs: duplicate entry %s" % name)
        self.names.add(name)
        nb = name.encode() + b"\0"
        hdr = "070701" + "".join("%08X" % v for v in (
            self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rmaj, rmin,
            len(nb), 0))
        self.ino += 1
        self.buf += hdr.encode() + nb
        self.buf += b"\0" * (-len(self.buf) % 4)
        self.buf += data
        self.buf += b"\0" * (-len(self.buf) % 4)

    def dir(self, name):
        parts = name.strip("/").split("/")
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.names:
                self._add(d, stat.S_IFDIR | 0o755)

    def file(self, name, data, mode=0o644):
        if "/" in name.strip("/"):
            self.dir(os.path.dirname(name.strip("/")))
        self._add(name, stat.S_IFREG | mode, data)

    def symlink(self, name, target):
        if "/" in name.strip("/"):
            self.dir(os.path.dirname(name.strip("/")))
        self._add(name, stat.S_IFLNK | 0o777, target.encode())

    def chardev(self, name, maj, mnr, mode=0o600):
        self._add(name, stat.S_IFCHR | mode, b"", maj, mnr)

    def finish(self):
        self._add("TRAILER!!!", 0)
        self.buf += b"\0" * (-len(self.buf) % 512)
        return bytes(self.buf)


def read_ko(path):
    """Return the module bytes, decompressing .xz/.gz/.zst."""
    if path.endswith(".xz"):
        return lzma.decompress(open(path, "rb").read())
    if path.endswith(".gz"):
        return gzip.decompress(open(path, "rb").read())
    if path.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", path], check=True,
                              stdout=subprocess.PIPE).stdout
    return open(path, "rb").read()


def modname(path):
    """The name the kernel knows a module by: for a .ko file, the name in
    its .modinfo (modinfo -F name), whatever the file is called; otherwise
    the file name ("kernel/drivers/virtio/virtio_balloon.ko.xz",
    "virtio_balloon")."""
    if os.path.isfile(path):
        p = subprocess.run(["modinfo", "-F", "name", path],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        if p.returncode == 0 and p.stdout.strip():
            return p.stdout.strip()
    base = os.path.basename(path)
    for ext in (".xz", ".gz", ".zst"):
        if base.endswith(ext):
            base = base[:-len(ext)]
    if base.endswith(".ko"):
        base = base[:-3]
    return base.replace("-", "_")


def load_moddep(moddir):
    deps, builtin = {}, set()
    with open(os.path.join(moddir, "modules.dep")) as f:
        for line in f:
            if ":" not in line:
                continue
            mod, rest = line.split(":", 1)
            deps[modname(mod)] = (mod, [d for d in rest.split()])
    bpath = os.path.join(moddir, "modules.builtin")
    if os.path.exists(bpath):
        with open(bpath) as f:
            builtin = {modname(l.strip()) for l in f if l.strip()}
    return deps, builtin


def resolve(names, deps, builtin, required):
    """Topologically ordered list of (name, relpath) needed to load names."""
    order, seen = [], set()

    def visit(n):
        if n in seen:
            return
        seen.add(n)
        if n not in deps:
            if n in builtin:
                return
            if required:
                raise SystemExit("mkinitramfs: module %s neither in modules.dep "
                                 "nor builtin" % n)
            print("mkinitramfs: note: module %s not available" % n, file=sys.stderr)
            return
        for d in deps[n][1]:
            visit(modname(d))
        order.append((n, deps[n][0]))

    for n in names:
        visit(n)
    return order


def build_mbtool(out, name="mbtool", arch=None):
    """Build tests/agent/<name>.c static for the host, or for arch."""
    src = os.path.join(REPO, "tests", "agent", name + ".c")
    cc = CROSS[arch][0] + "-gcc" if arch else "gcc"
    subprocess.run([cc, "-static", "-O2", "-Wall", "-Wextra", "-Werror",
                    "-o", out, src], check=True)


def codename():
    with open("/etc/os-release") as f:
        return dict(l.rstrip("\n").split("=", 1) for l in f
                    if "=" in l)["VERSION_CODENAME"].strip('"')


def install_cross_tools(arch):
    """The cross compiler and C library for arch, and qemu-user (deps.sh)."""
    subprocess.run(["sh", os.path.join(REPO, "scripts", "deps.sh"), "gcc-" + CROSS[arch][0],
                    "libc6-dev-%s-cross" % arch, "qemu-user"], check=True)


def foreign_busybox(arch):
    """The busybox-static binary of arch (fetched and unpacked once) and its
    applets' paths, as that binary lists them under qemu-user."""
    suite = "%s:%s" % (codename(), arch)
    d = os.path.join(CACHE, "busybox", suite.replace(":", "-"))
    binary = os.path.join(d, "bin", "busybox")
    os.makedirs(os.path.dirname(d), exist_ok=True)
    with open(d + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(os.path.join(d, ".mb-stamp")):
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            apt = ["sh", os.path.join(REPO, "scripts", "apt-suite.sh"), suite]
            get = apt + ["apt-get", "download", "-q", "busybox-static"]
            if subprocess.run(get, cwd=d, stdout=sys.stderr).returncode != 0:
                subprocess.run(apt + ["--update"], check=True, stdout=sys.stderr)
                subprocess.run(get, cwd=d, check=True, stdout=sys.stderr)
            for deb in glob.glob(os.path.join(d, "*.deb")):
                subprocess.run(["dpkg", "-x", deb, d], check=True)
                os.remove(deb)
            if not os.path.exists(binary):
                raise SystemExit("mkinitramfs: no bin/busybox in busybox-static of %s" % arch)
            open(os.path.join(d, ".mb-stamp"), "w").close()
    applets = subprocess.run([CROSS[arch][1], binary, "--list-full"], check=True,
                             stdout=subprocess.PIPE, text=True).stdout.split()
    return binary, applets


def ldd_deps(path):
    """Absolute paths of the shared libraries (and loader) a dynamic ELF needs."""
    r = subprocess.run(["ldd", path], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    if r.returncode != 0:       # static: "not a dynamic executable"
        return []
    libs = []
    for line in r.stdout.splitlines():
        if "not found" in line:
            raise SystemExit("mkinitramfs: %s: %s" % (path, line.strip()))
        parts = line.split()
        lib = parts[parts.index("=>") + 1] if "=>" in parts else (parts[0] if parts else "")
        if lib.startswith("/"):
            libs.append(lib)
    return libs


def add_extra(c, spec):
    """--extra HOST[:GUEST]: copy a file (GUEST defaults to HOST) and its ldd deps."""
    host, _, guest = spec.partition(":")
    guest = guest or host
    data = open(host, "rb").read()
    files = [(guest, data, os.stat(host).st_mode & 0o777)]
    if data[:4] == b"\x7fELF":
        files += [(lib, open(os.path.realpath(lib), "rb").read(), 0o755)
                  for lib in ldd_deps(host)]
    for name, body, mode in files:
        if name.lstrip("/") not in c.names:
            c.file(name, body, mode)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--moddir", required=True, help="lib/modules/<kver> of the guest kernel")
    ap.add_argument("--module", action="append", default=[], help=".ko under test (repeatable)")
    ap.add_argument("--mbtool", help="prebuilt static mbtool (default: build it)")
    ap.add_argument("--extra", action="append", default=[], metavar="HOST[:GUEST]",
                    help="also copy this file (and a dynamic ELF's libraries); repeatable")
    ap.add_argument("--arch", choices=sorted(CROSS),
                    help="a guest of this Debian architecture (default: the host's)")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if a.arch and a.extra:
        ap.error("--extra copies host files: not with --arch")

    deps, builtin = load_moddep(a.moddir)
    c = Cpio()
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev", "tmp",
              "run", "etc", "root", "lib/modules/kernel", "usr/lib/mb"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)
    c.chardev("dev/null", 1, 3, 0o666)
    c.chardev("dev/ttyS0", 4, 64)
    c.chardev("dev/ttyS1", 4, 65)

    if a.arch:
        install_cross_tools(a.arch)
        busybox, applets = foreign_busybox(a.arch)
    else:
        busybox = BUSYBOX
        applets = subprocess.run([BUSYBOX, "--list-full"], check=True,
                                 stdout=subprocess.PIPE, text=True).stdout.split()
    c.file("bin/busybox", open(busybox, "rb").read(), 0o755)
    for app in applets:
        if app.strip("/") != "bin/busybox":
            c.symlink(app, "/bin/busybox")

    agent = os.path.join(REPO, "tests", "agent")
    c.file("init", open(os.path.join(agent, "init"), "rb").read(), 0o755)
    c.file("usr/lib/mb/agent.sh", open(os.path.join(agent, "agent.sh"), "rb").read(), 0o755)
    takeover = os.path.join(REPO, "scripts", "takeover.sh")
    if os.path.exists(takeover):
        c.file("usr/bin/takeover.sh", open(takeover, "rb").read(), 0o755)
    with tempfile.TemporaryDirectory() as td:
        mbtool = a.mbtool
        if not mbtool:
            mbtool = os.path.join(td, "mbtool")
            build_mbtool(mbtool, arch=a.arch)
        c.file("usr/bin/mbtool", open(mbtool, "rb").read(), 0o755)
        mbnl = os.path.join(td, "mbnl")
        build_mbtool(mbnl, "mbnl", arch=a.arch)
        c.file("usr/bin/mbnl", open(mbnl, "rb").read(), 0o755)
    c.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")

    boot = resolve(BOOT_MODULES, deps, builtin, required=True)
    boot += [m for m in resolve(OPT_BOOT_MODULES, deps, builtin, required=False)
             if m not in boot]
    extra = resolve(EXTRA_MODULES, deps, builtin, required=False)
    for name, rel in boot + [m for m in extra if m not in boot]:
        c.file("lib/modules/kernel/%s.ko" % name, read_ko(os.path.join(a.moddir, rel)))
    c.file("lib/modules/kernel/boot.list", "".join("%s.ko\n" % n for n, _ in boot).encode())
    c.file("lib/modules/kernel/virtio_balloon.list",
           "".join("%s.ko\n" % n for n, _ in extra if (n, _) not in boot).encode())
    have = {n for n, _ in boot + extra}
    for name, rel in resolve(AUX_MODULES, deps, builtin, required=False):
        if name not in have:
            c.file("lib/modules/kernel/%s.ko" % name, read_ko(os.path.join(a.moddir, rel)))
            have.add(name)

    for ko in a.module:
        c.file("lib/modules/%s.ko" % modname(ko), read_ko(ko))
    for spec in a.extra:
        add_extra(c, spec)

    data = gzip.compress(c.finish(), compresslevel=1)
    tmp = a.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, a.out)
    print("mkinitramfs: wrote %s (%d KiB)" % (a.out, len(data) // 1024), file=sys.stderr)


if __name__ == "__main__":
    main()
