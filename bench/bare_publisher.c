/* SPDX-License-Identifier: MIT */
/*
 * bare_publisher: the limit varded is measured against. Publishes the
 * messages of a file ("TOPIC<tab>PAYLOAD" lines, as pipeline_bench --dump
 * writes them) with libmosquitto at QoS 1, with at most UPLINK_WINDOW
 * unacknowledged, as the hub's uplink does, driving libmosquitto from a
 * poll() loop the way the hub drives it from its epoll loop (MQTT v5,
 * loop_read/loop_write, EPOLLOUT only while it wants to write), and waits
 * for every PUBACK. Nothing else: no store, no JSON, no rules.
 *
 *   bare_publisher --host HOST --port PORT --payloads FILE
 *
 * Prints "key value" lines: messages, seconds, messages per second and CPU
 * per message (getrusage of this process, from the first publish to the
 * last PUBACK; reading the file and connecting are not counted).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <mosquitto.h>
#include <mqtt_protocol.h>

#include "uplink.h"

#define KEEPALIVE_S 60
#define POLL_MS 1000

struct message {
	char *topic;
	char *payload;
	int len;
};

struct publisher {
	struct mosquitto *mosq;
	struct message *msgs;
	size_t n_msgs;
	size_t next; /* the first message not yet handed to libmosquitto */
	size_t acked;
	unsigned int in_flight;
	bool connected;
	bool failed;
};

static int read_messages(struct publisher *p, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0, alloc = 0;
	ssize_t n;

	if (!f)
		return -errno;
	while ((n = getline(&line, &cap, f)) > 0) {
		char *tab = memchr(line, '\t', (size_t)n);

		if (!tab)
			continue;
		if (p->n_msgs == alloc) {
			struct message *m;

			alloc = alloc ? alloc * 2 : 1024;
			m = realloc(p->msgs, alloc * sizeof(*m));
			if (!m)
				break;
			p->msgs = m;
		}
		if (line[n - 1] == '\n')
			line[--n] = '\0';
		*tab = '\0';
		p->msgs[p->n_msgs].topic = strdup(line);
		p->msgs[p->n_msgs].payload = strdup(tab + 1);
		p->msgs[p->n_msgs].len = (int)(n - (tab + 1 - line));
		if (!p->msgs[p->n_msgs].topic || !p->msgs[p->n_msgs].payload)
			break;
		p->n_msgs++;
	}
	free(line);
	fclose(f);
	return p->n_msgs ? 0 : -ENODATA;
}

static void pump(struct publisher *p)
{
	while (p->in_flight < UPLINK_WINDOW && p->next < p->n_msgs) {
		const struct message *m = &p->msgs[p->next];

		if (mosquitto_publish(p->mosq, NULL, m->topic, m->len, m->payload, 1, false) !=
		    MOSQ_ERR_SUCCESS) {
			p->failed = true;
			return;
		}
		p->next++;
		p->in_flight++;
	}
}

static void on_connect(struct mosquitto *mosq, void *obj, int rc, int flags,
		       const mosquitto_property *props)
{
	struct publisher *p = obj;

	(void)mosq;
	(void)flags;
	(void)props;
	if (rc != 0) {
		fprintf(stderr, "bare_publisher: refused: %s\n", mosquitto_reason_string(rc));
		p->failed = true;
		return;
	}
	p->connected = true;
}

static void on_publish(struct mosquitto *mosq, void *obj, int mid, int reason,
		       const mosquitto_property *props)
{
	struct publisher *p = obj;

	(void)mosq;
	(void)mid;
	(void)props;
	if (reason >= 0x80)
		p->failed = true;
	p->in_flight--;
	p->acked++;
	pump(p);
}

