/* SPDX-License-Identifier: MIT */
/*
 * Loads device plugins (*.so) from the plugin folder, as DESIGN.md section 4
 * rules: the file must be a regular file owned by root or the service user
 * and writable by nobody else; it is opened once, checked, and dlopen()ed
 * through that same descriptor, so the file checked is the file loaded. The
 * descriptor must carry this hub's ABI major, be at least as large as a v1.0
 * descriptor, leave reserved fields NULL, and accept every option the config
 * gives it. A refused plugin is logged with its file and the reason, and
 * listed for the status report. A plugin whose init() fails is quarantined:
 * it stays listed, none of its drivers is used, and the hub keeps running.
 */
#ifndef VARDE_PLUGIN_LOADER_H
#define VARDE_PLUGIN_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include <varde/plugin.h>

struct config;
struct plugin_set;

enum plugin_state {
	PLUGIN_ACTIVE,
	PLUGIN_REFUSED, /* never initialised: failed a load check */
	PLUGIN_QUARANTINED, /* init() failed */
};

struct plugin_info {
	const char *path;
	const char *name; /* the file name when the descriptor was unreadable */
	enum plugin_state state;
	const char *reason; /* why it is refused or quarantined */
};

/* `host` must outlive the set. */
struct plugin_set *plugin_set_new(const struct varde_host *host);
/* Calls exit() of every active plugin, then unloads everything. */
void plugin_set_free(struct plugin_set *set);

/* Loads every *.so of `dir` in name order; `cfg` (may be NULL) supplies
 * the [plugin NAME] options and is not kept. Returns the number of active
 * plugins, or a negative errno when the folder cannot be read. */
int plugin_set_load_dir(struct plugin_set *set, const char *dir, const struct config *cfg);
/* Loads one file. Returns 0 when active, -EPERM/-ENOEXEC/-EINVAL... when
 * refused, -ECANCELED when quarantined. */
int plugin_set_load_file(struct plugin_set *set, const char *path, const struct config *cfg);

size_t plugin_set_count(const struct plugin_set *set);
bool plugin_set_info(const struct plugin_set *set, size_t index, struct plugin_info *out);

/* Calls `cb` for each driver of an active plugin that handles the service
 * `uuid` (normalised form) and whose name pattern matches `device_name`,
 * in load order, until `cb` returns true. */
typedef bool (*plugin_driver_func)(struct varde_plugin_ctx *ctx, const struct varde_driver *drv,
				   void *user_data);
void plugin_set_match(const struct plugin_set *set, const char *uuid, const char *device_name,
		      plugin_driver_func cb, void *user_data);

/* The name a plugin's log lines are prefixed with. */
const char *plugin_ctx_name(const struct varde_plugin_ctx *ctx);

#endif /* VARDE_PLUGIN_LOADER_H */
