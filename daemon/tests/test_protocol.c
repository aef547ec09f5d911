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

static void fake_init(struct fake *f)
{
	assert_int_equal(sample_collect(&f->s, "fixtures/proc-guest"), 0);
	f->dev = (struct mb_dev){ .id = 3, .name = "virtio3", .features = 0x100000006ull,
				  .ram_pages = 524288, .target_pages = 262144,
				  .actual_pages = 131072, .reserve_pages = 16384 };
	f->v = (struct view){ .sample = &f->s, .devs = &f->dev, .ndevs = 1,
			      .driver_loaded = true, .trigger = "some 150000 1000000",
			      .mono_ms = 12345, .wall_ms = 1700000000000ull,
			      .refresh = fake_refresh };
	f->v.refresh_arg = f;
}

/* Every test: the fake daemon state, a TCP connection's protocol state, its output. */
struct env {
	struct fake f;
	struct proto_conn c;
	struct strbuf out;
};

static int env_setup(void **state)
{
	struct env *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	fake_init(&t->f);
	proto_conn_init(&t->c, true);
	sb_init(&t->out, 0);
	*state = t;
	return 0;
}

static int env_teardown(void **state)
{
	struct env *t = *state;

	sb_free(&t->out);
	free(t);
	return 0;
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
	struct env *t = *state;

	assert_int_equal(feed(&t->c, &t->f, "stats\n", &t->out, 1), PROTO_CONTINUE);
	assert_string_equal(sb_str(&t->out), MOM_GUEST);
	assert_int_equal(t->c.kind, PROTO_MOM);
	assert_int_equal(t->f.refreshed, 1);
	/* CRLF, split across reads */
	sb_reset(&t->out);
	feed(&t->c, &t->f, "st", &t->out, 2);
	assert_int_equal(t->out.len, 0);
	feed(&t->c, &t->f, "ats\r\n", &t->out, 3);
	assert_string_equal(sb_str(&t->out), MOM_GUEST);
	/* unknown MOM request */
	sb_reset(&t->out);
	feed(&t->c, &t->f, "help\n", &t->out, 4);
	assert_string_equal(sb_str(&t->out), "error:unknown request\n");
	/* JSON after the connection chose MOM is just a bad MOM request */
	sb_reset(&t->out);
	feed(&t->c, &t->f, "{\"cmd\":\"ping\"}\n", &t->out, 5);
	assert_string_equal(sb_str(&t->out), "error:unknown request\n");
}

static void mom_units(void **state)
{
	struct env *t = *state;
	struct mom_swap prev = { 0 };

	/* memory in KiB, faults as counts; the first reply's swap is 0 */
	t->f.s.vm.pswpin = 10;
	t->f.s.vm.pswpout = 3;
	t->f.s.vm.pgmajfault = 7;
	t->f.s.vm.pgfault = 99;
	report_mom_stats(&t->out, &t->f.v, &prev);
	assert_string_equal(sb_str(&t->out), "mem_available:2014152,mem_unused:1965296,"
			    "mem_free:1894428,swap_in:0,swap_out:0,major_fault:7,minor_fault:99\n");
	/* swap in pages since that reply, not KiB: 4 KiB or 64 KiB pages alike */
	t->f.s.vm.pswpin = 15;
	t->f.s.vm.pswpout = 4;
	sb_reset(&t->out);
	report_mom_stats(&t->out, &t->f.v, &prev);
	assert_string_equal(sb_str(&t->out), "mem_available:2014152,mem_unused:1965296,"
			    "mem_free:1894428,swap_in:5,swap_out:1,major_fault:7,minor_fault:99\n");
	/* no sample yet: zeros, still a well-formed line, and the counters kept */
	t->f.v.sample = NULL;
	sb_reset(&t->out);
	report_mom_stats(&t->out, &t->f.v, &prev);
	assert_string_equal(sb_str(&t->out), "mem_available:0,mem_unused:0,mem_free:0,swap_in:0,"
			    "swap_out:0,major_fault:0,minor_fault:0\n");
	assert_true(prev.valid);
	assert_int_equal(prev.pswpin, 15);
	assert_int_equal(prev.pswpout, 4);
	/* vmstat unreadable: the same */
	t->f.v.sample = &t->f.s;
	t->f.s.vmstat_ok = false;
	t->f.s.vm.pswpin = 1000;
	sb_reset(&t->out);
	report_mom_stats(&t->out, &t->f.v, &prev);
	assert_non_null(strstr(sb_str(&t->out), ",swap_in:0,swap_out:0,"));
	assert_int_equal(prev.pswpin, 15);
	/* readable again: everything since the last reply that had the counters */
	t->f.s.vmstat_ok = true;
	sb_reset(&t->out);
	report_mom_stats(&t->out, &t->f.v, &prev);
	assert_non_null(strstr(sb_str(&t->out), ",swap_in:985,swap_out:0,"));
	/* a counter that went down (a new count): 0, and counting from there */
	t->f.s.vm.pswpin = 200;
	sb_reset(&t->out);
	report_mom_stats(&t->out, &t->f.v, &prev);
	assert_non_null(strstr(sb_str(&t->out), ",swap_in:0,swap_out:0,"));
	t->f.s.vm.pswpin = 203;
	sb_reset(&t->out);
	report_mom_stats(&t->out, &t->f.v, &prev);
	assert_non_null(strstr(sb_str(&t->out), ",swap_in:3,swap_out:0,"));
}

