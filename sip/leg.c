/* sip/leg.c  INVITE dialogs as legs: inbound (UAS) and outbound (UAC) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define LOG_MODULE "sip"
#include "sip/sip_int.h"

enum leg_state {
	LEG_IN_PROCEEDING,  /* INVITE received, 100 sent */
	LEG_IN_EARLY,       /* a 1xx with our tag sent */
	LEG_IN_ANSWERED,    /* 2xx sent, retransmitted until ACK */
	LEG_IN_REJECTED,    /* final failure sent, waiting for the ACK */
	LEG_OUT_CALLING,    /* INVITE sent */
	LEG_OUT_EARLY,      /* a 1xx received */
	LEG_OUT_CANCELLING, /* we hung up before the final response */
	LEG_CONFIRMED,
	LEG_TERMINATING,    /* our BYE is out */
	LEG_CLOSED,
};

/* A leg event waiting for delivery from the loop (never re-entrant). */
struct sip_pev {
	struct sip_pev *next;
	struct sip_leg *leg;
	struct sip_leg_event ev;
	struct sip_media media;
	struct sip_t38 t38;
	char text[96];
	char pai[64];   /* ANSWERED: the 200's P-Asserted-Identity user */
	char refer[40]; /* REFER: the number to transfer to */
	unsigned gen;   /* leg->hup_gen when queued */
	bool embedded;  /* the leg's own CLOSED slot */
};

struct sip_leg {
	struct sip_hnode hn; /* ua->legs, by Call-ID, until closed */
	struct sip_ua *ua;   /* NULL once the UA is gone */
	enum leg_state state;
	bool outbound;
	bool hungup;         /* the gateway ended it */
	bool bye_pending;    /* BYE once our 2xx is ACKed */
	bool cancel_pending; /* CANCEL once a provisional arrives */
	bool got_1xx;
	bool unreachable;    /* the INVITE never got through (FAILED 503
			      * with ev.transport) */
	bool have_remote;
	bool in_hash;
	bool closed_pending; /* CLOSED queued, not yet delivered */
	bool abandoned;      /* the UA owns the gateway's reference */
	unsigned hup_gen;
	sip_leg_event_h *h;
	void *arg;
	char *call_id;
	char local_tag[17];
	char *remote_tag;
	osip_from_t *local;  /* our party, with our tag */
	osip_from_t *remote; /* theirs, with their tag once known */
	osip_uri_t *target;  /* remote target (Contact) */
	osip_list_t rset;    /* route set (RFC 3261 12.1), osip_route_t */
	uint32_t cseq;       /* last local CSeq */
	uint32_t inv_cseq;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	char sig_addr[64];   /* our address toward the peer */
	char contact_user[64];
	char answer_pai[64];     /* inbound: who answered, for our 200 */
	bool answer_privacy;
	char answer_pai_in[64];  /* outbound: the 200's identity */
	char media_addr[64];
	uint16_t media_port;
	struct sip_media remote_media;
	int codec;
	/* This leg's codec preference and ptime: its trunk's, else the
	 * UA's (fixed when the leg is made; a reload applies to new ones). */
	int codecs[SIP_MAX_CODECS];
	unsigned ncodecs;
	unsigned ptime;
	int te_local;        /* telephone-event PT in our SDP, -1 none */
	/* T.38 (T.38 Annex D): allowed with t38_ours; t38 while the
	 * session is T.38, with the far end's side in t38_remote;
	 * t38_offering while our re-INVITE to it is open. */
	bool t38_allowed, t38, t38_offering;
	struct sip_t38 t38_ours, t38_remote;
	/* SDES (RFC 4568): the a=crypto lines of our SDP, its profile, and
	 * whether an answer must take one (we offered RTP/SAVP). */
	struct sip_crypto crypto[2];
	unsigned ncrypto;
	bool crypto_savp;
	bool srtp_required;
	uint64_t sess_id;
	struct sip_tr *inv_tr; /* not a reference: cleared when it dies */
	struct sip_tr *trs;    /* transactions holding a reference to us */
	char *rtx;             /* our 2xx, until ACK (RFC 3261 13.3.1.4) */
	size_t rtx_len;
	char *ack;             /* our ACK for their 2xx (RFC 3261 13.2.2.4) */
	size_t ack_len;
	struct event *tmr;
	unsigned rtx_ms;
	int64_t rtx_start;
	int hup_cause;
	char hup_text[96];
	struct sip_pev closed;
	/* Outbound digest (sip_auth_add): our credentials, the INVITE as
	 * first sent (a copy to resend with them), the nonce answered. */
	char *auth_user, *auth_pass, *auth_realm;
	osip_message_t *inv_copy;
	char auth_nonce[128], bye_nonce[128];
	unsigned auth_tries;
	/* Session changes (re-INVITE, UPDATE) and the session timer. */
	uint64_t sdp_ver;       /* o= version of our SDP (RFC 3264 8) */
	enum sip_dir ldir;      /* the direction in our SDP */
	char *lsdp;             /* our last SDP, for a refresh's offer */
	uint32_t rcseq;         /* their last re-INVITE or UPDATE */
	bool re_srv;            /* their re-INVITE: our 2xx awaits the ACK */
	bool re_offered;        /* ... and has our offer (answer in ACK) */
	uint32_t re_srv_cseq;
	char *re_rtx;           /* that 2xx */
	size_t re_rtx_len;
	int64_t re_start;
	unsigned re_ms;
	struct event *re_tmr;   /* its retransmission */
	struct sip_tr *re_ctr;  /* our re-INVITE/UPDATE until its final */
	bool re_ctr_invite;
	unsigned re_tries;      /* 422/405 retries of one refresh */
	struct event *glare_tmr; /* RFC 3261 14.1: retry after a 491 */
	bool peer_update;       /* the peer allows UPDATE */
	bool peer_timer;        /* the peer supports timer (RFC 4028) */
	unsigned se_cfg, min_se; /* ours */
	unsigned st_interval;   /* the session interval, s; 0 = no timer */
	bool st_refresh;        /* we are the refresher */
	int64_t st_last;        /* when the session was last refreshed */
	struct event *st_tmr;
	/* Reliable provisionals (RFC 3262). */
	bool peer_100rel;       /* inbound: the INVITE supports 100rel */
	bool stream;            /* inbound over TCP or TLS */
	bool sips;              /* inbound over TLS: its Request-URI was a
				 * sips: URI, so our Contact is one too */
	bool peer_req_100rel;   /* ... requires it: every 1xx reliable */
	bool rel_pending;       /* our reliable 1xx awaits its PRACK */
	bool rel_sent;          /* one went (later ones are unreliable) */
	uint32_t rseq;          /* ours: the last RSeq sent */
	uint32_t rseq_in;       /* outbound: the last RSeq PRACKed */
	char *rel_rtx;
	size_t rel_rtx_len;
	int64_t rel_start;
	unsigned rel_ms;
	struct event *rel_tmr;
	char fork_tag[64];      /* outbound: the last other fork's 2xx tag */
	/* A transfer asked of us (RFC 3515): the REFER's implicit
	 * subscription, until its final NOTIFY. */
	bool refer_ok;          /* the gateway takes transfers on it */
	bool refer_active;
	uint32_t refer_cseq;
	/* One NOTIFY at a time, so that none overtakes another (and none
	 * reaches a peer still busy with the last): the latest news waits
	 * for the running one's final. */
	struct sip_tr *notify_tr; /* not a reference: cleared when it dies */
	int notify_next;          /* a status waiting, 0 none */
	char notify_next_phrase[48];
};

static const char *state_name(enum leg_state st)
{
	switch (st) {
	case LEG_IN_PROCEEDING: return "IN_PROCEEDING";
	case LEG_IN_EARLY: return "IN_EARLY";
	case LEG_IN_ANSWERED: return "IN_ANSWERED";
	case LEG_IN_REJECTED: return "IN_REJECTED";
	case LEG_OUT_CALLING: return "OUT_CALLING";
	case LEG_OUT_EARLY: return "OUT_EARLY";
	case LEG_OUT_CANCELLING: return "OUT_CANCELLING";
	case LEG_CONFIRMED: return "CONFIRMED";
	case LEG_TERMINATING: return "TERMINATING";
	case LEG_CLOSED: return "CLOSED";
	}
	return "?";
}

static void set_state(struct sip_leg *leg, enum leg_state st)
{
	gw_dbg(GW_DBG_CALL, "leg %s: %s -> %s", leg->call_id,
	       state_name(leg->state), state_name(st));
	leg->state = st;
}

/* Session changes and timers (the end of this file). */
static int local_sdp(struct sip_leg *leg, char *buf, size_t size,
		     const int *codecs, unsigned n);
static int local_t38_sdp(struct sip_leg *leg, char *buf, size_t size,
			 const struct sip_t38 *t);
static int send_refresh(struct sip_leg *leg);
static int st_headers(struct sip_leg *leg, osip_message_t *msg, bool req);
static void st_from_2xx(struct sip_leg *leg, const osip_message_t *msg,
			bool initial);
static void st_arm(struct sip_leg *leg);
static void rx_modify(struct sip_leg *leg, osip_event_t *evt,
		      const struct sockaddr *src, socklen_t srclen);
static void re_ack(struct sip_leg *leg, const osip_message_t *ack);
static void re_final(struct sip_leg *leg, int type,
		     const osip_message_t *msg);
static int rel_prepare(struct sip_leg *leg, osip_message_t *resp);
static void rel_stop(struct sip_leg *leg);
static void rx_prack(struct sip_leg *leg, osip_event_t *evt,
		     const struct sockaddr *src, socklen_t srclen);
static void out_prack(struct sip_leg *leg, const osip_message_t *msg,
		      bool *dup);
static int se_retry(struct sip_leg *leg, const osip_message_t *resp);
static int hdr_replace(osip_message_t *m, const char *name,
		       const char *value);
static void fork_drop(struct sip_leg *leg, const osip_message_t *resp);

static void route_free(void *r)
{
	osip_route_free(r);
}

static void destructor(void *arg)
{
	struct sip_leg *leg = arg;

	if (leg->tmr)
		event_free(leg->tmr);
	if (leg->local)
		osip_from_free(leg->local);
	if (leg->remote)
		osip_from_free(leg->remote);
	if (leg->target)
		osip_uri_free(leg->target);
	osip_list_special_free(&leg->rset, route_free);
	free(leg->call_id);
	free(leg->remote_tag);
	free(leg->rtx);
	free(leg->ack);
	free(leg->auth_user);
	free(leg->auth_pass);
	free(leg->auth_realm);
	if (leg->inv_copy)
		osip_message_free(leg->inv_copy);
	if (leg->re_tmr)
		event_free(leg->re_tmr);
	if (leg->glare_tmr)
		event_free(leg->glare_tmr);
	if (leg->st_tmr)
		event_free(leg->st_tmr);
	if (leg->rel_tmr)
		event_free(leg->rel_tmr);
	free(leg->rel_rtx);
	free(leg->re_rtx);
	free(leg->lsdp);
}

/* Keep the codecs we can carry (the UA's when none of @p codecs is). */
static void leg_set_codecs(struct sip_leg *leg, const int *codecs,
			   unsigned n, unsigned ptime)
{
	unsigned i, k = 0;

	for (i = 0; codecs && i < n && k < SIP_MAX_CODECS; i++)
		if (sip_codec_known(codecs[i]))
			leg->codecs[k++] = codecs[i];
	if (!k) {
		memcpy(leg->codecs, leg->ua->codecs,
		       leg->ua->ncodecs * sizeof(int));
		k = leg->ua->ncodecs;
	}
	leg->ncodecs = k;
	leg->ptime = ptime >= 10 && ptime <= SIP_MAX_PTIME ? ptime
							   : leg->ua->ptime;
}

static struct sip_leg *leg_alloc(struct sip_ua *ua, bool outbound)
{
	struct sip_leg *leg = obj_zalloc(sizeof(*leg), destructor);

	if (!leg)
		return NULL;
	leg->ua = ua;
	leg->outbound = outbound;
	leg->codec = -1;
	leg_set_codecs(leg, ua->codecs, ua->ncodecs, ua->ptime);
	leg->te_local = -1;
	osip_list_init(&leg->rset);
	sip_rand_hex(leg->local_tag, 8);
	tg_random(&leg->sess_id, sizeof(leg->sess_id));
	leg->sess_id &= 0x7fffffffffffull; /* keeps o= readable */
	leg->sdp_ver = leg->sess_id;
	tg_random(&leg->cseq, sizeof(leg->cseq));
	leg->cseq = 1 + (leg->cseq & 0xffff); /* RFC 3261 8.1.1.5: < 2^31 */
	leg->closed.embedded = true;
	leg->closed.leg = leg;
	leg->closed.ev.type = SIP_LEG_CLOSED;
	return leg;
}

/* ---- event queue ------------------------------------------------------ */

static void evq_push(struct sip_ua *ua, struct sip_pev *pe)
{
	pe->next = NULL;
	if (ua->evq_tail)
		ua->evq_tail->next = pe;
	else
		ua->evq = pe;
	ua->evq_tail = pe;
	event_active(ua->ev_deliver, EV_TIMEOUT, 0);
}

static void leg_queue_t38(struct sip_leg *leg, enum sip_leg_event_type type,
			  int status, const struct sip_reason *rsn,
			  const struct sip_media *media,
			  const struct sip_t38 *t38)
{
	struct sip_pev *pe;

	/* Once the gateway hung up it hears only CLOSED. */
	if (!leg->ua || leg->state == LEG_CLOSED || leg->hungup)
		return;
	pe = calloc(1, sizeof(*pe));
	if (!pe) {
		gw_err("leg %s: out of memory, event %d lost", leg->call_id,
		       type);
		return;
	}
	pe->leg = obj_ref(leg);
	pe->gen = leg->hup_gen;
	pe->ev.type = type;
	pe->ev.status = status;
	pe->ev.transport = type == SIP_LEG_FAILED && leg->unreachable;
	if (rsn && rsn->cause) {
		pe->ev.reason.cause = rsn->cause;
		pe->ev.reason.preemption = rsn->preemption;
		if (rsn->text) {
			tg_strlcpy(pe->text, rsn->text, sizeof(pe->text));
			pe->ev.reason.text = pe->text;
		}
	}
	if (type == SIP_LEG_ANSWERED) {
		tg_strlcpy(pe->pai, leg->answer_pai_in, sizeof(pe->pai));
		pe->ev.pai_user = pe->pai;
	}
	if (media) {
		pe->media = *media;
		pe->ev.media = &pe->media;
	}
	if (t38) {
		pe->t38 = *t38;
		pe->ev.t38 = &pe->t38;
	}
	evq_push(leg->ua, pe);
}

static void leg_queue(struct sip_leg *leg, enum sip_leg_event_type type,
		      int status, const struct sip_reason *rsn,
		      const struct sip_media *media)
{
	leg_queue_t38(leg, type, status, rsn, media, NULL);
}

static void tr_detach_all(struct sip_leg *leg)
{
	struct sip_tr *tr;

	while ((tr = leg->trs)) {
		leg->trs = tr->lnext;
		tr->lnext = NULL;
		tr->leg = NULL;
		obj_deref(leg); /* the ua still holds one until CLOSED */
	}
	leg->inv_tr = NULL;
	leg->re_ctr = NULL;
}

static void timer_stop(struct sip_leg *leg)
{
	if (leg->tmr)
		event_del(leg->tmr);
}

/* The timer belongs to the UA's event base: free it while both live. */
static void timer_free(struct sip_leg *leg)
{
	struct event **t[] = {&leg->tmr, &leg->re_tmr, &leg->glare_tmr,
			      &leg->st_tmr, &leg->rel_tmr};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		if (*t[i])
			event_free(*t[i]);
		*t[i] = NULL;
	}
}

/* The end of a leg: from here its transactions run on alone and the
 * gateway gets CLOSED, after which the UA drops its reference. */
static void leg_close(struct sip_leg *leg)
{
	if (leg->state == LEG_CLOSED)
		return;
	set_state(leg, LEG_CLOSED);
	timer_free(leg);
	if (leg->in_hash) {
		sip_hash_del(&leg->ua->legs, &leg->hn);
		leg->in_hash = false;
	}
	tr_detach_all(leg);
	if (leg->ua) {
		leg->closed_pending = true;
		evq_push(leg->ua, &leg->closed);
	}
}

void sip_ua_deliver(struct sip_ua *ua)
{
	struct sip_pev *pe;

	while ((pe = ua->evq)) {
		struct sip_leg *leg = pe->leg;

		ua->evq = pe->next;
		if (!ua->evq)
			ua->evq_tail = NULL;
		/* Events queued before a hangup are stale for the gateway. */
		if (pe->embedded)
			leg->closed_pending = false;
		if (leg->h && (pe->embedded || pe->gen == leg->hup_gen))
			leg->h(leg, &pe->ev, leg->arg);
		if (!pe->embedded)
			free(pe);
		else if (leg->abandoned)
			obj_deref(leg); /* the gateway's, given up */
		/* For CLOSED (embedded) this is the UA's own reference. */
		obj_deref(leg);
	}
}

void sip_ua_drop_legs(struct sip_ua *ua)
{
	struct sip_pev *pe;
	size_t i;

	while ((pe = ua->evq)) {
		struct sip_leg *leg = pe->leg;

		ua->evq = pe->next;
		if (!pe->embedded)
			free(pe);
		else if (leg->abandoned)
			obj_deref(leg);
		obj_deref(leg);
	}
	ua->evq_tail = NULL;
	for (i = 0; i < ua->legs.nb; i++) {
		struct sip_hnode *hn;

		while ((hn = ua->legs.b[i])) {
			struct sip_leg *leg = hn->obj;

			sip_hash_del(&ua->legs, hn);
			leg->in_hash = false;
			timer_free(leg);
			leg->ua = NULL;
			leg->state = LEG_CLOSED;
			if (leg->abandoned)
				obj_deref(leg);
			obj_deref(leg);
		}
	}
}

/* ---- helpers ---------------------------------------------------------- */

