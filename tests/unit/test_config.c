/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "log.h"
#include "log_capture.h"

#define MINIMAL "[hub]\nid = gw-1\n[mqtt]\nhost = localhost\n"

static struct config *load(const char *text)
{
	log_capture_clear();
	return config_load_buffer("test.conf", text, strlen(text));
}

/* Loads text that must fail, and checks the error names `where` and says
 * `what`. */
static void expect_error(const char *text, const char *where, const char *what)
{
	struct config *cfg = load(text);

	if (cfg || !log_capture_has(where, what, NULL))
		fail_msg("expected '%s' ... '%s', got:\n%s", where, what, log_capture_text());
	config_free(cfg);
}

static void test_example_config_is_valid(void **state)
{
	struct config *cfg;
	const struct config_device *d;

	(void)state;
	cfg = config_load(VARDE_SOURCE_DIR "/config/varded.conf");
	assert_non_null(cfg);
	assert_string_equal(cfg->hub.id, "gw-0001");
	assert_string_equal(cfg->mqtt.host, "broker.example.org");
	assert_int_equal(cfg->mqtt.port, 8883);
	assert_string_equal(cfg->mqtt.tls_ca, "/etc/varde/ca.pem");
	assert_int_equal(cfg->n_devices, 2);
	d = config_find_device(cfg, "c0:26:da:01:02:04");
	assert_non_null(d);
	assert_null(d->patient);
	assert_int_equal(d->n_users, 2);
	assert_int_equal(d->users[1].user_id, 2);
	assert_string_equal(d->users[1].patient, "p-8b22e0");
	config_free(cfg);
}

static void test_defaults(void **state)
{
	struct config *cfg = load(MINIMAL);

	(void)state;
	assert_non_null(cfg);
	assert_string_equal(cfg->hub.state_dir, "/var/lib/varde");
	assert_string_equal(cfg->mqtt.topic_prefix, "varde/v1");
	assert_int_equal(cfg->mqtt.port, 8883);
	assert_false(cfg->mqtt.allow_plaintext);
	assert_int_equal(cfg->hub.log_level, VARDE_LOG_INFO);
	assert_int_equal(cfg->bluetooth.clock_tolerance, 30);
	assert_null(cfg->mqtt.tls_ca);
	config_free(cfg);
}

static void test_values_quotes_and_comments(void **state)
{
	struct config *cfg = load("; leading comment\n# another\n[hub]\n"
				  "id = gw-1 ; trailing comment\n"
				  "log_level = debug\n"
				  "[mqtt]\nhost = /run/mosquitto.sock\n"
				  "password = \"a;b #c \\\"q\\\"\"  ; comment\n"
				  "username = user#1\n"
				  "allow_plaintext = yes\n");

	(void)state;
	assert_non_null(cfg);
	assert_string_equal(cfg->hub.id, "gw-1");
	assert_int_equal(cfg->hub.log_level, VARDE_LOG_DEBUG);
	assert_string_equal(cfg->mqtt.host, "/run/mosquitto.sock");
	assert_string_equal(cfg->mqtt.password, "a;b #c \"q\"");
	/* '#' not after white space belongs to the value. */
	assert_string_equal(cfg->mqtt.username, "user#1");
	assert_true(cfg->mqtt.allow_plaintext);
	config_free(cfg);
}

