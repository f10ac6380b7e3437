// SPDX-License-Identifier: MIT
/*
 * Pulse Oximeter Service decoders: shared vectors, every flag combination,
 * truncation at every length, over-long frames, special values in every
 * numeric field, dates, status mapping and reading construction.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "plxs_decode.h"

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

static void put24(struct frame *f, unsigned int v)
{
	put16(f, v & 0xffff);
	put8(f, (v >> 16) & 0xff);
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

/* ---- shared vectors ---------------------------------------------------- */

static void test_vector_spot_full(void **state)
{
	struct varde_reading r[PLXS_MAX_READINGS];
	struct plxs_spot m;
	uint8_t buf[32];
	size_t len = hex2bin("0FACF3BEF5E8070B1D170839204022000066E3", buf);
	uint32_t status = VARDE_STATUS_MEASUREMENT_ONGOING | VARDE_STATUS_QUESTIONABLE |
			  VARDE_STATUS_EQUIPMENT_FAULT | VARDE_STATUS_LOW_PERFUSION;

	(void)state;
	assert_int_equal(plxs_spot_decode(buf, len, &m), 0);
	assert_value(m.spo2, 940, -1);
	assert_value(m.pulse_rate, 1470, -1);
	assert_true(m.has_time);
	assert_int_equal(m.time.year, 2024);
	assert_int_equal(m.time.month, 11);
	assert_int_equal(m.time.day, 29);
	assert_int_equal(m.time.hours, 23);
	assert_int_equal(m.time.minutes, 8);
	assert_int_equal(m.time.seconds, 57);
	assert_int_equal(m.meas_status, 0x4020);
	assert_int_equal(m.device_status, 0x000022);
	assert_value(m.pai, 870, -2);
	assert_int_equal(plxs_status_map(m.meas_status, m.device_status), status);

	assert_int_equal(plxs_spot_readings(&m, false, r), 3);
	assert_int_equal(r[0].size, sizeof(r[0]));
	assert_int_equal(r[0].metric, VARDE_METRIC_SPO2);
	assert_int_equal(r[0].unit, VARDE_UNIT_PERCENT);
	assert_value(r[0].value, 940, -1);
	assert_int_equal(r[0].status, status);
	assert_int_equal(r[0].flags, VARDE_READING_HAS_TIME);
	assert_int_equal(r[0].time.year, 2024);
	assert_int_equal(r[1].metric, VARDE_METRIC_PULSE_RATE_OXIMETER);
	assert_int_equal(r[1].unit, VARDE_UNIT_PER_MIN);
	assert_value(r[1].value, 1470, -1);
	assert_int_equal(r[1].status, status);
	assert_int_equal(r[2].metric, VARDE_METRIC_PULSE_AMPLITUDE_INDEX);
	assert_int_equal(r[2].unit, VARDE_UNIT_PERCENT);
	assert_value(r[2].value, 870, -2);
	assert_int_equal(r[2].time.seconds, 57);
}

static void test_vector_cont_simple(void **state)
{
	struct varde_reading r[PLXS_MAX_READINGS];
	struct plxs_continuous m;
	uint8_t buf[32];
	size_t len = hex2bin("1C5F005A00200000000057F0", buf);

	(void)state;
	assert_int_equal(plxs_continuous_decode(buf, len, &m), 0);
	assert_int_equal(m.flags, 0x1C);
	assert_value(m.spo2, 95, 0);
	assert_value(m.pulse_rate, 90, 0);
	assert_int_equal(m.meas_status, 0x0020);
	assert_int_equal(m.device_status, 0);
	assert_value(m.pai, 87, -1);
	assert_int_equal(m.spo2_fast.special, VARDE_VALUE_NAN);
	assert_int_equal(m.spo2_slow.special, VARDE_VALUE_NAN);
	assert_int_equal(plxs_continuous_readings(&m, r), 3);
	assert_int_equal(r[0].metric, VARDE_METRIC_SPO2);
	assert_value(r[0].value, 95, 0);
	assert_int_equal(r[0].status, VARDE_STATUS_MEASUREMENT_ONGOING);
	assert_int_equal(r[0].flags, 0);
	assert_int_equal(r[1].metric, VARDE_METRIC_PULSE_RATE_OXIMETER);
	assert_value(r[1].value, 90, 0);
	assert_int_equal(r[2].metric, VARDE_METRIC_PULSE_AMPLITUDE_INDEX);
	assert_value(r[2].value, 87, -1);
}

