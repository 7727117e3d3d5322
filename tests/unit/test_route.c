/* tests/unit/test_route.c  The routing snapshot and dp_decide(), by table
 *
 * test_decide.c routes one carrier-shaped snapshot end to end; here each
 * step of dp_decide() gets its own small snapshot and a table of calls:
 * normalisation for NANP, German and British trunks, egress formats,
 * number rules, route conditions (priority, source, calling, regex,
 * days and hours in zones across DST changes), LCR, trunk states, DIDs,
 * blocklists, emergency calls, failover overrides, refusals, snapshot
 * validation and the POSIX TZ parser.  Every test is leak-checked.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"
#include "dialplan/dialplan.h"

/* Table rows leave trailing fields out: they are zero, as meant. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define UNK  DP_TON_UNKNOWN
#define INTL DP_TON_INTERNATIONAL
#define NAT  DP_TON_NATIONAL
#define SUB  DP_TON_SUBSCRIBER
#define NET  DP_TON_NETWORK
#define ABBR DP_TON_ABBREVIATED

#define NY  "EST5EDT,M3.2.0,M11.1.0"
#define BER "CET-1CEST,M3.5.0,M10.5.0/3"
#define SYD "AEST-10AEDT,M10.1.0,M4.1.0/3"

/* Days since 1970-01-01 (H. Hinnant's days_from_civil), so that rows
 * can be written as dates. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static int64_t utc(int y, int mo, int d, int h, int mi)
{
	return days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60;
}

/* 2026-01-05 is a Monday: 15:00 UTC is 10:00 in New York, 16:00 in
 * Berlin. */
#define MON_15Z INT64_C(1767625200)

/* ---- the trunks every snapshot here shares ----------------------------- */

#define NANP_AREA {"1", "1", "011", "212", 7, 10, false}
#define NANP      {"1", "1", "011", "", 0, 10, false}
#define DE_PLAN   {"49", "0", "00", "30", 0, 0, false}
#define UK_PLAN   {"44", "0", "00", "20", 8, 10, false}
#define NO_PLAN   {"", "", "", "", 0, 0, false}

static const struct dp_trunk_row trunks[] = {
	{"pbx", DP_TRUNK_SIP, NANP_AREA, DP_FMT_NATIONAL, DP_FMT_NATIONAL,
	 ""},
	{"pbx2", DP_TRUNK_SIP, NANP_AREA, DP_FMT_E164, DP_FMT_E164,
	 "international,premium"},
	{"pri1", DP_TRUNK_TDM, NANP, DP_FMT_NATIONAL, DP_FMT_NATIONAL, ""},
	{"pri2", DP_TRUNK_TDM, NANP, DP_FMT_NATIONAL_PREFIX, DP_FMT_NATIONAL,
	 "uk, spam"},
	{"carA", DP_TRUNK_SIP, NANP, DP_FMT_PLUS, DP_FMT_PLUS, ""},
	{"carB", DP_TRUNK_SIP, NANP, DP_FMT_E164, DP_FMT_E164, ""},
	{"carC", DP_TRUNK_SIP, NANP, DP_FMT_PLUS, DP_FMT_PLUS,
	 "International,uk,spam"},
	{"raw", DP_TRUNK_SIP, NO_PLAN, DP_FMT_PLUS, DP_FMT_PLUS, ""},
	{"de_pbx", DP_TRUNK_SIP, DE_PLAN, DP_FMT_NATIONAL_PREFIX,
	 DP_FMT_NATIONAL_PREFIX, ""},
	{"de_pri", DP_TRUNK_TDM, DE_PLAN, DP_FMT_NATIONAL, DP_FMT_NATIONAL,
	 "international"},
	{"uk_pri", DP_TRUNK_TDM, UK_PLAN, DP_FMT_NATIONAL_PREFIX,
	 DP_FMT_NATIONAL, ""},
	{"uk_sip", DP_TRUNK_SIP, UK_PLAN, DP_FMT_LOCAL, DP_FMT_PLUS, ""},
};

/* Trunk states for dp_facts.state: comma lists of names. */
static const char *full_trunks = "", *down_trunks = "";

static bool in_list(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");

		if (len == n && !strncmp(p, name, n))
			return true;
		p += len;
		p += *p == ',';
	}
	return false;
}

static enum dp_trunk_state state_of(const char *trunk, void *arg)
{
	(void)arg;
	if (in_list(down_trunks, trunk))
		return DP_TRUNK_DOWN;
	if (in_list(full_trunks, trunk))
		return DP_TRUNK_FULL;
	return DP_TRUNK_AVAILABLE;
}

static int tz_resolve(const char *name, char *posix, size_t size, void *arg)
{
	static const struct {
		const char *name, *posix;
	} zones[] = {
		{"America/New_York", NY},
		{"Europe/Berlin", BER},
		{"Australia/Sydney", SYD},
		{"Etc/GMT+5", "<-05>5"},
		{"Broken/Zone", "not a rule"},
	};

	(void)arg;
	for (size_t i = 0; i < TG_ARRAY_SIZE(zones); i++)
		if (!strcmp(zones[i].name, name)) {
			tg_strlcpy(posix, zones[i].posix, size);
			return 0;
		}
	return ENOENT;
}

static void rows_init(struct dp_snapshot_rows *r)
{
	memset(r, 0, sizeof(*r));
	r->trunks = trunks;
	r->ntrunks = TG_ARRAY_SIZE(trunks);
	r->tz_resolve = tz_resolve;
}

static struct dp_snapshot *build(const struct dp_snapshot_rows *r)
{
	struct dp_snapshot *s = NULL;
	char err[256] = "";

	if (dp_snapshot_build(&s, r, err, sizeof(err)))
		fail_msg("snapshot refused: %s", err);
	return s;
}

#define ROUTE(name, prio, kind, match, trunks)                            \
	{                                                                 \
		name, prio, kind, match, "", "", "", "", "", trunks, false, \
		"", 0, 0, 0, 0, 0                                         \
	}

/* ---- calls in, decisions out ------------------------------------------- */

struct call {
	const char *src, *called;
	enum dp_ton ton;
	const char *calling;
	int64_t now; /* 0 = MON_15Z */
	bool emergency;
	int cause;
	const char *route;
	/* "trunk:called:calling" per attempt, space-separated, with
	 * "@user" after the called number when the user differs */
	const char *attempts;
	const char *reason; /* a substring of d.reason, or NULL */
};

static void attempts_str(const struct dp_decision *d, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < d->nattempts && n < size; i++) {
		const struct dp_attempt *a = &d->attempts[i];
		bool same = !strcmp(a->user, a->called.digits);

		n += (size_t)snprintf(buf + n, size - n, "%s%s:%s%s%s:%s",
				      i ? " " : "", a->trunk, a->called.digits,
				      same ? "" : "@", same ? "" : a->user,
				      a->calling.digits);
	}
}

static void decide_or_fail(const struct dp_snapshot *s, const struct call *c,
			   struct dp_decision *d, char *trace, size_t size,
			   const struct dp_lcr_asr *asr)
{
	struct dp_facts f = {
		.src_trunk = c->src,
		.called = c->called,
		.called_ton = c->ton,
		.calling = c->calling,
		.now = c->now ? c->now : MON_15Z,
		.emergency = c->emergency,
		.asr = asr,
		.state = state_of,
	};

	assert_int_equal(dp_decide(s, &f, d, trace, size), 0);
}

static void run_calls(const struct dp_snapshot *s, const struct call *rows,
		      size_t n)
{
	char got[512], trace[8192];
	struct dp_decision d;

	for (size_t i = 0; i < n; i++) {
		const struct call *c = &rows[i];

		decide_or_fail(s, c, &d, trace, sizeof(trace), NULL);
		attempts_str(&d, got, sizeof(got));
		if (d.cause != c->cause ||
		    strcmp(d.route, c->route ? c->route : "") ||
		    strcmp(got, c->attempts ? c->attempts : "") ||
		    (c->reason && !strstr(d.reason, c->reason)))
			fail_msg("row %zu (%s from %s): cause %d route '%s' "
				 "attempts '%s' reason '%s'; want cause %d "
				 "route '%s' attempts '%s' reason '%s'\n"
				 "trace:\n%s",
				 i, c->called, c->src, d.cause, d.route, got,
				 d.reason, c->cause, c->route ? c->route : "",
				 c->attempts ? c->attempts : "",
				 c->reason ? c->reason : "", trace);
		/* Every decision says why, refused or not. */
		assert_true(d.reason[0] != '\0');
	}
}

static long live_at_start;

static int setup(void **state)
{
	(void)state;
	full_trunks = down_trunks = "";
	live_at_start = obj_live_count();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return obj_live_count() == live_at_start ? 0 : -1;
}

/* ---- 1. ingress: the internal form ------------------------------------- */

static void test_normalize(void **state)
{
	static const struct {
		const char *src, *called;
		enum dp_ton ton;
		int cause;
		const char *want;
		enum dp_ton want_ton;
	} rows[] = {
		/* NANP PBX with a default area: 10, 1+10, 7 digits, +E.164,
		 * 011, URIs and visual separators (RFC 3966) */
		{"pbx", "2125550100", UNK, 0, "12125550100", INTL},
		{"pbx", "12125550100", UNK, 0, "12125550100", INTL},
		{"pbx", "5550100", UNK, 0, "12125550100", INTL},
		{"pbx", "3125550100", UNK, 0, "13125550100", INTL},
		{"pbx", "+442079460000", UNK, 0, "442079460000", INTL},
		{"pbx", "011442079460000", UNK, 0, "442079460000", INTL},
		{"pbx", "0114930123456", UNK, 0, "4930123456", INTL},
		{"pbx", "tel:+1-212-555-0100", UNK, 0, "12125550100", INTL},
		{"pbx", "sip:2125550100@pbx.example;user=phone", UNK, 0,
		 "12125550100", INTL},
		{"pbx", "sips:+12125550100@pbx.example", UNK, 0, "12125550100",
		 INTL},
		{"pbx", "(212) 555-0100", UNK, 0, "12125550100", INTL},
		{"pbx", "212.555.0100", UNK, 0, "12125550100", INTL},
		{"pbx", "555010", UNK, 28, "", UNK},
		{"pbx", "21255501001", UNK, 28, "", UNK},
		{"pbx", "1212555010", UNK, 28, "", UNK},
		{"pbx", "abc", UNK, 28, "", UNK},
		{"pbx", "+", UNK, 28, "", UNK},
		{"pbx", "0112", UNK, 28, "", UNK},
		{"pbx", "+1234567890123456", UNK, 28, "", UNK},
		{"pbx", "sip:alice@example.com", UNK, 28, "", UNK},
		/* NANP PRI without an area: TON decides */
		{"pri1", "2125550100", NAT, 0, "12125550100", INTL},
		{"pri1", "12125550100", INTL, 0, "12125550100", INTL},
		{"pri1", "2125550100", UNK, 0, "12125550100", INTL},
		{"pri1", "442079460000", INTL, 0, "442079460000", INTL},
		{"pri1", "5550100", SUB, 28, "", UNK},
		{"pri1", "5550100", UNK, 28, "", UNK},
		{"pri1", "611", NET, 0, "611", NET},
		{"pri1", "*67", ABBR, 0, "*67", ABBR},
		/* Germany: 0 national prefix, 00 international, area 30 */
		{"de_pbx", "030123456", UNK, 0, "4930123456", INTL},
		{"de_pbx", "004930123456", UNK, 0, "4930123456", INTL},
		{"de_pbx", "+4930123456", UNK, 0, "4930123456", INTL},
		{"de_pbx", "123456", UNK, 0, "4930123456", INTL},
		{"de_pbx", "01701234567", UNK, 0, "491701234567", INTL},
		{"de_pbx", "0012125550100", UNK, 0, "12125550100", INTL},
		{"de_pbx", "0", UNK, 28, "", UNK},
		{"de_pbx", "00", UNK, 28, "", UNK},
		{"de_pri", "30123456", NAT, 0, "4930123456", INTL},
		{"de_pri", "123456", SUB, 0, "4930123456", INTL},
		{"de_pri", "4930123456", INTL, 0, "4930123456", INTL},
		/* UK: fixed NSN length 10, local numbers of 8 in area 20 */
		{"uk_pri", "02079460000", UNK, 0, "442079460000", INTL},
		{"uk_pri", "79460000", UNK, 0, "442079460000", INTL},
		{"uk_pri", "2079460000", UNK, 0, "442079460000", INTL},
		{"uk_pri", "07700900123", UNK, 0, "447700900123", INTL},
		{"uk_pri", "2079460000", NAT, 0, "442079460000", INTL},
		{"uk_pri", "79460000", SUB, 0, "442079460000", INTL},
		{"uk_pri", "0207946000", UNK, 28, "", UNK},
		{"uk_pri", "7946000", UNK, 28, "", UNK},
		/* no plan: digits as sent, TON unknown */
		{"raw", "+1 (212) 555-0100", UNK, 0, "12125550100", UNK},
		{"raw", "sip:*72#@pbx", UNK, 0, "*72#", UNK},
		{"raw", "0049301234", UNK, 0, "0049301234", UNK},
		{"raw", "12125550100", INTL, 0, "12125550100", UNK},
		{"raw", "abc", UNK, 28, "", UNK},
		{"raw", "tel:", UNK, 28, "", UNK},
	};
	struct dp_route_row routes[] = {ROUTE("all", 1, "any", "", "carA")};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;
	struct dp_decision d;

	(void)state;
	rows_init(&r);
	r.routes = routes;
	r.nroutes = 1;
	/* international is not the point here: allow everything */
	s = build(&r);
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct call c = {rows[i].src, rows[i].called, rows[i].ton};

		decide_or_fail(s, &c, &d, NULL, 0, NULL);
		/* 21 is the international default: the number normalised */
		if (d.cause == 21)
			d.cause = 0;
		if (d.cause != rows[i].cause ||
		    (!d.cause && (strcmp(d.called.digits, rows[i].want) ||
				  d.called.ton != rows[i].want_ton)))
			fail_msg("row %zu: '%s' from %s: cause %d %s/%d, want "
				 "cause %d %s/%d", i, rows[i].called,
				 rows[i].src, d.cause, d.called.digits,
				 d.called.ton, rows[i].cause, rows[i].want,
				 rows[i].want_ton);
	}
	obj_deref(s);
}

/* Calling numbers: normalised like called ones, kept as sent when they
 * do not fit, dropped when they are not numbers; presentation kept. */