/* MOM reply on c: swap_in and swap_out as numbers. */
static void ask_swap(struct proto_conn *c, struct fake *f, const char *request,
		     unsigned long long *in, unsigned long long *out)
{
	struct strbuf sb;
	const char *p;

	sb_init(&sb, 0);
	assert_int_equal(proto_feed(c, request, strlen(request), &f->v, &sb, 1), PROTO_CONTINUE);
	p = strstr(sb_str(&sb), ",swap_in:");
	assert_non_null(p);
	assert_int_equal(sscanf(p, ",swap_in:%llu,swap_out:%llu,", in, out), 2);
	sb_free(&sb);
}

/*
 * MOM's contract: swap_in/swap_out are pages since the previous "stats" on
 * the same connection; a connection's first reply says 0, whatever the
 * other connections asked in between.
 */
static void mom_swap_per_connection(void **state)
{
	struct env *t = *state;
	struct proto_conn a, b;
	unsigned long long in, out;

	proto_conn_init(&a, true);
	proto_conn_init(&b, true);
	t->f.s.vm.pswpin = 1000;
	t->f.s.vm.pswpout = 500;

	/* one connection, two requests */
	ask_swap(&a, &t->f, "stats\n", &in, &out);
	assert_int_equal(in, 0);
	assert_int_equal(out, 0);
	t->f.s.vm.pswpin += 25;
	t->f.s.vm.pswpout += 7;
	ask_swap(&a, &t->f, "stats\n", &in, &out);
	assert_int_equal(in, 25);
	assert_int_equal(out, 7);
	ask_swap(&a, &t->f, "stats\n", &in, &out);
	assert_int_equal(in, 0);
	assert_int_equal(out, 0);

	/* a second connection starts at 0 and does not take a's pages */
	t->f.s.vm.pswpin += 10;
	ask_swap(&b, &t->f, "stats\n", &in, &out);
	assert_int_equal(in, 0);
	assert_int_equal(out, 0);
	ask_swap(&a, &t->f, "stats\n", &in, &out);
	assert_int_equal(in, 10);
	t->f.s.vm.pswpin += 4;
	t->f.s.vm.pswpout += 2;
	ask_swap(&b, &t->f, "stats\n", &in, &out);
	assert_int_equal(in, 4);
	assert_int_equal(out, 2);
	ask_swap(&a, &t->f, "stats\n", &in, &out);
	assert_int_equal(in, 4);
	assert_int_equal(out, 2);

	/* a bare "stats" (answered before its newline) counts the same way */
	t->f.s.vm.pswpout += 3;
	ask_swap(&b, &t->f, "stats", &in, &out);
	assert_int_equal(in, 0);
	assert_int_equal(out, 3);

	/* a conversation that starts over (serial port, new host process) starts at 0 */
	t->f.s.vm.pswpin += 8;
	proto_conn_init(&a, false);
	ask_swap(&a, &t->f, "stats\n", &in, &out);
	assert_int_equal(in, 0);
	assert_int_equal(out, 0);
}

static void mom_without_newline(void **state)
{
	struct env *t = *state;

	feed(&t->c, &t->f, "stats", &t->out, 1);
	assert_string_equal(sb_str(&t->out), MOM_GUEST);
	assert_int_equal(proto_deadline(&t->c, 1000), 0);
	/* the newline that follows is an empty line: ignored */
	sb_reset(&t->out);
	feed(&t->c, &t->f, "\n", &t->out, 2);
	assert_int_equal(t->out.len, 0);
}

