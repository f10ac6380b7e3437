// SPDX-License-Identifier: MIT
/*
 * Pulse Oximeter Service decoders (PLXS 1.0.1, GATT characteristics
 * 0x2A5E, 0x2A5F, 0x2A60).
 */
#include <errno.h>
#include <string.h>

#include <varde/ieee11073.h>

#include "plxs_decode.h"
#include "timestamp.h"

static bool get_pair(struct varde_cursor *c, struct varde_value *spo2, struct varde_value *pr)
{
	return varde_get_sfloat(c, spo2) && varde_get_sfloat(c, pr);
}

int plxs_spot_decode(const uint8_t *data, size_t len, struct plxs_spot *out)
{
	struct varde_cursor c = varde_cursor_init(data, len);
	struct plxs_spot m;

	memset(&m, 0, sizeof(m));
	if (!varde_get_u8(&c, &m.flags) || !get_pair(&c, &m.spo2, &m.pulse_rate))
		return -EBADMSG;
	if (m.flags & PLXS_SPOT_TIMESTAMP) {
		if (!timestamp_get(&c, &m.time, &m.has_time))
			return -EBADMSG;
		m.time_out_of_range = !m.has_time;
	}
	if ((m.flags & PLXS_SPOT_MEAS_STATUS) && !varde_get_le16(&c, &m.meas_status))
		return -EBADMSG;
	if ((m.flags & PLXS_SPOT_DEVICE_STATUS) && !varde_get_le24(&c, &m.device_status))
		return -EBADMSG;
	if (m.flags & PLXS_SPOT_PAI) {
		if (!varde_get_sfloat(&c, &m.pai))
			return -EBADMSG;
	} else {
		m.pai = varde_special_value(VARDE_VALUE_NAN);
	}
	*out = m;
	return 0;
}

int plxs_continuous_decode(const uint8_t *data, size_t len, struct plxs_continuous *out)
{
	struct varde_cursor c = varde_cursor_init(data, len);
	struct plxs_continuous m;
	const struct varde_value nan = varde_special_value(VARDE_VALUE_NAN);

	memset(&m, 0, sizeof(m));
	m.spo2_fast = m.pulse_rate_fast = m.spo2_slow = m.pulse_rate_slow = m.pai = nan;
	if (!varde_get_u8(&c, &m.flags) || !get_pair(&c, &m.spo2, &m.pulse_rate))
		return -EBADMSG;
	if ((m.flags & PLXS_CONT_FAST) && !get_pair(&c, &m.spo2_fast, &m.pulse_rate_fast))
		return -EBADMSG;
	if ((m.flags & PLXS_CONT_SLOW) && !get_pair(&c, &m.spo2_slow, &m.pulse_rate_slow))
		return -EBADMSG;
	if ((m.flags & PLXS_CONT_MEAS_STATUS) && !varde_get_le16(&c, &m.meas_status))
		return -EBADMSG;
	if ((m.flags & PLXS_CONT_DEVICE_STATUS) && !varde_get_le24(&c, &m.device_status))
		return -EBADMSG;
	if ((m.flags & PLXS_CONT_PAI) && !varde_get_sfloat(&c, &m.pai))
		return -EBADMSG;
	*out = m;
	return 0;
}

int plxs_features_decode(const uint8_t *data, size_t len, struct plxs_features *out)
{
	struct varde_cursor c = varde_cursor_init(data, len);
	struct plxs_features f;

	memset(&f, 0, sizeof(f));
	if (!varde_get_le16(&c, &f.features))
		return -EBADMSG;
	if ((f.features & PLXS_FEAT_MEAS_STATUS) && !varde_get_le16(&c, &f.meas_status_support))
		return -EBADMSG;
	if ((f.features & PLXS_FEAT_DEVICE_STATUS) && !varde_get_le24(&c, &f.device_status_support))
		return -EBADMSG;
	*out = f;
	return 0;
}