static void test_unknown_key_lists_allowed(void **state)
{
	(void)state;
	expect_error(MINIMAL "[hub]\n", "test.conf:5", "appears twice");
	expect_error("[hub]\nid = g\nfoo = 1\n[mqtt]\nhost = localhost\n", "test.conf:3",
		     "unknown key 'foo' in [hub]; allowed: id, state_dir, plugin_dir");
	expect_error(MINIMAL "[device 11:22:33:44:55:66]\npatient = p1\ncolour = red\n",
		     "test.conf:7", "allowed: patient, name, user.N");
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_error(MINIMAL "port = 70000\n", "test.conf:5",
		     "'70000' is not a whole number in 1..65535");
	expect_error(MINIMAL "port = 0x50\n", "test.conf:5", "is not a whole number");
	expect_error(MINIMAL "allow_plaintext = maybe\n", "test.conf:5", "not true or false");
	expect_error("[hub]\nid = gw 1\n[mqtt]\nhost = localhost\n", "test.conf:2", "id: 'gw 1'");
	expect_error("[hub]\nid = g\nstate_dir = var/lib\n[mqtt]\nhost = localhost\n",
		     "test.conf:3", "not an absolute path");
	expect_error("[hub]\nid = g\nlog_level = loud\n[mqtt]\nhost = localhost\n", "test.conf:3",
		     "not one of err");
	expect_error(MINIMAL "password = \"open\n", "test.conf:5", "unterminated");
	expect_error(MINIMAL "just words\n", "test.conf:5", "expected 'key = value'");
	expect_error("id = g\n" MINIMAL, "test.conf:1", "outside any section");
	expect_error(MINIMAL "[mqtt\n", "test.conf:5", "malformed section header");
	expect_error(MINIMAL "[cloud]\n", "test.conf:5", "unknown section [cloud]");
	expect_error(MINIMAL "port = 1\nport = 2\n", "test.conf:6", "port is set twice");
}

static void test_missing_required_and_tls_rules(void **state)
{
	(void)state;
	expect_error("[hub]\nid = g\n", "test.conf", "missing required key 'host' in [mqtt]");
	expect_error("[hub]\nid = g\n[mqtt]\nhost = broker.example.org\n", "test.conf:4",
		     "not on this machine");
	expect_error("[hub]\nid = g\n[mqtt]\nhost = localhost\ntls_cert = /c.pem\n", "test.conf:5",
		     "tls_cert and tls_key go together");
	expect_error("[hub]\nid = g\n[mqtt]\nhost = localhost\ntls_cert = /c\ntls_key = /k\n",
		     "test.conf:5", "needs tls_ca");
	/* Remote and plaintext only when said explicitly. */
	struct config *cfg = load("[hub]\nid = g\n[mqtt]\nhost = 10.0.0.1\nallow_plaintext = "
				  "true\n");
	assert_non_null(cfg);
	config_free(cfg);
}

static void test_devices(void **state)
{
	struct config *cfg;

	(void)state;
	expect_error(MINIMAL "[device 11:22:33:44:55:GG]\npatient = p\n", "test.conf:5",
		     "not a Bluetooth address");
	expect_error(MINIMAL "[device 11:22:33:44:55]\npatient = p\n", "test.conf:5",
		     "not a Bluetooth address");
	expect_error(MINIMAL "[device 11:22:33:44:55:66]\npatient = p\n"
			     "[device 11:22:33:44:55:66]\npatient = q\n",
		     "test.conf:7", "already bound at test.conf:5");
	expect_error(MINIMAL "[device 11:22:33:44:55:66]\nname = x\n", "test.conf:5",
		     "bound to no patient");
	expect_error(MINIMAL "[device 11:22:33:44:55:66]\nuser.255 = p\n", "test.conf:6", "0..254");
	expect_error(MINIMAL "[device 11:22:33:44:55:66]\nuser.x = p\n", "test.conf:6", "0..254");
	expect_error(MINIMAL "[device 11:22:33:44:55:66]\nuser.1 = p\nuser.1 = q\n", "test.conf:7",
		     "set twice");
	expect_error(MINIMAL "[device 11:22:33:44:55:66]\npatient = Ola Nordmann\n", "test.conf:6",
		     "not a pseudonymous id");

	cfg = load(MINIMAL "[device aa:bb:cc:dd:ee:ff]\npatient = p-1\nuser.0 = p-2\n");
	assert_non_null(cfg);
	assert_string_equal(cfg->devices[0].address, "AA:BB:CC:DD:EE:FF");
	assert_string_equal(cfg->devices[0].patient, "p-1");
	assert_int_equal(cfg->devices[0].users[0].user_id, 0);
	assert_non_null(config_find_device(cfg, "aa:bb:cc:dd:ee:ff"));
	assert_null(config_find_device(cfg, "AA:BB:CC:DD:EE:00"));
	config_free(cfg);
}