static void json_requests(void **state)
{
	struct env *t = *state;

	feed(&t->c, &t->f, "{\"cmd\":\"ping\",\"id\":7}\n", &t->out, 1);
	assert_string_equal(sb_str(&t->out), "{\"reply\":\"ping\",\"id\":7,\"version\":1,"
			    "\"mono_ms\":12345,\"wall_ms\":1700000000000}\n");
	assert_int_equal(t->c.kind, PROTO_JSON);
	sb_reset(&t->out);
	feed(&t->c, &t->f, "{\"cmd\":\"snapshot\",\"id\":\"s1\"}\n", &t->out, 2);
	assert_non_null(strstr(sb_str(&t->out), "{\"reply\":\"snapshot\",\"id\":\"s1\",\"mono_ms\":12345"));
	assert_non_null(strstr(sb_str(&t->out), "\"psi\":{\"some\":{\"avg10\":34.77,\"avg60\":6.92,"
			       "\"avg300\":1.47,\"total_us\":5723361}"));
	assert_non_null(strstr(sb_str(&t->out), "\"memory_kib\":{\"total\":2014152,\"free\":1965296,"
			       "\"available\":1894428"));
	assert_non_null(strstr(sb_str(&t->out), "\"driver\":\"loaded\",\"devices\":[{\"name\":\"virtio3\","
			       "\"id\":3,\"ram_pages\":524288,\"ram_mib\":2048,\"target_pages\":262144,"
			       "\"target_mib\":1024,\"actual_pages\":131072,\"actual_mib\":512"));
	assert_non_null(strstr(sb_str(&t->out), "\"features\":[\"STATS_VQ\",\"DEFLATE_ON_OOM\","
			       "\"VERSION_1\"]"));
	assert_int_equal(sb_str(&t->out)[t->out.len - 1], '\n');
	assert_int_equal(t->f.refreshed, 1);
	/* MOM's request on a JSON connection is a JSON error */
	sb_reset(&t->out);
	feed(&t->c, &t->f, "stats\n", &t->out, 3);
	assert_string_equal(sb_str(&t->out), "{\"error\":\"bad request: expected a JSON object\"}\n");
	sb_reset(&t->out);
	feed(&t->c, &t->f, "{\"cmd\":\"reboot\",\"id\":2}\n", &t->out, 4);
	assert_string_equal(sb_str(&t->out), "{\"error\":\"unknown command\",\"reply\":\"reboot\","
			    "\"id\":2}\n");
}

static void subscriptions(void **state)
{
	struct env *t = *state;

	assert_false(proto_wants_event(&t->c, false));
	feed(&t->c, &t->f, "{\"cmd\":\"subscribe\"}\n", &t->out, 1);
	assert_string_equal(sb_str(&t->out), "{\"reply\":\"subscribe\",\"ok\":true,\"samples\":false}\n");
	assert_true(proto_wants_event(&t->c, false));
	assert_false(proto_wants_event(&t->c, true));
	feed(&t->c, &t->f, "{\"cmd\":\"subscribe\",\"samples\":true}\n", &t->out, 2);
	assert_true(proto_wants_event(&t->c, true));
	feed(&t->c, &t->f, "{\"cmd\":\"unsubscribe\"}\n", &t->out, 3);
	assert_false(proto_wants_event(&t->c, false));
	/* MOM connections never get events */
	proto_conn_init(&t->c, true);
	feed(&t->c, &t->f, "stats\n", &t->out, 4);
	assert_false(proto_wants_event(&t->c, false));
}

static void events(void **state)
{
	struct env *t = *state;

	t->f.dev.event = MEMBALLOON_EVENT_TARGET_CHANGED;
	report_balloon_event(&t->out, &t->f.v, &t->f.dev);
	assert_true(starts_with(sb_str(&t->out), "{\"event\":\"balloon\",\"type\":\"target_changed\","
				"\"mono_ms\":12345,\"wall_ms\":1700000000000,\"device\":{"));
	sb_reset(&t->out);
	report_pressure_event(&t->out, &t->f.v);
	assert_true(starts_with(sb_str(&t->out), "{\"event\":\"pressure\",\"trigger\":\"some 150000 "
				"1000000\",\"mono_ms\":12345"));
	sb_reset(&t->out);
	report_action_event(&t->out, &t->f.v, "release", &t->f.dev, 65536, "test", -EPERM);
	assert_non_null(strstr(sb_str(&t->out), "\"action\":\"release\",\"device\":\"virtio3\","
			       "\"pages\":65536,\"mib\":256,\"reason\":\"test\",\"result\":\"error\","
			       "\"error\":\"Operation not permitted\""));
	sb_reset(&t->out);
	report_driver_event(&t->out, &t->f.v, false);
	assert_string_equal(sb_str(&t->out), "{\"event\":\"driver\",\"state\":\"unloaded\","
			    "\"mono_ms\":12345,\"wall_ms\":1700000000000}\n");
	/* without PSI the fields are null, not missing */
	t->f.s.psi_ok = false;
	sb_reset(&t->out);
	report_sample_event(&t->out, &t->f.v);
	assert_non_null(strstr(sb_str(&t->out), "\"psi\":null"));
}

