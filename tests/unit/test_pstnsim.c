/* tests/unit/test_pstnsim.c  pstnsim's WAV reader and DTMF tones */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "media/media.h"
#include "pstnsim/dtmf.h"
#include "pstnsim/stamp.h"
#include "pstnsim/wav.h"

/* ---- WAV images built here ------------------------------------------- */

struct img {
	uint8_t b[4096];
	size_t n;
};

static void put(struct img *m, const void *p, size_t n)
{
	memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void put16(struct img *m, unsigned v)
{
	uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};

	put(m, b, 2);
}

static void put32(struct img *m, uint32_t v)
{
	uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			(uint8_t)(v >> 24)};

	put(m, b, 4);
}

struct spec {
	unsigned code, channels, bits, align;
	uint32_t rate;
	bool extensible;
	const char *extra;      /* a chunk id put before fmt, or NULL */
};

/* RIFF/WAVE with one fmt and one data chunk of @p data. */
static void build(struct img *m, const struct spec *s, const void *data,
		  size_t dlen)
{
	static const uint8_t tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
					 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38,
					 0x9b, 0x71};

	m->n = 0;
	put(m, "RIFF", 4);
	put32(m, 0);             /* patched below */
	put(m, "WAVE", 4);
	if (s->extra) {
		put(m, s->extra, 4);
		put32(m, 3);
		put(m, "abc\0", 4); /* 3 bytes and the pad byte */
	}
	put(m, "fmt ", 4);
	put32(m, s->extensible ? 40 : 16);
	put16(m, s->extensible ? 0xfffe : s->code);
	put16(m, s->channels);
	put32(m, s->rate);
	put32(m, s->rate * s->align);
	put16(m, s->align);
	put16(m, s->bits);
	if (s->extensible) {
		put16(m, 22);
		put16(m, s->bits);
		put32(m, 4);
		put16(m, s->code);
		put(m, tail, sizeof(tail));
	}
	put(m, "data", 4);
	put32(m, (uint32_t)dlen);
	put(m, data, dlen);
	m->b[4] = (uint8_t)(m->n - 8);
	m->b[5] = (uint8_t)((m->n - 8) >> 8);
}

static const struct spec pcm16 = {1, 1, 16, 2, 8000, false, NULL};

static void test_wav_pcm16(void **state)
{
	const int16_t s[4] = {0, 1000, -1000, 32767};
	struct img m;
	struct ps_wav w;
	char why[128];

	build(&m, &pcm16, s, sizeof(s));
	assert_int_equal(ps_wav_parse(&w, m.b, m.n, why, sizeof(why)), 0);
	assert_int_equal(w.nsamples, 4);
	assert_int_equal(w.format, 1);
	assert_memory_equal(w.samples, s, sizeof(s));
	ps_wav_free(&w);
}

static void test_wav_g711(void **state)
{
	const struct spec alaw = {6, 1, 8, 1, 8000, false, "LIST"};
	const struct spec ulaw = {7, 1, 8, 1, 8000, true, NULL};
	uint8_t data[3];
	struct img m;
	struct ps_wav w;
	char why[128];

	for (int i = 0; i < 3; i++)
		data[i] = media_g711_encode(MEDIA_PCMA, (int16_t)(i * 4000));
	build(&m, &alaw, data, sizeof(data));
	assert_int_equal(ps_wav_parse(&w, m.b, m.n, why, sizeof(why)), 0);
	assert_int_equal(w.nsamples, 3);
	assert_int_equal(w.format, 6);
	for (int i = 0; i < 3; i++)
		assert_int_equal(w.samples[i],
				 media_g711_decode(MEDIA_PCMA, data[i]));
	ps_wav_free(&w);

	/* mu-law as WAVE_FORMAT_EXTENSIBLE. */
	for (int i = 0; i < 3; i++)
		data[i] = media_g711_encode(MEDIA_PCMU, (int16_t)(-i * 4000));
	build(&m, &ulaw, data, sizeof(data));
	assert_int_equal(ps_wav_parse(&w, m.b, m.n, why, sizeof(why)), 0);
	assert_int_equal(w.format, 7);
	assert_int_equal(w.samples[2], media_g711_decode(MEDIA_PCMU, data[2]));
	ps_wav_free(&w);
}

