// SPDX-License-Identifier: MIT
/*
 * RACP codec (shared vectors) and the glucose record download state
 * machine: cursor handling, pairing by sequence number, newest-first
 * meters, responses, timeout and abort.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gls_racp.h"
#include "racp.h"

/* ---- RACP codec -------------------------------------------------------- */

static void assert_bytes(const uint8_t *got, int len, const uint8_t *want, size_t want_len)
{
	assert_int_equal(len, want_len);
	assert_memory_equal(got, want, want_len);
}

static void test_racp_encode_vectors(void **state)
{
	static const uint8_t all[] = {0x01, 0x01};
	static const uint8_t count_all[] = {0x04, 0x01};
	static const uint8_t ge_43[] = {0x01, 0x03, 0x01, 0x2B, 0x00};
	static const uint8_t range_10_20[] = {0x01, 0x04, 0x01, 0x0A, 0x00, 0x14, 0x00};
	static const uint8_t abort_op[] = {0x03, 0x00};
	uint8_t buf[RACP_REQUEST_MAX];

	(void)state;
	assert_bytes(buf, racp_encode_all(RACP_OP_REPORT_RECORDS, buf, sizeof(buf)), all,
		     sizeof(all));
	assert_bytes(buf, racp_encode_all(RACP_OP_REPORT_COUNT, buf, sizeof(buf)), count_all,
		     sizeof(count_all));
	assert_bytes(buf, racp_encode_seq_ge(RACP_OP_REPORT_RECORDS, 43, buf, sizeof(buf)), ge_43,
		     sizeof(ge_43));
	assert_bytes(buf, racp_encode_seq_range(RACP_OP_REPORT_RECORDS, 10, 20, buf, sizeof(buf)),
		     range_10_20, sizeof(range_10_20));
	assert_bytes(buf, racp_encode_abort(buf, sizeof(buf)), abort_op, sizeof(abort_op));
	/* Byte order of a large operand. */
	assert_int_equal(racp_encode_seq_ge(RACP_OP_REPORT_RECORDS, 0xBEEF, buf, sizeof(buf)), 5);
	assert_int_equal(buf[3], 0xEF);
	assert_int_equal(buf[4], 0xBE);
}

static void test_racp_encode_short_buffer(void **state)
{
	uint8_t buf[RACP_REQUEST_MAX];

	(void)state;
	assert_int_equal(racp_encode_all(RACP_OP_REPORT_RECORDS, buf, 1), -ENOSPC);
	assert_int_equal(racp_encode_seq_ge(RACP_OP_REPORT_RECORDS, 1, buf, 4), -ENOSPC);
	assert_int_equal(racp_encode_seq_range(RACP_OP_REPORT_RECORDS, 1, 2, buf, 6), -ENOSPC);
	assert_int_equal(racp_encode_abort(buf, 1), -ENOSPC);
}

static void test_racp_decode_vectors(void **state)
{
	static const uint8_t success[] = {0x06, 0x00, 0x01, 0x01};
	static const uint8_t none[] = {0x06, 0x00, 0x01, 0x06};
	static const uint8_t count[] = {0x05, 0x00, 0x02, 0x01};
	struct racp_indication ind;

	(void)state;
	assert_int_equal(racp_decode(success, sizeof(success), &ind), 0);
	assert_int_equal(ind.opcode, RACP_OP_RESPONSE_CODE);
	assert_int_equal(ind.request_opcode, RACP_OP_REPORT_RECORDS);
	assert_int_equal(ind.response, RACP_RSP_SUCCESS);
	assert_int_equal(racp_decode(none, sizeof(none), &ind), 0);
	assert_int_equal(ind.response, RACP_RSP_NO_RECORDS);
	assert_int_equal(racp_decode(count, sizeof(count), &ind), 0);
	assert_int_equal(ind.opcode, RACP_OP_COUNT_RESPONSE);
	assert_int_equal(ind.count, 258);

	for (size_t len = 0; len < sizeof(success); len++) {
		assert_int_equal(racp_decode(success, len, &ind), -EBADMSG);
		assert_int_equal(racp_decode(count, len, &ind), -EBADMSG);
	}
}

