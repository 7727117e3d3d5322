/* tests/unit/test_cdr.c  CDR database: schema, writer thread, DIDs, tail */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "util/util.h"
#include "cdr/cdr.h"
#include "cdr/cdr_int.h"

/* 2026-01-01T00:00:00Z: far from 0, so "0 means none" never collides. */
#define T0 INT64_C(1767225600000)

struct fixture {
	char dir[64];
	char db[128];
	char csv[160];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	strcpy(fx->dir, "/tmp/test_cdr.XXXXXX");
	if (!mkdtemp(fx->dir)) {
		free(fx);
		return -1;
	}
	snprintf(fx->db, sizeof(fx->db), "%s/tollgate.db", fx->dir);
	snprintf(fx->csv, sizeof(fx->csv), "%s.unwritten.csv", fx->db);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	struct dirent *de;
	char path[512];
	DIR *d;

	d = opendir(fx->dir);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", fx->dir, de->d_name);
		unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

static sqlite3 *db_conn(const char *path)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
					 NULL), SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static void db_run(sqlite3 *db, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
		fail_msg("%s: %s", sql, msg);
}

static int64_t db_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st;
	int64_t v;

	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static int64_t count_rows(const char *path)
{
	sqlite3 *db = db_conn(path);
	int64_t n = db_int(db, "SELECT count(*) FROM cdr");

	sqlite3_close(db);
	return n;
}

/* A record whose every field follows from @p i, so a row read back can be
 * checked against rec_make(i) field by field. */
static void rec_make(struct cdr_record *r, unsigned i)
{
	/* (answer offset, end offset) pairs covering billsec rounding */
	static const int64_t talk[][2] = {
		{0, 30000},      /* unanswered */
		{2000, 2000},    /* answered, hung up at once: 0 s */
		{2000, 2001},    /* 1 ms: 1 s */
		{2000, 3000},    /* exactly 1 s */
		{2000, 3001},    /* 1.001 s: 2 s */
		{5000, 65999},   /* 60.999 s: 61 s */
	};
	const int64_t *t = talk[i % TG_ARRAY_SIZE(talk)];

	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "00000000-0000-4000-8000-%012u", i);
	r->start_ms = T0 + (int64_t)i * 10;
	r->answer_ms = t[0] ? r->start_ms + t[0] : 0;
	r->end_ms = r->start_ms + t[1];
	snprintf(r->calling, sizeof(r->calling), "2125550%03u", i % 1000);
	snprintf(r->called, sizeof(r->called), "1555010%04u", i);
	r->direction = i % 3 ? CDR_OUTBOUND : CDR_INBOUND;
	snprintf(r->in_trunk, sizeof(r->in_trunk), "in%u", i % 4);
	snprintf(r->out_trunk, sizeof(r->out_trunk), "span%u", i % 2);
	r->span = i % 7 ? (int)(i % 4) + 1 : 0;
	r->chan = r->span ? (int)(i % 23) + 1 : 0;
	snprintf(r->sip_call_id, sizeof(r->sip_call_id), "c%u@pbx.example",
		 i);
	r->disposition = r->answer_ms ? CDR_ANSWERED
				      : (enum cdr_disposition)(1 + i % 4);
	r->q850_cause = i % 5 ? 16 + (int)(i % 3) : 0;
	r->sip_status = i % 11 ? 200 + (int)(i % 400) : 0;
	strcpy(r->codec, i % 2 ? "PCMA" : "PCMU");
	snprintf(r->route, sizeof(r->route), "r%u", i % 3);
	if (i % 2) {
		strcpy(r->rate_prefix, "1555");
		r->rate = 12500;
		r->conn_fee = 100;
		r->cost = 12600;
	}
	r->emergency = i % 13 == 0;
	if (i % 4 == 2) {
		/* Media figures, some unknown (no RTCP came back). */
		struct cdr_media *m = &r->media;

		m->set = true;
		m->tx_packets = 1000 + i;
		m->rx_packets = 990;
		m->rx_lost = 10;
		m->late = 1;
		m->jitter_us = 2500;
		m->rtt_us = i % 8 == 2 ? -1 : 40125;
		m->remote_lost = i % 8 == 2 ? -1 : 7;
		m->remote_jitter_us = i % 8 == 2 ? -1 : 3000;
		m->mos_rx = 421;
		m->mos_tx = i % 8 == 2 ? 0 : 398;
		m->concealed = 4;
		m->jb_drops = 2;
		m->srtp_auth_fail = 0;
		/* ... and a T.38 fax. */
		strcpy(r->fax, "t38");
		r->fax_pages = 2;
		r->fax_bit_rate = 9600;
	}
	/* Attempts: the last one carried the call. */
	r->nattempts = i % 3;
	for (unsigned k = 0; k < r->nattempts; k++) {
		struct cdr_attempt *a = &r->attempts[k];

		snprintf(a->trunk, sizeof(a->trunk), "t%u", k);
		snprintf(a->called, sizeof(a->called), "+1555010%04u", i);
		a->start_ms = r->start_ms + k;
		a->end_ms = a->start_ms + 5;
		a->sip_status = k + 1 < r->nattempts ? 503 : 200;
		a->q850_cause = k + 1 < r->nattempts ? 34 : 0;
		strcpy(a->outcome, k + 1 < r->nattempts ? "failover"
							: "answered");
	}
}

static void check_text(sqlite3_stmt *st, int col, const char *want)
{
	const char *got = (const char *)sqlite3_column_text(st, col);

	if (!want) {
		assert_int_equal(sqlite3_column_type(st, col), SQLITE_NULL);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
}

static void check_int(sqlite3_stmt *st, int col, int64_t want, bool null0)
{
	if (null0 && !want) {
		assert_int_equal(sqlite3_column_type(st, col), SQLITE_NULL);
		return;
	}
	assert_int_equal(sqlite3_column_type(st, col), SQLITE_INTEGER);
	assert_int_equal(sqlite3_column_int64(st, col), want);
}

static void check_row(sqlite3_stmt *st, unsigned i)
{
	static const char *const disp[] = {
		"ANSWERED", "BUSY", "NO ANSWER", "FAILED", "CONGESTION",
	};
	char start[32], answer[32], end[32];
	struct cdr_record r;
	int64_t billsec;

	rec_make(&r, i);
	tg_time_fmt(start, sizeof(start), r.start_ms);
	tg_time_fmt(answer, sizeof(answer), r.answer_ms);
	tg_time_fmt(end, sizeof(end), r.end_ms);
	billsec = r.answer_ms ? (r.end_ms - r.answer_ms + 999) / 1000 : 0;

	check_text(st, 0, r.id);
	check_text(st, 1, start);
	check_text(st, 2, r.answer_ms ? answer : NULL);
	check_text(st, 3, end);
	check_int(st, 4, r.start_ms, false);
	check_int(st, 5, r.answer_ms, true);
	check_int(st, 6, r.end_ms, false);
	check_int(st, 7, r.end_ms - r.start_ms, false);
	check_int(st, 8, billsec, false);
	check_text(st, 9, r.calling);
	check_text(st, 10, r.called);
	check_text(st, 11, r.direction == CDR_INBOUND ? "inbound"
						       : "outbound");
	check_text(st, 12, r.in_trunk);
	check_text(st, 13, r.out_trunk);
	check_int(st, 14, r.span, true);
	check_int(st, 15, r.chan, true);
	check_text(st, 16, r.sip_call_id);
	check_text(st, 17, disp[r.disposition]);
	check_int(st, 18, r.q850_cause, true);
	check_int(st, 19, r.sip_status, true);
	check_text(st, 20, r.codec);
}

static void submit_range(struct cdr_writer *w, unsigned from, unsigned n)
{
	struct cdr_record r;

	for (unsigned i = from; i < from + n; i++) {
		rec_make(&r, i);
		assert_int_equal(cdr_writer_submit(w, &r), 0);
	}
}

static bool wait_written(struct cdr_writer *w, uint64_t n, unsigned ms)
{
	for (unsigned t = 0; t < ms; t += 10) {
		if (cdr_writer_written(w) >= n)
			return true;
		sleep_ms(10);
	}
	return cdr_writer_written(w) >= n;
}

static size_t file_lines(const char *path, char ***linesp)
{
	char **lines = NULL, buf[2048];
	size_t n = 0;
	FILE *f;

	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(buf, sizeof(buf), f)) {
		buf[strcspn(buf, "\n")] = '\0';
		lines = realloc(lines, (n + 1) * sizeof(*lines));
		assert_non_null(lines);
		lines[n++] = strdup(buf);
	}
	fclose(f);
	*linesp = lines;
	return n;
}

static void lines_free(char **lines, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
}

