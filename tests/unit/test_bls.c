/* SPDX-License-Identifier: MIT */
/*
 * Blood Pressure Service decoder: the shared vectors from
 * shared/vectors/gatt.tsv, every Flags combination, every special value in
 * every numeric field, status mapping, user id, time stamp validity,
 * truncated and over-long frames.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vectors.h"

#include "bls_decode.h"

#define FLAG_KPA 0x01
#define FLAG_TIME 0x02
#define FLAG_PULSE 0x04
#define FLAG_USER 0x08
#define FLAG_STATUS 0x10

/* The SFLOAT special values and what they must decode to. */
static const struct {
	uint16_t raw;
	enum varde_special special;
} sfloat_specials[] = {
	{0x07FF, VARDE_VALUE_NAN},  {0x0800, VARDE_VALUE_NRES}, {0x07FE, VARDE_VALUE_PINF},
	{0x0802, VARDE_VALUE_NINF}, {0x0801, VARDE_VALUE_NAN},
};

#define N_SPECIALS (sizeof(sfloat_specials) / sizeof(sfloat_specials[0]))

/* ---- a small encoder, so that every frame in the tests is built from its
 * fields rather than typed as opaque hex ---- */

struct bpm_fields {
	uint8_t flags;
	uint16_t sys, dia, map;
	uint16_t year;
	uint8_t month, day, hours, minutes, seconds;
	uint16_t pulse;
	uint8_t user;
	uint16_t status;
};

static void put16(uint8_t *buf, size_t *pos, uint16_t v)
{
	buf[(*pos)++] = (uint8_t)(v & 0xFF);
	buf[(*pos)++] = (uint8_t)(v >> 8);
}

static size_t bpm_encode(const struct bpm_fields *f, uint8_t *buf)
{
	size_t pos = 0;

	buf[pos++] = f->flags;
	put16(buf, &pos, f->sys);
	put16(buf, &pos, f->dia);
	put16(buf, &pos, f->map);
	if (f->flags & FLAG_TIME) {
		put16(buf, &pos, f->year);
		buf[pos++] = f->month;
		buf[pos++] = f->day;
		buf[pos++] = f->hours;
		buf[pos++] = f->minutes;
		buf[pos++] = f->seconds;
	}
	if (f->flags & FLAG_PULSE)
		put16(buf, &pos, f->pulse);
	if (f->flags & FLAG_USER)
		buf[pos++] = f->user;
	if (f->flags & FLAG_STATUS)
		put16(buf, &pos, f->status);
	return pos;
}

/* Distinct, valid values in every field, so that a field read from the
 * wrong offset shows. */
