/* SPDX-License-Identifier: MIT */
/*
 * Health Thermometer Service (0x1809) driver. Subscribes to Temperature
 * Measurement and hands each measurement to the hub as a body temperature
 * reading. Intermediate Temperature is never subscribed: a value that is
 * still settling is not a measurement.
 *
 * The measurement site (Temperature Type) is logged, not submitted: the
 * plugin ABI v1 has no field for a body site, and a component needs a
 * metric, which a site code is not.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <varde/plugin.h>

#include "hts_decode.h"

#define HTS_SERVICE_UUID "1809"
#define HTM_UUID "2A1C"

/* A malformed frame is logged with this many leading bytes in hex: enough
 * for the flags and the fields a vendor gets wrong, short enough for syslog. */
#define HEX_BYTES 24
#define HEX_BUF (HEX_BYTES * 2 + sizeof("..."))

struct hts_device {
	unsigned int malformed; /* frames dropped because they did not decode */
	bool extension_logged; /* newer-format frame already reported */
};

static struct varde_plugin_ctx *plugin_ctx;
static const struct varde_host *host;

static void hex_prefix(const uint8_t *data, size_t len, char *buf, size_t size)
{
	size_t n = len < HEX_BYTES ? len : HEX_BYTES;
	size_t pos = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && pos < size; i++)
		pos += (size_t)snprintf(buf + pos, size - pos, "%02x", data[i]);
	if (len > n && pos < size)
		snprintf(buf + pos, size - pos, "...");
}

static void measurement_notify(struct varde_device *dev, const uint8_t *data, size_t len,
			       void *user_data)
{
	struct hts_device *hdev = host->get_data(dev);
	struct hts_measurement m;
	int err;

	(void)user_data;

	if (hts_decode_measurement(data, len, &m) < 0) {
		char hex[HEX_BUF];

		hdev->malformed++;
		hex_prefix(data, len, hex, sizeof(hex));
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "malformed Temperature Measurement dropped (%zu bytes: %s), %u so far",
			  len, hex, hdev->malformed);
		return;
	}

	/* Known fields keep their place in a newer format: decode them, but
	 * tell the technician once that the device sends more than we know. */
	if ((m.trailing || (m.flags & HTS_FLAGS_RESERVED)) && !hdev->extension_logged) {
		hdev->extension_logged = true;
		host->log(plugin_ctx, dev, VARDE_LOG_NOTICE,
			  "Temperature Measurement flags 0x%02x, %zu unknown trailing bytes: "
			  "reserved bits and extra bytes ignored",
			  m.flags, m.trailing);
	}

	if (m.has_site) {
		const char *name = hts_site_name(m.site);

		host->log(plugin_ctx, dev, VARDE_LOG_INFO, "temperature measured at site %u (%s)",
			  m.site, name ? name : "reserved code");
	}

	err = host->submit(dev, &m.reading);
	if (err < 0)
		host->log(plugin_ctx, dev, VARDE_LOG_ERR, "temperature reading refused: %s",
			  strerror(-err));
}

static void subscribe_done(struct varde_device *dev, int err, const uint8_t *data, size_t len,
			   void *user_data)
{
	(void)data;
	(void)len;
	(void)user_data;

	if (err < 0)
		host->log(plugin_ctx, dev, VARDE_LOG_ERR,
			  "cannot enable Temperature Measurement indications: %s", strerror(-err));
}

static int hts_probe(struct varde_device *dev)
{
	struct hts_device *hdev;
	int props;
	int id;

	props = host->char_props(dev, HTM_UUID);
	if (props < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_ERR,
			  "no Temperature Measurement characteristic: %s", strerror(-props));
		return props;
	}

	hdev = calloc(1, sizeof(*hdev));
	if (!hdev)
		return -ENOMEM;
	host->set_data(dev, hdev);

	id = host->subscribe(dev, HTM_UUID, measurement_notify, subscribe_done, NULL, NULL);
	if (id < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_ERR,
			  "cannot subscribe to Temperature Measurement: %s", strerror(-id));
		host->set_data(dev, NULL);
		free(hdev);
		return id;
	}
	return 0;
}

static void hts_remove(struct varde_device *dev)
{
	free(host->get_data(dev));
	host->set_data(dev, NULL);
}

static int hts_init(struct varde_plugin_ctx *ctx, const struct varde_host *h,
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

static void hts_exit(struct varde_plugin_ctx *ctx)
{
	(void)ctx;

	plugin_ctx = NULL;
	host = NULL;
}

static const struct varde_driver hts_driver = {
	.size = sizeof(struct varde_driver),
	.name = "hts",
	.service_uuid = HTS_SERVICE_UUID,
	.probe = hts_probe,
	.remove = hts_remove,
};

static const struct varde_driver *const hts_drivers[] = {&hts_driver, NULL};

VARDE_PLUGIN_DEFINE = {
	.abi_major = VARDE_PLUGIN_ABI_MAJOR,
	.abi_minor = VARDE_PLUGIN_ABI_MINOR,
	.size = sizeof(struct varde_plugin),
	.name = "hts",
	.version = VARDE_PLUGIN_VERSION,
	.vendor = "varde",
	.description = "Bluetooth Health Thermometer Service (0x1809)",
	.init = hts_init,
	.exit = hts_exit,
	.drivers = hts_drivers,
};