static struct sip_leg *find_leg(struct sip_ua *ua, const char *call_id,
				const char *local_tag, const char *remote_tag)
{
	struct sip_hnode *hn = sip_hash_lookup(&ua->legs, call_id);

	for (; hn; hn = sip_hash_next(hn)) {
		struct sip_leg *leg = hn->obj;

		if (local_tag && strcmp(leg->local_tag, local_tag))
			continue;
		if (remote_tag && (!leg->remote_tag ||
				   strcmp(leg->remote_tag, remote_tag)))
			continue;
		return leg;
	}
	return NULL;
}

/*
 * The inbound leg an INVITE without a To tag belongs to: the one its
 * CSeq created (a retransmission).  One created by a lower CSeq that we
 * have refused is done with: a new INVITE with the same Call-ID and a
 * higher CSeq is a new request (RFC 3261 22.2's retry after a challenge,
 * RFC 3578's next digits), even before the old one's ACK.
 */
static struct sip_leg *find_inbound(struct sip_ua *ua, const char *call_id,
				    const char *remote_tag, uint32_t cseq)
{
	struct sip_hnode *hn = sip_hash_lookup(&ua->legs, call_id);

	for (; hn; hn = sip_hash_next(hn)) {
		struct sip_leg *leg = hn->obj;

		if (leg->outbound || (remote_tag && (!leg->remote_tag ||
				      strcmp(leg->remote_tag, remote_tag))))
			continue;
		if (leg->inv_cseq == cseq ||
		    !(leg->state == LEG_IN_REJECTED && cseq > leg->inv_cseq))
			return leg;
	}
	return NULL;
}

static int leg_tr_new(struct sip_tr **trp, struct sip_leg *leg,
		      osip_fsm_type_t type, enum sip_tr_kind kind,
		      osip_message_t *req, const struct sockaddr *dst,
		      socklen_t dstlen)
{
	struct sip_tr *tr;
	int err;

	err = sip_tr_new(&tr, leg->ua, type, req, leg, dst, dstlen);
	if (err)
		return err;
	tr->kind = kind;
	tr->lnext = leg->trs;
	leg->trs = tr;
	*trp = tr;
	return 0;
}

static void set_contact(struct sip_leg *leg, osip_message_t *msg)
{
	const struct sockaddr *peer = (const struct sockaddr *)&leg->peer;
	const char *tp = leg->sips ? "" : sip_ua_contact_param(leg->ua, peer);
	const char *scheme = leg->sips ? "sips" : "sip";
	char hp[96], buf[200];
	uint16_t port;

	sip_ua_via_proto(leg->ua, peer, &port);
	sip_host_fmt(hp, sizeof(hp), leg->sig_addr, port);
	if (leg->contact_user[0])
		snprintf(buf, sizeof(buf), "<%s:%s@%s%s>", scheme,
			 leg->contact_user, hp, tp);
	else
		snprintf(buf, sizeof(buf), "<%s:%s%s>", scheme, hp, tp);
	osip_message_set_contact(msg, buf);
}

/* RFC 3261 12.1: the route set is the Record-Route of the request that
 * made the dialog, in order (UAS), or of its response, reversed (UAC). */
static void learn_routes(struct sip_leg *leg, const osip_message_t *msg,
			 bool reverse)
{
	osip_record_route_t *rr;
	osip_route_t *r;

	osip_list_special_free(&leg->rset, route_free);
	osip_list_init(&leg->rset);
	for (int i = 0; (rr = osip_list_get(&msg->record_routes, i)); i++)
		if (!osip_route_clone(rr, &r))
			osip_list_add(&leg->rset, r, reverse ? 0 : -1);
}

/* Our requests in the dialog carry the route set as Route headers (loose
 * routing, RFC 3261 12.2.1.1); they still go to the peer's address. */
static int add_routes(const struct sip_leg *leg, osip_message_t *m)
{
	osip_route_t *r, *c;

	for (int i = 0; (r = osip_list_get(&leg->rset, i)); i++) {
		if (osip_route_clone(r, &c))
			return ENOMEM;
		osip_list_add(&m->routes, c, -1);
	}
	return 0;
}

/* RFC 3261 12.1.1: a response that makes a dialog copies Record-Route. */
static int copy_record_routes(osip_message_t *resp, const osip_message_t *req)
{
	osip_record_route_t *rr, *c;

	for (int i = 0; (rr = osip_list_get(&req->record_routes, i)); i++) {
		if (osip_record_route_clone(rr, &c))
			return ENOMEM;
		osip_list_add(&resp->record_routes, c, -1);
	}
	return 0;
}

/*
 * An inbound dialog that came over TCP or TLS sends its requests back
 * over that connection (the peer's source address).  Once the peer has
 * closed it (a proxy's idle timeout in a long call), they go where RFC
 * 3261 12.2.1.1 says: the remote target, its Contact, over the transport
 * it names.  Only a numeric host: nothing resolves names on the loop.
 */
static void leg_repeer(struct sip_leg *leg)
{
	const struct sockaddr *peer = (const struct sockaddr *)&leg->peer;
	enum sip_transport kind = SIP_TRANSPORT_TCP;
	osip_uri_param_t *tp = NULL;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[64];
	int port;

	if (!leg->stream || *sip_ua_contact_param(leg->ua, peer) ||
	    !leg->target || !leg->target->host || !*leg->target->host)
		return;
	osip_uri_param_get_byname(&leg->target->url_params, "transport", &tp);
	if ((leg->target->scheme &&
	     !osip_strcasecmp(leg->target->scheme, "sips")) ||
	    (tp && tp->gvalue && !osip_strcasecmp(tp->gvalue, "tls")))
		kind = SIP_TRANSPORT_TLS;
	else if (tp && tp->gvalue && !osip_strcasecmp(tp->gvalue, "udp"))
		kind = SIP_TRANSPORT_UDP;
	port = leg->target->port ? atoi(leg->target->port)
	       : kind == SIP_TRANSPORT_TLS ? 5061 : 5060;
	tg_strlcpy(host, leg->target->host, sizeof(host));
	if (port <= 0 || port > 65535 ||
	    sip_bind_addr(&ss, &len, host, (uint16_t)port) ||
	    sip_ua_set_transport(leg->ua, (struct sockaddr *)&ss, len, kind,
				 NULL))
		return;
	memcpy(&leg->peer, &ss, len);
	leg->peerlen = len;
	leg->stream = kind != SIP_TRANSPORT_UDP;
	gw_info("leg %s: the peer's connection is gone; requests go to its "
		"Contact %s:%d over %s", leg->call_id, host, port,
		sip_tp_name(kind));
}

/* A request inside the dialog (or the INVITE that makes it). */
static int leg_request(osip_message_t **msgp, struct sip_leg *leg,
		       const char *method, uint32_t cseq)
{
	osip_message_t *m;
	osip_uri_t *uri = NULL;
	char hp[96], buf[200], branch[17];
	const char *proto;
	uint16_t port;
	int err = ENOMEM;

	leg_repeer(leg);
	if (osip_message_init(&m))
		return ENOMEM;
	osip_message_set_method(m, osip_strdup(method));
	osip_message_set_version(m, osip_strdup("SIP/2.0"));
	if (osip_uri_clone(leg->target, &uri))
		goto out;
	osip_message_set_uri(m, uri);
	sip_rand_hex(branch, 8);
	proto = sip_ua_via_proto(leg->ua, (struct sockaddr *)&leg->peer,
				 &port);
	sip_host_fmt(hp, sizeof(hp), leg->sig_addr, port);
	/* RFC 3261 8.1.1.7 magic cookie; RFC 3581 rport. */
	snprintf(buf, sizeof(buf), "SIP/2.0/%s %s;rport;branch=z9hG4bK%s",
		 proto, hp, branch);
	if (osip_message_set_via(m, buf))
		goto out;
	if (osip_from_clone(leg->local, &m->from) ||
	    osip_to_clone(leg->remote, &m->to))
		goto out;
	if (osip_message_set_call_id(m, leg->call_id))
		goto out;
	snprintf(buf, sizeof(buf), "%u %s", cseq, method);
	if (osip_message_set_cseq(m, buf))
		goto out;
	osip_message_set_max_forwards(m, "70");
	osip_message_set_user_agent(m, leg->ua->user_agent);
	err = add_routes(leg, m);
 out:
	if (err)
		osip_message_free(m);
	else
		*msgp = m;
	return err;
}

static void hup_reason(const struct sip_leg *leg, struct sip_reason *rsn)
{
	rsn->cause = leg->hup_cause;
	rsn->text = leg->hup_text[0] ? leg->hup_text : NULL;
	rsn->preemption = false; /* cause 8 says it */
}

static void leg_send_bye(struct sip_leg *leg, const struct sip_reason *rsn)
{
	osip_message_t *bye = NULL;
	struct sip_tr *tr;

	set_state(leg, LEG_TERMINATING);
	if (leg_request(&bye, leg, "BYE", ++leg->cseq))
		goto fail;
	sip_msg_set_reason(bye, rsn);
	if (leg_tr_new(&tr, leg, NICT, SIP_TR_BYE, bye,
		       (struct sockaddr *)&leg->peer, leg->peerlen)) {
		osip_message_free(bye);
		goto fail;
	}
	sip_tr_send(tr, bye);
	return;
 fail:
	gw_warn("leg %s: cannot send BYE", leg->call_id);
	leg_close(leg);
}

/* RFC 3261 9.1: a CANCEL copies the INVITE's Request-URI, top Via,
 * From, To, Call-ID and CSeq number. */
static void leg_send_cancel(struct sip_leg *leg)
{
	osip_message_t *inv, *m = NULL;
	osip_via_t *via = NULL;
	osip_uri_t *uri = NULL;
	struct sip_reason rsn = {0, NULL, false};
	struct sip_tr *tr;
	char buf[32];

	if (!leg->inv_tr || !leg->inv_tr->otr->orig_request)
		return;
	inv = leg->inv_tr->otr->orig_request;
	if (osip_message_init(&m))
		return;
	osip_message_set_method(m, osip_strdup("CANCEL"));
	osip_message_set_version(m, osip_strdup("SIP/2.0"));
	if (osip_uri_clone(inv->req_uri, &uri))
		goto fail;
	osip_message_set_uri(m, uri);
	if (osip_via_clone(osip_list_get(&inv->vias, 0), &via))
		goto fail;
	osip_list_add(&m->vias, via, -1);
	if (osip_from_clone(inv->from, &m->from) ||
	    osip_to_clone(inv->to, &m->to) ||
	    osip_call_id_clone(inv->call_id, &m->call_id))
		goto fail;
	snprintf(buf, sizeof(buf), "%u CANCEL", leg->inv_cseq);
	if (osip_message_set_cseq(m, buf))
		goto fail;
	osip_message_set_max_forwards(m, "70");
	osip_message_set_user_agent(m, leg->ua->user_agent);
	hup_reason(leg, &rsn);
	sip_msg_set_reason(m, &rsn);
	if (leg_tr_new(&tr, leg, NICT, SIP_TR_CANCEL, m,
		       (struct sockaddr *)&leg->peer, leg->peerlen))
		goto fail;
	sip_tr_send(tr, m);
	return;
 fail:
	gw_warn("leg %s: cannot send CANCEL", leg->call_id);
	osip_message_free(m);
}

/* ---- SDES (RFC 4568) -------------------------------------------------- */

/* Our a=crypto lines (if any) into the SDP sip_sdp_print wrote. */
static int add_crypto(struct sip_leg *leg, char *sdp, size_t size)
{
	if (!leg->ncrypto && !leg->crypto_savp)
		return 0;
	return sip_sdp_add_crypto(sdp, size, leg->crypto_savp, leg->crypto,
				  leg->ncrypto);
}

static int crypto_new(struct sip_crypto *c, int suite, unsigned tag)
{
	memset(c, 0, sizeof(*c));
	c->suite = suite;
	c->tag = tag;
	/* RFC 4568 6.1 / RFC 3711 8.2: master keys are random. */
	return tg_random(c->key, sip_srtp_key_len(suite));
}

/* Outbound: the offer's lines, one key per suite (RFC 4568 6.1). */
static int crypto_offer(struct sip_leg *leg, int mode)
{
	int err;

	leg->ncrypto = 0;
	leg->crypto_savp = mode == SIP_SRTP_OFFER_SAVP;
	leg->srtp_required = leg->crypto_savp;
	if (mode == SIP_SRTP_OFFER_NONE)
		return 0;
	err = crypto_new(&leg->crypto[0], SIP_SRTP_AES_CM_128_HMAC_SHA1_80, 1);
	if (!err)
		err = crypto_new(&leg->crypto[1],
				 SIP_SRTP_AES_CM_128_HMAC_SHA1_32, 2);
	if (!err)
		leg->ncrypto = 2;
	return err;
}

int sip_leg_set_srtp(struct sip_leg *leg, bool on)
{
	const struct sip_crypto *rc;
	int err;

	if (!leg || leg->outbound)
		return EINVAL;
	rc = &leg->remote_media.crypto;
	leg->ncrypto = 0;
	leg->crypto_savp = false;
	if (!on)
		return 0;
	if (!leg->have_remote || rc->suite == SIP_SRTP_NONE)
		return EINVAL;
	leg->crypto_savp = leg->remote_media.savp;
	/* RFC 4568 7.1.2: the answer has the tag and suite it accepts. */
	err = crypto_new(&leg->crypto[0], rc->suite, rc->tag);
	if (!err)
		leg->ncrypto = 1;
	return err;
}

/* Our line the far end's answer accepted, NULL none. */
static const struct sip_crypto *crypto_match(const struct sip_leg *leg)
{
	const struct sip_crypto *rc = &leg->remote_media.crypto;
	unsigned i;

	if (!leg->have_remote || rc->suite == SIP_SRTP_NONE)
		return NULL;
	for (i = 0; i < leg->ncrypto; i++)
		if (leg->crypto[i].tag == rc->tag &&
		    leg->crypto[i].suite == rc->suite)
			return &leg->crypto[i];
	return NULL;
}

int sip_leg_srtp(const struct sip_leg *leg, struct sip_crypto *tx,
		 struct sip_crypto *rx)
{
	const struct sip_crypto *ours;

	if (!leg || !tx || !rx)
		return EINVAL;
	ours = crypto_match(leg);
	if (!ours)
		return ENOENT;
	*tx = *ours;
	*rx = leg->remote_media.crypto;
	return 0;
}

/* Outbound: an answer SDP (@p m) we cannot take for SRTP reasons: a
 * crypto line for none of ours, SAVP without one, or plain RTP when we
 * offered RTP/SAVP.  NULL when it is fine. */
static const char *srtp_answer_bad(const struct sip_leg *leg,
				   const struct sip_media *m)
{
	unsigned i;

	if (m->crypto.suite != SIP_SRTP_NONE) {
		for (i = 0; i < leg->ncrypto; i++)
			if (leg->crypto[i].tag == m->crypto.tag &&
			    leg->crypto[i].suite == m->crypto.suite)
				return NULL;
		return "its a=crypto answers none of ours";
	}
	if (m->savp)
		return "RTP/SAVP without a usable a=crypto";
	if (leg->srtp_required)
		return "no SRTP (we offered RTP/SAVP)";
	return NULL;
}

/* A response on our inbound INVITE transaction. */
static int leg_respond(struct sip_leg *leg, int status, bool with_sdp,
		       const struct sip_reason *rsn)
{
	osip_message_t *resp = NULL;
	char sdp[1024];
	int err;

	if (!leg->inv_tr || !leg->inv_tr->otr->orig_request)
		return EPROTO;
	err = sip_msg_response(&resp, leg->inv_tr->otr->orig_request, status,
			       NULL, leg->local_tag, leg->ua);
	if (err)
		return err;
	/* RFC 3261 12.1.1: responses that make a dialog carry a Contact
	 * and the request's Record-Route. */
	if (status > 100 && status < 300) {
		set_contact(leg, resp);
		if (copy_record_routes(resp, leg->inv_tr->otr->orig_request)) {
			err = ENOMEM;
			goto out;
		}
	}
	if (status >= 200 && status < 300)
		osip_message_set_allow(resp, SIP_ALLOW);
	if (with_sdp) {
		err = local_sdp(leg, sdp, sizeof(sdp), &leg->codec, 1);
		if (!err)
			err = sip_msg_attach_sdp(resp, sdp);
		if (err)
			goto out;
	}
	if (status >= 300)
		sip_msg_set_reason(resp, rsn);
	if (status >= 200 && status < 300 && st_headers(leg, resp, false)) {
		err = ENOMEM;
		goto out;
	}
	if (status >= 200) {
		rel_stop(leg); /* a final response ends the wait for PRACK */
	} else if (status > 100 && leg->peer_100rel &&
		   ((with_sdp && !leg->rel_sent) || leg->peer_req_100rel)) {
		/* RFC 3262 3: the one with our answer is sent reliably (all
		 * of them when required), one at a time: a 1xx while one
		 * waits for its PRACK is left out. */
		if (leg->rel_pending)
			goto out;
		err = rel_prepare(leg, resp);
		if (err)
			goto out;
	}
	/* Connected line (RFC 3325): who answered. */
	if (status >= 200 && status < 300 && leg->answer_pai[0]) {
		char user[96], hp[96], buf[200];

		sip_uri_user_escape(user, sizeof(user), leg->answer_pai);
		sip_host_fmt(hp, sizeof(hp), leg->sig_addr, 0);
		snprintf(buf, sizeof(buf), "<sip:%s@%s>", user, hp);
		if (osip_message_set_header(resp, "P-Asserted-Identity", buf) ||
		    (leg->answer_privacy &&
		     osip_message_set_header(resp, "Privacy", "id"))) {
			err = ENOMEM;
			goto out;
		}
	}
	if (status >= 200 && status < 300) {
		char *buf = NULL;
		size_t len = 0;

		if (osip_message_to_str(resp, &buf, &len) || !buf) {
			err = ENOMEM;
			goto out;
		}
		free(leg->rtx);
		leg->rtx = strndup(buf, len);
		leg->rtx_len = len;
		osip_free(buf);
		if (!leg->rtx) {
			err = ENOMEM;
			goto out;
		}
	}
	sip_tr_send(leg->inv_tr, resp);
	resp = NULL;
 out:
	if (resp)
		osip_message_free(resp);
	return err;
}

