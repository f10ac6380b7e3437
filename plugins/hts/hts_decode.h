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
 * One decoded Temperature Measurement. The measurement site (Temperature
 * Type) has no place in struct varde_reading, so it is returned beside it
 * for the driver to log.
 */
struct hts_measurement {
	struct varde_reading reading;
	bool has_site;
	uint8_t site; /* Temperature Type code, see hts_site_name() */
	uint8_t flags; /* the Flags field as received, reserved bits included */
	size_t trailing; /* octets after the last field the flags announce */
};

/*
 * Decodes a Temperature Measurement. Returns 0, or -EBADMSG when the frame
 * is shorter than its flags announce or its time stamp is not a valid Date
 * Time. Octets after the announced fields are counted in `out->trailing`
 * and otherwise ignored (see README.md).
 */
int hts_decode_measurement(const uint8_t *data, size_t len, struct hts_measurement *out);

/* The name of a Temperature Type code ("armpit" ...), or NULL for a code
 * the specification reserves. */
const char *hts_site_name(uint8_t site);

#endif /* VARDE_HTS_DECODE_H */
