// SPDX-License-Identifier: MIT
/*
 * Glucose Service decoders: shared vectors, every flag combination,
 * truncation at every length, over-long frames, special values, dates,
 * status and type mapping, reading construction, quirk matching.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gls_decode.h"
#include "gls_quirks.h"

/* ---- a small frame builder ---------------------------------------------- */

struct frame {
	uint8_t b[64];
	size_t n;
};

static void put8(struct frame *f, unsigned int v)
{
	f->b[f->n++] = (uint8_t)v;
}

static void put16(struct frame *f, unsigned int v)
{
	put8(f, v & 0xff);
	put8(f, (v >> 8) & 0xff);
}

static void put_time(struct frame *f, unsigned int y, unsigned int mo, unsigned int d,
		     unsigned int h, unsigned int mi, unsigned int s)
{
	put16(f, y);
	put8(f, mo);
	put8(f, d);
	put8(f, h);
	put8(f, mi);
	put8(f, s);
}

/* Measurement with fixed field values; `flags` selects the fields. */
#define M_SEQ 0x1234
#define M_OFFSET 90 /* minutes */
#define M_CONC 0xB04D /* 77e-5 kg/L = 77 mg/dL */
#define M_TYPELOC 0x21 /* type 1, location 2 */
#define M_STATUS 0x0060

static struct frame measurement_frame(uint8_t flags)
{
	struct frame f = {{0}, 0};

	put8(&f, flags);
	put16(&f, M_SEQ);
	put_time(&f, 2024, 3, 31, 23, 45, 10);
	if (flags & GLS_MEAS_TIME_OFFSET)
		put16(&f, M_OFFSET);
	if (flags & GLS_MEAS_CONCENTRATION) {
		put16(&f, M_CONC);
		put8(&f, M_TYPELOC);
	}
	if (flags & GLS_MEAS_STATUS)
		put16(&f, M_STATUS);
	return f;
}

static size_t hex2bin(const char *hex, uint8_t *out)
{
	size_t n = 0;

	for (; hex[0] && hex[1]; hex += 2) {
		unsigned int v;

		assert_int_equal(sscanf(hex, "%2x", &v), 1);
		out[n++] = (uint8_t)v;
	}
	return n;
}

static void assert_value(struct varde_value v, int32_t mantissa, int8_t exponent)
{
	assert_int_equal(v.special, VARDE_VALUE_NUMBER);
	assert_int_equal(v.mantissa, mantissa);
	assert_int_equal(v.exponent, exponent);
}

static void assert_time(const struct varde_datetime *t, unsigned int y, unsigned int mo,
			unsigned int d, unsigned int h, unsigned int mi, unsigned int s)
{
	assert_int_equal(t->year, y);
	assert_int_equal(t->month, mo);
	assert_int_equal(t->day, d);
	assert_int_equal(t->hours, h);
	assert_int_equal(t->minutes, mi);
	assert_int_equal(t->seconds, s);
}

/* ---- measurement ------------------------------------------------------- */

static void test_vector_glucose_nordic(void **state)
{
	struct varde_component comps[GLS_MAX_COMPONENTS];
	struct gls_measurement m;
	struct varde_reading r;
	uint8_t buf[32];
	size_t len = hex2bin("1B0100E307021B0B0A1EFBFF1E00120501", buf);

	(void)state;
	assert_int_equal(gls_measurement_decode(buf, len, &m), 0);
	assert_int_equal(m.flags, 0x1B);
	assert_int_equal(m.sequence, 1);
	assert_int_equal(m.time_offset, -5);
	assert_true(m.has_time);
	/* 2019-02-27 11:10:30 minus 5 minutes */
	assert_time(&m.time, 2019, 2, 27, 11, 5, 30);
	assert_value(m.concentration, 30, 0);
	assert_int_equal(m.unit, VARDE_UNIT_KG_PER_L);
	assert_int_equal(m.type, 2);
	assert_int_equal(m.location, 1);
	assert_int_equal(m.annunciation, 0x0105);
	assert_true(m.flags & GLS_MEAS_CONTEXT_FOLLOWS);

	assert_int_equal(gls_reading_build(&m, NULL, true, &r, comps), 0);
	assert_int_equal(r.size, sizeof(r));
	assert_int_equal(r.metric, VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA);
	assert_int_equal(r.unit, VARDE_UNIT_KG_PER_L);
	assert_value(r.value, 30, 0);
	assert_int_equal(r.status, VARDE_STATUS_BATTERY_LOW | VARDE_STATUS_STRIP_ERROR |
					   VARDE_STATUS_TEMPERATURE_OUT_OF_RANGE);
	assert_int_equal(r.flags, VARDE_READING_HAS_TIME | VARDE_READING_HAS_SEQUENCE |
					  VARDE_READING_STORED);
	assert_int_equal(r.sequence, 1);
	assert_time(&r.time, 2019, 2, 27, 11, 5, 30);
	assert_int_equal(r.site, VARDE_SITE_FINGER);
	assert_null(r.components);
	assert_int_equal(r.n_components, 0);
}

