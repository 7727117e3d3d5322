/* gateway/call.c  Call control: a B2BUA call, routed, tried trunk by trunk
 *
 * A call has an inbound side (a SIP leg or a PRI call: where it came from)
 * and, over time, outbound sides: one per attempt of the routing decision
 * (dialplan/), tried in order until one answers.  An attempt that fails
 * with a cause of the "this route cannot carry the call" class, or that
 * gets no 100 Trying / no progress within its per-attempt timer, gives
 * way to the next; a cause of the "the callee said no" class ends the
 * call at once.  When every attempt failed, the caller gets the most
 * meaningful failure of them all (dp_failure_pick).
 *
 * Each side reports to us through its event handler; we translate (RFC
 * 3398 for causes), drive the media bridge of the two sides' kinds (B <->
 * RTP, RTP <-> RTP, B <-> B), and write one CDR with every attempt when
 * the call ends.  The call object lives until both sides have let go.
 */
#define LOG_MODULE "call"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "util/util.h"
#include "cause.h"
#include "gw.h"

enum call_state {
	CS_ROUTING,   /* deciding / trying attempts, nothing heard back */
	CS_EARLY,     /* the caller was told of alerting or early media */
	CS_ANSWERED,
	CS_ENDED,     /* cleared; waiting for the legs to close */
};

/* One side of the call. */
struct side {
	enum dp_trunk_kind kind;
	char trunk[32];
	struct sip_leg *sip;     /* reference; NULL after CLOSED */
	struct tdm_call *tdm;    /* reference; NULL after it finished */
	struct media_rtp *rtp;   /* SIP side's endpoint until a bridge owns it */
	struct sip_media remote; /* the SIP far end's media */
	bool have_remote;
	int span, chan;
	bool digital;            /* TDM: a data call (bearer capability) */
};

struct gw_call {
	struct gw *gw;
	struct gw_call *next, *prev;
	char id[37];
	enum call_state state;

	struct side in, out;
	bool out_live;            /* an attempt is running on `out` */
	/* Fax (docs/fax.md): the SIP side's session is T.38 (fax_remote
	 * its far end), or a G.711 fax got the pass-through settings;
	 * fax_heard once the bridge reported a tone. */
	bool fax_t38, fax_passthrough, fax_heard;
	/* For the CDR: what the call's fax was (t38 stays, even when the
	 * call went back to audio after it), and what the T.38 gateway
	 * counted over all the call's bridges. */
	enum { FAX_NONE, FAX_G711, FAX_T38 } fax_kind;
	unsigned fax_pages, fax_bit_rate;
	struct sip_t38 fax_remote;
	int fax_early;            /* a tone before answer (enum
				   * media_fax_tone), acted on at answer */
	bool fax_early_tdm;
	bool early_media;         /* the caller's media is bridged before
				     answer: no failover past this point */

	struct dp_snapshot *snap; /* the snapshot the call was routed with */
	struct dp_decision *dec;
	unsigned next_attempt;
	int cur;                  /* index of the running attempt, -1 none */
	struct dp_attempt_result res[DP_MAX_ATTEMPTS];
	unsigned nres;
	struct cdr_attempt att[DP_MAX_ATTEMPTS];
	unsigned natt;
	bool got_trying, got_progress;
	struct gw_dest *dests;    /* SIP attempt: its trunk's targets in the
				   * order to try (gw_trunk_targets) */
	unsigned ndest, dest_i;   /* how many; the one tried now */
	bool enum_wait;           /* an ENUM lookup holds a reference */
	char enum_uri[DP_ENUM_URI_SIZE];
	struct gw_rstat *route;   /* counted route, or NULL */
	bool counted_in;          /* in.trunk's counters hold this call */
	bool counted_out;
	bool counted_held;        /* ... in.trunk's calls only: a party a
				   * transfer moved here, that another call
				   * of ours had called out to */

	uint32_t bridge;          /* 0 = no bridge */
	char calling[64], called[64];   /* as received */
	char calling_name[64];    /* From display / PRI calling name, "" */
	bool calling_asserted;    /* the number is vouched for: the PSTN's,
				   * or a trusted trunk's (RFC 3325) */
	char connected[64];       /* who answered (connected line), "" */
	bool div_restricted;      /* who diverted it is not to be shown */
	char diversion[64];       /* who diverted it to us, as received */
	struct sockaddr_storage src; /* SIP caller's source address */
	char e911_zone[32], elin[32];   /* emergency calls, callbacks */
	char e911_trunk[32], e911_user[64];
	char e911_ref[37];        /* a callback: the emergency call's id */
	struct e911_zone_row *in_loc; /* the location that came with the
				       * call (a PIDF-LO), or NULL */
	struct e911_zone_row *loc_row; /* its zone's address refined for
					* this caller (floor, room), or NULL */
	char in_elin[32];         /* an ELIN in it (its NAM), "" none */
	char in_geo[256];         /* a location by reference that came
				   * with it (Geolocation URI), "" none */
	bool loc_incoming;        /* in_loc is what we pass on */
	int callback;             /* 1 to the caller, 2 to the zone */
	bool sig_emergency;       /* the signalling said emergency */
	bool emergency_marked;    /* counted in gw->emergency_live */
	bool preempted;           /* it cleared a call for a B-channel */
	unsigned preempt_waits;
	unsigned preempt_for;     /* the attempt those two are about */
	unsigned down_later;      /* emergency: attempts on SIP trunks marked
				   * down, tried after all the others */
	bool down_pass;           /* ... and being tried now */
	unsigned rehunts;         /* channels the PRI refused (cause 44)
				   * and we hunted again for */
	struct event *ev_retry;   /* try the attempt again (pre-emption) */
	struct event *ev_t302;    /* overlap receiving: inter-digit timer */
	bool collecting;          /* overlap receiving: digits still come */
	/* RFC 3578 overlap from a SIP trunk to an overlap_send span: */
	enum ovl_state {
		OVL_OFF,          /* en-bloc, or the network proceeds */
		OVL_HELD,         /* an INVITE waits: SETUP ACKNOWLEDGE, or
				   * the network proceeding on its digits */
		OVL_WAIT,         /* 484 sent: the caller's next INVITE */
	} ovl;
	bool ovl_acked;           /* the network sent SETUP ACKNOWLEDGE */
	bool ovl_proceeded;       /* the network went on while no INVITE
				   * waited (its own T302) */
	bool ovl_alerted;         /* ... and alerted */
	uint32_t ovl_cseq;        /* CSeq of the caller's last INVITE */
	char ovl_tag[64];         /* its From tag */
	struct event *ev_ovl;     /* overlap_wait (HELD), overlap_timeout
				   * (WAIT) */
	/* RFC 3578 overlap from an overlap-receiving span to a SIP trunk: */
	enum ovo_state {
		OVO_OFF,          /* en-bloc, or the callee has it */
		OVO_INVITING,     /* an INVITE with the digits so far is out */
		OVO_WAIT,         /* it got 484: the next digits make another */
	} ovo;
	size_t ovo_base;          /* digits of `called` the dialplan routed */
	size_t ovo_sent;          /* digits of `called` the last INVITE had */
	char ovo_cid[128];        /* the dialog identifiers of the INVITEs */
	char ovo_tag[24];
	uint32_t ovo_cseq;
	enum dp_ton in_called_ton, in_calling_ton; /* kept for routing */
	enum dp_pres in_pres;
	enum dp_ton diversion_ton;
	int div_reason;           /* Q.931 reason for redirection */
	char out_calling[40], out_called[40]; /* as sent on the last try */
	char call_id[128];
	int64_t start_ms, answer_ms, end_ms;
	int cause;                /* Q.850 cause that ended the call */
	int sip_status;           /* final SIP status sent or received */
	int codec;                /* RTP law toward the SIP caller / callee */
	unsigned max_fwd;         /* a SIP caller's Max-Forwards */
	bool cdr_written;
	uint32_t media_bridge;    /* the stopped bridge whose figures the CDR
				   * takes, until they came */
	bool media_wait;          /* ended: the CDR waits for them */
	struct gw_call *mw_next;  /* gw->media_waits */
	struct cdr_media media;
	struct event *ev_ring;    /* answer timer */
	struct event *ev_attempt; /* trying / progress timer of an attempt */
	/* A blind transfer (RFC 3515, docs/transfer.md): a SIP side's REFER
	 * places a new call for the other (PSTN) party; when it answers,
	 * that party moves to it and the transferor is let go. */
	struct gw_call *xfer;     /* the new call, under way (a reference) */
	struct side *xfer_side;   /* ... asked by this side's REFER */
	bool xfer_left;           /* ... whose far end has hung up since */
	struct gw_call *xfer_of;  /* this is the new call: the call whose
				   * party it takes when answered (ref) */
	char xfer_trunk[32];      /* routed as a call from this trunk: the
				   * transferor's */
	char xfer_to[40];         /* a transferred call: the number */
	char xfer_ref[37];        /* the new call: the call it came from */
	struct event *ev_xfer;    /* the transferor's BYE, waited for */
};

