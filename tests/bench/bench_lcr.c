/* tests/bench/bench_lcr.c  LCR lookups: snapshot trie versus SQLite
 *
 * usage: bench_lcr [ROWS [LOOKUPS [SQL_LOOKUPS]]]
 *        (default 1000000 rows over 10 carriers, 200000 lookups, 20000
 *        of them also as SQL)
 *
 * Generates a deterministic deck: real country codes extended to
 * prefixes of 3-9 digits, each prefix priced by two or three of the 10
 * carriers, one pair in 20 with a dated rate change.  Measures the
 * snapshot build and its bytes, then times each lookup on its own with
 * clock_gettime (so figures include ~20-30 ns of timer overhead) at
 * times on both sides of the rate changes.  The same lookups then run as
 * one SQL query each on an in-memory SQLite copy of the deck with an
 * index on prefix, and every SQL answer is compared with the snapshot's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "util/util.h"
#include "dialplan/lcr.h"

#define NCARRIERS 10
#define T_CHANGE  INT64_C(1780272000) /* 2026-06-01 */

static const char *const ccs[] = {
	"1",   "7",   "20",  "27",  "30",  "31",  "32",  "33",  "34",  "36",
	"39",  "40",  "41",  "43",  "44",  "45",  "46",  "47",  "48",  "49",
	"51",  "52",  "53",  "54",  "55",  "56",  "57",  "58",  "60",  "61",
	"62",  "63",  "64",  "65",  "66",  "81",  "82",  "84",  "86",  "90",
	"91",  "92",  "93",  "94",  "95",  "98",  "212", "213", "216", "218",
	"220", "221", "233", "234", "254", "255", "256", "260", "263", "351",
	"352", "353", "354", "355", "358", "359", "370", "371", "372", "380",
	"381", "385", "386", "420", "421", "852", "853", "855", "880", "886",
	"960", "961", "962", "963", "964", "965", "966", "971", "972", "973",
	"974", "977", "992", "993", "994", "995", "998",
};

static const char *const kinds[] = {"Fixed", "Mobile", "Premium", "Other"};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 16) % n);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A prefix as one number: value * 16 + length, distinct per string. */
static uint64_t pkey(const char *p)
{
	return strtoull(p, NULL, 10) * 16 + strlen(p);
}

static void pkey_str(uint64_t k, char *out)
{
	sprintf(out, "%0*llu", (int)(k % 16), (unsigned long long)(k / 16));
}

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Distinct prefixes: a country code extended to 3-9 digits. */
static size_t gen_prefixes(uint64_t **out, size_t want)
{
	size_t cap = want + want / 4, n = 0;
	uint64_t *v = malloc(cap * sizeof(*v));

	while (v && n < want) {
		if (n) {
			/* Short prefixes collide often: draw more next time
			 * (bounded: the space of 3-9 digit prefixes is huge). */
			uint64_t *nv = realloc(v, 2 * cap * sizeof(*v));

			if (!nv || cap > 64 * want) {
				free(nv ? nv : v);
				v = NULL;
				break;
			}
			v = nv;
			cap *= 2;
		}
		n = 0;
		for (size_t i = 0; i < cap; i++) {
			const char *cc = ccs[rnd(TG_ARRAY_SIZE(ccs))];
			size_t cl = strlen(cc), lo = cl + 1 > 3 ? cl + 1 : 3;
			size_t len = lo + rnd((uint32_t)(10 - lo));
			char p[16];

			strcpy(p, cc);
			for (size_t d = cl; d < len; d++)
				p[d] = (char)('0' + rnd(10));
			p[len] = '\0';
			v[i] = pkey(p);
		}
		qsort(v, cap, sizeof(*v), u64_cmp);
		for (size_t i = 0; i < cap; i++)
			if (!n || v[i] != v[n - 1])
				v[n++] = v[i];
		/* Mix the sorted order so carriers are spread evenly. */
		for (size_t i = n; i > 1; i--) {
			size_t j = rnd((uint32_t)i);
			uint64_t t = v[i - 1];

			v[i - 1] = v[j];
			v[j] = t;
		}
	}
	*out = v;
	return v ? (n < want ? n : want) : 0;
}

static void rate_fill(struct dp_rate *r, const char *prefix, unsigned c,
		      int64_t from, int64_t until)
{
	static const unsigned incr[4][2] = {{60, 60}, {6, 6}, {1, 1}, {30, 6}};
	unsigned k = rnd(4);

	memset(r, 0, sizeof(*r));
	strcpy(r->prefix, prefix);
	snprintf(r->carrier, sizeof(r->carrier), "carrier%02u", c);
	/* Rates in steps of 0.0001 so tariffs repeat as they do in life. */
	r->rate = (int64_t)(10 + rnd(2000)) * 100;
	r->conn_fee = rnd(10) ? 0 : 10000;
	r->first_incr = incr[k][0];
	r->next_incr = incr[k][1];
	r->from = from;
	r->until = until;
	snprintf(r->desc, sizeof(r->desc), "+%.3s %s", prefix,
		 kinds[rnd(TG_ARRAY_SIZE(kinds))]);
}

