/* sip/auth.c  HTTP digest for SIP (RFC 2617, RFC 7616, RFC 8760)
 *
 * Pure apart from the hash functions (OpenSSL's libcrypto) and the
 * secret's random bytes.  The server keeps no state per nonce to know it
 * is ours and how old it is: a nonce is its issue time and a sequence
 * number with an HMAC of both under a per-process secret.  What it must
 * remember, the last nonce-count used with each nonce (replay protection
 * for qop=auth), lives in a fixed table; a nonce evicted from it reads
 * as stale, so the client simply retries with a fresh one.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "sip/auth.h"

/* ---- parsing -------------------------------------------------------------- */

static bool is_lws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_token(char c)
{
	return isalnum((unsigned char)c) || (c && strchr("-.!%*_+`'~", c));
}

/* Copy a quoted-string or token value at *pp into out; EBADMSG when it
 * is malformed or does not fit. */
static int take_value(const char **pp, const char *end, char *out,
		      size_t size)
{
	const char *p = *pp;
	size_t n = 0;

	if (p < end && *p == '"') {
		for (p++; p < end && *p != '"'; p++) {
			if (*p == '\\' && p + 1 < end)
				p++;
			if (!*p || n + 1 >= size)
				return EBADMSG;
			out[n++] = *p;
		}
		if (p >= end)
			return EBADMSG;
		p++;
	} else {
		for (; p < end && *p != ',' && !is_lws(*p); p++) {
			if (!*p || *p == '"' || n + 1 >= size)
				return EBADMSG;
			out[n++] = *p;
		}
		if (!n)
			return EBADMSG;
	}
	out[n] = '\0';
	*pp = p;
	return 0;
}

/* Does the comma list @p list hold the token @p tok? */
static bool list_has(const char *list, const char *tok)
{
	size_t tl = strlen(tok);

	for (const char *p = list; *p;) {
		size_t n;

		while (*p == ',' || is_lws(*p))
			p++;
		n = strcspn(p, ", \t");
		if (n == tl && !strncasecmp(p, tok, tl))
			return true;
		p += n;
	}
	return false;
}

static int set_param(struct sip_digest *d, const char *k, size_t kl,
		     const char *v)
{
	struct {
		const char *name;
		char *field;
		size_t size;
	} f[] = {
		{"username", d->username, sizeof(d->username)},
		{"realm", d->realm, sizeof(d->realm)},
		{"nonce", d->nonce, sizeof(d->nonce)},
		{"uri", d->uri, sizeof(d->uri)},
		{"response", d->response, sizeof(d->response)},
		{"cnonce", d->cnonce, sizeof(d->cnonce)},
		{"opaque", d->opaque, sizeof(d->opaque)},
		{"nc", d->nc, sizeof(d->nc)},
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		if (strlen(f[i].name) != kl || strncasecmp(k, f[i].name, kl))
			continue;
		if (strlen(v) >= f[i].size)
			return EBADMSG;
		strcpy(f[i].field, v);
		return 0;
	}
	if (kl == 9 && !strncasecmp(k, "algorithm", kl)) {
		if (!strcasecmp(v, "MD5"))
			d->alg = SIP_DIGEST_MD5;
		else if (!strcasecmp(v, "SHA-256"))
			d->alg = SIP_DIGEST_SHA256;
		else
			return ENOTSUP;
	} else if (kl == 5 && !strncasecmp(k, "stale", kl)) {
		d->stale = !strcasecmp(v, "true");
	} else if (kl == 3 && !strncasecmp(k, "qop", kl)) {
		d->qop_auth = list_has(v, "auth");
		d->qop_other = !d->qop_auth;
	}
	return 0;
}

