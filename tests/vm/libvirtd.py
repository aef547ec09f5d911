"""A private libvirtd for one test, and a libvirt guest driven the way an
admin drives one: virsh, and qemu-guest-agent commands through it.

    with Libvirtd(logdir) as lv:
        lv.create(xml, "guest")                # virsh create (transient)
        lv.virsh("setmem", "guest", "1024M", "--live")
        rc, out = lv.agent_exec("guest", "uname -r")

libvirtd hard-codes /etc/libvirt, /run/libvirt, /var/lib/libvirt,
/var/log/libvirt and /var/cache/libvirt.  It runs in its own mount and PID
namespaces (unshare --mount --pid --fork --kill-child --mount-proc
--propagation private), whose first process (NAMESPACE_INIT, Debian's
python3) reaps what ends there; each of those directories is a scratch
directory of `workdir` (a temporary directory, short enough for the sockets
in it) bind-mounted over the real path; a
path the host does not have is made inside the namespace only, on an overlay
of its parent whose upper layer is in `workdir`, so nothing on the host is
created or changed.  A copy of /etc/passwd and /etc/group with the user and
groups the QEMU driver insists on (libvirt-qemu, kvm) is bound over the real
files inside the namespace.  virtlogd starts first, then libvirtd, whose
client socket lives in `workdir`/sock, outside the namespace:
qemu:///system?socket=<workdir>/sock/libvirt-sock.

Stopping destroys the domains (QEMU exits), then kills the namespace's first
process, which takes libvirtd, virtlogd and any QEMU left with it (the kernel
kills a PID namespace whole); unshare dies with the test process too
(PR_SET_PDEATHSIG), so a killed test run leaves nothing behind.  libvirtd's
and QEMU's logs are copied to `logdir` first.
"""
import base64
import ctypes
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

PR_SET_PDEATHSIG = 1

# qemu.conf: QEMU as root without any of the isolation that needs host setup
# (cgroups, namespaces, security drivers, file ownership changes), its
# console and logs through virtlogd.
QEMU_CONF = """\
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
cgroup_controllers = [ ]
namespaces = [ ]
stdio_handler = "logd"
"""

# where libvirt keeps things -> the scratch directory that replaces it
LIBVIRT_DIRS = (("etc", "/etc/libvirt"), ("run", "/run/libvirt"), ("lib", "/var/lib/libvirt"),
                ("log", "/var/log/libvirt"), ("cache", "/var/cache/libvirt"))

# PID 1 of the namespace (Debian's python3): the mounts, virtlogd, then
# libvirtd; it reaps every process that ends in the namespace (libvirt
# daemonizes the QEMUs it probes and runs: without a reaper their zombies
# would look alive to libvirt's kill-and-wait) and exits with libvirtd.
# argv[1] = the work directory, argv[2] = LIBVIRT_DIRS as JSON.
NAMESPACE_INIT = r"""
import json, os, subprocess, sys
W = sys.argv[1]
overlays = set()
def mp(scratch, target):
    # scratch over target; a missing target is made on an overlay of its
    # parent, inside this namespace only
    if not os.path.exists(target):
        parent = os.path.dirname(target)
        if parent not in overlays:
            o = os.path.join(W, "overlay" + parent.replace("/", "_"))
            os.makedirs(o + "/upper"); os.makedirs(o + "/work")
            subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                            "lowerdir=%s,upperdir=%s/upper,workdir=%s/work" % (parent, o, o),
                            parent], check=True)
            overlays.add(parent)
        os.makedirs(target, exist_ok=True)
    subprocess.run(["mount", "--bind", scratch, target], check=True)
for d, target in json.loads(sys.argv[2]):
    mp(os.path.join(W, d), target)
mp(os.path.join(W, "passwd"), "/etc/passwd")
mp(os.path.join(W, "group"), "/etc/group")
subprocess.run(["virtlogd", "-d"], check=True)
main = subprocess.Popen(["libvirtd"]).pid
while True:
    pid, status = os.wait()
    if pid == main:
        sys.exit(os.waitstatus_to_exitcode(status))
"""


class LibvirtError(Exception):
    pass


def _pdeathsig():
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.setsid()


