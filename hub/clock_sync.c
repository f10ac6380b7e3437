/* SPDX-License-Identifier: MIT */
#include "clock_sync.h"

#include <errno.h>
#include <string.h>

#include <varde/ieee11073.h>

static size_t encode_date_time(const struct tm *tm, uint8_t *out)
{
	uint16_t year = (uint16_t)(tm->tm_year + 1900);

	out[0] = (uint8_t)(year & 0xFF);
	out[1] = (uint8_t)(year >> 8);
	out[2] = (uint8_t)(tm->tm_mon + 1);
	out[3] = (uint8_t)tm->tm_mday;
	out[4] = (uint8_t)tm->tm_hour;
	out[5] = (uint8_t)tm->tm_min;
	/* A leap second cannot be written; 60 becomes 59. */
	out[6] = (uint8_t)(tm->tm_sec > 59 ? 59 : tm->tm_sec);
	return DATE_TIME_LEN;
}

size_t clock_encode_date_time(time_t now, uint8_t out[DATE_TIME_LEN])
{
	struct tm tm;

	localtime_r(&now, &tm);
	return encode_date_time(&tm, out);
}

size_t clock_encode_current_time(time_t now, uint8_t out[CURRENT_TIME_LEN])
{
	struct tm tm;

	localtime_r(&now, &tm);
	encode_date_time(&tm, out);
	out[7] = (uint8_t)(tm.tm_wday == 0 ? 7 : tm.tm_wday); /* 1 Monday .. 7 Sunday */
	out[8] = 0; /* fractions256 */
	out[9] = CURRENT_TIME_ADJUST_EXTERNAL;
	return CURRENT_TIME_LEN;
}

int clock_decode(const uint8_t *data, size_t len, struct varde_datetime *out)
{
	struct varde_cursor c = varde_cursor_init(data, len);

	if (!varde_get_datetime(&c, out) || !varde_datetime_is_complete(out))
		return -EBADMSG;
	return 0;
}

int clock_offset(const struct varde_datetime *device, time_t now, int64_t *offset_s)
{
	struct tm tm;
	time_t device_now;

	memset(&tm, 0, sizeof(tm));
	tm.tm_year = device->year - 1900;
	tm.tm_mon = device->month - 1;
	tm.tm_mday = device->day;
	tm.tm_hour = device->hours;
	tm.tm_min = device->minutes;
	tm.tm_sec = device->seconds;
	tm.tm_isdst = -1; /* the zone decides, as it does for readings */
	device_now = mktime(&tm);
	if (device_now == (time_t)-1)
		return -ERANGE;
	*offset_s = (int64_t)device_now - (int64_t)now;
	return 0;
}
