/* sip/sdp.c  SDP offer/answer for G.711, G.722 and G.729 audio and T.38
 * fax (RFC 4566, RFC 3264, RFC 3551, RFC 4856, T.38 Annex D) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define LOG_MODULE "sip"
#include "sip/sip.h"
#include "sip/sip_int.h"

/* Larger bodies are refused outright: no sane audio offer comes near. */
#define SDP_MAX_LEN 16384
#define SDP_MAX_PTS 32
#define CODEC_TE (-2)      /* telephone-event/8000 (RFC 4733) */
/* RFC 4733 3.2: without fmtp the events are 0-15; we need the digits,
 * '*' and '#' (0-11) to relay DTMF at all. */
#define TE_NEEDED 0x0fffu

struct sdp_stream {
	bool audio;
	unsigned port;
	char addr[64];     /* media-level c=, "" if none */
	int pts[SDP_MAX_PTS];
	int codec[SDP_MAX_PTS]; /* 0/8/9/18 from the static table or
				 * rtpmap, CODEC_TE for telephone-event,
				 * -1 */
	uint16_t te_events[SDP_MAX_PTS]; /* a=fmtp events 0-15, bit n */
	bool annexb[SDP_MAX_PTS]; /* G.729: a=fmtp annexb (RFC 4856 2.1.9:
				   * yes unless it says no) */
	unsigned npts;
	unsigned ptime;
	unsigned maxptime;
	bool hold;         /* a=sendonly, recvonly or inactive */
	bool dir_set;      /* one of those or a=sendrecv was given */
	enum sip_dir dir;
	bool savp;         /* RTP/SAVP (RFC 3711 12) */
	struct sip_crypto crypto; /* first usable a=crypto (RFC 4568) */
	bool crypto_warned; /* one warning per stream, however many lines */
	bool image;        /* m=image <port> udptl t38 */
	struct sip_t38 t38; /* its attributes */
};

struct sdp_parse {
	char sess_addr[64];
	unsigned sess_ptime;
	unsigned sess_maxptime;
	bool sess_hold;
	enum sip_dir sess_dir;
	struct sdp_stream cur;
	bool have_cur;
	bool found;
	struct sdp_stream best; /* first usable audio stream */
	bool t38_found;
	struct sdp_stream t38best; /* first usable T.38 stream */
	bool saw_v;
};

/* A {ptr,len} view of one line, without its end of line. */
struct sdp_line {
	const char *p;
	size_t len;
};

static bool tok_next(struct sdp_line *rest, struct sdp_line *tok)
{
	while (rest->len && rest->p[0] == ' ') {
		rest->p++;
		rest->len--;
	}
	if (!rest->len)
		return false;
	tok->p = rest->p;
	tok->len = 0;
	while (rest->len && rest->p[0] != ' ') {
		rest->p++;
		rest->len--;
		tok->len++;
	}
	return true;
}

static bool tok_eq(const struct sdp_line *t, const char *s)
{
	return t->len == strlen(s) && !strncasecmp(t->p, s, t->len);
}

/* Unsigned decimal of at most 9 digits; false if anything else. */
static bool tok_uint(const struct sdp_line *t, unsigned *v)
{
	unsigned n = 0;
	size_t i;

	if (!t->len || t->len > 9)
		return false;
	for (i = 0; i < t->len; i++) {
		if (t->p[i] < '0' || t->p[i] > '9')
			return false;
		n = n * 10 + (unsigned)(t->p[i] - '0');
	}
	*v = n;
	return true;
}

