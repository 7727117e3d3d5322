/* cdr/rates.c  Importing a CSV rate deck in one transaction (tollgatectl)
 *
 * A million-row deck goes in within seconds: one prepared INSERT, a page
 * cache big enough to hold the transaction, the rates_version triggers
 * replaced by one bump, and the overlap check against the deck's own
 * earlier lines done in memory.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "cdr"
#include "util/util.h"
#include "cdr/cdr_int.h"

#define fail cdr_errf

/* A row of this import, for the overlap check: rows are few per prefix,
 * so a chained hash on the prefix finds them in one probe. */
struct seen {
	char prefix[DP_RATE_PREFIX_MAX + 1];
	uint32_t next; /* index + 1 of the next row in the chain; 0 ends */
	unsigned line;
	int64_t from, until;
};

struct import {
	sqlite3 *db;
	const char *carrier;
	bool replace;
	sqlite3_stmt *ins;
	cdr_import_err_h *errh;
	void *arg;
	/* Rows of this import get the rowids after @c base, in order:
	 * "older than the import" is rowid <= base. */
	int64_t base;
	struct seen *rows;
	size_t nrows, cap;
	uint32_t *heads; /* hash of the prefix -> index + 1 of a row */
	size_t nheads;   /* a power of 2, at least 2 * nrows */
	size_t ok, bad;
};

static void reject(struct import *im, unsigned line, const char *why)
{
	im->bad++;
	if (im->errh)
		im->errh(line, why, im->arg);
}

static int import_err(unsigned line, const char *why, void *arg)
{
	reject(arg, line, why);
	return 0;
}

static size_t prefix_hash(const char *p, size_t nheads)
{
	uint64_t h = UINT64_C(14695981039346656037); /* FNV-1a */

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * UINT64_C(1099511628211);
	return (size_t)(h ^ (h >> 29)) & (nheads - 1);
}

static void seen_link(struct import *im, size_t i)
{
	size_t h = prefix_hash(im->rows[i].prefix, im->nheads);

	im->rows[i].next = im->heads[h];
	im->heads[h] = (uint32_t)(i + 1);
}

/* Room for one more row, rehashing as the table fills. */
static int seen_grow(struct import *im)
{
	if (im->nrows == im->cap) {
		size_t ncap = im->cap ? im->cap * 2 : 4096;
		struct seen *nr;

		if (ncap > UINT32_MAX - 1)
			return E2BIG;
		nr = realloc(im->rows, ncap * sizeof(*nr));
		if (!nr)
			return ENOMEM;
		im->rows = nr;
		im->cap = ncap;
	}
	if (2 * (im->nrows + 1) > im->nheads) {
		size_t n = im->nheads ? im->nheads * 2 : 8192;
		uint32_t *nh = calloc(n, sizeof(*nh));

		if (!nh)
			return ENOMEM;
		free(im->heads);
		im->heads = nh;
		im->nheads = n;
		for (size_t i = 0; i < im->nrows; i++)
			seen_link(im, i);
	}
	return 0;
}

/* The line of a row of this import for @p r's prefix whose dates
 * [from, until) overlap @p r's (until 0 = open-ended), or 0. */
static unsigned seen_overlap(const struct import *im,
			     const struct dp_rate *r)
{
	uint32_t k = im->heads[prefix_hash(r->prefix, im->nheads)];

	for (; k; k = im->rows[k - 1].next) {
		const struct seen *x = &im->rows[k - 1];

		if (strcmp(x->prefix, r->prefix))
			continue;
		if ((!r->until || x->from < r->until) &&
		    (!x->until || r->from < x->until))
			return x->line;
	}
	return 0;
}

static int import_row(const struct dp_rate *r, unsigned line, void *arg)
{
	struct import *im = arg;
	sqlite3_stmt *st = im->ins;
	struct seen *x;
	unsigned other;
	char why[160];
	int rc;

	if (strcmp(r->carrier, im->carrier)) {
		snprintf(why, sizeof(why), "carrier '%s' is not %s (import "
			 "one carrier's deck at a time)", r->carrier,
			 im->carrier);
		reject(im, line, why);
		return 0;
	}
	rc = seen_grow(im);
	if (rc)
		return rc;
	other = seen_overlap(im, r);
	if (other) {
		/* dp_lcr_build refuses two rates of one carrier and prefix
		 * in force at once: the daemon would keep its old rates. */
		snprintf(why, sizeof(why), "prefix %s: its dates overlap those "
			 "of line %u", r->prefix, other);
		reject(im, line, why);
		return 0;
	}
	sqlite3_bind_int64(st, 1, im->base + (int64_t)im->nrows + 1);
	sqlite3_bind_text(st, 2, r->carrier, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, r->prefix, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, r->rate);
	sqlite3_bind_int64(st, 5, r->conn_fee);
	sqlite3_bind_int64(st, 6, r->first_incr);
	sqlite3_bind_int64(st, 7, r->next_incr);
	sqlite3_bind_int64(st, 8, r->from);
	sqlite3_bind_int64(st, 9, r->until);
	sqlite3_bind_text(st, 10, r->desc, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		snprintf(why, sizeof(why), "database: %s",
			 sqlite3_errmsg(im->db));
		if (im->errh)
			im->errh(line, why, im->arg);
		/* Stops the parse; the transaction is rolled back. */
		return cdr_db_errno(im->db, rc);
	}
	x = &im->rows[im->nrows];
	memcpy(x->prefix, r->prefix, sizeof(x->prefix));
	x->line = line;
	x->from = r->from;
	x->until = r->until;
	seen_link(im, im->nrows++);
	im->ok++;
	return 0;
}

