/* SPDX-License-Identifier: MIT */
/*
 * vardectl: the installer's tool. Talks to a running varded over its
 * control interface on the system bus (hub/control.h).
 *
 *   vardectl pair ADDRESS PASSKEY   give the passkey a device shows
 *   vardectl status                 the hub's status as JSON
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dbus/dbus.h>

#include "control.h"

#define CALL_TIMEOUT_MS 10000

static void usage(FILE *out)
{
	fprintf(out, "Usage: vardectl COMMAND [ARGS]\n"
		     "Commands:\n"
		     "  pair ADDRESS PASSKEY   pair an allow-listed device that shows a passkey\n"
		     "  status                 print the hub's status (JSON)\n");
}

/* Explains an error reply in the installer's terms. */
static int report_error(const DBusError *error)
{
	if (strcmp(error->name, DBUS_ERROR_SERVICE_UNKNOWN) == 0 ||
	    strcmp(error->name, DBUS_ERROR_NAME_HAS_NO_OWNER) == 0)
		fprintf(stderr, "vardectl: varded is not running (no %s on the system bus)\n",
			CONTROL_NAME);
	else if (strcmp(error->name, DBUS_ERROR_ACCESS_DENIED) == 0)
		fprintf(stderr, "vardectl: permission denied: run as root or as a member of the "
				"group varde\n");
	else
		fprintf(stderr, "vardectl: %s\n", error->message ? error->message : error->name);
	return EXIT_FAILURE;
}

static DBusMessage *call(DBusConnection *conn, DBusMessage *msg, int *rc)
{
	DBusError error;
	DBusMessage *reply;

	dbus_error_init(&error);
	reply = dbus_connection_send_with_reply_and_block(conn, msg, CALL_TIMEOUT_MS, &error);
	dbus_message_unref(msg);
	if (!reply) {
		*rc = report_error(&error);
		dbus_error_free(&error);
	}
	return reply;
}

static int cmd_pair(DBusConnection *conn, const char *address, const char *passkey_text)
{
	char *end;
	unsigned long passkey = strtoul(passkey_text, &end, 10);
	dbus_uint32_t pk;
	DBusMessage *msg, *reply;
	int rc = EXIT_SUCCESS;

	if (!*passkey_text || *end || passkey > 999999) {
		fprintf(stderr, "vardectl: a passkey is 6 digits (0..999999)\n");
		return EXIT_FAILURE;
	}
	pk = (dbus_uint32_t)passkey;
	msg = dbus_message_new_method_call(CONTROL_NAME, CONTROL_PATH, CONTROL_IFACE, "Pair");
	if (!msg || !dbus_message_append_args(msg, DBUS_TYPE_STRING, &address, DBUS_TYPE_UINT32,
					      &pk, DBUS_TYPE_INVALID))
		return EXIT_FAILURE;
	reply = call(conn, msg, &rc);
	if (!reply)
		return rc;
	dbus_message_unref(reply);
	printf("%s: passkey given; pairing goes on (see varded's log or 'vardectl status')\n",
	       address);
	return EXIT_SUCCESS;
}

static int cmd_status(DBusConnection *conn)
{
	DBusMessage *msg, *reply;
	const char *json;
	int rc = EXIT_SUCCESS;

	msg = dbus_message_new_method_call(CONTROL_NAME, CONTROL_PATH, CONTROL_IFACE, "GetStatus");
	if (!msg)
		return EXIT_FAILURE;
	reply = call(conn, msg, &rc);
	if (!reply)
		return rc;
	if (dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &json, DBUS_TYPE_INVALID))
		printf("%s\n", json);
	else
		rc = EXIT_FAILURE;
	dbus_message_unref(reply);
	return rc;
}

int main(int argc, char **argv)
{
	DBusConnection *conn;
	DBusError error;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_FAILURE : EXIT_SUCCESS;
	}
	dbus_error_init(&error);
	conn = dbus_bus_get_private(DBUS_BUS_SYSTEM, &error);
	if (!conn) {
		fprintf(stderr, "vardectl: cannot reach the system bus: %s\n", error.message);
		dbus_error_free(&error);
		return EXIT_FAILURE;
	}
	if (strcmp(argv[1], "pair") == 0 && argc == 4) {
		rc = cmd_pair(conn, argv[2], argv[3]);
	} else if (strcmp(argv[1], "status") == 0 && argc == 2) {
		rc = cmd_status(conn);
	} else {
		usage(stderr);
		rc = EXIT_FAILURE;
	}
	dbus_connection_close(conn);
	dbus_connection_unref(conn);
	return rc;
}
