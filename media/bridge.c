/* media/bridge.c  One timeslot <-> RTP: packetise, code, send, receive,
 * decode, play out */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define LOG_MODULE "media"
#include "util/util.h"

#include "media/core.h"
#include "media/g711.h"

/*
 * Point the bridge at its two laws.  A codec other than G.711 gets its
 * state (set up afresh when the codec changes: a new codec starts a new
 * stream); decoded audio reaches the jitter buffer in the span's law, so
 * its table is the identity.  @return 0, or ENOMEM with the bridge as it
 * was.
 */
int bridge_set_laws(struct bridge *b, enum media_law rtp_law,
		    enum media_law span_law)
{
	enum media_law jb_from = mcodec_g711(rtp_law) ? rtp_law : span_law;

	if (rtp_law != b->codec.pt || !b->tx_conv) {
		struct mcodec c;
		int err = mcodec_init(&c, rtp_law, MCODEC_ENC | MCODEC_DEC);

		if (err)
			return err;
		mcodec_free(&b->codec);
		b->codec = c;
	}
	b->rtp_law = rtp_law;
	b->span_law = span_law;
	b->tx_conv = g711_conv_table(span_law, mcodec_g711(rtp_law) ?
				     rtp_law : span_law);
	b->rx_conv = g711_conv_table(jb_from, span_law);
	b->span_dec = g711_decode_table(span_law);
	jbuf_set_law(&b->jb, span_law);
	return 0;
}

/* ---- DTMF ------------------------------------------------------------- */

static bool dtmf_on(const struct bridge *b)
{
	return b->dtmf != MEDIA_DTMF_INBAND;
}

/* Forget any digit on the way (a new mode, a new far end). */
void bridge_dtmf_reset(struct bridge *b)
{
	b->det_on = false;
	memset(&b->te_tx, 0, sizeof(b->te_tx));
	te_rx_reset(&b->te_rx);
	memset(&b->gen, 0, sizeof(b->gen));
	memset(b->held, media_g711_silence(b->span_law), sizeof(b->held));
}

static void det_end(struct bridge *b)
{
	b->det_on = false;
	if (b->dtmf == MEDIA_DTMF_RFC4733)
		te_tx_stop(&b->te_tx);
	else if (b->dtmf == MEDIA_DTMF_REPORT)
		engine_dtmf_push(b->me, b->id, te_digit(b->det_event),
				 b->det_samples / 8);
}

/*
 * TDM -> RTP with DTMF on: the detector hears the new frame; what goes
 * out is the frame before it (one frame of look-ahead), replaced by
 * silence from the frame before the detector's report to the frame it
 * reports the end in.  SpanDSP reports 20-40 ms into a tone, so without
 * the look-ahead up to ~35 ms of it would go out as audio before the
 * mute; with it at most ~15 ms does, which no DTMF receiver takes for a
 * digit (docs/media.md).  Returns the frame to packetise.
 */
static const uint8_t *dtmf_tx_frame(struct bridge *b, const uint8_t *in,
				    uint8_t *buf)
{
	bool mute = false;

	dtmf_det_frame(&b->det, in, MEDIA_FRAME_SAMPLES, b->span_law);
	if (b->det_on && (!b->det.on || b->det.event != b->det_event)) {
		det_end(b);
		mute = true; /* the frame may hold the tone's last ms */
	}
	mute = mute || b->det_on || b->te_tx.active;
	/* A digit waits while the end packets of the one before are still
	 * due (ptime over 20 ms): it stays muted meanwhile. */
	if (b->det.on && !b->det_on && !b->te_tx.active) {
		b->det_on = true;
		b->det_event = b->det.event;
		b->det_samples = 0;
		if (b->dtmf == MEDIA_DTMF_RFC4733)
			te_tx_start(&b->te_tx, b->det.event, b->det.volume);
		mute = true;
	}
	if (b->det_on)
		b->det_samples += MEDIA_FRAME_SAMPLES;
	if (mute)
		memset(buf, media_g711_silence(b->span_law),
		       MEDIA_FRAME_SAMPLES);
	else
		memcpy(buf, b->held, MEDIA_FRAME_SAMPLES);
	memcpy(b->held, in, MEDIA_FRAME_SAMPLES);
	return buf;
}

