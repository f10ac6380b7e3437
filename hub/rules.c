/* SPDX-License-Identifier: MIT */
/*
 * The rule evaluator: per patient and rule one instance that holds the
 * rule's alert and what the rule needs to remember (hit counters, the
 * baseline samples, the latest NEWS2 parameters, the last time a metric or
 * device was seen). Semantics and their reasons are in config/RULES.md.
 */
#include "rules.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "news2.h"
#include "rules_set.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define RULES_MAX_PATIENTS 128
#define CONFIRM_MAX 8
#define MINUTE_MS (60 * 1000LL)
#define HOUR_MS (60 * MINUTE_MS)
#define DAY_MS (24 * HOUR_MS)
#define BASELINE_SPACING_MS (HOUR_MS / BASELINE_PER_HOUR)

struct metric_text {
	const char *name, *nb, *en, *unit;
	int decimals;
};

/* Names as in hub/metrics.h; labels and units for the alert reasons. */
static const struct metric_text metrics[METRIC_COUNT] = {
	[METRIC_BP_SYSTOLIC] = {"bp_systolic", "Systolisk blodtrykk", "Systolic blood pressure",
				"mmHg", 0},
	[METRIC_BP_DIASTOLIC] = {"bp_diastolic", "Diastolisk blodtrykk", "Diastolic blood pressure",
				 "mmHg", 0},
	[METRIC_BP_MEAN] = {"bp_mean", "Middelblodtrykk", "Mean arterial pressure", "mmHg", 0},
	[METRIC_PULSE_RATE] = {"pulse_rate", "Puls", "Pulse", "/min", 0},
	[METRIC_SPO2] = {"spo2", "SpO2", "SpO2", "%", 0},
	[METRIC_TEMPERATURE] = {"temperature", "Temperatur", "Temperature", "°C", 1},
	[METRIC_WEIGHT] = {"weight", "Vekt", "Weight", "kg", 1},
	[METRIC_GLUCOSE] = {"glucose", "Glukose", "Glucose", "mmol/L", 1},
	[METRIC_HBA1C] = {"hba1c", "HbA1c", "HbA1c", "", 1},
	[METRIC_PEF] = {"pef", "PEF", "PEF", "L/min", 0},
	[METRIC_FEV1] = {"fev1", "FEV1", "FEV1", "L", 2},
	[METRIC_BATTERY] = {"battery", "Batteri", "Battery", "%", 0},
};

static const char *const type_names[RULE_TYPE_COUNT] = {
	[RULE_THRESHOLD] = "threshold",
	[RULE_CONFIRM] = "confirm",
	[RULE_BASELINE] = "baseline",
	[RULE_MISSING] = "missing",
	[RULE_NEWS2] = "news2",
	[RULE_BATTERY] = "battery",
	[RULE_DEVICE_SILENT] = "device_silent",
	[RULE_DEVICE_CLOCK] = "device_clock",
};

enum rule_metric rules_metric_from_name(const char *name)
{
	for (int i = 0; i < METRIC_COUNT; i++)
		if (strcmp(metrics[i].name, name) == 0)
			return (enum rule_metric)i;
	return METRIC_NONE;
}

/* The metric table's names for inputs (hub/metrics.h): one rule metric may
 * stand for several device metrics. A control-solution test is not the
 * patient's glucose and has no alias. */
static const struct {
	const char *name;
	enum rule_metric metric;
} aliases[] = {
	{"pulse_rate_oximeter", METRIC_PULSE_RATE},
	{"body_temperature", METRIC_TEMPERATURE},
	{"body_weight", METRIC_WEIGHT},
	{"glucose_capillary_whole_blood", METRIC_GLUCOSE},
	{"glucose_capillary_plasma", METRIC_GLUCOSE},
	{"glucose_venous_whole_blood", METRIC_GLUCOSE},
	{"glucose_venous_plasma", METRIC_GLUCOSE},
	{"glucose_arterial_whole_blood", METRIC_GLUCOSE},
	{"glucose_arterial_plasma", METRIC_GLUCOSE},
	{"glucose_undetermined_whole_blood", METRIC_GLUCOSE},
	{"glucose_undetermined_plasma", METRIC_GLUCOSE},
	{"glucose_isf", METRIC_GLUCOSE},
	{"peak_expiratory_flow", METRIC_PEF},
	{"battery_level", METRIC_BATTERY},
};

static enum rule_metric input_metric(const char *name)
{
	enum rule_metric m = rules_metric_from_name(name);

	for (size_t i = 0; m == METRIC_NONE && i < ARRAY_SIZE(aliases); i++)
		if (strcmp(aliases[i].name, name) == 0)
			m = aliases[i].metric;
	return m;
}

const char *rules_metric_name(enum rule_metric metric)
{
	return metric > METRIC_NONE && metric < METRIC_COUNT ? metrics[metric].name : "";
}

const char *rule_type_name(enum rule_type type)
{
	return type < RULE_TYPE_COUNT ? type_names[type] : "";
}

enum rule_type rule_type_from_name(const char *name)
{
	for (int i = 0; i < RULE_TYPE_COUNT; i++)
		if (strcmp(type_names[i], name) == 0)
			return (enum rule_type)i;
	return RULE_TYPE_COUNT;
}

/* ---- state ------------------------------------------------------------- */

enum { PARAM_SPO2, PARAM_SYSTOLIC, PARAM_PULSE, PARAM_TEMPERATURE, PARAM_COUNT };

struct sample {
	int64_t t;
	double v;
};

struct timed_obs {
	int64_t t;
	double v;
	char obs[RECORD_ID_MAX];
};

/* One rule applied to one patient. */
struct inst {
	const struct rule *rule; /* NULL: loaded from state, not yet matched */
	/* Identity, kept apart from `rule` so that state loaded after a
	 * restart can be matched to the rule set that comes later. */
	char id[ALERT_RULE_MAX];
	enum rule_type type;
	enum rule_metric metric;
	char device[18];

	int level; /* 0 or enum alert_severity */
	/* The alert while `level` is set; before that its evidence collects
	 * the current run of out-of-band readings. */
	struct alert alert;
	unsigned int hit[2], ok[2]; /* consecutive out / back-in readings per band */
	int64_t seen_ms; /* missing, device_silent: last seen */

	/* confirm: positive measurements inside the window, and the
	 * measurement (equal time_ms) being assembled */
	struct timed_obs pos[CONFIRM_MAX];
	size_t n_pos;
	int64_t cur_t;
	bool cur_pos;
	unsigned int cur_mask;

	/* baseline: time-ordered ring */
	struct sample *samples;
	size_t cap, head, n_samples;
	double median;
	bool median_valid;

	struct timed_obs param[PARAM_COUNT]; /* news2; t == 0: none */
	bool low_level, low_flag; /* battery */
};

struct patient {
	char id[RECORD_NAME_MAX];
	struct inst *insts;
	size_t n;
};

struct rules {
	struct ruleset *set;
	struct patient *patients;
	size_t n_patients;
};

struct ctx {
	struct rules *rules;
	rules_emit_func emit;
	void *user_data;
	int emitted;
};

