/* sip/reg.c  REGISTER both ways (RFC 3261 10): our registrations with a
 * provider, and the registrar's side for PBXs that register with us
 *
 * A registration attempt is one or two non-INVITE client transactions:
 * the REGISTER, and after a 401/407 the same with credentials (a new
 * branch, CSeq + 1).  Every REGISTER of one binding carries the Call-ID
 * the caller keeps for it (RFC 3261 10.2.4), so the registrar can tell a
 * refresh from a stale copy.  What to make of the outcome (refresh
 * timers, back-off, giving up) is the caller's business: this file only
 * reads the answer -- granted expiry, Min-Expires, Retry-After.
 *
 * The registrar's side parses the Contacts and Expires of a REGISTER
 * that sip_ua_admit() let through, and writes the answer the gateway's
 * hook chose: the bindings now in force, each with its expires.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#define LOG_MODULE "sip"
#include "sip/sip_int.h"

struct sip_regtx {
	struct sip_ua *ua;
	struct sip_tr *tr;          /* the current transaction */
	unsigned refs;              /* transactions that point here */
	sip_reg_result_h *h;        /* NULL once reported or cancelled */
	void *arg;
	osip_message_t *copy;       /* the REGISTER as first sent */
	char user[64], password[64], realm[64];
	char nonce[128];            /* the nonce answered (sip_auth_add) */
	char contact_host[64];      /* our Contact, to find its expires */
	uint16_t contact_port;
	char contact_user[64];
	unsigned asked;             /* the expires we asked for */
	uint32_t cseq;
	unsigned timeout_ms;
	unsigned auth_tries;
};

/* A header's leading number ("120 (busy);duration=60" -> 120), or 0. */
static unsigned header_uint(const osip_message_t *m, const char *name)
{
	osip_header_t *h = NULL;
	unsigned long v;
	char *end;

	if (osip_message_header_get_byname(m, name, 0, &h) < 0 || !h ||
	    !h->hvalue)
		return 0;
	v = strtoul(h->hvalue, &end, 10);
	if (end == h->hvalue || v > 0xffffffffUL)
		return 0;
	return (unsigned)v;
}

static void report(struct sip_regtx *rt, struct sip_reg_result *r)
{
	sip_reg_result_h *h = rt->h;

	if (!h)
		return;
	rt->h = NULL;
	r->cseq = rt->cseq;
	h(r, rt->arg);
}

static void unref(struct sip_regtx *rt)
{
	if (--rt->refs)
		return;
	if (rt->h) {
		struct sip_reg_result r = {0};

		report(rt, &r);
	}
	if (rt->copy)
		osip_message_free(rt->copy);
	free(rt);
}

/* Is @p c our own Contact (the registrar lists every binding of the
 * AoR, maybe others' too)? */
static bool contact_is_ours(const struct sip_regtx *rt,
			    const osip_contact_t *c)
{
	const osip_uri_t *u = c->url;
	unsigned port;

	if (!u || !u->host || strcasecmp(u->host, rt->contact_host))
		return false;
	port = u->port && *u->port ? (unsigned)atoi(u->port) : 5060;
	return port == rt->contact_port &&
	       !strcmp(u->username ? u->username : "", rt->contact_user);
}

/* RFC 3261 10.2.4: the expires the registrar granted our binding: our
 * Contact's expires parameter, else the Expires header, else what we
 * asked for. */
static unsigned granted(const struct sip_regtx *rt, const osip_message_t *m)
{
	osip_contact_t *c;
	osip_generic_param_t *p;
	osip_header_t *eh = NULL;

	for (int i = 0; (c = osip_list_get(&m->contacts, i)); i++) {
		p = NULL;
		if (!contact_is_ours(rt, c) ||
		    osip_contact_param_get_byname(c, "expires", &p) < 0 ||
		    !p || !p->gvalue)
			continue;
		return (unsigned)strtoul(p->gvalue, NULL, 10);
	}
	if (osip_message_get_expires(m, 0, &eh) >= 0 && eh && eh->hvalue)
		return (unsigned)strtoul(eh->hvalue, NULL, 10);
	return rt->asked;
}

static void set_timer_f(struct sip_tr *tr, unsigned timeout_ms)
{
	osip_nict_t *nict = tr->otr->nict_context;
	struct timeval tv;

	if (!nict || !timeout_ms)
		return;
	osip_gettimeofday(&tv, NULL);
	tv.tv_sec += timeout_ms / 1000;
	tv.tv_usec += (timeout_ms % 1000) * 1000;
	if (tv.tv_usec >= 1000000) {
		tv.tv_sec++;
		tv.tv_usec -= 1000000;
	}
	nict->timer_f_length = (int)timeout_ms;
	nict->timer_f_start = tv;
}

