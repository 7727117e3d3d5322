/* sip/dnsmsg.c  The TTLs of a DNS answer (RFC 1035 4.1), for c-ares 1.18
 *
 * c-ares 1.18 parses SRV records without their TTL, and a trunk's targets
 * must be looked up again when it runs out (RFC 3263 4.2 by way of RFC
 * 2782).  This walks the raw answer c-ares hands us: the header, the
 * question, then each answer record's fixed fields.  Names are skipped,
 * never followed, so a compression loop cannot trap us.  Pure: fuzzed
 * (tests/fuzz/fuzz_dns_ttl.c).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "sip/sip.h"

/* Step over a domain name at @p *pos (RFC 1035 4.1.4: labels, ending in
 * a zero byte or a two-byte pointer); the name itself is not needed. */
static int skip_name(const unsigned char *buf, size_t len, size_t *pos)
{
	size_t p = *pos;

	for (;;) {
		if (p >= len)
			return EBADMSG;
		if ((buf[p] & 0xc0) == 0xc0) {
			if (p + 2 > len)
				return EBADMSG;
			*pos = p + 2;
			return 0;
		}
		if (buf[p] & 0xc0) /* 01 and 10 are reserved label types */
			return EBADMSG;
		if (!buf[p]) {
			*pos = p + 1;
			return 0;
		}
		p += 1u + buf[p];
	}
}

static unsigned get16(const unsigned char *b)
{
	return (unsigned)b[0] << 8 | b[1];
}

int sip_dns_answer_ttl(const unsigned char *buf, size_t len, unsigned type,
		       uint32_t *ttl)
{
	size_t pos = 12;
	unsigned qd, an;
	uint32_t best = UINT32_MAX;

	if (len < 12)
		return EBADMSG;
	qd = get16(buf + 4);
	an = get16(buf + 6);
	for (unsigned i = 0; i < qd; i++) {
		if (skip_name(buf, len, &pos) || pos + 4 > len)
			return EBADMSG;
		pos += 4; /* QTYPE, QCLASS */
	}
	for (unsigned i = 0; i < an; i++) {
		uint32_t t;
		size_t rdlen;

		/* TYPE, CLASS, TTL, RDLENGTH: 10 bytes, then RDATA. */
		if (skip_name(buf, len, &pos) || pos + 10 > len)
			return EBADMSG;
		t = (uint32_t)buf[pos + 4] << 24 |
		    (uint32_t)buf[pos + 5] << 16 | (uint32_t)buf[pos + 6] << 8 |
		    buf[pos + 7];
		rdlen = get16(buf + pos + 8);
		/* RFC 2181 8: a TTL with the top bit set reads as zero. */
		if (t & 0x80000000u)
			t = 0;
		if (get16(buf + pos) == type && t < best)
			best = t;
		pos += 10;
		if (rdlen > len - pos)
			return EBADMSG;
		pos += rdlen;
	}
	if (best == UINT32_MAX)
		return ENOENT;
	*ttl = best;
	return 0;
}
