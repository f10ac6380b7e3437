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
#include <string.h>

#include <varde/plugin.h>

#include "hts_decode.h"
#include "measurement.h"

#define HTS_SERVICE_UUID "1809"
#define HTM_UUID "2A1C"
#define TEMPERATURE_TYPE_UUID "2A1D"

struct hts_device {
	struct measurement_device common;
	uint32_t fixed_site; /* from the Temperature Type characteristic */
};

static void htm_notify(struct varde_device *dev, const uint8_t *data, size_t len, void *user_data)
{
	struct hts_device *hdev = host->get_data(dev);
	struct hts_measurement m;

	(void)user_data;

	if (hts_decode_measurement(data, len, &m) < 0) {
		measurement_malformed(dev, data, len);
		return;
	}

	/* The field wins over the characteristic: it is what the
	 * thermometer says about this measurement. */
	if (!m.has_type)
		m.reading.site = hdev->fixed_site;
	else if (m.reading.site == VARDE_SITE_NONE)
		host->log(plugin_ctx, dev, VARDE_LOG_NOTICE,
			  "reserved Temperature Type %u: temperature kept without a site", m.type);

	measurement_deliver(dev, data, len,
			    &(const struct measurement_frame){
				    .readings = &m.reading,
				    .n_readings = 1,
				    .flags = m.flags,
				    .trailing = m.trailing,
				    .time_out_of_range = m.time_out_of_range,
			    });
}

static const struct measurement_service htm = {
	.uuid = HTM_UUID,
	.name = "Temperature Measurement",
	.reserved_flags = HTS_FLAGS_RESERVED,
	.notify = htm_notify,
	.data_size = sizeof(struct hts_device),
};

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
	measurement_subscribe(dev);
}

/* Temperature Type is read before subscribing (see the top of the file). */
static int hts_probe(struct varde_device *dev)
{
	int props;
	int err;

	err = measurement_attach(dev);
	if (err < 0)
		return err;

	props = host->char_props(dev, TEMPERATURE_TYPE_UUID);
	if (props >= 0 && (props & VARDE_CHAR_READ) &&
	    host->read(dev, TEMPERATURE_TYPE_UUID, type_read_done, NULL, NULL) >= 0)
		return 0;
	err = measurement_subscribe(dev);
	if (err < 0)
		measurement_remove(dev);
	return err;
}

static int hts_init(struct varde_plugin_ctx *ctx, const struct varde_host *h,
		    const struct varde_option *options, size_t n_options)
{
	(void)options;
	(void)n_options;

	return measurement_init(ctx, h, &htm);
}

static const struct varde_driver hts_driver = {
	.size = sizeof(struct varde_driver),
	.name = "hts",
	.service_uuid = HTS_SERVICE_UUID,
	.probe = hts_probe,
	.remove = measurement_remove,
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
	.exit = measurement_exit,
	.drivers = hts_drivers,
};
