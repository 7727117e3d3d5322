/* cdr/db.c  Opening the SQLite database: pragmas, schema, error mapping */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "cdr"
#include "util/util.h"
#include "cdr/cdr_int.h"

#define CDR_SCHEMA_VERSION 9

/* NOTE: changing a table means a new user_version and a migration step in
 * schema_ensure(); never edit this text in place for an existing version. */
static const char schema_v1[] =
	"CREATE TABLE IF NOT EXISTS cdr ("
	" id TEXT PRIMARY KEY NOT NULL,"
	" start_time TEXT, answer_time TEXT, end_time TEXT,"
	" start_ms INTEGER, answer_ms INTEGER, end_ms INTEGER,"
	" duration_ms INTEGER, billsec INTEGER,"
	" calling TEXT, called TEXT, direction TEXT,"
	" in_trunk TEXT, out_trunk TEXT, span INTEGER, chan INTEGER,"
	" sip_call_id TEXT, disposition TEXT,"
	" q850_cause INTEGER, sip_status INTEGER, codec TEXT);"
	"CREATE INDEX IF NOT EXISTS cdr_start_ms ON cdr(start_ms);"
	"CREATE TABLE IF NOT EXISTS did ("
	" first TEXT NOT NULL, last TEXT NOT NULL, trunk TEXT NOT NULL,"
	" user TEXT NOT NULL DEFAULT '',"
	" CHECK(length(first) = length(last) AND first <= last));"
	"PRAGMA user_version = 1;";

/* Version 2: routing lives in the database (routes, number rules, rates,
 * blocklists, per-DID caller-ID and failover), and a CDR keeps its route,
 * rate, cost, emergency class and every attempt. */
static const char schema_v2[] =
	"ALTER TABLE did ADD COLUMN cid TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE did ADD COLUMN failover_trunk TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE did ADD COLUMN failover_number TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE cdr ADD COLUMN route TEXT;"
	"ALTER TABLE cdr ADD COLUMN rate_prefix TEXT;"
	"ALTER TABLE cdr ADD COLUMN rate INTEGER;"
	"ALTER TABLE cdr ADD COLUMN conn_fee INTEGER;"
	"ALTER TABLE cdr ADD COLUMN cost INTEGER;"
	"ALTER TABLE cdr ADD COLUMN emergency INTEGER NOT NULL DEFAULT 0;"
	"CREATE TABLE IF NOT EXISTS cdr_attempt ("
	" cdr_id TEXT NOT NULL, n INTEGER NOT NULL, trunk TEXT, called TEXT,"
	" start_ms INTEGER, end_ms INTEGER, sip_status INTEGER,"
	" q850_cause INTEGER, outcome TEXT, PRIMARY KEY (cdr_id, n));"
	"CREATE TABLE IF NOT EXISTS route ("
	" name TEXT PRIMARY KEY NOT NULL,"
	" priority INTEGER NOT NULL DEFAULT 100,"
	" kind TEXT NOT NULL DEFAULT 'any', match TEXT NOT NULL DEFAULT '',"
	" src_trunks TEXT NOT NULL DEFAULT '',"
	" calling TEXT NOT NULL DEFAULT '', days TEXT NOT NULL DEFAULT '',"
	" hours TEXT NOT NULL DEFAULT '', tz TEXT NOT NULL DEFAULT '',"
	" trunks TEXT NOT NULL DEFAULT '', lcr INTEGER NOT NULL DEFAULT 0,"
	" failover TEXT NOT NULL DEFAULT '',"
	" t_trying INTEGER NOT NULL DEFAULT 0,"
	" t_progress INTEGER NOT NULL DEFAULT 0,"
	" t_answer INTEGER NOT NULL DEFAULT 0,"
	" max_calls INTEGER NOT NULL DEFAULT 0,"
	" cps INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE IF NOT EXISTS number_rule ("
	" id INTEGER PRIMARY KEY,"
	" direction TEXT NOT NULL CHECK (direction IN ('ingress','egress')),"
	" number TEXT NOT NULL DEFAULT 'called'"
	"  CHECK (number IN ('called','calling')),"
	" position INTEGER NOT NULL DEFAULT 0,"
	" name TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL DEFAULT 'any',"
	" match TEXT NOT NULL DEFAULT '', trunk TEXT NOT NULL DEFAULT '',"
	" ton TEXT NOT NULL DEFAULT '', actions TEXT NOT NULL DEFAULT '',"
	" replace TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE IF NOT EXISTS rate ("
	" carrier TEXT NOT NULL, prefix TEXT NOT NULL,"
	" rate INTEGER NOT NULL, conn_fee INTEGER NOT NULL DEFAULT 0,"
	" first_incr INTEGER NOT NULL DEFAULT 60,"
	" next_incr INTEGER NOT NULL DEFAULT 60,"
	" eff_from INTEGER NOT NULL DEFAULT 0,"
	" eff_until INTEGER NOT NULL DEFAULT 0,"
	" description TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX IF NOT EXISTS rate_carrier ON rate(carrier, prefix);"
	"CREATE TABLE IF NOT EXISTS block ("
	" id INTEGER PRIMARY KEY,"
	" kind TEXT NOT NULL CHECK (kind IN ('called','calling')),"
	" match TEXT NOT NULL, category TEXT NOT NULL DEFAULT '',"
	" trunk TEXT NOT NULL DEFAULT '');"
	/* Any change to the rates bumps this, so a reload rebuilds the LCR
	 * snapshot only when it has to. */
	"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER);"
	"INSERT OR IGNORE INTO meta VALUES ('rates_version', 1);"
	CDR_RATE_TRIGGERS
	"PRAGMA user_version = 2;";

