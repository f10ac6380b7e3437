/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "news2.h"
#include "rules.h"

#define T0 1717200000000LL /* 2024-06-01T00:00:00Z */
#define MIN (60 * 1000LL)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define P "p-4f1c9a"
#define DEV "C0:26:DA:01:02:03"

/* Every alert transition the engine emitted, in order. */
static struct alert seen[64];
static size_t n_seen;
static unsigned int obs_counter;
static char obs_ids[256][16];

static void collect(const struct alert *a, void *user_data)
{
	(void)user_data;
	assert_true(n_seen < sizeof(seen) / sizeof(seen[0]));
	seen[n_seen++] = *a;
}

static void reset(void)
{
	n_seen = 0;
}

static const struct alert *last(void)
{
	assert_true(n_seen > 0);
	return &seen[n_seen - 1];
}

static struct ruleset *parse(const char *json)
{
	char err[256];
	struct ruleset *set = ruleset_parse(json, strlen(json), err, sizeof(err));

	if (!set)
		fail_msg("%s", err);
	return set;
}

static struct rules *engine(const char *json)
{
	struct rules *r = rules_new();

	assert_int_equal(rules_set_ruleset(r, parse(json), T0, collect, NULL), 0);
	reset();
	return r;
}

static struct rules *engine_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	static char text[16384];
	size_t n;

	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	return engine(text);
}

static int feed_full(struct rules *r, const char *patient, const char *metric, double v,
		     uint32_t status, int64_t t, int beyond, const char *device)
{
	struct rule_input in = {
		.patient = patient,
		.metric_name = metric,
		.value = v,
		.special = beyond != 0,
		.beyond = beyond,
		.status = status,
		.time_ms = t,
		.device_address = device,
	};

	snprintf(obs_ids[obs_counter % 256], sizeof(obs_ids[0]), "obs-%u", obs_counter);
	in.observation_id = obs_ids[obs_counter++ % 256];
	return rules_evaluate(r, &in, collect, NULL);
}

static void feed(struct rules *r, const char *metric, double v, uint32_t status, int64_t t)
{
	assert_int_equal(feed_full(r, P, metric, v, status, t, 0, NULL), 0);
}

#define RULESET(rules) "{\"version\": \"v1\", \"patients\": {\"" P "\": {\"rules\": [" rules "]}}}"
#define SPO2_RULE(bands) \
	"{\"id\": \"spo2\", \"type\": \"threshold\", \"metric\": \"spo2\", " bands "}"

/* ---- the acceptance test ---------------------------------------- */

static void test_copd_example_acceptance(void **state)
{
	struct rules *r = engine_file(VARDE_SOURCE_DIR "/config/rules-copd.json");
	size_t raised = 0;

	(void)state;
	for (int i = 0; i < 3; i++)
		feed(r, "spo2", 80, 0, T0 + i * 5 * MIN);
	/* One alert for the patient: raised (warning after the second, by the
	 * example's 2 hits) and critical after the third. */
	for (size_t i = 0; i < n_seen; i++) {
		assert_string_equal(seen[i].id, seen[0].id);
		assert_string_equal(seen[i].patient, P);
		raised += seen[i].state == ALERT_RAISED;
	}
	assert_int_equal(raised, 1);
	assert_int_equal(last()->severity, ALERT_CRITICAL);
	assert_string_equal(last()->rule, "spo2");
	assert_string_equal(last()->ruleset_version, "2024-06-01.1");
	assert_int_equal(last()->n_evidence, 3);
	assert_string_equal(last()->reason_nb,
			    "SpO2 80 % under kritisk grense 85 % (3 målinger på rad)");
	assert_string_equal(last()->reason_en,
			    "SpO2 80 % below critical limit 85 % (3 consecutive readings)");
	rules_free(r);

	/* A questionable reading alone raises none, nor do three. */
	r = engine_file(VARDE_SOURCE_DIR "/config/rules-copd.json");
	feed(r, "spo2", 80, VARDE_STATUS_QUESTIONABLE, T0);
	assert_int_equal(n_seen, 0);
	feed(r, "spo2", 80, VARDE_STATUS_QUESTIONABLE, T0 + MIN);
	feed(r, "spo2", 80, VARDE_STATUS_LOW_PERFUSION, T0 + 2 * MIN);
	assert_int_equal(n_seen, 0);
	rules_free(r);
}

/* ---- threshold ---------------------------------------------------------- */

