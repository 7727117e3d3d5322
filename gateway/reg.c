/* gateway/reg.c  Registrations: ours with providers ([trunk] register),
 * and theirs with us for PBXs that register like to a provider ([trunk]
 * registrar)
 *
 * Outbound: each trunk with register = yes keeps one binding at its peer,
 * refreshed a margin before it lapses (a quarter of what was granted, at
 * most 60 s).  A failure that may pass (no answer, 5xx, 6xx other than
 * 603, other 4xx) is retried for ever, backing off from register_retry_min
 * doubling up to register_retry_max with jitter, or after the Retry-After
 * the registrar gave.  A refusal of our credentials (a second 401/407, a
 * 403) or a 603 is not: the trunk is marked rejected, an alarm is logged,
 * and nothing is sent until a reload changes its settings or `tollgatectl
 * trunk register NAME` asks for a new try -- retrying wrong credentials
 * only gets the address blocked by the provider's fraud guard.
 *
 * Registrar: a trunk with registrar = yes has no peer; its PBX registers
 * with inbound_user / inbound_password (digest, sip/authz.c) and calls to
 * the trunk go to where the freshest binding's REGISTER came from.  The
 * source address, not the Contact's: behind NAT the Contact names a
 * private address we cannot reach, while the address the REGISTER came
 * from is the pinhole the PBX keeps open, and it is the one that proved
 * the credentials.  Bindings live in memory: they survive reloads, a
 * restart forgets them (PBXs register again within their expiry, and at
 * once when their calls fail).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <event2/buffer.h>
#include <event2/event.h>

#define LOG_MODULE "reg"
#include "gateway/gw.h"
#include "util/util.h"

/* A REGISTER that gets no answer within this is a transient failure. */
#define REG_TIMEOUT_MS 8000
/* How long a clean shut-down waits for the answers to its un-REGISTERs. */
#define UNREG_WAIT_MS 2000
#define REG_BINDINGS 4

enum oreg_state {
	OR_IDLE = 0,
	OR_REGISTERING,
	OR_REGISTERED,
	OR_RETRY,
	OR_REJECTED,
};

struct oreg {
	char trunk[32];
	struct gw *gw;
	char key[512];              /* the settings it registers with */
	struct gw_trunk_cfg held;   /* ... all of them, for the
				     * un-REGISTER once the config changed */
	enum oreg_state st;
	struct sip_regtx *tx;       /* in flight, or NULL */
	struct event *ev;           /* the next REGISTER */
	char call_id[48];
	uint32_t cseq;
	unsigned ask;               /* expires asked for (raised by 423) */
	unsigned granted;           /* s, of the binding in force */
	int64_t expires_at;         /* wall ms it lapses; 0 none */
	int64_t next_at;            /* wall ms of the next REGISTER; 0 none */
	int last_code;              /* status of the last answer, 0 none */
	char why[96];
	unsigned failures;          /* in a row */
	uint64_t sent, registered, alarms;
	struct sockaddr_storage dst; /* the registrar (a target) */
	socklen_t dstlen;
	enum sip_transport tp;      /* its transport */
};

struct rbinding {
	char uri[256];
	struct sockaddr_storage src;
	socklen_t src_len;
	int64_t expires_ms;         /* monotonic */
	int64_t updated_ms;
	char call_id[128];
	uint32_t cseq;
};

struct rtrunk {
	char trunk[32];
	struct rbinding b[REG_BINDINGS];
	unsigned n;
};

struct gw_regs {
	struct oreg *o[GW_MAX_TRUNKS];
	struct rtrunk *r[GW_MAX_TRUNKS];
	unsigned unreg_pending;
};

static struct gw_regs *regs(struct gw *gw)
{
	if (!gw->regs)
		gw->regs = calloc(1, sizeof(*gw->regs));
	return gw->regs;
}

/* Where a trunk's REGISTERs go: its peer, or for a named peer the first
 * live target of the list INVITE and OPTIONS use (RFC 3263: a target
 * OPTIONS marks down is left out); a name that did not resolve is a
 * failure that may pass, retried with back-off like a timeout. */
static int reg_target(struct gw *gw, const struct gw_trunk_cfg *t,
		      struct sockaddr_storage *ss, socklen_t *len,
		      enum sip_transport *tp)
{
	struct gw_dest d;
	int err;

