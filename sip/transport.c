/* sip/transport.c  SIP over TCP and TLS: listeners, connections, framing
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * RFC 3261 18: a message to a destination goes over the connection open
 * to it, whoever opened it; one we open stays up for the next message
 * (and is closed once idle), one that a peer opened is indexed by the
 * peer's address, so the responses to its requests, and our requests in
 * the dialogs it made, go back over it.  Destinations that want TCP or
 * TLS (a trunk's transport) are set by the gateway before it sends; the
 * rest is UDP (ua.c).
 *
 * Every socket is a libevent bufferevent (OpenSSL ones for TLS), with
 * deferred callbacks: nothing ever blocks the loop, a slow peer only
 * fills its own buffers, and no callback runs inside libosip2 (a send
 * from a transaction only appends to a buffer).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define LOG_MODULE "sip"
#include "sip/sip_int.h"

#define TP_IDLE_S 120
#define TP_MAX_CONNS 1024
/* Output a peer does not read: past this much it is cut off. */
#define TP_OUT_MAX (1024 * 1024)
#define TP_KEY 72

struct sip_conn {
	struct sip_hnode hn;        /* tp->conns by peer address */
	struct sip_tp *tp;
	enum sip_transport kind;
	struct bufferevent *bev;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	char key[TP_KEY];           /* "addr:port" */
	char name[128];             /* outbound TLS: the name verified */
	bool outbound;              /* we opened it */
	bool up;                    /* connected (TLS: handshake done) */
	bool heard;                 /* a whole message came over it */
	bool closing;               /* out of the index, awaiting reaping */
	int err;                    /* why it closed, for the transactions */
	int64_t last;               /* monotonic ms of its last traffic */
	struct sip_conn *dnext;     /* tp->dead */
};

/* A destination that wants a stream transport (sip_ua_set_transport). */
struct sip_peer {
	struct sip_hnode hn;        /* tp->peers by address */
	char key[TP_KEY];
	enum sip_transport kind;
	char name[128];             /* what its certificate must name */
};

struct sip_listener {
	struct sip_tp *tp;
	enum sip_transport kind;
	struct evconnlistener *l;
};

struct sip_tp {
	struct sip_ua *ua;
	struct sip_listener ls[3];  /* by kind; [UDP] unused */
	uint16_t port[3];
	SSL_CTX *srv, *cli;
	bool verify;
	struct sip_hash conns, peers;
	unsigned nconns, max_conns;
	int64_t idle_ms;
	struct event *ev_idle, *ev_reap;
	struct sip_conn *dead;
	char *rbuf;
	struct sip_tp_stats st;
};

const char *sip_tp_name(enum sip_transport kind)
{
	return kind == SIP_TRANSPORT_TLS ? "TLS"
	       : kind == SIP_TRANSPORT_TCP ? "TCP" : "UDP";
}

const char *sip_transport_name(enum sip_transport kind)
{
	return kind == SIP_TRANSPORT_TLS ? "tls"
	       : kind == SIP_TRANSPORT_TCP ? "tcp" : "udp";
}

static void addr_key(const struct sockaddr *sa, char key[TP_KEY])
{
	char a[64];
	uint16_t port;

	sip_addr_str(sa, a, sizeof(a), &port);
	sip_host_fmt(key, TP_KEY, a, port);
}

static struct sip_conn *conn_find(const struct sip_tp *tp, const char *key)
{
	struct sip_hnode *hn = sip_hash_lookup(&tp->conns, key);

	return hn ? hn->obj : NULL;
}

static struct sip_peer *peer_find(const struct sip_tp *tp, const char *key)
{
	struct sip_hnode *hn = sip_hash_lookup(&tp->peers, key);

	return hn ? hn->obj : NULL;
}

enum sip_transport sip_tp_of(const struct sip_tp *tp,
			     const struct sockaddr *dst)
{
	char key[TP_KEY];
	struct sip_conn *c;
	struct sip_peer *p;

	/* The common case of a UDP-only gateway costs no formatting. */
	if (!tp || (!tp->conns.n && !tp->peers.n))
		return SIP_TRANSPORT_UDP;
	addr_key(dst, key);
	if ((c = conn_find(tp, key)))
		return c->kind;
	if ((p = peer_find(tp, key)))
		return p->kind;
	return SIP_TRANSPORT_UDP;
}