static void test_hits_before_raising(void **state)
{
	struct rules *r = engine(RULESET(SPO2_RULE("\"warning\": {\"low\": 88, \"hits\": 3}")));

	(void)state;
	feed(r, "spo2", 85, 0, T0);
	feed(r, "spo2", 85, 0, T0 + MIN);
	assert_int_equal(n_seen, 0);
	/* An in-band reading ends the run. */
	feed(r, "spo2", 95, 0, T0 + 2 * MIN);
	feed(r, "spo2", 85, 0, T0 + 3 * MIN);
	feed(r, "spo2", 85, 0, T0 + 4 * MIN);
	assert_int_equal(n_seen, 0);
	feed(r, "spo2", 86, 0, T0 + 5 * MIN);
	assert_int_equal(n_seen, 1);
	assert_int_equal(last()->state, ALERT_RAISED);
	assert_int_equal(last()->severity, ALERT_WARNING);
	assert_int_equal(last()->raised_ms, T0 + 5 * MIN);
	assert_int_equal(last()->n_evidence, 3);
	assert_string_equal(last()->reason_en,
			    "SpO2 86 % below warning limit 88 % (3 consecutive readings)");
	assert_string_equal(last()->id, P ":spo2:1717200300000");
	/* Further readings beyond the limit extend the evidence silently. */
	feed(r, "spo2", 84, 0, T0 + 6 * MIN);
	assert_int_equal(n_seen, 1);
	rules_free(r);
}

static void test_quality_flags_neither_raise_nor_clear(void **state)
{
	struct rules *r = engine(RULESET(SPO2_RULE("\"warning\": {\"low\": 88, \"hits\": 2}")));

	(void)state;
	feed(r, "spo2", 85, 0, T0);
	/* Flagged: not a hit, and does not break the run either. */
	feed(r, "spo2", 85, VARDE_STATUS_BODY_MOVEMENT, T0 + MIN);
	feed(r, "spo2", 97, VARDE_STATUS_SENSOR_DISPLACED, T0 + 2 * MIN);
	assert_int_equal(n_seen, 0);
	feed(r, "spo2", 85, 0, T0 + 3 * MIN);
	assert_int_equal(n_seen, 1);
	assert_int_equal(last()->n_evidence, 2);
	/* A flagged normal value does not clear. */
	feed(r, "spo2", 97, VARDE_STATUS_QUESTIONABLE, T0 + 4 * MIN);
	feed(r, "spo2", 97, VARDE_STATUS_TEST_DATA, T0 + 5 * MIN);
	assert_int_equal(n_seen, 1);
	/* A value the device could not give is no evidence either way. */
	assert_int_equal(feed_full(r, P, "spo2", 0, 0, T0 + 6 * MIN, 0, NULL), 0);
	struct rule_input nan = {
		.patient = P, .metric_name = "spo2", .special = true, .time_ms = T0 + 7 * MIN};
	assert_int_equal(rules_evaluate(r, &nan, collect, NULL), 0);
	assert_int_equal(n_seen, 1);
	feed(r, "spo2", 97, 0, T0 + 8 * MIN);
	assert_int_equal(last()->state, ALERT_CLEARED);
	rules_free(r);
}

static void test_hysteresis_and_clear_hits(void **state)
{
	struct rules *r = engine(RULESET(
		SPO2_RULE("\"warning\": {\"low\": 88}, \"hysteresis\": 2, \"clear_hits\": 2")));

	(void)state;
	feed(r, "spo2", 85, 0, T0);
	assert_int_equal(last()->state, ALERT_RAISED);
	/* Inside the band, but not by the margin: not a hit, not a clear. */
	feed(r, "spo2", 88, 0, T0 + MIN);
	feed(r, "spo2", 89, 0, T0 + 2 * MIN);
	assert_int_equal(n_seen, 1);
	feed(r, "spo2", 90, 0, T0 + 3 * MIN);
	assert_int_equal(n_seen, 1); /* one of the two clear_hits */
	feed(r, "spo2", 91, 0, T0 + 4 * MIN);
	assert_int_equal(n_seen, 2);
	assert_int_equal(last()->state, ALERT_CLEARED);
	assert_string_equal(last()->id, seen[0].id);
	assert_string_equal(last()->reason_nb, "SpO2 91 % innenfor grensene igjen");
	/* The next episode is a new alert. */
	feed(r, "spo2", 80, 0, T0 + 5 * MIN);
	assert_int_equal(last()->state, ALERT_RAISED);
	assert_string_not_equal(last()->id, seen[0].id);
	rules_free(r);
}

static void test_escalation_and_deescalation(void **state)
{
	struct rules *r = engine(RULESET(SPO2_RULE(
		"\"warning\": {\"low\": 88}, \"critical\": {\"low\": 85}, \"hysteresis\": 1")));

	(void)state;
	feed(r, "spo2", 87, 0, T0);
	assert_int_equal(last()->state, ALERT_RAISED);
	assert_int_equal(last()->severity, ALERT_WARNING);
	feed(r, "spo2", 84, 0, T0 + MIN);
	assert_int_equal(last()->state, ALERT_UPDATED);
	assert_int_equal(last()->severity, ALERT_CRITICAL);
	/* 85 is inside the critical band but not by the margin. */
	feed(r, "spo2", 85, 0, T0 + 2 * MIN);
	assert_int_equal(n_seen, 2);
	feed(r, "spo2", 86, 0, T0 + 3 * MIN);
	assert_int_equal(last()->state, ALERT_UPDATED);
	assert_int_equal(last()->severity, ALERT_WARNING);
	/* 87, 84, 85, 86: four readings below the warning limit. */
	assert_string_equal(last()->reason_en,
			    "SpO2 86 % below warning limit 88 % (4 consecutive readings)");
	feed(r, "spo2", 89, 0, T0 + 4 * MIN);
	assert_int_equal(last()->state, ALERT_CLEARED);
	for (size_t i = 0; i < n_seen; i++)
		assert_string_equal(seen[i].id, seen[0].id);
	rules_free(r);
}

