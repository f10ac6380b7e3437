/* SPDX-License-Identifier: MIT */
#include "fhir.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "metrics.h"
#include "timefmt.h"

#define PHD_PROFILE "http://hl7.org/fhir/uv/phd/StructureDefinition/"
#define PHD_CATEGORY_SYSTEM "http://hl7.org/fhir/uv/phd/CodeSystem/PhdObservationCategories"
#define GATEWAY_EXTENSION "http://hl7.org/fhir/StructureDefinition/observation-gatewayDevice"
#define CATEGORY_SYSTEM "http://terminology.hl7.org/CodeSystem/observation-category"
#define ABSENT_SYSTEM "http://terminology.hl7.org/CodeSystem/data-absent-reason"
#define MSMT_STATUS_SYSTEM "http://hl7.org/fhir/uv/pocd/CodeSystem/measurement-status"
#define ASN1_SYSTEM "http://terminology.hl7.org/CodeSystem/ASN1ToHL7"
#define YES_NO_SYSTEM "http://terminology.hl7.org/CodeSystem/v2-0136"
#define ACT_REASON_SYSTEM "http://terminology.hl7.org/CodeSystem/v3-ActReason"
#define SNOMED_SYSTEM "http://snomed.info/sct"
#define BT_ADDRESS_SYSTEM "http://hl7.org/fhir/sid/eui-48/bluetooth"

/* IEEE 11073 BITs attributes that carry a device's own status bits. */
#define MDC_BLOOD_PRESSURE_MEASUREMENT_STATUS 8410608
#define MDC_GLU_METER_DEV_STATUS 8417752
#define MDC_PULS_OXIM_DEV_STATUS 150604

/* Quantities (one value, 16 components) each print into one slot. */
#define MAX_NUMBERS (1 + RECORD_MAX_COMPONENTS)
#define NUMBER_MAX 48

/*
 * Jansson prints reals in its own precision and would turn 37.60 into
 * 37.6 or 37.600000000000001, and the IG requires the device's precision.
 * So every number in the document is first an integer placeholder, the
 * index of its text here, and the dumped JSON gets the text in its place.
 * Observations have no other numbers.
 */
struct builder {
	int err; /* first error, negative errno */
	char numbers[MAX_NUMBERS][NUMBER_MAX];
	size_t n_numbers;
};

static json_t *check(struct builder *b, json_t *j)
{
	if (!j && !b->err)
		b->err = -ENOMEM;
	return j;
}

static void fail(struct builder *b, int err)
{
	if (!b->err)
		b->err = err;
}

/* Sets key to `value` (stolen). A NULL value is a failure already noted. */
static void set(struct builder *b, json_t *obj, const char *key, json_t *value)
{
	if (!obj || !value) {
		json_decref(value);
		check(b, NULL);
		return;
	}
	if (json_object_set_new(obj, key, value) < 0)
		fail(b, -ENOMEM);
}

static void append(struct builder *b, json_t *array, json_t *value)
{
	if (!array || !value) {
		json_decref(value);
		check(b, NULL);
		return;
	}
	if (json_array_append_new(array, value) < 0)
		fail(b, -ENOMEM);
}

static json_t *coding(struct builder *b, const char *system, const char *code, const char *display)
{
	return check(b, json_pack("{s:s, s:s, s:s*}", "system", system, "code", code, "display",
				  display));
}

/* A CodeableConcept of one coding, and text when given. */
static json_t *codeable(struct builder *b, const char *system, const char *code,
			const char *display, const char *text)
{
	return check(b, json_pack("{s:[o], s:s*}", "coding", coding(b, system, code, display),
				  "text", text));
}

static json_t *mdc_coding(struct builder *b, uint32_t mdc, const char *name)
{
	char code[16];

	snprintf(code, sizeof(code), "%u", mdc);
	return coding(b, MDC_SYSTEM, code, name);
}

