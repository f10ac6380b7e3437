/* SPDX-License-Identifier: MIT */
/*
 * Glucose record download: a state machine over the Record Access Control
 * Point that asks for the records after the persisted cursor, pairs each
 * measurement with its context by sequence number, hands complete records
 * on, and decides what the cursor becomes. It does no I/O itself: the glue
 * (gls.c) gives it the device events and performs the actions it asks for
 * through `struct gls_racp_ops`, which is what makes it testable without a
 * host.
 *
 * Cursor: the highest sequence number whose record was delivered. With
 * devices that send records oldest first it is saved after every record
 * once a second, higher record has proved that order (a download cut short
 * resumes where it stopped). With devices that send newest first
 * (`reversed`, from the quirk table, or detected when a sequence number
 * goes down) it is saved only when the device reports the procedure
 * complete, since the first record received is the newest and an
 * interrupted download would otherwise skip every older record. A live
 * measurement outside a download moves the cursor only when it is the
 * direct successor of the cursor, so that it never hides stored records
 * not yet downloaded.
 */
#ifndef VARDE_GLS_RACP_H
#define VARDE_GLS_RACP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <varde/plugin.h>

#include "gls_decode.h"

/* Inactivity limit of a download: restarted by every record. */
#define GLS_RACP_TIMEOUT_MS 30000

struct gls_racp;

struct gls_racp_ops {
	/* Write `buf` to the RACP; completion through gls_racp_write_done().
	 * Returns 0 or a negative errno when it could not be queued. */
	int (*write)(const uint8_t *buf, size_t len, void *user_data);
	/* Publish a record (ctx may be NULL). Return 0 when the record is
	 * dealt with (published, or by design nothing to publish), a negative
	 * errno when it was not delivered: the cursor then does not cover it. */
	int (*submit)(const struct gls_measurement *m, const struct gls_context *ctx, bool stored,
		      void *user_data);
	/* Persist the cursor. */
	void (*save_cursor)(uint16_t sequence, void *user_data);
	/* (Re)start the one procedure timer; expiry through gls_racp_timeout(). */
	int (*timer_start)(uint32_t msec, void *user_data);
	void (*timer_stop)(void *user_data);
	void (*log)(void *user_data, int level, const char *fmt, ...) VARDE_PRINTF(3, 4);
};

struct gls_racp *gls_racp_new(const struct gls_racp_ops *ops, void *user_data, bool reversed);
/* NULL-safe. Drops a record still waiting for its context: call
 * gls_racp_flush() first to deliver it. */
void gls_racp_free(struct gls_racp *r);

/* The cursor loaded from the store (none: every record is asked for). */
void gls_racp_set_cursor(struct gls_racp *r, uint16_t sequence);
bool gls_racp_get_cursor(const struct gls_racp *r, uint16_t *sequence);

/* Write "report stored records" (sequence >= cursor + 1, or all records).
 * Returns 0, -EALREADY while a download runs, or the write's error. */
int gls_racp_start(struct gls_racp *r);
bool gls_racp_active(const struct gls_racp *r);

/* Device events. */
void gls_racp_write_done(struct gls_racp *r, int err);
void gls_racp_measurement(struct gls_racp *r, const struct gls_measurement *m);
void gls_racp_context(struct gls_racp *r, const struct gls_context *x);
/* A RACP indication. Returns 0 or -EBADMSG (not a RACP response). */
int gls_racp_indication(struct gls_racp *r, const uint8_t *data, size_t len);
void gls_racp_timeout(struct gls_racp *r);
/* Deliver a measurement still waiting for its context (link going away). */
void gls_racp_flush(struct gls_racp *r);

#endif /* VARDE_GLS_RACP_H */
