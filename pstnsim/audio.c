/* pstnsim/audio.c  Tone generator and Goertzel meter (G.711 from media/) */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "media/media.h"
#include "pstnsim/pstnsim.h"

#define RATE 8000
#define TONE_AMPLITUDE 8000.0   /* about -12 dBFS: no clipping in G.711 */

static int16_t lin_of[256];     /* decode table of the span's law */
static uint8_t *tone;           /* one second of the tone, already encoded */
static enum media_law law;
static double g_coeff;          /* 2 cos(w) of the Goertzel filter */

int ps_audio_init(const struct ps_conf *conf)
{
	law = conf->e1 ? MEDIA_PCMA : MEDIA_PCMU;
	for (int i = 0; i < 256; i++)
		lin_of[i] = media_g711_decode(law, (uint8_t)i);

	/* A whole-Hz tone repeats exactly after one second at 8 kHz, so one
	 * encoded second replaces a sin() per sample per call. */
	tone = malloc(RATE);
	if (!tone)
		return ENOMEM;
	for (int i = 0; i < RATE; i++) {
		double s = TONE_AMPLITUDE *
			   sin(2.0 * M_PI * conf->tone_hz * i / RATE);
		int16_t v = (int16_t)lrint(s);

		tone[i] = media_g711_encode(law, v);
	}
	g_coeff = 2.0 * cos(2.0 * M_PI * conf->detect_hz / RATE);
	return 0;
}

void ps_audio_close(void)
{
	free(tone);
	tone = NULL;
}

uint8_t ps_audio_silence(void)
{
	return media_g711_silence(law);
}

void ps_audio_tone(uint8_t *out, uint32_t *phase)
{
	uint32_t p = *phase;

	for (int i = 0; i < TDM_FRAME_SAMPLES; i++) {
		out[i] = tone[p];
		if (++p == RATE)
			p = 0;
	}
	*phase = p;
}

/* A frame under -50 dBFS peak is silence: what a receiver hears as a
 * dropout when it comes between frames of sound. */
#define GAP_PEAK 100

void ps_audio_measure(struct ps_meter *m, const uint8_t *blk)
{
	double s1 = 0, s2 = 0, total = 0, power;
	const int n = TDM_FRAME_SAMPLES;
	int peak = 0;

	for (int i = 0; i < n; i++)
		if (abs(lin_of[blk[i]]) > peak)
			peak = abs(lin_of[blk[i]]);
	if (peak < GAP_PEAK) {
		m->quiet_run++;
	} else {
		if (m->heard)
			m->gaps += m->quiet_run;
		m->heard = true;
		m->quiet_run = 0;
	}

	for (int i = 0; i < n; i++) {
		double x = lin_of[blk[i]];
		double s0 = x + g_coeff * s1 - s2;

		s2 = s1;
		s1 = s0;
		total += x * x;
	}
	/* |X(f)|^2; a pure tone of amplitude A gives (A n / 2)^2 while its
	 * energy is A^2 n / 2, so 2 |X|^2 / n compares with the energy. */
	power = s1 * s1 + s2 * s2 - g_coeff * s1 * s2;
	m->tone_energy += 2.0 * power / n;
	m->total_energy += total;
	m->nsamples += (uint64_t)n;
}

double ps_meter_ratio(const struct ps_meter *m)
{
	double r;

	if (m->total_energy <= 0)
		return 0;
	r = m->tone_energy / m->total_energy;
	return r > 1.0 ? 1.0 : r;
}

double ps_meter_dbfs(const struct ps_meter *m)
{
	double mean, db;

	if (!m->nsamples || m->total_energy <= 0)
		return -99;
	mean = m->total_energy / (double)m->nsamples;
	/* Relative to a full-scale square wave: a full-scale sine is -3. */
	db = 10.0 * log10(mean / (32768.0 * 32768.0));
	return db < -99 ? -99 : db;
}

int16_t ps_audio_linear(uint8_t x)
{
	return lin_of[x];
}

uint8_t ps_audio_encode(int16_t s)
{
	return media_g711_encode(law, s);
}
