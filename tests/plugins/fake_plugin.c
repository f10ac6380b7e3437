/* SPDX-License-Identifier: MIT */
/*
 * One small plugin, compiled once per loader case with a FAKE_* define:
 * the loader must accept FAKE_GOOD and refuse or quarantine each other one
 * for its own reason. It speaks through host->log so the test can see that
 * init ran and which options it got.
 */
#include <errno.h>
#include <stddef.h>

#include <varde/plugin.h>

static const struct varde_host *host;

static int fake_probe(struct varde_device *dev)
{
	(void)dev;
	return 0;
}

static void fake_remove(struct varde_device *dev)
{
	(void)dev;
}

static const struct varde_driver fake_driver = {
	.size = sizeof(struct varde_driver),
	.name = "fake",
	.service_uuid = "1810",
	.probe = fake_probe,
	.remove = fake_remove,
};

static const struct varde_driver *const fake_drivers[] = {&fake_driver, NULL};

static const struct varde_option_spec fake_options[] = {
	{"greeting", "what init says", "hello"},
	{"colour", "an option without default", NULL},
	{NULL, NULL, NULL},
};

static int fake_init(struct varde_plugin_ctx *ctx, const struct varde_host *h,
		     const struct varde_option *options, size_t n_options)
{
	host = h;
	for (size_t i = 0; i < n_options; i++)
		host->log(ctx, NULL, VARDE_LOG_INFO, "option %s=%s", options[i].key,
			  options[i].value ? options[i].value : "(unset)");
#ifdef FAKE_INIT_FAILS
	host->log(ctx, NULL, VARDE_LOG_ERR, "init refuses");
	return -EIO;
#else
	host->log(ctx, NULL, VARDE_LOG_INFO, "init ran");
	return 0;
#endif
}

static void fake_exit(struct varde_plugin_ctx *ctx)
{
	host->log(ctx, NULL, VARDE_LOG_INFO, "exit ran");
}

#ifdef FAKE_RESERVED_SET
static char fake_reserved[1];
#endif

#ifdef FAKE_WRONG_MAJOR
#define FAKE_MAJOR 2
#else
#define FAKE_MAJOR VARDE_PLUGIN_ABI_MAJOR
#endif

#ifdef FAKE_MISSING_SYMBOL
/* The vendor forgot VARDE_PLUGIN_DEFINE's export: with -fvisibility=hidden
 * the descriptor exists but is not in the dynamic symbol table. */
extern const struct varde_plugin varde_plugin_v1;
const struct varde_plugin varde_plugin_v1 = {
#else
VARDE_PLUGIN_DEFINE = {
#endif
	.abi_major = FAKE_MAJOR,
	.abi_minor = VARDE_PLUGIN_ABI_MINOR,
#ifdef FAKE_SHORT_STRUCT
	.size = offsetof(struct varde_plugin, reserved),
#else
	.size = sizeof(struct varde_plugin),
#endif
	.name = "fake",
	.version = "1.0",
	.vendor = "varde tests",
	.description = "loader test plugin",
	.init = fake_init,
	.exit = fake_exit,
	.drivers = fake_drivers,
	.options = fake_options,
#ifdef FAKE_RESERVED_SET
	.reserved = {fake_reserved},
#endif
};

#ifdef FAKE_V2_SYMBOL
/* What a plugin built for a future ABI 2 would export instead. */
VARDE_EXPORT extern const int varde_plugin_v2;
const int varde_plugin_v2 = 2;
#endif