	if (t->peer_len) {
		memcpy(ss, &t->peer, t->peer_len);
		*len = t->peer_len;
		*tp = (enum sip_transport)t->transport;
		return 0;
	}
	if (!*t->host)
		return ENOENT;
	err = gw_trunk_target_first(gw, t->name, &d);
	if (err == ENOENT && !gw_trunk_dns_error(gw, t->name))
		return EINPROGRESS; /* the first lookup is still out */
	if (err)
		return err;
	memcpy(ss, &d.sa, d.len);
	*len = d.len;
	*tp = d.transport;
	return 0;
}

/* RFC 3261 8.1.2: behind an outbound proxy the REGISTER goes there (with
 * a Route to it, over the trunk's transport), its Request-URI still the
 * registrar's; else to the registrar over its own transport.  @return
 * as gw_trunk_transport. */
static int reg_hop(struct oreg *o, const struct gw_trunk_cfg *t,
		   struct sip_reg_params *p)
{
	if (t->proxy_len) {
		p->proxy = (const struct sockaddr *)&t->proxy;
		p->proxy_len = t->proxy_len;
		return gw_trunk_transport(o->gw, t, p->proxy, p->proxy_len,
					  (enum sip_transport)t->transport);
	}
	return gw_trunk_transport(o->gw, t, (struct sockaddr *)&o->dst,
				  o->dstlen, o->tp);
}

static const char *reg_user(const struct gw_trunk_cfg *t)
{
	return *t->reg_user ? t->reg_user : t->auth_user;
}

const char *gw_reg_contact_user(const struct gw_trunk_cfg *t)
{
	return *t->reg_contact ? t->reg_contact : reg_user(t);
}

static void make_key(char *key, size_t size, const struct gw_trunk_cfg *t)
{
	snprintf(key, size, "%s|%s|%s|%s|%s|%s|%s|%u", t->peer_str,
		 reg_user(t), t->reg_domain, t->reg_contact, t->auth_user,
		 t->auth_password, t->auth_realm, t->reg_expires);
}

static const char *state_word(enum oreg_state st)
{
	switch (st) {
	case OR_IDLE:
		return "idle";
	case OR_REGISTERING:
		return "registering";
	case OR_REGISTERED:
		return "registered";
	case OR_RETRY:
		return "retrying";
	case OR_REJECTED:
		return "rejected";
	}
	return "?";
}

static void arm(struct oreg *o, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	o->next_at = tg_time_ms() + ms;
	evtimer_add(o->ev, &tv);
}

static void send_register(struct oreg *o);

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_register(arg);
}

/* Back-off after failure number @p n: min * 2^(n-1), at most max, less
 * up to a quarter at random so that gateways restarted together do not
 * retry together. */
static unsigned backoff_ms(const struct gw_trunk_cfg *t, unsigned n)
{
	uint64_t ms = (uint64_t)t->reg_retry_min * 1000;
	uint32_t r = 0;

	for (unsigned i = 1; i < n && ms < (uint64_t)t->reg_retry_max * 1000;
	     i++)
		ms *= 2;
	if (ms > (uint64_t)t->reg_retry_max * 1000)
		ms = (uint64_t)t->reg_retry_max * 1000;
	tg_random(&r, sizeof(r));
	return (unsigned)(ms - (ms / 4) * (r % 1001) / 1000);
}

/* Refresh a margin before the binding lapses (RFC 3261 10.2.4). */
static unsigned refresh_ms(unsigned granted)
{
	/* A grant above a week is refreshed after a week (the timer). */
	uint64_t g = (uint64_t)(granted < 604800 ? granted : 604800) * 1000,
		 margin = g / 4;

	if (margin > 60000)
		margin = 60000;
	if (margin < 500)
		margin = g / 2;
	return (unsigned)(g - margin);
}

static void raise_alarm(struct oreg *o, const char *what)
{
	o->st = OR_REJECTED;
	o->alarms++;
	o->next_at = 0;
	snprintf(o->why, sizeof(o->why), "%s", what);
	gw_warn("ALARM trunk %s: registration %s; not retrying until the "
		"trunk's settings change (reload) or `tollgatectl trunk "
		"register %s`", o->trunk, what, o->trunk);
}

