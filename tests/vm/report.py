"""The VM tests' result lines (a pytest plugin that tests/vm/conftest.py
registers in place of pytest's own per-test output):

    # 6.12/qemu-7.2: kernel 6.12.95+deb12-amd64 (bookworm-backports), qemu-7.2 (...) ...
    PASS inflate_deflate[6.12/qemu-7.2] (12.3s) <the test's notes>
    FAIL stats[6.12/qemu-7.2]: <reason> (40.2s, log build/test-logs/6.12-qemu-7.2/stats.log)
    SKIP takeover[6.12/qemu-7.2]: <reason>
    FAIL setup[7.3/qemu-10.0]: <why the kernel, module or QEMU could not be had>
    ...
    # 6.12/qemu-7.2            PASS 17 passed, 0 failed in 438.1s
    # total 1745.0s
    68 passed, 0 failed

A test's name carries its cell as resolved (kernel and QEMU versions); a
cell whose setup failed is one FAIL line however many tests it has.  Each
test's log (<out>/<cell>/<test>.log) gets its traceback and whatever the
test printed (pytest captures it).
"""
import os
import time

import pytest

import matrix
from harness import Skip, module_name

PLAN = pytest.StashKey()        # matrix.Plan of the run, on the config
CTX = pytest.StashKey()         # the test's harness.Ctx, on the item
CALL = pytest.StashKey()        # the test's call-phase report, on the item


def name_of(item):
    """stats for test_stats (and for each of its cells)."""
    return item.originalname[len("test_"):]


def cell_of(item):
    """The item's matrix.Cell; None for a test without a cell of its scope."""
    spec = getattr(item, "callspec", None)
    if spec is None:
        return item.config.stash[PLAN].cells[0]          # the once cell
    c = spec.params.get("cell")
    return c if isinstance(c, matrix.Cell) else None


def full_name(item, cell=None):
    """The test's name with its cell: as given (stats[bookworm/qemu-7.2]),
    or as resolved when a set-up cell is passed (stats[6.1/qemu-7.2])."""
    c = cell or cell_of(item)
    where = c.label if cell else c.id
    return "%s[%s]" % (name_of(item), where) if where else name_of(item)


def reason_of(excinfo):
    """The first line a FAIL or SKIP line shows for an exception."""
    e = excinfo.value
    if isinstance(e, (AssertionError, Skip, pytest.fail.Exception)):
        why = str(e) or type(e).__name__
    else:
        why = "%s: %s" % (type(e).__name__, e)
    why = why.strip()
    return why.splitlines()[0] if why else ""


class Result:
    """One test's outcome, built from its setup, call and teardown reports."""

    def __init__(self, name, cell):
        self.name, self.cell = name, cell
        self.status = "PASS"
        self.reason = ""
        self.seconds = 0.0
        self.notes = []
        self.log = None
        self.setup_error = False        # its cell's setup failed


