// SPDX-License-Identifier: MIT
#include "hex.h"

void hex_log(const uint8_t *data, size_t len, char out[HEX_LOG_SIZE])
{
	static const char digits[] = "0123456789ABCDEF";
	size_t n = len < HEX_LOG_BYTES ? len : HEX_LOG_BYTES;
	char *p = out;

	for (size_t i = 0; i < n; i++) {
		*p++ = digits[data[i] >> 4];
		*p++ = digits[data[i] & 0x0f];
	}
	if (len > n) {
		*p++ = '.';
		*p++ = '.';
		*p++ = '.';
	}
	*p = '\0';
}
