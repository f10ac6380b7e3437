/* SPDX-License-Identifier: MIT */
#include "store.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "log.h"
#include "loop.h"
#include "timefmt.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define DB_NAME "varde.db"
/* The hub is the only writer; a reader such as vardectl holds a lock only
 * briefly, and the loop must not wait long for it. */
#define BUSY_TIMEOUT_MS 50
#define RETRY_FIRST_MS 1000
#define RETRY_MAX_MS 60000

/* Schema steps, oldest first; step N takes a database from user_version N
 * to N + 1. Released steps are never edited: a change is a new step. */
static const char *const migrations[] = {
	/* 1: what keeps a reading until the broker has it. */
	"CREATE TABLE outbox ("
	/* AUTOINCREMENT: ids are never reused, so the uplink's replay cursor
	 * only moves forward. */
	" id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" kind INTEGER NOT NULL,"
	" topic TEXT NOT NULL,"
	" payload BLOB NOT NULL);"
	"CREATE TABLE device_record ("
	" device TEXT NOT NULL,"
	/* Numbers the device's identities 1, 2, ..., so that pruning the
	 * oldest is one index seek rather than a count. */
	" seq INTEGER NOT NULL,"
	" identity TEXT NOT NULL,"
	" PRIMARY KEY (device, seq),"
	" UNIQUE (device, identity)) WITHOUT ROWID;"
	"CREATE TABLE device_state ("
	" device TEXT NOT NULL,"
	" key TEXT NOT NULL,"
	" value TEXT NOT NULL,"
	" PRIMARY KEY (device, key)) WITHOUT ROWID;"
	"CREATE TABLE alert_state ("
	" key TEXT PRIMARY KEY,"
	" state TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE audit_log ("
	" id INTEGER PRIMARY KEY,"
	" actor TEXT NOT NULL,"
	" action TEXT NOT NULL,"
	" detail TEXT NOT NULL,"
	" time_ms INTEGER NOT NULL);",

	/* 2: the readings history for vardectl, and the eviction count, kept
	 * so that the status topic still reports losses after a restart. */
	"CREATE TABLE history ("
	" id INTEGER PRIMARY KEY,"
	" observation_id TEXT NOT NULL,"
	" patient TEXT NOT NULL,"
	" metric TEXT NOT NULL,"
	" value TEXT NOT NULL,"
	" effective_ms INTEGER NOT NULL);"
	"CREATE INDEX history_patient ON history (patient, id);"
	"CREATE TABLE counter ("
	" name TEXT PRIMARY KEY,"
	" value INTEGER NOT NULL) WITHOUT ROWID;"
	"INSERT INTO counter (name, value) VALUES ('outbox_evicted', 0);",
};

#define SCHEMA_VERSION ((int)ARRAY_SIZE(migrations))

enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_OUTBOX_ADD,
	S_OUTBOX_REMOVE,
	S_OUTBOX_EVICT,
	S_OUTBOX_NEXT,
	S_OUTBOX_STATS,
	S_EVICTED_ADD,
	S_EVICTED_GET,
	S_RECORD_MARK,
	S_RECORD_PRUNE,
	S_RECORD_FIND,
	S_STATE_SET,
	S_STATE_GET,
	S_ALERT_PUT,
	S_ALERT_GET,
	S_AUDIT_ADD,
	S_AUDIT_PRUNE,
	S_AUDIT_RECENT,
	S_HISTORY_ADD,
	S_HISTORY_PRUNE,
	S_HISTORY_RECENT,
	S_HISTORY_RECENT_PATIENT,
	S_COUNT
};

/* A write's statement binds the write's strings first, then its blob, then
 * its number (see bind_op()). */
static const char *const stmt_sql[S_COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_OUTBOX_ADD] = "INSERT INTO outbox (topic, payload, kind) VALUES (?1, ?2, ?3)",
	[S_OUTBOX_REMOVE] = "DELETE FROM outbox WHERE id = ?1",
	[S_OUTBOX_EVICT] = "DELETE FROM outbox WHERE id IN "
			   "(SELECT id FROM outbox ORDER BY id LIMIT ?1)",
	[S_OUTBOX_NEXT] = "SELECT id, kind, topic, payload FROM outbox "
			  "WHERE id > ?1 AND id <= ?2 ORDER BY id LIMIT 1",
	[S_OUTBOX_STATS] = "SELECT count(*), coalesce(max(id), 0) FROM outbox",
	[S_EVICTED_ADD] = "UPDATE counter SET value = value + ?1 WHERE name = 'outbox_evicted'",
	[S_EVICTED_GET] = "SELECT value FROM counter WHERE name = 'outbox_evicted'",
	[S_RECORD_MARK] = "INSERT OR IGNORE INTO device_record (device, seq, identity) "
			  "SELECT ?1, coalesce(max(seq), 0) + 1, ?2 FROM device_record "
			  "WHERE device = ?1",
	/* Keeps the ?2 newest identities of the device. */
	[S_RECORD_PRUNE] = "DELETE FROM device_record WHERE device = ?1 AND seq <= "
			   "(SELECT max(seq) FROM device_record WHERE device = ?1) - ?2",
	[S_RECORD_FIND] = "SELECT 1 FROM device_record WHERE device = ?1 AND identity = ?2",
	[S_STATE_SET] = "INSERT OR REPLACE INTO device_state (device, key, value) "
			"VALUES (?1, ?2, ?3)",
	[S_STATE_GET] = "SELECT value FROM device_state WHERE device = ?1 AND key = ?2",
	[S_ALERT_PUT] = "INSERT OR REPLACE INTO alert_state (key, state) VALUES (?1, ?2)",
	[S_ALERT_GET] = "SELECT state FROM alert_state WHERE key = ?1",
	[S_AUDIT_ADD] = "INSERT INTO audit_log (actor, action, detail, time_ms) "
			"VALUES (?1, ?2, ?3, ?4)",
	/* Rows are only ever deleted oldest first, so ids have no gaps. */
	[S_AUDIT_PRUNE] = "DELETE FROM audit_log WHERE id <= ?1",
	[S_AUDIT_RECENT] = "SELECT * FROM (SELECT id, actor, action, detail, time_ms "
			   "FROM audit_log ORDER BY id DESC LIMIT ?1) ORDER BY id",
	[S_HISTORY_ADD] = "INSERT INTO history (observation_id, patient, metric, value, "
			  "effective_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_HISTORY_PRUNE] = "DELETE FROM history WHERE id <= ?1",
	[S_HISTORY_RECENT] = "SELECT * FROM (SELECT id, observation_id, patient, metric, value, "
			     "effective_ms FROM history ORDER BY id DESC LIMIT ?1) ORDER BY id",
	[S_HISTORY_RECENT_PATIENT] = "SELECT * FROM (SELECT id, observation_id, patient, metric, "
				     "value, effective_ms FROM history WHERE patient = ?2 "
				     "ORDER BY id DESC LIMIT ?1) ORDER BY id",
};

