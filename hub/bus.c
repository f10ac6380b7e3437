/* SPDX-License-Identifier: MIT */
#include "bus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>

#include "log.h"
#include "loop.h"

/* Messages dispatched per loop batch before yielding to other sources. */
#define DISPATCH_BUDGET 64

struct watch_fd {
	struct watch_fd *next;
	struct bus *bus;
	int fd;
	int source_id;
	uint32_t events; /* what is registered with the loop */
	DBusWatch *watches[4]; /* libdbus uses one or two per fd */
	int n_watches;
};

struct timeout_entry {
	struct bus *bus;
	DBusTimeout *timeout;
	int timer_id; /* 0 while disabled */
};

struct bus {
	struct loop *loop;
	DBusConnection *conn;
	struct watch_fd *fds;
	int dispatch_id;
};

static uint32_t watch_events(DBusWatch *w)
{
	unsigned int flags = dbus_watch_get_flags(w);
	uint32_t ev = 0;

	if (!dbus_watch_get_enabled(w))
		return 0;
	if (flags & DBUS_WATCH_READABLE)
		ev |= EPOLLIN;
	if (flags & DBUS_WATCH_WRITABLE)
		ev |= EPOLLOUT;
	return ev;
}

static uint32_t fd_events(const struct watch_fd *wf)
{
	uint32_t ev = 0;

	for (int i = 0; i < wf->n_watches; i++)
		ev |= watch_events(wf->watches[i]);
	return ev;
}

static void on_fd(struct loop *loop, int fd, uint32_t events, void *user_data)
{
	struct watch_fd *wf = user_data;
	DBusWatch *snapshot[4];
	int n = wf->n_watches;

	(void)loop;
	(void)fd;
	/* dbus_watch_handle() may add or remove watches, even on this fd. */
	memcpy(snapshot, wf->watches, sizeof(snapshot));
	for (int i = 0; i < n; i++) {
		unsigned int flags = 0;
		uint32_t want = watch_events(snapshot[i]);

		if ((events & EPOLLIN) && (want & EPOLLIN))
			flags |= DBUS_WATCH_READABLE;
		if ((events & EPOLLOUT) && (want & EPOLLOUT))
			flags |= DBUS_WATCH_WRITABLE;
		if (events & EPOLLHUP)
			flags |= DBUS_WATCH_HANGUP;
		if (events & EPOLLERR)
			flags |= DBUS_WATCH_ERROR;
		if (flags)
			dbus_watch_handle(snapshot[i], flags);
	}
}

static struct watch_fd *find_fd(struct bus *bus, int fd)
{
	for (struct watch_fd *wf = bus->fds; wf; wf = wf->next)
		if (wf->fd == fd)
			return wf;
	return NULL;
}

static void update_fd(struct watch_fd *wf)
{
	uint32_t ev = fd_events(wf);

	if (ev != wf->events && loop_modify_fd(wf->bus->loop, wf->source_id, ev) == 0)
		wf->events = ev;
}

static dbus_bool_t add_watch(DBusWatch *w, void *data)
{
	struct bus *bus = data;
	int fd = dbus_watch_get_unix_fd(w);
	struct watch_fd *wf = find_fd(bus, fd);

	if (!wf) {
		wf = calloc(1, sizeof(*wf));
		if (!wf)
			return FALSE;
		wf->bus = bus;
		wf->fd = fd;
		wf->source_id = loop_add_fd(bus->loop, fd, 0, on_fd, wf, NULL);
		if (wf->source_id < 0) {
			free(wf);
			return FALSE;
		}
		wf->next = bus->fds;
		bus->fds = wf;
	}
	if (wf->n_watches == 4)
		return FALSE;
	wf->watches[wf->n_watches++] = w;
	update_fd(wf);
	return TRUE;
}

static void remove_watch(DBusWatch *w, void *data)
{
	struct bus *bus = data;
	struct watch_fd *wf = find_fd(bus, dbus_watch_get_unix_fd(w)), **p;

	if (!wf)
		return;
	for (int i = 0; i < wf->n_watches; i++) {
		if (wf->watches[i] == w) {
			wf->watches[i] = wf->watches[--wf->n_watches];
			break;
		}
	}
	if (wf->n_watches > 0) {
		update_fd(wf);
		return;
	}
	loop_remove(bus->loop, wf->source_id);
	for (p = &bus->fds; *p != wf; p = &(*p)->next)
		;
	*p = wf->next;
	free(wf);
}

