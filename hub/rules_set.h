/* SPDX-License-Identifier: MIT */
/*
 * The parsed rule set as the evaluator reads it, immutable once parsed.
 * Internal to hub/rules*.c; everyone else uses rules.h. The meaning of
 * every field is in config/RULES.md.
 */
#ifndef VARDE_RULES_SET_H
#define VARDE_RULES_SET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules.h"

#define RULESET_MAX_PATIENTS 64
#define RULESET_MAX_RULES 64 /* per list (defaults, each patient) */
#define RULE_MAX_CONDITIONS 4
#define BASELINE_MAX_DAYS 14
#define BASELINE_PER_HOUR 4 /* at most one sample per 15 minutes */

/* The metrics a rule set may name (config/RULES.md). Inputs may also use
 * the metric table's names (hub/metrics.h), mapped in rules.c. */
enum rule_metric {
	METRIC_NONE = -1,
	METRIC_BP_SYSTOLIC,
	METRIC_BP_DIASTOLIC,
	METRIC_BP_MEAN,
	METRIC_PULSE_RATE,
	METRIC_SPO2,
	METRIC_TEMPERATURE,
	METRIC_WEIGHT,
	METRIC_GLUCOSE,
	METRIC_HBA1C,
	METRIC_PEF,
	METRIC_FEV1,
	METRIC_BATTERY,
	METRIC_COUNT,
};

enum rule_type {
	RULE_THRESHOLD,
	RULE_CONFIRM,
	RULE_BASELINE,
	RULE_MISSING,
	RULE_NEWS2,
	RULE_BATTERY,
	RULE_DEVICE_SILENT,
	RULE_DEVICE_CLOCK,
	RULE_TYPE_COUNT,
};

/* A value is outside the band when < low or > high; an absent side is
 * -INFINITY or +INFINITY. */
struct rule_band {
	bool set;
	double low, high;
	unsigned int hits;
};

struct rule_condition {
	enum rule_metric metric;
	bool at_least; /* value >= limit; else value <= limit */
	double limit;
};

struct rule {
	char id[ALERT_RULE_MAX];
	enum rule_type type;
	enum rule_metric metric; /* METRIC_NONE for news2, confirm, device rules */
	char device[18]; /* device rules: upper-case address */
	enum alert_severity severity; /* rules with one severity */
	/* threshold; baseline and news2 use band[severity - 1] for hits */
	struct rule_band band[2]; /* [0] warning, [1] critical */
	double hysteresis;
	unsigned int clear_hits;
	int64_t window_ms; /* confirm, news2 */
	int64_t after_ms; /* missing, device_silent */
	/* confirm */
	struct rule_condition cond[RULE_MAX_CONDITIONS];
	size_t n_cond;
	unsigned int count;
	/* baseline */
	unsigned int days, min_samples;
	double change; /* > 0; a drop unless `rise` */
	bool rise;
	/* news2: total[i] / single[i] of band i, 0 when not used */
	int scale;
	unsigned int min_parameters;
	unsigned int total[2], single[2];
	/* battery */
	double below; /* NAN: only the device's battery-low flag */
};

struct ruleset_patient {
	char id[RECORD_NAME_MAX];
	struct rule *own;
	size_t n_own;
	/* own rules, then the defaults they do not override by id */
	const struct rule **effective;
	size_t n_effective;
};

struct ruleset {
	char version[ALERT_VERSION_MAX];
	struct rule *defaults;
	size_t n_defaults;
	const struct rule **default_effective; /* for patients not listed */
	struct ruleset_patient *patients;
	size_t n_patients;
};

/* The rules that apply to `patient` (the defaults when it is not listed). */
const struct rule *const *ruleset_rules_for(const struct ruleset *set, const char *patient,
					    size_t *n);

enum rule_metric rules_metric_from_name(const char *name);
const char *rules_metric_name(enum rule_metric metric);
const char *rule_type_name(enum rule_type type);
enum rule_type rule_type_from_name(const char *name); /* RULE_TYPE_COUNT: unknown */

#endif /* VARDE_RULES_SET_H */
