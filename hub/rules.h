/* SPDX-License-Identifier: MIT */
/*
 * Clinical rules: a versioned JSON rule set (format in config/RULES.md)
 * and the evaluator that turns a patient's readings into alerts for the
 * care team.
 *
 * The evaluator judges values already converted to the hub's canonical
 * units (mmHg, /min, %, Cel, kg, mmol/L); turning a record into a
 * `struct rule_input` is the caller's job. It never reads a clock: every
 * call carries its time, so that behaviour is the same in tests, after a
 * restart and when a meter uploads readings from last week.
 *
 * Alert lifecycle per patient and rule: none -> raised -> (updated:
 * severity changed)* -> cleared, with 'acknowledged' possible while it is
 * active. Every transition is handed to the caller's emit callback, which
 * stores and publishes it. What a nurse needs to act on is emitted; a
 * further out-of-band reading of an active alert is not (it only extends
 * the alert's evidence), so that alerts stay few.
 *
 * Single-threaded, like the rest of the hub.
 */
#ifndef VARDE_RULES_H
#define VARDE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

/* ---- rule sets --------------------------------------------------------- */

struct ruleset;

/* Parses and validates a rule set. On error returns NULL and writes to
 * `err` one line naming the JSON path and the problem, e.g.
 * "patients.p-4f1c9a.rules[2].critical.low: expected a number". */
struct ruleset *ruleset_parse(const char *json, size_t len, char *err, size_t errlen);
void ruleset_free(struct ruleset *set);
/* The care side's version, as given (an integer is printed in decimal). */
const char *ruleset_version(const struct ruleset *set);

/* ---- alerts ------------------------------------------------------------ */

#define ALERT_ID_MAX 128
#define ALERT_RULE_MAX 33 /* rule ids are at most 32 bytes */
#define ALERT_VERSION_MAX 65
#define ALERT_REASON_MAX 256
#define ALERT_MAX_EVIDENCE 8 /* observation ids kept, the newest */

enum alert_severity {
	ALERT_WARNING = 1,
	ALERT_CRITICAL = 2,
};

enum alert_state {
	ALERT_RAISED,
	ALERT_UPDATED, /* severity changed */
	ALERT_CLEARED,
	ALERT_ACKNOWLEDGED,
};

/* One alert transition: plain data, valid for the duration of the emit
 * call (copy what you keep). */
struct alert {
	/* "<patient>:<rule>:<raised_ms>": unique, and the same for one alert
	 * across its transitions and across restarts. */
	char id[ALERT_ID_MAX];
	char patient[RECORD_NAME_MAX];
	char rule[ALERT_RULE_MAX];
	char rule_type[16]; /* "threshold", "confirm", ... as in the rule set */
	char ruleset_version[ALERT_VERSION_MAX];
	char metric[16]; /* metric name, empty for device rules */
	char device[18]; /* device address, empty for patient rules */
	enum alert_severity severity;
	enum alert_state state;
	char reason_nb[ALERT_REASON_MAX]; /* Norwegian (bokmål) */
	char reason_en[ALERT_REASON_MAX];
	char acked_by[RECORD_NAME_MAX]; /* empty unless acknowledged */
	char evidence[ALERT_MAX_EVIDENCE][RECORD_ID_MAX]; /* record ids, oldest first */
	size_t n_evidence;
	int64_t raised_ms; /* UTC ms since the epoch */
	int64_t changed_ms; /* when this transition happened */
	int64_t acked_ms; /* 0 unless acknowledged */
};

const char *alert_severity_name(enum alert_severity severity);
const char *alert_state_name(enum alert_state state);
/* The alert as published on the MQTT alert topic (schema in
 * config/RULES.md); malloc'd, or NULL when out of memory. */
char *alert_to_json(const struct alert *alert);

/* ---- the evaluator ----------------------------------------------------- */

/* One value of one reading. A blood pressure reading is several inputs
 * (bp_systolic, bp_diastolic, ...) with the same time_ms: inputs of one
 * patient with equal time_ms are parts of one measurement. */
struct rule_input {
	const char *patient; /* pseudonym; NULL: only device health is judged */
	/* A rule-set metric name ("spo2", ... config/RULES.md) or the metric
	 * table's name ("body_temperature", "glucose_capillary_plasma", ...) */
	const char *metric_name;
	double value; /* canonical unit; ignored when special */
	bool special; /* no number: NaN, NRes, or beyond the device's range */
	/* +1: above every band (+INF, glucose 'result too high'), -1: below
	 * every band, 0: neither. Judged although `special`. */
	int beyond;
	uint32_t status; /* enum varde_status bits */
	int64_t time_ms; /* when measured: UTC ms since the epoch */
	/* When the hub received it (0: time_ms). Device health judges the
	 * device by when it was seen, not by when its stored readings were
	 * taken. */
	int64_t received_ms;
	bool time_from_receipt; /* RECORD_TIME_FROM_RECEIPT: device time unusable */
	const char *observation_id; /* the record id, may be NULL */
	const char *device_address; /* may be NULL */
};

struct rules;

typedef void (*rules_emit_func)(const struct alert *alert, void *user_data);

#define RULES_NO_DEADLINE INT64_MAX

struct rules *rules_new(void);
void rules_free(struct rules *rules);

/*
 * Makes `set` the active rule set; the engine takes ownership (also on
 * error). Alert state of a rule whose id still exists for that patient with
 * the same type and subject (metric or device) is kept; an active alert
 * whose rule disappeared or changed type or subject is cleared with the
 * reason 'rule removed' (emitted). A new 'missing' or 'device_silent' rule
 * starts its clock at `now_ms`.
 */
int rules_set_ruleset(struct rules *rules, struct ruleset *set, int64_t now_ms,
		      rules_emit_func emit, void *user_data);
const struct ruleset *rules_ruleset(const struct rules *rules);

/* Judges one input. Returns 0, or -EINVAL for an input without a time or
 * with a metric name the rules do not know (device health is judged even
 * then). */
int rules_evaluate(struct rules *rules, const struct rule_input *in, rules_emit_func emit,
		   void *user_data);

/* A nurse acknowledged alert `alert_id`. Returns 0 (and emits
 * 'acknowledged'), -ENOENT when no such alert is active, -EALREADY. */
int rules_ack(struct rules *rules, const char *alert_id, const char *by, int64_t now_ms,
	      rules_emit_func emit, void *user_data);

/* Raises the time-driven alerts (missing measurement, device not seen) due
 * at `now_ms`. Call it when rules_next_deadline() passes: the hub arms one
 * timer, there is no polling. Returns the number of alerts emitted. */
int rules_tick(struct rules *rules, int64_t now_ms, rules_emit_func emit, void *user_data);
/* The earliest instant rules_tick() has work, or RULES_NO_DEADLINE. It
 * changes after every other call. */
int64_t rules_next_deadline(const struct rules *rules);

/*
 * Alert and evaluator state as JSON text, for the store (malloc'd, NULL
 * when out of memory). Loading it after a restart, before the first
 * rules_set_ruleset(), restores active alerts (so no duplicate 'raised'),
 * acknowledgements, hit counters, baselines and the missing-measurement
 * clocks. rules_state_load returns 0, -EINVAL (not state JSON) or -EBUSY
 * (a rule set is already active).
 */
char *rules_state_save(const struct rules *rules);
int rules_state_load(struct rules *rules, const char *json, size_t len);

#endif /* VARDE_RULES_H */
