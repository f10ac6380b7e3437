/* SPDX-License-Identifier: MIT */
/*
 * What the hub itself writes to the audit log (hub/store.h) when it starts
 * and reloads: which devices are bound to which patients, when that
 * changes, and which plugins were refused or quarantined. Rule changes and
 * acknowledgements are audited where they happen (hub/pipeline.c).
 */
#ifndef VARDE_AUDIT_H
#define VARDE_AUDIT_H

struct config;
struct plugin_set;
struct store;

/* Records the device bindings when they differ from the last recorded. */
void audit_bindings(struct store *store, const struct config *cfg);
/* Records every plugin that is not active, with the reason. */
void audit_plugins(struct store *store, const struct plugin_set *plugins);

#endif /* VARDE_AUDIT_H */
