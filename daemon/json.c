// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <math.h>
#include <string.h>

#include "json.h"

void json_strn(struct strbuf *sb, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	sb_add(sb, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			sb_add(sb, e, 2);
		} else if (c == '\n') {
			sb_add(sb, "\\n", 2);
		} else if (c < 0x20 || c == 0x7f) {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };

			sb_add(sb, e, 6);
		} else if (c >= 0x80) {
			/* our strings are ASCII; never emit invalid UTF-8 */
			sb_add(sb, "?", 1);
		} else {
			sb_add(sb, s + i, 1);
		}
	}
	sb_add(sb, "\"", 1);
}

void json_str(struct strbuf *sb, const char *s)
{
	json_strn(sb, s, strlen(s));
}

void json_num2(struct strbuf *sb, double v)
{
	if (!isfinite(v))
		sb_puts(sb, "null");
	else
		sb_printf(sb, "%.2f", v);
}

/* ---- parsing ------------------------------------------------------------ */

struct jp {
	const char *p, *end;
	const char *why;
};

static void ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n'))
		j->p++;
}

static int bad(struct jp *j, const char *why)
{
	if (!j->why)
		j->why = why;
	return -EINVAL;
}

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * A string token; on success [*s, *e) is the raw content between the quotes
 * and *plain tells whether it needs no unescaping (no backslash, ASCII).
 */
static int parse_string(struct jp *j, const char **s, const char **e, bool *plain)
{
	if (j->p >= j->end || *j->p != '"')
		return bad(j, "expected a string");
	j->p++;
	*s = j->p;
	*plain = true;
	while (j->p < j->end) {
		unsigned char c = (unsigned char)*j->p;

		if (c == '"') {
			*e = j->p++;
			return 0;
		}
		if (c < 0x20)
			return bad(j, "control character in string");
		if (c >= 0x80)
			*plain = false;
		if (c == '\\') {
			*plain = false;
			j->p++;
			if (j->p >= j->end)
				break;
			switch (*j->p) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				break;
			case 'u':
				if (j->end - j->p < 5 || !is_hex(j->p[1]) || !is_hex(j->p[2]) ||
				    !is_hex(j->p[3]) || !is_hex(j->p[4]))
					return bad(j, "bad \\u escape");
				j->p += 4;
				break;
			default:
				return bad(j, "bad escape");
			}
		}
		j->p++;
	}
	return bad(j, "unterminated string");
}

static int parse_number(struct jp *j)
{
	const char *p = j->p;

	if (p < j->end && *p == '-')
		p++;
	if (p >= j->end)
		return bad(j, "bad number");
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	} else {
		return bad(j, "bad number");
	}
	if (p < j->end && *p == '.') {
		p++;
		if (p >= j->end || *p < '0' || *p > '9')
			return bad(j, "bad number");
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < j->end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < j->end && (*p == '+' || *p == '-'))
			p++;
		if (p >= j->end || *p < '0' || *p > '9')
			return bad(j, "bad number");
		while (p < j->end && *p >= '0' && *p <= '9')
			p++;
	}
	j->p = p;
	return 0;
}

static int literal(struct jp *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n))
		return bad(j, "bad literal");
	j->p += n;
	return 0;
}

static int skip_value(struct jp *j, int depth);

static int skip_container(struct jp *j, int depth, char close)
{
	bool object = close == '}';

	if (depth >= JSON_MAX_DEPTH)
		return bad(j, "nested too deep");
	j->p++;		/* the opening bracket */
	ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	for (;;) {
		if (object) {
			const char *s, *e;
			bool plain;

			ws(j);
			if (parse_string(j, &s, &e, &plain))
				return -EINVAL;
			ws(j);
			if (j->p >= j->end || *j->p != ':')
				return bad(j, "expected ':'");
			j->p++;
		}
		if (skip_value(j, depth + 1))
			return -EINVAL;
		ws(j);
		if (j->p >= j->end)
			return bad(j, "unterminated container");
		if (*j->p == close) {
			j->p++;
			return 0;
		}
		if (*j->p != ',')
			return bad(j, "expected ',' or end of container");
		j->p++;
	}
}

