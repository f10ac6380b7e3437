/* SPDX-License-Identifier: MIT */
/*
 * varde-plugin-check: the conformance tool for plugin vendors. It loads a
 * plugin through the hub's own loader, binds its driver to a device that a
 * capture file describes (hub/replay_backend.c), replays the capture through
 * the real host API on the real event loop without Bluetooth, and prints
 * every reading the plugin submits as JSON. With --expect it compares them
 * with an expected-output file and shows the first difference.
 *
 * The replay runs in a child process, so that a plugin that crashes (or
 * blocks the loop) is reported as such rather than taking the tool down
 * with it.
 *
 * Exit status: 0 all as expected; 1 mismatch (readings, writes, state);
 * 2 usage, capture or expected-output file error; 3 plugin refused or
 * quarantined by the loader, or no driver of it binds to the device;
 * 4 the plugin crashed or blocked the loop.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "config.h"
#include "device.h"
#include "log.h"
#include "loop.h"
#include "metrics.h"
#include "plugin_loader.h"
#include "replay_backend.h"

enum check_status {
	CHECK_OK = 0,
	CHECK_MISMATCH = 1,
	CHECK_USAGE = 2,
	CHECK_REFUSED = 3,
	CHECK_CRASHED = 4,
};

#define DEFAULT_WAIT_MS 5000
/* A plugin that has not finished this long after the capture should have
 * is taken to block the loop. */
#define BLOCKED_MARGIN_MS 30000
#define MAX_STATE 32
#define STATE_VALUE_MAX 256

struct check {
	const char *plugin_path;
	const char *capture_path;
	struct config_option *options;
	size_t n_options;
	unsigned int wait_ms;
	json_t *expected;
	struct replay *replay;

	/* The run. */
	json_t *readings;
	struct {
		char *key;
		char *value;
	} state[MAX_STATE];
	size_t n_state;
};

/* ---- readings as JSON ---------------------------------------------------- */

/* Metrics by the short name of the hub's metric table (hub/metrics.h);
 * units, status bits and specials by the name of their enum constant in
 * include/varde/plugin.h, without its prefix and in lower case. A value the
 * hub does not know is printed as its number. */
static const char *const unit_names[] = {
	[VARDE_UNIT_NONE] = "none",
	[VARDE_UNIT_CODE] = "code",
	[VARDE_UNIT_MMHG] = "mmhg",
	[VARDE_UNIT_KPA] = "kpa",
	[VARDE_UNIT_PER_MIN] = "per_min",
	[VARDE_UNIT_PERCENT] = "percent",
	[VARDE_UNIT_CELSIUS] = "celsius",
	[VARDE_UNIT_FAHRENHEIT] = "fahrenheit",
	[VARDE_UNIT_KG] = "kg",
	[VARDE_UNIT_LB] = "lb",
	[VARDE_UNIT_M] = "m",
	[VARDE_UNIT_INCH] = "inch",
	[VARDE_UNIT_KG_PER_M2] = "kg_per_m2",
	[VARDE_UNIT_KG_PER_L] = "kg_per_l",
	[VARDE_UNIT_MOL_PER_L] = "mol_per_l",
	[VARDE_UNIT_MG_PER_DL] = "mg_per_dl",
	[VARDE_UNIT_MMOL_PER_L] = "mmol_per_l",
	[VARDE_UNIT_L_PER_MIN] = "l_per_min",
	[VARDE_UNIT_L] = "l",
	[VARDE_UNIT_G] = "g",
	[VARDE_UNIT_S] = "s",
	[VARDE_UNIT_MG] = "mg",
	[VARDE_UNIT_ML] = "ml",
};

/* Indexed by bit number. */
static const char *const status_names[] = {
	"body_movement",       "cuff_loose",
	"irregular_pulse",     "pulse_above_range",
	"pulse_below_range",   "improper_position",
	"questionable",	       "invalid",
	"low_perfusion",       "sensor_displaced",
	"signal_artifact",     "equipment_fault",
	"measurement_ongoing", "control_solution",
	"result_too_high",     "result_too_low",
	"strip_error",	       "temperature_out_of_range",
	"battery_low",	       "device_clock_not_set",
	"calibration_ongoing", "test_data",
};

