// SPDX-License-Identifier: MIT
/*
 * Glucose Service decoders (Glucose Service 1.0.1, sections 3.106 and 3.107
 * of the GATT characteristic definitions).
 */
#include <errno.h>
#include <string.h>

#include <varde/ieee11073.h>

#include "gls_decode.h"
#include "timestamp.h"

int gls_measurement_decode(const uint8_t *data, size_t len, struct gls_measurement *out)
{
	struct varde_cursor c = varde_cursor_init(data, len);
	struct gls_measurement m;
	uint16_t offset = 0;
	uint8_t type_location;
	bool time_ok;

	memset(&m, 0, sizeof(m));
	if (!varde_get_u8(&c, &m.flags) || !varde_get_le16(&c, &m.sequence) ||
	    !timestamp_get(&c, &m.time, &time_ok))
		return -EBADMSG;
	if ((m.flags & GLS_MEAS_TIME_OFFSET) && !varde_get_le16(&c, &offset))
		return -EBADMSG;
	m.time_offset = (int16_t)offset;
	m.unit = (m.flags & GLS_MEAS_UNIT_MOL_PER_L) ? VARDE_UNIT_MOL_PER_L : VARDE_UNIT_KG_PER_L;
	if (m.flags & GLS_MEAS_CONCENTRATION) {
		if (!varde_get_sfloat(&c, &m.concentration) || !varde_get_u8(&c, &type_location))
			return -EBADMSG;
		m.type = type_location & 0x0f;
		m.location = type_location >> 4;
	} else {
		m.concentration = varde_special_value(VARDE_VALUE_NAN);
	}
	if ((m.flags & GLS_MEAS_STATUS) && !varde_get_le16(&c, &m.annunciation))
		return -EBADMSG;
	m.time_out_of_range = !time_ok;

	/* An offset moves a complete date; with an unknown date (year, month
	 * or day 0) the corrected time cannot be known. */
	if (time_ok && m.time_offset != 0)
		time_ok = varde_datetime_add_minutes(&m.time, m.time_offset);
	m.has_time = time_ok;
	if (!time_ok)
		memset(&m.time, 0, sizeof(m.time));
	*out = m;
	return 0;
}

int gls_context_decode(const uint8_t *data, size_t len, struct gls_context *out)
{
	struct varde_cursor c = varde_cursor_init(data, len);
	struct gls_context x;
	uint8_t tester_health;

	memset(&x, 0, sizeof(x));
	if (!varde_get_u8(&c, &x.flags) || !varde_get_le16(&c, &x.sequence))
		return -EBADMSG;
	/* The extended flags byte comes right after the sequence number. */
	if ((x.flags & GLS_CTX_EXTENDED_FLAGS) && !varde_get_u8(&c, &x.extended_flags))
		return -EBADMSG;
	if ((x.flags & GLS_CTX_CARBOHYDRATE) &&
	    (!varde_get_u8(&c, &x.carbohydrate_id) || !varde_get_sfloat(&c, &x.carbohydrate)))
		return -EBADMSG;
	if ((x.flags & GLS_CTX_MEAL) && !varde_get_u8(&c, &x.meal))
		return -EBADMSG;
	if (x.flags & GLS_CTX_TESTER_HEALTH) {
		if (!varde_get_u8(&c, &tester_health))
			return -EBADMSG;
		x.tester = tester_health & 0x0f;
		x.health = tester_health >> 4;
	}
	if ((x.flags & GLS_CTX_EXERCISE) &&
	    (!varde_get_le16(&c, &x.exercise_duration) || !varde_get_u8(&c, &x.exercise_intensity)))
		return -EBADMSG;
	if ((x.flags & GLS_CTX_MEDICATION) &&
	    (!varde_get_u8(&c, &x.medication_id) || !varde_get_sfloat(&c, &x.medication)))
		return -EBADMSG;
	if ((x.flags & GLS_CTX_HBA1C) && !varde_get_sfloat(&c, &x.hba1c))
		return -EBADMSG;
	*out = x;
	return 0;
}

