/* tdm/span.c  A PRI span: its line (backend.h), libpri glue, B-channels */
#define LOG_MODULE "tdm"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <libpri.h>

#include "util/util.h"
#include "tdm.h"
#include "backend.h"
#include "vframe.h"

#define RECONNECT_MS 1000
/* A channel we cleared stays unusable until the far end has released it
 * (Q.931 5.3.2), or at most this long (past T305 + T308). */
#define RELEASE_GUARD_MS 40000
/* A channel we sent RESTART for waits this long for the acknowledgement
 * (T316 is 2 min, but libpri retransmits only when it is set). */
#define RESTART_GUARD_MS 30000
/* A call the audit probed and that ends this soon after, with a cause
 * that says the far end does not know it, was cleared by the audit. */
#define PROBE_WINDOW_MS 5000
/* Change status of a SERVICE message (AT&T TR 41459): */
#define SERVICE_IN_SERVICE 0
#define SERVICE_OUT_OF_SERVICE 2

struct tdm_chan {
	enum tdm_chan_state state;
	struct tdm_call *call; /* weak: cleared when the call finishes */
	q931_call *releasing;  /* RELEASING: libpri's call being cleared */
	int64_t release_by;    /* RELEASING, RESTARTING: monotonic ms guard */
	bool blocked;          /* maintenance block (now or when idle) */
	bool far_blocked;      /* the far end's SERVICE: out of service */
	bool svc_oos;          /* what our last SERVICE told the far end */
	int64_t idle_since;    /* monotonic ms it last became free; 0 */
	int last_cause;        /* Q.850 cause of the last call; 0 none */
	bool lost_release;     /* RELEASING: T308 ran out twice, the far end
				* never completed the clearing (Q.931
				* 5.3.4.3): for the audit to restart */
	unsigned audit_resets; /* found stale by the audit, since start */
	bool audit_restart;    /* RESTARTING: the audit sent this one */
	struct tdm_call *displaced; /* glare: our outgoing call whose channel
				     * the network's SETUP took (Q.931 5.7);
				     * weak, until the network answers it */
};

struct tdm_span {
	struct tdm_span_config cfg;
	char dir[256];
	FILE *pcap;         /* D-channel capture, or NULL */
	bool debug;         /* tollgatectl debug span N q931 on */
	unsigned dchan_downs; /* D-channel losses since start (alarms) */
	int64_t dchan_down_ms; /* wall clock of the last one; 0 none */
	unsigned nchan;
	struct event_base *base;
	tdm_event_h *h;
	void *arg;

	const struct tdm_backend *be;
	void *line;         /* the backend's state */
	struct pri *pri;
	int dfd;            /* D-channel fd to watch, -1 when down */
	atomic_int afd;     /* audio fd, -1 when down; read by media */
	bool dchan_up;
	bool link_dead;     /* set by the libpri read callback: line lost */
	bool d_empty;       /* the last read found no frame */
	bool closing;
	struct event *ev_d;
	struct event *ev_timer;  /* libpri's scheduler */
	struct event *ev_retry;  /* reconnect */
	struct event *ev_audit;  /* the channel audit's period */
	unsigned audit_resets;
	bool in_sched;           /* in an event of libpri's scheduler */
	int timer_default[TDM_NTIMERS]; /* libpri's, for a key removed */

	struct tdm_chan chans[TDM_VFRAME_MAXCHAN + 1]; /* [1..nchan] */
};

struct tdm_call {
	struct tdm_span *span; /* counted reference */
	q931_call *q931;       /* NULL once libpri has let go */
	unsigned chan;
	bool outgoing;
	bool replied;          /* incoming: we answered the SETUP somehow */
	bool active;           /* answered (CONNECT sent or received) */
	bool preferred;        /* outgoing: SETUP named the channel preferred */
	bool chan_settled;     /* outgoing: the far end has named it */
	bool displaced;        /* glare: chans[chan].displaced, not .call */
	int64_t probed_ms;     /* the audit's last probe, 0 none */
	bool finished;
	void *arg;
	/* Overlap sending (Q.931 5.1.3), outgoing calls only: */
	enum { OVL_NONE, OVL_SENT, OVL_ACKED, OVL_DONE } ovl;
	char ovl_queue[64];    /* digits waiting for SETUP ACKNOWLEDGE */
};

static const struct {
	const char *name;
	int type;
} switches[] = {
	{"ni2", PRI_SWITCH_NI2},
	{"national", PRI_SWITCH_NI2},
	{"ni1", PRI_SWITCH_NI1},
	{"dms100", PRI_SWITCH_DMS100},
	{"lucent5e", PRI_SWITCH_LUCENT5E},
	{"5ess", PRI_SWITCH_LUCENT5E},
	{"att4ess", PRI_SWITCH_ATT4ESS},
	{"4ess", PRI_SWITCH_ATT4ESS},
	{"euroisdn_e1", PRI_SWITCH_EUROISDN_E1},
	{"euroisdn_t1", PRI_SWITCH_EUROISDN_T1},
	{"qsig", PRI_SWITCH_QSIG},
};

int tdm_switch_parse(const char *name)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(switches); i++)
		if (!strcmp(name, switches[i].name))
			return switches[i].type;
	return -1;
}

const char *tdm_switch_name(int switchtype)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(switches); i++)
		if (switches[i].type == switchtype)
			return switches[i].name;
	return "unknown";
}

static const struct {
	const char *name;
	int pri;             /* PRI_TIMER_* */
	unsigned min_ms, max_ms;
} timers[TDM_NTIMERS] = {
	[TDM_T200] = {"t200", PRI_TIMER_T200, 100, 10000},
	[TDM_T203] = {"t203", PRI_TIMER_T203, 1000, 120000},
	[TDM_T303] = {"t303", PRI_TIMER_T303, 500, 30000},
	[TDM_T305] = {"t305", PRI_TIMER_T305, 500, 120000},
	[TDM_T308] = {"t308", PRI_TIMER_T308, 500, 30000},
	[TDM_T309] = {"t309", PRI_TIMER_T309, 1000, 300000},
	[TDM_T310] = {"t310", PRI_TIMER_T310, 1000, 300000},
	[TDM_T313] = {"t313", PRI_TIMER_T313, 500, 30000},
	[TDM_T316] = {"t316", PRI_TIMER_T316, 1000, 600000},
};

const char *tdm_timer_name(enum tdm_timer t)
{
	return t < TDM_NTIMERS ? timers[t].name : "?";
}

void tdm_timer_range(enum tdm_timer t, unsigned *min_ms, unsigned *max_ms)
{
	*min_ms = t < TDM_NTIMERS ? timers[t].min_ms : 0;
	*max_ms = t < TDM_NTIMERS ? timers[t].max_ms : 0;
}

/* The configured timers into libpri; one not configured (any more) gets
 * libpri's default, noted when the instance was new (@p fresh). */
static void apply_timers(struct tdm_span *span, bool fresh)
{
	for (int t = 0; span->pri && t < TDM_NTIMERS; t++) {
		int v = (int)span->cfg.timers[t];

		if (fresh)
			span->timer_default[t] =
				pri_get_timer(span->pri, timers[t].pri);
		if (!v)
			v = span->timer_default[t];
		/* libpri takes no negative value (T316's "off"). */
		if (v >= 0 && pri_set_timer(span->pri, timers[t].pri, v))
			gw_warn("span %d: libpri refused %s = %u",
				span->cfg.id, timers[t].name, v);
	}
}

const char *tdm_chan_state_name(enum tdm_chan_state st)
{
	switch (st) {
	case TDM_CHAN_IDLE:
		return "idle";
	case TDM_CHAN_RESERVED:
		return "reserved";
	case TDM_CHAN_IN_USE:
		return "in-use";
	case TDM_CHAN_OOS:
		return "out-of-service";
	case TDM_CHAN_RELEASING:
		return "releasing";
	case TDM_CHAN_BLOCKED:
		return "blocked";
	case TDM_CHAN_RESTARTING:
		return "restarting";
	}
	return "?";
}

/* Bearer index (1..nchan) <-> the channel number libpri puts in the
 * Channel Identification IE: the timeslot.  On E1, timeslot 16 is the
 * D-channel, so bearers 16..30 are timeslots 17..31. */
static int bearer_to_ts(const struct tdm_span *span, unsigned b)
{
	if (span->cfg.type == TDM_E1 && b >= 16)
		return (int)b + 1;
	return (int)b;
}

static unsigned ts_to_bearer(const struct tdm_span *span, int ts)
{
	if (ts <= 0)
		return 0;
	if (span->cfg.type == TDM_E1) {
		if (ts == 16 || ts > 31)
			return 0;
		return (unsigned)(ts > 16 ? ts - 1 : ts);
	}
	return ts <= 23 ? (unsigned)ts : 0;
}

/*
 * libpri has no destructor for a struct pri: one that served a line which
 * went away can only be retired.  Keep them reachable here (a few KiB per
 * lost line) rather than leaking them outright; signalling thread only.
 */
static struct pri **retired;
static size_t nretired;