static void oversized(void **state)
{
	struct env *t = *state;
	char big[PROTO_LINE_MAX + 100];

	memset(big, 'x', sizeof(big));
	big[sizeof(big) - 1] = '\0';
	big[0] = '{';
	/* a socket: error, hang up */
	proto_conn_init(&t->c, true);
	assert_int_equal(feed(&t->c, &t->f, big, &t->out, 1), PROTO_CLOSE);
	assert_string_equal(sb_str(&t->out), "{\"error\":\"request line too long\"}\n");
	/* the serial port: error, skip to the next newline, go on */
	proto_conn_init(&t->c, false);
	sb_reset(&t->out);
	assert_int_equal(feed(&t->c, &t->f, big, &t->out, 1), PROTO_CONTINUE);
	assert_string_equal(sb_str(&t->out), "{\"error\":\"request line too long\"}\n");
	sb_reset(&t->out);
	feed(&t->c, &t->f, "more of it", &t->out, 2);
	feed(&t->c, &t->f, "tail\nstats\n", &t->out, 3);
	assert_string_equal(sb_str(&t->out), MOM_GUEST);
	/* exactly PROTO_LINE_MAX is fine */
	proto_conn_init(&t->c, true);
	memset(big, ' ', PROTO_LINE_MAX);
	memcpy(big, "{\"cmd\":\"ping\"}", 14);
	big[PROTO_LINE_MAX] = '\n';
	big[PROTO_LINE_MAX + 1] = '\0';
	sb_reset(&t->out);
	assert_int_equal(feed(&t->c, &t->f, big, &t->out, 4), PROTO_CONTINUE);
	assert_true(starts_with(sb_str(&t->out), "{\"reply\":\"ping\""));
}

static void slow_requests(void **state)
{
	struct env *t = *state;

	assert_int_equal(proto_deadline(&t->c, 5000), 0);
	feed(&t->c, &t->f, "{\"cmd\":", &t->out, 1000);
	assert_int_equal(proto_deadline(&t->c, 5000), 6000);
	feed(&t->c, &t->f, "\"pi", &t->out, 3000);		/* more bytes do not extend it */
	assert_int_equal(proto_deadline(&t->c, 5000), 6000);
	assert_int_equal(proto_timeout(&t->c, &t->out), PROTO_CLOSE);
	assert_string_equal(sb_str(&t->out), "{\"error\":\"request timed out (no complete line)\"}\n");
	/* serial: the partial line is dropped, the port goes on */
	proto_conn_init(&t->c, false);
	sb_reset(&t->out);
	feed(&t->c, &t->f, "sta", &t->out, 10);
	assert_int_equal(proto_timeout(&t->c, &t->out), PROTO_CONTINUE);
	assert_string_equal(sb_str(&t->out), "error:request timed out (no complete line)\n");
	assert_int_equal(proto_deadline(&t->c, 5000), 0);
}

static void error_limit(void **state)
{
	struct env *t = *state;
	enum proto_result r = PROTO_CONTINUE;
	int i;

	for (i = 0; i < 20 && r == PROTO_CONTINUE; i++)
		r = feed(&t->c, &t->f, "\x01\x02garbage\n", &t->out, 1);
	assert_int_equal(r, PROTO_CLOSE);
	assert_int_equal(i, PROTO_MAX_ERRORS);
	/* a good request resets the count */
	proto_conn_init(&t->c, true);
	for (i = 0; i < 3 * PROTO_MAX_ERRORS; i++) {
		assert_int_equal(feed(&t->c, &t->f, "nope\n", &t->out, 1), PROTO_CONTINUE);
		if (i % 4 == 3)
			feed(&t->c, &t->f, "stats\n", &t->out, 1);
	}
	/* serial: starts over as a new peer instead */
	proto_conn_init(&t->c, false);
	feed(&t->c, &t->f, "{\"cmd\":\"subscribe\"}\n", &t->out, 1);
	for (i = 0; i < PROTO_MAX_ERRORS; i++)
		assert_int_equal(feed(&t->c, &t->f, "{\n", &t->out, 1), PROTO_CONTINUE);
	assert_int_equal(t->c.kind, PROTO_UNDECIDED);
	assert_false(t->c.subscribed);
}