static void test_beyond_range_glucose(void **state)
{
	struct rules *r = engine(RULESET(
		"{\"id\": \"glucose\", \"type\": \"threshold\", \"metric\": \"glucose\", "
		"\"warning\": {\"low\": 3.9, \"high\": 10}, \"critical\": {\"low\": 3.0, \"high\": "
		"13.9}}"));

	(void)state;
	/* 'Result too high' is no quality problem: beyond every band. */
	assert_int_equal(feed_full(r, P, "glucose_capillary_plasma", 0,
				   VARDE_STATUS_RESULT_TOO_HIGH, T0, +1, NULL),
			 0);
	assert_int_equal(n_seen, 1);
	assert_int_equal(last()->severity, ALERT_CRITICAL);
	assert_string_equal(last()->reason_nb,
			    "Glukose over måleområdet over kritisk grense 13,9 mmol/L (1 måling)");
	feed(r, "glucose", 7.2, 0, T0 + HOUR);
	assert_int_equal(last()->state, ALERT_CLEARED);
	assert_int_equal(
		feed_full(r, P, "glucose", 0, VARDE_STATUS_RESULT_TOO_LOW, T0 + 2 * HOUR, -1, NULL),
		0);
	assert_int_equal(last()->severity, ALERT_CRITICAL);
	assert_string_equal(
		last()->reason_en,
		"Glucose below measuring range below critical limit 3.0 mmol/L (1 reading)");
	/* A control-solution test is never the patient's glucose. */
	reset();
	assert_int_equal(
		feed_full(r, P, "glucose_control_solution", 1.0, 0, T0 + 3 * HOUR, 0, NULL),
		-EINVAL);
	assert_int_equal(n_seen, 0);
	rules_free(r);
}

/* ---- confirm ------------------------------------------------------------ */

#define CRISIS \
	RULESET("{\"id\": \"bp-crisis\", \"type\": \"confirm\", \"severity\": \"critical\", " \
		"\"any_of\": [{\"metric\": \"bp_systolic\", \"at_least\": 180}, {\"metric\": " \
		"\"bp_diastolic\", \"at_least\": 120}], \"count\": 2, \"window\": \"15m\"}")

static void bp(struct rules *r, double sys, double dia, int64_t t)
{
	feed(r, "bp_systolic", sys, 0, t);
	feed(r, "bp_diastolic", dia, 0, t);
	feed(r, "bp_mean", (sys + 2 * dia) / 3, 0, t);
}

static void test_confirm_window(void **state)
{
	struct rules *r = engine(CRISIS);

	(void)state;
	/* Both components high in one measurement count once. */
	bp(r, 190, 125, T0);
	assert_int_equal(n_seen, 0);
	/* Outside the window: not a confirmation. */
	bp(r, 185, 100, T0 + 20 * MIN);
	assert_int_equal(n_seen, 0);
	/* Inside: diastolic alone suffices (systolic OR diastolic). */
	bp(r, 150, 121, T0 + 30 * MIN);
	assert_int_equal(n_seen, 1);
	assert_int_equal(last()->state, ALERT_RAISED);
	assert_int_equal(last()->severity, ALERT_CRITICAL);
	assert_int_equal(last()->n_evidence, 2);
	assert_string_equal(last()->reason_en, "Diastolic blood pressure 121 mmHg ≥ 120 mmHg, "
					       "confirmed by 2 readings within 15 min");
	/* Only a whole measurement below both limits clears. */
	feed(r, "bp_systolic", 140, 0, T0 + 40 * MIN);
	assert_int_equal(n_seen, 1);
	feed(r, "bp_diastolic", 85, 0, T0 + 40 * MIN);
	assert_int_equal(last()->state, ALERT_CLEARED);
	rules_free(r);
}

static void test_confirm_reset_by_normal_reading(void **state)
{
	struct rules *r = engine(CRISIS);

	(void)state;
	bp(r, 185, 100, T0);
	bp(r, 140, 80, T0 + 5 * MIN);
	bp(r, 182, 100, T0 + 10 * MIN);
	assert_int_equal(n_seen, 0);
	bp(r, 181, 100, T0 + 12 * MIN);
	assert_int_equal(n_seen, 1);
	rules_free(r);
}

