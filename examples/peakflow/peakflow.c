/* SPDX-License-Identifier: MIT */
/*
 * Example vendor plugin: a lung-function meter (peak flow and FEV1) that
 * speaks the EXAMPLE GATT protocol of PROTOCOL.md. No Bluetooth SIG profile
 * covers spirometry, so a real meter has a vendor service of its own; this
 * file shows how such a plugin is written against the installed SDK alone
 * (pkg-config varde-plugin), without any part of the hub's source tree.
 *
 * Each Lung Function Measurement indication becomes one peak expiratory
 * flow reading and, when the frame carries it, one FEV1 reading: two
 * readings rather than one compound, because the hub publishes each as its
 * own FHIR Observation with its own code (MDC 152584 / LOINC 19935-6 and
 * MDC 152586 / LOINC 20150-9), and a care team trends them separately.
 *
 * A frame that does not decode is logged in hex and counted, never
 * submitted: a guessed value could reach a nurse as a measurement.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <varde/ieee11073.h>
#include <varde/plugin.h>

/* The EXAMPLE protocol's UUIDs (PROTOCOL.md). A real product has UUIDs of
 * its own, made once with uuidgen; never ship these. */
#define PF_SERVICE_UUID "7a1d0001-3c5e-4b8a-9f2d-6e4c1b0a5d77"
#define PF_MEASUREMENT_UUID "7a1d0002-3c5e-4b8a-9f2d-6e4c1b0a5d77"
#define PF_RECORD_COUNT_UUID "7a1d0003-3c5e-4b8a-9f2d-6e4c1b0a5d77"

/* Measurement Flags. Bits 5..7 are reserved: a newer meter may set them and
 * append fields after those below, so they are ignored, not refused. */
#define PF_FLAG_TIME 0x01
#define PF_FLAG_FEV1 0x02
#define PF_FLAG_USER 0x04
#define PF_FLAG_STATUS 0x08
#define PF_FLAG_STORED 0x10
#define PF_FLAGS_RESERVED 0xE0

/* Measurement Status bits; 4..7 reserved, ignored for the same reason. */
#define PF_STATUS_POOR_EFFORT 0x01
#define PF_STATUS_SENSOR_FAULT 0x02
#define PF_STATUS_BATTERY_LOW 0x04
#define PF_STATUS_CLOCK_NOT_SET 0x08
#define PF_STATUS_RESERVED 0xF0

/* Date Time is always 7 bytes, also when its fields are out of range. */
#define PF_DATETIME_LEN 7

/* A bad frame is logged with its first 24 bytes (varde_hex() cuts the rest
 * to "..."): more than the longest frame, and short enough for syslog. */
#define HEX_BUF (24 * 2 + sizeof("..."))

struct pf_measurement {
	struct varde_reading pef; /* peak expiratory flow, always present */
	struct varde_reading fev1; /* valid when has_fev1 */
	bool has_fev1;
	uint8_t flags; /* as received, reserved bits included */
	uint8_t status; /* as received, reserved bits included */
	bool time_out_of_range; /* time stamp dropped, clock flagged */
	size_t trailing; /* bytes after the last announced field */
};

struct pf_device {
	unsigned int malformed; /* frames dropped because they did not decode */
	bool extension_logged; /* newer-format frame already reported */
};

static struct varde_plugin_ctx *plugin_ctx;
static const struct varde_host *host;

static uint32_t pf_status_bits(uint8_t status)
{
	uint32_t out = 0;

	/* A cough or a blow that was not maximal gives a low value that is not
	 * the patient's lung function: never a deterioration alert. */
	if (status & PF_STATUS_POOR_EFFORT)
		out |= VARDE_STATUS_QUESTIONABLE;
	if (status & PF_STATUS_SENSOR_FAULT)
		out |= VARDE_STATUS_EQUIPMENT_FAULT;
	if (status & PF_STATUS_BATTERY_LOW)
		out |= VARDE_STATUS_BATTERY_LOW;
	/* The hub then ignores the device time and stamps the receive time. */
	if (status & PF_STATUS_CLOCK_NOT_SET)
		out |= VARDE_STATUS_DEVICE_CLOCK_NOT_SET;
	return out;
}

/*
 * Decodes a Lung Function Measurement (PROTOCOL.md). Returns 0, or -EBADMSG
 * when the frame is shorter than its flags announce. Pure: no host calls,
 * and every byte read through the cursor, so a short frame is never read
 * past its end.
 */
