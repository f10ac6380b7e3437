/* SPDX-License-Identifier: MIT */
/*
 * Weight Scale Service (0x181D) driver. Subscribes to Weight Measurement,
 * reads Weight Scale Feature once for the log, and hands each measurement
 * to the hub as a body weight reading and, when the scale sends them, BMI
 * and body height readings.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <varde/ieee11073.h>
#include <varde/plugin.h>

#include "wss_decode.h"

#define WSS_SERVICE_UUID "181D"
#define WM_UUID "2A9D"
#define WSF_UUID "2A9E"

/* A bad frame is logged with its first 24 bytes in hex (varde_hex() cuts
 * the rest to "..."): enough for the flags and the fields a vendor gets
 * wrong, short enough for syslog. */
#define HEX_BUF (24 * 2 + sizeof("..."))

struct wss_device {
	unsigned int malformed; /* frames dropped because they did not decode */
	bool extension_logged; /* newer-format frame already reported */
};

static struct varde_plugin_ctx *plugin_ctx;
static const struct varde_host *host;

static void measurement_notify(struct varde_device *dev, const uint8_t *data, size_t len,
			       void *user_data)
{
	struct wss_device *wdev = host->get_data(dev);
	struct wss_measurement m;

	(void)user_data;

	if (wss_decode_measurement(data, len, &m) < 0) {
		char hex[HEX_BUF];

		wdev->malformed++;
		varde_hex(data, len, hex, sizeof(hex));
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "malformed Weight Measurement dropped (%zu bytes: %s), %u so far", len,
			  hex, wdev->malformed);
		return;
	}

	/* Kept without its time (plugins/common/timestamp.h): the hub stamps
	 * it with the receive time and flags that. */
	if (m.time_out_of_range) {
		char hex[HEX_BUF];

		varde_hex(data, len, hex, sizeof(hex));
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "Weight Measurement time stamp out of range (%zu bytes: %s): "
			  "kept without device time",
			  len, hex);
	}

	/* Known fields keep their place in a newer format: decode them, but
	 * tell the technician once that the device sends more than we know. */
	if ((m.trailing || (m.flags & WSS_FLAGS_RESERVED)) && !wdev->extension_logged) {
		wdev->extension_logged = true;
		host->log(plugin_ctx, dev, VARDE_LOG_NOTICE,
			  "Weight Measurement flags 0x%02x, %zu unknown trailing bytes: "
			  "reserved bits and extra bytes ignored",
			  m.flags, m.trailing);
	}

	for (size_t i = 0; i < m.n_readings; i++) {
		int err = host->submit(dev, &m.readings[i]);

		if (err < 0)
			host->log(plugin_ctx, dev, VARDE_LOG_ERR, "reading %zu of %zu refused: %s",
				  i + 1, m.n_readings, strerror(-err));
	}
}

static void subscribe_done(struct varde_device *dev, int err, const uint8_t *data, size_t len,
			   void *user_data)
{
	(void)data;
	(void)len;
	(void)user_data;

	if (err < 0)
		host->log(plugin_ctx, dev, VARDE_LOG_ERR,
			  "cannot enable Weight Measurement indications: %s", strerror(-err));
}

static void feature_read_done(struct varde_device *dev, int err, const uint8_t *data, size_t len,
			      void *user_data)
{
	uint32_t features;

	(void)user_data;

	if (err < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "cannot read Weight Scale Feature: %s", strerror(-err));
		return;
	}
	if (wss_decode_feature(data, len, &features) < 0) {
		char hex[HEX_BUF];

		varde_hex(data, len, hex, sizeof(hex));
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "malformed Weight Scale Feature (%zu bytes: %s)", len, hex);
		return;
	}
	host->log(plugin_ctx, dev, VARDE_LOG_INFO,
		  "Weight Scale Feature 0x%08x: time stamp %s, multiple users %s, BMI %s, "
		  "weight resolution code %u, height resolution code %u",
		  features, (features & WSS_FEATURE_TIME_STAMP) ? "yes" : "no",
		  (features & WSS_FEATURE_MULTIPLE_USERS) ? "yes" : "no",
		  (features & WSS_FEATURE_BMI) ? "yes" : "no",
		  WSS_FEATURE_WEIGHT_RESOLUTION(features), WSS_FEATURE_HEIGHT_RESOLUTION(features));
}

static int wss_probe(struct varde_device *dev)
{
	struct wss_device *wdev;
	int props;
	int id;

	props = host->char_props(dev, WM_UUID);
	if (props < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_ERR,
			  "no Weight Measurement characteristic: %s", strerror(-props));
		return props;
	}

	wdev = calloc(1, sizeof(*wdev));
	if (!wdev)
		return -ENOMEM;
	host->set_data(dev, wdev);

	id = host->subscribe(dev, WM_UUID, measurement_notify, subscribe_done, NULL, NULL);
	if (id < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_ERR,
			  "cannot subscribe to Weight Measurement: %s", strerror(-id));
		host->set_data(dev, NULL);
		free(wdev);
		return id;
	}

	/* The feature only tells the technician what the scale can do: a
	 * scale without it (or a failed read) still delivers measurements. */
	props = host->char_props(dev, WSF_UUID);
	if (props >= 0 && (props & VARDE_CHAR_READ)) {
		id = host->read(dev, WSF_UUID, feature_read_done, NULL, NULL);
		if (id < 0)
			host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
				  "cannot read Weight Scale Feature: %s", strerror(-id));
	}
	return 0;
}

static void wss_remove(struct varde_device *dev)
{
	free(host->get_data(dev));
	host->set_data(dev, NULL);
}

static int wss_init(struct varde_plugin_ctx *ctx, const struct varde_host *h,
		    const struct varde_option *options, size_t n_options)
{
	(void)options;
	(void)n_options;

	if (!VARDE_HOST_HAS(h, get_data))
		return -ENOTSUP;
	plugin_ctx = ctx;
	host = h;
	return 0;
}

static void wss_exit(struct varde_plugin_ctx *ctx)
{
	(void)ctx;

	plugin_ctx = NULL;
	host = NULL;
}

static const struct varde_driver wss_driver = {
	.size = sizeof(struct varde_driver),
	.name = "wss",
	.service_uuid = WSS_SERVICE_UUID,
	.probe = wss_probe,
	.remove = wss_remove,
};

static const struct varde_driver *const wss_drivers[] = {&wss_driver, NULL};

VARDE_PLUGIN_DEFINE = {
	.abi_major = VARDE_PLUGIN_ABI_MAJOR,
	.abi_minor = VARDE_PLUGIN_ABI_MINOR,
	.size = sizeof(struct varde_plugin),
	.name = "wss",
	.version = VARDE_PLUGIN_VERSION,
	.vendor = "varde",
	.description = "Bluetooth Weight Scale Service (0x181D)",
	.init = wss_init,
	.exit = wss_exit,
	.drivers = wss_drivers,
};