enum op_type {
	OP_OUTBOX_ADD,
	OP_OUTBOX_REMOVE,
	OP_RECORD_MARK,
	OP_STATE_SET,
	OP_ALERT_PUT,
	OP_AUDIT,
	OP_HISTORY_ADD,
};

static const struct {
	enum stmt_id stmt;
	const char *what; /* for error messages */
	bool num; /* binds op->num */
} op_desc[] = {
	[OP_OUTBOX_ADD] = {S_OUTBOX_ADD, "adding to the outbox", true},
	[OP_OUTBOX_REMOVE] = {S_OUTBOX_REMOVE, "removing from the outbox", true},
	[OP_RECORD_MARK] = {S_RECORD_MARK, "marking a device record seen", false},
	[OP_STATE_SET] = {S_STATE_SET, "saving plugin state", false},
	[OP_ALERT_PUT] = {S_ALERT_PUT, "saving alert state", false},
	[OP_AUDIT] = {S_AUDIT_ADD, "writing the audit log", true},
	[OP_HISTORY_ADD] = {S_HISTORY_ADD, "writing the history", true},
};

#define OP_TEXTS 4

/* An accepted write, held until a commit containing it succeeds. Its
 * strings and blob live in `data`. */
struct op {
	struct op *next;
	enum op_type type;
	int64_t num; /* outbox kind or row id, audit or history time */
	unsigned int n_text;
	const char *text[OP_TEXTS];
	const uint8_t *blob;
	size_t blob_len;
	size_t size; /* bytes held, for STORE_HELD_MAX */
	char data[];
};

struct store {
	struct loop *loop;
	char *dir;
	char *db_path;
	unsigned int max_outbox;
	sqlite3 *db;
	sqlite3_stmt *stmts[S_COUNT];
	/* A transaction is open and every held write is applied to it. When
	 * false, held writes (if any) are in memory only. */
	bool in_txn;

	struct op *held, **held_tail;
	size_t held_count, held_bytes;
	bool refusing; /* a write was refused for want of room since the last
			* durable commit */

	/* Live values include the open transaction; durable ones are as of
	 * the last commit, and are what a rollback returns to. */
	uint64_t outbox_count, durable_outbox_count;
	uint64_t evicted, durable_evicted;
	int64_t max_id, durable_max_id;

	bool failing;
	int err; /* the last failure */
	char err_text[512];
	char *moved_aside; /* where a corrupt database went, or NULL */
	unsigned int n_moved;
	char health_text[PATH_MAX + 1024];

	int defer_id;
	int lazy_id; /* timer of a batch that holds only PUBACK removals */
	int retry_id;
	unsigned int backoff_ms;

	store_event_func event;
	void *event_data;
	store_destroy_func event_destroy;

	char *row_buf; /* store_outbox_next()'s copy of a row */
	size_t row_cap;
};

static void notify(struct store *store, enum store_event event)
{
	if (store->event)
		store->event(store, event, store->event_data);
}

static int errno_of(struct store *store, int rc)
{
	int sys = store->db ? sqlite3_system_errno(store->db) : 0;

	switch (rc & 0xff) {
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
		return -EUCLEAN;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return sys > 0 ? -sys : -EACCES;
	case SQLITE_IOERR:
		/* The system's reason says more (EFBIG, EROFS...); but a file
		 * system's EUCLEAN is not a corrupt database to move aside. */
		return sys > 0 && sys != EUCLEAN ? -sys : -EIO;
	default:
		return -EIO;
	}
}

/* Logs a failure loudly and keeps it for store_health(). */
static int VARDE_PRINTF(3, 4) report(struct store *store, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(store->err_text, sizeof(store->err_text), fmt, ap);
	va_end(ap);
	store->err = err;
	log_err("store: %s", store->err_text);
	return err;
}

static int sql_report(struct store *store, const char *what, int rc)
{
	int err = errno_of(store, rc);

	return report(store, err, "%s: %s", what,
		      store->db ? sqlite3_errmsg(store->db) : sqlite3_errstr(rc));
}

static int prepare(struct store *store, enum stmt_id id, sqlite3_stmt **out)
{
	if (!store->stmts[id]) {
		int rc = sqlite3_prepare_v3(store->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
					    &store->stmts[id], NULL);

		if (rc != SQLITE_OK)
			return sql_report(store, "preparing a statement", rc);
	}
	*out = store->stmts[id];
	return 0;
}

/* Runs a bound statement that returns no rows. */
static int run(struct store *store, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st), err = 0;

	if (rc != SQLITE_DONE)
		err = sql_report(store, what, rc);
	sqlite3_reset(st);
	return err;
}

static int run_plain(struct store *store, enum stmt_id id, const char *what)
{
	sqlite3_stmt *st = NULL;
	int err = prepare(store, id, &st);

	return err ? err : run(store, st, what);
}