static void toggle_watch(DBusWatch *w, void *data)
{
	struct watch_fd *wf = find_fd(data, dbus_watch_get_unix_fd(w));

	if (wf)
		update_fd(wf);
}

static void on_timeout(struct loop *loop, void *user_data)
{
	struct timeout_entry *t = user_data;

	dbus_timeout_handle(t->timeout);
	/* libdbus timeouts repeat until removed or disabled. */
	if (t->timer_id > 0)
		loop_timer_rearm(loop, t->timer_id,
				 (uint64_t)dbus_timeout_get_interval(t->timeout));
}

static void arm_timeout(struct timeout_entry *t)
{
	if (t->timer_id > 0) {
		loop_remove(t->bus->loop, t->timer_id);
		t->timer_id = 0;
	}
	if (dbus_timeout_get_enabled(t->timeout)) {
		int id = loop_add_timer(t->bus->loop,
					(uint64_t)dbus_timeout_get_interval(t->timeout), on_timeout,
					t, NULL);

		t->timer_id = id > 0 ? id : 0;
	}
}

static dbus_bool_t add_timeout(DBusTimeout *timeout, void *data)
{
	struct timeout_entry *t = calloc(1, sizeof(*t));

	if (!t)
		return FALSE;
	t->bus = data;
	t->timeout = timeout;
	dbus_timeout_set_data(timeout, t, free);
	arm_timeout(t);
	return TRUE;
}

static void remove_timeout(DBusTimeout *timeout, void *data)
{
	struct timeout_entry *t = dbus_timeout_get_data(timeout);

	(void)data;
	if (t && t->timer_id > 0) {
		loop_remove(t->bus->loop, t->timer_id);
		t->timer_id = 0;
	}
}

static void toggle_timeout(DBusTimeout *timeout, void *data)
{
	struct timeout_entry *t = dbus_timeout_get_data(timeout);

	(void)data;
	if (t)
		arm_timeout(t);
}

static void schedule_dispatch(struct bus *bus);

static void dispatch(struct loop *loop, void *user_data)
{
	struct bus *bus = user_data;
	int budget = DISPATCH_BUDGET;

	(void)loop;
	bus->dispatch_id = 0;
	while (budget-- > 0 && dbus_connection_dispatch(bus->conn) == DBUS_DISPATCH_DATA_REMAINS)
		;
	if (dbus_connection_get_dispatch_status(bus->conn) == DBUS_DISPATCH_DATA_REMAINS)
		schedule_dispatch(bus);
}

static void schedule_dispatch(struct bus *bus)
{
	int id;

	if (bus->dispatch_id)
		return;
	id = loop_add_defer(bus->loop, dispatch, bus, NULL);
	bus->dispatch_id = id > 0 ? id : 0;
}

static void dispatch_status(DBusConnection *conn, DBusDispatchStatus status, void *data)
{
	(void)conn;
	if (status == DBUS_DISPATCH_DATA_REMAINS)
		schedule_dispatch(data);
}

static void wakeup_main(void *data)
{
	schedule_dispatch(data);
}

