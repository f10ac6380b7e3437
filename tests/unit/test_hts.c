/* SPDX-License-Identifier: MIT */
/*
 * Health Thermometer Service decoder: the shared vector from
 * shared/vectors/gatt.tsv, every Flags combination, every FLOAT special
 * value, the wrong 32-bit special encodings some libraries use, site codes,
 * time stamp validity, truncated and over-long frames.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vectors.h"

#include "hts_decode.h"

#define FLAG_FAHRENHEIT 0x01
#define FLAG_TIME 0x02
#define FLAG_TYPE 0x04

struct htm_fields {
	uint8_t flags;
	uint32_t temperature;
	uint16_t year;
	uint8_t month, day, hours, minutes, seconds;
	uint8_t site;
};

static size_t htm_encode(const struct htm_fields *f, uint8_t *buf)
{
	size_t pos = 0;

	buf[pos++] = f->flags;
	for (int i = 0; i < 4; i++)
		buf[pos++] = (uint8_t)(f->temperature >> (8 * i));
	if (f->flags & FLAG_TIME) {
		buf[pos++] = (uint8_t)(f->year & 0xFF);
		buf[pos++] = (uint8_t)(f->year >> 8);
		buf[pos++] = f->month;
		buf[pos++] = f->day;
		buf[pos++] = f->hours;
		buf[pos++] = f->minutes;
		buf[pos++] = f->seconds;
	}
	if (f->flags & FLAG_TYPE)
		buf[pos++] = f->site;
	return pos;
}

static struct htm_fields sample_fields(uint8_t flags)
{
	struct htm_fields f = {
		.flags = flags,
		.temperature = 0xFD0097EB, /* 38891 e-3 */
		.year = 2025,
		.month = 1,
		.day = 31,
		.hours = 6,
		.minutes = 5,
		.seconds = 4,
		.site = 7, /* rectum */
	};

	return f;
}

static void assert_value(const struct varde_value *v, enum varde_special special, int32_t mantissa,
			 int8_t exponent)
{
	assert_int_equal(v->special, special);
	assert_int_equal(v->mantissa, mantissa);
	assert_int_equal(v->exponent, exponent);
}

static void decode_ok(const uint8_t *buf, size_t len, struct hts_measurement *m)
{
	assert_int_equal(hts_decode_measurement(buf, len, m), 0);
	assert_int_equal(m->reading.size, sizeof(struct varde_reading));
	assert_int_equal(m->reading.metric, VARDE_METRIC_BODY_TEMPERATURE);
	assert_null(m->reading.components);
	assert_int_equal(m->reading.n_components, 0);
	/* The thermometer reports no status: only the time policy sets one. */
	assert_int_equal(m->reading.status,
			 m->time_out_of_range ? VARDE_STATUS_DEVICE_CLOCK_NOT_SET : 0);
	assert_false(m->reading.flags & ~(uint32_t)VARDE_READING_HAS_TIME);
}

static void assert_truncations_fail(const uint8_t *buf, size_t len)
{
	for (size_t cut = 0; cut < len; cut++) {
		/* A copy of exactly `cut` bytes: ASan sees any over-read. */
		uint8_t *frame = test_malloc(cut ? cut : 1);
		struct hts_measurement m;

		memcpy(frame, buf, cut);
		assert_int_equal(hts_decode_measurement(frame, cut, &m), -EBADMSG);
		assert_int_equal(m.reading.size, 0);
		test_free(frame);
	}
}

static void test_vector_htm_nordic(void **state)
{
	uint8_t buf[32];
	size_t len = vector_bytes("htm_nordic", buf, sizeof(buf));
	struct hts_measurement m;

	(void)state;
	decode_ok(buf, len, &m);
	assert_int_equal(m.reading.unit, VARDE_UNIT_CELSIUS);
	assert_value(&m.reading.value, VARDE_VALUE_NUMBER, 3760, -2);
	assert_int_equal(m.reading.flags, VARDE_READING_HAS_TIME);
	assert_int_equal(m.reading.time.year, 2012);
	assert_int_equal(m.reading.time.month, 12);
	assert_int_equal(m.reading.time.day, 5);
	assert_int_equal(m.reading.time.hours, 11);
	assert_int_equal(m.reading.time.minutes, 50);
	assert_int_equal(m.reading.time.seconds, 27);
	assert_true(m.has_type);
	assert_int_equal(m.type, 4);
	assert_int_equal(m.reading.site, VARDE_SITE_FINGER);
	assert_int_equal(m.flags, 0x06);
	assert_int_equal(m.trailing, 0);

	assert_truncations_fail(buf, len);
}

static void test_vector_overlong(void **state)
{
	uint8_t buf[40];
	size_t len = vector_bytes("htm_nordic", buf, sizeof(buf));
	struct hts_measurement ref, m;

	(void)state;
	decode_ok(buf, len, &ref);
	for (size_t extra = 1; extra <= 6; extra++) {
		buf[len + extra - 1] = 0x5A;
		decode_ok(buf, len + extra, &m);
		assert_int_equal(m.trailing, extra);
		assert_memory_equal(&m.reading, &ref.reading, sizeof(m.reading));
		assert_int_equal(m.type, ref.type);
	}
}

