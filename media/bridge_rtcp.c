/* media/bridge_rtcp.c  RTCP of a timeslot <-> RTP bridge: reports, quality
 *
 * Every bridge sends a compound report (SR while it sends RTP, else RR,
 * with a block on the source it receives, and SDES CNAME) to the far
 * end's RTP port + 1 about every 5 s, and a last one with BYE when it
 * stops; it reads the far end's reports on its own RTP port + 1 (or on
 * the RTP port, multiplexed as RFC 5761 allows).  From those come the
 * round-trip time and what the far end lost of our stream; with the
 * receive statistics they give the call's quality figures.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>

#define LOG_MODULE "media"
#include "util/util.h"

#include "media/core.h"

#define RTCP_BUFSZ 512          /* our reports: SR + 1 block + SDES + BYE */

static uint32_t rng_next(struct brtcp *r)
{
	uint32_t x = r->rng;

	/* xorshift32: the interval's jitter needs no better. */
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	r->rng = x;
	return x;
}

void brtcp_init(struct bridge *b, const uint32_t rnd[2], int64_t now_us)
{
	struct brtcp *r = &b->rtcp;

	r->src.kind = SRC_RTCP;
	r->src.b = b;
	r->fd = b->rtp->rtcp_fd;
	r->rng = rnd[0] ? rnd[0] : 0x9e3779b9u;
	/* RFC 7022 5: a random CNAME per session, unlinkable to the host. */
	snprintf(r->cname, sizeof(r->cname), "tg-%08x%08x", rnd[1],
		 rng_next(r));
	r->next_us = now_us + (int64_t)rtcp_interval_ms(rng_next(r), true) *
				      1000;
}

static void ntp_now(uint64_t *ntp)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	*ntp = rtcp_ntp_from_unix(ts.tv_sec, ts.tv_nsec);
}

/* The far end's RTCP address: RFC 3550 11, its RTP port + 1. */
static socklen_t rtcp_remote(const struct bridge *b,
			     struct sockaddr_storage *ss)
{
	uint16_t port;

	if (!b->remote_len)
		return 0;
	memcpy(ss, &b->remote, b->remote_len);
	/* An unspecified address (RFC 2543 hold, c=0.0.0.0) takes nothing:
	 * sent there, the report would reach this host. */
	if (ss->ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		port = ntohs(sin->sin_port);
		if (!port || port == 0xffff ||
		    sin->sin_addr.s_addr == htonl(INADDR_ANY))
			return 0;
		sin->sin_port = htons((uint16_t)(port + 1));
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		port = ntohs(sin6->sin6_port);
		if (!port || port == 0xffff ||
		    IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr))
			return 0;
		sin6->sin6_port = htons((uint16_t)(port + 1));
	}
	return b->remote_len;
}

/* Fill in what we have to say now. */
static void report_make(struct bridge *b, struct rtcp_report *rep,
			int64_t now_us, bool bye)
{
	struct brtcp *r = &b->rtcp;

	memset(rep, 0, sizeof(*rep));
	rep->ssrc = b->tx.ssrc;
	rep->cname = r->cname;
	rep->bye = bye;
	/* RFC 3550 6.4: SR when we sent RTP since the last report. */
	rep->sr = b->st.rtp_tx > r->tx_at_report;
	r->tx_at_report = b->st.rtp_tx;
	if (rep->sr) {
		ntp_now(&rep->ntp);
		/* The instant of the sample being packetised now. */
		rep->rtp_ts = b->tx.ts + b->tx_fill;
		rep->pkts = (uint32_t)b->st.rtp_tx;
		rep->octets = (uint32_t)r->tx_octets;
	}
	if (b->rx_sync) {
		rep->has_rb = true;
		rtcp_rx_block(&r->rx, &rep->rb, b->rx_ssrc,
			      (uint64_t)(b->rx_max_ext - b->rx_base_ext + 1),
			      b->rx_seen, (uint32_t)b->rx_max_ext, now_us);
	}
}

static void report_send(struct bridge *b, int64_t now_us, bool bye)
{
	uint8_t pkt[RTCP_BUFSZ + MSRTP_TRAILER];
	struct sockaddr_storage ss;
	struct rtcp_report rep;
	socklen_t sslen;
	size_t len;
	ssize_t n;

	sslen = rtcp_remote(b, &ss);
	if (b->rtcp.fd < 0 || !sslen)
		return;
	report_make(b, &rep, now_us, bye);
	len = rtcp_encode(pkt, RTCP_BUFSZ, &rep);
	if (!len)
		return;
	if (b->srtp && msrtp_protect_rtcp(b->srtp, pkt, &len, sizeof(pkt)))
		return;
	n = sendto(b->rtcp.fd, pkt, len, MSG_DONTWAIT,
		   (const struct sockaddr *)&ss, sslen);
	if (n == (ssize_t)len)
		b->st.rtcp_tx++;
	else
		gw_dbg(GW_DBG_MEDIA, "bridge %u: RTCP send: %s", b->id,
		       n < 0 ? strerror(errno) : "short");
}

void brtcp_tick(struct bridge *b, int64_t now_us)
{
	struct brtcp *r = &b->rtcp;

	if (now_us < r->next_us)
		return;
	report_send(b, now_us, false);
	r->next_us = now_us +
		     (int64_t)rtcp_interval_ms(rng_next(r), false) * 1000;
}

