"""Core balloon tests: inflate/deflate, legacy transport."""
from harness import test, TestFailure
from vm import MiB

RAM_MIB = 2048
TOUCH_MIB = 1536


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def inflate_deflate_body(ctx, balloon_opts=""):
    vm = ctx.boot(mem_mib=RAM_MIB, balloon_opts=balloon_opts)
    ctx.load_driver(vm)
    check(vm.qmp.query_balloon() == RAM_MIB * MiB, "balloon not empty after load")
    total0 = vm.meminfo()["MemTotal"]
    out = vm.sh("mbtool touch %d" % TOUCH_MIB, timeout=120)
    ctx.log(out.strip())
    rss0 = vm.rss_kib()
    ctx.log("MemTotal %d KiB, QEMU RSS after touch %d KiB" % (total0, rss0))
    times = []
    for target in (1024, 512, 1536, 2048):
        dt = ctx.set_target(vm, target, timeout=60)
        times.append("%d:%.1fs" % (target, dt))
        mi = vm.meminfo()
        balloon_kib = (RAM_MIB - target) * 1024
        drop = total0 - mi["MemTotal"]
        rss = vm.rss_kib()
        ctx.log("target %d: MemTotal %d (drop %d KiB, balloon %d KiB) MemFree %d RSS %d KiB"
                % (target, mi["MemTotal"], drop, balloon_kib, mi["MemFree"], rss))
        check(abs(drop - balloon_kib) <= 1024,
              "at %d MiB MemTotal dropped %d KiB, balloon is %d KiB" % (target, drop, balloon_kib))
        if target == 512:
            freed = rss0 - rss
            check(freed >= 0.9 * balloon_kib,
                  "QEMU RSS dropped only %d MiB (%d -> %d) for a %d MiB balloon"
                  % (freed // 1024, rss0 // 1024, rss // 1024, balloon_kib // 1024))
            ctx.note("rss %d->%dMiB" % (rss0 // 1024, rss // 1024))
        actual = vm.qmp.query_balloon()
        check(actual == target * MiB, "actual moved away from target: %d" % actual)
    ctx.note("steps " + " ".join(times))
    return vm


@test("inflate_deflate", timeout=300)
def t_inflate_deflate(ctx):
    inflate_deflate_body(ctx)
