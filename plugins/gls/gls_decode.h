/* SPDX-License-Identifier: MIT */
/*
 * Glucose Service (0x1808) decoders: Glucose Measurement (0x2A18) and
 * Glucose Measurement Context (0x2A34), and their conversion into a varde
 * reading. Pure functions: no host calls.
 *
 * Frame length: a frame shorter than its flags announce is -EBADMSG and
 * nothing of it is used. Bytes after the last announced field are ignored,
 * because a later version of the profile may append fields and a client
 * must still read the fields it knows.
 */
#ifndef VARDE_GLS_DECODE_H
#define VARDE_GLS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <varde/plugin.h>

/* Glucose Measurement flags */
#define GLS_MEAS_TIME_OFFSET 0x01
#define GLS_MEAS_CONCENTRATION 0x02
#define GLS_MEAS_UNIT_MOL_PER_L 0x04
#define GLS_MEAS_STATUS 0x08
#define GLS_MEAS_CONTEXT_FOLLOWS 0x10

/* Glucose Measurement Context flags */
#define GLS_CTX_CARBOHYDRATE 0x01
#define GLS_CTX_MEAL 0x02
#define GLS_CTX_TESTER_HEALTH 0x04
#define GLS_CTX_EXERCISE 0x08
#define GLS_CTX_MEDICATION 0x10
#define GLS_CTX_MEDICATION_LITRES 0x20
#define GLS_CTX_HBA1C 0x40
#define GLS_CTX_EXTENDED_FLAGS 0x80

/* Sample type 10: a control-solution test, never the patient's glucose. */
#define GLS_TYPE_CONTROL_SOLUTION 10

/* Sensor Status Annunciation bits (Glucose Service 1.0, 3.106.3). */
#define GLS_ST_BATTERY_LOW 0x0001
#define GLS_ST_SENSOR_MALFUNCTION 0x0002
#define GLS_ST_SAMPLE_SIZE 0x0004
#define GLS_ST_STRIP_INSERTION 0x0008
#define GLS_ST_STRIP_TYPE 0x0010
#define GLS_ST_RESULT_TOO_HIGH 0x0020
#define GLS_ST_RESULT_TOO_LOW 0x0040
#define GLS_ST_TEMP_TOO_HIGH 0x0080
#define GLS_ST_TEMP_TOO_LOW 0x0100
#define GLS_ST_READ_INTERRUPTED 0x0200
#define GLS_ST_DEVICE_FAULT 0x0400
#define GLS_ST_TIME_FAULT 0x0800

struct gls_measurement {
	uint8_t flags;
	uint16_t sequence;
	/* Base time + time offset. has_time is false when the base time has a
	 * field out of range (time_out_of_range), or has an unknown date while
	 * an offset must be applied, or the offset leaves the calendar: such a
	 * record has no time rather than a wrong one, and its reading carries
	 * VARDE_STATUS_DEVICE_CLOCK_NOT_SET. */
	bool has_time;
	bool time_out_of_range;
	struct varde_datetime time;
	int16_t time_offset; /* minutes; 0 when absent */
	/* GLS_MEAS_CONCENTRATION */
	struct varde_value concentration;
	uint32_t unit; /* VARDE_UNIT_KG_PER_L or VARDE_UNIT_MOL_PER_L */
	uint8_t type; /* low nibble of the type-location byte */
	uint8_t location; /* high nibble */
	/* GLS_MEAS_STATUS */
	uint16_t annunciation;
};

struct gls_context {
	uint8_t flags;
	uint16_t sequence;
	uint8_t extended_flags; /* reserved by the spec; decoded, not used */
	uint8_t carbohydrate_id;
	struct varde_value carbohydrate; /* kg, as the spec defines it */
	uint8_t meal;
	uint8_t tester; /* low nibble of the tester-health byte */
	uint8_t health; /* high nibble */
	uint16_t exercise_duration; /* s; 0xFFFF means overrun */
	uint8_t exercise_intensity; /* % */
	uint8_t medication_id;
	struct varde_value medication; /* kg or L (GLS_CTX_MEDICATION_LITRES) */
	struct varde_value hba1c; /* % */
};

/* Return 0 or -EBADMSG (short frame). */
int gls_measurement_decode(const uint8_t *data, size_t len, struct gls_measurement *out);
int gls_context_decode(const uint8_t *data, size_t len, struct gls_context *out);

/* varde status bits for a Sensor Status Annunciation field. */
uint32_t gls_status_from_annunciation(uint16_t annunciation);

/* The metric of a sample type; VARDE_METRIC_NONE for reserved types. */
uint32_t gls_metric_from_type(uint8_t type);

/* The site (enum varde_site) of a sample location; VARDE_SITE_NONE for
 * "control solution" (the sample type says so), "not available" and
 * reserved locations. */
uint32_t gls_site_from_location(uint8_t location);

/* Glucose reading + context components: at most this many components. */
#define GLS_MAX_COMPONENTS 10

/*
 * Builds the reading for a measurement and its context (ctx may be NULL),
 * its site from the sample location and, without a usable time,
 * VARDE_STATUS_DEVICE_CLOCK_NOT_SET instead of a time.
 * `components` must have room for GLS_MAX_COMPONENTS; the reading points
 * into it. Returns 0, or -ENODATA when the record carries nothing to
 * publish (no concentration, or a reserved sample type, and no result
 * too high/low).
 */
int gls_reading_build(const struct gls_measurement *m, const struct gls_context *ctx, bool stored,
		      struct varde_reading *r, struct varde_component *components);

#endif /* VARDE_GLS_DECODE_H */
