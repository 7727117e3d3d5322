/* media/bridge_rtcp.c  RTCP of an RTP leg: reports, quality
 *
 * The leg is a timeslot <-> RTP bridge's far end, or one side of an
 * RTP <-> RTP relay (relay.c), which terminates RTCP on each side as a
 * B2BUA does.  Every leg gets a compound report (SR while we send it RTP, else RR,
 * with a block on the source we receive from it, and SDES CNAME) at its
 * RTP port + 1 about every 5 s, and a last one with BYE at the end; its
 * reports are read on our RTP port + 1 (or on the RTP port, multiplexed
 * as RFC 5761 allows).  From those come the
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

void brtcp_setup(struct brtcp *r, struct bridge *b, unsigned idx, int fd,
		 const uint32_t rnd[2], int64_t now_us)
{
	r->src.kind = SRC_RTCP;
	r->src.b = b;
	r->src.idx = idx;
	r->fd = fd;
	r->rng = rnd[0] ? rnd[0] : 0x9e3779b9u;
	/* RFC 7022 5: a random CNAME per session, unlinkable to the host. */
	snprintf(r->cname, sizeof(r->cname), "tg-%08x%08x", rnd[1],
		 rng_next(r));
	r->next_us = now_us + (int64_t)rtcp_interval_ms(rng_next(r), true) *
				      1000;
}

bool brtcp_due(struct brtcp *r, int64_t now_us)
{
	if (now_us < r->next_us)
		return false;
	r->next_us = now_us +
		     (int64_t)rtcp_interval_ms(rng_next(r), false) * 1000;
	return true;
}

static void ntp_now(uint64_t *ntp)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	*ntp = rtcp_ntp_from_unix(ts.tv_sec, ts.tv_nsec);
}

/* The far end's RTCP address: RFC 3550 11, its RTP port + 1. */
static socklen_t rtcp_remote(const struct sockaddr_storage *remote,
			     socklen_t remote_len,
			     struct sockaddr_storage *ss)
{
	uint16_t port;

	if (!remote_len)
		return 0;
	memcpy(ss, remote, remote_len);
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
	return remote_len;
}

/* Same family and address, any port. */
static bool same_host(const struct sockaddr_storage *a,
		      const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return a->ss_family == AF_INET6 &&
	       !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		       &((const struct sockaddr_in6 *)b)->sin6_addr,
		       sizeof(struct in6_addr));
}

/* Symmetric RTCP (RFC 4961) where the stream latches: a valid report
 * from the host the RTP goes to says where reports must go back to.  A
 * NAT gives the far end's RTCP a port of its own choosing, so RTP + 1
 * would reach nobody; another host is never taken (no redirection of
 * our reports by a stranger). */
static void brtcp_heard(struct brtcp *r, const struct latch *lt,
			const struct sockaddr_storage *remote,
			socklen_t remote_len,
			const struct sockaddr_storage *from)
{
	socklen_t len;

	if (!lt->on || !remote_len || !same_host(from, remote))
		return;
	len = from->ss_family == AF_INET ? sizeof(struct sockaddr_in)
					 : sizeof(struct sockaddr_in6);
	if (r->peer_len == len && !memcmp(&r->peer, from, len))
		return;
	gw_dbg(GW_DBG_MEDIA, "bridge %u: RTCP follows its source",
	       r->src.b->id);
	memcpy(&r->peer, from, len);
	r->peer_len = len;
	/* What we sent before went nowhere: report now, so that the far
	 * end has an SR to answer with LSR/DLSR (the round trip) within
	 * one of its own intervals. */
	r->next_us = 0;
}

/* Fill in what we have to say now. */
static void report_make(struct brtcp *r, const struct rtcp_leg_now *v,
			struct rtcp_report *rep, int64_t now_us, bool bye)
{
	memset(rep, 0, sizeof(*rep));
	rep->ssrc = v->ssrc;
	rep->cname = r->cname;
	rep->bye = bye;
	/* RFC 3550 6.4: SR when we sent RTP since the last report. */
	rep->sr = v->tx_pkts > r->tx_at_report;
	r->tx_at_report = v->tx_pkts;
	if (rep->sr) {
		ntp_now(&rep->ntp);
		rep->rtp_ts = v->tx_ts;
		rep->pkts = (uint32_t)v->tx_pkts;
		rep->octets = (uint32_t)r->tx_octets;
	}
	if (v->rx_sync) {
		rep->has_rb = true;
		rtcp_rx_block(&r->rx, &rep->rb, v->rx_ssrc,
			      (uint64_t)(v->rx_max_ext - v->rx_base_ext + 1),
			      v->rx_seen, (uint32_t)v->rx_max_ext, now_us);
	}
}