/* Each bad file is refused, and the reason names the field. */
static void test_wav_refused(void **state)
{
	static const struct {
		struct spec s;
		const char *why;
	} bad[] = {
		{{1, 2, 16, 4, 8000, false, NULL}, "fmt: 2 channels"},
		{{1, 1, 16, 2, 44100, false, NULL}, "fmt: sample rate 44100"},
		{{1, 1, 8, 1, 8000, false, NULL}, "fmt: 8 bits per sample"},
		{{3, 1, 32, 4, 8000, false, NULL}, "fmt: format 3"},
		{{2, 1, 4, 1, 8000, false, NULL}, "fmt: format 2"},
		{{7, 1, 16, 2, 8000, false, NULL}, "fmt: 16 bits"},
		{{1, 1, 16, 3, 8000, false, NULL}, "fmt: block align 3"},
		{{85, 1, 16, 2, 8000, true, NULL}, "fmt: format 85"},
	};
	const int16_t s[8] = {0};
	struct img m;
	struct ps_wav w;
	char why[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		build(&m, &bad[i].s, s, sizeof(s));
		assert_int_equal(ps_wav_parse(&w, m.b, m.n, why, sizeof(why)),
				 EINVAL);
		if (!strstr(why, bad[i].why))
			fail_msg("case %zu: '%s', want '%s'", i, why,
				 bad[i].why);
		assert_null(w.samples);
	}
	/* Truncated data, no data, no samples, not RIFF. */
	build(&m, &pcm16, s, sizeof(s));
	assert_int_equal(ps_wav_parse(&w, m.b, m.n - 3, why, sizeof(why)),
			 EINVAL);
	assert_non_null(strstr(why, "data: chunk of 16 bytes, only 13"));
	assert_int_equal(ps_wav_parse(&w, m.b, 36, why, sizeof(why)), EINVAL);
	assert_string_equal(why, "data: no data chunk");
	build(&m, &pcm16, s, 1);
	assert_int_equal(ps_wav_parse(&w, m.b, m.n, why, sizeof(why)), EINVAL);
	assert_string_equal(why, "data: no samples");
	assert_int_equal(ps_wav_parse(&w, (const uint8_t *)"RIFX....WAVE", 12,
				      why, sizeof(why)), EINVAL);
	assert_non_null(strstr(why, "not a RIFF WAVE"));
	assert_int_equal(ps_wav_parse(&w, m.b, 11, why, sizeof(why)), EINVAL);
	/* data before fmt */
	memcpy(m.b + 12, "data", 4);
	assert_int_equal(ps_wav_parse(&w, m.b, m.n, why, sizeof(why)), EINVAL);
}

static void test_wav_load(void **state)
{
	const int16_t s[2] = {5, -5};
	char path[] = "/tmp/test_pstnsim.XXXXXX";
	struct img m;
	struct ps_wav w;
	char why[128];
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	build(&m, &pcm16, s, sizeof(s));
	assert_int_equal(write(fd, m.b, m.n), (ssize_t)m.n);
	close(fd);
	assert_int_equal(ps_wav_load(&w, path, why, sizeof(why)), 0);
	assert_int_equal(w.nsamples, 2);
	assert_int_equal(w.samples[1], -5);
	ps_wav_free(&w);
	unlink(path);
	assert_int_equal(ps_wav_load(&w, path, why, sizeof(why)), ENOENT);
}

/* ---- DTMF ------------------------------------------------------------- */

/* The digits heard in @p digits played out, through G.711 @p law, with
 * white noise of amplitude @p noise added. */
static const char *roundtrip(const char *digits, int on, int off,
			     enum media_law law, int noise, size_t skew)
{
	static struct ps_dtmf_rx rx;
	int16_t blk[160];
	uint64_t pos = 0;
	size_t total = strlen(digits) * (size_t)(on + off) * 8 + 1600;

	ps_dtmf_rx_init(&rx);
	srand(1);
	/* An odd chunk size: the detector's blocks don't line up with ours. */
	for (; pos < total; pos += skew) {
		ps_dtmf_gen(blk, skew, digits, pos, on, off);
		for (size_t i = 0; i < skew; i++) {
			int v = blk[i] + (noise ? rand() % (2 * noise) - noise
						: 0);

			blk[i] = media_g711_decode(law,
				media_g711_encode(law, (int16_t)v));
		}
		ps_dtmf_rx_feed(&rx, blk, skew);
	}
	return rx.digits;
}

static void test_dtmf_roundtrip(void **state)
{
	assert_string_equal(roundtrip("1234567890*#ABCD", 100, 100,
				      MEDIA_PCMU, 0, 160),
			    "1234567890*#ABCD");
	assert_string_equal(roundtrip("1234#", 100, 100, MEDIA_PCMA, 0, 37),
			    "1234#");
	/* Repeated digits need their gap; 60 ms digits still count. */
	assert_string_equal(roundtrip("1199", 60, 60, MEDIA_PCMU, 0, 160),
			    "1199");
	assert_string_equal(roundtrip("5#0", 100, 100, MEDIA_PCMA, 1500, 160),
			    "5#0");
}