/* What a metric is: MDC, LOINC, or varde's own code when it has neither. */
static json_t *metric_code(struct builder *b, const struct metric_info *m)
{
	json_t *codings = check(b, json_array());

	if (m->mdc)
		append(b, codings, mdc_coding(b, m->mdc, m->mdc_name));
	if (m->loinc)
		append(b, codings, coding(b, LOINC_SYSTEM, m->loinc, m->loinc_display));
	if (m->loinc2)
		append(b, codings, coding(b, LOINC_SYSTEM, m->loinc2, m->loinc2_display));
	if (!m->mdc && !m->loinc)
		append(b, codings, coding(b, FHIR_METRIC_SYSTEM, m->name, m->display));
	return check(b, json_pack("{s:o, s:s}", "coding", codings, "text", m->display));
}

static json_t *number(struct builder *b, const char *text)
{
	if (b->n_numbers >= MAX_NUMBERS) {
		fail(b, -EINVAL);
		return NULL;
	}
	snprintf(b->numbers[b->n_numbers], NUMBER_MAX, "%s", text);
	return check(b, json_integer((json_int_t)b->n_numbers++));
}

/* Why a value is absent, or NULL when it is a number. */
static json_t *absent_reason(struct builder *b, const struct varde_value *v, uint32_t status)
{
	switch (v->special) {
	case VARDE_VALUE_NUMBER:
		break;
	case VARDE_VALUE_PINF:
		return codeable(b, ABSENT_SYSTEM, "positive-infinity", "Positive Infinity (PINF)",
				NULL);
	case VARDE_VALUE_NINF:
		return codeable(b, ABSENT_SYSTEM, "negative-infinity", "Negative Infinity (NINF)",
				NULL);
	case VARDE_VALUE_NRES:
		/* The IG maps NRes to error; the text keeps what it was. */
		return codeable(b, ABSENT_SYSTEM, "error", "Error",
				"Not at this resolution (NRes)");
	default:
		return codeable(b, ABSENT_SYSTEM, "not-a-number", "Not a Number (NaN)", NULL);
	}
	if (status & VARDE_STATUS_INVALID)
		return codeable(b, ABSENT_SYSTEM, "error", "Error",
				"The device marked the measurement invalid");
	if ((status & VARDE_STATUS_RESULT_TOO_HIGH) && (status & VARDE_STATUS_RESULT_TOO_LOW))
		return codeable(b, ABSENT_SYSTEM, "error", "Error",
				"The device reported the result both too high and too low");
	return NULL;
}

/*
 * Sets value[x] or dataAbsentReason of `obj` (the Observation or a
 * component). `status` matters only for the Observation's own value.
 */
static void set_value(struct builder *b, json_t *obj, const struct metric_info *m, uint32_t unit,
		      const struct varde_value *v, uint32_t status)
{
	const char *ucum = metric_ucum(m->metric, unit);
	json_t *reason, *q;
	char text[NUMBER_MAX];
	int n;

	if (!ucum) {
		fail(b, -EINVAL);
		return;
	}
	reason = absent_reason(b, v, status);
	if (reason) {
		set(b, obj, "dataAbsentReason", reason);
		return;
	}
	n = metric_format(m->metric, unit, v, text, sizeof(text));
	if (n < 0) {
		fail(b, n);
		return;
	}
	q = check(b, json_pack("{s:o, s:s, s:s, s:s}", "value", number(b, text), "unit", ucum,
			       "system", UCUM_SYSTEM, "code", ucum));
	if (status & VARDE_STATUS_RESULT_TOO_HIGH)
		set(b, q, "comparator", json_string(">"));
	else if (status & VARDE_STATUS_RESULT_TOO_LOW)
		set(b, q, "comparator", json_string("<"));
	set(b, obj, "valueQuantity", q);
}

/* Glucose Service context codes and their IEEE 11073-10417 enumerations. */
struct coded_value {
	uint32_t metric;
	int32_t code;
	uint32_t mdc; /* 0: no MDC code */
	const char *mdc_name;
	const char *text;
};

