"""pytest's side of the VM tests: the kernel x QEMU matrix as parameters,
the guest factory as a fixture, and the result lines of tests/vm/report.py.

    /usr/bin/python3 -m pytest tests/vm --matrix check            # make check
    /usr/bin/python3 -m pytest tests/vm --kernel trixie-backports --qemu 10.0 --only stats -v

A test is a function test_<name>(ctx) in a test_*.py file here, with its time
limit as @pytest.mark.timeout(seconds) (pytest-timeout, SIGALRM; scaled by
MB_TIMEOUT_SCALE here).  Its scope says where it runs: unmarked, once per
kernel x QEMU cell (stats[bookworm/qemu-7.2]); @pytest.mark.kernel once per
kernel, without a guest (build_w1[bookworm]); @pytest.mark.once once per run
(checkpatch).  Each such cell is a value of the session-scoped fixture `cell`
(matrix.Cell): its setup fetches the kernel, builds the module and finds QEMU
when its first test starts, once per run, and the tests are ordered so that
every cell's tests run together.  `ctx` is a harness.Ctx for one test: it
boots guests on the cell's kernel and QEMU, and closes them afterwards, when
their consoles are scanned (a WARNING:, BUG:, Oops, KASAN ... line fails a
test that passed).

--only takes test names or globs, comma separated or repeated, or a full name
as --list prints it (stats[bookworm-backports/qemu-10.0]); pytest's -k and -m
(kernel, once) select too.  -v shows each test's log lines as they are
written.  Results also go to <out>/junit.xml (--junitxml elsewhere).
"""
import fnmatch
import os
import signal

import pytest

import harness
import matrix
import report
import vm as vmmod
from knobs import scaled

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

from report import CALL, CTX, PLAN, cell_of, full_name, name_of  # noqa: E402


def pytest_addoption(parser):
    g = parser.getgroup("memballoon", "memballoon VM tests (tests/vm/conftest.py)")
    g.addoption("--matrix", choices=sorted(matrix.MATRICES),
                help="a named kernel x QEMU matrix (check: make check, full: make check-matrix)")
    g.addoption("--kernel", action="append", default=[],
                help="kernel id (%s) or KEY=VALUE env file; repeatable; narrows --matrix"
                % ", ".join(matrix.KERNELS))
    g.addoption("--qemu", action="append", default=[],
                help="7.2, 10.0, system, or a path to qemu-system-x86_64 or a wrapper; "
                "repeatable; narrows --matrix")
    g.addoption("--module", default="build",
                help="build (driver/ built per kernel), intree (the kernel's "
                "virtio_balloon.ko) or a .ko file (one kernel only)")
    g.addoption("--kernel-env", help="file of KEY=VALUE lines from scripts/guest-kernel.sh")
    g.addoption("--vmlinuz", help="a kernel given by its image (with --moddir, --kdir)")
    g.addoption("--moddir")
    g.addoption("--kdir")
    g.addoption("--only", action="append", default=[],
                help="run only these tests: names or globs, comma separated, or full "
                "names as --list prints them, e.g. stats[bookworm/qemu-7.2]")
    g.addoption("--out", default=os.path.join(REPO, "build", "test-logs"),
                help="logs, one directory per cell, setup.log, junit.xml "
                "(default build/test-logs)")
    g.addoption("--list", action="store_true", help="list the tests the options select")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if not hasattr(config.option, "matrix"):        # pytest --help without this directory
        return
    o = config.option
    o.out = os.path.abspath(o.out)
    # a kernel given by its paths (--vmlinuz/--moddir/--kdir or VMLINUZ ... in
    # the environment): written to an env file like guest-kernel.sh's
    if not o.kernel_env and not o.kernel and (o.vmlinuz or os.environ.get("VMLINUZ")):
        os.makedirs(o.out, exist_ok=True)
        o.kernel_env = os.path.join(o.out, "kernel-args.env")
        with open(o.kernel_env, "w") as f:
            for k, v in (("VMLINUZ", o.vmlinuz or os.environ.get("VMLINUZ")),
                         ("MODDIR", o.moddir or os.environ.get("MODDIR", "")),
                         ("KDIR", o.kdir or os.environ.get("KDIR", ""))):
                f.write("%s=%s\n" % (k, v))
    cells = matrix.plan(o.matrix, o.kernel, o.qemu, o.kernel_env)
    if o.module not in ("build", "intree") and \
            len({c.kernel for c in cells if c.scope == "vm"}) > 1:
        raise pytest.UsageError("--module %s cannot serve several kernels (use build)" % o.module)
    config.stash[PLAN] = matrix.Plan(cells, o.out, o.module)
    if not o.xmlpath and not o.list:
        o.xmlpath = os.path.join(o.out, "junit.xml")
    # The result lines are report.py's: pytest's own per-test letters,
    # tracebacks and summary stay silent (pytest -v means the tests' log lines)
    echo = o.verbose > 0
    o.verbose = -2
    o.reportchars = ""
    config.pluginmanager.register(report.Reporter(config, echo), "memballoon-report")

    def interrupt(signum, frame):
        raise KeyboardInterrupt("signal %d" % signum)
    # make check killed: the VMs are closed and the summary printed
    signal.signal(signal.SIGTERM, interrupt)
    signal.signal(signal.SIGHUP, interrupt)


