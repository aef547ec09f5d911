/* SPDX-License-Identifier: GPL-2.0 */
/*
 * memballoon tracepoints: one event per inflate or deflate request, saying
 * what it moved and where its time went.  perf and trace-cmd list them as
 * memballoon:*; tests/vm/bench.py reads them through tracefs.
 *
 * pages counts 4 KiB pages (the wire format's unit), blocks the whole
 * 2 MiB blocks among them, ranges the blocks among those that went to the
 * host as ranges on the reporting queue (inflate) or that come back from
 * it without a message (deflate).  dev is the virtio device's index
 * (virtio<dev>).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM memballoon

#if !defined(_MEMBALLOON_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _MEMBALLOON_TRACE_H

#include <linux/tracepoint.h>

/*
 * An inflate request the host acknowledged (its ranges and its PFNs, each
 * a round trip): alloc_ns is the time its pages took to allocate (on
 * whichever CPU allocated them), host_ns the time from handing it to the
 * host until the host used it.
 */
TRACE_EVENT(memballoon_inflate,
	    TP_PROTO(unsigned int dev, unsigned int pages, unsigned int blocks,
		     unsigned int ranges, u64 alloc_ns, u64 host_ns),
	    TP_ARGS(dev, pages, blocks, ranges, alloc_ns, host_ns),
	    TP_STRUCT__entry(__field(unsigned int, dev)
			     __field(unsigned int, pages)
			     __field(unsigned int, blocks)
			     __field(unsigned int, ranges)
			     __field(u64, alloc_ns)
			     __field(u64, host_ns)),
	    TP_fast_assign(__entry->dev = dev;
			   __entry->pages = pages;
			   __entry->blocks = blocks;
			   __entry->ranges = ranges;
			   __entry->alloc_ns = alloc_ns;
			   __entry->host_ns = host_ns;),
	    TP_printk("dev=%u pages=%u blocks=%u ranges=%u alloc_ns=%llu host_ns=%llu",
		      __entry->dev, __entry->pages, __entry->blocks,
		      __entry->ranges, __entry->alloc_ns, __entry->host_ns)
);

/*
 * A deflate request: host_ns is the host's round trip (0: no message, all
 * range pages), free_ns the time its pages then took to go back to the
 * allocator.
 */
TRACE_EVENT(memballoon_deflate,
	    TP_PROTO(unsigned int dev, unsigned int pages, unsigned int blocks,
		     unsigned int ranges, u64 host_ns, u64 free_ns),
	    TP_ARGS(dev, pages, blocks, ranges, host_ns, free_ns),
	    TP_STRUCT__entry(__field(unsigned int, dev)
			     __field(unsigned int, pages)
			     __field(unsigned int, blocks)
			     __field(unsigned int, ranges)
			     __field(u64, host_ns)
			     __field(u64, free_ns)),
	    TP_fast_assign(__entry->dev = dev;
			   __entry->pages = pages;
			   __entry->blocks = blocks;
			   __entry->ranges = ranges;
			   __entry->host_ns = host_ns;
			   __entry->free_ns = free_ns;),
	    TP_printk("dev=%u pages=%u blocks=%u ranges=%u host_ns=%llu free_ns=%llu",
		      __entry->dev, __entry->pages, __entry->blocks,
		      __entry->ranges, __entry->host_ns, __entry->free_ns)
);

#endif /* _MEMBALLOON_TRACE_H */

/*
 * define_trace.h includes this file again by name; Kbuild puts the
 * driver's directory on the include path, in tree and out of tree.
 */
#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE trace
#include <trace/define_trace.h>
