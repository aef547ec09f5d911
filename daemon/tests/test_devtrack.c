// SPDX-License-Identifier: GPL-2.0
/* The device table: dumps and events, without a socket. */
#include <stdlib.h>

#include "unit.h"
#include "devtrack.h"
#include "linux/memballoon.h"

struct forgotten {
	uint32_t id[8];
	size_t n;
};

static void forget(void *arg, uint32_t id)
{
	struct forgotten *f = arg;

	if (f->n < 8)
		f->id[f->n++] = id;
}

static const struct devtrack_ops ops = { .forget = forget };

static struct mb_dev dev(uint32_t id, uint32_t event, uint32_t actual)
{
	struct mb_dev d = { .id = id, .event = event, .actual_pages = actual };

	snprintf(d.name, sizeof(d.name), "virtio%u", id);
	return d;
}

static struct mb_dev *dump(size_t n, const uint32_t *ids)
{
	struct mb_dev *v = calloc(n ? n : 1, sizeof(*v));

	for (size_t i = 0; i < n; i++)
		v[i] = dev(ids[i], 0, 100 * ids[i]);
	return v;
}

static void setup(struct devtrack *t, struct forgotten *f)
{
	memset(t, 0, sizeof(*t));
	memset(f, 0, sizeof(*f));
	t->ops = &ops;
	t->arg = f;
}

/* Only DEVICE_ADDED or a dump makes a device known; DEVICE_REMOVED is its end. */
static void events(void **state)
{
	struct devtrack t;
	struct forgotten f;
	struct mb_dev ev;

	(void)state;
	setup(&t, &f);
	ev = dev(3, MEMBALLOON_EVENT_TARGET_CHANGED, 10);
	assert_int_equal(devtrack_apply(&t, &ev), DEVTRACK_IGNORED);
	assert_int_equal(t.ndevs, 0);
	ev = dev(3, MEMBALLOON_EVENT_DEVICE_ADDED, 0);
	assert_int_equal(devtrack_apply(&t, &ev), DEVTRACK_ADDED);
	assert_int_equal(t.ndevs, 1);
	/* a new device starts with no guard rail history */
	assert_int_equal(f.n, 1);
	assert_int_equal(f.id[0], 3);
	ev = dev(3, MEMBALLOON_EVENT_ACTUAL_CHANGED, 4096);
	assert_int_equal(devtrack_apply(&t, &ev), DEVTRACK_UPDATED);
	assert_int_equal(devtrack_find(&t, 3)->actual_pages, 4096);
	ev = dev(5, MEMBALLOON_EVENT_DEVICE_ADDED, 0);
	assert_int_equal(devtrack_apply(&t, &ev), DEVTRACK_ADDED);
	ev = dev(3, MEMBALLOON_EVENT_DEVICE_REMOVED, 0);
	assert_int_equal(devtrack_apply(&t, &ev), DEVTRACK_REMOVED);
	assert_int_equal(t.ndevs, 1);
	assert_null(devtrack_find(&t, 3));
	assert_non_null(devtrack_find(&t, 5));
	assert_int_equal(f.n, 3);
	assert_int_equal(f.id[2], 3);
	/* after its last event a device stays gone, and a second removal is nothing */
	ev = dev(3, MEMBALLOON_EVENT_ACTUAL_CHANGED, 1);
	assert_int_equal(devtrack_apply(&t, &ev), DEVTRACK_IGNORED);
	ev = dev(3, MEMBALLOON_EVENT_DEVICE_REMOVED, 0);
	assert_int_equal(devtrack_apply(&t, &ev), DEVTRACK_IGNORED);
	assert_int_equal(t.ndevs, 1);
	devtrack_clear(&t);
	assert_int_equal(t.ndevs, 0);
	assert_int_equal(f.id[f.n - 1], 5);
}

/* A dump replaces the table; the devices missing from it are forgotten. */
static void dumps(void **state)
{
	static const uint32_t first[] = { 1, 2, 3 }, second[] = { 3, 4 };
	struct devtrack t;
	struct forgotten f;

	(void)state;
	setup(&t, &f);
	devtrack_replace(&t, dump(3, first), 3);
	assert_int_equal(t.ndevs, 3);
	assert_int_equal(f.n, 0);
	devtrack_replace(&t, dump(2, second), 2);
	assert_int_equal(t.ndevs, 2);
	assert_int_equal(f.n, 2);
	assert_int_equal(f.id[0], 1);
	assert_int_equal(f.id[1], 2);
	assert_int_equal(devtrack_find(&t, 4)->actual_pages, 400);
	devtrack_replace(&t, dump(0, NULL), 0);
	assert_int_equal(t.ndevs, 0);
	assert_int_equal(f.n, 4);
	devtrack_clear(&t);
}

int run_devtrack_tests(void)
{
	const struct CMUnitTest devtrack[] = {
		cmocka_unit_test(events),
		cmocka_unit_test(dumps),
	};

	return RUN_GROUP(devtrack);
}
