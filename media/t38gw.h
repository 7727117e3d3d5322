/* media/t38gw.h  Internal: a T.38 gateway between 8 kHz fax audio and UDPTL
 *
 * SpanDSP's t38_gateway demodulates the fax modems heard on the timeslot
 * into IFP packets and remodulates the IFPs from the far end; we frame
 * them with our UDPTL (media/udptl.h).  No sockets, no clocks: the caller
 * feeds audio frames and received datagrams, and sends what the send
 * handler gives it.  One thread at a time.
 */
#ifndef TG_MEDIA_T38GW_H
#define TG_MEDIA_T38GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/udptl.h"

struct t38gw;

/* What the two SDPs agreed (sip_t38): the far end's sizes bound ours. */
struct t38gw_params {
	unsigned version;       /* T38FaxVersion 0-3 */
	unsigned max_bitrate;   /* 2400-14400; 0 is 14400 */
	bool fill_bit_removal;
	bool transferred_tcf;   /* else localTCF */
	unsigned redundancy;    /* secondaries per datagram; 0 no EC */
	size_t max_datagram;    /* the far end's T38FaxMaxDatagram (0: 400) */
	bool ecm;               /* let the terminals use T.30 ECM */
};

struct t38gw_stats {
	uint64_t dgram_tx;
	uint64_t dgram_rx;      /* accepted */
	struct udptl_rx rx;     /* recovered, lost, late, bad */
	unsigned pages;         /* pages the gateway passed */
	unsigned bit_rate;      /* the last image data rate */
	bool ecm;               /* the terminals used ECM */
};

/** A datagram to send to the far end's UDPTL address. */
typedef void (t38gw_send_h)(const uint8_t *dgram, size_t len, void *arg);

/** @return 0, EINVAL, ENOMEM. */
int t38gw_alloc(struct t38gw **gp, const struct t38gw_params *p,
		t38gw_send_h *send, void *arg);
void t38gw_free(struct t38gw *g);

/**
 * @p n samples heard on the timeslot in, the @p n to play to it out
 * (silence when the gateway has nothing to send).  Datagrams the audio
 * completes go out through the send handler from inside this call.
 */
void t38gw_audio(struct t38gw *g, const int16_t *in, int16_t *out,
		 unsigned n);

/** One datagram from the far end.  @return 0 or EBADMSG (counted). */
int t38gw_datagram(struct t38gw *g, const uint8_t *buf, size_t len);

void t38gw_get_stats(struct t38gw *g, struct t38gw_stats *st);

#endif
