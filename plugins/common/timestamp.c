// SPDX-License-Identifier: MIT
#include <string.h>

#include "timestamp.h"

bool timestamp_get(struct varde_cursor *c, struct varde_datetime *t, bool *valid)
{
	/* A field out of range still occupies its 7 bytes: the fields after it
	 * are at their place and the values stay usable. */
	if (varde_get_datetime(c, t)) {
		*valid = true;
		return true;
	}
	if (!varde_skip(c, 7))
		return false;
	memset(t, 0, sizeof(*t));
	*valid = false;
	return true;
}
