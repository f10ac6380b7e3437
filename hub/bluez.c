/* SPDX-License-Identifier: MIT */
#include "bluez.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock_sync.h"
#include "config.h"
#include "bus.h"
#include "device.h"
#include "log.h"
#include "loop.h"
#include "plugin_loader.h"
#include "uuid.h"

#define BLUEZ_NAME "org.bluez"
#define IFACE_ADAPTER "org.bluez.Adapter1"
#define IFACE_DEVICE "org.bluez.Device1"
#define IFACE_SERVICE "org.bluez.GattService1"
#define IFACE_CHAR "org.bluez.GattCharacteristic1"
#define IFACE_PROPS "org.freedesktop.DBus.Properties"
#define IFACE_OM "org.freedesktop.DBus.ObjectManager"

#define CALL_TIMEOUT_MS 10000 /* GATT reads/writes and StartNotify */
#define CONNECT_TIMEOUT_MS 30000 /* bluetoothd itself gives up sooner */
#define BACKOFF_FIRST_MS 1000
#define EARLY_VALUES_MAX 32 /* values held per device until a driver binds */
#define EARLY_VALUE_LEN 512
#define IGNORED_TRACK_MAX 256 /* distinct strangers remembered for counting */

#define UUID_CURRENT_TIME "00002a2b-0000-1000-8000-00805f9b34fb"
#define UUID_DATE_TIME "00002a08-0000-1000-8000-00805f9b34fb"

struct bdev;

struct gatt_chr {
	struct gatt_chr *next;
	char *path;
	char *service_path;
	char uuid[UUID_STR_LEN];
	unsigned int props; /* enum varde_char_props */
};

/* A primary service and the driver bound to it, if any. The service is the
 * backend "conn" handed to device_bind(). */
struct gatt_svc {
	struct gatt_svc *next;
	struct bdev *dev;
	char *path;
	char uuid[UUID_STR_LEN];
	bool primary;
	struct varde_device *bound;
};

/* A GATT request in flight for a plugin operation. */
struct gatt_req {
	struct gatt_req *next;
	struct bdev *dev;
	struct device_op *op; /* NULL once cancelled */
	DBusPendingCall *call;
	bool subscribe;
};

struct early_value {
	char uuid[UUID_STR_LEN];
	uint16_t len;
	uint8_t data[EARLY_VALUE_LEN];
};

struct bdev {
	struct bdev *next;
	struct bluez *bz;
	char *path;
	char address[18];
	char name[64];
	const struct config_device *cfg; /* NULL: not allow-listed */
	bool connected;
	bool resolved;
	bool paired;
	bool bound_once; /* drivers probed on this connection */
	uint64_t last_seen_ms;
	struct gatt_svc *services;
	struct gatt_chr *chars;
	struct gatt_req *reqs;
	DBusPendingCall *connect_call;
	int retry_timer;
	uint64_t backoff_ms;
	struct early_value *early;
	unsigned int n_early;
	bool clock_known;
	int64_t clock_offset_s;
	DBusPendingCall *clock_call;
};

struct bluez {
	struct loop *loop;
	struct bus *bus;
	const struct config *cfg;
	struct plugin_set *plugins;
	const struct device_sink *sink;
	void *sink_data;
	bool up; /* org.bluez has an owner and we have synchronised */
	char *adapter_path;
	DBusPendingCall *sync_call;
	struct bdev *devices;
	char ignored[IGNORED_TRACK_MAX][18];
	unsigned int n_ignored;
	unsigned int notifications;
};

static const struct device_backend bluez_backend;

/* ---- helpers ------------------------------------------------------------ */

static DBusMessage *method(const char *path, const char *iface, const char *name)
{
	return dbus_message_new_method_call(BLUEZ_NAME, path, iface, name);
}

static bool path_under(const char *path, const char *parent)
{
	size_t n = strlen(parent);

	return strncmp(path, parent, n) == 0 && path[n] == '/';
}

static struct bdev *find_dev_by_path(struct bluez *bz, const char *path)
{
	for (struct bdev *d = bz->devices; d; d = d->next)
		if (strcmp(d->path, path) == 0)
			return d;
	return NULL;
}

/* The device an object (service, characteristic) belongs to. */
static struct bdev *find_dev_of(struct bluez *bz, const char *path)
{
	for (struct bdev *d = bz->devices; d; d = d->next)
		if (path_under(path, d->path))
			return d;
	return NULL;
}

static struct gatt_chr *find_chr_by_path(struct bdev *d, const char *path)
{
	for (struct gatt_chr *c = d->chars; c; c = c->next)
		if (strcmp(c->path, path) == 0)
			return c;
	return NULL;
}

/* A characteristic of `service` (a UUID), else of the whole device. */
static struct gatt_chr *find_chr(struct bdev *d, const char *service, const char *uuid)
{
	struct gatt_chr *anywhere = NULL;

	for (struct gatt_chr *c = d->chars; c; c = c->next) {
		if (strcmp(c->uuid, uuid) != 0)
			continue;
		for (struct gatt_svc *s = d->services; s; s = s->next)
			if (strcmp(s->path, c->service_path) == 0 && strcmp(s->uuid, service) == 0)
				return c;
		if (!anywhere)
			anywhere = c;
	}
	return anywhere;
}

