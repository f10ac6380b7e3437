/* SPDX-License-Identifier: MIT */
#include "replay_backend.h"

#include <bluetooth/bluetooth.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <varde/ieee11073.h>

#include "device.h"
#include "log.h"
#include "loop.h"
#include "uuid.h"

#define CAPTURE_MAGIC "# varde capture v1"
#define LINE_MAX_LEN 4096
#define MAX_TOKENS 512
#define VALUE_MAX 512 /* longest attribute value ATT allows */
#define HEX_TEXT (2 * VALUE_MAX + sizeof("..."))
#define STATE_KEY_MAX 32 /* the host API's limits */
#define STATE_VALUE_MAX 256

struct characteristic {
	char uuid[UUID_STR_LEN];
	char service[UUID_STR_LEN];
	char *spelled; /* as the capture writes it, for messages */
	unsigned int props; /* enum varde_char_props */
	uint8_t *value; /* what a read returns */
	size_t len;
	/* What the device does when the plugin subscribes. */
	int subscribe_error;
	struct action *on_subscribe;
	bool subscribed;
};

/* Something the device does: send a value, or drop the link. */
struct action {
	struct action *next;
	struct characteristic *ch; /* NULL: disconnect */
	uint8_t *data;
	size_t len;
	bool indicate;
	uint64_t at; /* timeline only: ms from the start */
	int line;
};

struct expectation {
	struct expectation *next;
	struct characteristic *ch;
	bool with_response;
	uint8_t *data;
	size_t len;
	int error; /* the device answers the write with this error */
	struct action *responses;
	int line;
};

struct setting {
	char *key;
	char *value;
};

/* A queued device event: a capture action, or the completion of one of the
 * plugin's requests. */
struct event {
	struct event *next;
	const struct action *action;
	struct device_op *op;
	int err;
	const uint8_t *data;
	size_t len;
	struct characteristic *subscribing; /* completion of a subscription */
};

struct replay {
	char *path;
	struct varde_device_identity identity;
	bool have_device;
	char (*services)[UUID_STR_LEN];
	size_t n_services;
	struct characteristic **chars;
	size_t n_chars;
	struct action *timeline;
	struct expectation *expectations;
	struct setting *state;
	size_t n_state;
	struct setting *expected_state;
	size_t n_expected_state;

	/* The run. */
	struct loop *loop;
	struct varde_device *dev;
	uint64_t start_ms;
	int timer_id;
	const struct action *next_timed;
	const struct expectation *next_expected;
	struct event *queue;
	struct event **queue_tail;
	bool disconnected;
	unsigned int unexpected_writes;
};

/* ---- parsing -------------------------------------------------------------- */

struct parser {
	struct replay *r;
	int line;
	/* Where a "->" continuation line adds its actions. */
	struct action **responses_tail;
	bool responses_may_error;
	int *error_slot;
	bool failed;
};

static void parse_error(struct parser *p, const char *fmt, ...) VARDE_PRINTF(2, 3);

static void parse_error(struct parser *p, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("%s:%d: %s", p->r->path, p->line, msg);
	p->failed = true;
}

/* Splits a line into tokens: words, "quoted strings" (quotes removed) and
 * commas; '#' outside quotes starts a comment. Returns the number of tokens
 * or -1. */
