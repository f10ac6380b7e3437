/* SPDX-License-Identifier: MIT */
/*
 * The Date Time field of a measurement, with the one policy every
 * first-party plugin follows for a time stamp whose fields are out of range
 * (month 13, hour 24, year 1..1581, 30 February...): the measurement is
 * kept, without a device time. The plugin then submits it without
 * VARDE_READING_HAS_TIME and with VARDE_STATUS_DEVICE_CLOCK_NOT_SET, so that
 * the hub uses its receive time and says so, and logs a warning. A reading
 * is never lost for a clock fault, and a time the device cannot have meant
 * is never presented as the time of measurement.
 */
#ifndef VARDE_PLUGINS_TIMESTAMP_H
#define VARDE_PLUGINS_TIMESTAMP_H

#include <stdbool.h>

#include <varde/ieee11073.h>

/*
 * Reads the 7-byte Date Time at the cursor. Returns false only when the
 * frame is too short for it (the cursor is then unchanged). Otherwise the
 * 7 bytes are consumed and `*valid` says whether `*t` holds them; when a
 * field is out of range `*t` is zeroed.
 */
bool timestamp_get(struct varde_cursor *c, struct varde_datetime *t, bool *valid);

#endif /* VARDE_PLUGINS_TIMESTAMP_H */
