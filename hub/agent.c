/* SPDX-License-Identifier: MIT */
#include "agent.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bluez.h"
#include "bus.h"
#include "log.h"
#include "loop.h"

#define AGENT_PATH "/org/varde/agent"
#define AGENT_IFACE "org.bluez.Agent1"
#define MAX_PENDING 8

/* A passkey given before bluetoothd asked, or a request waiting for one. */
struct pending {
	char address[18];
	uint32_t passkey;
	bool has_passkey;
	DBusMessage *request; /* held RequestPasskey, or NULL */
	int timer;
};

struct agent {
	struct loop *loop;
	struct bus *bus;
	const struct bluez *bz;
	agent_pairing_needed_func pairing_needed;
	void *user_data;
	struct pending pending[MAX_PENDING];
};

static struct pending *find_pending(struct agent *a, const char *address)
{
	for (int i = 0; i < MAX_PENDING; i++)
		if (a->pending[i].timer > 0 && strcasecmp(a->pending[i].address, address) == 0)
			return &a->pending[i];
	return NULL;
}

static void pending_clear(struct agent *a, struct pending *p)
{
	if (p->request)
		dbus_message_unref(p->request);
	if (p->timer > 0)
		loop_remove(a->loop, p->timer);
	memset(p, 0, sizeof(*p));
}

static void reply_error(struct agent *a, DBusMessage *msg, const char *name, const char *text)
{
	DBusMessage *reply = dbus_message_new_error(msg, name, text);

	if (reply) {
		bus_send(a->bus, reply);
		dbus_message_unref(reply);
	}
}

static void reply_empty(struct agent *a, DBusMessage *msg)
{
	DBusMessage *reply = dbus_message_new_method_return(msg);

	if (reply) {
		bus_send(a->bus, reply);
		dbus_message_unref(reply);
	}
}

static void reply_passkey(struct agent *a, DBusMessage *msg, uint32_t passkey)
{
	DBusMessage *reply = dbus_message_new_method_return(msg);

	if (reply && dbus_message_append_args(reply, DBUS_TYPE_UINT32, &passkey, DBUS_TYPE_INVALID))
		bus_send(a->bus, reply);
	if (reply)
		dbus_message_unref(reply);
}

struct expiry {
	struct agent *agent;
	int index;
};

static void pending_expired(struct loop *loop, void *user_data)
{
	struct agent *a = ((struct expiry *)user_data)->agent;
	struct pending *p = &a->pending[((struct expiry *)user_data)->index];

	(void)loop;
	p->timer = 0; /* the loop removes a fired timer */
	if (p->request) {
		log_warn("device %s: no passkey given in time, pairing cancelled", p->address);
		reply_error(a, p->request, "org.bluez.Error.Canceled", "No passkey given");
	}
	pending_clear(a, p);
}

static struct pending *pending_new(struct agent *a, const char *address)
{
	for (int i = 0; i < MAX_PENDING; i++) {
		struct pending *p = &a->pending[i];
		struct expiry *e;

		if (p->timer > 0)
			continue;
		e = malloc(sizeof(*e));
		if (!e)
			return NULL;
		e->agent = a;
		e->index = i;
		p->timer = loop_add_timer(a->loop, PASSKEY_WAIT_MS, pending_expired, e, free);
		if (p->timer <= 0) {
			p->timer = 0;
			return NULL;
		}
		snprintf(p->address, sizeof(p->address), "%s", address);
		return p;
	}
	return NULL;
}

/* The allow-listed address behind the device path of a request. */
static const char *request_address(struct agent *a, DBusMessage *msg)
{
	const char *path = NULL;

	/* Every request names the device first; later arguments are ignored. */
	if (!dbus_message_get_args(msg, NULL, DBUS_TYPE_OBJECT_PATH, &path, DBUS_TYPE_INVALID))
		return NULL;
	return path ? bluez_device_address(a->bz, path) : NULL;
}

static void request_passkey(struct agent *a, DBusMessage *msg, const char *address)
{
	struct pending *p = find_pending(a, address);

	if (p && p->has_passkey) {
		log_notice("device %s: answering its passkey request", address);
		reply_passkey(a, msg, p->passkey);
		pending_clear(a, p);
		return;
	}
	if (p && p->request)
		pending_clear(a, p); /* a newer request replaces a stale one */
	p = pending_new(a, address);
	if (!p) {
		reply_error(a, msg, "org.bluez.Error.Rejected", "Too many pairings at once");
		return;
	}
	p->request = dbus_message_ref(msg);
	log_notice("device %s asks for a passkey: pairing needed (vardectl pair %s PASSKEY)",
		   address, address);
	if (a->pairing_needed)
		a->pairing_needed(address, a->user_data);
}

