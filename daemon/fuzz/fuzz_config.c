// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_file(data, size), *out;
	struct config c, d;
	char err[256], *buf = NULL;
	size_t len = 0;

	if (!f)
		return 0;
	config_defaults(&c);
	if (config_parse(f, &c, err, sizeof(err)) == 0) {
		/* whatever parsed must write out and parse back the same */
		out = open_memstream(&buf, &len);
		config_write(&c, out);
		fclose(out);
		out = fmemopen(buf, len, "r");
		config_defaults(&d);
		if (config_parse(out, &d, err, sizeof(err)) || memcmp(&c, &d, sizeof(c)))
			__builtin_trap();
		fclose(out);
		free(buf);
	}
	fclose(f);
	return 0;
}