static void test_dtmf_gen_count(void **state)
{
	int16_t blk[800];

	/* 100 ms on is 800 samples; the first digit is done at 800. */
	assert_int_equal(ps_dtmf_gen(blk, 799, "12", 0, 100, 100), 0);
	assert_int_equal(ps_dtmf_gen(blk, 800, "12", 0, 100, 100), 1);
	assert_int_equal(ps_dtmf_gen(blk, 800, "12", 1600, 100, 100), 2);
	assert_int_equal(ps_dtmf_gen(blk, 800, "12", 800, 100, 100), 1);
	for (int i = 0; i < 800; i++)
		assert_int_equal(blk[i], 0);    /* the gap */
	assert_true(ps_dtmf_valid('#') && ps_dtmf_valid('d'));
	assert_false(ps_dtmf_valid('E') || ps_dtmf_valid(','));
}

/* Neither a steady tone, nor silence, nor noise is a digit. */
static void test_dtmf_no_false(void **state)
{
	struct ps_dtmf_rx rx;
	int16_t blk[160];

	ps_dtmf_rx_init(&rx);
	srand(2);
	for (int b = 0; b < 500; b++) {
		for (int i = 0; i < 160; i++) {
			double t = (b * 160 + i) / 8000.0;

			blk[i] = b < 200 ? (int16_t)lrint(8000 *
					    sin(2 * M_PI * 1000 * t))
			       : b < 300 ? 0 : (int16_t)(rand() % 16000 - 8000);
		}
		ps_dtmf_rx_feed(&rx, blk, 160);
	}
	assert_string_equal(rx.digits, "");
}

/* Probe frames: a clean stream, then one with a frame lost, one doubled,
 * one replaced by silence, and silence after the last (not damage). */
static void test_stamp_counts(void **state)
{
	struct stamp_rx rx;
	uint8_t f[STAMP_FRAME], sil[STAMP_FRAME];
	int64_t t0 = 1000000000;
	uint32_t k, kk;
	int64_t ns;

	(void)state;
	memset(sil, 0xd5, sizeof(sil));
	stamp_rx_init(&rx);
	stamp_rx_frame(&rx, sil, STAMP_RTP, t0); /* before the first: filling */
	for (k = 10; k < 20; k++) {
		stamp_fill(f, STAMP_RTP, k, t0 + (int64_t)k * 20000000);
		assert_true(stamp_parse(f, STAMP_RTP, &kk, &ns));
		assert_int_equal(kk, k);
		assert_false(stamp_parse(f, STAMP_PSTN, &kk, &ns));
		/* received 40 ms after it was sent */
		stamp_rx_frame(&rx, f, STAMP_RTP,
			       t0 + (int64_t)k * 20000000 + 40000000);
	}
	/* The last is found with the frame after it (it might end there). */
	assert_int_equal(rx.got, 9);
	assert_int_equal(stamp_rx_lost(&rx), 0);
	assert_true(stamp_rx_pct_ms(&rx, 0.5) > 39.7 &&
		    stamp_rx_pct_ms(&rx, 0.5) < 40.3);

	stamp_fill(f, STAMP_RTP, 21, t0);          /* 20 lost */
	stamp_rx_frame(&rx, f, STAMP_RTP, t0);
	stamp_rx_frame(&rx, f, STAMP_RTP, t0);     /* 21 doubled */
	stamp_rx_frame(&rx, sil, STAMP_RTP, t0);   /* 22 replaced */
	stamp_fill(f, STAMP_RTP, 23, t0);
	f[100] ^= 1;                               /* 23 damaged in a bit */
	stamp_rx_frame(&rx, f, STAMP_RTP, t0);
	stamp_fill(f, STAMP_RTP, 24, t0);
	stamp_rx_frame(&rx, f, STAMP_RTP, t0);
	stamp_fill(f, STAMP_RTP, 5, t0);           /* from before the start */
	stamp_rx_frame(&rx, f, STAMP_RTP, t0);
	stamp_rx_frame(&rx, sil, STAMP_RTP, t0);   /* after the last */
	stamp_rx_frame(&rx, sil, STAMP_RTP, t0);
	assert_int_equal(rx.got, 12);
	assert_int_equal(rx.dup, 1);
	assert_int_equal(rx.damaged, 2);
	assert_int_equal(rx.early, 1);
	/* 20 and 22 never came; 23 came overwritten (damaged, not lost) */
	assert_int_equal(stamp_rx_lost(&rx), 2);
}

