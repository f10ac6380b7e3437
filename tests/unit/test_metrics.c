/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"

/*
 * Every metric of the ABI. The switch has no default, so -Wswitch (with
 * -Werror) stops the build when plugin.h gains a metric this list lacks;
 * the test then checks each has a row.
 */
static bool abi_metric(uint32_t id)
{
	switch ((enum varde_metric)id) {
	case VARDE_METRIC_NONE:
		return false;
	case VARDE_METRIC_BLOOD_PRESSURE:
	case VARDE_METRIC_BP_SYSTOLIC:
	case VARDE_METRIC_BP_DIASTOLIC:
	case VARDE_METRIC_BP_MEAN:
	case VARDE_METRIC_PULSE_RATE:
	case VARDE_METRIC_SPO2:
	case VARDE_METRIC_PULSE_RATE_OXIMETER:
	case VARDE_METRIC_PULSE_AMPLITUDE_INDEX:
	case VARDE_METRIC_BODY_TEMPERATURE:
	case VARDE_METRIC_BODY_WEIGHT:
	case VARDE_METRIC_BODY_HEIGHT:
	case VARDE_METRIC_BMI:
	case VARDE_METRIC_GLUCOSE_CAPILLARY_WHOLE_BLOOD:
	case VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA:
	case VARDE_METRIC_GLUCOSE_VENOUS_WHOLE_BLOOD:
	case VARDE_METRIC_GLUCOSE_VENOUS_PLASMA:
	case VARDE_METRIC_GLUCOSE_ARTERIAL_WHOLE_BLOOD:
	case VARDE_METRIC_GLUCOSE_ARTERIAL_PLASMA:
	case VARDE_METRIC_GLUCOSE_UNDETERMINED_WHOLE_BLOOD:
	case VARDE_METRIC_GLUCOSE_UNDETERMINED_PLASMA:
	case VARDE_METRIC_GLUCOSE_ISF:
	case VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION:
	case VARDE_METRIC_HBA1C:
	case VARDE_METRIC_CONTEXT_MEAL:
	case VARDE_METRIC_CONTEXT_TESTER:
	case VARDE_METRIC_CONTEXT_HEALTH:
	case VARDE_METRIC_CONTEXT_CARBOHYDRATE_ID:
	case VARDE_METRIC_CONTEXT_CARBOHYDRATE:
	case VARDE_METRIC_CONTEXT_EXERCISE_DURATION:
	case VARDE_METRIC_CONTEXT_EXERCISE_INTENSITY:
	case VARDE_METRIC_CONTEXT_MEDICATION_ID:
	case VARDE_METRIC_CONTEXT_MEDICATION:
	case VARDE_METRIC_PEAK_EXPIRATORY_FLOW:
	case VARDE_METRIC_FEV1:
	case VARDE_METRIC_BATTERY_LEVEL:
		return true;
	}
	return false;
}

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

