/* SPDX-License-Identifier: MIT */
/*
 * Rule set JSON -> struct ruleset, with a schema check that names the JSON
 * path of the first problem. Strict like the config: an unknown key, a
 * duplicate key, a wrong type or a value out of range is an error and the
 * whole set is refused, because a misspelt limit would silently leave a
 * patient without the alert the care team believes is there.
 */
#include "rules_set.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "news2.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PATH_LEN 256
#define HITS_MAX 100
#define MINUTE_MS (60 * 1000LL)
#define HOUR_MS (60 * MINUTE_MS)
#define DAY_MS (24 * HOUR_MS)

struct parser {
	char *err;
	size_t errlen;
};

static bool fail(struct parser *p, const char *path, const char *fmt, ...) VARDE_PRINTF(3, 4);

static bool fail(struct parser *p, const char *path, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!p->err || !p->errlen)
		return false;
	n = snprintf(p->err, p->errlen, "%s: ", path[0] ? path : "rule set");
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return false;
}

/* Paths are far shorter than PATH_LEN unless a key is absurd. */
static void mark_cut(char *out, int n)
{
	if (n < 0 || n >= PATH_LEN)
		strcpy(out + PATH_LEN - 4, "...");
}

/* Object keys come from the care side or an attacker: print them safely. */
static void child(char *out, const char *path, const char *key)
{
	char safe[48];
	size_t i;

	for (i = 0; key[i] && i < sizeof(safe) - 1; i++)
		safe[i] = isprint((unsigned char)key[i]) ? key[i] : '?';
	safe[i] = '\0';
	mark_cut(out, snprintf(out, PATH_LEN, "%s%s%s", path, path[0] ? "." : "", safe));
}

static void element(char *out, const char *path, size_t index)
{
	mark_cut(out, snprintf(out, PATH_LEN, "%s[%zu]", path, index));
}

static bool check_keys(struct parser *p, const char *path, json_t *obj, const char *const *allowed,
		       size_t n_allowed)
{
	const char *key;
	json_t *value;

	json_object_foreach(obj, key, value)
	{
		char where[PATH_LEN], list[256];
		size_t i, used = 0;

		for (i = 0; i < n_allowed; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (i < n_allowed)
			continue;
		list[0] = '\0';
		for (i = 0; i < n_allowed && used < sizeof(list); i++)
			used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s",
						 i ? ", " : "", allowed[i]);
		child(where, path, key);
		return fail(p, where, "unknown key; allowed: %s", list);
	}
	return true;
}

static bool valid_name(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return false;
	return true;
}

/* The next three return 1 when `key` is present and valid, 0 when it is
 * absent, -1 (with the error written) when it is invalid. */
static int get_number(struct parser *p, const char *path, json_t *obj, const char *key, double min,
		      double max, double *out)
{
	json_t *v = json_object_get(obj, key);
	char where[PATH_LEN];

	if (!v)
		return 0;
	child(where, path, key);
	if (!json_is_number(v))
		return fail(p, where, "expected a number"), -1;
	*out = json_number_value(v);
	if (!isfinite(*out) || *out < min || *out > max)
		return fail(p, where, "%g is outside %g..%g", *out, min, max), -1;
	return 1;
}

static int get_uint(struct parser *p, const char *path, json_t *obj, const char *key,
		    unsigned int min, unsigned int max, unsigned int *out)
{
	json_t *v = json_object_get(obj, key);
	char where[PATH_LEN];
	json_int_t n;

	if (!v)
		return 0;
	child(where, path, key);
	if (!json_is_integer(v))
		return fail(p, where, "expected a whole number"), -1;
	n = json_integer_value(v);
	if (n < min || n > max)
		return fail(p, where, "%lld is outside %u..%u", (long long)n, min, max), -1;
	*out = (unsigned int)n;
	return 1;
}

