/* gateway/gw.h  The gateway object shared by gateway/'s files */
#ifndef TG_GATEWAY_GW_H
#define TG_GATEWAY_GW_H

#include <stdbool.h>
#include <stdint.h>

#include "cdr/cdr.h"
#include "dialplan/dialplan.h"
#include "e911/e911.h"
#include "media/media.h"
#include "sip/sip.h"
#include "tdm/tdm.h"
#include "conf.h"

struct event_base;
struct event;
struct evdns_base;
struct gw_call;
struct gw_ctl;
struct reload_job;
struct gw_notify;
struct gw_regs;
struct ssl_ctx_st;

/* A SIP trunk's health by OPTIONS probes (health.c). */
enum gw_health {
	GW_HEALTH_OFF = 0, /* not probed (options_interval = 0, or TDM) */
	GW_HEALTH_UNKNOWN, /* probed, no verdict yet: routed as up */
	GW_HEALTH_UP,
	GW_HEALTH_DOWN,    /* skipped by routing (911: tried last) */
};

struct gw_tlist;

/** Live state of one trunk, kept across reloads by name. */
struct gw_tstat {
	char name[32];
	unsigned calls;          /* live calls using it, both ways */
	unsigned inbound;        /* live calls that arrived from it */
	int64_t out_sec, in_sec; /* the second the counters below are of */
	unsigned out_n, in_n;    /* attempts / arrivals in that second */
	unsigned fails_in_row;   /* attempts with no response in a row */
	int64_t down_until_ms;   /* monotonic; 0 = up */
	uint64_t attempts, answered; /* totals */
	uint8_t asr_ring[100];   /* last 100 attempts: 1 answered */
	unsigned asr_pos, asr_n;
	bool drained;            /* maintenance: no new ordinary calls */
	unsigned rr_next;        /* TDM round-robin: the next channel */
	int64_t emergency_end_ms; /* monotonic: an emergency call on it
				   * ended; 0 never */
	/* OPTIONS keep-alive (health.c): the trunk's verdict is up while
	 * any target is up (targets.c) */
	enum gw_health health;
	char health_why[48];     /* what the last verdict rests on */
	struct gw_tlist *tl;     /* its targets (SIP), NULL none */
	unsigned probe_ok, probe_miss; /* answered / unanswered in a row */
	int probe_code;          /* status of the last answer, 0 none */
	unsigned probe_rtt_ms;   /* its round trip */
	uint64_t probes, probe_answers, probe_timeouts;
	uint64_t health_downs, health_ups; /* verdicts that changed */
};

/** Maintenance state of one span, kept across reloads by span number. */
struct gw_sadm {
	int id;                  /* 0: free slot */
	bool drained;            /* no new ordinary calls either way */
	bool drain_logged;       /* "no calls left" said */
	int64_t emergency_end_ms; /* monotonic; 0 never */
};

struct gw_maint_job;

/** Live state of one ELIN: in use, and whom a PSAP callback reaches. */
struct gw_elin {
	char elin[32];
	char zone[32];
	unsigned active;          /* emergency calls sending it now */
	int64_t last_end_ms;      /* wall clock; 0 never */
	char party_trunk[32];     /* the last caller it stood for */
	char party_user[64];
	int64_t party_ms;         /* when that caller last used it (or a
				   * callback reached them); 0 none */
	char party_call[37];      /* that emergency call's id (its CDR) */
};

/** Live counters of a route with limits. */
struct gw_rstat {
	struct gw_rstat *next;
	char name[32];
	unsigned calls;
	int64_t sec;
	unsigned n;
};

struct gw {
	struct gw_config cfg;
	struct event_base *base;
	struct sip_ua *ua;
	struct sip_dns *dns;             /* ENUM (and, later, RFC 3263) */
	struct media_engine *me;
	struct cdr_writer *cdr;
	struct dp_snapshot *snap;        /* current routing snapshot (obj) */
	struct e911_snapshot *e911;      /* location zones (obj) */
	unsigned emergency_live;         /* emergency calls up now */
	int64_t emergency_end_ms;        /* when the last one ended (mono) */
	bool reload_waiting;             /* a reload deferred for them */
	struct event *ev_reload_wait;
	struct gw_notify *notify;        /* emergency notifications being
					  * delivered */
	struct evdns_base *notify_dns;   /* their resolver, made on first use */
	struct ssl_ctx_st *notify_tls;   /* for https:// notify URLs, or
					  * NULL when there are none */
	struct gw_elin *elins;           /* live ELIN state, by number */
	size_t nelins, elins_cap;
	int64_t rates_version;           /* of the rates in snap's LCR */
	struct reload_job *reload;       /* a reload under way, or NULL */
	struct gw_tstat tstat[GW_MAX_TRUNKS];
	struct gw_rstat *rstats;
	struct tdm_span *spans[GW_MAX_SPANS];
	unsigned nspans;
	struct gw_sadm sadm[GW_MAX_SPANS];
	struct gw_maint_job *maint;      /* deferred maintenance commands */
	struct event *ev_maint;
	struct gw_ctl *ctl;
	struct gw_regs *regs;            /* registrations (reg.c) */