static void test_every_metric_has_exactly_one_row(void **state)
{
	unsigned int rows = 0;

	(void)state;
	for (uint32_t id = 0; id < 1024; id++) {
		const struct metric_info *m = metric_lookup(id);

		if (abi_metric(id) != (m != NULL))
			fail_msg("metric %u: ABI %d, row %d", id, abi_metric(id), m != NULL);
		if (!m)
			continue;
		rows++;
		assert_int_equal(m->metric, id);
		assert_non_null(m->name);
		assert_non_null(m->display);
		assert_ptr_equal(metric_by_name(m->name), m);
		for (const char *c = m->name; *c; c++)
			assert_true((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
				    *c == '_');
		/* A code comes with its name, and a LOINC code with its display. */
		assert_true((m->mdc == 0) == (m->mdc_name == NULL));
		assert_true((m->loinc == NULL) == (m->loinc_display == NULL));
		assert_true((m->loinc2 == NULL) == (m->loinc2_display == NULL));
		assert_true((m->kind == METRIC_QUANTITY) == (m->ucum != NULL));
		if (m->vital_sign)
			assert_non_null(m->loinc);
	}
	assert_int_equal(rows, 35);
	assert_null(metric_lookup(UINT32_MAX));
	assert_null(metric_by_name("no_such_metric"));
	assert_null(metric_by_name(NULL));
}

static void test_names_and_codes_are_unique(void **state)
{
	(void)state;
	for (uint32_t a = 0; a < 64; a++) {
		const struct metric_info *x = metric_lookup(a);

		for (uint32_t b = a + 1; x && b < 64; b++) {
			const struct metric_info *y = metric_lookup(b);

			if (!y)
				continue;
			assert_string_not_equal(x->name, y->name);
			if (x->mdc)
				assert_int_not_equal(x->mdc, y->mdc);
		}
	}
}

static void expect_codes(uint32_t metric, const char *name, uint32_t mdc, const char *mdc_name,
			 const char *loinc, const char *ucum)
{
	const struct metric_info *m = metric_by_name(name);

	assert_non_null(m);
	assert_int_equal(m->metric, metric);
	assert_int_equal(m->mdc, mdc);
	if (mdc_name)
		assert_string_equal(m->mdc_name, mdc_name);
	if (loinc)
		assert_string_equal(m->loinc, loinc);
	else
		assert_null(m->loinc);
	if (ucum)
		assert_string_equal(m->ucum, ucum);
	else
		assert_null(m->ucum);
}

static void test_codes(void **state)
{
	(void)state;
	expect_codes(VARDE_METRIC_BLOOD_PRESSURE, "blood_pressure", 150020, "MDC_PRESS_BLD_NONINV",
		     "85354-9", NULL);
	expect_codes(VARDE_METRIC_BP_SYSTOLIC, "bp_systolic", 150021, "MDC_PRESS_BLD_NONINV_SYS",
		     "8480-6", "mm[Hg]");
	expect_codes(VARDE_METRIC_BP_DIASTOLIC, "bp_diastolic", 150022, NULL, "8462-4", "mm[Hg]");
	expect_codes(VARDE_METRIC_BP_MEAN, "bp_mean", 150023, NULL, "8478-0", "mm[Hg]");
	expect_codes(VARDE_METRIC_PULSE_RATE, "pulse_rate", 149546, "MDC_PULS_RATE_NON_INV",
		     "8867-4", "/min");
	expect_codes(VARDE_METRIC_PULSE_RATE_OXIMETER, "pulse_rate_oximeter", 149530,
		     "MDC_PULS_OXIM_PULS_RATE", "8867-4", "/min");
	expect_codes(VARDE_METRIC_SPO2, "spo2", 150456, "MDC_PULS_OXIM_SAT_O2", "2708-6", "%");
	assert_string_equal(metric_lookup(VARDE_METRIC_SPO2)->loinc2, "59408-5");
	expect_codes(VARDE_METRIC_PULSE_AMPLITUDE_INDEX, "pulse_amplitude_index", 150448,
		     "MDC_PULS_OXIM_PERF_REL", NULL, "%");
	expect_codes(VARDE_METRIC_BODY_TEMPERATURE, "body_temperature", 150364, "MDC_TEMP_BODY",
		     "8310-5", "Cel");
	expect_codes(VARDE_METRIC_BODY_WEIGHT, "body_weight", 188736, NULL, "29463-7", "kg");
	expect_codes(VARDE_METRIC_BODY_HEIGHT, "body_height", 188740, NULL, "8302-2", "cm");
	expect_codes(VARDE_METRIC_BMI, "bmi", 188752, NULL, "39156-5", "kg/m2");
	expect_codes(VARDE_METRIC_GLUCOSE_CAPILLARY_WHOLE_BLOOD, "glucose_capillary_whole_blood",
		     160184, "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD", "14743-9", "mmol/L");
	expect_codes(VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA, "glucose_capillary_plasma", 160188,
		     NULL, "14743-9", "mmol/L");
	expect_codes(VARDE_METRIC_GLUCOSE_VENOUS_WHOLE_BLOOD, "glucose_venous_whole_blood", 160192,
		     NULL, "15074-8", "mmol/L");
	expect_codes(VARDE_METRIC_GLUCOSE_VENOUS_PLASMA, "glucose_venous_plasma", 160196, NULL,
		     "14749-6", "mmol/L");
	expect_codes(VARDE_METRIC_GLUCOSE_ARTERIAL_WHOLE_BLOOD, "glucose_arterial_whole_blood",
		     160200, NULL, "15074-8", "mmol/L");
	expect_codes(VARDE_METRIC_GLUCOSE_ARTERIAL_PLASMA, "glucose_arterial_plasma", 160204, NULL,
		     "14749-6", "mmol/L");
	expect_codes(VARDE_METRIC_GLUCOSE_UNDETERMINED_WHOLE_BLOOD,
		     "glucose_undetermined_whole_blood", 160364,
		     "MDC_CONC_GLU_UNDETERMINED_WHOLEBLOOD", "15074-8", "mmol/L");
	expect_codes(VARDE_METRIC_GLUCOSE_UNDETERMINED_PLASMA, "glucose_undetermined_plasma",
		     160368, "MDC_CONC_GLU_UNDETERMINED_PLASMA", "14749-6", "mmol/L");
	expect_codes(VARDE_METRIC_GLUCOSE_ISF, "glucose_isf", 160212, "MDC_CONC_GLU_ISF", NULL,
		     "mmol/L");
	expect_codes(VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION, "glucose_control_solution", 160208,
		     "MDC_CONC_GLU_CONTROL", NULL, "mmol/L");
	expect_codes(VARDE_METRIC_HBA1C, "hba1c", 160220, "MDC_CONC_HBA1C", "4548-4", "%");
	expect_codes(VARDE_METRIC_CONTEXT_MEAL, "context_meal", 8417864, "MDC_CTXT_GLU_MEAL", NULL,
		     NULL);
	expect_codes(VARDE_METRIC_PEAK_EXPIRATORY_FLOW, "peak_expiratory_flow", 152584,
		     "MDC_FLOW_AWAY_EXP_FORCED_PEAK", "19935-6", "L/min");
	expect_codes(VARDE_METRIC_FEV1, "fev1", 152586, "MDC_VOL_AWAY_EXP_FORCED_1S", "20150-9",
		     "L");
	expect_codes(VARDE_METRIC_BATTERY_LEVEL, "battery_level", 67996, "MDC_ATTR_VAL_BATT_CHARGE",
		     NULL, "%");
	/* Control solution is never a vital sign nor a patient specimen. */
	assert_false(metric_lookup(VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION)->vital_sign);
	assert_true(metric_lookup(VARDE_METRIC_BP_SYSTOLIC)->vital_sign);
}

static void expect_format(uint32_t metric, uint32_t unit, struct varde_value v, const char *text)
{
	char buf[64];
	int n = metric_format(metric, unit, &v, buf, sizeof(buf));

	if (n < 0)
		fail_msg("metric %u unit %u %d e%d: %d", metric, unit, v.mantissa, v.exponent, n);
	assert_string_equal(buf, text);
	assert_int_equal(n, (int)strlen(text));
}

static void expect_canonical(uint32_t metric, uint32_t unit, struct varde_value v, double want)
{
	double got = 0;

	assert_int_equal(metric_canonical(metric, unit, &v, &got), 0);
	if (fabs(got - want) > 1e-9 * (fabs(want) + 1))
		fail_msg("metric %u unit %u: %.12g, want %.12g", metric, unit, got, want);
}

static void test_unconverted_values_stay_exact(void **state)
{
	(void)state;
	expect_format(VARDE_METRIC_BODY_TEMPERATURE, VARDE_UNIT_CELSIUS, num(3760, -2), "37.60");
	expect_format(VARDE_METRIC_BP_SYSTOLIC, VARDE_UNIT_MMHG, num(120, 0), "120");
	expect_format(VARDE_METRIC_BP_SYSTOLIC, VARDE_UNIT_MMHG, num(12, 1), "120");
	expect_format(VARDE_METRIC_SPO2, VARDE_UNIT_PERCENT, num(97, 0), "97");
	expect_format(VARDE_METRIC_BODY_WEIGHT, VARDE_UNIT_KG, num(14200, -3), "14.200");
	expect_format(VARDE_METRIC_BODY_WEIGHT, VARDE_UNIT_KG, num(5, -3), "0.005");
	expect_format(VARDE_METRIC_BODY_TEMPERATURE, VARDE_UNIT_CELSIUS, num(-12, -1), "-1.2");
	expect_format(VARDE_METRIC_BODY_TEMPERATURE, VARDE_UNIT_CELSIUS, num(0, -2), "0.00");
	expect_format(VARDE_METRIC_BODY_TEMPERATURE, VARDE_UNIT_CELSIUS, num(0, 3), "0");
	expect_format(VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA, VARDE_UNIT_MMOL_PER_L, num(53, -1),
		      "5.3");
	expect_format(VARDE_METRIC_CONTEXT_MEDICATION, VARDE_UNIT_MG, num(15, 0), "15");
	expect_format(VARDE_METRIC_CONTEXT_MEDICATION, VARDE_UNIT_ML, num(15, -1), "1.5");
	expect_format(VARDE_METRIC_CONTEXT_MEAL, VARDE_UNIT_CODE, num(2, 0), "2");
	expect_format(VARDE_METRIC_BODY_WEIGHT, VARDE_UNIT_KG, num(-8388607, -8), "-0.08388607");
	expect_canonical(VARDE_METRIC_BODY_TEMPERATURE, VARDE_UNIT_CELSIUS, num(3760, -2), 37.6);
}

static void test_conversions(void **state)
{
	(void)state;
	/* kPa: whole mmHg (metrics.h). */
	expect_canonical(VARDE_METRIC_BP_SYSTOLIC, VARDE_UNIT_KPA, num(189, -1), 141.761718);
	expect_format(VARDE_METRIC_BP_SYSTOLIC, VARDE_UNIT_KPA, num(189, -1), "142");
	expect_format(VARDE_METRIC_BP_DIASTOLIC, VARDE_UNIT_KPA, num(1067, -2), "80.0");
	/* Fahrenheit. */
	expect_canonical(VARDE_METRIC_BODY_TEMPERATURE, VARDE_UNIT_FAHRENHEIT, num(986, -1), 37.0);
	expect_format(VARDE_METRIC_BODY_TEMPERATURE, VARDE_UNIT_FAHRENHEIT, num(986, -1), "37.0");
	expect_format(VARDE_METRIC_BODY_TEMPERATURE, VARDE_UNIT_FAHRENHEIT, num(1004, -1), "38.0");
	expect_format(VARDE_METRIC_BODY_TEMPERATURE, VARDE_UNIT_FAHRENHEIT, num(320, -1), "0.0");
	expect_format(VARDE_METRIC_BODY_TEMPERATURE, VARDE_UNIT_FAHRENHEIT, num(3199, -2), "-0.01");
	/* -0.0045 kg rounds to zero from below: no "-0.00". */
	expect_format(VARDE_METRIC_BODY_WEIGHT, VARDE_UNIT_LB, num(-1, -2), "0.00");
	expect_format(VARDE_METRIC_BODY_TEMPERATURE, VARDE_UNIT_FAHRENHEIT, num(319, -1), "-0.1");
	/* Pounds (0.45359237 kg exactly). */
	expect_canonical(VARDE_METRIC_BODY_WEIGHT, VARDE_UNIT_LB, num(150, 0), 68.0388555);
	expect_format(VARDE_METRIC_BODY_WEIGHT, VARDE_UNIT_LB, num(15000, -2), "68.04");
	expect_format(VARDE_METRIC_BODY_WEIGHT, VARDE_UNIT_LB, num(150, 0), "68");
	/* Height in cm. */
	expect_format(VARDE_METRIC_BODY_HEIGHT, VARDE_UNIT_M, num(1750, -3), "175.0");
	expect_format(VARDE_METRIC_BODY_HEIGHT, VARDE_UNIT_M, num(2, 0), "200");
	expect_format(VARDE_METRIC_BODY_HEIGHT, VARDE_UNIT_INCH, num(700, -1), "177.8");
	expect_canonical(VARDE_METRIC_BODY_HEIGHT, VARDE_UNIT_INCH, num(700, -1), 177.8);
	/* Glucose: factor 18.016, never 18 or 18.2. */
	expect_canonical(VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA, VARDE_UNIT_MG_PER_DL, num(100, 0),
			 100 / 18.016);
	expect_format(VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA, VARDE_UNIT_MG_PER_DL, num(100, 0),
		      "5.55");
	expect_format(VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA, VARDE_UNIT_MG_PER_DL, num(180, 0),
		      "9.99");
	/* kg/L * 100000 = mg/dL: 95 mg/dL. */
	expect_canonical(VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA, VARDE_UNIT_KG_PER_L, num(95, -5),
			 95 / 18.016);
	expect_format(VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA, VARDE_UNIT_KG_PER_L, num(95, -5),
		      "5.27");
	/* The synthetic 30 kg/L of gatt.tsv glucose_nordic. */
	expect_canonical(VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA, VARDE_UNIT_KG_PER_L, num(30, 0),
			 30e5 / 18.016);
	expect_format(VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA, VARDE_UNIT_KG_PER_L, num(30, 0),
		      "166519");
	/* mol/L * 1000 = mmol/L, exactly. */
	expect_canonical(VARDE_METRIC_GLUCOSE_VENOUS_PLASMA, VARDE_UNIT_MOL_PER_L, num(53, -4),
			 5.3);
	expect_format(VARDE_METRIC_GLUCOSE_VENOUS_PLASMA, VARDE_UNIT_MOL_PER_L, num(53, -4), "5.3");
	expect_format(VARDE_METRIC_GLUCOSE_VENOUS_PLASMA, VARDE_UNIT_MOL_PER_L, num(533, -5),
		      "5.33");
	assert_string_equal(metric_ucum(VARDE_METRIC_GLUCOSE_ISF, VARDE_UNIT_KG_PER_L), "mmol/L");
	assert_string_equal(metric_ucum(VARDE_METRIC_BP_MEAN, VARDE_UNIT_KPA), "mm[Hg]");
	assert_string_equal(metric_ucum(VARDE_METRIC_BODY_HEIGHT, VARDE_UNIT_M), "cm");
	assert_string_equal(metric_ucum(VARDE_METRIC_CONTEXT_MEDICATION, VARDE_UNIT_ML), "mL");
	assert_string_equal(metric_ucum(VARDE_METRIC_CONTEXT_MEDICATION, VARDE_UNIT_MG), "mg");
}

static void test_special_values_are_never_numbers(void **state)
{
	static const enum varde_special specials[] = {VARDE_VALUE_NAN, VARDE_VALUE_NRES,
						      VARDE_VALUE_PINF, VARDE_VALUE_NINF};
	char buf[32] = "";
	double x = -1;

	(void)state;
	for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
		struct varde_value v = special(specials[i]);

		assert_int_equal(
			metric_canonical(VARDE_METRIC_BP_SYSTOLIC, VARDE_UNIT_MMHG, &v, &x), -EDOM);
		assert_int_equal(metric_canonical(VARDE_METRIC_BP_SYSTOLIC, VARDE_UNIT_KPA, &v, &x),
				 -EDOM);
		assert_int_equal(metric_format(VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA,
					       VARDE_UNIT_KG_PER_L, &v, buf, sizeof(buf)),
				 -EDOM);
		/* Even a stray mantissa does not turn a special value into a number. */
		v.mantissa = 2047;
		assert_int_equal(
			metric_format(VARDE_METRIC_SPO2, VARDE_UNIT_PERCENT, &v, buf, sizeof(buf)),
			-EDOM);
	}
	assert_true(x == -1);
	assert_string_equal(buf, "");
}

