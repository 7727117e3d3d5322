/* tests/unit/test_rules.c  Numbers, manipulation rules, failover, emergency */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"
#include "dialplan/dialplan.h"
#include "dialplan/rules.h"

/* ---- country plans ----------------------------------------------------- */

static const struct dp_country_plan nanp = {"1", "1", "011", "212",
					    7,	 10,  false};
static const struct dp_country_plan uk = {"44", "0", "00", "20", 8, 0, false};
static const struct dp_country_plan de = {"49", "0", "00", "30", 0, 0, false};
static const struct dp_country_plan fr = {"33", "0", "00", "", 0, 9, false};
static const struct dp_country_plan bare = {"1", "", "", "", 0, 0, true};

static long live_at_start;

static int setup(void **state)
{
	live_at_start = obj_live_count();
	return 0;
}

/* Every test ends with as many objs alive as it started with. */
static int teardown(void **state)
{
	return obj_live_count() == live_at_start ? 0 : -1;
}

struct norm_case {
	const struct dp_country_plan *cp;
	const char *in;
	enum dp_ton ton;
	int err;
	const char *out;
};

#define UNK  DP_TON_UNKNOWN
#define INTL DP_TON_INTERNATIONAL
#define NAT  DP_TON_NATIONAL
#define SUB  DP_TON_SUBSCRIBER
#define ABBR DP_TON_ABBREVIATED
#define NET  DP_TON_NETWORK

static const struct norm_case norm_cases[] = {
	/* NANP: 1 + 10, 10-digit, 7-digit local in 212, 011 international */
	{&nanp, "2125550100", UNK, 0, "12125550100"},
	{&nanp, "12125550100", UNK, 0, "12125550100"},
	{&nanp, "5550100", UNK, 0, "12125550100"},
	{&nanp, "3125550100", UNK, 0, "13125550100"},
	{&nanp, "13125550100", UNK, 0, "13125550100"},
	{&nanp, "011442079460000", UNK, 0, "442079460000"},
	{&nanp, "01133142685300", UNK, 0, "33142685300"},
	{&nanp, "+12125550100", UNK, 0, "12125550100"},
	{&nanp, "+1 (212) 555-0100", UNK, 0, "12125550100"},
	{&nanp, "212.555.0100", UNK, 0, "12125550100"},
	{&nanp, "(212) 555-0100", UNK, 0, "12125550100"},
	{&nanp, "tel:+1-212-555-0100", UNK, 0, "12125550100"},
	{&nanp, "tel:+1-212-555-0100;ext=22", UNK, 0, "12125550100"},
	{&nanp, "TEL:555-0100", UNK, 0, "12125550100"},
	{&nanp, "sip:+12125550100@gw.example;user=phone", UNK, 0,
	 "12125550100"},
	{&nanp, "sip:2125550100@10.0.0.1", UNK, 0, "12125550100"},
	{&nanp, "sips:5550100;phone-context=x@gw.example", UNK, 0,
	 "12125550100"},
	{&nanp, "sip:+442079460000@gw", UNK, 0, "442079460000"},
	{&nanp, "2125550100", NAT, 0, "12125550100"},
	{&nanp, "5550100", SUB, 0, "12125550100"},
	{&nanp, "12125550100", INTL, 0, "12125550100"},
	{&nanp, "442079460000", INTL, 0, "442079460000"},
	{&nanp, "+442079460000", NAT, 0, "442079460000"},
	{&nanp, "555010", UNK, EINVAL, NULL},
	{&nanp, "212555010", UNK, EINVAL, NULL},
	{&nanp, "112125550100", UNK, EINVAL, NULL},
	{&nanp, "1212555010", UNK, EINVAL, NULL},
	{&nanp, "", UNK, EINVAL, NULL},
	{&nanp, "tel:", UNK, EINVAL, NULL},
	{&nanp, "---", UNK, EINVAL, NULL},
	{&nanp, "abc", UNK, EINVAL, NULL},
	{&nanp, "212555010O", UNK, EINVAL, NULL},
	{&nanp, "+", UNK, EINVAL, NULL},
	{&nanp, "1+2125550100", UNK, EINVAL, NULL},
	{&nanp, "++12125550100", UNK, EINVAL, NULL},
	{&nanp, "+0123456789", UNK, EINVAL, NULL},
	{&nanp, "+12", UNK, EINVAL, NULL},
	{&nanp, "+123", UNK, 0, "123"},
	{&nanp, "+123456789012345", UNK, 0, "123456789012345"},
	{&nanp, "+1234567890123456", UNK, ERANGE, NULL},
	{&nanp, "0111234567890123456", UNK, ERANGE, NULL},
	{&nanp, "123456789012345678901234567890123", UNK, ERANGE, NULL},
	{&nanp, "sip:gw.example.com", UNK, EINVAL, NULL},
	{&nanp, "sip:alice@example.com", UNK, EINVAL, NULL},
	{&nanp, "*67", UNK, EINVAL, NULL},
	{&nanp, "2125550100#", UNK, EINVAL, NULL},
	{&nanp, "5550100", DP_TON_SUBSCRIBER, 0, "12125550100"},
	{&nanp, "5550100", (enum dp_ton)5, EINVAL, NULL},
	/* UK: 44, 0, 00, London 20 with 8-digit local numbers */
	{&uk, "02079460000", UNK, 0, "442079460000"},
	{&uk, "020 7946 0000", UNK, 0, "442079460000"},
	{&uk, "00442079460000", UNK, 0, "442079460000"},
	{&uk, "0033142685300", UNK, 0, "33142685300"},
	{&uk, "0012125550100", UNK, 0, "12125550100"},
	{&uk, "79460000", UNK, 0, "442079460000"},
	{&uk, "7946000", UNK, EINVAL, NULL},
	{&uk, "07700900123", UNK, 0, "447700900123"},
	{&uk, "+44 20 7946 0000", UNK, 0, "442079460000"},
	{&uk, "2079460000", NAT, 0, "442079460000"},
	{&uk, "79460000", SUB, 0, "442079460000"},
	{&uk, "0", UNK, EINVAL, NULL},
	{&uk, "00", UNK, EINVAL, NULL},
	{&uk, "000442079460000", UNK, EINVAL, NULL},
	/* Germany: 49, 0, 00, Berlin 30, local numbers of any length */
	{&de, "030123456", UNK, 0, "4930123456"},
	{&de, "123456", UNK, 0, "4930123456"},
	{&de, "1234567", UNK, 0, "49301234567"},
	{&de, "0049301234567", UNK, 0, "49301234567"},
	{&de, "01711234567", UNK, 0, "491711234567"},
	{&de, "+49 30 1234567", UNK, 0, "49301234567"},
	{&de, "0043158580", UNK, 0, "43158580"},
	{&de, "301234567", NAT, 0, "49301234567"},
	{&de, "tel:+49-30-1234567", UNK, 0, "49301234567"},
	/* France: 33, 0, 00, closed 9-digit plan without local dialling */
	{&fr, "0142685300", UNK, 0, "33142685300"},
	{&fr, "01 42 68 53 00", UNK, 0, "33142685300"},
	{&fr, "01.42.68.53.00", UNK, 0, "33142685300"},
	{&fr, "142685300", UNK, 0, "33142685300"},
	{&fr, "0612345678", UNK, 0, "33612345678"},
	{&fr, "0033142685300", UNK, 0, "33142685300"},
	{&fr, "+33 1 42 68 53 00", UNK, 0, "33142685300"},
	{&fr, "14268530", UNK, EINVAL, NULL},
	{&fr, "014268530", UNK, EINVAL, NULL},
	{&fr, "42685300", SUB, EINVAL, NULL},
	/* A trunk that sends E.164 without '+' */
	{&bare, "12125550100", UNK, 0, "12125550100"},
	{&bare, "442079460000", UNK, 0, "442079460000"},
	{&bare, "+33142685300", UNK, 0, "33142685300"},
	{&bare, "02079460000", UNK, EINVAL, NULL},
};