uint16_t sip_tp_port(const struct sip_tp *tp, enum sip_transport kind)
{
	return tp && kind != SIP_TRANSPORT_UDP ? tp->port[kind] : 0;
}

/* ---- closing ------------------------------------------------------------ */

static void conn_free(struct sip_conn *c)
{
	if (c->bev)
		bufferevent_free(c->bev);
	free(c);
}

/* Out of the index at once (nothing more is sent over it); freed, and
 * its transactions told, from the loop (on_reap): we may be inside a
 * send from libosip2 or inside this connection's own callback. */
static void conn_close(struct sip_conn *c, int err)
{
	struct sip_tp *tp = c->tp;

	if (c->closing)
		return;
	c->closing = true;
	c->err = err;
	sip_hash_del(&tp->conns, &c->hn);
	tp->nconns--;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	c->dnext = tp->dead;
	tp->dead = c;
	event_active(tp->ev_reap, 0, 0);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct sip_tp *tp = arg;
	struct sip_conn *c;

	(void)fd;
	(void)what;
	while ((c = tp->dead)) {
		tp->dead = c->dnext;
		/* RFC 3261 17.1.4: a transport failure ends the client
		 * transactions still waiting for an answer over it. */
		if (c->err)
			sip_ua_dst_unreachable(tp->ua,
					       (struct sockaddr *)&c->peer,
					       c->err);
		conn_free(c);
	}
	sip_ua_run(tp->ua);
}

/* Why OpenSSL gave up on @p c's handshake, for the log. */
static void tls_why(const struct sip_conn *c, char *out, size_t size)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	unsigned long e = bufferevent_get_openssl_error(c->bev);
	long v = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;

	if (ssl && v != X509_V_OK)
		snprintf(out, size, "certificate verify failed: %s",
			 X509_verify_cert_error_string(v));
	else if (e)
		snprintf(out, size, "%s", ERR_reason_error_string(e) ?
			 ERR_reason_error_string(e) : "TLS error");
	else
		tg_strlcpy(out, "connection closed", size);
	while (bufferevent_get_openssl_error(c->bev))
		;
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct sip_conn *c = arg;
	char why[160];
	int err = ECONNRESET;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		c->up = true;
		c->last = tg_mono_ms();
		if (c->kind == SIP_TRANSPORT_TLS) {
			SSL *ssl = bufferevent_openssl_get_ssl(c->bev);

			gw_info("tls %s %s: %s %s", c->outbound ? "to" : "from",
				c->key, SSL_get_version(ssl),
				SSL_get_cipher_name(ssl));
		} else {
			gw_info("tcp to %s: connected", c->key);
		}
		return;
	}
	if (!(what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)))
		return;
	if (what & BEV_EVENT_ERROR) {
		int se = EVUTIL_SOCKET_ERROR();

		/* Deferred callbacks: errno may be another call's by now. */
		err = se && se != EAGAIN && se != EINPROGRESS ? se : ECONNRESET;
		if (c->kind == SIP_TRANSPORT_TLS && !c->up) {
			tls_why(c, why, sizeof(why));
			err = EPROTO;
		} else {
			tg_strlcpy(why, strerror(err), sizeof(why));
		}
	} else {
		tg_strlcpy(why, "closed by the peer", sizeof(why));
	}
	if (!c->up) {
		c->tp->st.failed++;
		gw_warn("%s %s %s failed: %s", sip_transport_name(c->kind),
			c->outbound ? "connection to" : "handshake with",
			c->key, why);
	} else {
		gw_info("%s %s %s: %s", sip_transport_name(c->kind),
			c->outbound ? "to" : "from", c->key, why);
	}
	conn_close(c, err);
}

/* ---- receiving ------------------------------------------------------------ */

