/* dialplan/enum.c  ENUM (RFC 6116): owner names and NAPTR selection
 *
 * A NAPTR record's regexp comes from whoever runs the DNS zone, so every
 * field is bounded and checked here before POSIX regcomp() sees it; the
 * URI it yields is checked again before call control dials it.
 */
#include <ctype.h>
#include <errno.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"
#include "dialplan/enum.h"

#define MAX_CANDIDATES 64

static void why(char *err, size_t errsize, const char *fmt, const char *arg)
{
	if (err && errsize)
		snprintf(err, errsize, fmt, arg);
}

/* 1 to 15 digits after an optional '+' (E.164 6.1): the digits, or NULL. */
static const char *e164_digits(const char *s)
{
	size_t n;

	if (!s)
		return NULL;
	if (*s == '+')
		s++;
	n = strlen(s);
	if (n < 1 || n > 15 || strspn(s, "0123456789") != n)
		return NULL;
	return s;
}

/* ---- owner names -------------------------------------------------------- */

int dp_enum_name(const char *e164, const char *domain, char *out, size_t size)
{
	const char *d = e164_digits(e164);
	size_t dlen, n = 0, label = 0;

	if (!d || !domain)
		return EINVAL;
	dlen = strlen(domain);
	if (dlen && domain[dlen - 1] == '.')
		dlen--;
	if (!dlen || dlen > 253)
		return EINVAL;
	for (size_t i = 0; i < dlen; i++) {
		char c = domain[i];

		if (c == '.') {
			if (!label || domain[i - 1] == '-')
				return EINVAL;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)c) && c != '-')
			return EINVAL;
		if ((c == '-' && !label) || ++label > 63)
			return EINVAL;
	}
	if (!label || domain[dlen - 1] == '-')
		return EINVAL;
	if (2 * strlen(d) + dlen + 1 > size)
		return ENOSPC;
	for (size_t i = strlen(d); i-- > 0;) {
		out[n++] = d[i];
		out[n++] = '.';
	}
	memcpy(out + n, domain, dlen);
	out[n + dlen] = '\0';
	return 0;
}

/* ---- the regexp field ----------------------------------------------------- */

/* One part of the field, up to the next unescaped @p delim; '\' before
 * the delimiter yields the delimiter.  In the ERE other escapes stay as
 * they are (they mean something to regcomp); *p ends past the delimiter. */
static int field_part(const char **p, char delim, char *out, size_t size)
{
	const char *s = *p;
	size_t n = 0;

	for (; *s && *s != delim; s++) {
		if (*s == '\\' && s[1] == delim) {
			s++;
		} else if (*s == '\\' && s[1]) {
			if (n + 2 >= size)
				return ENOSPC;
			out[n++] = *s++;
		}
		if (n + 1 >= size)
			return ENOSPC;
		out[n++] = *s;
	}
	if (*s != delim)
		return EINVAL;
	out[n] = '\0';
	*p = s + 1;
	return 0;
}

/*
 * regcomp()/regexec() run on the signalling thread, so an ERE from DNS
 * must not be able to take long: glibc supports back-references in EREs
 * (exponential matching) and expands bounded repetitions when compiling
 * ("(a{99}){99}"), so neither is accepted beyond small bounds.  Real
 * ENUM zones use "^.*$" and "^\+1(.*)$"-like expressions.
 */
#define MAX_BOUND  16
#define MAX_BOUNDS 2
#define MAX_QUANT  16
#define MAX_DEPTH  4

static const char *ere_unsafe(const char *ere)
{
	unsigned bounds = 0, quants = 0, depth = 0;
	bool after_quant = false;

	for (const char *c = ere; *c; c++) {
		if (*c == '\\' && c[1]) {
			if (isdigit((unsigned char)c[1]))
				return "a back-reference in the ERE";
			c++;
			after_quant = false;
			continue;
		}
		if (*c == '[') {
			/* A bracket expression: "]" first is a member. */
			c++;
			if (*c == '^')
				c++;
			if (*c == ']')
				c++;
			while (*c && *c != ']')
				c++;
			if (!*c)
				return "an unterminated bracket expression";
			after_quant = false;
			continue;
		}
		if (*c == '(' && ++depth > MAX_DEPTH)
			return "groups nested too deep";
		if (*c == ')' && depth)
			depth--;
		if (!strchr("*+?{", *c)) {
			after_quant = false;
			continue;
		}
		/* "a**", "(.*)+" are fine to a backtracking-free matcher
		 * but glibc compiles stacked repetitions into big trees. */
		if (after_quant)
			return "stacked repetitions";
		if (++quants > MAX_QUANT)
			return "too many repetitions";
		after_quant = true;
		if (*c != '{')
			continue;
		if (++bounds > MAX_BOUNDS)
			return "too many bounded repetitions";
		for (c++; *c && *c != '}'; c++) {
			char *end;
			unsigned long v;

			if (*c == ',')
				continue;
			if (!isdigit((unsigned char)*c))
				return "a malformed bound";
			v = strtoul(c, &end, 10);
			if (v > MAX_BOUND)
				return "a repetition bound over 16";
			c = end - 1;
		}
		if (!*c)
			return "an unterminated bound";
	}
	return NULL;
}