/* RTP -> TDM with DTMF on: a lost end times out; tones override the
 * far end's audio while they (and the gaps between them) last. */
static void dtmf_rx_frame(struct bridge *b, uint8_t *out)
{
	int16_t pcm[MEDIA_FRAME_SAMPLES];
	struct te_act a;
	unsigned i;

	if (te_rx_tick(&b->te_rx, MEDIA_FRAME_SAMPLES, &a))
		dtmf_gen_close(&b->gen, a.duration);
	if (!dtmf_gen_frame(&b->gen, pcm, MEDIA_FRAME_SAMPLES))
		return;
	for (i = 0; i < MEDIA_FRAME_SAMPLES; i++)
		out[i] = media_g711_encode(b->span_law, pcm[i]);
}

static void rx_event(struct bridge *b, const struct rtp_hdr *h,
		     const uint8_t *pl, size_t plen)
{
	struct te_event ev;
	struct te_act act[3];
	unsigned i, n;

	if (te_decode(&ev, pl, plen)) {
		b->st.rtp_bad++;
		return;
	}
	b->st.rtp_rx++;
	n = te_rx_packet(&b->te_rx, h->ts, &ev, act);
	for (i = 0; i < n; i++) {
		switch (act[i].type) {
		case TE_ACT_START:
			dtmf_gen_push(&b->gen, act[i].event, true, 0);
			b->st.dtmf_rx++;
			break;
		case TE_ACT_UPDATE:
			break;
		case TE_ACT_END:
			dtmf_gen_close(&b->gen, act[i].duration);
			break;
		}
	}
}

void bridge_dtmf(struct bridge *b, const struct cmd *c)
{
	dtmf_gen_push(&b->gen, c->event, false, c->dur);
	b->st.dtmf_rx++;
}

/* Send the packets of @p tp (an event's update, or its end copies). */
static void send_te(struct bridge *b, const struct te_tx_pkt *tp)
{
	/* Its own buffer: an audio packet may be half filled in pkt. */
	uint8_t pkt[RTP_HDR_LEN + TE_PAYLOAD_LEN + MSRTP_TRAILER];
	struct rtp_hdr h = b->tx;
	unsigned i;
	size_t len;
	ssize_t n;

	if (b->tx_hold)
		return; /* the far end takes nothing now */
	if (tp->marker)
		b->st.dtmf_tx++;
	h.pt = (uint8_t)b->te_tx_pt;
	h.ts = tp->ts;
	for (i = 0; i < tp->n; i++) {
		h.marker = tp->marker && i == 0;
		h.seq = b->tx.seq++;
		rtp_encode_hdr(pkt, &h);
		/* Again each time: protecting encrypts it in place. */
		memcpy(pkt + RTP_HDR_LEN, tp->payload, TE_PAYLOAD_LEN);
		len = RTP_HDR_LEN + TE_PAYLOAD_LEN;
		if (b->srtp && msrtp_protect(b->srtp, pkt, &len, sizeof(pkt)))
			continue;
		n = sendto(b->fd, pkt, len,
			   MSG_DONTWAIT, (const struct sockaddr *)&b->remote,
			   b->remote_len);
		if (n == (ssize_t)len) {
			b->st.rtp_tx++;
			b->rtcp.tx_octets += TE_PAYLOAD_LEN;
		}
	}
}

/* The packet due now carries the event instead of audio. */
static void send_event(struct bridge *b)
{
	struct te_tx_pkt tp;

	te_tx_packet(&b->te_tx, b->tx.ts, b->tx_samples, &tp);
	send_te(b, &tp);
	/* The audio timeline goes on under the event (RFC 4733 2.5.1.2). */
	b->tx.ts += b->tx_samples;
	b->tx_fill = 0;
}

/* ---- audio ------------------------------------------------------------ */

