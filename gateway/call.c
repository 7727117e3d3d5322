/* gateway/call.c  Call control: one B2BUA call joins a SIP leg and a PRI call
 *
 * A call has an inbound and an outbound leg: SIP -> PSTN (direction
 * "outbound") or PSTN -> SIP ("inbound").  Each side reports to us through
 * its event handler; we translate (RFC 3398 for causes), drive the media
 * bridge, and write one CDR when the call ends.  The call object lives
 * until both sides have let go: the PRI call is finished at once when
 * cleared, the SIP leg when it reports SIP_LEG_CLOSED.
 */
#define LOG_MODULE "call"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "util/util.h"
#include "cause.h"
#include "gw.h"

enum call_state {
	CS_SETUP,     /* routing / SETUP or INVITE sent */
	CS_EARLY,     /* alerting or early media */
	CS_ANSWERED,
	CS_ENDED,     /* cleared; waiting for the SIP leg to close */
};

struct gw_call {
	struct gw *gw;
	struct gw_call *next, *prev;
	char id[37];
	enum cdr_direction dir;
	enum call_state state;

	struct sip_leg *sip;      /* reference; NULL after CLOSED */
	struct tdm_call *tdm;     /* reference; NULL after it finished */
	struct media_rtp *rtp;    /* ours until a bridge takes it */
	uint32_t bridge;          /* 0 = no bridge */
	int codec;                /* RTP law toward SIP, -1 unknown */
	struct sockaddr_storage remote;
	socklen_t remote_len;

	char calling[64], called[64];
	char in_trunk[32], out_trunk[32];
	char call_id[128];
	int span, chan;
	int64_t start_ms, answer_ms, end_ms;
	int cause;                /* Q.850 cause that ended the call */
	int sip_status;           /* final SIP status sent or received */
	bool cdr_written;
	struct event *ev_ring;    /* ring timeout */
};

static const char *state_name(enum call_state st)
{
	switch (st) {
	case CS_SETUP:
		return "setup";
	case CS_EARLY:
		return "early";
	case CS_ANSWERED:
		return "answered";
	case CS_ENDED:
		return "ended";
	}
	return "?";
}

static void set_state(struct gw_call *call, enum call_state st)
{
	if (call->state == st)
		return;
	gw_dbg(GW_DBG_CALL, "call %.8s: %s -> %s", call->id,
	       state_name(call->state), state_name(st));
	call->state = st;
}

static void call_destructor(void *arg)
{
	struct gw_call *call = arg;

	if (call->ev_ring)
		event_free(call->ev_ring);
	media_rtp_free(call->rtp);
	obj_deref(call->sip);
	obj_deref(call->tdm);
}

static void unlink_call(struct gw_call *call)
{
	struct gw *gw = call->gw;

	if (!call->prev && gw->calls != call)
		return; /* not linked */
	if (call->prev)
		call->prev->next = call->next;
	else
		gw->calls = call->next;
	if (call->next)
		call->next->prev = call->prev;
	call->next = call->prev = NULL;
	gw->ncalls--;
}

static void on_ring_timeout(evutil_socket_t fd, short what, void *arg);

static struct gw_call *call_new(struct gw *gw, enum cdr_direction dir)
{
	struct gw_call *call = obj_zalloc(sizeof(*call), call_destructor);

	if (!call)
		return NULL;
	call->ev_ring = evtimer_new(gw->base, on_ring_timeout, call);
	if (!call->ev_ring)
		return obj_deref(call);
	call->gw = gw;
	call->dir = dir;
	call->codec = -1;
	call->start_ms = tg_time_ms();
	tg_uuid(call->id);
	/* The list holds the call's own reference until it is reaped. */
	call->next = gw->calls;
	if (gw->calls)
		gw->calls->prev = call;
	gw->calls = call;
	gw->ncalls++;
	gw->calls_total++;
	return call;
}