static void on_result(const struct sip_reg_result *r, void *arg)
{
	struct oreg *o = arg;
	const struct gw_trunk_cfg *t = gw_config_trunk(&o->gw->cfg, o->trunk);
	unsigned ms;

	o->tx = NULL;
	o->cseq = r->cseq;
	o->last_code = r->status;
	if (!t)
		return;
	if (r->status >= 200 && r->status < 300 && r->expires) {
		if (o->st != OR_REGISTERED || r->expires != o->granted)
			gw_notice("trunk %s: registered at %s for %u s",
				  o->trunk, t->peer_str, r->expires);
		o->st = OR_REGISTERED;
		o->failures = 0;
		o->registered++;
		o->granted = r->expires;
		o->expires_at = tg_time_ms() + (int64_t)r->expires * 1000;
		snprintf(o->why, sizeof(o->why), "%d, %u s granted", r->status,
			 r->expires);
		arm(o, refresh_ms(r->expires));
		return;
	}
	if (r->status == 423 && r->min_expires > o->ask) {
		/* RFC 3261 10.2.8: again at once with Min-Expires. */
		gw_notice("trunk %s: 423, registering again for %u s (Min-"
			  "Expires)", o->trunk, r->min_expires);
		o->ask = r->min_expires;
		arm(o, 0);
		return;
	}
	if (r->auth_refused || r->status == 403) {
		char w[64];

		snprintf(w, sizeof(w), "credentials rejected (%d)", r->status);
		raise_alarm(o, w);
		return;
	}
	if (r->status == 603) {
		raise_alarm(o, "declined (603)");
		return;
	}
	o->failures++;
	/* A day at most, whatever a registrar says. */
	if (r->retry_after)
		ms = (r->retry_after < 86400 ? r->retry_after : 86400) * 1000;
	else
		ms = backoff_ms(t, o->failures);
	if (r->status)
		snprintf(o->why, sizeof(o->why), "%d, retry in %u.%u s%s",
			 r->status, ms / 1000, ms % 1000 / 100,
			 r->retry_after ? " (Retry-After)" : "");
	else
		snprintf(o->why, sizeof(o->why), "no answer, retry in %u.%u s",
			 ms / 1000, ms % 1000 / 100);
	gw_notice("trunk %s: registration failed: %s", o->trunk, o->why);
	/* A binding still in force stays so until it lapses. */
	if (o->st != OR_REGISTERED || tg_time_ms() >= o->expires_at)
		o->st = OR_RETRY;
	arm(o, ms);
}

static void send_register(struct oreg *o)
{
	struct gw *gw = o->gw;
	const struct gw_trunk_cfg *t = gw_config_trunk(&gw->cfg, o->trunk);
	struct sip_reg_params p;
	int err;

	if (!t || !t->reg || o->tx || !gw->ua)
		return;
	o->next_at = 0;
	err = reg_target(gw, t, &o->dst, &o->dstlen, &o->tp);
	if (err == EINPROGRESS) {
		/* Not a failure: ask again when the name may have resolved. */
		arm(o, 500);
		return;
	}
	if (!err) {
		p = (struct sip_reg_params){
			.user = reg_user(t),
			/* A named peer is the registrar's domain (RFC
			 * 3261 10.2), not the address it resolved to. */
			.domain = *t->reg_domain ? t->reg_domain : t->host,
			.contact_user = t->reg_contact,
			.expires = o->ask,
			.call_id = o->call_id,
			.cseq = o->cseq,
			.auth_user = t->auth_user,
			.auth_password = t->auth_password,
			.auth_realm = t->auth_realm,
		};
		err = reg_hop(o, t, &p);
		if (!err)
			err = sip_register(&o->tx, gw->ua,
					   (struct sockaddr *)&o->dst,
					   o->dstlen, &p, REG_TIMEOUT_MS,
					   on_result, o);
	}
	if (err) {
		struct sip_reg_result r = {0};

		o->tx = NULL;
		gw_warn("trunk %s: cannot send REGISTER: %s", o->trunk,
			strerror(err));
		r.cseq = o->cseq;
		on_result(&r, o);
		return;
	}
	o->sent++;
	if (o->st != OR_REGISTERED)
		o->st = OR_REGISTERING;
}

static void oreg_reset(struct oreg *o, const struct gw_trunk_cfg *t)
{
	sip_register_cancel(o->tx);
	o->tx = NULL;
	evtimer_del(o->ev);
	make_key(o->key, sizeof(o->key), t);
	o->held = *t;
	tg_uuid(o->call_id);
	o->cseq = 0;
	o->ask = t->reg_expires;
	o->st = OR_IDLE;
	o->failures = 0;
	o->granted = 0;
	o->expires_at = 0;
	o->why[0] = '\0';
}

