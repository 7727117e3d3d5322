/* media/relay.c  RTP <-> RTP relay: re-stamp, convert G.711 or transcode,
 * forward; RTCP terminated on each side (bridge_rtcp.c does the reports)
 */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define LOG_MODULE "media"
#include "util/util.h"

#include "media/core.h"
#include "media/g711.h"

/* RFC 3550 A.1: a jump this far ahead is a restart, not loss; this far
 * behind is a restart, not a late packet. */
#define MAX_DROPOUT 3000
#define MAX_MISORDER 100
#define DUP_WINDOW 64            /* packets behind max_seq we remember */
/* A timestamp that moved this much more (or less) than the wall clock
 * between two packets in sequence is a new timeline (a far end that
 * restarted its clock under the same SSRC), not silence suppression. */
#define TS_SLACK 8000            /* samples: 1 s */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Wall time between @p from and @p to in 8 kHz samples. */
static uint32_t samples_since(uint64_t from, uint64_t to)
{
	uint64_t n = to > from ? (to - from) / 125000u : 0;

	return n > INT32_MAX ? INT32_MAX : (uint32_t)n;
}

/* RFC 3550 A.1: what never arrived of the closing source is lost. */
static void dir_close(struct relay_dir *d, struct media_stats *st)
{
	int64_t expected;

	if (!d->sync)
		return;
	expected = d->max_ext - d->base_ext + 1;
	if (expected > (int64_t)d->seen) {
		st->rtp_lost += (uint64_t)(expected - (int64_t)d->seen);
		d->lost += (uint64_t)(expected - (int64_t)d->seen);
	}
	d->sync = false;
}

/* The next outgoing timestamp after a break in the incoming timeline:
 * as far past the last one sent as the wall clock went, and never
 * overlapping it. */
static uint32_t next_out_ts(const struct relay_dir *d, uint64_t now)
{
	uint32_t step = samples_since(d->out_ns, now);

	if (step < d->out_samples)
		step = d->out_samples;
	return d->out_ts + step;
}

/* Join a new incoming timeline to the outgoing one: the next sequence
 * number (when @p seq too), the timestamp the wall clock says. */
static void dir_rebase(struct relay_dir *d, const struct rtp_hdr *h,
		       uint64_t now, bool seq)
{
	if (!d->sent) {
		/* The first packet: the random start (RFC 3550 5.1) chosen
		 * at relay start is in out_seq/out_ts. */
		d->seq_off = (uint16_t)(d->out_seq - h->seq);
		d->ts_off = d->out_ts - h->ts;
		return;
	}
	if (seq)
		d->seq_off = (uint16_t)(d->out_seq + 1 - h->seq);
	d->ts_off = next_out_ts(d, now) - h->ts;
}

/*
 * Account for packet @p h and map its seq/ts onto the outgoing stream.
 * @return false when it is a duplicate or too late to forward.
 */
static bool dir_map(struct relay_dir *d, struct rtp_hdr *h, uint32_t samples,
		    uint64_t now, struct media_stats *st, struct rtcp_rx *rx)
{
	int16_t ds = (int16_t)(h->seq - d->max_seq);
	bool same = d->sync && h->ssrc == d->ssrc;

	if (same && ds <= 0 && ds > -MAX_MISORDER) {
		/* Reordered: forward it in its place in the stream, which
		 * the offsets give it; the receiver's buffer sorts it. */
		unsigned back = (unsigned)-ds;

		if (back >= DUP_WINDOW || (d->win >> back) & 1)
			return false;
		d->win |= 1ull << back;
		d->seen++;
		h->seq = (uint16_t)(h->seq + d->seq_off);
		h->ts += d->ts_off;
		return true;
	}

	if (same && ds > 0 && ds < MAX_DROPOUT) {
		/* In order, perhaps after a gap, which carries over. */
		int32_t dts = (int32_t)(h->ts - d->max_ts);
		int64_t wall = samples_since(d->in_ns, now);

		d->win = ds >= DUP_WINDOW ? 0 : d->win << ds;
		d->max_ext += ds;
		if (dts < -TS_SLACK || dts > wall + TS_SLACK) {
			dir_rebase(d, h, now, false);
			h->marker = true;
		}
	} else {
		/* A new source, or a sequence jump no loss explains: a new
		 * timeline that joins ours seamlessly.  A receiver
		 * resynchronises its playout on a marked packet. */
		dir_close(d, st);
		d->sync = true;
		d->ssrc = h->ssrc;
		d->max_ext = d->base_ext = h->seq;
		d->seen = 0;
		d->win = 0;
		/* Its receiver statistics start afresh (RFC 3550 A.1, A.8);
		 * the LSR of its SR stays for the next block. */
		rx->expected_prior = rx->received_prior = 0;
		rx->have_transit = false;
		rx->jitter_q4 = 0;
		dir_rebase(d, h, now, true);
		h->marker = true;
	}
	d->win |= 1;
	d->seen++;
	d->max_seq = h->seq;
	d->max_ts = h->ts;
	d->in_ns = now;

	h->seq = (uint16_t)(h->seq + d->seq_off);
	h->ts += d->ts_off;
	d->out_seq = h->seq;
	d->out_ts = h->ts;
	d->out_ns = now;
	if (samples)
		d->out_samples = samples;
	d->sent = true;
	return true;
}