static void write_cdr(struct gw_call *call)
{
	struct gw *gw = call->gw;
	struct cdr_record r;

	if (call->cdr_written)
		return;
	call->cdr_written = true;
	memset(&r, 0, sizeof(r));
	tg_strlcpy(r.id, call->id, sizeof(r.id));
	r.start_ms = call->start_ms;
	r.answer_ms = call->answer_ms;
	r.end_ms = call->end_ms ? call->end_ms : tg_time_ms();
	tg_strlcpy(r.calling, call->calling, sizeof(r.calling));
	tg_strlcpy(r.called, call->called, sizeof(r.called));
	r.direction = call->dir;
	tg_strlcpy(r.in_trunk, call->in_trunk, sizeof(r.in_trunk));
	tg_strlcpy(r.out_trunk, call->out_trunk, sizeof(r.out_trunk));
	r.span = call->span;
	r.chan = call->chan;
	tg_strlcpy(r.sip_call_id, call->call_id, sizeof(r.sip_call_id));
	r.disposition = call->answer_ms ? CDR_ANSWERED
					: gw_cause_disposition(call->cause);
	r.q850_cause = call->cause;
	r.sip_status = call->sip_status;
	if (call->codec == 0)
		tg_strlcpy(r.codec, "PCMU", sizeof(r.codec));
	else if (call->codec == 8)
		tg_strlcpy(r.codec, "PCMA", sizeof(r.codec));
	if (call->answer_ms)
		gw->calls_answered++;
	else
		gw->calls_failed++;
	if (cdr_writer_submit(gw->cdr, &r))
		gw_err("call %s: CDR could not be queued (out of memory)",
		       call->id);
	else
		gw->cdr_submitted++;
	gw_info("call %.8s %s %s -> %s: %s, cause %d, SIP %d", call->id,
		cdr_direction_name(call->dir), call->calling, call->called,
		cdr_disposition_name(r.disposition), call->cause,
		call->sip_status);
}

/* Drop the call from the live list once nothing refers to it any more. */
static void maybe_reap(struct gw_call *call)
{
	struct gw *gw = call->gw;

	if (call->state != CS_ENDED || call->sip || call->tdm)
		return;
	if (!call->prev && gw->calls != call)
		return;
	unlink_call(call);
	obj_deref(call);
	gw_check_drained(gw);
}

static void stop_media(struct gw_call *call)
{
	if (call->bridge) {
		media_bridge_stop(call->gw->me, call->bridge);
		call->bridge = 0;
	}
	media_rtp_free(call->rtp);
	call->rtp = NULL;
}

/* The call is over: record it.  The legs are released by the caller. */
static void end_call(struct gw_call *call, int cause)
{
	if (call->state == CS_ENDED)
		return;
	if (!call->cause)
		call->cause = cause;
	/* An unanswered SIP caller gets the RFC 3398 status of the cause
	 * (hangup_sip sends it); record it with the call. */
	if (call->dir == CDR_OUTBOUND && !call->answer_ms && !call->sip_status)
		call->sip_status = gw_cause_to_sip(call->cause);
	call->end_ms = tg_time_ms();
	event_del(call->ev_ring);
	set_state(call, CS_ENDED);
	stop_media(call);
	write_cdr(call);
}

static void release_tdm(struct gw_call *call, int cause)
{
	if (!call->tdm)
		return;
	tdm_call_hangup(call->tdm, cause);
	tdm_call_set_arg(call->tdm, NULL);
	call->tdm = obj_deref(call->tdm);
}

/* Hang up the SIP side: BYE, CANCEL or a final response as its state
 * needs.  The leg stays referenced until SIP_LEG_CLOSED. */
static void hangup_sip(struct gw_call *call, int cause)
{
	struct sip_reason reason = {cause, gw_cause_text(cause)};
	int status = 0;

	if (!call->sip)
		return;
	if (call->dir == CDR_OUTBOUND && call->state != CS_ANSWERED) {
		status = gw_cause_to_sip(cause);
		call->sip_status = status;
	}
	sip_leg_hangup(call->sip, status, &reason);
}

