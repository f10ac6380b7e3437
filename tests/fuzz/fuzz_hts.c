/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the Health Thermometer Service decoders. Beyond memory safety
 * (ASan/UBSan), it checks what the plugin relies on: a frame either fails
 * or yields one well-formed temperature reading.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "hts_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hts_measurement m;
	uint8_t type;
	int err;

	if (hts_decode_temperature_type(data, size, &type) < 0 ? size >= 1 : size < 1)
		abort();
	err = hts_decode_measurement(data, size, &m);
	if (err < 0) {
		if (err != -EBADMSG)
			abort();
		return 0;
	}
	if (size < 5 || m.trailing > size - 5 ||
	    m.reading.metric != VARDE_METRIC_BODY_TEMPERATURE ||
	    m.reading.value.special > VARDE_VALUE_NINF ||
	    (m.reading.value.special != VARDE_VALUE_NUMBER &&
	     (m.reading.value.mantissa || m.reading.value.exponent)))
		abort();
	/* A time stamp out of range: kept, without time, flagged. */
	if (m.time_out_of_range != !!(m.reading.status & VARDE_STATUS_DEVICE_CLOCK_NOT_SET) ||
	    (m.time_out_of_range && (m.reading.flags & VARDE_READING_HAS_TIME)))
		abort();
	/* A site only from the Temperature Type field, and a known one. */
	if (m.reading.site > VARDE_SITE_TYMPANUM ||
	    (m.reading.site != VARDE_SITE_NONE && (!m.has_type || m.type > 9)))
		abort();
	return 0;
}
