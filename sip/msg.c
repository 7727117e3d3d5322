/* sip/msg.c  Building responses and reading headers with libosip2 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_MODULE "sip"
#include "sip/sip_int.h"

int sip_msg_response(osip_message_t **respp, const osip_message_t *req,
		     int status, const char *phrase, const char *to_tag,
		     const struct sip_ua *ua)
{
	osip_message_t *r;
	osip_generic_param_t *tag = NULL;
	int err = ENOMEM;

	if (osip_message_init(&r))
		return ENOMEM;
	if (!phrase)
		phrase = osip_message_get_reason(status);
	osip_message_set_version(r, osip_strdup("SIP/2.0"));
	osip_message_set_status_code(r, status);
	osip_message_set_reason_phrase(r, osip_strdup(phrase ? phrase :
						      "Unknown"));
	if (!r->sip_version || !r->reason_phrase)
		goto out;
	/* RFC 3261 8.2.6.2: Via, From, To, Call-ID and CSeq are copied. */
	if (osip_list_clone(&req->vias, &r->vias,
			    (int (*)(void *, void **))&osip_via_clone) < 0)
		goto out;
	if (req->from && osip_from_clone(req->from, &r->from))
		goto out;
	if (req->to) {
		if (osip_to_clone(req->to, &r->to))
			goto out;
		osip_to_get_tag(r->to, &tag);
		/* A 100 carries no tag (RFC 3261 8.2.6.2 allows it). */
		if (!tag && to_tag && status > 100)
			osip_to_set_tag(r->to, osip_strdup(to_tag));
	}
	if (req->call_id && osip_call_id_clone(req->call_id, &r->call_id))
		goto out;
	if (req->cseq && osip_cseq_clone(req->cseq, &r->cseq))
		goto out;
	if (ua && ua->user_agent[0])
		osip_message_set_header(r, "Server", ua->user_agent);
	err = 0;
 out:
	if (err)
		osip_message_free(r);
	else
		*respp = r;
	return err;
}

void sip_msg_set_reason(osip_message_t *msg, const struct sip_reason *rsn)
{
	char buf[192], text[96];
	size_t i, n = 0;

	if (!rsn || rsn->cause <= 0 || rsn->cause > 127)
		return;
	if (!rsn->text) {
		snprintf(buf, sizeof(buf), "Q.850;cause=%d", rsn->cause);
	} else {
		/* Keep the quoted-string well formed whatever the text. */
		for (i = 0; rsn->text[i] && n + 2 < sizeof(text); i++) {
			char ch = rsn->text[i];

			if ((unsigned char)ch < 0x20 || ch == 0x7f)
				continue;
			if (ch == '"' || ch == '\\')
				text[n++] = '\\';
			text[n++] = ch;
		}
		text[n] = '\0';
		snprintf(buf, sizeof(buf), "Q.850;cause=%d;text=\"%s\"",
			 rsn->cause, text);
	}
	osip_message_set_header(msg, "Reason", buf);
	/* RFC 4411 5: a call cleared for another (an emergency call took
	 * its B-channel, or the PSTN pre-empted it) says so to SIP too. */
	if (rsn->cause == 8 || rsn->preemption)
		osip_message_set_header(msg, "Reason", "preemption ;cause=4 "
					";text=\"Non-IP Preemption\"");
}

void sip_msg_get_reason(const osip_message_t *msg, struct sip_reason *rsn,
			char *text, size_t tsize)
{
	osip_header_t *h = NULL;
	int pos = 0;

	bool pre = false;

	rsn->cause = 0;
	rsn->text = NULL;
	rsn->preemption = false;
	/* Several Reason headers may come (SIP, RFC 4411 preemption and
	 * Q.850): take the Q.850 one; a preemption alone means cause 8. */
	while ((pos = osip_message_header_get_byname(msg, "reason", pos,
						     &h)) >= 0) {
		pos++;
		if (!h || !h->hvalue)
			continue;
		if (sip_reason_decode(rsn, text, tsize, h->hvalue,
				      strlen(h->hvalue)))
			continue;
		if (!rsn->preemption || rsn->text || rsn->cause != 8) {
			rsn->preemption = rsn->preemption || pre;
			return;
		}
		pre = true; /* preemption only so far: look for a Q.850 */
	}
	rsn->cause = pre ? 8 : 0;
	rsn->text = NULL;
	rsn->preemption = pre;
}

