/* dialplan/lcr_csv.c  CSV rate deck import: header mapping, field checks
 *
 * A pure parser over a buffer: no I/O, no allocation, no clock.  Each
 * record is unescaped into a fixed scratch buffer on the stack, so a deck
 * of any shape costs bounded memory, and a malformed record is reported
 * by line and skipped rather than stopping the import.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"
#include "dialplan/lcr.h"

enum col {
	COL_PREFIX,
	COL_RATE,
	COL_FEE,
	COL_INCR,
	COL_FIRST,
	COL_NEXT,
	COL_FROM,
	COL_UNTIL,
	COL_DESC,
	COL_CARRIER,
	COL_N
};

static const char *const col_label[COL_N] = {
	"prefix",         "rate",           "connection fee",
	"increment",      "first increment", "next increment",
	"effective from", "effective until", "description",
	"carrier",
};

/* Header names as compared: lower case, letters and digits only, so
 * "Rate/Min", "rate_per_minute" and "Rate Per Minute" all match. */
static const struct {
	const char *name;
	enum col col;
} col_names[] = {
	{"prefix", COL_PREFIX},
	{"code", COL_PREFIX},
	{"dialcode", COL_PREFIX},
	{"dialingcode", COL_PREFIX},
	{"destinationcode", COL_PREFIX},
	{"digits", COL_PREFIX},
	{"rate", COL_RATE},
	{"ratemin", COL_RATE},
	{"ratepermin", COL_RATE},
	{"rateperminute", COL_RATE},
	{"perminute", COL_RATE},
	{"price", COL_RATE},
	{"pricemin", COL_RATE},
	{"pricepermin", COL_RATE},
	{"priceperminute", COL_RATE},
	{"cost", COL_RATE},
	{"costperminute", COL_RATE},
	{"connectionfee", COL_FEE},
	{"connectfee", COL_FEE},
	{"connfee", COL_FEE},
	{"fee", COL_FEE},
	{"connectioncharge", COL_FEE},
	{"setupfee", COL_FEE},
	{"setup", COL_FEE},
	{"increment", COL_INCR},
	{"increments", COL_INCR},
	{"billingincrement", COL_INCR},
	{"billingincrements", COL_INCR},
	{"billing", COL_INCR},
	{"interval", COL_INCR},
	{"firstincrement", COL_FIRST},
	{"first", COL_FIRST},
	{"initialincrement", COL_FIRST},
	{"mininterval", COL_FIRST},
	{"minduration", COL_FIRST},
	{"nextincrement", COL_NEXT},
	{"next", COL_NEXT},
	{"subsequentincrement", COL_NEXT},
	{"nextinterval", COL_NEXT},
	{"effectivefrom", COL_FROM},
	{"effectivedate", COL_FROM},
	{"effective", COL_FROM},
	{"from", COL_FROM},
	{"validfrom", COL_FROM},
	{"startdate", COL_FROM},
	{"start", COL_FROM},
	{"effectiveuntil", COL_UNTIL},
	{"effectiveto", COL_UNTIL},
	{"until", COL_UNTIL},
	{"to", COL_UNTIL},
	{"validuntil", COL_UNTIL},
	{"validto", COL_UNTIL},
	{"enddate", COL_UNTIL},
	{"end", COL_UNTIL},
	{"expires", COL_UNTIL},
	{"expiry", COL_UNTIL},
	{"description", COL_DESC},
	{"desc", COL_DESC},
	{"destination", COL_DESC},
	{"name", COL_DESC},
	{"carrier", COL_CARRIER},
	{"trunk", COL_CARRIER},
};

/* ---- records ------------------------------------------------------------ */

struct rec {
	unsigned line; /* physical line where the record starts */
	unsigned nf;
	const char *why; /* set when the record is malformed */
	char *f[DP_RATEDECK_MAX_FIELDS];
	size_t nchars;   /* field bytes so far, capped at LINE_MAX */
	size_t o;        /* write offset in buf: bytes plus NULs */
	char buf[DP_RATEDECK_LINE_MAX + DP_RATEDECK_MAX_FIELDS + 1];
};