static DBusHandlerResult on_disconnected(DBusConnection *conn, DBusMessage *msg, void *data)
{
	struct bus *bus = data;

	(void)conn;
	if (dbus_message_is_signal(msg, DBUS_INTERFACE_LOCAL, "Disconnected")) {
		log_err("lost the system bus: stopping so that the service manager restarts "
			"varded");
		loop_quit(bus->loop, -ENOTCONN);
		return DBUS_HANDLER_RESULT_HANDLED;
	}
	return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

struct bus *bus_open_system(struct loop *loop, int *err)
{
	struct bus *bus = calloc(1, sizeof(*bus));
	DBusError error;

	if (!bus) {
		*err = -ENOMEM;
		return NULL;
	}
	bus->loop = loop;
	dbus_error_init(&error);
	bus->conn = dbus_bus_get_private(DBUS_BUS_SYSTEM, &error);
	if (!bus->conn) {
		log_err("cannot connect to the system bus: %s", error.message);
		dbus_error_free(&error);
		free(bus);
		*err = -ENOTCONN;
		return NULL;
	}
	dbus_connection_set_exit_on_disconnect(bus->conn, FALSE);
	if (!dbus_connection_set_watch_functions(bus->conn, add_watch, remove_watch, toggle_watch,
						 bus, NULL) ||
	    !dbus_connection_set_timeout_functions(bus->conn, add_timeout, remove_timeout,
						   toggle_timeout, bus, NULL) ||
	    !dbus_connection_add_filter(bus->conn, on_disconnected, bus, NULL)) {
		bus_free(bus);
		*err = -ENOMEM;
		return NULL;
	}
	dbus_connection_set_dispatch_status_function(bus->conn, dispatch_status, bus, NULL);
	dbus_connection_set_wakeup_main_function(bus->conn, wakeup_main, bus, NULL);
	schedule_dispatch(bus);
	*err = 0;
	return bus;
}

void bus_free(struct bus *bus)
{
	if (!bus)
		return;
	if (bus->dispatch_id)
		loop_remove(bus->loop, bus->dispatch_id);
	dbus_connection_remove_filter(bus->conn, on_disconnected, bus);
	dbus_connection_close(bus->conn);
	/* Drops watches and timeouts through their remove functions. */
	dbus_connection_set_watch_functions(bus->conn, NULL, NULL, NULL, NULL, NULL);
	dbus_connection_set_timeout_functions(bus->conn, NULL, NULL, NULL, NULL, NULL);
	dbus_connection_set_dispatch_status_function(bus->conn, NULL, NULL, NULL);
	dbus_connection_set_wakeup_main_function(bus->conn, NULL, NULL, NULL);
	dbus_connection_unref(bus->conn);
	while (bus->fds) {
		struct watch_fd *wf = bus->fds;

		bus->fds = wf->next;
		loop_remove(bus->loop, wf->source_id);
		free(wf);
	}
	free(bus);
}

DBusConnection *bus_conn(struct bus *bus)
{
	return bus->conn;
}

struct call {
	bus_reply_func cb;
	void *user_data;
	bus_free_func destroy;
};

static void call_free(void *data)
{
	struct call *c = data;

	if (c->destroy)
		c->destroy(c->user_data);
	free(c);
}

static void call_notify(DBusPendingCall *pending, void *data)
{
	struct call *c = data;
	DBusMessage *reply = dbus_pending_call_steal_reply(pending);

	if (reply) {
		c->cb(reply, c->user_data);
		dbus_message_unref(reply);
	}
}

DBusPendingCall *bus_call(struct bus *bus, DBusMessage *msg, int timeout_ms, bus_reply_func cb,
			  void *user_data, bus_free_func destroy)
{
	DBusPendingCall *pending = NULL;
	struct call *c = calloc(1, sizeof(*c));

	if (!c || !dbus_connection_send_with_reply(bus->conn, msg, &pending, timeout_ms) ||
	    !pending) {
		free(c);
		if (destroy)
			destroy(user_data);
		return NULL;
	}
	c->cb = cb;
	c->user_data = user_data;
	c->destroy = destroy;
	if (!dbus_pending_call_set_notify(pending, call_notify, c, call_free)) {
		dbus_pending_call_cancel(pending);
		dbus_pending_call_unref(pending);
		call_free(c);
		return NULL;
	}
	/* The connection keeps its own reference until the reply, the timeout
	 * or a cancel; the free function of the notify data marks the end. */
	dbus_pending_call_unref(pending);
	return pending;
}

bool bus_send(struct bus *bus, DBusMessage *msg)
{
	return dbus_connection_send(bus->conn, msg, NULL);
}

void bus_add_match(struct bus *bus, const char *rule)
{
	dbus_bus_add_match(bus->conn, rule, NULL);
}

int bus_error_errno(DBusMessage *reply)
{
	static const struct {
		const char *name;
		int err;
	} map[] = {
		{"org.bluez.Error.NotConnected", -ENOTCONN},
		{"org.bluez.Error.NotPermitted", -EACCES},
		{"org.bluez.Error.NotAuthorized", -EACCES},
		{"org.bluez.Error.InProgress", -EBUSY},
		{"org.bluez.Error.DoesNotExist", -ENOENT},
		{"org.bluez.Error.NotSupported", -EOPNOTSUPP},
		{"org.bluez.Error.InvalidArguments", -EINVAL},
		{DBUS_ERROR_NO_REPLY, -ETIMEDOUT},
		{DBUS_ERROR_TIMEOUT, -ETIMEDOUT},
		{DBUS_ERROR_UNKNOWN_OBJECT, -ENOENT},
		{DBUS_ERROR_SERVICE_UNKNOWN, -ENOENT},
		{DBUS_ERROR_NAME_HAS_NO_OWNER, -ENOENT},
	};
	const char *name = dbus_message_get_error_name(reply);

	if (dbus_message_get_type(reply) != DBUS_MESSAGE_TYPE_ERROR || !name)
		return 0;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strcmp(name, map[i].name) == 0)
			return map[i].err;
	return -EIO;
}

