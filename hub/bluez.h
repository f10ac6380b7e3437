/* SPDX-License-Identifier: MIT */
/*
 * The Bluetooth transport: bluetoothd's objects on the system bus, tracked
 * with GetManagedObjects, InterfacesAdded/Removed and PropertiesChanged, and
 * resynchronised when org.bluez changes owner (bluetoothd restarted).
 *
 * Only devices named in the config (the allow-list) are connected to or
 * read; others are counted and otherwise ignored. bluetoothd does not
 * connect health devices by itself, so the hub calls Connect when an
 * allow-listed device is known or advertising, and again with exponential
 * backoff (up to [bluetooth] reconnect_max) until it connects; a device that
 * starts advertising is tried at once. A device connected by someone else is
 * handled the same way. Once ServicesResolved, every primary service is
 * offered to the plugin drivers (hub/plugin_loader.h); on disconnect the
 * drivers are removed and the device waits for its next connection.
 *
 * Readings sent right after notifications are enabled are not lost: notify
 * sessions are kept across reconnections (bluetoothd re-enables them itself
 * at reconnect, before services are resolved), and values that arrive
 * before a driver is bound are held (bounded) and replayed to the driver
 * right after its probe.
 *
 * At connection, a device clock exposed as writable Current Time (0x2A2B)
 * or Date Time (0x2A08) is read and, if it differs from the hub's local
 * time by more than [bluetooth] clock_tolerance, set; ATT 0x80 ('value
 * ignored', common for Current Time) counts as success. The offset found is
 * kept for ingest and status.
 */
#ifndef VARDE_BLUEZ_H
#define VARDE_BLUEZ_H

#include <stdbool.h>
#include <stdint.h>

struct bluez;
struct config;
struct bus;
struct device_sink;
struct loop;
struct plugin_set;

struct bluez *bluez_new(struct loop *loop, struct bus *bus, const struct config *cfg,
			struct plugin_set *plugins, const struct device_sink *sink,
			void *sink_data);
/* Removes every bound driver. */
void bluez_free(struct bluez *bz);

/* The allow-list and settings after a config reload. Devices no longer
 * listed are disconnected from their drivers. */
void bluez_set_config(struct bluez *bz, const struct config *cfg);

struct bluez_stats {
	bool bluetoothd_up;
	unsigned int known; /* allow-listed devices bluetoothd knows */
	unsigned int connected; /* allow-listed devices connected now */
	unsigned int bound; /* drivers bound now */
	unsigned int ignored; /* distinct devices seen that are not listed */
	unsigned int notifications;
};
void bluez_get_stats(const struct bluez *bz, struct bluez_stats *out);

struct bluez_device_info {
	const char *address;
	const char *name;
	bool connected;
	bool paired;
	uint64_t last_seen_ms; /* loop_now_ms() of the last contact, 0: never */
	bool clock_known;
	int64_t clock_offset_s; /* device clock minus hub clock, before setting */
};
typedef void (*bluez_device_func)(const struct bluez_device_info *info, void *user_data);
void bluez_foreach_device(const struct bluez *bz, bluez_device_func cb, void *user_data);

/* Starts pairing `address` (an allow-listed device) with Device1.Pair; the
 * agent (hub/agent.h) answers bluetoothd's questions. Returns 0, -ENOENT
 * for a device that is not allow-listed and known, or -ENOMEM. */
int bluez_pair(struct bluez *bz, const char *address);

/* True when `address` is allow-listed and known to bluetoothd. */
bool bluez_device_known(const struct bluez *bz, const char *address);

/* The address of the allow-listed device at object `path`, or NULL: the
 * agent pairs nothing else. */
const char *bluez_device_address(const struct bluez *bz, const char *path);

#endif /* VARDE_BLUEZ_H */