static void rec_put(struct rec *r, char c)
{
	if (r->nchars == DP_RATEDECK_LINE_MAX) {
		r->why = "line too long";
		return;
	}
	if (r->nf == DP_RATEDECK_MAX_FIELDS)
		return;
	r->nchars++;
	r->buf[r->o++] = c;
}

static void rec_field_end(struct rec *r, size_t start, int quoted)
{
	if (r->nf == DP_RATEDECK_MAX_FIELDS) {
		r->why = "too many fields";
		return;
	}
	/* Spaces around an unquoted value are padding, not data. */
	while (!quoted && r->o > start &&
	       (r->buf[r->o - 1] == ' ' || r->buf[r->o - 1] == '\t'))
		r->o--;
	r->buf[r->o++] = '\0';
	r->f[r->nf++] = &r->buf[start];
}

static int line_end(const char *buf, size_t len, size_t *i)
{
	if (buf[*i] == '\r' && *i + 1 < len && buf[*i + 1] == '\n')
		++*i;
	return 1;
}

/* Read the record at *pos (RFC 4180, plus CR-only line ends and padding
 * spaces).  @return 0 at the end of input. */
static int rec_read(struct rec *r, const char *buf, size_t len, size_t *pos,
		    unsigned *line, char sep)
{
	size_t i = *pos, start = 0;
	int inq = 0, quoted = 0, closed = 0;

	if (i >= len)
		return 0;
	r->line = *line;
	r->nf = 0;
	r->nchars = 0;
	r->o = 0;
	r->why = NULL;
	for (; i < len; i++) {
		char c = buf[i];

		/* A NUL would silently cut a C string short: "4\0x" must
		 * not become prefix 4. */
		if (c == '\0') {
			r->why = "NUL byte in line";
			continue;
		}
		if (inq) {
			if (c == '"' && i + 1 < len && buf[i + 1] == '"') {
				rec_put(r, '"');
				i++;
			} else if (c == '"') {
				inq = 0;
				closed = 1;
			} else {
				if (c == '\n' ||
				    (c == '\r' && (i + 1 == len ||
						   buf[i + 1] != '\n')))
					++*line;
				rec_put(r, c);
			}
		} else if (c == '\n' || c == '\r') {
			line_end(buf, len, &i);
			++*line;
			i++;
			break;
		} else if (c == sep) {
			rec_field_end(r, start, quoted);
			start = r->o;
			quoted = closed = 0;
		} else if (closed) {
			if (c != ' ' && c != '\t')
				r->why = "text after a closing quote";
		} else if (c == '"' && r->o == start) {
			inq = quoted = 1;
		} else if (r->o == start && (c == ' ' || c == '\t')) {
			continue;
		} else {
			rec_put(r, c);
		}
	}
	if (inq)
		r->why = "unterminated quoted field";
	rec_field_end(r, start, quoted);
	*pos = i;
	return 1;
}

static int rec_blank(const struct rec *r)
{
	for (unsigned i = 0; i < r->nf; i++)
		if (r->f[i][0])
			return 0;
	return 1;
}

/* ---- values ------------------------------------------------------------- */

enum amount { AMT_OK, AMT_BAD, AMT_NEG, AMT_BIG, AMT_PREC };

/* "0.0125" -> 12500 micro-units, exactly. */
static enum amount amount_parse(const char *s, int64_t *out)
{
	int64_t v = 0;
	int neg = 0, digits = 0, frac = -1, scale;

	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	for (; *s; s++) {
		if ((*s == '.' || *s == ',') && frac < 0) {
			frac = 0;
			continue;
		}
		if (*s < '0' || *s > '9')
			return AMT_BAD;
		if (frac >= 0 && ++frac > 6) {
			/* Trailing zeros past micro-units lose nothing. */
			if (*s != '0')
				return AMT_PREC;
			continue;
		}
		digits++;
		if (v > DP_RATE_MAX)
			return AMT_BIG;
		v = v * 10 + (*s - '0');
	}
	if (!digits)
		return AMT_BAD;
	for (scale = frac < 0 ? 0 : frac > 6 ? 6 : frac; scale < 6; scale++)
		v *= 10;
	if (neg && v)
		return AMT_NEG;
	if (v > DP_RATE_MAX)
		return AMT_BIG;
	*out = v;
	return AMT_OK;
}

