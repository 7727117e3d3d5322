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
	check_numbers(f[6]);
	check_numbers(f[1]);
	dp_emergency_match(NULL, f[6], NULL);
	check_failover(f[7]);
	free(buf);
	return 0;
}
