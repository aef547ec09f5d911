"""Minimal QMP client (standard library only), used the way libvirt uses QMP
for a virtio balloon: balloon / query-balloon / BALLOON_CHANGE, guest stats via
qom-set guest-stats-polling-interval + qom-get guest-stats, device_add/del.

Asynchronous events that arrive while waiting for a command's reply are
buffered in self.events (a list of dicts with 'event', 'data', 'timestamp').
"""
import json
import select
import socket
import time

from knobs import scaled


def connect_unix(path, deadline, alive=None):
    """A stream socket connected to the unix socket path, retried until the
    time.monotonic() deadline while its server starts; None after that.
    alive(), if given, runs before every try (to raise if the server died)."""
    while True:
        if alive:
            alive()
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(path)
            return s
        except OSError:
            s.close()
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)


class QMPError(Exception):
    pass


class QMPTimeout(QMPError):
    pass


class QMP:
    def __init__(self, path, timeout=30.0):
        self.path = path
        self.sock = None
        self.buf = b""
        self.events = []
        self.next_id = 1
        # the bus device_add puts a PCI device on when the caller names none
        # (a machine whose root bus cannot hot-plug: tests/vm/vm.py)
        self.pci_bus = None
        deadline = time.monotonic() + timeout
        self.sock = connect_unix(path, deadline)
        if self.sock is None:
            raise QMPTimeout("cannot connect to QMP socket %s" % path)
        greeting = self._read_msg(deadline)
        # QEMU 7.2 has been seen to send the RESUME of a starting guest ahead
        # of the greeting: keep such events, then expect the greeting.
        while greeting is not None and "event" in greeting:
            self.events.append(greeting)
            greeting = self._read_msg(deadline)
        if greeting is None or "QMP" not in greeting:
            raise QMPError("unexpected QMP greeting: %r" % greeting)
        self.cmd("qmp_capabilities")

    # -- transport -----------------------------------------------------------
    def _read_msg(self, deadline):
        """Return the next JSON message; None if deadline passed (deadline
        None: block)."""
        while b"\n" not in self.buf:
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            r, _, _ = select.select([self.sock], [], [], wait)
            if not r:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                raise QMPError("QMP connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.strip()
        if not line:
            return self._read_msg(deadline)
        return json.loads(line)

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            finally:
                self.sock = None

    # -- commands ------------------------------------------------------------
    def cmd(self, name, args=None, timeout=60.0):
        """Execute a command, return its 'return' value; raise QMPError on error."""
        mid = self.next_id
        self.next_id += 1
        req = {"execute": name, "id": mid}
        if args:
            req["arguments"] = args
        self.sock.sendall(json.dumps(req).encode() + b"\n")
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read_msg(deadline)
            if msg is None:
                raise QMPTimeout("no reply to %s within %.0fs" % (name, timeout))
            if "event" in msg:
                self.events.append(msg)
                continue
            if msg.get("id") != mid:
                continue
            if "error" in msg:
                raise QMPError("%s: %s: %s" % (name, msg["error"].get("class"),
                                               msg["error"].get("desc")))
            return msg.get("return")

    def poll_events(self, timeout=0.0):
        """Read any events pending (waiting up to timeout s for the first)."""
        deadline = time.monotonic() + timeout
        while True:
            msg = self._read_msg(deadline)
            if msg is None:
                return
            if "event" in msg:
                self.events.append(msg)
            deadline = time.monotonic()  # drain the rest without waiting

    def take_events(self, name=None):
        """Remove and return buffered events (all, or those named name)."""
        self.poll_events(0)
        if name is None:
            out, self.events = self.events, []
            return out
        out = [e for e in self.events if e["event"] == name]
        self.events = [e for e in self.events if e["event"] != name]
        return out

    def wait_event(self, name, timeout=30.0, pred=None):
        """Wait for an event named name (and matching pred(data)); return it.
        The timeout is scaled by MB_TIMEOUT_SCALE."""
        timeout = scaled(timeout)
        deadline = time.monotonic() + timeout
        while True:
            for i, e in enumerate(self.events):
                if e["event"] == name and (pred is None or pred(e.get("data", {}))):
                    return self.events.pop(i)
            left = deadline - time.monotonic()
            if left <= 0:
                raise QMPTimeout("no %s event within %.0fs" % (name, timeout))
            msg = self._read_msg(time.monotonic() + left)
            if msg is not None and "event" in msg:
                self.events.append(msg)

    # -- balloon helpers (what libvirt does) ---------------------------------
    def balloon(self, value_bytes):
        """Set the target logical guest size (RAM minus balloon), bytes."""
        return self.cmd("balloon", {"value": int(value_bytes)})

    def query_balloon(self):
        """Current logical guest size (RAM minus balloon), bytes."""
        return self.cmd("query-balloon")["actual"]

    def set_stats_interval(self, seconds, path="/machine/peripheral/balloon0"):
        return self.cmd("qom-set", {"path": path,
                                    "property": "guest-stats-polling-interval",
                                    "value": int(seconds)})

    def guest_stats(self, path="/machine/peripheral/balloon0"):
        """{'stats': {'stat-...': int}, 'last-update': epoch seconds}"""
        return self.cmd("qom-get", {"path": path, "property": "guest-stats"})

    def device_add(self, driver, **props):
        args = {"driver": driver}
        if self.pci_bus and "-pci" in driver:
            args["bus"] = self.pci_bus
        args.update(props)
        return self.cmd("device_add", args)

    def device_del(self, dev_id):
        return self.cmd("device_del", {"id": dev_id})

    def quit(self):
        try:
            self.cmd("quit", timeout=5)
        except QMPError:
            pass  # connection closes as QEMU exits
