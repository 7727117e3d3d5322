/* media/t38gw.c  T.38 gateway: SpanDSP t38_gateway over our UDPTL */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h> /* spandsp.h needs it first on Debian's 0.0.6 */
#include <spandsp.h>

#include "media/media.h"
#include "media/t38gw.h"

struct t38gw {
	t38_gateway_state_t *gw;
	struct udptl_tx tx;
	struct udptl_rx rx;
	t38gw_send_h *send;
	void *arg;
	uint64_t dgram_tx;
	uint8_t dgram[UDPTL_DGRAM_MAX];
};

/* t38_core hands us each IFP with a repeat count: more than one for the
 * packets that end something (indicators, the last HDLC or image data),
 * because no later datagram's redundancy would carry them if they were
 * lost.  The copies are the same datagram, the same sequence number, so
 * the receiver drops the ones it does not need. */
static int tx_ifp(t38_core_state_t *s, void *arg, const uint8_t *buf,
		  int len, int count)
{
	struct t38gw *g = arg;
	size_t dlen;
	int i;

	(void)s;
	if (len <= 0 ||
	    udptl_tx_frame(&g->tx, g->dgram, &dlen, buf, (size_t)len))
		return -1;
	for (i = 0; i < (count < 1 ? 1 : count > 3 ? 3 : count); i++) {
		g->send(g->dgram, dlen, g->arg);
		g->dgram_tx++;
	}
	return 0;
}

static int modems_for(unsigned max_bitrate)
{
	int m = T30_SUPPORT_V27TER;

	if (!max_bitrate || max_bitrate >= 9600)
		m |= T30_SUPPORT_V29;
	if (!max_bitrate || max_bitrate >= 14400)
		m |= T30_SUPPORT_V17;
	return m;
}

static void configure(struct t38gw *g, const struct t38gw_params *p)
{
	t38_core_state_t *core = t38_gateway_get_t38_core_state(g->gw);

	t38_gateway_set_supported_modems(g->gw, modems_for(p->max_bitrate));
	t38_gateway_set_ecm_capability(g->gw, p->ecm);
	t38_gateway_set_fill_bit_removal(g->gw, p->fill_bit_removal);
	/* Silence toward the timeslot between fax signals: a gap in the
	 * audio would be taken for a dropped line by some terminals. */
	t38_gateway_set_transmit_on_idle(g->gw, 1);
	t38_set_t38_version(core, (int)p->version);
	/* T.38 clause 7.1 / D.2.3: 1 local TCF, 2 transferred TCF. */
	t38_set_data_rate_management_method(core, p->transferred_tcf ? 2 : 1);
	t38_set_max_datagram_size(core, (int)g->tx.max_dgram);
	t38_set_fastest_image_data_rate(core, p->max_bitrate &&
					p->max_bitrate < 14400 ?
					(int)p->max_bitrate : 14400);
}

int t38gw_alloc(struct t38gw **gp, const struct t38gw_params *p,
		t38gw_send_h *send, void *arg)
{
	struct t38gw *g;

	if (!gp || !p || !send || p->version > 3)
		return EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return ENOMEM;
	g->gw = t38_gateway_init(NULL, tx_ifp, g);
	if (!g->gw) {
		free(g);
		return ENOMEM;
	}
	g->send = send;
	g->arg = arg;
	udptl_tx_init(&g->tx, p->redundancy, p->max_datagram);
	udptl_rx_init(&g->rx);
	configure(g, p);
	*gp = g;
	return 0;
}

void t38gw_free(struct t38gw *g)
{
	if (!g)
		return;
	t38_gateway_free(g->gw);
	free(g);
}

void t38gw_audio(struct t38gw *g, const int16_t *in, int16_t *out,
		 unsigned n)
{
	int16_t buf[MEDIA_FRAME_SAMPLES];
	int got;

	while (n) {
		unsigned k = n < MEDIA_FRAME_SAMPLES ? n :
			     MEDIA_FRAME_SAMPLES;

		/* t38_gateway_rx takes a non-const buffer. */
		memcpy(buf, in, k * sizeof(*in));
		t38_gateway_rx(g->gw, buf, (int)k);
		got = t38_gateway_tx(g->gw, out, (int)k);
		if (got < 0)
			got = 0;
		if ((unsigned)got < k)
			memset(out + got, 0, (k - (unsigned)got) * sizeof(*out));
		in += k;
		out += k;
		n -= k;
	}
}

static void rx_ifp(const uint8_t *ifp, size_t len, uint16_t seq,
		   bool recovered, void *arg)
{
	struct t38gw *g = arg;

	(void)recovered;
	t38_core_rx_ifp_packet(t38_gateway_get_t38_core_state(g->gw), ifp,
			       (int)len, seq);
}

int t38gw_datagram(struct t38gw *g, const uint8_t *buf, size_t len)
{
	return udptl_rx_datagram(&g->rx, buf, len, rx_ifp, g);
}

void t38gw_get_stats(struct t38gw *g, struct t38gw_stats *st)
{
	t38_stats_t ts;

	memset(st, 0, sizeof(*st));
	st->dgram_tx = g->dgram_tx;
	st->rx = g->rx;
	st->dgram_rx = g->rx.received;
	t38_gateway_get_transfer_statistics(g->gw, &ts);
	st->pages = ts.pages_transferred > 0 ? (unsigned)ts.pages_transferred
					     : 0;
	st->bit_rate = ts.bit_rate > 0 ? (unsigned)ts.bit_rate : 0;
	st->ecm = ts.error_correcting_mode;
}