int dp_enum_regexp(const char *regexp, const char *aus, char *out, size_t size,
		   char *err, size_t errsize)
{
	const char *unsafe;
	char ere[256], repl[256];
	regmatch_t m[10];
	const char *p;
	regex_t rx;
	size_t n = 0;
	char delim;
	int cflags = REG_EXTENDED, rc;

	if (!regexp || !aus || !out || !size)
		return EINVAL;
	delim = regexp[0];
	if (!delim || isdigit((unsigned char)delim) || delim == '\\' ||
	    delim == 'i' || (unsigned char)delim < 0x21 ||
	    (unsigned char)delim > 0x7e) {
		why(err, errsize, "regexp '%.60s': no usable delimiter",
		    regexp);
		return EINVAL;
	}
	p = regexp + 1;
	if (field_part(&p, delim, ere, sizeof(ere)) ||
	    field_part(&p, delim, repl, sizeof(repl))) {
		why(err, errsize, "regexp '%.60s': not delim ERE delim "
		    "replacement delim", regexp);
		return EINVAL;
	}
	if (!strcmp(p, "i")) {
		cflags |= REG_ICASE;
	} else if (*p) {
		why(err, errsize, "regexp '%.60s': unknown flags", regexp);
		return EINVAL;
	}
	unsafe = ere_unsafe(ere);
	if (unsafe) {
		if (err && errsize)
			snprintf(err, errsize, "regexp '%.60s': %s refused",
				 regexp, unsafe);
		return EINVAL;
	}
	if (!*ere || regcomp(&rx, ere, cflags)) {
		why(err, errsize, "regexp '%.60s': bad ERE", regexp);
		return EINVAL;
	}
	rc = regexec(&rx, aus, TG_ARRAY_SIZE(m), m, 0) ? ENOENT : 0;
	for (const char *r = repl; !rc && *r; r++) {
		const char *from = r;
		size_t len = 1;

		if (*r == '\\' && r[1] >= '1' && r[1] <= '9') {
			size_t g = (size_t)(r[1] - '0');

			r++;
			if (g > rx.re_nsub) {
				why(err, errsize, "regexp '%.60s': a back-"
				    "reference to a group it does not have",
				    regexp);
				rc = EINVAL;
				break;
			}
			if (m[g].rm_so < 0)
				continue;
			from = aus + m[g].rm_so;
			len = (size_t)(m[g].rm_eo - m[g].rm_so);
		} else if (*r == '\\' && r[1]) {
			from = ++r;
		}
		if (n + len >= size) {
			rc = ENOSPC;
			break;
		}
		memcpy(out + n, from, len);
		n += len;
	}
	regfree(&rx);
	out[rc ? 0 : n] = '\0';
	return rc;
}

/* ---- choosing a record ---------------------------------------------------- */

/* "E2U+sip", "E2U+sip:voice+pstn:tel", ...: an enumservice of type sip. */
static bool sip_service(const char *svc)
{
	const char *p;

	if (strncasecmp(svc, "E2U+", 4))
		return false;
	for (p = svc + 4; *p;) {
		size_t len = strcspn(p, "+");
		size_t type = strcspn(p, ":+");

		if (type == 3 && !strncasecmp(p, "sip", 3))
			return true;
		p += len;
		if (*p == '+')
			p++;
	}
	return false;
}

static bool uri_ok(const char *uri)
{
	if (strncasecmp(uri, "sip:", 4) && strncasecmp(uri, "sips:", 5))
		return false;
	for (const unsigned char *c = (const unsigned char *)uri; *c; c++)
		if (*c <= 0x20 || *c == 0x7f || *c == '<' || *c == '>' ||
		    *c == '"')
			return false;
	return true;
}

int dp_enum_select(const char *e164, const struct dp_naptr *recs, size_t n,
		   char *uri, size_t size, char *err, size_t errsize)
{
	const char *d = e164_digits(e164);
	size_t cand[MAX_CANDIDATES], nc = 0;
	char aus[20];

	if (!d || !uri || !size)
		return EINVAL;
	uri[0] = '\0';
	why(err, errsize, "%s", "no E2U+sip record");
	snprintf(aus, sizeof(aus), "+%s", d);
	for (size_t i = 0; i < n && nc < MAX_CANDIDATES; i++) {
		size_t k;

		if (strcasecmp(recs[i].flags, "u") ||
		    !sip_service(recs[i].service))
			continue;
		/* Insertion by (order, preference), stable for ties. */
		k = nc++;
		while (k > 0 &&
		       (recs[cand[k - 1]].order > recs[i].order ||
			(recs[cand[k - 1]].order == recs[i].order &&
			 recs[cand[k - 1]].preference > recs[i].preference))) {
			cand[k] = cand[k - 1];
			k--;
		}
		cand[k] = i;
	}
	for (size_t k = 0; k < nc; k++) {
		const struct dp_naptr *r = &recs[cand[k]];
		int rc = dp_enum_regexp(r->regexp, aus, uri, size, err,
					errsize);

		if (!rc && uri_ok(uri))
			return 0;
		if (!rc)
			why(err, errsize, "'%.80s' is not a SIP URI", uri);
		else if (rc == ENOENT)
			why(err, errsize, "regexp '%.60s' does not match",
			    r->regexp);
		else if (rc == ENOSPC)
			why(err, errsize, "regexp '%.60s' gives too long a URI",
			    r->regexp);
		uri[0] = '\0';
	}
	return ENOENT;
}
