#!/usr/bin/python3
"""memballoond as a process, on this machine, no VM: the event loop, TCP,
sd_notify (READY, WATCHDOG, STATUS, RELOADING, STOPPING), SIGHUP reload,
SIGTERM, journal log prefixes, --print-config, bad configurations, drop-in
files (one overrides the main file, a reload picks up a new one); then
hostile peers on TCP (127.0.0.1): resets after bad and oversized lines,
idle connections, a subscriber that never reads, request floods, a peer
tcp_allow refuses, while a well-behaved client is answered throughout and
the daemon's pid and RSS stay put.

/proc comes from tests/fixtures/proc-guest (--proc-root), so the values the
daemon serves are known.  No memballoon module on the host: the driver
reads "unloaded".  Run from daemon/: tests/integration.py ./memballoond
Ends with "integration: N passed, N failed".
"""
import json
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
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


def stop(p):
    """SIGTERM, then SIGKILL if it has not exited within 5 s; its exit status."""
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    return p.returncode


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
    for how in (["--tcp", "2187"], ["-s", "tcp=2187"]):
        r = subprocess.run([daemon, "-c", "/dev/null"] + how + ["--print-config"],
                           stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        check("bare TCP port %s refused, the fix named" % " ".join(how), r.returncode == 1 and
              "a bare port is refused" in r.stderr and "0.0.0.0:2187" in r.stderr, r.stderr)
    bare = os.path.join(tmp, "bare.conf")
    with open(bare, "w") as f:
        f.write("tcp = 2187\n")
    r = subprocess.run([daemon, "-c", bare], stderr=subprocess.PIPE, text=True)
    check("bare TCP port in the file refused", r.returncode == 1 and
          "line 1: tcp: a bare port is refused" in r.stderr, r.stderr)
    out = subprocess.run([daemon, "-c", "/dev/null", "--print-config"],
                         stdout=subprocess.PIPE, text=True).stdout
    check("defaults: idle_timeout 60, request_rate 20, vsock_allow 2, tcp_allow any",
          "idle_timeout = 60\n" in out and "request_rate = 20\n" in out and
          "vsock_allow = 2\n" in out and "tcp_allow = any\n" in out, out)

    dropins(daemon, tmp)
    hostile(daemon, tmp)

    failed = results.count(False)
    print("integration: %d passed, %d failed" % (len(results) - failed, failed))
    subprocess.run(["rm", "-rf", tmp])
    return 1 if failed else 0


# ---------------------------------------------------------------------------
# drop-ins: FILE.d/*.conf after FILE, in lexical order, on start and reload

def listening(port):
    """The daemon answers MOM's stats on port."""
    return ask_mom(port) if connect(port, 0.3) else False


def wait_for(cond, timeout=5):
    """cond() true within timeout seconds (polled every 100 ms)."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True


def dropins(daemon, tmp):
    main_port, drop_port, new_port = free_port(), free_port(), free_port()
    conf = os.path.join(tmp, "dropins.conf")
    d = conf + ".d"
    os.mkdir(d)
    os.chmod(d, 0o755)
    with open(conf, "w") as f:
        f.write("tcp = 127.0.0.1:%d\nserial_port = off\npsi_trigger = off\n"
                "max_clients = 3\nuser = nobody\n" % main_port)
    with open(os.path.join(d, "50-tcp.conf"), "w") as f:
        f.write("tcp = 127.0.0.1:%d\n" % drop_port)
    with open(os.path.join(d, "40-clients.conf"), "w") as f:
        f.write("max_clients = 5\nrequest_rate = 7\n")
    with open(os.path.join(d, "README"), "w") as f:
        f.write("not a drop-in = 1\n")

    out = subprocess.run([daemon, "-c", conf, "-s", "request_rate=9", "--print-config"],
                         stdout=subprocess.PIPE, text=True).stdout
    check("--print-config: the files in order, the merged values",
          out.startswith("# memballoond configuration: %s, %s/40-clients.conf, "
                         "%s/50-tcp.conf, the command line\n" % (conf, d, d)) and
          "\ntcp = 127.0.0.1:%d\n" % drop_port in out and "\nmax_clients = 5\n" in out and
          "\nrequest_rate = 9\n" in out and "\npsi_trigger = off\n" in out, out[:600])

    logpath = os.path.join(tmp, "dropins.log")
    log = open(logpath, "w")
    p = subprocess.Popen([daemon, "-c", conf, "--proc-root", PROC], stderr=log, stdout=log)
    try:
        check("a drop-in overrides the main file's tcp", wait_for(lambda: listening(drop_port))
              and not listening(main_port), open(logpath).read()[-300:])
        # a new drop-in, later in lexical order, picked up by a reload
        with open(os.path.join(d, "60-tcp.conf"), "w") as f:
            f.write("tcp = 127.0.0.1:%d\n" % new_port)
        p.send_signal(signal.SIGHUP)
        check("a reload picks up a new drop-in",
              wait_for(lambda: listening(new_port) and not listening(drop_port), 10),
              open(logpath).read()[-300:])
        # a broken drop-in is an error like a broken main file: nothing changes
        with open(os.path.join(d, "70-bad.conf"), "w") as f:
            f.write("max_clients = 0\n")
        p.send_signal(signal.SIGHUP)
        wait_for(lambda: "keeping the running configuration" in open(logpath).read())
        text = open(logpath).read()
        check("a broken drop-in: named, the running configuration kept",
              "%s/70-bad.conf: line 1: max_clients: expected 1..1024" % d in text and
              listening(new_port), text[-400:])
    finally:
        stop(p)
        log.close()


# ---------------------------------------------------------------------------
# hostile peers

IDLE_S = 2                      # idle_timeout of the daemon under attack
RATE = 20                       # request_rate
MAX_CLIENTS = 4
ROUNDS = 100                    # resets after bad lines, and after an oversized line
LATENCY_MAX_S = 0.25            # a well-behaved client's worst answer time (shared CPU)
LATENCY_P50_S = 0.02
RSS_GROWTH_MAX_KIB = 4096       # VmRSS after the attacks minus before
OUT_MAX = 256 * 1024            # CLIENT_OUT_MAX


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def reset(sock):
    """close() with a RST instead of a FIN"""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def hangup(sock, timeout):
    """(seconds until the daemon hung up (EOF or reset) or None, bytes it sent meanwhile)"""
    t0 = time.monotonic()
    deadline = t0 + timeout
    got = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None, got
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return None, got
        except OSError:
            return time.monotonic() - t0, got
        if not chunk:
            return time.monotonic() - t0, got
        got += len(chunk)


class Monitor(threading.Thread):
    """The well-behaved host: one connection, a ping every 100 ms (10 Hz),
    each answer timed."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.sock = connect(port)
        self.sock.settimeout(5)
        self.f = self.sock.makefile("rb")
        self.lat = []
        self.errors = []
        self.stop = threading.Event()

    def run(self):
        n = 0
        while not self.stop.is_set():
            n += 1
            t0 = time.monotonic()
            try:
                self.sock.sendall(b'{"cmd":"ping","id":%d}\n' % n)
                r = json.loads(self.f.readline())
                if r.get("reply") != "ping" or r.get("id") != n:
                    self.errors.append(repr(r))
            except (OSError, ValueError) as e:
                self.errors.append("%s after %.2fs" % (e, time.monotonic() - t0))
                return
            self.lat.append(time.monotonic() - t0)
            self.stop.wait(0.1)

    def summary(self):
        lat = sorted(self.lat) or [float("inf")]
        return (lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))], lat[-1],
                len(self.lat))


