/* SPDX-License-Identifier: MIT */
/*
 * varded: the hub daemon. Loads the configuration and the plugins, then runs
 * the event loop until SIGTERM/SIGINT. SIGHUP reloads the configuration: a
 * file that does not validate is refused and the running one kept.
 */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "audit.h"
#include "bluez.h"
#include "config.h"
#include "control.h"
#include "bus.h"
#include "device.h"
#include "log.h"
#include "loop.h"
#include "ingest.h"
#include "pipeline.h"
#include "plugin_loader.h"
#include "sd_notify.h"
#include "status.h"
#include "store.h"
#include "uplink.h"

#define DEFAULT_CONFIG VARDE_SYSCONF_DIR "/varded.conf"

struct hub {
	const char *config_path;
	struct config *cfg;
	struct loop *loop;
	struct plugin_set *plugins;
	struct store *store;
	struct pipeline *pipeline;
	struct ingest *ingest;
	struct uplink *uplink;
	struct bus *bus;
	struct bluez *bluez;
	struct agent *agent;
	struct control *control;
	struct status *status;
	uint64_t watchdog_ms;
	int watchdog_id;
};

/* ---- the outbox as the uplink reads it ----------------------------------- */

static int outbox_next(void *data, int64_t after_id, struct outbox_msg *out)
{
	struct store_outbox_row row;
	int r = store_outbox_next(data, after_id, &row);

	if (r > 0) {
		out->id = row.id;
		out->topic = row.topic;
		out->payload = row.payload;
		out->len = row.len;
	}
	return r;
}

static void outbox_acked(void *data, int64_t id)
{
	store_outbox_remove(data, id);
}

static const struct uplink_outbox store_outbox = {outbox_next, outbox_acked};

static void on_store_event(struct store *store, enum store_event event, void *user_data)
{
	struct hub *hub = user_data;

	(void)store;
	/* Only now are the batch's messages durable: hand them to the broker. */
	if (event == STORE_EVENT_DURABLE && hub->uplink)
		uplink_kick(hub->uplink);
	if (hub->status)
		status_changed(hub->status);
}

static void publish_status(const char *json, void *user_data)
{
	struct hub *hub = user_data;

	if (hub->uplink)
		uplink_set_retained(hub->uplink, UPLINK_STATUS, json);
}

static char *control_status(void *data)
{
	return status_json(((struct hub *)data)->status);
}

static char *control_devices(void *data)
{
	return status_devices_json(((struct hub *)data)->status);
}

static char *control_history(void *data, const char *patient, unsigned int n)
{
	return status_history_json(((struct hub *)data)->status, patient, n);
}

static char *control_rules(void *data)
{
	return status_rules_json(((struct hub *)data)->status);
}

static char *control_audit(void *data, unsigned int n)
{
	return status_audit_json(((struct hub *)data)->status, n);
}

static const struct control_ops control_ops = {
	.status = control_status,
	.devices = control_devices,
	.history = control_history,
	.rules = control_rules,
	.audit = control_audit,
};

/* Live readings and alerts for vardectl watch. */
static void watch(const char *kind, const char *json, void *data)
{
	struct hub *hub = data;

	if (hub->control)
		control_emit(hub->control, strcmp(kind, "alert") == 0 ? "Alert" : "Reading", json);
}

static void on_pairing_needed(const char *address, void *user_data)
{
	struct hub *hub = user_data;

	pipeline_event(hub->pipeline, "pairing-needed", address,
		       "the device asks for a passkey: vardectl pair ADDRESS PASSKEY");
	status_pairing_needed(hub->status, address);
}

static struct status_sources status_sources(struct hub *hub)
{
	struct status_sources src = {
		.cfg = hub->cfg,
		.plugins = hub->plugins,
		.bluez = hub->bluez,
		.store = hub->store,
		.uplink = hub->uplink,
		.ingest = hub->ingest,
		.pipeline = hub->pipeline,
	};

	return src;
}

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