static void learn_remote(struct sip_leg *leg, const osip_message_t *msg)
{
	const char *tag = sip_msg_to_tag(msg);
	osip_contact_t *c = NULL;
	osip_uri_t *uri = NULL;
	osip_from_t *to = NULL;

	if (tag && msg->to && !osip_to_clone(msg->to, &to)) {
		if (leg->remote)
			osip_from_free(leg->remote);
		leg->remote = to;
		free(leg->remote_tag);
		leg->remote_tag = strdup(tag);
		learn_routes(leg, msg, true);
	}
	osip_message_get_contact(msg, 0, &c);
	if (c && c->url && !osip_uri_clone(c->url, &uri)) {
		if (leg->target)
			osip_uri_free(leg->target);
		leg->target = uri;
	}
}

/* ---- inbound ------------------------------------------------------------ */

struct invite_strs {
	char from_user[128];
	char from_display[128];
	char call_id[SIP_CALLID_MAX];
	char to_user[128];
	char ruri_user[128];
	char diversion[64];
	char diversion_reason[32];
	char geo_ref[256];
	char pai_user[128];
	char from_tag[64];
};

static bool header_token(const osip_message_t *req, const char *name,
			 const char *tok);

/* The caller's number from the P-Asserted-Identity headers (msg.c). */
static void read_pai(const osip_message_t *req, char *out, size_t size)
{
	osip_header_t *h = NULL;
	bool have_number = false;

	out[0] = '\0';
	for (int i = 0; (i = osip_message_header_get_byname(
				 req, "p-asserted-identity", i, &h)) >= 0 && h;
	     i++)
		if (h->hvalue &&
		    sip_pai_decode(h->hvalue, out, size, &have_number) == 1)
			return;
}

/* Privacy (RFC 3323 4.2): id, user or header hide the caller; "none"
 * and session/critical alone do not. */
static bool read_privacy(const osip_message_t *req)
{
	return header_token(req, "privacy", "id") ||
	       header_token(req, "privacy", "user") ||
	       header_token(req, "privacy", "header");
}

/* Any value of header @p name that begins with @p prefix (a comma list
 * counts value by value), case-insensitively. */
static bool header_has(const osip_message_t *req, const char *name,
		       const char *prefix)
{
	osip_header_t *h = NULL;
	size_t plen = strlen(prefix);

	for (int i = 0;
	     (i = osip_message_header_get_byname(req, name, i, &h)) >= 0 && h;
	     i++) {
		const char *v = h->hvalue;

		while (v && *v) {
			v += strspn(v, " \t,");
			if (!strncasecmp(v, prefix, plen))
				return true;
			v = strchr(v, ',');
		}
	}
	return false;
}

/* Header @p name holds token @p tok, in a list separated by ';' (as
 * Privacy is) or ',', case-insensitively. */
static bool header_token(const osip_message_t *req, const char *name,
			 const char *tok)
{
	osip_header_t *h = NULL;
	size_t tl = strlen(tok);

	for (int i = 0;
	     (i = osip_message_header_get_byname(req, name, i, &h)) >= 0 && h;
	     i++) {
		const char *v = h->hvalue;

		while (v && *v) {
			size_t n;

			v += strspn(v, " \t;,");
			n = strcspn(v, " \t;,");
			if (n == tl && !strncasecmp(v, tok, tl))
				return true;
			v += n;
		}
	}
	return false;
}

static void unquote(char *out, size_t size, const char *in)
{
	size_t n = 0, len;

	if (!in) {
		out[0] = '\0';
		return;
	}
	len = strlen(in);
	if (len >= 2 && in[0] == '"' && in[len - 1] == '"') {
		in++;
		len -= 2;
	}
	for (; len && n + 1 < size; in++, len--) {
		if (*in == '\\' && len > 1) {
			in++;
			len--;
		}
		out[n++] = *in;
	}
	out[n] = '\0';
}

static void fill_info(struct sip_invite_info *info, struct invite_strs *s,
		      const osip_message_t *req, const struct sockaddr *src,
		      socklen_t srclen)
{
	int err;

	memset(info, 0, sizeof(*info));
	info->auth_user = "";
	tg_strlcpy(s->from_user, req->from->url && req->from->url->username ?
		   req->from->url->username : "", sizeof(s->from_user));
	unquote(s->from_display, sizeof(s->from_display),
		req->from->displayname);
	tg_strlcpy(s->to_user, req->to->url && req->to->url->username ?
		   req->to->url->username : "", sizeof(s->to_user));
	tg_strlcpy(s->ruri_user, req->req_uri && req->req_uri->username ?
		   req->req_uri->username : "", sizeof(s->ruri_user));
	/* urn:service:sos (RFC 5031) has no user: the URN is the number. */
	if (req->req_uri && req->req_uri->scheme &&
	    !strcasecmp(req->req_uri->scheme, "urn") && req->req_uri->string)
		snprintf(s->ruri_user, sizeof(s->ruri_user), "urn:%s",
			 req->req_uri->string);
	info->priority_emergency = header_has(req, "priority", "emergency");
	if (sip_msg_pidf(req, &info->pidf, &info->pidf_len))
		info->pidf = NULL;
	if (sip_msg_geolocation(req, s->geo_ref, sizeof(s->geo_ref)) ==
	    EBADMSG)
		gw_info("INVITE: Geolocation header unreadable; ignored");
	info->geo_ref = s->geo_ref;
	info->esnet = header_has(req, "resource-priority", "esnet.");
	read_pai(req, s->pai_user, sizeof(s->pai_user));
	info->pai_user = s->pai_user;
	info->privacy = read_privacy(req);
	/* No P-Asserted-Identity: a Remote-Party-ID says the same (and the
	 * gateway believes it as little, from untrusted trunks). */
	if (!*s->pai_user) {
		bool rpriv = false;

		if (!sip_msg_rpid(req, s->pai_user, sizeof(s->pai_user),
				  &rpriv))
			info->privacy = info->privacy || rpriv;
	}
	info->anonymous = !strcasecmp(s->from_user, "anonymous") ||
			  (req->from->url && req->from->url->host &&
			   !strcasecmp(req->from->url->host,
				       "anonymous.invalid"));
	info->call_id = sip_msg_call_id(req, s->call_id, sizeof(s->call_id));
	tg_strlcpy(s->from_tag, sip_msg_from_tag(req) ? sip_msg_from_tag(req)
						       : "",
		   sizeof(s->from_tag));
	info->from_tag = s->from_tag;
	info->cseq = req->cseq && req->cseq->number
		? (uint32_t)strtoul(req->cseq->number, NULL, 10) : 0;
	info->from_user = s->from_user;
	info->from_display = s->from_display;
	info->to_user = s->to_user;
	info->ruri_user = s->ruri_user;
	info->req = req;
	{
		osip_header_t *mf = NULL;

		osip_message_get_max_forwards(req, 0, &mf);
		info->max_forwards = mf && mf->hvalue ?
			(unsigned)strtoul(mf->hvalue, NULL, 10) : 70;
	}
	err = sip_msg_diversion(req, s->diversion, sizeof(s->diversion),
				s->diversion_reason,
				sizeof(s->diversion_reason),
				&info->diversion_privacy);
	if (err == EBADMSG)
		gw_info("INVITE %s: Diversion header unreadable; ignored",
			info->call_id);
	/* No Diversion: the same from History-Info (RFC 7044), whose
	 * Privacy: history hides every entry. */
	if (err == ENOENT) {
		err = sip_msg_history_info(req, s->diversion,
					   sizeof(s->diversion),
					   s->diversion_reason,
					   sizeof(s->diversion_reason),
					   &info->diversion_privacy);
		if (err == EBADMSG)
			gw_info("INVITE %s: History-Info unreadable; ignored",
				info->call_id);
		if (!err && header_token(req, "privacy", "history"))
			info->diversion_privacy = true;
	}
	info->diversion = s->diversion;
	info->diversion_reason = s->diversion_reason;
	memcpy(&info->src, src, srclen);
	info->src_len = srclen;
}

static int leg_init_inbound(struct sip_leg *leg, const osip_message_t *req,
			    const struct sockaddr *src, socklen_t srclen)
{
	const char *ftag = sip_msg_from_tag(req);
	osip_contact_t *c = NULL;

	char cid[SIP_CALLID_MAX];

	leg->call_id = strdup(sip_msg_call_id(req, cid, sizeof(cid)));
	leg->remote_tag = strdup(ftag ? ftag : "");
	if (!leg->call_id || !leg->remote_tag)
		return ENOMEM;
	leg->inv_cseq = (uint32_t)strtoul(req->cseq->number, NULL, 10);
	if (osip_to_clone(req->to, &leg->local) ||
	    osip_from_clone(req->from, &leg->remote))
		return ENOMEM;
	osip_to_set_tag(leg->local, osip_strdup(leg->local_tag));
	osip_message_get_contact(req, 0, &c);
	if (osip_uri_clone(c && c->url ? c->url : req->from->url,
			   &leg->target))
		return EBADMSG;
	memcpy(&leg->peer, src, srclen);
	leg->peerlen = srclen;
	sip_ua_local_addr(leg->ua, src, srclen, leg->sig_addr,
			  sizeof(leg->sig_addr));
	learn_routes(leg, req, false);
	/* RFC 3261 12.1.1: a dialog made by a sips: Request-URI gets a
	 * sips: Contact (only over TLS: a sips: URI over anything else is
	 * a lie we do not repeat). */
	leg->stream = *sip_ua_contact_param(leg->ua, src) != '\0';
	leg->sips = req->req_uri && req->req_uri->scheme &&
		    !osip_strcasecmp(req->req_uri->scheme, "sips") &&
		    !strcmp(sip_ua_contact_param(leg->ua, src),
			    ";transport=tls");
	leg->peer_req_100rel = header_token(req, "require", "100rel");
	leg->peer_100rel = leg->peer_req_100rel ||
			   header_token(req, "supported", "100rel");
	if (req->req_uri && req->req_uri->username)
		sip_uri_user_escape(leg->contact_user,
				    sizeof(leg->contact_user),
				    req->req_uri->username);
	return 0;
}

static void rejected(struct sip_ua *ua, osip_event_t *evt,
		     const struct sockaddr *src, socklen_t srclen, int status,
		     const char *why)
{
	struct sip_invite_info info;
	struct invite_strs s;

	fill_info(&info, &s, evt->sip, src, srclen);
	gw_info("INVITE %s rejected with %d: %s", info.call_id, status, why);
	if (ua->rejected)
		ua->rejected(&info, status, ua->arg);
	sip_ua_reply_new(ua, evt, src, srclen, status, NULL, false);
}

void sip_leg_rx_invite(struct sip_ua *ua, osip_event_t *evt,
		       const struct sockaddr *src, socklen_t srclen)
{
	osip_message_t *req = evt->sip, *trying = NULL;
	struct sip_invite_info info;
	struct invite_strs s;
	struct sip_media offer;
	struct sockaddr_storage dst;
	socklen_t dstlen;
	struct sip_leg *leg;
	struct sip_tr *tr;
	const char *body;
	size_t blen;
	int err;

	/* Our 2xx ended the server transaction, so a retransmitted INVITE
	 * lands here; RFC 3261 13.3.1.4 has the core resend the 2xx. */
	char cid[SIP_CALLID_MAX], auth_user[128];
	int codecs[SIP_MAX_CODECS];
	unsigned ncodecs, ptime;

	leg = find_inbound(ua, sip_msg_call_id(req, cid, sizeof(cid)),
			   sip_msg_from_tag(req),
			   (uint32_t)strtoul(req->cseq->number, NULL, 10));
	if (leg && (leg->state == LEG_IN_PROCEEDING ||
		    leg->state == LEG_IN_EARLY)) {
		/* RFC 3261 8.2.2.2: its transaction is alive, so this is
		 * not a retransmission but the same request by another
		 * path (a fork that came back): a loop. */
		gw_notice("INVITE %s: merged request (another branch of one "
			  "we have): 482", cid);
		sip_ua_reply_new(ua, evt, src, srclen, 482, "Loop Detected",
				 false);
		return;
	}
	if (leg) {
		if (leg->state == LEG_IN_ANSWERED && leg->rtx)
			sip_ua_send_buf(ua, (struct sockaddr *)&leg->peer,
					leg->peerlen, leg->rtx, leg->rtx_len);
		osip_event_free(evt);
		return;
	}
	err = sip_ua_admit(ua, evt, src, srclen, "INVITE", auth_user,
			   sizeof(auth_user));
	if (err < 0)
		return; /* challenged */
	if (err) {
		rejected(ua, evt, src, srclen, err, "not authorized");
		return;
	}
	if (sip_msg_sdp(req, &body, &blen)) {
		rejected(ua, evt, src, srclen, 488, "no SDP offer");
		return;
	}
	memset(&offer, 0, sizeof(offer));
	ncodecs = ua->ncodecs;
	ptime = ua->ptime;
	memcpy(codecs, ua->codecs, sizeof(codecs));
	if (ua->media_prefs) {
		fill_info(&info, &s, req, src, srclen);
		info.auth_user = auth_user;
		ua->media_prefs(&info, codecs, &ncodecs, &ptime, ua->arg);
	}
	err = sip_sdp_negotiate(&offer, body, blen, codecs, ncodecs);
	if (err) {
		/* RFC 3261 13.3.1.1 / RFC 3264 6: no acceptable media. */
		rejected(ua, evt, src, srclen, 488,
			 err == ENOENT ? "no codec in common" : "bad SDP");
		return;
	}
	leg = leg_alloc(ua, false);
	if (!leg) {
		sip_ua_reply_new(ua, evt, src, srclen, 500, NULL, false);
		return;
	}
	leg->state = LEG_IN_PROCEEDING;
	leg_set_codecs(leg, codecs, ncodecs, ptime);
	err = leg_init_inbound(leg, req, src, srclen);
	if (!err)
		err = sip_msg_response(&trying, req, 100, NULL, NULL, ua);
	if (!err) {
		sip_resp_dest(&dst, &dstlen, req, src, srclen);
		err = leg_tr_new(&tr, leg, IST, SIP_TR_INVITE, req,
				 (struct sockaddr *)&dst, dstlen);
	}
	if (err) {
		if (trying)
			osip_message_free(trying);
		tr_detach_all(leg);
		leg->ua = NULL;
		obj_deref(leg);
		sip_ua_reply_new(ua, evt, src, srclen,
				 err == EBADMSG ? 400 : 500, NULL, false);
		return;
	}
	leg->inv_tr = tr;
	leg->remote_media = offer;
	leg->have_remote = true;
	leg->codec = offer.pt;
	sip_hash_add(&ua->legs, &leg->hn, leg->call_id, leg);
	leg->in_hash = true;
	/* Copy what the handler sees: the request dies with its transaction,
	 * which an answer from inside the handler may end. */
	fill_info(&info, &s, req, src, srclen);
	info.transport = sip_tp_of(ua->tp, src);
	info.call_id = leg->call_id;
	info.offer = &leg->remote_media;
	info.auth_user = auth_user;
	sip_tr_post(tr, evt);
	/* RFC 3261 17.2.1: a 100 at once stops the caller's INVITE
	 * retransmissions while the PSTN side takes its time. */
	sip_tr_send(tr, trying);
	sip_ua_run(ua);
	if (ua->invite)
		ua->invite(obj_ref(leg), &info, ua->arg);
	else
		sip_leg_hangup(leg, 503, NULL);
}

int sip_invite_header(const struct sip_invite_info *info, const char *name,
		      char *out, size_t size)
{
	osip_header_t *h = NULL;

	out[0] = '\0';
	if (!info->req ||
	    osip_message_header_get_byname(info->req, name, 0, &h) < 0 ||
	    !h || !h->hvalue)
		return ENOENT;
	tg_strlcpy(out, h->hvalue, size);
	return 0;
}

void sip_leg_rx_ack(struct sip_ua *ua, osip_message_t *ack)
{
	struct sip_leg *leg;
	struct sip_reason rsn = {0, NULL, false};

	char cid[SIP_CALLID_MAX];

	leg = find_leg(ua, sip_msg_call_id(ack, cid, sizeof(cid)),
		       sip_msg_to_tag(ack),
		       sip_msg_from_tag(ack));
	if (leg && leg->re_srv && ack->cseq && ack->cseq->number &&
	    strtoul(ack->cseq->number, NULL, 10) == leg->re_srv_cseq) {
		re_ack(leg, ack);
		return;
	}
	if (!leg || leg->outbound || leg->state != LEG_IN_ANSWERED)
		return;
	timer_stop(leg);
	free(leg->rtx);
	leg->rtx = NULL;
	set_state(leg, LEG_CONFIRMED);
	if (leg->bye_pending) {
		/* RFC 3261 15: the callee's BYE waits for the ACK. */
		hup_reason(leg, &rsn);
		leg_send_bye(leg, &rsn);
		return;
	}
	leg_queue(leg, SIP_LEG_ANSWERED, 200, NULL, &leg->remote_media);
}

void sip_leg_rx_cancel(struct sip_ua *ua, osip_event_t *evt,
		       const struct sockaddr *src, socklen_t srclen)
{
	struct sip_tr *ist = sip_tr_find_server(ua, evt->sip, "INVITE");
	struct sip_leg *leg = ist ? ist->leg : NULL;
	struct sip_reason rsn = {0, NULL, false};
	char text[96];

	sip_msg_get_reason(evt->sip, &rsn, text, sizeof(text));
	/* RFC 3261 9.2: 200 for a CANCEL that matches, 481 otherwise. */
	sip_ua_reply_new(ua, evt, src, srclen, ist ? 200 : 481, NULL, false);
	if (!leg || !leg->ua || (leg->state != LEG_IN_PROCEEDING &&
				 leg->state != LEG_IN_EARLY))
		return;
	if (leg_respond(leg, 487, false, NULL))
		return;
	set_state(leg, LEG_IN_REJECTED);
	leg_queue(leg, SIP_LEG_CANCELLED, 487, &rsn, NULL);
}

static void rx_bye(struct sip_leg *leg, osip_event_t *evt,
		   const struct sockaddr *src, socklen_t srclen)
{
	struct sip_ua *ua = leg->ua;
	struct sip_reason rsn = {0, NULL, false};
	char text[96];

	sip_msg_get_reason(evt->sip, &rsn, text, sizeof(text));
	sip_ua_reply_new(ua, evt, src, srclen, 200, NULL, false);
	switch (leg->state) {
	case LEG_IN_PROCEEDING:
	case LEG_IN_EARLY:
		/* RFC 3261 15.1.2: BYE on an early dialog ends the INVITE. */
		leg_respond(leg, 487, false, NULL);
		break;
	case LEG_IN_ANSWERED:
	case LEG_CONFIRMED:
	case LEG_TERMINATING:
		break;
	default:
		return;
	}
	leg_queue(leg, SIP_LEG_BYE, 0, &rsn, NULL);
	leg_close(leg);
}

