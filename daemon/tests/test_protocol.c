// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "unit.h"
#include "linux/memballoon.h"
#include "protocol.h"

struct fake {
	struct sample s;
	struct mb_dev dev;
	struct view v;
	unsigned int refreshed;
};

static void fake_refresh(void *arg, struct view *fresh)
{
	struct fake *f = arg;

	f->refreshed++;
	*fresh = f->v;
	fresh->refresh = NULL;
}

static struct fake *fake_new(void)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_int_equal(sample_collect(&f->s, "fixtures/proc-guest"), 0);
	f->dev = (struct mb_dev){ .id = 3, .name = "virtio3", .features = 0x100000006ull,
				  .ram_pages = 524288, .target_pages = 262144,
				  .actual_pages = 131072, .reserve_pages = 16384 };
	f->v = (struct view){ .sample = &f->s, .devs = &f->dev, .ndevs = 1,
			      .driver_loaded = true, .trigger = "some 150000 1000000",
			      .mono_ms = 12345, .wall_ms = 1700000000000ull, .page_kib = 4,
			      .refresh = fake_refresh };
	f->v.refresh_arg = f;
	return f;
}

static bool starts_with(const char *s, const char *prefix)
{
	return !strncmp(s, prefix, strlen(prefix));
}

static enum proto_result feed(struct proto_conn *c, struct fake *f, const char *s,
			      struct strbuf *out, uint64_t now)
{
	return proto_feed(c, s, strlen(s), &f->v, out, now);
}

#define MOM_GUEST "mem_available:2014152,mem_unused:1965296,mem_free:1894428,swap_in:0," \
		  "swap_out:0,major_fault:0,minor_fault:4261\n"

static void mom_stats(void **state)
{
	struct fake *f = fake_new();
	struct proto_conn c;
	struct strbuf out;

	(void)state;
	proto_conn_init(&c, true);
	sb_init(&out, 0);
	assert_int_equal(feed(&c, f, "stats\n", &out, 1), PROTO_CONTINUE);
	assert_string_equal(sb_str(&out), MOM_GUEST);
	assert_int_equal(c.kind, PROTO_MOM);
	assert_int_equal(f->refreshed, 1);
	/* CRLF, split across reads */
	sb_reset(&out);
	feed(&c, f, "st", &out, 2);
	assert_int_equal(out.len, 0);
	feed(&c, f, "ats\r\n", &out, 3);
	assert_string_equal(sb_str(&out), MOM_GUEST);
	/* unknown MOM request */
	sb_reset(&out);
	feed(&c, f, "help\n", &out, 4);
	assert_string_equal(sb_str(&out), "error:unknown request\n");
	/* JSON after the connection chose MOM is just a bad MOM request */
	sb_reset(&out);
	feed(&c, f, "{\"cmd\":\"ping\"}\n", &out, 5);
	assert_string_equal(sb_str(&out), "error:unknown request\n");
	sb_free(&out);
	free(f);
}

static void mom_units(void **state)
{
	struct fake *f = fake_new();
	struct strbuf out;

	(void)state;
	/* swap counters are pages in vmstat, KiB for MOM */
	f->s.vm.pswpin = 10;
	f->s.vm.pswpout = 3;
	f->s.vm.pgmajfault = 7;
	f->s.vm.pgfault = 99;
	sb_init(&out, 0);
	report_mom_stats(&out, &f->v);
	assert_string_equal(sb_str(&out), "mem_available:2014152,mem_unused:1965296,"
			    "mem_free:1894428,swap_in:40,swap_out:12,major_fault:7,minor_fault:99\n");
	/* no sample yet: zeros, still a well-formed line */
	f->v.sample = NULL;
	sb_reset(&out);
	report_mom_stats(&out, &f->v);
	assert_string_equal(sb_str(&out), "mem_available:0,mem_unused:0,mem_free:0,swap_in:0,"
			    "swap_out:0,major_fault:0,minor_fault:0\n");
	sb_free(&out);
	free(f);
}

static void mom_without_newline(void **state)
{
	struct fake *f = fake_new();
	struct proto_conn c;
	struct strbuf out;

	(void)state;
	proto_conn_init(&c, true);
	sb_init(&out, 0);
	feed(&c, f, "stats", &out, 1);
	assert_string_equal(sb_str(&out), MOM_GUEST);
	assert_int_equal(proto_deadline(&c, 1000), 0);
	/* the newline that follows is an empty line: ignored */
	sb_reset(&out);
	feed(&c, f, "\n", &out, 2);
	assert_int_equal(out.len, 0);
	sb_free(&out);
	free(f);
}

