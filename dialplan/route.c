/* dialplan/route.c  The routing snapshot and the decision for one call
 *
 * Everything a decision needs is compiled when the snapshot is built:
 * trunk names become indices, route conditions become masks, patterns
 * are checked, regexes compiled, time zones parsed.  dp_decide() then
 * only reads.  See route.h for the order of the steps.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <pcre2.h>

#include "util/util.h"
#include "dialplan.h"

#define MAX_TRUNKS   64   /* bits of a source-trunk mask */
/* LCR carriers looked at per call: all a snapshot can hold (one choice
 * per carrier), since carriers that are not trunks are skipped only
 * after the lookup and 32 cheaper ones used to hide every real trunk.
 * 160 KiB of stack on the loop thread; the lookup writes only what
 * matches. */
#define MAX_CHOICES  DP_LCR_MAX_CARRIERS
/* Phone numbers are at most 32 characters: real route regexes stay far
 * below these, a pathological one fails (traced) instead of stalling. */
#define MATCH_LIMIT    20000
#define DEPTH_LIMIT    200
#define HEAP_LIMIT_KIB 20 /* PCRE2 >= 10.41 starts with 20 KiB of frames */
#define ARENA_SIZE     ((HEAP_LIMIT_KIB + 4) * 1024)

enum match_kind { M_ANY, M_PREFIX, M_PATTERN, M_REGEX };

struct route {
	struct dp_route_row row;
	enum match_kind mk;
	size_t mlen;            /* strlen(row.match), for prefixes */
	pcre2_code *re;
	uint64_t src;           /* source trunks; 0 = any */
	uint8_t days;           /* bit per weekday, 0 = Sunday */
	bool all_day;
	int from_min, to_min;   /* [from, to) minutes, wrapping if to <= from */
	struct dp_tz *tz;       /* NULL = UTC */
	int trunks[DP_MAX_ATTEMPTS];
	unsigned ntrunks;
	int enum_trunk;         /* the SIP trunk an ENUM call goes out as
				 * (the route's first SIP trunk), -1 */
	struct dp_failover *fo;
};

struct block {
	bool called;
	struct dp_block_row row;
	int trunk;              /* -1 = any */
};

struct dp_snapshot {
	struct dp_trunk_row *trunks;
	size_t ntrunks;
	struct dp_rules *ingress, *egress;
	struct dp_rules *ingress_calling, *egress_calling;
	struct dp_rules *ingress_diversion, *egress_diversion;
	struct route *routes;
	size_t nroutes;
	struct dp_did_table *dids;
	struct dp_lcr *lcr;
	struct block *blocks;
	size_t nblocks;
	struct dp_emergency_entry *emerg;
	struct dp_emergency em;
	pcre2_match_context *mctx;
	unsigned t_trying_ms, t_progress_ms;
};

static void destructor(void *arg)
{
	struct dp_snapshot *s = arg;

	for (size_t i = 0; i < s->nroutes; i++) {
		pcre2_code_free(s->routes[i].re);
		dp_tz_free(s->routes[i].tz);
		obj_deref(s->routes[i].fo);
	}
	free(s->routes);
	free(s->trunks);
	free(s->blocks);
	free(s->emerg);
	obj_deref(s->ingress);
	obj_deref(s->egress);
	obj_deref(s->ingress_calling);
	obj_deref(s->egress_calling);
	obj_deref(s->ingress_diversion);
	obj_deref(s->egress_diversion);
	obj_deref(s->dids);
	obj_deref(s->lcr);
	pcre2_match_context_free(s->mctx);
}

static int fail(char *err, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (err && size) {
		va_start(ap, fmt);
		vsnprintf(err, size, fmt, ap);
		va_end(ap);
	}
	return EINVAL;
}

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static bool digits_or_empty(const char *s, size_t size, size_t max)
{
	size_t n = strnlen(s, size);

	return n < size && n <= max && (!n || dp_is_digits(s));
}

/* A plan the normaliser cannot use would refuse every call from the
 * trunk with cause 28: better to refuse the snapshot and say why. */
static int check_trunk(const struct dp_trunk_row *t, char *why, size_t size)
{
	const struct dp_country_plan *p = &t->plan;

	if (t->kind != DP_TRUNK_SIP && t->kind != DP_TRUNK_TDM)
		return fail(why, size, "kind %d is neither SIP nor TDM",
			    (int)t->kind);
	if ((unsigned)t->called_fmt > DP_FMT_LOCAL ||
	    (unsigned)t->calling_fmt > DP_FMT_LOCAL)
		return fail(why, size, "unknown number format");
	if (!digits_or_empty(p->cc, sizeof(p->cc), 3))
		return fail(why, size, "country code '%.*s' is not 1-3 digits",
			    (int)sizeof(p->cc), p->cc);
	if (!digits_or_empty(p->national_prefix, sizeof(p->national_prefix),
			     sizeof(p->national_prefix) - 1) ||
	    !digits_or_empty(p->intl_prefix, sizeof(p->intl_prefix),
			     sizeof(p->intl_prefix) - 1) ||
	    !digits_or_empty(p->area_code, sizeof(p->area_code),
			     sizeof(p->area_code) - 1))
		return fail(why, size, "national prefix, international "
			    "prefix and area code must be digits");
	if (!terminated(t->allow, sizeof(t->allow)))
		return fail(why, size, "allow list is not terminated");
	return 0;
}

static int trunk_index(const struct dp_snapshot *s, const char *name)
{
	for (size_t i = 0; i < s->ntrunks; i++)
		if (!strcmp(s->trunks[i].name, name))
			return (int)i;
	return -1;
}

const struct dp_trunk_row *dp_snapshot_trunk(const struct dp_snapshot *s,
					     const char *name)
{
	int i = s && name ? trunk_index(s, name) : -1;

	return i < 0 ? NULL : &s->trunks[i];
}

const struct dp_did_table *dp_snapshot_dids(const struct dp_snapshot *s)
{
	return s ? s->dids : NULL;
}

struct dp_lcr *dp_snapshot_lcr(const struct dp_snapshot *s)
{
	return s ? s->lcr : NULL;
}

size_t dp_snapshot_nroutes(const struct dp_snapshot *s)
{
	return s ? s->nroutes : 0;
}

/* ---- building ------------------------------------------------------------ */

/* Is @p pat a pattern dp_rules_build accepts?  One way to know for sure:
 * ask it. */
static int check_pattern(const char *pat, char *why, size_t size)
{
	struct dp_rule_row row;
	struct dp_rules *rs = NULL;
	int rc;

	memset(&row, 0, sizeof(row));
	tg_strlcpy(row.kind, "pattern", sizeof(row.kind));
	if (strlen(pat) >= sizeof(row.match))
		return fail(why, size, "pattern too long");
	tg_strlcpy(row.match, pat, sizeof(row.match));
	tg_strlcpy(row.actions, "strip=0", sizeof(row.actions));
	rc = dp_rules_build(&rs, &row, 1, why, size);
	obj_deref(rs);
	return rc;
}

/* A comma-separated list of trunk names, each checked. */
static int parse_trunk_list(const struct dp_snapshot *s, const char *list,
			    int *out, unsigned max, unsigned *n, uint64_t *mask,
			    char *bad, size_t badsize)
{
	char buf[256], *save = NULL, *tok;

	*n = 0;
	if (mask)
		*mask = 0;
	tg_strlcpy(buf, list, sizeof(buf));
	for (tok = strtok_r(buf, ", \t", &save); tok;
	     tok = strtok_r(NULL, ", \t", &save)) {
		int i = trunk_index(s, tok);

		if (i < 0) {
			tg_strlcpy(bad, tok, badsize);
			return ENOENT;
		}
		if (mask) {
			if (i >= MAX_TRUNKS)
				return E2BIG;
			*mask |= UINT64_C(1) << i;
		}
		if (out) {
			if (*n >= max)
				return E2BIG;
			out[(*n)++] = i;
		}
	}
	return 0;
}