/* ---- text -------------------------------------------------------------- */

/* Replaces what is not UTF-8 (and control characters) by '?' and drops a
 * sequence cut short at the end, so that every string is valid JSON. */
static void sanitize_utf8(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		size_t need = 0;
		unsigned char lo = 0x80, hi = 0xbf;

		if (*p < 0x20 || *p == 0x7f) {
			*p++ = '?';
			continue;
		}
		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf)
			need = 1;
		else if (*p >= 0xe0 && *p <= 0xef)
			need = 2, lo = *p == 0xe0 ? 0xa0 : 0x80, hi = *p == 0xed ? 0x9f : 0xbf;
		else if (*p >= 0xf0 && *p <= 0xf4)
			need = 3, lo = *p == 0xf0 ? 0x90 : 0x80, hi = *p == 0xf4 ? 0x8f : 0xbf;
		size_t i = 1;
		for (; i <= need && p[i]; i++) {
			if (p[i] < (i == 1 ? lo : 0x80) || p[i] > (i == 1 ? hi : 0xbf))
				break;
		}
		if (need && i > need) {
			p += i;
		} else if (need && !p[i]) {
			*p = '\0'; /* truncated at the end */
		} else {
			*p++ = '?';
		}
	}
}

static void copy_text(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
	sanitize_utf8(dst);
}

static void fmt_value(char *buf, size_t n, enum rule_metric m, double v, bool nb)
{
	const struct metric_text *mi = &metrics[m];
	char *c;

	if (isinf(v)) {
		snprintf(buf, n, "%s",
			 v > 0 ? (nb ? "over måleområdet" : "above measuring range")
			       : (nb ? "under måleområdet" : "below measuring range"));
		return;
	}
	snprintf(buf, n, "%.*f%s%s", mi->decimals, v, mi->unit[0] ? " " : "", mi->unit);
	/* Bokmål writes a decimal comma. */
	if (nb && (c = strchr(buf, '.')))
		*c = ',';
}

static void fmt_duration(char *buf, size_t n, int64_t ms, bool nb)
{
	if (ms % DAY_MS == 0 && ms >= 7 * DAY_MS)
		snprintf(buf, n, "%lld %s", (long long)(ms / DAY_MS), nb ? "døgn" : "days");
	else if (ms % HOUR_MS == 0)
		snprintf(buf, n, "%lld %s", (long long)(ms / HOUR_MS), nb ? "t" : "h");
	else
		snprintf(buf, n, "%lld min", (long long)(ms / MINUTE_MS));
}

struct reason {
	char nb[ALERT_REASON_MAX], en[ALERT_REASON_MAX];
};

/* ---- alerts ------------------------------------------------------------ */

static void evidence_add(struct alert *a, const char *obs)
{
	if (!obs || !obs[0])
		return;
	for (size_t i = 0; i < a->n_evidence; i++)
		if (strcmp(a->evidence[i], obs) == 0)
			return;
	if (a->n_evidence == ALERT_MAX_EVIDENCE) {
		memmove(a->evidence[0], a->evidence[1],
			sizeof(a->evidence[0]) * (ALERT_MAX_EVIDENCE - 1));
		a->n_evidence--;
	}
	copy_text(a->evidence[a->n_evidence++], RECORD_ID_MAX, obs);
}

static void notify(struct ctx *c, struct inst *in, enum alert_state state, int64_t t)
{
	in->alert.state = state;
	in->alert.changed_ms = t;
	copy_text(in->alert.ruleset_version, sizeof(in->alert.ruleset_version),
		  c->rules->set ? c->rules->set->version : "");
	c->emitted++;
	if (c->emit)
		c->emit(&in->alert, c->user_data);
}

/* Moves the instance to `level` (0: none), emitting the transition. */
static void transition(struct ctx *c, const struct patient *pt, struct inst *in, int level,
		       int64_t t, const struct reason *why)
{
	struct alert *a = &in->alert;
	enum alert_state state;
	int old = in->level;

	if (level == old)
		return;
	if (!old) {
		snprintf(a->id, sizeof(a->id), "%s:%s:%lld", pt->id, in->id, (long long)t);
		copy_text(a->patient, sizeof(a->patient), pt->id);
		copy_text(a->rule, sizeof(a->rule), in->id);
		copy_text(a->rule_type, sizeof(a->rule_type), rule_type_name(in->type));
		copy_text(a->metric, sizeof(a->metric), rules_metric_name(in->metric));
		copy_text(a->device, sizeof(a->device), in->device);
		a->acked_by[0] = '\0';
		a->acked_ms = 0;
		a->raised_ms = t;
		state = ALERT_RAISED;
	} else if (!level) {
		state = ALERT_CLEARED;
	} else {
		state = ALERT_UPDATED;
		/* Worse than what the nurse acknowledged: ask again. */
		if (level > old) {
			a->acked_by[0] = '\0';
			a->acked_ms = 0;
		}
	}
	in->level = level;
	if (level)
		a->severity = (enum alert_severity)level;
	copy_text(a->reason_nb, sizeof(a->reason_nb), why->nb);
	copy_text(a->reason_en, sizeof(a->reason_en), why->en);
	notify(c, in, state, t);
	if (!level) {
		memset(a, 0, sizeof(*a));
		in->hit[0] = in->hit[1] = 0;
	}
}

/*
 * The hit/hysteresis machine shared by threshold, baseline and news2.
 * out[b]: the reading is outside band b (0 warning, 1 critical); in[b]: it
 * is back inside band b by the hysteresis margin. An unset band is never
 * out and always in.
 */
static int band_step(struct inst *in, const struct rule *r, const bool out[2], const bool back[2])
{
	for (int b = 0; b < 2; b++) {
		in->hit[b] = out[b] ? in->hit[b] + 1 : 0;
		in->ok[b] = back[b] ? in->ok[b] + 1 : 0;
	}
	if (r->band[1].set && in->hit[1] >= r->band[1].hits)
		return ALERT_CRITICAL;
	switch (in->level) {
	case 0:
		return r->band[0].set && in->hit[0] >= r->band[0].hits ? ALERT_WARNING : 0;
	case ALERT_WARNING:
		return in->ok[0] >= r->clear_hits ? 0 : ALERT_WARNING;
	default:
		if (in->ok[1] < r->clear_hits)
			return ALERT_CRITICAL;
		return in->ok[0] >= r->clear_hits ? 0 : ALERT_WARNING;
	}
}

/* While no alert is active the evidence is the current run of out-of-band
 * readings; an in-band reading ends the run. */
static void track_evidence(struct inst *in, const bool out[2], const char *obs)
{
	if (out[0] || out[1])
		evidence_add(&in->alert, obs);
	else if (!in->level)
		in->alert.n_evidence = 0;
}

