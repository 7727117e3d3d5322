/* sip/ua.c  UDP transport, libosip2 transaction glue and request dispatch */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <linux/errqueue.h>
#include <sys/uio.h>

#include <event2/event.h>

#define LOG_MODULE "sip"
#include "sip/sip_int.h"

/*
 * Why a fixed tick: osip's timer and execute functions walk every live
 * transaction, and osip_timers_gettimeout() does too, so arming a one-shot
 * timer from it costs a walk per message.  At 500 calls/s, with BYE server
 * transactions lingering 32 s (Timer J), that walk is long; a 20 ms tick
 * bounds it to 50 walks per second while the RFC timers (500 ms and up)
 * keep ample precision.  Messages themselves never wait for the tick: we
 * find their transaction in our own hash and execute it at once.
 */
#define TICK_MS 20
#define RECV_BATCH 64

const char *sip_addr_str(const struct sockaddr *sa, char *buf, size_t size,
			 uint16_t *port)
{
	const void *a;
	uint16_t p;

	if (sa->sa_family == AF_INET6) {
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		p = ((const struct sockaddr_in6 *)sa)->sin6_port;
	} else {
		a = &((const struct sockaddr_in *)sa)->sin_addr;
		p = ((const struct sockaddr_in *)sa)->sin_port;
	}
	if (!inet_ntop(sa->sa_family, a, buf, (socklen_t)size))
		tg_strlcpy(buf, "?", size);
	if (port)
		*port = ntohs(p);
	return buf;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

void sip_resp_dest(struct sockaddr_storage *out, socklen_t *outlen,
		   const osip_message_t *req, const struct sockaddr *src,
		   socklen_t srclen)
{
	osip_via_t *via = osip_list_get(&req->vias, 0);
	osip_generic_param_t *rport = NULL;
	int port;

	memcpy(out, src, srclen);
	*outlen = srclen;
	if (!via)
		return;
	/* RFC 3261 18.2.2: over TCP or TLS the response goes back over the
	 * connection the request came on, whatever the Via says. */
	if (via->protocol && osip_strcasecmp(via->protocol, "UDP"))
		return;
	/* RFC 3581 4: with rport, answer the source port.  Otherwise RFC
	 * 3261 18.2.2: the received address and the sent-by port. */
	osip_via_param_get_byname(via, "rport", &rport);
	if (rport)
		return;
	port = via->port ? atoi(via->port) : 5060;
	/* A nonsense sent-by port: fall back to where it came from. */
	if (port > 0 && port <= 65535)
		set_port(out, (uint16_t)port);
}

void sip_ua_local_addr(const struct sip_ua *ua, const struct sockaddr *dst,
		       socklen_t dstlen, char *out, size_t size)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd;

	if (ua->addr[0]) {
		tg_strlcpy(out, ua->addr, size);
		return;
	}
	/* Bound to the wildcard: ask the kernel which source address it
	 * would use toward @p dst (a UDP connect sends nothing). */
	tg_strlcpy(out, "127.0.0.1", size);
	fd = socket(dst->sa_family, SOCK_DGRAM, 0);
	if (fd < 0)
		return;
	if (!connect(fd, dst, dstlen) &&
	    !getsockname(fd, (struct sockaddr *)&ss, &len))
		sip_addr_str((struct sockaddr *)&ss, out, size, NULL);
	close(fd);
}

int sip_ua_send_buf(struct sip_ua *ua, const struct sockaddr *dst,
		    socklen_t len, const char *buf, size_t size)
{
	char a[64];
	uint16_t port;

	if (ua->fd < 0)
		return ENOTCONN;
	if (gw_debug_mask & GW_DBG_SIPMSG) {
		sip_addr_str(dst, a, sizeof(a), &port);
		gw_dbg(GW_DBG_SIPMSG, "send %zu bytes to %s:%u\n%.*s", size,
		       a, port, (int)size, buf);
	}
	if (sip_tp_of(ua->tp, dst) != SIP_TRANSPORT_UDP)
		return sip_tp_send(ua->tp, dst, len, buf, size);
	if (sendto(ua->fd, buf, size, 0, dst, len) < 0) {
		int err = errno;

		/* NOTE: with IP_RECVERR an ICMP error about another peer is
		 * handed to the next send, whoever it goes to (sk_err); the
		 * error queue tells on_read whom it was about.  Send again:
		 * the first call took the pending error. */
		if ((err == ECONNREFUSED || err == EHOSTUNREACH ||
		     err == ENETUNREACH) &&
		    sendto(ua->fd, buf, size, 0, dst, len) >= 0)
			return 0;
		err = errno;

		sip_addr_str(dst, a, sizeof(a), &port);
		gw_warn("sendto %s:%u: %s", a, port, strerror(err));
		return err;
	}
	return 0;
}

int sip_ua_send_msg(struct sip_ua *ua, const struct sockaddr *dst,
		    socklen_t len, osip_message_t *msg)
{
	char *buf = NULL;
	size_t size = 0;
	int err;

	if (osip_message_to_str(msg, &buf, &size) || !buf)
		return ENOMEM;
	if (size > SIP_MAX_MSG)
		err = EMSGSIZE;
	else
		err = sip_ua_send_buf(ua, dst, len, buf, size);
	osip_free(buf);
	return err;
}

/* ---- transactions ------------------------------------------------------ */

/*
 * Keys (RFC 3261 17.1.3 and 17.2.3): a response matches a client
 * transaction by top Via branch and CSeq method; a request matches a
 * server transaction by branch, sent-by and method, with ACK matching the
 * INVITE; a request without an RFC 3261 branch (z9hG4bK) by Call-ID, CSeq,
 * From tag and top Via.
 */
static char *key_client(const char *branch, const char *method)
{
	char *k;

	if (!branch || !method || asprintf(&k, "C %s %s", branch, method) < 0)
		return NULL;
	return k;
}