static void test_plugin_sections(void **state)
{
	struct config *cfg;
	const struct config_plugin *pl;

	(void)state;
	cfg = load(MINIMAL "[plugin gls]\nrecord_timeout = 30\nquirk = x\n");
	assert_non_null(cfg);
	pl = config_find_plugin(cfg, "gls");
	assert_non_null(pl);
	assert_int_equal(pl->n_options, 2);
	assert_string_equal(pl->options[0].key, "record_timeout");
	assert_string_equal(pl->options[0].value, "30");
	assert_int_equal(pl->options[1].where.line, 7);
	config_free(cfg);
	expect_error(MINIMAL "[plugin gls]\na = 1\na = 2\n", "test.conf:7", "set twice");
	expect_error(MINIMAL "[plugin g s]\n", "test.conf:5", "not a plugin name");
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_dropin_folder(void **state)
{
	char dir[] = "/tmp/varde-config-XXXXXX", path[64], dropins[80], file[160];
	struct config *cfg;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/varded.conf", dir);
	snprintf(dropins, sizeof(dropins), "%s.d", path);
	write_file(path, MINIMAL "port = 1883\n[device 11:22:33:44:55:66]\npatient = p-1\n");
	assert_int_equal(mkdir(dropins, 0700), 0);
	snprintf(file, sizeof(file), "%s/10-port.conf", dropins);
	write_file(file, "[mqtt]\nport = 1884\n");
	snprintf(file, sizeof(file), "%s/20-devices.conf", dropins);
	write_file(file, "[device 11:22:33:44:55:77]\npatient = p-2\n");
	snprintf(file, sizeof(file), "%s/ignored.txt", dropins);
	write_file(file, "garbage\n");

	log_capture_clear();
	cfg = config_load(path);
	assert_non_null(cfg);
	/* A later file overrides a key; device sections accumulate. */
	assert_int_equal(cfg->mqtt.port, 1884);
	assert_int_equal(cfg->n_devices, 2);
	config_free(cfg);

	/* Binding the same device in a drop-in is refused, naming both. */
	snprintf(file, sizeof(file), "%s/30-again.conf", dropins);
	write_file(file, "[device 11:22:33:44:55:66]\npatient = p-3\n");
	log_capture_clear();
	cfg = config_load(path);
	assert_null(cfg);
	assert_true(log_capture_has("30-again.conf:1", "already bound at", "varded.conf:6", NULL));
	unlink(file);

	snprintf(file, sizeof(file), "%s/nope.conf", dir);
	log_capture_clear();
	assert_null(config_load(file));
	assert_true(log_capture_has("nope.conf", "No such file", NULL));

	snprintf(file, sizeof(file), "rm -rf %s", dir);
	assert_int_equal(system(file), 0);
}

static void test_binary_garbage_is_rejected_cleanly(void **state)
{
	static const char nul[] = "[hub]\nid = a\0b\n";

	(void)state;
	log_capture_clear();
	assert_null(config_load_buffer("bin.conf", nul, sizeof(nul) - 1));
	assert_true(log_capture_has("bin.conf:2", "NUL byte", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example_config_is_valid),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_values_quotes_and_comments),
		cmocka_unit_test(test_unknown_key_lists_allowed),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_missing_required_and_tls_rules),
		cmocka_unit_test(test_devices),
		cmocka_unit_test(test_plugin_sections),
		cmocka_unit_test(test_dropin_folder),
		cmocka_unit_test(test_binary_garbage_is_rejected_cleanly),
	};

	log_capture_start();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