/* Version 3: a route may look the number up in ENUM first, and an attempt
 * keeps the URI it was sent to; number rules for diverting numbers (the
 * table is rebuilt: SQLite cannot change a CHECK), and a CDR keeps who
 * diverted the call. */
static const char schema_v3[] =
	"ALTER TABLE route ADD COLUMN enum TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE cdr_attempt ADD COLUMN target TEXT;"
	"ALTER TABLE cdr ADD COLUMN diversion TEXT;"
	"CREATE TABLE number_rule_v3 ("
	" id INTEGER PRIMARY KEY,"
	" direction TEXT NOT NULL CHECK (direction IN ('ingress','egress')),"
	" number TEXT NOT NULL DEFAULT 'called'"
	"  CHECK (number IN ('called','calling','diversion')),"
	" position INTEGER NOT NULL DEFAULT 0,"
	" name TEXT NOT NULL DEFAULT '', kind TEXT NOT NULL DEFAULT 'any',"
	" match TEXT NOT NULL DEFAULT '', trunk TEXT NOT NULL DEFAULT '',"
	" ton TEXT NOT NULL DEFAULT '', actions TEXT NOT NULL DEFAULT '',"
	" replace TEXT NOT NULL DEFAULT '');"
	"INSERT INTO number_rule_v3 SELECT id, direction, number, position,"
	" name, kind, match, trunk, ton, actions, replace FROM number_rule;"
	"DROP TABLE number_rule;"
	"ALTER TABLE number_rule_v3 RENAME TO number_rule;"
	"PRAGMA user_version = 3;";

/* Version 4: emergency location zones and who is in them; a CDR keeps
 * the zone, the ELIN sent and the party a PSAP callback to that ELIN
 * reaches (the callback table is rebuilt from these after a restart). */
