/* SPDX-License-Identifier: MIT */
/*
 * varde plugin ABI, version 1.
 *
 * This is the only header a device vendor needs. A plugin is a shared
 * object that exports exactly one symbol, VARDE_PLUGIN_SYMBOL, a
 * `const struct varde_plugin`. It never links against the hub: everything
 * it may ask of the hub is in the `struct varde_host` table handed to init().
 *
 * Contract
 * --------
 * Threading: the hub has one thread and one event loop. Every plugin entry
 * point (init, exit, probe, remove, and every callback) is called on that
 * thread, never re-entrantly from inside a host call: a completion is always
 * delivered from a later loop iteration, even when the operation fails at
 * once. A plugin must not block (no sleeping, no blocking I/O) and must not
 * create threads that call the host.
 *
 * Memory: the host never frees plugin memory except by calling a `destroy`
 * function the plugin supplied. Everything the host passes to a callback
 * (byte buffers, strings, identity) is borrowed for the duration of that
 * call only; copy what you keep. Everything a plugin passes to the host
 * (readings, their components, written bytes, strings) is copied before the
 * call returns.
 *
 * Asynchronous calls: operations that talk to the device take a completion
 * callback, a `user_data` and a `destroy`. They return a positive operation
 * id, or a negative errno when the request could not even be queued (then
 * neither the callback nor destroy is called). Otherwise the callback is
 * called exactly once with 0 or a negative errno, and destroy (if not NULL)
 * is called once after it. Device errors arrive as negative errno:
 * -ENOTCONN (link lost), -ETIMEDOUT, -ENOENT (no such characteristic),
 * -EACCES (ATT insufficient authentication/authorisation), -EPROTO (other
 * ATT error), -ECANCELED (cancelled by the plugin).
 *
 * Device lifetime: a `struct varde_device` is valid from probe() until
 * remove() returns. Before remove() is called the host cancels every
 * operation, subscription and timer of the device: their callbacks are not
 * called any more, their destroy functions are. A device handle is never
 * reused for another device while the plugin may still hold it.
 *
 * Building: compile with -fvisibility=hidden (CMake: C_VISIBILITY_PRESET
 * hidden) so that the descriptor, which VARDE_PLUGIN_DEFINE exports, is the
 * only symbol the plugin exports; `pkg-config --cflags varde-plugin` gives
 * the include path. A plugin links against nothing of the hub.
 *
 * Compatibility: the symbol name carries the ABI major; a new major is a new
 * symbol, so an old hub never misreads a new plugin. Within a major, structs
 * only grow at the end and every table starts with its size: a plugin built
 * against a newer minor checks `host->size` (VARDE_HOST_HAS) before calling
 * a member the host may not have, and the host reads from a plugin struct
 * only the fields its `size` covers. Reserved fields must be zero/NULL: the
 * loader refuses a plugin that sets them, so that they can get a meaning
 * later without misreading old plugins. Enum values are never renumbered.
 *
 * Only plain C types cross this boundary, so that the hub may later run a
 * plugin in a separate sandboxed process without any change to its code.
 */
#ifndef VARDE_PLUGIN_H
#define VARDE_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VARDE_PLUGIN_ABI_MAJOR 1
#define VARDE_PLUGIN_ABI_MINOR 0
#define VARDE_PLUGIN_SYMBOL "varde_plugin_v1"

#if defined(__GNUC__)
#define VARDE_EXPORT __attribute__((visibility("default")))
#define VARDE_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define VARDE_EXPORT
#define VARDE_PRINTF(fmt, args)
#endif

/* True when a table of this `size` contains `member`. */
#define VARDE_HAS_MEMBER(table, type, member) \
	((table)->size >= offsetof(type, member) + sizeof(((type *)0)->member))
#define VARDE_HOST_HAS(host, member) VARDE_HAS_MEMBER(host, struct varde_host, member)

/* ---- values ------------------------------------------------------------ */

/*
 * A measured value keeps the device's precision: value = mantissa *
 * 10^exponent, exactly as IEEE 11073-20601 SFLOAT/FLOAT carry it. A special
 * value has no number: mantissa and exponent are then 0 and must be ignored.
 */
enum varde_special {
	VARDE_VALUE_NUMBER = 0,
	VARDE_VALUE_NAN = 1, /* not a number (also the reserved encodings) */
	VARDE_VALUE_NRES = 2, /* not at this resolution */
	VARDE_VALUE_PINF = 3, /* +infinity: above the device's range */
	VARDE_VALUE_NINF = 4, /* -infinity: below the device's range */
};