static void test_racp_decode_rejects(void **state)
{
	const uint8_t request[] = {0x01, 0x01, 0x00, 0x00};
	const uint8_t bad_operator[] = {0x06, 0x01, 0x01, 0x01};
	const uint8_t longer[] = {0x06, 0x00, 0x01, 0x05, 0xAA, 0xBB};
	struct racp_indication ind;

	(void)state;
	assert_int_equal(racp_decode(request, sizeof(request), &ind), -EBADMSG);
	assert_int_equal(racp_decode(bad_operator, sizeof(bad_operator), &ind), -EBADMSG);
	assert_int_equal(racp_decode(NULL, 4, &ind), -EBADMSG);
	assert_int_equal(racp_decode(longer, sizeof(longer), &ind), 0);
	assert_int_equal(ind.response, RACP_RSP_INVALID_OPERAND);
}

static void test_racp_response_names(void **state)
{
	(void)state;
	assert_string_equal(racp_response_name(1), "success");
	assert_string_equal(racp_response_name(2), "op code not supported");
	assert_string_equal(racp_response_name(3), "invalid operator");
	assert_string_equal(racp_response_name(4), "operator not supported");
	assert_string_equal(racp_response_name(5), "invalid operand");
	assert_string_equal(racp_response_name(6), "no records found");
	assert_string_equal(racp_response_name(7), "abort unsuccessful");
	assert_string_equal(racp_response_name(8), "procedure not completed");
	assert_string_equal(racp_response_name(9), "operand not supported");
	assert_string_equal(racp_response_name(0), "reserved");
	assert_string_equal(racp_response_name(0x10), "reserved");
}

/* ---- recording ops ----------------------------------------------------- */

#define MAX_EVENTS 32

struct rec {
	uint8_t writes[MAX_EVENTS][RACP_REQUEST_MAX];
	size_t write_len[MAX_EVENTS];
	size_t n_writes;
	int write_result;

	uint16_t submitted[MAX_EVENTS];
	bool submitted_stored[MAX_EVENTS];
	bool submitted_ctx[MAX_EVENTS];
	size_t n_submitted;
	uint16_t fail_seq; /* submit of this sequence fails (0: none) */

	uint16_t saved[MAX_EVENTS];
	size_t n_saved;

	bool timer_armed;
	unsigned int timer_starts;
	uint32_t timer_msec;

	char last_log[256];
	int last_level;
};

static int rec_write(const uint8_t *buf, size_t len, void *user_data)
{
	struct rec *r = user_data;

	if (r->write_result < 0)
		return r->write_result;
	assert_true(len <= RACP_REQUEST_MAX);
	memcpy(r->writes[r->n_writes], buf, len);
	r->write_len[r->n_writes++] = len;
	return 0;
}

static int rec_submit(const struct gls_measurement *m, const struct gls_context *ctx, bool stored,
		      void *user_data)
{
	struct rec *r = user_data;

	if (m->sequence == r->fail_seq)
		return -EINVAL;
	if (ctx)
		assert_int_equal(ctx->sequence, m->sequence);
	r->submitted[r->n_submitted] = m->sequence;
	r->submitted_stored[r->n_submitted] = stored;
	r->submitted_ctx[r->n_submitted++] = ctx != NULL;
	return 0;
}

static void rec_save(uint16_t sequence, void *user_data)
{
	struct rec *r = user_data;

	r->saved[r->n_saved++] = sequence;
}

static int rec_timer_start(uint32_t msec, void *user_data)
{
	struct rec *r = user_data;

	r->timer_armed = true;
	r->timer_starts++;
	r->timer_msec = msec;
	return 0;
}

static void rec_timer_stop(void *user_data)
{
	struct rec *r = user_data;

	r->timer_armed = false;
}