static void count_text(struct reason *why, unsigned int n)
{
	size_t lnb = strlen(why->nb), len = strlen(why->en);

	if (n == 1) {
		snprintf(why->nb + lnb, sizeof(why->nb) - lnb, " (1 måling)");
		snprintf(why->en + len, sizeof(why->en) - len, " (1 reading)");
	} else {
		snprintf(why->nb + lnb, sizeof(why->nb) - lnb, " (%u målinger på rad)", n);
		snprintf(why->en + len, sizeof(why->en) - len, " (%u consecutive readings)", n);
	}
}

/* ---- threshold ---------------------------------------------------------- */

static void eval_threshold(struct ctx *c, const struct patient *pt, struct inst *in, double v,
			   const char *obs, int64_t t)
{
	const struct rule *r = in->rule;
	const struct metric_text *mi = &metrics[r->metric];
	bool out[2], back[2];
	struct reason why;
	char vnb[48], ven[48], lnb[48], len[48];
	int level;

	for (int b = 0; b < 2; b++) {
		const struct rule_band *band = &r->band[b];

		out[b] = band->set && (v < band->low || v > band->high);
		back[b] = !band->set ||
			  (v >= band->low + r->hysteresis && v <= band->high - r->hysteresis);
	}
	track_evidence(in, out, obs);
	level = band_step(in, r, out, back);
	if (level == in->level)
		return;
	fmt_value(vnb, sizeof(vnb), r->metric, v, true);
	fmt_value(ven, sizeof(ven), r->metric, v, false);
	if (!level) {
		snprintf(why.nb, sizeof(why.nb), "%s %s innenfor grensene igjen", mi->nb, vnb);
		snprintf(why.en, sizeof(why.en), "%s %s back within limits", mi->en, ven);
	} else {
		const struct rule_band *band = &r->band[level - 1];
		bool low = band->low > -INFINITY &&
			   (band->high == INFINITY || v < (band->low + band->high) / 2);
		double limit = low ? band->low : band->high;
		bool beyond = out[level - 1];
		const char *kind_nb = level == ALERT_CRITICAL ? "kritisk grense" : "varselgrense";
		const char *kind_en = level == ALERT_CRITICAL ? "critical limit" : "warning limit";

		fmt_value(lnb, sizeof(lnb), r->metric, limit, true);
		fmt_value(len, sizeof(len), r->metric, limit, false);
		/* A de-escalation can happen inside the warning band's
		 * hysteresis margin: then the value is no longer beyond. */
		snprintf(why.nb, sizeof(why.nb), "%s %s %s%s %s %s", mi->nb, vnb,
			 beyond ? "" : "nær ", low ? "under" : "over", kind_nb, lnb);
		snprintf(why.en, sizeof(why.en), "%s %s %s%s %s %s", mi->en, ven,
			 beyond ? "" : "near ", low ? "below" : "above", kind_en, len);
		if (beyond)
			count_text(&why, in->hit[level - 1]);
	}
	transition(c, pt, in, level, t, &why);
}

/* ---- baseline ----------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static int baseline_median(struct inst *in, double *median)
{
	double *tmp;
	size_t n = in->n_samples;

	if (in->median_valid) {
		*median = in->median;
		return 0;
	}
	tmp = malloc(n * sizeof(*tmp));
	if (!tmp)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		tmp[i] = in->samples[(in->head + i) % in->cap].v;
	qsort(tmp, n, sizeof(*tmp), cmp_double);
	in->median = n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
	in->median_valid = true;
	free(tmp);
	*median = in->median;
	return 0;
}

static void baseline_push(struct inst *in, int64_t t, double v)
{
	if (!in->cap) /* its allocation failed: judge without learning */
		return;
	if (in->n_samples == in->cap) {
		in->head = (in->head + 1) % in->cap;
		in->n_samples--;
	}
	in->samples[(in->head + in->n_samples) % in->cap] = (struct sample){t, v};
	in->n_samples++;
	in->median_valid = false;
}