static void reg_msg(struct sip_tr *tr, int type, osip_message_t *msg);
static void reg_killed(struct sip_tr *tr);

static int start_tr(struct sip_regtx *rt, osip_message_t *m)
{
	struct sip_tr *tr;
	int err;

	err = sip_tr_new(&tr, rt->ua, NICT, m, NULL,
			 (struct sockaddr *)&rt->tr->dst, rt->tr->dstlen);
	if (err)
		return err;
	tr->msg_h = reg_msg;
	tr->kill_h = reg_killed;
	tr->h_arg = rt;
	rt->refs++;
	rt->tr = tr;
	set_timer_f(tr, rt->timeout_ms);
	sip_tr_send(tr, m);
	event_active(rt->ua->ev_deliver, EV_TIMEOUT, 0);
	return 0;
}

/* A 401/407: the REGISTER again with credentials.  EACCES: refused. */
static int resend_auth(struct sip_regtx *rt, const osip_message_t *resp)
{
	osip_message_t *m = NULL;
	osip_via_t *via;
	osip_generic_param_t *br = NULL;
	char branch[24], num[16];
	int err;

	/* Stale nonces again and again are a registrar gone wrong. */
	if (rt->auth_tries >= 2)
		return EACCES;
	if (osip_message_clone(rt->copy, &m))
		return ENOMEM;
	err = sip_auth_add(rt->ua, resp, m, rt->user, rt->password, rt->realm,
			   rt->nonce, sizeof(rt->nonce));
	if (err)
		goto out;
	err = EBADMSG;
	via = osip_list_get(&m->vias, 0);
	if (!via || osip_via_param_get_byname(via, "branch", &br) < 0 || !br ||
	    !m->cseq)
		goto out;
	memcpy(branch, "z9hG4bK", 7);
	sip_rand_hex(branch + 7, 8);
	osip_free(br->gvalue);
	br->gvalue = osip_strdup(branch);
	snprintf(num, sizeof(num), "%u", ++rt->cseq);
	osip_free(m->cseq->number);
	m->cseq->number = osip_strdup(num);
	osip_message_force_update(m);
	err = start_tr(rt, m);
	if (err)
		goto out;
	rt->auth_tries++;
	return 0;
 out:
	if (m)
		osip_message_free(m);
	return err;
}

static void reg_msg(struct sip_tr *tr, int type, osip_message_t *msg)
{
	struct sip_regtx *rt = tr->h_arg;
	struct sip_reg_result r = {0};
	int st;

	if (tr != rt->tr || !rt->h)
		return;
	if (type == OSIP_NICT_STATUS_TIMEOUT) {
		report(rt, &r);
		return;
	}
	if (!msg || !MSG_IS_RESPONSE(msg) || msg->status_code < 200)
		return;
	st = msg->status_code;
	if (st == 401 || st == 407) {
		int err = resend_auth(rt, msg);

		if (!err)
			return;
		r.auth_refused = true;
	}
	r.status = st;
	r.retry_after = header_uint(msg, "retry-after");
	if (st == 423)
		r.min_expires = header_uint(msg, "min-expires");
	if (st >= 200 && st < 300)
		r.expires = granted(rt, msg);
	report(rt, &r);
}

static void reg_killed(struct sip_tr *tr)
{
	unref(tr->h_arg);
}