/* ---- schema -------------------------------------------------------------- */

static void test_schema_idempotent_wal(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db;

	assert_int_equal(cdr_db_init(fx->db), 0);
	db = db_conn(fx->db);
	db_run(db, "INSERT INTO did(first,last,trunk,user) VALUES('5550100','5550199','pbx','')");
	sqlite3_close(db);

	/* A restart must keep what is there, not recreate it. */
	assert_int_equal(cdr_db_init(fx->db), 0);
	assert_int_equal(cdr_db_init(fx->db), 0);

	db = db_conn(fx->db);
	assert_int_equal(db_int(db, "SELECT count(*) FROM did"), 1);
	assert_int_equal(db_int(db, "PRAGMA user_version"), 9);
	assert_int_equal(db_int(db, "SELECT count(*) FROM sqlite_master "
				"WHERE name IN ('cdr','did','cdr_start_ms',"
				"'route','number_rule','rate','block',"
				"'cdr_attempt','meta')"),
			 9);
	assert_int_equal(db_int(db, "SELECT count(*) FROM "
				"pragma_index_info('cdr_start_ms') "
				"WHERE name = 'start_ms'"), 1);
	/* WAL is recorded in the file, so every later reader gets it. */
	assert_int_equal(db_int(db, "SELECT journal_mode = 'wal' FROM "
				"pragma_journal_mode"), 1);
	sqlite3_close(db);
}

/* A version 1 file (the first release) is updated in place: its CDRs
 * and DIDs stay, the new columns and tables appear. */
static void test_schema_migration_v1(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db;

	assert_int_equal(sqlite3_open(fx->db, &db), SQLITE_OK);
	db_run(db, "CREATE TABLE cdr (id TEXT PRIMARY KEY NOT NULL,"
	       " start_time TEXT, answer_time TEXT, end_time TEXT,"
	       " start_ms INTEGER, answer_ms INTEGER, end_ms INTEGER,"
	       " duration_ms INTEGER, billsec INTEGER, calling TEXT,"
	       " called TEXT, direction TEXT, in_trunk TEXT, out_trunk TEXT,"
	       " span INTEGER, chan INTEGER, sip_call_id TEXT,"
	       " disposition TEXT, q850_cause INTEGER, sip_status INTEGER,"
	       " codec TEXT);"
	       "CREATE INDEX cdr_start_ms ON cdr(start_ms);"
	       "CREATE TABLE did (first TEXT NOT NULL, last TEXT NOT NULL,"
	       " trunk TEXT NOT NULL, user TEXT NOT NULL DEFAULT '',"
	       " CHECK(length(first) = length(last) AND first <= last));"
	       "INSERT INTO cdr(id, calling) VALUES ('old-1', '2125550000');"
	       "INSERT INTO did VALUES ('5550100', '5550199', 'pbx', 'u');"
	       "PRAGMA user_version = 1;");
	sqlite3_close(db);

	assert_int_equal(cdr_db_init(fx->db), 0);
	db = db_conn(fx->db);
	assert_int_equal(db_int(db, "PRAGMA user_version"), 9);
	/* v6: members refine their zone's floor, unit and room. */
	assert_int_equal(db_int(db, "SELECT count(*) FROM pragma_table_info("
				    "'e911_member') WHERE name IN ('flr', "
				    "'unit', 'room')"), 3);
	assert_int_equal(db_int(db, "SELECT count(*) FROM cdr WHERE id = "
				"'old-1' AND emergency = 0 AND route IS NULL"),
			 1);
	/* v7: the media quality columns, NULL on the old rows. */
	assert_int_equal(db_int(db, "SELECT count(*) FROM cdr WHERE id = "
				"'old-1' AND mos_rx IS NULL AND rtt_ms IS NULL "
				"AND rtp_rx_lost IS NULL AND srtp_auth_fail "
				"IS NULL"), 1);
	assert_int_equal(db_int(db, "SELECT count(*) FROM did WHERE user = "
				"'u' AND cid = '' AND failover_trunk = ''"),
			 1);
	assert_int_equal(db_int(db, "SELECT value FROM meta WHERE key = "
				"'rates_version'"), 1);
	assert_int_equal(db_int(db, "SELECT count(*) FROM sqlite_master "
				"WHERE type = 'trigger'"), 3);
	/* Every routing table is there, empty. */
	assert_int_equal(db_int(db, "SELECT (SELECT count(*) FROM route) + "
				"(SELECT count(*) FROM number_rule) + "
				"(SELECT count(*) FROM block) + "
				"(SELECT count(*) FROM cdr_attempt)"), 0);
	db_run(db, "INSERT INTO rate(carrier, prefix, rate) VALUES "
	       "('a', '1', 5)");
	assert_int_equal(db_int(db, "SELECT value FROM meta WHERE key = "
				"'rates_version'"), 2);
	sqlite3_close(db);
	/* And opening again changes nothing. */
	assert_int_equal(cdr_db_init(fx->db), 0);
}

/* Version 2 -> 3 -> 4: ENUM domains on routes, URIs on attempts,
 * diverting numbers on CDRs, number rules rebuilt to take 'diversion'
 * with their rows kept; then the e911 tables and CDR columns. */
static void test_schema_migration_v2(void **state)
{
	struct fixture *fx = *state;
	sqlite3 *db;

	assert_int_equal(cdr_db_init(fx->db), 0);
	db = db_conn(fx->db);
	/* Back to what version 2 had. */
	db_run(db, "INSERT INTO number_rule(direction, number, name, match)"
	       " VALUES ('ingress', 'calling', 'keep-me', '2');"
	       "INSERT INTO route(name, trunks) VALUES ('r', 'pstn');"
	       "ALTER TABLE route DROP COLUMN enum;"
	       "ALTER TABLE cdr_attempt DROP COLUMN target;"
	       "ALTER TABLE cdr DROP COLUMN diversion;"
	       "DROP TABLE e911_zone; DROP TABLE e911_member;"
	       "DROP INDEX cdr_elin;"
	       "ALTER TABLE cdr DROP COLUMN e911_zone;"
	       "ALTER TABLE cdr DROP COLUMN elin;"
	       "ALTER TABLE cdr DROP COLUMN e911_trunk;"
	       "ALTER TABLE cdr DROP COLUMN e911_user;"
	       "ALTER TABLE cdr DROP COLUMN callback;"
	       "ALTER TABLE cdr DROP COLUMN e911_ref;"
	       "ALTER TABLE cdr DROP COLUMN rtp_tx_packets;"
	       "ALTER TABLE cdr DROP COLUMN rtp_rx_packets;"
	       "ALTER TABLE cdr DROP COLUMN rtp_rx_lost;"
	       "ALTER TABLE cdr DROP COLUMN rtp_late;"
	       "ALTER TABLE cdr DROP COLUMN rtp_jitter_ms;"
	       "ALTER TABLE cdr DROP COLUMN rtt_ms;"
	       "ALTER TABLE cdr DROP COLUMN mos_rx;"
	       "ALTER TABLE cdr DROP COLUMN mos_tx;"
	       "ALTER TABLE cdr DROP COLUMN remote_lost;"
	       "ALTER TABLE cdr DROP COLUMN remote_jitter_ms;"
	       "ALTER TABLE cdr DROP COLUMN plc_concealed;"
	       "ALTER TABLE cdr DROP COLUMN jb_drops;"
	       "ALTER TABLE cdr DROP COLUMN srtp_auth_fail;"
	       "ALTER TABLE cdr DROP COLUMN transfer_to;"
	       "ALTER TABLE cdr DROP COLUMN transfer_ref;"
	       "ALTER TABLE cdr DROP COLUMN fax;"
	       "ALTER TABLE cdr DROP COLUMN fax_pages;"
	       "ALTER TABLE cdr DROP COLUMN fax_bit_rate;"
	       "PRAGMA user_version = 2;");
	sqlite3_close(db);

	assert_int_equal(cdr_db_init(fx->db), 0);
	db = db_conn(fx->db);
	assert_int_equal(db_int(db, "PRAGMA user_version"), 9);
	assert_int_equal(db_int(db, "SELECT count(*) FROM number_rule WHERE "
				"name = 'keep-me' AND number = 'calling'"), 1);
	assert_int_equal(db_int(db, "SELECT count(*) FROM route WHERE "
				"name = 'r' AND enum = ''"), 1);
	db_run(db, "INSERT INTO number_rule(direction, number) VALUES "
	       "('egress', 'diversion');"
	       "INSERT INTO cdr_attempt(cdr_id, n, target) VALUES "
	       "('x', 1, 'sip:+1@h');"
	       "INSERT INTO cdr(id, diversion) VALUES ('y', '12125552001');");
	assert_int_equal(sqlite3_exec(db, "INSERT INTO number_rule(direction, "
				      "number) VALUES ('egress', 'redirect')",
				      NULL, NULL, NULL),
			 SQLITE_CONSTRAINT);
	/* Version 4's e911 tables and columns came with it. */
	db_run(db, "INSERT INTO e911_zone(name, elins) VALUES ('z', '1');"
	       "INSERT INTO e911_member(zone, kind, match) VALUES "
	       "('z', 'trunk', 'pbx');"
	       "UPDATE cdr SET elin = '1', e911_zone = 'z', callback = 1, "
	       "e911_ref = 'x' WHERE id = 'y';");
	assert_int_equal(sqlite3_exec(db, "INSERT INTO e911_member(zone, kind, "
				      "match) VALUES ('z', 'mac', 'x')",
				      NULL, NULL, NULL),
			 SQLITE_CONSTRAINT);
	sqlite3_close(db);
}

