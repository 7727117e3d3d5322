/* tests/unit/test_decide.c  Routing decisions, table-driven (dialplan/route.c)
 *
 * One snapshot shaped like a small carrier's: a NANP PBX, a PBX without a
 * numbering plan, a PRI, UK and German trunks, two SIP carriers with rate
 * decks, DIDs, blocklists and routes with priorities, patterns, a regex,
 * days, hours in New York time and failover overrides.  Each row of the
 * tables is a call's facts and the decision a user would see.
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

/* 2026-11-23 15:00 UTC, a Monday: 10:00 in New York (EST). */
#define MON_15Z INT64_C(1795446000)
#define HOUR    3600
#define DAY     86400
#define T_NEW   (MON_15Z + DAY) /* c2's new 1213 price from here */

static struct dp_trunk_row trunks[] = {
	{"pbx", DP_TRUNK_SIP, {"1", "1", "011", "212", 7, 10, false},
	 DP_FMT_NATIONAL, DP_FMT_NATIONAL, "premium"},
	{"raw", DP_TRUNK_SIP, {"", "", "", "", 0, 0, false}, DP_FMT_PLUS,
	 DP_FMT_PLUS, ""},
	{"pri", DP_TRUNK_TDM, {"1", "1", "011", "", 0, 10, false},
	 DP_FMT_NATIONAL, DP_FMT_NATIONAL, ""},
	{"ukpri", DP_TRUNK_TDM, {"44", "0", "00", "20", 8, 10, false},
	 DP_FMT_NATIONAL_PREFIX, DP_FMT_NATIONAL, ""},
	{"desip", DP_TRUNK_SIP, {"49", "0", "00", "", 0, 0, false},
	 DP_FMT_PLUS, DP_FMT_PLUS, "international"},
	{"c1", DP_TRUNK_SIP, {"1", "1", "011", "", 0, 10, false}, DP_FMT_E164,
	 DP_FMT_E164, ""},
	{"c2", DP_TRUNK_SIP, {"1", "1", "011", "", 0, 10, false}, DP_FMT_PLUS,
	 DP_FMT_PLUS, ""},
	{"intl", DP_TRUNK_SIP, {"1", "1", "011", "212", 7, 10, false},
	 DP_FMT_PLUS, DP_FMT_PLUS, "international"},
};

static struct dp_route_row routes[] = {
	/* name, prio, kind, match, src, calling, days, hours, tz, trunks,
	 * lcr, failover, timers..., max_calls, cps */
	{"night", 5, "prefix", "1800", "", "", "", "22:00-06:00",
	 "EST5EDT,M3.2.0,M11.1.0", "c2", false, "", 0, 0, 0, 0, 0, ""},
	{"weekend", 6, "prefix", "1888", "", "", "sat,sun", "", "", "c2",
	 false, "", 0, 0, 0, 0, 0, ""},
	{"mobile", 7, "regex", "^1(646|917)[0-9]{7}$", "pbx", "", "", "",
	 "", "c1", false, "", 1500, 0, 0, 0, 0, ""},
	{"la", 8, "prefix", "1213", "", "", "", "", "", "pri", true, "", 0,
	 0, 0, 10, 5, ""},
	{"pat", 9, "pattern", "_1NXX555XXXX", "", "_1212XXXXXXX", "", "", "",
	 "c2,c1", false, "", 0, 0, 0, 0, 0, ""},
	{"fo", 9, "prefix", "1999", "", "", "", "", "", "c1,c2", false,
	 "sip:503=final,wrong-number=route", 0, 4000, 60000, 0, 0, ""},
	{"us", 10, "prefix", "1", "pbx,raw,desip,intl", "", "", "", "",
	 "pri,c1", false, "", 0, 0, 0, 0, 0, ""},
	{"uk", 10, "prefix", "44", "", "", "", "", "", "ukpri", false, "", 0,
	 0, 0, 0, 0, ""},
	{"de", 10, "prefix", "49", "", "", "", "", "", "desip", false, "", 0,
	 0, 0, 0, 0, ""},
	{"raw-any", 50, "any", "", "raw", "", "", "", "", "c2", false, "", 0,
	 0, 0, 0, 0, ""},
	/* ENUM first, as c1 (the route's first SIP trunk), then the
	 * trunks, c1 included. */
	{"enum", 4, "prefix", "1777", "", "", "", "", "", "pri,c1", false, "",
	 0, 0, 0, 0, 0, "e164.arpa"},
};

static struct dp_did_range dids[] = {
	{"12125550100", "12125550199", "raw", "", "", "", ""},
	{"5551000", "5551000", "pbx", "fax", "12125559999", "c1",
	 "12125550000"},
	{"12125557000", "12125557009", "pbx", "", "", "", ""},
	/* Extensions 2000-2099 of the PBX from their DIDs. */
	{"12125556000", "12125556099", "pbx", "last:2:20", "", "", ""},
	{"12125558000", "12125558999", "pbx", "last:4", "", "", ""},
};

static struct dp_rate rates[] = {
	{"1213", "c1", 20000, 0, 60, 60, 0, 0, "LA c1"},
	{"1213", "c2", 10000, 0, 6, 6, 0, T_NEW, "LA c2"},
	{"1213", "c2", 30000, 0, 6, 6, T_NEW, 0, "LA c2 new"},
	{"1213555", "pri", 5000, 100, 60, 6, 0, 0, "LA 555 on PRI"},
	{"1", "pri", 8000, 0, 60, 60, 0, 0, "US on PRI"},
	{"1213", "ghost", 1, 0, 60, 60, 0, 0, "not a trunk"},
};

static struct dp_block_row blocks[] = {
	{"called", "1900", "premium", ""},
	{"called", "1976", "premium", "pri"},
	{"calling", "1666", "", ""},
	{"called", "_1NXX666XXXX", "", ""},
};

static struct dp_rule_row ingress[] = {
	/* The PBX dials 8 + extension for the other site: 80123 ->
	 * 12125557000+ (a DID range back to the PBX, to show it is
	 * refused as a loop). */
	{"site", "regex", "^8(0[0-9]{3})$", "raw", "", "replace", "1212555$1"},
};