static size_t gen_deck(struct dp_rate *rows, size_t want,
		       const uint64_t *pfx, size_t npfx)
{
	size_t n = 0;

	for (size_t i = 0; i < npfx && n < want; i++) {
		unsigned k = 2 + (i % 2 == 0), used = 0;
		char p[24];

		pkey_str(pfx[i], p);
		for (unsigned j = 0; j < k && n < want; j++) {
			unsigned c;

			do
				c = rnd(NCARRIERS);
			while (used & (1u << c));
			used |= 1u << c;
			if (rnd(20) || n + 2 > want) {
				rate_fill(&rows[n++], p, c, 0, 0);
				continue;
			}
			rate_fill(&rows[n++], p, c, 0, T_CHANGE);
			rate_fill(&rows[n++], p, c, T_CHANGE, 0);
		}
	}
	return n;
}

struct query {
	char number[24];
	int64_t t;
};

static void gen_queries(struct query *q, size_t n, const uint64_t *pfx,
			size_t npfx)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = 11 + rnd(3), at = 0;

		if (rnd(10)) {
			pkey_str(pfx[rnd((uint32_t)npfx)], q[i].number);
			at = strlen(q[i].number);
		}
		for (; at < len; at++)
			q[i].number[at] = (char)('0' + rnd(10));
		q[i].number[len] = '\0';
		q[i].t = T_CHANGE - 86400 + (int64_t)rnd(2 * 86400);
	}
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *what, double *us, size_t n)
{
	double sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += us[i];
	qsort(us, n, sizeof(*us), dbl_cmp);
	printf("%-22s n=%zu  p50 %.3f us  p99 %.3f us  p99.9 %.3f us  "
	       "mean %.3f us  max %.1f us\n",
	       what, n, us[n / 2], us[n * 99 / 100], us[n * 999 / 1000],
	       sum / n, us[n - 1]);
}

/* ---- SQLite ------------------------------------------------------------------ */

static const char sql_query[] =
	"SELECT carrier, prefix FROM ("
	" SELECT carrier, prefix, rate, fee, row_number() OVER ("
	"  PARTITION BY carrier ORDER BY length(prefix) DESC) AS rn"
	" FROM rates WHERE prefix IN (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,"
	"  ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)"
	" AND efrom <= ?21 AND (euntil = 0 OR euntil > ?21))"
	" WHERE rn = 1 ORDER BY rate, fee, carrier";

static int sql_load(sqlite3 **dbp, const struct dp_rate *rows, size_t n)
{
	sqlite3_stmt *ins = NULL;
	sqlite3 *db;
	int rc;

	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		return EIO;
	rc = sqlite3_exec(db,
			  "CREATE TABLE rates (prefix TEXT, carrier TEXT, "
			  "rate INTEGER, fee INTEGER, first INTEGER, next "
			  "INTEGER, efrom INTEGER, euntil INTEGER, descr "
			  "TEXT); BEGIN",
			  NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db,
					"INSERT INTO rates VALUES "
					"(?,?,?,?,?,?,?,?,?)",
					-1, &ins, NULL);
	for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
		const struct dp_rate *r = &rows[i];

		sqlite3_bind_text(ins, 1, r->prefix, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 2, r->carrier, -1, SQLITE_STATIC);
		sqlite3_bind_int64(ins, 3, r->rate);
		sqlite3_bind_int64(ins, 4, r->conn_fee);
		sqlite3_bind_int(ins, 5, (int)r->first_incr);
		sqlite3_bind_int(ins, 6, (int)r->next_incr);
		sqlite3_bind_int64(ins, 7, r->from);
		sqlite3_bind_int64(ins, 8, r->until);
		sqlite3_bind_text(ins, 9, r->desc, -1, SQLITE_STATIC);
		rc = sqlite3_step(ins) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
		sqlite3_reset(ins);
	}
	sqlite3_finalize(ins);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(db,
				  "COMMIT; CREATE INDEX rates_prefix ON "
				  "rates(prefix)",
				  NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		fprintf(stderr, "sqlite: %s\n", sqlite3_errmsg(db));
		sqlite3_close(db);
		return EIO;
	}
	*dbp = db;
	return 0;
}

/* Run one query; compare with the snapshot's answer in @p ch. */
static int sql_lookup(sqlite3_stmt *st, const struct query *q,
		      const struct dp_lcr_choice *ch, size_t nch)
{
	size_t len = strlen(q->number), k = 0;
	int same = 1;

	for (int i = 1; i <= DP_RATE_PREFIX_MAX; i++) {
		if ((size_t)i <= len)
			sqlite3_bind_text(st, i, q->number, i, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, i);
	}
	sqlite3_bind_int64(st, 21, q->t);
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *car = (const char *)sqlite3_column_text(st, 0);
		const char *pfx = (const char *)sqlite3_column_text(st, 1);

		if (k >= nch || strcmp(car, ch[k].rate.carrier) ||
		    strcmp(pfx, ch[k].rate.prefix))
			same = 0;
		k++;
	}
	sqlite3_reset(st);
	return same && k == nch;
}