static void test_normalize(void **state)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(norm_cases); i++) {
		const struct norm_case *c = &norm_cases[i];
		struct dp_number n = {.pres = DP_PRES_RESTRICTED};
		int err = dp_number_normalize(&n, c->in, c->ton, c->cp);

		if (err != c->err || (c->out && strcmp(n.digits, c->out)))
			fail_msg("case %zu '%s': err %d digits '%s', want "
				 "%d '%s'",
				 i, c->in, err, err ? "" : n.digits, c->err,
				 c->out ? c->out : "");
		if (!err) {
			assert_int_equal(n.ton, DP_TON_INTERNATIONAL);
			assert_int_equal(n.npi, DP_NPI_E164);
			assert_int_equal(n.pres, DP_PRES_ALLOWED);
		}
	}
}

static void test_normalize_short_codes(void **state)
{
	struct dp_number n;

	assert_int_equal(dp_number_normalize(&n, "911", ABBR, &nanp), 0);
	assert_string_equal(n.digits, "911");
	assert_int_equal(n.ton, ABBR);
	assert_int_equal(n.npi, DP_NPI_UNKNOWN);
	assert_int_equal(dp_number_normalize(&n, "*67", ABBR, &nanp), 0);
	assert_string_equal(n.digits, "*67");
	assert_int_equal(dp_number_normalize(&n, "1-2-3", NET, &uk), 0);
	assert_string_equal(n.digits, "123");
	assert_int_equal(n.ton, NET);
	assert_int_equal(dp_number_normalize(&n, "+911", ABBR, &nanp), EINVAL);
	assert_int_equal(dp_number_normalize(&n, "9a", ABBR, &nanp), EINVAL);
	assert_int_equal(dp_number_normalize(&n, NULL, UNK, &nanp), EINVAL);
	assert_int_equal(dp_number_normalize(&n, "1", UNK, NULL), EINVAL);
}

struct fmt_case {
	const struct dp_country_plan *cp;
	const char *e164;
	enum dp_number_fmt fmt;
	int err;
	const char *out;
	enum dp_ton ton;
};

static const struct fmt_case fmt_cases[] = {
	{&nanp, "12125550100", DP_FMT_PLUS, 0, "+12125550100", INTL},
	{&nanp, "12125550100", DP_FMT_E164, 0, "12125550100", INTL},
	{&nanp, "12125550100", DP_FMT_NATIONAL, 0, "2125550100", NAT},
	{&nanp, "12125550100", DP_FMT_NATIONAL_PREFIX, 0, "12125550100", UNK},
	{&nanp, "12125550100", DP_FMT_LOCAL, 0, "5550100", SUB},
	{&nanp, "13125550100", DP_FMT_LOCAL, 0, "3125550100", NAT},
	{&nanp, "1212555010", DP_FMT_LOCAL, 0, "212555010", NAT},
	{&nanp, "442079460000", DP_FMT_PLUS, 0, "+442079460000", INTL},
	{&nanp, "442079460000", DP_FMT_NATIONAL, 0, "442079460000", INTL},
	{&nanp, "442079460000", DP_FMT_NATIONAL_PREFIX, 0, "011442079460000",
	 UNK},
	{&nanp, "442079460000", DP_FMT_LOCAL, 0, "442079460000", INTL},
	{&uk, "442079460000", DP_FMT_NATIONAL_PREFIX, 0, "02079460000", UNK},
	{&uk, "442079460000", DP_FMT_NATIONAL, 0, "2079460000", NAT},
	{&uk, "442079460000", DP_FMT_LOCAL, 0, "79460000", SUB},
	{&uk, "447700900123", DP_FMT_LOCAL, 0, "7700900123", NAT},
	{&uk, "442079460000", DP_FMT_PLUS, 0, "+442079460000", INTL},
	{&uk, "12125550100", DP_FMT_NATIONAL_PREFIX, 0, "0012125550100", UNK},
	{&de, "4930123456", DP_FMT_LOCAL, 0, "123456", SUB},
	{&de, "491711234567", DP_FMT_LOCAL, 0, "1711234567", NAT},
	{&de, "491711234567", DP_FMT_NATIONAL_PREFIX, 0, "01711234567", UNK},
	{&de, "4930", DP_FMT_LOCAL, 0, "30", NAT},
	{&fr, "33142685300", DP_FMT_NATIONAL_PREFIX, 0, "0142685300", UNK},
	{&fr, "33142685300", DP_FMT_LOCAL, 0, "142685300", NAT},
	{&fr, "33142685300", DP_FMT_E164, 0, "33142685300", INTL},
	{&bare, "442079460000", DP_FMT_NATIONAL_PREFIX, 0, "+442079460000",
	 INTL},
	{&bare, "12125550100", DP_FMT_NATIONAL_PREFIX, 0, "2125550100", UNK},
	{&nanp, "12125550100", (enum dp_number_fmt)99, EINVAL, NULL, UNK},
	{&nanp, "1212555*100", DP_FMT_PLUS, EINVAL, NULL, UNK},
};

static void test_format(void **state)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(fmt_cases); i++) {
		const struct fmt_case *c = &fmt_cases[i];
		struct dp_number in = {.ton = INTL,
				       .npi = DP_NPI_E164,
				       .pres = DP_PRES_RESTRICTED};
		struct dp_number out;
		int err;

		memset(&out, 0, sizeof(out));
		tg_strlcpy(in.digits, c->e164, sizeof(in.digits));
		err = dp_number_format(&out, &in, c->fmt, c->cp);
		if (err != c->err || (c->out && (strcmp(out.digits, c->out) ||
						 out.ton != c->ton)))
			fail_msg("case %zu %s fmt %d: err %d '%s' ton %d, "
				 "want %d '%s' ton %d",
				 i, c->e164, c->fmt, err, out.digits, out.ton,
				 c->err, c->out ? c->out : "", c->ton);
		if (!err) {
			assert_int_equal(out.npi, DP_NPI_E164);
			assert_int_equal(out.pres, DP_PRES_RESTRICTED);
		}
	}
}

/* Whatever a trunk of the same plan is sent, it reads back the same
 * E.164 number: format then normalise is the identity. */
