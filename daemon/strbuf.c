// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

void sb_init(struct strbuf *sb, size_t limit)
{
	memset(sb, 0, sizeof(*sb));
	sb->limit = limit ? limit : SB_DEFAULT_LIMIT;
}

void sb_free(struct strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->off = sb->len = sb->cap = 0;
}

void sb_reset(struct strbuf *sb)
{
	sb->off = sb->len = 0;
	sb->failed = false;
	if (sb->buf)
		sb->buf[0] = '\0';
}

/* Room for n more bytes plus a NUL after len. */
static bool sb_reserve(struct strbuf *sb, size_t n)
{
	size_t unread = sb->len - sb->off, want, cap;
	char *p;

	if (sb->failed)
		return false;
	if (n > sb->limit || unread > sb->limit - n) {
		sb->failed = true;
		return false;
	}
	if (sb->len + n + 1 <= sb->cap)
		return true;
	if (sb->off && sb->off >= unread) {
		memmove(sb->buf, sb->buf + sb->off, unread);
		sb->off = 0;
		sb->len = unread;
		if (sb->len + n + 1 <= sb->cap)
			return true;
	}
	want = sb->len + n + 1;
	cap = sb->cap ? sb->cap : 256;
	while (cap < want)
		cap *= 2;
	p = realloc(sb->buf, cap);
	if (!p) {
		sb->failed = true;
		return false;
	}
	sb->buf = p;
	sb->cap = cap;
	return true;
}

void sb_add(struct strbuf *sb, const void *data, size_t len)
{
	if (!sb_reserve(sb, len))
		return;
	if (len)
		memcpy(sb->buf + sb->len, data, len);
	sb->len += len;
	sb->buf[sb->len] = '\0';
}

void sb_puts(struct strbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

void sb_printf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || !sb_reserve(sb, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void sb_consume(struct strbuf *sb, size_t n)
{
	if (n < sb->len - sb->off) {
		sb->off += n;
		return;
	}
	/* all read: start over at the front, and give a big buffer back */
	sb->off = sb->len = 0;
	if (sb->cap > SB_KEEP_CAP) {
		sb_free(sb);
		return;
	}
	if (sb->buf)
		sb->buf[0] = '\0';
}

const char *sb_str(struct strbuf *sb)
{
	return sb_data(sb);
}
