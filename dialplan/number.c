/* dialplan/number.c  Number forms: normalise to E.164, format per trunk */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"
#include "dialplan.h"
#include "rules.h"

static const struct {
	enum dp_ton ton;
	const char *name;
} tons[] = {
	{DP_TON_UNKNOWN, "unknown"},
	{DP_TON_INTERNATIONAL, "international"},
	{DP_TON_NATIONAL, "national"},
	{DP_TON_NETWORK, "network"},
	{DP_TON_SUBSCRIBER, "subscriber"},
	{DP_TON_SUBSCRIBER, "local"}, /* alias, parse only */
	{DP_TON_ABBREVIATED, "abbreviated"},
};

static const struct {
	enum dp_npi npi;
	const char *name;
} npis[] = {
	{DP_NPI_UNKNOWN, "unknown"},
	{DP_NPI_E164, "isdn"},
	{DP_NPI_E164, "e164"}, /* alias, parse only */
	{DP_NPI_PRIVATE, "private"},
};

const char *dp_ton_name(enum dp_ton ton)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(tons); i++)
		if (tons[i].ton == ton)
			return tons[i].name;
	return "?";
}

const char *dp_npi_name(enum dp_npi npi)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(npis); i++)
		if (npis[i].npi == npi)
			return npis[i].name;
	return "?";
}

int dp_ton_parse(enum dp_ton *ton, const char *name)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(tons); i++) {
		if (!strcasecmp(tons[i].name, name)) {
			*ton = tons[i].ton;
			return 0;
		}
	}
	return EINVAL;
}

int dp_npi_parse(enum dp_npi *npi, const char *name)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(npis); i++) {
		if (!strcasecmp(npis[i].name, name)) {
			*npi = npis[i].npi;
			return 0;
		}
	}
	return EINVAL;
}

static bool has_prefix(const char *s, const char *prefix)
{
	return *prefix && !strncmp(s, prefix, strlen(prefix));
}

/* Skip a tel:, sip: or sips: scheme and return where the number ends:
 * at '@' for SIP (RFC 3261 19.1.1 userinfo), at ';' for both (RFC 3966
 * 3 par; user parameters such as ;phone-context=). */
static const char *uri_user(const char *in, size_t *len)
{
	static const char *const schemes[] = {"tel:", "sip:", "sips:"};
	bool sip = false;
	size_t n;

	for (size_t i = 0; i < TG_ARRAY_SIZE(schemes); i++) {
		n = strlen(schemes[i]);
		if (!strncasecmp(in, schemes[i], n)) {
			sip = i > 0;
			in += n;
			break;
		}
	}
	*len = strcspn(in, sip ? ";@" : ";");
	return in;
}

/* Copy the digits of @p in to @p out, dropping RFC 3966 visual
 * separators (and spaces, which people type); '+' may only lead. */
static int clean(char *out, bool *plus, const char *in)
{
	const char *p;
	size_t len, n = 0;

	*plus = false;
	p = uri_user(in, &len);
	for (size_t i = 0; i < len; i++) {
		char c = p[i];

		if (strchr("-.() ", c))
			continue;
		if (c == '+' && !n && !*plus) {
			*plus = true;
			continue;
		}
		if (!((c >= '0' && c <= '9') || c == '*' || c == '#'))
			return EINVAL;
		if (n >= DP_NUMBER_MAX)
			return ERANGE;
		out[n++] = c;
	}
	out[n] = '\0';
	return n ? 0 : EINVAL;
}

/* E.164 6.1: the country code never starts with 0 and the whole number
 * has at most 15 digits; a country code and one digit at least. */
static int check_e164(const char *s)
{
	size_t len = strlen(s);

	if (!dp_is_digits(s) || s[0] == '0' || len < 3)
		return EINVAL;
	return len > DP_E164_MAX ? ERANGE : 0;
}

static int join(char *out, const char *a, const char *b, const char *c)
{
	int n = snprintf(out, DP_NUMBER_MAX + 1, "%s%s%s", a, b, c);

	return n < 0 || n > DP_NUMBER_MAX ? ERANGE : 0;
}

/* A number without TON, as a trunk of plan @p cp writes it.  The order
 * matters: explicit prefixes first, then fixed lengths, then local. */
