/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <jansson.h>

#include "fhir.h"
#include "metrics.h"

#define GATEWAY "phg-gw-1"
#define GOLDEN_DIR VARDE_SOURCE_DIR "/tests/data/fhir/"

/* 2024-11-29T22:08:57Z: 23:08:57 in Oslo (CET, +01:00). */
#define WINTER_MS 1732918137000LL
/* 2024-07-01T10:00:00.750Z: 12:00:00 in Oslo (CEST, +02:00). */
#define SUMMER_MS 1719828000750LL

static struct varde_value num(int32_t mantissa, int8_t exponent)
{
	struct varde_value v = {mantissa, exponent, VARDE_VALUE_NUMBER, {0, 0}};

	return v;
}

static struct varde_value special(enum varde_special s)
{
	struct varde_value v = {0, 0, (uint8_t)s, {0, 0}};

	return v;
}

static struct record reading(uint32_t metric, uint32_t unit, struct varde_value v)
{
	struct record r;

	memset(&r, 0, sizeof(r));
	snprintf(r.id, sizeof(r.id), "gw-1.C0FFEE000001.42");
	snprintf(r.hub_id, sizeof(r.hub_id), "gw-1");
	snprintf(r.patient, sizeof(r.patient), "p-0042");
	snprintf(r.device_address, sizeof(r.device_address), "c0:ff:ee:00:00:01");
	snprintf(r.device_name, sizeof(r.device_name), "Kari Nordmann's meter");
	snprintf(r.plugin, sizeof(r.plugin), "test");
	r.metric = metric;
	r.unit = unit;
	r.value = v;
	r.effective_ms = WINTER_MS;
	r.effective_offset_s = 3600;
	r.received_ms = WINTER_MS + 65000;
	r.received_offset_s = 3600;
	return r;
}

static void add_component(struct record *r, uint32_t metric, uint32_t unit, struct varde_value v)
{
	struct varde_component *c = &r->components[r->n_components++];

	c->metric = metric;
	c->unit = unit;
	c->value = v;
}

static struct record blood_pressure(uint32_t unit, struct varde_value sys, struct varde_value dia,
				    struct varde_value map)
{
	struct record r = reading(VARDE_METRIC_BLOOD_PRESSURE, VARDE_UNIT_NONE, num(0, 0));

	add_component(&r, VARDE_METRIC_BP_SYSTOLIC, unit, sys);
	add_component(&r, VARDE_METRIC_BP_DIASTOLIC, unit, dia);
	add_component(&r, VARDE_METRIC_BP_MEAN, unit, map);
	return r;
}

/* The observation's text and its parse; both freed by release(). */
struct doc {
	char *text;
	json_t *root;
};

static struct doc encode(const struct record *r)
{
	struct doc d;
	json_error_t error;

	d.text = fhir_observation(r, GATEWAY);
	if (!d.text)
		fail_msg("fhir_observation: %s", strerror(errno));
	d.root = json_loads(d.text, JSON_REJECT_DUPLICATES, &error);
	if (!d.root)
		fail_msg("invalid JSON (%s): %s", error.text, d.text);
	return d;
}

static void release(struct doc *d)
{
	json_decref(d->root);
	free(d->text);
}

static json_t *at(json_t *root, const char *path)
{
	json_t *j = root;
	char buf[256], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *tok = strtok_r(buf, ".", &save); j && tok; tok = strtok_r(NULL, ".", &save)) {
		char *end;
		unsigned long i = strtoul(tok, &end, 10);

		j = *end ? json_object_get(j, tok) : json_array_get(j, i);
	}
	return j;
}

static const char *str(json_t *root, const char *path)
{
	const char *s = json_string_value(at(root, path));

	if (!s)
		fail_msg("no string at %s", path);
	return s;
}

static void expect_str(json_t *root, const char *path, const char *want)
{
	assert_string_equal(str(root, path), want);
}

static void expect_absent(json_t *root, const char *path)
{
	if (at(root, path))
		fail_msg("unexpected %s", path);
}

static void expect_number(json_t *root, const char *path, double want)
{
	json_t *j = at(root, path);

	if (!json_is_number(j))
		fail_msg("no number at %s", path);
	assert_float_equal(json_number_value(j), want, 1e-9);
}

/* The exact text of a number: the precision the IG asks for. */
static void expect_text(const struct doc *d, const char *fragment)
{
	if (!strstr(d->text, fragment))
		fail_msg("'%s' not in %s", fragment, d->text);
}

static void expect_quantity(json_t *root, const char *path, double value, const char *ucum)
{
	char p[128];

	snprintf(p, sizeof(p), "%s.value", path);
	expect_number(root, p, value);
	snprintf(p, sizeof(p), "%s.code", path);
	expect_str(root, p, ucum);
	snprintf(p, sizeof(p), "%s.unit", path);
	expect_str(root, p, ucum);
	snprintf(p, sizeof(p), "%s.system", path);
	expect_str(root, p, "http://unitsofmeasure.org");
}

