/* SPDX-License-Identifier: MIT */
/*
 * What happens to an accepted record, and to what the care side sends.
 *
 * A record goes into the readings history and then, in the same store
 * batch (one transaction, one fsync), into the outbox as:
 *  - a FHIR Observation on P/H/observation, for a patient's reading;
 *  - an event on P/H/event for a quarantined reading (no patient: never an
 *    observation) or a control-solution test (the meter's quality check,
 *    not the patient's glucose);
 * and a patient's reading is judged by the rules; every alert transition
 * goes into the outbox on P/H/alert. The uplink sends the outbox only after
 * the commit.
 *
 * The rule set is the one last accepted from P/H/rules/set (kept in the
 * store, so it survives restarts), else the file [hub] rules. A set pushed
 * on rules/set is validated first; the answer (accepted version or the
 * error naming the JSON path) is published retained on P/H/rules/state, and
 * a refused set leaves the active one in force. Acknowledgements arrive on
 * P/H/alert/ack as {"id": ALERT_ID, "by": WHO}. Rule changes and
 * acknowledgements go to the audit log. Alert state is saved to the store
 * once per loop batch, so a restart raises no alert twice.
 */
#ifndef VARDE_PIPELINE_H
#define VARDE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct config;
struct loop;
struct pipeline;
struct store;
struct uplink;

struct pipeline *pipeline_new(struct loop *loop, const struct config *cfg, struct store *store);
void pipeline_free(struct pipeline *p);
void pipeline_set_config(struct pipeline *p, const struct config *cfg);
/* The uplink for retained answers (rules/state); may be set after. */
void pipeline_set_uplink(struct pipeline *p, struct uplink *up);

/* An accepted record (ingest_record_func). */
void pipeline_record(const struct record *record, void *pipeline);
/* A message on an input topic (uplink_message_func). */
void pipeline_message(const char *topic_suffix, const void *payload, size_t len, void *pipeline);
/* A hub event for P/H/event: `type` such as "pairing-needed",
 * "device-connected"; `device` may be NULL. */
void pipeline_event(struct pipeline *p, const char *type, const char *device, const char *detail);

/* The active rule set's version, or NULL. */
const char *pipeline_rules_version(const struct pipeline *p);
/* The last rules/state answer (JSON), or NULL. */
const char *pipeline_rules_state(const struct pipeline *p);

/* Live view for an installer or nurse (vardectl watch): every record and
 * alert transition as a one-line JSON summary, `kind` "reading" or
 * "alert". */
typedef void (*pipeline_watch_func)(const char *kind, const char *json, void *user_data);
void pipeline_set_watch(struct pipeline *p, pipeline_watch_func cb, void *user_data);

/* The last reading of a device, for vardectl devices. */
struct pipeline_last {
	int64_t time_ms; /* 0: none yet */
	int32_t offset_s; /* the hub zone's UTC offset then */
	char text[160]; /* "spo2 94 %" */
	bool has_battery;
	double battery; /* % */
};
void pipeline_device_last(const struct pipeline *p, const char *address, struct pipeline_last *out);

#endif /* VARDE_PIPELINE_H */
