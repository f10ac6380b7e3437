/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <varde/ieee11073.h>

#include "vectors.h"

static void assert_number(struct varde_value v, int32_t mantissa, int8_t exponent)
{
	assert_int_equal(v.special, VARDE_VALUE_NUMBER);
	assert_int_equal(v.mantissa, mantissa);
	assert_int_equal(v.exponent, exponent);
}

static void assert_special(struct varde_value v, enum varde_special s)
{
	assert_int_equal(v.special, s);
	assert_int_equal(v.mantissa, 0);
	assert_int_equal(v.exponent, 0);
}

static void test_sfloat_numbers(void **state)
{
	(void)state;
	assert_number(varde_sfloat_decode(0x0078), 120, 0);
	/* The offset-binary trap: 0x8078 is 120e-8, not 120. */
	assert_number(varde_sfloat_decode(0x8078), 120, -8);
	assert_number(varde_sfloat_decode(0xF0BD), 189, -1); /* 18.9 kPa */
	assert_number(varde_sfloat_decode(0x0FFF), -1, 0); /* negative mantissa */
	assert_number(varde_sfloat_decode(0x0803), -2045, 0);
	assert_number(varde_sfloat_decode(0x07FD), 2045, 0); /* largest finite */
	assert_number(varde_sfloat_decode(0x7001), 1, 7); /* largest exponent */
	assert_number(varde_sfloat_decode(0x8001), 1, -8); /* smallest exponent */
	assert_number(varde_sfloat_decode(0x0000), 0, 0);
	/* Special encodings only count with exponent 0. */
	assert_number(varde_sfloat_decode(0x17FF), 2047, 1);
	assert_number(varde_sfloat_decode(0xF800), -2048, -1);
}

static void test_sfloat_special(void **state)
{
	(void)state;
	assert_special(varde_sfloat_decode(0x07FF), VARDE_VALUE_NAN);
	assert_special(varde_sfloat_decode(0x0800), VARDE_VALUE_NRES);
	assert_special(varde_sfloat_decode(0x07FE), VARDE_VALUE_PINF);
	assert_special(varde_sfloat_decode(0x0802), VARDE_VALUE_NINF);
	assert_special(varde_sfloat_decode(0x0801), VARDE_VALUE_NAN); /* reserved */
}

static void test_float_numbers_and_special(void **state)
{
	(void)state;
	assert_number(varde_float_decode(0xFE000EB0), 3760, -2); /* 37.60 */
	assert_number(varde_float_decode(0x00FFFFFF), -1, 0);
	assert_number(varde_float_decode(0x80000001), 1, -128);
	assert_number(varde_float_decode(0x7F7FFFFD), 8388605, 127);
	assert_number(varde_float_decode(0x017FFFFF), 8388607, 1);
	assert_special(varde_float_decode(0x007FFFFF), VARDE_VALUE_NAN);
	assert_special(varde_float_decode(0x00800000), VARDE_VALUE_NRES);
	assert_special(varde_float_decode(0x007FFFFE), VARDE_VALUE_PINF);
	assert_special(varde_float_decode(0x00800002), VARDE_VALUE_NINF);
	assert_special(varde_float_decode(0x00800001), VARDE_VALUE_NAN);
	/* The 32-bit trap: 0x07FFFFFF is an ordinary number, not NaN. */
	assert_number(varde_float_decode(0x07FFFFFF), -1, 7);
}

static void test_cursor_bounds(void **state)
{
	static const uint8_t bytes[] = {0x01, 0x02, 0x03, 0x04, 0x05};
	struct varde_cursor c = varde_cursor_init(bytes, sizeof(bytes));
	struct varde_value v;
	uint32_t u32;
	uint16_t u16;
	uint8_t u8;

	(void)state;
	assert_true(varde_get_le16(&c, &u16));
	assert_int_equal(u16, 0x0201);
	assert_false(varde_get_le32(&c, &u32)); /* 3 left */
	assert_int_equal(varde_cursor_left(&c), 3);
	assert_true(varde_get_le24(&c, &u32));
	assert_int_equal(u32, 0x050403);
	assert_false(varde_get_u8(&c, &u8));
	assert_false(varde_get_sfloat(&c, &v));
	assert_false(varde_skip(&c, 1));
	assert_true(varde_skip(&c, 0));

	c = varde_cursor_init(NULL, 10);
	assert_int_equal(varde_cursor_left(&c), 0);
	assert_false(varde_get_u8(&c, &u8));

	c = varde_cursor_init(bytes, 4);
	assert_true(varde_get_le32(&c, &u32));
	assert_int_equal(u32, 0x04030201);
	c = varde_cursor_init(bytes, 4);
	assert_true(varde_get_float(&c, &v));
	assert_number(v, 0x030201, 4);
}

