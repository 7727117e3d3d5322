/* gateway/notify.c  Telling the building about an emergency call
 *
 * Kari's Law (47 CFR 9.16) wants a notification to a central point when
 * someone dials 911 from a multi-line system, without delaying the call.
 * Each configured URL gets an HTTP POST with a JSON body as the call
 * starts; a failed delivery is retried with back-off on the loop's
 * timers.  Nothing here can hold up or fail the call itself.
 *
 * https:// URLs go over TLS 1.2 or later (libevent's OpenSSL bufferevent
 * under evhttp): the server's certificate is checked against [e911]
 * notify_ca or the system store and must name the URL's host.  One
 * SSL_CTX is built with the config; each job holds a reference to the one
 * in force when it started, so a reload never pulls it away.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/dns.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define LOG_MODULE "e911"
#include "util/util.h"
#include "gw.h"

#define NOTIFY_TRIES 5

struct gw_notify {
	struct gw_notify *next;
	struct gw *gw;
	char url[256];
	char host[128];
	char path[256];
	int port;
	bool https;
	SSL_CTX *tls;               /* a reference, for https:// */
	long verify_err;            /* this try's first certificate error */
	int alert;                  /* ... or the server's TLS alert + 1 */
	char *body;
	unsigned tries;
	bool answered;              /* this try's outcome is in */
	bool finished;              /* delivered or given up: reap it */
	struct event *retry;        /* the next try, or the reaping */
	/* Ours, freed from the timer after its request is over: libevent
	 * 2.1 does not free a failed connection on completion, and freeing
	 * it in its own callback is not safe. */
	struct evhttp_connection *conn;
};

static void job_free(struct gw_notify *j)
{
	struct gw_notify **pp;

	for (pp = &j->gw->notify; *pp; pp = &(*pp)->next)
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	if (j->retry)
		event_free(j->retry);
	/* Freeing a connection frees its request without calling back
	 * (libevent 2.1). */
	if (j->conn)
		evhttp_connection_free(j->conn);
	SSL_CTX_free(j->tls);
	free(j->body);
	free(j);
}

static void send_job(struct gw_notify *j);

/* Why this try failed, for the log. */
static const char *why(const struct gw_notify *j, int code, char *buf,
		       size_t size)
{
	if (code)
		snprintf(buf, size, "HTTP %d", code);
	else if (j->verify_err)
		snprintf(buf, size, "certificate verify failed: %s",
			 X509_verify_cert_error_string(j->verify_err));
	else if (j->alert == SSL_AD_CERTIFICATE_REQUIRED + 1)
		/* OpenSSL 3.0 has no name for this TLS 1.3 alert. */
		snprintf(buf, size, "TLS alert from the server: certificate "
			 "required");
	else if (j->alert)
		snprintf(buf, size, "TLS alert from the server: %s",
			 SSL_alert_desc_string_long(j->alert - 1));
	else
		snprintf(buf, size, "no answer");
	return buf;
}

static void on_done(struct evhttp_request *req, void *arg)
{
	struct gw_notify *j = arg;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	struct timeval tv = {0, 0};
	char buf[160];

	/* libevent may report a failed try from inside make_request and
	 * we report it again when that returns: count it once. */
	if (j->answered)
		return;
	j->answered = true;
	if (code >= 200 && code < 300) {
		gw_info("emergency notification delivered to %s (%d)", j->url,
			code);
		j->finished = true;
		evtimer_add(j->retry, &tv);
		return;
	}
	if (++j->tries >= NOTIFY_TRIES) {
		gw_err("emergency notification to %s failed %u times (last: "
		       "%s); given up", j->url, j->tries,
		       why(j, code, buf, sizeof(buf)));
		j->finished = true;
		evtimer_add(j->retry, &tv);
		return;
	}
	/* 1, 2, 4, 8 s: the building hears about it even if its web hook
	 * was restarting. */
	tv.tv_sec = 1 << (j->tries - 1);
	tv.tv_usec = 0;
	gw_warn("emergency notification to %s: %s; trying again in %ld s",
		j->url, why(j, code, buf, sizeof(buf)), (long)tv.tv_sec);
	evtimer_add(j->retry, &tv);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct gw_notify *j = arg;

	(void)fd;
	(void)what;
	if (j->finished)
		job_free(j);
	else
		send_job(j);
}

/* The first certificate error of the chain is the one worth logging. */
static int on_verify(int ok, X509_STORE_CTX *x)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(
		x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct gw_notify *j = ssl ? SSL_get_app_data(ssl) : NULL;

	if (!ok && j && !j->verify_err)
		j->verify_err = X509_STORE_CTX_get_error(x);
	return ok;
}

