/* tests/unit/test_lcr.c  Least-cost routing: CSV decks, snapshot, cost */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"
#include "dialplan/lcr.h"

/* 2026-01-01T00:00:00Z and one day. */
#define T0  INT64_C(1767225600)
#define DAY INT64_C(86400)

static long live_at_start;

static int leak_setup(void **state)
{
	live_at_start = obj_live_count();
	return 0;
}

static int leak_teardown(void **state)
{
	/* Every snapshot a test built must be gone again. */
	assert_int_equal(obj_live_count(), live_at_start);
	return 0;
}

/* ---- CSV collection --------------------------------------------------- */

#define MAXC 16

struct collect {
	struct dp_rate rows[MAXC];
	unsigned lines[MAXC];
	size_t n;
	unsigned elines[MAXC];
	char why[MAXC][160];
	size_t nerr;
	int stop_rc; /* a handler returns this once it is called */
};

static int on_row(const struct dp_rate *r, unsigned line, void *arg)
{
	struct collect *c = arg;

	if (c->n < MAXC) {
		c->rows[c->n] = *r;
		c->lines[c->n] = line;
	}
	c->n++;
	return c->stop_rc;
}

static int on_err(unsigned line, const char *why, void *arg)
{
	struct collect *c = arg;

	if (c->nerr < MAXC) {
		c->elines[c->nerr] = line;
		tg_strlcpy(c->why[c->nerr], why, sizeof(c->why[0]));
	}
	c->nerr++;
	return c->stop_rc;
}

static int parse(struct collect *c, const char *deck, const char *carrier)
{
	memset(c, 0, sizeof(*c));
	return dp_ratedeck_parse_csv(deck, strlen(deck), carrier, on_row,
				     on_err, c);
}

/* Accepted decks: what the first row looks like, and how many rows. */
static void test_csv_variants(void **state)
{
	static const struct {
		const char *deck;
		const char *carrier;
		size_t nrows;
		/* expected first row */
		const char *prefix, *rcarrier, *desc;
		int64_t rate, fee;
		unsigned first, next, line;
		int64_t from, until;
	} cases[] = {
		{"prefix,rate,connection_fee,increment,effective_from,"
		 "effective_until,description\n"
		 "44,0.0125,0.01,60/60,2026-01-01,2026-02-01,UK\n"
		 "447,0.05,0,6/6,,,UK mobile\n",
		 "acme", 2, "44", "acme", "UK", 12500, 10000, 60, 60, 2, T0,
		 T0 + 31 * DAY},
		/* Variant names, semicolons, decimal commas, CRLF, BOM. */
		{"\xef\xbb\xbf"
		 "Dial Code;Rate/Min;Setup Fee;Billing Increment;Effective "
		 "Date;End Date;Destination\r\n"
		 "49;0,015;;1/1;2026-01-01 06:30;;Germany\r\n",
		 "acme", 1, "49", "acme", "Germany", 15000, 0, 1, 1, 2,
		 T0 + 6 * 3600 + 1800, 0},
		/* Tabs, first/next columns, ISO 8601 offset, Unix seconds. */
		{"code\tprice\tfirst increment\tnext increment\tvalid "
		 "from\tvalid until\n"
		 "331\t.5\t30\t6\t2026-01-01T12:00:00+02:00\t1767312000\n",
		 "acme", 1, "331", "acme", "", 500000, 0, 30, 6, 2,
		 T0 + 10 * 3600, T0 + DAY},
		/* Quoted fields: separators, doubled quotes, a newline. */
		{"prefix,rate,description\n"
		 "\"1\",\"0.01\",\"US, \"\"lower 48\"\"\nand more\"\n"
		 "1212,0.02,NYC\n",
		 "acme", 2, "1", "acme", "US, \"lower 48\"\nand more", 10000, 0,
		 60, 60, 2, 0, 0},
		/* A carrier column overrides the argument; NULL allowed. */
		{"Carrier,Prefix,Rate,Increment\n"
		 "  beta  , +39 , 0.010000000 , 60 \n",
		 NULL, 1, "39", "beta", "", 10000, 0, 60, 60, 2, 0, 0},
		/* Blank lines, comments, empty trailing fields, Z time. */
		{"# exported 2026-01-01\n\n"
		 "prefix,rate,effective_from,\n"
		 "\n"
		 ",,,\n"
		 "# a comment row\n"
		 "7,1,2026-01-01T00:00:01Z,,\n",
		 "acme", 1, "7", "acme", "", 1000000, 0, 60, 60, 7, T0 + 1, 0},
		/* CR-only line ends; leap day; unknown columns ignored. */
		{"prefix,rate\r44,1\r45,2\r", "acme", 2, "44", "acme", "",
		 1000000, 0, 60, 60, 2, 0, 0},
		{"prefix,iso,rate,from\r86,CN,0.003,2024-02-29\r", "acme", 1,
		 "86", "acme", "", 3000, 0, 60, 60, 2, INT64_C(1709164800), 0},
		/* A description cut at a UTF-8 boundary, not inside "é". */
		{"prefix,rate,description\n"
		 "33,1,aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		 "aaaa\xc3\xa9zz\n",
		 "acme", 1, "33", "acme",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		 1000000, 0, 60, 60, 2, 0, 0},
	};

	for (size_t i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		struct collect c;
		const struct dp_rate *r = &c.rows[0];
		int rc = parse(&c, cases[i].deck, cases[i].carrier);

		if (rc || c.nerr || c.n != cases[i].nrows)
			fail_msg("case %zu: rc %d, %zu rows, %zu errors "
				 "(first: %u %s)",
				 i, rc, c.n, c.nerr, c.elines[0], c.why[0]);
		if (!cases[i].nrows)
			continue;
		assert_string_equal(r->prefix, cases[i].prefix);
		assert_string_equal(r->carrier, cases[i].rcarrier);
		assert_string_equal(r->desc, cases[i].desc);
		if (r->rate != cases[i].rate || r->conn_fee != cases[i].fee ||
		    r->first_incr != cases[i].first ||
		    r->next_incr != cases[i].next ||
		    c.lines[0] != cases[i].line ||
		    r->from != cases[i].from || r->until != cases[i].until)
			fail_msg("case %zu: rate %lld fee %lld incr %u/%u "
				 "line %u from %lld until %lld",
				 i, (long long)r->rate, (long long)r->conn_fee,
				 r->first_incr, r->next_incr, c.lines[0],
				 (long long)r->from, (long long)r->until);
		assert_int_equal(dp_rate_check(r, NULL, 0), 0);
	}
}