static unsigned rejects;

static void on_reject(unsigned line, const char *why, void *arg)
{
	(void)why;
	(void)arg;
	assert_int_equal(line, 4);
	rejects++;
}

/* Routing rows in, the same rows out; bad rows named; rates imported in
 * one transaction and versioned. */
static void test_routing_tables(void **state)
{
	struct fixture *fx = *state;
	struct cdr_routing r;
	static const char deck[] = "prefix,rate,increment\n"
				   "1212,0.01,6/6\n"
				   "44,0.02,60/60\n"
				   "4420,x,60/60\n";
	const char *route[] = {"us", "10", "prefix", "1", "pbx", "a,b", "1"};
	const char *rule[] = {"ingress", "calling", "_2XXX", "prepend=1"};
	const char *blk[] = {"called", "1900", "premium"};
	const char *did[] = {"5550100", "5550199", "pbx", "c1"};
	char err[256];
	size_t ok, bad;
	int64_t v0;

	assert_int_equal(cdr_db_init(fx->db), 0);
	assert_int_equal(cdr_db_write(fx->db, "INSERT INTO route (name, "
				      "priority, kind, match, src_trunks, "
				      "trunks, lcr) VALUES (?1, ?2, ?3, ?4, "
				      "?5, ?6, ?7)", route, 7, err,
				      sizeof(err)), 0);
	assert_int_equal(cdr_db_write(fx->db, "INSERT INTO number_rule "
				      "(direction, number, kind, match, "
				      "actions) VALUES (?1, ?2, 'pattern', "
				      "?3, ?4)", rule, 4, err, sizeof(err)),
			 0);
	assert_int_equal(cdr_db_write(fx->db, "INSERT INTO block (kind, "
				      "match, category) VALUES (?1, ?2, ?3)",
				      blk, 3, err, sizeof(err)), 0);
	assert_int_equal(cdr_db_write(fx->db, "INSERT INTO did (first, last, "
				      "trunk, failover_trunk) VALUES (?1, ?2, "
				      "?3, ?4)", did, 4, err, sizeof(err)), 0);
	/* Deleting what is not there says so. */
	assert_int_equal(cdr_db_write(fx->db, "DELETE FROM route WHERE "
				      "name = ?1", blk, 1, err, sizeof(err)),
			 ENOENT);

	assert_int_equal(cdr_db_load_routing(fx->db, &r, err, sizeof(err)),
			 0);
	assert_int_equal(r.nroutes, 1);
	assert_string_equal(r.routes[0].name, "us");
	assert_int_equal(r.routes[0].priority, 10);
	assert_true(r.routes[0].lcr);
	assert_string_equal(r.routes[0].trunks, "a,b");
	assert_int_equal(r.ningress, 0);
	assert_int_equal(r.ningress_calling, 1);
	assert_string_equal(r.ingress_calling[0].match, "_2XXX");
	assert_int_equal(r.nblocks, 1);
	assert_string_equal(r.blocks[0].category, "premium");
	assert_int_equal(r.ndids, 1);
	assert_string_equal(r.dids[0].failover_trunk, "c1");
	v0 = r.rates_version;
	cdr_routing_free(&r);

	/* A rate deck: two good lines, one rejected with its line. */
	rejects = 0;
	assert_int_equal(cdr_db_rates_import(fx->db, "c1", deck,
					     strlen(deck), false, on_reject,
					     NULL, &ok, &bad, err,
					     sizeof(err)), 0);
	assert_int_equal(ok, 2);
	assert_int_equal(bad, 1);
	assert_int_equal(rejects, 1);
	/* --replace: the carrier's rows are the new file's, not twice. */
	assert_int_equal(cdr_db_rates_import(fx->db, "c1", deck,
					     strlen(deck), true, NULL, NULL,
					     &ok, &bad, err, sizeof(err)), 0);
	assert_int_equal(cdr_db_load_routing(fx->db, &r, err, sizeof(err)),
			 0);
	assert_int_equal(r.nrates, 2);
	assert_int_equal(r.rates[0].rate + r.rates[1].rate, 30000);
	assert_true(r.rates_version > v0);
	v0 = r.rates_version;
	cdr_routing_free(&r);
	/* Nothing importable: nothing written. */
	assert_int_equal(cdr_db_rates_import(fx->db, "c2", "prefix,rate\n1,x\n",
					     15, false, NULL, NULL, &ok, &bad,
					     err, sizeof(err)), EINVAL);
	/* A route change is not a rate change. */
	assert_int_equal(cdr_db_write(fx->db, "UPDATE route SET priority = 5",
				      NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(cdr_db_load_routing(fx->db, &r, err, sizeof(err)),
			 0);
	assert_int_equal(r.rates_version, v0);
	assert_int_equal(r.nrates, 2);
	cdr_routing_free(&r);

	/* A row that does not fit is named. */
	{
		char longm[200];
		const char *args[2] = {"big", longm};

		memset(longm, '1', sizeof(longm) - 1);
		longm[sizeof(longm) - 1] = '\0';
		assert_int_equal(cdr_db_write(fx->db, "INSERT INTO route "
					      "(name, match) VALUES (?1, ?2)",
					      args, 2, err, sizeof(err)), 0);
		assert_int_equal(cdr_db_load_routing(fx->db, &r, err,
						     sizeof(err)),
				 EINVAL);
		assert_non_null(strstr(err, "route 'big'"));
		assert_int_equal(r.nroutes, 0);
	}
}

/* ---- routing tables: typed writers, checks, rate imports ---------------- */

static void route_set(struct dp_route_row *r, const char *name,
		      unsigned priority)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->name, name);
	r->priority = priority;
	strcpy(r->kind, "any");
}

/* Every field of every table through its writer and back through
 * cdr_db_load_routing, byte for byte. */
