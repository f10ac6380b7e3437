// SPDX-License-Identifier: MIT
/*
 * Fuzz target for the Glucose Service plugin: the whole input through every
 * decoder and the reading builder, then the input as a script of device
 * events driving the record download state machine.
 *
 * Script: records of [event][length][payload...]; event % 8 selects
 * measurement, context, RACP indication, start, timeout, write completion,
 * flush or cursor; each payload is copied into an exact-size buffer so that
 * a read past it is caught by ASan.
 */
#include <stdlib.h>
#include <string.h>

#include "gls_decode.h"
#include "gls_quirks.h"
#include "gls_racp.h"
#include "racp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void build(const struct gls_measurement *m, const struct gls_context *x)
{
	struct varde_component comps[GLS_MAX_COMPONENTS];
	struct varde_reading r;

	if (gls_reading_build(m, x, true, &r, comps) == 0 &&
	    (r.n_components > GLS_MAX_COMPONENTS || r.metric == VARDE_METRIC_NONE ||
	     /* no usable time: kept, without time, flagged */
	     !!(r.flags & VARDE_READING_HAS_TIME) != m->has_time || r.site > VARDE_SITE_EARLOBE ||
	     (!m->has_time && !(r.status & VARDE_STATUS_DEVICE_CLOCK_NOT_SET))))
		abort();
}

static int op_write(const uint8_t *buf, size_t len, void *user_data)
{
	(void)user_data;
	if (!buf || len > RACP_REQUEST_MAX)
		abort();
	return 0;
}

static int op_submit(const struct gls_measurement *m, const struct gls_context *ctx, bool stored,
		     void *user_data)
{
	(void)stored;
	(void)user_data;
	build(m, ctx);
	return (m->sequence & 7) == 7 ? -22 : 0;
}

static void op_save(uint16_t sequence, void *user_data)
{
	(void)sequence;
	(void)user_data;
}

static int op_timer_start(uint32_t msec, void *user_data)
{
	(void)msec;
	(void)user_data;
	return 0;
}

static void op_timer_stop(void *user_data)
{
	(void)user_data;
}

static void VARDE_PRINTF(3, 4) op_log(void *user_data, int level, const char *fmt, ...)
{
	(void)user_data;
	(void)level;
	(void)fmt;
}

static const struct gls_racp_ops ops = {
	.write = op_write,
	.submit = op_submit,
	.save_cursor = op_save,
	.timer_start = op_timer_start,
	.timer_stop = op_timer_stop,
	.log = op_log,
};

static void decode_all(const uint8_t *data, size_t size)
{
	struct gls_measurement m;
	struct gls_context x;
	struct racp_indication ind;
	bool have_m = gls_measurement_decode(data, size, &m) == 0;
	bool have_x = gls_context_decode(data, size, &x) == 0;

	if (have_m)
		build(&m, have_x ? &x : NULL);
	racp_decode(data, size, &ind);
}

static void event(struct gls_racp *r, uint8_t ev, const uint8_t *p, size_t n)
{
	struct gls_measurement m;
	struct gls_context x;

	switch (ev % 8) {
	case 0:
		if (gls_measurement_decode(p, n, &m) == 0)
			gls_racp_measurement(r, &m);
		break;
	case 1:
		if (gls_context_decode(p, n, &x) == 0)
			gls_racp_context(r, &x);
		break;
	case 2:
		gls_racp_indication(r, p, n);
		break;
	case 3:
		gls_racp_start(r);
		break;
	case 4:
		gls_racp_timeout(r);
		break;
	case 5:
		gls_racp_write_done(r, n ? -71 : 0);
		break;
	case 6:
		gls_racp_flush(r);
		break;
	default:
		if (n >= 2)
			gls_racp_set_cursor(r, (uint16_t)(p[0] | p[1] << 8));
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gls_racp *r;
	size_t pos = 0;
	char name[65];

	decode_all(data, size);

	/* The quirk matcher with the input as name and as pattern list. */
	memcpy(name, data, size < 64 ? size : 64);
	name[size < 64 ? size : 64] = '\0';
	gls_quirk_newest_first(name, name);

	r = gls_racp_new(&ops, NULL, size && (data[0] & 0x80));
	if (!r)
		return 0;
	while (size - pos >= 2) {
		uint8_t ev = data[pos];
		size_t n = data[pos + 1];
		uint8_t *copy;

		pos += 2;
		if (n > size - pos)
			n = size - pos;
		copy = malloc(n ? n : 1);
		if (!copy)
			break;
		memcpy(copy, data + pos, n);
		event(r, ev, copy, n);
		free(copy);
		pos += n;
	}
	gls_racp_flush(r);
	gls_racp_free(r);
	return 0;
}