static void test_calling(void **state)
{
	static const struct {
		const char *src, *calling;
		enum dp_ton ton;
		enum dp_pres pres;
		const char *want; /* internal form */
		enum dp_ton want_ton;
		const char *out; /* as sent to carB (E.164) */
	} rows[] = {
		{"pbx", "2125551234", UNK, DP_PRES_ALLOWED, "12125551234", INTL,
		 "12125551234"},
		{"pbx", "5551234", UNK, DP_PRES_RESTRICTED, "12125551234", INTL,
		 "12125551234"},
		{"pbx", "+442079460000", UNK, DP_PRES_ALLOWED, "442079460000",
		 INTL, "442079460000"},
		{"pbx", "2001", UNK, DP_PRES_ALLOWED, "2001", UNK, "2001"},
		{"pbx", "anonymous", UNK, DP_PRES_RESTRICTED, "", UNK, ""},
		{"pbx", "sip:anonymous@anonymous.invalid", UNK,
		 DP_PRES_RESTRICTED, "", UNK, ""},
		{"pbx", "", UNK, DP_PRES_ALLOWED, "", UNK, ""},
		{"pri1", "3125551234", NAT, DP_PRES_ALLOWED, "13125551234",
		 INTL,
		 "13125551234"},
		{"pri1", "5551234", SUB, DP_PRES_ALLOWED, "5551234", UNK,
		 "5551234"},
		{"de_pri", "30123456", NAT, DP_PRES_ALLOWED, "4930123456", INTL,
		 "4930123456"},
		{"raw", "+1 212 555 1234", UNK, DP_PRES_ALLOWED, "12125551234",
		 UNK, "12125551234"},
	};
	struct dp_route_row routes[] = {ROUTE("all", 1, "any", "", "carB")};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;
	struct dp_decision d;

	(void)state;
	rows_init(&r);
	r.routes = routes;
	r.nroutes = 1;
	s = build(&r);
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct dp_facts f = {
			.src_trunk = rows[i].src, .called = "2125550100",
			.called_ton = !strcmp(rows[i].src, "pri1") ? NAT : UNK,
			.calling = rows[i].calling,
			.calling_ton = rows[i].ton,
			.calling_pres = rows[i].pres, .now = MON_15Z,
		};

		if (!strcmp(rows[i].src, "de_pri"))
			f.called = "030123456";
		assert_int_equal(dp_decide(s, &f, &d, NULL, 0), 0);
		if (d.cause == 21)
			continue; /* de_pri allows international anyway */
		if (strcmp(d.calling.digits, rows[i].want) ||
		    d.calling.ton != rows[i].want_ton ||
		    d.calling.pres != rows[i].pres || d.nattempts != 1 ||
		    strcmp(d.attempts[0].calling.digits, rows[i].out) ||
		    d.attempts[0].calling.pres != rows[i].pres)
			fail_msg("row %zu: calling '%s' from %s: %s/%d -> %s",
				 i, rows[i].calling, rows[i].src,
				 d.calling.digits, d.calling.ton,
				 d.nattempts ? d.attempts[0].calling.digits
					     : "(no attempt)");
	}
	obj_deref(s);
}

/* ---- 2. egress: each trunk's format ------------------------------------ */

static void test_egress_formats(void **state)
{
	static const struct {
		const char *called, *trunk, *want;
		enum dp_ton ton;
		const char *calling;
	} rows[] = {
		/* a NANP number, caller 2125551234 */
		{"2125550100", "pri1", "2125550100", NAT, "2125551234"},
		{"2125550100", "pri2", "12125550100", UNK, "2125551234"},
		{"2125550100", "carA", "+12125550100", INTL, "+12125551234"},
		{"2125550100", "carB", "12125550100", INTL, "12125551234"},
		{"2125550100", "raw", "12125550100", INTL, "12125551234"},
		{"2125550100", "de_pri", "12125550100", INTL, "12125551234"},
		{"2125550100", "uk_pri", "0012125550100", UNK, "12125551234"},
		/* foreign on a local-format SIP trunk: SIP has no type of
		 * number, the "+" says international */
		{"2125550100", "uk_sip", "+12125550100", INTL, "+12125551234"},
		/* a London number */
		{"+442079460000", "pri1", "442079460000", INTL, "2125551234"},
		{"+442079460000", "pri2", "011442079460000", UNK,
		 "2125551234"},
		{"+442079460000", "carA", "+442079460000", INTL,
		 "+12125551234"},
		{"+442079460000", "carB", "442079460000", INTL, "12125551234"},
		{"+442079460000", "raw", "442079460000", INTL, "12125551234"},
		{"+442079460000", "de_pri", "442079460000", INTL,
		 "12125551234"},
		{"+442079460000", "uk_pri", "02079460000", UNK, "12125551234"},
		{"+442079460000", "uk_sip", "79460000", SUB, "+12125551234"},
		/* a UK mobile: outside the default area */
		{"+447700900123", "uk_sip", "7700900123", NAT, "+12125551234"},
		{"+447700900123", "uk_pri", "07700900123", UNK, "12125551234"},
		/* Berlin */
		{"+4930123456", "de_pri", "30123456", NAT, "12125551234"},
		{"+4930123456", "uk_pri", "004930123456", UNK, "12125551234"},
		{"+4930123456", "pri2", "0114930123456", UNK, "2125551234"},
		{"+4930123456", "carA", "+4930123456", INTL, "+12125551234"},
		/* not E.164: no format touches it */
		{"611", "pri1", "611", NET, "2125551234"},
		{"611", "carA", "611", NET, "+12125551234"},
		{"611", "uk_pri", "611", NET, "12125551234"},
	};
	struct dp_route_row routes[] = {
		ROUTE("fan", 1, "any", "",
		      "pri1,pri2,carA,carB,raw,de_pri,uk_pri,uk_sip"),
	};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;
	struct dp_decision d;

	(void)state;
	rows_init(&r);
	r.routes = routes;
	r.nroutes = 1;
	s = build(&r);
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct dp_facts f = {
			.src_trunk = "pbx2", .called = rows[i].called,
			.called_ton = !strcmp(rows[i].called, "611") ? NET
								     : UNK,
			.calling = "2125551234", .now = MON_15Z,
		};
		const struct dp_attempt *a = NULL;

		assert_int_equal(dp_decide(s, &f, &d, NULL, 0), 0);
		assert_int_equal(d.cause, 0);
		assert_int_equal(d.nattempts, 8);
		for (size_t k = 0; k < d.nattempts; k++)
			if (!strcmp(d.attempts[k].trunk, rows[i].trunk))
				a = &d.attempts[k];
		assert_non_null(a);
		if (strcmp(a->called.digits, rows[i].want) ||
		    a->called.ton != rows[i].ton ||
		    strcmp(a->calling.digits, rows[i].calling) ||
		    strcmp(a->user, a->called.digits))
			fail_msg("row %zu: %s to %s: %s/%d calling %s user %s; "
				 "want %s/%d calling %s", i, rows[i].called,
				 rows[i].trunk, a->called.digits, a->called.ton,
				 a->calling.digits, a->user, rows[i].want,
				 rows[i].ton, rows[i].calling);
		assert_int_equal(a->source, DP_SRC_ROUTE);
		assert_int_equal(a->kind, dp_snapshot_trunk(s, a->trunk)->kind);
	}
	obj_deref(s);
}

/* ---- 3. number rules ---------------------------------------------------- */

static void test_rules(void **state)
{
	static const struct dp_rule_row ingress[] = {
		/* the PBX's old toll-free number moved */
		{"tf", "prefix", "1800", "pbx", "", "strip=4,prepend=1877", ""},
		/* extensions from the trunk without a plan */
		{"ext", "pattern", "_4XXX", "raw", "",
		 "prepend=1212555,ton=international,npi=isdn", ""},
		/* network-specific service codes from the PRI */
		{"svc", "any", "", "pri1", "network", "prepend=12125550,ton="
		 "international", ""},
	};
	static const struct dp_rule_row egress[] = {
		{"pri1-9", "prefix", "212", "pri1", "national", "prepend=9",
		 ""},
		{"carB-10", "prefix", "1", "carB", "", "strip=1", ""},
		{"carA-no+", "regex", "^\\+(1[0-9]{10})$", "carA", "",
		 "replace", "$1"},
	};
	static const struct dp_rule_row ingress_calling[] = {
		{"ext", "pattern", "_2XXX", "pbx", "",
		 "prepend=1212555,ton=international,npi=isdn", ""},
	};
	static const struct dp_rule_row egress_calling[] = {
		{"hide", "prefix", "1212555", "carB", "", "pres=restricted",
		 ""},
		{"short", "prefix", "2125", "pri2", "", "strip=3", ""},
	};
	static const struct call calls[] = {
		{"pbx", "8005550100", UNK, "2001", 0, false, 0, "all",
		 "pri1:8775550100:2125552001 pri2:18775550100:5552001 "
		 "carA:18775550100:+12125552001 carB:8775550100:12125552001"},
		{"pri1", "8005550100", NAT, "", 0, false, 0, "all",
		 "pri2:18005550100: carA:18005550100: carB:8005550100:"},
		{"pbx", "2125550100", UNK, "", 0, false, 0, "all",
		 "pri1:92125550100: pri2:12125550100: carA:12125550100: "
		 "carB:2125550100:"},
		{"pbx", "+442079460000", UNK, "", 0, false, 21, "", "", NULL},
		{"raw", "4001", UNK, "", 0, false, 0, "all",
		 "pri1:92125554001: pri2:12125554001: carA:12125554001: "
		 "carB:2125554001:"},
		{"raw", "5001", UNK, "", 0, false, 0, "all",
		 "pri1:5001: pri2:5001: carA:5001: carB:5001:"},
		{"pri1", "611", NET, "", 0, false, 0, "all",
		 "pri2:12125550611: carA:12125550611: carB:2125550611:"},
		{"pri1", "3125550100", NAT, "3125551234", 0, false, 0, "all",
		 "pri2:13125550100:3125551234 carA:13125550100:+13125551234 "
		 "carB:3125550100:13125551234"},
		/* calling 2001 is rewritten first, so 2002 is too */
		{"pbx", "3125550100", UNK, "2002", 0, false, 0, "all",
		 "pri1:3125550100:2125552002 pri2:13125550100:5552002 "
		 "carA:13125550100:+12125552002 carB:3125550100:12125552002"},
	};
	struct dp_route_row routes[] = {
		ROUTE("all", 1, "any", "", "pri1,pri2,carA,carB"),
	};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;
	struct dp_decision d;

	(void)state;
	rows_init(&r);
	r.routes = routes;
	r.nroutes = 1;
	r.ingress = ingress;
	r.ningress = TG_ARRAY_SIZE(ingress);
	r.egress = egress;
	r.negress = TG_ARRAY_SIZE(egress);
	r.ingress_calling = ingress_calling;
	r.ningress_calling = TG_ARRAY_SIZE(ingress_calling);
	r.egress_calling = egress_calling;
	r.negress_calling = TG_ARRAY_SIZE(egress_calling);
	s = build(&r);
	run_calls(s, calls, TG_ARRAY_SIZE(calls));
	/* pres=restricted for carB only */
	{
		struct call c = {"pbx", "3125550100", UNK, "2001"};

		decide_or_fail(s, &c, &d, NULL, 0, NULL);
		assert_int_equal(d.attempts[3].calling.pres,
				 DP_PRES_RESTRICTED);
		assert_int_equal(d.attempts[2].calling.pres, DP_PRES_ALLOWED);
	}
	obj_deref(s);
}

/* ---- 4. which route ----------------------------------------------------- */

static void test_route_select(void **state)
{
	struct dp_route_row routes[] = {
		ROUTE("nanp", 10, "prefix", "1", "pri1,carA"),
		ROUTE("de", 10, "prefix", "49", "de_pri"),
		ROUTE("uk", 10, "prefix", "44", "uk_pri,uk_sip"),
		ROUTE("catch", 99, "any", "", "carC"),
		ROUTE("mobile", 5, "regex", "^1(646|917)[0-9]{7}$", "carB"),
		ROUTE("nxx555", 6, "pattern", "_1NXX555XXXX", "carC"),
		/* equal priority: the name decides */
		ROUTE("b-route", 4, "prefix", "1312", "carB"),
		ROUTE("a-route", 4, "prefix", "1312", "carA"),
		/* priority beats the name */
		ROUTE("z-first", 3, "prefix", "1313", "carC"),
		ROUTE("a-later", 4, "prefix", "1313", "carA"),
		/* calling-number conditions */
		{"vip", 2, "prefix", "1", "", "1415", "", "", "", "carC", false,
		 "", 0, 0, 0, 0, 0},
		{"vip-pat", 2, "prefix", "1", "", "_1650NXX1XXX", "", "", "",
		 "carB", false, "", 0, 0, 0, 0, 0},
		/* source-trunk conditions */
		{"from-pri", 7, "prefix", "1", "pri1, pri2", "", "", "", "",
		 "carB", false, "", 0, 0, 0, 0, 0},
		{"from-de", 7, "any", "", "de_pbx,de_pri", "", "", "", "",
		 "de_pri,carA", false, "", 0, 0, 0, 0, 0},
		/* an anchored-nowhere regex: any number containing 999 */
		ROUTE("nines", 8, "regex", "999", "carB"),
	};
	static const struct call calls[] = {
		{"pbx", "2125550100", UNK, "", 0, false, 0, "nxx555",
		 "carC:+12125550100:"},
		{"pbx", "2124440100", UNK, "", 0, false, 0, "nanp",
		 "pri1:2124440100: carA:+12124440100:"},
		{"pbx", "6465550100", UNK, "", 0, false, 0, "mobile",
		 "carB:16465550100:"},
		{"pbx", "9174440100", UNK, "", 0, false, 0, "mobile",
		 "carB:19174440100:"},
		{"pbx", "91744401001", UNK, "", 0, false, 28, "", ""},
		{"pbx", "3125550100", UNK, "", 0, false, 0, "a-route",
		 "carA:+13125550100:"},
		{"pbx", "3135550100", UNK, "", 0, false, 0, "z-first",
		 "carC:+13135550100:"},
		{"pbx", "2124440100", UNK, "4155551234", 0, false, 0, "vip",
		 "carC:+12124440100:+14155551234"},
		{"pbx", "2124440100", UNK, "6502221234", 0, false, 0, "vip-pat",
		 "carB:12124440100:16502221234"},
		{"pbx", "2124440100", UNK, "6502220234", 0, false, 0, "nanp",
		 "pri1:2124440100:6502220234 carA:+12124440100:+16502220234"},
		/* a caller that fits no form: kept as sent */
		{"pbx", "2124440100", UNK, "05022212", 0, false, 0, "nanp",
		 "pri1:2124440100:05022212 carA:+12124440100:05022212"},
		{"pri2", "2124440100", NAT, "", 0, false, 0, "from-pri",
		 "carB:12124440100:"},
		{"pri1", "6465550100", NAT, "", 0, false, 0, "mobile",
		 "carB:16465550100:"},
		{"pri1", "2124449990", NAT, "", 0, false, 0, "from-pri",
		 "carB:12124449990:"},
		{"pbx", "2124449990", UNK, "", 0, false, 0, "nines",
		 "carB:12124449990:"},
		{"de_pbx", "030123456", UNK, "", 0, false, 0, "from-de",
		 "de_pri:30123456: carA:+4930123456:"},
		{"de_pri", "30123456", NAT, "", 0, false, 0, "from-de",
		 "carA:+4930123456:"},
		{"de_pri", "0012125550100", UNK, "", 0, false, 0, "nxx555",
		 "carC:+12125550100:"},
		{"pbx2", "+442079460000", UNK, "", 0, false, 0, "uk",
		 "uk_pri:02079460000: uk_sip:79460000:"},
		{"pbx2", "+4930123456", UNK, "", 0, false, 0, "de",
		 "de_pri:30123456:"},
		{"pbx2", "+33123456789", UNK, "", 0, false, 0, "catch",
		 "carC:+33123456789:"},
		{"carC", "+33123456789", UNK, "", 0, false, 3, "catch", "",
		 "leaves no trunk"},
		{"raw", "4001", UNK, "", 0, false, 0, "catch", "carC:4001:"},
		{"raw", "12125550100", UNK, "", 0, false, 0, "nxx555",
		 "carC:12125550100:"},
	};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;

	(void)state;
	rows_init(&r);
	r.routes = routes;
	r.nroutes = TG_ARRAY_SIZE(routes);
	s = build(&r);
	assert_int_equal(dp_snapshot_nroutes(s), TG_ARRAY_SIZE(routes));
	run_calls(s, calls, TG_ARRAY_SIZE(calls));
	obj_deref(s);
}