static void test_routing_add_roundtrip(void **state)
{
	struct fixture *fx = *state;
	struct dp_route_row rt[2];
	struct dp_rule_row ru[4];
	struct dp_block_row bl[2];
	struct dp_did_range dd[2];
	struct cdr_routing r;
	int64_t id = 0, id2 = 0;
	char err[256];

	assert_int_equal(cdr_db_init(fx->db), 0);

	route_set(&rt[0], "intl", 20);
	strcpy(rt[0].kind, "regex");
	strcpy(rt[0].match, "^44(20|161)");
	strcpy(rt[0].src_trunks, "pbx, pbx2");
	strcpy(rt[0].calling, "_2XXX");
	strcpy(rt[0].days, "mon-fri");
	strcpy(rt[0].hours, "22:00-06:00");
	strcpy(rt[0].tz, "CET-1CEST,M3.5.0,M10.5.0/3");
	strcpy(rt[0].trunks, "sip1,pri1");
	rt[0].lcr = true;
	strcpy(rt[0].failover, "sip:503=final,wrong-number=route");
	rt[0].t_trying_ms = 1500;
	rt[0].t_progress_ms = 8000;
	rt[0].t_answer_ms = 60000;
	rt[0].max_calls = 30;
	rt[0].cps = 5;
	route_set(&rt[1], "local", 10);
	strcpy(rt[1].kind, "prefix");
	strcpy(rt[1].match, "1212");
	strcpy(rt[1].trunks, "pri1");
	/* A first version of "local", replaced by name. */
	{
		struct dp_route_row old = rt[1];

		strcpy(old.trunks, "sip9");
		old.cps = 1;
		assert_int_equal(cdr_db_route_put(fx->db, &old, err,
						  sizeof(err)), 0);
	}
	assert_int_equal(cdr_db_route_put(fx->db, &rt[0], err, sizeof(err)),
			 0);
	assert_int_equal(cdr_db_route_put(fx->db, &rt[1], err, sizeof(err)),
			 0);

	memset(ru, 0, sizeof(ru));
	for (int i = 0; i < 4; i++) {
		snprintf(ru[i].name, sizeof(ru[i].name), "rule%d", i);
		strcpy(ru[i].kind, "prefix");
		snprintf(ru[i].match, sizeof(ru[i].match), "%d", 10 + i);
	}
	strcpy(ru[0].kind, "regex");
	strcpy(ru[0].match, "^0(.*)");
	strcpy(ru[0].replace, "44$1");
	strcpy(ru[0].actions, "replace,ton=international,continue");
	strcpy(ru[0].trunk, "pri1");
	strcpy(ru[0].ton, "national");
	strcpy(ru[1].actions, "strip=1,prepend=9");
	strcpy(ru[2].actions, "pres=restricted");
	strcpy(ru[3].actions, "npi=isdn");
	/* Positions order the rules, whatever the order added. */
	assert_int_equal(cdr_db_rule_add(fx->db, "ingress", "called", 2,
					 &ru[1], &id, err, sizeof(err)), 0);
	assert_int_equal(cdr_db_rule_add(fx->db, "ingress", "called", 1,
					 &ru[0], &id2, err, sizeof(err)), 0);
	assert_true(id2 > id && id > 0);
	assert_int_equal(cdr_db_rule_add(fx->db, "egress", "called", 0,
					 &ru[2], NULL, err, sizeof(err)), 0);
	assert_int_equal(cdr_db_rule_add(fx->db, "egress", "calling", 0,
					 &ru[3], NULL, err, sizeof(err)), 0);

	memset(bl, 0, sizeof(bl));
	strcpy(bl[0].kind, "called");
	strcpy(bl[0].match, "1900");
	strcpy(bl[0].category, "premium");
	strcpy(bl[1].kind, "calling");
	strcpy(bl[1].match, "_NXX555XXXX");
	strcpy(bl[1].trunk, "sip1");
	assert_int_equal(cdr_db_block_add(fx->db, &bl[0], &id, err,
					  sizeof(err)), 0);
	assert_int_equal(cdr_db_block_add(fx->db, &bl[1], &id2, err,
					  sizeof(err)), 0);
	assert_int_equal(id2, id + 1);

	memset(dd, 0, sizeof(dd));
	strcpy(dd[0].first, "2125550100");
	strcpy(dd[0].last, "2125550199");
	strcpy(dd[0].trunk, "pbx");
	strcpy(dd[0].user, "front-desk");
	strcpy(dd[0].cid, "+12125550100");
	strcpy(dd[0].failover_trunk, "sip1");
	strcpy(dd[0].failover_number, "15550001111");
	strcpy(dd[1].first, "2125550200");
	strcpy(dd[1].last, "2125550200");
	strcpy(dd[1].trunk, "pbx2");
	assert_int_equal(cdr_db_did_add(fx->db, &dd[1], err, sizeof(err)), 0);
	assert_int_equal(cdr_db_did_add(fx->db, &dd[0], err, sizeof(err)), 0);

	assert_int_equal(cdr_db_load_routing(fx->db, &r, err, sizeof(err)),
			 0);
	assert_int_equal(r.nroutes, 2); /* by priority */
	assert_memory_equal(&r.routes[0], &rt[1], sizeof(rt[1]));
	assert_memory_equal(&r.routes[1], &rt[0], sizeof(rt[0]));
	assert_int_equal(r.ningress, 2);
	assert_memory_equal(&r.ingress[0], &ru[0], sizeof(ru[0]));
	assert_memory_equal(&r.ingress[1], &ru[1], sizeof(ru[1]));
	assert_int_equal(r.negress, 1);
	assert_memory_equal(&r.egress[0], &ru[2], sizeof(ru[2]));
	assert_int_equal(r.negress_calling, 1);
	assert_memory_equal(&r.egress_calling[0], &ru[3], sizeof(ru[3]));
	assert_int_equal(r.ningress_calling, 0);
	assert_int_equal(r.nblocks, 2);
	assert_memory_equal(r.blocks, bl, sizeof(bl));
	assert_int_equal(r.ndids, 2); /* by first */
	assert_memory_equal(r.dids, dd, sizeof(dd));
	assert_int_equal(r.nrates, 0);
	cdr_routing_free(&r);
	assert_null(r.routes);
}

/* Rows the daemon's builders would refuse are refused before a write,
 * with the reason; nothing reaches the table. */
static void test_routing_add_refused(void **state)
{
	static const struct {
		const char *field, *value, *why;
	} bad_routes[] = {
		{"kind", "prefx", "kind 'prefx'"},
		{"match", "^(44", "regex '^(44' at offset"},
		{"days", "mon-fry", "days 'mon-fry'"},
		{"hours", "25:00-26:00", "hours"},
		{"tz", "Mars/Olympus", "time zone 'Mars/Olympus' not found"},
		{"trunks", "a,b,c,d,e,f,g,h,i", "more than 8 trunks"},
		{"trunks", "", "no trunks and no lcr"},
		{"failover", "sip:999=maybe", "failover"},
		{"calling", "abc", "calling 'abc'"},
	};
	struct fixture *fx = *state;
	struct dp_route_row rt;
	struct dp_rule_row ru;
	struct dp_block_row bl;
	struct dp_did_range dd;
	char err[256];
	sqlite3 *db;

	assert_int_equal(cdr_db_init(fx->db), 0);
	for (size_t i = 0; i < TG_ARRAY_SIZE(bad_routes); i++) {
		route_set(&rt, "r", 1);
		strcpy(rt.trunks, "a");
		if (!strcmp(bad_routes[i].value, "^(44"))
			strcpy(rt.kind, "regex");
		if (!strcmp(bad_routes[i].field, "kind"))
			strcpy(rt.kind, bad_routes[i].value);
		else if (!strcmp(bad_routes[i].field, "match"))
			strcpy(rt.match, bad_routes[i].value);
		else if (!strcmp(bad_routes[i].field, "days"))
			strcpy(rt.days, bad_routes[i].value);
		else if (!strcmp(bad_routes[i].field, "hours"))
			strcpy(rt.hours, bad_routes[i].value);
		else if (!strcmp(bad_routes[i].field, "tz"))
			strcpy(rt.tz, bad_routes[i].value);
		else if (!strcmp(bad_routes[i].field, "trunks"))
			strcpy(rt.trunks, bad_routes[i].value);
		else if (!strcmp(bad_routes[i].field, "failover"))
			strcpy(rt.failover, bad_routes[i].value);
		else
			strcpy(rt.calling, bad_routes[i].value);
		err[0] = '\0';
		assert_int_equal(cdr_db_route_put(fx->db, &rt, err,
						  sizeof(err)), EINVAL);
		if (!strstr(err, bad_routes[i].why))
			fail_msg("%s=%s: got '%s'", bad_routes[i].field,
				 bad_routes[i].value, err);
	}
	/* A zone name resolves through the zone database. */
	route_set(&rt, "ny", 1);
	strcpy(rt.trunks, "a");
	strcpy(rt.tz, "America/New_York");
	assert_int_equal(cdr_db_route_put(fx->db, &rt, err, sizeof(err)), 0);
	route_set(&rt, "slow", 1);
	strcpy(rt.trunks, "a");
	rt.t_trying_ms = CDR_T_MAX_MS + 1;
	assert_int_equal(cdr_db_route_put(fx->db, &rt, err, sizeof(err)),
			 EINVAL);
	route_set(&rt, "", 1);
	strcpy(rt.trunks, "a");
	assert_int_equal(cdr_db_route_put(fx->db, &rt, err, sizeof(err)),
			 EINVAL);

	memset(&ru, 0, sizeof(ru));
	strcpy(ru.kind, "pattern");
	strcpy(ru.match, "_2X");
	strcpy(ru.actions, "strip=x");
	assert_int_equal(cdr_db_rule_add(fx->db, "ingress", "called", 0, &ru,
					 NULL, err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "strip=x"));
	strcpy(ru.actions, "strip=1");
	assert_int_equal(cdr_db_rule_add(fx->db, "sideways", "called", 0,
					 &ru, NULL, err, sizeof(err)), EINVAL);
	assert_int_equal(cdr_db_rule_add(fx->db, "egress", "both", 0, &ru,
					 NULL, err, sizeof(err)), EINVAL);
	strcpy(ru.ton, "martian");
	assert_int_equal(cdr_db_rule_add(fx->db, "egress", "called", 0, &ru,
					 NULL, err, sizeof(err)), EINVAL);

	memset(&bl, 0, sizeof(bl));
	strcpy(bl.kind, "called");
	strcpy(bl.match, "19a0");
	assert_int_equal(cdr_db_block_add(fx->db, &bl, NULL, err,
					  sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "19a0"));
	strcpy(bl.kind, "both");
	strcpy(bl.match, "1900");
	assert_int_equal(cdr_db_block_add(fx->db, &bl, NULL, err,
					  sizeof(err)), EINVAL);

	memset(&dd, 0, sizeof(dd));
	strcpy(dd.first, "5550100");
	strcpy(dd.last, "5550199");
	strcpy(dd.trunk, "pbx");
	assert_int_equal(cdr_db_did_add(fx->db, &dd, err, sizeof(err)), 0);
	strcpy(dd.first, "5550150"); /* overlaps */
	strcpy(dd.last, "5550250");
	assert_int_equal(cdr_db_did_add(fx->db, &dd, err, sizeof(err)),
			 EINVAL);
	assert_non_null(strstr(err, "overlap"));
	strcpy(dd.first, "555020"); /* unequal lengths */
	assert_int_equal(cdr_db_did_add(fx->db, &dd, err, sizeof(err)),
			 EINVAL);
	strcpy(dd.first, "5550200");
	strcpy(dd.cid, "abc");
	assert_int_equal(cdr_db_did_add(fx->db, &dd, err, sizeof(err)),
			 EINVAL);
	dd.cid[0] = '\0';
	strcpy(dd.failover_number, "5551234");
	assert_int_equal(cdr_db_did_add(fx->db, &dd, err, sizeof(err)),
			 EINVAL);
	assert_non_null(strstr(err, "failover"));
	dd.trunk[0] = '\0';
	dd.failover_number[0] = '\0';
	assert_int_equal(cdr_db_did_add(fx->db, &dd, err, sizeof(err)),
			 EINVAL);

	db = db_conn(fx->db);
	assert_int_equal(db_int(db, "SELECT (SELECT count(*) FROM route) * "
				"1000 + (SELECT count(*) FROM number_rule) * "
				"100 + (SELECT count(*) FROM block) * 10 + "
				"(SELECT count(*) FROM did)"), 1001);
	sqlite3_close(db);
}