static int build(osip_message_t **mp, struct sip_regtx *rt,
		 const struct sockaddr *dst, socklen_t dstlen,
		 const struct sip_reg_params *p)
{
	struct sip_ua *ua = rt->ua;
	osip_message_t *m;
	char peer[80], us[80], a[64], buf[512], tag[17], u[128], cu[128];
	const char *domain, *proto;
	uint16_t port = 0;
	/* The next hop: the proxy, if any, else the registrar. */
	const struct sockaddr *hop = p->proxy ? p->proxy : dst;
	socklen_t hoplen = p->proxy ? p->proxy_len : dstlen;

	sip_addr_str(dst, a, sizeof(a), &port);
	sip_host_fmt(peer, sizeof(peer), a, port);
	domain = p->domain && *p->domain ? p->domain : peer;
	sip_ua_local_addr(ua, hop, hoplen, a, sizeof(a));
	proto = sip_ua_via_proto(ua, hop, &rt->contact_port);
	sip_host_fmt(us, sizeof(us), a, rt->contact_port);
	tg_strlcpy(rt->contact_host, a, sizeof(rt->contact_host));
	sip_uri_user_escape(u, sizeof(u), p->user);
	sip_uri_user_escape(cu, sizeof(cu), p->contact_user &&
			    *p->contact_user ? p->contact_user : p->user);
	tg_strlcpy(rt->contact_user, p->contact_user && *p->contact_user
		   ? p->contact_user : p->user, sizeof(rt->contact_user));
	/* RFC 3261 10.2: the Request-URI names the registrar's domain, no
	 * user; To and From are the address of record. */
	snprintf(buf, sizeof(buf), "sip:%s", domain);
	if (sip_msg_request_new(&m, "REGISTER", buf, proto, us))
		return ENOMEM;
	sip_rand_hex(tag, 8);
	snprintf(buf, sizeof(buf), "<sip:%s@%s>;tag=%s", u, domain, tag);
	if (osip_message_set_from(m, buf))
		goto fail;
	snprintf(buf, sizeof(buf), "<sip:%s@%s>", u, domain);
	if (osip_message_set_to(m, buf) ||
	    osip_message_set_call_id(m, p->call_id))
		goto fail;
	snprintf(buf, sizeof(buf), "%u REGISTER", rt->cseq);
	if (osip_message_set_cseq(m, buf))
		goto fail;
	snprintf(buf, sizeof(buf), "<sip:%s@%s%s>", cu, us,
		 sip_ua_contact_param(ua, hop));
	if (osip_message_set_contact(m, buf))
		goto fail;
	/* RFC 3261 10.2 / 8.1.2: the Request-URI stays the registrar's
	 * domain; the proxy is reached by a Route to it. */
	if (p->proxy) {
		sip_loose_route(ua, p->proxy, buf, sizeof(buf));
		if (osip_message_set_route(m, buf))
			goto fail;
	}
	snprintf(buf, sizeof(buf), "%u", p->expires);
	if (osip_message_set_expires(m, buf) ||
	    osip_message_set_max_forwards(m, "70") ||
	    osip_message_set_user_agent(m, ua->user_agent) ||
	    osip_message_set_allow(m, SIP_ALLOW))
		goto fail;
	*mp = m;
	return 0;
 fail:
	osip_message_free(m);
	return ENOMEM;
}

int sip_register(struct sip_regtx **rtp, struct sip_ua *ua,
		 const struct sockaddr *dst, socklen_t dstlen,
		 const struct sip_reg_params *p, unsigned timeout_ms,
		 sip_reg_result_h *h, void *arg)
{
	struct sip_regtx *rt;
	osip_message_t *m = NULL;
	struct sip_tr *tr;
	int err;

	if (!ua || !dst || !h || !p || !p->user || !*p->user ||
	    !p->call_id || !*p->call_id ||
	    dstlen > sizeof(struct sockaddr_storage) ||
	    (p->proxy && p->proxy_len > sizeof(struct sockaddr_storage)))
		return EINVAL;
	if (ua->fd < 0)
		return ENOTCONN;
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return ENOMEM;
	rt->ua = ua;
	rt->h = h;
	rt->arg = arg;
	rt->asked = p->expires;
	rt->cseq = p->cseq + 1;
	rt->timeout_ms = timeout_ms;
	tg_strlcpy(rt->user, p->auth_user ? p->auth_user : "",
		   sizeof(rt->user));
	tg_strlcpy(rt->password, p->auth_password ? p->auth_password : "",
		   sizeof(rt->password));
	tg_strlcpy(rt->realm, p->auth_realm ? p->auth_realm : "",
		   sizeof(rt->realm));
	err = build(&m, rt, dst, dstlen, p);
	if (!err && osip_message_clone(m, &rt->copy))
		err = ENOMEM;
	if (!err)
		err = sip_tr_new(&tr, ua, NICT, m, NULL,
				 p->proxy ? p->proxy : dst,
				 p->proxy ? p->proxy_len : dstlen);
	if (err) {
		if (m)
			osip_message_free(m);
		if (rt->copy)
			osip_message_free(rt->copy);
		free(rt);
		return err;
	}
	tr->msg_h = reg_msg;
	tr->kill_h = reg_killed;
	tr->h_arg = rt;
	rt->tr = tr;
	rt->refs = 1;
	set_timer_f(tr, timeout_ms);
	/* Sent from the loop, as an OPTIONS probe is: a transport error
	 * cannot report before the caller has *rtp. */
	sip_tr_send(tr, m);
	event_active(ua->ev_deliver, EV_TIMEOUT, 0);
	*rtp = rt;
	return 0;
}

void sip_register_cancel(struct sip_regtx *rt)
{
	if (rt)
		rt->h = NULL;
}

/* ---- the registrar's side ------------------------------------------------ */