/* RFC 5626 4.4.1: a double-CRLF "ping" gets a CRLF "pong". */
static void keepalive(struct sip_conn *c, const char *p, size_t n)
{
	for (size_t i = 0; i + 4 <= n; i++)
		if (!memcmp(p + i, "\r\n\r\n", 4)) {
			bufferevent_write(c->bev, "\r\n", 2);
			return;
		}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct sip_conn *c = arg;
	struct sip_tp *tp = c->tp;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len, n, skip, mlen;
	const char *p;
	int err;

	c->last = tg_mono_ms();
	/* Every whole message read so far; the input buffer holds at most a
	 * read's worth more than one, so this is bounded work. */
	while (!c->closing && (len = evbuffer_get_length(in))) {
		n = len < SIP_MAX_MSG + 1 ? len : SIP_MAX_MSG + 1;
		p = (const char *)evbuffer_pullup(in, (ev_ssize_t)n);
		if (!p)
			break;
		err = sip_stream_frame(p, n, SIP_MAX_MSG, &skip, &mlen);
		if (skip) {
			keepalive(c, p, skip);
			evbuffer_drain(in, skip);
			continue;
		}
		if (err == ENODATA)
			break;
		if (err) {
			gw_warn("%s from %s: %s: connection closed",
				sip_transport_name(c->kind), c->key,
				err == EMSGSIZE ? "message over 65535 octets"
						: "not a SIP message");
			tp->st.bad++;
			conn_close(c, EBADMSG);
			return;
		}
		memcpy(tp->rbuf, p, mlen);
		tp->rbuf[mlen] = '\0';
		evbuffer_drain(in, mlen);
		c->heard = true;
		sip_ua_receive(tp->ua, tp->rbuf, mlen,
			       (struct sockaddr *)&c->peer, c->peerlen);
	}
}

/* ---- connections ------------------------------------------------------ */

static int conn_new(struct sip_conn **cp, struct sip_tp *tp,
		    enum sip_transport kind, const struct sockaddr *peer,
		    socklen_t peerlen)
{
	struct sip_conn *c;

	if (tp->nconns >= tp->max_conns)
		return EMFILE;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	c->tp = tp;
	c->kind = kind;
	memcpy(&c->peer, peer, peerlen);
	c->peerlen = peerlen;
	addr_key(peer, c->key);
	c->last = tg_mono_ms();
	*cp = c;
	return 0;
}

static void conn_start(struct sip_conn *c)
{
	struct sip_tp *tp = c->tp;

	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	sip_hash_add(&tp->conns, &c->hn, c->key, c);
	tp->nconns++;
	if (!evtimer_pending(tp->ev_idle, NULL)) {
		struct timeval tv = {1, 0};

		event_add(tp->ev_idle, &tv);
	}
}

/* A TLS client session toward @p p: SNI and the name its certificate
 * must carry are its host name; an address is matched against the
 * certificate's IP SANs. */
static SSL *tls_client(struct sip_tp *tp, const struct sip_peer *p,
		       const struct sockaddr *dst)
{
	unsigned char ip[sizeof(struct in6_addr)];
	char a[64];
	const char *name = p->name;
	SSL *ssl = SSL_new(tp->cli);
	bool literal;

	if (!ssl)
		return NULL;
	if (!*name)
		name = sip_addr_str(dst, a, sizeof(a), NULL);
	literal = inet_pton(AF_INET, name, ip) == 1 ||
		  inet_pton(AF_INET6, name, ip) == 1;
	if (tp->verify &&
	    (literal ? !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
						      name)
		     : !SSL_set1_host(ssl, name))) {
		SSL_free(ssl);
		return NULL;
	}
	if (!literal)
		SSL_set_tlsext_host_name(ssl, name);
	return ssl;
}

