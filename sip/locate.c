/* sip/locate.c  RFC 3263 server location: NAPTR, SRV, A/AAAA, and the
 * transport each target is spoken to over
 *
 * A trunk named by a domain is found the way RFC 3263 4 says, for the
 * transports the caller may use (the trunk's one, or all we serve): the
 * best NAPTR record for one of them (SIP+D2U, SIP+D2T, SIPS+D2T) names
 * the SRV to ask and the transport; without one, SRV of each transport
 * in our preference, TLS, TCP, UDP, the first that has records; without
 * SRV records, the name's own addresses on 5060 (5061 for TLS).  A name
 * given with a port is looked up as a host.
 * Each SRV target is then resolved; every address becomes a target that
 * carries its SRV priority and weight, and the caller orders them with
 * sip_srv_order() for each request, so that weights share the load.
 *
 * The pure parts (NAPTR choice, SRV order) are exported for the tests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sip/sip.h"
#include "util/util.h"

struct sip_locate {
	struct sip_dns *dns;
	sip_locate_h *h; /* NULL once cancelled */
	void *arg;
	char host[SIP_HOST_MAX];
	unsigned pending; /* lookups under way, plus one while a step
			   * starts them */
	enum sip_locate_how how;
	unsigned tps;              /* SIP_TP_BIT of the transports we may use */
	unsigned tp_left;          /* SRV step: transports not asked yet */
	enum sip_transport tp;     /* of the SRV asked last */
	uint32_t ttl;
	int err;  /* the first failure of an address lookup */
	int hard; /* the first that was no "no such name" */
	struct sip_target t[SIP_MAX_TARGETS];
	size_t n;
	/* SRV step: one address lookup per record */
	struct sip_srv_host {
		struct sip_locate *l;
		char name[SIP_HOST_MAX];
		uint16_t port;
		unsigned priority, weight;
		enum sip_transport tp;
	} srv[SIP_MAX_TARGETS];
	size_t nsrv;
};

const char *sip_locate_how_name(enum sip_locate_how how)
{
	switch (how) {
	case SIP_LOCATE_A:
		return "a";
	case SIP_LOCATE_SRV:
		return "srv";
	case SIP_LOCATE_NAPTR:
		return "naptr";
	}
	return "?";
}

/* ---- pure: RFC 3263 4.1 NAPTR choice, RFC 2782 order --------------------- */

/* The transport of a NAPTR service (RFC 3263 4.1 and its IANA registry),
 * -1 for one we do not speak (SIPS+D2U, SIP+D2S...). */
static int naptr_transport(const char *service)
{
	if (!service)
		return -1;
	if (!strcasecmp(service, "SIP+D2U"))
		return SIP_TRANSPORT_UDP;
	if (!strcasecmp(service, "SIP+D2T"))
		return SIP_TRANSPORT_TCP;
	if (!strcasecmp(service, "SIPS+D2T"))
		return SIP_TRANSPORT_TLS;
	return -1;
}

int sip_naptr_pick(const struct sip_naptr *recs, size_t n,
		   unsigned transports, char *out, size_t size,
		   enum sip_transport *tp)
{
	const struct sip_naptr *best = NULL;
	int best_tp = -1;

	for (size_t i = 0; i < n; i++) {
		const struct sip_naptr *r = &recs[i];
		int rtp = naptr_transport(r->service);

		if (rtp < 0 || !(transports & SIP_TP_BIT(rtp)) ||
		    !r->flags || strcasecmp(r->flags, "s") || !r->replacement ||
		    !*r->replacement || !strcmp(r->replacement, ".") ||
		    strlen(r->replacement) >= size)
			continue;
		if (!best || r->order < best->order ||
		    (r->order == best->order &&
		     r->preference < best->preference)) {
			best = r;
			best_tp = rtp;
		}
	}
	if (!best)
		return ENOENT;
	tg_strlcpy(out, best->replacement, size);
	*tp = (enum sip_transport)best_tp;
	return 0;
}

static void swap_t(struct sip_target *a, struct sip_target *b)
{
	struct sip_target x = *a;

	*a = *b;
	*b = x;
}

/* Sort by priority only, keeping the order within one (insertion sort:
 * at most SIP_MAX_TARGETS entries). */
static void sort_priority(struct sip_target *t, size_t n)
{
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && t[k - 1].priority > t[k].priority;
		     k--)
			swap_t(&t[k - 1], &t[k]);
}

void sip_srv_order(struct sip_target *t, size_t n, uint32_t (*rnd)(void *arg),
		   void *arg)
{
	sort_priority(t, n);
	for (size_t lo = 0; lo < n;) {
		size_t hi = lo;

		while (hi < n && t[hi].priority == t[lo].priority)
			hi++;
		/* RFC 2782: zero-weight entries first, then draw a number
		 * in [0, sum] and take the first entry whose running sum
		 * reaches it; repeat with the ones left. */
		for (size_t i = lo, z = lo; i < hi; i++)
			if (!t[i].weight)
				swap_t(&t[z++], &t[i]);
		for (size_t i = lo; i + 1 < hi; i++) {
			uint64_t sum = 0, run = 0, pick;
			size_t k;

			for (k = i; k < hi; k++)
				sum += t[k].weight;
			pick = sum ? rnd(arg) % (sum + 1) : 0;
			for (k = i; k < hi; k++) {
				run += t[k].weight;
				if (run >= pick)
					break;
			}
			if (k == hi)
				k = hi - 1;
			/* Keep the rest in their order: zero weights stay
			 * at the front of what is left. */
			for (; k > i; k--)
				swap_t(&t[k - 1], &t[k]);
		}
		lo = hi;
	}
}

