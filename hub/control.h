/* SPDX-License-Identifier: MIT */
/*
 * The hub's control interface on the system bus: name org.varde.Hub, object
 * /org/varde/Hub, interface org.varde.Hub1. It is how vardectl talks to
 * varded; who may call it is the D-Bus policy's business (root and group
 * varde). No network socket is ever opened for it.
 *
 *   Pair(s address, u passkey)   give the passkey a device asks for, and
 *                                start pairing if bluetoothd has not asked
 *   GetStatus() -> s             the status document (JSON)
 *   GetDevices() -> s            bound devices with patient, last reading,
 *                                battery, clock offset (JSON array)
 *   GetHistory(s patient, u n) -> s   the last n readings ("" = everyone)
 *   GetRules() -> s              the active rule set's state (JSON)
 *   GetAudit(u n) -> s           the last n audit log entries (JSON)
 *   signal Reading(s json)       every record as it is accepted
 *   signal Alert(s json)         every alert transition
 */
#ifndef VARDE_CONTROL_H
#define VARDE_CONTROL_H

struct agent;
struct bluez;
struct control;
struct bus;

#define CONTROL_NAME "org.varde.Hub"
#define CONTROL_PATH "/org/varde/Hub"
#define CONTROL_IFACE "org.varde.Hub1"

/* What the control interface reports; each returns malloc'd JSON or NULL. */
struct control_ops {
	char *(*status)(void *data);
	char *(*devices)(void *data);
	char *(*history)(void *data, const char *patient, unsigned int n);
	char *(*rules)(void *data);
	char *(*audit)(void *data, unsigned int n);
};

struct control *control_new(struct bus *bus, struct bluez *bz, struct agent *agent,
			    const struct control_ops *ops, void *data, int *err);
void control_free(struct control *ctl);

/* Emits signal `name` ("Reading", "Alert") with `json`. */
void control_emit(struct control *ctl, const char *name, const char *json);

#endif /* VARDE_CONTROL_H */
