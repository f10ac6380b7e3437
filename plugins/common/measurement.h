/* SPDX-License-Identifier: MIT */
/*
 * Driver glue of the plugins whose service delivers one measurement
 * characteristic (Blood Pressure, Health Thermometer, Weight Scale): keeps
 * the host, checks and subscribes the characteristic at probe, and logs and
 * submits each frame once the driver has decoded it into a
 * measurement_frame. Optionally reads a feature characteristic once for
 * the log.
 *
 * Unlike racp and timestamp this calls the host, so only plugin modules use
 * it. A plugin has one such service: the state below is per module (each
 * plugin links its own hidden copy).
 */
#ifndef VARDE_PLUGINS_MEASUREMENT_H
#define VARDE_PLUGINS_MEASUREMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <varde/plugin.h>

/* What the driver's decoder made of one frame. */
struct measurement_frame {
	const struct varde_reading *readings;
	size_t n_readings;
	uint8_t flags; /* the Flags field as received, reserved bits included */
	size_t trailing; /* octets after the last field the flags announce */
	bool time_out_of_range; /* readings kept without device time */
};

struct measurement_service {
	const char *uuid; /* the measurement characteristic */
	const char *name; /* its name, for the log */
	uint8_t reserved_flags; /* Flags bits a newer format may set */
	/* Decodes each value, then calls measurement_deliver() or
	 * measurement_malformed(). */
	varde_notify_func notify;
	/* Per-device data, starting with struct measurement_device; 0 when
	 * that is all the driver needs. */
	size_t data_size;
	/* Optional characteristic measurement_probe() reads once, after
	 * subscribing. feature_log() logs its value, or returns -EBADMSG for
	 * a malformed one (logged here, as are read errors). */
	const char *feature_uuid;
	const char *feature_name;
	int (*feature_log)(struct varde_device *dev, const uint8_t *data, size_t len);
};

struct measurement_device {
	unsigned int malformed; /* frames dropped because they did not decode */
	bool extension_logged; /* newer-format frame already reported */
};

/* Set by measurement_init(), cleared by measurement_exit(). */
extern struct varde_plugin_ctx *plugin_ctx;
extern const struct varde_host *host;

/* For the plugin's init: needs get_data; keeps ctx, host and service. */
int measurement_init(struct varde_plugin_ctx *ctx, const struct varde_host *h,
		     const struct measurement_service *svc);
void measurement_exit(struct varde_plugin_ctx *ctx);

/*
 * The driver's probe: measurement_attach(), measurement_subscribe(), then
 * the feature read. A driver that needs another order calls the parts.
 */
int measurement_probe(struct varde_device *dev);
/* Checks the measurement characteristic and sets the per-device data. */
int measurement_attach(struct varde_device *dev);
/* Subscribes the measurement characteristic: 0 or a negative errno. */
int measurement_subscribe(struct varde_device *dev);
/* The driver's remove: frees the per-device data. */
void measurement_remove(struct varde_device *dev);

/* Logs what the frame says beyond its readings, then submits them. */
void measurement_deliver(struct varde_device *dev, const uint8_t *data, size_t len,
			 const struct measurement_frame *frame);
/* Drops a frame that did not decode, with a warning and a running count. */
void measurement_malformed(struct varde_device *dev, const uint8_t *data, size_t len);

#endif /* VARDE_PLUGINS_MEASUREMENT_H */
