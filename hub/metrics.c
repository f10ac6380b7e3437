/* SPDX-License-Identifier: MIT */
#include "metrics.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * MDC codes are partition * 65536 + term code. Checked against the term
 * codes of IEEE 11073-10101 as public 11073 stacks carry them (SCADA
 * partition 2, object partition 1, disease management partition 128) and,
 * where marked (IG), against the examples of the HL7 FHIR PHD IG:
 *   150020-150023 blood pressure (IG), 150456 SpO2, 149546 pulse rate of a
 *   cuff (MDC_PULS_RATE_NON_INV, term 18474; not 149514, which is the
 *   generic MDC_PULS_RATE), 149530 oximeter pulse (IG), 150448
 *   MDC_PULS_OXIM_PERF_REL (term 19376; not 150488), 150364 temperature
 *   (IG), 188736/188740/188752 weight, height, BMI, glucose 160184 +
 *   4 per sample type to 160204, 160208 control solution, 160212 ISF,
 *   160220 HbA1c, 160364 undetermined whole blood, 160368 undetermined
 *   plasma (IG), 152584/152586 peak flow and FEV1, 67996 battery charge,
 *   8417864 meal context (IG) and the other glucose context codes.
 * LOINC codes follow the FHIR vital-signs profile where one applies;
 * glucose uses the moles-per-volume codes, as the hub publishes mmol/L.
 * Not checked against the LOINC tables themselves.
 */