struct rejects {
	char text[1024];
	size_t len;
};

static void on_reject_log(unsigned line, const char *why, void *arg)
{
	struct rejects *rj = arg;

	rj->len += (size_t)snprintf(rj->text + rj->len,
				    sizeof(rj->text) - rj->len,
				    "%u: %s\n", line, why);
}

static int64_t rates_version(const char *path)
{
	sqlite3 *db = db_conn(path);
	int64_t v = db_int(db, "SELECT value FROM meta WHERE key = "
			   "'rates_version'");

	sqlite3_close(db);
	return v;
}

/* "prefix:rate ..." of @p carrier's rows, by prefix then date. */
static void rates_of(const char *path, const char *carrier, char *out,
		     size_t size)
{
	sqlite3 *db = db_conn(path);
	sqlite3_stmt *st;
	size_t n = 0;

	out[0] = '\0';
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT prefix, rate FROM "
					    "rate WHERE carrier = ?1 ORDER BY "
					    "prefix, eff_from", -1, &st,
					    NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, carrier, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW && n < size)
		n += (size_t)snprintf(out + n, size - n, "%s%s:%lld",
				      n ? " " : "", sqlite3_column_text(st, 0),
				      (long long)sqlite3_column_int64(st, 1));
	sqlite3_finalize(st);
	sqlite3_close(db);
}

static int import(const char *path, const char *carrier, const char *deck,
		  bool replace, struct rejects *rj, size_t *ok, size_t *bad)
{
	char err[256];

	if (rj)
		memset(rj, 0, sizeof(*rj));
	return cdr_db_rates_import(path, carrier, deck, strlen(deck), replace,
				   rj ? on_reject_log : NULL, rj, ok, bad, err,
				   sizeof(err));
}

static void test_rates_import(void **state)
{
	struct fixture *fx = *state;
	static const char deck1[] =
		"Prefix;Rate;Increment;Effective From;Effective Until\n"
		"44;0,02;60/60;;2027-01-01\n"
		"44;0,018;60/60;2027-01-01;\n"
		"4420;0,015;6/6;;\n"
		"4420;0,016;6/6;2026-06-01;\n"   /* overlaps line 4 */
		"447;x;60/60;;\n"                /* bad rate */
		"49;0,04;60/60;;\n";
	static const char deck2[] = "prefix,rate\n44,0.03\n33,0.05\n";
	static const char other[] = "prefix,rate,carrier\n1,0.01,c2\n"
				    "1,0.01,c1\n";
	struct rejects rj;
	struct cdr_routing r;
	char got[512], err[256];
	size_t ok, bad;
	int64_t v;
	sqlite3 *db;

	assert_int_equal(cdr_db_init(fx->db), 0);
	v = rates_version(fx->db);
	assert_int_equal(import(fx->db, "c1", deck1, false, &rj, &ok, &bad),
			 0);
	assert_int_equal(ok, 4);
	assert_int_equal(bad, 2);
	assert_string_equal(rj.text,
			    "5: prefix 4420: its dates overlap those of line "
			    "4\n6: bad rate 'x'\n");
	rates_of(fx->db, "c1", got, sizeof(got));
	assert_string_equal(got, "44:20000 44:18000 4420:15000 49:40000");
	assert_int_equal(rates_version(fx->db), v + 1);
	v++;
	/* Another carrier's rows stay whatever c1 does. */
	assert_int_equal(import(fx->db, "c3", deck2, false, NULL, &ok, &bad),
			 0);
	v++;

	/* Merge: 44 replaced (both dated rows), 33 added, 4420/49 kept. */
	assert_int_equal(import(fx->db, "c1", deck2, false, &rj, &ok, &bad),
			 0);
	assert_int_equal(ok, 2);
	rates_of(fx->db, "c1", got, sizeof(got));
	assert_string_equal(got, "33:50000 44:30000 4420:15000 49:40000");
	assert_int_equal(rates_version(fx->db), ++v);

	/* Replace: only the file's rows. */
	assert_int_equal(import(fx->db, "c1", deck2, true, &rj, &ok, &bad),
			 0);
	rates_of(fx->db, "c1", got, sizeof(got));
	assert_string_equal(got, "33:50000 44:30000");
	assert_int_equal(rates_version(fx->db), ++v);
	rates_of(fx->db, "c3", got, sizeof(got));
	assert_string_equal(got, "33:50000 44:30000");

	/* A deck's carrier column must be the carrier imported. */
	assert_int_equal(import(fx->db, "c1", other, false, &rj, &ok, &bad),
			 0);
	assert_int_equal(ok, 1);
	assert_int_equal(bad, 1);
	assert_non_null(strstr(rj.text, "2: carrier 'c2' is not c1"));
	v++;

	/* Nothing importable: nothing written, the version kept, whatever
	 * --replace says. */
	assert_int_equal(import(fx->db, "c1", "prefix,rate\n1,x\n", true, &rj,
				&ok, &bad), EINVAL);
	assert_int_equal(bad, 1);
	assert_int_equal(import(fx->db, "c1", "no,header\n", true, &rj, &ok,
				&bad), EBADMSG);
	assert_non_null(strstr(rj.text, "1: header"));
	rates_of(fx->db, "c1", got, sizeof(got));
	assert_string_equal(got, "1:10000 33:50000 44:30000");
	assert_int_equal(rates_version(fx->db), v);

	/* One transaction: a refusal by the database at line 3 of a
	 * --replace import leaves the old rows, and the version triggers
	 * are back. */
	db = db_conn(fx->db);
	db_run(db, "CREATE TRIGGER no49 BEFORE INSERT ON rate WHEN "
		   "NEW.prefix = '49' BEGIN SELECT RAISE(ABORT, 'no 49'); END");
	sqlite3_close(db);
	assert_int_not_equal(import(fx->db, "c1", "prefix,rate\n48,1\n49,1\n",
				    true, &rj, &ok, &bad), 0);
	assert_non_null(strstr(rj.text, "3: database: no 49"));
	rates_of(fx->db, "c1", got, sizeof(got));
	assert_string_equal(got, "1:10000 33:50000 44:30000");
	assert_int_equal(rates_version(fx->db), v);
	db = db_conn(fx->db);
	assert_int_equal(db_int(db, "SELECT count(*) FROM sqlite_master WHERE "
				"type = 'trigger' AND name LIKE 'rate_%'"), 3);
	/* A write outside tollgatectl still moves the version. */
	db_run(db, "UPDATE rate SET rate = 11000 WHERE prefix = '1'");
	sqlite3_close(db);
	assert_int_equal(rates_version(fx->db), v + 1);

	assert_int_equal(cdr_db_load_routing(fx->db, &r, err, sizeof(err)),
			 0);
	assert_int_equal(r.nrates, 5);
	assert_int_equal(r.rates_version, v + 1);
	cdr_routing_free(&r);

	assert_int_equal(cdr_db_rates_import(fx->db, "", deck2, strlen(deck2),
					     false, NULL, NULL, &ok, &bad, err,
					     sizeof(err)), EINVAL);
}

