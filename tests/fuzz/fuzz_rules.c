/* tests/fuzz/fuzz_rules.c  libFuzzer target: rules, patterns, numbers
 *
 * Input: newline-separated fields
 *   kind, match, actions, replace, trunk, ton, number, failover items
 * (items comma-separated).  Missing fields are empty.  The target
 * builds a rule set of that row twice (so "continue" chains run),
 * applies it, matches the number as a pattern, normalises and formats
 * it under two plans, builds the failover items and classifies with
 * them, aborting when an invariant breaks.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "dialplan/dialplan.h"
#include "dialplan/rules.h"

#define NFIELDS 8

static const struct dp_country_plan plans[] = {
	{"1", "1", "011", "212", 7, 10, false},
	{"49", "0", "00", "30", 0, 0, false},
};

static void split(char *buf, char **f)
{
	for (int i = 0; i < NFIELDS; i++) {
		char *nl = buf ? strchr(buf, '\n') : NULL;

		f[i] = buf ? buf : (char *)"";
		if (nl)
			*nl = '\0';
		buf = nl ? nl + 1 : NULL;
	}
}

static void check_numbers(const char *in)
{
	for (size_t p = 0; p < TG_ARRAY_SIZE(plans); p++) {
		struct dp_number n, f, back;
		char plus[DP_NUMBER_MAX + 2];

		if (dp_number_normalize(&n, in, DP_TON_UNKNOWN, &plans[p]))
			continue;
		if (!dp_is_digits(n.digits) || strlen(n.digits) > DP_E164_MAX)
			abort();
		/* The '+' form always reads back as itself. */
		if (dp_number_format(&f, &n, DP_FMT_PLUS, &plans[p]))
			abort();
		memcpy(plus, f.digits, sizeof(f.digits));
		if (dp_number_normalize(&back, plus, DP_TON_UNKNOWN,
					&plans[p]) ||
		    strcmp(back.digits, n.digits))
			abort();
		for (int fmt = DP_FMT_PLUS; fmt <= DP_FMT_LOCAL; fmt++)
			if (dp_number_format(&f, &n, fmt, &plans[p]))
				abort();
	}
}

static void check_failover(char *items_s)
{
	const char *items[16];
	struct dp_failover *fo = NULL;
	size_t n = 0;
	char err[128];

	for (char *s = items_s; s && n < TG_ARRAY_SIZE(items);) {
		char *c = strchr(s, ',');

		items[n++] = s;
		if (c)
			*c = '\0';
		s = c ? c + 1 : NULL;
	}
	if (dp_failover_build(&fo, items, n, err, sizeof(err)))
		return;
	for (int code = -1; code <= 700; code += 37) {
		struct dp_attempt_result r[2] = {{code, code & 127}, {code, 0}};
		enum dp_failure_class k = dp_failover_result(fo, &r[0]);

		if (k != DP_FAIL_ROUTE && k != DP_FAIL_FINAL)
			abort();
		if (dp_failure_pick(r, 2) >= 2)
			abort();
	}
	obj_deref(fo);
}

/* The fields as a time zone, and as a route of a one-route snapshot
 * asked for a decision. */