static const struct coded_value coded_values[] = {
	{VARDE_METRIC_CONTEXT_MEAL, 1, 8417868, "MDC_CTXT_GLU_MEAL_PREPRANDIAL", "Preprandial"},
	{VARDE_METRIC_CONTEXT_MEAL, 2, 8417872, "MDC_CTXT_GLU_MEAL_POSTPRANDIAL", "Postprandial"},
	{VARDE_METRIC_CONTEXT_MEAL, 3, 8417876, "MDC_CTXT_GLU_MEAL_FASTING", "Fasting"},
	{VARDE_METRIC_CONTEXT_MEAL, 4, 8417880, "MDC_CTXT_GLU_MEAL_CASUAL", "Casual"},
	{VARDE_METRIC_CONTEXT_MEAL, 5, 0, NULL, "Bedtime"},
	{VARDE_METRIC_CONTEXT_TESTER, 1, 8417888, "MDC_CTXT_GLU_TESTER_SELF", "Self"},
	{VARDE_METRIC_CONTEXT_TESTER, 2, 8417892, "MDC_CTXT_GLU_TESTER_HCP",
	 "Health care professional"},
	{VARDE_METRIC_CONTEXT_TESTER, 3, 8417896, "MDC_CTXT_GLU_TESTER_LAB", "Lab test"},
	{VARDE_METRIC_CONTEXT_TESTER, 15, 0, NULL, "Tester not available"},
	{VARDE_METRIC_CONTEXT_HEALTH, 1, 8417824, "MDC_CTXT_GLU_HEALTH_MINOR",
	 "Minor health issues"},
	{VARDE_METRIC_CONTEXT_HEALTH, 2, 8417828, "MDC_CTXT_GLU_HEALTH_MAJOR",
	 "Major health issues"},
	{VARDE_METRIC_CONTEXT_HEALTH, 3, 8417832, "MDC_CTXT_GLU_HEALTH_MENSES", "During menses"},
	{VARDE_METRIC_CONTEXT_HEALTH, 4, 8417836, "MDC_CTXT_GLU_HEALTH_STRESS", "Under stress"},
	{VARDE_METRIC_CONTEXT_HEALTH, 5, 8417840, "MDC_CTXT_GLU_HEALTH_NONE", "No health issues"},
	{VARDE_METRIC_CONTEXT_HEALTH, 15, 0, NULL, "Health not available"},
	{VARDE_METRIC_CONTEXT_CARBOHYDRATE_ID, 1, 8417768, "MDC_CTXT_GLU_CARB_BREAKFAST",
	 "Breakfast"},
	{VARDE_METRIC_CONTEXT_CARBOHYDRATE_ID, 2, 8417772, "MDC_CTXT_GLU_CARB_LUNCH", "Lunch"},
	{VARDE_METRIC_CONTEXT_CARBOHYDRATE_ID, 3, 8417776, "MDC_CTXT_GLU_CARB_DINNER", "Dinner"},
	{VARDE_METRIC_CONTEXT_CARBOHYDRATE_ID, 4, 8417780, "MDC_CTXT_GLU_CARB_SNACK", "Snack"},
	{VARDE_METRIC_CONTEXT_CARBOHYDRATE_ID, 5, 8417784, "MDC_CTXT_GLU_CARB_DRINK", "Drink"},
	{VARDE_METRIC_CONTEXT_CARBOHYDRATE_ID, 6, 8417788, "MDC_CTXT_GLU_CARB_SUPPER", "Supper"},
	{VARDE_METRIC_CONTEXT_CARBOHYDRATE_ID, 7, 8417792, "MDC_CTXT_GLU_CARB_BRUNCH", "Brunch"},
	{VARDE_METRIC_CONTEXT_MEDICATION_ID, 1, 8417800, "MDC_CTXT_MEDICATION_RAPIDACTING",
	 "Rapid acting insulin"},
	{VARDE_METRIC_CONTEXT_MEDICATION_ID, 2, 8417804, "MDC_CTXT_MEDICATION_SHORTACTING",
	 "Short acting insulin"},
	{VARDE_METRIC_CONTEXT_MEDICATION_ID, 3, 8417808, "MDC_CTXT_MEDICATION_INTERMEDIATEACTING",
	 "Intermediate acting insulin"},
	{VARDE_METRIC_CONTEXT_MEDICATION_ID, 4, 8417812, "MDC_CTXT_MEDICATION_LONGACTING",
	 "Long acting insulin"},
	{VARDE_METRIC_CONTEXT_MEDICATION_ID, 5, 8417816, "MDC_CTXT_MEDICATION_PREMIX",
	 "Pre-mixed insulin"},
};

