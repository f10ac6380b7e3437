/* SPDX-License-Identifier: MIT */
/*
 * The metric table: for every varde metric id its short stable name (rules
 * JSON, logs), its IEEE 11073-10101 (MDC) code, its LOINC code, the UCUM
 * unit the hub publishes and judges in, and how each device unit converts
 * to it. It is the one place these codes live; FHIR output and the rules
 * read them from here.
 *
 * Canonical units
 * ---------------
 *   blood pressure     mm[Hg]   kPa x 7.50062
 *   pulse rate         /min
 *   SpO2, PAI, HbA1c   %
 *   temperature        Cel      (degF - 32) x 5/9
 *   weight             kg       lb x 0.45359237 (exact by definition)
 *   height             cm       m x 100 (exact), in x 2.54 (exact)
 *   BMI                kg/m2
 *   glucose            mmol/L   Norwegian practice. mol/L x 1000 (exact);
 *                               kg/L x 1e6 / 180.16 (= x 100000 to mg/dL,
 *                               then / 18.016); mg/dL / 18.016. The molar
 *                               mass of glucose is 180.16 g/mol: never 18.
 *   peak flow          L/min
 *   FEV1               L
 *   battery level      %
 *   glucose context    g (carbohydrate), s and % (exercise), mg or mL
 *                      (medication) as the Glucose plugin reports them;
 *                      meal, tester, health and the ids are codes.
 * Height is published in cm, not m, because the FHIR vital-signs body
 * height profile only allows cm and [in_i].
 *
 * Precision
 * ---------
 * A value keeps the device's precision. A unit that needs no conversion
 * prints exactly from mantissa and exponent (37.60 Cel stays 37.60, 120
 * mm[Hg] stays 120), and so does an exact power-of-ten conversion (5.3
 * mmol/L from 0.0053 mol/L). A scaled conversion prints with the source's
 * decimals plus a fixed step per conversion, chosen so the result shows the
 * source's resolution in the clinical unit without inventing digits:
 *   kPa -> mm[Hg]    -1  0.1 kPa is 0.75 mmHg; blood pressure is judged
 *                        and recorded in whole mmHg (18.9 kPa -> 142)
 *   degF -> Cel       0  0.1 degF is 0.06 Cel; keep 0.1 (98.6 -> 37.0)
 *   lb -> kg          0  0.01 lb is 0.005 kg (150.00 lb -> 68.04)
 *   in -> cm          0  0.1 in is 0.25 cm (70.0 in -> 177.8)
 *   mg/dL -> mmol/L  +2  1 mg/dL is 0.056 mmol/L; two decimals keep
 *                        every mg/dL step distinct (100 -> 5.55)
 *   kg/L -> mmol/L   -3  1e-5 kg/L is 1 mg/dL: as mg/dL (9.5e-4 -> 5.27)
 * Rounding is half away from zero on the converted value.
 */
#ifndef VARDE_METRICS_H
#define VARDE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <varde/plugin.h>

#define MDC_SYSTEM "urn:iso:std:iso:11073:10101"
#define LOINC_SYSTEM "http://loinc.org"
#define UCUM_SYSTEM "http://unitsofmeasure.org"

enum metric_kind {
	METRIC_QUANTITY = 0, /* a number in a unit */
	METRIC_PANEL, /* no value of its own: its parts are components */
	METRIC_CODED, /* a Glucose Service code in VARDE_UNIT_CODE */
};

struct metric_info {
	uint32_t metric; /* enum varde_metric */
	const char *name; /* short, stable, [a-z0-9_] */
	const char *display; /* English, for code.text and logs */
	enum metric_kind kind;
	uint32_t mdc; /* 11073-10101 code, partition * 65536 + term; 0: none */
	const char *mdc_name; /* its reference id, MDC_... */
	const char *loinc; /* NULL: none */
	const char *loinc_display;
	const char *loinc2; /* a second LOINC coding (SpO2), or NULL */
	const char *loinc2_display;
	/* UCUM code of the canonical unit, NULL for panels and codes. The
	 * medication amount alone has two (mass or volume): ucum2. */
	const char *ucum;
	const char *ucum2;
	bool vital_sign; /* FHIR category vital-signs */
};

/* The row of a metric id, or NULL for an id the hub does not know. */
const struct metric_info *metric_lookup(uint32_t metric);

/* The row with this short name, or NULL. */
const struct metric_info *metric_by_name(const char *name);

/*
 * The value of a reading in the metric's canonical unit. Returns 0, -EDOM
 * for a special value (NaN, NRes, +INF, -INF: never a number), or -EINVAL
 * for an unknown metric, a panel, or a device unit that does not fit the
 * metric (checked first: a malformed reading is not a special value).
 */
int metric_canonical(uint32_t metric, uint32_t unit, const struct varde_value *v, double *out);

/* UCUM code of the canonical unit a reading of `metric` in device `unit`
 * is published in, or NULL when the unit does not fit (or for codes). */
const char *metric_ucum(uint32_t metric, uint32_t unit);

/*
 * Prints the canonical value with the precision described above into
 * `buf`: plain decimal notation, '.' as separator, no exponent, suitable
 * for a JSON number. Returns the length, or -EDOM, -EINVAL as
 * metric_canonical, or -ENOSPC when `size` is too small.
 */
int metric_format(uint32_t metric, uint32_t unit, const struct varde_value *v, char *buf,
		  size_t size);

#endif /* VARDE_METRICS_H */
