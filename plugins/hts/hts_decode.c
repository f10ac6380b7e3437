/* SPDX-License-Identifier: MIT */
/*
 * Temperature Measurement decoding, per the Health Thermometer Service 1.0
 * and the GATT Specification Supplement.
 */
#include <errno.h>
#include <string.h>

#include <varde/ieee11073.h>

#include "hts_decode.h"
#include "timestamp.h"

/* Temperature Measurement Flags; bits 3..7 are reserved for future use. */
#define HTM_FLAG_FAHRENHEIT 0x01
#define HTM_FLAG_TIME 0x02
#define HTM_FLAG_TYPE 0x04

int hts_decode_measurement(const uint8_t *data, size_t len, struct hts_measurement *out)
{
	struct varde_cursor c = varde_cursor_init(data, len);
	struct varde_reading r = VARDE_READING_INIT;
	bool time_ok = true;
	uint8_t flags;

	memset(out, 0, sizeof(*out));

	if (!varde_get_u8(&c, &flags) || !varde_get_float(&c, &r.value))
		return -EBADMSG;
	r.metric = VARDE_METRIC_BODY_TEMPERATURE;
	r.unit = (flags & HTM_FLAG_FAHRENHEIT) ? VARDE_UNIT_FAHRENHEIT : VARDE_UNIT_CELSIUS;

	if (flags & HTM_FLAG_TIME) {
		if (!timestamp_get(&c, &r.time, &time_ok))
			return -EBADMSG;
		if (time_ok)
			r.flags |= VARDE_READING_HAS_TIME;
		else
			r.status |= VARDE_STATUS_DEVICE_CLOCK_NOT_SET;
	}
	/* A reserved site code does not make the temperature wrong: it is
	 * kept, without a site. */
	if (flags & HTM_FLAG_TYPE) {
		if (!varde_get_u8(&c, &out->type))
			return -EBADMSG;
		out->has_type = true;
		r.site = hts_site_from_type(out->type);
	}

	out->reading = r;
	out->flags = flags;
	out->trailing = varde_cursor_left(&c);
	out->time_out_of_range = !time_ok;
	return 0;
}

uint32_t hts_site_from_type(uint8_t type)
{
	/* Temperature Type codes; 0 and 10..255 are reserved. */
	static const uint32_t sites[] = {
		[1] = VARDE_SITE_ARMPIT, [2] = VARDE_SITE_BODY,	    [3] = VARDE_SITE_EAR,
		[4] = VARDE_SITE_FINGER, [5] = VARDE_SITE_GI_TRACT, [6] = VARDE_SITE_MOUTH,
		[7] = VARDE_SITE_RECTUM, [8] = VARDE_SITE_TOE,	    [9] = VARDE_SITE_TYMPANUM,
	};

	return type < sizeof(sites) / sizeof(sites[0]) ? sites[type] : VARDE_SITE_NONE;
}

int hts_decode_temperature_type(const uint8_t *data, size_t len, uint8_t *type)
{
	struct varde_cursor c = varde_cursor_init(data, len);

	return varde_get_u8(&c, type) ? 0 : -EBADMSG;
}