static void set_coded_value(struct builder *b, json_t *obj, const struct metric_info *m,
			    uint32_t unit, const struct varde_value *v)
{
	char text[48];
	json_t *cc;

	if (unit != VARDE_UNIT_CODE) {
		fail(b, -EINVAL);
		return;
	}
	cc = absent_reason(b, v, 0);
	if (cc) {
		set(b, obj, "dataAbsentReason", cc);
		return;
	}
	for (size_t i = 0; i < sizeof(coded_values) / sizeof(coded_values[0]); i++) {
		const struct coded_value *c = &coded_values[i];

		if (c->metric != m->metric || c->code != v->mantissa || v->exponent != 0)
			continue;
		if (c->mdc)
			cc = check(b,
				   json_pack("{s:[o], s:s}", "coding",
					     mdc_coding(b, c->mdc, c->mdc_name), "text", c->text));
		else
			cc = check(b, json_pack("{s:s}", "text", c->text));
		set(b, obj, "valueCodeableConcept", cc);
		return;
	}
	/* A code this table does not know (reserved values) stays visible. */
	snprintf(text, sizeof(text), "Glucose Service code %d", (int)v->mantissa);
	set(b, obj, "valueCodeableConcept", check(b, json_pack("{s:s}", "text", text)));
}

/* One record component: a blood pressure part, glucose context, HbA1c. */
static json_t *value_component(struct builder *b, const struct varde_component *c)
{
	const struct metric_info *m = metric_lookup(c->metric);
	json_t *comp;

	if (!m || m->kind == METRIC_PANEL) {
		fail(b, -EINVAL);
		return NULL;
	}
	comp = check(b, json_pack("{s:o}", "code", metric_code(b, m)));
	if (m->kind == METRIC_CODED)
		set_coded_value(b, comp, m, c->unit, &c->value);
	else
		set_value(b, comp, m, c->unit, &c->value, 0);
	return comp;
}

/* The device-specific status attribute a metric's bits belong to. */
static uint32_t status_attribute(uint32_t metric)
{
	switch (metric) {
	case VARDE_METRIC_BLOOD_PRESSURE:
	case VARDE_METRIC_BP_SYSTOLIC:
	case VARDE_METRIC_BP_DIASTOLIC:
	case VARDE_METRIC_BP_MEAN:
	case VARDE_METRIC_PULSE_RATE:
		return MDC_BLOOD_PRESSURE_MEASUREMENT_STATUS;
	case VARDE_METRIC_SPO2:
	case VARDE_METRIC_PULSE_RATE_OXIMETER:
	case VARDE_METRIC_PULSE_AMPLITUDE_INDEX:
		return MDC_PULS_OXIM_DEV_STATUS;
	default:
		if (metric >= VARDE_METRIC_GLUCOSE_CAPILLARY_WHOLE_BLOOD &&
		    metric <= VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION)
			return MDC_GLU_METER_DEV_STATUS;
		return 0;
	}
}

struct status_name {
	uint32_t bit;
	const char *code;
	const char *display;
	uint32_t attribute; /* the IEEE 11073 BITs attribute it is exactly one bit of */
	const char *asn1; /* that bit as an ASN1ToHL7 code */
	const char *asn1_display;
};