/* Sample location -> site: a body site, or none for control solution, "not
 * available" and reserved codes; the location never costs the value. */
static void test_sample_location_site(void **state)
{
	static const uint32_t want[16] = {
		[1] = VARDE_SITE_FINGER,
		[2] = VARDE_SITE_ALTERNATE,
		[3] = VARDE_SITE_EARLOBE,
	};
	struct varde_component comps[GLS_MAX_COMPONENTS];

	(void)state;
	for (unsigned int location = 0; location < 16; location++) {
		struct frame f = measurement_frame(GLS_MEAS_CONCENTRATION);
		struct gls_measurement m;
		struct varde_reading r;

		/* type 1, this location */
		f.b[f.n - 1] = (uint8_t)(location << 4 | 1);
		assert_int_equal(gls_measurement_decode(f.b, f.n, &m), 0);
		assert_int_equal(m.location, location);
		assert_int_equal(gls_site_from_location((uint8_t)location), want[location]);
		assert_int_equal(gls_reading_build(&m, NULL, false, &r, comps), 0);
		assert_int_equal(r.site, want[location]);
		assert_int_equal(r.metric, VARDE_METRIC_GLUCOSE_CAPILLARY_WHOLE_BLOOD);
		assert_value(r.value, 77, -5);
	}
	/* Control solution (type 10) at location 4: no site, and flagged. */
	{
		struct frame f = measurement_frame(GLS_MEAS_CONCENTRATION);
		struct gls_measurement m;
		struct varde_reading r;

		f.b[f.n - 1] = 0x4A;
		assert_int_equal(gls_measurement_decode(f.b, f.n, &m), 0);
		assert_int_equal(gls_reading_build(&m, NULL, false, &r, comps), 0);
		assert_int_equal(r.metric, VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION);
		assert_int_equal(r.site, VARDE_SITE_NONE);
		assert_true(r.status & VARDE_STATUS_CONTROL_SOLUTION);
	}
	/* Without a concentration field there is no location either (a result
	 * beyond the meter's range is still published). */
	{
		struct frame f = measurement_frame(GLS_MEAS_STATUS);
		struct gls_measurement m;
		struct varde_reading r;

		assert_int_equal(gls_measurement_decode(f.b, f.n, &m), 0);
		assert_int_equal(gls_reading_build(&m, NULL, false, &r, comps), 0);
		assert_int_equal(r.metric, VARDE_METRIC_GLUCOSE_UNDETERMINED_PLASMA);
		assert_int_equal(r.site, VARDE_SITE_NONE);
	}
}

static void test_measurement_every_flag_combination(void **state)
{
	(void)state;
	for (unsigned int flags = 0; flags < 0x20; flags++) {
		struct frame f = measurement_frame((uint8_t)flags);
		struct gls_measurement m;

		assert_int_equal(gls_measurement_decode(f.b, f.n, &m), 0);
		assert_int_equal(m.flags, flags);
		assert_int_equal(m.sequence, M_SEQ);
		assert_true(m.has_time);
		if (flags & GLS_MEAS_TIME_OFFSET) {
			assert_int_equal(m.time_offset, M_OFFSET);
			/* 23:45 + 90 min crosses into April */
			assert_time(&m.time, 2024, 4, 1, 1, 15, 10);
		} else {
			assert_int_equal(m.time_offset, 0);
			assert_time(&m.time, 2024, 3, 31, 23, 45, 10);
		}
		assert_int_equal(m.unit, (flags & GLS_MEAS_UNIT_MOL_PER_L) ? VARDE_UNIT_MOL_PER_L
									   : VARDE_UNIT_KG_PER_L);
		if (flags & GLS_MEAS_CONCENTRATION) {
			assert_value(m.concentration, 77, -5);
			assert_int_equal(m.type, 1);
			assert_int_equal(m.location, 2);
		} else {
			assert_int_equal(m.concentration.special, VARDE_VALUE_NAN);
			assert_int_equal(m.type, 0);
		}
		assert_int_equal(m.annunciation, (flags & GLS_MEAS_STATUS) ? M_STATUS : 0);

		/* Every shorter frame fails cleanly. */
		for (size_t len = 0; len < f.n; len++)
			assert_int_equal(gls_measurement_decode(f.b, len, &m), -EBADMSG);
		/* Appended bytes are ignored. */
		f.b[f.n] = 0xEE;
		f.b[f.n + 1] = 0xEE;
		assert_int_equal(gls_measurement_decode(f.b, f.n + 2, &m), 0);
		assert_int_equal(m.sequence, M_SEQ);
		assert_int_equal(m.annunciation, (flags & GLS_MEAS_STATUS) ? M_STATUS : 0);
	}
}

