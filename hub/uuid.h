/* SPDX-License-Identifier: MIT */
/*
 * Bluetooth UUID strings. Plugins may name a UUID by its 16-bit assigned
 * number ("2A35", "0x2a35") or in full; BlueZ always uses the full lower-case
 * 128-bit form. Everything inside the hub is compared in that form.
 */
#ifndef VARDE_UUID_H
#define VARDE_UUID_H

#define UUID_STR_LEN 37 /* "0000180d-0000-1000-8000-00805f9b34fb" + NUL */

/* Writes the full lower-case form of `in` to `out`. Returns 0 or -EINVAL. */
int uuid_normalize(const char *in, char out[UUID_STR_LEN]);

#endif /* VARDE_UUID_H */