static struct dp_rule_row egress[] = {
	/* The PRI wants a 9 before national numbers of area 213. */
	{"pri213", "prefix", "213", "pri", "national", "prepend=9", ""},
};

/* Extensions of the PBX become its DIDs; carrier c1 wants 646 callers
 * without the country code. */
static struct dp_rule_row ingress_calling[] = {
	{"ext", "pattern", "_2XXX", "pbx", "",
	 "prepend=1212555,ton=international,npi=isdn", ""},
};

static struct dp_rule_row egress_calling[] = {
	{"nyc-mobile", "prefix", "1646", "c1", "", "strip=1", ""},
};

/* PBX extensions that forwarded a call become the site's DIDs; c2 wants
 * diverting numbers of area 212 without the country code. */
static struct dp_rule_row ingress_diversion[] = {
	{"ext", "pattern", "_2XXX", "pbx", "",
	 "prepend=1212555,ton=international,npi=isdn", ""},
};

static struct dp_rule_row egress_diversion[] = {
	{"c2-local", "regex", "^\\+?1(212[0-9]{7})$", "c2", "", "replace",
	 "$1"},
};

static int tz_resolve(const char *name, char *posix, size_t size, void *arg)
{
	(void)arg;
	if (!strcmp(name, "America/New_York")) {
		tg_strlcpy(posix, "EST5EDT,M3.2.0,M11.1.0", size);
		return 0;
	}
	return ENOENT;
}

static struct dp_snapshot *snap;

static enum dp_trunk_state states[16]; /* by index in trunks[] */

static enum dp_trunk_state state_of(const char *trunk, void *arg)
{
	(void)arg;
	for (size_t i = 0; i < TG_ARRAY_SIZE(trunks); i++)
		if (!strcmp(trunks[i].name, trunk))
			return states[i];
	return DP_TRUNK_DOWN;
}

static void fill_rows(struct dp_snapshot_rows *r)
{
	memset(r, 0, sizeof(*r));
	r->trunks = trunks;
	r->ntrunks = TG_ARRAY_SIZE(trunks);
	r->routes = routes;
	r->nroutes = TG_ARRAY_SIZE(routes);
	r->dids = dids;
	r->ndids = TG_ARRAY_SIZE(dids);
	r->rates = rates;
	r->nrates = TG_ARRAY_SIZE(rates);
	r->blocks = blocks;
	r->nblocks = TG_ARRAY_SIZE(blocks);
	r->ingress = ingress;
	r->ningress = TG_ARRAY_SIZE(ingress);
	r->egress = egress;
	r->negress = TG_ARRAY_SIZE(egress);
	r->ingress_calling = ingress_calling;
	r->ningress_calling = TG_ARRAY_SIZE(ingress_calling);
	r->egress_calling = egress_calling;
	r->negress_calling = TG_ARRAY_SIZE(egress_calling);
	r->ingress_diversion = ingress_diversion;
	r->ningress_diversion = TG_ARRAY_SIZE(ingress_diversion);
	r->egress_diversion = egress_diversion;
	r->negress_diversion = TG_ARRAY_SIZE(egress_diversion);
	r->tz_resolve = tz_resolve;
}