/* ---- media -------------------------------------------------------------- */

static int set_remote(struct gw_call *call, const struct sip_media *m)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&call->remote;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&call->remote;

	memset(&call->remote, 0, sizeof(call->remote));
	if (inet_pton(AF_INET, m->addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(m->port);
		call->remote_len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, m->addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(m->port);
		call->remote_len = sizeof(*sin6);
	} else {
		gw_warn("call %.8s: media address '%s' is not an IP address",
			call->id, m->addr);
		return EINVAL;
	}
	call->codec = m->pt;
	return 0;
}

/* Start (or re-point) the B-channel <-> RTP bridge. */
static void bridge_media(struct gw_call *call, const struct sip_media *m)
{
	struct media_bridge_params prm;
	int err;

	if (m && set_remote(call, m))
		return;
	if (!call->remote_len || !call->tdm)
		return;
	memset(&prm, 0, sizeof(prm));
	prm.span_id = call->span;
	prm.chan = (unsigned)call->chan;
	memcpy(&prm.remote, &call->remote, sizeof(prm.remote));
	prm.remote_len = call->remote_len;
	prm.rtp_law = call->codec == 8 ? MEDIA_PCMA : MEDIA_PCMU;
	prm.ptime = call->gw->cfg.ptime;
	if (call->bridge) {
		media_bridge_update(call->gw->me, call->bridge, &prm);
		return;
	}
	if (!call->rtp)
		return;
	err = media_bridge_start(call->gw->me, &call->bridge, call->rtp, &prm,
				 NULL);
	if (err) {
		gw_err("call %.8s: media bridge failed: %s", call->id,
		       strerror(err));
		return;
	}
	call->rtp = NULL; /* the bridge owns it now */
}

static int alloc_rtp(struct gw_call *call)
{
	struct gw_config *cfg = &call->gw->cfg;
	int err;

	err = media_rtp_alloc(&call->rtp, call->gw->me, cfg->media_addr,
			      cfg->rtp_min, cfg->rtp_max);
	if (err)
		gw_err("call %.8s: no RTP port in %u-%u: %s", call->id,
		       cfg->rtp_min, cfg->rtp_max, strerror(err));
	return err;
}

static void on_ring_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct gw_call *call = arg;

	gw_notice("call %.8s: no answer after %u s", call->id,
		  call->gw->cfg.ring_timeout);
	obj_ref(call);
	end_call(call, 19);
	release_tdm(call, 19);
	hangup_sip(call, 19);
	maybe_reap(call);
	obj_deref(call);
}

static void arm_ring_timer(struct gw_call *call)
{
	struct timeval tv = {call->gw->cfg.ring_timeout, 0};

	event_add(call->ev_ring, &tv);
}

/* ---- SIP -> PSTN --------------------------------------------------------- */

static void on_sip_leg(struct sip_leg *leg, const struct sip_leg_event *ev,
		       void *arg);

bool gw_call_authorize(const struct sockaddr *src, socklen_t len,
		       const char *method, void *arg)
{
	struct gw *gw = arg;
	char addr[INET6_ADDRSTRLEN] = "?";

	for (unsigned i = 0; i < gw->cfg.ntrunks; i++) {
		const struct gw_trunk_cfg *t = &gw->cfg.trunks[i];

		if (t->kind == GW_TRUNK_SIP && gw_trunk_accepts(t, src))
			return true;
	}
	if (src->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)src)->sin_addr,
			  addr, sizeof(addr));
	else if (src->sa_family == AF_INET6)
		inet_ntop(AF_INET6,
			  &((const struct sockaddr_in6 *)src)->sin6_addr,
			  addr, sizeof(addr));
	gw_notice("%s from %s refused: no trunk accepts that address", method,
		  addr);
	return false;
}