static const char schema_v4[] =
	"CREATE TABLE IF NOT EXISTS e911_zone ("
	" name TEXT PRIMARY KEY NOT NULL,"
	" country TEXT NOT NULL DEFAULT '',"
	" a1 TEXT NOT NULL DEFAULT '',"
	" a2 TEXT NOT NULL DEFAULT '',"
	" a3 TEXT NOT NULL DEFAULT '',"
	" a4 TEXT NOT NULL DEFAULT '',"
	" a5 TEXT NOT NULL DEFAULT '',"
	" a6 TEXT NOT NULL DEFAULT '',"
	" prd TEXT NOT NULL DEFAULT '',"
	" pod TEXT NOT NULL DEFAULT '',"
	" sts TEXT NOT NULL DEFAULT '',"
	" rd TEXT NOT NULL DEFAULT '',"
	" hno TEXT NOT NULL DEFAULT '',"
	" hns TEXT NOT NULL DEFAULT '',"
	" lmk TEXT NOT NULL DEFAULT '',"
	" loc TEXT NOT NULL DEFAULT '',"
	" flr TEXT NOT NULL DEFAULT '',"
	" unit TEXT NOT NULL DEFAULT '',"
	" room TEXT NOT NULL DEFAULT '',"
	" bld TEXT NOT NULL DEFAULT '',"
	" nam TEXT NOT NULL DEFAULT '',"
	" pc TEXT NOT NULL DEFAULT '',"
	" location_id TEXT NOT NULL DEFAULT '',"
	" elins TEXT NOT NULL DEFAULT '',"
	" callback_trunk TEXT NOT NULL DEFAULT '',"
	" callback_user TEXT NOT NULL DEFAULT '');"
	"CREATE TABLE IF NOT EXISTS e911_member ("
	" id INTEGER PRIMARY KEY, zone TEXT NOT NULL,"
	" kind TEXT NOT NULL CHECK (kind IN ('calling','subnet','trunk')),"
	" match TEXT NOT NULL);"
	"ALTER TABLE cdr ADD COLUMN e911_zone TEXT;"
	"ALTER TABLE cdr ADD COLUMN elin TEXT;"
	"ALTER TABLE cdr ADD COLUMN e911_trunk TEXT;"
	"ALTER TABLE cdr ADD COLUMN e911_user TEXT;"
	"ALTER TABLE cdr ADD COLUMN callback INTEGER NOT NULL DEFAULT 0;"
	"CREATE INDEX IF NOT EXISTS cdr_elin ON cdr(elin, end_ms)"
	" WHERE elin IS NOT NULL;"
	"PRAGMA user_version = 4;";

/* Version 5: a PSAP callback's CDR names the emergency call's CDR. */
static const char schema_v5[] =
	"ALTER TABLE cdr ADD COLUMN e911_ref TEXT;"
	"PRAGMA user_version = 5;";

/* Version 6: a member may refine its zone's floor, unit and room. */
static const char schema_v6[] =
	"ALTER TABLE e911_member ADD COLUMN flr TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE e911_member ADD COLUMN unit TEXT NOT NULL DEFAULT '';"
	"ALTER TABLE e911_member ADD COLUMN room TEXT NOT NULL DEFAULT '';"
	"PRAGMA user_version = 6;";

/* Version 7: a CDR keeps the call's media quality (RTP counters, RTCP
 * jitter, round trip and what the far end reported, MOS each way). */
static const char schema_v7[] =
	"ALTER TABLE cdr ADD COLUMN rtp_tx_packets INTEGER;"
	"ALTER TABLE cdr ADD COLUMN rtp_rx_packets INTEGER;"
	"ALTER TABLE cdr ADD COLUMN rtp_rx_lost INTEGER;"
	"ALTER TABLE cdr ADD COLUMN rtp_late INTEGER;"
	"ALTER TABLE cdr ADD COLUMN rtp_jitter_ms REAL;"
	"ALTER TABLE cdr ADD COLUMN rtt_ms REAL;"
	"ALTER TABLE cdr ADD COLUMN mos_rx REAL;"
	"ALTER TABLE cdr ADD COLUMN mos_tx REAL;"
	"ALTER TABLE cdr ADD COLUMN remote_lost INTEGER;"
	"ALTER TABLE cdr ADD COLUMN remote_jitter_ms REAL;"
	"ALTER TABLE cdr ADD COLUMN plc_concealed INTEGER;"
	"ALTER TABLE cdr ADD COLUMN jb_drops INTEGER;"
	"ALTER TABLE cdr ADD COLUMN srtp_auth_fail INTEGER;"
	"PRAGMA user_version = 7;";