static int tokenize(struct parser *p, char *s, char **tok, int max)
{
	int n = 0;

	while (*s) {
		char c;

		if (strchr(" \t\r\n", *s)) {
			s++;
			continue;
		}
		if (*s == '#')
			break;
		if (n == max) {
			parse_error(p, "more than %d words on a line", max);
			return -1;
		}
		if (*s == '"') {
			char *end = strchr(s + 1, '"');

			if (!end) {
				parse_error(p, "unterminated quote");
				return -1;
			}
			*end = '\0';
			tok[n++] = s + 1;
			s = end + 1;
			continue;
		}
		if (*s == ',') {
			tok[n++] = ",";
			s++;
			continue;
		}
		tok[n++] = s;
		s += strcspn(s, " \t\r\n,#\"");
		c = *s;
		if (!c)
			break;
		/* The word ends here; a comma or comment right after it still
		 * counts. */
		*s++ = '\0';
		if (c == '#')
			break;
		if (c == '"') {
			parse_error(p, "quote inside a word");
			return -1;
		}
		if (c == ',') {
			if (n == max) {
				parse_error(p, "more than %d words on a line", max);
				return -1;
			}
			tok[n++] = ",";
		}
	}
	return n;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Bytes from hex words (spaces between bytes allowed). */
static bool parse_hex(struct parser *p, char **tok, int n, uint8_t **out, size_t *len)
{
	uint8_t buf[VALUE_MAX];
	size_t count = 0;
	int half = -1;

	for (int i = 0; i < n; i++) {
		for (const char *c = tok[i]; *c; c++) {
			int d = hex_digit(*c);

			if (d < 0) {
				parse_error(p, "'%s' is not hex", tok[i]);
				return false;
			}
			if (half < 0) {
				half = d;
				continue;
			}
			if (count == sizeof(buf)) {
				parse_error(p, "value longer than %d bytes", VALUE_MAX);
				return false;
			}
			buf[count++] = (uint8_t)(half << 4 | d);
			half = -1;
		}
	}
	if (half >= 0) {
		parse_error(p, "odd number of hex digits");
		return false;
	}
	*out = malloc(count ? count : 1);
	if (!*out) {
		parse_error(p, "out of memory");
		return false;
	}
	memcpy(*out, buf, count);
	*len = count;
	return true;
}

static struct characteristic *find_char(const struct replay *r, const char *service,
					const char *uuid)
{
	/* As the host API promises: the probed service first, then anywhere. */
	for (size_t i = 0; service && i < r->n_chars; i++)
		if (!strcmp(r->chars[i]->service, service) && !strcmp(r->chars[i]->uuid, uuid))
			return r->chars[i];
	for (size_t i = 0; i < r->n_chars; i++)
		if (!strcmp(r->chars[i]->uuid, uuid))
			return r->chars[i];
	return NULL;
}

static struct characteristic *char_ref(struct parser *p, const char *spelled, unsigned int need,
				       const char *what)
{
	char uuid[UUID_STR_LEN];
	struct characteristic *ch;

	if (uuid_normalize(spelled, uuid) < 0) {
		parse_error(p, "'%s' is not a UUID", spelled);
		return NULL;
	}
	ch = find_char(p->r, NULL, uuid);
	if (!ch) {
		parse_error(p, "characteristic %s is not declared (declare it with 'char' first)",
			    spelled);
		return NULL;
	}
	if (need && !(ch->props & need)) {
		parse_error(p, "characteristic %s cannot %s: add the property to its 'char' line",
			    spelled, what);
		return NULL;
	}
	return ch;
}

static const struct {
	const char *name;
	int err;
} error_names[] = {
	{"ENOTCONN", -ENOTCONN}, {"ETIMEDOUT", -ETIMEDOUT}, {"ENOENT", -ENOENT},
	{"EACCES", -EACCES},	 {"EPROTO", -EPROTO},
};

static const struct {
	const char *name;
	unsigned int prop;
} prop_names[] = {
	{"read", VARDE_CHAR_READ},
	{"write", VARDE_CHAR_WRITE},
	{"write-without-response", VARDE_CHAR_WRITE_WITHOUT_RESPONSE},
	{"notify", VARDE_CHAR_NOTIFY},
	{"indicate", VARDE_CHAR_INDICATE},
};

static void actions_free(struct action *a)
{
	while (a) {
		struct action *next = a->next;

		free(a->data);
		free(a);
		a = next;
	}
}

/* One action: "notify UUID HEX", "indicate UUID HEX" or "disconnect". */
static struct action *parse_action(struct parser *p, char **tok, int n)
{
	struct action *a;

	if (n < 1) {
		parse_error(p, "missing action");
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a) {
		parse_error(p, "out of memory");
		return NULL;
	}
	a->line = p->line;
	if (!strcmp(tok[0], "disconnect") && n == 1)
		return a;
	if ((!strcmp(tok[0], "notify") || !strcmp(tok[0], "indicate")) && n >= 2) {
		a->indicate = tok[0][0] == 'i';
		a->ch = char_ref(p, tok[1], a->indicate ? VARDE_CHAR_INDICATE : VARDE_CHAR_NOTIFY,
				 tok[0]);
		if (a->ch && parse_hex(p, tok + 2, n - 2, &a->data, &a->len))
			return a;
		free(a);
		return NULL;
	}
	parse_error(p,
		    "unknown action '%s' (want notify UUID HEX, indicate UUID HEX or "
		    "disconnect)",
		    tok[0]);
	free(a);
	return NULL;
}

/* A comma-separated list of actions after "->", added at p->responses_tail.
 * The very first answer to a request may be "error NAME" instead. */
static void parse_responses(struct parser *p, char **tok, int n)
{
	int start = 0;

	while (start < n) {
		int end = start;

		while (end < n && strcmp(tok[end], ","))
			end++;
		if (!strcmp(tok[start], "error") && end - start == 2) {
			size_t i;

			for (i = 0; i < sizeof(error_names) / sizeof(error_names[0]); i++)
				if (!strcmp(tok[start + 1], error_names[i].name))
					break;
			if (!p->responses_may_error) {
				parse_error(p, "'error' can only be the first answer to a request");
				return;
			}
			if (i == sizeof(error_names) / sizeof(error_names[0])) {
				parse_error(p,
					    "unknown error '%s' (ENOTCONN, ETIMEDOUT, ENOENT, "
					    "EACCES or EPROTO)",
					    tok[start + 1]);
				return;
			}
			*p->error_slot = error_names[i].err;
		} else {
			struct action *a = parse_action(p, tok + start, end - start);

			if (!a)
				return;
			*p->responses_tail = a;
			p->responses_tail = &a->next;
		}
		p->responses_may_error = false;
		start = end + 1;
		if (end < n && start == n)
			parse_error(p, "trailing comma");
	}
}

/* "-> ..." at the end of a request line: split it off. Returns the index
 * of "->" or n. */
static int find_arrow(char **tok, int n)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(tok[i], "->"))
			return i;
	return n;
}

