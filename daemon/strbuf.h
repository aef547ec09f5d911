/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A growable byte buffer for replies and events.  Appends never fail: on
 * allocation failure or when the buffer would pass its limit the buffer is
 * marked overflowed and further appends are dropped; callers check
 * sb_failed() once at the end.
 */
#ifndef MB_STRBUF_H
#define MB_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *buf;
	size_t len;
	size_t cap;
	size_t limit;		/* 0: SB_DEFAULT_LIMIT */
	bool failed;
};

#define SB_DEFAULT_LIMIT (1u << 20)

void sb_init(struct strbuf *sb, size_t limit);
void sb_free(struct strbuf *sb);
void sb_reset(struct strbuf *sb);
void sb_add(struct strbuf *sb, const void *data, size_t len);
void sb_puts(struct strbuf *sb, const char *s);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n bytes (what a write() consumed). */
void sb_consume(struct strbuf *sb, size_t n);
/* NUL-terminated view (the NUL is not part of len). */
const char *sb_str(struct strbuf *sb);

static inline bool sb_failed(const struct strbuf *sb)
{
	return sb->failed;
}

#endif
