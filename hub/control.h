/* SPDX-License-Identifier: MIT */
/*
 * The hub's control interface on the system bus: name org.varde.Hub, object
 * /org/varde/Hub, interface org.varde.Hub1. It is how vardectl talks to
 * varded; who may call it is the D-Bus policy's business (root and group
 * varde). No network socket is ever opened for it.
 *
 *   Pair(s address, u passkey)   give the passkey a device asks for, and
 *                                start pairing if bluetoothd has not asked
 *   GetStatus() -> s             the status document as JSON
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

/* Returns a malloc'd JSON status document. */
typedef char *(*control_status_func)(void *user_data);

struct control *control_new(struct bus *bus, struct bluez *bz, struct agent *agent,
			    control_status_func status, void *user_data, int *err);
void control_free(struct control *ctl);

#endif /* VARDE_CONTROL_H */
