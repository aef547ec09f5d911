// SPDX-License-Identifier: GPL-2.0
#include "fuzz.h"
#include "procfs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FILE *f = fuzz_file(data, size);
	struct psi_memory p;

	if (!f)
		return 0;
	if (psi_parse(f, &p) == 0 && !p.have_some)
		__builtin_trap();	/* success means a usable "some" line */
	fclose(f);
	return 0;
}
