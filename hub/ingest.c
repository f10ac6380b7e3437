/* SPDX-License-Identifier: MIT */
#include "ingest.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "device.h"
#include "log.h"
#include "metrics.h"
#include "plugin_loader.h"
#include "store.h"
#include "timefmt.h"

#define EARLIEST_PLAUSIBLE ((time_t)946684800) /* 2000-01-01T00:00:00Z */

struct ingest {
	const struct config *cfg;
	struct store *store;
	ingest_record_func out;
	void *user_data;
	struct ingest_stats stats;
};

struct ingest *ingest_new(const struct config *cfg, struct store *store, ingest_record_func out,
			  void *user_data)
{
	struct ingest *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->cfg = cfg;
	in->store = store;
	in->out = out;
	in->user_data = user_data;
	return in;
}

void ingest_free(struct ingest *in)
{
	free(in);
}

void ingest_set_config(struct ingest *in, const struct config *cfg)
{
	in->cfg = cfg;
}

void ingest_get_stats(const struct ingest *in, struct ingest_stats *out)
{
	*out = in->stats;
}

/* ---- validation ------------------------------------------------------------- */

static bool value_fits(uint32_t metric, uint32_t unit, const struct varde_value *v)
{
	const struct metric_info *m = metric_lookup(metric);

	if (!m || v->special > VARDE_VALUE_NINF)
		return false;
	if (m->kind == METRIC_CODED)
		return unit == VARDE_UNIT_CODE;
	return m->kind == METRIC_QUANTITY && metric_ucum(metric, unit) != NULL;
}

/* Why a reading is malformed, or NULL when it is fine. */
static const char *check_reading(const struct varde_reading *r)
{
	const struct metric_info *m = metric_lookup(r->metric);

	if (!m)
		return "unknown metric";
	if (r->n_components > RECORD_MAX_COMPONENTS || (r->n_components && !r->components))
		return "too many components";
	for (size_t i = 0; i < r->n_components; i++)
		if (!value_fits(r->components[i].metric, r->components[i].unit,
				&r->components[i].value))
			return "a component's metric or unit is wrong";
	if (m->kind == METRIC_PANEL) {
		if (!r->n_components)
			return "a panel without components";
	} else if (!value_fits(r->metric, r->unit, &r->value)) {
		return "unit does not fit the metric";
	}
	if ((r->flags & VARDE_READING_HAS_USER) && r->user_id > VARDE_USER_UNKNOWN)
		return "user id out of range";
	return NULL;
}

/* ---- patient ---------------------------------------------------------------- */

/* The patient of a reading, or NULL when it must be quarantined; `why`
 * says why. */
static const char *attribute(const struct config_device *dev, const struct varde_reading *r,
			     const char **why)
{
	bool has_user = r->flags & VARDE_READING_HAS_USER;

	if (dev->n_users == 0)
		return dev->patient;
	if (!has_user) {
		*why = "no device user id on a multi-user device";
		return dev->patient;
	}
	if (r->user_id == VARDE_USER_UNKNOWN) {
		*why = "the device reports an unknown user";
		return NULL;
	}
	for (size_t i = 0; i < dev->n_users; i++)
		if (dev->users[i].user_id == r->user_id)
			return dev->users[i].patient;
	*why = "device user id not mapped to a patient";
	return NULL;
}

/* ---- time ------------------------------------------------------------------- */

static int32_t utc_offset(time_t t)
{
	struct tm tm;

	localtime_r(&t, &tm);
	return (int32_t)tm.tm_gmtoff;
}

/* The device time as an instant in the hub's zone, or false when it is not
 * usable. */
static bool device_instant(const struct varde_reading *r, int64_t received_ms, time_t *out)
{
	const struct varde_datetime *t = &r->time;
	struct tm tm;
	time_t when;

	if (!(r->flags & VARDE_READING_HAS_TIME) || !t->year || !t->month || !t->day ||
	    (r->status & VARDE_STATUS_DEVICE_CLOCK_NOT_SET))
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = t->year - 1900;
	tm.tm_mon = t->month - 1;
	tm.tm_mday = t->day;
	tm.tm_hour = t->hours;
	tm.tm_min = t->minutes;
	tm.tm_sec = t->seconds;
	tm.tm_isdst = -1;
	when = mktime(&tm);
	if (when == (time_t)-1 || when < EARLIEST_PLAUSIBLE ||
	    (int64_t)when > received_ms / 1000 + INGEST_FUTURE_SLACK_S)
		return false;
	*out = when;
	return true;
}

/* ---- identity --------------------------------------------------------------- */

/* The de-duplication key of a record, or false when it has none. */
static bool record_identity(const struct record *rec, bool time_usable, char *buf, size_t len)
{
	const struct metric_info *m = metric_lookup(rec->metric);
	const struct varde_datetime *t = &rec->device_time;
	char seq[16] = "", when[24] = "";
	int n;

	if (rec->reading_flags & VARDE_READING_HAS_SEQUENCE)
		snprintf(seq, sizeof(seq), "s%" PRIu32, rec->sequence);
	if (time_usable)
		snprintf(when, sizeof(when), "t%04u%02u%02u%02u%02u%02u", t->year, t->month, t->day,
			 t->hours, t->minutes, t->seconds);
	if (!seq[0] && !when[0])
		return false;
	n = snprintf(buf, len, "%s%s%s-%s", seq, seq[0] && when[0] ? "-" : "", when, m->name);
	return n > 0 && (size_t)n < len;
}