def pytest_unconfigure(config):
    plan = config.stash.get(PLAN, None)
    if plan:
        plan.close()


# ---------------------------------------------------------------------------
# the matrix as parameters

def scope_of(node):
    for scope in ("once", "kernel", "distro"):
        if node.get_closest_marker(scope):
            return scope
    return "vm"


def pytest_generate_tests(metafunc):
    if "cell" not in metafunc.fixturenames:
        return
    scope = scope_of(metafunc.definition)
    if scope == "once":
        return                      # the cell fixture's default: the plan's once cell
    cells = [c for c in metafunc.config.stash[PLAN].cells if c.scope == scope]
    # session scope: every cell's tests run together, its setup once
    metafunc.parametrize("cell", cells, ids=[c.id for c in cells], indirect=True,
                         scope="session")


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(session, config, items):
    """The cells' test selections and --only, then the order of the run:
    the once cell, each kernel, each kernel x QEMU, in the plan's order."""
    o = config.option
    cells = config.stash[PLAN].cells
    pats = [p for opt in o.only for p in opt.split(",") if p]
    name_pats = [p for p in pats if "[" not in p]
    full_pats = [p for p in pats if "[" in p]

    def wanted(item):
        cell = cell_of(item)
        if cell is None or not cell.selects(name_of(item)):
            return False
        return not pats or any(fnmatch.fnmatch(name_of(item), p) for p in name_pats) \
            or full_name(item) in full_pats
    keep = [i for i in items if wanted(i)]
    if len(keep) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
    keep.sort(key=lambda i: cells.index(cell_of(i)))
    items[:] = keep
    # the distro tier's image builds while the cells before it run
    distro_cells = {cell_of(i) for i in keep if cell_of(i).scope == "distro"}
    if not o.list and not o.collectonly:
        for cell in distro_cells:
            config.stash[PLAN].prefetch(cell)
    if o.list:
        for item in items:
            print(full_name(item))
        items[:] = []
        # nothing else to say (pytest would close with an empty line)
        config.pluginmanager.unregister(name="terminalreporter")
    elif not items:
        reporter = config.pluginmanager.get_plugin("memballoon-report")
        reporter.nothing_selected(",".join(pats) or "the options")


# ---------------------------------------------------------------------------
# fixtures

@pytest.fixture(scope="session")
def cell(request):
    """The test's matrix.Cell, set up: kernel fetched, module built and packed
    into an initramfs, QEMU found (each once per run; a failure fails every
    test of the cell, reported once as FAIL setup[cell])."""
    plan = request.config.stash[PLAN]
    return plan.setup(getattr(request, "param", None) or plan.cells[0])


@pytest.fixture
def ctx(request, cell):
    """The test's harness.Ctx: boots guests on its cell's kernel and QEMU
    (ctx.boot), logs to <out>/<cell>/<test>.log; afterwards closes them,
    and fails a test that passed if a guest console shows a kernel problem."""
    item = request.node
    outdir = cell.outdir(request.config.option.out)
    os.makedirs(outdir, exist_ok=True)
    # tests that construct VM() themselves run on the cell's QEMU too
    vmmod.DEFAULT_QEMU = cell.qemu_path or "qemu-system-x86_64"
    reporter = request.config.pluginmanager.get_plugin("memballoon-report")
    c = harness.Ctx(name_of(item), cell.kenv, cell.initrd, cell.module, outdir,
                    echo=reporter.echo if reporter.echo_logs else None,
                    qemu=cell.qemu_path, qemu_version=cell.qemu_version)
    item.stash[CTX] = c
    yield c
    problems = c.close_all()
    call = item.stash.get(CALL, None)
    if problems and call is not None and not call.skipped:
        raise harness.TestFailure("guest console: %s" % problems[0].strip())


@pytest.fixture
def vm(ctx):
    """The standard guest, for tests that need no other: MB_GUEST_MIB of RAM,
    a plain balloon, the module under test loaded and bound.  Tests that
    need other guests (balloon options, machines, several) boot them with
    ctx.boot.  Booting is bounded by the guest's own boot timeout, not the
    test's (which counts from the call)."""
    guest = ctx.boot()
    ctx.load_driver(guest)
    return guest


def pytest_itemcollected(item):
    """A test's own timeout, scaled by MB_TIMEOUT_SCALE."""
    m = item.get_closest_marker("timeout")
    if m and m.args:
        item.add_marker(pytest.mark.timeout(scaled(m.args[0])), append=False)