static void retire_pri(struct pri *pri)
{
	struct pri **r;

	if (!pri)
		return;
	pri_set_userdata(pri, NULL);
	r = realloc(retired, (nretired + 1) * sizeof(*r));
	if (!r)
		return; /* it leaks; nothing else to do with it */
	retired = r;
	retired[nretired++] = pri;
}

static void ovl_note(const struct tdm_event *ev);

static void emit(struct tdm_span *span, const struct tdm_event *ev)
{
	ovl_note(ev);
	if (span->h)
		span->h(span, ev, span->arg);
}

static void emit_simple(struct tdm_span *span, enum tdm_event_type type,
			struct tdm_call *call, int cause, bool inband)
{
	struct tdm_event ev = {
		.type = type, .call = call, .cause = cause, .inband = inband,
	};

	emit(span, &ev);
}

/* ---- libpri plumbing ---------------------------------------------------- */

/*
 * D-channel capture for Wireshark: pcap with linktype 177 (LINUX_LAPD).
 * Each record carries a 16-byte pseudo-header (packet type 4 = sent by us,
 * 0 = received; ARPHRD_LAPD; one address byte that is 1 when the frame
 * came from the network side; protocol 0x0030) and the frame without the
 * two FCS placeholder bytes libpri adds (NOTES.md).
 */
#define PCAP_LINUX_LAPD 177

static int pcap_open(struct tdm_span *span, const char *path, bool fresh)
{
	/* The global header in host byte order, as readers expect. */
	const struct {
		uint32_t magic;
		uint16_t major, minor;
		int32_t thiszone;
		uint32_t sigfigs, snaplen, linktype;
	} hdr = {0xa1b2c3d4, 2, 4, 0, 0, 65535, PCAP_LINUX_LAPD};

	span->pcap = NULL;
	if (fresh) {
		/* Asked for over the control socket: only a new file, not a
		 * link, so that the command cannot overwrite anything. */
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
				    O_CLOEXEC, 0640);

		if (fd >= 0 && !(span->pcap = fdopen(fd, "wb")))
			close(fd);
	} else {
		span->pcap = fopen(path, "wb");
	}
	if (!span->pcap) {
		int err = errno;

		gw_warn("span %d: D-channel capture %s: %s", span->cfg.id,
			path, strerror(err));
		return err;
	}
	fwrite(&hdr, sizeof(hdr), 1, span->pcap);
	fflush(span->pcap);
	return 0;
}

static void pcap_frame(struct tdm_span *span, const uint8_t *frame,
		       size_t len, bool sent)
{
	uint8_t sll[16] = {0};
	bool from_net = sent ? span->cfg.network : !span->cfg.network;
	struct timeval tv;
	uint32_t rec[4];

	if (!span->pcap || len <= 2)
		return;
	len -= 2; /* libpri's placeholder FCS */
	gettimeofday(&tv, NULL);
	rec[0] = (uint32_t)tv.tv_sec;
	rec[1] = (uint32_t)tv.tv_usec;
	rec[2] = rec[3] = (uint32_t)(len + sizeof(sll));
	sll[1] = sent ? 4 : 0;     /* packet type, big endian */
	sll[2] = 0x20;             /* ARPHRD_LAPD = 8445 */
	sll[3] = 0xfd;
	sll[5] = 1;                /* address length */
	sll[6] = from_net ? 1 : 0; /* address: sent by the network side */
	sll[15] = 0x30;            /* protocol: LAPD */
	fwrite(rec, sizeof(rec), 1, span->pcap);
	fwrite(sll, sizeof(sll), 1, span->pcap);
	fwrite(frame, 1, len, span->pcap);
	/* A troubleshooting aid: readable while the daemon runs. */
	fflush(span->pcap);
}

/* libpri reads one frame per call; 0 = nothing (libpri then does nothing). */
static int pri_io_read(struct pri *pri, void *buf, int buflen)
{
	struct tdm_span *span = pri_get_userdata(pri);
	int n;

	if (!span || span->dfd < 0)
		return 0;
	n = span->be->d_read(span->line, buf, buflen);
	if (n > 0) {
		gw_dbg(GW_DBG_Q921, "span %d: D rx %d bytes", span->cfg.id,
		       n);
		pcap_frame(span, buf, (size_t)n, false);
		return n;
	}
	if (n < 0)
		span->link_dead = true;
	span->d_empty = true;
	return 0;
}

static int pri_io_write(struct pri *pri, void *buf, int buflen)
{
	struct tdm_span *span = pri_get_userdata(pri);
	int n;

	if (!span || span->dfd < 0)
		return -1;
	/* NOTE: libpri expects exactly buflen back: it appends 2 FCS bytes
	 * (the far libpri strips them; DAHDI's HDLC fills them in), so
	 * pass the frame through unchanged. */
	n = span->be->d_write(span->line, buf, buflen);
	if (n != buflen)
		return -1;
	pcap_frame(span, buf, (size_t)n, true);
	return buflen;
}

static void pri_log_message(struct pri *pri, char *s)
{
	struct tdm_span *span = pri ? pri_get_userdata(pri) : NULL;
	size_t len = strlen(s);

	while (len && s[len - 1] == '\n')
		len--;
	if (span && span->debug)
		gw_info("span %d q931: %.*s", span->cfg.id, (int)len, s);
	else
		gw_dbg(GW_DBG_Q931, "span %d: %.*s", span ? span->cfg.id : 0,
		       (int)len, s);
}

/* libpri's trace: decoded Q.931 when this span's debug or the global
 * q931 bit is on, Q.921 states with the global q921 bit. */
static void apply_debug(struct tdm_span *span)
{
	int flags = 0;

	if (!span->pri)
		return;
	if (span->debug || (gw_debug_mask & GW_DBG_Q931))
		flags |= PRI_DEBUG_Q931_DUMP | PRI_DEBUG_Q931_STATE;
	if (gw_debug_mask & GW_DBG_Q921)
		flags |= PRI_DEBUG_Q921_STATE;
	pri_set_debug(span->pri, flags);
}

static void pri_log_error(struct pri *pri, char *s)
{
	struct tdm_span *span = pri ? pri_get_userdata(pri) : NULL;
	size_t len = strlen(s);

	while (len && s[len - 1] == '\n')
		len--;
	gw_warn("span %d: libpri: %.*s", span ? span->cfg.id : 0, (int)len,
		s);
}

static void handle_event(struct tdm_span *span, pri_event *e);
static void link_down(struct tdm_span *span);
static void on_audit(evutil_socket_t fd, short what, void *arg);
static void audit_arm(struct tdm_span *span);
static int send_restart(struct tdm_span *span, unsigned chan);

/* Re-arm our one libpri timer after every call into libpri. */
static void arm_timer(struct tdm_span *span)
{
	struct timeval *next, now, delta;

	if (!span->pri)
		return;
	next = pri_schedule_next(span->pri);
	if (!next) {
		event_del(span->ev_timer);
		return;
	}
	gettimeofday(&now, NULL);
	if (timercmp(next, &now, <)) {
		timerclear(&delta);
	} else {
		timersub(next, &now, &delta);
	}
	event_add(span->ev_timer, &delta);
}

static void on_pri_timer(evutil_socket_t fd, short what, void *arg)
{
	struct tdm_span *span = arg;
	pri_event *e;

	if (!span->pri)
		return;
	e = pri_schedule_run(span->pri);
	if (e) {
		/* What a timer reports, nothing the far end said. */
		span->in_sched = true;
		handle_event(span, e);
		span->in_sched = false;
	}
	arm_timer(span);
}

static void on_dchan(evutil_socket_t fd, short what, void *arg)
{
	struct tdm_span *span = arg;
	pri_event *e;

	/* Drain every queued frame: each pri_check_event reads one, until
	 * a read finds nothing. */
	span->d_empty = false;
	for (int i = 0; i < 64 && span->pri && !span->link_dead &&
	     !span->d_empty; i++) {
		e = pri_check_event(span->pri);
		if (e)
			handle_event(span, e);
	}
	if (span->link_dead) {
		link_down(span);
		return;
	}
	arm_timer(span);
}

/* ---- calls -------------------------------------------------------------- */

/* What a channel with no call and no clearing under way is. */
static enum tdm_chan_state rest_state(const struct tdm_span *span,
				      const struct tdm_chan *ch)
{
	if (ch->blocked || ch->far_blocked)
		return TDM_CHAN_BLOCKED;
	return span->dchan_up ? TDM_CHAN_IDLE : TDM_CHAN_OOS;
}

static void call_destructor(void *arg)
{
	struct tdm_call *call = arg;

	obj_deref(call->span);
}

static struct tdm_call *call_new(struct tdm_span *span, q931_call *q,
				 unsigned chan, bool outgoing)
{
	struct tdm_call *call = obj_zalloc(sizeof(*call), call_destructor);

	if (!call)
		return NULL;
	call->span = obj_ref(span);
	call->q931 = q;
	call->chan = chan;
	call->outgoing = outgoing;
	span->chans[chan].call = call;
	span->chans[chan].state =
		outgoing ? TDM_CHAN_RESERVED : TDM_CHAN_IN_USE;
	return call;
}

/* The call is over for us: free its channel.  The caller drops the
 * reference the span's channel table does not hold (it is weak). */