/* "IN IP4 192.0.2.1" (RFC 4566 5.7); the TTL/count suffix is ignored. */
static int parse_conn(char *dst, size_t size, struct sdp_line l)
{
	struct sdp_line nt, at, addr;
	size_t n;

	if (!tok_next(&l, &nt) || !tok_next(&l, &at) || !tok_next(&l, &addr))
		return EBADMSG;
	if (!tok_eq(&nt, "IN") || (!tok_eq(&at, "IP4") && !tok_eq(&at, "IP6")))
		return EBADMSG;
	n = addr.len;
	if (memchr(addr.p, '/', n))
		n = (size_t)((const char *)memchr(addr.p, '/', n) - addr.p);
	if (!n || n >= size)
		return EBADMSG;
	memcpy(dst, addr.p, n);
	dst[n] = '\0';
	return 0;
}

/* RFC 3551 6: the static payload types we know. */
static int static_codec(unsigned pt)
{
	return pt == 0 || pt == 8 || pt == 9 || pt == 18 ? (int)pt : -1;
}

static int parse_media(struct sdp_stream *st, struct sdp_line l)
{
	struct sdp_line media, port, proto, fmt;
	const char *slash;
	unsigned v;

	memset(st, 0, sizeof(*st));
	if (!tok_next(&l, &media) || !tok_next(&l, &port) ||
	    !tok_next(&l, &proto))
		return EBADMSG;
	/* "port/count" is legal; we use the first port only. */
	slash = memchr(port.p, '/', port.len);
	if (slash)
		port.len = (size_t)(slash - port.p);
	if (!tok_uint(&port, &v) || v > 65535)
		return EBADMSG;
	st->port = v;
	st->savp = tok_eq(&proto, "RTP/SAVP");
	st->audio = tok_eq(&media, "audio") &&
		    (tok_eq(&proto, "RTP/AVP") || st->savp);
	while (tok_next(&l, &fmt)) {
		/* T.38 D.2.3: "m=image <port> udptl t38"; transferredTCF
		 * is what UDPTL uses unless it says otherwise. */
		if (tok_eq(&media, "image") && tok_eq(&proto, "udptl") &&
		    tok_eq(&fmt, "t38")) {
			st->image = true;
			st->t38.transferred_tcf = true;
		}
		if (!st->audio)
			continue;
		if (!tok_uint(&fmt, &v) || v > 127)
			return EBADMSG;
		if (st->npts == SDP_MAX_PTS)
			continue;
		st->pts[st->npts] = (int)v;
		st->codec[st->npts] = static_codec(v);
		st->te_events[st->npts] = 0xffff;
		st->annexb[st->npts] = true;
		st->npts++;
	}
	return 0;
}

/* a=rtpmap:<pt> <name>/<rate>: names win over the static table. */
static void parse_rtpmap(struct sdp_stream *st, struct sdp_line l)
{
	struct sdp_line ptt, enc;
	unsigned pt, i;
	int codec = -1;

	if (!tok_next(&l, &ptt) || !tok_next(&l, &enc) || !tok_uint(&ptt, &pt))
		return;
	if (enc.len >= 9 && !strncasecmp(enc.p, "PCMU/8000", 9))
		codec = 0;
	else if (enc.len >= 9 && !strncasecmp(enc.p, "PCMA/8000", 9))
		codec = 8;
	/* RFC 3551 4.5.2: G.722's RTP clock is 8000, though it samples at
	 * 16 kHz. */
	else if (enc.len >= 9 && !strncasecmp(enc.p, "G722/8000", 9))
		codec = 9;
	else if (enc.len >= 9 && !strncasecmp(enc.p, "G729/8000", 9))
		codec = 18;
	else if (enc.len >= 20 && !strncasecmp(enc.p, "telephone-event/8000", 20))
		codec = CODEC_TE;
	for (i = 0; i < st->npts; i++)
		if (st->pts[i] == (int)pt)
			st->codec[i] = codec;
}

/* a=fmtp:<pt> annexb=yes|no (RFC 4856 2.1.9), among other parameters
 * separated by ';'; without it Annex B is on. */
static void parse_annexb(struct sdp_stream *st, unsigned pt,
			 struct sdp_line l)
{
	bool on = true;
	unsigned i;
	size_t k;

