/* SPDX-License-Identifier: MIT */
/*
 * Weight Scale Service decoder: every Flags combination, exact
 * mantissa/exponent for each field and unit system at the range ends, the
 * "measurement unsuccessful" weight, user id, time stamp validity,
 * truncated and over-long frames, and Weight Scale Feature. gatt.tsv has no
 * Weight Scale vector, so the frames are built here from their fields, plus
 * one typed out byte by byte to check the encoder itself.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wss_decode.h"

#define FLAG_IMPERIAL 0x01
#define FLAG_TIME 0x02
#define FLAG_USER 0x04
#define FLAG_BMI_HEIGHT 0x08

struct wm_fields {
	uint8_t flags;
	uint16_t weight;
	uint16_t year;
	uint8_t month, day, hours, minutes, seconds;
	uint8_t user;
	uint16_t bmi, height;
};

static void put16(uint8_t *buf, size_t *pos, uint16_t v)
{
	buf[(*pos)++] = (uint8_t)(v & 0xFF);
	buf[(*pos)++] = (uint8_t)(v >> 8);
}

static size_t wm_encode(const struct wm_fields *f, uint8_t *buf)
{
	size_t pos = 0;

	buf[pos++] = f->flags;
	put16(buf, &pos, f->weight);
	if (f->flags & FLAG_TIME) {
		put16(buf, &pos, f->year);
		buf[pos++] = f->month;
		buf[pos++] = f->day;
		buf[pos++] = f->hours;
		buf[pos++] = f->minutes;
		buf[pos++] = f->seconds;
	}
	if (f->flags & FLAG_USER)
		buf[pos++] = f->user;
	if (f->flags & FLAG_BMI_HEIGHT) {
		put16(buf, &pos, f->bmi);
		put16(buf, &pos, f->height);
	}
	return pos;
}

static struct wm_fields sample_fields(uint8_t flags)
{
	struct wm_fields f = {
		.flags = flags,
		.weight = 14000, /* 70.000 kg or 140.00 lb */
		.year = 2023,
		.month = 6,
		.day = 15,
		.hours = 7,
		.minutes = 30,
		.seconds = 0,
		.user = 2,
		.bmi = 229, /* 22.9 */
		.height = 1750, /* 1.750 m or 175.0 in */
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

static void decode_ok(const uint8_t *buf, size_t len, struct wss_measurement *m)
{
	static const uint32_t metrics[] = {VARDE_METRIC_BODY_WEIGHT, VARDE_METRIC_BMI,
					   VARDE_METRIC_BODY_HEIGHT};

	assert_int_equal(wss_decode_measurement(buf, len, m), 0);
	assert_true(m->n_readings == 1 || m->n_readings == 3);
	for (size_t i = 0; i < m->n_readings; i++) {
		const struct varde_reading *r = &m->readings[i];

		assert_int_equal(r->size, sizeof(struct varde_reading));
		assert_int_equal(r->metric, metrics[i]);
		assert_null(r->components);
		/* The scale reports no status: only the time policy sets one. */
		assert_int_equal(r->status,
				 m->time_out_of_range ? VARDE_STATUS_DEVICE_CLOCK_NOT_SET : 0);
		/* same time and user on every reading */
		assert_int_equal(r->flags, m->readings[0].flags);
		assert_memory_equal(&r->time, &m->readings[0].time, sizeof(r->time));
		assert_int_equal(r->user_id, m->readings[0].user_id);
	}
}

static void assert_truncations_fail(const uint8_t *buf, size_t len)
{
	for (size_t cut = 0; cut < len; cut++) {
		/* A copy of exactly `cut` bytes: ASan sees any over-read. */
		uint8_t *frame = test_malloc(cut ? cut : 1);
		struct wss_measurement m;

		memcpy(frame, buf, cut);
		m.n_readings = 99;
		assert_int_equal(wss_decode_measurement(frame, cut, &m), -EBADMSG);
		assert_int_equal(m.n_readings, 0);
		test_free(frame);
	}
}

/* A complete SI frame typed out: 70.000 kg, 2023-06-15 07:30:00, user 2,
 * BMI 22.9, height 1.750 m. */
static const uint8_t full_si[] = {0x0E, 0xB0, 0x36, 0xE7, 0x07, 0x06, 0x0F, 0x07,
				  0x1E, 0x00, 0x02, 0xE5, 0x00, 0xD6, 0x06};

