/* SPDX-License-Identifier: MIT */
/*
 * The hub's crash-safe store: one SQLite database, state_dir/varde.db, in
 * WAL mode with synchronous=FULL. It holds the outbox (messages waiting for
 * the broker's PUBACK), the identities of device records already seen
 * (de-duplication), per-device plugin state, the rules engine's alert state,
 * the audit log and a bounded readings history. Every table is bounded
 * except alert state and plugin state, whose keys their owners bound.
 *
 * Batches. A write (store_outbox_add, store_record_mark, store_state_set,
 * ...) opens a transaction if none is open; with a loop, the store commits
 * it from a loop defer, so everything written until the loop next runs its
 * defers is one transaction and one fsync. Without a loop the caller
 * commits with store_commit(). A write returns 0 once it is *accepted*:
 * held in memory (and, while healthy, applied to the open transaction). It
 * is *durable* only after the commit. The uplink learns of durable outbox rows from STORE_EVENT_DURABLE
 * and reads them with store_outbox_next(), which never returns a row that is
 * not committed, so a reading reaches the broker only after its fsync.
 *
 * Failure ("keeps trying"). Every accepted write stays in memory until the
 * commit that contains it succeeds. When SQLite fails (disk full, I/O error,
 * read-only file or file system, locked, corrupt) the store rolls the
 * transaction back, logs the operation and SQLite's message at error level,
 * and becomes STORE_HEALTH_FAILING: later writes are accepted and held, not
 * tried one by one. With a loop it retries on a timer (1 s, doubling to
 * 60 s); store_commit() also retries. A retry opens a fresh connection and
 * replays every held write, in order, in one transaction; when that commits,
 * the store is healthy again and says so. Until a fresh connection opens,
 * the old one serves reads of the last durable state, so a backlog can
 * still be sent while the disk is full. store_record_seen() and store_state_get()
 * also see held writes, so a record held in memory is not fetched again.
 *
 * Held writes are bounded by STORE_HELD_MAX bytes. A healthy batch that
 * comes near it is committed early. A failing store that reaches it
 * refuses writes (-ENOBUFS) until the held ones are durable. Writes that
 * move a device on (store_record_mark, store_state_set) are refused
 * STORE_HELD_RESERVE bytes earlier, so the messages of a record already
 * marked seen always fit: a record is either held with its messages, or
 * not marked seen and asked from the device again later, never dropped in
 * between. Held writes that are still not durable when the store is freed
 * are lost, and logged as lost.
 *
 * A corrupt database (SQLITE_CORRUPT, SQLITE_NOTADB) cannot be fixed by
 * retrying: the store moves the file (and its -wal/-shm) aside to
 * state_dir/varde-corrupt-TIME-N.db for recovery with sqlite3's .recover,
 * starts a new database and replays the held writes into it. It is
 * STORE_HEALTH_DEGRADED while such a file is in state_dir (across
 * restarts), so the status topic keeps saying that unsent messages in it
 * were not delivered until a technician has recovered and removed it.
 *
 * Schema. The version is PRAGMA user_version; store.c has the ordered list
 * of migration steps, each applied in its own transaction. A database
 * written by a newer varde is refused, never downgraded.
 *
 * All SQL is fixed text in store.c with bound parameters; statements are
 * prepared once and cached per connection. Strings are NUL-terminated; a
 * string longer than its limit is refused with -EMSGSIZE, a NULL or empty
 * one with -EINVAL. Iteration callbacks must not call back into the store.
 */
#ifndef VARDE_STORE_H
#define VARDE_STORE_H

#include <stddef.h>
#include <stdint.h>

struct loop;
struct store;

#define STORE_TOPIC_MAX 256
#define STORE_PAYLOAD_MAX 65536 /* outbox payload and alert state JSON, bytes */
#define STORE_NAME_MAX 128 /* device, record identity, alert key, actor, action, ids */
#define STORE_TEXT_MAX 1024 /* audit detail, history value */
#define STORE_STATE_KEY_MAX 32 /* plugin state, as include/varde/plugin.h */
#define STORE_STATE_VALUE_MAX 256

#define STORE_RECORDS_PER_DEVICE 4096 /* record identities kept per device */
#define STORE_AUDIT_MAX 10000 /* audit entries kept */
#define STORE_HISTORY_MAX 50000 /* history entries kept */
#define STORE_HELD_MAX (2u << 20) /* bytes of writes held in memory */
#define STORE_LAZY_COMMIT_MS 500 /* longest wait of a batch of PUBACK removals */
/* Room kept for the messages of records already marked seen: a reading's
 * observation, alert, event and history at their largest. */
#define STORE_HELD_RESERVE (4u * (STORE_PAYLOAD_MAX + 1024))

enum store_kind {
	STORE_KIND_OBSERVATION = 1,
	STORE_KIND_ALERT,
	STORE_KIND_EVENT,
};

enum store_health {
	STORE_HEALTH_OK,
	/* Working, but a corrupt database was moved aside and is still in
	 * state_dir: what it held that was not yet sent is not delivered.
	 * Needs a technician. */
	STORE_HEALTH_DEGRADED,
	/* The database does not take writes; they are held in memory and
	 * retried. */
	STORE_HEALTH_FAILING,
};

enum store_event {
	STORE_EVENT_DURABLE, /* a commit made new outbox rows durable */
	STORE_EVENT_HEALTH, /* store_health() changed */
};

typedef void (*store_event_func)(struct store *store, enum store_event event, void *user_data);
typedef void (*store_destroy_func)(void *user_data);