/* Whether a reload changes how the hub talks to the broker. */
static bool mqtt_changed(const struct config *a, const struct config *b)
{
	return !same_text(a->hub.id, b->hub.id) || !same_text(a->mqtt.host, b->mqtt.host) ||
	       a->mqtt.port != b->mqtt.port || !same_text(a->mqtt.tls_ca, b->mqtt.tls_ca) ||
	       !same_text(a->mqtt.tls_cert, b->mqtt.tls_cert) ||
	       !same_text(a->mqtt.tls_key, b->mqtt.tls_key) ||
	       !same_text(a->mqtt.username, b->mqtt.username) ||
	       !same_text(a->mqtt.password, b->mqtt.password) ||
	       !same_text(a->mqtt.topic_prefix, b->mqtt.topic_prefix) ||
	       a->mqtt.keepalive != b->mqtt.keepalive;
}

static int start_uplink(struct hub *hub)
{
	int err;

	hub->uplink = uplink_new(hub->loop, hub->cfg, &store_outbox, hub->store, pipeline_message,
				 hub->pipeline, &err);
	if (!hub->uplink)
		return err;
	pipeline_set_uplink(hub->pipeline, hub->uplink);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: varded [OPTION]...\n"
		"Remote patient monitoring hub: reads medical Bluetooth devices through\n"
		"plugins and publishes their readings over MQTT.\n\n"
		"  -c, --config FILE        configuration file (default %s)\n"
		"      --check-config FILE  validate FILE (and FILE.d/) and exit\n"
		"      --help-config        list every configuration key and exit\n"
		"  -V, --version            print the version and exit\n"
		"  -h, --help               show this help and exit\n",
		DEFAULT_CONFIG);
}

static void on_stop(struct loop *loop, int signo, void *user_data)
{
	(void)user_data;
	log_notice("%s: stopping", strsignal(signo));
	loop_quit(loop, 0);
}

static void on_reload(struct loop *loop, int signo, void *user_data)
{
	struct hub *hub = user_data;
	struct config *cfg;

	(void)loop;
	(void)signo;
	sd_notify_send("RELOADING=1");
	cfg = config_load(hub->config_path);
	if (!cfg) {
		log_err("%s: not reloaded, the running configuration stays in force",
			hub->config_path);
	} else {
		struct config *old = hub->cfg;
		bool restart_uplink = mqtt_changed(old, cfg);
		struct status_sources src;

		hub->cfg = cfg;
		audit_bindings(hub->store, cfg);
		bluez_set_config(hub->bluez, cfg);
		ingest_set_config(hub->ingest, cfg);
		pipeline_set_config(hub->pipeline, cfg);
		if (restart_uplink) {
			pipeline_set_uplink(hub->pipeline, NULL);
			uplink_free(hub->uplink);
			hub->uplink = NULL;
			if (start_uplink(hub) < 0)
				log_err("MQTT settings refused: nothing is sent until fixed");
		} else {
			uplink_set_config(hub->uplink, cfg);
		}
		src = status_sources(hub);
		status_set_sources(hub->status, &src);
		config_free(old);
		log_set_max_level(cfg->hub.log_level);
		log_notice("%s: configuration reloaded", hub->config_path);
	}
	sd_notify_send("READY=1");
}

static void on_watchdog(struct loop *loop, void *user_data)
{
	struct hub *hub = user_data;

	/* Sent from the loop, so a stuck loop stops the heartbeat. */
	sd_notify_send("WATCHDOG=1");
	loop_timer_rearm(loop, hub->watchdog_id, hub->watchdog_ms);
}

