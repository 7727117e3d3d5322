/* media/rfc4733.h  Internal: RFC 4733 telephone-events, pure functions
 *
 * The payload (2.3), a sender that turns "digit present / gone" into the
 * packets of one event, and a receiver that turns whatever a provider
 * sends (repeated ends, no marker, lost ends, late packets) into exactly
 * one start and one end per event.  No syscalls, no clocks: the caller
 * passes RTP timestamps and sample counts, so tests and a fuzzer can
 * drive them.
 */
#ifndef TG_MEDIA_RFC4733_H
#define TG_MEDIA_RFC4733_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TE_PAYLOAD_LEN 4
#define TE_MAX_EVENT 15         /* DTMF 0-9 * # A-D (RFC 4733 3.2) */
#define TE_END_COPIES 3         /* end packets sent (RFC 4733 2.5.1.4) */
/* A receiver that hears nothing of an event for this long ends it: the
 * end packets were all lost (senders update every 50 ms at most). */
#define TE_RX_TIMEOUT (120 * 8)
/* A packet this far (samples) behind the current event is a late one;
 * further back, the sender's timeline restarted. */
#define TE_RX_OLD (8 * 8000)

struct te_event {
	uint8_t event;
	bool end;
	uint8_t volume;         /* -dBm0, 0-63 */
	uint16_t duration;      /* samples since the event's timestamp */
};

/** Decode the first event of a telephone-event payload.
 * @return 0, or EBADMSG when shorter than 4 octets. */
int te_decode(struct te_event *ev, const uint8_t *p, size_t len);
void te_encode(uint8_t *p, const struct te_event *ev);

/** Digit character of event 0-15, 0 for others; and back (-1 none). */
char te_digit(unsigned event);
int te_event_of(char digit);

/* ---- sender ----------------------------------------------------------- */

struct te_tx {
	bool active;            /* an event is being sent */
	bool started;           /* its first packet went out */
	bool ending;            /* the digit is gone: end packets next */
	uint8_t event;
	uint8_t volume;
	uint32_t ts;            /* the event's (segment's) timestamp */
};

/** One packet's worth of the event: what replaces an audio packet. */
struct te_tx_pkt {
	unsigned n;             /* packets to send (0: send audio) */
	bool marker;            /* on the first of them */
	uint32_t ts;            /* for all of them */
	uint8_t payload[TE_PAYLOAD_LEN]; /* the same for all of them */
};

void te_tx_start(struct te_tx *t, uint8_t event, uint8_t volume);
void te_tx_stop(struct te_tx *t);
/**
 * At the boundary of the packet whose first sample is @p pkt_ts and which
 * holds @p samples: the packets to send instead of audio.  The event's
 * timestamp is that of its first packet, its duration grows per packet;
 * the first packet has the marker; the end goes TE_END_COPIES times with
 * the same timestamp and duration.  An event longer than the 16-bit
 * duration goes on in a new segment (RFC 4733 2.5.1.3).
 */
void te_tx_packet(struct te_tx *t, uint32_t pkt_ts, unsigned samples,
		  struct te_tx_pkt *out);

/* ---- receiver --------------------------------------------------------- */

enum te_act_type {
	TE_ACT_START,           /* a new digit: start its tone */
	TE_ACT_UPDATE,          /* it lasts at least duration */
	TE_ACT_END,             /* it lasted duration in all */
};

struct te_act {
	enum te_act_type type;
	uint8_t event;
	uint32_t duration;      /* samples */
};

struct te_rx {
	bool have;              /* ts/event describe the newest event */
	bool ended;
	uint8_t event;
	uint32_t ts;
	uint32_t dur;           /* longest duration heard, all segments */
	uint32_t seg_ts;        /* timestamp of its current segment */
	uint16_t seg_dur;       /* the segment's longest duration */
	uint32_t idle;          /* samples since its last packet */
};

void te_rx_reset(struct te_rx *r);
/**
 * One received event packet with RTP timestamp @p ts.  One tone per
 * timestamp: a new timestamp is a new digit (ending an unfinished one),
 * repeats of the same timestamp only update or end it, repeated ends and
 * late packets do nothing; the marker bit is not needed.
 * @return the number of actions written to @p act (at most 3).
 */
unsigned te_rx_packet(struct te_rx *r, uint32_t ts, const struct te_event *ev,
		      struct te_act *act);
/** @p samples of time passed: ends an event whose end was lost.
 * @return 1 with an END in @p act, or 0. */
unsigned te_rx_tick(struct te_rx *r, uint32_t samples, struct te_act *act);

#endif