static void test_measurement_null_data(void **state)
{
	struct gls_measurement m;

	(void)state;
	assert_int_equal(gls_measurement_decode(NULL, 17, &m), -EBADMSG);
}

static void test_measurement_special_values(void **state)
{
	static const struct {
		uint16_t raw;
		uint8_t special;
	} cases[] = {
		{0x07FF, VARDE_VALUE_NAN},  {0x0800, VARDE_VALUE_NRES}, {0x07FE, VARDE_VALUE_PINF},
		{0x0802, VARDE_VALUE_NINF}, {0x0801, VARDE_VALUE_NAN},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct varde_component comps[GLS_MAX_COMPONENTS];
		struct frame f = {{0}, 0};
		struct gls_measurement m;
		struct varde_reading r;

		put8(&f, GLS_MEAS_CONCENTRATION | GLS_MEAS_UNIT_MOL_PER_L);
		put16(&f, 7);
		put_time(&f, 2023, 5, 6, 7, 8, 9);
		put16(&f, cases[i].raw);
		put8(&f, 0x12);
		assert_int_equal(gls_measurement_decode(f.b, f.n, &m), 0);
		assert_int_equal(m.concentration.special, cases[i].special);
		assert_int_equal(m.concentration.mantissa, 0);
		assert_int_equal(m.concentration.exponent, 0);
		assert_int_equal(gls_reading_build(&m, NULL, false, &r, comps), 0);
		assert_int_equal(r.value.special, cases[i].special);
		assert_int_equal(r.unit, VARDE_UNIT_MOL_PER_L);
	}
}

static void test_measurement_negative_exponent_not_offset_binary(void **state)
{
	/* 0xC03E: exponent -4 (two's complement), mantissa 62: 62e-4 mol/L
	 * = 6.2 mmol/L. Offset-binary decoding would give exponent +4. */
	uint8_t buf[] = {GLS_MEAS_CONCENTRATION | GLS_MEAS_UNIT_MOL_PER_L,
			 1,
			 0,
			 0xE8,
			 0x07,
			 1,
			 2,
			 3,
			 4,
			 5,
			 0x3E,
			 0xC0,
			 0x11};
	struct gls_measurement m;

	(void)state;
	assert_int_equal(gls_measurement_decode(buf, sizeof(buf), &m), 0);
	assert_value(m.concentration, 62, -4);
}

static void test_measurement_unknown_dates(void **state)
{
	struct gls_measurement m;
	struct frame f = {{0}, 0};

	(void)state;
	/* Unknown year without offset: passed on, the hub treats it as unknown. */
	put8(&f, GLS_MEAS_CONCENTRATION);
	put16(&f, 3);
	put_time(&f, 0, 4, 17, 20, 41, 59);
	put16(&f, M_CONC);
	put8(&f, M_TYPELOC);
	assert_int_equal(gls_measurement_decode(f.b, f.n, &m), 0);
	assert_true(m.has_time);
	assert_time(&m.time, 0, 4, 17, 20, 41, 59);

	/* Unknown date with an offset: the corrected time cannot be known. */
	f.n = 0;
	put8(&f, GLS_MEAS_CONCENTRATION | GLS_MEAS_TIME_OFFSET);
	put16(&f, 3);
	put_time(&f, 2024, 0, 17, 20, 41, 59);
	put16(&f, 0xFFF6); /* -10 */
	put16(&f, M_CONC);
	put8(&f, M_TYPELOC);
	assert_int_equal(gls_measurement_decode(f.b, f.n, &m), 0);
	assert_false(m.has_time);
	assert_false(m.time_out_of_range);
	assert_value(m.concentration, 77, -5);

	/* Zero offset on an unknown date: the base time stands. */
	f.b[10] = 0;
	f.b[11] = 0;
	assert_int_equal(gls_measurement_decode(f.b, f.n, &m), 0);
	assert_true(m.has_time);
	assert_int_equal(m.time.month, 0);

	/* A field out of range: no time, value kept, rest of frame read. */
	f.n = 0;
	put8(&f, GLS_MEAS_CONCENTRATION | GLS_MEAS_STATUS);
	put16(&f, 4);
	put_time(&f, 2024, 13, 1, 0, 0, 0);
	put16(&f, M_CONC);
	put8(&f, M_TYPELOC);
	put16(&f, 0x0020);
	assert_int_equal(gls_measurement_decode(f.b, f.n, &m), 0);
	assert_false(m.has_time);
	assert_true(m.time_out_of_range);
	assert_value(m.concentration, 77, -5);
	assert_int_equal(m.annunciation, 0x0020);

	/* Hours 24, seconds 60, year 1581: each is no time. */
	f.b[5] = 1;
	f.b[7] = 24;
	assert_int_equal(gls_measurement_decode(f.b, f.n, &m), 0);
	assert_false(m.has_time);
	f.b[7] = 0;
	f.b[9] = 60;
	assert_int_equal(gls_measurement_decode(f.b, f.n, &m), 0);
	assert_false(m.has_time);
	f.b[9] = 0;
	f.b[3] = 1581 & 0xff;
	f.b[4] = 1581 >> 8;
	assert_int_equal(gls_measurement_decode(f.b, f.n, &m), 0);
	assert_false(m.has_time);
	f.b[3] = 1582 & 0xff;
	f.b[4] = 1582 >> 8;
	assert_int_equal(gls_measurement_decode(f.b, f.n, &m), 0);
	assert_true(m.has_time);
	assert_false(m.time_out_of_range);
	assert_int_equal(m.time.year, 1582);
}

