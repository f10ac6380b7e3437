/* SPDX-License-Identifier: MIT */
/*
 * Blood Pressure Measurement and Blood Pressure Feature decoding, per the
 * Blood Pressure Service 1.1 and the GATT Specification Supplement.
 */
#include <errno.h>
#include <string.h>

#include <varde/ieee11073.h>

#include "bls_decode.h"
#include "timestamp.h"

/* Blood Pressure Measurement Flags; bits 5..7 are reserved for future use. */
#define BPM_FLAG_KPA 0x01
#define BPM_FLAG_TIME 0x02
#define BPM_FLAG_PULSE 0x04
#define BPM_FLAG_USER 0x08
#define BPM_FLAG_STATUS 0x10

/* Measurement Status; bits 6..15 are reserved for future use. */
#define BPM_STATUS_BODY_MOVEMENT 0x0001
#define BPM_STATUS_CUFF_FIT 0x0002
#define BPM_STATUS_IRREGULAR_PULSE 0x0004
#define BPM_STATUS_PULSE_RANGE_SHIFT 3
#define BPM_STATUS_PULSE_RANGE_MASK 0x0003
#define BPM_STATUS_IMPROPER_POSITION 0x0020

#define BPM_PULSE_RANGE_WITHIN 0
#define BPM_PULSE_RANGE_ABOVE 1
#define BPM_PULSE_RANGE_BELOW 2

/* User ID 0xFF is the spec's "unknown user". */
#define BPM_USER_UNKNOWN 0xFF

static uint32_t map_status(uint16_t raw)
{
	uint32_t status = 0;

	if (raw & BPM_STATUS_BODY_MOVEMENT)
		status |= VARDE_STATUS_BODY_MOVEMENT;
	if (raw & BPM_STATUS_CUFF_FIT)
		status |= VARDE_STATUS_CUFF_LOOSE;
	if (raw & BPM_STATUS_IRREGULAR_PULSE)
		status |= VARDE_STATUS_IRREGULAR_PULSE;
	/* Range value 3 is reserved: it says nothing we could pass on. */
	switch ((raw >> BPM_STATUS_PULSE_RANGE_SHIFT) & BPM_STATUS_PULSE_RANGE_MASK) {
	case BPM_PULSE_RANGE_ABOVE:
		status |= VARDE_STATUS_PULSE_ABOVE_RANGE;
		break;
	case BPM_PULSE_RANGE_BELOW:
		status |= VARDE_STATUS_PULSE_BELOW_RANGE;
		break;
	default:
		break;
	}
	if (raw & BPM_STATUS_IMPROPER_POSITION)
		status |= VARDE_STATUS_IMPROPER_POSITION;
	return status;
}

int bls_decode_measurement(const uint8_t *data, size_t len, struct bls_measurement *out)
{
	struct varde_cursor c = varde_cursor_init(data, len);
	struct varde_reading common = VARDE_READING_INIT;
	struct varde_value sys, dia, map, pulse = {0};
	bool time_ok = true;
	uint32_t unit;
	uint8_t flags;

	memset(out, 0, sizeof(*out));

	if (!varde_get_u8(&c, &flags) || !varde_get_sfloat(&c, &sys) ||
	    !varde_get_sfloat(&c, &dia) || !varde_get_sfloat(&c, &map))
		return -EBADMSG;
	unit = (flags & BPM_FLAG_KPA) ? VARDE_UNIT_KPA : VARDE_UNIT_MMHG;

	if (flags & BPM_FLAG_TIME) {
		if (!timestamp_get(&c, &common.time, &time_ok))
			return -EBADMSG;
		if (time_ok)
			common.flags |= VARDE_READING_HAS_TIME;
		else
			common.status |= VARDE_STATUS_DEVICE_CLOCK_NOT_SET;
	}
	if ((flags & BPM_FLAG_PULSE) && !varde_get_sfloat(&c, &pulse))
		return -EBADMSG;
	if (flags & BPM_FLAG_USER) {
		uint8_t user;

		if (!varde_get_u8(&c, &user))
			return -EBADMSG;
		/* "Unknown user" is passed on as such: the hub then
		 * quarantines the reading rather than giving it to the
		 * device's default patient. */
		common.user_id = user == BPM_USER_UNKNOWN ? VARDE_USER_UNKNOWN : user;
		common.flags |= VARDE_READING_HAS_USER;
	}
	if (flags & BPM_FLAG_STATUS) {
		uint16_t raw;

		if (!varde_get_le16(&c, &raw))
			return -EBADMSG;
		common.status |= map_status(raw);
	}

	out->components[BLS_SYSTOLIC] = (struct varde_component){
		.metric = VARDE_METRIC_BP_SYSTOLIC, .unit = unit, .value = sys};
	out->components[BLS_DIASTOLIC] = (struct varde_component){
		.metric = VARDE_METRIC_BP_DIASTOLIC, .unit = unit, .value = dia};
	out->components[BLS_MEAN] = (struct varde_component){
		.metric = VARDE_METRIC_BP_MEAN, .unit = unit, .value = map};

	out->readings[0] = common;
	out->readings[0].metric = VARDE_METRIC_BLOOD_PRESSURE;
	out->readings[0].unit = unit;
	out->readings[0].components = out->components;
	out->readings[0].n_components = BLS_N_COMPONENTS;
	out->n_readings = 1;

	if (flags & BPM_FLAG_PULSE) {
		out->readings[1] = common;
		out->readings[1].metric = VARDE_METRIC_PULSE_RATE;
		out->readings[1].unit = VARDE_UNIT_PER_MIN;
		out->readings[1].value = pulse;
		out->n_readings = 2;
	}

	out->flags = flags;
	out->trailing = varde_cursor_left(&c);
	out->time_out_of_range = !time_ok;
	return 0;
}

int bls_decode_feature(const uint8_t *data, size_t len, uint16_t *features)
{
	struct varde_cursor c = varde_cursor_init(data, len);

	if (!varde_get_le16(&c, features))
		return -EBADMSG;
	return 0;
}
