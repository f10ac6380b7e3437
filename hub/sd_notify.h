/* SPDX-License-Identifier: MIT */
/*
 * The systemd notification protocol (sd_notify(3)) without libsystemd: one
 * datagram to the socket named by NOTIFY_SOCKET. Does nothing when the hub
 * is not started by systemd. Abstract socket names (starting with '@') are
 * supported.
 */
#ifndef VARDE_SD_NOTIFY_H
#define VARDE_SD_NOTIFY_H

#include <stdint.h>

/* Sends `state` (e.g. "READY=1\nSTATUS=running"). Returns 0 when sent or
 * when there is no NOTIFY_SOCKET, else a negative errno. */
int sd_notify_send(const char *state);

/* The watchdog interval systemd asks for (WATCHDOG_USEC, honouring
 * WATCHDOG_PID), in microseconds, or 0 when there is none. */
uint64_t sd_watchdog_usec(void);

#endif /* VARDE_SD_NOTIFY_H */
