/* tdm/tdm.h  PRI spans: virtual and DAHDI backends, libpri calls
 *
 * A span is one PRI: its D-channel runs libpri on the signalling loop, its
 * B-channel audio is handed to the media engine (see tdm_span_audio_*).
 * This module owns B-channel allocation: libpri does not track it.
 */
#ifndef TG_TDM_H
#define TG_TDM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct tdm_span;
struct tdm_call;

enum tdm_span_type {
	TDM_T1 = 0, /* 23 B + D on timeslot 24, mu-law */
	TDM_E1 = 1, /* 30 B + D on timeslot 16, A-law */
};

enum tdm_chan_state {
	TDM_CHAN_IDLE = 0,
	TDM_CHAN_RESERVED, /* picked for a call, SETUP not yet confirmed */
	TDM_CHAN_IN_USE,
	TDM_CHAN_OOS,      /* out of service: span link down */
	TDM_CHAN_RELEASING, /* we cleared; waiting for RELEASE (COMPLETE) */
	TDM_CHAN_BLOCKED,   /* maintenance: taken out of service by us */
	TDM_CHAN_RESTARTING, /* RESTART sent; waiting for its ACKNOWLEDGE */
};

/* Q.921 / Q.931 timers a span may set ([span N] t200 = MS ...). */
enum tdm_timer {
	TDM_T200 = 0, /* Q.921: retransmission */
	TDM_T203,     /* Q.921: longest time without frames */
	TDM_T303,     /* SETUP without a reply (sent twice) */
	TDM_T305,     /* DISCONNECT without RELEASE */
	TDM_T308,     /* RELEASE without RELEASE COMPLETE (sent twice) */
	TDM_T309,     /* active calls kept while the D-channel is down */
	TDM_T310,     /* CALL PROCEEDING without ALERTING/CONNECT */
	TDM_T313,     /* CONNECT without CONNECT ACKNOWLEDGE (CPE) */
	TDM_T316,     /* RESTART without ACKNOWLEDGE: sent again */
	TDM_NTIMERS
};

/** "t200" ... and the range a configuration may set (ms). */
const char *tdm_timer_name(enum tdm_timer t);
void tdm_timer_range(enum tdm_timer t, unsigned *min_ms, unsigned *max_ms);

struct tdm_span_config {
	int id;                  /* span number, 1.. */
	enum tdm_span_type type;
	int switchtype;          /* PRI_SWITCH_* from tdm_switch_parse */
	bool network;            /* our side: false = CPE (user side) */
	const char *backend;     /* "virtual" (NULL too) or "dahdi" */
	const char *dir;         /* virtual backend: socket directory */
	int dahdi_span;          /* dahdi backend: DAHDI's span number */
	const char *pcap;        /* write D-channel frames here, or NULL */
	bool restart_on_up;      /* RESTART every idle channel when the
				  * D-channel comes up (Q.931 5.5) */
	bool service;            /* SERVICE messages (AT&T/NI-2 maintenance)
				  * for blocks, both ways */
	bool overlap;            /* accept overlap receiving: a SETUP
				  * without Sending Complete gets SETUP
				  * ACKNOWLEDGE and INFORMATION digits */
	/* Tuning: changed on a live span by tdm_span_retune. */
	unsigned audit_s;        /* channel audit period, 0 = off */
	bool preferred;          /* our SETUPs name the channel preferred,
				  * not exclusive: the far end may pick
				  * another (Q.931 5.2.3.1) */
	unsigned timers[TDM_NTIMERS]; /* ms; 0 = libpri's default */
	bool overlap_send;       /* overlap sending: Sending Complete only
				  * when a call's number is complete (a
				  * SETUP without it may be followed by
				  * digits, tdm_call_digits) */
};