static void expect_coding(json_t *root, const char *path, const char *system, const char *code)
{
	char p[128];

	snprintf(p, sizeof(p), "%s.system", path);
	expect_str(root, p, system);
	snprintf(p, sizeof(p), "%s.code", path);
	expect_str(root, p, code);
}

/* The component whose code has this (system, code) coding, or NULL. */
static json_t *component(json_t *root, const char *system, const char *code)
{
	json_t *comps = json_object_get(root, "component"), *c, *cd;
	size_t i, k;

	json_array_foreach(comps, i, c)
	{
		json_array_foreach(json_object_get(json_object_get(c, "code"), "coding"), k, cd)
		{
			if (strcmp(json_string_value(json_object_get(cd, "system")), system) == 0 &&
			    strcmp(json_string_value(json_object_get(cd, "code")), code) == 0)
				return c;
		}
	}
	return NULL;
}

static bool has_category(json_t *root, const char *code)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(root, "category"), i, c)
	{
		if (strcmp(str(c, "coding.0.code"), code) == 0)
			return true;
	}
	return false;
}

static bool has_interpretation(json_t *root, const char *code)
{
	json_t *c;
	size_t i;

	json_array_foreach(json_object_get(root, "interpretation"), i, c)
	{
		if (strcmp(str(c, "coding.0.system"),
			   "http://hl7.org/fhir/uv/pocd/CodeSystem/measurement-status") == 0 &&
		    strcmp(str(c, "coding.0.code"), code) == 0)
			return true;
	}
	return false;
}

static void expect_common(json_t *o)
{
	expect_str(o, "resourceType", "Observation");
	expect_str(o, "extension.0.url",
		   "http://hl7.org/fhir/StructureDefinition/observation-gatewayDevice");
	expect_str(o, "extension.0.valueReference.reference", "Device/" GATEWAY);
	expect_str(o, "identifier.0.system", FHIR_IDENTIFIER_SYSTEM);
	expect_str(o, "identifier.0.value", "gw-1.C0FFEE000001.42");
	expect_str(o, "subject.reference", "Patient/p-0042");
	expect_str(o, "device.reference", "Device/phd-C0FFEE000001");
	expect_str(o, "device.identifier.system", "http://hl7.org/fhir/sid/eui-48/bluetooth");
	expect_str(o, "device.identifier.value", "C0-FF-EE-00-00-01");
	assert_true(has_category(o, "phd-observation"));
}

static void test_blood_pressure_panel(void **state)
{
	struct record r = blood_pressure(VARDE_UNIT_MMHG, num(120, 0), num(80, 0), num(93, 0));
	struct doc d;
	json_t *o, *c;

	(void)state;
	d = encode(&r);
	o = d.root;
	expect_common(o);
	expect_str(o, "meta.profile.0",
		   "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdCompoundNumericObservation");
	expect_str(o, "status", "final");
	assert_true(has_category(o, "vital-signs"));
	expect_coding(o, "code.coding.0", MDC_SYSTEM, "150020");
	expect_str(o, "code.coding.0.display", "MDC_PRESS_BLD_NONINV");
	expect_coding(o, "code.coding.1", LOINC_SYSTEM, "85354-9");
	expect_str(o, "effectiveDateTime", "2024-11-29T23:08:57+01:00");
	expect_str(o, "issued", "2024-11-29T23:10:02+01:00");
	expect_absent(o, "valueQuantity");
	expect_absent(o, "dataAbsentReason");
	assert_int_equal(json_array_size(json_object_get(o, "component")), 3);

	c = component(o, MDC_SYSTEM, "150021");
	assert_ptr_equal(c, component(o, LOINC_SYSTEM, "8480-6"));
	expect_quantity(c, "valueQuantity", 120, "mm[Hg]");
	c = component(o, MDC_SYSTEM, "150022");
	assert_ptr_equal(c, component(o, LOINC_SYSTEM, "8462-4"));
	expect_quantity(c, "valueQuantity", 80, "mm[Hg]");
	c = component(o, MDC_SYSTEM, "150023");
	assert_ptr_equal(c, component(o, LOINC_SYSTEM, "8478-0"));
	expect_quantity(c, "valueQuantity", 93, "mm[Hg]");
	expect_text(&d, "\"value\":120,");
	release(&d);
}

static void test_blood_pressure_in_kpa_and_special_parts(void **state)
{
	struct record r = blood_pressure(VARDE_UNIT_KPA, num(189, -1), special(VARDE_VALUE_NAN),
					 special(VARDE_VALUE_NRES));
	struct doc d;
	json_t *c;

	(void)state;
	d = encode(&r);
	c = component(d.root, MDC_SYSTEM, "150021");
	expect_quantity(c, "valueQuantity", 142, "mm[Hg]");
	c = component(d.root, MDC_SYSTEM, "150022");
	expect_absent(c, "valueQuantity");
	expect_coding(c, "dataAbsentReason.coding.0",
		      "http://terminology.hl7.org/CodeSystem/data-absent-reason", "not-a-number");
	c = component(d.root, MDC_SYSTEM, "150023");
	expect_absent(c, "valueQuantity");
	expect_str(c, "dataAbsentReason.coding.0.code", "error");
	expect_str(c, "dataAbsentReason.text", "Not at this resolution (NRes)");
	/* No part says kPa, and no special value became a number. */
	assert_null(strstr(d.text, "kPa"));
	assert_null(strstr(d.text, "2047"));
	release(&d);
}

