/* e911/e911.c  Location zones, caller placement and ELIN choice */
#include <arpa/inet.h>
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/util.h"
#include "e911/e911.h"

struct e911_zone {
	struct e911_zone_row row;
	char elins[E911_MAX_ELINS][E911_NUM_SIZE];
	size_t nelins;
};

enum member_kind { M_CALLING, M_SUBNET, M_TRUNK };

struct member {
	enum member_kind kind;
	const struct e911_zone *zone;
	char first[E911_NUM_SIZE], last[E911_NUM_SIZE]; /* M_CALLING */
	int family;                                     /* M_SUBNET */
	uint8_t addr[16];
	unsigned bits;
	char trunk[E911_NAME_SIZE];                     /* M_TRUNK */
	char text[64];
	char flr[16], unit[16], room[16];               /* refinement */
};

struct e911_snapshot {
	struct e911_zone *zones;
	size_t nzones;
	struct member *members;
	size_t nmembers;
	const struct e911_zone *deflt;
};

static void destructor(void *arg)
{
	struct e911_snapshot *s = arg;

	free(s->zones);
	free(s->members);
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

static bool digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* Every string field of a row ends inside its array. */
#define TERM(f) (memchr((f), '\0', sizeof(f)) != NULL)

static bool row_terminated(const struct e911_zone_row *r)
{
	return TERM(r->name) && TERM(r->country) && TERM(r->a1) &&
	       TERM(r->a2) && TERM(r->a3) && TERM(r->a4) && TERM(r->a5) &&
	       TERM(r->a6) && TERM(r->prd) && TERM(r->pod) && TERM(r->sts) &&
	       TERM(r->rd) && TERM(r->hno) && TERM(r->hns) && TERM(r->lmk) &&
	       TERM(r->loc) && TERM(r->flr) && TERM(r->unit) &&
	       TERM(r->room) && TERM(r->bld) && TERM(r->nam) && TERM(r->pc) &&
	       TERM(r->location_id) && TERM(r->elins) &&
	       TERM(r->callback_trunk) && TERM(r->callback_user);
}

static int build_zone(struct e911_zone *z, const struct e911_zone_row *r,
		      char *err, size_t errsize)
{
	char buf[sizeof(r->elins)], *save = NULL, *tok;

	z->row = *r;
	if (!row_terminated(r))
		return fail(err, errsize, "e911 zone: a field is not "
			    "terminated");
	if (!*r->name)
		return fail(err, errsize, "e911 zone: no name");
	/* A dispatchable location (RAY BAUM's Act): a street address the
	 * PSAP can send someone to, or the provider's id for one. */
	if (!*r->location_id &&
	    (strlen(r->country) != 2 || !*r->a1 || !*r->a3 ||
	     (!*r->rd && !*r->lmk) || (*r->rd && !*r->hno)))
		return fail(err, errsize, "e911 zone '%s': the address needs "
			    "country (2 letters), a1, a3, rd and hno (or a "
			    "location_id)", r->name);
	tg_strlcpy(buf, r->elins, sizeof(buf));
	for (tok = strtok_r(buf, ", \t", &save); tok;
	     tok = strtok_r(NULL, ", \t", &save)) {
		if (*tok == '+')
			tok++;
		if (!digits(tok) || strlen(tok) >= E911_NUM_SIZE)
			return fail(err, errsize, "e911 zone '%s': ELIN '%s' "
				    "is not a number", r->name, tok);
		if (z->nelins == E911_MAX_ELINS)
			return fail(err, errsize, "e911 zone '%s': more than "
				    "%d ELINs", r->name, E911_MAX_ELINS);
		strcpy(z->elins[z->nelins++], tok);
	}
	if (!z->nelins)
		return fail(err, errsize, "e911 zone '%s': no ELIN (the "
			    "number the PSAP sees and calls back)", r->name);
	if (*r->callback_user && !*r->callback_trunk)
		return fail(err, errsize, "e911 zone '%s': callback_user "
			    "without callback_trunk", r->name);
	return 0;
}

static int parse_subnet(struct member *m, const char *s)
{
	char buf[64], *slash;
	unsigned long bits;
	char *end;

	tg_strlcpy(buf, s, sizeof(buf));
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, m->addr) == 1)
		m->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, m->addr) == 1)
		m->family = AF_INET6;
	else
		return EINVAL;
	bits = m->family == AF_INET ? 32 : 128;
	if (slash) {
		unsigned long max = bits;

		bits = strtoul(slash + 1, &end, 10);
		if (!slash[1] || *end || bits > max)
			return EINVAL;
	}
	m->bits = (unsigned)bits;
	return 0;
}

