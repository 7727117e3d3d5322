/* gateway/targets.c  Where a SIP trunk's requests go: its peer, or what
 * its name locates to (RFC 3263)
 *
 * A trunk whose peer is an address has one target, that address.  A trunk
 * whose peer is a name has the targets sip_locate() finds (NAPTR, SRV,
 * A/AAAA), each with the transport NAPTR/SRV chose for it among those
 * the trunk may use (its `transport` when given, else every one we
 * serve), looked up again when their TTL runs out (clamped to [dns]
 * ttl_min..ttl_max) on the loop, never blocking it.  A lookup that fails
 * keeps the list it had: a DNS server down for a minute must not take a
 * working trunk with it.  A trunk that never resolved has no target: its
 * calls fail over (as a 503, RFC 3261 8.1.3.1 says a transport failure
 * reads) and the next one asks DNS again.
 *
 * Targets that survive a refresh keep their OPTIONS health (health.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define LOG_MODULE "dns"
#include "gateway/gw.h"
#include "util/util.h"

int gw_trunk_transport(struct gw *gw, const struct gw_trunk_cfg *t,
		       const struct sockaddr *sa, socklen_t len,
		       enum sip_transport tp)
{
	/* The outbound proxy's certificate names the proxy: its address,
	 * unless tls_server_name says. */
	bool proxy = t->proxy_len && len == t->proxy_len &&
		     !memcmp(sa, &t->proxy, len);
	const char *name = *t->tls_name ? t->tls_name
			   : proxy ? NULL : t->host;
	int err = sip_ua_set_transport(gw->ua, sa, len, tp, name);

	if (err)
		gw_warn("trunk %s: transport %s: %s", t->name,
			sip_transport_name(tp), strerror(err));
	return err;
}

/* The transports a trunk's name may be located for: the one it gives,
 * else those we serve (RFC 3263 4.1: NAPTR and SRV choose among them). */
static unsigned trunk_tps(const struct gw_config *cfg,
			  const struct gw_trunk_cfg *t)
{
	unsigned tps = SIP_TP_BIT(SIP_TRANSPORT_UDP);

	if (t->transport_set)
		return SIP_TP_BIT(t->transport);
	if (cfg->sip_tcp)
		tps |= SIP_TP_BIT(SIP_TRANSPORT_TCP);
	if (cfg->sip_tls)
		tps |= SIP_TP_BIT(SIP_TRANSPORT_TLS);
	return tps;
}

/* A trunk without targets asks DNS again at most this often. */
#define RETRY_ON_DEMAND_MS 1000
/* A failed lookup is retried after ttl_min, but no later than this. */
#define RETRY_MAX_S 10

static uint32_t rnd32(void *arg)
{
	uint32_t x;

	(void)arg;
	if (tg_random(&x, sizeof(x)))
		x = (uint32_t)random();
	return x;
}

static bool same_addr(const struct sockaddr *a, const struct sockaddr *b,
		      bool port)
{
	if (a->sa_family != b->sa_family)
		return false;
	if (a->sa_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a,
					 *y = (const void *)b;

		return x->sin_addr.s_addr == y->sin_addr.s_addr &&
		       (!port || x->sin_port == y->sin_port);
	}
	if (a->sa_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a,
					  *y = (const void *)b;

		return !memcmp(&x->sin6_addr, &y->sin6_addr,
			       sizeof(x->sin6_addr)) &&
		       (!port || x->sin6_port == y->sin6_port);
	}
	return false;
}

/* A named trunk's target says where DNS sent it: "host:port address",
 * and ";transport=tcp|tls" like a SIP URI when it is no UDP one. */
static void set_label(struct gw_target *tg, bool named)
{
	char ap[64], tp[16] = "";

	tg_sockaddr_fmt((const struct sockaddr *)&tg->at.sa, ap, sizeof(ap));
	if (tg->at.transport != SIP_TRANSPORT_UDP)
		snprintf(tp, sizeof(tp), ";transport=%s",
			 sip_transport_name(tg->at.transport));
	if (named)
		snprintf(tg->label, sizeof(tg->label), "%.44s:%u %.30s%s",
			 tg->at.host, (unsigned)tg->at.port, ap, tp);
	else
		snprintf(tg->label, sizeof(tg->label), "%s", ap);
}

