/* sip/dns.c  Asynchronous DNS on the signalling loop (c-ares + libevent)
 *
 * The signalling thread never blocks on DNS (DESIGN: process model), so
 * lookups go through c-ares, whose sockets are watched by libevent: c-ares
 * tells us which sockets it wants read or written (the socket-state
 * callback), we keep one event per socket and one timer for its
 * retransmissions, and hand readiness back with ares_process_fd().
 *
 * A caller gets its callback exactly once: with the answer, with an error
 * (ENOENT no such name or no record of that type, ETIMEDOUT, EIO for a
 * server failure or a reply we cannot read), or with ECANCELED when the
 * resolver is freed before the answer came.
 */
#include <arpa/inet.h>
#include <ares.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "sip/sip.h"
#include "util/util.h"

struct dns_sock {
	ares_socket_t fd;
	struct event *ev;
	short what;
};

struct sip_dns {
	struct event_base *base;
	ares_channel ch;
	bool ch_live;
	struct event *tmr;
	struct dns_sock *socks;
	size_t nsocks, cap;
};

static int ares_errno(int status)
{
	switch (status) {
	case ARES_SUCCESS:
		return 0;
	case ARES_ENODATA:
	case ARES_ENOTFOUND:
		return ENOENT;
	case ARES_ETIMEOUT:
		return ETIMEDOUT;
	case ARES_ENOMEM:
		return ENOMEM;
	case ARES_ECANCELLED:
	case ARES_EDESTRUCTION:
		return ECANCELED;
	case ARES_EBADNAME:
		return EINVAL;
	default: /* SERVFAIL, REFUSED, a malformed reply, no servers... */
		return EIO;
	}
}

const char *sip_dns_strerror(int err)
{
	switch (err) {
	case ENOENT:
		return "no such name or record";
	case ETIMEDOUT:
		return "timed out";
	case EIO:
		return "server failure";
	case ECANCELED:
		return "cancelled";
	default:
		return strerror(err);
	}
}

/* ---- c-ares <-> libevent ------------------------------------------------- */

