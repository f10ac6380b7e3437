/* SPDX-License-Identifier: MIT */
/*
 * pipeline_bench: varded's whole pipeline on this machine, fed right after
 * the transport.
 *
 * It builds from a varded configuration file what hub/main.c builds — loop,
 * plugins (the real loader), store, pipeline with the rule set, ingest,
 * uplink, status — but no D-Bus. In place of hub/bluez.c a device backend of
 * its own offers one PLX Spot-check Measurement characteristic; the real
 * plxs plugin is bound to it with device_bind() and is handed indications
 * where bluez.c hands them over, device_value_changed(). Each indication
 * carries its own device time, so de-duplication keeps every reading, and
 * gives two readings (SpO2 and pulse rate), so two observations.
 *
 * The feeder is a loop defer that hands at most FEED_BUDGET indications to
 * the plugin per loop batch, as bus.c dispatches at most that many D-Bus
 * messages per batch while its socket has data. It stops while more than
 * BACKLOG_MAX readings wait for their PUBACK and goes on when the broker
 * has acknowledged enough: the burst then runs at the rate of the slowest
 * stage, with every bounded queue full (what the hub holds in memory is
 * bounded by the store and the uplink window, not by the feeder).
 *
 *   pipeline_bench --config FILE --plugin SO --count N [--paced M]
 *	A burst of N readings (end: the last PUBACK), then M indications at
 *	10 a second for the indication-to-PUBACK latency. Prints "key value"
 *	lines.
 *   pipeline_bench --config FILE --plugin SO --count N --dump FILE
 *	No uplink: writes every message the pipeline would publish, as
 *	"TOPIC<tab>PAYLOAD" lines, for bare_publisher.
 *
 * state_dir must not hold readings of an earlier run: they would be
 * duplicates.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "config.h"
#include "device.h"
#include "ingest.h"
#include "log.h"
#include "loop.h"
#include "pipeline.h"
#include "plugin_loader.h"
#include "status.h"
#include "store.h"
#include "uplink.h"
#include "uuid.h"

#define DEVICE_ADDRESS "C0:26:DA:00:00:01"
#define DEVICE_NAME "bench oximeter"
#define SERVICE_UUID "1822" /* Pulse Oximeter */
#define SPOT_UUID "2A5E" /* PLX Spot-check Measurement */
#define READINGS_PER_FRAME 2 /* SpO2 and pulse rate */

#define FEED_BUDGET 64 /* as DISPATCH_BUDGET in hub/bus.c */
#define BACKLOG_MAX 1024 /* readings fed and not yet acknowledged */
#define PACE_MS 100 /* 10 indications a second */
#define CONNECT_POLL_MS 10
#define RSS_SAMPLES 10 /* over the burst */
#define LATENCY_MAX 4096
#define TIMEOUT_S 600

enum phase { PHASE_CONNECT, PHASE_BURST, PHASE_PACED };

struct pending {
	uint64_t t0_ns;
	uint64_t acked_target;
};

struct bench {
	struct config *cfg;
	struct loop *loop;
	struct plugin_set *plugins;
	struct store *store;
	struct pipeline *pipeline;
	struct ingest *ingest;
	struct uplink *uplink;
	struct status *status;
	struct varde_device *dev;
	struct device_op *spot; /* the plugin's subscription */
	char spot_uuid[UUID_STR_LEN];
	FILE *dump;
	int64_t dumped_id;

	enum phase phase;
	uint64_t frames_total; /* of the burst */
	uint64_t frames; /* fed so far, burst and paced */
	time_t time_base; /* device time of the first frame */
	uint64_t readings_total;
	uint64_t acked;
	uint64_t alerts; /* non-observation messages handed to the uplink */
	uint64_t backlog_max;
	int feed_defer;
	int poll_timer;
	bool failed;

	uint64_t rss_kib[RSS_SAMPLES];
	unsigned int n_rss;

	unsigned int paced_total;
	unsigned int paced_sent;
	int pace_timer;
	struct pending pending[LATENCY_MAX];
	unsigned int pending_head, pending_tail;
	double latency_ms[LATENCY_MAX];
	unsigned int n_latency;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double cpu_seconds(const struct rusage *ru, bool sys)
{
	const struct timeval *tv = sys ? &ru->ru_stime : &ru->ru_utime;

	return (double)tv->tv_sec + (double)tv->tv_usec / 1e6;
}

/* A "VmRSS:"/"VmHWM:" line of /proc/self/status, in KiB; 0 if absent. */
static uint64_t proc_status_kib(const char *key)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	uint64_t kib = 0;
	size_t n = strlen(key);

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			kib = strtoull(line + n + 1, NULL, 10);
	fclose(f);
	return kib;
}