static void bridge_send(struct bridge *b)
{
	size_t len = RTP_HDR_LEN + b->tx_samples, plen;
	ssize_t n;

	/* G.722/G.729: the packet's audio is coded now that it is whole
	 * (also while held: the encoder's state follows the audio). */
	if (!mcodec_g711(b->rtp_law))
		len = RTP_HDR_LEN + mcodec_encode(&b->codec,
						  b->pkt + RTP_HDR_LEN,
						  b->tx_pcm, b->tx_samples);

	if (b->te_tx.active && b->dtmf == MEDIA_DTMF_RFC4733) {
		send_event(b);
		return;
	}
	if (b->tx_hold) {
		/* Held: the packet is not sent and not counted in the
		 * sequence; the timestamp goes on with the clock. */
		b->tx.ts += b->tx_samples;
		b->tx_fill = 0;
		return;
	}
	b->tx.pt = (uint8_t)b->rtp_law;
	rtp_encode_hdr(b->pkt, &b->tx);
	plen = len - RTP_HDR_LEN; /* before an SRTP trailer */
	if (b->srtp && msrtp_protect(b->srtp, b->pkt, &len, sizeof(b->pkt)))
		n = -1; /* lost like a failed send: the timeline goes on */
	else
		n = sendto(b->fd, b->pkt, len, MSG_DONTWAIT,
			   (const struct sockaddr *)&b->remote, b->remote_len);
	if (n == (ssize_t)len) {
		b->st.rtp_tx++;
		b->rtcp.tx_octets += plen;
		b->tx.marker = false;
	} else {
		/* A full socket buffer or an ICMP error loses this packet
		 * only; the stream's timing must go on regardless. */
		gw_dbg(GW_DBG_MEDIA, "bridge %u: send: %s", b->id,
		       n < 0 ? strerror(errno) : "short");
	}
	/* RFC 3550 5.1: sequence and timestamp advance per packet sent
	 * (or meant to be sent: a lost send is a lost packet). */
	b->tx.seq++;
	b->tx.ts += b->tx_samples;
	b->tx_fill = 0;
}

/* TDM -> RTP with the canceller on: the line's frame less the echo of
 * what we played to it. */
static const uint8_t *echo_tx_frame(struct bridge *b, const uint8_t *in,
				    uint8_t *buf)
{
	int16_t pcm[MEDIA_FRAME_SAMPLES];
	unsigned i;

	for (i = 0; i < MEDIA_FRAME_SAMPLES; i++)
		pcm[i] = media_g711_decode(b->span_law, in[i]);
	echo_frame(&b->ec, pcm, b->ec_ref, pcm);
	for (i = 0; i < MEDIA_FRAME_SAMPLES; i++)
		buf[i] = media_g711_encode(b->span_law, pcm[i]);
	return buf;
}

/* ---- fax -------------------------------------------------------------- */

void bridge_t38_send(const uint8_t *dgram, size_t len, void *arg)
{
	struct bridge *b = arg;
	ssize_t n;

	if (b->tx_hold)
		return;
	n = sendto(b->fd, dgram, len, MSG_DONTWAIT,
		   (const struct sockaddr *)&b->remote, b->remote_len);
	if (n != (ssize_t)len)
		gw_dbg(GW_DBG_MEDIA, "bridge %u: UDPTL send: %s", b->id,
		       n < 0 ? strerror(errno) : "short");
}

/* The counters of a gateway about to go, into the bridge's. */
static void t38_fold(struct bridge *b, struct t38gw *g)
{
	struct t38gw_stats ts;

	if (!g)
		return;
	t38gw_get_stats(g, &ts);
	b->st.udptl_tx += ts.dgram_tx;
	b->st.udptl_rx += ts.dgram_rx;
	b->st.udptl_recovered += ts.rx.recovered;
	b->st.udptl_lost += ts.rx.lost;
	b->st.udptl_bad += ts.rx.bad;
	b->st.fax_pages += ts.pages;
	if (ts.bit_rate)
		b->st.fax_bit_rate = ts.bit_rate;
}

