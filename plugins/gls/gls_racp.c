// SPDX-License-Identifier: MIT
/*
 * Glucose record download state machine; see gls_racp.h for the cursor
 * rules.
 */
#include <errno.h>
#include <stdlib.h>

#include "racp.h"
#include "gls_racp.h"

enum state {
	STATE_IDLE,
	STATE_REQUESTED, /* report stored records written, records flowing */
	STATE_ABORTING, /* timed out, abort operation written */
};

struct gls_racp {
	const struct gls_racp_ops *ops;
	void *user_data;
	bool reversed;
	enum state state;
	/* The request in flight used the ">= sequence" filter (a device that
	 * refuses it is asked once more for all records). */
	bool filtered;

	bool has_cursor;
	uint16_t cursor;
	/* Highest and last sequence delivered by the download in progress. */
	bool has_best;
	uint16_t best;
	bool has_last;
	uint16_t last;

	/* A measurement whose context is announced but not yet received. */
	bool pending;
	bool pending_stored;
	struct gls_measurement pending_m;
};

struct gls_racp *gls_racp_new(const struct gls_racp_ops *ops, void *user_data, bool reversed)
{
	struct gls_racp *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->ops = ops;
	r->user_data = user_data;
	r->reversed = reversed;
	return r;
}

void gls_racp_free(struct gls_racp *r)
{
	free(r);
}

void gls_racp_set_cursor(struct gls_racp *r, uint16_t sequence)
{
	r->has_cursor = true;
	r->cursor = sequence;
}

bool gls_racp_get_cursor(const struct gls_racp *r, uint16_t *sequence)
{
	if (r->has_cursor)
		*sequence = r->cursor;
	return r->has_cursor;
}

bool gls_racp_active(const struct gls_racp *r)
{
	return r->state != STATE_IDLE;
}

static void save_cursor(struct gls_racp *r, uint16_t sequence)
{
	if (r->has_cursor && sequence <= r->cursor)
		return;
	r->has_cursor = true;
	r->cursor = sequence;
	r->ops->save_cursor(sequence, r->user_data);
}

static void delivered(struct gls_racp *r, uint16_t sequence, bool stored)
{
	if (!stored) {
		/* Live: only the direct successor, see gls_racp.h. */
		if (r->has_cursor && r->cursor != UINT16_MAX && sequence == r->cursor + 1)
			save_cursor(r, sequence);
		return;
	}
	if (!r->has_best || sequence > r->best) {
		r->has_best = true;
		r->best = sequence;
	}
	if (r->reversed)
		return;
	if (r->has_last && sequence < r->last) {
		r->reversed = true;
		r->ops->log(r->user_data, VARDE_LOG_NOTICE,
			    "device sends newest records first: cursor kept until the download "
			    "completes");
		return;
	}
	/* Only a second, higher record proves oldest-first order: the first
	 * one alone may be the newest of a newest-first device. */
	if (r->has_last)
		save_cursor(r, sequence);
	r->has_last = true;
	r->last = sequence;
}

static void deliver(struct gls_racp *r, const struct gls_measurement *m,
		    const struct gls_context *x, bool stored)
{
	int err = r->ops->submit(m, x, stored, r->user_data);

	if (err < 0) {
		r->ops->log(r->user_data, VARDE_LOG_WARNING,
			    "glucose record %u not delivered (%d): cursor not advanced",
			    m->sequence, err);
		return;
	}
	delivered(r, m->sequence, stored);
}

void gls_racp_flush(struct gls_racp *r)
{
	if (!r->pending)
		return;
	r->pending = false;
	deliver(r, &r->pending_m, NULL, r->pending_stored);
}

static int write_request(struct gls_racp *r, bool filtered)
{
	uint8_t buf[RACP_REQUEST_MAX];
	int len, err;

	if (filtered)
		len = racp_encode_seq_ge(RACP_OP_REPORT_RECORDS, (uint16_t)(r->cursor + 1), buf,
					 sizeof(buf));
	else
		len = racp_encode_all(RACP_OP_REPORT_RECORDS, buf, sizeof(buf));
	if (len < 0)
		return len;
	err = r->ops->write(buf, (size_t)len, r->user_data);
	if (err < 0)
		return err;
	r->filtered = filtered;
	r->state = STATE_REQUESTED;
	r->ops->timer_start(GLS_RACP_TIMEOUT_MS, r->user_data);
	return 0;
}

int gls_racp_start(struct gls_racp *r)
{
	int err;

	if (r->state != STATE_IDLE)
		return -EALREADY;
	r->has_best = false;
	r->has_last = false;
	/* After 65535 there is no ">= next": ask for everything, the hub
	 * drops what it has seen. */
	err = write_request(r, r->has_cursor && r->cursor != UINT16_MAX);
	if (err < 0)
		r->ops->log(r->user_data, VARDE_LOG_ERR, "cannot request stored records (%d)", err);
	else if (r->filtered)
		r->ops->log(r->user_data, VARDE_LOG_INFO, "requesting records from sequence %u",
			    r->cursor + 1);
	else
		r->ops->log(r->user_data, VARDE_LOG_INFO, "requesting all stored records");
	return err;
}