/* Check and decrypt what came in on an SRTP side, in place.
 * @return false: nothing to relay. */
static bool srtp_in(struct bridge *b, struct msrtp *c, uint8_t *buf,
		    size_t *len)
{
	int err = msrtp_unprotect(c, buf, len);

	if (err == MSRTP_AUTH)
		b->st.srtp_auth_fail++;
	else if (err == MSRTP_REPLAY)
		b->st.srtp_replay++;
	else if (err)
		b->st.rtp_bad++;
	return !err;
}

/* ---- RTCP, per side ----------------------------------------------------- */

/*
 * Side i's leg: we receive dir i from it and send it dir 1 - i, under
 * that stream's own SSRC, so each far end sees one peer (us) with a
 * report on what it sent and a sender report on what it hears.
 */
static void side_now(const struct relay *r, unsigned i, uint64_t now_ns,
		     struct rtcp_leg_now *v)
{
	const struct relay_dir *in = &r->dir[i], *out = &r->dir[1 - i];

	*v = (struct rtcp_leg_now){
		.ssrc = out->out_ssrc,
		.tx_pkts = out->out_pkts,
		/* The outgoing timeline goes on with the wall clock. */
		.tx_ts = out->out_ts + samples_since(out->out_ns, now_ns),
		.rx_sync = in->sync,
		.rx_ssrc = in->ssrc,
		.rx_max_ext = in->max_ext,
		.rx_base_ext = in->base_ext,
		.rx_seen = in->seen,
	};
}

static void side_report(struct bridge *b, unsigned i, int64_t now_us,
			bool bye)
{
	struct relay *r = &b->relay;
	struct rtcp_leg_now v;

	side_now(r, i, (uint64_t)now_us * 1000u, &v);
	brtcp_send(&r->rtcp[i], &b->st, &v, &r->side[i].remote,
		   r->side[i].remote_len, r->side[i].srtp, now_us, bye);
}

void relay_rtcp_init(struct bridge *b, const uint32_t rnd[4], int64_t now_us)
{
	unsigned i;

	for (i = 0; i < 2; i++)
		brtcp_setup(&b->relay.rtcp[i], b, i,
			    b->relay.rtp[i]->rtcp_fd, rnd + 2 * i, now_us);
}

bool relay_rtcp_packet(struct bridge *b, unsigned side, const uint8_t *buf,
		       size_t len, int64_t now_us)
{
	struct relay *r = &b->relay;

	return brtcp_read(&r->rtcp[side], &b->st, r->dir[1 - side].out_ssrc,
			  r->dir[side].sync, r->dir[side].ssrc, buf, len,
			  now_us);
}

/* A relay has no clock of its own: the reports due go out when either
 * side's RTP wakes it (a call where nobody sends has nothing to report). */
static void rtcp_tick(struct bridge *b, uint64_t now_ns)
{
	int64_t now_us = (int64_t)(now_ns / 1000u);
	unsigned i;

	for (i = 0; i < 2; i++)
		if (brtcp_due(&b->relay.rtcp[i], now_us))
			side_report(b, i, now_us, false);
}

/* ---- transcoding ------------------------------------------------------ */

/* Does what comes in on endpoint @p i need a codec to go out?  Not when
 * both sides have the same codec, nor between the G.711 laws (a table
 * does that). */
static bool dir_transcodes(const struct relay *r, unsigned i)
{
	enum media_law from = r->side[i].law, to = r->side[1 - i].law;

	return from != to && !(mcodec_g711(from) && mcodec_g711(to));
}

void relay_codecs_free(struct relay *r)
{
	unsigned i;

	for (i = 0; i < 2; i++) {
		mcodec_free(&r->dir[i].dec);
		mcodec_free(&r->dir[i].enc);
		r->dir[i].tc = false;
	}
}

