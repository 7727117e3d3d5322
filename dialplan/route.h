/* dialplan/route.h  The routing decision: a pure function over a snapshot
 *
 * A snapshot (struct dp_snapshot, an obj) holds everything routing needs:
 * trunks' numbering, ingress and egress rules, routes, DIDs, rates,
 * blocklists and the emergency table.  It is built once from rows read
 * elsewhere (the database, the config file), validated as a whole and then
 * shared read-only: dp_decide() takes the facts of one call and returns a
 * decision (normalised numbers, ordered trunk attempts each with the
 * numbers formatted for that trunk, the per-attempt timers, why) and does
 * no I/O, reads no clock and allocates nothing.  A call keeps a reference
 * to the snapshot it was routed with until it ends.
 */
#ifndef TG_DIALPLAN_ROUTE_H
#define TG_DIALPLAN_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dialplan/enum.h"
#include "dialplan/rules.h"
#include "dialplan/lcr.h"

struct dp_did_range;

#define DP_NAME_SIZE    32 /* trunk and route names, with the NUL */
#define DP_MAX_ATTEMPTS 8

enum dp_trunk_kind {
	DP_TRUNK_SIP,
	DP_TRUNK_TDM,
};

/**
 * How a trunk writes numbers.  An empty plan.cc means "no numbering
 * plan": numbers from and to this trunk are taken and sent as they are
 * (digits only, TON unknown), as before routing knew about plans.
 */
struct dp_trunk_row {
	char name[DP_NAME_SIZE];
	enum dp_trunk_kind kind;
	struct dp_country_plan plan;
	enum dp_number_fmt called_fmt;  /* egress format of called numbers */
	enum dp_number_fmt calling_fmt; /* egress format of calling numbers */
	/* Blocklist categories callers on this trunk may reach anyway,
	 * comma-separated: "international", "premium", or any category
	 * named in a block row.  "" = none: a new trunk reaches neither
	 * international nor premium numbers until allowed. */
	char allow[64];
};

/**
 * One outbound route.  Routes are tried by ascending @c priority (then
 * by name); the first whose every condition holds decides.
 */
struct dp_route_row {
	char name[DP_NAME_SIZE];
	unsigned priority;
	char kind[12];       /* on the called number (internal form):
			      * "any", "prefix", "pattern", "regex" as in
			      * struct dp_rule_row */
	char match[128];
	char src_trunks[128]; /* comma-separated source trunks; "" = any */
	char calling[64];    /* calling number: "" any, digits = prefix,
			      * "_..." = pattern */
	char days[32];       /* "mon-fri", "sat,sun", "" = every day */
	char hours[32];      /* "08:00-18:00"; "22:00-06:00" wraps past
			      * midnight; "" = all day */
	char tz[64];         /* zone name ("America/New_York", resolved
			      * at build by rows->tz_resolve) or a POSIX
			      * TZ string ("EST5EDT,M3.2.0,M11.1.0");
			      * "" = UTC */
	char trunks[256];    /* comma-separated, tried in this order */
	bool lcr;            /* least-cost carriers first, then trunks[]
			      * not already chosen */
	char failover[128];  /* comma-separated dp_failover_build items */
	unsigned t_trying_ms;   /* SIP: no 100 Trying -> next; 0 default */
	unsigned t_progress_ms; /* no 18x / PROCEEDING -> next; 0 = off */
	unsigned t_answer_ms;   /* no answer -> give up (cause 19); 0 =
				 * the gateway's ring timeout */
	unsigned max_calls;  /* concurrent calls over this route; 0 = no
			      * limit (enforced by call control) */
	unsigned cps;        /* new calls per second; 0 = no limit */
	char enum_domain[64]; /* look the number up in this ENUM domain
			       * (RFC 6116, "e164.arpa") before the
			       * trunks; "" = no ENUM */
};

/** A blocklist entry. */
struct dp_block_row {
	char kind[12];     /* "called" or "calling" */
	char match[64];    /* digits = prefix of the internal form;
			    * "_..." = pattern */
	char category[16]; /* "" = blocked for every source; else a
			    * category a source trunk may allow */
	char trunk[DP_NAME_SIZE]; /* only calls from this trunk; "" = all */
};

/** Resolve a zone name to a POSIX TZ string (at build time only). */
typedef int(dp_tz_resolve_h)(const char *name, char *posix, size_t size,
			     void *arg);
/** A dp_tz_resolve_h over the TZif files in @p arg (a directory; NULL =
 *  /usr/share/zoneinfo): the rule in the file's footer. */
int dp_tz_zoneinfo(const char *name, char *posix, size_t size, void *arg);

