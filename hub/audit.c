/* SPDX-License-Identifier: MIT */
#include "audit.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "plugin_loader.h"
#include "store.h"

/* Where the digest of the last recorded bindings is kept. */
#define HUB_STATE "hub"
#define BINDINGS_KEY "bindings"

/* Appends "<sep><label><value>" as far as it fits. */
static void append(char *buf, size_t size, const char *sep, const char *label, const char *value)
{
	size_t off = strlen(buf);

	if (off < size)
		snprintf(buf + off, size - off, "%s%s%s", sep, label, value);
}

/* FNV-1a: a change detector, not a security measure. */
static uint64_t digest(const char *s)
{
	uint64_t h = 14695981039346656037ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

void audit_bindings(struct store *store, const struct config *cfg)
{
	char text[STORE_TEXT_MAX] = "", hash[24], last[24];

	for (size_t i = 0; i < cfg->n_devices; i++) {
		const struct config_device *d = &cfg->devices[i];

		append(text, sizeof(text), i ? "; " : "", "", d->address);
		if (d->patient)
			append(text, sizeof(text), " ", "patient ", d->patient);
		for (size_t u = 0; u < d->n_users; u++) {
			char user[24];

			snprintf(user, sizeof(user), "user.%" PRIu32 " ", d->users[u].user_id);
			append(text, sizeof(text), " ", user, d->users[u].patient);
		}
	}
	snprintf(hash, sizeof(hash), "%016" PRIx64, digest(text));
	if (store_state_get(store, HUB_STATE, BINDINGS_KEY, last, sizeof(last)) > 0 &&
	    strcmp(last, hash) == 0)
		return;
	store_audit(store, "installer", "devices bound", cfg->n_devices ? text : "none");
	store_state_set(store, HUB_STATE, BINDINGS_KEY, hash);
}

void audit_plugins(struct store *store, const struct plugin_set *plugins)
{
	struct plugin_info info;

	for (size_t i = 0; plugin_set_info(plugins, i, &info); i++) {
		char detail[STORE_TEXT_MAX];

		if (info.state == PLUGIN_ACTIVE)
			continue;
		snprintf(detail, sizeof(detail), "%s (%s): %s", info.name, info.path, info.reason);
		store_audit(store, "hub",
			    info.state == PLUGIN_QUARANTINED ? "plugin quarantined"
							     : "plugin refused",
			    detail);
	}
}
