/* SPDX-License-Identifier: MIT */
/*
 * A libdbus connection driven by the hub's loop: libdbus watches become fd
 * sources (several watches on one fd share one epoll entry), its timeouts
 * become loop timers, and dispatching happens from a loop defer, never
 * re-entrantly from inside a call. Method calls are asynchronous only.
 *
 * The system bus is the one libdbus chooses, so DBUS_SYSTEM_BUS_ADDRESS is
 * honoured (that is how tests use a private bus). Losing the bus is fatal
 * to the hub: it logs and stops the loop with a failure so that systemd
 * restarts it into a clean state.
 */
#ifndef VARDE_BUS_H
#define VARDE_BUS_H

#include <stdbool.h>
#include <stdint.h>

#include <dbus/dbus.h>

struct loop;
struct bus;

/* Called with the reply or an error message (dbus_message_get_type()). */
typedef void (*bus_reply_func)(DBusMessage *reply, void *user_data);
typedef void (*bus_free_func)(void *user_data);

/* Connects to the system bus (blocking: done once at start). */
struct bus *bus_open_system(struct loop *loop, int *err);
void bus_free(struct bus *bus);
DBusConnection *bus_conn(struct bus *bus);

/* Sends `msg` and calls `cb` once with the reply (or a NoReply error after
 * `timeout_ms`), from the loop; then `destroy`. Returns a handle that stays
 * valid until `destroy` runs and may be passed to dbus_pending_call_cancel()
 * (which runs `destroy` without `cb`), or NULL with `destroy` already run. */
DBusPendingCall *bus_call(struct bus *bus, DBusMessage *msg, int timeout_ms, bus_reply_func cb,
			  void *user_data, bus_free_func destroy);

/* Sends without waiting for a reply (replies to incoming calls, signals). */
bool bus_send(struct bus *bus, DBusMessage *msg);

/* Adds a match rule without blocking for the daemon's answer. */
void bus_add_match(struct bus *bus, const char *rule);

/* Errno for an error reply: org.bluez.Error.NotConnected -> -ENOTCONN,
 * NoReply/Timeout -> -ETIMEDOUT, NotPermitted/NotAuthorized -> -EACCES,
 * InProgress -> -EBUSY, DoesNotExist/UnknownObject -> -ENOENT, others
 * -EIO. */
int bus_error_errno(DBusMessage *reply);

/* ---- reading message arguments ---------------------------------------- */

/* Iterates a dictionary a{sv}: calls `cb` for each key with an iterator on
 * the variant's contents. */
typedef void (*bus_dict_func)(const char *key, DBusMessageIter *value, void *user_data);
bool bus_iter_dict(DBusMessageIter *dict, bus_dict_func cb, void *user_data);

/* Typed readers of a variant's contents; false on a type mismatch. */
bool bus_iter_bool(DBusMessageIter *value, bool *out);
bool bus_iter_string(DBusMessageIter *value, const char **out);
bool bus_iter_int16(DBusMessageIter *value, int16_t *out);
/* An `ay`: pointer into the message, valid while the message lives. */
bool bus_iter_bytes(DBusMessageIter *value, const uint8_t **data, int *len);

/* Appends an `ay`. */
bool bus_append_bytes(DBusMessageIter *iter, const uint8_t *data, size_t len);

/* Appends a{sv} with one string entry, as BlueZ option dictionaries need. */
bool bus_append_dict_string(DBusMessageIter *iter, const char *key, const char *value);
bool bus_append_empty_dict(DBusMessageIter *iter);

#endif /* VARDE_BUS_H */
