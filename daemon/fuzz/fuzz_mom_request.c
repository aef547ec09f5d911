// SPDX-License-Identifier: GPL-2.0
/*
 * Whole connections: arbitrary bytes, in arbitrary pieces, through the
 * per-connection protocol (MOM and JSON-lines, both framings).  Replies
 * must be complete lines.
 */
#include <string.h>

#include "fuzz.h"
#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sample s;
	struct mb_dev dev = { .id = 1, .name = "virtio1", .features = 0x7, .actual_pages = 5 };
	struct view v = { .sample = &s, .devs = &dev, .ndevs = 1, .driver_loaded = true,
			  .trigger = "some 150000 1000000" };
	struct proto_conn c;
	struct strbuf out;
	uint64_t now = 1;
	size_t i = 0;

	if (!size)
		return 0;
	s.meminfo_ok = s.vmstat_ok = s.psi_ok = true;
	s.mem.total = 1000;
	/* first byte: serial port (cannot hang up) or socket */
	proto_conn_init(&c, data[0] & 1);
	sb_init(&out, 0);
	data++;
	size--;
	while (i < size) {
		/* chunk sizes from the data itself, so splits are explored too */
		size_t n = 1 + data[i] % 64;

		if (n > size - i)
			n = size - i;
		if (proto_feed(&c, (const char *)data + i, n, &v, &out, now++) == PROTO_CLOSE)
			break;
		if (proto_deadline(&c, 10) && proto_deadline(&c, 10) <= now)
			proto_timeout(&c, &out);
		i += n;
	}
	if (out.len && out.buf[out.len - 1] != '\n')
		__builtin_trap();
	if (c.len > PROTO_LINE_MAX)
		__builtin_trap();
	sb_free(&out);
	return 0;
}
