/* dialplan/rules.c  Number manipulation rules: match, rewrite, explain */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "util/util.h"
#include "dialplan.h"
#include "rules.h"

/* Backtracking bounds for every regex match: a rule such as (0*)*1
 * against a long number must fail fast, not stall the signalling loop.
 * A number has at most DP_NUMBER_MAX characters, so honest patterns
 * stay far below these. */
#define MATCH_LIMIT    20000
#define DEPTH_LIMIT    200
#define HEAP_LIMIT_KIB 256

enum kind { K_ANY, K_PREFIX, K_PATTERN, K_REGEX };

static const char *const kind_names[] = {"any", "prefix", "pattern", "regex"};

struct rule {
	char label[64]; /* "rule 3" or "rule 3 (intl)" */
	enum kind kind;
	char match[128];
	char trunk[32];
	bool any_ton;
	enum dp_ton ton;
	pcre2_code *re;
	bool replace;
	char tmpl[64];
	bool strip_set, prepend_set, ton_set, npi_set, pres_set, cont;
	unsigned strip;
	char prepend[DP_NUMBER_MAX + 1];
	enum dp_ton new_ton;
	enum dp_npi new_npi;
	enum dp_pres new_pres;
};

struct dp_rules {
	size_t n;
	struct rule *v;
	pcre2_match_context *mctx;
	uint32_t ovec_pairs; /* most capture groups of any regex, plus 1 */
};

static void destructor(void *arg)
{
	struct dp_rules *rs = arg;

	for (size_t i = 0; i < rs->n; i++)
		pcre2_code_free(rs->v[i].re);
	free(rs->v);
	pcre2_match_context_free(rs->mctx);
}

/* ---- Asterisk-style patterns ------------------------------------------ */

/* Characters a number may hold, as bits of a set: 0-9, '*', '#', '+'. */
static int char_bit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c == '*')
		return 10;
	if (c == '#')
		return 11;
	if (c == '+')
		return 12;
	return -1;
}

#define SET_DIGITS 0x3ffu
#define SET_ALL	   0x1fffu

enum elem { E_SET, E_ONE_MORE, E_ZERO_MORE, E_END, E_BAD };

/* Bracket [1-5], [137], [1-37-9]: digits, '*', '#', and ranges of
 * digits.  Sets *p past the ']'. */
static enum elem bracket(const char **p, uint16_t *set)
{
	const char *s = *p + 1;

	*set = 0;
	while (*s && *s != ']') {
		int a = char_bit(s[0]);

		if (a < 0)
			return E_BAD;
		if (s[1] == '-' && s[2] && s[2] != ']') {
			int b = char_bit(s[2]);

			if (a > 9 || b < 0 || b > 9 || b < a)
				return E_BAD;
			for (int i = a; i <= b; i++)
				*set |= (uint16_t)(1u << i);
			s += 3;
		} else {
			*set |= (uint16_t)(1u << a);
			s++;
		}
	}
	if (*s != ']' || !*set)
		return E_BAD;
	*p = s + 1;
	return E_SET;
}

/* One element of a pattern body (after the '_'), as in Asterisk's
 * pbx.c: X = 0-9, Z = 1-9, N = 2-9, any case. */
static enum elem next_elem(const char **p, uint16_t *set)
{
	char c = **p;
	int bit;

	switch (c) {
	case '\0':
		return E_END;
	case 'X':
	case 'x':
		*set = SET_DIGITS;
		break;
	case 'Z':
	case 'z':
		*set = SET_DIGITS & ~1u;
		break;
	case 'N':
	case 'n':
		*set = SET_DIGITS & ~3u;
		break;
	case '.':
		(*p)++;
		return E_ONE_MORE;
	case '!':
		(*p)++;
		return E_ZERO_MORE;
	case '[':
		return bracket(p, set);
	default:
		bit = char_bit(c);
		if (bit < 0)
			return E_BAD;
		*set = (uint16_t)(1u << bit);
	}
	(*p)++;
	return E_SET;
}

/* Why @p pat is not a valid pattern, or NULL.  '.' and '!' only end a
 * pattern: Asterisk accepts them elsewhere, but what they mean there
 * surprises people, and no dial plan needs it. */