static const struct status_name status_names[] = {
	{VARDE_STATUS_BODY_MOVEMENT, "body-movement", "Body movement during measurement",
	 MDC_BLOOD_PRESSURE_MEASUREMENT_STATUS, "8410608.0", "body-movement"},
	{VARDE_STATUS_CUFF_LOOSE, "cuff-loose", "Cuff too loose",
	 MDC_BLOOD_PRESSURE_MEASUREMENT_STATUS, "8410608.1", "cuff-too-loose"},
	{VARDE_STATUS_IRREGULAR_PULSE, "irregular-pulse", "Irregular pulse detected",
	 MDC_BLOOD_PRESSURE_MEASUREMENT_STATUS, "8410608.2", "irregular-pulse"},
	{VARDE_STATUS_PULSE_ABOVE_RANGE, "pulse-above-range", "Pulse rate above the device's range",
	 MDC_BLOOD_PRESSURE_MEASUREMENT_STATUS, "8410608.3", "pulse-over-range-limit"},
	{VARDE_STATUS_PULSE_BELOW_RANGE, "pulse-below-range", "Pulse rate below the device's range",
	 MDC_BLOOD_PRESSURE_MEASUREMENT_STATUS, "8410608.4", "pulse-under-range-limit"},
	{VARDE_STATUS_IMPROPER_POSITION, "improper-position", "Improper measurement position",
	 MDC_BLOOD_PRESSURE_MEASUREMENT_STATUS, "8410608.5", "improper-body-position"},
	{VARDE_STATUS_QUESTIONABLE, "questionable", "Questionable measurement", 0, NULL, NULL},
	{VARDE_STATUS_INVALID, "invalid", "Invalid measurement", 0, NULL, NULL},
	{VARDE_STATUS_LOW_PERFUSION, "low-perfusion", "Low perfusion", MDC_PULS_OXIM_DEV_STATUS,
	 "150604.10", "signal-low-perfusion"},
	{VARDE_STATUS_SENSOR_DISPLACED, "sensor-displaced", "Sensor displaced or disconnected", 0,
	 NULL, NULL},
	{VARDE_STATUS_SIGNAL_ARTIFACT, "signal-artifact", "Erratic or poor signal", 0, NULL, NULL},
	{VARDE_STATUS_EQUIPMENT_FAULT, "equipment-fault", "Equipment fault", 0, NULL, NULL},
	{VARDE_STATUS_MEASUREMENT_ONGOING, "measurement-ongoing",
	 "Measurement ongoing or early estimate", 0, NULL, NULL},
	{VARDE_STATUS_CONTROL_SOLUTION, "control-solution", "Control solution test", 0, NULL, NULL},
	{VARDE_STATUS_RESULT_TOO_HIGH, "result-too-high",
	 "Result above what the device can measure", MDC_GLU_METER_DEV_STATUS, "8417752.5",
	 "sensor-result-too-high"},
	{VARDE_STATUS_RESULT_TOO_LOW, "result-too-low", "Result below what the device can measure",
	 MDC_GLU_METER_DEV_STATUS, "8417752.6", "sensor-result-too-low"},
	{VARDE_STATUS_STRIP_ERROR, "strip-error", "Test strip or sample error", 0, NULL, NULL},
	{VARDE_STATUS_TEMPERATURE_OUT_OF_RANGE, "temperature-out-of-range",
	 "Ambient temperature out of range", MDC_GLU_METER_DEV_STATUS, "8417752.11",
	 "sensor-temp-out-of-range"},
	{VARDE_STATUS_BATTERY_LOW, "battery-low", "Device battery low", MDC_GLU_METER_DEV_STATUS,
	 "8417752.0", "device-battery-low"},
	{VARDE_STATUS_DEVICE_CLOCK_NOT_SET, "device-clock-not-set", "Device clock not set", 0, NULL,
	 NULL},
	{VARDE_STATUS_CALIBRATION_ONGOING, "calibration-ongoing", "Calibration ongoing", 0, NULL,
	 NULL},
	{VARDE_STATUS_TEST_DATA, "test-data", "Test or demonstration data", 0, NULL, NULL},
};

static json_t *yes(struct builder *b)
{
	return codeable(b, YES_NO_SYSTEM, "Y", "Yes", NULL);
}