static int classify(char *e164, const char *d, const struct dp_country_plan *cp)
{
	size_t len = strlen(d);
	size_t nlen = strlen(cp->national_prefix);

	if (has_prefix(d, cp->intl_prefix))
		return join(e164, d + strlen(cp->intl_prefix), "", "");
	if (cp->bare_is_e164)
		return join(e164, d, "", "");
	/* National plans keep the trunk prefix out of the first digit of
	 * national and local numbers (NANP area and office codes are
	 * NXX; European NSNs never start with 0), so a number starting
	 * with it can only be the prefixed national form. */
	if (has_prefix(d, cp->national_prefix))
		return !cp->nsn_len || len - nlen == cp->nsn_len
			       ? join(e164, cp->cc, d + nlen, "")
			       : EINVAL;
	if (cp->nsn_len && len == cp->nsn_len)
		return join(e164, cp->cc, d, "");
	if (*cp->area_code && (!cp->local_len || len == cp->local_len))
		return join(e164, cp->cc, cp->area_code, d);
	return EINVAL;
}

int dp_number_normalize(struct dp_number *out, const char *in, enum dp_ton ton,
			const struct dp_country_plan *cp)
{
	char d[DP_NUMBER_MAX + 1], e164[DP_NUMBER_MAX + 1];
	bool plus;
	int err;

	if (!out || !in || !cp)
		return EINVAL;
	err = clean(d, &plus, in);
	if (err)
		return err;
	if (ton == DP_TON_NETWORK || ton == DP_TON_ABBREVIATED) {
		/* Short codes and carrier-specific numbers have no E.164
		 * form; keep them for the rules to handle. */
		if (plus)
			return EINVAL;
		memcpy(out->digits, d, sizeof(d));
		out->ton = ton;
		out->npi = DP_NPI_UNKNOWN;
		out->pres = DP_PRES_ALLOWED;
		return 0;
	}
	/* RFC 3966 5.1.4: a leading '+' makes a global number whatever
	 * the TON said. */
	if (plus || ton == DP_TON_INTERNATIONAL)
		err = join(e164, d, "", "");
	else if (ton == DP_TON_NATIONAL)
		err = join(e164, cp->cc, d, "");
	else if (ton == DP_TON_SUBSCRIBER)
		err = *cp->area_code ? join(e164, cp->cc, cp->area_code, d)
				     : EINVAL;
	else if (ton == DP_TON_UNKNOWN)
		err = classify(e164, d, cp);
	else
		err = EINVAL;
	if (!err)
		err = check_e164(e164);
	if (err)
		return err;
	memcpy(out->digits, e164, sizeof(e164));
	out->ton = DP_TON_INTERNATIONAL;
	out->npi = DP_NPI_E164;
	out->pres = DP_PRES_ALLOWED;
	return 0;
}

static int fmt_national(struct dp_number *out, const char *d,
			const struct dp_country_plan *cp, bool dialled)
{
	const char *nsn = d + strlen(cp->cc);

	if (!has_prefix(d, cp->cc)) {
		/* A foreign number has no national form. */
		if (dialled && *cp->intl_prefix) {
			out->ton = DP_TON_UNKNOWN;
			return join(out->digits, cp->intl_prefix, d, "");
		}
		out->ton = DP_TON_INTERNATIONAL;
		return join(out->digits, dialled ? "+" : "", d, "");
	}
	/* Q.931 4.5.10: with TON national the digits carry no prefix;
	 * a dialled string carries it and says TON unknown. */
	out->ton = dialled ? DP_TON_UNKNOWN : DP_TON_NATIONAL;
	return join(out->digits, dialled ? cp->national_prefix : "", nsn, "");
}

int dp_number_format(struct dp_number *out, const struct dp_number *num,
		     enum dp_number_fmt fmt, const struct dp_country_plan *cp)
{
	struct dp_number r = *num;
	const char *d = num->digits;
	size_t clen = strlen(cp->cc), alen = strlen(cp->area_code);
	int err;