static void parse_device(struct parser *p, char **tok, int n)
{
	struct replay *r = p->r;

	if (r->have_device) {
		parse_error(p, "a capture has one 'device' line");
		return;
	}
	if (n < 2 || n > 3 || bachk(tok[1]) < 0) {
		parse_error(p, "want: device AA:BB:CC:DD:EE:FF [\"NAME\"]");
		return;
	}
	if (n == 3 && strlen(tok[2]) >= sizeof(r->identity.name)) {
		parse_error(p, "device name longer than %zu bytes", sizeof(r->identity.name) - 1);
		return;
	}
	snprintf(r->identity.address, sizeof(r->identity.address), "%s", tok[1]);
	for (char *c = r->identity.address; *c; c++)
		if (*c >= 'a' && *c <= 'f')
			*c = (char)(*c - 'a' + 'A'); /* as BlueZ prints it */
	snprintf(r->identity.name, sizeof(r->identity.name), "%s", n == 3 ? tok[2] : "");
	r->have_device = true;
}

static void parse_service(struct parser *p, char **tok, int n)
{
	struct replay *r = p->r;
	char(*grown)[UUID_STR_LEN];

	if (n != 2) {
		parse_error(p, "want: service UUID");
		return;
	}
	grown = realloc(r->services, (r->n_services + 1) * sizeof(*grown));
	if (!grown) {
		parse_error(p, "out of memory");
		return;
	}
	r->services = grown;
	if (uuid_normalize(tok[1], r->services[r->n_services]) < 0) {
		parse_error(p, "'%s' is not a UUID", tok[1]);
		return;
	}
	r->n_services++;
}