static void fill_record(struct record *rec, const char *hub, const char *address,
			const char *device_name, const char *plugin, const char *patient,
			const struct varde_reading *r, int64_t received_ms)
{
	memset(rec, 0, sizeof(*rec));
	snprintf(rec->hub_id, sizeof(rec->hub_id), "%s", hub);
	snprintf(rec->device_address, sizeof(rec->device_address), "%s", address);
	snprintf(rec->device_name, sizeof(rec->device_name), "%s", device_name ? device_name : "");
	snprintf(rec->plugin, sizeof(rec->plugin), "%s", plugin ? plugin : "");
	if (patient)
		snprintf(rec->patient, sizeof(rec->patient), "%s", patient);
	else
		rec->flags |= RECORD_QUARANTINED;
	rec->metric = r->metric;
	rec->unit = r->unit;
	rec->value = r->value;
	rec->status = r->status;
	rec->reading_flags = r->flags;
	rec->user_id = r->user_id;
	rec->sequence = r->sequence;
	rec->site = r->site <= VARDE_SITE_EARLOBE ? r->site : VARDE_SITE_NONE;
	rec->device_time = r->time;
	rec->n_components = (uint32_t)r->n_components;
	if (r->n_components)
		memcpy(rec->components, r->components,
		       r->n_components * sizeof(rec->components[0]));
	rec->received_ms = received_ms;
	rec->received_offset_s = utc_offset((time_t)(received_ms / 1000));
}

/* "<hub>.<address without colons>.<identity>", or with the receive time
 * when the record has no identity: unique either way, and stable across
 * resends when it has one. */
static void record_id(struct record *rec, const char *identity)
{
	char addr[13];
	size_t n = 0;

	for (const char *c = rec->device_address; *c && n < sizeof(addr) - 1; c++)
		if (*c != ':')
			addr[n++] = *c;
	addr[n] = '\0';
	/* Cannot be cut short: RECORD_ID_MAX holds the longest of each part. */
	if (identity)
		snprintf(rec->id, sizeof(rec->id), "%.64s.%s.%.63s", rec->hub_id, addr, identity);
	else
		snprintf(rec->id, sizeof(rec->id), "%.64s.%s.r%" PRId64 "-%.40s", rec->hub_id, addr,
			 rec->received_ms, metric_lookup(rec->metric)->name);
}

int ingest_reading(struct ingest *in, const char *address, const char *device_name,
		   const char *plugin, const struct varde_reading *r, int64_t received_ms)
{
	const struct config_device *dev = config_find_device(in->cfg, address);
	const char *why = NULL, *patient, *problem;
	struct record rec;
	char identity[64];
	bool has_identity, time_usable;
	time_t when;
	int err;

	if (!dev)
		return -ENODEV;
	problem = check_reading(r);
	if (problem) {
		in->stats.rejected++;
		log_warn("device %s: reading from plugin %s refused: %s (metric %u, unit %u)",
			 address, plugin, problem, r->metric, r->unit);
		return -EINVAL;
	}
	patient = attribute(dev, r, &why);
	fill_record(&rec, in->cfg->hub.id, dev->address, device_name, plugin, patient, r,
		    received_ms);
	time_usable = device_instant(r, received_ms, &when);
	if (time_usable) {
		rec.effective_ms = (int64_t)when * 1000;
		rec.effective_offset_s = utc_offset(when);
	} else {
		rec.effective_ms = received_ms;
		rec.effective_offset_s = rec.received_offset_s;
		rec.flags |= RECORD_TIME_FROM_RECEIPT;
	}

	has_identity = record_identity(&rec, time_usable, identity, sizeof(identity));
	if (has_identity) {
		err = store_record_seen(in->store, rec.device_address, identity);
		/* When the store cannot tell, publishing twice is the lesser
		 * harm: the observation id lets the receiver drop the copy. */
		if (err < 0)
			log_warn("device %s: cannot check record %s against earlier ones: %s",
				 address, identity, strerror(-err));
		if (err > 0) {
			in->stats.duplicates++;
			log_debug("device %s: record %s already delivered", address, identity);
			return 0;
		}
		err = store_record_mark(in->store, rec.device_address, identity);
		if (err < 0)
			return err;
	}
	record_id(&rec, has_identity ? identity : NULL);
	if (rec.flags & RECORD_QUARANTINED) {
		in->stats.quarantined++;
		log_warn("device %s: reading %s quarantined: %s (user id %" PRIu32 ")", address,
			 rec.id, why, rec.user_id);
	} else {
		in->stats.accepted++;
	}
	if (in->out)
		in->out(&rec, in->user_data);
	return 0;
}

/* ---- the device sink -------------------------------------------------------- */

static int sink_submit(struct varde_device *dev, const struct varde_reading *r, void *user_data)
{
	const struct varde_device_identity *id = device_identity(dev);

	return ingest_reading(user_data, id->address, id->name, plugin_ctx_name(device_plugin(dev)),
			      r, time_now_ms());
}

static int sink_state_get(struct varde_device *dev, const char *key, char *buf, size_t len,
			  void *user_data)
{
	struct ingest *in = user_data;

	return store_state_get(in->store, device_identity(dev)->address, key, buf, len);
}

static int sink_state_set(struct varde_device *dev, const char *key, const char *value,
			  void *user_data)
{
	struct ingest *in = user_data;

	return store_state_set(in->store, device_identity(dev)->address, key, value);
}

static const struct device_sink sink = {
	.submit = sink_submit,
	.state_get = sink_state_get,
	.state_set = sink_state_set,
};

const struct device_sink *ingest_sink(void)
{
	return &sink;
}
