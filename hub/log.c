/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "loop.h"

/* Call sites tracked for rate limiting; a new site evicts the oldest. */
#define LOG_SITES 64

struct log_site {
	const char *fmt;
	uint64_t window_start;
	unsigned int count;
	unsigned int suppressed;
};

static struct {
	int max_level;
	bool journal;
	log_sink_func sink;
	void *sink_data;
	unsigned int burst;
	unsigned int interval_ms;
	struct log_site sites[LOG_SITES];
	unsigned int next_site;
} log_state = {.max_level = VARDE_LOG_INFO, .burst = LOG_BURST, .interval_ms = LOG_INTERVAL_MS};

static const char *const level_names[] = {
	[VARDE_LOG_ERR] = "err",   [VARDE_LOG_WARNING] = "warning", [VARDE_LOG_NOTICE] = "notice",
	[VARDE_LOG_INFO] = "info", [VARDE_LOG_DEBUG] = "debug",
};

static bool stderr_is_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(2, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(int max_level)
{
	log_state.max_level = max_level;
	log_state.journal = stderr_is_journal();
}

void log_set_max_level(int level)
{
	log_state.max_level = level;
}

void log_set_sink(log_sink_func sink, void *user_data)
{
	log_state.sink = sink;
	log_state.sink_data = user_data;
}

void log_set_ratelimit(unsigned int burst, unsigned int interval_ms)
{
	log_state.burst = burst;
	log_state.interval_ms = interval_ms;
	memset(log_state.sites, 0, sizeof(log_state.sites));
	log_state.next_site = 0;
}

int log_level_from_name(const char *name)
{
	for (int i = VARDE_LOG_ERR; i <= VARDE_LOG_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

static void emit(int level, const char *line)
{
	if (log_state.sink) {
		log_state.sink(level, line, log_state.sink_data);
		return;
	}
	if (log_state.journal)
		fprintf(stderr, "<%d>%s\n", level, line);
	else
		fprintf(stderr, "varded: %s: %s\n", level_names[level], line);
}

static struct log_site *site_for(const char *fmt)
{
	struct log_site *site;

	for (unsigned int i = 0; i < LOG_SITES; i++)
		if (log_state.sites[i].fmt == fmt)
			return &log_state.sites[i];
	site = &log_state.sites[log_state.next_site];
	log_state.next_site = (log_state.next_site + 1) % LOG_SITES;
	memset(site, 0, sizeof(*site));
	site->fmt = fmt;
	return site;
}

/* Returns false when this line is to be suppressed. */
static bool ratelimit_pass(const char *fmt, int level)
{
	struct log_site *site = site_for(fmt);
	uint64_t now = loop_now_ms();

	if (site->window_start == 0 || now - site->window_start >= log_state.interval_ms) {
		if (site->suppressed) {
			char line[128];

			snprintf(line, sizeof(line), "%u similar messages suppressed",
				 site->suppressed);
			emit(level, line);
		}
		site->window_start = now;
		site->count = 0;
		site->suppressed = 0;
	}
	if (site->count >= log_state.burst) {
		site->suppressed++;
		return false;
	}
	site->count++;
	return true;
}

void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
{
	char line[1024];
	int off = 0;

	if (level < VARDE_LOG_ERR)
		level = VARDE_LOG_ERR;
	if (level > VARDE_LOG_DEBUG)
		level = VARDE_LOG_DEBUG;
	if (level > log_state.max_level || !ratelimit_pass(fmt, level))
		return;
	if (prefix)
		off = snprintf(line, sizeof(line), "%s: ", prefix);
	if (off < 0 || (size_t)off >= sizeof(line))
		off = 0;
	vsnprintf(line + off, sizeof(line) - (size_t)off, fmt, ap);
	/* One message, one line: a device name with a newline cannot forge
	 * another log entry. */
	for (char *c = line; *c; c++)
		if (*c == '\n' || *c == '\r')
			*c = ' ';
	emit(level, line);
}

void log_msg(int level, const char *prefix, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, prefix, fmt, ap);
	va_end(ap);
}
