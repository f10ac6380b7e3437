/* SPDX-License-Identifier: MIT */
/* Hex rendering of the start of a frame, for log lines about bad frames. */
#ifndef VARDE_PLUGINS_HEX_H
#define VARDE_PLUGINS_HEX_H

#include <stddef.h>
#include <stdint.h>

/* Enough for HEX_LOG_BYTES bytes, an ellipsis and the NUL. */
#define HEX_LOG_BYTES 16
#define HEX_LOG_SIZE (HEX_LOG_BYTES * 2 + 4)

/* Writes the first HEX_LOG_BYTES bytes of `data` as hex into `out`
 * (HEX_LOG_SIZE bytes), with "..." when the frame is longer. */
void hex_log(const uint8_t *data, size_t len, char out[HEX_LOG_SIZE]);

#endif /* VARDE_PLUGINS_HEX_H */
