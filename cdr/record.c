/* cdr/record.c  A CDR as a table row: names, billing, insert and tail */
#include <errno.h>
#include <string.h>

#define LOG_MODULE "cdr"
#include "util/util.h"
#include "cdr/cdr_int.h"

static const char *const disposition_names[] = {
	[CDR_ANSWERED] = "ANSWERED",   [CDR_BUSY] = "BUSY",
	[CDR_NO_ANSWER] = "NO ANSWER", [CDR_FAILED] = "FAILED",
	[CDR_CONGESTION] = "CONGESTION",
};

const char cdr_insert_sql[] =
	"INSERT INTO cdr(" CDR_COLUMNS ") VALUES(?1,?2,?3,?4,?5,?6,?7,?8,"
	"?9,?10,?11,?12,?13,?14,?15,?16,?17,?18,?19,?20,?21,?22,?23,?24,?25,"
	"?26,?27,?28,?29,?30,?31,?32,?33,?34,?35,?36,?37,?38,?39,?40,?41,"
	"?42,?43,?44,?45,?46,?47,?48,?49,?50,?51,?52)";

const char cdr_attempt_insert_sql[] =
	"INSERT INTO cdr_attempt(cdr_id,n,trunk,called,start_ms,end_ms,"
	"sip_status,q850_cause,outcome,target) "
	"VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)";

const char *cdr_disposition_name(enum cdr_disposition d)
{
	if ((unsigned)d < TG_ARRAY_SIZE(disposition_names))
		return disposition_names[d];
	return "FAILED";
}

const char *cdr_direction_name(enum cdr_direction d)
{
	return d == CDR_INBOUND ? "inbound" : "outbound";
}

static enum cdr_disposition disposition_parse(const char *s)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(disposition_names); i++) {
		if (!strcmp(s, disposition_names[i]))
			return (enum cdr_disposition)i;
	}
	return CDR_FAILED;
}

int64_t cdr_record_billsec(const struct cdr_record *r)
{
	int64_t talk;

	if (!r->answer_ms || r->end_ms <= r->answer_ms)
		return 0;
	talk = r->end_ms - r->answer_ms;
	return (talk + 999) / 1000;
}

/* 0 means "none" in the record and NULL in the table. */
static int bind_opt(sqlite3_stmt *st, int col, int64_t v)
{
	if (!v)
		return sqlite3_bind_null(st, col);
	return sqlite3_bind_int64(st, col, v);
}

static int bind_text(sqlite3_stmt *st, int col, const char *s)
{
	return sqlite3_bind_text(st, col, s, -1, SQLITE_STATIC);
}

/* A count, NULL when no bridge ran (or @p v < 0: unknown). */
static struct cdr_mval count_val(const struct cdr_media *m, int64_t v)
{
	if (!m->set || v < 0)
		return (struct cdr_mval){.kind = CDR_MV_NULL};
	return (struct cdr_mval){.kind = CDR_MV_INT, .i = v};
}

/* Microseconds as ms, NULL unknown. */
static struct cdr_mval ms_val(const struct cdr_media *m, int64_t us)
{
	if (!m->set || us < 0)
		return (struct cdr_mval){.kind = CDR_MV_NULL};
	return (struct cdr_mval){.kind = CDR_MV_REAL,
				 .r = (double)us / 1000.0, .decimals = 3};
}

static struct cdr_mval mos_val(const struct cdr_media *m, int mos_x100)
{
	if (!m->set || mos_x100 <= 0)
		return (struct cdr_mval){.kind = CDR_MV_NULL};
	return (struct cdr_mval){.kind = CDR_MV_REAL, .r = mos_x100 / 100.0,
				 .decimals = 2};
}

void cdr_media_values(const struct cdr_media *m,
		      struct cdr_mval v[CDR_MEDIA_COLS])
{
	const struct cdr_mval all[CDR_MEDIA_COLS] = {
		count_val(m, m->tx_packets), count_val(m, m->rx_packets),
		count_val(m, m->rx_lost), count_val(m, m->late),
		ms_val(m, m->jitter_us), ms_val(m, m->rtt_us),
		mos_val(m, m->mos_rx), mos_val(m, m->mos_tx),
		count_val(m, m->remote_lost), ms_val(m, m->remote_jitter_us),
		count_val(m, m->concealed), count_val(m, m->jb_drops),
		count_val(m, m->srtp_auth_fail),
	};

