/* SPDX-License-Identifier: MIT */
/*
 * vardectl: the installer's and the nurse's view of a running varded,
 * through its control interface on the system bus (hub/control.h).
 *
 *   vardectl pair ADDRESS PASSKEY    give the passkey a device shows
 *   vardectl status                  the hub's status (JSON, for scripts)
 *   vardectl devices                 bound devices: patient, last reading...
 *   vardectl history [--patient P] [N]   recent readings from the store
 *   vardectl rules                   the active rule set
 *   vardectl audit [N]               who bound, changed or acknowledged what
 *   vardectl watch [--count N] [--lang nb|en]   live readings and alerts
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dbus/dbus.h>
#include <jansson.h>

#include "control.h"

#define CALL_TIMEOUT_MS 10000

static volatile sig_atomic_t stop;

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: vardectl COMMAND [ARGS]\n"
		"Commands:\n"
		"  pair ADDRESS PASSKEY           pair an allow-listed device that shows a "
		"passkey\n"
		"  status                         the hub's status (JSON)\n"
		"  devices                        bound devices: patient, last reading, battery\n"
		"  history [--patient P] [N]      the last N readings (default 20)\n"
		"  rules                          the active rule set\n"
		"  audit [N]                      the last N audit log entries (default 20)\n"
		"  watch [--count N] [--lang nb|en]  live readings and alerts until Ctrl-C\n");
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

/* Calls a method that answers one JSON string and parses it. */
static json_t *call_json(DBusConnection *conn, const char *method, const char *patient,
			 unsigned int n, int *rc)
{
	DBusMessage *msg =
		dbus_message_new_method_call(CONTROL_NAME, CONTROL_PATH, CONTROL_IFACE, method);
	DBusMessage *reply;
	const char *text;
	json_t *doc = NULL;

	if (!msg)
		return NULL;
	if (patient && !dbus_message_append_args(msg, DBUS_TYPE_STRING, &patient, DBUS_TYPE_UINT32,
						 &n, DBUS_TYPE_INVALID)) {
		dbus_message_unref(msg);
		return NULL;
	}
	reply = call(conn, msg, rc);
	if (!reply)
		return NULL;
	if (dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &text, DBUS_TYPE_INVALID))
		doc = json_loads(text, 0, NULL);
	dbus_message_unref(reply);
	if (!doc) {
		fprintf(stderr, "vardectl: varded sent an answer that is not JSON\n");
		*rc = EXIT_FAILURE;
	}
	return doc;
}

static const char *str(json_t *obj, const char *key, const char *fallback)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s && *s ? s : fallback;
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
	printf("%s: passkey given; pairing goes on (see varded's log or 'vardectl devices')\n",
	       address);
	return EXIT_SUCCESS;
}

static int cmd_status(DBusConnection *conn)
{
	int rc = EXIT_SUCCESS;
	json_t *doc = call_json(conn, "GetStatus", NULL, 0, &rc);

	if (!doc)
		return rc;
	json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
	putchar('\n');
	json_decref(doc);
	return rc;
}

static int cmd_devices(DBusConnection *conn)
{
	int rc = EXIT_SUCCESS;
	json_t *list = call_json(conn, "GetDevices", NULL, 0, &rc), *dev;
	size_t i;

	if (!list)
		return rc;
	if (!json_array_size(list))
		printf("No configured device is known to bluetoothd yet.\n");
	json_array_foreach(list, i, dev)
	{
		json_t *patients = json_object_get(dev, "patients"), *p;
		json_t *seen = json_object_get(dev, "last_seen_s_ago");
		json_t *clock = json_object_get(dev, "clock_offset_s");
		json_t *battery = json_object_get(dev, "battery");
		size_t j;

		printf("%s  %s\n", str(dev, "address", "?"), str(dev, "name", "(no name)"));
		printf("  patient:       ");
		json_array_foreach(patients, j, p)
			printf("%s%s", j ? ", " : "", json_string_value(p));
		printf("\n  connection:    %s%s\n",
		       json_is_true(json_object_get(dev, "connected")) ? "connected"
								       : "not connected",
		       json_is_true(json_object_get(dev, "paired")) ? ", paired" : "");
		if (json_is_integer(seen))
			printf("  last seen:     %lld s ago\n",
			       (long long)json_integer_value(seen));
		else
			printf("  last seen:     never since varded started\n");
		printf("  last reading:  %s (%s)\n", str(dev, "last_reading", "none"),
		       str(dev, "last_reading_time", "-"));
		if (json_is_number(battery))
			printf("  battery:       %.0f %%\n", json_number_value(battery));
		else
			printf("  battery:       not reported\n");
		if (json_is_integer(clock))
			printf("  device clock:  %+lld s from the hub's\n",
			       (long long)json_integer_value(clock));
		else
			printf("  device clock:  not readable\n");
	}
	json_decref(list);
	return rc;
}