static int setup(void **state)
{
	struct dp_snapshot_rows r;
	char err[256];

	(void)state;
	fill_rows(&r);
	if (dp_snapshot_build(&snap, &r, err, sizeof(err))) {
		fprintf(stderr, "build: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	obj_deref(snap);
	return 0;
}

struct row {
	const char *src, *called;
	enum dp_ton ton;
	const char *calling;
	int64_t now;
	bool emergency;
	int cause;
	const char *route;
	/* "trunk:user:calling" per attempt, space-separated */
	const char *attempts;
};

static void attempts_str(const struct dp_decision *d, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < d->nattempts && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%s:%s:%s",
				      i ? " " : "", d->attempts[i].trunk,
				      d->attempts[i].user,
				      d->attempts[i].calling.digits);
}

static void run_rows(const struct row *rows, size_t n)
{
	char got[512], trace[4096];
	struct dp_decision d;

	for (size_t i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		struct dp_facts f = {
			.src_trunk = r->src,
			.called = r->called,
			.called_ton = r->ton,
			.calling = r->calling,
			.now = r->now ? r->now : MON_15Z,
			.emergency = r->emergency,
			.state = state_of,
		};

		assert_int_equal(dp_decide(snap, &f, &d, trace, sizeof(trace)),
				 0);
		attempts_str(&d, got, sizeof(got));
		if (d.cause != r->cause ||
		    strcmp(d.route, r->route ? r->route : "") ||
		    strcmp(got, r->attempts ? r->attempts : ""))
			fail_msg("row %zu (%s from %s): cause %d route '%s' "
				 "attempts '%s'; want cause %d route '%s' "
				 "attempts '%s'\ntrace:\n%s",
				 i, r->called, r->src, d.cause, d.route, got,
				 r->cause, r->route ? r->route : "",
				 r->attempts ? r->attempts : "", trace);
	}
}

/* Numbers in, routes chosen, numbers out. */
static void test_routes(void **state)
{
	static const struct row rows[] = {
		/* NANP PBX: 10 digits, 1+10, 7-digit local, +E.164, URIs */
		{"pbx", "3125550000", 0, "7185550000", 0, false, 0, "us",
		 "pri:3125550000:7185550000 c1:13125550000:17185550000"},
		{"pbx", "13125550000", 0, "", 0, false, 0, "us",
		 "pri:3125550000: c1:13125550000:"},
		{"pbx", "5551234", 0, "", 0, false, 0, "us",
		 "pri:2125551234: c1:12125551234:"},
		{"pbx", "+13125550000", 0, "", 0, false, 0, "us",
		 "pri:3125550000: c1:13125550000:"},
		{"pbx", "tel:+1-312-555-0000", 0, "", 0, false, 0, "us",
		 "pri:3125550000: c1:13125550000:"},
		{"pbx", "sip:13125550000@10.0.0.1;user=phone", 0, "", 0, false,
		 0, "us", "pri:3125550000: c1:13125550000:"},
		{"pbx", "(312) 555.0000", 0, "", 0, false, 0, "us",
		 "pri:3125550000: c1:13125550000:"},
		/* calling-number rules: an extension in, a stripped 646 out */
		/* (the rewritten caller is what routes see: 'pat' wants
		 * callers from 1212) */
		{"pbx", "3125550000", 0, "2001", 0, false, 0, "pat",
		 "c2:+13125550000:+12125552001 c1:13125550000:12125552001"},
		{"pbx", "3125550000", 0, "6465550000", 0, false, 0, "us",
		 "pri:3125550000:6465550000 c1:13125550000:6465550000"},
		{"raw", "13125550000", 0, "2001", 0, false, 0, "us",
		 "pri:13125550000:2001 c1:13125550000:2001"},
		/* bad numbers: 28 */
		{"pbx", "31255500", 0, "", 0, false, 28, "", ""},
		{"pbx", "abc", 0, "", 0, false, 28, "", ""},
		{"pbx", "0", 0, "", 0, false, 28, "", ""},
		/* regex route, from pbx only; mobile numbers */
		{"pbx", "6465550000", 0, "", 0, false, 0, "mobile",
		 "c1:16465550000:"},
		{"pbx", "9175550000", 0, "", 0, false, 0, "mobile",
		 "c1:19175550000:"},
		{"raw", "16465550000", 0, "", 0, false, 0, "us",
		 "pri:16465550000: c1:16465550000:"},
		/* pattern + calling pattern */
		{"pbx", "3125551111", 0, "7185550000", 0, false, 0, "us",
		 "pri:3125551111:7185550000 c1:13125551111:17185550000"},
		{"pbx", "4155550000", 0, "2125550000", 0, false, 0, "pat",
		 "c2:+14155550000:+12125550000 c1:14155550000:12125550000"},
		{"pbx", "4155550000", 0, "3125550000", 0, false, 0, "us",
		 "pri:4155550000:3125550000 c1:14155550000:13125550000"},
		/* LCR: cheapest first, then the route's trunk; ghost
		 * carrier skipped; the more specific PRI rate wins there */
		{"pbx", "2135551234", 0, "", 0, false, 0, "la",
		 "pri:92135551234: c2:+12135551234: c1:12135551234:"},
		{"pbx", "2134441234", 0, "", 0, false, 0, "la",
		 "pri:92134441234: c2:+12134441234: c1:12134441234:"},
		{"pbx", "2134441234", 0, "", T_NEW, false, 0, "la",
		 "pri:92134441234: c1:12134441234: c2:+12134441234:"},
		{"pbx", "2134441234", 0, "", T_NEW - 1, false, 0, "la",
		 "pri:92134441234: c2:+12134441234: c1:12134441234:"},
		/* UK and Germany: national formats with prefixes */
		{"intl", "011442079460000", 0, "", 0, false, 0, "uk",
		 "ukpri:02079460000:"},
		{"intl", "+4930123456", 0, "", 0, false, 0, "de",
		 "desip:+4930123456:"},
		/* the only trunk of the route is the source: refused */
		{"desip", "030123456", 0, "", 0, false, 3, "de", ""},
		/* 00 30...: Greece, for which there is no route */
		{"desip", "0030123456", 0, "", 0, false, 3, "", ""},
		{"desip", "0012125550000", 0, "03012345", 0, false, 0, "us",
		 "pri:2125550000:493012345 c1:12125550000:493012345"},
		{"desip", "12125550000", DP_TON_INTERNATIONAL, "", 0, false,
		 0, "us", "pri:2125550000: c1:12125550000:"},
		/* TON international: 212 is Morocco's code, no route */
		{"desip", "2125550000", DP_TON_INTERNATIONAL, "", 0, false,
		 3, "", ""},
		/* a trunk without a plan: digits as sent */
		{"raw", "4471234", 0, "", 0, false, 0, "uk",
		 "ukpri:4471234:"},
		{"raw", "999", 0, "", 0, false, 0, "raw-any", "c2:999:"},
		{"raw", "*72#", 0, "", 0, false, 0, "raw-any", "c2:*72#:"},
		/* ingress rule on raw: 8xxxx -> DID back to pbx (a loop is
		 * refused, the routes take it) */
		{"raw", "80005", 0, "", 0, false, 0, "us",
		 "pri:12125550005: c1:12125550005:"},
		/* no route: 3 from SIP, 1 from TDM */
		{"pbx", "01161212345678", 0, "", 0, false, 21, "", ""},
		{"pri", "7005551234", DP_TON_NATIONAL, "", 0, false, 1, "",
		 ""},
		{"ukpri", "02079460000", 0, "", 0, false, 1, "uk", ""},
		{"desip", "+6112345678", 0, "", 0, false, 3, "", ""},
		/* source trunk never an attempt */
		{"c1", "13125550000", 0, "", 0, false, 3, "", ""},
		{"intl", "13125550000", 0, "", 0, false, 0, "us",
		 "pri:3125550000: c1:13125550000:"},
	};

	memset(states, 0, sizeof(states));
	run_rows(rows, TG_ARRAY_SIZE(rows));
}

static void test_dids(void **state)
{
	static const struct row rows[] = {
		/* E.164 range from the PRI (national TON) */
		{"pri", "2125550100", DP_TON_NATIONAL, "3125550000", 0, false,
		 0, "did", "raw:12125550100:13125550000"},
		{"pri", "2125550199", DP_TON_NATIONAL, "", 0, false, 0, "did",
		 "raw:12125550199:"},
		{"pri", "2125550200", DP_TON_NATIONAL, "", 0, false, 1, "",
		 ""},
		/* raw lookup, fixed user, caller-ID and failover */
		{"raw", "5551000", 0, "999", 0, false, 0, "did",
		 "pbx:fax:2125559999 c1:12125550000:12125559999"},
		/* an extension derived from the DID */
		{"pri", "2125556042", DP_TON_NATIONAL, "", 0, false, 0, "did",
		 "pbx:2042:"},
		{"pri", "2125558123", DP_TON_NATIONAL, "", 0, false, 0, "did",
		 "pbx:8123:"},
		/* the DID's own trunk calling it: not a loop, routed */
		{"raw", "12125550150", 0, "", 0, false, 0, "us",
		 "pri:12125550150: c1:12125550150:"},
	};

	memset(states, 0, sizeof(states));
	run_rows(rows, TG_ARRAY_SIZE(rows));
}

static void test_blocks_and_emergency(void **state)
{
	static const struct row rows[] = {
		/* premium allowed for pbx (allow = premium), not for intl */
		{"pbx", "9005550000", 0, "", 0, false, 0, "us",
		 "pri:9005550000: c1:19005550000:"},
		{"intl", "19005550000", 0, "", 0, false, 21, "", ""},
		/* trunk-scoped row (pri only) */
		{"intl", "19765550000", 0, "", 0, false, 0, "us",
		 "pri:9765550000: c1:19765550000:"},
		{"pri", "9765550000", DP_TON_NATIONAL, "", 0, false, 21, "",
		 ""},
		/* calling blocklist, no category: always */
		{"pbx", "3125550000", 0, "16665550000", 0, false, 21, "", ""},
		/* pattern block */
		{"pbx", "3126665555", 0, "", 0, false, 21, "", ""},
		/* international blocked by default, allowed for intl */
		{"pbx", "011442079460000", 0, "", 0, false, 21, "", ""},
		{"intl", "011442079460000", 0, "", 0, false, 0, "uk",
		 "ukpri:02079460000:"},
		/* emergency: never refused, blocks and hours ignored */
		{"pbx", "911", 0, "16665550000", 0, false, 0,
		 "emergency-fallback", "pri:911:6665550000"},
		/* 112 is not a NANP number: it starts with 1 only by
		 * chance, and the 'us' prefix route takes it. */
		{"intl", "112", 0, "", 0, false, 0, "us", "pri:112: c1:112:"},
		{"intl", "933", 0, "", 0, false, 0, "emergency-fallback",
		 "pri:933:"},
		{"raw", "911", 0, "", 0, false, 0, "raw-any", "c2:911:"},
		{"pri", "911", 0, "", 0, false, 1, "", ""},
		{"pbx", "9110", 0, "", 0, false, 28, "", ""},
	};

	memset(states, 0, sizeof(states));
	run_rows(rows, TG_ARRAY_SIZE(rows));
}

/* The class, the service and what emergency does to trunk states. */
static void test_emergency_class(void **state)
{
	static const struct {
		const char *called;
		bool flag;
		enum dp_emergency_class cls;
		const char *service;
	} rows[] = {
		{"911", false, DP_EMERG_EMERGENCY, "911"},
		{"112", false, DP_EMERG_EMERGENCY, "112"},
		{"933", false, DP_EMERG_TEST, "933"},
		{"tel:911", false, DP_EMERG_EMERGENCY, "911"},
		{"urn:service:sos", false, DP_EMERG_EMERGENCY,
		 "urn:service:sos"},
		{"urn:service:sos.fire", false, DP_EMERG_EMERGENCY,
		 "urn:service:sos.fire"},
		{"3125550000", true, DP_EMERG_EMERGENCY, "signalled"},
		{"3125550000", false, DP_EMERG_NONE, ""},
		{"9911", false, DP_EMERG_NONE, ""},
	};
	struct dp_decision d;

	memset(states, 0, sizeof(states));
	states[2] = DP_TRUNK_FULL; /* pri */
	states[5] = DP_TRUNK_DOWN; /* c1 */
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct dp_facts f = {
			.src_trunk = "pbx", .called = rows[i].called,
			.now = MON_15Z, .emergency = rows[i].flag,
			.state = state_of,
		};

		assert_int_equal(dp_decide(snap, &f, &d, NULL, 0), 0);
		assert_int_equal(d.emergency, rows[i].cls);
		assert_string_equal(d.service, rows[i].service);
		if (rows[i].cls == DP_EMERG_NONE)
			continue;
		/* A full trunk is tried for an emergency; a down one not. */
		assert_int_equal(d.cause, 0);
		assert_true(d.nattempts >= 1);
		assert_string_equal(d.attempts[0].trunk, "pri");
		assert_int_equal(d.attempts[0].state, DP_TRUNK_AVAILABLE);
		if (d.nattempts > 1)
			assert_int_equal(d.attempts[1].state, DP_TRUNK_DOWN);
	}
	/* Not an emergency: the full trunk shows as full. */
	{
		struct dp_facts f = {.src_trunk = "pbx",
				     .called = "3125550000",
				     .now = MON_15Z, .state = state_of};

		assert_int_equal(dp_decide(snap, &f, &d, NULL, 0), 0);
		assert_int_equal(d.attempts[0].state, DP_TRUNK_FULL);
	}
	memset(states, 0, sizeof(states));
}