static unsigned int count_known(const struct bluez *bz)
{
	unsigned int n = 0;

	for (const struct bdev *d = bz->devices; d; d = d->next)
		n++;
	return n;
}

static void count_ignored(struct bluez *bz, const char *address)
{
	for (unsigned int i = 0; i < bz->n_ignored; i++)
		if (strcmp(bz->ignored[i], address) == 0)
			return;
	if (bz->n_ignored < IGNORED_TRACK_MAX) {
		snprintf(bz->ignored[bz->n_ignored++], sizeof(bz->ignored[0]), "%s", address);
		log_info("device %s is not in the configuration: ignored", address);
	}
}

/* ---- drivers -------------------------------------------------------------- */

struct probe_ctx {
	struct gatt_svc *svc;
};

static bool try_driver(struct varde_plugin_ctx *ctx, const struct varde_driver *drv, void *data)
{
	struct probe_ctx *p = data;
	struct gatt_svc *svc = p->svc;
	struct bdev *d = svc->dev;
	struct device_binding b = {
		.loop = d->bz->loop,
		.backend = &bluez_backend,
		.conn = svc,
		.sink = d->bz->sink,
		.sink_data = d->bz->sink_data,
		.plugin = ctx,
		.driver = drv,
		.service = svc->uuid,
	};
	int err;

	snprintf(b.identity.address, sizeof(b.identity.address), "%s", d->address);
	snprintf(b.identity.name, sizeof(b.identity.name), "%s", d->name);
	svc->bound = device_bind(&b, &err);
	if (!svc->bound) {
		log_warn("device %s: driver %s of plugin %s refused service %s: %s", d->address,
			 drv->name, plugin_ctx_name(ctx), svc->uuid, strerror(-err));
		return false;
	}
	log_info("device %s: service %s bound to driver %s of plugin %s", d->address, svc->uuid,
		 drv->name, plugin_ctx_name(ctx));
	return true;
}

/* Values that arrived before any driver was bound go to the drivers now:
 * their subscriptions were registered during probe. */
static void replay_early_values(struct bdev *d)
{
	for (unsigned int i = 0; i < d->n_early; i++) {
		struct early_value *v = &d->early[i];

		for (struct gatt_svc *s = d->services; s; s = s->next)
			if (s->bound)
				device_value_changed(s->bound, v->uuid, v->data, v->len);
	}
	if (d->n_early)
		log_debug("device %s: %u early value(s) replayed", d->address, d->n_early);
	free(d->early);
	d->early = NULL;
	d->n_early = 0;
}

static void bind_drivers(struct bdev *d)
{
	unsigned int bound = 0;

	d->bound_once = true;
	for (struct gatt_svc *s = d->services; s; s = s->next) {
		struct probe_ctx p = {s};

		if (!s->primary || s->bound)
			continue;
		plugin_set_match(d->bz->plugins, s->uuid, d->name, try_driver, &p);
		if (s->bound)
			bound++;
	}
	if (!bound)
		log_warn("device %s (%s): no plugin handles any of its services", d->address,
			 d->name);
	replay_early_values(d);
}

static void unbind_drivers(struct bdev *d)
{
	for (struct gatt_svc *s = d->services; s; s = s->next) {
		if (!s->bound)
			continue;
		device_unbind(s->bound);
		s->bound = NULL;
	}
	d->bound_once = false;
	free(d->early);
	d->early = NULL;
	d->n_early = 0;
}

/* ---- device clock --------------------------------------------------------- */

static struct gatt_chr *clock_chr(struct bdev *d)
{
	for (struct gatt_chr *c = d->chars; c; c = c->next)
		if ((strcmp(c->uuid, UUID_CURRENT_TIME) == 0 ||
		     strcmp(c->uuid, UUID_DATE_TIME) == 0) &&
		    (c->props & VARDE_CHAR_WRITE))
			return c;
	return NULL;
}

/* "Operation failed with ATT error: 0x80" -> 0x80, else -1. */
static int att_error_code(DBusMessage *reply)
{
	const char *text = NULL;
	unsigned int code;

	if (!dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &text, DBUS_TYPE_INVALID) ||
	    !text)
		return -1;
	text = strstr(text, "ATT error: 0x");
	if (!text || sscanf(text, "ATT error: 0x%x", &code) != 1)
		return -1;
	return (int)code;
}

static void clock_write_done(DBusMessage *reply, void *user_data)
{
	struct bdev *d = user_data;

	d->clock_call = NULL;
	/* 0x80 is how many devices say "value ignored": the clock is theirs. */
	if (dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR &&
	    att_error_code(reply) != 0x80)
		log_warn("device %s: setting its clock failed: %s", d->address,
			 dbus_message_get_error_name(reply));
	else
		log_info("device %s: clock set to the hub's local time", d->address);
}

static void clock_write(struct bdev *d, struct gatt_chr *c)
{
	uint8_t buf[CURRENT_TIME_LEN];
	size_t len;
	DBusMessage *msg = method(c->path, IFACE_CHAR, "WriteValue");
	DBusMessageIter iter;

	if (!msg)
		return;
	len = strcmp(c->uuid, UUID_CURRENT_TIME) == 0 ? clock_encode_current_time(time(NULL), buf)
						      : clock_encode_date_time(time(NULL), buf);
	dbus_message_iter_init_append(msg, &iter);
	bus_append_bytes(&iter, buf, len);
	bus_append_dict_string(&iter, "type", "request");
	d->clock_call = bus_call(d->bz->bus, msg, CALL_TIMEOUT_MS, clock_write_done, d, NULL);
	dbus_message_unref(msg);
}