enum tdm_event_type {
	TDM_EV_LINK_UP,     /* audio socket connected: hand it to media */
	TDM_EV_LINK_DOWN,   /* audio lost: take it away from media now */
	TDM_EV_DCHAN_UP,
	TDM_EV_DCHAN_DOWN,  /* no new calls; libpri keeps live ones (T309) */
	TDM_EV_RING,        /* incoming SETUP; call is new */
	TDM_EV_PROCEEDING,  /* outgoing: CALL PROCEEDING */
	TDM_EV_ALERTING,    /* outgoing: ALERTING (inband set if PI 8) */
	TDM_EV_PROGRESS,    /* outgoing: PROGRESS (inband set if PI 8) */
	TDM_EV_ANSWER,      /* outgoing: CONNECT */
	TDM_EV_CONNECTED,   /* incoming: CONNECT ACKNOWLEDGE (informational) */
	TDM_EV_HANGUP,      /* far end cleared; cause set; call is finished */
	TDM_EV_DIGITS,      /* incoming, overlap: more called digits
			     * (called), complete set on Sending Complete */
	TDM_EV_SETUP_ACK,   /* outgoing, overlap sending: SETUP
			     * ACKNOWLEDGE; digits queued by
			     * tdm_call_digits have gone out (called:
			     * those sent now, "" none) */
};

struct tdm_event {
	enum tdm_event_type type;
	struct tdm_call *call; /* NULL for span events */
	int cause;             /* Q.850, for HANGUP / DCHAN_DOWN */
	bool inband;           /* in-band information available (PI 8) */
	/* TDM_EV_RING only (and called, complete for TDM_EV_DIGITS): */
	bool complete;         /* the called number is complete (en-bloc,
				* or Sending Complete); else overlap: we
				* sent SETUP ACKNOWLEDGE, digits follow */
	const char *calling;
	const char *called;
	const char *calling_name; /* the calling party's name, "" none */
	int calling_pres;      /* PRES_* of the calling number */
	int called_plan;       /* Q.931 octet 3: TON << 4 | NPI */
	int calling_plan;
	const char *redirecting; /* "" = the call was not diverted */
	int redirecting_plan;
	int redirecting_reason;  /* Q.931 4.6.6 / 4.5.9: PRI_REDIR_* */
	bool digital;          /* bearer capability: unrestricted (or
				* restricted) digital information, a data
				* call: no echo canceller on it */
	/* TDM_EV_ANSWER: the Connected Number IE of the CONNECT, "" none */
	const char *connected;
	bool connected_restricted;
};

/** Every event of a span and its calls arrives here, on the loop thread.
 * After TDM_EV_HANGUP the call is finished: drop your reference. */
typedef void(tdm_event_h)(struct tdm_span *span, const struct tdm_event *ev,
			  void *arg);

/** "ni2", "dms100", "euroisdn_e1", ... -> PRI_SWITCH_*; -1 if unknown. */
int tdm_switch_parse(const char *name);
const char *tdm_switch_name(int switchtype);

/**
 * Create a span and start connecting its backend (retrying every second
 * while the line is absent).  @p h receives its events.
 */
int tdm_span_alloc(struct tdm_span **spanp, struct event_base *base,
		   const struct tdm_span_config *cfg, tdm_event_h *h,
		   void *arg);
/** Take the tuning part of @p cfg (audit, preferred, timers) on a live
 *  span: timers reach libpri at once, the audit restarts its period. */
void tdm_span_retune(struct tdm_span *span, const struct tdm_span_config *cfg);
/** The timer in force (libpri's value while connected, else the
 *  configured one; -1 = libpri's default, not known yet). */
int tdm_span_timer(const struct tdm_span *span, enum tdm_timer t);
unsigned tdm_span_audit_period(const struct tdm_span *span);
bool tdm_span_preferred(const struct tdm_span *span);
/** Channels the audit has reset or found stale since start. */
unsigned tdm_span_audit_resets(const struct tdm_span *span);
unsigned tdm_chan_audit_resets(const struct tdm_span *span, unsigned chan);
/** Clear every call (cause 16), close the backend, free. */
void tdm_span_free(struct tdm_span *span);