/* ---- baseline ----------------------------------------------------------- */

static void test_baseline(void **state)
{
	struct rules *r = engine(RULESET(
		"{\"id\": \"drop\", \"type\": \"baseline\", \"metric\": \"spo2\", \"severity\": "
		"\"warning\", \"days\": 7, \"drop\": 3, \"min_samples\": 5, \"hysteresis\": 1}"));

	(void)state;
	/* Readings closer than 15 minutes give one sample: still too few. */
	for (int i = 0; i < 6; i++)
		feed(r, "spo2", 95, 0, T0 + i * MIN);
	for (int i = 1; i < 4; i++)
		feed(r, "spo2", 95, 0, T0 + i * DAY);
	feed(r, "spo2", 90, 0, T0 + 4 * DAY); /* 4 samples before it */
	assert_int_equal(n_seen, 0);
	feed(r, "spo2", 91, 0, T0 + 5 * DAY); /* median of 95,95,95,95,90 */
	assert_int_equal(n_seen, 1);
	assert_int_equal(last()->state, ALERT_RAISED);
	assert_string_equal(last()->reason_en,
			    "SpO2 91 %, 4 below own 7-day median 95 % (1 reading)");
	assert_string_equal(last()->reason_nb,
			    "SpO2 91 %, under eget 7-døgns median 95 % med 4 (1 måling)");
	/* A drop of 2 is within the hysteresis margin: stays. */
	feed(r, "spo2", 93, 0, T0 + 5 * DAY + HOUR);
	assert_int_equal(n_seen, 1);
	feed(r, "spo2", 94, 0, T0 + 5 * DAY + 2 * HOUR);
	assert_int_equal(last()->state, ALERT_CLEARED);
	/* Samples older than 7 days leave the baseline: after a long gap
	 * there is too little history to judge. */
	reset();
	feed(r, "spo2", 80, 0, T0 + 30 * DAY);
	assert_int_equal(n_seen, 0);
	rules_free(r);
}

/* ---- missing measurement ------------------------------------------------ */

#define MISSING \
	RULESET("{\"id\": \"spo2-missing\", \"type\": \"missing\", \"metric\": \"spo2\", " \
		"\"severity\": \"warning\", \"after\": \"48h\"}")

static void test_missing_measurement(void **state)
{
	struct rules *r = engine(MISSING);

	(void)state;
	assert_int_equal(rules_next_deadline(r), T0 + 48 * HOUR);
	assert_int_equal(rules_tick(r, T0 + 47 * HOUR, collect, NULL), 0);
	feed(r, "spo2", 95, 0, T0 + 10 * HOUR);
	assert_int_equal(rules_next_deadline(r), T0 + 58 * HOUR);
	/* A flagged reading is not a usable measurement. */
	feed(r, "spo2", 95, VARDE_STATUS_INVALID, T0 + 20 * HOUR);
	assert_int_equal(rules_next_deadline(r), T0 + 58 * HOUR);
	assert_int_equal(rules_tick(r, T0 + 58 * HOUR + 5, collect, NULL), 1);
	assert_int_equal(last()->state, ALERT_RAISED);
	assert_int_equal(last()->raised_ms, T0 + 58 * HOUR);
	assert_string_equal(last()->reason_nb, "Ingen måling av SpO2 på 48 t");
	assert_string_equal(last()->reason_en, "No SpO2 reading for 48 h");
	assert_string_equal(last()->metric, "spo2");
	/* Raised once: no deadline while it is active. */
	assert_int_equal(rules_next_deadline(r), RULES_NO_DEADLINE);
	assert_int_equal(rules_tick(r, T0 + 100 * HOUR, collect, NULL), 0);
	feed(r, "spo2", 95, VARDE_STATUS_INVALID, T0 + 101 * HOUR);
	assert_int_equal(n_seen, 1);
	feed(r, "spo2", 95, 0, T0 + 102 * HOUR);
	assert_int_equal(n_seen, 2);
	assert_int_equal(last()->state, ALERT_CLEARED);
	assert_string_equal(last()->reason_en, "New SpO2 reading");
	assert_int_equal(rules_next_deadline(r), T0 + 150 * HOUR);
	rules_free(r);
}

/* ---- device health ------------------------------------------------------ */