struct varde_value {
	int32_t mantissa;
	int8_t exponent;
	uint8_t special; /* enum varde_special */
	uint8_t reserved[2];
};

/*
 * Metric ids. The hub's metric table maps each one to its MDC code, LOINC
 * code and UCUM unit; a plugin only names the metric and the unit the
 * device reported. Values are stable and only ever appended.
 */
enum varde_metric {
	VARDE_METRIC_NONE = 0,
	/* Blood pressure: a compound reading of the three components below. */
	VARDE_METRIC_BLOOD_PRESSURE = 1,
	VARDE_METRIC_BP_SYSTOLIC = 2,
	VARDE_METRIC_BP_DIASTOLIC = 3,
	VARDE_METRIC_BP_MEAN = 4,
	VARDE_METRIC_PULSE_RATE = 5, /* from a cuff or any non-oximeter source */
	VARDE_METRIC_SPO2 = 6,
	VARDE_METRIC_PULSE_RATE_OXIMETER = 7,
	VARDE_METRIC_PULSE_AMPLITUDE_INDEX = 8,
	VARDE_METRIC_BODY_TEMPERATURE = 9,
	VARDE_METRIC_BODY_WEIGHT = 10,
	VARDE_METRIC_BODY_HEIGHT = 11,
	VARDE_METRIC_BMI = 12,
	/* Glucose, one metric per sample type (Glucose Service type field). */
	VARDE_METRIC_GLUCOSE_CAPILLARY_WHOLE_BLOOD = 20,
	VARDE_METRIC_GLUCOSE_CAPILLARY_PLASMA = 21,
	VARDE_METRIC_GLUCOSE_VENOUS_WHOLE_BLOOD = 22,
	VARDE_METRIC_GLUCOSE_VENOUS_PLASMA = 23,
	VARDE_METRIC_GLUCOSE_ARTERIAL_WHOLE_BLOOD = 24,
	VARDE_METRIC_GLUCOSE_ARTERIAL_PLASMA = 25,
	VARDE_METRIC_GLUCOSE_UNDETERMINED_WHOLE_BLOOD = 26,
	VARDE_METRIC_GLUCOSE_UNDETERMINED_PLASMA = 27,
	VARDE_METRIC_GLUCOSE_ISF = 28,
	/* A control-solution test: never the patient's glucose. */
	VARDE_METRIC_GLUCOSE_CONTROL_SOLUTION = 29,
	VARDE_METRIC_HBA1C = 30,
	/* Glucose measurement context, carried as components. Coded fields
	 * (meal, tester, health, carbohydrate id, medication id) hold the
	 * Glucose Service code as mantissa with exponent 0 and VARDE_UNIT_CODE. */
	VARDE_METRIC_CONTEXT_MEAL = 31,
	VARDE_METRIC_CONTEXT_TESTER = 32,
	VARDE_METRIC_CONTEXT_HEALTH = 33,
	VARDE_METRIC_CONTEXT_CARBOHYDRATE_ID = 34,
	VARDE_METRIC_CONTEXT_CARBOHYDRATE = 35,
	VARDE_METRIC_CONTEXT_EXERCISE_DURATION = 36,
	VARDE_METRIC_CONTEXT_EXERCISE_INTENSITY = 37,
	VARDE_METRIC_CONTEXT_MEDICATION_ID = 38,
	VARDE_METRIC_CONTEXT_MEDICATION = 39,
	/* Lung function. */
	VARDE_METRIC_PEAK_EXPIRATORY_FLOW = 40,
	VARDE_METRIC_FEV1 = 41,
	/* Device health. */
	VARDE_METRIC_BATTERY_LEVEL = 50,
};

/* Where on the body, or from what sample, a value was measured. Codes of
 * the Health Thermometer temperature type and the Glucose sample location,
 * mapped to one list. */
enum varde_site {
	VARDE_SITE_NONE = 0, /* not reported */
	VARDE_SITE_ARMPIT = 1,
	VARDE_SITE_BODY = 2, /* body, general */
	VARDE_SITE_EAR = 3, /* ear, usually earlobe */
	VARDE_SITE_FINGER = 4,
	VARDE_SITE_GI_TRACT = 5,
	VARDE_SITE_MOUTH = 6,
	VARDE_SITE_RECTUM = 7,
	VARDE_SITE_TOE = 8,
	VARDE_SITE_TYMPANUM = 9, /* ear drum */
	VARDE_SITE_ALTERNATE = 10, /* glucose: alternate site test (arm, palm) */
	VARDE_SITE_EARLOBE = 11,
};