static void test_measurement_offset_arithmetic(void **state)
{
	struct gls_measurement m;
	struct frame f = {{0}, 0};

	(void)state;
	put8(&f, GLS_MEAS_TIME_OFFSET);
	put16(&f, 9);
	put_time(&f, 2023, 12, 31, 23, 58, 0);
	put16(&f, 5);
	assert_int_equal(gls_measurement_decode(f.b, f.n, &m), 0);
	assert_time(&m.time, 2024, 1, 1, 0, 3, 0);

	/* -32768 minutes back from 2024-03-01 00:00 (leap February) */
	f.n = 0;
	put8(&f, GLS_MEAS_TIME_OFFSET);
	put16(&f, 9);
	put_time(&f, 2024, 3, 1, 0, 0, 0);
	put16(&f, 0x8000);
	assert_int_equal(gls_measurement_decode(f.b, f.n, &m), 0);
	assert_int_equal(m.time_offset, -32768);
	/* 32768 min = 22 d 18 h 8 min */
	assert_time(&m.time, 2024, 2, 7, 5, 52, 0);

	/* Out of the calendar: no time. */
	f.n = 0;
	put8(&f, GLS_MEAS_TIME_OFFSET);
	put16(&f, 9);
	put_time(&f, 9999, 12, 31, 23, 59, 0);
	put16(&f, 1);
	assert_int_equal(gls_measurement_decode(f.b, f.n, &m), 0);
	assert_false(m.has_time);

	/* Day 31 in a 30-day month with an offset: no time. */
	f.n = 0;
	put8(&f, GLS_MEAS_TIME_OFFSET);
	put16(&f, 9);
	put_time(&f, 2024, 4, 31, 10, 0, 0);
	put16(&f, 1);
	assert_int_equal(gls_measurement_decode(f.b, f.n, &m), 0);
	assert_false(m.has_time);
}

static void test_status_mapping_each_bit(void **state)
{
	static const uint32_t expect[16] = {
		VARDE_STATUS_BATTERY_LOW,
		VARDE_STATUS_EQUIPMENT_FAULT,
		VARDE_STATUS_STRIP_ERROR, /* sample size insufficient */
		VARDE_STATUS_STRIP_ERROR, /* strip insertion */
		VARDE_STATUS_STRIP_ERROR, /* strip type */
		VARDE_STATUS_RESULT_TOO_HIGH,
		VARDE_STATUS_RESULT_TOO_LOW,
		VARDE_STATUS_TEMPERATURE_OUT_OF_RANGE,
		VARDE_STATUS_TEMPERATURE_OUT_OF_RANGE,
		VARDE_STATUS_STRIP_ERROR, /* read interrupted */
		VARDE_STATUS_EQUIPMENT_FAULT,
		VARDE_STATUS_DEVICE_CLOCK_NOT_SET,
		0,
		0,
		0,
		0, /* reserved */
	};

	(void)state;
	for (unsigned int bit = 0; bit < 16; bit++)
		assert_int_equal(gls_status_from_annunciation((uint16_t)(1u << bit)), expect[bit]);
	assert_int_equal(gls_status_from_annunciation(0), 0);
	/* The trap: bit 5 is higher, bit 6 lower. */
	assert_int_equal(gls_status_from_annunciation(0x0020), VARDE_STATUS_RESULT_TOO_HIGH);
	assert_int_equal(gls_status_from_annunciation(0x0040), VARDE_STATUS_RESULT_TOO_LOW);
}

static void test_type_mapping(void **state)
{
	static const uint32_t expect[16] = {
		VARDE_METRIC_NONE,
		VARDE_METRIC_GLUCOSE_CAPILLARY_WHOLE_BLOOD,
		VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA,
		VARDE_METRIC_GLUCOSE_VENOUS_WHOLE_BLOOD,
		VARDE_METRIC_GLUCOSE_VENOUS_PLASMA,
		VARDE_METRIC_GLUCOSE_ARTERIAL_WHOLE_BLOOD,
		VARDE_METRIC_GLUCOSE_ARTERIAL_PLASMA,
		VARDE_METRIC_GLUCOSE_UNDETERMINED_WHOLE_BLOOD,
		VARDE_METRIC_GLUCOSE_UNDETERMINED_PLASMA,
		VARDE_METRIC_GLUCOSE_ISF,
		VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION,
		VARDE_METRIC_NONE,
		VARDE_METRIC_NONE,
		VARDE_METRIC_NONE,
		VARDE_METRIC_NONE,
		VARDE_METRIC_NONE,
	};

	(void)state;
	for (unsigned int t = 0; t < 16; t++)
		assert_int_equal(gls_metric_from_type((uint8_t)t), expect[t]);
	assert_int_equal(gls_metric_from_type(0xFF), VARDE_METRIC_NONE);
}