	struct gw_call *calls;           /* live calls, newest first */
	struct gw_call *media_waits;     /* ended calls whose CDR waits for
					  * their bridge's figures (a ref
					  * each, the bridge's) */
	unsigned ncalls;
	uint64_t next_serial;
	bool draining;
	bool stopping;
	int64_t started_ms;

	struct event *ev_media;
	struct event *ev_drain;
	struct event *ev_rtp_check;      /* gw_call_rtp_check, every 1 s */
	struct event *ev_sig[4];

	unsigned ovl_waiting;            /* calls answered 484 that wait
					  * for the next INVITE (RFC 3578) */

	/* counters for status */
	uint64_t calls_total;
	uint64_t calls_answered;
	uint64_t calls_failed;
	uint64_t cdr_submitted;
};

/* gateway/call.c */
/** Live state of trunk @p name (created on first use; NULL if no room). */
struct gw_tstat *gw_tstat(struct gw *gw, const char *name);
/** dp_trunk_state_h over the config and live state. */
enum dp_trunk_state gw_trunk_state(const char *trunk, void *arg);
/** Recent ASR of every trunk, NULL-terminated, for LCR ties. */
void gw_trunk_asr(struct gw *gw, struct dp_lcr_asr *out, size_t max);
void gw_call_on_invite(struct sip_leg *leg, const struct sip_invite_info *info,
		       void *arg);
bool gw_call_digest(const struct sockaddr *src, socklen_t len,
		    const char *user, char *password, size_t psize,
		    unsigned *offer, void *arg);
bool gw_call_authorize(const struct sockaddr *src, socklen_t len,
		       const char *method, void *arg);
void gw_call_media_prefs(const struct sip_invite_info *info, int *codecs,
			 unsigned *ncodecs, unsigned *ptime, void *arg);
void gw_call_on_rejected(const struct sip_invite_info *info, int status,
			 void *arg);
/** Is @p src a trunk with nat = yes (sip_symmetric_h)? */
bool gw_call_symmetric(const struct sockaddr *src, socklen_t len, void *arg);
void gw_call_on_tdm(struct tdm_span *span, const struct tdm_event *ev,
		    void *arg);
/** Clear every answered call whose SIP far end sent no RTP for its
 *  rtp_timeout (cause 41); run once a second. */
void gw_call_rtp_check(struct gw *gw);
/** Clear every live call with @p cause. */
void gw_call_clear_all(struct gw *gw, int cause);
/** media_dtmf_h: a digit detected on a dtmf=info call's B-channel. */
void gw_call_on_dtmf(void *arg, uint32_t bridge, char digit, unsigned ms);
/** media_fax_h: a fax tone on a call's bridge: T.38 re-INVITE toward the
 *  SIP side (its trunk's t38 = yes), else G.711 pass-through. */
void gw_call_on_fax(void *arg, uint32_t bridge, enum media_fax_tone tone,
		    bool from_tdm);
/** Clear the live calls that hold a B-channel of span @p span. */
void gw_call_clear_span(struct gw *gw, int span, int cause);
/** media_bridge_done_h: a call's bridge stopped; its figures go in the
 *  call's CDR, which waited for them.  @p cookie is the call. */
void gw_call_media_done(void *cookie, const struct media_stats *st);
/** Shut-down, after the media engine is freed: write the CDRs still
 *  waiting for figures without them. */
void gw_call_media_flush(struct gw *gw);
/** Shut-down: end every call and drop it without waiting for SIP. */
void gw_call_reap_all(struct gw *gw);

/** Description of a live call for `show calls`. */
struct gw_call_info {
	char id[37];
	const char *direction;
	const char *state;
	const char *calling;
	const char *called;
	const char *in_trunk;
	const char *out_trunk;
	int span, chan;
	const char *codec;
	int64_t start_ms, answer_ms;
	const char *call_id;
	bool emergency;        /* an emergency call or a PSAP callback */
};
typedef void(gw_call_info_h)(const struct gw_call_info *ci, void *arg);
void gw_call_foreach(struct gw *gw, gw_call_info_h *h, void *arg);
/** The live call that holds PRI call @p tc, described; false: none. */
bool gw_call_info_of_tdm(struct gw *gw, const struct tdm_call *tc,
			 struct gw_call_info *ci);