static const struct metric_info metrics[] = {
	{VARDE_METRIC_BLOOD_PRESSURE, "blood_pressure", "Blood pressure", METRIC_PANEL, 150020,
	 "MDC_PRESS_BLD_NONINV", "85354-9", "Blood pressure panel with all children optional", NULL,
	 NULL, NULL, NULL, true},
	{VARDE_METRIC_BP_SYSTOLIC, "bp_systolic", "Systolic blood pressure", METRIC_QUANTITY,
	 150021, "MDC_PRESS_BLD_NONINV_SYS", "8480-6", "Systolic blood pressure", NULL, NULL,
	 "mm[Hg]", NULL, true},
	{VARDE_METRIC_BP_DIASTOLIC, "bp_diastolic", "Diastolic blood pressure", METRIC_QUANTITY,
	 150022, "MDC_PRESS_BLD_NONINV_DIA", "8462-4", "Diastolic blood pressure", NULL, NULL,
	 "mm[Hg]", NULL, true},
	{VARDE_METRIC_BP_MEAN, "bp_mean", "Mean blood pressure", METRIC_QUANTITY, 150023,
	 "MDC_PRESS_BLD_NONINV_MEAN", "8478-0", "Mean blood pressure", NULL, NULL, "mm[Hg]", NULL,
	 false},
	{VARDE_METRIC_PULSE_RATE, "pulse_rate", "Pulse rate", METRIC_QUANTITY, 149546,
	 "MDC_PULS_RATE_NON_INV", "8867-4", "Heart rate", NULL, NULL, "/min", NULL, true},
	{VARDE_METRIC_SPO2, "spo2", "Oxygen saturation (SpO2)", METRIC_QUANTITY, 150456,
	 "MDC_PULS_OXIM_SAT_O2", "2708-6", "Oxygen saturation in Arterial blood", "59408-5",
	 "Oxygen saturation in Arterial blood by Pulse oximetry", "%", NULL, true},
	{VARDE_METRIC_PULSE_RATE_OXIMETER, "pulse_rate_oximeter", "Pulse rate (oximeter)",
	 METRIC_QUANTITY, 149530, "MDC_PULS_OXIM_PULS_RATE", "8867-4", "Heart rate", NULL, NULL,
	 "/min", NULL, true},
	/* No LOINC: none could be verified for the relative perfusion index. */
	{VARDE_METRIC_PULSE_AMPLITUDE_INDEX, "pulse_amplitude_index", "Pulse amplitude index",
	 METRIC_QUANTITY, 150448, "MDC_PULS_OXIM_PERF_REL", NULL, NULL, NULL, NULL, "%", NULL,
	 false},
	{VARDE_METRIC_BODY_TEMPERATURE, "body_temperature", "Body temperature", METRIC_QUANTITY,
	 150364, "MDC_TEMP_BODY", "8310-5", "Body temperature", NULL, NULL, "Cel", NULL, true},
	{VARDE_METRIC_BODY_WEIGHT, "body_weight", "Body weight", METRIC_QUANTITY, 188736,
	 "MDC_MASS_BODY_ACTUAL", "29463-7", "Body weight", NULL, NULL, "kg", NULL, true},
	{VARDE_METRIC_BODY_HEIGHT, "body_height", "Body height", METRIC_QUANTITY, 188740,
	 "MDC_LEN_BODY_ACTUAL", "8302-2", "Body height", NULL, NULL, "cm", NULL, true},
	{VARDE_METRIC_BMI, "bmi", "Body mass index", METRIC_QUANTITY, 188752,
	 "MDC_RATIO_MASS_BODY_LEN_SQ", "39156-5", "Body mass index (BMI) [Ratio]", NULL, NULL,
	 "kg/m2", NULL, true},
	/* Capillary plasma is a plasma-calibrated meter on capillary blood:
	 * LOINC names the specimen, the MDC code keeps the calibration. */
	{VARDE_METRIC_GLUCOSE_CAPILLARY_WHOLE_BLOOD, "glucose_capillary_whole_blood",
	 "Glucose, capillary whole blood", METRIC_QUANTITY, 160184,
	 "MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD", "14743-9",
	 "Glucose [Moles/volume] in Capillary blood by Glucometer", NULL, NULL, "mmol/L", NULL,
	 false},
	{VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA, "glucose_capillary_plasma",
	 "Glucose, capillary plasma", METRIC_QUANTITY, 160188, "MDC_CONC_GLU_CAPILLARY_PLASMA",
	 "14743-9", "Glucose [Moles/volume] in Capillary blood by Glucometer", NULL, NULL, "mmol/L",
	 NULL, false},
	{VARDE_METRIC_GLUCOSE_VENOUS_WHOLE_BLOOD, "glucose_venous_whole_blood",
	 "Glucose, venous whole blood", METRIC_QUANTITY, 160192, "MDC_CONC_GLU_VENOUS_WHOLEBLOOD",
	 "15074-8", "Glucose [Moles/volume] in Blood", NULL, NULL, "mmol/L", NULL, false},
	{VARDE_METRIC_GLUCOSE_VENOUS_PLASMA, "glucose_venous_plasma", "Glucose, venous plasma",
	 METRIC_QUANTITY, 160196, "MDC_CONC_GLU_VENOUS_PLASMA", "14749-6",
	 "Glucose [Moles/volume] in Serum or Plasma", NULL, NULL, "mmol/L", NULL, false},
	{VARDE_METRIC_GLUCOSE_ARTERIAL_WHOLE_BLOOD, "glucose_arterial_whole_blood",
	 "Glucose, arterial whole blood", METRIC_QUANTITY, 160200,
	 "MDC_CONC_GLU_ARTERIAL_WHOLEBLOOD", "15074-8", "Glucose [Moles/volume] in Blood", NULL,
	 NULL, "mmol/L", NULL, false},
	{VARDE_METRIC_GLUCOSE_ARTERIAL_PLASMA, "glucose_arterial_plasma",
	 "Glucose, arterial plasma", METRIC_QUANTITY, 160204, "MDC_CONC_GLU_ARTERIAL_PLASMA",
	 "14749-6", "Glucose [Moles/volume] in Serum or Plasma", NULL, NULL, "mmol/L", NULL, false},
	{VARDE_METRIC_GLUCOSE_UNDETERMINED_WHOLE_BLOOD, "glucose_undetermined_whole_blood",
	 "Glucose, whole blood", METRIC_QUANTITY, 160364, "MDC_CONC_GLU_UNDETERMINED_WHOLEBLOOD",
	 "15074-8", "Glucose [Moles/volume] in Blood", NULL, NULL, "mmol/L", NULL, false},
	{VARDE_METRIC_GLUCOSE_UNDETERMINED_PLASMA, "glucose_undetermined_plasma", "Glucose, plasma",
	 METRIC_QUANTITY, 160368, "MDC_CONC_GLU_UNDETERMINED_PLASMA", "14749-6",
	 "Glucose [Moles/volume] in Serum or Plasma", NULL, NULL, "mmol/L", NULL, false},
	/* No LOINC for interstitial fluid could be verified. */
	{VARDE_METRIC_GLUCOSE_ISF, "glucose_isf", "Glucose, interstitial fluid", METRIC_QUANTITY,
	 160212, "MDC_CONC_GLU_ISF", NULL, NULL, NULL, NULL, "mmol/L", NULL, false},
	/* Deliberately no LOINC: a control solution is not a patient specimen. */
	{VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION, "glucose_control_solution",
	 "Glucose, control solution test", METRIC_QUANTITY, 160208, "MDC_CONC_GLU_CONTROL", NULL,
	 NULL, NULL, NULL, "mmol/L", NULL, false},
	{VARDE_METRIC_HBA1C, "hba1c", "HbA1c", METRIC_QUANTITY, 160220, "MDC_CONC_HBA1C", "4548-4",
	 "Hemoglobin A1c/Hemoglobin.total in Blood", NULL, NULL, "%", NULL, false},
	/* Context. In IEEE 11073-10417 the carbohydrate and medication kinds
	 * are the type codes of the amounts; here the id is a value of its own
	 * and has no MDC code. The exercise duration has none either. */
	{VARDE_METRIC_CONTEXT_MEAL, "context_meal", "Meal", METRIC_CODED, 8417864,
	 "MDC_CTXT_GLU_MEAL", NULL, NULL, NULL, NULL, NULL, NULL, false},
	{VARDE_METRIC_CONTEXT_TESTER, "context_tester", "Tester", METRIC_CODED, 8417884,
	 "MDC_CTXT_GLU_TESTER", NULL, NULL, NULL, NULL, NULL, NULL, false},
	{VARDE_METRIC_CONTEXT_HEALTH, "context_health", "Health", METRIC_CODED, 8417820,
	 "MDC_CTXT_GLU_HEALTH", NULL, NULL, NULL, NULL, NULL, NULL, false},
	{VARDE_METRIC_CONTEXT_CARBOHYDRATE_ID, "context_carbohydrate_id", "Carbohydrate kind",
	 METRIC_CODED, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false},
	{VARDE_METRIC_CONTEXT_CARBOHYDRATE, "context_carbohydrate", "Carbohydrate", METRIC_QUANTITY,
	 8417764, "MDC_CTXT_GLU_CARB", NULL, NULL, NULL, NULL, "g", NULL, false},
	{VARDE_METRIC_CONTEXT_EXERCISE_DURATION, "context_exercise_duration", "Exercise duration",
	 METRIC_QUANTITY, 0, NULL, NULL, NULL, NULL, NULL, "s", NULL, false},
	{VARDE_METRIC_CONTEXT_EXERCISE_INTENSITY, "context_exercise_intensity",
	 "Exercise intensity", METRIC_QUANTITY, 8417760, "MDC_CTXT_GLU_EXERCISE", NULL, NULL, NULL,
	 NULL, "%", NULL, false},
	{VARDE_METRIC_CONTEXT_MEDICATION_ID, "context_medication_id", "Medication kind",
	 METRIC_CODED, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, false},
	{VARDE_METRIC_CONTEXT_MEDICATION, "context_medication", "Medication", METRIC_QUANTITY,
	 8417796, "MDC_CTXT_MEDICATION", NULL, NULL, NULL, NULL, "mg", "mL", false},
	{VARDE_METRIC_PEAK_EXPIRATORY_FLOW, "peak_expiratory_flow", "Peak expiratory flow",
	 METRIC_QUANTITY, 152584, "MDC_FLOW_AWAY_EXP_FORCED_PEAK", "19935-6",
	 "Maximum expiratory gas flow Respiratory system airway by Peak flow meter", NULL, NULL,
	 "L/min", NULL, false},
	{VARDE_METRIC_FEV1, "fev1", "FEV1", METRIC_QUANTITY, 152586, "MDC_VOL_AWAY_EXP_FORCED_1S",
	 "20150-9", "FEV1", NULL, NULL, "L", NULL, false},
	{VARDE_METRIC_BATTERY_LEVEL, "battery_level", "Battery level", METRIC_QUANTITY, 67996,
	 "MDC_ATTR_VAL_BATT_CHARGE", NULL, NULL, NULL, NULL, "%", NULL, false},
};