static bool is_type(const osip_content_type_t *ct, const char *type,
		    const char *subtype)
{
	return ct && ct->type && ct->subtype && !strcasecmp(ct->type, type) &&
	       !strcasecmp(ct->subtype, subtype);
}

/* The SDP of a message: its body, or the application/sdp part of a
 * multipart/mixed body (an emergency INVITE with a PIDF-LO, RFC 6442),
 * which osip has split into parts with their own Content-Type. */
int sip_msg_sdp(const osip_message_t *msg, const char **body, size_t *len)
{
	osip_body_t *b = NULL;
	const osip_content_type_t *ct = msg->content_type;

	if (is_type(ct, "application", "sdp")) {
		if (osip_message_get_body(msg, 0, &b) < 0 || !b ||
		    !b->body || !b->length)
			return ENOENT;
	} else if (is_type(ct, "multipart", "mixed")) {
		for (int i = 0; osip_message_get_body(msg, i, &b) >= 0 && b;
		     i++) {
			if (is_type(b->content_type, "application", "sdp") &&
			    b->body && b->length)
				break;
			b = NULL;
		}
		if (!b)
			return ENOENT;
	} else {
		return ENOENT;
	}
	*body = b->body;
	*len = b->length;
	return 0;
}

int sip_msg_pidf(const osip_message_t *msg, const char **body, size_t *len)
{
	osip_body_t *b = NULL;

	if (is_type(msg->content_type, "application", "pidf+xml")) {
		if (osip_message_get_body(msg, 0, &b) < 0)
			b = NULL;
	} else if (is_type(msg->content_type, "multipart", "mixed")) {
		for (int i = 0; osip_message_get_body(msg, i, &b) >= 0 && b;
		     i++) {
			if (is_type(b->content_type, "application",
				    "pidf+xml"))
				break;
			b = NULL;
		}
	}
	if (!b || !b->body || !b->length)
		return ENOENT;
	*body = b->body;
	*len = b->length;
	return 0;
}

int sip_msg_attach_sdp(osip_message_t *msg, const char *sdp)
{
	if (osip_message_set_body(msg, sdp, strlen(sdp)) ||
	    osip_message_set_content_type(msg, "application/sdp"))
		return ENOMEM;
	return 0;
}

int sip_msg_attach_sdp_pidf(osip_message_t *msg, const char *sdp,
			    const char *pidf, const char *cid)
{
	char boundary[40], ct[96], *part;
	size_t len;
	int err = ENOMEM;

	strcpy(boundary, "tg-");
	sip_rand_hex(boundary + 3, 8);
	snprintf(ct, sizeof(ct), "multipart/mixed;boundary=%s", boundary);
	len = strlen(sdp) + strlen(pidf) + strlen(cid) + 128;
	part = malloc(len);
	if (!part)
		return ENOMEM;
	if (osip_message_set_content_type(msg, ct))
		goto out;
	snprintf(part, len, "Content-Type: application/sdp\r\n\r\n%s", sdp);
	if (osip_message_set_body_mime(msg, part, strlen(part)))
		goto out;
	snprintf(part, len, "Content-Type: application/pidf+xml\r\n"
		 "Content-ID: <%s>\r\n\r\n%s", cid, pidf);
	if (osip_message_set_body_mime(msg, part, strlen(part)))
		goto out;
	err = 0;
out:
	free(part);
	return err;
}

