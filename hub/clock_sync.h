/* SPDX-License-Identifier: MIT */
/*
 * Device clocks: the Current Time (0x2A2B, 10 bytes: Date Time, day of
 * week, 1/256 s fractions, adjust reason) and Date Time (0x2A08, 7 bytes)
 * formats, and the offset between a device's local clock and the hub's.
 * Device clocks keep local time without zone, so both sides are compared
 * as local wall-clock time in the hub's zone (TZ honoured).
 */
#ifndef VARDE_CLOCK_SYNC_H
#define VARDE_CLOCK_SYNC_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <varde/plugin.h>

#define CURRENT_TIME_LEN 10
#define DATE_TIME_LEN 7

/* Adjust reason bit: the time was set by an external reference. */
#define CURRENT_TIME_ADJUST_EXTERNAL 0x02

/* Encodes `now` as the hub's local time. Returns the length written. */
size_t clock_encode_current_time(time_t now, uint8_t out[CURRENT_TIME_LEN]);
size_t clock_encode_date_time(time_t now, uint8_t out[DATE_TIME_LEN]);

/* Decodes either format (the first 7 bytes are a Date Time). Returns 0, or
 * -EBADMSG for a short frame, an invalid or incomplete date. */
int clock_decode(const uint8_t *data, size_t len, struct varde_datetime *out);

/* Device local time minus hub local time at `now`, in seconds. Returns 0
 * or -ERANGE when the device time cannot be placed in the hub's zone. */
int clock_offset(const struct varde_datetime *device, time_t now, int64_t *offset_s);

#endif /* VARDE_CLOCK_SYNC_H */
