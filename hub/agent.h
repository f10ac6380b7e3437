/* SPDX-License-Identifier: MIT */
/*
 * The pairing agent (org.bluez.Agent1), registered with bluetoothd as the
 * default agent with capability KeyboardOnly: the hub has no keyboard, the
 * installer is its keyboard. A passkey request for an allow-listed device
 * is answered with the passkey the installer gave (vardectl pair ADDR
 * PASSKEY, through hub/control.c); a request that arrives first is held for
 * PASSKEY_WAIT_MS while the hub reports "pairing needed". Just-works and
 * numeric-comparison requests are accepted for allow-listed devices only;
 * everything else is rejected. Registration is renewed whenever bluetoothd
 * (re)appears on the bus.
 */
#ifndef VARDE_AGENT_H
#define VARDE_AGENT_H

#include <stdint.h>

struct agent;
struct bluez;
struct bus;
struct loop;

#define PASSKEY_WAIT_MS 120000

/* Called when a device asks for a passkey nobody has given yet. */
typedef void (*agent_pairing_needed_func)(const char *address, void *user_data);

struct agent *agent_new(struct loop *loop, struct bus *bus, const struct bluez *bz,
			agent_pairing_needed_func cb, void *user_data);
void agent_free(struct agent *agent);

/* The installer's passkey for `address`: answers a held request now, or
 * the next one within PASSKEY_WAIT_MS. Returns 1 when a held request was
 * answered, 0 when the passkey is kept, or -errno. */
int agent_provide_passkey(struct agent *agent, const char *address, uint32_t passkey);

#endif /* VARDE_AGENT_H */
