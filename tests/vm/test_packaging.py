"""Host-side checks of the Debian packages that `make deb` builds
(scripts/deb.sh): lintian, what each package installs and runs, one
version everywhere, the module DKMS builds from memballoon-dkms, and the
modprobe configuration that gives the balloon to memballoon where it is
built and to virtio_balloon where it is not.  The real install, in a
booted systemd guest, is the distro tier's."""
import glob
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from harness import check

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCRIPTS = os.path.join(REPO, "scripts")
SIGNER = "DKMS module signing key"      # the CN of the key dkms makes itself

_built = {}                             # scripts/deb.sh's result, once per run


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)


def out_of(cmd, **kw):
    p = run(cmd, **kw)
    check(p.returncode == 0, "%s: rc %d: %s" % (" ".join(cmd), p.returncode, p.stdout.strip()[-300:]))
    return p.stdout


def build_debs(ctx):
    """make deb's build (scripts/deb.sh: dpkg-buildpackage, then lintian,
    failing on any error or warning) into <out>/deb, once per run; return
    (the version, {package: .deb path})."""
    if not _built:
        out = os.path.join(ctx.outdir, "deb")
        t0 = time.monotonic()
        p = run(["sh", os.path.join(SCRIPTS, "deb.sh"), out])
        _built.update(out=out, rc=p.returncode, log=p.stdout, secs=time.monotonic() - t0)
    ctx.log(_built["log"])
    lines = _built["log"].strip().splitlines() or ["(no output)"]
    tags = [l for l in lines if re.match(r"^[EW]: ", l)]
    check(_built["rc"] == 0, "make deb: %s" % (tags[0] if tags else lines[-1]))
    version = out_of(["sh", os.path.join(SCRIPTS, "version.sh")]).strip()
    debs = sorted(glob.glob(os.path.join(_built["out"], "*.deb")))
    names = [os.path.basename(d) for d in debs]
    want = ["memballoon-dkms_%s-1_all.deb" % version,
            "memballoond_%s-1_%s.deb" % (version, out_of(["dpkg", "--print-architecture"]).strip())]
    check(names == want, "build/deb has %s, not %s" % (names, want))
    return version, {n.split("_")[0]: d for n, d in zip(names, debs)}


def deb_files(deb):
    """{path: (mode string, kind)} of a .deb's data: kind f, d or l."""
    files = {}
    for line in out_of(["dpkg-deb", "-c", deb]).splitlines():
        f = line.split()
        path = f[5][1:].rstrip("/") or "/"
        files[path] = (f[0], f[0][0].replace("-", "f"))
    return files


def control(deb, name):
    with tempfile.TemporaryDirectory() as d:
        out_of(["dpkg-deb", "-e", deb, d])
        p = os.path.join(d, name)
        return open(p).read() if os.path.exists(p) else ""


def driver_sources():
    return sorted([os.path.basename(f) for f in glob.glob(os.path.join(REPO, "driver", "*.[ch]"))
                   if not f.endswith(".mod.c")] + ["Kbuild", "compat-probe.sh"])