static json_t *flag_component(struct builder *b, json_t *codings, const char *text)
{
	return check(b, json_pack("{s:{s:o, s:s}, s:o}", "code", "coding", codings, "text", text,
				  "valueCodeableConcept", yes(b)));
}

static void add_status_components(struct builder *b, json_t *components, uint32_t status,
				  uint32_t metric)
{
	uint32_t attribute = status_attribute(metric);

	for (unsigned int bit = 0; bit < 32; bit++) {
		const struct status_name *s = NULL;
		char code[24];
		json_t *codings;

		if (!(status & (1u << bit)))
			continue;
		for (size_t i = 0; i < sizeof(status_names) / sizeof(status_names[0]); i++) {
			if (status_names[i].bit == 1u << bit)
				s = &status_names[i];
		}
		codings = check(b, json_array());
		if (!s) {
			/* A bit newer than this table is kept, by number. */
			snprintf(code, sizeof(code), "bit-%u", bit);
			append(b, codings, coding(b, FHIR_STATUS_SYSTEM, code, NULL));
			append(b, components, flag_component(b, codings, code));
			continue;
		}
		append(b, codings, coding(b, FHIR_STATUS_SYSTEM, s->code, s->display));
		if (s->asn1 && s->attribute == attribute)
			append(b, codings, coding(b, ASN1_SYSTEM, s->asn1, s->asn1_display));
		append(b, components, flag_component(b, codings, s->display));
	}
}

static json_t *interpretation(struct builder *b, const char *code)
{
	return codeable(b, MSMT_STATUS_SYSTEM, code, NULL, NULL);
}

static json_t *body_site(struct builder *b, uint32_t site)
{
	static const struct {
		uint32_t site;
		const char *code;
		const char *display;
	} sites[] = {
		{VARDE_SITE_ARMPIT, "91470000", "Axillary region structure"},
		{VARDE_SITE_EAR, "48800003", "Ear lobule structure"},
		{VARDE_SITE_EARLOBE, "48800003", "Ear lobule structure"},
		{VARDE_SITE_FINGER, "7569003", "Finger structure"},
		{VARDE_SITE_GI_TRACT, "122865005", "Gastrointestinal tract structure"},
		{VARDE_SITE_MOUTH, "74262004", "Oral cavity structure"},
		{VARDE_SITE_RECTUM, "34402009", "Rectum structure"},
		{VARDE_SITE_TOE, "29707007", "Toe structure"},
		{VARDE_SITE_TYMPANUM, "42859004", "Tympanic membrane structure"},
	};

	/* No single SNOMED CT codeable covers "arm or palm". */
	if (site == VARDE_SITE_ALTERNATE)
		return check(b, json_pack("{s:s}", "text", "Alternate site (arm, palm)"));
	for (size_t i = 0; i < sizeof(sites) / sizeof(sites[0]); i++) {
		if (sites[i].site == site)
			return codeable(b, SNOMED_SYSTEM, sites[i].code, sites[i].display, NULL);
	}
	return NULL;
}

static bool valid_id(const char *s, size_t max)
{
	size_t n = strnlen(s, max);

	if (n == 0 || n == max)
		return false;
	for (; *s; s++) {
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
			return false;
	}
	return true;
}

/* "AA:BB:CC:DD:EE:FF" -> "Device/phd-AABBCCDDEEFF" and "AA-BB-CC-DD-EE-FF". */
static json_t *device_reference(struct builder *b, const char *address)
{
	char ref[32] = "Device/phd-";
	char eui[18];
	size_t r = strlen(ref);

	if (strnlen(address, 18) != 17) {
		fail(b, -EINVAL);
		return NULL;
	}
	for (size_t i = 0; i < 17; i++) {
		char c = (char)toupper((unsigned char)address[i]);

		if (i % 3 == 2) {
			if (c != ':') {
				fail(b, -EINVAL);
				return NULL;
			}
			eui[i] = '-';
			continue;
		}
		if (!isxdigit((unsigned char)c)) {
			fail(b, -EINVAL);
			return NULL;
		}
		eui[i] = c;
		ref[r++] = c;
	}
	eui[17] = '\0';
	ref[r] = '\0';
	return check(b, json_pack("{s:s, s:{s:s, s:s}}", "reference", ref, "identifier", "system",
				  BT_ADDRESS_SYSTEM, "value", eui));
}