static void parse_char(struct parser *p, char **tok, int n)
{
	struct replay *r = p->r;
	struct characteristic *ch, **grown;
	int i;

	if (!r->n_services) {
		parse_error(p, "'char' before any 'service'");
		return;
	}
	if (n < 3) {
		parse_error(p, "want: char UUID PROPERTY... [HEX]");
		return;
	}
	ch = calloc(1, sizeof(*ch));
	grown = realloc(r->chars, (r->n_chars + 1) * sizeof(*grown));
	if (!ch || !grown) {
		free(ch);
		parse_error(p, "out of memory");
		return;
	}
	r->chars = grown;
	r->chars[r->n_chars++] = ch;
	ch->spelled = strdup(tok[1]);
	memcpy(ch->service, r->services[r->n_services - 1], UUID_STR_LEN);
	if (!ch->spelled || uuid_normalize(tok[1], ch->uuid) < 0) {
		parse_error(p, "'%s' is not a UUID", tok[1]);
		return;
	}
	if (find_char(r, ch->service, ch->uuid) != ch) {
		parse_error(p, "characteristic %s declared twice in this service", tok[1]);
		return;
	}
	for (i = 2; i < n; i++) {
		size_t k;

		for (k = 0; k < sizeof(prop_names) / sizeof(prop_names[0]); k++)
			if (!strcmp(tok[i], prop_names[k].name))
				break;
		if (k == sizeof(prop_names) / sizeof(prop_names[0]))
			break;
		ch->props |= prop_names[k].prop;
	}
	if (!ch->props) {
		parse_error(p,
			    "characteristic %s has no property (read, write, "
			    "write-without-response, notify, indicate)",
			    tok[1]);
		return;
	}
	if (i < n && !(ch->props & VARDE_CHAR_READ)) {
		parse_error(p, "a value is only for a characteristic with 'read'");
		return;
	}
	parse_hex(p, tok + i, n - i, &ch->value, &ch->len);
}

/* As the host API's state_get/state_set take them. */
static bool state_text(const char *s, size_t max)
{
	size_t n = strlen(s);

	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
			return false;
	return n > 0 && n <= max;
}

static void parse_setting(struct parser *p, char **tok, int n, struct setting **list, size_t *count)
{
	struct setting *grown;

	if (n != 3) {
		parse_error(p, "want: %s KEY VALUE", tok[0]);
		return;
	}
	if (!state_text(tok[1], STATE_KEY_MAX) || !state_text(tok[2], STATE_VALUE_MAX)) {
		parse_error(p, "a state key is 1..%d and a value 1..%d printable bytes",
			    STATE_KEY_MAX, STATE_VALUE_MAX);
		return;
	}
	grown = realloc(*list, (*count + 1) * sizeof(*grown));
	if (!grown) {
		parse_error(p, "out of memory");
		return;
	}
	*list = grown;
	grown[*count].key = strdup(tok[1]);
	grown[*count].value = strdup(tok[2]);
	(*count)++;
	if (!grown[*count - 1].key || !grown[*count - 1].value)
		parse_error(p, "out of memory");
}

static void parse_on_subscribe(struct parser *p, char **tok, int n)
{
	int arrow = find_arrow(tok, n);
	struct characteristic *ch;

	if (arrow != 2) {
		parse_error(p, "want: on-subscribe UUID -> ACTION[, ACTION]...");
		return;
	}
	ch = char_ref(p, tok[1], VARDE_CHAR_NOTIFY | VARDE_CHAR_INDICATE, "be subscribed to");
	if (!ch)
		return;
	if (ch->on_subscribe || ch->subscribe_error) {
		parse_error(p, "a second on-subscribe for %s", tok[1]);
		return;
	}
	p->responses_tail = &ch->on_subscribe;
	p->responses_may_error = true;
	p->error_slot = &ch->subscribe_error;
	parse_responses(p, tok + arrow + 1, n - arrow - 1);
}

