/* SPDX-License-Identifier: MIT */
/*
 * Weight Measurement and Weight Scale Feature decoding, per the Weight Scale
 * Service 1.0 and the GATT Specification Supplement.
 *
 * The fields are unsigned integers with a fixed resolution; each becomes an
 * exact mantissa/exponent pair, so no precision is lost or invented:
 *   weight  SI 0.005 kg  -> raw * 5 e-3 kg     imperial 0.01 lb -> raw e-2 lb
 *   height  SI 0.001 m   -> raw e-3 m          imperial 0.1 in  -> raw e-1 in
 *   BMI     0.1 kg/m2    -> raw e-1 kg/m2
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <varde/ieee11073.h>

#include "timestamp.h"
#include "wss_decode.h"

/* Weight Measurement Flags; bits 4..7 are reserved for future use. */
#define WM_FLAG_IMPERIAL 0x01
#define WM_FLAG_TIME 0x02
#define WM_FLAG_USER 0x04
#define WM_FLAG_BMI_HEIGHT 0x08

/* The spec's "Measurement Unsuccessful" weight: no number at all. */
#define WM_WEIGHT_UNSUCCESSFUL 0xFFFF

/* User ID 0xFF is the spec's "unknown user". */
#define WM_USER_UNKNOWN 0xFF

int wss_decode_measurement(const uint8_t *data, size_t len, struct wss_measurement *out)
{
	struct varde_cursor c = varde_cursor_init(data, len);
	struct varde_reading common = VARDE_READING_INIT;
	uint16_t weight, bmi = 0, height = 0;
	bool time_ok = true;
	bool imperial;
	uint8_t flags;

	memset(out, 0, sizeof(*out));

	if (!varde_get_u8(&c, &flags) || !varde_get_le16(&c, &weight))
		return -EBADMSG;
	imperial = flags & WM_FLAG_IMPERIAL;

	if (flags & WM_FLAG_TIME) {
		if (!timestamp_get(&c, &common.time, &time_ok))
			return -EBADMSG;
		if (time_ok)
			common.flags |= VARDE_READING_HAS_TIME;
		else
			common.status |= VARDE_STATUS_DEVICE_CLOCK_NOT_SET;
	}
	if (flags & WM_FLAG_USER) {
		uint8_t user;

		if (!varde_get_u8(&c, &user))
			return -EBADMSG;
		/* "Unknown user" is passed on as such: the hub then
		 * quarantines the reading rather than giving it to the
		 * scale's default patient. */
		common.user_id = user == WM_USER_UNKNOWN ? VARDE_USER_UNKNOWN : user;
		common.flags |= VARDE_READING_HAS_USER;
	}
	if ((flags & WM_FLAG_BMI_HEIGHT) &&
	    (!varde_get_le16(&c, &bmi) || !varde_get_le16(&c, &height)))
		return -EBADMSG;

	out->readings[0] = common;
	out->readings[0].metric = VARDE_METRIC_BODY_WEIGHT;
	out->readings[0].unit = imperial ? VARDE_UNIT_LB : VARDE_UNIT_KG;
	if (weight == WM_WEIGHT_UNSUCCESSFUL)
		out->readings[0].value = varde_special_value(VARDE_VALUE_NAN);
	else if (imperial)
		out->readings[0].value = varde_value_make(weight, -2);
	else
		out->readings[0].value = varde_value_make((int32_t)weight * 5, -3);
	out->n_readings = 1;

	if (flags & WM_FLAG_BMI_HEIGHT) {
		struct varde_reading *r_bmi = &out->readings[1];
		struct varde_reading *r_height = &out->readings[2];

		*r_bmi = common;
		r_bmi->metric = VARDE_METRIC_BMI;
		r_bmi->unit = VARDE_UNIT_KG_PER_M2;
		/* BMI is computed from this weighing: when the weighing failed
		 * whatever the BMI field holds is stale or made up. */
		if (weight == WM_WEIGHT_UNSUCCESSFUL)
			r_bmi->value = varde_special_value(VARDE_VALUE_NAN);
		else
			r_bmi->value = varde_value_make(bmi, -1);

		/* Height does not come from the weighing (the scale holds the
		 * user's height, or a stadiometer measured it), so a failed
		 * weighing does not make it wrong. */
		*r_height = common;
		r_height->metric = VARDE_METRIC_BODY_HEIGHT;
		r_height->unit = imperial ? VARDE_UNIT_INCH : VARDE_UNIT_M;
		r_height->value = varde_value_make(height, imperial ? -1 : -3);
		out->n_readings = 3;
	}

	out->flags = flags;
	out->trailing = varde_cursor_left(&c);
	out->time_out_of_range = !time_ok;
	return 0;
}

int wss_decode_feature(const uint8_t *data, size_t len, uint32_t *features)
{
	struct varde_cursor c = varde_cursor_init(data, len);

	if (!varde_get_le32(&c, features))
		return -EBADMSG;
	return 0;
}