	memcpy(v, all, sizeof(all));
}

/* The media columns from ?35 on. */
static int media_bind(sqlite3_stmt *st, const struct cdr_media *m)
{
	struct cdr_mval v[CDR_MEDIA_COLS];
	int rc = SQLITE_OK;

	cdr_media_values(m, v);
	for (int i = 0; i < CDR_MEDIA_COLS; i++) {
		if (v[i].kind == CDR_MV_INT)
			rc |= sqlite3_bind_int64(st, 35 + i, v[i].i);
		else if (v[i].kind == CDR_MV_REAL)
			rc |= sqlite3_bind_double(st, 35 + i, v[i].r);
		else
			rc |= sqlite3_bind_null(st, 35 + i);
	}
	return rc;
}

int cdr_record_insert(sqlite3_stmt *st, const struct cdr_record *r)
{
	char start[32], answer[32], end[32];
	int rc = SQLITE_OK;

	tg_time_fmt(start, sizeof(start), r->start_ms);
	tg_time_fmt(answer, sizeof(answer), r->answer_ms);
	tg_time_fmt(end, sizeof(end), r->end_ms);

	/* The buffers outlive the step below, so SQLITE_STATIC is safe. */
	rc |= bind_text(st, 1, r->id);
	rc |= bind_text(st, 2, start);
	rc |= r->answer_ms ? bind_text(st, 3, answer)
			   : sqlite3_bind_null(st, 3);
	rc |= bind_text(st, 4, end);
	rc |= sqlite3_bind_int64(st, 5, r->start_ms);
	rc |= bind_opt(st, 6, r->answer_ms);
	rc |= sqlite3_bind_int64(st, 7, r->end_ms);
	rc |= sqlite3_bind_int64(st, 8, r->end_ms - r->start_ms);
	rc |= sqlite3_bind_int64(st, 9, cdr_record_billsec(r));
	rc |= bind_text(st, 10, r->calling);
	rc |= bind_text(st, 11, r->called);
	rc |= bind_text(st, 12, cdr_direction_name(r->direction));
	rc |= bind_text(st, 13, r->in_trunk);
	rc |= bind_text(st, 14, r->out_trunk);
	rc |= bind_opt(st, 15, r->span);
	rc |= bind_opt(st, 16, r->chan);
	rc |= bind_text(st, 17, r->sip_call_id);
	rc |= bind_text(st, 18, cdr_disposition_name(r->disposition));
	rc |= bind_opt(st, 19, r->q850_cause);
	rc |= bind_opt(st, 20, r->sip_status);
	rc |= bind_text(st, 21, r->codec);
	rc |= bind_text(st, 22, r->route);
	rc |= *r->rate_prefix ? bind_text(st, 23, r->rate_prefix)
			      : sqlite3_bind_null(st, 23);
	rc |= *r->rate_prefix ? sqlite3_bind_int64(st, 24, r->rate)
			      : sqlite3_bind_null(st, 24);
	rc |= *r->rate_prefix ? sqlite3_bind_int64(st, 25, r->conn_fee)
			      : sqlite3_bind_null(st, 25);
	rc |= *r->rate_prefix ? sqlite3_bind_int64(st, 26, r->cost)
			      : sqlite3_bind_null(st, 26);
	rc |= sqlite3_bind_int(st, 27, r->emergency);
	rc |= *r->diversion ? bind_text(st, 28, r->diversion)
			    : sqlite3_bind_null(st, 28);
	rc |= *r->elin ? bind_text(st, 29, r->e911_zone)
		       : sqlite3_bind_null(st, 29);
	rc |= *r->elin ? bind_text(st, 30, r->elin) : sqlite3_bind_null(st, 30);
	rc |= *r->elin ? bind_text(st, 31, r->e911_trunk)
		       : sqlite3_bind_null(st, 31);
	rc |= *r->elin ? bind_text(st, 32, r->e911_user)
		       : sqlite3_bind_null(st, 32);
	rc |= sqlite3_bind_int(st, 33, r->callback);
	rc |= *r->e911_ref ? bind_text(st, 34, r->e911_ref)
			   : sqlite3_bind_null(st, 34);
	rc |= media_bind(st, &r->media);
	rc |= *r->transfer_to ? bind_text(st, 48, r->transfer_to)
			      : sqlite3_bind_null(st, 48);
	rc |= *r->transfer_ref ? bind_text(st, 49, r->transfer_ref)
			       : sqlite3_bind_null(st, 49);
	rc |= *r->fax ? bind_text(st, 50, r->fax) : sqlite3_bind_null(st, 50);
	rc |= *r->fax && r->fax_pages >= 0
		      ? sqlite3_bind_int(st, 51, r->fax_pages)
		      : sqlite3_bind_null(st, 51);
	rc |= *r->fax && r->fax_bit_rate > 0
		      ? sqlite3_bind_int(st, 52, r->fax_bit_rate)
		      : sqlite3_bind_null(st, 52);
	/* Binding fails only on a bad index or no memory; OR-ing the codes
	 * is enough to know that something went wrong. */
	if (rc != SQLITE_OK)
		rc = SQLITE_NOMEM;
	else
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc;
}

