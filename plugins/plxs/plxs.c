// SPDX-License-Identifier: MIT
/*
 * Pulse Oximeter Service (0x1822) plugin: driver glue around the pure
 * decoders in plxs_decode.c.
 *
 * Probe runs these steps, each once the previous one completed: read PLX
 * Features (logged; says whether records are stored), subscribe to the
 * spot-check indications, to the continuous notifications, and, when the
 * device stores spot-checks, to the RACP and then ask for all stored
 * records (PLXS offers no filter: spot-checks have no sequence number; the
 * hub drops records it has published before by their device time).
 *
 * Continuous measurements arrive about once a second: one is published,
 * then none for `continuous_interval` seconds (option, default 60; 0
 * publishes none). Spot-checks are all published.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <varde/ieee11073.h>
#include <varde/plugin.h>

#include "plxs_decode.h"
#include "racp.h"

#define UUID_SERVICE "1822"
#define UUID_SPOT "2A5E"
#define UUID_CONTINUOUS "2A5F"
#define UUID_FEATURES "2A60"
#define UUID_RACP "2A52"

/* Inactivity limit of a stored-record download. */
#define RACP_TIMEOUT_MS 30000
#define CONTINUOUS_INTERVAL_MAX 86400

/* A bad frame is logged with its first 24 bytes in hex (varde_hex() cuts
 * the rest to "..."). */
#define HEX_BUF (24 * 2 + sizeof("..."))

static struct varde_plugin_ctx *plugin_ctx;
static const struct varde_host *host;
static uint32_t continuous_interval_s = 60;

enum step {
	STEP_FEATURES,
	STEP_SPOT,
	STEP_CONTINUOUS,
	STEP_RACP,
	STEP_REQUEST,
	STEP_DONE,
};

enum racp_state {
	RACP_IDLE,
	RACP_REQUESTED,
	RACP_ABORTING,
};

struct plxs_dev {
	struct varde_device *dev;
	enum step step;
	uint16_t features;
	enum racp_state racp;
	int racp_timer; /* 0: none */
	bool continuous_hold; /* a continuous reading was published this interval */
	unsigned int bad_frames;
};

static void advance(struct plxs_dev *pd);

static void bad_frame(struct plxs_dev *pd, const char *what, const uint8_t *data, size_t len)
{
	char hex[HEX_BUF];

	varde_hex(data, len, hex, sizeof(hex));
	pd->bad_frames++;
	host->log(plugin_ctx, pd->dev, VARDE_LOG_WARNING,
		  "malformed %s (%zu bytes: %s), dropped; %u bad frames so far", what, len, hex,
		  pd->bad_frames);
}

static void submit_all(struct plxs_dev *pd, const struct varde_reading *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int err = host->submit(pd->dev, &r[i]);

		if (err < 0)
			host->log(plugin_ctx, pd->dev, VARDE_LOG_WARNING,
				  "reading of metric %u refused (%d)", r[i].metric, err);
	}
}

/* ---- stored records ---------------------------------------------------- */

static void racp_timer_fired(struct varde_device *dev, void *user_data);

static void racp_timer_restart(struct plxs_dev *pd)
{
	int id;

	if (pd->racp_timer > 0)
		host->cancel(pd->dev, pd->racp_timer);
	pd->racp_timer = 0;
	id = host->timer_add(pd->dev, RACP_TIMEOUT_MS, racp_timer_fired, pd, NULL);
	if (id < 0)
		host->log(plugin_ctx, pd->dev, VARDE_LOG_ERR, "cannot arm download timer (%d)", id);
	else
		pd->racp_timer = id;
}

static void racp_finish(struct plxs_dev *pd)
{
	if (pd->racp_timer > 0)
		host->cancel(pd->dev, pd->racp_timer);
	pd->racp_timer = 0;
	pd->racp = RACP_IDLE;
}

static void racp_write_done(struct varde_device *dev, int err, const uint8_t *data, size_t len,
			    void *user_data)
{
	struct plxs_dev *pd = user_data;

	(void)data;
	(void)len;
	if (err >= 0 || pd->racp == RACP_IDLE)
		return;
	/* -EPROTO is typically ATT 0x81 (indications off) or 0x80 (busy). */
	host->log(plugin_ctx, dev, VARDE_LOG_ERR, "RACP write failed (%d)", err);
	racp_finish(pd);
}

static int racp_write(struct plxs_dev *pd, const uint8_t *buf, int len)
{
	if (len < 0)
		return len;
	return host->write(pd->dev, UUID_RACP, buf, (size_t)len, 0, racp_write_done, pd, NULL);
}

static void racp_timer_fired(struct varde_device *dev, void *user_data)
{
	struct plxs_dev *pd = user_data;
	uint8_t buf[RACP_REQUEST_MAX];

	pd->racp_timer = 0;
	if (pd->racp == RACP_ABORTING) {
		host->log(plugin_ctx, dev, VARDE_LOG_ERR, "no answer to RACP abort: giving up");
		racp_finish(pd);
		return;
	}
	host->log(plugin_ctx, dev, VARDE_LOG_WARNING, "record download silent for %u s: aborting",
		  RACP_TIMEOUT_MS / 1000);
	if (racp_write(pd, buf, racp_encode_abort(buf, sizeof(buf))) < 0) {
		racp_finish(pd);
		return;
	}
	pd->racp = RACP_ABORTING;
	racp_timer_restart(pd);
}

