/* cdr/routing.c  Routing tables in the database: loading them all
 *
 * The daemon reads every routing table in one read transaction (a
 * consistent view even while tollgatectl writes) and hands the rows to
 * dialplan/ to build a snapshot.  A row that does not fit its struct
 * fails the load with the table and the row's key named: a truncated
 * match or a rate read as 0 would route calls differently from what the
 * table says.  The writers are in edit.c.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "cdr"
#include "util/util.h"
#include "cdr/cdr_int.h"

/* The short name, as in the other files of cdr/. */
#define fail cdr_errf

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

/* An INTEGER column: text such as '10s' (the sqlite3 shell stores what
 * it is given) is refused rather than read as 0. */
static bool col_int(sqlite3_stmt *st, int i, int64_t *out)
{
	if (sqlite3_column_type(st, i) != SQLITE_INTEGER)
		return false;
	*out = sqlite3_column_int64(st, i);
	return true;
}

static bool col_uint(sqlite3_stmt *st, int i, int64_t max, unsigned *out)
{
	int64_t v;

	if (!col_int(st, i, &v) || v < 0 || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

/* A text column and the field it fills. */
struct strcol {
	int i;
	const char *name;
	char *dst;
	size_t size;
};

/* Fill the fields; the first column that does not fit, or NULL. */
static const struct strcol *cols_fit(sqlite3_stmt *st,
				     const struct strcol *c, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (!col_str(st, c[k].i, c[k].dst, c[k].size))
			return &c[k];
	return NULL;
}

/* An unsigned column and its limit. */
struct uintcol {
	int i;
	const char *name;
	unsigned *dst;
	int64_t max;
};

static const struct uintcol *uints_fit(sqlite3_stmt *st,
				       const struct uintcol *c, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (!col_uint(st, c[k].i, c[k].max, c[k].dst))
			return &c[k];
	return NULL;
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
#define cap_ingress_diversion (r->caps[8])
#define cap_egress_diversion  (r->caps[9])
#define cap_zones   (r->caps[10])
#define cap_members (r->caps[11])

static int row_route(sqlite3_stmt *st, struct cdr_routing *r, char *err,
		     size_t errsize)
{
	struct dp_route_row *x;
	const char *name = col(st, 0);
	int64_t lcr;

	if (grow((void **)&r->routes, &cap_routes, r->nroutes, sizeof(*x)))
		return ENOMEM;
	x = &r->routes[r->nroutes];
	if (!col_str(st, 0, x->name, sizeof(x->name)))
		return fail(err, errsize, EINVAL, "route '%.40s': name longer "
			    "than %zu characters", name, sizeof(x->name) - 1);
	{
		const struct strcol sc[] = {
			{2, "kind", x->kind, sizeof(x->kind)},
			{3, "match", x->match, sizeof(x->match)},
			{4, "src_trunks", x->src_trunks, sizeof(x->src_trunks)},
			{5, "calling", x->calling, sizeof(x->calling)},
			{6, "days", x->days, sizeof(x->days)},
			{7, "hours", x->hours, sizeof(x->hours)},
			{8, "tz", x->tz, sizeof(x->tz)},
			{9, "trunks", x->trunks, sizeof(x->trunks)},
			{11, "failover", x->failover, sizeof(x->failover)},
			{17, "enum", x->enum_domain, sizeof(x->enum_domain)},
		};
		const struct uintcol uc[] = {
			{1, "priority", &x->priority, UINT32_MAX},
			{12, "t_trying", &x->t_trying_ms, CDR_T_MAX_MS},
			{13, "t_progress", &x->t_progress_ms, CDR_T_MAX_MS},
			{14, "t_answer", &x->t_answer_ms, CDR_T_ANSWER_MAX_MS},
			{15, "max_calls", &x->max_calls, CDR_LIMIT_MAX},
			{16, "cps", &x->cps, CDR_LIMIT_MAX},
		};
		const struct strcol *bs = cols_fit(st, sc, TG_ARRAY_SIZE(sc));
		const struct uintcol *bu;

		if (bs)
			return fail(err, errsize, EINVAL, "route '%s': %s "
				    "longer than %zu characters", x->name,
				    bs->name, bs->size - 1);
		bu = uints_fit(st, uc, TG_ARRAY_SIZE(uc));
		if (bu)
			return fail(err, errsize, EINVAL, "route '%s': %s "
				    "'%.40s' is not an integer from 0 to %lld",
				    x->name, bu->name, col(st, bu->i),
				    (long long)bu->max);
	}
	if (!col_int(st, 10, &lcr) || (lcr != 0 && lcr != 1))
		return fail(err, errsize, EINVAL, "route '%s': lcr is not 0 "
			    "or 1", x->name);
	x->lcr = lcr == 1;
	r->nroutes++;
	return 0;
}

static int row_rule(sqlite3_stmt *st, struct cdr_routing *r, char *err,
		    size_t errsize)
{
	bool ingress = !strcmp(col(st, 1), "ingress");
	bool calling = !strcmp(col(st, 9), "calling");
	bool diversion = !strcmp(col(st, 9), "diversion");
	struct dp_rule_row **v;
	size_t *n, *cap;
	struct dp_rule_row *x;

	if (calling) {
		v = ingress ? &r->ingress_calling : &r->egress_calling;
		n = ingress ? &r->ningress_calling : &r->negress_calling;
		cap = ingress ? &cap_ingress_calling : &cap_egress_calling;
	} else if (diversion) {
		v = ingress ? &r->ingress_diversion : &r->egress_diversion;
		n = ingress ? &r->ningress_diversion : &r->negress_diversion;
		cap = ingress ? &cap_ingress_diversion
			      : &cap_egress_diversion;
	} else {
		v = ingress ? &r->ingress : &r->egress;
		n = ingress ? &r->ningress : &r->negress;
		cap = ingress ? &cap_ingress : &cap_egress;
	}
	if (grow((void **)v, cap, *n, sizeof(*x)))
		return ENOMEM;
	x = &(*v)[*n];
	{
		const struct strcol sc[] = {
			{2, "name", x->name, sizeof(x->name)},
			{3, "kind", x->kind, sizeof(x->kind)},
			{4, "match", x->match, sizeof(x->match)},
			{5, "trunk", x->trunk, sizeof(x->trunk)},
			{6, "ton", x->ton, sizeof(x->ton)},
			{7, "actions", x->actions, sizeof(x->actions)},
			{8, "replace", x->replace, sizeof(x->replace)},
		};
		const struct strcol *bs = cols_fit(st, sc, TG_ARRAY_SIZE(sc));

		if (bs)
			return fail(err, errsize, EINVAL, "number_rule %lld: "
				    "%s longer than %zu characters",
				    (long long)sqlite3_column_int64(st, 0),
				    bs->name, bs->size - 1);
	}
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
	int64_t incr[2];
	char why[160];

	if (grow((void **)&r->rates, &cap_rates, r->nrates, sizeof(*x)))
		return ENOMEM;
	x = &r->rates[r->nrates];
	if (!col_str(st, 0, x->carrier, sizeof(x->carrier)) ||
	    !col_str(st, 1, x->prefix, sizeof(x->prefix)))
		return fail(err, errsize, EINVAL, "rate row %lld: carrier or "
			    "prefix too long",
			    (long long)sqlite3_column_int64(st, 9));
	if (!col_int(st, 2, &x->rate) || !col_int(st, 3, &x->conn_fee) ||
	    !col_int(st, 4, &incr[0]) || !col_int(st, 5, &incr[1]) ||
	    !col_int(st, 6, &x->from) || !col_int(st, 7, &x->until))
		return fail(err, errsize, EINVAL, "rate row %lld (carrier %s "
			    "prefix %s): rate, conn_fee, increments and dates "
			    "must be integers (micro-units, seconds)",
			    (long long)sqlite3_column_int64(st, 9), x->carrier,
			    x->prefix);
	/* Out of range stays out of range, for dp_rate_check to name. */
	x->first_incr = incr[0] < 0 || incr[0] > UINT_MAX ? UINT_MAX
							  : (unsigned)incr[0];
	x->next_incr = incr[1] < 0 || incr[1] > UINT_MAX ? UINT_MAX
							 : (unsigned)incr[1];
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
	{
		const struct strcol sc[] = {
			{1, "kind", x->kind, sizeof(x->kind)},
			{2, "match", x->match, sizeof(x->match)},
			{3, "category", x->category, sizeof(x->category)},
			{4, "trunk", x->trunk, sizeof(x->trunk)},
		};
		const struct strcol *bs = cols_fit(st, sc, TG_ARRAY_SIZE(sc));

		if (bs)
			return fail(err, errsize, EINVAL, "block %lld: %s "
				    "longer than %zu characters",
				    (long long)sqlite3_column_int64(st, 0),
				    bs->name, bs->size - 1);
	}
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
	{
		const struct strcol sc[] = {
			{0, "first", x->first, sizeof(x->first)},
			{1, "last", x->last, sizeof(x->last)},
			{2, "trunk", x->trunk, sizeof(x->trunk)},
			{3, "user", x->user, sizeof(x->user)},
			{4, "cid", x->cid, sizeof(x->cid)},
			{5, "failover_trunk", x->failover_trunk,
			 sizeof(x->failover_trunk)},
			{6, "failover_number", x->failover_number,
			 sizeof(x->failover_number)},
		};
		const struct strcol *bs = cols_fit(st, sc, TG_ARRAY_SIZE(sc));

		if (bs)
			return fail(err, errsize, EINVAL, "did %.32s-%.32s: "
				    "%s longer than %zu characters",
				    col(st, 0), col(st, 1), bs->name,
				    bs->size - 1);
	}
	r->ndids++;
	return 0;
}

static int row_zone(sqlite3_stmt *st, struct cdr_routing *r, char *err,
		    size_t errsize)
{
	struct e911_zone_row *x;

	if (grow((void **)&r->zones, &cap_zones, r->nzones, sizeof(*x)))
		return ENOMEM;
	x = &r->zones[r->nzones];
	{
		const struct strcol sc[] = {
			{0, "name", x->name, sizeof(x->name)},
			{1, "country", x->country, sizeof(x->country)},
			{2, "a1", x->a1, sizeof(x->a1)},
			{3, "a2", x->a2, sizeof(x->a2)},
			{4, "a3", x->a3, sizeof(x->a3)},
			{5, "a4", x->a4, sizeof(x->a4)},
			{6, "a5", x->a5, sizeof(x->a5)},
			{7, "a6", x->a6, sizeof(x->a6)},
			{8, "prd", x->prd, sizeof(x->prd)},
			{9, "pod", x->pod, sizeof(x->pod)},
			{10, "sts", x->sts, sizeof(x->sts)},
			{11, "rd", x->rd, sizeof(x->rd)},
			{12, "hno", x->hno, sizeof(x->hno)},
			{13, "hns", x->hns, sizeof(x->hns)},
			{14, "lmk", x->lmk, sizeof(x->lmk)},
			{15, "loc", x->loc, sizeof(x->loc)},
			{16, "flr", x->flr, sizeof(x->flr)},
			{17, "unit", x->unit, sizeof(x->unit)},
			{18, "room", x->room, sizeof(x->room)},
			{19, "bld", x->bld, sizeof(x->bld)},
			{20, "nam", x->nam, sizeof(x->nam)},
			{21, "pc", x->pc, sizeof(x->pc)},
			{22, "location_id", x->location_id, sizeof(x->location_id)},
			{23, "elins", x->elins, sizeof(x->elins)},
			{24, "callback_trunk", x->callback_trunk, sizeof(x->callback_trunk)},
			{25, "callback_user", x->callback_user, sizeof(x->callback_user)},
		};
		const struct strcol *bs = cols_fit(st, sc, TG_ARRAY_SIZE(sc));

		if (bs)
			return fail(err, errsize, EINVAL, "e911_zone '%.32s': "
				    "%s longer than %zu characters",
				    col(st, 0), bs->name, bs->size - 1);
	}
	r->nzones++;
	return 0;
}

static int row_member(sqlite3_stmt *st, struct cdr_routing *r, char *err,
		      size_t errsize)
{
	struct e911_member_row *x;

	if (grow((void **)&r->members, &cap_members, r->nmembers,
		 sizeof(*x)))
		return ENOMEM;
	x = &r->members[r->nmembers];
	{
		const struct strcol sc[] = {
			{1, "zone", x->zone, sizeof(x->zone)},
			{2, "kind", x->kind, sizeof(x->kind)},
			{3, "match", x->match, sizeof(x->match)},
			{4, "flr", x->flr, sizeof(x->flr)},
			{5, "unit", x->unit, sizeof(x->unit)},
			{6, "room", x->room, sizeof(x->room)},
		};
		const struct strcol *bs = cols_fit(st, sc, TG_ARRAY_SIZE(sc));

		if (bs)
			return fail(err, errsize, EINVAL, "e911_member %lld: "
				    "%s longer than %zu characters",
				    (long long)sqlite3_column_int64(st, 0),
				    bs->name, bs->size - 1);
	}
	r->nmembers++;
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
	free(r->ingress_diversion);
	free(r->egress_diversion);
	free(r->rates);
	free(r->blocks);
	free(r->dids);
	free(r->zones);
	free(r->members);
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
			       "max_calls, cps, enum FROM route ORDER BY "
			       "priority, "
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
	if (!e)
		e = load_table(db, "SELECT name, country, a1, a2, a3, a4, a5, "
			       "a6, prd, pod, sts, rd, hno, hns, lmk, loc, "
			       "flr, unit, room, bld, nam, pc, location_id, "
			       "elins, callback_trunk, callback_user FROM "
			       "e911_zone ORDER BY name", row_zone, out,
			       "e911_zone", err, errsize);
	if (!e)
		e = load_table(db, "SELECT id, zone, kind, match, flr, unit, "
			       "room FROM e911_member ORDER BY id", row_member,
			       out,
			       "e911_member", err, errsize);
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
