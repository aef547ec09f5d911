#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Print -D flags describing the kernel API found in the headers under $1
# (the kernel source or header tree, kbuild's $(srctree)).  Kbuild calls
# this for every build; compat.h turns the flags into one code path.
# Each test asks the headers themselves: distribution kernels backport API
# changes, so a version number would lie.
set -u
src=${1:?usage: compat-probe.sh SRCTREE}
inc=$src/include/linux

has() {	# has FILE PATTERN
	[ -f "$inc/$1" ] && grep -q -- "$2" "$inc/$1"
}

# 6.11: virtio_find_vqs() takes struct virtqueue_info.
has virtio_config.h "struct virtqueue_info" && echo -DMB_HAVE_VIRTQUEUE_INFO
# 7.x: <linux/balloon.h>; the core owns the page list lock, does the
# managed-page accounting and inserts migrated pages itself.
[ -f "$inc/balloon.h" ] && echo -DMB_HAVE_BALLOON_CORE
# Newer kernels: the virtio core sets driver.owner itself (__register_virtio_driver).
has virtio.h "__register_virtio_driver" && echo -DMB_HAVE_VIRTIO_DRIVER_OWNER
# 6.7: shrinkers are allocated by the core (shrinker_alloc/shrinker_register).
has shrinker.h "shrinker_alloc" && echo -DMB_HAVE_SHRINKER_ALLOC
# 6.2: genl_family's pre_doit takes the split ops (struct genl_split_ops).
grep -q -- "pre_doit)(const struct genl_split_ops" "$src/include/net/genetlink.h" 2>/dev/null &&
	echo -DMB_HAVE_GENL_SPLIT_OPS
# 7.x: the reclaim scan/steal counters moved from the vm events to the node
# stats (enum node_stat_item in mmzone.h); the names stayed.
has mmzone.h "PGSCAN_KSWAPD," && echo -DMB_HAVE_NODE_STAT_RECLAIM
# 7.x: ballooned pages are a node stat ("Balloon:" in /proc/meminfo).
has mmzone.h "NR_BALLOON_PAGES," && echo -DMB_HAVE_NR_BALLOON_PAGES
# 6.17 (and stable backports): system_dfl_wq is the unbound workqueue;
# 7.x warns about work queued on the old name, system_unbound_wq.
has workqueue.h "struct workqueue_struct \*system_dfl_wq;" && echo -DMB_HAVE_SYSTEM_DFL_WQ
exit 0