static const char *const day_names[] = {"sun", "mon", "tue", "wed",
					"thu", "fri", "sat"};

static int day_of(const char *s, size_t len)
{
	for (int i = 0; i < 7; i++)
		if (len == 3 && !strncasecmp(s, day_names[i], 3))
			return i;
	return -1;
}

/* "mon-fri,sun": ranges may wrap ("fri-mon"). */
static int parse_days(const char *v, uint8_t *mask)
{
	const char *p = v;

	*mask = 0;
	if (!*v) {
		*mask = 0x7f;
		return 0;
	}
	while (*p) {
		size_t len = strcspn(p, ",-");
		int a = day_of(p, len), b;

		if (a < 0)
			return EINVAL;
		p += len;
		b = a;
		if (*p == '-') {
			p++;
			len = strcspn(p, ",");
			b = day_of(p, len);
			if (b < 0)
				return EINVAL;
			p += len;
		}
		for (int d = a;; d = (d + 1) % 7) {
			*mask |= (uint8_t)(1u << d);
			if (d == b)
				break;
		}
		if (*p == ',' && p[1])
			p++;
		else if (*p)
			return EINVAL;
	}
	return 0;
}

/* Exactly "HH:MM": sscanf would also take " 8:00" and "+8:00". */
static int parse_hhmm(const char *s, int *min)
{
	int h, m;

	for (int i = 0; i < 5; i++)
		if (i == 2 ? s[i] != ':' : s[i] < '0' || s[i] > '9')
			return EINVAL;
	h = (s[0] - '0') * 10 + (s[1] - '0');
	m = (s[3] - '0') * 10 + (s[4] - '0');
	if (m > 59 || h > 24 || (h == 24 && m))
		return EINVAL;
	*min = h * 60 + m;
	return 0;
}

static int parse_hours(struct route *r, const char *v)
{
	char a[8], b[8];

	r->all_day = !*v;
	if (!*v)
		return 0;
	if (strlen(v) != 11 || v[5] != '-')
		return EINVAL;
	memcpy(a, v, 5);
	a[5] = '\0';
	memcpy(b, v + 6, 5);
	b[5] = '\0';
	/* An empty range ("08:00-08:00") could mean never or always: say
	 * which by writing nothing or "00:00-24:00". */
	if (parse_hhmm(a, &r->from_min) || parse_hhmm(b, &r->to_min) ||
	    r->from_min == 24 * 60 || r->from_min == r->to_min)
		return EINVAL;
	if (r->from_min == 0 && r->to_min == 24 * 60)
		r->all_day = true;
	return 0;
}

/* Zone names are letters, digits and "/_+-" ("America/New_York",
 * "Etc/GMT+5"); anything else was meant as a POSIX string. */
static bool zone_name_shaped(const char *s)
{
	return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			 "0123456789/_+-") == strlen(s);
}

static int build_tz(struct route *r, const struct dp_snapshot_rows *rows,
		    char *err, size_t errsize)
{
	const char *name = r->row.tz;
	char posix[128];
	int rc;

	if (!*name || !strcmp(name, "UTC") || !strcmp(name, "Etc/UTC"))
		return 0;
	/* A POSIX string first: a zone name parses as one only when it
	 * means the same ("EST5EDT"), while "Etc/GMT+5" has digits and
	 * still needs the resolver. */
	rc = dp_tz_parse(&r->tz, name);
	if (rc != EINVAL)
		return rc;
	if (!zone_name_shaped(name))
		return fail(err, errsize, "route '%s': time zone '%s' is not a "
			    "POSIX TZ rule", r->row.name, name);
	if (!rows->tz_resolve)
		return fail(err, errsize, "route '%s': time zone '%s' unknown "
			    "(write a POSIX TZ string such as "
			    "EST5EDT,M3.2.0,M11.1.0: no zone database here)",
			    r->row.name, name);
	rc = rows->tz_resolve(name, posix, sizeof(posix), rows->tz_arg);
	if (rc)
		return fail(err, errsize, "route '%s': time zone '%s' not "
			    "found: %s", r->row.name, name, strerror(rc));
	posix[sizeof(posix) - 1] = '\0';
	rc = dp_tz_parse(&r->tz, posix);
	if (rc == EINVAL)
		return fail(err, errsize, "route '%s': time zone '%s': '%s' is "
			    "not a POSIX TZ rule", r->row.name, name, posix);
	return rc;
}

static int build_failover(struct route *r, char *err, size_t errsize)
{
	const char *items[32];
	char buf[sizeof(r->row.failover)], *save = NULL, *tok, why[160];
	size_t n = 0;
	int rc;

	if (!*r->row.failover)
		return 0;
	tg_strlcpy(buf, r->row.failover, sizeof(buf));
	for (tok = strtok_r(buf, ", ", &save); tok && n < 32;
	     tok = strtok_r(NULL, ", ", &save))
		items[n++] = tok;
	rc = dp_failover_build(&r->fo, items, n, why, sizeof(why));
	if (rc == EINVAL)
		return fail(err, errsize, "route '%s': failover: %s",
			    r->row.name, why);
	return rc;
}

static int route_cmp(const void *a, const void *b)
{
	const struct route *x = a, *y = b;

	if (x->row.priority != y->row.priority)
		return x->row.priority < y->row.priority ? -1 : 1;
	return strcmp(x->row.name, y->row.name);
}

static int build_route(struct dp_snapshot *s, struct route *r,
		       const struct dp_snapshot_rows *rows, char *err,
		       size_t errsize)
{
	const struct dp_route_row *row = &r->row;
	char bad[DP_NAME_SIZE] = "", why[160];
	unsigned n;
	int rc;

	if (!*row->name)
		return fail(err, errsize, "routes: a route without a name");
	if (!strcmp(row->kind, "any") || !*row->kind) {
		r->mk = M_ANY;
	} else if (!strcmp(row->kind, "prefix")) {
		r->mk = M_PREFIX;
		r->mlen = strlen(row->match);
		if (*row->match && !dp_is_digits(row->match))
			return fail(err, errsize, "route '%s': prefix '%s' is "
				    "not digits", row->name, row->match);
	} else if (!strcmp(row->kind, "pattern")) {
		r->mk = M_PATTERN;
		if (check_pattern(row->match, why, sizeof(why)))
			return fail(err, errsize, "route '%s': pattern '%s': "
				    "%s", row->name, row->match, why);
	} else if (!strcmp(row->kind, "regex")) {
		int code;
		PCRE2_SIZE off;

		r->mk = M_REGEX;
		r->re = pcre2_compile((PCRE2_SPTR)row->match,
				      PCRE2_ZERO_TERMINATED, 0, &code, &off,
				      NULL);
		if (!r->re) {
			PCRE2_UCHAR msg[120];

			pcre2_get_error_message(code, msg, sizeof(msg));
			return fail(err, errsize, "route '%s': regex '%s' at "
				    "offset %zu: %s", row->name, row->match,
				    (size_t)off, (const char *)msg);
		}
	} else {
		return fail(err, errsize, "route '%s': kind '%s' is not any, "
			    "prefix, pattern or regex", row->name, row->kind);
	}
	rc = parse_trunk_list(s, row->src_trunks, NULL, 0, &n, &r->src, bad,
			      sizeof(bad));
	if (rc)
		return fail(err, errsize, "route '%s': source trunk '%s' %s",
			    row->name, bad,
			    rc == ENOENT ? "unknown" : "beyond the 64th");
	if (*row->calling && !dp_is_digits(row->calling) &&
	    (row->calling[0] != '_' ||
	     check_pattern(row->calling, why, sizeof(why))))
		return fail(err, errsize, "route '%s': calling '%s' is neither "
			    "digits nor a valid _pattern", row->name,
			    row->calling);
	if (parse_days(row->days, &r->days))
		return fail(err, errsize, "route '%s': days '%s' (want e.g. "
			    "mon-fri,sun)", row->name, row->days);
	if (parse_hours(r, row->hours))
		return fail(err, errsize, "route '%s': hours '%s' (want "
			    "HH:MM-HH:MM)", row->name, row->hours);
	rc = parse_trunk_list(s, row->trunks, r->trunks, DP_MAX_ATTEMPTS,
			      &r->ntrunks, NULL, bad, sizeof(bad));
	if (rc == ENOENT)
		return fail(err, errsize, "route '%s': unknown trunk '%s'",
			    row->name, bad);
	if (rc)
		return fail(err, errsize, "route '%s': more than %d trunks",
			    row->name, DP_MAX_ATTEMPTS);
	if (!r->ntrunks && !row->lcr)
		return fail(err, errsize, "route '%s': no trunks and no lcr",
			    row->name);
	r->enum_trunk = -1;
	if (*row->enum_domain) {
		char name[DP_ENUM_NAME_SIZE];

		/* Checked by building a name under it. */
		if (dp_enum_name("1", row->enum_domain, name, sizeof(name)))
			return fail(err, errsize, "route '%s': enum domain "
				    "'%s' is not a domain name", row->name,
				    row->enum_domain);
		for (unsigned k = 0; k < r->ntrunks && r->enum_trunk < 0; k++)
			if (s->trunks[r->trunks[k]].kind == DP_TRUNK_SIP)
				r->enum_trunk = r->trunks[k];
		if (r->enum_trunk < 0)
			return fail(err, errsize, "route '%s': enum needs a SIP "
				    "trunk in trunks (its settings carry the "
				    "call, and it is the fallback)",
				    row->name);
	}
	rc = build_tz(r, rows, err, errsize);
	if (!rc)
		rc = build_failover(r, err, errsize);
	return rc;
}