def _passwd_group(work):
    """/etc/passwd and /etc/group with libvirt-qemu and kvm added if missing."""
    with open("/etc/passwd") as f:
        passwd = f.read()
    with open("/etc/group") as f:
        group = f.read()
    gids = {int(l.split(":")[2]) for l in group.splitlines() if l.count(":") >= 3}
    uids = {int(l.split(":")[2]) for l in passwd.splitlines() if l.count(":") >= 6}

    def free(used, start=64055):
        n = start
        while n in used:
            n += 1
        used.add(n)
        return n
    names = {l.split(":")[0] for l in group.splitlines()}
    if "kvm" not in names:
        group += "kvm:x:%d:\n" % free(gids)
    if "libvirt-qemu" not in names:
        qgid = free(gids)
        group += "libvirt-qemu:x:%d:\n" % qgid
    else:
        qgid = [int(l.split(":")[2]) for l in group.splitlines()
                if l.startswith("libvirt-qemu:")][0]
    if not any(l.startswith("libvirt-qemu:") for l in passwd.splitlines()):
        passwd += "libvirt-qemu:x:%d:%d:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin\n" % (
            free(uids), qgid)
    with open(os.path.join(work, "passwd"), "w") as f:
        f.write(passwd)
    with open(os.path.join(work, "group"), "w") as f:
        f.write(group)


