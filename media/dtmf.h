/* media/dtmf.h  Internal: DTMF on a B-channel <-> RTP bridge
 *
 * Detection (SpanDSP dtmf_rx) of the tones the PSTN sends, and a
 * generator for the tones we play toward it.  All state lives in the
 * bridge, set up on the signalling thread; the worker calls these per
 * 20 ms frame without locking or allocating.
 */
#ifndef TG_MEDIA_DTMF_H
#define TG_MEDIA_DTMF_H

#include <stdbool.h>
#include <stdint.h>

#include "media/media.h"

struct dtmf_rx_state_s;

/* ---- detector --------------------------------------------------------- */

struct dtmf_det {
	struct dtmf_rx_state_s *rx;
	uint8_t event;          /* the digit present (valid when on) */
	bool on;                /* a digit is present now */
	uint8_t volume;         /* its level, -dBm0 */
};

/** Signalling thread, at bridge setup. @return 0 or ENOMEM. */
int dtmf_det_init(struct dtmf_det *d);
void dtmf_det_free(struct dtmf_det *d);
/** Feed one frame of @p law octets; on/event follow the detector. */
void dtmf_det_frame(struct dtmf_det *d, const uint8_t *in, unsigned n,
		    enum media_law law);

/* ---- generator -------------------------------------------------------- */

#define DTMF_GEN_QUEUE 8        /* tones waiting; a power of two */
#define DTMF_MIN_ON (40 * 8)    /* shortest tone we play (Q.24: 40 ms
				 * is recognised everywhere) */
#define DTMF_GAP (50 * 8)       /* silence between two tones */

struct dtmf_tone {
	uint8_t event;
	bool open;              /* its end is not known yet */
	uint32_t dur;           /* samples, once closed */
};

struct dtmf_gen {
	struct dtmf_tone q[DTMF_GEN_QUEUE];
	unsigned head, n;
	uint32_t played;        /* samples of q[head] played */
	uint32_t gap;           /* silence still due after a tone */
	float ph_lo, ph_hi;     /* oscillator phases, cycles */
	uint64_t dropped;       /* tones that found the queue full */
};

/** Queue a tone: open (until dtmf_gen_close) or of @p dur samples. */
void dtmf_gen_push(struct dtmf_gen *g, uint8_t event, bool open,
		   uint32_t dur);
/** The newest tone, if still open, lasts @p dur samples in all. */
void dtmf_gen_close(struct dtmf_gen *g, uint32_t dur);
/**
 * Play @p n samples into @p pcm: tones and the gaps between them.
 * @return false when idle (pcm untouched: the call's audio plays).
 */
bool dtmf_gen_frame(struct dtmf_gen *g, int16_t *pcm, unsigned n);

#endif