/* ---- 5. days and hours -------------------------------------------------- */

static void test_time_conditions(void **state)
{
	const struct {
		const char *days, *hours, *tz;
		int64_t t;
		bool match;
	} rows[] = {
		/* New York business hours, winter (UTC-5) and summer (-4);
		 * the end is exclusive */
		{"", "08:00-18:00", NY, utc(2026, 1, 5, 13, 0), true},
		{"", "08:00-18:00", NY, utc(2026, 1, 5, 12, 59), false},
		{"", "08:00-18:00", NY, utc(2026, 1, 5, 22, 59), true},
		{"", "08:00-18:00", NY, utc(2026, 1, 5, 23, 0), false},
		{"", "08:00-18:00", NY, utc(2026, 7, 6, 12, 0), true},
		{"", "08:00-18:00", NY, utc(2026, 7, 6, 11, 59), false},
		{"", "08:00-18:00", NY, utc(2026, 7, 6, 21, 59), true},
		{"", "08:00-18:00", NY, utc(2026, 7, 6, 22, 0), false},
		/* the same through the resolver */
		{"", "08:00-18:00", "America/New_York", utc(2026, 7, 6, 12, 0),
		 true},
		{"", "08:00-18:00", "America/New_York",
		 utc(2026, 7, 6, 11, 59), false},
		/* New York DST starts 2026-03-08 07:00 UTC: 01:59 EST, then
		 * 03:00 EDT; 02:00-03:00 does not happen that night */
		{"", "01:00-02:00", NY, utc(2026, 3, 8, 6, 59), true},
		{"", "01:00-02:00", NY, utc(2026, 3, 8, 7, 0), false},
		{"", "02:00-03:00", NY, utc(2026, 3, 8, 6, 59), false},
		{"", "02:00-03:00", NY, utc(2026, 3, 8, 7, 0), false},
		{"", "03:00-04:00", NY, utc(2026, 3, 8, 7, 0), true},
		/* and ends 2026-11-01 06:00 UTC: 01:00-02:00 twice */
		{"", "01:00-02:00", NY, utc(2026, 11, 1, 5, 30), true},
		{"", "01:00-02:00", NY, utc(2026, 11, 1, 5, 59), true},
		{"", "01:00-02:00", NY, utc(2026, 11, 1, 6, 0), true},
		{"", "01:00-02:00", NY, utc(2026, 11, 1, 6, 59), true},
		{"", "01:00-02:00", NY, utc(2026, 11, 1, 7, 0), false},
		{"", "00:00-01:00", NY, utc(2026, 11, 1, 5, 30), false},
		/* days are local days too: Friday 22:00 in New York is
		 * Saturday in UTC */
		{"mon-fri", "", NY, utc(2026, 1, 10, 3, 0), true},
		{"mon-fri", "", NY, utc(2026, 1, 10, 5, 0), false},
		{"mon-fri", "", NY, utc(2026, 1, 12, 4, 59), false},
		{"mon-fri", "", NY, utc(2026, 1, 12, 5, 0), true},
		{"mon-fri", "", "", utc(2026, 1, 10, 3, 0), false},
		/* wrapping past midnight */
		{"", "22:00-06:00", NY, utc(2026, 1, 6, 3, 0), true},
		{"", "22:00-06:00", NY, utc(2026, 1, 6, 2, 59), false},
		{"", "22:00-06:00", NY, utc(2026, 1, 6, 10, 59), true},
		{"", "22:00-06:00", NY, utc(2026, 1, 6, 11, 0), false},
		{"", "22:00-06:00", NY, utc(2026, 7, 7, 2, 0), true},
		{"", "22:00-06:00", NY, utc(2026, 7, 7, 9, 59), true},
		{"", "22:00-06:00", NY, utc(2026, 7, 7, 10, 0), false},
		{"", "22:00-06:00", "", utc(2026, 1, 6, 0, 0), true},
		{"", "22:00-06:00", "", utc(2026, 1, 6, 12, 0), false},
		/* the day is the day of the instant: Friday night's
		 * early Saturday hours are Saturday's */
		{"fri", "22:00-06:00", NY, utc(2026, 1, 10, 4, 0), true},
		{"fri", "22:00-06:00", NY, utc(2026, 1, 10, 8, 0), false},
		{"sat", "22:00-06:00", NY, utc(2026, 1, 10, 8, 0), true},
		/* wrapping days, UTC */
		{"fri-mon", "", "UTC", utc(2026, 1, 9, 12, 0), true},
		{"fri-mon", "", "UTC", utc(2026, 1, 10, 12, 0), true},
		{"fri-mon", "", "UTC", utc(2026, 1, 11, 12, 0), true},
		{"fri-mon", "", "UTC", utc(2026, 1, 12, 12, 0), true},
		{"fri-mon", "", "UTC", utc(2026, 1, 13, 12, 0), false},
		{"fri-mon", "", "UTC", utc(2026, 1, 14, 12, 0), false},
		{"fri-mon", "", "UTC", utc(2026, 1, 15, 12, 0), false},
		{"sat,sun", "", "", utc(2026, 1, 9, 23, 59), false},
		{"sat,sun", "", "", utc(2026, 1, 10, 0, 0), true},
		{"sat,sun", "", "", utc(2026, 1, 11, 23, 59), true},
		{"sat,sun", "", "", utc(2026, 1, 12, 0, 0), false},
		{"Mon,wed-thu", "", "", utc(2026, 1, 7, 0, 0), true},
		{"Mon,wed-thu", "", "", utc(2026, 1, 6, 0, 0), false},
		/* whole days and the last hour */
		{"", "00:00-24:00", "", utc(2026, 1, 6, 0, 0), true},
		{"", "00:00-24:00", "", utc(2026, 1, 6, 23, 59), true},
		{"", "00:00-01:00", "", utc(2026, 1, 6, 0, 59), true},
		{"", "00:00-01:00", "", utc(2026, 1, 6, 1, 0), false},
		{"", "23:00-24:00", "", utc(2026, 1, 6, 23, 59), true},
		{"", "23:00-24:00", "", utc(2026, 1, 6, 0, 0), false},
		/* Berlin: CET (+1) and CEST (+2) */
		{"mon-fri", "08:00-18:00", BER, utc(2026, 1, 5, 7, 0), true},
		{"mon-fri", "08:00-18:00", BER, utc(2026, 1, 5, 6, 59), false},
		{"mon-fri", "08:00-18:00", BER, utc(2026, 7, 6, 6, 0), true},
		{"mon-fri", "08:00-18:00", BER, utc(2026, 7, 6, 5, 59), false},
		{"mon-fri", "08:00-18:00", BER, utc(2026, 7, 6, 15, 59), true},
		{"mon-fri", "08:00-18:00", BER, utc(2026, 7, 6, 16, 0), false},
		{"mon-fri", "08:00-18:00", "Europe/Berlin",
		 utc(2026, 7, 6, 6, 0), true},
		/* Berlin DST starts 2026-03-29 01:00 UTC (02:00 -> 03:00) */
		{"", "01:00-02:00", BER, utc(2026, 3, 29, 0, 59), true},
		{"", "01:00-02:00", BER, utc(2026, 3, 29, 1, 0), false},
		{"", "03:00-04:00", BER, utc(2026, 3, 29, 1, 0), true},
		/* and ends 2026-10-25 01:00 UTC (03:00 -> 02:00) */
		{"", "02:00-03:00", BER, utc(2026, 10, 25, 0, 30), true},
		{"", "02:00-03:00", BER, utc(2026, 10, 25, 0, 59), true},
		{"", "02:00-03:00", BER, utc(2026, 10, 25, 1, 0), true},
		{"", "02:00-03:00", BER, utc(2026, 10, 25, 1, 59), true},
		{"", "02:00-03:00", BER, utc(2026, 10, 25, 2, 0), false},
		{"", "03:00-04:00", BER, utc(2026, 10, 25, 0, 59), false},
		/* Sydney: summer time across the new year */
		{"", "08:00-09:00", SYD, utc(2026, 1, 5, 21, 0), true},
		{"", "08:00-09:00", SYD, utc(2026, 1, 5, 22, 0), false},
		{"", "08:00-09:00", SYD, utc(2026, 7, 6, 22, 0), true},
		{"", "08:00-09:00", SYD, utc(2026, 7, 6, 21, 0), false},
		{"", "02:00-03:00", SYD, utc(2026, 4, 4, 15, 59), true},
		{"", "02:00-03:00", SYD, utc(2026, 4, 4, 16, 0), true},
		{"", "02:00-03:00", SYD, utc(2026, 4, 4, 17, 0), false},
		{"", "01:00-02:00", SYD, utc(2026, 10, 3, 15, 59), true},
		{"", "01:00-02:00", SYD, utc(2026, 10, 3, 16, 0), false},
		{"sun", "", "Australia/Sydney", utc(2026, 1, 10, 13, 0), true},
		/* a zone name with digits goes to the resolver */
		{"", "08:00-09:00", "Etc/GMT+5", utc(2026, 7, 6, 13, 0), true},
		{"", "08:00-09:00", "Etc/GMT+5", utc(2026, 7, 6, 12, 0), false},
		{"", "08:00-09:00", "<-05>5", utc(2026, 7, 6, 13, 0), true},
	};

	(void)state;
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct dp_route_row routes[2] = {
			ROUTE("timed", 1, "prefix", "1", "carA"),
			ROUTE("always", 2, "prefix", "1", "carB"),
		};
		struct dp_snapshot_rows r;
		struct dp_snapshot *s;
		struct dp_decision d;
		char trace[2048];
		struct call c = {"pbx", "2125550100", UNK, "", rows[i].t};

		strcpy(routes[0].days, rows[i].days);
		strcpy(routes[0].hours, rows[i].hours);
		strcpy(routes[0].tz, rows[i].tz);
		rows_init(&r);
		r.routes = routes;
		r.nroutes = 2;
		s = build(&r);
		decide_or_fail(s, &c, &d, trace, sizeof(trace), NULL);
		if (strcmp(d.route, rows[i].match ? "timed" : "always"))
			fail_msg("row %zu: '%s' '%s' in '%s' at %lld: route "
				 "%s\n%s", i, rows[i].days, rows[i].hours,
				 rows[i].tz, (long long)rows[i].t, d.route,
				 trace);
		/* An emergency call ignores days and hours. */
		c.emergency = true;
		decide_or_fail(s, &c, &d, NULL, 0, NULL);
		assert_string_equal(d.route, "timed");
		obj_deref(s);
	}
}

/* ---- 6. least-cost routing ---------------------------------------------- */

#define T0 INT64_C(1772323200) /* 2026-03-01 */
#define T1 INT64_C(1775001600) /* 2026-04-01 */

static const struct dp_rate lcr_rates[] = {
	{"1", "carA", 10000, 0, 60, 60, 0, 0, "US A"},
	{"1", "carB", 9000, 0, 60, 60, 0, 0, "US B"},
	{"1", "pri1", 20000, 0, 60, 60, 0, 0, "US PRI"},
	{"1", "ghost", 1, 0, 60, 60, 0, 0, "not a trunk"},
	{"1212", "carB", 5000, 0, 6, 6, 0, 0, "NYC B"},
	{"1212", "carC", 5000, 0, 6, 6, 0, 0, "NYC C"},
	{"1713", "carA", 5000, 100, 6, 6, 0, 0, "Houston A, fee"},
	{"1713", "carB", 5000, 0, 6, 6, 0, 0, "Houston B"},
	{"44", "carA", 30000, 0, 60, 60, 0, T1, "UK A old"},
	{"44", "carA", 15000, 0, 60, 60, T1, 0, "UK A new"},
	{"44", "carB", 20000, 0, 60, 60, T0, 0, "UK B"},
	{"49", "carA", 7000, 0, 60, 60, 0, 0, "DE A"},
};

/* trunk=rate (micro-units/min) per attempt; '-' when unrated */
static void rates_str(const struct dp_decision *d, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < d->nattempts && n < size; i++) {
		const struct dp_attempt *a = &d->attempts[i];

		if (a->has_rate)
			n += (size_t)snprintf(buf + n, size - n, "%s%s=%lld",
					      i ? " " : "", a->trunk,
					      (long long)a->rate.rate);
		else
			n += (size_t)snprintf(buf + n, size - n, "%s%s=-",
					      i ? " " : "", a->trunk);
	}
}