/* A report block on our stream: what the far end lost, and the RTT. */
static void rb_ours(struct brtcp *r, const struct rtcp_rb *rb)
{
	uint64_t ntp;
	int64_t rtt;

	r->have_rb = true;
	r->rb = *rb;
	if (rb->jitter > r->rb_jitter_max)
		r->rb_jitter_max = rb->jitter;
	ntp_now(&ntp);
	rtt = rtcp_rtt_us(rtcp_ntp_mid(ntp), rb->lsr, rb->dlsr);
	if (rtt >= 0) {
		r->rtt_sum_us += (uint64_t)rtt;
		r->rtt_n++;
	}
}

void brtcp_packet(struct bridge *b, const uint8_t *buf, size_t len,
		  int64_t now_us)
{
	struct brtcp *r = &b->rtcp;
	struct rtcp_msg m;
	unsigned i;

	if (rtcp_decode(&m, buf, len)) {
		b->st.rtcp_bad++;
		return;
	}
	b->st.rtcp_rx++;
	/* An SR from the source we play: its time goes back as LSR. */
	if (m.sr && (!b->rx_sync || m.ssrc == b->rx_ssrc)) {
		r->rx.lsr = rtcp_ntp_mid(m.ntp);
		r->rx.lsr_us = now_us;
	}
	for (i = 0; i < m.nrb; i++)
		if (m.rb[i].ssrc == b->tx.ssrc)
			rb_ours(r, &m.rb[i]);
	if (m.bye)
		gw_dbg(GW_DBG_MEDIA, "bridge %u: RTCP BYE from %08x", b->id,
		       m.ssrc);
}

bool brtcp_unprotect(struct bridge *b, uint8_t *buf, size_t *len)
{
	int err = msrtp_unprotect_rtcp(b->srtp, buf, len);

	if (err == MSRTP_AUTH)
		b->st.srtp_auth_fail++;
	else if (err == MSRTP_REPLAY)
		b->st.srtp_replay++;
	else if (err)
		b->st.rtcp_bad++;
	return !err;
}

void brtcp_rx(struct worker *w, struct bridge *b)
{
	int64_t now_us;
	int n, i;

	if (b->stopped || b->rtcp.fd < 0)
		return;
	for (;;) {
		n = recvmmsg(b->rtcp.fd, w->msgs, RX_VLEN, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		now_us = media_mono_us();
		for (i = 0; i < n; i++) {
			uint8_t *p = w->rxbuf[i];
			size_t len = w->msgs[i].msg_len;

			if (w->msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
				b->st.rtcp_bad++;
				continue;
			}
			if (b->srtp && !brtcp_unprotect(b, p, &len))
				continue;
			brtcp_packet(b, p, len, now_us);
		}
		if (n < RX_VLEN)
			return;
	}
}

/* G.711 timestamp units (8 kHz) to microseconds. */
static unsigned ts_to_us(uint64_t ts)
{
	uint64_t us = ts * 125;

	return us > 0xffffffffu ? 0xffffffffu : (unsigned)us;
}

/* The one-way delay the E-model charges: half the round trip, one
 * packet of packetisation and the playout buffer (@p jb_ms). */
static double delay_ms(const struct media_stats *st, double ptime_ms,
		       double jb_ms)
{
	double d = ptime_ms + jb_ms;

	if (st->rtt_us >= 0)
		d += (double)st->rtt_us / 2000.0;
	return d;
}

static void quality(struct bridge *b)
{
	struct media_stats *st = &b->st;
	struct brtcp *r = &b->rtcp;
	double ptime = b->tx_samples / 8.0;
	uint64_t expected = st->rtp_rx + st->rtp_lost + st->rtp_late;

	st->jitter_us = ts_to_us(r->rx.jitter_max_q4 >> 4);
	st->rtt_us = r->rtt_n ? (int64_t)(r->rtt_sum_us / r->rtt_n) : -1;
	if (expected) {
		/* Late packets are as lost to the listener as missing ones. */
		double loss = (double)(st->rtp_lost + st->rtp_late) /
			      (double)expected;

		st->mos_rx = rtcp_mos_x100(loss,
					   delay_ms(st, ptime, b->jb.lo / 8.0),
					   b->jb.mode == JB_ADAPTIVE);
	}
	st->remote_report = r->have_rb;
	if (r->have_rb) {
		double loss = 0;

		st->remote_lost = r->rb.lost;
		st->remote_fraction = r->rb.fraction;
		st->remote_jitter_us = ts_to_us(r->rb_jitter_max);
		if (r->rb.lost > 0 && st->rtp_tx)
			loss = (double)r->rb.lost / (double)st->rtp_tx;
		/* Its playout delay is unknown: twice the jitter it saw,
		 * 20 ms at least, as an adaptive buffer would hold. */
		st->mos_tx = rtcp_mos_x100(
			loss,
			delay_ms(st, ptime,
				 st->remote_jitter_us / 500.0 > 20
					 ? st->remote_jitter_us / 500.0
					 : 20),
			true);
	}
}

void brtcp_bye(struct bridge *b)
{
	report_send(b, media_mono_us(), true);
}

/* The bridge stopped: its figures (the losses folded in already). */
void brtcp_finish(struct bridge *b)
{
	b->st.rtp_tx_octets = b->rtcp.tx_octets;
	b->st.rtp_rx_octets = b->rtcp.rx_octets;
	quality(b);
	b->rtcp.fd = -1;
}