/* Opens (creating if needed) state_dir/varde.db. state_dir is created with
 * mode 0700 if missing, and tightened to 0700 with a warning if group or
 * others may read it. `loop` may be NULL: then nothing is committed or
 * retried unless the caller calls store_commit(). The outbox keeps at most
 * `max_outbox` messages; adding one more evicts the oldest.
 *
 * Returns NULL with `err` set only when the store cannot work at all:
 * -EPROTO for a database written by a newer varde, -ENOTDIR, -EACCES... for
 * an unusable state_dir, -EINVAL, -ENOMEM. A database that cannot be opened
 * or written for now still gives a store, in STORE_HEALTH_FAILING. */
struct store *store_open(struct loop *loop, const char *state_dir, unsigned int max_outbox,
			 int *err);
/* Commits what is held (one last try), then closes. NULL-safe. Free the
 * store before the loop. */
void store_free(struct store *store);

/* One handler for STORE_EVENT_*, called after the state it reports is in
 * place; it may call the store. Replaces (and destroys) any previous one. */
void store_set_event_func(struct store *store, store_event_func func, void *user_data,
			  store_destroy_func destroy);

/* Commits the open batch, or when failing retries the held writes. 0 when
 * everything accepted is durable, else a negative errno such as -ENOSPC
 * (disk full), -EIO or the system's reason for an I/O error, -EROFS,
 * -EUCLEAN (corrupt), -EBUSY (locked), -EPROTO (newer schema). */
int store_commit(struct store *store);

/* `text` (may be NULL) gets a one-line description for the status topic,
 * valid until the next call on the store. */
enum store_health store_health(struct store *store, const char **text);
/* Outbox messages evicted because the outbox was full, over the life of
 * the database. */
uint64_t store_evicted_total(const struct store *store);
/* Durable outbox messages waiting for a PUBACK. */
uint64_t store_outbox_count(const struct store *store);
/* Accepted writes that are not durable yet. */
size_t store_held_count(const struct store *store);

/* ---- outbox --------------------------------------------------------- */

struct store_outbox_row {
	int64_t id; /* increasing, never reused */
	enum store_kind kind;
	const char *topic;
	const uint8_t *payload;
	size_t len;
};

/* Gives no row id on purpose: a row is not the uplink's to publish until
 * it is durable, and then store_outbox_next() hands it over. `kind` is kept
 * for the uplink and not interpreted here. */
int store_outbox_add(struct store *store, enum store_kind kind, const char *topic,
		     const void *payload, size_t len);
/* The first durable row with an id above `after_id` (0 for the first), in
 * insertion order. Returns 1 and fills `row` (its pointers valid until the
 * next call of store_outbox_next or store_free), 0 when there is none, or a
 * negative errno. */
int store_outbox_next(struct store *store, int64_t after_id, struct store_outbox_row *row);
/* On PUBACK. Removing a row that is gone (evicted, removed) is not an
 * error. */
int store_outbox_remove(struct store *store, int64_t id);

/* ---- de-duplication and plugin state, per device -------------------- */

/* `identity` is ingest's key of one device record, e.g. "seq:43". Returns
 * 1 when it was marked before, 0 when not, or a negative errno when the
 * database cannot be read (take the record as new: a duplicate, which has
 * a stable observation id, is better than a loss). The last
 * STORE_RECORDS_PER_DEVICE identities of each device are kept. */
int store_record_seen(struct store *store, const char *device, const char *identity);
int store_record_mark(struct store *store, const char *device, const char *identity);

/* As include/varde/plugin.h's state_get: the value length, -ENOENT, or
 * -ENOSPC when `len` is too small; or another negative errno. */
int store_state_get(struct store *store, const char *device, const char *key, char *buf,
		    size_t len);
int store_state_set(struct store *store, const char *device, const char *key, const char *value);

/* ---- alert state: opaque JSON text per key --------------------------- */

int store_alert_put(struct store *store, const char *key, const char *json);
/* 0 and a malloc()ed copy in `json`, -ENOENT, or a negative errno. */
int store_alert_get(struct store *store, const char *key, char **json);

/* ---- audit log -------------------------------------------------------- */

struct store_audit_entry {
	int64_t time_ms; /* UTC, ms since the epoch, when store_audit() was called */
	const char *actor; /* e.g. "nurse:n-12", "installer", "hub" */
	const char *action; /* e.g. "device bound", "alert acknowledged" */
	const char *detail;
};

typedef void (*store_audit_func)(const struct store_audit_entry *entry, void *user_data);

int store_audit(struct store *store, const char *actor, const char *action, const char *detail);
/* The last `n` entries, oldest first. Returns how many or a negative errno. */
int store_audit_recent(struct store *store, unsigned int n, store_audit_func func, void *user_data);

/* ---- readings history (vardectl history) ------------------------------ */

struct store_history {
	const char *observation_id;
	const char *patient;
	const char *metric; /* e.g. "spo2" */
	int64_t effective_ms; /* UTC, ms since the epoch */
	const char *value; /* as shown, e.g. "94 %" */
};

typedef void (*store_history_func)(const struct store_history *entry, void *user_data);

int store_history_add(struct store *store, const struct store_history *entry);
/* The last `n` entries of `patient` (NULL: of everyone), oldest first.
 * Returns how many or a negative errno. */
int store_history_recent(struct store *store, const char *patient, unsigned int n,
			 store_history_func func, void *user_data);

#endif /* VARDE_STORE_H */