/* ---- the device: one spot-check characteristic, fed by the bench ---------- */

static int backend_char_props(void *conn, const char *service, const char *uuid)
{
	struct bench *b = conn;

	(void)service;
	return strcmp(uuid, b->spot_uuid) == 0 ? VARDE_CHAR_INDICATE : -ENOENT;
}

static int backend_subscribe(void *conn, const char *service, const char *uuid,
			     struct device_op *op)
{
	struct bench *b = conn;

	(void)service;
	if (strcmp(uuid, b->spot_uuid) != 0)
		return -ENOENT;
	b->spot = op;
	device_op_done(op, 0, NULL, 0);
	return 0;
}

static int backend_read(void *conn, const char *service, const char *uuid, struct device_op *op)
{
	(void)conn;
	(void)service;
	(void)uuid;
	(void)op;
	return -ENOTSUP;
}

static int backend_write(void *conn, const char *service, const char *uuid, const uint8_t *data,
			 size_t len, bool with_response, struct device_op *op)
{
	(void)conn;
	(void)service;
	(void)uuid;
	(void)data;
	(void)len;
	(void)with_response;
	(void)op;
	return -ENOTSUP;
}

static void backend_cancel(void *conn, struct device_op *op)
{
	struct bench *b = conn;

	if (b->spot == op)
		b->spot = NULL;
}

static const struct device_backend bench_backend = {
	.char_props = backend_char_props,
	.subscribe = backend_subscribe,
	.read = backend_read,
	.write = backend_write,
	.cancel = backend_cancel,
};

static void put_sfloat(uint8_t *p, unsigned int mantissa)
{
	p[0] = (uint8_t)(mantissa & 0xff);
	p[1] = (uint8_t)((mantissa >> 8) & 0x0f); /* exponent 0 */
}

/* Frame k: time stamp k seconds after the base, status 'fully qualified',
 * SpO2 89..92 % and pulse 60..90 /min, inside every band of the COPD rule
 * set, so that the rules judge every reading and raise nothing. */
static void inject(struct bench *b)
{
	uint64_t k = b->frames++;
	time_t t = b->time_base + (time_t)k;
	uint8_t frame[14];
	struct tm tm;

	localtime_r(&t, &tm);
	frame[0] = 0x03; /* time stamp, measurement status */
	put_sfloat(&frame[1], 89 + (unsigned int)(k % 4));
	put_sfloat(&frame[3], 60 + (unsigned int)(k % 31));
	frame[5] = (uint8_t)((tm.tm_year + 1900) & 0xff);
	frame[6] = (uint8_t)((tm.tm_year + 1900) >> 8);
	frame[7] = (uint8_t)(tm.tm_mon + 1);
	frame[8] = (uint8_t)tm.tm_mday;
	frame[9] = (uint8_t)tm.tm_hour;
	frame[10] = (uint8_t)tm.tm_min;
	frame[11] = (uint8_t)tm.tm_sec;
	frame[12] = 0x00; /* measurement status: fully qualified */
	frame[13] = 0x01;
	device_value_changed(b->dev, b->spot_uuid, frame, sizeof(frame));
}

/* ---- the feeder ------------------------------------------------------------ */

static uint64_t backlog(const struct bench *b)
{
	return b->frames * READINGS_PER_FRAME - b->acked;
}

static void feed(struct loop *loop, void *user_data);

static void schedule_feed(struct bench *b)
{
	int id;

	/* Goes on only when a whole budget fits, as a D-Bus socket that was
	 * not read for a while has a whole batch waiting. */
	if (b->feed_defer || b->frames >= b->frames_total ||
	    backlog(b) + FEED_BUDGET * READINGS_PER_FRAME > BACKLOG_MAX)
		return;
	id = loop_add_defer(b->loop, feed, b, NULL);
	b->feed_defer = id > 0 ? id : 0;
}

static void feed(struct loop *loop, void *user_data)
{
	struct bench *b = user_data;

	(void)loop;
	b->feed_defer = 0;
	for (int i = 0; i < FEED_BUDGET && b->frames < b->frames_total; i++)
		inject(b);
	if (backlog(b) > b->backlog_max)
		b->backlog_max = backlog(b);
	schedule_feed(b);
}