/* Version 8: a blind transfer links the call whose party moved and the
 * new call it moved to. */
static const char schema_v8[] =
	"ALTER TABLE cdr ADD COLUMN transfer_to TEXT;"
	"ALTER TABLE cdr ADD COLUMN transfer_ref TEXT;"
	"PRAGMA user_version = 8;";

/* Version 9: what a fax call was (T.38 or G.711) and what it carried. */
static const char schema_v9[] =
	"ALTER TABLE cdr ADD COLUMN fax TEXT;"
	"ALTER TABLE cdr ADD COLUMN fax_pages INTEGER;"
	"ALTER TABLE cdr ADD COLUMN fax_bit_rate INTEGER;"
	"PRAGMA user_version = 9;";

int cdr_db_errno(sqlite3 *db, int rc)
{
	int sys = db ? sqlite3_system_errno(db) : 0;

	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_NOMEM:
		return ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return EBUSY;
	case SQLITE_FULL:
		return ENOSPC;
	case SQLITE_READONLY:
		return EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return EACCES;
	case SQLITE_CONSTRAINT:
		return EEXIST;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return EBADMSG;
	case SQLITE_CANTOPEN:
		return sys ? sys : ENOENT;
	case SQLITE_IOERR:
		return sys ? sys : EIO;
	default:
		return EIO;
	}
}

bool cdr_db_rc_is_row(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_TOOBIG:
	case SQLITE_RANGE:
		return true;
	default:
		return false;
	}
}

int cdr_db_exec(sqlite3 *db, const char *path, const char *what,
		const char *sql)
{
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

	if (rc == SQLITE_OK)
		return 0;
	gw_err("%s: while %s: %s", path, what, sqlite3_errmsg(db));
	return cdr_db_errno(db, rc);
}

int cdr_errf(char *err, size_t size, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && size) {
		va_start(ap, fmt);
		vsnprintf(err, size, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* Run a one-row, one-column query; its text goes to @p out. */
static int query_text(sqlite3 *db, const char *sql, char *out, size_t size)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(st, 0);

		tg_strlcpy(out, t ? (const char *)t : "", size);
		rc = SQLITE_OK;
	}
 out:
	sqlite3_finalize(st);
	return rc;
}

static int schema_version(sqlite3 *db, const char *path, int *vp)
{
	char buf[32];
	int rc;

	rc = query_text(db, "PRAGMA user_version", buf, sizeof(buf));
	if (rc != SQLITE_OK) {
		gw_err("%s: cannot read the database: %s", path,
		       sqlite3_errmsg(db));
		return cdr_db_errno(db, rc);
	}
	*vp = atoi(buf);
	return 0;
}

/* Create the tables on first use.  The version is read again inside the
 * write transaction because another process may be creating them too. */
static int schema_ensure(sqlite3 *db, const char *path)
{
	int err, ver;

	err = schema_version(db, path, &ver);
	if (err || ver == CDR_SCHEMA_VERSION)
		goto check;
	err = cdr_db_exec(db, path, "creating the schema", "BEGIN IMMEDIATE");
	if (err)
		return err;
	err = schema_version(db, path, &ver);
	if (!err && ver == 0)
		err = cdr_db_exec(db, path, "creating the schema", schema_v1);
	if (!err && ver <= 1)
		err = cdr_db_exec(db, path, "updating the schema to version 2",
				  schema_v2);
	if (!err && ver <= 2)
		err = cdr_db_exec(db, path, "updating the schema to version 3",
				  schema_v3);
	if (!err && ver <= 3)
		err = cdr_db_exec(db, path, "updating the schema to version 4",
				  schema_v4);
	if (!err && ver <= 4)
		err = cdr_db_exec(db, path, "updating the schema to version 5",
				  schema_v5);
	if (!err && ver <= 5)
		err = cdr_db_exec(db, path, "updating the schema to version 6",
				  schema_v6);
	if (!err && ver <= 6)
		err = cdr_db_exec(db, path, "updating the schema to version 7",
				  schema_v7);
	if (!err && ver <= 7)
		err = cdr_db_exec(db, path, "updating the schema to version 8",
				  schema_v8);
	if (!err && ver <= 8)
		err = cdr_db_exec(db, path, "updating the schema to version 9",
				  schema_v9);
	if (!err)
		err = cdr_db_exec(db, path, "creating the schema", "COMMIT");
	if (err) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		return err;
	}
	if (ver == 0)
		gw_info("%s: created the tables", path);
	else if (ver < CDR_SCHEMA_VERSION)
		gw_notice("%s: schema updated from version %d to %d", path,
			  ver, CDR_SCHEMA_VERSION);
	if (ver < CDR_SCHEMA_VERSION)
		ver = CDR_SCHEMA_VERSION;
 check:
	if (!err && ver != CDR_SCHEMA_VERSION) {
		gw_err("%s: schema version %d, this build knows only %d", path,
		       ver, CDR_SCHEMA_VERSION);
		err = ENOTSUP;
	}
	return err;
}