/* Gives the ring room for `cap` samples, keeping the newest. */
static int baseline_resize(struct inst *in, size_t cap)
{
	struct sample *s;
	size_t keep = in->n_samples < cap ? in->n_samples : cap;

	if (cap == in->cap)
		return 0;
	s = calloc(cap, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (size_t i = 0; i < keep; i++)
		s[i] = in->samples[(in->head + in->n_samples - keep + i) % in->cap];
	free(in->samples);
	in->samples = s;
	in->cap = cap;
	in->head = 0;
	in->n_samples = keep;
	in->median_valid = false;
	return 0;
}

static void eval_baseline(struct ctx *c, const struct patient *pt, struct inst *in, double v,
			  const char *obs, int64_t t)
{
	const struct rule *r = in->rule;
	const struct metric_text *mi = &metrics[r->metric];
	const struct sample *last;
	double median, diff;
	bool out[2], back[2];
	struct reason why;
	char vnb[48], ven[48], mnb[48], men[48];
	int level;

	while (in->n_samples && in->samples[in->head].t < t - (int64_t)r->days * DAY_MS) {
		in->head = (in->head + 1) % in->cap;
		in->n_samples--;
		in->median_valid = false;
	}
	if (in->n_samples >= r->min_samples && baseline_median(in, &median) == 0) {
		diff = r->rise ? v - median : median - v;
		for (int b = 0; b < 2; b++) {
			out[b] = r->band[b].set && diff >= r->change;
			back[b] = !r->band[b].set || diff < r->change - r->hysteresis;
		}
		track_evidence(in, out, obs);
		level = band_step(in, r, out, back);
		if (level != in->level) {
			fmt_value(vnb, sizeof(vnb), r->metric, v, true);
			fmt_value(ven, sizeof(ven), r->metric, v, false);
			fmt_value(mnb, sizeof(mnb), r->metric, median, true);
			fmt_value(men, sizeof(men), r->metric, median, false);
			if (level) {
				snprintf(why.nb, sizeof(why.nb),
					 "%s %s, %s eget %u-døgns median %s med %.*f", mi->nb, vnb,
					 r->rise ? "over" : "under", r->days, mnb, mi->decimals,
					 fabs(v - median));
				snprintf(why.en, sizeof(why.en),
					 "%s %s, %.*f %s own %u-day median %s", mi->en, ven,
					 mi->decimals, fabs(v - median),
					 r->rise ? "above" : "below", r->days, men);
				count_text(&why, in->hit[level - 1]);
			} else {
				snprintf(why.nb, sizeof(why.nb),
					 "%s %s, nær eget %u-døgns median %s igjen", mi->nb, vnb,
					 r->days, mnb);
				snprintf(why.en, sizeof(why.en),
					 "%s %s, back near own %u-day median %s", mi->en, ven,
					 r->days, men);
			}
			transition(c, pt, in, level, t, &why);
		}
	}
	/* At most BASELINE_PER_HOUR samples an hour: memory stays bounded
	 * and a continuous oximeter weighs no more than a spot check. */
	last = in->n_samples ? &in->samples[(in->head + in->n_samples - 1) % in->cap] : NULL;
	if (!last || t >= last->t + BASELINE_SPACING_MS)
		baseline_push(in, t, v);
}

/* ---- confirm ------------------------------------------------------------ */

static void eval_confirm(struct ctx *c, const struct patient *pt, struct inst *in,
			 enum rule_metric m, double v, const char *obs, int64_t t)
{
	const struct rule *r = in->rule;
	const struct rule_condition *cond = NULL;
	unsigned int bit = 0, all = (1u << r->n_cond) - 1;
	struct reason why;
	bool meets;

	for (size_t i = 0; i < r->n_cond; i++) {
		if (r->cond[i].metric == m) {
			cond = &r->cond[i];
			bit = 1u << i;
		}
	}
	if (!cond)
		return;
	meets = cond->at_least ? v >= cond->limit : v <= cond->limit;
	if (t != in->cur_t) {
		in->cur_t = t;
		in->cur_pos = false;
		in->cur_mask = 0;
	}
	in->cur_mask |= bit;
	if (meets && !in->cur_pos) {
		size_t keep = 0;

		in->cur_pos = true;
		for (size_t i = 0; i < in->n_pos; i++)
			if (in->pos[i].t >= t - r->window_ms)
				in->pos[keep++] = in->pos[i];
		in->n_pos = keep;
		if (in->n_pos == CONFIRM_MAX)
			memmove(&in->pos[0], &in->pos[1], sizeof(in->pos[0]) * --in->n_pos);
		in->pos[in->n_pos].t = t;
		in->pos[in->n_pos].v = v;
		copy_text(in->pos[in->n_pos].obs, RECORD_ID_MAX, obs);
		in->n_pos++;
		if (in->level) {
			evidence_add(&in->alert, obs);
		} else if (in->n_pos >= r->count) {
			const struct metric_text *mi = &metrics[m];
			char vnb[48], ven[48], lnb[48], len[48], dnb[32], den[32];

			in->alert.n_evidence = 0;
			for (size_t i = 0; i < in->n_pos; i++)
				evidence_add(&in->alert, in->pos[i].obs);
			fmt_value(vnb, sizeof(vnb), m, v, true);
			fmt_value(ven, sizeof(ven), m, v, false);
			fmt_value(lnb, sizeof(lnb), m, cond->limit, true);
			fmt_value(len, sizeof(len), m, cond->limit, false);
			fmt_duration(dnb, sizeof(dnb), r->window_ms, true);
			fmt_duration(den, sizeof(den), r->window_ms, false);
			snprintf(why.nb, sizeof(why.nb),
				 "%s %s %s %s, bekreftet av %zu målinger innen %s", mi->nb, vnb,
				 cond->at_least ? "≥" : "≤", lnb, in->n_pos, dnb);
			snprintf(why.en, sizeof(why.en),
				 "%s %s %s %s, confirmed by %zu readings within %s", mi->en, ven,
				 cond->at_least ? "≥" : "≤", len, in->n_pos, den);
			transition(c, pt, in, r->severity, t, &why);
		}
	}
	/* A measurement clears only when every metric of the rule was
	 * measured in it and none met its limit. */
	if (!in->cur_pos && in->cur_mask == all) {
		in->n_pos = 0;
		if (in->level) {
			evidence_add(&in->alert, obs);
			snprintf(why.nb, sizeof(why.nb), "Ny måling innenfor grensene");
			snprintf(why.en, sizeof(why.en), "New reading within limits");
			transition(c, pt, in, 0, t, &why);
		}
	}
}

/* ---- missing, device health --------------------------------------------- */

static void eval_missing(struct ctx *c, const struct patient *pt, struct inst *in, const char *obs,
			 int64_t t, int64_t received)
{
	const struct metric_text *mi = &metrics[in->metric];
	struct reason why;

	if (t > in->seen_ms)
		in->seen_ms = t;
	/* A reading from before the deadline that arrives late (a meter's
	 * memory) shows the alert was wrong; a week-old one does not. */
	if (!in->level || in->seen_ms + in->rule->after_ms <= received)
		return;
	evidence_add(&in->alert, obs);
	snprintf(why.nb, sizeof(why.nb), "Ny måling av %s", mi->nb);
	snprintf(why.en, sizeof(why.en), "New %s reading", mi->en);
	transition(c, pt, in, 0, received, &why);
}

static void eval_device(struct ctx *c, const struct patient *pt, struct inst *in,
			const struct rule_input *ri, enum rule_metric m, int64_t received)
{
	const struct rule *r = in->rule;
	struct reason why;
	bool bad;

	switch (in->type) {
	case RULE_BATTERY:
		if (m == METRIC_BATTERY && !isnan(r->below) && (!ri->special || ri->beyond)) {
			double v = ri->beyond ? ri->beyond * INFINITY : ri->value;

			in->low_level = v < r->below + (in->low_level ? r->hysteresis : 0);
		}
		in->low_flag = ri->status & VARDE_STATUS_BATTERY_LOW;
		bad = in->low_level || in->low_flag;
		if (bad && m == METRIC_BATTERY && !ri->special) {
			snprintf(why.nb, sizeof(why.nb), "Lavt batteri på enhet %s (%.0f %%)",
				 in->device, ri->value);
			snprintf(why.en, sizeof(why.en), "Low battery on device %s (%.0f %%)",
				 in->device, ri->value);
		} else if (bad) {
			snprintf(why.nb, sizeof(why.nb), "Lavt batteri på enhet %s", in->device);
			snprintf(why.en, sizeof(why.en), "Low battery on device %s", in->device);
		} else {
			snprintf(why.nb, sizeof(why.nb), "Batteriet på enhet %s er i orden igjen",
				 in->device);
			snprintf(why.en, sizeof(why.en), "Battery of device %s is fine again",
				 in->device);
		}
		break;
	case RULE_DEVICE_CLOCK:
		bad = (ri->status & VARDE_STATUS_DEVICE_CLOCK_NOT_SET) || ri->time_from_receipt;
		if (bad) {
			snprintf(why.nb, sizeof(why.nb),
				 "Klokken på enhet %s er ikke stilt; mottakstid brukt", in->device);
			snprintf(why.en, sizeof(why.en),
				 "Clock of device %s is not set; receive time used", in->device);
		} else {
			snprintf(why.nb, sizeof(why.nb), "Klokken på enhet %s er i orden igjen",
				 in->device);
			snprintf(why.en, sizeof(why.en), "Clock of device %s is fine again",
				 in->device);
		}
		break;
	case RULE_DEVICE_SILENT:
		if (received > in->seen_ms)
			in->seen_ms = received;
		bad = false;
		snprintf(why.nb, sizeof(why.nb), "Enhet %s sett igjen", in->device);
		snprintf(why.en, sizeof(why.en), "Device %s seen again", in->device);
		break;
	default:
		return;
	}
	if (bad == !!in->level)
		return;
	evidence_add(&in->alert, ri->observation_id);
	transition(c, pt, in, bad ? (int)r->severity : 0, received, &why);
}

/* ---- news2 -------------------------------------------------------------- */

static int news2_param(enum rule_metric m)
{
	switch (m) {
	case METRIC_SPO2:
		return PARAM_SPO2;
	case METRIC_BP_SYSTOLIC:
		return PARAM_SYSTOLIC;
	case METRIC_PULSE_RATE:
		return PARAM_PULSE;
	case METRIC_TEMPERATURE:
		return PARAM_TEMPERATURE;
	default:
		return -1;
	}
}

static void eval_news2(struct ctx *c, const struct patient *pt, struct inst *in, int param,
		       double v, const char *obs, int64_t t)
{
	static const char *const nb_names[] = {"SpO2", "systolisk", "puls", "temperatur"};
	static const char *const en_names[] = {"SpO2", "systolic", "pulse", "temperature"};
	const struct rule *r = in->rule;
	int score[PARAM_COUNT], total = 0, single = 0, level = 0;
	unsigned int used = 0;
	int64_t newest = 0;
	bool out[2], back[2];
	struct reason why;
	size_t lnb, len;

	if (!in->param[param].t || t >= in->param[param].t) {
		in->param[param].t = t;
		in->param[param].v = v;
		copy_text(in->param[param].obs, RECORD_ID_MAX, obs);
	}
	for (int p = 0; p < PARAM_COUNT; p++)
		if (in->param[p].t > newest)
			newest = in->param[p].t;
	for (int p = 0; p < PARAM_COUNT; p++) {
		double x = in->param[p].v;

		score[p] = -1;
		if (!in->param[p].t || in->param[p].t < newest - r->window_ms)
			continue;
		score[p] = p == PARAM_SPO2	 ? news2_spo2(r->scale, x)
			   : p == PARAM_SYSTOLIC ? news2_systolic(x)
			   : p == PARAM_PULSE	 ? news2_pulse(x)
						 : news2_temperature(x);
		total += score[p];
		if (score[p] > single)
			single = score[p];
		used++;
	}
	if (used < r->min_parameters)
		return;
	for (int b = 1; b >= 0 && !level; b--)
		if ((r->total[b] && total >= (int)r->total[b]) ||
		    (r->single[b] && single >= (int)r->single[b]))
			level = b + 1;
	for (int b = 0; b < 2; b++) {
		out[b] = r->band[b].set && level > b;
		back[b] = !out[b];
	}
	if (level) {
		/* The evidence is the set of readings the score is made of. */
		in->alert.n_evidence = in->level ? in->alert.n_evidence : 0;
		for (int p = 0; p < PARAM_COUNT; p++)
			if (score[p] >= 0)
				evidence_add(&in->alert, in->param[p].obs);
	} else if (!in->level) {
		in->alert.n_evidence = 0;
	}
	level = band_step(in, r, out, back);
	if (level == in->level)
		return;
	snprintf(why.nb, sizeof(why.nb), "Delvis NEWS2 %d (skala %d:", total, r->scale);
	snprintf(why.en, sizeof(why.en), "Partial NEWS2 %d (scale %d:", total, r->scale);
	for (int p = 0, first = 1; p < PARAM_COUNT; p++) {
		if (score[p] < 0)
			continue;
		lnb = strlen(why.nb);
		len = strlen(why.en);
		snprintf(why.nb + lnb, sizeof(why.nb) - lnb, "%s %s %d", first ? "" : ",",
			 nb_names[p], score[p]);
		snprintf(why.en + len, sizeof(why.en) - len, "%s %s %d", first ? "" : ",",
			 en_names[p], score[p]);
		first = 0;
	}
	lnb = strlen(why.nb);
	len = strlen(why.en);
	snprintf(why.nb + lnb, sizeof(why.nb) - lnb, ")%s", level ? "" : " under varselnivå");
	snprintf(why.en + len, sizeof(why.en) - len, ")%s", level ? "" : " below alert level");
	transition(c, pt, in, level, t, &why);
}

/* ---- instances and patients --------------------------------------------- */

static void inst_release(struct inst *in)
{
	free(in->samples);
	in->samples = NULL;
}

static int inst_init(struct inst *in, const struct rule *r, int64_t now)
{
	memset(in, 0, sizeof(*in));
	in->rule = r;
	copy_text(in->id, sizeof(in->id), r->id);
	in->type = r->type;
	in->metric = r->metric;
	copy_text(in->device, sizeof(in->device), r->device);
	in->seen_ms = now;
	if (r->type == RULE_BASELINE)
		return baseline_resize(in, (size_t)r->days * 24 * BASELINE_PER_HOUR);
	return 0;
}

static bool inst_matches(const struct inst *in, const struct rule *r)
{
	return strcmp(in->id, r->id) == 0 && in->type == r->type && in->metric == r->metric &&
	       strcmp(in->device, r->device) == 0;
}

static struct patient *patient_find(struct rules *rules, const char *id)
{
	for (size_t i = 0; i < rules->n_patients; i++)
		if (strcmp(rules->patients[i].id, id) == 0)
			return &rules->patients[i];
	return NULL;
}

static struct patient *patient_add(struct rules *rules, const char *id)
{
	struct patient *p;

	if (rules->n_patients == RULES_MAX_PATIENTS || strlen(id) >= RECORD_NAME_MAX)
		return NULL;
	p = realloc(rules->patients, (rules->n_patients + 1) * sizeof(*p));
	if (!p)
		return NULL;
	rules->patients = p;
	p = &rules->patients[rules->n_patients++];
	memset(p, 0, sizeof(*p));
	strcpy(p->id, id);
	return p;
}

static void patient_release(struct patient *p)
{
	for (size_t i = 0; i < p->n; i++)
		inst_release(&p->insts[i]);
	free(p->insts);
	p->insts = NULL;
	p->n = 0;
}

/*
 * Gives `p` one instance per rule of `set` for it, keeping the state of
 * instances whose rule still exists and clearing the alerts of those whose
 * rule went away.
 */
static int patient_apply(struct ctx *c, struct patient *p, const struct ruleset *set, int64_t now)
{
	const struct rule *const *list;
	struct inst *insts;
	size_t *match, n;
	bool *taken;
	int err = 0;

	list = ruleset_rules_for(set, p->id, &n);
	insts = calloc(n ? n : 1, sizeof(*insts));
	match = calloc(n ? n : 1, sizeof(*match));
	taken = calloc(p->n ? p->n : 1, sizeof(*taken));
	if (!insts || !match || !taken)
		err = -ENOMEM;
	/* First everything that can fail, so that a failure changes nothing. */
	for (size_t i = 0; i < n && !err; i++) {
		size_t j;

		for (j = 0; j < p->n; j++)
			if (!taken[j] && inst_matches(&p->insts[j], list[i]))
				break;
		match[i] = j;
		if (j < p->n)
			taken[j] = true;
		else
			err = inst_init(&insts[i], list[i], now);
	}
	if (err) {
		for (size_t i = 0; insts && i < n; i++)
			inst_release(&insts[i]);
		free(insts);
		free(match);
		free(taken);
		return err;
	}
	for (size_t i = 0; i < n; i++) {
		if (match[i] == p->n)
			continue;
		insts[i] = p->insts[match[i]];
		insts[i].rule = list[i];
		/* On failure the ring keeps its old capacity: still bounded. */
		if (list[i]->type == RULE_BASELINE)
			baseline_resize(&insts[i], (size_t)list[i]->days * 24 * BASELINE_PER_HOUR);
	}
	for (size_t j = 0; j < p->n; j++) {
		struct inst *old = &p->insts[j];
		struct reason why = {"Regelen er fjernet", "Rule removed"};

		if (taken[j])
			continue;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(list[i]->id, old->id) == 0) {
				snprintf(why.nb, sizeof(why.nb), "Regelen er endret");
				snprintf(why.en, sizeof(why.en), "Rule changed");
			}
		}
		transition(c, p, old, 0, now, &why);
		inst_release(old);
	}
	free(p->insts);
	free(match);
	free(taken);
	p->insts = insts;
	p->n = n;
	return 0;
}

