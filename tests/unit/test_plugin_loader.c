/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "device.h"
#include "log_capture.h"
#include "plugin_loader.h"

#define FAKE(name) FAKE_PLUGIN_DIR "/fake_" name ".so"

static struct plugin_set *set;

static int setup(void **state)
{
	(void)state;
	log_capture_clear();
	set = plugin_set_new(device_host_table());
	return set ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	plugin_set_free(set);
	return 0;
}

static void expect_refusal(const char *path, int err, const char *reason)
{
	struct plugin_info info;

	log_capture_clear();
	assert_int_equal(plugin_set_load_file(set, path, NULL), err);
	assert_true(plugin_set_info(set, plugin_set_count(set) - 1, &info));
	assert_int_equal(info.state, PLUGIN_REFUSED);
	if (!strstr(info.reason, reason) || !log_capture_has("refused", path, reason, NULL))
		fail_msg("expected '%s' for %s, got:\n%s", reason, path, log_capture_text());
}

static void test_good_plugin_loads_with_default_options(void **state)
{
	struct plugin_info info;

	(void)state;
	assert_int_equal(plugin_set_load_file(set, FAKE("good"), NULL), 0);
	assert_true(plugin_set_info(set, 0, &info));
	assert_int_equal(info.state, PLUGIN_ACTIVE);
	assert_string_equal(info.name, "fake");
	assert_true(log_capture_has("plugin fake: init ran", NULL));
	assert_true(log_capture_has("plugin fake: option greeting=hello", NULL));
	assert_true(log_capture_has("option colour=(unset)", NULL));
}

static bool count_match(struct varde_plugin_ctx *ctx, const struct varde_driver *drv, void *data)
{
	(void)ctx;
	assert_string_equal(drv->name, "fake");
	(*(int *)data)++;
	return false;
}

static void test_drivers_matched_by_service_uuid(void **state)
{
	int matches = 0;

	(void)state;
	assert_int_equal(plugin_set_load_file(set, FAKE("good"), NULL), 0);
	plugin_set_match(set, "00001810-0000-1000-8000-00805f9b34fb", "any", count_match, &matches);
	assert_int_equal(matches, 1);
	plugin_set_match(set, "00001808-0000-1000-8000-00805f9b34fb", "any", count_match, &matches);
	assert_int_equal(matches, 1);
}

static void test_two_plugins_are_two_plugins(void **state)
{
	struct plugin_info info;

	(void)state;
	/* Loaded one after the other through the same descriptor number. */
	assert_int_equal(plugin_set_load_file(set, FAKE("good"), NULL), 0);
	assert_int_equal(plugin_set_load_file(set, ECHO_PLUGIN, NULL), 0);
	assert_true(plugin_set_info(set, 0, &info));
	assert_string_equal(info.name, "fake");
	assert_true(plugin_set_info(set, 1, &info));
	assert_string_equal(info.name, "echo");
	assert_int_equal(info.state, PLUGIN_ACTIVE);
}

static void test_exit_called_on_unload(void **state)
{
	(void)state;
	assert_int_equal(plugin_set_load_file(set, FAKE("good"), NULL), 0);
	log_capture_clear();
	plugin_set_free(set);
	set = NULL;
	assert_true(log_capture_has("plugin fake: exit ran", NULL));
}

static void test_refusals(void **state)
{
	(void)state;
	expect_refusal(FAKE("wrong_major"), -ENOEXEC, "built for ABI 2, this hub speaks ABI 1");
	expect_refusal(FAKE("missing_symbol"), -ENOEXEC, "no varde_plugin_v1 symbol");
	expect_refusal(FAKE("v2_symbol"), -ENOEXEC, "exports varde_plugin_v2: built for ABI 2");
	expect_refusal(FAKE("short_struct"), -ENOEXEC, "shorter than ABI 1.0");
	expect_refusal(FAKE("reserved_set"), -EINVAL, "reserved descriptor fields are set");
	expect_refusal(FAKE("does_not_exist"), -ENOENT, "cannot open");
	expect_refusal(FAKE_PLUGIN_DIR, -EPERM, "not a regular file");
}

