/* cdr/edit.c  Editing the routing tables (tollgatectl)
 *
 * These run in the tollgatectl process straight against the database
 * file, never in the daemon: SQLite WAL lets them write while the daemon
 * reads, and the daemon picks the change up at its next reload.  A row
 * is checked with dialplan/'s own builders before it is written, so a
 * typo is refused here, with a reason, instead of making the daemon's
 * next reload fail.  Rate decks are imported by rates.c.
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

static const char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

#define TERMINATED(field) terminated(field, sizeof(field))

/* ---- generic statements -------------------------------------------------- */

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

/* ---- checks -------------------------------------------------------------- */

/* Trunks named by a row, as SIP trunks without a numbering plan: the
 * check stands in for the config's trunks, which tollgatectl does not
 * read.  The daemon checks the names against its trunks at reload. */
struct synth {
	struct dp_trunk_row t[64 + DP_MAX_ATTEMPTS + 2];
	size_t n;
};

static int synth_add(struct synth *s, const char *list, char *err,
		     size_t errsize)
{
	char buf[256], *save = NULL, *tok;

	tg_strlcpy(buf, list, sizeof(buf));
	for (tok = strtok_r(buf, ", \t", &save); tok;
	     tok = strtok_r(NULL, ", \t", &save)) {
		size_t i;

		if (strlen(tok) >= DP_NAME_SIZE)
			return fail(err, errsize, EINVAL, "trunk name '%s' "
				    "longer than %d characters", tok,
				    DP_NAME_SIZE - 1);
		for (i = 0; i < s->n; i++)
			if (!strcmp(s->t[i].name, tok))
				break;
		if (i < s->n)
			continue;
		if (s->n == TG_ARRAY_SIZE(s->t))
			return fail(err, errsize, EINVAL, "too many trunks");
		memset(&s->t[s->n], 0, sizeof(s->t[0]));
		memcpy(s->t[s->n].name, tok, strlen(tok) + 1);
		s->t[s->n++].kind = DP_TRUNK_SIP;
	}
	return 0;
}

static int snapshot_check(const struct dp_snapshot_rows *rows, char *err,
			  size_t errsize)
{
	struct dp_snapshot *s = NULL;
	int e = dp_snapshot_build(&s, rows, err, errsize);

	obj_deref(s);
	if (e == ENOMEM)
		return fail(err, errsize, e, "out of memory");
	return e;
}

int cdr_route_check(const struct dp_route_row *r, char *err, size_t errsize)
{
	struct dp_snapshot_rows rows;
	struct synth *sy;
	int e;

	if (!TERMINATED(r->name) || !TERMINATED(r->kind) ||
	    !TERMINATED(r->match) || !TERMINATED(r->src_trunks) ||
	    !TERMINATED(r->calling) || !TERMINATED(r->days) ||
	    !TERMINATED(r->hours) || !TERMINATED(r->tz) ||
	    !TERMINATED(r->trunks) || !TERMINATED(r->failover))
		return fail(err, errsize, EINVAL, "route: a field is not "
			    "terminated");
	if (!*r->name)
		return fail(err, errsize, EINVAL, "route: no name");
	if (r->t_trying_ms > CDR_T_MAX_MS || r->t_progress_ms > CDR_T_MAX_MS ||
	    r->t_answer_ms > CDR_T_ANSWER_MAX_MS ||
	    r->max_calls > CDR_LIMIT_MAX || r->cps > CDR_LIMIT_MAX)
		return fail(err, errsize, EINVAL, "route '%s': t_trying and "
			    "t_progress at most %d ms, t_answer %d ms, "
			    "max_calls and cps %d", r->name, CDR_T_MAX_MS,
			    CDR_T_ANSWER_MAX_MS, CDR_LIMIT_MAX);
	sy = calloc(1, sizeof(*sy));
	if (!sy)
		return fail(err, errsize, ENOMEM, "out of memory");
	e = synth_add(sy, r->src_trunks, err, errsize);
	if (!e)
		e = synth_add(sy, r->trunks, err, errsize);
	if (!e) {
		memset(&rows, 0, sizeof(rows));
		rows.trunks = sy->t;
		rows.ntrunks = sy->n;
		rows.routes = r;
		rows.nroutes = 1;
		rows.tz_resolve = dp_tz_zoneinfo;
		e = snapshot_check(&rows, err, errsize);
	}
	free(sy);
	return e;
}

