// SPDX-License-Identifier: MIT
/*
 * Glucose Service (0x1808) plugin: driver glue between the hub and the
 * pure decoders (gls_decode.c) and record download (gls_racp.c).
 *
 * Flow on probe: subscribe to Glucose Measurement, then Glucose Measurement
 * Context, then the RACP; each subscription is made once the previous one
 * is in effect, so that the RACP indications are on before the request is
 * written (a meter answers ATT 0x81 otherwise) and no record can arrive
 * before its characteristic is subscribed. Then ask for the records after
 * the persisted cursor ("last_seq").
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <varde/ieee11073.h>
#include <varde/plugin.h>

#include "gls_decode.h"
#include "gls_quirks.h"
#include "gls_racp.h"

#define UUID_SERVICE "1808"
#define UUID_MEASUREMENT "2A18"
#define UUID_CONTEXT "2A34"
#define UUID_RACP "2A52"
#define CURSOR_KEY "last_seq"

/* A bad frame is logged with its first 24 bytes in hex (varde_hex() cuts
 * the rest to "..."). */
#define HEX_BUF (24 * 2 + sizeof("..."))

static struct varde_plugin_ctx *plugin_ctx;
static const struct varde_host *host;
static char *newest_first_names;

struct gls_dev {
	struct varde_device *dev;
	struct gls_racp *racp;
	int timer_id; /* 0: none */
	unsigned int bad_frames;
};

static void bad_frame(struct gls_dev *gd, const char *what, const uint8_t *data, size_t len)
{
	char hex[HEX_BUF];

	varde_hex(data, len, hex, sizeof(hex));
	gd->bad_frames++;
	host->log(plugin_ctx, gd->dev, VARDE_LOG_WARNING,
		  "malformed %s (%zu bytes: %s), dropped; %u bad frames so far", what, len, hex,
		  gd->bad_frames);
}

/* ---- actions of the download state machine ---------------------------- */

static void racp_write_done(struct varde_device *dev, int err, const uint8_t *data, size_t len,
			    void *user_data)
{
	struct gls_dev *gd = user_data;

	(void)dev;
	(void)data;
	(void)len;
	gls_racp_write_done(gd->racp, err);
}

static int op_write(const uint8_t *buf, size_t len, void *user_data)
{
	struct gls_dev *gd = user_data;
	int id = host->write(gd->dev, UUID_RACP, buf, len, 0, racp_write_done, gd, NULL);

	return id < 0 ? id : 0;
}

static int op_submit(const struct gls_measurement *m, const struct gls_context *ctx, bool stored,
		     void *user_data)
{
	struct gls_dev *gd = user_data;
	struct varde_component components[GLS_MAX_COMPONENTS];
	struct varde_reading r;

	if (gls_reading_build(m, ctx, stored, &r, components) < 0) {
		host->log(plugin_ctx, gd->dev, VARDE_LOG_INFO,
			  "record %u has no glucose value (flags 0x%02x, type %u): not published",
			  m->sequence, m->flags, m->type);
		return 0;
	}
	if (r.metric == VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION)
		host->log(plugin_ctx, gd->dev, VARDE_LOG_INFO,
			  "record %u is a control-solution test", m->sequence);
	return host->submit(gd->dev, &r);
}

static void op_save_cursor(uint16_t sequence, void *user_data)
{
	struct gls_dev *gd = user_data;
	char value[8];
	int err;

	snprintf(value, sizeof(value), "%u", sequence);
	err = host->state_set(gd->dev, CURSOR_KEY, value);
	if (err < 0)
		host->log(plugin_ctx, gd->dev, VARDE_LOG_ERR, "cannot save cursor %u (%d)",
			  sequence, err);
}

static void timer_fired(struct varde_device *dev, void *user_data)
{
	struct gls_dev *gd = user_data;

	(void)dev;
	gd->timer_id = 0;
	gls_racp_timeout(gd->racp);
}

static void op_timer_stop(void *user_data)
{
	struct gls_dev *gd = user_data;

	if (gd->timer_id > 0)
		host->cancel(gd->dev, gd->timer_id);
	gd->timer_id = 0;
}