struct rules *rules_new(void)
{
	return calloc(1, sizeof(struct rules));
}

void rules_free(struct rules *rules)
{
	if (!rules)
		return;
	for (size_t i = 0; i < rules->n_patients; i++)
		patient_release(&rules->patients[i]);
	free(rules->patients);
	ruleset_free(rules->set);
	free(rules);
}

const struct ruleset *rules_ruleset(const struct rules *rules)
{
	return rules ? rules->set : NULL;
}

int rules_set_ruleset(struct rules *rules, struct ruleset *set, int64_t now_ms,
		      rules_emit_func emit, void *user_data)
{
	struct ctx c = {rules, emit, user_data, 0};
	struct ruleset *old;
	size_t keep = 0;
	int err = 0;

	if (!rules || !set) {
		ruleset_free(set);
		return -EINVAL;
	}
	old = rules->set;
	/* Alerts cleared here carry the new version: it removed the rule. */
	rules->set = set;
	for (size_t i = 0; i < set->n_patients; i++)
		if (!patient_find(rules, set->patients[i].id) &&
		    !patient_add(rules, set->patients[i].id))
			err = -ENOMEM;
	for (size_t i = 0; i < rules->n_patients; i++) {
		int r = patient_apply(&c, &rules->patients[i], set, now_ms);

		if (r)
			err = r;
	}
	ruleset_free(old);
	/* Patients that have no rules any more need no state. */
	for (size_t i = 0; i < rules->n_patients; i++) {
		if (rules->patients[i].n)
			rules->patients[keep++] = rules->patients[i];
		else
			patient_release(&rules->patients[i]);
	}
	rules->n_patients = keep;
	return err;
}

