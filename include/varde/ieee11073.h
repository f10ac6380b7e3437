/* SPDX-License-Identifier: MIT */
/*
 * Header-only helpers for the byte formats of the Bluetooth health profiles:
 * bounds-checked little-endian reading, IEEE 11073-20601 SFLOAT (16-bit) and
 * FLOAT (32-bit), and the 7-byte Bluetooth Date Time.
 *
 * SFLOAT/FLOAT: exponent and mantissa are both signed two's complement
 * (not offset binary: 0x8078 is 120 * 10^-8, and 120 is 0x0078). The special
 * values all have exponent 0 and are never numbers:
 *   SFLOAT 0x07FF NaN, 0x0800 NRes, 0x07FE +INF, 0x0802 -INF, 0x0801 reserved
 *   FLOAT  0x007FFFFF NaN, 0x00800000 NRes, 0x007FFFFE +INF,
 *          0x00800002 -INF, 0x00800001 reserved
 * The reserved encoding is reported as NaN: it carries no number.
 */
#ifndef VARDE_IEEE11073_H
#define VARDE_IEEE11073_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <varde/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * A read cursor over a received frame. Every getter returns false and
 * leaves the cursor unchanged when fewer bytes remain than it needs; a
 * decoder checks each call, so a short frame can never be read past its end.
 */
struct varde_cursor {
	const uint8_t *data;
	size_t len;
	size_t pos;
};

static inline struct varde_cursor varde_cursor_init(const uint8_t *data, size_t len)
{
	struct varde_cursor c;

	c.data = data;
	c.len = data ? len : 0;
	c.pos = 0;
	return c;
}

static inline size_t varde_cursor_left(const struct varde_cursor *c)
{
	return c->len - c->pos;
}

static inline bool varde_get_u8(struct varde_cursor *c, uint8_t *out)
{
	if (varde_cursor_left(c) < 1)
		return false;
	*out = c->data[c->pos];
	c->pos += 1;
	return true;
}

static inline bool varde_get_le16(struct varde_cursor *c, uint16_t *out)
{
	if (varde_cursor_left(c) < 2)
		return false;
	*out = (uint16_t)(c->data[c->pos] | (c->data[c->pos + 1] << 8));
	c->pos += 2;
	return true;
}

static inline bool varde_get_le24(struct varde_cursor *c, uint32_t *out)
{
	if (varde_cursor_left(c) < 3)
		return false;
	*out = (uint32_t)c->data[c->pos] | ((uint32_t)c->data[c->pos + 1] << 8) |
	       ((uint32_t)c->data[c->pos + 2] << 16);
	c->pos += 3;
	return true;
}

static inline bool varde_get_le32(struct varde_cursor *c, uint32_t *out)
{
	if (varde_cursor_left(c) < 4)
		return false;
	*out = (uint32_t)c->data[c->pos] | ((uint32_t)c->data[c->pos + 1] << 8) |
	       ((uint32_t)c->data[c->pos + 2] << 16) | ((uint32_t)c->data[c->pos + 3] << 24);
	c->pos += 4;
	return true;
}

static inline bool varde_skip(struct varde_cursor *c, size_t n)
{
	if (varde_cursor_left(c) < n)
		return false;
	c->pos += n;
	return true;
}

/* ---- SFLOAT / FLOAT ---------------------------------------------------- */

static inline struct varde_value varde_special_value(enum varde_special s)
{
	struct varde_value v = {0, 0, (uint8_t)s, {0, 0}};

	return v;
}

static inline struct varde_value varde_sfloat_decode(uint16_t raw)
{
	struct varde_value v = {0, 0, VARDE_VALUE_NUMBER, {0, 0}};
	int32_t mantissa = raw & 0x0FFF;
	int32_t exponent = (raw >> 12) & 0x0F;

	switch (raw) {
	case 0x07FF:
	case 0x0801:
		return varde_special_value(VARDE_VALUE_NAN);
	case 0x0800:
		return varde_special_value(VARDE_VALUE_NRES);
	case 0x07FE:
		return varde_special_value(VARDE_VALUE_PINF);
	case 0x0802:
		return varde_special_value(VARDE_VALUE_NINF);
	default:
		break;
	}
	if (mantissa >= 0x0800)
		mantissa -= 0x1000;
	if (exponent >= 0x08)
		exponent -= 0x10;
	v.mantissa = mantissa;
	v.exponent = (int8_t)exponent;
	return v;
}

static inline struct varde_value varde_float_decode(uint32_t raw)
{
	struct varde_value v = {0, 0, VARDE_VALUE_NUMBER, {0, 0}};
	int32_t mantissa = (int32_t)(raw & 0x00FFFFFF);
	int32_t exponent = (int32_t)((raw >> 24) & 0xFF);

	switch (raw) {
	case 0x007FFFFF:
	case 0x00800001:
		return varde_special_value(VARDE_VALUE_NAN);
	case 0x00800000:
		return varde_special_value(VARDE_VALUE_NRES);
	case 0x007FFFFE:
		return varde_special_value(VARDE_VALUE_PINF);
	case 0x00800002:
		return varde_special_value(VARDE_VALUE_NINF);
	default:
		break;
	}
	if (mantissa >= 0x00800000)
		mantissa -= 0x01000000;
	if (exponent >= 0x80)
		exponent -= 0x100;
	v.mantissa = mantissa;
	v.exponent = (int8_t)exponent;
	return v;
}

