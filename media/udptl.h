/* media/udptl.h  Internal: UDPTL framing of T.38 IFP packets (T.38 9.1)
 *
 * A UDPTL datagram carries one primary IFP packet and, for error recovery,
 * either copies of the IFPs sent before it (redundancy, T.38 9.1.3.1) or
 * parity over them (FEC).  We send redundancy and recover from it; FEC
 * datagrams are decoded (their primary is used) but not repaired from.
 * Pure functions and small state: no syscalls or clocks, so tests and a
 * fuzzer can drive them.
 */
#ifndef TG_MEDIA_UDPTL_H
#define TG_MEDIA_UDPTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The largest IFP packet we keep or accept.  A T.4 data IFP at 14 400 bit/s
 * in 40 ms packets is about 80 octets; T38FaxMaxBuffer offers are a few
 * hundred.  Anything longer is a broken or hostile peer. */
#define UDPTL_IFP_MAX 512
/* The most secondary IFPs we send or read per datagram.  Asterisk and
 * most ATAs send 2-5; more buys nothing a burst of loss would not beat. */
#define UDPTL_MAX_SEC 8
/* Default and bounds of the datagram size (T38FaxMaxDatagram). */
#define UDPTL_DGRAM_DEFAULT 400
#define UDPTL_DGRAM_MIN 32
#define UDPTL_DGRAM_MAX 1400
/* A sequence number this far behind the expected one is a restarted
 * sender, not a late datagram. */
#define UDPTL_RESYNC 256

/* One IFP packet inside a datagram: a view, valid while the datagram is. */
struct udptl_ifp {
	const uint8_t *p;
	size_t len;
};

struct udptl_pkt {
	uint16_t seq;
	struct udptl_ifp primary;
	bool fec;               /* error recovery is FEC (not used) */
	unsigned nsec;          /* secondary[0] is IFP seq-1, [1] seq-2 ... */
	struct udptl_ifp secondary[UDPTL_MAX_SEC];
};

/**
 * Decode one UDPTL datagram (aligned PER, T.38 9.1).  Pure.
 * @return 0; EBADMSG truncated, trailing bytes, a length over
 * UDPTL_IFP_MAX, or more than UDPTL_MAX_SEC secondaries.
 */
int udptl_decode(struct udptl_pkt *out, const uint8_t *buf, size_t len);

/**
 * Encode @p pkt (redundancy form; pkt->fec is ignored) into @p buf of
 * @p size octets.  @return 0 with *outlen set; EMSGSIZE it does not fit;
 * EINVAL an IFP longer than UDPTL_IFP_MAX or too many secondaries.
 */
int udptl_encode(uint8_t *buf, size_t size, size_t *outlen,
		 const struct udptl_pkt *pkt);

/* ---- sender ----------------------------------------------------------- */

struct udptl_tx {
	uint16_t seq;           /* of the next datagram */
	unsigned redundancy;    /* secondaries wanted per datagram */
	size_t max_dgram;       /* the far end's T38FaxMaxDatagram */
	unsigned nhist;         /* IFPs kept, newest at hist[head - 1] */
	unsigned head;
	uint16_t hlen[UDPTL_MAX_SEC];
	uint8_t hist[UDPTL_MAX_SEC][UDPTL_IFP_MAX];
};

/** @p redundancy is clamped to UDPTL_MAX_SEC, @p max_dgram to
 *  UDPTL_DGRAM_MIN..UDPTL_DGRAM_MAX (0 is UDPTL_DGRAM_DEFAULT). */
void udptl_tx_init(struct udptl_tx *t, unsigned redundancy, size_t max_dgram);

/**
 * Frame @p ifp as the next datagram into @p buf (at least t->max_dgram
 * octets).  As many of the previous IFPs as fit under max_dgram, newest
 * first, go along as secondaries.  The IFP is kept for the next ones.
 * @return 0 with *outlen; EMSGSIZE the IFP alone exceeds max_dgram (it
 * is dropped and its sequence number not used); EINVAL empty or over
 * UDPTL_IFP_MAX.
 */
int udptl_tx_frame(struct udptl_tx *t, uint8_t *buf, size_t *outlen,
		   const uint8_t *ifp, size_t len);

/* ---- receiver --------------------------------------------------------- */

/* One IFP handed up, in sequence order; @p recovered if it came from a
 * later datagram's secondaries. */
typedef void (udptl_ifp_h)(const uint8_t *ifp, size_t len, uint16_t seq,
			   bool recovered, void *arg);

struct udptl_rx {
	bool have;              /* next is valid */
	uint16_t next;          /* the sequence number expected */
	uint64_t received, recovered, lost, late, bad;
};

void udptl_rx_init(struct udptl_rx *r);

/**
 * One received datagram.  IFPs go to @p h oldest first: the missing ones
 * a datagram's secondaries hold, then its primary.  Late and duplicate
 * datagrams are dropped; a sequence number far behind (UDPTL_RESYNC) is
 * a new start.  @return 0, or EBADMSG (counted in r->bad).
 */
int udptl_rx_datagram(struct udptl_rx *r, const uint8_t *buf, size_t len,
		      udptl_ifp_h *h, void *arg);

#endif