static const char *const site_names[] = {
	[VARDE_SITE_ARMPIT] = "armpit",	    [VARDE_SITE_BODY] = "body",
	[VARDE_SITE_EAR] = "ear",	    [VARDE_SITE_FINGER] = "finger",
	[VARDE_SITE_GI_TRACT] = "gi_tract", [VARDE_SITE_MOUTH] = "mouth",
	[VARDE_SITE_RECTUM] = "rectum",	    [VARDE_SITE_TOE] = "toe",
	[VARDE_SITE_TYMPANUM] = "tympanum", [VARDE_SITE_ALTERNATE] = "alternate",
	[VARDE_SITE_EARLOBE] = "earlobe",
};

static const char *const special_names[] = {
	[VARDE_VALUE_NAN] = "nan",
	[VARDE_VALUE_NRES] = "nres",
	[VARDE_VALUE_PINF] = "+inf",
	[VARDE_VALUE_NINF] = "-inf",
};

#define N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

static json_t *name_json(const char *const *names, size_t n, uint32_t value)
{
	if (value < n && names[value])
		return json_string(names[value]);
	return json_integer(value);
}

static json_t *metric_json(uint32_t metric)
{
	const struct metric_info *info = metric_lookup(metric);

	return info ? json_string(info->name) : json_integer(metric);
}

/* A special value has no number: mantissa and exponent are ignored. */
static json_t *value_json(const struct varde_value *v)
{
	if (v->special == VARDE_VALUE_NUMBER)
		return json_pack("{s:i,s:i}", "mantissa", (int)v->mantissa, "exponent",
				 (int)v->exponent);
	return json_pack("{s:o}", "special",
			 name_json(special_names, N_ELEMENTS(special_names), v->special));
}

static json_t *status_json(uint32_t status)
{
	json_t *list = json_array();

	for (unsigned int bit = 0; bit < 32; bit++) {
		char unnamed[16];

		if (!(status & (1u << bit)))
			continue;
		if (bit < N_ELEMENTS(status_names)) {
			json_array_append_new(list, json_string(status_names[bit]));
			continue;
		}
		snprintf(unnamed, sizeof(unnamed), "bit%u", bit);
		json_array_append_new(list, json_string(unnamed));
	}
	return list;
}

/* Device-local time without zone, as the plugin gave it; 0 fields are
 * fields the device did not know. */
static json_t *time_json(const struct varde_datetime *t)
{
	char text[32];

	snprintf(text, sizeof(text), "%04u-%02u-%02uT%02u:%02u:%02u", t->year, t->month, t->day,
		 t->hours, t->minutes, t->seconds);
	return json_string(text);
}

/* The device user: "unknown" is the device saying it does not know. */
static json_t *user_json(const struct varde_reading *r)
{
	if (!(r->flags & VARDE_READING_HAS_USER))
		return json_null();
	if (r->user_id == VARDE_USER_UNKNOWN)
		return json_string("unknown");
	return json_integer(r->user_id);
}

static json_t *reading_json(const struct varde_reading *r)
{
	json_t *components = json_array();

	for (size_t i = 0; r->components && i < r->n_components; i++) {
		const struct varde_component *x = &r->components[i];

		json_array_append_new(
			components,
			json_pack("{s:o,s:o,s:o}", "metric", metric_json(x->metric), "unit",
				  name_json(unit_names, N_ELEMENTS(unit_names), x->unit), "value",
				  value_json(&x->value)));
	}
	return json_pack(
		"{s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:b,s:o}", "metric", metric_json(r->metric),
		"unit", name_json(unit_names, N_ELEMENTS(unit_names), r->unit), "value",
		value_json(&r->value), "components", components, "status", status_json(r->status),
		"time", (r->flags & VARDE_READING_HAS_TIME) ? time_json(&r->time) : json_null(),
		"user", user_json(r), "sequence",
		(r->flags & VARDE_READING_HAS_SEQUENCE) ? json_integer(r->sequence) : json_null(),
		"stored", (int)!!(r->flags & VARDE_READING_STORED), "site",
		r->site ? name_json(site_names, N_ELEMENTS(site_names), r->site) : json_null());
}

/* ---- the hub side: readings and plugin state kept in memory ------------- */

static int sink_submit(struct varde_device *dev, const struct varde_reading *reading,
		       void *user_data)
{
	struct check *c = user_data;
	json_t *r = reading_json(reading);

	(void)dev;
	if (!r || json_array_append_new(c->readings, r) < 0)
		return -ENOMEM;
	return 0;
}

