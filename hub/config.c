/* SPDX-License-Identifier: MIT */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bluetooth/bluetooth.h>

#include "log.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ID_MAX 64

enum key_type {
	KEY_STRING, /* any printable text */
	KEY_ID, /* [A-Za-z0-9._-], safe in MQTT topics and FHIR ids */
	KEY_PATH, /* an absolute path */
	KEY_HOST, /* a host name or address, or an absolute unix socket path */
	KEY_INT,
	KEY_BOOL,
	KEY_LOGLEVEL,
};

struct key_schema {
	const char *section;
	const char *key;
	enum key_type type;
	size_t offset;
	const char *def; /* NULL: no default */
	bool required;
	long min, max; /* KEY_INT */
	const char *help;
};

#define ROW(sec, k, type, field, def, req, min, max, help) \
	{ \
		sec, k, type, offsetof(struct config, field), def, req, min, max, help \
	}

/* The schema: one row per key. Keep DESIGN.md section 10 and the README's
 * reference in step with it (`varded --help-config` prints it). */
static const struct key_schema schema[] = {
	ROW("hub", "id", KEY_ID, hub.id, NULL, true, 0, 0,
	    "this gateway's id, used in MQTT topics (letters, digits, . _ -)"),
	ROW("hub", "state_dir", KEY_PATH, hub.state_dir, "/var/lib/varde", false, 0, 0,
	    "folder of the store (mode 0700)"),
	ROW("hub", "plugin_dir", KEY_PATH, hub.plugin_dir, VARDE_PLUGIN_DIR, false, 0, 0,
	    "folder of device plugins (*.so)"),
	ROW("hub", "rules", KEY_PATH, hub.rules, NULL, false, 0, 0, "clinical rule set (JSON)"),
	ROW("hub", "log_level", KEY_LOGLEVEL, hub.log_level, "info", false, 0, 0,
	    "err, warning, notice, info or debug"),
	ROW("mqtt", "host", KEY_HOST, mqtt.host, NULL, true, 0, 0,
	    "broker host name or address; a path starting with / is a unix socket"),
	ROW("mqtt", "port", KEY_INT, mqtt.port, "8883", false, 1, 65535, "broker TCP port"),
	ROW("mqtt", "tls_ca", KEY_PATH, mqtt.tls_ca, NULL, false, 0, 0,
	    "CA certificate (PEM); setting it turns TLS on"),
	ROW("mqtt", "tls_cert", KEY_PATH, mqtt.tls_cert, NULL, false, 0, 0,
	    "client certificate (PEM)"),
	ROW("mqtt", "tls_key", KEY_PATH, mqtt.tls_key, NULL, false, 0, 0, "client key (PEM)"),
	ROW("mqtt", "allow_plaintext", KEY_BOOL, mqtt.allow_plaintext, "false", false, 0, 0,
	    "allow an unencrypted connection to a broker that is not on loopback"),
	ROW("mqtt", "username", KEY_STRING, mqtt.username, NULL, false, 0, 0,
	    "broker user name (optional)"),
	ROW("mqtt", "password", KEY_STRING, mqtt.password, NULL, false, 0, 0,
	    "broker password (optional; keep the file mode 0640)"),
	ROW("mqtt", "topic_prefix", KEY_STRING, mqtt.topic_prefix, "varde/v1", false, 0, 0,
	    "prefix of every topic"),
	ROW("mqtt", "keepalive", KEY_INT, mqtt.keepalive, "60", false, 5, 3600,
	    "MQTT keepalive in seconds"),
	ROW("bluetooth", "clock_tolerance", KEY_INT, bluetooth.clock_tolerance, "30", false, 1,
	    86400, "seconds a device clock may differ before the hub sets it"),
	ROW("bluetooth", "reconnect_max", KEY_INT, bluetooth.reconnect_max, "300", false, 1, 3600,
	    "longest wait between reconnection attempts, in seconds"),
	ROW("store", "max_outbox", KEY_INT, store.max_outbox, "100000", false, 100, 10000000,
	    "messages kept while the broker is unreachable; the oldest go first"),
};

static const char *const fixed_sections[] = {"hub", "mqtt", "bluetooth", "store"};
static const char device_keys[] = "patient, name, user.N (N = 0..254)";

/* SEC_BAD: inside a section whose header was refused; its keys are skipped
 * so that one mistake gives one error. */
enum section_kind { SEC_NONE, SEC_BAD, SEC_FIXED, SEC_DEVICE, SEC_PLUGIN };