static int get_string(struct parser *p, const char *path, json_t *obj, const char *key,
		      const char **out)
{
	json_t *v = json_object_get(obj, key);
	char where[PATH_LEN];

	if (!v)
		return 0;
	if (!json_is_string(v)) {
		child(where, path, key);
		return fail(p, where, "expected a string"), -1;
	}
	*out = json_string_value(v);
	return 1;
}

static bool missing(struct parser *p, const char *path, const char *key)
{
	char where[PATH_LEN];

	child(where, path, key);
	return fail(p, where, "missing required key");
}

/* "90s", "15m", "48h", "7d". */
static int get_duration(struct parser *p, const char *path, json_t *obj, const char *key,
			int64_t min_ms, int64_t max_ms, int64_t *out)
{
	static const struct {
		char suffix;
		int64_t ms;
	} units[] = {{'s', 1000}, {'m', MINUTE_MS}, {'h', HOUR_MS}, {'d', DAY_MS}};
	const char *s = NULL, *c;
	char where[PATH_LEN];
	int64_t n = 0;
	int r = get_string(p, path, obj, key, &s);

	if (r == 0)
		return 0;
	if (r < 0) {
		child(where, path, key);
		return fail(p, where, "expected a duration such as \"15m\", \"48h\" or \"7d\""), -1;
	}
	child(where, path, key);
	for (c = s; isdigit((unsigned char)*c) && c - s < 6; c++)
		n = n * 10 + (*c - '0');
	if (c == s || c[0] == '\0' || c[1] != '\0')
		return fail(p, where,
			    "'%.16s' is not a duration such as \"15m\", \"48h\" or \"7d\"", s),
		       -1;
	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		if (*c != units[i].suffix)
			continue;
		*out = n * units[i].ms;
		if (*out < min_ms || *out > max_ms)
			return fail(p, where, "'%s' is outside %llds..%llds", s,
				    (long long)(min_ms / 1000), (long long)(max_ms / 1000)),
			       -1;
		return 1;
	}
	return fail(p, where, "'%.16s' has no unit s, m, h or d", s), -1;
}

static bool get_metric(struct parser *p, const char *path, json_t *obj, enum rule_metric *out)
{
	char where[PATH_LEN];
	const char *s;
	int r = get_string(p, path, obj, "metric", &s);

	if (r < 0)
		return false;
	if (r == 0)
		return missing(p, path, "metric");
	*out = rules_metric_from_name(s);
	if (*out == METRIC_NONE) {
		child(where, path, "metric");
		return fail(p, where,
			    "unknown metric '%.32s'; allowed: bp_systolic, bp_diastolic, bp_mean, "
			    "pulse_rate, spo2, temperature, weight, glucose, hba1c, pef, fev1, "
			    "battery",
			    s);
	}
	return true;
}

static bool get_severity(struct parser *p, const char *path, json_t *obj, enum alert_severity *out)
{
	char where[PATH_LEN];
	const char *s;
	int r = get_string(p, path, obj, "severity", &s);

	if (r < 0)
		return false;
	if (r == 0)
		return missing(p, path, "severity");
	if (strcmp(s, "warning") == 0)
		*out = ALERT_WARNING;
	else if (strcmp(s, "critical") == 0)
		*out = ALERT_CRITICAL;
	else {
		child(where, path, "severity");
		return fail(p, where, "expected \"warning\" or \"critical\"");
	}
	return true;
}

static bool get_device(struct parser *p, const char *path, json_t *obj, char out[18])
{
	char where[PATH_LEN];
	const char *s;
	int r = get_string(p, path, obj, "device", &s);

	if (r < 0)
		return false;
	if (r == 0)
		return missing(p, path, "device");
	child(where, path, "device");
	if (strlen(s) != 17)
		return fail(p, where, "not a Bluetooth address like \"C0:26:DA:01:02:03\"");
	for (size_t i = 0; i < 17; i++) {
		bool colon = i % 3 == 2;

		if (colon ? s[i] != ':' : !isxdigit((unsigned char)s[i]))
			return fail(p, where, "not a Bluetooth address like \"C0:26:DA:01:02:03\"");
		out[i] = (char)toupper((unsigned char)s[i]);
	}
	out[17] = '\0';
	return true;
}