static void VARDE_PRINTF(3, 4) rec_log(void *user_data, int level, const char *fmt, ...)
{
	struct rec *r = user_data;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->last_log, sizeof(r->last_log), fmt, ap);
	va_end(ap);
	r->last_level = level;
}

static const struct gls_racp_ops ops = {
	.write = rec_write,
	.submit = rec_submit,
	.save_cursor = rec_save,
	.timer_start = rec_timer_start,
	.timer_stop = rec_timer_stop,
	.log = rec_log,
};

struct fixture {
	struct rec rec;
	struct gls_racp *racp;
};

static int setup_normal(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	f.racp = gls_racp_new(&ops, &f.rec, false);
	assert_non_null(f.racp);
	*state = &f;
	return 0;
}

static int setup_reversed(void **state)
{
	static struct fixture f;

	memset(&f, 0, sizeof(f));
	f.racp = gls_racp_new(&ops, &f.rec, true);
	assert_non_null(f.racp);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	gls_racp_free(f->racp);
	return 0;
}

static void measurement(struct fixture *f, uint16_t seq, bool context_follows)
{
	struct gls_measurement m;

	memset(&m, 0, sizeof(m));
	m.flags = GLS_MEAS_CONCENTRATION | (context_follows ? GLS_MEAS_CONTEXT_FOLLOWS : 0);
	m.sequence = seq;
	m.type = 1;
	gls_racp_measurement(f->racp, &m);
}

static void context(struct fixture *f, uint16_t seq)
{
	struct gls_context x;

	memset(&x, 0, sizeof(x));
	x.flags = GLS_CTX_MEAL;
	x.sequence = seq;
	x.meal = 1;
	gls_racp_context(f->racp, &x);
}

static void respond(struct fixture *f, uint8_t request_opcode, uint8_t code)
{
	const uint8_t rsp[] = {RACP_OP_RESPONSE_CODE, 0, request_opcode, code};

	assert_int_equal(gls_racp_indication(f->racp, rsp, sizeof(rsp)), 0);
}

static void assert_last_write(const struct fixture *f, const uint8_t *want, size_t len)
{
	assert_true(f->rec.n_writes > 0);
	assert_int_equal(f->rec.write_len[f->rec.n_writes - 1], len);
	assert_memory_equal(f->rec.writes[f->rec.n_writes - 1], want, len);
}

/* ---- state machine ----------------------------------------------------- */

static void test_start_without_cursor_asks_all(void **state)
{
	struct fixture *f = *state;
	static const uint8_t all[] = {0x01, 0x01};
	uint16_t cur;

	assert_false(gls_racp_get_cursor(f->racp, &cur));
	assert_int_equal(gls_racp_start(f->racp), 0);
	assert_last_write(f, all, sizeof(all));
	assert_true(gls_racp_active(f->racp));
	assert_true(f->rec.timer_armed);
	assert_int_equal(f->rec.timer_msec, GLS_RACP_TIMEOUT_MS);
	assert_int_equal(gls_racp_start(f->racp), -EALREADY);
	assert_int_equal(f->rec.n_writes, 1);
}

static void test_start_with_cursor_asks_after_it(void **state)
{
	struct fixture *f = *state;
	static const uint8_t ge_43[] = {0x01, 0x03, 0x01, 0x2B, 0x00};
	uint16_t cur = 0;

	gls_racp_set_cursor(f->racp, 42);
	assert_true(gls_racp_get_cursor(f->racp, &cur));
	assert_int_equal(cur, 42);
	assert_int_equal(gls_racp_start(f->racp), 0);
	assert_last_write(f, ge_43, sizeof(ge_43));
}

static void test_start_with_last_possible_cursor_asks_all(void **state)
{
	struct fixture *f = *state;
	static const uint8_t all[] = {0x01, 0x01};

	gls_racp_set_cursor(f->racp, 0xFFFF);
	assert_int_equal(gls_racp_start(f->racp), 0);
	assert_last_write(f, all, sizeof(all));
}