static int build_member(struct e911_snapshot *s, struct member *m,
			const struct e911_member_row *r, size_t idx,
			char *err, size_t errsize)
{
	if (!TERM(r->zone) || !TERM(r->kind) || !TERM(r->match) ||
	    !TERM(r->flr) || !TERM(r->unit) || !TERM(r->room))
		return fail(err, errsize, "e911 member %zu: a field is not "
			    "terminated", idx);
	memcpy(m->flr, r->flr, sizeof(m->flr));
	memcpy(m->unit, r->unit, sizeof(m->unit));
	memcpy(m->room, r->room, sizeof(m->room));
	for (size_t i = 0; i < s->nzones; i++)
		if (!strcmp(s->zones[i].row.name, r->zone))
			m->zone = &s->zones[i];
	if (!m->zone)
		return fail(err, errsize, "e911 member %zu (%s %s): unknown "
			    "zone '%s'", idx, r->kind, r->match, r->zone);
	tg_strlcpy(m->text, r->match, sizeof(m->text));
	if (!strcmp(r->kind, "calling")) {
		const char *dash = strchr(r->match, '-');
		size_t len = dash ? (size_t)(dash - r->match)
				  : strlen(r->match);

		m->kind = M_CALLING;
		if (len >= sizeof(m->first))
			goto bad;
		memcpy(m->first, r->match, len);
		m->first[len] = '\0';
		tg_strlcpy(m->last, dash ? dash + 1 : r->match,
			   sizeof(m->last));
		if (!digits(m->first) || !digits(m->last) ||
		    strlen(m->first) > 18 ||
		    strlen(m->first) != strlen(m->last) ||
		    strcmp(m->first, m->last) > 0)
			goto bad;
	} else if (!strcmp(r->kind, "subnet")) {
		m->kind = M_SUBNET;
		if (parse_subnet(m, r->match))
			goto bad;
	} else if (!strcmp(r->kind, "trunk")) {
		m->kind = M_TRUNK;
		if (!*r->match || strlen(r->match) >= sizeof(m->trunk))
			goto bad;
		strcpy(m->trunk, r->match);
	} else {
		return fail(err, errsize, "e911 member %zu: kind '%s' is not "
			    "calling, subnet or trunk", idx, r->kind);
	}
	return 0;
bad:
	return fail(err, errsize, "e911 member %zu (zone %s): %s '%s' is not "
		    "%s", idx, r->zone, r->kind, r->match,
		    m->kind == M_CALLING ? "a number or an equal-length "
					   "FIRST-LAST range"
		    : m->kind == M_SUBNET ? "an address or CIDR"
					  : "a trunk name");
}