/* Steps a query: 1 with a row (the caller resets the statement when done
 * with it), 0 at the end (reset), or a negative errno (reset). */
static int step_row(struct store *store, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st), err;

	if (rc == SQLITE_ROW)
		return 1;
	err = rc == SQLITE_DONE ? 0 : sql_report(store, what, rc);
	sqlite3_reset(st);
	return err;
}

static const char *column_text(sqlite3_stmt *st, int col)
{
	const unsigned char *text = sqlite3_column_text(st, col);

	return text ? (const char *)text : "";
}

static int exec_sql(struct store *store, const char *what, const char *sql)
{
	int rc = sqlite3_exec(store->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : sql_report(store, what, rc);
}

/* Drops the open transaction: its writes stay held, in memory only. */
static void rollback(struct store *store);

static void close_connection(sqlite3 *db, sqlite3_stmt **stmts)
{
	for (size_t i = 0; i < S_COUNT; i++) {
		sqlite3_finalize(stmts[i]);
		stmts[i] = NULL;
	}
	sqlite3_close(db);
}

static void db_close(struct store *store)
{
	rollback(store);
	close_connection(store->db, store->stmts);
	store->db = NULL;
}

static void rollback(struct store *store)
{
	if (!store->in_txn)
		return;
	store->in_txn = false;
	store->outbox_count = store->durable_outbox_count;
	store->evicted = store->durable_evicted;
	store->max_id = store->durable_max_id;
	/* SQLite may already have rolled back (disk full, I/O error). A
	 * rollback that fails is finished by closing the connection. */
	if (store->db && !sqlite3_get_autocommit(store->db) &&
	    run_plain(store, S_ROLLBACK, "rolling back") < 0)
		db_close(store);
}

static int query_int(struct store *store, const char *what, const char *sql, int *out)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(store->db, sql, -1, &st, NULL), err = 0;

	if (rc != SQLITE_OK)
		return sql_report(store, what, rc);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(st, 0);
	else
		err = sql_report(store, what, rc);
	sqlite3_finalize(st);
	return err;
}