static int op_timer_start(uint32_t msec, void *user_data)
{
	struct gls_dev *gd = user_data;
	int id;

	op_timer_stop(gd);
	id = host->timer_add(gd->dev, msec, timer_fired, gd, NULL);
	if (id < 0) {
		host->log(plugin_ctx, gd->dev, VARDE_LOG_ERR, "cannot arm download timer (%d)", id);
		return id;
	}
	gd->timer_id = id;
	return 0;
}

static void VARDE_PRINTF(3, 4) op_log(void *user_data, int level, const char *fmt, ...)
{
	struct gls_dev *gd = user_data;
	char line[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	host->log(plugin_ctx, gd->dev, level, "%s", line);
}

static const struct gls_racp_ops racp_ops = {
	.write = op_write,
	.submit = op_submit,
	.save_cursor = op_save_cursor,
	.timer_start = op_timer_start,
	.timer_stop = op_timer_stop,
	.log = op_log,
};

/* ---- device events ----------------------------------------------------- */

static void measurement_notify(struct varde_device *dev, const uint8_t *data, size_t len,
			       void *user_data)
{
	struct gls_dev *gd = user_data;
	struct gls_measurement m;

	if (gls_measurement_decode(data, len, &m) < 0) {
		bad_frame(gd, "glucose measurement", data, len);
		return;
	}
	/* Kept without its time (plugins/common/timestamp.h): the hub stamps
	 * it with the receive time and flags that. */
	if (!m.has_time) {
		char hex[HEX_BUF];

		varde_hex(data, len, hex, sizeof(hex));
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "glucose record %u: %s (%zu bytes: %s): kept without device time",
			  m.sequence,
			  m.time_out_of_range
				  ? "time stamp out of range"
				  : "time offset on an unknown date or beyond the calendar",
			  len, hex);
	}
	gls_racp_measurement(gd->racp, &m);
}

static void context_notify(struct varde_device *dev, const uint8_t *data, size_t len,
			   void *user_data)
{
	struct gls_dev *gd = user_data;
	struct gls_context x;

	(void)dev;
	if (gls_context_decode(data, len, &x) < 0) {
		bad_frame(gd, "glucose context", data, len);
		return;
	}
	gls_racp_context(gd->racp, &x);
}

static void racp_notify(struct varde_device *dev, const uint8_t *data, size_t len, void *user_data)
{
	struct gls_dev *gd = user_data;

	(void)dev;
	if (gls_racp_indication(gd->racp, data, len) < 0)
		bad_frame(gd, "RACP indication", data, len);
}

static void racp_subscribed(struct varde_device *dev, int err, const uint8_t *data, size_t len,
			    void *user_data)
{
	struct gls_dev *gd = user_data;

	(void)data;
	(void)len;
	if (err < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_ERR,
			  "cannot enable RACP indications (%d): stored records not downloaded",
			  err);
		return;
	}
	gls_racp_start(gd->racp);
}

static void subscribe_racp(struct gls_dev *gd)
{
	int id;

	if (host->char_props(gd->dev, UUID_RACP) < 0) {
		host->log(plugin_ctx, gd->dev, VARDE_LOG_NOTICE, "no RACP: live measurements only");
		return;
	}
	id = host->subscribe(gd->dev, UUID_RACP, racp_notify, racp_subscribed, gd, NULL);
	if (id < 0)
		host->log(plugin_ctx, gd->dev, VARDE_LOG_ERR, "cannot subscribe to RACP (%d)", id);
}

static void context_subscribed(struct varde_device *dev, int err, const uint8_t *data, size_t len,
			       void *user_data)
{
	(void)data;
	(void)len;
	/* Without context the measurements are still complete readings. */
	if (err < 0)
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "cannot subscribe to glucose context (%d)", err);
	subscribe_racp(user_data);
}

static void measurement_subscribed(struct varde_device *dev, int err, const uint8_t *data,
				   size_t len, void *user_data)
{
	struct gls_dev *gd = user_data;
	int id;

	(void)data;
	(void)len;
	if (err < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_ERR,
			  "cannot subscribe to glucose measurement (%d)", err);
		return;
	}
	if (host->char_props(dev, UUID_CONTEXT) < 0) {
		subscribe_racp(gd);
		return;
	}
	id = host->subscribe(dev, UUID_CONTEXT, context_notify, context_subscribed, gd, NULL);
	if (id < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "cannot subscribe to glucose context (%d)", id);
		subscribe_racp(gd);
	}
}

