/* SPDX-License-Identifier: MIT */
#include "control.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "bluez.h"
#include "bus.h"
#include "log.h"

struct control {
	struct bus *bus;
	struct bluez *bz;
	struct agent *agent;
	const struct control_ops *ops;
	void *data;
};

static void reply(struct control *ctl, DBusMessage *msg, DBusMessage *answer)
{
	(void)msg;
	if (answer) {
		bus_send(ctl->bus, answer);
		dbus_message_unref(answer);
	}
}

static DBusMessage *error(DBusMessage *msg, const char *name, const char *text)
{
	return dbus_message_new_error(msg, name, text);
}

static DBusMessage *do_pair(struct control *ctl, DBusMessage *msg)
{
	const char *address;
	uint32_t passkey;
	int r;

	if (!dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &address, DBUS_TYPE_UINT32,
				   &passkey, DBUS_TYPE_INVALID))
		return error(msg, DBUS_ERROR_INVALID_ARGS, "Expected (s address, u passkey)");
	if (!bluez_device_known(ctl->bz, address))
		return error(msg, "org.varde.Error.UnknownDevice",
			     "Not an allow-listed device that bluetoothd knows");
	r = agent_provide_passkey(ctl->agent, address, passkey);
	if (r < 0)
		return error(msg, "org.varde.Error.Failed",
			     r == -EINVAL ? "A passkey is 0..999999" : strerror(-r));
	/* A held request is answered; otherwise start the pairing, and the
	 * passkey waits for bluetoothd's question. */
	if (r == 0 && (r = bluez_pair(ctl->bz, address)) < 0)
		return error(msg, "org.varde.Error.Failed", strerror(-r));
	log_notice("device %s: pairing requested by the installer", address);
	return dbus_message_new_method_return(msg);
}

/* A reply carrying one JSON document, which it frees. */
static DBusMessage *json_reply(DBusMessage *msg, char *json)
{
	DBusMessage *answer;

	if (!json)
		return error(msg, "org.varde.Error.Failed", "Not available");
	answer = dbus_message_new_method_return(msg);
	if (answer)
		dbus_message_append_args(answer, DBUS_TYPE_STRING, &json, DBUS_TYPE_INVALID);
	free(json);
	return answer;
}

static DBusMessage *do_history(struct control *ctl, DBusMessage *msg)
{
	const char *patient;
	uint32_t n;

	if (!dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &patient, DBUS_TYPE_UINT32, &n,
				   DBUS_TYPE_INVALID))
		return error(msg, DBUS_ERROR_INVALID_ARGS, "Expected (s patient, u count)");
	if (n == 0 || n > 1000)
		n = 1000;
	return json_reply(msg, ctl->ops->history(ctl->data, *patient ? patient : NULL, n));
}

static DBusMessage *do_audit(struct control *ctl, DBusMessage *msg)
{
	uint32_t n;

	if (!dbus_message_get_args(msg, NULL, DBUS_TYPE_UINT32, &n, DBUS_TYPE_INVALID))
		return error(msg, DBUS_ERROR_INVALID_ARGS, "Expected (u count)");
	return json_reply(msg, ctl->ops->audit(ctl->data, n == 0 || n > 1000 ? 1000 : n));
}

static DBusHandlerResult control_message(DBusConnection *conn, DBusMessage *msg, void *user_data)
{
	struct control *ctl = user_data;

	(void)conn;
	if (dbus_message_is_method_call(msg, CONTROL_IFACE, "Pair"))
		reply(ctl, msg, do_pair(ctl, msg));
	else if (dbus_message_is_method_call(msg, CONTROL_IFACE, "GetStatus"))
		reply(ctl, msg, json_reply(msg, ctl->ops->status(ctl->data)));
	else if (dbus_message_is_method_call(msg, CONTROL_IFACE, "GetDevices"))
		reply(ctl, msg, json_reply(msg, ctl->ops->devices(ctl->data)));
	else if (dbus_message_is_method_call(msg, CONTROL_IFACE, "GetHistory"))
		reply(ctl, msg, do_history(ctl, msg));
	else if (dbus_message_is_method_call(msg, CONTROL_IFACE, "GetRules"))
		reply(ctl, msg, json_reply(msg, ctl->ops->rules(ctl->data)));
	else if (dbus_message_is_method_call(msg, CONTROL_IFACE, "GetAudit"))
		reply(ctl, msg, do_audit(ctl, msg));
	else
		return DBUS_HANDLER_RESULT_NOT_YET_HANDLED;
	return DBUS_HANDLER_RESULT_HANDLED;
}

struct control *control_new(struct bus *bus, struct bluez *bz, struct agent *agent,
			    const struct control_ops *ops, void *data, int *err)
{
	static const DBusObjectPathVTable vtable = {.message_function = control_message};
	struct control *ctl = calloc(1, sizeof(*ctl));
	DBusError error_;
	int r;

	if (!ctl) {
		*err = -ENOMEM;
		return NULL;
	}
	ctl->bus = bus;
	ctl->bz = bz;
	ctl->agent = agent;
	ctl->ops = ops;
	ctl->data = data;
	if (!dbus_connection_register_object_path(bus_conn(bus), CONTROL_PATH, &vtable, ctl)) {
		free(ctl);
		*err = -ENOMEM;
		return NULL;
	}
	/* Blocking, once at start: a second varded must not run beside us. */
	dbus_error_init(&error_);
	r = dbus_bus_request_name(bus_conn(bus), CONTROL_NAME, DBUS_NAME_FLAG_DO_NOT_QUEUE,
				  &error_);
	if (r != DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER) {
		log_err("cannot own %s on the system bus: %s", CONTROL_NAME,
			dbus_error_is_set(&error_) ? error_.message : "another varded runs");
		dbus_error_free(&error_);
		dbus_connection_unregister_object_path(bus_conn(bus), CONTROL_PATH);
		free(ctl);
		*err = -EADDRINUSE;
		return NULL;
	}
	*err = 0;
	return ctl;
}

void control_free(struct control *ctl)
{
	if (!ctl)
		return;
	dbus_connection_unregister_object_path(bus_conn(ctl->bus), CONTROL_PATH);
	free(ctl);
}

void control_emit(struct control *ctl, const char *name, const char *json)
{
	DBusMessage *signal = dbus_message_new_signal(CONTROL_PATH, CONTROL_IFACE, name);

	if (!signal)
		return;
	if (dbus_message_append_args(signal, DBUS_TYPE_STRING, &json, DBUS_TYPE_INVALID))
		bus_send(ctl->bus, signal);
	dbus_message_unref(signal);
}