/*
 * Set up the codec state the sides' codecs now need, keeping what still
 * fits (a codec's state is its stream's: kept across an address change).
 * Called at start (signalling thread) and on an update (worker): never
 * per packet.  @return 0, or ENOMEM with that direction not transcoding
 * (its packets are dropped as rtp_ignored until an update).
 */
int relay_codecs(struct relay *r)
{
	int err = 0;
	unsigned i;

	for (i = 0; i < 2; i++) {
		struct relay_dir *d = &r->dir[i];
		enum media_law from = r->side[i].law, to = r->side[1 - i].law;

		if (!dir_transcodes(r, i)) {
			mcodec_free(&d->dec);
			mcodec_free(&d->enc);
			d->tc = false;
			continue;
		}
		if (d->tc && d->dec.pt == from && d->enc.pt == to)
			continue;
		mcodec_free(&d->dec);
		mcodec_free(&d->enc);
		d->tc = !mcodec_init(&d->dec, from, MCODEC_DEC) &&
			!mcodec_init(&d->enc, to, MCODEC_ENC);
		if (!d->tc) {
			mcodec_free(&d->dec);
			err = ENOMEM;
		}
	}
	return err;
}

/*
 * Payload @p p of *plen octets, of the sending side's codec, recoded in
 * place for the receiving side (@p to); @p room octets are free from
 * @p p on.  Packet for packet: the samples stay the same, so the
 * timestamps do.  @return false when it cannot go (counted).
 */
static bool transcode(struct bridge *b, struct relay_dir *d,
		      const struct rtp_hdr *h, uint8_t *p, size_t *plen,
		      size_t room, enum media_law to)
{
	int16_t pcm[JB_MAX_PAYLOAD];
	struct mcodec g711 = {.pt = (enum media_law)h->pt};
	struct mcodec *dec = mcodec_g711(g711.pt) ? &g711 : &d->dec;
	int n;

	if (!d->tc || (dec == &d->dec && d->dec.pt != g711.pt)) {
		/* Not what the side negotiated, or no state: we cannot
		 * make of it what the other side takes. */
		b->st.rtp_ignored++;
		return false;
	}
	n = mcodec_decode(dec, pcm, JB_MAX_PAYLOAD, p, *plen);
	if (n <= 0) {
		b->st.rtp_bad++;
		return false;
	}
	/* G.729 codes whole 10 ms frames: a G.711 packet of another size
	 * (no sane peer sends one) cannot be recoded alone. */
	if ((unsigned)n % mcodec_step(to) || mcodec_bytes(to, (unsigned)n) >
	    room) {
		b->st.rtp_ignored++;
		return false;
	}
	*plen = mcodec_encode(&d->enc, p, pcm, (unsigned)n);
	return *plen > 0;
}

/*
 * One datagram in on endpoint @p in, in @p buf of @p cap octets.  On
 * true the packet to send out of the other endpoint has been built in
 * place in @p buf (protected for an SRTP side): *pktp, *lenp.
 */
