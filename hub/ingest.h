/* SPDX-License-Identifier: MIT */
/*
 * Ingest: a plugin's reading becomes a record (hub/record.h), or is refused.
 *
 * Validation. The metric must be known, its unit must fit it (the metric
 * table decides), a panel needs components and each must be valid. A
 * reading that fails is logged, counted and refused (-EINVAL): it never
 * becomes a number anywhere.
 *
 * Patient. The device's config section decides:
 *  - `patient` only: a single-patient device; every reading is that
 *    patient's, whatever user id the device reports (the installer bound
 *    the device, not a user slot).
 *  - `user.N` mappings: a reading with device user id N goes to its patient;
 *    a reading with an unmapped id, the 'unknown user' id, or no id at all
 *    (when there is no `patient` as well) is QUARANTINED: stored and
 *    reported as an event, never published as anyone's observation.
 *
 * Time. Device time is local wall-clock time without zone: it is placed in
 * the hub's zone (TZ; glibc picks the first of the two instants of the hour
 * that repeats when DST ends, and moves a time in the hour that is skipped
 * when it starts forward by one hour). When the device gives no time, an
 * incomplete one (year, month or day unknown), says its clock is not set,
 * or gives a time before 2000 or more than INGEST_FUTURE_SLACK_S ahead of
 * the hub, the receive time is used and the record says so
 * (RECORD_TIME_FROM_RECEIPT). The receive time is always kept.
 *
 * Device clock offset. hub/bluez.c measures how far a device's clock is off
 * when it connects, sets it, and reports the offset (status, vardectl
 * devices). Ingest does not shift device times by it: a stored record was
 * stamped when the clock may have been off by a different amount, and a
 * guessed correction would present a wrong time as right. A device that
 * says its clock is not set gets the receive time, flagged, as above.
 *
 * De-duplication. Devices resend stored records. A record's identity is its
 * sequence number and device time where it has them (both: a counter that
 * wraps or restarts after a battery change does not hide new records), plus
 * the metric. An identity seen before on the same device is dropped
 * silently (counted); the store keeps the identities. A reading with
 * neither sequence nor usable time cannot be recognised again and is
 * always taken.
 */
#ifndef VARDE_INGEST_H
#define VARDE_INGEST_H

#include <stdint.h>

#include <varde/plugin.h>

#include "record.h"

struct config;
struct device_sink;
struct ingest;
struct store;

#define INGEST_FUTURE_SLACK_S 3600

/* Receives each accepted record (quarantined ones included). */
typedef void (*ingest_record_func)(const struct record *record, void *user_data);

struct ingest *ingest_new(const struct config *cfg, struct store *store, ingest_record_func out,
			  void *user_data);
void ingest_free(struct ingest *in);
void ingest_set_config(struct ingest *in, const struct config *cfg);

/* Takes one reading of device `address` (as named in the config) from
 * `plugin`, received at `received_ms` (UTC ms). Returns 0 (accepted or a
 * duplicate), -EINVAL (malformed, refused), -ENODEV (device not bound), or
 * the store's error (the device will be asked again). */
int ingest_reading(struct ingest *in, const char *address, const char *device_name,
		   const char *plugin, const struct varde_reading *reading, int64_t received_ms);

/* The device sink plugins' readings and state go through (sink_data is the
 * struct ingest). */
const struct device_sink *ingest_sink(void);

struct ingest_stats {
	uint64_t accepted;
	uint64_t duplicates;
	uint64_t quarantined;
	uint64_t rejected;
};
void ingest_get_stats(const struct ingest *in, struct ingest_stats *out);

#endif /* VARDE_INGEST_H */