int cdr_rule_check(const struct dp_rule_row *r, char *err, size_t errsize)
{
	struct dp_rules *rules = NULL;
	int e;

	if (!TERMINATED(r->name) || !TERMINATED(r->kind) ||
	    !TERMINATED(r->match) || !TERMINATED(r->trunk) ||
	    !TERMINATED(r->ton) || !TERMINATED(r->actions) ||
	    !TERMINATED(r->replace))
		return fail(err, errsize, EINVAL, "rule: a field is not "
			    "terminated");
	e = dp_rules_build(&rules, r, 1, err, errsize);
	obj_deref(rules);
	if (e == ENOMEM)
		return fail(err, errsize, e, "out of memory");
	return e;
}

int cdr_block_check(const struct dp_block_row *b, char *err, size_t errsize)
{
	struct dp_snapshot_rows rows;
	struct synth *sy;
	int e;

	if (!TERMINATED(b->kind) || !TERMINATED(b->match) ||
	    !TERMINATED(b->category) || !TERMINATED(b->trunk))
		return fail(err, errsize, EINVAL, "block: a field is not "
			    "terminated");
	sy = calloc(1, sizeof(*sy));
	if (!sy)
		return fail(err, errsize, ENOMEM, "out of memory");
	e = synth_add(sy, b->trunk, err, errsize);
	if (!e) {
		memset(&rows, 0, sizeof(rows));
		rows.trunks = sy->t;
		rows.ntrunks = sy->n;
		rows.blocks = b;
		rows.nblocks = 1;
		e = snapshot_check(&rows, err, errsize);
	}
	free(sy);
	return e;
}

/* A number a DID sends: digits, with an optional leading '+'. */
static bool did_number_ok(const char *s)
{
	return !*s || dp_is_digits(*s == '+' ? s + 1 : s);
}

int cdr_did_check(const struct dp_did_range *d, char *err, size_t errsize)
{
	struct dp_did_table *t = NULL;
	int e;

	if (!TERMINATED(d->first) || !TERMINATED(d->last) ||
	    !TERMINATED(d->trunk) || !TERMINATED(d->user) ||
	    !TERMINATED(d->cid) || !TERMINATED(d->failover_trunk) ||
	    !TERMINATED(d->failover_number))
		return fail(err, errsize, EINVAL, "did: a field is not "
			    "terminated");
	if (!*d->trunk)
		return fail(err, errsize, EINVAL, "did %s-%s: no trunk",
			    d->first, d->last);
	if (!did_number_ok(d->cid) || !did_number_ok(d->failover_number))
		return fail(err, errsize, EINVAL, "did %s-%s: cid and the "
			    "failover number must be digits (a leading '+' "
			    "allowed)", d->first, d->last);
	if (*d->failover_number && !*d->failover_trunk)
		return fail(err, errsize, EINVAL, "did %s-%s: a failover "
			    "number without a failover trunk", d->first,
			    d->last);
	e = dp_did_table_build(&t, d, 1, err, errsize);
	obj_deref(t);
	if (e == ENOMEM)
		return fail(err, errsize, e, "out of memory");
	return e;
}

/* ---- typed writers ------------------------------------------------------- */

/* Step a bound statement once and finalize it. */
static int step_done(sqlite3 *db, sqlite3_stmt *st, int rc, char *err,
		     size_t errsize)
{
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return fail(err, errsize, cdr_db_errno(db, rc), "%s",
			    sqlite3_errmsg(db));
	return 0;
}

static int bind_texts(sqlite3_stmt *st, int first, const char *const *v,
		      size_t n)
{
	int rc = SQLITE_OK;

	for (size_t i = 0; i < n && rc == SQLITE_OK; i++)
		rc = sqlite3_bind_text(st, first + (int)i, v[i], -1,
				       SQLITE_STATIC);
	return rc;
}

int cdr_db_route_put(const char *path, const struct dp_route_row *r,
		     char *err, size_t errsize)
{
	const char *texts[] = {r->kind,	 r->match, r->src_trunks, r->calling,
			       r->days,	 r->hours, r->tz,	  r->trunks,
			       r->failover};
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int e, rc;

	e = cdr_route_check(r, err, errsize);
	if (e)
		return e;
	e = cdr_tx_begin(&db, path, err, errsize);
	if (e)
		return e;
	rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO route (name, "
				"priority, kind, match, src_trunks, calling, "
				"days, hours, tz, trunks, failover, lcr, "
				"t_trying, t_progress, t_answer, max_calls, "
				"cps, enum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
				"?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, "
				"?18)",
				-1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, r->name, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 2, r->priority);
	if (rc == SQLITE_OK)
		rc = bind_texts(st, 3, texts, TG_ARRAY_SIZE(texts));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int(st, 12, r->lcr ? 1 : 0);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 13, r->t_trying_ms);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 14, r->t_progress_ms);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 15, r->t_answer_ms);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 16, r->max_calls);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 17, r->cps);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 18, r->enum_domain, -1,
				       SQLITE_STATIC);
	e = step_done(db, st, rc, err, errsize);
	return cdr_tx_end(db, e, err, errsize);
}

