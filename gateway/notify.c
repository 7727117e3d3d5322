/* gateway/notify.c  Telling the building about an emergency call
 *
 * Kari's Law (47 CFR 9.16) wants a notification to a central point when
 * someone dials 911 from a multi-line system, without delaying the call.
 * Each configured URL gets an HTTP POST with a JSON body as the call
 * starts; a failed delivery is retried with back-off on the loop's
 * timers.  Nothing here can hold up or fail the call itself.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

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
	char *body;
	unsigned tries;
	struct event *retry;
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
	free(j->body);
	free(j);
}

static void send_job(struct gw_notify *j);

static void on_done(struct evhttp_request *req, void *arg)
{
	struct gw_notify *j = arg;
	int code = req ? evhttp_request_get_response_code(req) : 0;
	struct timeval tv;

	/* The connection frees itself once this request is complete. */
	j->conn = NULL;
	if (code >= 200 && code < 300) {
		gw_info("emergency notification delivered to %s (%d)", j->url,
			code);
		job_free(j);
		return;
	}
	if (++j->tries >= NOTIFY_TRIES) {
		gw_err("emergency notification to %s failed %u times (last: "
		       "%s%d); given up", j->url, j->tries,
		       code ? "HTTP " : "no answer ", code);
		job_free(j);
		return;
	}
	/* 1, 2, 4, 8 s: the building hears about it even if its web hook
	 * was restarting. */
	tv.tv_sec = 1 << (j->tries - 1);
	tv.tv_usec = 0;
	gw_warn("emergency notification to %s: %s%d; trying again in %ld s",
		j->url, code ? "HTTP " : "no answer ", code, (long)tv.tv_sec);
	evtimer_add(j->retry, &tv);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	send_job(arg);
}

static void send_job(struct gw_notify *j)
{
	struct evhttp_request *req;
	struct evkeyvalq *h;
	char len[24];

	j->conn = evhttp_connection_base_new(j->gw->base, NULL, j->host,
					     (unsigned short)j->port);
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
		return;
	}
	evhttp_connection_free_on_completion(j->conn);
}

/* http://host[:port]/path only: the loop has no TLS client yet. */
static int url_split(struct gw_notify *j, const char *url)
{
	struct evhttp_uri *u = evhttp_uri_parse(url);
	const char *host, *path, *q;
	int rc = EINVAL;

	if (!u)
		return EINVAL;
	host = evhttp_uri_get_host(u);
	path = evhttp_uri_get_path(u);
	q = evhttp_uri_get_query(u);
	if (evhttp_uri_get_scheme(u) &&
	    !strcmp(evhttp_uri_get_scheme(u), "http") && host && *host &&
	    strlen(host) < sizeof(j->host)) {
		strcpy(j->host, host);
		j->port = evhttp_uri_get_port(u) > 0 ? evhttp_uri_get_port(u)
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
		if (!j->retry || !j->body || url_split(j, j->url)) {
			gw_err("emergency notification to %s: cannot send",
			       j->url);
			if (j->retry)
				event_free(j->retry);
			free(j->body);
			free(j);
			continue;
		}
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

		/* Freeing a connection frees its request without calling
		 * back (libevent 2.1). */
		if (j->conn)
			evhttp_connection_free(j->conn);
		gw_warn("emergency notification to %s dropped at shut-down "
			"after %u tries", j->url, j->tries);
		job_free(j);
	}
}
