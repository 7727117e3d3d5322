/* tests/unit/test_codec.c  G.722 and G.729 at 8 kHz: a tone through each
 * codec and back keeps its shape (SNR), payload sizes and bad payloads */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "media/codec.h"

#define SECONDS 2
#define N (SECONDS * 8000)
#define MAX_LAG 200              /* codec + resampler delay searched */

static int16_t in[N], out[N];

static void tone(int16_t *x, size_t n, double hz, double amp)
{
	size_t i;

	for (i = 0; i < n; i++)
		x[i] = (int16_t)lrint(amp * sin(2 * M_PI * hz * (double)i / 8000));
}

/*
 * SNR of @p y against @p x in dB over the last second, at the delay and
 * gain that fit best (a codec may delay and scale; neither is noise).
 */
static double snr_db(const int16_t *x, const int16_t *y, size_t n)
{
	double best = -1e9;
	size_t from = n / 2, i;
	unsigned lag;

	for (lag = 0; lag < MAX_LAG; lag++) {
		double xy = 0, xx = 0, yy = 0, g, err, snr;

		for (i = from; i < n; i++) {
			double a = x[i - lag], b = y[i];

			xy += a * b;
			xx += a * a;
			yy += b * b;
		}
		if (xx <= 0)
			continue;
		g = xy / xx;
		err = yy - 2 * g * xy + g * g * xx; /* sum (y - g x)^2 */
		if (err < 1e-9)
			err = 1e-9;
		snr = 10 * log10(g * g * xx / err);
		if (snr > best)
			best = snr;
	}
	return best;
}

/* Level of @p y over its last half against @p x's, in dB. */
static double gain_db(const int16_t *x, const int16_t *y, size_t n)
{
	double xx = 0, yy = 0;
	size_t i;

	for (i = n / 2; i < n; i++) {
		xx += (double)x[i] * x[i];
		yy += (double)y[i] * y[i];
	}
	return 10 * log10(yy / xx);
}

/* Through @p pt in packets of @p ptime ms; returns the SNR. */
static double roundtrip(enum media_law pt, unsigned ptime, double hz,
			double amp, double *gain)
{
	unsigned spp = ptime * 8, n = N - N % spp, i;
	uint8_t pl[960];
	struct mcodec c;

	assert_int_equal(mcodec_init(&c, pt, MCODEC_ENC | MCODEC_DEC), 0);
	tone(in, N, hz, amp);
	for (i = 0; i < n; i += spp) {
		size_t len = mcodec_encode(&c, pl, in + i, spp);

		assert_int_equal(len, mcodec_bytes(pt, spp));
		assert_int_equal(mcodec_decode(&c, out + i, spp, pl, len),
				 (int)spp);
	}
	mcodec_free(&c);
	*gain = gain_db(in, out, n);
	return snr_db(in, out, n);
}

static void test_g722_tones(void **state)
{
	static const double hz[] = {300, 1000, 2500, 3000, 3400};
	double snr, g;
	unsigned i;

	(void)state;
	for (i = 0; i < 5; i++) {
		snr = roundtrip(MEDIA_G722, 20, hz[i], 8000, &g);
		printf("G.722 %4.0f Hz: SNR %.1f dB, gain %+.2f dB\n", hz[i],
		       snr, g);
		assert_true(snr > 30);
		/* The band edge is where the half-band filters (one each
		 * way) begin to roll off: about 0.8 dB each at 3.4 kHz. */
		assert_true(fabs(g) < (hz[i] > 3000 ? 2.5 : 0.5));
	}
	/* Loud and quiet, another ptime. */
	snr = roundtrip(MEDIA_G722, 30, 1000, 20000, &g);
	assert_true(snr > 30);
	snr = roundtrip(MEDIA_G722, 40, 1000, 300, &g);
	assert_true(snr > 20);
}

static void test_g729_tones(void **state)
{
	static const double hz[] = {400, 1000, 2000};
	double snr, g;
	unsigned i;

	(void)state;
	for (i = 0; i < 3; i++) {
		snr = roundtrip(MEDIA_G729, 20, hz[i], 8000, &g);
		printf("G.729 %4.0f Hz: SNR %.1f dB, gain %+.2f dB\n", hz[i],
		       snr, g);
		/* CELP keeps the spectrum more than the waveform: a tone
		 * comes back 10-25 dB clean, at its level. */
		assert_true(snr > 8);
		assert_true(fabs(g) < 1.5);
	}
	snr = roundtrip(MEDIA_G729, 10, 1000, 8000, &g);
	assert_true(snr > 8);
	snr = roundtrip(MEDIA_G729, 60, 1000, 8000, &g);
	assert_true(snr > 8);
}

static void test_sizes(void **state)
{
	(void)state;
	assert_int_equal(mcodec_bytes(MEDIA_G722, 240), 240);
	assert_int_equal(mcodec_bytes(MEDIA_G729, 320), 40);
	assert_int_equal(mcodec_bytes(MEDIA_PCMA, 160), 160);
	assert_int_equal(mcodec_step(MEDIA_G729), 80);
	assert_int_equal(mcodec_step(MEDIA_G722), 1);
	assert_true(mcodec_valid(MEDIA_G722));
	assert_true(mcodec_valid(MEDIA_G729));
	assert_false(mcodec_valid((enum media_law)3));
}

static void test_g729_payloads(void **state)
{
	uint8_t pl[64] = {0};
	int16_t pcm[480];
	struct mcodec c;

	(void)state;
	assert_int_equal(mcodec_init(&c, MEDIA_G729, MCODEC_DEC), 0);
	/* 2 frames; 2 frames and a SID; a SID alone (RFC 3551 4.5.6). */
	assert_int_equal(mcodec_decode(&c, pcm, 480, pl, 20), 160);
	assert_int_equal(mcodec_decode(&c, pcm, 480, pl, 22), 240);
	assert_int_equal(mcodec_decode(&c, pcm, 480, pl, 2), 80);
	/* Not a G.729 payload, or more than the room given. */
	assert_int_equal(mcodec_decode(&c, pcm, 480, pl, 7), -1);
	assert_int_equal(mcodec_decode(&c, pcm, 480, pl, 15), -1);
	assert_int_equal(mcodec_decode(&c, pcm, 80, pl, 20), -1);
	mcodec_free(&c);
	mcodec_free(&c); /* twice is harmless */
}

static void test_g722_payloads(void **state)
{
	uint8_t pl[200];
	int16_t pcm[160];
	struct mcodec c;
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(pl); i++)
		pl[i] = (uint8_t)(i * 37);
	assert_int_equal(mcodec_init(&c, MEDIA_G722, MCODEC_DEC), 0);
	/* Any octets are a G.722 payload; the room is checked. */
	assert_int_equal(mcodec_decode(&c, pcm, 160, pl, 160), 160);
	assert_int_equal(mcodec_decode(&c, pcm, 160, pl, 200), -1);
	mcodec_free(&c);
	assert_int_equal(mcodec_init(&c, (enum media_law)5, MCODEC_DEC), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_g722_tones),
		cmocka_unit_test(test_g729_tones),
		cmocka_unit_test(test_g729_payloads),
		cmocka_unit_test(test_g722_payloads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