static void copy_file(const char *from, const char *to)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	assert_int_equal(system(cmd), 0);
}

static void test_writable_file_and_symlink_refused(void **state)
{
	char dir[] = "/tmp/varde-loader-XXXXXX", path[128], link[128], cmd[160];

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/writable.so", dir);
	copy_file(FAKE("good"), path);
	assert_int_equal(chmod(path, 0666), 0);
	expect_refusal(path, -EPERM, "writable by group or others (mode 0666)");
	assert_int_equal(chmod(path, 0620), 0);
	expect_refusal(path, -EPERM, "writable by group or others (mode 0620)");

	/* A symlink could be swapped after the check: refused outright. */
	snprintf(link, sizeof(link), "%s/link.so", dir);
	assert_int_equal(symlink(FAKE("good"), link), 0);
	expect_refusal(link, -ELOOP, "cannot open");

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_init_failure_quarantines_and_hub_goes_on(void **state)
{
	struct plugin_info info;

	(void)state;
	assert_int_equal(plugin_set_load_file(set, FAKE("init_fails"), NULL), -ECANCELED);
	assert_true(plugin_set_info(set, 0, &info));
	assert_int_equal(info.state, PLUGIN_QUARANTINED);
	assert_string_equal(info.reason, "init failed: Input/output error");
	assert_true(log_capture_has("quarantined", "fake_init_fails.so", "init failed", NULL));
	/* Its drivers are never offered. */
	int matches = 0;

	plugin_set_match(set, "00001810-0000-1000-8000-00805f9b34fb", "", count_match, &matches);
	assert_int_equal(matches, 0);
	/* A good plugin of the same name still loads afterwards. */
	assert_int_equal(plugin_set_load_file(set, FAKE("good"), NULL), 0);
	plugin_set_match(set, "00001810-0000-1000-8000-00805f9b34fb", "", count_match, &matches);
	assert_int_equal(matches, 1);
	assert_int_equal(plugin_set_count(set), 2);
}

static void test_duplicate_name_refused(void **state)
{
	(void)state;
	assert_int_equal(plugin_set_load_file(set, FAKE("good"), NULL), 0);
	expect_refusal(FAKE("good"), -EEXIST, "already loaded");
}

static void test_options_from_config(void **state)
{
	static const char good[] = "[hub]\nid = g\n[mqtt]\nhost = localhost\n"
				   "[plugin fake]\ngreeting = hei\n";
	static const char bad[] = "[hub]\nid = g\n[mqtt]\nhost = localhost\n"
				  "[plugin fake]\ngreeting = hei\nflavour = sweet\n";
	struct config *cfg;

	(void)state;
	cfg = config_load_buffer("opts.conf", good, sizeof(good) - 1);
	assert_non_null(cfg);
	assert_int_equal(plugin_set_load_file(set, FAKE("good"), cfg), 0);
	assert_true(log_capture_has("option greeting=hei", NULL));
	config_free(cfg);
	plugin_set_free(set);
	set = plugin_set_new(device_host_table());

	cfg = config_load_buffer("opts.conf", bad, sizeof(bad) - 1);
	assert_non_null(cfg);
	log_capture_clear();
	assert_int_equal(plugin_set_load_file(set, FAKE("good"), cfg), -EINVAL);
	assert_true(log_capture_has("opts.conf:7: unknown option 'flavour'",
				    "allowed: greeting, colour", NULL));
	assert_false(log_capture_has("init ran", NULL));
	config_free(cfg);
}

static void test_load_dir_counts_active(void **state)
{
	(void)state;
	/* good is active; every other variant is refused or quarantined. */
	assert_int_equal(plugin_set_load_dir(set, FAKE_PLUGIN_DIR, NULL), 1);
	assert_int_equal(plugin_set_count(set), 7);
	assert_int_equal(plugin_set_load_dir(set, "/nonexistent-varde", NULL), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_good_plugin_loads_with_default_options, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_drivers_matched_by_service_uuid, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_two_plugins_are_two_plugins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exit_called_on_unload, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writable_file_and_symlink_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_init_failure_quarantines_and_hub_goes_on,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_name_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_options_from_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_dir_counts_active, setup, teardown),
	};

	log_capture_start();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