static void clock_read_done(DBusMessage *reply, void *user_data)
{
	struct bdev *d = user_data;
	struct gatt_chr *c = clock_chr(d);
	struct varde_datetime t;
	const uint8_t *data;
	int len;
	DBusMessageIter iter;
	int64_t offset;

	d->clock_call = NULL;
	if (!c)
		return;
	if (dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR ||
	    !dbus_message_iter_init(reply, &iter) || !bus_iter_bytes(&iter, &data, &len) ||
	    clock_decode(data, (size_t)len, &t) < 0 || clock_offset(&t, time(NULL), &offset) < 0) {
		/* Unreadable or unset: set it without knowing the offset. */
		d->clock_known = false;
		clock_write(d, c);
		return;
	}
	d->clock_known = true;
	d->clock_offset_s = offset;
	if (llabs(offset) > d->bz->cfg->bluetooth.clock_tolerance) {
		log_notice("device %s: clock is %+lld s off the hub's", d->address,
			   (long long)offset);
		clock_write(d, c);
	}
}

static void clock_check(struct bdev *d)
{
	struct gatt_chr *c = clock_chr(d);
	DBusMessage *msg;
	DBusMessageIter iter;

	if (!c || d->clock_call)
		return;
	if (!(c->props & VARDE_CHAR_READ)) {
		clock_write(d, c);
		return;
	}
	msg = method(c->path, IFACE_CHAR, "ReadValue");
	if (!msg)
		return;
	dbus_message_iter_init_append(msg, &iter);
	bus_append_empty_dict(&iter);
	d->clock_call = bus_call(d->bz->bus, msg, CALL_TIMEOUT_MS, clock_read_done, d, NULL);
	dbus_message_unref(msg);
}

/* ---- connection life cycle ------------------------------------------------ */

static void schedule_connect(struct bdev *d, uint64_t delay_ms);

static void connect_done(DBusMessage *reply, void *user_data)
{
	struct bdev *d = user_data;
	uint64_t max_ms;

	d->connect_call = NULL;
	if (dbus_message_get_type(reply) != DBUS_MESSAGE_TYPE_ERROR) {
		d->backoff_ms = 0;
		return;
	}
	/* Not in range, asleep, or busy: try again later, less often. */
	max_ms = (uint64_t)d->bz->cfg->bluetooth.reconnect_max * 1000u;
	d->backoff_ms = d->backoff_ms ? d->backoff_ms * 2 : BACKOFF_FIRST_MS;
	if (d->backoff_ms > max_ms)
		d->backoff_ms = max_ms;
	log_debug("device %s: connect failed (%s), next try in %llu ms", d->address,
		  dbus_message_get_error_name(reply), (unsigned long long)d->backoff_ms);
	schedule_connect(d, d->backoff_ms);
}

static void connect_now(struct bdev *d)
{
	DBusMessage *msg;

	if (!d->cfg || d->connected || d->connect_call || !d->bz->up)
		return;
	msg = method(d->path, IFACE_DEVICE, "Connect");
	if (!msg)
		return;
	d->connect_call = bus_call(d->bz->bus, msg, CONNECT_TIMEOUT_MS, connect_done, d, NULL);
	dbus_message_unref(msg);
}

static void retry_timer(struct loop *loop, void *user_data)
{
	struct bdev *d = user_data;

	(void)loop;
	d->retry_timer = 0;
	connect_now(d);
}

static void schedule_connect(struct bdev *d, uint64_t delay_ms)
{
	if (d->retry_timer > 0)
		loop_remove(d->bz->loop, d->retry_timer);
	d->retry_timer = loop_add_timer(d->bz->loop, delay_ms, retry_timer, d, NULL);
	if (d->retry_timer < 0)
		d->retry_timer = 0;
}

static void cancel_connect(struct bdev *d)
{
	if (d->retry_timer > 0)
		loop_remove(d->bz->loop, d->retry_timer);
	d->retry_timer = 0;
	if (d->connect_call)
		dbus_pending_call_cancel(d->connect_call);
	d->connect_call = NULL;
}

/* Re-evaluates what a device needs after its state changed. */
static void device_update(struct bdev *d)
{
	if (!d->cfg)
		return;
	if (d->connected && d->resolved) {
		cancel_connect(d);
		d->backoff_ms = 0;
		if (!d->bound_once) {
			d->last_seen_ms = loop_now_ms();
			log_info("device %s (%s) connected, services resolved", d->address,
				 d->name);
			bind_drivers(d);
			clock_check(d);
		}
		return;
	}
	if (d->bound_once) {
		log_info("device %s disconnected", d->address);
		unbind_drivers(d);
	}
	if (!d->connected && !d->connect_call && d->retry_timer <= 0)
		schedule_connect(d, d->backoff_ms);
}

/* ---- object tracking ------------------------------------------------------ */

static void cancel_reqs(struct bdev *d)
{
	while (d->reqs) {
		struct gatt_req *r = d->reqs;

		/* Unlinks and frees r through its destroy. */
		dbus_pending_call_cancel(r->call);
		if (d->reqs == r) {
			d->reqs = r->next;
			free(r);
		}
	}
}

