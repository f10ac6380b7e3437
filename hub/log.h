/* SPDX-License-Identifier: MIT */
/*
 * Logging to stderr, which journald captures. When stderr is the journal's
 * stream (JOURNAL_STREAM names it), each line starts with the syslog
 * priority prefix "<N>" so the journal records the level.
 *
 * Repeated messages are rate-limited per call site (the format string): at
 * most LOG_BURST lines per LOG_INTERVAL_MS; the next line from that site
 * after the interval is preceded by one saying how many were suppressed. A
 * flapping device cannot flood the disk.
 */
#ifndef VARDE_LOG_H
#define VARDE_LOG_H

#include <stdarg.h>
#include <stdint.h>

#include <varde/plugin.h>

#define LOG_BURST 10
#define LOG_INTERVAL_MS 5000

/* Where finished lines go; the default writes to stderr. For tests. */
typedef void (*log_sink_func)(int level, const char *line, void *user_data);

void log_init(int max_level);
void log_set_max_level(int level);
void log_set_sink(log_sink_func sink, void *user_data);
/* Changes the rate limit (burst lines per interval) and forgets all call
 * sites; for tests. */
void log_set_ratelimit(unsigned int burst, unsigned int interval_ms);
/* "err", "warning", "notice", "info", "debug" -> level, or -1. */
int log_level_from_name(const char *name);

/* `prefix` (may be NULL) names the speaker, e.g. "plugin bls". */
void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap) VARDE_PRINTF(3, 0);
void log_msg(int level, const char *prefix, const char *fmt, ...) VARDE_PRINTF(3, 4);

#define log_err(...) log_msg(VARDE_LOG_ERR, NULL, __VA_ARGS__)
#define log_warn(...) log_msg(VARDE_LOG_WARNING, NULL, __VA_ARGS__)
#define log_notice(...) log_msg(VARDE_LOG_NOTICE, NULL, __VA_ARGS__)
#define log_info(...) log_msg(VARDE_LOG_INFO, NULL, __VA_ARGS__)
#define log_debug(...) log_msg(VARDE_LOG_DEBUG, NULL, __VA_ARGS__)

#endif /* VARDE_LOG_H */
