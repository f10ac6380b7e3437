/* SPDX-License-Identifier: MIT */
#include "pipeline.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "config.h"
#include "fhir.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "rules.h"
#include "store.h"
#include "timefmt.h"
#include "uplink.h"

#define RULES_STATE_KEY "rules.state"
#define RULESET_KEY "rules.ruleset"
#define RULESET_FILE_MAX (1u << 20)
#define TOPIC_MAX 256
#define LAST_DEVICES 64 /* devices whose last reading is remembered */

struct device_last {
	char address[18];
	struct pipeline_last last;
};

struct pipeline {
	struct loop *loop;
	const struct config *cfg;
	struct store *store;
	struct uplink *uplink;
	struct rules *rules;
	int save_defer;
	int rules_timer;
	char *rules_state_json; /* the last rules/state answer */
	pipeline_watch_func watch;
	void *watch_data;
	struct device_last last[LAST_DEVICES];
	unsigned int n_last;
};

static int outbox(struct pipeline *p, enum store_kind kind, const char *suffix, const char *json)
{
	char topic[TOPIC_MAX];
	int err = uplink_topic(p->cfg, suffix, topic, sizeof(topic));

	if (err < 0)
		return err;
	err = store_outbox_add(p->store, kind, topic, json, strlen(json));
	if (err < 0)
		log_err("cannot queue a message for %s: %s", topic, strerror(-err));
	return err;
}

/* ---- events --------------------------------------------------------------- */