static void chr_free(struct gatt_chr *c)
{
	free(c->path);
	free(c->service_path);
	free(c);
}

static void bdev_free(struct bdev *d)
{
	unbind_drivers(d);
	cancel_connect(d);
	if (d->clock_call)
		dbus_pending_call_cancel(d->clock_call);
	cancel_reqs(d);
	while (d->services) {
		struct gatt_svc *s = d->services;

		d->services = s->next;
		free(s->path);
		free(s);
	}
	while (d->chars) {
		struct gatt_chr *c = d->chars;

		d->chars = c->next;
		chr_free(c);
	}
	free(d->path);
	free(d);
}

static void remove_device(struct bluez *bz, struct bdev *d)
{
	struct bdev **p;

	for (p = &bz->devices; *p && *p != d; p = &(*p)->next)
		;
	if (*p)
		*p = d->next;
	bdev_free(d);
}

static void device_prop(const char *key, DBusMessageIter *value, void *user_data)
{
	struct bdev *d = user_data;
	const char *s;
	int16_t rssi;

	if (strcmp(key, "Address") == 0 && bus_iter_string(value, &s)) {
		snprintf(d->address, sizeof(d->address), "%s", s);
	} else if ((strcmp(key, "Name") == 0 || (strcmp(key, "Alias") == 0 && !d->name[0])) &&
		   bus_iter_string(value, &s)) {
		snprintf(d->name, sizeof(d->name), "%s", s);
	} else if (strcmp(key, "Connected") == 0) {
		bus_iter_bool(value, &d->connected);
		if (d->connected)
			d->last_seen_ms = loop_now_ms();
	} else if (strcmp(key, "ServicesResolved") == 0) {
		bus_iter_bool(value, &d->resolved);
	} else if (strcmp(key, "Paired") == 0) {
		bus_iter_bool(value, &d->paired);
	} else if (strcmp(key, "RSSI") == 0 && bus_iter_int16(value, &rssi) && d->cfg) {
		/* Advertising: the device is awake now, try at once. */
		d->last_seen_ms = loop_now_ms();
		d->backoff_ms = 0;
		if (!d->connected && !d->connect_call) {
			if (d->retry_timer > 0)
				loop_remove(d->bz->loop, d->retry_timer);
			d->retry_timer = 0;
			connect_now(d);
		}
	}
}

/* `update`: act on the device's state now. Not while synchronising: its
 * services and characteristics are added after all devices, and binding a
 * connected device before them would find no service to bind. */
static void add_device(struct bluez *bz, const char *path, DBusMessageIter *props, bool update)
{
	struct bdev *d = find_dev_by_path(bz, path);
	bool is_new = !d;

	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d)
			return;
		d->bz = bz;
		d->path = strdup(path);
		if (!d->path) {
			free(d);
			return;
		}
	}
	/* The address first, so RSSI handling knows whether it is listed. */
	bus_iter_dict(props, device_prop, d);
	if (is_new) {
		d->cfg = config_find_device(bz->cfg, d->address);
		if (!d->cfg) {
			count_ignored(bz, d->address);
			bdev_free(d);
			return;
		}
		d->next = bz->devices;
		bz->devices = d;
		log_info("device %s (%s) is known to bluetoothd", d->address, d->name);
	}
	if (update)
		device_update(d);
}

struct svc_props {
	const char *uuid;
	bool primary;
	const char *device;
};

static void svc_prop(const char *key, DBusMessageIter *value, void *user_data)
{
	struct svc_props *p = user_data;

	if (strcmp(key, "UUID") == 0)
		bus_iter_string(value, &p->uuid);
	else if (strcmp(key, "Primary") == 0)
		bus_iter_bool(value, &p->primary);
	else if (strcmp(key, "Device") == 0)
		bus_iter_string(value, &p->device);
}

static void add_service(struct bluez *bz, const char *path, DBusMessageIter *props)
{
	struct svc_props p = {0};
	struct bdev *d = find_dev_of(bz, path);
	struct gatt_svc *s;

	if (!d)
		return;
	for (s = d->services; s; s = s->next)
		if (strcmp(s->path, path) == 0)
			return;
	bus_iter_dict(props, svc_prop, &p);
	s = calloc(1, sizeof(*s));
	if (!s)
		return;
	if (!p.uuid || uuid_normalize(p.uuid, s->uuid) < 0 || !(s->path = strdup(path))) {
		free(s);
		return;
	}
	s->dev = d;
	s->primary = p.primary;
	s->next = d->services;
	d->services = s;
}

struct chr_props {
	const char *uuid;
	const char *service;
	unsigned int props;
};

static void chr_flags(DBusMessageIter *value, unsigned int *props)
{
	static const struct {
		const char *flag;
		unsigned int prop;
	} map[] = {
		{"read", VARDE_CHAR_READ},
		{"write", VARDE_CHAR_WRITE},
		{"write-without-response", VARDE_CHAR_WRITE_WITHOUT_RESPONSE},
		{"notify", VARDE_CHAR_NOTIFY},
		{"indicate", VARDE_CHAR_INDICATE},
	};
	DBusMessageIter array;

	if (dbus_message_iter_get_arg_type(value) != DBUS_TYPE_ARRAY)
		return;
	dbus_message_iter_recurse(value, &array);
	while (dbus_message_iter_get_arg_type(&array) == DBUS_TYPE_STRING) {
		const char *flag;

		dbus_message_iter_get_basic(&array, &flag);
		for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
			if (strcmp(flag, map[i].flag) == 0)
				*props |= map[i].prop;
		dbus_message_iter_next(&array);
	}
}

