/* SPDX-License-Identifier: MIT */
/*
 * Temperature Measurement decoding, per the Health Thermometer Service 1.0
 * and the GATT Specification Supplement.
 */
#include <errno.h>
#include <string.h>

#include <varde/ieee11073.h>

#include "hts_decode.h"

/* Temperature Measurement Flags; bits 3..7 are reserved for future use. */
#define HTM_FLAG_FAHRENHEIT 0x01
#define HTM_FLAG_TIME 0x02
#define HTM_FLAG_TYPE 0x04

int hts_decode_measurement(const uint8_t *data, size_t len, struct hts_measurement *out)
{
	struct varde_cursor c = varde_cursor_init(data, len);
	struct varde_reading r = VARDE_READING_INIT;
	uint8_t flags;

	memset(out, 0, sizeof(*out));

	if (!varde_get_u8(&c, &flags) || !varde_get_float(&c, &r.value))
		return -EBADMSG;
	r.metric = VARDE_METRIC_BODY_TEMPERATURE;
	r.unit = (flags & HTM_FLAG_FAHRENHEIT) ? VARDE_UNIT_FAHRENHEIT : VARDE_UNIT_CELSIUS;

	/*
	 * A time stamp that is not a valid Date Time is a malformed frame, not
	 * a reading without time: a stored measurement stamped with the
	 * receive time would sit at the wrong time (see README.md).
	 */
	if (flags & HTM_FLAG_TIME) {
		if (!varde_get_datetime(&c, &r.time))
			return -EBADMSG;
		r.flags |= VARDE_READING_HAS_TIME;
	}
	/* A reserved site code does not make the temperature wrong: it is
	 * passed on for the log like any other. */
	if (flags & HTM_FLAG_TYPE) {
		if (!varde_get_u8(&c, &out->site))
			return -EBADMSG;
		out->has_site = true;
	}

	out->reading = r;
	out->flags = flags;
	out->trailing = varde_cursor_left(&c);
	return 0;
}

const char *hts_site_name(uint8_t site)
{
	/* Temperature Type codes; 0 and 10..255 are reserved. */
	static const char *const names[] = {
		[1] = "armpit",
		[2] = "body (general)",
		[3] = "ear",
		[4] = "finger",
		[5] = "gastrointestinal tract",
		[6] = "mouth",
		[7] = "rectum",
		[8] = "toe",
		[9] = "tympanum",
	};

	return site < sizeof(names) / sizeof(names[0]) ? names[site] : NULL;
}