static void call_finish(struct tdm_call *call)
{
	struct tdm_span *span = call->span;

	if (call->finished)
		return;
	call->finished = true;
	call->q931 = NULL;
	if (call->displaced) {
		if (span->chans[call->chan].displaced == call)
			span->chans[call->chan].displaced = NULL;
		return;
	}
	if (span->chans[call->chan].call == call) {
		struct tdm_chan *ch = &span->chans[call->chan];

		ch->call = NULL;
		ch->state = rest_state(span, ch);
		ch->idle_since = tg_mono_ms();
	}
}

static struct tdm_call *find_call(struct tdm_span *span, q931_call *q)
{
	if (!q)
		return NULL;
	for (unsigned c = 1; c <= span->nchan; c++) {
		struct tdm_call *call = span->chans[c].call;

		if (call && call->q931 == q)
			return call;
		call = span->chans[c].displaced;
		if (call && call->q931 == q)
			return call;
	}
	return NULL;
}

/*
 * Glare (Q.931 5.7): the network's SETUP names, exclusively, the channel
 * our SETUP is still waiting on.  The network side wins: its call takes
 * the channel, ours waits aside for the network's answer, which clears it
 * (cause 44: the gateway hunts again) or, if we offered the channel only
 * as preferred, puts it on another channel (follow_channel).  On the
 * network side ours wins and theirs is refused as usual.
 */
static void glare_yield(struct tdm_span *span, unsigned c)
{
	struct tdm_chan *ch = &span->chans[c];
	struct tdm_call *ours = ch->call;

	if (span->cfg.network || ch->state != TDM_CHAN_RESERVED || !ours ||
	    !ours->outgoing || ours->chan_settled || ch->displaced)
		return;
	gw_notice("span %d chan %u: glare: the network's SETUP takes the "
		  "channel; ours waits for its answer", span->cfg.id, c);
	ours->displaced = true;
	ch->displaced = ours;
	ch->call = NULL;
	ch->state = rest_state(span, ch);
}

/* A displaced call is over with its channel's (RESTART, line lost). */
static void displaced_drop(struct tdm_span *span, unsigned c, int cause)
{
	struct tdm_call *call = span->chans[c].displaced;

	if (!call)
		return;
	obj_ref(call);
	if (call->q931 && span->pri)
		pri_destroycall(span->pri, call->q931);
	call_finish(call);
	emit_simple(span, TDM_EV_HANGUP, call, cause, false);
	obj_deref(call);
}

/* The clearing of a channel we hung up has completed. */
static bool release_done(struct tdm_span *span, q931_call *q)
{
	for (unsigned c = 1; c <= span->nchan; c++) {
		struct tdm_chan *ch = &span->chans[c];

		if (ch->state == TDM_CHAN_RELEASING && ch->releasing == q) {
			ch->releasing = NULL;
			ch->state = rest_state(span, ch);
			ch->idle_since = tg_mono_ms();
			return true;
		}
	}
	return false;
}

/*
 * libpri gave up on a clearing of ours (T308 ran out twice, or the
 * D-channel went): nobody knows what the far end made of the channel.
 * Q.931 5.3.4.3 takes it out of use until a RESTART; the audit sends
 * one.  Without the audit the channel is free again at once, as before.
 */
static bool release_lost(struct tdm_span *span, q931_call *q)
{
	for (unsigned c = 1; span->cfg.audit_s && c <= span->nchan; c++) {
		struct tdm_chan *ch = &span->chans[c];

		if (ch->state == TDM_CHAN_RELEASING && ch->releasing == q) {
			ch->releasing = NULL;
			ch->lost_release = true;
			gw_warn("span %d chan %u: the far end never completed "
				"the release; channel kept for the audit to "
				"restart", span->cfg.id, c);
			return true;
		}
	}
	return false;
}

/* Is the channel free for a new call?  A release the far end never
 * completed gives the channel back after the guard time. */
static bool chan_free(struct tdm_span *span, unsigned c)
{
	struct tdm_chan *ch = &span->chans[c];

	if ((ch->state == TDM_CHAN_RELEASING ||
	     ch->state == TDM_CHAN_RESTARTING) && !ch->lost_release &&
	    tg_mono_ms() >= ch->release_by) {
		gw_warn("span %d chan %u: %s not completed by the far end; "
			"channel back in service", span->cfg.id, c,
			ch->state == TDM_CHAN_RELEASING ? "release"
							: "restart");
		ch->releasing = NULL;
		ch->audit_restart = false;
		ch->state = rest_state(span, ch);
	}
	return ch->state == TDM_CHAN_IDLE;
}

/* Far end cleared: tell libpri we are done and the gateway it is over. */
static void far_hangup(struct tdm_span *span, q931_call *q, int cause)
{
	struct tdm_call *call = find_call(span, q);
	bool t303;

	/* RELEASE (COMPLETE) may come without a Cause IE (Q.931 5.3.4). */
	if (cause <= 0)
		cause = PRI_CAUSE_NORMAL_CLEARING;

	pri_hangup(span->pri, q, cause);
	if (!call) {
		/* RELEASE for a call we cleared: the channel is free now. */
		release_done(span, q);
		return;
	}
	/* T303 ran out twice: libpri says "no user responding" (18), but
	 * nobody answered at all, not even the network; Q.931 5.1.1 clears
	 * such a call with 102, which the SIP side hears as 504, not 408. */
	t303 = span->in_sched && call->outgoing && !call->chan_settled &&
	       !call->displaced && cause == PRI_CAUSE_NO_USER_RESPONSE;
	if (t303)
		cause = PRI_CAUSE_RECOVERY_ON_TIMER_EXPIRE;
	if (!call->displaced)
		span->chans[call->chan].last_cause = cause;
	gw_dbg(GW_DBG_Q931, "span %d chan %u: far end cleared, cause %d",
	       span->cfg.id, call->chan, cause);
	if (call->probed_ms &&
	    tg_mono_ms() - call->probed_ms <= PROBE_WINDOW_MS &&
	    (cause == PRI_CAUSE_INVALID_CALL_REFERENCE ||
	     cause == PRI_CAUSE_WRONG_MESSAGE ||
	     cause == PRI_CAUSE_WRONG_CALL_STATE)) {
		/* The answer to the audit's probe: the far end has no such
		 * call (Q.931 5.8.3.2), so neither have we now. */
		span->audit_resets++;
		span->chans[call->chan].audit_resets++;
		gw_warn("span %d chan %u: audit: the far end does not know "
			"the call (cause %d); call cleared", span->cfg.id,
			call->chan, cause);
	}
	obj_ref(call);
	call_finish(call);
	if (t303) {
		/* libpri tells the network nothing (no RELEASE COMPLETE),
		 * which may still hold the call: RESTART the channel before
		 * the gateway can hunt it again. */
		gw_notice("span %d chan %u: no reply to the SETUP (T303 "
			  "twice): channel restarted", span->cfg.id,
			  call->chan);
		send_restart(span, call->chan);
	}
	emit_simple(span, TDM_EV_HANGUP, call, cause, false);
	obj_deref(call);
}