uint32_t gls_status_from_annunciation(uint16_t a)
{
	uint32_t s = 0;

	if (a & GLS_ST_BATTERY_LOW)
		s |= VARDE_STATUS_BATTERY_LOW;
	if (a & (GLS_ST_SENSOR_MALFUNCTION | GLS_ST_DEVICE_FAULT))
		s |= VARDE_STATUS_EQUIPMENT_FAULT;
	/* A strip pulled too soon (read interrupted) is a strip handling error
	 * like the sample size and insertion errors. */
	if (a & (GLS_ST_SAMPLE_SIZE | GLS_ST_STRIP_INSERTION | GLS_ST_STRIP_TYPE |
		 GLS_ST_READ_INTERRUPTED))
		s |= VARDE_STATUS_STRIP_ERROR;
	/* Bit 5 is higher, bit 6 lower: one public library swaps them. */
	if (a & GLS_ST_RESULT_TOO_HIGH)
		s |= VARDE_STATUS_RESULT_TOO_HIGH;
	if (a & GLS_ST_RESULT_TOO_LOW)
		s |= VARDE_STATUS_RESULT_TOO_LOW;
	if (a & (GLS_ST_TEMP_TOO_HIGH | GLS_ST_TEMP_TOO_LOW))
		s |= VARDE_STATUS_TEMPERATURE_OUT_OF_RANGE;
	/* "Time fault, time may be inaccurate": the hub then uses and flags
	 * its receive time, as for a clock that is not set. */
	if (a & GLS_ST_TIME_FAULT)
		s |= VARDE_STATUS_DEVICE_CLOCK_NOT_SET;
	return s;
}

uint32_t gls_metric_from_type(uint8_t type)
{
	static const uint32_t metrics[] = {
		[1] = VARDE_METRIC_GLUCOSE_CAPILLARY_WHOLE_BLOOD,
		[2] = VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA,
		[3] = VARDE_METRIC_GLUCOSE_VENOUS_WHOLE_BLOOD,
		[4] = VARDE_METRIC_GLUCOSE_VENOUS_PLASMA,
		[5] = VARDE_METRIC_GLUCOSE_ARTERIAL_WHOLE_BLOOD,
		[6] = VARDE_METRIC_GLUCOSE_ARTERIAL_PLASMA,
		[7] = VARDE_METRIC_GLUCOSE_UNDETERMINED_WHOLE_BLOOD,
		[8] = VARDE_METRIC_GLUCOSE_UNDETERMINED_PLASMA,
		[9] = VARDE_METRIC_GLUCOSE_ISF,
		[GLS_TYPE_CONTROL_SOLUTION] = VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION,
	};

	if (type >= sizeof(metrics) / sizeof(metrics[0]))
		return VARDE_METRIC_NONE;
	return metrics[type];
}

uint32_t gls_site_from_location(uint8_t location)
{
	/* Sample Location codes; 0, 5..14 are reserved, 15 is "not
	 * available". */
	static const uint32_t sites[] = {
		[1] = VARDE_SITE_FINGER,
		[2] = VARDE_SITE_ALTERNATE, /* alternate site test (AST) */
		[3] = VARDE_SITE_EARLOBE,
		[4] = VARDE_SITE_NONE, /* control solution: no body site */
	};

	if (location >= sizeof(sites) / sizeof(sites[0]))
		return VARDE_SITE_NONE;
	return sites[location];
}

/*
 * A unit change by a power of ten is exact on mantissa/exponent: the
 * device's digits are kept. SFLOAT exponents are -8..7, so the shifted
 * exponent always fits. Special values stay special.
 */
static struct varde_value scale(struct varde_value v, int8_t shift)
{
	if (v.special == VARDE_VALUE_NUMBER)
		v.exponent = (int8_t)(v.exponent + shift);
	return v;
}

static void add_component(struct varde_reading *r, struct varde_component *comps, uint32_t metric,
			  uint32_t unit, struct varde_value value)
{
	struct varde_component *x = &comps[r->n_components++];

	x->metric = metric;
	x->unit = unit;
	x->value = value;
}

static void add_code(struct varde_reading *r, struct varde_component *comps, uint32_t metric,
		     uint32_t code)
{
	add_component(r, comps, metric, VARDE_UNIT_CODE, varde_value_make((int32_t)code, 0));
}

/*
 * Context units: the spec gives carbohydrate in kg and medication in kg or
 * L; devices and apps show grams, milligrams and millilitres. Converted by
 * an exact exponent shift to VARDE_UNIT_G, VARDE_UNIT_MG and VARDE_UNIT_ML,
 * the units a nurse reads.
 */