static char *key_server(const osip_message_t *req, const char *method)
{
	osip_via_t *via = osip_list_get(&req->vias, 0);
	const char *branch = sip_msg_top_branch(req), *ftag;
	char cid[SIP_CALLID_MAX], *k;
	int n;

	if (!via || !method)
		return NULL;
	if (branch && !strncmp(branch, "z9hG4bK", 7))
		n = asprintf(&k, "S %s %s %s:%s", branch, method,
			     via->host ? via->host : "",
			     via->port ? via->port : "");
	else if (req->cseq && req->cseq->number)
		/* RFC 3261 17.2.3's rule for RFC 2543 peers, less the To
		 * tag (ours, on an ACK) and the Request-URI: Call-ID, CSeq,
		 * From tag and the top Via. */
		n = asprintf(&k, "S2543 %s %s %s %s %s:%s %s",
			     sip_msg_call_id(req, cid, sizeof(cid)),
			     req->cseq->number, method,
			     (ftag = sip_msg_from_tag(req)) ? ftag : "",
			     via->host ? via->host : "",
			     via->port ? via->port : "", branch ? branch : "");
	else
		return NULL;
	return n < 0 ? NULL : k;
}

static struct sip_tr *find_tr(struct sip_ua *ua, const char *key)
{
	struct sip_hnode *hn = sip_hash_lookup(&ua->trs, key);

	/* A dead transaction awaits its reaping; it matches nothing. */
	for (; hn; hn = sip_hash_next(hn))
		if (!((struct sip_tr *)hn->obj)->dead)
			return hn->obj;
	return NULL;
}

struct sip_tr *sip_tr_find_server(struct sip_ua *ua, const osip_message_t *req,
				  const char *method)
{
	char *k = key_server(req, method);
	struct sip_tr *tr;

	if (!k)
		return NULL;
	tr = find_tr(ua, k);
	free(k);
	return tr;
}

int sip_tr_new(struct sip_tr **trp, struct sip_ua *ua, osip_fsm_type_t type,
	       osip_message_t *req, struct sip_leg *leg,
	       const struct sockaddr *dst, socklen_t dstlen)
{
	struct sip_tr *tr;
	int err = ENOMEM;

	tr = calloc(1, sizeof(*tr));
	if (!tr)
		return ENOMEM;
	tr->ua = ua;
	if (type == ICT || type == NICT)
		tr->key = key_client(sip_msg_top_branch(req),
				     req->cseq ? req->cseq->method : NULL);
	else
		tr->key = key_server(req, req->sip_method);
	if (!tr->key) {
		err = EBADMSG;
		goto out;
	}
	ua->next_shard = (ua->next_shard + 1) % SIP_OSIP_SHARDS;
	if (osip_transaction_init(&tr->otr, type, ua->osip[ua->next_shard],
				  req)) {
		tr->otr = NULL;
		goto out;
	}
	osip_transaction_set_reserved1(tr->otr, tr);
	memcpy(&tr->dst, dst, dstlen);
	tr->dstlen = dstlen;
	tr->leg = obj_ref(leg);
	sip_hash_add(&ua->trs, &tr->hn, tr->key, tr);
	if (!evtimer_pending(ua->ev_tick, NULL)) {
		struct timeval tv = { 0, TICK_MS * 1000 };

		event_add(ua->ev_tick, &tv);
	}
	err = 0;
 out:
	if (err) {
		free(tr->key);
		free(tr);
	} else {
		*trp = tr;
	}
	return err;
}

static void tr_queue(struct sip_tr *tr)
{
	struct sip_ua *ua = tr->ua;

	if (tr->queued)
		return;
	tr->queued = true;
	tr->rnext = NULL;
	if (ua->runq_tail)
		ua->runq_tail->rnext = tr;
	else
		ua->runq = tr;
	ua->runq_tail = tr;
}

void sip_tr_post(struct sip_tr *tr, osip_event_t *evt)
{
	/* A killed transaction awaiting its reaping takes nothing more. */
	if (tr->dead) {
		osip_event_free(evt);
		return;
	}
	osip_transaction_add_event(tr->otr, evt);
	tr_queue(tr);
}

void sip_tr_send(struct sip_tr *tr, osip_message_t *msg)
{
	osip_event_t *evt = osip_new_outgoing_sipmessage(msg);

	if (!evt) {
		osip_message_free(msg);
		return;
	}
	evt->transactionid = tr->otr->transactionid;
	sip_tr_post(tr, evt);
}

static void tr_free(struct sip_tr *tr)
{
	sip_hash_del(&tr->ua->trs, &tr->hn);
	if (tr->otr)
		osip_transaction_free(tr->otr);
	if (tr->leg)
		sip_leg_tr_killed(tr);
	if (tr->kill_h)
		tr->kill_h(tr);
	tr->leg = obj_deref(tr->leg);
	free(tr->key);
	free(tr);
}

/* NOTE: osip must not free a transaction inside its own callbacks, so
 * killed ones are reaped here, after the execute loop (NOTES.md). */
static void reap(struct sip_ua *ua)
{
	struct sip_tr *tr;

	while ((tr = ua->dead)) {
		ua->dead = tr->dnext;
		tr_free(tr);
	}
}

void sip_ua_run(struct sip_ua *ua)
{
	struct sip_tr *tr;
	osip_event_t *evt;

	if (ua->running)
		return;
	ua->running = true;
	/* Reaping tells legs their transactions ended, which may queue new
	 * requests (a BYE after the ACK), hence the outer loop. */
	while (ua->runq || ua->dead) {
		while ((tr = ua->runq)) {
			ua->runq = tr->rnext;
			if (!ua->runq)
				ua->runq_tail = NULL;
			tr->queued = false;
			while ((evt = osip_fifo_tryget(
					tr->otr->transactionff)))
				osip_transaction_execute(tr->otr, evt);
		}
		reap(ua);
	}
	ua->running = false;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct sip_ua *ua = arg;
	struct timeval tv = { 0, TICK_MS * 1000 };
	size_t i;

	ua->running = true;
	for (i = 0; i < SIP_OSIP_SHARDS; i++) {
		osip_t *o = ua->osip[i];

		osip_timers_ict_execute(o);
		osip_timers_ist_execute(o);
		osip_timers_nict_execute(o);
		osip_timers_nist_execute(o);
		osip_ict_execute(o);
		osip_ist_execute(o);
		osip_nict_execute(o);
		osip_nist_execute(o);
	}
	ua->running = false;
	sip_ua_run(ua);
	/* Idle UAs stop ticking; sip_tr_new() restarts the tick. */
	if (ua->trs.n)
		event_add(ua->ev_tick, &tv);
}