/* UCUM code of each device unit, indexed by enum varde_unit. */
static const char *const unit_ucum[] = {
	[VARDE_UNIT_MMHG] = "mm[Hg]",
	[VARDE_UNIT_KPA] = "kPa",
	[VARDE_UNIT_PER_MIN] = "/min",
	[VARDE_UNIT_PERCENT] = "%",
	[VARDE_UNIT_CELSIUS] = "Cel",
	[VARDE_UNIT_FAHRENHEIT] = "[degF]",
	[VARDE_UNIT_KG] = "kg",
	[VARDE_UNIT_LB] = "[lb_av]",
	[VARDE_UNIT_M] = "m",
	[VARDE_UNIT_INCH] = "[in_i]",
	[VARDE_UNIT_KG_PER_M2] = "kg/m2",
	[VARDE_UNIT_KG_PER_L] = "kg/L",
	[VARDE_UNIT_MOL_PER_L] = "mol/L",
	[VARDE_UNIT_MG_PER_DL] = "mg/dL",
	[VARDE_UNIT_MMOL_PER_L] = "mmol/L",
	[VARDE_UNIT_L_PER_MIN] = "L/min",
	[VARDE_UNIT_L] = "L",
	[VARDE_UNIT_G] = "g",
	[VARDE_UNIT_S] = "s",
	[VARDE_UNIT_MG] = "mg",
	[VARDE_UNIT_ML] = "mL",
};