static void test_full_si_frame(void **state)
{
	struct wm_fields f = sample_fields(0x0E);
	uint8_t buf[32];
	struct wss_measurement m;

	(void)state;
	assert_int_equal(wm_encode(&f, buf), sizeof(full_si));
	assert_memory_equal(buf, full_si, sizeof(full_si));

	decode_ok(full_si, sizeof(full_si), &m);
	assert_int_equal(m.n_readings, 3);
	assert_int_equal(m.readings[0].unit, VARDE_UNIT_KG);
	assert_value(&m.readings[0].value, VARDE_VALUE_NUMBER, 70000, -3);
	assert_int_equal(m.readings[1].unit, VARDE_UNIT_KG_PER_M2);
	assert_value(&m.readings[1].value, VARDE_VALUE_NUMBER, 229, -1);
	assert_int_equal(m.readings[2].unit, VARDE_UNIT_M);
	assert_value(&m.readings[2].value, VARDE_VALUE_NUMBER, 1750, -3);
	assert_int_equal(m.readings[0].flags, VARDE_READING_HAS_TIME | VARDE_READING_HAS_USER);
	assert_int_equal(m.readings[0].user_id, 2);
	assert_int_equal(m.readings[0].time.year, 2023);
	assert_int_equal(m.readings[0].time.month, 6);
	assert_int_equal(m.readings[0].time.day, 15);
	assert_int_equal(m.readings[0].time.hours, 7);
	assert_int_equal(m.readings[0].time.minutes, 30);
	assert_int_equal(m.readings[0].time.seconds, 0);
	assert_int_equal(m.trailing, 0);

	assert_truncations_fail(full_si, sizeof(full_si));
}

static void test_overlong(void **state)
{
	uint8_t buf[40];
	struct wss_measurement ref, m;

	(void)state;
	memcpy(buf, full_si, sizeof(full_si));
	decode_ok(buf, sizeof(full_si), &ref);
	for (size_t extra = 1; extra <= 6; extra++) {
		buf[sizeof(full_si) + extra - 1] = 0xC3;
		decode_ok(buf, sizeof(full_si) + extra, &m);
		assert_int_equal(m.trailing, extra);
		assert_int_equal(m.n_readings, 3);
		assert_memory_equal(m.readings, ref.readings, sizeof(m.readings));
	}
}

static void test_all_flags(void **state)
{
	(void)state;
	for (unsigned int flags = 0; flags <= 0xFF; flags++) {
		struct wm_fields f = sample_fields((uint8_t)flags);
		uint8_t buf[32];
		size_t len = wm_encode(&f, buf);
		struct wss_measurement m;
		const struct varde_reading *w = &m.readings[0];
		uint32_t want_flags = 0;
		int imperial = flags & FLAG_IMPERIAL;

		decode_ok(buf, len, &m);
		assert_int_equal(m.flags, flags);
		assert_int_equal(m.trailing, 0);
		assert_int_equal(w->unit, imperial ? VARDE_UNIT_LB : VARDE_UNIT_KG);
		if (imperial)
			assert_value(&w->value, VARDE_VALUE_NUMBER, 14000, -2);
		else
			assert_value(&w->value, VARDE_VALUE_NUMBER, 70000, -3);
		if (flags & FLAG_TIME) {
			want_flags |= VARDE_READING_HAS_TIME;
			assert_int_equal(w->time.year, 2023);
			assert_int_equal(w->time.day, 15);
			assert_int_equal(w->time.minutes, 30);
		} else {
			assert_int_equal(w->time.year, 0);
		}
		if (flags & FLAG_USER) {
			want_flags |= VARDE_READING_HAS_USER;
			assert_int_equal(w->user_id, 2);
		} else {
			assert_int_equal(w->user_id, 0);
		}
		assert_int_equal(w->flags, want_flags);
		if (flags & FLAG_BMI_HEIGHT) {
			assert_int_equal(m.n_readings, 3);
			assert_int_equal(m.readings[1].unit, VARDE_UNIT_KG_PER_M2);
			assert_value(&m.readings[1].value, VARDE_VALUE_NUMBER, 229, -1);
			assert_int_equal(m.readings[2].unit,
					 imperial ? VARDE_UNIT_INCH : VARDE_UNIT_M);
			assert_value(&m.readings[2].value, VARDE_VALUE_NUMBER, 1750,
				     imperial ? -1 : -3);
		} else {
			assert_int_equal(m.n_readings, 1);
		}
		assert_truncations_fail(buf, len);
	}
}