static void test_round_trip(void **state)
{
	static const enum dp_number_fmt fmts[] = {
		DP_FMT_PLUS, DP_FMT_NATIONAL_PREFIX, DP_FMT_NATIONAL,
		DP_FMT_LOCAL};
	unsigned checked = 0;

	for (size_t i = 0; i < TG_ARRAY_SIZE(norm_cases); i++) {
		const struct norm_case *c = &norm_cases[i];
		struct dp_number n, f, back;

		if (c->err || c->cp == &bare)
			continue;
		assert_int_equal(dp_number_normalize(&n, c->in, c->ton, c->cp),
				 0);
		/* "+123" is E.164-shaped but no NANP number: skip numbers
		 * of the plan's own country that do not fit its length. */
		if (c->cp->nsn_len &&
		    !strncmp(n.digits, c->cp->cc, strlen(c->cp->cc)) &&
		    strlen(n.digits) - strlen(c->cp->cc) != c->cp->nsn_len)
			continue;
		for (size_t k = 0; k < TG_ARRAY_SIZE(fmts); k++) {
			assert_int_equal(
				dp_number_format(&f, &n, fmts[k], c->cp), 0);
			if (dp_number_normalize(&back, f.digits, f.ton,
						c->cp) ||
			    strcmp(back.digits, n.digits))
				fail_msg("%s fmt %d: %s -> %s", n.digits,
					 fmts[k], f.digits, back.digits);
			checked++;
		}
	}
	assert_int_equal(checked, 200);
}

static void test_format_passthrough(void **state)
{
	struct dp_number in = {"911", ABBR, DP_NPI_UNKNOWN, DP_PRES_ALLOWED};
	struct dp_number out;

	assert_int_equal(dp_number_format(&out, &in, DP_FMT_PLUS, &nanp), 0);
	assert_string_equal(out.digits, "911");
	assert_int_equal(out.ton, ABBR);
	assert_int_equal(out.npi, DP_NPI_UNKNOWN);
}

static void test_names(void **state)
{
	static const struct {
		const char *name;
		enum dp_ton ton;
	} t[] = {
		{"unknown", UNK},      {"international", INTL},
		{"national", NAT},     {"network", NET},
		{"subscriber", SUB},   {"local", SUB},
		{"abbreviated", ABBR}, {"INTERNATIONAL", INTL},
	};
	enum dp_ton ton;
	enum dp_npi npi;

	for (size_t i = 0; i < TG_ARRAY_SIZE(t); i++) {
		assert_int_equal(dp_ton_parse(&ton, t[i].name), 0);
		assert_int_equal(ton, t[i].ton);
	}
	assert_int_equal(dp_ton_parse(&ton, "intl"), EINVAL);
	assert_string_equal(dp_ton_name(SUB), "subscriber");
	assert_string_equal(dp_ton_name((enum dp_ton)5), "?");
	assert_int_equal(dp_npi_parse(&npi, "isdn"), 0);
	assert_int_equal(npi, DP_NPI_E164);
	assert_int_equal(dp_npi_parse(&npi, "e164"), 0);
	assert_int_equal(npi, DP_NPI_E164);
	assert_int_equal(dp_npi_parse(&npi, "private"), 0);
	assert_int_equal(npi, DP_NPI_PRIVATE);
	assert_int_equal(dp_npi_parse(&npi, "x121"), EINVAL);
	assert_string_equal(dp_npi_name(DP_NPI_E164), "isdn");
	assert_string_equal(dp_npi_name((enum dp_npi)3), "?");
}

/* ---- patterns ---------------------------------------------------------- */

static const struct {
	const char *pattern;
	const char *number;
	bool match;
} pat_cases[] = {
	{"_NXXNXXXXXX", "2125550100", true},
	{"_NXXNXXXXXX", "1125550100", false},
	{"_NXXNXXXXXX", "2121550100", false},
	{"_NXXNXXXXXX", "2120550100", false},
	{"_NXXNXXXXXX", "212555010", false},
	{"_NXXNXXXXXX", "21255501000", false},
	{"_NXXNXXXXXX", "", false},
	{"_1NXX.", "12125550100", true},
	{"_1NXX.", "12125", true},
	{"_1NXX.", "1212", false},
	{"_1NXX.", "11125550100", false},
	{"_1NXX.", "2125550100", false},
	{"_011.", "011442079460000", true},
	{"_011.", "0114", true},
	{"_011.", "011", false},
	{"_011.", "01", false},
	{"_011!", "011", true},
	{"_011!", "0114", true},
	{"_011!", "01", false},
	{"_011!", "012", false},
	{"_.", "1", true},
	{"_.", "", false},
	{"_!", "", true},
	{"_!", "123", true},
	{"_X.", "12a", false},
	{"_X!", "1#*+", true},
	{"_X", "0", true},
	{"_X", "9", true},
	{"_X", "*", false},
	{"_X", "", false},
	{"_X", "10", false},
	{"_x", "5", true},
	{"_Z", "0", false},
	{"_Z", "1", true},
	{"_Z", "9", true},
	{"_z", "1", true},
	{"_N", "0", false},
	{"_N", "1", false},
	{"_N", "2", true},
	{"_N", "9", true},
	{"_nxx", "200", true},
	{"_nxx", "100", false},
	{"_[1-5]", "1", true},
	{"_[1-5]", "3", true},
	{"_[1-5]", "5", true},
	{"_[1-5]", "0", false},
	{"_[1-5]", "6", false},
	{"_[137-9]", "1", true},
	{"_[137-9]", "3", true},
	{"_[137-9]", "7", true},
	{"_[137-9]", "8", true},
	{"_[137-9]", "9", true},
	{"_[137-9]", "2", false},
	{"_[137-9]", "6", false},
	{"_[1-37-9]X", "25", true},
	{"_[1-37-9]X", "45", false},
	{"_[*#]X", "*1", true},
	{"_[*#]X", "#1", true},
	{"_[*#]X", "11", false},
	{"_[5]", "5", true},
	{"_*67.", "*672125550100", true},
	{"_*67.", "672125550100", false},
	{"_+1.", "+12125550100", true},
	{"_911", "911", true},
	{"_911", "9110", false},
	{"911", "911", true},
	{"911", "9110", false},
	{"911", "91", false},
	{"NXX", "NXX", false},
	/* invalid patterns never match */
	{"_", "", false},
	{"", "", false},
	{"_[", "1", false},
	{"_[]", "1", false},
	{"_[5-1]", "3", false},
	{"_[1-]", "1", false},
	{"_[1-*]", "1", false},
	{"_[a]", "1", false},
	{"_X.X", "123", false},
	{"_!X", "1", false},
	{"_A", "A", false},
	{"_9 1", "9 1", false},
	{"9a", "9a", false},
};

static void test_patterns(void **state)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(pat_cases); i++)
		if (dp_pattern_match(pat_cases[i].pattern,
				     pat_cases[i].number) != pat_cases[i].match)
			fail_msg("pattern %s on '%s': want %d",
				 pat_cases[i].pattern, pat_cases[i].number,
				 pat_cases[i].match);
}

/* ---- rules -------------------------------------------------------------- */

static struct dp_rules *build_ok(const struct dp_rule_row *rows, size_t n)
{
	struct dp_rules *rs = NULL;
	char err[256] = "";
	int e = dp_rules_build(&rs, rows, n, err, sizeof(err));

	if (e)
		fail_msg("build: %d %s", e, err);
	assert_int_equal(dp_rules_count(rs), n);
	return rs;
}

static struct dp_number num(const char *digits, enum dp_ton ton)
{
	struct dp_number n = {.ton = ton, .npi = DP_NPI_E164};

	tg_strlcpy(n.digits, digits, sizeof(n.digits));
	return n;
}

struct apply_case {
	const char *trunk;
	const char *in;
	enum dp_ton ton;
	int err;
	const char *out;
	enum dp_ton out_ton;
};