static void handle_ring(struct tdm_span *span, pri_event *e)
{
	q931_call *q = e->ring.call;
	unsigned chan = ts_to_bearer(span, e->ring.channel & 0xff);
	char calling[64], called[64], redirecting[64], cname[64];
	struct tdm_event ev = {.type = TDM_EV_RING};
	struct tdm_call *call;

	/* Copy the event: libpri reuses its slot on the next call. */
	tg_strlcpy(calling, e->ring.callingnum, sizeof(calling));
	tg_strlcpy(called, e->ring.callednum, sizeof(called));
	tg_strlcpy(cname, e->ring.callingname, sizeof(cname));
	ev.calling_name = cname;
	ev.calling_pres = e->ring.callingpres;
	ev.called_plan = e->ring.calledplan & 0x7f;
	ev.calling_plan = e->ring.callingplan & 0x7f;
	/* The Redirecting Number IE (RDNIS): who diverted the call here. */
	tg_strlcpy(redirecting, e->ring.redirectingnum, sizeof(redirecting));
	ev.redirecting = redirecting;
	ev.redirecting_plan = e->ring.callingplanrdnis & 0x7f;
	ev.redirecting_reason = e->ring.redirectingreason;
	ev.digital = e->ring.ctype == PRI_TRANS_CAP_DIGITAL ||
		     e->ring.ctype == PRI_TRANS_CAP_RESTRICTED_DIGITAL ||
		     e->ring.ctype == PRI_TRANS_CAP_DIGITAL_W_TONES;

	if (chan && e->ring.flexible && !chan_free(span, chan))
		chan = 0; /* preferred, not exclusive: choose another */
	if ((e->ring.channel <= 0 || !chan) && e->ring.flexible) {
		/* Any channel: pick the lowest idle one (Q.931 5.2.3.1). */
		for (unsigned c = 1; c <= span->nchan && !chan; c++)
			if (chan_free(span, c))
				chan = c;
	} else if (chan && span->chans[chan].state == TDM_CHAN_RELEASING) {
		/* The network offers it again, so it has finished clearing
		 * its side: our RELEASE COMPLETE crossed this SETUP. */
		span->chans[chan].releasing = NULL;
		span->chans[chan].state = rest_state(span, &span->chans[chan]);
	}
	if (chan && !e->ring.flexible)
		glare_yield(span, chan);
	if (!chan || span->chans[chan].state != TDM_CHAN_IDLE) {
		gw_warn("span %d: SETUP for %s on channel %d refused: %s",
			span->cfg.id, called, e->ring.channel & 0xff,
			chan ? tdm_chan_state_name(span->chans[chan].state)
			     : "no such channel");
		/* NOTE: libpri sends nothing for a hangup of a SETUP it has
		 * not answered, so answer it first, then clear. */
		pri_proceeding(span->pri, q, e->ring.channel, 0);
		pri_hangup(span->pri, q,
			   chan ? PRI_CAUSE_REQUESTED_CHAN_UNAVAIL
				: PRI_CAUSE_IDENTIFIED_CHANNEL_NOTEXIST);
		return;
	}
	call = call_new(span, q, chan, false);
	if (!call) {
		pri_proceeding(span->pri, q, e->ring.channel, 0);
		pri_hangup(span->pri, q, PRI_CAUSE_SWITCH_CONGESTION);
		return;
	}
	gw_dbg(GW_DBG_Q931, "span %d chan %u: SETUP %s -> %s", span->cfg.id,
	       chan, calling, called);
	/* Q.931 5.1.3 overlap receiving: no Sending Complete, so more
	 * digits may follow in INFORMATION; SETUP ACKNOWLEDGE asks them. */
	ev.complete = !span->cfg.overlap || e->ring.complete;
	if (!ev.complete) {
		call->replied = true;
		pri_need_more_info(span->pri, q, bearer_to_ts(span, chan), 0);
	}
	ev.call = call;
	ev.calling = calling;
	ev.called = called;
	emit(span, &ev);
	/* The gateway took its own reference if it wants the call. */
	if (!call->finished && obj_nrefs(call) == 1) {
		gw_warn("span %d chan %u: incoming call not taken", span->cfg.id,
			chan);
		tdm_call_hangup(call, PRI_CAUSE_NORMAL_TEMPORARY_FAILURE);
	}
	obj_deref(call);
}

static void clear_all_calls(struct tdm_span *span, int cause)
{
	for (unsigned c = 1; c <= span->nchan; c++) {
		struct tdm_call *call = span->chans[c].call;

		displaced_drop(span, c, cause);
		if (!call)
			continue;
		obj_ref(call);
		call_finish(call);
		span->chans[c].last_cause = cause;
		emit_simple(span, TDM_EV_HANGUP, call, cause, false);
		obj_deref(call);
	}
}

/*
 * Forget channel @p c's call and any clearing under way, in libpri too
 * (a RESTART went or came for it), and leave the channel in @p next.
 * The gateway hears TDM_EV_HANGUP with @p cause for a call; the state is
 * set first, so a failover it starts from there cannot pick this channel.
 */
static void chan_forget(struct tdm_span *span, unsigned c,
			enum tdm_chan_state next, int cause)
{
	struct tdm_chan *ch = &span->chans[c];
	struct tdm_call *call = ch->call;

	if (ch->state == TDM_CHAN_RELEASING && ch->releasing && span->pri)
		pri_destroycall(span->pri, ch->releasing);
	ch->releasing = NULL;
	ch->lost_release = false;
	displaced_drop(span, c, cause ? cause
				      : PRI_CAUSE_NORMAL_TEMPORARY_FAILURE);
	if (!call) {
		ch->state = next;
		return;
	}
	obj_ref(call);
	if (call->q931 && span->pri)
		pri_destroycall(span->pri, call->q931);
	call_finish(call);
	ch->state = next;
	ch->last_cause = cause;
	emit_simple(span, TDM_EV_HANGUP, call, cause, false);
	obj_deref(call);
}

/*
 * D-channel state.  A Q.921 link that goes down is usually re-established
 * within seconds, and libpri keeps its calls meanwhile (active ones until
 * T309 expires), reporting each one it gives up on as PRI_EVENT_HANGUP.
 * So only idle channels change state here; calls are left to libpri.
 */
static void set_dchan(struct tdm_span *span, bool up)
{
	unsigned restarted = 0;

	if (span->dchan_up == up)
		return;
	span->dchan_up = up;
	if (up) {
		gw_notice("span %d: D-channel up", span->cfg.id);
	} else {
		/* An alarm: calls keep their channels for T309, routing
		 * stops using the span. */
		span->dchan_downs++;
		span->dchan_down_ms = tg_time_ms();
		gw_warn("span %d: D-channel down (alarm %u)", span->cfg.id,
			span->dchan_downs);
	}
	for (unsigned c = 1; c <= span->nchan; c++) {
		struct tdm_chan *ch = &span->chans[c];

		if (ch->call || ch->state == TDM_CHAN_RELEASING)
			continue;
		ch->state = rest_state(span, ch);
		/* Q.931 5.5: after the link comes (back) up, both sides
		 * agree that the idle channels are idle.  Calls that lived
		 * through the outage (T309) keep their channels. */
		if (up && span->cfg.restart_on_up && span->pri &&
		    ch->state == TDM_CHAN_IDLE) {
			ch->state = TDM_CHAN_RESTARTING;
			ch->release_by = tg_mono_ms() + RESTART_GUARD_MS;
			pri_reset(span->pri, bearer_to_ts(span, c));
			restarted++;
		}
	}
	if (restarted)
		gw_info("span %d: RESTART sent for %u idle channel(s)",
			span->cfg.id, restarted);
	/* Blocks and unblocks made while the link was down reach the far
	 * end now. */
	for (unsigned c = 1; up && span->cfg.service && span->pri &&
	     c <= span->nchan; c++) {
		struct tdm_chan *ch = &span->chans[c];

		if (ch->svc_oos == ch->blocked)
			continue;
		pri_maintenance_service(span->pri, 0, bearer_to_ts(span, c),
					ch->blocked ? SERVICE_OUT_OF_SERVICE
						    : SERVICE_IN_SERVICE);
		ch->svc_oos = ch->blocked;
	}
	emit_simple(span, up ? TDM_EV_DCHAN_UP : TDM_EV_DCHAN_DOWN, NULL,
		    up ? 0 : PRI_CAUSE_NETWORK_OUT_OF_ORDER, false);
}

/*
 * The far end's first reply to our SETUP names the B-channel (Q.931
 * 5.2.3.1).  Offered as preferred, it may be another one: the call moves
 * there, before the gateway hears of the reply and bridges audio.  One
 * it may not take (exclusive, or a channel busy here) clears the call
 * with cause 6.  @return the call (NULL: cleared, TDM_EV_HANGUP sent).
 */
static struct tdm_call *follow_channel(struct tdm_span *span,
				       struct tdm_call *call, int channel)
{
	unsigned b = channel > 0 ? ts_to_bearer(span, channel & 0xff) : 0;
	struct tdm_chan *from, *to;

	if (!call || !call->outgoing || call->chan_settled || !b)
		return call;
	call->chan_settled = true;
	if (b == call->chan && !call->displaced)
		return call;
	from = &span->chans[call->chan];
	to = &span->chans[b];
	if (!call->preferred || b == call->chan || !chan_free(span, b)) {
		gw_warn("span %d chan %u: the far end put the call on channel "
			"%u (%s): cleared, cause 6", span->cfg.id, call->chan,
			b, call->preferred ? tdm_chan_state_name(to->state)
					   : "we asked for ours exclusively");
		obj_ref(call);
		tdm_call_hangup(call, PRI_CAUSE_CHANNEL_UNACCEPTABLE);
		emit_simple(span, TDM_EV_HANGUP, call,
			    PRI_CAUSE_CHANNEL_UNACCEPTABLE, false);
		obj_deref(call);
		return NULL;
	}
	gw_info("span %d: call moved from channel %u to %u by the far end",
		span->cfg.id, call->chan, b);
	to->call = call;
	to->state = TDM_CHAN_RESERVED; /* the caller marks it in use */
	if (call->displaced) {
		/* Glare: the channel we offered is the network's call's. */
		call->displaced = false;
		from->displaced = NULL;
	} else {
		/* The channel we offered was not used: it keeps its LRU
		 * place. */
		from->call = NULL;
		from->state = rest_state(span, from);
	}
	call->chan = b;
	return call;
}
static void on_setup_ack(struct tdm_span *span, q931_call *q,
			 int progressmask);

