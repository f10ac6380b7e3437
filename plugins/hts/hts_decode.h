/* SPDX-License-Identifier: MIT */
/*
 * Health Thermometer Service (0x1809) decoder: Temperature Measurement
 * (0x2A1C) into a varde reading.
 *
 * Pure functions: no host calls, no allocation, every read bounds-checked.
 * Intermediate Temperature (0x2A1E) has no decoder on purpose: a reading
 * that is still settling is not a measurement.
 */
#ifndef VARDE_HTS_DECODE_H
#define VARDE_HTS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <varde/plugin.h>

/* Flags bits reserved for future use: a newer device version may set them
 * and append fields after the ones this decoder knows. */
#define HTS_FLAGS_RESERVED 0xF8

/*
 * One decoded Temperature Measurement. The Temperature Type field, when
 * present, is the reading's `site`; its code is also returned, so that the
 * driver can report a reserved one.
 */
struct hts_measurement {
	struct varde_reading reading;
	bool has_type;
	uint8_t type; /* Temperature Type code as received */
	uint8_t flags; /* the Flags field as received, reserved bits included */
	size_t trailing; /* octets after the last field the flags announce */
	/* The time stamp had a field out of range: the reading carries no time
	 * and VARDE_STATUS_DEVICE_CLOCK_NOT_SET (plugins/common/timestamp.h). */
	bool time_out_of_range;
};

/*
 * Decodes a Temperature Measurement. Returns 0, or -EBADMSG when the frame
 * is shorter than its flags announce. Octets after the announced fields are
 * counted in `out->trailing` and otherwise ignored (see README.md).
 */
int hts_decode_measurement(const uint8_t *data, size_t len, struct hts_measurement *out);

/* The measurement site (enum varde_site) of a Temperature Type code, or
 * VARDE_SITE_NONE for a code the specification reserves. */
uint32_t hts_site_from_type(uint8_t type);

/* Decodes the Temperature Type characteristic (0x2A1D, uint8), the fixed
 * site of a thermometer that leaves the field out of its measurements.
 * 0 or -EBADMSG. */
int hts_decode_temperature_type(const uint8_t *data, size_t len, uint8_t *type);

#endif /* VARDE_HTS_DECODE_H */