struct parser {
	struct config *cfg;
	const char *file;
	int line;
	int errors;
	enum section_kind kind;
	const char *section; /* SEC_FIXED */
	struct config_device *device;
	struct config_plugin *plugin;
	/* Per file: fixed sections and keys seen, to refuse duplicates. */
	bool section_seen[ARRAY_SIZE(fixed_sections)];
	bool key_seen[ARRAY_SIZE(schema)];
	/* Across files: where each key was last set, for later checks. */
	struct config_location key_where[ARRAY_SIZE(schema)];
	char *main_file;
};

static void parse_error(struct parser *p, const char *fmt, ...) VARDE_PRINTF(2, 3);

static void parse_error(struct parser *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("%s:%d: %s", p->file, p->line, msg);
	p->errors++;
}

static void at_error(struct parser *p, const struct config_location *where, const char *fmt, ...)
	VARDE_PRINTF(3, 4);

static void at_error(struct parser *p, const struct config_location *where, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_err("%s:%d: %s", where->file, where->line, msg);
	p->errors++;
}

static char **field_str(struct config *cfg, const struct key_schema *k)
{
	return (char **)((char *)cfg + k->offset);
}

static int *field_int(struct config *cfg, const struct key_schema *k)
{
	return (int *)((char *)cfg + k->offset);
}

static bool *field_bool(struct config *cfg, const struct key_schema *k)
{
	return (bool *)((char *)cfg + k->offset);
}

static bool valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > ID_MAX)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return false;
	return true;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static bool parse_long(const char *s, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(s, &end, 10);
	return errno == 0 && end != s && *end == '\0';
}