/* Time-scaling: a sample dropped inside a probe, or in its first header
 * (the second copy finds it): slipped, not damaged. */
static void test_stamp_slip(void **state)
{
	uint8_t a[STAMP_FRAME], b[STAMP_FRAME], f[STAMP_FRAME],
		sil[STAMP_FRAME];
	struct stamp_rx rx;

	(void)state;
	memset(sil, 0xd5, sizeof(sil));
	stamp_rx_init(&rx);
	stamp_fill(a, STAMP_RTP, 1, 0);
	stamp_rx_frame(&rx, a, STAMP_RTP, 0);
	stamp_fill(f, STAMP_RTP, 2, 0);
	memmove(f + 120, f + 121, STAMP_FRAME - 121); /* sample 120 gone */
	stamp_rx_frame(&rx, f, STAMP_RTP, 0);
	stamp_fill(b, STAMP_RTP, 3, 0);
	memmove(b + 5, b + 6, STAMP_FRAME - 6);       /* in the header */
	stamp_rx_frame(&rx, b, STAMP_RTP, 0);
	stamp_fill(a, STAMP_RTP, 4, 0);
	memmove(a + 40, a + 41, 60);                  /* two slips: a drop */
	memmove(a + 131, a + 130, 25);                /* ... and a repeat */
	stamp_rx_frame(&rx, a, STAMP_RTP, 0);
	stamp_fill(f, STAMP_RTP, 5, 0);
	memset(f + 30, 0xd5, 40);                     /* overwritten */
	stamp_rx_frame(&rx, f, STAMP_RTP, 0);
	stamp_rx_frame(&rx, sil, STAMP_RTP, 0);
	assert_int_equal(rx.got, 4);
	/* The slip in 3's header is not seen: its second header finds it
	 * one sample early, and its body is then intact. */
	assert_int_equal(rx.slipped, 2);
	assert_int_equal(rx.damaged, 1);
	assert_int_equal(stamp_rx_lost(&rx), 0);
}

/* A jitter buffer playing at a sample offset: probes across frames. */
static void test_stamp_offset(void **state)
{
	uint8_t stream[12 * STAMP_FRAME];
	struct stamp_rx rx;
	unsigned k, off;

	(void)state;
	for (off = 1; off < STAMP_FRAME; off += 37) {
		memset(stream, 0xd5, sizeof(stream));
		for (k = 0; k < 10; k++)
			stamp_fill(stream + off + (k + 1) * STAMP_FRAME,
				   STAMP_RTP, 100 + k, 0);
		stamp_rx_init(&rx);
		for (k = 0; k < 12; k++)
			stamp_rx_frame(&rx, stream + k * STAMP_FRAME,
				       STAMP_RTP, 1000000);
		assert_int_equal(rx.got, 10);
		assert_int_equal(rx.first_k, 100);
		assert_int_equal(stamp_rx_lost(&rx), 0);
		assert_int_equal(rx.damaged, 0);
		assert_int_equal(rx.dup, 0);
	}
}

/* The settling time: damage in the first second is not judged, later
 * it is. */
static void test_stamp_settle(void **state)
{
	uint8_t f[STAMP_FRAME], sil[STAMP_FRAME];
	struct stamp_rx rx;
	uint32_t k;

	(void)state;
	memset(sil, 0xd5, sizeof(sil));
	stamp_rx_init(&rx);
	rx.settle_ns = 1000000000;
	for (k = 0; k < 100; k++) {
		int64_t t = (int64_t)k * 20000000;

		if (k == 25 || k == 75) {
			stamp_rx_frame(&rx, sil, STAMP_RTP, t);
			continue;
		}
		stamp_fill(f, STAMP_RTP, k, t);
		stamp_rx_frame(&rx, f, STAMP_RTP, t);
	}
	assert_int_equal(rx.settling, 49);   /* 0..49 less 25 */
	assert_int_equal(rx.first_k, 50);
	assert_int_equal(rx.damaged, 1);     /* 75 */
	assert_int_equal(stamp_rx_lost(&rx), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wav_pcm16),
		cmocka_unit_test(test_wav_g711),
		cmocka_unit_test(test_wav_refused),
		cmocka_unit_test(test_wav_load),
		cmocka_unit_test(test_dtmf_roundtrip),
		cmocka_unit_test(test_dtmf_gen_count),
		cmocka_unit_test(test_dtmf_no_false),
		cmocka_unit_test(test_stamp_counts),
		cmocka_unit_test(test_stamp_offset),
		cmocka_unit_test(test_stamp_slip),
		cmocka_unit_test(test_stamp_settle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
