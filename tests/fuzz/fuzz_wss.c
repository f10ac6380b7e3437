/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes every Weight Scale Service decoder with the same input. Beyond
 * memory safety (ASan/UBSan), it checks what the plugin relies on: a frame
 * either fails with no reading or yields sound readings, and a
 * "measurement unsuccessful" weight is never a number.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "wss_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wss_measurement m;
	uint32_t features;
	int err;

	err = wss_decode_measurement(data, size, &m);
	if (err < 0) {
		if (err != -EBADMSG || m.n_readings != 0)
			abort();
	} else {
		if ((m.n_readings != 1 && m.n_readings != 3) || m.trailing > size - 3)
			abort();
		if (data[1] == 0xFF && data[2] == 0xFF &&
		    m.readings[0].value.special != VARDE_VALUE_NAN)
			abort();
		for (size_t i = 0; i < m.n_readings; i++)
			if (m.readings[i].value.special == VARDE_VALUE_NUMBER &&
			    m.readings[i].value.mantissa < 0)
				abort();
		/* A time stamp out of range: kept, without time, flagged. */
		if (m.time_out_of_range !=
			    !!(m.readings[0].status & VARDE_STATUS_DEVICE_CLOCK_NOT_SET) ||
		    (m.time_out_of_range && (m.readings[0].flags & VARDE_READING_HAS_TIME)))
			abort();
	}

	err = wss_decode_feature(data, size, &features);
	if (err < 0 ? size >= 4 : size < 4)
		abort();
	return 0;
}