static void unreg_done(const struct sip_reg_result *r, void *arg)
{
	struct gw *gw = arg;

	(void)r;
	if (gw->regs && gw->regs->unreg_pending)
		gw->regs->unreg_pending--;
}

/* Expires: 0 for @p o's binding; the answer is only counted. */
static void unregister(struct oreg *o, const struct gw_trunk_cfg *t)
{
	struct gw *gw = o->gw;
	struct sip_regtx *tx;
	struct sip_reg_params p = {
		.user = reg_user(t),
		/* The binding's own domain, as the REGISTER had it. */
		.domain = *t->reg_domain ? t->reg_domain : t->host,
		.contact_user = t->reg_contact,
		.expires = 0,
		.call_id = o->call_id,
		/* Above what a REGISTER in flight (and its resend with
		 * credentials) uses. */
		.cseq = o->tx ? o->cseq + 2 : o->cseq,
		.auth_user = t->auth_user,
		.auth_password = t->auth_password,
		.auth_realm = t->auth_realm,
	};

	if (o->st != OR_REGISTERED || !gw->ua || !o->dstlen ||
	    reg_hop(o, t, &p))
		return;
	if (!sip_register(&tx, gw->ua, (struct sockaddr *)&o->dst, o->dstlen,
			  &p, UNREG_WAIT_MS, unreg_done, gw)) {
		regs(gw)->unreg_pending++;
		gw_info("trunk %s: unregistering", o->trunk);
	}
}

static void oreg_free(struct oreg *o)
{
	sip_register_cancel(o->tx);
	event_free(o->ev);
	free(o);
}

void gw_reg_sync(struct gw *gw)
{
	struct gw_regs *rg = regs(gw);

	if (!rg)
		return;
	for (unsigned i = 0; i < GW_MAX_TRUNKS; i++) {
		struct oreg *o = rg->o[i];
		const struct gw_trunk_cfg *t;

		if (o) {
			t = gw_config_trunk(&gw->cfg, o->trunk);
			if (!t || !t->reg) {
				/* What we registered with is in o->held. */
				unregister(o, &o->held);
				rg->o[i] = NULL;
				oreg_free(o);
			}
		}
		if (rg->r[i] && !((t = gw_config_trunk(&gw->cfg,
							rg->r[i]->trunk)) &&
				  t->registrar)) {
			free(rg->r[i]);
			rg->r[i] = NULL;
		}
	}
	if (!gw->ua)
		return;
	for (unsigned i = 0; i < gw->cfg.ntrunks; i++) {
		const struct gw_trunk_cfg *t = &gw->cfg.trunks[i];
		struct oreg *o = NULL;
		char key[sizeof(o->key)];
		int free_slot = -1;

		if (!t->reg)
			continue;
		for (unsigned j = 0; j < GW_MAX_TRUNKS; j++) {
			if (rg->o[j] && !strcmp(rg->o[j]->trunk, t->name))
				o = rg->o[j];
			else if (!rg->o[j] && free_slot < 0)
				free_slot = (int)j;
		}
		make_key(key, sizeof(key), t);
		if (o && !strcmp(o->key, key))
			continue;
		if (!o) {
			if (free_slot < 0)
				continue;
			o = calloc(1, sizeof(*o));
			if (!o)
				continue;
			o->gw = gw;
			tg_strlcpy(o->trunk, t->name, sizeof(o->trunk));
			o->ev = evtimer_new(gw->base, on_timer, o);
			if (!o->ev) {
				free(o);
				continue;
			}
			rg->o[free_slot] = o;
		} else {
			gw_notice("trunk %s: registration settings changed; "
				  "registering again", t->name);
			unregister(o, &o->held);
		}
		oreg_reset(o, t);
		arm(o, 0);
	}
}

/* Only wakes the loop at the deadline. */
static void wake(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
}

