/* SPDX-License-Identifier: MIT */
#include "timefmt.h"

#include <errno.h>
#include <stdio.h>
#include <time.h>

int64_t time_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int time_format_iso(int64_t ms, int32_t offset_s, char *buf, size_t size)
{
	int64_t s = ms / 1000 - (ms % 1000 < 0);
	unsigned int off;
	struct tm tm;
	time_t t;
	int n;

	if (offset_s % 60 != 0 || offset_s < -14 * 3600 || offset_s > 14 * 3600)
		return -EINVAL;
	t = (time_t)(s + offset_s);
	if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 < 1 || tm.tm_year + 1900 > 9999)
		return -EINVAL;
	off = (unsigned int)(offset_s < 0 ? -offset_s : offset_s) / 60;
	n = snprintf(buf, size, "%04d-%02d-%02dT%02d:%02d:%02d%c%02u:%02u", tm.tm_year + 1900,
		     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		     offset_s < 0 ? '-' : '+', off / 60, off % 60);
	return (n < 0 || (size_t)n >= size) ? -EINVAL : 0;
}