void brtcp_send(struct brtcp *r, struct media_stats *st,
		const struct rtcp_leg_now *v,
		const struct sockaddr_storage *remote, socklen_t remote_len,
		struct msrtp *srtp, int64_t now_us, bool bye)
{
	uint8_t pkt[RTCP_BUFSZ + MSRTP_TRAILER];
	struct sockaddr_storage ss;
	struct rtcp_report rep;
	socklen_t sslen;
	size_t len;
	ssize_t n;

	if (r->peer_len && remote_len && same_host(&r->peer, remote)) {
		memcpy(&ss, &r->peer, r->peer_len);
		sslen = r->peer_len;
	} else {
		sslen = rtcp_remote(remote, remote_len, &ss);
	}
	if (r->fd < 0 || !sslen)
		return;
	report_make(r, v, &rep, now_us, bye);
	len = rtcp_encode(pkt, RTCP_BUFSZ, &rep);
	if (!len)
		return;
	if (srtp && msrtp_protect_rtcp(srtp, pkt, &len, sizeof(pkt)))
		return;
	n = sendto(r->fd, pkt, len, MSG_DONTWAIT,
		   (const struct sockaddr *)&ss, sslen);
	if (n == (ssize_t)len) {
		st->rtcp_tx++;
		r->ntx++;
	} else {
		gw_dbg(GW_DBG_MEDIA, "bridge %u: RTCP send: %s", r->src.b->id,
		       n < 0 ? strerror(errno) : "short");
	}
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

bool brtcp_read(struct brtcp *r, struct media_stats *st, uint32_t our_ssrc,
		bool rx_sync, uint32_t rx_ssrc, const uint8_t *buf,
		size_t len, int64_t now_us)
{
	struct rtcp_msg m;
	unsigned i;

	if (rtcp_decode(&m, buf, len)) {
		st->rtcp_bad++;
		return false;
	}
	st->rtcp_rx++;
	r->nrx++;
	/* An SR from the source we receive: its time goes back as LSR. */
	if (m.sr && (!rx_sync || m.ssrc == rx_ssrc)) {
		r->rx.lsr = rtcp_ntp_mid(m.ntp);
		r->rx.lsr_us = now_us;
	}
	for (i = 0; i < m.nrb; i++)
		if (m.rb[i].ssrc == our_ssrc)
			rb_ours(r, &m.rb[i]);
	if (m.bye)
		gw_dbg(GW_DBG_MEDIA, "bridge %u: RTCP BYE from %08x",
		       r->src.b->id, m.ssrc);
	return true;
}

bool brtcp_unprotect(struct msrtp *srtp, struct media_stats *st,
		     uint8_t *buf, size_t *len)
{
	int err = msrtp_unprotect_rtcp(srtp, buf, len);

	if (err == MSRTP_AUTH)
		st->srtp_auth_fail++;
	else if (err == MSRTP_REPLAY)
		st->srtp_replay++;
	else if (err)
		st->rtcp_bad++;
	return !err;
}

void brtcp_rx(struct worker *w, struct rtcp_src *src)
{
	struct bridge *b = src->b;
	bool relay = b->type == BRIDGE_RELAY;
	struct brtcp *r = relay ? &b->relay.rtcp[src->idx] : &b->rtcp;
	struct msrtp *srtp = relay ? b->relay.side[src->idx].srtp : b->srtp;
	const struct latch *lt = relay ? &b->relay.side[src->idx].latch
				       : &b->latch;
	const struct sockaddr_storage *remote =
		relay ? &b->relay.side[src->idx].remote : &b->remote;
	socklen_t remote_len =
		relay ? b->relay.side[src->idx].remote_len : b->remote_len;
	int64_t now_us;
	int n, i;

	if (b->stopped || r->fd < 0)
		return;
	for (;;) {
		n = recvmmsg(r->fd, w->msgs, RX_VLEN, MSG_DONTWAIT, NULL);
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
			if (srtp && !brtcp_unprotect(srtp, &b->st, p, &len))
				continue;
			if (relay ? relay_rtcp_packet(b, src->idx, p, len,
						      now_us)
				  : brtcp_packet(b, p, len, now_us))
				brtcp_heard(r, lt, remote, remote_len,
					    &w->rxname[i]);
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
static double delay_ms(int64_t rtt_us, double ptime_ms, double jb_ms)
{
	double d = ptime_ms + jb_ms;

	if (rtt_us >= 0)
		d += (double)rtt_us / 2000.0;
	return d;
}

/* A playout buffer we do not know: twice the jitter, 20 ms at least,
 * as an adaptive buffer would hold. */
static double jb_guess(unsigned jitter_us)
{
	return jitter_us / 500.0 > 20 ? jitter_us / 500.0 : 20;
}

/* The E-model's MOS for the leg's RTP codec (G.113 Appendix I): G.729
 * (Annex A, which bcg729 is) has Ie 11 and Bpl 19 with its own
 * concealment; G.711 0 and 25.1 (4.3 without concealment).  The
 * narrowband model has no figure for G.722: rated as G.711. */
static unsigned codec_mos(enum media_law law, double loss, double delay,
			  bool plc)
{
	if (law == MEDIA_G729)
		return rtcp_mos_codec_x100(loss, delay, 11, 19);
	return rtcp_mos_x100(loss, delay, plc);
}

void brtcp_quality(const struct brtcp *r, const struct rtcp_q_in *in,
		   struct media_leg *q)
{
	uint64_t expected = in->rx + in->lost + in->late;

	q->rtcp = true;
	q->rtp_rx = in->rx;
	q->rtp_lost = in->lost;
	q->rtcp_tx = r->ntx;
	q->rtcp_rx = r->nrx;
	q->jitter_us = ts_to_us(r->rx.jitter_max_q4 >> 4);
	q->rtt_us = r->rtt_n ? (int64_t)(r->rtt_sum_us / r->rtt_n) : -1;
	q->mos_rx = 0;
	if (expected) {
		/* Late packets are as lost to the listener as missing ones. */
		double loss = (double)(in->lost + in->late) / (double)expected;
		double jb = in->jb_ms >= 0 ? in->jb_ms : jb_guess(q->jitter_us);

		q->mos_rx = codec_mos(in->law, loss,
				      delay_ms(q->rtt_us, in->ptime_ms, jb),
				      in->plc);
	}
	q->remote_report = r->have_rb;
	q->mos_tx = 0;
	if (r->have_rb) {
		double loss = 0;

		q->remote_lost = r->rb.lost;
		q->remote_fraction = r->rb.fraction;
		q->remote_jitter_us = ts_to_us(r->rb_jitter_max);
		if (r->rb.lost > 0 && in->tx)
			loss = (double)r->rb.lost / (double)in->tx;
		/* Its playout delay is unknown: guessed from its jitter. */
		q->mos_tx = codec_mos(in->law, loss,
				      delay_ms(q->rtt_us, in->ptime_ms,
					       jb_guess(q->remote_jitter_us)),
				      true);
	}
}

/* ---- a timeslot <-> RTP bridge ----------------------------------------- */

void brtcp_init(struct bridge *b, const uint32_t rnd[2], int64_t now_us)
{
	brtcp_setup(&b->rtcp, b, 0, b->rtp->rtcp_fd, rnd, now_us);
}

static void bridge_now(const struct bridge *b, struct rtcp_leg_now *v)
{
	*v = (struct rtcp_leg_now){
		.ssrc = b->tx.ssrc,
		.tx_pkts = b->st.rtp_tx,
		/* The instant of the sample being packetised now. */
		.tx_ts = b->tx.ts + b->tx_fill,
		.rx_sync = b->rx_sync,
		.rx_ssrc = b->rx_ssrc,
		.rx_max_ext = b->rx_max_ext,
		.rx_base_ext = b->rx_base_ext,
		.rx_seen = b->rx_seen,
	};
}

static void bridge_report(struct bridge *b, int64_t now_us, bool bye)
{
	struct rtcp_leg_now v;

	bridge_now(b, &v);
	brtcp_send(&b->rtcp, &b->st, &v, &b->remote, b->remote_len, b->srtp,
		   now_us, bye);
}

void brtcp_tick(struct bridge *b, int64_t now_us)
{
	if (brtcp_due(&b->rtcp, now_us))
		bridge_report(b, now_us, false);
}

bool brtcp_packet(struct bridge *b, const uint8_t *buf, size_t len,
		  int64_t now_us)
{
	return brtcp_read(&b->rtcp, &b->st, b->tx.ssrc, b->rx_sync,
			  b->rx_ssrc, buf, len, now_us);
}

void brtcp_bye(struct bridge *b)
{
	bridge_report(b, media_mono_us(), true);
}

/* The bridge stopped: its figures (the losses folded in already). */
void brtcp_finish(struct bridge *b)
{
	struct media_stats *st = &b->st;
	struct rtcp_q_in in = {
		.rx = st->rtp_rx,
		.lost = st->rtp_lost,
		.late = st->rtp_late,
		.tx = st->rtp_tx,
		.ptime_ms = b->tx_samples / 8.0,
		.jb_ms = b->jb.lo / 8.0,
		.plc = b->jb.mode == JB_ADAPTIVE,
		.law = b->rtp_law,
	};
	struct media_leg q;

	st->rtp_tx_octets = b->rtcp.tx_octets;
	st->rtp_rx_octets = b->rtcp.rx_octets;
	brtcp_quality(&b->rtcp, &in, &q);
	st->jitter_us = q.jitter_us;
	st->rtt_us = q.rtt_us;
	st->mos_rx = q.mos_rx;
	st->remote_report = q.remote_report;
	if (q.remote_report) {
		st->remote_lost = q.remote_lost;
		st->remote_fraction = q.remote_fraction;
		st->remote_jitter_us = q.remote_jitter_us;
		st->mos_tx = q.mos_tx;
	}
	b->rtcp.fd = -1;
}