void gw_reg_unregister_all(struct gw *gw)
{
	struct gw_regs *rg = gw->regs;
	struct timeval tv = {UNREG_WAIT_MS / 1000,
			     (UNREG_WAIT_MS % 1000) * 1000};
	int64_t end;

	if (!rg || !gw->ua)
		return;
	for (unsigned i = 0; i < GW_MAX_TRUNKS; i++) {
		struct oreg *o = rg->o[i];

		if (!o)
			continue;
		sip_register_cancel(o->tx);
		evtimer_del(o->ev);
		unregister(o, &o->held);
		o->tx = NULL;
	}
	if (!rg->unreg_pending)
		return;
	/* Bounded: a registrar that does not answer keeps no one waiting
	 * (the binding lapses on its own).  The loop's other events run as
	 * usual meanwhile; new calls are refused, we are stopping. */
	end = tg_mono_ms() + UNREG_WAIT_MS;
	event_base_once(gw->base, -1, EV_TIMEOUT, wake, NULL, &tv);
	while (rg->unreg_pending && tg_mono_ms() < end)
		event_base_loop(gw->base, EVLOOP_ONCE);
	if (rg->unreg_pending)
		gw_notice("%u un-REGISTERs unanswered at shut-down",
			  rg->unreg_pending);
}

void gw_reg_free(struct gw *gw)
{
	struct gw_regs *rg = gw->regs;

	if (!rg)
		return;
	for (unsigned i = 0; i < GW_MAX_TRUNKS; i++) {
		if (rg->o[i])
			oreg_free(rg->o[i]);
		free(rg->r[i]);
	}
	free(rg);
	gw->regs = NULL;
}

static struct oreg *oreg_of(struct gw *gw, const char *name)
{
	struct gw_regs *rg = gw->regs;

	for (unsigned i = 0; rg && i < GW_MAX_TRUNKS; i++)
		if (rg->o[i] && !strcmp(rg->o[i]->trunk, name))
			return rg->o[i];
	return NULL;
}

int gw_reg_retry(struct gw *gw, const char *name)
{
	struct oreg *o = oreg_of(gw, name);

	if (!o)
		return ENOENT;
	sip_register_cancel(o->tx);
	o->tx = NULL;
	evtimer_del(o->ev);
	o->failures = 0;
	if (o->st == OR_REJECTED)
		o->st = OR_IDLE;
	gw_notice("trunk %s: registering now (by hand)", name);
	send_register(o);
	return 0;
}

/* ---- registrar -------------------------------------------------------- */

static struct rtrunk *rtrunk_of(struct gw *gw, const char *name, bool make)
{
	struct gw_regs *rg = regs(gw);
	int free_slot = -1;

	if (!rg)
		return NULL;
	for (unsigned i = 0; i < GW_MAX_TRUNKS; i++) {
		if (rg->r[i] && !strcmp(rg->r[i]->trunk, name))
			return rg->r[i];
		if (!rg->r[i] && free_slot < 0)
			free_slot = (int)i;
	}
	if (!make || free_slot < 0)
		return NULL;
	rg->r[free_slot] = calloc(1, sizeof(struct rtrunk));
	if (rg->r[free_slot])
		tg_strlcpy(rg->r[free_slot]->trunk, name,
			   sizeof(rg->r[free_slot]->trunk));
	return rg->r[free_slot];
}

static void expire(struct rtrunk *rt, int64_t now)
{
	for (unsigned i = 0; i < rt->n;) {
		if (rt->b[i].expires_ms <= now) {
			gw_info("trunk %s: binding %s expired", rt->trunk,
				rt->b[i].uri);
			rt->b[i] = rt->b[--rt->n];
		} else {
			i++;
		}
	}
}

static struct rbinding *find_binding(struct rtrunk *rt, const char *uri)
{
	for (unsigned i = 0; i < rt->n; i++)
		if (!strcmp(rt->b[i].uri, uri))
			return &rt->b[i];
	return NULL;
}

static const struct gw_trunk_cfg *registrar_of(struct gw *gw,
					       const char *user)
{
	for (unsigned i = 0; i < gw->cfg.ntrunks; i++) {
		const struct gw_trunk_cfg *t = &gw->cfg.trunks[i];

		if (t->registrar && *user && !strcmp(t->inbound_user, user))
			return t;
	}
	return NULL;
}

static bool any_registrar(const struct gw *gw)
{
	for (unsigned i = 0; i < gw->cfg.ntrunks; i++)
		if (gw->cfg.trunks[i].registrar)
			return true;
	return false;
}

static void addr_str(const struct sockaddr *sa, char *buf, size_t size)
{
	char a[INET6_ADDRSTRLEN] = "?";

	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)sa;

		inet_ntop(AF_INET6, &s6->sin6_addr, a, sizeof(a));
		snprintf(buf, size, "[%s]:%u", a, ntohs(s6->sin6_port));
	} else {
		const struct sockaddr_in *s4 = (const void *)sa;

		inet_ntop(AF_INET, &s4->sin_addr, a, sizeof(a));
		snprintf(buf, size, "%s:%u", a, ntohs(s4->sin_port));
	}
}