/* Every rejected line comes back with its line number and reason, and
 * the good lines around it still arrive. */
static void test_csv_rejects(void **state)
{
	static const struct {
		const char *line; /* the third line of the deck */
		const char *why;  /* a substring of the reason */
	} cases[] = {
		{"4x4,0.01,,,", "bad prefix '4x4'"},
		{"123456789012345678901,0.01,,,", "bad prefix"},
		{"+,0.01,,,", "bad prefix"},
		{",0.01,,,", "missing prefix"},
		{"44,-0.01,,,", "negative rate '-0.01'"},
		{"44,abc,,,", "bad rate 'abc'"},
		{"44,1.2.3,,,", "bad rate"},
		{"44,,,,", "missing rate"},
		{"44", "missing rate"},
		{"44,0.0000001,,,", "more than 6 decimals"},
		{"44,1001,,,", "above 1000 per minute"},
		{"44,99999999999999999999999,,,", "above 1000"},
		{"44,0.01,-1,,", "negative connection fee"},
		{"44,0.01,x,,", "bad connection fee"},
		{"44,0.01,,0/60,", "bad increment '0/60'"},
		{"44,0.01,,60/x,", "bad increment"},
		{"44,0.01,,4000/1,", "bad increment"},
		{"44,0.01,,60/60/60,", "bad increment"},
		{"44,0.01,,,2026-02-30", "bad effective from date '2026-02-30'"},
		{"44,0.01,,,2026-13-01", "bad effective from date"},
		{"44,0.01,,,2023-02-29", "bad effective from date"},
		{"44,0.01,,,yesterday", "bad effective from date"},
		{"44,0.01,,,2026-01-01T25:00", "bad effective from date"},
		{"44,0.01,,,1969-12-31", "bad effective from date"},
		{"44,0.01,,,99999999999999", "bad effective from date"},
		{"44,0.01,,,2026-01-01,2025-01-01",
		 "effective until '2025-01-01' is not after effective from"},
		{"44,0.01,,,2026-01-01,2026-01-01", "is not after"},
		{"44,0.01,,,,junk", "bad effective until date 'junk'"},
		{"44,0.01,,,,,x", "7 fields, the header has 6"},
		{"44,\"0.01,,,,", "unterminated quoted field"},
		{"44,\"0.01\"x,,,,", "text after a closing quote"},
	};

	for (size_t i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		char deck[512];
		struct collect c;
		int rc;

		snprintf(deck, sizeof(deck),
			 "prefix,rate,fee,increment,from,until\n"
			 "1,0.01,,,,\n%s\n49,0.02,,,,\n",
			 cases[i].line);
		rc = parse(&c, deck, "acme");
		if (rc || c.nerr != 1 || c.elines[0] != 3 ||
		    !strstr(c.why[0], cases[i].why))
			fail_msg("case %zu (%s): rc %d, %zu errors, line %u: %s",
				 i, cases[i].line, rc, c.nerr, c.elines[0],
				 c.why[0]);
		/* An unterminated quote swallows the rest of the deck. */
		if (c.n != (strstr(cases[i].why, "unterminated") ? 1u : 2u))
			fail_msg("case %zu: %zu good rows", i, c.n);
	}
}

static void test_csv_limits(void **state)
{
	char *deck = malloc(DP_RATEDECK_LINE_MAX + 200);
	char many[400];
	struct collect c;
	size_t n;

	assert_non_null(deck);
	/* A line over the cap is refused by number; the next one parses. */
	n = (size_t)sprintf(deck, "prefix,rate,description\n44,1,");
	memset(deck + n, 'x', DP_RATEDECK_LINE_MAX);
	strcpy(deck + n + DP_RATEDECK_LINE_MAX, "\n45,1,ok\n");
	assert_int_equal(parse(&c, deck, "acme"), 0);
	assert_int_equal(c.nerr, 1);
	assert_int_equal(c.elines[0], 2);
	assert_string_equal(c.why[0], "line too long");
	assert_int_equal(c.n, 1);
	assert_int_equal(c.lines[0], 3);
	free(deck);

	/* More fields than the cap. */
	n = (size_t)sprintf(many, "prefix,rate\n");
	for (int i = 0; i < DP_RATEDECK_MAX_FIELDS + 2; i++)
		n += (size_t)sprintf(many + n, "1,");
	strcpy(many + n, "\n");
	assert_int_equal(parse(&c, many, "acme"), 0);
	assert_int_equal(c.nerr, 1);
	assert_string_equal(c.why[0], "too many fields");

	/* A NUL byte refuses its line instead of cutting a field short. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(dp_ratedeck_parse_csv("prefix,rate\n4\0x,1\n45,1\n",
					       23, "acme", on_row, on_err, &c),
			 0);
	assert_int_equal(c.nerr, 1);
	assert_int_equal(c.elines[0], 2);
	assert_string_equal(c.why[0], "NUL byte in line");
	assert_int_equal(c.n, 1);
	assert_string_equal(c.rows[0].prefix, "45");

	/* Too large a deck is refused before a byte is read. */
	memset(&c, 0, sizeof(c));
	assert_int_equal(dp_ratedeck_parse_csv("x", DP_RATEDECK_MAX_BYTES + 1,
					       "acme", on_row, on_err, &c),
			 EFBIG);
	assert_int_equal(c.nerr, 1);
	assert_int_equal(c.elines[0], 0);

	/* A handler's non-zero return stops the parse and comes back. */
	memset(&c, 0, sizeof(c));
	c.stop_rc = ECANCELED;
	assert_int_equal(dp_ratedeck_parse_csv("prefix,rate\n1,1\n2,1\n", 20,
					       "acme", on_row, on_err, &c),
			 ECANCELED);
	assert_int_equal(c.n, 1);
	/* No handlers at all is allowed. */
	assert_int_equal(dp_ratedeck_parse_csv("prefix,rate\n1,1\nx,1\n", 20,
					       "a", NULL, NULL, NULL),
			 0);
}

