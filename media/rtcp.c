/* media/rtcp.c  RTCP compound packets and call quality (RFC 3550, G.107) */
#include <errno.h>
#include <string.h>

#include "media/rtcp.h"

#define HDR_LEN 4
#define RB_LEN 24
#define SR_INFO_LEN 20
#define SDES_CNAME 1

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* ---- decoding ---------------------------------------------------------- */

static void rb_decode(struct rtcp_rb *rb, const uint8_t *p)
{
	uint32_t lost = get32(p + 4) & 0xffffff;

	rb->ssrc = get32(p);
	rb->fraction = p[4];
	/* 24-bit two's complement: duplicates can make it negative. */
	rb->lost = (int32_t)(lost ^ 0x800000) - 0x800000;
	rb->ext_seq = get32(p + 8);
	rb->jitter = get32(p + 12);
	rb->lsr = get32(p + 16);
	rb->dlsr = get32(p + 20);
}

/* SR or RR @p p of @p len octets (header included), @p rc blocks. */
static int report_decode(struct rtcp_msg *m, const uint8_t *p, size_t len,
			 unsigned rc, bool sr, bool first)
{
	size_t off = HDR_LEN + 4 + (sr ? SR_INFO_LEN : 0);
	unsigned i;

	/* What follows the blocks is a profile extension: skipped. */
	if (off + (size_t)rc * RB_LEN > len)
		return EBADMSG;
	if (first) {
		m->ssrc = get32(p + HDR_LEN);
		m->sr = sr;
		if (sr) {
			m->ntp = (uint64_t)get32(p + 8) << 32 | get32(p + 12);
			m->rtp_ts = get32(p + 16);
			m->pkts = get32(p + 20);
			m->octets = get32(p + 24);
		}
	}
	for (i = 0; i < rc; i++, off += RB_LEN)
		if (m->nrb < RTCP_MAX_RB)
			rb_decode(&m->rb[m->nrb++], p + off);
	return 0;
}

/* One SDES chunk at @p p (@p end bounds the packet): its items up to the
 * null item and the padding to the next 32-bit boundary.  Sets *next. */
static int chunk_decode(struct rtcp_msg *m, const uint8_t *p,
			const uint8_t *end, const uint8_t **next)
{
	const uint8_t *start = p;
	uint32_t ssrc;

	if (end - p < 4)
		return EBADMSG;
	ssrc = get32(p);
	p += 4;
	for (;;) {
		uint8_t type, ilen;

		if (p >= end)
			return EBADMSG; /* no null item */
		type = *p;
		if (type == 0)
			break;
		if (end - p < 2 || end - p - 2 < p[1])
			return EBADMSG;
		ilen = p[1];
		if (type == SDES_CNAME && ssrc == m->ssrc && !m->cname &&
		    ilen > 0) {
			m->cname = p + 2;
			m->cname_len = ilen;
		}
		p += 2 + ilen;
	}
	/* RFC 3550 6.5: the null item, then nulls to the word boundary. */
	p++;
	while ((p - start) % 4) {
		if (p >= end || *p)
			return EBADMSG;
		p++;
	}
	*next = p;
	return 0;
}

static int sdes_decode(struct rtcp_msg *m, const uint8_t *p, size_t len,
		       unsigned sc)
{
	const uint8_t *end = p + len;
	unsigned i;

	p += HDR_LEN;
	for (i = 0; i < sc; i++)
		if (chunk_decode(m, p, end, &p))
			return EBADMSG;
	return 0;
}

static int bye_decode(struct rtcp_msg *m, const uint8_t *p, size_t len,
		      unsigned sc)
{
	size_t off = HDR_LEN;
	unsigned i;

	if (off + (size_t)sc * 4 > len)
		return EBADMSG;
	for (i = 0; i < sc; i++, off += 4)
		if (get32(p + off) == m->ssrc)
			m->bye = true;
	/* An optional reason: a length octet and that much text. */
	if (off < len && off + 1 + p[off] > len)
		return EBADMSG;
	return 0;
}

/* One packet of the compound at @p p, @p len octets without padding. */
static int packet_decode(struct rtcp_msg *m, const uint8_t *p, size_t len,
			 bool first)
{
	unsigned count = p[0] & 0x1f;

	if (first && p[1] != RTCP_SR && p[1] != RTCP_RR)
		return EBADMSG;
	switch (p[1]) {
	case RTCP_SR:
	case RTCP_RR:
		return report_decode(m, p, len, count, p[1] == RTCP_SR, first);
	case RTCP_SDES:
		return sdes_decode(m, p, len, count);
	case RTCP_BYE:
		return bye_decode(m, p, len, count);
	default:
		return 0; /* APP, feedback (RFC 4585), XR: not ours to read */
	}
}

