/* media/echo.h  Internal: line echo canceller of a B-channel <-> RTP bridge
 *
 * The far end's voice (RTP, played to the B-channel) comes back from the
 * hybrid on the line mixed into the near end's; the canceller (speexdsp)
 * models that echo path from the reference and subtracts it before the
 * audio goes out as RTP.  Set up on the signalling thread with the
 * bridge; the worker calls echo_frame once per 20 ms frame without
 * locking or allocating.
 *
 * It turns itself off for the rest of the call on a modem/fax answer
 * tone with phase reversals (G.165 clause 4: 2100 Hz whose phase is
 * reversed every 450 ms, ANS/ANSam of V.25/V.8), heard in either
 * direction: those modems cancel their own echo and a line canceller
 * in the path only gets in their way.  A plain 2100 Hz (an echo
 * suppressor disabler, V.25 without reversals) leaves it on, as G.165
 * asks.
 */
#ifndef TG_MEDIA_ECHO_H
#define TG_MEDIA_ECHO_H

#include <stdbool.h>
#include <stdint.h>

#define ECHO_TAIL_MIN 32        /* ms */
#define ECHO_TAIL_MAX 128
#define ANS_BLOCK 80            /* 10 ms: 21 whole cycles of 2100 Hz */

struct SpeexEchoState_;

/* 2100 Hz answer tone with phase reversals, on one direction. */
struct ans_det {
	unsigned fill;          /* samples in the current block */
	float re, im, energy;   /* its 2100 Hz correlation and energy */
	float last_re, last_im; /* the last tonal block's correlation */
	unsigned gap;           /* blocks since it (0: none yet) */
	float rot_re, rot_im;   /* rotation per block of the steady tone
				 * (a tone off 2100 Hz drifts in phase) */
	unsigned tonal;         /* tonal blocks in this tone so far */
	unsigned reversals;
};

struct echo {
	struct SpeexEchoState_ *st; /* NULL: no canceller on this call */
	bool on;                /* cancelling (off after an answer tone) */
	struct ans_det det[2];  /* [0] from the line, [1] toward it */
};

/** Signalling thread.  @p tail_ms 0: no canceller (e.on false);
 *  else ECHO_TAIL_MIN..ECHO_TAIL_MAX.  @return 0, EINVAL, ENOMEM. */
int echo_init(struct echo *e, unsigned tail_ms);
void echo_free(struct echo *e);
/**
 * One frame of 160 samples: @p near from the line (with the echo of
 * @p ref, what was played to it), the echo removed into @p out.  Once
 * off (or without a canceller) @p out is @p near.  @p near and @p out
 * may be the same buffer.
 */
void echo_frame(struct echo *e, const int16_t *near, const int16_t *ref,
		int16_t *out);

/** The answer tone detector alone (tests): feed @p n samples; true once
 *  a 2100 Hz tone has shown a phase reversal. */
void ans_det_reset(struct ans_det *d);
bool ans_det_feed(struct ans_det *d, const int16_t *pcm, unsigned n);

#endif