static void test_vector_cont_full(void **state)
{
	struct varde_reading r[PLXS_MAX_READINGS];
	struct plxs_continuous m;
	uint8_t buf[32];
	size_t len = hex2bin("1FDEF3CAF3CAF35AF5D4F3B2F220010000007AE3", buf);

	(void)state;
	assert_int_equal(plxs_continuous_decode(buf, len, &m), 0);
	assert_value(m.spo2, 990, -1);
	assert_value(m.pulse_rate, 970, -1);
	assert_value(m.spo2_fast, 970, -1);
	assert_value(m.pulse_rate_fast, 1370, -1);
	assert_value(m.spo2_slow, 980, -1);
	assert_value(m.pulse_rate_slow, 690, -1);
	assert_int_equal(m.meas_status, 0x0120);
	assert_int_equal(m.device_status, 0);
	assert_value(m.pai, 890, -2);
	/* Only the normal pair (and PAI) become readings. */
	assert_int_equal(plxs_continuous_readings(&m, r), 3);
	assert_value(r[0].value, 990, -1);
	assert_value(r[1].value, 970, -1);
	/* ongoing + fully qualified */
	assert_int_equal(r[0].status, VARDE_STATUS_MEASUREMENT_ONGOING);
}

static void test_vector_cont_min(void **state)
{
	struct varde_reading r[PLXS_MAX_READINGS];
	struct plxs_continuous m;
	uint8_t buf[32];
	size_t len = hex2bin("00E8F384F3", buf);

	(void)state;
	assert_int_equal(plxs_continuous_decode(buf, len, &m), 0);
	assert_value(m.spo2, 1000, -1);
	assert_value(m.pulse_rate, 900, -1);
	assert_int_equal(plxs_continuous_readings(&m, r), 2);
	assert_int_equal(r[0].status, 0);

	len = hex2bin("0064005A00", buf);
	assert_int_equal(plxs_continuous_decode(buf, len, &m), 0);
	assert_value(m.spo2, 100, 0);
	assert_value(m.pulse_rate, 90, 0);
	assert_int_equal(m.pai.special, VARDE_VALUE_NAN);
}

static void test_vector_features(void **state)
{
	struct plxs_features f;
	uint8_t buf[32];
	size_t len = hex2bin("A3004010800100", buf);

	(void)state;
	assert_int_equal(plxs_features_decode(buf, len, &f), 0);
	assert_int_equal(f.features, 0x00A3);
	assert_int_equal(f.meas_status_support, 0x1040);
	assert_int_equal(f.device_status_support, 0x000180);
	assert_false(f.features & PLXS_FEAT_STORAGE);
	for (size_t i = 0; i < len; i++)
		assert_int_equal(plxs_features_decode(buf, i, &f), -EBADMSG);
}

/* ---- every flag combination --------------------------------------------- */

#define S_SPO2 0xF3C0 /* 96.0 */
#define S_PR 0x0048 /* 72 */
#define S_MS 0x0080 /* validated */
#define S_DS 0x000000 /* none */
#define S_PAI 0xE1F4 /* 5.00 */
#define S_FAST_SPO2 0x005F
#define S_FAST_PR 0x004A
#define S_SLOW_SPO2 0x0060
#define S_SLOW_PR 0x0046

static struct frame spot_frame(uint8_t flags)
{
	struct frame f = {{0}, 0};

	put8(&f, flags);
	put16(&f, S_SPO2);
	put16(&f, S_PR);
	if (flags & PLXS_SPOT_TIMESTAMP) {
		put16(&f, 2025);
		put8(&f, 1);
		put8(&f, 15);
		put8(&f, 8);
		put8(&f, 30);
		put8(&f, 0);
	}
	if (flags & PLXS_SPOT_MEAS_STATUS)
		put16(&f, S_MS);
	if (flags & PLXS_SPOT_DEVICE_STATUS)
		put24(&f, 0x800000); /* reserved bit: decoded, not mapped */
	if (flags & PLXS_SPOT_PAI)
		put16(&f, S_PAI);
	return f;
}

