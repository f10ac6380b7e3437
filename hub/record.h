/* SPDX-License-Identifier: MIT */
/*
 * A reading as the hub keeps it after ingest: attributed to a patient (or
 * quarantined), its time resolved to an instant, its identity fixed. Plain
 * data with no pointers, so it can be copied and stored as it is. The
 * value keeps the device's unit and precision; conversion to the units the
 * hub publishes and judges in is the metric table's job (hub/metrics.h).
 */
#ifndef VARDE_RECORD_H
#define VARDE_RECORD_H

#include <stdint.h>

#include <varde/plugin.h>

#define RECORD_MAX_COMPONENTS 16
/* hub id (64) + address (12) + identity (64) + separators */
#define RECORD_ID_MAX 160
#define RECORD_NAME_MAX 65 /* ids (hub, patient, plugin) are at most 64 bytes */

enum record_flags {
	/* The device gave no usable time (unknown, absurd, or its clock is not
	 * set): `effective_ms` is the receive time. */
	RECORD_TIME_FROM_RECEIPT = 1u << 0,
	/* No patient could be determined (unmapped device user): stored and
	 * reported as an event, never published as anyone's observation. */
	RECORD_QUARANTINED = 1u << 1,
};

struct record {
	/* Stable across resends and restarts; the FHIR Observation
	 * identifier, usable for conditional create downstream. */
	char id[RECORD_ID_MAX];
	char hub_id[RECORD_NAME_MAX];
	char patient[RECORD_NAME_MAX]; /* empty when quarantined */
	char device_address[18];
	char device_name[64];
	char plugin[RECORD_NAME_MAX];

	uint32_t metric; /* enum varde_metric */
	uint32_t unit; /* enum varde_unit, as the device reported */
	struct varde_value value;
	uint32_t status; /* enum varde_status */
	uint32_t reading_flags; /* enum varde_reading_flags */
	uint32_t user_id;
	uint32_t sequence;
	uint32_t site; /* enum varde_site */
	struct varde_datetime device_time;
	uint32_t n_components;
	struct varde_component components[RECORD_MAX_COMPONENTS];

	int64_t effective_ms; /* when measured: UTC, ms since the epoch */
	int32_t effective_offset_s; /* the hub zone's UTC offset at that instant */
	int64_t received_ms; /* when the hub received it */
	int32_t received_offset_s;
	uint32_t flags; /* enum record_flags */
};

#endif /* VARDE_RECORD_H */