uint32_t plxs_status_map(uint16_t ms, uint32_t ds)
{
	uint32_t s = 0;

	/* Validated, fully qualified and from-storage carry no doubt; the
	 * latter is VARDE_READING_STORED (see plxs_spot_readings). */
	if (ms & (PLXS_MS_ONGOING | PLXS_MS_EARLY_ESTIMATE))
		s |= VARDE_STATUS_MEASUREMENT_ONGOING;
	if (ms & (PLXS_MS_DEMO | PLXS_MS_TESTING))
		s |= VARDE_STATUS_TEST_DATA;
	if (ms & PLXS_MS_CALIBRATION)
		s |= VARDE_STATUS_CALIBRATION_ONGOING;
	if (ms & PLXS_MS_QUESTIONABLE)
		s |= VARDE_STATUS_QUESTIONABLE;
	if (ms & (PLXS_MS_UNAVAILABLE | PLXS_MS_INVALID))
		s |= VARDE_STATUS_INVALID;

	/* Extended display update ongoing says nothing about the value. */
	if (ds &
	    (PLXS_DS_EQUIPMENT_MALFUNCTION | PLXS_DS_UNKNOWN_SENSOR | PLXS_DS_SENSOR_MALFUNCTION))
		s |= VARDE_STATUS_EQUIPMENT_FAULT;
	if (ds & (PLXS_DS_SIGNAL_IRREGULARITY | PLXS_DS_INADEQUATE_SIGNAL | PLXS_DS_POOR_SIGNAL |
		  PLXS_DS_ERRATIC_SIGNAL | PLXS_DS_NONPULSATILE | PLXS_DS_INTERFERENCE))
		s |= VARDE_STATUS_SIGNAL_ARTIFACT;
	if (ds & PLXS_DS_LOW_PERFUSION)
		s |= VARDE_STATUS_LOW_PERFUSION;
	if (ds & PLXS_DS_ANALYSIS_ONGOING)
		s |= VARDE_STATUS_MEASUREMENT_ONGOING;
	if (ds & (PLXS_DS_UNCONNECTED | PLXS_DS_DISPLACED | PLXS_DS_DISCONNECTED))
		s |= VARDE_STATUS_SENSOR_DISPLACED;
	return s;
}

uint32_t plxs_pulse_status_map(uint16_t ms, uint32_t ds)
{
	uint32_t s = plxs_status_map(ms, ds);

	if (ds & PLXS_DS_QUESTIONABLE_PULSE)
		s |= VARDE_STATUS_QUESTIONABLE;
	return s;
}

static void reading_init(struct varde_reading *r, uint32_t metric, uint32_t unit,
			 struct varde_value value, uint32_t status, uint32_t flags,
			 const struct varde_datetime *time)
{
	memset(r, 0, sizeof(*r));
	r->size = sizeof(*r);
	r->metric = metric;
	r->unit = unit;
	r->value = value;
	r->status = status;
	r->flags = flags;
	if (time) {
		r->flags |= VARDE_READING_HAS_TIME;
		r->time = *time;
	}
}

static size_t readings(struct varde_value spo2, struct varde_value pr, bool has_pai,
		       struct varde_value pai, uint16_t ms, uint32_t ds, uint32_t extra_status,
		       uint32_t flags, const struct varde_datetime *time,
		       struct varde_reading r[PLXS_MAX_READINGS])
{
	uint32_t status = plxs_status_map(ms, ds) | extra_status;
	size_t n = 0;

	reading_init(&r[n++], VARDE_METRIC_SPO2, VARDE_UNIT_PERCENT, spo2, status, flags, time);
	reading_init(&r[n++], VARDE_METRIC_PULSE_RATE_OXIMETER, VARDE_UNIT_PER_MIN, pr,
		     plxs_pulse_status_map(ms, ds) | extra_status, flags, time);
	if (has_pai)
		reading_init(&r[n++], VARDE_METRIC_PULSE_AMPLITUDE_INDEX, VARDE_UNIT_PERCENT, pai,
			     status, flags, time);
	return n;
}

size_t plxs_spot_readings(const struct plxs_spot *m, bool stored,
			  struct varde_reading r[PLXS_MAX_READINGS])
{
	const struct varde_datetime *time = m->has_time ? &m->time : NULL;
	uint32_t extra = 0;
	uint32_t flags = 0;

	/* A clock that is not set gives a time that is no time, and so does a
	 * time stamp out of range: the hub uses its receive time and the
	 * status says so (plugins/common/timestamp.h). */
	if ((m->flags & PLXS_SPOT_CLOCK_NOT_SET) || m->time_out_of_range) {
		extra |= VARDE_STATUS_DEVICE_CLOCK_NOT_SET;
		time = NULL;
	}
	if (stored || (m->meas_status & PLXS_MS_FROM_STORAGE))
		flags |= VARDE_READING_STORED;
	/* A stored record without a usable time cannot be placed: the
	 * receive time would show an old SpO2 as a current one. */
	if ((flags & VARDE_READING_STORED) && !time)
		return 0;
	return readings(m->spo2, m->pulse_rate, m->flags & PLXS_SPOT_PAI, m->pai, m->meas_status,
			m->device_status, extra, flags, time, r);
}

size_t plxs_continuous_readings(const struct plxs_continuous *m,
				struct varde_reading r[PLXS_MAX_READINGS])
{
	/* Continuous values are live: the receive time is their time. */
	return readings(m->spo2, m->pulse_rate, m->flags & PLXS_CONT_PAI, m->pai, m->meas_status,
			m->device_status, 0, 0, NULL, r);
}