static void test_csv_headers(void **state)
{
	static const struct {
		const char *deck;
		const char *carrier;
		unsigned line;
		const char *why;
	} cases[] = {
		{"", "acme", 1, "no header line"},
		{"\n\n# only a comment\n", "acme", 4, "no header line"},
		{"rate,description\n1,x\n", "acme", 1, "no prefix column"},
		{"\nprefix,description\n1,x\n", "acme", 2, "no rate column"},
		{"prefix,Code,rate\n", "acme", 1,
		 "columns 'prefix' and 'Code' are both the prefix"},
		{"prefix,rate,increment,first increment,next increment\n",
		 "acme", 1, "both an increment column"},
		{"prefix,rate,first increment\n", "acme", 1,
		 "needs a next increment"},
		{"prefix,rate\n", NULL, 1, "no carrier column"},
		{"prefix,rate\n", "", 1, "no carrier column"},
		{"prefix,\"rate\n", "acme", 1, "unterminated quoted field"},
	};

	for (size_t i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		struct collect c;
		int rc = parse(&c, cases[i].deck, cases[i].carrier);

		if (rc != EBADMSG || c.nerr != 1 ||
		    c.elines[0] != cases[i].line ||
		    !strstr(c.why[0], cases[i].why))
			fail_msg("case %zu: rc %d, %zu errors, line %u: %s", i,
				 rc, c.nerr, c.elines[0], c.why[0]);
	}
}

/* Per-row carrier problems, and line numbers after quoted newlines. */
static void test_csv_rows_misc(void **state)
{
	struct collect c;

	assert_int_equal(parse(&c,
			       "carrier,prefix,rate\n"
			       ",44,1\n"
			       "a-very-long-carrier-name-beyond-31,44,1\n"
			       "bad\x01name,44,1\n"
			       "\"ok\",\"4\n4\",1\n"
			       "ok,45,1\n",
			       NULL),
			 0);
	assert_int_equal(c.nerr, 4);
	assert_int_equal(c.elines[0], 2);
	assert_string_equal(c.why[0], "missing carrier");
	assert_int_equal(c.elines[1], 3);
	assert_non_null(strstr(c.why[1], "longer than 31 bytes"));
	assert_int_equal(c.elines[2], 4);
	assert_non_null(strstr(c.why[2], "control character"));
	assert_int_equal(c.elines[3], 5);
	assert_non_null(strstr(c.why[3], "bad prefix"));
	/* The quoted newline made line 5 two lines long. */
	assert_int_equal(c.n, 1);
	assert_int_equal(c.lines[0], 7);
}

/* ---- cost ------------------------------------------------------------- */

static void test_cost(void **state)
{
	static const struct {
		int64_t rate, fee;
		unsigned first, next, secs;
		int64_t cost;
	} cases[] = {
		{600000, 0, 60, 60, 61, 1200000},  /* 61 s at 60/60: 2 min */
		{600000, 0, 60, 60, 60, 600000},
		{600000, 0, 60, 60, 1, 600000},
		{600000, 0, 60, 60, 0, 0},         /* never connected */
		{600000, 0, 6, 6, 61, 660000},     /* 66 s */
		{600000, 0, 6, 6, 3, 60000},
		{600000, 0, 1, 1, 61, 610000},
		{600000, 0, 30, 6, 1, 300000},     /* 30 s minimum */
		{600000, 0, 30, 6, 31, 360000},    /* 36 s */
		{600000, 0, 30, 6, 36, 360000},
		{600000, 0, 30, 6, 37, 420000},
		{600000, 50000, 60, 60, 61, 1250000},
		{600000, 50000, 1, 1, 0, 0},
		{1, 0, 1, 1, 1, 1},     /* 1/60 micro-unit rounds up to 1 */
		{59, 0, 1, 1, 60, 59},
		{0, 10000, 60, 60, 120, 10000}, /* free minutes, paid setup */
		{12345, 0, 60, 1, 90, 18518},   /* 90 s: 18517.5 -> 18518 */
		/* The largest call at the largest rate stays exact. */
		{DP_RATE_MAX, DP_RATE_MAX, 1, 1, UINT_MAX,
		 DP_RATE_MAX + (DP_RATE_MAX * (int64_t)UINT_MAX + 59) / 60},
		{DP_RATE_MAX, 0, 3600, 3600, UINT_MAX,
		 DP_RATE_MAX * (((int64_t)UINT_MAX / 3600 + 1) * 3600 / 60)},
		/* Out-of-range rows are clamped, not undefined. */
		{-5, -5, 0, 0, 10, 0},
	};

	for (size_t i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		struct dp_rate r = {.rate = cases[i].rate,
				    .conn_fee = cases[i].fee,
				    .first_incr = cases[i].first,
				    .next_incr = cases[i].next};
		int64_t got = dp_rate_cost(&r, cases[i].secs);

		if (got != cases[i].cost)
			fail_msg("case %zu: %lld, want %lld", i,
				 (long long)got, (long long)cases[i].cost);
	}
}