/* Hours in New York time and weekdays, at every hour of a week, in
 * winter and summer time: 24 * 7 * 2 rows of expectations. */
static void test_time_rules(void **state)
{
	/* 2026-11-23 Monday 05:00 UTC = 00:00 EST; 2026-07-06 Monday
	 * 04:00 UTC = 00:00 EDT. */
	static const int64_t mondays[] = {INT64_C(1795410000),
					  INT64_C(1783310400)};
	struct dp_decision d;

	for (size_t m = 0; m < 2; m++) {
		for (int h = 0; h < 24 * 7; h++) {
			int64_t t = mondays[m] + (int64_t)h * HOUR;
			int local_h = h % 24, wday = (1 + h / 24) % 7;
			bool night = local_h >= 22 || local_h < 6;
			/* weekend by UTC: the route has no zone */
			int utc_wday = (int)(((t / DAY) % 7 + 11) % 7);
			bool weekend = utc_wday == 0 || utc_wday == 6;
			struct dp_facts f = {.src_trunk = "pbx",
					     .called = "8005550000", .now = t};
			struct dp_facts g = {.src_trunk = "pbx",
					     .called = "8885550000", .now = t};

			(void)wday;
			assert_int_equal(dp_decide(snap, &f, &d, NULL, 0), 0);
			if (strcmp(d.route, night ? "night" : "us"))
				fail_msg("1800 at +%dh (%s): route %s", h,
					 m ? "summer" : "winter", d.route);
			assert_int_equal(dp_decide(snap, &g, &d, NULL, 0), 0);
			if (strcmp(d.route, weekend ? "weekend" : "us"))
				fail_msg("1888 at +%dh: route %s", h, d.route);
			/* Emergency calls ignore days and hours. */
			f.emergency = true;
			assert_int_equal(dp_decide(snap, &f, &d, NULL, 0), 0);
			assert_string_equal(d.route, "night");
		}
	}
}

