# SPDX-License-Identifier: GPL-2.0
#
# memballoon: the one entry point.
#
#   make [module]        build driver/memballoon.ko for KDIR (see below)
#   make KVER=<version>  build it for any Debian kernel, e.g. 6.12.95+deb12-amd64
#   make demo            boot a guest and watch memballoon move its balloon
#   make daemon          build memballoond and memballoonctl (daemon/)
#   make check           the daemon's unit tests, build checks on every
#                        supported kernel, the Debian packages (lintian,
#                        DKMS) and the VM
#                        suite on the kernel x QEMU cells of tests/vm/matrix.py
#   make check-matrix    every VM test on every kernel x QEMU
#   make check-distro    the distro tier with the packages' life cycle: a
#                        Debian guest under libvirt installs, uses and purges
#                        them (make check runs the install and use part)
#   make check-arch      the module cross-built for arm64, ppc64el and s390x
#                        (6.1, 6.12, 7.x headers, W=1), the daemon with
#                        its unit tests under qemu-user, and the driver's VM
#                        tests in arm64 and ppc64el guests (docs/arch.md)
#   make check-debug     the debug-kernel tier (KASAN, lockdep, kmemleak,
#                        fault injection; builds the kernel once, cached)
#   make bench           in-tree virtio_balloon vs memballoon, side by side
#   make install         install the module for the running kernel
#   make uninstall       remove what make install and make -C daemon install
#                        installed (the daemon's config and user stay)
#   make deb             the Debian packages memballoon-dkms and memballoond
#                        in build/deb/, built from a copy of the tree and
#                        checked with lintian (docs/packaging.md)
#   make dkms-src DESTDIR=DIR   the DKMS source tree in
#                        DIR/usr/src/memballoon-VERSION (what memballoon-dkms
#                        installs)
#   make version         print the version (scripts/version.sh)
#   make lint            checkpatch on the driver
#   make netlink         regenerate the netlink family's UAPI header, kernel
#                        policies and ops, and userspace's name tables from
#                        Documentation/netlink/specs/memballoon.yaml
#   make clean
#
# KDIR is the kernel build tree to compile against.  By default that is the
# running kernel's (/lib/modules/$(uname -r)/build) when it exists, else the
# Debian guest kernel that the tests use (fetched into a cache, never
# installed).  `make KDIR=/path/to/headers` builds against any tree, in
# driver/.  `make KVER=<version>` uses /lib/modules/KVER/build when the
# machine has it; otherwise scripts/build-module.sh fetches that Debian
# kernel's headers into the cache (from bookworm, bookworm-backports or
# trixie-backports) and builds in build/modules/KVER/driver/, inside a cached
# trixie chroot for 7.x kernels.  W=1 is passed on.
#
# check and check-matrix take KERNELS=, QEMUS= and TESTS= (test names or
# globs, comma separated) to narrow the matrix, e.g.
# make check KERNELS=trixie-backports QEMUS=10.0 TESTS='stats*', and
# PYTEST_ARGS= for anything else pytest takes, e.g. PYTEST_ARGS="-k 'not legacy' -x".

PYTHON     := /usr/bin/python3
BUILD      := $(CURDIR)/build
KERNEL_ENV := $(BUILD)/kernel.env

# KVER on the command line or in the environment names a kernel to build for.
ifeq ($(origin KVER),undefined)
  KVER := $(shell uname -r)
  KVER_GIVEN :=
else
  KVER_GIVEN := 1
endif

# The guest kernel the demo and bench boot (6.1, Debian bookworm).
guest_env   = $(shell sed -n 's/^$(1)=//p' $(KERNEL_ENV) 2>/dev/null)

ifeq ($(origin KDIR),undefined)
  KDIR := $(wildcard /lib/modules/$(KVER)/build)
  ifeq ($(KDIR),)
    ifeq ($(KVER_GIVEN),1)
      MODULE_VIA_SCRIPT := 1
    else
      KDIR = $(call guest_env,KDIR)
      MODULE_NEEDS_GUEST := $(KERNEL_ENV)
    endif
  endif
endif

RUN_ARGS = $(foreach k,$(KERNELS),--kernel $(k)) $(foreach q,$(QEMUS),--qemu $(q)) \
	   $(if $(TESTS),--only '$(TESTS)')
# the VM tests (tests/vm/conftest.py: the matrix options and the result lines)
PYTEST   = $(PYTHON) -m pytest tests/vm

.PHONY: all module guest-module daemon deps kernel check check-matrix check-distro check-debug demo \
	check-arch \
	bench install lint \
	netlink clean FORCE uninstall deb dkms-src version

all: module

deps:
	@sh scripts/deps.sh

# Regenerated on every run: guest-kernel.sh answers from its cache in
# milliseconds, and a stale file must never point at a vanished kernel.
$(KERNEL_ENV): FORCE
	@sh scripts/deps.sh
	@mkdir -p $(BUILD)
	sh scripts/guest-kernel.sh > $@.tmp
	@mv $@.tmp $@

kernel: $(KERNEL_ENV)

module: $(MODULE_NEEDS_GUEST)
ifeq ($(MODULE_VIA_SCRIPT),1)
	@sh scripts/deps.sh
	sh scripts/build-module.sh $(KVER) $(if $(W),W=$(W))
else
	$(MAKE) -C $(KDIR) M=$(CURDIR)/driver modules
endif

# The tests always build against the guest kernel they boot.
guest-module: $(KERNEL_ENV)
	$(MAKE) -C $(call guest_env,KDIR) M=$(CURDIR)/driver modules