static void chr_prop(const char *key, DBusMessageIter *value, void *user_data)
{
	struct chr_props *p = user_data;

	if (strcmp(key, "UUID") == 0)
		bus_iter_string(value, &p->uuid);
	else if (strcmp(key, "Service") == 0)
		bus_iter_string(value, &p->service);
	else if (strcmp(key, "Flags") == 0)
		chr_flags(value, &p->props);
}

static void add_chr(struct bluez *bz, const char *path, DBusMessageIter *props)
{
	struct chr_props p = {0};
	struct bdev *d = find_dev_of(bz, path);
	struct gatt_chr *c;

	if (!d || find_chr_by_path(d, path))
		return;
	bus_iter_dict(props, chr_prop, &p);
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->path = strdup(path);
	c->service_path = p.service ? strdup(p.service) : NULL;
	c->props = p.props;
	if (!c->path || !c->service_path || !p.uuid || uuid_normalize(p.uuid, c->uuid) < 0) {
		chr_free(c);
		return;
	}
	c->next = d->chars;
	d->chars = c;
}

/* Objects are added in two passes, devices first: services and
 * characteristics attach to their device. */
enum object_pass { PASS_DEVICES, PASS_GATT };

static void add_object(struct bluez *bz, const char *path, DBusMessageIter *ifaces,
		       enum object_pass pass, bool update)
{
	DBusMessageIter entries;

	dbus_message_iter_recurse(ifaces, &entries);
	while (dbus_message_iter_get_arg_type(&entries) == DBUS_TYPE_DICT_ENTRY) {
		DBusMessageIter entry;
		const char *iface;

		dbus_message_iter_recurse(&entries, &entry);
		dbus_message_iter_get_basic(&entry, &iface);
		dbus_message_iter_next(&entry);
		if (pass == PASS_DEVICES && strcmp(iface, IFACE_ADAPTER) == 0 && !bz->adapter_path)
			bz->adapter_path = strdup(path);
		else if (pass == PASS_DEVICES && strcmp(iface, IFACE_DEVICE) == 0)
			add_device(bz, path, &entry, update);
		else if (pass == PASS_GATT && strcmp(iface, IFACE_SERVICE) == 0)
			add_service(bz, path, &entry);
		else if (pass == PASS_GATT && strcmp(iface, IFACE_CHAR) == 0)
			add_chr(bz, path, &entry);
		dbus_message_iter_next(&entries);
	}
}

static void remove_object(struct bluez *bz, const char *path, DBusMessageIter *ifaces)
{
	DBusMessageIter array;
	struct bdev *d;

	dbus_message_iter_recurse(ifaces, &array);
	while (dbus_message_iter_get_arg_type(&array) == DBUS_TYPE_STRING) {
		const char *iface;

		dbus_message_iter_get_basic(&array, &iface);
		if (strcmp(iface, IFACE_DEVICE) == 0 && (d = find_dev_by_path(bz, path))) {
			log_info("device %s was removed from bluetoothd", d->address);
			remove_device(bz, d);
		} else if (strcmp(iface, IFACE_SERVICE) == 0 && (d = find_dev_of(bz, path))) {
			struct gatt_svc **p;

			for (p = &d->services; *p; p = &(*p)->next) {
				struct gatt_svc *s = *p;

				if (strcmp(s->path, path) != 0)
					continue;
				if (s->bound)
					device_unbind(s->bound);
				*p = s->next;
				free(s->path);
				free(s);
				break;
			}
		} else if (strcmp(iface, IFACE_CHAR) == 0 && (d = find_dev_of(bz, path))) {
			struct gatt_chr **p;

			for (p = &d->chars; *p; p = &(*p)->next) {
				if (strcmp((*p)->path, path) == 0) {
					struct gatt_chr *c = *p;

					*p = c->next;
					chr_free(c);
					break;
				}
			}
		}
		dbus_message_iter_next(&array);
	}
}

/* ---- values --------------------------------------------------------------- */

static void hold_early_value(struct bdev *d, const char *uuid, const uint8_t *data, int len)
{
	struct early_value *v;

	if (d->n_early == EARLY_VALUES_MAX || len > EARLY_VALUE_LEN) {
		log_warn("device %s: value of %s dropped, no driver bound yet and %u held",
			 d->address, uuid, d->n_early);
		return;
	}
	if (!d->early) {
		d->early = calloc(EARLY_VALUES_MAX, sizeof(*d->early));
		if (!d->early)
			return;
	}
	v = &d->early[d->n_early++];
	snprintf(v->uuid, sizeof(v->uuid), "%s", uuid);
	v->len = (uint16_t)len;
	memcpy(v->data, data, (size_t)len);
}

struct value_change {
	const uint8_t *data;
	int len;
	bool has_value;
};

static void value_prop(const char *key, DBusMessageIter *value, void *user_data)
{
	struct value_change *v = user_data;

	if (strcmp(key, "Value") == 0 && bus_iter_bytes(value, &v->data, &v->len))
		v->has_value = true;
}