static void test_start_write_fails(void **state)
{
	struct fixture *f = *state;

	f->rec.write_result = -ENOTCONN;
	assert_int_equal(gls_racp_start(f->racp), -ENOTCONN);
	assert_false(gls_racp_active(f->racp));
	assert_false(f->rec.timer_armed);
	assert_int_equal(f->rec.last_level, VARDE_LOG_ERR);
}

static void test_ascending_download_moves_cursor(void **state)
{
	struct fixture *f = *state;

	gls_racp_set_cursor(f->racp, 42);
	assert_int_equal(gls_racp_start(f->racp), 0);
	measurement(f, 43, false);
	/* One record alone does not prove the order yet. */
	assert_int_equal(f->rec.n_saved, 0);
	measurement(f, 44, false);
	assert_int_equal(f->rec.n_saved, 1);
	assert_int_equal(f->rec.saved[0], 44);
	measurement(f, 45, false);
	assert_int_equal(f->rec.n_saved, 2);
	assert_int_equal(f->rec.saved[1], 45);
	assert_int_equal(f->rec.n_submitted, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(f->rec.submitted[i], 43 + i);
		assert_true(f->rec.submitted_stored[i]);
		assert_false(f->rec.submitted_ctx[i]);
	}
	/* The timer is restarted by every record. */
	assert_int_equal(f->rec.timer_starts, 4);
	respond(f, RACP_OP_REPORT_RECORDS, RACP_RSP_SUCCESS);
	assert_false(gls_racp_active(f->racp));
	assert_false(f->rec.timer_armed);
	assert_int_equal(f->rec.n_saved, 2);
}

static void test_single_record_saved_on_success(void **state)
{
	struct fixture *f = *state;
	uint16_t cur;

	assert_int_equal(gls_racp_start(f->racp), 0);
	measurement(f, 7, false);
	assert_int_equal(f->rec.n_saved, 0);
	respond(f, RACP_OP_REPORT_RECORDS, RACP_RSP_SUCCESS);
	assert_int_equal(f->rec.n_saved, 1);
	assert_int_equal(f->rec.saved[0], 7);
	assert_true(gls_racp_get_cursor(f->racp, &cur));
	assert_int_equal(cur, 7);
}

static void test_pairing_by_sequence(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(gls_racp_start(f->racp), 0);
	/* Measurement then its context: one record with context. */
	measurement(f, 1, true);
	assert_int_equal(f->rec.n_submitted, 0);
	context(f, 1);
	assert_int_equal(f->rec.n_submitted, 1);
	assert_true(f->rec.submitted_ctx[0]);
	/* Context announced but the next measurement comes first. */
	measurement(f, 2, true);
	measurement(f, 3, false);
	assert_int_equal(f->rec.n_submitted, 3);
	assert_int_equal(f->rec.submitted[1], 2);
	assert_false(f->rec.submitted_ctx[1]);
	assert_int_equal(f->rec.submitted[2], 3);
	/* Context for another sequence: the waiting one goes without it. */
	measurement(f, 4, true);
	context(f, 9);
	assert_int_equal(f->rec.n_submitted, 4);
	assert_int_equal(f->rec.submitted[3], 4);
	assert_false(f->rec.submitted_ctx[3]);
	assert_int_equal(f->rec.last_level, VARDE_LOG_WARNING);
	/* A context with nothing waiting is ignored. */
	context(f, 4);
	assert_int_equal(f->rec.n_submitted, 4);
	/* The response delivers a measurement still waiting. */
	measurement(f, 5, true);
	respond(f, RACP_OP_REPORT_RECORDS, RACP_RSP_SUCCESS);
	assert_int_equal(f->rec.n_submitted, 5);
	assert_int_equal(f->rec.submitted[4], 5);
	assert_true(f->rec.submitted_stored[4]);
	assert_int_equal(f->rec.saved[f->rec.n_saved - 1], 5);
}

