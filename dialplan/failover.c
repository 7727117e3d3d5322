/* dialplan/failover.c  Which failures try the next route; what to report
 *
 * The question for every failed attempt: does it say something about
 * this route (dead trunk, congestion, protocol trouble: try the next
 * one) or about the callee (busy, declined, no such number: every
 * route would hear the same, so stop)?  Ringing a busy callee on three
 * trunks is the bug this table exists to prevent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"
#include "dialplan.h"
#include "rules.h"

/* Q.850 causes 1-31 (the "normal event" classes) that are about the
 * route, not the callee.  Every other cause up to 31 is FINAL.
 *  2  no route to specified transit network: Q.850 2.2.5.1 says the
 *     transit network is not recognised by this network.
 *  3  no route to destination: "the network through which the call has
 *     been routed does not serve the destination" (Q.850 2.2.5.1); a
 *     different carrier may well serve it.  RFC 3398 folds 1, 2 and 3
 *     into 404, but only 1 says the number itself is wrong.
 *  6  channel unacceptable, 9 preemption with circuit reserved, 8
 *     preemption: the circuit was taken on this trunk.
 *  25 exchange routing error: a loop or hop limit in this network.
 *  29 facility rejected by this network. */
static const int q850_route_low[] = {2, 3, 6, 8, 9, 25, 29};

/* Causes 32-127 (resources, service, protocol, interworking) are about
 * the route, except these, which the far end sends about the callee:
 *  55 incoming calls barred within CUG, 87 user not member of CUG,
 *  88 incompatible destination (the destination cannot take the
 *     bearer; another route reaches the same destination). */
static const int q850_final_high[] = {55, 87, 88};

static bool in(const int *v, size_t n, int x)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == x)
			return true;
	return false;
}

enum dp_failure_class dp_failover_q850(int cause)
{
	if (cause >= 1 && cause <= 31)
		return in(q850_route_low, TG_ARRAY_SIZE(q850_route_low), cause)
			       ? DP_FAIL_ROUTE
			       : DP_FAIL_FINAL;
	if (cause >= 32 && cause <= 127)
		return in(q850_final_high, TG_ARRAY_SIZE(q850_final_high),
			  cause)
			       ? DP_FAIL_FINAL
			       : DP_FAIL_ROUTE;
	/* 0 or out of range: no information, like no response at all. */
	return DP_FAIL_ROUTE;
}

/* 4xx statuses that are about the callee.  Every other 4xx is about
 * this request on this route: authentication and payment (401, 402,
 * 407), what the trunk supports (405, 406, 413-423, 488), timeouts
 * (408), loops (482, 483) and overload (429). */
static const int sip_final_4xx[] = {
	403, /* the issue: "the callee said no" (overridable; some
	      * carriers send it for account trouble) */
	404, /* no such number: wrong everywhere */
	410, /* number changed (Q.850 22) */
	480, /* temporarily unavailable: the callee's state */
	484, /* address incomplete: the number is short everywhere */
	485, /* ambiguous */
	486, /* busy here */
	487, /* request terminated: the caller cancelled */
};

enum dp_failure_class dp_failover_sip(int status)
{
	if (status == DP_SIP_NO_RESPONSE)
		return DP_FAIL_ROUTE; /* Timer B/F, transport, DNS */
	if (status < 0 || status > 699)
		return DP_FAIL_ROUTE; /* nonsense from the trunk */
	if (status < 400)
		return DP_FAIL_FINAL; /* not a failure: nothing to retry */
	if (status < 500)
		/* RFC 3261 8.1.3.2: an unknown 4xx is treated as 400,
		 * which is about our request on this route. */
		return in(sip_final_4xx, TG_ARRAY_SIZE(sip_final_4xx), status)
			       ? DP_FAIL_FINAL
			       : DP_FAIL_ROUTE;
	if (status < 600)
		return DP_FAIL_ROUTE; /* 5xx: a server on this route */
	/* RFC 3261 21.6: 6xx is definitive about the user, everywhere. */
	return DP_FAIL_FINAL;
}

