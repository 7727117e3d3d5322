/* media/rtp.c  RTP fixed header encode/decode (RFC 3550 5.1) */
#include <errno.h>

#include "media/rtp.h"

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

int rtp_decode(struct rtp_hdr *hdr, const uint8_t **payload, size_t *plen,
	       const uint8_t *buf, size_t len)
{
	size_t off = RTP_HDR_LEN;
	size_t end = len;

	if (len < RTP_HDR_LEN || (buf[0] >> 6) != 2)
		return EBADMSG;

	/* RFC 3550 5.1: CC counts 32-bit CSRC identifiers after SSRC. */
	off += (size_t)(buf[0] & 0x0f) * 4;
	if (off > len)
		return EBADMSG;

	/* RFC 3550 5.3.1: a 4-octet extension header whose second half is
	 * the extension length in 32-bit words. */
	if (buf[0] & 0x10) {
		if (off + 4 > len)
			return EBADMSG;
		off += 4 + (size_t)get16(buf + off + 2) * 4;
		if (off > len)
			return EBADMSG;
	}

	/* The last octet counts the padding octets, itself included. */
	if (buf[0] & 0x20) {
		uint8_t pad = buf[len - 1];

		if (pad == 0 || pad > len - off)
			return EBADMSG;
		end -= pad;
	}

	hdr->marker = (buf[1] & 0x80) != 0;
	hdr->pt = buf[1] & 0x7f;
	hdr->seq = get16(buf + 2);
	hdr->ts = get32(buf + 4);
	hdr->ssrc = get32(buf + 8);
	*payload = buf + off;
	*plen = end - off;
	return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

void rtp_encode_hdr(uint8_t *buf, const struct rtp_hdr *hdr)
{
	buf[0] = 0x80;
	buf[1] = (uint8_t)((hdr->marker ? 0x80 : 0) | (hdr->pt & 0x7f));
	buf[2] = (uint8_t)(hdr->seq >> 8);
	buf[3] = (uint8_t)hdr->seq;
	put32(buf + 4, hdr->ts);
	put32(buf + 8, hdr->ssrc);
}