static struct gls_measurement decode_frame(const struct frame *f)
{
	struct gls_measurement m;

	assert_int_equal(gls_measurement_decode(f->b, f->n, &m), 0);
	return m;
}

static void test_reading_control_solution(void **state)
{
	struct varde_component comps[GLS_MAX_COMPONENTS];
	struct frame f = {{0}, 0};
	struct gls_measurement m;
	struct varde_reading r;

	(void)state;
	put8(&f, GLS_MEAS_CONCENTRATION);
	put16(&f, 11);
	put_time(&f, 2024, 1, 2, 3, 4, 5);
	put16(&f, M_CONC);
	put8(&f, 0x1A); /* type 10, location 1 */
	m = decode_frame(&f);
	assert_int_equal(gls_reading_build(&m, NULL, false, &r, comps), 0);
	assert_int_equal(r.metric, VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION);
	assert_int_equal(r.status, VARDE_STATUS_CONTROL_SOLUTION);
	assert_true(r.status & VARDE_STATUS_QUALITY_MASK);
	assert_int_equal(r.flags, VARDE_READING_HAS_TIME | VARDE_READING_HAS_SEQUENCE);
}

static void test_reading_too_high_and_low_kept(void **state)
{
	struct varde_component comps[GLS_MAX_COMPONENTS];
	struct frame f = {{0}, 0};
	struct gls_measurement m;
	struct varde_reading r;

	(void)state;
	/* Device limit as value (600 mg/dL = 600e-5 kg/L), too high. */
	put8(&f, GLS_MEAS_CONCENTRATION | GLS_MEAS_STATUS);
	put16(&f, 12);
	put_time(&f, 2024, 1, 2, 3, 4, 5);
	put16(&f, 0xB258); /* 600e-5 */
	put8(&f, 0x12);
	put16(&f, GLS_ST_RESULT_TOO_HIGH);
	m = decode_frame(&f);
	assert_int_equal(gls_reading_build(&m, NULL, false, &r, comps), 0);
	assert_int_equal(r.metric, VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA);
	assert_value(r.value, 600, -5);
	assert_int_equal(r.status, VARDE_STATUS_RESULT_TOO_HIGH);
	/* Too high must be able to alert: not a quality bit. */
	assert_false(r.status & VARDE_STATUS_QUALITY_MASK);

	/* -INF with too low. */
	f.b[10] = 0x02;
	f.b[11] = 0x08;
	f.b[13] = GLS_ST_RESULT_TOO_LOW;
	f.b[14] = 0;
	m = decode_frame(&f);
	assert_int_equal(gls_reading_build(&m, NULL, false, &r, comps), 0);
	assert_int_equal(r.value.special, VARDE_VALUE_NINF);
	assert_int_equal(r.status, VARDE_STATUS_RESULT_TOO_LOW);

	/* Too high without a concentration field: still published, NaN. */
	f.n = 0;
	put8(&f, GLS_MEAS_STATUS | GLS_MEAS_UNIT_MOL_PER_L);
	put16(&f, 13);
	put_time(&f, 2024, 1, 2, 3, 4, 5);
	put16(&f, GLS_ST_RESULT_TOO_HIGH | GLS_ST_BATTERY_LOW);
	m = decode_frame(&f);
	assert_int_equal(gls_reading_build(&m, NULL, true, &r, comps), 0);
	assert_int_equal(r.metric, VARDE_METRIC_GLUCOSE_UNDETERMINED_PLASMA);
	assert_int_equal(r.unit, VARDE_UNIT_MOL_PER_L);
	assert_int_equal(r.value.special, VARDE_VALUE_NAN);
	assert_int_equal(r.status, VARDE_STATUS_RESULT_TOO_HIGH | VARDE_STATUS_BATTERY_LOW);
	assert_int_equal(r.sequence, 13);

	/* Reserved sample type with too low: published as undetermined. */
	f.n = 0;
	put8(&f, GLS_MEAS_CONCENTRATION | GLS_MEAS_STATUS);
	put16(&f, 14);
	put_time(&f, 2024, 1, 2, 3, 4, 5);
	put16(&f, 0xB00A);
	put8(&f, 0x1F);
	put16(&f, GLS_ST_RESULT_TOO_LOW);
	m = decode_frame(&f);
	assert_int_equal(gls_reading_build(&m, NULL, false, &r, comps), 0);
	assert_int_equal(r.metric, VARDE_METRIC_GLUCOSE_UNDETERMINED_PLASMA);
	assert_value(r.value, 10, -5);
}