static int state_find(const struct check *c, const char *key)
{
	for (size_t i = 0; i < c->n_state; i++)
		if (!strcmp(c->state[i].key, key))
			return (int)i;
	return -1;
}

static int sink_state_get(struct varde_device *dev, const char *key, char *buf, size_t len,
			  void *user_data)
{
	struct check *c = user_data;
	int i = state_find(c, key);
	size_t n;

	(void)dev;
	if (i < 0)
		return -ENOENT;
	n = strlen(c->state[i].value);
	if (n >= len)
		return -ENOSPC;
	memcpy(buf, c->state[i].value, n + 1);
	return (int)n;
}

static int state_put(struct check *c, const char *key, const char *value)
{
	int i = state_find(c, key);
	char *copy = strdup(value);

	if (!copy)
		return -ENOMEM;
	if (i < 0) {
		if (c->n_state == MAX_STATE) {
			free(copy);
			return -ENOSPC;
		}
		c->state[c->n_state].key = strdup(key);
		if (!c->state[c->n_state].key) {
			free(copy);
			return -ENOMEM;
		}
		i = (int)c->n_state++;
	} else {
		free(c->state[i].value);
	}
	c->state[i].value = copy;
	return 0;
}

static int sink_state_set(struct varde_device *dev, const char *key, const char *value,
			  void *user_data)
{
	(void)dev;
	log_debug("the plugin saves state %s = %s", key, value);
	return state_put(user_data, key, value);
}

static const struct device_sink sink = {
	.submit = sink_submit,
	.state_get = sink_state_get,
	.state_set = sink_state_set,
};

/* ---- comparing with the expected output ---------------------------------- */

static void show_difference(const char *path, json_t *want, json_t *got)
{
	char *w = want ? json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	char *g = got ? json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;

	log_err("mismatch at %s: expected %s, got %s", path, w ? w : "nothing", g ? g : "nothing");
	free(w);
	free(g);
}

/* Reports the first place where `got` differs from `want`; key order does
 * not matter. Returns true when they differ. */
static bool first_difference(const char *path, json_t *want, json_t *got)
{
	char sub[512];

	if (json_equal(want, got))
		return false;
	if (json_is_array(want) && json_is_array(got)) {
		size_t nw = json_array_size(want), ng = json_array_size(got);

		for (size_t i = 0; i < nw && i < ng; i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			if (first_difference(sub, json_array_get(want, i), json_array_get(got, i)))
				return true;
		}
		snprintf(sub, sizeof(sub), "%s[%zu]", path, nw < ng ? nw : ng);
		log_err("mismatch at %s: expected %zu entries, got %zu", path, nw, ng);
		show_difference(sub, json_array_get(want, nw < ng ? nw : ng),
				json_array_get(got, nw < ng ? nw : ng));
		return true;
	}
	if (json_is_object(want) && json_is_object(got)) {
		/* The expected keys first, then those only the plugin's has. */
		for (void *it = json_object_iter(want); it; it = json_object_iter_next(want, it)) {
			json_t *mine = json_object_get(got, json_object_iter_key(it));

			snprintf(sub, sizeof(sub), "%s.%s", path, json_object_iter_key(it));
			if (!mine) {
				show_difference(sub, json_object_iter_value(it), NULL);
				return true;
			}
			if (first_difference(sub, json_object_iter_value(it), mine))
				return true;
		}
		for (void *it = json_object_iter(got); it; it = json_object_iter_next(got, it)) {
			if (json_object_get(want, json_object_iter_key(it)))
				continue;
			snprintf(sub, sizeof(sub), "%s.%s", path, json_object_iter_key(it));
			show_difference(sub, NULL, json_object_iter_value(it));
			return true;
		}
	}
	show_difference(path, want, got);
	return true;
}

static unsigned int state_mismatches(const struct check *c)
{
	unsigned int n = 0;
	const char *key, *value;

	for (size_t i = 0; replay_expected_state(c->replay, i, &key, &value); i++) {
		int at = state_find(c, key);

		if (at >= 0 && !strcmp(c->state[at].value, value))
			continue;
		log_err("mismatch in plugin state %s: expected \"%s\", got %s%s%s", key, value,
			at < 0 ? "nothing" : "\"", at < 0 ? "" : c->state[at].value,
			at < 0 ? "" : "\"");
		n++;
	}
	return n;
}

/* ---- the replay ------------------------------------------------------- */

