/* pstnsim/stamp.h  Time-stamped probe frames (pstnsim --media stamp, rtpload
 * --stamp): one-way delay and frame integrity on each side of a gateway.
 *
 * A probe frame is 160 octets of G.711 that no codec may change: a sender
 * tag, the sender's CLOCK_MONOTONIC time, a frame number and a check word
 * (written twice, at octets 0 and 80), and a pattern made of them in the
 * rest.  A receiver finds probes at any sample offset (a jitter buffer
 * sets its delay in samples) and tells a probe that lost or gained a
 * sample or two (time-scaling: counted, not heard) from one that was
 * overwritten.  Both ends of a path that does
 * not convert (A-law span, PCMA on the SIP side) give them back bit for
 * bit, so the receiver knows exactly which frame it got, how long it
 * took, and whether it is intact.  Both programs run on one machine, so
 * their monotonic clocks are the same clock.
 */
#ifndef TG_PSTNSIM_STAMP_H
#define TG_PSTNSIM_STAMP_H

#include <stdbool.h>
#include <stdint.h>

#define STAMP_FRAME 160
#define STAMP_HIST_BINS 1000     /* 0.25 ms each: delays up to 250 ms */
#define STAMP_BIN_US 250
#define STAMP_SEEN 256           /* frames remembered for duplicates */

enum stamp_sender {
	STAMP_PSTN = 'P',            /* pstnsim, on the B-channel */
	STAMP_RTP = 'R',             /* rtpload, in RTP */
};

/* A probe found by its second header only, held one frame (stamp.c). */
struct stamp_held {
	uint32_t k;
	int64_t ns, when;
	int verdict;
};

/* What a receiver counts of one stream of probe frames. */
struct stamp_rx {
	bool started;
	uint32_t first_k, max_k;
	uint64_t got;                /* came intact (or slipped) */
	uint64_t slipped;            /* ... of them with a sample or two
				      * dropped or added (time-scaling) */
	uint64_t dup;
	uint64_t damaged;            /* replaced or overwritten */
	uint64_t got_damaged;        /* ... of those, found but overwritten */
	int64_t late_ns;             /* set by the user: late is a delay
				      * this much over the smallest; 0 off */
	int64_t base_ns;             /* the smallest delay seen */
	int64_t settle_ns;           /* set by the user: probes this long
				      * after the first are not judged */
	int64_t t0;                  /* when the first came */
	bool t0_set;
	uint64_t settling;           /* probes not judged */
	uint64_t late;
	uint64_t early;              /* from before the first received */
	uint64_t stale;              /* too old to tell if it is a dup */
	uint32_t pending_bad;        /* frames with no probe start since
				      * the last: damage if a probe follows */
	uint8_t prev[STAMP_FRAME];   /* the frame before (stamp_rx_frame) */
	int64_t prev_t;
	bool have_prev;
	bool late_start;             /* the last probe began in its frame's
				      * last samples */
	bool held;
	struct stamp_held h;
	uint64_t seen[STAMP_SEEN / 64];
	uint32_t hist[STAMP_HIST_BINS + 1];
	int64_t max_ns;
};

int64_t stamp_now_ns(void);
void stamp_fill(uint8_t *p, enum stamp_sender who, uint32_t k, int64_t ns);
/** Is @p p an intact probe of @p who?  Its number and time go out. */
bool stamp_parse(const uint8_t *p, enum stamp_sender who, uint32_t *k,
		 int64_t *ns);
void stamp_rx_init(struct stamp_rx *rx);
/** Count the frame @p p received at @p now (a probe may start anywhere
 *  in a frame and end in the next: it is counted one frame later). */
void stamp_rx_frame(struct stamp_rx *rx, const uint8_t *p,
		    enum stamp_sender who, int64_t now);
/** Frames missing between the first and the newest probe received. */
uint64_t stamp_rx_lost(const struct stamp_rx *rx);
/** The delay below which a fraction @p q of the probes came, in ms. */
double stamp_rx_pct_ms(const struct stamp_rx *rx, double q);

#endif