static void parse_at(struct parser *p, char **tok, int n, struct action ***tail, uint64_t *last_at,
		     bool *ended)
{
	struct action *a;
	char *end;
	unsigned long long at;

	if (n < 3) {
		parse_error(p, "want: at MS ACTION");
		return;
	}
	errno = 0;
	at = strtoull(tok[1], &end, 10);
	if (errno || end == tok[1] || *end || tok[1][0] == '-' || at > 86400000ULL) {
		parse_error(p, "'%s' is not a time in milliseconds (0..86400000)", tok[1]);
		return;
	}
	if (at < *last_at) {
		parse_error(p, "'at' lines must be in time order");
		return;
	}
	if (*ended) {
		parse_error(p, "nothing can happen after the device disconnected");
		return;
	}
	a = parse_action(p, tok + 2, n - 2);
	if (!a)
		return;
	a->at = at;
	*last_at = at;
	*ended = !a->ch;
	**tail = a;
	*tail = &a->next;
}

static void parse_expect_write(struct parser *p, char **tok, int n, struct expectation ***tail)
{
	bool with_response = !strcmp(tok[0], "expect-write");
	int arrow = find_arrow(tok, n);
	struct expectation *x;

	if (arrow < 2) {
		parse_error(p, "want: %s UUID HEX [-> ACTION[, ACTION]...]", tok[0]);
		return;
	}
	x = calloc(1, sizeof(*x));
	if (!x) {
		parse_error(p, "out of memory");
		return;
	}
	x->line = p->line;
	x->with_response = with_response;
	**tail = x;
	*tail = &x->next;
	x->ch = char_ref(p, tok[1],
			 with_response ? VARDE_CHAR_WRITE : VARDE_CHAR_WRITE_WITHOUT_RESPONSE,
			 with_response ? "be written" : "be written without response");
	if (!x->ch || !parse_hex(p, tok + 2, arrow - 2, &x->data, &x->len))
		return;
	p->responses_tail = &x->responses;
	p->responses_may_error = with_response;
	p->error_slot = &x->error;
	if (arrow < n)
		parse_responses(p, tok + arrow + 1, n - arrow - 1);
}

static void parse_line(struct parser *p, char *line, struct action ***timeline_tail,
		       struct expectation ***expect_tail, uint64_t *last_at, bool *ended)
{
	char *tok[MAX_TOKENS];
	int n = tokenize(p, line, tok, MAX_TOKENS);
	bool continues = false;

	if (n <= 0)
		return; /* blank, comment, or reported */
	if (!strcmp(tok[0], "->")) {
		if (!p->responses_tail)
			parse_error(p, "'->' continues an expect-write, expect-command or "
				       "on-subscribe line");
		else
			parse_responses(p, tok + 1, n - 1);
		return;
	}
	if (!strcmp(tok[0], "device")) {
		parse_device(p, tok, n);
	} else if (!strcmp(tok[0], "service")) {
		parse_service(p, tok, n);
	} else if (!strcmp(tok[0], "char")) {
		parse_char(p, tok, n);
	} else if (!strcmp(tok[0], "state")) {
		parse_setting(p, tok, n, &p->r->state, &p->r->n_state);
	} else if (!strcmp(tok[0], "expect-state")) {
		parse_setting(p, tok, n, &p->r->expected_state, &p->r->n_expected_state);
	} else if (!strcmp(tok[0], "on-subscribe")) {
		parse_on_subscribe(p, tok, n);
		continues = true;
	} else if (!strcmp(tok[0], "at")) {
		parse_at(p, tok, n, timeline_tail, last_at, ended);
	} else if (!strcmp(tok[0], "expect-write") || !strcmp(tok[0], "expect-command")) {
		parse_expect_write(p, tok, n, expect_tail);
		continues = true;
	} else {
		parse_error(p, "unknown directive '%s'", tok[0]);
	}
	if (!continues || p->failed)
		p->responses_tail = NULL;
}

struct replay *replay_load(const char *path)
{
	struct expectation **expect_tail;
	struct action **timeline_tail;
	struct parser p = {0};
	char line[LINE_MAX_LEN];
	uint64_t last_at = 0;
	bool ended = false;
	FILE *f;