static struct gw_target *target_new(struct gw_tlist *tl,
				    const struct sip_target *at)
{
	struct gw_target *tg = calloc(1, sizeof(*tg));

	if (!tg)
		return NULL;
	tg->tl = tl;
	tg->at = *at;
	set_label(tg, *tl->host != '\0');
	return tg;
}

static void target_free(struct gw_target *tg)
{
	gw_target_probe_stop(tg);
	free(tg);
}

static void tl_free(struct gw_tlist *tl)
{
	if (!tl)
		return;
	sip_locate_cancel(tl->loc);
	if (tl->ev_refresh)
		event_free(tl->ev_refresh);
	for (unsigned i = 0; i < tl->n; i++)
		target_free(tl->t[i]);
	free(tl);
}

/* The new list from a lookup: targets at an address we had keep their
 * object (and health); the others go. */
static void tl_replace(struct gw_tlist *tl, const struct sip_target *at,
		       size_t n)
{
	struct gw_target *nt[GW_MAX_TARGETS];
	unsigned nn = 0;

	for (size_t i = 0; i < n && nn < GW_MAX_TARGETS; i++) {
		struct gw_target *tg = NULL;

		for (unsigned k = 0; k < tl->n && !tg; k++)
			if (tl->t[k] &&
			    same_addr((const struct sockaddr *)&tl->t[k]->at.sa,
				      (const struct sockaddr *)&at[i].sa,
				      true)) {
				tg = tl->t[k];
				tl->t[k] = NULL;
				tg->at = at[i];
				set_label(tg, true);
			}
		if (!tg)
			tg = target_new(tl, &at[i]);
		if (tg)
			nt[nn++] = tg;
	}
	for (unsigned k = 0; k < tl->n; k++)
		if (tl->t[k])
			target_free(tl->t[k]);
	memcpy(tl->t, nt, nn * sizeof(nt[0]));
	tl->n = nn;
}

static void arm_refresh(struct gw_tlist *tl, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	tl->expires_ms = tg_mono_ms() + ms;
	evtimer_add(tl->ev_refresh, &tv);
}

static void start_lookup(struct gw_tlist *tl);

static void on_located(int err, const struct sip_target *at, size_t n,
		       uint32_t ttl, enum sip_locate_how how, void *arg)
{
	struct gw_tlist *tl = arg;
	const struct gw_config *cfg = &tl->gw->cfg;
	unsigned retry;

	tl->loc = NULL;
	tl->lookups++;
	/* A partial answer beats nothing, never a list we have. */
	if (err && n && !tl->n && err != ECANCELED) {
		gw_warn("trunk %s: %s located in part (%s): %zu target%s",
			tl->ts->name, tl->host, sip_dns_strerror(err), n,
			n == 1 ? "" : "s");
		tl->how = how;
		tl_replace(tl, at, n);
		gw_health_list(tl);
	}
	if (err) {
		tl->lookup_fails++;
		if (err != tl->last_err)
			gw_warn("trunk %s: %s did not resolve: %s%s",
				tl->ts->name, tl->host, sip_dns_strerror(err),
				tl->n ? "; its targets stay as they were" : "");
		tl->last_err = err;
		/* The resolver being replaced (a reload) cancels us: the
		 * new one gets asked at once. */
		retry = err == ECANCELED
				? 100
				: 1000 * (cfg->dns_ttl_min < RETRY_MAX_S
						  ? cfg->dns_ttl_min
						  : RETRY_MAX_S);
		arm_refresh(tl, retry);
		return;
	}
	if (ttl < cfg->dns_ttl_min)
		ttl = cfg->dns_ttl_min;
	if (ttl > cfg->dns_ttl_max)
		ttl = cfg->dns_ttl_max;
	if (tl->last_err || !tl->resolved_ms || tl->n != n || tl->how != how)
		gw_notice("trunk %s: %s located (%s): %zu target%s, for %u s",
			  tl->ts->name, tl->host, sip_locate_how_name(how), n,
			  n == 1 ? "" : "s", (unsigned)ttl);
	tl->last_err = 0;
	tl->how = how;
	tl->ttl = ttl;
	tl->resolved_ms = tg_time_ms();
	tl_replace(tl, at, n);
	gw_health_list(tl);
	arm_refresh(tl, ttl * 1000);
}