static const char *state_name(enum call_state st)
{
	switch (st) {
	case CS_ROUTING:
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

static bool cur_is_enum(const struct gw_call *call)
{
	return call->cur >= 0 && (size_t)call->cur < call->dec->nattempts &&
	       call->dec->attempts[call->cur].source == DP_SRC_ENUM;
}

/* ---- trunk and route live state ------------------------------------------ */

struct gw_tstat *gw_tstat(struct gw *gw, const char *name)
{
	struct gw_tstat *free_slot = NULL;

	for (unsigned i = 0; i < GW_MAX_TRUNKS; i++) {
		struct gw_tstat *ts = &gw->tstat[i];

		if (!strcmp(ts->name, name))
			return ts;
		if (!*ts->name && !free_slot)
			free_slot = ts;
	}
	if (!free_slot) {
		/* Every slot named: take one of a trunk that a reload
		 * removed and that carries no call any more. */
		for (unsigned i = 0; i < GW_MAX_TRUNKS && !free_slot; i++) {
			struct gw_tstat *ts = &gw->tstat[i];

			if (!gw_config_trunk(&gw->cfg, ts->name) &&
			    !ts->calls && !ts->inbound && !ts->tl) {
				memset(ts, 0, sizeof(*ts));
				free_slot = ts;
			}
		}
	}
	if (free_slot && *name)
		tg_strlcpy(free_slot->name, name, sizeof(free_slot->name));
	return free_slot;
}

/* Count one event in the current one-second window; is it over @p max? */
static bool rate_over(int64_t *sec, unsigned *n, unsigned max)
{
	int64_t now = tg_mono_ms() / 1000;

	if (*sec != now) {
		*sec = now;
		*n = 0;
	}
	return max && *n >= max;
}

static bool tdm_trunk_up(struct gw *gw, const struct gw_trunk_cfg *t)
{
	for (unsigned i = 0; i < t->nspans; i++) {
		struct tdm_span *span = gw_span(gw, t->spans[i]);

		if (span && tdm_span_dchan_up(span))
			return true;
	}
	return false;
}

enum dp_trunk_state gw_trunk_state(const char *trunk, void *arg)
{
	struct gw *gw = arg;
	const struct gw_trunk_cfg *t = gw_config_trunk(&gw->cfg, trunk);
	struct gw_tstat *ts = gw_tstat(gw, trunk);

	if (!t || !ts)
		return DP_TRUNK_DOWN;
	if (t->kind == GW_TRUNK_TDM && !tdm_trunk_up(gw, t))
		return DP_TRUNK_DOWN;
	if (ts->down_until_ms && ts->down_until_ms > tg_mono_ms())
		return DP_TRUNK_DOWN;
	if (ts->health == GW_HEALTH_DOWN)
		return DP_TRUNK_DOWN;
	if (t->max_calls && ts->calls >= t->max_calls)
		return DP_TRUNK_FULL;
	if (rate_over(&ts->out_sec, &ts->out_n, t->cps))
		return DP_TRUNK_FULL;
	return DP_TRUNK_AVAILABLE;
}

void gw_trunk_asr(struct gw *gw, struct dp_lcr_asr *out, size_t max)
{
	size_t n = 0;

	for (unsigned i = 0; i < GW_MAX_TRUNKS && n + 1 < max; i++) {
		struct gw_tstat *ts = &gw->tstat[i];
		unsigned ok = 0;

		if (!*ts->name)
			continue;
		for (unsigned k = 0; k < ts->asr_n; k++)
			ok += ts->asr_ring[k];
		out[n].carrier = ts->name;
		out[n].permille = ts->asr_n ? ok * 1000 / ts->asr_n : 0;
		n++;
	}
	if (max)
		out[n].carrier = NULL;
}

static void asr_note(struct gw_tstat *ts, bool answered)
{
	ts->attempts++;
	if (answered)
		ts->answered++;
	ts->asr_ring[ts->asr_pos] = answered;
	ts->asr_pos = (ts->asr_pos + 1) % sizeof(ts->asr_ring);
	if (ts->asr_n < sizeof(ts->asr_ring))
		ts->asr_n++;
}

static struct gw_rstat *rstat_get(struct gw *gw, const char *name)
{
	struct gw_rstat *r;

	for (r = gw->rstats; r; r = r->next)
		if (!strcmp(r->name, name))
			return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	tg_strlcpy(r->name, name, sizeof(r->name));
	r->next = gw->rstats;
	gw->rstats = r;
	return r;
}

static void count_out(struct gw_call *call, bool on)
{
	struct gw_tstat *ts;

	if (call->counted_out == on)
		return;
	ts = gw_tstat(call->gw, call->out.trunk);
	call->counted_out = on;
	if (!ts)
		return;
	if (on)
		ts->calls++;
	else if (ts->calls)
		ts->calls--;
}

static void uncount(struct gw_call *call)
{
	struct gw_tstat *ts;

	count_out(call, false);
	if (call->counted_in) {
		call->counted_in = false;
		ts = gw_tstat(call->gw, call->in.trunk);
		if (ts && ts->calls)
			ts->calls--;
		if (ts && ts->inbound)
			ts->inbound--;
	}
	if (call->counted_held) {
		call->counted_held = false;
		ts = gw_tstat(call->gw, call->in.trunk);
		if (ts && ts->calls)
			ts->calls--;
	}
	if (call->route && call->route->calls)
		call->route->calls--;
	call->route = NULL;
}

/* ---- the call object ----------------------------------------------------- */

static void call_destructor(void *arg)
{
	struct gw_call *call = arg;

	if (call->ev_ring)
		event_free(call->ev_ring);
	if (call->ev_attempt)
		event_free(call->ev_attempt);
	if (call->ev_retry)
		event_free(call->ev_retry);
	if (call->ev_t302)
		event_free(call->ev_t302);
	if (call->ev_ovl)
		event_free(call->ev_ovl);
	if (call->ev_xfer)
		event_free(call->ev_xfer);
	free(call->in_loc);
	free(call->loc_row);
	free(call->dests);
	media_rtp_free(call->in.rtp);
	media_rtp_free(call->out.rtp);
	obj_deref(call->in.sip);
	obj_deref(call->in.tdm);
	obj_deref(call->out.sip);
	obj_deref(call->out.tdm);
	obj_deref(call->snap);
	free(call->dec);
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

static void ovl_set(struct gw_call *call, enum ovl_state st);
static void on_ring_timeout(evutil_socket_t fd, short what, void *arg);
static void on_attempt_timeout(evutil_socket_t fd, short what, void *arg);
static void on_retry(evutil_socket_t fd, short what, void *arg);
static const struct e911_zone_row *call_location(const struct gw_call *call);
static bool is_protected(const struct gw_call *c);

static struct gw_call *call_new(struct gw *gw, enum dp_trunk_kind in_kind)
{
	struct gw_call *call = obj_zalloc(sizeof(*call), call_destructor);

	if (!call)
		return NULL;
	call->ev_ring = evtimer_new(gw->base, on_ring_timeout, call);
	call->ev_attempt = evtimer_new(gw->base, on_attempt_timeout, call);
	call->ev_retry = evtimer_new(gw->base, on_retry, call);
	call->dec = calloc(1, sizeof(*call->dec));
	if (!call->ev_ring || !call->ev_attempt || !call->ev_retry ||
	    !call->dec)
		return obj_deref(call);
	/* Call timers run after the I/O of the same loop pass: a 200 OK
	 * or CONNECT that came in time is seen before the timer that would
	 * fail the attempt over (the base's lowest priority, see main.c). */
	if (event_base_get_npriorities(gw->base) > 1) {
		int low = event_base_get_npriorities(gw->base) - 1;

		event_priority_set(call->ev_ring, low);
		event_priority_set(call->ev_attempt, low);
	}
	call->gw = gw;
	call->in.kind = in_kind;
	call->codec = -1;
	call->cur = -1;
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

static enum cdr_direction call_direction(const struct gw_call *call)
{
	return call->in.kind == DP_TRUNK_SIP ? CDR_OUTBOUND : CDR_INBOUND;
}

static void write_cdr(struct gw_call *call)
{
	struct gw *gw = call->gw;
	const struct dp_attempt *a = NULL;
	struct cdr_record *r;

	if (call->cdr_written)
		return;
	call->cdr_written = true;
	r = calloc(1, sizeof(*r));
	if (!r) {
		gw_err("call %s: no memory for its CDR", call->id);
		return;
	}
	if (call->cur >= 0)
		a = &call->dec->attempts[call->cur];
	tg_strlcpy(r->id, call->id, sizeof(r->id));
	r->start_ms = call->start_ms;
	r->answer_ms = call->answer_ms;
	r->end_ms = call->end_ms ? call->end_ms : tg_time_ms();
	tg_strlcpy(r->calling, call->calling, sizeof(r->calling));
	tg_strlcpy(r->called, call->called, sizeof(r->called));
	r->direction = call_direction(call);
	tg_strlcpy(r->in_trunk, call->in.trunk, sizeof(r->in_trunk));
	tg_strlcpy(r->out_trunk, call->out.trunk, sizeof(r->out_trunk));
	/* The B-channel of the call: the PSTN side's. */
	if (call->out.kind == DP_TRUNK_TDM && call->out.span) {
		r->span = call->out.span;
		r->chan = call->out.chan;
	} else {
		r->span = call->in.span;
		r->chan = call->in.chan;
	}
	tg_strlcpy(r->sip_call_id, call->call_id, sizeof(r->sip_call_id));
	r->disposition = call->answer_ms ? CDR_ANSWERED
					 : gw_cause_disposition(call->cause);
	r->q850_cause = call->cause;
	r->sip_status = call->sip_status;
	tg_strlcpy(r->codec, gw_codec_name(call->codec), sizeof(r->codec));
	tg_strlcpy(r->route, call->dec->route, sizeof(r->route));
	r->emergency = (int)call->dec->emergency;
	tg_strlcpy(r->diversion, call->dec->diversion.digits,
		   sizeof(r->diversion));
	tg_strlcpy(r->e911_zone, call->e911_zone, sizeof(r->e911_zone));
	tg_strlcpy(r->elin, call->elin, sizeof(r->elin));
	tg_strlcpy(r->e911_trunk, call->e911_trunk, sizeof(r->e911_trunk));
	tg_strlcpy(r->e911_user, call->e911_user, sizeof(r->e911_user));
	r->callback = call->callback;
	tg_strlcpy(r->e911_ref, call->e911_ref, sizeof(r->e911_ref));
	tg_strlcpy(r->transfer_to, call->xfer_to, sizeof(r->transfer_to));
	tg_strlcpy(r->transfer_ref, call->xfer_ref, sizeof(r->transfer_ref));
	tg_strlcpy(r->fax, call->fax_kind == FAX_T38    ? "t38"
			   : call->fax_kind == FAX_G711 ? "g711"
							: "",
		   sizeof(r->fax));
	r->fax_pages = call->fax_kind == FAX_T38 ? (int)call->fax_pages : -1;
	r->fax_bit_rate = (int)call->fax_bit_rate;
	r->media = call->media;
	if (a && a->has_rate) {
		int64_t ms = call->answer_ms ? r->end_ms - call->answer_ms : 0;

		tg_strlcpy(r->rate_prefix, a->rate.prefix,
			   sizeof(r->rate_prefix));
		r->rate = a->rate.rate;
		r->conn_fee = a->rate.conn_fee;
		/* Billed seconds: an answered call's duration rounded up. */
		r->cost = dp_rate_cost(&a->rate,
				       ms > 0 ? (unsigned)((ms + 999) / 1000)
					      : 0);
	}
	memcpy(r->attempts, call->att, sizeof(call->att[0]) * call->natt);
	r->nattempts = call->natt;
	if (call->answer_ms)
		gw->calls_answered++;
	else
		gw->calls_failed++;
	if (cdr_writer_submit(gw->cdr, r))
		gw_err("call %s: CDR could not be queued (out of memory)",
		       call->id);
	else
		gw->cdr_submitted++;
	gw_info("call %.8s %s %s -> %s via %s: %s, cause %d, SIP %d",
		call->id, cdr_direction_name(r->direction), call->calling,
		call->called, *call->out.trunk ? call->out.trunk : "-",
		cdr_disposition_name(r->disposition), call->cause,
		call->sip_status);
	free(r);
}

/* Drop the call from the live list once nothing refers to it any more. */
static void maybe_reap(struct gw_call *call)
{
	struct gw *gw = call->gw;

	if (call->state != CS_ENDED || call->in.sip || call->in.tdm ||
	    call->out.sip || call->out.tdm)
		return;
	if (!call->prev && gw->calls != call)
		return;
	unlink_call(call);
	obj_deref(call);
	gw_check_drained(gw);
}

/* Stop the call's bridge for good: the last one, whose figures go in
 * the CDR (a TDM <-> TDM bridge has none). */
static void bridge_stop_last(struct gw_call *call)
{
	if (!call->bridge)
		return;
	if (!media_bridge_stop(call->gw->me, call->bridge) &&
	    (call->in.kind == DP_TRUNK_SIP || call->out.kind == DP_TRUNK_SIP))
		call->media_bridge = call->bridge;
	call->bridge = 0;
}

static void stop_media(struct gw_call *call)
{
	bridge_stop_last(call);
	media_rtp_free(call->in.rtp);
	call->in.rtp = NULL;
	media_rtp_free(call->out.rtp);
	call->out.rtp = NULL;
}

/* Close the record of the running attempt. */
static void attempt_done(struct gw_call *call, const char *outcome,
			 int sip_status, int cause)
{
	struct cdr_attempt *ca;

	if (!call->natt || call->cur < 0)
		return;
	ca = &call->att[call->natt - 1];
	if (ca->end_ms)
		return;
	ca->end_ms = tg_time_ms();
	ca->sip_status = sip_status;
	ca->q850_cause = cause;
	tg_strlcpy(ca->outcome, outcome, sizeof(ca->outcome));
}

static void xfer_abort(struct gw_call *call, int cause);
static void xfer_failed(struct gw_call *call, int cause);

/* The call is over: record it.  The legs are released by the caller. */
static void end_call(struct gw_call *call, int cause)
{
	if (call->state == CS_ENDED)
		return;
	if (!call->cause)
		call->cause = cause;
	/* An unanswered SIP caller gets the RFC 3398 status of the cause
	 * (hangup_in sends it); record it with the call. */
	if (call->in.kind == DP_TRUNK_SIP && !call->answer_ms &&
	    !call->sip_status)
		call->sip_status = gw_cause_to_sip(call->cause);
	call->end_ms = tg_time_ms();
	if (call->xfer_of)
		xfer_failed(call, call->cause);
	xfer_abort(call, call->cause);
	event_del(call->ev_ring);
	event_del(call->ev_attempt);
	event_del(call->ev_retry);
	if (call->ev_t302)
		event_del(call->ev_t302);
	call->collecting = false;
	if (call->ev_ovl)
		event_del(call->ev_ovl);
	ovl_set(call, OVL_OFF);
	call->ovo = OVO_OFF;
	attempt_done(call, call->answer_ms ? "answered" : "final",
		     call->sip_status, call->cause);
	set_state(call, CS_ENDED);
	stop_media(call);
	uncount(call);
	if (*call->elin && !call->callback)
		gw_e911_ended(call->gw, call->elin);
	else if (*call->elin && call->callback == 1)
		gw_e911_callback_ended(call->gw, call->elin);
	if (call->emergency_marked) {
		call->emergency_marked = false;
		gw_emergency_mark(call->gw, false);
	}
	/* Maintenance of its lines waits the hold-off after a PSAP
	 * callback too: the PSAP may call again. */
	if (is_protected(call))
		gw_maint_emergency_ended(call->gw, call->in.span,
					 call->out.span, call->in.trunk,
					 call->out.trunk);
	if (call->media_bridge && !call->cdr_written && !call->media_wait) {
		/* The CDR waits for the bridge's figures: they come back
		 * from its worker within a frame or two. */
		call->media_wait = true;
		call->mw_next = call->gw->media_waits;
		call->gw->media_waits = call;
	} else {
		write_cdr(call);
	}
	gw_maint_call_ended(call->gw);
}

/* ---- media figures for the CDR --------------------------------------------- */

static void media_figures(struct cdr_media *m, const struct media_stats *st)
{
	m->set = true;
	m->tx_packets = (int64_t)st->rtp_tx;
	m->rx_packets = (int64_t)st->rtp_rx;
	m->rx_lost = (int64_t)st->rtp_lost;
	m->late = (int64_t)st->rtp_late;
	/* A relay's figures are the worse of its two legs' (media). */
	m->jitter_us = !st->rtp_rx ? -1 : (int64_t)st->jitter_us;
	m->rtt_us = st->rtt_us;
	m->remote_lost = st->remote_report ? st->remote_lost : -1;
	m->remote_jitter_us =
		st->remote_report ? (int64_t)st->remote_jitter_us : -1;
	m->mos_rx = (int)st->mos_rx;
	m->mos_tx = (int)st->mos_tx;
	m->concealed = (int64_t)st->concealed;
	m->jb_drops = (int64_t)st->jb_drops;
	m->srtp_auth_fail = (int64_t)st->srtp_auth_fail;
}

static bool media_wait_unlink(struct gw_call *call)
{
	struct gw_call **pp;

	for (pp = &call->gw->media_waits; *pp; pp = &(*pp)->mw_next) {
		if (*pp == call) {
			*pp = call->mw_next;
			call->mw_next = NULL;
			call->media_wait = false;
			return true;
		}
	}
	return false;
}

void gw_call_media_done(void *cookie, const struct media_stats *st)
{
	struct gw_call *call = cookie;

	if (!call)
		return;
	call->fax_pages += st->fax_pages;
	if (st->fax_bit_rate)
		call->fax_bit_rate = st->fax_bit_rate;
	if (st->id && st->id == call->media_bridge) {
		media_figures(&call->media, st);
		/* In: a call that ends after (a transferor) waits no more. */
		call->media_bridge = 0;
		if (media_wait_unlink(call))
			write_cdr(call);
	}
	obj_deref(call); /* the bridge's reference */
}

void gw_call_media_flush(struct gw *gw)
{
	struct gw_call *call;

	/* The engine is gone: what it still held will never report. */
	while ((call = gw->media_waits)) {
		media_wait_unlink(call);
		write_cdr(call);
		obj_deref(call);
	}
}

static bool is_protected(const struct gw_call *c)
{
	return c->sig_emergency || c->emergency_marked || c->callback ||
	       (c->dec && (c->dec->emergency != DP_EMERG_NONE ||
			   c->dec->callback));
}

/* An emergency call waiting for a pre-empted channel to be released
 * holds no B-channel yet, but will take one on its trunk's spans. */
static bool waits_on_span(const struct gw_call *c, int span)
{
	const struct gw_trunk_cfg *t;

	if (!c->preempted || !evtimer_pending(c->ev_retry, NULL) ||
	    c->next_attempt >= c->dec->nattempts)
		return false;
	t = gw_config_trunk(&c->gw->cfg,
			    c->dec->attempts[c->next_attempt].trunk);
	for (unsigned i = 0; t && i < t->nspans; i++)
		if (t->spans[i] == span)
			return true;
	return false;
}

bool gw_call_emergency_on(struct gw *gw, int span, unsigned chan,
			  const char *trunk, char *id, size_t idsize)
{
	for (struct gw_call *c = gw->calls; c; c = c->next) {
		bool in_hit, out_hit;

		if (c->state == CS_ENDED || !is_protected(c))
			continue;
		in_hit = (!span || (c->in.tdm && c->in.span == span)) &&
			 (!chan || (c->in.tdm && c->in.chan == (int)chan)) &&
			 (!trunk || !strcmp(c->in.trunk, trunk));
		out_hit = (!span || (c->out.tdm && c->out.span == span) ||
			   (!chan && waits_on_span(c, span))) &&
			  (!chan || (c->out.tdm && c->out.chan == (int)chan)) &&
			  (!trunk || (c->out_live &&
				      !strcmp(c->out.trunk, trunk)));
		if (in_hit || out_hit) {
			tg_strlcpy(id, c->id, idsize);
			return true;
		}
	}
	return false;
}

unsigned gw_call_count_on_span(struct gw *gw, int span)
{
	unsigned n = 0;

	for (struct gw_call *c = gw->calls; c; c = c->next)
		if (c->state != CS_ENDED &&
		    ((c->in.tdm && c->in.span == span) ||
		     (c->out.tdm && c->out.span == span)))
			n++;
	return n;
}

/* ---- legs ----------------------------------------------------------------- */

static void on_sip_in(struct sip_leg *leg, const struct sip_leg_event *ev,
		      void *arg);
static void on_sip_out(struct sip_leg *leg, const struct sip_leg_event *ev,
		       void *arg);
static void ovo_end(struct gw_call *call);
static void ovo_got_484(struct gw_call *call);
static void ring_complete(struct gw_call *call);

static void release_tdm(struct side *s, int cause)
{
	if (!s->tdm)
		return;
	tdm_call_hangup(s->tdm, cause);
	tdm_call_set_arg(s->tdm, NULL);
	s->tdm = obj_deref(s->tdm);
}

/* Hang up the inbound side: a final response when unanswered (SIP), or
 * DISCONNECT (PRI).  A SIP leg stays referenced until SIP_LEG_CLOSED. */
static void hangup_in(struct gw_call *call, int cause)
{
	struct sip_reason reason = {cause, gw_cause_text(cause), false};
	int status = 0;

	if (call->in.kind == DP_TRUNK_TDM) {
		release_tdm(&call->in, cause);
		return;
	}
	if (!call->in.sip)
		return;
	if (!call->answer_ms) {
		/* fail_call may have chosen a SIP callee's own status. */
		status = call->sip_status >= 300 ? call->sip_status
						 : gw_cause_to_sip(cause);
		call->sip_status = status;
	}
	sip_leg_hangup(call->in.sip, status, &reason);
}

/* Hang up the outbound side of the running attempt and forget it.  A SIP
 * leg is abandoned to the UA: its CANCEL or BYE completes without us. */
static void hangup_out(struct gw_call *call, int cause)
{
	struct sip_reason reason = {cause, gw_cause_text(cause), false};

	call->out_live = false;
	if (call->out.tdm)
		release_tdm(&call->out, cause);
	if (call->out.sip) {
		struct sip_leg *leg = call->out.sip;

		call->out.sip = NULL;
		sip_leg_abandon(leg, 0, &reason);
		obj_deref(call); /* on_sip_out's reference */
	}
	count_out(call, false);
}

/* ---- media ---------------------------------------------------------------- */

/* Our RTP address toward the far end an INVITE's offer names (its c=
 * address; the source's family without one). */
static const char *in_media_addr(struct gw *gw,
				 const struct sip_invite_info *info)
{
	int family = info->src.ss_family;

	if (info->offer && *info->offer->addr)
		family = strchr(info->offer->addr, ':') ? AF_INET6 : AF_INET;
	return gw_media_addr(&gw->cfg, family);
}

static int to_sockaddr(const struct sip_media *m, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, m->addr, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(m->port);
		*len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, m->addr, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(m->port);
		*len = sizeof(*sin6);
	} else {
		return EINVAL;
	}
	return 0;
}

static void set_remote(struct gw_call *call, struct side *s,
		       const struct sip_media *m)
{
	struct sockaddr_storage ss;
	socklen_t len;

	if (to_sockaddr(m, &ss, &len)) {
		gw_warn("call %.8s: media address '%s' is not an IP address",
			call->id, m->addr);
		return;
	}
	s->remote = *m;
	s->have_remote = true;
	if (s == &call->in || call->in.kind == DP_TRUNK_TDM)
		call->codec = m->pt;
}

/* The codecs SDP negotiates are the engine's (static payload types). */
static enum media_law law_of(int pt)
{
	switch (pt) {
	case 8:
		return MEDIA_PCMA;
	case 9:
		return MEDIA_G722;
	case 18:
		return MEDIA_G729;
	default:
		return MEDIA_PCMU;
	}
}

/*
 * How long the packets we send to @p m's far end are: its a=ptime (RFC
 * 4566 6: what it wants to receive), else ours, never over its
 * a=maxptime; in 10 ms steps (G.729's frame, the engine's unit), 10-60.
 */
static unsigned tx_ptime(const struct sip_media *m, unsigned ours)
{
	unsigned p = m->ptime_set ? m->ptime : ours;

	if (m->maxptime && p > m->maxptime)
		p = m->maxptime;
	p -= p % 10;
	if (p < 10)
		p = 10;
	return p > SIP_MAX_PTIME ? SIP_MAX_PTIME : p;
}

/* ---- SRTP (docs/media.md) ------------------------------------------------- */

static enum media_srtp_suite media_suite(int suite)
{
	switch (suite) {
	case SIP_SRTP_AES_CM_128_HMAC_SHA1_80:
		return MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80;
	case SIP_SRTP_AES_CM_128_HMAC_SHA1_32:
		return MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32;
	case SIP_SRTP_AEAD_AES_128_GCM:
		return MEDIA_SRTP_AEAD_AES_128_GCM;
	default:
		return MEDIA_SRTP_NONE;
	}
}

/* The SRTP keys a SIP side's offer and answer agreed on (suite NONE:
 * plain RTP).  A new answer with new keys re-keys the running bridge. */
static void srtp_keys(const struct side *s, struct media_srtp_keys *k)
{
	struct sip_crypto tx, rx;

	_Static_assert(sizeof(k->tx_key) == sizeof(tx.key), "key sizes");
	memset(k, 0, sizeof(*k));
	if (!s->sip || sip_leg_srtp(s->sip, &tx, &rx))
		return;
	k->suite = media_suite(tx.suite);
	memcpy(k->tx_key, tx.key, sizeof(k->tx_key));
	memcpy(k->rx_key, rx.key, sizeof(k->rx_key));
	explicit_bzero(&tx, sizeof(tx));
	explicit_bzero(&rx, sizeof(rx));
}

static int srtp_offer(const struct gw_trunk_cfg *t)
{
	switch (t->srtp) {
	case GW_SRTP_OFF:
		break;
	case GW_SRTP_OPTIONAL:
	case GW_SRTP_BEST_EFFORT:
		return SIP_SRTP_OFFER_AVP;
	case GW_SRTP_MANDATORY:
		return SIP_SRTP_OFFER_SAVP;
	}
	return SIP_SRTP_OFFER_NONE;
}

/*
 * An inbound offer against trunk @p t's srtp policy: answer it with SRTP
 * (our key for its chosen a=crypto line) or plain RTP.  false when it
 * cannot be taken (488): RTP/SAVP on a trunk without SRTP, RTP/SAVP
 * with no line we can use, no line at all on a mandatory trunk.
 */
static bool srtp_answer(const struct gw_call *call, struct sip_leg *leg,
			const struct gw_trunk_cfg *t,
			const struct sip_media *offer)
{
	enum gw_srtp pol = t ? t->srtp : GW_SRTP_OFF;
	bool crypto = offer && offer->crypto.suite != SIP_SRTP_NONE;
	bool savp = offer && offer->savp;
	const char *why = NULL;
	bool on;

	if (savp && pol == GW_SRTP_OFF)
		why = "RTP/SAVP, and the trunk's srtp is off";
	else if (savp && !crypto)
		why = "RTP/SAVP without an a=crypto line we can use";
	else if (pol == GW_SRTP_MANDATORY && !crypto)
		why = "no a=crypto line we can use, and the trunk's srtp "
		      "is mandatory";
	if (why) {
		gw_notice("call %.8s: offer refused: %s", call->id, why);
		return false;
	}
	/* RFC 4568 says a=crypto belongs to RTP/SAVP; on RTP/AVP only
	 * best-effort (and mandatory, which takes SRTP however it comes)
	 * answer it. */
	on = crypto && (savp || pol == GW_SRTP_MANDATORY ||
			pol == GW_SRTP_BEST_EFFORT);
	if (on)
		gw_info("call %.8s: SRTP %s (tag %u)", call->id,
			sip_srtp_suite_name(offer->crypto.suite),
			offer->crypto.tag);
	return sip_leg_set_srtp(leg, on) == 0;
}

static void relay_side(struct gw_call *call, struct media_relay_side *rs,
		       const struct side *s)
{
	const struct gw_trunk_cfg *t = gw_config_trunk(&call->gw->cfg,
						       s->trunk);

	memset(rs, 0, sizeof(*rs));
	/* A side whose SDP takes no RTP (held) holds: nothing goes to it. */
	if (s->have_remote && sip_media_receives(&s->remote))
		to_sockaddr(&s->remote, &rs->remote, &rs->remote_len);
	rs->law = law_of(s->remote.pt);
	rs->ptime = tx_ptime(&s->remote, gw_config_ptime(&call->gw->cfg, t));
	rs->latch = gw_trunk_latch(t);
	/* Events cross with each leg's own payload type (the engine maps
	 * only when both legs have one). */
	if ((!t || t->dtmf == GW_DTMF_RFC4733) && s->sip) {
		rs->te_rx_pt = sip_leg_dtmf_pt(s->sip);
		rs->te_tx_pt = s->remote.te_pt;
	}
	srtp_keys(s, &rs->srtp);
}

static bool dynamic_pt(int pt)
{
	return pt >= 96 && pt <= 127;
}

/* How the bridge carries DTMF: the SIP trunk's dtmf key, and for
 * rfc4733 whether both SDPs have telephone-event (else in-band). */
static void dtmf_params(struct gw_call *call, const struct side *ip,
			struct media_bridge_params *prm)
{
	const struct gw_trunk_cfg *t = gw_config_trunk(&call->gw->cfg,
						       ip->trunk);
	enum gw_dtmf mode = t ? t->dtmf : GW_DTMF_RFC4733;
	int rx = ip->sip ? sip_leg_dtmf_pt(ip->sip) : -1;

	prm->dtmf = MEDIA_DTMF_INBAND;
	if (mode == GW_DTMF_INFO) {
		prm->dtmf = MEDIA_DTMF_REPORT;
	} else if (mode == GW_DTMF_RFC4733 && dynamic_pt(rx) &&
		   dynamic_pt(ip->remote.te_pt)) {
		prm->dtmf = MEDIA_DTMF_RFC4733;
		prm->te_tx_pt = ip->remote.te_pt;
		prm->te_rx_pt = rx;
	}
}

/* The span's echo canceller tail for this call, 0 for none: a data call
 * must reach the far end bit for bit. */
static unsigned echo_tail(const struct gw_call *call, const struct side *pri)
{
	const struct gw_span_cfg *s = gw_config_span(&call->gw->cfg,
						     pri->span);

	if (!s || !s->echo_cancel || pri->digital)
		return 0;
	return s->echo_tail;
}

/* The SIP trunk's jitter buffer; a data call gets the fixed one, which
 * neither conceals nor time-scales: its octets must arrive as sent. */
static void jb_params(const struct gw_call *call, const struct side *ip,
		      const struct side *pri, struct media_bridge_params *prm)
{
	struct gw_jb jb = gw_config_jb(&call->gw->cfg,
				       gw_config_trunk(&call->gw->cfg,
						       ip->trunk));

	prm->jb_min_ms = (unsigned)jb.min_ms;
	prm->jb_max_ms = (unsigned)jb.max_ms;
	prm->jb_fixed = jb.fixed > 0 || pri->digital;
}

/* ---- fax ------------------------------------------------------------------ */

/* What we offer and take (T.38 Annex D.2.3): version 0 and 14 400 bit/s,
 * which every T.38 peer does, transferred TCF (UDPTL), redundancy. */
static const struct sip_t38 t38_ours = {
	.version = 0,
	.max_bitrate = 14400,
	.transferred_tcf = true,
	.max_datagram = 400,
	.ec = SIP_T38_EC_REDUNDANCY,
};

/* Secondaries per UDPTL datagram when redundancy was agreed: three IFPs
 * back covers the bursts of loss a fax survives at all. */
#define T38_REDUNDANCY 3

static void leg_t38(struct sip_leg *leg, const struct gw_trunk_cfg *t)
{
	sip_leg_set_t38(leg, t && t->t38 ? &t38_ours : NULL);
}

/* The bridge's fax settings: T.38 toward the far end's UDPTL address,
 * or pass-through (no DTMF detection either: it could take fax tones
 * for digits and mute them). */
static void fax_params(const struct gw_call *call, const struct side *ip,
		       struct media_bridge_params *prm)
{
	const struct gw_trunk_cfg *tc = gw_config_trunk(&call->gw->cfg,
							ip->trunk);
	const struct sip_t38 *t = &call->fax_remote;
	struct sip_media at;

	/* Listening costs about 0.05% of a core per call (docs/fax.md):
	 * only where a tone would change something. */
	prm->fax_detect = (tc && tc->t38) || prm->echo_tail_ms ||
			  !prm->jb_fixed || prm->dtmf != MEDIA_DTMF_INBAND;
	if (call->fax_passthrough) {
		prm->fax_passthrough = true;
		prm->dtmf = MEDIA_DTMF_INBAND;
	}
	if (!call->fax_t38)
		return;
	memset(&at, 0, sizeof(at));
	tg_strlcpy(at.addr, t->addr, sizeof(at.addr));
	at.port = t->port;
	if (to_sockaddr(&at, &prm->remote, &prm->remote_len))
		return;
	prm->hold = false;
	prm->dtmf = MEDIA_DTMF_INBAND;
	prm->t38.on = true;
	prm->t38.version = t->version;
	prm->t38.max_bitrate = t->max_bitrate;
	prm->t38.fill_bit_removal = t->fill_bit_removal;
	prm->t38.transferred_tcf = t->transferred_tcf;
	prm->t38.redundancy = t->ec == SIP_T38_EC_REDUNDANCY ?
			      T38_REDUNDANCY : 0;
	prm->t38.max_datagram = t->max_datagram;
	prm->t38.ecm = true;
}

/* Start (or re-point) the bridge between the two sides as their kinds
 * need: B-channel <-> RTP, RTP <-> RTP, or B-channel <-> B-channel. */
static void bridge_media(struct gw_call *call)
{
	struct gw *gw = call->gw;
	struct side *in = &call->in, *out = &call->out;
	int err = 0;

	if (in->kind == DP_TRUNK_SIP && out->kind == DP_TRUNK_SIP) {
		struct media_relay_side a, b;

		if (!in->have_remote || !out->have_remote)
			return;
		relay_side(call, &a, in);
		relay_side(call, &b, out);
		if (call->bridge) {
			media_relay_update(gw->me, call->bridge, 0, &a);
			media_relay_update(gw->me, call->bridge, 1, &b);
			return;
		}
		if (!in->rtp || !out->rtp)
			return;
		/* The bridge holds a reference for its done callback, which
		 * hands its figures to the CDR (gw_call_media_done). */
		err = media_relay_start(gw->me, &call->bridge, in->rtp, &a,
					out->rtp, &b, obj_ref(call));
		if (!err)
			in->rtp = out->rtp = NULL;
		else
			obj_deref(call);
	} else if (in->kind == DP_TRUNK_TDM && out->kind == DP_TRUNK_TDM) {
		if (call->bridge || !in->tdm || !out->tdm)
			return;
		err = media_tdm_bridge_start(gw->me, &call->bridge, in->span,
					     (unsigned)in->chan, out->span,
					     (unsigned)out->chan, NULL);
	} else {
		struct side *ip = in->kind == DP_TRUNK_SIP ? in : out;
		struct side *pri = in->kind == DP_TRUNK_TDM ? in : out;
		struct media_bridge_params prm;

		if (!ip->have_remote || !pri->tdm)
			return;
		memset(&prm, 0, sizeof(prm));
		prm.span_id = pri->span;
		prm.chan = (unsigned)pri->chan;
		to_sockaddr(&ip->remote, &prm.remote, &prm.remote_len);
		prm.rtp_law = law_of(ip->remote.pt);
		prm.hold = !sip_media_receives(&ip->remote);
		prm.ptime = tx_ptime(&ip->remote,
				     gw_config_ptime(&gw->cfg,
						     gw_config_trunk(&gw->cfg,
								     ip->trunk)));
		dtmf_params(call, ip, &prm);
		prm.echo_tail_ms = echo_tail(call, pri);
		srtp_keys(ip, &prm.srtp);
		jb_params(call, ip, pri, &prm);
		prm.latch = gw_trunk_latch(gw_config_trunk(&gw->cfg,
							   ip->trunk));
		fax_params(call, ip, &prm);
		if (call->bridge) {
			media_bridge_update(gw->me, call->bridge, &prm);
			return;
		}
		if (!ip->rtp)
			return;
		err = media_bridge_start(gw->me, &call->bridge, ip->rtp, &prm,
					 obj_ref(call));
		if (!err)
			ip->rtp = NULL; /* the bridge owns it now */
		else
			obj_deref(call);
	}
	if (err)
		gw_err("call %.8s: media bridge failed: %s", call->id,
		       strerror(err));
}

/* A SIP side's far end changed its session (re-INVITE, UPDATE): its RTP
 * goes to the new address, in the new law, or not at all while it holds.
 * A SIP -> SIP call is answered leg by leg: the other leg is not asked. */
static void media_changed(struct gw_call *call, struct side *s,
			  const struct sip_media *m)
{
	if (call->fax_t38) {
		/* Back to audio after a fax (T.38 D.3): the rest of the
		 * call stays a G.711 fax call. */
		gw_info("call %.8s: T.38 ended", call->id);
		call->fax_t38 = false;
		call->fax_passthrough = true;
	}
	static const char *const dirs[] = {"sendrecv", "sendonly", "recvonly",
					   "inactive"};

	gw_info("call %.8s: %s side's media now %s:%u PT %d %s", call->id,
		s == &call->in ? "calling" : "called", m->addr, m->port, m->pt,
		dirs[m->dir & 3]);
	set_remote(call, s, m);
	if (call->bridge)
		bridge_media(call);
}

/* The SIP side's session is T.38 now (its re-INVITE, or the 2xx to
 * ours); a refresh of it changes nothing in the running gateway. */
static void t38_changed(struct gw_call *call, const struct sip_t38 *t)
{
	if (!call->fax_t38)
		gw_info("call %.8s: T.38 to %s:%u (version %u, %u bit/s, %s)",
			call->id, t->addr, t->port, t->version,
			t->max_bitrate, t->ec == SIP_T38_EC_REDUNDANCY ?
			"redundancy" : "no EC");
	call->fax_t38 = true;
	call->fax_kind = FAX_T38;
	call->fax_remote = *t;
	if (call->bridge)
		bridge_media(call);
}

/* A G.711 fax: T.38 is off on the trunk, or was refused. */
static void fax_passthrough(struct gw_call *call, const char *why)
{
	gw_info("call %.8s: fax as G.711 pass-through (%s)", call->id, why);
	call->fax_passthrough = true;
	if (call->fax_kind == FAX_NONE)
		call->fax_kind = FAX_G711;
	if (call->bridge)
		bridge_media(call);
}

/* A fax tone on the call's bridge: T.38 if the SIP trunk takes it.  A
 * calling fax's CNG may come with early media: it waits for the answer
 * (a re-INVITE needs a confirmed dialog). */
static void fax_heard(struct gw_call *call, enum media_fax_tone tone,
		      bool from_tdm)
{
	const struct gw_trunk_cfg *t;
	struct side *ip;
	int err;

	if (call->state == CS_ENDED || call->fax_heard)
		return;
	if (call->state != CS_ANSWERED) {
		call->fax_early = (int)tone;
		call->fax_early_tdm = from_tdm;
		return;
	}
	call->fax_heard = true;
	ip = call->in.kind == DP_TRUNK_SIP ? &call->in : &call->out;
	gw_info("call %.8s: fax %s from the %s", call->id,
		tone == MEDIA_FAX_CNG ? "CNG" : "CED",
		from_tdm ? "PSTN" : "SIP side");
	if (call->fax_t38 || !ip->sip)
		return;
	t = gw_config_trunk(&call->gw->cfg, ip->trunk);
	if (!t || !t->t38) {
		fax_passthrough(call, "t38 = no");
		return;
	}
	err = sip_leg_offer_t38(ip->sip);
	if (err && err != EALREADY)
		fax_passthrough(call, strerror(err));
}

void gw_call_on_fax(void *arg, uint32_t bridge, enum media_fax_tone tone,
		    bool from_tdm)
{
	struct gw *gw = arg;
	struct gw_call *call;

	for (call = gw->calls; call; call = call->next)
		if (call->bridge == bridge)
			break;
	if (call)
		fax_heard(call, tone, from_tdm);
}

/* Before another attempt: the failed one's media goes away. */
static void unbridge_out(struct gw_call *call)
{
	if (call->bridge) {
		media_bridge_stop(call->gw->me, call->bridge);
		call->bridge = 0;
	}
	media_rtp_free(call->out.rtp);
	call->out.rtp = NULL;
	call->out.have_remote = false;
}

/* An RTP socket on @p addr (gw_media_addr: of the far end's family). */
static int alloc_rtp(struct gw_call *call, struct media_rtp **rtp,
		     const char *addr)
{
	struct gw_config *cfg = &call->gw->cfg;
	int err;

	err = media_rtp_alloc(rtp, call->gw->me, addr, cfg->rtp_min,
			      cfg->rtp_max);
	if (err)
		gw_err("call %.8s: no RTP port in %u-%u: %s", call->id,
		       cfg->rtp_min, cfg->rtp_max, strerror(err));
	return err;
}

/* ---- the caller's side hears what the callee's side does ------------------ */

/* Is there an attempt after the running one? */
static bool attempts_left(const struct gw_call *call)
{
	/* In the pass over trunks marked down, only those are left (the
	 * running one's bit is already cleared). */
	if (call->down_pass)
		return call->down_later != 0;
	return call->next_attempt < call->dec->nattempts || call->down_later;
}

static void xfer_progress(struct gw_call *call, bool alerting, bool media);
static bool xfer_answered(struct gw_call *call);

static void tell_in_progress(struct gw_call *call, bool alerting, bool media)
{
	if (call->state == CS_ANSWERED || call->state == CS_ENDED)
		return;
	if (call->xfer_of) {
		xfer_progress(call, alerting, media);
		return;
	}
	/* A SIP caller's early media cannot move to another attempt once
	 * bridged; an emergency call must keep its failover, so it hears
	 * ringing (180: the PBX plays it) unless this is its last path. */
	if (media && call->in.kind == DP_TRUNK_SIP &&
	    call->dec->emergency != DP_EMERG_NONE && attempts_left(call)) {
		gw_info("call %.8s: early media of an emergency attempt kept "
			"back: later attempts stay possible", call->id);
		media = false;
		alerting = true;
	}
	set_state(call, CS_EARLY);
	if (media) {
		bridge_media(call);
		/* The caller may hear this callee from now on: its early
		 * media path cannot move to another attempt. */
		if (call->in.kind == DP_TRUNK_SIP)
			call->early_media = true;
	}
	if (call->in.kind == DP_TRUNK_SIP) {
		if (media)
			sip_leg_reply(call->in.sip, 183, true, NULL);
		else if (alerting)
			sip_leg_reply(call->in.sip, 180, false, NULL);
	} else if (call->in.tdm) {
		if (alerting)
			tdm_call_alerting(call->in.tdm, media);
		else if (media)
			tdm_call_progress(call->in.tdm, true);
	}
}

static void call_answered(struct gw_call *call)
{
	struct gw_tstat *ts;

	if (call->state == CS_ANSWERED || call->state == CS_ENDED)
		return;
	if (call->xfer_of) {
		if (!xfer_answered(call))
			return;
	} else if (call->in.kind == DP_TRUNK_SIP) {
		/* The caller may have cancelled in this very loop pass (its
		 * CANCELLED event is still queued): then there is no 200 to
		 * send, and the far side must be cleared, not billed. */
		if (sip_leg_answer(call->in.sip)) {
			end_call(call, 16);
			hangup_out(call, 16);
			/* Not cancelled after all (e.g. no memory for the
			 * 200): the caller still needs a final response. */
			hangup_in(call, 16);
			return;
		}
		call->sip_status = 200;
	} else {
		struct tdm_number conn = {.digits = call->connected};

		if (call->out.kind == DP_TRUNK_SIP)
			call->sip_status = 200;
		if (conn.digits[0] == '+')
			conn.digits++;
		tdm_call_answer_connected(call->in.tdm, &conn);
	}
	call->answer_ms = tg_time_ms();
	event_del(call->ev_ring);
	event_del(call->ev_attempt);
	set_state(call, CS_ANSWERED);
	bridge_media(call);
	if (call->fax_early)
		fax_heard(call, (enum media_fax_tone)call->fax_early,
			  call->fax_early_tdm);
	ts = cur_is_enum(call) ? NULL : gw_tstat(call->gw, call->out.trunk);
	if (ts) {
		asr_note(ts, true);
		ts->fails_in_row = 0;
		if (call->out.kind == DP_TRUNK_SIP &&
		    call->dest_i < call->ndest)
			gw_trunk_target_result(
				call->gw, ts->name,
				(const struct sockaddr *)&call
					->dests[call->dest_i].sa, false);
	}
}

/* ---- attempts -------------------------------------------------------------- */

static void try_next(struct gw_call *call);

static void arm_attempt_timer(struct gw_call *call)
{
	const struct dp_decision *d = call->dec;
	unsigned ms = 0;
	struct timeval tv;

	event_del(call->ev_attempt);
	if (!call->got_trying && call->out.kind == DP_TRUNK_SIP)
		ms = d->t_trying_ms;
	else if (!call->got_progress)
		ms = d->t_progress_ms;
	if (!ms)
		return;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_add(call->ev_attempt, &tv);
}

static void arm_ring_timer(struct gw_call *call)
{
	unsigned ms = call->dec->t_answer_ms
			      ? call->dec->t_answer_ms
			      : call->gw->cfg.ring_timeout * 1000;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	/* A PSAP that queues a 911 call rings for as long as it takes: no
	 * timer of ours gives up on it (the caller may hang up). */
	if (call->dec->emergency != DP_EMERG_NONE)
		return;
	event_add(call->ev_ring, &tv);
}

/* Tell the caller how it ended: the most meaningful failure. */
static void fail_call(struct gw_call *call, int fallback_cause)
{
	int cause = fallback_cause;

	if (call->nres) {
		size_t i = dp_failure_pick(call->res, call->nres);
		const struct dp_attempt_result *r = &call->res[i];

		cause = r->q850_cause ? r->q850_cause
			: r->sip_status ? gw_sip_to_cause(r->sip_status)
					: 102;
		/* A SIP callee's status is the one to record, and a SIP
		 * caller gets it as it came (a 6xx is global, RFC 3261
		 * 16.7), the Q.850 cause riding in the Reason header. */
		if (r->sip_status >= 300)
			call->sip_status = r->sip_status;
		else if (call->in.kind == DP_TRUNK_SIP)
			call->sip_status = gw_cause_to_sip(cause);
	}
	/* An emergency call nobody took: 503, so that the PBX (Teams
	 * expects it) tries its own way out; the cause stays in Reason. */
	if (call->dec->emergency != DP_EMERG_NONE &&
	    call->in.kind == DP_TRUNK_SIP)
		call->sip_status = 503;
	end_call(call, cause);
	hangup_out(call, cause);
	hangup_in(call, cause);
}

static int place_sip(struct gw_call *call, const struct gw_trunk_cfg *t,
		     const struct dp_attempt *a);
static void note_attempt(struct gw_call *call, const struct dp_attempt *a,
			 const char *outcome);

/*
 * RFC 3263 4.3: a target that did not answer, answered 408 or 503, or
 * failed to take the request (a transport error reads as 503) is
 * followed by the next target of the same trunk, within the attempt,
 * before the route's next trunk.  Not once the callee's side showed
 * progress: then it is the callee that failed, not the server.
 * @return true when the attempt goes on at a next target.
 */
static bool next_target(struct gw_call *call,
			const struct dp_attempt_result *r, const char *why)
{
	struct gw *gw = call->gw;
	const struct gw_trunk_cfg *t;
	const struct dp_attempt *a;

	if (call->out.kind != DP_TRUNK_SIP || call->cur < 0 ||
	    cur_is_enum(call) || call->state == CS_ENDED ||
	    call->early_media || call->got_progress || call->ovo != OVO_OFF ||
	    call->dest_i + 1 >= call->ndest)
		return false;
	if (r->sip_status != DP_SIP_NO_RESPONSE && r->sip_status != 408 &&
	    r->sip_status != 503)
		return false;
	t = gw_config_trunk(&gw->cfg, call->out.trunk);
	if (!t || t->kind != GW_TRUNK_SIP)
		return false;
	a = &call->dec->attempts[call->cur];
	gw_trunk_target_result(gw, t->name, (const struct sockaddr *)&call
						     ->dests[call->dest_i].sa,
			       true);
	attempt_done(call, "failover: target", r->sip_status, r->q850_cause);
	gw_notice("call %.8s: attempt %d on %s: target %s failed (%s; SIP "
		  "%d): trying its next target", call->id, call->cur + 1,
		  t->name, call->dests[call->dest_i].label, why,
		  r->sip_status);
	event_del(call->ev_attempt);
	hangup_out(call, r->q850_cause ? r->q850_cause : 102);
	unbridge_out(call);
	while (++call->dest_i < call->ndest) {
		note_attempt(call, a, NULL);
		call->got_trying = call->got_progress = false;
		if (!place_sip(call, t, a)) {
			call->out_live = true;
			count_out(call, true);
			arm_attempt_timer(call);
			return true;
		}
		attempt_done(call, "failover: target", 0, 47);
	}
	return false;
}

/* The running attempt failed as @p r says: fail over or give up. */
static void attempt_failed(struct gw_call *call,
			   const struct dp_attempt_result *r,
			   const char *why)
{
	enum dp_failure_class cls = dp_failover_result(call->dec->failover, r);
	/* An ENUM destination is not the trunk it borrowed settings from:
	 * its silence says nothing of that trunk's health. */
	struct gw_tstat *ts = cur_is_enum(call)
				      ? NULL
				      : gw_tstat(call->gw, call->out.trunk);
	/* An emergency call goes on to its next route whatever the
	 * failure: even "busy" from one path is no answer for 911. */
	bool final = (cls == DP_FAIL_FINAL &&
		      call->dec->emergency == DP_EMERG_NONE) ||
		     call->early_media || call->state == CS_ENDED ||
		     call->ovl_acked || call->ovo != OVO_OFF;

	if (next_target(call, r, why))
		return;
	if (ts && call->out.kind == DP_TRUNK_SIP && call->dest_i < call->ndest)
		gw_trunk_target_result(call->gw, ts->name,
				       (const struct sockaddr *)&call
					       ->dests[call->dest_i].sa, true);
	if (ts) {
		asr_note(ts, false);
		if (r->sip_status == DP_SIP_NO_RESPONSE && !r->q850_cause &&
		    call->out.kind == DP_TRUNK_SIP) {
			const struct gw_trunk_cfg *t =
				gw_config_trunk(&call->gw->cfg, ts->name);

			if (t && t->down_after &&
			    ++ts->fails_in_row >= t->down_after) {
				ts->down_until_ms =
					tg_mono_ms() + t->down_time * 1000LL;
				gw_warn("trunk %s: no response to %u attempts "
					"in a row; down for %u s", ts->name,
					ts->fails_in_row, t->down_time);
			}
		} else {
			ts->fails_in_row = 0;
		}
	}
	if (call->nres < DP_MAX_ATTEMPTS)
		call->res[call->nres++] = *r;
	attempt_done(call, final ? "final" : "failover", r->sip_status,
		     r->q850_cause);
	gw_notice("call %.8s: attempt %d on %s failed (%s; SIP %d, cause %d)%s",
		  call->id, call->cur + 1, call->out.trunk, why,
		  r->sip_status, r->q850_cause,
		  final ? "" : ": trying the next");
	event_del(call->ev_attempt);
	if (final) {
		fail_call(call, r->q850_cause ? r->q850_cause : 102);
		return;
	}
	hangup_out(call, r->q850_cause ? r->q850_cause : 102);
	unbridge_out(call);
	try_next(call);
}

static void note_attempt(struct gw_call *call, const struct dp_attempt *a,
			 const char *outcome)
{
	struct cdr_attempt *ca;

	if (call->natt >= DP_MAX_ATTEMPTS)
		return;
	ca = &call->att[call->natt++];
	memset(ca, 0, sizeof(*ca));
	tg_strlcpy(ca->trunk, a->trunk, sizeof(ca->trunk));
	tg_strlcpy(ca->called, a->user, sizeof(ca->called));
	ca->start_ms = tg_time_ms();
	if (outcome) {
		ca->end_ms = ca->start_ms;
		tg_strlcpy(ca->outcome, outcome, sizeof(ca->outcome));
	}
}

static int ovl_setup(struct gw_call *call, struct tdm_span *span,
		     unsigned chan, const struct tdm_number *calling,
		     const struct tdm_number *called,
		     const struct tdm_number *redir);

/*
 * Hunt a B-channel over trunk @p t's spans by its policy, and send the
 * SETUP there.  The group's channels are numbered in span order, then
 * channel order; round-robin goes on after the last one it used, LRU
 * takes the channel idle longest (one never used first).  A drained span
 * (for ordinary calls), one whose idle channels are all kept for
 * emergency calls, or one whose D-channel is down is passed over.
 * @return 0; EBUSY no channel; ENOTCONN every span down.
 */
static int hunt_tdm(struct gw_call *call, const struct gw_trunk_cfg *t,
		    bool emergency, const struct tdm_number *calling,
		    const struct tdm_number *called,
		    const struct tdm_number *redir)
{
	struct gw *gw = call->gw;
	struct tdm_span *spans[GW_MAX_SPANS];
	unsigned base[GW_MAX_SPANS + 1], total = 0, best = UINT_MAX;
	struct gw_tstat *ts = gw_tstat(gw, t->name);
	int64_t best_idle = INT64_MAX;
	int err = ENOTCONN;

	for (unsigned i = 0; i < t->nspans; i++) {
		const struct gw_span_cfg *sc = gw_config_span(&gw->cfg,
							      t->spans[i]);
		struct tdm_span *span = gw_span(gw, t->spans[i]);

		base[i] = total;
		spans[i] = NULL;
		if (!span)
			continue;
		total += tdm_span_nchan(span);
		if (!tdm_span_dchan_up(span))
			continue;
		if (!emergency && !gw_span_open(gw, t->spans[i])) {
			gw_dbg(GW_DBG_CALL, "call %.8s: span %d is drained",
			       call->id, t->spans[i]);
			err = EBUSY; /* no circuit for it: cause 34 */
			continue;
		}
		/* The last idle channels are kept for emergency calls and
		 * PSAP callbacks. */
		if (!emergency && sc && sc->e911_reserve &&
		    tdm_span_idle_count(span) <= sc->e911_reserve) {
			gw_dbg(GW_DBG_CALL, "call %.8s: span %d: only reserved "
			       "channels left", call->id, t->spans[i]);
			err = EBUSY;
			continue;
		}
		spans[i] = span;
		err = EBUSY; /* up: from now on, no channel means busy */
	}
	base[t->nspans] = total;
	if (t->hunt == GW_HUNT_LRU) {
		/* One pass for the channel idle longest; then only it. */
		for (unsigned k = 0; k < total; k++) {
			unsigned i = 0;
			int64_t since;

			while (base[i + 1] <= k)
				i++;
			if (!spans[i] || !tdm_chan_free(spans[i], k - base[i] + 1))
				continue;
			since = tdm_chan_idle_since(spans[i], k - base[i] + 1);
			if (since < best_idle) {
				best_idle = since;
				best = k;
			}
		}
	}
	for (unsigned n = 0; n < total; n++) {
		unsigned k, i = 0, c;
		int e;

		switch (t->hunt) {
		case GW_HUNT_DESCENDING:
			k = total - 1 - n;
			break;
		case GW_HUNT_ROUND_ROBIN:
			k = ((ts ? ts->rr_next : 0) + n) % total;
			break;
		case GW_HUNT_LRU:
			if (best == UINT_MAX)
				return err;
			k = best;
			n = total; /* one try: a refusal ends the hunt */
			break;
		default:
			k = n;
			break;
		}
		while (base[i + 1] <= k)
			i++;
		c = k - base[i] + 1;
		if (!spans[i] || !tdm_chan_free(spans[i], c))
			continue;
		e = ovl_setup(call, spans[i], c, calling, called, redir);
		if (!e) {
			call->out.span = tdm_span_id(spans[i]);
			call->out.chan = (int)c;
			if (ts)
				ts->rr_next = k + 1;
			return 0;
		}
		if (e == ENOTCONN)
			spans[i] = NULL;
		else if (e != EBUSY)
			return e;
	}
	return err;
}

/* An attempt on a TDM trunk: the numbers as a PRI wants them, then the
 * hunt. */
static int place_tdm(struct gw_call *call, const struct gw_trunk_cfg *t,
		     const struct dp_attempt *a)
{
	struct tdm_number called = {
		.digits = a->called.digits,
		.plan = (int)a->called.ton << 4 | (int)a->called.npi,
	};
	struct tdm_number calling = {
		.digits = a->calling.digits,
		.plan = (int)a->calling.ton << 4 | (int)a->calling.npi,
		.restricted = a->calling.pres == DP_PRES_RESTRICTED,
		/* The caller's name (From display, a PRI's calling name);
		 * an emergency call's ELIN goes without it. */
		.name = call->dec->emergency == DP_EMERG_NONE
			? call->calling_name : NULL,
	};
	struct tdm_number redir = {
		.digits = a->diversion.digits,
		.plan = (int)a->diversion.ton << 4 | (int)a->diversion.npi,
		.restricted = a->diversion.pres == DP_PRES_RESTRICTED ||
			      call->div_restricted,
		.reason = call->div_reason,
	};
	bool emergency = call->dec->emergency != DP_EMERG_NONE ||
			 call->dec->callback;

	/* Digits only on a PRI: a '+' is the TON's job. */
	if (called.digits[0] == '+')
		called.digits++;
	if (calling.digits[0] == '+')
		calling.digits++;
	if (redir.digits[0] == '+')
		redir.digits++;
	return hunt_tdm(call, t, emergency, &calling, &called, &redir);
}

/* Every field of a zone escaped at its worst (&quot; is 6 bytes) fits. */
#define PIDF_MAX 16384

/* The first send of a SIP attempt takes its trunk's targets in the order
 * to try them; a name that did not resolve gives none: EHOSTUNREACH. */
static int pick_dest(struct gw_call *call, const struct gw_trunk_cfg *t)
{
	struct gw_dest d[GW_MAX_TARGETS];
	unsigned n;

	if (call->ndest)
		return 0;
	call->dest_i = 0;
	n = gw_trunk_targets(call->gw, t->name, d, GW_MAX_TARGETS);
	if (n) {
		struct gw_dest *m = realloc(call->dests, n * sizeof(*m));

		if (!m)
			return ENOMEM;
		memcpy(m, d, n * sizeof(*m));
		call->dests = m;
		call->ndest = n;
	}
	if (!call->ndest && call->natt) {
		int e = gw_trunk_dns_error(call->gw, t->name);

		snprintf(call->att[call->natt - 1].target,
			 sizeof(call->att[0].target), "dns %.60s: %.50s",
			 t->host, e ? sip_dns_strerror(e) : "no target yet");
	}
	return call->ndest ? 0 : EHOSTUNREACH;
}

/*
 * What an outbound INVITE on trunk @p t (NULL: [sip]'s codecs) offers:
 * the trunk's codecs in its order, except that a call from a SIP leg
 * puts that leg's codec first when the trunk has it, so the two legs
 * share a codec and the relay need not transcode.  @return how many.
 */
_Static_assert(GW_MAX_CODECS <= SIP_MAX_CODECS, "a trunk's codecs fit a leg");

static unsigned offer_codecs(const struct gw_call *call,
			     const struct gw_trunk_cfg *t, int *out)
{
	unsigned n = gw_config_codecs(&call->gw->cfg, t, out), i;

	if (call->in.kind != DP_TRUNK_SIP || call->codec < 0)
		return n;
	for (i = 0; i < n && out[i] != call->codec; i++)
		;
	if (i < n) {
		memmove(out + 1, out, i * sizeof(*out));
		out[0] = call->codec;
	}
	return n;
}

static int place_sip(struct gw_call *call, const struct gw_trunk_cfg *t,
		     const struct dp_attempt *a)
{
	struct gw *gw = call->gw;
	struct sip_call_params p = {
		.from_user = a->calling.digits,
		.from_display = call->calling_name,
		.to_user = a->user,
		.diversion = a->diversion.digits,
		.diversion_reason = gw_redirect_to_sip(call->div_reason),
		.history_info = t->history_info,
		.max_forwards = call->in.kind == DP_TRUNK_SIP ? call->max_fwd
							     : 0,
		.dtmf_events = t->dtmf == GW_DTMF_RFC4733,
		.srtp = srtp_offer(t),
		.ptime = gw_config_ptime(&gw->cfg, t),
	};
	int codecs[GW_MAX_CODECS];
	int err;

	char pai[40], *pidf = NULL, user[128];
	const struct e911_zone_row *loc;
	const struct gw_dest *dst;
	struct gw_dest reg;

	if (t->proxy_len) {
		p.proxy = (const struct sockaddr *)&t->proxy;
		p.proxy_len = t->proxy_len;
	}

	if (t->registrar) {
		/* A PBX registered with us: where its binding came from. */
		memset(&reg, 0, sizeof(reg));
		err = gw_reg_contact(gw, t->name, &reg.sa, &reg.len);
		if (err)
			return err;
		tg_strlcpy(reg.label, "registered contact", sizeof(reg.label));
		reg.transport = (enum sip_transport)t->transport;
		dst = &reg;
	} else {
		err = pick_dest(call, t);
		if (err)
			return err;
		dst = &call->dests[call->dest_i];
	}

	if (call->ovo != OVO_OFF) {
		/* RFC 3578: the routed number with the digits that came
		 * since; a later INVITE continues the first one's dialog
		 * identifiers. */
		snprintf(user, sizeof(user), "%s%s", a->user,
			 call->called + call->ovo_base);
		p.to_user = user;
		call->ovo_sent = strlen(call->called);
		if (*call->ovo_cid) {
			p.call_id = call->ovo_cid;
			p.from_tag = call->ovo_tag;
			p.cseq = call->ovo_cseq + 1;
		}
	}
	p.media_addr = gw_media_addr(&gw->cfg, dst->sa.ss_family);
	if (alloc_rtp(call, &call->out.rtp, p.media_addr))
		return EAGAIN;
	p.media_port = media_rtp_port(call->out.rtp);
	/* Who diverted the call, not to be shown (RFC 5806 privacy): said
	 * so to a trusted trunk, not told to an untrusted one at all. */
	if (call->div_restricted) {
		p.diversion_privacy = true;
		if (!t->trusted)
			p.diversion = NULL;
	}
	/* A caller who withheld the number (PRI presentation restricted,
	 * Privacy): anonymous From and Privacy: id; a trusted trunk still
	 * learns who it is from P-Asserted-Identity (RFC 3325 9.3). */
	if (a->calling.pres == DP_PRES_RESTRICTED &&
	    call->dec->emergency == DP_EMERG_NONE) {
		p.privacy = true;
		p.from_display = NULL;
		/* Only a number we can vouch for is asserted. */
		if (t->trusted && call->calling_asserted &&
		    *a->calling.digits)
			p.pai_user = a->calling.digits;
	}
	/* The trunk's identity header: P-Asserted-Identity (above), or a
	 * Remote-Party-ID on every call that tells a trusted trunk even a
	 * withheld number (privacy=full), or nothing.  Emergency calls
	 * keep their PAI: E911 providers need it. */
	if (call->dec->emergency == DP_EMERG_NONE && t->identity != GW_ID_PAI)
		p.pai_user = NULL;
	if (call->dec->emergency == DP_EMERG_NONE &&
	    t->identity == GW_ID_RPID && *a->calling.digits &&
	    (t->trusted || a->calling.pres != DP_PRES_RESTRICTED)) {
		p.rpid_user = a->calling.digits;
		p.rpid_screen = call->calling_asserted;
	}
	if (call->dec->emergency != DP_EMERG_NONE) {
		/* RFC 6442 / RFC 3325: the callback number is the ELIN (or
		 * the caller's own number), asserted; the location by
		 * value where the trunk takes it. */
		p.emergency = true;
		snprintf(pai, sizeof(pai), "+%s",
			 *call->elin ? call->elin
				     : call->dec->calling.digits);
		if (strlen(pai) > 1)
			p.pai_user = pai;
		p.pai_form = (enum sip_pai_form)t->e911_pai;
		loc = call_location(call);
		/* The id the provider knows the caller's endpoint by (its
		 * dynamic location routing), in From and PAI alike. */
		if (t->e911_id_location && loc && *loc->location_id &&
		    !strchr(loc->location_id, ':')) {
			p.from_user = loc->location_id;
			p.pai_user = loc->location_id;
		}
		/* By reference: the provider's id for the address, when it
		 * is a URI (or the reference that came with the call, when
		 * that is preferred or all there is); otherwise by value all
		 * the same. */
		if (t->e911_reference && *call->in_geo &&
		    (gw->cfg.prefer_incoming || !loc ||
		     !strchr(loc->location_id, ':')))
			p.geo_uri = call->in_geo;
		else if (t->e911_reference && loc &&
			 strchr(loc->location_id, ':'))
			p.geo_uri = loc->location_id;
		else if (t->e911_pidf && !loc && *call->in_geo)
			p.geo_uri = call->in_geo;
		else if ((t->e911_pidf || t->e911_reference) && loc &&
			 (pidf = malloc(PIDF_MAX))) {
			char entity[96], dev[48];
			int e;

			snprintf(entity, sizeof(entity), "pres:%s@%s", pai,
				 gw->cfg.sip_bind);
			snprintf(dev, sizeof(dev), "tel:%s", pai);
			e = e911_pidf(loc, entity, dev, "caller", tg_time_ms(),
				      pidf, PIDF_MAX);
			if (e) {
				gw_err("call %.8s: no PIDF-LO for zone %s: %s; "
				       "the call goes without it", call->id,
				       call->e911_zone, strerror(e));
				free(pidf);
				pidf = NULL;
			}
			p.pidf = pidf;
			p.pidf_id = "caller";
		}
	}
	p.auth_user = t->auth_user;
	p.auth_password = t->auth_password;
	p.auth_realm = t->auth_realm;
	p.ncodecs = offer_codecs(call, t, codecs);
	p.codecs = codecs;
	p.session_expires = gw_session_expires(&gw->cfg, t);
	p.min_se = gw_min_se(&gw->cfg, t);
	/* The proxy is spoken to over the trunk's transport; a target over
	 * its own (the trunk's, or what NAPTR/SRV chose for a name). */
	err = t->proxy_len
		      ? gw_trunk_transport(gw, t, p.proxy, p.proxy_len,
					   (enum sip_transport)t->transport)
		      : gw_trunk_transport(gw, t,
					   (const struct sockaddr *)&dst->sa,
					   dst->len, dst->transport);
	if (!err)
		err = sip_leg_invite(&call->out.sip, gw->ua,
				     (const struct sockaddr *)&dst->sa,
				     dst->len, &p, on_sip_out, call);
	free(pidf);
	if (!err)
		leg_t38(call->out.sip, t);
	/* A named trunk's CDR attempt says which of its targets it was. */
	if (*t->host && call->natt)
		tg_strlcpy(call->att[call->natt - 1].target, dst->label,
			   sizeof(call->att[0].target));
	if (err) {
		gw_err("call %.8s: INVITE to %s failed: %s", call->id,
		       dst->label, strerror(err));
		media_rtp_free(call->out.rtp);
		call->out.rtp = NULL;
		return err;
	}
	obj_ref(call); /* held by the leg's handler until CLOSED */
	sip_leg_allow_refer(call->out.sip, t->transfer);
	if (call->in.kind == DP_TRUNK_TDM)
		tg_strlcpy(call->call_id, sip_leg_call_id(call->out.sip),
			   sizeof(call->call_id));
	return 0;
}

/* Attempt @p i becomes the running one, on a trunk of kind @p kind. */
static void begin_attempt(struct gw_call *call, unsigned i,
			  enum dp_trunk_kind kind)
{
	const struct dp_attempt *a = &call->dec->attempts[i];

	call->cur = (int)i;
	call->got_trying = call->got_progress = false;
	call->ndest = call->dest_i = 0;
	/* Overlap toward a PRI is the attempt's own (ovl_setup). */
	ovl_set(call, OVL_OFF);
	call->out.kind = kind;
	tg_strlcpy(call->out.trunk, a->trunk, sizeof(call->out.trunk));
	tg_strlcpy(call->out_called, a->called.digits,
		   sizeof(call->out_called));
	tg_strlcpy(call->out_calling, a->calling.digits,
		   sizeof(call->out_calling));
	call->out.span = call->out.chan = 0;
	note_attempt(call, a, NULL);
}

/* ---- ENUM ------------------------------------------------------------------ */

/* The ENUM attempt found nothing it can use: on to the next attempt.  Not
 * a result of its own: "no ENUM record" must not outrank what the trunks
 * behind it answer. */
static void enum_skip(struct gw_call *call, const char *outcome,
		      const char *detail)
{
	call->enum_wait = false;
	attempt_done(call, outcome, 0, 0);
	gw_info("call %.8s: %s (%s): trying the next", call->id, outcome,
		detail);
	try_next(call);
}

static void on_enum_addr(int err, const struct sockaddr *sa, socklen_t len,
			 void *arg)
{
	struct gw_call *call = arg;
	struct gw *gw = call->gw;
	const struct dp_attempt *a;
	int e;

	if (call->state == CS_ENDED || !call->enum_wait)
		goto out;
	if (err) {
		enum_skip(call, "enum: host not found", strerror(err));
		goto out;
	}
	a = &call->dec->attempts[call->cur];
	{
		/* The URI's TCP or TLS: the INVITE goes over it (a TLS
		 * host's certificate must name the URI's host).  UDP
		 * changes nothing: a trunk's setting for the same address
		 * stays as it is for that trunk's dialogs. */
		enum sip_transport tp = SIP_TRANSPORT_UDP;
		char host[256];
		uint16_t port;

		e = sip_uri_target(call->enum_uri, host, sizeof(host), &port,
				   &tp);
		if (!e && tp != SIP_TRANSPORT_UDP)
			e = sip_ua_set_transport(gw->ua, sa, len, tp,
						 tp == SIP_TRANSPORT_TLS
							 ? host
							 : NULL);
		if (e) {
			enum_skip(call, "enum: transport not served",
				  call->enum_uri);
			goto out;
		}
	}
	if (alloc_rtp(call, &call->out.rtp,
		      gw_media_addr(&gw->cfg, sa->sa_family))) {
		enum_skip(call, "enum: no RTP port", call->enum_uri);
		goto out;
	}
	{
		struct sip_call_params p = {
			.from_user = a->calling.digits,
			.to_uri = call->enum_uri,
			.diversion = a->diversion.digits,
			.diversion_reason =
				gw_redirect_to_sip(call->div_reason),
			.media_addr = gw_media_addr(&gw->cfg, sa->sa_family),
			.media_port = media_rtp_port(call->out.rtp),
			/* An ENUM host is anyone on the Internet: a
			 * withheld number stays withheld, unasserted. */
			.privacy = a->calling.pres == DP_PRES_RESTRICTED &&
				   call->dec->emergency == DP_EMERG_NONE,
			.max_forwards = call->in.kind == DP_TRUNK_SIP
						? call->max_fwd : 0,
		};
		int codecs[GW_MAX_CODECS];

		if (call->div_restricted)
			p.diversion = NULL;
		p.ncodecs = offer_codecs(call, NULL, codecs);
		p.codecs = codecs;

		e = sip_leg_invite(&call->out.sip, gw->ua, sa, len, &p,
				   on_sip_out, call);
	}
	if (e) {
		media_rtp_free(call->out.rtp);
		call->out.rtp = NULL;
		enum_skip(call, "enum: INVITE failed", strerror(e));
		goto out;
	}
	obj_ref(call); /* held by the leg's handler until CLOSED */
	call->enum_wait = false;
	if (call->in.kind == DP_TRUNK_TDM)
		tg_strlcpy(call->call_id, sip_leg_call_id(call->out.sip),
			   sizeof(call->call_id));
	call->out_live = true;
	count_out(call, true);
	arm_attempt_timer(call);
	gw_info("call %.8s: attempt %d: ENUM gave %s", call->id,
		call->cur + 1, call->enum_uri);
out:
	obj_deref(call); /* the lookup's */
}

static void on_enum_naptr(int err, const struct sip_naptr *recs, size_t n,
			  void *arg)
{
	struct gw_call *call = arg;
	struct dp_naptr dn[SIP_DNS_MAX_NAPTR];
	char host[256], why[160];
	size_t k = 0;
	uint16_t port;
	int e;

	if (call->state == CS_ENDED || !call->enum_wait)
		goto out;
	if (err) {
		enum_skip(call, err == ENOENT	     ? "enum: no record"
				: err == ETIMEDOUT ? "enum: DNS timeout"
						   : "enum: DNS failure",
			  call->dec->enum_name);
		goto out;
	}
	for (size_t i = 0; i < n && k < SIP_DNS_MAX_NAPTR; i++) {
		struct dp_naptr *d = &dn[k];

		/* A field too long to keep whole is skipped, never cut:
		 * a cut regexp would be another regexp. */
		if (strlen(recs[i].flags) >= sizeof(d->flags) ||
		    strlen(recs[i].service) >= sizeof(d->service) ||
		    strlen(recs[i].regexp) >= sizeof(d->regexp) ||
		    strlen(recs[i].replacement) >= sizeof(d->replacement))
			continue;
		d->order = recs[i].order;
		d->preference = recs[i].preference;
		strcpy(d->flags, recs[i].flags);
		strcpy(d->service, recs[i].service);
		strcpy(d->regexp, recs[i].regexp);
		strcpy(d->replacement, recs[i].replacement);
		k++;
	}
	why[0] = '\0';
	e = dp_enum_select(call->dec->called.digits, dn, k, call->enum_uri,
			   sizeof(call->enum_uri), why, sizeof(why));
	if (e) {
		enum_skip(call, "enum: no SIP URI", *why ? why
							  : call->dec->enum_name);
		goto out;
	}
	e = sip_uri_target(call->enum_uri, host, sizeof(host), &port, NULL);
	if (e) {
		enum_skip(call, "enum: unusable URI", call->enum_uri);
		goto out;
	}
	if (call->natt)
		tg_strlcpy(call->att[call->natt - 1].target, call->enum_uri,
			   sizeof(call->att[0].target));
	/* The lookup's reference goes on with it. */
	sip_dns_addr(call->gw->dns, host, port, on_enum_addr, call);
	return;
out:
	obj_deref(call); /* the lookup's */
}

/* Start ENUM attempt @p i: true when a lookup is under way (it goes on to
 * the next attempt itself), false when it cannot be tried. */
static bool start_enum(struct gw_call *call, unsigned i,
		       const struct gw_trunk_cfg *t)
{
	const struct dp_attempt *a = &call->dec->attempts[i];

	if (!t || t->kind != GW_TRUNK_SIP || !call->gw->dns) {
		note_attempt(call, a, "skipped: enum");
		return false;
	}
	begin_attempt(call, i, DP_TRUNK_SIP);
	call->enum_uri[0] = '\0';
	call->enum_wait = true;
	obj_ref(call);
	sip_dns_naptr(call->gw->dns, call->dec->enum_name, on_enum_naptr,
		      call);
	return true;
}

/* Clear a call that holds a B-channel on one of @p t's spans and is no
 * emergency call itself: Q.850 cause 8 (preemption) on both its sides. */
static bool preempt(struct gw_call *call, const struct gw_trunk_cfg *t)
{
	struct gw *gw = call->gw;

	for (struct gw_call *v = gw->calls; v; v = v->next) {
		bool on_span = false;

		if (v == call || v->state == CS_ENDED ||
		    v->dec->emergency != DP_EMERG_NONE || v->dec->callback)
			continue;
		for (unsigned s = 0; s < t->nspans; s++)
			if ((v->in.tdm && v->in.span == t->spans[s]) ||
			    (v->out.tdm && v->out.span == t->spans[s]))
				on_span = true;
		if (!on_span)
			continue;
		gw_warn("call %.8s (%s -> %s) pre-empted for EMERGENCY call "
			"%.8s: every B-channel of trunk %s was busy", v->id,
			v->calling, v->called, call->id, t->name);
		call->preempted = true;
		obj_ref(v);
		end_call(v, 8);
		hangup_out(v, 8);
		hangup_in(v, 8);
		maybe_reap(v);
		obj_deref(v);
		return true;
	}
	return false;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct gw_call *call = arg;

	(void)fd;
	(void)what;
	if (call->state == CS_ENDED || call->out_live)
		return;
	obj_ref(call);
	try_next(call);
	maybe_reap(call);
	obj_deref(call);
}

static bool ovo_trunk(struct gw *gw, const struct dp_attempt *a);

/* Start the next attempt that can be tried; give up when none is left. */
static void try_next(struct gw_call *call)
{
	struct gw *gw = call->gw;
	struct dp_decision *d = call->dec;
	bool emergency = d->emergency != DP_EMERG_NONE || d->callback;

 again:
	while (call->next_attempt < d->nattempts) {
		unsigned i = call->next_attempt++;
		const struct dp_attempt *a = &d->attempts[i];
		const struct gw_trunk_cfg *t = gw_config_trunk(&gw->cfg,
							       a->trunk);
		enum dp_trunk_state st = gw_trunk_state(a->trunk, gw);
		struct gw_tstat *ts = gw_tstat(gw, a->trunk);
		struct dp_attempt_result r = {DP_SIP_NO_RESPONSE, 0};
		int err;

		if (call->down_pass) {
			if (!(call->down_later & 1u << i))
				continue;
			/* Marked down by our guess from unanswered calls or
			 * OPTIONS, not known dead: worth a try for 911. */
			call->down_later &= ~(1u << i);
			if (st == DP_TRUNK_DOWN)
				st = DP_TRUNK_AVAILABLE;
		} else if (emergency && t && t->kind == GW_TRUNK_SIP &&
			   st == DP_TRUNK_DOWN && i < 32) {
			gw_info("call %.8s: trunk %s is marked down: tried "
				"last", call->id, a->trunk);
			call->down_later |= 1u << i;
			continue;
		}
		if (call->ovo != OVO_OFF && !ovo_trunk(gw, a)) {
			/* Only an RFC 3578 trunk takes a number in pieces. */
			note_attempt(call, a, "skipped: overlap");
			continue;
		}
		if (a->source == DP_SRC_ENUM) {
			if (start_enum(call, i, t))
				return;
			continue;
		}
		if (t && ts && ts->drained && !emergency) {
			gw_info("call %.8s: trunk %s skipped (drained)",
				call->id, a->trunk);
			note_attempt(call, a, "skipped: drained");
			r.q850_cause = 34;
			if (call->nres < DP_MAX_ATTEMPTS)
				call->res[call->nres++] = r;
			continue;
		}
		if (!t || st == DP_TRUNK_DOWN ||
		    (st == DP_TRUNK_FULL && !emergency)) {
			gw_info("call %.8s: trunk %s skipped (%s)", call->id,
				a->trunk, !t ? "gone"
				: st == DP_TRUNK_DOWN ? "down" : "full");
			note_attempt(call, a, !t ? "skipped: gone"
				     : st == DP_TRUNK_DOWN ? "skipped: down"
							   : "skipped: full");
			/* A trunk we could not use is a route failure. */
			r.q850_cause = st == DP_TRUNK_FULL ? 34 : 38;
			if (call->nres < DP_MAX_ATTEMPTS)
				call->res[call->nres++] = r;
			continue;
		}
		/* The config may have changed the trunk's type since the
		 * decision (a reload): dial and bridge by what it is now. */
		begin_attempt(call, i, t->kind == GW_TRUNK_TDM ? DP_TRUNK_TDM
							       : DP_TRUNK_SIP);
		if (ts)
			ts->out_n++;
		err = t->kind == GW_TRUNK_TDM ? place_tdm(call, t, a)
					      : place_sip(call, t, a);
		if (!err) {
			call->out_live = true;
			count_out(call, true);
			arm_attempt_timer(call);
			gw_dbg(GW_DBG_CALL, "call %.8s: attempt %u: %s -> %s "
			       "on %s", call->id, i + 1, a->calling.digits,
			       a->called.digits, a->trunk);
			return;
		}
		/* An emergency call and every B-channel busy: clear an
		 * ordinary call on the trunk (once per attempt), then try
		 * again while its channel is released. */
		if (call->preempt_for != i) {
			call->preempt_for = i;
			call->preempted = false;
			call->preempt_waits = 0;
		}
		if (err == EBUSY && emergency && t->kind == GW_TRUNK_TDM &&
		    (call->preempted || preempt(call, t)) &&
		    call->preempt_waits++ < 10) {
			struct timeval tv = {0, 200000};

			/* One record for the waits of one attempt, so that
			 * the CDR keeps room for what follows. */
			if (call->natt >= 2 &&
			    !strcmp(call->att[call->natt - 2].outcome,
				    "preempting") &&
			    !strcmp(call->att[call->natt - 2].trunk, a->trunk))
				call->natt--;
			else
				attempt_done(call, "preempting", 0, 34);
			call->next_attempt = i;
			evtimer_add(call->ev_retry, &tv);
			return;
		}
		/* It failed before anything was sent.  A name with no
		 * target reads as a transport failure: 503 (RFC 3261
		 * 8.1.3.1), the cause that status maps to; a registrar
		 * trunk without a binding is a subscriber absent (20). */
		if (err == EHOSTUNREACH)
			r.sip_status = 503;
		else
			r.q850_cause = err == EBUSY ? 34
				       : err == ENOTCONN ? 38
				       : err == ENXIO ? 20 : 47;
		if (call->nres < DP_MAX_ATTEMPTS)
			call->res[call->nres++] = r;
		attempt_done(call, "failover", r.sip_status, r.q850_cause);
		gw_notice("call %.8s: trunk %s: %s", call->id, a->trunk,
			  err == EBUSY ? "no idle B-channel"
			  : err == ENOTCONN ? "every span is down"
			  : err == ENXIO ? "no registered contact"
			  : err == EHOSTUNREACH ? "its name has no target "
						  "(DNS)"
						: strerror(err));
		if (dp_failover_result(d->failover, &r) == DP_FAIL_FINAL &&
		    !emergency)
			break;
	}
	if (call->down_later && !call->down_pass) {
		call->down_pass = true;
		call->next_attempt = 0;
		goto again;
	}
	/* The CDR names the last trunk tried (or none). */
	fail_call(call, 34);
}

/* An emergency call leaves with its zone's ELIN as the calling number. */
static void place_emergency(struct gw_call *call)
{
	struct dp_decision *d = call->dec;
	struct e911_caller c = {
		d->calling.digits, call->in.trunk,
		call->in.kind == DP_TRUNK_SIP ? (struct sockaddr *)&call->src
					      : NULL,
	};

	struct gw *gw = call->gw;
	const struct e911_zone_row *in = call->in_loc;
	struct e911_zone_row loc;
	/* An incoming location outranks our zone (prefer_incoming) only
	 * when it is dispatchable, or names its ELIN: a PBX's half-filled
	 * address must not replace a validated one. */
	bool prefer_in = gw->cfg.prefer_incoming && in &&
			 (*call->in_elin ||
			  (*in->country && (*in->a1 || *in->a3) &&
			   (*in->rd || *in->lmk)));

	if (prefer_in && *call->in_elin) {
		/* The caller's own location names its ELIN (Teams puts it
		 * in NAM): it wins, as configured. */
		const struct e911_zone *z =
			e911_zone_of_elin(gw->e911, call->in_elin);

		tg_strlcpy(call->elin, call->in_elin, sizeof(call->elin));
		tg_strlcpy(call->e911_zone, z ? e911_zone_row(z)->name
					      : "incoming",
			   sizeof(call->e911_zone));
		gw_e911_use(gw, call->elin, call->e911_zone, call->in.trunk,
			    call->calling, call->id);
		gw_warn("EMERGENCY call from %s: ELIN %s from the call's own "
			"PIDF-LO", call->calling, call->elin);
	} else if (gw_e911_place(gw, &c, call->in.trunk, call->calling,
				 call->id, call->e911_zone,
				 sizeof(call->e911_zone), call->elin,
				 sizeof(call->elin), &loc)) {
		/* Without memory for it, the zone's own address serves. */
		call->loc_row = malloc(sizeof(*call->loc_row));
		if (call->loc_row)
			*call->loc_row = loc;
	} else {
		if (!call->in_loc)
			return;
		/* No zone of ours: the location that came with it. */
		prefer_in = true;
		tg_strlcpy(call->e911_zone, "incoming",
			   sizeof(call->e911_zone));
		if (*call->in_elin) {
			tg_strlcpy(call->elin, call->in_elin,
				   sizeof(call->elin));
			gw_e911_use(gw, call->elin, call->e911_zone,
				    call->in.trunk, call->calling, call->id);
		}
	}
	call->loc_incoming = prefer_in;
	tg_strlcpy(call->e911_trunk, call->in.trunk,
		   sizeof(call->e911_trunk));
	tg_strlcpy(call->e911_user, call->calling, sizeof(call->e911_user));
	if (*call->elin)
		dp_decision_set_calling(call->snap, d, call->elin);
}

/* The location an emergency call passes on, or NULL. */
static const struct e911_zone_row *call_location(const struct gw_call *call)
{
	const struct e911_zone *z;

	if (call->loc_incoming)
		return call->in_loc;
	if (call->loc_row)
		return call->loc_row;
	z = e911_zone_by_name(call->gw->e911, call->e911_zone);
	return z ? e911_zone_row(z) : NULL;
}

/* What the dialplan decides on: the call as it stands.  @p asr has room
 * for GW_MAX_TRUNKS + 1 rows. */
static void call_facts(const struct gw_call *call, struct dp_facts *f,
		       struct dp_lcr_asr *asr, enum dp_ton called_ton,
		       enum dp_ton calling_ton, enum dp_pres pres)
{
	gw_trunk_asr(call->gw, asr, GW_MAX_TRUNKS + 1);
	memset(f, 0, sizeof(*f));
	f->src_trunk = *call->xfer_trunk ? call->xfer_trunk : call->in.trunk;
	f->called = call->called;
	f->called_ton = called_ton;
	f->calling = call->calling;
	f->calling_ton = calling_ton;
	f->calling_pres = pres;
	f->emergency = call->sig_emergency;
	f->diversion = call->diversion;
	f->diversion_ton = call->diversion_ton;
	f->now = tg_time_ms() / 1000;
	f->asr = asr;
	f->state = gw_trunk_state;
	f->state_arg = call->gw;
}

/* Route a new call and start its first attempt. */
static void route_call(struct gw_call *call, enum dp_ton called_ton,
		       enum dp_ton calling_ton, enum dp_pres pres)
{
	struct gw *gw = call->gw;
	struct dp_lcr_asr asr[GW_MAX_TRUNKS + 1];
	struct dp_facts f;
	struct dp_decision *d = call->dec;
	int rc;

	call->snap = obj_ref(gw->snap);
	call_facts(call, &f, asr, called_ton, calling_ton, pres);
	rc = call->snap ? dp_decide(call->snap, &f, d, NULL, 0) : EINVAL;
	/* A call to an ELIN: the PSAP calling back (RFC 7090). */
	if (!rc && d->emergency == DP_EMERG_NONE && *d->called.digits) {
		call->callback = gw_e911_callback(
			gw, d->called.digits, call->e911_zone,
			sizeof(call->e911_zone), call->e911_trunk,
			sizeof(call->e911_trunk), call->e911_user,
			sizeof(call->e911_user), call->e911_ref,
			sizeof(call->e911_ref));
		if (call->callback) {
			tg_strlcpy(call->elin, d->called.digits,
				   sizeof(call->elin));
			f.to_trunk = call->e911_trunk;
			f.to_user = call->e911_user;
			gw_warn("call %.8s: PSAP callback to ELIN %s (zone %s) "
				"-> %s on %s%s", call->id, call->elin,
				call->e911_zone, call->e911_user,
				call->e911_trunk, call->callback == 2
				? " (the caller's window is over: the zone's "
				  "destination)" : "");
			rc = dp_decide(call->snap, &f, d, NULL, 0);
			/* A PSAP must get through: when the caller's trunk
			 * cannot take it, the call goes as the DID it is. */
			if (!rc && d->cause) {
				gw_warn("call %.8s: PSAP callback to %s on %s "
					"refused (cause %d); routed as a DID",
					call->id, call->e911_user,
					call->e911_trunk, d->cause);
				f.to_trunk = NULL;
				f.to_user = NULL;
				rc = dp_decide(call->snap, &f, d, NULL, 0);
				/* Still a PSAP calling back: past limits,
				 * drains and pre-emption like any. */
				if (!rc)
					d->callback = true;
			}
		}
	}
	if (rc) {
		gw_notice("call %.8s: cannot route '%s' from %s: %s", call->id,
			  call->called, call->in.trunk, strerror(rc));
		fail_call(call, 3);
		return;
	}
	if (d->cause) {
		gw_notice("call %.8s: %s -> %s from %s refused: %s", call->id,
			  call->calling, call->called, call->in.trunk,
			  d->reason);
		fail_call(call, d->cause);
		return;
	}
	if (d->emergency != DP_EMERG_NONE)
		gw_warn("call %.8s: EMERGENCY call %s -> %s (%s) from %s%s%s",
			call->id, call->calling, call->called, d->service,
			call->in.trunk, *call->in_geo ? "; location by "
			"reference: " : "", call->in_geo);
	if (d->emergency != DP_EMERG_NONE) {
		struct gw_emergency_note n = {
			call->id, call->calling, call->in.trunk, call->called,
			d->emergency == DP_EMERG_TEST, call->e911_zone,
			call->elin, NULL,
		};
		place_emergency(call);
		call->emergency_marked = true;
		gw_emergency_mark(gw, true);
		n.where = call_location(call);
		gw_notify_emergency(gw, &n);
	}
	if (*d->route && (d->route_max_calls || d->route_cps) &&
	    d->emergency == DP_EMERG_NONE && !d->callback) {
		struct gw_rstat *rs = rstat_get(gw, d->route);

		if (rs && ((d->route_max_calls &&
			    rs->calls >= d->route_max_calls) ||
			   rate_over(&rs->sec, &rs->n, d->route_cps))) {
			gw_notice("call %.8s: route %s is at its limit",
				  call->id, d->route);
			fail_call(call, 34);
			return;
		}
		if (rs) {
			rs->calls++;
			rs->n++;
			call->route = rs;
		}
	}
	arm_ring_timer(call);
	try_next(call);
}

static void on_attempt_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct gw_call *call = arg;
	struct dp_attempt_result r = {DP_SIP_NO_RESPONSE, 0};
	const char *why;

	(void)fd;
	(void)what;
	if (call->state == CS_ENDED || !call->out_live)
		return;
	obj_ref(call);
	if (!call->got_trying && call->out.kind == DP_TRUNK_SIP) {
		why = "no 100 Trying in time";
	} else {
		why = "no progress in time";
		r.q850_cause = 102; /* recovery on timer expiry */
	}
	attempt_failed(call, &r, why);
	maybe_reap(call);
	obj_deref(call);
}

static void on_ring_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct gw_call *call = arg;

	(void)fd;
	(void)what;
	gw_notice("call %.8s: no answer in time", call->id);
	obj_ref(call);
	end_call(call, 19);
	hangup_out(call, 19);
	hangup_in(call, 19);
	maybe_reap(call);
	obj_deref(call);
}

/* ---- overlap sending, RFC 3578 (docs/overlap.md) ------------------------- */

/* Every state change goes here: INVITEs look for a call to continue
 * only while some call waits for one. */
static void ovl_set(struct gw_call *call, enum ovl_state st)
{
	if (call->ovl == OVL_WAIT)
		call->gw->ovl_waiting--;
	if (st == OVL_WAIT)
		call->gw->ovl_waiting++;
	call->ovl = st;
}

static void on_ovl_timer(evutil_socket_t fd, short what, void *arg);

/* Does the caller speak RFC 3578 (more digits come in later INVITEs)?
 * Never for an emergency call or a PSAP callback: those are complete. */
static bool ovl_caller(const struct gw_call *call)
{
	const struct gw_trunk_cfg *t;

	if (call->in.kind != DP_TRUNK_SIP ||
	    call->dec->emergency != DP_EMERG_NONE || call->dec->callback)
		return false;
	t = gw_config_trunk(&call->gw->cfg, call->in.trunk);
	return t && t->rfc3578;
}

static void ovl_arm(struct gw_call *call, bool wait)
{
	const struct gw_trunk_cfg *t =
		gw_config_trunk(&call->gw->cfg, call->in.trunk);
	unsigned ms = !t ? 5000 : wait ? t->overlap_timeout_ms
				       : t->overlap_wait_ms;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(call->ev_ovl, &tv);
}

/*
 * The SETUP of an attempt (Q.931 5.1.3 overlap sending on a span with
 * overlap_send): an RFC 3578 caller's number so far, without Sending
 * Complete, for later INVITEs to add to; an en-bloc number split at
 * overlap_send_digits, the rest queued for INFORMATION after SETUP
 * ACKNOWLEDGE.  Otherwise the whole number, complete.
 */
static int ovl_setup(struct gw_call *call, struct tdm_span *span,
		     unsigned chan, const struct tdm_number *calling,
		     const struct tdm_number *called,
		     const struct tdm_number *redir)
{
	const struct gw_span_cfg *sc =
		gw_config_span(&call->gw->cfg, tdm_span_id(span));
	struct tdm_number part = *called;
	size_t k = sc ? sc->overlap_send_digits : 0;
	bool rfc3578 = sc && sc->overlap_send && ovl_caller(call);
	char first[64];
	int err;

	if (rfc3578 && !call->ev_ovl &&
	    !(call->ev_ovl = evtimer_new(call->gw->base, on_ovl_timer,
					 call)))
		rfc3578 = false; /* no memory for its timer: en-bloc */
	if (!sc || !sc->overlap_send || rfc3578 ||
	    call->dec->emergency != DP_EMERG_NONE || call->dec->callback ||
	    k >= strlen(called->digits) || k >= sizeof(first))
		k = 0;
	if (k) {
		snprintf(first, sizeof(first), "%.*s", (int)k, called->digits);
		part.digits = first;
	}
	part.incomplete = rfc3578 || k;
	err = tdm_call_setup_chan(&call->out.tdm, span, chan, calling, &part,
				  redir, call);
	if (err)
		return err;
	/* Queued in tdm/ until the network's SETUP ACKNOWLEDGE. */
	if (k)
		tdm_call_digits(call->out.tdm, called->digits + k);
	if (rfc3578) {
		ovl_set(call, OVL_HELD);
		call->ovl_acked = call->ovl_alerted = false;
		call->ovl_proceeded = false;
	}
	return 0;
}

/* RFC 3578 2: 484 Address Incomplete asks the caller for the number with
 * more digits in a new INVITE; the PRI call waits for it meanwhile. */
static void ovl_ask_more(struct gw_call *call)
{
	struct sip_reason reason = {28, gw_cause_text(28), false};
	struct sip_leg *leg = call->in.sip;

	event_del(call->ev_ovl);
	if (!leg)
		return;
	gw_info("call %.8s: %s: the network waits for more digits: 484",
		call->id, call->called);
	call->in.sip = NULL;
	call->sip_status = 484;
	/* The UA sees the 484 through (its ACK); the next INVITE is a new
	 * leg that ovl_follow_up hands to this call. */
	sip_leg_abandon(leg, 484, &reason);
	obj_deref(call); /* on_sip_in's reference */
	ovl_set(call, OVL_WAIT);
	ovl_arm(call, true);
}

/* SETUP ACKNOWLEDGE: the network has the call and waits for digits. */
static void ovl_setup_ack(struct gw_call *call, bool inband, int em)
{
	call->got_trying = call->got_progress = true;
	event_del(call->ev_attempt);
	/* The number is the network's to complete now: another route
	 * would not get the digits it already has. */
	call->ovl_acked = true;
	if (call->ovl == OVL_HELD)
		ovl_ask_more(call);
	else if (inband && em != GW_EM_NEVER)
		/* An en-bloc caller: what the network plays while it takes
		 * the rest of the number is early media (183). */
		tell_in_progress(call, false, true);
}

/*
 * A PRI event while an RFC 3578 call is in overlap: true when it is
 * taken here.  The network proceeding on the digits it has ends the
 * overlap (the INVITE waiting gets the usual answers); while no INVITE
 * waits, what it did is kept for the next one.
 */
static bool ovl_net_event(struct gw_call *call, const struct tdm_event *ev)
{
	bool wait = call->ovl == OVL_WAIT;

	switch (ev->type) {
	case TDM_EV_PROCEEDING:
	case TDM_EV_ALERTING:
	case TDM_EV_PROGRESS:
		if (!wait) {
			event_del(call->ev_ovl);
			ovl_set(call, OVL_OFF);
			return false;
		}
		gw_info("call %.8s: the network proceeds on %s while the "
			"caller was asked for more digits", call->id,
			call->called);
		call->ovl_proceeded = true;
		if (ev->type == TDM_EV_ALERTING)
			call->ovl_alerted = true;
		return true;
	case TDM_EV_ANSWER:
		if (!wait) {
			event_del(call->ev_ovl);
			ovl_set(call, OVL_OFF);
			return false;
		}
		/* Nobody to connect: the caller's INVITE was answered 484. */
		gw_notice("call %.8s: answered while no INVITE waits; cleared",
			  call->id);
		end_call(call, 31);
		hangup_out(call, 31);
		return true;
	default:
		return false;
	}
}

static void on_ovl_timer(evutil_socket_t fd, short what, void *arg)
{
	struct gw_call *call = arg;

	(void)fd;
	(void)what;
	if (call->state == CS_ENDED)
		return;
	obj_ref(call);
	if (call->ovl == OVL_HELD) {
		/* The network did not proceed on these digits. */
		ovl_ask_more(call);
	} else if (call->ovl == OVL_WAIT) {
		/* The number stayed incomplete, unless the network took
		 * it as it was. */
		int cause = call->ovl_proceeded ? 16 : 28;

		gw_notice("call %.8s: no INVITE with more digits after the 484 "
			  "for %s: cleared, cause %d", call->id, call->called,
			  cause);
		end_call(call, cause);
		hangup_out(call, cause);
	}
	maybe_reap(call);
	obj_deref(call);
}

static struct gw_call *ovl_find(struct gw *gw,
				const struct sip_invite_info *info)
{
	for (struct gw_call *c = gw->calls; c; c = c->next)
		if (c->ovl == OVL_WAIT && c->state != CS_ENDED &&
		    !strcmp(c->call_id, info->call_id) &&
		    !strcmp(c->ovl_tag, info->from_tag ? info->from_tag : ""))
			return c;
	return NULL;
}

/* RFC 3578 2: the same Call-ID and From tag, a higher CSeq, and the
 * number so far with more digits after it. */
static bool ovl_continues(const struct gw_call *call,
			  const struct sip_invite_info *info)
{
	size_t n = strlen(call->called), len = strlen(info->ruri_user);

	return info->cseq > call->ovl_cseq && len > n &&
	       len < sizeof(call->called) &&
	       !strncmp(info->ruri_user, call->called, n) &&
	       strspn(info->ruri_user + n, "0123456789*#") == len - n;
}

/*
 * A new INVITE that may continue a call we answered 484 (RFC 3578): the
 * leg joins that call and its new digits go to the PRI in INFORMATION.
 * One that matches the dialog but not the number (shorter, other digits,
 * an old CSeq) ends that call (cause 28) and is then a call of its own.
 * @return true when @p leg was taken here.
 */
static bool ovl_follow_up(struct gw *gw, struct sip_leg *leg,
			  const struct sip_invite_info *info)
{
	struct gw_call *call = gw->ovl_waiting ? ovl_find(gw, info) : NULL;
	bool ok = call && ovl_continues(call, info) && call->out.tdm &&
		  srtp_answer(call, leg, gw_config_trunk(&gw->cfg,
							 call->in.trunk),
			      info->offer);
	const char *more = "";
	int err = 0;

	if (!call)
		return false;
	if (ok)
		more = info->ruri_user + strlen(call->called);
	if (ok && !call->ovl_proceeded)
		err = tdm_call_digits(call->out.tdm, more);
	if (!ok || err) {
		gw_notice("call %.8s: INVITE for %s (CSeq %u) does not "
			  "continue %s (CSeq %u)%s%s: that call is cleared",
			  call->id, info->ruri_user, info->cseq, call->called,
			  call->ovl_cseq, err ? ": " : "",
			  err ? strerror(err) : "");
		obj_ref(call);
		end_call(call, 28);
		hangup_out(call, 28);
		maybe_reap(call);
		obj_deref(call);
		return false;
	}
	gw_info("call %.8s: INVITE for %s: digits %s sent", call->id,
		info->ruri_user, call->ovl_proceeded ? "not" : more);
	event_del(call->ev_ovl);
	call->in.sip = leg; /* the handler's reference is now the call's */
	sip_leg_set_handler(leg, on_sip_in, call);
	obj_ref(call);
	sip_leg_set_local_media(leg, in_media_addr(gw, info),
				media_rtp_port(call->in.rtp));
	if (info->offer)
		set_remote(call, &call->in, info->offer);
	call->ovl_cseq = info->cseq;
	call->sip_status = 0;
	/* The CDR tells the number as dialled: the first INVITE's routed
	 * number with the later digits after it. */
	tg_strlcpy(call->called, info->ruri_user, sizeof(call->called));
	if (strlen(call->out_called) + strlen(more) < sizeof(call->out_called))
		strcat(call->out_called, more);
	if (call->natt && strlen(call->att[call->natt - 1].called) +
				  strlen(more) <
			  sizeof(call->att[0].called))
		strcat(call->att[call->natt - 1].called, more);
	if (call->ovl_proceeded) {
		/* The network went on without the caller's new digits. */
		ovl_set(call, OVL_OFF);
		if (call->ovl_alerted)
			tell_in_progress(call, true, false);
		return true;
	}
	ovl_set(call, OVL_HELD);
	ovl_arm(call, false);
	return true;
}

/* ---- SIP events ------------------------------------------------------------ */

/* The first trunk, in file order, that accepts the source address (and
 * port), the listener it came to (accept_transport), and, when it names
 * numbers (match_user), one of the Request-URI or To user, and when it
 * names a header (match_header), has it: so one provider's SBC can bring
 * several trunks. */
/* Does the INVITE carry the trunk's match_header (text in its value)? */
static bool header_matches(const struct gw_trunk_cfg *t,
			   const struct sip_invite_info *info)
{
	char v[256];

	if (!*t->match_hdr)
		return true;
	if (sip_invite_header(info, t->match_hdr, v, sizeof(v)))
		return false;
	return !*t->match_hdr_text || strcasestr(v, t->match_hdr_text);
}

/* Do the INVITE's listener, number and headers fit trunk @p t? */
static bool invite_fits(const struct gw_trunk_cfg *t,
			const struct sip_invite_info *info)
{
	if (t->accept_transports &&
	    !(t->accept_transports & (1u << info->transport)))
		return false;
	if (!gw_trunk_matches_user(t, info->ruri_user) &&
	    !gw_trunk_matches_user(t, info->to_user))
		return false;
	return header_matches(t, info);
}

/* With @p info NULL, by the address alone (numbers not known yet). */
static const struct gw_trunk_cfg *trunk_by_addr(
	struct gw *gw, const struct sockaddr *src,
	const struct sip_invite_info *info)
{
	for (unsigned i = 0; i < gw->cfg.ntrunks; i++) {
		const struct gw_trunk_cfg *t = &gw->cfg.trunks[i];

		if (t->kind == GW_TRUNK_SIP &&
		    (gw_trunk_accepts(t, src) || gw_targets_has(gw, t, src)) &&
		    (!info || invite_fits(t, info)))
			return t;
	}
	return NULL;
}

/* "ADDR:PORT" of @p sa, for the log. */
static const char *addr_text(const struct sockaddr *sa, char *out,
			     size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		port = ntohs(s4->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 =
			(const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		port = ntohs(s6->sin6_port);
	}
	snprintf(out, size, sa->sa_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
		 a, port);
	return out;
}

/* Who may send from @p src at all (numbers not known yet). */
static const struct gw_trunk_cfg *trunk_by_src(struct gw *gw,
					       const struct sockaddr *src)
{
	return trunk_by_addr(gw, src, NULL);
}

/* A trunk that must authenticate and takes requests from anywhere
 * (inbound_user, no accept_from), by its username. */
static const struct gw_trunk_cfg *trunk_by_user(struct gw *gw,
						const char *user)
{
	for (unsigned i = 0; i < gw->cfg.ntrunks; i++) {
		const struct gw_trunk_cfg *t = &gw->cfg.trunks[i];

		if (t->kind == GW_TRUNK_SIP && !t->naccept &&
		    *t->inbound_user &&
		    (!user || !strcmp(user, t->inbound_user)))
			return t;
	}
	return NULL;
}

/* A provider we register with calls the Contact we registered: its
 * Request-URI user says which registration (and so which trunk, when
 * several share a source). */
static const struct gw_trunk_cfg *trunk_by_contact(
	struct gw *gw, const struct sip_invite_info *info)
{
	for (unsigned i = 0; i < gw->cfg.ntrunks; i++) {
		const struct gw_trunk_cfg *t = &gw->cfg.trunks[i];

		if (t->kind == GW_TRUNK_SIP && t->reg &&
		    !strcmp(info->ruri_user, gw_reg_contact_user(t)) &&
		    gw_trunk_accepts(t, (const struct sockaddr *)&info->src))
			return t;
	}
	return NULL;
}

/* Which trunk an INVITE comes from: the registration it is addressed
 * to, its source address, or the username it authenticated with. */
static const struct gw_trunk_cfg *trunk_of(struct gw *gw,
					   const struct sip_invite_info *info)
{
	const struct gw_trunk_cfg *t;

	t = trunk_by_contact(gw, info);
	if (t)
		return t;
	t = trunk_by_addr(gw, (const struct sockaddr *)&info->src, info);
	if (t)
		return t;
	return info->auth_user && *info->auth_user
		? trunk_by_user(gw, info->auth_user) : NULL;
}

/* An INVITE's offer is negotiated with its trunk's codecs and ptime (the
 * UA asks before it answers 488 itself), the trunk found as for the call. */
void gw_call_media_prefs(const struct sip_invite_info *info, int *codecs,
			 unsigned *ncodecs, unsigned *ptime, void *arg)
{
	struct gw *gw = arg;
	const struct gw_trunk_cfg *t = trunk_of(gw, info);

	if (!t)
		return;
	if (t->ncodecs)
		*ncodecs = gw_config_codecs(&gw->cfg, t, codecs);
	*ptime = gw_config_ptime(&gw->cfg, t);
}

/* The algorithms any trunk known by its username takes: what a first
 * challenge, before the username is known, may offer. */
static unsigned any_user_offer(struct gw *gw)
{
	unsigned offer = 0;

	for (unsigned i = 0; i < gw->cfg.ntrunks; i++) {
		const struct gw_trunk_cfg *t = &gw->cfg.trunks[i];

		if (t->kind != GW_TRUNK_SIP || t->naccept || !*t->inbound_user)
			continue;
		if (!t->inbound_digest)
			return SIP_DIGEST_OFFER_SHA256 | SIP_DIGEST_OFFER_MD5;
		offer |= t->inbound_digest;
	}
	return offer ? offer : SIP_DIGEST_OFFER_SHA256 | SIP_DIGEST_OFFER_MD5;
}

bool gw_call_digest(const struct sockaddr *src, socklen_t len,
		    const char *user, char *password, size_t psize,
		    unsigned *offer, void *arg)
{
	struct gw *gw = arg;
	const struct gw_trunk_cfg *t = trunk_by_src(gw, src);

	(void)len;
	*password = '\0';
	if (t) {
		if (!*t->inbound_user)
			return false;
		if (user && !strcmp(user, t->inbound_user))
			tg_strlcpy(password, t->inbound_password, psize);
		if (t->inbound_digest)
			*offer = t->inbound_digest;
		return true;
	}
	/* Unknown source: 401 when a trunk could still be it. */
	if (!trunk_by_user(gw, NULL))
		return false;
	t = user ? trunk_by_user(gw, user) : NULL;
	if (!user)
		*offer = any_user_offer(gw);
	if (t) {
		tg_strlcpy(password, t->inbound_password, psize);
		if (t->inbound_digest)
			*offer = t->inbound_digest;
	}
	return true;
}

bool gw_call_authorize(const struct sockaddr *src, socklen_t len,
		       const char *method, void *arg)
{
	struct gw *gw = arg;
	char addr[INET6_ADDRSTRLEN + 8];

	(void)len;
	if (trunk_by_src(gw, src))
		return true;
	gw_notice("%s from %s refused: no trunk accepts that address", method,
		  addr_text(src, addr, sizeof(addr)));
	return false;
}

bool gw_call_symmetric(const struct sockaddr *src, socklen_t len, void *arg)
{
	const struct gw_trunk_cfg *t = trunk_by_src(arg, src);

	(void)len;
	return t && t->nat;
}

void gw_call_on_rejected(const struct sip_invite_info *info, int status,
			 void *arg)
{
	(void)arg;
	gw_notice("INVITE %s -> %s (Call-ID %s) refused with %d",
		  info->from_user, info->ruri_user, info->call_id, status);
}

/* Per-source admission of a new call from trunk @p t. */
static bool admit_in(struct gw_call *call, const struct gw_trunk_cfg *t)
{
	struct gw_tstat *ts = gw_tstat(call->gw, t->name);

	if (!ts)
		return true;
	if (ts->drained) {
		gw_notice("call %.8s: trunk %s is drained", call->id, t->name);
		return false;
	}
	if ((t->max_inbound && ts->inbound >= t->max_inbound) ||
	    (t->max_calls && ts->calls >= t->max_calls) ||
	    rate_over(&ts->in_sec, &ts->in_n, t->inbound_cps)) {
		gw_notice("call %.8s: trunk %s is over its inbound limit",
			  call->id, t->name);
		return false;
	}
	ts->in_n++;
	ts->calls++;
	ts->inbound++;
	call->counted_in = true;
	return true;
}

/* The routing snapshot's emergency table, on the number in any of the
 * forms dp_decide accepts ("911;phone-context=+1", "tel:911"). */
static bool is_emergency_number(struct gw *gw, const char *called)
{
	if (gw->snap)
		return dp_called_emergency(gw->snap, called) != DP_EMERG_NONE;
	return dp_emergency_match(gw->cfg.dial9 ? &dp_emergency_default_dial9
						: NULL,
				  called, NULL) != DP_EMERG_NONE;
}

void gw_call_on_invite(struct sip_leg *leg, const struct sip_invite_info *info,
		       void *arg)
{
	struct gw *gw = arg;
	const struct gw_trunk_cfg *in;
	struct gw_call *call;
	bool restricted;

	if (ovl_follow_up(gw, leg, info))
		return;
	call = call_new(gw, DP_TRUNK_SIP);
	if (!call) {
		struct sip_reason r = {41, gw_cause_text(41), false};

		sip_leg_reply(leg, 503, false, &r);
		obj_deref(leg);
		return;
	}
	call->in.sip = leg; /* the handler's reference is now the call's */
	sip_leg_set_handler(leg, on_sip_in, call);
	obj_ref(call); /* the leg's handler refers to the call until CLOSED */
	tg_strlcpy(call->calling, info->from_user, sizeof(call->calling));
	tg_strlcpy(call->called, info->ruri_user, sizeof(call->called));
	tg_strlcpy(call->diversion, info->diversion ? info->diversion : "",
		   sizeof(call->diversion));
	call->div_reason = gw_redirect_from_sip(info->diversion_reason);
	call->div_restricted = info->diversion_privacy;
	tg_strlcpy(call->call_id, info->call_id, sizeof(call->call_id));
	call->max_fwd = info->max_forwards;
	tg_strlcpy(call->ovl_tag, info->from_tag ? info->from_tag : "",
		   sizeof(call->ovl_tag));
	call->ovl_cseq = info->cseq;
	memcpy(&call->src, &info->src, sizeof(call->src));
	if (info->pidf) {
		/* A location that came with the call (Teams, a PBX). */
		call->in_loc = malloc(sizeof(*call->in_loc));
		if (call->in_loc &&
		    e911_pidf_read(info->pidf, info->pidf_len, call->in_loc,
				   call->in_elin, sizeof(call->in_elin))) {
			gw_info("call %.8s: a PIDF-LO without a readable civic "
				"address; ignored", call->id);
			free(call->in_loc);
			call->in_loc = NULL;
			call->in_elin[0] = '\0';
		}
	}
	if (info->geo_ref && *info->geo_ref)
		tg_strlcpy(call->in_geo, info->geo_ref, sizeof(call->in_geo));
	in = trunk_of(gw, info);
	if (in) {
		tg_strlcpy(call->in.trunk, in->name, sizeof(call->in.trunk));
	} else {
		char a[INET6_ADDRSTRLEN + 8];

		gw_notice("call %.8s: no trunk takes an INVITE from %s to "
			  "'%s' (no accept_from, or match_user, fits): 403",
			  call->id,
			  addr_text((const struct sockaddr *)&info->src, a,
				    sizeof(a)),
			  info->ruri_user);
	}
	/* Addressed to our registered Contact: the number is in To. */
	if (in && in->reg && *info->to_user &&
	    !strcmp(info->ruri_user, gw_reg_contact_user(in)))
		tg_strlcpy(call->called, info->to_user, sizeof(call->called));
	/* Answer telephone-event where the trunk wants it and the offer
	 * has it (the bridge falls back to in-band otherwise). */
	sip_leg_set_dtmf_events(leg, in && in->dtmf == GW_DTMF_RFC4733);
	leg_t38(leg, in);
	sip_leg_allow_refer(leg, in && in->transfer);
	if (in && !srtp_answer(call, leg, in, info->offer)) {
		fail_call(call, 65); /* 488 */
		return;
	}
	/* Who calls (RFC 3325): a trusted trunk's asserted identity, From
	 * otherwise; an untrusted one's identity headers count for
	 * nothing.  Privacy or an anonymous From withhold it (RFC 3323). */
	if (in && in->trusted && info->pai_user && *info->pai_user)
		tg_strlcpy(call->calling, info->pai_user,
			   sizeof(call->calling));
	else if (info->anonymous)
		call->calling[0] = '\0';
	call->calling_asserted = in && in->trusted;
	restricted = info->privacy || info->anonymous;
	if (!restricted)
		tg_strlcpy(call->calling_name, info->from_display,
			   sizeof(call->calling_name));
	/* Priority: emergency from any trunk we know (a PBX, Teams);
	 * Resource-Priority esnet.* only from a trusted one (RFC 7135). */
	call->sig_emergency = in && (info->priority_emergency ||
				     (info->esnet && in->trusted));
	if (info->offer)
		set_remote(call, &call->in, info->offer);
	/* RFC 4028: a Session-Expires under our Min-SE got 422. */
	if (sip_leg_set_timer(leg, gw_session_expires(&gw->cfg, in),
			      gw_min_se(&gw->cfg, in)) == ERANGE) {
		call->sip_status = 422;
		end_call(call, 127);
		maybe_reap(call);
		return;
	}

	if (gw->draining && !call->sig_emergency &&
	    !is_emergency_number(gw, call->called) &&
	    !gw_e911_is_elin(gw, call->called)) {
		fail_call(call, 41);
		return;
	}
	if (!in || (!call->sig_emergency &&
		    !is_emergency_number(gw, call->called) &&
		    !gw_e911_is_elin(gw, call->called) &&
		    !admit_in(call, in))) {
		fail_call(call, in ? 34 : 21);
		return;
	}
	if (alloc_rtp(call, &call->in.rtp, in_media_addr(gw, info))) {
		fail_call(call, 47);
		return;
	}
	sip_leg_set_local_media(leg, in_media_addr(gw, info),
				media_rtp_port(call->in.rtp));
	route_call(call, DP_TON_UNKNOWN, DP_TON_UNKNOWN,
		   restricted ? DP_PRES_RESTRICTED : DP_PRES_ALLOWED);
	maybe_reap(call);
}

/* An INFO digit from the SIP side: a tone on the B-channel.  (A SIP ->
 * SIP call relays RTP events, and INFO not at all.) */
static void play_dtmf(struct gw_call *call, const struct sip_leg_event *ev)
{
	int err;

	if (call->state != CS_ANSWERED || !call->bridge)
		return;
	if (call->in.kind == DP_TRUNK_SIP && call->out.kind == DP_TRUNK_SIP)
		return;
	err = media_bridge_dtmf(call->gw->me, call->bridge, ev->digit,
				ev->duration_ms);
	if (err)
		gw_info("call %.8s: DTMF %c not played: %s", call->id,
			ev->digit, strerror(err));
}

/* A digit the B-channel sent, on a dtmf=info trunk: an INFO to the SIP
 * side. */
void gw_call_on_dtmf(void *arg, uint32_t bridge, char digit, unsigned ms)
{
	struct gw *gw = arg;
	struct gw_call *call;
	struct sip_leg *leg;
	int err;

	for (call = gw->calls; call; call = call->next)
		if (call->bridge == bridge)
			break;
	if (!call || call->state != CS_ANSWERED)
		return;
	leg = call->in.kind == DP_TRUNK_SIP ? call->in.sip : call->out.sip;
	if (!leg)
		return;
	err = sip_leg_send_dtmf(leg, digit, ms);
	if (err)
		gw_info("call %.8s: DTMF %c not sent: %s", call->id, digit,
			strerror(err));
	else
		gw_dbg(GW_DBG_CALL, "call %.8s: DTMF %c (%u ms) sent as INFO",
		       call->id, digit, ms);
}

/* Events of the caller's SIP leg. */
static bool xfer_transferor_gone(struct gw_call *call, struct side *s,
				 const struct sip_leg_event *ev);
static void xfer_start(struct gw_call *call, struct side *s,
		       const char *number);

static void on_sip_in(struct sip_leg *leg, const struct sip_leg_event *ev,
		      void *arg)
{
	struct gw_call *call = arg;
	int cause;

	(void)leg;
	if (xfer_transferor_gone(call, &call->in, ev)) {
		maybe_reap(call);
		return;
	}
	switch (ev->type) {
	case SIP_LEG_CLOSED:
		if (call->state != CS_ENDED) {
			/* The dialog vanished without a BYE (e.g. our 200
			 * was never ACKed): clear the other side too. */
			end_call(call, 41);
			hangup_out(call, 41);
		}
		call->in.sip = obj_deref(call->in.sip);
		maybe_reap(call);
		obj_deref(call); /* the handler's reference */
		return;
	case SIP_LEG_BYE:
	case SIP_LEG_CANCELLED:
		cause = ev->reason.cause ? ev->reason.cause : 16;
		if (ev->type == SIP_LEG_CANCELLED)
			call->sip_status = 487;
		end_call(call, cause);
		hangup_out(call, cause);
		break;
	case SIP_LEG_DTMF:
		play_dtmf(call, ev);
		break;
	case SIP_LEG_MEDIA:
		if (ev->t38 && call->state != CS_ENDED)
			t38_changed(call, ev->t38);
		else if (ev->media && call->state != CS_ENDED)
			media_changed(call, &call->in, ev->media);
		break;
	case SIP_LEG_T38_REFUSED:
		if (call->state != CS_ENDED)
			fax_passthrough(call, "T.38 refused");
		break;
	case SIP_LEG_REFER:
		xfer_start(call, &call->in, ev->refer_to);
		break;
	default:
		break;
	}
	maybe_reap(call);
}

/* Events of the SIP leg of an attempt. */
static void on_sip_out(struct sip_leg *leg, const struct sip_leg_event *ev,
		       void *arg)
{
	struct gw_call *call = arg;
	struct dp_attempt_result r = {0, 0};

	(void)leg;
	obj_ref(call);
	if (call->out.sip == leg &&
	    xfer_transferor_gone(call, &call->out, ev)) {
		maybe_reap(call);
		obj_deref(call);
		return;
	}
	if (call->ovo != OVO_OFF && (ev->type == SIP_LEG_PROGRESS ||
				     ev->type == SIP_LEG_ANSWERED))
		ovo_end(call);
	switch (ev->type) {
	case SIP_LEG_CLOSED:
		if (call->out.sip == leg) {
			if (call->state != CS_ENDED) {
				end_call(call, 41);
				hangup_in(call, 41);
			}
			call->out.sip = obj_deref(call->out.sip);
			call->out_live = false;
			obj_deref(call); /* the handler's reference */
		}
		break;
	case SIP_LEG_TRYING:
		call->got_trying = true;
		arm_attempt_timer(call);
		break;
	case SIP_LEG_PROGRESS:
		call->got_trying = call->got_progress = true;
		event_del(call->ev_attempt);
		if (ev->media)
			set_remote(call, &call->out, ev->media);
		tell_in_progress(call, ev->status == 180, ev->media != NULL);
		break;
	case SIP_LEG_ANSWERED: {
		const struct gw_trunk_cfg *t =
			gw_config_trunk(&call->gw->cfg, call->out.trunk);

		if (ev->media)
			set_remote(call, &call->out, ev->media);
		/* Who answered, as a trusted trunk asserts it (RFC 3325):
		 * the connected line for a PRI caller. */
		if (t && t->trusted && ev->pai_user)
			tg_strlcpy(call->connected, ev->pai_user,
				   sizeof(call->connected));
		call_answered(call);
		break;
	}
	case SIP_LEG_FAILED:
		if (call->state == CS_ENDED || call->state == CS_ANSWERED)
			break;
		if (ev->status == 484 && call->ovo == OVO_INVITING) {
			ovo_got_484(call);
			break;
		}
		r.sip_status = ev->status;
		r.q850_cause = ev->reason.cause;
		/* A 408 of our own Timer B is no response at all, and so
		 * is an INVITE that could not be delivered. */
		if ((ev->status == 408 && !call->got_trying) || ev->transport)
			r.sip_status = DP_SIP_NO_RESPONSE;
		attempt_failed(call, &r, "final response");
		break;
	case SIP_LEG_BYE:
		if (call->state == CS_ENDED)
			break;
		r.q850_cause = ev->reason.cause ? ev->reason.cause : 16;
		if (call->state != CS_ANSWERED) {
			r.sip_status = 487;
			attempt_failed(call, &r, "BYE before answer");
			break;
		}
		end_call(call, r.q850_cause);
		hangup_in(call, r.q850_cause);
		break;
	case SIP_LEG_DTMF:
		if (call->out.sip == leg)
			play_dtmf(call, ev);
		break;
	case SIP_LEG_MEDIA:
		if (call->out.sip == leg && ev->t38 &&
		    call->state != CS_ENDED)
			t38_changed(call, ev->t38);
		else if (call->out.sip == leg && ev->media &&
			 call->state != CS_ENDED)
			media_changed(call, &call->out, ev->media);
		break;
	case SIP_LEG_T38_REFUSED:
		if (call->out.sip == leg && call->state != CS_ENDED)
			fax_passthrough(call, "T.38 refused");
		break;
	case SIP_LEG_REFER:
		if (call->out.sip == leg)
			xfer_start(call, &call->out, ev->refer_to);
		break;
	default:
		break;
	}
	maybe_reap(call);
	obj_deref(call);
}

/* ---- blind transfer (RFC 3515, docs/transfer.md) ------------------------- */

static void xfer_unlink(struct gw_call *x)
{
	struct gw_call *y = x->xfer;

	if (!y)
		return;
	x->xfer = NULL;
	y->xfer_of = NULL;
	obj_deref(x); /* y's */
	obj_deref(y); /* x's */
}

static void xfer_notify(struct gw_call *x, int status, const char *phrase)
{
	if (x->xfer_side && x->xfer_side->sip && !x->xfer_left)
		sip_leg_refer_notify(x->xfer_side->sip, status, phrase);
}

static void on_xfer_linger(evutil_socket_t fd, short what, void *arg);

/* A SIP side's REFER: a new call from the other party to @p number,
 * routed as a call of the transferor's trunk would be. */
static void xfer_start(struct gw_call *x, struct side *s, const char *number)
{
	struct side *keep = s == &x->in ? &x->out : &x->in;
	struct gw_call *y;
	const char *why = NULL;
	int status = 603;

	if (x->state != CS_ANSWERED)
		why = "the call is not answered";
	else if (x->xfer)
		why = "a transfer is already under way";
	else if (keep->kind != DP_TRUNK_TDM || !keep->tdm) {
		why = "the other party is not on a PRI";
		status = 488;
	}
	if (!why && !x->ev_xfer)
		x->ev_xfer = evtimer_new(x->gw->base, on_xfer_linger, x);
	y = why || !x->ev_xfer ? NULL : call_new(x->gw, DP_TRUNK_TDM);
	if (!y) {
		gw_notice("call %.8s: transfer to %s refused: %s", x->id,
			  number, why ? why : "out of memory");
		if (s->sip)
			sip_leg_refer_notify(s->sip, why ? status : 500,
					     why ? "Not Acceptable Here" :
					     "Server Internal Error");
		return;
	}
	x->xfer = obj_ref(y);
	x->xfer_side = s;
	x->xfer_left = false;
	y->xfer_of = obj_ref(x);
	tg_strlcpy(x->xfer_to, number, sizeof(x->xfer_to));
	tg_strlcpy(y->xfer_ref, x->id, sizeof(y->xfer_ref));
	tg_strlcpy(y->xfer_trunk, s->trunk, sizeof(y->xfer_trunk));
	tg_strlcpy(y->in.trunk, keep->trunk, sizeof(y->in.trunk));
	y->in.span = keep->span;
	y->in.chan = keep->chan;
	y->in.digital = keep->digital;
	/* Who is moved: the PSTN caller, or the PSTN party called. */
	tg_strlcpy(y->calling, keep == &x->in ? x->calling : x->called,
		   sizeof(y->calling));
	tg_strlcpy(y->calling_name, keep == &x->in ? x->calling_name : "",
		   sizeof(y->calling_name));
	y->calling_asserted = true;
	tg_strlcpy(y->called, number, sizeof(y->called));
	gw_notice("call %.8s: %s side transfers %s to %s (new call %.8s, "
		  "routed as from %s)", x->id, s == &x->in ? "calling" :
		  "called", y->calling, number, y->id, s->trunk);
	route_call(y, *number == '+' ? DP_TON_INTERNATIONAL : DP_TON_UNKNOWN,
		   keep == &x->in ? x->in_calling_ton : DP_TON_UNKNOWN,
		   keep == &x->in ? x->in_pres : DP_PRES_ALLOWED);
	maybe_reap(y);
}

static void xfer_progress(struct gw_call *y, bool alerting, bool media)
{
	struct gw_call *x = y->xfer_of;

	/* The moved party keeps hearing the transferor's side (its music
	 * on hold) until the new call answers. */
	set_state(y, CS_EARLY);
	if (alerting)
		xfer_notify(x, 180, "Ringing");
	else if (media)
		xfer_notify(x, 183, "Session Progress");
}

/* The new call answered: the PSTN party moves to it, and the
 * transferor is told (200) and let go. */
static bool xfer_answered(struct gw_call *y)
{
	struct gw_call *x = y->xfer_of;
	struct side *keep = x->xfer_side == &x->in ? &x->out : &x->in;

	if (!keep->tdm) {
		/* Gone in this very loop pass: nothing to move. */
		end_call(y, 41);
		hangup_out(y, 41);
		return false;
	}
	xfer_notify(x, 200, "OK");
	bridge_stop_last(x);
	y->in.tdm = keep->tdm;
	keep->tdm = NULL;
	tdm_call_set_arg(y->in.tdm, y);
	/* The moved party's B-channel stays busy: its trunk's count (for
	 * max_calls, drain) goes with it, not away with the transferor. */
	if (keep == &x->in && x->counted_in) {
		x->counted_in = false;
		y->counted_in = true;
	} else if (keep == &x->out && x->counted_out) {
		x->counted_out = false;
		y->counted_held = true;
	}
	if (y->out.kind == DP_TRUNK_SIP)
		y->sip_status = 200;
	obj_ref(x);
	xfer_unlink(x);
	gw_notice("call %.8s: transferred to %s (call %.8s)", x->id,
		  x->xfer_to, y->id);
	if (x->xfer_left) {
		end_call(x, 16);
	} else {
		/* RFC 5589 6.1: the transferor hangs up on NOTIFY 200; if it
		 * does not, it is not left holding a dead dialog. */
		struct timeval tv = {4, 0};

		evtimer_add(x->ev_xfer, &tv);
	}
	maybe_reap(x);
	obj_deref(x);
	return true;
}

static void on_xfer_linger(evutil_socket_t fd, short what, void *arg)
{
	struct gw_call *x = arg;

	(void)fd;
	(void)what;
	obj_ref(x);
	end_call(x, 16);
	hangup_in(x, 16);
	hangup_out(x, 16);
	maybe_reap(x);
	obj_deref(x);
}

/* The new call failed: the transferor hears why, and the party stays
 * with it (RFC 5589 6.1: it may take the call back); or, when the
 * transferor has hung up meanwhile, the party is cleared. */
static void xfer_failed(struct gw_call *y, int cause)
{
	struct gw_call *x = obj_ref(y->xfer_of);
	int status = y->sip_status >= 300 ? y->sip_status
					  : gw_cause_to_sip(cause);

	gw_notice("call %.8s: transfer to %s failed: cause %d, SIP %d",
		  x->id, y->called, cause, status);
	xfer_notify(x, status, gw_cause_text(cause));
	xfer_unlink(x);
	x->xfer_to[0] = '\0';
	if (x->xfer_left) {
		end_call(x, cause);
		hangup_in(x, cause);
		hangup_out(x, cause);
	}
	maybe_reap(x);
	obj_deref(x);
}

/* The call ends: so does a transfer of it under way. */
static void xfer_abort(struct gw_call *x, int cause)
{
	struct gw_call *y = x->xfer;

	if (x->ev_xfer)
		event_del(x->ev_xfer);
	if (!y)
		return;
	obj_ref(y);
	xfer_notify(x, 487, "Request Terminated");
	xfer_unlink(x);
	end_call(y, cause);
	hangup_out(y, cause);
	maybe_reap(y);
	obj_deref(y);
}

/* The transferor's dialog ends while its transfer is under way: the
 * PSTN party is not to be cleared with it. */
static bool xfer_transferor_gone(struct gw_call *x, struct side *s,
				 const struct sip_leg_event *ev)
{
	if (x->xfer_side != s || x->state == CS_ENDED)
		return false;
	if (!x->xfer)
		return false; /* after it: a BYE ends the call as any */
	if (ev->type == SIP_LEG_BYE) {
		x->xfer_left = true;
		return true;
	}
	if (ev->type == SIP_LEG_CLOSED) {
		x->xfer_left = true;
		s->sip = obj_deref(s->sip);
		if (s == &x->out)
			x->out_live = false;
		obj_deref(x); /* the handler's reference */
		return true;
	}
	return false;
}

/* ---- RFC 3578 overlap from a PRI to SIP (docs/overlap.md) ---------------- */

/* Does attempt @p a go to a SIP trunk with overlap = rfc3578, usable now? */
static bool ovo_trunk(struct gw *gw, const struct dp_attempt *a)
{
	const struct gw_trunk_cfg *t = gw_config_trunk(&gw->cfg, a->trunk);
	struct gw_tstat *ts = gw_tstat(gw, a->trunk);

	return a->source != DP_SRC_ENUM && t && t->kind == GW_TRUNK_SIP &&
	       t->rfc3578 && (!ts || !ts->drained) &&
	       gw_trunk_state(a->trunk, gw) == DP_TRUNK_AVAILABLE;
}

/*
 * Overlap receiving, digits still coming: is the number so far routable,
 * its first route an RFC 3578 trunk?  Then the INVITE need not wait for
 * the whole number.  Emergency numbers and ELINs are routed complete.
 */
static bool ovo_routes(struct gw_call *call)
{
	struct gw *gw = call->gw;
	struct dp_lcr_asr asr[GW_MAX_TRUNKS + 1];
	struct dp_decision *d;
	struct dp_facts f;
	bool any = false, ok;

	for (unsigned i = 0; i < gw->cfg.ntrunks && !any; i++)
		any = gw->cfg.trunks[i].rfc3578;
	if (!any || !gw->snap || !*call->called || gw->draining ||
	    is_emergency_number(gw, call->called) ||
	    gw_e911_is_elin(gw, call->called))
		return false;
	d = calloc(1, sizeof(*d));
	if (!d)
		return false;
	call_facts(call, &f, asr, call->in_called_ton, call->in_calling_ton,
		   call->in_pres);
	ok = !dp_decide(gw->snap, &f, d, NULL, 0) && !d->cause &&
	     d->nattempts && d->emergency == DP_EMERG_NONE && !d->callback &&
	     ovo_trunk(gw, &d->attempts[0]);
	free(d);
	return ok;
}

/* The route is known: the INVITE goes with the digits so far; T302
 * keeps running for the digits to come. */
static void ovo_start(struct gw_call *call)
{
	gw_info("call %.8s: %s routes to an RFC 3578 trunk: INVITE before "
		"the number is complete", call->id, call->called);
	call->ovo = OVO_INVITING;
	call->ovo_base = strlen(call->called);
	call->ovo_cid[0] = '\0';
	ring_complete(call);
}

/* The callee has the number (it rings, answers or sends progress): the
 * network may stop sending digits. */
static void ovo_end(struct gw_call *call)
{
	if (strlen(call->called) > call->ovo_sent)
		gw_info("call %.8s: digits %s came after the callee took the "
			"number", call->id, call->called + call->ovo_sent);
	call->ovo = OVO_OFF;
	call->collecting = false;
	if (call->ev_t302)
		event_del(call->ev_t302);
	if (call->in.tdm)
		tdm_call_proceeding(call->in.tdm);
}

/* The number with more digits, in an INVITE that continues the last. */
static void ovo_reinvite(struct gw_call *call)
{
	const struct dp_attempt *a = &call->dec->attempts[call->cur];
	const struct gw_trunk_cfg *t = gw_config_trunk(&call->gw->cfg,
						       a->trunk);
	struct cdr_attempt *ca = call->natt ? &call->att[call->natt - 1]
					    : NULL;
	int err = t && t->kind == GW_TRUNK_SIP ? place_sip(call, t, a)
					      : ENOENT;

	if (err) {
		gw_notice("call %.8s: no INVITE for %s: %s", call->id,
			  call->called, strerror(err));
		fail_call(call, 41);
		return;
	}
	call->ovo = OVO_INVITING;
	call->out_live = true;
	count_out(call, true);
	call->got_trying = call->got_progress = false;
	arm_attempt_timer(call);
	snprintf(call->out_called, sizeof(call->out_called), "%s%s", a->user,
		 call->called + call->ovo_base);
	if (ca)
		tg_strlcpy(ca->called, call->out_called, sizeof(ca->called));
	gw_info("call %.8s: INVITE for %s (CSeq %u)", call->id,
		call->out_called, call->ovo_cseq + 1);
}

/* RFC 3578 2: 484 Address Incomplete.  More digits may have come while
 * the INVITE was out; otherwise wait for them (T302). */
static void ovo_got_484(struct gw_call *call)
{
	struct sip_leg *leg = call->out.sip;

	if (leg) {
		tg_strlcpy(call->ovo_cid, sip_leg_call_id(leg),
			   sizeof(call->ovo_cid));
		tg_strlcpy(call->ovo_tag, sip_leg_local_tag(leg),
			   sizeof(call->ovo_tag));
		call->ovo_cseq = sip_leg_invite_cseq(leg);
	}
	call->sip_status = 484;
	event_del(call->ev_attempt);
	hangup_out(call, 28);
	unbridge_out(call);
	if (strlen(call->called) > call->ovo_sent) {
		ovo_reinvite(call);
		return;
	}
	if (!call->collecting) {
		/* The number is complete (Sending Complete, T302): 484 for
		 * all of it is the callee's last word. */
		gw_notice("call %.8s: 484 for the whole number %s", call->id,
			  call->called);
		fail_call(call, 28);
		return;
	}
	call->ovo = OVO_WAIT;
}

/* ---- PRI events ------------------------------------------------------------ */

static enum dp_ton ton_of(int plan)
{
	return (enum dp_ton)((plan >> 4) & 7);
}

static bool number_complete(const struct gw_call *call);
static void arm_t302(struct gw_call *call);
static void on_t302(evutil_socket_t fd, short what, void *arg);
static void ring_complete(struct gw_call *call);

static void on_ring(struct gw *gw, struct tdm_span *span,
		    const struct tdm_event *ev)
{
	struct gw_call *call;

	call = call_new(gw, DP_TRUNK_TDM);
	if (!call) {
		tdm_call_hangup(ev->call, 42);
		return;
	}
	call->in.tdm = obj_ref(ev->call);
	tdm_call_set_arg(ev->call, call);
	call->in.span = tdm_span_id(span);
	call->in.chan = (int)tdm_call_chan(ev->call);
	tg_strlcpy(call->calling, ev->calling, sizeof(call->calling));
	tg_strlcpy(call->called, ev->called, sizeof(call->called));
	call->calling_asserted = true; /* the network's number */
	if (!(ev->calling_pres & 0x60) && ev->calling_name)
		tg_strlcpy(call->calling_name, ev->calling_name,
			   sizeof(call->calling_name));
	tg_strlcpy(call->diversion, ev->redirecting ? ev->redirecting : "",
		   sizeof(call->diversion));
	call->diversion_ton = ton_of(ev->redirecting_plan);
	call->div_reason = ev->redirecting_reason;
	call->in.digital = ev->digital;
	snprintf(call->in.trunk, sizeof(call->in.trunk), "span%d",
		 call->in.span);
	for (unsigned i = 0; i < gw->cfg.ntrunks; i++) {
		const struct gw_trunk_cfg *tt = &gw->cfg.trunks[i];

		for (unsigned s = 0; tt->kind == GW_TRUNK_TDM && s < tt->nspans;
		     s++)
			if (tt->spans[s] == call->in.span)
				tg_strlcpy(call->in.trunk, tt->name,
					   sizeof(call->in.trunk));
	}

	call->in_called_ton = ton_of(ev->called_plan);
	call->in_calling_ton = ton_of(ev->calling_plan);
	call->in_pres = ev->calling_pres & 0x60 ? DP_PRES_RESTRICTED
						: DP_PRES_ALLOWED;
	if (!ev->complete && !number_complete(call)) {
		/* Overlap receiving: the network sends the rest of the
		 * number in INFORMATION (we sent SETUP ACKNOWLEDGE). */
		call->collecting = true;
		call->ev_t302 = evtimer_new(gw->base, on_t302, call);
		if (!call->ev_t302) {
			fail_call(call, 47);
			goto out;
		}
		arm_t302(call);
		if (ovo_routes(call))
			ovo_start(call);
		goto out;
	}
	ring_complete(call);
 out:
	maybe_reap(call);
}

/* Overlap receiving: is what came enough to route? An emergency number
 * at once (no 911 waits for T302), or [span] overlap_digits. */
static bool number_complete(const struct gw_call *call)
{
	const struct gw_span_cfg *sc =
		gw_config_span(&call->gw->cfg, call->in.span);

	if (is_emergency_number(call->gw, call->called))
		return true;
	return sc && sc->overlap_digits &&
	       strlen(call->called) >= sc->overlap_digits;
}

static void arm_t302(struct gw_call *call)
{
	const struct gw_span_cfg *sc =
		gw_config_span(&call->gw->cfg, call->in.span);
	unsigned ms = sc && sc->t302_ms ? sc->t302_ms : 5000;
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(call->ev_t302, &tv);
}

/* Q.931 T302 expired: the number is as complete as it will get. */
static void on_t302(evutil_socket_t fd, short what, void *arg)
{
	struct gw_call *call = arg;

	(void)fd;
	(void)what;
	if (!call->collecting || call->state == CS_ENDED)
		return;
	obj_ref(call);
	call->collecting = false;
	gw_dbg(GW_DBG_CALL, "call %.8s: T302: number %s", call->id,
	       call->called);
	if (call->ovo == OVO_WAIT) {
		/* The callee said 484 and no digit came since. */
		gw_notice("call %.8s: T302 after 484 for %s: cleared, cause 28",
			  call->id, call->called);
		fail_call(call, 28);
	} else if (call->ovo == OVO_INVITING) {
		/* That INVITE has every digit: its answer decides. */
	} else if (!*call->called)
		fail_call(call, 28); /* invalid number format (incomplete) */
	else
		ring_complete(call);
	maybe_reap(call);
	obj_deref(call);
}

/* Overlap receiving: more digits. */
static void on_digits(struct gw_call *call, const struct tdm_event *ev)
{
	size_t n = strlen(call->called);
	bool done;

	if (!call->collecting || call->state == CS_ENDED)
		return;
	if (ev->called && n + strlen(ev->called) < sizeof(call->called))
		strcat(call->called, ev->called);
	done = ev->complete || number_complete(call) ||
	       strlen(call->called) + 1 >= sizeof(call->called);
	if (done) {
		call->collecting = false;
		event_del(call->ev_t302);
	} else {
		arm_t302(call);
	}
	if (call->ovo != OVO_OFF) {
		/* The callee asked for more (484): here they are. */
		if (call->ovo == OVO_WAIT)
			ovo_reinvite(call);
		return;
	}
	if (done)
		ring_complete(call);
	else if (ovo_routes(call))
		ovo_start(call);
}

/* The called number is known: admission, then the route. */
static void ring_complete(struct gw_call *call)
{
	struct gw *gw = call->gw;
	struct tdm_span *span = gw_span(gw, call->in.span);

	if (gw->draining && !is_emergency_number(gw, call->called) &&
	    !gw_e911_is_elin(gw, call->called)) {
		fail_call(call, 41);
		return;
	}
	{
		const struct gw_trunk_cfg *t =
			gw_config_trunk(&gw->cfg, call->in.trunk);

		const struct gw_span_cfg *sc =
			gw_config_span(&gw->cfg, call->in.span);
		bool ordinary = !is_emergency_number(gw, call->called) &&
				!gw_e911_is_elin(gw, call->called);

		if (ordinary && !gw_span_open(gw, call->in.span)) {
			gw_notice("call %.8s: span %d is drained", call->id,
				  call->in.span);
			fail_call(call, 34);
			return;
		}
		if (ordinary && sc && sc->e911_reserve && span &&
		    tdm_span_idle_count(span) < sc->e911_reserve) {
			gw_notice("call %.8s: span %d: only the %u channel(s) "
				  "kept for emergency calls are idle", call->id,
				  call->in.span, sc->e911_reserve);
			fail_call(call, 34);
			return;
		}
		if (t && ordinary && !admit_in(call, t)) {
			fail_call(call, 34);
			return;
		}
	}
	/* Tell the network we have it; routing and the attempts follow.
	 * In overlap toward SIP the network goes on sending digits until
	 * the callee has the number (ovo_end). */
	if (call->ovo == OVO_OFF)
		tdm_call_proceeding(call->in.tdm);
	route_call(call, call->in_called_ton, call->in_calling_ton,
		   call->in_pres);
}

/* PRI events of the caller's side. */
static void in_tdm(struct gw_call *call, const struct tdm_event *ev)
{
	if (ev->type == TDM_EV_DIGITS) {
		on_digits(call, ev);
		return;
	}
	if (ev->type != TDM_EV_HANGUP)
		return;
	end_call(call, ev->cause);
	tdm_call_set_arg(call->in.tdm, NULL);
	call->in.tdm = obj_deref(call->in.tdm);
	hangup_out(call, ev->cause);
}

#define MAX_REHUNTS 2

/*
 * Cause 44, "requested circuit/channel not available": the far end holds
 * the channel we chose (glare: its SETUP crossed ours, or the channel is
 * stuck on its side).  RESTART that channel so that both sides agree it
 * is idle (Q.931 5.5) and hunt again on the same trunk; the caller hears
 * nothing of it.
 */
static void rehunt(struct gw_call *call)
{
	struct tdm_span *span = gw_span(call->gw, call->out.span);
	/* Glare (Q.931 5.7): the network's own call took the channel; it
	 * is in use, not stuck, and a RESTART would clear that call. */
	bool glare = span && call->out.chan > 0 &&
		     tdm_chan_call(span, (unsigned)call->out.chan);

	call->rehunts++;
	gw_notice("call %.8s: span %d chan %d refused by the far end (cause "
		  "44): %s, hunting again", call->id, call->out.span,
		  call->out.chan, glare ? "the network's call has it (glare)"
					: "channel restarted");
	if (span && call->out.chan > 0 && !glare)
		tdm_chan_reset(span, (unsigned)call->out.chan);
	attempt_done(call, "rehunt", 0, 44);
	event_del(call->ev_attempt);
	hangup_out(call, 44);
	unbridge_out(call);
	call->next_attempt = (unsigned)call->cur;
	try_next(call);
}

/* PRI events of an attempt's side. */
static void out_tdm(struct gw_call *call, const struct tdm_event *ev)
{
	struct dp_attempt_result r = {0, 0};

	const struct gw_span_cfg *sc = gw_config_span(&call->gw->cfg,
						      call->out.span);
	int em = sc ? sc->early_media : GW_EM_PI;

	/* channel_select = preferred: the far end's reply may have moved
	 * the call to another B-channel (audio and CDR follow it). */
	if (call->out.tdm)
		call->out.chan = (int)tdm_call_chan(call->out.tdm);
	if (call->ovl != OVL_OFF && ovl_net_event(call, ev))
		return;
	switch (ev->type) {
	case TDM_EV_SETUP_ACK:
		ovl_setup_ack(call, ev->inband, em);
		break;
	case TDM_EV_PROCEEDING:
		/* The network has the call: that is progress enough.  With
		 * a progress indicator of in-band information (Q.931 PI 8)
		 * there is something to hear already: 183. */
		call->got_trying = call->got_progress = true;
		event_del(call->ev_attempt);
		if (ev->inband && em != GW_EM_NEVER)
			tell_in_progress(call, false, true);
		break;
	case TDM_EV_ALERTING:
	case TDM_EV_PROGRESS:
		call->got_trying = call->got_progress = true;
		event_del(call->ev_attempt);
		tell_in_progress(call, ev->type == TDM_EV_ALERTING,
				 em == GW_EM_ALWAYS ||
				 (em == GW_EM_PI && ev->inband));
		break;
	case TDM_EV_ANSWER: {
		const struct gw_trunk_cfg *in =
			gw_config_trunk(&call->gw->cfg, call->in.trunk);

		/* Connected line toward a trusted SIP caller: who answered,
		 * withheld (Privacy: id) when the network says so. */
		if (ev->connected && *ev->connected && in && in->trusted &&
		    call->in.sip)
			sip_leg_set_answer_identity(call->in.sip, ev->connected,
						    ev->connected_restricted);
		call_answered(call);
		break;
	}
	case TDM_EV_HANGUP:
		tdm_call_set_arg(call->out.tdm, NULL);
		call->out.tdm = obj_deref(call->out.tdm);
		if (call->state == CS_ANSWERED) {
			end_call(call, ev->cause);
			hangup_in(call, ev->cause);
			break;
		}
		if (call->state == CS_ENDED)
			break;
		if (ev->cause == 44 && call->state == CS_ROUTING &&
		    call->rehunts < MAX_REHUNTS) {
			rehunt(call);
			break;
		}
		r.q850_cause = ev->cause ? ev->cause : 16;
		attempt_failed(call, &r, "released");
		break;
	default:
		break;
	}
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
	if (ev->call == call->in.tdm)
		in_tdm(call, ev);
	else if (ev->call == call->out.tdm)
		out_tdm(call, ev);
	maybe_reap(call);
	obj_deref(call);
}

/* Clear the live calls on span @p span (0: every call) with @p cause. */
static void clear_calls(struct gw *gw, int span, int cause)
{
	struct gw_call *call = gw->calls;

	while (call) {
		struct gw_call *next = call->next;

		obj_ref(call);
		if (call->state != CS_ENDED &&
		    (!span || (call->in.tdm && call->in.span == span) ||
		     (call->out.tdm && call->out.span == span))) {
			end_call(call, cause);
			hangup_out(call, cause);
			hangup_in(call, cause);
		}
		maybe_reap(call);
		/* maybe_reap may unlink this call but never its successor. */
		obj_deref(call);
		call = next;
	}
}

/* The media timeout of a SIP side, s (0 none): its trunk's or [sip]'s. */
static unsigned side_rtp_timeout(const struct gw_call *call,
				 const struct side *s)
{
	const struct gw_trunk_cfg *t;

	if (s->kind != DP_TRUNK_SIP)
		return 0;
	t = gw_config_trunk(&call->gw->cfg, s->trunk);
	if (t && t->rtp_timeout >= 0)
		return (unsigned)t->rtp_timeout;
	return call->gw->cfg.rtp_timeout;
}

static unsigned call_rtp_timeout(const struct gw_call *call)
{
	unsigned a = side_rtp_timeout(call, &call->in);
	unsigned b = side_rtp_timeout(call, &call->out);

	if (!a || (b && b < a))
		return b;
	return a;
}

/* A SIP side's SDP holds the call: its RTP may stop, and that is no
 * failure. */
static bool call_held(const struct gw_call *call)
{
	return (call->in.kind == DP_TRUNK_SIP && call->in.have_remote &&
		call->in.remote.hold) ||
	       (call->out.kind == DP_TRUNK_SIP && call->out.have_remote &&
		call->out.remote.hold);
}

void gw_call_rtp_check(struct gw *gw)
{
	struct gw_call *call = gw->calls;

	while (call) {
		struct gw_call *next = call->next;
		unsigned limit, idle;

		obj_ref(call);
		/* Answered calls only: before the answer a SIP callee owes
		 * us no media, and the ring timeout covers that time. */
		if (call->state == CS_ANSWERED && call->bridge &&
		    !call_held(call) && (limit = call_rtp_timeout(call)) &&
		    !media_bridge_rx_idle(gw->me, call->bridge, &idle) &&
		    idle >= limit * 1000u) {
			/* Q.850 41: the network is not working correctly
			 * (the far end's media is gone). */
			gw_notice("call %.8s: no RTP for %u s, clearing",
				  call->id, idle / 1000);
			end_call(call, 41);
			hangup_out(call, 41);
			hangup_in(call, 41);
		}
		maybe_reap(call);
		obj_deref(call);
		call = next;
	}
}

void gw_call_clear_all(struct gw *gw, int cause)
{
	clear_calls(gw, 0, cause);
}

void gw_call_clear_span(struct gw *gw, int span, int cause)
{
	clear_calls(gw, span, cause);
}

void gw_call_reap_all(struct gw *gw)
{
	gw_call_clear_all(gw, 16);
	while (gw->calls) {
		struct gw_call *call = gw->calls;

		unlink_call(call);
		if (call->in.sip) {
			sip_leg_set_handler(call->in.sip, NULL, NULL);
			call->in.sip = obj_deref(call->in.sip);
			obj_deref(call); /* the handler's reference */
		}
		if (call->out.sip) {
			sip_leg_set_handler(call->out.sip, NULL, NULL);
			call->out.sip = obj_deref(call->out.sip);
			obj_deref(call);
		}
		obj_deref(call);
	}
	while (gw->rstats) {
		struct gw_rstat *r = gw->rstats;

		gw->rstats = r->next;
		free(r);
	}
}

static void fill_info(const struct gw_call *c, struct gw_call_info *out)
{
	struct gw_call_info ci = {
		.direction = cdr_direction_name(call_direction(c)),
		.state = state_name(c->state),
		.calling = c->calling,
		.called = c->called,
		.in_trunk = c->in.trunk,
		.out_trunk = c->out.trunk,
		.span = c->out.kind == DP_TRUNK_TDM && c->out.span
				? c->out.span : c->in.span,
		.chan = c->out.kind == DP_TRUNK_TDM && c->out.span
				? c->out.chan : c->in.chan,
		.codec = gw_codec_name(c->codec),
		.start_ms = c->start_ms,
		.answer_ms = c->answer_ms,
		.call_id = c->call_id,
		.emergency = is_protected(c),
	};

	tg_strlcpy(ci.id, c->id, sizeof(ci.id));
	*out = ci;
}

void gw_call_foreach(struct gw *gw, gw_call_info_h *h, void *arg)
{
	for (struct gw_call *c = gw->calls; c; c = c->next) {
		struct gw_call_info ci;

		fill_info(c, &ci);
		h(&ci, arg);
	}
}

bool gw_call_info_of_tdm(struct gw *gw, const struct tdm_call *tc,
			 struct gw_call_info *ci)
{
	const struct gw_call *mine = tc ? tdm_call_arg(tc) : NULL;

	/* The call's argument is ours only while a live call holds it. */
	for (struct gw_call *c = gw->calls; mine && c; c = c->next)
		if (c == mine && (c->in.tdm == tc || c->out.tdm == tc)) {
			fill_info(c, ci);
			return true;
		}
	return false;
}
