/* tests/bench/bench_codec.c  CPU per 20 ms frame of G.722 and G.729 (one
 * encode and one decode: what a timeslot <-> RTP call costs each 20 ms),
 * the calls a core could carry, and the codec state per call */
#include <malloc.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media/codec.h"

#define CALLS 64
#define F MEDIA_FRAME_SAMPLES

static struct mcodec enc[CALLS], dec[CALLS];
static int16_t speechish[50 * F]; /* 1 s: two tones and a little noise */

/* CPU time, not wall time: the machine is shared, and what a codec costs
 * is the CPU it takes. */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Heap taken by one call's encoder and decoder. */
static size_t state_bytes(enum media_law pt)
{
	struct mallinfo2 a, b;
	struct mcodec e, d;
	size_t n;

	a = mallinfo2();
	if (mcodec_init(&e, pt, MCODEC_ENC) || mcodec_init(&d, pt, MCODEC_DEC))
		exit(1);
	b = mallinfo2();
	n = b.uordblks - a.uordblks;
	mcodec_free(&e);
	mcodec_free(&d);
	return n;
}

/* @return µs per frame (encode + decode of 20 ms). */
static double run(enum media_law pt, const char *name, unsigned seconds,
		  size_t bytes)
{
	unsigned frames = seconds * 50, k, c;
	uint8_t pl[F];
	int16_t out[F];
	uint64_t t0, t;
	size_t len;
	double us;

	for (c = 0; c < CALLS; c++)
		if (mcodec_init(&enc[c], pt, MCODEC_ENC) ||
		    mcodec_init(&dec[c], pt, MCODEC_DEC))
			exit(1);
	t0 = now_ns();
	for (k = 0; k < frames; k++) {
		const int16_t *in = speechish + (k % 50) * F;

		for (c = 0; c < CALLS; c++) {
			len = mcodec_encode(&enc[c], pl, in, F);
			if (mcodec_decode(&dec[c], out, F, pl, len) != F)
				exit(1);
		}
	}
	t = now_ns() - t0;
	for (c = 0; c < CALLS; c++) {
		mcodec_free(&enc[c]);
		mcodec_free(&dec[c]);
	}
	us = (double)t / 1000.0 / ((double)frames * CALLS);
	/* A call codes and decodes a frame every 20 ms: 20,000 µs of a
	 * core's second-slice per frame time. */
	printf("%-6s %7.2f us per 20 ms frame (encode + decode), %5.0f calls "
	       "per core, %zu bytes of codec state per call\n", name, us,
	       20000.0 / us, bytes);
	return us;
}

int main(int argc, char **argv)
{
	unsigned seconds = argc > 1 ? (unsigned)atoi(argv[1]) : 5, i;
	uint32_t rng = 1;
	size_t b722, b729;

	for (i = 0; i < 50 * F; i++) {
		rng = rng * 1103515245u + 12345u;
		speechish[i] = (int16_t)(6000 * sin(2 * M_PI * 440 * i / 8000.0) +
					 3000 * sin(2 * M_PI * 1270 * i / 8000.0) +
					 (int)((rng >> 16) % 801) - 400);
	}
	/* Measured first: freed small chunks would be reused unseen. */
	b722 = state_bytes(MEDIA_G722);
	b729 = state_bytes(MEDIA_G729);
	printf("%u calls x %u s of audio; struct mcodec %zu bytes\n", CALLS,
	       seconds, sizeof(struct mcodec));
	run(MEDIA_G722, "G.722", seconds, b722);
	run(MEDIA_G729, "G.729", seconds, b729);
	return 0;
}