/* gateway/main.c */
struct tdm_span *gw_span(struct gw *gw, int id);
/* The route used for calls from SIP trunks that no database route takes,
 * made from [routing] outbound. */
#define GW_DEFAULT_ROUTE "config-outbound"

typedef void(gw_reload_h)(int rc, const char *msg, void *arg);
/**
 * Re-read the config's reloadable parts and build a new routing snapshot
 * from the database, on a thread; @p done (may be NULL) gets the outcome
 * on the loop thread.  On error nothing changes and the message says why.
 * While an emergency call is up (and [e911] holdoff seconds after the last
 * one), nothing is reloaded: the reload waits, and EINPROGRESS says so in
 * @p err (@p done is not called).
 * @return 0 when started; else an errno with @p err saying why.
 */
int gw_reload_start(struct gw *gw, gw_reload_h *done, void *arg, char *err,
		    size_t errsize);
/** An emergency call began (@p up) or ended: deferred reloads wait. */
void gw_emergency_mark(struct gw *gw, bool up);
/** A call ended: maybe finish draining. */
void gw_check_drained(struct gw *gw);

/* gateway/e911.c */
/**
 * An emergency call from @p caller: its zone and the ELIN it sends (the
 * ELIN's use counted; @p party_trunk / @p party_user are whom a PSAP
 * callback to it reaches).  @return false when no zone applies (the call
 * still goes out, with its own caller-ID).
 */
bool gw_e911_place(struct gw *gw, const struct e911_caller *caller,
		   const char *party_trunk, const char *party_user,
		   const char *call_id, char *zone, size_t zsize, char *elin,
		   size_t esize, struct e911_zone_row *loc);
/** Where @p caller would be and which ELIN it would get now, without
 *  using one (tollgatectl e911 test).  @return false: no zone. */
bool gw_e911_preview(struct gw *gw, const struct e911_caller *caller,
		     const struct e911_zone **zp, struct e911_zone_row *loc,
		     const char **elin, char *why, size_t whysize);
/** An emergency call sends @p elin (chosen by us or by the caller's own
 *  PIDF-LO): count it and remember whom a callback reaches. */
void gw_e911_use(struct gw *gw, const char *elin, const char *zone,
		 const char *party_trunk, const char *party_user,
		 const char *call_id);
/** The emergency call that sent @p elin ended. */
void gw_e911_ended(struct gw *gw, const char *elin);
/**
 * A call to @p called (internal form): when it is an ELIN, where it goes.
 * @return 0 not an ELIN, or an ELIN without destination (route it as a
 * DID); 1 the caller that used it within the callback window; 2 the
 * zone's callback destination (window over).  @p trunk, @p user, @p zone
 * are filled for 1 and 2.
 */
int gw_e911_callback(struct gw *gw, const char *called, char *zone,
		     size_t zsize, char *trunk, size_t tsize, char *user,
		     size_t usize, char *ref, size_t rsize);
/** A PSAP callback (callback 1) to @p elin ended: its window restarts. */
void gw_e911_callback_ended(struct gw *gw, const char *elin);
/** Is @p called (as a trunk sent it, 7 digits or more) one of our ELINs?
 *  Such calls (PSAP callbacks) are never refused for limits. */
bool gw_e911_is_elin(struct gw *gw, const char *called);
/** At start: the callback table from the CDRs of the last window. */
int gw_e911_restore(struct gw *gw);
/** Free the live ELIN state (at shut-down). */
void gw_e911_free(struct gw *gw);

/* gateway/notify.c */
/** What the building is told about an emergency call (Kari's Law). */
struct gw_emergency_note {
	const char *call_id;
	const char *caller;    /* as the caller's trunk sent it */
	const char *trunk;
	const char *called;
	bool test;             /* 933 */
	const char *zone;      /* "" none */
	const char *elin;      /* the callback number, "" none */
	const struct e911_zone_row *where; /* NULL none */
};
/** POST the note to every [e911] notify URL, now, retried in the
 *  background; the call never waits for it. */
void gw_notify_emergency(struct gw *gw, const struct gw_emergency_note *n);
/** Drop notifications still being retried (shut-down). */
void gw_notify_stop(struct gw *gw);
/**
 * The TLS client context for https:// notify URLs, from [e911] notify_ca,
 * notify_cert and notify_key; *@p ctxp is NULL when the config has none.
 * @return 0, or an errno with @p err holding "file:line: what is wrong".
 */