void gw_call_on_rejected(const struct sip_invite_info *info, int status,
			 void *arg)
{
	gw_notice("INVITE %s -> %s (Call-ID %s) refused with %d",
		  info->from_user, info->ruri_user, info->call_id, status);
}

static const struct gw_trunk_cfg *trunk_by_src(struct gw *gw,
					       const struct sockaddr *src)
{
	for (unsigned i = 0; i < gw->cfg.ntrunks; i++) {
		const struct gw_trunk_cfg *t = &gw->cfg.trunks[i];

		if (t->kind == GW_TRUNK_SIP && gw_trunk_accepts(t, src))
			return t;
	}
	return NULL;
}

static unsigned trunk_calls(struct gw *gw, const char *name)
{
	unsigned n = 0;

	for (struct gw_call *c = gw->calls; c; c = c->next)
		if (c->state != CS_ENDED && (!strcmp(c->in_trunk, name) ||
					     !strcmp(c->out_trunk, name)))
			n++;
	return n;
}

/* Refuse an inbound INVITE before any PRI call exists. */
static void refuse_sip(struct gw_call *call, int cause)
{
	struct sip_reason reason = {cause, gw_cause_text(cause)};

	call->sip_status = gw_cause_to_sip(cause);
	end_call(call, cause);
	sip_leg_reply(call->sip, call->sip_status, false, &reason);
}

/* Hunt a B-channel over the trunk's spans in order (ascending). */
static int place_pstn(struct gw_call *call, const struct gw_trunk_cfg *t)
{
	struct gw *gw = call->gw;
	int err = ENOTCONN;

	for (unsigned i = 0; i < t->nspans; i++) {
		struct tdm_span *span = gw_span(gw, t->spans[i]);

		if (!span)
			continue;
		err = tdm_call_setup(&call->tdm, span, call->calling,
				     call->called, call);
		if (!err) {
			call->span = tdm_span_id(span);
			call->chan = (int)tdm_call_chan(call->tdm);
			return 0;
		}
	}
	return err;
}

void gw_call_on_invite(struct sip_leg *leg, const struct sip_invite_info *info,
		       void *arg)
{
	struct gw *gw = arg;
	const struct gw_trunk_cfg *in, *out;
	struct gw_call *call;
	int err;

	call = call_new(gw, CDR_OUTBOUND);
	if (!call) {
		struct sip_reason r = {41, gw_cause_text(41)};

		sip_leg_reply(leg, 503, false, &r);
		obj_deref(leg);
		return;
	}
	call->sip = leg; /* the handler's reference is now the call's */
	sip_leg_set_handler(leg, on_sip_leg, call);
	obj_ref(call); /* the leg's handler refers to the call until CLOSED */
	tg_strlcpy(call->calling, info->from_user, sizeof(call->calling));
	tg_strlcpy(call->called, info->ruri_user, sizeof(call->called));
	tg_strlcpy(call->call_id, info->call_id, sizeof(call->call_id));
	call->codec = info->offer ? info->offer->pt : -1;
	in = trunk_by_src(gw, (const struct sockaddr *)&info->src);
	if (in)
		tg_strlcpy(call->in_trunk, in->name, sizeof(call->in_trunk));

	if (gw->draining) {
		refuse_sip(call, 41);
		return;
	}
	out = *gw->cfg.outbound ? gw_config_trunk(&gw->cfg, gw->cfg.outbound)
				: NULL;
	if (!out || !dp_is_digits(call->called)) {
		gw_notice("call %.8s: no route for '%s'", call->id,
			  call->called);
		refuse_sip(call, 3);
		return;
	}
	tg_strlcpy(call->out_trunk, out->name, sizeof(call->out_trunk));
	if ((in && in->max_calls && trunk_calls(gw, in->name) > in->max_calls)) {
		refuse_sip(call, 34);
		return;
	}
	if (alloc_rtp(call)) {
		refuse_sip(call, 47);
		return;
	}
	sip_leg_set_local_media(leg, gw->cfg.media_addr,
				media_rtp_port(call->rtp));
	if (info->offer)
		set_remote(call, info->offer);

	err = place_pstn(call, out);
	if (err) {
		gw_notice("call %.8s: no B-channel on trunk %s: %s", call->id,
			  out->name, err == EBUSY ? "all busy"
						  : "spans down");
		refuse_sip(call, 34);
		return;
	}
	arm_ring_timer(call);
	gw_dbg(GW_DBG_CALL, "call %.8s: %s -> %s on span %d chan %d",
	       call->id, call->calling, call->called, call->span, call->chan);
}