struct dp_snapshot_rows {
	const struct dp_trunk_row *trunks;
	size_t ntrunks;
	const struct dp_rule_row *ingress; /* applied after normalising,
					    * .trunk = source trunk */
	size_t ningress;
	const struct dp_rule_row *egress;  /* applied after formatting,
					    * .trunk = destination trunk */
	size_t negress;
	/* The same for calling numbers, and for diverting numbers (SIP
	 * Diversion, PRI Redirecting Number). */
	const struct dp_rule_row *ingress_calling, *egress_calling;
	size_t ningress_calling, negress_calling;
	const struct dp_rule_row *ingress_diversion, *egress_diversion;
	size_t ningress_diversion, negress_diversion;
	const struct dp_route_row *routes;
	size_t nroutes;
	const struct dp_did_range *dids;
	size_t ndids;
	const struct dp_rate *rates; /* ignored when @c lcr is set */
	size_t nrates;
	struct dp_lcr *lcr;          /* a built snapshot to share (a new
				      * reference is taken), or NULL */
	const struct dp_block_row *blocks;
	size_t nblocks;
	const struct dp_emergency *emergency; /* NULL = dp_emergency_default */
	dp_tz_resolve_h *tz_resolve; /* NULL: only POSIX strings and "UTC" */
	void *tz_arg;
	/* Defaults for routes that leave a timer at 0. */
	unsigned t_trying_ms;   /* 0 = 3000 */
	unsigned t_progress_ms; /* 0 = off */
};

struct dp_snapshot;

/**
 * Validate @p rows as a whole and build a snapshot (an obj).  Refused,
 * with the table and the row's key named in @p err, for: a duplicate or
 * unnamed trunk or route; a route, DID or block naming an unknown trunk;
 * a bad pattern, regex, day list, hour range or time zone; a bad
 * failover item; what dp_rules_build, dp_did_table_build and
 * dp_lcr_build refuse.  Rates of carriers that are not trunks are kept
 * and skipped at lookup.
 * @return 0, EINVAL (see @p err) or ENOMEM.
 */
int dp_snapshot_build(struct dp_snapshot **out,
		      const struct dp_snapshot_rows *rows, char *err,
		      size_t errsize);

const struct dp_trunk_row *dp_snapshot_trunk(const struct dp_snapshot *s,
					     const char *name);
/** The snapshot's DID table and LCR snapshot (never NULL; may be empty). */
const struct dp_did_table *dp_snapshot_dids(const struct dp_snapshot *s);
struct dp_lcr *dp_snapshot_lcr(const struct dp_snapshot *s);
size_t dp_snapshot_nroutes(const struct dp_snapshot *s);

/* ---- one decision ------------------------------------------------------- */

enum dp_trunk_state {
	DP_TRUNK_AVAILABLE,
	DP_TRUNK_DOWN, /* health check, all spans down, ... */
	DP_TRUNK_FULL, /* over its concurrent-call or CPS limit */
};
typedef enum dp_trunk_state(dp_trunk_state_h)(const char *trunk, void *arg);

/** What call control knows about a call when it routes it. */
struct dp_facts {
	const char *src_trunk;   /* the trunk the call came from */
	const char *called;      /* digits, "+digits" or a tel:/sip: URI */
	enum dp_ton called_ton;  /* from PRI; DP_TON_UNKNOWN for SIP */
	const char *calling;     /* may be NULL or "" */
	enum dp_ton calling_ton;
	enum dp_pres calling_pres;
	const char *diversion;   /* who diverted the call to us: SIP
				  * Diversion user, PRI Redirecting Number;
				  * NULL or "" = none */
	enum dp_ton diversion_ton;
	const char *to_trunk;    /* a PSAP callback call control matched to
				  * an ELIN's last caller: this trunk and
				  * user, nothing else (no blocklists, DIDs,
				  * routes or limits); NULL otherwise */
	const char *to_user;
	int64_t now;             /* Unix seconds UTC */
	bool emergency;          /* the signalling marked the call as an
				  * emergency (urn:service:sos, trusted
				  * Priority/Resource-Priority) */
	const struct dp_lcr_asr *asr; /* recent ASR per carrier, or NULL */
	dp_trunk_state_h *state; /* NULL = every trunk available */
	void *state_arg;
};

enum dp_source {
	DP_SRC_ROUTE,        /* a route's trunk list */
	DP_SRC_LCR,          /* a route's least-cost lookup */
	DP_SRC_DID,          /* a DID's destination */
	DP_SRC_DID_FAILOVER, /* a DID's failover destination */
	DP_SRC_CALLBACK,     /* a PSAP callback to the ELIN's caller */
	DP_SRC_ENUM,         /* the SIP URI that ENUM gives for
			      * dp_decision.enum_name, sent with the
			      * settings of trunk (which follows as an
			      * attempt of its own) */
};

struct dp_attempt {
	char trunk[DP_NAME_SIZE];
	enum dp_trunk_kind kind;
	enum dp_source source;
	struct dp_number called;  /* formatted for this trunk, egress rules
				   * applied ('+' included for DP_FMT_PLUS) */
	struct dp_number calling;
	struct dp_number diversion; /* formatted like calling numbers for
				     * this trunk, egress diversion rules
				     * applied; "" = none */
	char user[64];            /* SIP Request-URI user: called.digits or
				   * a DID's fixed user */
	enum dp_trunk_state state; /* when decided; call control checks
				    * again before trying */
	bool has_rate;
	struct dp_rate rate;      /* the rate used (DP_SRC_LCR, or the
				   * trunk's rate for this number) */
};