static int set_wal_mode(struct store *store)
{
	const char *what = "setting WAL mode";
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(store->db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
	int err = 0;

	if (rc != SQLITE_OK)
		return sql_report(store, what, rc);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		err = sql_report(store, what, rc);
	else if (strcmp(column_text(st, 0), "wal") != 0)
		/* Still durable with synchronous=FULL, only slower. */
		log_warn("store: %s: WAL mode not available, journal mode is %s", store->db_path,
			 column_text(st, 0));
	sqlite3_finalize(st);
	return err;
}

static int migrate(struct store *store)
{
	int version = 0, err;

	err = query_int(store, "reading the schema version", "PRAGMA user_version", &version);
	if (err)
		return err;
	if (version > SCHEMA_VERSION)
		return report(store, -EPROTO,
			      "%s has schema version %d, written by a newer varde (this one knows "
			      "up to %d): refusing to use it rather than downgrade it",
			      store->db_path, version, SCHEMA_VERSION);
	for (int v = version; v < SCHEMA_VERSION; v++) {
		char bump[40];

		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
		err = exec_sql(store, "upgrading the schema", "BEGIN IMMEDIATE");
		if (err)
			return err;
		err = exec_sql(store, "upgrading the schema", migrations[v]);
		if (!err)
			err = exec_sql(store, "upgrading the schema", bump);
		if (!err)
			err = exec_sql(store, "upgrading the schema", "COMMIT");
		if (err) {
			sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
			return err;
		}
	}
	if (version > 0 && version < SCHEMA_VERSION)
		log_notice("store: %s: schema upgraded from version %d to %d", store->db_path,
			   version, SCHEMA_VERSION);
	return 0;
}

static int load_counters(struct store *store)
{
	const char *what = "reading the outbox";
	uint64_t count = 0, evicted = 0;
	sqlite3_stmt *st = NULL;
	int64_t max_id = 0;
	int err;

	err = prepare(store, S_OUTBOX_STATS, &st);
	if (!err && (err = step_row(store, st, what)) == 1) {
		count = (uint64_t)sqlite3_column_int64(st, 0);
		max_id = sqlite3_column_int64(st, 1);
		sqlite3_reset(st);
		err = prepare(store, S_EVICTED_GET, &st);
	}
	if (!err && (err = step_row(store, st, what)) == 1) {
		evicted = (uint64_t)sqlite3_column_int64(st, 0);
		sqlite3_reset(st);
		err = 0;
	}
	if (err)
		return err;
	store->outbox_count = store->durable_outbox_count = count;
	store->evicted = store->durable_evicted = evicted;
	store->max_id = store->durable_max_id = max_id;
	return 0;
}

/* Opens a connection and brings the schema up to date. */
static int db_connect(struct store *store)
{
	struct stat st;
	int rc, err;

	rc = sqlite3_open_v2(store->db_path, &store->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		err = sql_report(store, "opening the database", rc);
		db_close(store);
		return err;
	}
	sqlite3_extended_result_codes(store->db, 1);
	sqlite3_busy_timeout(store->db, BUSY_TIMEOUT_MS);
	/* SQLite falls back to read-only when it cannot open the file for
	 * writing; the hub cannot work from that. */
	if (sqlite3_db_readonly(store->db, "main") == 1)
		err = report(store, -EROFS, "%s can only be opened read-only", store->db_path);
	else
		err = set_wal_mode(store);
	/* journal_size_limit: the WAL is truncated back to 4 MiB after a
	 * checkpoint, so a burst does not leave a large file behind. */
	if (!err)
		err = exec_sql(store, "configuring the database",
			       "PRAGMA synchronous = FULL;"
			       "PRAGMA journal_size_limit = 4194304");
	if (!err)
		err = migrate(store);
	if (!err)
		err = load_counters(store);
	if (err) {
		db_close(store);
		return err;
	}
	/* The folder is 0700 already; the file (and the -wal/-shm SQLite
	 * creates with its mode) should not depend on that alone. */
	if (stat(store->db_path, &st) == 0 && (st.st_mode & 077))
		chmod(store->db_path, 0600);
	return 0;
}

/* Moves a corrupt database aside, where it can be recovered, so that a new
 * one can take the hub's writes. */
static void quarantine(struct store *store)
{
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	char from[PATH_MAX], to[PATH_MAX], base[PATH_MAX], stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	db_close(store);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", gmtime_r(&now, &tm));
	/* Never over an earlier one: each may hold undelivered readings. */
	do
		snprintf(base, sizeof(base), "%s/varde-corrupt-%s-%u.db", store->dir, stamp,
			 ++store->n_moved);
	while (access(base, F_OK) == 0);
	for (size_t i = 0; i < ARRAY_SIZE(suffixes); i++) {
		snprintf(from, sizeof(from), "%s%s", store->db_path, suffixes[i]);
		snprintf(to, sizeof(to), "%s%s", base, suffixes[i]);
		if (rename(from, to) == 0 || (errno == ENOENT && i > 0))
			continue;
		log_err("store: cannot move the corrupt %s aside: %s", from, strerror(errno));
		if (i == 0)
			return;
	}
	log_err("store: %s is corrupt: moved it to %s (recover with sqlite3 .recover) and started "
		"a new database; messages in it that were not yet sent are not delivered",
		store->db_path, base);
	free(store->moved_aside);
	store->moved_aside = strdup(base);
}

/* A database moved aside earlier that is still there: the store stays
 * degraded until a technician has recovered what it holds and removed it. */
static void find_moved_aside(struct store *store)
{
	static const char prefix[] = "varde-corrupt-";
	DIR *d = opendir(store->dir);
	struct dirent *e;

	if (!d)
		return;
	while (!store->moved_aside && (e = readdir(d))) {
		size_t n = strlen(e->d_name);

		if (strncmp(e->d_name, prefix, sizeof(prefix) - 1) == 0 && n > 3 &&
		    strcmp(e->d_name + n - 3, ".db") == 0 &&
		    asprintf(&store->moved_aside, "%s/%s", store->dir, e->d_name) < 0)
			store->moved_aside = NULL;
	}
	closedir(d);
}

static int db_open(struct store *store)
{
	int err = db_connect(store);

	if (err == -EUCLEAN) {
		quarantine(store);
		err = db_connect(store);
	}
	return err;
}

static void on_retry(struct loop *loop, void *user_data);

static void arm_retry(struct store *store)
{
	int id;

	if (!store->loop || store->retry_id > 0)
		return;
	id = loop_add_timer(store->loop, store->backoff_ms, on_retry, store, NULL);
	if (id < 0) {
		log_err("store: cannot schedule a retry: %s", strerror(-id));
		return;
	}
	store->retry_id = id;
	store->backoff_ms =
		store->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : store->backoff_ms * 2;
}

/* After `err` (already reported): held writes stay in memory, and the
 * store retries until a commit takes them. Returns `err`. */
static int set_failing(struct store *store, int err)
{
	bool was_failing = store->failing;

	rollback(store);
	if (err == -EUCLEAN)
		quarantine(store);
	store->failing = true;
	if (!was_failing) {
		store->backoff_ms = RETRY_FIRST_MS;
		log_err("store: failing; writes are held in memory (%zu now) and retried",
			store->held_count);
	}
	arm_retry(store);
	if (!was_failing)
		notify(store, STORE_EVENT_HEALTH);
	return err;
}

static void release_held(struct store *store)
{
	while (store->held) {
		struct op *op = store->held;

		store->held = op->next;
		free(op);
	}
	store->held_tail = &store->held;
	store->held_count = 0;
	store->held_bytes = 0;
}

static void bind_op(sqlite3_stmt *st, const struct op *op)
{
	int i = 1;

	for (unsigned int t = 0; t < op->n_text; t++)
		sqlite3_bind_text(st, i++, op->text[t], -1, SQLITE_STATIC);
	if (op->blob)
		sqlite3_bind_blob(st, i++, op->blob, (int)op->blob_len, SQLITE_STATIC);
	if (op_desc[op->type].num)
		sqlite3_bind_int64(st, i, op->num);
}

/* Deletes the rows of `id` up to `last` (a statement "... WHERE id <= ?1"). */
static int prune_upto(struct store *store, enum stmt_id id, int64_t last)
{
	sqlite3_stmt *st = NULL;
	int err;

	if (last <= 0)
		return 0;
	err = prepare(store, id, &st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, last);
	return run(store, st, "pruning");
}

static int prune_records(struct store *store, const char *device)
{
	sqlite3_stmt *st = NULL;
	int err = prepare(store, S_RECORD_PRUNE, &st);

	if (err)
		return err;
	sqlite3_bind_text(st, 1, device, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, STORE_RECORDS_PER_DEVICE);
	return run(store, st, "pruning device records");
}

/* Makes room for one more outbox message by dropping the oldest. */
static int evict(struct store *store)
{
	uint64_t n = store->outbox_count - store->max_outbox + 1;
	sqlite3_stmt *st = NULL;
	int err, changes;

	err = prepare(store, S_OUTBOX_EVICT, &st);
	if (err)
		return err;
	sqlite3_bind_int64(st, 1, (int64_t)n);
	err = run(store, st, "evicting from the outbox");
	if (err)
		return err;
	changes = sqlite3_changes(store->db);
	store->outbox_count -= (uint64_t)changes;
	store->evicted += (uint64_t)changes;
	err = prepare(store, S_EVICTED_ADD, &st);
	if (err)
		return err;
	sqlite3_bind_int(st, 1, changes);
	err = run(store, st, "counting evictions");
	if (!err)
		log_warn("store: outbox full (%u messages): evicted the oldest %d, %" PRIu64
			 " evicted in all",
			 store->max_outbox, changes, store->evicted);
	return err;
}

/* Applies one held write to the open transaction. */
static int apply(struct store *store, const struct op *op)
{
	sqlite3_stmt *st = NULL;
	int64_t rowid;
	int err;

	if (op->type == OP_OUTBOX_ADD && store->outbox_count >= store->max_outbox) {
		err = evict(store);
		if (err)
			return err;
	}
	err = prepare(store, op_desc[op->type].stmt, &st);
	if (err)
		return err;
	bind_op(st, op);
	err = run(store, st, op_desc[op->type].what);
	if (err)
		return err;
	rowid = sqlite3_last_insert_rowid(store->db);
	switch (op->type) {
	case OP_OUTBOX_ADD:
		store->outbox_count++;
		store->max_id = rowid;
		break;
	case OP_OUTBOX_REMOVE:
		store->outbox_count -= (uint64_t)sqlite3_changes(store->db);
		break;
	case OP_RECORD_MARK:
		if (sqlite3_changes(store->db) > 0)
			err = prune_records(store, op->text[0]);
		break;
	case OP_AUDIT:
		err = prune_upto(store, S_AUDIT_PRUNE, rowid - STORE_AUDIT_MAX);
		break;
	case OP_HISTORY_ADD:
		err = prune_upto(store, S_HISTORY_PRUNE, rowid - STORE_HISTORY_MAX);
		break;
	default:
		break;
	}
	return err;
}

/* Opens a transaction and applies every held write to it. */
static int begin(struct store *store)
{
	int err = run_plain(store, S_BEGIN, "starting a transaction");

	if (err)
		return err;
	store->in_txn = true;
	for (const struct op *op = store->held; op; op = op->next) {
		err = apply(store, op);
		if (err)
			return err;
	}
	return 0;
}

static int commit(struct store *store)
{
	size_t n = store->held_count;
	bool new_rows, recovered = store->failing;
	int err = run_plain(store, S_COMMIT, "committing");

	if (err)
		return set_failing(store, err);
	store->in_txn = false;
	release_held(store);
	new_rows = store->max_id > store->durable_max_id;
	store->durable_outbox_count = store->outbox_count;
	store->durable_evicted = store->evicted;
	store->durable_max_id = store->max_id;
	if (recovered) {
		store->failing = false;
		store->refusing = false;
		store->err = 0;
		if (store->retry_id > 0)
			loop_remove(store->loop, store->retry_id);
		store->retry_id = 0;
		log_notice("store: working again; %zu held writes are durable", n);
		notify(store, STORE_EVENT_HEALTH);
	}
	if (new_rows)
		notify(store, STORE_EVENT_DURABLE);
	return 0;
}

/* Each retry opens a fresh connection: the old one may be read-only, or on
 * a file that was replaced or repaired meanwhile. The old one is kept
 * until then, because on a full or failing disk opening can fail (SQLite
 * writes the -shm file) while reads of the backlog still work. */
static int retry(struct store *store)
{
	sqlite3_stmt *old_stmts[S_COUNT];
	sqlite3 *old = store->db;
	int err;

	memcpy(old_stmts, store->stmts, sizeof(old_stmts));
	memset(store->stmts, 0, sizeof(store->stmts));
	store->db = NULL;
	err = db_open(store);
	if (err) {
		store->db = old;
		memcpy(store->stmts, old_stmts, sizeof(old_stmts));
		return set_failing(store, err);
	}
	close_connection(old, old_stmts);
	err = begin(store);
	if (err)
		return set_failing(store, err);
	return commit(store);
}

int store_commit(struct store *store)
{
	if (!store)
		return -EINVAL;
	if (store->failing)
		return retry(store);
	return store->in_txn ? commit(store) : 0;
}

static void on_retry(struct loop *loop, void *user_data)
{
	struct store *store = user_data;

	(void)loop;
	store->retry_id = 0;
	store_commit(store);
}

static void on_commit(struct loop *loop, void *user_data)
{
	struct store *store = user_data;

	store->defer_id = 0;
	/* Removals waiting for a lazy commit go with this one. */
	if (store->lazy_id > 0)
		loop_remove(loop, store->lazy_id);
	store->lazy_id = 0;
	store_commit(store);
}

static void on_lazy_commit(struct loop *loop, void *user_data)
{
	struct store *store = user_data;

	(void)loop;
	store->lazy_id = 0;
	store_commit(store);
}

/* `lazy`: the batch so far holds only outbox removals (PUBACKs). Losing one
 * in a crash only means that message is sent again, which at-least-once
 * delivery allows, so it waits up to STORE_LAZY_COMMIT_MS for the next
 * batch of real writes instead of costing an fsync of its own every loop
 * iteration. */
static void schedule_commit(struct store *store, bool lazy)
{
	int id;

	if (!store->loop || store->defer_id > 0)
		return;
	if (lazy) {
		if (store->lazy_id > 0)
			return;
		id = loop_add_timer(store->loop, STORE_LAZY_COMMIT_MS, on_lazy_commit, store, NULL);
		if (id > 0) {
			store->lazy_id = id;
			return;
		}
	}
	id = loop_add_defer(store->loop, on_commit, store, NULL);
	if (id < 0) {
		/* Cannot wait for the end of the batch: commit now. */
		store_commit(store);
		return;
	}
	store->defer_id = id;
}

static struct op *op_new(enum op_type type, int64_t num, const char *const *texts,
			 unsigned int n_text, const void *blob, size_t blob_len)
{
	size_t lens[OP_TEXTS], size = blob_len;
	struct op *op;
	char *p;

	for (unsigned int i = 0; i < n_text; i++) {
		lens[i] = strlen(texts[i]) + 1;
		size += lens[i];
	}
	op = malloc(sizeof(*op) + size);
	if (!op)
		return NULL;
	*op = (struct op){.type = type, .num = num, .n_text = n_text, .size = sizeof(*op) + size};
	p = op->data;
	for (unsigned int i = 0; i < n_text; i++) {
		memcpy(p, texts[i], lens[i]);
		op->text[i] = p;
		p += lens[i];
	}
	if (blob) {
		memcpy(p, blob, blob_len);
		op->blob = (const uint8_t *)p;
		op->blob_len = blob_len;
	}
	return op;
}

/* How many held bytes may precede `op`. A write that moves a device on (a
 * record marked seen, a plugin's cursor) is refused STORE_HELD_RESERVE
 * earlier than the rest, so the messages of a record already marked seen
 * always fit, whichever order the caller writes them in. */
static size_t held_limit(const struct op *op)
{
	if (op->type == OP_RECORD_MARK || op->type == OP_STATE_SET)
		return STORE_HELD_MAX - STORE_HELD_RESERVE;
	return STORE_HELD_MAX;
}

/* Accepts a write: holds it, and applies it to the batch's transaction
 * unless the store is failing (then the retry applies it). */
static int submit(struct store *store, struct op *op)
{
	int err;

	if (!op)
		return -ENOMEM;
	/* A healthy batch that has grown to the bound ends early: its writes
	 * become durable and stop being held. */
	if (store->in_txn && store->held_bytes + op->size > STORE_HELD_MAX - STORE_HELD_RESERVE)
		store_commit(store);
	if (store->held_bytes + op->size > held_limit(op)) {
		free(op);
		if (!store->refusing) {
			store->refusing = true;
			log_err("store: %zu writes (%zu bytes) are held in memory; refusing new "
				"writes until they are durable",
				store->held_count, store->held_bytes);
			notify(store, STORE_EVENT_HEALTH);
		}
		return -ENOBUFS;
	}
	*store->held_tail = op;
	store->held_tail = &op->next;
	store->held_count++;
	store->held_bytes += op->size;
	if (store->failing)
		return 0;
	err = store->in_txn ? apply(store, op) : begin(store);
	if (err) {
		set_failing(store, err);
		return 0; /* held: the retry makes it durable */
	}
	schedule_commit(store, op->type == OP_OUTBOX_REMOVE);
	return 0;
}

/* 0 when `s` is a string of min..max bytes. */
static int check_text(const char *s, size_t min, size_t max)
{
	size_t n;

	if (!s)
		return -EINVAL;
	n = strnlen(s, max + 1);
	if (n < min)
		return -EINVAL;
	return n > max ? -EMSGSIZE : 0;
}

/* Two non-empty strings. */
static int check_pair(const char *a, size_t a_max, const char *b, size_t b_max)
{
	int err = check_text(a, 1, a_max);

	return err ? err : check_text(b, 1, b_max);
}

/* Reads need a connection; a failing store may have none. */
static int readable(struct store *store)
{
	return store->db ? 0 : store->err;
}

static int prepare_dir(const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		int err = -errno;

		log_err("store: cannot create %s: %s", dir, strerror(-err));
		return err;
	}
	if (stat(dir, &st) < 0) {
		int err = -errno;

		log_err("store: %s: %s", dir, strerror(-err));
		return err;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_err("store: %s is not a folder", dir);
		return -ENOTDIR;
	}
	/* Patient data: nobody but the service user may read it. */
	if (st.st_mode & 077) {
		if (chmod(dir, 0700) == 0)
			log_warn("store: %s was mode %04o, open to other users; set it to 0700",
				 dir, (unsigned int)(st.st_mode & 07777));
		else
			log_err("store: %s is mode %04o, open to other users, and cannot be "
				"changed: %s",
				dir, (unsigned int)(st.st_mode & 07777), strerror(errno));
	}
	return 0;
}

