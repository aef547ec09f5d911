/* SPDX-License-Identifier: GPL-2.0 */
/* libFuzzer helpers: the input as a FILE (the parsers' interface). */
#ifndef MB_FUZZ_H
#define MB_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fmemopen refuses size 0; NULL means "skip this input" */
static inline FILE *fuzz_file(const uint8_t *data, size_t size)
{
	if (!size)
		return NULL;
	return fmemopen((void *)data, size, "r");
}

#endif