class Libvirtd:
    """A libvirtd of our own (see the module's doc); a context manager."""

    def __init__(self, logdir, log=print, workdir=None):
        self.logdir = logdir
        self.log = log
        # sockets live here: a short path (AF_UNIX paths are <= 107 bytes)
        self.work = workdir or tempfile.mkdtemp(prefix="mb-libvirt-")
        self.sock = os.path.join(self.work, "sock", "libvirt-sock")
        self.uri = "qemu:///system?socket=" + self.sock
        self.proc = None
        self.domains = set()
        self.start_seconds = None

    # -- life cycle --------------------------------------------------------
    def start(self, timeout=90):
        t0 = time.monotonic()
        for d, _ in LIBVIRT_DIRS:
            os.makedirs(os.path.join(self.work, d), exist_ok=True)
        os.makedirs(os.path.dirname(self.sock), exist_ok=True)
        _passwd_group(self.work)
        with open(os.path.join(self.work, "etc", "qemu.conf"), "w") as f:
            f.write(QEMU_CONF)
        with open(os.path.join(self.work, "etc", "libvirtd.conf"), "w") as f:
            f.write('unix_sock_dir = "%s"\n' % os.path.dirname(self.sock))
            f.write('unix_sock_rw_perms = "0700"\nauth_unix_rw = "none"\nauth_unix_ro = "none"\n')
            f.write('log_outputs = "3:file:/var/log/libvirt/libvirtd.log"\n')
        self.stderr = open(os.path.join(self.work, "libvirtd.stderr"), "w")
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--mount-proc",
             "--propagation", "private", "/usr/bin/python3", "-c", NAMESPACE_INIT, self.work,
             json.dumps(LIBVIRT_DIRS)],
            stdin=subprocess.DEVNULL, stdout=self.stderr, stderr=subprocess.STDOUT,
            preexec_fn=_pdeathsig)
        deadline = t0 + timeout
        while True:
            if self.proc.poll() is not None:
                raise LibvirtError("libvirtd exited rc=%s: %s" % (self.proc.returncode,
                                                                  self._tail("libvirtd.stderr")))
            p = subprocess.run(["virsh", "-c", self.uri, "version"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            if p.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise LibvirtError("libvirtd did not answer within %ds: %s" % (
                    timeout, p.stdout.strip()[-300:]))
            time.sleep(0.3)
        self.start_seconds = time.monotonic() - t0
        self.log("libvirtd up in %.1fs (%s): %s" % (
            self.start_seconds, self.uri, " ".join(p.stdout.split())))
        return self

    def _tail(self, name, n=1500):
        try:
            with open(os.path.join(self.work, name), errors="replace") as f:
                return f.read()[-n:]
        except OSError:
            return ""

    def stop(self):
        """Destroy the domains, save the logs, end the namespace."""
        if self.proc is None:
            return
        try:
            if self.proc.poll() is None:
                for dom in list(self.domains):
                    self.destroy(dom)
        finally:
            self._save_logs()
            if self.proc.poll() is None:
                self.proc.kill()            # --kill-child: the namespace goes with it
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            self.proc = None
            self.stderr.close()
            shutil.rmtree(self.work, ignore_errors=True)

    def _save_logs(self):
        if not self.logdir:
            return
        os.makedirs(self.logdir, exist_ok=True)
        pairs = [(os.path.join(self.work, "log", "libvirtd.log"), "libvirtd.log"),
                 (os.path.join(self.work, "libvirtd.stderr"), "libvirtd.stderr.log")]
        qlogs = os.path.join(self.work, "log", "qemu")
        if os.path.isdir(qlogs):
            pairs += [(os.path.join(qlogs, f), "qemu-" + f) for f in os.listdir(qlogs)]
        for src, dst in pairs:
            try:
                shutil.copyfile(src, os.path.join(self.logdir, dst))
            except OSError:
                pass

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def host_path(self, path):
        """A path libvirtd names (inside its namespace) as seen from here."""
        for d, target in LIBVIRT_DIRS:
            if path == target or path.startswith(target + "/"):
                return os.path.join(self.work, d) + path[len(target):]
        return path

    # -- virsh -------------------------------------------------------------
    def virsh(self, *args, timeout=60, check=True):
        """Run virsh on our libvirtd; return its stdout (stripped)."""
        p = subprocess.run(["virsh", "-q", "-c", self.uri] + [str(a) for a in args],
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise LibvirtError("virsh %s: %s" % (" ".join(str(a) for a in args[:2]),
                                                 (p.stderr or p.stdout).strip()))
        return p.stdout.strip() if check else (p.returncode, p.stdout.strip(), p.stderr.strip())

    def create(self, xml, name):
        """Start a transient domain from XML (virsh create); return its name."""
        path = os.path.join(self.work, name + ".xml")
        with open(path, "w") as f:
            f.write(xml)
        self.virsh("create", path)
        self.domains.add(name)
        return name

    def destroy(self, dom):
        rc, out, err = self.virsh("destroy", dom, check=False)
        self.domains.discard(dom)
        return rc == 0

    def dommemstat(self, dom):
        """virsh dommemstat as {name: int} (KiB, counts, epoch seconds)."""
        out = self.virsh("dommemstat", dom)
        stats = {}
        for line in out.splitlines():
            k, _, v = line.partition(" ")
            if v.strip().lstrip("-").isdigit():
                stats[k] = int(v)
        return stats

    # -- qemu-guest-agent ----------------------------------------------------
    def agent(self, dom, cmd, args=None, timeout=10):
        """One guest agent command (virsh qemu-agent-command); its "return"."""
        msg = {"execute": cmd}
        if args is not None:
            msg["arguments"] = args
        out = self.virsh("qemu-agent-command", dom, "--timeout", str(int(timeout)),
                         json.dumps(msg), timeout=timeout + 30)
        return json.loads(out)["return"]

    def agent_ready(self, dom):
        rc, out, err = self.virsh("qemu-agent-command", dom, "--timeout", "5",
                                  '{"execute":"guest-ping"}', check=False, timeout=40)
        return rc == 0

    def wait_agent(self, dom, timeout):
        """Wait until the guest agent answers; return the seconds it took."""
        t0 = time.monotonic()
        while not self.agent_ready(dom):
            if time.monotonic() - t0 > timeout:
                raise LibvirtError("the guest agent of %s did not answer within %ds"
                                   % (dom, timeout))
            time.sleep(1)
        return time.monotonic() - t0

    def agent_exec(self, dom, script, timeout=60, input_data=None):
        """Run a sh script in the guest (guest-exec, guest-exec-status);
        return (exit code, stdout + stderr).  A script still running after
        timeout seconds is an error (the guest keeps running it)."""
        args = {"path": "/bin/sh", "arg": ["-c", "exec 2>&1; " + script],
                "capture-output": True}
        if input_data is not None:
            args["input-data"] = base64.b64encode(input_data).decode()
        pid = self.agent(dom, "guest-exec", args)["pid"]
        deadline = time.monotonic() + timeout
        delay = 0.1
        while True:
            st = self.agent(dom, "guest-exec-status", {"pid": pid})
            if st.get("exited"):
                out = base64.b64decode(st.get("out-data", "")).decode(errors="replace")
                if st.get("signal") is not None:
                    return 128 + st["signal"], out
                return st.get("exitcode", -1), out
            if time.monotonic() > deadline:
                raise LibvirtError("guest command still running after %ds: %s"
                                   % (timeout, script[:200]))
            time.sleep(delay)
            delay = min(delay * 2, 2)

    def agent_write(self, dom, path, data, chunk=48 * 1024):
        """Write a file in the guest (guest-file-open/-write/-close)."""
        h = self.agent(dom, "guest-file-open", {"path": path, "mode": "w"})
        try:
            for i in range(0, len(data), chunk):
                part = data[i:i + chunk]
                r = self.agent(dom, "guest-file-write",
                               {"handle": h, "buf-b64": base64.b64encode(part).decode()})
                if r.get("count") != len(part):
                    raise LibvirtError("guest-file-write %s: wrote %r of %d bytes"
                                       % (path, r.get("count"), len(part)))
        finally:
            self.agent(dom, "guest-file-close", {"handle": h})