static int build_blocks(struct dp_snapshot *s,
			const struct dp_snapshot_rows *rows, char *err,
			size_t errsize)
{
	char why[160];

	if (!rows->nblocks)
		return 0;
	s->blocks = calloc(rows->nblocks, sizeof(*s->blocks));
	if (!s->blocks)
		return ENOMEM;
	for (size_t i = 0; i < rows->nblocks; i++) {
		struct block *b = &s->blocks[i];
		const struct dp_block_row *r = &rows->blocks[i];

		b->row = *r;
		if (!terminated(r->match, sizeof(r->match)) ||
		    !terminated(r->category, sizeof(r->category)) ||
		    !terminated(r->trunk, sizeof(r->trunk)))
			return fail(err, errsize, "blocklist row %zu: a field "
				    "is not terminated", i + 1);
		if (!strcmp(r->kind, "called"))
			b->called = true;
		else if (strcmp(r->kind, "calling"))
			return fail(err, errsize, "blocklist row %zu (%s): "
				    "kind '%s' is not called or calling", i + 1,
				    r->match, r->kind);
		if (!dp_is_digits(r->match) &&
		    (r->match[0] != '_' ||
		     check_pattern(r->match, why, sizeof(why))))
			return fail(err, errsize, "blocklist row %zu: '%s' is "
				    "neither digits nor a valid _pattern",
				    i + 1, r->match);
		b->trunk = -1;
		if (*r->trunk && (b->trunk = trunk_index(s, r->trunk)) < 0)
			return fail(err, errsize, "blocklist row %zu (%s): "
				    "unknown trunk '%s'", i + 1, r->match,
				    r->trunk);
	}
	s->nblocks = rows->nblocks;
	return 0;
}

static int build_dids(struct dp_snapshot *s,
		      const struct dp_snapshot_rows *rows, char *err,
		      size_t errsize)
{
	char why[256];
	int rc;

	for (size_t i = 0; i < rows->ndids; i++) {
		const struct dp_did_range *d = &rows->dids[i];

		if (trunk_index(s, d->trunk) < 0)
			return fail(err, errsize, "dids %s-%s: unknown trunk "
				    "'%s'", d->first, d->last, d->trunk);
		if (*d->failover_trunk &&
		    trunk_index(s, d->failover_trunk) < 0)
			return fail(err, errsize, "dids %s-%s: failover trunk "
				    "'%s' unknown", d->first, d->last,
				    d->failover_trunk);
	}
	rc = dp_did_table_build(&s->dids, rows->dids, rows->ndids, why,
				sizeof(why));
	if (rc == EINVAL)
		return fail(err, errsize, "dids: %s", why);
	return rc;
}

static int build_rules(struct dp_rules **out, const char *what,
		       const struct dp_rule_row *rows, size_t n, char *err,
		       size_t errsize)
{
	char why[256];
	int rc = dp_rules_build(out, rows, n, why, sizeof(why));

	if (rc == EINVAL)
		return fail(err, errsize, "%s number rules: %s", what, why);
	return rc;
}

