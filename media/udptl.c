/* media/udptl.c  UDPTL framing, redundancy and recovery (T.38 9.1)
 *
 * UDPTLPacket ::= SEQUENCE {
 *	seq-number          INTEGER (0..65535),
 *	primary-ifp-packet  open type (an IFPPacket),
 *	error-recovery      CHOICE {
 *		secondary-ifp-packets SEQUENCE OF open type,
 *		fec-info SEQUENCE { fec-npackets INTEGER,
 *				    fec-data SEQUENCE OF OCTET STRING } } }
 * in ASN.1 aligned PER (X.691): the sequence number is two octets, every
 * open type, octet string and SEQUENCE OF starts with a length determinant,
 * and the CHOICE index is the top bit of one octet.
 */
#include <errno.h>
#include <string.h>

#include "media/udptl.h"

/* A cursor over the datagram being decoded. */
struct rd {
	const uint8_t *p;
	size_t left;
};

/*
 * X.691 10.9.3.6-7: a length under 128 is one octet, under 16384 two
 * (10xxxxxx xxxxxxxx).  11xxxxxx starts a fragmented length of 16K
 * blocks, which nothing we accept comes near: malformed for us.
 */
static int rd_len(struct rd *r, size_t *len)
{
	if (!r->left)
		return EBADMSG;
	if (!(r->p[0] & 0x80)) {
		*len = r->p[0];
		r->p++;
		r->left--;
		return 0;
	}
	if ((r->p[0] & 0xc0) == 0xc0 || r->left < 2)
		return EBADMSG;
	*len = ((size_t)(r->p[0] & 0x3f) << 8) | r->p[1];
	r->p += 2;
	r->left -= 2;
	return 0;
}

/* A length determinant and that many octets, at most @p max of them. */
static int rd_octets(struct rd *r, struct udptl_ifp *v, size_t max)
{
	size_t len;
	int err;

	err = rd_len(r, &len);
	if (err)
		return err;
	if (len > max || len > r->left)
		return EBADMSG;
	v->p = r->p;
	v->len = len;
	r->p += len;
	r->left -= len;
	return 0;
}

/* An IFP packet: never empty (its type field is at least one octet). */
static int rd_ifp(struct rd *r, struct udptl_ifp *v)
{
	int err = rd_octets(r, v, UDPTL_IFP_MAX);

	return err ? err : v->len ? 0 : EBADMSG;
}

/* The FEC alternative: checked for shape, its parity not used. */
static int rd_fec(struct rd *r)
{
	struct udptl_ifp v;
	size_t n, i;
	int err;

	/* fec-npackets: an unconstrained INTEGER, 1..4 content octets. */
	err = rd_octets(r, &v, 4);
	if (!err && !v.len)
		err = EBADMSG;
	if (!err)
		err = rd_len(r, &n);
	if (!err && n > UDPTL_MAX_SEC)
		err = EBADMSG;
	for (i = 0; !err && i < n; i++)
		err = rd_octets(r, &v, UDPTL_IFP_MAX);
	return err;
}

int udptl_decode(struct udptl_pkt *out, const uint8_t *buf, size_t len)
{
	struct rd r = { buf, len };
	size_t n, i;
	int err;

	if (!out || !buf || len < 3)
		return EBADMSG;
	memset(out, 0, sizeof(*out));
	out->seq = (uint16_t)(buf[0] << 8 | buf[1]);
	r.p += 2;
	r.left -= 2;
	err = rd_ifp(&r, &out->primary);
	if (err)
		return err;
	if (!r.left)
		return EBADMSG;
	out->fec = r.p[0] & 0x80;
	r.p++;
	r.left--;
	if (out->fec) {
		err = rd_fec(&r);
	} else {
		err = rd_len(&r, &n);
		if (!err && n > UDPTL_MAX_SEC)
			err = EBADMSG;
		for (i = 0; !err && i < n; i++)
			err = rd_ifp(&r, &out->secondary[i]);
		if (!err)
			out->nsec = (unsigned)n;
	}
	if (!err && r.left)
		err = EBADMSG; /* one datagram is one packet */
	return err;
}

/* Octets an IFP of @p len takes on the wire: determinant and contents. */
static size_t ifp_size(size_t len)
{
	return (len < 128 ? 1 : 2) + len;
}

static size_t wr_ifp(uint8_t *p, const uint8_t *ifp, size_t len)
{
	size_t n = 0;

	if (len < 128) {
		p[n++] = (uint8_t)len;
	} else {
		p[n++] = (uint8_t)(0x80 | len >> 8);
		p[n++] = (uint8_t)len;
	}
	memcpy(p + n, ifp, len);
	return n + len;
}

