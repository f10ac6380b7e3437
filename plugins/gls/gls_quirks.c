// SPDX-License-Identifier: MIT
/*
 * Quirk matching. There is no built-in list of meter names: no public
 * source names the meters that send newest first with enough certainty to
 * hard-code them, and gls_racp detects the order on its own as soon as a
 * sequence number goes down. The list exists so that an installer can name
 * a meter known to do it, which then keeps the cursor safe from its very
 * first record.
 */
#include <fnmatch.h>
#include <string.h>

#include "gls_quirks.h"

bool gls_quirk_newest_first(const char *name, const char *patterns)
{
	char pattern[64];
	const char *p = patterns;

	if (!name || !patterns)
		return false;
	while (*p) {
		size_t n = strcspn(p, ",");

		/* A pattern too long for the buffer cannot be a device name
		 * pattern (names are < 64 bytes): skipped, never truncated. */
		if (n > 0 && n < sizeof(pattern)) {
			memcpy(pattern, p, n);
			pattern[n] = '\0';
			if (fnmatch(pattern, name, 0) == 0)
				return true;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}
