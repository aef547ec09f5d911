// SPDX-License-Identifier: GPL-2.0
/* mb_sysfs_balloons() over a fake /sys/bus/virtio/devices tree. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "unit.h"
#include "mbdev.h"

/* TREE/NAME/device holding id; driver -> ../../drivers/DRIVER unless NULL. */
static void fake_device(const char *tree, const char *name, const char *id, const char *driver)
{
	char path[512], target[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tree, name);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/%s/device", tree, name);
	f = fopen(path, "we");
	assert_non_null(f);
	fprintf(f, "%s\n", id);
	fclose(f);
	if (!driver)
		return;
	snprintf(path, sizeof(path), "%s/%s/driver", tree, name);
	snprintf(target, sizeof(target), "../../../bus/virtio/drivers/%s", driver);
	assert_int_equal(symlink(target, path), 0);
}

static char *fake_tree(void)
{
	char tmpl[] = "/tmp/mbdev-sysfs-XXXXXX";
	char *dir = mkdtemp(tmpl);

	assert_non_null(dir);
	return strdup(dir);
}

static void remove_tree(char *tree)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tree);
	assert_int_equal(system(cmd), 0);
	free(tree);
}

static int find(const struct mb_sysdev *d, int n, const char *name)
{
	int i;

	for (i = 0; i < n; i++)
		if (!strcmp(d[i].name, name))
			return i;
	return -1;
}

/* Balloons only, each with its driver or none; a console and a block device skipped. */
static void sysfs_balloons_drivers(void **state)
{
	struct mb_sysdev d[4];
	char *tree = fake_tree();
	int n, i;

	(void)state;
	fake_device(tree, "virtio0", "0x0003", "virtio_console");
	fake_device(tree, "virtio1", "0x0005", "virtio_balloon");
	fake_device(tree, "virtio2", "0x0002", "virtio_blk");
	fake_device(tree, "virtio3", "0x0005", NULL);
	n = mb_sysfs_balloons(tree, d, 4);
	assert_int_equal(n, 2);
	i = find(d, n, "virtio1");
	assert_true(i >= 0);
	assert_string_equal(d[i].driver, "virtio_balloon");
	i = find(d, n, "virtio3");
	assert_true(i >= 0);
	assert_string_equal(d[i].driver, "");
	remove_tree(tree);
}

/* No balloon at all (a guest without one): 0; no virtio bus: -ENOENT. */
static void sysfs_balloons_none(void **state)
{
	struct mb_sysdev d[2];
	char *tree = fake_tree();
	char path[300];

	(void)state;
	fake_device(tree, "virtio0", "0x0001", "virtio_net");
	assert_int_equal(mb_sysfs_balloons(tree, d, 2), 0);
	snprintf(path, sizeof(path), "%s/absent", tree);
	assert_int_equal(mb_sysfs_balloons(path, d, 2), -ENOENT);
	remove_tree(tree);
}

/* More balloons than room: the count says so, nothing written past max. */
static void sysfs_balloons_overflow(void **state)
{
	struct mb_sysdev d[2];
	char *tree = fake_tree();

	(void)state;
	fake_device(tree, "virtio0", "0x0005", "memballoon");
	fake_device(tree, "virtio1", "0x5", "memballoon");
	fake_device(tree, "virtio2", "0x0005", "memballoon");
	memset(d, 0, sizeof(d));
	assert_int_equal(mb_sysfs_balloons(tree, d, 1), 3);
	assert_string_equal(d[0].driver, "memballoon");
	assert_string_equal(d[1].name, "");
	remove_tree(tree);
}

int run_mbdev_tests(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sysfs_balloons_drivers),
		cmocka_unit_test(sysfs_balloons_none),
		cmocka_unit_test(sysfs_balloons_overflow),
	};

	return RUN_GROUP(tests);
}
