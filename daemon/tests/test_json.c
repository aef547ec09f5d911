// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <math.h>

#include "unit.h"
#include "json.h"

static int req(const char *s, struct json_request *r, const char **why)
{
	return json_parse_request(s, strlen(s), r, why);
}

static void good_requests(void **state)
{
	struct json_request r;
	const char *why;

	(void)state;
	assert_int_equal(req("{\"cmd\":\"ping\"}", &r, &why), 0);
	assert_string_equal(r.cmd, "ping");
	assert_false(r.has_id);
	assert_int_equal(req(" { \"id\" : -12.5e+3 , \"cmd\" : \"snapshot\" } \r", &r, &why), 0);
	assert_string_equal(r.cmd, "snapshot");
	assert_string_equal(r.id, "-12.5e+3");
	assert_int_equal(req("{\"cmd\":\"subscribe\",\"samples\":true,\"id\":\"abc-1\"}", &r, &why), 0);
	assert_true(r.has_samples && r.samples);
	assert_string_equal(r.id, "\"abc-1\"");
	/* ids are echoed as sent, whatever a number type could hold */
	assert_int_equal(req("{\"cmd\":\"ping\",\"id\":123456789012345678901234567890}", &r, &why),
			 0);
	assert_string_equal(r.id, "123456789012345678901234567890");
	assert_int_equal(req("{\"cmd\":\"ping\",\"id\":-0}", &r, &why), 0);
	assert_string_equal(r.id, "-0");
	/* unknown members of any shape are skipped */
	assert_int_equal(req("{\"x\":[1,{\"y\":[null,true,false,\"\\u00e9\\n\"]}],\"cmd\":\"ping\","
			     "\"z\":{}}", &r, &why), 0);
	assert_string_equal(r.cmd, "ping");
}

static void bad_requests(void **state)
{
	static const char *const bad[] = {
		"", "[]", "\"cmd\"", "{", "{\"cmd\"", "{\"cmd\":}", "{\"cmd\":\"ping\"",
		"{\"cmd\":\"ping\",}", "{\"cmd\":\"ping\"} x", "{\"cmd\":\"ping\"}{}",
		"{\"cmd\":ping}", "{\"cmd\":1}", "{cmd:\"ping\"}", "{\"cmd\":\"pi\\ng\"}",
		"{\"cmd\":\"ping\",\"id\":[1]}", "{\"cmd\":\"ping\",\"id\":\"a\\\"b\"}",
		"{\"cmd\":\"ping\",\"id\":01}", "{\"cmd\":\"ping\",\"id\":1.}",
		"{\"cmd\":\"ping\",\"id\":-}", "{\"cmd\":\"ping\",\"samples\":1}",
		"{\"cmd\":\"ping\",\"x\":tru}", "{\"cmd\":\"ping\",\"x\":\"\\x\"}",
		"{\"cmd\":\"ping\",\"x\":\"\\u12\"}", "{\"cmd\":\"ping\",\"x\":\"a\tb\"}",
		"{\"x\":1}", "{}",
		/* not JSON (RFC 8259), though json-c's strict mode takes them (docs/daemon.md) */
		"{\"cmd\":\"ping\",\"x\":NaN}", "{\"cmd\":\"ping\",\"x\":Infinity}",
		"{\"cmd\":\"ping\",\"x\":-Infinity}",
		"{\"cmd\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
	};
	struct json_request r;
	const char *why;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (req(bad[i], &r, &why) != -EINVAL)
			fail_msg("accepted: %s", bad[i]);
		assert_non_null(why);
	}
	assert_int_equal(req("{}", &r, &why), -EINVAL);
	assert_string_equal(why, "missing \"cmd\"");
}

static void depth_limit(void **state)
{
	char buf[256];
	struct json_request r;
	const char *why;
	int n;

	(void)state;
	n = snprintf(buf, sizeof(buf), "{\"cmd\":\"ping\",\"x\":");
	for (int i = 0; i < 40; i++)
		buf[n++] = '[';
	for (int i = 0; i < 40; i++)
		buf[n++] = ']';
	buf[n++] = '}';
	buf[n] = '\0';
	assert_int_equal(req(buf, &r, &why), -EINVAL);
	assert_string_equal(why, "nested too deep");
}

static void embedded_nul(void **state)
{
	static const char s[] = "{\"cmd\":\"ping\"}\0junk";
	struct json_request r;
	const char *why;

	(void)state;
	assert_int_equal(json_parse_request(s, sizeof(s) - 1, &r, &why), -EINVAL);
}

static void writer(void **state)
{
	struct strbuf sb;

	(void)state;
	sb_init(&sb, 0);
	json_str(&sb, "a\"b\\c\nd\x01\x7f\xc3\xa9");
	assert_string_equal(sb_str(&sb), "\"a\\\"b\\\\c\\nd\\u0001\\u007f??\"");
	sb_reset(&sb);
	json_num2(&sb, 1.005);
	sb_puts(&sb, ",");
	json_num2(&sb, NAN);
	sb_puts(&sb, ",");
	json_num2(&sb, INFINITY);
	assert_string_equal(sb_str(&sb), "1.00,null,null");
	sb_free(&sb);
}

int run_json_tests(void)
{
	const struct CMUnitTest json[] = {
		cmocka_unit_test(good_requests),
		cmocka_unit_test(bad_requests),
		cmocka_unit_test(depth_limit),
		cmocka_unit_test(embedded_nul),
		cmocka_unit_test(writer),
	};

	return RUN_GROUP(json);
}