/* RFC 6086 INFO: DTMF as application/dtmf-relay is passed on; any
 * other package is not ours to take (469 Bad Info Package). */
static void rx_info(struct sip_leg *leg, osip_event_t *evt,
		    const struct sockaddr *src, socklen_t srclen)
{
	osip_message_t *req = evt->sip;
	osip_content_type_t *ct = osip_message_get_content_type(req);
	osip_body_t *body = NULL;
	struct sip_pev *pe;
	unsigned ms;
	char digit;

	if (!ct || !ct->type || !ct->subtype ||
	    strcasecmp(ct->type, "application") ||
	    strcasecmp(ct->subtype, "dtmf-relay")) {
		/* An empty INFO is a keep-alive some peers send. */
		sip_ua_reply_new(leg->ua, evt, src, srclen,
				 ct ? 415 : 200, NULL, false);
		return;
	}
	osip_message_get_body(req, 0, &body);
	if (!body || !body->body ||
	    sip_dtmf_relay_decode(body->body, body->length, &digit, &ms)) {
		sip_ua_reply_new(leg->ua, evt, src, srclen, 400, NULL, false);
		return;
	}
	sip_ua_reply_new(leg->ua, evt, src, srclen, 200, NULL, false);
	if ((leg->state != LEG_CONFIRMED && leg->state != LEG_IN_ANSWERED) ||
	    leg->hungup)
		return;
	pe = calloc(1, sizeof(*pe));
	if (!pe)
		return;
	pe->leg = obj_ref(leg);
	pe->gen = leg->hup_gen;
	pe->ev.type = SIP_LEG_DTMF;
	pe->ev.digit = digit;
	pe->ev.duration_ms = ms;
	evq_push(leg->ua, pe);
}

int sip_leg_send_dtmf(struct sip_leg *leg, char digit, unsigned duration_ms)
{
	osip_message_t *m = NULL;
	struct sip_tr *tr;
	char body[48];
	int err;

	if (!leg || !leg->ua || leg->state != LEG_CONFIRMED || leg->hungup)
		return ENOTCONN;
	if (!digit || !strchr("0123456789*#ABCD", digit))
		return EINVAL;
	snprintf(body, sizeof(body), "Signal=%c\r\nDuration=%u\r\n", digit,
		 duration_ms);
	err = leg_request(&m, leg, "INFO", ++leg->cseq);
	if (err)
		return err;
	if (osip_message_set_body(m, body, strlen(body)) ||
	    osip_message_set_content_type(m, "application/dtmf-relay")) {
		osip_message_free(m);
		return ENOMEM;
	}
	err = leg_tr_new(&tr, leg, NICT, SIP_TR_OTHER, m,
			 (struct sockaddr *)&leg->peer, leg->peerlen);
	if (err) {
		osip_message_free(m);
		return err;
	}
	sip_tr_send(tr, m);
	sip_ua_run(leg->ua);
	return 0;
}

/* RFC 3515: a blind transfer.  We take one at a time, on an answered
 * dialog, to a number; the 202 and the first NOTIFY (100 Trying, RFC
 * 3515 2.4.4) go at once, and the gateway reports the new call's
 * progress with sip_leg_refer_notify. */
static void rx_refer(struct sip_leg *leg, osip_event_t *evt,
		     const struct sockaddr *src, socklen_t srclen)
{
	struct sip_ua *ua = leg->ua;
	osip_cseq_t *cs = osip_message_get_cseq(evt->sip);
	struct sip_pev *pe;
	char num[sizeof(pe->refer)];
	int err;

	if ((leg->state != LEG_CONFIRMED && leg->state != LEG_IN_ANSWERED) ||
	    leg->hungup) {
		sip_ua_reply_new(ua, evt, src, srclen, 403,
				 "Transfer Needs An Answered Call", false);
		return;
	}
	if (!leg->refer_ok) {
		sip_ua_reply_new(ua, evt, src, srclen, 403,
				 "Transfers Not Allowed On This Trunk", false);
		return;
	}
	if (leg->refer_active) {
		sip_ua_reply_new(ua, evt, src, srclen, 491,
				 "A Transfer Is Already Under Way", false);
		return;
	}
	err = sip_msg_refer_to(evt->sip, num, sizeof(num));
	if (err) {
		const char *why =
			err == ENOENT ? "Missing Refer-To" :
			err == E2BIG ? "One Refer-To Number Only" :
			err == ENOTSUP ? "Refer-To Must Be A Number (No Replaces)" :
			err == EPROTONOSUPPORT ? "Refer-To Scheme Not Supported" :
			"Bad Refer-To";

		gw_notice("leg %s: REFER refused: %s", leg->call_id, why);
		sip_ua_reply_new(ua, evt, src, srclen,
				 err == EPROTONOSUPPORT ? 416 :
				 err == ENOTSUP ? 501 : 400, why, false);
		return;
	}
	pe = calloc(1, sizeof(*pe));
	if (!pe) {
		sip_ua_reply_new(ua, evt, src, srclen, 500, NULL, false);
		return;
	}
	/* (The reply takes the request with it.) */
	leg->refer_cseq = cs && cs->number ? (uint32_t)strtoul(cs->number,
							       NULL, 10) : 0;
	sip_ua_reply_new(ua, evt, src, srclen, 202, NULL, false);
	leg->refer_active = true;
	sip_leg_refer_notify(leg, 100, "Trying");
	pe->leg = obj_ref(leg);
	pe->gen = leg->hup_gen;
	pe->ev.type = SIP_LEG_REFER;
	tg_strlcpy(pe->refer, num, sizeof(pe->refer));
	pe->ev.refer_to = pe->refer;
	evq_push(ua, pe);
}

void sip_leg_allow_refer(struct sip_leg *leg, bool on)
{
	leg->refer_ok = on;
}

static int notify_send(struct sip_leg *leg, int status, const char *phrase)
{
	osip_message_t *m = NULL;
	struct sip_tr *tr;
	char buf[96];
	bool final = status >= 200;
	int err;

	err = leg_request(&m, leg, "NOTIFY", ++leg->cseq);
	if (err)
		return err;
	set_contact(leg, m);
	snprintf(buf, sizeof(buf), "refer;id=%u", leg->refer_cseq);
	osip_message_set_header(m, "Event", buf);
	/* RFC 3515 2.4.7: the subscription ends with the final result. */
	osip_message_set_header(m, "Subscription-State",
				final ? "terminated;reason=noresource"
				      : "active;expires=60");
	snprintf(buf, sizeof(buf), "SIP/2.0 %d %s\r\n", status,
		 phrase && *phrase ? phrase : "Unknown");
	if (osip_message_set_body(m, buf, strlen(buf)) ||
	    osip_message_set_content_type(m, "message/sipfrag;version=2.0")) {
		osip_message_free(m);
		return ENOMEM;
	}
	err = leg_tr_new(&tr, leg, NICT, SIP_TR_NOTIFY, m,
			 (struct sockaddr *)&leg->peer, leg->peerlen);
	if (err) {
		osip_message_free(m);
		return err;
	}
	leg->notify_tr = tr;
	sip_tr_send(tr, m);
	sip_ua_run(leg->ua);
	return 0;
}

int sip_leg_refer_notify(struct sip_leg *leg, int status, const char *phrase)
{
	if (!leg || !leg->ua || !leg->refer_active || leg->hungup ||
	    (leg->state != LEG_CONFIRMED && leg->state != LEG_IN_ANSWERED))
		return ENOTCONN;
	if (status >= 200)
		leg->refer_active = false;
	if (!leg->notify_tr)
		return notify_send(leg, status, phrase);
	/* Only the latest provisional matters; a final one stays. */
	if (leg->notify_next < 200) {
		leg->notify_next = status;
		tg_strlcpy(leg->notify_next_phrase, phrase ? phrase : "",
			   sizeof(leg->notify_next_phrase));
	}
	return 0;
}

/* The running NOTIFY is done (a final, a timeout): the next may go. */
static void notify_done(struct sip_leg *leg, struct sip_tr *tr)
{
	int status = leg->notify_next;

	if (leg->notify_tr != tr)
		return;
	leg->notify_tr = NULL;
	leg->notify_next = 0;
	if (status && leg->ua && !leg->hungup &&
	    (leg->state == LEG_CONFIRMED || leg->state == LEG_IN_ANSWERED))
		notify_send(leg, status, leg->notify_next_phrase);
}

void sip_leg_rx_indialog(struct sip_ua *ua, osip_event_t *evt,
			 const struct sockaddr *src, socklen_t srclen)
{
	osip_message_t *req = evt->sip;
	struct sip_leg *leg;

	char cid[SIP_CALLID_MAX];

	leg = find_leg(ua, sip_msg_call_id(req, cid, sizeof(cid)),
		       sip_msg_to_tag(req),
		       sip_msg_from_tag(req));
	if (!leg) {
		/* RFC 3261 12.2.2: no such dialog. */
		sip_ua_reply_new(ua, evt, src, srclen, 481, NULL, false);
	} else if (MSG_IS_BYE(req)) {
		rx_bye(leg, evt, src, srclen);
	} else if (MSG_IS_INVITE(req) || MSG_IS_UPDATE(req)) {
		rx_modify(leg, evt, src, srclen);
	} else if (MSG_IS_PRACK(req)) {
		rx_prack(leg, evt, src, srclen);
	} else if (MSG_IS_OPTIONS(req)) {
		sip_ua_reply_new(ua, evt, src, srclen, 200, NULL, true);
	} else if (MSG_IS_INFO(req)) {
		rx_info(leg, evt, src, srclen);
	} else if (MSG_IS_REFER(req)) {
		rx_refer(leg, evt, src, srclen);
	} else {
		sip_ua_reply_new(ua, evt, src, srclen, 405, NULL, true);
	}
}

static void rtx_arm(struct sip_leg *leg, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_add(leg->tmr, &tv);
}

/* RFC 3261 13.3.1.4: resend the 2xx from T1 doubling to T2 until the
 * ACK; after 64*T1 confirm and end the session with a BYE. */
static void on_rtx(evutil_socket_t fd, short what, void *arg)
{
	struct sip_leg *leg = arg;
	int64_t spent = tg_mono_ms() - leg->rtx_start;
	struct sip_reason rsn = {0, NULL, false};

	if (!leg->ua || leg->state != LEG_IN_ANSWERED)
		return;
	if (spent >= 64 * SIP_T1) {
		gw_warn("leg %s: no ACK for our 2xx, sending BYE",
			leg->call_id);
		free(leg->rtx);
		leg->rtx = NULL;
		hup_reason(leg, &rsn);
		leg_send_bye(leg, &rsn);
		sip_ua_run(leg->ua);
		return;
	}
	sip_ua_send_buf(leg->ua, (struct sockaddr *)&leg->peer, leg->peerlen,
			leg->rtx, leg->rtx_len);
	leg->rtx_ms = leg->rtx_ms * 2 > SIP_T2 ? SIP_T2 : leg->rtx_ms * 2;
	if ((int64_t)leg->rtx_ms > 64 * SIP_T1 - spent)
		rtx_arm(leg, (unsigned)(64 * SIP_T1 - spent));
	else
		rtx_arm(leg, leg->rtx_ms);
}

/* ---- outbound ----------------------------------------------------------- */

static void out_final(struct sip_leg *leg, int status,
		      const osip_message_t *msg)
{
	struct sip_reason rsn = {0, NULL, false};
	char text[96];

	if (msg)
		sip_msg_get_reason(msg, &rsn, text, sizeof(text));
	leg_queue(leg, SIP_LEG_FAILED, status, &rsn, NULL);
	leg_close(leg);
}

static void out_1xx(struct sip_leg *leg, osip_message_t *msg)
{
	struct sip_media m;
	const char *body;
	size_t len;
	bool media = false, dup;

	leg->got_1xx = true;
	if (leg->cancel_pending) {
		/* RFC 3261 9.1: the CANCEL waited for a provisional. */
		leg->cancel_pending = false;
		leg_send_cancel(leg);
	}
	if (msg->status_code == 100) {
		leg_queue(leg, SIP_LEG_TRYING, 100, NULL, NULL);
		return;
	}
	learn_remote(leg, msg);
	if (leg->state == LEG_OUT_CALLING)
		set_state(leg, LEG_OUT_EARLY);
	out_prack(leg, msg, &dup);
	if (dup)
		return; /* a reliable one again: PRACKed and reported */
	memset(&m, 0, sizeof(m));
	if (!sip_msg_sdp(msg, &body, &len) &&
	    !sip_sdp_negotiate(&m, body, len, leg->codecs,
			       leg->ncodecs) &&
	    !srtp_answer_bad(leg, &m)) {
		leg->remote_media = m;
		leg->have_remote = true;
		leg->codec = m.pt;
		media = true;
	}
	leg_queue(leg, SIP_LEG_PROGRESS, msg->status_code, NULL,
		  media ? &m : NULL);
}

static int send_ack(struct sip_leg *leg, uint32_t cseq)
{
	osip_message_t *ack = NULL;
	char *buf = NULL;
	size_t len = 0;
	int err;

	/* RFC 3261 13.2.2.4: the ACK for a 2xx is its own transaction,
	 * to the remote target, with the INVITE's CSeq number. */
	err = leg_request(&ack, leg, "ACK", cseq);
	if (err)
		return err;
	if (osip_message_to_str(ack, &buf, &len) || !buf) {
		osip_message_free(ack);
		return ENOMEM;
	}
	osip_message_free(ack);
	free(leg->ack);
	leg->ack = strndup(buf, len);
	leg->ack_len = len;
	osip_free(buf);
	if (!leg->ack)
		return ENOMEM;
	return sip_ua_send_buf(leg->ua, (struct sockaddr *)&leg->peer,
			       leg->peerlen, leg->ack, leg->ack_len);
}

static void out_2xx(struct sip_leg *leg, osip_message_t *msg)
{
	struct sip_reason rsn = {0, NULL, false};
	struct sip_media m;
	const char *body;
	size_t len;
	int err = ENOENT;

	learn_remote(leg, msg);
	leg->cancel_pending = false;
	if (send_ack(leg, leg->inv_cseq))
		gw_warn("leg %s: cannot send ACK", leg->call_id);
	if (leg->hungup) {
		/* Our CANCEL crossed the 2xx: end the call (RFC 3261 9.1). */
		hup_reason(leg, &rsn);
		leg_send_bye(leg, &rsn);
		return;
	}
	memset(&m, 0, sizeof(m));
	if (!sip_msg_sdp(msg, &body, &len))
		err = sip_sdp_negotiate(&m, body, len, leg->codecs,
					leg->ncodecs);
	else if (leg->have_remote) {
		/* The answer came in an early 183 (RFC 3264 4 / 6). */
		m = leg->remote_media;
		err = 0;
	}
	if (err) {
		gw_info("leg %s: answer has no codec of ours", leg->call_id);
		leg_queue(leg, SIP_LEG_FAILED, 488, NULL, NULL);
		leg_send_bye(leg, NULL);
		return;
	}
	if (srtp_answer_bad(leg, &m)) {
		gw_notice("leg %s: answer refused: %s", leg->call_id,
			  srtp_answer_bad(leg, &m));
		leg_queue(leg, SIP_LEG_FAILED, 488, NULL, NULL);
		leg_send_bye(leg, NULL);
		return;
	}
	leg->remote_media = m;
	leg->have_remote = true;
	leg->codec = m.pt;
	set_state(leg, LEG_CONFIRMED);
	st_from_2xx(leg, msg, true);
	read_pai(msg, leg->answer_pai_in, sizeof(leg->answer_pai_in));
	leg_queue(leg, SIP_LEG_ANSWERED, msg->status_code, NULL, &m);
}

/* Resend the INVITE with credentials for the 401/407 @p resp (RFC 3261
 * 22.2): a new transaction, CSeq one up, the same Call-ID and From tag.
 * The old transaction has ACKed the challenge itself. */
/*
 * Send @p inv, a changed copy of our INVITE, as a new INVITE transaction:
 * a fresh branch and the next CSeq (RFC 3261 8.1.3.5, 14.1), after a
 * challenge or a 422.  The old transaction's end is then no failure.
 * Takes @p inv, sent or not.
 */
static int invite_again(struct sip_leg *leg, osip_message_t *inv)
{
	osip_generic_param_t *br = NULL;
	osip_via_t *via = osip_list_get(&inv->vias, 0);
	struct sip_tr *tr;
	char branch[32], num[16];
	int err;

	if (!via || osip_via_param_get_byname(via, "branch", &br) < 0 || !br ||
	    !inv->cseq) {
		osip_message_free(inv);
		return EBADMSG;
	}
	memcpy(branch, "z9hG4bK", 7);
	sip_rand_hex(branch + 7, 8);
	osip_free(br->gvalue);
	br->gvalue = osip_strdup(branch);
	leg->inv_cseq = ++leg->cseq;
	snprintf(num, sizeof(num), "%u", leg->inv_cseq);
	osip_free(inv->cseq->number);
	inv->cseq->number = osip_strdup(num);
	osip_message_force_update(inv);
	if (leg->inv_tr)
		leg->inv_tr->kind = SIP_TR_OTHER;
	err = leg_tr_new(&tr, leg, ICT, SIP_TR_INVITE, inv,
			 (struct sockaddr *)&leg->peer, leg->peerlen);
	if (err) {
		osip_message_free(inv);
		return err;
	}
	leg->inv_tr = tr;
	leg->got_1xx = false; /* a CANCEL waits for the new INVITE's */
	sip_tr_send(tr, inv);
	return 0;
}

