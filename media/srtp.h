/* media/srtp.h  Internal: one SRTP stream pair (RFC 3711) over libsrtp2
 *
 * A context protects what we send and checks what we receive for one
 * RTP endpoint: two libsrtp sessions, because one session cannot hold
 * both an any-outbound and an any-inbound template.  Built and freed
 * off the packet path; protect/unprotect allocate nothing except
 * libsrtp's one stream clone the first time an SSRC authenticates, and
 * take no locks, so a worker calls them per packet.
 */
#ifndef TG_MEDIA_SRTP_H
#define TG_MEDIA_SRTP_H

#include <stddef.h>
#include <stdint.h>

#include "media/media.h"

/* Room a buffer needs past the packet for protect: libsrtp's
 * SRTP_MAX_TRAILER_LEN (tag + MKI), plus SRTCP's 4-octet index. */
#define MSRTP_TRAILER 148

struct msrtp;

/** Both directions from @p k (suite != MEDIA_SRTP_NONE).  EINVAL for an
 * unknown suite, ENOMEM, EIO when libsrtp refuses the keys. */
int msrtp_alloc(struct msrtp **cp, const struct media_srtp_keys *k);
void msrtp_free(struct msrtp *c);

/* Results of the unprotect calls besides 0 and EBADMSG (too short). */
#define MSRTP_AUTH EACCES   /* authentication tag wrong */
#define MSRTP_REPLAY EALREADY /* seen before, or too old for the window */

/** Protect the RTP packet in @p pkt (@p *len octets; @p cap >= *len +
 * MSRTP_TRAILER) in place.  @return 0, or EIO. */
int msrtp_protect(struct msrtp *c, uint8_t *pkt, size_t *len, size_t cap);
/** Check and decrypt an SRTP packet in place; *len shrinks by the tag. */
int msrtp_unprotect(struct msrtp *c, uint8_t *pkt, size_t *len);
/** The same for RTCP (RFC 3711 3.4): SRTCP index, E bit and tag. */
int msrtp_protect_rtcp(struct msrtp *c, uint8_t *pkt, size_t *len,
		       size_t cap);
int msrtp_unprotect_rtcp(struct msrtp *c, uint8_t *pkt, size_t *len);

/** The suite's master key + salt length in octets, 0 unknown. */
size_t msrtp_key_len(enum media_srtp_suite suite);

#endif