struct store *store_open(struct loop *loop, const char *state_dir, unsigned int max_outbox,
			 int *err)
{
	struct store *store;
	int r;

	r = check_text(state_dir, 1, PATH_MAX - 64);
	if (!r && max_outbox == 0)
		r = -EINVAL;
	if (!r)
		r = prepare_dir(state_dir);
	if (r) {
		*err = r;
		return NULL;
	}
	store = calloc(1, sizeof(*store));
	if (!store || !(store->dir = strdup(state_dir)) ||
	    asprintf(&store->db_path, "%s/" DB_NAME, state_dir) < 0) {
		if (store)
			free(store->dir);
		free(store);
		*err = -ENOMEM;
		return NULL;
	}
	store->loop = loop;
	store->max_outbox = max_outbox;
	store->held_tail = &store->held;
	r = db_open(store);
	if (r == -EPROTO || r == -ENOMEM) {
		store_free(store);
		*err = r;
		return NULL;
	}
	find_moved_aside(store);
	if (r)
		set_failing(store, r);
	else
		log_info("store: %s: schema version %d, %" PRIu64 " messages in the outbox",
			 store->db_path, SCHEMA_VERSION, store->outbox_count);
	*err = 0;
	return store;
}

void store_free(struct store *store)
{
	if (!store)
		return;
	/* Nobody is listening any more. */
	store_set_event_func(store, NULL, NULL, NULL);
	if (store->in_txn || store->held_count)
		store_commit(store);
	if (store->held_count)
		log_err("store: %zu writes could not be made durable and are lost",
			store->held_count);
	if (store->defer_id > 0)
		loop_remove(store->loop, store->defer_id);
	if (store->lazy_id > 0)
		loop_remove(store->loop, store->lazy_id);
	if (store->retry_id > 0)
		loop_remove(store->loop, store->retry_id);
	db_close(store);
	release_held(store);
	free(store->moved_aside);
	free(store->row_buf);
	free(store->db_path);
	free(store->dir);
	free(store);
}

