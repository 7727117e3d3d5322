/* sip/sdes.c  SDES a=crypto lines (RFC 4568): parse, print */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sip/sip.h"
#include "sip/sip_int.h"

static const struct {
	const char *name;
	size_t key_len;
} suites[] = {
	[SIP_SRTP_AES_CM_128_HMAC_SHA1_80] = {"AES_CM_128_HMAC_SHA1_80", 30},
	[SIP_SRTP_AES_CM_128_HMAC_SHA1_32] = {"AES_CM_128_HMAC_SHA1_32", 30},
	[SIP_SRTP_AEAD_AES_128_GCM] = {"AEAD_AES_128_GCM", 28},
};

#define NSUITES (sizeof(suites) / sizeof(suites[0]))

size_t sip_srtp_key_len(int suite)
{
	if (suite <= SIP_SRTP_NONE || (size_t)suite >= NSUITES)
		return 0;
	return suites[suite].key_len;
}

const char *sip_srtp_suite_name(int suite)
{
	if (!sip_srtp_key_len(suite))
		return NULL;
	return suites[suite].name;
}

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

/* Strict base64 (RFC 4648 4, padded) of exactly @p want octets. */
static bool b64_decode(uint8_t *out, size_t want, const char *in, size_t len)
{
	size_t i, n = 0, pad = 0;
	uint32_t acc = 0;

	if (len % 4 || len / 4 * 3 < want || len / 4 * 3 - want > 2)
		return false;
	for (i = 0; i < len; i++) {
		int v;

		if (in[i] == '=' && i >= len - 2) {
			pad++;
			v = 0;
		} else if (pad || (v = b64_val(in[i])) < 0) {
			return false;
		}
		acc = acc << 6 | (uint32_t)v;
		if (i % 4 == 3) {
			uint8_t o[3] = {(uint8_t)(acc >> 16), (uint8_t)(acc >> 8),
					(uint8_t)acc};
			size_t k;

			for (k = 0; k < 3 && n < want; k++)
				out[n++] = o[k];
			acc = 0;
		}
	}
	return len / 4 * 3 - pad == want;
}

static void b64_encode(char *out, const uint8_t *in, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t left = len - i;

		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		*out++ = b64[v >> 18 & 63];
		*out++ = b64[v >> 12 & 63];
		*out++ = left > 1 ? b64[v >> 6 & 63] : '=';
		*out++ = left > 2 ? b64[v & 63] : '=';
	}
	*out = '\0';
}

static bool all_digits(const char *p, size_t n, size_t max)
{
	size_t i;

	if (!n || n > max)
		return false;
	for (i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

/* Take the next field of @p *p up to @p sep (or the end); false if
 * none is left. */
static bool field(const char **p, const char *end, char sep, const char **f,
		  size_t *n)
{
	const char *s;

	if (*p >= end)
		return false;
	s = memchr(*p, sep, (size_t)(end - *p));
	*f = *p;
	*n = (size_t)((s ? s : end) - *p);
	*p = s ? s + 1 : end;
	return true;
}

/* lifetime = ["2^"] 1*DIGIT (RFC 4568 9.2): read, not enforced. */
static bool lifetime_ok(const char *f, size_t n)
{
	if (n > 2 && f[0] == '2' && f[1] == '^')
		return all_digits(f + 2, n - 2, 2);
	return all_digits(f, n, 20);
}

/*
 * "<tag> <suite> inline:<key||salt>[|lifetime][|mki:len] [params]".
 * @return 0 (usable, in *c); ENOTSUP a valid line we cannot use (an
 * unknown suite, MKI, several keys, session parameters); EBADMSG
 * malformed.  *why names the field.
 */
int sip_sdes_parse(struct sip_crypto *c, const char *p, size_t len,
		   const char **why)
{
	const char *end = p + len, *f, *k, *kend;
	size_t n, kn;
	unsigned tag = 0, i;
	int suite = SIP_SRTP_NONE;

	memset(c, 0, sizeof(*c));
	if (!field(&p, end, ' ', &f, &n) || !all_digits(f, n, 9)) {
		*why = "tag";
		return EBADMSG;
	}
	for (i = 0; i < n; i++)
		tag = tag * 10 + (unsigned)(f[i] - '0');
	if (!field(&p, end, ' ', &f, &n) || !n) {
		*why = "crypto-suite";
		return EBADMSG;
	}
	for (i = 1; i < NSUITES; i++)
		if (strlen(suites[i].name) == n &&
		    !memcmp(suites[i].name, f, n))
			suite = (int)i;
	if (!field(&p, end, ' ', &k, &kn) || kn < 7 ||
	    memcmp(k, "inline:", 7)) {
		*why = "key-params (inline:)";
		return EBADMSG;
	}
	if (p < end) {
		*why = "session-params (none supported)";
		return ENOTSUP;
	}
	if (memchr(k, ';', kn)) {
		*why = "key-params (one key only)";
		return ENOTSUP;
	}
	kend = k + kn;
	k += 7;
	if (kend[-1] == '|') {
		*why = "lifetime";
		return EBADMSG;
	}
	if (!field(&k, kend, '|', &f, &n))
		n = 0;
	if (!suite) {
		*why = "crypto-suite (unknown)";
		return ENOTSUP;
	}
	if (!n || !b64_decode(c->key, sip_srtp_key_len(suite), f, n)) {
		*why = "key||salt (base64 of the suite's length)";
		return EBADMSG;
	}
	while (field(&k, kend, '|', &f, &n)) {
		const char *colon = memchr(f, ':', n);

		if (colon) {
			*why = "MKI (not supported)";
			return all_digits(f, (size_t)(colon - f), 20) &&
			       all_digits(colon + 1,
					  n - (size_t)(colon - f) - 1, 3)
				       ? ENOTSUP : EBADMSG;
		}
		if (!lifetime_ok(f, n)) {
			*why = "lifetime";
			return EBADMSG;
		}
	}
	c->suite = suite;
	c->tag = tag;
	return 0;
}

int sip_sdp_add_crypto(char *buf, size_t size, bool savp,
		       const struct sip_crypto *c, unsigned n)
{
	size_t off = strlen(buf);
	char key[64];
	unsigned i;
	int w;

	for (i = 0; i < n; i++)
		if (!sip_srtp_key_len(c[i].suite))
			return EINVAL;
	if (savp) {
		char *m = strstr(buf, "\r\nm=audio "), *prof;

		prof = m ? strstr(m, " RTP/AVP") : NULL;
		if (!prof || prof[8] != ' ' || off + 2 > size)
			return EINVAL;
		memmove(prof + 6, prof + 5, off - (size_t)(prof + 5 - buf) + 1);
		prof[5] = 'S';
		off++;
	}
	for (i = 0; i < n; i++) {
		b64_encode(key, c[i].key, sip_srtp_key_len(c[i].suite));
		w = snprintf(buf + off, size - off, "a=crypto:%u %s inline:%s\r\n",
			     c[i].tag, sip_srtp_suite_name(c[i].suite), key);
		if (w < 0 || (size_t)w >= size - off)
			return ENOSPC;
		off += (size_t)w;
	}
	return 0;
}