/* Rows written behind tollgatectl's back (the sqlite3 shell) that do not
 * fit: the load fails and names the table and the row. */
static void test_routing_bad_rows(void **state)
{
	static const struct {
		const char *sql, *why;
	} bad[] = {
		{"INSERT INTO route (name, priority, trunks) VALUES "
		 "('r1', '10s', 'a')", "route 'r1': priority '10s' is not an "
		 "integer"},
		{"INSERT INTO route (name, lcr, trunks) VALUES ('r2', 2, 'a')",
		 "route 'r2': lcr"},
		{"INSERT INTO route (name, t_answer, trunks) VALUES ('r3', -1, "
		 "'a')", "route 'r3': t_answer '-1' is not an integer"},
		{"INSERT INTO route (name) VALUES "
		 "('a-route-name-longer-than-31-chars')",
		 "route 'a-route-name-longer-than-31-chars': name longer"},
		{"INSERT INTO rate (rowid, carrier, prefix, rate) VALUES "
		 "(1234, 'X', '44', '0.01')", "rate row 1234 (carrier X prefix "
		 "44): rate, conn_fee, increments and dates must be integers"},
		{"INSERT INTO rate (rowid, carrier, prefix, rate, next_incr) "
		 "VALUES (77, 'X', '44', 10, -6)", "rate row 77 (carrier X "
		 "prefix 44): "},
		{"INSERT INTO rate (rowid, carrier, prefix, rate) VALUES "
		 "(78, 'X', '4a', 10)", "rate row 78 (carrier X prefix 4a): "},
		{"INSERT INTO number_rule (id, direction, match) VALUES (9, "
		 "'egress', printf('%.200c', '1'))", "number_rule 9: match longer than "
		 "127"},
		{"INSERT INTO block (id, kind, match) VALUES (5, 'called', "
		 "printf('%.70c', '1'))", "block 5: match longer than 63"},
		{"INSERT INTO did (first, last, trunk) VALUES ('1', '1', "
		 "printf('%.40c', 't'))", "did 1-1: trunk longer than 31"},
	};
	struct fixture *fx = *state;
	struct cdr_routing r;
	char err[256];
	sqlite3 *db;

	assert_int_equal(cdr_db_init(fx->db), 0);
	for (size_t i = 0; i < TG_ARRAY_SIZE(bad); i++) {
		db = db_conn(fx->db);
		db_run(db, "DELETE FROM route; DELETE FROM rate; DELETE FROM "
			   "number_rule; DELETE FROM block; DELETE FROM did");
		db_run(db, bad[i].sql);
		sqlite3_close(db);
		err[0] = '\0';
		assert_int_equal(cdr_db_load_routing(fx->db, &r, err,
						     sizeof(err)), EINVAL);
		if (!strstr(err, bad[i].why))
			fail_msg("%s: got '%s'", bad[i].sql, err);
		assert_null(r.routes);
		assert_int_equal(r.nrates, 0);
	}
	/* And a database that is not there is said so. */
	snprintf(err, sizeof(err), "%s", fx->db);
	strcat(fx->db, ".missing");
	assert_int_equal(cdr_db_load_routing(fx->db, &r, err, sizeof(err)),
			 ENOENT);
	assert_non_null(strstr(err, "cannot open"));
}

static void test_open_errors(void **state)
{
	struct fixture *fx = *state;
	struct cdr_did_range *rows = NULL;
	struct cdr_writer *w = NULL;
	char path[256], junk[4096];
	size_t n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/no/such/dir/t.db", fx->dir);
	assert_int_equal(cdr_db_init(path), ENOENT);
	assert_int_equal(cdr_writer_open(&w, path), ENOENT);
	assert_null(w);

	/* Never created: reading must not silently create an empty one. */
	assert_int_equal(cdr_db_load_dids(fx->db, &rows, &n), ENOENT);
	assert_int_equal(access(fx->db, F_OK), -1);

	snprintf(path, sizeof(path), "%s/notes.txt", fx->dir);
	memset(junk, 'x', sizeof(junk));
	f = fopen(path, "w");
	assert_non_null(f);
	fwrite(junk, 1, sizeof(junk), f);
	fclose(f);
	assert_int_equal(cdr_db_init(path), EBADMSG);
	assert_int_equal(cdr_writer_open(&w, path), EBADMSG);
	assert_null(w);
	assert_int_equal(cdr_db_load_dids(path, &rows, &n), EBADMSG);
	/* and the file is left as it was */
	f = fopen(path, "r");
	assert_non_null(f);
	assert_int_equal(fread(junk, 1, sizeof(junk), f), sizeof(junk));
	assert_int_equal(fgetc(f), EOF);
	fclose(f);
	assert_int_equal(junk[0], 'x');
	assert_int_equal(junk[sizeof(junk) - 1], 'x');
}

/* ---- the writer ---------------------------------------------------------- */

static void test_write_2000_exact_fields(void **state)
{
	struct fixture *fx = *state;
	struct cdr_writer *w = NULL;
	sqlite3_stmt *st;
	unsigned i = 0;
	sqlite3 *db;

	assert_int_equal(cdr_writer_open(&w, fx->db), 0);
	submit_range(w, 0, 2000);
	assert_int_equal(cdr_writer_close(w), 0);
	assert_int_equal(access(fx->csv, F_OK), -1);

	db = db_conn(fx->db);
	assert_int_equal(db_int(db, "SELECT count(*) FROM cdr"), 2000);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT " CDR_COLUMNS
					    " FROM cdr ORDER BY start_ms", -1,
					    &st, NULL), SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		check_row(st, i++);
	assert_int_equal(i, 2000);
	sqlite3_finalize(st);

	/* spot checks of the rules, independent of check_row's arithmetic */
	assert_int_equal(db_int(db, "SELECT billsec FROM cdr WHERE id LIKE "
				"'%000000000002'"), 1);
	assert_int_equal(db_int(db, "SELECT billsec FROM cdr WHERE id LIKE "
				"'%000000000004'"), 2);
	assert_int_equal(db_int(db, "SELECT billsec FROM cdr WHERE id LIKE "
				"'%000000000005'"), 61);
	assert_int_equal(db_int(db, "SELECT count(*) FROM cdr WHERE "
				"answer_time IS NULL AND billsec = 0 AND "
				"disposition <> 'ANSWERED'"), 334);
	assert_int_equal(db_int(db, "SELECT count(*) FROM cdr WHERE "
				"span IS NULL AND chan IS NULL"), 286);
	sqlite3_close(db);
}

static void test_reader_transaction_loses_nothing(void **state)
{
	struct fixture *fx = *state;
	struct cdr_writer *w = NULL;
	sqlite3 *rd;

	assert_int_equal(cdr_writer_open(&w, fx->db), 0);
	rd = db_conn(fx->db);
	db_run(rd, "BEGIN");
	assert_int_equal(db_int(rd, "SELECT count(*) FROM cdr"), 0);

	/* The writer commits while the reader's snapshot stays open. */
	submit_range(w, 0, 1500);
	assert_true(wait_written(w, 1500, 8000));
	assert_int_equal(cdr_writer_pending(w), 0);
	assert_int_equal(db_int(rd, "SELECT count(*) FROM cdr"), 0);
	submit_range(w, 1500, 500);
	assert_true(wait_written(w, 2000, 8000));
	db_run(rd, "COMMIT");

	assert_int_equal(db_int(rd, "SELECT count(*) FROM cdr"), 2000);
	assert_int_equal(cdr_writer_close(w), 0);
	assert_int_equal(db_int(rd, "SELECT count(DISTINCT id) FROM cdr"),
			 2000);
	sqlite3_close(rd);
}

static void fast_opts(struct cdr_writer_opts *o)
{
	cdr_writer_opts_default(o);
	o->busy_ms = 50;
	o->backoff_min_ms = 20;
	o->backoff_max_ms = 100;
	o->stop_tries = 2;
}

/* Someone holds the write lock longer than the busy timeout: the records
 * wait and go in once the lock is released. */