int main(int argc, char **argv)
{
	size_t nrows = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	size_t nlook = argc > 2 ? strtoul(argv[2], NULL, 10) : 200000;
	size_t nsql = argc > 3 ? strtoul(argv[3], NULL, 10) : 20000;
	struct dp_rate *rows = malloc(nrows * sizeof(*rows));
	struct query *q = malloc(nlook * sizeof(*q));
	double *us = malloc(nlook * sizeof(*us));
	struct dp_lcr_choice ch[NCARRIERS];
	uint64_t *pfx = NULL;
	size_t npfx, n, hits = 0, total = 0, bad = 0;
	struct dp_lcr *l = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3 *db = NULL;
	double t0, tbuild, tsql_total = 0, snap_mean = 0;
	char err[256];

	if (!rows || !q || !us || !nrows || !nlook)
		return 1;
	if (nsql > nlook)
		nsql = nlook;
	npfx = gen_prefixes(&pfx, nrows * 2 / 5 + 1);
	n = gen_deck(rows, nrows, pfx, npfx);
	printf("deck: %zu rows, %zu distinct prefixes, %d carriers "
	       "(input rows %zu MB)\n",
	       n, npfx, NCARRIERS, n * sizeof(*rows) >> 20);

	t0 = now_s();
	if (dp_lcr_build(&l, rows, n, err, sizeof(err))) {
		fprintf(stderr, "build: %s\n", err);
		return 1;
	}
	tbuild = now_s() - t0;
	printf("build: %.3f s, snapshot %.1f MB (%.1f bytes per row)\n",
	       tbuild, dp_lcr_memory(l) / 1048576.0,
	       (double)dp_lcr_memory(l) / (double)n);

	gen_queries(q, nlook, pfx, npfx);
	/* Warm up caches and branch predictors as a running gateway is. */
	for (size_t i = 0; i < nlook; i++)
		dp_lcr_lookup(l, q[i].number, q[i].t, NULL, ch, NCARRIERS);
	t0 = now_s();
	for (size_t i = 0; i < nlook; i++)
		total += dp_lcr_lookup(l, q[i].number, q[i].t, NULL, ch,
				       NCARRIERS);
	printf("snapshot batch: %.3f us per lookup, %.2f choices on average\n",
	       (now_s() - t0) * 1e6 / nlook, (double)total / nlook);
	for (size_t i = 0; i < nlook; i++) {
		struct timespec a, b;
		size_t k;

		clock_gettime(CLOCK_MONOTONIC, &a);
		k = dp_lcr_lookup(l, q[i].number, q[i].t, NULL, ch, NCARRIERS);
		clock_gettime(CLOCK_MONOTONIC, &b);
		us[i] = (b.tv_sec - a.tv_sec) * 1e6 +
			(b.tv_nsec - a.tv_nsec) / 1e3;
		hits += k > 0;
	}
	printf("snapshot: %zu of %zu numbers routed\n", hits, nlook);
	for (size_t i = 0; i < nlook; i++)
		snap_mean += us[i];
	snap_mean /= nlook;
	report("snapshot lookup", us, nlook);

	if (!nsql)
		goto out;
	t0 = now_s();
	if (sql_load(&db, rows, n) ||
	    sqlite3_prepare_v2(db, sql_query, -1, &st, NULL) != SQLITE_OK) {
		fprintf(stderr, "sqlite: %s\n", db ? sqlite3_errmsg(db) : "");
		return 1;
	}
	printf("sqlite: load+index %.3f s, %.1f MB in use\n", now_s() - t0,
	       sqlite3_memory_used() / 1048576.0);
	for (size_t i = 0; i < nsql; i++) {
		size_t k = dp_lcr_lookup(l, q[i].number, q[i].t, NULL, ch,
					 NCARRIERS);
		struct timespec a, b;
		int same;

		clock_gettime(CLOCK_MONOTONIC, &a);
		same = sql_lookup(st, &q[i], ch, k);
		clock_gettime(CLOCK_MONOTONIC, &b);
		us[i] = (b.tv_sec - a.tv_sec) * 1e6 +
			(b.tv_nsec - a.tv_nsec) / 1e3;
		tsql_total += us[i];
		bad += !same;
	}
	printf("sqlite: %zu of %zu answers differ from the snapshot's\n", bad,
	       nsql);
	report("sqlite query", us, nsql);
	printf("ratio of means: sqlite %.2f us / snapshot %.3f us = %.0fx\n",
	       tsql_total / nsql, snap_mean, tsql_total / nsql / snap_mean);
	sqlite3_finalize(st);
	sqlite3_close(db);
out:
	obj_deref(l);
	free(pfx);
	free(rows);
	free(q);
	free(us);
	return bad ? 2 : 0;
}