/* ---- per-route overrides ---------------------------------------------- */

struct ov {
	bool sip; /* else Q.850 */
	int code;
	enum dp_failure_class cls;
};

struct dp_failover {
	bool wrong_number_route;
	size_t n;
	struct ov *v;
};

static void destructor(void *arg)
{
	struct dp_failover *fo = arg;

	free(fo->v);
}

static int parse_class(enum dp_failure_class *cls, const char *s)
{
	if (!strcasecmp(s, "route"))
		*cls = DP_FAIL_ROUTE;
	else if (!strcasecmp(s, "final"))
		*cls = DP_FAIL_FINAL;
	else
		return EINVAL;
	return 0;
}

static int bad(char *err, size_t errsize, const char *item, const char *why)
{
	snprintf(err, errsize, "failover item '%s': %s", item, why);
	return EINVAL;
}

static int parse_item(struct dp_failover *fo, struct ov *o, bool *wn_seen,
		      const char *item, char *err, size_t errsize)
{
	const char *eq = strchr(item, '=');
	enum dp_failure_class cls;
	const char *why;
	char code[8];
	size_t klen;

	if (!eq || parse_class(&cls, eq + 1))
		return bad(err, errsize, item,
			   "want sip:CODE=route|final, q850:CAUSE=route|final "
			   "or wrong-number=route|final");
	klen = (size_t)(eq - item);
	if (klen == 12 && !strncasecmp(item, "wrong-number", 12)) {
		if (*wn_seen)
			return bad(err, errsize, item, "given twice");
		*wn_seen = true;
		fo->wrong_number_route = cls == DP_FAIL_ROUTE;
		return 1; /* no table entry */
	}
	if (klen > 4 && !strncasecmp(item, "sip:", 4))
		o->sip = true;
	else if (klen > 5 && !strncasecmp(item, "q850:", 5))
		o->sip = false;
	else
		return bad(err, errsize, item,
			   "bad code (want sip:STATUS or q850:CAUSE)");
	why = o->sip ? "bad SIP status (want 0 or 400-699)"
		     : "bad Q.850 cause (want 1-127)";
	klen -= o->sip ? 4 : 5;
	if (klen > 3)
		return bad(err, errsize, item, why);
	memcpy(code, item + (o->sip ? 4 : 5), klen);
	code[klen] = '\0';
	if (!dp_is_digits(code))
		return bad(err, errsize, item, why);
	o->code = atoi(code);
	o->cls = cls;
	/* SIP: 0 is "no response"; final failures are 400-699.
	 * Q.850 causes are 1-127. */
	if (o->sip ? (o->code != 0 && (o->code < 400 || o->code > 699))
		   : (o->code < 1 || o->code > 127))
		return bad(err, errsize, item, why);
	for (size_t i = 0; i < fo->n; i++)
		if (fo->v[i].sip == o->sip && fo->v[i].code == o->code)
			return bad(err, errsize, item, "code given twice");
	return 0;
}

int dp_failover_build(struct dp_failover **out, const char *const *items,
		      size_t n, char *err, size_t errsize)
{
	struct dp_failover *fo;
	bool wn_seen = false;
	int e = 0;

	if (err && errsize)
		err[0] = '\0';
	fo = obj_zalloc(sizeof(*fo), destructor);
	if (!fo)
		return ENOMEM;
	fo->v = n ? calloc(n, sizeof(*fo->v)) : NULL;
	if (n && !fo->v) {
		e = ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		int rc = parse_item(fo, &fo->v[fo->n], &wn_seen, items[i], err,
				    errsize);

		if (rc < 0 || rc > 1) {
			e = rc;
			goto out;
		}
		if (rc == 0)
			fo->n++;
	}
out:
	if (e)
		obj_deref(fo);
	else
		*out = fo;
	return e;
}

