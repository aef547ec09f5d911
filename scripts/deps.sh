#!/bin/sh
# Install the Debian packages that building memballoon and running its VM
# tests need. Idempotent and quiet when everything is already present.
# Usage: scripts/deps.sh [extra-package ...]
set -eu

# gcc-12 and libssl3: what the dpkg -x unpacked linux-headers/linux-kbuild need.
# debootstrap: the trixie chroot that 7.x kernels' kbuild needs
# (scripts/build-root.sh).
PKGS="gcc gcc-12 make libc6-dev libelf-dev libssl3 bc flex bison kmod
      python3 perl cpio xz-utils zstd busybox-static qemu-system-x86 debootstrap"
# the daemon (daemon/): its libraries, unit tests, fuzzers, man page check
PKGS="$PKGS pkgconf libudev-dev libnl-3-dev libnl-genl-3-dev libcmocka-dev
      clang-14 libclang-rt-14-dev groff-base"
# packaging/: systemd-analyze and systemd-sysusers check the unit offline
# (scripts/check-unit.sh); nothing is started
PKGS="$PKGS systemd"
# the kernel's netlink spec generator (ynl-gen-c, `make netlink`) and sparse
# (`make C=2`, the build checks)
PKGS="$PKGS python3-yaml python3-jsonschema sparse"
# tests/vm: the VM tests run under pytest, with its timeout plugin
PKGS="$PKGS python3-pytest python3-pytest-timeout"
# the distro tier (tests/vm/test_distro.py): the guest image is built with
# mmdebstrap into a directory and assembled without loop mounts (mkfs.ext4 -d,
# mtools for the ESP, sfdisk for the GPT, qemu-img for its qcow2 and the
# overlays tests boot), booted by OVMF; libvirtd runs only
# privately inside the test (tests/vm/libvirtd.py): without
# libvirt-daemon-system nothing is enabled or started on the host
PKGS="$PKGS mmdebstrap mtools fdisk qemu-utils ovmf libvirt-daemon libvirt-daemon-driver-qemu
      libvirt-clients"
# make deb and its check (deb_lintian): debhelper with dh_dkms, lintian,
# and dkms itself, which builds the packaged module in a private tree and
# signs it with a key it makes with openssl (deb_dkms)
PKGS="$PKGS debhelper dh-dkms dkms lintian openssl"
PKGS="$PKGS $*"

missing=""
for p in $PKGS; do
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	*" ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done

[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	SUDO=sudo
else
	SUDO=
fi

echo "deps.sh: installing:$missing" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
