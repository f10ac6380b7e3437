/* SPDX-License-Identifier: MIT */
#include "device.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "loop.h"
#include "plugin_loader.h"

#define ATT_MAX_VALUE 512 /* longest attribute value ATT allows */
#define STATE_KEY_MAX 32
#define STATE_VALUE_MAX 256
#define MAX_SUBSCRIBERS 16 /* per characteristic and device */

enum op_kind { OP_READ, OP_WRITE, OP_SUBSCRIBE, OP_TIMER };

struct device_op {
	struct device_op *next;
	struct varde_device *dev;
	int id;
	enum op_kind kind;
	char uuid[UUID_STR_LEN];
	varde_complete_func done;
	varde_notify_func notify;
	varde_timer_func timer;
	void *user_data;
	varde_destroy_func destroy;
	bool backend_pending; /* the backend still owes device_op_done() */
	int loop_id; /* pending defer (completion) or timer */
	int err; /* result held until the deferred delivery */
	uint8_t *data;
	size_t len;
};

struct varde_device {
	struct device_binding b;
	char service[UUID_STR_LEN];
	void *plugin_data;
	struct device_op *ops;
	int next_id;
	bool removing;
};

static void op_unlink(struct device_op *op)
{
	struct device_op **p;

	for (p = &op->dev->ops; *p; p = &(*p)->next) {
		if (*p == op) {
			*p = op->next;
			return;
		}
	}
}

/* Ends an operation without calling its callback: cancels what is pending
 * and calls the plugin's destroy. */
static void op_end(struct device_op *op)
{
	struct varde_device *dev = op->dev;

	op_unlink(op);
	if (op->backend_pending)
		dev->b.backend->cancel(dev->b.conn, op);
	if (op->loop_id > 0)
		loop_remove(dev->b.loop, op->loop_id);
	if (op->destroy)
		op->destroy(op->user_data);
	free(op->data);
	free(op);
}

static struct device_op *op_new(struct varde_device *dev, enum op_kind kind, const char *uuid,
				void *user_data, varde_destroy_func destroy, int *err)
{
	struct device_op *op;

	if (dev->removing) {
		*err = -ENOTCONN;
		return NULL;
	}
	op = calloc(1, sizeof(*op));
	if (!op) {
		*err = -ENOMEM;
		return NULL;
	}
	if (uuid && uuid_normalize(uuid, op->uuid) < 0) {
		free(op);
		*err = -EINVAL;
		return NULL;
	}
	op->dev = dev;
	op->kind = kind;
	op->user_data = user_data;
	op->destroy = destroy;
	op->id = dev->next_id++;
	if (dev->next_id <= 0)
		dev->next_id = 1;
	op->next = dev->ops;
	dev->ops = op;
	return op;
}

/* Drops an op that was never handed out (its destroy is not the plugin's
 * to receive: the call fails and the contract says neither runs). */
static void op_discard(struct device_op *op)
{
	op_unlink(op);
	free(op);
}

static struct device_op *op_find(struct varde_device *dev, int id)
{
	for (struct device_op *op = dev->ops; op; op = op->next)
		if (op->id == id)
			return op;
	return NULL;
}

static void deliver_completion(struct loop *loop, void *user_data)
{
	struct device_op *op = user_data;
	struct varde_device *dev = op->dev;

	(void)loop;
	op->loop_id = 0;
	if (op->done)
		op->done(dev, op->err, op->data, op->len, op->user_data);
	/* A subscription stays for its notifications unless it failed. The
	 * callback may have cancelled it already. */
	if (op_find(dev, op->id) != op)
		return;
	if (op->kind == OP_SUBSCRIBE && op->err == 0) {
		free(op->data);
		op->data = NULL;
		op->done = NULL;
		return;
	}
	op_end(op);
}

void device_op_done(struct device_op *op, int err, const uint8_t *data, size_t len)
{
	op->backend_pending = false;
	op->err = err;
	if (data && len) {
		op->data = malloc(len);
		if (op->data) {
			memcpy(op->data, data, len);
			op->len = len;
		} else if (!err) {
			op->err = -ENOMEM;
		}
	}
	/* Always deferred: the backend may complete from inside the plugin's
	 * own call, and the plugin must never be re-entered. */
	op->loop_id = loop_add_defer(op->dev->b.loop, deliver_completion, op, NULL);
	if (op->loop_id < 0) {
		log_err("device %s: cannot schedule a completion: %s", op->dev->b.identity.address,
			strerror(-op->loop_id));
		op->loop_id = 0;
	}
}