static const char *pattern_error(const char *pat, size_t *where)
{
	const char *p = pat;
	uint16_t set;

	if (*p != '_') {
		for (; *p; p++) {
			if (char_bit(*p) < 0) {
				*where = (size_t)(p - pat);
				return "a literal may hold only 0-9 * # +";
			}
		}
		*where = 0;
		return p == pat ? "empty pattern" : NULL;
	}
	p++;
	if (!*p) {
		*where = 1;
		return "empty pattern";
	}
	for (;;) {
		const char *at = p;

		switch (next_elem(&p, &set)) {
		case E_END:
			return NULL;
		case E_SET:
			break;
		case E_ONE_MORE:
		case E_ZERO_MORE:
			if (*p) {
				*where = (size_t)(at - pat);
				return "'.' and '!' may only end a pattern";
			}
			return NULL;
		case E_BAD:
			*where = (size_t)(at - pat);
			return "bad pattern element";
		}
	}
}

static bool rest_valid(const char *s, size_t min)
{
	size_t n = 0;

	for (; *s; s++, n++)
		if (char_bit(*s) < 0)
			return false;
	return n >= min;
}

bool dp_pattern_match(const char *pattern, const char *number)
{
	const char *p = pattern;
	size_t where;

	if (pattern_error(pattern, &where))
		return false;
	if (*p != '_')
		return !strcmp(p, number);
	p++;
	/* Anchored at both ends: each element takes one character and
	 * the number must end with the pattern, unless '.' or '!' take
	 * the rest. */
	for (;; number++) {
		uint16_t set = 0;
		int bit;

		switch (next_elem(&p, &set)) {
		case E_END:
			return !*number;
		case E_ONE_MORE:
			return rest_valid(number, 1);
		case E_ZERO_MORE:
			return rest_valid(number, 0);
		case E_BAD:
			return false;
		case E_SET:
			break;
		}
		bit = char_bit(*number);
		if (bit < 0 || !(set & (1u << bit)))
			return false;
	}
}

/* ---- building ---------------------------------------------------------- */