static void finish(struct gls_racp *r, bool complete)
{
	gls_racp_flush(r);
	r->ops->timer_stop(r->user_data);
	r->state = STATE_IDLE;
	/* Only a complete download proves that every record below the
	 * highest one was delivered. */
	if (complete && r->has_best)
		save_cursor(r, r->best);
	r->has_best = false;
	r->has_last = false;
}

void gls_racp_write_done(struct gls_racp *r, int err)
{
	if (err >= 0 || r->state == STATE_IDLE)
		return;
	/* -EPROTO here is typically ATT 0x81 (indications not enabled) or
	 * 0x80 (a procedure already running on the device). */
	r->ops->log(r->user_data, VARDE_LOG_ERR, "RACP %s write failed (%d)",
		    r->state == STATE_ABORTING ? "abort" : "request", err);
	finish(r, false);
}

void gls_racp_measurement(struct gls_racp *r, const struct gls_measurement *m)
{
	/* Records still arriving after an abort are stored records too. */
	bool stored = r->state != STATE_IDLE;

	/* A new measurement means the previous one's context is not coming. */
	gls_racp_flush(r);
	if (r->state == STATE_REQUESTED)
		r->ops->timer_start(GLS_RACP_TIMEOUT_MS, r->user_data);
	if (m->flags & GLS_MEAS_CONTEXT_FOLLOWS) {
		r->pending = true;
		r->pending_stored = stored;
		r->pending_m = *m;
		return;
	}
	deliver(r, m, NULL, stored);
}

void gls_racp_context(struct gls_racp *r, const struct gls_context *x)
{
	if (r->pending && r->pending_m.sequence == x->sequence) {
		r->pending = false;
		deliver(r, &r->pending_m, x, r->pending_stored);
		return;
	}
	r->ops->log(r->user_data, VARDE_LOG_WARNING,
		    "context for sequence %u has no measurement waiting for it: ignored",
		    x->sequence);
	gls_racp_flush(r);
}

static bool filter_refused(uint8_t response)
{
	return response == RACP_RSP_INVALID_OPERATOR ||
	       response == RACP_RSP_OPERATOR_NOT_SUPPORTED ||
	       response == RACP_RSP_INVALID_OPERAND || response == RACP_RSP_OPERAND_NOT_SUPPORTED;
}

int gls_racp_indication(struct gls_racp *r, const uint8_t *data, size_t len)
{
	struct racp_indication ind;

	if (racp_decode(data, len, &ind) < 0)
		return -EBADMSG;
	if (ind.opcode != RACP_OP_RESPONSE_CODE || r->state == STATE_IDLE) {
		r->ops->log(r->user_data, VARDE_LOG_DEBUG, "unexpected RACP indication 0x%02x",
			    ind.opcode);
		return 0;
	}

	if (r->state == STATE_ABORTING) {
		/* Whatever the answer to the abort, this download is over. */
		r->ops->log(r->user_data, VARDE_LOG_NOTICE, "record download aborted: %s",
			    racp_response_name(ind.response));
		finish(r, false);
		return 0;
	}
	if (ind.request_opcode != RACP_OP_REPORT_RECORDS) {
		r->ops->log(r->user_data, VARDE_LOG_DEBUG, "RACP response to op 0x%02x ignored",
			    ind.request_opcode);
		return 0;
	}

	switch (ind.response) {
	case RACP_RSP_SUCCESS:
		r->ops->log(r->user_data, VARDE_LOG_INFO, "stored records downloaded");
		finish(r, true);
		break;
	case RACP_RSP_NO_RECORDS:
		/* Normal: nothing new since the last download. */
		r->ops->log(r->user_data, VARDE_LOG_INFO, "no new stored records");
		finish(r, true);
		break;
	default:
		r->ops->log(r->user_data, VARDE_LOG_ERR, "record download failed: %s (0x%02x)",
			    racp_response_name(ind.response), ind.response);
		if (r->filtered && filter_refused(ind.response)) {
			/* A meter without the sequence filter: take all, the hub
			 * drops records it has already published. */
			finish(r, false);
			if (write_request(r, false) == 0)
				r->ops->log(r->user_data, VARDE_LOG_NOTICE,
					    "retrying with all records");
			break;
		}
		finish(r, false);
		break;
	}
	return 0;
}

void gls_racp_timeout(struct gls_racp *r)
{
	uint8_t buf[RACP_REQUEST_MAX];
	int len;

	if (r->state == STATE_ABORTING) {
		r->ops->log(r->user_data, VARDE_LOG_ERR, "no answer to RACP abort: giving up");
		finish(r, false);
		return;
	}
	if (r->state != STATE_REQUESTED)
		return;
	r->ops->log(r->user_data, VARDE_LOG_WARNING, "record download silent for %u s: aborting",
		    GLS_RACP_TIMEOUT_MS / 1000);
	gls_racp_flush(r);
	len = racp_encode_abort(buf, sizeof(buf));
	if (len < 0 || r->ops->write(buf, (size_t)len, r->user_data) < 0) {
		finish(r, false);
		return;
	}
	r->state = STATE_ABORTING;
	r->ops->timer_start(GLS_RACP_TIMEOUT_MS, r->user_data);
}
