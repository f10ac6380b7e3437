/* SPDX-License-Identifier: MIT */
/*
 * A plugin that crashes on the first value it receives, for the test that
 * varde-plugin-check reports a crashing plugin (exit status 4) rather than
 * dying with it. It drives the Blood Pressure Service, so that it runs
 * against bls.cap.
 */
#include <signal.h>
#include <stddef.h>

#include <varde/plugin.h>

static const struct varde_host *host;

static void crash(struct varde_device *dev, const uint8_t *data, size_t len, void *user_data)
{
	(void)dev;
	(void)data;
	(void)len;
	(void)user_data;
	/* What a decoder reading through a NULL pointer would do. */
	raise(SIGSEGV);
}

static int crash_probe(struct varde_device *dev)
{
	int id = host->subscribe(dev, "2A35", crash, NULL, NULL, NULL);

	return id < 0 ? id : 0;
}

static void crash_remove(struct varde_device *dev)
{
	(void)dev;
}

static int crash_init(struct varde_plugin_ctx *ctx, const struct varde_host *h,
		      const struct varde_option *options, size_t n_options)
{
	(void)ctx;
	(void)options;
	(void)n_options;
	host = h;
	return 0;
}

static void crash_exit(struct varde_plugin_ctx *ctx)
{
	(void)ctx;
}

static const struct varde_driver crash_driver = {
	.size = sizeof(struct varde_driver),
	.name = "crash",
	.service_uuid = "1810",
	.probe = crash_probe,
	.remove = crash_remove,
};

static const struct varde_driver *const crash_drivers[] = {&crash_driver, NULL};

VARDE_PLUGIN_DEFINE = {
	.abi_major = VARDE_PLUGIN_ABI_MAJOR,
	.abi_minor = VARDE_PLUGIN_ABI_MINOR,
	.size = sizeof(struct varde_plugin),
	.name = "crash",
	.version = "0",
	.vendor = "varde tests",
	.description = "crashes on its first notification",
	.init = crash_init,
	.exit = crash_exit,
	.drivers = crash_drivers,
};
