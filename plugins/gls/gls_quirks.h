/* SPDX-License-Identifier: MIT */
/*
 * Device quirks of glucose meters, matched on the advertised name.
 */
#ifndef VARDE_GLS_QUIRKS_H
#define VARDE_GLS_QUIRKS_H

#include <stdbool.h>

/*
 * True when the meter sends stored records newest first: its name matches
 * one of `patterns`, a comma-separated list of fnmatch(3) patterns (the
 * plugin option newest_first_names; NULL or empty matches nothing).
 */
bool gls_quirk_newest_first(const char *name, const char *patterns);

#endif /* VARDE_GLS_QUIRKS_H */