static void test_device_health(void **state)
{
	struct rules *r = engine(RULESET(
		"{\"id\": \"bat\", \"type\": \"battery\", \"device\": \"" DEV "\", \"severity\": "
		"\"warning\", \"below\": 20, \"hysteresis\": 5},"
		"{\"id\": \"silent\", \"type\": \"device_silent\", \"device\": \"" DEV "\", "
		"\"severity\": \"warning\", \"after\": \"72h\"},"
		"{\"id\": \"clock\", \"type\": \"device_clock\", \"device\": \"" DEV "\", "
		"\"severity\": \"warning\"}"));
	struct rule_input in = {.patient = P,
				.metric_name = "spo2",
				.value = 95,
				.time_ms = T0 + HOUR,
				.device_address = "c0:26:da:01:02:03",
				.time_from_receipt = true};

	(void)state;
	/* Battery by level, with hysteresis. */
	feed_full(r, P, "battery", 50, 0, T0, 0, DEV);
	assert_int_equal(n_seen, 0);
	feed_full(r, P, "battery_level", 15, 0, T0 + MIN, 0, DEV);
	assert_int_equal(n_seen, 1);
	assert_string_equal(last()->rule, "bat");
	assert_string_equal(last()->device, DEV);
	assert_string_equal(last()->metric, "");
	assert_string_equal(last()->reason_en, "Low battery on device " DEV " (15 %)");
	feed_full(r, P, "battery", 22, 0, T0 + 2 * MIN, 0, DEV);
	assert_int_equal(n_seen, 1);
	feed_full(r, P, "battery", 26, 0, T0 + 3 * MIN, 0, DEV);
	assert_int_equal(last()->state, ALERT_CLEARED);
	/* Battery by the device's flag on any reading, even unattributed. */
	reset();
	feed_full(r, NULL, "bp_systolic", 120, VARDE_STATUS_BATTERY_LOW, T0 + 4 * MIN, 0, DEV);
	assert_int_equal(last()->state, ALERT_RAISED);
	feed_full(r, P, "bp_systolic", 120, 0, T0 + 5 * MIN, 0, DEV);
	assert_int_equal(last()->state, ALERT_CLEARED);

	/* Clock: receive time used, or the device says it is not set. */
	reset();
	assert_int_equal(rules_evaluate(r, &in, collect, NULL), 0);
	assert_int_equal(n_seen, 1);
	assert_string_equal(last()->rule, "clock");
	in.time_from_receipt = false;
	in.status = VARDE_STATUS_DEVICE_CLOCK_NOT_SET;
	rules_evaluate(r, &in, collect, NULL);
	assert_int_equal(n_seen, 1);
	in.status = 0;
	rules_evaluate(r, &in, collect, NULL);
	assert_int_equal(last()->state, ALERT_CLEARED);

	/* Not seen: judged by receive time, raised by the tick. */
	reset();
	assert_int_equal(rules_next_deadline(r), T0 + HOUR + 72 * HOUR);
	assert_int_equal(rules_tick(r, T0 + 80 * HOUR, collect, NULL), 1);
	assert_string_equal(last()->rule, "silent");
	assert_string_equal(last()->reason_en, "Device " DEV " not seen for 72 h");
	in.received_ms = T0 + 81 * HOUR;
	rules_evaluate(r, &in, collect, NULL);
	assert_int_equal(last()->state, ALERT_CLEARED);
	assert_string_equal(last()->rule, "silent");
	rules_free(r);
}

/* ---- NEWS2 -------------------------------------------------------------- */

static void test_news2_tables(void **state)
{
	static const struct {
		double v;
		int s1, s2;
	} spo2[] = {{83, 3, 3}, {84, 3, 2}, {85, 3, 2}, {86, 3, 1}, {87, 3, 1},
		    {88, 3, 0}, {91, 3, 0}, {92, 2, 0}, {93, 2, 0}, {94, 1, 0},
		    {95, 1, 0}, {96, 0, 0}, {100, 0, 0}};
	static const struct {
		double v;
		int s;
	} sys[] = {{90, 3}, {91, 2}, {100, 2}, {101, 1}, {110, 1}, {111, 0}, {219, 0}, {220, 3}},
	  pulse[] = {{40, 3}, {41, 1},	{50, 1},  {51, 0},  {90, 0},
		     {91, 1}, {110, 1}, {111, 2}, {130, 2}, {131, 3}},
	  temp[] = {{35.0, 3}, {35.1, 1}, {36.0, 1}, {36.1, 0},	 {38.0, 0},
		    {38.1, 1}, {39.0, 1}, {39.1, 2}, {34.96, 3}, {36.04, 1}};

	(void)state;
	for (size_t i = 0; i < sizeof(spo2) / sizeof(spo2[0]); i++) {
		assert_int_equal(news2_spo2(1, spo2[i].v), spo2[i].s1);
		assert_int_equal(news2_spo2(2, spo2[i].v), spo2[i].s2);
	}
	for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
		assert_int_equal(news2_systolic(sys[i].v), sys[i].s);
	for (size_t i = 0; i < sizeof(pulse) / sizeof(pulse[0]); i++)
		assert_int_equal(news2_pulse(pulse[i].v), pulse[i].s);
	for (size_t i = 0; i < sizeof(temp) / sizeof(temp[0]); i++)
		assert_int_equal(news2_temperature(temp[i].v), temp[i].s);
}

