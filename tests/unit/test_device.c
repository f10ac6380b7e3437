/* SPDX-License-Identifier: MIT */
/*
 * The host API as plugins see it, over a backend the test drives by hand:
 * completions never re-enter the plugin, notifications sent before the
 * subscription completes are delivered, cancel and unbind call destroy and
 * never the callback, and remove() comes after everything is cancelled.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "device.h"
#include "log_capture.h"
#include "loop.h"

/* ---- a backend the test controls --------------------------------------- */

struct fake_conn {
	struct device_op *pending[8];
	char pending_uuid[8][UUID_STR_LEN];
	int n_pending;
	int cancelled;
	int fail_with; /* next request returns this error */
	bool complete_now; /* complete inside the request itself */
	uint8_t written[16];
	size_t written_len;
	bool with_response;
};

static int fake_props(void *conn, const char *service, const char *uuid)
{
	(void)conn;
	(void)service;
	return strcmp(uuid, "00002a35-0000-1000-8000-00805f9b34fb") == 0 ? VARDE_CHAR_INDICATE
									 : -ENOENT;
}

static int fake_request(struct fake_conn *c, const char *uuid, struct device_op *op)
{
	static const uint8_t value[] = {0x42, 0x43};

	if (c->fail_with)
		return c->fail_with;
	if (c->complete_now) {
		device_op_done(op, 0, value, sizeof(value));
		return 0;
	}
	snprintf(c->pending_uuid[c->n_pending], UUID_STR_LEN, "%s", uuid);
	c->pending[c->n_pending++] = op;
	return 0;
}

static int fake_subscribe(void *conn, const char *service, const char *uuid, struct device_op *op)
{
	(void)service;
	return fake_request(conn, uuid, op);
}

static int fake_read(void *conn, const char *service, const char *uuid, struct device_op *op)
{
	(void)service;
	return fake_request(conn, uuid, op);
}

static int fake_write(void *conn, const char *service, const char *uuid, const uint8_t *data,
		      size_t len, bool with_response, struct device_op *op)
{
	struct fake_conn *c = conn;

	(void)service;
	memcpy(c->written, data, len);
	c->written_len = len;
	c->with_response = with_response;
	return fake_request(c, uuid, op);
}

static void fake_cancel(void *conn, struct device_op *op)
{
	struct fake_conn *c = conn;

	for (int i = 0; i < c->n_pending; i++)
		if (c->pending[i] == op)
			c->pending[i] = NULL;
	c->cancelled++;
}

static const struct device_backend fake_backend = {
	.char_props = fake_props,
	.subscribe = fake_subscribe,
	.read = fake_read,
	.write = fake_write,
	.cancel = fake_cancel,
};

/* ---- a plugin driver the test controls --------------------------------- */

static const struct varde_host *host;
static char events[1024];

static void event(const char *fmt, ...) VARDE_PRINTF(1, 2);

static void event(const char *fmt, ...)
{
	size_t off = strlen(events);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(events + off, sizeof(events) - off, fmt, ap);
	va_end(ap);
	strncat(events, ";", sizeof(events) - strlen(events) - 1);
}

static int probe_result;

static int drv_probe(struct varde_device *dev)
{
	event("probe");
	host->set_data(dev, &probe_result);
	return probe_result;
}

static void drv_remove(struct varde_device *dev)
{
	event("remove data=%s", host->get_data(dev) == &probe_result ? "ok" : "lost");
}

static const struct varde_driver driver = {
	.size = sizeof(struct varde_driver),
	.name = "test",
	.service_uuid = "1810",
	.probe = drv_probe,
	.remove = drv_remove,
};

static void on_notify(struct varde_device *dev, const uint8_t *data, size_t len, void *user_data)
{
	(void)dev;
	event("notify %s %zu:%02x", (const char *)user_data, len, len ? data[0] : 0);
}

static void on_done(struct varde_device *dev, int err, const uint8_t *data, size_t len,
		    void *user_data)
{
	(void)dev;
	event("done %s err=%d len=%zu%s", (const char *)user_data, err, len,
	      len && data[0] == 0x42 ? " 42" : "");
}

static void on_destroy(void *user_data)
{
	event("destroy %s", (const char *)user_data);
}

static void on_timer(struct varde_device *dev, void *user_data)
{
	(void)dev;
	event("timer %s", (const char *)user_data);
}

struct sink_log {
	struct varde_reading last;
	int submitted;
	char state[64];
};

static int sink_submit(struct varde_device *dev, const struct varde_reading *r, void *user_data)
{
	struct sink_log *s = user_data;

	(void)dev;
	s->last = *r;
	s->submitted++;
	return 0;
}

static int sink_state_get(struct varde_device *dev, const char *key, char *buf, size_t len,
			  void *user_data)
{
	struct sink_log *s = user_data;

	(void)dev;
	(void)key;
	if (!s->state[0])
		return -ENOENT;
	return snprintf(buf, len, "%s", s->state);
}

static int sink_state_set(struct varde_device *dev, const char *key, const char *value,
			  void *user_data)
{
	struct sink_log *s = user_data;

	(void)dev;
	(void)key;
	snprintf(s->state, sizeof(s->state), "%s", value);
	return 0;
}

