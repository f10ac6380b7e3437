/* SPDX-License-Identifier: MIT */
#include "status.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "bluez.h"
#include "config.h"
#include "ingest.h"
#include "loop.h"
#include "pipeline.h"
#include "plugin_loader.h"
#include "store.h"
#include "timefmt.h"
#include "uplink.h"

#define PAIRING_MAX 8

struct status {
	struct loop *loop;
	struct status_sources src;
	status_publish_func publish;
	void *user_data;
	int timer;
	uint64_t last_publish_ms;
	char pairing[PAIRING_MAX][18];
	unsigned int n_pairing;
};

static void publish_now(struct status *st)
{
	char *json = status_json(st);

	st->last_publish_ms = loop_now_ms();
	if (json)
		st->publish(json, st->user_data);
	free(json);
}

static void on_timer(struct loop *loop, void *user_data)
{
	struct status *st = user_data;

	(void)loop;
	st->timer = 0;
	publish_now(st);
}

struct status *status_new(struct loop *loop, const struct status_sources *sources,
			  status_publish_func publish, void *user_data)
{
	struct status *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	st->loop = loop;
	st->src = *sources;
	st->publish = publish;
	st->user_data = user_data;
	return st;
}

void status_free(struct status *st)
{
	if (!st)
		return;
	if (st->timer > 0)
		loop_remove(st->loop, st->timer);
	free(st);
}

void status_set_sources(struct status *st, const struct status_sources *sources)
{
	st->src = *sources;
	status_changed(st);
}

void status_changed(struct status *st)
{
	uint64_t now = loop_now_ms(), due;

	if (st->timer > 0)
		return;
	due = st->last_publish_ms + STATUS_MIN_INTERVAL_MS;
	st->timer = loop_add_timer(st->loop, st->last_publish_ms && due > now ? due - now : 0,
				   on_timer, st, NULL);
	if (st->timer < 0)
		st->timer = 0;
}

void status_pairing_needed(struct status *st, const char *address)
{
	for (unsigned int i = 0; i < st->n_pairing; i++)
		if (strcmp(st->pairing[i], address) == 0)
			return;
	if (st->n_pairing < PAIRING_MAX)
		strncpy(st->pairing[st->n_pairing++], address, sizeof(st->pairing[0]) - 1);
	status_changed(st);
}

static json_t *uplink_part(const struct uplink *up)
{
	struct uplink_stats s;

	if (!up)
		return json_null();
	uplink_get_stats(up, &s);
	return json_pack("{s:b, s:i, s:I, s:I, s:s}", "connected", s.connected, "in_flight",
			 (int)s.in_flight, "sent", (json_int_t)s.sent, "acked", (json_int_t)s.acked,
			 "last_error", s.last_error);
}

static json_t *store_part(struct store *store)
{
	static const char *const health[] = {"ok", "degraded", "failing"};
	const char *detail = NULL;
	enum store_health h = store_health(store, &detail);

	return json_pack("{s:s, s:s, s:I, s:I, s:I}", "health", health[h], "detail",
			 detail ? detail : "", "backlog", (json_int_t)store_outbox_count(store),
			 "evicted", (json_int_t)store_evicted_total(store), "held",
			 (json_int_t)store_held_count(store));
}

struct devices_ctx {
	const struct config *cfg;
	const struct pipeline *pipeline;
	json_t *array;
	uint64_t now;
};

static json_t *patients_of(const struct config_device *d)
{
	json_t *list = json_array();

	if (d && d->patient)
		json_array_append_new(list, json_string(d->patient));
	for (size_t i = 0; d && i < d->n_users; i++)
		json_array_append_new(list, json_string(d->users[i].patient));
	return list;
}

static void add_device(const struct bluez_device_info *info, void *user_data)
{
	struct devices_ctx *ctx = user_data;
	json_t *dev =
		json_pack("{s:s, s:s, s:o, s:b, s:b}", "address", info->address, "name", info->name,
			  "patients", patients_of(config_find_device(ctx->cfg, info->address)),
			  "connected", info->connected, "paired", info->paired);

	if (!dev)
		return;
	json_object_set_new(
		dev, "last_seen_s_ago",
		info->last_seen_ms
			? json_integer((json_int_t)((ctx->now - info->last_seen_ms) / 1000))
			: json_null());
	json_object_set_new(dev, "clock_offset_s",
			    info->clock_known ? json_integer(info->clock_offset_s) : json_null());
	if (ctx->pipeline) {
		struct pipeline_last last;
		char when[40];

		pipeline_device_last(ctx->pipeline, info->address, &last);
		json_object_set_new(dev, "last_reading",
				    last.time_ms ? json_string(last.text) : json_null());
		json_object_set_new(dev, "last_reading_time",
				    last.time_ms && time_format_iso(last.time_ms, last.offset_s,
								    when, sizeof(when)) == 0
					    ? json_string(when)
					    : json_null());
		json_object_set_new(dev, "battery",
				    last.has_battery ? json_real(last.battery) : json_null());
	}
	json_array_append_new(ctx->array, dev);
}