static void test_lcr(void **state)
{
	static const struct dp_lcr_asr asr_c[] = {
		{"carC", 900}, {"carB", 500}, {NULL, 0}};
	static const struct dp_lcr_asr asr_b[] = {{"carB", 900}, {NULL, 0}};
	static const struct {
		const char *src, *called;
		int64_t now;
		const struct dp_lcr_asr *asr;
		int cause;
		const char *want;
	} rows[] = {
		/* cheapest first, the ghost carrier skipped, the route's
		 * own trunks not twice */
		{"pbx2", "3125550100", 0, NULL, 0,
		 "carB=9000 carA=10000 pri1=20000"},
		/* an equal price: names, or the better ASR */
		{"pbx2", "2125550100", 0, NULL, 0,
		 "carB=5000 carC=5000 carA=10000 pri1=20000"},
		{"pbx2", "2125550100", 0, asr_c, 0,
		 "carC=5000 carB=5000 carA=10000 pri1=20000"},
		{"pbx2", "2125550100", 0, asr_b, 0,
		 "carB=5000 carC=5000 carA=10000 pri1=20000"},
		/* the connection fee breaks a tie before ASR */
		{"pbx2", "7135550100", 0, asr_c, 0,
		 "carB=5000 carA=5000 pri1=20000"},
		/* never back to the source trunk */
		{"carB", "12125550100", 0, NULL, 0,
		 "carC=5000 carA=10000 pri1=20000"},
		{"pri1", "2125550100", MON_15Z, NULL, 0,
		 "carB=5000 carC=5000 carA=10000"},
		/* effective dates: from inclusive, until exclusive */
		{"pbx2", "+442079460000", T0 - 1, NULL, 0, "carA=30000"},
		{"pbx2", "+442079460000", T0, NULL, 0,
		 "carB=20000 carA=30000"},
		{"pbx2", "+442079460000", T1 - 1, NULL, 0,
		 "carB=20000 carA=30000"},
		{"pbx2", "+442079460000", T1, NULL, 0,
		 "carA=15000 carB=20000"},
		/* no rate at all: an lcr-only route has nothing to try */
		{"pbx2", "+61212345678", 0, NULL, 3, ""},
		{"de_pri", "0061212345678", 0, NULL, 1, ""},
		/* a route without lcr keeps its order; its trunks still
		 * carry their rate for the CDR */
		{"pbx2", "+4930123456", 0, NULL, 0, "carB=- carA=7000"},
	};
	struct dp_route_row routes[] = {
		ROUTE("us", 10, "prefix", "1", "pri1,carA"),
		ROUTE("uk", 10, "prefix", "44", ""),
		ROUTE("au", 10, "prefix", "61", ""),
		ROUTE("de", 10, "prefix", "49", "carB,carA"),
	};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;
	struct dp_decision d;
	char got[256], trace[4096];

	(void)state;
	routes[0].lcr = routes[1].lcr = routes[2].lcr = true;
	rows_init(&r);
	r.routes = routes;
	r.nroutes = TG_ARRAY_SIZE(routes);
	r.rates = lcr_rates;
	r.nrates = TG_ARRAY_SIZE(lcr_rates);
	s = build(&r);
	assert_int_equal(dp_lcr_count(dp_snapshot_lcr(s)),
			 TG_ARRAY_SIZE(lcr_rates));
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct call c = {rows[i].src, rows[i].called,
				 !strcmp(rows[i].src, "pri1") ? NAT : UNK, "",
				 rows[i].now};

		if (!strcmp(rows[i].src, "carB"))
			c.ton = INTL;
		decide_or_fail(s, &c, &d, trace, sizeof(trace), rows[i].asr);
		rates_str(&d, got, sizeof(got));
		if (d.cause != rows[i].cause || strcmp(got, rows[i].want))
			fail_msg("row %zu: %s from %s: cause %d '%s', want %d "
				 "'%s'\n%s", i, rows[i].called, rows[i].src,
				 d.cause, got, rows[i].cause, rows[i].want,
				 trace);
	}
	/* Sources: LCR carriers first, then the route's own. */
	{
		struct call c = {"pbx2", "3125550100"};

		decide_or_fail(s, &c, &d, trace, sizeof(trace), NULL);
		for (size_t i = 0; i < d.nattempts; i++)
			assert_int_equal(d.attempts[i].source, DP_SRC_LCR);
		assert_string_equal(d.attempts[0].rate.prefix, "1");
		assert_string_equal(d.attempts[0].rate.desc, "US B");
		assert_non_null(strstr(trace, "lcr: 4 carrier(s) for "
					      "13125550100"));
		assert_non_null(strstr(trace, "carrier ghost is not a trunk"));
		c.called = "+4930123456";
		decide_or_fail(s, &c, &d, NULL, 0, NULL);
		assert_int_equal(d.attempts[1].source, DP_SRC_ROUTE);
		assert_true(d.attempts[1].has_rate);
		assert_string_equal(d.attempts[1].rate.desc, "DE A");
	}
	obj_deref(s);
}

/* A built LCR snapshot is shared, not rebuilt: rates are then ignored. */
static void test_lcr_shared(void **state)
{
	struct dp_lcr *l = NULL;
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;
	struct dp_rate bad = lcr_rates[0];
	char err[128];

	(void)state;
	assert_int_equal(dp_lcr_build(&l, lcr_rates, TG_ARRAY_SIZE(lcr_rates),
				      err, sizeof(err)),
			 0);
	bad.first_incr = 0;
	rows_init(&r);
	r.lcr = l;
	r.rates = &bad;
	r.nrates = 1;
	s = build(&r);
	assert_ptr_equal(dp_snapshot_lcr(s), l);
	assert_int_equal(obj_nrefs(l), 2);
	obj_deref(s);
	assert_int_equal(obj_nrefs(l), 1);
	obj_deref(l);
	/* Without rates at all: an empty snapshot, never NULL. */
	rows_init(&r);
	s = build(&r);
	assert_non_null(dp_snapshot_lcr(s));
	assert_int_equal(dp_lcr_count(dp_snapshot_lcr(s)), 0);
	assert_non_null(dp_snapshot_dids(s));
	assert_int_equal(dp_did_count(dp_snapshot_dids(s)), 0);
	assert_int_equal(dp_snapshot_nroutes(s), 0);
	assert_non_null(dp_snapshot_trunk(s, "uk_sip"));
	assert_int_equal(dp_snapshot_trunk(s, "uk_sip")->called_fmt,
			 DP_FMT_LOCAL);
	assert_null(dp_snapshot_trunk(s, "nope"));
	assert_null(dp_snapshot_trunk(s, NULL));
	obj_deref(s);
}

/* A shared rate deck lists carriers this gateway has no trunk for; any
 * number of cheaper ones must not hide the trunks (up to the carrier
 * limit of a snapshot). */
static void test_lcr_foreign_carriers(void **state)
{
	static const struct {
		size_t nforeign;
		const char *want;
	} rows[] = {
		{0, "carB=9000 carA=9500 pri1=-"},
		{1, "carB=9000 carA=9500 pri1=-"},
		{31, "carB=9000 carA=9500 pri1=-"},
		{32, "carB=9000 carA=9500 pri1=-"},
		{33, "carB=9000 carA=9500 pri1=-"},
		{100, "carB=9000 carA=9500 pri1=-"},
		{DP_LCR_MAX_CARRIERS - 2, "carB=9000 carA=9500 pri1=-"},
	};
	struct dp_route_row routes[] = {
		ROUTE("us", 10, "prefix", "1", "pri1"),
	};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;
	struct dp_decision d;
	char got[256];

	(void)state;
	routes[0].lcr = true;
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		size_t n = rows[i].nforeign + 2;
		struct dp_rate *rates = calloc(n, sizeof(*rates));
		struct call c = {"pbx", "2125550100"};

		assert_non_null(rates);
		for (size_t k = 0; k < n; k++) {
			struct dp_rate *x = &rates[k];

			strcpy(x->prefix, k % 2 ? "1" : "12");
			if (k < rows[i].nforeign) {
				snprintf(x->carrier, sizeof(x->carrier),
					 "wholesale%04zu", k);
				x->rate = 1000 + (int64_t)k;
			} else {
				strcpy(x->carrier,
				       k == n - 1 ? "carA" : "carB");
				x->rate = k == n - 1 ? 9500 : 9000;
			}
			x->first_incr = x->next_incr = 60;
		}
		rows_init(&r);
		r.routes = routes;
		r.nroutes = 1;
		r.rates = rates;
		r.nrates = n;
		s = build(&r);
		free(rates);
		decide_or_fail(s, &c, &d, NULL, 0, NULL);
		rates_str(&d, got, sizeof(got));
		if (d.cause || strcmp(got, rows[i].want))
			fail_msg("%zu foreign carriers: cause %d '%s', want "
				 "'%s'", rows[i].nforeign, d.cause, got,
				 rows[i].want);
		obj_deref(s);
	}
}

/* ---- 7. trunk states ---------------------------------------------------- */

static void test_trunk_states(void **state)
{
	static const struct {
		const char *full, *down, *called;
		bool emergency;
		const char *want;
	} rows[] = {
		{"", "", "3125550100", false, "pri1=0 carA=0 carB=0"},
		{"pri1", "", "3125550100", false, "pri1=2 carA=0 carB=0"},
		{"", "carA", "3125550100", false, "pri1=0 carA=1 carB=0"},
		{"pri1,carB", "carA", "3125550100", false,
		 "pri1=2 carA=1 carB=2"},
		/* emergency: full trunks are tried anyway, down ones not */
		{"pri1,carB", "carA", "3125550100", true,
		 "pri1=0 carA=1 carB=0"},
		{"pri1,carB", "carA", "911", false, "pri1=0 pri2=0"},
		{"pri1", "pri2", "911", false, "pri1=0 pri2=1"},
		{"", "pri1,pri2", "911", false, "pri1=1 pri2=1"},
	};
	struct dp_route_row routes[] = {
		ROUTE("us", 10, "prefix", "1", "pri1,carA,carB"),
	};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;
	struct dp_decision d;
	char got[256], trace[4096];

	(void)state;
	rows_init(&r);
	r.routes = routes;
	r.nroutes = 1;
	s = build(&r);
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct call c = {"pbx", rows[i].called, UNK, "", 0,
				 rows[i].emergency};
		size_t n = 0;

		full_trunks = rows[i].full;
		down_trunks = rows[i].down;
		decide_or_fail(s, &c, &d, trace, sizeof(trace), NULL);
		got[0] = '\0';
		for (size_t k = 0; k < d.nattempts; k++)
			n += (size_t)snprintf(got + n, sizeof(got) - n,
					      "%s%s=%d", k ? " " : "",
					      d.attempts[k].trunk,
					      (int)d.attempts[k].state);
		if (strcmp(got, rows[i].want))
			fail_msg("row %zu: '%s', want '%s'\n%s", i, got,
				 rows[i].want, trace);
		if (strstr(rows[i].want, "=1"))
			assert_non_null(strstr(trace, "skipped (down"));
	}
	full_trunks = down_trunks = "";
	obj_deref(s);
}

/* ---- 8. DIDs ------------------------------------------------------------ */

static void test_dids(void **state)
{
	static const struct dp_did_range dids[] = {
		{"12125550100", "12125550199", "pbx", "", "", "", ""},
		{"12125550200", "12125550299", "pbx", "", "12125550000", "",
		 ""},
		{"12125550300", "12125550300", "pbx", "fax", "", "", ""},
		{"12125550400", "12125550409", "pbx", "", "", "carA",
		 "12125559999"},
		{"12125550500", "12125550500", "pbx", "", "", "pri1", ""},
		{"12125550600", "12125550600", "pbx", "", "", "pri2",
		 "13125550000"},
		{"12125550700", "12125550700", "pbx", "op", "12125550001",
		 "carB", ""},
		{"5551000", "5551099", "pbx", "", "", "", ""},
		{"4930123400", "4930123499", "de_pbx", "", "4930123000", "",
		 ""},
	};
	static const struct call calls[] = {
		{"pri1", "2125550100", NAT, "3125551111", 0, false, 0, "did",
		 "pbx:2125550100:3125551111"},
		{"pri1", "2125550199", NAT, "3125551111", 0, false, 0, "did",
		 "pbx:2125550199:3125551111"},
		/* the DID's caller-ID */
		{"pri1", "2125550250", NAT, "3125551111", 0, false, 0, "did",
		 "pbx:2125550250:2125550000"},
		{"pri1", "2125550250", NAT, "", 0, false, 0, "did",
		 "pbx:2125550250:2125550000"},
		/* a fixed Request-URI user */
		{"pri1", "2125550300", NAT, "3125551111", 0, false, 0, "did",
		 "pbx:2125550300@fax:3125551111"},
		/* failover with its own number, SIP and TDM */
		{"pri1", "2125550405", NAT, "3125551111", 0, false, 0, "did",
		 "pbx:2125550405:3125551111 carA:+12125559999:+13125551111"},
		{"pri2", "2125550500", NAT, "3125551111", 0, false, 0, "did",
		 "pbx:2125550500:3125551111 pri1:2125550500:3125551111"},
		{"pri1", "2125550600", NAT, "3125551111", 0, false, 0, "did",
		 "pbx:2125550600:3125551111 pri2:13125550000:3125551111"},
		/* everything at once: user, caller-ID, failover keeps the
		 * caller-ID and sends the DID */
		{"pri1", "2125550700", NAT, "3125551111", 0, false, 0, "did",
		 "pbx:2125550700@op:2125550001 carB:12125550700:12125550001"},
		/* the failover is the source trunk: dropped */
		{"pri1", "2125550500", NAT, "", 0, false, 0, "did",
		 "pbx:2125550500:"},
		/* not a DID: routed */
		{"pri1", "2125550800", NAT, "", 0, false, 0, "us",
		 "carA:+12125550800:"},
		/* from the DID's own trunk: not a loop back, routed */
		{"pbx", "2125550150", UNK, "", 0, false, 0, "us",
		 "pri1:2125550150: carA:+12125550150:"},
		/* a range written as the PBX writes numbers, matched as
		 * received and sent that way */
		{"pbx2", "5551050", UNK, "", 0, false, 0, "did",
		 "pbx:5551050:"},
		{"raw", "5551050", UNK, "", 0, false, 0, "did",
		 "pbx:5551050:"},
		{"raw", "+12125550100", UNK, "", 0, false, 0, "did",
		 "pbx:12125550100:"},
		/* the internal form first */
		{"carA", "+12125550100", UNK, "+13125551111", 0, false, 0,
		 "did", "pbx:2125550100:3125551111"},
		/* Germany: a block of 100 numbers in Berlin */
		{"de_pri", "30123450", NAT, "891234", 0, false, 0, "did",
		 "de_pbx:030123450:030123000"},
		{"de_pri", "004930123499", UNK, "", 0, false, 0, "did",
		 "de_pbx:030123499:030123000"},
		{"de_pri", "30123500", NAT, "", 0, false, 1, "", ""},
		/* blocklists come first: from London it is international */
		{"uk_pri", "004930123499", UNK, "", 0, false, 21, "", "",
		 "international"},
	};
	struct dp_route_row routes[] = {
		ROUTE("us", 10, "prefix", "1", "pri1,carA"),
	};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;
	struct dp_decision d;

	(void)state;
	rows_init(&r);
	r.routes = routes;
	r.nroutes = 1;
	r.dids = dids;
	r.ndids = TG_ARRAY_SIZE(dids);
	r.t_trying_ms = 1200;
	r.t_progress_ms = 5000;
	s = build(&r);
	assert_int_equal(dp_did_count(dp_snapshot_dids(s)),
			 TG_ARRAY_SIZE(dids));
	run_calls(s, calls, TG_ARRAY_SIZE(calls));
	{
		struct call c = {"pri1", "2125550405", NAT};

		decide_or_fail(s, &c, &d, NULL, 0, NULL);
		assert_int_equal(d.attempts[0].source, DP_SRC_DID);
		assert_int_equal(d.attempts[1].source, DP_SRC_DID_FAILOVER);
		assert_int_equal(d.attempts[1].kind, DP_TRUNK_SIP);
		assert_int_equal(d.t_trying_ms, 1200);
		assert_int_equal(d.t_progress_ms, 5000);
		assert_int_equal(d.t_answer_ms, 0);
		assert_null(d.failover);
		c.called = "2125550600";
		decide_or_fail(s, &c, &d, NULL, 0, NULL);
		assert_int_equal(d.attempts[1].kind, DP_TRUNK_TDM);
		assert_int_equal(d.attempts[1].called.ton, DP_TON_UNKNOWN);
	}
	obj_deref(s);
}

/* ---- 9. blocklists ------------------------------------------------------ */