static int auth_retry(struct sip_leg *leg, const osip_message_t *resp)
{
	osip_message_t *inv = NULL;
	int err;

	if (!leg->auth_user || !leg->inv_copy || leg->hungup ||
	    (leg->state != LEG_OUT_CALLING && leg->state != LEG_OUT_EARLY) ||
	    leg->auth_tries >= 3)
		return EACCES;
	if (osip_message_clone(leg->inv_copy, &inv))
		return ENOMEM;
	err = sip_auth_add(leg->ua, resp, inv, leg->auth_user, leg->auth_pass,
			   leg->auth_realm, leg->auth_nonce,
			   sizeof(leg->auth_nonce));
	if (err) {
		osip_message_free(inv);
		return err;
	}
	err = invite_again(leg, inv);
	if (err)
		return err;
	gw_info("leg %s: %d, INVITE resent with credentials (CSeq %u)",
		leg->call_id, resp->status_code, leg->inv_cseq);
	leg->auth_tries++;
	/* The challenge says the next hop is there, as a 100 would. */
	leg_queue(leg, SIP_LEG_TRYING, resp->status_code, NULL, NULL);
	return 0;
}

/* The same for our BYE. */
static int bye_auth_retry(struct sip_leg *leg, const osip_message_t *resp)
{
	osip_message_t *bye = NULL;
	struct sip_reason rsn;
	struct sip_tr *tr;

	if (!leg->auth_user || leg->auth_tries >= 6 ||
	    leg_request(&bye, leg, "BYE", ++leg->cseq))
		return EACCES;
	hup_reason(leg, &rsn);
	sip_msg_set_reason(bye, &rsn);
	if (sip_auth_add(leg->ua, resp, bye, leg->auth_user, leg->auth_pass,
			 leg->auth_realm, leg->bye_nonce,
			 sizeof(leg->bye_nonce)) ||
	    leg_tr_new(&tr, leg, NICT, SIP_TR_BYE, bye,
		       (struct sockaddr *)&leg->peer, leg->peerlen)) {
		osip_message_free(bye);
		return EACCES;
	}
	leg->auth_tries++;
	sip_tr_send(tr, bye);
	return 0;
}

static bool is_challenge(const osip_message_t *msg)
{
	return msg && (msg->status_code == 401 || msg->status_code == 407);
}

static void ict_msg(struct sip_leg *leg, int type, osip_message_t *msg)
{
	switch (type) {
	case OSIP_ICT_STATUS_1XX_RECEIVED:
		out_1xx(leg, msg);
		break;
	case OSIP_ICT_STATUS_2XX_RECEIVED:
		out_2xx(leg, msg);
		break;
	case OSIP_ICT_STATUS_TIMEOUT:
		/* Timer B (RFC 3261 17.1.1.2) maps to 408. */
		out_final(leg, 408, NULL);
		break;
	case OSIP_ICT_STATUS_4XX_RECEIVED:
		if (is_challenge(msg) && !auth_retry(leg, msg))
			break;
		if (msg && msg->status_code == 422 && !se_retry(leg, msg))
			break;
		/* fall through */
	case OSIP_ICT_STATUS_3XX_RECEIVED:
	case OSIP_ICT_STATUS_5XX_RECEIVED:
	case OSIP_ICT_STATUS_6XX_RECEIVED:
		/* osip has ACKed it (RFC 3261 17.1.1.3). */
		out_final(leg, msg ? msg->status_code : 500, msg);
		break;
	default:
		break;
	}
}

void sip_leg_tr_msg(struct sip_tr *tr, int type, osip_message_t *msg)
{
	struct sip_leg *leg = tr->leg;

	if (!leg->ua || leg->state == LEG_CLOSED)
		return;
	switch (tr->kind) {
	case SIP_TR_INVITE:
		if (leg->outbound)
			ict_msg(leg, type, msg);
		else if (type == OSIP_IST_ACK_RECEIVED &&
			 leg->state == LEG_IN_REJECTED)
			leg_close(leg);
		break;
	case SIP_TR_REINVITE:
		if (tr == leg->re_ctr)
			re_final(leg, type, msg);
		break;
	case SIP_TR_NOTIFY:
		if (!msg || msg->status_code >= 200)
			notify_done(leg, tr);
		break;
	case SIP_TR_BYE:
		/* Any final response or Timer F ends our BYE, but
		 * a challenge we can answer. */
		if (leg->state == LEG_TERMINATING && is_challenge(msg) &&
		    tr->kind == SIP_TR_BYE && !bye_auth_retry(leg, msg)) {
			tr->kind = SIP_TR_OTHER;
			break;
		}
		if (leg->state == LEG_TERMINATING &&
		    (type == OSIP_NICT_STATUS_TIMEOUT ||
		     (msg && msg->status_code >= 200)))
			leg_close(leg);
		break;
	default:
		break;
	}
}

void sip_leg_tr_killed(struct sip_tr *tr)
{
	struct sip_leg *leg = tr->leg;
	struct sip_tr **pp;

	for (pp = &leg->trs; *pp; pp = &(*pp)->lnext) {
		if (*pp == tr) {
			*pp = tr->lnext;
			break;
		}
	}
	if (leg->inv_tr == tr)
		leg->inv_tr = NULL;
	if (leg->re_ctr == tr) {
		/* Ended without a final: a timeout (unless the leg is gone). */
		if (leg->ua && leg->state != LEG_CLOSED)
			re_final(leg, OSIP_NICT_STATUS_TIMEOUT, NULL);
		leg->re_ctr = NULL;
	}
	if (!leg->ua || leg->state == LEG_CLOSED) {
		if (leg->notify_tr == tr)
			leg->notify_tr = NULL;
		return;
	}
	notify_done(leg, tr);
	switch (tr->kind) {
	case SIP_TR_INVITE:
		if (leg->outbound) {
			/* Ended without a final answer: a transport error
			 * (a failed send, ICMP unreachable), 503 by RFC 3261
			 * 8.1.3.1, and no response from the peer at all. */
			if (leg->state == LEG_OUT_CALLING ||
			    leg->state == LEG_OUT_EARLY ||
			    leg->state == LEG_OUT_CANCELLING) {
				leg->unreachable = !leg->got_1xx;
				out_final(leg, 503, NULL);
			}
		} else if (leg->state != LEG_IN_ANSWERED &&
			   leg->state != LEG_CONFIRMED &&
			   leg->state != LEG_TERMINATING) {
			/* Timer H, or the transport failed before a final. */
			leg_close(leg);
		}
		break;
	case SIP_TR_BYE:
		if (leg->state == LEG_TERMINATING)
			leg_close(leg);
		break;
	default:
		break;
	}
}

void sip_leg_rx_stray_2xx(struct sip_ua *ua, const osip_message_t *resp)
{
	struct sip_leg *leg;

	if (!resp->call_id || !resp->call_id->number)
		return;
	char cid[SIP_CALLID_MAX];

	leg = find_leg(ua, sip_msg_call_id(resp, cid, sizeof(cid)),
		       sip_msg_from_tag(resp),
		       sip_msg_to_tag(resp));
	if (leg && leg->outbound && leg->ack) {
		sip_ua_send_buf(ua, (struct sockaddr *)&leg->peer,
				leg->peerlen, leg->ack, leg->ack_len);
		return;
	}
	/* Our dialog with another tag: a 2xx from another fork. */
	leg = find_leg(ua, cid, sip_msg_from_tag(resp), NULL);
	if (leg && leg->outbound && sip_msg_to_tag(resp) && leg->remote_tag &&
	    resp->cseq && resp->cseq->number &&
	    strtoul(resp->cseq->number, NULL, 10) == leg->inv_cseq &&
	    (leg->state == LEG_CONFIRMED || leg->state == LEG_TERMINATING))
		fork_drop(leg, resp);
}

/* ---- public API ------------------------------------------------------- */

void sip_leg_set_handler(struct sip_leg *leg, sip_leg_event_h *h, void *arg)
{
	leg->h = h;
	leg->arg = arg;
}

void sip_leg_set_local_media(struct sip_leg *leg, const char *addr,
			     uint16_t port)
{
	tg_strlcpy(leg->media_addr, addr ? addr : "", sizeof(leg->media_addr));
	leg->media_port = port;
}

const char *sip_leg_call_id(const struct sip_leg *leg)
{
	return leg->call_id;
}

const char *sip_leg_local_tag(const struct sip_leg *leg)
{
	return leg->local_tag;
}

uint32_t sip_leg_invite_cseq(const struct sip_leg *leg)
{
	return leg->inv_cseq;
}

void sip_leg_set_dtmf_events(struct sip_leg *leg, bool on)
{
	/* RFC 3264 6.1 / RFC 4733 2.4: the answer takes the offer's
	 * payload type, and only when the offer had telephone-event. */
	if (!leg->outbound)
		leg->te_local = on && leg->have_remote ?
				leg->remote_media.te_pt : -1;
}

int sip_leg_dtmf_pt(const struct sip_leg *leg)
{
	return leg->te_local;
}

void sip_leg_set_t38(struct sip_leg *leg, const struct sip_t38 *ours)
{
	if (!leg)
		return;
	leg->t38_allowed = ours != NULL;
	if (ours)
		leg->t38_ours = *ours;
}

bool sip_leg_t38(const struct sip_leg *leg)
{
	return leg && leg->t38;
}

int sip_leg_offer_t38(struct sip_leg *leg)
{
	char sdp[1024];
	int err;

	if (!leg || !leg->t38_allowed)
		return EINVAL;
	if (!leg->ua || leg->state != LEG_CONFIRMED || leg->hungup)
		return ENOTCONN;
	if (leg->t38 || leg->t38_offering)
		return EALREADY;
	if (leg->re_ctr || leg->re_srv)
		return EBUSY;
	/* A new offer: a new version (RFC 3264 8). */
	leg->sdp_ver++;
	err = local_t38_sdp(leg, sdp, sizeof(sdp), &leg->t38_ours);
	if (err)
		return err;
	leg->t38_offering = true;
	err = send_refresh(leg);
	if (err || !leg->re_ctr) {
		leg->t38_offering = false;
		leg->sdp_ver++;
		local_sdp(leg, sdp, sizeof(sdp), &leg->codec, 1);
		return err ? err : EBUSY;
	}
	gw_info("leg %s: T.38 offered", leg->call_id);
	sip_ua_run(leg->ua);
	return 0;
}

int sip_leg_codec(const struct sip_leg *leg)
{
	return leg->codec;
}

int sip_leg_reply(struct sip_leg *leg, int status, bool with_sdp,
		  const struct sip_reason *reason)
{
	int err;

	if (!leg || status <= 100 || status > 699)
		return EINVAL;
	if (status < 300 && status >= 200)
		return sip_leg_answer(leg);
	if (!leg->ua || leg->outbound || (leg->state != LEG_IN_PROCEEDING &&
					  leg->state != LEG_IN_EARLY))
		return EPROTO;
	if (with_sdp && (!leg->media_addr[0] || !leg->media_port))
		return EINVAL;
	if (status >= 300)
		return sip_leg_hangup(leg, status, reason);
	err = leg_respond(leg, status, with_sdp, NULL);
	if (!err)
		set_state(leg, LEG_IN_EARLY);
	sip_ua_run(leg->ua);
	return err;
}

void sip_leg_set_answer_identity(struct sip_leg *leg, const char *user,
				 bool privacy)
{
	tg_strlcpy(leg->answer_pai, user ? user : "", sizeof(leg->answer_pai));
	leg->answer_privacy = privacy;
}

int sip_leg_answer(struct sip_leg *leg)
{
	int err;

	if (!leg)
		return EINVAL;
	if (!leg->ua || leg->outbound || (leg->state != LEG_IN_PROCEEDING &&
					  leg->state != LEG_IN_EARLY))
		return EPROTO;
	if (!leg->media_addr[0] || !leg->media_port)
		return EINVAL;
	if (!leg->tmr) {
		leg->tmr = evtimer_new(leg->ua->base, on_rtx, leg);
		if (!leg->tmr)
			return ENOMEM;
	}
	err = leg_respond(leg, 200, true, NULL);
	if (err)
		return err;
	set_state(leg, LEG_IN_ANSWERED);
	st_arm(leg);
	leg->rtx_start = tg_mono_ms();
	leg->rtx_ms = SIP_T1;
	rtx_arm(leg, SIP_T1);
	sip_ua_run(leg->ua);
	return 0;
}

static void quote_display(char *out, size_t size, const char *in)
{
	size_t n = 0;

	if (!in || !*in) {
		out[0] = '\0';
		return;
	}
	out[n++] = '"';
	for (; *in && n + 4 < size; in++) {
		if ((unsigned char)*in < 0x20)
			continue;
		if (*in == '"' || *in == '\\')
			out[n++] = '\\';
		out[n++] = *in;
	}
	out[n++] = '"';
	out[n++] = ' ';
	out[n] = '\0';
}

static int leg_init_outbound(struct sip_leg *leg, const struct sockaddr *dst,
			     socklen_t dstlen, const char *from_user,
			     const char *from_display, const char *to_user,
			     const char *to_uri, bool anonymous)
{
	char host[64], hp[96], fu[96], tu[96], disp[160], buf[512];
	char uuid[37];
	uint16_t port;

	memcpy(&leg->peer, dst, dstlen);
	leg->peerlen = dstlen;
	sip_ua_local_addr(leg->ua, dst, dstlen, leg->sig_addr,
			  sizeof(leg->sig_addr));
	tg_uuid(uuid);
	leg->call_id = strdup(uuid);
	if (!leg->call_id)
		return ENOMEM;
	sip_uri_user_escape(fu, sizeof(fu), from_user ? from_user : "");
	sip_uri_user_escape(tu, sizeof(tu), to_user ? to_user : "");
	quote_display(disp, sizeof(disp), from_display);
	sip_addr_str(dst, host, sizeof(host), &port);

	sip_host_fmt(hp, sizeof(hp), leg->sig_addr, 0);
	/* RFC 3323 4.1.1.3: who the caller is goes in no From (and no
	 * Contact) at all. */
	if (anonymous) {
		strcpy(disp, "\"Anonymous\" ");
		strcpy(fu, "anonymous");
		strcpy(hp, "anonymous.invalid");
	}
	tg_strlcpy(leg->contact_user, fu, sizeof(leg->contact_user));
	snprintf(buf, sizeof(buf), "%s<sip:%s%s%s>;tag=%s", disp, fu,
		 fu[0] ? "@" : "", hp, leg->local_tag);
	if (osip_from_init(&leg->local) || osip_from_parse(leg->local, buf))
		return EINVAL;
	if (to_uri) {
		/* The URI as given (ENUM): it names the callee, the
		 * address it was resolved to only carries the request. */
		snprintf(buf, sizeof(buf), "<%s>", to_uri);
		if (osip_from_init(&leg->remote) ||
		    osip_from_parse(leg->remote, buf) ||
		    osip_uri_init(&leg->target) ||
		    osip_uri_parse(leg->target, to_uri))
			return EINVAL;
		return 0;
	}
	sip_host_fmt(hp, sizeof(hp), host, 0);
	snprintf(buf, sizeof(buf), "<sip:%s@%s>", tu, hp);
	if (osip_from_init(&leg->remote) || osip_from_parse(leg->remote, buf))
		return EINVAL;
	sip_host_fmt(hp, sizeof(hp), host, port);
	snprintf(buf, sizeof(buf), "sip:%s@%s", tu, hp);
	if (osip_uri_init(&leg->target) || osip_uri_parse(leg->target, buf))
		return EINVAL;
	return 0;
}

/* RFC 5806: who diverted the call to the number we call, and why. */
/* RFC 7044: the same as History-Info, for trunks that want it: the
 * diverting number's entry, then the target's with the RFC 4458 cause
 * (and, for a private one, Privacy=history on the diverter's entry). */
static int add_history_info(struct sip_leg *leg, osip_message_t *inv,
			    const char *number, const char *reason,
			    bool privacy)
{
	char user[96], hp[96], buf[512];
	char *ruri = NULL;

	sip_uri_user_escape(user, sizeof(user), number);
	sip_host_fmt(hp, sizeof(hp), leg->sig_addr, 0);
	if (osip_uri_to_str(leg->target, &ruri))
		return ENOMEM;
	snprintf(buf, sizeof(buf), "<sip:%s@%s%s>;index=1, <%s;cause=%d>;"
		 "index=1.1", user, hp, privacy ? "?Privacy=history" : "",
		 ruri, sip_hi_cause(reason));
	osip_free(ruri);
	return osip_message_set_header(inv, "History-Info", buf) ? ENOMEM : 0;
}

static int add_diversion(struct sip_leg *leg, osip_message_t *inv,
			 const char *number, const char *reason, bool privacy)
{
	char user[96], hp[96], buf[320];

	sip_uri_user_escape(user, sizeof(user), number);
	sip_host_fmt(hp, sizeof(hp), leg->sig_addr, 0);
	snprintf(buf, sizeof(buf), "<sip:%s@%s>;reason=%s;counter=1%s", user,
		 hp, reason && *reason ? reason : "unknown",
		 privacy ? ";privacy=full" : "");
	return osip_message_set_header(inv, "Diversion", buf) ? ENOMEM : 0;
}

/* RFC 6442 and RFC 3325 headers of an emergency INVITE; @p cid gets the
 * PIDF-LO's Content-ID ("" when there is none to send). */
/* RFC 3261 8.1.2: an outbound proxy.  The request keeps its
 * Request-URI, goes to the proxy with a loose Route to it (preloaded,
 * until the dialog's Record-Route replaces it), and so does every later
 * request of the dialog. */
void sip_loose_route(const struct sip_ua *ua, const struct sockaddr *proxy,
		     char *buf, size_t size)
{
	char host[64], hp[96];
	uint16_t port;

	sip_addr_str(proxy, host, sizeof(host), &port);
	sip_host_fmt(hp, sizeof(hp), host, port);
	/* Over TCP or TLS the Route names the transport (RFC 3261 19.1.1),
	 * so that the proxy knows it for its own. */
	snprintf(buf, size, "<sip:%s%s;lr>", hp,
		 sip_ua_contact_param(ua, proxy));
}

static int via_proxy(struct sip_leg *leg, const struct sockaddr *proxy,
		     socklen_t len)
{
	char buf[128];
	osip_route_t *r = NULL;

	memcpy(&leg->peer, proxy, len);
	leg->peerlen = len;
	sip_ua_local_addr(leg->ua, proxy, len, leg->sig_addr,
			  sizeof(leg->sig_addr));
	sip_loose_route(leg->ua, proxy, buf, sizeof(buf));
	if (osip_route_init(&r) || osip_route_parse(r, buf)) {
		osip_route_free(r);
		return EINVAL;
	}
	osip_list_add(&leg->rset, r, -1);
	return 0;
}