/* ---- snapshot ------------------------------------------------------------- */

static struct dp_rate R(const char *prefix, const char *carrier,
			int64_t rate, int64_t fee, int64_t from,
			int64_t until)
{
	struct dp_rate r = {.rate = rate,
			    .conn_fee = fee,
			    .first_incr = 60,
			    .next_incr = 60,
			    .from = from,
			    .until = until};

	tg_strlcpy(r.prefix, prefix, sizeof(r.prefix));
	tg_strlcpy(r.carrier, carrier, sizeof(r.carrier));
	snprintf(r.desc, sizeof(r.desc), "%s %s", carrier, prefix);
	return r;
}

/* "carrier:prefix carrier:prefix" of a lookup, for table comparison. */
static void route(const struct dp_lcr *l, const char *number, int64_t t,
		  const struct dp_lcr_asr *asr, size_t max, char *out,
		  size_t size)
{
	struct dp_lcr_choice ch[16];
	size_t n = dp_lcr_lookup(l, number, t, asr, ch, max), o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && o < size; i++)
		o += (size_t)snprintf(out + o, size - o, "%s%s:%s",
				      i ? " " : "", ch[i].rate.carrier,
				      ch[i].rate.prefix);
}

static void test_lookup_table(void **state)
{
	const struct dp_rate rows[] = {
		R("44", "alpha", 10000, 0, 0, 0),
		R("447", "alpha", 50000, 0, 0, 0),
		R("44", "bravo", 20000, 0, 0, 0),
		R("4479", "bravo", 40000, 0, 0, 0),
		R("44", "charlie", 15000, 0, 0, 0),
		/* A cheaper charlie 447 from T0 + 10 days on. */
		R("447", "charlie", 60000, 0, 0, T0 + 10 * DAY),
		R("447", "charlie", 30000, 0, T0 + 10 * DAY, 0),
		/* An expired delta row and a future one. */
		R("4420", "delta", 1000, 0, T0 - 10 * DAY, T0),
		R("4420", "delta", 2000, 0, T0 + 20 * DAY, 0),
		/* Ties: equal rate, fee decides; then ASR; then name. */
		R("33", "alpha", 10000, 500, 0, 0),
		R("33", "bravo", 10000, 100, 0, 0),
		R("33", "charlie", 10000, 100, 0, 0),
		R("33", "delta", 10000, 100, 0, 0),
		R("1", "echo", 5000, 0, 0, 0),
		R("12345678901234567890", "echo", 1, 0, 0, 0),
	};
	const struct dp_lcr_asr asr_cd[] = {
		{"charlie", 400}, {"delta", 600}, {NULL, 0}};
	const struct dp_lcr_asr asr_over[] = {
		{"charlie", 5000}, {"delta", 1000}, {NULL, 0}};
	static const struct {
		const char *number;
		int64_t t;
		int asr; /* 0 none, 1 asr_cd, 2 asr_over */
		size_t max;
		const char *want;
	} cases[] = {
		/* Longest prefix per carrier, then cheapest first. */
		{"447911123456", T0, 0, 16,
		 "bravo:4479 alpha:447 charlie:447"},
		{"447811123456", T0, 0, 16,
		 "bravo:44 alpha:447 charlie:447"},
		{"442071234567", T0, 0, 16,
		 "alpha:44 charlie:44 bravo:44"},
		/* Charlie's cheaper 447 starts at T0 + 10 days exactly. */
		{"447811123456", T0 + 10 * DAY - 1, 0, 16,
		 "bravo:44 alpha:447 charlie:447"},
		{"447811123456", T0 + 10 * DAY, 0, 16,
		 "bravo:44 charlie:447 alpha:447"},
		/* Delta's expired row is ignored; its future one is not yet
		 * effective, then is, and outbids everyone. */
		{"442012345678", T0 - DAY, 0, 16,
		 "delta:4420 alpha:44 charlie:44 bravo:44"},
		{"442012345678", T0, 0, 16, "alpha:44 charlie:44 bravo:44"},
		{"442012345678", T0 + 20 * DAY, 0, 16,
		 "delta:4420 alpha:44 charlie:44 bravo:44"},
		/* Fee breaks the rate tie; name breaks the rest. */
		{"33123", T0, 0, 16,
		 "bravo:33 charlie:33 delta:33 alpha:33"},
		/* ASR breaks the fee tie, higher first; missing counts 0. */
		{"33123", T0, 1, 16,
		 "delta:33 charlie:33 bravo:33 alpha:33"},
		/* ASR above 1000 is clamped, so charlie and delta tie and
		 * the name decides. */
		{"33123", T0, 2, 16,
		 "charlie:33 delta:33 bravo:33 alpha:33"},
		/* max cuts the list after sorting. */
		{"33123", T0, 0, 2, "bravo:33 charlie:33"},
		{"33123", T0, 0, 0, ""},
		/* Unknown numbers, bad input. */
		{"99", T0, 0, 16, ""},
		{"", T0, 0, 16, ""},
		{"44a", T0, 0, 16, ""},
		{"+44", T0, 0, 16, ""},
		{"4", T0, 0, 16, ""},
		/* The prefix itself matches; a 20-digit prefix works and
		 * digits beyond 20 are fine. */
		{"44", T0, 0, 16, "alpha:44 charlie:44 bravo:44"},
		{"1234567890123456789012345", T0, 0, 16,
		 "echo:12345678901234567890"},
		{"1234567890123456789", T0, 0, 16, "echo:1"},
	};
	struct dp_lcr *l = NULL;
	char err[256] = "";

	assert_int_equal(dp_lcr_build(&l, rows, TG_ARRAY_SIZE(rows), err,
				      sizeof(err)),
			 0);
	assert_int_equal(dp_lcr_count(l), TG_ARRAY_SIZE(rows));
	assert_true(dp_lcr_memory(l) > 0);
	for (size_t i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		const struct dp_lcr_asr *asr = cases[i].asr == 1 ? asr_cd :
					       cases[i].asr == 2 ? asr_over :
								   NULL;
		char got[256];

		route(l, cases[i].number, cases[i].t, asr, cases[i].max, got,
		      sizeof(got));
		if (strcmp(got, cases[i].want))
			fail_msg("case %zu (%s): got '%s', want '%s'", i,
				 cases[i].number, got, cases[i].want);
	}
	obj_deref(l);
	/* A NULL snapshot routes nothing. */
	assert_int_equal(dp_lcr_lookup(NULL, "44", T0, NULL, NULL, 0), 0);
}

