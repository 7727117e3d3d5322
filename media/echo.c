/* media/echo.c  Line echo canceller (speexdsp) and its answer tone disabler */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include <speex/speex_echo.h>

#include "media/echo.h"
#include "media/media.h"

/* ---- 2100 Hz with phase reversals (G.165 4) ---------------------------- */

/* A block is tonal when nearly all its energy is at 2100 Hz (1 for a
 * pure tone; the bin is 100 Hz wide, so 2100 +-15 Hz, V.25's tolerance,
 * stays well above this) and the tone is above about -43 dBm0. */
#define TONAL_RATIO 0.75f
#define TONAL_MS 1.0e4f         /* mean square, 16-bit linear */
/* A reversal: the phase moved 180 +-45 degrees more than the tone's own
 * drift (G.165: 180 +-25), after at least 100 ms of steady tone so that
 * a short burst of anything near 2100 Hz cannot do it. */
#define REV_COS -0.7f
#define STEADY_COS 0.7f
#define MIN_TONAL 10

static float ans_cos[ANS_BLOCK], ans_sin[ANS_BLOCK];
static pthread_once_t ans_once = PTHREAD_ONCE_INIT;

static void ans_tables(void)
{
	unsigned i;

	for (i = 0; i < ANS_BLOCK; i++) {
		double ph = 2.0 * M_PI * 2100.0 * i / 8000.0;

		ans_cos[i] = (float)cos(ph);
		ans_sin[i] = (float)sin(ph);
	}
}

void ans_det_reset(struct ans_det *d)
{
	pthread_once(&ans_once, ans_tables);
	memset(d, 0, sizeof(*d));
}

/* The phase of @p (re, im) relative to @p (ref_re, ref_im), as a cosine. */
static float rel_cos(float re, float im, float ref_re, float ref_im)
{
	float x = re * ref_re + im * ref_im;
	float y = im * ref_re - re * ref_im;
	float m = sqrtf(x * x + y * y);

	return m > 0 ? x / m : 1.0f;
}

static void ans_block(struct ans_det *d)
{
	float mag2 = d->re * d->re + d->im * d->im;
	float ms = d->energy / ANS_BLOCK;
	bool tonal = ms > TONAL_MS &&
		     mag2 > TONAL_RATIO * d->energy * (ANS_BLOCK / 2.0f);
	float zr, zi, m, rr, ri;

	if (d->gap)
		d->gap++;
	if (!tonal) {
		/* Three blocks without it: that tone is over. */
		if (d->gap > 3) {
			d->gap = 0;
			d->tonal = 0;
		}
		return;
	}
	if (!d->gap || d->gap > 3) {
		d->tonal = 0;
		d->rot_re = 1;
		d->rot_im = 0;
	} else {
		/* z: how far the phase turned since the last tonal block. */
		zr = d->re * d->last_re + d->im * d->last_im;
		zi = d->im * d->last_re - d->re * d->last_im;
		rr = d->rot_re;
		ri = d->rot_im;
		if (d->gap == 3) { /* two blocks: the drift twice */
			rr = d->rot_re * d->rot_re - d->rot_im * d->rot_im;
			ri = 2 * d->rot_re * d->rot_im;
		}
		m = sqrtf(zr * zr + zi * zi);
		if (d->tonal == 1 && d->gap == 2 && m > 0) {
			d->rot_re = zr / m;
			d->rot_im = zi / m;
		} else if (rel_cos(zr, zi, rr, ri) < REV_COS) {
			if (d->tonal >= MIN_TONAL)
				d->reversals++;
		} else if (d->gap == 2 && m > 0 &&
			   rel_cos(zr, zi, rr, ri) > STEADY_COS) {
			d->rot_re = 0.8f * d->rot_re + 0.2f * zr / m;
			d->rot_im = 0.8f * d->rot_im + 0.2f * zi / m;
			m = sqrtf(d->rot_re * d->rot_re +
				  d->rot_im * d->rot_im);
			d->rot_re /= m;
			d->rot_im /= m;
		}
	}
	d->tonal++;
	d->last_re = d->re;
	d->last_im = d->im;
	d->gap = 1;
}

bool ans_det_feed(struct ans_det *d, const int16_t *pcm, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		float x = pcm[i];

		d->re += x * ans_cos[d->fill];
		d->im -= x * ans_sin[d->fill];
		d->energy += x * x;
		if (++d->fill == ANS_BLOCK) {
			ans_block(d);
			d->fill = 0;
			d->re = d->im = d->energy = 0;
		}
	}
	return d->reversals > 0;
}

/* ---- canceller --------------------------------------------------------- */

int echo_init(struct echo *e, unsigned tail_ms)
{
	int rate = 8000;

	memset(e, 0, sizeof(*e));
	if (!tail_ms)
		return 0;
	if (tail_ms < ECHO_TAIL_MIN || tail_ms > ECHO_TAIL_MAX)
		return EINVAL;
	e->st = speex_echo_state_init(MEDIA_FRAME_SAMPLES, (int)tail_ms * 8);
	if (!e->st)
		return ENOMEM;
	speex_echo_ctl(e->st, SPEEX_ECHO_SET_SAMPLING_RATE, &rate);
	ans_det_reset(&e->det[0]);
	ans_det_reset(&e->det[1]);
	e->on = true;
	return 0;
}

void echo_free(struct echo *e)
{
	if (e->st)
		speex_echo_state_destroy(e->st);
	e->st = NULL;
	e->on = false;
}

void echo_frame(struct echo *e, const int16_t *near, const int16_t *ref,
		int16_t *out)
{
	int16_t buf[MEDIA_FRAME_SAMPLES];
	bool ans;

	if (e->on) {
		/* Both detectors hear every frame: the answering modem may
		 * be on either side. */
		ans = ans_det_feed(&e->det[0], near, MEDIA_FRAME_SAMPLES);
		ans = ans_det_feed(&e->det[1], ref, MEDIA_FRAME_SAMPLES) ||
		      ans;
		if (ans)
			e->on = false;
	}
	if (!e->on) {
		if (out != near)
			memcpy(out, near, sizeof(buf));
		return;
	}
	speex_echo_cancellation(e->st, near, ref, buf);
	memcpy(out, buf, sizeof(buf));
}