/* T.38: the timeslot's audio through the gateway, its answer back. */
static void t38_frame(struct bridge *b, const uint8_t *in, uint8_t *out)
{
	int16_t pin[MEDIA_FRAME_SAMPLES], pout[MEDIA_FRAME_SAMPLES];
	unsigned i;

	for (i = 0; i < MEDIA_FRAME_SAMPLES; i++)
		pin[i] = media_g711_decode(b->span_law, in[i]);
	t38gw_audio(b->t38, pin, pout, MEDIA_FRAME_SAMPLES);
	for (i = 0; i < MEDIA_FRAME_SAMPLES; i++)
		out[i] = media_g711_encode(b->span_law, pout[i]);
}

/* Listen for CNG/CED both ways until one is heard: the gateway's cue to
 * move the call to T.38 (or to a G.711 fax set-up). */
static void fax_listen(struct bridge *b, const uint8_t *x, unsigned dir)
{
	int16_t pcm[MEDIA_FRAME_SAMPLES];
	unsigned i;
	int tone;

	for (i = 0; i < MEDIA_FRAME_SAMPLES; i++)
		pcm[i] = media_g711_decode(b->span_law, x[i]);
	tone = faxtone_feed(&b->fax, dir, pcm, MEDIA_FRAME_SAMPLES);
	if (!tone)
		return;
	b->fax_detect = false;
	gw_dbg(GW_DBG_MEDIA, "bridge %u: fax %s from the %s", b->id,
	       tone == MEDIA_FAX_CNG ? "CNG" : "CED", dir ? "RTP side" :
	       "timeslot");
	engine_fax_push(b->me, b->id, (enum media_fax_tone)tone, dir == 0);
}

/* ---- the frame ---------------------------------------------------------- */

void bridge_frame(struct bridge *b, const uint8_t *in, uint8_t *out)
{
	const uint8_t *conv = b->tx_conv;
	uint8_t buf[MEDIA_FRAME_SAMPLES], ecbuf[MEDIA_FRAME_SAMPLES];
	unsigned i = 0;

	b->st.tdm_frames++;
	if (b->t38) {
		t38_frame(b, in, out);
		return;
	}
	if (b->fax_detect)
		fax_listen(b, in, 0);
	/* Before DTMF detection, which then hears the caller rather than
	 * the echo of digits played toward the line. */
	if (b->ec.on)
		in = echo_tx_frame(b, in, ecbuf);
	if (dtmf_on(b))
		in = dtmf_tx_frame(b, in, buf);
	/* Repacketise: 20 ms frames in, ptime packets out; a packet may
	 * end inside a frame and the next one begins there. */
	while (i < MEDIA_FRAME_SAMPLES) {
		unsigned k = b->tx_samples - b->tx_fill;
		uint8_t *p = b->pkt + RTP_HDR_LEN + b->tx_fill;
		int16_t *q = b->tx_pcm + b->tx_fill;
		unsigned j;

		if (k > MEDIA_FRAME_SAMPLES - i)
			k = MEDIA_FRAME_SAMPLES - i;
		if (mcodec_g711(b->rtp_law))
			for (j = 0; j < k; j++)
				p[j] = conv[in[i + j]];
		else
			for (j = 0; j < k; j++)
				q[j] = b->span_dec[in[i + j]];
		i += k;
		b->tx_fill += k;
		if (b->tx_fill == b->tx_samples)
			bridge_send(b);
	}
	b->frame_us = b->span->frame_us;
	jbuf_get(&b->jb, out, MEDIA_FRAME_SAMPLES);
	if (b->fax_detect)
		fax_listen(b, out, 1);
	if (dtmf_on(b))
		dtmf_rx_frame(b, out);
	if (b->ec.on)
		for (i = 0; i < MEDIA_FRAME_SAMPLES; i++)
			b->ec_ref[i] = media_g711_decode(b->span_law, out[i]);
	/* The line's clock paces the reports as it paces the packets. */
	brtcp_tick(b, b->frame_us);
}