static void test_timers_failover_limits(void **state)
{
	struct dp_decision d;
	struct dp_facts f = {.src_trunk = "pbx", .called = "9995550000",
			     .now = MON_15Z};
	struct dp_attempt_result r503 = {503, 0}, r404 = {404, 0},
				 r486 = {486, 0}, rnone = {0, 0};

	assert_int_equal(dp_decide(snap, &f, &d, NULL, 0), 0);
	assert_string_equal(d.route, "fo");
	assert_int_equal(d.t_trying_ms, 3000); /* the default */
	assert_int_equal(d.t_progress_ms, 4000);
	assert_int_equal(d.t_answer_ms, 60000);
	assert_non_null(d.failover);
	/* Overrides: 503 final, 404 (wrong number) fails over. */
	assert_int_equal(dp_failover_result(d.failover, &r503), DP_FAIL_FINAL);
	assert_int_equal(dp_failover_result(d.failover, &r404), DP_FAIL_ROUTE);
	assert_int_equal(dp_failover_result(d.failover, &r486), DP_FAIL_FINAL);
	assert_int_equal(dp_failover_result(d.failover, &rnone),
			 DP_FAIL_ROUTE);

	f.called = "6465550000";
	assert_int_equal(dp_decide(snap, &f, &d, NULL, 0), 0);
	assert_string_equal(d.route, "mobile");
	assert_int_equal(d.t_trying_ms, 1500);
	assert_null(d.failover);
	assert_int_equal(dp_failover_result(d.failover, &r503), DP_FAIL_ROUTE);

	f.called = "2135550000";
	assert_int_equal(dp_decide(snap, &f, &d, NULL, 0), 0);
	assert_int_equal(d.route_max_calls, 10);
	assert_int_equal(d.route_cps, 5);
	/* Rates ride along for the CDR. */
	assert_true(d.attempts[0].has_rate);
	assert_string_equal(d.attempts[0].rate.prefix, "1213555");
	assert_int_equal(d.attempts[0].rate.rate, 5000);
	assert_int_equal(d.attempts[0].source, DP_SRC_LCR);
	assert_int_equal(d.attempts[2].source, DP_SRC_LCR);
}

static void test_trace(void **state)
{
	char trace[4096], tiny[40];
	struct dp_decision d;
	struct dp_facts f = {.src_trunk = "pbx", .called = "8005550000",
			     .now = MON_15Z};

	assert_int_equal(dp_decide(snap, &f, &d, trace, sizeof(trace)), 0);
	assert_non_null(strstr(trace, "route 'night' skipped: hours "
				      "22:00-06:00"));
	assert_non_null(strstr(trace, "local time is mon 10:00"));
	assert_non_null(strstr(trace, "route 'us' (priority 10) matched"));
	f.called = "2134441234";
	assert_int_equal(dp_decide(snap, &f, &d, trace, sizeof(trace)), 0);
	assert_non_null(strstr(trace, "lcr: 4 carrier(s)"));
	assert_non_null(strstr(trace, "carrier ghost is not a trunk"));
	assert_int_equal(dp_decide(snap, &f, &d, tiny, sizeof(tiny)), 0);
	assert_true(strlen(tiny) < sizeof(tiny));
	/* Bad facts. */
	f.src_trunk = "nope";
	assert_int_equal(dp_decide(snap, &f, &d, NULL, 0), EINVAL);
	f.src_trunk = "pbx";
	f.called = "";
	assert_int_equal(dp_decide(snap, &f, &d, NULL, 0), EINVAL);
}

/* Diverting numbers: normalised with the source plan, ingress rules, then
 * formatted per trunk like calling numbers, egress rules. */
static void test_diversion(void **state)
{
	static const struct {
		const char *src, *called, *div;
		enum dp_ton ton;
		const char *internal;
		/* "trunk:diversion" per attempt */
		const char *want;
	} rows[] = {
		/* An extension of the PBX forwarded it: its DID. */
		{"pbx", "3125550000", "2001", DP_TON_UNKNOWN, "12125552001",
		 "pri:2125552001 c1:12125552001"},
		/* A full national number from the PBX. */
		{"pbx", "3125550000", "7185550000", DP_TON_UNKNOWN,
		 "17185550000", "pri:7185550000 c1:17185550000"},
		/* From the PRI: TON national, plan of the PRI; raw has no
		 * plan, so no "+" either. */
		{"pri", "2125550150", "3125551234", DP_TON_NATIONAL,
		 "13125551234", "raw:13125551234"},
		/* c2's egress rule drops "+1" for area 212 only; the raw
		 * trunk has no plan: its digits are kept as they came (no
		 * "+": not known to be E.164). */
		{"raw", "33123456", "12125552001", DP_TON_UNKNOWN,
		 "12125552001", "c2:2125552001"},
		{"raw", "33123456", "13125552001", DP_TON_UNKNOWN,
		 "13125552001", "c2:13125552001"},
		/* From the PBX: E.164, so c2 gets "+", then its rule. */
		{"pbx", "7775550000", "2001", DP_TON_UNKNOWN, "12125552001",
		 "c1:12125552001 pri:2125552001 c1:12125552001"},
		/* None: nothing to send. */
		{"pbx", "3125550000", "", DP_TON_UNKNOWN, "", "pri: c1:"},
	};
	char got[256], trace[4096];
	struct dp_decision d;

	(void)state;
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct dp_facts f = {
			.src_trunk = rows[i].src,
			.called = rows[i].called,
			.diversion = rows[i].div,
			.diversion_ton = rows[i].ton,
			.now = MON_15Z,
			.state = state_of,
		};
		size_t n = 0;

		assert_int_equal(dp_decide(snap, &f, &d, trace, sizeof(trace)),
				 0);
		got[0] = '\0';
		for (size_t k = 0; k < d.nattempts; k++)
			n += (size_t)snprintf(got + n, sizeof(got) - n,
					      "%s%s:%s", k ? " " : "",
					      d.attempts[k].trunk,
					      d.attempts[k].diversion.digits);
		if (strcmp(d.diversion.digits, rows[i].internal) ||
		    strcmp(got, rows[i].want))
			fail_msg("row %zu: diversion '%s' attempts '%s'; want "
				 "'%s' '%s'\ntrace:\n%s", i,
				 d.diversion.digits, got, rows[i].internal,
				 rows[i].want, trace);
	}
}

