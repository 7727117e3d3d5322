/* sip/check.c  What libosip2 lets through: the syntax and UAS checks of
 * RFC 3261 that RFC 4475 tortures, run on the raw datagram
 *
 * libosip2's parser is lenient: it takes "INVITE  <sip:x> SIP/2.0 ",
 * a negative Content-Length, a CSeq of 2^65 or a To with an unterminated
 * quote, and repairs or truncates what it does not understand.  The
 * gateway would then act on a message its sender did not write, so every
 * datagram is read here first, as the ABNF says, and a request that
 * breaks it gets a 400 whose reason phrase names the problem.
 *
 * Pure: bytes in, verdict out, no allocation.  The header block is walked
 * line by line with folded lines (RFC 3261 7.3.1) joined on the fly.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sip/sip_int.h"

/* RFC 3261 25.1 token characters: alphanumerics and -.!%*_+`'~, as a
 * bitmap (this runs for most octets of every datagram). */
static inline bool is_token(unsigned char c)
{
	static const uint64_t tok[2] = { 0x03ff6ca200000000ull,
					 0x47ffffff87fffffeull };

	return c < 128 && ((tok[c >> 6] >> (c & 63)) & 1);
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* A header value with its folds: [p, end) of the raw buffer where CRLF
 * followed by SP/HT is whitespace.  Readers step with val_next(). */
struct val {
	const char *p, *end;
};

/* Line ends as libosip2 accepts them: CRLF, LF or CR. */
static size_t eol_len(const char *p, const char *end)
{
	if (p < end && *p == '\r')
		return (p + 1 < end && p[1] == '\n') ? 2 : 1;
	if (p < end && *p == '\n')
		return 1;
	return 0;
}

/* The first CR or LF at or after @p p (or @p end): memchr, not a loop
 * per octet, as every line of every datagram goes through here. */
static const char *line_end(const char *p, const char *end)
{
	const char *lf = memchr(p, '\n', (size_t)(end - p));
	const char *lim = lf ? lf : end;
	const char *cr = memchr(p, '\r', (size_t)(lim - p));

	return cr ? cr : lim;
}

/* Skip whitespace, folds included. */
static void val_ws(struct val *v)
{
	size_t n;

	for (;;) {
		while (v->p < v->end && is_wsp(*v->p))
			v->p++;
		n = eol_len(v->p, v->end);
		if (!n || v->p + n >= v->end || !is_wsp(v->p[n]))
			return;
		v->p += n;
	}
}

static bool val_done(struct val *v)
{
	val_ws(v);
	return v->p >= v->end;
}

static size_t val_token(struct val *v)
{
	const char *s = v->p;

	while (v->p < v->end && is_token((unsigned char)*v->p))
		v->p++;
	return (size_t)(v->p - s);
}

/* A quoted-string from the opening quote: false when it never ends. */
static bool val_quoted(struct val *v)
{
	v->p++;
	while (v->p < v->end) {
		if (*v->p == '\\') {
			v->p += 2;
			continue;
		}
		if (*v->p++ == '"')
			return true;
	}
	return false;
}

/* A decimal of at most @p max: false when not all digits or too big. */
static bool read_uint(const char *p, size_t n, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;
	size_t i;

	if (!n)
		return false;
	for (i = 0; i < n; i++) {
		if (!is_digit(p[i]))
			return false;
		x = x * 10 + (uint64_t)(p[i] - '0');
		if (x > max)
			return false;
	}
	*out = x;
	return true;
}

/* The digits at v->p, then only whitespace up to @p stop (or the end). */
static bool val_uint(struct val *v, uint64_t max, uint64_t *out)
{
	const char *s;

	val_ws(v);
	s = v->p;
	while (v->p < v->end && is_digit(*v->p))
		v->p++;
	return read_uint(s, (size_t)(v->p - s), max, out);
}

static void set(struct sip_verdict *vd, int status, const char *fmt,
		const char *arg)
{
	if (vd->status)
		return;
	vd->status = status;
	snprintf(vd->phrase, sizeof(vd->phrase), fmt, arg);
}

/* ---- headers we read --------------------------------------------------- */

enum hdr {
	H_OTHER, H_VIA, H_FROM, H_TO, H_CALLID, H_CSEQ, H_CONTACT,
	H_CLEN, H_CTYPE, H_MAXFWD, H_EXPIRES, H_ROUTE, H_RROUTE, H_REQUIRE,
	H_ACCEPT, H_RETRY, H_NHDR
};

static const struct {
	const char *name;
	unsigned char len;
	char compact;  /* RFC 3261 7.3.3 compact form, or 0 */
	bool single;   /* at most one header line (RFC 3261 7.3.1) */
} hdrs[H_NHDR] = {
#define HDR(name, compact, single) { name, sizeof(name) - 1, compact, single }
	[H_VIA] = HDR("Via", 'v', false),
	[H_FROM] = HDR("From", 'f', true),
	[H_TO] = HDR("To", 't', true),
	[H_CALLID] = HDR("Call-ID", 'i', true),
	[H_CSEQ] = HDR("CSeq", 0, true),
	[H_CONTACT] = HDR("Contact", 'm', false),
	[H_CLEN] = HDR("Content-Length", 'l', true),
	[H_CTYPE] = HDR("Content-Type", 'c', true),
	[H_MAXFWD] = HDR("Max-Forwards", 0, true),
	[H_EXPIRES] = HDR("Expires", 0, true),
	[H_ROUTE] = HDR("Route", 0, false),
	[H_RROUTE] = HDR("Record-Route", 0, false),
	[H_REQUIRE] = HDR("Require", 0, false),
	[H_ACCEPT] = HDR("Accept", 0, false),
	[H_RETRY] = HDR("Retry-After", 0, true),
#undef HDR
};

/* Every header line of every datagram comes here: lengths and the first
 * letter decide before any string compare. */
static enum hdr hdr_kind(const char *name, size_t n)
{
	char c = (char)(name[0] | 0x20);
	int h;

	for (h = 1; h < H_NHDR; h++) {
		if (n == 1 && c == hdrs[h].compact)
			return (enum hdr)h;
		if (hdrs[h].len == n && (hdrs[h].name[0] | 0x20) == c &&
		    !strncasecmp(name, hdrs[h].name, n))
			return (enum hdr)h;
	}
	return H_OTHER;
}

/* ---- URIs --------------------------------------------------------------- */

/* scheme ":" ...: the scheme's length, 0 when there is none. */
static size_t uri_scheme(const char *p, size_t n)
{
	size_t i;

	if (!n || !((p[0] | 0x20) >= 'a' && (p[0] | 0x20) <= 'z'))
		return 0;
	for (i = 1; i < n; i++) {
		char c = p[i];

		if (c == ':')
			return i;
		if (!((c | 0x20) >= 'a' && (c | 0x20) <= 'z') &&
		    !is_digit(c) && c != '+' && c != '-' && c != '.')
			return 0;
	}
	return 0;
}

static bool scheme_is_sip(const char *p, size_t n)
{
	return (n == 3 && !strncasecmp(p, "sip", 3)) ||
	       (n == 4 && !strncasecmp(p, "sips", 4));
}

/*
 * The host part of a sip: or sips: URI (after the last '@' of the
 * userinfo, RFC 3261 25.1): an IPv6 reference must be in brackets (RFC
 * 5118 4.2) and the port, if any, a number up to 65535.  Sets *headers
 * when "?" headers follow the host.
 */
static bool sip_host_ok(const char *p, size_t n, bool *headers)
{
	const char *end = p + n, *h = memrchr(p, '@', n), *q, *colon = NULL;
	uint64_t port;

	h = h ? h + 1 : p;
	for (q = h; q < end && *q != ';' && *q != '?'; q++)
		;
	*headers = q < end && memchr(q, '?', (size_t)(end - q));
	end = q;
	if (h >= end)
		return false;
	if (*h == '[') {
		q = memchr(h, ']', (size_t)(end - h));
		if (!q || q == h + 1)
			return false;
		for (const char *r = h + 1; r < q; r++)
			if (!is_digit(*r) && !strchr("abcdefABCDEF:.", *r))
				return false;
		if (q + 1 == end)
			return true;
		if (q[1] != ':')
			return false;
		return read_uint(q + 2, (size_t)(end - q - 2), 65535, &port);
	}
	for (q = h; q < end; q++) {
		if (*q == ':') {
			if (colon)
				return false; /* a bare IPv6 address */
			colon = q;
		} else if (!is_token((unsigned char)*q) && *q != '%') {
			return false;
		}
	}
	if (colon)
		return read_uint(colon + 1, (size_t)(end - colon - 1), 65535,
				 &port);
	return true;
}

/* ---- name-addr headers: From, To, Contact, Route, Record-Route --------- */

/* ";" name ["=" value] ... after an address: no empty parameter (RFC 4475
 * 3.1.2.1); @p expires gets Contact's expires value, or stays. */
static bool params_ok(struct val *v, const char **expires, size_t *elen)
{
	for (;;) {
		const char *name;
		size_t n;

		val_ws(v);
		if (v->p >= v->end || *v->p == ',')
			return true;
		if (*v->p != ';')
			return false;
		v->p++;
		val_ws(v);
		name = v->p;
		n = val_token(v);
		if (!n)
			return false;
		val_ws(v);
		if (v->p >= v->end || *v->p != '=')
			continue;
		v->p++;
		val_ws(v);
		if (v->p < v->end && *v->p == '"') {
			if (!val_quoted(v))
				return false;
			continue;
		}
		{
			const char *s = v->p;

			while (v->p < v->end && *v->p != ';' && *v->p != ',' &&
			       !is_wsp(*v->p) && *v->p != '\r' &&
			       *v->p != '\n')
				v->p++;
			if (v->p == s)
				return false;
			if (expires && n == 7 && !strncasecmp(name, "expires", 7)) {
				*expires = s;
				*elen = (size_t)(v->p - s);
			}
		}
	}
}

/*
 * One name-addr or addr-spec (RFC 3261 20.10): a display name of tokens
 * or a quoted string, a URI in <> without whitespace, or a bare URI that
 * holds no "?" or "," (those need the brackets); then parameters.
 */
static const char *addr_check(struct val *v, enum hdr h)
{
	const char *expires = NULL, *u, *ue;
	size_t elen = 0, sl;
	uint64_t x;

	val_ws(v);
	if (h == H_CONTACT && v->p < v->end && *v->p == '*') {
		v->p++;
		return val_done(v) ? NULL : "Bad Contact";
	}
	if (v->p < v->end && *v->p == '"') {
		if (!val_quoted(v))
			return "Unterminated Quoted String in %s";
		val_ws(v);
		if (v->p >= v->end || *v->p != '<')
			return "Bad Display Name in %s";
	} else {
		/* Tokens up to '<', or a bare URI. */
		const char *s = v->p, *lt = NULL;

		/* A list header's comma ends a bare URI; in From and To
		 * it can only be a display name's (not a token). */
		for (const char *q = s; q < v->end; q++) {
			if (*q == '<') {
				lt = q;
				break;
			}
			if (*q == ';' || *q == '"' ||
			    (*q == ',' && h != H_FROM && h != H_TO))
				break;
		}
		if (lt) {
			for (const char *q = s; q < lt; q++)
				if (!is_token((unsigned char)*q) &&
				    !is_wsp(*q) && *q != '\r' && *q != '\n')
					return "Bad Display Name in %s";
			v->p = lt;
		}
	}
	if (v->p < v->end && *v->p == '<') {
		u = ++v->p;
		while (v->p < v->end && *v->p != '>') {
			if (is_wsp(*v->p) || *v->p == '\r' || *v->p == '\n' ||
			    *v->p == '<')
				return "Bad URI in %s";
			v->p++;
		}
		if (v->p >= v->end)
			return "Unterminated URI in %s";
		ue = v->p++;
	} else {
		u = v->p;
		while (v->p < v->end && *v->p != ';' && *v->p != ',' &&
		       !is_wsp(*v->p) && *v->p != '\r' && *v->p != '\n') {
			if (*v->p == '?' || *v->p == '<' || *v->p == '>' ||
			    *v->p == '"')
				return "%s URI Must Be Enclosed in <>";
			v->p++;
		}
		ue = v->p;
	}
	sl = uri_scheme(u, (size_t)(ue - u));
	if (!sl)
		return "Bad URI in %s";
	if (scheme_is_sip(u, sl)) {
		bool headers;

		if (!sip_host_ok(u + sl + 1, (size_t)(ue - u - sl - 1),
				 &headers))
			return "Bad URI in %s";
	}
	if (!params_ok(v, h == H_CONTACT ? &expires : NULL, &elen))
		return "Bad Parameter in %s";
	if (expires && !read_uint(expires, elen, 4294967295u, &x))
		return "Bad expires in %s";
	return NULL;
}

static const char *addr_list_check(struct val *v, enum hdr h)
{
	const char *why;

	for (;;) {
		why = addr_check(v, h);
		if (why)
			return why;
		val_ws(v);
		if (v->p >= v->end)
			return NULL;
		if (*v->p != ',')
			return "Bad %s";
		if (h == H_FROM || h == H_TO)
			return "Multiple Values in %s";
		v->p++;
		if (val_done(v))
			return "Bad %s";
	}
}

/* ---- Via ---------------------------------------------------------------- */

/* "SIP" / "2.0" / transport, whitespace allowed around the slashes (RFC
 * 4475 3.1.1.1), sent-by, parameters; values separated by commas. */
static const char *via_check(struct val *v)
{
	for (;;) {
		const char *s;
		bool headers;

		val_ws(v);
		s = v->p;
		if (val_token(v) != 3 || strncasecmp(s, "SIP", 3))
			return "Bad Via";
		val_ws(v);
		if (v->p >= v->end || *v->p++ != '/')
			return "Bad Via";
		val_ws(v);
		s = v->p;
		if (val_token(v) != 3 || strncmp(s, "2.0", 3))
			return "Bad Via";
		val_ws(v);
		if (v->p >= v->end || *v->p++ != '/')
			return "Bad Via";
		val_ws(v);
		if (!val_token(v))
			return "Bad Via";
		val_ws(v);
		s = v->p;
		while (v->p < v->end && *v->p != ';' && *v->p != ',' &&
		       !is_wsp(*v->p) && *v->p != '\r' && *v->p != '\n')
			v->p++;
		if (!sip_host_ok(s, (size_t)(v->p - s), &headers) || headers)
			return "Bad Via";
		if (!params_ok(v, NULL, NULL))
			return "Bad Via";
		if (v->p >= v->end)
			return NULL;
		v->p++; /* ',' */
		if (val_done(v))
			return "Bad Via";
	}
}

/* ---- the message -------------------------------------------------------- */

/* The supported option tags (RFC 3261 19.2): what Require may name. */
static bool option_supported(const char *p, size_t n)
{
	static const char *const ours[] = { "geolocation", "timer", "100rel" };
	size_t i;

	for (i = 0; i < sizeof(ours) / sizeof(ours[0]); i++)
		if (strlen(ours[i]) == n && !strncasecmp(p, ours[i], n))
			return true;
	return false;
}

struct msg {
	bool request;
	const char *method;
	size_t mlen;
	int seen[H_NHDR];
	struct val val[H_NHDR]; /* the last line of each */
	uint64_t clen;
	bool has_clen;
	bool body_types_ok; /* Content-Type one we read (or none) */
	uint64_t maxfwd;
	bool has_maxfwd;
	bool accept_sdp;    /* an Accept header allows application/sdp */
	bool has_accept;
	char unsupported[64];
};

/* Method SP Request-URI SP SIP-Version: single spaces, nothing after. */
static void request_line(const char *p, const char *end, struct msg *m,
			 struct sip_verdict *vd)
{
	const char *u, *ue, *ver;
	size_t sl;
	bool headers;

	m->method = p;
	while (p < end && is_token((unsigned char)*p))
		p++;
	m->mlen = (size_t)(p - m->method);
	if (!m->mlen || p >= end || *p != ' ') {
		set(vd, 400, "Bad Request-Line", NULL);
		return;
	}
	u = ++p;
	while (p < end && *p != ' ' && *p != '\t')
		p++;
	ue = p;
	if (u == ue || p >= end || *p != ' ' || p + 1 >= end) {
		set(vd, 400, "Bad Request-Line", NULL);
		return;
	}
	ver = ++p;
	while (p < end && *p != ' ' && *p != '\t')
		p++;
	if (p != end) {
		set(vd, 400, "Bad Request-Line", NULL);
		return;
	}
	if (*u == '<') {
		set(vd, 400, "Request-URI Must Not Be Enclosed in <>", NULL);
		return;
	}
	if (end - ver != 7 || strncasecmp(ver, "SIP/2.0", 7)) {
		if (end - ver > 4 && !strncasecmp(ver, "SIP/", 4))
			set(vd, 505, "Version Not Supported", NULL);
		else
			set(vd, 400, "Bad Request-Line", NULL);
		return;
	}
	sl = uri_scheme(u, (size_t)(ue - u));
	if (!sl) {
		set(vd, 400, "Bad Request-URI", NULL);
		return;
	}
	if (scheme_is_sip(u, sl)) {
		if (!sip_host_ok(u + sl + 1, (size_t)(ue - u - sl - 1),
				 &headers))
			set(vd, 400, "Bad Request-URI", NULL);
		else if (headers)
			set(vd, 400, "Headers Not Allowed in Request-URI", NULL);
	} else if (!(sl == 3 && !strncasecmp(u, "tel", 3)) &&
		   !(sl == 3 && !strncasecmp(u, "urn", 3))) {
		/* tel: is a number, urn:service:sos (RFC 5031) an
		 * emergency call.  Syntax first: the scheme is judged
		 * after the headers. */
		vd->bad_scheme = true;
	}
}

/* SIP-Version SP Status-Code SP Reason-Phrase. */
static bool status_line(const char *p, const char *end)
{
	uint64_t code;

	if (end - p < 11 || strncasecmp(p, "SIP/2.0 ", 8))
		return false;
	p += 8;
	if (!read_uint(p, 3, 699, &code) || code < 100)
		return false;
	return p + 3 == end || p[3] == ' ';
}

static void header(enum hdr h, struct val v, struct msg *m,
		   struct sip_verdict *vd)
{
	const char *name = hdrs[h].name, *why = NULL, *s;
	uint64_t x;
	size_t n;

	switch (h) {
	case H_VIA:
		why = via_check(&v);
		break;
	case H_FROM:
	case H_TO:
	case H_CONTACT:
	case H_ROUTE:
	case H_RROUTE:
		why = addr_list_check(&v, h);
		break;
	case H_CALLID:
		val_ws(&v);
		s = v.p;
		while (v.p < v.end && *v.p > 0x20 && *v.p < 0x7f)
			v.p++;
		if (v.p == s || !val_done(&v))
			why = "Bad Call-ID";
		break;
	case H_CSEQ:
		/* RFC 3261 8.1.1.5: the number is below 2^31. */
		if (!val_uint(&v, 2147483647u, &x)) {
			why = "Bad CSeq";
			break;
		}
		val_ws(&v);
		s = v.p;
		n = val_token(&v);
		if (!n || !val_done(&v))
			why = "Bad CSeq";
		else if (m->request &&
			 (n != m->mlen || memcmp(s, m->method, n)))
			why = "CSeq Method Does Not Match Request";
		break;
	case H_CLEN:
		if (!val_uint(&v, SIP_MAX_MSG, &m->clen) || !val_done(&v))
			why = "Bad Content-Length";
		m->has_clen = true;
		break;
	case H_MAXFWD:
		if (!val_uint(&v, 255, &m->maxfwd) || !val_done(&v))
			why = "Bad Max-Forwards";
		m->has_maxfwd = true;
		break;
	case H_EXPIRES:
		if (!val_uint(&v, 4294967295u, &x) || !val_done(&v))
			why = "Bad Expires";
		break;
	case H_RETRY:
		if (!val_uint(&v, 4294967295u, &x))
			why = "Bad Retry-After";
		break;
	case H_CTYPE:
		val_ws(&v);
		s = v.p;
		if (!val_token(&v) || v.p >= v.end || *v.p != '/') {
			why = "Bad Content-Type";
			break;
		}
		v.p++;
		if (!val_token(&v)) {
			why = "Bad Content-Type";
			break;
		}
		n = (size_t)(v.p - s);
		m->body_types_ok =
			(n == 15 && !strncasecmp(s, "application/sdp", 15)) ||
			(n == 15 && !strncasecmp(s, "multipart/mixed", 15));
		if (!params_ok(&v, NULL, NULL) || !val_done(&v))
			why = "Bad Content-Type";
		break;
	case H_REQUIRE:
		for (;;) {
			val_ws(&v);
			s = v.p;
			n = val_token(&v);
			if (!n) {
				why = "Bad Require";
				break;
			}
			if (!option_supported(s, n)) {
				size_t used = strlen(m->unsupported);

				if (used + n + 3 < sizeof(m->unsupported)) {
					if (used)
						strcat(m->unsupported, ", ");
					strncat(m->unsupported, s, n);
				}
			}
			if (val_done(&v))
				break;
			if (*v.p++ != ',') {
				why = "Bad Require";
				break;
			}
		}
		break;
	case H_ACCEPT:
		/* An empty Accept is legal (RFC 3261 20.1) and means none. */
		m->has_accept = true;
		while (!val_done(&v)) {
			const char *t = v.p;

			while (v.p < v.end && *v.p != ',')
				v.p++;
			n = (size_t)(v.p - t);
			if ((n >= 15 && !strncasecmp(t, "application/sdp", 15)) ||
			    (n >= 13 && !strncasecmp(t, "application/*", 13)) ||
			    (n >= 3 && !strncmp(t, "*/*", 3)))
				m->accept_sdp = true;
			if (v.p < v.end)
				v.p++;
		}
		break;
	default:
		break;
	}
	if (why)
		set(vd, 400, why, name);
}

/* Length of the header name at @p p (a token, then optional whitespace
 * and the colon): 0 when the line is no header. */
static size_t header_name(const char *p, const char *end, const char **val)
{
	const char *s = p;
	size_t n;

	while (p < end && is_token((unsigned char)*p))
		p++;
	n = (size_t)(p - s);
	while (p < end && is_wsp(*p))
		p++;
	if (!n || p >= end || *p != ':')
		return 0;
	*val = p + 1;
	return n;
}

/* What a UAS refuses once the syntax is right (RFC 4475 3.3), for
 * requests that get responses of their own. */
static void semantics(struct msg *m, size_t body, struct sip_verdict *vd)
{
	bool invite = m->mlen == 6 && !memcmp(m->method, "INVITE", 6);

	if ((m->mlen == 3 && !memcmp(m->method, "ACK", 3)) ||
	    (m->mlen == 6 && !memcmp(m->method, "CANCEL", 6)))
		return;
	if (vd->bad_scheme) {
		set(vd, 416, "Unsupported URI Scheme", NULL);
		return;
	}
	if (m->unsupported[0]) {
		set(vd, 420, "Bad Extension", NULL);
		snprintf(vd->hname, sizeof(vd->hname), "Unsupported");
		snprintf(vd->hvalue, sizeof(vd->hvalue), "%s", m->unsupported);
		return;
	}
	if (invite && body && m->seen[H_CTYPE] && !m->body_types_ok) {
		set(vd, 415, "Unsupported Media Type", NULL);
		snprintf(vd->hname, sizeof(vd->hname), "Accept");
		snprintf(vd->hvalue, sizeof(vd->hvalue), "application/sdp");
		return;
	}
	if (invite && m->has_accept && !m->accept_sdp) {
		set(vd, 406, "Not Acceptable", NULL);
		return;
	}
	/* A gateway passes the call on: with no hops left it may not
	 * (RFC 3261 16.3); OPTIONS is answered here (RFC 3261 11). */
	if (m->has_maxfwd && m->maxfwd == 0 &&
	    !(m->mlen == 7 && !memcmp(m->method, "OPTIONS", 7)))
		set(vd, 483, "Too Many Hops", NULL);
}

/* The start line's end, past its line break. */
static const char *start_line(const char *p, const char *end,
			      const char **le)
{
	*le = line_end(p, end);
	return *le + eol_len(*le, end);
}

/*
 * The header line at *pp with its folded continuations: name [*name,
 * +*nlen), value [v->p, v->end); *pp moves past it.  Returns 1 for a
 * header, 0 at the empty line (*pp then points at the body) or the end,
 * -1 for a line that is no header.
 */
static int next_header(const char **pp, const char *end, const char **name,
		       size_t *nlen, struct val *v)
{
	const char *p = *pp, *le, *vs;
	size_t e;

	if (p >= end)
		return 0;
	e = eol_len(p, end);
	if (e) {
		*pp = p + e;
		return 0;
	}
	if (is_wsp(*p))
		return -1;
	*nlen = header_name(p, end, &vs);
	if (!*nlen)
		return -1;
	*name = p;
	/* The value runs to the first line end not followed by
	 * whitespace. */
	le = vs;
	for (;;) {
		le = line_end(le, end);
		e = eol_len(le, end);
		if (!e || le + e >= end || !is_wsp(le[e]))
			break;
		le += e;
	}
	v->p = vs;
	v->end = le;
	*pp = le + e;
	return 1;
}

int sip_check_raw(const char *buf, size_t len, struct sip_verdict *vd)
{
	const char *p, *end = buf + len, *le, *body = end, *name;
	struct msg m;
	struct val v;
	size_t n;
	int h, r;

	memset(vd, 0, sizeof(*vd));
	memset(&m, 0, sizeof(m));
	m.body_types_ok = true;
	vd->len = len;
	p = start_line(buf, end, &le);
	m.request = !(le - buf >= 4 && !strncasecmp(buf, "SIP/", 4));
	if (m.request)
		request_line(buf, le, &m, vd);
	else if (!status_line(buf, le))
		set(vd, 400, "Bad Status-Line", NULL);

	while ((r = next_header(&p, end, &name, &n, &v)) > 0) {
		h = hdr_kind(name, n);
		if (h == H_OTHER)
			continue;
		if (m.seen[h]++ && hdrs[h].single)
			set(vd, 400, "Multiple %s Headers", hdrs[h].name);
		header((enum hdr)h, v, &m, vd);
	}
	if (r < 0)
		set(vd, 400, "Bad Header Line", NULL);
	else
		body = p;
	/* A NUL may only be a quoted-pair (RFC 3261 25.1), and libosip2
	 * reads header lines as C strings: see sip_check_fix_nul(). */
	for (p = le; (p = memchr(p, 0, (size_t)(body - p))) != NULL; p++) {
		if (p[-1] != '\\') {
			set(vd, 400, "NUL Octet in Header", NULL);
			break;
		}
		vd->nul = true;
	}
	if (m.has_clen) {
		if (m.clen > (uint64_t)(end - body))
			set(vd, 400, "Content-Length Larger Than Message", NULL);
		else
			/* RFC 3261 18.3: octets past it are dropped. */
			vd->len = (size_t)(body - buf) + (size_t)m.clen;
	}
	if (!m.request) {
		vd->drop = vd->status != 0;
		return vd->status;
	}
	/* RFC 3261 8.1.1: without a Via there is nowhere to answer. */
	if (!m.seen[H_VIA])
		vd->drop = true;
	for (h = H_FROM; h <= H_CSEQ; h++)
		if (!m.seen[h])
			set(vd, 400, "Missing or Invalid %s Header",
			    hdrs[h].name);
	if (m.mlen == 3 && !memcmp(m.method, "ACK", 3))
		vd->drop = vd->status != 0;
	/* Syntax: libosip2 is not to see it (it may leak or repair). */
	vd->raw = vd->status != 0;
	if (!vd->status)
		semantics(&m, vd->len - (size_t)(body - buf), vd);
	return vd->status;
}

void sip_check_fix_nul(char *buf, const struct sip_verdict *vd)
{
	size_t i;

	if (!vd->nul)
		return;
	for (i = 0; i < vd->len; i++)
		if (!buf[i])
			buf[i] = ' ';
}

static bool put(char **o, char *oend, const char *s, size_t n)
{
	if ((size_t)(oend - *o) <= n)
		return false;
	memcpy(*o, s, n);
	*o += n;
	return true;
}

/* The same tag for every retransmission of a request answered without a
 * transaction (RFC 3261 8.2.6.2): FNV-1a of its Call-ID, From and CSeq. */
static void stable_tag(const char *req, size_t len, char *tag, size_t size)
{
	const char *p, *end = req + len, *le, *name;
	uint32_t hv = 2166136261u;
	struct val v;
	size_t n;
	int h;

	p = start_line(req, end, &le);
	while (next_header(&p, end, &name, &n, &v) > 0) {
		h = hdr_kind(name, n);
		if (h != H_CALLID && h != H_FROM && h != H_CSEQ)
			continue;
		for (const char *q = v.p; q < v.end; q++)
			hv = (hv ^ (unsigned char)*q) * 16777619u;
	}
	snprintf(tag, size, "%08x", hv);
}

size_t sip_check_reply(const char *req, size_t len,
		       const struct sip_verdict *vd, const char *tag,
		       char *out, size_t size)
{
	char ownt[12];

	static const enum hdr copy[] = { H_VIA, H_FROM, H_TO, H_CALLID,
					 H_CSEQ };
	const char *p, *end = req + len, *le, *name;
	char line[128], *o = out, *oend = out + size;
	unsigned have = 0;
	struct val v;
	size_t n, i;
	int h;

	if (!tag) {
		stable_tag(req, len, ownt, sizeof(ownt));
		tag = ownt;
	}
	snprintf(line, sizeof(line), "SIP/2.0 %d %s\r\n", vd->status,
		 vd->phrase);
	if (!put(&o, oend, line, strlen(line)))
		return 0;
	p = start_line(req, end, &le);
	while (next_header(&p, end, &name, &n, &v) > 0) {
		h = hdr_kind(name, n);
		for (i = 0; i < sizeof(copy) / sizeof(copy[0]); i++)
			if (copy[i] == (enum hdr)h)
				break;
		/* The first of a header that may appear once. */
		if (i == sizeof(copy) / sizeof(copy[0]) ||
		    (hdrs[h].single && (have & (1u << i))))
			continue;
		/* An answer goes where the top Via says (RFC 3261 18.2.2):
		 * with a broken one there is none to send (a 505 echoes
		 * the version the client speaks). */
		if (h == H_VIA && vd->status != 505) {
			struct val vv = v;

			if (via_check(&vv))
				return 0;
		}
		have |= 1u << i;
		/* Folds become spaces; control octets do not travel. */
		if (!put(&o, oend, hdrs[h].name, strlen(hdrs[h].name)) ||
		    !put(&o, oend, ": ", 2))
			return 0;
		val_ws(&v);
		for (const char *q = v.p; q < v.end; q++) {
			char c = (*q == '\r' || *q == '\n' || *q == '\t') ?
				 ' ' : *q;

			if ((unsigned char)c < 0x20 || c == 0x7f)
				c = '?';
			if (!put(&o, oend, &c, 1))
				return 0;
		}
		if (h == H_TO && vd->status > 100) {
			bool tagged = false;

			for (const char *q = v.p; q + 4 <= v.end; q++)
				if (!strncasecmp(q, "tag=", 4))
					tagged = true;
			if (!tagged && (!put(&o, oend, ";tag=", 5) ||
					!put(&o, oend, tag, strlen(tag))))
				return 0;
		}
		if (!put(&o, oend, "\r\n", 2))
			return 0;
	}
	/* Via and CSeq are what the client matches the answer by (RFC
	 * 3261 17.1.3); the others are copied when they are there. */
	if ((have & 1u) == 0 || (have & (1u << 4)) == 0)
		return 0;
	if (vd->hname[0]) {
		snprintf(line, sizeof(line), "%s: %s\r\n", vd->hname,
			 vd->hvalue);
		if (!put(&o, oend, line, strlen(line)))
			return 0;
	}
	if (!put(&o, oend, "Content-Length: 0\r\n\r\n", 21))
		return 0;
	return (size_t)(o - out);
}
