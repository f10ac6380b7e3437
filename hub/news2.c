/* SPDX-License-Identifier: MIT */
#include "news2.h"

#include <math.h>

int news2_spo2(int scale, double percent)
{
	double v = round(percent);

	if (scale == 2) {
		/* 88-92 is the target range; on air, >= 93 scores 0 too. */
		if (v <= 83)
			return 3;
		if (v <= 85)
			return 2;
		if (v <= 87)
			return 1;
		return 0;
	}
	if (v <= 91)
		return 3;
	if (v <= 93)
		return 2;
	if (v <= 95)
		return 1;
	return 0;
}

int news2_systolic(double mmhg)
{
	double v = round(mmhg);

	if (v <= 90)
		return 3;
	if (v <= 100)
		return 2;
	if (v <= 110)
		return 1;
	if (v <= 219)
		return 0;
	return 3;
}

int news2_pulse(double per_min)
{
	double v = round(per_min);

	if (v <= 40)
		return 3;
	if (v <= 50)
		return 1;
	if (v <= 90)
		return 0;
	if (v <= 110)
		return 1;
	if (v <= 130)
		return 2;
	return 3;
}

int news2_temperature(double celsius)
{
	/* In tenths, so that 36.0 is exactly 360. */
	double v = round(celsius * 10.0);

	if (v <= 350)
		return 3;
	if (v <= 360)
		return 1;
	if (v <= 380)
		return 0;
	if (v <= 390)
		return 1;
	return 2;
}