/* An object-valued key: NULL when absent, `*bad` when not an object. */
static json_t *get_object(struct parser *p, const char *path, json_t *obj, const char *key,
			  bool *bad)
{
	json_t *v = json_object_get(obj, key);
	char where[PATH_LEN];

	*bad = false;
	if (v && !json_is_object(v)) {
		child(where, path, key);
		fail(p, where, "expected an object");
		*bad = true;
		return NULL;
	}
	return v;
}

static bool parse_band(struct parser *p, const char *path, json_t *obj, struct rule_band *b)
{
	static const char *const keys[] = {"low", "high", "hits"};
	int lo, hi;

	if (!check_keys(p, path, obj, keys, ARRAY_SIZE(keys)))
		return false;
	b->set = true;
	b->low = -INFINITY;
	b->high = INFINITY;
	b->hits = 1;
	lo = get_number(p, path, obj, "low", -1e6, 1e6, &b->low);
	hi = get_number(p, path, obj, "high", -1e6, 1e6, &b->high);
	if (lo < 0 || hi < 0 || get_uint(p, path, obj, "hits", 1, HITS_MAX, &b->hits) < 0)
		return false;
	if (!lo && !hi)
		return fail(p, path, "needs 'low', 'high' or both");
	if (b->low >= b->high) {
		char where[PATH_LEN];

		child(where, path, "high");
		return fail(p, where, "must be above low");
	}
	return true;
}

static bool parse_threshold(struct parser *p, const char *path, json_t *obj, struct rule *r)
{
	static const char *const names[] = {"warning", "critical"};
	char where[PATH_LEN];
	bool bad;

	if (!get_metric(p, path, obj, &r->metric))
		return false;
	for (size_t i = 0; i < 2; i++) {
		json_t *band = get_object(p, path, obj, names[i], &bad);

		if (bad)
			return false;
		child(where, path, names[i]);
		if (band && !parse_band(p, where, band, &r->band[i]))
			return false;
	}
	if (!r->band[0].set && !r->band[1].set)
		return fail(p, path, "needs a 'warning' or 'critical' band");
	/* A critical value must also be a warning value, or escalation and
	 * clearing would contradict each other. */
	if (r->band[0].set && r->band[1].set) {
		if (r->band[1].low > r->band[0].low) {
			child(where, path, "critical.low");
			return fail(p, where, "must not be above warning.low");
		}
		if (r->band[1].high < r->band[0].high) {
			child(where, path, "critical.high");
			return fail(p, where, "must not be below warning.high");
		}
	}
	return get_number(p, path, obj, "hysteresis", 0, 1000, &r->hysteresis) >= 0 &&
	       get_uint(p, path, obj, "clear_hits", 1, HITS_MAX, &r->clear_hits) >= 0;
}

static bool parse_condition(struct parser *p, const char *path, json_t *obj, struct rule *r)
{
	static const char *const keys[] = {"metric", "at_least", "at_most"};
	struct rule_condition *c = &r->cond[r->n_cond];
	int least, most;

	if (!json_is_object(obj))
		return fail(p, path, "expected an object");
	if (!check_keys(p, path, obj, keys, ARRAY_SIZE(keys)) ||
	    !get_metric(p, path, obj, &c->metric))
		return false;
	for (size_t i = 0; i < r->n_cond; i++)
		if (r->cond[i].metric == c->metric)
			return fail(p, path, "metric '%s' appears twice",
				    rules_metric_name(c->metric));
	least = get_number(p, path, obj, "at_least", -1e6, 1e6, &c->limit);
	if (least < 0)
		return false;
	most = get_number(p, path, obj, "at_most", -1e6, 1e6, &c->limit);
	if (most < 0)
		return false;
	if (least + most != 1)
		return fail(p, path, "needs exactly one of 'at_least' and 'at_most'");
	c->at_least = least == 1;
	r->n_cond++;
	return true;
}

