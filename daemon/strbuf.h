/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A growable byte buffer for replies, events and queued output.  Appends
 * never fail: on allocation failure or when the buffer would pass its limit
 * the buffer is marked overflowed and further appends are dropped; callers
 * check sb_failed() once at the end.
 *
 * The data is buf[off..len): sb_consume() (what a write() took) only moves
 * off forward, so a connection that drains its output in small pieces costs
 * no copying.  The unread bytes are moved to the front only when that pays:
 * when an append finds no room at the end and at least as many bytes before
 * off are dead as are still unread (each byte is then moved at most once
 * for every byte consumed).  A buffer that only grows (replies, events)
 * keeps off == 0, and buf/len mean what they always did.
 */
#ifndef MB_STRBUF_H
#define MB_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *buf;
	size_t off;		/* first unread byte */
	size_t len;		/* end of the data */
	size_t cap;
	size_t limit;		/* most unread bytes; 0: SB_DEFAULT_LIMIT */
	bool failed;
};

#define SB_DEFAULT_LIMIT (1u << 20)
#define SB_KEEP_CAP (16u << 10)	/* an emptied buffer larger than this is freed */

void sb_init(struct strbuf *sb, size_t limit);
void sb_free(struct strbuf *sb);
void sb_reset(struct strbuf *sb);
void sb_add(struct strbuf *sb, const void *data, size_t len);
void sb_puts(struct strbuf *sb, const char *s);
void sb_printf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Drop the first n unread bytes (what a write() consumed). */
void sb_consume(struct strbuf *sb, size_t n);
/* NUL-terminated view of the unread bytes (the NUL is not counted). */
const char *sb_str(struct strbuf *sb);

/* Unread bytes, and where they start. */
static inline size_t sb_len(const struct strbuf *sb)
{
	return sb->len - sb->off;
}

static inline const char *sb_data(const struct strbuf *sb)
{
	return sb->buf ? sb->buf + sb->off : "";
}

static inline bool sb_failed(const struct strbuf *sb)
{
	return sb->failed;
}

#endif