/*
 * A conversion to a canonical unit: value = (x + add) * factor, printed
 * with the source's decimals + `decimals`. factor 0 means an exact power of
 * ten: the exponent moves by `shift` and nothing is rounded. The precision
 * steps are justified in metrics.h.
 */
struct conversion {
	uint32_t from; /* enum varde_unit */
	const char *to; /* UCUM */
	double add;
	double factor;
	int shift;
	int decimals;
};

static const struct conversion conversions[] = {
	{VARDE_UNIT_KPA, "mm[Hg]", 0, 7.50062, 0, -1},
	{VARDE_UNIT_FAHRENHEIT, "Cel", -32, 5.0 / 9.0, 0, 0},
	{VARDE_UNIT_LB, "kg", 0, 0.45359237, 0, 0},
	{VARDE_UNIT_M, "cm", 0, 0, 2, 0},
	{VARDE_UNIT_INCH, "cm", 0, 2.54, 0, 0},
	{VARDE_UNIT_MOL_PER_L, "mmol/L", 0, 0, 3, 0},
	{VARDE_UNIT_KG_PER_L, "mmol/L", 0, 1e6 / 180.16, 0, -3},
	{VARDE_UNIT_MG_PER_DL, "mmol/L", 0, 1.0 / 18.016, 0, 2},
};

/* How a reading reaches its canonical unit. */
struct resolved {
	const char *ucum;
	const struct conversion *conv; /* NULL: the unit is already canonical */
};

const struct metric_info *metric_lookup(uint32_t metric)
{
	for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
		if (metrics[i].metric == metric)
			return &metrics[i];
	}
	return NULL;
}

const struct metric_info *metric_by_name(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof(metrics) / sizeof(metrics[0]); i++) {
		if (strcmp(metrics[i].name, name) == 0)
			return &metrics[i];
	}
	return NULL;
}

static const char *device_ucum(uint32_t unit)
{
	if (unit >= sizeof(unit_ucum) / sizeof(unit_ucum[0]))
		return NULL;
	return unit_ucum[unit];
}

static int resolve_to(const char *canonical, uint32_t unit, struct resolved *out)
{
	const char *ucum = device_ucum(unit);

	if (!canonical)
		return -EINVAL;
	if (ucum && strcmp(ucum, canonical) == 0) {
		out->ucum = canonical;
		out->conv = NULL;
		return 0;
	}
	for (size_t i = 0; i < sizeof(conversions) / sizeof(conversions[0]); i++) {
		if (conversions[i].from == unit && strcmp(conversions[i].to, canonical) == 0) {
			out->ucum = canonical;
			out->conv = &conversions[i];
			return 0;
		}
	}
	return -EINVAL;
}

