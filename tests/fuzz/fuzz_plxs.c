// SPDX-License-Identifier: MIT
/*
 * Fuzz target for the Pulse Oximeter plugin: the input through every
 * decoder and reading builder, and through the RACP response decoder.
 */
#include <stdlib.h>

#include "plxs_decode.h"
#include "racp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct varde_reading *r, size_t n)
{
	if (n > PLXS_MAX_READINGS)
		abort();
	for (size_t i = 0; i < n; i++) {
		/* A special value never carries a number. */
		if (r[i].value.special != VARDE_VALUE_NUMBER &&
		    (r[i].value.mantissa || r[i].value.exponent))
			abort();
		/* A stored reading always has its device time. */
		if ((r[i].flags & VARDE_READING_STORED) && !(r[i].flags & VARDE_READING_HAS_TIME))
			abort();
		/* A time that is no time is never passed on as one. */
		if ((r[i].status & VARDE_STATUS_DEVICE_CLOCK_NOT_SET) &&
		    (r[i].flags & VARDE_READING_HAS_TIME))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct varde_reading r[PLXS_MAX_READINGS];
	struct plxs_continuous c;
	struct plxs_features f;
	struct racp_indication ind;
	struct plxs_spot s;

	if (plxs_spot_decode(data, size, &s) == 0) {
		check(r, plxs_spot_readings(&s, false, r));
		check(r, plxs_spot_readings(&s, true, r));
	}
	if (plxs_continuous_decode(data, size, &c) == 0)
		check(r, plxs_continuous_readings(&c, r));
	plxs_features_decode(data, size, &f);
	racp_decode(data, size, &ind);
	return 0;
}
