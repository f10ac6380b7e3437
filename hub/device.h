/* SPDX-License-Identifier: MIT */
/*
 * A device as a plugin driver sees it (struct varde_device), and the host
 * API table plugins call. The GATT work is done by a backend: hub/bluez.c
 * for real devices, a scripted backend in tests and in varde-plugin-check.
 * What plugins see is therefore the same code in tests and in production.
 *
 * This layer guarantees the ABI contract of include/varde/plugin.h: plugin
 * callbacks run from the loop, never inside a host call; every operation
 * completes once and then has its destroy called; before remove() every
 * pending operation, subscription and timer is cancelled.
 */
#ifndef VARDE_DEVICE_H
#define VARDE_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <varde/plugin.h>

#include "uuid.h"

struct loop;
struct device_op;

/* What a transport offers for one connected device. `conn` is the
 * backend's own handle. Each call that returns 0 must later call
 * device_op_done() exactly once for `op`, unless `cancel` is called for it
 * first. Values of subscribed characteristics go to device_value_changed(). */
struct device_backend {
	/* enum varde_char_props of `uuid` in `service` (else anywhere), or
	 * -ENOENT. */
	int (*char_props)(void *conn, const char *service, const char *uuid);
	int (*subscribe)(void *conn, const char *service, const char *uuid, struct device_op *op);
	int (*read)(void *conn, const char *service, const char *uuid, struct device_op *op);
	int (*write)(void *conn, const char *service, const char *uuid, const uint8_t *data,
		     size_t len, bool with_response, struct device_op *op);
	/* Forget `op`: it will not be completed. For a subscription, the
	 * subscriber is gone. */
	void (*cancel)(void *conn, struct device_op *op);
};

/* Where a device's readings and persistent state go (ingest and store). */
struct device_sink {
	int (*submit)(struct varde_device *dev, const struct varde_reading *reading,
		      void *user_data);
	int (*state_get)(struct varde_device *dev, const char *key, char *buf, size_t len,
			 void *user_data);
	int (*state_set)(struct varde_device *dev, const char *key, const char *value,
			 void *user_data);
};

struct device_binding {
	struct loop *loop;
	const struct device_backend *backend;
	void *conn;
	const struct device_sink *sink;
	void *sink_data;
	struct varde_plugin_ctx *plugin;
	const struct varde_driver *driver;
	const char *service; /* normalised primary service UUID */
	struct varde_device_identity identity;
};

/* The host table handed to every plugin's init(). */
const struct varde_host *device_host_table(void);

/* Creates the device and calls the driver's probe(). Returns NULL (and
 * cleans up) when probe fails; `err` then holds its error. */
struct varde_device *device_bind(const struct device_binding *binding, int *err);
/* Cancels everything pending, calls the driver's remove(), frees. */
void device_unbind(struct varde_device *dev);

/* From the backend: a value of `uuid` arrived (notification/indication). */
void device_value_changed(struct varde_device *dev, const char *uuid, const uint8_t *data,
			  size_t len);
/* From the backend: `op` finished. `data` is copied. */
void device_op_done(struct device_op *op, int err, const uint8_t *data, size_t len);

const struct varde_device_identity *device_identity(const struct varde_device *dev);
struct varde_plugin_ctx *device_plugin(const struct varde_device *dev);
const char *device_driver_name(const struct varde_device *dev);

#endif /* VARDE_DEVICE_H */