/* ---- osip callbacks ------------------------------------------------------ */

static int cb_send(osip_transaction_t *otr, osip_message_t *msg, char *host,
		   int port, int sock)
{
	struct sip_tr *tr = osip_transaction_get_reserved1(otr);

	/* Requests go to the leg's peer and responses where sip_resp_dest()
	 * said, which is why osip's host and port are not used. */
	if (!tr || sip_ua_send_msg(tr->ua, (struct sockaddr *)&tr->dst,
				   tr->dstlen, msg))
		return -1;
	return 0;
}

static void cb_msg(int type, osip_transaction_t *otr, osip_message_t *msg)
{
	struct sip_tr *tr = osip_transaction_get_reserved1(otr);

	if (tr && tr->msg_h)
		tr->msg_h(tr, type, msg);
	else if (tr && tr->leg)
		sip_leg_tr_msg(tr, type, msg);
}

static void cb_kill(int type, osip_transaction_t *otr)
{
	struct sip_tr *tr = osip_transaction_get_reserved1(otr);

	if (!tr || tr->dead)
		return;
	tr->dead = true;
	tr->dnext = tr->ua->dead;
	tr->ua->dead = tr;
}

static void cb_transport(int type, osip_transaction_t *otr, int err)
{
	struct sip_tr *tr = osip_transaction_get_reserved1(otr);
	char a[64];
	uint16_t port = 0;

	if (tr)
		sip_addr_str((struct sockaddr *)&tr->dst, a, sizeof(a), &port);
	gw_warn("transport error %d sending to %s:%u", err, tr ? a : "?", port);
}

static void set_callbacks(osip_t *osip)
{
	static const int msg_types[] = {
		OSIP_ICT_STATUS_1XX_RECEIVED, OSIP_ICT_STATUS_2XX_RECEIVED,
		OSIP_ICT_STATUS_3XX_RECEIVED, OSIP_ICT_STATUS_4XX_RECEIVED,
		OSIP_ICT_STATUS_5XX_RECEIVED, OSIP_ICT_STATUS_6XX_RECEIVED,
		OSIP_ICT_STATUS_TIMEOUT, OSIP_IST_ACK_RECEIVED,
		OSIP_NICT_STATUS_2XX_RECEIVED, OSIP_NICT_STATUS_3XX_RECEIVED,
		OSIP_NICT_STATUS_4XX_RECEIVED, OSIP_NICT_STATUS_5XX_RECEIVED,
		OSIP_NICT_STATUS_6XX_RECEIVED, OSIP_NICT_STATUS_TIMEOUT,
	};
	size_t i;

	osip_set_cb_send_message(osip, cb_send);
	for (i = 0; i < TG_ARRAY_SIZE(msg_types); i++)
		osip_set_message_callback(osip, msg_types[i], cb_msg);
	osip_set_kill_transaction_callback(osip, OSIP_ICT_KILL_TRANSACTION,
					   cb_kill);
	osip_set_kill_transaction_callback(osip, OSIP_IST_KILL_TRANSACTION,
					   cb_kill);
	osip_set_kill_transaction_callback(osip, OSIP_NICT_KILL_TRANSACTION,
					   cb_kill);
	osip_set_kill_transaction_callback(osip, OSIP_NIST_KILL_TRANSACTION,
					   cb_kill);
	osip_set_transport_error_callback(osip, OSIP_ICT_TRANSPORT_ERROR,
					  cb_transport);
	osip_set_transport_error_callback(osip, OSIP_IST_TRANSPORT_ERROR,
					  cb_transport);
	osip_set_transport_error_callback(osip, OSIP_NICT_TRANSPORT_ERROR,
					  cb_transport);
	osip_set_transport_error_callback(osip, OSIP_NIST_TRANSPORT_ERROR,
					  cb_transport);
}

/* ---- receiving ---------------------------------------------------------- */

/* ---- non-INVITE server transactions: the response cache ---------------- */

#define RCACHE_MS (64 * SIP_T1) /* Timer J, RFC 3261 17.2.2 */

static void rcache_free(struct sip_ua *ua, struct sip_rcache *rc)
{
	sip_hash_del(&ua->rcache, &rc->hn);
	free(rc->key);
	free(rc);
}

static void rcache_expire(struct sip_ua *ua, int64_t now)
{
	struct sip_rcache *rc;

	while ((rc = ua->rc_head) && rc->expires <= now) {
		ua->rc_head = rc->next;
		if (!ua->rc_head)
			ua->rc_tail = NULL;
		rcache_free(ua, rc);
	}
}

static void on_rcache(evutil_socket_t fd, short what, void *arg)
{
	struct sip_ua *ua = arg;
	struct timeval tv = { 1, 0 };

	rcache_expire(ua, tg_mono_ms());
	if (ua->rc_head)
		event_add(ua->ev_rcache, &tv);
}

/* Keep @p buf as the answer to retransmissions of the request @p key
 * names; takes ownership of @p key. */