#define NEWS2(scale) \
	RULESET("{\"id\": \"news2\", \"type\": \"news2\", \"scale\": " scale ", \"window\": " \
		"\"1h\", \"min_parameters\": 2, \"warning\": {\"total\": 5, \"single\": 3}, " \
		"\"critical\": {\"total\": 7}}")

static void news2_inputs(struct rules *r, int64_t t)
{
	feed(r, "spo2", 87, 0, t);
	feed(r, "pulse_rate_oximeter", 95, 0, t);
	feed(r, "bp_systolic", 120, 0, t + 5 * MIN);
	feed(r, "body_temperature", 37.0, 0, t + 10 * MIN);
}

static void test_news2_scale_1_and_2(void **state)
{
	struct rules *r = engine(NEWS2("1"));

	(void)state;
	/* Scale 1: SpO2 87 scores 3 (a single 3 -> warning), total 4. */
	news2_inputs(r, T0);
	assert_int_equal(n_seen, 1);
	assert_int_equal(last()->severity, ALERT_WARNING);
	assert_string_equal(last()->reason_en, "Partial NEWS2 4 (scale 1: SpO2 3, pulse 1)");
	assert_int_equal(last()->n_evidence, 2);
	rules_free(r);

	/* Scale 2 (COPD, on air): 87 scores 1, total 2: no alert. */
	r = engine(NEWS2("2"));
	news2_inputs(r, T0);
	assert_int_equal(n_seen, 0);
	/* Fever and a fast pulse: 1 + 3 (131) + 0 + 2 (39.5) = 6 -> warning,
	 * then a low systolic (+2) makes 8 -> critical. */
	feed(r, "pulse_rate", 131, 0, T0 + 20 * MIN);
	feed(r, "temperature", 39.5, 0, T0 + 21 * MIN);
	assert_int_equal(last()->severity, ALERT_WARNING);
	feed(r, "bp_systolic", 95, 0, T0 + 22 * MIN);
	assert_int_equal(last()->state, ALERT_UPDATED);
	assert_int_equal(last()->severity, ALERT_CRITICAL);
	assert_string_equal(last()->reason_nb,
			    "Delvis NEWS2 8 (skala 2: SpO2 1, systolisk 2, puls 3, temperatur 2)");
	/* Readings older than the window drop out of the score. */
	feed(r, "spo2", 95, 0, T0 + 3 * HOUR);
	feed(r, "pulse_rate", 70, 0, T0 + 3 * HOUR);
	assert_int_equal(last()->state, ALERT_CLEARED);
	rules_free(r);
}

/* ---- acknowledgement ---------------------------------------------------- */

static void test_ack(void **state)
{
	struct rules *r = engine(
		RULESET(SPO2_RULE("\"warning\": {\"low\": 88}, \"critical\": {\"low\": 85}")));
	char id[ALERT_ID_MAX];

	(void)state;
	feed(r, "spo2", 87, 0, T0);
	strcpy(id, last()->id);
	assert_int_equal(rules_ack(r, "nope", "nurse-1", T0 + MIN, collect, NULL), -ENOENT);
	assert_int_equal(rules_ack(r, id, "nurse-1", T0 + MIN, collect, NULL), 0);
	assert_int_equal(last()->state, ALERT_ACKNOWLEDGED);
	assert_string_equal(last()->acked_by, "nurse-1");
	assert_int_equal(last()->acked_ms, T0 + MIN);
	assert_int_equal(rules_ack(r, id, "nurse-2", T0 + 2 * MIN, collect, NULL), -EALREADY);
	/* Not raised again while the condition persists. */
	feed(r, "spo2", 86, 0, T0 + 3 * MIN);
	assert_int_equal(n_seen, 2);
	/* Worse than acknowledged: the nurse is asked again. */
	feed(r, "spo2", 80, 0, T0 + 4 * MIN);
	assert_int_equal(last()->state, ALERT_UPDATED);
	assert_int_equal(last()->acked_ms, 0);
	assert_int_equal(rules_ack(r, id, "nurse-2", T0 + 5 * MIN, collect, NULL), 0);
	/* An acknowledged alert that clears still says so. */
	feed(r, "spo2", 95, 0, T0 + 6 * MIN);
	assert_int_equal(last()->state, ALERT_CLEARED);
	assert_string_equal(last()->acked_by, "nurse-2");
	assert_int_equal(rules_ack(r, id, "nurse-2", T0 + 7 * MIN, collect, NULL), -ENOENT);
	rules_free(r);
}

/* ---- persistence -------------------------------------------------------- */

#define RESTART_SET \
	RULESET(SPO2_RULE( \
		"\"warning\": {\"low\": 88, \"hits\": 2}") ",{\"id\": \"spo2-missing\", " \
							   "\"type\": \"missing\", \"metric\": " \
							   "\"spo2\", \"severity\": \"warning\", " \
							   "\"after\": \"48h\"},{\"id\": " \
							   "\"drop\", \"type\": \"baseline\", " \
							   "\"metric\": " \
							   "\"spo2\", \"severity\": \"warning\", " \
							   "\"days\": 7, \"drop\": 3, " \
							   "\"min_samples\": 3}")