static int load_plugin(struct check *c, struct plugin_set **out)
{
	struct plugin_set *set = plugin_set_new(device_host_table());
	struct plugin_info info;
	struct config_plugin section = {0};
	struct config cfg = {0};
	int err;

	if (!set)
		return CHECK_CRASHED;
	err = plugin_set_load_file(set, c->plugin_path, NULL);
	/* The loader finds a plugin's [plugin NAME] options by the name in its
	 * descriptor, known only once it is loaded: load it again with them. */
	if (c->n_options && (err == 0 || err == -ECANCELED) && plugin_set_info(set, 0, &info)) {
		section.name = strdup(info.name);
		plugin_set_free(set);
		set = plugin_set_new(device_host_table());
		if (!section.name || !set) {
			free(section.name);
			plugin_set_free(set);
			return CHECK_CRASHED;
		}
		log_info("loading %s again with the --option values", c->plugin_path);
		section.options = c->options;
		section.n_options = c->n_options;
		cfg.plugins = &section;
		cfg.n_plugins = 1;
		err = plugin_set_load_file(set, c->plugin_path, &cfg);
		free(section.name);
	}
	*out = set;
	if (err < 0) {
		/* The loader has said why. */
		log_err("%s is not usable: nothing replayed", c->plugin_path);
		return CHECK_REFUSED;
	}
	return CHECK_OK;
}

struct binding_try {
	struct check *check;
	struct device_binding b;
	struct varde_device *dev;
};

static bool try_driver(struct varde_plugin_ctx *ctx, const struct varde_driver *drv,
		       void *user_data)
{
	struct binding_try *t = user_data;
	int err;

	t->b.plugin = ctx;
	t->b.driver = drv;
	t->dev = device_bind(&t->b, &err);
	if (t->dev) {
		log_info("driver %s of plugin %s bound to %s", drv->name, plugin_ctx_name(ctx),
			 t->b.identity.address);
		return true;
	}
	log_notice("driver %s of plugin %s did not bind: %s", drv->name, plugin_ctx_name(ctx),
		   strerror(-err));
	/* Whatever its probe asked of the device is void. */
	replay_stop(t->check->replay);
	return false;
}

static struct varde_device *bind_device(struct check *c, struct plugin_set *set, struct loop *loop)
{
	struct binding_try t = {.check = c};
	const char *service;

	t.b.loop = loop;
	t.b.backend = replay_backend();
	t.b.conn = c->replay;
	t.b.sink = &sink;
	t.b.sink_data = c;
	t.b.identity = *replay_identity(c->replay);
	for (size_t i = 0; !t.dev && (service = replay_service(c->replay, i)); i++) {
		t.b.service = service;
		plugin_set_match(set, service, t.b.identity.name, try_driver, &t);
	}
	return t.dev;
}

/* Runs the loop until the capture is played out. Device events are
 * performed only when the loop is idle, so each finds the plugin done with
 * the previous one. */
static void play(struct check *c, struct loop *loop)
{
	uint64_t deadline = 0;

	for (;;) {
		int timeout = -1;

		while (loop_iterate(loop, 0) > 0)
			;
		if (replay_step(c->replay)) {
			if (replay_disconnected(c->replay))
				return;
			continue;
		}
		if (replay_done(c->replay))
			return;
		if (replay_timeline_done(c->replay)) {
			uint64_t now = loop_now_ms();

			if (!deadline)
				deadline = now + c->wait_ms;
			if (now >= deadline) {
				log_err("gave up waiting %u ms for the expected writes",
					c->wait_ms);
				return;
			}
			timeout = (int)(deadline - now);
		}
		if (loop_iterate(loop, timeout) < 0)
			return;
	}
}

/* One reading per line: easy to read, and to diff against an expected
 * output kept in the same form. */
static void print_readings(json_t *readings)
{
	fputc('[', stdout);
	for (size_t i = 0; i < json_array_size(readings); i++) {
		fputs(i ? ",\n  " : "\n  ", stdout);
		json_dumpf(json_array_get(readings, i), stdout, 0);
	}
	fputs(json_array_size(readings) ? "\n]\n" : "]\n", stdout);
}