static void rcache_add(struct sip_ua *ua, char *key, const char *buf,
		       size_t len, const struct sockaddr *dst,
		       socklen_t dstlen)
{
	struct sip_rcache *rc = malloc(sizeof(*rc) + len);
	struct timeval tv = { 1, 0 };

	if (!rc) {
		free(key); /* retransmissions will find no answer: 481 */
		return;
	}
	rc->key = key;
	rc->expires = tg_mono_ms() + RCACHE_MS;
	memcpy(&rc->dst, dst, dstlen);
	rc->dstlen = dstlen;
	rc->len = len;
	memcpy(rc->buf, buf, len);
	rc->next = NULL;
	if (ua->rc_tail)
		ua->rc_tail->next = rc;
	else
		ua->rc_head = rc;
	ua->rc_tail = rc;
	sip_hash_add(&ua->rcache, &rc->hn, rc->key, rc);
	if (!evtimer_pending(ua->ev_rcache, NULL))
		event_add(ua->ev_rcache, &tv);
}

/* A retransmitted non-INVITE request: send the cached final response. */
static bool rcache_replay(struct sip_ua *ua, const osip_message_t *req)
{
	char *k = key_server(req, req->sip_method);
	struct sip_hnode *hn;
	struct sip_rcache *rc;

	if (!k)
		return false;
	hn = sip_hash_lookup(&ua->rcache, k);
	free(k);
	if (!hn)
		return false;
	rc = hn->obj;
	sip_ua_send_buf(ua, (struct sockaddr *)&rc->dst, rc->dstlen, rc->buf,
			rc->len);
	return true;
}

static void rcache_close(struct sip_ua *ua)
{
	while (ua->rc_head) {
		struct sip_rcache *rc = ua->rc_head;

		ua->rc_head = rc->next;
		rcache_free(ua, rc);
	}
	ua->rc_tail = NULL;
}

/* Answer a non-INVITE request at once and remember the answer. */
static int reply_nist(struct sip_ua *ua, osip_message_t *req,
		      osip_message_t *resp, const struct sockaddr *dst,
		      socklen_t dstlen)
{
	char *buf = NULL, *key;
	size_t size = 0;
	int err;

	if (osip_message_to_str(resp, &buf, &size) || !buf)
		return ENOMEM;
	if (size > SIP_MAX_MSG) {
		osip_free(buf);
		return EMSGSIZE;
	}
	err = sip_ua_send_buf(ua, dst, dstlen, buf, size);
	/* No key (an RFC 2543 branch): answered once, nothing to match.
	 * Over TCP and TLS nothing is retransmitted: Timer J is 0. */
	key = sip_tp_of(ua->tp, dst) == SIP_TRANSPORT_UDP
		      ? key_server(req, req->sip_method) : NULL;
	if (key)
		rcache_add(ua, key, buf, size, dst, dstlen);
	osip_free(buf);
	return err;
}

/*
 * The To tag of an answer given without keeping any state: the same for
 * every retransmission of the request (RFC 3261 8.2.7), from its Call-ID,
 * From tag, top branch and CSeq, and unguessable from outside (a secret
 * drawn at start goes into the hash).
 */
static void stateless_tag(const struct sip_ua *ua, const osip_message_t *req,
			  char tag[17])
{
	const char *parts[4];
	char cseq[16] = "";
	uint64_t h = 14695981039346656037ull ^ ua->tag_secret;
	osip_generic_param_t *ft = NULL;

	if (req->from)
		osip_from_get_tag(req->from, &ft);
	if (req->cseq && req->cseq->number)
		tg_strlcpy(cseq, req->cseq->number, sizeof(cseq));
	parts[0] = req->call_id && req->call_id->number ? req->call_id->number
							: "";
	parts[1] = ft && ft->gvalue ? ft->gvalue : "";
	parts[2] = sip_msg_top_branch(req);
	parts[3] = cseq;
	for (unsigned i = 0; i < 4; i++) {
		for (const char *c = parts[i] ? parts[i] : ""; *c; c++) {
			h ^= (unsigned char)*c;
			h *= 1099511628211ull;
		}
		h ^= 0xff; /* "ab"+"c" is not "a"+"bc" */
		h *= 1099511628211ull;
	}
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull ^ ua->tag_secret;
	h ^= h >> 32;
	snprintf(tag, 17, "%016llx", (unsigned long long)h);
}

/*
 * A new server transaction's answer, with one extra header (or none).
 * @p stateless: answer a non-INVITE request without remembering the
 * answer: a retransmission is answered afresh, the same way (RFC 3261
 * 8.2.7).  For requests without side effects only (OPTIONS, refusals),
 * so a flood of them costs no memory.
 */
static int reply_new(struct sip_ua *ua, osip_event_t *evt,
		     const struct sockaddr *src, socklen_t srclen, int status,
		     const char *phrase, bool allow, const char *hname,
		     const char *hvalue, bool stateless)
{
	osip_message_t *req = evt->sip, *resp = NULL;
	struct sockaddr_storage dst;
	socklen_t dstlen;
	char tag[17];
	int err;

	stateless = stateless && !MSG_IS_INVITE(req);
	if (stateless)
		stateless_tag(ua, req, tag);
	else
		sip_rand_hex(tag, 8);
	err = sip_msg_response(&resp, req, status, phrase, tag, ua);
	if (err)
		goto out;
	if (allow) {
		osip_message_set_allow(resp, SIP_ALLOW);
		osip_message_set_accept(resp, "application/sdp");
	}
	/* One header per line of hvalue (several WWW-Authenticate). */
	for (const char *v = hvalue; hname && *hname && v;) {
		const char *nl = strchr(v, '\n');
		char *one = strndup(v, nl ? (size_t)(nl - v) : strlen(v));

		if (one)
			osip_message_set_header(resp, hname, one);
		free(one);
		v = nl ? nl + 1 : NULL;
	}
	if (!stateless)
		return sip_ua_reply_msg(ua, evt, src, srclen, resp);
	sip_resp_dest(&dst, &dstlen, req, src, srclen);
	sip_ua_send_msg(ua, (struct sockaddr *)&dst, dstlen, resp);
	osip_message_free(resp);
 out:
	osip_event_free(evt);
	return err;
}