static void pace(struct loop *loop, void *user_data)
{
	struct bench *b = user_data;
	struct pending *p = &b->pending[b->pending_tail++ % LATENCY_MAX];

	/* The readings of this frame are acknowledged when every reading fed
	 * before them is. */
	p->acked_target = (b->frames + 1) * READINGS_PER_FRAME;
	p->t0_ns = now_ns();
	inject(b);
	if (++b->paced_sent < b->paced_total)
		loop_timer_rearm(loop, b->pace_timer, PACE_MS);
	else
		b->pace_timer = 0;
}

/* A message left the outbox (PUBACK, or written to the dump). */
static void message_done(struct bench *b)
{
	b->acked++;
	if (b->phase == PHASE_BURST) {
		if (b->n_rss < RSS_SAMPLES &&
		    b->acked * RSS_SAMPLES >= (b->n_rss + 1) * b->readings_total)
			b->rss_kib[b->n_rss++] = proc_status_kib("VmRSS");
		if (b->acked >= b->readings_total)
			loop_quit(b->loop, 0);
		else
			schedule_feed(b);
		return;
	}
	while (b->pending_head != b->pending_tail &&
	       b->acked >= b->pending[b->pending_head % LATENCY_MAX].acked_target) {
		struct pending *p = &b->pending[b->pending_head++ % LATENCY_MAX];

		if (b->n_latency < LATENCY_MAX)
			b->latency_ms[b->n_latency++] = (double)(now_ns() - p->t0_ns) / 1e6;
	}
	if (b->paced_sent == b->paced_total && b->pending_head == b->pending_tail)
		loop_quit(b->loop, 0);
}

/* ---- the outbox, as hub/main.c hands it to the uplink ----------------------- */

static int outbox_next(void *data, int64_t after_id, struct outbox_msg *out)
{
	struct bench *b = data;
	struct store_outbox_row row;
	int r = store_outbox_next(b->store, after_id, &row);

	if (r > 0) {
		out->id = row.id;
		out->topic = row.topic;
		out->payload = row.payload;
		out->len = row.len;
		if (row.kind != STORE_KIND_OBSERVATION)
			b->alerts++;
	}
	return r;
}

static void outbox_acked(void *data, int64_t id)
{
	struct bench *b = data;

	store_outbox_remove(b->store, id);
	message_done(b);
}

static const struct uplink_outbox bench_outbox = {outbox_next, outbox_acked};

/* The dump's stand-in for the uplink: takes every durable message. */
static void dump_durable(struct bench *b)
{
	struct store_outbox_row row;

	while (store_outbox_next(b->store, b->dumped_id, &row) > 0) {
		fprintf(b->dump, "%s\t%.*s\n", row.topic, (int)row.len, (const char *)row.payload);
		b->dumped_id = row.id;
		store_outbox_remove(b->store, row.id);
		message_done(b);
	}
}

static void on_store_event(struct store *store, enum store_event event, void *user_data)
{
	struct bench *b = user_data;

	(void)store;
	if (event == STORE_EVENT_DURABLE && b->uplink)
		uplink_kick(b->uplink);
	if (event == STORE_EVENT_DURABLE && b->dump)
		dump_durable(b);
	if (b->status)
		status_changed(b->status);
}

static void publish_status(const char *json, void *user_data)
{
	struct bench *b = user_data;

	if (b->uplink)
		uplink_set_retained(b->uplink, UPLINK_STATUS, json);
}

/* ---- setup, as hub_start() in hub/main.c without D-Bus ---------------------- */

static bool try_driver(struct varde_plugin_ctx *ctx, const struct varde_driver *drv,
		       void *user_data)
{
	struct bench *b = user_data;
	struct device_binding binding = {
		.loop = b->loop,
		.backend = &bench_backend,
		.conn = b,
		.sink = ingest_sink(),
		.sink_data = b->ingest,
		.plugin = ctx,
		.driver = drv,
	};
	char service[UUID_STR_LEN];
	int err;

	uuid_normalize(SERVICE_UUID, service);
	binding.service = service;
	snprintf(binding.identity.address, sizeof(binding.identity.address), "%s", DEVICE_ADDRESS);
	snprintf(binding.identity.name, sizeof(binding.identity.name), "%s", DEVICE_NAME);
	b->dev = device_bind(&binding, &err);
	if (!b->dev)
		log_err("driver %s of plugin %s refused the device: %s", drv->name,
			plugin_ctx_name(ctx), strerror(-err));
	return b->dev != NULL;
}

