#!/bin/sh
# Build (once) and describe the Debian 12 guest image of the distro tier
# (tests/vm/test_distro.py): a GPT disk a user could have installed, booted
# by UEFI firmware (OVMF) from its own EFI system partition, with systemd,
# udev, apt, qemu-guest-agent, bookworm's kernel (linux-image-amd64) with its
# headers and what DKMS needs to build a module (dkms, gcc, make).
#
# Usage: scripts/distro-image.sh            build if needed, print KEY=VALUE lines
#        scripts/distro-image.sh --key      print the cache key only
#
# Prints DISK= (the qcow2 image; boot an overlay of it, never the file itself),
# KVER= (the kernel in the image), ROOT_UUID=, OVMF_CODE=, OVMF_VARS=, KEY=.
#
# The image is made without loop mounts or a running guest:
#   1. mmdebstrap --variant=apt installs the packages below into a directory
#      (from the suites the machine's own apt sources give for its codename:
#      bookworm, -updates, -security; no recommends), dpkg told to leave out
#      documentation and the kernel's drivers no virtual machine has (GPUs,
#      sound, media, wireless, InfiniBand, staging: ~190 MB of modules);
#   2. hooks configure it: the initramfs holds only the modules
#      /etc/initramfs-tools/modules lists (MODULES=list: virtio_pci,
#      virtio_blk, ext4; MODULES=most takes minutes to rebuild under TCG),
#      hostname, fstab by UUID, root without password (serial console
#      ttyS0), GRUB's defaults (no menu delay, console=ttyS0), a first
#      /boot/grub/grub.cfg (what update-grub makes, which the guest runs
#      itself from then on: the kernel packages' postinst hooks), apt's daily
#      timers off (they would hold apt's lock while a test installs) and
#      e2scrub's (they only delay the boot), no apt sources (the guest has no
#      network: tests copy packages in);
#   3. grub-mkstandalone (grub-efi-amd64-bin, in the image) makes
#      EFI/BOOT/BOOTX64.EFI, the removable-media path the firmware boots
#      without NVRAM entries: it finds the root file system by UUID and reads
#      the guest's own /boot/grub/grub.cfg, so a kernel installed in the guest
#      is booted after update-grub, as on any Debian machine;
#   4. mkfs.ext4 -d turns the tree into the root file system, mformat/mcopy
#      (mtools) make the FAT ESP, sfdisk writes the GPT into a sparse file and
#      dd conv=notrunc puts both partitions in; qemu-img makes it a qcow2.
#
# The result is cached in ${MB_CACHE:-~/.cache/memballoon}/distro/<KEY>/,
# KEY a hash of the suite, the package set and IMAGE_VERSION (bump it when
# the way the image is made changes).  About 7 minutes once on a busy
# 2-core machine; the qcow2 is ~0.8 GB (the root file system holds 4 GiB,
# the rest sparse).  Needs root (mmdebstrap in root mode, chroot).
set -eu

IMAGE_VERSION=2
SUITE=bookworm
# The guest's packages.  memballoond's shared libraries (libnl) are here so
# that `apt install ./memballoond_*.deb` needs nothing from a network.
PKGS="systemd-sysv udev dbus apt kmod procps e2fsprogs
      linux-image-amd64 linux-headers-amd64 initramfs-tools zstd
      grub-efi-amd64
      dkms build-essential gcc make openssl
      qemu-guest-agent
      libnl-3-200 libnl-genl-3-200 libudev1"
ROOT_MIB=4096
ESP_MIB=32
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd

HERE=$(cd "$(dirname "$0")" && pwd)
SELF=$HERE/$(basename "$0")
CACHE=${MB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/memballoon}

log() { echo "distro-image.sh: $*" >&2; }
die() { log "$*"; exit 1; }