/* The choice carries the whole rate, for the call's CDR. */
static void test_lookup_row(void **state)
{
	struct dp_rate rows[2] = {
		R("49", "acme", 12500, 30000, T0, T0 + DAY),
		R("491", "zulu", 9000, 0, 0, 0),
	};
	struct dp_lcr_choice ch[2];
	struct dp_lcr *l;

	rows[0].first_incr = 30;
	rows[0].next_incr = 6;
	tg_strlcpy(rows[0].desc, "Germany", sizeof(rows[0].desc));
	assert_int_equal(dp_lcr_build(&l, rows, 2, NULL, 0), 0);
	assert_int_equal(dp_lcr_lookup(l, "4930123", T0, NULL, ch, 2), 1);
	assert_string_equal(ch[0].rate.prefix, "49");
	assert_string_equal(ch[0].rate.carrier, "acme");
	assert_string_equal(ch[0].rate.desc, "Germany");
	assert_int_equal(ch[0].rate.rate, 12500);
	assert_int_equal(ch[0].rate.conn_fee, 30000);
	assert_int_equal(ch[0].rate.first_incr, 30);
	assert_int_equal(ch[0].rate.next_incr, 6);
	assert_int_equal(ch[0].rate.from, T0);
	assert_int_equal(ch[0].rate.until, T0 + DAY);
	assert_int_equal(dp_lcr_lookup(l, "4910", T0, NULL, ch, 2), 2);
	assert_string_equal(ch[0].rate.carrier, "zulu");
	assert_int_equal(ch[0].rate.until, 0);
	assert_string_equal(ch[1].rate.carrier, "acme");
	/* The copy outlives the snapshot. */
	l = obj_deref(l);
	assert_int_equal(dp_rate_cost(&ch[1].rate, 31), 30000 + 7500);

	/* An empty snapshot is valid and routes nothing. */
	assert_int_equal(dp_lcr_build(&l, NULL, 0, NULL, 0), 0);
	assert_int_equal(dp_lcr_lookup(l, "49", T0, NULL, ch, 2), 0);
	obj_deref(l);
}

