#!/bin/sh
# takeover.sh - move live virtio balloon devices from the in-tree virtio_balloon
# driver to memballoon, without a reboot. POSIX sh; works with busybox.
#
# Usage: takeover.sh [-m MODULE.ko] [-n NEW_DRIVER] [-o OLD_DRIVER] [-h]
#   -m  load the new driver with insmod from this file (default: modprobe NEW)
#   -n  driver to move the devices to   (default: memballoon)
#   -o  driver to move the devices from (default: virtio_balloon)
#
# Unbinding the old driver deflates its balloon (the in-tree driver gives every
# page back on remove); the new driver then inflates to the host's standing
# target. If binding the new driver fails, the device is given back to the old
# driver and the script exits non-zero.
set -u

NEW=memballoon
OLD=virtio_balloon
MODULE=
VBUS=/sys/bus/virtio

say() { echo "takeover: $*"; }
die() { echo "takeover: error: $*" >&2; exit 1; }

usage() {
	awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
	exit "${1:-0}"
}

while getopts m:n:o:h opt; do
	case $opt in
	m) MODULE=$OPTARG ;;
	n) NEW=$OPTARG ;;
	o) OLD=$OPTARG ;;
	h) usage 0 ;;
	*) usage 2 ;;
	esac
done

[ "$(id -u)" -eq 0 ] || die "must run as root"
[ -d "$VBUS/devices" ] || die "no virtio bus in sysfs ($VBUS)"

# Balloon devices: virtio device id 5.
devs=
for d in "$VBUS"/devices/*; do
	[ -e "$d/device" ] || continue
	[ "$(cat "$d/device")" = 0x0005 ] && devs="$devs ${d##*/}"
done
[ -n "$devs" ] || die "no virtio balloon device (virtio device id 5) found"
say "balloon device(s):$devs"

if [ ! -d "$VBUS/drivers/$NEW" ]; then
	if [ -n "$MODULE" ]; then
		[ -f "$MODULE" ] || die "module file $MODULE not found"
		insmod "$MODULE" || die "insmod $MODULE failed"
		say "loaded $MODULE"
	else
		modprobe "$NEW" || die "modprobe $NEW failed"
		say "loaded module $NEW"
	fi
fi
[ -d "$VBUS/drivers/$NEW" ] || die "driver $NEW is not registered on the virtio bus"

bound_to() {
	if [ -L "$VBUS/devices/$1/driver" ]; then
		basename "$(readlink "$VBUS/devices/$1/driver")"
	fi
}

rc=0
for dev in $devs; do
	cur=$(bound_to "$dev")
	if [ "$cur" = "$NEW" ]; then
		say "$dev already bound to $NEW"
		continue
	fi
	if [ -n "$cur" ]; then
		[ "$cur" = "$OLD" ] || say "note: $dev is bound to $cur, not $OLD"
		echo "$dev" >"$VBUS/drivers/$cur/unbind" || die "unbinding $dev from $cur failed"
		say "unbound $dev from $cur (its balloon is deflated)"
	fi
	if [ -e "$VBUS/devices/$dev/driver_override" ]; then
		echo "$NEW" >"$VBUS/devices/$dev/driver_override" 2>/dev/null &&
			say "set driver_override of $dev to $NEW"
	fi
	if [ "$(bound_to "$dev")" != "$NEW" ]; then
		echo "$dev" >"$VBUS/drivers/$NEW/bind" 2>/dev/null
	fi
	if [ "$(bound_to "$dev")" = "$NEW" ]; then
		say "bound $dev to $NEW"
	else
		echo "takeover: error: binding $dev to $NEW failed" >&2
		rc=1
		if [ -n "$cur" ] && [ -d "$VBUS/drivers/$cur" ]; then
			[ -e "$VBUS/devices/$dev/driver_override" ] &&
				echo >"$VBUS/devices/$dev/driver_override" 2>/dev/null
			if echo "$dev" >"$VBUS/drivers/$cur/bind" 2>/dev/null; then
				say "gave $dev back to $cur"
			else
				echo "takeover: error: $dev is now unbound" >&2
			fi
		fi
	fi
done
exit $rc