static void test_all_flags(void **state)
{
	(void)state;
	for (unsigned int flags = 0; flags <= 0xFF; flags++) {
		struct htm_fields f = sample_fields((uint8_t)flags);
		uint8_t buf[32];
		size_t len = htm_encode(&f, buf);
		struct hts_measurement m;

		decode_ok(buf, len, &m);
		assert_int_equal(m.flags, flags);
		assert_int_equal(m.trailing, 0);
		assert_int_equal(m.reading.unit, (flags & FLAG_FAHRENHEIT) ? VARDE_UNIT_FAHRENHEIT
									   : VARDE_UNIT_CELSIUS);
		assert_value(&m.reading.value, VARDE_VALUE_NUMBER, 38891, -3);
		if (flags & FLAG_TIME) {
			assert_int_equal(m.reading.flags, VARDE_READING_HAS_TIME);
			assert_int_equal(m.reading.time.year, 2025);
			assert_int_equal(m.reading.time.month, 1);
			assert_int_equal(m.reading.time.day, 31);
			assert_int_equal(m.reading.time.hours, 6);
			assert_int_equal(m.reading.time.minutes, 5);
			assert_int_equal(m.reading.time.seconds, 4);
		} else {
			assert_int_equal(m.reading.flags, 0);
			assert_int_equal(m.reading.time.year, 0);
		}
		if (flags & FLAG_TYPE) {
			assert_true(m.has_type);
			assert_int_equal(m.type, 7);
			assert_int_equal(m.reading.site, VARDE_SITE_RECTUM);
		} else {
			assert_false(m.has_type);
			assert_int_equal(m.type, 0);
			assert_int_equal(m.reading.site, VARDE_SITE_NONE);
		}
		assert_truncations_fail(buf, len);
	}
}

static void test_float_specials(void **state)
{
	static const struct {
		uint32_t raw;
		enum varde_special special;
	} cases[] = {
		{0x007FFFFF, VARDE_VALUE_NAN},	{0x00800000, VARDE_VALUE_NRES},
		{0x007FFFFE, VARDE_VALUE_PINF}, {0x00800002, VARDE_VALUE_NINF},
		{0x00800001, VARDE_VALUE_NAN},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (unsigned int flags = 0; flags < 8; flags++) {
			struct htm_fields f = sample_fields((uint8_t)flags);
			uint8_t buf[32];
			size_t len;
			struct hts_measurement m;

			f.temperature = cases[i].raw;
			len = htm_encode(&f, buf);
			decode_ok(buf, len, &m);
			assert_value(&m.reading.value, cases[i].special, 0, 0);
			/* the fields after it are still read from the right place */
			if (flags & FLAG_TYPE)
				assert_int_equal(m.reading.site, VARDE_SITE_RECTUM);
		}
	}
}

/* Numbers next to the specials, negative values, and the wrong special
 * encodings (0x07FFFFFF ...) that are in fact ordinary numbers. */