static void test_reading_nothing_to_publish(void **state)
{
	struct varde_component comps[GLS_MAX_COMPONENTS];
	struct frame f = {{0}, 0};
	struct gls_measurement m;
	struct varde_reading r;

	(void)state;
	/* No concentration, a strip error only. */
	put8(&f, GLS_MEAS_STATUS);
	put16(&f, 15);
	put_time(&f, 2024, 1, 2, 3, 4, 5);
	put16(&f, GLS_ST_STRIP_INSERTION);
	m = decode_frame(&f);
	assert_int_equal(gls_reading_build(&m, NULL, false, &r, comps), -ENODATA);

	/* Reserved type 0 with a normal value. */
	f.n = 0;
	put8(&f, GLS_MEAS_CONCENTRATION);
	put16(&f, 16);
	put_time(&f, 2024, 1, 2, 3, 4, 5);
	put16(&f, M_CONC);
	put8(&f, 0x10);
	m = decode_frame(&f);
	assert_int_equal(gls_reading_build(&m, NULL, false, &r, comps), -ENODATA);
}

static void test_reading_without_time(void **state)
{
	struct varde_component comps[GLS_MAX_COMPONENTS];
	struct frame f = {{0}, 0};
	struct gls_measurement m;
	struct varde_reading r;

	(void)state;
	put8(&f, GLS_MEAS_CONCENTRATION | GLS_MEAS_TIME_OFFSET);
	put16(&f, 17);
	put_time(&f, 0, 0, 0, 3, 4, 5);
	put16(&f, 60);
	put16(&f, M_CONC);
	put8(&f, 0x11);
	m = decode_frame(&f);
	assert_int_equal(gls_reading_build(&m, NULL, true, &r, comps), 0);
	assert_int_equal(r.flags, VARDE_READING_HAS_SEQUENCE | VARDE_READING_STORED);
	assert_int_equal(r.metric, VARDE_METRIC_GLUCOSE_CAPILLARY_WHOLE_BLOOD);
	/* A stored record without a usable time is kept (its sequence number
	 * identifies it), flagged so that the hub uses its receive time. */
	assert_int_equal(r.status, VARDE_STATUS_DEVICE_CLOCK_NOT_SET);
	assert_int_equal(r.sequence, 17);

	/* The same with a time stamp out of range (hour 24) and no offset. */
	f.n = 0;
	put8(&f, GLS_MEAS_CONCENTRATION);
	put16(&f, 18);
	put_time(&f, 2024, 5, 6, 24, 0, 0);
	put16(&f, M_CONC);
	put8(&f, 0x11);
	m = decode_frame(&f);
	assert_true(m.time_out_of_range);
	assert_int_equal(gls_reading_build(&m, NULL, true, &r, comps), 0);
	assert_int_equal(r.flags, VARDE_READING_HAS_SEQUENCE | VARDE_READING_STORED);
	assert_int_equal(r.status, VARDE_STATUS_DEVICE_CLOCK_NOT_SET);
	assert_int_equal(r.time.year, 0);
}

/* ---- context ----------------------------------------------------------- */

#define C_SEQ 0x0102
#define C_EXT 0x5A
#define C_CARB 0xD032 /* 50e-3 kg = 50 g */
#define C_MED 0xA005 /* 5e-6 kg = 5 mg, or 5e-6 L */
#define C_HBA1C 0xF041 /* 6.5 % */

static struct frame context_frame(uint8_t flags)
{
	struct frame f = {{0}, 0};

	put8(&f, flags);
	put16(&f, C_SEQ);
	if (flags & GLS_CTX_EXTENDED_FLAGS)
		put8(&f, C_EXT);
	if (flags & GLS_CTX_CARBOHYDRATE) {
		put8(&f, 3); /* dinner */
		put16(&f, C_CARB);
	}
	if (flags & GLS_CTX_MEAL)
		put8(&f, 2); /* postprandial */
	if (flags & GLS_CTX_TESTER_HEALTH)
		put8(&f, 0x51); /* tester 1 self, health 5 no issues */
	if (flags & GLS_CTX_EXERCISE) {
		put16(&f, 1800);
		put8(&f, 70);
	}
	if (flags & GLS_CTX_MEDICATION) {
		put8(&f, 1); /* rapid acting insulin */
		put16(&f, C_MED);
	}
	if (flags & GLS_CTX_HBA1C)
		put16(&f, C_HBA1C);
	return f;
}

/* The component of `metric`; fails the test when there is none. */
static struct varde_component find(const struct varde_reading *r, uint32_t metric)
{
	struct varde_component none = {0, 0, {0, 0, 0, {0, 0}}};