void store_set_event_func(struct store *store, store_event_func func, void *user_data,
			  store_destroy_func destroy)
{
	if (!store)
		return;
	if (store->event_destroy)
		store->event_destroy(store->event_data);
	store->event = func;
	store->event_data = user_data;
	store->event_destroy = destroy;
}

enum store_health store_health(struct store *store, const char **text)
{
	enum store_health health = STORE_HEALTH_OK;
	char *t = store->health_text;
	size_t len = sizeof(store->health_text);

	if (store->failing) {
		health = STORE_HEALTH_FAILING;
		snprintf(t, len, "failing: %s; %zu writes held in memory%s", store->err_text,
			 store->held_count, store->refusing ? ", refusing new writes" : "");
	} else if (store->moved_aside) {
		health = STORE_HEALTH_DEGRADED;
		snprintf(t, len,
			 "degraded: a corrupt database was moved to %s; messages in it that "
			 "were not yet sent are not delivered",
			 store->moved_aside);
	} else {
		snprintf(t, len, "ok");
	}
	if (text)
		*text = t;
	return health;
}

uint64_t store_evicted_total(const struct store *store)
{
	return store ? store->durable_evicted : 0;
}

uint64_t store_outbox_count(const struct store *store)
{
	return store ? store->durable_outbox_count : 0;
}