/* PRI events for a call the SIP side started. */
static void outbound_tdm(struct gw_call *call, const struct tdm_event *ev)
{
	switch (ev->type) {
	case TDM_EV_PROCEEDING:
		/* 100 Trying went out already. */
		break;
	case TDM_EV_ALERTING:
	case TDM_EV_PROGRESS:
		if (call->state == CS_ANSWERED)
			break;
		set_state(call, CS_EARLY);
		if (ev->inband) {
			/* In-band tones or announcements: 183 with SDP and
			 * the media bridged now (early media). */
			bridge_media(call, NULL);
			sip_leg_reply(call->sip, 183, true, NULL);
		} else if (ev->type == TDM_EV_ALERTING) {
			sip_leg_reply(call->sip, 180, false, NULL);
		}
		break;
	case TDM_EV_ANSWER:
		if (call->state == CS_ANSWERED)
			break;
		/* The caller may have cancelled in this very loop pass (its
		 * CANCELLED event is still queued): then there is no 200 to
		 * send, and the PSTN side must be cleared, not billed. */
		if (sip_leg_answer(call->sip)) {
			end_call(call, 16);
			release_tdm(call, 16);
			break;
		}
		call->answer_ms = tg_time_ms();
		event_del(call->ev_ring);
		set_state(call, CS_ANSWERED);
		bridge_media(call, NULL);
		call->sip_status = 200;
		break;
	case TDM_EV_HANGUP:
		end_call(call, ev->cause);
		call->tdm = obj_deref(call->tdm);
		hangup_sip(call, ev->cause);
		break;
	default:
		break;
	}
}

/* ---- PSTN -> SIP --------------------------------------------------------- */

static void on_ring(struct gw *gw, struct tdm_span *span,
		    const struct tdm_event *ev)
{
	const struct dp_did_range *did;
	const struct gw_trunk_cfg *t;
	struct gw_call *call;
	const char *user;
	int err;

	call = call_new(gw, CDR_INBOUND);
	if (!call) {
		tdm_call_hangup(ev->call, 42);
		return;
	}
	call->tdm = obj_ref(ev->call);
	tdm_call_set_arg(ev->call, call);
	call->span = tdm_span_id(span);
	call->chan = (int)tdm_call_chan(ev->call);
	tg_strlcpy(call->calling, ev->calling, sizeof(call->calling));
	tg_strlcpy(call->called, ev->called, sizeof(call->called));
	snprintf(call->in_trunk, sizeof(call->in_trunk), "span%d", call->span);
	for (unsigned i = 0; i < gw->cfg.ntrunks; i++) {
		const struct gw_trunk_cfg *tt = &gw->cfg.trunks[i];

		for (unsigned s = 0; tt->kind == GW_TRUNK_TDM && s < tt->nspans;
		     s++)
			if (tt->spans[s] == call->span)
				tg_strlcpy(call->in_trunk, tt->name,
					   sizeof(call->in_trunk));
	}

	if (gw->draining) {
		end_call(call, 41);
		release_tdm(call, 41);
		goto out;
	}
	did = dp_did_lookup(gw->dids, call->called);
	t = did ? gw_config_trunk(&gw->cfg, did->trunk) : NULL;
	if (!did || !t || t->kind != GW_TRUNK_SIP) {
		gw_notice("call %.8s: %s is not a DID of ours%s", call->id,
			  call->called, did ? " (its trunk is gone)" : "");
		end_call(call, 1);
		release_tdm(call, 1);
		goto out;
	}
	tg_strlcpy(call->out_trunk, t->name, sizeof(call->out_trunk));
	if (t->max_calls && trunk_calls(gw, t->name) > t->max_calls) {
		end_call(call, 34);
		release_tdm(call, 34);
		goto out;
	}
	if (alloc_rtp(call)) {
		end_call(call, 47);
		release_tdm(call, 47);
		goto out;
	}
	user = *did->user ? did->user : call->called;
	err = sip_leg_invite(&call->sip, gw->ua,
			     (const struct sockaddr *)&t->peer, t->peer_len,
			     call->calling, NULL, user, gw->cfg.media_addr,
			     media_rtp_port(call->rtp), on_sip_leg, call);
	if (err) {
		gw_err("call %.8s: INVITE to %s failed: %s", call->id,
		       t->peer_str, strerror(err));
		end_call(call, 41);
		release_tdm(call, 41);
		goto out;
	}
	obj_ref(call); /* held by the leg's handler until CLOSED */
	tg_strlcpy(call->call_id, sip_leg_call_id(call->sip),
		   sizeof(call->call_id));
	tdm_call_proceeding(call->tdm);
	arm_ring_timer(call);
 out:
	maybe_reap(call);
}