static void test_float_numbers(void **state)
{
	static const struct {
		uint32_t raw;
		int32_t mantissa;
		int8_t exponent;
	} cases[] = {
		{0x07FFFFFF, -1, 7},	   {0x08000000, 0, 8},	   {0x007FFFFD, 8388605, 0},
		{0x00800003, -8388605, 0}, {0xFFFFFF38, -200, -1}, {0xFF000172, 370, -1},
		{0x80000001, 1, -128},	   {0x7F000001, 1, 127},   {0x00000000, 0, 0},
		{0x00FFFFFF, -1, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct htm_fields f = sample_fields(0);
		uint8_t buf[32];
		size_t len;
		struct hts_measurement m;

		f.temperature = cases[i].raw;
		len = htm_encode(&f, buf);
		decode_ok(buf, len, &m);
		assert_value(&m.reading.value, VARDE_VALUE_NUMBER, cases[i].mantissa,
			     cases[i].exponent);
	}
}

static void test_fahrenheit(void **state)
{
	uint8_t buf[] = {0x01, 0xE3, 0x03, 0x00, 0xFF}; /* 995 e-1 = 99.5 F */
	struct hts_measurement m;

	(void)state;
	decode_ok(buf, sizeof(buf), &m);
	assert_int_equal(m.reading.unit, VARDE_UNIT_FAHRENHEIT);
	assert_value(&m.reading.value, VARDE_VALUE_NUMBER, 995, -1);
	assert_false(m.has_type);
	assert_int_equal(m.reading.site, VARDE_SITE_NONE);
}

/* Temperature Type codes map 1:1 to the sites; a reserved code never
 * costs the temperature. */
static void test_sites(void **state)
{
	static const uint32_t want[] = {
		[1] = VARDE_SITE_ARMPIT, [2] = VARDE_SITE_BODY,	    [3] = VARDE_SITE_EAR,
		[4] = VARDE_SITE_FINGER, [5] = VARDE_SITE_GI_TRACT, [6] = VARDE_SITE_MOUTH,
		[7] = VARDE_SITE_RECTUM, [8] = VARDE_SITE_TOE,	    [9] = VARDE_SITE_TYMPANUM,
	};

	(void)state;
	for (unsigned int type = 0; type <= 0xFF; type++) {
		uint32_t site =
			type < sizeof(want) / sizeof(want[0]) ? want[type] : VARDE_SITE_NONE;
		struct htm_fields f = sample_fields(FLAG_TYPE);
		uint8_t buf[32];
		size_t len;
		struct hts_measurement m;

		f.site = (uint8_t)type;
		len = htm_encode(&f, buf);
		decode_ok(buf, len, &m);
		assert_true(m.has_type);
		assert_int_equal(m.type, type);
		assert_int_equal(m.reading.site, site);
		assert_int_equal(hts_site_from_type((uint8_t)type), site);
		assert_value(&m.reading.value, VARDE_VALUE_NUMBER, 38891, -3);
	}
}

/* The Temperature Type characteristic: one byte, more is ignored. */
static void test_temperature_type(void **state)
{
	static const uint8_t value[] = {0x06, 0xAA};
	uint8_t type = 0;

	(void)state;
	assert_int_equal(hts_decode_temperature_type(value, 1, &type), 0);
	assert_int_equal(type, 6);
	type = 0;
	assert_int_equal(hts_decode_temperature_type(value, 2, &type), 0);
	assert_int_equal(type, 6);
	assert_int_equal(hts_decode_temperature_type(value, 0, &type), -EBADMSG);
	assert_int_equal(hts_decode_temperature_type(NULL, 1, &type), -EBADMSG);
}

static void test_time_unknown_fields(void **state)
{
	struct htm_fields f = sample_fields(FLAG_TIME);
	uint8_t buf[32];
	size_t len;
	struct hts_measurement m;

	(void)state;
	f.year = 0;
	f.month = 0;
	f.day = 0;
	len = htm_encode(&f, buf);
	decode_ok(buf, len, &m);
	assert_int_equal(m.reading.flags, VARDE_READING_HAS_TIME);
	assert_int_equal(m.reading.time.year, 0);
	assert_int_equal(m.reading.time.month, 0);
	assert_int_equal(m.reading.time.day, 0);
	assert_int_equal(m.reading.time.hours, 6);
}

/* A time stamp outside the Date Time ranges: the temperature is kept,
 * without time and flagged, and the site after it is still read. */
static void test_time_invalid(void **state)
{
	static const struct {
		uint16_t year;
		uint8_t month, day, hours, minutes, seconds;
	} cases[] = {
		{1, 1, 1, 0, 0, 0},	{1581, 1, 1, 0, 0, 0},	{10000, 1, 1, 0, 0, 0},
		{2023, 13, 1, 0, 0, 0}, {2023, 1, 32, 0, 0, 0}, {2023, 1, 1, 24, 0, 0},
		{2023, 1, 1, 0, 60, 0}, {2023, 1, 1, 0, 0, 60}, {2023, 2, 29, 0, 0, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct htm_fields f = sample_fields(FLAG_TIME | FLAG_TYPE);
		uint8_t buf[32];
		size_t len;
		struct hts_measurement m;

		f.year = cases[i].year;
		f.month = cases[i].month;
		f.day = cases[i].day;
		f.hours = cases[i].hours;
		f.minutes = cases[i].minutes;
		f.seconds = cases[i].seconds;
		len = htm_encode(&f, buf);
		decode_ok(buf, len, &m);
		assert_true(m.time_out_of_range);
		assert_int_equal(m.reading.flags, 0);
		assert_int_equal(m.reading.status, VARDE_STATUS_DEVICE_CLOCK_NOT_SET);
		assert_int_equal(m.reading.time.year, 0);
		assert_int_equal(m.reading.time.hours, 0);
		assert_true(m.has_type);
		assert_int_equal(m.reading.site, VARDE_SITE_RECTUM);
		assert_int_equal(m.trailing, 0);
	}
}

static void test_null_and_empty(void **state)
{
	struct hts_measurement m;

	(void)state;
	assert_int_equal(hts_decode_measurement(NULL, 0, &m), -EBADMSG);
	assert_int_equal(hts_decode_measurement(NULL, 5, &m), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_htm_nordic),
		cmocka_unit_test(test_vector_overlong),
		cmocka_unit_test(test_all_flags),
		cmocka_unit_test(test_float_specials),
		cmocka_unit_test(test_float_numbers),
		cmocka_unit_test(test_fahrenheit),
		cmocka_unit_test(test_sites),
		cmocka_unit_test(test_temperature_type),
		cmocka_unit_test(test_time_unknown_fields),
		cmocka_unit_test(test_time_invalid),
		cmocka_unit_test(test_null_and_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