static int uint_parse(const char **sp, unsigned maxdigits, unsigned *out)
{
	const char *s = *sp;
	unsigned v = 0, n = 0;

	while (*s >= '0' && *s <= '9' && n < maxdigits) {
		v = v * 10 + (unsigned)(*s++ - '0');
		n++;
	}
	if (!n)
		return EINVAL;
	*sp = s;
	*out = v;
	return 0;
}

/* Whole seconds, 1 to 3600, and nothing else. */
static int secs_parse(const char *s, unsigned *out)
{
	if (uint_parse(&s, 5, out) || *s || *out < 1 ||
	    *out > DP_RATE_INCR_MAX)
		return EINVAL;
	return 0;
}

/* "60/60", "6/6", "60:6" or a lone "60" meaning 60/60. */
static int incr_parse(const char *s, unsigned *first, unsigned *next)
{
	if (uint_parse(&s, 5, first))
		return EINVAL;
	if (*s == '/' || *s == ':') {
		s++;
		if (uint_parse(&s, 5, next))
			return EINVAL;
	} else {
		*next = *first;
	}
	if (*s || *first < 1 || *first > DP_RATE_INCR_MAX || *next < 1 ||
	    *next > DP_RATE_INCR_MAX)
		return EINVAL;
	return 0;
}

static int leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian, y >= 1970). */
static int64_t days_from_civil(unsigned y, unsigned m, unsigned d)
{
	static const unsigned before[12] = {0,   31,  59,  90,  120, 151,
					    181, 212, 243, 273, 304, 334};
	int64_t days = 0;

	/* Whole 400-year cycles first keep this loop short. */
	days += (int64_t)((y - 1970) / 400) * 146097;
	for (unsigned yy = 1970 + (y - 1970) / 400 * 400; yy < y; yy++)
		days += 365 + leap(yy);
	return days + before[m - 1] + (m > 2 && leap(y)) + d - 1;
}

static int two(const char **s, unsigned *v)
{
	const char *p = *s;

	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return EINVAL;
	*v = (unsigned)(p[0] - '0') * 10 + (unsigned)(p[1] - '0');
	*s = p + 2;
	return 0;
}

/* Parse "[T| ]HH:MM[:SS[.frac]][Z|+HH[:]MM|-HH[:]MM]" into seconds. */
static int time_parse(const char *s, int64_t *secs)
{
	unsigned hh, mm, ss = 0, oh = 0, om = 0;
	int sign = 0;

	if (!*s) {
		*secs = 0;
		return 0;
	}
	if (*s != 'T' && *s != 't' && *s != ' ')
		return EINVAL;
	s++;
	if (two(&s, &hh) || *s++ != ':' || two(&s, &mm))
		return EINVAL;
	if (*s == ':') {
		s++;
		if (two(&s, &ss))
			return EINVAL;
		if (*s == '.')
			for (s++; *s >= '0' && *s <= '9'; s++)
				;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		sign = *s++ == '-' ? -1 : 1;
		if (two(&s, &oh))
			return EINVAL;
		if (*s == ':')
			s++;
		if (two(&s, &om))
			return EINVAL;
	}
	if (*s || hh > 23 || mm > 59 || ss > 60 || oh > 23 || om > 59)
		return EINVAL;
	/* A leap second is folded into the next second, as POSIX time does. */
	*secs = (int64_t)hh * 3600 + mm * 60 + ss -
		sign * ((int64_t)oh * 3600 + om * 60);
	return 0;
}

/* YYYY-MM-DD (or YYYY/MM/DD) with an optional time, or Unix seconds.
 * Empty is *empty (0: since ever, or open-ended). */