static void queue_event(struct pipeline *p, json_t *event)
{
	char when[40];
	char *text;

	time_format_iso(time_now_ms(), 0, when, sizeof(when));
	json_object_set_new(event, "hub", json_string(p->cfg->hub.id));
	json_object_set_new(event, "time", json_string(when));
	text = json_dumps(event, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(event);
	if (text)
		outbox(p, STORE_KIND_EVENT, "event", text);
	free(text);
}

void pipeline_event(struct pipeline *p, const char *type, const char *device, const char *detail)
{
	json_t *event = json_pack("{s:s}", "type", type);

	if (!event)
		return;
	if (device)
		json_object_set_new(event, "device", json_string(device));
	if (detail)
		json_object_set_new(event, "detail", json_string(detail));
	queue_event(p, event);
}

/* ---- history ---------------------------------------------------------------- */

static void append_value(char *buf, size_t size, uint32_t metric, uint32_t unit,
			 const struct varde_value *v)
{
	const char *ucum = metric_ucum(metric, unit);
	char number[48];
	size_t off = strlen(buf);

	if (metric_format(metric, unit, v, number, sizeof(number)) < 0)
		snprintf(number, sizeof(number), "%s",
			 v->special == VARDE_VALUE_PINF	  ? "+INF"
			 : v->special == VARDE_VALUE_NINF ? "-INF"
			 : v->special == VARDE_VALUE_NRES ? "NRes"
							  : "NaN");
	snprintf(buf + off, size - off, "%s%s%s%s", off ? ", " : "", number, ucum ? " " : "",
		 ucum ? ucum : "");
}

/* The value as a nurse or installer reads it in 'vardectl history'. */
static void value_text(const struct record *r, char *buf, size_t size)
{
	const struct metric_info *m = metric_lookup(r->metric);

	buf[0] = '\0';
	if (m->kind == METRIC_PANEL) {
		for (uint32_t i = 0; i < r->n_components; i++)
			append_value(buf, size, r->components[i].metric, r->components[i].unit,
				     &r->components[i].value);
		return;
	}
	append_value(buf, size, r->metric, r->unit, &r->value);
}

static void add_history(struct pipeline *p, const struct record *r)
{
	char value[STORE_TEXT_MAX];
	struct store_history h = {
		.observation_id = r->id,
		.patient = r->patient[0] ? r->patient : "(quarantined)",
		.metric = metric_lookup(r->metric)->name,
		.effective_ms = r->effective_ms,
		.value = value,
	};

	value_text(r, value, sizeof(value));
	store_history_add(p->store, &h);
}

/* ---- rules ------------------------------------------------------------------ */

static void save_rules_state(struct loop *loop, void *user_data)
{
	struct pipeline *p = user_data;
	char *json = rules_state_save(p->rules);

	(void)loop;
	p->save_defer = 0;
	if (!json || store_alert_put(p->store, RULES_STATE_KEY, json) < 0)
		log_err("alert state not saved: a restart may raise an alert again");
	free(json);
}

/* Once per loop batch, whatever number of transitions it had. */
static void rules_changed(struct pipeline *p)
{
	int id;

	if (p->save_defer)
		return;
	id = loop_add_defer(p->loop, save_rules_state, p, NULL);
	p->save_defer = id > 0 ? id : 0;
}

static void emit_alert(const struct alert *a, void *user_data)
{
	struct pipeline *p = user_data;
	char *json = alert_to_json(a);

	log_notice("alert %s %s for %s (%s): %s", a->id, alert_state_name(a->state), a->patient,
		   alert_severity_name(a->severity), a->reason_en);
	if (json) {
		outbox(p, STORE_KIND_ALERT, "alert", json);
		if (p->watch)
			p->watch("alert", json, p->watch_data);
	}
	free(json);
	if (a->state == ALERT_ACKNOWLEDGED) {
		char detail[ALERT_ID_MAX + RECORD_NAME_MAX + 8];

		snprintf(detail, sizeof(detail), "%s by %s", a->id, a->acked_by);
		store_audit(p->store, a->acked_by, "alert acknowledged", detail);
	}
	rules_changed(p);
}

static void arm_rules_timer(struct pipeline *p);

static void on_rules_timer(struct loop *loop, void *user_data)
{
	struct pipeline *p = user_data;

	(void)loop;
	p->rules_timer = 0;
	rules_tick(p->rules, time_now_ms(), emit_alert, p);
	arm_rules_timer(p);
}

/* One timer at the rules' next real deadline; none when there is none. */
static void arm_rules_timer(struct pipeline *p)
{
	int64_t deadline = rules_next_deadline(p->rules), delay;

	if (p->rules_timer > 0)
		loop_remove(p->loop, p->rules_timer);
	p->rules_timer = 0;
	if (deadline == RULES_NO_DEADLINE)
		return;
	delay = deadline - time_now_ms();
	p->rules_timer =
		loop_add_timer(p->loop, delay > 0 ? (uint64_t)delay : 0, on_rules_timer, p, NULL);
	if (p->rules_timer < 0)
		p->rules_timer = 0;
}

static void judge_value(struct pipeline *p, const struct record *r, uint32_t metric, uint32_t unit,
			const struct varde_value *v)
{
	/* The rules know the metric table's names (and their own aliases). */
	const char *name = metric_lookup(metric)->name;
	struct rule_input in = {
		.patient = r->patient,
		.metric_name = name,
		.status = r->status,
		.time_ms = r->effective_ms,
		.received_ms = r->received_ms,
		.time_from_receipt = r->flags & RECORD_TIME_FROM_RECEIPT,
		.observation_id = r->id,
		.device_address = r->device_address,
	};
	int err;

	err = metric_canonical(metric, unit, v, &in.value);
	if (err == -EDOM)
		in.special = true;
	else if (err < 0)
		return;
	/* 'Too high/low for the device' is beyond every band, not a quality
	 * problem: the most urgent glucose result there is. */
	if (v->special == VARDE_VALUE_PINF || (r->status & VARDE_STATUS_RESULT_TOO_HIGH))
		in.beyond = 1;
	else if (v->special == VARDE_VALUE_NINF || (r->status & VARDE_STATUS_RESULT_TOO_LOW))
		in.beyond = -1;
	rules_evaluate(p->rules, &in, emit_alert, p);
}

static void judge(struct pipeline *p, const struct record *r)
{
	if (!rules_ruleset(p->rules))
		return;
	if (metric_lookup(r->metric)->kind == METRIC_PANEL) {
		for (uint32_t i = 0; i < r->n_components; i++)
			judge_value(p, r, r->components[i].metric, r->components[i].unit,
				    &r->components[i].value);
	} else {
		judge_value(p, r, r->metric, r->unit, &r->value);
	}
	arm_rules_timer(p);
}

/* ---- records ---------------------------------------------------------------- */

static bool is_control_solution(const struct record *r)
{
	return r->metric == VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION ||
	       (r->status & VARDE_STATUS_CONTROL_SOLUTION);
}

static void quarantine_event(struct pipeline *p, const struct record *r, const char *type)
{
	char value[STORE_TEXT_MAX];
	json_t *event;

	value_text(r, value, sizeof(value));
	event = json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", type, "device", r->device_address,
			  "record", r->id, "metric", metric_lookup(r->metric)->name, "value",
			  value);
	if (!event)
		return;
	if (r->reading_flags & VARDE_READING_HAS_USER)
		json_object_set_new(event, "device_user", json_integer(r->user_id));
	queue_event(p, event);
}

static struct pipeline_last *last_of(struct pipeline *p, const char *address)
{
	for (unsigned int i = 0; i < p->n_last; i++)
		if (strcmp(p->last[i].address, address) == 0)
			return &p->last[i].last;
	if (p->n_last == LAST_DEVICES)
		return NULL;
	snprintf(p->last[p->n_last].address, sizeof(p->last[0].address), "%s", address);
	return &p->last[p->n_last++].last;
}