static int bench_start(struct bench *b, const char *plugin_path)
{
	char service[UUID_STR_LEN];
	int err;

	b->loop = loop_new();
	if (!b->loop)
		return -ENOMEM;
	signal(SIGPIPE, SIG_IGN);
	b->plugins = plugin_set_new(device_host_table());
	if (!b->plugins)
		return -ENOMEM;
	err = plugin_set_load_file(b->plugins, plugin_path, b->cfg);
	if (err < 0)
		return err;
	b->store = store_open(b->loop, b->cfg->hub.state_dir,
			      (unsigned int)b->cfg->store.max_outbox, &err);
	if (!b->store)
		return err;
	b->pipeline = pipeline_new(b->loop, b->cfg, b->store);
	b->ingest = ingest_new(b->cfg, b->store, pipeline_record, b->pipeline);
	if (!b->pipeline || !b->ingest)
		return -ENOMEM;
	if (!b->dump) {
		b->uplink = uplink_new(b->loop, b->cfg, &bench_outbox, b, pipeline_message,
				       b->pipeline, &err);
		if (!b->uplink)
			return err;
		pipeline_set_uplink(b->pipeline, b->uplink);
		{
			struct status_sources src = {
				.cfg = b->cfg,
				.plugins = b->plugins,
				.store = b->store,
				.uplink = b->uplink,
				.ingest = b->ingest,
				.pipeline = b->pipeline,
			};

			b->status = status_new(b->loop, &src, publish_status, b);
		}
		if (!b->status)
			return -ENOMEM;
	}
	store_set_event_func(b->store, on_store_event, b, NULL);
	if (b->status)
		status_changed(b->status);

	uuid_normalize(SPOT_UUID, b->spot_uuid);
	uuid_normalize(SERVICE_UUID, service);
	plugin_set_match(b->plugins, service, DEVICE_NAME, try_driver, b);
	return b->dev ? 0 : -ENODEV;
}

static void bench_stop(struct bench *b)
{
	device_unbind(b->dev);
	status_free(b->status);
	plugin_set_free(b->plugins);
	uplink_free(b->uplink);
	ingest_free(b->ingest);
	pipeline_free(b->pipeline);
	store_free(b->store);
	loop_free(b->loop);
	config_free(b->cfg);
}

/* ---- running ----------------------------------------------------------------- */

static void on_timeout(struct loop *loop, void *user_data)
{
	struct bench *b = user_data;

	log_err("not done after %d s: %" PRIu64 " of %" PRIu64 " messages acknowledged", TIMEOUT_S,
		b->acked, b->readings_total);
	b->failed = true;
	loop_quit(loop, 0);
}