static void test_datetime_vectors(void **state)
{
	uint8_t buf[16];
	size_t n = vector_bytes("datetime", buf, sizeof(buf));
	struct varde_cursor c = varde_cursor_init(buf, n);
	struct varde_datetime t;

	(void)state;
	assert_true(varde_get_datetime(&c, &t));
	assert_int_equal(t.year, 2018);
	assert_int_equal(t.month, 4);
	assert_int_equal(t.day, 17);
	assert_int_equal(t.hours, 15);
	assert_int_equal(t.minutes, 51);
	assert_int_equal(t.seconds, 0);
	assert_true(varde_datetime_is_complete(&t));

	n = vector_bytes("datetime_date_unknown", buf, sizeof(buf));
	c = varde_cursor_init(buf, n);
	assert_true(varde_get_datetime(&c, &t));
	assert_int_equal(t.year, 0);
	assert_int_equal(t.month, 0);
	assert_int_equal(t.day, 0);
	assert_int_equal(t.hours, 18);
	assert_int_equal(t.minutes, 26);
	assert_int_equal(t.seconds, 32);
	assert_false(varde_datetime_is_complete(&t));
}

static void test_datetime_invalid_and_short(void **state)
{
	static const uint8_t bad[][7] = {
		{0xE2, 0x07, 13, 1, 0, 0, 0}, /* month 13 */
		{0xE2, 0x07, 1, 32, 0, 0, 0}, /* day 32 */
		{0xE2, 0x07, 1, 1, 24, 0, 0}, /* hour 24 */
		{0xE2, 0x07, 1, 1, 0, 60, 0}, /* minute 60 */
		{0xE2, 0x07, 1, 1, 0, 0, 60}, /* second 60 */
		{0x01, 0x00, 1, 1, 0, 0, 0}, /* year 1 */
		{0x10, 0x27, 1, 1, 0, 0, 0}, /* year 10000 */
	};
	static const uint8_t good[7] = {0xE2, 0x07, 4, 17, 15, 51, 0};
	struct varde_datetime t;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct varde_cursor c = varde_cursor_init(bad[i], 7);

		assert_false(varde_get_datetime(&c, &t));
		assert_int_equal(c.pos, 0); /* unchanged on failure */
	}
	for (size_t len = 0; len < 7; len++) {
		struct varde_cursor c = varde_cursor_init(good, len);

		assert_false(varde_get_datetime(&c, &t));
		assert_int_equal(c.pos, 0);
	}
}

static void test_datetime_day_within_month(void **state)
{
	static const uint8_t feb29_2023[7] = {0xE7, 0x07, 2, 29, 0, 0, 0};
	static const uint8_t feb29_2024[7] = {0xE8, 0x07, 2, 29, 0, 0, 0};
	static const uint8_t feb29_unknown_year[7] = {0x00, 0x00, 2, 29, 0, 0, 0};
	static const uint8_t apr31[7] = {0xE8, 0x07, 4, 31, 0, 0, 0};
	static const uint8_t day31_unknown_month[7] = {0xE8, 0x07, 0, 31, 0, 0, 0};
	struct varde_datetime t;
	struct varde_cursor c;

	(void)state;
	c = varde_cursor_init(feb29_2023, 7);
	assert_false(varde_get_datetime(&c, &t));
	c = varde_cursor_init(apr31, 7);
	assert_false(varde_get_datetime(&c, &t));
	c = varde_cursor_init(feb29_2024, 7);
	assert_true(varde_get_datetime(&c, &t));
	c = varde_cursor_init(feb29_unknown_year, 7);
	assert_true(varde_get_datetime(&c, &t));
	c = varde_cursor_init(day31_unknown_month, 7);
	assert_true(varde_get_datetime(&c, &t));
}