static int conn_open(struct sip_conn **cp, struct sip_tp *tp,
		     const struct sip_peer *p, const struct sockaddr *dst,
		     socklen_t dstlen)
{
	struct event_base *base = tp->ua->base;
	const int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
	struct sip_conn *c;
	SSL *ssl;
	int err;

	err = conn_new(&c, tp, p->kind, dst, dstlen);
	if (err)
		return err;
	c->outbound = true;
	tg_strlcpy(c->name, p->name, sizeof(c->name));
	if (p->kind == SIP_TRANSPORT_TLS) {
		ssl = tls_client(tp, p, dst);
		c->bev = ssl ? bufferevent_openssl_socket_new(
				       base, -1, ssl,
				       BUFFEREVENT_SSL_CONNECTING, opts)
			     : NULL;
		if (ssl && !c->bev)
			SSL_free(ssl);
	} else {
		c->bev = bufferevent_socket_new(base, -1, opts);
	}
	if (!c->bev) {
		free(c);
		ERR_clear_error();
		return ENOMEM;
	}
	if (bufferevent_socket_connect(c->bev, dst, (int)dstlen)) {
		err = EVUTIL_SOCKET_ERROR() ? EVUTIL_SOCKET_ERROR()
					    : ECONNREFUSED;
		gw_warn("%s connection to %s failed: %s", sip_transport_name(p->kind),
			c->key, strerror(err));
		tp->st.failed++;
		conn_free(c);
		return err;
	}
	tp->st.opened++;
	conn_start(c);
	*cp = c;
	return 0;
}

int sip_tp_send(struct sip_tp *tp, const struct sockaddr *dst,
		socklen_t dstlen, const char *buf, size_t len)
{
	struct sip_conn *c;
	struct sip_peer *p;
	char key[TP_KEY];
	int err;

	addr_key(dst, key);
	c = conn_find(tp, key);
	if (!c) {
		p = peer_find(tp, key);
		if (!p)
			return ENOTCONN;
		err = conn_open(&c, tp, p, dst, dstlen);
		if (err)
			return err;
	}
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) + len >
	    TP_OUT_MAX) {
		gw_warn("%s to %s: %u octets unread by the peer: connection "
			"closed", sip_transport_name(c->kind), c->key, TP_OUT_MAX);
		conn_close(c, ENOBUFS);
		return ENOBUFS;
	}
	if (bufferevent_write(c->bev, buf, len))
		return ENOMEM;
	c->last = tg_mono_ms();
	return 0;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	struct sip_listener *sl = arg;
	struct sip_tp *tp = sl->tp;
	struct event_base *base = evconnlistener_get_base(l);
	const int opts = BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS;
	struct sip_conn *c;
	SSL *ssl;
	int err;

	err = conn_new(&c, tp, sl->kind, sa, (socklen_t)salen);
	if (err) {
		char key[TP_KEY];

		addr_key(sa, key);
		gw_warn("%s from %s refused: %s", sip_transport_name(sl->kind), key,
			err == EMFILE ? "too many connections"
				      : strerror(err));
		tp->st.failed++;
		evutil_closesocket(fd);
		return;
	}
	if (sl->kind == SIP_TRANSPORT_TLS) {
		ssl = SSL_new(tp->srv);
		c->bev = ssl ? bufferevent_openssl_socket_new(
				       base, fd, ssl,
				       BUFFEREVENT_SSL_ACCEPTING, opts)
			     : NULL;
		if (ssl && !c->bev)
			SSL_free(ssl);
	} else {
		c->bev = bufferevent_socket_new(base, fd, opts);
		c->up = true;
	}
	if (!c->bev) {
		evutil_closesocket(fd);
		free(c);
		ERR_clear_error();
		return;
	}
	gw_dbg(GW_DBG_SIPMSG, "%s from %s accepted", sip_transport_name(sl->kind),
	       c->key);
	tp->st.accepted++;
	conn_start(c);
}

/*
 * Once a second: a connection we opened that has been idle for the idle
 * time is closed (the next request opens another).  One a peer opened is
 * the peer's to keep, as our in-dialog requests go back over it; but one
 * that never brought a whole message (a stalled handshake, a scanner) is
 * closed the same way.
 */