static void poll_connected(struct loop *loop, void *user_data)
{
	struct bench *b = user_data;
	struct uplink_stats s;

	uplink_get_stats(b->uplink, &s);
	if (s.connected) {
		b->poll_timer = 0;
		loop_quit(loop, 0);
		return;
	}
	loop_timer_rearm(loop, b->poll_timer, CONNECT_POLL_MS);
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples. */
static double percentile(const double *s, unsigned int n, unsigned int pct)
{
	unsigned int rank = (n * pct + 99) / 100;

	return s[rank ? rank - 1 : 0];
}

static int run_burst(struct bench *b)
{
	struct rusage r0, r1;
	struct ingest_stats is;
	uint64_t t0, t1, rss0;
	int timeout;
	double secs, cpu_user, cpu_sys;

	timeout = loop_add_timer(b->loop, TIMEOUT_S * 1000u, on_timeout, b, NULL);
	if (b->uplink) {
		b->poll_timer = loop_add_timer(b->loop, 0, poll_connected, b, NULL);
		loop_run(b->loop);
		if (b->failed)
			return -ETIMEDOUT;
	}
	b->phase = PHASE_BURST;
	rss0 = proc_status_kib("VmRSS");
	getrusage(RUSAGE_SELF, &r0);
	t0 = now_ns();
	schedule_feed(b);
	loop_run(b->loop);
	t1 = now_ns();
	getrusage(RUSAGE_SELF, &r1);
	loop_remove(b->loop, timeout);
	if (b->failed)
		return -ETIMEDOUT;
	if (b->dump)
		return 0;

	secs = (double)(t1 - t0) / 1e9;
	cpu_user = cpu_seconds(&r1, false) - cpu_seconds(&r0, false);
	cpu_sys = cpu_seconds(&r1, true) - cpu_seconds(&r0, true);
	ingest_get_stats(b->ingest, &is);
	printf("readings %" PRIu64 "\n", b->readings_total);
	printf("burst_seconds %.3f\n", secs);
	printf("readings_per_s %.0f\n", (double)b->readings_total / secs);
	printf("cpu_us_per_reading %.2f\n", (cpu_user + cpu_sys) * 1e6 / (double)b->readings_total);
	printf("cpu_user_us_per_reading %.2f\n", cpu_user * 1e6 / (double)b->readings_total);
	printf("cpu_sys_us_per_reading %.2f\n", cpu_sys * 1e6 / (double)b->readings_total);
	printf("voluntary_switches_per_reading %.3f\n",
	       (double)(r1.ru_nvcsw - r0.ru_nvcsw) / (double)b->readings_total);
	printf("rss_before_kib %" PRIu64 "\n", rss0);
	printf("rss_peak_kib %" PRIu64 "\n", proc_status_kib("VmHWM"));
	printf("rss_anon_end_kib %" PRIu64 "\n", proc_status_kib("RssAnon"));
	printf("rss_during_kib");
	for (unsigned int i = 0; i < b->n_rss; i++)
		printf(" %" PRIu64, b->rss_kib[i]);
	printf("\n");
	printf("backlog_max %" PRIu64 "\n", b->backlog_max);
	printf("accepted %" PRIu64 "\nduplicates %" PRIu64 "\nrejected %" PRIu64 "\n", is.accepted,
	       is.duplicates, is.rejected);
	return 0;
}

static int run_paced(struct bench *b)
{
	int timeout;

	if (!b->paced_total)
		return 0;
	b->phase = PHASE_PACED;
	timeout = loop_add_timer(b->loop, TIMEOUT_S * 1000u, on_timeout, b, NULL);
	b->pace_timer = loop_add_timer(b->loop, PACE_MS, pace, b, NULL);
	loop_run(b->loop);
	loop_remove(b->loop, timeout);
	if (b->failed)
		return -ETIMEDOUT;
	qsort(b->latency_ms, b->n_latency, sizeof(b->latency_ms[0]), compare_double);
	printf("latency_samples %u\n", b->n_latency);
	if (b->n_latency) {
		printf("latency_p50_ms %.2f\n", percentile(b->latency_ms, b->n_latency, 50));
		printf("latency_p99_ms %.2f\n", percentile(b->latency_ms, b->n_latency, 99));
		printf("latency_max_ms %.2f\n", b->latency_ms[b->n_latency - 1]);
	}
	printf("alerts %" PRIu64 "\n", b->alerts);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: pipeline_bench --config FILE --plugin SO --count N "
		     "[--paced M | --dump FILE]\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"config", required_argument, NULL, 'c'},
		{"plugin", required_argument, NULL, 'p'},
		{"count", required_argument, NULL, 'n'},
		{"paced", required_argument, NULL, 'm'},
		{"dump", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	static struct bench bench; /* large: the latency samples */
	struct bench *b = &bench;
	const char *config_path = NULL, *plugin_path = NULL, *dump_path = NULL;
	unsigned long count = 0, paced = 0;
	int opt, err;

	while ((opt = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'p':
			plugin_path = optarg;
			break;
		case 'n':
			count = strtoul(optarg, NULL, 10);
			break;
		case 'm':
			paced = strtoul(optarg, NULL, 10);
			break;
		case 'd':
			dump_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_SUCCESS;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!config_path || !plugin_path || !count || paced >= LATENCY_MAX ||
	    (dump_path && paced)) {
		usage(stderr);
		return 2;
	}

	log_init(VARDE_LOG_INFO);
	b->cfg = config_load(config_path);
	if (!b->cfg)
		return EXIT_FAILURE;
	log_set_max_level(b->cfg->hub.log_level);
	if (dump_path) {
		b->dump = fopen(dump_path, "we");
		if (!b->dump) {
			fprintf(stderr, "%s: %s\n", dump_path, strerror(errno));
			return EXIT_FAILURE;
		}
	}
	b->frames_total = (count + READINGS_PER_FRAME - 1) / READINGS_PER_FRAME;
	b->readings_total = b->frames_total * READINGS_PER_FRAME;
	b->paced_total = (unsigned int)paced;
	/* Device times end in the past, and the paced ones stay within the
	 * hub's tolerance for a device clock that runs ahead. */
	b->time_base = time(NULL) - (time_t)b->frames_total - 60;

	err = bench_start(b, plugin_path);
	if (err < 0)
		log_err("cannot start: %s", strerror(-err));
	else
		err = run_burst(b);
	if (!err)
		err = run_paced(b);
	bench_stop(b);
	if (b->dump && fclose(b->dump) != 0)
		err = -errno;
	return err < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