static void test_reversed_quirk_saves_highest_at_end(void **state)
{
	struct fixture *f = *state;

	gls_racp_set_cursor(f->racp, 47);
	assert_int_equal(gls_racp_start(f->racp), 0);
	measurement(f, 50, false);
	measurement(f, 49, false);
	measurement(f, 48, false);
	assert_int_equal(f->rec.n_submitted, 3);
	assert_int_equal(f->rec.n_saved, 0);
	respond(f, RACP_OP_REPORT_RECORDS, RACP_RSP_SUCCESS);
	assert_int_equal(f->rec.n_saved, 1);
	assert_int_equal(f->rec.saved[0], 50);
}

static void test_reversed_interrupted_keeps_cursor(void **state)
{
	struct fixture *f = *state;
	static const uint8_t abort_op[] = {0x03, 0x00};

	gls_racp_set_cursor(f->racp, 47);
	assert_int_equal(gls_racp_start(f->racp), 0);
	measurement(f, 50, false);
	measurement(f, 49, false);
	gls_racp_timeout(f->racp);
	assert_last_write(f, abort_op, sizeof(abort_op));
	respond(f, RACP_OP_ABORT, RACP_RSP_SUCCESS);
	assert_false(gls_racp_active(f->racp));
	assert_int_equal(f->rec.n_saved, 0);
}

static void test_descending_order_detected(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(gls_racp_start(f->racp), 0);
	measurement(f, 30, false);
	measurement(f, 29, false);
	measurement(f, 28, false);
	assert_int_equal(f->rec.n_saved, 0);
	assert_int_equal(f->rec.last_level, VARDE_LOG_NOTICE);
	/* Interrupted: nothing saved, the next download asks again. */
	gls_racp_timeout(f->racp);
	gls_racp_timeout(f->racp);
	assert_false(gls_racp_active(f->racp));
	assert_int_equal(f->rec.n_saved, 0);
	/* A complete download then saves the highest. */
	assert_int_equal(gls_racp_start(f->racp), 0);
	measurement(f, 30, false);
	measurement(f, 29, false);
	respond(f, RACP_OP_REPORT_RECORDS, RACP_RSP_SUCCESS);
	assert_int_equal(f->rec.n_saved, 1);
	assert_int_equal(f->rec.saved[0], 30);
}

static void test_no_records_is_normal(void **state)
{
	struct fixture *f = *state;

	gls_racp_set_cursor(f->racp, 9);
	assert_int_equal(gls_racp_start(f->racp), 0);
	respond(f, RACP_OP_REPORT_RECORDS, RACP_RSP_NO_RECORDS);
	assert_false(gls_racp_active(f->racp));
	assert_false(f->rec.timer_armed);
	assert_int_equal(f->rec.n_saved, 0);
	assert_int_equal(f->rec.last_level, VARDE_LOG_INFO);
	assert_int_equal(f->rec.n_writes, 1);
}

static void test_error_response_logged_by_name(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(gls_racp_start(f->racp), 0);
	measurement(f, 3, false);
	respond(f, RACP_OP_REPORT_RECORDS, RACP_RSP_NOT_COMPLETED);
	assert_false(gls_racp_active(f->racp));
	assert_int_equal(f->rec.last_level, VARDE_LOG_ERR);
	assert_non_null(strstr(f->rec.last_log, "procedure not completed"));
	/* Not a complete download: the lone record does not move the cursor. */
	assert_int_equal(f->rec.n_saved, 0);
	assert_int_equal(f->rec.n_writes, 1);
}