int tdm_span_id(const struct tdm_span *span);
unsigned tdm_span_nchan(const struct tdm_span *span);
/** RTP payload type number of the span's law: 0 mu-law, 8 A-law. */
int tdm_span_law(const struct tdm_span *span);
bool tdm_span_dchan_up(const struct tdm_span *span);
bool tdm_span_link_up(const struct tdm_span *span);
const char *tdm_span_type_name(const struct tdm_span *span);
const char *tdm_span_switch_name(const struct tdm_span *span);
/** "virtual" or "dahdi". */
const char *tdm_span_backend_name(const struct tdm_span *span);
/** The line's alarms as the hardware reports them ("red", "yellow",
 *  ... comma-separated), "" when none or the backend has none. */
void tdm_span_line_alarms(const struct tdm_span *span, char *buf,
			  size_t len);
/** Is the backend @p name ("virtual", "dahdi") in this build? */
bool tdm_backend_available(const char *name);
bool tdm_span_is_network(const struct tdm_span *span);
enum tdm_chan_state tdm_span_chan_state(const struct tdm_span *span,
					unsigned chan);
unsigned tdm_span_idle_count(const struct tdm_span *span);
const char *tdm_chan_state_name(enum tdm_chan_state st);

/* ---- maintenance (tollgatectl) ----------------------------------------- */

/**
 * Block (@p block) or unblock a B-channel.  A blocked channel is never
 * hunted and an incoming SETUP that names it is refused with cause 44; a
 * channel with a call is blocked when that call ends.
 * @return 0; ERANGE no such channel.
 */
int tdm_chan_block(struct tdm_span *span, unsigned chan, bool block);
/** Is the channel blocked, or to be when its call ends? */
bool tdm_chan_blocked(const struct tdm_span *span, unsigned chan);
/** Has the far end taken it out of service (a SERVICE message)? */
bool tdm_chan_far_blocked(const struct tdm_span *span, unsigned chan);
/**
 * Reset one B-channel (Q.931 5.5): its call, if any, is cleared toward
 * the gateway (TDM_EV_HANGUP, cause 41) and forgotten by libpri, and a
 * RESTART for the channel goes to the far end.  The channel is RESTARTING
 * until the RESTART ACKNOWLEDGE (or a guard time).
 * @return 0; ERANGE no such channel; ENOTCONN the D-channel is down.
 */
int tdm_chan_reset(struct tdm_span *span, unsigned chan);
/**
 * Restart the whole span: every call cleared as by tdm_chan_reset, and a
 * RESTART for each B-channel.  @return 0; ENOTCONN the D-channel is down.
 */
int tdm_span_restart(struct tdm_span *span);
/** Decoded Q.931 of this span in the log (info level), on or off. */
void tdm_span_debug(struct tdm_span *span, bool on);
bool tdm_span_debugging(const struct tdm_span *span);
/** Write the D-channel to @p path as pcap (LINUX_LAPD) from now on, or
 *  stop (@p path NULL); @p fresh: the file must not exist yet (EEXIST).
 *  @return 0 or the errno of opening it (the old capture goes on). */
int tdm_span_trace(struct tdm_span *span, const char *path, bool fresh);
/** D-channel losses since start; @p last_ms the last one's wall clock. */
unsigned tdm_span_alarms(const struct tdm_span *span, int64_t *last_ms);
/** The channel's call (NULL none): for `show channels`. */
struct tdm_call *tdm_chan_call(const struct tdm_span *span, unsigned chan);
/** The Q.850 cause that ended the channel's last call (0 none yet). */
int tdm_chan_last_cause(const struct tdm_span *span, unsigned chan);

/* ---- B-channel audio: called only by the media worker owning the span -- */

/** The audio fd (readable when the line sends a frame), -1 when down. */
int tdm_span_audio_fd(const struct tdm_span *span);
/** Receive one frame: *rx -> nchan*160 octets (bearer 1 first). */
int tdm_span_audio_recv(struct tdm_span *span, const uint8_t **rx,
			uint32_t *seq);