/* One round of the loop: wait for the socket, read and write. */
static int step(struct publisher *p)
{
	struct pollfd pfd = {
		.fd = mosquitto_socket(p->mosq),
		.events = POLLIN | (mosquitto_want_write(p->mosq) ? POLLOUT : 0),
	};
	int rc = MOSQ_ERR_SUCCESS, n = poll(&pfd, 1, POLL_MS);

	if (n < 0)
		return errno == EINTR ? MOSQ_ERR_SUCCESS : MOSQ_ERR_ERRNO;
	if (n == 0)
		return mosquitto_loop_misc(p->mosq);
	if (pfd.revents & (POLLIN | POLLHUP | POLLERR))
		rc = mosquitto_loop_read(p->mosq, 1);
	if (rc == MOSQ_ERR_SUCCESS && (pfd.revents & POLLOUT))
		rc = mosquitto_loop_write(p->mosq, 1);
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "Usage: bare_publisher [--host HOST] [--port PORT] --payloads FILE\n");
}

static double seconds(const struct timeval *tv)
{
	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"host", required_argument, NULL, 'H'},
		{"port", required_argument, NULL, 'p'},
		{"payloads", required_argument, NULL, 'f'},
		{NULL, 0, NULL, 0},
	};
	struct publisher p = {0};
	const char *host = "127.0.0.1", *path = NULL;
	int opt, port = 1883, rc = MOSQ_ERR_SUCCESS, err;
	struct rusage r0, r1;
	double t0, t1, cpu;

	while ((opt = getopt_long(argc, argv, "", options, NULL)) != -1) {
		switch (opt) {
		case 'H':
			host = optarg;
			break;
		case 'p':
			port = atoi(optarg);
			break;
		case 'f':
			path = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (!path) {
		usage();
		return 2;
	}
	err = read_messages(&p, path);
	if (err < 0) {
		fprintf(stderr, "bare_publisher: %s: %s\n", path, strerror(-err));
		return EXIT_FAILURE;
	}

	mosquitto_lib_init();
	p.mosq = mosquitto_new("varde-bench-bare", true, &p);
	if (!p.mosq)
		return EXIT_FAILURE;
	mosquitto_int_option(p.mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V5);
	mosquitto_connect_v5_callback_set(p.mosq, on_connect);
	mosquitto_publish_v5_callback_set(p.mosq, on_publish);
	if (mosquitto_connect(p.mosq, host, port, KEEPALIVE_S) != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "bare_publisher: cannot connect to %s:%d\n", host, port);
		return EXIT_FAILURE;
	}
	while (!p.connected && !p.failed && rc == MOSQ_ERR_SUCCESS)
		rc = step(&p);

	getrusage(RUSAGE_SELF, &r0);
	t0 = now_s();
	pump(&p);
	while (p.acked < p.n_msgs && !p.failed && rc == MOSQ_ERR_SUCCESS)
		rc = step(&p);
	t1 = now_s();
	getrusage(RUSAGE_SELF, &r1);
	if (p.failed || rc != MOSQ_ERR_SUCCESS) {
		fprintf(stderr, "bare_publisher: failed after %zu of %zu messages: %s\n", p.acked,
			p.n_msgs, mosquitto_strerror(rc));
		return EXIT_FAILURE;
	}

	cpu = seconds(&r1.ru_utime) - seconds(&r0.ru_utime) + seconds(&r1.ru_stime) -
	      seconds(&r0.ru_stime);
	printf("messages %zu\n", p.n_msgs);
	printf("seconds %.3f\n", t1 - t0);
	printf("messages_per_s %.0f\n", (double)p.n_msgs / (t1 - t0));
	printf("cpu_us_per_message %.2f\n", cpu * 1e6 / (double)p.n_msgs);
	printf("cpu_user_us_per_message %.2f\n",
	       (seconds(&r1.ru_utime) - seconds(&r0.ru_utime)) * 1e6 / (double)p.n_msgs);
	printf("cpu_sys_us_per_message %.2f\n",
	       (seconds(&r1.ru_stime) - seconds(&r0.ru_stime)) * 1e6 / (double)p.n_msgs);

	mosquitto_disconnect(p.mosq);
	mosquitto_destroy(p.mosq);
	mosquitto_lib_cleanup();
	for (size_t i = 0; i < p.n_msgs; i++) {
		free(p.msgs[i].topic);
		free(p.msgs[i].payload);
	}
	free(p.msgs);
	return EXIT_SUCCESS;
}