/* A server that refuses us (no client certificate, say) says so in an
 * alert. */
static void on_tls_info(const SSL *ssl, int where, int ret)
{
	struct gw_notify *j = SSL_get_app_data(ssl);

	if ((where & SSL_CB_READ_ALERT) == SSL_CB_READ_ALERT && j &&
	    !j->alert)
		j->alert = (ret & 0xff) + 1;
}

/* An https:// connection: SNI and the name the certificate must carry are
 * the URL's host (an IP address is matched against the IP SANs). */
static struct evhttp_connection *tls_conn(struct gw_notify *j)
{
	struct evhttp_connection *conn = NULL;
	struct bufferevent *bev = NULL;
	unsigned char ip[sizeof(struct in6_addr)];
	char host[sizeof(j->host)];
	SSL *ssl = SSL_new(j->tls);
	size_t n = strlen(j->host);
	bool literal;

	if (!ssl)
		goto out;
	/* evhttp keeps an IPv6 literal's brackets. */
	if (j->host[0] == '[' && n > 2 && j->host[n - 1] == ']')
		snprintf(host, sizeof(host), "%.*s", (int)(n - 2), j->host + 1);
	else
		tg_strlcpy(host, j->host, sizeof(host));
	literal = inet_pton(AF_INET, host, ip) == 1 ||
		  inet_pton(AF_INET6, host, ip) == 1;
	SSL_set_app_data(ssl, j);
	SSL_set_verify(ssl, SSL_VERIFY_PEER, on_verify);
	SSL_set_info_callback(ssl, on_tls_info);
	if (literal ? !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
						     host)
		    : !SSL_set1_host(ssl, host) ||
			      !SSL_set_tlsext_host_name(ssl, host))
		goto out;
	bev = bufferevent_openssl_socket_new(j->gw->base, -1, ssl,
					     BUFFEREVENT_SSL_CONNECTING,
					     BEV_OPT_CLOSE_ON_FREE |
						     BEV_OPT_DEFER_CALLBACKS);
	if (!bev)
		goto out;
	ssl = NULL;  /* the bufferevent's now */
	/* The hook may close without a close_notify once it has answered. */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	conn = evhttp_connection_base_bufferevent_new(j->gw->base,
						      j->gw->notify_dns, bev,
						      j->host,
						      (unsigned short)j->port);
 out:
	if (!conn && bev)
		bufferevent_free(bev);
	SSL_free(ssl);
	ERR_clear_error();
	return conn;
}

static void send_job(struct gw_notify *j)
{
	struct evhttp_request *req;
	struct evkeyvalq *h;
	char len[24];

	j->verify_err = 0;
	j->alert = 0;
	j->answered = false;
	if (j->conn)
		evhttp_connection_free(j->conn);
	/* Names are resolved without blocking the loop: a slow or dead DNS
	 * server must not hold up the emergency call this is about. */
	if (!j->gw->notify_dns)
		j->gw->notify_dns = evdns_base_new(
			j->gw->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (!j->gw->notify_dns) {
		gw_err("emergency notification to %s: no resolver", j->url);
		j->conn = NULL;
	} else if (j->https) {
		j->conn = tls_conn(j);
	} else {
		j->conn = evhttp_connection_base_new(j->gw->base,
						     j->gw->notify_dns,
						     j->host,
						     (unsigned short)j->port);
	}
	req = j->conn ? evhttp_request_new(on_done, j) : NULL;
	if (!req) {
		if (j->conn)
			evhttp_connection_free(j->conn);
		j->conn = NULL;
		on_done(NULL, j);
		return;
	}
	evhttp_connection_set_timeout(j->conn, 5);
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", j->host);
	/* One request a connection: evhttp closes it once answered. */
	evhttp_add_header(h, "Connection", "close");
	evhttp_add_header(h, "Content-Type", "application/json");
	snprintf(len, sizeof(len), "%zu", strlen(j->body));
	evhttp_add_header(h, "Content-Length", len);
	evbuffer_add(evhttp_request_get_output_buffer(req), j->body,
		     strlen(j->body));
	if (evhttp_make_request(j->conn, req, EVHTTP_REQ_POST, j->path)) {
		/* The request is freed by libevent on failure. */
		evhttp_connection_free(j->conn);
		j->conn = NULL;
		on_done(NULL, j);
	}
}

/* http:// or https://host[:port]/path. */
static int url_split(struct gw_notify *j, const char *url)
{
	struct evhttp_uri *u = evhttp_uri_parse(url);
	const char *scheme, *host, *path, *q;
	int rc = EINVAL;

	if (!u)
		return EINVAL;
	scheme = evhttp_uri_get_scheme(u);
	host = evhttp_uri_get_host(u);
	path = evhttp_uri_get_path(u);
	q = evhttp_uri_get_query(u);
	j->https = scheme && !strcmp(scheme, "https");
	if (scheme && (j->https || !strcmp(scheme, "http")) && host &&
	    *host && strlen(host) < sizeof(j->host)) {
		strcpy(j->host, host);
		j->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u)
			  : j->https			     ? 443
							     : 80;
		snprintf(j->path, sizeof(j->path), "%s%s%s",
			 path && *path ? path : "/", q ? "?" : "", q ? q : "");
		rc = 0;
	}
	evhttp_uri_free(u);
	return rc;
}

