/* pstnsim/stamp.h  Time-stamped probe frames (pstnsim --media stamp, rtpload
 * --stamp): one-way delay and frame integrity on each side of a gateway.
 *
 * A probe frame is 160 octets of G.711 that no codec may change: a sender
 * tag, the sender's CLOCK_MONOTONIC time, a frame number, a check word,
 * and a pattern made of them in the rest.  Both ends of a path that does
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

/* What a receiver counts of one stream of probe frames. */
struct stamp_rx {
	bool started;
	uint32_t first_k, max_k;
	uint64_t got, dup, damaged;
	uint64_t early;              /* from before the first received */
	uint64_t stale;              /* too old to tell if it is a dup */
	uint32_t pending_bad;        /* non-probe frames since the last
				      * probe: damage if a probe follows */
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
/** Count the frame @p p received at @p now. */
void stamp_rx_frame(struct stamp_rx *rx, const uint8_t *p,
		    enum stamp_sender who, int64_t now);
/** Frames missing between the first and the newest probe received. */
uint64_t stamp_rx_lost(const struct stamp_rx *rx);
/** The delay below which a fraction @p q of the probes came, in ms. */
double stamp_rx_pct_ms(const struct stamp_rx *rx, double q);

#endif
