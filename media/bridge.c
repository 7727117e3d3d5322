/* media/bridge.c  One timeslot <-> RTP: packetise, send, receive, play out */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define LOG_MODULE "media"
#include "util/util.h"

#include "media/core.h"
#include "media/g711.h"

void bridge_set_laws(struct bridge *b, enum media_law rtp_law,
		     enum media_law span_law)
{
	b->rtp_law = rtp_law;
	b->span_law = span_law;
	b->tx_conv = g711_conv_table(span_law, rtp_law);
	b->rx_conv = g711_conv_table(rtp_law, span_law);
	b->jb.silence = media_g711_silence(span_law);
}

static void bridge_send(struct bridge *b)
{
	size_t len = RTP_HDR_LEN + b->tx_samples;
	ssize_t n;

	b->tx.pt = (uint8_t)b->rtp_law;
	rtp_encode_hdr(b->pkt, &b->tx);
	n = sendto(b->fd, b->pkt, len, MSG_DONTWAIT,
		   (const struct sockaddr *)&b->remote, b->remote_len);
	if (n == (ssize_t)len) {
		b->st.rtp_tx++;
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

void bridge_frame(struct bridge *b, const uint8_t *in, uint8_t *out)
{
	const uint8_t *conv = b->tx_conv;
	unsigned i = 0;

	b->st.tdm_frames++;
	while (i < MEDIA_FRAME_SAMPLES) {
		unsigned k = b->tx_samples - b->tx_fill;
		uint8_t *p = b->pkt + RTP_HDR_LEN + b->tx_fill;
		unsigned j;

		if (k > MEDIA_FRAME_SAMPLES - i)
			k = MEDIA_FRAME_SAMPLES - i;
		for (j = 0; j < k; j++)
			p[j] = conv[in[i + j]];
		i += k;
		b->tx_fill += k;
		if (b->tx_fill == b->tx_samples)
			bridge_send(b);
	}
	jbuf_get(&b->jb, out, MEDIA_FRAME_SAMPLES);
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
	memcpy(&b->remote, &c->remote, c->remote_len);
	b->remote_len = c->remote_len;
	bridge_set_laws(b, c->law, b->span_law);
	b->tx_samples = c->ptime * 8;
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

static void rx_packet(struct bridge *b, const uint8_t *buf, size_t len)
{
	struct rtp_hdr h;
	const uint8_t *pl;
	size_t plen;
	int16_t delta;

	if (rtp_decode(&h, &pl, &plen, buf, len) || plen == 0 ||
	    plen > JB_MAX_PAYLOAD) {
		b->st.rtp_bad++;
		return;
	}
	/* Comfort noise, telephone-events and anything else not
	 * negotiated are not audio we can play. */
	if (h.pt != (uint8_t)b->rtp_law) {
		b->st.rtp_ignored++;
		return;
	}

	if (!b->rx_sync || h.ssrc != b->rx_ssrc) {
		/* A new source: its timeline has nothing to do with the
		 * old one, so start the buffer afresh. */
		rx_close_ssrc(b);
		jbuf_reset(&b->jb);
		b->rx_sync = true;
		b->rx_ssrc = h.ssrc;
		b->rx_last_seq = h.seq;
		b->rx_max_ext = h.seq;
		b->rx_base_ext = h.seq;
		b->rx_seen = 0;
	} else {
		delta = (int16_t)(h.seq - b->rx_last_seq);
		if (delta > 0) {
			b->rx_max_ext += delta;
			b->rx_last_seq = h.seq;
		}
	}
	b->rx_seen++;

	if (jbuf_put(&b->jb, h.ts, pl, plen, b->rx_conv))
		b->st.rtp_late++;
	else
		b->st.rtp_rx++;
}

void bridge_rx(struct worker *w, struct bridge *b)
{
	int n;
	int i;

	if (b->stopped)
		return;
	for (;;) {
		n = recvmmsg(b->fd, w->msgs, RX_VLEN, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN, or an ICMP error reported on the socket:
			 * either way nothing more to read now. */
			return;
		}
		for (i = 0; i < n; i++) {
			if (w->msgs[i].msg_hdr.msg_flags & MSG_TRUNC)
				b->st.rtp_bad++;
			else
				rx_packet(b, w->rxbuf[i], w->msgs[i].msg_len);
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
	switch (b->type) {
	case BRIDGE_RTP:
		rx_close_ssrc(b);
		b->st.underruns = b->jb.underruns;
		b->st.jb_drops = b->jb.drops;
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
		break;
	case BRIDGE_RELAY:
		obj_deref(b->relay.rtp[0]);
		obj_deref(b->relay.rtp[1]);
		break;
	case BRIDGE_TDM:
		break;
	}
	free(b);
}