/* Units as the device reported them; the hub converts where it must. */
enum varde_unit {
	VARDE_UNIT_NONE = 0,
	VARDE_UNIT_CODE = 1, /* a coded value, not a quantity */
	VARDE_UNIT_MMHG = 2,
	VARDE_UNIT_KPA = 3,
	VARDE_UNIT_PER_MIN = 4, /* beats per minute */
	VARDE_UNIT_PERCENT = 5,
	VARDE_UNIT_CELSIUS = 6,
	VARDE_UNIT_FAHRENHEIT = 7,
	VARDE_UNIT_KG = 8,
	VARDE_UNIT_LB = 9,
	VARDE_UNIT_M = 10,
	VARDE_UNIT_INCH = 11,
	VARDE_UNIT_KG_PER_M2 = 12,
	VARDE_UNIT_KG_PER_L = 13,
	VARDE_UNIT_MOL_PER_L = 14,
	VARDE_UNIT_MG_PER_DL = 15,
	VARDE_UNIT_MMOL_PER_L = 16,
	VARDE_UNIT_L_PER_MIN = 17,
	VARDE_UNIT_L = 18,
	VARDE_UNIT_G = 19,
	VARDE_UNIT_S = 20,
	VARDE_UNIT_MG = 21, /* medication mass (the Glucose Service sends kg) */
	VARDE_UNIT_ML = 22, /* medication volume (the Glucose Service sends L) */
};

/*
 * Measurement status, normalised across profiles. A reading with any of the
 * quality bits set never raises a clinical alert on its own.
 */
enum varde_status {
	VARDE_STATUS_BODY_MOVEMENT = 1u << 0,
	VARDE_STATUS_CUFF_LOOSE = 1u << 1,
	VARDE_STATUS_IRREGULAR_PULSE = 1u << 2,
	VARDE_STATUS_PULSE_ABOVE_RANGE = 1u << 3,
	VARDE_STATUS_PULSE_BELOW_RANGE = 1u << 4,
	VARDE_STATUS_IMPROPER_POSITION = 1u << 5,
	VARDE_STATUS_QUESTIONABLE = 1u << 6, /* device flags the value as doubtful */
	VARDE_STATUS_INVALID = 1u << 7, /* device says the value is invalid */
	VARDE_STATUS_LOW_PERFUSION = 1u << 8,
	VARDE_STATUS_SENSOR_DISPLACED = 1u << 9, /* probe off, sensor disconnected */
	VARDE_STATUS_SIGNAL_ARTIFACT = 1u << 10, /* erratic signal, interference */
	VARDE_STATUS_EQUIPMENT_FAULT = 1u << 11,
	VARDE_STATUS_MEASUREMENT_ONGOING = 1u << 12, /* early estimate, not final */
	VARDE_STATUS_CONTROL_SOLUTION = 1u << 13,
	VARDE_STATUS_RESULT_TOO_HIGH = 1u << 14, /* above what the device can measure */
	VARDE_STATUS_RESULT_TOO_LOW = 1u << 15, /* below what the device can measure */
	VARDE_STATUS_STRIP_ERROR = 1u << 16, /* strip type, insertion, sample size */
	VARDE_STATUS_TEMPERATURE_OUT_OF_RANGE = 1u << 17, /* ambient, not the patient */
	VARDE_STATUS_BATTERY_LOW = 1u << 18,
	VARDE_STATUS_DEVICE_CLOCK_NOT_SET = 1u << 19,
	VARDE_STATUS_CALIBRATION_ONGOING = 1u << 20,
	VARDE_STATUS_TEST_DATA = 1u << 21, /* demo or test data from the device */
};

/* Bits that make a reading unfit to raise an alert on its own. */
#define VARDE_STATUS_QUALITY_MASK \
	(VARDE_STATUS_BODY_MOVEMENT | VARDE_STATUS_CUFF_LOOSE | VARDE_STATUS_IRREGULAR_PULSE | \
	 VARDE_STATUS_IMPROPER_POSITION | VARDE_STATUS_QUESTIONABLE | VARDE_STATUS_INVALID | \
	 VARDE_STATUS_LOW_PERFUSION | VARDE_STATUS_SENSOR_DISPLACED | \
	 VARDE_STATUS_SIGNAL_ARTIFACT | VARDE_STATUS_EQUIPMENT_FAULT | \
	 VARDE_STATUS_MEASUREMENT_ONGOING | VARDE_STATUS_CONTROL_SOLUTION | \
	 VARDE_STATUS_STRIP_ERROR | VARDE_STATUS_TEMPERATURE_OUT_OF_RANGE | \
	 VARDE_STATUS_CALIBRATION_ONGOING | VARDE_STATUS_TEST_DATA)