/* E911: the ELIN replaces the caller's number, per trunk; a PSAP callback
 * goes straight to the caller, past blocklists and routes. */
static void test_e911_hooks(void **state)
{
	struct dp_decision d;
	char trace[4096];
	struct dp_facts f = {.src_trunk = "pbx", .called = "911",
			     .calling = "2125552001", .now = MON_15Z,
			     .state = state_of};

	(void)state;
	memset(states, 0, sizeof(states));
	assert_int_equal(dp_decide(snap, &f, &d, NULL, 0), 0);
	assert_int_equal(d.emergency, DP_EMERG_EMERGENCY);
	assert_true(d.nattempts >= 1);
	dp_decision_set_calling(snap, &d, "12125550911");
	assert_string_equal(d.calling.digits, "12125550911");
	for (size_t i = 0; i < d.nattempts; i++) {
		const char *want = !strcmp(d.attempts[i].trunk, "pri")
					   ? "2125550911"
					   : "12125550911";

		assert_string_equal(d.attempts[i].calling.digits, want);
		assert_int_equal(d.attempts[i].calling.pres, DP_PRES_ALLOWED);
	}
	/* A SIP carrier's format too (c1: E.164 without '+'). */
	f.called = "7775550000";
	assert_int_equal(dp_decide(snap, &f, &d, NULL, 0), 0);
	assert_int_equal(d.nattempts, 3);
	dp_decision_set_calling(snap, &d, "12125550911");
	assert_string_equal(d.attempts[0].calling.digits, "12125550911");
	assert_string_equal(d.attempts[1].calling.digits, "2125550911");
	assert_int_equal(d.attempts[1].calling.ton, DP_TON_NATIONAL);
	/* The callback: from the PRI to an ELIN, to the PBX's 2001, even
	 * with the trunk full and a blocklist entry for its number. */
	f = (struct dp_facts){.src_trunk = "pri", .called = "2125550911",
			      .called_ton = DP_TON_NATIONAL,
			      .calling = "9005550100", .now = MON_15Z,
			      .state = state_of, .to_trunk = "pbx",
			      .to_user = "2001"};
	states[0] = DP_TRUNK_FULL;
	assert_int_equal(dp_decide(snap, &f, &d, trace, sizeof(trace)), 0);
	assert_int_equal(d.cause, 0);
	assert_true(d.callback);
	assert_string_equal(d.route, "e911-callback");
	assert_int_equal(d.nattempts, 1);
	assert_string_equal(d.attempts[0].trunk, "pbx");
	assert_string_equal(d.attempts[0].user, "2001");
	assert_int_equal(d.attempts[0].source, DP_SRC_CALLBACK);
	assert_int_equal(d.attempts[0].state, DP_TRUNK_AVAILABLE);
	assert_non_null(strstr(trace, "PSAP callback to 12125550911"));
	/* To the trunk it came from, or to none: refused. */
	f.to_trunk = "pri";
	assert_int_equal(dp_decide(snap, &f, &d, NULL, 0), 0);
	assert_int_equal(d.cause, 3);
	f.to_trunk = "ghost";
	assert_int_equal(dp_decide(snap, &f, &d, NULL, 0), 0);
	assert_int_equal(d.cause, 3);
	memset(states, 0, sizeof(states));
}

/* ENUM: an attempt of its own before the trunks; never for 911. */
static void test_enum_route(void **state)
{
	static const struct row rows[] = {
		{"pbx", "7775550000", 0, "2125551111", 0, false, 0, "enum",
		 "c1:17775550000:12125551111 pri:7775550000:2125551111 "
		 "c1:17775550000:12125551111"},
		/* An emergency call takes the route without ENUM. */
		{"pbx", "7775550000", 0, "", 0, true, 0, "enum",
		 "pri:7775550000: c1:17775550000:"},
		/* From c1 itself: the ENUM attempt goes out as c1 too, so
		 * it is dropped with the source trunk. */
		{"c1", "17775550000", 0, "", 0, false, 0, "enum",
		 "pri:7775550000:"},
	};
	char trace[4096];
	struct dp_decision d;
	struct dp_facts f = {.src_trunk = "pbx", .called = "7775550000",
			     .now = MON_15Z, .state = state_of};

	(void)state;
	run_rows(rows, TG_ARRAY_SIZE(rows));
	assert_int_equal(dp_decide(snap, &f, &d, trace, sizeof(trace)), 0);
	assert_int_equal(d.attempts[0].source, DP_SRC_ENUM);
	assert_int_equal(d.attempts[2].source, DP_SRC_ROUTE);
	assert_string_equal(d.enum_name, "0.0.0.0.5.5.5.7.7.7.1.e164.arpa");
	assert_non_null(strstr(trace, "enum: NAPTR 0.0.0.0.5.5.5.7.7.7.1."
				      "e164.arpa, as trunk c1"));
	f.emergency = true;
	assert_int_equal(dp_decide(snap, &f, &d, trace, sizeof(trace)), 0);
	assert_non_null(strstr(trace, "enum: not for an emergency call"));
}