static void check_route(char **f)
{
	struct dp_trunk_row trunks[2] = {
		{"a", DP_TRUNK_SIP, {"1", "1", "011", "212", 7, 10, false},
		 DP_FMT_PLUS, DP_FMT_NATIONAL, ""},
		{"b", DP_TRUNK_TDM, {"49", "0", "00", "30", 0, 0, false},
		 DP_FMT_NATIONAL_PREFIX, DP_FMT_LOCAL, "international"},
	};
	struct dp_route_row route;
	struct dp_snapshot_rows rows;
	struct dp_snapshot *s = NULL;
	struct dp_decision d;
	struct dp_tz *tz = NULL;
	char err[256], trace[1024];

	if (!dp_tz_parse(&tz, f[1])) {
		for (int64_t t = -86400; t < INT64_C(4102444800);
		     t += INT64_C(86400) * 97 + 3607) {
			int wday, minute;

			dp_tz_local(tz, t, &wday, &minute);
			if (wday < 0 || wday > 6 || minute < 0 ||
			    minute >= 1440)
				abort();
		}
		dp_tz_free(tz);
	}
	memset(&route, 0, sizeof(route));
	tg_strlcpy(route.name, "r", sizeof(route.name));
	tg_strlcpy(route.kind, f[0], sizeof(route.kind));
	tg_strlcpy(route.match, f[1], sizeof(route.match));
	tg_strlcpy(route.days, f[2], sizeof(route.days));
	tg_strlcpy(route.hours, f[3], sizeof(route.hours));
	tg_strlcpy(route.calling, f[4], sizeof(route.calling));
	tg_strlcpy(route.tz, f[5], sizeof(route.tz));
	tg_strlcpy(route.trunks, "a,b", sizeof(route.trunks));
	tg_strlcpy(route.failover, f[7], sizeof(route.failover));
	memset(&rows, 0, sizeof(rows));
	rows.trunks = trunks;
	rows.ntrunks = 2;
	rows.routes = &route;
	rows.nroutes = 1;
	if (dp_snapshot_build(&s, &rows, err, sizeof(err))) {
		if (!*err)
			abort();
		return;
	}
	for (int src = 0; src < 2; src++) {
		struct dp_facts facts = {
			.src_trunk = trunks[src].name, .called = f[6],
			.calling = f[4], .now = 1795446000 + src * 40000,
		};

		if (!*f[6])
			break;
		if (dp_decide(s, &facts, &d, trace, sizeof(trace)))
			abort();
		if (d.nattempts > DP_MAX_ATTEMPTS ||
		    strlen(trace) >= sizeof(trace) ||
		    (d.cause && d.nattempts))
			abort();
	}
	obj_deref(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dp_rule_row rows[2];
	struct dp_rules *rs = NULL;
	struct dp_number num = {0};
	char *buf, *f[NFIELDS], err[256], trace[512];
	enum dp_ton ton = DP_TON_UNKNOWN;

	if (size > 4096)
		return 0;
	buf = malloc(size + 1);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	split(buf, f);

	memset(rows, 0, sizeof(rows));
	tg_strlcpy(rows[0].kind, f[0], sizeof(rows[0].kind));
	tg_strlcpy(rows[0].match, f[1], sizeof(rows[0].match));
	tg_strlcpy(rows[0].actions, f[2], sizeof(rows[0].actions));
	tg_strlcpy(rows[0].replace, f[3], sizeof(rows[0].replace));
	tg_strlcpy(rows[0].trunk, f[4], sizeof(rows[0].trunk));
	tg_strlcpy(rows[0].ton, f[5], sizeof(rows[0].ton));
	rows[1] = rows[0];
	tg_strlcpy(rows[1].name, "again", sizeof(rows[1].name));
	if (!dp_rules_build(&rs, rows, 2, err, sizeof(err))) {
		tg_strlcpy(num.digits, f[6], sizeof(num.digits));
		if (*f[5])
			dp_ton_parse(&ton, f[5]);
		num.ton = ton;
		dp_rules_apply(rs, f[4], &num, trace, sizeof(trace));
		if (strlen(num.digits) > DP_NUMBER_MAX ||
		    strlen(trace) >= sizeof(trace))
			abort();
		dp_rules_apply(rs, NULL, &num, NULL, 0);
		obj_deref(rs);
	} else if (!*err) {
		abort(); /* a refusal always says why */
	}
	dp_pattern_match(f[1], f[6]);
	check_route(f);
	check_numbers(f[6]);
	check_numbers(f[1]);
	dp_emergency_match(NULL, f[6], NULL);
	check_failover(f[7]);
	free(buf);
	return 0;
}