static void run_cases(const struct dp_rule_row *rows, size_t nrows,
		      const struct apply_case *c, size_t ncases)
{
	struct dp_rules *rs = build_ok(rows, nrows);

	for (size_t i = 0; i < ncases; i++) {
		struct dp_number n = num(c[i].in, c[i].ton);
		char trace[512];
		int e = dp_rules_apply(rs, c[i].trunk, &n, trace,
				       sizeof(trace));

		if (e != c[i].err || strcmp(n.digits, c[i].out) ||
		    n.ton != c[i].out_ton)
			fail_msg("case %zu '%s': err %d '%s' ton %d, want %d "
				 "'%s' ton %d\n%s",
				 i, c[i].in, e, n.digits, n.ton, c[i].err,
				 c[i].out, c[i].out_ton, trace);
	}
	obj_deref(rs);
}

static void test_rules_prefix(void **state)
{
	static const struct dp_rule_row rows[] = {
		{.kind = "prefix", .match = "9", .actions = "strip=1"},
		{.kind = "prefix",
		 .match = "0",
		 .actions = "strip=1,prepend=44"},
		{.kind = "prefix", .match = "*", .actions = "prepend=#"},
	};
	static const struct apply_case c[] = {
		{NULL, "912125550100", UNK, 0, "12125550100", UNK},
		{NULL, "99", UNK, 0, "9", UNK},
		{NULL, "9", UNK, 0, "", UNK},
		{NULL, "02079460000", UNK, 0, "442079460000", UNK},
		{NULL, "*67", UNK, 0, "#*67", UNK},
		{NULL, "12125550100", UNK, 0, "12125550100", UNK},
		{NULL, "", UNK, 0, "", UNK},
		{"any", "0", UNK, 0, "44", UNK},
	};

	run_cases(rows, TG_ARRAY_SIZE(rows), c, TG_ARRAY_SIZE(c));
}

static void test_rules_pattern(void **state)
{
	static const struct dp_rule_row rows[] = {
		{.kind = "pattern",
		 .match = "_NXXXXXX",
		 .actions = "prepend=1212,ton=international"},
		{.kind = "pattern",
		 .match = "_NXXNXXXXXX",
		 .actions = "prepend=1,ton=international"},
		{.kind = "pattern",
		 .match = "_1NXXNXXXXXX",
		 .actions = "ton=international"},
		{.kind = "pattern",
		 .match = "_011.",
		 .actions = "strip=3,ton=international"},
		{.kind = "PATTERN",
		 .match = "911",
		 .actions = "ton=abbreviated"},
	};
	static const struct apply_case c[] = {
		{NULL, "5550100", UNK, 0, "12125550100", INTL},
		{NULL, "2125550100", UNK, 0, "12125550100", INTL},
		{NULL, "12125550100", UNK, 0, "12125550100", INTL},
		{NULL, "011442079460000", UNK, 0, "442079460000", INTL},
		{NULL, "011", UNK, 0, "011", UNK},
		{NULL, "911", UNK, 0, "911", ABBR},
		{NULL, "9110", UNK, 0, "9110", UNK},
		{NULL, "1555010", UNK, 0, "1555010", UNK},
	};

	run_cases(rows, TG_ARRAY_SIZE(rows), c, TG_ARRAY_SIZE(c));
}

static void test_rules_regex(void **state)
{
	static const struct dp_rule_row rows[] = {
		{.kind = "regex",
		 .match = "^00(\\d+)$",
		 .actions = "replace,ton=international",
		 .replace = "$1"},
		{.kind = "regex",
		 .match = "^0(?<nsn>[1-9]\\d{8,9})$",
		 .actions = "replace,ton=international",
		 .replace = "44${nsn}"},
		{.kind = "regex",
		 .match = "^8(\\d)(\\d)$",
		 .actions = "replace",
		 .replace = "${2}$1"},
		{.kind = "regex",
		 .match = "^7",
		 .actions = "replace",
		 .replace = "12127"},
		{.kind = "regex",
		 .match = "^6(\\d)?$",
		 .actions = "replace",
		 .replace = "5$1"},
		{.kind = "regex",
		 .match = "^4",
		 .actions = "replace",
		 .replace = ""},
		{.kind = "regex", .match = "55$", .actions = "ton=network"},
	};
	static const struct apply_case c[] = {
		{NULL, "0033142685300", UNK, 0, "33142685300", INTL},
		{NULL, "02079460000", UNK, 0, "442079460000", INTL},
		{NULL, "0207946000", UNK, 0, "44207946000", INTL},
		{NULL, "020794600", UNK, 0, "020794600", UNK},
		{NULL, "812", UNK, 0, "21", UNK},
		{NULL, "8123", UNK, 0, "8123", UNK},
		{NULL, "75550100", UNK, 0, "121275550100", UNK},
		{NULL, "6", UNK, 0, "5", UNK},
		{NULL, "69", UNK, 0, "59", UNK},
		{NULL, "4321", UNK, 0, "321", UNK},
		{NULL, "1255", UNK, 0, "1255", NET},
		{NULL, "12555", UNK, 0, "12555", NET},
		{NULL, "12556", UNK, 0, "12556", UNK},
	};

	run_cases(rows, TG_ARRAY_SIZE(rows), c, TG_ARRAY_SIZE(c));
}

static void test_rules_conditions(void **state)
{
	static const struct dp_rule_row rows[] = {
		{.kind = "prefix",
		 .match = "0",
		 .trunk = "carrier-a",
		 .actions = "strip=1,prepend=49"},
		{.kind = "prefix",
		 .match = "0",
		 .ton = "national",
		 .actions = "strip=1,ton=national"},
		{.kind = "any",
		 .trunk = "pbx",
		 .ton = "subscriber",
		 .actions = "prepend=4930,ton=international"},
		{.kind = "", .ton = "abbreviated", .actions = ""},
		{.kind = "any", .actions = "npi=private"},
	};
	static const struct apply_case c[] = {
		{"carrier-a", "0301234", UNK, 0, "49301234", UNK},
		{"carrier-b", "0301234", UNK, 0, "0301234", UNK},
		{NULL, "0301234", UNK, 0, "0301234", UNK},
		{"carrier-b", "0301234", NAT, 0, "301234", NAT},
		{"carrier-a", "0301234", NAT, 0, "49301234", NAT},
		{"pbx", "1234567", SUB, 0, "49301234567", INTL},
		{"pbx", "1234567", UNK, 0, "1234567", UNK},
		{"other", "1234567", SUB, 0, "1234567", SUB},
		{"pbx", "112", ABBR, 0, "112", ABBR},
	};
	struct dp_rules *rs;
	struct dp_number n;

	run_cases(rows, TG_ARRAY_SIZE(rows), c, TG_ARRAY_SIZE(c));
	/* The catch-all sets NPI; a guard rule with no action stops. */
	rs = build_ok(rows, TG_ARRAY_SIZE(rows));
	n = num("5", UNK);
	assert_int_equal(dp_rules_apply(rs, "x", &n, NULL, 0), 0);
	assert_int_equal(n.npi, DP_NPI_PRIVATE);
	n = num("5", ABBR);
	assert_int_equal(dp_rules_apply(rs, "x", &n, NULL, 0), 0);
	assert_int_equal(n.npi, DP_NPI_E164);
	obj_deref(rs);
}

