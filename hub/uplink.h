/* SPDX-License-Identifier: MIT */
/*
 * The MQTT uplink: libmosquitto driven by the hub's loop (its socket as an
 * fd source, EPOLLOUT only while it wants to write, mosquitto_loop_misc()
 * from a timer at half the keepalive, the only periodic wake-up).
 *
 * Messages come from a durable outbox and leave it only when the broker
 * acknowledges them (PUBACK, QoS 1). After every (re)connection the outbox
 * is replayed from its start, so a message whose PUBACK was lost is sent
 * again: delivery is at least once, and consumers de-duplicate by the
 * Observation identifier. At most UPLINK_WINDOW messages are in flight;
 * the rest wait in the outbox (back-pressure, bounded memory).
 *
 * MQTT v5 is asked for; a broker that refuses it gets v3.1.1. TLS is on
 * when [mqtt] tls_ca is set (with the client certificate when given); the
 * config refuses plaintext to a broker that is not on this machine unless
 * allow_plaintext is set. Reconnection uses full-jitter backoff. The status
 * topic is retained and is also the Last Will ('offline').
 *
 * Host names are resolved by libmosquitto with getaddrinfo(), which blocks:
 * use an address or a local name for a broker whose DNS may hang.
 */
#ifndef VARDE_UPLINK_H
#define VARDE_UPLINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct loop;
struct uplink;

#define UPLINK_WINDOW 64

/* One durable message, as the outbox hands it out. */
struct outbox_msg {
	int64_t id;
	const char *topic;
	const void *payload;
	size_t len;
};

struct uplink_outbox {
	/* The first committed message with id > after_id: returns 1 and fills
	 * `out` (valid until the next call), 0 when there is none, or a
	 * negative errno. */
	int (*next)(void *data, int64_t after_id, struct outbox_msg *out);
	/* The broker acknowledged message `id`. */
	void (*acked)(void *data, int64_t id);
};

/* A message on one of the hub's input topics (rules/set, alert/ack). */
typedef void (*uplink_message_func)(const char *topic_suffix, const void *payload, size_t len,
				    void *user_data);

struct uplink *uplink_new(struct loop *loop, const struct config *cfg,
			  const struct uplink_outbox *outbox, void *outbox_data,
			  uplink_message_func on_message, void *user_data, int *err);
/* Publishes the 'offline' status, disconnects and frees. */
void uplink_free(struct uplink *up);

/* A reloaded config whose MQTT settings are the same (see main.c). */
void uplink_set_config(struct uplink *up, const struct config *cfg);

/* New committed messages are in the outbox. */
void uplink_kick(struct uplink *up);

/* The full topic for `suffix` ("observation", "status"...), P/H/suffix. */
int uplink_topic(const struct config *cfg, const char *suffix, char *buf, size_t len);

/* Retained documents (status, rules/state): only the latest of each
 * matters, so they are kept here rather than in the outbox, published now
 * if connected and again after every reconnection. */
enum uplink_retained { UPLINK_STATUS, UPLINK_RULES_STATE, UPLINK_RETAINED_COUNT };
void uplink_set_retained(struct uplink *up, enum uplink_retained which, const char *json);

struct uplink_stats {
	bool connected;
	unsigned int in_flight;
	uint64_t sent;
	uint64_t acked;
	uint64_t connects;
	const char *last_error;
};
void uplink_get_stats(const struct uplink *up, struct uplink_stats *out);

#endif /* VARDE_UPLINK_H */