static struct rules *restart(struct rules *r, const char *json, int64_t now)
{
	char *state = rules_state_save(r);
	struct rules *fresh = rules_new();

	assert_non_null(state);
	rules_free(r);
	assert_int_equal(rules_state_load(fresh, state, strlen(state)), 0);
	free(state);
	reset();
	assert_int_equal(rules_set_ruleset(fresh, parse(json), now, collect, NULL), 0);
	return fresh;
}

static void test_state_survives_restart(void **state)
{
	struct rules *r = engine(RESTART_SET);
	char id[ALERT_ID_MAX];

	(void)state;
	for (int i = 0; i < 3; i++)
		feed(r, "spo2", 95, 0, T0 + i * DAY);
	feed(r, "spo2", 85, 0, T0 + 3 * DAY);
	feed(r, "spo2", 85, 0, T0 + 3 * DAY + 20 * MIN);
	/* baseline at once, threshold after 2 hits */
	assert_int_equal(n_seen, 2);
	assert_string_equal(seen[1].rule, "spo2");
	strcpy(id, seen[1].id);
	assert_int_equal(rules_ack(r, id, "nurse-1", T0 + 3 * DAY + HOUR, collect, NULL), 0);

	r = restart(r, RESTART_SET, T0 + 4 * DAY);
	assert_int_equal(n_seen, 0);
	/* No duplicate 'raised'; the acknowledgement holds. */
	feed(r, "spo2", 84, 0, T0 + 4 * DAY);
	assert_int_equal(n_seen, 0);
	assert_int_equal(rules_ack(r, id, "nurse-1", T0 + 4 * DAY, collect, NULL), -EALREADY);
	/* The missing-measurement clock kept counting from the last reading. */
	assert_int_equal(rules_next_deadline(r), T0 + 6 * DAY);
	feed(r, "spo2", 96, 0, T0 + 4 * DAY + HOUR);
	assert_int_equal(n_seen, 2);
	assert_string_equal(seen[0].id, id);
	assert_int_equal(seen[0].state, ALERT_CLEARED);
	assert_int_equal(seen[1].state, ALERT_CLEARED);
	assert_string_equal(seen[1].rule, "drop");

	/* Loading is refused once a rule set is active, or when it is not
	 * state JSON. */
	assert_int_equal(rules_state_load(r, "{}", 2), -EBUSY);
	rules_free(r);
	r = rules_new();
	assert_int_equal(rules_state_load(r, "{\"format\": 1}", 13), -EINVAL);
	assert_int_equal(rules_state_load(r, "[", 1), -EINVAL);
	rules_free(r);
}

/* ---- rule-set replacement ------------------------------------------------ */

static void test_ruleset_replacement(void **state)
{
	struct rules *r = engine(RULESET(SPO2_RULE(
		"\"warning\": {\"low\": 88}") ","
					      "{\"id\": \"pulse\", \"type\": \"threshold\", "
					      "\"metric\": \"pulse_rate\", "
					      "\"warning\": {\"high\": 110}},"
					      "{\"id\": \"temp\", \"type\": \"threshold\", "
					      "\"metric\": \"temperature\", "
					      "\"warning\": {\"high\": 38}}"));
	char spo2_id[ALERT_ID_MAX];

	(void)state;
	feed(r, "spo2", 85, 0, T0);
	strcpy(spo2_id, last()->id);
	feed(r, "pulse_rate", 120, 0, T0);
	feed(r, "temperature", 39, 0, T0);
	assert_int_equal(n_seen, 3);
	reset();
	/* spo2 stays (new limits), pulse goes, temp changes its metric. */
	assert_int_equal(
		rules_set_ruleset(
			r,
			parse("{\"version\": \"v2\", \"patients\": {\"" P
			      "\": {\"rules\": [" SPO2_RULE(
				      "\"warning\": {\"low\": 90}") ","
								    "{\"id\": \"temp\", \"type\": "
								    "\"threshold\", \"metric\": "
								    "\"weight\", \"warning\": "
								    "{\"high\": 100}}]}}}"),
			T0 + HOUR, collect, NULL),
		0);
	assert_int_equal(n_seen, 2);
	assert_string_equal(seen[0].rule, "pulse");
	assert_int_equal(seen[0].state, ALERT_CLEARED);
	assert_string_equal(seen[0].reason_en, "Rule removed");
	assert_string_equal(seen[0].ruleset_version, "v2");
	assert_string_equal(seen[1].rule, "temp");
	assert_string_equal(seen[1].reason_en, "Rule changed");
	/* The kept alert is judged by the new limits. */
	feed(r, "spo2", 89, 0, T0 + 2 * HOUR);
	assert_int_equal(n_seen, 2);
	feed(r, "spo2", 91, 0, T0 + 3 * HOUR);
	assert_int_equal(last()->state, ALERT_CLEARED);
	assert_string_equal(last()->id, spo2_id);
	assert_int_equal(rules_set_ruleset(r, NULL, T0, collect, NULL), -EINVAL);
	rules_free(r);
}