int cdr_attempts_insert(sqlite3_stmt *st, const struct cdr_record *r)
{
	int rc = SQLITE_DONE;

	for (unsigned i = 0; i < r->nattempts && i < CDR_MAX_ATTEMPTS; i++) {
		const struct cdr_attempt *a = &r->attempts[i];
		int b = SQLITE_OK;

		b |= bind_text(st, 1, r->id);
		b |= sqlite3_bind_int(st, 2, (int)i + 1);
		b |= bind_text(st, 3, a->trunk);
		b |= bind_text(st, 4, a->called);
		b |= sqlite3_bind_int64(st, 5, a->start_ms);
		b |= bind_opt(st, 6, a->end_ms);
		b |= bind_opt(st, 7, a->sip_status);
		b |= bind_opt(st, 8, a->q850_cause);
		b |= bind_text(st, 9, a->outcome);
		if (a->target[0])
			b |= bind_text(st, 10, a->target);
		rc = b != SQLITE_OK ? SQLITE_NOMEM : sqlite3_step(st);
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
		if (rc != SQLITE_DONE)
			break;
	}
	return rc;
}

static void column_str(sqlite3_stmt *st, int col, char *dst, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	tg_strlcpy(dst, t ? (const char *)t : "", size);
}

static int64_t column_count(sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return -1;
	return sqlite3_column_int64(st, col);
}

static int64_t column_us(sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return -1;
	return (int64_t)(sqlite3_column_double(st, col) * 1000.0 + 0.5);
}

static int column_mos(sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return 0;
	return (int)(sqlite3_column_double(st, col) * 100.0 + 0.5);
}

/* The media columns from @p col on, as media_bind wrote them. */
static void row_to_media(sqlite3_stmt *st, int col, struct cdr_media *m)
{
	m->set = sqlite3_column_type(st, col) != SQLITE_NULL;
	m->tx_packets = column_count(st, col);
	m->rx_packets = column_count(st, col + 1);
	m->rx_lost = column_count(st, col + 2);
	m->late = column_count(st, col + 3);
	m->jitter_us = column_us(st, col + 4);
	m->rtt_us = column_us(st, col + 5);
	m->mos_rx = column_mos(st, col + 6);
	m->mos_tx = column_mos(st, col + 7);
	m->remote_lost = column_count(st, col + 8);
	m->remote_jitter_us = column_us(st, col + 9);
	m->concealed = column_count(st, col + 10);
	m->jb_drops = column_count(st, col + 11);
	m->srtp_auth_fail = column_count(st, col + 12);
}