static void test_blocks(void **state)
{
	static const struct dp_block_row blocks[] = {
		{"called", "1900", "premium", ""},
		{"called", "1976", "", "pri1"},
		{"calling", "1666", "", ""},
		{"called", "_1NXX976XXXX", "premium", ""},
		{"called", "44", "uk", ""},
		{"calling", "_1212555999X", "spam", ""},
	};
	static const struct call calls[] = {
		{"pbx", "9005551234", UNK, "", 0, false, 21, "", "",
		 "(1900, premium)"},
		{"pbx2", "9005551234", UNK, "", 0, false, 0, "nanp",
		 "carA:+19005551234:"},
		{"pri1", "9765551234", NAT, "", 0, false, 21, "", "", "1976"},
		{"pri2", "9765551234", NAT, "", 0, false, 0, "nanp",
		 "carA:+19765551234:"},
		{"pbx", "2129761234", UNK, "", 0, false, 21, "", "",
		 "premium"},
		{"pbx2", "2129761234", UNK, "", 0, false, 0, "nanp",
		 "carA:+12129761234:"},
		{"pbx", "3125550100", UNK, "6665551234", 0, false, 21, "", "",
		 "calling number 16665551234"},
		{"pbx2", "3125550100", UNK, "6665551234", 0, false, 21, "",
		 "", "calling"},
		{"pbx", "3125550100", UNK, "2125559991", 0, false, 21, "", "",
		 "spam"},
		{"carC", "13125550100", UNK, "2125559991", 0, false, 0,
		 "nanp", "carA:+13125550100:+12125559991"},
		/* a category and the international default: both needed */
		{"pbx", "011442079460000", UNK, "", 0, false, 21, "", "",
		 "(44, uk)"},
		{"pbx2", "011442079460000", UNK, "", 0, false, 21, "", "",
		 "(44, uk)"},
		{"pri2", "011442079460000", UNK, "", 0, false, 21, "", "",
		 "does not allow international"},
		{"carC", "011442079460000", UNK, "", 0, false, 0, "uk",
		 "uk_sip:79460000:"},
		{"pbx", "+4930123456", UNK, "", 0, false, 21, "", "",
		 "international number 4930123456"},
		{"pbx2", "+4930123456", UNK, "", 0, false, 0, "world",
		 "carA:+4930123456:"},
		{"de_pri", "0012125550100", UNK, "", 0, false, 0, "nanp",
		 "carA:+12125550100:"},
		{"de_pbx", "0012125550100", UNK, "", 0, false, 21, "", "",
		 "international"},
		{"de_pbx", "030123456", UNK, "", 0, false, 0, "world",
		 "carA:+4930123456:"},
		/* no plan: nothing is international, rows still apply */
		{"raw", "442079460000", UNK, "", 0, false, 21, "", "", "uk"},
		{"raw", "4930123456", UNK, "", 0, false, 0, "world",
		 "carA:4930123456:"},
		/* emergency calls skip blocklists */
		{"pbx", "911", UNK, "6665551234", 0, false, 0, "world",
		 "carA:911:+16665551234"},
		{"pbx", "9005551234", UNK, "", 0, true, 0, "nanp",
		 "carA:+19005551234:"},
		{"pbx", "+4930123456", UNK, "6665551234", 0, true, 0, "world",
		 "carA:+4930123456:+16665551234"},
		/* the default emergency table has no dial-9 entries */
		{"pbx", "9911", UNK, "", 0, false, 28, "", ""},
	};
	struct dp_route_row routes[] = {
		ROUTE("nanp", 10, "prefix", "1", "carA"),
		ROUTE("uk", 10, "prefix", "44", "uk_sip"),
		ROUTE("world", 99, "any", "", "carA"),
	};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;

	(void)state;
	routes[2].kind[0] = '\0'; /* "" is "any" too */
	rows_init(&r);
	r.routes = routes;
	r.nroutes = TG_ARRAY_SIZE(routes);
	r.blocks = blocks;
	r.nblocks = TG_ARRAY_SIZE(blocks);
	s = build(&r);
	run_calls(s, calls, TG_ARRAY_SIZE(calls));
	obj_deref(s);
}

/* ---- 10. emergency calls ------------------------------------------------ */

static void test_emergency(void **state)
{
	static const struct {
		const char *src, *called;
		bool flag;
		enum dp_emergency_class cls;
		const char *service, *route, *attempts;
		int cause;
	} rows[] = {
		/* route days ignored (e911 is for Saturdays only) */
		{"pbx", "911", false, DP_EMERG_EMERGENCY, "911", "e911",
		 "pri2:911: pri1:911:"},
		{"pbx", "tel:911", false, DP_EMERG_EMERGENCY, "911", "e911",
		 "pri2:911: pri1:911:"},
		{"pbx", "sip:911@gw.example;user=phone", false,
		 DP_EMERG_EMERGENCY, "911", "e911", "pri2:911: pri1:911:"},
		/* a site that dials 9 for a line: out as 911 */
		{"pbx", "9911", false, DP_EMERG_EMERGENCY, "911", "e911",
		 "pri2:911: pri1:911:"},
		{"pbx", "9112", false, DP_EMERG_EMERGENCY, "112", "e112",
		 "de_pri:112:"},
		{"pbx", "112", false, DP_EMERG_EMERGENCY, "112", "e112",
		 "de_pri:112:"},
		/* test calls: no route, the country's PRIs */
		{"pbx", "933", false, DP_EMERG_TEST, "933",
		 "emergency-fallback", "pri1:933: pri2:933:"},
		{"pbx", "9933", false, DP_EMERG_TEST, "933",
		 "emergency-fallback", "pri1:933: pri2:933:"},
		/* RFC 5031 URNs: the caller's country's number */
		{"pbx", "urn:service:sos", false, DP_EMERG_EMERGENCY,
		 "urn:service:sos", "e911", "pri2:911: pri1:911:"},
		{"carA", "urn:service:sos.police", false, DP_EMERG_EMERGENCY,
		 "urn:service:sos.police", "e911", "pri2:911: pri1:911:"},
		{"de_pbx", "urn:service:sos", false, DP_EMERG_EMERGENCY,
		 "urn:service:sos", "e112", "de_pri:112:"},
		{"pbx", "urn:service:test.sos", false, DP_EMERG_TEST,
		 "urn:service:test.sos", "emergency-fallback",
		 "pri1:933: pri2:933:"},
		/* marked by the signalling: the number as normalised, time
		 * conditions ignored */
		{"pbx", "3125550100", true, DP_EMERG_EMERGENCY, "signalled",
		 "night", "carB:13125550100:"},
		/* never refused for a bad number */
		{"pbx", "31255", true, DP_EMERG_EMERGENCY, "signalled",
		 "emergency-fallback", "pri1:31255: pri2:31255:"},
		/* from a PRI: never back to it */
		{"pri1", "911", false, DP_EMERG_EMERGENCY, "911", "e911",
		 "pri2:911:"},
		{"raw", "911", false, DP_EMERG_EMERGENCY, "911", "e911",
		 "pri2:911: pri1:911:"},
		/* German fallback: TDM trunks of cc 49 */
		{"de_pbx", "933", false, DP_EMERG_TEST, "933",
		 "emergency-fallback", "de_pri:933:"},
		/* not emergencies */
		{"pbx", "9110", false, DP_EMERG_NONE, "", "", "", 28},
		{"pbx", "3125550100", false, DP_EMERG_NONE, "", "", "", 3},
	};
	static const struct dp_emergency_entry bad_entries[] = {
		{"911", "911", DP_EMERG_EMERGENCY},
		{"9x1", "911", DP_EMERG_EMERGENCY},
	};
	static const struct dp_emergency bad = {bad_entries, 2};
	struct dp_route_row routes[] = {
		ROUTE("e911", 5, "prefix", "911", "pri2,pri1"),
		ROUTE("e112", 5, "prefix", "112", "de_pri"),
		ROUTE("night", 1, "prefix", "1312", "carB"),
	};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;
	struct dp_decision d;
	char got[256], trace[4096], err[160];

	(void)state;
	strcpy(routes[0].days, "sat");
	strcpy(routes[2].hours, "22:00-06:00");
	rows_init(&r);
	r.routes = routes;
	r.nroutes = TG_ARRAY_SIZE(routes);
	r.emergency = &dp_emergency_default_dial9;
	s = build(&r);
	full_trunks = "pri2";
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct call c = {rows[i].src, rows[i].called, UNK, "", 0,
				 rows[i].flag};

		decide_or_fail(s, &c, &d, trace, sizeof(trace), NULL);
		attempts_str(&d, got, sizeof(got));
		if (d.emergency != rows[i].cls || d.cause != rows[i].cause ||
		    strcmp(d.service, rows[i].service) ||
		    strcmp(d.route, rows[i].route) ||
		    strcmp(got, rows[i].attempts))
			fail_msg("row %zu: %s from %s: class %d service '%s' "
				 "cause %d route '%s' attempts '%s'\n%s", i,
				 rows[i].called, rows[i].src, d.emergency,
				 d.service, d.cause, d.route, got, trace);
		/* pri2 is full: for an emergency it is available */
		for (size_t k = 0; k < d.nattempts; k++)
			assert_int_equal(d.attempts[k].state,
					 DP_TRUNK_AVAILABLE);
	}
	full_trunks = "";
	obj_deref(s);
	/* A route whose only trunk is the source leaves an emergency call
	 * to the fallback, not refused; nothing of that route applies. */
	{
		static const struct call calls[] = {
			{"pri1", "911", UNK, "", 0, false, 0,
			 "emergency-fallback", "pri2:911:"},
			{"pbx", "911", UNK, "", 0, false, 0, "e911-pri1",
			 "pri1:911:"},
			{"pri1", "9911", UNK, "", 0, false, 0,
			 "emergency-fallback", "pri2:911:"},
			{"pri1", "urn:service:sos", UNK, "", 0, false, 0,
			 "emergency-fallback", "pri2:911:"},
			{"pri1", "2125550100", NAT, "", 0, true, 0,
			 "emergency-fallback", "pri2:12125550100:"},
			/* a normal call on such a route is refused */
			{"pri1", "2125550100", NAT, "", 0, false, 1, "us", "",
			 "route 'us' leaves no trunk"},
			{"pbx", "2125550100", UNK, "", 0, false, 3, "us", "",
			 "route 'us' leaves no trunk"},
			{"pbx", "2125550100", UNK, "", 0, true, 0,
			 "emergency-fallback",
			 "pri1:2125550100: pri2:12125550100:"},
			/* no other PRI of the country: nothing to try */
			{"de_pri", "112", UNK, "", 0, false, 1, "", "",
			 "no route for 112 from de_pri"},
		};
		struct dp_route_row one[] = {
			ROUTE("e911-pri1", 5, "prefix", "911", "pri1"),
			ROUTE("e112", 5, "prefix", "112", "de_pri"),
			ROUTE("us", 6, "prefix", "1212", ""),
		};

		strcpy(one[0].failover, "sip:503=final");
		one[0].t_answer_ms = 30000;
		one[0].max_calls = 2;
		one[0].cps = 1;
		one[2].lcr = true; /* and no rates: no trunk either */
		full_trunks = "";
		rows_init(&r);
		r.routes = one;
		r.nroutes = TG_ARRAY_SIZE(one);
		r.emergency = &dp_emergency_default_dial9;
		s = build(&r);
		run_calls(s, calls, TG_ARRAY_SIZE(calls));
		{
			struct call c = {"pri1", "911"};

			decide_or_fail(s, &c, &d, trace, sizeof(trace), NULL);
			assert_null(d.failover);
			assert_int_equal(d.t_answer_ms, 0);
			assert_int_equal(d.t_trying_ms, 3000);
			assert_int_equal(d.route_max_calls, 0);
			assert_int_equal(d.route_cps, 0);
			assert_non_null(strstr(trace, "route 'e911-pri1' has no "
						      "trunk for this call"));
			c.src = "pbx";
			decide_or_fail(s, &c, &d, NULL, 0, NULL);
			assert_non_null(d.failover);
			assert_int_equal(d.t_answer_ms, 30000);
			assert_int_equal(d.route_max_calls, 2);
		}
		obj_deref(s);
	}
	/* A bad site table is refused. */
	r.emergency = &bad;
	assert_int_equal(dp_snapshot_build(&s, &r, err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "emergency numbers: "));
	assert_non_null(strstr(err, "9x1"));
}

/* ---- 11. failover classes per route ------------------------------------- */

static void test_failover(void **state)
{
	static const struct {
		const char *called; /* picks the route */
		int sip, q850;
		enum dp_failure_class want;
	} rows[] = {
		/* built-in (route 'plain', no overrides) */
		{"2125550100", 503, 0, DP_FAIL_ROUTE},
		{"2125550100", 486, 0, DP_FAIL_FINAL},
		{"2125550100", 404, 0, DP_FAIL_FINAL},
		{"2125550100", 0, 0, DP_FAIL_ROUTE},
		{"2125550100", 0, 34, DP_FAIL_ROUTE},
		{"2125550100", 0, 17, DP_FAIL_FINAL},
		{"2125550100", 0, 1, DP_FAIL_FINAL},
		{"2125550100", 503, 17, DP_FAIL_FINAL},
		/* 'strict': 503 and cause 34 stop the hunt */
		{"3125550100", 503, 0, DP_FAIL_FINAL},
		{"3125550100", 502, 0, DP_FAIL_ROUTE},
		{"3125550100", 0, 34, DP_FAIL_FINAL},
		{"3125550100", 0, 38, DP_FAIL_ROUTE},
		{"3125550100", 486, 0, DP_FAIL_FINAL},
		{"3125550100", 0, 0, DP_FAIL_ROUTE},
		/* 'wrong': a wrong number tries the next carrier */
		{"4155550100", 404, 0, DP_FAIL_ROUTE},
		{"4155550100", 0, 1, DP_FAIL_ROUTE},
		{"4155550100", 486, 0, DP_FAIL_FINAL},
		{"4155550100", 0, 17, DP_FAIL_FINAL},
		{"4155550100", 503, 0, DP_FAIL_ROUTE},
		/* 'busy-route': q850:17=route, sip:486=route */
		{"6175550100", 486, 0, DP_FAIL_ROUTE},
		{"6175550100", 0, 17, DP_FAIL_ROUTE},
		{"6175550100", 480, 0, DP_FAIL_FINAL},
	};
	struct dp_route_row routes[] = {
		ROUTE("plain", 10, "prefix", "1212", "carA,carB"),
		ROUTE("strict", 10, "prefix", "1312", "carA,carB"),
		ROUTE("wrong", 10, "prefix", "1415", "carA,carB"),
		ROUTE("busy-route", 10, "prefix", "1617", "carA,carB"),
	};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;
	struct dp_decision d;

	(void)state;
	strcpy(routes[1].failover, "sip:503=final, q850:34=final");
	strcpy(routes[2].failover, "wrong-number=route");
	strcpy(routes[3].failover, "q850:17=route,sip:486=route");
	routes[1].t_trying_ms = 800;
	routes[1].t_progress_ms = 9000;
	routes[1].t_answer_ms = 45000;
	routes[1].max_calls = 30;
	routes[1].cps = 4;
	rows_init(&r);
	r.routes = routes;
	r.nroutes = TG_ARRAY_SIZE(routes);
	s = build(&r);
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct call c = {"pbx", rows[i].called};
		struct dp_attempt_result res = {rows[i].sip, rows[i].q850};

		decide_or_fail(s, &c, &d, NULL, 0, NULL);
		assert_int_equal(d.cause, 0);
		if (!strcmp(d.route, "plain"))
			assert_null(d.failover);
		else
			assert_non_null(d.failover);
		if (dp_failover_result(d.failover, &res) != rows[i].want)
			fail_msg("row %zu: route %s sip %d q850 %d: class %d",
				 i, d.route, rows[i].sip, rows[i].q850,
				 (int)dp_failover_result(d.failover, &res));
	}
	/* Timers and limits come with the route; 0 takes the defaults. */
	{
		struct call c = {"pbx", "3125550100"};

		decide_or_fail(s, &c, &d, NULL, 0, NULL);
		assert_int_equal(d.t_trying_ms, 800);
		assert_int_equal(d.t_progress_ms, 9000);
		assert_int_equal(d.t_answer_ms, 45000);
		assert_int_equal(d.route_max_calls, 30);
		assert_int_equal(d.route_cps, 4);
		c.called = "2125550100";
		decide_or_fail(s, &c, &d, NULL, 0, NULL);
		assert_int_equal(d.t_trying_ms, 3000);
		assert_int_equal(d.t_progress_ms, 0);
		assert_int_equal(d.t_answer_ms, 0);
		assert_int_equal(d.route_max_calls, 0);
	}
	obj_deref(s);
}