int e911_snapshot_build(struct e911_snapshot **out,
			const struct e911_zone_row *zones, size_t nzones,
			const struct e911_member_row *members, size_t nmembers,
			char *err, size_t errsize)
{
	struct e911_snapshot *s;
	int rc = 0;

	*out = NULL;
	s = obj_zalloc(sizeof(*s), destructor);
	if (!s)
		return ENOMEM;
	s->zones = calloc(nzones ? nzones : 1, sizeof(*s->zones));
	s->members = calloc(nmembers ? nmembers : 1, sizeof(*s->members));
	if (!s->zones || !s->members) {
		obj_deref(s);
		return ENOMEM;
	}
	for (size_t i = 0; i < nzones && !rc; i++) {
		rc = build_zone(&s->zones[i], &zones[i], err, errsize);
		for (size_t k = 0; k < i && !rc; k++)
			if (!strcmp(s->zones[k].row.name, zones[i].name))
				rc = fail(err, errsize, "e911 zone '%s' twice",
					  zones[i].name);
		s->nzones = i + 1;
	}
	/* An ELIN stands for one zone: a callback must find one caller. */
	for (size_t i = 0; i < s->nzones && !rc; i++)
		for (size_t e = 0; e < s->zones[i].nelins && !rc; e++)
			for (size_t k = 0; k <= i && !rc; k++)
				for (size_t f = 0; f < s->zones[k].nelins &&
						   (k < i || f < e);
				     f++)
					if (!strcmp(s->zones[i].elins[e],
						    s->zones[k].elins[f])) {
						rc = fail(err, errsize,
							  "e911: ELIN %s in "
							  "zones '%s' and "
							  "'%s'",
							  s->zones[i].elins[e],
							  s->zones[k].row.name,
							  s->zones[i].row.name);
						break;
					}
	for (size_t i = 0; i < nmembers && !rc; i++) {
		rc = build_member(s, &s->members[i], &members[i], i + 1, err,
				  errsize);
		s->nmembers = i + 1;
	}
	if (rc) {
		obj_deref(s);
		return rc;
	}
	for (size_t i = 0; i < s->nzones; i++)
		if (!strcmp(s->zones[i].row.name, "default"))
			s->deflt = &s->zones[i];
	*out = s;
	return 0;
}

size_t e911_zone_count(const struct e911_snapshot *s)
{
	return s ? s->nzones : 0;
}

const struct e911_zone *e911_zone_at(const struct e911_snapshot *s, size_t i)
{
	return s && i < s->nzones ? &s->zones[i] : NULL;
}

const struct e911_zone_row *e911_zone_row(const struct e911_zone *z)
{
	return &z->row;
}

size_t e911_zone_nelins(const struct e911_zone *z)
{
	return z->nelins;
}

const char *e911_zone_elin(const struct e911_zone *z, size_t i)
{
	return i < z->nelins ? z->elins[i] : NULL;
}

const struct e911_zone *e911_zone_by_name(const struct e911_snapshot *s,
					  const char *name)
{
	for (size_t i = 0; s && name && i < s->nzones; i++)
		if (!strcmp(s->zones[i].row.name, name))
			return &s->zones[i];
	return NULL;
}

const struct e911_zone *e911_zone_of_elin(const struct e911_snapshot *s,
					  const char *number)
{
	if (!s || !number)
		return NULL;
	if (*number == '+')
		number++;
	for (size_t i = 0; i < s->nzones; i++)
		for (size_t e = 0; e < s->zones[i].nelins; e++)
			if (!strcmp(s->zones[i].elins[e], number))
				return &s->zones[i];
	return NULL;
}

/* ---- placing a caller ----------------------------------------------------- */