void sip_rand_hex(char *out, size_t nbytes)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[32];
	size_t i;

	if (nbytes > sizeof(b))
		nbytes = sizeof(b);
	if (tg_random(b, nbytes))
		memset(b, 0, sizeof(b));
	for (i = 0; i < nbytes; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * nbytes] = '\0';
}

const char *sip_msg_top_branch(const osip_message_t *msg)
{
	osip_via_t *via = osip_list_get(&msg->vias, 0);
	osip_generic_param_t *br = NULL;

	if (!via)
		return NULL;
	osip_via_param_get_byname(via, "branch", &br);
	return br ? br->gvalue : NULL;
}

const char *sip_msg_to_tag(const osip_message_t *msg)
{
	osip_generic_param_t *tag = NULL;

	if (!msg->to)
		return NULL;
	osip_to_get_tag(msg->to, &tag);
	return tag ? tag->gvalue : NULL;
}

const char *sip_msg_call_id(const osip_message_t *msg, char *buf,
			    size_t size)
{
	const osip_call_id_t *cid = msg->call_id;

	/* RFC 3261 20.8: the Call-ID is the whole word, host part included;
	 * libosip2 splits it at '@'. */
	if (!cid || !cid->number)
		buf[0] = '\0';
	else if (cid->host)
		snprintf(buf, size, "%s@%s", cid->number, cid->host);
	else
		snprintf(buf, size, "%s", cid->number);
	return buf;
}

const char *sip_msg_from_tag(const osip_message_t *msg)
{
	osip_generic_param_t *tag = NULL;

	if (!msg->from)
		return NULL;
	osip_from_get_tag(msg->from, &tag);
	return tag ? tag->gvalue : NULL;
}

void sip_uri_user_escape(char *out, size_t size, const char *in)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *in && n + 4 < size; in++) {
		unsigned char ch = (unsigned char)*in;

		/* RFC 3261 25.1: unreserved / user-unreserved stay as is. */
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') ||
		    strchr("-_.!~*'()&=+$,;?/", ch)) {
			out[n++] = (char)ch;
		} else {
			out[n++] = '%';
			out[n++] = hex[ch >> 4];
			out[n++] = hex[ch & 15];
		}
	}
	out[n] = '\0';
}

int sip_uri_target(const char *uri, char *host, size_t hostsize,
		   uint16_t *port, enum sip_transport *tpp)
{
	enum sip_transport t = SIP_TRANSPORT_UDP;
	osip_uri_param_t *tp = NULL;
	osip_uri_t *u = NULL;
	unsigned long p = 5060;
	char *end;
	int err = EINVAL;

	if (!uri || osip_uri_init(&u))
		return ENOMEM;
	if (osip_uri_parse(u, uri) || !u->scheme || !u->host || !*u->host)
		goto out;
	if (!strcasecmp(u->scheme, "sips")) {
		err = EPROTONOSUPPORT;
		goto out;
	}
	if (strcasecmp(u->scheme, "sip"))
		goto out;
	osip_uri_param_get_byname(&u->url_params, "transport", &tp);
	if (tp && tp->gvalue) {
		if (!strcasecmp(tp->gvalue, "tcp")) {
			t = SIP_TRANSPORT_TCP;
		} else if (!strcasecmp(tp->gvalue, "tls")) {
			t = SIP_TRANSPORT_TLS;
			p = 5061;
		} else if (strcasecmp(tp->gvalue, "udp")) {
			err = EPROTONOSUPPORT;
			goto out;
		}
	}
	if (u->port && *u->port) {
		errno = 0;
		p = strtoul(u->port, &end, 10);
		if (errno || *end || p == 0 || p > 65535)
			goto out;
	}
	/* osip keeps an IPv6 reference without its brackets. */
	if (strlen(u->host) >= hostsize)
		goto out;
	strcpy(host, u->host);
	*port = (uint16_t)p;
	if (tpp)
		*tpp = t;
	err = 0;
out:
	osip_uri_free(u);
	return err;
}