static void add_context(struct varde_reading *r, struct varde_component *comps,
			const struct gls_context *x)
{
	if (x->flags & GLS_CTX_CARBOHYDRATE) {
		add_code(r, comps, VARDE_METRIC_CONTEXT_CARBOHYDRATE_ID, x->carbohydrate_id);
		add_component(r, comps, VARDE_METRIC_CONTEXT_CARBOHYDRATE, VARDE_UNIT_G,
			      scale(x->carbohydrate, 3));
	}
	if (x->flags & GLS_CTX_MEAL)
		add_code(r, comps, VARDE_METRIC_CONTEXT_MEAL, x->meal);
	if (x->flags & GLS_CTX_TESTER_HEALTH) {
		add_code(r, comps, VARDE_METRIC_CONTEXT_TESTER, x->tester);
		add_code(r, comps, VARDE_METRIC_CONTEXT_HEALTH, x->health);
	}
	if (x->flags & GLS_CTX_EXERCISE) {
		/* 0xFFFF is "overrun": longer than the field can say. */
		struct varde_value duration = x->exercise_duration == 0xffff
						      ? varde_special_value(VARDE_VALUE_PINF)
						      : varde_value_make(x->exercise_duration, 0);

		add_component(r, comps, VARDE_METRIC_CONTEXT_EXERCISE_DURATION, VARDE_UNIT_S,
			      duration);
		add_component(r, comps, VARDE_METRIC_CONTEXT_EXERCISE_INTENSITY, VARDE_UNIT_PERCENT,
			      varde_value_make(x->exercise_intensity, 0));
	}
	if (x->flags & GLS_CTX_MEDICATION) {
		add_code(r, comps, VARDE_METRIC_CONTEXT_MEDICATION_ID, x->medication_id);
		if (x->flags & GLS_CTX_MEDICATION_LITRES)
			add_component(r, comps, VARDE_METRIC_CONTEXT_MEDICATION, VARDE_UNIT_ML,
				      scale(x->medication, 3));
		else
			add_component(r, comps, VARDE_METRIC_CONTEXT_MEDICATION, VARDE_UNIT_MG,
				      scale(x->medication, 6));
	}
	if (x->flags & GLS_CTX_HBA1C)
		add_component(r, comps, VARDE_METRIC_HBA1C, VARDE_UNIT_PERCENT, x->hba1c);
}

int gls_reading_build(const struct gls_measurement *m, const struct gls_context *ctx, bool stored,
		      struct varde_reading *r, struct varde_component *components)
{
	uint32_t status =
		(m->flags & GLS_MEAS_STATUS) ? gls_status_from_annunciation(m->annunciation) : 0;
	uint32_t metric = VARDE_METRIC_NONE;

	if (m->flags & GLS_MEAS_CONCENTRATION)
		metric = gls_metric_from_type(m->type);
	if (metric == VARDE_METRIC_NONE) {
		/* No value or no known sample type: nothing to publish, except
		 * a result beyond the device's range, which is urgent whatever
		 * the sample was: publish it as glucose of undetermined type,
		 * with the device's value (NaN when it sent none). */
		if (!(status & (VARDE_STATUS_RESULT_TOO_HIGH | VARDE_STATUS_RESULT_TOO_LOW)))
			return -ENODATA;
		metric = VARDE_METRIC_GLUCOSE_UNDETERMINED_PLASMA;
	}
	if (metric == VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION)
		status |= VARDE_STATUS_CONTROL_SOLUTION;

	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->metric = metric;
	r->unit = m->unit;
	/* As the device sent it, also beyond its range (its limit or ±INF):
	 * the status bit says what the number means. */
	r->value = m->concentration;
	r->status = status;
	if (m->flags & GLS_MEAS_CONCENTRATION)
		r->site = gls_site_from_location(m->location);
	r->flags = VARDE_READING_HAS_SEQUENCE | (stored ? VARDE_READING_STORED : 0);
	r->sequence = m->sequence;
	/* A record keeps its value and sequence number when its time is not
	 * usable: the hub stamps it with its receive time and flags that
	 * (plugins/common/timestamp.h). */
	if (m->has_time) {
		r->flags |= VARDE_READING_HAS_TIME;
		r->time = m->time;
	} else {
		r->status |= VARDE_STATUS_DEVICE_CLOCK_NOT_SET;
	}
	r->components = components;
	if (ctx)
		add_context(r, components, ctx);
	if (!r->n_components)
		r->components = NULL;
	return 0;
}
