#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# dkms.conf's MAKE[0], in the DKMS build tree (a copy of
# /usr/src/memballoon-VERSION): build driver/memballoon.ko for one kernel.
#
# Usage: dkms-make.sh KERNEL_SOURCE_DIR KERNELVER
#
# Output goes to DKMS's make.log; when the kernel's tree is unusable or the
# build fails, its last line says so and what it means for the guest.
# Kernels whose headers ship vmlinux (6.12+) would run pahole for the
# module's BTF: the build goes without it, as scripts/build-module.sh's.
set -u
KDIR=${1:?usage: dkms-make.sh KERNEL_SOURCE_DIR KERNELVER}
KVER=${2:?usage: dkms-make.sh KERNEL_SOURCE_DIR KERNELVER}
DIR=$(cd "$(dirname "$0")" && pwd)
VER=$(cat "$DIR/VERSION" 2>/dev/null || echo '?')

fail() {
	echo "memballoon $VER, kernel $KVER: $*; DKMS installs nothing for this" \
		"kernel, and virtio_balloon stays its balloon driver" >&2
	exit 1
}

[ -f "$KDIR/Makefile" ] && [ -f "$KDIR/.config" ] && [ -d "$KDIR/include" ] ||
	fail "$KDIR is not a kernel build tree (are linux-headers-$KVER installed whole?)"
echo "memballoon $VER for kernel $KVER, headers in $KDIR"
make -j"$(nproc)" -C "$KDIR" M="$DIR/driver" KERNELRELEASE="$KVER" \
	CONFIG_DEBUG_INFO_BTF_MODULES= modules ||
	fail "the module did not build (errors above)"
