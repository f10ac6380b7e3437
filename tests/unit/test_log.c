/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "log_capture.h"

static void test_levels_filter(void **state)
{
	(void)state;
	log_capture_start();
	log_set_max_level(VARDE_LOG_WARNING);
	log_info("not shown %d", 1);
	log_warn("shown %d", 2);
	log_err("shown %d", 3);
	assert_int_equal(log_capture_count(), 2);
	assert_true(log_capture_has("shown 2", NULL));
	assert_false(log_capture_has("not shown", NULL));
}

static void test_prefix_and_single_line(void **state)
{
	(void)state;
	log_capture_start();
	log_msg(VARDE_LOG_NOTICE, "plugin bls", "device %s says\nforged line", "AA");
	assert_int_equal(log_capture_count(), 1);
	/* The newline from outside data cannot start a forged entry. */
	assert_true(log_capture_has("plugin bls: device AA says forged line", NULL));
}

static void test_level_names(void **state)
{
	(void)state;
	assert_int_equal(log_level_from_name("debug"), VARDE_LOG_DEBUG);
	assert_int_equal(log_level_from_name("err"), VARDE_LOG_ERR);
	assert_int_equal(log_level_from_name("loud"), -1);
}

static void flood(int n)
{
	for (int i = 0; i < n; i++)
		log_warn("link lost %d", i);
}

static void test_rate_limit_per_call_site(void **state)
{
	(void)state;
	log_capture_start();
	log_set_ratelimit(3, 50);
	flood(10);
	log_info("another site");
	assert_int_equal(log_capture_count(), 4);
	assert_true(log_capture_has("link lost 2", NULL));
	assert_false(log_capture_has("link lost 3", NULL));
	usleep(60 * 1000);
	flood(1);
	/* After the window: the count of what was dropped, then the line. */
	assert_true(log_capture_has("7 similar messages suppressed", NULL));
	assert_true(log_capture_has("link lost 0", NULL));
	assert_int_equal(log_capture_count(), 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels_filter),
		cmocka_unit_test(test_prefix_and_single_line),
		cmocka_unit_test(test_level_names),
		cmocka_unit_test(test_rate_limit_per_call_site),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