	p.r = calloc(1, sizeof(*p.r));
	if (!p.r)
		return NULL;
	p.r->path = strdup(path);
	p.r->queue_tail = &p.r->queue;
	timeline_tail = &p.r->timeline;
	expect_tail = &p.r->expectations;
	f = fopen(path, "re");
	if (!p.r->path || !f) {
		log_err("%s: %s", path, strerror(errno));
		if (f)
			fclose(f);
		replay_free(p.r);
		return NULL;
	}
	while (fgets(line, sizeof(line), f)) {
		p.line++;
		if (!strchr(line, '\n') && !feof(f)) {
			parse_error(&p, "line longer than %d bytes", LINE_MAX_LEN - 2);
			break;
		}
		if (p.line == 1) {
			if (strncmp(line, CAPTURE_MAGIC, strlen(CAPTURE_MAGIC)) ||
			    !strchr("\r\n", line[strlen(CAPTURE_MAGIC)])) {
				parse_error(&p, "not a capture: the first line must be '%s'",
					    CAPTURE_MAGIC);
				break;
			}
			continue;
		}
		parse_line(&p, line, &timeline_tail, &expect_tail, &last_at, &ended);
	}
	if (ferror(f))
		parse_error(&p, "read error: %s", strerror(errno));
	fclose(f);
	if (!p.failed && !p.r->have_device)
		parse_error(&p, "no 'device' line");
	if (!p.failed && !p.r->n_services)
		parse_error(&p, "no 'service' line");
	if (p.failed) {
		replay_free(p.r);
		return NULL;
	}
	return p.r;
}

/* ---- queries ---------------------------------------------------------- */

const struct varde_device_identity *replay_identity(const struct replay *r)
{
	return &r->identity;
}

const char *replay_service(const struct replay *r, size_t index)
{
	return index < r->n_services ? r->services[index] : NULL;
}

static bool setting_at(const struct setting *list, size_t count, size_t index, const char **key,
		       const char **value)
{
	if (index >= count)
		return false;
	*key = list[index].key;
	*value = list[index].value;
	return true;
}

bool replay_state(const struct replay *r, size_t index, const char **key, const char **value)
{
	return setting_at(r->state, r->n_state, index, key, value);
}

bool replay_expected_state(const struct replay *r, size_t index, const char **key,
			   const char **value)
{
	return setting_at(r->expected_state, r->n_expected_state, index, key, value);
}

/* ---- the device's events ------------------------------------------------ */

static int enqueue(struct replay *r, const struct action *action, struct device_op *op, int err,
		   const uint8_t *data, size_t len, struct characteristic *subscribing)
{
	struct event *ev = calloc(1, sizeof(*ev));

	if (!ev)
		return -ENOMEM;
	ev->action = action;
	ev->op = op;
	ev->err = err;
	ev->data = data;
	ev->len = len;
	ev->subscribing = subscribing;
	*r->queue_tail = ev;
	r->queue_tail = &ev->next;
	return 0;
}

/* Everything queued is freed when it fails part-way: the request fails. */
static int enqueue_actions(struct replay *r, const struct action *a)
{
	for (; a; a = a->next) {
		int err = enqueue(r, a, NULL, 0, NULL, 0, NULL);

		if (err < 0)
			return err;
	}
	return 0;
}

static void drop_queue(struct replay *r)
{
	while (r->queue) {
		struct event *ev = r->queue;

		r->queue = ev->next;
		free(ev);
	}
	r->queue_tail = &r->queue;
}

static void perform(struct replay *r, const struct action *a)
{
	if (!a->ch) {
		log_debug("%s:%d: the device disconnects", r->path, a->line);
		r->disconnected = true;
		replay_stop(r);
		return;
	}
	if (!a->ch->subscribed) {
		/* Its client configuration is off: a device would not send it. */
		log_notice("%s:%d: %s %s not sent: the plugin has not subscribed to it", r->path,
			   a->line, a->indicate ? "indication of" : "notification of",
			   a->ch->spelled);
		return;
	}
	log_debug("%s:%d: %s %s (%zu bytes)", r->path, a->line, a->indicate ? "indicate" : "notify",
		  a->ch->spelled, a->len);
	device_value_changed(r->dev, a->ch->uuid, a->data, a->len);
}