bool bus_iter_dict(DBusMessageIter *dict, bus_dict_func cb, void *user_data)
{
	DBusMessageIter entries;

	if (dbus_message_iter_get_arg_type(dict) != DBUS_TYPE_ARRAY ||
	    dbus_message_iter_get_element_type(dict) != DBUS_TYPE_DICT_ENTRY)
		return false;
	dbus_message_iter_recurse(dict, &entries);
	while (dbus_message_iter_get_arg_type(&entries) == DBUS_TYPE_DICT_ENTRY) {
		DBusMessageIter entry, variant;
		const char *key;

		dbus_message_iter_recurse(&entries, &entry);
		if (dbus_message_iter_get_arg_type(&entry) != DBUS_TYPE_STRING)
			return false;
		dbus_message_iter_get_basic(&entry, &key);
		dbus_message_iter_next(&entry);
		if (dbus_message_iter_get_arg_type(&entry) != DBUS_TYPE_VARIANT)
			return false;
		dbus_message_iter_recurse(&entry, &variant);
		cb(key, &variant, user_data);
		dbus_message_iter_next(&entries);
	}
	return true;
}

bool bus_iter_bool(DBusMessageIter *value, bool *out)
{
	dbus_bool_t b;

	if (dbus_message_iter_get_arg_type(value) != DBUS_TYPE_BOOLEAN)
		return false;
	dbus_message_iter_get_basic(value, &b);
	*out = b;
	return true;
}

bool bus_iter_string(DBusMessageIter *value, const char **out)
{
	int type = dbus_message_iter_get_arg_type(value);

	if (type != DBUS_TYPE_STRING && type != DBUS_TYPE_OBJECT_PATH)
		return false;
	dbus_message_iter_get_basic(value, out);
	return true;
}

bool bus_iter_int16(DBusMessageIter *value, int16_t *out)
{
	if (dbus_message_iter_get_arg_type(value) != DBUS_TYPE_INT16)
		return false;
	dbus_message_iter_get_basic(value, out);
	return true;
}

bool bus_iter_bytes(DBusMessageIter *value, const uint8_t **data, int *len)
{
	DBusMessageIter array;

	if (dbus_message_iter_get_arg_type(value) != DBUS_TYPE_ARRAY ||
	    dbus_message_iter_get_element_type(value) != DBUS_TYPE_BYTE)
		return false;
	dbus_message_iter_recurse(value, &array);
	dbus_message_iter_get_fixed_array(&array, data, len);
	return true;
}

bool bus_append_bytes(DBusMessageIter *iter, const uint8_t *data, size_t len)
{
	DBusMessageIter array;

	return dbus_message_iter_open_container(iter, DBUS_TYPE_ARRAY, "y", &array) &&
	       dbus_message_iter_append_fixed_array(&array, DBUS_TYPE_BYTE, &data, (int)len) &&
	       dbus_message_iter_close_container(iter, &array);
}

bool bus_append_dict_string(DBusMessageIter *iter, const char *key, const char *value)
{
	DBusMessageIter dict, entry, variant;

	return dbus_message_iter_open_container(iter, DBUS_TYPE_ARRAY, "{sv}", &dict) &&
	       dbus_message_iter_open_container(&dict, DBUS_TYPE_DICT_ENTRY, NULL, &entry) &&
	       dbus_message_iter_append_basic(&entry, DBUS_TYPE_STRING, &key) &&
	       dbus_message_iter_open_container(&entry, DBUS_TYPE_VARIANT, "s", &variant) &&
	       dbus_message_iter_append_basic(&variant, DBUS_TYPE_STRING, &value) &&
	       dbus_message_iter_close_container(&entry, &variant) &&
	       dbus_message_iter_close_container(&dict, &entry) &&
	       dbus_message_iter_close_container(iter, &dict);
}

bool bus_append_empty_dict(DBusMessageIter *iter)
{
	DBusMessageIter dict;

	return dbus_message_iter_open_container(iter, DBUS_TYPE_ARRAY, "{sv}", &dict) &&
	       dbus_message_iter_close_container(iter, &dict);
}