int gw_notify_tls_new(struct ssl_ctx_st **ctxp, const struct gw_config *cfg,
		      char *err, size_t errsize);
void gw_notify_tls_free(struct ssl_ctx_st *ctx);

/* gateway/call.c */
/**
 * Is an emergency call or a PSAP callback up on span @p span (0: any
 * span) channel @p chan (0: any), or using trunk @p trunk (NULL: any)?
 * One of its ids goes to @p id.
 */
bool gw_call_emergency_on(struct gw *gw, int span, unsigned chan,
			  const char *trunk, char *id, size_t idsize);
/** Live calls holding a B-channel of span @p span. */
unsigned gw_call_count_on_span(struct gw *gw, int span);

/* gateway/targets.c: where a SIP trunk's requests go */

#define GW_MAX_TARGETS SIP_MAX_TARGETS

/** One target of a SIP trunk: its peer address, or one address its name
 *  was located at (RFC 3263), with its own OPTIONS health. */
struct gw_target {
	struct gw_tlist *tl;
	struct sip_target at;    /* address, SRV host/port/priority/weight */
	char label[96];          /* "ip:port" or "host:port ip" (CDRs) */
	enum gw_health health;
	char why[48];
	struct event *ev;        /* its next probe */
	struct sip_probe *probe; /* in flight, or NULL */
	unsigned interval;       /* s, as the timer was armed */
	unsigned probe_ok, probe_miss;
	int probe_code;
	unsigned probe_rtt_ms;
	uint64_t probes, answers, timeouts;
	uint64_t tries, fails;   /* requests sent there / failed there */
};

/** A SIP trunk's targets: one for an address, what DNS gives for a name. */
struct gw_tlist {
	struct gw *gw;
	struct gw_tstat *ts;
	char host[128];          /* as configured ("" = an address) */
	uint16_t port;
	unsigned tps;            /* SIP_TP_BIT it may be located for */
	struct sockaddr_storage peer; /* the address, when not a name */
	socklen_t peer_len;
	struct gw_target *t[GW_MAX_TARGETS];
	unsigned n;
	/* locating the name */
	struct sip_locate *loc;  /* under way, or NULL */
	struct event *ev_refresh;
	enum sip_locate_how how;
	int last_err;            /* of the last lookup, 0 ok */
	int64_t resolved_ms;     /* wall clock of the last good one, 0 */
	int64_t expires_ms;      /* monotonic: the next lookup, 0 none */
	int64_t asked_ms;        /* monotonic: the last one started */
	uint32_t ttl;            /* as used (clamped) */
	uint64_t lookups, lookup_fails;
};

/** One destination of a request, in the order to try them. */
struct gw_dest {
	struct sockaddr_storage sa;
	socklen_t len;
	enum sip_transport transport; /* the trunk's, or what DNS chose */
	char label[96];
};

/**
 * Where a new request to SIP trunk @p trunk goes, in the order to try
 * them (INVITE fails over along it; REGISTER may too): targets by SRV
 * priority, a weighted random draw within one priority (RFC 2782, a new
 * draw for every call), targets OPTIONS marks down left out, unless
 * every target is down (then all of them, in order).  The list is a
 * copy: it stays valid while DNS refreshes the trunk's targets.
 * @return how many went to @p out (at most @p max); 0 when the trunk has
 * no target: its name did not resolve (gw_trunk_dns_error says why) or
 * it is no SIP trunk.
 */
unsigned gw_trunk_targets(struct gw *gw, const char *trunk,
			  struct gw_dest *out, unsigned max);
/** The first of gw_trunk_targets, for a request that needs just one.
 *  @return 0, or the trunk's DNS error (ENOENT when none is known). */
int gw_trunk_target_first(struct gw *gw, const char *trunk,
			  struct gw_dest *out);
/** Why trunk @p trunk has no target: its last lookup's errno, or 0. */
int gw_trunk_dns_error(struct gw *gw, const char *trunk);
/** A request sent to @p sa on @p trunk failed (@p failed) or did not:
 *  the target's counters (`show trunks`). */
void gw_trunk_target_result(struct gw *gw, const char *trunk,
			    const struct sockaddr *sa, bool failed);
/** Before a request to @p sa (its next hop: a target, or the outbound
 *  proxy) for trunk @p t: transport @p tp (the target's, gw_dest; the
 *  trunk's for the proxy) from now on (TCP and TLS connect when needed;
 *  TLS checks tls_server_name, else host, else the address).
 *  @return 0, or why the request cannot go (logged). */
int gw_trunk_transport(struct gw *gw, const struct gw_trunk_cfg *t,
		       const struct sockaddr *sa, socklen_t len,
		       enum sip_transport tp);