/* RFC 3261 10.3 steps 6-8, for the trunk the REGISTER authenticated as. */
void gw_reg_on_register(const struct sip_register_req *rq,
			struct sip_register_reply *rp, void *arg)
{
	struct gw *gw = arg;
	const struct gw_trunk_cfg *t = registrar_of(gw, rq->auth_user);
	int64_t now = tg_mono_ms();
	struct rtrunk *rt;
	char src[80];

	addr_str(rq->src, src, sizeof(src));
	if (!t && !any_registrar(gw)) {
		rp->status = 405; /* as before there were registrars */
		return;
	}
	if (!t) {
		gw_notice("REGISTER from %s refused: %s", src,
			  *rq->auth_user ? "its user is no registrar trunk's"
					 : "not authenticated");
		rp->status = 403;
		return;
	}
	rt = rtrunk_of(gw, t->name, true);
	if (!rt)
		return; /* 500 */
	expire(rt, now);
	/* Refuse the whole request before changing anything. */
	for (unsigned i = 0; i < rq->ncontacts; i++) {
		const struct sip_binding *c = &rq->contacts[i];
		const struct rbinding *b = find_binding(rt, c->uri);

		if (c->expires > 0 && (unsigned)c->expires < t->registrar_min) {
			rp->status = 423;
			rp->min_expires = t->registrar_min;
			return;
		}
		/* A copy older than what we hold (10.3 step 7). */
		if (b && !strcmp(b->call_id, rq->call_id) &&
		    rq->cseq <= b->cseq)
			return; /* 500 */
	}
	if (rq->wildcard) {
		if (rt->n)
			gw_notice("trunk %s: every binding removed by %s",
				  t->name, src);
		rt->n = 0;
	}
	for (unsigned i = 0; i < rq->ncontacts; i++) {
		const struct sip_binding *c = &rq->contacts[i];
		struct rbinding *b = find_binding(rt, c->uri);
		unsigned e = c->expires < 0 ? 3600 : (unsigned)c->expires;

		if (e > t->registrar_max)
			e = t->registrar_max;
		if (!e) {
			if (b) {
				gw_notice("trunk %s: %s unregistered from %s",
					  t->name, c->uri, src);
				*b = rt->b[--rt->n];
			}
			continue;
		}
		if (!b && rt->n == REG_BINDINGS) {
			rp->status = 403;
			return;
		}
		if (!b) {
			b = &rt->b[rt->n++];
			memset(b, 0, sizeof(*b));
			tg_strlcpy(b->uri, c->uri, sizeof(b->uri));
			gw_notice("trunk %s: %s registered from %s for %u s",
				  t->name, c->uri, src, e);
		}
		memcpy(&b->src, rq->src, rq->src_len);
		b->src_len = rq->src_len;
		b->expires_ms = now + (int64_t)e * 1000;
		b->updated_ms = now;
		tg_strlcpy(b->call_id, rq->call_id, sizeof(b->call_id));
		b->cseq = rq->cseq;
	}
	rp->status = 200;
	for (unsigned i = 0; i < rt->n && i < SIP_REG_MAX_BINDINGS; i++) {
		tg_strlcpy(rp->bindings[i].uri, rt->b[i].uri,
			   sizeof(rp->bindings[i].uri));
		rp->bindings[i].expires =
			(int)((rt->b[i].expires_ms - now + 999) / 1000);
		rp->nbindings++;
	}
}

int gw_reg_contact(struct gw *gw, const char *trunk,
		   struct sockaddr_storage *ss, socklen_t *len)
{
	struct rtrunk *rt = rtrunk_of(gw, trunk, false);
	const struct rbinding *best = NULL;

	if (!rt)
		return ENXIO;
	expire(rt, tg_mono_ms());
	for (unsigned i = 0; i < rt->n; i++)
		if (!best || rt->b[i].updated_ms > best->updated_ms)
			best = &rt->b[i];
	if (!best)
		return ENXIO;
	memcpy(ss, &best->src, best->src_len);
	*len = best->src_len;
	return 0;
}