/* The last reading of the device and the live view. */
static void observe(struct pipeline *p, const struct record *r)
{
	struct pipeline_last *last = last_of(p, r->device_address);
	const char *metric = metric_lookup(r->metric)->name;
	char value[STORE_TEXT_MAX], when[40];
	json_t *summary;
	char *json;

	value_text(r, value, sizeof(value));
	if (last && r->effective_ms >= last->time_ms) {
		last->time_ms = r->effective_ms;
		last->offset_s = r->effective_offset_s;
		/* A display line: cut to fit on purpose. */
		snprintf(last->text, sizeof(last->text), "%.40s %.110s", metric, value);
		if (r->metric == VARDE_METRIC_BATTERY_LEVEL)
			last->has_battery = metric_canonical(r->metric, r->unit, &r->value,
							     &last->battery) == 0;
	}
	if (!p->watch)
		return;
	time_format_iso(r->effective_ms, r->effective_offset_s, when, sizeof(when));
	summary = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:b, s:b}", "time", when,
			    "patient", r->patient, "device", r->device_address, "device_name",
			    r->device_name, "metric", metric, "value", value, "quarantined",
			    (r->flags & RECORD_QUARANTINED) != 0, "time_from_receipt",
			    (r->flags & RECORD_TIME_FROM_RECEIPT) != 0, "flagged",
			    (r->status & VARDE_STATUS_QUALITY_MASK) != 0);
	json = summary ? json_dumps(summary, JSON_COMPACT) : NULL;
	json_decref(summary);
	if (json)
		p->watch("reading", json, p->watch_data);
	free(json);
}

void pipeline_record(const struct record *r, void *pipeline)
{
	struct pipeline *p = pipeline;
	char *json;

	add_history(p, r);
	observe(p, r);
	if (r->flags & RECORD_QUARANTINED) {
		quarantine_event(p, r, "quarantined-reading");
		return;
	}
	if (is_control_solution(r)) {
		quarantine_event(p, r, "control-solution-test");
		return;
	}
	json = fhir_observation(r, p->cfg->hub.id);
	if (!json) {
		log_err("record %s: no observation could be built: %s", r->id, strerror(errno));
		return;
	}
	outbox(p, STORE_KIND_OBSERVATION, "observation", json);
	free(json);
	judge(p, r);
}

/* ---- rule sets -------------------------------------------------------------- */

static void answer_rules(struct pipeline *p, const char *state, const char *version,
			 const char *error)
{
	json_t *doc = json_pack("{s:s, s:s}", "hub", p->cfg->hub.id, "state", state);

	if (!doc)
		return;
	if (version)
		json_object_set_new(doc, "version", json_string(version));
	if (error)
		json_object_set_new(doc, "error", json_string(error));
	free(p->rules_state_json);
	p->rules_state_json = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	if (p->uplink && p->rules_state_json)
		uplink_set_retained(p->uplink, UPLINK_RULES_STATE, p->rules_state_json);
}

static int activate(struct pipeline *p, const char *json, size_t len, const char *origin, char *err,
		    size_t errlen)
{
	struct ruleset *set = ruleset_parse(json, len, err, errlen);
	const char *version;

	if (!set)
		return -EINVAL;
	rules_set_ruleset(p->rules, set, time_now_ms(), emit_alert, p);
	version = ruleset_version(rules_ruleset(p->rules));
	log_notice("rule set %s from %s is active", version, origin);
	arm_rules_timer(p);
	rules_changed(p);
	return 0;
}

static void rules_set_message(struct pipeline *p, const char *json, size_t len)
{
	char err[256], detail[320];
	const char *version;

	if (activate(p, json, len, "the care side", err, sizeof(err)) < 0) {
		log_err("rule set from the care side refused: %s", err);
		snprintf(detail, sizeof(detail), "refused: %s", err);
		store_audit(p->store, "care-side", "rules refused", detail);
		answer_rules(p, "rejected", pipeline_rules_version(p), err);
		return;
	}
	version = pipeline_rules_version(p);
	/* Kept so that it survives a restart. */
	{
		char *text = strndup(json, len);

		if (!text || store_alert_put(p->store, RULESET_KEY, text) < 0)
			log_err("rule set %s not saved: a restart goes back to the previous one",
				version);
		free(text);
	}
	snprintf(detail, sizeof(detail), "version %s", version);
	store_audit(p->store, "care-side", "rules changed", detail);
	answer_rules(p, "accepted", version, NULL);
}

