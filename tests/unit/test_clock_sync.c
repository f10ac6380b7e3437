/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "clock_sync.h"

/* 2024-07-01 10:00:00 UTC = 12:00 in Oslo (CEST, +02:00), a Monday. */
#define SUMMER_NOON ((time_t)1719828000)
/* 2024-01-15 11:00:00 UTC = 12:00 in Oslo (CET, +01:00), a Monday. */
#define WINTER_NOON ((time_t)1705316400)

static int oslo(void **state)
{
	(void)state;
	setenv("TZ", "Europe/Oslo", 1);
	tzset();
	return 0;
}

static void test_encode_is_local_time(void **state)
{
	uint8_t ct[CURRENT_TIME_LEN], dt[DATE_TIME_LEN];

	(void)state;
	assert_int_equal(clock_encode_current_time(SUMMER_NOON, ct), 10);
	assert_int_equal(ct[0] | ct[1] << 8, 2024);
	assert_int_equal(ct[2], 7);
	assert_int_equal(ct[3], 1);
	assert_int_equal(ct[4], 12); /* not 10: the device keeps local time */
	assert_int_equal(ct[7], 1); /* Monday */
	assert_int_equal(ct[9], CURRENT_TIME_ADJUST_EXTERNAL);
	assert_int_equal(clock_encode_date_time(WINTER_NOON, dt), 7);
	assert_int_equal(dt[4], 12);
	assert_int_equal(dt[3], 15);
}

static void test_offset_round_trip_both_seasons(void **state)
{
	const time_t when[] = {SUMMER_NOON, WINTER_NOON};

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		uint8_t ct[CURRENT_TIME_LEN];
		struct varde_datetime t;
		int64_t offset;

		clock_encode_current_time(when[i] + 90, ct);
		assert_int_equal(clock_decode(ct, sizeof(ct), &t), 0);
		assert_int_equal(clock_offset(&t, when[i], &offset), 0);
		assert_int_equal(offset, 90);
	}
}

static void test_decode_rejects_bad_clock(void **state)
{
	static const uint8_t unset[7] = {0, 0, 0, 0, 0, 0, 0};
	static const uint8_t bad_month[7] = {0xE8, 0x07, 13, 1, 0, 0, 0};
	struct varde_datetime t;

	(void)state;
	assert_int_equal(clock_decode(unset, 7, &t), -EBADMSG);
	assert_int_equal(clock_decode(bad_month, 7, &t), -EBADMSG);
	assert_int_equal(clock_decode(bad_month, 3, &t), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_is_local_time),
		cmocka_unit_test(test_offset_round_trip_both_seasons),
		cmocka_unit_test(test_decode_rejects_bad_clock),
	};

	return cmocka_run_group_tests(tests, oslo, NULL);
}