/*
 * RFC 6442 4.1: Geolocation = locationValue *(COMMA locationValue), each
 * "<" URI ">" *(SEMI param).  Only references we can pass on are taken;
 * a URI must be free of what a header could not carry unescaped.
 */
int sip_geolocation_decode(const char *val, char *uri, size_t size)
{
	static const char *const schemes[] = {"sip:", "sips:", "pres:",
					      "http:", "https:"};
	const char *p = val;
	bool any = false, bad = false;

	if (!val || !size)
		return EINVAL;
	uri[0] = '\0';
	while (*p) {
		const char *end;
		size_t n;
		bool ok = true;

		p += strspn(p, " \t,");
		if (!*p)
			break;
		if (*p != '<')
			return any ? ENOENT : EBADMSG;
		end = strchr(++p, '>');
		if (!end)
			return EBADMSG;
		n = (size_t)(end - p);
		any = true;
		for (size_t k = 0; k < n; k++)
			if ((unsigned char)p[k] <= ' ' || p[k] == '"' ||
			    p[k] == '<' || (unsigned char)p[k] >= 0x7f)
				ok = false;
		for (size_t i = 0; i < TG_ARRAY_SIZE(schemes); i++) {
			size_t sl = strlen(schemes[i]);

			if (n <= sl || strncasecmp(p, schemes[i], sl))
				continue;
			/* One that cannot be carried: try the next value. */
			if (!ok || n >= size) {
				bad = true;
				break;
			}
			memcpy(uri, p, n);
			uri[n] = '\0';
			return 0;
		}
		/* This value's parameters (quoted strings may hold commas),
		 * up to the next value. */
		p = end + 1;
		while (*p && *p != ',') {
			if (*p == '"') {
				const char *q = strchr(p + 1, '"');

				if (!q)
					return EBADMSG;
				p = q;
			}
			p++;
		}
	}
	if (bad)
		return EBADMSG;
	return any ? ENOENT : EBADMSG;
}

int sip_msg_geolocation(const osip_message_t *msg, char *uri, size_t size)
{
	osip_header_t *h = NULL;
	int pos = 0, last = ENOENT;

	while ((pos = osip_message_header_get_byname(msg, "geolocation", pos,
						     &h)) >= 0) {
		int e;

		pos++;
		if (!h || !h->hvalue)
			continue;
		e = sip_geolocation_decode(h->hvalue, uri, size);
		if (!e)
			return 0;
		if (e == EBADMSG)
			last = EBADMSG;
	}
	uri[0] = '\0';
	return last;
}

/* One identity of a P-Asserted-Identity value: its user, and whether
 * it came as tel: or as digits; false when there is none to take. */
static bool pai_value(const char *v, size_t len, char *out, size_t size,
		      bool *tel, bool *digits)
{
	const char *end = v + len, *u, *e;
	bool quoted = false;

	for (const char *q = v; q < end; q++) {
		if (*q == '"')
			quoted = !quoted;
		else if (*q == '<' && !quoted) {
			v = q + 1;
			break;
		}
	}
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	*tel = (size_t)(end - v) > 4 && !strncasecmp(v, "tel:", 4);
	if (*tel)
		u = v + 4;
	else if ((size_t)(end - v) > 4 && !strncasecmp(v, "sip:", 4))
		u = v + 4;
	else if ((size_t)(end - v) > 5 && !strncasecmp(v, "sips:", 5))
		u = v + 5;
	else
		return false;
	for (e = u; e < end && !strchr("@;>, \t", *e); e++)
		;
	if (e == u || (size_t)(e - u) >= size)
		return false;
	memcpy(out, u, (size_t)(e - u));
	out[e - u] = '\0';
	if (!strcasecmp(out, "anonymous"))
		return false;
	*digits = out[strspn(out, "+")] &&
		  strspn(out + (*out == '+'), "0123456789") ==
			  strlen(out + (*out == '+'));
	return true;
}