static bool parse_confirm(struct parser *p, const char *path, json_t *obj, struct rule *r)
{
	json_t *list = json_object_get(obj, "any_of");
	char where[PATH_LEN];
	int w;

	if (!get_severity(p, path, obj, &r->severity))
		return false;
	child(where, path, "any_of");
	if (!list)
		return missing(p, path, "any_of");
	if (!json_is_array(list) || json_array_size(list) == 0 ||
	    json_array_size(list) > RULE_MAX_CONDITIONS)
		return fail(p, where, "expected an array of 1..%d conditions", RULE_MAX_CONDITIONS);
	for (size_t i = 0; i < json_array_size(list); i++) {
		char at[PATH_LEN];

		element(at, where, i);
		if (!parse_condition(p, at, json_array_get(list, i), r))
			return false;
	}
	r->count = 2;
	if (get_uint(p, path, obj, "count", 2, 8, &r->count) < 0)
		return false;
	w = get_duration(p, path, obj, "window", MINUTE_MS, DAY_MS, &r->window_ms);
	if (w == 0)
		return missing(p, path, "window");
	return w > 0;
}

static bool parse_baseline(struct parser *p, const char *path, json_t *obj, struct rule *r)
{
	int drop, rise, d;

	if (!get_metric(p, path, obj, &r->metric) || !get_severity(p, path, obj, &r->severity))
		return false;
	d = get_uint(p, path, obj, "days", 1, BASELINE_MAX_DAYS, &r->days);
	if (d == 0)
		return missing(p, path, "days");
	if (d < 0)
		return false;
	drop = get_number(p, path, obj, "drop", 1e-6, 1e6, &r->change);
	if (drop < 0)
		return false;
	rise = get_number(p, path, obj, "rise", 1e-6, 1e6, &r->change);
	if (rise < 0)
		return false;
	if (drop + rise != 1)
		return fail(p, path, "needs exactly one of 'drop' and 'rise'");
	r->rise = rise == 1;
	r->min_samples = r->days;
	r->band[r->severity - 1].set = true;
	r->band[r->severity - 1].hits = 1;
	return get_uint(p, path, obj, "min_samples", 1, r->days * 24 * BASELINE_PER_HOUR,
			&r->min_samples) >= 0 &&
	       get_uint(p, path, obj, "hits", 1, HITS_MAX, &r->band[r->severity - 1].hits) >= 0 &&
	       get_number(p, path, obj, "hysteresis", 0, 1000, &r->hysteresis) >= 0 &&
	       get_uint(p, path, obj, "clear_hits", 1, HITS_MAX, &r->clear_hits) >= 0;
}

static bool parse_after(struct parser *p, const char *path, json_t *obj, struct rule *r)
{
	int a = get_duration(p, path, obj, "after", 1000, 366 * DAY_MS, &r->after_ms);

	if (a == 0)
		return missing(p, path, "after");
	return a > 0;
}