static void on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct sip_tp *tp = arg;
	struct timeval tv = {1, 0};
	int64_t now = tg_mono_ms();

	(void)fd;
	(void)what;
	for (size_t b = 0; b < tp->conns.nb; b++) {
		struct sip_hnode *hn = tp->conns.b[b], *next;

		for (; hn; hn = next) {
			struct sip_conn *c = hn->obj;

			next = hn->next;
			if (now - c->last < tp->idle_ms ||
			    (!c->outbound && c->heard))
				continue;
			gw_info("%s %s %s: idle, closed", sip_transport_name(c->kind),
				c->outbound ? "to" : "from", c->key);
			conn_close(c, 0);
		}
	}
	if (tp->nconns)
		event_add(tp->ev_idle, &tv);
}

/* ---- destinations ------------------------------------------------------ */

int sip_tp_set_peer(struct sip_tp *tp, const struct sockaddr *dst,
		    socklen_t dstlen, enum sip_transport kind,
		    const char *name)
{
	char key[TP_KEY];
	struct sip_peer *p;
	struct sip_conn *c;

	(void)dstlen;
	addr_key(dst, key);
	p = peer_find(tp, key);
	c = conn_find(tp, key);
	/* A connection of ours made for another transport or verified for
	 * another name (two trunks at one address, a reload) is not this
	 * trunk's: the next request opens one that is. */
	if (c && c->outbound &&
	    (c->kind != kind || strcmp(c->name, name ? name : ""))) {
		gw_info("%s to %s: now %s%s%s: connection closed",
			sip_transport_name(c->kind), c->key, sip_transport_name(kind),
			name && *name ? " for " : "", name ? name : "");
		/* Quietly: the transactions to @p dst are the new one's. */
		conn_close(c, 0);
	}
	if (kind == SIP_TRANSPORT_UDP) {
		if (p) {
			sip_hash_del(&tp->peers, &p->hn);
			free(p);
		}
		return 0;
	}
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p)
			return ENOMEM;
		tg_strlcpy(p->key, key, sizeof(p->key));
		sip_hash_add(&tp->peers, &p->hn, p->key, p);
	}
	p->kind = kind;
	tg_strlcpy(p->name, name ? name : "", sizeof(p->name));
	return 0;
}

int sip_ua_set_transport(struct sip_ua *ua, const struct sockaddr *dst,
			 socklen_t dstlen, enum sip_transport tp,
			 const char *name)
{
	if (tp != SIP_TRANSPORT_UDP && !sip_tp_port(ua->tp, tp))
		return ENOTSUP;
	if (!ua->tp)
		return 0;
	return sip_tp_set_peer(ua->tp, dst, dstlen, tp, name);
}

void sip_ua_connections(const struct sip_ua *ua, sip_conn_h *h, void *arg)
{
	const struct sip_tp *tp = ua->tp;
	int64_t now = tg_mono_ms();

	for (size_t b = 0; tp && b < tp->conns.nb; b++)
		for (struct sip_hnode *hn = tp->conns.b[b]; hn; hn = hn->next) {
			const struct sip_conn *c = hn->obj;
			SSL *ssl = c->kind == SIP_TRANSPORT_TLS
					   ? bufferevent_openssl_get_ssl(c->bev)
					   : NULL;
			struct sip_conn_info ci = {
				.kind = c->kind,
				.peer = c->key,
				.outbound = c->outbound,
				.up = c->up,
				.idle_s = (unsigned)((now - c->last) / 1000),
				.tls_version = ssl && c->up
						       ? SSL_get_version(ssl)
						       : "",
				.name = c->name,
			};

			h(&ci, arg);
		}
}

void sip_ua_tp_stats(const struct sip_ua *ua, struct sip_tp_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!ua->tp)
		return;
	*st = ua->tp->st;
	st->conns = ua->tp->nconns;
}

uint16_t sip_ua_tp_port(const struct sip_ua *ua, enum sip_transport tp)
{
	return tp == SIP_TRANSPORT_UDP ? ua->port : sip_tp_port(ua->tp, tp);
}

