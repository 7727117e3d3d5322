/* cdr/routing.c  Routing tables in the database: load them all, edit them
 *
 * The daemon reads every routing table in one read transaction (a
 * consistent view even while tollgatectl writes) and hands the rows to
 * dialplan/ to build a snapshot.  The writers are for tollgatectl, which
 * edits the file directly and then asks the daemon to reload.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "cdr"
#include "util/util.h"
#include "cdr/cdr_int.h"

static int fail(char *err, size_t size, int rc, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t size, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && size) {
		va_start(ap, fmt);
		vsnprintf(err, size, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static const char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

/* Copy column @p i into @p dst; false when it does not fit. */
static bool col_str(sqlite3_stmt *st, int i, char *dst, size_t size)
{
	const char *s = col(st, i);

	if (strlen(s) >= size)
		return false;
	memcpy(dst, s, strlen(s) + 1);
	return true;
}

static bool col_uint(sqlite3_stmt *st, int i, int64_t max, unsigned *out)
{
	int64_t v = sqlite3_column_int64(st, i);

	if (v < 0 || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

/* Grow an array by doubling; @p cap counts elements. */
static int grow(void **v, size_t *cap, size_t n, size_t elem)
{
	void *nv;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	nv = realloc(*v, ncap * elem);
	if (!nv)
		return ENOMEM;
	memset((char *)nv + *cap * elem, 0, (ncap - *cap) * elem);
	*v = nv;
	*cap = ncap;
	return 0;
}

typedef int(row_fn)(sqlite3_stmt *st, struct cdr_routing *r, char *err,
		    size_t errsize);

static int load_table(sqlite3 *db, const char *sql, row_fn *fn,
		      struct cdr_routing *r, const char *what, char *err,
		      size_t errsize)
{
	sqlite3_stmt *st = NULL;
	int rc, e = 0;

	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		e = fn(st, r, err, errsize);
		if (e)
			break;
	}
	if (!e && rc != SQLITE_DONE)
		e = fail(err, errsize, cdr_db_errno(db, rc),
			 "while reading the %s table: %s", what,
			 sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return e;
}

/* Capacities of the arrays being filled, kept in the struct (private). */
#define cap_routes  (r->caps[0])
#define cap_ingress (r->caps[1])
#define cap_egress  (r->caps[2])
#define cap_rates   (r->caps[3])
#define cap_blocks  (r->caps[4])
#define cap_dids    (r->caps[5])
#define cap_ingress_calling (r->caps[6])
#define cap_egress_calling  (r->caps[7])

static int row_route(sqlite3_stmt *st, struct cdr_routing *r, char *err,
		     size_t errsize)
{
	struct dp_route_row *x;
	const char *name = col(st, 0);

	if (grow((void **)&r->routes, &cap_routes, r->nroutes, sizeof(*x)))
		return ENOMEM;
	x = &r->routes[r->nroutes];
	if (!col_str(st, 0, x->name, sizeof(x->name)))
		return fail(err, errsize, EINVAL, "route '%.40s': name longer "
			    "than %zu characters", name, sizeof(x->name) - 1);
	if (!col_str(st, 2, x->kind, sizeof(x->kind)) ||
	    !col_str(st, 3, x->match, sizeof(x->match)) ||
	    !col_str(st, 4, x->src_trunks, sizeof(x->src_trunks)) ||
	    !col_str(st, 5, x->calling, sizeof(x->calling)) ||
	    !col_str(st, 6, x->days, sizeof(x->days)) ||
	    !col_str(st, 7, x->hours, sizeof(x->hours)) ||
	    !col_str(st, 8, x->tz, sizeof(x->tz)) ||
	    !col_str(st, 9, x->trunks, sizeof(x->trunks)) ||
	    !col_str(st, 11, x->failover, sizeof(x->failover)))
		return fail(err, errsize, EINVAL, "route '%s': a text column "
			    "is too long (kind 11, match 127, src_trunks 127, "
			    "calling 63, days/hours 31, tz 63, trunks 255, "
			    "failover 127)", x->name);
	if (!col_uint(st, 1, UINT32_MAX, &x->priority) ||
	    !col_uint(st, 12, 3600000, &x->t_trying_ms) ||
	    !col_uint(st, 13, 3600000, &x->t_progress_ms) ||
	    !col_uint(st, 14, 86400000, &x->t_answer_ms) ||
	    !col_uint(st, 15, 10000000, &x->max_calls) ||
	    !col_uint(st, 16, 10000000, &x->cps))
		return fail(err, errsize, EINVAL, "route '%s': a number is "
			    "negative or too large", x->name);
	x->lcr = sqlite3_column_int(st, 10) != 0;
	r->nroutes++;
	return 0;
}

static int row_rule(sqlite3_stmt *st, struct cdr_routing *r, char *err,
		    size_t errsize)
{
	bool ingress = !strcmp(col(st, 1), "ingress");
	bool calling = !strcmp(col(st, 9), "calling");
	struct dp_rule_row **v;
	size_t *n, *cap;
	struct dp_rule_row *x;

	if (calling) {
		v = ingress ? &r->ingress_calling : &r->egress_calling;
		n = ingress ? &r->ningress_calling : &r->negress_calling;
		cap = ingress ? &cap_ingress_calling : &cap_egress_calling;
	} else {
		v = ingress ? &r->ingress : &r->egress;
		n = ingress ? &r->ningress : &r->negress;
		cap = ingress ? &cap_ingress : &cap_egress;
	}
	if (grow((void **)v, cap, *n, sizeof(*x)))
		return ENOMEM;
	x = &(*v)[*n];
	if (!col_str(st, 2, x->name, sizeof(x->name)) ||
	    !col_str(st, 3, x->kind, sizeof(x->kind)) ||
	    !col_str(st, 4, x->match, sizeof(x->match)) ||
	    !col_str(st, 5, x->trunk, sizeof(x->trunk)) ||
	    !col_str(st, 6, x->ton, sizeof(x->ton)) ||
	    !col_str(st, 7, x->actions, sizeof(x->actions)) ||
	    !col_str(st, 8, x->replace, sizeof(x->replace)))
		return fail(err, errsize, EINVAL, "number_rule %lld: a text "
			    "column is too long",
			    (long long)sqlite3_column_int64(st, 0));
	if (!*x->name)
		snprintf(x->name, sizeof(x->name), "id %lld",
			 (long long)sqlite3_column_int64(st, 0));
	(*n)++;
	return 0;
}

static int row_rate(sqlite3_stmt *st, struct cdr_routing *r, char *err,
		    size_t errsize)
{
	struct dp_rate *x;
	char why[160];

	if (grow((void **)&r->rates, &cap_rates, r->nrates, sizeof(*x)))
		return ENOMEM;
	x = &r->rates[r->nrates];
	if (!col_str(st, 0, x->carrier, sizeof(x->carrier)) ||
	    !col_str(st, 1, x->prefix, sizeof(x->prefix)))
		return fail(err, errsize, EINVAL, "rate row %lld: carrier or "
			    "prefix too long",
			    (long long)sqlite3_column_int64(st, 9));
	x->rate = sqlite3_column_int64(st, 2);
	x->conn_fee = sqlite3_column_int64(st, 3);
	x->first_incr = (unsigned)sqlite3_column_int(st, 4);
	x->next_incr = (unsigned)sqlite3_column_int(st, 5);
	x->from = sqlite3_column_int64(st, 6);
	x->until = sqlite3_column_int64(st, 7);
	/* A long description is cut, not refused: it is only a label. */
	tg_strlcpy(x->desc, col(st, 8), sizeof(x->desc));
	if (dp_rate_check(x, why, sizeof(why)))
		return fail(err, errsize, EINVAL, "rate row %lld (carrier %s "
			    "prefix %s): %s",
			    (long long)sqlite3_column_int64(st, 9), x->carrier,
			    x->prefix, why);
	r->nrates++;
	return 0;
}

static int row_block(sqlite3_stmt *st, struct cdr_routing *r, char *err,
		     size_t errsize)
{
	struct dp_block_row *x;

	if (grow((void **)&r->blocks, &cap_blocks, r->nblocks, sizeof(*x)))
		return ENOMEM;
	x = &r->blocks[r->nblocks];
	if (!col_str(st, 1, x->kind, sizeof(x->kind)) ||
	    !col_str(st, 2, x->match, sizeof(x->match)) ||
	    !col_str(st, 3, x->category, sizeof(x->category)) ||
	    !col_str(st, 4, x->trunk, sizeof(x->trunk)))
		return fail(err, errsize, EINVAL, "block %lld: a text column "
			    "is too long",
			    (long long)sqlite3_column_int64(st, 0));
	r->nblocks++;
	return 0;
}

static int row_did(sqlite3_stmt *st, struct cdr_routing *r, char *err,
		   size_t errsize)
{
	struct dp_did_range *x;

	if (grow((void **)&r->dids, &cap_dids, r->ndids, sizeof(*x)))
		return ENOMEM;
	x = &r->dids[r->ndids];
	if (!col_str(st, 0, x->first, sizeof(x->first)) ||
	    !col_str(st, 1, x->last, sizeof(x->last)) ||
	    !col_str(st, 2, x->trunk, sizeof(x->trunk)) ||
	    !col_str(st, 3, x->user, sizeof(x->user)) ||
	    !col_str(st, 4, x->cid, sizeof(x->cid)) ||
	    !col_str(st, 5, x->failover_trunk, sizeof(x->failover_trunk)) ||
	    !col_str(st, 6, x->failover_number, sizeof(x->failover_number)))
		return fail(err, errsize, EINVAL, "did %.32s-%.32s: a text "
			    "column is too long", col(st, 0), col(st, 1));
	r->ndids++;
	return 0;
}

void cdr_routing_free(struct cdr_routing *r)
{
	if (!r)
		return;
	free(r->routes);
	free(r->ingress);
	free(r->egress);
	free(r->ingress_calling);
	free(r->egress_calling);
	free(r->rates);
	free(r->blocks);
	free(r->dids);
	memset(r, 0, sizeof(*r));
}

int cdr_db_load_routing(const char *path, struct cdr_routing *out, char *err,
			size_t errsize)
{
	sqlite3 *db;
	int e;

	if (err && errsize)
		err[0] = '\0';
	memset(out, 0, sizeof(*out));
	e = cdr_db_open(&db, path, false, CDR_DB_BUSY_MS);
	if (e)
		return fail(err, errsize, e, "%s: cannot open: %s", path,
			    strerror(e));
	/* One read transaction: the tables as of one moment. */
	e = cdr_db_exec(db, path, "reading the routing tables", "BEGIN");
	if (!e)
		e = load_table(db, "SELECT name, priority, kind, match, "
			       "src_trunks, calling, days, hours, tz, trunks, "
			       "lcr, failover, t_trying, t_progress, t_answer, "
			       "max_calls, cps FROM route ORDER BY priority, "
			       "name", row_route, out, "route", err, errsize);
	if (!e)
		e = load_table(db, "SELECT id, direction, name, kind, match, "
			       "trunk, ton, actions, replace, number FROM "
			       "number_rule "
			       "ORDER BY direction, position, id", row_rule,
			       out, "number_rule", err, errsize);
	if (!e)
		e = load_table(db, "SELECT carrier, prefix, rate, conn_fee, "
			       "first_incr, next_incr, eff_from, eff_until, "
			       "description, rowid FROM rate", row_rate, out,
			       "rate", err, errsize);
	if (!e)
		e = load_table(db, "SELECT id, kind, match, category, trunk "
			       "FROM block ORDER BY id", row_block, out,
			       "block", err, errsize);
	if (!e)
		e = load_table(db, "SELECT first, last, trunk, user, cid, "
			       "failover_trunk, failover_number FROM did "
			       "ORDER BY first", row_did, out, "did", err,
			       errsize);
	if (!e) {
		sqlite3_stmt *st = NULL;

		if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key "
				       "= 'rates_version'", -1, &st,
				       NULL) == SQLITE_OK &&
		    sqlite3_step(st) == SQLITE_ROW)
			out->rates_version = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	if (e == ENOMEM && err && errsize && !*err)
		snprintf(err, errsize, "out of memory");
	if (e)
		cdr_routing_free(out);
	return e;
}

/* ---- writers (tollgatectl) ------------------------------------------------ */

int cdr_db_write(const char *path, const char *sql, const char *const *args,
		 size_t nargs, char *err, size_t errsize)
{
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int rc, e;

	e = cdr_db_open(&db, path, false, CDR_DB_BUSY_MS);
	if (e)
		return fail(err, errsize, e, "%s: cannot open: %s", path,
			    strerror(e));
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < nargs; i++)
		rc = args[i] ? sqlite3_bind_text(st, (int)i + 1, args[i], -1,
						 SQLITE_STATIC)
			     : sqlite3_bind_null(st, (int)i + 1);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		e = fail(err, errsize, cdr_db_errno(db, rc), "%s",
			 sqlite3_errmsg(db));
	else if (!sqlite3_changes(db) && strncmp(sql, "INSERT", 6))
		e = fail(err, errsize, ENOENT, "no such row");
	sqlite3_finalize(st);
	sqlite3_close(db);
	return e;
}