static DBusHandlerResult agent_message(DBusConnection *conn, DBusMessage *msg, void *user_data)
{
	struct agent *a = user_data;
	const char *member = dbus_message_get_member(msg);
	const char *address;

	(void)conn;
	if (!dbus_message_has_interface(msg, AGENT_IFACE) || !member)
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	if (strcmp(member, "Release") == 0 || strcmp(member, "DisplayPasskey") == 0 ||
	    strcmp(member, "DisplayPinCode") == 0) {
		reply_empty(a, msg);
		return DBUS_HANDLER_RESULT_HANDLED;
	}
	if (strcmp(member, "Cancel") == 0) {
		/* bluetoothd gave up the request: drop it without an answer. */
		for (int i = 0; i < MAX_PENDING; i++)
			if (a->pending[i].request)
				pending_clear(a, &a->pending[i]);
		reply_empty(a, msg);
		return DBUS_HANDLER_RESULT_HANDLED;
	}
	address = request_address(a, msg);
	if (!address) {
		log_warn("pairing request (%s) from a device that is not in the configuration: "
			 "rejected",
			 member);
		reply_error(a, msg, "org.bluez.Error.Rejected", "Not an allow-listed device");
		return DBUS_HANDLER_RESULT_HANDLED;
	}
	if (strcmp(member, "RequestPasskey") == 0) {
		request_passkey(a, msg, address);
	} else if (strcmp(member, "RequestConfirmation") == 0 ||
		   strcmp(member, "RequestAuthorization") == 0 ||
		   strcmp(member, "AuthorizeService") == 0) {
		log_notice("device %s: %s accepted (allow-listed)", address, member);
		reply_empty(a, msg);
	} else {
		/* PIN codes are BR/EDR legacy pairing: not for health LE devices. */
		reply_error(a, msg, "org.bluez.Error.Rejected", "Not supported");
	}
	return DBUS_HANDLER_RESULT_HANDLED;
}

static void register_done(DBusMessage *reply, void *user_data)
{
	(void)user_data;
	if (dbus_message_get_type(reply) == DBUS_MESSAGE_TYPE_ERROR)
		log_warn("pairing agent not registered: %s", dbus_message_get_error_name(reply));
}

static void agent_register(struct agent *a)
{
	static const char *const steps[] = {"RegisterAgent", "RequestDefaultAgent"};
	const char *path = AGENT_PATH, *capability = "KeyboardOnly";

	for (size_t i = 0; i < 2; i++) {
		DBusMessage *msg = dbus_message_new_method_call(
			"org.bluez", "/org/bluez", "org.bluez.AgentManager1", steps[i]);

		if (!msg)
			return;
		if (i == 0)
			dbus_message_append_args(msg, DBUS_TYPE_OBJECT_PATH, &path,
						 DBUS_TYPE_STRING, &capability, DBUS_TYPE_INVALID);
		else
			dbus_message_append_args(msg, DBUS_TYPE_OBJECT_PATH, &path,
						 DBUS_TYPE_INVALID);
		bus_call(a->bus, msg, 10000, register_done, a, NULL);
		dbus_message_unref(msg);
	}
}

static DBusHandlerResult on_owner(DBusConnection *conn, DBusMessage *msg, void *user_data)
{
	const char *name, *old_owner, *new_owner;

	(void)conn;
	if (dbus_message_is_signal(msg, DBUS_INTERFACE_DBUS, "NameOwnerChanged") &&
	    dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &name, DBUS_TYPE_STRING, &old_owner,
				  DBUS_TYPE_STRING, &new_owner, DBUS_TYPE_INVALID) &&
	    strcmp(name, "org.bluez") == 0 && *new_owner)
		agent_register(user_data);
	return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
}

struct agent *agent_new(struct loop *loop, struct bus *bus, const struct bluez *bz,
			agent_pairing_needed_func cb, void *user_data)
{
	static const DBusObjectPathVTable vtable = {.message_function = agent_message};
	struct agent *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->loop = loop;
	a->bus = bus;
	a->bz = bz;
	a->pairing_needed = cb;
	a->user_data = user_data;
	if (!dbus_connection_register_object_path(bus_conn(bus), AGENT_PATH, &vtable, a) ||
	    !dbus_connection_add_filter(bus_conn(bus), on_owner, a, NULL)) {
		dbus_connection_unregister_object_path(bus_conn(bus), AGENT_PATH);
		free(a);
		return NULL;
	}
	/* The bluez module adds the NameOwnerChanged match for org.bluez. */
	agent_register(a);
	return a;
}

void agent_free(struct agent *a)
{
	if (!a)
		return;
	for (int i = 0; i < MAX_PENDING; i++)
		if (a->pending[i].timer > 0)
			pending_clear(a, &a->pending[i]);
	dbus_connection_remove_filter(bus_conn(a->bus), on_owner, a);
	dbus_connection_unregister_object_path(bus_conn(a->bus), AGENT_PATH);
	free(a);
}

int agent_provide_passkey(struct agent *a, const char *address, uint32_t passkey)
{
	struct pending *p;

	if (passkey > 999999)
		return -EINVAL;
	p = find_pending(a, address);
	if (p && p->request) {
		log_notice("device %s: passkey from the installer, pairing goes on", address);
		reply_passkey(a, p->request, passkey);
		pending_clear(a, p);
		return 1;
	}
	if (!p)
		p = pending_new(a, address);
	if (!p)
		return -EBUSY;
	p->passkey = passkey;
	p->has_passkey = true;
	return 0;
}
