/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <grp.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "log_capture.h"
#include "loop.h"
#include "store.h"

#define TOPIC "varde/v1/gw-1/observation"
#define SKIP_EXIT 77 /* a forked check that cannot run here */

/* For forked children, where a cmocka assert cannot report. */
#define CHECK(cond) \
	do { \
		if (!(cond)) { \
			fprintf(stderr, "check failed at line %d: %s\n", __LINE__, #cond); \
			_exit(1); \
		} \
	} while (0)

struct fixture {
	char dir[64];
	char db[96];
};

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	chmod(path, 0700); /* a test may have left it read-only */
	return remove(path);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/varde-store-XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/varde.db", f->dir);
	log_capture_clear();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	chmod(f->dir, 0700);
	nftw(f->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static struct store *open_store(const char *dir, unsigned int max_outbox)
{
	int err = -1;
	struct store *store = store_open(NULL, dir, max_outbox, &err);

	if (!store)
		fail_msg("store_open: %s\n%s", strerror(-err), log_capture_text());
	assert_int_equal(err, 0);
	return store;
}

static void add(struct store *store, const char *payload)
{
	assert_int_equal(
		store_outbox_add(store, STORE_KIND_OBSERVATION, TOPIC, payload, strlen(payload)),
		0);
}

/* The payloads of the durable outbox, in order, comma-separated; a "!"
 * marks a row with a wrong topic or an id out of order. */
static const char *outbox_text(struct store *store)
{
	static char buf[8192];
	struct store_outbox_row row;
	int64_t after = 0;
	size_t off = 0;

	buf[0] = '\0';
	/* No cmocka asserts: forked children use it too. */
	while (store_outbox_next(store, after, &row) == 1 && off < sizeof(buf)) {
		bool good = row.id > after && strcmp(row.topic, TOPIC) == 0;

		off += (size_t)snprintf(buf + off, sizeof(buf) - off, "%s%.*s%s", off ? "," : "",
					(int)row.len, (const char *)row.payload, good ? "" : "!");
		after = row.id;
	}
	return buf;
}

/* Runs one SQL query on the file directly and returns its first column. */
static int64_t sql_int(const char *db_path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int64_t v = -1;

	assert_int_equal(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void sql_exec(const char *db_path, const char *sql)
{
	sqlite3 *db;

	assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void test_schema_created(void **state)
{
	struct fixture *f = *state;
	struct store *store;
	const char *text;
	struct stat st;
	sqlite3_stmt *s;
	sqlite3 *db;
	char dir[96];
	int err = 0;

	/* A state folder others can read is tightened, with a warning. */
	snprintf(dir, sizeof(dir), "%s/state", f->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
	chmod(dir, 0755);
	store = open_store(dir, 100);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_true(log_capture_has("was mode 0755", "set it to 0700", NULL));
	assert_int_equal(store_health(store, &text), STORE_HEALTH_OK);
	assert_string_equal(text, "ok");
	assert_int_equal(store_outbox_count(store), 0);
	store_free(store);

	snprintf(dir, sizeof(dir), "%s/state/varde.db", f->dir);
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 077, 0);
	assert_int_equal(sql_int(dir, "PRAGMA user_version"), 2);
	assert_int_equal(sql_int(dir,
				 "SELECT count(*) FROM sqlite_schema WHERE name IN ('outbox', "
				 "'device_record', 'device_state', 'alert_state', 'audit_log', "
				 "'history', 'counter')"),
			 7);
	/* WAL is a property of the file, so it is still set after close. */
	assert_int_equal(sqlite3_open(dir, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0), "wal");
	sqlite3_finalize(s);
	sqlite3_close(db);

	/* A state folder that is a file is refused. */
	snprintf(dir, sizeof(dir), "%s/file", f->dir);
	close(open(dir, O_CREAT | O_WRONLY, 0600));
	assert_null(store_open(NULL, dir, 100, &err));
	assert_int_equal(err, -ENOTDIR);
}

/* Schema version 1 as released. */
static const char v1_schema[] =
	"CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, kind INTEGER NOT NULL,"
	" topic TEXT NOT NULL, payload BLOB NOT NULL);"
	"CREATE TABLE device_record (device TEXT NOT NULL, seq INTEGER NOT NULL,"
	" identity TEXT NOT NULL, PRIMARY KEY (device, seq), UNIQUE (device, identity))"
	" WITHOUT ROWID;"
	"CREATE TABLE device_state (device TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
	" PRIMARY KEY (device, key)) WITHOUT ROWID;"
	"CREATE TABLE alert_state (key TEXT PRIMARY KEY, state TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE audit_log (id INTEGER PRIMARY KEY, actor TEXT NOT NULL, action TEXT NOT NULL,"
	" detail TEXT NOT NULL, time_ms INTEGER NOT NULL);"
	"INSERT INTO outbox (kind, topic, payload) VALUES (1, '" TOPIC "', CAST('old' AS BLOB));"
	"INSERT INTO device_record VALUES ('C0:26:DA:01:02:03', 1, 'seq:7');"
	"PRAGMA user_version = 1;";

static void history_count(const struct store_history *e, void *user_data)
{
	(void)e;
	(*(int *)user_data)++;
}

static void test_migration_from_v1(void **state)
{
	struct fixture *f = *state;
	struct store_history h = {"obs-1", "p-1", "spo2", 1700000000000, "94 %"};
	struct store *store;
	int n = 0;

	sql_exec(f->db, v1_schema);
	store = open_store(f->dir, 100);
	assert_true(log_capture_has("schema upgraded from version 1 to 2", NULL));
	assert_int_equal(sql_int(f->db, "PRAGMA user_version"), 2);
	/* What version 1 held is still there. */
	assert_string_equal(outbox_text(store), "old");
	assert_int_equal(store_record_seen(store, "C0:26:DA:01:02:03", "seq:7"), 1);
	/* What version 2 added works. */
	assert_int_equal(store_history_add(store, &h), 0);
	assert_int_equal(store_commit(store), 0);
	assert_int_equal(store_history_recent(store, NULL, 10, history_count, &n), 1);
	assert_int_equal(n, 1);
	assert_int_equal(store_evicted_total(store), 0);
	store_free(store);
}

static void test_newer_version_refused(void **state)
{
	struct fixture *f = *state;
	int err = 0;

	sql_exec(f->db, "CREATE TABLE future (x); PRAGMA user_version = 99;");
	assert_null(store_open(NULL, f->dir, 100, &err));
	assert_int_equal(err, -EPROTO);
	assert_true(log_capture_has("schema version 99", "newer varde", NULL));
	/* Never downgraded or touched. */
	assert_int_equal(sql_int(f->db, "PRAGMA user_version"), 99);
	assert_int_equal(sql_int(f->db, "SELECT count(*) FROM sqlite_schema"), 1);
}

static void test_outbox_order_and_durability(void **state)
{
	struct fixture *f = *state;
	struct store *store = open_store(f->dir, 100);
	struct store_outbox_row row;
	int64_t first;

	add(store, "r1");
	add(store, "r2");
	add(store, "r3");
	/* Not committed yet: the uplink must not see it. */
	assert_int_equal(store_outbox_next(store, 0, &row), 0);
	assert_int_equal(store_outbox_count(store), 0);
	assert_int_equal(store_held_count(store), 3);
	assert_int_equal(store_commit(store), 0);
	assert_int_equal(store_held_count(store), 0);
	assert_int_equal(store_outbox_count(store), 3);
	assert_int_equal(store_outbox_next(store, 0, &row), 1);
	assert_int_equal(row.kind, STORE_KIND_OBSERVATION);
	first = row.id;
	assert_int_equal(store_outbox_next(store, first, &row), 1);
	/* PUBACK for r2. */
	assert_int_equal(store_outbox_remove(store, row.id), 0);
	assert_int_equal(store_outbox_remove(store, row.id), 0);
	assert_int_equal(store_commit(store), 0);
	assert_string_equal(outbox_text(store), "r1,r3");
	store_free(store);

	store = open_store(f->dir, 100);
	assert_int_equal(store_outbox_count(store), 2);
	assert_string_equal(outbox_text(store), "r1,r3");
	/* Ids are never reused, even for a removed last row. */
	assert_int_equal(store_outbox_next(store, first + 1, &row), 1);
	assert_int_equal(store_outbox_remove(store, row.id), 0);
	assert_int_equal(store_commit(store), 0);
	add(store, "r4");
	assert_int_equal(store_commit(store), 0);
	assert_int_equal(store_outbox_next(store, first, &row), 1);
	assert_true(row.id > first + 2);
	store_free(store);
}

struct events {
	int durable;
	int health;
	int destroyed;
};

static void on_event(struct store *store, enum store_event event, void *user_data)
{
	struct events *e = user_data;

	(void)store;
	if (event == STORE_EVENT_DURABLE)
		e->durable++;
	else
		e->health++;
}

static void events_destroy(void *user_data)
{
	((struct events *)user_data)->destroyed++;
}

static void test_loop_commits_batch(void **state)
{
	struct fixture *f = *state;
	struct loop *loop = loop_new();
	struct events ev = {0};
	struct store_outbox_row row;
	struct store *store;
	int err = -1;

	assert_non_null(loop);
	store = store_open(loop, f->dir, 100, &err);
	assert_non_null(store);
	store_set_event_func(store, on_event, &ev, events_destroy);
	add(store, "a");
	add(store, "b");
	assert_int_equal(store_record_mark(store, "dev", "seq:1"), 0);
	assert_int_equal(store_outbox_next(store, 0, &row), 0);
	/* The commit runs from a defer; one batch, one DURABLE. */
	for (int i = 0; i < 3 && ev.durable == 0; i++)
		loop_iterate(loop, 0);
	assert_int_equal(ev.durable, 1);
	assert_int_equal(ev.health, 0);
	assert_string_equal(outbox_text(store), "a,b");
	/* Nothing to commit: no event, no wakeup. */
	assert_int_equal(loop_iterate(loop, 0), 0);
	assert_int_equal(ev.durable, 1);
	store_free(store);
	assert_int_equal(ev.destroyed, 1);
	loop_free(loop);
}

static void test_eviction_oldest_first(void **state)
{
	struct fixture *f = *state;
	struct store *store = open_store(f->dir, 3);
	char p[8];

	for (int i = 1; i <= 5; i++) {
		snprintf(p, sizeof(p), "r%d", i);
		add(store, p);
	}
	assert_int_equal(store_commit(store), 0);
	assert_string_equal(outbox_text(store), "r3,r4,r5");
	assert_int_equal(store_outbox_count(store), 3);
	assert_int_equal(store_evicted_total(store), 2);
	assert_true(log_capture_has("outbox full (3 messages)", "evicted", NULL));
	store_free(store);

	/* The count survives a restart, and a smaller limit applies at once. */
	store = open_store(f->dir, 2);
	assert_int_equal(store_evicted_total(store), 2);
	add(store, "r6");
	assert_int_equal(store_commit(store), 0);
	assert_string_equal(outbox_text(store), "r5,r6");
	assert_int_equal(store_evicted_total(store), 4);
	store_free(store);
}

static void test_dedup_across_reopen_and_pruning(void **state)
{
	struct fixture *f = *state;
	struct store *store = open_store(f->dir, 100);
	char id[32];

	assert_int_equal(store_record_seen(store, "dev-a", "seq:1"), 0);
	assert_int_equal(store_record_mark(store, "dev-a", "seq:1"), 0);
	/* Seen within the same batch, before the commit. */
	assert_int_equal(store_record_seen(store, "dev-a", "seq:1"), 1);
	assert_int_equal(store_record_mark(store, "dev-b", "time:2024-11-29T23:08:57:bp"), 0);
	assert_int_equal(store_commit(store), 0);
	store_free(store);

	store = open_store(f->dir, 100);
	assert_int_equal(store_record_seen(store, "dev-a", "seq:1"), 1);
	assert_int_equal(store_record_seen(store, "dev-a", "seq:2"), 0);
	/* Per device. */
	assert_int_equal(store_record_seen(store, "dev-b", "seq:1"), 0);
	assert_int_equal(store_record_seen(store, "dev-b", "time:2024-11-29T23:08:57:bp"), 1);

	/* Marking again is harmless; the oldest go once a device has more
	 * than STORE_RECORDS_PER_DEVICE. */
	assert_int_equal(store_record_mark(store, "dev-a", "seq:1"), 0);
	for (int i = 2; i <= STORE_RECORDS_PER_DEVICE + 1; i++) {
		snprintf(id, sizeof(id), "seq:%d", i);
		assert_int_equal(store_record_mark(store, "dev-a", id), 0);
	}
	assert_int_equal(store_commit(store), 0);
	assert_int_equal(store_record_seen(store, "dev-a", "seq:1"), 0);
	assert_int_equal(store_record_seen(store, "dev-a", "seq:2"), 1);
	snprintf(id, sizeof(id), "seq:%d", STORE_RECORDS_PER_DEVICE + 1);
	assert_int_equal(store_record_seen(store, "dev-a", id), 1);
	assert_int_equal(store_record_seen(store, "dev-b", "time:2024-11-29T23:08:57:bp"), 1);
	assert_int_equal(
		sql_int(f->db, "SELECT count(*) FROM device_record WHERE device = 'dev-a'"),
		STORE_RECORDS_PER_DEVICE);
	store_free(store);
}

static void test_plugin_state(void **state)
{
	struct fixture *f = *state;
	struct store *store = open_store(f->dir, 100);
	char key[40], buf[8];

	assert_int_equal(store_state_get(store, "dev", "last_seq", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(store_state_set(store, "dev", "last_seq", "12"), 0);
	assert_int_equal(store_state_set(store, "dev", "last_seq", "13"), 0);
	assert_int_equal(store_state_set(store, "dev", "empty", ""), 0);
	assert_int_equal(store_state_set(store, "other", "last_seq", "1234567890"), 0);
	assert_int_equal(store_commit(store), 0);
	store_free(store);

	store = open_store(f->dir, 100);
	assert_int_equal(store_state_get(store, "dev", "last_seq", buf, sizeof(buf)), 2);
	assert_string_equal(buf, "13");
	assert_int_equal(store_state_get(store, "dev", "empty", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "");
	assert_int_equal(store_state_get(store, "other", "last_seq", buf, sizeof(buf)), -ENOSPC);
	memset(key, 'k', sizeof(key));
	key[STORE_STATE_KEY_MAX + 1] = '\0';
	assert_int_equal(store_state_set(store, "dev", key, "1"), -EMSGSIZE);
	key[STORE_STATE_KEY_MAX] = '\0';
	assert_int_equal(store_state_set(store, "dev", key, "1"), 0);
	assert_int_equal(store_state_get(store, "dev", key, buf, sizeof(buf)), 1);
	store_free(store);
}

static void test_alert_state(void **state)
{
	struct fixture *f = *state;
	struct store *store = open_store(f->dir, 100);
	char *json = NULL;

	assert_int_equal(store_alert_put(store, "p-1/spo2", "{\"hits\":1}"), 0);
	assert_int_equal(store_alert_put(store, "p-1/bp", "{\"raised\":true}"), 0);
	assert_int_equal(store_alert_put(store, "p-1/spo2", "{\"hits\":2}"), 0);
	assert_int_equal(store_alert_put(store, "p-2/temp", "{}"), 0);
	assert_int_equal(store_alert_put(store, "p-1/x", ""), -EINVAL);
	assert_int_equal(store_commit(store), 0);
	store_free(store);

	store = open_store(f->dir, 100);
	assert_int_equal(store_alert_get(store, "p-1/spo2", &json), 0);
	assert_string_equal(json, "{\"hits\":2}");
	free(json);
	assert_int_equal(store_alert_get(store, "p-2/temp", &json), 0);
	assert_string_equal(json, "{}");
	free(json);
	assert_int_equal(store_alert_get(store, "p-3/none", &json), -ENOENT);
	store_free(store);
}

struct audit {
	int n;
	char first[64];
	int64_t time_ms;
};

static void collect_audit(const struct store_audit_entry *e, void *user_data)
{
	struct audit *a = user_data;

	if (a->n++ == 0)
		snprintf(a->first, sizeof(a->first), "%s|%s|%s", e->actor, e->action, e->detail);
	a->time_ms = e->time_ms;
}

static void test_audit_log(void **state)
{
	struct fixture *f = *state;
	struct store *store = open_store(f->dir, 100);
	struct audit a = {0};
	char detail[32];
	time_t now = time(NULL);

	assert_int_equal(store_audit(store, "installer", "device bound", "C0:26:DA:01:02:03"), 0);
	assert_int_equal(store_audit(store, "nurse:n-12", "alert acknowledged", "a-1"), 0);
	assert_int_equal(store_audit(store, "hub", "rules changed", ""), 0);
	assert_int_equal(store_commit(store), 0);
	assert_int_equal(store_audit_recent(store, 2, collect_audit, &a), 2);
	assert_string_equal(a.first, "nurse:n-12|alert acknowledged|a-1");
	assert_true(a.time_ms / 1000 >= now - 1 && a.time_ms / 1000 <= now + 1);

	for (int i = 0; i < STORE_AUDIT_MAX; i++) {
		snprintf(detail, sizeof(detail), "n%d", i);
		assert_int_equal(store_audit(store, "hub", "test", detail), 0);
	}
	assert_int_equal(store_commit(store), 0);
	memset(&a, 0, sizeof(a));
	assert_int_equal(store_audit_recent(store, UINT_MAX, collect_audit, &a), STORE_AUDIT_MAX);
	assert_string_equal(a.first, "hub|test|n0");
	store_free(store);
}

struct history {
	int n;
	char first[96];
	char last[96];
};

static void collect_history(const struct store_history *e, void *user_data)
{
	struct history *h = user_data;

	snprintf(h->n++ == 0 ? h->first : h->last, sizeof(h->first), "%s %s %s %s %lld",
		 e->observation_id, e->patient, e->metric, e->value, (long long)e->effective_ms);
}

static void test_history_bounds(void **state)
{
	struct fixture *f = *state;
	struct store *store = open_store(f->dir, 100);
	struct history h = {0};
	char obs[32];

	for (int i = 0; i < STORE_HISTORY_MAX + 5; i++) {
		struct store_history e = {obs, i % 2 ? "p-odd" : "p-even", "pulse", i, "60 /min"};

		snprintf(obs, sizeof(obs), "obs-%d", i);
		assert_int_equal(store_history_add(store, &e), 0);
	}
	assert_int_equal(store_commit(store), 0);
	assert_int_equal(store_history_recent(store, NULL, UINT_MAX, collect_history, &h),
			 STORE_HISTORY_MAX);
	assert_string_equal(h.first, "obs-5 p-odd pulse 60 /min 5");
	memset(&h, 0, sizeof(h));
	assert_int_equal(store_history_recent(store, "p-even", 2, collect_history, &h), 2);
	snprintf(obs, sizeof(obs), "obs-%d", STORE_HISTORY_MAX + 2);
	assert_non_null(strstr(h.first, obs));
	assert_non_null(strstr(h.last, "p-even"));
	assert_int_equal(store_history_recent(store, "nobody", 5, collect_history, &h), 0);
	store_free(store);
}

static int count_files(const char *pattern)
{
	glob_t g;
	int n = glob(pattern, 0, NULL, &g) == 0 ? (int)g.gl_pathc : 0;

	globfree(&g);
	return n;
}

static void expect_moved_aside(struct fixture *f, struct store *store)
{
	char pattern[128];
	const char *text;

	assert_int_equal(store_health(store, &text), STORE_HEALTH_DEGRADED);
	assert_non_null(strstr(text, "corrupt database was moved to"));
	assert_true(log_capture_has("is corrupt: moved it to", "varde-corrupt-", NULL));
	snprintf(pattern, sizeof(pattern), "%s/varde-corrupt-*.db", f->dir);
	assert_int_equal(count_files(pattern), 1);
	/* The store works on a new database. */
	add(store, "after");
	assert_int_equal(store_commit(store), 0);
	assert_string_equal(outbox_text(store), "after");
	assert_int_equal(store_health(store, NULL), STORE_HEALTH_DEGRADED);
}

static void test_corrupt_file(void **state)
{
	struct fixture *f = *state;
	char garbage[8192];
	struct store *store;
	glob_t g;
	int fd;

	memset(garbage, 'x', sizeof(garbage));
	fd = open(f->db, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, garbage, sizeof(garbage)), sizeof(garbage));
	close(fd);
	store = open_store(f->dir, 100);
	assert_true(log_capture_has("file is not a database", NULL));
	expect_moved_aside(f, store);
	store_free(store);

	/* Still degraded after a restart, until the file is dealt with. */
	store = open_store(f->dir, 100);
	assert_int_equal(store_health(store, NULL), STORE_HEALTH_DEGRADED);
	assert_string_equal(outbox_text(store), "after");
	store_free(store);
	snprintf(garbage, sizeof(garbage), "%s/varde-corrupt-*.db", f->dir);
	assert_int_equal(glob(garbage, 0, NULL, &g), 0);
	assert_int_equal(unlink(g.gl_pathv[0]), 0);
	globfree(&g);
	store = open_store(f->dir, 100);
	assert_int_equal(store_health(store, NULL), STORE_HEALTH_OK);
	store_free(store);
}

static void test_corrupt_pages(void **state)
{
	struct fixture *f = *state;
	struct store *store = open_store(f->dir, 100);
	char garbage[4096];
	struct stat st;
	int fd;

	for (int i = 0; i < 50; i++)
		add(store, "before");
	assert_int_equal(store_commit(store), 0);
	store_free(store);
	/* Page 1 (header and schema) intact, every table garbage. */
	memset(garbage, 0xa5, sizeof(garbage));
	assert_int_equal(stat(f->db, &st), 0);
	fd = open(f->db, O_WRONLY);
	assert_true(fd >= 0);
	for (off_t off = 4096; off < st.st_size; off += 4096)
		assert_int_equal(pwrite(fd, garbage, sizeof(garbage), off), sizeof(garbage));
	close(fd);
	store = open_store(f->dir, 100);
	assert_true(log_capture_has("malformed", NULL));
	expect_moved_aside(f, store);
	store_free(store);
}

/* Disk full, as far as this process is concerned: every write at an offset
 * past 1 byte fails (EFBIG), for root too. */
static void disk_full(bool full)
{
	struct rlimit rl;

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = full ? 1 : rl.rlim_max;
	signal(SIGXFSZ, full ? SIG_IGN : SIG_DFL);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

static void test_write_failure_held_and_retried(void **state)
{
	struct fixture *f = *state;
	struct loop *loop = loop_new();
	struct events ev = {0};
	struct store_outbox_row row;
	struct store *store;
	const char *text;
	char buf[16];
	int err = -1;

	store = store_open(loop, f->dir, 100, &err);
	assert_non_null(store);
	store_set_event_func(store, on_event, &ev, NULL);
	add(store, "r1");
	assert_int_equal(store_commit(store), 0);

	disk_full(true);
	add(store, "r2");
	assert_int_equal(store_record_mark(store, "dev", "seq:2"), 0);
	assert_int_equal(store_state_set(store, "dev", "cursor", "2"), 0);
	err = store_commit(store);
	assert_true(err < 0);
	assert_int_equal(ev.health, 1);
	assert_int_equal(store_health(store, &text), STORE_HEALTH_FAILING);
	assert_non_null(strstr(text, "3 writes held in memory"));
	assert_true(log_capture_has("store: committing:", NULL));
	assert_true(log_capture_has("store: failing", NULL));
	/* Not durable, so not for the uplink; the durable backlog still is. */
	assert_string_equal(outbox_text(store), "r1");
	/* Held writes count for de-duplication and plugin state. */
	assert_int_equal(store_record_seen(store, "dev", "seq:2"), 1);
	assert_int_equal(store_state_get(store, "dev", "cursor", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "2");
	/* Later writes are accepted and held; an explicit retry fails too. */
	add(store, "r3");
	assert_int_equal(store_held_count(store), 4);
	assert_true(store_commit(store) < 0);
	assert_int_equal(store_outbox_next(store, 0, &row), 1);

	/* The disk has room again: the retry timer makes it all durable. */
	disk_full(false);
	log_capture_clear();
	for (int i = 0; i < 30 && store_health(store, NULL) != STORE_HEALTH_OK; i++)
		loop_iterate(loop, 200);
	assert_int_equal(store_health(store, &text), STORE_HEALTH_OK);
	assert_true(log_capture_has("working again; 4 held writes are durable", NULL));
	assert_int_equal(ev.health, 2);
	assert_true(ev.durable >= 2);
	assert_int_equal(store_held_count(store), 0);
	assert_string_equal(outbox_text(store), "r1,r2,r3");
	store_free(store);
	loop_free(loop);

	store = open_store(f->dir, 100);
	assert_string_equal(outbox_text(store), "r1,r2,r3");
	assert_int_equal(store_record_seen(store, "dev", "seq:2"), 1);
	assert_int_equal(store_state_get(store, "dev", "cursor", buf, sizeof(buf)), 1);
	store_free(store);
}

static void test_held_writes_bounded(void **state)
{
	struct fixture *f = *state;
	static char big[STORE_PAYLOAD_MAX];
	struct store *store = open_store(f->dir, 100000);
	char id[32];
	const char *text;
	int n = 0, err;

	memset(big, 'b', sizeof(big));
	disk_full(true);
	add(store, "first");
	assert_true(store_commit(store) < 0);
	/* As ingest does: mark the record seen, then add its message. */
	for (;; n++) {
		snprintf(id, sizeof(id), "seq:%d", n);
		err = store_record_mark(store, "dev", id);
		if (err)
			break;
		assert_int_equal(
			store_outbox_add(store, STORE_KIND_OBSERVATION, TOPIC, big, sizeof(big)),
			0);
	}
	assert_int_equal(err, -ENOBUFS);
	assert_true(n > 0 && (size_t)n * sizeof(big) <= STORE_HELD_MAX);
	assert_int_equal(store_state_set(store, "dev", "cursor", "9"), -ENOBUFS);
	assert_int_equal(store_health(store, &text), STORE_HEALTH_FAILING);
	assert_non_null(strstr(text, "refusing new writes"));
	assert_true(log_capture_has("refusing new writes until they are durable", NULL));
	/* Room is left for messages of records already marked. */
	assert_int_equal(store_outbox_add(store, STORE_KIND_ALERT, TOPIC, big, sizeof(big)), 0);
	while (store_outbox_add(store, STORE_KIND_EVENT, TOPIC, big, sizeof(big)) == 0)
		n++;

	disk_full(false);
	assert_int_equal(store_commit(store), 0);
	assert_int_equal(store_health(store, NULL), STORE_HEALTH_OK);
	assert_int_equal(store_outbox_count(store), (uint64_t)n + 2);
	assert_int_equal(store_record_seen(store, "dev", "seq:0"), 1);
	assert_int_equal(store_state_set(store, "dev", "cursor", "9"), 0);
	assert_int_equal(store_commit(store), 0);
	store_free(store);
}

static void child_add(struct store *store, const char *payload)
{
	CHECK(store_outbox_add(store, STORE_KIND_OBSERVATION, TOPIC, payload, strlen(payload)) ==
	      0);
}

/* In a child: makes the store's files read-only to it. Root ignores file
 * modes, so as root the child first becomes an unprivileged user. */
static void read_only_child(struct fixture *f)
{
	struct store *store;
	const char *text;
	int err = -1;

	if (geteuid() == 0 &&
	    (chown(f->dir, 65534, 65534) < 0 || setgroups(0, NULL) < 0 ||
	     setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0))
		_exit(SKIP_EXIT);
	store = store_open(NULL, f->dir, 100, &err);
	CHECK(store);
	child_add(store, "r1");
	CHECK(store_commit(store) == 0);
	store_free(store);

	/* The file is read-only: reads work, writes are held and retried. */
	CHECK(chmod(f->db, 0400) == 0);
	store = store_open(NULL, f->dir, 100, &err);
	CHECK(store && err == 0);
	CHECK(store_health(store, &text) == STORE_HEALTH_FAILING);
	CHECK(strstr(text, "read-only"));
	CHECK(log_capture_has("varde.db can only be opened read-only", NULL));
	child_add(store, "r2");
	CHECK(store_commit(store) == -EROFS);
	CHECK(chmod(f->db, 0600) == 0);
	CHECK(store_commit(store) == 0);
	CHECK(store_health(store, NULL) == STORE_HEALTH_OK);
	CHECK(strcmp(outbox_text(store), "r1,r2") == 0);
	store_free(store);

	/* The folder is read-only: SQLite cannot create its -wal/-shm. */
	CHECK(chmod(f->dir, 0500) == 0);
	log_capture_clear();
	store = store_open(NULL, f->dir, 100, &err);
	CHECK(store && err == 0);
	child_add(store, "r3");
	CHECK(store_commit(store) < 0);
	CHECK(store_health(store, &text) == STORE_HEALTH_FAILING);
	fprintf(stderr, "  health: %s\n", text);
	CHECK(chmod(f->dir, 0700) == 0);
	CHECK(store_commit(store) == 0);
	CHECK(strcmp(outbox_text(store), "r1,r2,r3") == 0);
	store_free(store);
	_exit(0);
}

static void test_read_only(void **state)
{
	struct fixture *f = *state;
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		read_only_child(f);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == SKIP_EXIT)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void crash_child(struct fixture *f)
{
	struct store *store;
	char p[8];
	int err;

	store = store_open(NULL, f->dir, 100, &err);
	CHECK(store);
	for (int i = 0; i < 5; i++) {
		snprintf(p, sizeof(p), "c%d", i);
		child_add(store, p);
	}
	CHECK(store_record_mark(store, "dev", "seq:4") == 0);
	CHECK(store_state_set(store, "dev", "cursor", "4") == 0);
	CHECK(store_commit(store) == 0);
	/* A second batch, killed before its commit. */
	for (int i = 5; i < 200; i++) {
		snprintf(p, sizeof(p), "c%d", i);
		child_add(store, p);
	}
	CHECK(store_record_mark(store, "dev", "seq:199") == 0);
	CHECK(store_state_set(store, "dev", "cursor", "199") == 0);
	kill(getpid(), SIGKILL);
	_exit(1);
}

static void test_crash_keeps_committed_rows(void **state)
{
	struct fixture *f = *state;
	struct store *store;
	char buf[8];
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0)
		crash_child(f);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);

	store = open_store(f->dir, 100);
	assert_string_equal(outbox_text(store), "c0,c1,c2,c3,c4");
	assert_int_equal(store_outbox_count(store), 5);
	assert_int_equal(store_record_seen(store, "dev", "seq:4"), 1);
	assert_int_equal(store_record_seen(store, "dev", "seq:199"), 0);
	assert_int_equal(store_state_get(store, "dev", "cursor", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "4");
	store_free(store);
}

static void test_invalid_arguments(void **state)
{
	struct fixture *f = *state;
	struct store *store = open_store(f->dir, 100);
	struct store_outbox_row row;
	char long_name[STORE_NAME_MAX + 2];
	int err = 0;

	store_free(NULL);
	assert_null(store_open(NULL, f->dir, 0, &err));
	assert_int_equal(err, -EINVAL);
	assert_int_equal(store_outbox_add(NULL, STORE_KIND_ALERT, TOPIC, "x", 1), -EINVAL);
	assert_int_equal(store_outbox_add(store, 0, TOPIC, "x", 1), -EINVAL);
	assert_int_equal(store_outbox_add(store, STORE_KIND_ALERT, "", "x", 1), -EINVAL);
	assert_int_equal(store_outbox_add(store, STORE_KIND_ALERT, TOPIC, "x", 0), -EINVAL);
	assert_int_equal(
		store_outbox_add(store, STORE_KIND_ALERT, TOPIC, "x", STORE_PAYLOAD_MAX + 1),
		-EMSGSIZE);
	assert_int_equal(store_outbox_remove(store, 0), -EINVAL);
	memset(long_name, 'n', sizeof(long_name));
	long_name[STORE_NAME_MAX + 1] = '\0';
	assert_int_equal(store_record_mark(store, long_name, "seq:1"), -EMSGSIZE);
	assert_int_equal(store_record_seen(store, "dev", NULL), -EINVAL);
	assert_int_equal(store_audit(store, "hub", long_name, ""), -EMSGSIZE);
	assert_int_equal(store_history_recent(store, long_name, 1, history_count, NULL), -EMSGSIZE);
	assert_int_equal(store_held_count(store), 0);
	assert_int_equal(store_outbox_next(store, 0, &row), 0);
	store_free(store);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_schema_created, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migration_from_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_version_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outbox_order_and_durability, setup, teardown),
		cmocka_unit_test_setup_teardown(test_loop_commits_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eviction_oldest_first, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dedup_across_reopen_and_pruning, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_plugin_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_alert_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_audit_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_history_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_pages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_failure_held_and_retried, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_held_writes_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crash_keeps_committed_rows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_arguments, setup, teardown),
	};

	log_capture_start();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
