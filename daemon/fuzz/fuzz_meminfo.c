// SPDX-License-Identifier: GPL-2.0
#include "fuzz.h"
#include "procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_file(data, size);
	struct meminfo m;

	if (!f)
		return 0;
	if (meminfo_parse(f, &m) == 0)
		(void)meminfo_available(&m);
	fclose(f);
	return 0;
}