static void row_to_record(sqlite3_stmt *st, struct cdr_record *r)
{
	char buf[16];

	memset(r, 0, sizeof(*r));
	column_str(st, 0, r->id, sizeof(r->id));
	r->start_ms = sqlite3_column_int64(st, 1);
	r->answer_ms = sqlite3_column_int64(st, 2);
	r->end_ms = sqlite3_column_int64(st, 3);
	column_str(st, 4, r->calling, sizeof(r->calling));
	column_str(st, 5, r->called, sizeof(r->called));
	column_str(st, 6, buf, sizeof(buf));
	r->direction = strcmp(buf, "inbound") ? CDR_OUTBOUND : CDR_INBOUND;
	column_str(st, 7, r->in_trunk, sizeof(r->in_trunk));
	column_str(st, 8, r->out_trunk, sizeof(r->out_trunk));
	r->span = sqlite3_column_int(st, 9);
	r->chan = sqlite3_column_int(st, 10);
	column_str(st, 11, r->sip_call_id, sizeof(r->sip_call_id));
	column_str(st, 12, buf, sizeof(buf));
	r->disposition = disposition_parse(buf);
	r->q850_cause = sqlite3_column_int(st, 13);
	r->sip_status = sqlite3_column_int(st, 14);
	column_str(st, 15, r->codec, sizeof(r->codec));
	column_str(st, 16, r->route, sizeof(r->route));
	column_str(st, 17, r->rate_prefix, sizeof(r->rate_prefix));
	r->rate = sqlite3_column_int64(st, 18);
	r->conn_fee = sqlite3_column_int64(st, 19);
	r->cost = sqlite3_column_int64(st, 20);
	r->emergency = sqlite3_column_int(st, 21);
	column_str(st, 22, r->diversion, sizeof(r->diversion));
	column_str(st, 23, r->e911_zone, sizeof(r->e911_zone));
	column_str(st, 24, r->elin, sizeof(r->elin));
	column_str(st, 25, r->e911_trunk, sizeof(r->e911_trunk));
	column_str(st, 26, r->e911_user, sizeof(r->e911_user));
	r->callback = sqlite3_column_int(st, 27);
	column_str(st, 28, r->e911_ref, sizeof(r->e911_ref));
	row_to_media(st, 29, &r->media);
	column_str(st, 29 + CDR_MEDIA_COLS, r->transfer_to,
		   sizeof(r->transfer_to));
	column_str(st, 30 + CDR_MEDIA_COLS, r->transfer_ref,
		   sizeof(r->transfer_ref));
	column_str(st, 31 + CDR_MEDIA_COLS, r->fax, sizeof(r->fax));
	r->fax_pages = sqlite3_column_type(st, 32 + CDR_MEDIA_COLS) ==
				       SQLITE_NULL
			       ? -1
			       : sqlite3_column_int(st, 32 + CDR_MEDIA_COLS);
	r->fax_bit_rate = sqlite3_column_int(st, 33 + CDR_MEDIA_COLS);
}

/* "Newest" means latest start; rowid (insertion order) breaks ties so
 * the order is stable for calls that started in the same millisecond. */
static const char tail_sql[] =
	"SELECT id,start_ms,answer_ms,end_ms,calling,called,direction,"
	"in_trunk,out_trunk,span,chan,sip_call_id,disposition,q850_cause,"
	"sip_status,codec,route,rate_prefix,rate,conn_fee,cost,emergency,"
	"diversion,e911_zone,elin,e911_trunk,e911_user,callback,e911_ref,"
	"rtp_tx_packets,rtp_rx_packets,rtp_rx_lost,rtp_late,rtp_jitter_ms,"
	"rtt_ms,mos_rx,mos_tx,remote_lost,remote_jitter_ms,plc_concealed,"
	"jb_drops,srtp_auth_fail,transfer_to,transfer_ref,fax,fax_pages,"
	"fax_bit_rate"
	" FROM (SELECT rowid AS rid, * FROM cdr"
	" ORDER BY start_ms DESC, rowid DESC LIMIT ?1)"
	" ORDER BY start_ms, rid";