int cdr_db_query(const char *path, const char *sql, const char *const *args,
		 size_t nargs, cdr_query_h *h, void *arg, char *err,
		 size_t errsize)
{
	const char *vals[32];
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int rc, e;

	e = cdr_db_open(&db, path, false, CDR_DB_BUSY_MS);
	if (e)
		return fail(err, errsize, e, "%s: cannot open: %s", path,
			    strerror(e));
	rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < nargs; i++)
		rc = sqlite3_bind_text(st, (int)i + 1, args[i], -1,
				       SQLITE_STATIC);
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		int n;

		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		n = sqlite3_column_count(st);
		if (n > 32)
			n = 32;
		for (int i = 0; i < n; i++)
			vals[i] = col(st, i);
		h(vals, (size_t)n, arg);
	}
	if (rc != SQLITE_DONE)
		e = fail(err, errsize, cdr_db_errno(db, rc), "%s",
			 sqlite3_errmsg(db));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return e;
}

struct import {
	sqlite3 *db;
	sqlite3_stmt *ins;
	cdr_import_err_h *errh;
	void *arg;
	size_t ok, bad;
	int rc;
};

static int import_row(const struct dp_rate *r, unsigned line, void *arg)
{
	struct import *im = arg;
	sqlite3_stmt *st = im->ins;
	int rc;

	sqlite3_bind_text(st, 1, r->carrier, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, r->prefix, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, r->rate);
	sqlite3_bind_int64(st, 4, r->conn_fee);
	sqlite3_bind_int(st, 5, (int)r->first_incr);
	sqlite3_bind_int(st, 6, (int)r->next_incr);
	sqlite3_bind_int64(st, 7, r->from);
	sqlite3_bind_int64(st, 8, r->until);
	sqlite3_bind_text(st, 9, r->desc, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		char why[160];

		snprintf(why, sizeof(why), "database: %s",
			 sqlite3_errmsg(im->db));
		im->rc = cdr_db_errno(im->db, rc);
		if (im->errh)
			im->errh(line, why, im->arg);
		return im->rc;
	}
	im->ok++;
	return 0;
}