/* ---- readings ---------------------------------------------------------- */

/*
 * Device time: local wall-clock time without zone, as the device keeps it.
 * year/month/day 0 mean unknown (Bluetooth Date Time). The hub maps it to
 * an instant with its own time zone.
 */
struct varde_datetime {
	uint16_t year;
	uint8_t month;
	uint8_t day;
	uint8_t hours;
	uint8_t minutes;
	uint8_t seconds;
	uint8_t reserved;
};

struct varde_component {
	uint32_t metric; /* enum varde_metric */
	uint32_t unit; /* enum varde_unit */
	struct varde_value value;
};

enum varde_reading_flags {
	VARDE_READING_HAS_TIME = 1u << 0, /* `time` is set */
	VARDE_READING_HAS_USER = 1u << 1, /* `user_id` is set */
	VARDE_READING_HAS_SEQUENCE = 1u << 2, /* `sequence` identifies the record */
	VARDE_READING_STORED = 1u << 3, /* downloaded from device memory */
};

/* The user id a multi-user device reports for "unknown user" (Blood
 * Pressure and Weight Scale use 0xFF). Submit it with
 * VARDE_READING_HAS_USER: the hub then never guesses the patient. */
#define VARDE_USER_UNKNOWN 255u

/*
 * One reading. For a compound reading (VARDE_METRIC_BLOOD_PRESSURE) `value`
 * must be left zero and the parts are in `components`. Context that belongs
 * to a reading (glucose meal, exercise) is carried as further components.
 */
struct varde_reading {
	uint32_t size; /* sizeof(struct varde_reading) as the plugin was built */
	uint32_t metric;
	uint32_t unit;
	struct varde_value value;
	uint32_t status; /* enum varde_status bits */
	uint32_t flags; /* enum varde_reading_flags */
	struct varde_datetime time;
	uint32_t user_id; /* device user index (multi-user devices) */
	uint32_t sequence; /* the device's record number */
	uint32_t site; /* enum varde_site */
	const struct varde_component *components;
	size_t n_components;
	void *reserved[4];
};

#define VARDE_READING_INIT \
	{ \
		.size = sizeof(struct varde_reading) \
	}

/* ---- devices and the host --------------------------------------------- */

struct varde_plugin_ctx; /* one per loaded plugin, owned by the host */
struct varde_device; /* one per device a driver is bound to */

typedef void (*varde_destroy_func)(void *user_data);

/* A notification or indication: `data` is borrowed for this call. */
typedef void (*varde_notify_func)(struct varde_device *dev, const uint8_t *data, size_t len,
				  void *user_data);

/* Completion of read (data/len is the value), write and subscribe
 * (data NULL, len 0). `err` is 0 or a negative errno. */
typedef void (*varde_complete_func)(struct varde_device *dev, int err, const uint8_t *data,
				    size_t len, void *user_data);

typedef void (*varde_timer_func)(struct varde_device *dev, void *user_data);

enum varde_log_level {
	VARDE_LOG_ERR = 3,
	VARDE_LOG_WARNING = 4,
	VARDE_LOG_NOTICE = 5,
	VARDE_LOG_INFO = 6,
	VARDE_LOG_DEBUG = 7,
};

/* Characteristic properties, as GattCharacteristic1.Flags names them. */
enum varde_char_props {
	VARDE_CHAR_READ = 1u << 0,
	VARDE_CHAR_WRITE = 1u << 1,
	VARDE_CHAR_WRITE_WITHOUT_RESPONSE = 1u << 2,
	VARDE_CHAR_NOTIFY = 1u << 3,
	VARDE_CHAR_INDICATE = 1u << 4,
};

enum varde_write_flags {
	VARDE_WRITE_WITHOUT_RESPONSE = 1u << 0,
};

struct varde_device_identity {
	char address[18]; /* "AA:BB:CC:DD:EE:FF" */
	char name[64]; /* advertised name, may be empty */
};

/*
 * UUIDs are strings: a 16-bit assigned number ("2A35", "0x2a35") or the full
 * 128-bit form, case-insensitive. A characteristic is looked up first in the
 * primary service the driver was probed for, then in the whole device.
 */
struct varde_host {
	size_t size; /* sizeof(struct varde_host) as the hub was built */
	uint16_t abi_major;
	uint16_t abi_minor;

	/* Log a line. `dev` may be NULL. The hub prefixes plugin and device. */
	void (*log)(struct varde_plugin_ctx *ctx, struct varde_device *dev, int level,
		    const char *fmt, ...) VARDE_PRINTF(4, 5);