void bridge_update(struct bridge *b, const struct cmd *c)
{
	/* Flush what is pending with the old law and size: a receiver takes
	 * any packet size, and no audio is lost, shifted or mixed. */
	if (b->tx_fill &&
	    (c->law != b->rtp_law || c->ptime * 8 != b->tx_samples)) {
		b->tx_samples = b->tx_fill;
		bridge_send(b);
	}
	/* A far end behind NAT re-offers its private address: the stream
	 * stays where latching found it. */
	if (!latch_signal(&b->latch, c->latch, &c->remote, c->remote_len,
			  tg_mono_ms())) {
		memcpy(&b->remote, &c->remote, c->remote_len);
		b->remote_len = c->remote_len;
	}
	if (b->tx_hold && !c->hold)
		b->tx.marker = true; /* RFC 3551 4.1: talk resumes */
	b->tx_hold = c->hold;
	/* A codec whose state cannot be had keeps the one running: the far
	 * end hears the old codec rather than nothing. */
	if (bridge_set_laws(b, c->law, b->span_law))
		gw_err("bridge %u: no memory for codec %d, keeping %d", b->id,
		       (int)c->law, (int)b->rtp_law);
	b->tx_samples = c->ptime * 8;
	if (c->dtmf != b->dtmf) {
		/* An event half sent ends where it is (its end packets are
		 * what a receiver would time out to anyway). */
		if (b->te_tx.active && b->dtmf == MEDIA_DTMF_RFC4733 &&
		    b->te_tx.started) {
			struct te_tx_pkt tp;

			/* It ends now, as long as it lasted so far; the
			 * audio packet being filled goes on. */
			te_tx_stop(&b->te_tx);
			te_tx_packet(&b->te_tx, b->tx.ts, 0, &tp);
			send_te(b, &tp);
		}
		b->dtmf = c->dtmf;
		bridge_dtmf_reset(b);
	}
	b->te_tx_pt = c->te_tx_pt;
	b->te_rx_pt = c->te_rx_pt;
	if (c->rekey) {
		/* New keys from the next packet on, both ways; the far end
		 * switches when its answer (re-INVITE) reaches it, so
		 * packets under its old key fail until then. */
		msrtp_free(b->srtp);
		b->srtp = c->srtp;
	}
	if (c->fax_passthrough && !b->passthrough) {
		/* A G.711 fax: modems need the line as it is (no echo
		 * canceller) and a steady delay (no concealment or
		 * time-scaling), from here to the end of the call. */
		b->passthrough = true;
		b->ec.on = false;
		jbuf_init(&b->jb, b->span_law, c->jb_ms, c->jb_ms, JB_FIXED);
	}
	if (c->t38_set) {
		t38_fold(b, b->t38);
		t38gw_free(b->t38);
		b->t38 = c->t38gw;
		/* Back to audio: the buffer holds nothing of this stream. */
		if (!b->t38)
			jbuf_rebase(&b->jb);
	}
}

/* RFC 5761 4: what looks like RTP with PT 64-95 is RTCP on the port. */
static bool is_rtcp(const uint8_t *buf, size_t len)
{
	uint8_t pt = len >= 2 ? buf[1] & 0x7f : 0;

	return pt >= 64 && pt <= 95;
}

/*
 * Check and decrypt an SRTP packet in place.  RTCP multiplexed on the
 * port (RFC 5761) is checked as SRTCP and read as the RTCP port's.
 * @return false when nothing is left to play.
 */
static bool srtp_rx(struct bridge *b, uint8_t *buf, size_t *len,
		    int64_t now_us)
{
	int err;

	if (is_rtcp(buf, *len)) {
		if (brtcp_unprotect(b->srtp, &b->st, buf, len))
			brtcp_packet(b, buf, *len, now_us);
		return false;
	}
	err = msrtp_unprotect(b->srtp, buf, len);
	if (err == MSRTP_AUTH)
		b->st.srtp_auth_fail++;
	else if (err == MSRTP_REPLAY)
		b->st.srtp_replay++;
	else if (err)
		b->st.rtp_bad++;
	return !err;
}

/* RFC 3550 A.1: count expected packets from the extended sequence range
 * of each SSRC; what never arrived is lost. */
static void rx_close_ssrc(struct bridge *b)
{
	int64_t expected;

	if (!b->rx_sync)
		return;
	expected = b->rx_max_ext - b->rx_base_ext + 1;
	if (expected > (int64_t)b->rx_seen)
		b->st.rtp_lost += (uint64_t)(expected - (int64_t)b->rx_seen);
	b->rx_sync = false;
}

