/* SPDX-License-Identifier: MIT */
/* Captures the hub's log lines so tests can assert on what was said. */
#ifndef VARDE_TEST_LOG_CAPTURE_H
#define VARDE_TEST_LOG_CAPTURE_H

#include <stdbool.h>

void log_capture_start(void);
void log_capture_clear(void);
/* True when a captured line contains every one of the NULL-terminated
 * fragments. */
bool log_capture_has(const char *fragment, ...);
int log_capture_count(void);
/* All captured lines, newline-separated (for failure messages). */
const char *log_capture_text(void);

#endif