static int import_err(unsigned line, const char *why, void *arg)
{
	struct import *im = arg;

	im->bad++;
	if (im->errh)
		im->errh(line, why, im->arg);
	return 0;
}

int cdr_db_rates_import(const char *path, const char *carrier,
			const char *buf, size_t len, bool replace,
			cdr_import_err_h *errh, void *arg, size_t *ok,
			size_t *bad, char *err, size_t errsize)
{
	struct import im = {.errh = errh, .arg = arg};
	int e, rc;

	*ok = *bad = 0;
	e = cdr_db_open(&im.db, path, false, CDR_DB_BUSY_MS);
	if (e)
		return fail(err, errsize, e, "%s: cannot open: %s", path,
			    strerror(e));
	e = cdr_db_exec(im.db, path, "importing rates", "BEGIN IMMEDIATE");
	if (e) {
		fail(err, errsize, e, "cannot start the import: %s",
		     strerror(e));
		goto out;
	}
	if (replace) {
		sqlite3_stmt *del = NULL;

		rc = sqlite3_prepare_v2(im.db, "DELETE FROM rate WHERE "
					"carrier = ?1", -1, &del, NULL);
		if (rc == SQLITE_OK) {
			sqlite3_bind_text(del, 1, carrier, -1, SQLITE_STATIC);
			rc = sqlite3_step(del);
		}
		sqlite3_finalize(del);
		if (rc != SQLITE_DONE) {
			e = fail(err, errsize, cdr_db_errno(im.db, rc),
				 "cannot delete the old rates: %s",
				 sqlite3_errmsg(im.db));
			goto rollback;
		}
	}
	rc = sqlite3_prepare_v2(im.db, "INSERT INTO rate(carrier, prefix, "
				"rate, conn_fee, first_incr, next_incr, "
				"eff_from, eff_until, description) VALUES "
				"(?1,?2,?3,?4,?5,?6,?7,?8,?9)", -1, &im.ins,
				NULL);
	if (rc != SQLITE_OK) {
		e = fail(err, errsize, cdr_db_errno(im.db, rc), "%s",
			 sqlite3_errmsg(im.db));
		goto rollback;
	}
	e = dp_ratedeck_parse_csv(buf, len, carrier, import_row, import_err,
				  &im);
	sqlite3_finalize(im.ins);
	if (e) {
		fail(err, errsize, e, "%s",
		     e == EBADMSG ? "the file has no usable header line"
		     : e == EFBIG ? "the file is too large"
				  : strerror(e));
		goto rollback;
	}
	if (!im.ok) {
		e = fail(err, errsize, EINVAL, "no line could be imported");
		goto rollback;
	}
	e = cdr_db_exec(im.db, path, "importing rates", "COMMIT");
	if (e) {
		fail(err, errsize, e, "commit failed: %s", strerror(e));
		goto rollback;
	}
	*ok = im.ok;
	*bad = im.bad;
	goto out;
 rollback:
	*bad = im.bad;
	sqlite3_exec(im.db, "ROLLBACK", NULL, NULL, NULL);
 out:
	sqlite3_close(im.db);
	return e;
}