static void test_filter_refused_retries_all(void **state)
{
	struct fixture *f = *state;
	static const uint8_t all[] = {0x01, 0x01};

	gls_racp_set_cursor(f->racp, 42);
	assert_int_equal(gls_racp_start(f->racp), 0);
	respond(f, RACP_OP_REPORT_RECORDS, RACP_RSP_OPERATOR_NOT_SUPPORTED);
	assert_int_equal(f->rec.n_writes, 2);
	assert_last_write(f, all, sizeof(all));
	assert_true(gls_racp_active(f->racp));
	/* Refused again: no endless loop. */
	respond(f, RACP_OP_REPORT_RECORDS, RACP_RSP_OPERATOR_NOT_SUPPORTED);
	assert_int_equal(f->rec.n_writes, 2);
	assert_false(gls_racp_active(f->racp));
}

static void test_timeout_aborts(void **state)
{
	struct fixture *f = *state;
	static const uint8_t abort_op[] = {0x03, 0x00};

	assert_int_equal(gls_racp_start(f->racp), 0);
	measurement(f, 1, true);
	gls_racp_timeout(f->racp);
	/* The waiting record is delivered, the abort written. */
	assert_int_equal(f->rec.n_submitted, 1);
	assert_last_write(f, abort_op, sizeof(abort_op));
	assert_true(gls_racp_active(f->racp));
	assert_true(f->rec.timer_armed);
	assert_int_equal(f->rec.last_level, VARDE_LOG_WARNING);
	/* A record still arriving after the abort is a stored record; it does
	 * not restart the abort's timer. */
	f->rec.timer_starts = 0;
	measurement(f, 2, false);
	assert_int_equal(f->rec.n_submitted, 2);
	assert_true(f->rec.submitted_stored[1]);
	assert_int_equal(f->rec.timer_starts, 0);
	/* No answer to the abort either: give up. */
	gls_racp_timeout(f->racp);
	assert_false(gls_racp_active(f->racp));
	assert_false(f->rec.timer_armed);
	assert_int_equal(f->rec.last_level, VARDE_LOG_ERR);
	/* A timeout while idle does nothing. */
	gls_racp_timeout(f->racp);
	assert_int_equal(f->rec.n_writes, 2);
}

static void test_timeout_abort_write_fails(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(gls_racp_start(f->racp), 0);
	f->rec.write_result = -ENOTCONN;
	gls_racp_timeout(f->racp);
	assert_false(gls_racp_active(f->racp));
	assert_false(f->rec.timer_armed);
}

static void test_write_completion_error_ends(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(gls_racp_start(f->racp), 0);
	gls_racp_write_done(f->racp, 0);
	assert_true(gls_racp_active(f->racp));
	gls_racp_write_done(f->racp, -EPROTO);
	assert_false(gls_racp_active(f->racp));
	assert_false(f->rec.timer_armed);
	assert_int_equal(f->rec.last_level, VARDE_LOG_ERR);
	/* A late completion while idle changes nothing. */
	gls_racp_write_done(f->racp, -EPROTO);
	assert_false(gls_racp_active(f->racp));
}

static void test_live_measurements(void **state)
{
	struct fixture *f = *state;

	/* No cursor: a live record must not hide older stored ones. */
	measurement(f, 10, false);
	assert_int_equal(f->rec.n_submitted, 1);
	assert_false(f->rec.submitted_stored[0]);
	assert_int_equal(f->rec.n_saved, 0);

	gls_racp_set_cursor(f->racp, 10);
	/* A gap: records 11..12 may still be in the meter. */
	measurement(f, 13, false);
	assert_int_equal(f->rec.n_saved, 0);
	/* The direct successor moves it. */
	measurement(f, 11, true);
	assert_int_equal(f->rec.n_submitted, 2);
	context(f, 11);
	assert_int_equal(f->rec.n_submitted, 3);
	assert_true(f->rec.submitted_ctx[2]);
	assert_false(f->rec.submitted_stored[2]);
	assert_int_equal(f->rec.n_saved, 1);
	assert_int_equal(f->rec.saved[0], 11);
	assert_false(f->rec.timer_armed);
}

static void test_flush_delivers_waiting_record(void **state)
{
	struct fixture *f = *state;

	measurement(f, 5, true);
	assert_int_equal(f->rec.n_submitted, 0);
	gls_racp_flush(f->racp);
	assert_int_equal(f->rec.n_submitted, 1);
	gls_racp_flush(f->racp);
	assert_int_equal(f->rec.n_submitted, 1);
}