/* Refused snapshots name the table and the row. */
static void test_validation(void **state)
{
	static const struct {
		int field;
		const char *value;
		const char *want;
	} rows[] = {
		{0, "nosuch", "route 'night': unknown trunk 'nosuch'"},
		{1, "pbx,ghost", "route 'night': source trunk 'ghost'"},
		{2, "wordy", "route 'night': kind 'wordy'"},
		{3, "_1N[X", "route 'night': pattern"},
		{4, "(", "route 'night': regex '(' at offset"},
		{5, "mon-xyz", "route 'night': days 'mon-xyz'"},
		{6, "25:00-06:00", "route 'night': hours '25:00-06:00'"},
		{7, "Mars/Olympus", "route 'night': time zone 'Mars/Olympus'"},
		{8, "bogus=1", "route 'night': failover"},
		{9, "", "route 'night': no trunks and no lcr"},
		{10, "12ab", "route 'night': prefix '12ab' is not digits"},
		{11, "EST5EDT,M13.1.0,M11.1.0", "not a POSIX TZ rule"},
		{12, "America/New_York", NULL},
		{13, "e164..arpa", "route 'night': enum domain 'e164..arpa' "
				   "is not a domain name"},
		{14, "pri", "route 'night': enum needs a SIP trunk"},
		{15, "e164.arpa", NULL},
	};
	struct dp_snapshot_rows r;
	struct dp_snapshot *s = NULL;
	long live = obj_live_count();

	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct dp_route_row copy[TG_ARRAY_SIZE(routes)];
		char err[256] = "";
		int rc;

		memcpy(copy, routes, sizeof(routes));
		switch (rows[i].field) {
		case 0: strcpy(copy[0].trunks, rows[i].value); break;
		case 1: strcpy(copy[0].src_trunks, rows[i].value); break;
		case 2: strcpy(copy[0].kind, rows[i].value); break;
		case 3: strcpy(copy[0].kind, "pattern");
			strcpy(copy[0].match, rows[i].value); break;
		case 4: strcpy(copy[0].kind, "regex");
			strcpy(copy[0].match, rows[i].value); break;
		case 5: strcpy(copy[0].days, rows[i].value); break;
		case 6: strcpy(copy[0].hours, rows[i].value); break;
		case 7: strcpy(copy[0].tz, rows[i].value); break;
		case 8: strcpy(copy[0].failover, rows[i].value); break;
		case 9: strcpy(copy[0].trunks, rows[i].value); break;
		case 10: strcpy(copy[0].match, rows[i].value); break;
		case 11: strcpy(copy[0].tz, rows[i].value); break;
		case 12: strcpy(copy[0].tz, rows[i].value); break;
		case 13: strcpy(copy[0].enum_domain, rows[i].value); break;
		case 14: strcpy(copy[0].trunks, rows[i].value);
			strcpy(copy[0].enum_domain, "e164.arpa"); break;
		case 15: strcpy(copy[0].trunks, "pri,c2");
			strcpy(copy[0].enum_domain, rows[i].value); break;
		}
		fill_rows(&r);
		r.routes = copy;
		rc = dp_snapshot_build(&s, &r, err, sizeof(err));
		if (!rows[i].want) {
			assert_int_equal(rc, 0);
			s = obj_deref(s);
			continue;
		}
		if (rc != EINVAL || !strstr(err, rows[i].want))
			fail_msg("row %zu: rc %d '%s', want '%s'", i, rc, err,
				 rows[i].want);
		assert_null(s);
	}
	/* Other tables. */
	{
		struct dp_route_row two[2] = {routes[0], routes[0]};
		struct dp_trunk_row tdup[2] = {trunks[0], trunks[0]};
		struct dp_did_range dbad[1] = {dids[1]};
		struct dp_did_range dder[1] = {dids[1]};
		struct dp_did_range dover[2] = {dids[0], dids[0]};
		struct dp_block_row bbad[1] = {{"called", "12x", "", ""}};
		struct dp_block_row bkind[1] = {{"dialled", "12", "", ""}};
		struct dp_rate rbad[1] = {rates[0]};
		struct dp_rule_row ibad[1] = {ingress[0]};
		char err[256];

		fill_rows(&r);
		r.routes = two;
		r.nroutes = 2;
		assert_int_equal(dp_snapshot_build(&s, &r, err, sizeof(err)),
				 EINVAL);
		assert_non_null(strstr(err, "routes: 'night' twice"));
		fill_rows(&r);
		r.trunks = tdup;
		r.ntrunks = 2;
		r.nroutes = r.ndids = r.nblocks = r.ningress = r.negress = 0;
		r.nrates = 0;
		assert_int_equal(dp_snapshot_build(&s, &r, err, sizeof(err)),
				 EINVAL);
		assert_non_null(strstr(err, "trunks: 'pbx' twice"));
		fill_rows(&r);
		strcpy(dbad[0].failover_trunk, "ghost");
		r.dids = dbad;
		r.ndids = 1;
		assert_int_equal(dp_snapshot_build(&s, &r, err, sizeof(err)),
				 EINVAL);
		assert_non_null(strstr(err, "dids 5551000-5551000: failover "
					    "trunk 'ghost'"));
		fill_rows(&r);
		strcpy(dder[0].user, "last:16");
		r.dids = dder;
		r.ndids = 1;
		assert_int_equal(dp_snapshot_build(&s, &r, err, sizeof(err)),
				 EINVAL);
		assert_non_null(strstr(err, "user 'last:16' is not "
					    "last:N[:PREFIX]"));
		strcpy(dder[0].user, "last:3:9x");
		assert_int_equal(dp_snapshot_build(&s, &r, err, sizeof(err)),
				 EINVAL);
		fill_rows(&r);
		r.dids = dover;
		r.ndids = 2;
		assert_int_equal(dp_snapshot_build(&s, &r, err, sizeof(err)),
				 EINVAL);
		assert_non_null(strstr(err, "dids:"));
		fill_rows(&r);
		r.blocks = bbad;
		r.nblocks = 1;
		assert_int_equal(dp_snapshot_build(&s, &r, err, sizeof(err)),
				 EINVAL);
		assert_non_null(strstr(err, "blocklist row 1"));
		r.blocks = bkind;
		assert_int_equal(dp_snapshot_build(&s, &r, err, sizeof(err)),
				 EINVAL);
		assert_non_null(strstr(err, "kind 'dialled'"));
		fill_rows(&r);
		rbad[0].first_incr = 0;
		r.rates = rbad;
		r.nrates = 1;
		assert_int_equal(dp_snapshot_build(&s, &r, err, sizeof(err)),
				 EINVAL);
		assert_non_null(strstr(err, "rates:"));
		fill_rows(&r);
		strcpy(ibad[0].trunk, "ghost");
		r.ingress = ibad;
		assert_int_equal(dp_snapshot_build(&s, &r, err, sizeof(err)),
				 EINVAL);
		assert_non_null(strstr(err, "ingress number rule 1 (site): "
					    "unknown trunk 'ghost'"));
		fill_rows(&r);
		r.tz_resolve = NULL;
		{
			struct dp_route_row one[1] = {routes[0]};

			strcpy(one[0].tz, "America/New_York");
			r.routes = one;
			r.nroutes = 1;
			assert_int_equal(dp_snapshot_build(&s, &r, err,
							   sizeof(err)),
					 EINVAL);
			assert_non_null(strstr(err, "unknown (write a POSIX"));
		}
	}
	assert_int_equal(obj_live_count(), live);
}