bool replay_step(struct replay *r)
{
	struct event *ev = r->queue;

	if (!ev)
		return false;
	r->queue = ev->next;
	if (!r->queue)
		r->queue_tail = &r->queue;
	if (ev->action)
		perform(r, ev->action);
	else
		device_op_done(ev->op, ev->err, ev->data, ev->len);
	free(ev);
	return true;
}

static void on_timeline(struct loop *loop, void *user_data)
{
	struct replay *r = user_data;
	uint64_t elapsed = loop_now_ms() - r->start_ms;

	for (; r->next_timed && r->next_timed->at <= elapsed; r->next_timed = r->next_timed->next)
		if (enqueue(r, r->next_timed, NULL, 0, NULL, 0, NULL) < 0)
			log_err("%s:%d: out of memory: event lost", r->path, r->next_timed->line);
	if (r->next_timed)
		loop_timer_rearm(loop, r->timer_id, r->next_timed->at - elapsed);
	else
		r->timer_id = 0;
}

int replay_start(struct replay *r, struct loop *loop, struct varde_device *dev)
{
	r->loop = loop;
	r->dev = dev;
	r->start_ms = loop_now_ms();
	r->next_timed = r->timeline;
	r->next_expected = r->expectations;
	if (!r->timeline)
		return 0;
	r->timer_id = loop_add_timer(loop, r->timeline->at, on_timeline, r, NULL);
	return r->timer_id < 0 ? r->timer_id : 0;
}

bool replay_timeline_done(const struct replay *r)
{
	return !r->next_timed;
}

bool replay_done(const struct replay *r)
{
	return r->disconnected || (!r->next_timed && !r->queue && !r->next_expected);
}

bool replay_disconnected(const struct replay *r)
{
	return r->disconnected;
}

void replay_stop(struct replay *r)
{
	if (r->timer_id > 0)
		loop_remove(r->loop, r->timer_id);
	r->timer_id = 0;
	r->next_timed = NULL;
	drop_queue(r);
	/* Subscriptions end with the link. */
	for (size_t i = 0; i < r->n_chars; i++)
		r->chars[i]->subscribed = false;
	r->dev = NULL;
}

uint64_t replay_length_ms(const struct replay *r)
{
	uint64_t last = 0;

	for (const struct action *a = r->timeline; a; a = a->next)
		last = a->at;
	return last;
}

unsigned int replay_mismatches(const struct replay *r)
{
	unsigned int n = r->unexpected_writes;

	for (const struct expectation *x = r->next_expected; x; x = x->next, n++) {
		char hex[HEX_TEXT];

		varde_hex(x->data, x->len, hex, sizeof(hex));
		log_err("%s:%d: the plugin never wrote %s to %s", r->path, x->line, hex,
			x->ch->spelled);
	}
	return n;
}

/* ---- the backend ------------------------------------------------------ */

static int backend_char_props(void *conn, const char *service, const char *uuid)
{
	const struct characteristic *ch = find_char(conn, service, uuid);

	return ch ? (int)ch->props : -ENOENT;
}

static int backend_subscribe(void *conn, const char *service, const char *uuid,
			     struct device_op *op)
{
	struct replay *r = conn;
	struct characteristic *ch = find_char(r, service, uuid);
	int err;

	if (!ch)
		return -ENOENT;
	if (!(ch->props & (VARDE_CHAR_NOTIFY | VARDE_CHAR_INDICATE)))
		return enqueue(r, NULL, op, -EPROTO, NULL, 0, NULL);
	if (ch->subscribe_error)
		return enqueue(r, NULL, op, ch->subscribe_error, NULL, 0, NULL);
	log_debug("%s: the plugin subscribes to %s", r->path, ch->spelled);
	ch->subscribed = true;
	err = enqueue_actions(r, ch->on_subscribe);
	if (err < 0)
		return err;
	return enqueue(r, NULL, op, 0, NULL, 0, ch);
}