static char *note_json(const struct gw_emergency_note *n)
{
	struct evbuffer *b = evbuffer_new();
	char when[32], addr[320];
	struct tm tm;
	time_t now = time(NULL);
	char *out = NULL;
	size_t len;

	if (!b)
		return NULL;
	gmtime_r(&now, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
	evbuffer_add_printf(b, "{\"event\":\"%s\",\"time\":\"%s\","
			    "\"call_id\":", n->test ? "emergency_test"
						    : "emergency", when);
	gw_json_str(b, n->call_id);
	evbuffer_add_printf(b, ",\"caller\":");
	gw_json_str(b, n->caller);
	evbuffer_add_printf(b, ",\"trunk\":");
	gw_json_str(b, n->trunk);
	evbuffer_add_printf(b, ",\"dialled\":");
	gw_json_str(b, n->called);
	evbuffer_add_printf(b, ",\"callback_number\":");
	gw_json_str(b, n->elin);
	evbuffer_add_printf(b, ",\"zone\":");
	gw_json_str(b, n->zone);
	if (n->where) {
		e911_address_line(n->where, addr, sizeof(addr));
		evbuffer_add_printf(b, ",\"address\":");
		gw_json_str(b, addr);
		evbuffer_add_printf(b, ",\"floor\":");
		gw_json_str(b, n->where->flr);
		evbuffer_add_printf(b, ",\"room\":");
		gw_json_str(b, n->where->room);
	}
	evbuffer_add(b, "}", 1);
	len = evbuffer_get_length(b);
	out = malloc(len + 1);
	if (out) {
		evbuffer_remove(b, out, len);
		out[len] = '\0';
	}
	evbuffer_free(b);
	return out;
}

/* One line for a console (SIP MESSAGE). */
static void note_text(const struct gw_emergency_note *n, char *out,
		      size_t size)
{
	char addr[320] = "";

	if (n->where)
		e911_address_line(n->where, addr, sizeof(addr));
	snprintf(out, size, "%s call from %s (trunk %s) to %s; callback %s; "
		 "zone %s; location: %s",
		 n->test ? "EMERGENCY TEST" : "EMERGENCY", n->caller, n->trunk,
		 n->called, *n->elin ? n->elin : n->caller,
		 *n->zone ? n->zone : "(none)", *addr ? addr : "(unknown)");
}

void gw_notify_emergency(struct gw *gw, const struct gw_emergency_note *n)
{
	char *body = NULL;

	if (*gw->cfg.notify_sip_user) {
		char text[600];
		int e;

		note_text(n, text, sizeof(text));
		e = sip_ua_message(gw->ua,
				   (const struct sockaddr *)&gw->cfg.notify_sip,
				   gw->cfg.notify_sip_len, "tollgate",
				   gw->cfg.notify_sip_user, text);
		if (e)
			gw_err("emergency notification by SIP MESSAGE to %s: "
			       "%s", gw->cfg.notify_sip_user, strerror(e));
	}

	for (unsigned i = 0; i < gw->cfg.nnotify; i++) {
		struct gw_notify *j = calloc(1, sizeof(*j));

		if (!body)
			body = note_json(n);
		if (!j || !body) {
			free(j);
			gw_err("emergency notification: out of memory");
			break;
		}
		j->gw = gw;
		tg_strlcpy(j->url, gw->cfg.notify[i], sizeof(j->url));
		j->retry = evtimer_new(gw->base, on_retry, j);
		j->body = strdup(body);
		if (!j->retry || !j->body || url_split(j, j->url) ||
		    (j->https && (!gw->notify_tls ||
				  !SSL_CTX_up_ref(gw->notify_tls)))) {
			gw_err("emergency notification to %s: cannot send",
			       j->url);
			if (j->retry)
				event_free(j->retry);
			free(j->body);
			free(j);
			continue;
		}
		if (j->https)
			j->tls = gw->notify_tls;
		j->next = gw->notify;
		gw->notify = j;
		send_job(j);
	}
	free(body);
}

void gw_notify_stop(struct gw *gw)
{
	while (gw->notify) {
		struct gw_notify *j = gw->notify;

		if (!j->finished)
			gw_warn("emergency notification to %s dropped at "
				"shut-down after %u tries", j->url, j->tries);
		job_free(j);
	}
	if (gw->notify_dns) {
		evdns_base_free(gw->notify_dns, 1);
		gw->notify_dns = NULL;
	}
}

/* "file:line: key: path: reason", the reason OpenSSL's first. */
static int tls_fail(char *err, size_t errsize, const struct gw_config *cfg,
		    int line, const char *key, const char *path,
		    const char *what)
{
	unsigned long e = ERR_peek_error();
	const char *reason = e ? ERR_reason_error_string(e) : NULL;

	snprintf(err, errsize, "%s:%d: %s: %s: %s%s%s", cfg->path, line, key,
		 path, what, reason ? ": " : "", reason ? reason : "");
	ERR_clear_error();
	return EINVAL;
}

int gw_notify_tls_new(SSL_CTX **ctxp, const struct gw_config *cfg,
		      char *err, size_t errsize)
{
	const char *key = *cfg->notify_key ? cfg->notify_key
					   : cfg->notify_cert;
	int key_line = *cfg->notify_key ? cfg->notify_key_line
					: cfg->notify_cert_line;
	const char *key_name = *cfg->notify_key ? "notify_key"
						: "notify_cert";
	bool https = *cfg->notify_ca || *cfg->notify_cert;
	SSL_CTX *ctx = NULL;
	FILE *f;
	int rc = 0;

	for (unsigned i = 0; i < cfg->nnotify; i++)
		https = https || !strncmp(cfg->notify[i], "https://", 8);
	if (!https)
		goto out;
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION)) {
		snprintf(err, errsize, "[e911]: cannot set up TLS");
		rc = ENOMEM;
		goto out;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	/* fopen first: "No such file or directory" says more than the
	 * OpenSSL error stack does. */
	if (*cfg->notify_ca) {
		f = fopen(cfg->notify_ca, "r");
		if (!f) {
			rc = tls_fail(err, errsize, cfg, cfg->notify_ca_line,
				      "notify_ca", cfg->notify_ca,
				      strerror(errno));
			goto out;
		}
		fclose(f);
		if (!SSL_CTX_load_verify_locations(ctx, cfg->notify_ca,
						   NULL)) {
			rc = tls_fail(err, errsize, cfg, cfg->notify_ca_line,
				      "notify_ca", cfg->notify_ca,
				      "no PEM certificates");
			goto out;
		}
	} else if (!SSL_CTX_set_default_verify_paths(ctx)) {
		snprintf(err, errsize, "[e911]: cannot load the system CA "
			 "store");
		rc = EINVAL;
		goto out;
	}
	if (!*cfg->notify_cert)
		goto out;
	f = fopen(cfg->notify_cert, "r");
	if (!f) {
		rc = tls_fail(err, errsize, cfg, cfg->notify_cert_line,
			      "notify_cert", cfg->notify_cert,
			      strerror(errno));
		goto out;
	}
	fclose(f);
	if (!SSL_CTX_use_certificate_chain_file(ctx, cfg->notify_cert)) {
		rc = tls_fail(err, errsize, cfg, cfg->notify_cert_line,
			      "notify_cert", cfg->notify_cert,
			      "not a PEM certificate");
		goto out;
	}
	f = fopen(key, "r");
	if (!f) {
		rc = tls_fail(err, errsize, cfg, key_line, key_name, key,
			      strerror(errno));
		goto out;
	}
	fclose(f);
	/* OpenSSL checks the key against the certificate here too. */
	if (!SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) ||
	    !SSL_CTX_check_private_key(ctx)) {
		rc = tls_fail(err, errsize, cfg, key_line, key_name, key,
			      *cfg->notify_key ? "not a PEM private key of "
						 "notify_cert"
					       : "no PEM private key of its "
						 "certificate (see "
						 "notify_key)");
		goto out;
	}
 out:
	if (rc) {
		SSL_CTX_free(ctx);
		ctx = NULL;
	}
	ERR_clear_error();
	*ctxp = ctx;
	return rc;
}

void gw_notify_tls_free(SSL_CTX *ctx)
{
	SSL_CTX_free(ctx);
}