static void handle_event(struct tdm_span *span, pri_event *e)
{
	struct tdm_call *call;

	switch (e->e) {
	case PRI_EVENT_DCHAN_UP:
		set_dchan(span, true);
		break;
	case PRI_EVENT_DCHAN_DOWN:
		set_dchan(span, false);
		break;
	case PRI_EVENT_RING:
		handle_ring(span, e);
		break;
	case PRI_EVENT_PROCEEDING:
		call = follow_channel(span, find_call(span, e->proceeding.call),
				      e->proceeding.channel);
		if (call) {
			span->chans[call->chan].state = TDM_CHAN_IN_USE;
			emit_simple(span, TDM_EV_PROCEEDING, call, 0,
				    e->proceeding.progressmask &
					    PRI_PROG_INBAND_AVAILABLE);
		}
		break;
	case PRI_EVENT_PROGRESS:
		call = follow_channel(span, find_call(span, e->proceeding.call),
				      e->proceeding.channel);
		if (call)
			emit_simple(span, TDM_EV_PROGRESS, call, 0,
				    e->proceeding.progressmask &
					    PRI_PROG_INBAND_AVAILABLE);
		break;
	case PRI_EVENT_RINGING:
		call = follow_channel(span, find_call(span, e->ringing.call),
				      e->ringing.channel);
		if (call) {
			span->chans[call->chan].state = TDM_CHAN_IN_USE;
			emit_simple(span, TDM_EV_ALERTING, call, 0,
				    e->ringing.progressmask &
					    PRI_PROG_INBAND_AVAILABLE);
		}
		break;
	case PRI_EVENT_ANSWER:
		call = follow_channel(span, find_call(span, e->answer.call),
				      e->answer.channel);
		if (call) {
			struct tdm_event ev = {.type = TDM_EV_ANSWER,
					       .call = call};
			const struct pri_subcommands *sc = e->answer.subcmds;
			char num[64] = "";

			/* Who answered: the CONNECT's Connected Number. */
			for (int i = 0; sc && i < sc->counter_subcmd; i++) {
				const struct pri_party_number *n =
					&sc->subcmd[i].u.connected_line.id
						 .number;

				if (sc->subcmd[i].cmd !=
					    PRI_SUBCMD_CONNECTED_LINE ||
				    !n->valid)
					continue;
				tg_strlcpy(num, n->str, sizeof(num));
				ev.connected_restricted =
					(n->presentation & 0x60) != 0;
			}
			ev.connected = num;
			call->active = true;
			span->chans[call->chan].state = TDM_CHAN_IN_USE;
			emit(span, &ev);
		}
		break;
	case PRI_EVENT_HANGUP_REQ: /* DISCONNECT received */
	case PRI_EVENT_HANGUP:     /* RELEASE / RELEASE COMPLETE received */
		far_hangup(span, e->hangup.call, e->hangup.cause);
		break;
	case PRI_EVENT_HANGUP_ACK:
		/* Our clearing completed; the call was finished already.
		 * From libpri's scheduler, it completed without the far end:
		 * T308 ran out twice. */
		if (!span->in_sched || !release_lost(span, e->hangup.call))
			release_done(span, e->hangup.call);
		break;
	case PRI_EVENT_SETUP_ACK:
		/* Overlap sending: the channel is named here, if anywhere;
		 * then the rest of the number goes. */
		if (follow_channel(span, find_call(span, e->setup_ack.call),
				   e->setup_ack.channel))
			on_setup_ack(span, e->setup_ack.call,
				     e->setup_ack.progressmask);
		break;
	case PRI_EVENT_RESTART: {
		unsigned chan = ts_to_bearer(span, e->restart.channel & 0xff);

		gw_notice("span %d: RESTART from the far end (channel %d)",
			  span->cfg.id, e->restart.channel);
		/* libpri acknowledged the RESTART but keeps its call records;
		 * a stale one would swallow a new SETUP that reuses its call
		 * reference (chan_forget destroys them). */
		/* Every channel concerned first: a failover the gateway
		 * starts on hearing of one cleared call must not take a
		 * channel whose call the loop has yet to forget. */
		for (unsigned c = 1; c <= span->nchan; c++)
			if ((!chan || c == chan) && span->chans[c].call)
				span->chans[c].state = TDM_CHAN_RESTARTING;
		for (unsigned c = 1; c <= span->nchan; c++) {
			if (chan && c != chan)
				continue;
			chan_forget(span, c,
				    rest_state(span, &span->chans[c]),
				    PRI_CAUSE_NORMAL_TEMPORARY_FAILURE);
		}
		break;
	}
	case PRI_EVENT_INFO_RECEIVED: {
		/* Overlap receiving: the next digits of the called number. */
		struct tdm_event ev = {.type = TDM_EV_DIGITS};
		char digits[64];

		call = find_call(span, e->ring.call);
		/* An answered call's INFORMATION is no dialling (the far
		 * end's channel audit probes this way). */
		if (!call || call->outgoing || call->active)
			break;
		tg_strlcpy(digits, e->ring.callednum, sizeof(digits));
		ev.call = call;
		ev.called = digits;
		ev.complete = e->ring.complete;
		emit(span, &ev);
		break;
	}
	case PRI_EVENT_SERVICE: {
		/* The far end takes a channel out of service, or back
		 * (libpri has acknowledged it). */
		unsigned chan = ts_to_bearer(span, e->service.channel & 0xff);
		struct tdm_chan *ch = chan ? &span->chans[chan] : NULL;
		bool oos = e->service.changestatus != SERVICE_IN_SERVICE;

		if (!ch)
			break;
		gw_notice("span %d chan %u: the far end says %s", span->cfg.id,
			  chan, oos ? "out of service" : "in service");
		ch->far_blocked = oos;
		if (oos && ch->state == TDM_CHAN_IDLE)
			ch->state = TDM_CHAN_BLOCKED;
		else if (!oos && ch->state == TDM_CHAN_BLOCKED)
			ch->state = rest_state(span, ch);
		break;
	}
	case PRI_EVENT_SERVICE_ACK:
		gw_info("span %d: SERVICE ACKNOWLEDGE (channel %d, status %d)",
			span->cfg.id, e->service_ack.channel & 0xff,
			e->service_ack.changestatus);
		break;
	case PRI_EVENT_RESTART_ACK: {
		unsigned chan = e->restartack.channel > 0
			? ts_to_bearer(span, e->restartack.channel & 0xff)
			: 0;

		gw_info("span %d: RESTART ACKNOWLEDGE (channel %d)",
			span->cfg.id, e->restartack.channel);
		for (unsigned c = 1; c <= span->nchan; c++) {
			struct tdm_chan *ch = &span->chans[c];

			if ((!chan || c == chan) &&
			    ch->state == TDM_CHAN_RESTARTING) {
				/* A restart is no use of the channel: LRU
				 * keeps its place (never used stays 0). */
				ch->state = rest_state(span, ch);
				ch->audit_restart = false;
			}
		}
		break;
	}
	case PRI_EVENT_CONFIG_ERR:
		gw_err("span %d: configuration error: %s", span->cfg.id,
		       e->err.err);
		break;
	default:
		gw_dbg(GW_DBG_Q931, "span %d: event %s ignored", span->cfg.id,
		       pri_event2str(e->e));
		break;
	}
}

int tdm_call_setup(struct tdm_call **callp, struct tdm_span *span,
		   const struct tdm_number *calling,
		   const struct tdm_number *called,
		   const struct tdm_number *redirecting, void *arg)
{
	return tdm_call_setup_chan(callp, span, 0, calling, called,
				   redirecting, arg);
}

bool tdm_chan_free(struct tdm_span *span, unsigned chan)
{
	return chan >= 1 && chan <= span->nchan && chan_free(span, chan);
}

int64_t tdm_chan_idle_since(const struct tdm_span *span, unsigned chan)
{
	if (chan < 1 || chan > span->nchan)
		return 0;
	return span->chans[chan].idle_since;
}

int tdm_call_setup_chan(struct tdm_call **callp, struct tdm_span *span,
			unsigned chan, const struct tdm_number *calling,
			const struct tdm_number *called,
			const struct tdm_number *redirecting, void *arg)
{
	struct tdm_call *call;
	struct pri_sr *sr;
	q931_call *q;
	int law = span->cfg.type == TDM_E1 ? PRI_LAYER_1_ALAW
					   : PRI_LAYER_1_ULAW;

	if (!span->pri || !span->dchan_up)
		return ENOTCONN;
	if (chan && (chan > span->nchan || !chan_free(span, chan)))
		return EBUSY;
	for (unsigned c = 1; c <= span->nchan && !chan; c++)
		if (chan_free(span, c))
			chan = c;
	if (!chan)
		return EBUSY;
	q = pri_new_call(span->pri);
	sr = pri_sr_new();
	if (!q || !sr) {
		if (sr)
			pri_sr_free(sr);
		if (q)
			pri_destroycall(span->pri, q);
		return ENOMEM;
	}
	call = call_new(span, q, chan, true);
	if (!call) {
		pri_sr_free(sr);
		pri_destroycall(span->pri, q);
		return ENOMEM;
	}
	call->arg = arg;
	/* Exclusive: we own B-channel allocation (libpri does not).
	 * Preferred: the far end may choose; follow_channel moves the call
	 * to its choice. */
	call->preferred = span->cfg.preferred;
	pri_sr_set_channel(sr, bearer_to_ts(span, chan),
			   call->preferred ? 0 : 1, 0);
	pri_sr_set_bearer(sr, PRI_TRANS_CAP_SPEECH, law);
	/* Overlap sending: without Sending Complete, digits may follow. */
	if (called->incomplete && span->cfg.overlap_send)
		call->ovl = OVL_SENT;
	pri_sr_set_called(sr, (char *)called->digits, called->plan,
			  call->ovl != OVL_SENT);
	pri_sr_set_caller(sr, calling && calling->digits && *calling->digits
				  ? (char *)calling->digits : NULL,
			  calling && calling->name && *calling->name
				  ? (char *)calling->name : NULL,
			  calling ? calling->plan : PRI_UNKNOWN,
			  calling && calling->restricted
				  ? PRES_PROHIB_USER_NUMBER_NOT_SCREENED
				  : PRES_ALLOWED_USER_NUMBER_NOT_SCREENED);
	if (redirecting && redirecting->digits && *redirecting->digits)
		pri_sr_set_redirecting(sr, (char *)redirecting->digits,
				       redirecting->plan,
				       redirecting->restricted
					       ? PRES_PROHIB_USER_NUMBER_NOT_SCREENED
					       : PRES_ALLOWED_USER_NUMBER_NOT_SCREENED,
				       redirecting->reason);
	if (pri_setup(span->pri, q, sr)) {
		pri_sr_free(sr);
		call_finish(call);
		pri_destroycall(span->pri, q);
		obj_deref(call);
		arm_timer(span);
		return EIO;
	}
	pri_sr_free(sr);
	arm_timer(span);
	gw_dbg(GW_DBG_Q931, "span %d chan %u: SETUP %s -> %s sent",
	       span->cfg.id, chan,
	       calling && calling->digits ? calling->digits : "",
	       called->digits);
	*callp = call;
	return 0;
}