static int fail(char *err, size_t errsize, const struct rule *r,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errsize, const struct rule *r,
		const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err || !errsize)
		return EINVAL;
	n = snprintf(err, errsize, "%s: ", r->label);
	if (n >= 0 && (size_t)n < errsize) {
		va_start(ap, fmt);
		vsnprintf(err + n, errsize - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return EINVAL;
}

static bool number_chars(const char *s)
{
	return rest_valid(s, 0);
}

static int compile_regex(struct rule *r, char *err, size_t errsize)
{
	PCRE2_UCHAR msg[120];
	PCRE2_SIZE off;
	int code;

	r->re = pcre2_compile((PCRE2_SPTR)r->match, PCRE2_ZERO_TERMINATED, 0,
			      &code, &off, NULL);
	if (r->re)
		return 0;
	if (code == PCRE2_ERROR_NOMEMORY)
		return ENOMEM;
	pcre2_get_error_message(code, msg, sizeof(msg));
	return fail(err, errsize, r, "regex '%s': %s at offset %zu", r->match,
		    (const char *)msg, (size_t)off);
}

/* PCRE2 templates: $n, ${n}, ${name}.  Checked here so a template
 * naming a group the regex does not have is refused at load, not
 * discovered on a live call.  Literal text must be number characters,
 * so "$$" (a literal '$') is refused too. */
static int check_template(struct rule *r, char *err, size_t errsize)
{
	uint32_t groups;
	const char *s = r->tmpl;

	pcre2_pattern_info(r->re, PCRE2_INFO_CAPTURECOUNT, &groups);
	while (*s) {
		size_t at = (size_t)(s - r->tmpl);
		char name[64];
		long g = -1;
		size_t len;

		if (*s != '$') {
			if (char_bit(*s) < 0)
				return fail(err, errsize, r,
					    "replace '%s': '%c' at offset %zu "
					    "is not a number character",
					    r->tmpl, *s, at);
			s++;
			continue;
		}
		s++;
		if (*s >= '0' && *s <= '9') {
			char *end;

			g = strtol(s, &end, 10);
			s = end;
		} else if (*s == '{' && (len = strcspn(s + 1, "}")) &&
			   s[1 + len] == '}' && len < sizeof(name)) {
			memcpy(name, s + 1, len);
			name[len] = '\0';
			s += len + 2;
			if (name[0] >= '0' && name[0] <= '9')
				g = dp_is_digits(name) ? atol(name) : -1;
			else
				g = pcre2_substring_number_from_name(
					r->re, (PCRE2_SPTR)name);
		}
		if (g < 0 || g > (long)groups)
			return fail(err, errsize, r,
				    "replace '%s': bad group reference at "
				    "offset %zu (the regex has %u groups)",
				    r->tmpl, at, (unsigned)groups);
	}
	return 0;
}

static int parse_action(struct rule *r, const char *item, char *err,
			size_t errsize)
{
	const char *v = strchr(item, '=');
	size_t klen = v ? (size_t)(v - item) : strlen(item);
	bool dup = false;
	int e = 0;

#define KEY(k) (klen == strlen(k) && !strncmp(item, k, klen))
	if (v)
		v++;
	if (!v && KEY("continue")) {
		dup = r->cont;
		r->cont = true;
	} else if (!v && KEY("replace")) {
		if (r->kind != K_REGEX)
			return fail(err, errsize, r,
				    "action 'replace' needs a regex rule");
		dup = r->replace;
		r->replace = true;
	} else if (v && KEY("strip")) {
		dup = r->strip_set;
		r->strip_set = true;
		if (!dp_is_digits(v) || strlen(v) > 2 ||
		    (r->strip = (unsigned)atoi(v)) > DP_NUMBER_MAX)
			e = 1;
	} else if (v && KEY("prepend")) {
		dup = r->prepend_set;
		r->prepend_set = true;
		if (!*v || !number_chars(v) || strlen(v) > DP_NUMBER_MAX)
			e = 1;
		else
			tg_strlcpy(r->prepend, v, sizeof(r->prepend));
	} else if (v && KEY("ton")) {
		dup = r->ton_set;
		r->ton_set = true;
		e = dp_ton_parse(&r->new_ton, v);
	} else if (v && KEY("npi")) {
		dup = r->npi_set;
		r->npi_set = true;
		e = dp_npi_parse(&r->new_npi, v);
	} else if (v && KEY("pres")) {
		dup = r->pres_set;
		r->pres_set = true;
		if (!strcasecmp(v, "allowed"))
			r->new_pres = DP_PRES_ALLOWED;
		else if (!strcasecmp(v, "restricted"))
			r->new_pres = DP_PRES_RESTRICTED;
		else
			e = 1;
	} else {
		return fail(err, errsize, r, "unknown action '%s'", item);
	}
#undef KEY
	if (dup)
		return fail(err, errsize, r, "action '%s' given twice", item);
	if (e)
		return fail(err, errsize, r, "bad value in action '%s'", item);
	return 0;
}

static int parse_actions(struct rule *r, const char *actions, char *err,
			 size_t errsize)
{
	char buf[sizeof(((struct dp_rule_row *)0)->actions)];
	char *save = NULL, *item;
	int e;

	size_t n = 0;

	/* Values never hold blanks, so "strip=1, prepend=0" is read as
	 * written without blanks. */
	for (const char *p = actions; *p && n + 1 < sizeof(buf); p++)
		if (*p != ' ' && *p != '\t')
			buf[n++] = *p;
	buf[n] = '\0';
	if (*r->tmpl && !strstr(buf, "replace"))
		return fail(err, errsize, r,
			    "replace template given without the 'replace' "
			    "action");
	if (!*buf)
		return 0;
	/* strtok_r would skip empty items silently; ",," is a typo. */
	if (buf[0] == ',' || buf[strlen(buf) - 1] == ',' || strstr(buf, ",,"))
		return fail(err, errsize, r, "actions '%s': empty item",
			    actions);
	for (item = strtok_r(buf, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		e = parse_action(r, item, err, errsize);
		if (e)
			return e;
	}
	if (*r->tmpl && !r->replace)
		return fail(err, errsize, r,
			    "replace template given without the 'replace' "
			    "action");
	return 0;
}

static int parse_match(struct rule *r, const struct dp_rule_row *row, char *err,
		       size_t errsize)
{
	const char *kind = *row->kind ? row->kind : "any";
	const char *why;
	size_t where;
	bool found = false;

	for (size_t k = 0; k < TG_ARRAY_SIZE(kind_names); k++) {
		if (!strcasecmp(kind, kind_names[k])) {
			r->kind = (enum kind)k;
			found = true;
		}
	}
	if (!found)
		return fail(err, errsize, r, "unknown match kind '%s'", kind);
	tg_strlcpy(r->match, row->match, sizeof(r->match));
	switch (r->kind) {
	case K_ANY:
		if (*r->match)
			return fail(err, errsize, r,
				    "kind 'any' takes no match '%s'", r->match);
		return 0;
	case K_PREFIX:
		if (!*r->match || !number_chars(r->match))
			return fail(err, errsize, r,
				    "prefix '%s': not 0-9 * # +", r->match);
		return 0;
	case K_PATTERN:
		why = pattern_error(r->match, &where);
		if (why)
			return fail(err, errsize, r,
				    "pattern '%s': %s at offset %zu", r->match,
				    why, where);
		return 0;
	case K_REGEX:
		return compile_regex(r, err, errsize);
	}
	return EINVAL;
}

static int build_rule(struct rule *r, size_t i, const struct dp_rule_row *row,
		      char *err, size_t errsize)
{
	int e;

	if (*row->name)
		snprintf(r->label, sizeof(r->label), "rule %zu (%.31s)", i + 1,
			 row->name);
	else
		snprintf(r->label, sizeof(r->label), "rule %zu", i + 1);
	e = parse_match(r, row, err, errsize);
	if (e)
		return e;
	tg_strlcpy(r->trunk, row->trunk, sizeof(r->trunk));
	r->any_ton = !*row->ton;
	if (!r->any_ton && dp_ton_parse(&r->ton, row->ton))
		return fail(err, errsize, r, "unknown TON '%s'", row->ton);
	tg_strlcpy(r->tmpl, row->replace, sizeof(r->tmpl));
	e = parse_actions(r, row->actions, err, errsize);
	if (!e && r->replace)
		e = check_template(r, err, errsize);
	return e;
}

int dp_rules_build(struct dp_rules **out, const struct dp_rule_row *rows,
		   size_t n, char *err, size_t errsize)
{
	struct dp_rules *rs;
	int e = 0;

	if (err && errsize)
		err[0] = '\0';
	rs = obj_zalloc(sizeof(*rs), destructor);
	if (!rs)
		return ENOMEM;
	rs->ovec_pairs = 1;
	rs->mctx = pcre2_match_context_create(NULL);
	rs->v = n ? calloc(n, sizeof(*rs->v)) : NULL;
	if (!rs->mctx || (n && !rs->v)) {
		e = ENOMEM;
		goto out;
	}
	pcre2_set_match_limit(rs->mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(rs->mctx, DEPTH_LIMIT);
	pcre2_set_heap_limit(rs->mctx, HEAP_LIMIT_KIB);
	for (size_t i = 0; i < n; i++) {
		struct rule *r = &rs->v[i];
		uint32_t groups = 0;

		rs->n = i + 1; /* so the destructor frees this regex */
		e = build_rule(r, i, &rows[i], err, errsize);
		if (e)
			goto out;
		if (r->re) {
			pcre2_pattern_info(r->re, PCRE2_INFO_CAPTURECOUNT,
					   &groups);
			if (groups + 1 > rs->ovec_pairs)
				rs->ovec_pairs = groups + 1;
		}
	}
	rs->n = n;
out:
	if (e)
		obj_deref(rs);
	else
		*out = rs;
	return e;
}

size_t dp_rules_count(const struct dp_rules *rules)
{
	return rules ? rules->n : 0;
}

/* ---- applying ---------------------------------------------------------- */

static const char *err_text(int e)
{
	switch (e) {
	case ERANGE:
		return "result longer than a number";
	case ELOOP:
		return "match limit reached";
	case ENOMEM:
		return "out of memory";
	default:
		return "regex error";
	}
}

static int regex_error(int rc)
{
	switch (rc) {
	case PCRE2_ERROR_MATCHLIMIT:
	case PCRE2_ERROR_DEPTHLIMIT:
	case PCRE2_ERROR_HEAPLIMIT:
		return ELOOP;
	case PCRE2_ERROR_NOMEMORY:
		return ENOMEM;
	default:
		return EINVAL;
	}
}

/* 1 if @p r matches, 0 if not, or -errno. */
static int rule_matches(const struct dp_rules *rs, const struct rule *r,
			const char *trunk, const struct dp_number *num,
			pcre2_match_data *md)
{
	int rc;

	if (*r->trunk && (!trunk || strcmp(trunk, r->trunk)))
		return 0;
	if (!r->any_ton && num->ton != r->ton)
		return 0;
	switch (r->kind) {
	case K_ANY:
		return 1;
	case K_PREFIX:
		return !strncmp(num->digits, r->match, strlen(r->match));
	case K_PATTERN:
		return dp_pattern_match(r->match, num->digits);
	case K_REGEX:
		rc = pcre2_match(r->re, (PCRE2_SPTR)num->digits,
				 PCRE2_ZERO_TERMINATED, 0, 0, md, rs->mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			return 0;
		return rc < 0 ? -regex_error(rc) : 1;
	}
	return 0;
}

/* Fixed order, whatever the order written: replace, strip, prepend,
 * then TON/NPI/presentation, so a rule reads the same to everyone. */
static int rule_act(const struct dp_rules *rs, const struct rule *r,
		    struct dp_number *num, pcre2_match_data *md)
{
	char buf[DP_NUMBER_MAX + 1];
	PCRE2_SIZE len = sizeof(buf);
	size_t dlen;
	int rc;

	if (r->replace) {
		rc = pcre2_substitute(
			r->re, (PCRE2_SPTR)num->digits, PCRE2_ZERO_TERMINATED,
			0, PCRE2_SUBSTITUTE_UNSET_EMPTY, md, rs->mctx,
			(PCRE2_SPTR)r->tmpl, PCRE2_ZERO_TERMINATED,
			(PCRE2_UCHAR *)buf, &len);
		if (rc == PCRE2_ERROR_NOMEMORY)
			return ERANGE; /* result longer than a number */
		if (rc < 0)
			return regex_error(rc);
		memcpy(num->digits, buf, len + 1);
	}
	if (r->strip_set) {
		dlen = strlen(num->digits);
		/* Stripping more than there is leaves an empty number. */
		if (r->strip >= dlen)
			num->digits[0] = '\0';
		else
			memmove(num->digits, num->digits + r->strip,
				dlen - r->strip + 1);
	}
	if (r->prepend_set) {
		if (snprintf(buf, sizeof(buf), "%s%s", r->prepend,
			     num->digits) >= (int)sizeof(buf))
			return ERANGE;
		memcpy(num->digits, buf, sizeof(buf));
	}
	if (r->ton_set)
		num->ton = r->new_ton;
	if (r->npi_set)
		num->npi = r->new_npi;
	if (r->pres_set)
		num->pres = r->new_pres;
	return 0;
}

static void trace_add(char *trace, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void trace_add(char *trace, size_t size, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!trace || !size)
		return;
	used = strlen(trace);
	if (used + 1 >= size)
		return;
	va_start(ap, fmt);
	vsnprintf(trace + used, size - used, fmt, ap);
	va_end(ap);
}

static void trace_rule(char *trace, size_t size, const struct rule *r,
		       const char *before, const struct dp_number *num)
{
	trace_add(trace, size,
		  "%s: %s%s%s matched %s -> %s (ton %s, npi %s, "
		  "pres %s)%s\n",
		  r->label, kind_names[r->kind], *r->match ? " " : "", r->match,
		  before, num->digits, dp_ton_name(num->ton),
		  dp_npi_name(num->npi),
		  num->pres == DP_PRES_RESTRICTED ? "restricted" : "allowed",
		  r->cont ? ", continue" : "");
}

int dp_rules_apply(const struct dp_rules *rules, const char *trunk,
		   struct dp_number *num, char *trace, size_t tracesize)
{
	char before[DP_NUMBER_MAX + 1];
	pcre2_match_data *md;
	struct dp_number cur;
	bool matched = false;
	int e = 0, rc;

	if (trace && tracesize)
		trace[0] = '\0';
	if (!rules || !num)
		return EINVAL;
	cur = *num;
	/* NOTE: an unterminated number from a caller must not run off. */
	cur.digits[DP_NUMBER_MAX] = '\0';
	md = pcre2_match_data_create(rules->ovec_pairs, NULL);
	if (!md)
		return ENOMEM;
	/* Forward only: every rule applies at most once, so "continue"
	 * chains end after n rules and cannot loop. */
	for (size_t i = 0; i < rules->n; i++) {
		const struct rule *r = &rules->v[i];

		rc = rule_matches(rules, r, trunk, &cur, md);
		if (rc < 0) {
			e = -rc;
			trace_add(trace, tracesize,
				  "%s: regex failed on %s "
				  "(%s)\n",
				  r->label, cur.digits, err_text(e));
			goto out;
		}
		if (!rc)
			continue;
		matched = true;
		tg_strlcpy(before, cur.digits, sizeof(before));
		e = rule_act(rules, r, &cur, md);
		if (e) {
			trace_add(trace, tracesize,
				  "%s: matched %s but the "
				  "rewrite failed (%s)\n",
				  r->label, before, err_text(e));
			goto out;
		}
		trace_rule(trace, tracesize, r, before, &cur);
		if (!r->cont)
			break;
	}
	if (!matched)
		trace_add(trace, tracesize, "no rule matched %s\n", cur.digits);
	*num = cur;
out:
	pcre2_match_data_free(md);
	return e;
}
