/* SPDX-License-Identifier: MIT */
/*
 * varded: the hub daemon. Loads the configuration and the plugins, then runs
 * the event loop until SIGTERM/SIGINT. SIGHUP reloads the configuration: a
 * file that does not validate is refused and the running one kept.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "bluez.h"
#include "config.h"
#include "control.h"
#include "bus.h"
#include "device.h"
#include "log.h"
#include "loop.h"
#include "plugin_loader.h"
#include "sd_notify.h"

#define DEFAULT_CONFIG VARDE_SYSCONF_DIR "/varded.conf"

struct hub {
	const char *config_path;
	struct config *cfg;
	struct loop *loop;
	struct plugin_set *plugins;
	struct bus *bus;
	struct bluez *bluez;
	struct agent *agent;
	struct control *control;
	uint64_t watchdog_ms;
	int watchdog_id;
};

/* Until the pipeline takes readings over: log them. */
static int log_reading(struct varde_device *dev, const struct varde_reading *r, void *user_data)
{
	(void)user_data;
	log_info("reading from %s: metric %u unit %u value %de%d special %u status 0x%x "
		 "components %zu",
		 device_identity(dev)->address, r->metric, r->unit, r->value.mantissa,
		 r->value.exponent, r->value.special, r->status, r->n_components);
	return 0;
}

static const struct device_sink reading_sink = {.submit = log_reading};

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
		bluez_set_config(hub->bluez, cfg);
		config_free(hub->cfg);
		hub->cfg = cfg;
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

	hub->bus = bus_open_system(hub->loop, &err);
	if (!hub->bus)
		return err;
	hub->bluez = bluez_new(hub->loop, hub->bus, hub->cfg, hub->plugins, &reading_sink, hub);
	if (!hub->bluez)
		return -ENOMEM;
	hub->agent = agent_new(hub->loop, hub->bus, hub->bluez, NULL, hub);
	if (!hub->agent)
		return -ENOMEM;
	hub->control = control_new(hub->bus, hub->bluez, hub->agent, NULL, hub, &err);
	if (!hub->control)
		return err;

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
	control_free(hub->control);
	agent_free(hub->agent);
	/* Drivers are removed before their plugins are unloaded. */
	bluez_free(hub->bluez);
	bus_free(hub->bus);
	plugin_set_free(hub->plugins);
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