void tdm_call_set_arg(struct tdm_call *call, void *arg)
{
	call->arg = arg;
}

void *tdm_call_arg(const struct tdm_call *call)
{
	return call->arg;
}

struct tdm_span *tdm_call_span(const struct tdm_call *call)
{
	return call->span;
}

unsigned tdm_call_chan(const struct tdm_call *call)
{
	return call->chan;
}

static int call_ready(const struct tdm_call *call)
{
	if (call->finished || !call->q931 || !call->span->pri)
		return ENOTCONN;
	return 0;
}

int tdm_call_proceeding(struct tdm_call *call)
{
	int err = call_ready(call);

	if (err)
		return err;
	call->replied = true;
	pri_proceeding(call->span->pri, call->q931,
		       bearer_to_ts(call->span, call->chan), 0);
	arm_timer(call->span);
	return 0;
}

int tdm_call_progress(struct tdm_call *call, bool inband)
{
	int err = call_ready(call);

	if (err)
		return err;
	call->replied = true;
	pri_progress(call->span->pri, call->q931,
		     bearer_to_ts(call->span, call->chan), inband);
	arm_timer(call->span);
	return 0;
}

int tdm_call_alerting(struct tdm_call *call, bool inband)
{
	int err = call_ready(call);

	if (err)
		return err;
	call->replied = true;
	pri_acknowledge(call->span->pri, call->q931,
			bearer_to_ts(call->span, call->chan), inband);
	arm_timer(call->span);
	return 0;
}

int tdm_call_answer_connected(struct tdm_call *call,
			      const struct tdm_number *connected)
{
	struct pri_party_connected_line cl;
	int err = call_ready(call);

	if (err)
		return err;
	if (connected && connected->digits && *connected->digits) {
		memset(&cl, 0, sizeof(cl));
		cl.id.number.valid = 1;
		cl.id.number.plan = connected->plan;
		cl.id.number.presentation = connected->restricted
			? PRES_PROHIB_USER_NUMBER_PASSED_SCREEN
			: PRES_ALLOWED_USER_NUMBER_PASSED_SCREEN;
		tg_strlcpy(cl.id.number.str, connected->digits,
			   sizeof(cl.id.number.str));
		/* The CONNECT that follows carries it (Q.951 COLP). */
		pri_connected_line_update(call->span->pri, call->q931, &cl);
	}
	return tdm_call_answer(call);
}

int tdm_call_answer(struct tdm_call *call)
{
	int err = call_ready(call);

	if (err)
		return err;
	call->replied = true;
	call->active = true;
	pri_answer(call->span->pri, call->q931,
		   bearer_to_ts(call->span, call->chan), 0);
	arm_timer(call->span);
	return 0;
}

int tdm_call_hangup(struct tdm_call *call, int cause)
{
	struct tdm_span *span = call->span;
	q931_call *q = call->q931;

	if (call->finished)
		return 0;
	call_finish(call);
	/* A displaced call's channel is another call's. */
	if (!call->displaced)
		span->chans[call->chan].last_cause =
			cause > 0 ? cause : PRI_CAUSE_NORMAL_CLEARING;
	if (q && span->pri) {
		/* libpri sends nothing when clearing a SETUP it has not
		 * answered (Q.931 would allow RELEASE COMPLETE): answer it
		 * with CALL PROCEEDING first so the network hears a cause. */
		if (!call->outgoing && !call->replied)
			pri_proceeding(span->pri, q,
				       bearer_to_ts(span, call->chan), 0);
		/* libpri picks DISCONNECT, RELEASE or RELEASE COMPLETE from
		 * the call state (Q.931 5.3) and frees the call itself. */
		pri_hangup(span->pri, q, cause > 0 ? cause
						   : PRI_CAUSE_NORMAL_CLEARING);
		/* Still known to libpri: DISCONNECT or RELEASE went out and
		 * the channel is not ours to reuse until the far end has
		 * released it, or a new SETUP could meet cause 44. */
		if (pri_get_crv(span->pri, q, NULL) >= 0 && !call->displaced &&
		    (span->chans[call->chan].state == TDM_CHAN_IDLE ||
		     span->chans[call->chan].state == TDM_CHAN_BLOCKED)) {
			struct tdm_chan *ch = &span->chans[call->chan];

			ch->state = TDM_CHAN_RELEASING;
			ch->releasing = q;
			ch->release_by = tg_mono_ms() + RELEASE_GUARD_MS;
		}
		arm_timer(span);
	}
	return 0;
}

/* ---- overlap sending (Q.931 5.1.3) -------------------------------------- */

/* The network proceeding, alerting or answering ends overlap sending. */
static void ovl_note(const struct tdm_event *ev)
{
	struct tdm_call *call = ev->call;

	if (!call || call->ovl == OVL_NONE || call->ovl == OVL_DONE)
		return;
	if (ev->type == TDM_EV_PROCEEDING || ev->type == TDM_EV_ALERTING ||
	    ev->type == TDM_EV_ANSWER || ev->type == TDM_EV_HANGUP) {
		if (*call->ovl_queue)
			gw_info("span %d chan %u: the network proceeds; "
				"digits %s not sent", call->span->cfg.id,
				call->chan, call->ovl_queue);
		call->ovl = OVL_DONE;
		call->ovl_queue[0] = '\0';
	}
}

/* Q.931 5.1.3: one INFORMATION per digit (libpri's unit). */
static void ovl_send(struct tdm_call *call, const char *digits)
{
	for (const char *d = digits; *d; d++)
		pri_information(call->span->pri, call->q931, *d);
	arm_timer(call->span);
}

/* SETUP ACKNOWLEDGE: the network waits for the rest of the number. */
static void on_setup_ack(struct tdm_span *span, q931_call *q,
			 int progressmask)
{
	struct tdm_call *call = find_call(span, q);
	struct tdm_event ev = {.type = TDM_EV_SETUP_ACK};
	char sent[sizeof(call->ovl_queue)];

	if (!call || !call->outgoing)
		return;
	span->chans[call->chan].state = TDM_CHAN_IN_USE;
	if (call->ovl != OVL_SENT) {
		gw_dbg(GW_DBG_Q931, "span %d chan %u: SETUP ACKNOWLEDGE for a "
		       "complete number", span->cfg.id, call->chan);
		return;
	}
	call->ovl = OVL_ACKED;
	tg_strlcpy(sent, call->ovl_queue, sizeof(sent));
	call->ovl_queue[0] = '\0';
	if (*sent)
		ovl_send(call, sent);
	gw_dbg(GW_DBG_Q931, "span %d chan %u: SETUP ACKNOWLEDGE; sent %s",
	       span->cfg.id, call->chan, *sent ? sent : "nothing more");
	ev.call = call;
	ev.called = sent;
	/* PI 8: the network plays something (dial tone) while it waits. */
	ev.inband = progressmask & PRI_PROG_INBAND_AVAILABLE;
	emit(span, &ev);
}

int tdm_call_digits(struct tdm_call *call, const char *digits)
{
	size_t have = strlen(call->ovl_queue);
	int err = call_ready(call);

	if (err)
		return err;
	if (call->ovl != OVL_SENT && call->ovl != OVL_ACKED)
		return EPROTO;
	if (call->ovl == OVL_ACKED) {
		ovl_send(call, digits);
		return 0;
	}
	if (have + strlen(digits) >= sizeof(call->ovl_queue))
		return ENOSPC;
	memcpy(call->ovl_queue + have, digits, strlen(digits) + 1);
	return 0;
}

bool tdm_call_overlap(const struct tdm_call *call)
{
	return call->ovl == OVL_ACKED;
}

/* ---- the line: bringing it up and losing it ----------------------------- */