/* Remote-Party-ID for trunks that want it instead of P-Asserted-
 * Identity: who calls, whether we vouch for it (screen) and whether it is
 * to be shown (privacy). */
static int add_rpid(struct sip_leg *leg, osip_message_t *inv,
		    const struct sip_call_params *p)
{
	char user[96], hp[96], buf[256];

	sip_host_fmt(hp, sizeof(hp), leg->sig_addr, 0);
	sip_uri_user_escape(user, sizeof(user), p->rpid_user);
	snprintf(buf, sizeof(buf),
		 "<sip:%s@%s>;party=calling;screen=%s;privacy=%s", user, hp,
		 p->rpid_screen ? "yes" : "no", p->privacy ? "full" : "off");
	return osip_message_set_header(inv, "Remote-Party-ID", buf) ? ENOMEM
								    : 0;
}

static int add_emergency(struct sip_leg *leg, osip_message_t *inv,
			 const struct sip_call_params *p, char *cid,
			 size_t cidsize)
{
	char user[96], hp[96], buf[320];

	cid[0] = '\0';
	sip_host_fmt(hp, sizeof(hp), leg->sig_addr, 0);
	if (p->emergency && osip_message_set_header(inv, "Priority",
						    "emergency"))
		return ENOMEM;
	if (p->pai_user && *p->pai_user && p->pai_form != SIP_PAI_NONE) {
		const char *d = p->pai_user + (p->pai_user[0] == '+');
		bool number = *d && strspn(d, "0123456789") == strlen(d);

		sip_uri_user_escape(user, sizeof(user), p->pai_user);
		/* One URI, as E911 providers want it; user=phone (RFC 3261
		 * 19.1.1) only on a telephone number (Bandwidth refuses it
		 * on an endpoint id). */
		if (p->pai_form == SIP_PAI_TEL && number)
			snprintf(buf, sizeof(buf), "<tel:%s>", p->pai_user);
		else if (p->pai_form == SIP_PAI_SIP_PHONE && number)
			snprintf(buf, sizeof(buf), "<sip:%s@%s;user=phone>",
				 user, hp);
		else
			snprintf(buf, sizeof(buf), "<sip:%s@%s>", user, hp);
		if (osip_message_set_header(inv, "P-Asserted-Identity", buf))
			return ENOMEM;
	}
	if (p->geo_uri && *p->geo_uri) {
		/* Location by reference (RFC 6442 4.1): no body.  A URI that
		 * cannot be sent is left out: bad location data never keeps
		 * an emergency call from going out. */
		if (strpbrk(p->geo_uri, "<>\" \r\n\t") ||
		    strlen(p->geo_uri) + 3 > sizeof(buf)) {
			gw_warn("%s: location reference '%.60s' cannot go in a "
				"Geolocation header; sent without it",
				leg->call_id, p->geo_uri);
			return 0;
		}
		snprintf(buf, sizeof(buf), "<%s>", p->geo_uri);
		if (osip_message_set_header(inv, "Geolocation", buf) ||
		    osip_message_set_header(inv, "Geolocation-Routing",
					    "yes"))
			return ENOMEM;
		return 0;
	}
	if (!p->pidf || !*p->pidf)
		return 0;
	snprintf(cid, cidsize, "%s@%s", p->pidf_id && *p->pidf_id
					       ? p->pidf_id : "loc", hp);
	snprintf(buf, sizeof(buf), "<cid:%s>", cid);
	if (osip_message_set_header(inv, "Geolocation", buf) ||
	    osip_message_set_header(inv, "Geolocation-Routing", "yes") ||
	    osip_message_set_header(inv, "Supported", "geolocation"))
		return ENOMEM;
	return 0;
}

/* What a challenge to this leg's INVITE or BYE needs (auth_retry). */
static bool keep_credentials(struct sip_leg *leg,
			     const struct sip_call_params *p,
			     const osip_message_t *inv)
{
	leg->auth_user = strdup(p->auth_user);
	leg->auth_pass = strdup(p->auth_password ? p->auth_password : "");
	leg->auth_realm = strdup(p->auth_realm ? p->auth_realm : "");
	if (!leg->auth_user || !leg->auth_pass || !leg->auth_realm ||
	    osip_message_clone(inv, &leg->inv_copy)) {
		leg->inv_copy = NULL;
		free(leg->auth_user);
		leg->auth_user = NULL;
		return false;
	}
	return true;
}

int sip_leg_invite(struct sip_leg **legp, struct sip_ua *ua,
		   const struct sockaddr *dst, socklen_t dstlen,
		   const struct sip_call_params *p, sip_leg_event_h *h,
		   void *arg)
{
	osip_message_t *inv = NULL;
	struct sip_leg *leg;
	struct sip_tr *tr;
	char sdp[1024], cid[160] = "";
	int err;

	if (!legp || !ua || !dst || dstlen > sizeof(struct sockaddr_storage) ||
	    !p || (!p->to_uri && (!p->to_user || !*p->to_user)) ||
	    !p->media_addr || !p->media_port)
		return EINVAL;
	if (p->to_uri) {
		char host[256];
		uint16_t port;

		err = sip_uri_target(p->to_uri, host, sizeof(host), &port,
				     NULL);
		if (err)
			return err;
	}
	if (ua->fd < 0)
		return ENOTCONN;
	leg = leg_alloc(ua, true);
	if (!leg)
		return ENOMEM;
	/* RFC 3578 2: the dialog identifiers of the INVITE it continues. */
	if (p->from_tag && *p->from_tag)
		tg_strlcpy(leg->local_tag, p->from_tag, sizeof(leg->local_tag));
	if (p->cseq)
		leg->cseq = p->cseq;
	leg->state = LEG_OUT_CALLING;
	leg->h = h;
	leg->arg = arg;
	if (p->ncodecs || p->ptime)
		leg_set_codecs(leg, p->codecs, p->ncodecs, p->ptime);
	sip_leg_set_local_media(leg, p->media_addr, p->media_port);
	if (p->dtmf_events)
		leg->te_local = SIP_TE_PT;
	err = crypto_offer(leg, p->srtp);
	if (!err)
		err = leg_init_outbound(leg, dst, dstlen, p->from_user,
					p->from_display, p->to_user,
					p->to_uri,
					p->privacy && !p->emergency);
	if (!err && p->proxy && p->proxy_len &&
	    p->proxy_len <= sizeof(leg->peer))
		err = via_proxy(leg, p->proxy, p->proxy_len);
	if (!err && p->call_id && *p->call_id) {
		free(leg->call_id);
		leg->call_id = strdup(p->call_id);
		if (!leg->call_id)
			err = ENOMEM;
	}
	if (err)
		goto out;
	leg->inv_cseq = leg->cseq;
	err = leg_request(&inv, leg, "INVITE", leg->inv_cseq);
	if (err)
		goto out;
	set_contact(leg, inv);
	osip_message_set_allow(inv, SIP_ALLOW);
	if (p->max_forwards) {
		char mf[12];

		snprintf(mf, sizeof(mf), "%u", p->max_forwards - 1);
		if (hdr_replace(inv, "Max-Forwards", mf))
			err = ENOMEM;
	}
	/* RFC 3262: reliable provisionals are welcome (we PRACK them). */
	if (osip_message_set_header(inv, "Supported", "100rel"))
		err = ENOMEM;
	if (!err && p->diversion && *p->diversion)
		err = (p->history_info ? add_history_info : add_diversion)(
			leg, inv, p->diversion, p->diversion_reason,
			p->diversion_privacy);
	if (!err)
		err = add_emergency(leg, inv, p, cid, sizeof(cid));
	/* RFC 3325 9.3: the asserted identity goes with Privacy: id. */
	if (!err && p->privacy && !p->emergency &&
	    osip_message_set_header(inv, "Privacy", "id"))
		err = ENOMEM;
	if (!err && p->rpid_user && *p->rpid_user)
		err = add_rpid(leg, inv, p);
	if (err)
		goto out;
	if (p->session_expires) {
		leg->se_cfg = p->session_expires;
		leg->min_se = p->min_se;
		leg->st_interval = p->session_expires;
		err = st_headers(leg, inv, true) ? ENOMEM : 0;
		leg->st_interval = 0; /* until the 2xx says */
	}
	if (!err)
		err = local_sdp(leg, sdp, sizeof(sdp), leg->codecs,
				leg->ncodecs);
	if (!err && *cid)
		err = sip_msg_attach_sdp_pidf(inv, sdp, p->pidf, cid);
	else if (!err)
		err = sip_msg_attach_sdp(inv, sdp);
	if (!err)
		err = leg_tr_new(&tr, leg, ICT, SIP_TR_INVITE, inv,
				 (struct sockaddr *)&leg->peer, leg->peerlen);
	if (err)
		goto out;
	leg->inv_tr = tr;
	sip_hash_add(&ua->legs, &leg->hn, leg->call_id, leg);
	leg->in_hash = true;
	if (p->auth_user && *p->auth_user && !keep_credentials(leg, p, inv))
		gw_warn("leg %s: no memory for its credentials", leg->call_id);
	sip_tr_send(tr, inv);
	inv = NULL;
	sip_ua_run(ua);
	*legp = obj_ref(leg);
 out:
	if (inv)
		osip_message_free(inv);
	if (err) {
		leg->ua = NULL;
		obj_deref(leg);
	}
	return err;
}

int sip_leg_hangup(struct sip_leg *leg, int status,
		   const struct sip_reason *reason)
{
	struct sip_reason rsn = {0, NULL, false};

	if (!leg)
		return EINVAL;
	if (leg->hungup || !leg->ua || leg->state == LEG_CLOSED)
		return 0;
	leg->hungup = true;
	leg->hup_gen++;
	if (reason && reason->cause > 0) {
		leg->hup_cause = reason->cause;
		tg_strlcpy(leg->hup_text, reason->text ? reason->text : "",
			   sizeof(leg->hup_text));
	}
	hup_reason(leg, &rsn);
	switch (leg->state) {
	case LEG_IN_PROCEEDING:
	case LEG_IN_EARLY:
		if (status < 300 || status > 699)
			status = 480;
		if (!leg_respond(leg, status, false, &rsn))
			set_state(leg, LEG_IN_REJECTED);
		else
			leg_close(leg);
		break;
	case LEG_IN_ANSWERED:
		leg->bye_pending = true;
		break;
	case LEG_OUT_CALLING:
		if (!leg->got_1xx) {
			set_state(leg, LEG_OUT_CANCELLING);
			leg->cancel_pending = true;
			break;
		}
		/* A 100 came, so a CANCEL may go now. */
		__attribute__((fallthrough));
	case LEG_OUT_EARLY:
		set_state(leg, LEG_OUT_CANCELLING);
		leg_send_cancel(leg);
		break;
	case LEG_CONFIRMED:
		leg_send_bye(leg, &rsn);
		break;
	default:
		break;
	}
	sip_ua_run(leg->ua);
	return 0;
}

void sip_leg_abandon(struct sip_leg *leg, int status,
		     const struct sip_reason *reason)
{
	if (!leg)
		return;
	leg->h = NULL;
	leg->arg = NULL;
	sip_leg_hangup(leg, status, reason);
	/* Closed and told already (or the UA is gone): nothing to wait for. */
	if (leg->state == LEG_CLOSED && !leg->closed_pending)
		obj_deref(leg);
	else
		leg->abandoned = true;
}

/* A MESSAGE outside any dialog (RFC 3428): a leg of its own lends it the
 * headers, and the transaction's reference keeps that leg until the
 * transaction is over; nothing waits for the answer. */
int sip_ua_message(struct sip_ua *ua, const struct sockaddr *dst,
		   socklen_t dstlen, const char *from_user, const char *to_user,
		   const char *text)
{
	osip_message_t *m = NULL;
	struct sip_leg *leg;
	struct sip_tr *tr;
	int err;

	if (!ua || !dst || dstlen > sizeof(struct sockaddr_storage) ||
	    !to_user || !*to_user || !text)
		return EINVAL;
	if (ua->fd < 0)
		return ENOTCONN;
	leg = leg_alloc(ua, true);
	if (!leg)
		return ENOMEM;
	err = leg_init_outbound(leg, dst, dstlen, from_user, NULL, to_user,
				NULL, false);
	if (!err)
		err = leg_request(&m, leg, "MESSAGE", leg->cseq);
	if (!err && (osip_message_set_body(m, text, strlen(text)) ||
		     osip_message_set_content_type(m, "text/plain")))
		err = ENOMEM;
	if (!err)
		err = leg_tr_new(&tr, leg, NICT, SIP_TR_OTHER, m,
				 (struct sockaddr *)&leg->peer, leg->peerlen);
	if (!err) {
		sip_tr_send(tr, m);
		m = NULL;
		sip_ua_run(ua);
	}
	if (m)
		osip_message_free(m);
	if (err)
		leg->ua = NULL;
	obj_deref(leg);
	return err;
}

/* ---- session changes: re-INVITE, UPDATE (RFC 3311), timers (RFC 4028) -- */

/*
 * Our SDP: @p codecs offered (or the one answered), our a=crypto lines,
 * at the session's version and direction.  Every SDP of ours is made
 * here; the last one is kept for a refresh's offer.
 */
static int local_sdp(struct sip_leg *leg, char *buf, size_t size,
		     const int *codecs, unsigned n)
{
	/* Behind NAT a peer outside our nets is told the public address
	 * (c= and o=); its RTP reaches us through the NAT's mapping. */
	const char *addr = sip_nat_addr(&leg->ua->nat.cfg,
					(struct sockaddr *)&leg->peer,
					leg->media_addr, true);
	int err;

	err = sip_sdp_print(buf, size, addr, leg->media_port, codecs, n,
			    leg->te_local, leg->ptime, leg->sess_id);
	if (!err)
		err = add_crypto(leg, buf, size);
	if (!err && (leg->sdp_ver != leg->sess_id ||
		     leg->ldir != SIP_DIR_SENDRECV))
		err = sip_sdp_amend(buf, size, leg->sdp_ver, leg->ldir);
	if (!err) {
		free(leg->lsdp);
		leg->lsdp = strdup(buf);
	}
	return err;
}

/* Our T.38 SDP (offer, or answer @p t with our own sizes), at the
 * session's version; kept for a refresh's offer like local_sdp's. */
static int local_t38_sdp(struct sip_leg *leg, char *buf, size_t size,
			 const struct sip_t38 *t)
{
	struct sip_t38 our = *t;
	int err;

	/* T.38 D.2.3: the sizes say what the side that sends them can
	 * receive. */
	our.max_buffer = leg->t38_ours.max_buffer;
	our.max_datagram = leg->t38_ours.max_datagram;
	leg->ldir = SIP_DIR_SENDRECV;
	err = sip_sdp_t38_print(buf, size, leg->media_addr, leg->media_port,
				&our, leg->sess_id);
	if (!err && leg->sdp_ver != leg->sess_id)
		err = sip_sdp_amend(buf, size, leg->sdp_ver, SIP_DIR_SENDRECV);
	if (!err) {
		free(leg->lsdp);
		leg->lsdp = strdup(buf);
	}
	return err;
}

/* RFC 3264 6.1: the answer's direction to an offer's. */
static enum sip_dir answer_dir(enum sip_dir offer)
{
	switch (offer) {
	case SIP_DIR_SENDONLY: return SIP_DIR_RECVONLY;
	case SIP_DIR_RECVONLY: return SIP_DIR_SENDONLY;
	case SIP_DIR_INACTIVE: return SIP_DIR_INACTIVE;
	default: return SIP_DIR_SENDRECV;
	}
}

/* Session-Expires: delta-seconds [;refresher=uac|uas] (RFC 4028 4).
 * @p refresher: 0 not given, 1 uac, 2 uas.  false when absent or
 * unreadable. */
static bool read_se(const osip_message_t *m, unsigned *se, int *refresher)
{
	osip_header_t *h = NULL;
	const char *v, *r;
	char *end;
	unsigned long n;

	*refresher = 0;
	if (osip_message_header_get_byname(m, "session-expires", 0, &h) < 0 ||
	    !h || !h->hvalue)
		return false;
	v = h->hvalue + strspn(h->hvalue, " \t");
	n = strtoul(v, &end, 10);
	if (end == v || n == 0 || n > 86400)
		return false;
	*se = (unsigned)n;
	r = strcasestr(end, "refresher=");
	if (r) {
		r += strlen("refresher=");
		if (!strncasecmp(r, "uac", 3))
			*refresher = 1;
		else if (!strncasecmp(r, "uas", 3))
			*refresher = 2;
	}
	return true;
}

static unsigned read_min_se(const osip_message_t *m)
{
	osip_header_t *h = NULL;

	if (osip_message_header_get_byname(m, "min-se", 0, &h) < 0 || !h ||
	    !h->hvalue)
		return 0;
	return (unsigned)strtoul(h->hvalue, NULL, 10);
}

/* Allow names UPDATE (libosip2 keeps Allow values in a list of its own,
 * one method each). */
static bool allows_update(const osip_message_t *m)
{
	osip_allow_t *a;

	for (int i = 0; (a = osip_list_get(&m->allows, i)); i++)
		if (a->value && !strcasecmp(a->value, "UPDATE"))
			return true;
	return header_has(m, "allow", "UPDATE");
}

/* What the peer's request or response says it can do. */
static void read_caps(struct sip_leg *leg, const osip_message_t *m)
{
	leg->peer_update = allows_update(m);
	leg->peer_timer = header_token(m, "supported", "timer") ||
			  header_token(m, "require", "timer");
}

/*
 * Our session timer headers.  A request (@p req) asks for st_interval
 * with us as its refresher (RFC 4028 7.1); a 2xx states the interval and
 * who refreshes, with Require: timer when the peer supports it (9).
 */
static int st_headers(struct sip_leg *leg, osip_message_t *msg, bool req)
{
	char buf[64];

	if (!leg->st_interval && !leg->se_cfg)
		return 0;
	if (osip_message_set_header(msg, "Supported", "timer"))
		return ENOMEM;
	if (!leg->st_interval)
		return 0;
	if (req)
		snprintf(buf, sizeof(buf), "%u", leg->st_interval);
	else
		snprintf(buf, sizeof(buf), "%u;refresher=%s",
			 leg->st_interval, leg->st_refresh ? "uas" : "uac");
	if (osip_message_set_header(msg, "Session-Expires", buf))
		return ENOMEM;
	if (req && leg->min_se) {
		snprintf(buf, sizeof(buf), "%u", leg->min_se);
		if (osip_message_set_header(msg, "Min-SE", buf))
			return ENOMEM;
	}
	if (!req && leg->peer_timer &&
	    osip_message_set_header(msg, "Require", "timer"))
		return ENOMEM;
	return 0;
}