static int pf_decode(const uint8_t *data, size_t len, struct pf_measurement *out)
{
	struct varde_cursor c = varde_cursor_init(data, len);
	struct varde_reading r = VARDE_READING_INIT;
	struct varde_value pef = {0}, fev1 = {0};
	uint8_t flags, user = 0, status = 0;

	memset(out, 0, sizeof(*out));

	if (!varde_get_u8(&c, &flags) || !varde_get_sfloat(&c, &pef))
		return -EBADMSG;
	if ((flags & PF_FLAG_FEV1) && !varde_get_sfloat(&c, &fev1))
		return -EBADMSG;
	if (flags & PF_FLAG_TIME) {
		if (varde_get_datetime(&c, &r.time)) {
			r.flags |= VARDE_READING_HAS_TIME;
		} else if (varde_skip(&c, PF_DATETIME_LEN)) {
			/* Month 13 or hour 24 is no time, but the flow was
			 * measured: kept, stamped by the hub and flagged,
			 * like the first-party plugins do. */
			memset(&r.time, 0, sizeof(r.time));
			r.status |= VARDE_STATUS_DEVICE_CLOCK_NOT_SET;
			out->time_out_of_range = true;
		} else {
			return -EBADMSG;
		}
	}
	if (flags & PF_FLAG_USER) {
		if (!varde_get_u8(&c, &user))
			return -EBADMSG;
		/* 255 is "unknown user", as VARDE_USER_UNKNOWN: the hub then
		 * quarantines the reading instead of guessing the patient. */
		r.flags |= VARDE_READING_HAS_USER;
		r.user_id = user;
	}
	if (flags & PF_FLAG_STATUS) {
		if (!varde_get_u8(&c, &status))
			return -EBADMSG;
		r.status |= pf_status_bits(status);
	}
	if (flags & PF_FLAG_STORED)
		r.flags |= VARDE_READING_STORED;

	out->pef = r;
	out->pef.metric = VARDE_METRIC_PEAK_EXPIRATORY_FLOW;
	out->pef.unit = VARDE_UNIT_L_PER_MIN;
	out->pef.value = pef;
	if (flags & PF_FLAG_FEV1) {
		out->has_fev1 = true;
		out->fev1 = r;
		out->fev1.metric = VARDE_METRIC_FEV1;
		out->fev1.unit = VARDE_UNIT_L;
		out->fev1.value = fev1;
	}
	out->flags = flags;
	out->status = status;
	out->trailing = varde_cursor_left(&c);
	return 0;
}

static void submit(struct varde_device *dev, const struct varde_reading *r, const char *what)
{
	int err = host->submit(dev, r);

	if (err < 0)
		host->log(plugin_ctx, dev, VARDE_LOG_ERR, "%s reading refused: %s", what,
			  strerror(-err));
}

static void measurement_notify(struct varde_device *dev, const uint8_t *data, size_t len,
			       void *user_data)
{
	struct pf_device *pdev = host->get_data(dev);
	struct pf_measurement m;
	char hex[HEX_BUF];

	(void)user_data;

	if (pf_decode(data, len, &m) < 0) {
		pdev->malformed++;
		varde_hex(data, len, hex, sizeof(hex));
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "malformed Lung Function Measurement dropped (%zu bytes: %s), %u so far",
			  len, hex, pdev->malformed);
		return;
	}

	if (m.time_out_of_range) {
		varde_hex(data, len, hex, sizeof(hex));
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING,
			  "Lung Function Measurement time stamp out of range (%zu bytes: %s): "
			  "kept without device time",
			  len, hex);
	}

	/* Known fields keep their place in a newer format: decode them, and
	 * tell the technician once that the meter sends more than we know. */
	if ((m.trailing || (m.flags & PF_FLAGS_RESERVED) || (m.status & PF_STATUS_RESERVED)) &&
	    !pdev->extension_logged) {
		pdev->extension_logged = true;
		host->log(plugin_ctx, dev, VARDE_LOG_NOTICE,
			  "Lung Function Measurement flags 0x%02x, status 0x%02x, %zu unknown "
			  "trailing bytes: reserved bits and extra bytes ignored",
			  m.flags, m.status, m.trailing);
	}

	submit(dev, &m.pef, "peak flow");
	if (m.has_fev1)
		submit(dev, &m.fev1, "FEV1");
}

