/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes every Blood Pressure Service decoder with the same input. Beyond
 * memory safety (ASan/UBSan), it checks what the plugin relies on: a frame
 * either fails with no reading or yields readings whose shape is sound.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "bls_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct bls_measurement m;
	uint16_t features;
	int err;

	err = bls_decode_measurement(data, size, &m);
	if (err < 0) {
		if (err != -EBADMSG || m.n_readings != 0)
			abort();
	} else {
		if (m.n_readings < 1 || m.n_readings > 2 || m.trailing > size)
			abort();
		if (m.readings[0].components != m.components || m.readings[0].n_components != 3)
			abort();
		for (size_t i = 0; i < m.n_readings; i++)
			if (m.readings[i].value.special > VARDE_VALUE_NINF ||
			    (m.readings[i].value.special != VARDE_VALUE_NUMBER &&
			     (m.readings[i].value.mantissa || m.readings[i].value.exponent)))
				abort();
		/* A time stamp out of range: kept, without time, flagged. */
		if (m.time_out_of_range !=
			    !!(m.readings[0].status & VARDE_STATUS_DEVICE_CLOCK_NOT_SET) ||
		    (m.time_out_of_range && (m.readings[0].flags & VARDE_READING_HAS_TIME)))
			abort();
		for (size_t i = 0; i < BLS_N_COMPONENTS; i++)
			if (m.components[i].value.special != VARDE_VALUE_NUMBER &&
			    (m.components[i].value.mantissa || m.components[i].value.exponent))
				abort();
	}

	err = bls_decode_feature(data, size, &features);
	if (err < 0 ? size >= 2 : size < 2)
		abort();
	return 0;
}
