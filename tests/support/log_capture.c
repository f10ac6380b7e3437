/* SPDX-License-Identifier: MIT */
#include "log_capture.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

#define CAPTURE_LINES 256

static char lines[CAPTURE_LINES][512];
static int n_lines;
static char text[CAPTURE_LINES * 64];

static void sink(int level, const char *line, void *user_data)
{
	(void)level;
	(void)user_data;
	if (n_lines < CAPTURE_LINES)
		snprintf(lines[n_lines++], sizeof(lines[0]), "%s", line);
	fprintf(stderr, "  log: %s\n", line);
}

void log_capture_start(void)
{
	log_capture_clear();
	log_set_sink(sink, NULL);
	log_set_max_level(VARDE_LOG_DEBUG);
	/* Tests assert on every line; the rate limit has its own test. */
	log_set_ratelimit(UINT_MAX, LOG_INTERVAL_MS);
}

void log_capture_clear(void)
{
	n_lines = 0;
}

bool log_capture_has(const char *fragment, ...)
{
	for (int i = 0; i < n_lines; i++) {
		const char *f = fragment;
		bool all = true;
		va_list ap;

		va_start(ap, fragment);
		for (; f; f = va_arg(ap, const char *))
			if (!strstr(lines[i], f))
				all = false;
		va_end(ap);
		if (all)
			return true;
	}
	return false;
}

int log_capture_count(void)
{
	return n_lines;
}

const char *log_capture_text(void)
{
	size_t off = 0;

	text[0] = '\0';
	for (int i = 0; i < n_lines && off < sizeof(text); i++) {
		int w = snprintf(text + off, sizeof(text) - off, "%s\n", lines[i]);

		if (w < 0)
			break;
		off += (size_t)w;
	}
	return text;
}