static void json_requests(void **state)
{
	struct fake *f = fake_new();
	struct proto_conn c;
	struct strbuf out;

	(void)state;
	proto_conn_init(&c, true);
	sb_init(&out, 0);
	feed(&c, f, "{\"cmd\":\"ping\",\"id\":7}\n", &out, 1);
	assert_string_equal(sb_str(&out), "{\"reply\":\"ping\",\"id\":7,\"version\":1,"
			    "\"mono_ms\":12345,\"wall_ms\":1700000000000}\n");
	assert_int_equal(c.kind, PROTO_JSON);
	sb_reset(&out);
	feed(&c, f, "{\"cmd\":\"snapshot\",\"id\":\"s1\"}\n", &out, 2);
	assert_non_null(strstr(sb_str(&out), "{\"reply\":\"snapshot\",\"id\":\"s1\",\"mono_ms\":12345"));
	assert_non_null(strstr(sb_str(&out), "\"psi\":{\"some\":{\"avg10\":34.77,\"avg60\":6.92,"
			       "\"avg300\":1.47,\"total_us\":5723361}"));
	assert_non_null(strstr(sb_str(&out), "\"memory_kib\":{\"total\":2014152,\"free\":1965296,"
			       "\"available\":1894428"));
	assert_non_null(strstr(sb_str(&out), "\"driver\":\"loaded\",\"devices\":[{\"name\":\"virtio3\","
			       "\"id\":3,\"ram_pages\":524288,\"ram_mib\":2048,\"target_pages\":262144,"
			       "\"target_mib\":1024,\"actual_pages\":131072,\"actual_mib\":512"));
	assert_non_null(strstr(sb_str(&out), "\"features\":[\"STATS_VQ\",\"DEFLATE_ON_OOM\","
			       "\"VERSION_1\"]"));
	assert_int_equal(sb_str(&out)[out.len - 1], '\n');
	assert_int_equal(f->refreshed, 1);
	/* MOM's request on a JSON connection is a JSON error */
	sb_reset(&out);
	feed(&c, f, "stats\n", &out, 3);
	assert_string_equal(sb_str(&out), "{\"error\":\"bad request: expected a JSON object\"}\n");
	sb_reset(&out);
	feed(&c, f, "{\"cmd\":\"reboot\",\"id\":2}\n", &out, 4);
	assert_string_equal(sb_str(&out), "{\"error\":\"unknown command\",\"reply\":\"reboot\","
			    "\"id\":2}\n");
	sb_free(&out);
	free(f);
}

static void subscriptions(void **state)
{
	struct fake *f = fake_new();
	struct proto_conn c;
	struct strbuf out;

	(void)state;
	proto_conn_init(&c, true);
	sb_init(&out, 0);
	assert_false(proto_wants_event(&c, false));
	feed(&c, f, "{\"cmd\":\"subscribe\"}\n", &out, 1);
	assert_string_equal(sb_str(&out), "{\"reply\":\"subscribe\",\"ok\":true,\"samples\":false}\n");
	assert_true(proto_wants_event(&c, false));
	assert_false(proto_wants_event(&c, true));
	feed(&c, f, "{\"cmd\":\"subscribe\",\"samples\":true}\n", &out, 2);
	assert_true(proto_wants_event(&c, true));
	feed(&c, f, "{\"cmd\":\"unsubscribe\"}\n", &out, 3);
	assert_false(proto_wants_event(&c, false));
	/* MOM connections never get events */
	proto_conn_init(&c, true);
	feed(&c, f, "stats\n", &out, 4);
	assert_false(proto_wants_event(&c, false));
	sb_free(&out);
	free(f);
}

static void events(void **state)
{
	struct fake *f = fake_new();
	struct strbuf out;

	(void)state;
	sb_init(&out, 0);
	f->dev.event = MEMBALLOON_EVENT_TARGET_CHANGED;
	report_balloon_event(&out, &f->v, &f->dev);
	assert_true(starts_with(sb_str(&out), "{\"event\":\"balloon\",\"type\":\"target_changed\","
				"\"mono_ms\":12345,\"wall_ms\":1700000000000,\"device\":{"));
	sb_reset(&out);
	report_pressure_event(&out, &f->v);
	assert_true(starts_with(sb_str(&out), "{\"event\":\"pressure\",\"trigger\":\"some 150000 "
				"1000000\",\"mono_ms\":12345"));
	sb_reset(&out);
	report_action_event(&out, &f->v, "release", &f->dev, 65536, "test", -EPERM);
	assert_non_null(strstr(sb_str(&out), "\"action\":\"release\",\"device\":\"virtio3\","
			       "\"pages\":65536,\"mib\":256,\"reason\":\"test\",\"result\":\"error\","
			       "\"error\":\"Operation not permitted\""));
	sb_reset(&out);
	report_driver_event(&out, &f->v, false);
	assert_string_equal(sb_str(&out), "{\"event\":\"driver\",\"state\":\"unloaded\","
			    "\"mono_ms\":12345,\"wall_ms\":1700000000000}\n");
	/* without PSI the fields are null, not missing */
	f->s.psi_ok = false;
	sb_reset(&out);
	report_sample_event(&out, &f->v);
	assert_non_null(strstr(sb_str(&out), "\"psi\":null"));
	sb_free(&out);
	free(f);
}