static bool parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
		if (strcmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

/* Checks and stores `value` for schema row `k`. Returns false (and has
 * reported) when the value is bad. */
static bool set_value(struct parser *p, const struct key_schema *k, const char *value)
{
	long n;
	bool b;
	int level;
	char **str;

	switch (k->type) {
	case KEY_INT:
		if (!parse_long(value, &n) || n < k->min || n > k->max) {
			parse_error(p, "%s: '%s' is not a whole number in %ld..%ld", k->key, value,
				    k->min, k->max);
			return false;
		}
		*field_int(p->cfg, k) = (int)n;
		return true;
	case KEY_BOOL:
		if (!parse_bool(value, &b)) {
			parse_error(p, "%s: '%s' is not true or false", k->key, value);
			return false;
		}
		*field_bool(p->cfg, k) = b;
		return true;
	case KEY_LOGLEVEL:
		level = log_level_from_name(value);
		if (level < 0) {
			parse_error(p, "%s: '%s' is not one of err, warning, notice, info, debug",
				    k->key, value);
			return false;
		}
		*field_int(p->cfg, k) = level;
		return true;
	case KEY_ID:
		if (!valid_id(value)) {
			parse_error(p, "%s: '%s' must be 1..%d letters, digits, '.', '_' or '-'",
				    k->key, value, ID_MAX);
			return false;
		}
		break;
	case KEY_PATH:
		if (value[0] != '/' || !printable(value)) {
			parse_error(p, "%s: '%s' is not an absolute path", k->key, value);
			return false;
		}
		break;
	case KEY_HOST:
		if (!value[0] || strpbrk(value, " \t") || !printable(value)) {
			parse_error(p, "%s: '%s' is not a host name, address or socket path",
				    k->key, value);
			return false;
		}
		break;
	case KEY_STRING:
		if (!printable(value)) {
			parse_error(p, "%s: contains control characters", k->key);
			return false;
		}
		break;
	}
	str = field_str(p->cfg, k);
	free(*str);
	*str = strdup(value);
	return *str != NULL;
}

static void set_defaults(struct parser *p)
{
	const char *file = p->file;

	p->file = "(built-in default)";
	for (size_t i = 0; i < ARRAY_SIZE(schema); i++)
		if (schema[i].def)
			set_value(p, &schema[i], schema[i].def);
	p->file = file;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* Value after '=': a "quoted string" (\" and \\ escapes) or bare text up to
 * a ';' or '#' that follows white space. Returns NULL on a bad quote. */
static char *parse_value(char *s)
{
	char *in, *out;

	s = trim(s);
	if (*s != '"') {
		for (char *c = s; *c; c++) {
			if ((*c == ';' || *c == '#') && (c == s || isspace((unsigned char)c[-1]))) {
				*c = '\0';
				break;
			}
		}
		return trim(s);
	}
	for (in = s + 1, out = s; *in && *in != '"'; in++) {
		if (*in == '\\' && (in[1] == '"' || in[1] == '\\'))
			in++;
		*out++ = *in;
	}
	if (*in != '"')
		return NULL;
	in = trim(in + 1);
	if (*in && *in != ';' && *in != '#')
		return NULL;
	*out = '\0';
	return s;
}

static void list_keys(const char *section, char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(schema) && off < len; i++) {
		int n;

		if (strcmp(schema[i].section, section) != 0)
			continue;
		n = snprintf(buf + off, len - off, "%s%s", off ? ", " : "", schema[i].key);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

static struct config_location here(struct parser *p)
{
	struct config_location w = {strdup(p->file), p->line};

	return w;
}

static struct config_device *find_device(struct config *cfg, const char *address)
{
	for (size_t i = 0; i < cfg->n_devices; i++)
		if (strcasecmp(cfg->devices[i].address, address) == 0)
			return &cfg->devices[i];
	return NULL;
}

static struct config_plugin *find_plugin(struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_plugins; i++)
		if (strcmp(cfg->plugins[i].name, name) == 0)
			return &cfg->plugins[i];
	return NULL;
}

static void begin_device(struct parser *p, const char *addr)
{
	struct config_device *d, *grown;
	bdaddr_t ba;

	if (bachk(addr) < 0 || str2ba(addr, &ba) < 0) {
		parse_error(p, "[device %s]: not a Bluetooth address (AA:BB:CC:DD:EE:FF)", addr);
		return;
	}
	d = find_device(p->cfg, addr);
	if (d) {
		parse_error(p,
			    "[device %s] is already bound at %s:%d; a device belongs to one "
			    "place only",
			    d->address, d->where.file, d->where.line);
		return;
	}
	grown = realloc(p->cfg->devices, (p->cfg->n_devices + 1) * sizeof(*grown));
	if (!grown) {
		parse_error(p, "out of memory");
		return;
	}
	p->cfg->devices = grown;
	d = &grown[p->cfg->n_devices++];
	memset(d, 0, sizeof(*d));
	ba2str(&ba, d->address);
	for (char *c = d->address; *c; c++)
		*c = (char)toupper((unsigned char)*c);
	d->where = here(p);
	p->kind = SEC_DEVICE;
	p->device = d;
}

static void begin_plugin(struct parser *p, const char *name)
{
	struct config_plugin *pl, *grown;

	if (!valid_id(name)) {
		parse_error(p, "[plugin %s]: not a plugin name", name);
		return;
	}
	pl = find_plugin(p->cfg, name);
	if (pl && strcmp(pl->where.file, p->file) == 0) {
		parse_error(p, "[plugin %s] appears twice in this file (first at line %d)", name,
			    pl->where.line);
		return;
	}
	if (!pl) {
		grown = realloc(p->cfg->plugins, (p->cfg->n_plugins + 1) * sizeof(*grown));
		if (!grown) {
			parse_error(p, "out of memory");
			return;
		}
		p->cfg->plugins = grown;
		pl = &grown[p->cfg->n_plugins++];
		memset(pl, 0, sizeof(*pl));
		pl->name = strdup(name);
	} else {
		free(pl->where.file);
	}
	pl->where = here(p);
	p->kind = SEC_PLUGIN;
	p->plugin = pl;
}

static void begin_section(struct parser *p, char *header)
{
	char *space;

	p->kind = SEC_BAD;
	header = trim(header);
	space = strpbrk(header, " \t");
	if (space) {
		*space = '\0';
		char *arg = trim(space + 1);

		if (strcmp(header, "device") == 0)
			begin_device(p, arg);
		else if (strcmp(header, "plugin") == 0)
			begin_plugin(p, arg);
		else
			parse_error(p,
				    "unknown section [%s %s]; sections are [hub], [mqtt], "
				    "[bluetooth], [store], [device ADDRESS], [plugin NAME]",
				    header, arg);
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(fixed_sections); i++) {
		if (strcmp(header, fixed_sections[i]) != 0)
			continue;
		if (p->section_seen[i]) {
			parse_error(p, "[%s] appears twice in this file", header);
			return;
		}
		p->section_seen[i] = true;
		p->kind = SEC_FIXED;
		p->section = fixed_sections[i];
		return;
	}
	parse_error(p,
		    "unknown section [%s]; sections are [hub], [mqtt], [bluetooth], [store], "
		    "[device ADDRESS], [plugin NAME]",
		    header);
}

static void set_fixed_key(struct parser *p, const char *key, const char *value)
{
	char allowed[512];

	for (size_t i = 0; i < ARRAY_SIZE(schema); i++) {
		if (strcmp(schema[i].section, p->section) != 0 || strcmp(schema[i].key, key) != 0)
			continue;
		if (p->key_seen[i]) {
			parse_error(p, "%s is set twice in [%s]", key, p->section);
			return;
		}
		p->key_seen[i] = true;
		if (set_value(p, &schema[i], value)) {
			free(p->key_where[i].file);
			p->key_where[i] = here(p);
		}
		return;
	}
	list_keys(p->section, allowed, sizeof(allowed));
	parse_error(p, "unknown key '%s' in [%s]; allowed: %s", key, p->section, allowed);
}

static bool set_device_id(struct parser *p, char **slot, const char *key, const char *value)
{
	if (*slot) {
		parse_error(p, "%s is set twice in [device %s]", key, p->device->address);
		return false;
	}
	if (!valid_id(value)) {
		parse_error(p,
			    "%s: '%s' is not a pseudonymous id (1..%d letters, digits, '.', "
			    "'_', '-')",
			    key, value, ID_MAX);
		return false;
	}
	*slot = strdup(value);
	return *slot != NULL;
}

static void set_device_key(struct parser *p, const char *key, const char *value)
{
	struct config_device *d = p->device;
	long user;

	if (strcmp(key, "patient") == 0) {
		set_device_id(p, &d->patient, key, value);
		return;
	}
	if (strcmp(key, "name") == 0) {
		if (d->name) {
			parse_error(p, "name is set twice in [device %s]", d->address);
		} else if (!printable(value)) {
			parse_error(p, "name: contains control characters");
		} else {
			d->name = strdup(value);
		}
		return;
	}
	if (strncmp(key, "user.", 5) == 0) {
		if (!parse_long(key + 5, &user) || user < 0 || user > 254) {
			parse_error(p,
				    "'%s': the device user id must be 0..254 (255 means "
				    "'unknown user')",
				    key);
			return;
		}
		for (size_t i = 0; i < d->n_users; i++) {
			if (d->users[i].user_id == (uint32_t)user) {
				parse_error(p, "%s is set twice in [device %s]", key, d->address);
				return;
			}
		}
		if (d->n_users == CONFIG_MAX_USERS) {
			parse_error(p, "too many user.N mappings (at most %d)", CONFIG_MAX_USERS);
			return;
		}
		if (set_device_id(p, &d->users[d->n_users].patient, key, value))
			d->users[d->n_users++].user_id = (uint32_t)user;
		return;
	}
	parse_error(p, "unknown key '%s' in [device %s]; allowed: %s", key, d->address,
		    device_keys);
}

static void set_plugin_key(struct parser *p, const char *key, const char *value)
{
	struct config_plugin *pl = p->plugin;
	struct config_option *grown;

	for (size_t i = 0; i < pl->n_options; i++) {
		struct config_option *o = &pl->options[i];

		if (strcmp(o->key, key) != 0)
			continue;
		if (strcmp(o->where.file, p->file) == 0) {
			parse_error(p, "%s is set twice in [plugin %s]", key, pl->name);
			return;
		}
		free(o->value);
		free(o->where.file);
		o->value = strdup(value);
		o->where = here(p);
		return;
	}
	if (!printable(value)) {
		parse_error(p, "%s: contains control characters", key);
		return;
	}
	grown = realloc(pl->options, (pl->n_options + 1) * sizeof(*grown));
	if (!grown) {
		parse_error(p, "out of memory");
		return;
	}
	pl->options = grown;
	grown[pl->n_options].key = strdup(key);
	grown[pl->n_options].value = strdup(value);
	grown[pl->n_options].where = here(p);
	pl->n_options++;
}

static void parse_line(struct parser *p, char *line)
{
	char *eq, *key, *value;

	line = trim(line);
	if (!*line || *line == ';' || *line == '#')
		return;
	if (*line == '[') {
		char *close = strchr(line, ']');

		if (!close || *trim(close + 1)) {
			p->kind = SEC_BAD;
			parse_error(p, "malformed section header");
			return;
		}
		*close = '\0';
		begin_section(p, line + 1);
		return;
	}
	eq = strchr(line, '=');
	if (!eq) {
		parse_error(p, "expected 'key = value' or '[section]'");
		return;
	}
	*eq = '\0';
	key = trim(line);
	value = parse_value(eq + 1);
	if (!*key) {
		parse_error(p, "missing key before '='");
		return;
	}
	if (!value) {
		parse_error(p, "%s: unterminated or malformed quoted value", key);
		return;
	}
	switch (p->kind) {
	case SEC_NONE:
		parse_error(p, "'%s' is outside any section", key);
		return;
	case SEC_BAD:
		return;
	case SEC_FIXED:
		set_fixed_key(p, key, value);
		return;
	case SEC_DEVICE:
		set_device_key(p, key, value);
		return;
	case SEC_PLUGIN:
		set_plugin_key(p, key, value);
		return;
	}
}

static void parse_buffer(struct parser *p, const char *name, const char *buf, size_t len)
{
	size_t pos = 0;

	p->file = name;
	p->line = 0;
	p->kind = SEC_NONE;
	p->section = NULL;
	p->device = NULL;
	p->plugin = NULL;
	memset(p->section_seen, 0, sizeof(p->section_seen));
	memset(p->key_seen, 0, sizeof(p->key_seen));

	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		char line[1024];

		p->line++;
		if (n >= sizeof(line)) {
			parse_error(p, "line longer than %zu bytes", sizeof(line) - 1);
		} else if (memchr(buf + pos, '\0', n)) {
			parse_error(p, "NUL byte in line");
		} else {
			memcpy(line, buf + pos, n);
			line[n] = '\0';
			parse_line(p, line);
		}
		pos += n + 1;
	}
}

static bool host_is_local(const char *host)
{
	return host[0] == '/' || strcmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
	       strcmp(host, "::1") == 0;
}

static size_t schema_index(const char *section, const char *key)
{
	for (size_t i = 0; i < ARRAY_SIZE(schema); i++)
		if (strcmp(schema[i].section, section) == 0 && strcmp(schema[i].key, key) == 0)
			return i;
	abort(); /* a typo in this file, caught by every test */
}

/* Where to point an error about key `key`: where it was set, else the main
 * file. */
static struct config_location key_location(struct parser *p, const char *section, const char *key)
{
	struct config_location w = p->key_where[schema_index(section, key)];

	if (!w.file) {
		w.file = p->main_file;
		w.line = 0;
	}
	return w;
}

static void check_whole(struct parser *p)
{
	struct config *cfg = p->cfg;
	struct config_location w;

	for (size_t i = 0; i < ARRAY_SIZE(schema); i++) {
		if (!schema[i].required || *field_str(cfg, &schema[i]))
			continue;
		w.file = p->main_file;
		w.line = 0;
		at_error(p, &w, "missing required key '%s' in [%s] (%s)", schema[i].key,
			 schema[i].section, schema[i].help);
	}
	if (cfg->mqtt.host && !cfg->mqtt.tls_ca && !cfg->mqtt.allow_plaintext &&
	    !host_is_local(cfg->mqtt.host)) {
		w = key_location(p, "mqtt", "host");
		at_error(p, &w,
			 "broker %s is not on this machine: set tls_ca (and the client "
			 "certificate) or, knowingly, allow_plaintext = true",
			 cfg->mqtt.host);
	}
	if (!cfg->mqtt.tls_cert != !cfg->mqtt.tls_key) {
		w = key_location(p, "mqtt", cfg->mqtt.tls_cert ? "tls_cert" : "tls_key");
		at_error(p, &w, "tls_cert and tls_key go together");
	}
	if (cfg->mqtt.tls_cert && !cfg->mqtt.tls_ca) {
		w = key_location(p, "mqtt", "tls_cert");
		at_error(p, &w, "a client certificate needs tls_ca");
	}
	for (size_t i = 0; i < cfg->n_devices; i++) {
		const struct config_device *d = &cfg->devices[i];

		if (!d->patient && d->n_users == 0)
			at_error(p, &d->where,
				 "[device %s] is bound to no patient: set patient "
				 "or user.N",
				 d->address);
	}
}

static struct config *config_new(struct parser *p, const char *main_file)
{
	memset(p, 0, sizeof(*p));
	p->cfg = calloc(1, sizeof(*p->cfg));
	p->main_file = strdup(main_file);
	if (!p->cfg || !p->main_file) {
		free(p->cfg);
		free(p->main_file);
		return NULL;
	}
	set_defaults(p);
	return p->cfg;
}

static struct config *config_finish(struct parser *p)
{
	if (p->errors == 0)
		check_whole(p);
	for (size_t i = 0; i < ARRAY_SIZE(schema); i++)
		free(p->key_where[i].file);
	free(p->main_file);
	if (p->errors) {
		config_free(p->cfg);
		return NULL;
	}
	return p->cfg;
}

struct config *config_load_buffer(const char *name, const char *buf, size_t len)
{
	struct parser p;

	if (!config_new(&p, name))
		return NULL;
	parse_buffer(&p, name, buf, len);
	return config_finish(&p);
}

static int parse_file(struct parser *p, const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, len = 0;

	if (!f) {
		int err = -errno;

		log_err("%s: %s", path, strerror(errno));
		p->errors++;
		return err;
	}
	for (;;) {
		char *grown;
		size_t n;

		if (len == cap) {
			if (cap >= 1u << 20) {
				log_err("%s: larger than 1 MiB", path);
				p->errors++;
				break;
			}
			cap = cap ? cap * 2 : 4096;
			grown = realloc(buf, cap);
			if (!grown) {
				p->errors++;
				break;
			}
			buf = grown;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	fclose(f);
	parse_buffer(p, path, buf ? buf : "", len);
	free(buf);
	return 0;
}

static int dropin_filter(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return de->d_name[0] != '.' && n > 5 && strcmp(de->d_name + n - 5, ".conf") == 0;
}

struct config *config_load(const char *path)
{
	struct dirent **names = NULL;
	char dir[PATH_MAX];
	struct parser p;
	int n;

	if (!config_new(&p, path))
		return NULL;
	parse_file(&p, path);

	snprintf(dir, sizeof(dir), "%s.d", path);
	n = scandir(dir, &names, dropin_filter, alphasort);
	for (int i = 0; i < n; i++) {
		char *file;

		if (asprintf(&file, "%s/%s", dir, names[i]->d_name) < 0) {
			p.errors++;
		} else {
			parse_file(&p, file);
			free(file);
		}
		free(names[i]);
	}
	free(names);
	return config_finish(&p);
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < ARRAY_SIZE(schema); i++) {
		if (schema[i].type != KEY_INT && schema[i].type != KEY_BOOL &&
		    schema[i].type != KEY_LOGLEVEL)
			free(*field_str(cfg, &schema[i]));
	}
	for (size_t i = 0; i < cfg->n_devices; i++) {
		struct config_device *d = &cfg->devices[i];

		free(d->name);
		free(d->patient);
		for (size_t u = 0; u < d->n_users; u++)
			free(d->users[u].patient);
		free(d->where.file);
	}
	free(cfg->devices);
	for (size_t i = 0; i < cfg->n_plugins; i++) {
		struct config_plugin *pl = &cfg->plugins[i];

		for (size_t o = 0; o < pl->n_options; o++) {
			free(pl->options[o].key);
			free(pl->options[o].value);
			free(pl->options[o].where.file);
		}
		free(pl->options);
		free(pl->name);
		free(pl->where.file);
	}
	free(cfg->plugins);
	free(cfg);
}

const struct config_device *config_find_device(const struct config *cfg, const char *address)
{
	return find_device((struct config *)(uintptr_t)cfg, address);
}

const struct config_plugin *config_find_plugin(const struct config *cfg, const char *name)
{
	return find_plugin((struct config *)(uintptr_t)cfg, name);
}

static const char *type_name(enum key_type t)
{
	switch (t) {
	case KEY_STRING:
		return "text";
	case KEY_ID:
		return "id";
	case KEY_PATH:
		return "path";
	case KEY_HOST:
		return "host";
	case KEY_INT:
		return "integer";
	case KEY_BOOL:
		return "boolean";
	case KEY_LOGLEVEL:
		return "level";
	}
	return "?";
}

void config_print_reference(void)
{
	const char *section = "";

	for (size_t i = 0; i < ARRAY_SIZE(schema); i++) {
		const struct key_schema *k = &schema[i];

		if (strcmp(section, k->section) != 0) {
			section = k->section;
			printf("%s[%s]\n", i ? "\n" : "", section);
		}
		printf("  %-16s %-8s", k->key, type_name(k->type));
		if (k->type == KEY_INT)
			printf(" %ld..%ld", k->min, k->max);
		if (k->required)
			printf(" (required)");
		else if (k->def)
			printf(" (default %s)", k->def);
		printf("\n      %s\n", k->help);
	}
	printf("\n[device AA:BB:CC:DD:EE:FF]\n  %s\n", device_keys);
	printf("\n[plugin NAME]\n  options of plugin NAME (see its README)\n");
}