int rtcp_decode(struct rtcp_msg *m, const uint8_t *buf, size_t len)
{
	size_t off = 0;
	bool first = true;

	memset(m, 0, sizeof(*m));
	if (len < HDR_LEN + 4 || len > RTCP_MAX_LEN || len % 4)
		return EBADMSG;
	while (off < len) {
		const uint8_t *p = buf + off;
		size_t plen, body;

		if (len - off < HDR_LEN || (p[0] >> 6) != 2)
			return EBADMSG;
		plen = ((size_t)get16(p + 2) + 1) * 4;
		if (plen > len - off)
			return EBADMSG;
		body = plen;
		if (p[0] & 0x20) {
			/* Padding: only on the last packet of the compound,
			 * counted by its last octet (itself included). */
			uint8_t pad = p[plen - 1];

			if (off + plen != len || pad == 0 ||
			    pad > plen - HDR_LEN)
				return EBADMSG;
			body -= pad;
		}
		if (packet_decode(m, p, body, first))
			return EBADMSG;
		first = false;
		off += plen;
	}
	return 0;
}

/* ---- encoding ---------------------------------------------------------- */

static void hdr_put(uint8_t *p, unsigned count, enum rtcp_pt pt, size_t len)
{
	p[0] = (uint8_t)(0x80 | (count & 0x1f));
	p[1] = (uint8_t)pt;
	put16(p + 2, (uint16_t)(len / 4 - 1));
}

static void rb_put(uint8_t *p, const struct rtcp_rb *rb)
{
	put32(p, rb->ssrc);
	put32(p + 4, (uint32_t)rb->fraction << 24 |
			     ((uint32_t)rb->lost & 0xffffff));
	put32(p + 8, rb->ext_seq);
	put32(p + 12, rb->jitter);
	put32(p + 16, rb->lsr);
	put32(p + 20, rb->dlsr);
}

size_t rtcp_encode(uint8_t *buf, size_t cap, const struct rtcp_report *r)
{
	size_t clen = r->cname ? strlen(r->cname) : 0;
	size_t rlen = HDR_LEN + 4 + (r->sr ? SR_INFO_LEN : 0) +
		      (r->has_rb ? RB_LEN : 0);
	/* Chunk: SSRC, CNAME item, then at least one null octet. */
	size_t slen = HDR_LEN + ((4 + 2 + clen + 1 + 3) & ~(size_t)3);
	size_t blen = r->bye ? HDR_LEN + 4 : 0;
	uint8_t *p = buf;

	if (clen == 0 || clen > RTCP_CNAME_MAX || rlen + slen + blen > cap)
		return 0;
	hdr_put(p, r->has_rb, r->sr ? RTCP_SR : RTCP_RR, rlen);
	put32(p + 4, r->ssrc);
	p += 8;
	if (r->sr) {
		put32(p, (uint32_t)(r->ntp >> 32));
		put32(p + 4, (uint32_t)r->ntp);
		put32(p + 8, r->rtp_ts);
		put32(p + 12, r->pkts);
		put32(p + 16, r->octets);
		p += SR_INFO_LEN;
	}
	if (r->has_rb) {
		rb_put(p, &r->rb);
		p += RB_LEN;
	}

	memset(p, 0, slen);
	hdr_put(p, 1, RTCP_SDES, slen);
	put32(p + 4, r->ssrc);
	p[8] = SDES_CNAME;
	p[9] = (uint8_t)clen;
	memcpy(p + 10, r->cname, clen);
	p += slen;

	if (r->bye) {
		hdr_put(p, 1, RTCP_BYE, blen);
		put32(p + 4, r->ssrc);
		p += blen;
	}
	return (size_t)(p - buf);
}

/* ---- receiver statistics ----------------------------------------------- */