int sip_digest_parse(struct sip_digest *d, const char *val, size_t len)
{
	const char *p = val, *end = val + len;
	char v[256];
	int err, ret = 0;

	memset(d, 0, sizeof(*d));
	while (p < end && is_lws(*p))
		p++;
	if (end - p < 6 || strncasecmp(p, "Digest", 6) ||
	    (end - p > 6 && !is_lws(p[6])))
		return ENOTSUP;
	p += 6;
	for (;;) {
		const char *k;
		size_t kl;

		while (p < end && (is_lws(*p) || *p == ','))
			p++;
		if (p >= end)
			break;
		for (k = p; p < end && is_token(*p); p++)
			;
		kl = (size_t)(p - k);
		while (p < end && is_lws(*p))
			p++;
		if (!kl || p >= end || *p != '=')
			return EBADMSG;
		for (p++; p < end && is_lws(*p); p++)
			;
		err = take_value(&p, end, v, sizeof(v));
		if (!err)
			err = set_param(d, k, kl, v);
		if (err == ENOTSUP)
			ret = ENOTSUP;
		else if (err)
			return err;
		while (p < end && is_lws(*p))
			p++;
		if (p < end && *p != ',')
			return EBADMSG;
	}
	return ret;
}

/* ---- hashing --------------------------------------------------------------- */

static int hash_hex(char out[SIP_DIGEST_HEX], enum sip_digest_alg alg,
		    const char *s)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(s, strlen(s), md, &n,
			alg == SIP_DIGEST_SHA256 ? EVP_sha256() : EVP_md5(),
			NULL))
		return ENOMEM;
	for (unsigned i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	out[2 * n] = '\0';
	return 0;
}

int sip_digest_compute(char out[SIP_DIGEST_HEX], enum sip_digest_alg alg,
		       const char *user, const char *realm,
		       const char *password, const char *method,
		       const char *uri, const char *nonce, const char *nc,
		       const char *cnonce, const char *qop)
{
	char ha1[SIP_DIGEST_HEX], ha2[SIP_DIGEST_HEX], *s = NULL;
	int err;

	if (asprintf(&s, "%s:%s:%s", user, realm, password) < 0)
		return ENOMEM;
	err = hash_hex(ha1, alg, s);
	free(s);
	if (err || asprintf(&s, "%s:%s", method, uri) < 0)
		return ENOMEM;
	err = hash_hex(ha2, alg, s);
	free(s);
	if (err)
		return err;
	if (qop)
		err = asprintf(&s, "%s:%s:%s:%s:%s:%s", ha1, nonce, nc, cnonce,
			       qop, ha2);
	else
		err = asprintf(&s, "%s:%s:%s", ha1, nonce, ha2);
	if (err < 0)
		return ENOMEM;
	err = hash_hex(out, alg, s);
	free(s);
	return err;
}

/* A quoted-string of @p s (RFC 3261 25.1: \ and " escaped). */
static void quote(char *out, size_t size, const char *s)
{
	size_t n = 0;

	if (size < 3) {
		if (size)
			*out = '\0';
		return;
	}
	out[n++] = '"';
	for (; *s && n + 3 < size; s++) {
		if (*s == '"' || *s == '\\')
			out[n++] = '\\';
		out[n++] = *s;
	}
	out[n++] = '"';
	out[n] = '\0';
}

int sip_digest_answer(char *out, size_t size, const struct sip_digest *ch,
		      const char *user, const char *password,
		      const char *method, const char *uri, uint32_t nc,
		      const char *cnonce)
{
	char resp[SIP_DIGEST_HEX], ncs[9], qu[300], qr[300], qn[300], qc[300],
		qo[300], qi[600];
	int n;

	if (ch->qop_other)
		return ENOTSUP; /* auth-int only: we do not hash bodies */
	snprintf(ncs, sizeof(ncs), "%08x", nc);
	if (sip_digest_compute(resp, ch->alg, user, ch->realm, password,
			       method, uri, ch->nonce, ncs, cnonce,
			       ch->qop_auth ? "auth" : NULL))
		return ENOMEM;
	quote(qu, sizeof(qu), user);
	quote(qr, sizeof(qr), ch->realm);
	quote(qn, sizeof(qn), ch->nonce);
	quote(qi, sizeof(qi), uri);
	n = snprintf(out, size,
		     "Digest username=%s, realm=%s, nonce=%s, uri=%s, "
		     "response=\"%s\", algorithm=%s",
		     qu, qr, qn, qi, resp,
		     ch->alg == SIP_DIGEST_SHA256 ? "SHA-256" : "MD5");
	if (n < 0 || (size_t)n >= size)
		return ENOSPC;
	if (ch->opaque[0]) {
		quote(qo, sizeof(qo), ch->opaque);
		n += snprintf(out + n, size - (size_t)n, ", opaque=%s", qo);
		if ((size_t)n >= size)
			return ENOSPC;
	}
	if (ch->qop_auth) {
		quote(qc, sizeof(qc), cnonce);
		n += snprintf(out + n, size - (size_t)n,
			      ", qop=auth, nc=%s, cnonce=%s", ncs, qc);
		if ((size_t)n >= size)
			return ENOSPC;
	}
	return 0;
}

