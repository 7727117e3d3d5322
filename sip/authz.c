/* sip/authz.c  Digest authentication in the UA: challenging new requests
 * of trunks that must authenticate, answering challenges to ours
 *
 * We challenge with 401 and two WWW-Authenticate headers, SHA-256 first
 * and MD5 second (RFC 8760 2.4: the client takes the first it supports),
 * both with qop="auth": only with a nonce-count can a replayed
 * Authorization be told from a new one, so answers without qop are
 * refused.  Which requests must authenticate, and with what password, the
 * gateway says through the digest hook.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sip/sip_int.h"

static uint32_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint32_t)ts.tv_sec;
}

void sip_ua_auth_stats(const struct sip_ua *ua, struct sip_auth_stats *st)
{
	*st = ua->astats;
}

/* The first Authorization of @p req, parsed.  ENOENT none. */
static int read_credentials(const osip_message_t *req, struct sip_digest *d)
{
	osip_authorization_t *a = NULL;
	char *s = NULL;
	int err;

	if (osip_message_get_authorization(req, 0, &a) < 0 || !a)
		return ENOENT;
	if (osip_authorization_to_str(a, &s) || !s)
		return EBADMSG;
	err = sip_digest_parse(d, s, strlen(s));
	osip_free(s);
	return err;
}

static void challenge(struct sip_ua *ua, osip_event_t *evt,
		      const struct sockaddr *src, socklen_t srclen, bool stale,
		      unsigned offer)
{
	static const char *const alg[] = {"SHA-256", "MD5"};
	char nonce[SIP_NONCE_LEN + 1], opaque[17], h[1024];
	size_t n = 0;

	sip_nonce_make(ua->nonces, now_s(), nonce, sizeof(nonce));
	/* The opaque only has to come back; a fresh one per challenge is
	 * as good as any. */
	sip_rand_hex(opaque, 8);
	*h = '\0';
	for (unsigned i = 0; i < 2; i++) {
		if (!(offer & (1u << i)) || n >= sizeof(h))
			continue;
		n += (size_t)snprintf(h + n, sizeof(h) - n,
				      "%sDigest realm=\"%s\", nonce=\"%s\", "
				      "opaque=\"%s\", qop=\"auth\", "
				      "algorithm=%s%s", n ? "\n" : "",
				      ua->realm, nonce, opaque, alg[i],
				      stale ? ", stale=true" : "");
	}
	ua->astats.challenged++;
	sip_ua_refuse_hdr(ua, evt, src, srclen, 401, "WWW-Authenticate", h);
}

/* RFC 7616 3.4.6: the digest-uri must be the request's own target: the
 * same scheme, host and port (sip: without a port is 5060) and, when it
 * names one, the same user.  (SIPp and some phones send the host alone.)
 * An answer captured for one target says nothing about another. */
static bool uri_is_request(const osip_message_t *req, const char *duri)
{
	const osip_uri_t *r = req->req_uri;
	osip_uri_t *d = NULL;
	bool same;

	if (!r || osip_uri_init(&d))
		return false;
	same = !osip_uri_parse(d, duri) && d->scheme && r->scheme &&
	       !strcasecmp(d->scheme, r->scheme) &&
	       (!d->username || !*d->username ||
		!strcmp(d->username, r->username ? r->username : "")) &&
	       d->host && r->host && !strcasecmp(d->host, r->host) &&
	       !strcmp(d->port && *d->port ? d->port : "5060",
		       r->port && *r->port ? r->port : "5060");
	osip_uri_free(d);
	return same;
}

static const char *safe(char *buf, size_t size, const char *s)
{
	size_t n = 0;

	for (; *s && n + 1 < size; s++)
		buf[n++] = (*s > 0x20 && *s < 0x7f) ? *s : '?';
	buf[n] = '\0';
	return buf;
}