static void test_spot_every_flag_combination(void **state)
{
	(void)state;
	for (unsigned int flags = 0; flags < 0x20; flags++) {
		struct varde_reading r[PLXS_MAX_READINGS];
		struct frame f = spot_frame((uint8_t)flags);
		struct plxs_spot m;
		size_t n;

		assert_int_equal(plxs_spot_decode(f.b, f.n, &m), 0);
		assert_int_equal(m.flags, flags);
		assert_value(m.spo2, 960, -1);
		assert_value(m.pulse_rate, 72, 0);
		assert_int_equal(m.has_time, !!(flags & PLXS_SPOT_TIMESTAMP));
		if (m.has_time) {
			assert_int_equal(m.time.year, 2025);
			assert_int_equal(m.time.minutes, 30);
		}
		assert_int_equal(m.meas_status, (flags & PLXS_SPOT_MEAS_STATUS) ? S_MS : 0);
		assert_int_equal(m.device_status, (flags & PLXS_SPOT_DEVICE_STATUS) ? 0x800000 : 0);
		if (flags & PLXS_SPOT_PAI)
			assert_value(m.pai, 500, -2);
		else
			assert_int_equal(m.pai.special, VARDE_VALUE_NAN);

		n = plxs_spot_readings(&m, false, r);
		assert_int_equal(n, (flags & PLXS_SPOT_PAI) ? 3 : 2);
		for (size_t i = 0; i < n; i++) {
			bool timed =
				(flags & PLXS_SPOT_TIMESTAMP) && !(flags & PLXS_SPOT_CLOCK_NOT_SET);

			assert_int_equal(!!(r[i].flags & VARDE_READING_HAS_TIME), timed);
			assert_int_equal(r[i].status, (flags & PLXS_SPOT_CLOCK_NOT_SET)
							      ? VARDE_STATUS_DEVICE_CLOCK_NOT_SET
							      : 0);
		}
		/* Stored: only with a usable time. */
		n = plxs_spot_readings(&m, true, r);
		if ((flags & PLXS_SPOT_TIMESTAMP) && !(flags & PLXS_SPOT_CLOCK_NOT_SET)) {
			assert_int_equal(n, (flags & PLXS_SPOT_PAI) ? 3 : 2);
			assert_int_equal(r[0].flags, VARDE_READING_STORED | VARDE_READING_HAS_TIME);
		} else {
			assert_int_equal(n, 0);
		}

		for (size_t len = 0; len < f.n; len++)
			assert_int_equal(plxs_spot_decode(f.b, len, &m), -EBADMSG);
		f.b[f.n] = 0xAB;
		f.b[f.n + 1] = 0xCD;
		f.b[f.n + 2] = 0xEF;
		assert_int_equal(plxs_spot_decode(f.b, f.n + 3, &m), 0);
		assert_value(m.pulse_rate, 72, 0);
		if (flags & PLXS_SPOT_PAI)
			assert_value(m.pai, 500, -2);
	}
}

static struct frame continuous_frame(uint8_t flags)
{
	struct frame f = {{0}, 0};

	put8(&f, flags);
	put16(&f, S_SPO2);
	put16(&f, S_PR);
	if (flags & PLXS_CONT_FAST) {
		put16(&f, S_FAST_SPO2);
		put16(&f, S_FAST_PR);
	}
	if (flags & PLXS_CONT_SLOW) {
		put16(&f, S_SLOW_SPO2);
		put16(&f, S_SLOW_PR);
	}
	if (flags & PLXS_CONT_MEAS_STATUS)
		put16(&f, 0x8000);
	if (flags & PLXS_CONT_DEVICE_STATUS)
		put24(&f, 0x000020);
	if (flags & PLXS_CONT_PAI)
		put16(&f, S_PAI);
	return f;
}