# One pytest run for the whole matrix: it fetches the kernels and QEMU 10.0
# into the cache, builds the module per kernel and closes with one
# "N passed, N failed" line (JUnit XML in the log directory's junit.xml).
# The daemon's unit tests (cmocka, ASan/UBSan), its fuzz smoke run and man
# page check come first; the VM tests use the daemon it builds.
check: deps
	$(MAKE) -C daemon check
	$(PYTEST) --matrix check --out $(BUILD)/test-logs $(RUN_ARGS) $(PYTEST_ARGS)

daemon: deps
	$(MAKE) -C daemon

check-matrix: deps
	$(PYTEST) --matrix full --out $(BUILD)/test-logs-matrix $(RUN_ARGS) $(PYTEST_ARGS)

# tests/vm/test_distro.py, every test (docs/harness.md, "The distro tier")
check-distro: deps
	$(PYTEST) --matrix distro --out $(BUILD)/test-logs-distro \
		$(if $(TESTS),--only '$(TESTS)') $(PYTEST_ARGS)

# tests/vm/test_arch.py (docs/arch.md); TESTS= narrows, e.g. TESTS='*s390x*'
check-arch: deps
	$(PYTEST) --matrix arch --out $(BUILD)/test-logs-arch \
		$(if $(TESTS),--only '$(TESTS)') $(PYTEST_ARGS)

check-debug: deps
	sh scripts/check-debug.sh --out $(BUILD)/test-logs-debug $(RUN_ARGS)

demo: $(KERNEL_ENV) guest-module
	$(PYTHON) scripts/demo.py --kernel-env $(KERNEL_ENV) \
		--module driver/memballoon.ko

# BENCH_ROUNDS=5, BENCH_SCENARIOS=cycle,ranges,latency,stats,oom,oomdeep,
# reporting,daemon,
# BENCH_QEMU=7.2|10.0 and BENCH_RAM_MIB=4096 (the guest; targets scale with
# it) narrow or widen it; BENCH_BASELINE=OTHER.ko compares with another
# build of memballoon instead of the in-tree driver; results in
# build/bench/latest.
bench: $(KERNEL_ENV) guest-module
	$(PYTHON) tests/vm/bench.py --kernel-env $(KERNEL_ENV) \
		--module driver/memballoon.ko --out $(BUILD)/bench \
		$(if $(BENCH_ROUNDS),--rounds $(BENCH_ROUNDS)) \
		$(if $(BENCH_SCENARIOS),--scenarios $(BENCH_SCENARIOS)) \
		$(if $(BENCH_QEMU),--qemu $(BENCH_QEMU)) \
		$(if $(BENCH_RAM_MIB),--ram $(BENCH_RAM_MIB)) \
		$(if $(BENCH_BASELINE),--baseline $(BENCH_BASELINE))

ifeq ($(MODULE_VIA_SCRIPT),1)
install:
	@echo "install: no /lib/modules/$(KVER)/build: install is for a kernel this machine has" >&2; exit 1
else
install: module
	$(MAKE) -C $(KDIR) M=$(CURDIR)/driver modules_install
	depmod -a $(KVER)
endif

ifeq ($(MODULE_VIA_SCRIPT),1)
uninstall:
	@echo "uninstall: no /lib/modules/$(KVER)/build: uninstall is for a kernel this machine has" >&2; exit 1
else
# modules_install puts an external module in extra/ (compressed as the
# kernel's own modules are)
uninstall:
	rm -f /lib/modules/$(KVER)/extra/memballoon.ko /lib/modules/$(KVER)/extra/memballoon.ko.*
	depmod -a $(KVER)
	$(MAKE) -C daemon uninstall
endif

DRIVER_SOURCES = $(filter-out %.mod.c,$(wildcard driver/*.c)) \
		 $(wildcard driver/*.h) driver/Kbuild Kconfig

version:
	@sh scripts/version.sh

# memballoon-dkms and memballoond (scripts/deb.sh): two .deb files in
# build/deb/, lintian clean
deb: deps
	sh scripts/deb.sh $(BUILD)/deb

# The DKMS source tree: dkms.conf and its dkms-make.sh, the driver, the UAPI
# header it includes from ../include, and the version (scripts/version.sh
# --export)
DKMS_SRC = $(DESTDIR)/usr/src/memballoon-$(MB_VERSION)
dkms-src: MB_VERSION := $(shell sh scripts/version.sh)
dkms-src:
	rm -rf $(DKMS_SRC)
	install -d $(DKMS_SRC)/driver $(DKMS_SRC)/include/uapi/linux
	install -m 0644 $(filter-out Kconfig,$(DRIVER_SOURCES)) driver/compat-probe.sh \
		$(DKMS_SRC)/driver/
	install -m 0644 include/uapi/linux/memballoon.h $(DKMS_SRC)/include/uapi/linux/
	sh scripts/version.sh --export $(DKMS_SRC)
	install -m 0644 packaging/dkms-make.sh $(DKMS_SRC)/
	sed 's/#MODULE_VERSION#/$(MB_VERSION)/' packaging/dkms.conf >$(DKMS_SRC)/dkms.conf

lint:
	@sh scripts/checkpatch.sh $(DRIVER_SOURCES)

# With the kernel's own generator, ynl-gen-c, from the newest Debian kernel
# source (fetched into the cache); `make check` fails when a committed file
# differs from what the spec generates (netlink_generated).
netlink: deps
	sh scripts/netlink-gen.sh

FORCE:

clean:
	@if [ -n "$(KDIR)" ] && [ -d "$(KDIR)" ]; then \
		$(MAKE) -C $(KDIR) M=$(CURDIR)/driver clean; fi
	$(MAKE) -C daemon clean
	rm -rf $(BUILD)