static void test_rules_ton_pres(void **state)
{
	static const struct dp_rule_row rows[] = {
		{.kind = "prefix",
		 .match = "1",
		 .actions = "ton=national,npi=private,pres=restricted"},
		{.kind = "prefix",
		 .match = "2",
		 .actions = "pres=allowed,npi=unknown,ton=subscriber"},
	};
	struct dp_rules *rs = build_ok(rows, 2);
	struct dp_number n = num("123", UNK);

	n.pres = DP_PRES_ALLOWED;
	assert_int_equal(dp_rules_apply(rs, NULL, &n, NULL, 0), 0);
	assert_int_equal(n.ton, NAT);
	assert_int_equal(n.npi, DP_NPI_PRIVATE);
	assert_int_equal(n.pres, DP_PRES_RESTRICTED);
	n = num("234", INTL);
	n.pres = DP_PRES_RESTRICTED;
	assert_int_equal(dp_rules_apply(rs, NULL, &n, NULL, 0), 0);
	assert_int_equal(n.ton, SUB);
	assert_int_equal(n.npi, DP_NPI_UNKNOWN);
	assert_int_equal(n.pres, DP_PRES_ALLOWED);
	assert_string_equal(n.digits, "234");
	obj_deref(rs);
}

static void test_rules_order_continue(void **state)
{
	static const struct dp_rule_row first[] = {
		{.kind = "prefix", .match = "1", .actions = "prepend=9"},
		{.kind = "prefix", .match = "12", .actions = "prepend=8"},
	};
	static const struct apply_case c1[] = {
		{NULL, "123", UNK, 0, "9123", UNK},
		{NULL, "223", UNK, 0, "223", UNK},
	};
	static const struct dp_rule_row chain[] = {
		{.name = "strip00",
		 .kind = "prefix",
		 .match = "00",
		 .actions = "strip=2,continue"},
		{.name = "never",
		 .kind = "prefix",
		 .match = "00",
		 .actions = "prepend=7"},
		{.name = "intl",
		 .kind = "pattern",
		 .match = "_Z.",
		 .actions = "ton=international,continue"},
		{.name = "all", .kind = "any", .actions = "prepend=1,continue"},
		{.name = "again",
		 .kind = "any",
		 .actions = "prepend=2,continue"},
		{.name = "stop", .kind = "any", .actions = "prepend=3"},
		{.name = "after", .kind = "any", .actions = "prepend=4"},
	};
	static const struct apply_case c2[] = {
		{NULL, "0044", UNK, 0, "32144", INTL},
		{NULL, "0", UNK, 0, "3210", UNK},
		{NULL, "000", UNK, 0, "3210", UNK},
	};
	struct dp_rules *rs;
	struct dp_number n = num("0044", UNK);
	char trace[1024];

	run_cases(first, TG_ARRAY_SIZE(first), c1, TG_ARRAY_SIZE(c1));
	run_cases(chain, TG_ARRAY_SIZE(chain), c2, TG_ARRAY_SIZE(c2));
	rs = build_ok(chain, TG_ARRAY_SIZE(chain));
	assert_int_equal(dp_rules_apply(rs, NULL, &n, trace, sizeof(trace)), 0);
	assert_non_null(strstr(trace, "rule 1 (strip00): prefix 00 matched "
				      "0044 -> 44 (ton unknown, npi isdn, pres "
				      "allowed), continue\n"));
	assert_non_null(strstr(trace, "rule 3 (intl): pattern _Z. matched "
				      "44 -> 44 (ton international"));
	assert_non_null(strstr(trace, "rule 6 (stop): any matched 2144 -> "
				      "32144"));
	assert_null(strstr(trace, "never"));
	assert_null(strstr(trace, "after"));
	/* A trace buffer too small is cut, never overrun. */
	n = num("0044", UNK);
	assert_int_equal(dp_rules_apply(rs, NULL, &n, trace, 10), 0);
	assert_int_equal(strlen(trace), 9);
	assert_string_equal(n.digits, "32144");
	obj_deref(rs);
}

static void test_rules_trace_nomatch(void **state)
{
	static const struct dp_rule_row rows[] = {
		{.kind = "prefix", .match = "9", .actions = "strip=1"},
	};
	struct dp_rules *rs = build_ok(rows, 1);
	struct dp_number n = num("123", NAT);
	char trace[128];

	assert_int_equal(dp_rules_apply(rs, NULL, &n, trace, sizeof(trace)), 0);
	assert_string_equal(trace, "no rule matched 123\n");
	assert_string_equal(n.digits, "123");
	assert_int_equal(n.ton, NAT);
	obj_deref(rs);
	/* An empty rule set is valid and changes nothing. */
	rs = build_ok(NULL, 0);
	assert_int_equal(dp_rules_apply(rs, NULL, &n, trace, sizeof(trace)), 0);
	assert_string_equal(n.digits, "123");
	assert_int_equal(dp_rules_apply(NULL, NULL, &n, NULL, 0), EINVAL);
	assert_int_equal(dp_rules_count(NULL), 0);
	obj_deref(rs);
}

static void test_rules_apply_errors(void **state)
{
	static const struct dp_rule_row rows[] = {
		{.name = "long",
		 .kind = "prefix",
		 .match = "1",
		 .actions = "prepend=12345678901234567890"},
		{.name = "sub",
		 .kind = "regex",
		 .match = "^2(\\d*)$",
		 .actions = "replace",
		 .replace = "$1$1$1"},
		{.name = "bomb",
		 .kind = "regex",
		 .match = "^(\\d|\\d\\d)+$",
		 .actions = "strip=1"},
	};
	struct dp_rules *rs = build_ok(rows, TG_ARRAY_SIZE(rows));
	struct dp_number n = num("1234567890123", UNK), keep = n;
	char trace[256];

	assert_int_equal(dp_rules_apply(rs, NULL, &n, trace, sizeof(trace)),
			 ERANGE);
	assert_memory_equal(&n, &keep, sizeof(n));
	assert_non_null(strstr(trace, "rule 1 (long): matched "));
	n = keep = num("212345678901", UNK);
	assert_int_equal(dp_rules_apply(rs, NULL, &n, trace, sizeof(trace)),
			 ERANGE);
	assert_memory_equal(&n, &keep, sizeof(n));
	n = num("2123", UNK);
	assert_int_equal(dp_rules_apply(rs, NULL, &n, NULL, 0), 0);
	assert_string_equal(n.digits, "123123123");
	/* Exponential backtracking stops at the match limit. */
	n = keep = num("3333333333333333333333333333333x", UNK);
	assert_int_equal(dp_rules_apply(rs, NULL, &n, trace, sizeof(trace)),
			 ELOOP);
	assert_memory_equal(&n, &keep, sizeof(n));
	assert_non_null(strstr(trace, "rule 3 (bomb): regex failed"));
	n = num("33", UNK);
	assert_int_equal(dp_rules_apply(rs, NULL, &n, NULL, 0), 0);
	assert_string_equal(n.digits, "3");
	obj_deref(rs);
}

