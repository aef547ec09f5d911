// SPDX-License-Identifier: GPL-2.0
#include "fuzz.h"
#include "procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_file(data, size);
	struct vmstat v;

	if (!f)
		return 0;
	if (vmstat_parse(f, &v) == 0 && !v.present)
		__builtin_trap();
	fclose(f);
	return 0;
}