/* Run one statement binding the carrier and the base rowid. */
static int import_exec(struct import *im, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(im->db, sql, -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, im->carrier, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK && sqlite3_bind_parameter_count(st) > 1)
		rc = sqlite3_bind_int64(st, 2, im->base);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int import_prepare(struct import *im, char *err,
			  size_t errsize)
{
	sqlite3_stmt *st = NULL;
	int rc;

	/* A million rows overflow SQLite's default 2 MiB page cache, which
	 * then spills dirty pages into the WAL before the commit: 3x the
	 * time, mostly in the kernel. */
	sqlite3_exec(im->db, "PRAGMA cache_size = -262144", NULL, NULL, NULL);
	/* Put back, with one bump of the version, by import_finish(); a
	 * rollback puts them back too. */
	rc = sqlite3_exec(im->db, "DROP TRIGGER IF EXISTS rate_ins;"
			  "DROP TRIGGER IF EXISTS rate_del;"
			  "DROP TRIGGER IF EXISTS rate_upd;", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(im->db, "SELECT ifnull(max(rowid), 0) FROM "
				"rate", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		im->base = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc == SQLITE_OK && im->replace)
		rc = import_exec(im, "DELETE FROM rate WHERE carrier = ?1");
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(im->db, "INSERT INTO rate(rowid, "
					"carrier, prefix, rate, conn_fee, "
					"first_incr, next_incr, eff_from, "
					"eff_until, description) VALUES (?1, "
					"?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
					-1, &im->ins, NULL);
	if (rc != SQLITE_OK)
		return fail(err, errsize, cdr_db_errno(im->db, rc),
			    "cannot prepare the import: %s",
			    sqlite3_errmsg(im->db));
	return 0;
}

/* Merge: the deck's rows for a prefix replace the carrier's older rows
 * for it; its other prefixes stay.  Then the version and the triggers. */
static int import_finish(struct import *im, char *err,
			 size_t errsize)
{
	int rc = SQLITE_OK;

	if (!im->replace)
		rc = import_exec(im, "DELETE FROM rate WHERE carrier = ?1 AND "
				 "rowid <= ?2 AND prefix IN (SELECT prefix "
				 "FROM rate WHERE carrier = ?1 AND rowid > "
				 "?2)");
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(im->db, "UPDATE meta SET value = value + 1 "
				  "WHERE key = 'rates_version';"
				  CDR_RATE_TRIGGERS, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return fail(err, errsize, cdr_db_errno(im->db, rc),
			    "cannot finish the import: %s",
			    sqlite3_errmsg(im->db));
	return 0;
}

int cdr_db_rates_import(const char *path, const char *carrier,
			const char *buf, size_t len, bool replace,
			cdr_import_err_h *errh, void *arg, size_t *ok,
			size_t *bad, char *err, size_t errsize)
{
	struct import im = {
		.carrier = carrier, .replace = replace, .errh = errh,
		.arg = arg,
	};
	int e;

	*ok = *bad = 0;
	if (!carrier || !*carrier || strlen(carrier) >= DP_RATE_CARRIER_SIZE)
		return fail(err, errsize, EINVAL, "carrier name empty or "
			    "longer than %d characters",
			    DP_RATE_CARRIER_SIZE - 1);
	e = cdr_tx_begin(&im.db, path, err, errsize);
	if (e)
		return e;
	e = import_prepare(&im, err, errsize);
	if (!e) {
		e = dp_ratedeck_parse_csv(buf, len, carrier, import_row,
					  import_err, &im);
		if (e)
			fail(err, errsize, e, "%s",
			     e == EBADMSG ? "the file has no usable header "
					    "line"
			     : e == EFBIG ? "the file is too large"
					  : strerror(e));
	}
	sqlite3_finalize(im.ins);
	if (!e && !im.ok)
		e = fail(err, errsize, EINVAL, "no line could be imported");
	if (!e)
		e = import_finish(&im, err, errsize);
	e = cdr_tx_end(im.db, e, err, errsize);
	free(im.rows);
	free(im.heads);
	*bad = im.bad;
	if (!e)
		*ok = im.ok;
	return e;
}