static void test_hex(void **state)
{
	static const uint8_t frame[] = {0x1e, 0x8a, 0x00, 0x58, 0xff};
	char buf[32];

	(void)state;
	varde_hex(frame, sizeof(frame), buf, sizeof(buf));
	assert_string_equal(buf, "1e8a0058ff");
	varde_hex(frame, sizeof(frame), buf, 11);
	assert_string_equal(buf, "1e8a0058ff");
	varde_hex(frame, sizeof(frame), buf, 10);
	assert_string_equal(buf, "1e8a00...");
	varde_hex(frame, sizeof(frame), buf, 4);
	assert_string_equal(buf, "...");
	varde_hex(frame, 0, buf, sizeof(buf));
	assert_string_equal(buf, "");
	varde_hex(frame, sizeof(frame), buf, 1);
	assert_string_equal(buf, "");
}

static struct varde_datetime dt(uint16_t y, uint8_t mo, uint8_t d, uint8_t h, uint8_t mi, uint8_t s)
{
	struct varde_datetime t = {y, mo, d, h, mi, s, 0};

	return t;
}

static void assert_dt(struct varde_datetime t, uint16_t y, uint8_t mo, uint8_t d, uint8_t h,
		      uint8_t mi, uint8_t s)
{
	assert_int_equal(t.year, y);
	assert_int_equal(t.month, mo);
	assert_int_equal(t.day, d);
	assert_int_equal(t.hours, h);
	assert_int_equal(t.minutes, mi);
	assert_int_equal(t.seconds, s);
}

static void test_datetime_add_minutes(void **state)
{
	struct varde_datetime t;

	(void)state;
	/* glucose_nordic: 2019-02-27 11:10:30 with offset -5 min. */
	t = dt(2019, 2, 27, 11, 10, 30);
	assert_true(varde_datetime_add_minutes(&t, -5));
	assert_dt(t, 2019, 2, 27, 11, 5, 30);
	t = dt(2020, 2, 28, 23, 50, 0); /* leap year */
	assert_true(varde_datetime_add_minutes(&t, 20));
	assert_dt(t, 2020, 2, 29, 0, 10, 0);
	t = dt(2019, 2, 28, 23, 50, 0);
	assert_true(varde_datetime_add_minutes(&t, 20));
	assert_dt(t, 2019, 3, 1, 0, 10, 0);
	t = dt(2024, 1, 1, 0, 3, 7); /* across a year, backwards */
	assert_true(varde_datetime_add_minutes(&t, -4));
	assert_dt(t, 2023, 12, 31, 23, 59, 7);
	t = dt(2000, 3, 1, 0, 0, 0);
	assert_true(varde_datetime_add_minutes(&t, -1));
	assert_dt(t, 2000, 2, 29, 23, 59, 0);
	t = dt(2024, 6, 1, 12, 0, 0);
	assert_true(varde_datetime_add_minutes(&t, -32768)); /* sint16 minimum */
	assert_dt(t, 2024, 5, 9, 17, 52, 0);
	t = dt(0, 6, 1, 12, 0, 0); /* unknown year: cannot shift */
	assert_false(varde_datetime_add_minutes(&t, 1));
	t = dt(2023, 2, 30, 12, 0, 0);
	assert_false(varde_datetime_add_minutes(&t, 1));
	t = dt(9999, 12, 31, 23, 59, 0);
	assert_false(varde_datetime_add_minutes(&t, 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sfloat_numbers),
		cmocka_unit_test(test_sfloat_special),
		cmocka_unit_test(test_float_numbers_and_special),
		cmocka_unit_test(test_cursor_bounds),
		cmocka_unit_test(test_datetime_vectors),
		cmocka_unit_test(test_datetime_invalid_and_short),
		cmocka_unit_test(test_datetime_add_minutes),
		cmocka_unit_test(test_datetime_day_within_month),
		cmocka_unit_test(test_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