void device_value_changed(struct varde_device *dev, const char *uuid, const uint8_t *data,
			  size_t len)
{
	int ids[MAX_SUBSCRIBERS];
	size_t n = 0;

	/* Delivered even before the subscription's completion: a device may
	 * send its reading the moment notifications are enabled. The
	 * subscribers are collected first because a callback may cancel any
	 * operation of the device. */
	for (struct device_op *op = dev->ops; op && n < MAX_SUBSCRIBERS; op = op->next)
		if (op->kind == OP_SUBSCRIBE && strcmp(op->uuid, uuid) == 0)
			ids[n++] = op->id;
	while (n-- > 0) {
		struct device_op *op = op_find(dev, ids[n]);

		if (op)
			op->notify(dev, data, len, op->user_data);
	}
}

/* ---- the host table ----------------------------------------------------- */

static void host_log(struct varde_plugin_ctx *ctx, struct varde_device *dev, int level,
		     const char *fmt, ...) VARDE_PRINTF(4, 5);

static void host_log(struct varde_plugin_ctx *ctx, struct varde_device *dev, int level,
		     const char *fmt, ...)
{
	char prefix[96];
	va_list ap;

	if (dev)
		snprintf(prefix, sizeof(prefix), "plugin %s: %s",
			 ctx ? plugin_ctx_name(ctx) : device_driver_name(dev),
			 dev->b.identity.address);
	else
		snprintf(prefix, sizeof(prefix), "plugin %s", ctx ? plugin_ctx_name(ctx) : "?");
	va_start(ap, fmt);
	log_vmsg(level, prefix, fmt, ap);
	va_end(ap);
}

static int host_submit(struct varde_device *dev, const struct varde_reading *reading)
{
	struct varde_reading copy = VARDE_READING_INIT;
	size_t n;

	if (!reading || reading->size < offsetof(struct varde_reading, reserved))
		return -EINVAL;
	/* Read only what the plugin's struct covers; newer fields stay zero. */
	n = reading->size < sizeof(copy) ? reading->size : sizeof(copy);
	memcpy(&copy, reading, n);
	copy.size = sizeof(copy);
	if (!dev->b.sink || !dev->b.sink->submit)
		return -ENOSYS;
	return dev->b.sink->submit(dev, &copy, dev->b.sink_data);
}

static int host_char_props(struct varde_device *dev, const char *uuid)
{
	char norm[UUID_STR_LEN];

	if (uuid_normalize(uuid, norm) < 0)
		return -EINVAL;
	return dev->b.backend->char_props(dev->b.conn, dev->service, norm);
}

static int host_subscribe(struct varde_device *dev, const char *uuid, varde_notify_func notify,
			  varde_complete_func done, void *user_data, varde_destroy_func destroy)
{
	struct device_op *op;
	int err;

	if (!notify)
		return -EINVAL;
	op = op_new(dev, OP_SUBSCRIBE, uuid, user_data, destroy, &err);
	if (!op)
		return err;
	op->notify = notify;
	op->done = done;
	op->backend_pending = true;
	err = dev->b.backend->subscribe(dev->b.conn, dev->service, op->uuid, op);
	if (err < 0) {
		op_discard(op);
		return err;
	}
	return op->id;
}

static int host_read(struct varde_device *dev, const char *uuid, varde_complete_func done,
		     void *user_data, varde_destroy_func destroy)
{
	struct device_op *op;
	int err;

	if (!done)
		return -EINVAL;
	op = op_new(dev, OP_READ, uuid, user_data, destroy, &err);
	if (!op)
		return err;
	op->done = done;
	op->backend_pending = true;
	err = dev->b.backend->read(dev->b.conn, dev->service, op->uuid, op);
	if (err < 0) {
		op_discard(op);
		return err;
	}
	return op->id;
}

static int host_write(struct varde_device *dev, const char *uuid, const uint8_t *data, size_t len,
		      unsigned int flags, varde_complete_func done, void *user_data,
		      varde_destroy_func destroy)
{
	struct device_op *op;
	int err;

	if ((!data && len) || len > ATT_MAX_VALUE || (flags & ~VARDE_WRITE_WITHOUT_RESPONSE))
		return -EINVAL;
	op = op_new(dev, OP_WRITE, uuid, user_data, destroy, &err);
	if (!op)
		return err;
	op->done = done;
	op->backend_pending = true;
	err = dev->b.backend->write(dev->b.conn, dev->service, op->uuid, data, len,
				    !(flags & VARDE_WRITE_WITHOUT_RESPONSE), op);
	if (err < 0) {
		op_discard(op);
		return err;
	}
	return op->id;
}