/* ---- evaluation --------------------------------------------------------- */

int rules_evaluate(struct rules *rules, const struct rule_input *in, rules_emit_func emit,
		   void *user_data)
{
	struct ctx c = {rules, emit, user_data, 0};
	enum rule_metric m;
	struct patient *pt;
	int64_t received;
	bool usable;
	double v;
	int param;

	if (!rules || !in || !in->metric_name || !in->time_ms)
		return -EINVAL;
	m = input_metric(in->metric_name);
	received = in->received_ms ? in->received_ms : in->time_ms;
	if (in->device_address && in->device_address[0]) {
		for (size_t i = 0; i < rules->n_patients; i++) {
			struct patient *p = &rules->patients[i];

			for (size_t j = 0; j < p->n; j++)
				if (p->insts[j].rule && p->insts[j].device[0] &&
				    strcasecmp(p->insts[j].device, in->device_address) == 0)
					eval_device(&c, p, &p->insts[j], in, m, received);
		}
	}
	if (m == METRIC_NONE)
		return -EINVAL;
	if (!rules->set || !in->patient || !in->patient[0])
		return 0;
	pt = patient_find(rules, in->patient);
	if (!pt) {
		size_t n;

		ruleset_rules_for(rules->set, in->patient, &n);
		if (!n)
			return 0;
		pt = patient_add(rules, in->patient);
		if (!pt)
			return -ENOMEM;
		if (patient_apply(&c, pt, rules->set, received) < 0) {
			rules->n_patients--;
			return -ENOMEM;
		}
	}
	/* A flagged reading neither raises nor clears, and a value the device
	 * could not give is no evidence unless it is beyond its range. */
	usable = !(in->status & VARDE_STATUS_QUALITY_MASK) &&
		 (in->beyond || (!in->special && isfinite(in->value)));
	if (!usable)
		return 0;
	v = in->beyond > 0 ? INFINITY : in->beyond < 0 ? -INFINITY : in->value;
	param = news2_param(m);
	for (size_t j = 0; j < pt->n; j++) {
		struct inst *inst = &pt->insts[j];

		switch (inst->type) {
		case RULE_THRESHOLD:
			if (inst->metric == m)
				eval_threshold(&c, pt, inst, v, in->observation_id, in->time_ms);
			break;
		case RULE_BASELINE:
			/* A baseline needs numbers: a result beyond the
			 * device's range is for the threshold rules. */
			if (inst->metric == m && isfinite(v))
				eval_baseline(&c, pt, inst, v, in->observation_id, in->time_ms);
			break;
		case RULE_MISSING:
			if (inst->metric == m)
				eval_missing(&c, pt, inst, in->observation_id, in->time_ms,
					     received);
			break;
		case RULE_CONFIRM:
			for (size_t k = 0; k < inst->rule->n_cond; k++)
				if (inst->rule->cond[k].metric == m)
					eval_confirm(&c, pt, inst, m, v, in->observation_id,
						     in->time_ms);
			break;
		case RULE_NEWS2:
			if (param >= 0 && isfinite(v))
				eval_news2(&c, pt, inst, param, v, in->observation_id, in->time_ms);
			break;
		default:
			break;
		}
	}
	return 0;
}

int rules_ack(struct rules *rules, const char *alert_id, const char *by, int64_t now_ms,
	      rules_emit_func emit, void *user_data)
{
	struct ctx c = {rules, emit, user_data, 0};

	if (!rules || !alert_id)
		return -EINVAL;
	for (size_t i = 0; i < rules->n_patients; i++) {
		struct patient *p = &rules->patients[i];

		for (size_t j = 0; j < p->n; j++) {
			struct inst *in = &p->insts[j];

			if (!in->level || strcmp(in->alert.id, alert_id) != 0)
				continue;
			if (in->alert.acked_ms)
				return -EALREADY;
			copy_text(in->alert.acked_by, sizeof(in->alert.acked_by),
				  by && by[0] ? by : "?");
			in->alert.acked_ms = now_ms;
			notify(&c, in, ALERT_ACKNOWLEDGED, now_ms);
			return 0;
		}
	}
	return -ENOENT;
}

static bool timed(const struct inst *in)
{
	return in->rule && !in->level &&
	       (in->type == RULE_MISSING || in->type == RULE_DEVICE_SILENT);
}