int dp_snapshot_build(struct dp_snapshot **out,
		      const struct dp_snapshot_rows *rows, char *err,
		      size_t errsize)
{
	struct dp_snapshot *s;
	char why[256];
	int rc = ENOMEM;

	if (err && errsize)
		err[0] = '\0';
	if (!out || !rows)
		return EINVAL;
	*out = NULL;
	s = obj_zalloc(sizeof(*s), destructor);
	if (!s)
		return ENOMEM;
	s->t_trying_ms = rows->t_trying_ms ? rows->t_trying_ms : 3000;
	s->t_progress_ms = rows->t_progress_ms;
	s->mctx = pcre2_match_context_create(NULL);
	if (!s->mctx)
		goto out;
	pcre2_set_match_limit(s->mctx, MATCH_LIMIT);
	pcre2_set_depth_limit(s->mctx, DEPTH_LIMIT);
	pcre2_set_heap_limit(s->mctx, HEAP_LIMIT_KIB);

	/* Trunks. */
	s->trunks = calloc(rows->ntrunks ? rows->ntrunks : 1,
			   sizeof(*s->trunks));
	if (!s->trunks)
		goto out;
	for (size_t i = 0; i < rows->ntrunks; i++) {
		const struct dp_trunk_row *t = &rows->trunks[i];

		if (!terminated(t->name, sizeof(t->name)) || !*t->name) {
			rc = fail(err, errsize, "trunks: row %zu has no name",
				  i + 1);
			goto out;
		}
		if (trunk_index(s, t->name) >= 0) {
			rc = fail(err, errsize, "trunks: '%s' twice", t->name);
			goto out;
		}
		if (check_trunk(t, why, sizeof(why))) {
			rc = fail(err, errsize, "trunks '%s': %s", t->name,
				  why);
			goto out;
		}
		s->trunks[s->ntrunks++] = *t;
	}

	/* Emergency numbers: the site's table, copied. */
	{
		const struct dp_emergency *em =
			rows->emergency ? rows->emergency
					: &dp_emergency_default;

		rc = dp_emergency_check(em, why, sizeof(why));
		if (rc) {
			rc = fail(err, errsize, "emergency numbers: %s", why);
			goto out;
		}
		s->emerg = calloc(em->n ? em->n : 1, sizeof(*s->emerg));
		if (!s->emerg) {
			rc = ENOMEM;
			goto out;
		}
		if (em->n)
			memcpy(s->emerg, em->entries,
			       em->n * sizeof(*s->emerg));
		s->em.entries = s->emerg;
		s->em.n = em->n;
	}

	rc = build_rules(&s->ingress, "ingress", rows->ingress, rows->ningress,
			 err, errsize);
	if (!rc)
		rc = build_rules(&s->egress, "egress", rows->egress,
				 rows->negress, err, errsize);
	if (!rc)
		rc = build_rules(&s->ingress_calling, "ingress calling",
				 rows->ingress_calling,
				 rows->ningress_calling, err, errsize);
	if (!rc)
		rc = build_rules(&s->egress_calling, "egress calling",
				 rows->egress_calling, rows->negress_calling,
				 err, errsize);
	if (!rc)
		rc = build_rules(&s->ingress_diversion, "ingress diversion",
				 rows->ingress_diversion,
				 rows->ningress_diversion, err, errsize);
	if (!rc)
		rc = build_rules(&s->egress_diversion, "egress diversion",
				 rows->egress_diversion,
				 rows->negress_diversion, err, errsize);
	if (rc)
		goto out;
	{
		const struct {
			const char *what;
			const struct dp_rule_row *v;
			size_t n;
		} sets[] = {
			{"ingress", rows->ingress, rows->ningress},
			{"egress", rows->egress, rows->negress},
			{"ingress calling", rows->ingress_calling,
			 rows->ningress_calling},
			{"egress calling", rows->egress_calling,
			 rows->negress_calling},
			{"ingress diversion", rows->ingress_diversion,
			 rows->ningress_diversion},
			{"egress diversion", rows->egress_diversion,
			 rows->negress_diversion},
		};

		for (size_t k = 0; k < TG_ARRAY_SIZE(sets); k++)
			for (size_t i = 0; i < sets[k].n; i++) {
				const struct dp_rule_row *r = &sets[k].v[i];

				if (!*r->trunk || trunk_index(s, r->trunk) >= 0)
					continue;
				rc = fail(err, errsize, "%s number rule %zu "
					  "(%s): unknown trunk '%s'",
					  sets[k].what, i + 1, r->name,
					  r->trunk);
				goto out;
			}
	}

	/* Routes. */
	if (rows->nroutes) {
		s->routes = calloc(rows->nroutes, sizeof(*s->routes));
		if (!s->routes) {
			rc = ENOMEM;
			goto out;
		}
	}
	for (size_t i = 0; i < rows->nroutes; i++) {
		struct route *r = &s->routes[i];

		r->row = rows->routes[i];
		r->row.name[DP_NAME_SIZE - 1] = '\0';
		s->nroutes = i + 1; /* the destructor frees what is built */
		for (size_t j = 0; j < i; j++)
			if (!strcmp(s->routes[j].row.name, r->row.name)) {
				rc = fail(err, errsize, "routes: '%s' twice",
					  r->row.name);
				goto out;
			}
		if (!terminated(r->row.match, sizeof(r->row.match)) ||
		    !terminated(r->row.trunks, sizeof(r->row.trunks)) ||
		    !terminated(r->row.src_trunks, sizeof(r->row.src_trunks)) ||
		    !terminated(r->row.tz, sizeof(r->row.tz)) ||
		    !terminated(r->row.failover, sizeof(r->row.failover))) {
			rc = fail(err, errsize, "route '%s': a field is not "
				  "terminated", r->row.name);
			goto out;
		}
		rc = build_route(s, r, rows, err, errsize);
		if (rc)
			goto out;
	}
	if (s->nroutes > 1) /* qsort(NULL, 0) is undefined */
		qsort(s->routes, s->nroutes, sizeof(*s->routes), route_cmp);

	rc = build_blocks(s, rows, err, errsize);
	if (!rc)
		rc = build_dids(s, rows, err, errsize);
	if (rc)
		goto out;
	if (rows->lcr) {
		s->lcr = obj_ref(rows->lcr);
	} else {
		rc = dp_lcr_build(&s->lcr, rows->rates, rows->nrates, why,
				  sizeof(why));
		if (rc == EINVAL)
			rc = fail(err, errsize, "rates: %s", why);
		if (rc)
			goto out;
	}
	*out = s;
	return 0;
out:
	if (rc == ENOMEM && err && errsize && !*err)
		snprintf(err, errsize, "out of memory");
	obj_deref(s);
	return rc;
}

/* ---- deciding ------------------------------------------------------------ */

struct tr {
	char *buf;
	size_t size;
};