	for (k = 0; k + 7 <= l.len; k++) {
		if (strncasecmp(l.p + k, "annexb=", 7) ||
		    (k && l.p[k - 1] != ';' && l.p[k - 1] != ' '))
			continue;
		on = !(k + 9 <= l.len && !strncasecmp(l.p + k + 7, "no", 2));
		break;
	}
	for (i = 0; i < st->npts; i++)
		if (st->pts[i] == (int)pt)
			st->annexb[i] = on;
}

/* a=fmtp:<pt> 0-15,16 (RFC 4733 2.4.1): which events 0-15 the far end
 * takes; anything we cannot read counts as none.  G.729's goes to
 * parse_annexb. */
static void parse_fmtp(struct sdp_stream *st, struct sdp_line l)
{
	struct sdp_line ptt, list, params;
	uint16_t mask = 0;
	unsigned pt, i, lo, hi;
	size_t k = 0;

	if (!tok_next(&l, &ptt) || !tok_uint(&ptt, &pt))
		return;
	params = l;
	if (!tok_next(&l, &list))
		return;
	for (i = 0; i < st->npts; i++) {
		if (st->pts[i] == (int)pt && st->codec[i] == 18) {
			parse_annexb(st, pt, params);
			return;
		}
	}
	while (k < list.len) {
		struct sdp_line a = {list.p + k, 0}, b;

		while (k < list.len && list.p[k] != ',' && list.p[k] != '-') {
			k++;
			a.len++;
		}
		if (!tok_uint(&a, &lo))
			break;
		hi = lo;
		if (k < list.len && list.p[k] == '-') {
			b.p = list.p + ++k;
			b.len = 0;
			while (k < list.len && list.p[k] != ',') {
				k++;
				b.len++;
			}
			if (!tok_uint(&b, &hi) || hi < lo)
				break;
		}
		for (i = lo; i <= hi && i < 16; i++)
			mask |= (uint16_t)(1u << i);
		if (k < list.len)
			k++; /* the comma */
	}
	for (i = 0; i < st->npts; i++)
		if (st->pts[i] == (int)pt)
			st->te_events[i] = mask;
}

/* a=crypto (RFC 4568 9.1): the first line we can use wins (an offer
 * lists them in its preference order); the others are skipped, the
 * malformed ones with a word naming the field. */
static void parse_crypto(struct sdp_stream *st, struct sdp_line l)
{
	struct sip_crypto c;
	const char *why = "";
	int err;

	if (!st->audio || st->crypto.suite != SIP_SRTP_NONE)
		return;
	err = sip_sdes_parse(&c, l.p, l.len, &why);
	if (!err) {
		st->crypto = c;
	} else if (err == EBADMSG && !st->crypto_warned) {
		st->crypto_warned = true;
		gw_warn("SDP: a=crypto line skipped: bad %s", why);
	} else {
		gw_dbg(GW_DBG_CALL, "SDP: a=crypto line skipped: %s", why);
	}
}

/* a=ptime and a=maxptime (RFC 4566 6): 10-200 ms, else ignored. */
static void parse_ptime(unsigned *ptime, struct sdp_line l)
{
	struct sdp_line t;
	unsigned v;

	if (tok_next(&l, &t) && tok_uint(&t, &v) && v >= 10 && v <= 200)
		*ptime = v;
}

/* "<name>" or "<name>:<value>" with a T.38 attribute name (compared
 * without case: peers differ, "T38faxVersion" is seen).  Sets *val. */
static bool t38_attr(struct sdp_line v, const char *name, struct sdp_line *val)
{
	size_t n = strlen(name);

	if (v.len < n || strncasecmp(v.p, name, n) ||
	    (v.len > n && v.p[n] != ':'))
		return false;
	val->p = v.p + n + (v.len > n);
	val->len = v.len - n - (v.len > n);
	while (val->len && val->p[val->len - 1] == ' ')
		val->len--;
	return true;
}

