// SPDX-License-Identifier: GPL-2.0
/* DEV_NTF/DEV_GET parsing of arbitrary attribute payloads. */
#include <string.h>

#include <netlink/genl/genl.h>

#include "fuzz.h"
#include "linux/memballoon.h"
#include "mbnl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nl_msg *m;
	struct mb_dev d;
	void *p;

	if (size > 8192)
		return 0;
	m = nlmsg_alloc();
	if (!m)
		return 0;
	genlmsg_put(m, 0, 0, 0x20, 0, 0, MEMBALLOON_CMD_DEV_NTF, 1);
	p = nlmsg_reserve(m, size, 1);
	if (p) {
		memcpy(p, data, size);
		if (mbnl_parse_dev(nlmsg_hdr(m), &d) == 0 && strnlen(d.name, sizeof(d.name)) ==
		    sizeof(d.name))
			__builtin_trap();
	}
	nlmsg_free(m);
	return 0;
}
