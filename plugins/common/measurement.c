/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <varde/ieee11073.h>
#include <varde/plugin.h>

#include "measurement.h"

/* A bad frame is logged with its first 24 bytes in hex (varde_hex() cuts
 * the rest to "..."): enough for the flags and the fields a vendor gets
 * wrong, short enough for syslog. */
#define HEX_BUF (24 * 2 + sizeof("..."))

struct varde_plugin_ctx *plugin_ctx;
const struct varde_host *host;
static const struct measurement_service *service;

int measurement_init(struct varde_plugin_ctx *ctx, const struct varde_host *h,
		     const struct measurement_service *svc)
{
	if (!VARDE_HOST_HAS(h, get_data))
		return -ENOTSUP;
	plugin_ctx = ctx;
	host = h;
	service = svc;
	return 0;
}

void measurement_exit(struct varde_plugin_ctx *ctx)
{
	(void)ctx;

	plugin_ctx = NULL;
	host = NULL;
	service = NULL;
}

void measurement_malformed(struct varde_device *dev, const uint8_t *data, size_t len)
{
	struct measurement_device *mdev = host->get_data(dev);
	char hex[HEX_BUF];

	mdev->malformed++;
	varde_hex(data, len, hex, sizeof(hex));
	host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
		  "malformed %s dropped (%zu bytes: %s), %u so far", service->name, len, hex,
		  mdev->malformed);
}

void measurement_deliver(struct varde_device *dev, const uint8_t *data, size_t len,
			 const struct measurement_frame *frame)
{
	struct measurement_device *mdev = host->get_data(dev);

	/* Kept without its time (plugins/common/timestamp.h): the hub stamps
	 * it with the receive time and flags that. */
	if (frame->time_out_of_range) {
		char hex[HEX_BUF];

		varde_hex(data, len, hex, sizeof(hex));
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "%s time stamp out of range (%zu bytes: %s): kept without device time",
			  service->name, len, hex);
	}

	/* Known fields keep their place in a newer format: decode them, but
	 * tell the technician once that the device sends more than we know. */
	if ((frame->trailing || (frame->flags & service->reserved_flags)) &&
	    !mdev->extension_logged) {
		mdev->extension_logged = true;
		host->log(plugin_ctx, dev, VARDE_LOG_NOTICE,
			  "%s flags 0x%02x, %zu unknown trailing bytes: "
			  "reserved bits and extra bytes ignored",
			  service->name, frame->flags, frame->trailing);
	}

	for (size_t i = 0; i < frame->n_readings; i++) {
		int err = host->submit(dev, &frame->readings[i]);

		if (err < 0)
			host->log(plugin_ctx, dev, VARDE_LOG_ERR, "reading %zu of %zu refused: %s",
				  i + 1, frame->n_readings, strerror(-err));
	}
}

static void subscribe_done(struct varde_device *dev, int err, const uint8_t *data, size_t len,
			   void *user_data)
{
	(void)data;
	(void)len;
	(void)user_data;

	if (err < 0)
		host->log(plugin_ctx, dev, VARDE_LOG_ERR, "cannot enable %s indications: %s",
			  service->name, strerror(-err));
}

static void feature_read_done(struct varde_device *dev, int err, const uint8_t *data, size_t len,
			      void *user_data)
{
	(void)user_data;

	if (err < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING, "cannot read %s: %s",
			  service->feature_name, strerror(-err));
		return;
	}
	if (service->feature_log(dev, data, len) < 0) {
		char hex[HEX_BUF];

		varde_hex(data, len, hex, sizeof(hex));
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING, "malformed %s (%zu bytes: %s)",
			  service->feature_name, len, hex);
	}
}

int measurement_attach(struct varde_device *dev)
{
	int props = host->char_props(dev, service->uuid);
	void *data;

	if (props < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_ERR, "no %s characteristic: %s", service->name,
			  strerror(-props));
		return props;
	}

	data = calloc(1,
		      service->data_size ? service->data_size : sizeof(struct measurement_device));
	if (!data)
		return -ENOMEM;
	host->set_data(dev, data);
	return 0;
}

int measurement_subscribe(struct varde_device *dev)
{
	int id = host->subscribe(dev, service->uuid, service->notify, subscribe_done, NULL, NULL);

	if (id < 0)
		host->log(plugin_ctx, dev, VARDE_LOG_ERR, "cannot subscribe to %s: %s",
			  service->name, strerror(-id));
	return id < 0 ? id : 0;
}

void measurement_remove(struct varde_device *dev)
{
	free(host->get_data(dev));
	host->set_data(dev, NULL);
}

int measurement_probe(struct varde_device *dev)
{
	int props;
	int err;

	err = measurement_attach(dev);
	if (err < 0)
		return err;
	err = measurement_subscribe(dev);
	if (err < 0) {
		measurement_remove(dev);
		return err;
	}

	/* The feature only explains what the device can do: a device without
	 * it (or a failed read) still delivers measurements. */
	if (!service->feature_uuid)
		return 0;
	props = host->char_props(dev, service->feature_uuid);
	if (props >= 0 && (props & VARDE_CHAR_READ)) {
		int id = host->read(dev, service->feature_uuid, feature_read_done, NULL, NULL);

		if (id < 0)
			host->log(plugin_ctx, dev, VARDE_LOG_WARNING, "cannot read %s: %s",
				  service->feature_name, strerror(-id));
	}
	return 0;
}