static void ack_message(struct pipeline *p, const char *json, size_t len)
{
	json_error_t error;
	json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &error);
	const char *id = NULL, *by = NULL;
	int err;

	if (!doc || json_unpack(doc, "{s:s, s:s}", "id", &id, "by", &by) < 0 || !*by) {
		log_warn("alert/ack ignored: expected {\"id\": ALERT_ID, \"by\": WHO}");
		json_decref(doc);
		return;
	}
	err = rules_ack(p->rules, id, by, time_now_ms(), emit_alert, p);
	if (err < 0)
		log_warn("alert/ack for %s by %s: %s", id, by,
			 err == -ENOENT ? "no such active alert" : "already acknowledged");
	json_decref(doc);
}

void pipeline_message(const char *suffix, const void *payload, size_t len, void *pipeline)
{
	struct pipeline *p = pipeline;

	if (strcmp(suffix, "rules/set") == 0)
		rules_set_message(p, payload, len);
	else if (strcmp(suffix, "alert/ack") == 0)
		ack_message(p, payload, len);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf;

	if (!f)
		return NULL;
	buf = malloc(RULESET_FILE_MAX + 1);
	if (buf) {
		*len = fread(buf, 1, RULESET_FILE_MAX + 1, f);
		if (*len > RULESET_FILE_MAX) {
			free(buf);
			buf = NULL;
			errno = EFBIG;
		}
	}
	fclose(f);
	return buf;
}

static void load_rules(struct pipeline *p)
{
	char err[256], *json = NULL;
	size_t len = 0;

	if (store_alert_get(p->store, RULES_STATE_KEY, &json) == 0) {
		if (rules_state_load(p->rules, json, strlen(json)) < 0)
			log_err("saved alert state is unreadable: alerts start afresh");
		free(json);
		json = NULL;
	}
	/* The set last accepted from the care side wins over the file. */
	if (store_alert_get(p->store, RULESET_KEY, &json) == 0) {
		if (activate(p, json, strlen(json), "the store", err, sizeof(err)) == 0) {
			free(json);
			answer_rules(p, "accepted", pipeline_rules_version(p), NULL);
			return;
		}
		log_err("saved rule set is unreadable (%s): using the file", err);
		free(json);
	}
	if (!p->cfg->hub.rules) {
		log_warn("no rule set: readings are published but not judged");
		return;
	}
	json = read_file(p->cfg->hub.rules, &len);
	if (!json) {
		log_err("%s: %s: readings are published but not judged", p->cfg->hub.rules,
			strerror(errno));
		answer_rules(p, "none", NULL, strerror(errno));
		return;
	}
	if (activate(p, json, len, p->cfg->hub.rules, err, sizeof(err)) < 0) {
		log_err("%s: %s", p->cfg->hub.rules, err);
		answer_rules(p, "rejected", NULL, err);
	} else {
		answer_rules(p, "accepted", pipeline_rules_version(p), NULL);
	}
	free(json);
}

/* ---- life cycle ------------------------------------------------------------- */

struct pipeline *pipeline_new(struct loop *loop, const struct config *cfg, struct store *store)
{
	struct pipeline *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->loop = loop;
	p->cfg = cfg;
	p->store = store;
	p->rules = rules_new();
	if (!p->rules) {
		free(p);
		return NULL;
	}
	load_rules(p);
	return p;
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	if (p->save_defer) {
		loop_remove(p->loop, p->save_defer);
		save_rules_state(p->loop, p);
	}
	if (p->rules_timer > 0)
		loop_remove(p->loop, p->rules_timer);
	rules_free(p->rules);
	free(p->rules_state_json);
	free(p);
}

void pipeline_set_config(struct pipeline *p, const struct config *cfg)
{
	p->cfg = cfg;
}

void pipeline_set_uplink(struct pipeline *p, struct uplink *up)
{
	p->uplink = up;
	if (up && p->rules_state_json)
		uplink_set_retained(up, UPLINK_RULES_STATE, p->rules_state_json);
}

void pipeline_set_watch(struct pipeline *p, pipeline_watch_func cb, void *user_data)
{
	p->watch = cb;
	p->watch_data = user_data;
}

void pipeline_device_last(const struct pipeline *p, const char *address, struct pipeline_last *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned int i = 0; i < p->n_last; i++)
		if (strcmp(p->last[i].address, address) == 0)
			*out = p->last[i].last;
}

const char *pipeline_rules_state(const struct pipeline *p)
{
	return p->rules_state_json;
}

const char *pipeline_rules_version(const struct pipeline *p)
{
	const struct ruleset *set = rules_ruleset(p->rules);

	return set ? ruleset_version(set) : NULL;
}