static const char attempts_sql[] =
	"SELECT trunk,called,start_ms,end_ms,sip_status,q850_cause,outcome,"
	"target FROM cdr_attempt WHERE cdr_id = ?1 ORDER BY n LIMIT 8";

/* The attempts of @p r from the cdr_attempt table.  @return SQLITE_DONE
 * or an error code. */
static int attempts_read(sqlite3_stmt *st, struct cdr_record *r)
{
	int rc;

	rc = sqlite3_bind_text(st, 1, r->id, -1, SQLITE_STATIC);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		struct cdr_attempt *a;

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW || r->nattempts >= CDR_MAX_ATTEMPTS)
			break;
		a = &r->attempts[r->nattempts++];
		column_str(st, 0, a->trunk, sizeof(a->trunk));
		column_str(st, 1, a->called, sizeof(a->called));
		a->start_ms = sqlite3_column_int64(st, 2);
		a->end_ms = sqlite3_column_int64(st, 3);
		a->sip_status = sqlite3_column_int(st, 4);
		a->q850_cause = sqlite3_column_int(st, 5);
		column_str(st, 6, a->outcome, sizeof(a->outcome));
		column_str(st, 7, a->target, sizeof(a->target));
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

int cdr_db_tail(const char *path, unsigned n, cdr_row_h *h, void *arg)
{
	sqlite3_stmt *st = NULL, *ast = NULL;
	struct cdr_record r;
	sqlite3 *db;
	int err, rc;

	if (!path || !h)
		return EINVAL;
	err = cdr_db_open(&db, path, false, CDR_DB_BUSY_MS);
	if (err)
		return err;
	/* One read transaction: each call with the attempts it had. */
	rc = sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, attempts_sql, -1, &ast, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, tail_sql, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 1, n);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		row_to_record(st, &r);
		rc = attempts_read(ast, &r);
		if (rc != SQLITE_DONE)
			break;
		rc = SQLITE_ROW;
		h(&r, arg);
	}
	sqlite3_finalize(ast);
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_DONE) {
		gw_err("%s: while reading the last %u CDRs: %s", path, n,
		       sqlite3_errmsg(db));
		err = cdr_db_errno(db, rc);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return err;
}

/* The newest use of every ELIN since @p since_ms: the PSAP callback table
 * after a restart (the CDR of the emergency call, or of a callback that
 * reached the caller, names the party). */
int cdr_db_elin_parties(const char *path, int64_t since_ms,
			cdr_elin_h *h, void *arg)
{
	static const char sql[] =
		"SELECT elin, e911_zone, e911_trunk, e911_user, end_ms,"
		" CASE WHEN callback = 1 THEN e911_ref ELSE id END"
		" FROM cdr c WHERE elin IS NOT NULL AND end_ms >= ?1"
		" AND e911_trunk IS NOT NULL AND e911_trunk <> ''"
		" AND callback <> 2"
		" AND end_ms = (SELECT max(end_ms) FROM cdr d"
		"  WHERE d.elin = c.elin AND d.e911_trunk IS NOT NULL"
		"  AND d.e911_trunk <> '' AND d.callback <> 2)";
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int err, rc;

	if (!path || !h)
		return EINVAL;
	err = cdr_db_open(&db, path, false, CDR_DB_BUSY_MS);
	if (err)
		return err;
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 1, since_ms);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		const unsigned char *v[4];

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		for (int i = 0; i < 4; i++)
			v[i] = sqlite3_column_text(st, i);
		const unsigned char *ref = sqlite3_column_text(st, 5);

		h(v[0] ? (const char *)v[0] : "",
		  v[1] ? (const char *)v[1] : "",
		  v[2] ? (const char *)v[2] : "",
		  v[3] ? (const char *)v[3] : "",
		  sqlite3_column_int64(st, 4), ref ? (const char *)ref : "",
		  arg);
	}
	if (rc != SQLITE_DONE) {
		gw_err("%s: while reading the ELINs' last callers: %s", path,
		       sqlite3_errmsg(db));
		err = cdr_db_errno(db, rc);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return err;
}
