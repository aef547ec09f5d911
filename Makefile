# SPDX-License-Identifier: GPL-2.0
#
# memballoon: the one entry point.
#
#   make [module]        build driver/memballoon.ko for KDIR (see below)
#   make demo            boot a guest and watch memballoon move its balloon
#   make check           build checks + the VM test suite (installs what it needs)
#   make bench           in-tree virtio_balloon vs memballoon, side by side
#   make install         install the module for the running kernel
#   make lint            checkpatch on the driver
#   make clean
#
# KDIR is the kernel build tree to compile against.  By default that is the
# running kernel's (/lib/modules/$(uname -r)/build) when it exists, else the
# Debian guest kernel that the tests use (fetched into a cache, never
# installed).  Build for any other kernel with `make KDIR=/path/to/headers`
# or `make KVER=6.1.0-56-amd64` (headers installed under /lib/modules).

PYTHON     := /usr/bin/python3
BUILD      := $(CURDIR)/build
KERNEL_ENV := $(BUILD)/kernel.env
KVER       ?= $(shell uname -r)

# The guest kernel the VM tests boot (6.1, Debian bookworm).
guest_env   = $(shell sed -n 's/^$(1)=//p' $(KERNEL_ENV) 2>/dev/null)

ifeq ($(origin KDIR),undefined)
  KDIR := $(wildcard /lib/modules/$(KVER)/build)
  ifeq ($(KDIR),)
    KDIR = $(call guest_env,KDIR)
    MODULE_NEEDS_GUEST := $(KERNEL_ENV)
  endif
endif

.PHONY: all module guest-module deps kernel check demo bench install lint clean FORCE

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
	$(MAKE) -C $(KDIR) M=$(CURDIR)/driver modules

# The tests always build against the guest kernel they boot.
guest-module: $(KERNEL_ENV)
	$(MAKE) -C $(call guest_env,KDIR) M=$(CURDIR)/driver modules

check: $(KERNEL_ENV) guest-module
	$(PYTHON) tests/vm/run.py --kernel-env $(KERNEL_ENV) \
		--module driver/memballoon.ko --out $(BUILD)/test-logs

demo: $(KERNEL_ENV) guest-module
	$(PYTHON) scripts/demo.py --kernel-env $(KERNEL_ENV) \
		--module driver/memballoon.ko

bench: $(KERNEL_ENV) guest-module
	$(PYTHON) tests/vm/bench_cycle.py --kernel-env $(KERNEL_ENV) \
		--module driver/memballoon.ko

install: module
	$(MAKE) -C $(KDIR) M=$(CURDIR)/driver modules_install
	depmod -a $(KVER)

DRIVER_SOURCES = $(filter-out %.mod.c,$(wildcard driver/*.c)) \
		 $(wildcard driver/*.h) driver/Kbuild Kconfig

lint:
	@sh scripts/checkpatch.sh $(DRIVER_SOURCES)

FORCE:

clean:
	@if [ -n "$(KDIR)" ] && [ -d "$(KDIR)" ]; then \
		$(MAKE) -C $(KDIR) M=$(CURDIR)/driver clean; fi
	rm -rf $(BUILD)