static json_t *bluetooth_part(const struct status_sources *src, json_t **devices)
{
	struct devices_ctx ctx = {src->cfg, src->pipeline, json_array(), loop_now_ms()};
	struct bluez_stats s;

	*devices = ctx.array;
	if (!src->bluez)
		return json_null();
	bluez_get_stats(src->bluez, &s);
	bluez_foreach_device(src->bluez, add_device, &ctx);
	return json_pack("{s:b, s:i, s:i, s:i, s:i, s:i}", "bluetoothd", s.bluetoothd_up, "known",
			 (int)s.known, "connected", (int)s.connected, "drivers", (int)s.bound,
			 "ignored_devices", (int)s.ignored, "notifications", (int)s.notifications);
}

static json_t *plugins_part(const struct plugin_set *set)
{
	static const char *const state[] = {"active", "refused", "quarantined"};
	json_t *list = json_array();
	struct plugin_info info;

	for (size_t i = 0; set && plugin_set_info(set, i, &info); i++)
		json_array_append_new(list, json_pack("{s:s, s:s, s:s}", "name", info.name, "state",
						      state[info.state], "reason", info.reason));
	return list;
}

static json_t *readings_part(const struct ingest *in)
{
	struct ingest_stats s;

	if (!in)
		return json_null();
	ingest_get_stats(in, &s);
	return json_pack("{s:I, s:I, s:I, s:I}", "accepted", (json_int_t)s.accepted, "duplicates",
			 (json_int_t)s.duplicates, "quarantined", (json_int_t)s.quarantined,
			 "rejected", (json_int_t)s.rejected);
}

char *status_json(struct status *st)
{
	const struct status_sources *src = &st->src;
	const char *version = src->pipeline ? pipeline_rules_version(src->pipeline) : NULL;
	json_t *doc, *devices, *pairing = json_array();
	char when[40], *text;

	time_format_iso(time_now_ms(), 0, when, sizeof(when));
	for (unsigned int i = 0; i < st->n_pairing; i++)
		json_array_append_new(pairing, json_string(st->pairing[i]));
	doc = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "hub", src->cfg->hub.id, "state",
			"online", "version", VARDE_VERSION, "time", when, "uplink",
			uplink_part(src->uplink), "store",
			src->store ? store_part(src->store) : json_null());
	if (!doc) {
		json_decref(pairing);
		return NULL;
	}
	json_object_set_new(doc, "bluetooth", bluetooth_part(src, &devices));
	json_object_set_new(doc, "devices", devices);
	json_object_set_new(doc, "plugins", plugins_part(src->plugins));
	json_object_set_new(doc, "readings", readings_part(src->ingest));
	json_object_set_new(
		doc, "rules",
		json_pack("{s:o}", "version", version ? json_string(version) : json_null()));
	json_object_set_new(doc, "pairing_needed", pairing);
	text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(doc);
	return text;
}

static char *dump(json_t *doc)
{
	char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	json_decref(doc);
	return text;
}

char *status_devices_json(struct status *st)
{
	json_t *devices, *bt = bluetooth_part(&st->src, &devices);

	json_decref(bt);
	return dump(devices);
}

static void add_history(const struct store_history *h, void *user_data)
{
	char when[40] = "";

	time_format_iso(h->effective_ms, 0, when, sizeof(when));
	json_array_append_new(user_data,
			      json_pack("{s:s, s:s, s:s, s:s, s:s}", "time", when, "patient",
					h->patient, "metric", h->metric, "value", h->value,
					"observation", h->observation_id));
}

char *status_history_json(struct status *st, const char *patient, unsigned int n)
{
	json_t *list = json_array();

	if (!st->src.store ||
	    store_history_recent(st->src.store, patient, n, add_history, list) < 0) {
		json_decref(list);
		return NULL;
	}
	return dump(list);
}

char *status_rules_json(struct status *st)
{
	const char *state = st->src.pipeline ? pipeline_rules_state(st->src.pipeline) : NULL;

	return strdup(state ? state : "{\"state\":\"none\"}");
}

static void add_audit(const struct store_audit_entry *e, void *user_data)
{
	char when[40] = "";

	time_format_iso(e->time_ms, 0, when, sizeof(when));
	json_array_append_new(user_data,
			      json_pack("{s:s, s:s, s:s, s:s}", "time", when, "actor", e->actor,
					"action", e->action, "detail", e->detail));
}

char *status_audit_json(struct status *st, unsigned int n)
{
	json_t *list = json_array();

	if (!st->src.store || store_audit_recent(st->src.store, n, add_audit, list) < 0) {
		json_decref(list);
		return NULL;
	}
	return dump(list);
}