static void start_lookup(struct gw_tlist *tl)
{
	if (tl->loc)
		return;
	evtimer_del(tl->ev_refresh);
	tl->expires_ms = 0;
	tl->asked_ms = tg_mono_ms();
	tl->loc = sip_locate(tl->gw->dns, tl->host, tl->port, tl->tps,
			     on_located, tl);
}

static void on_refresh(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	start_lookup(arg);
}

static bool tl_matches(const struct gw_tlist *tl, const struct gw_trunk_cfg *t)
{
	/* A transport that changes (or [sip] tcp, tls for a trunk that
	 * lets DNS choose) changes what the name locates to. */
	if (*t->host)
		return !strcmp(tl->host, t->host) && tl->port == t->host_port &&
		       tl->tps == trunk_tps(&tl->gw->cfg, t);
	return !*tl->host && tl->peer_len == t->peer_len &&
	       !memcmp(&tl->peer, &t->peer, t->peer_len);
}

static struct gw_tlist *tl_new(struct gw *gw, struct gw_tstat *ts,
			       const struct gw_trunk_cfg *t)
{
	struct gw_tlist *tl = calloc(1, sizeof(*tl));

	if (!tl)
		return NULL;
	tl->gw = gw;
	tl->ts = ts;
	tl->ev_refresh = evtimer_new(gw->base, on_refresh, tl);
	if (!tl->ev_refresh) {
		free(tl);
		return NULL;
	}
	if (*t->host) {
		tg_strlcpy(tl->host, t->host, sizeof(tl->host));
		tl->port = t->host_port;
		tl->tps = trunk_tps(&gw->cfg, t);
		return tl;
	}
	memcpy(&tl->peer, &t->peer, t->peer_len);
	tl->peer_len = t->peer_len;
	tl->t[0] = calloc(1, sizeof(*tl->t[0]));
	if (!tl->t[0]) {
		tl_free(tl);
		return NULL;
	}
	tl->t[0]->tl = tl;
	memcpy(&tl->t[0]->at.sa, &t->peer, t->peer_len);
	tl->t[0]->at.len = t->peer_len;
	tl->t[0]->at.transport = (enum sip_transport)t->transport;
	set_label(tl->t[0], false);
	tl->n = 1;
	return tl;
}

void gw_targets_sync(struct gw *gw)
{
	for (unsigned i = 0; i < GW_MAX_TRUNKS; i++) {
		struct gw_tstat *ts = &gw->tstat[i];
		const struct gw_trunk_cfg *t;

		if (!ts->tl)
			continue;
		t = gw_config_trunk(&gw->cfg, ts->name);
		/* A new peer owes nothing to the old one's targets. */
		if (!t || t->kind != GW_TRUNK_SIP || !tl_matches(ts->tl, t)) {
			tl_free(ts->tl);
			ts->tl = NULL;
		} else if (!*ts->tl->host) {
			/* An address keeps its health across a reload that
			 * changes only how it is spoken to. */
			ts->tl->t[0]->at.transport =
				(enum sip_transport)t->transport;
		}
	}
	for (unsigned i = 0; i < gw->cfg.ntrunks; i++) {
		const struct gw_trunk_cfg *t = &gw->cfg.trunks[i];
		struct gw_tstat *ts;

		if (t->kind != GW_TRUNK_SIP)
			continue;
		ts = gw_tstat(gw, t->name);
		if (!ts || ts->tl)
			continue;
		ts->tl = tl_new(gw, ts, t);
		if (ts->tl && *t->host)
			start_lookup(ts->tl);
	}
}