static bool in_subnet(const struct member *m, const struct sockaddr *sa)
{
	const uint8_t *a;
	unsigned full, rest;

	if (!sa || sa->sa_family != m->family)
		return false;
	a = m->family == AF_INET
		    ? (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr
		    : ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	full = m->bits / 8;
	rest = m->bits % 8;
	if (memcmp(a, m->addr, full))
		return false;
	return !rest ||
	       !((a[full] ^ m->addr[full]) & (uint8_t)(0xff << (8 - rest)));
}

/* The most specific range: the fewest numbers (at most 18 digits each,
 * checked at build, so the widths fit). */
static bool narrower(const struct member *a, const struct member *b)
{
	unsigned long long wa = strtoull(a->last, NULL, 10) -
				strtoull(a->first, NULL, 10);
	unsigned long long wb = strtoull(b->last, NULL, 10) -
				strtoull(b->first, NULL, 10);

	return wa < wb;
}

static const struct member *locate(const struct e911_snapshot *s,
				   const struct e911_caller *c, char *why,
				   size_t whysize);

const struct e911_zone *e911_locate(const struct e911_snapshot *s,
				    const struct e911_caller *c, char *why,
				    size_t whysize)
{
	const struct member *m = locate(s, c, why, whysize);

	return m ? m->zone : s ? s->deflt : NULL;
}

const struct e911_zone *e911_locate_row(const struct e911_snapshot *s,
					const struct e911_caller *c,
					struct e911_zone_row *row, char *why,
					size_t whysize)
{
	const struct member *m = locate(s, c, why, whysize);
	const struct e911_zone *z = m ? m->zone : s ? s->deflt : NULL;

	if (!z)
		return NULL;
	*row = z->row;
	if (m && *m->flr)
		memcpy(row->flr, m->flr, sizeof(row->flr));
	if (m && *m->unit)
		memcpy(row->unit, m->unit, sizeof(row->unit));
	if (m && *m->room)
		memcpy(row->room, m->room, sizeof(row->room));
	return z;
}

/* The member that places @p c (NULL: none; the default zone may). */
static const struct member *locate(const struct e911_snapshot *s,
				   const struct e911_caller *c, char *why,
				   size_t whysize)
{
	const struct member *best = NULL;
	const char *num;

	if (why && whysize)
		why[0] = '\0';
	if (!s || !c)
		return NULL;
	num = c->calling ? c->calling : "";
	if (*num == '+')
		num++;
	for (size_t i = 0; i < s->nmembers; i++) {
		const struct member *m = &s->members[i];

		if (m->kind != M_CALLING || strlen(num) != strlen(m->first) ||
		    strcmp(num, m->first) < 0 || strcmp(num, m->last) > 0)
			continue;
		if (!best || narrower(m, best))
			best = m;
	}
	for (size_t i = 0; !best && i < s->nmembers; i++) {
		const struct member *m = &s->members[i];

		if (m->kind == M_SUBNET && in_subnet(m, c->src)) {
			/* the longest prefix among the subnets that hold it */
			for (size_t k = i + 1; k < s->nmembers; k++)
				if (s->members[k].kind == M_SUBNET &&
				    s->members[k].bits > m->bits &&
				    in_subnet(&s->members[k], c->src))
					m = &s->members[k];
			best = m;
		}
	}
	for (size_t i = 0; !best && i < s->nmembers; i++)
		if (s->members[i].kind == M_TRUNK && c->src_trunk &&
		    !strcmp(s->members[i].trunk, c->src_trunk))
			best = &s->members[i];
	if (best) {
		if (why && whysize)
			snprintf(why, whysize, "zone %s: %s %s",
				 best->zone->row.name,
				 best->kind == M_CALLING  ? "calling"
				 : best->kind == M_SUBNET ? "subnet"
							  : "trunk",
				 best->text);
		return best;
	}
	if (s->deflt && why && whysize)
		snprintf(why, whysize, "zone default: no member matched");
	return NULL;
}

size_t e911_pick_elin(const struct e911_zone *z,
		      const struct e911_elin_use *use)
{
	size_t best = 0;

	for (size_t i = 1; i < z->nelins; i++) {
		const struct e911_elin_use *a = &use[i], *b = &use[best];

		if (a->active < b->active ||
		    (a->active == b->active && a->last_end_ms < b->last_end_ms))
			best = i;
	}
	return best;
}

/* ---- text ------------------------------------------------------------------ */

static void add(char *out, size_t size, size_t *n, const char *sep,
		const char *a, const char *b)
{
	int w;

	if (!*a || *n >= size)
		return;
	w = snprintf(out + *n, size - *n, "%s%s%s", *n ? sep : "", b ? b : "",
		     a);
	if (w > 0)
		*n += (size_t)w;
}

void e911_address_line(const struct e911_zone_row *z, char *out, size_t size)
{
	char street[256];
	size_t n = 0, sn = 0;

	if (!size)
		return;
	out[0] = street[0] = '\0';
	add(street, sizeof(street), &sn, "", z->hno, NULL);
	add(street, sizeof(street), &sn, "", z->hns, NULL);
	add(street, sizeof(street), &sn, " ", z->prd, NULL);
	add(street, sizeof(street), &sn, " ", z->rd, NULL);
	add(street, sizeof(street), &sn, " ", z->sts, NULL);
	add(street, sizeof(street), &sn, " ", z->pod, NULL);
	add(out, size, &n, ", ", z->nam, NULL);
	add(out, size, &n, ", ", street, NULL);
	add(out, size, &n, ", ", z->lmk, NULL);
	add(out, size, &n, ", ", z->bld, "Bldg ");
	add(out, size, &n, ", ", z->flr, "Floor ");
	add(out, size, &n, ", ", z->unit, "Unit ");
	add(out, size, &n, ", ", z->room, "Room ");
	add(out, size, &n, ", ", z->loc, NULL);
	add(out, size, &n, ", ", z->a3, NULL);
	add(out, size, &n, ", ", z->a1, NULL);
	add(out, size, &n, " ", z->pc, NULL);
	add(out, size, &n, ", ", z->country, NULL);
	if (!n)
		add(out, size, &n, "", z->location_id, "location id ");
}

/* ---- PIDF-LO ----------------------------------------------------------------- */

struct buf {
	char *p;
	size_t size, n;
	bool full;
};

static void put(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (b->full)
		return;
	va_start(ap, fmt);
	w = vsnprintf(b->p + b->n, b->size - b->n, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= b->size - b->n)
		b->full = true;
	else
		b->n += (size_t)w;
}

/* The length of the UTF-8 sequence at @p s when it is one XML 1.0
 * character (XML 1.0 section 2.2), else 0: the shortest form, no
 * surrogate, nothing above U+10FFFF (RFC 3629 section 3), and neither
 * U+FFFE nor U+FFFF.  A NUL ends a sequence early. */
static size_t utf8_char(const unsigned char *s)
{
	uint32_t c;
	size_t n;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || c == 0xfffe ||
	    c == 0xffff)
		return 0;
	return n;
}