static void test_busy_then_released(void **state)
{
	struct fixture *fx = *state;
	struct cdr_writer_opts o;
	struct cdr_writer *w = NULL;
	sqlite3 *lk;

	fast_opts(&o);
	assert_int_equal(cdr_writer_open_opts(&w, fx->db, &o), 0);
	lk = db_conn(fx->db);
	db_run(lk, "BEGIN IMMEDIATE");
	submit_range(w, 0, 50);
	sleep_ms(400);
	assert_int_equal(cdr_writer_written(w), 0);
	assert_int_equal(cdr_writer_pending(w), 50);
	db_run(lk, "ROLLBACK");
	sqlite3_close(lk);

	assert_true(wait_written(w, 50, 5000));
	assert_int_equal(cdr_writer_pending(w), 0);
	assert_int_equal(cdr_writer_close(w), 0);
	assert_int_equal(count_rows(fx->db), 50);
	assert_int_equal(access(fx->csv, F_OK), -1);
}

/* Every id in [0, n) appears exactly once among the CSV lines. */
static void check_csv_ids(char **lines, size_t nlines, unsigned n)
{
	char *seen = calloc(n, 1);

	assert_non_null(seen);
	assert_int_equal(nlines, n + 1);
	assert_string_equal(lines[0], CDR_COLUMNS);
	for (size_t k = 1; k < nlines; k++) {
		unsigned i;

		assert_int_equal(sscanf(lines[k],
					"00000000-0000-4000-8000-%12u,", &i),
				 1);
		assert_true(i < n);
		assert_false(seen[i]);
		seen[i] = 1;
	}
	free(seen);
}

static void test_busy_at_close_falls_back(void **state)
{
	struct fixture *fx = *state;
	struct cdr_writer_opts o;
	struct cdr_writer *w = NULL;
	char **lines;
	size_t n;
	sqlite3 *lk;

	fast_opts(&o);
	assert_int_equal(cdr_writer_open_opts(&w, fx->db, &o), 0);
	lk = db_conn(fx->db);
	db_run(lk, "BEGIN IMMEDIATE");
	submit_range(w, 0, 1200);
	assert_int_not_equal(cdr_writer_close(w), 0);
	db_run(lk, "ROLLBACK");
	sqlite3_close(lk);

	assert_int_equal(count_rows(fx->db), 0);
	n = file_lines(fx->csv, &lines);
	check_csv_ids(lines, n, 1200);
	lines_free(lines, n);
}

static void test_trigger_refuses_all(void **state)
{
	struct fixture *fx = *state;
	struct cdr_writer *w = NULL;
	char **lines, want[512];
	struct cdr_record r;
	sqlite3 *db;
	size_t n;
	int saved = gw_log_level;

	assert_int_equal(cdr_writer_open(&w, fx->db), 0);
	db = db_conn(fx->db);
	db_run(db, "CREATE TRIGGER no_cdr BEFORE INSERT ON cdr "
		   "BEGIN SELECT RAISE(ABORT, 'x'); END");
	sqlite3_close(db);

	gw_log_level = -1; /* the refusals are expected here */
	submit_range(w, 0, 1500);
	assert_int_not_equal(cdr_writer_close(w), 0);
	gw_log_level = saved;

	assert_int_equal(count_rows(fx->db), 0);
	n = file_lines(fx->csv, &lines);
	check_csv_ids(lines, n, 1500);
	/* one full line, as someone would re-import it */
	rec_make(&r, 1);
	snprintf(want, sizeof(want), "%s,2026-01-01T00:00:00.010Z,"
		 "2026-01-01T00:00:02.010Z,2026-01-01T00:00:02.010Z,"
		 "1767225600010,1767225602010,1767225602010,2000,0,"
		 "2125550001,15550100001,outbound,in1,span1,2,2,"
		 "c1@pbx.example,ANSWERED,17,201,PCMA,r1,1555,12500,100,"
		 "12600,0,,,,,,0,,,,,,,,,,,,,,,,,,,", r.id);
	for (size_t k = 1; k < n; k++) {
		if (!strncmp(lines[k], r.id, strlen(r.id)))
			assert_string_equal(lines[k], want);
	}
	/* A call with media figures has them (unknown ones empty), then
	 * the transfer columns (empty: no transfer). */
	rec_make(&r, 2);
	for (size_t k = 1; k < n; k++) {
		const char *tail = ",1002,990,10,1,2.500,,4.21,,,,4,2,0,,,t38,2,9600";
		size_t tl = strlen(tail), ll = strlen(lines[k]);

		if (!strncmp(lines[k], r.id, strlen(r.id)))
			assert_string_equal(lines[k] + (ll > tl ? ll - tl : 0),
					    tail);
	}
	lines_free(lines, n);
}

/* One bad record in a batch: the others are committed, only it goes to the
 * CSV file, and a second run appends without a second header. */
static void test_duplicate_isolated(void **state)
{
	struct fixture *fx = *state;
	struct cdr_writer *w = NULL;
	struct cdr_record r;
	char **lines;
	size_t n;

	for (int run = 0; run < 2; run++) {
		assert_int_equal(cdr_writer_open(&w, fx->db), 0);
		submit_range(w, (unsigned)run * 100, 10);
		rec_make(&r, (unsigned)run * 100 + 3);
		strcpy(r.calling, "dup, \"quoted\"");
		assert_int_equal(cdr_writer_submit(w, &r), 0);
		submit_range(w, (unsigned)run * 100 + 10, 10);
		assert_int_equal(cdr_writer_close(w), EIO);
	}
	assert_int_equal(count_rows(fx->db), 40);
	/* Written one by one, each record still took its attempts along
	 * (ids 0-19 and 100-119, i % 3 attempts each), and the refused
	 * duplicates added none. */
	{
		sqlite3 *db = db_conn(fx->db);
		int64_t want = 0;

		for (unsigned i = 0; i < 20; i++)
			want += i % 3 + (100 + i) % 3;
		assert_int_equal(db_int(db, "SELECT count(*) FROM "
					"cdr_attempt"), want);
		assert_int_equal(db_int(db, "SELECT count(*) FROM cdr_attempt"
					" WHERE cdr_id NOT IN (SELECT id FROM "
					"cdr)"), 0);
		sqlite3_close(db);
	}

	n = file_lines(fx->csv, &lines);
	assert_int_equal(n, 3);
	assert_string_equal(lines[0], CDR_COLUMNS);
	assert_non_null(strstr(lines[1], "000000000003,"));
	assert_non_null(strstr(lines[1], ",\"dup, \"\"quoted\"\"\","));
	assert_non_null(strstr(lines[2], "000000000103,"));
	lines_free(lines, n);
}

/* ---- DIDs ---------------------------------------------------------------- */

static void did_set(struct cdr_did_range *r, const char *first,
		    const char *last, const char *trunk)
{
	memset(r, 0, sizeof(*r));
	strcpy(r->first, first);
	strcpy(r->last, last);
	strcpy(r->trunk, trunk);
}

static void test_dids_seed_once(void **state)
{
	struct fixture *fx = *state;
	struct cdr_did_range seed[2], other[1], bad[1], *rows = NULL;
	size_t n = 0;

	did_set(&seed[0], "5550200", "5550299", "pbx2");
	did_set(&seed[1], "5550100", "5550199", "pbx");
	strcpy(seed[1].user, "frontdesk");
	strcpy(seed[1].cid, "2125550100");
	strcpy(seed[1].failover_trunk, "sip2");
	strcpy(seed[1].failover_number, "+15550001111");
	did_set(&other[0], "7770000", "7770009", "x");
	did_set(&bad[0], "55501a0", "5550199", "pbx");

	/* invalid configuration: refused, nothing written */
	assert_int_equal(cdr_db_seed_dids(fx->db, bad, 1), EINVAL);
	assert_int_equal(cdr_db_seed_dids(fx->db, seed, 2), 0);
	assert_int_equal(cdr_db_seed_dids(fx->db, seed, 2), 0);
	assert_int_equal(cdr_db_seed_dids(fx->db, other, 1), 0);

	assert_int_equal(cdr_db_load_dids(fx->db, &rows, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].first, "5550100");
	assert_string_equal(rows[0].last, "5550199");
	assert_string_equal(rows[0].trunk, "pbx");
	assert_string_equal(rows[0].user, "frontdesk");
	assert_string_equal(rows[0].cid, "2125550100");
	assert_string_equal(rows[0].failover_trunk, "sip2");
	assert_string_equal(rows[0].failover_number, "+15550001111");
	assert_string_equal(rows[1].first, "5550200");
	assert_string_equal(rows[1].cid, "");
	assert_string_equal(rows[1].trunk, "pbx2");
	assert_string_equal(rows[1].user, "");
	free(rows);
}