key() {
	# shellcheck disable=SC2086	# one package a line
	printf '%s\n' "$IMAGE_VERSION" "$SUITE" $PKGS "$ROOT_MIB" "$ESP_MIB" |
		sha256sum | cut -c1-12
}

# --customize ROOT: step 2 and 3, run by mmdebstrap's customize hook with the
# tree as ROOT (ROOT_UUID in the environment).
customize() {
	R=$1
	: "${ROOT_UUID:?}"
	kver=$(ls "$R/lib/modules")
	[ "$(echo "$kver" | wc -w)" -eq 1 ] || die "expected one kernel in the image, got: $kver"
	echo memballoon-guest >"$R/etc/hostname"
	printf '127.0.0.1\tlocalhost\n127.0.1.1\tmemballoon-guest\n::1\tlocalhost ip6-localhost ip6-loopback\n' \
		>"$R/etc/hosts"
	printf 'UUID=%s\t/\text4\terrors=remount-ro\t0\t1\n' "$ROOT_UUID" >"$R/etc/fstab"
	chroot "$R" passwd --delete root >/dev/null
	# GRUB's defaults for update-grub in the guest: no menu delay, the
	# kernel on the serial console.
	sed -i -e 's/^GRUB_TIMEOUT=.*/GRUB_TIMEOUT=0/' \
		-e 's/^GRUB_CMDLINE_LINUX_DEFAULT=.*/GRUB_CMDLINE_LINUX_DEFAULT=""/' \
		-e 's/^GRUB_CMDLINE_LINUX=.*/GRUB_CMDLINE_LINUX="console=ttyS0,115200"/' \
		"$R/etc/default/grub"
	grep -q '^GRUB_TIMEOUT=0$' "$R/etc/default/grub" || die "no GRUB_TIMEOUT in /etc/default/grub"
	# update-grub cannot probe the root device inside a chroot: the first
	# grub.cfg is written here, with the entry update-grub would make; the
	# guest's update-grub replaces it whenever a kernel comes or goes.
	mkdir -p "$R/boot/grub"
	cat >"$R/boot/grub/grub.cfg" <<EOF
# written by scripts/distro-image.sh; update-grub in the guest replaces it
set timeout=0
set default=0
menuentry 'Debian GNU/Linux, with Linux $kver' {
	insmod part_gpt
	insmod ext2
	search --no-floppy --fs-uuid --set=root $ROOT_UUID
	linux /boot/vmlinuz-$kver root=UUID=$ROOT_UUID ro console=ttyS0,115200
	initrd /boot/initrd.img-$kver
}
EOF
	# The bootloader on the ESP: GRUB with its modules in a memdisk; its
	# own config only finds the root file system and hands over to the
	# guest's grub.cfg.
	cat >"$R/tmp/embedded.cfg" <<EOF
search --no-floppy --fs-uuid --set=root $ROOT_UUID
configfile (\$root)/boot/grub/grub.cfg
EOF
	chroot "$R" grub-mkstandalone --format=x86_64-efi --output=/tmp/BOOTX64.EFI \
		--modules="part_gpt ext2 search_fs_uuid configfile" \
		"boot/grub/grub.cfg=/tmp/embedded.cfg"
	mv "$R/tmp/BOOTX64.EFI" "$R/../BOOTX64.EFI"
	rm -f "$R/tmp/embedded.cfg"
	# The initramfs: the virtual disk's drivers and the root file system
	# (MODULES=list, from the essential step): quick to rebuild under TCG
	# where MODULES=most takes minutes.
	printf '%s\n' virtio_pci virtio_blk ext4 >>"$R/etc/initramfs-tools/modules"
	chroot "$R" update-initramfs -u -k all >&2
	# apt's daily jobs would take apt's lock just when a test installs;
	# e2scrub's only delay the boot (no LVM here).
	chroot "$R" systemctl disable --quiet apt-daily.timer apt-daily-upgrade.timer \
		e2scrub_all.timer e2scrub_reap.service
	# No network in the guest: no sources, no lists.
	rm -f "$R/etc/apt/sources.list" "$R"/etc/apt/sources.list.d/*
	rm -rf "$R"/var/lib/apt/lists/* "$R"/var/cache/apt/*.bin
	echo "$kver" >"$R/../kver"
}

# --essential ROOT: before the kernel is installed (mmdebstrap's essential
# hook): the initramfs of a virtual machine needs only the modules listed in
# /etc/initramfs-tools/modules (the customize step adds them).
essential() {
	mkdir -p "$1/etc/initramfs-tools/conf.d"
	cat >"$1/etc/initramfs-tools/conf.d/modules-list.conf" <<EOF
# memballoon's test guest (scripts/distro-image.sh): the virtual disk's
# drivers and the root file system are all its initramfs needs
MODULES=list
EOF
}

if [ "${1:-}" = --essential ]; then
	essential "$2"
	exit 0
fi
if [ "${1:-}" = --customize ]; then
	customize "$2"
	exit 0
fi

KEY=$(key)
if [ "${1:-}" = --key ]; then
	echo "$KEY"
	exit 0
fi

DIR=$CACHE/distro/$KEY

print_env() {
	cat "$DIR/image.env"
}

if [ -f "$DIR/image.env" ]; then
	print_env
	exit 0
fi

[ "$(id -u)" -eq 0 ] || die "building the image needs root (mmdebstrap, chroot)"
for t in mmdebstrap mformat mcopy sfdisk mkfs.ext4 qemu-img; do
	command -v "$t" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
	command -v "$t" >/dev/null 2>&1 || die "$t is missing (scripts/deps.sh installs it)"
done
[ -f "$OVMF_CODE" ] || die "$OVMF_CODE is missing (package ovmf; scripts/deps.sh)"

mkdir -p "$CACHE/distro"
exec 9>"$CACHE/distro/.$KEY.lock"
flock 9
if [ -f "$DIR/image.env" ]; then
	print_env
	exit 0
fi

t0=$(date +%s)
rm -rf "$DIR"
mkdir -p "$DIR"
WORK=$DIR/work
mkdir -p "$WORK"
trap 'rm -rf "$WORK"' EXIT
trap 'exit 1' INT TERM HUP

# The machine's Debian suites for its codename, as one-line sources (the
# mirror is the machine's; nothing of it is written into the project).
# shellcheck disable=SC1091
codename=$(. /etc/os-release && echo "$VERSION_CODENAME")
[ "$codename" = "$SUITE" ] || log "the machine is $codename; the image is $SUITE from the same mirror"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
# shellcheck disable=SC2016	# apt's own $(FIELD) syntax
apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(ORIGIN)' 'Identifier: Packages' |
	awk -v cn="$codename" -v s="$SUITE" -v k="$KEYRING" '
		$3 == "Debian" && ($2 == cn || $2 == cn "-updates" || $2 == cn "-security") {
			sub("^" cn, s, $2); print "deb [signed-by=" k "] " $1 " " $2 " main"
		}' | sort -u >"$WORK/sources.list"
grep -q " $SUITE main" "$WORK/sources.list" || die "no apt source for $codename in /etc/apt (apt-get update?)"
log "building the $SUITE guest image in $DIR (once; a few minutes)"

ROOT_UUID=$(cat /proc/sys/kernel/random/uuid)
export ROOT_UUID
mkdir "$WORK/root"
# Debian's python3 for mmdebstrap's helpers (#!/usr/bin/env python3), whatever
# the caller's PATH puts first.
# shellcheck disable=SC2086
PATH=/usr/sbin:/usr/bin:/sbin:/bin mmdebstrap --variant=apt --mode=root --format=directory \
	--include="$(echo $PKGS | tr ' ' ',')" \
	--aptopt='Acquire::Check-Valid-Until "false"' \
	--aptopt='Acquire::Languages "none"' \
	--dpkgopt='path-exclude=/usr/share/doc/*' \
	--dpkgopt='path-include=/usr/share/doc/*/copyright' \
	--dpkgopt='path-exclude=/usr/share/man/*' \
	--dpkgopt='path-exclude=/usr/share/locale/*' \
	--dpkgopt='path-exclude=/usr/lib/modules/*/kernel/drivers/gpu/*' \
	--dpkgopt='path-exclude=/usr/lib/modules/*/kernel/drivers/media/*' \
	--dpkgopt='path-exclude=/usr/lib/modules/*/kernel/sound/*' \
	--dpkgopt='path-exclude=/usr/lib/modules/*/kernel/drivers/net/wireless/*' \
	--dpkgopt='path-exclude=/usr/lib/modules/*/kernel/drivers/infiniband/*' \
	--dpkgopt='path-exclude=/usr/lib/modules/*/kernel/drivers/staging/*' \
	--dpkgopt='path-exclude=/lib/modules/*/kernel/drivers/gpu/*' \
	--dpkgopt='path-exclude=/lib/modules/*/kernel/drivers/media/*' \
	--dpkgopt='path-exclude=/lib/modules/*/kernel/sound/*' \
	--dpkgopt='path-exclude=/lib/modules/*/kernel/drivers/net/wireless/*' \
	--dpkgopt='path-exclude=/lib/modules/*/kernel/drivers/infiniband/*' \
	--dpkgopt='path-exclude=/lib/modules/*/kernel/drivers/staging/*' \
	--essential-hook="sh '$SELF' --essential \"\$1\"" \
	--customize-hook="sh '$SELF' --customize \"\$1\"" \
	"$SUITE" "$WORK/root" "$WORK/sources.list" >&2
KVER=$(cat "$WORK/kver")
[ -f "$WORK/root/boot/initrd.img-$KVER" ] || die "no initramfs for $KVER in the image"
log "root tree: $(du -sm "$WORK/root" | cut -f1) MB, kernel $KVER"

# The root file system from the tree, the ESP with GRUB, the GPT around them.
mkfs.ext4 -q -F -L root -U "$ROOT_UUID" -d "$WORK/root" "$WORK/root.img" "${ROOT_MIB}M" >&2
truncate -s "${ESP_MIB}M" "$WORK/esp.img"
mformat -i "$WORK/esp.img" -v ESP -T $((ESP_MIB * 2048)) -h 64 -s 32 ::
mmd -i "$WORK/esp.img" ::/EFI ::/EFI/BOOT
mcopy -i "$WORK/esp.img" "$WORK/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
disk=$WORK/disk.img
truncate -s $((1 + ESP_MIB + ROOT_MIB + 1))M "$disk"
sfdisk --quiet --no-reread --no-tell-kernel "$disk" <<EOF
label: gpt
start=1MiB, size=${ESP_MIB}MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC3B8, name="EFI system partition"
start=$((1 + ESP_MIB))MiB, size=${ROOT_MIB}MiB, type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="root"
EOF
dd if="$WORK/esp.img" of="$disk" bs=1M seek=1 conv=notrunc,sparse status=none
dd if="$WORK/root.img" of="$disk" bs=1M seek=$((1 + ESP_MIB)) conv=notrunc,sparse status=none
qemu-img convert -O qcow2 "$disk" "$DIR/disk.qcow2"

cat >"$DIR/image.env.tmp" <<EOF
DISK=$DIR/disk.qcow2
KVER=$KVER
ROOT_UUID=$ROOT_UUID
OVMF_CODE=$OVMF_CODE
OVMF_VARS=$OVMF_VARS
KEY=$KEY
EOF
mv "$DIR/image.env.tmp" "$DIR/image.env"
log "image ready in $(($(date +%s) - t0)) s: $(du -m "$DIR/disk.qcow2" | cut -f1) MB ($DIR)"
print_env