static struct bpm_fields sample_fields(uint8_t flags)
{
	struct bpm_fields f = {
		.flags = flags,
		.sys = 0xF4D2, /* 1234 e-1 */
		.dia = 0x0050, /* 80 */
		.map = 0xE3E8, /* 1000 e-2 */
		.year = 2024,
		.month = 2,
		.day = 29,
		.hours = 13,
		.minutes = 45,
		.seconds = 7,
		.pulse = 0x0048, /* 72 */
		.user = 3,
		.status = 0x0035, /* movement, irregular, below range, position */
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

static void assert_time(const struct varde_reading *r, uint16_t year, uint8_t month, uint8_t day,
			uint8_t hours, uint8_t minutes, uint8_t seconds)
{
	assert_true(r->flags & VARDE_READING_HAS_TIME);
	assert_int_equal(r->time.year, year);
	assert_int_equal(r->time.month, month);
	assert_int_equal(r->time.day, day);
	assert_int_equal(r->time.hours, hours);
	assert_int_equal(r->time.minutes, minutes);
	assert_int_equal(r->time.seconds, seconds);
}

/* Readings that must look the same to the hub whatever the frame said. */
static void assert_reading_shape(const struct bls_measurement *m)
{
	const struct varde_reading *bp = &m->readings[0];

	assert_int_equal(bp->size, sizeof(struct varde_reading));
	assert_int_equal(bp->metric, VARDE_METRIC_BLOOD_PRESSURE);
	assert_ptr_equal(bp->components, m->components);
	assert_int_equal(bp->n_components, 3);
	assert_int_equal(m->components[BLS_SYSTOLIC].metric, VARDE_METRIC_BP_SYSTOLIC);
	assert_int_equal(m->components[BLS_DIASTOLIC].metric, VARDE_METRIC_BP_DIASTOLIC);
	assert_int_equal(m->components[BLS_MEAN].metric, VARDE_METRIC_BP_MEAN);
	for (size_t i = 0; i < BLS_N_COMPONENTS; i++)
		assert_int_equal(m->components[i].unit, bp->unit);
	assert_false(bp->flags & (VARDE_READING_HAS_SEQUENCE | VARDE_READING_STORED));
	for (size_t i = 0; i < 4; i++)
		assert_null(bp->reserved[i]);
	if (m->n_readings == 2) {
		const struct varde_reading *pr = &m->readings[1];

		assert_int_equal(pr->size, sizeof(struct varde_reading));
		assert_int_equal(pr->metric, VARDE_METRIC_PULSE_RATE);
		assert_int_equal(pr->unit, VARDE_UNIT_PER_MIN);
		assert_null(pr->components);
		assert_int_equal(pr->n_components, 0);
		/* same time, user and status as the pressure */
		assert_int_equal(pr->flags, bp->flags);
		assert_memory_equal(&pr->time, &bp->time, sizeof(bp->time));
		assert_int_equal(pr->user_id, bp->user_id);
		assert_int_equal(pr->status, bp->status);
	}
}

static void decode_ok(const uint8_t *buf, size_t len, struct bls_measurement *m)
{
	assert_int_equal(bls_decode_measurement(buf, len, m), 0);
	assert_reading_shape(m);
}

/* ---- shared vectors ---- */

static void test_vector_bpm_full_mmhg(void **state)
{
	uint8_t buf[32];
	size_t len = vector_bytes("bpm_full_mmhg", buf, sizeof(buf));
	struct bls_measurement m;

	(void)state;
	decode_ok(buf, len, &m);
	assert_int_equal(m.n_readings, 2);
	assert_int_equal(m.readings[0].unit, VARDE_UNIT_MMHG);
	assert_value(&m.components[BLS_SYSTOLIC].value, VARDE_VALUE_NUMBER, 138, 0);
	assert_value(&m.components[BLS_DIASTOLIC].value, VARDE_VALUE_NUMBER, 88, 0);
	assert_value(&m.components[BLS_MEAN].value, VARDE_VALUE_NUMBER, 120, 0);
	/* year 0 is "unknown" and stays 0: the hub decides what to do with it */
	assert_time(&m.readings[0], 0, 4, 17, 20, 41, 59);
	assert_value(&m.readings[1].value, VARDE_VALUE_NUMBER, 60, 0);
	assert_true(m.readings[0].flags & VARDE_READING_HAS_USER);
	assert_int_equal(m.readings[0].user_id, 1);
	assert_int_equal(m.readings[0].status,
			 VARDE_STATUS_BODY_MOVEMENT | VARDE_STATUS_CUFF_LOOSE |
				 VARDE_STATUS_IRREGULAR_PULSE | VARDE_STATUS_IMPROPER_POSITION);
	assert_int_equal(m.flags, 0x1E);
	assert_int_equal(m.trailing, 0);
}

static void test_vector_bpm_kpa_pulse_status(void **state)
{
	uint8_t buf[32];
	size_t len = vector_bytes("bpm_kpa_pulse_status", buf, sizeof(buf));
	struct bls_measurement m;

	(void)state;
	decode_ok(buf, len, &m);
	assert_int_equal(m.n_readings, 2);
	assert_int_equal(m.readings[0].unit, VARDE_UNIT_KPA);
	assert_value(&m.components[BLS_SYSTOLIC].value, VARDE_VALUE_NUMBER, 189, -1);
	assert_value(&m.components[BLS_DIASTOLIC].value, VARDE_VALUE_NUMBER, 11, 0);
	assert_value(&m.components[BLS_MEAN].value, VARDE_VALUE_NUMBER, 159, -1);
	assert_value(&m.readings[1].value, VARDE_VALUE_NUMBER, 60, 0);
	assert_int_equal(m.readings[0].flags, 0);
	assert_int_equal(m.readings[0].status,
			 VARDE_STATUS_CUFF_LOOSE | VARDE_STATUS_PULSE_BELOW_RANGE);
}

static void test_vector_bpm_minimal(void **state)
{
	uint8_t buf[32];
	size_t len = vector_bytes("bpm_minimal", buf, sizeof(buf));
	struct bls_measurement m;

	(void)state;
	decode_ok(buf, len, &m);
	assert_int_equal(m.n_readings, 1);
	assert_int_equal(m.readings[0].unit, VARDE_UNIT_MMHG);
	assert_value(&m.components[BLS_SYSTOLIC].value, VARDE_VALUE_NUMBER, 189, -1);
	assert_value(&m.components[BLS_DIASTOLIC].value, VARDE_VALUE_NUMBER, 11, 0);
	assert_value(&m.components[BLS_MEAN].value, VARDE_VALUE_NUMBER, 159, -1);
	assert_int_equal(m.readings[0].flags, 0);
	assert_int_equal(m.readings[0].status, 0);
	assert_int_equal(m.readings[0].user_id, 0);
}

/* Every shared vector cut at every length must fail, and leave nothing to
 * submit. */
static void test_vectors_truncated(void **state)
{
	static const char *const vectors[] = {
		"bpm_full_mmhg",
		"bpm_kpa_pulse_status",
		"bpm_minimal",
	};

	(void)state;
	for (size_t v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++) {
		uint8_t buf[32];
		size_t len = vector_bytes(vectors[v], buf, sizeof(buf));

		for (size_t cut = 0; cut < len; cut++) {
			struct bls_measurement m;

			/* A copy of exactly `cut` bytes: ASan sees any over-read. */
			uint8_t *frame = test_malloc(cut ? cut : 1);

			memcpy(frame, buf, cut);
			m.n_readings = 99;
			assert_int_equal(bls_decode_measurement(frame, cut, &m), -EBADMSG);
			assert_int_equal(m.n_readings, 0);
			test_free(frame);
		}
	}
}

/* Trailing bytes are a newer format's appended fields: known fields decode
 * the same and the extra bytes are counted. */
static void test_vectors_overlong(void **state)
{
	static const char *const vectors[] = {
		"bpm_full_mmhg",
		"bpm_kpa_pulse_status",
		"bpm_minimal",
	};

	(void)state;
	for (size_t v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++) {
		uint8_t buf[40];
		size_t len = vector_bytes(vectors[v], buf, sizeof(buf));
		struct bls_measurement ref, m;

		decode_ok(buf, len, &ref);
		for (size_t extra = 1; extra <= 5; extra++) {
			buf[len + extra - 1] = 0xA5;
			decode_ok(buf, len + extra, &m);
			assert_int_equal(m.trailing, extra);
			assert_int_equal(m.n_readings, ref.n_readings);
			assert_memory_equal(m.components, ref.components, sizeof(m.components));
			assert_int_equal(m.readings[0].flags, ref.readings[0].flags);
			assert_int_equal(m.readings[0].status, ref.readings[0].status);
			assert_int_equal(m.readings[0].user_id, ref.readings[0].user_id);
			assert_memory_equal(&m.readings[0].time, &ref.readings[0].time,
					    sizeof(m.readings[0].time));
			if (m.n_readings == 2)
				assert_memory_equal(&m.readings[1].value, &ref.readings[1].value,
						    sizeof(m.readings[1].value));
		}
	}
}

/* ---- every Flags value, reserved bits included ---- */

static void test_all_flags(void **state)
{
	(void)state;
	for (unsigned int flags = 0; flags <= 0xFF; flags++) {
		struct bpm_fields f = sample_fields((uint8_t)flags);
		uint8_t buf[32];
		size_t len = bpm_encode(&f, buf);
		struct bls_measurement m;
		const struct varde_reading *bp = &m.readings[0];
		uint32_t want_flags = 0;

		decode_ok(buf, len, &m);
		assert_int_equal(m.flags, flags);
		assert_int_equal(m.trailing, 0);
		assert_int_equal(bp->unit, (flags & FLAG_KPA) ? VARDE_UNIT_KPA : VARDE_UNIT_MMHG);
		assert_value(&m.components[BLS_SYSTOLIC].value, VARDE_VALUE_NUMBER, 1234, -1);
		assert_value(&m.components[BLS_DIASTOLIC].value, VARDE_VALUE_NUMBER, 80, 0);
		assert_value(&m.components[BLS_MEAN].value, VARDE_VALUE_NUMBER, 1000, -2);

		if (flags & FLAG_TIME) {
			assert_time(bp, 2024, 2, 29, 13, 45, 7);
			want_flags |= VARDE_READING_HAS_TIME;
		} else {
			assert_int_equal(bp->time.year, 0);
			assert_int_equal(bp->time.month, 0);
		}
		if (flags & FLAG_USER) {
			assert_int_equal(bp->user_id, 3);
			want_flags |= VARDE_READING_HAS_USER;
		} else {
			assert_int_equal(bp->user_id, 0);
		}
		assert_int_equal(bp->flags, want_flags);
		if (flags & FLAG_STATUS)
			assert_int_equal(bp->status, VARDE_STATUS_BODY_MOVEMENT |
							     VARDE_STATUS_IRREGULAR_PULSE |
							     VARDE_STATUS_PULSE_BELOW_RANGE |
							     VARDE_STATUS_IMPROPER_POSITION);
		else
			assert_int_equal(bp->status, 0);
		if (flags & FLAG_PULSE) {
			assert_int_equal(m.n_readings, 2);
			assert_value(&m.readings[1].value, VARDE_VALUE_NUMBER, 72, 0);
		} else {
			assert_int_equal(m.n_readings, 1);
		}

		/* and every shorter cut of this frame is refused */
		for (size_t cut = 0; cut < len; cut++) {
			uint8_t *frame = test_malloc(cut ? cut : 1);

			memcpy(frame, buf, cut);
			assert_int_equal(bls_decode_measurement(frame, cut, &m), -EBADMSG);
			assert_int_equal(m.n_readings, 0);
			test_free(frame);
		}
	}
}

/* ---- special values: never numbers, in any field ---- */

static void test_special_values_every_field(void **state)
{
	(void)state;
	for (size_t s = 0; s < N_SPECIALS; s++) {
		for (int field = 0; field < 4; field++) {
			struct bpm_fields f = sample_fields(FLAG_PULSE);
			uint16_t *slot[] = {&f.sys, &f.dia, &f.map, &f.pulse};
			const struct varde_value *got;
			uint8_t buf[32];
			size_t len;
			struct bls_measurement m;

			*slot[field] = sfloat_specials[s].raw;
			len = bpm_encode(&f, buf);
			decode_ok(buf, len, &m);
			assert_int_equal(m.n_readings, 2);
			got = field < 3 ? &m.components[field].value : &m.readings[1].value;
			assert_value(got, sfloat_specials[s].special, 0, 0);
			/* the other fields are untouched */
			if (field != 0)
				assert_value(&m.components[BLS_SYSTOLIC].value, VARDE_VALUE_NUMBER,
					     1234, -1);
			if (field != 1)
				assert_value(&m.components[BLS_DIASTOLIC].value, VARDE_VALUE_NUMBER,
					     80, 0);
			if (field != 3)
				assert_value(&m.readings[1].value, VARDE_VALUE_NUMBER, 72, 0);
		}
	}
}

/* Encodings next to the specials, and the offset-binary trap, are numbers. */
static void test_sfloat_numbers(void **state)
{
	static const struct {
		uint16_t raw;
		int32_t mantissa;
		int8_t exponent;
	} cases[] = {
		{0x0078, 120, 0}, {0x8078, 120, -8},   {0x07FD, 2045, 0},  {0x0803, -2045, 0},
		{0x0FFF, -1, 0},  {0x7001, 1, 7},      {0xF7FF, 2047, -1}, {0x17FF, 2047, 1},
		{0x0000, 0, 0},	  {0xF800, -2048, -1},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bpm_fields f = sample_fields(0);
		uint8_t buf[32];
		size_t len;
		struct bls_measurement m;

		f.sys = cases[i].raw;
		len = bpm_encode(&f, buf);
		decode_ok(buf, len, &m);
		assert_value(&m.components[BLS_SYSTOLIC].value, VARDE_VALUE_NUMBER,
			     cases[i].mantissa, cases[i].exponent);
	}
}

/* ---- measurement status ---- */

static void test_status_bits(void **state)
{
	static const struct {
		uint16_t raw;
		uint32_t status;
	} cases[] = {
		{0x0000, 0},
		{0x0001, VARDE_STATUS_BODY_MOVEMENT},
		{0x0002, VARDE_STATUS_CUFF_LOOSE},
		{0x0004, VARDE_STATUS_IRREGULAR_PULSE},
		{0x0008, VARDE_STATUS_PULSE_ABOVE_RANGE},
		{0x0010, VARDE_STATUS_PULSE_BELOW_RANGE},
		{0x0018, 0}, /* pulse range 3 is reserved */
		{0x0020, VARDE_STATUS_IMPROPER_POSITION},
		{0xFFC0, 0}, /* reserved bits 6..15 */
		{0xFFFF, VARDE_STATUS_BODY_MOVEMENT | VARDE_STATUS_CUFF_LOOSE |
				 VARDE_STATUS_IRREGULAR_PULSE | VARDE_STATUS_IMPROPER_POSITION},
		{0x002F, VARDE_STATUS_BODY_MOVEMENT | VARDE_STATUS_CUFF_LOOSE |
				 VARDE_STATUS_IRREGULAR_PULSE | VARDE_STATUS_PULSE_ABOVE_RANGE |
				 VARDE_STATUS_IMPROPER_POSITION},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bpm_fields f = sample_fields(FLAG_STATUS | FLAG_PULSE);
		uint8_t buf[32];
		size_t len;
		struct bls_measurement m;

		f.status = cases[i].raw;
		len = bpm_encode(&f, buf);
		decode_ok(buf, len, &m);
		assert_int_equal(m.readings[0].status, cases[i].status);
		assert_int_equal(m.readings[1].status, cases[i].status);
	}
}

/* ---- user id ---- */

static void test_user_id(void **state)
{
	static const struct {
		uint8_t user;
		uint32_t user_id;
	} cases[] = {{0x00, 0}, {0x01, 1}, {0x7F, 0x7F}, {0xFE, 0xFE}, {0xFF, VARDE_USER_UNKNOWN}};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bpm_fields f = sample_fields(FLAG_USER | FLAG_PULSE);
		uint8_t buf[32];
		size_t len;
		struct bls_measurement m;

		f.user = cases[i].user;
		len = bpm_encode(&f, buf);
		decode_ok(buf, len, &m);
		/* Every id is passed on, "unknown user" (0xFF) as such, so that
		 * the hub quarantines it instead of guessing a patient. */
		for (size_t r = 0; r < 2; r++) {
			assert_true(m.readings[r].flags & VARDE_READING_HAS_USER);
			assert_int_equal(m.readings[r].user_id, cases[i].user_id);
		}
	}
}

/* ---- time stamp ---- */

static void test_time_valid_edges(void **state)
{
	static const uint8_t t[][6] = {
		/* month, day, hours, minutes, seconds, year index */
		{0, 0, 0, 0, 0, 0},   {1, 1, 0, 0, 0, 1},  {12, 31, 23, 59, 59, 2},
		{0, 17, 8, 30, 0, 3}, {6, 0, 8, 30, 0, 3},
	};
	static const uint16_t years[] = {0, 1582, 9999, 2023};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct bpm_fields f = sample_fields(FLAG_TIME | FLAG_PULSE);
		uint8_t buf[32];
		size_t len;
		struct bls_measurement m;

		f.year = years[t[i][5]];
		f.month = t[i][0];
		f.day = t[i][1];
		f.hours = t[i][2];
		f.minutes = t[i][3];
		f.seconds = t[i][4];
		len = bpm_encode(&f, buf);
		decode_ok(buf, len, &m);
		assert_false(m.time_out_of_range);
		assert_time(&m.readings[0], f.year, f.month, f.day, f.hours, f.minutes, f.seconds);
		assert_time(&m.readings[1], f.year, f.month, f.day, f.hours, f.minutes, f.seconds);
	}
}