	/* Hand a reading to the hub. The reading is copied and validated; returns
	 * 0 or -EINVAL (malformed, counted and logged by the hub). */
	int (*submit)(struct varde_device *dev, const struct varde_reading *reading);

	/* Characteristic properties (enum varde_char_props), or -ENOENT. */
	int (*char_props)(struct varde_device *dev, const char *uuid);

	/* Enable notifications or indications (notifications when the
	 * characteristic has both, as BlueZ chooses). `notify` is called for every value until the device is removed
	 * or the subscription cancelled; `done` once when it is in effect.
	 * Values sent by the device right after it is in effect are delivered. */
	int (*subscribe)(struct varde_device *dev, const char *uuid, varde_notify_func notify,
			 varde_complete_func done, void *user_data, varde_destroy_func destroy);

	int (*read)(struct varde_device *dev, const char *uuid, varde_complete_func done,
		    void *user_data, varde_destroy_func destroy);

	/* `flags`: enum varde_write_flags. */
	int (*write)(struct varde_device *dev, const char *uuid, const uint8_t *data, size_t len,
		     unsigned int flags, varde_complete_func done, void *user_data,
		     varde_destroy_func destroy);

	/* One-shot timer on the hub's monotonic clock. Returns an id. */
	int (*timer_add)(struct varde_device *dev, uint32_t msec, varde_timer_func cb,
			 void *user_data, varde_destroy_func destroy);

	/* Cancel an operation, subscription or timer by id. Its callback is not
	 * called; its destroy is. Returns 0 or -ENOENT. */
	int (*cancel)(struct varde_device *dev, int id);

	/* One pointer of plugin data per device. */
	void (*set_data)(struct varde_device *dev, void *data);
	void *(*get_data)(struct varde_device *dev);

	int (*get_identity)(struct varde_device *dev, struct varde_device_identity *out);

	/* Small persistent per-device state kept in the hub's store (for
	 * example the last delivered record number). Keys and values are
	 * NUL-terminated printable strings, key <= 32 bytes, value <= 256
	 * bytes. get returns the value length, -ENOENT, or -ENOSPC when `len`
	 * is too small. A value set here is committed together with the
	 * readings submitted before it. */
	int (*state_get)(struct varde_device *dev, const char *key, char *buf, size_t len);
	int (*state_set)(struct varde_device *dev, const char *key, const char *value);
};

/* ---- what a plugin provides ------------------------------------------- */

struct varde_driver {
	uint32_t size; /* sizeof(struct varde_driver) */
	const char *name;
	const char *service_uuid; /* primary service this driver handles */
	/* Optional fnmatch(3) pattern on the device name, for vendor services
	 * shared by several products; NULL matches any name. */
	const char *name_pattern;
	/* Bind to a connected device whose services are resolved. Return 0 or a
	 * negative errno (the device is then left to other drivers). */
	int (*probe)(struct varde_device *dev);
	void (*remove)(struct varde_device *dev);
	void *reserved[4];
};

/* A plugin option, set in the config file's [plugin NAME] section. */
struct varde_option_spec {
	const char *key;
	const char *help;
	const char *default_value; /* may be NULL */
};

struct varde_option {
	const char *key;
	const char *value;
};

struct varde_plugin {
	uint16_t abi_major; /* VARDE_PLUGIN_ABI_MAJOR */
	uint16_t abi_minor; /* VARDE_PLUGIN_ABI_MINOR */
	uint32_t size; /* sizeof(struct varde_plugin) */
	const char *name; /* short, [a-z0-9_-], unique among plugins */
	const char *version;
	const char *vendor;
	const char *description;
	/* Called once after loading. `options` holds every option of the
	 * plugin's schema, set or defaulted (value NULL when neither), for
	 * the duration of the call.
	 * Keep `ctx` and `host`: both stay valid until exit(). Return 0 or a
	 * negative errno: a plugin whose init fails is quarantined. */
	int (*init)(struct varde_plugin_ctx *ctx, const struct varde_host *host,
		    const struct varde_option *options, size_t n_options);
	void (*exit)(struct varde_plugin_ctx *ctx);
	/* NULL-terminated. */
	const struct varde_driver *const *drivers;
	/* Optional, terminated by an entry whose key is NULL. Keys not listed
	 * here are refused by the loader. */
	const struct varde_option_spec *options;
	void *reserved[4];
};

#define VARDE_PLUGIN_DEFINE \
	VARDE_EXPORT extern const struct varde_plugin varde_plugin_v1; \
	const struct varde_plugin varde_plugin_v1

#ifdef __cplusplus
}
#endif

#endif /* VARDE_PLUGIN_H */
