/* SPDX-License-Identifier: MIT */
/*
 * The hub's status document: what a technician or the care platform needs
 * to see that the hub works (P/H/status, retained; vardectl status).
 *
 *   {"hub": ID, "state": "online", "version": V, "time": ISO-8601,
 *    "uplink": {"connected", "in_flight", "sent", "acked", "last_error"},
 *    "store": {"health", "detail", "backlog", "evicted", "held"},
 *    "bluetooth": {"bluetoothd", "known", "connected", "drivers",
 *                  "ignored_devices", "notifications"},
 *    "devices": [{"address", "name", "patients", "connected", "paired",
 *                 "last_seen_s_ago", "clock_offset_s", "last_reading",
 *                 "last_reading_time", "battery"}],
 *    "plugins": [{"name", "state", "reason"}],
 *    "readings": {"accepted", "duplicates", "quarantined", "rejected"},
 *    "rules": {"version"}, "pairing_needed": [ADDRESS...]}
 *
 * Publishing is rate-limited: a change marks the document stale and it is
 * sent at most once per STATUS_MIN_INTERVAL_MS; an idle hub sends nothing.
 */
#ifndef VARDE_STATUS_H
#define VARDE_STATUS_H

struct bluez;
struct config;
struct ingest;
struct loop;
struct pipeline;
struct plugin_set;
struct status;
struct store;
struct uplink;

#define STATUS_MIN_INTERVAL_MS 10000

struct status_sources {
	const struct config *cfg;
	const struct plugin_set *plugins;
	const struct bluez *bluez;
	struct store *store;
	const struct uplink *uplink;
	const struct ingest *ingest;
	const struct pipeline *pipeline;
};

typedef void (*status_publish_func)(const char *json, void *user_data);

struct status *status_new(struct loop *loop, const struct status_sources *sources,
			  status_publish_func publish, void *user_data);
void status_free(struct status *st);
/* Sources changed (a reload): the pointers are copied. */
void status_set_sources(struct status *st, const struct status_sources *sources);

/* Something in the document changed: publish it soon. */
void status_changed(struct status *st);
/* A device asked for a passkey (listed until it pairs or the hub restarts). */
void status_pairing_needed(struct status *st, const char *address);

/* The document now, malloc'd JSON. */
char *status_json(struct status *st);

/* For vardectl (malloc'd JSON): the bound devices with their patients,
 * last reading, battery and clock offset; the last `n` readings of
 * `patient` (NULL: everyone) from the store; the rule set's state. */
char *status_devices_json(struct status *st);
char *status_history_json(struct status *st, const char *patient, unsigned int n);
char *status_rules_json(struct status *st);
/* The last `n` audit log entries, oldest first (malloc'd JSON). */
char *status_audit_json(struct status *st, unsigned int n);

#endif /* VARDE_STATUS_H */
