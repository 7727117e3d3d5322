/* media/rtcp.h  Internal: RTCP compound packets and call quality (RFC 3550)
 *
 * Pure code: the codec for the compound packets a bridge sends and
 * receives (SR or RR first, SDES CNAME, BYE), the receiver statistics
 * of RFC 3550 A.3 and A.8, round-trip time from LSR/DLSR (6.4.1) and a
 * simplified ITU-T G.107 E-model.  No syscalls, no clock: callers pass
 * times in, so a fuzzer and the unit tests can drive it.
 */
#ifndef TG_MEDIA_RTCP_H
#define TG_MEDIA_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rtcp_pt {
	RTCP_SR = 200,
	RTCP_RR = 201,
	RTCP_SDES = 202,
	RTCP_BYE = 203,
	RTCP_APP = 204,
};

#define RTCP_MAX_RB 31          /* RC is 5 bits */
#define RTCP_CNAME_MAX 255      /* an SDES item's length octet */
#define RTCP_MAX_LEN 1500       /* what we accept in one datagram */
#define RTCP_MIN_INTERVAL_MS 5000 /* RFC 3550 6.2 */
#define RTCP_RTT_SLACK 1311     /* 20 ms in 1/65536 s: a round trip down
				 * to minus this is taken as 0 */

/** One report block (RFC 3550 6.4.1): what a receiver saw of @p ssrc. */
struct rtcp_rb {
	uint32_t ssrc;
	uint8_t fraction;       /* lost since the last report, in 1/256 */
	int32_t lost;           /* cumulative, 24-bit signed */
	uint32_t ext_seq;       /* extended highest sequence received */
	uint32_t jitter;        /* interarrival jitter, timestamp units */
	uint32_t lsr;           /* middle 32 bits of the last SR's NTP */
	uint32_t dlsr;          /* since that SR arrived, 1/65536 s */
};

/** What one compound packet says.  cname points into the packet. */
struct rtcp_msg {
	uint32_t ssrc;          /* sender of the leading SR or RR */
	bool sr;
	uint64_t ntp;           /* SR: sender's wall clock, NTP format */
	uint32_t rtp_ts;        /* ... the same instant in RTP units */
	uint32_t pkts, octets;  /* ... what it sent so far */
	unsigned nrb;           /* report blocks of all SR/RR, at most */
	struct rtcp_rb rb[RTCP_MAX_RB]; /* RTCP_MAX_RB kept */
	const uint8_t *cname;   /* the sender's SDES CNAME, NULL none */
	size_t cname_len;
	bool bye;               /* a BYE for the sender's SSRC */
};

/**
 * Decode a compound RTCP packet, checked as RFC 3550 A.2 says: version 2
 * throughout, an SR or RR first, padding on the last packet only, and
 * lengths adding up to @p len exactly.  SDES items and BYE reasons are
 * bounds-checked; APP and unknown packet types are skipped.
 * @return 0, or EBADMSG (nothing in @p m is meaningful then).
 */
int rtcp_decode(struct rtcp_msg *m, const uint8_t *buf, size_t len);

/** A compound packet to send: SR (sender) or RR, then SDES, then BYE. */
struct rtcp_report {
	uint32_t ssrc;
	bool sr;                /* we sent RTP since the last report */
	uint64_t ntp;
	uint32_t rtp_ts, pkts, octets;
	bool has_rb;            /* we receive a source: one block on it */
	struct rtcp_rb rb;
	const char *cname;      /* 1-255 octets */
	bool bye;
};

/** Encode @p r into @p buf.  @return its length (a multiple of 4), or 0
 * when @p cap is too small or the CNAME empty or too long. */
size_t rtcp_encode(uint8_t *buf, size_t cap, const struct rtcp_report *r);

/* ---- receiver statistics (RFC 3550 A.3, A.8) ---------------------------- */

/** What a receiver keeps about one source between reports. */
struct rtcp_rx {
	uint64_t expected_prior, received_prior; /* at the last report */
	uint32_t jitter_q4;     /* estimate * 16, timestamp units */
	uint32_t jitter_max_q4; /* its highest value so far */
	uint32_t transit;       /* of the previous packet */
	bool have_transit;
	uint32_t lsr;           /* middle of the last SR's NTP, 0 none */
	int64_t lsr_us;         /* when it arrived (monotonic) */
};

/** A.8: one packet with timestamp @p ts arrived at @p arrival (both in
 * the stream's timestamp units). */
void rtcp_rx_jitter(struct rtcp_rx *rx, uint32_t arrival, uint32_t ts);

/** A.3: the report block on @p ssrc from the cumulative @p expected and
 * @p received counts; moves the priors on (call once per report).
 * @p now_us is monotonic, for DLSR. */
void rtcp_rx_block(struct rtcp_rx *rx, struct rtcp_rb *rb, uint32_t ssrc,
		   uint64_t expected, uint64_t received, uint32_t ext_seq,
		   int64_t now_us);

/** The middle 32 bits of an NTP timestamp (LSR, RTT arithmetic). */
static inline uint32_t rtcp_ntp_mid(uint64_t ntp)
{
	return (uint32_t)(ntp >> 16);
}

/** NTP format (RFC 5905: seconds since 1900 . fraction) of a Unix time. */
uint64_t rtcp_ntp_from_unix(int64_t sec, long nsec);

/**
 * Round-trip time from a report block on our stream (RFC 3550 6.4.1):
 * @p arrival_mid is the middle 32 bits of the NTP time it arrived.
 * @return microseconds, or -1 when the block names no SR of ours or the
 * figure is not plausible (below -20 ms, over 60 s).
 */
int64_t rtcp_rtt_us(uint32_t arrival_mid, uint32_t lsr, uint32_t dlsr);

/**
 * Next report interval in ms: RFC 3550 6.3 for two participants, the
 * 5 s minimum (half of it before the first report, 6.2) scaled by a
 * random factor in [0.5, 1.5) from @p rnd.
 */
unsigned rtcp_interval_ms(uint32_t rnd, bool initial);

/**
 * Estimated MOS (listening quality, 1.0-4.5) times 100 for G.711 from a
 * simplified E-model (ITU-T G.107): R = 93.2 - Id - Ie_eff, with the
 * delay impairment Id of the one-way delay @p delay_ms and the effective
 * equipment impairment Ie_eff = 95 Ppl / (Ppl + Bpl) of the loss @p loss
 * (0-1; random loss, BurstR 1; Ie of G.711 is 0), Bpl 25.1 with packet
 * loss concealment and 4.3 without (G.113 Appendix I).
 */
unsigned rtcp_mos_x100(double loss, double delay_ms, bool plc);

#endif