class Reporter:
    def __init__(self, config, echo_logs):
        self.config = config
        self.echo_logs = echo_logs      # pytest -v: the tests' log lines as they come
        self.results = {}               # nodeid -> Result
        self.cells = []                 # cells in the order they ran
        self.cell_counts = {}           # cell -> [passed, failed, skipped, seconds]
        self.failed_setups = set()
        self.announced = set()
        self.extra_failures = 0         # collection errors, empty selections, interruptions
        self.running = None
        self.interrupted = False
        self.t0 = time.monotonic()

    # -- output ------------------------------------------------------------
    def write(self, line):
        capman = self.config.pluginmanager.getplugin("capturemanager")
        if capman:
            with capman.global_and_fixture_disabled():
                print(line, flush=True)
        else:
            print(line, flush=True)

    def echo(self, line):
        self.write(line)

    def nothing_selected(self, what):
        self.write("no test matches %s" % what)
        self.extra_failures += 1

    # -- per test ----------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        rep = outcome.get_result()
        res = self.results.get(item.nodeid)
        if res is None:
            res = self.results[item.nodeid] = Result(name_of(item), cell_of(item))
        ctx = item.stash.get(CTX, None)
        if rep.when == "call":
            item.stash[CALL] = rep
        if ctx is not None:
            res.log = os.path.join(ctx.outdir, ctx.name + ".log")
            res.notes = ctx.notes
            # the test's time: from its ctx (after its cell's setup, before
            # its guests booted) until they are closed
            res.seconds = time.monotonic() - ctx._t0
        if rep.when == "setup" and rep.failed and res.cell is not None \
                and res.cell.error is not None:
            res.setup_error = True
            return
        if rep.failed or rep.skipped:
            why = reason_of(call.excinfo) if call.excinfo else rep.longreprtext.strip()
            if rep.skipped:
                if res.status == "PASS":
                    res.status, res.reason = "SKIP", why
            elif res.status == "FAIL":
                res.reason += " (%s)" % why      # e.g. the console of a failed test
            else:
                res.status, res.reason = "FAIL", why
                # A broken socket is QEMU's death seen from our side: say so,
                # with the guest's panic line if there is one.
                for vm in (ctx.vms if ctx else []):
                    if vm.proc is not None and vm.proc.poll() is not None \
                            and "QEMU exited" not in res.reason:
                        res.reason += " (QEMU %s exited rc=%s%s)" % (
                            vm.name, vm.proc.returncode, vm.death_reason())
        if res.log and rep.failed:
            with open(res.log, "a") as f:
                f.write("%s failed:\n%s\n" % (rep.when, rep.longreprtext))
        if res.log and rep.when == "teardown":
            # what the test printed, all phases (pytest captured it)
            with open(res.log, "a") as f:
                for title, text in rep.sections:
                    if text.strip():
                        f.write("%s:\n%s\n" % (title, text))

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item):
        self.running = item

    def pytest_runtest_logreport(self, report):
        res = self.results.get(report.nodeid)
        if res is None or res.cell is None:
            return
        cell = res.cell
        if cell not in self.cell_counts:
            self.cells.append(cell)
            self.cell_counts[cell] = [0, 0, 0, 0.0]
        counts = self.cell_counts[cell]
        counts[3] += report.duration
        if report.when == "setup":
            if cell.ready and cell.scope == "vm" and cell not in self.announced:
                self.announced.add(cell)
                self.write(self.header(cell))
            if res.setup_error and cell not in self.failed_setups:
                self.failed_setups.add(cell)
                counts[1] += 1
                self.write("FAIL setup[%s]: %s" % (cell.label or "-", cell.error))
            return
        if report.when != "teardown":
            return
        self.running = None
        if res.setup_error:
            return
        name = "%s[%s]" % (res.name, cell.label) if cell.label else res.name
        if res.status == "PASS":
            counts[0] += 1
            self.write("PASS %s (%.1fs) %s" % (name, res.seconds, " ".join(res.notes)))
        elif res.status == "SKIP":
            counts[2] += 1
            self.write("SKIP %s: %s" % (name, res.reason))
        else:
            counts[1] += 1
            self.write("FAIL %s: %s (%.1fs, log %s)" % (name, res.reason, res.seconds,
                                                        res.log or "-"))

    def header(self, cell):
        return "# %s: kernel %s (%s), %s (%s), module %s (driver %s), logs in %s" % (
            cell.label, cell.kenv.get("KVER", cell.kenv.get("VMLINUZ")), cell.kernel.spec,
            "qemu-%d.%d" % cell.qemu_version, cell.qemu_path, cell.module,
            module_name(cell.module), cell.outdir(self.config.option.out))

    def pytest_collectreport(self, report):
        if report.failed:
            self.extra_failures += 1
            self.write("FAIL collect[%s]: %s" % (report.nodeid or ".", report.longreprtext))

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report, config):
        """No progress letters: the result lines say it all."""
        if report.when != "call" and report.passed:
            return "", "", ""
        return ("error" if report.when != "call" and report.failed else report.outcome), "", ""

    def pytest_keyboard_interrupt(self, excinfo):
        self.interrupted = True

    # -- the end -----------------------------------------------------------
    @pytest.hookimpl(trylast=True)          # after junitxml's "generated xml file"
    def pytest_terminal_summary(self, terminalreporter, exitstatus, config):
        if config.option.list:
            return
        if self.interrupted and self.running:
            cell = cell_of(self.running)
            self.write("FAIL %s: interrupted" % full_name(
                self.running, cell if cell is not None and cell.ready else None))
            self.extra_failures += 1
        if not (len(self.cells) == 1 and self.cells[0].scope == "once"):
            for c in self.cells:
                p, f, s, secs = self.cell_counts[c]
                self.write("# %-24s %s %d passed, %d failed%s in %.1fs" % (
                    c.label or "(once)", "FAIL" if f else "PASS", p, f,
                    ", %d skipped" % s if s else "", secs))
        self.write("# total %.1fs" % (time.monotonic() - self.t0))
        passed = sum(c[0] for c in self.cell_counts.values())
        failed = sum(c[1] for c in self.cell_counts.values()) + self.extra_failures
        skipped = sum(c[2] for c in self.cell_counts.values())
        self.write("%d passed, %d failed%s" % (passed, failed,
                                               ", %d skipped" % skipped if skipped else ""))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus):
        # pytest's summary would repeat the tracebacks the logs have
        session.config.option.tbstyle = "no"
        if session.config.option.list:
            session.exitstatus = 0      # a listing is not "no tests ran"
        elif self.extra_failures and session.exitstatus in (0, 5):
            session.exitstatus = 1