int udptl_encode(uint8_t *buf, size_t size, size_t *outlen,
		 const struct udptl_pkt *pkt)
{
	size_t need, off;
	unsigned i;

	if (!buf || !outlen || !pkt || pkt->nsec > UDPTL_MAX_SEC ||
	    !pkt->primary.len || pkt->primary.len > UDPTL_IFP_MAX)
		return EINVAL;
	/* seq, primary, CHOICE octet, count */
	need = 2 + ifp_size(pkt->primary.len) + 2;
	for (i = 0; i < pkt->nsec; i++) {
		if (!pkt->secondary[i].len ||
		    pkt->secondary[i].len > UDPTL_IFP_MAX)
			return EINVAL;
		need += ifp_size(pkt->secondary[i].len);
	}
	if (need > size)
		return EMSGSIZE;
	buf[0] = (uint8_t)(pkt->seq >> 8);
	buf[1] = (uint8_t)pkt->seq;
	off = 2 + wr_ifp(buf + 2, pkt->primary.p, pkt->primary.len);
	buf[off++] = 0x00;      /* secondary-ifp-packets */
	buf[off++] = (uint8_t)pkt->nsec;
	for (i = 0; i < pkt->nsec; i++)
		off += wr_ifp(buf + off, pkt->secondary[i].p,
			      pkt->secondary[i].len);
	*outlen = off;
	return 0;
}

void udptl_tx_init(struct udptl_tx *t, unsigned redundancy, size_t max_dgram)
{
	memset(t, 0, sizeof(*t));
	t->redundancy = redundancy > UDPTL_MAX_SEC ? UDPTL_MAX_SEC : redundancy;
	if (!max_dgram)
		max_dgram = UDPTL_DGRAM_DEFAULT;
	if (max_dgram < UDPTL_DGRAM_MIN)
		max_dgram = UDPTL_DGRAM_MIN;
	if (max_dgram > UDPTL_DGRAM_MAX)
		max_dgram = UDPTL_DGRAM_MAX;
	t->max_dgram = max_dgram;
}

int udptl_tx_frame(struct udptl_tx *t, uint8_t *buf, size_t *outlen,
		   const uint8_t *ifp, size_t len)
{
	struct udptl_pkt pkt;
	size_t used;
	unsigned i, slot;
	int err;

	if (!len || len > UDPTL_IFP_MAX)
		return EINVAL;
	memset(&pkt, 0, sizeof(pkt));
	pkt.seq = t->seq;
	pkt.primary.p = ifp;
	pkt.primary.len = len;
	used = 2 + ifp_size(len) + 2;
	if (used > t->max_dgram)
		return EMSGSIZE;
	/* Newest first, while the far end's datagram limit allows: a
	 * shorter recovery window beats a datagram it throws away. */
	for (i = 0; i < t->redundancy && i < t->nhist; i++) {
		slot = (t->head + UDPTL_MAX_SEC - 1 - i) % UDPTL_MAX_SEC;
		if (used + ifp_size(t->hlen[slot]) > t->max_dgram)
			break;
		used += ifp_size(t->hlen[slot]);
		pkt.secondary[i].p = t->hist[slot];
		pkt.secondary[i].len = t->hlen[slot];
		pkt.nsec++;
	}
	err = udptl_encode(buf, t->max_dgram, outlen, &pkt);
	if (err)
		return err;
	memcpy(t->hist[t->head], ifp, len);
	t->hlen[t->head] = (uint16_t)len;
	t->head = (t->head + 1) % UDPTL_MAX_SEC;
	if (t->nhist < UDPTL_MAX_SEC)
		t->nhist++;
	t->seq++;
	return 0;
}

void udptl_rx_init(struct udptl_rx *r)
{
	memset(r, 0, sizeof(*r));
}

int udptl_rx_datagram(struct udptl_rx *r, const uint8_t *buf, size_t len,
		      udptl_ifp_h *h, void *arg)
{
	struct udptl_pkt pkt;
	unsigned gap, k, n;
	int d, err;

	err = udptl_decode(&pkt, buf, len);
	if (err) {
		r->bad++;
		return err;
	}
	d = r->have ? (int16_t)(uint16_t)(pkt.seq - r->next) : 0;
	if (d < 0 && -d <= UDPTL_RESYNC) {
		r->late++;      /* a duplicate, or its IFP went up already */
		return 0;
	}
	if (d < 0)
		d = 0;          /* the sender started again */
	gap = (unsigned)d;
	/* T.38 9.1.3.1: the secondaries repeat the IFPs before the
	 * primary; hand up the missing ones it holds, oldest first.  What
	 * it does not hold is lost: t38_core sees the gap in the sequence
	 * numbers and recovers at the T.30 level. */
	n = gap < pkt.nsec ? gap : pkt.nsec;
	r->lost += gap - n;
	for (k = n; k-- > 0;) {
		h(pkt.secondary[k].p, pkt.secondary[k].len,
		  (uint16_t)(pkt.seq - 1 - k), true, arg);
		r->recovered++;
	}
	h(pkt.primary.p, pkt.primary.len, pkt.seq, false, arg);
	r->received++;
	r->have = true;
	r->next = (uint16_t)(pkt.seq + 1);
	return 0;
}