int sip_ua_admit(struct sip_ua *ua, osip_event_t *evt,
		 const struct sockaddr *src, socklen_t srclen,
		 const char *method, char *user, size_t usize)
{
	struct sip_digest cr;
	char pw[128] = "", a[64], u[64];
	unsigned offer = SIP_DIGEST_OFFER_SHA256 | SIP_DIGEST_OFFER_MD5;
	const char *why = NULL;
	uint16_t port;
	int err;

	*user = '\0';
	err = ua->digest ? read_credentials(evt->sip, &cr) : ENOENT;
	if (!ua->digest ||
	    !ua->digest(src, srclen, err ? NULL : cr.username, pw, sizeof(pw),
			&offer, ua->arg)) {
		if (ua->authorize && !ua->authorize(src, srclen, method,
						     ua->arg))
			return 403;
		return 0;
	}
	sip_addr_str(src, a, sizeof(a), &port);
	if (!(offer & (SIP_DIGEST_OFFER_SHA256 | SIP_DIGEST_OFFER_MD5)))
		offer = SIP_DIGEST_OFFER_SHA256 | SIP_DIGEST_OFFER_MD5;
	if (err == ENOENT) {
		challenge(ua, evt, src, srclen, false, offer);
		return -1;
	}
	if (err == ENOTSUP || (!err && !(offer & (cr.alg == SIP_DIGEST_SHA256
						   ? SIP_DIGEST_OFFER_SHA256
						   : SIP_DIGEST_OFFER_MD5))))
		why = "an algorithm we do not offer";
	else if (err)
		why = "an unreadable Authorization";
	else if (strcmp(cr.realm, ua->realm))
		why = "another realm";
	else if (!cr.qop_auth)
		why = "no qop=auth";
	else if (!uri_is_request(evt->sip, cr.uri))
		why = "a uri= that is not the Request-URI";
	else if (!*pw)
		why = "unknown user";
	if (!why) {
		switch (sip_nonce_use(ua->nonces, cr.nonce, cr.nc, now_s(),
				      ua->nonce_ttl)) {
		case 0:
			break;
		case ESTALE:
			/* RFC 7616 3.3: the client retries without asking
			 * its user. */
			gw_info("%s from %s:%u (user %s): stale nonce, "
				"challenged again", method, a, port,
				safe(u, sizeof(u), cr.username));
			ua->astats.stale++;
			challenge(ua, evt, src, srclen, true, offer);
			return -1;
		case EALREADY:
			gw_notice("%s from %s:%u (user %s): digest "
				  "refused: bad nc %s (replayed)", method, a,
				  port, safe(u, sizeof(u), cr.username),
				  cr.nc);
			ua->astats.replayed++;
			challenge(ua, evt, src, srclen, false, offer);
			return -1;
		default:
			why = "a nonce that is not ours";
			break;
		}
	}
	if (!why && !sip_digest_check(&cr, method, pw))
		why = "wrong password";
	if (why) {
		char du[96];

		gw_notice("%s from %s:%u (user %s): digest refused: %s%s%s%s",
			  method, a, port, safe(u, sizeof(u), cr.username),
			  why, strstr(why, "uri=") ? " (" : "",
			  strstr(why, "uri=") ? safe(du, sizeof(du), cr.uri)
					      : "",
			  strstr(why, "uri=") ? ")" : "");
		ua->astats.failed++;
		return 403;
	}
	ua->astats.accepted++;
	tg_strlcpy(user, cr.username, usize);
	return 0;
}

/* The first challenge of @p resp we can answer. */
static int pick_challenge(const osip_message_t *resp, bool proxy,
			  struct sip_digest *ch)
{
	osip_www_authenticate_t *w;
	int err = ENOENT;

	for (int i = 0;; i++) {
		char *s = NULL;

		w = NULL;
		if (proxy)
			osip_message_get_proxy_authenticate(resp, i, &w);
		else
			osip_message_get_www_authenticate(resp, i, &w);
		if (!w)
			return err;
		if (osip_www_authenticate_to_str(w, &s) || !s)
			continue;
		err = sip_digest_parse(ch, s, strlen(s));
		osip_free(s);
		if (!err && !ch->qop_other)
			return 0;
		err = err ? err : ENOTSUP;
	}
}

int sip_auth_add(struct sip_ua *ua, const osip_message_t *resp,
		 osip_message_t *req, const char *user, const char *password,
		 const char *realm, char *last_nonce, size_t nsize)
{
	bool proxy = resp->status_code == 407;
	struct sip_digest ch;
	char cnonce[17], val[1024], *uri = NULL;
	int err;

	if (!user || !*user || !password)
		return EACCES;
	if (pick_challenge(resp, proxy, &ch)) {
		gw_info("%s: %d with no challenge we can answer",
			req->sip_method, resp->status_code);
		return EACCES;
	}
	if (realm && *realm && strcmp(realm, ch.realm)) {
		gw_info("%s: %d for realm \"%s\", our credentials are for "
			"\"%s\"", req->sip_method, resp->status_code,
			ch.realm, realm);
		return EACCES;
	}
	if (!strcmp(last_nonce, ch.nonce) || (*last_nonce && !ch.stale)) {
		/* RFC 7616 3.3: a new challenge that is not stale says
		 * our credentials were refused. */
		gw_notice("%s: %d again for user %s in realm \"%s\": "
			  "credentials refused", req->sip_method,
			  resp->status_code, user, ch.realm);
		return EACCES;
	}
	tg_strlcpy(last_nonce, ch.nonce, nsize);
	if (osip_uri_to_str(req->req_uri, &uri) || !uri)
		return ENOMEM;
	sip_rand_hex(cnonce, 8);
	err = sip_digest_answer(val, sizeof(val), &ch, user, password,
				req->sip_method, uri, 1, cnonce);
	osip_free(uri);
	if (err)
		return err == ENOTSUP ? EACCES : err;
	if (osip_message_set_header(req, proxy ? "Proxy-Authorization"
					       : "Authorization", val))
		return ENOMEM;
	ua->astats.answered++;
	return 0;
}
