/* SPDX-License-Identifier: MIT */
/* Wall-clock instants: now, and as ISO 8601 / FHIR dateTime text. */
#ifndef VARDE_TIMEFMT_H
#define VARDE_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

/* Now: UTC, milliseconds since the epoch (CLOCK_REALTIME). */
int64_t time_now_ms(void);

/* `ms` (UTC, since the epoch) as local time at `offset_s` with that offset,
 * to the second: "2024-11-29T23:08:57+01:00" ("+00:00" for UTC). Returns 0,
 * or -EINVAL for an offset that is not whole minutes within +-14 h, a year
 * outside 1..9999, or a buffer too small. */
int time_format_iso(int64_t ms, int32_t offset_s, char *buf, size_t size);

#endif /* VARDE_TIMEFMT_H */
