/* SPDX-License-Identifier: MIT */
#include "plugin_loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "uuid.h"

/* The hub-side state of one plugin; plugins see it as an opaque handle. */
struct varde_plugin_ctx {
	char *path;
	char *name;
	/* The checked file, open while the plugin is loaded: dlopen() goes
	 * through /proc/self/fd/N, and glibc takes a name it already has
	 * loaded for the same object, so N must stay unique. */
	int fd;
	void *handle;
	const struct varde_plugin *desc;
	enum plugin_state state;
	char reason[160];
	/* Normalised service UUID of each driver, in driver order. */
	char (*driver_uuids)[UUID_STR_LEN];
	size_t n_drivers;
};

struct plugin_set {
	const struct varde_host *host;
	struct varde_plugin_ctx **plugins;
	size_t n_plugins;
};

struct plugin_set *plugin_set_new(const struct varde_host *host)
{
	struct plugin_set *set = calloc(1, sizeof(*set));

	if (!set)
		return NULL;
	set->host = host;
	return set;
}

static void unload(struct varde_plugin_ctx *ctx)
{
	if (ctx->handle)
		dlclose(ctx->handle);
	ctx->handle = NULL;
	ctx->desc = NULL;
	if (ctx->fd >= 0)
		close(ctx->fd);
	ctx->fd = -1;
}

static void ctx_free(struct varde_plugin_ctx *ctx)
{
	unload(ctx);
	free(ctx->driver_uuids);
	free(ctx->path);
	free(ctx->name);
	free(ctx);
}

void plugin_set_free(struct plugin_set *set)
{
	if (!set)
		return;
	/* Last loaded, first unloaded. */
	for (size_t i = set->n_plugins; i-- > 0;) {
		struct varde_plugin_ctx *ctx = set->plugins[i];

		if (ctx->state == PLUGIN_ACTIVE && ctx->desc->exit)
			ctx->desc->exit(ctx);
		ctx_free(ctx);
	}
	free(set->plugins);
	free(set);
}

const char *plugin_ctx_name(const struct varde_plugin_ctx *ctx)
{
	return ctx->name;
}

static int refuse(struct varde_plugin_ctx *ctx, int err, const char *fmt, ...) VARDE_PRINTF(3, 4);

/* Records and logs why a plugin is not used; returns `err`. */
static int refuse(struct varde_plugin_ctx *ctx, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ctx->reason, sizeof(ctx->reason), fmt, ap);
	va_end(ap);
	ctx->state = err == -ECANCELED ? PLUGIN_QUARANTINED : PLUGIN_REFUSED;
	log_err("plugin %s: %s: %s", ctx->path, err == -ECANCELED ? "quarantined" : "refused",
		ctx->reason);
	if (ctx->state == PLUGIN_REFUSED)
		unload(ctx);
	return err;
}

static int check_file(struct varde_plugin_ctx *ctx, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return refuse(ctx, -errno, "cannot stat: %s", strerror(errno));
	if (!S_ISREG(st.st_mode))
		return refuse(ctx, -EPERM, "not a regular file");
	if (st.st_uid != 0 && st.st_uid != geteuid())
		return refuse(ctx, -EPERM, "owned by uid %u, not by root or the service user",
			      (unsigned int)st.st_uid);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return refuse(ctx, -EPERM, "writable by group or others (mode %04o)",
			      (unsigned int)(st.st_mode & 07777));
	return 0;
}

static bool reserved_clear(void *const *reserved, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (reserved[i])
			return false;
	return true;
}

static bool valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > 32)
		return false;
	for (; *name; name++)
		if (!((*name >= 'a' && *name <= 'z') || (*name >= '0' && *name <= '9') ||
		      *name == '_' || *name == '-'))
			return false;
	return true;
}