static int resolve(uint32_t metric, uint32_t unit, struct resolved *out)
{
	const struct metric_info *m = metric_lookup(metric);

	if (!m || m->kind == METRIC_PANEL)
		return -EINVAL;
	if (m->kind == METRIC_CODED) {
		if (unit != VARDE_UNIT_CODE)
			return -EINVAL;
		out->ucum = NULL;
		out->conv = NULL;
		return 0;
	}
	if (resolve_to(m->ucum, unit, out) == 0)
		return 0;
	return resolve_to(m->ucum2, unit, out);
}

static double pow10i(int e)
{
	return pow(10.0, (double)e);
}

int metric_canonical(uint32_t metric, uint32_t unit, const struct varde_value *v, double *out)
{
	struct resolved r;
	double x;
	int err;

	if (!v || !out)
		return -EINVAL;
	err = resolve(metric, unit, &r);
	if (err < 0)
		return err;
	if (v->special != VARDE_VALUE_NUMBER)
		return -EDOM;
	x = (double)v->mantissa * pow10i(v->exponent);
	if (r.conv && r.conv->factor == 0)
		x *= pow10i(r.conv->shift);
	else if (r.conv)
		x = (x + r.conv->add) * r.conv->factor;
	*out = x;
	return 0;
}

const char *metric_ucum(uint32_t metric, uint32_t unit)
{
	struct resolved r;

	if (resolve(metric, unit, &r) < 0)
		return NULL;
	return r.ucum;
}

/* mantissa * 10^exponent in plain decimal notation, exactly. */
static int format_exact(int32_t mantissa, int exponent, char *buf, size_t size)
{
	char digits[16];
	int64_t m = mantissa;
	size_t n, len = 0;
	int need;

	n = (size_t)snprintf(digits, sizeof(digits), "%lld", (long long)(m < 0 ? -m : m));
	/* sign + digits + zeros or a point and leading zeros + NUL */
	need = (m < 0) + (int)n + (exponent > 0 ? exponent : 2 - exponent) + 1;
	if (need < 0 || (size_t)need > size)
		return -ENOSPC;
	if (m < 0)
		buf[len++] = '-';
	if (exponent >= 0) {
		memcpy(buf + len, digits, n);
		len += n;
		for (int i = 0; i < exponent && m != 0; i++)
			buf[len++] = '0';
	} else {
		size_t frac = (size_t)-exponent;

		if (n <= frac) {
			buf[len++] = '0';
			buf[len++] = '.';
			for (size_t i = n; i < frac; i++)
				buf[len++] = '0';
			memcpy(buf + len, digits, n);
			len += n;
		} else {
			memcpy(buf + len, digits, n - frac);
			len += n - frac;
			buf[len++] = '.';
			memcpy(buf + len, digits + n - frac, frac);
			len += frac;
		}
	}
	buf[len] = '\0';
	return (int)len;
}

/* x rounded half away from zero to `decimals` places. */
static int format_rounded(double x, int decimals, char *buf, size_t size)
{
	double scale = pow10i(decimals);
	double r = round(x * scale) / scale;
	int n;

	/* -0.0 would print as "-0.0": a sign on nothing is not a value. */
	if (r == 0)
		r = 0;
	n = snprintf(buf, size, "%.*f", decimals, r);
	if (n < 0 || (size_t)n >= size)
		return -ENOSPC;
	return n;
}

int metric_format(uint32_t metric, uint32_t unit, const struct varde_value *v, char *buf,
		  size_t size)
{
	struct resolved r;
	double x;
	int decimals, err;

	if (!v || !buf)
		return -EINVAL;
	err = resolve(metric, unit, &r);
	if (err < 0)
		return err;
	if (v->special != VARDE_VALUE_NUMBER)
		return -EDOM;
	if (!r.conv)
		return format_exact(v->mantissa, v->exponent, buf, size);
	if (r.conv->factor == 0)
		return format_exact(v->mantissa, v->exponent + r.conv->shift, buf, size);
	err = metric_canonical(metric, unit, v, &x);
	if (err < 0)
		return err;
	decimals = (v->exponent < 0 ? -v->exponent : 0) + r.conv->decimals;
	return format_rounded(x, decimals < 0 ? 0 : decimals, buf, size);
}