static void test_build_refused(void **state)
{
	static const struct {
		struct dp_rate a, b;
		const char *why; /* NULL: accepted */
	} cases[] = {
		{{"44", "acme", 1, 0, 60, 60, 0, 0, ""},
		 {"44", "acme", 2, 0, 60, 60, T0, 0, ""},
		 "rate rows 1 and 2 (prefix 44, carrier acme): effective "
		 "dates overlap"},
		{{"44", "acme", 1, 0, 60, 60, T0, T0 + DAY, ""},
		 {"44", "acme", 2, 0, 60, 60, T0 + DAY - 1, 0, ""},
		 "rate rows 1 and 2"},
		{{"44", "acme", 1, 0, 60, 60, T0 + DAY, 0, ""},
		 {"44", "acme", 2, 0, 60, 60, T0, T0 + DAY + 1, ""},
		 "rate rows 2 and 1"},
		{{"44", "acme", 1, 0, 60, 60, T0, 0, ""},
		 {"44", "acme", 2, 0, 60, 60, T0, 0, ""},
		 "effective dates overlap"},
		/* Touching ranges, other carriers, other prefixes: fine. */
		{{"44", "acme", 1, 0, 60, 60, T0, T0 + DAY, ""},
		 {"44", "acme", 2, 0, 60, 60, T0 + DAY, 0, ""}, NULL},
		{{"44", "acme", 1, 0, 60, 60, 0, 0, ""},
		 {"44", "beta", 1, 0, 60, 60, 0, 0, ""}, NULL},
		{{"44", "acme", 1, 0, 60, 60, 0, 0, ""},
		 {"440", "acme", 1, 0, 60, 60, 0, 0, ""}, NULL},
		/* Bad rows are named by number. */
		{{"44", "acme", 1, 0, 60, 60, 0, 0, ""},
		 {"44", "beta", -1, 0, 60, 60, 0, 0, ""},
		 "rate row 2 (44 beta): rate out of range"},
		{{"4a", "acme", 1, 0, 60, 60, 0, 0, ""},
		 {"44", "beta", 1, 0, 60, 60, 0, 0, ""},
		 "rate row 1 (4a acme): prefix is not 1-20 digits"},
		{{"", "acme", 1, 0, 60, 60, 0, 0, ""},
		 {"44", "beta", 1, 0, 60, 60, 0, 0, ""}, "rate row 1"},
		{{"44", "", 1, 0, 60, 60, 0, 0, ""},
		 {"44", "beta", 1, 0, 60, 60, 0, 0, ""}, "no carrier"},
		{{"44", "acme", 1, -1, 60, 60, 0, 0, ""},
		 {"44", "beta", 1, 0, 60, 60, 0, 0, ""}, "connection fee"},
		{{"44", "acme", 1, 0, 0, 60, 0, 0, ""},
		 {"44", "beta", 1, 0, 60, 60, 0, 0, ""}, "increment"},
		{{"44", "acme", 1, 0, 60, 3601, 0, 0, ""},
		 {"44", "beta", 1, 0, 60, 60, 0, 0, ""}, "increment"},
		{{"44", "acme", 1, 0, 60, 60, T0, T0, ""},
		 {"44", "beta", 1, 0, 60, 60, 0, 0, ""}, "not after"},
		{{"44", "acme", 1, 0, 60, 60, -1, 0, ""},
		 {"44", "beta", 1, 0, 60, 60, 0, 0, ""}, "out of range"},
	};

	for (size_t i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		struct dp_rate rows[2] = {cases[i].a, cases[i].b};
		struct dp_lcr *l = NULL;
		char err[256] = "";
		int rc = dp_lcr_build(&l, rows, 2, err, sizeof(err));

		if (!cases[i].why) {
			if (rc)
				fail_msg("case %zu: refused: %s", i, err);
			obj_deref(l);
			continue;
		}
		if (rc != EINVAL || !strstr(err, cases[i].why))
			fail_msg("case %zu: rc %d '%s', want '%s'", i, rc, err,
				 cases[i].why);
		assert_null(l);
	}
}

static void test_build_limits(void **state)
{
	size_t n = DP_LCR_MAX_CARRIERS + 1;
	struct dp_rate *rows = calloc(n, sizeof(*rows));
	struct dp_lcr *l = NULL;
	char err[256];

	assert_non_null(rows);
	for (size_t i = 0; i < n; i++) {
		rows[i] = R("1", "x", 1, 0, 0, 0);
		snprintf(rows[i].carrier, sizeof(rows[i].carrier), "c%zu", i);
	}
	assert_int_equal(dp_lcr_build(&l, rows, n, err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "rate row 1025 (c1024): more than 1024"));
	/* Exactly the cap is fine, and every carrier routes. */
	assert_int_equal(dp_lcr_build(&l, rows, n - 1, err, sizeof(err)), 0);
	{
		struct dp_lcr_choice *ch = calloc(n, sizeof(*ch));

		assert_non_null(ch);
		assert_int_equal(dp_lcr_lookup(l, "1", 0, NULL, ch, n), n - 1);
		/* Equal costs: by name. */
		assert_string_equal(ch[0].rate.carrier, "c0");
		assert_string_equal(ch[1].rate.carrier, "c1");
		assert_string_equal(ch[2].rate.carrier, "c10");
		free(ch);
	}
	l = obj_deref(l);

	/* More than 65535 rows for one prefix (dated slices of one
	 * carrier) are refused rather than silently truncated. */
	rows = realloc(rows, 65536 * sizeof(*rows));
	assert_non_null(rows);
	for (size_t i = 0; i < 65536; i++)
		rows[i] = R("1", "x", 1, 0, (int64_t)i * 10,
			    (int64_t)i * 10 + 10);
	assert_int_equal(dp_lcr_build(&l, rows, 65536, err, sizeof(err)),
			 EINVAL);
	assert_non_null(strstr(err, "more than 65535 rows for one prefix"));
	assert_int_equal(dp_lcr_build(&l, rows, 65535, err, sizeof(err)), 0);
	{
		struct dp_lcr_choice ch[1];

		assert_int_equal(dp_lcr_lookup(l, "19", 655345, NULL, ch, 1),
				 1);
		assert_int_equal(ch[0].rate.from, 655340);
	}
	obj_deref(l);
	free(rows);
}

/* ---- against a brute-force reference -------------------------------------- */

static uint64_t rng_state = 88172645463325252ull;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

/* The spec, written the slow and obvious way. */
static size_t ref_lookup(const struct dp_rate *rows, size_t n,
			 const char *number, int64_t t,
			 const struct dp_rate **best, size_t ncar)
{
	size_t k = 0;

	for (size_t c = 0; c < ncar; c++) {
		const struct dp_rate *b = NULL;
		char name[8];

		snprintf(name, sizeof(name), "c%zu", c);
		for (size_t i = 0; i < n; i++) {
			const struct dp_rate *r = &rows[i];
			size_t pl = strlen(r->prefix);

			if (strcmp(r->carrier, name) ||
			    strncmp(r->prefix, number, pl) || t < r->from ||
			    (r->until && t >= r->until))
				continue;
			if (!b || pl > strlen(b->prefix))
				b = r;
		}
		if (b)
			best[k++] = b;
	}
	/* Sort by rate, fee, name (no ASR): insertion sort. */
	for (size_t i = 1; i < k; i++) {
		const struct dp_rate *x = best[i];
		size_t j = i;

		while (j && (x->rate < best[j - 1]->rate ||
			     (x->rate == best[j - 1]->rate &&
			      (x->conn_fee < best[j - 1]->conn_fee ||
			       (x->conn_fee == best[j - 1]->conn_fee &&
				strcmp(x->carrier, best[j - 1]->carrier) <
					0))))) {
			best[j] = best[j - 1];
			j--;
		}
		best[j] = x;
	}
	return k;
}