static const struct {
	struct dp_rule_row row;
	const char *msg;
} bad_rows[] = {
	{{.kind = "glob", .match = "9"}, "unknown match kind 'glob'"},
	{{.kind = "prefix", .match = ""}, "prefix '': not 0-9 * # +"},
	{{.kind = "prefix", .match = "9a"}, "prefix '9a'"},
	{{.kind = "any", .match = "9"}, "kind 'any' takes no match '9'"},
	{{.kind = "pattern", .match = "_X.X"},
	 "pattern '_X.X': '.' and '!' may only end a pattern at offset 2"},
	{{.kind = "pattern", .match = "_[5-1]"},
	 "pattern '_[5-1]': bad pattern element at offset 1"},
	{{.kind = "pattern", .match = "_NXXA"},
	 "pattern '_NXXA': bad pattern element at offset 4"},
	{{.kind = "pattern", .match = "_"}, "empty pattern"},
	{{.kind = "pattern", .match = ""}, "empty pattern"},
	{{.kind = "pattern", .match = "91a"},
	 "a literal may hold only 0-9 * # + at offset 2"},
	{{.kind = "regex", .match = "^(00"},
	 "regex '^(00': missing closing parenthesis at offset 4"},
	{{.kind = "regex", .match = "[9-0]"}, "at offset 3"},
	{{.kind = "regex",
	  .match = "^0",
	  .actions = "replace",
	  .replace = "$1"},
	 "bad group reference at offset 0 (the regex has 0 groups)"},
	{{.kind = "regex",
	  .match = "^(0)",
	  .actions = "replace",
	  .replace = "44${x}"},
	 "bad group reference at offset 2"},
	{{.kind = "regex",
	  .match = "^(0)",
	  .actions = "replace",
	  .replace = "$$"},
	 "bad group reference at offset 0"},
	{{.kind = "regex",
	  .match = "^(0)",
	  .actions = "replace",
	  .replace = "${1"},
	 "bad group reference"},
	{{.kind = "regex",
	  .match = "^(0)",
	  .actions = "replace",
	  .replace = "a$1"},
	 "'a' at offset 0 is not a number character"},
	{{.kind = "regex", .match = "^(0)", .replace = "$1"},
	 "replace template given without the 'replace' action"},
	{{.kind = "prefix", .match = "0", .actions = "replace"},
	 "action 'replace' needs a regex rule"},
	{{.kind = "prefix", .match = "0", .actions = "stirp=1"},
	 "unknown action 'stirp=1'"},
	{{.kind = "prefix", .match = "0", .actions = "strip"},
	 "unknown action 'strip'"},
	{{.kind = "prefix", .match = "0", .actions = "continue=1"},
	 "unknown action 'continue=1'"},
	{{.kind = "prefix", .match = "0", .actions = "strip=x"},
	 "bad value in action 'strip=x'"},
	{{.kind = "prefix", .match = "0", .actions = "strip=33"},
	 "bad value in action 'strip=33'"},
	{{.kind = "prefix", .match = "0", .actions = "prepend="},
	 "bad value in action 'prepend='"},
	{{.kind = "prefix", .match = "0", .actions = "prepend=4a"},
	 "bad value in action 'prepend=4a'"},
	{{.kind = "prefix", .match = "0", .actions = "ton=intl"},
	 "bad value in action 'ton=intl'"},
	{{.kind = "prefix", .match = "0", .actions = "npi=x121"},
	 "bad value in action 'npi=x121'"},
	{{.kind = "prefix", .match = "0", .actions = "pres=hidden"},
	 "bad value in action 'pres=hidden'"},
	{{.kind = "prefix", .match = "0", .actions = "strip=1,strip=2"},
	 "action 'strip=2' given twice"},
	{{.kind = "prefix", .match = "0", .actions = "continue,continue"},
	 "action 'continue' given twice"},
	{{.kind = "prefix", .match = "0", .actions = "strip=1,,continue"},
	 "empty item"},
	{{.kind = "prefix", .match = "0", .actions = ",strip=1"}, "empty item"},
	{{.kind = "prefix", .match = "0", .ton = "intl"}, "unknown TON 'intl'"},
};

static void test_rules_refused(void **state)
{
	static const struct dp_rule_row good = {
		.kind = "prefix", .match = "9", .actions = "strip=1"};

	for (size_t i = 0; i < TG_ARRAY_SIZE(bad_rows); i++) {
		struct dp_rule_row rows[3] = {good, good, bad_rows[i].row};
		struct dp_rules *rs = NULL;
		char err[256] = "", want[64];

		snprintf(rows[2].name, sizeof(rows[2].name), "bad%zu", i);
		assert_int_equal(dp_rules_build(&rs, rows, 3, err, sizeof(err)),
				 EINVAL);
		assert_null(rs);
		snprintf(want, sizeof(want), "rule 3 (bad%zu): ", i);
		if (strncmp(err, want, strlen(want)) ||
		    !strstr(err, bad_rows[i].msg))
			fail_msg("case %zu: got '%s', want '%s%s'", i, err,
				 want, bad_rows[i].msg);
	}
}

static void test_rules_spaces_and_case(void **state)
{
	static const struct dp_rule_row rows[] = {
		{.kind = "Prefix",
		 .match = "0",
		 .ton = "NATIONAL",
		 .actions = " strip=1 , prepend=44 , pres=Restricted "},
	};
	struct dp_rules *rs = build_ok(rows, 1);
	struct dp_number n = num("020", NAT);
	char err[8];

	assert_int_equal(dp_rules_apply(rs, NULL, &n, NULL, 0), 0);
	assert_string_equal(n.digits, "4420");
	assert_int_equal(n.pres, DP_PRES_RESTRICTED);
	obj_deref(rs);
	/* An unnamed row is named by position; a short err buffer is cut. */
	{
		struct dp_rule_row bad = {.kind = "x"};
		char msg[128];

		assert_int_equal(dp_rules_build(&rs, &bad, 1, msg, sizeof(msg)),
				 EINVAL);
		assert_string_equal(msg, "rule 1: unknown match kind 'x'");
		assert_int_equal(dp_rules_build(&rs, &bad, 1, err, sizeof(err)),
				 EINVAL);
		assert_string_equal(err, "rule 1:");
		assert_int_equal(dp_rules_build(&rs, &bad, 1, NULL, 0), EINVAL);
	}
}

/* ---- failover ----------------------------------------------------------- */

#define R DP_FAIL_ROUTE
#define F DP_FAIL_FINAL

static const struct {
	int code;
	enum dp_failure_class cls;
} sip_classes[] = {
	{0, R},	  {400, R}, {401, R},  {402, R}, {403, F}, {404, F}, {405, R},
	{406, R}, {407, R}, {408, R},  {410, F}, {413, R}, {414, R}, {415, R},
	{416, R}, {420, R}, {421, R},  {422, R}, {423, R}, {429, R}, {480, F},
	{481, R}, {482, R}, {483, R},  {484, F}, {485, F}, {486, F}, {487, F},
	{488, R}, {491, R}, {493, R},  {499, R}, {500, R}, {501, R}, {502, R},
	{503, R}, {504, R}, {505, R},  {513, R}, {580, R}, {599, R}, {600, F},
	{603, F}, {604, F}, {606, F},  {699, F}, {180, F}, {200, F}, {302, F},
	{-1, R},  {700, R}, {1000, R},
};

static const struct {
	int code;
	enum dp_failure_class cls;
} q850_classes[] = {
	{0, R},	  {1, F},   {2, R},   {3, R},	{4, F},	  {5, F},   {6, R},
	{7, F},	  {8, R},   {9, R},   {16, F},	{17, F},  {18, F},  {19, F},
	{20, F},  {21, F},  {22, F},  {23, F},	{25, R},  {26, F},  {27, F},
	{28, F},  {29, R},  {30, F},  {31, F},	{34, R},  {35, R},  {38, R},
	{39, R},  {40, R},  {41, R},  {42, R},	{43, R},  {44, R},  {46, R},
	{47, R},  {49, R},  {50, R},  {53, R},	{55, F},  {57, R},  {58, R},
	{62, R},  {63, R},  {65, R},  {66, R},	{69, R},  {70, R},  {79, R},
	{81, R},  {82, R},  {83, R},  {84, R},	{85, R},  {86, R},  {87, F},
	{88, F},  {90, R},  {91, R},  {95, R},	{96, R},  {97, R},  {98, R},
	{99, R},  {100, R}, {101, R}, {102, R}, {103, R}, {110, R}, {111, R},
	{127, R}, {128, R}, {-5, R},
};

