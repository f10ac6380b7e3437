/* SPDX-License-Identifier: MIT */
/*
 * Weight Scale Service (0x181D) driver. Subscribes to Weight Measurement,
 * reads Weight Scale Feature once for the log, and hands each measurement
 * to the hub as a body weight reading and, when the scale sends them, BMI
 * and body height readings.
 */
#include <errno.h>

#include <varde/plugin.h>

#include "wss_decode.h"
#include "measurement.h"

#define WSS_SERVICE_UUID "181D"
#define WM_UUID "2A9D"
#define WSF_UUID "2A9E"

static void wm_notify(struct varde_device *dev, const uint8_t *data, size_t len, void *user_data)
{
	struct wss_measurement m;

	(void)user_data;

	if (wss_decode_measurement(data, len, &m) < 0) {
		measurement_malformed(dev, data, len);
		return;
	}
	measurement_deliver(dev, data, len,
			    &(const struct measurement_frame){
				    .readings = m.readings,
				    .n_readings = m.n_readings,
				    .flags = m.flags,
				    .trailing = m.trailing,
				    .time_out_of_range = m.time_out_of_range,
			    });
}

static int feature_log(struct varde_device *dev, const uint8_t *data, size_t len)
{
	uint32_t features;

	if (wss_decode_feature(data, len, &features) < 0)
		return -EBADMSG;
	host->log(plugin_ctx, dev, VARDE_LOG_INFO,
		  "Weight Scale Feature 0x%08x: time stamp %s, multiple users %s, BMI %s, "
		  "weight resolution code %u, height resolution code %u",
		  features, (features & WSS_FEATURE_TIME_STAMP) ? "yes" : "no",
		  (features & WSS_FEATURE_MULTIPLE_USERS) ? "yes" : "no",
		  (features & WSS_FEATURE_BMI) ? "yes" : "no",
		  WSS_FEATURE_WEIGHT_RESOLUTION(features), WSS_FEATURE_HEIGHT_RESOLUTION(features));
	return 0;
}

/* The feature only tells the technician what the scale can do. */
static const struct measurement_service wm = {
	.uuid = WM_UUID,
	.name = "Weight Measurement",
	.reserved_flags = WSS_FLAGS_RESERVED,
	.notify = wm_notify,
	.feature_uuid = WSF_UUID,
	.feature_name = "Weight Scale Feature",
	.feature_log = feature_log,
};

static int wss_init(struct varde_plugin_ctx *ctx, const struct varde_host *h,
		    const struct varde_option *options, size_t n_options)
{
	(void)options;
	(void)n_options;

	return measurement_init(ctx, h, &wm);
}

static const struct varde_driver wss_driver = {
	.size = sizeof(struct varde_driver),
	.name = "wss",
	.service_uuid = WSS_SERVICE_UUID,
	.probe = measurement_probe,
	.remove = measurement_remove,
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
	.exit = measurement_exit,
	.drivers = wss_drivers,
};
