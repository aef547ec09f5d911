/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Just enough JSON: writing (escaped strings, numbers) and parsing one
 * request object of the JSON-lines protocol.  The parser accepts any valid
 * JSON object (unknown members and nested values are skipped, nesting is
 * bounded) and extracts the members the protocol defines.
 */
#ifndef MB_JSON_H
#define MB_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strbuf.h"

void json_str(struct strbuf *sb, const char *s);
void json_strn(struct strbuf *sb, const char *s, size_t len);
/* Finite doubles with 2 decimals (PSI percentages, rates); NaN/inf as null. */
void json_num2(struct strbuf *sb, double v);

#define JSON_MAX_DEPTH 16

struct json_request {
	char cmd[32];		/* "" if absent */
	bool has_id;
	char id[64];		/* the id member as JSON text (number or string), echoed back */
	bool has_samples;
	bool samples;		/* subscribe: periodic samples too */
};

/* 0, or -EINVAL with a static reason in *why. */
int json_parse_request(const char *s, size_t len, struct json_request *req, const char **why);

#endif