/* A G.722/G.729 packet: decoded (on arrival, in arrival order: a late
 * packet still passes through the decoder's state before the buffer
 * drops it), then stored in the span's law like G.711. */
static void rx_decoded(struct bridge *b, const struct rtp_hdr *h,
		       const uint8_t *pl, size_t plen, unsigned since)
{
	int16_t pcm[JB_MAX_PAYLOAD];
	uint8_t oct[JB_MAX_PAYLOAD];
	int n, i;

	n = mcodec_decode(&b->codec, pcm, JB_MAX_PAYLOAD, pl, plen);
	if (n <= 0) {
		b->st.rtp_bad++;
		return;
	}
	for (i = 0; i < n; i++)
		oct[i] = media_g711_encode(b->span_law, pcm[i]);
	if (jbuf_put(&b->jb, h->ts, oct, (size_t)n, b->rx_conv, h->marker,
		     since))
		b->st.rtp_late++;
	else
		b->st.rtp_rx++;
}

/* A new source: its statistics start afresh (RFC 3550 A.1, A.8). */
static void rx_new_source(struct bridge *b, const struct rtp_hdr *h)
{
	rx_close_ssrc(b);
	jbuf_rebase(&b->jb);
	b->rx_sync = true;
	b->rx_ssrc = h->ssrc;
	b->rx_last_seq = h->seq;
	b->rx_max_ext = h->seq;
	b->rx_base_ext = h->seq;
	b->rx_seen = 0;
	b->rtcp.rx.expected_prior = 0;
	b->rtcp.rx.received_prior = 0;
	b->rtcp.rx.have_transit = false;
	b->rtcp.rx.jitter_q4 = 0;
}

static void rx_packet(struct bridge *b, uint8_t *buf, size_t len,
		      unsigned since, int64_t now_us,
		      const struct sockaddr_storage *from)
{
	struct rtp_hdr h;
	const uint8_t *pl;
	size_t plen;
	int16_t delta;
	bool event;

	if (b->srtp && !srtp_rx(b, buf, &len, now_us))
		return;
	if (!b->srtp && is_rtcp(buf, len)) {
		brtcp_packet(b, buf, len, now_us);
		return;
	}
	if (rtp_decode(&h, &pl, &plen, buf, len) || plen == 0 ||
	    plen > JB_MAX_PAYLOAD) {
		b->st.rtp_bad++;
		return;
	}
	if (h.pt == (uint8_t)b->rtp_law) {
		event = false;
	} else if (b->dtmf == MEDIA_DTMF_RFC4733 &&
		   (h.pt == b->te_rx_pt || h.pt == b->te_tx_pt)) {
		/* Events under an SSRC of their own (some peers do that)
		 * must not reset the audio's jitter buffer and counters. */
		if (b->rx_sync && h.ssrc != b->rx_ssrc) {
			rx_event(b, &h, pl, plen);
			return;
		}
		event = true;
	} else {
		/* Comfort noise and anything else not negotiated are not
		 * audio we can play. */
		b->st.rtp_ignored++;
		return;
	}
	/* Only what decoded (and, on SRTP, authenticated) counts. */
	if (latch_pending(&b->latch) &&
	    latch_rx(&b->latch, from, h.ssrc, &b->remote, b->remote_len,
		     now_us / 1000)) {
		latch_apply(&b->latch, b->id, "bridge", &b->remote,
			    &b->remote_len);
		b->st.latched++;
	}

	if (!b->rx_sync || h.ssrc != b->rx_ssrc) {
		/* A new source: its timeline has nothing to do with the
		 * old one, so start the buffer afresh. */
		rx_new_source(b, &h);
	} else {
		delta = (int16_t)(h.seq - b->rx_last_seq);
		if (delta > 0) {
			b->rx_max_ext += delta;
			b->rx_last_seq = h.seq;
		}
	}
	b->rx_seen++;

	if (event) {
		rx_event(b, &h, pl, plen);
		return;
	}
	/* A.8 on the arrival clock in timestamp units (8 kHz): events
	 * keep their start's timestamp, so only audio counts. */
	rtcp_rx_jitter(&b->rtcp.rx, (uint32_t)(now_us / 125), h.ts);
	b->rtcp.rx_octets += plen;
	if (!mcodec_g711(b->rtp_law)) {
		rx_decoded(b, &h, pl, plen, since);
		return;
	}
	if (jbuf_put(&b->jb, h.ts, pl, plen, b->rx_conv, h.marker, since))
		b->st.rtp_late++;
	else
		b->st.rtp_rx++;
}