/* ---- 12. refusals ------------------------------------------------------- */

static void test_refusals(void **state)
{
	static const struct call calls[] = {
		/* 28: the number fits no form of the source plan */
		{"pbx", "12345", UNK, "", 0, false, 28, "", "", "12345"},
		{"pri1", "5550100", UNK, "", 0, false, 28, "", "", "pri1"},
		{"uk_pri", "+4420794600001234567", UNK, "", 0, false, 28, "",
		 "", "over 15 digits"},
		{"uk_pri", "020794600001234567", UNK, "", 0, false, 28, "", "",
		 "uk_pri's plan"},
		{"raw", "sip:bob@example.com", UNK, "", 0, false, 28, "", "",
		 "not a number"},
		/* 21: blocked */
		{"pbx", "+4930123456", UNK, "", 0, false, 21, "", "",
		 "international"},
		/* no route: 1 from TDM (not our number), 3 from SIP */
		{"pri1", "4155550100", NAT, "", 0, false, 1, "", "",
		 "no route for 14155550100 from pri1"},
		{"pbx", "4155550100", UNK, "", 0, false, 3, "", "",
		 "no route for 14155550100 from pbx"},
		{"de_pri", "030123456", UNK, "", 0, false, 1, "", "", NULL},
		{"uk_sip", "02079460000", UNK, "", 0, false, 3, "", "", NULL},
		/* the route's only trunk is the source */
		{"carA", "12125550100", UNK, "", 0, false, 3, "nyc", "",
		 "leaves no trunk"},
		{"pri1", "2125550100", NAT, "", 0, false, 0, "nyc",
		 "carA:+12125550100:"},
		{"pri2", "+13125550100", UNK, "", 0, false, 1, "chi", "",
		 "leaves no trunk"},
	};
	struct dp_route_row routes[] = {
		ROUTE("nyc", 10, "prefix", "1212", "carA"),
		ROUTE("chi", 10, "prefix", "1312", "pri2"),
	};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;
	struct dp_decision d;
	struct dp_facts f = {.src_trunk = "pbx", .called = "2125550100"};

	(void)state;
	rows_init(&r);
	r.routes = routes;
	r.nroutes = TG_ARRAY_SIZE(routes);
	s = build(&r);
	run_calls(s, calls, TG_ARRAY_SIZE(calls));
	/* Facts that cannot be routed at all. */
	f.src_trunk = "nope";
	assert_int_equal(dp_decide(s, &f, &d, NULL, 0), EINVAL);
	f.src_trunk = NULL;
	assert_int_equal(dp_decide(s, &f, &d, NULL, 0), EINVAL);
	f.src_trunk = "pbx";
	f.called = NULL;
	assert_int_equal(dp_decide(s, &f, &d, NULL, 0), EINVAL);
	f.called = "";
	assert_int_equal(dp_decide(s, &f, &d, NULL, 0), EINVAL);
	assert_int_equal(dp_decide(NULL, &f, &d, NULL, 0), EINVAL);
	assert_int_equal(dp_decide(s, NULL, &d, NULL, 0), EINVAL);
	f.called = "2125550100";
	assert_int_equal(dp_decide(s, &f, NULL, NULL, 0), EINVAL);
	obj_deref(s);
}

/* ---- 13. refused snapshots ---------------------------------------------- */

enum field {
	F_TRUNKS, F_SRC, F_KIND, F_PATTERN, F_REGEX, F_PREFIX, F_CALLING,
	F_DAYS, F_HOURS, F_TZ, F_FAILOVER, F_NAME,
};

static void test_validation(void **state)
{
	static const struct {
		enum field field;
		const char *value;
		const char *want; /* NULL = accepted */
	} rows[] = {
		{F_TRUNKS, "foo", "route 'intl': unknown trunk 'foo'"},
		{F_TRUNKS, "carA,,carB", NULL},
		{F_TRUNKS, "carA carB", NULL},
		{F_TRUNKS, "carA,carB,carC,pri1,pri2,pbx,pbx2,raw,uk_sip",
		 "route 'intl': more than 8 trunks"},
		{F_TRUNKS, "", "route 'intl': no trunks and no lcr"},
		{F_SRC, "pbx,ghost", "route 'intl': source trunk 'ghost' "
				     "unknown"},
		{F_KIND, "suffix", "route 'intl': kind 'suffix'"},
		{F_PATTERN, "_1N[X", "route 'intl': pattern '_1N[X'"},
		{F_PATTERN, "_1NXXXXXXXXX", NULL},
		{F_REGEX, "(", "route 'intl': regex '(' at offset 1"},
		{F_REGEX, "^1(2|3", "route 'intl': regex"},
		{F_REGEX, "^1[0-9]{10}$", NULL},
		{F_PREFIX, "12a", "route 'intl': prefix '12a' is not digits"},
		{F_PREFIX, "+1", "route 'intl': prefix '+1' is not digits"},
		{F_CALLING, "1x", "route 'intl': calling '1x'"},
		{F_CALLING, "_1[", "route 'intl': calling '_1['"},
		{F_CALLING, "_1NXX", NULL},
		{F_DAYS, "mon-xyz", "route 'intl': days 'mon-xyz'"},
		{F_DAYS, "mon,", "route 'intl': days 'mon,'"},
		{F_DAYS, "mon-", "route 'intl': days"},
		{F_DAYS, "-fri", "route 'intl': days"},
		{F_DAYS, "mon--fri", "route 'intl': days"},
		{F_DAYS, "monday", "route 'intl': days"},
		{F_DAYS, "mon;tue", "route 'intl': days"},
		{F_DAYS, "fri-mon,wed", NULL},
		{F_DAYS, "SAT,Sun", NULL},
		{F_HOURS, "8:00-18:00", "route 'intl': hours '8:00-18:00'"},
		{F_HOURS, " 8:00-18:00", "route 'intl': hours"},
		{F_HOURS, "+8:00-18:00", "route 'intl': hours"},
		{F_HOURS, "08:00-18:00x", "route 'intl': hours"},
		{F_HOURS, "08:00", "route 'intl': hours"},
		{F_HOURS, "08:60-18:00", "route 'intl': hours"},
		{F_HOURS, "25:00-06:00", "route 'intl': hours"},
		{F_HOURS, "24:00-06:00", "route 'intl': hours"},
		{F_HOURS, "00:00-24:01", "route 'intl': hours"},
		{F_HOURS, "08:00-08:00", "route 'intl': hours"},
		{F_HOURS, "08:00~18:00", "route 'intl': hours"},
		{F_HOURS, "00:00-24:00", NULL},
		{F_HOURS, "22:00-06:00", NULL},
		{F_TZ, "Mars/Olympus", "route 'intl': time zone "
				       "'Mars/Olympus' not found"},
		{F_TZ, "Broken/Zone", "route 'intl': time zone 'Broken/Zone': "
				      "'not a rule' is not a POSIX TZ rule"},
		{F_TZ, "EST5EDT,M13.1.0,M11.1.0", "route 'intl': time zone "
		 "'EST5EDT,M13.1.0,M11.1.0' is not a POSIX TZ rule"},
		{F_TZ, "<+03", "is not a POSIX TZ rule"},
		{F_TZ, "America/New_York", NULL},
		{F_TZ, "Etc/GMT+5", NULL},
		{F_TZ, "UTC", NULL},
		{F_TZ, "Etc/UTC", NULL},
		{F_TZ, "GMT0", NULL},
		{F_TZ, BER, NULL},
		{F_FAILOVER, "bogus=1", "route 'intl': failover"},
		{F_FAILOVER, "sip:999=final", "route 'intl': failover"},
		{F_FAILOVER, "sip:503=final,q850:34=route", NULL},
		{F_NAME, "", "routes: a route without a name"},
	};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s = NULL;

	(void)state;
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct dp_route_row routes[2] = {
			ROUTE("us", 10, "prefix", "1", "carA"),
			ROUTE("intl", 20, "prefix", "44", "carA,carB"),
		};
		struct dp_route_row *x = &routes[1];
		char err[256] = "";
		int rc;

		switch (rows[i].field) {
		case F_TRUNKS: strcpy(x->trunks, rows[i].value); break;
		case F_SRC: strcpy(x->src_trunks, rows[i].value); break;
		case F_KIND: strcpy(x->kind, rows[i].value); break;
		case F_PATTERN:
			strcpy(x->kind, "pattern");
			strcpy(x->match, rows[i].value);
			break;
		case F_REGEX:
			strcpy(x->kind, "regex");
			strcpy(x->match, rows[i].value);
			break;
		case F_PREFIX: strcpy(x->match, rows[i].value); break;
		case F_CALLING: strcpy(x->calling, rows[i].value); break;
		case F_DAYS: strcpy(x->days, rows[i].value); break;
		case F_HOURS: strcpy(x->hours, rows[i].value); break;
		case F_TZ: strcpy(x->tz, rows[i].value); break;
		case F_FAILOVER: strcpy(x->failover, rows[i].value); break;
		case F_NAME: strcpy(x->name, rows[i].value); break;
		}
		rows_init(&r);
		r.routes = routes;
		r.nroutes = 2;
		rc = dp_snapshot_build(&s, &r, err, sizeof(err));
		if (!rows[i].want) {
			if (rc)
				fail_msg("row %zu: refused: %s", i, err);
			s = obj_deref(s);
			continue;
		}
		if (rc != EINVAL || !strstr(err, rows[i].want))
			fail_msg("row %zu: rc %d '%s', want '%s'", i, rc, err,
				 rows[i].want);
		assert_null(s);
	}
}

/* The other tables, each named with its row. */
static void test_validation_tables(void **state)
{
	struct dp_trunk_row t[3] = {trunks[0], trunks[4], trunks[5]};
	struct dp_route_row routes[2] = {
		ROUTE("us", 10, "prefix", "1", "carA"),
		ROUTE("us", 20, "prefix", "1", "carB"),
	};
	struct dp_block_row blocks[3] = {
		{"called", "1900", "premium", ""},
		{"calling", "1666", "", ""},
		{"called", "1976", "", ""},
	};
	struct dp_did_range dids[2] = {
		{"5550100", "5550199", "pbx", "", "", "", ""},
		{"5550200", "5550299", "pbx", "", "", "", ""},
	};
	struct dp_rule_row rule = {"r1", "prefix", "1", "", "", "strip=1",
				   ""};
	struct dp_rate rate = lcr_rates[0];
	struct dp_snapshot_rows r;
	struct dp_snapshot *s = NULL;
	char err[256];

	(void)state;
#define REFUSED(want)                                                     \
	do {                                                              \
		err[0] = '\0';                                            \
		assert_int_equal(dp_snapshot_build(&s, &r, err,           \
						   sizeof(err)),          \
				 EINVAL);                                 \
		if (!strstr(err, want))                                   \
			fail_msg("'%s', want '%s'", err, want);           \
		assert_null(s);                                           \
	} while (0)
#define RESET()                                                           \
	do {                                                              \
		memset(&r, 0, sizeof(r));                                 \
		r.trunks = t;                                             \
		r.ntrunks = 3;                                            \
	} while (0)

	/* trunks */
	RESET();
	strcpy(t[1].name, "pbx");
	REFUSED("trunks: 'pbx' twice");
	t[1] = trunks[4];
	t[2].name[0] = '\0';
	REFUSED("trunks: row 3 has no name");
	t[2] = trunks[5];
	strcpy(t[2].plan.cc, "1a");
	REFUSED("trunks 'carB': country code '1a'");
	strcpy(t[2].plan.cc, "1");
	strcpy(t[2].plan.intl_prefix, "+");
	REFUSED("trunks 'carB': national prefix, international prefix");
	t[2] = trunks[5];
	t[2].kind = (enum dp_trunk_kind)7;
	REFUSED("trunks 'carB': kind 7");
	t[2] = trunks[5];
	t[2].called_fmt = (enum dp_number_fmt)42;
	REFUSED("trunks 'carB': unknown number format");
	t[2] = trunks[5];
	/* routes */
	RESET();
	r.routes = routes;
	r.nroutes = 2;
	REFUSED("routes: 'us' twice");
	/* blocklists */
	RESET();
	r.blocks = blocks;
	r.nblocks = 3;
	strcpy(blocks[2].match, "19x6");
	REFUSED("blocklist row 3: '19x6' is neither digits nor a valid "
		"_pattern");
	strcpy(blocks[2].match, "_19[6");
	REFUSED("blocklist row 3");
	strcpy(blocks[2].match, "1976");
	strcpy(blocks[1].kind, "dialled");
	REFUSED("blocklist row 2 (1666): kind 'dialled'");
	strcpy(blocks[1].kind, "calling");
	strcpy(blocks[0].trunk, "ghost");
	REFUSED("blocklist row 1 (1900): unknown trunk 'ghost'");
	blocks[0].trunk[0] = '\0';
	blocks[2].match[0] = '\0';
	REFUSED("blocklist row 3");
	strcpy(blocks[2].match, "1976");
	assert_int_equal(dp_snapshot_build(&s, &r, err, sizeof(err)), 0);
	s = obj_deref(s);
	/* DIDs */
	RESET();
	r.dids = dids;
	r.ndids = 2;
	strcpy(dids[1].trunk, "ghost");
	REFUSED("dids 5550200-5550299: unknown trunk 'ghost'");
	strcpy(dids[1].trunk, "pbx");
	strcpy(dids[1].failover_trunk, "x");
	REFUSED("dids 5550200-5550299: failover trunk 'x' unknown");
	dids[1].failover_trunk[0] = '\0';
	strcpy(dids[1].first, "5550150");
	REFUSED("dids: ");
	strcpy(dids[1].first, "5550200");
	strcpy(dids[1].last, "555029");
	REFUSED("dids: ");
	strcpy(dids[1].last, "5550299");
	assert_int_equal(dp_snapshot_build(&s, &r, err, sizeof(err)), 0);
	s = obj_deref(s);
	/* number rules, each set by its name */
	RESET();
	r.ingress = &rule;
	r.ningress = 1;
	strcpy(rule.trunk, "ghost");
	REFUSED("ingress number rule 1 (r1): unknown trunk 'ghost'");
	r.ningress = 0;
	r.egress = &rule;
	r.negress = 1;
	REFUSED("egress number rule 1 (r1): unknown trunk 'ghost'");
	r.negress = 0;
	r.ingress_calling = &rule;
	r.ningress_calling = 1;
	REFUSED("ingress calling number rule 1 (r1): unknown trunk");
	r.ningress_calling = 0;
	r.egress_calling = &rule;
	r.negress_calling = 1;
	REFUSED("egress calling number rule 1 (r1): unknown trunk");
	rule.trunk[0] = '\0';
	strcpy(rule.kind, "glob");
	REFUSED("egress calling number rules: ");
	strcpy(rule.kind, "prefix");
	strcpy(rule.actions, "explode");
	REFUSED("egress calling number rules: ");
	r.negress_calling = 0;
	/* rates */
	RESET();
	rate.rate = -1;
	r.rates = &rate;
	r.nrates = 1;
	REFUSED("rates: ");
	/* a carrier that is not a trunk is fine */
	rate = lcr_rates[3];
	assert_int_equal(dp_snapshot_build(&s, &r, err, sizeof(err)), 0);
	s = obj_deref(s);
	/* no zone resolver: names refused, POSIX strings and UTC fine */
	RESET();
	r.routes = routes;
	r.nroutes = 1;
	strcpy(routes[0].tz, "America/New_York");
	REFUSED("route 'us': time zone 'America/New_York' unknown (write a "
		"POSIX TZ string");
	strcpy(routes[0].tz, "UTC");
	assert_int_equal(dp_snapshot_build(&s, &r, err, sizeof(err)), 0);
	s = obj_deref(s);
	strcpy(routes[0].tz, NY);
	assert_int_equal(dp_snapshot_build(&s, &r, err, sizeof(err)), 0);
	s = obj_deref(s);
	/* no rows at all */
	assert_int_equal(dp_snapshot_build(&s, NULL, err, sizeof(err)),
			 EINVAL);
	assert_int_equal(dp_snapshot_build(NULL, &r, err, sizeof(err)),
			 EINVAL);
#undef REFUSED
#undef RESET
}

