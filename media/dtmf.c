/* media/dtmf.c  DTMF detector (SpanDSP) and tone generator */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <tiffio.h> /* spandsp.h needs it first on Debian's 0.0.6 */
#include <spandsp.h>

#include "media/dtmf.h"

/* ---- detector --------------------------------------------------------- */

static void det_digits(void *arg, const char *digits, int len)
{
	/* The realtime callback below reports the same digits with their
	 * start and end; this one only keeps SpanDSP's buffer empty. */
	(void)arg;
	(void)digits;
	(void)len;
}

static void det_tone(void *arg, int code, int level, int delay)
{
	static const char digits[] = "0123456789*#ABCD";
	struct dtmf_det *d = arg;
	const char *p = code > 0 ? strchr(digits, code) : NULL;

	(void)delay;
	if (!p) {
		d->on = false;
		return;
	}
	d->on = true;
	d->event = (uint8_t)(p - digits);
	d->volume = level < 0 ? (uint8_t)(level < -63 ? 63 : -level) : 0;
}

int dtmf_det_init(struct dtmf_det *d)
{
	memset(d, 0, sizeof(*d));
	d->rx = dtmf_rx_init(NULL, det_digits, d);
	if (!d->rx)
		return ENOMEM;
	dtmf_rx_set_realtime_callback(d->rx, det_tone, d);
	return 0;
}

void dtmf_det_free(struct dtmf_det *d)
{
	if (d->rx)
		dtmf_rx_free(d->rx);
	d->rx = NULL;
}

void dtmf_det_frame(struct dtmf_det *d, const uint8_t *in, unsigned n,
		    enum media_law law)
{
	int16_t pcm[MEDIA_FRAME_SAMPLES];
	unsigned i;

	if (!d->rx || n > MEDIA_FRAME_SAMPLES)
		return;
	for (i = 0; i < n; i++)
		pcm[i] = media_g711_decode(law, in[i]);
	dtmf_rx(d->rx, pcm, (int)n);
}

/* ---- generator -------------------------------------------------------- */

#define GEN_MASK (DTMF_GEN_QUEUE - 1)
_Static_assert((DTMF_GEN_QUEUE & GEN_MASK) == 0,
	       "DTMF_GEN_QUEUE must be a power of two");

/* Row and column of events 0-15 on the keypad (1 2 3 A / 4 5 6 B /
 * 7 8 9 C / * 0 # D). */
static const float row_hz[4] = {697, 770, 852, 941};
static const float col_hz[4] = {1209, 1336, 1477, 1633};
static const uint8_t ev_row[16] = {3, 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3,
				   0, 1, 2, 3};
static const uint8_t ev_col[16] = {1, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 2,
				   3, 3, 3, 3};
/* About -7 dBm0 for the low tone and -5 dBm0 for the high one (a
 * 2 dB twist, as telephones send), peaks in 16-bit linear. */
#define AMP_LO 9900.0f
#define AMP_HI 12500.0f

void dtmf_gen_push(struct dtmf_gen *g, uint8_t event, bool open,
		   uint32_t dur)
{
	struct dtmf_tone *t;

	if (event > 15)
		return;
	if (g->n == DTMF_GEN_QUEUE) {
		g->dropped++;
		return;
	}
	t = &g->q[(g->head + g->n) & GEN_MASK];
	t->event = event;
	t->open = open;
	t->dur = dur;
	g->n++;
}

void dtmf_gen_close(struct dtmf_gen *g, uint32_t dur)
{
	struct dtmf_tone *t;

	if (!g->n)
		return;
	t = &g->q[(g->head + g->n - 1) & GEN_MASK];
	if (!t->open)
		return;
	t->open = false;
	t->dur = dur;
}

static float wrap(float ph)
{
	return ph >= 1.0f ? ph - 1.0f : ph;
}

bool dtmf_gen_frame(struct dtmf_gen *g, int16_t *pcm, unsigned n)
{
	const float two_pi = 6.28318530718f;
	unsigned i;

	if (!g->n && !g->gap)
		return false;
	for (i = 0; i < n; i++) {
		struct dtmf_tone *t = &g->q[g->head];
		float lo, hi;

		if (g->gap || !g->n) {
			pcm[i] = 0;
			if (g->gap)
				g->gap--;
			continue;
		}
		lo = row_hz[ev_row[t->event]] / 8000.0f;
		hi = col_hz[ev_col[t->event]] / 8000.0f;
		pcm[i] = (int16_t)lrintf(AMP_LO * sinf(two_pi * g->ph_lo) +
					 AMP_HI * sinf(two_pi * g->ph_hi));
		g->ph_lo = wrap(g->ph_lo + lo);
		g->ph_hi = wrap(g->ph_hi + hi);
		g->played++;
		if (!t->open && g->played >= t->dur &&
		    g->played >= DTMF_MIN_ON) {
			/* Done: a gap so that a repeated digit is heard as
			 * two, then the next tone from phase 0. */
			g->head = (g->head + 1) & GEN_MASK;
			g->n--;
			g->played = 0;
			g->gap = DTMF_GAP;
			g->ph_lo = g->ph_hi = 0;
		}
	}
	return true;
}
