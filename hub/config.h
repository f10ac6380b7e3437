/* SPDX-License-Identifier: MIT */
/*
 * Configuration: an INI file plus an optional drop-in folder FILE.d/ whose
 * *.conf files are read in name order after it. Every key is validated
 * against the schema table in config.c (type, default, range, help); an
 * unknown section or key, a bad value, a duplicate section or a bad device
 * address is an error naming file and line.
 *
 * Section rules:
 *  - [hub], [mqtt], [bluetooth], [store]: once per file; a drop-in may set
 *    keys again and the later file wins (that is what drop-ins are for).
 *    The same key twice within one file is an error.
 *  - [device AA:BB:CC:DD:EE:FF]: once across ALL files. Binding a device in
 *    two places could send one patient's readings to another.
 *  - [plugin NAME]: options for plugin NAME, checked against the plugin's
 *    own schema by the loader.
 */
#ifndef VARDE_CONFIG_H
#define VARDE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_USERS 16 /* user.N mappings per device */

struct config_location {
	char *file;
	int line;
};

struct config_user {
	uint32_t user_id;
	char *patient;
};

struct config_device {
	char address[18]; /* upper case, as BlueZ prints it */
	char *name; /* installer's label, optional */
	char *patient; /* readings without a device user id */
	struct config_user users[CONFIG_MAX_USERS];
	size_t n_users;
	struct config_location where;
};

struct config_option {
	char *key;
	char *value;
	struct config_location where;
};

struct config_plugin {
	char *name;
	struct config_option *options;
	size_t n_options;
	struct config_location where;
};

struct config {
	struct {
		char *id;
		char *state_dir;
		char *plugin_dir;
		char *rules;
		int log_level;
	} hub;
	struct {
		char *host; /* a path starting with / is a unix socket */
		int port;
		char *tls_ca;
		char *tls_cert;
		char *tls_key;
		bool allow_plaintext;
		char *username;
		char *password;
		char *topic_prefix;
		int keepalive;
	} mqtt;
	struct {
		int clock_tolerance; /* seconds */
		int reconnect_max; /* seconds */
	} bluetooth;
	struct {
		int max_outbox; /* readings and alerts kept while offline */
	} store;
	struct config_device *devices;
	size_t n_devices;
	struct config_plugin *plugins;
	size_t n_plugins;
};

/* Loads FILE and FILE.d/. Errors are logged as "FILE:LINE: message"; returns
 * NULL when there was any. */
struct config *config_load(const char *path);
/* Parses one buffer as if it were the file `name` (for tests and fuzzing). */
struct config *config_load_buffer(const char *name, const char *buf, size_t len);
void config_free(struct config *cfg);

const struct config_device *config_find_device(const struct config *cfg, const char *address);
const struct config_plugin *config_find_plugin(const struct config *cfg, const char *name);

/* Prints every key with its type, default, range and help (for --help-config). */
void config_print_reference(void);

#endif /* VARDE_CONFIG_H */