@pytest.mark.timeout(900)
@pytest.mark.once
def test_deb_lintian(ctx):
    """make deb builds exactly memballoon-dkms (all) and memballoond (any),
    lintian reports no error and no warning, and each package holds what a
    packager relies on: the DKMS source tree complete, the modprobe
    configuration and initramfs hook, the programs, man pages, unit, udev
    rule, sysusers file, completion and conffile where Debian 12 looks for
    them and as the tree has them; the unit enabled and started, the user
    created before; one version in both packages and both programs."""
    version, debs = build_debs(ctx)
    ctx.note("built in %.0fs (with lintian)" % _built["secs"])
    arch = out_of(["dpkg", "--print-architecture"]).strip()
    for pkg, deb in debs.items():
        check(out_of(["dpkg-deb", "-f", deb, "Version"]).strip() == version + "-1",
              "%s's version is not %s-1" % (pkg, version))
        check(out_of(["dpkg-deb", "-f", deb, "Architecture"]).strip() ==
              ("all" if pkg == "memballoon-dkms" else arch), "%s: architecture" % pkg)

    src = "/usr/src/memballoon-%s" % version
    docs = ["/usr/share/doc/%s/" + f for f in ("copyright", "changelog.Debian.gz", "changelog.gz")]
    want = {
        "memballoon-dkms": {
            src + "/dkms.conf": "packaging/dkms.conf",
            src + "/dkms-make.sh": "packaging/dkms-make.sh",
            src + "/VERSION": None,
            src + "/scripts/version.sh": "scripts/version.sh",
            src + "/include/uapi/linux/memballoon.h": "include/uapi/linux/memballoon.h",
            "/lib/modprobe.d/memballoon.conf": "packaging/memballoon-modprobe.conf",
            "/usr/share/initramfs-tools/hooks/memballoon": "packaging/memballoon-initramfs-hook",
        },
        "memballoond": {
            "/usr/sbin/memballoond": None,
            "/usr/bin/memballoonctl": None,
            "/usr/share/man/man8/memballoond.8.gz": None,
            "/usr/share/man/man8/memballoonctl.8.gz": None,
            "/usr/share/man/man5/memballoond.conf.5.gz": None,
            "/lib/systemd/system/memballoond.service": "packaging/memballoond.service",
            "/lib/udev/rules.d/60-memballoon.rules": "packaging/60-memballoon.rules",
            "/usr/lib/sysusers.d/memballoon.conf": "packaging/memballoon.sysusers",
            "/etc/memballoon/memballoond.conf": "daemon/memballoond.conf",
            "/usr/share/bash-completion/completions/memballoonctl":
                "daemon/memballoonctl.bash-completion",
        },
    }
    want["memballoon-dkms"].update({src + "/driver/" + f: "driver/" + f for f in driver_sources()})
    for pkg in want:
        want[pkg].update({d % pkg: None for d in docs})
        want[pkg]["/usr/share/lintian/overrides/" + pkg] = None

    root = tempfile.mkdtemp(prefix="mb-deb-")
    try:
        for pkg, deb in debs.items():
            files = deb_files(deb)
            regular = {p for p, (m, k) in files.items() if k == "f"}
            check(regular == set(want[pkg]), "%s: missing %s, extra %s" % (
                pkg, sorted(set(want[pkg]) - regular), sorted(regular - set(want[pkg]))))
            out_of(["dpkg-deb", "-x", deb, root])
            for path, orig in want[pkg].items():
                if orig and path != src + "/dkms.conf":
                    with open(os.path.join(root, path.lstrip("/")), "rb") as a, \
                            open(os.path.join(REPO, orig), "rb") as b:
                        check(a.read() == b.read(), "%s: %s differs from %s" % (pkg, path, orig))
            for path in ("/usr/sbin/memballoond", "/usr/bin/memballoonctl",
                         "/usr/share/initramfs-tools/hooks/memballoon"):
                if path in files:
                    check(files[path][0] == "-rwxr-xr-x", "%s is %s" % (path, files[path][0]))
        check(deb_files(debs["memballoond"]).get("/etc/memballoon/memballoond.conf.d",
                                                  ("", ""))[1] == "d",
              "memballoond: no /etc/memballoon/memballoond.conf.d/")

        # the DKMS tree names its version, and it is the packages'
        conf = open(os.path.join(root, src.lstrip("/"), "dkms.conf")).read()
        check('PACKAGE_VERSION="%s"' % version in conf, "dkms.conf: PACKAGE_VERSION is not %s" % version)
        check('AUTOINSTALL="yes"' in conf, "dkms.conf: no AUTOINSTALL")
        tree_version = open(os.path.join(root, src.lstrip("/"), "VERSION")).read().strip()
        check(tree_version == version, "the DKMS tree's VERSION is %s" % tree_version)
        # bash completion: commands, then each command's options
        stub = ('_init_completion() { cur=${COMP_WORDS[COMP_CWORD]}; '
                'prev=${COMP_WORDS[COMP_CWORD-1]}; words=("${COMP_WORDS[@]}"); '
                'cword=$COMP_CWORD; }; . "$0"; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); '
                '_memballoonctl; echo "${COMPREPLY[*]}"')
        completion = os.path.join(root, "usr/share/bash-completion/completions/memballoonctl")
        for words, want_reply in ((["memballoonctl", ""], "status watch set-floor release"),
                                  (["memballoonctl", "re"], "release"),
                                  (["memballoonctl", "release", "--"], "--no-wait --timeout --json"),
                                  (["memballoonctl", "watch", "--"], "--interval --json")):
            reply = out_of(["bash", "-c", stub, completion] + words).strip()
            check(reply == want_reply, "completion of %r: %r, not %r" % (words, reply, want_reply))
        for prog in ("usr/sbin/memballoond", "usr/bin/memballoonctl"):
            said = out_of([os.path.join(root, prog), "--version"]).strip()
            check(said == "%s %s" % (os.path.basename(prog), version),
                  "%s --version: %r, not %s" % (prog, said, version))
    finally:
        shutil.rmtree(root, ignore_errors=True)

    # conffiles and maintainer scripts
    conffiles = control(debs["memballoond"], "conffiles").split()
    check(conffiles == ["/etc/memballoon/memballoond.conf"], "memballoond conffiles: %s" % conffiles)
    check(control(debs["memballoon-dkms"], "conffiles").split() == [],
          "memballoon-dkms has conffiles")
    post = control(debs["memballoond"], "postinst")
    steps = ["systemd-sysusers memballoon.conf",                       # the user and group
             "udevadm trigger --subsystem-match=virtio-ports",         # the port's group
             "deb-systemd-helper enable 'memballoond.service'",
             "deb-systemd-invoke $_dh_action 'memballoond.service'"]   # start, or restart
    at = [post.find(s) for s in steps]
    check(all(i >= 0 for i in at) and at == sorted(at),
          "memballoond postinst: %s" % ", ".join("%s at %d" % x for x in zip(steps, at)))
    post = control(debs["memballoon-dkms"], "postinst")
    check("DKMS_VERSION=%s\n" % version in post and "common.postinst" in post,
          "memballoon-dkms postinst does not add and build memballoon %s" % version)
    check("dkms remove -m $DKMS_NAME -v $DKMS_VERSION --all" in
          control(debs["memballoon-dkms"], "prerm"), "memballoon-dkms prerm does not remove it")
    check("activate-noawait update-initramfs" in control(debs["memballoon-dkms"], "triggers"),
          "memballoon-dkms does not trigger update-initramfs")
    ctx.note("%s: 2 packages, lintian clean" % version)