/* Text as XML character data: the five specials escaped, control
 * characters (not allowed in XML 1.0) dropped.  The document says it is
 * UTF-8, so a byte that starts no well-formed UTF-8 character becomes
 * '?': one stray Latin-1 byte in a zone would otherwise make the whole
 * PIDF-LO unreadable (RFC 4119 section 2: it is an XML document). */
static void put_text(struct buf *b, const char *s)
{
	for (; *s && !b->full; s++) {
		unsigned char c = (unsigned char)*s;

		if (c >= 0x80) {
			size_t n = utf8_char((const unsigned char *)s);

			if (n)
				put(b, "%.*s", (int)n, s);
			else
				put(b, "?");
			s += n ? n - 1 : 0;
		} else if (c == '&')
			put(b, "&amp;");
		else if (c == '<')
			put(b, "&lt;");
		else if (c == '>')
			put(b, "&gt;");
		else if (c == '"')
			put(b, "&quot;");
		else if (c == '\'')
			put(b, "&apos;");
		else if (c >= 0x20 || c == '\t')
			put(b, "%c", c);
	}
}

static void put_elem(struct buf *b, const char *name, const char *v)
{
	if (!*v)
		return;
	put(b, "<ca:%s>", name);
	put_text(b, v);
	put(b, "</ca:%s>", name);
}