/* Exact mantissa/exponent at the ends of each field's range. */
static void test_resolution_edges(void **state)
{
	static const uint16_t raws[] = {0, 1, 2, 199, 200, 65533, 65534};

	(void)state;
	for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
		for (int imperial = 0; imperial <= 1; imperial++) {
			struct wm_fields f =
				sample_fields((uint8_t)(FLAG_BMI_HEIGHT | (imperial ? 1 : 0)));
			uint8_t buf[32];
			size_t len;
			struct wss_measurement m;

			f.weight = raws[i];
			f.bmi = raws[i];
			f.height = raws[i];
			len = wm_encode(&f, buf);
			decode_ok(buf, len, &m);
			if (imperial) {
				assert_value(&m.readings[0].value, VARDE_VALUE_NUMBER, raws[i], -2);
				assert_value(&m.readings[2].value, VARDE_VALUE_NUMBER, raws[i], -1);
			} else {
				assert_value(&m.readings[0].value, VARDE_VALUE_NUMBER,
					     (int32_t)raws[i] * 5, -3);
				assert_value(&m.readings[2].value, VARDE_VALUE_NUMBER, raws[i], -3);
			}
			assert_value(&m.readings[1].value, VARDE_VALUE_NUMBER, raws[i], -1);
		}
	}
}

/* 0xFFFF weight is "measurement unsuccessful": never a number, in either
 * unit system, and the BMI computed from it is no number either. Height
 * does not depend on the weighing and is kept. */
static void test_weight_unsuccessful(void **state)
{
	(void)state;
	for (unsigned int flags = 0; flags < 16; flags++) {
		struct wm_fields f = sample_fields((uint8_t)flags);
		uint8_t buf[32];
		size_t len;
		struct wss_measurement m;

		f.weight = 0xFFFF;
		len = wm_encode(&f, buf);
		decode_ok(buf, len, &m);
		assert_value(&m.readings[0].value, VARDE_VALUE_NAN, 0, 0);
		assert_int_equal(m.readings[0].unit,
				 (flags & FLAG_IMPERIAL) ? VARDE_UNIT_LB : VARDE_UNIT_KG);
		if (flags & FLAG_BMI_HEIGHT) {
			assert_int_equal(m.n_readings, 3);
			assert_value(&m.readings[1].value, VARDE_VALUE_NAN, 0, 0);
			assert_value(&m.readings[2].value, VARDE_VALUE_NUMBER, 1750,
				     (flags & FLAG_IMPERIAL) ? -1 : -3);
		}
		if (flags & FLAG_USER)
			assert_int_equal(m.readings[0].user_id, 2);
	}
}

/* BMI and height define no special value: 0xFFFF is a (absurd) number the
 * hub's validation judges, not something the decoder may reinterpret. */
static void test_bmi_height_all_ones(void **state)
{
	struct wm_fields f = sample_fields(FLAG_BMI_HEIGHT);
	uint8_t buf[32];
	size_t len;
	struct wss_measurement m;

	(void)state;
	f.bmi = 0xFFFF;
	f.height = 0xFFFF;
	len = wm_encode(&f, buf);
	decode_ok(buf, len, &m);
	assert_value(&m.readings[0].value, VARDE_VALUE_NUMBER, 70000, -3);
	assert_value(&m.readings[1].value, VARDE_VALUE_NUMBER, 65535, -1);
	assert_value(&m.readings[2].value, VARDE_VALUE_NUMBER, 65535, -3);
}

static void test_user_id(void **state)
{
	static const struct {
		uint8_t user;
		uint32_t user_id;
	} cases[] = {{0x00, 0}, {0x01, 1}, {0xFE, 0xFE}, {0xFF, VARDE_USER_UNKNOWN}};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct wm_fields f = sample_fields(FLAG_USER | FLAG_BMI_HEIGHT);
		uint8_t buf[32];
		size_t len;
		struct wss_measurement m;

		f.user = cases[i].user;
		len = wm_encode(&f, buf);
		decode_ok(buf, len, &m);
		/* BMI and height follow the user byte: still in place */
		assert_value(&m.readings[1].value, VARDE_VALUE_NUMBER, 229, -1);
		/* Every id is passed on, "unknown user" (0xFF) as such, so that
		 * the hub quarantines it instead of guessing a patient. */
		for (size_t r = 0; r < 3; r++) {
			assert_int_equal(m.readings[r].flags, VARDE_READING_HAS_USER);
			assert_int_equal(m.readings[r].user_id, cases[i].user_id);
		}
	}
}

