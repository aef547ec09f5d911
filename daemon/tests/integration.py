#!/usr/bin/python3
"""memballoond as a process, on this machine, no VM: the event loop, TCP,
sd_notify (READY, WATCHDOG, STATUS, RELOADING, STOPPING), SIGHUP reload,
SIGTERM, journal log prefixes, --print-config, bad configurations.

/proc comes from tests/fixtures/proc-guest (--proc-root), so the values the
daemon serves are known.  No memballoon module on the host: the driver
reads "unloaded".  Run from daemon/: tests/integration.py ./memballoond
Ends with "integration: N passed, N failed".
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PROC = os.path.join(HERE, "fixtures", "proc-guest")
MOM = (b"mem_available:2014152,mem_unused:1965296,mem_free:1894428,swap_in:0,"
       b"swap_out:0,major_fault:0,minor_fault:4261\n")
results = []


def check(name, cond, detail=""):
    results.append(cond)
    print("%s %s%s" % ("ok  " if cond else "FAIL", name, "" if cond else ": " + detail),
          flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Notify:
    """The systemd side of sd_notify: a datagram socket."""

    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.msgs = []

    def wait(self, text, timeout=5):
        deadline = time.monotonic() + timeout
        while True:
            for i, m in enumerate(self.msgs):
                if text in m:
                    del self.msgs[: i + 1]
                    return m
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.s.settimeout(left)
            try:
                self.msgs.append(self.s.recv(4096).decode())
            except socket.timeout:
                return None


def connect(port, timeout=5):
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=5)
        except OSError:
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)


def ask(sock, line):
    sock.sendall(line)
    f = sock.makefile("rb")
    return f.readline()


def main():
    daemon = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "./memballoond")
    tmp = tempfile.mkdtemp(prefix="mbd-integration-")
    conf = os.path.join(tmp, "memballoond.conf")
    port, port2 = free_port(), free_port()

    with open(conf, "w") as f:
        f.write("tcp = 127.0.0.1:%d\nserial_port = off\nsample_interval = 1\n" % port)
    notify = Notify(os.path.join(tmp, "notify"))
    # started as root, the daemon runs as user= (nobody here): it must still
    # reach the notify socket and read its configuration on reload
    os.chmod(tmp, 0o755)
    os.chmod(notify.path, 0o666)
    logpath = os.path.join(tmp, "log")
    env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC="400000")
    env.pop("JOURNAL_STREAM", None)
    log = open(logpath, "w")
    p = subprocess.Popen([daemon, "-c", conf, "--proc-root", PROC, "--psi-trigger", "off",
                          "--set", "user=nobody"], env=env, stderr=log, stdout=log)
    try:
        check("READY=1", notify.wait("READY=1") is not None)
        st = notify.wait("STATUS=", 3)
        check("STATUS=", st is not None and "balloon" in st, repr(st))
        check("WATCHDOG=1 within the watchdog period", notify.wait("WATCHDOG=1", 1) is not None)

        status = open("/proc/%d/status" % p.pid).read()
        ids = [l.split()[1:] for l in status.splitlines() if l.startswith(("Uid:", "Gid:"))]
        caps = [l.split()[1] for l in status.splitlines() if l.startswith("Cap")]
        want_uid = "65534" if os.getuid() == 0 else str(os.getuid())
        check("privileges: not root, no capability, no_new_privs",
              all(i == want_uid for i in ids[0]) and set(caps) == {"0000000000000000"} and
              "NoNewPrivs:\t1" in status, status)

        s = connect(port)
        check("TCP listener", s is not None)
        r = json.loads(ask(s, b'{"cmd":"snapshot","id":"x"}\n'))
        check("snapshot", r.get("reply") == "snapshot" and r.get("id") == "x", repr(r)[:200])
        check("snapshot values from /proc", r["memory_kib"]["total"] == 2014152 and
              r["psi"]["some"]["total_us"] == 5723361 and r["vmstat"]["pgfault"] == 4261,
              repr(r)[:300])
        check("driver unloaded without the module", r["driver"] == "unloaded" and
              r["devices"] == [], repr(r["driver"]))
        m = connect(port)
        check("MOM stats", ask(m, b"stats\n") == MOM)
        m.close()

        r = json.loads(ask(s, b'{"cmd":"subscribe","samples":true}\n'))
        check("subscribe", r.get("ok") is True and r.get("samples") is True, repr(r))
        s.settimeout(3)
        line = s.makefile("rb").readline()
        ev = json.loads(line) if line else {}
        check("periodic sample event", ev.get("event") == "sample" and
              ev.get("memory_kib", {}).get("total") == 2014152, repr(line)[:200])

        # reload: new TCP port; connected clients stay
        with open(conf, "w") as f:
            f.write("tcp = 127.0.0.1:%d\nserial_port = off\nsample_interval = 1\n" % port2)
        p.send_signal(signal.SIGHUP)
        check("RELOADING=1 on SIGHUP", notify.wait("RELOADING=1") is not None)
        check("READY=1 after reload", notify.wait("READY=1") is not None)
        s2 = connect(port2)
        check("reload moved the TCP listener", s2 is not None and connect(port, 0.3) is None)
        s.sendall(b'{"cmd":"ping"}\n')
        f = s.makefile("rb")
        reply = None
        for _ in range(20):             # sample events may come first
            line = f.readline()
            if not line:
                break
            if json.loads(line).get("reply") == "ping":
                reply = line
                break
        check("existing connection survives a reload", reply is not None)
        s.close()

        # a broken file keeps the running configuration
        with open(conf, "w") as f:
            f.write("tcp = 127.0.0.1:%d\nbogus_key = 1\n" % port)
        p.send_signal(signal.SIGHUP)
        notify.wait("READY=1", 1)
        time.sleep(0.3)
        s2b = connect(port2, 1)
        check("broken config on reload is refused", s2b is not None and
              ask(s2b, b"stats\n") == MOM)
        if s2b:
            s2b.close()
        if s2:
            s2.close()

        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(5)
        except subprocess.TimeoutExpired:
            rc = None
        check("SIGTERM: exit 0", rc == 0, "rc=%r" % rc)
        check("STOPPING=1", notify.wait("STOPPING=1", 1) is not None)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        log.close()
    text = open(logpath).read()
    check("reload failure logged", "unknown key 'bogus_key'" in text and
          "keeping the running configuration" in text, text[-400:])
    check("plain log lines without a journal", text.startswith("memballoond: "), text[:80])

    # under systemd with stderr as the journal: "<N>" priority prefixes
    jlog = os.path.join(tmp, "jlog")
    with open(jlog, "w") as f:
        st = os.fstat(f.fileno())
        env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
        env.pop("NOTIFY_SOCKET", None)
        rc = subprocess.run([daemon, "-c", "/nonexistent.conf"], env=env, stderr=f).returncode
    text = open(jlog).read()
    check("journal prefixes, missing --config file is an error", rc == 1 and
          text.startswith("<3>config: /nonexistent.conf: No such file"), repr(text))

    out = subprocess.run([daemon, "-c", "/dev/null", "--tcp", "[::1]:2187", "-s",
                          "inflate_floor=25%", "--print-config"],
                         stdout=subprocess.PIPE, text=True).stdout
    check("--print-config shows overrides", "tcp = [::1]:2187\n" in out and
          "inflate_floor = 25%\n" in out, out)
    r = subprocess.run([daemon, "-c", "/dev/null", "--set", "max_clients=0"],
                       stderr=subprocess.PIPE, text=True)
    check("bad override: exit 1 with the reason", r.returncode == 1 and
          "max_clients: expected 1..1024" in r.stderr, r.stderr)
    if os.getuid() == 0:
        r = subprocess.run([daemon, "-c", "/dev/null", "--set", "user=no-such-user-mb"],
                           stderr=subprocess.PIPE, text=True)
        check("unknown user: exit 1 naming the fix", r.returncode == 1 and
              "user 'no-such-user-mb' does not exist: create it" in r.stderr, r.stderr)
    r = subprocess.run([daemon, "--bogus"], stderr=subprocess.PIPE, text=True)
    check("unknown option: exit 2", r.returncode == 2)

    failed = results.count(False)
    print("integration: %d passed, %d failed" % (len(results) - failed, failed))
    subprocess.run(["rm", "-rf", tmp])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