static void test_dids_bad_rows_skipped(void **state)
{
	struct fixture *fx = *state;
	struct cdr_did_range *rows = NULL;
	int saved = gw_log_level;
	size_t n = 0;
	sqlite3 *db;

	assert_int_equal(cdr_db_init(fx->db), 0);
	db = db_conn(fx->db);
	db_run(db, "INSERT INTO did(first,last,trunk,user) VALUES('8000','8999','b','');"
		   "INSERT INTO did(first,last,trunk,user) VALUES('abc','abd','t','');"
		   "INSERT INTO did(first,last,trunk,user) VALUES('555x','555y','t','');"
		   "INSERT INTO did(first,last,trunk,user) VALUES('','','t','');"
		   "INSERT INTO did(first,last,trunk,user) VALUES('3000','3001','','');"
		   "INSERT INTO did(first,last,trunk)"
		   " VALUES('1000','1009','a');"
		   /* rows an older tool might have left despite the CHECK */
		   "PRAGMA ignore_check_constraints = ON;"
		   "INSERT INTO did(first,last,trunk,user) VALUES('100','2000','t','');"
		   "INSERT INTO did(first,last,trunk,user) VALUES('200','100','t','');");
	sqlite3_close(db);

	gw_log_level = -1;
	assert_int_equal(cdr_db_load_dids(fx->db, &rows, &n), 0);
	gw_log_level = saved;
	assert_int_equal(n, 2);
	assert_string_equal(rows[0].first, "1000");
	assert_string_equal(rows[0].last, "1009");
	assert_string_equal(rows[0].trunk, "a");
	assert_string_equal(rows[1].first, "8000");
	assert_string_equal(rows[1].trunk, "b");
	free(rows);
}

/* ---- tail ---------------------------------------------------------------- */

struct collect {
	struct cdr_record r[64];
	unsigned n;
};

static void on_row(const struct cdr_record *rec, void *arg)
{
	struct collect *c = arg;

	if (c->n < TG_ARRAY_SIZE(c->r))
		c->r[c->n] = *rec;
	c->n++;
}

static void check_same(const struct cdr_record *a,
		       const struct cdr_record *b)
{
	assert_string_equal(a->id, b->id);
	assert_int_equal(a->start_ms, b->start_ms);
	assert_int_equal(a->answer_ms, b->answer_ms);
	assert_int_equal(a->end_ms, b->end_ms);
	assert_string_equal(a->calling, b->calling);
	assert_string_equal(a->called, b->called);
	assert_int_equal(a->direction, b->direction);
	assert_string_equal(a->in_trunk, b->in_trunk);
	assert_string_equal(a->out_trunk, b->out_trunk);
	assert_int_equal(a->span, b->span);
	assert_int_equal(a->chan, b->chan);
	assert_string_equal(a->sip_call_id, b->sip_call_id);
	assert_int_equal(a->disposition, b->disposition);
	assert_int_equal(a->q850_cause, b->q850_cause);
	assert_int_equal(a->sip_status, b->sip_status);
	assert_string_equal(a->codec, b->codec);
	assert_string_equal(a->route, b->route);
	assert_string_equal(a->rate_prefix, b->rate_prefix);
	assert_int_equal(a->rate, b->rate);
	assert_int_equal(a->conn_fee, b->conn_fee);
	assert_int_equal(a->cost, b->cost);
	assert_int_equal(a->emergency, b->emergency);
	assert_string_equal(a->fax, b->fax);
	if (*b->fax) {
		assert_int_equal(a->fax_pages, b->fax_pages);
		assert_int_equal(a->fax_bit_rate, b->fax_bit_rate);
	}
	assert_int_equal(a->media.set, b->media.set);
	if (b->media.set) {
		const struct cdr_media *x = &a->media, *y = &b->media;

		assert_int_equal(x->tx_packets, y->tx_packets);
		assert_int_equal(x->rx_packets, y->rx_packets);
		assert_int_equal(x->rx_lost, y->rx_lost);
		assert_int_equal(x->late, y->late);
		assert_int_equal(x->jitter_us, y->jitter_us);
		assert_int_equal(x->rtt_us, y->rtt_us);
		assert_int_equal(x->remote_lost, y->remote_lost);
		assert_int_equal(x->remote_jitter_us, y->remote_jitter_us);
		assert_int_equal(x->mos_rx, y->mos_rx);
		assert_int_equal(x->mos_tx, y->mos_tx);
		assert_int_equal(x->concealed, y->concealed);
		assert_int_equal(x->jb_drops, y->jb_drops);
		assert_int_equal(x->srtp_auth_fail, y->srtp_auth_fail);
	}
	assert_int_equal(a->nattempts, b->nattempts);
	for (unsigned k = 0; k < a->nattempts; k++) {
		const struct cdr_attempt *x = &a->attempts[k];
		const struct cdr_attempt *y = &b->attempts[k];

		assert_string_equal(x->trunk, y->trunk);
		assert_string_equal(x->called, y->called);
		assert_int_equal(x->start_ms, y->start_ms);
		assert_int_equal(x->end_ms, y->end_ms);
		assert_int_equal(x->sip_status, y->sip_status);
		assert_int_equal(x->q850_cause, y->q850_cause);
		assert_string_equal(x->outcome, y->outcome);
	}
}

/* The attempts of CDR @p id as "trunk:called:status:cause:outcome ...". */
static void attempts_of(const char *db, const char *id, char *out,
			size_t size)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	size_t n = 0;

	out[0] = '\0';
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT trunk, called, "
					    "ifnull(sip_status, 0), "
					    "ifnull(q850_cause, 0), outcome "
					    "FROM cdr_attempt WHERE cdr_id = ?1 "
					    "ORDER BY n", -1, &st, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
	while (sqlite3_step(st) == SQLITE_ROW && n < size)
		n += (size_t)snprintf(out + n, size - n, "%s%s:%s:%d:%d:%s",
				      n ? " " : "",
				      sqlite3_column_text(st, 0),
				      sqlite3_column_text(st, 1),
				      sqlite3_column_int(st, 2),
				      sqlite3_column_int(st, 3),
				      sqlite3_column_text(st, 4));
	sqlite3_finalize(st);
	sqlite3_close(h);
}

static void test_tail(void **state)
{
	struct fixture *fx = *state;
	/* submitted out of start order: tail must sort by start time */
	static const unsigned order[] = {5, 0, 19, 3, 12, 7, 1, 18, 9, 2,
					 16, 4, 11, 6, 17, 8, 14, 10, 15, 13};
	struct cdr_writer *w = NULL;
	struct collect c = {.n = 0};
	struct cdr_record want;
	char path[256];

	assert_int_equal(cdr_writer_open(&w, fx->db), 0);
	for (size_t k = 0; k < TG_ARRAY_SIZE(order); k++)
		submit_range(w, order[k], 1);
	assert_int_equal(cdr_writer_close(w), 0);

	assert_int_equal(cdr_db_tail(fx->db, 5, on_row, &c), 0);
	assert_int_equal(c.n, 5);
	for (unsigned k = 0; k < 5; k++) {
		rec_make(&want, 15 + k);
		check_same(&c.r[k], &want);
	}

	c.n = 0;
	assert_int_equal(cdr_db_tail(fx->db, 100, on_row, &c), 0);
	assert_int_equal(c.n, 20);
	for (unsigned k = 0; k < 20; k++) {
		rec_make(&want, k);
		check_same(&c.r[k], &want);
	}

	c.n = 0;
	assert_int_equal(cdr_db_tail(fx->db, 0, on_row, &c), 0);
	assert_int_equal(c.n, 0);

	/* Attempts went in with their calls, in order. */
	{
		char got[512];

		rec_make(&want, 5); /* 5 % 3 = 2 attempts */
		attempts_of(fx->db, want.id, got, sizeof(got));
		assert_string_equal(got, "t0:+15550100005:503:34:failover "
				    "t1:+15550100005:200:0:answered");
		rec_make(&want, 3); /* none */
		attempts_of(fx->db, want.id, got, sizeof(got));
		assert_string_equal(got, "");
	}

	snprintf(path, sizeof(path), "%s/missing.db", fx->dir);
	assert_int_equal(cdr_db_tail(path, 5, on_row, &c), ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_schema_migration_v1),
		T(test_schema_migration_v2),
		T(test_routing_tables),
		T(test_routing_add_roundtrip),
		T(test_routing_add_refused),
		T(test_rates_import),
		T(test_routing_bad_rows),
		T(test_schema_idempotent_wal),
		T(test_open_errors),
		T(test_write_2000_exact_fields),
		T(test_reader_transaction_loses_nothing),
		T(test_busy_then_released),
		T(test_busy_at_close_falls_back),
		T(test_trigger_refuses_all),
		T(test_duplicate_isolated),
		T(test_dids_seed_once),
		T(test_dids_bad_rows_skipped),
		T(test_tail),
#undef T
	};

	gw_log_level = GW_LOG_WARN;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