static bool parse_news2(struct parser *p, const char *path, json_t *obj, struct rule *r)
{
	static const char *const names[] = {"warning", "critical"};
	static const char *const band_keys[] = {"total", "single"};
	char where[PATH_LEN];
	unsigned int scale = 0, hits = 1;
	int s;
	bool bad;

	s = get_uint(p, path, obj, "scale", 1, 2, &scale);
	if (s == 0)
		return missing(p, path, "scale");
	if (s < 0)
		return false;
	r->scale = (int)scale;
	r->window_ms = HOUR_MS;
	r->min_parameters = 1;
	if (get_duration(p, path, obj, "window", MINUTE_MS, DAY_MS, &r->window_ms) < 0 ||
	    get_uint(p, path, obj, "min_parameters", 1, 4, &r->min_parameters) < 0 ||
	    get_uint(p, path, obj, "hits", 1, HITS_MAX, &hits) < 0 ||
	    get_uint(p, path, obj, "clear_hits", 1, HITS_MAX, &r->clear_hits) < 0)
		return false;
	for (size_t i = 0; i < 2; i++) {
		json_t *band = get_object(p, path, obj, names[i], &bad);
		int t, g;

		if (bad)
			return false;
		if (!band)
			continue;
		child(where, path, names[i]);
		if (!check_keys(p, where, band, band_keys, ARRAY_SIZE(band_keys)))
			return false;
		t = get_uint(p, where, band, "total", 1, NEWS2_MAX_PARTIAL, &r->total[i]);
		g = get_uint(p, where, band, "single", 1, 3, &r->single[i]);
		if (t < 0 || g < 0)
			return false;
		if (!t && !g)
			return fail(p, where, "needs 'total', 'single' or both");
		r->band[i].set = true;
		r->band[i].hits = hits;
	}
	if (!r->band[0].set && !r->band[1].set)
		return fail(p, path, "needs a 'warning' or 'critical' score");
	return true;
}

static bool parse_battery(struct parser *p, const char *path, json_t *obj, struct rule *r)
{
	r->below = NAN;
	return get_device(p, path, obj, r->device) && get_severity(p, path, obj, &r->severity) &&
	       get_number(p, path, obj, "below", 1, 100, &r->below) >= 0 &&
	       get_number(p, path, obj, "hysteresis", 0, 50, &r->hysteresis) >= 0;
}

#define COMMON "id", "type", "note"
static const char *const type_keys[RULE_TYPE_COUNT][12] = {
	[RULE_THRESHOLD] = {COMMON, "metric", "warning", "critical", "hysteresis", "clear_hits"},
	[RULE_CONFIRM] = {COMMON, "severity", "any_of", "count", "window"},
	[RULE_BASELINE] = {COMMON, "metric", "severity", "days", "drop", "rise", "min_samples",
			   "hits", "hysteresis", "clear_hits"},
	[RULE_MISSING] = {COMMON, "metric", "severity", "after"},
	[RULE_NEWS2] = {COMMON, "scale", "window", "min_parameters", "warning", "critical", "hits",
			"clear_hits"},
	[RULE_BATTERY] = {COMMON, "device", "severity", "below", "hysteresis"},
	[RULE_DEVICE_SILENT] = {COMMON, "device", "severity", "after"},
	[RULE_DEVICE_CLOCK] = {COMMON, "device", "severity"},
};

static bool parse_rule(struct parser *p, const char *path, json_t *obj, struct rule *r)
{
	char where[PATH_LEN];
	const char *id, *type, *note;
	size_t n_keys = 0;
	int g;

	if (!json_is_object(obj))
		return fail(p, path, "expected an object");
	g = get_string(p, path, obj, "type", &type);
	if (g <= 0)
		return g == 0 ? missing(p, path, "type") : false;
	r->type = rule_type_from_name(type);
	if (r->type == RULE_TYPE_COUNT) {
		child(where, path, "type");
		return fail(p, where,
			    "unknown rule type '%.32s'; allowed: threshold, confirm, baseline, "
			    "missing, news2, battery, device_silent, device_clock",
			    type);
	}
	while (n_keys < ARRAY_SIZE(type_keys[0]) && type_keys[r->type][n_keys])
		n_keys++;
	if (!check_keys(p, path, obj, type_keys[r->type], n_keys))
		return false;
	g = get_string(p, path, obj, "id", &id);
	if (g <= 0)
		return g == 0 ? missing(p, path, "id") : false;
	if (!valid_name(id, ALERT_RULE_MAX - 1)) {
		child(where, path, "id");
		return fail(p, where, "not a rule id (1..%d letters, digits, '.', '_', '-')",
			    ALERT_RULE_MAX - 1);
	}
	strcpy(r->id, id);
	if (get_string(p, path, obj, "note", &note) < 0)
		return false;
	r->metric = METRIC_NONE;
	r->clear_hits = 1;
	switch (r->type) {
	case RULE_THRESHOLD:
		return parse_threshold(p, path, obj, r);
	case RULE_CONFIRM:
		return parse_confirm(p, path, obj, r);
	case RULE_BASELINE:
		return parse_baseline(p, path, obj, r);
	case RULE_MISSING:
		return get_metric(p, path, obj, &r->metric) &&
		       get_severity(p, path, obj, &r->severity) && parse_after(p, path, obj, r);
	case RULE_NEWS2:
		return parse_news2(p, path, obj, r);
	case RULE_BATTERY:
		return parse_battery(p, path, obj, r);
	case RULE_DEVICE_SILENT:
		return get_device(p, path, obj, r->device) &&
		       get_severity(p, path, obj, &r->severity) && parse_after(p, path, obj, r);
	case RULE_DEVICE_CLOCK:
		return get_device(p, path, obj, r->device) &&
		       get_severity(p, path, obj, &r->severity);
	case RULE_TYPE_COUNT:
		break;
	}
	return false;
}

