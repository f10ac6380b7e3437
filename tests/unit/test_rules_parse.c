/* SPDX-License-Identifier: MIT */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rules.h"

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void test_shipped_examples_are_valid(void **state)
{
	static const struct {
		const char *file, *version;
	} examples[] = {
		{VARDE_SOURCE_DIR "/config/rules-copd.json", "2024-06-01.1"},
		{VARDE_SOURCE_DIR "/config/rules-diabetes.json", "7"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(examples) / sizeof(examples[0]); i++) {
		char err[256];
		size_t len;
		char *text = read_file(examples[i].file, &len);
		struct ruleset *set = ruleset_parse(text, len, err, sizeof(err));

		if (!set)
			fail_msg("%s: %s", examples[i].file, err);
		assert_string_equal(ruleset_version(set), examples[i].version);
		ruleset_free(set);
		free(text);
	}
}

/* A rule set of one rule for p-1, so that each case shows only the rule. */
#define ONE(rule) "{\"version\": 1, \"patients\": {\"p-1\": {\"rules\": [" rule "]}}}"
#define SPO2 "\"id\": \"a\", \"type\": \"threshold\", \"metric\": \"spo2\", "

static const struct {
	const char *json, *error;
} bad[] = {
	{"{\"version\": 1, \"patients\": {\"p-4f1c9a\": {\"rules\": ["
	 "{" SPO2 "\"warning\": {\"low\": 88}},"
	 "{\"id\": \"b\", \"type\": \"missing\", \"metric\": \"spo2\", \"severity\": "
	 "\"warning\", \"after\": \"48h\"},"
	 "{\"id\": \"c\", \"type\": \"threshold\", \"metric\": \"spo2\", "
	 "\"critical\": {\"low\": \"85\"}}]}}}",
	 "patients.p-4f1c9a.rules[2].critical.low: expected a number"},
	{"{\"version\": 1, \"colour\": 1}",
	 "colour: unknown key; allowed: version, defaults, patients, note"},
	{"{}", "version: missing required key"},
	{"{\"version\": true}", "version: expected a string or a whole number >= 0"},
	{"{\"version\": -1}", "version: expected a string or a whole number >= 0"},
	{"{\"version\": \"\"}", "version: expected 1..64 characters"},
	{"{\"version\": ", "rule set: line 1"},
	{"{\"version\": 1, \"version\": 2}", "duplicate object key"},
	{"[]", "rule set: expected a JSON object"},
	{"{\"version\": 1, \"defaults\": {}}", "defaults.rules: missing required key"},
	{"{\"version\": 1, \"defaults\": {\"rules\": {}}}",
	 "defaults.rules: expected an array of at most 64 rules"},
	{"{\"version\": 1, \"patients\": []}", "patients: expected an object keyed by patient id"},
	{"{\"version\": 1, \"patients\": {\"Ola Nordmann\": {\"rules\": []}}}",
	 "patients.Ola Nordmann: not a pseudonymous patient id"},
	{ONE("{" SPO2 "\"warning\": {\"low\": 88}, \"hist\": 1}"),
	 "patients.p-1.rules[0].hist: unknown key; allowed: id, type, note, metric, warning, "
	 "critical, hysteresis, clear_hits"},
	{ONE("{\"id\": \"a\", \"type\": \"thresh\"}"),
	 "patients.p-1.rules[0].type: unknown rule type 'thresh'"},
	{ONE("{\"id\": \"a\"}"), "patients.p-1.rules[0].type: missing required key"},
	{ONE("{\"type\": \"device_clock\", \"device\": \"C0:26:DA:01:02:03\", "
	     "\"severity\": \"warning\"}"),
	 "patients.p-1.rules[0].id: missing required key"},
	{ONE("{\"id\": \"a b\", \"type\": \"threshold\"}"),
	 "patients.p-1.rules[0].id: not a rule id"},
	{ONE("{\"id\": \"a\", \"type\": \"threshold\", \"metric\": \"sp02\", "
	     "\"warning\": {\"low\": 88}}"),
	 "patients.p-1.rules[0].metric: unknown metric 'sp02'"},
	{ONE("{\"id\": \"a\", \"type\": \"threshold\", \"warning\": {\"low\": 88}}"),
	 "patients.p-1.rules[0].metric: missing required key"},
	{ONE("{" SPO2 "\"warning\": {\"low\": 85}, \"critical\": {\"low\": 88}}"),
	 "patients.p-1.rules[0].critical.low: must not be above warning.low"},
	{ONE("{" SPO2 "\"warning\": {\"high\": 99}, \"critical\": {\"high\": 98}}"),
	 "patients.p-1.rules[0].critical.high: must not be below warning.high"},
	{ONE("{" SPO2 "\"warning\": {\"low\": 90, \"high\": 90}}"),
	 "patients.p-1.rules[0].warning.high: must be above low"},
	{ONE("{" SPO2 "\"warning\": {\"hits\": 2}}"),
	 "patients.p-1.rules[0].warning: needs 'low', 'high' or both"},
	{ONE("{" SPO2 "\"warning\": 88}"), "patients.p-1.rules[0].warning: expected an object"},
	{ONE("{" SPO2 "\"hysteresis\": 1}"),
	 "patients.p-1.rules[0]: needs a 'warning' or 'critical' band"},
	{ONE("{" SPO2 "\"warning\": {\"low\": 88, \"hits\": 0}}"),
	 "patients.p-1.rules[0].warning.hits: 0 is outside 1..100"},
	{ONE("{" SPO2 "\"warning\": {\"low\": 88, \"hits\": 2.5}}"),
	 "patients.p-1.rules[0].warning.hits: expected a whole number"},
	{ONE("{" SPO2 "\"warning\": {\"low\": 88}, \"hysteresis\": -1}"),
	 "patients.p-1.rules[0].hysteresis: -1 is outside 0..1000"},
	{ONE("{" SPO2 "\"warning\": {\"low\": 88}}, {" SPO2 "\"warning\": {\"low\": 88}}"),
	 "patients.p-1.rules[1].id: rule id 'a' is also used by rules[0]"},
	{ONE("{\"id\": \"c\", \"type\": \"confirm\", \"severity\": \"critical\", \"window\": "
	     "\"15 min\", \"any_of\": [{\"metric\": \"bp_systolic\", \"at_least\": 180}]}"),
	 "patients.p-1.rules[0].window: '15 min' is not a duration"},
	{ONE("{\"id\": \"c\", \"type\": \"confirm\", \"severity\": \"critical\", \"window\": "
	     "\"15m\", \"any_of\": [{\"metric\": \"bp_systolic\", \"at_least\": 180}, "
	     "{\"metric\": \"bp_diastolic\"}]}"),
	 "patients.p-1.rules[0].any_of[1]: needs exactly one of 'at_least' and 'at_most'"},
	{ONE("{\"id\": \"c\", \"type\": \"confirm\", \"severity\": \"critical\", \"window\": "
	     "\"15m\", \"any_of\": []}"),
	 "patients.p-1.rules[0].any_of: expected an array of 1..4 conditions"},
	{ONE("{\"id\": \"c\", \"type\": \"confirm\", \"severity\": \"critical\", \"window\": "
	     "\"2d\", \"any_of\": [{\"metric\": \"bp_systolic\", \"at_least\": 180}]}"),
	 "patients.p-1.rules[0].window: '2d' is outside 60s..86400s"},
	{ONE("{\"id\": \"m\", \"type\": \"missing\", \"metric\": \"spo2\", \"severity\": "
	     "\"warning\"}"),
	 "patients.p-1.rules[0].after: missing required key"},
	{ONE("{\"id\": \"m\", \"type\": \"missing\", \"metric\": \"spo2\", \"severity\": "
	     "\"high\", \"after\": \"48h\"}"),
	 "patients.p-1.rules[0].severity: expected \"warning\" or \"critical\""},
	{ONE("{\"id\": \"m\", \"type\": \"missing\", \"metric\": \"spo2\", \"severity\": "
	     "\"warning\", \"after\": 48}"),
	 "patients.p-1.rules[0].after: expected a duration"},
	{ONE("{\"id\": \"b\", \"type\": \"baseline\", \"metric\": \"spo2\", \"severity\": "
	     "\"warning\", \"days\": 7, \"drop\": 3, \"rise\": 3}"),
	 "patients.p-1.rules[0]: needs exactly one of 'drop' and 'rise'"},
	{ONE("{\"id\": \"b\", \"type\": \"baseline\", \"metric\": \"spo2\", \"severity\": "
	     "\"warning\", \"days\": 30, \"drop\": 3}"),
	 "patients.p-1.rules[0].days: 30 is outside 1..14"},
	{ONE("{\"id\": \"n\", \"type\": \"news2\", \"scale\": 3, \"warning\": {\"total\": 5}}"),
	 "patients.p-1.rules[0].scale: 3 is outside 1..2"},
	{ONE("{\"id\": \"n\", \"type\": \"news2\", \"scale\": 1, \"warning\": {\"total\": 12}}"),
	 "patients.p-1.rules[0].warning.total: 12 is outside 1..11"},
	{ONE("{\"id\": \"n\", \"type\": \"news2\", \"scale\": 1}"),
	 "patients.p-1.rules[0]: needs a 'warning' or 'critical' score"},
	{ONE("{\"id\": \"d\", \"type\": \"battery\", \"device\": \"C0:26:DA:01:02\", "
	     "\"severity\": \"warning\"}"),
	 "patients.p-1.rules[0].device: not a Bluetooth address"},
	{ONE("{\"id\": \"d\", \"type\": \"device_clock\", \"device\": \"C0:26:DA:01:02:03\", "
	     "\"severity\": \"warning\", \"metric\": \"spo2\"}"),
	 "patients.p-1.rules[0].metric: unknown key; allowed: id, type, note, device, severity"},
};

static void test_errors_name_the_path(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[512];
		struct ruleset *set =
			ruleset_parse(bad[i].json, strlen(bad[i].json), err, sizeof(err));

		if (set || !strstr(err, bad[i].error))
			fail_msg("case %zu: expected '%s', got '%s'", i, bad[i].error,
				 set ? "(accepted)" : err);
	}
}

static void test_without_error_buffer(void **state)
{
	(void)state;
	assert_null(ruleset_parse("{", 1, NULL, 0));
	assert_null(ruleset_version(NULL));
	ruleset_free(NULL);
}

static void test_minimal_and_durations(void **state)
{
	static const char json[] =
		ONE("{\"id\": \"m\", \"type\": \"missing\", \"metric\": \"glucose\", "
		    "\"severity\": \"warning\", \"after\": \"90m\", \"note\": \"x\"}");
	char err[256];
	struct ruleset *set = ruleset_parse("{\"version\": \"v1\"}", 17, err, sizeof(err));

	(void)state;
	assert_non_null(set);
	assert_string_equal(ruleset_version(set), "v1");
	ruleset_free(set);
	set = ruleset_parse(json, strlen(json), err, sizeof(err));
	if (!set)
		fail_msg("%s", err);
	ruleset_free(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_examples_are_valid),
		cmocka_unit_test(test_errors_name_the_path),
		cmocka_unit_test(test_without_error_buffer),
		cmocka_unit_test(test_minimal_and_durations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