static void test_lookup_random(void **state)
{
	enum { NCAR = 6, NROWS = 3000, NLOOK = 4000 };
	struct dp_rate *rows = calloc(NROWS, sizeof(*rows));
	const struct dp_rate *best[NCAR];
	struct dp_lcr_choice ch[NCAR];
	struct dp_lcr *l;
	char err[256];
	size_t n = 0;

	assert_non_null(rows);
	/* Short prefixes over few digits, so they nest and collide; each
	 * (prefix, carrier) gets one to three back-to-back date slices. */
	while (n + 3 <= NROWS) {
		char prefix[8];
		unsigned len = 1 + rnd(5), c = rnd(NCAR), slices = 1 + rnd(3);
		int64_t from = rnd(2) ? 0 : T0 + rnd(5) * DAY;
		int dup = 0;

		for (unsigned d = 0; d < len; d++)
			prefix[d] = (char)('1' + rnd(3));
		prefix[len] = '\0';
		for (size_t i = 0; i < n && !dup; i++)
			dup = !strcmp(rows[i].prefix, prefix) &&
			      rows[i].carrier[1] == (char)('0' + c);
		if (dup)
			continue;
		for (unsigned s = 0; s < slices; s++) {
			/* Slices end around the lookup times, from T0 - 1
			 * day to T0 + 9 days, so all of them matter. */
			int64_t until = (from ? from : T0 - DAY) +
					(1 + rnd(5)) * DAY;
			char car[8];

			if (s + 1 == slices && rnd(2))
				until = 0;

			snprintf(car, sizeof(car), "c%u", c);
			rows[n] = R(prefix, car, 1000 * rnd(4), 100 * rnd(2),
				    from, until);
			n++;
			from = until;
			if (!until)
				break;
		}
	}
	assert_int_equal(dp_lcr_build(&l, rows, n, err, sizeof(err)), 0);
	for (unsigned i = 0; i < NLOOK; i++) {
		char number[16];
		unsigned len = 1 + rnd(9);
		int64_t t = T0 - DAY + (int64_t)rnd(40) * DAY / 2;
		size_t k, got;

		for (unsigned d = 0; d < len; d++)
			number[d] = (char)('1' + rnd(4));
		number[len] = '\0';
		k = ref_lookup(rows, n, number, t, best, NCAR);
		got = dp_lcr_lookup(l, number, t, NULL, ch, NCAR);
		if (got != k)
			fail_msg("%s at %lld: %zu choices, want %zu", number,
				 (long long)t, got, k);
		for (size_t j = 0; j < k; j++) {
			if (strcmp(ch[j].rate.carrier, best[j]->carrier) ||
			    strcmp(ch[j].rate.prefix, best[j]->prefix) ||
			    ch[j].rate.rate != best[j]->rate ||
			    ch[j].rate.from != best[j]->from ||
			    ch[j].rate.until != best[j]->until ||
			    strcmp(ch[j].rate.desc, best[j]->desc))
				fail_msg("%s at %lld #%zu: %s:%s, want %s:%s",
					 number, (long long)t, j,
					 ch[j].rate.carrier, ch[j].rate.prefix,
					 best[j]->carrier, best[j]->prefix);
		}
	}
	obj_deref(l);
	free(rows);
}

/* Long prefixes (the key's 16-digit word and its 4-digit tail), more
 * carriers than one 64-bit word of the lookup's "seen" set, increments,
 * fees, descriptions and dates up to their limits, all against the spec. */
