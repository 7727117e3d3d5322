/* media/srtp.c  SRTP/SRTCP protect and unprotect over libsrtp2 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <srtp2/srtp.h>

#define LOG_MODULE "media"
#include "util/util.h"

#include "media/srtp.h"

_Static_assert(MSRTP_TRAILER >= SRTP_MAX_TRAILER_LEN + 4,
	       "protect needs the libsrtp trailer and the SRTCP index");
_Static_assert(MEDIA_SRTP_KEY_MAX >= SRTP_AES_ICM_128_KEY_LEN_WSALT &&
	       MEDIA_SRTP_KEY_MAX >= SRTP_AES_GCM_128_KEY_LEN_WSALT,
	       "key buffers hold every suite's key and salt");

struct msrtp {
	srtp_t tx;
	srtp_t rx;
};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static srtp_err_status_t init_status;

static void srtp_lib_init(void)
{
	init_status = srtp_init();
}

size_t msrtp_key_len(enum media_srtp_suite suite)
{
	switch (suite) {
	case MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80:
	case MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32:
		return SRTP_AES_ICM_128_KEY_LEN_WSALT;
	case MEDIA_SRTP_AEAD_AES_128_GCM:
		return SRTP_AES_GCM_128_KEY_LEN_WSALT;
	case MEDIA_SRTP_NONE:
		break;
	}
	return 0;
}

static int policy_set(srtp_policy_t *p, enum media_srtp_suite suite)
{
	memset(p, 0, sizeof(*p));
	switch (suite) {
	case MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80:
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
		break;
	case MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32:
		/* RFC 4568 6.2.2: the short tag is for SRTP only; SRTCP
		 * keeps the 80-bit one. */
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(&p->rtp);
		srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&p->rtcp);
		break;
	case MEDIA_SRTP_AEAD_AES_128_GCM:
		/* RFC 7714 14.2: AEAD_AES_128_GCM has a 16-octet tag. */
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
		srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
		break;
	default:
		return EINVAL;
	}
	p->window_size = 128;
	p->allow_repeat_tx = 0;
	return 0;
}

static int session_new(srtp_t *s, enum media_srtp_suite suite,
		       const uint8_t *key, srtp_ssrc_type_t dir)
{
	unsigned char k[MEDIA_SRTP_KEY_MAX];
	srtp_policy_t p;
	int err;

	err = policy_set(&p, suite);
	if (err)
		return err;
	/* libsrtp wants a non-const key it only reads. */
	memcpy(k, key, msrtp_key_len(suite));
	p.ssrc.type = dir;
	p.key = k;
	err = srtp_create(s, &p) == srtp_err_status_ok ? 0 : EIO;
	explicit_bzero(k, sizeof(k));
	return err;
}

int msrtp_alloc(struct msrtp **cp, const struct media_srtp_keys *k)
{
	struct msrtp *c;
	int err;

	if (!cp || !k || !msrtp_key_len(k->suite))
		return EINVAL;
	pthread_once(&init_once, srtp_lib_init);
	if (init_status != srtp_err_status_ok)
		return EIO;
	c = calloc(1, sizeof(*c));
	if (!c)
		return ENOMEM;
	err = session_new(&c->tx, k->suite, k->tx_key, ssrc_any_outbound);
	if (!err) {
		err = session_new(&c->rx, k->suite, k->rx_key,
				  ssrc_any_inbound);
		if (err)
			srtp_dealloc(c->tx);
	}
	if (err) {
		free(c);
		return err;
	}
	*cp = c;
	return 0;
}

void msrtp_free(struct msrtp *c)
{
	if (!c)
		return;
	srtp_dealloc(c->tx);
	srtp_dealloc(c->rx);
	free(c);
}

static int unprotect_result(srtp_err_status_t st)
{
	switch (st) {
	case srtp_err_status_ok:
		return 0;
	case srtp_err_status_auth_fail:
		return MSRTP_AUTH;
	case srtp_err_status_replay_fail:
	case srtp_err_status_replay_old:
		return MSRTP_REPLAY;
	default:
		return EBADMSG;
	}
}

int msrtp_protect(struct msrtp *c, uint8_t *pkt, size_t *len, size_t cap)
{
	int n = (int)*len;

	if (*len + MSRTP_TRAILER > cap || *len > INT32_MAX / 2)
		return EINVAL;
	if (srtp_protect(c->tx, pkt, &n) != srtp_err_status_ok)
		return EIO;
	*len = (size_t)n;
	return 0;
}

int msrtp_unprotect(struct msrtp *c, uint8_t *pkt, size_t *len)
{
	int n = (int)*len;
	int err;

	if (*len < 12 || *len > INT32_MAX / 2)
		return EBADMSG;
	err = unprotect_result(srtp_unprotect(c->rx, pkt, &n));
	if (!err)
		*len = (size_t)n;
	return err;
}

int msrtp_protect_rtcp(struct msrtp *c, uint8_t *pkt, size_t *len,
		       size_t cap)
{
	int n = (int)*len;

	if (*len + MSRTP_TRAILER > cap || *len > INT32_MAX / 2)
		return EINVAL;
	if (srtp_protect_rtcp(c->tx, pkt, &n) != srtp_err_status_ok)
		return EIO;
	*len = (size_t)n;
	return 0;
}

int msrtp_unprotect_rtcp(struct msrtp *c, uint8_t *pkt, size_t *len)
{
	int n = (int)*len;
	int err;

	if (*len < 8 || *len > INT32_MAX / 2)
		return EBADMSG;
	err = unprotect_result(srtp_unprotect_rtcp(c->rx, pkt, &n));
	if (!err)
		*len = (size_t)n;
	return err;
}