static bool ascii_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static void iso_time(char *out, size_t size, int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int e911_pidf(const struct e911_zone_row *z, const char *entity,
	      const char *device_id, const char *device, int64_t now_ms,
	      char *out, size_t size)
{
	struct buf b = {out, size, 0, size == 0};
	char now[32], expiry[32], country[3] = "";
	bool civic = false;
	/* RFC 5139's elements, in the order its schema's sequence wants. */
	const struct {
		const char *name, *v;
	} el[] = {
		{"country", country},    {"A1", z->a1},   {"A2", z->a2},
		{"A3", z->a3},           {"A4", z->a4},   {"A5", z->a5},
		{"A6", z->a6},           {"PRD", z->prd}, {"RD", z->rd},
		{"STS", z->sts},         {"POD", z->pod}, {"HNO", z->hno},
		{"HNS", z->hns},         {"LMK", z->lmk}, {"LOC", z->loc},
		{"FLR", z->flr},         {"NAM", z->nam}, {"PC", z->pc},
		{"BLD", z->bld},         {"UNIT", z->unit},
		{"ROOM", z->room},
	};

	/* RFC 5139 section 3.3: an ISO 3166-1 alpha-2 code, two upper-case
	 * letters; "us" is sent as "US", anything else not at all. */
	if (strlen(z->country) == 2 && ascii_alpha(z->country[0]) &&
	    ascii_alpha(z->country[1])) {
		country[0] = (char)(z->country[0] & ~0x20);
		country[1] = (char)(z->country[1] & ~0x20);
	}
	iso_time(now, sizeof(now), now_ms);
	iso_time(expiry, sizeof(expiry), now_ms + 24 * 3600 * 1000LL);
	put(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\n"
		" xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\"\n"
		" xmlns:gp=\"urn:ietf:params:xml:ns:pidf:geopriv10\"\n"
		" xmlns:gbp=\"urn:ietf:params:xml:ns:pidf:geopriv10:"
		"basicPolicy\"\n"
		" xmlns:ca=\"urn:ietf:params:xml:ns:pidf:geopriv10:"
		"civicAddr\"\n entity=\"");
	put_text(&b, entity);
	put(&b, "\">\n<dm:device id=\"");
	put_text(&b, device);
	put(&b, "\">\n<gp:geopriv>\n<gp:location-info>\n");
	put(&b, "<ca:civicAddress xml:lang=\"en\">");
	for (size_t i = 0; i < sizeof(el) / sizeof(el[0]) && !civic; i++)
		civic = *el[i].v != '\0';
	/* Every RFC 5139 element is optional: an address that came with
	 * the call may lack a country and still be the best we have. */
	if (civic) {
		for (size_t i = 0; i < sizeof(el) / sizeof(el[0]); i++)
			put_elem(&b, el[i].name, el[i].v);
	} else {
		/* Only the provider's id: every element is optional, and
		 * LOC ("additional location information") carries it. */
		put_elem(&b, "LOC", z->location_id);
	}
	put(&b, "</ca:civicAddress>\n");
	put(&b, "</gp:location-info>\n<gp:usage-rules>\n"
		"<gbp:retransmission-allowed>true</gbp:retransmission-"
		"allowed>\n<gbp:retention-expiry>%s</gbp:retention-expiry>\n"
		"</gp:usage-rules>\n<gp:method>Manual</gp:method>\n",
		expiry);
	put(&b, "</gp:geopriv>\n<dm:deviceID>");
	put_text(&b, device_id);
	put(&b, "</dm:deviceID>\n<dm:timestamp>%s</dm:timestamp>\n"
		"</dm:device>\n</presence>\n", now);
	if (b.full) {
		if (size)
			out[0] = '\0';
		return ENOSPC;
	}
	return 0;
}

/* ---- reading a PIDF-LO ----------------------------------------------------- */

/* Decode XML character data (the five entities and &#N; / &#xN;) into
 * @p out, cut to @p size; characters outside ASCII printable are kept
 * as bytes, control characters dropped. */
static void xml_text(const char *s, size_t n, char *out, size_t size)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < size; i++) {
		char c = s[i];

		if (c == '&') {
			const char *semi = memchr(s + i, ';', n - i);
			size_t elen = semi ? (size_t)(semi - (s + i)) : 0;
			static const struct {
				const char *name;
				char c;
			} ents[] = {{"&amp", '&'}, {"&lt", '<'}, {"&gt", '>'},
				    {"&quot", '"'}, {"&apos", '\''}};

			c = '?';
			for (size_t k = 0; semi && k < 5; k++)
				if (elen == strlen(ents[k].name) &&
				    !memcmp(s + i, ents[k].name, elen))
					c = ents[k].c;
			if (semi && elen > 2 && s[i + 1] == '#') {
				unsigned long v = s[i + 2] == 'x'
					? strtoul(s + i + 3, NULL, 16)
					: strtoul(s + i + 2, NULL, 10);

				c = v >= 0x20 && v < 0x7f ? (char)v : '?';
			}
			if (semi)
				i += elen;
		}
		if ((unsigned char)c >= 0x20 || c == '\t')
			out[o++] = c;
	}
	out[o] = '\0';
}