/* ---- the lookup ---------------------------------------------------------- */

static void start_next_srv(struct sip_locate *l);

/* A name without NAPTR and SRV (or given with a port): RFC 3263 4.1 says
 * UDP for a sip: URI; a trunk that may not use it takes TCP, then TLS. */
static enum sip_transport fallback_tp(unsigned tps)
{
	if (tps & SIP_TP_BIT(SIP_TRANSPORT_UDP))
		return SIP_TRANSPORT_UDP;
	if (tps & SIP_TP_BIT(SIP_TRANSPORT_TCP))
		return SIP_TRANSPORT_TCP;
	return SIP_TRANSPORT_TLS;
}

/* RFC 3261 19.1.2: 5061 for TLS, 5060 for the others. */
static uint16_t default_port(enum sip_transport tp)
{
	return tp == SIP_TRANSPORT_TLS ? 5061 : 5060;
}

static void finish(struct sip_locate *l)
{
	/* A host that does not exist is left out; one we could not ask
	 * about makes the list partial, and the caller decides. */
	int err = l->hard ? l->hard : l->n ? 0 : l->err ? l->err : ENOENT;

	if (l->h) {
		sort_priority(l->t, l->n);
		l->h(err, l->t, l->n, l->ttl, l->how, l->arg);
	}
	free(l);
}

/* One lookup of @p l is over. */
static void done_one(struct sip_locate *l)
{
	if (--l->pending == 0)
		finish(l);
}

static void ttl_min(struct sip_locate *l, uint32_t ttl)
{
	if (ttl && (!l->ttl || ttl < l->ttl))
		l->ttl = ttl;
}

static void add_addrs(struct sip_locate *l, const struct sip_dns_ip *ips,
		      size_t n, const char *host, uint16_t port,
		      unsigned priority, unsigned weight,
		      enum sip_transport tp)
{
	for (size_t i = 0; i < n && l->n < SIP_MAX_TARGETS; i++) {
		struct sip_target *t = NULL;

		/* Two SRV records may lead to one address: it is one
		 * target, ranked as the better record. */
		for (size_t k = 0; k < l->n && !t; k++)
			if (l->t[k].len == ips[i].len &&
			    !memcmp(&l->t[k].sa, &ips[i].sa, ips[i].len))
				t = &l->t[k];
		if (t && t->priority <= priority)
			continue;
		if (!t)
			t = &l->t[l->n++];
		memcpy(&t->sa, &ips[i].sa, ips[i].len);
		t->len = ips[i].len;
		tg_strlcpy(t->host, host, sizeof(t->host));
		t->port = port;
		t->priority = priority;
		t->weight = weight;
		t->transport = tp;
	}
}

static void on_host_addrs(int err, const struct sip_dns_ip *ips, size_t n,
			  uint32_t ttl, void *arg)
{
	struct sip_srv_host *sh = arg;
	struct sip_locate *l = sh->l;

	if (err) {
		if (!l->err)
			l->err = err;
		if (err != ENOENT && !l->hard)
			l->hard = err;
	} else {
		ttl_min(l, ttl);
		add_addrs(l, ips, n, sh->name, sh->port, sh->priority,
			  sh->weight, sh->tp);
	}
	done_one(l);
}

/* Resolve one host (an SRV target, or the name itself). */
static void start_host(struct sip_locate *l, const char *name, uint16_t port,
		       unsigned priority, unsigned weight)
{
	struct sip_srv_host *sh = &l->srv[l->nsrv++];

	sh->l = l;
	tg_strlcpy(sh->name, name, sizeof(sh->name));
	sh->port = port;
	sh->priority = priority;
	sh->weight = weight;
	sh->tp = l->tp;
	l->pending++;
	sip_dns_addrs(l->dns, sh->name, port, on_host_addrs, sh);
}