	for (size_t i = 0; i < r->n_components; i++)
		if (r->components[i].metric == metric)
			return r->components[i];
	fail_msg("no component for metric %u", metric);
	return none;
}

static void assert_code(const struct varde_reading *r, uint32_t metric, int32_t code)
{
	struct varde_component c = find(r, metric);

	assert_int_equal(c.unit, VARDE_UNIT_CODE);
	assert_value(c.value, code, 0);
}

static void test_context_every_flag_combination(void **state)
{
	struct gls_measurement m;
	struct frame mf = measurement_frame(GLS_MEAS_CONCENTRATION | GLS_MEAS_CONTEXT_FOLLOWS);

	(void)state;
	m = decode_frame(&mf);
	for (unsigned int flags = 0; flags < 0x100; flags++) {
		struct varde_component comps[GLS_MAX_COMPONENTS];
		struct frame f = context_frame((uint8_t)flags);
		struct varde_reading r;
		struct gls_context x;
		size_t expect_n = 0;
		struct varde_component c;

		assert_int_equal(gls_context_decode(f.b, f.n, &x), 0);
		assert_int_equal(x.flags, flags);
		assert_int_equal(x.sequence, C_SEQ);
		assert_int_equal(x.extended_flags, (flags & GLS_CTX_EXTENDED_FLAGS) ? C_EXT : 0);
		for (size_t len = 0; len < f.n; len++)
			assert_int_equal(gls_context_decode(f.b, len, &x), -EBADMSG);
		f.b[f.n] = 0x77;
		assert_int_equal(gls_context_decode(f.b, f.n + 1, &x), 0);
		assert_int_equal(x.sequence, C_SEQ);

		assert_int_equal(gls_reading_build(&m, &x, false, &r, comps), 0);
		if (flags & GLS_CTX_CARBOHYDRATE) {
			expect_n += 2;
			assert_code(&r, VARDE_METRIC_CONTEXT_CARBOHYDRATE_ID, 3);
			c = find(&r, VARDE_METRIC_CONTEXT_CARBOHYDRATE);
			assert_int_equal(c.unit, VARDE_UNIT_G);
			assert_value(c.value, 50, 0);
		}
		if (flags & GLS_CTX_MEAL) {
			expect_n++;
			assert_code(&r, VARDE_METRIC_CONTEXT_MEAL, 2);
		}
		if (flags & GLS_CTX_TESTER_HEALTH) {
			expect_n += 2;
			assert_code(&r, VARDE_METRIC_CONTEXT_TESTER, 1);
			assert_code(&r, VARDE_METRIC_CONTEXT_HEALTH, 5);
		}
		if (flags & GLS_CTX_EXERCISE) {
			expect_n += 2;
			c = find(&r, VARDE_METRIC_CONTEXT_EXERCISE_DURATION);
			assert_int_equal(c.unit, VARDE_UNIT_S);
			assert_value(c.value, 1800, 0);
			c = find(&r, VARDE_METRIC_CONTEXT_EXERCISE_INTENSITY);
			assert_int_equal(c.unit, VARDE_UNIT_PERCENT);
			assert_value(c.value, 70, 0);
		}
		if (flags & GLS_CTX_MEDICATION) {
			expect_n += 2;
			assert_code(&r, VARDE_METRIC_CONTEXT_MEDICATION_ID, 1);
			c = find(&r, VARDE_METRIC_CONTEXT_MEDICATION);
			if (flags & GLS_CTX_MEDICATION_LITRES) {
				assert_int_equal(c.unit, VARDE_UNIT_ML);
				assert_value(c.value, 5, -3); /* 5e-6 L = 5e-3 mL */
			} else {
				assert_int_equal(c.unit, VARDE_UNIT_MG);
				assert_value(c.value, 5, 0);
			}
		}
		if (flags & GLS_CTX_HBA1C) {
			expect_n++;
			c = find(&r, VARDE_METRIC_HBA1C);
			assert_int_equal(c.unit, VARDE_UNIT_PERCENT);
			assert_value(c.value, 65, -1);
		}
		assert_int_equal(r.n_components, expect_n);
		if (!expect_n)
			assert_null(r.components);
		else
			assert_ptr_equal(r.components, comps);
	}
}