static void test_time_unknown_fields(void **state)
{
	struct wm_fields f = sample_fields(FLAG_TIME);
	uint8_t buf[32];
	size_t len;
	struct wss_measurement m;

	(void)state;
	f.year = 0;
	f.month = 0;
	f.day = 0;
	len = wm_encode(&f, buf);
	decode_ok(buf, len, &m);
	assert_int_equal(m.readings[0].flags, VARDE_READING_HAS_TIME);
	assert_int_equal(m.readings[0].time.year, 0);
	assert_int_equal(m.readings[0].time.month, 0);
	assert_int_equal(m.readings[0].time.day, 0);
	assert_int_equal(m.readings[0].time.hours, 7);
	assert_int_equal(m.readings[0].time.minutes, 30);
}

/* A time stamp outside the Date Time ranges: the readings are kept, without
 * time and flagged, and the user, BMI and height after it are still read. */
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
		struct wm_fields f = sample_fields(FLAG_TIME | FLAG_USER | FLAG_BMI_HEIGHT);
		uint8_t buf[32];
		size_t len;
		struct wss_measurement m;

		f.year = cases[i].year;
		f.month = cases[i].month;
		f.day = cases[i].day;
		f.hours = cases[i].hours;
		f.minutes = cases[i].minutes;
		f.seconds = cases[i].seconds;
		len = wm_encode(&f, buf);
		decode_ok(buf, len, &m);
		assert_true(m.time_out_of_range);
		assert_int_equal(m.n_readings, 3);
		assert_int_equal(m.trailing, 0);
		for (size_t r = 0; r < 3; r++) {
			assert_int_equal(m.readings[r].flags, VARDE_READING_HAS_USER);
			assert_int_equal(m.readings[r].user_id, 2);
			assert_int_equal(m.readings[r].time.year, 0);
			assert_int_equal(m.readings[r].time.hours, 0);
		}
		assert_value(&m.readings[0].value, VARDE_VALUE_NUMBER, 70000, -3);
		assert_value(&m.readings[1].value, VARDE_VALUE_NUMBER, 229, -1);
		assert_value(&m.readings[2].value, VARDE_VALUE_NUMBER, 1750, -3);
	}
}

static void test_null_and_empty(void **state)
{
	struct wss_measurement m;
	uint32_t features = 0;

	(void)state;
	assert_int_equal(wss_decode_measurement(NULL, 0, &m), -EBADMSG);
	assert_int_equal(wss_decode_measurement(NULL, 3, &m), -EBADMSG);
	assert_int_equal(wss_decode_feature(NULL, 4, &features), -EBADMSG);
}

static void test_feature(void **state)
{
	/* time stamp, multiple users, BMI; weight resolution 7 (0.005 kg),
	 * height resolution 3 (0.001 m) */
	uint8_t buf[6] = {0xBF, 0x01, 0x00, 0x00, 0xEE, 0xEE};
	uint32_t features = 0;

	(void)state;
	assert_int_equal(wss_decode_feature(buf, 4, &features), 0);
	assert_int_equal(features, 0x000001BF);
	assert_true(features & WSS_FEATURE_TIME_STAMP);
	assert_true(features & WSS_FEATURE_MULTIPLE_USERS);
	assert_true(features & WSS_FEATURE_BMI);
	assert_int_equal(WSS_FEATURE_WEIGHT_RESOLUTION(features), 7);
	assert_int_equal(WSS_FEATURE_HEIGHT_RESOLUTION(features), 3);
	features = 0;
	assert_int_equal(wss_decode_feature(buf, 6, &features), 0);
	assert_int_equal(features, 0x000001BF);
	for (size_t cut = 0; cut < 4; cut++) {
		uint8_t *frame = test_malloc(cut ? cut : 1);

		memcpy(frame, buf, cut);
		assert_int_equal(wss_decode_feature(frame, cut, &features), -EBADMSG);
		test_free(frame);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_si_frame),
		cmocka_unit_test(test_overlong),
		cmocka_unit_test(test_all_flags),
		cmocka_unit_test(test_resolution_edges),
		cmocka_unit_test(test_weight_unsuccessful),
		cmocka_unit_test(test_bmi_height_all_ones),
		cmocka_unit_test(test_user_id),
		cmocka_unit_test(test_time_unknown_fields),
		cmocka_unit_test(test_time_invalid),
		cmocka_unit_test(test_null_and_empty),
		cmocka_unit_test(test_feature),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