const char *sip_ua_contact_param(const struct sip_ua *ua,
				 const struct sockaddr *dst)
{
	switch (sip_tp_of(ua->tp, dst)) {
	case SIP_TRANSPORT_TCP:
		return ";transport=tcp";
	case SIP_TRANSPORT_TLS:
		return ";transport=tls";
	default:
		return "";
	}
}

const char *sip_ua_via_proto(const struct sip_ua *ua,
			     const struct sockaddr *dst, uint16_t *port)
{
	enum sip_transport kind = sip_tp_of(ua->tp, dst);

	*port = sip_ua_tp_port(ua, kind);
	return sip_tp_name(kind);
}

/* ---- set-up ------------------------------------------------------------ */

/* "[sip] KEY PATH: reason", OpenSSL's first reason if it has one. */
static int tls_fail(const char *key, const char *path, const char *what)
{
	unsigned long e = ERR_peek_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	gw_err("[sip] %s%s%s: %s%s%s", key, path && *path ? " " : "",
	       path ? path : "", what, reason ? ": " : "",
	       reason ? reason : "");
	ERR_clear_error();
	return EINVAL;
}

static SSL_CTX *tls_ctx(const SSL_METHOD *m, const char *ciphers)
{
	SSL_CTX *ctx = SSL_CTX_new(m);

	/* TLS 1.2 at least (RFC 8996 retires 1.0 and 1.1); 1.3 too. */
	if (ctx && (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) ||
		    (ciphers && *ciphers &&
		     !SSL_CTX_set_cipher_list(ctx, ciphers)))) {
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

static int tls_load_pair(SSL_CTX *ctx, const char *ckey, const char *cert,
			 const char *kkey, const char *key)
{
	if (!key || !*key) {
		key = cert;
		kkey = ckey;
	}
	if (!SSL_CTX_use_certificate_chain_file(ctx, cert))
		return tls_fail(ckey, cert, "no PEM certificate");
	if (!SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM))
		return tls_fail(kkey, key, "no PEM private key");
	if (!SSL_CTX_check_private_key(ctx))
		return tls_fail(kkey, key, "not the certificate's key");
	return 0;
}

static int tls_load_ca(SSL_CTX *ctx, const char *ca)
{
	if (ca && *ca) {
		if (!SSL_CTX_load_verify_locations(ctx, ca, NULL))
			return tls_fail("tls_ca", ca, "no PEM certificates");
	} else if (!SSL_CTX_set_default_verify_paths(ctx)) {
		return tls_fail("tls_ca", "", "no system CA store");
	}
	return 0;
}