static int run(struct check *c)
{
	struct plugin_set *set = NULL;
	struct varde_device *dev;
	struct loop *loop = NULL;
	unsigned int mismatches;
	const char *key, *value;
	int status;

	c->readings = json_array();
	if (!c->readings)
		return CHECK_CRASHED;
	for (size_t i = 0; replay_state(c->replay, i, &key, &value); i++)
		if (state_put(c, key, value) < 0)
			return CHECK_CRASHED;
	status = load_plugin(c, &set);
	if (status == CHECK_OK) {
		loop = loop_new();
		if (!loop)
			status = CHECK_CRASHED;
	}
	if (status == CHECK_OK) {
		dev = bind_device(c, set, loop);
		if (!dev) {
			log_err("no driver of %s binds to the device of %s", c->plugin_path,
				c->capture_path);
			status = CHECK_REFUSED;
		} else if (replay_start(c->replay, loop, dev) < 0) {
			device_unbind(dev);
			status = CHECK_CRASHED;
		} else {
			play(c, loop);
			/* The link goes: the plugin's remove() may still submit. */
			replay_stop(c->replay);
			device_unbind(dev);
		}
	}
	plugin_set_free(set);
	loop_free(loop);
	if (status != CHECK_OK)
		return status;

	print_readings(c->readings);
	mismatches = replay_mismatches(c->replay) + state_mismatches(c);
	if (c->expected && first_difference("readings", c->expected, c->readings))
		mismatches++;
	return mismatches ? CHECK_MISMATCH : CHECK_OK;
}

static void check_clear(struct check *c)
{
	for (size_t i = 0; i < c->n_state; i++) {
		free(c->state[i].key);
		free(c->state[i].value);
	}
	c->n_state = 0;
	json_decref(c->readings);
	c->readings = NULL;
}

/* ---- supervision ---------------------------------------------------------- */

/* Waits for the replay's result byte and its end. */
static int supervise(pid_t pid, int fd, uint64_t limit_ms)
{
	uint64_t deadline = loop_now_ms() + limit_ms;
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	bool have_result = false;
	uint8_t result = 0;
	int wstatus;

	for (;;) {
		uint64_t now = loop_now_ms();
		uint8_t byte;
		ssize_t n;
		int ready;

		if (now >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &wstatus, 0);
			log_err("the plugin did not finish within %" PRIu64
				" s: it blocks the loop; killed",
				limit_ms / 1000);
			return CHECK_CRASHED;
		}
		ready = poll(&pfd, 1, (int)(deadline - now));
		if (ready < 0 && errno != EINTR)
			return CHECK_CRASHED;
		if (ready <= 0)
			continue;
		n = read(fd, &byte, 1);
		if (n == 1) {
			have_result = true;
			result = byte;
			continue;
		}
		if (n == 0 || errno != EINTR)
			break;
	}
	while (waitpid(pid, &wstatus, 0) < 0)
		if (errno != EINTR)
			return CHECK_CRASHED;
	if (WIFSIGNALED(wstatus)) {
		log_err("the plugin crashed: %s (signal %d); --verbose shows the event it was "
			"handling",
			strsignal(WTERMSIG(wstatus)), WTERMSIG(wstatus));
		return CHECK_CRASHED;
	}
	if (!have_result) {
		/* A sanitizer's report, abort() or exit() inside the plugin. */
		log_err("the plugin crashed: the replay ended with status %d before its result; "
			"--verbose shows the event it was handling",
			WEXITSTATUS(wstatus));
		return CHECK_CRASHED;
	}
	if (WEXITSTATUS(wstatus) != result) {
		/* After the result: in exit(), or a leak found at exit. */
		log_err("the replay failed while finishing (status %d)", WEXITSTATUS(wstatus));
		return CHECK_CRASHED;
	}
	return result;
}