	if (num->ton != DP_TON_INTERNATIONAL) {
		*out = r;
		return 0;
	}
	if (!dp_is_digits(d))
		return EINVAL;
	r.npi = DP_NPI_E164;
	r.ton = DP_TON_INTERNATIONAL;
	switch (fmt) {
	case DP_FMT_PLUS:
		err = join(r.digits, "+", d, "");
		break;
	case DP_FMT_E164:
		err = 0;
		break;
	case DP_FMT_NATIONAL:
		err = fmt_national(&r, d, cp, false);
		break;
	case DP_FMT_NATIONAL_PREFIX:
		err = fmt_national(&r, d, cp, true);
		break;
	case DP_FMT_LOCAL:
		if (has_prefix(d, cp->cc) && alen &&
		    !strncmp(d + clen, cp->area_code, alen) &&
		    strlen(d) > clen + alen &&
		    (!cp->local_len ||
		     strlen(d) - clen - alen == cp->local_len)) {
			r.ton = DP_TON_SUBSCRIBER;
			err = join(r.digits, d + clen + alen, "", "");
		} else {
			err = fmt_national(&r, d, cp, false);
		}
		break;
	default:
		err = EINVAL;
	}
	if (!err)
		*out = r;
	return err;
}

/* ---- emergency class --------------------------------------------------- */

static const struct dp_emergency_entry emerg_default[] = {
	{"911", "911", DP_EMERG_EMERGENCY},
	{"112", "112", DP_EMERG_EMERGENCY},
	{"933", "933", DP_EMERG_TEST},
	/* Sites that dial 9 for an outside line: Kari's Law wants 911
	 * without a prefix, but users still dial 9 first. */
	{"9911", "911", DP_EMERG_EMERGENCY},
	{"9112", "112", DP_EMERG_EMERGENCY},
	{"9933", "933", DP_EMERG_TEST},
};

const struct dp_emergency dp_emergency_default = {emerg_default, 3};
const struct dp_emergency dp_emergency_default_dial9 = {
	emerg_default, TG_ARRAY_SIZE(emerg_default)};

int dp_emergency_check(const struct dp_emergency *t, char *err, size_t errsize)
{
	for (size_t i = 0; i < t->n; i++) {
		const struct dp_emergency_entry *e = &t->entries[i];

		if (!dp_is_digits(e->number) || !dp_is_digits(e->service) ||
		    (e->cls != DP_EMERG_EMERGENCY && e->cls != DP_EMERG_TEST)) {
			snprintf(err, errsize,
				 "emergency entry %zu (%s): needs digits, a "
				 "digit service and a class",
				 i + 1, e->number);
			return EINVAL;
		}
		for (size_t j = 0; j < i; j++) {
			if (!strcmp(t->entries[j].number, e->number)) {
				snprintf(err, errsize,
					 "emergency entry %zu (%s): same "
					 "number as entry %zu",
					 i + 1, e->number, j + 1);
				return EINVAL;
			}
		}
	}
	return 0;
}

enum dp_emergency_class dp_emergency_match(const struct dp_emergency *table,
					   const char *number,
					   const char **service)
{
	enum dp_emergency_class cls = DP_EMERG_NONE;
	const char *svc = NULL;

	if (!table)
		table = &dp_emergency_default;
	if (!number) {
		cls = DP_EMERG_NONE;
	} else if (!strncasecmp(number, "urn:service:sos", 15) &&
		   (!number[15] || number[15] == '.')) {
		/* RFC 5031 4.2: urn:service:sos and its sub-services. */
		cls = DP_EMERG_EMERGENCY;
		svc = number;
	} else if (!strncasecmp(number, "urn:service:test.sos", 20) &&
		   (!number[20] || number[20] == '.')) {
		/* RFC 6881 15: test calls use the test service prefix. */
		cls = DP_EMERG_TEST;
		svc = number;
	} else {
		/* Exact match only: "9110" or "1120" are not emergency
		 * calls, and a prefix match would turn misdials into
		 * PSAP calls. */
		for (size_t i = 0; i < table->n; i++) {
			if (!strcmp(table->entries[i].number, number)) {
				cls = table->entries[i].cls;
				svc = table->entries[i].service;
				break;
			}
		}
	}
	if (service)
		*service = svc;
	return cls;
}