static int check_descriptor(struct plugin_set *set, struct varde_plugin_ctx *ctx)
{
	const struct varde_plugin *d = ctx->desc;
	size_t n = 0;

	if (d->abi_major != VARDE_PLUGIN_ABI_MAJOR)
		return refuse(ctx, -ENOEXEC, "built for ABI %u, this hub speaks ABI %d",
			      d->abi_major, VARDE_PLUGIN_ABI_MAJOR);
	if (d->size < sizeof(struct varde_plugin))
		return refuse(ctx, -ENOEXEC,
			      "descriptor of %u bytes is shorter than ABI %d.0's %zu", d->size,
			      VARDE_PLUGIN_ABI_MAJOR, sizeof(struct varde_plugin));
	if (!reserved_clear(d->reserved, 4))
		return refuse(ctx, -EINVAL, "reserved descriptor fields are set");
	if (!valid_name(d->name))
		return refuse(ctx, -EINVAL, "plugin name missing or not [a-z0-9_-]{1,32}");
	for (size_t i = 0; i < set->n_plugins; i++)
		if (set->plugins[i]->state == PLUGIN_ACTIVE &&
		    strcmp(set->plugins[i]->name, d->name) == 0)
			return refuse(ctx, -EEXIST, "plugin name '%s' is already loaded from %s",
				      d->name, set->plugins[i]->path);
	if (!d->init || !d->drivers)
		return refuse(ctx, -EINVAL, "init or drivers missing");
	while (d->drivers[n])
		n++;
	ctx->driver_uuids = calloc(n ? n : 1, sizeof(*ctx->driver_uuids));
	if (!ctx->driver_uuids)
		return refuse(ctx, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct varde_driver *drv = d->drivers[i];

		if (drv->size < sizeof(struct varde_driver))
			return refuse(ctx, -ENOEXEC, "driver %zu: struct of %u bytes is too short",
				      i, drv->size);
		if (!reserved_clear(drv->reserved, 4))
			return refuse(ctx, -EINVAL, "driver %zu: reserved fields are set", i);
		if (!drv->name || !drv->probe || !drv->remove)
			return refuse(ctx, -EINVAL, "driver %zu: name, probe or remove missing", i);
		if (uuid_normalize(drv->service_uuid, ctx->driver_uuids[i]) < 0)
			return refuse(ctx, -EINVAL, "driver %s: service UUID '%s' is not a UUID",
				      drv->name, drv->service_uuid ? drv->service_uuid : "(null)");
	}
	ctx->n_drivers = n;
	return 0;
}

static const struct varde_option_spec *find_option_spec(const struct varde_plugin *d,
							const char *key)
{
	for (const struct varde_option_spec *o = d->options; o && o->key; o++)
		if (strcmp(o->key, key) == 0)
			return o;
	return NULL;
}

/* Every option of the plugin's schema, set in the config or defaulted. */
static int build_options(const struct config *cfg, struct varde_plugin_ctx *ctx,
			 struct varde_option **out, size_t *n_out)
{
	const struct varde_plugin *d = ctx->desc;
	const struct config_plugin *section = cfg ? config_find_plugin(cfg, d->name) : NULL;
	struct varde_option *opts;
	size_t n = 0;

	for (size_t i = 0; section && i < section->n_options; i++) {
		const struct config_option *o = &section->options[i];

		if (!find_option_spec(d, o->key)) {
			char allowed[256] = "";
			size_t off = 0;

			for (const struct varde_option_spec *s = d->options; s && s->key; s++) {
				int w = snprintf(allowed + off, sizeof(allowed) - off, "%s%s",
						 off ? ", " : "", s->key);
				if (w < 0 || (size_t)w >= sizeof(allowed) - off)
					break;
				off += (size_t)w;
			}
			return refuse(ctx, -EINVAL, "%s:%d: unknown option '%s'; allowed: %s",
				      o->where.file, o->where.line, o->key, off ? allowed : "none");
		}
	}
	for (const struct varde_option_spec *s = d->options; s && s->key; s++)
		n++;
	opts = calloc(n ? n : 1, sizeof(*opts));
	if (!opts)
		return refuse(ctx, -ENOMEM, "out of memory");
	n = 0;
	for (const struct varde_option_spec *s = d->options; s && s->key; s++) {
		opts[n].key = s->key;
		opts[n].value = s->default_value;
		for (size_t i = 0; section && i < section->n_options; i++)
			if (strcmp(section->options[i].key, s->key) == 0)
				opts[n].value = section->options[i].value;
		n++;
	}
	*out = opts;
	*n_out = n;
	return 0;
}

