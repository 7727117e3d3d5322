/* tests/bench/bench_jbuf.c  CPU per frame of the jitter buffer: 480 calls'
 * buffers, each fed one 20 ms packet and played one frame per tick */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media/jbuf.h"

#define CALLS 480
#define F JB_FRAME

static struct jbuf jbs[CALLS];
static bool held[CALLS]; /* packet k held back, sent after k + 1 */
static uint8_t ident[256], pl[F];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * @p jitter: one pair in eight swaps places, and packets arrive at
 * varying points of the frame; @p loss: one in @p loss is lost (0 none).
 * @return ns per frame (one put and one get).
 */
static double run(const char *name, enum jb_mode mode, bool jitter,
		  unsigned loss, unsigned seconds)
{
	unsigned frames = seconds * 50, k, c;
	uint32_t rng = 12345;
	uint8_t out[F];
	uint64_t t0, t;
	uint64_t conc = 0;

	for (c = 0; c < CALLS; c++)
		jbuf_init(&jbs[c], MEDIA_PCMU, 0, 0, mode);
	t0 = now_ns();
	for (k = 0; k < frames; k++) {
		for (c = 0; c < CALLS; c++) {
			uint32_t seq = k;

			rng = rng * 1103515245u + 12345u;
			if (k % 2 == 0)
				held[c] = jitter && (rng >> 8) % 8 == 0;
			if (held[c])
				seq = k % 2 ? k - 1 : k + 1;
			if (!loss || (rng >> 12) % loss)
				jbuf_put(&jbs[c], 1000 + seq * F, pl, F, ident,
					 false, jitter ? (rng >> 16) % F : F);
			jbuf_get(&jbs[c], out, F);
		}
	}
	t = now_ns() - t0;
	for (c = 0; c < CALLS; c++)
		conc += jbs[c].concealed;
	printf("%-34s %6.0f ns per frame (%u calls x %u frames, %llu "
	       "concealed)\n", name, (double)t / ((double)frames * CALLS),
	       CALLS, frames, (unsigned long long)conc);
	return (double)t / ((double)frames * CALLS);
}

int main(int argc, char **argv)
{
	unsigned seconds = argc > 1 ? (unsigned)atoi(argv[1]) : 10, i;

	for (i = 0; i < 256; i++)
		ident[i] = (uint8_t)i;
	for (i = 0; i < F; i++)
		pl[i] = (uint8_t)(0x80 + (i * 7) % 64); /* speech-loud */
	printf("jitter buffer, %zu bytes per call\n", sizeof(struct jbuf));
	run("clean stream", JB_ADAPTIVE, false, 0, seconds);
	run("reorder + arrival spread", JB_ADAPTIVE, true, 0, seconds);
	run("reorder + 5% loss (concealment)", JB_ADAPTIVE, true, 20, seconds);
	run("fixed mode, reorder + 5% loss", JB_FIXED, true, 20, seconds);
	return 0;
}