static inline bool varde_get_sfloat(struct varde_cursor *c, struct varde_value *out)
{
	uint16_t raw;

	if (!varde_get_le16(c, &raw))
		return false;
	*out = varde_sfloat_decode(raw);
	return true;
}

static inline bool varde_get_float(struct varde_cursor *c, struct varde_value *out)
{
	uint32_t raw;

	if (!varde_get_le32(c, &raw))
		return false;
	*out = varde_float_decode(raw);
	return true;
}

/* A value from an unsigned integer field with a fixed resolution, such as
 * the Weight Scale's uint16 in units of 0.005 kg (mantissa 5*raw, exp -3). */
static inline struct varde_value varde_value_make(int32_t mantissa, int8_t exponent)
{
	struct varde_value v = {mantissa, exponent, VARDE_VALUE_NUMBER, {0, 0}};

	return v;
}

/* ---- Date Time (org.bluetooth.characteristic.date_time, 7 bytes) ------- */

static inline bool varde_datetime_is_complete(const struct varde_datetime *t)
{
	return t->year != 0 && t->month != 0 && t->day != 0;
}

static inline bool varde_is_leap_year(unsigned int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static inline unsigned int varde_days_in_month(unsigned int y, unsigned int m)
{
	static const uint8_t days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && varde_is_leap_year(y))
		return 29;
	return (m >= 1 && m <= 12) ? days[m - 1] : 0;
}

/*
 * Decodes year (uint16, 0 = unknown, else 1582..9999), month (0 = unknown,
 * 1..12), day (0 = unknown, else within the month; 29 February only in a
 * leap year or when the year is unknown), hours 0..23, minutes 0..59,
 * seconds 0..59. Returns false on a short frame or a field out of range (the
 * cursor is then unchanged): a time the device cannot have meant is no time.
 */
static inline bool varde_get_datetime(struct varde_cursor *c, struct varde_datetime *out)
{
	struct varde_cursor save = *c;
	struct varde_datetime t;
	uint16_t year;

	if (!varde_get_le16(c, &year) || !varde_get_u8(c, &t.month) || !varde_get_u8(c, &t.day) ||
	    !varde_get_u8(c, &t.hours) || !varde_get_u8(c, &t.minutes) ||
	    !varde_get_u8(c, &t.seconds)) {
		*c = save;
		return false;
	}
	t.year = year;
	t.reserved = 0;
	/* An unknown year admits 29 February: 2000 is a leap year. */
	if ((year != 0 && (year < 1582 || year > 9999)) || t.month > 12 ||
	    t.day > (t.month ? varde_days_in_month(year ? year : 2000, t.month) : 31) ||
	    t.hours > 23 || t.minutes > 59 || t.seconds > 59) {
		*c = save;
		return false;
	}
	*out = t;
	return true;
}

/*
 * Adds a signed number of minutes to a complete local date-time, as the
 * Glucose Service's time offset asks (pure calendar arithmetic: no zone, no
 * DST; the hub maps the result to an instant). Returns false when the date
 * is incomplete or invalid, or the result leaves years 1582..9999.
 */
static inline bool varde_datetime_add_minutes(struct varde_datetime *t, int32_t minutes)
{
	int64_t total; /* minutes since 0000-03-01 00:00, proleptic Gregorian */
	int64_t y, m, d, era, yoe, doy, doe, days, mod;

	if (!varde_datetime_is_complete(t) || t->day > varde_days_in_month(t->year, t->month))
		return false;
	/* days from civil (H. Hinnant's algorithm) */
	y = (int64_t)t->year - (t->month <= 2);
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	m = t->month;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + t->day - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	days = era * 146097 + doe;
	total = days * 1440 + t->hours * 60 + t->minutes + minutes;

	mod = total % 1440;
	days = total / 1440;
	if (mod < 0) {
		mod += 1440;
		days -= 1;
	}
	/* civil from days */
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = days - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	m = (5 * doy + 2) / 153;
	d = doy - (153 * m + 2) / 5 + 1;
	m = m < 10 ? m + 3 : m - 9;
	y += (m <= 2);
	if (y < 1582 || y > 9999)
		return false;
	t->year = (uint16_t)y;
	t->month = (uint8_t)m;
	t->day = (uint8_t)d;
	t->hours = (uint8_t)(mod / 60);
	t->minutes = (uint8_t)(mod % 60);
	return true;
}

/* ---- diagnostics -------------------------------------------------------- */

/*
 * Writes the first bytes of a frame as hex ("1e8a00..." with "..." when it
 * did not fit) into `buf`, for a log line about a frame that did not decode.
 */
static inline void varde_hex(const uint8_t *data, size_t len, char *buf, size_t size)
{
	static const char digits[] = "0123456789abcdef";
	size_t n = len, out = 0;
	bool cut = false;

	if (size == 0)
		return;
	if (2 * len + 1 > size) {
		cut = true;
		n = size > 4 ? (size - 4) / 2 : 0; /* room for "..." and NUL */
	}
	for (size_t i = 0; i < n; i++) {
		buf[out++] = digits[data[i] >> 4];
		buf[out++] = digits[data[i] & 0x0F];
	}
	if (cut && size >= 4) {
		buf[out++] = '.';
		buf[out++] = '.';
		buf[out++] = '.';
	}
	buf[out] = '\0';
}

#ifdef __cplusplus
}
#endif

#endif /* VARDE_IEEE11073_H */