static void test_context_special_values(void **state)
{
	static const uint16_t raws[] = {0x07FF, 0x0800, 0x07FE, 0x0802, 0x0801};
	static const uint8_t specials[] = {VARDE_VALUE_NAN, VARDE_VALUE_NRES, VARDE_VALUE_PINF,
					   VARDE_VALUE_NINF, VARDE_VALUE_NAN};
	struct frame mf = measurement_frame(GLS_MEAS_CONCENTRATION);
	struct gls_measurement m = decode_frame(&mf);

	(void)state;
	for (size_t i = 0; i < sizeof(raws) / sizeof(raws[0]); i++) {
		struct varde_component comps[GLS_MAX_COMPONENTS];
		struct frame f = {{0}, 0};
		struct varde_reading r;
		struct gls_context x;
		struct varde_component c;

		put8(&f, GLS_CTX_CARBOHYDRATE | GLS_CTX_MEDICATION | GLS_CTX_HBA1C);
		put16(&f, 1);
		put8(&f, 1);
		put16(&f, raws[i]);
		put8(&f, 2);
		put16(&f, raws[i]);
		put16(&f, raws[i]);
		assert_int_equal(gls_context_decode(f.b, f.n, &x), 0);
		assert_int_equal(gls_reading_build(&m, &x, false, &r, comps), 0);
		/* No exponent shift turns a special value into a number. */
		c = find(&r, VARDE_METRIC_CONTEXT_CARBOHYDRATE);
		assert_int_equal(c.value.special, specials[i]);
		assert_int_equal(c.value.exponent, 0);
		c = find(&r, VARDE_METRIC_CONTEXT_MEDICATION);
		assert_int_equal(c.value.special, specials[i]);
		assert_int_equal(c.value.exponent, 0);
		c = find(&r, VARDE_METRIC_HBA1C);
		assert_int_equal(c.value.special, specials[i]);
	}
}

static void test_context_exercise_overrun_and_extremes(void **state)
{
	struct varde_component comps[GLS_MAX_COMPONENTS];
	struct frame mf = measurement_frame(GLS_MEAS_CONCENTRATION);
	struct gls_measurement m = decode_frame(&mf);
	uint8_t buf[] = {
		GLS_CTX_EXERCISE | GLS_CTX_CARBOHYDRATE, 1, 0, 1, 0x32, 0x70, 0xFF, 0xFF, 100};
	struct varde_reading r;
	struct gls_context x;

	(void)state;
	assert_int_equal(gls_context_decode(buf, sizeof(buf), &x), 0);
	assert_int_equal(gls_reading_build(&m, &x, false, &r, comps), 0);
	assert_int_equal(find(&r, VARDE_METRIC_CONTEXT_EXERCISE_DURATION).value.special,
			 VARDE_VALUE_PINF);
	/* 50e7 kg (largest SFLOAT exponent) becomes 50e10 g, exactly. */
	assert_value(find(&r, VARDE_METRIC_CONTEXT_CARBOHYDRATE).value, 50, 10);
	/* Most negative exponent: 50e-8 kg -> 50e-5 g. */
	buf[5] = 0x80;
	assert_int_equal(gls_context_decode(buf, sizeof(buf), &x), 0);
	assert_int_equal(gls_reading_build(&m, &x, false, &r, comps), 0);
	assert_value(find(&r, VARDE_METRIC_CONTEXT_CARBOHYDRATE).value, 50, -5);
}

/* ---- quirks ------------------------------------------------------------ */

static void test_quirk_patterns(void **state)
{
	(void)state;
	assert_false(gls_quirk_newest_first("Meter 1", NULL));
	assert_false(gls_quirk_newest_first("Meter 1", ""));
	assert_false(gls_quirk_newest_first(NULL, "*"));
	assert_true(gls_quirk_newest_first("Meter 1", "*"));
	assert_true(gls_quirk_newest_first("ACME GL-50", "Foo*,ACME GL-*"));
	assert_false(gls_quirk_newest_first("ACME GL", "Foo*,ACME GL-*"));
	assert_true(gls_quirk_newest_first("Foo", ",,Foo,"));
	assert_false(gls_quirk_newest_first("Meter", "meter"));
	/* A pattern longer than any name is skipped, not truncated into a
	 * shorter pattern that would match. */
	assert_false(gls_quirk_newest_first(
		"A", "A*xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_glucose_nordic),
		cmocka_unit_test(test_sample_location_site),
		cmocka_unit_test(test_measurement_every_flag_combination),
		cmocka_unit_test(test_measurement_null_data),
		cmocka_unit_test(test_measurement_special_values),
		cmocka_unit_test(test_measurement_negative_exponent_not_offset_binary),
		cmocka_unit_test(test_measurement_unknown_dates),
		cmocka_unit_test(test_measurement_offset_arithmetic),
		cmocka_unit_test(test_status_mapping_each_bit),
		cmocka_unit_test(test_type_mapping),
		cmocka_unit_test(test_reading_control_solution),
		cmocka_unit_test(test_reading_too_high_and_low_kept),
		cmocka_unit_test(test_reading_nothing_to_publish),
		cmocka_unit_test(test_reading_without_time),
		cmocka_unit_test(test_context_every_flag_combination),
		cmocka_unit_test(test_context_special_values),
		cmocka_unit_test(test_context_exercise_overrun_and_extremes),
		cmocka_unit_test(test_quirk_patterns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