int sip_ua_reply_msg(struct sip_ua *ua, osip_event_t *evt,
		     const struct sockaddr *src, socklen_t srclen,
		     osip_message_t *resp)
{
	osip_message_t *req = evt->sip;
	struct sockaddr_storage dst;
	socklen_t dstlen;
	struct sip_tr *tr;
	int err;

	sip_resp_dest(&dst, &dstlen, req, src, srclen);
	if (!MSG_IS_INVITE(req)) {
		err = reply_nist(ua, req, resp, (struct sockaddr *)&dst,
				 dstlen);
		osip_message_free(resp);
		osip_event_free(evt);
		return err;
	}
	err = sip_tr_new(&tr, ua, IST, req, NULL, (struct sockaddr *)&dst,
			 dstlen);
	if (err) {
		/* No transaction (e.g. an RFC 2543 branch): answer once. */
		sip_ua_send_msg(ua, (struct sockaddr *)&dst, dstlen, resp);
		osip_message_free(resp);
		osip_event_free(evt);
		return 0;
	}
	sip_tr_post(tr, evt);
	sip_tr_send(tr, resp);
	return 0;
}

int sip_ua_reply_new(struct sip_ua *ua, osip_event_t *evt,
		     const struct sockaddr *src, socklen_t srclen, int status,
		     const char *phrase, bool allow)
{
	return reply_new(ua, evt, src, srclen, status, phrase, allow, NULL,
			 NULL, false);
}

int sip_ua_reply_hdr(struct sip_ua *ua, osip_event_t *evt,
		     const struct sockaddr *src, socklen_t srclen, int status,
		     const char *hname, const char *hvalue)
{
	return reply_new(ua, evt, src, srclen, status, NULL, false, hname,
			 hvalue, false);
}

int sip_ua_refuse_hdr(struct sip_ua *ua, osip_event_t *evt,
		      const struct sockaddr *src, socklen_t srclen, int status,
		      const char *hname, const char *hvalue)
{
	return reply_new(ua, evt, src, srclen, status, NULL, false, hname,
			 hvalue, true);
}

/* Out-of-dialog requests we answer without any side effect: OPTIONS, and
 * refusals.  Floods of them (keep-alive probers, scanners) keep nothing. */
static void reply_stateless(struct sip_ua *ua, osip_event_t *evt,
			    const struct sockaddr *src, socklen_t srclen,
			    int status, bool allow)
{
	reply_new(ua, evt, src, srclen, status, NULL, allow, NULL, NULL, true);
}