static void oversized(void **state)
{
	struct fake *f = fake_new();
	char big[PROTO_LINE_MAX + 100];
	struct proto_conn c;
	struct strbuf out;

	(void)state;
	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	big[0] = '{';
	sb_init(&out, 0);
	/* a socket: error, hang up */
	proto_conn_init(&c, true);
	assert_int_equal(feed(&c, f, big, &out, 1), PROTO_CLOSE);
	assert_string_equal(sb_str(&out), "{\"error\":\"request line too long\"}\n");
	/* the serial port: error, skip to the next newline, go on */
	proto_conn_init(&c, false);
	sb_reset(&out);
	assert_int_equal(feed(&c, f, big, &out, 1), PROTO_CONTINUE);
	assert_string_equal(sb_str(&out), "{\"error\":\"request line too long\"}\n");
	sb_reset(&out);
	feed(&c, f, "more of it", &out, 2);
	feed(&c, f, "tail\nstats\n", &out, 3);
	assert_string_equal(sb_str(&out), MOM_GUEST);
	/* exactly PROTO_LINE_MAX is fine */
	proto_conn_init(&c, true);
	memset(big, ' ', PROTO_LINE_MAX);
	memcpy(big, "{\"cmd\":\"ping\"}", 14);
	big[PROTO_LINE_MAX] = '\n';
	big[PROTO_LINE_MAX + 1] = '\0';
	sb_reset(&out);
	assert_int_equal(feed(&c, f, big, &out, 4), PROTO_CONTINUE);
	assert_true(starts_with(sb_str(&out), "{\"reply\":\"ping\""));
	sb_free(&out);
	free(f);
}

static void slow_requests(void **state)
{
	struct fake *f = fake_new();
	struct proto_conn c;
	struct strbuf out;

	(void)state;
	proto_conn_init(&c, true);
	sb_init(&out, 0);
	assert_int_equal(proto_deadline(&c, 5000), 0);
	feed(&c, f, "{\"cmd\":", &out, 1000);
	assert_int_equal(proto_deadline(&c, 5000), 6000);
	feed(&c, f, "\"pi", &out, 3000);		/* more bytes do not extend it */
	assert_int_equal(proto_deadline(&c, 5000), 6000);
	assert_int_equal(proto_timeout(&c, &out), PROTO_CLOSE);
	assert_string_equal(sb_str(&out), "{\"error\":\"request timed out (no complete line)\"}\n");
	/* serial: the partial line is dropped, the port goes on */
	proto_conn_init(&c, false);
	sb_reset(&out);
	feed(&c, f, "sta", &out, 10);
	assert_int_equal(proto_timeout(&c, &out), PROTO_CONTINUE);
	assert_string_equal(sb_str(&out), "error:request timed out (no complete line)\n");
	assert_int_equal(proto_deadline(&c, 5000), 0);
	sb_free(&out);
	free(f);
}

static void error_limit(void **state)
{
	struct fake *f = fake_new();
	struct proto_conn c;
	struct strbuf out;
	enum proto_result r = PROTO_CONTINUE;
	int i;

	(void)state;
	proto_conn_init(&c, true);
	sb_init(&out, 0);
	for (i = 0; i < 20 && r == PROTO_CONTINUE; i++)
		r = feed(&c, f, "\x01\x02garbage\n", &out, 1);
	assert_int_equal(r, PROTO_CLOSE);
	assert_int_equal(i, PROTO_MAX_ERRORS);
	/* a good request resets the count */
	proto_conn_init(&c, true);
	for (i = 0; i < 3 * PROTO_MAX_ERRORS; i++) {
		assert_int_equal(feed(&c, f, "nope\n", &out, 1), PROTO_CONTINUE);
		if (i % 4 == 3)
			feed(&c, f, "stats\n", &out, 1);
	}
	/* serial: starts over as a new peer instead */
	proto_conn_init(&c, false);
	feed(&c, f, "{\"cmd\":\"subscribe\"}\n", &out, 1);
	for (i = 0; i < PROTO_MAX_ERRORS; i++)
		assert_int_equal(feed(&c, f, "{\n", &out, 1), PROTO_CONTINUE);
	assert_int_equal(c.kind, PROTO_UNDECIDED);
	assert_false(c.subscribed);
	sb_free(&out);
	free(f);
}