static void test_blood_pressure_status_bits(void **state)
{
	struct record r = blood_pressure(VARDE_UNIT_MMHG, num(150, 0), num(95, 0), num(113, 0));
	struct doc d;
	json_t *c;

	(void)state;
	r.status = VARDE_STATUS_BODY_MOVEMENT | VARDE_STATUS_IRREGULAR_PULSE |
		   VARDE_STATUS_IMPROPER_POSITION | VARDE_STATUS_CUFF_LOOSE;
	d = encode(&r);
	assert_int_equal(json_array_size(json_object_get(d.root, "component")), 3 + 4);
	c = component(d.root, FHIR_STATUS_SYSTEM, "body-movement");
	assert_ptr_equal(c, component(d.root, "http://terminology.hl7.org/CodeSystem/ASN1ToHL7",
				      "8410608.0"));
	expect_coding(c, "valueCodeableConcept.coding.0",
		      "http://terminology.hl7.org/CodeSystem/v2-0136", "Y");
	assert_ptr_equal(
		component(d.root, FHIR_STATUS_SYSTEM, "cuff-loose"),
		component(d.root, "http://terminology.hl7.org/CodeSystem/ASN1ToHL7", "8410608.1"));
	assert_ptr_equal(
		component(d.root, FHIR_STATUS_SYSTEM, "irregular-pulse"),
		component(d.root, "http://terminology.hl7.org/CodeSystem/ASN1ToHL7", "8410608.2"));
	assert_ptr_equal(
		component(d.root, FHIR_STATUS_SYSTEM, "improper-position"),
		component(d.root, "http://terminology.hl7.org/CodeSystem/ASN1ToHL7", "8410608.5"));
	/* Device status is no reason to drop the values. */
	expect_quantity(component(d.root, MDC_SYSTEM, "150021"), "valueQuantity", 150, "mm[Hg]");
	expect_str(d.root, "status", "final");
	release(&d);
}

static void test_invalid_compound_has_no_parts(void **state)
{
	struct record r = blood_pressure(VARDE_UNIT_MMHG, num(150, 0), num(95, 0), num(113, 0));
	struct doc d;

	(void)state;
	r.status = VARDE_STATUS_INVALID;
	d = encode(&r);
	expect_str(d.root, "dataAbsentReason.coding.0.code", "error");
	assert_null(component(d.root, MDC_SYSTEM, "150021"));
	assert_non_null(component(d.root, FHIR_STATUS_SYSTEM, "invalid"));
	assert_null(strstr(d.text, "valueQuantity"));
	release(&d);
}

static void test_pulse_rate_of_a_cuff(void **state)
{
	struct record r = reading(VARDE_METRIC_PULSE_RATE, VARDE_UNIT_PER_MIN, num(72, 0));
	struct doc d;

	(void)state;
	r.status = VARDE_STATUS_PULSE_ABOVE_RANGE;
	d = encode(&r);
	expect_common(d.root);
	expect_str(d.root, "meta.profile.0",
		   "http://hl7.org/fhir/uv/phd/StructureDefinition/PhdNumericObservation");
	expect_coding(d.root, "code.coding.0", MDC_SYSTEM, "149546");
	expect_coding(d.root, "code.coding.1", LOINC_SYSTEM, "8867-4");
	expect_quantity(d.root, "valueQuantity", 72, "/min");
	assert_ptr_equal(
		component(d.root, FHIR_STATUS_SYSTEM, "pulse-above-range"),
		component(d.root, "http://terminology.hl7.org/CodeSystem/ASN1ToHL7", "8410608.3"));
	release(&d);
}

static void test_spo2_two_loinc_codings(void **state)
{
	struct record r = reading(VARDE_METRIC_SPO2, VARDE_UNIT_PERCENT, num(97, 0));
	struct doc d;

	(void)state;
	r.site = VARDE_SITE_FINGER;
	r.status = VARDE_STATUS_LOW_PERFUSION | VARDE_STATUS_SIGNAL_ARTIFACT |
		   VARDE_STATUS_BATTERY_LOW;
	d = encode(&r);
	expect_coding(d.root, "code.coding.0", MDC_SYSTEM, "150456");
	expect_coding(d.root, "code.coding.1", LOINC_SYSTEM, "2708-6");
	expect_coding(d.root, "code.coding.2", LOINC_SYSTEM, "59408-5");
	assert_true(has_category(d.root, "vital-signs"));
	expect_quantity(d.root, "valueQuantity", 97, "%");
	expect_coding(d.root, "bodySite.coding.0", "http://snomed.info/sct", "7569003");
	assert_ptr_equal(
		component(d.root, FHIR_STATUS_SYSTEM, "low-perfusion"),
		component(d.root, "http://terminology.hl7.org/CodeSystem/ASN1ToHL7", "150604.10"));
	/* A merged bit gets no IEEE code rather than a wrong one. */
	assert_int_equal(
		json_array_size(at(component(d.root, FHIR_STATUS_SYSTEM, "signal-artifact"),
				   "code.coding")),
		1);
	/* The glucose meter's battery bit is not an oximeter bit. */
	assert_int_equal(json_array_size(at(component(d.root, FHIR_STATUS_SYSTEM, "battery-low"),
					    "code.coding")),
			 1);
	release(&d);
}