def dkms(tree, version, kver, kdir, env=None):
    """dkms build in a private DKMS tree (nothing of the machine's)."""
    cmd = ["dkms", "build", "-m", "memballoon", "-v", version, "-k", kver,
           "--kernelsourcedir", kdir, "--dkmstree", os.path.join(tree, "dkms"),
           "--sourcetree", os.path.join(tree, "root", "usr", "src"),
           "--installtree", os.path.join(tree, "modules")]
    return run(cmd, env=dict(os.environ, **(env or {})))


def modprobe_install(conf, root, kver, sysfs):
    """Run conf's install command for virtio_balloon as modprobe would, with
    every modprobe in it a dry run (-n -v) against the module tree root and
    /sys/bus/virtio/drivers/memballoon at sysfs; return what it would insmod."""
    line = [l for l in open(conf).read().splitlines() if l.startswith("install virtio_balloon ")]
    check(len(line) == 1, "%s: %d install lines for virtio_balloon" % (conf, len(line)))
    cmd = line[0][len("install virtio_balloon "):]
    cmd = cmd.replace("/sbin/modprobe", "/sbin/modprobe -n -v -C %s -d %s -S %s" % (conf, root, kver))
    cmd = cmd.replace("/sys/bus/virtio/drivers/memballoon", sysfs).replace("$CMDLINE_OPTS", "")
    p = run(["sh", "-c", cmd])
    return [os.path.basename(l.split()[1]) for l in p.stdout.splitlines() if l.startswith("insmod ")]