static void test_continuous_every_flag_combination(void **state)
{
	(void)state;
	for (unsigned int flags = 0; flags < 0x20; flags++) {
		struct varde_reading r[PLXS_MAX_READINGS];
		struct frame f = continuous_frame((uint8_t)flags);
		struct plxs_continuous m;
		uint32_t status = 0;
		size_t n;

		assert_int_equal(plxs_continuous_decode(f.b, f.n, &m), 0);
		assert_value(m.spo2, 960, -1);
		assert_value(m.pulse_rate, 72, 0);
		if (flags & PLXS_CONT_FAST) {
			assert_value(m.spo2_fast, 95, 0);
			assert_value(m.pulse_rate_fast, 74, 0);
		} else {
			assert_int_equal(m.spo2_fast.special, VARDE_VALUE_NAN);
		}
		if (flags & PLXS_CONT_SLOW) {
			assert_value(m.spo2_slow, 96, 0);
			assert_value(m.pulse_rate_slow, 70, 0);
		} else {
			assert_int_equal(m.pulse_rate_slow.special, VARDE_VALUE_NAN);
		}
		assert_int_equal(m.meas_status, (flags & PLXS_CONT_MEAS_STATUS) ? 0x8000 : 0);
		assert_int_equal(m.device_status, (flags & PLXS_CONT_DEVICE_STATUS) ? 0x20 : 0);
		if (flags & PLXS_CONT_MEAS_STATUS)
			status |= VARDE_STATUS_INVALID;
		if (flags & PLXS_CONT_DEVICE_STATUS)
			status |= VARDE_STATUS_LOW_PERFUSION;

		n = plxs_continuous_readings(&m, r);
		assert_int_equal(n, (flags & PLXS_CONT_PAI) ? 3 : 2);
		for (size_t i = 0; i < n; i++) {
			assert_int_equal(r[i].status, status);
			assert_int_equal(r[i].flags, 0);
		}
		if (flags & PLXS_CONT_PAI)
			assert_value(r[2].value, 500, -2);

		for (size_t len = 0; len < f.n; len++)
			assert_int_equal(plxs_continuous_decode(f.b, len, &m), -EBADMSG);
		f.b[f.n] = 0x11;
		assert_int_equal(plxs_continuous_decode(f.b, f.n + 1, &m), 0);
		assert_value(m.pulse_rate, 72, 0);
	}
}

static void test_features_every_combination(void **state)
{
	(void)state;
	for (unsigned int bits = 0; bits < 4; bits++) {
		struct frame f = {{0}, 0};
		struct plxs_features feat;
		uint16_t features = (uint16_t)(bits | PLXS_FEAT_STORAGE | 0x8000);

		put16(&f, features);
		if (bits & PLXS_FEAT_MEAS_STATUS)
			put16(&f, 0xFFE0);
		if (bits & PLXS_FEAT_DEVICE_STATUS)
			put24(&f, 0x00FFFF);
		assert_int_equal(plxs_features_decode(f.b, f.n, &feat), 0);
		assert_int_equal(feat.features, features);
		assert_int_equal(feat.meas_status_support,
				 (bits & PLXS_FEAT_MEAS_STATUS) ? 0xFFE0 : 0);
		assert_int_equal(feat.device_status_support,
				 (bits & PLXS_FEAT_DEVICE_STATUS) ? 0xFFFF : 0);
		for (size_t len = 0; len < f.n; len++)
			assert_int_equal(plxs_features_decode(f.b, len, &feat), -EBADMSG);
		f.b[f.n] = 0x99;
		assert_int_equal(plxs_features_decode(f.b, f.n + 1, &feat), 0);
		assert_int_equal(feat.features, features);
	}
}

static void test_null_data(void **state)
{
	struct plxs_spot s;
	struct plxs_continuous c;
	struct plxs_features f;

	(void)state;
	assert_int_equal(plxs_spot_decode(NULL, 5, &s), -EBADMSG);
	assert_int_equal(plxs_continuous_decode(NULL, 5, &c), -EBADMSG);
	assert_int_equal(plxs_features_decode(NULL, 2, &f), -EBADMSG);
}

/* ---- special values ----------------------------------------------------- */

static const struct {
	uint16_t raw;
	uint8_t special;
} specials[] = {
	{0x07FF, VARDE_VALUE_NAN},  {0x0800, VARDE_VALUE_NRES}, {0x07FE, VARDE_VALUE_PINF},
	{0x0802, VARDE_VALUE_NINF}, {0x0801, VARDE_VALUE_NAN},
};