static const struct device_sink sink = {sink_submit, sink_state_get, sink_state_set};

struct fixture {
	struct loop *loop;
	struct fake_conn conn;
	struct sink_log sink;
	struct varde_device *dev;
};

static struct fixture fx;

static int setup(void **state)
{
	struct device_binding b = {0};
	int err;

	(void)state;
	memset(&fx, 0, sizeof(fx));
	events[0] = '\0';
	host = device_host_table();
	fx.loop = loop_new();
	b.loop = fx.loop;
	b.backend = &fake_backend;
	b.conn = &fx.conn;
	b.sink = &sink;
	b.sink_data = &fx.sink;
	b.driver = &driver;
	b.service = "00001810-0000-1000-8000-00805f9b34fb";
	snprintf(b.identity.address, sizeof(b.identity.address), "C0:26:DA:01:02:03");
	snprintf(b.identity.name, sizeof(b.identity.name), "BPM");
	probe_result = 0;
	fx.dev = device_bind(&b, &err);
	assert_int_equal(err, 0);
	assert_non_null(fx.dev);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	device_unbind(fx.dev);
	loop_free(fx.loop);
	return 0;
}

static void drain(void)
{
	while (loop_iterate(fx.loop, 0) > 0)
		;
}

static void test_notification_before_subscribe_completes(void **state)
{
	static const uint8_t reading[] = {0x1e, 0x01};
	int id;

	(void)state;
	events[0] = '\0';
	id = host->subscribe(fx.dev, "2A35", on_notify, on_done, "bpm", on_destroy);
	assert_true(id > 0);
	assert_int_equal(fx.conn.n_pending, 1);
	assert_string_equal(fx.conn.pending_uuid[0], "00002a35-0000-1000-8000-00805f9b34fb");
	/* The device sends the moment the CCC is written, before the reply. */
	device_value_changed(fx.dev, "00002a35-0000-1000-8000-00805f9b34fb", reading, 2);
	device_op_done(fx.conn.pending[0], 0, NULL, 0);
	assert_string_equal(events, "notify bpm 2:1e;");
	drain();
	assert_string_equal(events, "notify bpm 2:1e;done bpm err=0 len=0;");
	/* Still subscribed after completing. */
	device_value_changed(fx.dev, "00002a35-0000-1000-8000-00805f9b34fb", reading + 1, 1);
	device_value_changed(fx.dev, "00002a36-0000-1000-8000-00805f9b34fb", reading, 1);
	assert_string_equal(events, "notify bpm 2:1e;done bpm err=0 len=0;notify bpm 1:01;");
	assert_int_equal(host->cancel(fx.dev, id), 0);
	assert_int_equal(fx.conn.cancelled, 0); /* nothing pending at the backend */
	device_value_changed(fx.dev, "00002a35-0000-1000-8000-00805f9b34fb", reading, 1);
	assert_string_equal(events,
			    "notify bpm 2:1e;done bpm err=0 len=0;notify bpm 1:01;destroy bpm;");
	assert_int_equal(host->cancel(fx.dev, id), -ENOENT);
}

static void test_completion_is_never_reentrant(void **state)
{
	(void)state;
	fx.conn.complete_now = true;
	events[0] = '\0';
	assert_true(host->read(fx.dev, "0x2a49", on_done, "feature", on_destroy) > 0);
	/* The backend finished inside read(); the plugin hears it later. */
	assert_string_equal(events, "");
	drain();
	assert_string_equal(events, "done feature err=0 len=2 42;destroy feature;");
}

static void test_failed_request_calls_nothing(void **state)
{
	(void)state;
	fx.conn.fail_with = -ENOTCONN;
	events[0] = '\0';
	assert_int_equal(host->write(fx.dev, "2A52", (const uint8_t *)"\x01\x01", 2, 0, on_done,
				     "racp", on_destroy),
			 -ENOTCONN);
	drain();
	assert_string_equal(events, "");
	assert_int_equal(host->read(fx.dev, "not-a-uuid", on_done, "x", on_destroy), -EINVAL);
	assert_int_equal(host->write(fx.dev, "2A52", NULL, 600, 0, on_done, "x", NULL), -EINVAL);
}

static void test_write_flags_and_error_completion(void **state)
{
	(void)state;
	events[0] = '\0';
	assert_true(host->write(fx.dev, "2A2B", (const uint8_t *)"\x01\x02\x03", 3,
				VARDE_WRITE_WITHOUT_RESPONSE, on_done, "ct", on_destroy) > 0);
	assert_false(fx.conn.with_response);
	assert_int_equal(fx.conn.written_len, 3);
	assert_int_equal(fx.conn.written[2], 0x03);
	device_op_done(fx.conn.pending[0], -EPROTO, NULL, 0);
	drain();
	assert_string_equal(events, "done ct err=-71 len=0;destroy ct;");
}