/* One a= line of an m=image stream (T.38 D.2.3).  Values we cannot read
 * leave the attribute at its default, as for a=ptime. */
static void parse_t38(struct sip_t38 *t, struct sdp_line v)
{
	struct sdp_line val;
	unsigned n;

	if (t38_attr(v, "T38FaxVersion", &val)) {
		if (tok_uint(&val, &n))
			t->version = n;
	} else if (t38_attr(v, "T38MaxBitRate", &val)) {
		if (tok_uint(&val, &n))
			t->max_bitrate = n;
	} else if (t38_attr(v, "T38FaxFillBitRemoval", &val)) {
		/* A flag; some peers write ":1" or ":0". */
		t->fill_bit_removal = !val.len ||
				      !(val.len == 1 && val.p[0] == '0');
	} else if (t38_attr(v, "T38FaxRateManagement", &val)) {
		if (tok_eq(&val, "localTCF"))
			t->transferred_tcf = false;
		else if (tok_eq(&val, "transferredTCF"))
			t->transferred_tcf = true;
	} else if (t38_attr(v, "T38FaxMaxBuffer", &val)) {
		if (tok_uint(&val, &n))
			t->max_buffer = n;
	} else if (t38_attr(v, "T38FaxMaxDatagram", &val)) {
		if (tok_uint(&val, &n))
			t->max_datagram = n;
	} else if (t38_attr(v, "T38FaxUdpEC", &val)) {
		t->ec = tok_eq(&val, "t38UDPRedundancy") ?
			SIP_T38_EC_REDUNDANCY :
			tok_eq(&val, "t38UDPFEC") ? SIP_T38_EC_FEC :
			SIP_T38_EC_NONE;
	}
}

/* Close the current m= section, keeping it if it is the first we can use. */
static void stream_end(struct sdp_parse *sp)
{
	if (!sp->have_cur)
		return;
	sp->have_cur = false;
	if (sp->cur.image && sp->cur.port && !sp->t38_found) {
		sp->t38best = sp->cur;
		sp->t38_found = true;
	}
	/* RFC 3264 6: port 0 means the stream is rejected or disabled. */
	if (sp->found || !sp->cur.audio || !sp->cur.port || !sp->cur.npts)
		return;
	sp->best = sp->cur;
	sp->found = true;
}