void rtcp_rx_jitter(struct rtcp_rx *rx, uint32_t arrival, uint32_t ts)
{
	uint32_t transit = arrival - ts;
	int64_t d;

	if (rx->have_transit) {
		/* Modular: both clocks wrap. */
		d = (int32_t)(transit - rx->transit);
		if (d < 0)
			d = -d;
		/* A timeline jump is not jitter worth overflowing for. */
		if (d > 0xffffff)
			d = 0xffffff;
		/* A.8: J += (|D| - J) / 16, kept scaled by 16. */
		rx->jitter_q4 += (uint32_t)d - ((rx->jitter_q4 + 8) >> 4);
		if (rx->jitter_q4 > rx->jitter_max_q4)
			rx->jitter_max_q4 = rx->jitter_q4;
	}
	rx->transit = transit;
	rx->have_transit = true;
}

void rtcp_rx_block(struct rtcp_rx *rx, struct rtcp_rb *rb, uint32_t ssrc,
		   uint64_t expected, uint64_t received, uint32_t ext_seq,
		   int64_t now_us)
{
	int64_t lost = (int64_t)expected - (int64_t)received;
	int64_t exp_int = (int64_t)(expected - rx->expected_prior);
	int64_t lost_int = exp_int -
			   (int64_t)(received - rx->received_prior);

	rx->expected_prior = expected;
	rx->received_prior = received;
	memset(rb, 0, sizeof(*rb));
	rb->ssrc = ssrc;
	/* A.3: clamp to the 24-bit field; fraction 0 when duplicates
	 * outnumber the losses. */
	if (lost > 0x7fffff)
		lost = 0x7fffff;
	else if (lost < -0x800000)
		lost = -0x800000;
	rb->lost = (int32_t)lost;
	if (exp_int > 0 && lost_int > 0)
		rb->fraction = (uint8_t)((lost_int << 8) / exp_int > 255
						 ? 255
						 : (lost_int << 8) / exp_int);
	rb->ext_seq = ext_seq;
	rb->jitter = rx->jitter_q4 >> 4;
	if (rx->lsr) {
		int64_t d = now_us - rx->lsr_us;

		rb->lsr = rx->lsr;
		rb->dlsr = d > 0 ? (uint32_t)(d * 65536 / 1000000) : 0;
	}
}

uint64_t rtcp_ntp_from_unix(int64_t sec, long nsec)
{
	/* 2208988800 s from 1900 to 1970. */
	uint64_t s = (uint64_t)(sec + 2208988800LL);
	uint64_t frac = ((uint64_t)nsec << 32) / 1000000000u;

	return s << 32 | frac;
}

int64_t rtcp_rtt_us(uint32_t arrival_mid, uint32_t lsr, uint32_t dlsr)
{
	int32_t rtt;

	if (lsr == 0)
		return -1;
	/* In 1/65536 s; modular, so it survives the NTP era wrap. */
	rtt = (int32_t)(arrival_mid - lsr - dlsr);
	/* A far end that rounds DLSR up (to its timer's ms, say) makes a
	 * short round trip come out a little below zero: that is ~0. */
	if (rtt < 0 && rtt >= -RTCP_RTT_SLACK)
		rtt = 0;
	if (rtt < 0 || rtt > 60 * 65536)
		return -1;
	return (int64_t)rtt * 1000000 / 65536;
}

unsigned rtcp_interval_ms(uint32_t rnd, bool initial)
{
	unsigned base = initial ? RTCP_MIN_INTERVAL_MS / 2
				: RTCP_MIN_INTERVAL_MS;

	/* base * (0.5 + rnd / 2^32) */
	return base / 2 + (unsigned)(((uint64_t)base * rnd) >> 32);
}

unsigned rtcp_mos_x100(double loss, double delay_ms, bool plc)
{
	double bpl = plc ? 25.1 : 4.3;
	double ppl, id, ie, r, mos;

	if (!(loss >= 0)) /* NaN too */
		loss = 0;
	if (loss > 1)
		loss = 1;
	if (!(delay_ms >= 0))
		delay_ms = 0;
	ppl = loss * 100;
	/* G.107 Id for echo-free paths, as simplified by Cole and
	 * Rosenbluth: 0.024 d, and 0.11 per ms beyond 177.3 ms. */
	id = 0.024 * delay_ms;
	if (delay_ms > 177.3)
		id += 0.11 * (delay_ms - 177.3);
	ie = 95 * ppl / (ppl + bpl);
	r = 93.2 - id - ie;
	/* G.107 B.1: MOS from R. */
	if (r <= 0)
		mos = 1;
	else if (r >= 100)
		mos = 4.5;
	else
		mos = 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r);
	if (mos < 1)
		mos = 1;
	return (unsigned)(mos * 100 + 0.5);
}