static bool is_glucose(uint32_t metric)
{
	return metric >= VARDE_METRIC_GLUCOSE_CAPILLARY_WHOLE_BLOOD &&
	       metric <= VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION;
}

static void add_note(struct builder *b, json_t *obs, const char *text)
{
	json_t *notes = json_object_get(obs, "note");

	if (!notes) {
		notes = check(b, json_array());
		set(b, obs, "note", notes);
	}
	append(b, notes, check(b, json_pack("{s:s}", "text", text)));
}

static json_t *build(struct builder *b, const struct record *r, const char *gateway)
{
	const struct metric_info *m = metric_lookup(r->metric);
	bool control = r->metric == VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION ||
		       (is_glucose(r->metric) && (r->status & VARDE_STATUS_CONTROL_SOLUTION));
	json_t *obs, *meta, *categories, *interp, *components, *site;
	char effective[64], issued[64], ref[96];

	if (!m || m->kind == METRIC_CODED || !valid_id(r->patient, sizeof(r->patient)) ||
	    !valid_id(gateway, 65) || !r->id[0] || strnlen(r->id, sizeof(r->id)) == sizeof(r->id) ||
	    r->n_components > RECORD_MAX_COMPONENTS ||
	    time_format_iso(r->effective_ms, r->effective_offset_s, effective, sizeof(effective)) <
		    0 ||
	    time_format_iso(r->received_ms, r->received_offset_s, issued, sizeof(issued)) < 0) {
		fail(b, -EINVAL);
		return NULL;
	}
	/* Never presented as the patient's glucose. */
	if (control)
		m = metric_lookup(VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION);

	obs = check(b, json_object());
	set(b, obs, "resourceType", json_string("Observation"));

	meta = check(b,
		     json_pack("{s:[s]}", "profile",
			       m->kind == METRIC_PANEL ? PHD_PROFILE "PhdCompoundNumericObservation"
						       : PHD_PROFILE "PhdNumericObservation"));
	if (control || (r->status & VARDE_STATUS_TEST_DATA))
		set(b, meta, "security",
		    check(b, json_pack("[o]",
				       coding(b, ACT_REASON_SYSTEM, "HTEST", "test health data"))));
	set(b, obs, "meta", meta);

	snprintf(ref, sizeof(ref), "Device/%s", gateway);
	set(b, obs, "extension",
	    check(b, json_pack("[{s:s, s:{s:s}}]", "url", GATEWAY_EXTENSION, "valueReference",
			       "reference", ref)));
	set(b, obs, "identifier",
	    check(b, json_pack("[{s:s, s:s}]", "system", FHIR_IDENTIFIER_SYSTEM, "value", r->id)));
	set(b, obs, "status",
	    json_string((r->status & VARDE_STATUS_MEASUREMENT_ONGOING) ? "preliminary" : "final"));

	categories = check(b, json_array());
	if (m->vital_sign)
		append(b, categories,
		       codeable(b, CATEGORY_SYSTEM, "vital-signs", "Vital Signs", NULL));
	append(b, categories,
	       codeable(b, PHD_CATEGORY_SYSTEM, "phd-observation", "PHD generated Observation",
			NULL));
	set(b, obs, "category", categories);

	set(b, obs, "code", metric_code(b, m));
	snprintf(ref, sizeof(ref), "Patient/%s", r->patient);
	set(b, obs, "subject", check(b, json_pack("{s:s}", "reference", ref)));
	set(b, obs, "effectiveDateTime", json_string(effective));
	set(b, obs, "issued", json_string(issued));
	set(b, obs, "device", device_reference(b, r->device_address));

	components = check(b, json_array());
	if (m->kind == METRIC_PANEL) {
		/* An invalid compound has no parts at all (IG). */
		json_t *reason = (r->status & VARDE_STATUS_INVALID)
					 ? absent_reason(b, &r->value, r->status)
					 : NULL;

		if (reason)
			set(b, obs, "dataAbsentReason", reason);
		for (uint32_t i = 0; !reason && i < r->n_components; i++)
			append(b, components, value_component(b, &r->components[i]));
	} else {
		set_value(b, obs, m, r->unit, &r->value, r->status);
		for (uint32_t i = 0; i < r->n_components; i++)
			append(b, components, value_component(b, &r->components[i]));
	}
	add_status_components(b, components, r->status, r->metric);
	if (r->flags & RECORD_TIME_FROM_RECEIPT) {
		json_t *codings =
			check(b, json_pack("[o]", coding(b, FHIR_STATUS_SYSTEM, "time-from-receipt",
							 "Time of receipt")));

		append(b, components,
		       flag_component(b, codings, "Effective time is the gateway's receive time"));
	}
	if (json_array_size(components))
		set(b, obs, "component", components);
	else
		json_decref(components);

	interp = check(b, json_array());
	if (r->status & VARDE_STATUS_QUESTIONABLE)
		append(b, interp, interpretation(b, "questionable"));
	if (r->status & VARDE_STATUS_CALIBRATION_ONGOING)
		append(b, interp, interpretation(b, "calibration-ongoing"));
	if (r->status & VARDE_STATUS_MEASUREMENT_ONGOING)
		append(b, interp, interpretation(b, "early-indication"));
	if (json_array_size(interp))
		set(b, obs, "interpretation", interp);
	else
		json_decref(interp);

	site = body_site(b, r->site);
	if (site)
		set(b, obs, "bodySite", site);

	if (control)
		add_note(b, obs,
			 "Control solution test: it checks the meter, it is not the patient's "
			 "glucose.");
	if (r->flags & RECORD_TIME_FROM_RECEIPT)
		add_note(b, obs,
			 "The device gave no usable time: the effective time is when the gateway "
			 "received the reading.");
	return obs;
}