/* The local name of a tag starting at @p p (after '<' or '</'). */
static size_t tag_name(const char *p, const char *end, const char **local)
{
	const char *q = p;

	while (q < end && !strchr(" \t\r\n/>", *q))
		q++;
	*local = p;
	for (const char *c = p; c < q; c++)
		if (*c == ':')
			*local = c + 1;
	return (size_t)(q - *local);
}

int e911_pidf_read(const char *xml, size_t len, struct e911_zone_row *out,
		   char *elin, size_t esize)
{
	const struct {
		const char *name;
		size_t off, size;
	} f[] = {
#define F(n, m) {n, offsetof(struct e911_zone_row, m), \
		 sizeof(((struct e911_zone_row *)0)->m)}
		F("country", country), F("A1", a1), F("A2", a2), F("A3", a3),
		F("A4", a4), F("A5", a5), F("A6", a6), F("PRD", prd),
		F("POD", pod), F("STS", sts), F("RD", rd), F("HNO", hno),
		F("HNS", hns), F("LMK", lmk), F("LOC", loc), F("FLR", flr),
		F("UNIT", unit), F("ROOM", room), F("BLD", bld), F("NAM", nam),
		F("PC", pc),
#undef F
	};
	const char *p = xml, *end = xml + len, *text = NULL;
	size_t field = SIZE_MAX;
	bool in_civic = false, found = false;

	memset(out, 0, sizeof(*out));
	strcpy(out->name, "incoming");
	if (esize)
		elin[0] = '\0';
	while (p < end) {
		const char *lt = memchr(p, '<', (size_t)(end - p)), *gt, *local;
		bool closing;
		size_t n;

		if (!lt)
			break;
		if (field != SIZE_MAX && text && lt >= text)
			xml_text(text, (size_t)(lt - text),
				 (char *)out + f[field].off, f[field].size);
		text = NULL;
		gt = memchr(lt, '>', (size_t)(end - lt));
		if (!gt)
			return EBADMSG;
		p = gt + 1;
		if (lt + 1 < end && strchr("?!", lt[1]))
			continue; /* declaration, comment, CDATA: skipped */
		closing = lt[1] == '/';
		n = tag_name(lt + 1 + closing, gt, &local);
		if (n == 12 && !memcmp(local, "civicAddress", 12)) {
			in_civic = !closing && gt[-1] != '/';
			found = true;
			continue;
		}
		field = SIZE_MAX;
		if (!in_civic || closing || gt[-1] == '/')
			continue;
		for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
			if (strlen(f[i].name) == n &&
			    !memcmp(local, f[i].name, n)) {
				field = i;
				text = p;
			}
	}
	/* An empty or self-closed civicAddress is no location: it must not
	 * stand in for a zone's real address. */
	for (size_t i = 0; found && i < sizeof(f) / sizeof(f[0]); i++)
		if (*((char *)out + f[i].off))
			break;
		else if (i + 1 == sizeof(f) / sizeof(f[0]))
			found = false;
	if (!found)
		return ENOENT;
	if (esize) {
		const char *nam = out->nam[0] == '+' ? out->nam + 1 : out->nam;
		size_t d = strspn(nam, "0123456789");

		if (d >= 7 && d <= 15 && !nam[d])
			tg_strlcpy(elin, nam, esize);
	}
	return 0;
}