static bool relay_packet(struct bridge *b, unsigned in, uint8_t *buf,
			 size_t len, size_t cap,
			 const struct sockaddr_storage *from,
			 uint64_t now, uint8_t **pktp, size_t *lenp)
{
	struct relay *r = &b->relay;
	const struct relay_side *so = &r->side[1 - in];
	struct rtp_hdr h;
	const uint8_t *pl;
	uint8_t *p;
	size_t plen;
	uint8_t pt;
	uint32_t samples = 0, in_ts;

	if (len < RTP_HDR_LEN || (buf[0] >> 6) != 2) {
		b->st.rtp_bad++;
		return false;
	}
	/* RFC 5761 4: RTCP packet types 192-223 read as RTP payload types
	 * 64-95 with the marker set; no RTP stream may use those. */
	pt = buf[1] & 0x7f;
	if (pt >= 64 && pt <= 95) {
		/* RTCP multiplexed on the port: the side's own, as on its
		 * RTCP port. */
		if (!r->side[in].srtp ||
		    brtcp_unprotect(r->side[in].srtp, &b->st, buf, &len))
			relay_rtcp_packet(b, in, buf, len,
					  (int64_t)(now / 1000u));
		return false;
	}
	if (r->side[in].srtp && !srtp_in(b, r->side[in].srtp, buf, &len))
		return false;
	if (rtp_decode(&h, &pl, &plen, buf, len)) {
		b->st.rtp_bad++;
		return false;
	}
	if (plen == 0) {        /* a keepalive: nothing to relay */
		b->st.rtp_ignored++;
		return false;
	}
	/* Any source is accepted; strangers are counted, and with latching
	 * the side's RTP turns toward one that keeps sending. */
	if (latch_pending(&r->side[in].latch) &&
	    latch_rx(&r->side[in].latch, from, h.ssrc, &r->side[in].remote,
		     r->side[in].remote_len, (int64_t)(now / 1000000))) {
		latch_apply(&r->side[in].latch, b->id, "relay",
			    &r->side[in].remote, &r->side[in].remote_len);
		b->st.latched++;
	}
	if (r->side[in].remote_len &&
	    !latch_same_addr(from, &r->side[in].remote))
		b->st.rtp_foreign++;
	if (!so->remote_len) {
		b->st.rtp_held++;
		return false;
	}

	if (mcodec_valid((enum media_law)h.pt))
		samples = mcodec_samples((enum media_law)h.pt, plen);
	in_ts = h.ts;
	if (!dir_map(&r->dir[in], &h, samples, now, &b->st,
		     &r->rtcp[in].rx)) {
		b->st.rtp_late++;
		r->dir[in].late++;
		return false;
	}
	b->st.rtp_rx++;
	r->dir[in].rx++;
	if (samples) {
		/* A.8 on the arrival clock in timestamp units (8 kHz for
		 * all our codecs, G.722 included): events keep their
		 * start's timestamp, so only audio counts. */
		rtcp_rx_jitter(&r->rtcp[in].rx, (uint32_t)(now / 125000u),
			       in_ts);
		r->rtcp[in].rx_octets += plen;
	}

	/* The payload stays where it is; our 12-octet header goes right
	 * before it (CSRCs, extensions and padding are the other leg's
	 * business). */
	p = buf + (pl - buf);
	if (samples && h.pt != (uint8_t)so->law &&
	    mcodec_g711((enum media_law)h.pt) && mcodec_g711(so->law)) {
		const uint8_t *conv = g711_conv_table((enum media_law)h.pt,
						      so->law);
		size_t i;

		for (i = 0; i < plen; i++)
			p[i] = conv[p[i]];
		h.pt = (uint8_t)so->law;
	} else if (samples && h.pt != (uint8_t)so->law) {
		if (!transcode(b, &r->dir[in], &h, p, &plen,
			       cap - (size_t)(p - buf) - MSRTP_TRAILER,
			       so->law))
			return false;
		h.pt = (uint8_t)so->law;
	} else if (!samples && so->te_tx_pt &&
		   h.pt == (uint8_t)r->side[in].te_rx_pt) {
		/* Each leg negotiated its own telephone-event type. */
		h.pt = (uint8_t)so->te_tx_pt;
	}
	h.ssrc = r->dir[in].out_ssrc;
	r->dir[in].out_pkts++;
	r->rtcp[1 - in].tx_octets += plen;
	rtp_encode_hdr(p - RTP_HDR_LEN, &h);
	*pktp = p - RTP_HDR_LEN;
	*lenp = plen + RTP_HDR_LEN;
	/* Our header is never longer than the one it replaced, so the
	 * trailer room past the read size is still there. */
	if (so->srtp && msrtp_protect(so->srtp, *pktp, lenp,
				      cap - (size_t)(*pktp - buf)))
		return false;
	return true;
}

static void relay_send(struct worker *w, struct bridge *b, unsigned out,
		       unsigned n)
{
	struct relay *r = &b->relay;
	unsigned done = 0;
	int k;

	while (done < n) {
		k = sendmmsg(r->fd[out], w->txmsgs + done, n - done,
			     MSG_DONTWAIT);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			/* A full buffer or an ICMP error loses this packet
			 * only; the receiver sees the gap in seq. */
			gw_dbg(GW_DBG_MEDIA, "relay %u: send: %s", b->id,
			       strerror(errno));
			done++;
			continue;
		}
		done += (unsigned)k;
		b->st.rtp_tx += (unsigned)k;
	}
}