static void schedule_retry(struct tdm_span *span)
{
	struct timeval tv = {RECONNECT_MS / 1000, (RECONNECT_MS % 1000) * 1000};

	if (!span->closing)
		event_add(span->ev_retry, &tv);
}

static void link_down(struct tdm_span *span)
{
	if (span->dfd < 0)
		return;
	gw_warn("span %d: line lost", span->cfg.id);
	set_dchan(span, false);
	/* The libpri instance goes with the line: its calls are over. */
	clear_all_calls(span, PRI_CAUSE_NETWORK_OUT_OF_ORDER);
	for (unsigned c = 1; c <= span->nchan; c++) {
		span->chans[c].releasing = NULL;
		span->chans[c].lost_release = false;
		span->chans[c].state = TDM_CHAN_OOS;
	}
	/* The media worker may still poll the audio fd until it has seen
	 * LINK_DOWN: the backend keeps it allocated until the next up. */
	if (atomic_load(&span->afd) >= 0) {
		emit_simple(span, TDM_EV_LINK_DOWN, NULL, 0, false);
		atomic_store(&span->afd, -1);
	}
	event_del(span->ev_d);
	event_del(span->ev_timer);
	span->be->down(span->line);
	span->dfd = -1;
	retire_pri(span->pri);
	span->pri = NULL;
	span->link_dead = false;
	schedule_retry(span);
}

static void try_connect(evutil_socket_t fd, short what, void *arg)
{
	struct tdm_span *span = arg;
	int dfd = -1, afd = -1;

	if (span->be->up(span->line, &dfd, &afd)) {
		schedule_retry(span);
		return;
	}
	span->dfd = dfd;
	span->pri = pri_new_cb(dfd, span->cfg.network ? PRI_NETWORK : PRI_CPE,
			       span->cfg.switchtype, pri_io_read, pri_io_write,
			       span);
	if (!span->pri) {
		gw_err("span %d: libpri refused the span", span->cfg.id);
		span->be->down(span->line);
		span->dfd = -1;
		schedule_retry(span);
		return;
	}
	atomic_store(&span->afd, afd);
	apply_debug(span);
	apply_timers(span, true);
	/* Sending Complete only when a number is complete (libpri puts it
	 * in every EuroISDN SETUP otherwise, and in none on T1). */
	if (span->cfg.overlap_send)
		pri_set_overlapdial(span->pri, 1);
	if (span->cfg.service)
		pri_set_service_message_support(span->pri, 1);
	event_assign(span->ev_d, span->base, dfd, EV_READ | EV_PERSIST,
		     on_dchan, span);
	event_add(span->ev_d, NULL);
	emit_simple(span, TDM_EV_LINK_UP, NULL, 0, false);
	arm_timer(span);
}

/* ---- span life ---------------------------------------------------------- */

static void span_destructor(void *arg)
{
	struct tdm_span *span = arg;

	if (span->ev_d)
		event_free(span->ev_d);
	if (span->ev_timer)
		event_free(span->ev_timer);
	if (span->ev_retry)
		event_free(span->ev_retry);
	if (span->ev_audit)
		event_free(span->ev_audit);
	retire_pri(span->pri);
	if (span->pcap)
		fclose(span->pcap);
	if (span->line) {
		if (span->dfd >= 0)
			span->be->down(span->line);
		span->be->fini(span->line);
	}
}

static const struct tdm_backend *backend_find(const char *name)
{
	if (!name || !strcmp(name, "virtual"))
		return &tdm_backend_virtual;
	if (!strcmp(name, "dahdi"))
		return tdm_backend_dahdi;
	return NULL;
}

bool tdm_backend_available(const char *name)
{
	return backend_find(name) != NULL;
}

int tdm_span_alloc(struct tdm_span **spanp, struct event_base *base,
		   const struct tdm_span_config *cfg, tdm_event_h *h,
		   void *arg)
{
	static bool pri_hooks;
	const struct tdm_backend *be = backend_find(cfg->backend);
	struct tdm_span *span;
	int err;

	if (cfg->switchtype <= 0 || !be)
		return EINVAL;
	if (!pri_hooks) {
		/* Process-global in libpri; pri_get_userdata finds the span. */
		pri_set_message(pri_log_message);
		pri_set_error(pri_log_error);
		pri_hooks = true;
	}
	span = obj_zalloc(sizeof(*span), span_destructor);
	if (!span)
		return ENOMEM;
	span->cfg = *cfg;
	tg_strlcpy(span->dir, cfg->dir ? cfg->dir : "", sizeof(span->dir));
	span->cfg.dir = span->dir;
	span->cfg.backend = be->name;
	span->be = be;
	span->nchan = cfg->type == TDM_E1 ? 30 : 23;
	span->base = base;
	span->h = h;
	span->arg = arg;
	span->dfd = -1;
	atomic_init(&span->afd, -1);
	for (unsigned c = 1; c <= span->nchan; c++)
		span->chans[c].state = TDM_CHAN_OOS;
	span->ev_d = event_new(base, -1, 0, on_dchan, span);
	span->ev_timer = evtimer_new(base, on_pri_timer, span);
	span->ev_retry = evtimer_new(base, try_connect, span);
	span->ev_audit = evtimer_new(base, on_audit, span);
	if (cfg->pcap)
		pcap_open(span, cfg->pcap, false);
	span->cfg.pcap = NULL; /* the caller's string is not ours to keep */
	if (!span->ev_d || !span->ev_timer || !span->ev_retry ||
	    !span->ev_audit) {
		obj_deref(span);
		return ENOMEM;
	}
	err = be->init(&span->line, &span->cfg);
	if (err) {
		span->line = NULL;
		obj_deref(span);
		return err;
	}
	audit_arm(span);
	event_active(span->ev_retry, EV_TIMEOUT, 0);
	*spanp = span;
	return 0;
}

void tdm_span_free(struct tdm_span *span)
{
	if (!span)
		return;
	span->closing = true;
	for (unsigned c = 1; c <= span->nchan; c++)
		if (span->chans[c].call)
			tdm_call_hangup(span->chans[c].call,
					PRI_CAUSE_NORMAL_CLEARING);
	event_del(span->ev_retry);
	event_del(span->ev_timer);
	event_del(span->ev_d);
	event_del(span->ev_audit);
	/* The media worker reads the span's audio until it is told. */
	if (atomic_load(&span->afd) >= 0)
		emit_simple(span, TDM_EV_LINK_DOWN, NULL, 0, false);
	span->h = NULL;
	obj_deref(span);
}

int tdm_span_id(const struct tdm_span *span)
{
	return span->cfg.id;
}

unsigned tdm_span_nchan(const struct tdm_span *span)
{
	return span->nchan;
}

int tdm_span_law(const struct tdm_span *span)
{
	return span->cfg.type == TDM_E1 ? 8 : 0;
}

bool tdm_span_dchan_up(const struct tdm_span *span)
{
	return span->dchan_up;
}

bool tdm_span_link_up(const struct tdm_span *span)
{
	return atomic_load(&span->afd) >= 0;
}

const char *tdm_span_type_name(const struct tdm_span *span)
{
	return span->cfg.type == TDM_E1 ? "E1" : "T1";
}

const char *tdm_span_switch_name(const struct tdm_span *span)
{
	return tdm_switch_name(span->cfg.switchtype);
}

bool tdm_span_is_network(const struct tdm_span *span)
{
	return span->cfg.network;
}

const char *tdm_span_backend_name(const struct tdm_span *span)
{
	return span->be->name;
}

void tdm_span_line_alarms(const struct tdm_span *span, char *buf,
			  size_t len)
{
	span->be->alarms(span->line, buf, len);
}

enum tdm_chan_state tdm_span_chan_state(const struct tdm_span *span,
					unsigned chan)
{
	if (chan < 1 || chan > span->nchan)
		return TDM_CHAN_OOS;
	return span->chans[chan].state;
}

unsigned tdm_span_idle_count(const struct tdm_span *span)
{
	unsigned n = 0;

	for (unsigned c = 1; c <= span->nchan; c++)
		n += chan_free((struct tdm_span *)span, c);
	return n;
}

/* ---- maintenance -------------------------------------------------------- */

void tdm_span_debug(struct tdm_span *span, bool on)
{
	span->debug = on;
	apply_debug(span);
	gw_notice("span %d: Q.931 trace %s", span->cfg.id, on ? "on" : "off");
}

bool tdm_span_debugging(const struct tdm_span *span)
{
	return span->debug;
}

int tdm_span_trace(struct tdm_span *span, const char *path, bool fresh)
{
	FILE *old = span->pcap;
	int err = 0;

	/* The new capture first: one that cannot be opened leaves the
	 * running one as it is. */
	span->pcap = NULL;
	if (path)
		err = pcap_open(span, path, fresh);
	if (err) {
		span->pcap = old;
		return err;
	}
	if (old)
		fclose(old);
	gw_notice("span %d: D-channel capture %s%s", span->cfg.id,
		  path && !err ? "to " : "off", path && !err ? path : "");
	return err;
}