/* The same for a refresh we send: refresher=uac, i.e. us. */
static int st_request_headers(struct sip_leg *leg, osip_message_t *msg)
{
	char buf[64];

	if (st_headers(leg, msg, true))
		return ENOMEM;
	snprintf(buf, sizeof(buf), "%u;refresher=uac", leg->st_interval);
	return hdr_replace(msg, "session-expires", buf);
}

/*
 * A request of theirs that refreshes or sets up the session (RFC 4028
 * 9): the interval it asks for (never under Min-SE or ours) and who
 * refreshes: whom it names, else the requester when it supports timers,
 * else us.  Without a Session-Expires our own interval applies, and we
 * refresh.
 */
static void st_from_request(struct sip_leg *leg, const osip_message_t *req,
			    bool have, unsigned se, int refresher)
{
	unsigned interval, rmin = read_min_se(req);

	if (!have && !leg->se_cfg && !leg->st_interval)
		return;
	interval = have ? se : leg->st_interval ? leg->st_interval
						: leg->se_cfg;
	if (have && leg->se_cfg && leg->se_cfg < interval)
		interval = leg->se_cfg; /* 9: a UAS may lower it */
	if (interval < rmin)
		interval = rmin;
	if (interval < leg->min_se)
		interval = leg->min_se;
	leg->st_interval = interval;
	if (have && refresher)
		leg->st_refresh = refresher == 2;
	else
		leg->st_refresh = !(have && leg->peer_timer);
}

/* The 2xx to our INVITE, re-INVITE or UPDATE: the interval and the
 * refresher it states (RFC 4028 7.2: none, no session timer). */
static void st_from_2xx(struct sip_leg *leg, const osip_message_t *msg,
			bool initial)
{
	unsigned se = 0;
	int refresher;

	if (initial)
		read_caps(leg, msg);
	if (!leg->se_cfg && !leg->st_interval)
		return;
	if (!read_se(msg, &se, &refresher)) {
		if (initial)
			leg->st_interval = 0;
		else
			st_arm(leg); /* a 2xx refreshes all the same */
		return;
	}
	leg->st_interval = se;
	/* We sent the request: uac is us (a missing one too). */
	leg->st_refresh = refresher != 2;
	st_arm(leg);
}

static void st_expired(struct sip_leg *leg);
static int send_refresh(struct sip_leg *leg);

/* RFC 4028 10: the refresher sends its refresh at half the interval
 * and gives up when the interval is over without a 2xx to it; the other
 * side ends the session when no refresh came by the interval less a
 * third of it (at most 32 s). */
static unsigned st_deadline_ms(const struct sip_leg *leg)
{
	unsigned i = leg->st_interval, slack = i / 3 < 32 ? i / 3 : 32;

	return (leg->st_refresh ? i : i - slack) * 1000u;
}

static void st_timer_arm(struct sip_leg *leg, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_add(leg->st_tmr, &tv);
}

static void on_st(evutil_socket_t fd, short what, void *arg)
{
	struct sip_leg *leg = arg;
	int64_t spent = tg_mono_ms() - leg->st_last;

	(void)fd;
	(void)what;
	if (!leg->ua || !leg->st_interval || leg->hungup)
		return;
	if (leg->state == LEG_IN_ANSWERED) {
		st_timer_arm(leg, SIP_T1); /* refresh once the ACK is in */
		return;
	}
	if (leg->state != LEG_CONFIRMED)
		return;
	if (spent >= (int64_t)st_deadline_ms(leg)) {
		st_expired(leg);
		return;
	}
	if (leg->st_refresh && !leg->re_ctr && send_refresh(leg))
		gw_warn("leg %s: cannot send a session refresh", leg->call_id);
	st_timer_arm(leg, (unsigned)(st_deadline_ms(leg) - spent));
	sip_ua_run(leg->ua);
}

/* The session has just been refreshed (or set up): time it anew. */
static void st_arm(struct sip_leg *leg)
{
	if (!leg->st_interval || !leg->ua)
		return;
	if (!leg->st_tmr) {
		leg->st_tmr = evtimer_new(leg->ua->base, on_st, leg);
		if (!leg->st_tmr)
			return;
	}
	leg->st_last = tg_mono_ms();
	st_timer_arm(leg, leg->st_refresh ? leg->st_interval * 500u
					  : st_deadline_ms(leg));
}

/* The session is over without a BYE from the far end: we send one, with
 * @p cause, and the gateway hears it as a BYE. */
static void leg_end_session(struct sip_leg *leg, int cause, const char *why)
{
	struct sip_reason rsn = {cause, why, false};

	leg_queue(leg, SIP_LEG_BYE, 0, &rsn, NULL);
	leg->hup_cause = cause;
	tg_strlcpy(leg->hup_text, why, sizeof(leg->hup_text));
	leg_send_bye(leg, &rsn);
	sip_ua_run(leg->ua);
}

static void st_expired(struct sip_leg *leg)
{
	gw_notice("leg %s: session not refreshed within %u s, ending it",
		  leg->call_id, leg->st_interval);
	/* Q.850 102: recovery on timer expiry. */
	leg_end_session(leg, 102, "session timer expired");
}

/* Our refresh: an UPDATE without a body when the peer allows UPDATE
 * (RFC 4028 7.4), else a re-INVITE with our SDP as it was (version
 * unchanged: the session is the same).  An open T.38 offer (resent after
 * a 491) always goes as a re-INVITE with its SDP. */
static int send_refresh(struct sip_leg *leg)
{
	bool invite = !leg->peer_update || leg->t38_offering;
	osip_message_t *m = NULL;
	struct sip_tr *tr;
	int err;

	if (leg->re_ctr || leg->re_srv || leg->state != LEG_CONFIRMED)
		return 0;
	err = leg_request(&m, leg, invite ? "INVITE" : "UPDATE", ++leg->cseq);
	if (err)
		return err;
	set_contact(leg, m);
	osip_message_set_allow(m, SIP_ALLOW);
	err = st_request_headers(leg, m);
	if (!err && invite && leg->lsdp)
		err = sip_msg_attach_sdp(m, leg->lsdp);
	if (!err)
		err = leg_tr_new(&tr, leg, invite ? ICT : NICT,
				 SIP_TR_REINVITE, m,
				 (struct sockaddr *)&leg->peer, leg->peerlen);
	if (err) {
		osip_message_free(m);
		return err;
	}
	gw_dbg(GW_DBG_CALL, "leg %s: %s (%s, CSeq %u)", leg->call_id,
	       leg->t38_offering ? "T.38 offer" : "session refresh",
	       invite ? "re-INVITE" : "UPDATE", leg->cseq);
	leg->re_ctr = tr;
	leg->re_ctr_invite = invite;
	sip_tr_send(tr, m);
	return 0;
}

static void on_glare(evutil_socket_t fd, short what, void *arg)
{
	struct sip_leg *leg = arg;

	(void)fd;
	(void)what;
	if (!leg->ua || leg->state != LEG_CONFIRMED || leg->hungup)
		return;
	if (send_refresh(leg))
		gw_warn("leg %s: cannot resend the re-INVITE", leg->call_id);
	sip_ua_run(leg->ua);
}

/* RFC 3261 14.1: after a 491 the owner of the Call-ID (who sent the
 * dialog's INVITE) waits 2.1-4 s, the other side 0-2 s, in 10 ms steps. */
static void glare_arm(struct sip_leg *leg)
{
	unsigned r, ms;
	struct timeval tv;

	if (!leg->glare_tmr) {
		leg->glare_tmr = evtimer_new(leg->ua->base, on_glare, leg);
		if (!leg->glare_tmr)
			return;
	}
	tg_random(&r, sizeof(r));
	ms = leg->outbound ? 2100 + (r % 191) * 10 : (r % 201) * 10;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	gw_info("leg %s: 491 to our re-INVITE, again in %u ms", leg->call_id,
		ms);
	event_add(leg->glare_tmr, &tv);
}

/* Our T.38 offer failed (T.38 D.3: 488, 415, 606 ...): the session is the
 * audio one again, and so is the SDP our refreshes offer. */
static void t38_refused(struct sip_leg *leg, int status)
{
	char sdp[1024];

	leg->t38_offering = false;
	leg->sdp_ver++;
	if (local_sdp(leg, sdp, sizeof(sdp), &leg->codec, 1))
		gw_warn("leg %s: cannot restore our audio SDP", leg->call_id);
	gw_info("leg %s: T.38 refused (%d)", leg->call_id, status);
	leg_queue(leg, SIP_LEG_T38_REFUSED, status, NULL, NULL);
}

/* The 2xx to our T.38 offer: T.38 from now on, unless its answer has
 * no T.38 stream we can use (port 0: refused after all). */
static void t38_answered(struct sip_leg *leg, const osip_message_t *msg)
{
	struct sip_t38 t;
	const char *body;
	size_t len;

	if (sip_msg_sdp(msg, &body, &len) ||
	    sip_sdp_t38_negotiate(&t, body, len, &leg->t38_ours)) {
		t38_refused(leg, 488);
		return;
	}
	leg->t38_offering = false;
	leg->t38 = true;
	leg->t38_remote = t;
	gw_info("leg %s: T.38 to %s:%u", leg->call_id, t.addr, t.port);
	leg_queue_t38(leg, SIP_LEG_MEDIA, msg->status_code, NULL, NULL, &t);
}

/* The final response to our re-INVITE or UPDATE (msg NULL: none came). */
static void re_final(struct sip_leg *leg, int type,
		     const osip_message_t *msg)
{
	int status = msg ? msg->status_code : 408;
	struct sip_media m;
	const char *body;
	size_t len;
	unsigned mse;

	(void)type;
	if (msg && status < 200)
		return;
	leg->re_ctr = NULL;
	if (leg->state != LEG_CONFIRMED || leg->hungup)
		return;
	if (status < 300) {
		leg->re_tries = 0;
		if (leg->re_ctr_invite &&
		    send_ack(leg, (uint32_t)strtoul(msg->cseq->number, NULL,
						    10)))
			gw_warn("leg %s: cannot send ACK", leg->call_id);
		if (leg->t38_offering) {
			t38_answered(leg, msg);
			st_from_2xx(leg, msg, false);
			return;
		}
		memset(&m, 0, sizeof(m));
		if (!sip_msg_sdp(msg, &body, &len) &&
		    !sip_sdp_negotiate(&m, body, len, &leg->codec, 1) &&
		    !(leg->ncrypto && srtp_answer_bad(leg, &m)) &&
		    memcmp(&m, &leg->remote_media, sizeof(m))) {
			leg->remote_media = m;
			leg_queue(leg, SIP_LEG_MEDIA, status, NULL, &m);
		}
		st_from_2xx(leg, msg, false);
		return;
	}
	if (leg->t38_offering && status != 491 && status != 422)
		t38_refused(leg, status);
	if (status == 491) {
		glare_arm(leg);
	} else if (status == 422 && leg->re_tries++ < 2 &&
		   (mse = read_min_se(msg)) > leg->st_interval &&
		   mse <= 86400) {
		/* RFC 4028 7.4: again, with the interval it asks for. */
		leg->st_interval = mse;
		send_refresh(leg);
	} else if ((status == 405 || status == 501) && !leg->re_ctr_invite &&
		   leg->re_tries++ < 2) {
		leg->peer_update = false; /* a re-INVITE does it then */
		send_refresh(leg);
	} else if (status == 408 || status == 481) {
		/* RFC 3261 12.2.1.2: the dialog is gone. */
		leg_end_session(leg, 102, "session refresh failed");
	} else {
		/* The session goes on as it was (RFC 3261 14.1); the
		 * timer ends it if no refresh gets through. */
		gw_info("leg %s: %d to our session refresh", leg->call_id,
			status);
	}
}

/* A response of ours to their re-INVITE or UPDATE, with @p hname. */
static void re_reply(struct sip_leg *leg, osip_event_t *evt,
		     const struct sockaddr *src, socklen_t srclen, int status,
		     const char *hname, const char *hvalue)
{
	gw_info("leg %s: %s answered %d", leg->call_id, evt->sip->sip_method,
		status);
	sip_ua_reply_hdr(leg->ua, evt, src, srclen, status, hname, hvalue);
}

static void re_rtx_arm(struct sip_leg *leg, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_add(leg->re_tmr, &tv);
}

/* RFC 3261 13.3.1.4 for the 2xx to a re-INVITE: as on_rtx.  Without an
 * ACK the dialog is ended with a BYE (cause 41, as for the first 2xx). */
static void on_re_rtx(evutil_socket_t fd, short what, void *arg)
{
	struct sip_leg *leg = arg;
	int64_t spent = tg_mono_ms() - leg->re_start;

	(void)fd;
	(void)what;
	if (!leg->ua || !leg->re_srv)
		return;
	if (spent >= 64 * SIP_T1) {
		leg->re_srv = false;
		free(leg->re_rtx);
		leg->re_rtx = NULL;
		gw_warn("leg %s: no ACK for our 2xx to a re-INVITE",
			leg->call_id);
		if (leg->state == LEG_CONFIRMED && !leg->hungup)
			leg_end_session(leg, 41, "no ACK");
		return;
	}
	sip_ua_send_buf(leg->ua, (struct sockaddr *)&leg->peer, leg->peerlen,
			leg->re_rtx, leg->re_rtx_len);
	leg->re_ms = leg->re_ms * 2 > SIP_T2 ? SIP_T2 : leg->re_ms * 2;
	re_rtx_arm(leg, (int64_t)leg->re_ms > 64 * SIP_T1 - spent
			? (unsigned)(64 * SIP_T1 - spent) : leg->re_ms);
}

/* Keep @p resp (a 2xx to a re-INVITE) to resend until its ACK. */
static int re_keep(struct sip_leg *leg, osip_message_t *resp,
		   uint32_t cseq)
{
	char *buf = NULL;
	size_t len = 0;

	if (!leg->re_tmr) {
		leg->re_tmr = evtimer_new(leg->ua->base, on_re_rtx, leg);
		if (!leg->re_tmr)
			return ENOMEM;
	}
	if (osip_message_to_str(resp, &buf, &len) || !buf)
		return ENOMEM;
	free(leg->re_rtx);
	leg->re_rtx = strndup(buf, len);
	leg->re_rtx_len = len;
	osip_free(buf);
	if (!leg->re_rtx)
		return ENOMEM;
	leg->re_srv = true;
	leg->re_srv_cseq = cseq;
	leg->re_start = tg_mono_ms();
	leg->re_ms = SIP_T1;
	re_rtx_arm(leg, SIP_T1);
	return 0;
}

/* Negotiate @p body keeping the codec we have when the offer still has
 * it: a refresh or a hold must not switch codecs by our preference. */
static int re_negotiate(struct sip_leg *leg, struct sip_media *m,
			const char *body, size_t len)
{
	int order[SIP_MAX_CODECS + 1];
	unsigned n = 0, i;

	if (leg->codec >= 0)
		order[n++] = leg->codec;
	for (i = 0; i < leg->ncodecs; i++)
		if (leg->codecs[i] != leg->codec)
			order[n++] = leg->codecs[i];
	memset(m, 0, sizeof(*m));
	return sip_sdp_negotiate(m, body, len, order, n);
}

/*
 * SRTP across a new offer (RFC 4568 7.1.4): an SRTP session stays SRTP
 * (an offer without an a=crypto line we can use gets 488) and a plain one
 * stays plain (RTP/SAVP gets 488); our answer has one line, with the tag
 * and suite of the offer's, our key kept when it is the line we had.
 * @return 0 or the status to refuse the offer with.
 */
static int re_srtp(struct sip_leg *leg, const struct sip_media *m)
{
	unsigned i;

	if (!leg->ncrypto)
		return m->savp ? 488 : 0;
	if (m->crypto.suite == SIP_SRTP_NONE)
		return 488;
	for (i = 0; i < leg->ncrypto; i++)
		if (leg->crypto[i].tag == m->crypto.tag &&
		    leg->crypto[i].suite == m->crypto.suite)
			break;
	if (i < leg->ncrypto) {
		if (i)
			leg->crypto[0] = leg->crypto[i];
	} else if (crypto_new(&leg->crypto[0], m->crypto.suite,
			      m->crypto.tag)) {
		return 500;
	}
	leg->ncrypto = 1;
	leg->crypto_savp = m->savp;
	return 0;
}

/* Take @p m as the far end's new media: our answer goes at a new
 * version, with the direction that answers its own. */
static void re_take(struct sip_leg *leg, const struct sip_media *m)
{
	leg->remote_media = *m;
	leg->have_remote = true;
	leg->codec = m->pt;
	if (leg->te_local >= 0)
		leg->te_local = m->te_pt; /* RFC 4733 2.4: its PT, or none */
	leg->ldir = answer_dir(m->dir);
	leg->sdp_ver++;
}

/*
 * A re-INVITE or UPDATE from the far end (RFC 3261 14.2, RFC 3311 5.2):
 * an offer is answered in the 2xx (and reported as SIP_LEG_MEDIA), a
 * re-INVITE without one gets our offer (the answer comes in the ACK),
 * and either refreshes the session timer.
 */