static void racp_notify(struct varde_device *dev, const uint8_t *data, size_t len, void *user_data)
{
	struct plxs_dev *pd = user_data;
	struct racp_indication ind;

	if (racp_decode(data, len, &ind) < 0) {
		bad_frame(pd, "RACP indication", data, len);
		return;
	}
	if (ind.opcode != RACP_OP_RESPONSE_CODE || pd->racp == RACP_IDLE)
		return;
	if (pd->racp == RACP_ABORTING)
		host->log(plugin_ctx, dev, VARDE_LOG_NOTICE, "record download aborted: %s",
			  racp_response_name(ind.response));
	else if (ind.response == RACP_RSP_SUCCESS)
		host->log(plugin_ctx, dev, VARDE_LOG_INFO, "stored records downloaded");
	else if (ind.response == RACP_RSP_NO_RECORDS)
		host->log(plugin_ctx, dev, VARDE_LOG_INFO, "no stored records");
	else
		host->log(plugin_ctx, dev, VARDE_LOG_ERR, "record download failed: %s (0x%02x)",
			  racp_response_name(ind.response), ind.response);
	racp_finish(pd);
}

static void request_records(struct plxs_dev *pd)
{
	uint8_t buf[RACP_REQUEST_MAX];
	int id = racp_write(pd, buf, racp_encode_all(RACP_OP_REPORT_RECORDS, buf, sizeof(buf)));

	if (id < 0) {
		host->log(plugin_ctx, pd->dev, VARDE_LOG_ERR, "cannot request stored records (%d)",
			  id);
		return;
	}
	pd->racp = RACP_REQUESTED;
	racp_timer_restart(pd);
}

/* ---- measurements ------------------------------------------------------ */

static void spot_notify(struct varde_device *dev, const uint8_t *data, size_t len, void *user_data)
{
	struct plxs_dev *pd = user_data;
	struct varde_reading r[PLXS_MAX_READINGS];
	struct plxs_spot m;
	bool stored = pd->racp != RACP_IDLE;
	size_t n;

	if (plxs_spot_decode(data, len, &m) < 0) {
		bad_frame(pd, "spot-check measurement", data, len);
		return;
	}
	if (pd->racp == RACP_REQUESTED)
		racp_timer_restart(pd);
	n = plxs_spot_readings(&m, stored, r);
	if (!n) {
		host->log(plugin_ctx, dev, VARDE_LOG_NOTICE,
			  "stored spot-check without a usable time: not published");
	} else if (m.time_out_of_range) {
		/* Kept without its time (plugins/common/timestamp.h): the hub
		 * stamps it with the receive time and flags that. */
		char hex[HEX_BUF];

		varde_hex(data, len, hex, sizeof(hex));
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "spot-check time stamp out of range (%zu bytes: %s): kept without device "
			  "time",
			  len, hex);
	}
	submit_all(pd, r, n);
}

static void continuous_timer_fired(struct varde_device *dev, void *user_data)
{
	struct plxs_dev *pd = user_data;

	(void)dev;
	pd->continuous_hold = false;
}

static void continuous_notify(struct varde_device *dev, const uint8_t *data, size_t len,
			      void *user_data)
{
	struct plxs_dev *pd = user_data;
	struct varde_reading r[PLXS_MAX_READINGS];
	struct plxs_continuous m;
	size_t n;

	if (plxs_continuous_decode(data, len, &m) < 0) {
		bad_frame(pd, "continuous measurement", data, len);
		return;
	}
	if (!continuous_interval_s || pd->continuous_hold)
		return;
	/* If the timer cannot be armed, publishing would never stop again
	 * once held, or flood if not: skip this one and try again later. */
	if (host->timer_add(dev, continuous_interval_s * 1000, continuous_timer_fired, pd, NULL) <
	    0)
		return;
	pd->continuous_hold = true;
	n = plxs_continuous_readings(&m, r);
	submit_all(pd, r, n);
}

/* ---- probe sequence ---------------------------------------------------- */

static void step_done(struct varde_device *dev, int err, const uint8_t *data, size_t len,
		      void *user_data)
{
	struct plxs_dev *pd = user_data;

	(void)data;
	(void)len;
	if (err < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING, "probe step %d failed (%d)", pd->step,
			  err);
		/* Never write the RACP without its indications in effect. */
		if (pd->step == STEP_RACP)
			pd->step = STEP_REQUEST;
	}
	pd->step++;
	advance(pd);
}