static void load_cursor(struct gls_dev *gd)
{
	char value[16];
	char *end;
	unsigned long seq;
	int err = host->state_get(gd->dev, CURSOR_KEY, value, sizeof(value));

	if (err == -ENOENT)
		return;
	if (err < 0) {
		host->log(plugin_ctx, gd->dev, VARDE_LOG_WARNING,
			  "cannot read cursor (%d): asking for all records", err);
		return;
	}
	errno = 0;
	seq = strtoul(value, &end, 10);
	if (errno || end == value || *end || seq > UINT16_MAX) {
		host->log(plugin_ctx, gd->dev, VARDE_LOG_WARNING,
			  "stored cursor \"%s\" is not a sequence number: asking for all records",
			  value);
		return;
	}
	gls_racp_set_cursor(gd->racp, (uint16_t)seq);
}

static int gls_probe(struct varde_device *dev)
{
	struct varde_device_identity id = {{0}, {0}};
	struct gls_dev *gd;
	bool newest_first;
	int err;

	if (host->char_props(dev, UUID_MEASUREMENT) < 0)
		return -ENOENT;
	newest_first = host->get_identity(dev, &id) == 0 &&
		       gls_quirk_newest_first(id.name, newest_first_names);

	gd = calloc(1, sizeof(*gd));
	if (!gd)
		return -ENOMEM;
	gd->dev = dev;
	gd->racp = gls_racp_new(&racp_ops, gd, newest_first);
	if (!gd->racp) {
		free(gd);
		return -ENOMEM;
	}
	if (newest_first)
		host->log(plugin_ctx, dev, VARDE_LOG_INFO, "quirk: sends newest records first");
	load_cursor(gd);
	host->set_data(dev, gd);

	err = host->subscribe(dev, UUID_MEASUREMENT, measurement_notify, measurement_subscribed, gd,
			      NULL);
	if (err < 0) {
		host->set_data(dev, NULL);
		gls_racp_free(gd->racp);
		free(gd);
		return err;
	}
	return 0;
}

static void gls_remove(struct varde_device *dev)
{
	struct gls_dev *gd = host->get_data(dev);

	if (!gd)
		return;
	/* A measurement still waiting for its context is published without
	 * it rather than lost. */
	gls_racp_flush(gd->racp);
	gls_racp_free(gd->racp);
	host->set_data(dev, NULL);
	free(gd);
}

static int gls_init(struct varde_plugin_ctx *ctx, const struct varde_host *h,
		    const struct varde_option *options, size_t n_options)
{
	if (!VARDE_HOST_HAS(h, state_set))
		return -ENOTSUP;
	plugin_ctx = ctx;
	host = h;
	for (size_t i = 0; i < n_options; i++) {
		if (strcmp(options[i].key, "newest_first_names") || !options[i].value)
			continue;
		newest_first_names = strdup(options[i].value);
		if (!newest_first_names)
			return -ENOMEM;
	}
	return 0;
}

static void gls_exit(struct varde_plugin_ctx *ctx)
{
	(void)ctx;
	free(newest_first_names);
	newest_first_names = NULL;
	host = NULL;
	plugin_ctx = NULL;
}

static const struct varde_driver gls_driver = {
	.size = sizeof(struct varde_driver),
	.name = "gls",
	.service_uuid = UUID_SERVICE,
	.probe = gls_probe,
	.remove = gls_remove,
};

static const struct varde_driver *const gls_drivers[] = {&gls_driver, NULL};

static const struct varde_option_spec gls_options[] = {
	{"newest_first_names",
	 "comma-separated fnmatch(3) patterns of meter names that send stored records newest first",
	 NULL},
	{NULL, NULL, NULL},
};

VARDE_PLUGIN_DEFINE = {
	.abi_major = VARDE_PLUGIN_ABI_MAJOR,
	.abi_minor = VARDE_PLUGIN_ABI_MINOR,
	.size = sizeof(struct varde_plugin),
	.name = "gls",
	.version = VARDE_PLUGIN_VERSION,
	.vendor = "varde",
	.description = "Bluetooth Glucose Service (0x1808) with stored-record download",
	.init = gls_init,
	.exit = gls_exit,
	.drivers = gls_drivers,
	.options = gls_options,
};