static const struct ov *find(const struct dp_failover *fo, bool sip, int code)
{
	for (size_t i = 0; fo && i < fo->n; i++)
		if (fo->v[i].sip == sip && fo->v[i].code == code)
			return &fo->v[i];
	return NULL;
}

enum dp_failure_class dp_failover_class_sip(const struct dp_failover *fo,
					    int status)
{
	const struct ov *o = find(fo, true, status);

	if (o)
		return o->cls;
	/* innovaphone's "wrong number" retries, off unless asked for: a
	 * wrong number is wrong on every route, and a retry means the
	 * caller waits for every trunk to say so. */
	if (fo && fo->wrong_number_route && status == 404)
		return DP_FAIL_ROUTE;
	return dp_failover_sip(status);
}

enum dp_failure_class dp_failover_class_q850(const struct dp_failover *fo,
					     int cause)
{
	const struct ov *o = find(fo, false, cause);

	if (o)
		return o->cls;
	if (fo && fo->wrong_number_route && cause == 1)
		return DP_FAIL_ROUTE;
	return dp_failover_q850(cause);
}

enum dp_failure_class dp_failover_result(const struct dp_failover *fo,
					 const struct dp_attempt_result *r)
{
	if (r->q850_cause > 0)
		return dp_failover_class_q850(fo, r->q850_cause);
	return dp_failover_class_sip(fo, r->sip_status);
}

/* ---- picking the failure to report ------------------------------------- */

/* How much an attempt's failure tells the caller, higher is better:
 *  6  a 6xx: RFC 3261 16.7 step 6, a proxy MUST choose a 6xx if any;
 *  5  busy (486, Q.850 17);
 *  4  the callee refused or the number is wrong (403, 404, 410, 484,
 *     485; Q.850 1, 5, 21, 22, 28, 55, 87, 88);
 *  3  the callee did not answer or is away (480; 18, 19, 20, 27, 31);
 *  2  any other callee-side failure by the built-in table (487);
 *  1  a route failure with a response (5xx, 408, Q.850 34...);
 *  0  no response at all.
 * Callee answers first mirrors 16.7's "lowest class" (a 4xx from the
 * callee beats a 5xx from a dead trunk), and it is judged by the
 * built-in table, not the route's overrides: a 404 that a route chose
 * to fail over on still beats the 503 of the next trunk. */
static int rank(const struct dp_attempt_result *r)
{
	static const int busy[] = {17, 486};
	static const int refused[] = {1,  5,   21,  22,	 28,  55, 87,
				      88, 403, 404, 410, 484, 485};
	static const int away[] = {18, 19, 20, 27, 31, 480};
	int code = r->q850_cause > 0 ? r->q850_cause : r->sip_status;

	if (r->sip_status >= 600 && r->sip_status <= 699)
		return 6;
	if (dp_failover_result(NULL, r) == DP_FAIL_ROUTE)
		return r->sip_status == DP_SIP_NO_RESPONSE && r->q850_cause <= 0
			       ? 0
			       : 1;
	if (r->q850_cause <= 0 && code < 400)
		return 2; /* 3xx and the like: not a SIP failure code */
	if (in(busy, TG_ARRAY_SIZE(busy), code))
		return 5;
	if (in(refused, TG_ARRAY_SIZE(refused), code))
		return 4;
	if (in(away, TG_ARRAY_SIZE(away), code))
		return 3;
	return 2;
}

size_t dp_failure_pick(const struct dp_attempt_result *r, size_t n)
{
	size_t best = n;
	int best_rank = -1;

	/* ">=": among equals the latest attempt wins, the freshest word
	 * on the call (and "the last route failure" among dead trunks). */
	for (size_t i = 0; i < n; i++) {
		int k = rank(&r[i]);

		if (k >= best_rank) {
			best_rank = k;
			best = i;
		}
	}
	return best;
}