static void subscribe_done(struct varde_device *dev, int err, const uint8_t *data, size_t len,
			   void *user_data)
{
	(void)data;
	(void)len;
	(void)user_data;

	if (err < 0)
		host->log(plugin_ctx, dev, VARDE_LOG_ERR,
			  "cannot enable Lung Function Measurement indications: %s",
			  strerror(-err));
}

/* Only for the log: how many stored measurements the meter is about to
 * send tells a technician, after a long time without a hub, that the
 * readings coming now are old ones. */
static void record_count_done(struct varde_device *dev, int err, const uint8_t *data, size_t len,
			      void *user_data)
{
	struct varde_cursor c = varde_cursor_init(data, len);
	uint16_t count;

	(void)user_data;

	if (err < 0)
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING, "cannot read Record Count: %s",
			  strerror(-err));
	else if (!varde_get_le16(&c, &count))
		host->log(plugin_ctx, dev, VARDE_LOG_WARNING, "Record Count of %zu bytes ignored",
			  len);
	else
		host->log(plugin_ctx, dev, VARDE_LOG_INFO, "%u stored measurements to send", count);
}

static int pf_probe(struct varde_device *dev)
{
	struct pf_device *pdev;
	int props, id;

	props = host->char_props(dev, PF_MEASUREMENT_UUID);
	if (props < 0 || !(props & VARDE_CHAR_INDICATE)) {
		host->log(plugin_ctx, dev, VARDE_LOG_ERR,
			  "no Lung Function Measurement characteristic with indications");
		return props < 0 ? props : -ENOTSUP;
	}

	pdev = calloc(1, sizeof(*pdev));
	if (!pdev)
		return -ENOMEM;
	/* Before subscribing: a stored measurement may be delivered as soon
	 * as indications are on, and its callback needs the device data. */
	host->set_data(dev, pdev);

	id = host->subscribe(dev, PF_MEASUREMENT_UUID, measurement_notify, subscribe_done, NULL,
			     NULL);
	if (id < 0) {
		host->log(plugin_ctx, dev, VARDE_LOG_ERR,
			  "cannot subscribe to Lung Function Measurement: %s", strerror(-id));
		host->set_data(dev, NULL);
		free(pdev);
		return id;
	}

	/* Optional: older meters of the example protocol do not have it. */
	props = host->char_props(dev, PF_RECORD_COUNT_UUID);
	if (props >= 0 && (props & VARDE_CHAR_READ))
		host->read(dev, PF_RECORD_COUNT_UUID, record_count_done, NULL, NULL);
	return 0;
}

static void pf_remove(struct varde_device *dev)
{
	struct pf_device *pdev = host->get_data(dev);

	if (pdev && pdev->malformed)
		host->log(plugin_ctx, dev, VARDE_LOG_NOTICE,
			  "%u malformed measurements dropped while connected", pdev->malformed);
	free(pdev);
	host->set_data(dev, NULL);
}

static int pf_init(struct varde_plugin_ctx *ctx, const struct varde_host *h,
		   const struct varde_option *options, size_t n_options)
{
	(void)options;
	(void)n_options;

	/* get_data is the last member this plugin calls: an older hub with a
	 * shorter table is refused here, not crashed into later. */
	if (!VARDE_HOST_HAS(h, get_data))
		return -ENOTSUP;
	plugin_ctx = ctx;
	host = h;
	return 0;
}

static void pf_exit(struct varde_plugin_ctx *ctx)
{
	(void)ctx;

	plugin_ctx = NULL;
	host = NULL;
}

static const struct varde_driver pf_driver = {
	.size = sizeof(struct varde_driver),
	.name = "peakflow",
	.service_uuid = PF_SERVICE_UUID,
	/* The service UUID is the vendor's own: no name pattern needed. */
	.name_pattern = NULL,
	.probe = pf_probe,
	.remove = pf_remove,
};

static const struct varde_driver *const pf_drivers[] = {&pf_driver, NULL};

VARDE_PLUGIN_DEFINE = {
	.abi_major = VARDE_PLUGIN_ABI_MAJOR,
	.abi_minor = VARDE_PLUGIN_ABI_MINOR,
	.size = sizeof(struct varde_plugin),
	.name = "peakflow",
	.version = PEAKFLOW_VERSION,
	.vendor = "varde example",
	.description = "Example lung-function meter (peak flow, FEV1), EXAMPLE vendor protocol",
	.init = pf_init,
	.exit = pf_exit,
	.drivers = pf_drivers,
};