/* `holder` is an object with "rules" (and "note"). */
static bool parse_rule_list(struct parser *p, const char *path, json_t *holder, struct rule **out,
			    size_t *n_out)
{
	static const char *const keys[] = {"rules", "note"};
	json_t *list;
	char where[PATH_LEN];
	const char *note;
	size_t n;

	if (!json_is_object(holder))
		return fail(p, path, "expected an object");
	if (!check_keys(p, path, holder, keys, ARRAY_SIZE(keys)) ||
	    get_string(p, path, holder, "note", &note) < 0)
		return false;
	child(where, path, "rules");
	list = json_object_get(holder, "rules");
	if (!list)
		return missing(p, path, "rules");
	n = json_array_size(list);
	if (!json_is_array(list) || n > RULESET_MAX_RULES)
		return fail(p, where, "expected an array of at most %d rules", RULESET_MAX_RULES);
	*out = calloc(n ? n : 1, sizeof(**out));
	if (!*out)
		return fail(p, where, "out of memory");
	*n_out = n;
	for (size_t i = 0; i < n; i++) {
		char at[PATH_LEN], id_at[PATH_LEN];

		element(at, where, i);
		if (!parse_rule(p, at, json_array_get(list, i), &(*out)[i]))
			return false;
		for (size_t j = 0; j < i; j++) {
			if (strcmp((*out)[j].id, (*out)[i].id) != 0)
				continue;
			child(id_at, at, "id");
			return fail(p, id_at, "rule id '%s' is also used by rules[%zu]",
				    (*out)[i].id, j);
		}
	}
	return true;
}

static bool parse_version(struct parser *p, json_t *root, struct ruleset *set)
{
	json_t *v = json_object_get(root, "version");
	const char *s;

	if (!v)
		return missing(p, "", "version");
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		snprintf(set->version, sizeof(set->version), "%lld",
			 (long long)json_integer_value(v));
		return true;
	}
	if (!json_is_string(v))
		return fail(p, "version", "expected a string or a whole number >= 0");
	s = json_string_value(v);
	if (!s[0] || strlen(s) >= sizeof(set->version))
		return fail(p, "version", "expected 1..%zu characters", sizeof(set->version) - 1);
	for (const char *c = s; *c; c++)
		if (!isprint((unsigned char)*c))
			return fail(p, "version", "expected printable characters");
	strcpy(set->version, s);
	return true;
}

static const struct rule **effective(const struct rule *own, size_t n_own,
				     const struct rule *defaults, size_t n_defaults, size_t *n)
{
	const struct rule **list = calloc(n_own + n_defaults + 1, sizeof(*list));

	if (!list)
		return NULL;
	*n = 0;
	for (size_t i = 0; i < n_own; i++)
		list[(*n)++] = &own[i];
	for (size_t i = 0; i < n_defaults; i++) {
		bool overridden = false;

		for (size_t j = 0; j < n_own && !overridden; j++)
			overridden = strcmp(own[j].id, defaults[i].id) == 0;
		if (!overridden)
			list[(*n)++] = &defaults[i];
	}
	return list;
}