static void tr_append(struct tr *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Most decisions are made without a trace: do not even make the call
 * (a varargs call per route skipped adds up over a thousand routes). */
#define tr_add(t, ...)                                                    \
	do {                                                              \
		if ((t)->buf)                                             \
			tr_append((t), __VA_ARGS__);                      \
	} while (0)

static void tr_append(struct tr *t, const char *fmt, ...)
{
	size_t used;
	va_list ap;

	if (!t->buf || !t->size)
		return;
	used = strlen(t->buf);
	if (used + 1 >= t->size)
		return;
	va_start(ap, fmt);
	vsnprintf(t->buf + used, t->size - used, fmt, ap);
	va_end(ap);
	used = strlen(t->buf);
	if (used + 1 < t->size && (!used || t->buf[used - 1] != '\n')) {
		t->buf[used] = '\n';
		t->buf[used + 1] = '\0';
	}
}

/* Rules with a trace of their own, appended to ours. */
static int apply_rules(const struct dp_rules *rs, const char *trunk,
		       struct dp_number *num, struct tr *t, const char *what)
{
	char buf[1024];
	int rc;

	if (!dp_rules_count(rs))
		return 0;
	rc = dp_rules_apply(rs, trunk, num, t->buf ? buf : NULL,
			    t->buf ? sizeof(buf) : 0);
	if (t->buf && !strstr(buf, "no rule matched")) {
		char *line, *save = NULL;

		for (line = strtok_r(buf, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			tr_add(t, "%s: %s", what, line);
	}
	return rc;
}

/* Digits (and * #) of what a trunk without a plan sent. */
static int raw_number(struct dp_number *out, const char *in)
{
	size_t n = 0;
	const char *p = in;

	memset(out, 0, sizeof(*out));
	if (!strncasecmp(p, "tel:", 4))
		p += 4;
	else if (!strncasecmp(p, "sips:", 5))
		p += 5;
	else if (!strncasecmp(p, "sip:", 4))
		p += 4;
	for (; *p && *p != '@' && *p != ';'; p++) {
		if (strchr("-.() +", *p))
			continue;
		if (!((*p >= '0' && *p <= '9') || *p == '*' || *p == '#'))
			return EINVAL;
		if (n >= DP_NUMBER_MAX)
			return ERANGE;
		out->digits[n++] = *p;
	}
	out->digits[n] = '\0';
	out->ton = DP_TON_UNKNOWN;
	out->npi = DP_NPI_UNKNOWN;
	return n ? 0 : EINVAL;
}

enum dp_emergency_class dp_called_emergency(const struct dp_snapshot *s,
					    const char *called)
{
	const struct dp_emergency *em = s ? &s->em : NULL;
	enum dp_emergency_class c;
	struct dp_number raw;

	if (!called || !*called)
		return DP_EMERG_NONE;
	c = dp_emergency_match(em, called, NULL);
	if (c == DP_EMERG_NONE && !raw_number(&raw, called))
		c = dp_emergency_match(em, raw.digits, NULL);
	return c;
}

static bool has_prefix(const char *s, const char *p)
{
	return !strncmp(s, p, strlen(p));
}

static bool number_matches(const char *match, const char *num)
{
	if (!*match)
		return true;
	if (match[0] == '_')
		return dp_pattern_match(match, num);
	return has_prefix(num, match);
}

static bool list_has(const char *list, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = list; *p;) {
		size_t len;

		p += strspn(p, ", \t");
		len = strcspn(p, ", \t");
		if (len == n && !strncasecmp(p, word, n))
			return true;
		p += len;
	}
	return false;
}

static const char *state_name(enum dp_trunk_state st)
{
	return st == DP_TRUNK_AVAILABLE ? "available"
	       : st == DP_TRUNK_DOWN	? "down"
					: "full";
}

static const char *src_name(enum dp_source src)
{
	static const char *const names[] = {"route", "lcr", "did",
					    "did failover", "callback",
					    "enum"};

	return (unsigned)src < TG_ARRAY_SIZE(names) ? names[src] : "?";
}

static void money(char *buf, size_t size, int64_t micro)
{
	snprintf(buf, size, "%lld.%06lld", (long long)(micro / DP_RATE_MICRO),
		 (long long)(micro % DP_RATE_MICRO));
}

struct ctx {
	const struct dp_snapshot *s;
	const struct dp_facts *f;
	struct dp_decision *d;
	struct tr *t;
	int src;
	bool emergency;
	struct dp_lcr_choice *ch;
	size_t nch;
};

static void refuse(struct ctx *c, int cause, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void refuse(struct ctx *c, int cause, const char *fmt, ...)
{
	va_list ap;

	c->d->cause = cause;
	va_start(ap, fmt);
	vsnprintf(c->d->reason, sizeof(c->d->reason), fmt, ap);
	va_end(ap);
	tr_add(c->t, "refused, cause %d: %s", cause, c->d->reason);
}

/* Format a number for a trunk: its plan's format, if it has one. */
static void format_for(const struct dp_trunk_row *t, struct dp_number *out,
		       const struct dp_number *in, enum dp_number_fmt fmt)
{
	*out = *in;
	if (!*t->plan.cc || in->ton != DP_TON_INTERNATIONAL)
		return;
	if (dp_number_format(out, in, fmt, &t->plan))
		*out = *in;
	/* A foreign number has no national form; PRI says so with its type
	 * of number, SIP only with a "+" (unless the trunk asked for bare
	 * E.164). */
	if (t->kind == DP_TRUNK_SIP && fmt != DP_FMT_E164 &&
	    out->ton == DP_TON_INTERNATIONAL && out->digits[0] != '+' &&
	    strlen(out->digits) + 1 < sizeof(out->digits)) {
		memmove(out->digits + 1, out->digits, strlen(out->digits) + 1);
		out->digits[0] = '+';
	}
	out->pres = in->pres;
}

/*
 * A number written in a table (a DID's caller-ID or failover number):
 * internal form when it starts with the trunk's country code, so that it
 * is formatted for the trunk like any other; otherwise sent as written.
 */
static void table_number(struct dp_number *n, const char *digits,
			 const struct dp_trunk_row *t, enum dp_pres pres)
{
	memset(n, 0, sizeof(*n));
	tg_strlcpy(n->digits, digits, sizeof(n->digits));
	n->ton = *t->plan.cc && dp_is_digits(digits) &&
			 has_prefix(digits, t->plan.cc)
		 ? DP_TON_INTERNATIONAL
		 : DP_TON_UNKNOWN;
	n->npi = n->ton == DP_TON_INTERNATIONAL ? DP_NPI_E164
						: DP_NPI_UNKNOWN;
	n->pres = pres;
}

/*
 * Append trunk @p ti to the attempts, with the numbers formatted for it.
 * @param called  the number to send (NULL = the decision's)
 * @param user    a fixed Request-URI user (NULL or "" = the called digits)
 * @param cid     a fixed calling number (NULL or "" = the caller's)
 * @param rate    the rate that chose this trunk (NULL = look it up)
 */
static void add_attempt(struct ctx *c, int ti, enum dp_source src,
			const struct dp_number *called, const char *user,
			const char *cid, const struct dp_rate *rate)
{
	const struct dp_snapshot *s = c->s;
	const struct dp_trunk_row *t = &s->trunks[ti];
	struct dp_decision *d = c->d;
	struct dp_attempt *a;
	char price[32];

	if (ti == c->src) {
		tr_add(c->t, "trunk %s: not used, the call came from it",
		       t->name);
		return;
	}
	/* An ENUM attempt only borrows its trunk's settings: the trunk
	 * itself is still tried after it. */
	for (size_t i = 0; i < d->nattempts; i++)
		if (src != DP_SRC_ENUM &&
		    d->attempts[i].source != DP_SRC_ENUM &&
		    !strcmp(d->attempts[i].trunk, t->name))
			return;
	if (d->nattempts >= DP_MAX_ATTEMPTS) {
		tr_add(c->t, "trunk %s: not used, already %d attempts",
		       t->name, DP_MAX_ATTEMPTS);
		return;
	}
	a = &d->attempts[d->nattempts++];
	memset(a, 0, sizeof(*a));
	tg_strlcpy(a->trunk, t->name, sizeof(a->trunk));
	a->kind = t->kind;
	a->source = src;
	format_for(t, &a->called, called ? called : &d->called, t->called_fmt);
	if (apply_rules(s->egress, t->name, &a->called, c->t, "egress"))
		tr_add(c->t, "egress rules failed on %s for trunk %s; sent "
		       "as formatted", a->called.digits, t->name);
	if (cid && *cid) {
		struct dp_number n;

		table_number(&n, cid, t, d->calling.pres);
		format_for(t, &a->calling, &n, t->calling_fmt);
	} else {
		format_for(t, &a->calling, &d->calling, t->calling_fmt);
	}
	if (*a->calling.digits &&
	    apply_rules(s->egress_calling, t->name, &a->calling, c->t,
			"egress calling"))
		tr_add(c->t, "egress calling rules failed on %s for trunk %s; "
		       "sent as formatted", a->calling.digits, t->name);
	/* A diverting number is a party number like the caller's: the
	 * trunk's calling format, then its own rules. */
	if (*d->diversion.digits) {
		format_for(t, &a->diversion, &d->diversion, t->calling_fmt);
		if (apply_rules(s->egress_diversion, t->name, &a->diversion,
				c->t, "egress diversion"))
			tr_add(c->t, "egress diversion rules failed on %s for "
			       "trunk %s; sent as formatted",
			       a->diversion.digits, t->name);
	}
	tg_strlcpy(a->user, user && *user ? user : a->called.digits,
		   sizeof(a->user));
	a->state = c->f->state ? c->f->state(t->name, c->f->state_arg)
			       : DP_TRUNK_AVAILABLE;
	if (c->emergency && a->state == DP_TRUNK_FULL)
		a->state = DP_TRUNK_AVAILABLE;
	if (rate) {
		a->has_rate = true;
		a->rate = *rate;
	} else {
		for (size_t i = 0; i < c->nch; i++)
			if (!strcmp(c->ch[i].rate.carrier, t->name)) {
				a->has_rate = true;
				a->rate = c->ch[i].rate;
			}
	}
	if (a->has_rate)
		money(price, sizeof(price), a->rate.rate);
	tr_add(c->t, "attempt %zu: trunk %s %s(%s, %s%s%s%s), called %s%s%s, "
	       "calling %s", d->nattempts, t->name,
	       a->state == DP_TRUNK_AVAILABLE ? "" : "skipped ",
	       state_name(a->state), src_name(src), a->has_rate ? ", " : "",
	       a->has_rate ? price : "", a->has_rate ? "/min" : "",
	       a->called.digits, strcmp(a->user, a->called.digits) ? " user "
								    : "",
	       strcmp(a->user, a->called.digits) ? a->user : "",
	       *a->calling.digits ? a->calling.digits : "(none)");
}

static bool blocked(struct ctx *c)
{
	const struct dp_snapshot *s = c->s;
	const struct dp_trunk_row *src = &s->trunks[c->src];
	const struct dp_decision *d = c->d;

	for (int pass = 0; pass < 2; pass++) {
		bool called = pass == 1;
		const char *num = called ? d->called.digits : d->calling.digits;

		if (!*num)
			continue;
		for (size_t i = 0; i < s->nblocks; i++) {
			const struct block *b = &s->blocks[i];

			if (b->called != called ||
			    (b->trunk >= 0 && b->trunk != c->src) ||
			    !number_matches(b->row.match, num))
				continue;
			if (*b->row.category &&
			    list_has(src->allow, b->row.category)) {
				tr_add(c->t, "blocklist: %s %s matches %s "
				       "(%s), allowed for trunk %s",
				       called ? "called" : "calling", num,
				       b->row.match, b->row.category,
				       src->name);
				continue;
			}
			refuse(c, 21, "%s number %s is blocked (%s%s%s)",
			       called ? "called" : "calling", num, b->row.match,
			       *b->row.category ? ", " : "", b->row.category);
			return true;
		}
	}
	if (*src->plan.cc && d->called.ton == DP_TON_INTERNATIONAL &&
	    !has_prefix(d->called.digits, src->plan.cc)) {
		if (!list_has(src->allow, "international")) {
			refuse(c, 21, "international number %s: trunk %s "
			       "does not allow international",
			       d->called.digits, src->name);
			return true;
		}
		tr_add(c->t, "blocklist: %s is international, allowed for "
		       "trunk %s", d->called.digits, src->name);
	}
	return false;
}

static bool try_dids(struct ctx *c, const struct dp_number *raw)
{
	const struct dp_snapshot *s = c->s;
	const struct dp_did_range *did;
	const struct dp_number *num = &c->d->called;
	struct dp_number fo;
	char user[64];
	int ti, fi;

	/* The internal form first; then as received, for tables written
	 * the way a trunk without a plan (or a PBX) writes numbers.  The
	 * number goes out in the form the table matched. */
	did = dp_did_lookup(s->dids, num->digits);
	if (!did && *raw->digits && strcmp(raw->digits, num->digits)) {
		num = raw;
		did = dp_did_lookup(s->dids, raw->digits);
	}
	if (!did)
		return false;
	ti = trunk_index(s, did->trunk);
	if (ti < 0 || ti == c->src) {
		tr_add(c->t, "did %s-%s: matches %s but leads back to trunk "
		       "%s; not used", did->first, did->last, num->digits,
		       did->trunk);
		return false;
	}
	tr_add(c->t, "did %s-%s matched %s -> trunk %s%s%s%s%s%s%s",
	       did->first, did->last, num->digits, did->trunk,
	       *did->user ? ", user " : "", did->user,
	       *did->cid ? ", caller-ID " : "", did->cid,
	       *did->failover_trunk ? ", failover " : "",
	       did->failover_trunk);
	tg_strlcpy(c->d->route, "did", sizeof(c->d->route));
	c->d->t_trying_ms = s->t_trying_ms;
	c->d->t_progress_ms = s->t_progress_ms;
	/* Checked at build: a derived user always fits. */
	if (dp_did_user(did, num->digits, user, sizeof(user)))
		user[0] = '\0';
	add_attempt(c, ti, DP_SRC_DID, num, user, did->cid, NULL);
	/* Checked at build; a failover to the source trunk is dropped by
	 * add_attempt like any other. */
	fi = *did->failover_trunk ? trunk_index(s, did->failover_trunk) : -1;
	if (fi < 0)
		return true;
	if (*did->failover_number) {
		table_number(&fo, did->failover_number, &s->trunks[fi],
			     c->d->called.pres);
		num = &fo;
	}
	add_attempt(c, fi, DP_SRC_DID_FAILOVER, num, NULL, did->cid, NULL);
	return true;
}

/*
 * PCRE2 takes its match data, and since 10.41 its backtracking frames,
 * from the allocator of a general context.  A bump allocator over a
 * buffer on our stack keeps dp_decide() free of malloc, and the heap
 * limit set at build keeps the frames inside the buffer: past it the
 * match fails with PCRE2_ERROR_HEAPLIMIT (or NOMEMORY), never mallocs.
 */
struct arena {
	_Alignas(max_align_t) unsigned char buf[ARENA_SIZE];
	size_t used;
};

static void *arena_alloc(PCRE2_SIZE size, void *data)
{
	struct arena *a = data;
	size_t align = _Alignof(max_align_t);
	size_t need = (size + align - 1) & ~(align - 1);
	void *p;

	if (size > sizeof(a->buf) || need > sizeof(a->buf) - a->used)
		return NULL;
	p = a->buf + a->used;
	a->used += need;
	return p;
}

static void arena_free(void *p, void *data)
{
	(void)p;
	(void)data; /* the whole arena goes when the caller returns */
}

/* @return 1 match, 0 no match, < 0 a PCRE2 error. */
static int regex_match(const struct dp_snapshot *s, const pcre2_code *re,
		       const char *num)
{
	struct arena a;
	pcre2_general_context *gc;
	pcre2_match_data *md;
	int rc;

	a.used = 0;
	gc = pcre2_general_context_create(arena_alloc, arena_free, &a);
	md = gc ? pcre2_match_data_create(1, gc) : NULL;
	if (!md)
		return PCRE2_ERROR_NOMEMORY;
	rc = pcre2_match(re, (PCRE2_SPTR)num, PCRE2_ZERO_TERMINATED, 0, 0, md,
			 s->mctx);
	return rc >= 0 ? 1 : rc == PCRE2_ERROR_NOMATCH ? 0 : rc;
}

/* Does the called number fit route @p r?  @return 1, 0, or < 0 for a
 * regex that failed to run. */
static int called_matches(const struct dp_snapshot *s, const struct route *r,
			  const char *num)
{
	switch (r->mk) {
	case M_ANY:
		return 1;
	case M_PREFIX:
		return !strncmp(num, r->row.match, r->mlen);
	case M_PATTERN:
		return dp_pattern_match(r->row.match, num);
	case M_REGEX:
		return regex_match(s, r->re, num);
	}
	return 0;
}

/* Does route @p r take this call?  A trace line says why not. */
static bool route_matches(struct ctx *c, const struct route *r)
{
	const struct dp_decision *d = c->d;
	const char *num = d->called.digits;
	int wday, minute, rc;

	rc = called_matches(c->s, r, num);
	if (rc < 0) {
		PCRE2_UCHAR msg[80];

		pcre2_get_error_message(rc, msg, sizeof(msg));
		tr_add(c->t, "route '%s' skipped: regex failed on %s (%s)",
		       r->row.name, num, (const char *)msg);
		return false;
	}
	if (!rc) {
		tr_add(c->t, "route '%s' skipped: called %s does not match "
		       "%s %s", r->row.name, num, r->row.kind, r->row.match);
		return false;
	}
	if (r->src && (c->src >= MAX_TRUNKS ||
		       !(r->src & (UINT64_C(1) << c->src)))) {
		tr_add(c->t, "route '%s' skipped: source trunk %s is not in "
		       "'%s'", r->row.name, c->s->trunks[c->src].name,
		       r->row.src_trunks);
		return false;
	}
	if (*r->row.calling && !number_matches(r->row.calling,
					       d->calling.digits)) {
		tr_add(c->t, "route '%s' skipped: calling %s does not match "
		       "%s", r->row.name,
		       *d->calling.digits ? d->calling.digits : "(none)",
		       r->row.calling);
		return false;
	}
	if (r->days == 0x7f && r->all_day)
		return true;
	if (c->emergency) {
		tr_add(c->t, "route '%s': days/hours ignored for an emergency "
		       "call", r->row.name);
		return true;
	}
	dp_tz_local(r->tz, c->f->now, &wday, &minute);
	if (!(r->days & (1u << wday)) ||
	    (!r->all_day &&
	     (r->from_min < r->to_min
		      ? minute < r->from_min || minute >= r->to_min
		      : minute < r->from_min && minute >= r->to_min))) {
		tr_add(c->t, "route '%s' skipped: %s%s%s%s%s in %s, local "
		       "time is %s %02d:%02d", r->row.name,
		       *r->row.days ? "days " : "", r->row.days,
		       *r->row.days && *r->row.hours ? ", " : "",
		       *r->row.hours ? "hours " : "", r->row.hours,
		       *r->row.tz ? r->row.tz : "UTC", day_names[wday],
		       minute / 60, minute % 60);
		return false;
	}
	return true;
}

static void route_lcr(struct ctx *c)
{
	const struct dp_snapshot *s = c->s;

	for (size_t i = 0; i < c->nch; i++) {
		int ti = trunk_index(s, c->ch[i].rate.carrier);

		if (ti < 0) {
			tr_add(c->t, "lcr: carrier %s is not a trunk; skipped",
			       c->ch[i].rate.carrier);
			continue;
		}
		add_attempt(c, ti, DP_SRC_LCR, NULL, NULL, NULL,
			    &c->ch[i].rate);
	}
}

static void trace_lcr(struct ctx *c)
{
	char buf[32];

	if (!c->t->buf)
		return;
	if (!c->nch) {
		tr_add(c->t, "lcr: no rate for %s at %lld", c->d->called.digits,
		       (long long)c->f->now);
		return;
	}
	tr_add(c->t, "lcr: %zu carrier(s) for %s, cheapest first:", c->nch,
	       c->d->called.digits);
	for (size_t i = 0; i < c->nch; i++) {
		const struct dp_rate *r = &c->ch[i].rate;

		money(buf, sizeof(buf), r->rate);
		tr_add(c->t, "  %s prefix %s %s/min, %u/%u%s%s", r->carrier,
		       r->prefix, buf, r->first_incr, r->next_incr,
		       *r->desc ? ", " : "", r->desc);
	}
}

/* How the source trunk wrote the called number, for the trace: the
 * normaliser does not say, so compare what came in with what came out. */
static void ingress_form(char *buf, size_t size, const char *in,
			 enum dp_ton ton, const struct dp_number *raw,
			 const struct dp_number *out,
			 const struct dp_country_plan *cp)
{
	const char *cl = raw->digits, *o = out->digits;
	const char *ip = cp->intl_prefix, *np = cp->national_prefix;
	size_t cc = strlen(cp->cc);

	if (out->ton != DP_TON_INTERNATIONAL)
		snprintf(buf, size, "%s, kept", dp_ton_name(out->ton));
	else if (strchr(in, '+'))
		snprintf(buf, size, "E.164 with '+'");
	else if (ton != DP_TON_UNKNOWN)
		snprintf(buf, size, "TON %s", dp_ton_name(ton));
	else if (*ip && has_prefix(cl, ip) && !strcmp(o, cl + strlen(ip)))
		snprintf(buf, size, "international prefix %s", ip);
	else if (*np && has_prefix(cl, np) && has_prefix(o, cp->cc) &&
		 !strcmp(o + cc, cl + strlen(np)))
		snprintf(buf, size, "national, prefix %s", np);
	else if (!strcmp(o, cl))
		snprintf(buf, size, "E.164");
	else if (has_prefix(o, cp->cc) && !strcmp(o + cc, cl))
		snprintf(buf, size, "national");
	else
		snprintf(buf, size, "local, area %s", cp->area_code);
}

/*
 * A URN (urn:service:sos) says "emergency" but no PSTN trunk can dial
 * it: route the number people dial for it in the caller's country, 911
 * under NANP and 112 elsewhere, when the site's table has it, else the
 * table's first number of the call's class.
 */
static const char *emergency_digits(const struct dp_snapshot *s,
				    const struct dp_trunk_row *src,
				    enum dp_emergency_class cls)
{
	const char *want = !strcmp(src->plan.cc, "1") ? "911" : "112";
	const char *first = NULL;

	for (size_t i = 0; i < s->em.n; i++) {
		const struct dp_emergency_entry *e = &s->em.entries[i];

		if (e->cls != cls)
			continue;
		if (cls == DP_EMERG_EMERGENCY && !strcmp(e->service, want))
			return e->service;
		if (!first)
			first = e->service;
	}
	return first;
}

/* Step 2 for the called number.  @return false if the call was refused. */
static bool ingress_called(struct ctx *c, const struct dp_number *raw)
{
	const struct dp_trunk_row *src = &c->s->trunks[c->src];
	const struct dp_facts *f = c->f;
	struct dp_decision *d = c->d;
	const char *dial;
	char form[48];
	int rc;

	/* A number from the emergency table goes out as its service number
	 * whatever the plan makes of it: "9911" on a site that dials 9
	 * for a line is 911, and 112 is no E.164 number. */
	if (c->emergency && dp_is_digits(d->service)) {
		tg_strlcpy(d->called.digits, d->service,
			   sizeof(d->called.digits));
		tr_add(c->t, "ingress: called '%s' -> %s (the emergency "
		       "service number)", f->called, d->called.digits);
		return true;
	}
	if (*src->plan.cc) {
		rc = dp_number_normalize(&d->called, f->called, f->called_ton,
					 &src->plan);
		if (!rc) {
			ingress_form(form, sizeof(form), f->called,
				     f->called_ton, raw,
				     &d->called, &src->plan);
			tr_add(c->t, "ingress: called '%s' -> %s (%s, plan of "
			       "trunk %s)", f->called, d->called.digits, form,
			       src->name);
			return true;
		}
		/* An emergency number is not refused for not fitting the
		 * plan (911 is no E.164 number): it goes as dialled. */
		if (!c->emergency) {
			refuse(c, 28, "called number '%s' fits no form of "
			       "trunk %s's plan%s", f->called, src->name,
			       rc == ERANGE ? " (over 15 digits)" : "");
			return false;
		}
	}
	if (*raw->digits) {
		d->called = *raw;
		tr_add(c->t, "ingress: called '%s' -> %s (as sent: %s)",
		       f->called, d->called.digits,
		       *src->plan.cc ? "an emergency number"
				     : "the trunk has no numbering plan");
		return true;
	}
	if (!c->emergency) {
		refuse(c, 28, "called number '%s' is not a number", f->called);
		return false;
	}
	dial = emergency_digits(c->s, src, d->emergency);
	tg_strlcpy(d->called.digits, dial ? dial : f->called,
		   sizeof(d->called.digits));
	tr_add(c->t, "ingress: called '%s' -> %s (the emergency number of "
	       "the caller's country)", f->called, d->called.digits);
	return true;
}

int dp_decide(const struct dp_snapshot *s, const struct dp_facts *f,
	      struct dp_decision *d, char *trace, size_t tracesize)
{
	struct tr t = {trace, tracesize};
	struct dp_lcr_choice ch[MAX_CHOICES];
	struct dp_number raw;
	const struct dp_trunk_row *src;
	const char *svc = NULL;
	struct ctx c;
	int si;

	if (trace && tracesize)
		trace[0] = '\0';
	if (!s || !f || !d || !f->called || !*f->called || !f->src_trunk)
		return EINVAL;
	si = trunk_index(s, f->src_trunk);
	if (si < 0)
		return EINVAL;
	src = &s->trunks[si];
	memset(d, 0, sizeof(*d));
	memset(&c, 0, sizeof(c));
	c.s = s;
	c.f = f;
	c.d = d;
	c.t = &t;
	c.src = si;
	c.ch = ch;

	/* 1. Emergency, on the number as dialled. */
	if (raw_number(&raw, f->called))
		memset(&raw, 0, sizeof(raw));
	d->emergency = dp_emergency_match(&s->em, f->called, &svc);
	if (d->emergency == DP_EMERG_NONE && *raw.digits)
		d->emergency = dp_emergency_match(&s->em, raw.digits, &svc);
	if (d->emergency == DP_EMERG_NONE && f->emergency) {
		d->emergency = DP_EMERG_EMERGENCY;
		svc = "signalled";
	}
	if (svc)
		tg_strlcpy(d->service, svc, sizeof(d->service));
	c.emergency = d->emergency != DP_EMERG_NONE;
	if (c.emergency)
		tr_add(&t, "emergency: %s (%s)",
		       d->emergency == DP_EMERG_TEST ? "test call"
						     : "EMERGENCY call",
		       d->service);

	/* 2. Ingress: the internal form. */
	if (!ingress_called(&c, &raw))
		goto out;
	if (f->calling && *f->calling) {
		if (!*src->plan.cc ||
		    dp_number_normalize(&d->calling, f->calling,
					f->calling_ton, &src->plan)) {
			if (raw_number(&d->calling, f->calling))
				memset(&d->calling, 0, sizeof(d->calling));
		}
	}
	d->calling.pres = f->calling_pres;
	if (*d->calling.digits &&
	    apply_rules(s->ingress_calling, src->name, &d->calling, &t,
			"ingress calling"))
		tr_add(&t, "ingress calling rules failed on %s; kept",
		       d->calling.digits);
	if (f->diversion && *f->diversion) {
		if (!*src->plan.cc ||
		    dp_number_normalize(&d->diversion, f->diversion,
					f->diversion_ton, &src->plan)) {
			if (raw_number(&d->diversion, f->diversion))
				memset(&d->diversion, 0,
				       sizeof(d->diversion));
		}
		if (*d->diversion.digits &&
		    apply_rules(s->ingress_diversion, src->name,
				&d->diversion, &t, "ingress diversion"))
			tr_add(&t, "ingress diversion rules failed on %s; "
			       "kept", d->diversion.digits);
		if (*d->diversion.digits)
			tr_add(&t, "diverted by %s", d->diversion.digits);
	}
	if (apply_rules(s->ingress, src->name, &d->called, &t, "ingress")) {
		if (!c.emergency) {
			refuse(&c, 28, "ingress rules could not rewrite %s",
			       d->called.digits);
			goto out;
		}
	}

	/* A PSAP calling an ELIN back: straight to the caller. */
	if (f->to_trunk && *f->to_trunk) {
		int ti = trunk_index(s, f->to_trunk);

		d->callback = true;
		c.emergency = true;
		tg_strlcpy(d->route, "e911-callback", sizeof(d->route));
		d->t_trying_ms = s->t_trying_ms;
		d->t_progress_ms = s->t_progress_ms;
		tr_add(&t, "PSAP callback to %s: trunk %s, user %s",
		       d->called.digits, f->to_trunk,
		       f->to_user ? f->to_user : "");
		if (ti >= 0) {
			/* The caller's number as its trunk knows it: the
			 * SIP user, or the number a PRI is called on. */
			struct dp_number to;

			table_number(&to, f->to_user ? f->to_user : "",
				     &s->trunks[ti], DP_PRES_ALLOWED);
			add_attempt(&c, ti, DP_SRC_CALLBACK, &to, f->to_user,
				    NULL, NULL);
		}
		if (!d->nattempts)
			refuse(&c, 3, "PSAP callback: trunk %s cannot take it",
			       f->to_trunk);
		goto out;
	}

	/* 3. Blocklists. */
	if (!c.emergency && blocked(&c))
		goto out;

	/* LCR choices serve both the lcr routes and the rates of listed
	 * trunks (for the CDR). */
	c.nch = dp_is_digits(d->called.digits)
			? dp_lcr_lookup(s->lcr, d->called.digits, f->now,
					f->asr, ch, MAX_CHOICES)
			: 0;

	/* 4. DIDs. */
	if (try_dids(&c, &raw))
		goto out;

	/* 5. Routes. */
	for (size_t i = 0; i < s->nroutes; i++) {
		const struct route *r = &s->routes[i];

		if (!route_matches(&c, r))
			continue;
		tr_add(&t, "route '%s' (priority %u) matched: %s%s%s",
		       r->row.name, r->row.priority,
		       r->row.kind[0] ? r->row.kind : "any",
		       *r->row.match ? " " : "", r->row.match);
		tg_strlcpy(d->route, r->row.name, sizeof(d->route));
		d->t_trying_ms = r->row.t_trying_ms ? r->row.t_trying_ms
						    : s->t_trying_ms;
		d->t_progress_ms = r->row.t_progress_ms ? r->row.t_progress_ms
							: s->t_progress_ms;
		d->t_answer_ms = r->row.t_answer_ms;
		d->route_max_calls = r->row.max_calls;
		d->route_cps = r->row.cps;
		d->failover = r->fo;
		/* ENUM first: a number the owner published reaches its
		 * destination directly; not for emergency calls. */
		if (r->enum_trunk >= 0 && c.emergency) {
			tr_add(&t, "enum: not for an emergency call");
		} else if (r->enum_trunk >= 0 &&
			   dp_enum_name(d->called.digits, r->row.enum_domain,
					d->enum_name, sizeof(d->enum_name))) {
			tr_add(&t, "enum: %s is not an E.164 number; skipped",
			       d->called.digits);
		} else if (r->enum_trunk >= 0) {
			tr_add(&t, "enum: NAPTR %s, as trunk %s", d->enum_name,
			       s->trunks[r->enum_trunk].name);
			add_attempt(&c, r->enum_trunk, DP_SRC_ENUM, NULL, NULL,
				    NULL, NULL);
		}
		if (r->row.lcr)
			trace_lcr(&c);
		/* An emergency call goes to the route's own trunks first:
		 * cost does not choose where 911 goes. */
		if (r->row.lcr && !c.emergency)
			route_lcr(&c);
		for (unsigned k = 0; k < r->ntrunks; k++)
			add_attempt(&c, r->trunks[k], DP_SRC_ROUTE, NULL, NULL,
				    NULL, NULL);
		if (r->row.lcr && c.emergency)
			route_lcr(&c);
		if (d->nattempts)
			goto out;
		tr_add(&t, "route '%s' has no trunk for this call",
		       r->row.name);
		/* An emergency call is not refused for it (911 from the
		 * only PRI a route lists): the fallback below. */
		if (c.emergency)
			break;
		refuse(&c, src->kind == DP_TRUNK_TDM ? 1 : 3,
		       "route '%s' leaves no trunk to try", r->row.name);
		goto out;
	}
	if (c.emergency) {
		/* No route for it, yet an emergency call must go out: every
		 * PSTN line of the caller's own country, in trunk order.
		 * Nothing of a route that left no trunk applies. */
		tr_add(&t, "no route for the emergency call: trying the TDM "
		       "trunks of country code %s",
		       *src->plan.cc ? src->plan.cc : "(any)");
		tg_strlcpy(d->route, "emergency-fallback", sizeof(d->route));
		d->t_trying_ms = s->t_trying_ms;
		d->t_progress_ms = s->t_progress_ms;
		d->t_answer_ms = 0;
		d->route_max_calls = d->route_cps = 0;
		d->failover = NULL;
		for (size_t i = 0; i < s->ntrunks; i++)
			if (s->trunks[i].kind == DP_TRUNK_TDM &&
			    (!*src->plan.cc || !*s->trunks[i].plan.cc ||
			     !strcmp(src->plan.cc, s->trunks[i].plan.cc)))
				add_attempt(&c, (int)i, DP_SRC_ROUTE, NULL,
					    NULL, NULL, NULL);
		if (d->nattempts)
			goto out;
		d->route[0] = '\0';
	}
	refuse(&c, src->kind == DP_TRUNK_TDM ? 1 : 3, "no route for %s from %s",
	       d->called.digits, src->name);
out:
	if (!d->cause && !*d->reason)
		tg_strlcpy(d->reason, d->route, sizeof(d->reason));
	return 0;
}

void dp_decision_set_calling(const struct dp_snapshot *s,
			     struct dp_decision *d, const char *number)
{
	struct tr none = {NULL, 0};

	memset(&d->calling, 0, sizeof(d->calling));
	tg_strlcpy(d->calling.digits, number, sizeof(d->calling.digits));
	d->calling.ton = DP_TON_INTERNATIONAL;
	d->calling.npi = DP_NPI_E164;
	d->calling.pres = DP_PRES_ALLOWED;
	for (size_t i = 0; i < d->nattempts; i++) {
		struct dp_attempt *a = &d->attempts[i];
		int ti = trunk_index(s, a->trunk);
		struct dp_number n;

		if (ti < 0)
			continue;
		table_number(&n, number, &s->trunks[ti], DP_PRES_ALLOWED);
		format_for(&s->trunks[ti], &a->calling, &n,
			   s->trunks[ti].calling_fmt);
		a->calling.pres = DP_PRES_ALLOWED;
		apply_rules(s->egress_calling, a->trunk, &a->calling, &none,
			    "egress calling");
	}
}