/* The end of one value of a comma list: the comma outside quotes
 * (escapes skipped) and <>, or the terminator. */
const char *sip_value_end(const char *v)
{
	bool quoted = false;
	int depth = 0;

	for (; *v; v++) {
		if (quoted && *v == '\\' && v[1])
			v++;
		else if (*v == '"')
			quoted = !quoted;
		else if (!quoted && *v == '<')
			depth++;
		else if (!quoted && *v == '>' && depth)
			depth--;
		else if (!quoted && !depth && *v == ',')
			break;
	}
	return v;
}

int sip_pai_decode(const char *val, char *out, size_t size,
		   bool *have_number)
{
	const char *v = val;

	while (v && *v) {
		bool tel = false, digits = false;
		const char *q = sip_value_end(v);
		char user[128];

		/* One that would not fit is not cut to something else. */
		if (pai_value(v, (size_t)(q - v), user, sizeof(user), &tel,
			      &digits) && strlen(user) < size) {
			if (tel) {
				tg_strlcpy(out, user, size);
				return 1;
			}
			if (!*out || (digits && !*have_number)) {
				tg_strlcpy(out, user, size);
				*have_number = digits;
			}
		}
		v = *q ? q + 1 : q;
	}
	return *out ? 0 : ENOENT;
}

/* The number of a tel: URI, or the user of a sip:/sips: one (NULL when
 * it has none, or is of another scheme: then *@p known is false). */
static const char *uri_number(const osip_uri_t *u, bool *known)
{
	bool tel = !strcasecmp(u->scheme, "tel");
	bool sip = !strcasecmp(u->scheme, "sip") ||
		   !strcasecmp(u->scheme, "sips");

	if (known)
		*known = tel || sip;
	return tel ? u->string : sip ? u->username : NULL;
}

/* The first value of the first Diversion header (RFC 5806: the newest
 * diversion is on top): its number and reason. */