static bool parse_patients(struct parser *p, json_t *patients, struct ruleset *set)
{
	const char *key;
	json_t *value;
	size_t n = 0;

	if (!json_is_object(patients))
		return fail(p, "patients", "expected an object keyed by patient id");
	if (json_object_size(patients) > RULESET_MAX_PATIENTS)
		return fail(p, "patients", "more than %d patients", RULESET_MAX_PATIENTS);
	set->patients = calloc(json_object_size(patients) + 1, sizeof(*set->patients));
	if (!set->patients)
		return fail(p, "patients", "out of memory");
	json_object_foreach(patients, key, value)
	{
		struct ruleset_patient *pt = &set->patients[n];
		char where[PATH_LEN];

		child(where, "patients", key);
		if (!valid_name(key, RECORD_NAME_MAX - 1))
			return fail(p, where,
				    "not a pseudonymous patient id (1..%d letters, digits, '.', "
				    "'_', '-')",
				    RECORD_NAME_MAX - 1);
		strcpy(pt->id, key);
		set->n_patients = ++n;
		if (!parse_rule_list(p, where, value, &pt->own, &pt->n_own))
			return false;
	}
	return true;
}

void ruleset_free(struct ruleset *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n_patients; i++) {
		free(set->patients[i].own);
		free(set->patients[i].effective);
	}
	free(set->patients);
	free(set->defaults);
	free(set->default_effective);
	free(set);
}

struct ruleset *ruleset_parse(const char *json, size_t len, char *err, size_t errlen)
{
	static const char *const keys[] = {"version", "defaults", "patients", "note"};
	struct parser p = {.err = err, .errlen = errlen};
	struct ruleset *set = NULL;
	json_error_t jerr;
	json_t *root, *v;
	const char *note;
	bool ok = false;
	size_t n;

	if (err && errlen)
		err[0] = '\0';
	root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		fail(&p, "", "line %d, column %d: %s", jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	set = calloc(1, sizeof(*set));
	if (!set) {
		fail(&p, "", "out of memory");
		goto out;
	}
	if (!json_is_object(root)) {
		fail(&p, "", "expected a JSON object");
		goto out;
	}
	if (!check_keys(&p, "", root, keys, ARRAY_SIZE(keys)) || !parse_version(&p, root, set) ||
	    get_string(&p, "", root, "note", &note) < 0)
		goto out;
	v = json_object_get(root, "defaults");
	if (v && !parse_rule_list(&p, "defaults", v, &set->defaults, &set->n_defaults))
		goto out;
	v = json_object_get(root, "patients");
	if (v && !parse_patients(&p, v, set))
		goto out;
	set->default_effective = effective(NULL, 0, set->defaults, set->n_defaults, &n);
	if (!set->default_effective) {
		fail(&p, "", "out of memory");
		goto out;
	}
	for (size_t i = 0; i < set->n_patients; i++) {
		struct ruleset_patient *pt = &set->patients[i];

		pt->effective = effective(pt->own, pt->n_own, set->defaults, set->n_defaults,
					  &pt->n_effective);
		if (!pt->effective) {
			fail(&p, "", "out of memory");
			goto out;
		}
	}
	ok = true;
out:
	json_decref(root);
	if (!ok) {
		ruleset_free(set);
		return NULL;
	}
	return set;
}

const char *ruleset_version(const struct ruleset *set)
{
	return set ? set->version : NULL;
}

const struct rule *const *ruleset_rules_for(const struct ruleset *set, const char *patient,
					    size_t *n)
{
	for (size_t i = 0; i < set->n_patients; i++) {
		if (strcmp(set->patients[i].id, patient) == 0) {
			*n = set->patients[i].n_effective;
			return set->patients[i].effective;
		}
	}
	*n = set->n_defaults;
	return set->default_effective;
}
