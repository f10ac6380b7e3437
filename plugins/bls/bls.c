/* SPDX-License-Identifier: MIT */
/*
 * Blood Pressure Service (0x1810) driver. Subscribes to Blood Pressure
 * Measurement, reads Blood Pressure Feature once for the log, and hands each
 * measurement to the hub as a blood pressure reading and, when the cuff
 * measured one, a pulse rate reading. Intermediate Cuff Pressure is never
 * subscribed: inflation pressures are not measurements.
 */
#include <errno.h>
#include <stdio.h>

#include <varde/plugin.h>

#include "bls_decode.h"
#include "measurement.h"

#define BLS_SERVICE_UUID "1810"
#define BPM_UUID "2A35"
#define BPF_UUID "2A49"

static void bpm_notify(struct varde_device *dev, const uint8_t *data, size_t len, void *user_data)
{
	struct bls_measurement m;

	(void)user_data;

	if (bls_decode_measurement(data, len, &m) < 0) {
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

	if (bls_decode_feature(data, len, &features) < 0)
		return -EBADMSG;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && pos < sizeof(list); i++)
		if (features & (1u << i))
			pos += (size_t)snprintf(list + pos, sizeof(list) - pos, "%s%s",
						pos ? ", " : "", names[i]);
	host->log(plugin_ctx, dev, VARDE_LOG_INFO, "Blood Pressure Feature 0x%04x (%s)", features,
		  pos ? list : "none");
	return 0;
}

/* The feature only explains which status bits the device can set. */
static const struct measurement_service bpm = {
	.uuid = BPM_UUID,
	.name = "Blood Pressure Measurement",
	.reserved_flags = BLS_BPM_FLAGS_RESERVED,
	.notify = bpm_notify,
	.feature_uuid = BPF_UUID,
	.feature_name = "Blood Pressure Feature",
	.feature_log = feature_log,
};

static int bls_init(struct varde_plugin_ctx *ctx, const struct varde_host *h,
		    const struct varde_option *options, size_t n_options)
{
	(void)options;
	(void)n_options;

	return measurement_init(ctx, h, &bpm);
}

static const struct varde_driver bls_driver = {
	.size = sizeof(struct varde_driver),
	.name = "bls",
	.service_uuid = BLS_SERVICE_UUID,
	.probe = measurement_probe,
	.remove = measurement_remove,
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
	.exit = measurement_exit,
	.drivers = bls_drivers,
};