static int check_in_child(struct check *c)
{
	uint64_t limit = replay_length_ms(c->replay) + c->wait_ms + BLOCKED_MARGIN_MS;
	int fds[2], status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	if (pipe(fds) < 0) {
		log_err("pipe: %s", strerror(errno));
		return CHECK_CRASHED;
	}
	pid = fork();
	if (pid < 0) {
		log_err("fork: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return CHECK_CRASHED;
	}
	if (pid == 0) {
		uint8_t result;

		close(fds[0]);
		result = (uint8_t)run(c);
		check_clear(c);
		fflush(stdout);
		if (write(fds[1], &result, 1) != 1)
			result = CHECK_CRASHED;
		close(fds[1]);
		json_decref(c->expected);
		replay_free(c->replay);
		free(c->options);
		exit(result);
	}
	close(fds[1]);
	status = supervise(pid, fds[0], limit);
	close(fds[0]);
	return status;
}

/* ---- command line ----------------------------------------------------- */

/* Every line, unthrottled: a vendor wants to see each bad frame. */
static void log_line(int level, const char *line, void *user_data)
{
	static const char *const names[] = {
		[VARDE_LOG_ERR] = "error",     [VARDE_LOG_WARNING] = "warning",
		[VARDE_LOG_NOTICE] = "notice", [VARDE_LOG_INFO] = "info",
		[VARDE_LOG_DEBUG] = "debug",
	};

	(void)user_data;
	fprintf(stderr, "varde-plugin-check: %s: %s\n",
		level >= VARDE_LOG_ERR && level <= VARDE_LOG_DEBUG ? names[level] : "log", line);
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: varde-plugin-check [OPTION]... PLUGIN.so CAPTURE\n"
		"Runs a varde device plugin against a captured device, without Bluetooth,\n"
		"and prints the readings it submits as JSON.\n\n"
		"  -e, --expect FILE        compare the readings with FILE (JSON)\n"
		"  -o, --option KEY=VALUE   a plugin option, as in its [plugin NAME] section\n"
		"  -w, --wait MS            how long to wait after the last event for the\n"
		"                           writes the capture expects (default %d)\n"
		"  -v, --verbose            log every replayed event\n"
		"  -h, --help               show this help and exit\n\n"
		"Exit status: 0 as expected, 1 mismatch, 2 usage or file error,\n"
		"3 plugin refused or no driver binds, 4 plugin crashed or blocked.\n"
		"The capture format is described in tests/captures/README.md.\n",
		DEFAULT_WAIT_MS);
}

static bool add_option(struct check *c, char *arg)
{
	char *eq = strchr(arg, '=');
	struct config_option *grown;

	if (!eq || eq == arg)
		return false;
	grown = realloc(c->options, (c->n_options + 1) * sizeof(*grown));
	if (!grown)
		return false;
	c->options = grown;
	*eq = '\0';
	grown[c->n_options] = (struct config_option){
		.key = arg,
		.value = eq + 1,
		.where = {.file = "--option", .line = (int)c->n_options + 1},
	};
	c->n_options++;
	return true;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{"expect", required_argument, NULL, 'e'}, {"option", required_argument, NULL, 'o'},
		{"wait", required_argument, NULL, 'w'},	  {"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},	  {NULL, 0, NULL, 0},
	};
	struct check c = {.wait_ms = DEFAULT_WAIT_MS};
	const char *expect_path = NULL;
	int level = VARDE_LOG_INFO;
	int opt, status;

	while ((opt = getopt_long(argc, argv, "e:o:w:vh", options, NULL)) != -1) {
		char *end;
		unsigned long ms;

		switch (opt) {
		case 'e':
			expect_path = optarg;
			break;
		case 'o':
			if (!add_option(&c, optarg)) {
				fprintf(stderr, "varde-plugin-check: --option wants KEY=VALUE\n");
				free(c.options);
				return CHECK_USAGE;
			}
			break;
		case 'w':
			errno = 0;
			ms = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || ms > 600000) {
				fprintf(stderr, "varde-plugin-check: --wait wants 0..600000 ms\n");
				free(c.options);
				return CHECK_USAGE;
			}
			c.wait_ms = (unsigned int)ms;
			break;
		case 'v':
			level = VARDE_LOG_DEBUG;
			break;
		case 'h':
			usage(stdout);
			free(c.options);
			return CHECK_OK;
		default:
			usage(stderr);
			free(c.options);
			return CHECK_USAGE;
		}
	}
	if (argc - optind != 2) {
		usage(stderr);
		free(c.options);
		return CHECK_USAGE;
	}
	c.plugin_path = argv[optind];
	c.capture_path = argv[optind + 1];
	log_init(level);
	log_set_sink(log_line, NULL);
	log_set_ratelimit(UINT_MAX, 1);

	c.replay = replay_load(c.capture_path);
	if (expect_path) {
		json_error_t error;

		c.expected = json_load_file(expect_path, 0, &error);
		if (!c.expected)
			log_err("%s:%d: %s", expect_path, error.line, error.text);
		else if (!json_is_array(c.expected))
			log_err("%s: not a JSON array of readings", expect_path);
	}
	if (!c.replay || (expect_path && !json_is_array(c.expected)))
		status = CHECK_USAGE;
	else
		status = check_in_child(&c);

	json_decref(c.expected);
	replay_free(c.replay);
	free(c.options);
	return status;
}