int cdr_db_rule_add(const char *path, const char *direction,
		    const char *number, int64_t position,
		    const struct dp_rule_row *r, int64_t *idp, char *err,
		    size_t errsize)
{
	const char *texts[] = {direction, number,    r->name,
			       r->kind,	  r->match,  r->trunk,
			       r->ton,	  r->actions, r->replace};
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int e, rc;

	if (strcmp(direction, "ingress") && strcmp(direction, "egress"))
		return fail(err, errsize, EINVAL, "rule: direction '%s' is "
			    "not ingress or egress", direction);
	if (strcmp(number, "called") && strcmp(number, "calling") &&
	    strcmp(number, "diversion"))
		return fail(err, errsize, EINVAL, "rule: number '%s' is not "
			    "called, calling or diversion", number);
	e = cdr_rule_check(r, err, errsize);
	if (e)
		return e;
	e = cdr_tx_begin(&db, path, err, errsize);
	if (e)
		return e;
	rc = sqlite3_prepare_v2(db, "INSERT INTO number_rule (direction, "
				"number, name, kind, match, trunk, ton, "
				"actions, replace, position) VALUES (?1, ?2, "
				"?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)", -1, &st,
				NULL);
	if (rc == SQLITE_OK)
		rc = bind_texts(st, 1, texts, TG_ARRAY_SIZE(texts));
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_int64(st, 10, position);
	e = step_done(db, st, rc, err, errsize);
	if (!e && idp)
		*idp = sqlite3_last_insert_rowid(db);
	return cdr_tx_end(db, e, err, errsize);
}

int cdr_db_block_add(const char *path, const struct dp_block_row *b,
		     int64_t *idp, char *err, size_t errsize)
{
	const char *texts[] = {b->kind, b->match, b->category, b->trunk};
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int e, rc;

	e = cdr_block_check(b, err, errsize);
	if (e)
		return e;
	e = cdr_tx_begin(&db, path, err, errsize);
	if (e)
		return e;
	rc = sqlite3_prepare_v2(db, "INSERT INTO block (kind, match, "
				"category, trunk) VALUES (?1, ?2, ?3, ?4)", -1,
				&st, NULL);
	if (rc == SQLITE_OK)
		rc = bind_texts(st, 1, texts, TG_ARRAY_SIZE(texts));
	e = step_done(db, st, rc, err, errsize);
	if (!e && idp)
		*idp = sqlite3_last_insert_rowid(db);
	return cdr_tx_end(db, e, err, errsize);
}

/* The ranges already in the table plus @p d, built as the daemon would:
 * an overlap is refused here, in the same transaction as the insert. */
static int did_overlap_check(sqlite3 *db, const struct dp_did_range *d,
			     char *err, size_t errsize)
{
	struct dp_did_range *v = NULL, *nv;
	struct dp_did_table *t = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	int rc, e = 0;

	rc = sqlite3_prepare_v2(db, "SELECT first, last, trunk FROM did", -1,
				&st, NULL);
	while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n + 1 >= cap) {
			cap = cap ? cap * 2 : 64;
			nv = realloc(v, cap * sizeof(*v));
			if (!nv) {
				e = fail(err, errsize, ENOMEM, "out of memory");
				break;
			}
			v = nv;
		}
		memset(&v[n], 0, sizeof(v[n]));
		/* Rows that do not fit are the loader's to name; here they
		 * only need to be compared. */
		tg_strlcpy(v[n].first, col(st, 0), sizeof(v[n].first));
		tg_strlcpy(v[n].last, col(st, 1), sizeof(v[n].last));
		tg_strlcpy(v[n].trunk, col(st, 2), sizeof(v[n].trunk));
		n++;
		rc = SQLITE_OK;
	}
	if (!e && rc != SQLITE_DONE)
		e = fail(err, errsize, cdr_db_errno(db, rc), "%s",
			 sqlite3_errmsg(db));
	sqlite3_finalize(st);
	if (!e && !v)
		v = calloc(1, sizeof(*v));
	if (!e && !v)
		e = fail(err, errsize, ENOMEM, "out of memory");
	if (!e) {
		v[n++] = *d;
		e = dp_did_table_build(&t, v, n, err, errsize);
		obj_deref(t);
		if (e == ENOMEM)
			fail(err, errsize, e, "out of memory");
	}
	free(v);
	return e;
}

