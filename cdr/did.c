/* cdr/did.c  The DID table: first-start seeding and validated loading */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "cdr"
#include "util/util.h"
#include "cdr/cdr_int.h"

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return false;
	}
	return true;
}

/* Why a range cannot be used, or NULL when it can.  Lengths are checked
 * against struct cdr_did_range so a row never loads truncated. */
static const char *did_invalid(const char *first, const char *last,
			       const char *trunk, const char *user,
			       const char *cid, const char *fo_trunk,
			       const char *fo_number)
{
	struct cdr_did_range r;

	if (strlen(first) >= sizeof(r.first) || strlen(last) >= sizeof(r.last))
		return "number too long";
	if (!all_digits(first) || !all_digits(last))
		return "numbers must be digits only";
	if (strlen(first) != strlen(last))
		return "first and last differ in length";
	if (strcmp(first, last) > 0)
		return "first is after last";
	if (!*trunk || strlen(trunk) >= sizeof(r.trunk))
		return "trunk name empty or too long";
	if (strlen(user) >= sizeof(r.user))
		return "user too long";
	if (strlen(cid) >= sizeof(r.cid) ||
	    strlen(fo_trunk) >= sizeof(r.failover_trunk) ||
	    strlen(fo_number) >= sizeof(r.failover_number))
		return "cid or failover too long";
	return NULL;
}

static int seed_rows(sqlite3 *db, const char *path,
		     const struct cdr_did_range *r, size_t n, bool *seeded)
{
	sqlite3_stmt *st = NULL;
	int rc;

	*seeded = false;
	rc = sqlite3_prepare_v2(db, "SELECT count(*) FROM did", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		goto out;
	if (sqlite3_column_int64(st, 0) > 0) {
		rc = SQLITE_DONE;
		goto out;
	}
	sqlite3_finalize(st);
	rc = sqlite3_prepare_v2(db, "INSERT INTO did(first,last,trunk,user,"
				"cid,failover_trunk,failover_number)"
				" VALUES(?1,?2,?3,?4,?5,?6,?7)", -1, &st,
				NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
		sqlite3_bind_text(st, 1, r[i].first, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, r[i].last, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, r[i].trunk, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, r[i].user, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, r[i].cid, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 6, r[i].failover_trunk, -1,
				  SQLITE_STATIC);
		sqlite3_bind_text(st, 7, r[i].failover_number, -1,
				  SQLITE_STATIC);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc == SQLITE_DONE)
			rc = SQLITE_OK;
	}
	if (rc == SQLITE_OK) {
		*seeded = true;
		rc = SQLITE_DONE;
	}
 out:
	if (rc != SQLITE_DONE)
		gw_err("%s: while seeding the DID table: %s", path,
		       sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : cdr_db_errno(db, rc);
}

int cdr_db_seed_dids(const char *path, const struct cdr_did_range *r,
		     size_t n)
{
	const char *why;
	sqlite3 *db;
	bool seeded;
	int err;

	if (!path || (n && !r))
		return EINVAL;
	for (size_t i = 0; i < n; i++) {
		why = did_invalid(r[i].first, r[i].last, r[i].trunk,
				  r[i].user, r[i].cid, r[i].failover_trunk,
				  r[i].failover_number);
		if (why) {
			gw_err("DID range %.31s-%.31s (trunk %.31s): %s",
			       r[i].first, r[i].last, r[i].trunk, why);
			return EINVAL;
		}
	}
	err = cdr_db_open(&db, path, true, CDR_DB_BUSY_MS);
	if (err)
		return err;
	/* IMMEDIATE: two processes starting at once must not both find the
	 * table empty and both seed it. */
	err = cdr_db_exec(db, path, "seeding the DID table", "BEGIN IMMEDIATE");
	if (!err)
		err = seed_rows(db, path, r, n, &seeded);
	if (!err)
		err = cdr_db_exec(db, path, "seeding the DID table", "COMMIT");
	if (err)
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	else if (seeded)
		gw_info("%s: seeded %zu DID range(s)", path, n);
	sqlite3_close(db);
	return err;
}

static const char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

/* Append one row to *out, growing it by doubling. */
static int push(struct cdr_did_range **out, size_t *n, size_t *cap,
		sqlite3_stmt *st)
{
	struct cdr_did_range *r;

	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;

		r = realloc(*out, ncap * sizeof(*r));
		if (!r)
			return ENOMEM;
		*out = r;
		*cap = ncap;
	}
	r = &(*out)[(*n)++];
	memset(r, 0, sizeof(*r));
	tg_strlcpy(r->first, col(st, 1), sizeof(r->first));
	tg_strlcpy(r->last, col(st, 2), sizeof(r->last));
	tg_strlcpy(r->trunk, col(st, 3), sizeof(r->trunk));
	tg_strlcpy(r->user, col(st, 4), sizeof(r->user));
	tg_strlcpy(r->cid, col(st, 5), sizeof(r->cid));
	tg_strlcpy(r->failover_trunk, col(st, 6), sizeof(r->failover_trunk));
	tg_strlcpy(r->failover_number, col(st, 7),
		   sizeof(r->failover_number));
	return 0;
}

int cdr_db_load_dids(const char *path, struct cdr_did_range **out,
		     size_t *np)
{
	struct cdr_did_range *rows = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *st = NULL;
	const char *why;
	sqlite3 *db;
	int err, rc;

	if (!path || !out || !np)
		return EINVAL;
	err = cdr_db_open(&db, path, false, CDR_DB_BUSY_MS);
	if (err)
		return err;
	rc = sqlite3_prepare_v2(db, "SELECT rowid,first,last,trunk,user,cid,"
				"failover_trunk,failover_number"
				" FROM did ORDER BY first, rowid", -1, &st,
				NULL);
	while (!err && rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc != SQLITE_ROW)
			break;
		rc = SQLITE_OK;
		why = did_invalid(col(st, 1), col(st, 2), col(st, 3),
				  col(st, 4), col(st, 5), col(st, 6),
				  col(st, 7));
		if (why) {
			gw_warn("%s: DID row %lld (%.40s-%.40s trunk %.40s) "
				"skipped: %s", path,
				(long long)sqlite3_column_int64(st, 0),
				col(st, 1), col(st, 2), col(st, 3), why);
			continue;
		}
		err = push(&rows, &n, &cap, st);
	}
	if (!err && rc != SQLITE_DONE) {
		gw_err("%s: while reading the DID table: %s", path,
		       sqlite3_errmsg(db));
		err = cdr_db_errno(db, rc);
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	if (err) {
		free(rows);
		return err;
	}
	*out = rows;
	*np = n;
	return 0;
}