static void test_defaults_and_overrides(void **state)
{
	struct rules *r = engine("{\"version\": 3, \"defaults\": {\"rules\": [" SPO2_RULE(
		"\"warning\": {\"low\": "
		"90}") "]},"
		       "\"patients\": {\"" P
		       "\": {\"rules\": [" SPO2_RULE("\"warning\": {\"low\": 88}") "]}}}");

	(void)state;
	feed(r, "spo2", 89, 0, T0); /* the patient's own rule */
	assert_int_equal(n_seen, 0);
	/* Any other patient gets the defaults. */
	assert_int_equal(feed_full(r, "p-other", "spo2", 89, 0, T0, 0, NULL), 0);
	assert_int_equal(n_seen, 1);
	assert_string_equal(last()->patient, "p-other");
	rules_free(r);
}

/* ---- inputs and output -------------------------------------------------- */

static void test_bad_inputs(void **state)
{
	struct rules *r = engine(MISSING);
	struct rule_input in = {.patient = P, .metric_name = "spo2", .value = 90};

	(void)state;
	assert_int_equal(rules_evaluate(r, &in, collect, NULL), -EINVAL); /* no time */
	in.time_ms = T0;
	in.metric_name = "context_meal";
	assert_int_equal(rules_evaluate(r, &in, collect, NULL), -EINVAL);
	assert_int_equal(rules_evaluate(r, NULL, collect, NULL), -EINVAL);
	assert_int_equal(rules_tick(NULL, T0, collect, NULL), 0);
	assert_int_equal(rules_next_deadline(NULL), RULES_NO_DEADLINE);
	assert_null(alert_to_json(NULL));
	rules_free(r);
	rules_free(NULL);
}

static void test_alert_json(void **state)
{
	struct rules *r = engine(RULESET(SPO2_RULE("\"critical\": {\"low\": 85}")));
	json_t *o;
	char *text;

	(void)state;
	feed(r, "spo2", 80, 0, T0 + 1234);
	rules_ack(r, last()->id, "nurse-1", T0 + MIN, collect, NULL);
	text = alert_to_json(last());
	assert_non_null(text);
	o = json_loads(text, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "id")), P ":spo2:1717200001234");
	assert_string_equal(json_string_value(json_object_get(o, "patient")), P);
	assert_string_equal(json_string_value(json_object_get(o, "rule")), "spo2");
	assert_string_equal(json_string_value(json_object_get(o, "rule_type")), "threshold");
	assert_string_equal(json_string_value(json_object_get(o, "ruleset_version")), "v1");
	assert_string_equal(json_string_value(json_object_get(o, "severity")), "critical");
	assert_string_equal(json_string_value(json_object_get(o, "state")), "acknowledged");
	assert_string_equal(json_string_value(json_object_get(o, "metric")), "spo2");
	assert_null(json_object_get(o, "device"));
	assert_string_equal(json_string_value(json_object_get(o, "raised_at")),
			    "2024-06-01T00:00:01.234Z");
	assert_string_equal(json_string_value(json_object_get(o, "acknowledged_at")),
			    "2024-06-01T00:01:00.000Z");
	assert_string_equal(json_string_value(json_object_get(o, "acknowledged_by")), "nurse-1");
	assert_string_equal(json_string_value(json_object_get(json_object_get(o, "reason"), "nb")),
			    "SpO2 80 % under kritisk grense 85 % (1 måling)");
	assert_int_equal(json_array_size(json_object_get(o, "observations")), 1);
	json_decref(o);
	free(text);
	rules_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copd_example_acceptance),
		cmocka_unit_test(test_hits_before_raising),
		cmocka_unit_test(test_quality_flags_neither_raise_nor_clear),
		cmocka_unit_test(test_hysteresis_and_clear_hits),
		cmocka_unit_test(test_escalation_and_deescalation),
		cmocka_unit_test(test_beyond_range_glucose),
		cmocka_unit_test(test_confirm_window),
		cmocka_unit_test(test_confirm_reset_by_normal_reading),
		cmocka_unit_test(test_baseline),
		cmocka_unit_test(test_missing_measurement),
		cmocka_unit_test(test_device_health),
		cmocka_unit_test(test_news2_tables),
		cmocka_unit_test(test_news2_scale_1_and_2),
		cmocka_unit_test(test_ack),
		cmocka_unit_test(test_state_survives_restart),
		cmocka_unit_test(test_ruleset_replacement),
		cmocka_unit_test(test_defaults_and_overrides),
		cmocka_unit_test(test_bad_inputs),
		cmocka_unit_test(test_alert_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