static const char *missing_header(const osip_message_t *m)
{
	const char *p;

	if (!osip_list_size(&m->vias))
		return "Via";
	if (!m->from)
		return "From";
	if (!m->to)
		return "To";
	if (!m->call_id || !m->call_id->number)
		return "Call-ID";
	if (!m->cseq || !m->cseq->method || !m->cseq->number)
		return "CSeq";
	/* RFC 3261 25.1: a Call-ID is graphic characters only; anything
	 * else would also end up raw in our logs. */
	for (p = m->call_id->number; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return "Call-ID";
	return NULL;
}

/* Untrusted text for a log line: printable ASCII only, bounded. */
static const char *log_safe(char *buf, size_t size, const char *s)
{
	size_t n = 0;

	for (; s && *s && n + 1 < size; s++)
		buf[n++] = (*s >= 0x20 && *s < 0x7f) ? *s : '?';
	buf[n] = '\0';
	return buf;
}

static void rx_request(struct sip_ua *ua, osip_event_t *evt,
		       const struct sockaddr *src, socklen_t srclen,
		       const struct sip_verdict *vd)
{
	osip_message_t *req = evt->sip, *resp = NULL;
	const char *method = req->sip_method, *missing;
	struct sockaddr_storage dst;
	socklen_t dstlen;
	struct sip_tr *tr;
	char a[64], phrase[64], m[32];
	uint16_t port;
	int st;

	missing = missing_header(req);
	if (missing) {
		sip_addr_str(src, a, sizeof(a), &port);
		gw_info("%s from %s:%u lacks %s",
			log_safe(m, sizeof(m), method), a, port, missing);
		/* RFC 3261 8.1.3.3 / 18.2.2: without a Via there is nowhere
		 * to route a response; ACKs never get one. */
		if (!strcmp(missing, "Via") || MSG_IS_ACK(req)) {
			osip_event_free(evt);
			return;
		}
		snprintf(phrase, sizeof(phrase), "Missing or Invalid %s Header",
			 missing);
		sip_resp_dest(&dst, &dstlen, req, src, srclen);
		if (!sip_msg_response(&resp, req, 400, phrase, NULL, ua)) {
			sip_ua_send_msg(ua, (struct sockaddr *)&dst, dstlen,
					resp);
			osip_message_free(resp);
		}
		osip_event_free(evt);
		return;
	}
	sip_addr_str(src, a, sizeof(a), &port);
	osip_message_fix_last_via_header(req, a, port);
	if (vd->status) {
		gw_info("refusing %s from %s:%u: %d %s",
			log_safe(m, sizeof(m), method), a, port, vd->status,
			vd->phrase);
		if (MSG_IS_ACK(req)) {
			osip_event_free(evt);
			return;
		}
		reply_new(ua, evt, src, srclen, vd->status, vd->phrase,
			  vd->status == 415, vd->hname, vd->hvalue, true);
		return;
	}

	if (!MSG_IS_INVITE(req) && !MSG_IS_ACK(req) && rcache_replay(ua, req)) {
		osip_event_free(evt);
		return;
	}
	tr = sip_tr_find_server(ua, req, MSG_IS_ACK(req) ? "INVITE" : method);
	if (tr) {
		/* A retransmission, or the ACK of a non-2xx final. */
		sip_tr_post(tr, evt);
		return;
	}
	if (MSG_IS_ACK(req)) {
		sip_leg_rx_ack(ua, req);
		osip_event_free(evt);
	} else if (MSG_IS_CANCEL(req)) {
		sip_leg_rx_cancel(ua, evt, src, srclen);
	} else if (sip_msg_to_tag(req)) {
		sip_leg_rx_indialog(ua, evt, src, srclen);
	} else if (MSG_IS_INVITE(req)) {
		sip_leg_rx_invite(ua, evt, src, srclen);
	} else if ((st = sip_ua_admit(ua, evt, src, srclen, method, m,
				      sizeof(m))) != 0) {
		if (st > 0)
			reply_stateless(ua, evt, src, srclen, st, false);
	} else if (MSG_IS_OPTIONS(req)) {
		reply_stateless(ua, evt, src, srclen, 200, true);
	} else if (MSG_IS_REGISTER(req)) {
		sip_reg_rx(ua, evt, src, srclen, m);
	} else if (MSG_IS_BYE(req)) {
		/* RFC 3261 15.1.2: a BYE matching no dialog gets 481. */
		reply_stateless(ua, evt, src, srclen, 481, false);
	} else {
		/* RFC 3261 8.2.1: 405 with an Allow header. */
		reply_stateless(ua, evt, src, srclen, 405, true);
	}
}

static void rx_response(struct sip_ua *ua, osip_event_t *evt)
{
	osip_message_t *resp = evt->sip;
	struct sip_tr *tr = NULL;
	char *k;

	if (resp->cseq && resp->cseq->method) {
		k = key_client(sip_msg_top_branch(resp), resp->cseq->method);
		if (k) {
			tr = find_tr(ua, k);
			free(k);
		}
	}
	if (tr) {
		sip_tr_post(tr, evt);
		return;
	}
	/* The INVITE client transaction ends at the first 2xx, so its
	 * retransmissions are ours to ACK again (RFC 3261 13.2.2.4). */
	if (MSG_IS_STATUS_2XX(resp) && resp->cseq && resp->cseq->method &&
	    !strcmp(resp->cseq->method, "INVITE"))
		sip_leg_rx_stray_2xx(ua, resp);
	osip_event_free(evt);
}

/* A request whose syntax is wrong: answered from its raw lines,
 * statelessly; libosip2 never sees it (it repairs what it can, and leaks
 * on some of what it cannot). */
static void refuse_raw(struct sip_ua *ua, const char *buf,
		       const struct sip_verdict *vd,
		       const struct sockaddr *src, socklen_t srclen)
{
	/* The answer is the request's lines plus a status line. */
	size_t n, size = vd->len + 256;
	char a[64], *out = malloc(size);
	uint16_t port;

	if (!out)
		return;
	sip_addr_str(src, a, sizeof(a), &port);
	n = sip_check_reply(buf, vd->len, vd, NULL, out, size);
	gw_info("refusing a request from %s:%u: %d %s%s", a, port,
		vd->status, vd->phrase, n ? "" : " (no Via to answer to)");
	if (n)
		sip_ua_send_buf(ua, src, srclen, out, n);
	free(out);
}

static void rx_datagram(struct sip_ua *ua, char *buf, size_t len,
			const struct sockaddr *src, socklen_t srclen)
{
	struct sip_verdict vd;
	osip_event_t *evt;
	char a[64];
	uint16_t port;

	if (gw_debug_mask & GW_DBG_SIPMSG) {
		sip_addr_str(src, a, sizeof(a), &port);
		gw_dbg(GW_DBG_SIPMSG, "recv %zu bytes from %s:%u\n%.*s", len,
		       a, port, (int)len, buf);
	}
	sip_check_raw(buf, len, &vd);
	if (vd.drop) {
		sip_addr_str(src, a, sizeof(a), &port);
		gw_info("dropping a malformed %s from %s:%u: %s",
			strncasecmp(buf, "SIP/", 4) ? "ACK" : "response", a,
			port, vd.phrase);
		return;
	}
	if (vd.raw) {
		refuse_raw(ua, buf, &vd, src, srclen);
		return;
	}
	sip_check_fix_nul(buf, &vd);
	/* What follows the Content-Length is no part of the message. */
	evt = sip_msg_raw_ok(buf, vd.len) ? osip_parse(buf, vd.len) : NULL;
	if (!evt || !evt->sip) {
		if (evt)
			osip_event_free(evt);
		if (vd.status) {
			/* Refused anyway (e.g. a Request-URI scheme libosip2
			 * cannot read): say why. */
			refuse_raw(ua, buf, &vd, src, srclen);
			return;
		}
		sip_addr_str(src, a, sizeof(a), &port);
		gw_info("dropping unparseable datagram (%zu bytes) from %s:%u",
			len, a, port);
		return;
	}
	if (MSG_IS_REQUEST(evt->sip)) {
		if (!evt->sip->sip_method) {
			osip_event_free(evt);
			return;
		}
		rx_request(ua, evt, src, srclen, &vd);
	} else {
		rx_response(ua, evt);
	}
}

static bool same_dst(const struct sockaddr *a, const struct sockaddr *b)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a,
					 *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a,
					  *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr,
			       sizeof(x->sin6_addr));
	}
	return false;
}

/*
 * ICMP said @p dst cannot be reached (port or host unreachable, RFC 3261
 * 18.4: a transport error).  Our client transactions to it that have had
 * no response end now, as osip ends one whose send fails, instead of
 * retransmitting into the void until Timer B/F: an INVITE's leg fails
 * with 503 (and the gateway tries the trunk's next target), a probe is
 * unanswered.  Runs from on_read, never inside osip.
 */