/** Answer frame @p seq with @p tx (nchan*160 octets). */
int tdm_span_audio_send(struct tdm_span *span, uint32_t seq,
			const uint8_t *tx);

/* ---- calls -------------------------------------------------------------- */

/** A number with its Q.931 type of number and numbering plan. */
struct tdm_number {
	const char *digits; /* NULL or "" = none (calling only) */
	int plan;           /* TON << 4 | NPI (Q.931 4.5.8); 0 = unknown */
	bool restricted;    /* presentation restricted (calling and
			     * redirecting) */
	const char *name;   /* calling only: the caller's name (display /
			     * facility as the switch type wants), NULL */
	bool incomplete;    /* called only: more digits may follow
			     * (tdm_call_digits), so no Sending Complete;
			     * needs a span with overlap_send */
	int reason;         /* redirecting only: Q.931 reason for
			     * redirection (0 unknown, 1 busy, 2 no reply,
			     * 3 deflection, 9 out of order, 10 by the
			     * called DTE, 15 unconditional) */
};

/**
 * Place a call: hunt an idle B-channel (ascending), send SETUP.
 * @return 0; EBUSY no idle channel; ENOTCONN D-channel down; ENOMEM.
 * The call is returned with one reference for the caller.
 */
int tdm_call_setup(struct tdm_call **callp, struct tdm_span *span,
		   const struct tdm_number *calling,
		   const struct tdm_number *called,
		   const struct tdm_number *redirecting, void *arg);
/** The same on B-channel @p chan (1..nchan), chosen by the caller's
 *  hunting; EBUSY when it is not free. */
int tdm_call_setup_chan(struct tdm_call **callp, struct tdm_span *span,
			unsigned chan, const struct tdm_number *calling,
			const struct tdm_number *called,
			const struct tdm_number *redirecting, void *arg);
/** Is B-channel @p chan idle and usable for a new call now? */
bool tdm_chan_free(struct tdm_span *span, unsigned chan);
/** Monotonic ms since which the channel has been idle (its last call or
 *  restart ended); 0 when it has not been used since the span started. */
int64_t tdm_chan_idle_since(const struct tdm_span *span, unsigned chan);

void tdm_call_set_arg(struct tdm_call *call, void *arg);
void *tdm_call_arg(const struct tdm_call *call);
struct tdm_span *tdm_call_span(const struct tdm_call *call);
unsigned tdm_call_chan(const struct tdm_call *call);  /* bearer 1.. */

/* Incoming call progress (we are the called side). */
int tdm_call_proceeding(struct tdm_call *call);
int tdm_call_progress(struct tdm_call *call, bool inband);
int tdm_call_alerting(struct tdm_call *call, bool inband);
int tdm_call_answer(struct tdm_call *call);
/** Answer with a Connected Number IE (who answered: the SIP callee's
 *  asserted number); @p connected NULL or "" = none. */
int tdm_call_answer_connected(struct tdm_call *call,
			      const struct tdm_number *connected);

/**
 * Overlap sending (Q.931 5.1.3): more digits of the called number of an
 * outgoing call placed with called->incomplete.  Before the network's
 * SETUP ACKNOWLEDGE they are queued (and go out with it); after it they
 * go at once, one INFORMATION per digit.
 * NOTE: libpri 1.6 puts no Sending Complete in INFORMATION: the network
 * ends the number by its own analysis or its T302.
 * @return 0; EPROTO the call is past overlap sending (the network
 * proceeds), or was not placed as incomplete; ENOSPC too many digits;
 * ENOTCONN gone.
 */
int tdm_call_digits(struct tdm_call *call, const char *digits);
/** Has the network acknowledged an overlap SETUP (and not proceeded)? */
bool tdm_call_overlap(const struct tdm_call *call);

/** Clear the call with Q.850 @p cause (DISCONNECT or RELEASE COMPLETE as
 * the state requires).  No TDM_EV_HANGUP follows.  Idempotent. */
int tdm_call_hangup(struct tdm_call *call, int cause);

#endif
