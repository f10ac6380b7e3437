/* SPDX-License-Identifier: MIT */
#include "vectors.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

size_t vector_bytes(const char *name, uint8_t *buf, size_t cap)
{
	FILE *f = fopen(VARDE_SOURCE_DIR "/tests/data/gatt.tsv", "r");
	char line[1024];
	size_t n = 0;
	bool found = false;

	if (!f)
		fail_msg("cannot open tests/data/gatt.tsv");
	while (fgets(line, sizeof(line), f)) {
		char *vname = strtok(line, "\t"), *uuid = strtok(NULL, "\t");
		char *hex = strtok(NULL, "\t");

		if (!vname || !uuid || !hex || line[0] == '#' || strcmp(vname, name) != 0)
			continue;
		for (; hex[0] && hex[1] && hex[0] != '\t'; hex += 2) {
			unsigned int byte = 0;

			if (n == cap || sscanf(hex, "%2x", &byte) != 1)
				fail_msg("vector %s: bad hex", name);
			buf[n++] = (uint8_t)byte;
		}
		found = true;
		break;
	}
	fclose(f);
	if (!found)
		fail_msg("vector %s not in gatt.tsv", name);
	return n;
}