int rules_tick(struct rules *rules, int64_t now_ms, rules_emit_func emit, void *user_data)
{
	struct ctx c = {rules, emit, user_data, 0};

	if (!rules)
		return 0;
	for (size_t i = 0; i < rules->n_patients; i++) {
		struct patient *p = &rules->patients[i];

		for (size_t j = 0; j < p->n; j++) {
			struct inst *in = &p->insts[j];
			int64_t due = in->seen_ms + (in->rule ? in->rule->after_ms : 0);
			struct reason why;
			char dnb[32], den[32];

			if (!timed(in) || due > now_ms)
				continue;
			fmt_duration(dnb, sizeof(dnb), in->rule->after_ms, true);
			fmt_duration(den, sizeof(den), in->rule->after_ms, false);
			if (in->type == RULE_MISSING) {
				snprintf(why.nb, sizeof(why.nb), "Ingen måling av %s på %s",
					 metrics[in->metric].nb, dnb);
				snprintf(why.en, sizeof(why.en), "No %s reading for %s",
					 metrics[in->metric].en, den);
			} else {
				snprintf(why.nb, sizeof(why.nb), "Enhet %s ikke sett på %s",
					 in->device, dnb);
				snprintf(why.en, sizeof(why.en), "Device %s not seen for %s",
					 in->device, den);
			}
			/* Raised as of the deadline: the same id whenever the
			 * tick comes, also after a restart. */
			transition(&c, p, in, in->rule->severity, due, &why);
		}
	}
	return c.emitted;
}

int64_t rules_next_deadline(const struct rules *rules)
{
	int64_t next = RULES_NO_DEADLINE;

	if (!rules)
		return next;
	for (size_t i = 0; i < rules->n_patients; i++) {
		const struct patient *p = &rules->patients[i];

		for (size_t j = 0; j < p->n; j++)
			if (timed(&p->insts[j]) &&
			    p->insts[j].seen_ms + p->insts[j].rule->after_ms < next)
				next = p->insts[j].seen_ms + p->insts[j].rule->after_ms;
	}
	return next;
}

/* ---- alert JSON --------------------------------------------------------- */

const char *alert_severity_name(enum alert_severity severity)
{
	return severity == ALERT_CRITICAL ? "critical" : "warning";
}

const char *alert_state_name(enum alert_state state)
{
	switch (state) {
	case ALERT_RAISED:
		return "raised";
	case ALERT_UPDATED:
		return "updated";
	case ALERT_CLEARED:
		return "cleared";
	case ALERT_ACKNOWLEDGED:
		return "acknowledged";
	}
	return "unknown";
}

static json_t *iso_time(int64_t ms)
{
	time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
	char buf[64];
	struct tm tm;

	if (!gmtime_r(&s, &tm))
		return json_null();
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 (int)(ms - (int64_t)s * 1000));
	return json_string(buf);
}

static json_t *evidence_json(const struct alert *a)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < a->n_evidence && i < ALERT_MAX_EVIDENCE; i++)
		json_array_append_new(list, json_string(a->evidence[i]));
	return list;
}

char *alert_to_json(const struct alert *a)
{
	json_t *o;
	char *text;

	if (!a)
		return NULL;
	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:o, s:o, s:o}", "id",
		      a->id, "patient", a->patient, "rule", a->rule, "rule_type", a->rule_type,
		      "ruleset_version", a->ruleset_version, "severity",
		      alert_severity_name(a->severity), "state", alert_state_name(a->state),
		      "reason", "nb", a->reason_nb, "en", a->reason_en, "observations",
		      evidence_json(a), "raised_at", iso_time(a->raised_ms), "changed_at",
		      iso_time(a->changed_ms));
	if (!o)
		return NULL;
	if (a->metric[0])
		json_object_set_new(o, "metric", json_string(a->metric));
	if (a->device[0])
		json_object_set_new(o, "device", json_string(a->device));
	if (a->acked_ms) {
		json_object_set_new(o, "acknowledged_by", json_string(a->acked_by));
		json_object_set_new(o, "acknowledged_at", iso_time(a->acked_ms));
	}
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return text;
}

/* ---- persistence -------------------------------------------------------- */

#define STATE_FORMAT 1

static json_t *inst_save(const struct inst *in)
{
	const struct alert *a = &in->alert;
	json_t *o, *list;

	o = json_pack("{s:s, s:s, s:s, s:s, s:i, s:[i,i], s:[i,i], s:I}", "rule", in->id, "type",
		      rule_type_name(in->type), "metric", rules_metric_name(in->metric), "device",
		      in->device, "level", in->level, "hit", (int)in->hit[0], (int)in->hit[1], "ok",
		      (int)in->ok[0], (int)in->ok[1], "seen", (json_int_t)in->seen_ms);
	if (!o)
		return NULL;
	if (in->level || a->n_evidence) {
		json_t *j = json_pack(
			"{s:s, s:i, s:I, s:I, s:s, s:I, s:s, s:s, s:s, s:o}", "id", a->id,
			"severity", (int)a->severity, "raised", (json_int_t)a->raised_ms, "changed",
			(json_int_t)a->changed_ms, "acked_by", a->acked_by, "acked",
			(json_int_t)a->acked_ms, "reason_nb", a->reason_nb, "reason_en",
			a->reason_en, "version", a->ruleset_version, "evidence", evidence_json(a));

		json_object_set_new(o, "alert", j ? j : json_null());
	}
	if (in->type == RULE_CONFIRM) {
		list = json_array();
		for (size_t i = 0; list && i < in->n_pos; i++)
			json_array_append_new(list, json_pack("[I,f,s]", (json_int_t)in->pos[i].t,
							      in->pos[i].v, in->pos[i].obs));
		json_object_set_new(o, "pos", list);
		json_object_set_new(o, "cur",
				    json_pack("[I,b,i]", (json_int_t)in->cur_t, in->cur_pos,
					      (int)in->cur_mask));
	}
	if (in->type == RULE_BASELINE) {
		list = json_array();
		for (size_t i = 0; list && i < in->n_samples; i++) {
			const struct sample *s = &in->samples[(in->head + i) % in->cap];

			json_array_append_new(list, json_pack("[I,f]", (json_int_t)s->t, s->v));
		}
		json_object_set_new(o, "samples", list);
	}
	if (in->type == RULE_NEWS2) {
		list = json_array();
		for (size_t i = 0; list && i < PARAM_COUNT; i++)
			json_array_append_new(list, json_pack("[I,f,s]", (json_int_t)in->param[i].t,
							      in->param[i].v, in->param[i].obs));
		json_object_set_new(o, "params", list);
	}
	if (in->type == RULE_BATTERY)
		json_object_set_new(o, "battery", json_pack("[b,b]", in->low_level, in->low_flag));
	return o;
}

char *rules_state_save(const struct rules *rules)
{
	json_t *root, *patients;
	char *text;

	if (!rules)
		return NULL;
	patients = json_object();
	root = json_pack("{s:i, s:o}", "format", STATE_FORMAT, "patients", patients);
	if (!root)
		return NULL;
	for (size_t i = 0; i < rules->n_patients; i++) {
		const struct patient *p = &rules->patients[i];
		json_t *list = json_array();

		for (size_t j = 0; list && j < p->n; j++)
			json_array_append_new(list, inst_save(&p->insts[j]));
		json_object_set_new(patients, p->id, list);
	}
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	return text;
}

/* Copies a string member; false when it is missing, not a string or too
 * long for `dst`. */