/* WAL lets tollgatectl and the sqlite3 shell read while the writer commits;
 * synchronous=NORMAL keeps commits durable across a process crash, and
 * loses at most the last transactions on a power cut. */
static int wal_setup(sqlite3 *db, const char *path)
{
	char mode[16];
	int rc;

	rc = query_text(db, "PRAGMA journal_mode = WAL", mode, sizeof(mode));
	if (rc != SQLITE_OK) {
		gw_err("%s: cannot open the database: %s", path,
		       sqlite3_errmsg(db));
		return cdr_db_errno(db, rc);
	}
	if (strcmp(mode, "wal"))
		gw_warn("%s: journal mode is %s, not wal: readers will block "
			"the CDR writer", path, mode);
	return cdr_db_exec(db, path, "setting synchronous",
			   "PRAGMA synchronous = NORMAL");
}

int cdr_db_open(sqlite3 **dbp, const char *path, bool create, int busy_ms)
{
	int flags = SQLITE_OPEN_READWRITE;
	sqlite3 *db = NULL;
	int err, rc;

	if (create)
		flags |= SQLITE_OPEN_CREATE;
	rc = sqlite3_open_v2(path, &db, flags, NULL);
	if (rc != SQLITE_OK) {
		err = cdr_db_errno(db, rc);
		gw_err("%s: cannot open the database: %s (%s)", path,
		       strerror(err), db ? sqlite3_errmsg(db) : "no memory");
		goto out;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, busy_ms);
	err = create ? wal_setup(db, path) : 0;
	if (!err)
		err = schema_ensure(db, path);
 out:
	if (err)
		sqlite3_close(db);
	else
		*dbp = db;
	return err;
}

int cdr_db_init(const char *path)
{
	sqlite3 *db;
	int err;

	err = cdr_db_open(&db, path, true, CDR_DB_BUSY_MS);
	if (!err)
		sqlite3_close(db);
	return err;
}

int cdr_tx_begin(sqlite3 **dbp, const char *path, char *err, size_t errsize)
{
	int e = cdr_db_open(dbp, path, false, CDR_DB_BUSY_MS), rc;

	if (e)
		return cdr_errf(err, errsize, e, "%s: cannot open: %s",
				path, strerror(e));
	rc = sqlite3_exec(*dbp, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		e = cdr_errf(err, errsize, cdr_db_errno(*dbp, rc),
			     "%s: cannot write: %s", path,
			     sqlite3_errmsg(*dbp));
		sqlite3_close(*dbp);
	}
	return e;
}

int cdr_tx_end(sqlite3 *db, int e, char *err, size_t errsize)
{
	int rc;

	if (!e) {
		rc = sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		if (rc != SQLITE_OK)
			e = cdr_errf(err, errsize, cdr_db_errno(db, rc),
				     "commit failed: %s",
				     sqlite3_errmsg(db));
	}
	if (e && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	sqlite3_close(db);
	return e;
}