static void nul_bytes(void **state)
{
	struct env *t = *state;

	proto_feed(&t->c, "stats\0\n", 7, &t->f.v, &t->out, 1);
	assert_string_equal(sb_str(&t->out), "error:unknown request\n");
	proto_conn_init(&t->c, true);
	sb_reset(&t->out);
	proto_feed(&t->c, "{\"cmd\":\"ping\"}\0\n", 16, &t->f.v, &t->out, 1);
	assert_non_null(strstr(sb_str(&t->out), "\"error\""));
}

/* At most max_lines complete lines per call; the rest is left to the caller. */
static void line_budget(void **state)
{
	const char *in = "stats\n\n{\"cmd\":\"ping\"}\nstats\nsta";
	struct env *t = *state;
	unsigned int lines;
	size_t used;

	/* "stats", the keep-alive: 2 lines; the ping line waits */
	assert_int_equal(proto_feed_limited(&t->c, in, strlen(in), 2, &t->f.v, &t->out, 1, &used, &lines),
			 PROTO_CONTINUE);
	assert_int_equal(lines, 2);
	assert_int_equal(used, 7);
	assert_string_equal(sb_str(&t->out), MOM_GUEST);
	/* no budget: nothing taken */
	sb_reset(&t->out);
	proto_feed_limited(&t->c, in + used, strlen(in + used), 0, &t->f.v, &t->out, 1, &used, &lines);
	assert_int_equal(used, 0);
	assert_int_equal(lines, 0);
	assert_int_equal(t->out.len, 0);
	/* the rest: a bad MOM line (the connection chose MOM), "stats", and a partial line */
	in += 7;
	assert_int_equal(proto_feed_limited(&t->c, in, strlen(in), 5, &t->f.v, &t->out, 1, &used, &lines),
			 PROTO_CONTINUE);
	assert_int_equal(used, strlen(in));
	assert_int_equal(lines, 2);
	assert_int_equal(t->c.len, 3);
	assert_false(proto_pending(&t->c));
}

/* A bare "stats" answered early costs a line; without one left it waits. */
static void line_budget_bare_stats(void **state)
{
	struct env *t = *state;
	unsigned int lines;
	size_t used;

	proto_feed_limited(&t->c, "stats\nstats", 11, 1, &t->f.v, &t->out, 1, &used, &lines);
	assert_int_equal(used, 11);
	assert_int_equal(lines, 1);
	assert_string_equal(sb_str(&t->out), MOM_GUEST);
	assert_true(proto_pending(&t->c));
	sb_reset(&t->out);
	proto_feed_limited(&t->c, "", 0, 1, &t->f.v, &t->out, 1, &used, &lines);
	assert_int_equal(lines, 1);
	assert_string_equal(sb_str(&t->out), MOM_GUEST);
	assert_false(proto_pending(&t->c));
	/* an oversized line's error needs a line of budget too */
	proto_conn_init(&t->c, true);
	sb_reset(&t->out);
	{
		char big[PROTO_LINE_MAX + 10];

		memset(big, '{', sizeof(big));
		proto_feed_limited(&t->c, big, sizeof(big), 0, &t->f.v, &t->out, 1, &used, &lines);
		assert_int_equal(used, 0);
		assert_int_equal(t->out.len, 0);
		assert_int_equal(proto_feed_limited(&t->c, big, sizeof(big), 1, &t->f.v, &t->out, 1, &used,
						    &lines), PROTO_CLOSE);
		assert_int_equal(lines, 1);
		assert_non_null(strstr(sb_str(&t->out), "too long"));
	}
}

#define TEST(name) cmocka_unit_test_setup_teardown(name, env_setup, env_teardown)

int run_protocol_tests(void)
{
	const struct CMUnitTest protocol[] = {
		TEST(mom_stats),
		TEST(mom_units),
		TEST(mom_swap_per_connection),
		TEST(mom_without_newline),
		TEST(json_requests),
		TEST(subscriptions),
		TEST(events),
		TEST(oversized),
		TEST(slow_requests),
		TEST(error_limit),
		TEST(nul_bytes),
		TEST(line_budget),
		TEST(line_budget_bare_stats),
	};

	return RUN_GROUP(protocol);
}
