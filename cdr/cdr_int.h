/* cdr/cdr_int.h  Internals shared by the files of cdr/ (and its tests) */
#ifndef TG_CDR_INT_H
#define TG_CDR_INT_H

#include <stdbool.h>
#include <sqlite3.h>

#include "cdr/cdr.h"

/* Readers such as tollgatectl or the sqlite3 shell may hold the write lock
 * briefly; wait this long before calling a write failed. */
#define CDR_DB_BUSY_MS 5000

/* Records per transaction: big enough to amortise the WAL sync, small
 * enough that one failed batch costs little to retry. */
#define CDR_BATCH_MAX 1000
/* How long the writer lets records gather before a commit. */
#define CDR_GATHER_MS 20

/* Limits of the route table's numbers (struct dp_route_row). */
#define CDR_T_MAX_MS        3600000  /* t_trying, t_progress */
#define CDR_T_ANSWER_MAX_MS 86400000 /* t_answer */
#define CDR_LIMIT_MAX       10000000 /* max_calls, cps */

/* Every write to the rate table bumps meta.rates_version, whoever writes
 * (tollgatectl, the sqlite3 shell).  Part of schema version 2: the text
 * must not change.  A bulk import drops them for its transaction and
 * bumps the version once (a trigger costs 1 s per million rows). */
#define CDR_RATE_TRIGGERS                                                   \
	"CREATE TRIGGER IF NOT EXISTS rate_ins AFTER INSERT ON rate BEGIN"  \
	" UPDATE meta SET value = value + 1 WHERE key = 'rates_version';"  \
	" END;"                                                              \
	"CREATE TRIGGER IF NOT EXISTS rate_del AFTER DELETE ON rate BEGIN"  \
	" UPDATE meta SET value = value + 1 WHERE key = 'rates_version';"  \
	" END;"                                                              \
	"CREATE TRIGGER IF NOT EXISTS rate_upd AFTER UPDATE ON rate BEGIN"  \
	" UPDATE meta SET value = value + 1 WHERE key = 'rates_version';"  \
	" END;"

/** A queued record: the writer's own copy. */
struct cdr_item {
	struct cdr_item *next;
	struct cdr_record rec;
};

/* ---- db.c ---------------------------------------------------------------- */

/**
 * Open @p path, set the busy timeout and make sure the schema exists.
 * @param create  create the file if missing and switch it to WAL mode.
 * Failures are logged with the path and the reason.
 * @return 0 or an errno; *dbp is set only on success.
 */
int cdr_db_open(sqlite3 **dbp, const char *path, bool create, int busy_ms);
/** Map a SQLite result code (and the OS error behind it) to an errno. */
int cdr_db_errno(sqlite3 *db, int rc);
/** True when @p rc is about one row (constraint, type), not the database. */
bool cdr_db_rc_is_row(int rc);
/** Run @p sql with no result rows; on failure log "@p path: while @p what". */
int cdr_db_exec(sqlite3 *db, const char *path, const char *what,
		const char *sql);
/** Open @p path (no create) and BEGIN IMMEDIATE; @p err says why not. */
int cdr_tx_begin(sqlite3 **dbp, const char *path, char *err, size_t errsize);
/** COMMIT when @p e is 0, else ROLLBACK; close the handle.
 * @return @p e, or the commit's failure. */
int cdr_tx_end(sqlite3 *db, int e, char *err, size_t errsize);
/** Format the reason into @p err (if not NULL) and return @p rc. */
int cdr_errf(char *err, size_t size, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ---- record.c ------------------------------------------------------------ */

/* The columns of the cdr table, in INSERT order. */
#define CDR_COLUMNS                                                       \
	"id,start_time,answer_time,end_time,start_ms,answer_ms,end_ms,"  \
	"duration_ms,billsec,calling,called,direction,in_trunk,out_trunk," \
	"span,chan,sip_call_id,disposition,q850_cause,sip_status,codec,"   \
	"route,rate_prefix,rate,conn_fee,cost,emergency,diversion,"        \
	"e911_zone,elin,e911_trunk,e911_user,callback,e911_ref,"           \
	"rtp_tx_packets,rtp_rx_packets,rtp_rx_lost,rtp_late,"              \
	"rtp_jitter_ms,rtt_ms,mos_rx,mos_tx,remote_lost,remote_jitter_ms," \
	"plc_concealed,jb_drops,srtp_auth_fail,transfer_to,transfer_ref," \
	"fax,fax_pages,fax_bit_rate"

/** A media column's value as stored: NULL, an integer or a real with
 * @p decimals (ms to the us: 3, MOS: 2). */
struct cdr_mval {
	enum { CDR_MV_NULL, CDR_MV_INT, CDR_MV_REAL } kind;
	int64_t i;
	double r;
	int decimals;
};

#define CDR_MEDIA_COLS 13 /* rtp_tx_packets ... srtp_auth_fail */

/** The media columns of @p m, in CDR_COLUMNS order. */
void cdr_media_values(const struct cdr_media *m,
		      struct cdr_mval v[CDR_MEDIA_COLS]);

extern const char cdr_insert_sql[];

/** Seconds billed: answered time rounded up, 0 when unanswered. */
int64_t cdr_record_billsec(const struct cdr_record *r);
/**
 * Bind @p r to the prepared cdr_insert_sql statement and step it once.
 * @return a SQLite result code (SQLITE_DONE on success); the statement is
 * reset either way.
 */
int cdr_record_insert(sqlite3_stmt *st, const struct cdr_record *r);

extern const char cdr_attempt_insert_sql[];
/** Insert the attempts of @p r with the prepared cdr_attempt_insert_sql.
 * @return SQLITE_DONE, or the failing step's code. */
int cdr_attempts_insert(sqlite3_stmt *st, const struct cdr_record *r);

/* ---- csv.c --------------------------------------------------------------- */

/**
 * Append the records of the list @p head as CSV lines to @p path, with a
 * header line when the file is new, and fsync it.
 * @return 0 or an errno (logged with the path).
 */
int cdr_csv_append(const char *path, const struct cdr_item *head);

/* ---- writer.c ------------------------------------------------------------ */

/** Tunables of the writer; cdr_writer_open() uses the defaults. */
struct cdr_writer_opts {
	int busy_ms;            /* SQLite busy timeout per attempt */
	unsigned backoff_min_ms; /* first pause after a failed commit */
	unsigned backoff_max_ms; /* the pause doubles up to this */
	unsigned stop_tries;    /* failed rounds tolerated while closing */
};

void cdr_writer_opts_default(struct cdr_writer_opts *o);
int cdr_writer_open_opts(struct cdr_writer **wp, const char *path,
			 const struct cdr_writer_opts *o);

#endif