static void test_measurement_status_mapping(void **state)
{
	struct record r = reading(VARDE_METRIC_SPO2, VARDE_UNIT_PERCENT, num(91, 0));
	struct doc d;

	(void)state;
	r.status = VARDE_STATUS_QUESTIONABLE | VARDE_STATUS_CALIBRATION_ONGOING |
		   VARDE_STATUS_MEASUREMENT_ONGOING | VARDE_STATUS_TEST_DATA;
	d = encode(&r);
	expect_str(d.root, "status", "preliminary");
	assert_true(has_interpretation(d.root, "questionable"));
	assert_true(has_interpretation(d.root, "calibration-ongoing"));
	assert_true(has_interpretation(d.root, "early-indication"));
	expect_coding(d.root, "meta.security.0",
		      "http://terminology.hl7.org/CodeSystem/v3-ActReason", "HTEST");
	expect_quantity(d.root, "valueQuantity", 91, "%");
	assert_non_null(component(d.root, FHIR_STATUS_SYSTEM, "questionable"));
	assert_non_null(component(d.root, FHIR_STATUS_SYSTEM, "calibration-ongoing"));
	assert_non_null(component(d.root, FHIR_STATUS_SYSTEM, "measurement-ongoing"));
	assert_non_null(component(d.root, FHIR_STATUS_SYSTEM, "test-data"));
	release(&d);

	r.status = VARDE_STATUS_INVALID;
	d = encode(&r);
	expect_str(d.root, "status", "final");
	expect_absent(d.root, "valueQuantity");
	expect_str(d.root, "dataAbsentReason.coding.0.code", "error");
	expect_absent(d.root, "interpretation");
	expect_absent(d.root, "meta.security");
	release(&d);
}