unsigned tdm_span_alarms(const struct tdm_span *span, int64_t *last_ms)
{
	if (last_ms)
		*last_ms = span->dchan_down_ms;
	return span->dchan_downs;
}

int tdm_chan_block(struct tdm_span *span, unsigned chan, bool block)
{
	struct tdm_chan *ch;

	if (chan < 1 || chan > span->nchan)
		return ERANGE;
	ch = &span->chans[chan];
	ch->blocked = block;
	if (block && ch->state == TDM_CHAN_IDLE)
		ch->state = TDM_CHAN_BLOCKED;
	else if (!block && ch->state == TDM_CHAN_BLOCKED)
		ch->state = rest_state(span, ch);
	/* AT&T TR 41459 / NI-2 maintenance: tell the far end, so that it
	 * stops offering the channel (and takes it back on unblock); with
	 * the link down, when it is back (service_sync). */
	if (span->cfg.service && span->pri && span->dchan_up) {
		pri_maintenance_service(span->pri, 0, bearer_to_ts(span, chan),
					block ? SERVICE_OUT_OF_SERVICE
					      : SERVICE_IN_SERVICE);
		ch->svc_oos = block;
		arm_timer(span);
	}
	gw_notice("span %d chan %u: %s%s", span->cfg.id, chan,
		  block ? "blocked" : "unblocked",
		  block && ch->state != TDM_CHAN_BLOCKED
			  ? " (when its call has ended)" : "");
	return 0;
}

bool tdm_chan_blocked(const struct tdm_span *span, unsigned chan)
{
	return chan >= 1 && chan <= span->nchan && span->chans[chan].blocked;
}

bool tdm_chan_far_blocked(const struct tdm_span *span, unsigned chan)
{
	return chan >= 1 && chan <= span->nchan &&
	       span->chans[chan].far_blocked;
}

/* Q.931 5.5.1: RESTART for one channel, or for the interface (chan 0). */
static int send_restart(struct tdm_span *span, unsigned chan)
{
	int64_t by = tg_mono_ms() + RESTART_GUARD_MS;

	if (!span->pri || !span->dchan_up)
		return ENOTCONN;
	/* Every channel concerned first, so that a failover the gateway
	 * starts while hearing of the first cleared call cannot take one
	 * that is about to be restarted. */
	for (unsigned c = 1; c <= span->nchan; c++) {
		if (chan && c != chan)
			continue;
		span->chans[c].release_by = by;
		if (!span->chans[c].call)
			chan_forget(span, c, TDM_CHAN_RESTARTING, 0);
		else
			span->chans[c].state = TDM_CHAN_RESTARTING;
	}
	for (unsigned c = 1; c <= span->nchan; c++)
		if ((!chan || c == chan) && span->chans[c].call)
			chan_forget(span, c, TDM_CHAN_RESTARTING,
				    PRI_CAUSE_NORMAL_TEMPORARY_FAILURE);
	/* NOTE: libpri 1.6's pri_restart() does nothing (a Q.921 leftover)
	 * and it sends no RESTART for "all interfaces", so a span restart
	 * is one RESTART per B-channel (Q.931 5.5.1, class "indicated
	 * channels"), each acknowledged on its own. */
	for (unsigned c = 1; c <= span->nchan; c++)
		if (!chan || c == chan)
			pri_reset(span->pri, bearer_to_ts(span, c));
	arm_timer(span);
	return 0;
}

/* ---- the channel audit -------------------------------------------------- */

static void audit_arm(struct tdm_span *span)
{
	struct timeval tv = {(time_t)span->cfg.audit_s, 0};

	event_del(span->ev_audit);
	if (span->cfg.audit_s && !span->closing)
		evtimer_add(span->ev_audit, &tv);
}

/* A channel no call of ours can free: RESTART it (Q.931 5.5). */
static void audit_restart(struct tdm_span *span, unsigned c, const char *why)
{
	span->audit_resets++;
	span->chans[c].audit_resets++;
	gw_warn("span %d chan %u: audit: %s; RESTART sent", span->cfg.id, c,
		why);
	send_restart(span, c);
	span->chans[c].audit_restart = true;
}

/*
 * One channel, once a period.  An answered call is probed: libpri 1.6
 * has no way to send STATUS ENQUIRY (it only answers one), so the probe
 * is an INFORMATION without digits, which a far end that knows the call
 * ignores (or answers with STATUS, its state) and one that does not
 * answers with RELEASE COMPLETE, cause 81 (Q.931 5.8.3.2); libpri
 * reports either end of the call as a hang-up (far_hangup counts it).
 * A channel without a call that stays releasing or restarting past its
 * guard, or whose release the far end never completed, is restarted.
 */
static void audit_chan(struct tdm_span *span, unsigned c, int64_t now)
{
	struct tdm_chan *ch = &span->chans[c];
	struct tdm_call *call = ch->call;

	if (call) {
		if (call->active && call->q931 && !call->finished) {
			call->probed_ms = now;
			pri_information(span->pri, call->q931, '\0');
		}
		return;
	}
	switch (ch->state) {
	case TDM_CHAN_RELEASING:
		if (ch->lost_release)
			audit_restart(span, c, "no RELEASE COMPLETE after T308 "
				      "twice");
		else if (now >= ch->release_by)
			audit_restart(span, c, "release not completed");
		break;
	case TDM_CHAN_RESTARTING:
		/* Once more; a far end that never acknowledges gets the
		 * channel back in service (chan_free) rather than a RESTART
		 * every period. */
		if (now < ch->release_by)
			break;
		if (ch->audit_restart)
			chan_free(span, c);
		else
			audit_restart(span, c, "RESTART not acknowledged");
		break;
	case TDM_CHAN_RESERVED:
	case TDM_CHAN_IN_USE:
		audit_restart(span, c, "in use without a call");
		break;
	default:
		break;
	}
}

static void on_audit(evutil_socket_t fd, short what, void *arg)
{
	struct tdm_span *span = arg;
	int64_t now = tg_mono_ms();

	if (span->pri && span->dchan_up) {
		for (unsigned c = 1; c <= span->nchan; c++)
			audit_chan(span, c, now);
		arm_timer(span);
	}
	audit_arm(span);
}

void tdm_span_retune(struct tdm_span *span, const struct tdm_span_config *cfg)
{
	bool timers_changed = memcmp(span->cfg.timers, cfg->timers,
				     sizeof(cfg->timers)) != 0;

	if (span->cfg.audit_s != cfg->audit_s) {
		span->cfg.audit_s = cfg->audit_s;
		audit_arm(span);
	}
	span->cfg.preferred = cfg->preferred;
	if (timers_changed) {
		memcpy(span->cfg.timers, cfg->timers, sizeof(cfg->timers));
		apply_timers(span, false);
		gw_notice("span %d: timers updated", span->cfg.id);
	}
}

int tdm_span_timer(const struct tdm_span *span, enum tdm_timer t)
{
	if (t >= TDM_NTIMERS)
		return -1;
	if (span->pri)
		return pri_get_timer(span->pri, timers[t].pri);
	return span->cfg.timers[t] ? (int)span->cfg.timers[t] : -1;
}

unsigned tdm_span_audit_period(const struct tdm_span *span)
{
	return span->cfg.audit_s;
}

bool tdm_span_preferred(const struct tdm_span *span)
{
	return span->cfg.preferred;
}

unsigned tdm_span_audit_resets(const struct tdm_span *span)
{
	return span->audit_resets;
}

unsigned tdm_chan_audit_resets(const struct tdm_span *span, unsigned chan)
{
	if (chan < 1 || chan > span->nchan)
		return 0;
	return span->chans[chan].audit_resets;
}

int tdm_chan_reset(struct tdm_span *span, unsigned chan)
{
	if (chan < 1 || chan > span->nchan)
		return ERANGE;
	gw_notice("span %d chan %u: reset (RESTART sent)", span->cfg.id,
		  chan);
	return send_restart(span, chan);
}

int tdm_span_restart(struct tdm_span *span)
{
	gw_notice("span %d: restart (RESTART for every channel)",
		  span->cfg.id);
	return send_restart(span, 0);
}

struct tdm_call *tdm_chan_call(const struct tdm_span *span, unsigned chan)
{
	if (chan < 1 || chan > span->nchan)
		return NULL;
	return span->chans[chan].call;
}

int tdm_chan_last_cause(const struct tdm_span *span, unsigned chan)
{
	if (chan < 1 || chan > span->nchan)
		return 0;
	return span->chans[chan].last_cause;
}

/* ---- audio (media worker thread) ---------------------------------------- */

int tdm_span_audio_fd(const struct tdm_span *span)
{
	return atomic_load(&span->afd);
}

int tdm_span_audio_recv(struct tdm_span *span, const uint8_t **rx,
			uint32_t *seq)
{
	int fd = atomic_load(&span->afd);

	if (fd < 0)
		return ENOTCONN;
	return span->be->audio_recv(span->line, fd, rx, seq);
}

int tdm_span_audio_send(struct tdm_span *span, uint32_t seq,
			const uint8_t *tx)
{
	int fd = atomic_load(&span->afd);

	if (fd < 0)
		return ENOTCONN;
	return span->be->audio_send(span->line, fd, seq, tx);
}