static void timer_fired(struct loop *loop, void *user_data)
{
	struct device_op *op = user_data;
	struct varde_device *dev = op->dev;
	int id = op->id;

	(void)loop;
	op->loop_id = 0; /* the loop removes a one-shot timer itself */
	op->timer(dev, op->user_data);
	op = op_find(dev, id);
	if (op)
		op_end(op);
}

static int host_timer_add(struct varde_device *dev, uint32_t msec, varde_timer_func cb,
			  void *user_data, varde_destroy_func destroy)
{
	struct device_op *op;
	int err;

	if (!cb)
		return -EINVAL;
	op = op_new(dev, OP_TIMER, NULL, user_data, destroy, &err);
	if (!op)
		return err;
	op->timer = cb;
	op->loop_id = loop_add_timer(dev->b.loop, msec, timer_fired, op, NULL);
	if (op->loop_id < 0) {
		err = op->loop_id;
		op_discard(op);
		return err;
	}
	return op->id;
}

static int host_cancel(struct varde_device *dev, int id)
{
	struct device_op *op = op_find(dev, id);

	if (!op)
		return -ENOENT;
	op_end(op);
	return 0;
}

static void host_set_data(struct varde_device *dev, void *data)
{
	dev->plugin_data = data;
}

static void *host_get_data(struct varde_device *dev)
{
	return dev->plugin_data;
}

static int host_get_identity(struct varde_device *dev, struct varde_device_identity *out)
{
	if (!out)
		return -EINVAL;
	*out = dev->b.identity;
	return 0;
}

static bool valid_state_text(const char *s, size_t max)
{
	size_t n = 0;

	for (; s && *s; s++, n++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
	return s && n > 0 && n <= max;
}

static int host_state_get(struct varde_device *dev, const char *key, char *buf, size_t len)
{
	if (!valid_state_text(key, STATE_KEY_MAX) || !buf)
		return -EINVAL;
	if (!dev->b.sink || !dev->b.sink->state_get)
		return -ENOSYS;
	return dev->b.sink->state_get(dev, key, buf, len, dev->b.sink_data);
}

static int host_state_set(struct varde_device *dev, const char *key, const char *value)
{
	if (!valid_state_text(key, STATE_KEY_MAX) || !valid_state_text(value, STATE_VALUE_MAX))
		return -EINVAL;
	if (!dev->b.sink || !dev->b.sink->state_set)
		return -ENOSYS;
	return dev->b.sink->state_set(dev, key, value, dev->b.sink_data);
}

static const struct varde_host host_table = {
	.size = sizeof(struct varde_host),
	.abi_major = VARDE_PLUGIN_ABI_MAJOR,
	.abi_minor = VARDE_PLUGIN_ABI_MINOR,
	.log = host_log,
	.submit = host_submit,
	.char_props = host_char_props,
	.subscribe = host_subscribe,
	.read = host_read,
	.write = host_write,
	.timer_add = host_timer_add,
	.cancel = host_cancel,
	.set_data = host_set_data,
	.get_data = host_get_data,
	.get_identity = host_get_identity,
	.state_get = host_state_get,
	.state_set = host_state_set,
};

const struct varde_host *device_host_table(void)
{
	return &host_table;
}

/* ---- life cycle --------------------------------------------------------- */

static void cancel_all(struct varde_device *dev)
{
	while (dev->ops)
		op_end(dev->ops);
}

struct varde_device *device_bind(const struct device_binding *binding, int *err)
{
	struct varde_device *dev = calloc(1, sizeof(*dev));
	int r;

	if (!dev) {
		*err = -ENOMEM;
		return NULL;
	}
	dev->b = *binding;
	snprintf(dev->service, sizeof(dev->service), "%s", binding->service);
	dev->b.service = dev->service;
	dev->next_id = 1;
	r = binding->driver->probe(dev);
	if (r < 0) {
		/* Whatever probe started is cancelled; remove() is not called
		 * for a driver that did not bind. */
		dev->removing = true;
		cancel_all(dev);
		free(dev);
		*err = r;
		return NULL;
	}
	*err = 0;
	return dev;
}

void device_unbind(struct varde_device *dev)
{
	if (!dev)
		return;
	dev->removing = true;
	cancel_all(dev);
	dev->b.driver->remove(dev);
	/* remove() may not start anything new: whatever it tried failed with
	 * -ENOTCONN, so there is nothing left to cancel. */
	free(dev);
}

const struct varde_device_identity *device_identity(const struct varde_device *dev)
{
	return &dev->b.identity;
}

struct varde_plugin_ctx *device_plugin(const struct varde_device *dev)
{
	return dev->b.plugin;
}

const char *device_driver_name(const struct varde_device *dev)
{
	return dev->b.driver->name;
}