static int skip_value(struct jp *j, int depth)
{
	const char *s, *e;
	bool plain;

	ws(j);
	if (j->p >= j->end)
		return bad(j, "expected a value");
	switch (*j->p) {
	case '{':
		return skip_container(j, depth, '}');
	case '[':
		return skip_container(j, depth, ']');
	case '"':
		return parse_string(j, &s, &e, &plain);
	case 't':
		return literal(j, "true");
	case 'f':
		return literal(j, "false");
	case 'n':
		return literal(j, "null");
	default:
		return parse_number(j);
	}
}

static bool key_is(const char *s, const char *e, bool plain, const char *name)
{
	return plain && (size_t)(e - s) == strlen(name) && !memcmp(s, name, (size_t)(e - s));
}

static int member(struct jp *j, const char *ks, const char *ke, bool kplain,
		  struct json_request *req)
{
	const char *vs = j->p, *s, *e;
	bool plain;

	if (key_is(ks, ke, kplain, "cmd")) {
		if (parse_string(j, &s, &e, &plain))
			return -EINVAL;
		if (!plain || (size_t)(e - s) >= sizeof(req->cmd))
			return bad(j, "unknown command");
		memcpy(req->cmd, s, (size_t)(e - s));
		req->cmd[e - s] = '\0';
		return 0;
	}
	if (key_is(ks, ke, kplain, "id")) {
		if (j->p < j->end && *j->p == '"') {
			if (parse_string(j, &s, &e, &plain))
				return -EINVAL;
			/* echoed verbatim: only plain printable ASCII */
			for (const char *c = s; c < e; c++)
				if (*c < 0x20 || *c > 0x7e || *c == '\\')
					plain = false;
			if (!plain)
				return bad(j, "id: only printable ASCII strings");
		} else if (parse_number(j)) {
			return bad(j, "id: expected a number or a string");
		}
		if ((size_t)(j->p - vs) >= sizeof(req->id))
			return bad(j, "id too long");
		memcpy(req->id, vs, (size_t)(j->p - vs));
		req->id[j->p - vs] = '\0';
		req->has_id = true;
		return 0;
	}
	if (key_is(ks, ke, kplain, "samples")) {
		if (j->p < j->end && *j->p == 't') {
			req->samples = true;
			req->has_samples = true;
			return literal(j, "true");
		}
		if (j->p < j->end && *j->p == 'f') {
			req->samples = false;
			req->has_samples = true;
			return literal(j, "false");
		}
		return bad(j, "samples: expected true or false");
	}
	return skip_value(j, 1);
}

int json_parse_request(const char *s, size_t len, struct json_request *req, const char **why)
{
	struct jp j = { .p = s, .end = s + len };

	memset(req, 0, sizeof(*req));
	ws(&j);
	if (j.p >= j.end || *j.p != '{') {
		*why = "expected a JSON object";
		return -EINVAL;
	}
	j.p++;
	ws(&j);
	if (j.p < j.end && *j.p == '}') {
		j.p++;
	} else {
		for (;;) {
			const char *ks, *ke;
			bool kplain;

			ws(&j);
			if (parse_string(&j, &ks, &ke, &kplain))
				goto fail;
			ws(&j);
			if (j.p >= j.end || *j.p != ':') {
				bad(&j, "expected ':'");
				goto fail;
			}
			j.p++;
			ws(&j);
			if (member(&j, ks, ke, kplain, req))
				goto fail;
			ws(&j);
			if (j.p >= j.end) {
				bad(&j, "unterminated object");
				goto fail;
			}
			if (*j.p == '}') {
				j.p++;
				break;
			}
			if (*j.p != ',') {
				bad(&j, "expected ',' or '}'");
				goto fail;
			}
			j.p++;
		}
	}
	ws(&j);
	if (j.p != j.end) {
		bad(&j, "trailing data after the object");
		goto fail;
	}
	if (!req->cmd[0]) {
		*why = "missing \"cmd\"";
		return -EINVAL;
	}
	return 0;
fail:
	*why = j.why ? j.why : "bad JSON";
	return -EINVAL;
}
