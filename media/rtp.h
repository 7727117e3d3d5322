/* media/rtp.h  Internal: RTP fixed header encode/decode (RFC 3550 5.1) */
#ifndef TG_MEDIA_RTP_H
#define TG_MEDIA_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_HDR_LEN 12

struct rtp_hdr {
	bool marker;
	uint8_t pt;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
};

/**
 * Decode an RTP packet.  Pure: no syscalls, so a fuzzer can call it.
 * @param payload  set to the payload inside @p buf (CSRCs, extension and
 *                 padding removed), @p plen to its length.
 * @return 0, or EBADMSG for anything that is not a valid RTP v2 packet.
 */
int rtp_decode(struct rtp_hdr *hdr, const uint8_t **payload, size_t *plen,
	       const uint8_t *buf, size_t len);

/** Write the 12-octet fixed header (no CSRC, extension or padding). */
void rtp_encode_hdr(uint8_t *buf, const struct rtp_hdr *hdr);

#endif
