/* SPDX-License-Identifier: MIT */
#include "uplink.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "config.h"
#include "log.h"
#include "loop.h"

#define BACKOFF_BASE_MS 1000
#define BACKOFF_CAP_MS 60000
#define TOPIC_MAX 256
#define DRAIN_STEPS 20 /* at most 2 s at stop */
#define DRAIN_STEP_MS 100

struct in_flight {
	int mid;
	int64_t id;
};

struct uplink {
	struct loop *loop;
	const struct config *cfg;
	const struct uplink_outbox *outbox;
	void *outbox_data;
	uplink_message_func on_message;
	void *user_data;
	struct mosquitto *mosq;
	char prefix[TOPIC_MAX]; /* P/H/ */
	int fd;
	int fd_source;
	int misc_timer;
	int retry_timer;
	unsigned int attempt;
	bool connected;
	bool stopping;
	struct in_flight window[UPLINK_WINDOW];
	unsigned int n_in_flight;
	int64_t last_queued; /* outbox id of the last message handed to mosquitto */
	char *retained[UPLINK_RETAINED_COUNT];
	uint64_t sent, acked, connects;
	char last_error[128];
};

static void schedule_reconnect(struct uplink *up);
static void pump(struct uplink *up);

int uplink_topic(const struct config *cfg, const char *suffix, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s/%s", cfg->mqtt.topic_prefix, cfg->hub.id, suffix);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static void set_error(struct uplink *up, const char *what, int rc)
{
	snprintf(up->last_error, sizeof(up->last_error), "%s: %s", what,
		 rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
}

/* ---- socket on the loop ---------------------------------------------------- */

static void update_events(struct uplink *up)
{
	if (up->fd_source > 0)
		loop_modify_fd(up->loop, up->fd_source,
			       EPOLLIN | (mosquitto_want_write(up->mosq) ? EPOLLOUT : 0));
}

static void drop_socket(struct uplink *up)
{
	if (up->fd_source > 0)
		loop_remove(up->loop, up->fd_source);
	up->fd_source = 0;
	up->fd = -1;
	if (up->misc_timer > 0)
		loop_remove(up->loop, up->misc_timer);
	up->misc_timer = 0;
}

static void connection_lost(struct uplink *up, int rc)
{
	bool was = up->connected;

	up->connected = false;
	drop_socket(up);
	/* What was in flight goes again after reconnecting: the outbox still
	 * has it. */
	up->n_in_flight = 0;
	up->last_queued = 0;
	if (up->stopping)
		return;
	if (was || up->attempt == 0)
		log_warn("MQTT: connection to %s lost: %s", up->cfg->mqtt.host,
			 rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
	set_error(up, "connection lost", rc);
	schedule_reconnect(up);
}

static void check(struct uplink *up, int rc)
{
	if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)
		connection_lost(up, rc);
	else
		update_events(up);
}

static void on_fd(struct loop *loop, int fd, uint32_t events, void *user_data)
{
	struct uplink *up = user_data;
	int rc = MOSQ_ERR_SUCCESS;

	(void)loop;
	(void)fd;
	if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
		rc = mosquitto_loop_read(up->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS && up->fd_source > 0 && (events & EPOLLOUT))
		rc = mosquitto_loop_write(up->mosq, 1);
	if (up->fd_source > 0)
		check(up, rc);
}

static void on_misc(struct loop *loop, void *user_data)
{
	struct uplink *up = user_data;
	int rc = mosquitto_loop_misc(up->mosq);

	/* Keepalive pings and their timeouts: the one periodic wake-up. */
	if (rc == MOSQ_ERR_SUCCESS)
		loop_timer_rearm(loop, up->misc_timer, (uint64_t)up->cfg->mqtt.keepalive * 500);
	else
		up->misc_timer = 0;
	check(up, rc);
}

static void attach_socket(struct uplink *up)
{
	up->fd = mosquitto_socket(up->mosq);
	if (up->fd < 0)
		return;
	up->fd_source = loop_add_fd(up->loop, up->fd, EPOLLIN | EPOLLOUT, on_fd, up, NULL);
	if (up->fd_source < 0)
		up->fd_source = 0;
	up->misc_timer = loop_add_timer(up->loop, (uint64_t)up->cfg->mqtt.keepalive * 500, on_misc,
					up, NULL);
	if (up->misc_timer < 0)
		up->misc_timer = 0;
}

/* ---- connecting ------------------------------------------------------------- */

static void try_connect(struct uplink *up)
{
	const struct config *cfg = up->cfg;
	bool unix_socket = cfg->mqtt.host[0] == '/';
	int rc;

	rc = mosquitto_connect_async(up->mosq, cfg->mqtt.host, unix_socket ? 0 : cfg->mqtt.port,
				     cfg->mqtt.keepalive);
	if (rc != MOSQ_ERR_SUCCESS) {
		set_error(up, "connect", rc);
		if (up->attempt == 0)
			log_warn("MQTT: cannot connect to %s: %s", cfg->mqtt.host, up->last_error);
		schedule_reconnect(up);
		return;
	}
	attach_socket(up);
}

static void on_retry(struct loop *loop, void *user_data)
{
	struct uplink *up = user_data;

	(void)loop;
	up->retry_timer = 0;
	try_connect(up);
}

static void schedule_reconnect(struct uplink *up)
{
	uint64_t cap = BACKOFF_BASE_MS << (up->attempt < 6 ? up->attempt : 6);
	uint32_t r = 0;

	if (up->retry_timer > 0 || up->stopping)
		return;
	if (cap > BACKOFF_CAP_MS)
		cap = BACKOFF_CAP_MS;
	/* Full jitter: many hubs restarting with one broker spread out. */
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (uint32_t)loop_now_ms();
	up->attempt++;
	up->retry_timer = loop_add_timer(up->loop, r % (cap + 1), on_retry, up, NULL);
	if (up->retry_timer < 0)
		up->retry_timer = 0;
}

static void subscribe_inputs(struct uplink *up)
{
	static const char *const inputs[] = {"rules/set", "alert/ack"};

	for (size_t i = 0; i < 2; i++) {
		char topic[TOPIC_MAX];

		if (uplink_topic(up->cfg, inputs[i], topic, sizeof(topic)) == 0)
			mosquitto_subscribe(up->mosq, NULL, topic, 1);
	}
}

static const char *const retained_suffix[UPLINK_RETAINED_COUNT] = {"status", "rules/state"};

static void publish_retained(struct uplink *up, enum uplink_retained which)
{
	char topic[TOPIC_MAX];
	const char *json = up->retained[which];

	if (!up->connected || !json ||
	    uplink_topic(up->cfg, retained_suffix[which], topic, sizeof(topic)) < 0)
		return;
	mosquitto_publish(up->mosq, NULL, topic, (int)strlen(json), json, 1, true);
	update_events(up);
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
		       const mosquitto_property *props)
{
	struct uplink *up = obj;

	(void)mosq;
	(void)flags;
	(void)props;
	if (rc == 1 || rc == MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION) {
		/* An MQTT 3.1.1 broker: speak its language from now on. */
		log_notice("MQTT: %s does not speak MQTT v5, using v3.1.1", up->cfg->mqtt.host);
		mosquitto_int_option(up->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
		return;
	}
	if (rc != 0) {
		/* Refused: bad credentials, not authorised. Loud, and retried. */
		snprintf(up->last_error, sizeof(up->last_error), "broker refused: %s",
			 mosquitto_reason_string(rc));
		log_err("MQTT: %s refused the connection: %s", up->cfg->mqtt.host,
			mosquitto_reason_string(rc));
		return;
	}
	up->connected = true;
	up->attempt = 0;
	up->connects++;
	up->last_error[0] = '\0';
	log_notice("MQTT: connected to %s", up->cfg->mqtt.host);
	subscribe_inputs(up);
	for (int i = 0; i < UPLINK_RETAINED_COUNT; i++)
		publish_retained(up, (enum uplink_retained)i);
	up->n_in_flight = 0;
	up->last_queued = 0;
	pump(up);
}

static void on_disconnect(struct mosquitto *mosq, void *obj, int rc,
			  const mosquitto_property *props)
{
	(void)mosq;
	(void)props;
	/* The loop functions report the same loss; handled there. */
	((struct uplink *)obj)->connected = false;
	(void)rc;
}

/* ---- publishing ------------------------------------------------------------- */

static void on_publish(struct mosquitto *mosq, void *obj, int mid, int reason,
		       const mosquitto_property *props)
{
	struct uplink *up = obj;

	(void)mosq;
	(void)props;
	for (unsigned int i = 0; i < up->n_in_flight; i++) {
		struct in_flight f = up->window[i];

		if (f.mid != mid)
			continue;
		up->window[i] = up->window[--up->n_in_flight];
		if (reason >= 0x80) {
			/* Kept in the outbox: sent again after the next
			 * reconnection. */
			log_err("MQTT: broker refused message %lld: %s", (long long)f.id,
				mosquitto_reason_string(reason));
			return;
		}
		up->acked++;
		up->outbox->acked(up->outbox_data, f.id);
		break;
	}
	pump(up);
}

static void pump(struct uplink *up)
{
	while (up->connected && up->n_in_flight < UPLINK_WINDOW) {
		struct outbox_msg msg;
		int mid, rc = up->outbox->next(up->outbox_data, up->last_queued, &msg);

		if (rc <= 0)
			break;
		rc = mosquitto_publish(up->mosq, &mid, msg.topic, (int)msg.len, msg.payload, 1,
				       false);
		if (rc != MOSQ_ERR_SUCCESS) {
			set_error(up, "publish", rc);
			break;
		}
		up->window[up->n_in_flight].mid = mid;
		up->window[up->n_in_flight].id = msg.id;
		up->n_in_flight++;
		up->last_queued = msg.id;
		up->sent++;
	}
	update_events(up);
}

void uplink_set_config(struct uplink *up, const struct config *cfg)
{
	up->cfg = cfg;
}

void uplink_kick(struct uplink *up)
{
	pump(up);
}

static void on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *m,
		       const mosquitto_property *props)
{
	struct uplink *up = obj;
	size_t n = strlen(up->prefix);

	(void)mosq;
	(void)props;
	if (strncmp(m->topic, up->prefix, n) != 0 || !up->on_message)
		return;
	up->on_message(m->topic + n, m->payload, m->payloadlen > 0 ? (size_t)m->payloadlen : 0,
		       up->user_data);
}

/* ---- setup ------------------------------------------------------------------ */

static int configure(struct uplink *up)
{
	const struct config *cfg = up->cfg;
	char topic[TOPIC_MAX], will[160];
	int rc;

	mosquitto_int_option(up->mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	if (cfg->mqtt.tls_ca) {
		rc = mosquitto_tls_set(up->mosq, cfg->mqtt.tls_ca, NULL, cfg->mqtt.tls_cert,
				       cfg->mqtt.tls_key, NULL);
		if (rc != MOSQ_ERR_SUCCESS) {
			log_err("MQTT: TLS setup (%s, %s): %s", cfg->mqtt.tls_ca,
				cfg->mqtt.tls_cert ? cfg->mqtt.tls_cert : "no client certificate",
				mosquitto_strerror(rc));
			return -EINVAL;
		}
		mosquitto_tls_opts_set(up->mosq, 1, "tlsv1.2", NULL);
	}
	if (cfg->mqtt.username && mosquitto_username_pw_set(up->mosq, cfg->mqtt.username,
							    cfg->mqtt.password) != MOSQ_ERR_SUCCESS)
		return -EINVAL;
	if (uplink_topic(cfg, "status", topic, sizeof(topic)) < 0)
		return -ENAMETOOLONG;
	snprintf(will, sizeof(will), "{\"hub\":\"%s\",\"state\":\"offline\"}", cfg->hub.id);
	if (mosquitto_will_set(up->mosq, topic, (int)strlen(will), will, 1, true) !=
	    MOSQ_ERR_SUCCESS)
		return -EINVAL;
	mosquitto_connect_v5_callback_set(up->mosq, on_connect);
	mosquitto_disconnect_v5_callback_set(up->mosq, on_disconnect);
	mosquitto_publish_v5_callback_set(up->mosq, on_publish);
	mosquitto_message_v5_callback_set(up->mosq, on_message);
	return 0;
}

struct uplink *uplink_new(struct loop *loop, const struct config *cfg,
			  const struct uplink_outbox *outbox, void *outbox_data,
			  uplink_message_func on_message_cb, void *user_data, int *err)
{
	struct uplink *up = calloc(1, sizeof(*up));
	char client_id[96];

	if (!up) {
		*err = -ENOMEM;
		return NULL;
	}
	mosquitto_lib_init();
	up->loop = loop;
	up->cfg = cfg;
	up->outbox = outbox;
	up->outbox_data = outbox_data;
	up->on_message = on_message_cb;
	up->user_data = user_data;
	up->fd = -1;
	snprintf(up->prefix, sizeof(up->prefix), "%s/%s/", cfg->mqtt.topic_prefix, cfg->hub.id);
	snprintf(client_id, sizeof(client_id), "varde-%s", cfg->hub.id);
	up->mosq = mosquitto_new(client_id, true, up);
	if (!up->mosq) {
		uplink_free(up);
		*err = -ENOMEM;
		return NULL;
	}
	*err = configure(up);
	if (*err < 0) {
		uplink_free(up);
		return NULL;
	}
	try_connect(up);
	return up;
}

void uplink_free(struct uplink *up)
{
	if (!up)
		return;
	up->stopping = true;
	/* A clean stop waits a moment for the PUBACKs of what is in flight,
	 * so that a restart does not send it again (it would be harmless:
	 * delivery is at least once, but a nurse should not see it twice). */
	for (int i = 0; up->mosq && up->connected && up->n_in_flight && i < DRAIN_STEPS; i++)
		if (mosquitto_loop(up->mosq, DRAIN_STEP_MS, 1) != MOSQ_ERR_SUCCESS)
			break;
	if (up->mosq && up->connected) {
		char topic[TOPIC_MAX], offline[160];

		/* A clean stop says so itself: the Will is for crashes. */
		snprintf(offline, sizeof(offline), "{\"hub\":\"%s\",\"state\":\"offline\"}",
			 up->cfg->hub.id);
		if (uplink_topic(up->cfg, "status", topic, sizeof(topic)) == 0)
			mosquitto_publish(up->mosq, NULL, topic, (int)strlen(offline), offline, 1,
					  true);
		mosquitto_disconnect(up->mosq);
		/* Flush what the disconnect queued; the socket is non-blocking. */
		for (int i = 0; i < 10 && mosquitto_want_write(up->mosq); i++)
			if (mosquitto_loop_write(up->mosq, 1) != MOSQ_ERR_SUCCESS)
				break;
	}
	drop_socket(up);
	if (up->retry_timer > 0)
		loop_remove(up->loop, up->retry_timer);
	mosquitto_destroy(up->mosq);
	mosquitto_lib_cleanup();
	for (int i = 0; i < UPLINK_RETAINED_COUNT; i++)
		free(up->retained[i]);
	free(up);
}

void uplink_set_retained(struct uplink *up, enum uplink_retained which, const char *json)
{
	char *copy = strdup(json);

	if (!copy)
		return;
	free(up->retained[which]);
	up->retained[which] = copy;
	publish_retained(up, which);
}

void uplink_get_stats(const struct uplink *up, struct uplink_stats *out)
{
	out->connected = up->connected;
	out->in_flight = up->n_in_flight;
	out->sent = up->sent;
	out->acked = up->acked;
	out->connects = up->connects;
	out->last_error = up->last_error;
}