static int date_parse(const char *s, int64_t *out)
{
	static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30,
					   31, 31, 30, 31, 30, 31};
	unsigned y, m, d;
	int64_t t, tod;
	char sep;

	if (!*s) {
		*out = 0;
		return 0;
	}
	if (strspn(s, "0123456789") == strlen(s)) {
		if (strlen(s) > 12)
			return EINVAL;
		t = 0;
		for (; *s; s++)
			t = t * 10 + (*s - '0');
		if (t > DP_RATE_TIME_MAX)
			return EINVAL;
		*out = t;
		return 0;
	}
	if (uint_parse(&s, 4, &y) || (*s != '-' && *s != '/'))
		return EINVAL;
	sep = *s++;
	if (two(&s, &m) || *s++ != sep || two(&s, &d))
		return EINVAL;
	if (y < 1970 || m < 1 || m > 12 || d < 1 ||
	    d > mdays[m - 1] + (m == 2 && leap(y)))
		return EINVAL;
	if (time_parse(s, &tod))
		return EINVAL;
	t = days_from_civil(y, m, d) * 86400 + tod;
	if (t < 0 || t > DP_RATE_TIME_MAX)
		return EINVAL;
	*out = t;
	return 0;
}

/* ---- header ---------------------------------------------------------------- */

struct deck {
	int col[COL_N]; /* field index, or -1 */
	unsigned ncols; /* fields in the header */
	const char *carrier;
	char sep;
};

static int col_lookup(const char *field)
{
	char norm[32];
	size_t n = 0;

	for (; *field; field++) {
		unsigned char c = (unsigned char)*field;

		if (!isalnum(c) || c > 0x7f)
			continue;
		if (n + 1 == sizeof(norm))
			return -1;
		norm[n++] = (char)tolower(c);
	}
	norm[n] = '\0';
	for (size_t i = 0; i < TG_ARRAY_SIZE(col_names); i++)
		if (!strcmp(norm, col_names[i].name))
			return (int)col_names[i].col;
	return -1;
}

/* The separator is whichever candidate the header line uses most. */
static char sep_detect(const char *buf, size_t len, size_t pos)
{
	unsigned comma = 0, semi = 0, tab = 0;
	int inq = 0;

	for (; pos < len && (inq || (buf[pos] != '\n' && buf[pos] != '\r'));
	     pos++) {
		if (buf[pos] == '"')
			inq = !inq;
		else if (!inq && buf[pos] == ',')
			comma++;
		else if (!inq && buf[pos] == ';')
			semi++;
		else if (!inq && buf[pos] == '\t')
			tab++;
	}
	if (semi > comma && semi >= tab)
		return ';';
	if (tab > comma && tab > semi)
		return '\t';
	return ',';
}

static const char *header_map(struct deck *dk, const struct rec *r,
			      char *why, size_t whysize)
{
	int c;

	for (c = 0; c < COL_N; c++)
		dk->col[c] = -1;
	if (r->why)
		return r->why;
	dk->ncols = r->nf;
	for (unsigned i = 0; i < r->nf; i++) {
		c = col_lookup(r->f[i]);
		if (c < 0)
			continue;
		if (dk->col[c] >= 0) {
			snprintf(why, whysize,
				 "columns '%.30s' and '%.30s' are both the %s",
				 r->f[dk->col[c]], r->f[i], col_label[c]);
			return why;
		}
		dk->col[c] = (int)i;
	}
	if (dk->col[COL_PREFIX] < 0)
		return "no prefix column";
	if (dk->col[COL_RATE] < 0)
		return "no rate column";
	if (dk->col[COL_INCR] >= 0 &&
	    (dk->col[COL_FIRST] >= 0 || dk->col[COL_NEXT] >= 0))
		return "both an increment column and first/next increment "
		       "columns";
	if ((dk->col[COL_FIRST] >= 0) != (dk->col[COL_NEXT] >= 0))
		return "a first increment column needs a next increment "
		       "column, and the other way round";
	if (dk->col[COL_CARRIER] < 0 && (!dk->carrier || !dk->carrier[0]))
		return "no carrier column and no carrier given";
	return NULL;
}

/* ---- rows ------------------------------------------------------------------ */

/* The field for column @p c: NULL if the row is too short for it, "" if
 * the deck has no such column. */