static void rearm(struct sip_dns *dns)
{
	struct timeval tv, *t;

	if (!dns->ch_live)
		return;
	t = ares_timeout(dns->ch, NULL, &tv);
	if (t)
		evtimer_add(dns->tmr, t);
	else
		evtimer_del(dns->tmr);
}

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct sip_dns *dns = arg;

	ares_process_fd(dns->ch, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
			(what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	rearm(dns);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct sip_dns *dns = arg;

	(void)fd;
	(void)what;
	ares_process_fd(dns->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm(dns);
}

static void sock_state(void *data, ares_socket_t fd, int readable,
		       int writable)
{
	struct sip_dns *dns = data;
	short what = (short)((readable ? EV_READ : 0) |
			     (writable ? EV_WRITE : 0));
	struct dns_sock *s = NULL;
	size_t i;

	for (i = 0; i < dns->nsocks; i++)
		if (dns->socks[i].fd == fd) {
			s = &dns->socks[i];
			break;
		}
	if (!what) {
		if (s) {
			event_free(s->ev);
			dns->socks[i] = dns->socks[--dns->nsocks];
		}
		return;
	}
	if (!s) {
		if (dns->nsocks == dns->cap) {
			size_t cap = dns->cap ? dns->cap * 2 : 4;
			struct dns_sock *n = realloc(dns->socks,
						     cap * sizeof(*n));

			if (!n) {
				gw_err("dns: out of memory watching a socket");
				return;
			}
			dns->socks = n;
			dns->cap = cap;
		}
		s = &dns->socks[dns->nsocks];
		s->fd = fd;
		s->ev = NULL;
		s->what = 0;
	}
	if (s->ev && s->what == what)
		return;
	if (s->ev)
		event_free(s->ev);
	s->ev = event_new(dns->base, fd, what | EV_PERSIST, on_sock, dns);
	if (!s->ev || event_add(s->ev, NULL)) {
		gw_err("dns: cannot watch socket %d", (int)fd);
		if (s->ev)
			event_free(s->ev);
		if (s == &dns->socks[dns->nsocks])
			return;
		dns->socks[s - dns->socks] = dns->socks[--dns->nsocks];
		return;
	}
	s->what = what;
	if (s == &dns->socks[dns->nsocks])
		dns->nsocks++;
}

/* ---- the resolver -------------------------------------------------------- */

int sip_dns_new(struct sip_dns **dnsp, struct event_base *base,
		const char *servers, unsigned timeout_ms, unsigned tries,
		char *err, size_t errsize)
{
	struct ares_options o;
	struct sip_dns *dns;
	int rc;

	*dnsp = NULL;
	rc = ares_library_init(ARES_LIB_INIT_ALL);
	if (rc) {
		snprintf(err, errsize, "c-ares: %s", ares_strerror(rc));
		return EIO;
	}
	dns = calloc(1, sizeof(*dns));
	if (!dns) {
		ares_library_cleanup();
		snprintf(err, errsize, "out of memory");
		return ENOMEM;
	}
	dns->base = base;
	dns->tmr = evtimer_new(base, on_timer, dns);
	memset(&o, 0, sizeof(o));
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = dns;
	o.timeout = (int)(timeout_ms ? timeout_ms : 1000);
	o.tries = (int)(tries ? tries : 2);
	/* Answers are used as they come: no search domains, no hosts file
	 * for record types it cannot hold, no rotation surprises. */
	o.ndots = 1;
	rc = dns->tmr ? ares_init_options(&dns->ch, &o,
					  ARES_OPT_SOCK_STATE_CB |
						  ARES_OPT_TIMEOUTMS |
						  ARES_OPT_TRIES |
						  ARES_OPT_NDOTS)
		      : ARES_ENOMEM;
	if (rc) {
		snprintf(err, errsize, "c-ares: %s", ares_strerror(rc));
		goto fail;
	}
	dns->ch_live = true;
	if (servers && *servers) {
		rc = ares_set_servers_ports_csv(dns->ch, servers);
		if (rc) {
			snprintf(err, errsize, "dns servers \"%s\": %s",
				 servers, ares_strerror(rc));
			goto fail;
		}
	}
	*dnsp = dns;
	return 0;
fail:
	sip_dns_free(dns);
	return rc == ARES_ENOMEM ? ENOMEM : EINVAL;
}

void sip_dns_free(struct sip_dns *dns)
{
	if (!dns)
		return;
	/* Pending callbacks run now, with ECANCELED; sockets close, and
	 * c-ares tells sock_state, which frees their events. */
	if (dns->ch_live) {
		ares_destroy(dns->ch);
		dns->ch_live = false;
	}
	for (size_t i = 0; i < dns->nsocks; i++)
		event_free(dns->socks[i].ev);
	free(dns->socks);
	if (dns->tmr)
		event_free(dns->tmr);
	free(dns);
	ares_library_cleanup();
}

/* ---- NAPTR --------------------------------------------------------------- */

/* A query under way: whom to tell. */
struct dns_q {
	sip_dns_naptr_h *naptr;
	sip_dns_addr_h *addr;
	sip_dns_srv_h *srv;
	sip_dns_addrs_h *addrs;
	void *arg;
};

/* A new query, or NULL when it cannot start (*err says why). */
static struct dns_q *q_new(struct sip_dns *dns, void *arg, int *err)
{
	struct dns_q *q;

	if (!dns || !dns->ch_live) {
		*err = ECANCELED;
		return NULL;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		*err = ENOMEM;
		return NULL;
	}
	q->arg = arg;
	return q;
}

static void on_naptr(void *arg, int status, int timeouts, unsigned char *abuf,
		     int alen)
{
	struct dns_q *q = arg;
	sip_dns_naptr_h *h = q->naptr;
	struct ares_naptr_reply *reply = NULL, *r;
	struct sip_naptr recs[SIP_DNS_MAX_NAPTR];
	size_t n = 0;
	int e = ares_errno(status);

	(void)timeouts;
	if (!e) {
		status = ares_parse_naptr_reply(abuf, alen, &reply);
		e = ares_errno(status);
	}
	for (r = e ? NULL : reply; r && n < SIP_DNS_MAX_NAPTR; r = r->next) {
		recs[n].order = r->order;
		recs[n].preference = r->preference;
		recs[n].flags = (const char *)r->flags;
		recs[n].service = (const char *)r->service;
		recs[n].regexp = (const char *)r->regexp;
		recs[n].replacement = r->replacement;
		n++;
	}
	if (!e && !n)
		e = ENOENT;
	h(e, recs, n, q->arg);
	if (reply)
		ares_free_data(reply);
	free(q);
}

void sip_dns_naptr(struct sip_dns *dns, const char *name, sip_dns_naptr_h *h,
		   void *arg)
{
	int err;
	struct dns_q *q = q_new(dns, arg, &err);

	if (!q) {
		h(err, NULL, 0, arg);
		return;
	}
	q->naptr = h;
	ares_query(dns->ch, name, 1 /* C_IN */, 35 /* T_NAPTR */, on_naptr, q);
	rearm(dns);
}

/* ---- addresses ----------------------------------------------------------- */

static void on_addr(void *arg, int status, int timeouts,
		    struct ares_addrinfo *res)
{
	struct dns_q *q = arg;
	sip_dns_addr_h *h = q->addr;
	struct ares_addrinfo_node *nd = NULL;
	int e = ares_errno(status);

	(void)timeouts;
	/* IPv4 first: the UA's socket is IPv4 today (issue 4 adds v6). */
	if (!e && res) {
		for (nd = res->nodes; nd; nd = nd->ai_next)
			if (nd->ai_family == AF_INET)
				break;
		if (!nd)
			nd = res->nodes;
	}
	if (!e && !nd)
		e = ENOENT;
	if (e)
		h(e, NULL, 0, q->arg);
	else
		h(0, nd->ai_addr, (socklen_t)nd->ai_addrlen, q->arg);
	if (res)
		ares_freeaddrinfo(res);
	free(q);
}

void sip_dns_addr(struct sip_dns *dns, const char *host, uint16_t port,
		  sip_dns_addr_h *h, void *arg)
{
	struct ares_addrinfo_hints hints;
	char svc[8];
	int err;
	struct dns_q *q = q_new(dns, arg, &err);

	if (!q) {
		h(err, NULL, 0, arg);
		return;
	}
	q->addr = h;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	/* A literal address is answered at once, without a query. */
	hints.ai_flags = ARES_AI_NUMERICSERV;
	snprintf(svc, sizeof(svc), "%u", (unsigned)port);
	ares_getaddrinfo(dns->ch, host, svc, &hints, on_addr, q);
	rearm(dns);
}

/* ---- SRV ----------------------------------------------------------------- */

static void on_srv(void *arg, int status, int timeouts, unsigned char *abuf,
		   int alen)
{
	struct dns_q *q = arg;
	struct ares_srv_reply *reply = NULL, *r;
	struct sip_srv recs[SIP_MAX_TARGETS];
	uint32_t ttl = 0;
	size_t n = 0;
	int e = ares_errno(status);

	(void)timeouts;
	if (!e) {
		status = ares_parse_srv_reply(abuf, alen, &reply);
		e = ares_errno(status);
	}
	if (!e && sip_dns_answer_ttl(abuf, (size_t)alen, 33 /* T_SRV */, &ttl))
		ttl = 0;
	for (r = e ? NULL : reply; r && n < SIP_MAX_TARGETS; r = r->next) {
		recs[n].priority = r->priority;
		recs[n].weight = r->weight;
		recs[n].port = r->port;
		recs[n].target = r->host;
		n++;
	}
	if (!e && !n)
		e = ENOENT;
	q->srv(e, recs, n, ttl, q->arg);
	if (reply)
		ares_free_data(reply);
	free(q);
}

void sip_dns_srv(struct sip_dns *dns, const char *name, sip_dns_srv_h *h,
		 void *arg)
{
	int err;
	struct dns_q *q = q_new(dns, arg, &err);

	if (!q) {
		h(err, NULL, 0, 0, arg);
		return;
	}
	q->srv = h;
	ares_query(dns->ch, name, 1 /* C_IN */, 33 /* T_SRV */, on_srv, q);
	rearm(dns);
}

/* ---- every address ------------------------------------------------------- */

static void on_addrs(void *arg, int status, int timeouts,
		     struct ares_addrinfo *res)
{
	struct dns_q *q = arg;
	struct ares_addrinfo_node *nd;
	struct sip_dns_ip ips[SIP_DNS_MAX_ADDRS];
	bool v4 = false;
	uint32_t ttl = UINT32_MAX;
	size_t n = 0;
	int e = ares_errno(status);

	(void)timeouts;
	for (nd = !e && res ? res->nodes : NULL; nd; nd = nd->ai_next)
		v4 |= nd->ai_family == AF_INET;
	for (nd = !e && res ? res->nodes : NULL;
	     nd && n < SIP_DNS_MAX_ADDRS; nd = nd->ai_next) {
		if ((v4 && nd->ai_family != AF_INET) ||
		    (size_t)nd->ai_addrlen > sizeof(ips[n].sa))
			continue;
		memcpy(&ips[n].sa, nd->ai_addr, (size_t)nd->ai_addrlen);
		ips[n].len = (socklen_t)nd->ai_addrlen;
		/* A literal has no TTL (c-ares says 0): it never expires. */
		if (nd->ai_ttl > 0 && (uint32_t)nd->ai_ttl < ttl)
			ttl = (uint32_t)nd->ai_ttl;
		n++;
	}
	if (!e && !n)
		e = ENOENT;
	q->addrs(e, n ? ips : NULL, n, ttl == UINT32_MAX ? 0 : ttl, q->arg);
	if (res)
		ares_freeaddrinfo(res);
	free(q);
}

void sip_dns_addrs(struct sip_dns *dns, const char *host, uint16_t port,
		   sip_dns_addrs_h *h, void *arg)
{
	struct ares_addrinfo_hints hints;
	char svc[8];
	int err;
	struct dns_q *q = q_new(dns, arg, &err);

	if (!q) {
		h(err, NULL, 0, 0, arg);
		return;
	}
	q->addrs = h;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = ARES_AI_NUMERICSERV;
	snprintf(svc, sizeof(svc), "%u", (unsigned)port);
	ares_getaddrinfo(dns->ch, host, svc, &hints, on_addrs, q);
	rearm(dns);
}