static void test_failover_builtin(void **state)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(sip_classes); i++) {
		if (dp_failover_sip(sip_classes[i].code) != sip_classes[i].cls)
			fail_msg("SIP %d: want %s", sip_classes[i].code,
				 sip_classes[i].cls == R ? "route" : "final");
		assert_int_equal(
			dp_failover_class_sip(NULL, sip_classes[i].code),
			sip_classes[i].cls);
	}
	for (size_t i = 0; i < TG_ARRAY_SIZE(q850_classes); i++) {
		if (dp_failover_q850(q850_classes[i].code) !=
		    q850_classes[i].cls)
			fail_msg("Q.850 %d: want %s", q850_classes[i].code,
				 q850_classes[i].cls == R ? "route" : "final");
		assert_int_equal(
			dp_failover_class_q850(NULL, q850_classes[i].code),
			q850_classes[i].cls);
	}
	/* Every cause is one or the other; none is left out of range. */
	for (int c = 0; c <= 255; c++) {
		enum dp_failure_class k = dp_failover_q850(c);

		assert_true(k == R || k == F);
	}
}

static void test_failover_overrides(void **state)
{
	static const char *const items[] = {"sip:503=final", "q850:1=route",
					    "SIP:0=Final", "q850:34=final"};
	static const char *const wn[] = {"wrong-number=route"};
	static const char *const wn_404[] = {"wrong-number=route",
					     "sip:404=final"};
	static const char *const wn_off[] = {"wrong-number=final"};
	struct dp_failover *fo = NULL;
	char err[160];

	assert_int_equal(dp_failover_build(&fo, items, 4, err, sizeof(err)), 0);
	assert_int_equal(dp_failover_class_sip(fo, 503), F);
	assert_int_equal(dp_failover_class_sip(fo, 502), R);
	assert_int_equal(dp_failover_class_sip(fo, 0), F);
	assert_int_equal(dp_failover_class_sip(fo, 404), F);
	assert_int_equal(dp_failover_class_q850(fo, 1), R);
	assert_int_equal(dp_failover_class_q850(fo, 34), F);
	assert_int_equal(dp_failover_class_q850(fo, 38), R);
	assert_int_equal(dp_failover_class_q850(fo, 17), F);
	fo = obj_deref(fo);

	assert_int_equal(dp_failover_build(&fo, wn, 1, err, sizeof(err)), 0);
	assert_int_equal(dp_failover_class_sip(fo, 404), R);
	assert_int_equal(dp_failover_class_q850(fo, 1), R);
	assert_int_equal(dp_failover_class_sip(fo, 604), F);
	assert_int_equal(dp_failover_class_sip(fo, 486), F);
	assert_int_equal(dp_failover_class_q850(fo, 17), F);
	fo = obj_deref(fo);

	assert_int_equal(dp_failover_build(&fo, wn_404, 2, err, sizeof(err)),
			 0);
	assert_int_equal(dp_failover_class_sip(fo, 404), F);
	assert_int_equal(dp_failover_class_q850(fo, 1), R);
	fo = obj_deref(fo);

	assert_int_equal(dp_failover_build(&fo, wn_off, 1, err, sizeof(err)),
			 0);
	assert_int_equal(dp_failover_class_sip(fo, 404), F);
	assert_int_equal(dp_failover_class_q850(fo, 1), F);
	fo = obj_deref(fo);

	assert_int_equal(dp_failover_build(&fo, NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(dp_failover_class_sip(fo, 503), R);
	fo = obj_deref(fo);
}

static const struct {
	const char *items[2];
	const char *msg;
} bad_items[] = {
	{{"sip:999=final"}, "failover item 'sip:999=final': bad SIP status"},
	{{"sip:399=final"}, "'sip:399=final': bad SIP status"},
	{{"sip:abc=route"}, "'sip:abc=route': bad SIP status"},
	{{"sip:=route"}, "'sip:=route': bad code"},
	{{"sip:0503=route"}, "'sip:0503=route': bad SIP status"},
	{{"q850:0=route"}, "'q850:0=route': bad Q.850 cause (want 1-127)"},
	{{"q850:128=route"}, "'q850:128=route': bad Q.850 cause"},
	{{"q850:-1=route"}, "'q850:-1=route': bad Q.850 cause"},
	{{"sip:503=maybe"}, "'sip:503=maybe': want sip:CODE=route|final"},
	{{"sip:503"}, "'sip:503': want"},
	{{"http:503=route"}, "'http:503=route': bad code"},
	{{""}, "failover item '': want"},
	{{"sip:503=final", "sip:503=route"},
	 "'sip:503=route': code given twice"},
	{{"wrong-number=route", "wrong-number=final"},
	 "'wrong-number=final': given twice"},
};

static void test_failover_refused(void **state)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(bad_items); i++) {
		struct dp_failover *fo = NULL;
		const char *const items[2] = {bad_items[i].items[0],
					      bad_items[i].items[1]
						      ? bad_items[i].items[1]
						      : "q850:17=final"};
		char err[200] = "";

		assert_int_equal(
			dp_failover_build(&fo, items, 2, err, sizeof(err)),
			EINVAL);
		assert_null(fo);
		if (!strstr(err, bad_items[i].msg))
			fail_msg("case %zu: got '%s', want '%s'", i, err,
				 bad_items[i].msg);
	}
}

static void test_failover_result(void **state)
{
	static const char *const items[] = {"q850:17=route"};
	static const struct {
		struct dp_attempt_result r;
		enum dp_failure_class cls;
	} c[] = {
		{{503, 17}, F}, {{480, 34}, R}, {{503, 0}, R},	{{486, 0}, F},
		{{0, 0}, R},	{{0, 41}, R},	{{0, 16}, F},	{{404, 3}, R},
		{{404, 1}, F},	{{404, 0}, F},	{{502, 27}, F},
	};
	struct dp_failover *fo;

	for (size_t i = 0; i < TG_ARRAY_SIZE(c); i++)
		if (dp_failover_result(NULL, &c[i].r) != c[i].cls)
			fail_msg("case %zu: %d/%d", i, c[i].r.sip_status,
				 c[i].r.q850_cause);
	assert_int_equal(dp_failover_build(&fo, items, 1, NULL, 0), 0);
	assert_int_equal(dp_failover_result(fo, &c[0].r), R);
	obj_deref(fo);
}

struct pick_case {
	size_t n;
	struct dp_attempt_result r[4];
	size_t want;
};