static void on_srv(int err, const struct sip_srv *recs, size_t n, uint32_t ttl,
		   void *arg)
{
	struct sip_locate *l = arg;
	size_t usable = 0;

	if (err == ECANCELED || err == ENOMEM) {
		l->err = l->hard = err;
		done_one(l);
		return;
	}
	/* An SRV answer lost (no reply, a server failure) is no "there are
	 * none": the records of the next transport may still be had, but
	 * the list is partial (the caller asks again soon) and never falls
	 * back to A on 5060, which would send calls where the records may
	 * not point. */
	if (err == ETIMEDOUT || err == EIO) {
		if (!l->hard)
			l->err = l->hard = err;
		if (l->tp_left)
			start_next_srv(l);
		done_one(l);
		return;
	}
	l->pending++; /* while the hosts start */
	for (size_t i = 0; !err && i < n && l->nsrv < SIP_MAX_TARGETS; i++) {
		/* RFC 2782: a target of "." says there is no such service
		 * at this domain. */
		if (!*recs[i].target || !strcmp(recs[i].target, "."))
			continue;
		if (strlen(recs[i].target) >= SIP_HOST_MAX)
			continue;
		usable++;
		start_host(l, recs[i].target, recs[i].port, recs[i].priority,
			   recs[i].weight);
	}
	if (!err && usable) {
		ttl_min(l, ttl);
	} else if (l->tp_left) {
		/* RFC 3263 4.1: none for this transport (or "." records:
		 * not served over it), ask for the next one we would
		 * take. */
		start_next_srv(l);
	} else if (!err) {
		/* Only "." records: no SIP here, and no A fallback. */
		l->err = ENOENT;
	} else if (!l->hard) {
		/* RFC 3263 4.2: no SRV records, the name's own address on
		 * the transport's default port. */
		l->how = SIP_LOCATE_A;
		l->tp = fallback_tp(l->tps);
		start_host(l, l->host, default_port(l->tp), 0, 0);
	}
	done_one(l); /* the hosts' start */
	done_one(l); /* this SRV lookup */
}

static void start_srv(struct sip_locate *l, const char *name)
{
	l->pending++;
	sip_dns_srv(l->dns, name, on_srv, l);
}

/* SRV without NAPTR: the best transport left, in our preference (RFC
 * 3263 4.1 leaves it to the client): TLS, then TCP, then UDP. */
static void start_next_srv(struct sip_locate *l)
{
	static const struct {
		enum sip_transport tp;
		const char *prefix;
	} pref[] = {
		{SIP_TRANSPORT_TLS, "_sips._tcp."},
		{SIP_TRANSPORT_TCP, "_sip._tcp."},
		{SIP_TRANSPORT_UDP, "_sip._udp."},
	};
	char name[SIP_HOST_MAX];

	for (size_t i = 0; i < sizeof(pref) / sizeof(pref[0]); i++) {
		if (!(l->tp_left & SIP_TP_BIT(pref[i].tp)))
			continue;
		l->tp_left &= ~SIP_TP_BIT(pref[i].tp);
		l->tp = pref[i].tp;
		snprintf(name, sizeof(name), "%s%.116s", pref[i].prefix,
			 l->host);
		start_srv(l, name);
		return;
	}
}

static void on_naptr(int err, const struct sip_naptr *recs, size_t n, void *arg)
{
	struct sip_locate *l = arg;
	char name[SIP_HOST_MAX];

	if (err == ECANCELED || err == ENOMEM) {
		l->err = l->hard = err;
		done_one(l);
		return;
	}
	if (!err && !sip_naptr_pick(recs, n, l->tps, name, sizeof(name),
				    &l->tp)) {
		/* Its SRV alone: the server chose the transport. */
		l->how = SIP_LOCATE_NAPTR;
		start_srv(l, name);
	} else {
		/* RFC 3263 4.1: no NAPTR for our transports, query SRV for
		 * each directly. */
		l->how = SIP_LOCATE_SRV;
		l->tp_left = l->tps;
		start_next_srv(l);
	}
	done_one(l);
}

struct sip_locate *sip_locate(struct sip_dns *dns, const char *host,
			      uint16_t port, unsigned transports,
			      sip_locate_h *h, void *arg)
{
	struct sip_locate *l;

	if (!dns || strlen(host) + sizeof("_sips._tcp.") > SIP_HOST_MAX) {
		h(dns ? EINVAL : ECANCELED, NULL, 0, 0, SIP_LOCATE_A, arg);
		return NULL;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		h(ENOMEM, NULL, 0, 0, SIP_LOCATE_A, arg);
		return NULL;
	}
	l->dns = dns;
	l->h = h;
	l->arg = arg;
	l->tps = transports & (SIP_TP_BIT(SIP_TRANSPORT_UDP) |
			       SIP_TP_BIT(SIP_TRANSPORT_TCP) |
			       SIP_TP_BIT(SIP_TRANSPORT_TLS));
	if (!l->tps)
		l->tps = SIP_TP_BIT(SIP_TRANSPORT_UDP);
	tg_strlcpy(l->host, host, sizeof(l->host));
	/* One for this call: the lookups below may answer before it
	 * returns, and the caller must get its handle first. */
	l->pending = 1;
	if (port) {
		l->how = SIP_LOCATE_A;
		l->tp = fallback_tp(l->tps);
		start_host(l, host, port, 0, 0);
	} else {
		l->pending++;
		sip_dns_naptr(dns, host, on_naptr, l);
	}
	if (--l->pending == 0) {
		/* Over already: report it, as promised, and say so. */
		finish(l);
		return NULL;
	}
	return l;
}

void sip_locate_cancel(struct sip_locate *l)
{
	if (l)
		l->h = NULL;
}
