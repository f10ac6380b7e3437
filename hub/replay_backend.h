/* SPDX-License-Identifier: MIT */
/*
 * A device backend (struct device_backend) that serves a capture file
 * instead of a radio: the characteristics the device offers, the values it
 * returns to reads, the notifications and indications it sends at given
 * times, the writes it expects from the plugin with what it sends in
 * response, and the plugin's persisted state before and after. It is how
 * varde-plugin-check runs a plugin through the real host API (device.c)
 * without Bluetooth. The format is documented for vendors in
 * tests/captures/README.md.
 *
 * Device events are queued and performed one at a time by replay_step(),
 * which the caller runs only when its loop has nothing else to do: the
 * plugin has reacted fully to one event (completions delivered, requests
 * made) before the next one comes, so a replay gives the same result on
 * every run. Within that order the device behaves as a BLE server does: a
 * write's response comes before the values it triggers, and values the
 * device sends on being subscribed ("on-subscribe") come before the
 * subscription is confirmed, as a device may send its reading the moment
 * the client configuration descriptor is written.
 */
#ifndef VARDE_REPLAY_BACKEND_H
#define VARDE_REPLAY_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <varde/plugin.h>

struct device_backend;
struct loop;
struct replay;

/* Parses a capture. Errors are logged as "FILE:LINE: message"; returns NULL
 * when there was any. */
struct replay *replay_load(const char *path);
/* NULL-safe. */
void replay_free(struct replay *r);

const struct varde_device_identity *replay_identity(const struct replay *r);
/* The normalised UUID of the index-th primary service, in capture order;
 * NULL past the last. */
const char *replay_service(const struct replay *r, size_t index);
/* The index-th `state` line (plugin state before the run) or `expect-state`
 * line (plugin state expected after it); false past the last. */
bool replay_state(const struct replay *r, size_t index, const char **key, const char **value);
bool replay_expected_state(const struct replay *r, size_t index, const char **key,
			   const char **value);
/* The time of the last `at` line, ms from the start. */
uint64_t replay_length_ms(const struct replay *r);

/* The backend; its `conn` is the struct replay. */
const struct device_backend *replay_backend(void);

/* Starts the timeline on `loop`: time 0 of the `at` lines is now. `dev` is
 * the device bound over this replay. Returns 0 or a negative errno. */
int replay_start(struct replay *r, struct loop *loop, struct varde_device *dev);
/* Performs the next queued device event. False when nothing is queued. */
bool replay_step(struct replay *r);
/* True when every `at` line has been performed (or queued). */
bool replay_timeline_done(const struct replay *r);
/* True when the device disconnected, or the timeline is done, nothing is
 * queued and every expected write has come. */
bool replay_done(const struct replay *r);
bool replay_disconnected(const struct replay *r);
/* Stops the timeline and drops queued events: the device is gone (also
 * after a failed probe, before the next driver is tried). Call it before the
 * loop is freed. */
void replay_stop(struct replay *r);

/* Logs each expected write that never came, and returns their number plus
 * the number of unexpected writes seen during the run. */
unsigned int replay_mismatches(const struct replay *r);

#endif /* VARDE_REPLAY_BACKEND_H */
