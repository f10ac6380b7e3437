/* SPDX-License-Identifier: MIT */
/*
 * A transport test plugin: binds to the blood pressure, glucose and pulse
 * oximeter services, subscribes to their measurement characteristics and
 * logs every value it gets as "echo UUID HEX". It decodes nothing, so the
 * transport tests see exactly the bytes the device sent.
 */
#include <stddef.h>

#include <varde/ieee11073.h>
#include <varde/plugin.h>

static const struct varde_host *host;
static struct varde_plugin_ctx *plugin;

static const char *const measurement_chars[] = {"2A35", "2A18", "2A34", "2A5E", "2A5F", NULL};

static void on_value(struct varde_device *dev, const uint8_t *data, size_t len, void *user_data)
{
	char hex[128];

	varde_hex(data, len, hex, sizeof(hex));
	host->log(plugin, dev, VARDE_LOG_NOTICE, "echo %s %s", (const char *)user_data, hex);
}

static void on_subscribed(struct varde_device *dev, int err, const uint8_t *data, size_t len,
			  void *user_data)
{
	(void)data;
	(void)len;
	host->log(plugin, dev, VARDE_LOG_INFO, "subscribed %s: %d", (const char *)user_data, err);
}

static int echo_probe(struct varde_device *dev)
{
	for (const char *const *uuid = measurement_chars; *uuid; uuid++) {
		int props = host->char_props(dev, *uuid);

		if (props < 0 || !(props & (VARDE_CHAR_NOTIFY | VARDE_CHAR_INDICATE)))
			continue;
		host->subscribe(dev, *uuid, on_value, on_subscribed, (void *)(uintptr_t)*uuid,
				NULL);
	}
	host->log(plugin, dev, VARDE_LOG_NOTICE, "echo bound");
	return 0;
}

static void echo_remove(struct varde_device *dev)
{
	host->log(plugin, dev, VARDE_LOG_NOTICE, "echo removed");
}

#define ECHO_DRIVER(var, uuid) \
	static const struct varde_driver var = { \
		.size = sizeof(struct varde_driver), \
		.name = "echo-" uuid, \
		.service_uuid = uuid, \
		.probe = echo_probe, \
		.remove = echo_remove, \
	}

ECHO_DRIVER(echo_bls, "1810");
ECHO_DRIVER(echo_gls, "1808");
ECHO_DRIVER(echo_plxs, "1822");

static const struct varde_driver *const echo_drivers[] = {&echo_bls, &echo_gls, &echo_plxs, NULL};

static int echo_init(struct varde_plugin_ctx *ctx, const struct varde_host *h,
		     const struct varde_option *options, size_t n_options)
{
	(void)options;
	(void)n_options;
	plugin = ctx;
	host = h;
	return 0;
}

VARDE_PLUGIN_DEFINE = {
	.abi_major = VARDE_PLUGIN_ABI_MAJOR,
	.abi_minor = VARDE_PLUGIN_ABI_MINOR,
	.size = sizeof(struct varde_plugin),
	.name = "echo",
	.version = "1",
	.vendor = "varde tests",
	.description = "logs the raw values of measurement characteristics",
	.init = echo_init,
	.drivers = echo_drivers,
};
