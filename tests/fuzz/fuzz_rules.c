/* SPDX-License-Identifier: MIT */
/*
 * The rule-set parser on arbitrary bytes, then the evaluator on inputs
 * derived from the same bytes: parse must reject or accept, and whatever
 * it accepts must be safe to evaluate, save and restore.
 *
 * Input: a rule set JSON text, optionally followed by a NUL byte and
 * records of 16 bytes, each one rule_input (see next_input).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const metric_names[] = {
	"bp_systolic",
	"bp_diastolic",
	"bp_mean",
	"pulse_rate",
	"spo2",
	"temperature",
	"weight",
	"glucose",
	"hba1c",
	"pef",
	"fev1",
	"battery",
	"body_temperature",
	"glucose_capillary_plasma",
	"nonsense",
};
static const char *const patients[] = {"p-4f1c9a", "p-8b22e0", "p-other", NULL};
static const char *const devices[] = {"C0:26:DA:01:02:03", "c0:26:da:01:02:04", NULL};

static void sink(const struct alert *a, void *user_data)
{
	char *json = alert_to_json(a);

	/* Every alert must serialise: a NULL here would be a lost alert. */
	if (!json)
		abort();
	free(json);
	(void)user_data;
}

static void next_input(const uint8_t *r, int64_t *clock, struct rule_input *in, char *obs,
		       size_t obs_len)
{
	uint32_t status;

	memcpy(&status, r + 8, sizeof(status));
	*clock += (int64_t)(r[0] | r[1] << 8) * 1000; /* up to ~18 h forward */
	memset(in, 0, sizeof(*in));
	in->patient = patients[r[2] % 4];
	in->metric_name = metric_names[r[3] % (sizeof(metric_names) / sizeof(metric_names[0]))];
	in->value = (double)(int16_t)(r[4] | r[5] << 8) / 10.0;
	in->special = r[6] & 1;
	in->beyond = (r[6] >> 1) % 3 - 1;
	in->time_from_receipt = r[6] & 0x10;
	in->status = r[7] & 1 ? status : 0;
	in->time_ms = *clock - (r[12] & 0x80 ? (int64_t)r[12] * 60000 : 0);
	in->received_ms = *clock;
	in->device_address = devices[r[13] % 3];
	snprintf(obs, obs_len, "obs-%u", r[14] | r[15] << 8);
	in->observation_id = obs;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t json_len = nul ? (size_t)(nul - data) : size;
	int64_t clock = 1700000000000;
	struct ruleset *set;
	struct rules *rules;
	char err[256], *state;

	set = ruleset_parse((const char *)data, json_len, err, sizeof(err));
	if (!set)
		return 0;
	rules = rules_new();
	rules_set_ruleset(rules, set, clock, sink, NULL);
	for (size_t off = json_len + 1; nul && off + 16 <= size; off += 16) {
		struct rule_input in;
		char obs[16];

		next_input(data + off, &clock, &in, obs, sizeof(obs));
		rules_evaluate(rules, &in, sink, NULL);
		if (data[off + 12] == 0x7f)
			rules_tick(rules, rules_next_deadline(rules), sink, NULL);
		if (data[off + 12] == 0x7e)
			rules_ack(rules, "p-4f1c9a:spo2-critical:1", "fuzz", clock, sink, NULL);
	}
	rules_tick(rules, clock + 400LL * 86400000, sink, NULL);
	/* Whatever state results must survive a restart. */
	state = rules_state_save(rules);
	rules_free(rules);
	if (state) {
		rules = rules_new();
		if (rules_state_load(rules, state, strlen(state)) != 0)
			abort();
		set = ruleset_parse((const char *)data, json_len, err, sizeof(err));
		rules_set_ruleset(rules, set, clock, sink, NULL);
		rules_free(rules);
		free(state);
	}
	return 0;
}