static const char *fld(const struct deck *dk, const struct rec *r,
		       enum col c)
{
	if (dk->col[c] < 0)
		return "";
	if ((unsigned)dk->col[c] >= r->nf)
		return NULL;
	return r->f[dk->col[c]];
}

static int amount_field(const char *v, const char *what, int required,
			int64_t *out, char *why, size_t whysize)
{
	if (!v || (!*v && required)) {
		snprintf(why, whysize, "missing %s", what);
		return EINVAL;
	}
	if (!*v) {
		*out = 0;
		return 0;
	}
	switch (amount_parse(v, out)) {
	case AMT_OK:
		return 0;
	case AMT_NEG:
		snprintf(why, whysize, "negative %s '%.40s'", what, v);
		break;
	case AMT_BIG:
		snprintf(why, whysize, "%s '%.40s' above %d per minute", what,
			 v, (int)(DP_RATE_MAX / DP_RATE_MICRO));
		break;
	case AMT_PREC:
		snprintf(why, whysize, "%s '%.40s' has more than 6 decimals",
			 what, v);
		break;
	default:
		snprintf(why, whysize, "bad %s '%.40s'", what, v);
		break;
	}
	return EINVAL;
}

static int increments(const struct deck *dk, const struct rec *r,
		      struct dp_rate *rate, char *why, size_t whysize)
{
	const char *v = fld(dk, r, COL_INCR), *nx;

	rate->first_incr = rate->next_incr = 60;
	if (dk->col[COL_INCR] >= 0) {
		if (!v || !*v)
			return 0;
		if (incr_parse(v, &rate->first_incr, &rate->next_incr)) {
			snprintf(why, whysize,
				 "bad increment '%.40s' (want first/next "
				 "seconds, 1 to 3600)",
				 v);
			return EINVAL;
		}
		return 0;
	}
	v = fld(dk, r, COL_FIRST);
	nx = fld(dk, r, COL_NEXT);
	if (dk->col[COL_FIRST] < 0 || !v || !nx || (!*v && !*nx))
		return 0;
	if (secs_parse(v, &rate->first_incr) ||
	    secs_parse(nx, &rate->next_incr)) {
		snprintf(why, whysize,
			 "bad increments '%.20s' and '%.20s' (want seconds, "
			 "1 to 3600)",
			 v, nx);
		return EINVAL;
	}
	return 0;
}

static int dates(const struct deck *dk, const struct rec *r,
		 struct dp_rate *rate, char *why, size_t whysize)
{
	const char *from = fld(dk, r, COL_FROM), *until = fld(dk, r, COL_UNTIL);

	if (date_parse(from ? from : "", &rate->from)) {
		snprintf(why, whysize, "bad effective from date '%.40s'",
			 from);
		return EINVAL;
	}
	if (date_parse(until ? until : "", &rate->until)) {
		snprintf(why, whysize, "bad effective until date '%.40s'",
			 until);
		return EINVAL;
	}
	if (rate->until && rate->until <= rate->from) {
		snprintf(why, whysize,
			 "effective until '%.30s' is not after effective "
			 "from '%.30s'",
			 until, from ? from : "");
		return EINVAL;
	}
	return 0;
}

/* Copy at most size-1 bytes, cutting before a UTF-8 continuation byte
 * so a truncated description is still valid text. */
