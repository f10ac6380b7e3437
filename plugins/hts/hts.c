/* SPDX-License-Identifier: MIT */
/*
 * Health Thermometer Service (0x1809) driver. Subscribes to Temperature
 * Measurement and hands each measurement to the hub as a body temperature
 * reading with its measurement site. Intermediate Temperature is never
 * subscribed: a value that is still settling is not a measurement.
 *
 * A thermometer that always measures at the same site may leave the
 * Temperature Type field out of its measurements and offer the Temperature
 * Type characteristic instead: it is read first, and Temperature
 * Measurement subscribed only then, so that no measurement arrives before
 * its site is known.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <varde/ieee11073.h>
#include <varde/plugin.h>

#include "hts_decode.h"

#define HTS_SERVICE_UUID "1809"
#define HTM_UUID "2A1C"
#define TEMPERATURE_TYPE_UUID "2A1D"

/* A bad frame is logged with its first 24 bytes in hex (varde_hex() cuts
 * the rest to "..."): enough for the flags and the fields a vendor gets
 * wrong, short enough for syslog. */
#define HEX_BUF (24 * 2 + sizeof("..."))

struct hts_device {
	unsigned int malformed; /* frames dropped because they did not decode */
	bool extension_logged; /* newer-format frame already reported */
	uint32_t fixed_site; /* from the Temperature Type characteristic */
};

static struct varde_plugin_ctx *plugin_ctx;
static const struct varde_host *host;

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
		varde_hex(data, len, hex, sizeof(hex));
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "malformed Temperature Measurement dropped (%zu bytes: %s), %u so far",
			  len, hex, hdev->malformed);
		return;
	}

	/* Kept without its time (plugins/common/timestamp.h): the hub stamps
	 * it with the receive time and flags that. */
	if (m.time_out_of_range) {
		char hex[HEX_BUF];

		varde_hex(data, len, hex, sizeof(hex));
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "Temperature Measurement time stamp out of range (%zu bytes: %s): "
			  "kept without device time",
			  len, hex);
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

	/* The field wins over the characteristic: it is what the
	 * thermometer says about this measurement. */
	if (!m.has_type)
		m.reading.site = hdev->fixed_site;
	else if (m.reading.site == VARDE_SITE_NONE)
		host->log(plugin_ctx, dev, VARDE_LOG_NOTICE,
			  "reserved Temperature Type %u: temperature kept without a site", m.type);

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

static int subscribe_measurement(struct varde_device *dev)
{
	int id = host->subscribe(dev, HTM_UUID, measurement_notify, subscribe_done, NULL, NULL);

	if (id < 0)
		host->log(plugin_ctx, dev, VARDE_LOG_ERR,
			  "cannot subscribe to Temperature Measurement: %s", strerror(-id));
	return id < 0 ? id : 0;
}

static void type_read_done(struct varde_device *dev, int err, const uint8_t *data, size_t len,
			   void *user_data)
{
	struct hts_device *hdev = host->get_data(dev);
	uint8_t type;

	(void)user_data;

	if (err < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "cannot read Temperature Type: %s; measurements without the field "
			  "have no site",
			  strerror(-err));
	} else if (hts_decode_temperature_type(data, len, &type) < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "empty Temperature Type: measurements without the field have no site");
	} else {
		hdev->fixed_site = hts_site_from_type(type);
		host->log(plugin_ctx, dev,
			  hdev->fixed_site == VARDE_SITE_NONE ? VARDE_LOG_NOTICE : VARDE_LOG_INFO,
			  "Temperature Type %u%s", type,
			  hdev->fixed_site == VARDE_SITE_NONE ? " (reserved): no site" : "");
	}
	subscribe_measurement(dev);
}

static int hts_probe(struct varde_device *dev)
{
	struct hts_device *hdev;
	int props;
	int err;

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

	props = host->char_props(dev, TEMPERATURE_TYPE_UUID);
	if (props >= 0 && (props & VARDE_CHAR_READ) &&
	    host->read(dev, TEMPERATURE_TYPE_UUID, type_read_done, NULL, NULL) >= 0)
		return 0;
	err = subscribe_measurement(dev);
	if (err < 0) {
		host->set_data(dev, NULL);
		free(hdev);
	}
	return err;
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