static int parse_line(struct sdp_parse *sp, struct sdp_line l)
{
	struct sdp_line v;
	char type;

	if (l.len < 2 || l.p[1] != '=' || l.p[0] < 'a' || l.p[0] > 'z')
		return EBADMSG;
	type = l.p[0];
	v.p = l.p + 2;
	v.len = l.len - 2;
	if (!sp->saw_v) {
		if (type != 'v')
			return EBADMSG;
		sp->saw_v = true;
		return 0;
	}
	switch (type) {
	case 'm':
		stream_end(sp);
		sp->have_cur = true;
		sp->cur.ptime = 0;
		sp->cur.maxptime = 0;
		sp->cur.hold = false;
		sp->cur.dir_set = false;
		sp->cur.dir = SIP_DIR_SENDRECV;
		return parse_media(&sp->cur, v);
	case 'c':
		return parse_conn(sp->have_cur ? sp->cur.addr : sp->sess_addr,
				  sizeof(sp->sess_addr), v);
	case 'a':
		if (sp->have_cur && sp->cur.image)
			parse_t38(&sp->cur.t38, v);
		if (v.len > 7 && !strncmp(v.p, "rtpmap:", 7)) {
			v.p += 7;
			v.len -= 7;
			if (sp->have_cur)
				parse_rtpmap(&sp->cur, v);
		} else if (v.len > 5 && !strncmp(v.p, "fmtp:", 5)) {
			v.p += 5;
			v.len -= 5;
			if (sp->have_cur)
				parse_fmtp(&sp->cur, v);
		} else if (v.len > 7 && !strncmp(v.p, "crypto:", 7)) {
			v.p += 7;
			v.len -= 7;
			if (sp->have_cur)
				parse_crypto(&sp->cur, v);
		} else if (v.len > 6 && !strncmp(v.p, "ptime:", 6)) {
			v.p += 6;
			v.len -= 6;
			parse_ptime(sp->have_cur ? &sp->cur.ptime :
				    &sp->sess_ptime, v);
		} else if (v.len > 9 && !strncmp(v.p, "maxptime:", 9)) {
			v.p += 9;
			v.len -= 9;
			parse_ptime(sp->have_cur ? &sp->cur.maxptime :
				    &sp->sess_maxptime, v);
		} else if ((v.len == 8 && (!strncmp(v.p, "sendonly", 8) ||
					   !strncmp(v.p, "recvonly", 8) ||
					   !strncmp(v.p, "inactive", 8) ||
					   !strncmp(v.p, "sendrecv", 8)))) {
			/* RFC 3264 6.1: the media level wins over the
			 * session level. */
			bool hold = strncmp(v.p, "sendrecv", 8) != 0;
			enum sip_dir dir = !hold ? SIP_DIR_SENDRECV :
				!strncmp(v.p, "sendonly", 8) ? SIP_DIR_SENDONLY :
				!strncmp(v.p, "recvonly", 8) ? SIP_DIR_RECVONLY :
				SIP_DIR_INACTIVE;

			if (sp->have_cur) {
				sp->cur.hold = hold;
				sp->cur.dir = dir;
				sp->cur.dir_set = true;
			} else {
				sp->sess_hold = hold;
				sp->sess_dir = dir;
			}
		}
		return 0;
	default:
		return 0;
	}
}

/* Read every line of @p body into a new *@p spp (freed by the caller,
 * whatever the outcome).  @return 0, EBADMSG, ENOMEM. */
static int sdp_parse(struct sdp_parse **spp, const char *body, size_t len)
{
	const char *p = body, *end = body + len;
	struct sdp_parse *sp;
	struct sdp_line l;
	int err;

	*spp = NULL;
	if (!len || len > SDP_MAX_LEN)
		return EBADMSG;
	sp = *spp = calloc(1, sizeof(*sp));
	if (!sp)
		return ENOMEM;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		l.p = p;
		l.len = (size_t)((nl ? nl : end) - p);
		p = nl ? nl + 1 : end;
		if (l.len && l.p[l.len - 1] == '\r')
			l.len--;
		if (!l.len)
			continue; /* tolerate blank lines and a trailing CRLF */
		err = parse_line(sp, l);
		if (err)
			return err;
	}
	stream_end(sp);
	return sp->saw_v ? 0 : EBADMSG;
}