static void test_undelivered_record_not_covered(void **state)
{
	struct fixture *f = *state;

	gls_racp_set_cursor(f->racp, 2);
	assert_int_equal(gls_racp_start(f->racp), 0);
	f->rec.fail_seq = 4;
	measurement(f, 3, false);
	measurement(f, 4, false);
	assert_int_equal(f->rec.last_level, VARDE_LOG_WARNING);
	respond(f, RACP_OP_REPORT_RECORDS, RACP_RSP_SUCCESS);
	assert_int_equal(f->rec.n_submitted, 1);
	assert_int_equal(f->rec.n_saved, 1);
	assert_int_equal(f->rec.saved[0], 3);
}

static void test_cursor_never_goes_back(void **state)
{
	struct fixture *f = *state;

	gls_racp_set_cursor(f->racp, 100);
	assert_int_equal(gls_racp_start(f->racp), 0);
	/* A meter that ignores the filter resends old records. */
	measurement(f, 5, false);
	measurement(f, 6, false);
	respond(f, RACP_OP_REPORT_RECORDS, RACP_RSP_SUCCESS);
	assert_int_equal(f->rec.n_submitted, 2);
	assert_int_equal(f->rec.n_saved, 0);
}

static void test_unexpected_indications(void **state)
{
	struct fixture *f = *state;
	const uint8_t count[] = {0x05, 0x00, 0x02, 0x01};
	const uint8_t junk[] = {0x06};

	/* Idle: a response is ignored. */
	respond(f, RACP_OP_REPORT_RECORDS, RACP_RSP_SUCCESS);
	assert_false(gls_racp_active(f->racp));
	assert_int_equal(gls_racp_indication(f->racp, junk, sizeof(junk)), -EBADMSG);

	assert_int_equal(gls_racp_start(f->racp), 0);
	assert_int_equal(gls_racp_indication(f->racp, count, sizeof(count)), 0);
	assert_true(gls_racp_active(f->racp));
	/* A response to another request does not end the download. */
	respond(f, RACP_OP_DELETE_RECORDS, RACP_RSP_SUCCESS);
	assert_true(gls_racp_active(f->racp));
	respond(f, RACP_OP_REPORT_RECORDS, RACP_RSP_SUCCESS);
	assert_false(gls_racp_active(f->racp));
}

static void test_free_null(void **state)
{
	(void)state;
	gls_racp_free(NULL);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_normal, teardown)
#define TR(fn) cmocka_unit_test_setup_teardown(fn, setup_reversed, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_racp_encode_vectors),
		cmocka_unit_test(test_racp_encode_short_buffer),
		cmocka_unit_test(test_racp_decode_vectors),
		cmocka_unit_test(test_racp_decode_rejects),
		cmocka_unit_test(test_racp_response_names),
		T(test_start_without_cursor_asks_all),
		T(test_start_with_cursor_asks_after_it),
		T(test_start_with_last_possible_cursor_asks_all),
		T(test_start_write_fails),
		T(test_ascending_download_moves_cursor),
		T(test_single_record_saved_on_success),
		T(test_pairing_by_sequence),
		TR(test_reversed_quirk_saves_highest_at_end),
		TR(test_reversed_interrupted_keeps_cursor),
		T(test_descending_order_detected),
		T(test_no_records_is_normal),
		T(test_error_response_logged_by_name),
		T(test_filter_refused_retries_all),
		T(test_timeout_aborts),
		T(test_timeout_abort_write_fails),
		T(test_write_completion_error_ends),
		T(test_live_measurements),
		T(test_flush_delivers_waiting_record),
		T(test_undelivered_record_not_covered),
		T(test_cursor_never_goes_back),
		T(test_unexpected_indications),
		cmocka_unit_test(test_free_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