static int cmd_history(DBusConnection *conn, const char *patient, unsigned int n)
{
	int rc = EXIT_SUCCESS;
	json_t *list = call_json(conn, "GetHistory", patient ? patient : "", n, &rc), *h;
	size_t i;

	if (!list)
		return rc;
	json_array_foreach(list, i, h)
		printf("%-25s  %-14s  %-28s  %s\n", str(h, "time", "?"), str(h, "patient", "?"),
		       str(h, "metric", "?"), str(h, "value", "?"));
	if (!json_array_size(list))
		printf("No readings stored%s%s.\n", patient ? " for " : "", patient ? patient : "");
	json_decref(list);
	return rc;
}

static int cmd_rules(DBusConnection *conn)
{
	int rc = EXIT_SUCCESS;
	json_t *doc = call_json(conn, "GetRules", NULL, 0, &rc);

	if (!doc)
		return rc;
	printf("rule set: %s (%s)\n", str(doc, "version", "none"), str(doc, "state", "?"));
	if (json_object_get(doc, "error"))
		printf("last refusal: %s\n", str(doc, "error", ""));
	json_decref(doc);
	return rc;
}

static int cmd_audit(DBusConnection *conn, unsigned int n)
{
	DBusMessage *msg =
		dbus_message_new_method_call(CONTROL_NAME, CONTROL_PATH, CONTROL_IFACE, "GetAudit");
	DBusMessage *reply;
	const char *text;
	json_t *list = NULL, *e;
	int rc = EXIT_SUCCESS;
	size_t i;

	if (!msg || !dbus_message_append_args(msg, DBUS_TYPE_UINT32, &n, DBUS_TYPE_INVALID))
		return EXIT_FAILURE;
	reply = call(conn, msg, &rc);
	if (!reply)
		return rc;
	if (dbus_message_get_args(reply, NULL, DBUS_TYPE_STRING, &text, DBUS_TYPE_INVALID))
		list = json_loads(text, 0, NULL);
	dbus_message_unref(reply);
	if (!list)
		return EXIT_FAILURE;
	json_array_foreach(list, i, e)
		printf("%-25s  %-12s %-20s %s\n", str(e, "time", "?"), str(e, "actor", "?"),
		       str(e, "action", "?"), str(e, "detail", ""));
	json_decref(list);
	return rc;
}

static void print_reading(json_t *r)
{
	bool quarantined = json_is_true(json_object_get(r, "quarantined"));

	printf("%s  %-12s %-26s %-22s %s%s%s\n", str(r, "time", "?"),
	       quarantined ? "QUARANTINED" : str(r, "patient", "?"), str(r, "metric", "?"),
	       str(r, "value", "?"), str(r, "device_name", str(r, "device", "")),
	       json_is_true(json_object_get(r, "flagged")) ? "  [flagged by the device]" : "",
	       json_is_true(json_object_get(r, "time_from_receipt")) ? "  [time: received]" : "");
}

static void print_alert(json_t *a, const char *lang)
{
	json_t *reason = json_object_get(a, "reason");

	printf("%s  ALERT %-12s %-8s %-12s %s  (%s)\n", str(a, "changed_at", "?"),
	       str(a, "state", "?"), str(a, "severity", "?"), str(a, "patient", "?"),
	       str(reason, lang, str(reason, "en", "")), str(a, "id", "?"));
}

static void on_stop(int signo)
{
	(void)signo;
	stop = 1;
}