void gw_targets_stop(struct gw *gw)
{
	for (unsigned i = 0; i < GW_MAX_TRUNKS; i++) {
		tl_free(gw->tstat[i].tl);
		gw->tstat[i].tl = NULL;
		gw->tstat[i].health = GW_HEALTH_OFF;
	}
}

static struct gw_tlist *tl_of(struct gw *gw, const char *trunk)
{
	const struct gw_trunk_cfg *t = gw_config_trunk(&gw->cfg, trunk);
	struct gw_tstat *ts;

	if (!t || t->kind != GW_TRUNK_SIP)
		return NULL;
	ts = gw_tstat(gw, trunk);
	return ts ? ts->tl : NULL;
}

/* Put the targets of @p tl whose health is (not, with @p down) down into
 * @p out in RFC 2782 order. */
static unsigned pick(const struct gw_tlist *tl, bool down,
		     struct sip_target *out)
{
	unsigned n = 0;

	for (unsigned i = 0; i < tl->n; i++)
		if ((tl->t[i]->health == GW_HEALTH_DOWN) == down)
			out[n++] = tl->t[i]->at;
	sip_srv_order(out, n, rnd32, NULL);
	return n;
}

unsigned gw_trunk_targets(struct gw *gw, const char *trunk, struct gw_dest *out,
			  unsigned max)
{
	struct gw_tlist *tl = tl_of(gw, trunk);
	struct sip_target at[GW_MAX_TARGETS];
	unsigned n, k = 0;

	if (!tl)
		return 0;
	/* No target yet: ask again now (for the next call; this one
	 * fails over), at most once a second. */
	if (!tl->n && *tl->host && !tl->loc &&
	    tg_mono_ms() - tl->asked_ms >= RETRY_ON_DEMAND_MS)
		start_lookup(tl);
	n = pick(tl, false, at);
	if (!n)
		n = pick(tl, true, at);
	for (unsigned i = 0; i < n && k < max; i++)
		for (unsigned j = 0; j < tl->n; j++) {
			const struct gw_target *tg = tl->t[j];

			if (!same_addr((const struct sockaddr *)&tg->at.sa,
				       (const struct sockaddr *)&at[i].sa,
				       true))
				continue;
			memcpy(&out[k].sa, &tg->at.sa, tg->at.len);
			out[k].len = tg->at.len;
			out[k].transport = tg->at.transport;
			tg_strlcpy(out[k].label, tg->label,
				   sizeof(out[k].label));
			k++;
			break;
		}
	return k;
}

int gw_trunk_target_first(struct gw *gw, const char *trunk, struct gw_dest *out)
{
	int err;

	if (gw_trunk_targets(gw, trunk, out, 1))
		return 0;
	err = gw_trunk_dns_error(gw, trunk);
	return err ? err : ENOENT;
}

int gw_trunk_dns_error(struct gw *gw, const char *trunk)
{
	struct gw_tlist *tl = tl_of(gw, trunk);

	return tl ? tl->last_err : 0;
}

void gw_trunk_target_result(struct gw *gw, const char *trunk,
			    const struct sockaddr *sa, bool failed)
{
	struct gw_tlist *tl = tl_of(gw, trunk);

	for (unsigned i = 0; tl && i < tl->n; i++)
		if (same_addr((const struct sockaddr *)&tl->t[i]->at.sa, sa,
			      true)) {
			tl->t[i]->tries++;
			if (failed)
				tl->t[i]->fails++;
			return;
		}
}

bool gw_targets_has(struct gw *gw, const struct gw_trunk_cfg *t,
		    const struct sockaddr *src)
{
	struct gw_tlist *tl;

	if (t->kind != GW_TRUNK_SIP || !*t->host || t->naccept)
		return false;
	tl = tl_of(gw, t->name);
	for (unsigned i = 0; tl && i < tl->n; i++)
		if (same_addr((const struct sockaddr *)&tl->t[i]->at.sa, src,
			      false))
			return true;
	return false;
}
