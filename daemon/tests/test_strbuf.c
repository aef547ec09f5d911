// SPDX-License-Identifier: GPL-2.0
/* strbuf: the read offset, compaction only when it pays, the limit on unread bytes. */
#include <stdlib.h>

#include "unit.h"
#include "strbuf.h"

static void consume_moves_offset(void **state)
{
	struct strbuf sb;
	const char *base;

	(void)state;
	sb_init(&sb, 0);
	sb_puts(&sb, "0123456789abcdef");
	base = sb.buf;
	sb_consume(&sb, 10);
	/* nothing copied: the data is where it was */
	assert_ptr_equal(sb.buf, base);
	assert_int_equal(sb.off, 10);
	assert_int_equal(sb_len(&sb), 6);
	assert_ptr_equal(sb_data(&sb), base + 10);
	assert_string_equal(sb_str(&sb), "abcdef");
	/* appending with room at the end keeps the offset */
	sb_puts(&sb, "XY");
	assert_int_equal(sb.off, 10);
	assert_string_equal(sb_str(&sb), "abcdefXY");
	/* everything read: back to the front */
	sb_consume(&sb, 8);
	assert_int_equal(sb.off, 0);
	assert_int_equal(sb.len, 0);
	assert_string_equal(sb_str(&sb), "");
	sb_consume(&sb, 5);		/* more than there is: still empty */
	assert_int_equal(sb_len(&sb), 0);
	sb_free(&sb);
}

static void fill(struct strbuf *sb, char c, size_t n)
{
	char buf[4096];

	assert_true(n <= sizeof(buf));
	memset(buf, c, n);
	sb_add(sb, buf, n);
}

/* No room at the end: move the unread bytes down only if no more than the dead ones. */
static void compaction(void **state)
{
	struct strbuf sb;
	size_t cap;

	(void)state;
	sb_init(&sb, 0);
	fill(&sb, 'a', 255);		/* cap 256: full */
	cap = sb.cap;
	assert_int_equal(cap, 256);
	sb_consume(&sb, 100);		/* 100 dead < 155 unread */
	fill(&sb, 'b', 10);
	assert_int_equal(sb.off, 100);	/* grew instead of moving 155 bytes */
	assert_true(sb.cap > cap);
	assert_int_equal(sb_len(&sb), 165);
	sb_free(&sb);

	sb_init(&sb, 0);
	fill(&sb, 'a', 255);
	sb_consume(&sb, 200);		/* 200 dead >= 55 unread */
	fill(&sb, 'b', 10);
	assert_int_equal(sb.off, 0);	/* moved down, no realloc */
	assert_int_equal(sb.cap, 256);
	assert_int_equal(sb_len(&sb), 65);
	assert_int_equal(sb.buf[54], 'a');
	assert_int_equal(sb.buf[55], 'b');
	assert_int_equal(sb.buf[65], '\0');
	sb_free(&sb);
}

/*
 * A writer that drains a few bytes at a time while events keep coming:
 * the bytes moved by compaction never exceed the bytes consumed.
 */
static void amortised(void **state)
{
	unsigned long long moved = 0, consumed = 0;
	unsigned char next_in = 0, next_out = 0;
	struct strbuf sb;

	(void)state;
	sb_init(&sb, 1 << 20);
	for (int i = 0; i < 200000; i++) {
		size_t before_off = sb.off, unread = sb_len(&sb);
		unsigned char chunk[13];

		/* the stream is 0, 1, 2, ... mod 256 */
		for (size_t j = 0; j < sizeof(chunk); j++)
			chunk[j] = next_in++;
		sb_add(&sb, chunk, sizeof(chunk));
		if (before_off && !sb.off)
			moved += unread;
		for (size_t j = 0; j < 11; j++)
			assert_int_equal((unsigned char)sb_data(&sb)[j], (unsigned char)(next_out + j));
		sb_consume(&sb, 11);
		next_out = (unsigned char)(next_out + 11);
		consumed += 11;
	}
	assert_false(sb_failed(&sb));
	assert_true(moved <= consumed);
	sb_free(&sb);
}

/* The limit counts unread bytes, not what was consumed already. */
static void limit_counts_unread(void **state)
{
	struct strbuf sb;

	(void)state;
	sb_init(&sb, 100);
	fill(&sb, 'a', 100);
	assert_false(sb_failed(&sb));
	sb_consume(&sb, 60);
	fill(&sb, 'b', 60);
	assert_false(sb_failed(&sb));
	assert_int_equal(sb_len(&sb), 100);
	fill(&sb, 'c', 1);
	assert_true(sb_failed(&sb));
	assert_int_equal(sb_len(&sb), 100);
	sb_reset(&sb);
	assert_false(sb_failed(&sb));
	assert_int_equal(sb_len(&sb), 0);
	sb_printf(&sb, "%d", 42);
	assert_string_equal(sb_str(&sb), "42");
	sb_free(&sb);
}

/* A big buffer that empties is given back (a burst does not pin memory). */
static void big_buffer_freed(void **state)
{
	struct strbuf sb;

	(void)state;
	sb_init(&sb, 0);
	for (int i = 0; i < 16; i++)
		fill(&sb, 'x', 4096);
	assert_true(sb.cap > SB_KEEP_CAP);
	sb_consume(&sb, 4096);
	assert_non_null(sb.buf);
	sb_consume(&sb, 15 * 4096);
	assert_null(sb.buf);
	assert_int_equal(sb.cap, 0);
	sb_puts(&sb, "again");
	assert_string_equal(sb_str(&sb), "again");
	sb_free(&sb);
}

int run_strbuf_tests(void)
{
	const struct CMUnitTest strbuf[] = {
		cmocka_unit_test(consume_moves_offset),
		cmocka_unit_test(compaction),
		cmocka_unit_test(amortised),
		cmocka_unit_test(limit_counts_unread),
		cmocka_unit_test(big_buffer_freed),
	};

	return RUN_GROUP(strbuf);
}