void relay_rx(struct worker *w, struct relay_port *port)
{
	struct bridge *b = port->b;
	struct relay *r = &b->relay;
	const unsigned in = port->idx, out = 1 - in;
	uint64_t now;
	unsigned k;
	int i, n;

	if (b->stopped)
		return;
	now = mono_ns();
	for (;;) {
		for (i = 0; i < RX_VLEN; i++)
			w->msgs[i].msg_hdr.msg_namelen = sizeof(w->rxname[i]);
		n = recvmmsg(r->fd[in], w->msgs, RX_VLEN, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return; /* EAGAIN, or an ICMP error: nothing now */
		}
		if (n > 0)
			atomic_store_explicit(&b->rx_ms[in],
					      (int64_t)(now / 1000000),
					      memory_order_relaxed);
		k = 0;
		for (i = 0; i < n; i++) {
			struct msghdr *mh = &w->msgs[i].msg_hdr;
			uint8_t *pkt;
			size_t len;

			if (mh->msg_flags & MSG_TRUNC) {
				b->st.rtp_bad++;
				continue;
			}
			if (!relay_packet(b, in, w->rxbuf[i],
					  w->msgs[i].msg_len,
					  sizeof(w->rxbuf[i]), &w->rxname[i],
					  now, &pkt, &len))
				continue;
			w->txiov[k].iov_base = pkt;
			w->txiov[k].iov_len = len;
			w->txmsgs[k].msg_hdr = (struct msghdr){
				.msg_name = &r->side[out].remote,
				.msg_namelen = r->side[out].remote_len,
				.msg_iov = &w->txiov[k],
				.msg_iovlen = 1,
			};
			k++;
		}
		if (k)
			relay_send(w, b, out, k);
		rtcp_tick(b, now);
		/* A short batch drained the socket; the level-triggered
		 * epoll set wakes us for anything after. */
		if (n < RX_VLEN)
			return;
	}
}

void relay_update(struct bridge *b, const struct cmd *c)
{
	struct relay_side *s = &b->relay.side[c->side];

	/* The outgoing streams go on unbroken: a new address or law is
	 * the same stream to us. */
	if (!latch_signal(&s->latch, c->latch, &c->remote, c->remote_len,
			  tg_mono_ms())) {
		memcpy(&s->remote, &c->remote, c->remote_len);
		s->remote_len = c->remote_len;
	}
	s->law = c->law;
	s->ptime = c->ptime;
	s->te_rx_pt = c->te_rx_pt;
	s->te_tx_pt = c->te_tx_pt;
	if (relay_codecs(&b->relay))
		gw_err("relay %u: no memory to transcode to codec %d", b->id,
		       (int)s->law);
	if (c->rekey) {
		msrtp_free(s->srtp);
		s->srtp = c->srtp;
	}
}

/* Side i's figures: what we received from it (dir i) and what it
 * reported of what we sent it (dir 1 - i).  The relay plays nothing
 * out: the listener's buffer is guessed from the jitter. */
static void side_quality(struct relay *r, unsigned i, struct media_leg *q)
{
	struct rtcp_q_in in = {
		.rx = r->dir[i].rx,
		.lost = r->dir[i].lost,
		.late = r->dir[i].late,
		.tx = r->dir[1 - i].out_pkts,
		.ptime_ms = r->side[i].ptime,
		.jb_ms = -1,
		.plc = true,
		.law = r->side[i].law,
	};

	brtcp_quality(&r->rtcp[i], &in, q);
}

/* The lower of two MOS, 0 (unknown) counting as none. */
static unsigned mos_worse(unsigned a, unsigned b)
{
	if (!a || !b)
		return a ? a : b;
	return a < b ? a : b;
}

/* The bridge's figures (docs/cdr.md): the worse of the two legs'. */
static void legs_combine(struct media_stats *st)
{
	const struct media_leg *l = st->leg;
	unsigned i;

	st->rtt_us = -1;
	for (i = 0; i < 2; i++) {
		if (l[i].jitter_us > st->jitter_us)
			st->jitter_us = l[i].jitter_us;
		if (l[i].rtt_us > st->rtt_us)
			st->rtt_us = l[i].rtt_us;
		st->mos_rx = mos_worse(st->mos_rx, l[i].mos_rx);
		st->mos_tx = mos_worse(st->mos_tx, l[i].mos_tx);
		if (!l[i].remote_report)
			continue;
		st->remote_lost += l[i].remote_lost;
		if (l[i].remote_fraction > st->remote_fraction)
			st->remote_fraction = l[i].remote_fraction;
		if (l[i].remote_jitter_us > st->remote_jitter_us)
			st->remote_jitter_us = l[i].remote_jitter_us;
		st->remote_report = true;
	}
}

void relay_finish(struct bridge *b)
{
	struct relay *r = &b->relay;
	int64_t now_us = media_mono_us();
	unsigned i;

	for (i = 0; i < 2; i++)
		side_report(b, i, now_us, true);
	for (i = 0; i < 2; i++) {
		dir_close(&r->dir[i], &b->st);
		b->st.rtp_tx_octets += r->rtcp[i].tx_octets;
		b->st.rtp_rx_octets += r->rtcp[i].rx_octets;
	}
	for (i = 0; i < 2; i++) {
		side_quality(r, i, &b->st.leg[i]);
		r->rtcp[i].fd = -1;
		r->rtp[i] = obj_deref(r->rtp[i]);
		r->fd[i] = -1;
	}
	legs_combine(&b->st);
}
