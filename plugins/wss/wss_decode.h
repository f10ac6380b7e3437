/* SPDX-License-Identifier: MIT */
/*
 * Weight Scale Service (0x181D) decoders: Weight Measurement (0x2A9D) into
 * varde readings, and Weight Scale Feature (0x2A9E).
 *
 * Pure functions: no host calls, no allocation, every read bounds-checked.
 */
#ifndef VARDE_WSS_DECODE_H
#define VARDE_WSS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <varde/plugin.h>

/* Flags bits reserved for future use: a newer device version may set them
 * and append fields after the ones this decoder knows. */
#define WSS_FLAGS_RESERVED 0xF0

/*
 * One decoded Weight Measurement: readings[0] is the body weight, followed
 * by BMI and body height (in that order) when the frame carries them. All
 * share time and user.
 */
struct wss_measurement {
	struct varde_reading readings[3];
	size_t n_readings;
	uint8_t flags; /* the Flags field as received, reserved bits included */
	size_t trailing; /* octets after the last field the flags announce */
	/* The time stamp had a field out of range: the reading carries no time
	 * and VARDE_STATUS_DEVICE_CLOCK_NOT_SET (plugins/common/timestamp.h). */
	bool time_out_of_range;
};

/*
 * Decodes a Weight Measurement. Returns 0, or -EBADMSG when the frame is
 * shorter than its flags announce; `out->n_readings` is then 0. Octets
 * after the announced fields are counted in `out->trailing` and otherwise
 * ignored (see README.md).
 */
int wss_decode_measurement(const uint8_t *data, size_t len, struct wss_measurement *out);

/* Weight Scale Feature: bit 0 time stamp, bit 1 multiple users, bit 2 BMI
 * supported; bits 3..6 weight and 7..9 height resolution codes. */
#define WSS_FEATURE_TIME_STAMP 0x00000001u
#define WSS_FEATURE_MULTIPLE_USERS 0x00000002u
#define WSS_FEATURE_BMI 0x00000004u
#define WSS_FEATURE_WEIGHT_RESOLUTION(f) (((f) >> 3) & 0x0Fu)
#define WSS_FEATURE_HEIGHT_RESOLUTION(f) (((f) >> 7) & 0x07u)

/* Decodes Weight Scale Feature (uint32 bit field). 0 or -EBADMSG. */
int wss_decode_feature(const uint8_t *data, size_t len, uint32_t *features);

#endif /* VARDE_WSS_DECODE_H */