static void chr_changed(struct bdev *d, struct gatt_chr *c, DBusMessageIter *props)
{
	struct value_change v = {0};

	bus_iter_dict(props, value_prop, &v);
	if (!v.has_value)
		return;
	d->bz->notifications++;
	d->last_seen_ms = loop_now_ms();
	if (!d->bound_once) {
		hold_early_value(d, c->uuid, v.data, v.len);
		return;
	}
	for (struct gatt_svc *s = d->services; s; s = s->next)
		if (s->bound)
			device_value_changed(s->bound, c->uuid, v.data, (size_t)v.len);
}

static void properties_changed(struct bluez *bz, DBusMessage *msg)
{
	const char *path = dbus_message_get_path(msg), *iface;
	DBusMessageIter iter;
	struct bdev *d;

	if (!path || !dbus_message_iter_init(msg, &iter) ||
	    dbus_message_iter_get_arg_type(&iter) != DBUS_TYPE_STRING)
		return;
	dbus_message_iter_get_basic(&iter, &iface);
	dbus_message_iter_next(&iter);
	if (strcmp(iface, IFACE_DEVICE) == 0 && (d = find_dev_by_path(bz, path))) {
		bus_iter_dict(&iter, device_prop, d);
		device_update(d);
	} else if (strcmp(iface, IFACE_CHAR) == 0 && (d = find_dev_of(bz, path))) {
		struct gatt_chr *c = find_chr_by_path(d, path);

		if (c)
			chr_changed(d, c, &iter);
	}
}

/* ---- synchronisation with bluetoothd --------------------------------------- */

static void start_discovery_done(DBusMessage *reply, void *user_data)
{
	(void)user_data;
	if (dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR &&
	    strcmp(dbus_message_get_error_name(reply), "org.bluez.Error.InProgress") != 0)
		log_warn("cannot scan for devices: %s", dbus_message_get_error_name(reply));
}

/* Scanning lets the hub see an allow-listed device advertise after a
 * measurement; LE only, since health devices are LE. */
static void start_discovery(struct bluez *bz)
{
	DBusMessage *msg;
	DBusMessageIter iter;

	if (!bz->adapter_path || !bz->cfg->n_devices)
		return;
	msg = method(bz->adapter_path, IFACE_ADAPTER, "SetDiscoveryFilter");
	if (msg) {
		dbus_message_iter_init_append(msg, &iter);
		bus_append_dict_string(&iter, "Transport", "le");
		bus_send(bz->bus, msg);
		dbus_message_unref(msg);
	}
	msg = method(bz->adapter_path, IFACE_ADAPTER, "StartDiscovery");
	if (msg) {
		bus_call(bz->bus, msg, CALL_TIMEOUT_MS, start_discovery_done, bz, NULL);
		dbus_message_unref(msg);
	}
}

static void sync_reply(DBusMessage *reply, void *user_data)
{
	struct bluez *bz = user_data;
	DBusMessageIter iter;

	bz->sync_call = NULL;
	if (dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR ||
	    !dbus_message_iter_init(reply, &iter) ||
	    dbus_message_iter_get_arg_type(&iter) != DBUS_TYPE_ARRAY) {
		log_warn("bluetoothd is not answering (%s); waiting for it",
			 dbus_message_get_error_name(reply));
		return;
	}
	bz->up = true;
	/* Devices first: services and characteristics attach to them. */
	for (enum object_pass pass = PASS_DEVICES; pass <= PASS_GATT; pass++) {
		DBusMessageIter objects;

		dbus_message_iter_recurse(&iter, &objects);
		while (dbus_message_iter_get_arg_type(&objects) == DBUS_TYPE_DICT_ENTRY) {
			DBusMessageIter entry;
			const char *path;

			dbus_message_iter_recurse(&objects, &entry);
			dbus_message_iter_get_basic(&entry, &path);
			dbus_message_iter_next(&entry);
			add_object(bz, path, &entry, pass, false);
			dbus_message_iter_next(&objects);
		}
	}
	log_notice("bluetoothd: %u allow-listed device(s) known", count_known(bz));
	start_discovery(bz);
	for (struct bdev *d = bz->devices; d; d = d->next)
		device_update(d);
}

static void resync(struct bluez *bz)
{
	DBusMessage *msg = method("/", IFACE_OM, "GetManagedObjects");

	if (!msg)
		return;
	if (bz->sync_call)
		dbus_pending_call_cancel(bz->sync_call);
	bz->sync_call = bus_call(bz->bus, msg, CALL_TIMEOUT_MS, sync_reply, bz, NULL);
	dbus_message_unref(msg);
}

/* bluetoothd went away: every connection, session and object is gone. */
static void drop_all(struct bluez *bz)
{
	bz->up = false;
	while (bz->devices)
		remove_device(bz, bz->devices);
	free(bz->adapter_path);
	bz->adapter_path = NULL;
}

static void name_owner_changed(struct bluez *bz, DBusMessage *msg)
{
	const char *name, *old_owner, *new_owner;

	if (!dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING, &old_owner,
				   DBUS_TYPE_STRING, &new_owner, DBUS_TYPE_INVALID) ||
	    strcmp(name, BLUEZ_NAME) != 0)
		return;
	if (*old_owner) {
		log_warn("bluetoothd left the bus: devices dropped until it is back");
		drop_all(bz);
	}
	if (*new_owner) {
		log_notice("bluetoothd is on the bus: synchronising");
		resync(bz);
	}
}

