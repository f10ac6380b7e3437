/* SPDX-License-Identifier: MIT */
/*
 * Blood Pressure Service (0x1810) decoders: Blood Pressure Measurement
 * (0x2A35) into varde readings, and Blood Pressure Feature (0x2A49).
 *
 * Pure functions: no host calls, no allocation, every read bounds-checked.
 * Intermediate Cuff Pressure (0x2A36) has no decoder on purpose: a cuff
 * pressure during inflation is not a measurement and never becomes a reading.
 */
#ifndef VARDE_BLS_DECODE_H
#define VARDE_BLS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <varde/plugin.h>

/* Flags bits reserved for future use: a newer device version may set them
 * and append fields after the ones this decoder knows. */
#define BLS_BPM_FLAGS_RESERVED 0xE0

/* Index of each part in bls_measurement.components. */
enum bls_component {
	BLS_SYSTOLIC = 0,
	BLS_DIASTOLIC = 1,
	BLS_MEAN = 2,
	BLS_N_COMPONENTS = 3,
};

/*
 * One decoded Blood Pressure Measurement. readings[0] is the compound blood
 * pressure (its `components` points into this struct), readings[1] the
 * pulse rate when the frame carries one; both share time, user and status.
 * The struct points into itself: submit from the struct that was decoded
 * into, do not copy it.
 */
struct bls_measurement {
	struct varde_reading readings[2];
	size_t n_readings;
	struct varde_component components[BLS_N_COMPONENTS];
	uint8_t flags; /* the Flags field as received, reserved bits included */
	size_t trailing; /* octets after the last field the flags announce */
	/* The time stamp had a field out of range: the readings carry no time
	 * and VARDE_STATUS_DEVICE_CLOCK_NOT_SET (plugins/common/timestamp.h). */
	bool time_out_of_range;
};

/*
 * Decodes a Blood Pressure Measurement. Returns 0, or -EBADMSG when the
 * frame is shorter than its flags announce; `out->n_readings` is then 0.
 * Octets after the announced fields are counted in `out->trailing` and
 * otherwise ignored (see README.md).
 */
int bls_decode_measurement(const uint8_t *data, size_t len, struct bls_measurement *out);

/* Decodes Blood Pressure Feature (uint16 bit field). 0 or -EBADMSG. */
int bls_decode_feature(const uint8_t *data, size_t len, uint16_t *features);

#endif /* VARDE_BLS_DECODE_H */