struct dp_decision {
	int cause;          /* 0: route the call; else the Q.850 cause to
			     * refuse it with: 28 bad number, 21 blocked,
			     * 1 (call from a TDM trunk) or 3 no route */
	char reason[160];   /* one line: why this decision */
	enum dp_emergency_class emergency;
	bool callback;      /* a PSAP callback (dp_facts.to_trunk): as
			     * privileged as an emergency call */
	char service[24];   /* "911", "urn:service:sos", "" */
	struct dp_number called;  /* internal form after ingress rules */
	struct dp_number calling;
	struct dp_number diversion;
	char route[DP_NAME_SIZE]; /* route name, "did" or "" */
	unsigned t_trying_ms, t_progress_ms, t_answer_ms;
	unsigned route_max_calls, route_cps;
	const struct dp_failover *failover; /* the route's overrides (valid
					     * while the snapshot is held),
					     * or NULL for the built-in */
	struct dp_attempt attempts[DP_MAX_ATTEMPTS];
	size_t nattempts;
	char enum_name[DP_ENUM_NAME_SIZE]; /* the NAPTR owner name for a
					    * DP_SRC_ENUM attempt */
};

/**
 * Route one call.
 *  1. Emergency: the raw called number (and @c facts->emergency) against
 *     the snapshot's emergency table.
 *  2. Ingress: normalise called and calling numbers with the source
 *     trunk's plan, then the ingress rules.  A called number that does
 *     not normalise refuses the call with cause 28 (an emergency call is
 *     never refused: its raw digits are kept).  A calling number that
 *     does not normalise is kept as sent, TON unknown.
 *  3. Blocklists (not for emergency calls): calling, then called; an
 *     entry with a category the source trunk allows does not block; a
 *     called number outside the source plan's country code is category
 *     "international".  Blocked: cause 21.
 *  4. DIDs: the called number (internal form, then as received) in the
 *     DID table, unless the DID's trunk is the source trunk: its trunk
 *     with the DID's user and caller-ID, then its failover destination.
 *  5. Routes, by priority: called match, source trunk, calling match,
 *     day and hours in the route's zone (emergency calls ignore days and
 *     hours).  Attempts: an ENUM lookup (when the route names an ENUM
 *     domain; not for emergency calls), LCR carriers cheapest first
 *     (when the route says lcr; ties broken by @c facts->asr), then the
 *     route's trunks.
 *     The source trunk is never an attempt; duplicates are dropped.
 *  6. Egress: per attempt, format the numbers for that trunk, then its
 *     egress rules.  Each attempt gets its state from @c facts->state;
 *     emergency calls list FULL trunks as AVAILABLE.
 * No route: cause 1 for calls from TDM trunks (the network delivered a
 * number that is not ours), 3 otherwise.
 * @param trace  if not NULL, one line per step: which rule matched,
 *        which rates were compared, which trunks were skipped and why
 *        (for `tollgatectl route explain`); truncated to @p tracesize.
 * @return 0 (a decision was made, possibly a refusal in d->cause);
 *         EINVAL for an unknown source trunk or missing called number.
 */
int dp_decide(const struct dp_snapshot *s, const struct dp_facts *facts,
	      struct dp_decision *d, char *trace, size_t tracesize);

/**
 * Is @p called (as a trunk sent it: "911", "tel:911", "911;phone-context=
 * +1", "urn:service:sos") an emergency or test number of the snapshot's
 * table?  The same test as dp_decide's first step, for admission checks
 * that run before it (@p s NULL: the default table).
 */
enum dp_emergency_class dp_called_emergency(const struct dp_snapshot *s,
					    const char *called);

/* ---- time zones (dialplan/tz.c) ----------------------------------------- */

struct dp_tz; /* a parsed POSIX TZ rule */

/** Parse a POSIX TZ string ("UTC", "CET-1CEST,M3.5.0,M10.5.0/3").
 * @return 0, or EINVAL; *out is malloc'd, free with dp_tz_free. */
int dp_tz_parse(struct dp_tz **out, const char *posix);
void dp_tz_free(struct dp_tz *tz);
/** Local time of @p t: weekday 0 = Sunday, minute of the day. */
void dp_tz_local(const struct dp_tz *tz, int64_t t, int *wday,
		 int *minute);

/**
 * Send @p number (internal form: E.164 digits) as the calling number of
 * every attempt of @p d, formatted for each trunk and through its egress
 * calling rules, presentation allowed: an emergency call's ELIN.
 */
void dp_decision_set_calling(const struct dp_snapshot *s,
			     struct dp_decision *d, const char *number);

#endif