static void test_special_values_every_field(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
		uint16_t raw = specials[i].raw;
		uint8_t sp = specials[i].special;
		struct varde_reading r[PLXS_MAX_READINGS];
		struct plxs_continuous c;
		struct plxs_spot s;
		struct frame f = {{0}, 0};

		put8(&f, PLXS_SPOT_PAI);
		put16(&f, raw);
		put16(&f, raw);
		put16(&f, raw);
		assert_int_equal(plxs_spot_decode(f.b, f.n, &s), 0);
		assert_int_equal(plxs_spot_readings(&s, false, r), 3);
		for (size_t k = 0; k < 3; k++) {
			assert_int_equal(r[k].value.special, sp);
			assert_int_equal(r[k].value.mantissa, 0);
			assert_int_equal(r[k].value.exponent, 0);
		}

		f.n = 0;
		put8(&f, PLXS_CONT_FAST | PLXS_CONT_SLOW | PLXS_CONT_PAI);
		for (int k = 0; k < 7; k++)
			put16(&f, raw);
		assert_int_equal(plxs_continuous_decode(f.b, f.n, &c), 0);
		assert_int_equal(c.spo2.special, sp);
		assert_int_equal(c.pulse_rate.special, sp);
		assert_int_equal(c.spo2_fast.special, sp);
		assert_int_equal(c.pulse_rate_fast.special, sp);
		assert_int_equal(c.spo2_slow.special, sp);
		assert_int_equal(c.pulse_rate_slow.special, sp);
		assert_int_equal(c.pai.special, sp);
		assert_int_equal(plxs_continuous_readings(&c, r), 3);
		for (size_t k = 0; k < 3; k++)
			assert_int_equal(r[k].value.special, sp);
	}
}

/* ---- dates -------------------------------------------------------------- */

static void test_spot_dates(void **state)
{
	struct varde_reading r[PLXS_MAX_READINGS];
	struct plxs_spot m;
	struct frame f = {{0}, 0};

	(void)state;
	/* Unknown date: passed on as unknown, the hub decides. */
	put8(&f, PLXS_SPOT_TIMESTAMP | PLXS_SPOT_MEAS_STATUS);
	put16(&f, S_SPO2);
	put16(&f, S_PR);
	put16(&f, 0);
	put8(&f, 0);
	put8(&f, 0);
	put8(&f, 18);
	put8(&f, 26);
	put8(&f, 32);
	put16(&f, 0x4000);
	assert_int_equal(plxs_spot_decode(f.b, f.n, &m), 0);
	assert_true(m.has_time);
	assert_int_equal(m.time.year, 0);
	assert_int_equal(m.time.hours, 18);
	assert_int_equal(m.meas_status, 0x4000);

	assert_false(m.time_out_of_range);

	/* Minutes 60: no time, flagged, the status after it still read. */
	f.b[10] = 60;
	assert_int_equal(plxs_spot_decode(f.b, f.n, &m), 0);
	assert_false(m.has_time);
	assert_true(m.time_out_of_range);
	assert_int_equal(m.meas_status, 0x4000);
	assert_value(m.spo2, 960, -1);
	assert_int_equal(plxs_spot_readings(&m, false, r), 2);
	for (size_t i = 0; i < 2; i++) {
		assert_false(r[i].flags & VARDE_READING_HAS_TIME);
		assert_int_equal(r[i].status,
				 VARDE_STATUS_QUESTIONABLE | VARDE_STATUS_DEVICE_CLOCK_NOT_SET);
	}
	/* ... and such a record from storage cannot be placed in time. */
	assert_int_equal(plxs_spot_readings(&m, true, r), 0);
	/* Month 13 */
	f.b[10] = 26;
	f.b[7] = 13;
	assert_int_equal(plxs_spot_decode(f.b, f.n, &m), 0);
	assert_false(m.has_time);
	assert_true(m.time_out_of_range);
}

static void test_spot_from_storage_bit(void **state)
{
	struct varde_reading r[PLXS_MAX_READINGS];
	struct frame f = spot_frame(PLXS_SPOT_TIMESTAMP | PLXS_SPOT_MEAS_STATUS);
	struct plxs_spot m;

	(void)state;
	f.b[12] = PLXS_MS_FROM_STORAGE & 0xff;
	f.b[13] = PLXS_MS_FROM_STORAGE >> 8;
	assert_int_equal(plxs_spot_decode(f.b, f.n, &m), 0);
	assert_int_equal(m.meas_status, PLXS_MS_FROM_STORAGE);
	assert_int_equal(plxs_spot_readings(&m, false, r), 2);
	assert_int_equal(r[0].flags, VARDE_READING_STORED | VARDE_READING_HAS_TIME);
	assert_int_equal(r[0].status, 0);
}

/* ---- status mapping ------------------------------------------------------ */