static int tls_setup(struct sip_tp *tp, const struct sip_tls_config *t)
{
	int err;

	if (!t->cert || !*t->cert)
		return tls_fail("tls_cert", "", "required for TLS");
	tp->srv = tls_ctx(TLS_server_method(), t->ciphers);
	tp->cli = tls_ctx(TLS_client_method(), t->ciphers);
	if (!tp->srv || !tp->cli)
		return tls_fail("tls_ciphers", t->ciphers,
				"cannot set up TLS");
	err = tls_load_pair(tp->srv, "tls_cert", t->cert, "tls_key", t->key);
	if (!err && t->client_cert && *t->client_cert)
		err = tls_load_pair(tp->cli, "tls_client_cert", t->client_cert,
				    "tls_client_key", t->client_key);
	if (!err)
		err = tls_load_ca(tp->cli, t->ca);
	if (!err && t->verify_client) {
		err = tls_load_ca(tp->srv, t->ca);
		SSL_CTX_set_verify(tp->srv, SSL_VERIFY_PEER |
				   SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	}
	tp->verify = t->verify;
	SSL_CTX_set_verify(tp->cli, t->verify ? SSL_VERIFY_PEER
				    : SSL_VERIFY_NONE, NULL);
	return err;
}

static int listen_on(struct sip_tp *tp, enum sip_transport kind,
		     const char *bind_addr, uint16_t port)
{
	struct sip_listener *sl = &tp->ls[kind];
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char a[64];

	if (sip_bind_addr(&ss, &len, bind_addr, port))
		return EINVAL; /* open_socket() said why */
	if (!bind_addr || !*bind_addr)
		bind_addr = "*";
	sl->tp = tp;
	sl->kind = kind;
	sl->l = evconnlistener_new_bind(tp->ua->base, on_accept, sl,
					LEV_OPT_CLOSE_ON_FREE |
						LEV_OPT_CLOSE_ON_EXEC |
						LEV_OPT_REUSEABLE,
					128, (struct sockaddr *)&ss, (int)len);
	if (!sl->l) {
		int err = errno ? errno : EADDRINUSE;

		gw_err("bind %s %s:%u: %s", sip_transport_name(kind), bind_addr, port,
		       strerror(err));
		return err;
	}
	len = sizeof(ss);
	if (getsockname(evconnlistener_get_fd(sl->l), (struct sockaddr *)&ss,
			&len))
		return errno;
	sip_addr_str((struct sockaddr *)&ss, a, sizeof(a), &tp->port[kind]);
	gw_info("listening on %s %s:%u", sip_transport_name(kind),
		tp->ua->addr[0] ? tp->ua->addr : "*", tp->port[kind]);
	return 0;
}

int sip_tp_alloc(struct sip_tp **tpp, struct sip_ua *ua,
		 const struct sip_ua_config *cfg)
{
	struct sip_tp *tp;
	int err = ENOMEM;

	*tpp = NULL;
	if (!cfg->tcp && !cfg->tls)
		return 0;
	tp = calloc(1, sizeof(*tp));
	if (!tp)
		return ENOMEM;
	tp->ua = ua;
	tp->max_conns = cfg->tcp_max ? cfg->tcp_max : TP_MAX_CONNS;
	tp->idle_ms = 1000 * (int64_t)(cfg->tcp_idle ? cfg->tcp_idle
					  : TP_IDLE_S);
	tp->rbuf = malloc(SIP_MAX_MSG + 1);
	tp->ev_idle = evtimer_new(ua->base, on_idle, tp);
	tp->ev_reap = event_new(ua->base, -1, 0, on_reap, tp);
	if (!tp->rbuf || !tp->ev_idle || !tp->ev_reap ||
	    sip_hash_init(&tp->conns, 256) || sip_hash_init(&tp->peers, 64))
		goto out;
	if (cfg->tls) {
		err = tls_setup(tp, &cfg->tls_cfg);
		if (err)
			goto out;
	}
	err = cfg->tcp ? listen_on(tp, SIP_TRANSPORT_TCP, cfg->bind_addr,
				   ua->port) : 0;
	if (!err && cfg->tls)
		err = listen_on(tp, SIP_TRANSPORT_TLS, cfg->bind_addr,
				cfg->tls_port);
 out:
	if (err)
		sip_tp_free(tp);
	else
		*tpp = tp;
	return err;
}

void sip_tp_free(struct sip_tp *tp)
{
	struct sip_conn *c;

	if (!tp)
		return;
	for (size_t i = 0; i < TG_ARRAY_SIZE(tp->ls); i++)
		if (tp->ls[i].l)
			evconnlistener_free(tp->ls[i].l);
	for (size_t b = 0; b < tp->conns.nb; b++)
		while (tp->conns.b[b]) {
			c = tp->conns.b[b]->obj;
			sip_hash_del(&tp->conns, &c->hn);
			conn_free(c);
		}
	while ((c = tp->dead)) {
		tp->dead = c->dnext;
		conn_free(c);
	}
	for (size_t b = 0; b < tp->peers.nb; b++)
		while (tp->peers.b[b]) {
			struct sip_peer *p = tp->peers.b[b]->obj;

			sip_hash_del(&tp->peers, &p->hn);
			free(p);
		}
	sip_hash_close(&tp->conns);
	sip_hash_close(&tp->peers);
	if (tp->ev_idle)
		event_free(tp->ev_idle);
	if (tp->ev_reap)
		event_free(tp->ev_reap);
	SSL_CTX_free(tp->srv);
	SSL_CTX_free(tp->cli);
	free(tp->rbuf);
	free(tp);
}