/** Is @p src (any port) one of named trunk @p t's targets?  Its
 *  requests are taken as the trunk's (no accept_from given). */
bool gw_targets_has(struct gw *gw, const struct gw_trunk_cfg *t,
		    const struct sockaddr *src);
/** Make every SIP trunk's target list match the config (start-up and
 *  after every reload; called by gw_health_sync). */
void gw_targets_sync(struct gw *gw);
/** Free every list (shut-down; after the resolver). */
void gw_targets_stop(struct gw *gw);
/** A free-standing list entry is gone: health.c stops its prober. */
void gw_target_probe_stop(struct gw_target *tg);
/** The trunk's verdict from its targets' (health.c). */
void gw_tlist_health(struct gw_tlist *tl, const char *why);
/** Probe the targets of @p tl as its trunk says (health.c; after the
 *  list changed). */
void gw_health_list(struct gw_tlist *tl);

/* gateway/health.c: OPTIONS keep-alive of SIP trunks */
/** Start probing the trunks that want it, stop the others (start-up and
 *  after every reload). */
void gw_health_sync(struct gw *gw);
/** Stop every prober (before the UA goes). */
void gw_health_stop(struct gw *gw);
const char *gw_health_word(enum gw_health st);

/* gateway/maint.c: span, channel and trunk maintenance (tollgatectl) */
struct evbuffer;
/** Span @p id's maintenance state (created on first use; NULL: none). */
struct gw_sadm *gw_sadm(struct gw *gw, int id);
/** May an ordinary (not emergency) call use span @p id now? */
bool gw_span_open(struct gw *gw, int id);
/** An emergency call that used these spans and trunks ended: their
 *  maintenance waits [e911] holdoff seconds more. */
void gw_maint_emergency_ended(struct gw *gw, int in_span, int out_span,
			      const char *in_trunk, const char *out_trunk);
/**
 * `span drain|resume|restart N`, `channel block|unblock|reset N/C`,
 * `trunk drain|resume NAME`: @p word is "span", "channel" or "trunk".
 * What happened (done, or deferred and why) is written to @p out.
 * @return 0 done or deferred; EINVAL bad arguments; ENOENT no such thing;
 * ENOTCONN the D-channel is down.
 */
int gw_maint_cmd(struct gw *gw, struct evbuffer *out, bool json,
		 const char *word, int argc, char **argv);
/** A call ended: a draining span may have emptied. */
void gw_maint_call_ended(struct gw *gw);
/** Drop deferred commands (shut-down). */
void gw_maint_stop(struct gw *gw);

/* gateway/reg.c: REGISTER to providers, and as registrar for PBXs */
struct evbuffer;
/** Start, restart (changed settings) or stop the outbound registrations
 *  and drop the bindings of trunks that are no registrar any more
 *  (start-up and after every reload). */
void gw_reg_sync(struct gw *gw);
/** `trunk register NAME`: a REGISTER now, even after a rejection.
 *  ENOENT: the trunk does not register. */
int gw_reg_retry(struct gw *gw, const char *name);
/** Clean shut-down: Expires: 0 for every binding we hold, waiting a
 *  bounded time (2 s) for the answers while the loop runs. */
void gw_reg_unregister_all(struct gw *gw);
void gw_reg_free(struct gw *gw);
/** sip_registrar_h: a PBX's REGISTER to a registrar trunk. */
void gw_reg_on_register(const struct sip_register_req *rq,
			struct sip_register_reply *rp, void *arg);
/** Where a call to registrar trunk @p trunk goes: the source address of
 *  its freshest binding.  ENXIO: none (cause 20, subscriber absent). */
int gw_reg_contact(struct gw *gw, const char *trunk,
		   struct sockaddr_storage *ss, socklen_t *len);
/** The user of the Contact trunk @p t registers (register = yes): a
 *  provider's INVITE to it comes from that trunk, the number in To. */
const char *gw_reg_contact_user(const struct gw_trunk_cfg *t);
/** Trunks that register, how many are registered and how many rejected
 *  (the alarm `status` shows). */
void gw_reg_counts(struct gw *gw, unsigned *n, unsigned *up,
		   unsigned *rejected);
/** `show registrations`. */
void gw_reg_show(struct gw *gw, struct evbuffer *out, bool json);

/* gateway/ctl.c */
/** @p s as a JSON string literal. */
void gw_json_str(struct evbuffer *out, const char *s);
int gw_ctl_open(struct gw_ctl **ctlp, struct gw *gw, const char *path);
void gw_ctl_close(struct gw_ctl *ctl);

#endif