static int cmd_watch(DBusConnection *conn, long count, const char *lang)
{
	DBusError error;
	long seen = 0;

	dbus_error_init(&error);
	dbus_bus_add_match(conn,
			   "type='signal',interface='" CONTROL_IFACE "',path='" CONTROL_PATH "'",
			   &error);
	dbus_bus_add_match(conn,
			   "type='signal',interface='org.freedesktop.DBus',"
			   "member='NameOwnerChanged',arg0='" CONTROL_NAME "'",
			   &error);
	if (dbus_error_is_set(&error))
		return report_error(&error);
	if (!dbus_bus_name_has_owner(conn, CONTROL_NAME, NULL)) {
		fprintf(stderr, "vardectl: varded is not running (no %s on the system bus)\n",
			CONTROL_NAME);
		return EXIT_FAILURE;
	}
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	fprintf(stderr, "Watching readings and alerts (Ctrl-C to stop)...\n");
	while (!stop && (count <= 0 || seen < count) && dbus_connection_read_write(conn, 500)) {
		DBusMessage *msg;

		while ((msg = dbus_connection_pop_message(conn))) {
			const char *text = NULL;
			json_t *doc;

			if (dbus_message_is_signal(msg, "org.freedesktop.DBus",
						   "NameOwnerChanged")) {
				fprintf(stderr, "vardectl: varded stopped\n");
				stop = 1;
			} else if (dbus_message_get_args(msg, NULL, DBUS_TYPE_STRING, &text,
							 DBUS_TYPE_INVALID) &&
				   (doc = json_loads(text, 0, NULL))) {
				if (dbus_message_is_signal(msg, CONTROL_IFACE, "Alert"))
					print_alert(doc, lang);
				else if (dbus_message_is_signal(msg, CONTROL_IFACE, "Reading"))
					print_reading(doc);
				json_decref(doc);
				seen++;
				fflush(stdout);
			}
			dbus_message_unref(msg);
		}
	}
	return EXIT_SUCCESS;
}

/* Norwegian when the locale says so, else English. */
static const char *default_lang(void)
{
	const char *lang = getenv("LANG");

	return lang && (strncmp(lang, "nb", 2) == 0 || strncmp(lang, "no", 2) == 0 ||
			strncmp(lang, "nn", 2) == 0)
		       ? "nb"
		       : "en";
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"patient", required_argument, NULL, 'p'},
		{"count", required_argument, NULL, 'n'},
		{"lang", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *patient = NULL, *lang = default_lang(), *command;
	long count = 0;
	DBusConnection *conn;
	DBusError error;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		if (opt == 'h') {
			usage(stdout);
			return EXIT_SUCCESS;
		}
		usage(stderr);
		return EXIT_FAILURE;
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_FAILURE;
	}
	command = argv[optind++];
	/* Options of the command, after its name. */
	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'p':
			patient = optarg;
			break;
		case 'n':
			count = strtol(optarg, NULL, 10);
			break;
		case 'l':
			lang = strcmp(optarg, "nb") == 0 ? "nb" : "en";
			break;
		default:
			usage(stderr);
			return EXIT_FAILURE;
		}
	}
	dbus_error_init(&error);
	conn = dbus_bus_get_private(DBUS_BUS_SYSTEM, &error);
	if (!conn) {
		fprintf(stderr, "vardectl: cannot reach the system bus: %s\n", error.message);
		dbus_error_free(&error);
		return EXIT_FAILURE;
	}
	if (strcmp(command, "pair") == 0 && argc - optind == 2) {
		rc = cmd_pair(conn, argv[optind], argv[optind + 1]);
	} else if (strcmp(command, "status") == 0 && argc == optind) {
		rc = cmd_status(conn);
	} else if (strcmp(command, "devices") == 0 && argc == optind) {
		rc = cmd_devices(conn);
	} else if (strcmp(command, "history") == 0 && argc - optind <= 1) {
		long n = argc > optind ? strtol(argv[optind], NULL, 10) : 20;

		rc = cmd_history(conn, patient, n > 0 && n <= 1000 ? (unsigned int)n : 20);
	} else if (strcmp(command, "rules") == 0 && argc == optind) {
		rc = cmd_rules(conn);
	} else if (strcmp(command, "audit") == 0 && argc - optind <= 1) {
		long n = argc > optind ? strtol(argv[optind], NULL, 10) : 20;

		rc = cmd_audit(conn, n > 0 && n <= 1000 ? (unsigned int)n : 20);
	} else if (strcmp(command, "watch") == 0 && argc == optind) {
		rc = cmd_watch(conn, count, lang);
	} else {
		usage(stderr);
		rc = EXIT_FAILURE;
	}
	dbus_connection_close(conn);
	dbus_connection_unref(conn);
	return rc;
}