bool sip_digest_check(const struct sip_digest *cr, const char *method,
		      const char *password)
{
	char want[SIP_DIGEST_HEX];
	unsigned char diff = 0;
	size_t n;

	if (sip_digest_compute(want, cr->alg, cr->username, cr->realm,
			       password, method, cr->uri, cr->nonce, cr->nc,
			       cr->cnonce, cr->qop_auth ? "auth" : NULL))
		return false;
	n = strlen(want);
	if (strlen(cr->response) != n)
		return false;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(want[i] ^
					tolower((unsigned char)cr->response[i]));
	return diff == 0;
}

/* ---- nonces ---------------------------------------------------------------- */

int sip_nonces_init(struct sip_nonces *ns)
{
	memset(ns, 0, sizeof(*ns));
	return RAND_bytes(ns->secret, sizeof(ns->secret)) == 1 ? 0 : EIO;
}

static void nonce_mac(const struct sip_nonces *ns, const char *head,
		      char out[33])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	HMAC(EVP_sha256(), ns->secret, sizeof(ns->secret),
	     (const unsigned char *)head, 16, md, &n);
	for (unsigned i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
	out[32] = '\0';
}

void sip_nonce_make(struct sip_nonces *ns, uint32_t now, char *out,
		    size_t size)
{
	char buf[SIP_NONCE_LEN + 1];

	snprintf(buf, sizeof(buf), "%08x%08x", now, ns->seq++);
	nonce_mac(ns, buf, buf + 16);
	snprintf(out, size, "%s", buf);
}

int sip_nonce_use(struct sip_nonces *ns, const char *nonce, const char *nc,
		  uint32_t now, uint32_t ttl)
{
	char mac[33], *end;
	unsigned long cnt;
	struct sip_nonce_slot *s;
	uint32_t t;
	unsigned char diff = 0;

	if (strlen(nonce) != SIP_NONCE_LEN)
		return EINVAL;
	for (int i = 0; i < SIP_NONCE_LEN; i++)
		if (!isxdigit((unsigned char)nonce[i]))
			return EINVAL;
	nonce_mac(ns, nonce, mac);
	for (int i = 0; i < 32; i++)
		diff |= (unsigned char)(mac[i] ^ nonce[16 + i]);
	if (diff)
		return EINVAL;
	t = 0;
	for (int i = 0; i < 8; i++)
		t = t << 4 | (uint32_t)(isdigit((unsigned char)nonce[i])
			? nonce[i] - '0'
			: (tolower((unsigned char)nonce[i]) - 'a' + 10));
	if (now - t > ttl)
		return ESTALE;
	errno = 0;
	cnt = strtoul(nc, &end, 16);
	if (!*nc || *end || errno || cnt == 0 || cnt > UINT32_MAX)
		return EALREADY;
	for (unsigned i = 0; i < SIP_NONCE_SLOTS; i++) {
		s = &ns->slot[i];
		if (strcmp(s->nonce, nonce))
			continue;
		if (cnt <= s->nc)
			return EALREADY;
		s->nc = (uint32_t)cnt;
		return 0;
	}
	if (t <= ns->floor && ns->floor)
		return ESTALE;
	s = &ns->slot[ns->next];
	ns->next = (ns->next + 1) % SIP_NONCE_SLOTS;
	if (s->nonce[0] && s->t > ns->floor)
		ns->floor = s->t;
	snprintf(s->nonce, sizeof(s->nonce), "%s", nonce);
	s->nc = (uint32_t)cnt;
	s->t = t;
	return 0;
}