static DBusHandlerResult on_signal(DBusConnection *conn, DBusMessage *msg, void *user_data)
{
	struct bluez *bz = user_data;
	const char *sender = dbus_message_get_sender(msg);
	DBusMessageIter iter;

	(void)conn;
	if (dbus_message_is_signal(msg, DBUS_INTERFACE_DBUS, "NameOwnerChanged")) {
		name_owner_changed(bz, msg);
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	}
	if (!bz->up || !sender || dbus_message_get_type(msg) != DBUS_MESSAGE_TYPE_SIGNAL)
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	if (dbus_message_is_signal(msg, IFACE_PROPS, "PropertiesChanged")) {
		properties_changed(bz, msg);
	} else if (dbus_message_is_signal(msg, IFACE_OM, "InterfacesAdded") &&
		   dbus_message_iter_init(msg, &iter)) {
		const char *path;

		dbus_message_iter_get_basic(&iter, &path);
		dbus_message_iter_next(&iter);
		add_object(bz, path, &iter, PASS_DEVICES, true);
		add_object(bz, path, &iter, PASS_GATT, true);
	} else if (dbus_message_is_signal(msg, IFACE_OM, "InterfacesRemoved") &&
		   dbus_message_iter_init(msg, &iter)) {
		const char *path;

		dbus_message_iter_get_basic(&iter, &path);
		dbus_message_iter_next(&iter);
		remove_object(bz, path, &iter);
	}
	return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

/* ---- the GATT backend for plugins ----------------------------------------- */

static int backend_char_props(void *conn, const char *service, const char *uuid)
{
	struct gatt_svc *svc = conn;
	struct gatt_chr *c = find_chr(svc->dev, service, uuid);

	return c ? (int)c->props : -ENOENT;
}

static void req_destroy(void *user_data)
{
	struct gatt_req *r = user_data, **p;

	for (p = &r->dev->reqs; *p; p = &(*p)->next) {
		if (*p == r) {
			*p = r->next;
			break;
		}
	}
	free(r);
}

static int reply_errno(DBusMessage *reply)
{
	int code = att_error_code(reply);

	if (code == 0x05 || code == 0x08 || code == 0x0f)
		return -EACCES;
	if (code >= 0)
		return -EPROTO;
	return bus_error_errno(reply);
}

static void req_reply(DBusMessage *reply, void *user_data)
{
	struct gatt_req *r = user_data;
	const uint8_t *data = NULL;
	int len = 0;
	DBusMessageIter iter;

	if (!r->op)
		return;
	if (dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR) {
		int err = reply_errno(reply);

		/* A notify session of ours already exists (kept across the
		 * reconnection): it is in effect or will be shortly. */
		if (err == -EBUSY && r->subscribe)
			err = 0;
		device_op_done(r->op, err, NULL, 0);
		return;
	}
	if (dbus_message_iter_init(reply, &iter))
		bus_iter_bytes(&iter, &data, &len);
	device_op_done(r->op, 0, data, len > 0 ? (size_t)len : 0);
}

static int send_req(struct gatt_svc *svc, DBusMessage *msg, struct device_op *op, bool subscribe)
{
	struct bdev *d = svc->dev;
	struct gatt_req *r = calloc(1, sizeof(*r));

	if (!r) {
		dbus_message_unref(msg);
		return -ENOMEM;
	}
	r->dev = d;
	r->op = op;
	r->subscribe = subscribe;
	r->next = d->reqs;
	d->reqs = r;
	r->call = bus_call(d->bz->bus, msg, CALL_TIMEOUT_MS, req_reply, r, req_destroy);
	dbus_message_unref(msg);
	return r->call ? 0 : -ENOMEM;
}

static int backend_subscribe(void *conn, const char *service, const char *uuid,
			     struct device_op *op)
{
	struct gatt_svc *svc = conn;
	struct gatt_chr *c = find_chr(svc->dev, service, uuid);
	DBusMessage *msg;

	if (!c)
		return -ENOENT;
	if (!(c->props & (VARDE_CHAR_NOTIFY | VARDE_CHAR_INDICATE)))
		return -EOPNOTSUPP;
	msg = method(c->path, IFACE_CHAR, "StartNotify");
	return msg ? send_req(svc, msg, op, true) : -ENOMEM;
}

static int backend_read(void *conn, const char *service, const char *uuid, struct device_op *op)
{
	struct gatt_svc *svc = conn;
	struct gatt_chr *c = find_chr(svc->dev, service, uuid);
	DBusMessage *msg;
	DBusMessageIter iter;

	if (!c)
		return -ENOENT;
	msg = method(c->path, IFACE_CHAR, "ReadValue");
	if (!msg)
		return -ENOMEM;
	dbus_message_iter_init_append(msg, &iter);
	bus_append_empty_dict(&iter);
	return send_req(svc, msg, op, false);
}

static int backend_write(void *conn, const char *service, const char *uuid, const uint8_t *data,
			 size_t len, bool with_response, struct device_op *op)
{
	struct gatt_svc *svc = conn;
	struct gatt_chr *c = find_chr(svc->dev, service, uuid);
	DBusMessage *msg;
	DBusMessageIter iter;

	if (!c)
		return -ENOENT;
	msg = method(c->path, IFACE_CHAR, "WriteValue");
	if (!msg)
		return -ENOMEM;
	dbus_message_iter_init_append(msg, &iter);
	if (!bus_append_bytes(&iter, data, len) ||
	    !bus_append_dict_string(&iter, "type", with_response ? "request" : "command")) {
		dbus_message_unref(msg);
		return -ENOMEM;
	}
	return send_req(svc, msg, op, false);
}

static void backend_cancel(void *conn, struct device_op *op)
{
	struct gatt_svc *svc = conn;

	for (struct gatt_req *r = svc->dev->reqs; r; r = r->next) {
		if (r->op != op)
			continue;
		/* The subscription itself stays with bluetoothd: sessions
		 * survive reconnections and end when the hub leaves the bus. */
		r->op = NULL;
		dbus_pending_call_cancel(r->call);
		return;
	}
}

static const struct device_backend bluez_backend = {
	.char_props = backend_char_props,
	.subscribe = backend_subscribe,
	.read = backend_read,
	.write = backend_write,
	.cancel = backend_cancel,
};

/* ---- public ------------------------------------------------------------- */

struct bluez *bluez_new(struct loop *loop, struct bus *bus, const struct config *cfg,
			struct plugin_set *plugins, const struct device_sink *sink, void *sink_data)
{
	struct bluez *bz = calloc(1, sizeof(*bz));

	if (!bz)
		return NULL;
	bz->loop = loop;
	bz->bus = bus;
	bz->cfg = cfg;
	bz->plugins = plugins;
	bz->sink = sink;
	bz->sink_data = sink_data;
	if (!dbus_connection_add_filter(bus_conn(bus), on_signal, bz, NULL)) {
		free(bz);
		return NULL;
	}
	bus_add_match(bus, "type='signal',sender='org.freedesktop.DBus',"
			   "interface='org.freedesktop.DBus',member='NameOwnerChanged',"
			   "arg0='org.bluez'");
	bus_add_match(bus, "type='signal',sender='org.bluez',interface='" IFACE_OM "'");
	bus_add_match(bus, "type='signal',sender='org.bluez',interface='" IFACE_PROPS "'");
	resync(bz);
	return bz;
}

void bluez_free(struct bluez *bz)
{
	if (!bz)
		return;
	dbus_connection_remove_filter(bus_conn(bz->bus), on_signal, bz);
	if (bz->sync_call)
		dbus_pending_call_cancel(bz->sync_call);
	drop_all(bz);
	free(bz);
}

void bluez_set_config(struct bluez *bz, const struct config *cfg)
{
	struct bdev *d, *next;

	bz->cfg = cfg;
	for (d = bz->devices; d; d = next) {
		next = d->next;
		d->cfg = config_find_device(cfg, d->address);
		if (!d->cfg) {
			log_notice("device %s is no longer in the configuration", d->address);
			remove_device(bz, d);
		}
	}
	/* Newly listed devices are picked up from bluetoothd's objects. */
	if (bz->up)
		resync(bz);
}

void bluez_get_stats(const struct bluez *bz, struct bluez_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->bluetoothd_up = bz->up;
	out->ignored = bz->n_ignored;
	out->notifications = bz->notifications;
	for (const struct bdev *d = bz->devices; d; d = d->next) {
		out->known++;
		if (d->connected)
			out->connected++;
		for (const struct gatt_svc *s = d->services; s; s = s->next)
			if (s->bound)
				out->bound++;
	}
}

void bluez_foreach_device(const struct bluez *bz, bluez_device_func cb, void *user_data)
{
	for (const struct bdev *d = bz->devices; d; d = d->next) {
		struct bluez_device_info info = {
			.address = d->address,
			.name = d->name,
			.connected = d->connected,
			.paired = d->paired,
			.last_seen_ms = d->last_seen_ms,
			.clock_known = d->clock_known,
			.clock_offset_s = d->clock_offset_s,
		};

		cb(&info, user_data);
	}
}

static void pair_done(DBusMessage *reply, void *user_data)
{
	char *address = user_data;

	if (dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR)
		log_err("device %s: pairing failed: %s", address,
			dbus_message_get_error_name(reply));
	else
		log_notice("device %s: paired", address);
}

static struct bdev *find_dev_by_address(const struct bluez *bz, const char *address)
{
	for (struct bdev *d = bz->devices; d; d = d->next)
		if (strcasecmp(d->address, address) == 0)
			return d;
	return NULL;
}

bool bluez_device_known(const struct bluez *bz, const char *address)
{
	return find_dev_by_address(bz, address) != NULL;
}

int bluez_pair(struct bluez *bz, const char *address)
{
	struct bdev *d = find_dev_by_address(bz, address);
	DBusMessage *msg;
	char *copy;

	if (!d)
		return -ENOENT;
	msg = method(d->path, IFACE_DEVICE, "Pair");
	copy = strdup(d->address);
	if (!msg || !copy) {
		if (msg)
			dbus_message_unref(msg);
		free(copy);
		return -ENOMEM;
	}
	/* Pairing waits for the installer and the device: a long timeout. */
	bus_call(bz->bus, msg, 120000, pair_done, copy, free);
	dbus_message_unref(msg);
	return 0;
}

const char *bluez_device_address(const struct bluez *bz, const char *path)
{
	for (const struct bdev *d = bz->devices; d; d = d->next)
		if (strcmp(d->path, path) == 0)
			return d->address;
	return NULL;
}