static const struct pick_case pick_cases[] = {
	{1, {{503, 0}}, 0},
	{2, {{503, 0}, {486, 17}}, 1},
	{2, {{486, 17}, {503, 0}}, 0},
	{2, {{404, 1}, {503, 0}}, 0},
	{2, {{0, 1}, {0, 34}}, 0},
	{2, {{0, 34}, {0, 17}}, 1},
	{2, {{0, 17}, {0, 34}}, 0},
	{3, {{503, 0}, {502, 0}, {0, 0}}, 1},
	{3, {{0, 0}, {503, 0}, {0, 0}}, 1},
	{2, {{0, 0}, {0, 0}}, 1},
	{3, {{503, 0}, {500, 0}, {408, 0}}, 2},
	{2, {{503, 0}, {503, 34}}, 1},
	{2, {{480, 0}, {486, 0}}, 1},
	{2, {{486, 0}, {480, 0}}, 0},
	{2, {{603, 0}, {486, 0}}, 0},
	{2, {{486, 0}, {600, 0}}, 1},
	{2, {{404, 0}, {486, 0}}, 1},
	{2, {{480, 0}, {404, 0}}, 1},
	{2, {{404, 0}, {480, 0}}, 0},
	{3, {{408, 0}, {0, 0}, {0, 0}}, 0},
	{2, {{487, 0}, {503, 0}}, 0},
	{2, {{302, 0}, {503, 0}}, 0},
	{2, {{503, 0}, {480, 19}}, 1},
	{3, {{0, 0}, {480, 18}, {503, 0}}, 1},
	{4, {{503, 0}, {0, 38}, {0, 0}, {502, 0}}, 3},
};

static void test_failure_pick(void **state)
{
	assert_int_equal(dp_failure_pick(NULL, 0), 0);
	for (size_t i = 0; i < TG_ARRAY_SIZE(pick_cases); i++) {
		size_t got = dp_failure_pick(pick_cases[i].r, pick_cases[i].n);

		if (got != pick_cases[i].want)
			fail_msg("case %zu: picked %zu, want %zu", i, got,
				 pick_cases[i].want);
	}
}

/* ---- emergency ---------------------------------------------------------- */

static const struct dp_emergency_entry uk_site[] = {
	{"999", "999", DP_EMERG_EMERGENCY},
	{"112", "112", DP_EMERG_EMERGENCY},
	{"9999", "999", DP_EMERG_EMERGENCY},
};
static const struct dp_emergency uk_table = {uk_site, 3};

static const struct {
	const struct dp_emergency *t;
	const char *number;
	enum dp_emergency_class cls;
	const char *service;
} emerg_cases[] = {
	{NULL, "911", DP_EMERG_EMERGENCY, "911"},
	{NULL, "112", DP_EMERG_EMERGENCY, "112"},
	{NULL, "933", DP_EMERG_TEST, "933"},
	{NULL, "9911", DP_EMERG_NONE, NULL},
	{NULL, "9110", DP_EMERG_NONE, NULL},
	{NULL, "91", DP_EMERG_NONE, NULL},
	{NULL, "1911", DP_EMERG_NONE, NULL},
	{NULL, "", DP_EMERG_NONE, NULL},
	{NULL, "999", DP_EMERG_NONE, NULL},
	{&dp_emergency_default, "911", DP_EMERG_EMERGENCY, "911"},
	{&dp_emergency_default_dial9, "9911", DP_EMERG_EMERGENCY, "911"},
	{&dp_emergency_default_dial9, "9112", DP_EMERG_EMERGENCY, "112"},
	{&dp_emergency_default_dial9, "9933", DP_EMERG_TEST, "933"},
	{&dp_emergency_default_dial9, "911", DP_EMERG_EMERGENCY, "911"},
	{&dp_emergency_default_dial9, "99911", DP_EMERG_NONE, NULL},
	{&uk_table, "999", DP_EMERG_EMERGENCY, "999"},
	{&uk_table, "9999", DP_EMERG_EMERGENCY, "999"},
	{&uk_table, "911", DP_EMERG_NONE, NULL},
	{&uk_table, "933", DP_EMERG_NONE, NULL},
	{NULL, "urn:service:sos", DP_EMERG_EMERGENCY, "urn:service:sos"},
	{&uk_table, "urn:service:sos.police", DP_EMERG_EMERGENCY,
	 "urn:service:sos.police"},
	{NULL, "URN:Service:SOS", DP_EMERG_EMERGENCY, "URN:Service:SOS"},
	{NULL, "urn:service:sosx", DP_EMERG_NONE, NULL},
	{NULL, "urn:service:so", DP_EMERG_NONE, NULL},
	{NULL, "urn:service:test.sos", DP_EMERG_TEST, "urn:service:test.sos"},
	{NULL, "urn:service:test.sos.fire", DP_EMERG_TEST,
	 "urn:service:test.sos.fire"},
	{NULL, "urn:service:test", DP_EMERG_NONE, NULL},
	{NULL, "urn:service:counseling", DP_EMERG_NONE, NULL},
};

static void test_emergency(void **state)
{
	const char *svc = "x";

	for (size_t i = 0; i < TG_ARRAY_SIZE(emerg_cases); i++) {
		enum dp_emergency_class k = dp_emergency_match(
			emerg_cases[i].t, emerg_cases[i].number, &svc);

		if (k != emerg_cases[i].cls ||
		    (emerg_cases[i].service
			     ? !svc || strcmp(svc, emerg_cases[i].service)
			     : svc != NULL))
			fail_msg("case %zu '%s': class %d service %s", i,
				 emerg_cases[i].number, k, svc ? svc : "-");
	}
	assert_int_equal(dp_emergency_match(NULL, NULL, &svc), DP_EMERG_NONE);
	assert_null(svc);
	assert_int_equal(dp_emergency_match(NULL, "911", NULL),
			 DP_EMERG_EMERGENCY);
}

static void test_emergency_check(void **state)
{
	static const struct dp_emergency_entry dup[] = {
		{"911", "911", DP_EMERG_EMERGENCY},
		{"911", "911", DP_EMERG_TEST}};
	static const struct dp_emergency_entry letters[] = {
		{"91a", "911", DP_EMERG_EMERGENCY}};
	static const struct dp_emergency_entry none[] = {
		{"911", "911", DP_EMERG_EMERGENCY},
		{"912", "911", DP_EMERG_NONE}};
	static const struct dp_emergency_entry nosvc[] = {
		{"911", "", DP_EMERG_EMERGENCY}};
	const struct dp_emergency t_dup = {dup, 2}, t_letters = {letters, 1},
				  t_none = {none, 2}, t_nosvc = {nosvc, 1};
	char err[128];

	assert_int_equal(dp_emergency_check(&dp_emergency_default_dial9, err,
					    sizeof(err)),
			 0);
	assert_int_equal(dp_emergency_check(&uk_table, err, sizeof(err)), 0);
	assert_int_equal(dp_emergency_check(&t_dup, err, sizeof(err)), EINVAL);
	assert_string_equal(err, "emergency entry 2 (911): same number as "
				 "entry 1");
	assert_int_equal(dp_emergency_check(&t_letters, err, sizeof(err)),
			 EINVAL);
	assert_non_null(strstr(err, "emergency entry 1 (91a)"));
	assert_int_equal(dp_emergency_check(&t_none, err, sizeof(err)), EINVAL);
	assert_non_null(strstr(err, "emergency entry 2 (912)"));
	assert_int_equal(dp_emergency_check(&t_nosvc, err, sizeof(err)),
			 EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_normalize, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_normalize_short_codes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_format_passthrough, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_patterns, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules_prefix, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rules_pattern, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rules_regex, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rules_conditions, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rules_ton_pres, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rules_order_continue,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_rules_trace_nomatch, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rules_apply_errors, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rules_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rules_spaces_and_case,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_failover_builtin, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failover_overrides, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failover_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failover_result, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_failure_pick, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_emergency, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_emergency_check, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