int cdr_db_did_add(const char *path, const struct dp_did_range *d, char *err,
		   size_t errsize)
{
	const char *texts[] = {d->first, d->last,	    d->trunk,
			       d->user,	 d->cid,	    d->failover_trunk,
			       d->failover_number};
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int e, rc;

	e = cdr_did_check(d, err, errsize);
	if (e)
		return e;
	e = cdr_tx_begin(&db, path, err, errsize);
	if (e)
		return e;
	e = did_overlap_check(db, d, err, errsize);
	if (e)
		return cdr_tx_end(db, e, err, errsize);
	rc = sqlite3_prepare_v2(db, "INSERT INTO did (first, last, trunk, "
				"user, cid, failover_trunk, failover_number) "
				"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", -1, &st,
				NULL);
	if (rc == SQLITE_OK)
		rc = bind_texts(st, 1, texts, TG_ARRAY_SIZE(texts));
	e = step_done(db, st, rc, err, errsize);
	return cdr_tx_end(db, e, err, errsize);
}

/* ---- e911 ----------------------------------------------------------------- */

#define ELIN_SEP ", \t"

/* Is ELIN @p elin (its first @p n bytes) in the list @p list?  Both are
 * read as the daemon reads them: separated by commas, blanks or tabs,
 * a leading '+' ignored. */
static bool elin_listed(const char *list, const char *elin, size_t n)
{
	if (n && *elin == '+') {
		elin++;
		n--;
	}
	while (*list) {
		size_t len;

		list += strspn(list, ELIN_SEP);
		len = strcspn(list, ELIN_SEP);
		if (len && *list == '+' && len - 1 == n &&
		    !strncmp(list + 1, elin, n))
			return true;
		if (len && len == n && !strncmp(list, elin, n))
			return true;
		list += len;
	}
	return false;
}

/* An ELIN belongs to one zone: a PSAP calling it back must reach the one
 * caller who used it.  The daemon refuses a snapshot that breaks this,
 * so it is checked here, against the other zones, before anything is
 * written. */
static int elins_unique(sqlite3 *db, const struct e911_zone_row *z,
			char *err, size_t errsize)
{
	sqlite3_stmt *st = NULL;
	int rc, e = 0;

	rc = sqlite3_prepare_v2(db, "SELECT name, elins FROM e911_zone WHERE "
				"name <> ?1", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, z->name, -1, SQLITE_STATIC);
	while (!e && rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *other = (const char *)sqlite3_column_text(st, 0);
		const char *list = (const char *)sqlite3_column_text(st, 1);
		const char *p = z->elins;

		rc = SQLITE_OK;
		while (list && *p && !e) {
			size_t len;

			p += strspn(p, ELIN_SEP);
			len = strcspn(p, ELIN_SEP);
			if (len && elin_listed(list, p, len))
				e = fail(err, errsize, EEXIST, "e911 zone '%s': "
					 "ELIN %.*s is already zone '%s''s",
					 z->name, (int)len, p,
					 other ? other : "");
			p += len;
		}
	}
	sqlite3_finalize(st);
	if (!e && rc != SQLITE_DONE && rc != SQLITE_OK)
		e = fail(err, errsize, EIO, "e911 zone: %s",
			 sqlite3_errmsg(db));
	return e;
}