static void features_read(struct varde_device *dev, int err, const uint8_t *data, size_t len,
			  void *user_data)
{
	struct plxs_dev *pd = user_data;
	struct plxs_features f;

	if (err < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING, "cannot read PLX features (%d)", err);
	} else if (plxs_features_decode(data, len, &f) < 0) {
		bad_frame(pd, "PLX features", data, len);
	} else {
		pd->features = f.features;
		host->log(plugin_ctx, dev, VARDE_LOG_INFO,
			  "PLX features 0x%04x, measurement status support 0x%04x, device status "
			  "support 0x%06x%s",
			  f.features, f.meas_status_support, f.device_status_support,
			  (f.features & PLXS_FEAT_STORAGE) ? ", stores spot-checks" : "");
	}
	pd->step++;
	advance(pd);
}

/* Starts the next probe step that applies; each completion calls back. */
static void advance(struct plxs_dev *pd)
{
	struct varde_device *dev = pd->dev;
	int id = -ENOENT;

	for (; pd->step < STEP_DONE; pd->step++) {
		switch (pd->step) {
		case STEP_FEATURES:
			if (host->char_props(dev, UUID_FEATURES) >= 0)
				id = host->read(dev, UUID_FEATURES, features_read, pd, NULL);
			break;
		case STEP_SPOT:
			if (host->char_props(dev, UUID_SPOT) >= 0)
				id = host->subscribe(dev, UUID_SPOT, spot_notify, step_done, pd,
						     NULL);
			break;
		case STEP_CONTINUOUS:
			if (host->char_props(dev, UUID_CONTINUOUS) >= 0)
				id = host->subscribe(dev, UUID_CONTINUOUS, continuous_notify,
						     step_done, pd, NULL);
			break;
		case STEP_RACP:
			/* Indications on before the request (ATT 0x81 otherwise). */
			if ((pd->features & PLXS_FEAT_STORAGE) &&
			    host->char_props(dev, UUID_RACP) >= 0)
				id = host->subscribe(dev, UUID_RACP, racp_notify, step_done, pd,
						     NULL);
			break;
		case STEP_REQUEST:
			if ((pd->features & PLXS_FEAT_STORAGE) &&
			    host->char_props(dev, UUID_RACP) >= 0)
				request_records(pd);
			break;
		case STEP_DONE:
			break;
		}
		if (id >= 0)
			return;
		if (id != -ENOENT)
			host->log(plugin_ctx, dev, VARDE_LOG_WARNING, "probe step %d failed (%d)",
				  pd->step, id);
		id = -ENOENT;
	}
}

static int plxs_probe(struct varde_device *dev)
{
	struct plxs_dev *pd;

	if (host->char_props(dev, UUID_SPOT) < 0 && host->char_props(dev, UUID_CONTINUOUS) < 0)
		return -ENOENT;
	pd = calloc(1, sizeof(*pd));
	if (!pd)
		return -ENOMEM;
	pd->dev = dev;
	host->set_data(dev, pd);
	advance(pd);
	return 0;
}

static void plxs_remove(struct varde_device *dev)
{
	free(host->get_data(dev));
	host->set_data(dev, NULL);
}

static int plxs_init(struct varde_plugin_ctx *ctx, const struct varde_host *h,
		     const struct varde_option *options, size_t n_options)
{
	if (!VARDE_HOST_HAS(h, state_set))
		return -ENOTSUP;
	plugin_ctx = ctx;
	host = h;
	for (size_t i = 0; i < n_options; i++) {
		char *end;
		unsigned long v;

		if (strcmp(options[i].key, "continuous_interval") || !options[i].value)
			continue;
		errno = 0;
		v = strtoul(options[i].value, &end, 10);
		if (errno || end == options[i].value || *end || v > CONTINUOUS_INTERVAL_MAX) {
			h->log(ctx, NULL, VARDE_LOG_ERR,
			       "continuous_interval \"%s\": want seconds 0..%d", options[i].value,
			       CONTINUOUS_INTERVAL_MAX);
			return -EINVAL;
		}
		continuous_interval_s = (uint32_t)v;
	}
	return 0;
}

static void plxs_exit(struct varde_plugin_ctx *ctx)
{
	(void)ctx;
	host = NULL;
	plugin_ctx = NULL;
}

static const struct varde_driver plxs_driver = {
	.size = sizeof(struct varde_driver),
	.name = "plxs",
	.service_uuid = UUID_SERVICE,
	.probe = plxs_probe,
	.remove = plxs_remove,
};

static const struct varde_driver *const plxs_drivers[] = {&plxs_driver, NULL};

static const struct varde_option_spec plxs_options[] = {
	{"continuous_interval",
	 "seconds between published continuous SpO2 readings (0: publish none)", "60"},
	{NULL, NULL, NULL},
};

VARDE_PLUGIN_DEFINE = {
	.abi_major = VARDE_PLUGIN_ABI_MAJOR,
	.abi_minor = VARDE_PLUGIN_ABI_MINOR,
	.size = sizeof(struct varde_plugin),
	.name = "plxs",
	.version = VARDE_PLUGIN_VERSION,
	.vendor = "varde",
	.description = "Bluetooth Pulse Oximeter Service (0x1822) with stored spot-checks",
	.init = plxs_init,
	.exit = plxs_exit,
	.drivers = plxs_drivers,
	.options = plxs_options,
};
