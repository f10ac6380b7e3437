/* SPDX-License-Identifier: MIT */
#include "uuid.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <bluetooth/bluetooth.h>
#include <bluetooth/sdp.h>
#include <bluetooth/sdp_lib.h>

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

/* Parses exactly `digits` hex digits. */
static int parse_hex(const char *s, size_t digits, uint32_t *out)
{
	uint32_t v = 0;

	for (size_t i = 0; i < digits; i++) {
		int h = hex_value(s[i]);

		if (h < 0)
			return -EINVAL;
		v = (v << 4) | (uint32_t)h;
	}
	*out = v;
	return 0;
}

static int parse_uuid128(const char *s, uuid_t *uuid)
{
	static const size_t groups[] = {8, 4, 4, 4, 12};
	uint8_t bytes[16];
	size_t b = 0;

	for (size_t g = 0; g < 5; g++) {
		for (size_t i = 0; i < groups[g]; i += 2) {
			uint32_t v;

			if (parse_hex(s, 2, &v) < 0)
				return -EINVAL;
			bytes[b++] = (uint8_t)v;
			s += 2;
		}
		if (g < 4 && *s++ != '-')
			return -EINVAL;
	}
	if (*s)
		return -EINVAL;
	sdp_uuid128_create(uuid, bytes);
	return 0;
}

int uuid_normalize(const char *in, char out[UUID_STR_LEN])
{
	uuid_t uuid, full;
	uint32_t v;
	size_t n;

	if (!in)
		return -EINVAL;
	if (in[0] == '0' && (in[1] == 'x' || in[1] == 'X'))
		in += 2;
	n = strlen(in);
	if (n == 4 && parse_hex(in, 4, &v) == 0) {
		sdp_uuid16_create(&uuid, (uint16_t)v);
		sdp_uuid16_to_uuid128(&full, &uuid);
	} else if (n == 8 && parse_hex(in, 8, &v) == 0) {
		sdp_uuid32_create(&uuid, v);
		sdp_uuid32_to_uuid128(&full, &uuid);
	} else if (n == 36 && parse_uuid128(in, &full) == 0) {
		/* already full */
	} else {
		return -EINVAL;
	}
	if (sdp_uuid2strn(&full, out, UUID_STR_LEN) < 0)
		return -EINVAL;
	for (char *c = out; *c; c++)
		*c = (char)tolower((unsigned char)*c);
	return 0;
}