/* ---- 14. what `tollgatectl route explain` shows -------------------------- */

static void test_trace(void **state)
{
	const struct {
		const char *src, *called;
		enum dp_ton ton;
		int64_t now;
		const char *want;
	} rows[] = {
		{"pbx", "2125551234", UNK, 0,
		 "ingress: called '2125551234' -> 12125551234 (national, plan "
		 "of trunk pbx)"},
		{"pbx", "12125551234", UNK, 0,
		 "-> 12125551234 (national, prefix 1, plan of trunk pbx)"},
		{"pbx", "5551234", UNK, 0,
		 "-> 12125551234 (local, area 212, plan of trunk pbx)"},
		{"pbx", "+12125551234", UNK, 0, "(E.164 with '+'"},
		{"pbx", "01144201234567", UNK, 0, "(international prefix 011"},
		{"pri1", "12125551234", INTL, 0,
		 "(TON international, plan of trunk pri1)"},
		{"pri1", "2125551234", NAT, 0, "(TON national, plan of trunk"},
		{"de_pbx", "030123456", UNK, 0,
		 "-> 4930123456 (national, prefix 0, plan of trunk de_pbx)"},
		{"de_pbx", "0030123456", UNK, 0, "(international prefix 00"},
		{"uk_pri", "2079460000", UNK, 0, "(national, plan of trunk"},
		{"raw", "2001", UNK, 0,
		 "-> 2001 (as sent: the trunk has no numbering plan)"},
		{"pbx", "2125551234", UNK, utc(2026, 1, 5, 19, 5),
		 "route 'night' skipped: hours 22:00-06:00 in "
		 "America/New_York, local time is mon 14:05"},
		{"pbx", "2125551234", UNK, 0,
		 "route 'intl' skipped: called 12125551234 does not match "
		 "prefix 44"},
		{"pbx", "2125551234", UNK, 0,
		 "route 'us' (priority 10) matched: prefix 1"},
		{"pbx", "2125551234", UNK, 0,
		 "attempt 1: trunk pri1 skipped (full, route), called "
		 "2125551234"},
		{"pbx", "2125551234", UNK, 0,
		 "attempt 2: trunk carA (available, route), called "
		 "+12125551234"},
		{"carA", "12125551234", UNK, 0,
		 "trunk carA: not used, the call came from it"},
		{"pbx", "8005550000", UNK, 0, "refused, cause 3: no route for "
					      "18005550000 from pbx"},
		{"pbx", "911", UNK, 0, "emergency: EMERGENCY call (911)"},
		{"pbx", "911", UNK, 0, "ingress: called '911' -> 911 (the "
				       "emergency service number)"},
		{"pbx", "+4930123456", UNK, 0,
		 "refused, cause 21: international number 4930123456: trunk "
		 "pbx does not allow international"},
	};
	struct dp_route_row routes[] = {
		ROUTE("us", 10, "prefix", "1212", "pri1,carA"),
		ROUTE("intl", 5, "prefix", "44", "carA"),
		ROUTE("night", 1, "prefix", "1", "carB"),
	};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;
	struct dp_decision d;
	char trace[4096], tiny[48];

	(void)state;
	strcpy(routes[2].hours, "22:00-06:00");
	strcpy(routes[2].tz, "America/New_York");
	rows_init(&r);
	r.routes = routes;
	r.nroutes = TG_ARRAY_SIZE(routes);
	s = build(&r);
	full_trunks = "pri1";
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct call c = {rows[i].src, rows[i].called, rows[i].ton, "",
				 rows[i].now};

		decide_or_fail(s, &c, &d, trace, sizeof(trace), NULL);
		if (!strstr(trace, rows[i].want))
			fail_msg("row %zu: no '%s' in\n%s", i, rows[i].want,
				 trace);
	}
	full_trunks = "";
	/* A short buffer is cut, never overrun; no buffer is fine. */
	{
		struct call c = {"pbx", "2125551234"};

		memset(tiny, 'x', sizeof(tiny));
		decide_or_fail(s, &c, &d, tiny, 20, NULL);
		assert_true(strlen(tiny) < 20);
		assert_int_equal(tiny[20], 'x');
		decide_or_fail(s, &c, &d, NULL, 0, NULL);
		assert_string_equal(d.route, "us");
	}
	obj_deref(s);
}

/* ---- 14b. how many attempts, in which order ---------------------------- */

/* "trunk/r" (route) or "trunk/l" (LCR) per attempt */
static void sources_str(const struct dp_decision *d, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < d->nattempts && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s/%c",
				      i ? " " : "", d->attempts[i].trunk,
				      d->attempts[i].source == DP_SRC_LCR
					      ? 'l'
					      : 'r');
}

static void test_attempt_limits(void **state)
{
	static const struct {
		const char *src, *called;
		enum dp_ton ton;
		bool emergency;
		const char *want;
	} rows[] = {
		/* four carriers by cost (ghost skipped), then the route's
		 * own trunks up to DP_MAX_ATTEMPTS */
		{"pbx2", "2125550100", UNK, false,
		 "carB/l carC/l carA/l pri1/l pri2/r raw/r de_pri/r uk_pri/r"},
		/* an emergency call: the route's trunks first, then the
		 * carriers that still fit */
		{"pbx2", "2125550100", UNK, true,
		 "pri2/r raw/r de_pri/r uk_pri/r uk_sip/r de_pbx/r carB/l "
		 "carC/l"},
		/* the source is left out of both lists */
		{"carB", "12125550100", INTL, false,
		 "carC/l carA/l pri1/l pri2/r raw/r de_pri/r uk_pri/r "
		 "uk_sip/r"},
		{"pri2", "2125550100", NAT, false,
		 "carB/l carC/l carA/l pri1/l raw/r de_pri/r uk_pri/r "
		 "uk_sip/r"},
		{"pri2", "2125550100", NAT, true,
		 "raw/r de_pri/r uk_pri/r uk_sip/r de_pbx/r carB/l carC/l "
		 "carA/l"},
		{"uk_pri", "0012125550100", UNK, true,
		 "pri2/r raw/r de_pri/r uk_sip/r de_pbx/r carB/l carC/l "
		 "carA/l"},
		/* a route listing carriers LCR also found: once each */
		{"pbx2", "3125550100", UNK, false, "carB/l carA/l pri1/l"},
		{"pbx2", "3125550100", UNK, true, "pri1/r carA/r carB/l"},
		{"carA", "13125550100", INTL, true, "pri1/r carB/l"},
		{"pri1", "3125550100", NAT, true, "carA/r carB/l"},
		/* no rate: only the route's trunks, emergency or not */
		{"pbx2", "7135550100", UNK, false, "carB/l carA/l pri1/l"},
		{"pbx2", "+61212345678", UNK, false, "carC/r"},
		{"pbx2", "+61212345678", UNK, true, "carC/r"},
	};
	struct dp_route_row routes[] = {
		ROUTE("wide", 5, "prefix", "1212",
		      "pri2,raw,de_pri,uk_pri,uk_sip,de_pbx"),
		ROUTE("us", 10, "prefix", "1", "pri1,carA"),
		ROUTE("au", 10, "prefix", "61", "carC"),
	};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;
	struct dp_decision d;
	char got[256], trace[8192];

	(void)state;
	routes[0].lcr = routes[1].lcr = routes[2].lcr = true;
	rows_init(&r);
	r.routes = routes;
	r.nroutes = TG_ARRAY_SIZE(routes);
	r.rates = lcr_rates;
	r.nrates = TG_ARRAY_SIZE(lcr_rates);
	s = build(&r);
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct call c = {rows[i].src, rows[i].called, rows[i].ton, "",
				 0, rows[i].emergency};

		decide_or_fail(s, &c, &d, trace, sizeof(trace), NULL);
		sources_str(&d, got, sizeof(got));
		if (d.cause || strcmp(got, rows[i].want))
			fail_msg("row %zu: %s from %s%s: cause %d '%s', want "
				 "'%s'\n%s", i, rows[i].called, rows[i].src,
				 rows[i].emergency ? " (emergency)" : "",
				 d.cause, got, rows[i].want, trace);
		assert_true(d.nattempts <= DP_MAX_ATTEMPTS);
		if (d.nattempts == DP_MAX_ATTEMPTS &&
		    !strstr(trace, "already 8 attempts"))
			fail_msg("row %zu: no cap in the trace\n%s", i, trace);
		/* Every LCR attempt carries the rate that chose it. */
		for (size_t k = 0; k < d.nattempts; k++)
			if (d.attempts[k].source == DP_SRC_LCR)
				assert_true(d.attempts[k].has_rate);
	}
	obj_deref(s);
}

/* ---- 14c. more of `route explain` -------------------------------------- */

static void test_trace_steps(void **state)
{
	static const struct dp_did_range dids[] = {
		{"12125550100", "12125550199", "pbx", "", "", "carA", ""},
	};
	static const struct dp_block_row blocks[] = {
		{"called", "1900", "premium", ""},
		{"calling", "1666", "", "pri1"},
	};
	static const struct {
		const char *src, *called;
		bool emergency;
		const char *calling, *want;
	} rows[] = {
		{"pbx2", "2125551234", false, "",
		 "route 'wide' (priority 5) matched: prefix 1212"},
		{"pbx2", "2125551234", false, "",
		 "lcr: 5 carrier(s) for 12125551234, cheapest first:"},
		{"pbx2", "2125551234", false, "",
		 "  ghost prefix 1 0.000001/min, 60/60, not a trunk"},
		{"pbx2", "2125551234", false, "",
		 "  carB prefix 1212 0.005000/min, 6/6, NYC B"},
		{"pbx2", "2125551234", false, "",
		 "lcr: carrier ghost is not a trunk; skipped"},
		{"pbx2", "2125551234", false, "",
		 "attempt 1: trunk carB (available, lcr, 0.005000/min), "
		 "called 12125551234, calling (none)"},
		{"pbx2", "2125551234", false, "",
		 "trunk uk_sip: not used, already 8 attempts"},
		{"pbx2", "6505550100", false, "6505551234",
		 "attempt 1: trunk carA (available, route, 0.010000/min), "
		 "called +16505550100, calling +16505551234"},
		{"pbx2", "2125550150", false, "",
		 "did 12125550100-12125550199 matched 12125550150 -> trunk "
		 "pbx, failover carA"},
		{"pbx2", "2125550150", false, "",
		 "attempt 2: trunk carA (available, did failover, "
		 "0.010000/min), called +12125550150"},
		{"pbx", "2125550150", false, "",
		 "did 12125550100-12125550199: matches 12125550150 but leads "
		 "back to trunk pbx; not used"},
		{"pbx2", "9005551234", false, "",
		 "blocklist: called 19005551234 matches 1900 (premium), "
		 "allowed for trunk pbx2"},
		{"pbx", "9005551234", false, "",
		 "refused, cause 21: called number 19005551234 is blocked "
		 "(1900, premium)"},
		{"pri1", "6505550100", false, "6665551234",
		 "refused, cause 21: calling number 16665551234 is blocked "
		 "(1666)"},
		{"pbx2", "+442079460000", false, "",
		 "blocklist: 442079460000 is international, allowed for "
		 "trunk pbx2"},
		{"pbx2", "+442079460000", false, "",
		 "refused, cause 3: no route for 442079460000 from pbx2"},
		{"pbx2", "4155550100", false, "",
		 "route 'timed' skipped: hours 22:00-06:00 in UTC, local time "
		 "is mon 15:00"},
		{"pbx2", "4155550100", true, "",
		 "route 'timed': days/hours ignored for an emergency call"},
		{"pbx2", "4155550100", true, "",
		 "emergency: EMERGENCY call (signalled)"},
		{"pbx2", "+61212345678", false, "",
		 "lcr: no rate for 61212345678 at 1767625200"},
		{"pbx2", "+61212345678", false, "",
		 "route 'au' has no trunk for this call"},
		{"pbx2", "+61212345678", false, "",
		 "refused, cause 3: route 'au' leaves no trunk to try"},
		{"raw", "sip:*72#@pbx", false, "",
		 "ingress: called 'sip:*72#@pbx' -> *72# (as sent: the trunk "
		 "has no numbering plan)"},
		{"raw", "sip:*72#@pbx", false, "",
		 "refused, cause 3: no route for *72# from raw"},
		{"pbx", "3135551234", false, "",
		 "route 'us' skipped: source trunk pbx is not in 'pbx2,carB'"},
		{"pbx", "3125551234", false, "2125559999",
		 "route 'vip' skipped: calling 12125559999 does not match "
		 "_1415NXXXXXX"},
		{"pbx", "933", false, "",
		 "no route for the emergency call: trying the TDM trunks of "
		 "country code 1"},
	};
	struct dp_route_row routes[] = {
		ROUTE("wide", 5, "prefix", "1212",
		      "pri2,raw,de_pri,uk_pri,uk_sip,de_pbx"),
		ROUTE("timed", 6, "prefix", "1415", "carA"),
		ROUTE("au", 7, "prefix", "61", ""),
		ROUTE("vip", 8, "prefix", "1312", "carA"),
		ROUTE("us", 10, "prefix", "1", "carA"),
	};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;
	struct dp_decision d;
	char trace[8192];

	(void)state;
	routes[0].lcr = routes[2].lcr = true;
	strcpy(routes[1].hours, "22:00-06:00");
	strcpy(routes[3].calling, "_1415NXXXXXX");
	strcpy(routes[4].src_trunks, "pbx2,carB");
	rows_init(&r);
	r.routes = routes;
	r.nroutes = TG_ARRAY_SIZE(routes);
	r.rates = lcr_rates;
	r.nrates = TG_ARRAY_SIZE(lcr_rates);
	r.dids = dids;
	r.ndids = TG_ARRAY_SIZE(dids);
	r.blocks = blocks;
	r.nblocks = TG_ARRAY_SIZE(blocks);
	s = build(&r);
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct call c = {rows[i].src, rows[i].called,
				 !strcmp(rows[i].src, "pri1") ? NAT : UNK,
				 rows[i].calling, 0, rows[i].emergency};

		decide_or_fail(s, &c, &d, trace, sizeof(trace), NULL);
		if (!strstr(trace, rows[i].want))
			fail_msg("row %zu: no '%s' in\n%s", i, rows[i].want,
				 trace);
		/* one line per step, each ended */
		assert_int_equal(trace[strlen(trace) - 1], '\n');
	}
	obj_deref(s);
}