static void nul_bytes(void **state)
{
	struct fake *f = fake_new();
	struct proto_conn c;
	struct strbuf out;

	(void)state;
	proto_conn_init(&c, true);
	sb_init(&out, 0);
	proto_feed(&c, "stats\0\n", 7, &f->v, &out, 1);
	assert_string_equal(sb_str(&out), "error:unknown request\n");
	proto_conn_init(&c, true);
	sb_reset(&out);
	proto_feed(&c, "{\"cmd\":\"ping\"}\0\n", 16, &f->v, &out, 1);
	assert_non_null(strstr(sb_str(&out), "\"error\""));
	sb_free(&out);
	free(f);
}

/* At most max_lines complete lines per call; the rest is left to the caller. */
static void line_budget(void **state)
{
	const char *in = "stats\n\n{\"cmd\":\"ping\"}\nstats\nsta";
	struct fake *f = fake_new();
	struct proto_conn c;
	struct strbuf out;
	unsigned int lines;
	size_t used;

	(void)state;
	proto_conn_init(&c, true);
	sb_init(&out, 0);
	/* "stats", the keep-alive: 2 lines; the ping line waits */
	assert_int_equal(proto_feed_limited(&c, in, strlen(in), 2, &f->v, &out, 1, &used, &lines),
			 PROTO_CONTINUE);
	assert_int_equal(lines, 2);
	assert_int_equal(used, 7);
	assert_string_equal(sb_str(&out), MOM_GUEST);
	/* no budget: nothing taken */
	sb_reset(&out);
	proto_feed_limited(&c, in + used, strlen(in + used), 0, &f->v, &out, 1, &used, &lines);
	assert_int_equal(used, 0);
	assert_int_equal(lines, 0);
	assert_int_equal(out.len, 0);
	/* the rest: a bad MOM line (the connection chose MOM), "stats", and a partial line */
	in += 7;
	assert_int_equal(proto_feed_limited(&c, in, strlen(in), 5, &f->v, &out, 1, &used, &lines),
			 PROTO_CONTINUE);
	assert_int_equal(used, strlen(in));
	assert_int_equal(lines, 2);
	assert_int_equal(c.len, 3);
	assert_false(proto_pending(&c));
	sb_free(&out);
	free(f);
}

/* A bare "stats" answered early costs a line; without one left it waits. */
static void line_budget_bare_stats(void **state)
{
	struct fake *f = fake_new();
	struct proto_conn c;
	struct strbuf out;
	unsigned int lines;
	size_t used;

	(void)state;
	proto_conn_init(&c, true);
	sb_init(&out, 0);
	proto_feed_limited(&c, "stats\nstats", 11, 1, &f->v, &out, 1, &used, &lines);
	assert_int_equal(used, 11);
	assert_int_equal(lines, 1);
	assert_string_equal(sb_str(&out), MOM_GUEST);
	assert_true(proto_pending(&c));
	sb_reset(&out);
	proto_feed_limited(&c, "", 0, 1, &f->v, &out, 1, &used, &lines);
	assert_int_equal(lines, 1);
	assert_string_equal(sb_str(&out), MOM_GUEST);
	assert_false(proto_pending(&c));
	/* an oversized line's error needs a line of budget too */
	proto_conn_init(&c, true);
	sb_reset(&out);
	{
		char big[PROTO_LINE_MAX + 10];

		memset(big, '{', sizeof(big));
		proto_feed_limited(&c, big, sizeof(big), 0, &f->v, &out, 1, &used, &lines);
		assert_int_equal(used, 0);
		assert_int_equal(out.len, 0);
		assert_int_equal(proto_feed_limited(&c, big, sizeof(big), 1, &f->v, &out, 1, &used,
						    &lines), PROTO_CLOSE);
		assert_int_equal(lines, 1);
		assert_non_null(strstr(sb_str(&out), "too long"));
	}
	sb_free(&out);
	free(f);
}

int run_protocol_tests(void)
{
	const struct CMUnitTest protocol[] = {
		cmocka_unit_test(mom_stats),
		cmocka_unit_test(mom_units),
		cmocka_unit_test(mom_without_newline),
		cmocka_unit_test(json_requests),
		cmocka_unit_test(subscriptions),
		cmocka_unit_test(events),
		cmocka_unit_test(oversized),
		cmocka_unit_test(slow_requests),
		cmocka_unit_test(error_limit),
		cmocka_unit_test(nul_bytes),
		cmocka_unit_test(line_budget),
		cmocka_unit_test(line_budget_bare_stats),
	};

	return RUN_GROUP(protocol);
}