/* How long after the timeslot's last frame a batch arrived, in samples:
 * the jitter buffer's clock between frames.  Before the first frame
 * there is nothing to measure from: as if just after one. */
static unsigned rx_since(const struct bridge *b, int64_t now_us)
{
	int64_t us;

	if (!b->frame_us)
		return 0;
	us = now_us - b->frame_us;
	if (us < 0)
		return 0;
	return us >= JB_FRAME * 125 ? JB_FRAME : (unsigned)(us / 125);
}

void bridge_rx(struct worker *w, struct bridge *b)
{
	unsigned since = JB_FRAME;
	int64_t now_us = 0;
	int n;
	int i;

	if (b->stopped)
		return;
	for (;;) {
		for (i = 0; i < RX_VLEN; i++)
			w->msgs[i].msg_hdr.msg_namelen = sizeof(w->rxname[i]);
		n = recvmmsg(b->fd, w->msgs, RX_VLEN, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN, or an ICMP error reported on the socket:
			 * either way nothing more to read now. */
			return;
		}
		if (n > 0) {
			atomic_store_explicit(&b->rx_ms[0], tg_mono_ms(),
					      memory_order_relaxed);
			now_us = media_mono_us();
			since = rx_since(b, now_us);
		}
		for (i = 0; i < n; i++) {
			if (w->msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				b->st.rtp_bad++;
			else if (b->t38)
				/* UDPTL; the far end's last RTP packets
				 * count as malformed datagrams. */
				t38gw_datagram(b->t38, w->rxbuf[i],
					       w->msgs[i].msg_len);
			else
				rx_packet(b, w->rxbuf[i], w->msgs[i].msg_len,
					  since, now_us, &w->rxname[i]);
		}
		/* A short batch drained the socket; the level-triggered
		 * epoll set wakes us for anything arriving after. */
		if (n < RX_VLEN)
			return;
	}
}

/* Worker side of the teardown: fold the counters, close the sockets. */
void bridge_finish(struct bridge *b)
{
	b->st.id = b->id;
	b->st.rtt_us = -1;
	switch (b->type) {
	case BRIDGE_RTP:
		brtcp_bye(b);
		rx_close_ssrc(b);
		b->st.underruns = b->jb.underruns;
		b->st.jb_drops = b->jb.drops;
		b->st.concealed = b->jb.concealed;
		b->st.ec_disabled = b->ec.st && !b->ec.on;
		t38_fold(b, b->t38);
		brtcp_finish(b);
		b->rtp = obj_deref(b->rtp);
		b->fd = -1;
		break;
	case BRIDGE_RELAY:
		relay_finish(b);
		break;
	case BRIDGE_TDM:
		xconn_finish(b);
		break;
	}
}

void bridge_free(struct bridge *b)
{
	if (!b)
		return;
	switch (b->type) {
	case BRIDGE_RTP:
		obj_deref(b->rtp);
		mcodec_free(&b->codec);
		dtmf_det_free(&b->det);
		echo_free(&b->ec);
		msrtp_free(b->srtp);
		t38gw_free(b->t38);
		faxtone_free(&b->fax);
		break;
	case BRIDGE_RELAY:
		obj_deref(b->relay.rtp[0]);
		obj_deref(b->relay.rtp[1]);
		msrtp_free(b->relay.side[0].srtp);
		msrtp_free(b->relay.side[1].srtp);
		relay_codecs_free(&b->relay);
		break;
	case BRIDGE_TDM:
		break;
	}
	free(b);
}