static void test_measurement_status_each_bit(void **state)
{
	static const uint32_t expect[16] = {
		0,
		0,
		0,
		0,
		0, /* reserved */
		VARDE_STATUS_MEASUREMENT_ONGOING,
		VARDE_STATUS_MEASUREMENT_ONGOING, /* early estimate */
		0, /* validated */
		0, /* fully qualified */
		0, /* from storage: a reading flag */
		VARDE_STATUS_TEST_DATA, /* demonstration */
		VARDE_STATUS_TEST_DATA, /* testing */
		VARDE_STATUS_CALIBRATION_ONGOING,
		VARDE_STATUS_INVALID, /* measurement unavailable */
		VARDE_STATUS_QUESTIONABLE,
		VARDE_STATUS_INVALID,
	};

	(void)state;
	for (unsigned int bit = 0; bit < 16; bit++) {
		assert_int_equal(plxs_status_map((uint16_t)(1u << bit), 0), expect[bit]);
		assert_int_equal(plxs_pulse_status_map((uint16_t)(1u << bit), 0), expect[bit]);
	}
}

static void test_device_status_each_bit(void **state)
{
	static const uint32_t expect[24] = {
		0, /* extended display update */
		VARDE_STATUS_EQUIPMENT_FAULT,
		VARDE_STATUS_SIGNAL_ARTIFACT, /* signal processing irregularity */
		VARDE_STATUS_SIGNAL_ARTIFACT, /* inadequate signal */
		VARDE_STATUS_SIGNAL_ARTIFACT, /* poor signal */
		VARDE_STATUS_LOW_PERFUSION,
		VARDE_STATUS_SIGNAL_ARTIFACT, /* erratic */
		VARDE_STATUS_SIGNAL_ARTIFACT, /* nonpulsatile */
		0, /* questionable pulse: pulse rate only */
		VARDE_STATUS_MEASUREMENT_ONGOING,
		VARDE_STATUS_SIGNAL_ARTIFACT, /* interference */
		VARDE_STATUS_SENSOR_DISPLACED, /* unconnected to user */
		VARDE_STATUS_EQUIPMENT_FAULT, /* unknown sensor */
		VARDE_STATUS_SENSOR_DISPLACED,
		VARDE_STATUS_EQUIPMENT_FAULT, /* sensor malfunctioning */
		VARDE_STATUS_SENSOR_DISPLACED, /* disconnected */
		0,
		0,
		0,
		0,
		0,
		0,
		0,
		0, /* reserved */
	};

	(void)state;
	for (unsigned int bit = 0; bit < 24; bit++) {
		uint32_t pulse_extra = bit == 8 ? VARDE_STATUS_QUESTIONABLE : 0;

		assert_int_equal(plxs_status_map(0, 1u << bit), expect[bit]);
		assert_int_equal(plxs_pulse_status_map(0, 1u << bit), expect[bit] | pulse_extra);
	}
}

static void test_questionable_pulse_only_on_pulse_rate(void **state)
{
	struct varde_reading r[PLXS_MAX_READINGS];
	struct frame f = spot_frame(PLXS_SPOT_DEVICE_STATUS | PLXS_SPOT_PAI);
	struct plxs_spot m;

	(void)state;
	f.b[5] = 0x00;
	f.b[6] = 0x01; /* bit 8 */
	f.b[7] = 0x00;
	assert_int_equal(plxs_spot_decode(f.b, f.n, &m), 0);
	assert_int_equal(plxs_spot_readings(&m, false, r), 3);
	assert_int_equal(r[0].status, 0);
	assert_int_equal(r[1].status, VARDE_STATUS_QUESTIONABLE);
	assert_int_equal(r[2].status, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector_spot_full),
		cmocka_unit_test(test_vector_cont_simple),
		cmocka_unit_test(test_vector_cont_full),
		cmocka_unit_test(test_vector_cont_min),
		cmocka_unit_test(test_vector_features),
		cmocka_unit_test(test_spot_every_flag_combination),
		cmocka_unit_test(test_continuous_every_flag_combination),
		cmocka_unit_test(test_features_every_combination),
		cmocka_unit_test(test_null_data),
		cmocka_unit_test(test_special_values_every_field),
		cmocka_unit_test(test_spot_dates),
		cmocka_unit_test(test_spot_from_storage_bit),
		cmocka_unit_test(test_measurement_status_each_bit),
		cmocka_unit_test(test_device_status_each_bit),
		cmocka_unit_test(test_questionable_pulse_only_on_pulse_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
