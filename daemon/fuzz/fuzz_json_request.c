// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "fuzz.h"
#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_request r;
	const char *why;

	if (json_parse_request((const char *)data, size, &r, &why) == 0) {
		/* the parsed fields are bounded, NUL-terminated and printable */
		if (strlen(r.cmd) >= sizeof(r.cmd) || !r.cmd[0] || strlen(r.id) >= sizeof(r.id))
			__builtin_trap();
		for (const char *c = r.id; *c; c++)
			if (*c < 0x20 || *c > 0x7e)
				__builtin_trap();
	}
	return 0;
}