static void test_unbind_cancels_then_removes(void **state)
{
	(void)state;
	events[0] = '\0';
	assert_true(host->read(fx.dev, "2A49", on_done, "read", on_destroy) > 0);
	assert_true(host->subscribe(fx.dev, "2A35", on_notify, on_done, "sub", on_destroy) > 0);
	assert_true(host->timer_add(fx.dev, 10000, on_timer, "t", on_destroy) > 0);
	device_unbind(fx.dev);
	fx.dev = NULL;
	assert_int_equal(fx.conn.cancelled, 2);
	/* Newest first, then remove() last with its data intact. */
	assert_string_equal(events, "destroy t;destroy sub;destroy read;remove data=ok;");
	drain();
	assert_string_equal(events, "destroy t;destroy sub;destroy read;remove data=ok;");
}

static void test_timer_once_and_cancel(void **state)
{
	int keep, drop;

	(void)state;
	events[0] = '\0';
	keep = host->timer_add(fx.dev, 1, on_timer, "a", on_destroy);
	drop = host->timer_add(fx.dev, 1, on_timer, "b", on_destroy);
	assert_true(keep > 0 && drop > 0);
	assert_int_equal(host->cancel(fx.dev, drop), 0);
	while (!strstr(events, "timer a"))
		assert_true(loop_iterate(fx.loop, 100) >= 0);
	drain();
	assert_string_equal(events, "destroy b;timer a;destroy a;");
	assert_int_equal(host->cancel(fx.dev, keep), -ENOENT);
}

static void test_probe_failure_cleans_up(void **state)
{
	struct device_binding b = {0};
	struct varde_device *dev;
	int err;

	(void)state;
	b.loop = fx.loop;
	b.backend = &fake_backend;
	b.conn = &fx.conn;
	b.driver = &driver;
	b.service = "00001810-0000-1000-8000-00805f9b34fb";
	probe_result = -ENODEV;
	events[0] = '\0';
	dev = device_bind(&b, &err);
	assert_null(dev);
	assert_int_equal(err, -ENODEV);
	assert_string_equal(events, "probe;");
}

static void test_submit_copies_and_old_struct_size(void **state)
{
	struct varde_component parts[1] = {
		{VARDE_METRIC_BP_SYSTOLIC, VARDE_UNIT_MMHG, {120, 0, 0, {0}}}};
	struct varde_reading r = VARDE_READING_INIT;

	(void)state;
	r.metric = VARDE_METRIC_BLOOD_PRESSURE;
	r.components = parts;
	r.n_components = 1;
	r.sequence = 9;
	assert_int_equal(host->submit(fx.dev, &r), 0);
	assert_int_equal(fx.sink.submitted, 1);
	assert_int_equal(fx.sink.last.metric, VARDE_METRIC_BLOOD_PRESSURE);
	assert_int_equal(fx.sink.last.components[0].value.mantissa, 120);
	/* A struct from an older plugin: the fields it lacks read as zero. */
	r.size = offsetof(struct varde_reading, reserved);
	assert_int_equal(host->submit(fx.dev, &r), 0);
	assert_int_equal(fx.sink.last.size, sizeof(struct varde_reading));
	r.size = offsetof(struct varde_reading, components);
	assert_int_equal(host->submit(fx.dev, &r), -EINVAL);
	assert_int_equal(host->submit(fx.dev, NULL), -EINVAL);
	assert_int_equal(fx.sink.submitted, 2);
}

static void test_state_and_identity(void **state)
{
	struct varde_device_identity id;
	char buf[8];

	(void)state;
	assert_int_equal(host->state_get(fx.dev, "last_seq", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(host->state_set(fx.dev, "last_seq", "43"), 0);
	assert_int_equal(host->state_get(fx.dev, "last_seq", buf, sizeof(buf)), 2);
	assert_string_equal(buf, "43");
	assert_int_equal(host->state_set(fx.dev, "", "1"), -EINVAL);
	assert_int_equal(host->state_set(fx.dev, "k", "bad\nvalue"), -EINVAL);
	assert_int_equal(host->state_set(fx.dev, "a-key-that-is-longer-than-32-bytes", "1"),
			 -EINVAL);
	assert_int_equal(host->get_identity(fx.dev, &id), 0);
	assert_string_equal(id.address, "C0:26:DA:01:02:03");
	assert_string_equal(id.name, "BPM");
	assert_int_equal(host->char_props(fx.dev, "2a35"), VARDE_CHAR_INDICATE);
	assert_int_equal(host->char_props(fx.dev, "2a36"), -ENOENT);
	assert_true(VARDE_HOST_HAS(host, state_set));
}

static void test_log_prefix_names_plugin_and_device(void **state)
{
	(void)state;
	log_capture_clear();
	host->log(NULL, fx.dev, VARDE_LOG_WARNING, "frame of %d bytes dropped", 3);
	assert_true(
		log_capture_has("plugin test: C0:26:DA:01:02:03: frame of 3 bytes dropped", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_notification_before_subscribe_completes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_completion_is_never_reentrant, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failed_request_calls_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_flags_and_error_completion, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unbind_cancels_then_removes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_once_and_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_failure_cleans_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_submit_copies_and_old_struct_size, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_state_and_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_prefix_names_plugin_and_device, setup,
						teardown),
	};

	log_capture_start();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