int sip_sdp_negotiate(struct sip_media *out, const char *body, size_t len,
		      const int *codecs, unsigned ncodecs)
{
	struct sdp_parse *sp;
	unsigned i, j;
	int err = 0;

	if (!out || (!body && len) || !codecs)
		return EINVAL;
	err = sdp_parse(&sp, body, len);
	if (err)
		goto out;
	if (!sp->found) {
		err = ENOENT;
		goto out;
	}
	/* RFC 4566 5.7: c= at session level or in every media section. */
	if (!sp->best.addr[0] && !sp->sess_addr[0]) {
		err = EBADMSG;
		goto out;
	}
	err = ENOENT;
	for (i = 0; i < ncodecs && err; i++) {
		for (j = 0; j < sp->best.npts; j++) {
			if (sp->best.codec[j] == codecs[i]) {
				out->pt = codecs[i];
				out->annexb = codecs[i] == 18 &&
					      sp->best.annexb[j];
				err = 0;
				break;
			}
		}
	}
	if (err)
		goto out;
	tg_strlcpy(out->addr, sp->best.addr[0] ? sp->best.addr : sp->sess_addr,
		   sizeof(out->addr));
	out->port = (uint16_t)sp->best.port;
	/* RFC 3264 8.4 hold, or RFC 2543's c=0.0.0.0. */
	out->hold = (sp->best.dir_set ? sp->best.hold : sp->sess_hold) ||
		    !strcmp(out->addr, "0.0.0.0");
	out->dir = sp->best.dir_set ? sp->best.dir : sp->sess_dir;
	/* RFC 2543 hold: it takes nothing at 0.0.0.0 (RFC 6337 5.3). */
	if (!strcmp(out->addr, "0.0.0.0"))
		out->dir = out->dir == SIP_DIR_SENDRECV ? SIP_DIR_SENDONLY :
			   out->dir == SIP_DIR_RECVONLY ? SIP_DIR_INACTIVE :
			   out->dir;
	out->ptime_set = sp->best.ptime || sp->sess_ptime;
	out->ptime = sp->best.ptime ? sp->best.ptime :
		     sp->sess_ptime ? sp->sess_ptime : 20;
	out->maxptime = sp->best.maxptime ? sp->best.maxptime :
			sp->sess_maxptime;
	out->savp = sp->best.savp;
	out->crypto = sp->best.crypto;
	out->te_pt = -1;
	for (j = 0; j < sp->best.npts; j++) {
		if (sp->best.codec[j] == CODEC_TE &&
		    (sp->best.te_events[j] & TE_NEEDED) == TE_NEEDED) {
			out->te_pt = sp->best.pts[j];
			break;
		}
	}
 out:
	free(sp);
	return err;
}

/* T.38 D.2.3.2: the answerer's value is at most the offerer's. */
static unsigned lower(unsigned ours, unsigned theirs)
{
	return !theirs ? ours : !ours ? theirs : ours < theirs ? ours : theirs;
}

int sip_sdp_t38_negotiate(struct sip_t38 *out, const char *body, size_t len,
			  const struct sip_t38 *ours)
{
	struct sdp_parse *sp;
	const struct sip_t38 *th;
	int err;

	if (!out || (!body && len) || !ours)
		return EINVAL;
	err = sdp_parse(&sp, body, len);
	if (!err && !sp->t38_found)
		err = ENOENT;
	/* RFC 4566 5.7: c= at session level or in every media section. */
	if (!err && !sp->t38best.addr[0] && !sp->sess_addr[0])
		err = EBADMSG;
	if (err)
		goto out;
	th = &sp->t38best.t38;
	memset(out, 0, sizeof(*out));
	tg_strlcpy(out->addr, sp->t38best.addr[0] ? sp->t38best.addr :
		   sp->sess_addr, sizeof(out->addr));
	out->port = (uint16_t)sp->t38best.port;
	out->version = th->version < ours->version ? th->version :
		       ours->version;
	out->max_bitrate = lower(ours->max_bitrate, th->max_bitrate);
	out->fill_bit_removal = th->fill_bit_removal &&
				ours->fill_bit_removal;
	out->transferred_tcf = th->transferred_tcf;
	out->max_buffer = th->max_buffer;
	out->max_datagram = th->max_datagram;
	/* We send and repair redundancy; an FEC offer gets it too, as
	 * Asterisk and most ATAs do, rather than no recovery at all. */
	out->ec = th->ec == SIP_T38_EC_NONE || ours->ec == SIP_T38_EC_NONE ?
		  SIP_T38_EC_NONE : SIP_T38_EC_REDUNDANCY;
 out:
	free(sp);
	return err;
}

