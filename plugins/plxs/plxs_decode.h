/* SPDX-License-Identifier: MIT */
/*
 * Pulse Oximeter Service (0x1822) decoders: PLX Spot-check Measurement
 * (0x2A5E), PLX Continuous Measurement (0x2A5F), PLX Features (0x2A60), and
 * the conversion into varde readings. Pure functions: no host calls.
 *
 * Frame length: a frame shorter than its flags announce is -EBADMSG and
 * nothing of it is used. Bytes after the last announced field are ignored
 * (a later version of the profile may append fields).
 */
#ifndef VARDE_PLXS_DECODE_H
#define VARDE_PLXS_DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <varde/plugin.h>

/* Spot-check flags */
#define PLXS_SPOT_TIMESTAMP 0x01
#define PLXS_SPOT_MEAS_STATUS 0x02
#define PLXS_SPOT_DEVICE_STATUS 0x04
#define PLXS_SPOT_PAI 0x08
#define PLXS_SPOT_CLOCK_NOT_SET 0x10

/* Continuous flags */
#define PLXS_CONT_FAST 0x01
#define PLXS_CONT_SLOW 0x02
#define PLXS_CONT_MEAS_STATUS 0x04
#define PLXS_CONT_DEVICE_STATUS 0x08
#define PLXS_CONT_PAI 0x10

/* Supported features */
#define PLXS_FEAT_MEAS_STATUS 0x0001
#define PLXS_FEAT_DEVICE_STATUS 0x0002
#define PLXS_FEAT_STORAGE 0x0004
#define PLXS_FEAT_TIMESTAMP 0x0008
#define PLXS_FEAT_FAST 0x0010
#define PLXS_FEAT_SLOW 0x0020
#define PLXS_FEAT_PAI 0x0040
#define PLXS_FEAT_MULTIPLE_BONDS 0x0080

/* Measurement status bits used by the mapping */
#define PLXS_MS_ONGOING 0x0020
#define PLXS_MS_EARLY_ESTIMATE 0x0040
#define PLXS_MS_VALIDATED 0x0080
#define PLXS_MS_FULLY_QUALIFIED 0x0100
#define PLXS_MS_FROM_STORAGE 0x0200
#define PLXS_MS_DEMO 0x0400
#define PLXS_MS_TESTING 0x0800
#define PLXS_MS_CALIBRATION 0x1000
#define PLXS_MS_UNAVAILABLE 0x2000
#define PLXS_MS_QUESTIONABLE 0x4000
#define PLXS_MS_INVALID 0x8000

/* Device and sensor status bits (24-bit field) */
#define PLXS_DS_DISPLAY_UPDATE 0x000001
#define PLXS_DS_EQUIPMENT_MALFUNCTION 0x000002
#define PLXS_DS_SIGNAL_IRREGULARITY 0x000004
#define PLXS_DS_INADEQUATE_SIGNAL 0x000008
#define PLXS_DS_POOR_SIGNAL 0x000010
#define PLXS_DS_LOW_PERFUSION 0x000020
#define PLXS_DS_ERRATIC_SIGNAL 0x000040
#define PLXS_DS_NONPULSATILE 0x000080
#define PLXS_DS_QUESTIONABLE_PULSE 0x000100
#define PLXS_DS_ANALYSIS_ONGOING 0x000200
#define PLXS_DS_INTERFERENCE 0x000400
#define PLXS_DS_UNCONNECTED 0x000800
#define PLXS_DS_UNKNOWN_SENSOR 0x001000
#define PLXS_DS_DISPLACED 0x002000
#define PLXS_DS_SENSOR_MALFUNCTION 0x004000
#define PLXS_DS_DISCONNECTED 0x008000

struct plxs_spot {
	uint8_t flags;
	struct varde_value spo2;
	struct varde_value pulse_rate;
	/* PLXS_SPOT_TIMESTAMP; has_time is false and time_out_of_range true
	 * when a field is out of range (no time rather than a wrong one). */
	bool has_time;
	bool time_out_of_range;
	struct varde_datetime time;
	uint16_t meas_status;
	uint32_t device_status;
	struct varde_value pai;
};

struct plxs_continuous {
	uint8_t flags;
	struct varde_value spo2, pulse_rate; /* normal */
	struct varde_value spo2_fast, pulse_rate_fast; /* PLXS_CONT_FAST */
	struct varde_value spo2_slow, pulse_rate_slow; /* PLXS_CONT_SLOW */
	uint16_t meas_status;
	uint32_t device_status;
	struct varde_value pai;
};

struct plxs_features {
	uint16_t features;
	uint16_t meas_status_support; /* PLXS_FEAT_MEAS_STATUS */
	uint32_t device_status_support; /* PLXS_FEAT_DEVICE_STATUS */
};

/* Return 0 or -EBADMSG (short frame). */
int plxs_spot_decode(const uint8_t *data, size_t len, struct plxs_spot *out);
int plxs_continuous_decode(const uint8_t *data, size_t len, struct plxs_continuous *out);
int plxs_features_decode(const uint8_t *data, size_t len, struct plxs_features *out);

/* varde status bits of a measurement status and a device/sensor status,
 * for the SpO2 reading. */
uint32_t plxs_status_map(uint16_t meas_status, uint32_t device_status);
/* The pulse rate's: the same plus what concerns only the pulse. */
uint32_t plxs_pulse_status_map(uint16_t meas_status, uint32_t device_status);

/* The readings of one measurement: SpO2, pulse rate, and PAI if present. */
#define PLXS_MAX_READINGS 3

/*
 * Readings of a spot-check measurement; `stored` marks a record downloaded
 * from the device memory. Returns the number of readings written to `r`:
 * 0 for a stored record without a usable time (no timestamp, a field out
 * of range, or the device clock not set), which cannot be placed in time.
 */
size_t plxs_spot_readings(const struct plxs_spot *m, bool stored,
			  struct varde_reading r[PLXS_MAX_READINGS]);
/* Readings of a continuous measurement: the normal SpO2/PR pair and PAI
 * (fast and slow averages are decoded but not published). */
size_t plxs_continuous_readings(const struct plxs_continuous *m,
				struct varde_reading r[PLXS_MAX_READINGS]);

#endif /* VARDE_PLXS_DECODE_H */