static void test_every_special_value(void **state)
{
	static const struct {
		enum varde_special s;
		const char *code;
	} cases[] = {
		{VARDE_VALUE_NAN, "not-a-number"},
		{VARDE_VALUE_NRES, "error"},
		{VARDE_VALUE_PINF, "positive-infinity"},
		{VARDE_VALUE_NINF, "negative-infinity"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct record r = reading(VARDE_METRIC_BODY_TEMPERATURE, VARDE_UNIT_CELSIUS,
					  special(cases[i].s));
		struct doc d;

		r.value.mantissa = 2047; /* ignored: a special value has no number */
		d = encode(&r);
		expect_absent(d.root, "valueQuantity");
		expect_coding(d.root, "dataAbsentReason.coding.0",
			      "http://terminology.hl7.org/CodeSystem/data-absent-reason",
			      cases[i].code);
		assert_null(strstr(d.text, "valueQuantity"));
		release(&d);
	}
}

static void test_temperature(void **state)
{
	struct record r = reading(VARDE_METRIC_BODY_TEMPERATURE, VARDE_UNIT_CELSIUS, num(3760, -2));
	struct doc d;

	(void)state;
	r.site = VARDE_SITE_ARMPIT;
	d = encode(&r);
	expect_common(d.root);
	expect_coding(d.root, "code.coding.0", MDC_SYSTEM, "150364");
	expect_coding(d.root, "code.coding.1", LOINC_SYSTEM, "8310-5");
	expect_quantity(d.root, "valueQuantity", 37.6, "Cel");
	expect_text(&d, "\"value\":37.60,");
	expect_coding(d.root, "bodySite.coding.0", "http://snomed.info/sct", "91470000");
	release(&d);

	r = reading(VARDE_METRIC_BODY_TEMPERATURE, VARDE_UNIT_FAHRENHEIT, num(986, -1));
	r.site = VARDE_SITE_RECTUM;
	d = encode(&r);
	expect_quantity(d.root, "valueQuantity", 37.0, "Cel");
	expect_text(&d, "\"value\":37.0,");
	expect_str(d.root, "bodySite.coding.0.code", "34402009");
	release(&d);

	static const struct {
		uint32_t site;
		const char *code;
	} sites[] = {
		{VARDE_SITE_EAR, "48800003"},	    {VARDE_SITE_EARLOBE, "48800003"},
		{VARDE_SITE_GI_TRACT, "122865005"}, {VARDE_SITE_MOUTH, "74262004"},
		{VARDE_SITE_TOE, "29707007"},	    {VARDE_SITE_TYMPANUM, "42859004"},
	};
	for (size_t i = 0; i < sizeof(sites) / sizeof(sites[0]); i++) {
		r.site = sites[i].site;
		d = encode(&r);
		expect_str(d.root, "bodySite.coding.0.code", sites[i].code);
		release(&d);
	}
	r.site = VARDE_SITE_BODY;
	d = encode(&r);
	expect_absent(d.root, "bodySite");
	release(&d);
}

static void test_summer_and_winter_offsets(void **state)
{
	struct record r = reading(VARDE_METRIC_BODY_WEIGHT, VARDE_UNIT_KG, num(7250, -2));
	struct doc d;

	(void)state;
	d = encode(&r);
	expect_str(d.root, "effectiveDateTime", "2024-11-29T23:08:57+01:00");
	release(&d);

	r.effective_ms = SUMMER_MS;
	r.effective_offset_s = 7200;
	r.received_ms = SUMMER_MS + 3 * 86400 * 1000LL;
	r.received_offset_s = 7200;
	d = encode(&r);
	expect_str(d.root, "effectiveDateTime", "2024-07-01T12:00:00+02:00");
	expect_str(d.root, "issued", "2024-07-04T12:00:00+02:00");
	expect_quantity(d.root, "valueQuantity", 72.5, "kg");
	expect_text(&d, "\"value\":72.50,");
	expect_coding(d.root, "code.coding.1", LOINC_SYSTEM, "29463-7");
	release(&d);

	/* Other zones and the epoch's far side print as they are. */
	r.effective_ms = -1;
	r.effective_offset_s = -(3 * 3600 + 30 * 60);
	d = encode(&r);
	expect_str(d.root, "effectiveDateTime", "1969-12-31T20:29:59-03:30");
	release(&d);
	r.effective_ms = 0;
	r.effective_offset_s = 0;
	d = encode(&r);
	expect_str(d.root, "effectiveDateTime", "1970-01-01T00:00:00+00:00");
	release(&d);
}

static void test_time_from_receipt(void **state)
{
	struct record r = reading(VARDE_METRIC_PULSE_RATE_OXIMETER, VARDE_UNIT_PER_MIN, num(64, 0));
	struct doc d;
	json_t *c;

	(void)state;
	r.flags = RECORD_TIME_FROM_RECEIPT;
	r.status = VARDE_STATUS_DEVICE_CLOCK_NOT_SET;
	d = encode(&r);
	c = component(d.root, FHIR_STATUS_SYSTEM, "time-from-receipt");
	assert_non_null(c);
	expect_str(c, "valueCodeableConcept.coding.0.code", "Y");
	assert_non_null(component(d.root, FHIR_STATUS_SYSTEM, "device-clock-not-set"));
	assert_non_null(strstr(str(d.root, "note.0.text"), "received"));
	expect_coding(d.root, "code.coding.0", MDC_SYSTEM, "149530");
	release(&d);
}

static void test_glucose_with_context(void **state)
{
	struct record r =
		reading(VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA, VARDE_UNIT_KG_PER_L, num(95, -5));
	struct doc d;
	json_t *c;

	(void)state;
	r.site = VARDE_SITE_FINGER;
	r.status = VARDE_STATUS_BATTERY_LOW | VARDE_STATUS_STRIP_ERROR |
		   VARDE_STATUS_TEMPERATURE_OUT_OF_RANGE;
	add_component(&r, VARDE_METRIC_CONTEXT_MEAL, VARDE_UNIT_CODE, num(2, 0));
	add_component(&r, VARDE_METRIC_CONTEXT_MEAL, VARDE_UNIT_CODE, num(5, 0));
	add_component(&r, VARDE_METRIC_CONTEXT_TESTER, VARDE_UNIT_CODE, num(1, 0));
	add_component(&r, VARDE_METRIC_CONTEXT_CARBOHYDRATE_ID, VARDE_UNIT_CODE, num(9, 0));
	add_component(&r, VARDE_METRIC_CONTEXT_CARBOHYDRATE, VARDE_UNIT_G, num(500, -1));
	add_component(&r, VARDE_METRIC_CONTEXT_MEDICATION, VARDE_UNIT_ML, num(25, -2));
	add_component(&r, VARDE_METRIC_CONTEXT_EXERCISE_DURATION, VARDE_UNIT_S,
		      special(VARDE_VALUE_PINF));
	add_component(&r, VARDE_METRIC_HBA1C, VARDE_UNIT_PERCENT, num(62, -1));
	d = encode(&r);
	expect_common(d.root);
	assert_false(has_category(d.root, "vital-signs"));
	expect_coding(d.root, "code.coding.0", MDC_SYSTEM, "160188");
	expect_str(d.root, "code.coding.0.display", "MDC_CONC_GLU_CAPILLARY_PLASMA");
	expect_coding(d.root, "code.coding.1", LOINC_SYSTEM, "14743-9");
	expect_quantity(d.root, "valueQuantity", 5.27, "mmol/L");
	expect_text(&d, "\"value\":5.27,");
	expect_absent(d.root, "valueQuantity.comparator");
	expect_str(d.root, "bodySite.coding.0.code", "7569003");

	c = json_array_get(json_object_get(d.root, "component"), 0);
	expect_coding(c, "code.coding.0", MDC_SYSTEM, "8417864");
	expect_coding(c, "valueCodeableConcept.coding.0", MDC_SYSTEM, "8417872");
	c = json_array_get(json_object_get(d.root, "component"), 1);
	expect_str(c, "valueCodeableConcept.text", "Bedtime");
	expect_absent(c, "valueCodeableConcept.coding");
	c = component(d.root, MDC_SYSTEM, "8417884");
	expect_coding(c, "valueCodeableConcept.coding.0", MDC_SYSTEM, "8417888");
	c = component(d.root, FHIR_METRIC_SYSTEM, "context_carbohydrate_id");
	expect_str(c, "valueCodeableConcept.text", "Glucose Service code 9");
	expect_quantity(component(d.root, MDC_SYSTEM, "8417764"), "valueQuantity", 50, "g");
	expect_quantity(component(d.root, MDC_SYSTEM, "8417796"), "valueQuantity", 0.25, "mL");
	c = component(d.root, FHIR_METRIC_SYSTEM, "context_exercise_duration");
	expect_str(c, "dataAbsentReason.coding.0.code", "positive-infinity");
	expect_absent(c, "valueQuantity");
	c = component(d.root, LOINC_SYSTEM, "4548-4");
	assert_ptr_equal(c, component(d.root, MDC_SYSTEM, "160220"));
	expect_quantity(c, "valueQuantity", 6.2, "%");
	expect_text(&d, "\"value\":50.0,");
	expect_text(&d, "\"value\":0.25,");

	assert_ptr_equal(
		component(d.root, FHIR_STATUS_SYSTEM, "battery-low"),
		component(d.root, "http://terminology.hl7.org/CodeSystem/ASN1ToHL7", "8417752.0"));
	assert_ptr_equal(
		component(d.root, FHIR_STATUS_SYSTEM, "temperature-out-of-range"),
		component(d.root, "http://terminology.hl7.org/CodeSystem/ASN1ToHL7", "8417752.11"));
	assert_int_equal(json_array_size(at(component(d.root, FHIR_STATUS_SYSTEM, "strip-error"),
					    "code.coding")),
			 1);
	release(&d);
}

static void test_glucose_beyond_the_meter(void **state)
{
	struct record r = reading(VARDE_METRIC_GLUCOSE_CAPILLARY_WHOLE_BLOOD, VARDE_UNIT_MG_PER_DL,
				  num(600, 0));
	struct doc d;

	(void)state;
	r.status = VARDE_STATUS_RESULT_TOO_HIGH;
	d = encode(&r);
	expect_quantity(d.root, "valueQuantity", 33.30, "mmol/L");
	expect_str(d.root, "valueQuantity.comparator", ">");
	assert_ptr_equal(
		component(d.root, FHIR_STATUS_SYSTEM, "result-too-high"),
		component(d.root, "http://terminology.hl7.org/CodeSystem/ASN1ToHL7", "8417752.5"));
	release(&d);

	r = reading(VARDE_METRIC_GLUCOSE_CAPILLARY_WHOLE_BLOOD, VARDE_UNIT_MOL_PER_L, num(11, -4));
	r.status = VARDE_STATUS_RESULT_TOO_LOW;
	d = encode(&r);
	expect_quantity(d.root, "valueQuantity", 1.1, "mmol/L");
	expect_str(d.root, "valueQuantity.comparator", "<");
	expect_text(&d, "\"value\":1.1,");
	release(&d);

	r = reading(VARDE_METRIC_GLUCOSE_UNDETERMINED_PLASMA, VARDE_UNIT_KG_PER_L,
		    special(VARDE_VALUE_PINF));
	r.status = VARDE_STATUS_RESULT_TOO_HIGH;
	d = encode(&r);
	expect_absent(d.root, "valueQuantity");
	expect_str(d.root, "dataAbsentReason.coding.0.code", "positive-infinity");
	expect_coding(d.root, "code.coding.0", MDC_SYSTEM, "160368");
	release(&d);

	r = reading(VARDE_METRIC_GLUCOSE_UNDETERMINED_PLASMA, VARDE_UNIT_KG_PER_L, num(20, -5));
	r.status = VARDE_STATUS_RESULT_TOO_HIGH | VARDE_STATUS_RESULT_TOO_LOW;
	d = encode(&r);
	expect_absent(d.root, "valueQuantity");
	expect_str(d.root, "dataAbsentReason.coding.0.code", "error");
	release(&d);
}

static void test_control_solution_is_marked(void **state)
{
	struct record r =
		reading(VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION, VARDE_UNIT_KG_PER_L, num(110, -5));
	struct doc d;

	(void)state;
	r.status = VARDE_STATUS_CONTROL_SOLUTION;
	d = encode(&r);
	expect_coding(d.root, "code.coding.0", MDC_SYSTEM, "160208");
	expect_str(d.root, "code.coding.0.display", "MDC_CONC_GLU_CONTROL");
	assert_int_equal(json_array_size(at(d.root, "code.coding")), 1);
	expect_coding(d.root, "meta.security.0",
		      "http://terminology.hl7.org/CodeSystem/v3-ActReason", "HTEST");
	assert_non_null(strstr(str(d.root, "note.0.text"), "Control solution"));
	assert_false(has_category(d.root, "vital-signs"));
	assert_non_null(component(d.root, FHIR_STATUS_SYSTEM, "control-solution"));
	expect_quantity(d.root, "valueQuantity", 6.11, "mmol/L");
	release(&d);

	/* The bit alone on a patient sample type is not the patient's glucose either. */
	r = reading(VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA, VARDE_UNIT_KG_PER_L, num(110, -5));
	r.status = VARDE_STATUS_CONTROL_SOLUTION;
	d = encode(&r);
	expect_coding(d.root, "code.coding.0", MDC_SYSTEM, "160208");
	assert_null(component(d.root, LOINC_SYSTEM, "14743-9"));
	assert_null(strstr(d.text, "14743-9"));
	expect_str(d.root, "meta.security.0.code", "HTEST");
	release(&d);
}

static void test_other_metrics(void **state)
{
	static const struct {
		uint32_t metric, unit;
		int32_t mantissa;
		int8_t exponent;
		const char *mdc, *loinc, *ucum, *text;
		bool vital;
	} cases[] = {
		{VARDE_METRIC_BODY_HEIGHT, VARDE_UNIT_M, 1805, -3, "188740", "8302-2", "cm",
		 "\"value\":180.5,", true},
		{VARDE_METRIC_BODY_HEIGHT, VARDE_UNIT_INCH, 700, -1, "188740", "8302-2", "cm",
		 "\"value\":177.8,", true},
		{VARDE_METRIC_BMI, VARDE_UNIT_KG_PER_M2, 243, -1, "188752", "39156-5", "kg/m2",
		 "\"value\":24.3,", true},
		{VARDE_METRIC_BODY_WEIGHT, VARDE_UNIT_LB, 15000, -2, "188736", "29463-7", "kg",
		 "\"value\":68.04,", true},
		{VARDE_METRIC_PULSE_AMPLITUDE_INDEX, VARDE_UNIT_PERCENT, 52, -1, "150448", NULL,
		 "%", "\"value\":5.2,", false},
		{VARDE_METRIC_PEAK_EXPIRATORY_FLOW, VARDE_UNIT_L_PER_MIN, 420, 0, "152584",
		 "19935-6", "L/min", "\"value\":420,", false},
		{VARDE_METRIC_FEV1, VARDE_UNIT_L, 285, -2, "152586", "20150-9", "L",
		 "\"value\":2.85,", false},
		{VARDE_METRIC_BATTERY_LEVEL, VARDE_UNIT_PERCENT, 80, 0, "67996", NULL, "%",
		 "\"value\":80,", false},
		{VARDE_METRIC_GLUCOSE_ISF, VARDE_UNIT_MMOL_PER_L, 64, -1, "160212", NULL, "mmol/L",
		 "\"value\":6.4,", false},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct record r = reading(cases[i].metric, cases[i].unit,
					  num(cases[i].mantissa, cases[i].exponent));
		struct doc d = encode(&r);

		expect_common(d.root);
		expect_coding(d.root, "code.coding.0", MDC_SYSTEM, cases[i].mdc);
		if (cases[i].loinc)
			expect_coding(d.root, "code.coding.1", LOINC_SYSTEM, cases[i].loinc);
		else
			assert_int_equal(json_array_size(at(d.root, "code.coding")), 1);
		expect_str(d.root, "valueQuantity.code", cases[i].ucum);
		expect_text(&d, cases[i].text);
		assert_int_equal(has_category(d.root, "vital-signs"), cases[i].vital);
		release(&d);
	}
}

static void expect_refused(const struct record *r, const char *gateway, int err)
{
	errno = 0;
	assert_null(fhir_observation(r, gateway));
	assert_int_equal(errno, err);
}

static void test_refused(void **state)
{
	struct record r;

	(void)state;
	r = reading(VARDE_METRIC_SPO2, VARDE_UNIT_PERCENT, num(97, 0));
	r.flags = RECORD_QUARANTINED;
	expect_refused(&r, GATEWAY, EPERM);
	r.flags = 0;
	r.patient[0] = '\0';
	expect_refused(&r, GATEWAY, EPERM);

	r = reading(VARDE_METRIC_SPO2, VARDE_UNIT_PERCENT, num(97, 0));
	expect_refused(NULL, GATEWAY, EINVAL);
	expect_refused(&r, NULL, EINVAL);
	expect_refused(&r, "", EINVAL);
	expect_refused(&r, "phg/../x", EINVAL);
	snprintf(r.patient, sizeof(r.patient), "Kari Nordmann");
	expect_refused(&r, GATEWAY, EINVAL);

	r = reading(VARDE_METRIC_SPO2, VARDE_UNIT_KG, num(97, 0));
	expect_refused(&r, GATEWAY, EINVAL);
	r = reading(VARDE_METRIC_SPO2, VARDE_UNIT_KG, special(VARDE_VALUE_NAN));
	expect_refused(&r, GATEWAY, EINVAL);
	r = reading(99, VARDE_UNIT_PERCENT, num(97, 0));
	expect_refused(&r, GATEWAY, EINVAL);
	r = reading(VARDE_METRIC_CONTEXT_MEAL, VARDE_UNIT_CODE, num(1, 0));
	expect_refused(&r, GATEWAY, EINVAL);

	r = reading(VARDE_METRIC_SPO2, VARDE_UNIT_PERCENT, num(97, 0));
	snprintf(r.device_address, sizeof(r.device_address), "C0:FF:EE:00:00:0G");
	expect_refused(&r, GATEWAY, EINVAL);
	snprintf(r.device_address, sizeof(r.device_address), "C0-FF-EE-00-00-01");
	expect_refused(&r, GATEWAY, EINVAL);

	r = reading(VARDE_METRIC_SPO2, VARDE_UNIT_PERCENT, num(97, 0));
	r.effective_offset_s = 3601;
	expect_refused(&r, GATEWAY, EINVAL);
	r = reading(VARDE_METRIC_SPO2, VARDE_UNIT_PERCENT, num(97, 0));
	r.id[0] = '\0';
	expect_refused(&r, GATEWAY, EINVAL);

	r = blood_pressure(VARDE_UNIT_MG_PER_DL, num(1, 0), num(1, 0), num(1, 0));
	expect_refused(&r, GATEWAY, EINVAL);
	r = blood_pressure(VARDE_UNIT_MMHG, num(1, 0), num(1, 0), num(1, 0));
	r.components[1].metric = 77;
	expect_refused(&r, GATEWAY, EINVAL);
	r.n_components = RECORD_MAX_COMPONENTS + 1;
	expect_refused(&r, GATEWAY, EINVAL);
}

/* The whole document, byte for byte, for one record of each profile. */
static void expect_golden(const struct record *r, const char *name)
{
	char path[512], *want;
	char *got = fhir_observation(r, GATEWAY);
	FILE *f;
	long n;

	assert_non_null(got);
	snprintf(path, sizeof(path), GOLDEN_DIR "%s", name);
	/* After a deliberate change of the output: rewrite, then review the
	 * diff of the golden files before committing them. */
	if (getenv("VARDE_UPDATE_GOLDEN")) {
		f = fopen(path, "w");
		assert_non_null(f);
		fprintf(f, "%s\n", got);
		fclose(f);
	}
	f = fopen(path, "r");
	if (!f)
		fail_msg("%s: %s\ngot: %s", path, strerror(errno), got);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	want = calloc(1, (size_t)n + 1);
	assert_non_null(want);
	assert_int_equal(fread(want, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	if (want[n - 1] == '\n')
		want[n - 1] = '\0';
	if (strcmp(want, got) != 0)
		fail_msg("%s differs:\nwant %s\ngot  %s", name, want, got);
	free(want);
	free(got);
}

static void test_golden(void **state)
{
	struct record r = blood_pressure(VARDE_UNIT_MMHG, num(128, 0), num(82, 0), num(97, 0));

	(void)state;
	r.status = VARDE_STATUS_IRREGULAR_PULSE;
	expect_golden(&r, "blood_pressure.json");

	r = reading(VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA, VARDE_UNIT_KG_PER_L, num(95, -5));
	r.effective_ms = SUMMER_MS;
	r.effective_offset_s = 7200;
	r.received_ms = SUMMER_MS + 1000;
	r.received_offset_s = 7200;
	r.site = VARDE_SITE_FINGER;
	add_component(&r, VARDE_METRIC_CONTEXT_MEAL, VARDE_UNIT_CODE, num(1, 0));
	expect_golden(&r, "glucose.json");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_blood_pressure_panel),
		cmocka_unit_test(test_blood_pressure_in_kpa_and_special_parts),
		cmocka_unit_test(test_blood_pressure_status_bits),
		cmocka_unit_test(test_invalid_compound_has_no_parts),
		cmocka_unit_test(test_pulse_rate_of_a_cuff),
		cmocka_unit_test(test_spo2_two_loinc_codings),
		cmocka_unit_test(test_measurement_status_mapping),
		cmocka_unit_test(test_every_special_value),
		cmocka_unit_test(test_temperature),
		cmocka_unit_test(test_summer_and_winter_offsets),
		cmocka_unit_test(test_time_from_receipt),
		cmocka_unit_test(test_glucose_with_context),
		cmocka_unit_test(test_glucose_beyond_the_meter),
		cmocka_unit_test(test_control_solution_is_marked),
		cmocka_unit_test(test_other_metrics),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_golden),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