/* v= to t=, for an offer or answer from us; *off is past them. */
static int print_head(char *buf, size_t size, size_t *off, const char *addr,
		      uint64_t sess_id)
{
	const char *af = strchr(addr, ':') ? "IP6" : "IP4";
	int n;

	/* The version starts as the session id; sip_sdp_amend() moves it
	 * on when the session changes (RFC 3264 8). */
	n = snprintf(buf, size,
		     "v=0\r\n"
		     "o=tollgate %llu %llu IN %s %s\r\n"
		     "s=tollgate\r\n"
		     "c=IN %s %s\r\n"
		     "t=0 0\r\n",
		     (unsigned long long)sess_id, (unsigned long long)sess_id,
		     af, addr, af, addr);
	if (n < 0 || (size_t)n >= size)
		return ENOSPC;
	*off = (size_t)n;
	return 0;
}

int sip_sdp_t38_print(char *buf, size_t size, const char *addr,
		      uint16_t port, const struct sip_t38 *t,
		      uint64_t sess_id)
{
	static const char *const ec[] = { "t38UDPNoEC", "t38UDPFEC",
					  "t38UDPRedundancy" };
	size_t off;
	int n, err;

	if (!buf || !addr || !t || strlen(addr) > 63 || t->version > 3 ||
	    (unsigned)t->ec > SIP_T38_EC_REDUNDANCY)
		return EINVAL;
	err = print_head(buf, size, &off, addr, sess_id);
	if (err)
		return err;
	n = snprintf(buf + off, size - off,
		     "m=image %u udptl t38\r\n"
		     "a=T38FaxVersion:%u\r\n"
		     "a=T38MaxBitRate:%u\r\n"
		     "%s"
		     "a=T38FaxRateManagement:%s\r\n",
		     port, t->version, t->max_bitrate ? t->max_bitrate : 14400,
		     t->fill_bit_removal ? "a=T38FaxFillBitRemoval\r\n" : "",
		     t->transferred_tcf ? "transferredTCF" : "localTCF");
	if (n < 0 || (size_t)n >= size - off)
		return ENOSPC;
	off += (size_t)n;
	if (t->max_buffer) {
		n = snprintf(buf + off, size - off, "a=T38FaxMaxBuffer:%u\r\n",
			     t->max_buffer);
		if (n < 0 || (size_t)n >= size - off)
			return ENOSPC;
		off += (size_t)n;
	}
	if (t->max_datagram) {
		n = snprintf(buf + off, size - off,
			     "a=T38FaxMaxDatagram:%u\r\n", t->max_datagram);
		if (n < 0 || (size_t)n >= size - off)
			return ENOSPC;
		off += (size_t)n;
	}
	n = snprintf(buf + off, size - off, "a=T38FaxUdpEC:%s\r\n"
		     "a=sendrecv\r\n", ec[t->ec]);
	if (n < 0 || (size_t)n >= size - off)
		return ENOSPC;
	return 0;
}

static const char *codec_name(int pt)
{
	switch (pt) {
	case 0:
		return "PCMU";
	case 8:
		return "PCMA";
	case 9:
		return "G722";
	case 18:
		return "G729";
	default:
		return NULL;
	}
}