size_t store_held_count(const struct store *store)
{
	return store ? store->held_count : 0;
}

int store_outbox_add(struct store *store, enum store_kind kind, const char *topic,
		     const void *payload, size_t len)
{
	int err;

	if (!store || kind < STORE_KIND_OBSERVATION || kind > STORE_KIND_EVENT || !payload ||
	    len == 0)
		return -EINVAL;
	if (len > STORE_PAYLOAD_MAX)
		return -EMSGSIZE;
	err = check_text(topic, 1, STORE_TOPIC_MAX);
	if (err)
		return err;
	return submit(store, op_new(OP_OUTBOX_ADD, kind, &topic, 1, payload, len));
}

int store_outbox_next(struct store *store, int64_t after_id, struct store_outbox_row *row)
{
	size_t topic_len, len, need;
	sqlite3_stmt *st = NULL;
	int err;

	if (!store || !row)
		return -EINVAL;
	err = readable(store);
	if (err)
		return err;
	err = prepare(store, S_OUTBOX_NEXT, &st);
	if (err)
		return set_failing(store, err);
	sqlite3_bind_int64(st, 1, after_id);
	sqlite3_bind_int64(st, 2, store->durable_max_id);
	err = step_row(store, st, "reading the outbox");
	if (err <= 0)
		return err < 0 ? set_failing(store, err) : 0;
	topic_len = strlen(column_text(st, 2));
	len = (size_t)sqlite3_column_bytes(st, 3);
	need = topic_len + 1 + len;
	if (need > store->row_cap) {
		char *buf = realloc(store->row_buf, need);

		if (!buf) {
			sqlite3_reset(st);
			return -ENOMEM;
		}
		store->row_buf = buf;
		store->row_cap = need;
	}
	memcpy(store->row_buf, column_text(st, 2), topic_len + 1);
	if (len)
		memcpy(store->row_buf + topic_len + 1, sqlite3_column_blob(st, 3), len);
	row->id = sqlite3_column_int64(st, 0);
	row->kind = (enum store_kind)sqlite3_column_int(st, 1);
	row->topic = store->row_buf;
	row->payload = (const uint8_t *)store->row_buf + topic_len + 1;
	row->len = len;
	sqlite3_reset(st);
	return 1;
}

int store_outbox_remove(struct store *store, int64_t id)
{
	if (!store || id <= 0)
		return -EINVAL;
	return submit(store, op_new(OP_OUTBOX_REMOVE, id, NULL, 0, NULL, 0));
}

/* The newest held write of `type` whose first `n` strings are `texts`, for
 * reads while held writes are not in the database. */
static const struct op *find_held(const struct store *store, enum op_type type,
				  const char *const *texts, unsigned int n)
{
	const struct op *found = NULL;

	if (store->in_txn)
		return NULL; /* every held write is in the transaction */
	for (const struct op *op = store->held; op; op = op->next) {
		unsigned int i = 0;

		if (op->type != type)
			continue;
		while (i < n && strcmp(op->text[i], texts[i]) == 0)
			i++;
		if (i == n)
			found = op;
	}
	return found;
}

/* Runs a keyed query whose first column is the answer: 1 with a row (the
 * caller resets), 0 for none, or a negative errno. */
static int lookup(struct store *store, enum stmt_id id, const char *const *keys, unsigned int n,
		  const char *what, sqlite3_stmt **out)
{
	int err = readable(store);

	if (err)
		return err;
	err = prepare(store, id, out);
	if (err)
		return set_failing(store, err);
	for (unsigned int i = 0; i < n; i++)
		sqlite3_bind_text(*out, (int)i + 1, keys[i], -1, SQLITE_STATIC);
	err = step_row(store, *out, what);
	return err < 0 ? set_failing(store, err) : err;
}

int store_record_seen(struct store *store, const char *device, const char *identity)
{
	const char *keys[] = {device, identity};
	sqlite3_stmt *st = NULL;
	int r;

	if (!store)
		return -EINVAL;
	r = check_pair(device, STORE_NAME_MAX, identity, STORE_NAME_MAX);
	if (r)
		return r;
	if (find_held(store, OP_RECORD_MARK, keys, 2))
		return 1;
	r = lookup(store, S_RECORD_FIND, keys, 2, "reading device records", &st);
	if (r == 1)
		sqlite3_reset(st);
	return r;
}

int store_record_mark(struct store *store, const char *device, const char *identity)
{
	const char *texts[] = {device, identity};
	int err;

	if (!store)
		return -EINVAL;
	err = check_pair(device, STORE_NAME_MAX, identity, STORE_NAME_MAX);
	if (err)
		return err;
	return submit(store, op_new(OP_RECORD_MARK, 0, texts, 2, NULL, 0));
}