int cdr_db_zone_put(const char *path, const struct e911_zone_row *z,
		    char *err, size_t errsize)
{
	const char *texts[] = {z->name, z->country, z->a1, z->a2, z->a3,
			       z->a4, z->a5, z->a6, z->prd, z->pod, z->sts,
			       z->rd, z->hno, z->hns, z->lmk, z->loc, z->flr,
			       z->unit, z->room, z->bld, z->nam, z->pc,
			       z->location_id, z->elins, z->callback_trunk,
			       z->callback_user};
	struct e911_snapshot *s = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int e, rc;

	/* The daemon's own check, on this zone alone. */
	e = e911_snapshot_build(&s, z, 1, NULL, 0, err, errsize);
	obj_deref(s);
	if (e)
		return e;
	e = cdr_tx_begin(&db, path, err, errsize);
	if (e)
		return e;
	e = elins_unique(db, z, err, errsize);
	if (e)
		return cdr_tx_end(db, e, err, errsize);
	rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO e911_zone (name, "
				"country, a1, a2, a3, a4, a5, a6, prd, pod, "
				"sts, rd, hno, hns, lmk, loc, flr, unit, room, "
				"bld, nam, pc, location_id, elins, "
				"callback_trunk, callback_user) VALUES (?1, "
				"?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
				"?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, "
				"?21, ?22, ?23, ?24, ?25, ?26)", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = bind_texts(st, 1, texts, TG_ARRAY_SIZE(texts));
	e = step_done(db, st, rc, err, errsize);
	return cdr_tx_end(db, e, err, errsize);
}

int cdr_db_member_add(const char *path, const struct e911_member_row *m,
		      int64_t *idp, char *err, size_t errsize)
{
	const char *texts[] = {m->zone, m->kind, m->match, m->flr, m->unit,
			       m->room};
	struct e911_zone_row z;
	struct e911_snapshot *s = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3 *db;
	int e, rc;

	/* Checked against a stand-in zone of that name; that the zone
	 * exists is checked in the transaction. */
	memset(&z, 0, sizeof(z));
	tg_strlcpy(z.name, m->zone, sizeof(z.name));
	strcpy(z.location_id, "-");
	strcpy(z.elins, "0");
	e = e911_snapshot_build(&s, &z, 1, m, 1, err, errsize);
	obj_deref(s);
	if (e)
		return e;
	e = cdr_tx_begin(&db, path, err, errsize);
	if (e)
		return e;
	rc = sqlite3_prepare_v2(db, "SELECT 1 FROM e911_zone WHERE name = ?1",
				-1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_bind_text(st, 1, m->zone, -1, SQLITE_STATIC);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_finalize(st);
	st = NULL;
	if (rc == SQLITE_DONE)
		e = fail(err, errsize, EINVAL, "e911 member: no zone '%s'",
			 m->zone);
	else if (rc != SQLITE_ROW)
		e = fail(err, errsize, cdr_db_errno(db, rc), "%s",
			 sqlite3_errmsg(db));
	if (!e) {
		rc = sqlite3_prepare_v2(db, "INSERT INTO e911_member (zone, "
					"kind, match, flr, unit, room) VALUES "
					"(?1, ?2, ?3, ?4, ?5, ?6)", -1, &st,
					NULL);
		if (rc == SQLITE_OK)
			rc = bind_texts(st, 1, texts, TG_ARRAY_SIZE(texts));
		e = step_done(db, st, rc, err, errsize);
		if (!e && idp)
			*idp = sqlite3_last_insert_rowid(db);
	}
	return cdr_tx_end(db, e, err, errsize);
}

int cdr_e911_validate(const char *path, cdr_problem_h *h, void *arg,
		      char *err, size_t errsize)
{
	struct cdr_routing db;
	struct e911_snapshot *s = NULL;
	struct dp_did_table *dids = NULL;
	char why[512], line[640];
	int e;

	e = cdr_db_load_routing(path, &db, err, errsize);
	if (e)
		return e;
	/* Each zone alone, so that every bad one is named. */
	for (size_t i = 0; i < db.nzones; i++) {
		e = e911_snapshot_build(&s, &db.zones[i], 1, NULL, 0, why,
					sizeof(why));
		s = obj_deref(s);
		if (e == EINVAL)
			h(why, arg);
	}
	e = e911_snapshot_build(&s, db.zones, db.nzones, db.members,
				db.nmembers, why, sizeof(why));
	if (e == EINVAL)
		h(why, arg);
	if (!db.nzones)
		h("e911: no zone: emergency calls leave with the caller's own "
		  "number and no location", arg);
	if (dp_did_table_build(&dids, db.dids, db.ndids, why, sizeof(why)))
		dids = NULL;
	/* A PSAP calls the ELIN back: the PSTN must deliver it to us. */
	for (size_t i = 0; s && i < e911_zone_count(s); i++) {
		const struct e911_zone *z = e911_zone_at(s, i);

		for (size_t k = 0; k < e911_zone_nelins(z); k++) {
			const char *elin = e911_zone_elin(z, k);
			size_t len = strlen(elin), n;

			/* In internal form, or as a trunk without a plan
			 * delivers it (its last 7 digits or more). */
			for (n = len; n >= 7; n--)
				if (dp_did_lookup(dids, elin + len - n))
					break;
			if (n >= 7)
				continue;
			snprintf(line, sizeof(line), "e911 zone '%s': ELIN %s "
				 "is not in the did table (a PSAP callback "
				 "would not be taken as ours)",
				 e911_zone_row(z)->name, elin);
			h(line, arg);
		}
	}
	obj_deref(s);
	obj_deref(dids);
	cdr_routing_free(&db);
	return 0;
}