static int backend_read(void *conn, const char *service, const char *uuid, struct device_op *op)
{
	struct replay *r = conn;
	const struct characteristic *ch = find_char(r, service, uuid);

	if (!ch)
		return -ENOENT;
	if (!(ch->props & VARDE_CHAR_READ))
		return enqueue(r, NULL, op, -EPROTO, NULL, 0, NULL);
	log_debug("%s: the plugin reads %s", r->path, ch->spelled);
	return enqueue(r, NULL, op, 0, ch->value, ch->len, NULL);
}

static bool write_expected(const struct expectation *x, const struct characteristic *ch,
			   const uint8_t *data, size_t len, bool with_response)
{
	return x && x->ch == ch && x->with_response == with_response && x->len == len &&
	       (!len || !memcmp(x->data, data, len));
}

static int backend_write(void *conn, const char *service, const char *uuid, const uint8_t *data,
			 size_t len, bool with_response, struct device_op *op)
{
	struct replay *r = conn;
	const struct expectation *x = r->next_expected;
	struct characteristic *ch = find_char(r, service, uuid);
	unsigned int need = with_response ? VARDE_CHAR_WRITE : VARDE_CHAR_WRITE_WITHOUT_RESPONSE;
	const char *how = with_response ? "" : " without response";
	char hex[HEX_TEXT], want[HEX_TEXT];
	int err;

	if (!ch)
		return -ENOENT;
	varde_hex(data, len, hex, sizeof(hex));
	if (write_expected(x, ch, data, len, with_response)) {
		log_debug("%s:%d: the plugin writes %s to %s%s, as expected", r->path, x->line, hex,
			  ch->spelled, how);
		r->next_expected = x->next;
		err = enqueue(r, NULL, op, x->error, NULL, 0, NULL);
		return err < 0 ? err : enqueue_actions(r, x->responses);
	}
	r->unexpected_writes++;
	if (x) {
		varde_hex(x->data, x->len, want, sizeof(want));
		log_err("%s: unexpected write%s of %s to %s; expected (line %d) %s to %s%s",
			r->path, how, hex, ch->spelled, x->line, want, x->ch->spelled,
			x->with_response ? "" : " without response");
	} else {
		log_err("%s: unexpected write%s of %s to %s; no more writes expected", r->path, how,
			hex, ch->spelled);
	}
	/* The device takes it if it can, and does nothing more. */
	return enqueue(r, NULL, op, (ch->props & need) ? 0 : -EPROTO, NULL, 0, NULL);
}

static void backend_cancel(void *conn, struct device_op *op)
{
	struct replay *r = conn;
	struct event **p = &r->queue;

	while (*p) {
		struct event *ev = *p;

		if (ev->op != op) {
			p = &ev->next;
			continue;
		}
		if (ev->subscribing)
			ev->subscribing->subscribed = false;
		*p = ev->next;
		free(ev);
	}
	r->queue_tail = &r->queue;
	while (*r->queue_tail)
		r->queue_tail = &(*r->queue_tail)->next;
}

static const struct device_backend backend = {
	.char_props = backend_char_props,
	.subscribe = backend_subscribe,
	.read = backend_read,
	.write = backend_write,
	.cancel = backend_cancel,
};

const struct device_backend *replay_backend(void)
{
	return &backend;
}

/* ---- teardown --------------------------------------------------------- */

static void settings_free(struct setting *list, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		free(list[i].key);
		free(list[i].value);
	}
	free(list);
}

void replay_free(struct replay *r)
{
	if (!r)
		return;
	drop_queue(r);
	for (size_t i = 0; i < r->n_chars; i++) {
		actions_free(r->chars[i]->on_subscribe);
		free(r->chars[i]->spelled);
		free(r->chars[i]->value);
		free(r->chars[i]);
	}
	free(r->chars);
	free(r->services);
	actions_free(r->timeline);
	while (r->expectations) {
		struct expectation *x = r->expectations;

		r->expectations = x->next;
		actions_free(x->responses);
		free(x->data);
		free(x);
	}
	settings_free(r->state, r->n_state);
	settings_free(r->expected_state, r->n_expected_state);
	free(r->path);
	free(r);
}