static int add_ctx(struct plugin_set *set, struct varde_plugin_ctx *ctx)
{
	struct varde_plugin_ctx **grown;

	grown = realloc(set->plugins, (set->n_plugins + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	set->plugins = grown;
	set->plugins[set->n_plugins++] = ctx;
	return 0;
}

/* Finds the descriptor; a plugin built for another major exports another
 * symbol, which gets a clearer message than "missing". */
static int find_descriptor(struct varde_plugin_ctx *ctx)
{
	char other[32];

	ctx->desc = dlsym(ctx->handle, VARDE_PLUGIN_SYMBOL);
	if (ctx->desc)
		return 0;
	for (int major = 0; major < 10; major++) {
		if (major == VARDE_PLUGIN_ABI_MAJOR)
			continue;
		snprintf(other, sizeof(other), "varde_plugin_v%d", major);
		if (dlsym(ctx->handle, other))
			return refuse(ctx, -ENOEXEC,
				      "exports %s: built for ABI %d, this hub speaks "
				      "ABI %d",
				      other, major, VARDE_PLUGIN_ABI_MAJOR);
	}
	return refuse(ctx, -ENOEXEC, "no %s symbol: not a varde plugin", VARDE_PLUGIN_SYMBOL);
}

static int load_checked(struct plugin_set *set, struct varde_plugin_ctx *ctx,
			const struct config *cfg)
{
	struct varde_option *opts = NULL;
	char fd_path[64];
	size_t n_opts = 0;
	int fd, err;

	fd = open(ctx->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return refuse(ctx, -errno, "cannot open: %s", strerror(errno));
	ctx->fd = fd;
	err = check_file(ctx, fd);
	if (err < 0)
		return err;
	snprintf(fd_path, sizeof(fd_path), "/proc/self/fd/%d", fd);
	ctx->handle = dlopen(fd_path, RTLD_NOW | RTLD_LOCAL);
	if (!ctx->handle)
		return refuse(ctx, -ENOEXEC, "dlopen: %s", dlerror());
	err = find_descriptor(ctx);
	if (err < 0)
		return err;
	err = check_descriptor(set, ctx);
	if (err < 0)
		return err;
	free(ctx->name);
	ctx->name = strdup(ctx->desc->name);
	if (!ctx->name)
		return refuse(ctx, -ENOMEM, "out of memory");
	err = build_options(cfg, ctx, &opts, &n_opts);
	if (err < 0)
		return err;
	err = ctx->desc->init(ctx, set->host, opts, n_opts);
	free(opts);
	if (err < 0)
		return refuse(ctx, -ECANCELED, "init failed: %s", strerror(-err));
	ctx->state = PLUGIN_ACTIVE;
	log_info("plugin %s %s (%s) loaded from %s, %zu driver(s)", ctx->name,
		 ctx->desc->version ? ctx->desc->version : "?",
		 ctx->desc->vendor ? ctx->desc->vendor : "?", ctx->path, ctx->n_drivers);
	return 0;
}

int plugin_set_load_file(struct plugin_set *set, const char *path, const struct config *cfg)
{
	struct varde_plugin_ctx *ctx = calloc(1, sizeof(*ctx));
	const char *base = strrchr(path, '/');
	int err;

	if (!ctx)
		return -ENOMEM;
	ctx->fd = -1;
	ctx->path = strdup(path);
	ctx->name = strdup(base ? base + 1 : path);
	if (!ctx->path || !ctx->name || add_ctx(set, ctx) < 0) {
		ctx_free(ctx);
		return -ENOMEM;
	}
	err = load_checked(set, ctx, cfg);
	/* Quarantined: nothing of it runs again; unload its code. */
	if (err == -ECANCELED)
		unload(ctx);
	return err;
}

static int so_filter(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return de->d_name[0] != '.' && n > 3 && strcmp(de->d_name + n - 3, ".so") == 0;
}

int plugin_set_load_dir(struct plugin_set *set, const char *dir, const struct config *cfg)
{
	struct dirent **names = NULL;
	int n, active = 0;

	n = scandir(dir, &names, so_filter, alphasort);
	if (n < 0) {
		int err = -errno;

		log_err("plugin folder %s: %s", dir, strerror(errno));
		return err;
	}
	for (int i = 0; i < n; i++) {
		char *path;

		if (asprintf(&path, "%s/%s", dir, names[i]->d_name) >= 0) {
			if (plugin_set_load_file(set, path, cfg) == 0)
				active++;
			free(path);
		}
		free(names[i]);
	}
	free(names);
	for (size_t i = 0; cfg && i < cfg->n_plugins; i++) {
		const struct config_plugin *pc = &cfg->plugins[i];
		bool found = false;

		for (size_t j = 0; j < set->n_plugins; j++)
			if (set->plugins[j]->state != PLUGIN_REFUSED &&
			    strcmp(set->plugins[j]->name, pc->name) == 0)
				found = true;
		if (!found)
			log_warn("%s:%d: [plugin %s]: no such plugin is loaded", pc->where.file,
				 pc->where.line, pc->name);
	}
	return active;
}

size_t plugin_set_count(const struct plugin_set *set)
{
	return set->n_plugins;
}

bool plugin_set_info(const struct plugin_set *set, size_t index, struct plugin_info *out)
{
	const struct varde_plugin_ctx *ctx;

	if (index >= set->n_plugins)
		return false;
	ctx = set->plugins[index];
	out->path = ctx->path;
	out->name = ctx->name;
	out->state = ctx->state;
	out->reason = ctx->reason;
	return true;
}

void plugin_set_match(const struct plugin_set *set, const char *uuid, const char *device_name,
		      plugin_driver_func cb, void *user_data)
{
	for (size_t i = 0; i < set->n_plugins; i++) {
		struct varde_plugin_ctx *ctx = set->plugins[i];

		if (ctx->state != PLUGIN_ACTIVE)
			continue;
		for (size_t d = 0; d < ctx->n_drivers; d++) {
			const struct varde_driver *drv = ctx->desc->drivers[d];

			if (strcmp(ctx->driver_uuids[d], uuid) != 0)
				continue;
			if (drv->name_pattern &&
			    fnmatch(drv->name_pattern, device_name ? device_name : "", 0) != 0)
				continue;
			if (cb(ctx, drv, user_data))
				return;
		}
	}
}
