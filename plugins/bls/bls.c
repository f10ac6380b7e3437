/* SPDX-License-Identifier: MIT */
/*
 * Blood Pressure Service (0x1810) driver. Subscribes to Blood Pressure
 * Measurement, reads Blood Pressure Feature once for the log, and hands each
 * measurement to the hub as a blood pressure reading and, when the cuff
 * measured one, a pulse rate reading. Intermediate Cuff Pressure is never
 * subscribed: inflation pressures are not measurements.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <varde/ieee11073.h>
#include <varde/plugin.h>

#include "bls_decode.h"

#define BLS_SERVICE_UUID "1810"
#define BPM_UUID "2A35"
#define BPF_UUID "2A49"

/* A bad frame is logged with its first 24 bytes in hex (varde_hex() cuts
 * the rest to "..."): enough for the flags and the fields a vendor gets
 * wrong, short enough for syslog. */
#define HEX_BUF (24 * 2 + sizeof("..."))

struct bls_device {
	unsigned int malformed; /* frames dropped because they did not decode */
	bool extension_logged; /* newer-format frame already reported */
};

static struct varde_plugin_ctx *plugin_ctx;
static const struct varde_host *host;

static void measurement_notify(struct varde_device *dev, const uint8_t *data, size_t len,
			       void *user_data)
{
	struct bls_device *bdev = host->get_data(dev);
	struct bls_measurement m;

	(void)user_data;

	if (bls_decode_measurement(data, len, &m) < 0) {
		char hex[HEX_BUF];

		bdev->malformed++;
		varde_hex(data, len, hex, sizeof(hex));
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "malformed Blood Pressure Measurement dropped (%zu bytes: %s), %u so far",
			  len, hex, bdev->malformed);
		return;
	}

	/* Kept without its time (plugins/common/timestamp.h): the hub stamps
	 * it with the receive time and flags that. */
	if (m.time_out_of_range) {
		char hex[HEX_BUF];

		varde_hex(data, len, hex, sizeof(hex));
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "Blood Pressure Measurement time stamp out of range (%zu bytes: %s): "
			  "kept without device time",
			  len, hex);
	}

	/* Known fields keep their place in a newer format: decode them, but
	 * tell the technician once that the device sends more than we know. */
	if ((m.trailing || (m.flags & BLS_BPM_FLAGS_RESERVED)) && !bdev->extension_logged) {
		bdev->extension_logged = true;
		host->log(plugin_ctx, dev, VARDE_LOG_NOTICE,
			  "Blood Pressure Measurement flags 0x%02x, %zu unknown trailing bytes: "
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
			  "cannot enable Blood Pressure Measurement indications: %s",
			  strerror(-err));
}

static void feature_read_done(struct varde_device *dev, int err, const uint8_t *data, size_t len,
			      void *user_data)
{
	/* Blood Pressure Feature bits 0..5, the detections the cuff can report
	 * in Measurement Status, and whether it bonds with several collectors. */
	static const char *const names[] = {
		[0] = "body movement",	      [1] = "cuff fit",
		[2] = "irregular pulse",      [3] = "pulse range",
		[4] = "measurement position", [5] = "multiple bonds",
	};
	char list[128] = "";
	size_t pos = 0;
	uint16_t features;

	(void)user_data;

	if (err < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "cannot read Blood Pressure Feature: %s", strerror(-err));
		return;
	}
	if (bls_decode_feature(data, len, &features) < 0) {
		char hex[HEX_BUF];

		varde_hex(data, len, hex, sizeof(hex));
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "malformed Blood Pressure Feature (%zu bytes: %s)", len, hex);
		return;
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && pos < sizeof(list); i++)
		if (features & (1u << i))
			pos += (size_t)snprintf(list + pos, sizeof(list) - pos, "%s%s",
						pos ? ", " : "", names[i]);
	host->log(plugin_ctx, dev, VARDE_LOG_INFO, "Blood Pressure Feature 0x%04x (%s)", features,
		  pos ? list : "none");
}

static int bls_probe(struct varde_device *dev)
{
	struct bls_device *bdev;
	int props;
	int id;

	props = host->char_props(dev, BPM_UUID);
	if (props < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_ERR,
			  "no Blood Pressure Measurement characteristic: %s", strerror(-props));
		return props;
	}

	bdev = calloc(1, sizeof(*bdev));
	if (!bdev)
		return -ENOMEM;
	host->set_data(dev, bdev);

	id = host->subscribe(dev, BPM_UUID, measurement_notify, subscribe_done, NULL, NULL);
	if (id < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_ERR,
			  "cannot subscribe to Blood Pressure Measurement: %s", strerror(-id));
		host->set_data(dev, NULL);
		free(bdev);
		return id;
	}

	/* The feature only explains which status bits the device can set: a
	 * device without it (or a failed read) still delivers measurements. */
	props = host->char_props(dev, BPF_UUID);
	if (props >= 0 && (props & VARDE_CHAR_READ)) {
		id = host->read(dev, BPF_UUID, feature_read_done, NULL, NULL);
		if (id < 0)
			host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
				  "cannot read Blood Pressure Feature: %s", strerror(-id));
	}
	return 0;
}

static void bls_remove(struct varde_device *dev)
{
	free(host->get_data(dev));
	host->set_data(dev, NULL);
}

static int bls_init(struct varde_plugin_ctx *ctx, const struct varde_host *h,
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

static void bls_exit(struct varde_plugin_ctx *ctx)
{
	(void)ctx;

	plugin_ctx = NULL;
	host = NULL;
}

static const struct varde_driver bls_driver = {
	.size = sizeof(struct varde_driver),
	.name = "bls",
	.service_uuid = BLS_SERVICE_UUID,
	.probe = bls_probe,
	.remove = bls_remove,
};

static const struct varde_driver *const bls_drivers[] = {&bls_driver, NULL};

VARDE_PLUGIN_DEFINE = {
	.abi_major = VARDE_PLUGIN_ABI_MAJOR,
	.abi_minor = VARDE_PLUGIN_ABI_MINOR,
	.size = sizeof(struct varde_plugin),
	.name = "bls",
	.version = VARDE_PLUGIN_VERSION,
	.vendor = "varde",
	.description = "Bluetooth Blood Pressure Service (0x1810)",
	.init = bls_init,
	.exit = bls_exit,
	.drivers = bls_drivers,
};