void sip_ua_dst_unreachable(struct sip_ua *ua, const struct sockaddr *dst,
			    int err)
{
	char a[64];
	uint16_t port = 0;
	unsigned n = 0;

	for (size_t b = 0; b < ua->trs.nb; b++)
		for (struct sip_hnode *hn = ua->trs.b[b]; hn; hn = hn->next) {
			struct sip_tr *tr = hn->obj;

			if (tr->dead || !tr->otr ||
			    !same_dst((struct sockaddr *)&tr->dst, dst) ||
			    (tr->otr->state != ICT_CALLING &&
			     tr->otr->state != NICT_TRYING))
				continue;
			tr->dead = true;
			tr->dnext = ua->dead;
			ua->dead = tr;
			n++;
		}
	/* A connection that closed with nothing in flight is no news. */
	if (!n && err == ECONNRESET)
		return;
	sip_addr_str(dst, a, sizeof(a), &port);
	gw_info("%s:%u unreachable (%s): %u transaction(s) ended", a, port,
		strerror(err), n);
}

/* The socket's error queue (IP_RECVERR): which destination each ICMP
 * error was about. */
static void read_errqueue(struct sip_ua *ua)
{
	for (int i = 0; i < RECV_BATCH; i++) {
		struct sockaddr_storage dst;
		char ctrl[512], byte;
		struct iovec iov = {&byte, sizeof(byte)};
		struct msghdr mh = {
			.msg_name = &dst, .msg_namelen = sizeof(dst),
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctrl, .msg_controllen = sizeof(ctrl),
		};
		struct cmsghdr *cm;

		memset(&dst, 0, sizeof(dst));
		if (recvmsg(ua->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			const struct sock_extended_err *ee;

			if (!((cm->cmsg_level == IPPROTO_IP &&
			       cm->cmsg_type == IP_RECVERR) ||
			      (cm->cmsg_level == IPPROTO_IPV6 &&
			       cm->cmsg_type == IPV6_RECVERR)))
				continue;
			ee = (const void *)CMSG_DATA(cm);
			if ((ee->ee_origin == SO_EE_ORIGIN_ICMP ||
			     ee->ee_origin == SO_EE_ORIGIN_ICMP6) &&
			    (ee->ee_errno == ECONNREFUSED ||
			     ee->ee_errno == EHOSTUNREACH ||
			     ee->ee_errno == ENETUNREACH))
				sip_ua_dst_unreachable(ua,
						       (struct sockaddr *)&dst,
						       (int)ee->ee_errno);
		}
	}
}

void sip_ua_receive(struct sip_ua *ua, char *buf, size_t len,
		    const struct sockaddr *src, socklen_t srclen)
{
	rx_datagram(ua, buf, len, src, srclen);
	sip_ua_run(ua);
}

static bool only_crlf(const char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (buf[i] != '\r' && buf[i] != '\n')
			return false;
	return true;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct sip_ua *ua = arg;
	struct sockaddr_storage src;
	socklen_t srclen;
	ssize_t n;
	int i;

	for (i = 0; i < RECV_BATCH && ua->fd >= 0; i++) {
		srclen = sizeof(src);
		n = recvfrom(fd, ua->rbuf, SIP_MAX_MSG + 1, MSG_TRUNC,
			     (struct sockaddr *)&src, &srclen);
		if (n < 0) {
			int err = errno;

			/* An ICMP error wakes us as an error on the socket,
			 * or (once a send took it) with nothing to read. */
			if (err == ECONNREFUSED || err == EHOSTUNREACH ||
			    err == ENETUNREACH || (i == 0 && err == EAGAIN)) {
				read_errqueue(ua);
				sip_ua_run(ua);
				if (err != EAGAIN)
					continue;
			} else if (err != EAGAIN && err != EWOULDBLOCK &&
				   err != EINTR) {
				gw_warn("recvfrom: %s", strerror(err));
			}
			break;
		}
		if (n > SIP_MAX_MSG) {
			gw_info("dropping oversized datagram (%zd bytes)", n);
			continue;
		}
		/* RFC 5626 3.5.1 keep-alives are bare CRLFs. */
		if (only_crlf(ua->rbuf, (size_t)n))
			continue;
		ua->rbuf[n] = '\0';
		rx_datagram(ua, ua->rbuf, (size_t)n, (struct sockaddr *)&src,
			    srclen);
		sip_ua_run(ua);
	}
}

static void on_deliver(evutil_socket_t fd, short what, void *arg)
{
	/* Requests queued for the loop go out first (options.c). */
	sip_ua_run(arg);
	sip_ua_deliver(arg);
}

/* ---- the UA ------------------------------------------------------------ */

/* osip's own trace (parse errors of bad datagrams, mostly) would go to
 * stdout; route it into our log as SIP message debugging (STYLE 5). */
static void osip_trace_cb(const char *fi, int li, osip_trace_level_t level,
			  const char *chfr, va_list ap)
{
	char buf[256];
	size_t n;

	if (!(gw_debug_mask & GW_DBG_SIPMSG))
		return;
	vsnprintf(buf, sizeof(buf), chfr, ap);
	n = strlen(buf);
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	gw_dbg(GW_DBG_SIPMSG, "osip %s:%d: %s", fi, li, buf);
}

int sip_bind_addr(struct sockaddr_storage *ss, socklen_t *len,
		  const char *bind_addr, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (!bind_addr || !*bind_addr)
		bind_addr = "0.0.0.0";
	if (inet_pton(AF_INET, bind_addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, bind_addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
	} else {
		return EINVAL;
	}
	return 0;
}

static int open_socket(struct sip_ua *ua, const char *bind_addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int err;

	if (sip_bind_addr(&ss, &len, bind_addr, port)) {
		gw_err("bind address '%s' is not a numeric address", bind_addr);
		return EINVAL;
	}
	ua->fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
			0);
	if (ua->fd < 0)
		return errno;
	if (bind(ua->fd, (struct sockaddr *)&ss, len)) {
		err = errno;
		gw_err("bind %s:%u: %s", bind_addr, port, strerror(err));
		return err;
	}
	/* ICMP unreachables of an unconnected socket are only reported
	 * with RECVERR (read_errqueue): a dead peer is then known at once,
	 * not after Timer B.  Without it we still work, on timers. */
	{
		int on = 1;

		if (ss.ss_family == AF_INET)
			(void)setsockopt(ua->fd, IPPROTO_IP, IP_RECVERR, &on,
					 sizeof(on));
		else
			(void)setsockopt(ua->fd, IPPROTO_IPV6, IPV6_RECVERR,
					 &on, sizeof(on));
	}
	len = sizeof(ss);
	if (getsockname(ua->fd, (struct sockaddr *)&ss, &len))
		return errno;
	sip_addr_str((struct sockaddr *)&ss, ua->addr, sizeof(ua->addr),
		     &ua->port);
	if (!strcmp(ua->addr, "0.0.0.0") || !strcmp(ua->addr, "::"))
		ua->addr[0] = '\0';
	return 0;
}

void sip_ua_set_codecs(struct sip_ua *ua, const int *codecs, unsigned n)
{
	unsigned i;

	ua->ncodecs = 0;
	for (i = 0; i < n && ua->ncodecs < SIP_MAX_CODECS; i++)
		if (codecs[i] == 0 || codecs[i] == 8)
			ua->codecs[ua->ncodecs++] = codecs[i];
}

int sip_ua_alloc(struct sip_ua **uap, struct event_base *base,
		 const struct sip_ua_config *cfg)
{
	struct sip_ua *ua;
	size_t i;
	int err;

	if (!uap || !base || !cfg || !cfg->codecs || !cfg->ncodecs)
		return EINVAL;
	ua = calloc(1, sizeof(*ua));
	if (!ua)
		return ENOMEM;
	ua->fd = -1;
	ua->base = base;
	tg_strlcpy(ua->user_agent, cfg->user_agent ? cfg->user_agent :
		   "Tollgate", sizeof(ua->user_agent));
	sip_ua_set_codecs(ua, cfg->codecs, cfg->ncodecs);
	if (!ua->ncodecs) {
		err = EINVAL;
		goto out;
	}
	ua->ptime = cfg->ptime ? cfg->ptime : 20;
	ua->invite = cfg->invite;
	ua->authorize = cfg->authorize;
	ua->digest = cfg->digest;
	ua->registrar = cfg->registrar;
	ua->nonce_ttl = cfg->nonce_ttl ? cfg->nonce_ttl : SIP_NONCE_TTL;
	tg_strlcpy(ua->realm, cfg->realm && *cfg->realm ? cfg->realm
		   : cfg->bind_addr && *cfg->bind_addr ? cfg->bind_addr
		   : "tollgate", sizeof(ua->realm));
	ua->rejected = cfg->rejected;
	ua->arg = cfg->arg;
	err = ENOMEM;
	ua->rbuf = malloc(SIP_MAX_MSG + 2);
	ua->nonces = malloc(sizeof(*ua->nonces));
	if (!ua->nonces || sip_nonces_init(ua->nonces))
		goto out;
	if (!ua->rbuf || sip_hash_init(&ua->legs, 1024) ||
	    sip_hash_init(&ua->trs, 1024) || sip_hash_init(&ua->rcache, 4096))
		goto out;
	if (tg_random(&ua->tag_secret, sizeof(ua->tag_secret)))
		goto out;
	osip_trace_initialize_func(TRACE_LEVEL4, osip_trace_cb);
	for (i = 0; i < SIP_OSIP_SHARDS; i++) {
		if (osip_init(&ua->osip[i])) {
			ua->osip[i] = NULL;
			goto out;
		}
		osip_set_application_context(ua->osip[i], ua);
		set_callbacks(ua->osip[i]);
	}
	err = open_socket(ua, cfg->bind_addr, cfg->port);
	if (!err)
		err = sip_tp_alloc(&ua->tp, ua, cfg);
	if (err)
		goto out;
	err = ENOMEM;
	ua->ev_read = event_new(base, ua->fd, EV_READ | EV_PERSIST, on_read,
				ua);
	ua->ev_tick = evtimer_new(base, on_tick, ua);
	ua->ev_rcache = evtimer_new(base, on_rcache, ua);
	ua->ev_deliver = event_new(base, -1, 0, on_deliver, ua);
	if (!ua->ev_read || !ua->ev_tick || !ua->ev_deliver || !ua->ev_rcache ||
	    event_add(ua->ev_read, NULL))
		goto out;
	err = 0;
	gw_info("listening on udp %s:%u", ua->addr[0] ? ua->addr : "*",
		ua->port);
 out:
	if (err)
		sip_ua_free(ua);
	else
		*uap = ua;
	return err;
}

static void free_all_trs(struct sip_ua *ua)
{
	size_t i;

	reap(ua);
	for (i = 0; i < ua->trs.nb; i++) {
		while (ua->trs.b[i]) {
			struct sip_tr *tr = ua->trs.b[i]->obj;

			tr_free(tr);
		}
	}
	ua->runq = ua->runq_tail = NULL;
}

void sip_ua_free(struct sip_ua *ua)
{
	size_t i;

	if (!ua)
		return;
	if (ua->ev_read)
		event_free(ua->ev_read);
	if (ua->ev_tick)
		event_free(ua->ev_tick);
	if (ua->ev_deliver)
		event_free(ua->ev_deliver);
	if (ua->ev_rcache)
		event_free(ua->ev_rcache);
	if (ua->fd >= 0)
		close(ua->fd);
	ua->fd = -1;
	sip_tp_free(ua->tp);
	ua->tp = NULL;
	/* Legs first, so that freeing their transactions is silent. */
	if (ua->legs.b)
		sip_ua_drop_legs(ua);
	if (ua->trs.b)
		free_all_trs(ua);
	for (i = 0; i < SIP_OSIP_SHARDS; i++)
		if (ua->osip[i])
			osip_release(ua->osip[i]);
	if (ua->rcache.b)
		rcache_close(ua);
	sip_hash_close(&ua->legs);
	sip_hash_close(&ua->trs);
	sip_hash_close(&ua->rcache);
	free(ua->rbuf);
	free(ua->nonces);
	free(ua);
}

uint16_t sip_ua_port(const struct sip_ua *ua)
{
	return ua->port;
}