def hostile(daemon, tmp):
    port = free_port()
    conf = os.path.join(tmp, "hostile.conf")
    with open(conf, "w") as f:
        f.write("tcp = 127.0.0.1:%d\nserial_port = off\nsample_interval = 1\n"
                "max_clients = %d\nrequest_timeout = 3\nidle_timeout = %d\n"
                "request_rate = %d\npsi_trigger = off\nuser = nobody\n" % (port, MAX_CLIENTS, IDLE_S, RATE))
    logpath = os.path.join(tmp, "hostile.log")
    log = open(logpath, "w")
    p = subprocess.Popen([daemon, "-c", conf, "--proc-root", PROC], stderr=log, stdout=log)
    mon = None
    try:
        mon = Monitor(port)
        mon.start()
        time.sleep(0.5)
        rss0 = rss_kib(p.pid)

        # the crash: bad lines (or one oversized line), then a reset at once
        for what, data in (("8 bad lines", b"bad\n" * 8), ("a 5000-byte line", b"x" * 5000 + b"\n")):
            done = 0
            for _ in range(ROUNDS):
                s = connect(port, 1)
                if not s:
                    break
                try:
                    s.sendall(data)
                except OSError:
                    pass                    # refused at once: max_clients
                reset(s)
                done += 1
            check("reset after %s, %d times: daemon alive" % (what, ROUNDS),
                  done == ROUNDS and p.poll() is None,
                  "%d rounds, then exit %r: %s" % (done, p.poll(), open(logpath).read()[-300:]))
        # the last resets may still sit in the listen queue: give the daemon a moment
        check("no slot leaked by the resets", wait_for(lambda: ask_mom(port), 2),
              "MOM request failed")

        # idle connections hold no slot for good (the monitor holds one)
        idle = [(connect(port), time.monotonic()) for _ in range(MAX_CLIENTS - 1)]
        time.sleep(0.2)
        extra = connect(port)
        t, _ = hangup(extra, 2)
        check("a connection past max_clients is closed at once", t is not None and t < 1,
              "t=%r" % t)
        extra.close()
        times = []
        for s, t_conn in idle:
            t, _ = hangup(s, IDLE_S + 3)
            times.append(time.monotonic() - t_conn if t is not None else None)
        check("idle connections closed after idle_timeout (%d s): %s s" %
              (IDLE_S, ", ".join("%.2f" % (x or -1) for x in times)),
              all(x is not None and IDLE_S - 0.2 <= x <= IDLE_S + 1 for x in times),
              "closed after %r s" % times)
        for s, _ in idle:
            s.close()
        check("a new client is accepted after the idle ones went", ask_mom(port),
              "MOM request failed")

        # a flood that never reads: its answers pile up in the daemon to the
        # output cap (the kernel's buffers are fixed), then it is cut off
        cut = {}

        def nonreader():
            fl = socket.socket()
            fl.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
            fl.connect(("127.0.0.1", port))
            t0 = time.monotonic()
            flood(fl, 40.0, read=False)
            cut["t"] = time.monotonic() - t0
            fl.close()
        th = threading.Thread(target=nonreader, daemon=True)
        th.start()

        # a subscriber that never reads (a tiny receive buffer): snapshots it
        # never collects, samples pushed every second
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
        s.connect(("127.0.0.1", port))
        s.sendall(b'{"cmd":"subscribe","samples":true}\n')
        for _ in range(3):
            s.sendall(b'{"cmd":"snapshot"}\n' * RATE)
            time.sleep(1.05)                # a full line budget again
        time.sleep(IDLE_S + 1)              # not reading, sending nothing
        t, got = hangup(s, 1)
        check("a subscriber that never reads is closed after idle_timeout (output queued)",
              t is not None, "still open after %.1f s (read %d bytes)" % (IDLE_S + 2, got))
        s.close()

        # a flood that reads its answers: held to the rate, the monitor unharmed
        lat_before = len(mon.lat)
        fl = connect(port)
        got = flood(fl, 5.0, read=True)
        fl.close()
        check("a reading flood is held to request_rate (%d/s, burst %d): %d answers in 5 s"
              % (RATE, RATE, got), RATE * 4 <= got <= RATE * 5 + RATE + 2, "got %d" % got)
        check("the monitor was answered during the floods", len(mon.lat) - lat_before >= 30,
              "%d answers" % (len(mon.lat) - lat_before))
        th.join(45)
        t = cut.get("t")
        check("a flood that never reads is cut off (%d KiB queued) after %s s"
              % (OUT_MAX // 1024, "%.1f" % t if t else "-"), t is not None and t < 39,
              "still connected after 40 s")

        check("daemon alive, same pid", p.poll() is None, "exit %r" % p.poll())
        time.sleep(0.5)
        rss1 = rss_kib(p.pid)
        check("RSS bounded: %d -> %d KiB (limit +%d)" % (rss0, rss1, RSS_GROWTH_MAX_KIB),
              rss1 - rss0 <= RSS_GROWTH_MAX_KIB, "grew %d KiB" % (rss1 - rss0))
        mon.stop.set()
        mon.join(5)
        p50, p99, worst, n = mon.summary()
        print("    monitor: %d pings, latency p50 %.1f ms, p99 %.1f ms, max %.1f ms"
              % (n, p50 * 1000, p99 * 1000, worst * 1000), flush=True)
        check("well-behaved client answered throughout", not mon.errors and n > 100,
              "%r" % mon.errors[:3])
        check("its latency: p50 <= %.0f ms, max <= %.0f ms" % (LATENCY_P50_S * 1000,
                                                              LATENCY_MAX_S * 1000),
              p50 <= LATENCY_P50_S and worst <= LATENCY_MAX_S,
              "p50 %.1f ms, max %.1f ms" % (p50 * 1000, worst * 1000))
        text = open(logpath).read()
        check("connection messages rate-limited in the log",
              text.count(": connected") <= 30, "%d lines" % text.count(": connected"))
    finally:
        if mon:
            mon.stop.set()
        stop(p)
        log.close()
    check("SIGTERM after the attacks: exit 0", p.returncode == 0, "rc=%r" % p.returncode)

    # tcp_allow refuses 127.0.0.1 when it lists another prefix
    port = free_port()
    with open(conf, "w") as f:
        f.write("tcp = 127.0.0.1:%d\nserial_port = off\ntcp_allow = 10.0.0.0/8 ::1\n"
                "psi_trigger = off\nuser = nobody\n" % port)
    log = open(logpath, "w")
    p = subprocess.Popen([daemon, "-c", conf, "--proc-root", PROC], stderr=log, stdout=log)
    try:
        res = []
        for _ in range(30):
            s = connect(port)
            s.sendall(b"stats\n")
            res.append(hangup(s, 2))
            s.close()
        check("tcp_allow = 10.0.0.0/8 ::1 refuses 127.0.0.1 (closed, no answer)",
              all(t is not None and t < 1 and not got for t, got in res), "%r" % res[:5])
    finally:
        stop(p)
        log.close()
    text = open(logpath).read()
    n = text.count("refused, not in tcp_allow")
    check("refusals logged, rate-limited (%d of 30 logged)" % n, 1 <= n <= 10, text[-300:])


def ask_mom(port):
    s = connect(port, 2)
    if not s:
        return False
    try:
        s.settimeout(3)
        return ask(s, b"stats\n") == MOM
    except OSError:
        return False
    finally:
        s.close()


def flood(sock, seconds, read):
    """Send snapshot requests as fast as the socket takes them for `seconds`;
    with read, collect the answers (returns how many), else never read
    (returns when the daemon hangs up)."""
    sock.setblocking(False)
    req = b'{"cmd":"snapshot"}\n' * 64
    answers = 0
    buf = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            sock.send(req)
        except BlockingIOError:
            pass
        except OSError:
            return answers                  # the daemon hung up
        if read:
            try:
                chunk = sock.recv(1 << 20)
                if not chunk:
                    return answers
                buf += chunk
                answers += buf.count(b"\n")
                buf = buf[buf.rfind(b"\n") + 1:]
            except BlockingIOError:
                pass
            except OSError:
                return answers
        else:
            try:
                if sock.recv(1, socket.MSG_PEEK) == b"":
                    return answers
            except BlockingIOError:
                pass
            except OSError:
                return answers
        time.sleep(0.005)
    return answers


if __name__ == "__main__":
    sys.exit(main())