static void utf8_copy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (n >= size) {
		n = size - 1;
		while (n && ((unsigned char)src[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static int carrier_field(const struct deck *dk, const struct rec *r,
			 struct dp_rate *rate, char *why, size_t whysize)
{
	const char *v = fld(dk, r, COL_CARRIER);

	if (!v || !*v)
		v = dk->carrier ? dk->carrier : "";
	if (!*v) {
		snprintf(why, whysize, "missing carrier");
		return EINVAL;
	}
	if (strlen(v) >= sizeof(rate->carrier)) {
		snprintf(why, whysize, "carrier name '%.40s' longer than %zu "
			 "bytes", v, sizeof(rate->carrier) - 1);
		return EINVAL;
	}
	strcpy(rate->carrier, v);
	return 0;
}

static int row_parse(const struct deck *dk, const struct rec *r,
		     struct dp_rate *rate, char *why, size_t whysize)
{
	const char *v;
	size_t n;

	memset(rate, 0, sizeof(*rate));
	if (r->why) {
		snprintf(why, whysize, "%s", r->why);
		return EINVAL;
	}
	for (unsigned i = dk->ncols; i < r->nf; i++) {
		if (r->f[i][0]) {
			snprintf(why, whysize, "%u fields, the header has %u",
				 r->nf, dk->ncols);
			return EINVAL;
		}
	}
	v = fld(dk, r, COL_PREFIX);
	if (!v || !*v) {
		snprintf(why, whysize, "missing prefix");
		return EINVAL;
	}
	v += *v == '+';
	n = strlen(v);
	if (!n || n > DP_RATE_PREFIX_MAX || strspn(v, "0123456789") != n) {
		snprintf(why, whysize, "bad prefix '%.40s' (1 to %d digits)",
			 fld(dk, r, COL_PREFIX), DP_RATE_PREFIX_MAX);
		return EINVAL;
	}
	memcpy(rate->prefix, v, n + 1);
	if (amount_field(fld(dk, r, COL_RATE), "rate", 1, &rate->rate, why,
			 whysize) ||
	    amount_field(fld(dk, r, COL_FEE), "connection fee", 0,
			 &rate->conn_fee, why, whysize) ||
	    increments(dk, r, rate, why, whysize) ||
	    dates(dk, r, rate, why, whysize) ||
	    carrier_field(dk, r, rate, why, whysize))
		return EINVAL;
	v = fld(dk, r, COL_DESC);
	utf8_copy(rate->desc, v ? v : "", sizeof(rate->desc));
	/* Belt and braces: whatever passes here must pass the builder. */
	return dp_rate_check(rate, why, whysize);
}

int dp_ratedeck_parse_csv(const char *buf, size_t len, const char *carrier,
			  dp_rate_row_h *rowh, dp_rate_err_h *errh, void *arg)
{
	struct deck dk = {.carrier = carrier};
	struct rec r;
	size_t pos = 0;
	unsigned line = 1;
	const char *hwhy;
	char why[160], hbuf[128];
	int rc;

	if (len > DP_RATEDECK_MAX_BYTES) {
		snprintf(why, sizeof(why), "rate deck larger than %zu bytes",
			 (size_t)DP_RATEDECK_MAX_BYTES);
		rc = errh ? errh(0, why, arg) : 0;
		return rc ? rc : EFBIG;
	}
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3))
		pos = 3;
	/* The header is the first line that is neither blank nor '#'. */
	for (;;) {
		size_t at = pos;

		while (at < len && (buf[at] == ' ' || buf[at] == '\t'))
			at++;
		if (at < len && (buf[at] == '\n' || buf[at] == '\r')) {
			line_end(buf, len, &at);
			pos = at + 1;
			line++;
			continue;
		}
		if (at < len && buf[at] == '#') {
			while (at < len && buf[at] != '\n' && buf[at] != '\r')
				at++;
			pos = at;
			continue;
		}
		break;
	}
	dk.sep = sep_detect(buf, len, pos);
	if (!rec_read(&r, buf, len, &pos, &line, dk.sep)) {
		rc = errh ? errh(line, "no header line", arg) : 0;
		return rc ? rc : EBADMSG;
	}
	hwhy = header_map(&dk, &r, hbuf, sizeof(hbuf));
	if (hwhy) {
		snprintf(why, sizeof(why), "header: %s", hwhy);
		rc = errh ? errh(r.line, why, arg) : 0;
		return rc ? rc : EBADMSG;
	}
	while (rec_read(&r, buf, len, &pos, &line, dk.sep)) {
		struct dp_rate rate;

		if ((!r.why && rec_blank(&r)) || (r.nf && r.f[0][0] == '#'))
			continue;
		if (row_parse(&dk, &r, &rate, why, sizeof(why)))
			rc = errh ? errh(r.line, why, arg) : 0;
		else
			rc = rowh ? rowh(&rate, r.line, arg) : 0;
		if (rc)
			return rc;
	}
	return 0;
}