/* SIP events for a call the PSTN side started. */
static void inbound_sip(struct gw_call *call, const struct sip_leg_event *ev)
{
	int cause;

	switch (ev->type) {
	case SIP_LEG_PROGRESS:
		if (call->state == CS_ANSWERED || !call->tdm)
			break;
		set_state(call, CS_EARLY);
		if (ev->media)
			bridge_media(call, ev->media);
		if (ev->status == 180)
			tdm_call_alerting(call->tdm, ev->media != NULL);
		else if (ev->media)
			tdm_call_progress(call->tdm, true);
		break;
	case SIP_LEG_ANSWERED:
		if (call->state == CS_ANSWERED || !call->tdm)
			break;
		call->answer_ms = tg_time_ms();
		call->sip_status = 200;
		event_del(call->ev_ring);
		set_state(call, CS_ANSWERED);
		bridge_media(call, ev->media);
		tdm_call_answer(call->tdm);
		break;
	case SIP_LEG_FAILED:
		call->sip_status = ev->status;
		cause = ev->reason.cause ? ev->reason.cause
					 : gw_sip_to_cause(ev->status);
		end_call(call, cause);
		release_tdm(call, cause);
		break;
	case SIP_LEG_BYE:
	case SIP_LEG_CANCELLED:
		cause = ev->reason.cause ? ev->reason.cause : 16;
		end_call(call, cause);
		release_tdm(call, cause);
		break;
	default:
		break;
	}
}

static void inbound_tdm(struct gw_call *call, const struct tdm_event *ev)
{
	if (ev->type != TDM_EV_HANGUP)
		return;
	end_call(call, ev->cause);
	call->tdm = obj_deref(call->tdm);
	hangup_sip(call, ev->cause);
}

/* ---- event entry points -------------------------------------------------- */

static void on_sip_leg(struct sip_leg *leg, const struct sip_leg_event *ev,
		       void *arg)
{
	struct gw_call *call = arg;

	if (ev->type == SIP_LEG_CLOSED) {
		if (call->state != CS_ENDED) {
			/* The dialog vanished without a BYE (e.g. our 200
			 * was never ACKed): clear the PRI side too. */
			end_call(call, 41);
			release_tdm(call, 41);
		}
		call->sip = obj_deref(call->sip);
		maybe_reap(call);
		obj_deref(call); /* the handler's reference */
		return;
	}
	if (call->dir == CDR_OUTBOUND) {
		switch (ev->type) {
		case SIP_LEG_BYE:
		case SIP_LEG_CANCELLED: {
			int cause = ev->reason.cause ? ev->reason.cause : 16;

			if (ev->type == SIP_LEG_CANCELLED)
				call->sip_status = 487;
			end_call(call, cause);
			release_tdm(call, cause);
			break;
		}
		default:
			break;
		}
	} else {
		inbound_sip(call, ev);
	}
	maybe_reap(call);
}