int sip_msg_diversion(const osip_message_t *msg, char *user, size_t usize,
		      char *reason, size_t rsize, bool *privacy)
{
	osip_header_t *h = NULL;
	osip_generic_param_t *p = NULL;
	osip_from_t *f = NULL;
	const char *num = NULL;
	char first[512];
	size_t n = 0;
	bool quoted = false;
	int angle = 0, err = ENOENT;

	user[0] = reason[0] = '\0';
	if (privacy)
		*privacy = false;
	if (osip_message_header_get_byname(msg, "diversion", 0, &h) < 0 ||
	    !h || !h->hvalue)
		return ENOENT;
	/* Up to the first comma outside quotes and <>. */
	for (const char *c = h->hvalue; *c && n + 1 < sizeof(first); c++) {
		if (*c == '"' && (c == h->hvalue || c[-1] != '\\'))
			quoted = !quoted;
		else if (!quoted && *c == '<')
			angle++;
		else if (!quoted && *c == '>' && angle)
			angle--;
		else if (!quoted && !angle && *c == ',')
			break;
		first[n++] = *c;
	}
	first[n] = '\0';
	if (osip_from_init(&f))
		return ENOMEM;
	if (osip_from_parse(f, first) || !f->url || !f->url->scheme) {
		err = EBADMSG;
		goto out;
	}
	num = uri_number(f->url, NULL);
	if (!num || !*num) {
		err = EBADMSG;
		goto out;
	}
	n = strcspn(num, ";");
	if (!n || n >= usize) {
		err = EBADMSG;
		goto out;
	}
	memcpy(user, num, n);
	user[n] = '\0';
	osip_from_param_get_byname(f, "reason", &p);
	if (p && p->gvalue) {
		const char *v = p->gvalue;
		size_t len = strlen(v);

		if (len >= 2 && v[0] == '"' && v[len - 1] == '"') {
			v++;
			len -= 2;
		}
		/* A token (RFC 5806 diversion-reason); anything else is
		 * dropped rather than relayed. */
		if (len < rsize && strspn(v, "abcdefghijklmnopqrstuvwxyz"
				  "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
					   >= len) {
			memcpy(reason, v, len);
			reason[len] = '\0';
		}
	}
	/* RFC 5806 4: privacy=full (or name, uri): not to be shown. */
	p = NULL;
	osip_from_param_get_byname(f, "privacy", &p);
	if (privacy && p && p->gvalue && strcasecmp(p->gvalue, "off"))
		*privacy = true;
	err = 0;
out:
	osip_from_free(f);
	return err;
}

/* RFC 4458 3: the redirection causes History-Info carries (as a cause
 * URI parameter) against the reasons of Diversion (RFC 5806). */
static const struct {
	int cause;
	const char *reason;
} hi_causes[] = {
	{302, "unconditional"}, {486, "user-busy"}, {408, "no-answer"},
	{480, "deflection"},    {487, "deflection"}, {503, "out-of-service"},
	{404, "unknown"},       {302, "follow-me"},
};

int sip_hi_cause(const char *reason)
{
	for (size_t i = 0; reason && i < sizeof(hi_causes) /
						 sizeof(hi_causes[0]); i++)
		if (!strcasecmp(reason, hi_causes[i].reason))
			return hi_causes[i].cause;
	return 404;
}

/* The redirection cause of one History-Info entry: a cause URI
 * parameter (RFC 4458), or a Reason in its URI headers (RFC 4244). */
static int hi_entry_cause(const osip_from_t *f)
{
	osip_uri_param_t *up = NULL;

	osip_uri_uparam_get_byname(f->url, "cause", &up);
	if (up && up->gvalue)
		return atoi(up->gvalue);
	for (int i = 0; i < osip_list_size(&f->url->url_headers); i++) {
		osip_uri_header_t *uh = osip_list_get(&f->url->url_headers, i);
		const char *c;

		if (!uh || !uh->gname || !uh->gvalue ||
		    strcasecmp(uh->gname, "reason"))
			continue;
		c = strstr(uh->gvalue, "cause%3D");
		if (!c)
			c = strstr(uh->gvalue, "cause%3d");
		if (c)
			return atoi(c + 8);
		c = strstr(uh->gvalue, "cause=");
		if (c)
			return atoi(c + 6);
	}
	return 0;
}

/* The user of a History-Info entry's sip:/tel: URI into @p out. */
static bool hi_entry_user(const osip_from_t *f, char *out, size_t size)
{
	const char *num = uri_number(f->url, NULL);
	size_t n = num ? strcspn(num, ";?") : 0;

	if (!n || n >= size)
		return false;
	memcpy(out, num, n);
	out[n] = '\0';
	return true;
}

/* RFC 7044: History-Info entries in order; the call was redirected to the
 * last one that carries a cause, and by the entry before it.  What
 * Diversion gives: that number, and the reason.  Privacy=history on the
 * entry (RFC 7044 10.1.2) asks that it not be shown. */
int sip_msg_history_info(const osip_message_t *msg, char *user, size_t usize,
			 char *reason, size_t rsize, bool *privacy)
{
	char prev[64] = "", by[64] = "";
	bool prev_priv = false, by_priv = false;
	osip_header_t *h = NULL;
	int cause = 0;

	user[0] = reason[0] = '\0';
	*privacy = false;
	for (int i = 0; (i = osip_message_header_get_byname(
				 msg, "history-info", i, &h)) >= 0 && h;
	     i++) {
		const char *v = h->hvalue;

		while (v && *v) {
			const char *e = sip_value_end(v);
			char one[512];
			osip_from_t *f = NULL;
			int c;

			if ((size_t)(e - v) >= sizeof(one) || osip_from_init(&f))
				return EBADMSG;
			memcpy(one, v, (size_t)(e - v));
			one[e - v] = '\0';
			if (osip_from_parse(f, one) || !f->url ||
			    !f->url->scheme) {
				osip_from_free(f);
				return EBADMSG;
			}
			c = hi_entry_cause(f);
			if (c && *prev) {
				tg_strlcpy(by, prev, sizeof(by));
				by_priv = prev_priv;
				cause = c;
			}
			if (!hi_entry_user(f, prev, sizeof(prev)))
				prev[0] = '\0';
			prev_priv = strstr(one, "Privacy=history") ||
				    strstr(one, "privacy=history");
			osip_from_free(f);
			v = *e ? e + 1 : e;
		}
	}
	if (!cause)
		return ENOENT;
	if (strlen(by) >= usize)
		return EBADMSG;
	tg_strlcpy(user, by, usize);
	*privacy = by_priv;
	for (size_t i = 0; i < sizeof(hi_causes) / sizeof(hi_causes[0]); i++)
		if (hi_causes[i].cause == cause) {
			tg_strlcpy(reason, hi_causes[i].reason, rsize);
			break;
		}
	return 0;
}

/* Remote-Party-ID (draft-ietf-sip-privacy-04, as Cisco and older PBXs
 * send it): the first one with party=calling (the default), its number
 * and whether privacy (full, name or uri) is asked. */
int sip_msg_rpid(const osip_message_t *msg, char *user, size_t size,
		 bool *privacy)
{
	osip_header_t *h = NULL;
	int err = ENOENT;

	user[0] = '\0';
	*privacy = false;
	for (int i = 0; (i = osip_message_header_get_byname(
				 msg, "remote-party-id", i, &h)) >= 0 && h;
	     i++) {
		osip_generic_param_t *party = NULL, *priv = NULL;
		osip_from_t *f = NULL;
		const char *num = NULL;
		size_t n;

		if (!h->hvalue || osip_from_init(&f))
			continue;
		if (osip_from_parse(f, h->hvalue) || !f->url ||
		    !f->url->scheme) {
			osip_from_free(f);
			err = EBADMSG;
			continue;
		}
		osip_from_param_get_byname(f, "party", &party);
		if (party && party->gvalue &&
		    strcasecmp(party->gvalue, "calling")) {
			osip_from_free(f);
			continue;
		}
		num = uri_number(f->url, NULL);
		n = num ? strcspn(num, ";") : 0;
		if (!n || n >= size) {
			osip_from_free(f);
			err = EBADMSG;
			continue;
		}
		memcpy(user, num, n);
		user[n] = '\0';
		osip_from_param_get_byname(f, "privacy", &priv);
		*privacy = priv && priv->gvalue &&
			   strcasecmp(priv->gvalue, "off");
		osip_from_free(f);
		return 0;
	}
	return err;
}

/* RFC 3515 2.1: the Refer-To of a REFER, which must be exactly one.  A
 * transfer target of ours is a number: a sip:/sips: user or a tel: URI,
 * visual separators (RFC 3966 5.1.1) dropped. */
int sip_msg_refer_to(const osip_message_t *msg, char *number, size_t size)
{
	osip_header_t *h = NULL, *h2 = NULL;
	osip_from_t *f = NULL;
	const char *num = NULL, *v;
	size_t n = 0;
	int err = EBADMSG, at;
	bool known;

	number[0] = '\0';
	at = osip_message_header_get_byname(msg, "refer-to", 0, &h);
	if (at < 0)
		at = osip_message_header_get_byname(msg, "r", 0, &h);
	if (at < 0 || !h || !h->hvalue || !*h->hvalue)
		return ENOENT;
	/* (It answers with the index of the one it found.) */
	if (osip_message_header_get_byname(msg, "refer-to", at + 1, &h2) >= 0 ||
	    osip_message_header_get_byname(msg, "r", at + 1, &h2) >= 0 ||
	    strchr(h->hvalue, ','))
		return E2BIG;
	if (osip_from_init(&f))
		return ENOMEM;
	if (osip_from_parse(f, h->hvalue) || !f->url || !f->url->scheme)
		goto out;
	/* Replaces (RFC 3891) makes it an attended transfer: not ours. */
	for (int i = 0; i < osip_list_size(&f->url->url_headers); i++) {
		osip_uri_header_t *uh =
			osip_list_get(&f->url->url_headers, i);

		if (uh && uh->gname && !strcasecmp(uh->gname, "replaces")) {
			err = ENOTSUP;
			goto out;
		}
	}
	num = uri_number(f->url, &known);
	if (!known) {
		err = EPROTONOSUPPORT;
		goto out;
	}
	if (!num || !*num)
		goto out;
	for (v = num; *v && *v != ';' && *v != '?'; v++) {
		if (strchr("-.()", *v))
			continue;
		if (!strchr("0123456789*#", *v) && !(*v == '+' && !n)) {
			err = ENOTSUP; /* a name, not a number */
			goto out;
		}
		if (n + 1 >= size) {
			err = E2BIG;
			goto out;
		}
		number[n++] = *v;
	}
	number[n] = '\0';
	err = n && strcmp(number, "+") ? 0 : EBADMSG;
out:
	if (err)
		number[0] = '\0';
	osip_from_free(f);
	return err;
}

/* Does line @p l (up to @p end) start with header @p name and a colon? */
static bool line_is(const char *l, const char *end, const char *name)
{
	size_t n = strlen(name);

	if ((size_t)(end - l) <= n || strncasecmp(l, name, n))
		return false;
	l += n;
	while (l < end && (*l == ' ' || *l == '\t'))
		l++;
	return l < end && *l == ':';
}

/*
 * libosip2 5.3 leaks the first Content-Type of a MIME part that has two
 * (osip_body_set_contenttype does not free it; it takes any header whose
 * name starts with "content-type"), and parses the parts of any multipart
 * body it is given: one crafted datagram, one leak.  Such a message is
 * refused before osip sees it; a legitimate part has one.
 */
bool sip_msg_raw_ok(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	unsigned ct = 0;

	/* Lines as osip splits them (CR, LF or CRLF); a line starting
	 * with "--" opens a new part (or is the top-level header block's
	 * end); each part, and the top-level headers, may carry one. */
	while (p < end) {
		const char *le = p;

		while (le < end && *le != '\r' && *le != '\n')
			le++;
		if (le - p >= 2 && p[0] == '-' && p[1] == '-')
			ct = 0;
		else if ((((size_t)(le - p) >= 12 &&
			   !strncasecmp(p, "content-type", 12)) ||
			  line_is(p, le, "c")) && ++ct > 1)
			return false;
		p = le < end ? le + 1 : end;
	}
	return true;
}

void sip_host_fmt(char *out, size_t size, const char *host, unsigned port)
{
	bool v6 = strchr(host, ':') != NULL;

	if (port)
		snprintf(out, size, v6 ? "[%s]:%u" : "%s:%u", host, port);
	else
		snprintf(out, size, v6 ? "[%s]" : "%s", host);
}

int sip_msg_request_new(osip_message_t **mp, const char *method,
			const char *ruri, const char *proto,
			const char *via_hostport)
{
	osip_message_t *m;
	char buf[256], rnd[17];

	if (osip_message_init(&m))
		return ENOMEM;
	osip_message_set_method(m, osip_strdup(method));
	osip_message_set_version(m, osip_strdup("SIP/2.0"));
	if (osip_uri_init(&m->req_uri) || osip_uri_parse(m->req_uri, ruri))
		goto fail;
	sip_rand_hex(rnd, 8);
	/* RFC 3261 8.1.1.7 magic cookie; RFC 3581 rport. */
	snprintf(buf, sizeof(buf), "SIP/2.0/%s %s;rport;branch=z9hG4bK%s",
		 proto, via_hostport, rnd);
	if (osip_message_set_via(m, buf))
		goto fail;
	*mp = m;
	return 0;
 fail:
	osip_message_free(m);
	return ENOMEM;
}