static int hub_start(struct hub *hub)
{
	int err, active;

	hub->loop = loop_new();
	if (!hub->loop)
		return -ENOMEM;
	if ((err = loop_add_signal(hub->loop, SIGTERM, on_stop, hub, NULL)) < 0 ||
	    (err = loop_add_signal(hub->loop, SIGINT, on_stop, hub, NULL)) < 0 ||
	    (err = loop_add_signal(hub->loop, SIGHUP, on_reload, hub, NULL)) < 0)
		return err;
	/* A broker or bus that goes away must not kill the hub with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);

	hub->plugins = plugin_set_new(device_host_table());
	if (!hub->plugins)
		return -ENOMEM;
	active = plugin_set_load_dir(hub->plugins, hub->cfg->hub.plugin_dir, hub->cfg);
	if (active <= 0)
		log_warn("no device plugin is active: no device can be read");

	hub->store = store_open(hub->loop, hub->cfg->hub.state_dir,
				(unsigned int)hub->cfg->store.max_outbox, &err);
	if (!hub->store)
		return err;
	audit_bindings(hub->store, hub->cfg);
	audit_plugins(hub->store, hub->plugins);
	hub->pipeline = pipeline_new(hub->loop, hub->cfg, hub->store);
	hub->ingest = ingest_new(hub->cfg, hub->store, pipeline_record, hub->pipeline);
	if (!hub->pipeline || !hub->ingest)
		return -ENOMEM;
	err = start_uplink(hub);
	if (err < 0)
		return err;

	hub->bus = bus_open_system(hub->loop, &err);
	if (!hub->bus)
		return err;
	hub->bluez =
		bluez_new(hub->loop, hub->bus, hub->cfg, hub->plugins, ingest_sink(), hub->ingest);
	if (!hub->bluez)
		return -ENOMEM;
	hub->agent = agent_new(hub->loop, hub->bus, hub->bluez, on_pairing_needed, hub);
	if (!hub->agent)
		return -ENOMEM;
	hub->control = control_new(hub->bus, hub->bluez, hub->agent, &control_ops, hub, &err);
	if (!hub->control)
		return err;
	pipeline_set_watch(hub->pipeline, watch, hub);

	{
		struct status_sources src = status_sources(hub);

		hub->status = status_new(hub->loop, &src, publish_status, hub);
	}
	if (!hub->status)
		return -ENOMEM;
	store_set_event_func(hub->store, on_store_event, hub, NULL);
	status_changed(hub->status);

	hub->watchdog_ms = sd_watchdog_usec() / 2000;
	if (hub->watchdog_ms) {
		hub->watchdog_id =
			loop_add_timer(hub->loop, hub->watchdog_ms, on_watchdog, hub, NULL);
		if (hub->watchdog_id < 0)
			return hub->watchdog_id;
	}
	return 0;
}

static void hub_stop(struct hub *hub)
{
	status_free(hub->status);
	control_free(hub->control);
	agent_free(hub->agent);
	/* Drivers are removed before their plugins are unloaded. */
	bluez_free(hub->bluez);
	bus_free(hub->bus);
	plugin_set_free(hub->plugins);
	uplink_free(hub->uplink);
	ingest_free(hub->ingest);
	pipeline_free(hub->pipeline);
	/* Last: it commits what the others left. */
	store_free(hub->store);
	loop_free(hub->loop);
	config_free(hub->cfg);
}

static int check_config(const char *path)
{
	struct config *cfg = config_load(path);

	if (!cfg)
		return EXIT_FAILURE;
	printf("%s: valid (%zu device(s), %zu plugin section(s))\n", path, cfg->n_devices,
	       cfg->n_plugins);
	config_free(cfg);
	return EXIT_SUCCESS;
}

int main(int argc, char **argv)
{
	enum { OPT_CHECK_CONFIG = 256, OPT_HELP_CONFIG };
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"check-config", required_argument, NULL, OPT_CHECK_CONFIG},
		{"help-config", no_argument, NULL, OPT_HELP_CONFIG},
		{"version", no_argument, NULL, 'V'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct hub hub = {.config_path = DEFAULT_CONFIG};
	char status[128];
	int opt, err;

	log_init(VARDE_LOG_INFO);
	while ((opt = getopt_long(argc, argv, "c:Vh", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			hub.config_path = optarg;
			break;
		case OPT_CHECK_CONFIG:
			return check_config(optarg);
		case OPT_HELP_CONFIG:
			config_print_reference();
			return EXIT_SUCCESS;
		case 'V':
			printf("varded %s (plugin ABI %d.%d)\n", VARDE_VERSION,
			       VARDE_PLUGIN_ABI_MAJOR, VARDE_PLUGIN_ABI_MINOR);
			return EXIT_SUCCESS;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return EXIT_FAILURE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "varded: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return EXIT_FAILURE;
	}

	hub.cfg = config_load(hub.config_path);
	if (!hub.cfg)
		return EXIT_FAILURE;
	log_set_max_level(hub.cfg->hub.log_level);

	err = hub_start(&hub);
	if (err < 0) {
		log_err("cannot start: %s", strerror(-err));
		hub_stop(&hub);
		return EXIT_FAILURE;
	}
	snprintf(status, sizeof(status), "READY=1\nSTATUS=hub %s running", hub.cfg->hub.id);
	sd_notify_send(status);
	log_notice("varded %s started as hub %s", VARDE_VERSION, hub.cfg->hub.id);

	err = loop_run(hub.loop);

	sd_notify_send("STOPPING=1");
	hub_stop(&hub);
	return err < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