static void rx_modify(struct sip_leg *leg, osip_event_t *evt,
		      const struct sockaddr *src, socklen_t srclen)
{
	osip_message_t *req = evt->sip, *resp = NULL;
	bool invite = MSG_IS_INVITE(req), have_se, offer;
	uint32_t cseq = (uint32_t)strtoul(req->cseq->number, NULL, 10);
	struct sip_media m;
	struct sip_t38 t38;
	const char *body;
	size_t blen;
	unsigned se = 0;
	int refresher = 0, err = 0;
	bool t38_offer = false;
	char sdp[1024], buf[32];

	if (invite && leg->re_srv && cseq == leg->re_srv_cseq) {
		/* Its 2xx ended the server transaction: resend it. */
		sip_ua_send_buf(leg->ua, (struct sockaddr *)&leg->peer,
				leg->peerlen, leg->re_rtx, leg->re_rtx_len);
		osip_event_free(evt);
		return;
	}
	if (leg->hungup || (leg->state != LEG_CONFIRMED &&
			    leg->state != LEG_IN_ANSWERED &&
			    leg->state != LEG_IN_EARLY &&
			    leg->state != LEG_OUT_EARLY)) {
		/* Ending, or an early dialog an UPDATE cannot be in. */
		re_reply(leg, evt, src, srclen, 481, NULL, NULL);
		return;
	}
	if (cseq <= (leg->rcseq ? leg->rcseq : leg->outbound ? 0
							    : leg->inv_cseq)) {
		/* RFC 3261 12.2.2: out of order. */
		re_reply(leg, evt, src, srclen, 500, NULL, NULL);
		return;
	}
	offer = !sip_msg_sdp(req, &body, &blen);
	if ((invite && leg->state != LEG_CONFIRMED) ||
	    (leg->re_srv && (invite || offer))) {
		/* RFC 3261 14.2 / RFC 3311 5.2: one of theirs is still open. */
		unsigned r;

		tg_random(&r, sizeof(r));
		snprintf(buf, sizeof(buf), "%u", r % 10);
		re_reply(leg, evt, src, srclen, 500, "Retry-After", buf);
		return;
	}
	if (leg->re_ctr && leg->re_ctr_invite && (invite || offer)) {
		/* RFC 3261 14.2 / RFC 3311 5.2: ours is pending: glare. */
		re_reply(leg, evt, src, srclen, 491, NULL, NULL);
		return;
	}
	have_se = read_se(req, &se, &refresher);
	if (have_se && leg->min_se && se < leg->min_se) {
		/* RFC 4028 8.1: too short for us. */
		snprintf(buf, sizeof(buf), "%u", leg->min_se);
		re_reply(leg, evt, src, srclen, 422, "Min-SE", buf);
		return;
	}
	/* T.38 D.3: a re-INVITE to T.38 (m=image), or a refresh of it. */
	if (offer && leg->t38_allowed)
		t38_offer = !sip_sdp_t38_negotiate(&t38, body, blen,
						    &leg->t38_ours);
	if (offer && !t38_offer && (re_negotiate(leg, &m, body, blen) ||
				    (err = re_srtp(leg, &m)))) {
		/* RFC 3261 14.2: a 488 leaves the session as it was. */
		re_reply(leg, evt, src, srclen, err ? err : 488, NULL, NULL);
		return;
	}
	err = 0;
	leg->rcseq = cseq;
	err = sip_msg_response(&resp, req, 200, NULL, leg->local_tag, leg->ua);
	if (err)
		goto fail;
	set_contact(leg, resp);
	osip_message_set_allow(resp, SIP_ALLOW);
	if (copy_record_routes(resp, req)) {
		err = ENOMEM;
		goto fail;
	}
	read_caps(leg, req);
	st_from_request(leg, req, have_se, se, refresher);
	if (t38_offer) {
		if (!leg->t38 || memcmp(&t38, &leg->t38_remote, sizeof(t38)))
			leg->sdp_ver++;
		leg->t38 = true;
		leg->t38_offering = false;
		leg->t38_remote = t38;
		err = local_t38_sdp(leg, sdp, sizeof(sdp), &t38);
	} else if (offer) {
		re_take(leg, &m);
		leg->t38 = false; /* back to audio after a fax */
		err = local_sdp(leg, sdp, sizeof(sdp), &leg->codec, 1);
	} else if (invite) {
		/* RFC 3261 14.2: we offer; all our codecs, ours first. */
		int order[SIP_MAX_CODECS + 1];
		unsigned n = 0, i;

		if (leg->codec >= 0)
			order[n++] = leg->codec;
		for (i = 0; i < leg->ncodecs; i++)
			if (leg->codecs[i] != leg->codec)
				order[n++] = leg->codecs[i];
		leg->ldir = SIP_DIR_SENDRECV;
		leg->sdp_ver++;
		err = local_sdp(leg, sdp, sizeof(sdp), order, n);
	}
	if (!err && (offer || invite))
		err = sip_msg_attach_sdp(resp, sdp);
	if (!err)
		err = st_headers(leg, resp, false);
	if (!err && invite)
		err = re_keep(leg, resp, cseq);
	if (err)
		goto fail;
	leg->re_offered = invite && !offer;
	gw_info("leg %s: %s%s answered 200 (CSeq %u)", leg->call_id,
		req->sip_method, offer ? " offer" : invite ? " without offer" :
		"", cseq);
	sip_ua_reply_msg(leg->ua, evt, src, srclen, resp);
	if (t38_offer)
		leg_queue_t38(leg, SIP_LEG_MEDIA, 200, NULL, NULL,
			      &leg->t38_remote);
	else if (offer)
		leg_queue(leg, SIP_LEG_MEDIA, 200, NULL, &leg->remote_media);
	if (leg->state == LEG_CONFIRMED)
		st_arm(leg); /* RFC 4028 10: the 2xx refreshes */
	sip_ua_run(leg->ua);
	return;
 fail:
	if (resp)
		osip_message_free(resp);
	re_reply(leg, evt, src, srclen, 500, NULL, NULL);
}

/* The ACK for our 2xx to their re-INVITE: the answer to our offer. */
static void re_ack(struct sip_leg *leg, const osip_message_t *ack)
{
	struct sip_media m;
	const char *body;
	size_t len;

	event_del(leg->re_tmr);
	free(leg->re_rtx);
	leg->re_rtx = NULL;
	leg->re_srv = false;
	if (!leg->re_offered)
		return;
	leg->re_offered = false;
	if (sip_msg_sdp(ack, &body, &len) ||
	    sip_sdp_negotiate(&m, body, len, leg->codecs,
			      leg->ncodecs) ||
	    (leg->ncrypto && srtp_answer_bad(leg, &m))) {
		/* RFC 3264 5: an unusable answer; what we had goes on. */
		gw_info("leg %s: ACK without a usable answer; media unchanged",
			leg->call_id);
		return;
	}
	leg->remote_media = m;
	leg->codec = m.pt;
	if (leg->te_local >= 0 && m.te_pt < 0)
		leg->te_local = -1;
	leg_queue(leg, SIP_LEG_MEDIA, 200, NULL, &m);
}

int sip_leg_set_timer(struct sip_leg *leg, unsigned session_expires,
		      unsigned min_se)
{
	const osip_message_t *req;
	unsigned se = 0;
	int refresher;
	bool have;
	char buf[32];

	if (!leg || leg->outbound || !leg->ua || !leg->inv_tr ||
	    !leg->inv_tr->otr->orig_request)
		return EINVAL;
	req = leg->inv_tr->otr->orig_request;
	leg->se_cfg = session_expires;
	leg->min_se = min_se;
	read_caps(leg, req);
	have = read_se(req, &se, &refresher);
	if (have && min_se && se < min_se) {
		osip_message_t *resp = NULL;

		/* RFC 4028 8.1: 422 with the Min-SE we need. */
		gw_info("leg %s: Session-Expires %u under our Min-SE %u: 422",
			leg->call_id, se, min_se);
		snprintf(buf, sizeof(buf), "%u", min_se);
		leg->hungup = true;
		leg->hup_gen++;
		if (!sip_msg_response(&resp, req, 422, NULL, leg->local_tag,
				      leg->ua) &&
		    !osip_message_set_header(resp, "Min-SE", buf)) {
			sip_tr_send(leg->inv_tr, resp);
			set_state(leg, LEG_IN_REJECTED);
		} else {
			if (resp)
				osip_message_free(resp);
			leg_close(leg);
		}
		sip_ua_run(leg->ua);
		return ERANGE;
	}
	if (have || session_expires)
		st_from_request(leg, req, have, se, refresher);
	return 0;
}

/* ---- reliable provisional responses (RFC 3262) --------------------------- */

static void rel_arm(struct sip_leg *leg, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_add(leg->rel_tmr, &tv);
}

/* RFC 3262 3: resend from T1, doubling, until the PRACK; after 64*T1
 * without one the INVITE is refused with a 5xx. */
static void on_rel_rtx(evutil_socket_t fd, short what, void *arg)
{
	struct sip_leg *leg = arg;
	struct sip_reason rsn = {102, "no PRACK", false};

	(void)fd;
	(void)what;
	if (!leg->ua || !leg->rel_pending || leg->hungup ||
	    (leg->state != LEG_IN_PROCEEDING && leg->state != LEG_IN_EARLY))
		return;
	if (tg_mono_ms() - leg->rel_start >= 64 * SIP_T1) {
		gw_warn("leg %s: no PRACK for our reliable %s", leg->call_id,
			"provisional; refusing the INVITE");
		rel_stop(leg);
		leg_queue(leg, SIP_LEG_BYE, 0, &rsn, NULL);
		leg->hungup = true;
		leg->hup_gen++;
		if (!leg_respond(leg, 500, false, &rsn))
			set_state(leg, LEG_IN_REJECTED);
		else
			leg_close(leg);
		sip_ua_run(leg->ua);
		return;
	}
	sip_ua_send_buf(leg->ua, (struct sockaddr *)&leg->peer, leg->peerlen,
			leg->rel_rtx, leg->rel_rtx_len);
	leg->rel_ms *= 2;
	rel_arm(leg, leg->rel_ms);
}

/* Make @p resp (a 1xx with our SDP) reliable: Require: 100rel and the
 * next RSeq; a copy is kept to resend until its PRACK. */
static int rel_prepare(struct sip_leg *leg, osip_message_t *resp)
{
	char buf[16], *str = NULL;
	size_t len = 0;

	if (!leg->rel_tmr) {
		leg->rel_tmr = evtimer_new(leg->ua->base, on_rel_rtx, leg);
		if (!leg->rel_tmr)
			return ENOMEM;
	}
	if (!leg->rseq) {
		/* RFC 3262 3: the first between 1 and 2^31 - 1. */
		tg_random(&leg->rseq, sizeof(leg->rseq));
		leg->rseq = 1 + (leg->rseq & 0x3fffffff);
	} else {
		leg->rseq++;
	}
	snprintf(buf, sizeof(buf), "%u", leg->rseq);
	if (osip_message_set_header(resp, "Require", "100rel") ||
	    osip_message_set_header(resp, "RSeq", buf))
		return ENOMEM;
	if (osip_message_to_str(resp, &str, &len) || !str)
		return ENOMEM;
	free(leg->rel_rtx);
	leg->rel_rtx = strndup(str, len);
	leg->rel_rtx_len = len;
	osip_free(str);
	if (!leg->rel_rtx)
		return ENOMEM;
	leg->rel_pending = leg->rel_sent = true;
	leg->rel_start = tg_mono_ms();
	leg->rel_ms = SIP_T1;
	rel_arm(leg, SIP_T1);
	return 0;
}

static void rel_stop(struct sip_leg *leg)
{
	leg->rel_pending = false;
	if (leg->rel_tmr)
		event_del(leg->rel_tmr);
	free(leg->rel_rtx);
	leg->rel_rtx = NULL;
}

/* A PRACK for our reliable provisional: RAck names its RSeq and the
 * INVITE's CSeq (RFC 3262 7.2); anything else matches nothing (481). */
static void rx_prack(struct sip_leg *leg, osip_event_t *evt,
		     const struct sockaddr *src, socklen_t srclen)
{
	osip_header_t *h = NULL;
	unsigned long rs, cs;
	char method[16];

	if (osip_message_header_get_byname(evt->sip, "rack", 0, &h) < 0 ||
	    !h || !h->hvalue ||
	    sscanf(h->hvalue, "%lu %lu %15s", &rs, &cs, method) != 3) {
		re_reply(leg, evt, src, srclen, 400, NULL, NULL);
		return;
	}
	if (!leg->rel_pending || rs != leg->rseq || cs != leg->inv_cseq ||
	    strcasecmp(method, "INVITE")) {
		re_reply(leg, evt, src, srclen, 481, NULL, NULL);
		return;
	}
	rel_stop(leg);
	sip_ua_reply_new(leg->ua, evt, src, srclen, 200, NULL, false);
}

/* A 1xx to our INVITE: PRACK it when it is reliable (RFC 3262 4).  One
 * whose RSeq is not above the last PRACKed is a retransmission (@p dup):
 * our PRACK's own transaction resends it if it was lost. */
static void out_prack(struct sip_leg *leg, const osip_message_t *msg,
		      bool *dup)
{
	osip_header_t *h = NULL;
	osip_message_t *m = NULL;
	struct sip_tr *tr;
	unsigned long rs;
	char buf[48];

	*dup = false;
	if (!header_token(msg, "require", "100rel") ||
	    osip_message_header_get_byname(msg, "rseq", 0, &h) < 0 || !h ||
	    !h->hvalue)
		return;
	rs = strtoul(h->hvalue, NULL, 10);
	if (!rs || rs > 0xffffffffUL)
		return;
	if (leg->rseq_in && rs <= leg->rseq_in) {
		*dup = true;
		return;
	}
	leg->rseq_in = (uint32_t)rs;
	if (leg_request(&m, leg, "PRACK", ++leg->cseq))
		goto fail;
	snprintf(buf, sizeof(buf), "%lu %u INVITE", rs, leg->inv_cseq);
	if (osip_message_set_header(m, "RAck", buf) ||
	    leg_tr_new(&tr, leg, NICT, SIP_TR_OTHER, m,
		       (struct sockaddr *)&leg->peer, leg->peerlen))
		goto fail;
	sip_tr_send(tr, m);
	return;
 fail:
	if (m)
		osip_message_free(m);
	gw_warn("leg %s: cannot send PRACK", leg->call_id);
}

/* ---- 422 to our INVITE (RFC 4028 7.4) ------------------------------------ */

/* Header @p name of @p m takes @p value (added when absent). */
static int hdr_replace(osip_message_t *m, const char *name,
		       const char *value)
{
	osip_header_t *h = NULL;

	if (osip_message_header_get_byname(m, name, 0, &h) < 0 || !h)
		return osip_message_set_header(m, name, value) ? ENOMEM : 0;
	osip_free(h->hvalue);
	h->hvalue = osip_strdup(value);
	return h->hvalue ? 0 : ENOMEM;
}

/*
 * The INVITE again, asking for the Min-SE the 422 named (as Session-Expires
 * and Min-SE): a new transaction, CSeq one up, the same Call-ID, From tag
 * and body.  Twice at most.  The old transaction ACKed the 422.
 */
static int se_retry(struct sip_leg *leg, const osip_message_t *resp)
{
	osip_message_t *inv = NULL;
	unsigned mse = read_min_se(resp);
	char num[16];
	int err;

	if (!leg->se_cfg || !leg->inv_tr || !leg->inv_tr->otr->orig_request ||
	    leg->hungup || leg->re_tries >= 2 || mse <= leg->se_cfg ||
	    mse > 86400 || (leg->state != LEG_OUT_CALLING &&
			    leg->state != LEG_OUT_EARLY))
		return EINVAL;
	if (osip_message_clone(leg->inv_tr->otr->orig_request, &inv))
		return ENOMEM;
	snprintf(num, sizeof(num), "%u", mse);
	if (hdr_replace(inv, "session-expires", num) ||
	    hdr_replace(inv, "min-se", num)) {
		osip_message_free(inv);
		return EINVAL;
	}
	err = invite_again(leg, inv);
	if (err)
		return err;
	gw_info("leg %s: 422, INVITE again with Session-Expires %u (CSeq %u)",
		leg->call_id, mse, leg->inv_cseq);
	leg->se_cfg = mse;
	if (leg->min_se < mse)
		leg->min_se = mse;
	leg->re_tries++;
	leg_queue(leg, SIP_LEG_TRYING, 422, NULL, NULL);
	return 0;
}

/* ---- 2xx from other forks (RFC 3261 13.2.2.4) ---------------------------- */

/*
 * A 2xx to our INVITE from another branch than the one we took makes a
 * dialog of its own: it is ACKed (again for each retransmission) and
 * ended with a BYE at once; the call stays the first one's.  A leg of
 * its own, outside the hash, lends that dialog its headers and lives as
 * long as the BYE's transaction.
 */
static void fork_drop(struct sip_leg *leg, const osip_message_t *resp)
{
	const char *tag = sip_msg_to_tag(resp);
	struct sip_leg *f = leg_alloc(leg->ua, true);
	osip_message_t *m = NULL;
	struct sip_tr *tr;
	char *buf = NULL;
	size_t len = 0;
	bool again = !strcmp(leg->fork_tag, tag);
	int err = ENOMEM;

	if (!f)
		return;
	f->call_id = strdup(leg->call_id);
	memcpy(&f->peer, &leg->peer, leg->peerlen);
	f->peerlen = leg->peerlen;
	tg_strlcpy(f->sig_addr, leg->sig_addr, sizeof(f->sig_addr));
	tg_strlcpy(f->contact_user, leg->contact_user, sizeof(f->contact_user));
	if (!f->call_id || osip_from_clone(leg->local, &f->local))
		goto out;
	learn_remote(f, resp);
	if (!f->remote || !f->target)
		goto out;
	if (leg_request(&m, f, "ACK", leg->inv_cseq))
		goto out;
	if (!osip_message_to_str(m, &buf, &len) && buf) {
		sip_ua_send_buf(f->ua, (struct sockaddr *)&f->peer, f->peerlen,
				buf, len);
		osip_free(buf);
	}
	osip_message_free(m);
	m = NULL;
	err = 0;
	if (again)
		goto out;
	tg_strlcpy(leg->fork_tag, tag, sizeof(leg->fork_tag));
	gw_info("leg %s: a 2xx from another fork (tag %s): ACK and BYE",
		leg->call_id, tag);
	err = leg_request(&m, f, "BYE", leg->inv_cseq + 1);
	if (!err)
		err = leg_tr_new(&tr, f, NICT, SIP_TR_OTHER, m,
				 (struct sockaddr *)&f->peer, f->peerlen);
	if (err)
		goto out;
	sip_tr_send(tr, m);
	m = NULL;
	sip_ua_run(f->ua);
 out:
	if (m)
		osip_message_free(m);
	if (err)
		gw_warn("leg %s: cannot end another fork's dialog", leg->call_id);
	obj_deref(f); /* the BYE's transaction holds it on */
}
