/* SPDX-License-Identifier: MIT */
/*
 * NEWS2 parameter scores (Royal College of Physicians, National Early
 * Warning Score 2, December 2017, chart 1) for the four parameters a
 * patient measures at home: SpO2, systolic blood pressure, pulse and
 * temperature. Respiration rate, consciousness (ACVPU) and supplemental
 * oxygen are not measured at home: a total from these is a partial score.
 *
 * Values are rounded to the chart's resolution first (whole numbers,
 * temperature to 0.1 °C), so that every value falls into one row.
 */
#ifndef VARDE_NEWS2_H
#define VARDE_NEWS2_H

#define NEWS2_MAX_PARTIAL 11 /* 3 + 3 + 3 + 2 */

/* Scale 1, or scale 2 for hypercapnic respiratory failure (COPD) with the
 * patient on air: at home no supplemental oxygen is assumed. */
int news2_spo2(int scale, double percent);
int news2_systolic(double mmhg);
int news2_pulse(double per_min);
int news2_temperature(double celsius);

#endif /* VARDE_NEWS2_H */