/* A time stamp outside the Date Time ranges: the readings are kept, without
 * time and flagged, and the fields after the time stamp are still read. */
static void test_time_invalid(void **state)
{
	static const struct {
		uint16_t year;
		uint8_t month, day, hours, minutes, seconds;
	} cases[] = {
		{1, 1, 1, 0, 0, 0},	{1581, 1, 1, 0, 0, 0},
		{10000, 1, 1, 0, 0, 0}, {0xFFFF, 1, 1, 0, 0, 0},
		{2023, 13, 1, 0, 0, 0}, {2023, 1, 32, 0, 0, 0},
		{2023, 1, 1, 24, 0, 0}, {2023, 1, 1, 0, 60, 0},
		{2023, 1, 1, 0, 0, 60}, {2023, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF},
		{2023, 2, 29, 0, 0, 0}, {2024, 4, 31, 0, 0, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct bpm_fields f = sample_fields(FLAG_TIME | FLAG_PULSE | FLAG_USER);
		uint8_t buf[32];
		size_t len;
		struct bls_measurement m;

		f.year = cases[i].year;
		f.month = cases[i].month;
		f.day = cases[i].day;
		f.hours = cases[i].hours;
		f.minutes = cases[i].minutes;
		f.seconds = cases[i].seconds;
		len = bpm_encode(&f, buf);
		decode_ok(buf, len, &m);
		assert_true(m.time_out_of_range);
		assert_int_equal(m.n_readings, 2);
		assert_int_equal(m.trailing, 0);
		for (size_t r = 0; r < 2; r++) {
			assert_false(m.readings[r].flags & VARDE_READING_HAS_TIME);
			assert_int_equal(m.readings[r].status, VARDE_STATUS_DEVICE_CLOCK_NOT_SET);
			assert_int_equal(m.readings[r].time.year, 0);
			assert_int_equal(m.readings[r].time.month, 0);
			assert_int_equal(m.readings[r].time.hours, 0);
			assert_int_equal(m.readings[r].user_id, 3);
		}
		assert_value(&m.readings[1].value, VARDE_VALUE_NUMBER, 72, 0);

		/* with Measurement Status too, both are kept */
		f.flags |= FLAG_STATUS;
		len = bpm_encode(&f, buf);
		decode_ok(buf, len, &m);
		assert_int_equal(m.readings[0].status, VARDE_STATUS_DEVICE_CLOCK_NOT_SET |
							       VARDE_STATUS_BODY_MOVEMENT |
							       VARDE_STATUS_IRREGULAR_PULSE |
							       VARDE_STATUS_PULSE_BELOW_RANGE |
							       VARDE_STATUS_IMPROPER_POSITION);
	}
}

static void test_null_and_empty(void **state)
{
	struct bls_measurement m;
	uint16_t features = 0x1234;

	(void)state;
	assert_int_equal(bls_decode_measurement(NULL, 0, &m), -EBADMSG);
	assert_int_equal(m.n_readings, 0);
	assert_int_equal(bls_decode_measurement(NULL, 7, &m), -EBADMSG);
	assert_int_equal(bls_decode_feature(NULL, 2, &features), -EBADMSG);
}

/* ---- Blood Pressure Feature ---- */

static void test_feature(void **state)
{
	uint8_t buf[4] = {0x27, 0x01, 0xAA, 0xBB};
	uint16_t features = 0;

	(void)state;
	assert_int_equal(bls_decode_feature(buf, 2, &features), 0);
	assert_int_equal(features, 0x0127);
	features = 0;
	assert_int_equal(bls_decode_feature(buf, 4, &features), 0);
	assert_int_equal(features, 0x0127);
	for (size_t cut = 0; cut < 2; cut++) {
		uint8_t *frame = test_malloc(cut ? cut : 1);

		memcpy(frame, buf, cut);
		assert_int_equal(bls_decode_feature(frame, cut, &features), -EBADMSG);
		test_free(frame);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_bpm_full_mmhg),
		cmocka_unit_test(test_vector_bpm_kpa_pulse_status),
		cmocka_unit_test(test_vector_bpm_minimal),
		cmocka_unit_test(test_vectors_truncated),
		cmocka_unit_test(test_vectors_overlong),
		cmocka_unit_test(test_all_flags),
		cmocka_unit_test(test_special_values_every_field),
		cmocka_unit_test(test_sfloat_numbers),
		cmocka_unit_test(test_status_bits),
		cmocka_unit_test(test_user_id),
		cmocka_unit_test(test_time_valid_edges),
		cmocka_unit_test(test_time_invalid),
		cmocka_unit_test(test_null_and_empty),
		cmocka_unit_test(test_feature),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