/* Media worker side of a span's audio: thin adapters to tdm/. */
static int span_audio_recv(void *arg, const uint8_t **rx, uint32_t *seq)
{
	return tdm_span_audio_recv(arg, rx, seq);
}

static int span_audio_send(void *arg, uint32_t seq, const uint8_t *tx)
{
	return tdm_span_audio_send(arg, seq, tx);
}

void gw_call_on_tdm(struct tdm_span *span, const struct tdm_event *ev,
		    void *arg)
{
	struct gw *gw = arg;
	struct gw_call *call;

	switch (ev->type) {
	case TDM_EV_LINK_UP: {
		struct media_tdm_io io;

		memset(&io, 0, sizeof(io));
		io.fd = tdm_span_audio_fd(span);
		io.nchan = tdm_span_nchan(span);
		io.law = tdm_span_law(span) == 8 ? MEDIA_PCMA : MEDIA_PCMU;
		io.arg = span;
		io.recv = span_audio_recv;
		io.send = span_audio_send;
		if (media_engine_add_span(gw->me, tdm_span_id(span), &io))
			gw_err("span %d: media engine refused the span",
			       tdm_span_id(span));
		return;
	}
	case TDM_EV_LINK_DOWN:
		media_engine_remove_span(gw->me, tdm_span_id(span));
		return;
	case TDM_EV_DCHAN_UP:
	case TDM_EV_DCHAN_DOWN:
		return;
	case TDM_EV_RING:
		on_ring(gw, span, ev);
		return;
	default:
		break;
	}
	call = ev->call ? tdm_call_arg(ev->call) : NULL;
	if (!call)
		return;
	obj_ref(call);
	if (call->dir == CDR_OUTBOUND)
		outbound_tdm(call, ev);
	else
		inbound_tdm(call, ev);
	maybe_reap(call);
	obj_deref(call);
}

void gw_call_clear_all(struct gw *gw, int cause)
{
	struct gw_call *call = gw->calls;

	while (call) {
		struct gw_call *next = call->next;

		obj_ref(call);
		if (call->state != CS_ENDED) {
			end_call(call, cause);
			release_tdm(call, cause);
			hangup_sip(call, cause);
		}
		maybe_reap(call);
		/* maybe_reap may unlink this call but never its successor. */
		obj_deref(call);
		call = next;
	}
}

void gw_call_reap_all(struct gw *gw)
{
	gw_call_clear_all(gw, 16);
	while (gw->calls) {
		struct gw_call *call = gw->calls;

		unlink_call(call);
		if (call->sip) {
			sip_leg_set_handler(call->sip, NULL, NULL);
			call->sip = obj_deref(call->sip);
			obj_deref(call); /* the handler's reference */
		}
		obj_deref(call);
	}
}

void gw_call_foreach(struct gw *gw, gw_call_info_h *h, void *arg)
{
	for (struct gw_call *c = gw->calls; c; c = c->next) {
		struct gw_call_info ci = {
			.direction = cdr_direction_name(c->dir),
			.state = state_name(c->state),
			.calling = c->calling,
			.called = c->called,
			.in_trunk = c->in_trunk,
			.out_trunk = c->out_trunk,
			.span = c->span,
			.chan = c->chan,
			.codec = c->codec == 0   ? "PCMU"
				 : c->codec == 8 ? "PCMA"
						 : "",
			.start_ms = c->start_ms,
			.answer_ms = c->answer_ms,
			.call_id = c->call_id,
		};

		tg_strlcpy(ci.id, c->id, sizeof(ci.id));
		h(&ci, arg);
	}
}
