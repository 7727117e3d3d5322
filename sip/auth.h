/* sip/auth.h  HTTP digest for SIP (RFC 2617, RFC 7616, RFC 8760): internal
 *
 * Pure computations and header syntax, no osip: parsing a challenge
 * (WWW-Authenticate / Proxy-Authenticate) or credentials (Authorization /
 * Proxy-Authorization), the response hash with MD5 or SHA-256, and the
 * server's stateless nonces with a bounded nonce-count table.
 */
#ifndef TG_SIP_AUTH_H
#define TG_SIP_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sip_digest_alg {
	SIP_DIGEST_MD5 = 0,
	SIP_DIGEST_SHA256,
};

/* Longest hex digest (SHA-256) plus NUL. */
#define SIP_DIGEST_HEX 65

/* One Digest challenge or credentials, unquoted. */
struct sip_digest {
	enum sip_digest_alg alg;
	bool stale;        /* challenge: stale=true */
	bool qop_auth;     /* challenge: qop offers "auth"; credentials:
			    * qop=auth */
	bool qop_other;    /* challenge: a qop list without "auth" */
	char username[128];
	char realm[128];
	char nonce[128];
	char uri[256];
	char response[SIP_DIGEST_HEX];
	char cnonce[128];
	char opaque[128];
	char nc[9];        /* 8 hex digits */
};

/**
 * Parse one header value "Digest k=v, k="v", ...".  Unknown parameters
 * are skipped.  @return 0; ENOTSUP another scheme or an algorithm other
 * than MD5 / SHA-256 (also the -sess variants); EBADMSG malformed or a
 * value too long for its field.
 */
int sip_digest_parse(struct sip_digest *d, const char *val, size_t len);

/**
 * The request-digest (RFC 7616 3.4.1) in lowercase hex: with @p qop "auth"
 * H(H(A1):nonce:nc:cnonce:auth:H(A2)), with @p qop NULL the RFC 2069 form
 * H(H(A1):nonce:H(A2)).  @return 0 or ENOMEM.
 */
int sip_digest_compute(char out[SIP_DIGEST_HEX], enum sip_digest_alg alg,
		       const char *user, const char *realm,
		       const char *password, const char *method,
		       const char *uri, const char *nonce, const char *nc,
		       const char *cnonce, const char *qop);

/**
 * Credentials answering challenge @p ch for @p method on @p uri: an
 * Authorization value, with qop=auth, @p nc and @p cnonce when the
 * challenge offers it.  @return 0; ENOTSUP a qop we cannot do; ENOSPC.
 */
int sip_digest_answer(char *out, size_t size, const struct sip_digest *ch,
		      const char *user, const char *password,
		      const char *method, const char *uri, uint32_t nc,
		      const char *cnonce);

/** Is the response in @p cr right for @p password (constant time)? */
bool sip_digest_check(const struct sip_digest *cr, const char *method,
		      const char *password);

/* ---- the server's nonces -------------------------------------------------- */

#define SIP_NONCE_SLOTS 1024
#define SIP_NONCE_LEN 48 /* 8 hex time, 8 hex sequence, 32 hex MAC */

struct sip_nonce_slot {
	char nonce[SIP_NONCE_LEN + 1];
	uint32_t nc;       /* highest nonce-count seen */
	uint32_t t;
};

struct sip_nonces {
	uint8_t secret[32];
	uint32_t seq;
	uint32_t floor;    /* nonces this old or older that are not in the
			    * table were evicted: we no longer know their
			    * nonce-count, so they are stale */
	unsigned next;
	struct sip_nonce_slot slot[SIP_NONCE_SLOTS];
};

/** A random secret for this process.  @return 0 or EIO. */
int sip_nonces_init(struct sip_nonces *ns);
/** A new nonce at time @p now (seconds, any monotonic clock). */
void sip_nonce_make(struct sip_nonces *ns, uint32_t now, char *out,
		    size_t size);
/**
 * Use @p nonce with nonce-count @p nc (hex string) at @p now.
 * @return 0 good and fresh; EINVAL not one of ours (forged, garbled);
 * ESTALE older than @p ttl seconds (or forgotten); EALREADY a nonce-count
 * not above the last one used with it (a replay).
 */
int sip_nonce_use(struct sip_nonces *ns, const char *nonce, const char *nc,
		  uint32_t now, uint32_t ttl);

#endif