static bool load_text(json_t *o, const char *key, char *dst, size_t size)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s || strlen(s) >= size)
		return false;
	copy_text(dst, size, s);
	return true;
}

static bool load_alert(json_t *j, struct inst *in)
{
	struct alert *a = &in->alert;
	json_t *ev = json_object_get(j, "evidence");
	json_int_t raised, changed, acked;
	int severity;

	if (json_unpack(j, "{s:i, s:I, s:I, s:I}", "severity", &severity, "raised", &raised,
			"changed", &changed, "acked", &acked) != 0 ||
	    !load_text(j, "id", a->id, sizeof(a->id)) ||
	    !load_text(j, "acked_by", a->acked_by, sizeof(a->acked_by)) ||
	    !load_text(j, "reason_nb", a->reason_nb, sizeof(a->reason_nb)) ||
	    !load_text(j, "reason_en", a->reason_en, sizeof(a->reason_en)) ||
	    !load_text(j, "version", a->ruleset_version, sizeof(a->ruleset_version)) ||
	    !json_is_array(ev) || json_array_size(ev) > ALERT_MAX_EVIDENCE)
		return false;
	if (in->level && severity != in->level)
		return false;
	a->severity = (enum alert_severity)in->level;
	a->raised_ms = raised;
	a->changed_ms = changed;
	a->acked_ms = acked;
	for (size_t i = 0; i < json_array_size(ev); i++) {
		const char *obs = json_string_value(json_array_get(ev, i));

		if (!obs)
			return false;
		evidence_add(a, obs);
	}
	copy_text(a->rule, sizeof(a->rule), in->id);
	copy_text(a->rule_type, sizeof(a->rule_type), rule_type_name(in->type));
	copy_text(a->metric, sizeof(a->metric), rules_metric_name(in->metric));
	copy_text(a->device, sizeof(a->device), in->device);
	return true;
}

static bool load_timed(json_t *item, struct timed_obs *to)
{
	json_int_t t;
	const char *obs;

	if (json_unpack(item, "[I,F,s]", &t, &to->v, &obs) != 0 || strlen(obs) >= RECORD_ID_MAX)
		return false;
	to->t = t;
	copy_text(to->obs, sizeof(to->obs), obs);
	return true;
}

static bool load_inst(json_t *o, const char *patient, struct inst *in)
{
	const char *type, *metric;
	json_int_t seen;
	json_t *v;
	int hit0, hit1, ok0, ok1;

	memset(in, 0, sizeof(*in));
	if (json_unpack(o, "{s:s, s:s, s:i, s:[i,i], s:[i,i], s:I}", "type", &type, "metric",
			&metric, "level", &in->level, "hit", &hit0, &hit1, "ok", &ok0, &ok1, "seen",
			&seen) != 0 ||
	    !load_text(o, "rule", in->id, sizeof(in->id)) ||
	    !load_text(o, "device", in->device, sizeof(in->device)) || in->level < 0 ||
	    in->level > ALERT_CRITICAL || hit0 < 0 || hit1 < 0 || ok0 < 0 || ok1 < 0)
		return false;
	in->type = rule_type_from_name(type);
	in->metric = rules_metric_from_name(metric);
	if (in->type == RULE_TYPE_COUNT || (metric[0] && in->metric == METRIC_NONE))
		return false;
	in->hit[0] = (unsigned int)hit0, in->hit[1] = (unsigned int)hit1;
	in->ok[0] = (unsigned int)ok0, in->ok[1] = (unsigned int)ok1;
	in->seen_ms = seen;
	v = json_object_get(o, "alert");
	if (in->level && !v)
		return false;
	if (v && !load_alert(v, in))
		return false;
	copy_text(in->alert.patient, sizeof(in->alert.patient), patient);
	if ((v = json_object_get(o, "pos"))) {
		int pos = 0, mask = 0;
		json_int_t cur = 0;

		if (!json_is_array(v) || json_array_size(v) > CONFIRM_MAX ||
		    json_unpack(json_object_get(o, "cur"), "[I,b,i]", &cur, &pos, &mask) != 0)
			return false;
		for (size_t i = 0; i < json_array_size(v); i++)
			if (!load_timed(json_array_get(v, i), &in->pos[in->n_pos++]))
				return false;
		in->cur_t = cur;
		in->cur_pos = pos;
		in->cur_mask = (unsigned int)mask & ((1u << RULE_MAX_CONDITIONS) - 1);
	}
	if ((v = json_object_get(o, "samples"))) {
		size_t n = json_array_size(v);

		if (!json_is_array(v) || n > (size_t)BASELINE_MAX_DAYS * 24 * BASELINE_PER_HOUR ||
		    baseline_resize(in, n ? n : 1) < 0)
			return false;
		for (size_t i = 0; i < n; i++) {
			json_int_t t;
			double x;

			if (json_unpack(json_array_get(v, i), "[I,F]", &t, &x) != 0 ||
			    (in->n_samples && t < in->samples[in->n_samples - 1].t))
				return false;
			in->samples[in->n_samples++] = (struct sample){t, x};
		}
	}
	if ((v = json_object_get(o, "params"))) {
		if (!json_is_array(v) || json_array_size(v) != PARAM_COUNT)
			return false;
		for (size_t i = 0; i < PARAM_COUNT; i++)
			if (!load_timed(json_array_get(v, i), &in->param[i]))
				return false;
	}
	if ((v = json_object_get(o, "battery"))) {
		int low_level, low_flag;

		if (json_unpack(v, "[b,b]", &low_level, &low_flag) != 0)
			return false;
		in->low_level = low_level;
		in->low_flag = low_flag;
	}
	return true;
}

int rules_state_load(struct rules *rules, const char *json, size_t len)
{
	json_t *root, *patients, *list;
	const char *id;
	int format, err = 0;

	if (!rules || !json)
		return -EINVAL;
	if (rules->set || rules->n_patients)
		return -EBUSY;
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, NULL);
	if (!root || json_unpack(root, "{s:i, s:o}", "format", &format, "patients", &patients) ||
	    format != STATE_FORMAT || !json_is_object(patients)) {
		json_decref(root);
		return -EINVAL;
	}
	json_object_foreach(patients, id, list)
	{
		struct patient *p;

		if (!json_is_array(list) || json_array_size(list) > 2 * RULESET_MAX_RULES ||
		    patient_find(rules, id) || !(p = patient_add(rules, id))) {
			err = -EINVAL;
			break;
		}
		p->insts = calloc(json_array_size(list) + 1, sizeof(*p->insts));
		if (!p->insts) {
			err = -ENOMEM;
			break;
		}
		for (size_t i = 0; i < json_array_size(list) && !err; i++) {
			if (!load_inst(json_array_get(list, i), id, &p->insts[i]))
				err = -EINVAL;
			p->n = i + 1;
		}
		if (err)
			break;
	}
	json_decref(root);
	if (err) {
		for (size_t i = 0; i < rules->n_patients; i++)
			patient_release(&rules->patients[i]);
		rules->n_patients = 0;
	}
	return err;
}