void gw_reg_counts(struct gw *gw, unsigned *n, unsigned *up,
		   unsigned *rejected)
{
	*n = *up = *rejected = 0;
	for (unsigned i = 0; gw->regs && i < GW_MAX_TRUNKS; i++) {
		const struct oreg *o = gw->regs->o[i];

		if (!o)
			continue;
		(*n)++;
		*up += o->st == OR_REGISTERED;
		*rejected += o->st == OR_REJECTED;
	}
}

/* ---- show registrations ----------------------------------------------- */

static int64_t secs_left(int64_t at, int64_t now)
{
	return at > now ? (at - now + 999) / 1000 : 0;
}

void gw_reg_show(struct gw *gw, struct evbuffer *out, bool json)
{
	struct gw_regs *rg = gw->regs;
	int64_t now = tg_time_ms(), mono = tg_mono_ms();
	bool first = true;

	if (json)
		evbuffer_add_printf(out, "{\"outbound\":[");
	else
		evbuffer_add_printf(out, "%-12s %-11s %-22s %7s %4s %5s %s\n",
				    "TRUNK", "STATE", "REGISTRAR", "EXPIRES",
				    "CODE", "SENT", "WHY");
	for (unsigned i = 0; rg && i < GW_MAX_TRUNKS; i++) {
		const struct oreg *o = rg->o[i];
		char dst[80] = "";
		int64_t exp;

		if (!o)
			continue;
		if (o->dstlen)
			addr_str((const struct sockaddr *)&o->dst, dst,
				 sizeof(dst));
		exp = o->st == OR_REGISTERED ? secs_left(o->expires_at, now)
					     : 0;
		if (!json) {
			evbuffer_add_printf(out, "%-12s %-11s %-22s %6llds "
					    "%4d %5llu %s\n", o->trunk,
					    state_word(o->st), dst,
					    (long long)exp, o->last_code,
					    (unsigned long long)o->sent,
					    o->why);
			continue;
		}
		evbuffer_add_printf(out, "%s{\"trunk\":", first ? "" : ",");
		first = false;
		gw_json_str(out, o->trunk);
		evbuffer_add_printf(out, ",\"state\":\"%s\",\"registrar\":",
				    state_word(o->st));
		gw_json_str(out, dst);
		evbuffer_add_printf(out, ",\"expires_in\":%lld,\"granted\":%u,"
				    "\"last_code\":%d,\"next_in\":%lld,"
				    "\"failures\":%u,\"sent\":%llu,"
				    "\"registered\":%llu,\"alarms\":%llu,"
				    "\"why\":",
				    (long long)exp, o->granted, o->last_code,
				    (long long)(o->next_at
						? secs_left(o->next_at, now)
						: -1),
				    o->failures, (unsigned long long)o->sent,
				    (unsigned long long)o->registered,
				    (unsigned long long)o->alarms);
		gw_json_str(out, o->why);
		evbuffer_add(out, "}", 1);
	}
	if (json)
		evbuffer_add_printf(out, "],\"bindings\":[");
	else
		evbuffer_add_printf(out, "\n%-12s %-40s %-22s %7s\n", "TRUNK",
				    "CONTACT", "SOURCE", "EXPIRES");
	first = true;
	for (unsigned i = 0; rg && i < GW_MAX_TRUNKS; i++) {
		struct rtrunk *rt = rg->r[i];

		if (!rt)
			continue;
		expire(rt, mono);
		for (unsigned j = 0; j < rt->n; j++) {
			const struct rbinding *b = &rt->b[j];
			char src[80];

			addr_str((const struct sockaddr *)&b->src, src,
				 sizeof(src));
			if (!json) {
				evbuffer_add_printf(out, "%-12s %-40s %-22s "
						    "%6llds\n", rt->trunk,
						    b->uri, src,
						    (long long)secs_left(
							    b->expires_ms,
							    mono));
				continue;
			}
			evbuffer_add_printf(out, "%s{\"trunk\":",
					    first ? "" : ",");
			first = false;
			gw_json_str(out, rt->trunk);
			evbuffer_add_printf(out, ",\"contact\":");
			gw_json_str(out, b->uri);
			evbuffer_add_printf(out, ",\"source\":");
			gw_json_str(out, src);
			evbuffer_add_printf(out, ",\"expires_in\":%lld}",
					    (long long)secs_left(b->expires_ms,
								 mono));
		}
	}
	if (json)
		evbuffer_add_printf(out, "]}\n");
}