@pytest.mark.timeout(900)
@pytest.mark.once
def test_deb_dkms(ctx):
    """The DKMS tree memballoon-dkms installs builds memballoon.ko against
    Debian 12's 6.1 headers through Debian's dkms (a private DKMS tree):
    the module has the packages' version and is signed with the DKMS MOK
    key (a private one here); a kernel older than 6.1 is skipped
    (BUILD_EXCLUSIVE, status 77) and a broken header tree fails, saying so,
    both with nothing built.  Then the package's modprobe configuration,
    against a module tree with the 6.1 kernel's virtio_balloon: loading
    virtio_balloon loads memballoon where memballoon.ko is there and binds,
    virtio_balloon where memballoon.ko is not or bound nothing."""
    version, debs = build_debs(ctx)
    kenv = dict(l.split("=", 1) for l in out_of(
        ["sh", os.path.join(SCRIPTS, "guest-kernel.sh")]).splitlines() if "=" in l)
    kver, kdir, moddir = kenv["KVER"], kenv["KDIR"], kenv["MODDIR"]
    tree = tempfile.mkdtemp(prefix="mb-dkms-")
    try:
        for d in ("root", "dkms", "modules"):
            os.makedirs(os.path.join(tree, d))
        out_of(["dpkg-deb", "-x", debs["memballoon-dkms"], os.path.join(tree, "root")])
        # dkms signs with sign_file, mok_signing_key and mok_certificate, making
        # the key when it is missing (/var/lib/dkms/mok.* unless told otherwise)
        sign = {"sign_file": os.path.join(kdir, "scripts", "sign-file"),
                "mok_signing_key": os.path.join(tree, "mok.key"),
                "mok_certificate": os.path.join(tree, "mok.pub")}
        t0 = time.monotonic()
        p = dkms(tree, version, kver, kdir, sign)
        secs = time.monotonic() - t0
        ctx.log(p.stdout)
        base = os.path.join(tree, "dkms", "memballoon", version)
        check(p.returncode == 0, "dkms build for %s: rc %d: %s" % (kver, p.returncode,
                                                                  p.stdout.strip()[-300:]))
        ko = os.path.join(base, kver, "x86_64", "module", "memballoon.ko")
        check(os.path.exists(ko), "dkms built no %s" % ko)
        makelog = open(os.path.join(base, kver, "x86_64", "log", "make.log")).read()
        ctx.log(makelog)
        warnings = [l for l in makelog.splitlines() if "warning:" in l]
        check(not warnings, "dkms build: %s" % (warnings[:1],))

        def modinfo(field):
            return out_of(["/sbin/modinfo", "-F", field, ko]).strip()
        check(modinfo("version") == version, "modinfo version %r, not %s" % (modinfo("version"), version))
        check(modinfo("signer") == SIGNER, "modinfo signer %r, not %r" % (modinfo("signer"), SIGNER))
        check(modinfo("vermagic").split()[0] == kver, "vermagic %r" % modinfo("vermagic"))

        old = "5.10.0-35-amd64"
        p = dkms(tree, version, old, kdir, {"sign_file": "/nonexistent"})
        ctx.log(p.stdout)
        check(p.returncode == 77 and "BUILD_EXCLUSIVE" in p.stdout,
              "dkms build for %s: rc %d (not 77, skipped): %s" % (old, p.returncode, p.stdout[-200:]))
        check(not os.path.exists(os.path.join(base, old)), "something was built for %s" % old)

        broken = os.path.join(tree, "broken")
        os.makedirs(os.path.join(broken, "include"))
        with open(os.path.join(broken, ".config"), "w") as f:
            f.write("CONFIG_VIRTIO=y\n")
        with open(os.path.join(broken, "Makefile"), "w") as f:
            f.write("modules:\n\t@echo 'include/linux/virtio.h: No such file'; exit 2\n")
        bad = "6.1.0-99-amd64"
        p = dkms(tree, version, bad, broken, {"sign_file": "/nonexistent"})
        ctx.log(p.stdout)
        check(p.returncode not in (0, 77) and "Bad return status" in p.stdout,
              "dkms build on a broken tree: rc %d: %s" % (p.returncode, p.stdout[-200:]))
        last = open(os.path.join(base, "build", "make.log")).read().strip().splitlines()[-1]
        check("DKMS installs nothing for this kernel, and virtio_balloon stays" in last,
              "make.log's last line: %r" % last)
        check(not os.path.exists(os.path.join(base, bad)), "something was built for %s" % bad)

        # the modprobe configuration against a module tree: 6.1's virtio
        # modules, with and without the memballoon.ko dkms built
        conf = os.path.join(tree, "root", "lib", "modprobe.d", "memballoon.conf")
        sysfs = os.path.join(tree, "sys")
        results = {}
        for with_mb in (True, False):
            mroot = os.path.join(tree, "mods-%d" % with_mb)
            mdir = os.path.join(mroot, "lib", "modules", kver)
            os.makedirs(os.path.join(mdir, "kernel", "drivers", "virtio"))
            for m in ("virtio_balloon", "virtio", "virtio_ring"):
                shutil.copy(os.path.join(moddir, "kernel", "drivers", "virtio", m + ".ko"),
                            os.path.join(mdir, "kernel", "drivers", "virtio"))
            for f in ("modules.builtin", "modules.builtin.modinfo", "modules.order"):
                if os.path.exists(os.path.join(moddir, f)):
                    shutil.copy(os.path.join(moddir, f), mdir)
            if with_mb:
                os.makedirs(os.path.join(mdir, "updates", "dkms"))
                shutil.copy(ko, os.path.join(mdir, "updates", "dkms"))
            out_of(["/sbin/depmod", "-b", mroot, kver])
            aliases = [l.split()[2] for l in open(os.path.join(mdir, "modules.alias"))
                       if l.startswith("alias virtio:d00000005v* ")]
            check(sorted(aliases) == (["memballoon", "virtio_balloon"] if with_mb else
                                      ["virtio_balloon"]), "modules.alias: %s" % aliases)
            dry = out_of(["/sbin/modprobe", "-n", "-v", "-C", conf, "-d", mroot, "-S", kver,
                          "virtio_balloon"])
            check("install /sbin/modprobe memballoon" in dry,
                  "modprobe virtio_balloon does not run the install command: %s" % dry)
            for bound in (True, False):
                shutil.rmtree(sysfs, ignore_errors=True)
                os.makedirs(os.path.join(sysfs, "virtio3") if bound else sysfs)
                results[(with_mb, bound)] = modprobe_install(conf, mroot, kver, sysfs)
        ctx.log("insmod per (memballoon.ko there, it bound the device): %s" % results)
        virtio = ["virtio_ring.ko", "virtio.ko"]
        check(results[(True, True)] == virtio + ["memballoon.ko"],
              "memballoon built and bound: loads %s" % results[(True, True)])
        check(results[(True, False)] == virtio + ["memballoon.ko"] + virtio + ["virtio_balloon.ko"],
              "memballoon bound nothing: loads %s" % results[(True, False)])
        check(results[(False, True)] == virtio + ["virtio_balloon.ko"] and
              results[(False, False)] == virtio + ["virtio_balloon.ko"],
              "no memballoon.ko: loads %s" % results[(False, False)])
        ctx.note("%s: dkms build %.0fs, signed, %s skipped, broken tree failed; modprobe: "
                 "memballoon, else virtio_balloon" % (kver, secs, old))
    finally:
        shutil.rmtree(tree, ignore_errors=True)