/* A trace buffer of any size is cut at a line or mid-line, NUL-ended,
 * a prefix of the whole trace, and nothing past it is written.  The
 * decision does not depend on the trace. */
static void test_trace_sizes(void **state)
{
	static const struct {
		const char *src, *called;
		bool emergency;
	} calls[] = {
		{"pbx2", "2125551234", false},
		{"pbx2", "2125551234", true},
		{"pbx", "+4930123456", false},
		{"raw", "sip:*72#@pbx", false},
		{"pbx", "urn:service:sos", false},
	};
	struct dp_route_row routes[] = {
		ROUTE("wide", 5, "prefix", "1212",
		      "pri2,raw,de_pri,uk_pri,uk_sip,de_pbx"),
		ROUTE("us", 10, "prefix", "1", "pri1,carA"),
	};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s;
	struct dp_decision d, want;
	char full[8192], buf[8192 + 16], a[512], b[512];
	size_t cases = 0;

	(void)state;
	routes[0].lcr = true;
	rows_init(&r);
	r.routes = routes;
	r.nroutes = TG_ARRAY_SIZE(routes);
	r.rates = lcr_rates;
	r.nrates = TG_ARRAY_SIZE(lcr_rates);
	s = build(&r);
	for (size_t i = 0; i < TG_ARRAY_SIZE(calls); i++) {
		struct call c = {calls[i].src, calls[i].called, UNK, "", 0,
				 calls[i].emergency};
		size_t len;

		decide_or_fail(s, &c, &want, full, sizeof(full), NULL);
		len = strlen(full);
		assert_true(len > 40 && len + 1 < sizeof(full));
		attempts_str(&want, a, sizeof(a));
		for (size_t size = 0; size <= len + 2; size++) {
			memset(buf, 'x', sizeof(buf));
			decide_or_fail(s, &c, &d, buf, size, NULL);
			if (size == 0) {
				assert_int_equal(buf[0], 'x');
			} else {
				assert_true(strlen(buf) < size);
				assert_memory_equal(buf, full, strlen(buf));
				if (size > len)
					assert_string_equal(buf, full);
			}
			for (size_t k = size; k < sizeof(buf); k++)
				if (buf[k] != 'x')
					fail_msg("call %zu size %zu: byte %zu "
						 "written", i, size, k);
			attempts_str(&d, b, sizeof(b));
			assert_int_equal(d.cause, want.cause);
			assert_string_equal(d.route, want.route);
			assert_string_equal(a, b);
			cases++;
		}
	}
	assert_true(cases > 500);
	obj_deref(s);
}

/* ---- 15. POSIX TZ rules ------------------------------------------------- */

static void test_tz(void **state)
{
	const struct {
		const char *tz;
		int64_t t;
		int wday, hh, mm;
	} rows[] = {
		{"UTC0", 0, 4, 0, 0},
		{"UTC", 0, 4, 0, 0},
		{"GMT", utc(2026, 1, 5, 12, 34), 1, 12, 34},
		{"<+03>-3", 0, 4, 3, 0},
		{"<-0330>3:30", 0, 3, 20, 30},
		{"<+0545>-5:45", utc(2026, 1, 5, 0, 0), 1, 5, 45},
		{"IST-5:30", utc(2026, 1, 4, 20, 0), 1, 1, 30},
		{"HST10", utc(2026, 1, 5, 9, 59), 0, 23, 59},
		/* New York 2026 */
		{NY, utc(2026, 1, 5, 15, 0), 1, 10, 0},
		{NY, utc(2026, 7, 6, 15, 0), 1, 11, 0},
		{NY, utc(2026, 3, 8, 6, 59), 0, 1, 59},
		{NY, utc(2026, 3, 8, 7, 0), 0, 3, 0},
		{NY, utc(2026, 11, 1, 5, 59), 0, 1, 59},
		{NY, utc(2026, 11, 1, 6, 0), 0, 1, 0},
		{NY, utc(2026, 11, 1, 6, 59), 0, 1, 59},
		{NY, utc(2026, 11, 1, 7, 0), 0, 2, 0},
		{NY, utc(2026, 1, 1, 4, 59), 3, 23, 59},
		{NY, utc(2026, 1, 1, 5, 0), 4, 0, 0},
		/* 2027 and a leap year */
		{NY, utc(2027, 3, 14, 6, 59), 0, 1, 59},
		{NY, utc(2027, 3, 14, 7, 0), 0, 3, 0},
		{NY, utc(2028, 3, 12, 7, 0), 0, 3, 0},
		{NY, utc(2028, 2, 29, 17, 0), 2, 12, 0},
		/* the US default when a DST zone has no rules */
		{"EST5EDT", utc(2026, 3, 8, 7, 0), 0, 3, 0},
		{"EST5EDT", utc(2026, 11, 1, 6, 0), 0, 1, 0},
		/* Berlin 2026 */
		{BER, utc(2026, 1, 5, 15, 0), 1, 16, 0},
		{BER, utc(2026, 7, 6, 15, 0), 1, 17, 0},
		{BER, utc(2026, 3, 29, 0, 59), 0, 1, 59},
		{BER, utc(2026, 3, 29, 1, 0), 0, 3, 0},
		{BER, utc(2026, 10, 25, 0, 59), 0, 2, 59},
		{BER, utc(2026, 10, 25, 1, 0), 0, 2, 0},
		{BER, utc(2026, 12, 31, 23, 0), 5, 0, 0},
		/* London: the change at 01:00 UTC both ways */
		{"GMT0BST,M3.5.0/1,M10.5.0", utc(2026, 3, 29, 0, 59), 0, 0, 59},
		{"GMT0BST,M3.5.0/1,M10.5.0", utc(2026, 3, 29, 1, 0), 0, 2, 0},
		{"GMT0BST,M3.5.0/1,M10.5.0", utc(2026, 10, 25, 0, 59), 0, 1,
		 59},
		{"GMT0BST,M3.5.0/1,M10.5.0", utc(2026, 10, 25, 1, 0), 0, 1, 0},
		/* Sydney: the southern hemisphere */
		{SYD, utc(2026, 1, 1, 0, 0), 4, 11, 0},
		{SYD, utc(2026, 7, 1, 0, 0), 3, 10, 0},
		{SYD, utc(2026, 4, 4, 15, 59), 0, 2, 59},
		{SYD, utc(2026, 4, 4, 16, 0), 0, 2, 0},
		{SYD, utc(2026, 10, 3, 15, 59), 0, 1, 59},
		{SYD, utc(2026, 10, 3, 16, 0), 0, 3, 0},
		{SYD, utc(2025, 12, 31, 13, 0), 4, 0, 0},
		/* Santiago: negative offsets, a rule time of 24:00 */
		{"<-04>4<-03>,M9.1.6/24,M4.1.6/24", utc(2026, 1, 5, 15, 0), 1,
		 12, 0},
		{"<-04>4<-03>,M9.1.6/24,M4.1.6/24", utc(2026, 7, 6, 15, 0), 1,
		 11, 0},
		/* Nuuk: negative rule times */
		{"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", utc(2026, 3, 29, 0, 59), 6,
		 22, 59},
		{"<-02>2<-01>,M3.5.0/-1,M10.5.0/0", utc(2026, 3, 29, 1, 0), 0,
		 0, 0},
		/* Dublin: "DST" is winter (negative DST) */
		{"IST-1GMT0,M10.5.0,M3.5.0/1", utc(2026, 1, 5, 15, 0), 1, 15,
		 0},
		{"IST-1GMT0,M10.5.0,M3.5.0/1", utc(2026, 7, 6, 15, 0), 1, 16,
		 0},
		/* DST all year (RFC 8536 3.3.1) */
		{"EST5EDT,0/0,J365/25", utc(2026, 1, 5, 15, 0), 1, 11, 0},
		{"EST5EDT,0/0,J365/25", utc(2026, 7, 6, 15, 0), 1, 11, 0},
		/* Julian rules: Jn skips Feb 29, n counts it */
		{"XXX5YYY,J60/0,J300/0", utc(2026, 3, 1, 4, 59), 6, 23, 59},
		{"XXX5YYY,J60/0,J300/0", utc(2026, 3, 1, 5, 0), 0, 1, 0},
		{"XXX5YYY,J60/0,J300/0", utc(2028, 3, 1, 5, 0), 3, 1, 0},
		{"XXX5YYY,59/0,299/0", utc(2028, 2, 29, 5, 0), 2, 1, 0},
		{"XXX5YYY,59/0,299/0", utc(2028, 2, 29, 4, 59), 1, 23, 59},
		/* the last second before each change (checked against
		 * Python's zoneinfo) */
		{NY, utc(2026, 3, 8, 7, 0) - 1, 0, 1, 59},
		{NY, utc(2026, 11, 1, 6, 0) - 1, 0, 1, 59},
		{BER, utc(2026, 3, 29, 1, 0) - 1, 0, 1, 59},
		{BER, utc(2026, 10, 25, 1, 0) - 1, 0, 2, 59},
		{SYD, utc(2026, 4, 4, 16, 0) - 1, 0, 2, 59},
		{SYD, utc(2026, 10, 3, 16, 0) - 1, 0, 1, 59},
		/* Auckland: a southern zone with the default 02:00 start */
		{"NZST-12NZDT,M9.5.0,M4.1.0/3", utc(2026, 4, 4, 14, 0) - 1, 0,
		 2, 59},
		{"NZST-12NZDT,M9.5.0,M4.1.0/3", utc(2026, 4, 4, 14, 0), 0, 2,
		 0},
		{"NZST-12NZDT,M9.5.0,M4.1.0/3", utc(2026, 9, 26, 14, 0) - 1, 0,
		 1, 59},
		{"NZST-12NZDT,M9.5.0,M4.1.0/3", utc(2026, 9, 26, 14, 0), 0, 3,
		 0},
		/* Lord Howe: a DST of half an hour */
		{"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
		 utc(2026, 10, 3, 15, 30) - 1, 0, 1, 59},
		{"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
		 utc(2026, 10, 3, 15, 30), 0, 2, 30},
		{"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
		 utc(2026, 4, 4, 15, 0) - 1, 0, 1, 59},
		{"<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", utc(2026, 4, 4, 15, 0),
		 0, 1, 30},
		/* Chatham: quarter hours, rule times with minutes */
		{"<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
		 utc(2026, 1, 5, 0, 0), 1, 13, 45},
		{"<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
		 utc(2026, 7, 5, 0, 0), 0, 12, 45},
		/* Santiago's changes at 24:00 on a Saturday */
		{"<-04>4<-03>,M9.1.6/24,M4.1.6/24", utc(2026, 9, 6, 4, 0) - 1,
		 6, 23, 59},
		{"<-04>4<-03>,M9.1.6/24,M4.1.6/24", utc(2026, 9, 6, 4, 0), 0,
		 1, 0},
		{"<-04>4<-03>,M9.1.6/24,M4.1.6/24", utc(2026, 4, 5, 3, 0) - 1,
		 6, 23, 59},
		{"<-04>4<-03>,M9.1.6/24,M4.1.6/24", utc(2026, 4, 5, 3, 0), 6,
		 23, 0},
		/* no DST at all */
		{"<+0330>-3:30", utc(2026, 7, 6, 15, 0), 1, 18, 30},
		/* an explicit DST offset equal to the default */
		{"EST5EDT4,M3.2.0,M11.1.0", utc(2026, 3, 8, 7, 0), 0, 3, 0},
		{"EST5EDT4,M3.2.0/2:00:00,M11.1.0/2", utc(2026, 11, 1, 6, 0), 0,
		 1, 0},
		/* before 1970 */
		{"UTC0", -1, 3, 23, 59},
		{NY, utc(1969, 7, 20, 20, 17), 0, 16, 17},
	};
	static const char *const bad[] = {
		"", "E", "EST", "ES5", "EST5EDT,M3.2", "EST5EDT,M3.2.7,M11.1.0",
		"EST5EDT,M0.2.0,M11.1.0", "EST5EDT,M3.6.0,M11.1.0",
		"EST5EDT,M3.0.0,M11.1.0", "EST5EDT,J0,J10", "EST5EDT,J366,J10",
		"EST5EDT,366,10", "EST5EDT,M3.2.0", "EST5EDT,M3.2.0,",
		"EST5EDT,M3.2.0/x,M11.1.0", "<EST5", "<E>5", "EST5x",
		":America/New_York", "EST200", "EST25", "EST5:60", "EST+",
		"America/New_York", "EST5EDT,M3.2.0,M11.1.0,", "UTC+",
	};

	(void)state;
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct dp_tz *tz = NULL;
		int wday, minute;

		if (dp_tz_parse(&tz, rows[i].tz))
			fail_msg("row %zu: '%s' refused", i, rows[i].tz);
		dp_tz_local(tz, rows[i].t, &wday, &minute);
		if (wday != rows[i].wday ||
		    minute != rows[i].hh * 60 + rows[i].mm)
			fail_msg("row %zu: %s at %lld: day %d %02d:%02d, want "
				 "day %d %02d:%02d", i, rows[i].tz,
				 (long long)rows[i].t, wday, minute / 60,
				 minute % 60, rows[i].wday, rows[i].hh,
				 rows[i].mm);
		dp_tz_free(tz);
	}
	for (size_t i = 0; i < TG_ARRAY_SIZE(bad); i++) {
		struct dp_tz *tz = NULL;

		if (dp_tz_parse(&tz, bad[i]) != EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_null(tz);
	}
	/* NULL is UTC */
	{
		int wday, minute;

		dp_tz_local(NULL, utc(2026, 1, 5, 15, 0), &wday, &minute);
		assert_int_equal(wday, 1);
		assert_int_equal(minute, 15 * 60);
		assert_int_equal(dp_tz_parse(NULL, "UTC0"), EINVAL);
		dp_tz_free(NULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_normalize, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_calling, setup, teardown),
		cmocka_unit_test_setup_teardown(test_egress_formats, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(test_route_select, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_time_conditions, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lcr, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lcr_shared, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_lcr_foreign_carriers, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_trunk_states, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_dids, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blocks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_emergency, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failover, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_validation, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_validation_tables, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_trace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_attempt_limits, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_trace_steps, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_trace_sizes, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_tz, setup, teardown),
	};

	gw_log_level = GW_LOG_ERROR;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