static int copy_out(const char *value, char *buf, size_t len)
{
	size_t n = strlen(value);

	if (n >= len)
		return -ENOSPC;
	memcpy(buf, value, n + 1);
	return (int)n;
}

int store_state_get(struct store *store, const char *device, const char *key, char *buf, size_t len)
{
	const char *keys[] = {device, key};
	const struct op *held;
	sqlite3_stmt *st = NULL;
	int r;

	if (!store || !buf)
		return -EINVAL;
	r = check_pair(device, STORE_NAME_MAX, key, STORE_STATE_KEY_MAX);
	if (r)
		return r;
	held = find_held(store, OP_STATE_SET, keys, 2);
	if (held)
		return copy_out(held->text[2], buf, len);
	r = lookup(store, S_STATE_GET, keys, 2, "reading plugin state", &st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	r = copy_out(column_text(st, 0), buf, len);
	sqlite3_reset(st);
	return r;
}

int store_state_set(struct store *store, const char *device, const char *key, const char *value)
{
	const char *texts[] = {device, key, value};
	int err;

	if (!store)
		return -EINVAL;
	err = check_pair(device, STORE_NAME_MAX, key, STORE_STATE_KEY_MAX);
	if (!err)
		err = check_text(value, 0, STORE_STATE_VALUE_MAX);
	if (err)
		return err;
	return submit(store, op_new(OP_STATE_SET, 0, texts, 3, NULL, 0));
}

int store_alert_put(struct store *store, const char *key, const char *json)
{
	const char *texts[] = {key, json};
	int err;

	if (!store)
		return -EINVAL;
	err = check_pair(key, STORE_NAME_MAX, json, STORE_PAYLOAD_MAX);
	if (err)
		return err;
	return submit(store, op_new(OP_ALERT_PUT, 0, texts, 2, NULL, 0));
}

int store_alert_get(struct store *store, const char *key, char **json)
{
	sqlite3_stmt *st = NULL;
	int r;

	if (!store || !json)
		return -EINVAL;
	r = check_text(key, 1, STORE_NAME_MAX);
	if (r)
		return r;
	r = lookup(store, S_ALERT_GET, &key, 1, "reading alert state", &st);
	if (r <= 0)
		return r < 0 ? r : -ENOENT;
	*json = strdup(column_text(st, 0));
	sqlite3_reset(st);
	return *json ? 0 : -ENOMEM;
}

int store_audit(struct store *store, const char *actor, const char *action, const char *detail)
{
	const char *texts[] = {actor, action, detail};
	int err;

	if (!store)
		return -EINVAL;
	err = check_pair(actor, STORE_NAME_MAX, action, STORE_NAME_MAX);
	if (!err)
		err = check_text(detail, 0, STORE_TEXT_MAX);
	if (err)
		return err;
	return submit(store, op_new(OP_AUDIT, time_now_ms(), texts, 3, NULL, 0));
}

/* Binds the LIMIT of a "recent" query and runs it. */
static int recent(struct store *store, enum stmt_id id, unsigned int n, const char *patient,
		  const char *what, sqlite3_stmt **out)
{
	int err = readable(store);

	if (err)
		return err;
	err = prepare(store, id, out);
	if (err)
		return set_failing(store, err);
	sqlite3_bind_int64(*out, 1, n);
	if (patient)
		sqlite3_bind_text(*out, 2, patient, -1, SQLITE_STATIC);
	err = step_row(store, *out, what);
	return err < 0 ? set_failing(store, err) : err;
}

int store_audit_recent(struct store *store, unsigned int n, store_audit_func func, void *user_data)
{
	const char *what = "reading the audit log";
	sqlite3_stmt *st = NULL;
	int r, count = 0;

	if (!store || !func)
		return -EINVAL;
	for (r = recent(store, S_AUDIT_RECENT, n, NULL, what, &st); r == 1;
	     r = step_row(store, st, what)) {
		struct store_audit_entry e = {
			.actor = column_text(st, 1),
			.action = column_text(st, 2),
			.detail = column_text(st, 3),
			.time_ms = sqlite3_column_int64(st, 4),
		};

		func(&e, user_data);
		count++;
	}
	return r < 0 ? set_failing(store, r) : count;
}

int store_history_add(struct store *store, const struct store_history *entry)
{
	const char *texts[4];
	int err;

	if (!store || !entry)
		return -EINVAL;
	err = check_pair(entry->observation_id, STORE_NAME_MAX, entry->patient, STORE_NAME_MAX);
	if (!err)
		err = check_pair(entry->metric, STORE_NAME_MAX, entry->value, STORE_TEXT_MAX);
	if (err)
		return err;
	texts[0] = entry->observation_id;
	texts[1] = entry->patient;
	texts[2] = entry->metric;
	texts[3] = entry->value;
	return submit(store, op_new(OP_HISTORY_ADD, entry->effective_ms, texts, 4, NULL, 0));
}

int store_history_recent(struct store *store, const char *patient, unsigned int n,
			 store_history_func func, void *user_data)
{
	const char *what = "reading the history";
	sqlite3_stmt *st = NULL;
	int r, count = 0;

	if (!store || !func)
		return -EINVAL;
	if (patient && (r = check_text(patient, 1, STORE_NAME_MAX)))
		return r;
	for (r = recent(store, patient ? S_HISTORY_RECENT_PATIENT : S_HISTORY_RECENT, n, patient,
			what, &st);
	     r == 1; r = step_row(store, st, what)) {
		struct store_history e = {
			.observation_id = column_text(st, 1),
			.patient = column_text(st, 2),
			.metric = column_text(st, 3),
			.value = column_text(st, 4),
			.effective_ms = sqlite3_column_int64(st, 5),
		};

		func(&e, user_data);
		count++;
	}
	return r < 0 ? set_failing(store, r) : count;
}