/* POSIX TZ rules at the instants where the clocks change. */
static void test_tz(void **state)
{
	static const struct {
		const char *tz;
		int64_t t;
		int wday, minute;
	} rows[] = {
		/* New York 2026: DST from Mar 8 07:00 UTC to Nov 1 06:00 */
		{"EST5EDT,M3.2.0,M11.1.0", INT64_C(1772953199), 0, 1 * 60 + 59},
		{"EST5EDT,M3.2.0,M11.1.0", INT64_C(1772953200), 0, 3 * 60},
		{"EST5EDT,M3.2.0,M11.1.0", INT64_C(1793512799), 0, 1 * 60 + 59},
		{"EST5EDT,M3.2.0,M11.1.0", INT64_C(1793512800), 0, 1 * 60},
		/* Berlin 2026: Mar 29 01:00 UTC, Oct 25 01:00 UTC */
		{"CET-1CEST,M3.5.0,M10.5.0/3", INT64_C(1774745999), 0,
		 1 * 60 + 59},
		{"CET-1CEST,M3.5.0,M10.5.0/3", INT64_C(1774746000), 0, 3 * 60},
		{"CET-1CEST,M3.5.0,M10.5.0/3", INT64_C(1792889999), 0,
		 2 * 60 + 59},
		{"CET-1CEST,M3.5.0,M10.5.0/3", INT64_C(1792890000), 0, 2 * 60},
		/* Sydney: summer in January, standard in July */
		{"AEST-10AEDT,M10.1.0,M4.1.0/3", INT64_C(1767225600), 4,
		 11 * 60},
		{"AEST-10AEDT,M10.1.0,M4.1.0/3", INT64_C(1782864000), 3,
		 10 * 60},
		/* fixed offsets, quoted names, Julian rules */
		{"UTC0", INT64_C(0), 4, 0},
		{"<+03>-3", INT64_C(0), 4, 3 * 60},
		{"<-0330>3:30", INT64_C(0), 3, 20 * 60 + 30},
		/* J60 = Mar 1 2026 (a Sunday), 00:00 local = 05:00 UTC */
		{"XXX5YYY,J60/0,J300/0", INT64_C(1772323200), 6, 19 * 60},
		{"XXX5YYY,J60/0,J300/0", INT64_C(1772341200), 0, 1 * 60},
		{"XXX5YYY,59/0,299/0", INT64_C(1772341199), 6, 23 * 60 + 59},
		{"XXX5YYY,59/0,299/0", INT64_C(1772341200), 0, 1 * 60},
	};
	static const char *const bad[] = {
		"", "E", "EST", "EST5EDT,M3.2", "EST5EDT,M3.2.7,M11.1.0",
		"EST5EDT,M0.2.0,M11.1.0", "EST5EDT,J0,J10", "<EST5", "EST5x",
		":America/New_York", "EST200",
	};

	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct dp_tz *tz = NULL;
		int wday, minute;

		if (dp_tz_parse(&tz, rows[i].tz))
			fail_msg("row %zu: '%s' refused", i, rows[i].tz);
		dp_tz_local(tz, rows[i].t, &wday, &minute);
		if (wday != rows[i].wday || minute != rows[i].minute)
			fail_msg("row %zu: %s at %lld: day %d %02d:%02d, want "
				 "day %d %02d:%02d", i, rows[i].tz,
				 (long long)rows[i].t, wday, minute / 60,
				 minute % 60, rows[i].wday,
				 rows[i].minute / 60, rows[i].minute % 60);
		dp_tz_free(tz);
	}
	for (size_t i = 0; i < TG_ARRAY_SIZE(bad); i++) {
		struct dp_tz *tz = NULL;

		if (dp_tz_parse(&tz, bad[i]) != EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_null(tz);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routes),
		cmocka_unit_test(test_dids),
		cmocka_unit_test(test_blocks_and_emergency),
		cmocka_unit_test(test_emergency_class),
		cmocka_unit_test(test_time_rules),
		cmocka_unit_test(test_timers_failover_limits),
		cmocka_unit_test(test_trace),
		cmocka_unit_test(test_enum_route),
		cmocka_unit_test(test_e911_hooks),
		cmocka_unit_test(test_diversion),
		cmocka_unit_test(test_validation),
		cmocka_unit_test(test_tz),
	};

	gw_log_level = GW_LOG_ERROR;
	return cmocka_run_group_tests(tests, setup, teardown);
}