int sip_sdp_print(char *buf, size_t size, const char *addr, uint16_t port,
		  const int *codecs, unsigned ncodecs, int te_pt, unsigned ptime,
		  uint64_t sess_id)
{
	size_t off;
	unsigned i;
	int n, err;

	if (!buf || !addr || !codecs || !ncodecs || strlen(addr) > 63)
		return EINVAL;
	for (i = 0; i < ncodecs; i++)
		if (!codec_name(codecs[i]) || codecs[i] == te_pt)
			return EINVAL;
	if (te_pt > 127)
		return EINVAL;
	err = print_head(buf, size, &off, addr, sess_id);
	if (err)
		return err;
	n = snprintf(buf + off, size - off, "m=audio %u RTP/AVP", port);
	if (n < 0 || (size_t)n >= size - off)
		return ENOSPC;
	off += (size_t)n;
	for (i = 0; i < ncodecs; i++) {
		n = snprintf(buf + off, size - off, " %d", codecs[i]);
		if (n < 0 || (size_t)n >= size - off)
			return ENOSPC;
		off += (size_t)n;
	}
	n = te_pt >= 0 ? snprintf(buf + off, size - off, " %d\r\n", te_pt)
		       : snprintf(buf + off, size - off, "\r\n");
	if (n < 0 || (size_t)n >= size - off)
		return ENOSPC;
	off += (size_t)n;
	for (i = 0; i < ncodecs; i++) {
		n = snprintf(buf + off, size - off, "a=rtpmap:%d %s/8000\r\n",
			     codecs[i], codec_name(codecs[i]));
		if (n < 0 || (size_t)n >= size - off)
			return ENOSPC;
		off += (size_t)n;
		/* RFC 4856 2.1.9: no VAD/CNG of ours, offer or answer
		 * (RFC 7261's answerer may turn it off). */
		if (codecs[i] != 18)
			continue;
		n = snprintf(buf + off, size - off, "a=fmtp:18 annexb=no\r\n");
		if (n < 0 || (size_t)n >= size - off)
			return ENOSPC;
		off += (size_t)n;
	}
	if (te_pt >= 0) {
		/* RFC 4733 2.4.1: the DTMF events, 0-15. */
		n = snprintf(buf + off, size - off,
			     "a=rtpmap:%d telephone-event/8000\r\n"
			     "a=fmtp:%d 0-15\r\n", te_pt, te_pt);
		if (n < 0 || (size_t)n >= size - off)
			return ENOSPC;
		off += (size_t)n;
	}
	/* We play packets of any size the engine takes (60 ms). */
	n = snprintf(buf + off, size - off,
		     "a=maxptime:%u\r\na=ptime:%u\r\na=sendrecv\r\n",
		     SIP_MAX_PTIME, ptime ? ptime : 20);
	if (n < 0 || (size_t)n >= size - off)
		return ENOSPC;
	return 0;
}

static const char *dir_name(enum sip_dir dir)
{
	switch (dir) {
	case SIP_DIR_SENDONLY: return "sendonly";
	case SIP_DIR_RECVONLY: return "recvonly";
	case SIP_DIR_INACTIVE: return "inactive";
	default: return "sendrecv";
	}
}

/* Our direction attribute line, "\r\na=DIR\r\n" (all are 8 letters). */
static char *dir_line(char *buf, enum sip_dir dir)
{
	char pat[16];

	snprintf(pat, sizeof(pat), "\r\na=%s\r\n", dir_name(dir));
	return strstr(buf, pat);
}

int sip_sdp_amend(char *buf, size_t size, uint64_t version,
		  enum sip_dir dir)
{
	char ver[24], *o, *v, *ve, *a = NULL;
	size_t len = strlen(buf), vl, nl;
	unsigned i;

	/* "o=tollgate <sess-id> <version> IN ..." */
	o = strstr(buf, "\r\no=tollgate ");
	for (i = 0; i < 4 && !a; i++)
		a = dir_line(buf, (enum sip_dir)i);
	if (!o || !a)
		return EBADMSG;
	v = o + strlen("\r\no=tollgate ");
	v += strcspn(v, " \r");
	if (*v != ' ')
		return EBADMSG;
	v++;
	ve = v + strcspn(v, " \r");
	if (*ve != ' ')
		return EBADMSG;
	vl = (size_t)(ve - v);
	nl = (size_t)snprintf(ver, sizeof(ver), "%llu",
			      (unsigned long long)version);
	if (len - vl + nl >= size)
		return ENOSPC;
	memmove(v + nl, ve, len - (size_t)(ve - buf) + 1);
	memcpy(v, ver, nl);
	/* Every direction attribute is 8 letters: rewritten in place. */
	for (i = 0, a = NULL; i < 4 && !a; i++)
		a = dir_line(buf, (enum sip_dir)i);
	for (i = 0; i < 8; i++)
		a[4 + i] = dir_name(dir)[i];
	return 0;
}