static void test_units_that_do_not_fit(void **state)
{
	struct varde_value v = num(5, 0);
	char buf[8];
	double x;

	(void)state;
	assert_int_equal(metric_canonical(VARDE_METRIC_SPO2, VARDE_UNIT_KG, &v, &x), -EINVAL);
	assert_int_equal(metric_canonical(VARDE_METRIC_BP_SYSTOLIC, VARDE_UNIT_MG_PER_DL, &v, &x),
			 -EINVAL);
	assert_int_equal(metric_canonical(VARDE_METRIC_GLUCOSE_ISF, VARDE_UNIT_PERCENT, &v, &x),
			 -EINVAL);
	assert_int_equal(metric_canonical(VARDE_METRIC_BODY_TEMPERATURE, VARDE_UNIT_NONE, &v, &x),
			 -EINVAL);
	assert_int_equal(metric_canonical(VARDE_METRIC_BODY_TEMPERATURE, 999, &v, &x), -EINVAL);
	assert_int_equal(metric_canonical(VARDE_METRIC_BLOOD_PRESSURE, VARDE_UNIT_MMHG, &v, &x),
			 -EINVAL);
	assert_int_equal(metric_canonical(VARDE_METRIC_CONTEXT_MEAL, VARDE_UNIT_PERCENT, &v, &x),
			 -EINVAL);
	assert_int_equal(metric_canonical(VARDE_METRIC_NONE, VARDE_UNIT_MMHG, &v, &x), -EINVAL);
	assert_int_equal(metric_canonical(77, VARDE_UNIT_MMHG, &v, &x), -EINVAL);
	assert_null(metric_ucum(VARDE_METRIC_SPO2, VARDE_UNIT_KG));
	assert_null(metric_ucum(VARDE_METRIC_CONTEXT_MEAL, VARDE_UNIT_CODE));
	/* The unit is checked before the value: a malformed reading is not NaN. */
	v = special(VARDE_VALUE_NAN);
	assert_int_equal(metric_format(VARDE_METRIC_SPO2, VARDE_UNIT_KG, &v, buf, sizeof(buf)),
			 -EINVAL);
	v = num(1234567, -2);
	assert_int_equal(metric_format(VARDE_METRIC_SPO2, VARDE_UNIT_PERCENT, &v, buf, 5), -ENOSPC);
	assert_int_equal(metric_format(VARDE_METRIC_BP_SYSTOLIC, VARDE_UNIT_KPA, &v, buf, 3),
			 -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_metric_has_exactly_one_row),
		cmocka_unit_test(test_names_and_codes_are_unique),
		cmocka_unit_test(test_codes),
		cmocka_unit_test(test_unconverted_values_stay_exact),
		cmocka_unit_test(test_conversions),
		cmocka_unit_test(test_special_values_are_never_numbers),
		cmocka_unit_test(test_units_that_do_not_fit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
