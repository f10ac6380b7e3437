/* SPDX-License-Identifier: MIT */
/*
 * Fuzzes the Health Thermometer Service decoder. Beyond memory safety
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
	int err;

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
	if (m.has_site)
		(void)hts_site_name(m.site);
	return 0;
}