/* delta-seconds (RFC 3261 25.1), capped at 2^31 - 1; -2 unreadable. */
static int delta_seconds(const char *v)
{
	unsigned long n = 0;

	if (!v || !*v)
		return -2;
	for (; *v; v++) {
		if (*v < '0' || *v > '9')
			return -2;
		if (n < 0x7fffffffUL)
			n = n * 10 + (unsigned long)(*v - '0');
	}
	return n > 0x7fffffffUL ? 0x7fffffff : (int)n;
}

static void take_contact(struct sip_binding *b, const osip_contact_t *c,
			 int hdr_expires)
{
	osip_generic_param_t *p = NULL;
	char *s = NULL;

	b->uri[0] = '\0';
	if (c->url && !osip_uri_to_str(c->url, &s) && s) {
		tg_strlcpy(b->uri, s, sizeof(b->uri));
		osip_free(s);
	}
	b->expires = hdr_expires;
	if (osip_contact_param_get_byname((osip_contact_t *)c, "expires",
					  &p) >= 0 && p)
		b->expires = delta_seconds(p->gvalue);
}

static void answer(struct sip_ua *ua, osip_event_t *evt,
		   const struct sockaddr *src, socklen_t srclen,
		   const struct sip_register_reply *rp)
{
	char h[SIP_REG_MAX_BINDINGS * 300 + 16];
	size_t n = 0;

	*h = '\0';
	if (rp->status == 423) {
		snprintf(h, sizeof(h), "%u", rp->min_expires);
		sip_ua_reply_hdr(ua, evt, src, srclen, 423, "Min-Expires", h);
		return;
	}
	if (rp->status != 200 || !rp->nbindings) {
		/* RFC 3261 8.2.1: a 405 lists what we do take. */
		sip_ua_reply_new(ua, evt, src, srclen, rp->status, NULL,
				 rp->status == 405);
		return;
	}
	for (unsigned i = 0; i < rp->nbindings && n < sizeof(h); i++)
		n += (size_t)snprintf(h + n, sizeof(h) - n,
				      "%s<%s>;expires=%d", i ? "\n" : "",
				      rp->bindings[i].uri,
				      rp->bindings[i].expires);
	sip_ua_reply_hdr(ua, evt, src, srclen, 200, "Contact", h);
}

void sip_reg_rx(struct sip_ua *ua, osip_event_t *evt,
		const struct sockaddr *src, socklen_t srclen,
		const char *auth_user)
{
	osip_message_t *req = evt->sip;
	struct sip_binding cs[SIP_REG_MAX_BINDINGS];
	struct sip_register_req rq = {0};
	struct sip_register_reply rp = {0};
	osip_header_t *eh = NULL;
	osip_contact_t *c;
	char cid[SIP_CALLID_MAX];
	int hdr_expires = -1;

	if (!ua->registrar) {
		sip_ua_reply_new(ua, evt, src, srclen, 405, NULL, true);
		return;
	}
	if (osip_message_get_expires(req, 0, &eh) >= 0 && eh)
		hdr_expires = delta_seconds(eh->hvalue);
	if (hdr_expires == -2) {
		sip_ua_reply_new(ua, evt, src, srclen, 400, "Bad Expires",
				 false);
		return;
	}
	for (int i = 0; (c = osip_list_get(&req->contacts, i)); i++) {
		bool star = !c->url && c->displayname &&
			    !strcmp(c->displayname, "*");

		/* RFC 3261 10.3 6: "*" alone, with Expires: 0. */
		if (star && (osip_list_size(&req->contacts) != 1 ||
			     hdr_expires != 0)) {
			sip_ua_reply_new(ua, evt, src, srclen, 400,
					 "Invalid Wildcard", false);
			return;
		}
		if (star) {
			rq.wildcard = true;
			break;
		}
		if (rq.ncontacts == SIP_REG_MAX_BINDINGS) {
			sip_ua_reply_new(ua, evt, src, srclen, 403,
					 "Too Many Contacts", false);
			return;
		}
		take_contact(&cs[rq.ncontacts], c, hdr_expires);
		if (!cs[rq.ncontacts].uri[0] ||
		    cs[rq.ncontacts].expires == -2) {
			sip_ua_reply_new(ua, evt, src, srclen, 400,
					 "Bad Contact", false);
			return;
		}
		rq.ncontacts++;
	}
	rq.auth_user = auth_user;
	rq.aor_user = req->to && req->to->url && req->to->url->username
		? req->to->url->username : "";
	rq.call_id = sip_msg_call_id(req, cid, sizeof(cid));
	rq.cseq = (uint32_t)strtoul(req->cseq->number, NULL, 10);
	rq.contacts = cs;
	rq.src = src;
	rq.src_len = srclen;
	rp.status = 500;
	ua->registrar(&rq, &rp, ua->arg);
	answer(ua, evt, src, srclen, &rp);
}