static void test_lookup_random_long(void **state)
{
	enum { NCAR = 100, NROWS = 3000, NLOOK = 4000, NBASE = 3 };
	static const char *const base[NBASE] = {
		"4420712345678901234567", "4420712345678999999999",
		"1212555010012345678901"};
	static const int64_t tmax = DP_RATE_TIME_MAX;
	struct dp_rate *rows = calloc(NROWS, sizeof(*rows));
	const struct dp_rate *best[NCAR];
	struct dp_lcr_choice ch[NCAR];
	struct dp_lcr *l;
	char err[256];
	size_t n = 0;

	assert_non_null(rows);
	while (n + 2 <= NROWS) {
		char prefix[DP_RATE_PREFIX_MAX + 1], car[8];
		unsigned len = rnd(2) ? 13 + rnd(8) : 1 + rnd(20);
		unsigned c = rnd(NCAR);
		int64_t cut = rnd(2) ? T0 + rnd(4) * DAY : tmax - 1 - rnd(3);
		int dup = 0;

		memcpy(prefix, base[rnd(NBASE)], len);
		if (!rnd(4))
			prefix[len - 1] = (char)('0' + rnd(10));
		prefix[len] = '\0';
		snprintf(car, sizeof(car), "c%u", c);
		for (size_t i = 0; i < n && !dup; i++)
			dup = !strcmp(rows[i].prefix, prefix) &&
			      !strcmp(rows[i].carrier, car);
		if (dup)
			continue;
		/* One open row, or two slices meeting at cut; the later
		 * one may end at the very last second there is. */
		rows[n] = R(prefix, car, 1000 * rnd(3), 1000 * rnd(2),
			    rnd(3) ? 0 : tmax - 5, 0);
		if (rows[n].from || rnd(2)) {
			n++;
		} else {
			rows[n].until = cut;
			rows[n + 1] = R(prefix, car, 1000 * rnd(3),
					1000 * rnd(2), cut,
					rnd(2) ? 0 : tmax);
			n += 2;
		}
	}
	for (size_t i = 0; i < n; i++) {
		rows[i].first_incr = rnd(3) ? 1 + rnd(DP_RATE_INCR_MAX) :
					      DP_RATE_INCR_MAX;
		rows[i].next_incr = rnd(3) ? 1 + rnd(DP_RATE_INCR_MAX) :
					     DP_RATE_INCR_MAX;
		if (rnd(2))
			rows[i].conn_fee = DP_RATE_MAX - rnd(2);
		if (rnd(2))
			rows[i].rate = DP_RATE_MAX - rnd(2);
	}
	if (dp_lcr_build(&l, rows, n, err, sizeof(err)))
		fail_msg("build: %s", err);
	for (unsigned i = 0; i < NLOOK; i++) {
		static const int64_t ts[] = {0,	       T0,	   T0 + DAY,
					     T0 + 3 * DAY, tmax - 6, tmax - 5,
					     tmax - 3,     tmax - 1, tmax};
		char number[32];
		unsigned len = 1 + rnd(24);
		int64_t t = ts[rnd(TG_ARRAY_SIZE(ts))];
		size_t k, got;

		for (unsigned d = 0; d < len; d++)
			number[d] = d < 22 ? base[rnd(2) ? 0 : rnd(NBASE)][d] :
					     '5';
		if (rnd(2))
			memcpy(number, base[i % NBASE], len < 22 ? len : 22);
		if (!rnd(4))
			number[rnd(len)] = (char)('0' + rnd(10));
		number[len] = '\0';
		k = ref_lookup(rows, n, number, t, best, NCAR);
		got = dp_lcr_lookup(l, number, t, NULL, ch, NCAR);
		if (got != k)
			fail_msg("%s at %lld: %zu choices, want %zu", number,
				 (long long)t, got, k);
		for (size_t j = 0; j < k; j++) {
			const struct dp_rate *r = &ch[j].rate;

			if (strcmp(r->carrier, best[j]->carrier) ||
			    strcmp(r->prefix, best[j]->prefix) ||
			    r->rate != best[j]->rate ||
			    r->conn_fee != best[j]->conn_fee ||
			    r->first_incr != best[j]->first_incr ||
			    r->next_incr != best[j]->next_incr ||
			    r->from != best[j]->from ||
			    r->until != best[j]->until ||
			    strcmp(r->desc, best[j]->desc))
				fail_msg("%s at %lld #%zu: %s:%s, want %s:%s",
					 number, (long long)t, j, r->carrier,
					 r->prefix, best[j]->carrier,
					 best[j]->prefix);
		}
	}
	obj_deref(l);
	free(rows);
}

/* CSV to snapshot to route to cost: the path tollgatectl and a call take. */
static void test_end_to_end(void **state)
{
	static const char deck_a[] =
		"prefix,rate,connection fee,increment,effective from,"
		"description\n"
		"1,0.010,0,6/6,2026-01-01,USA\n"
		"1212,0.008,0,6/6,2026-01-01,NYC\n";
	static const char deck_b[] =
		"Code;Price;Setup;Billing;Start;End;Destination\n"
		"1;0,009;0,001;60/60;2026-01-01;2026-03-01;USA\n"
		"1;0,007;0,001;60/60;2026-03-01;;USA new\n";
	struct dp_rate rows[8];
	struct collect c;
	struct dp_lcr_choice ch[4];
	struct dp_lcr *l;
	size_t n = 0;

	assert_int_equal(parse(&c, deck_a, "alpha"), 0);
	assert_int_equal(c.n, 2);
	memcpy(rows, c.rows, 2 * sizeof(rows[0]));
	n = 2;
	assert_int_equal(parse(&c, deck_b, "bravo"), 0);
	assert_int_equal(c.n, 2);
	memcpy(rows + n, c.rows, 2 * sizeof(rows[0]));
	n += 2;
	assert_int_equal(dp_lcr_build(&l, rows, n, NULL, 0), 0);
	assert_int_equal(dp_lcr_lookup(l, "12125550100", T0, NULL, ch, 4), 2);
	assert_string_equal(ch[0].rate.carrier, "alpha");
	assert_string_equal(ch[0].rate.prefix, "1212");
	assert_string_equal(ch[1].rate.carrier, "bravo");
	/* 2026-03-01: bravo's new rate undercuts. */
	assert_int_equal(dp_lcr_lookup(l, "12125550100", T0 + 59 * DAY, NULL,
				       ch, 4),
			 2);
	assert_string_equal(ch[0].rate.carrier, "bravo");
	assert_string_equal(ch[0].rate.desc, "USA new");
	/* 61 s at 0.007/min 60/60 plus 0.001 fee: 0.015. */
	assert_int_equal(dp_rate_cost(&ch[0].rate, 61), 15000);
	/* 61 s at 0.008 6/6: 66 s = 0.0088. */
	assert_int_equal(dp_rate_cost(&ch[1].rate, 61), 8800);
	obj_deref(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, leak_setup, leak_teardown)
		T(test_csv_variants),  T(test_csv_rejects),
		T(test_csv_limits),    T(test_csv_headers),
		T(test_csv_rows_misc), T(test_cost),
		T(test_lookup_table),  T(test_lookup_row),
		T(test_build_refused), T(test_build_limits),
		T(test_lookup_random), T(test_lookup_random_long),
		T(test_end_to_end),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