/* The dumped JSON with every number placeholder replaced by its text, or
 * NULL with errno. */
static char *substitute_numbers(const struct builder *b, const char *json)
{
	size_t len = strlen(json), out_len = 0;
	char *out = malloc(len + b->n_numbers * NUMBER_MAX + 1);
	bool in_string = false;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len;) {
		char c = json[i];

		if (in_string) {
			out[out_len++] = c;
			if (c == '\\' && i + 1 < len)
				out[out_len++] = json[++i];
			else if (c == '"')
				in_string = false;
			i++;
		} else if (c == '"') {
			in_string = true;
			out[out_len++] = c;
			i++;
		} else if (isdigit((unsigned char)c)) {
			size_t index = 0, n;

			while (i < len && isdigit((unsigned char)json[i]))
				index = index * 10 + (size_t)(json[i++] - '0');
			if (index >= b->n_numbers) {
				free(out);
				errno = EINVAL;
				return NULL;
			}
			n = strlen(b->numbers[index]);
			memcpy(out + out_len, b->numbers[index], n);
			out_len += n;
		} else {
			out[out_len++] = c;
			i++;
		}
	}
	out[out_len] = '\0';
	return out;
}

char *fhir_observation(const struct record *r, const char *gateway_device_id)
{
	struct builder *b;
	json_t *obs;
	char *json, *out = NULL;
	int err;

	if (!r || !gateway_device_id) {
		errno = EINVAL;
		return NULL;
	}
	if ((r->flags & RECORD_QUARANTINED) || !r->patient[0]) {
		errno = EPERM;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	obs = build(b, r, gateway_device_id);
	err = b->err;
	if (!err) {
		json = json_dumps(obs, JSON_COMPACT);
		if (json) {
			out = substitute_numbers(b, json);
			err = out ? 0 : -errno;
			free(json);
		} else {
			err = -ENOMEM;
		}
	}
	json_decref(obs);
	free(b);
	if (!out)
		errno = -err;
	return out;
}
