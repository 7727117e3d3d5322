/* media/codec.c  G.722 (SpanDSP) and G.729 (bcg729) at the B-channel's rate */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include <spandsp.h>
#include <bcg729/decoder.h>
#include <bcg729/encoder.h>

#include "media/codec.h"

/*
 * The 8 <-> 16 kHz conversion is one 31-tap half-band low-pass (cutoff
 * 4 kHz at 16 kHz), Blackman windowed, split into its two polyphase
 * branches: every other tap of a half-band is zero but the centre one,
 * so one branch is a plain delay and the other HB_TAPS multiplies.  A
 * 1 kHz tone passes within 0.1 dB; images and aliases above 5 kHz are
 * some 60 dB down, which is below what G.711 on the B-channel keeps.
 * Delay: 7.5 samples at 8 kHz, under 1 ms each way.
 */
static int32_t hb_coef[HB_TAPS]; /* Q15; they sum to 0.5 */
static pthread_once_t hb_once = PTHREAD_ONCE_INIT;

static void hb_init(void)
{
	double h[HB_TAPS], sum = 0;
	int32_t isum = 0;
	unsigned p;

	for (p = 0; p < HB_TAPS; p++) {
		/* tap offset from the centre, odd: -15 ... 15 */
		double k = 2.0 * p - (HB_TAPS - 1);
		/* The window's ends fall just outside the filter, so the
		 * outermost taps keep a little weight. */
		double x = (k + HB_TAPS) / (2 * HB_TAPS); /* (0, 1) */
		double w = 0.42 - 0.5 * cos(2 * M_PI * x) +
			   0.08 * cos(4 * M_PI * x);

		h[p] = sin(M_PI * k / 2) / (M_PI * k) * w;
		sum += h[p];
	}
	/* Unity gain at DC exactly: the side taps carry half of it. */
	for (p = 0; p < HB_TAPS; p++) {
		hb_coef[p] = (int32_t)lrint(h[p] / sum * 16384.0);
		isum += hb_coef[p];
	}
	hb_coef[HB_TAPS / 2] += 16384 - isum;
}

static int16_t sat16(int32_t v)
{
	return v > 32767 ? 32767 : v < -32768 ? -32768 : (int16_t)v;
}

/*
 * The histories are rings written twice, at pos and pos + HB_TAPS, so the
 * last HB_TAPS samples always lie contiguous at r + pos + 1 (oldest
 * first) and the branch sum is a plain dot product the compiler
 * vectorises.  The taps are symmetric, so their order does not matter.
 */
static void hb_push(int16_t *r, unsigned pos, int16_t v)
{
	r[pos] = v;
	r[pos + HB_TAPS] = v;
}

/* Sample @p back places before the newest (at pos). */
static int16_t hb_at(const int16_t *r, unsigned pos, unsigned back)
{
	return r[pos + HB_TAPS - back];
}

static int32_t hb_dot(const int16_t *r, unsigned pos)
{
	const int16_t *x = r + pos + 1;
	int32_t acc = 0;
	unsigned p;

	for (p = 0; p < HB_TAPS; p++)
		acc += hb_coef[p] * x[p];
	return acc;
}

_Static_assert((HB_TAPS & (HB_TAPS - 1)) == 0, "HB_TAPS: a power of two");

/* @p n samples at 8 kHz in, 2n at 16 kHz out. */
static void hb_up(struct halfband *h, int16_t *out, const int16_t *in,
		  unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		h->pos = (h->pos + 1) & (HB_TAPS - 1);
		hb_push(h->a, h->pos, in[i]);
		/* Zero-stuffed input: gain 2 makes up for the zeros. */
		out[2 * i] = sat16(hb_dot(h->a, h->pos) >> 14);
		out[2 * i + 1] = hb_at(h->a, h->pos, HB_TAPS / 2 - 1);
	}
}

/* 2n samples at 16 kHz in, n at 8 kHz out. */
static void hb_down(struct halfband *h, int16_t *out, const int16_t *in,
		    unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		int32_t acc;

		h->pos = (h->pos + 1) & (HB_TAPS - 1);
		hb_push(h->a, h->pos, in[2 * i]);
		/* The centre tap (0.5) meets the odd sample 8 pairs back,
		 * read before this pair's odd sample is stored. */
		acc = hb_dot(h->a, h->pos) +
		      hb_at(h->b, h->pos, HB_TAPS / 2) * 16384;
		hb_push(h->b, h->pos, in[2 * i + 1]);
		out[i] = sat16(acc >> 15);
	}
}

/* ---- the codecs ------------------------------------------------------- */

bool mcodec_valid(enum media_law pt)
{
	return mcodec_g711(pt) || pt == MEDIA_G722 || pt == MEDIA_G729;
}

unsigned mcodec_step(enum media_law pt)
{
	return pt == MEDIA_G729 ? G729_FRAME : 1;
}

size_t mcodec_bytes(enum media_law pt, unsigned samples)
{
	if (pt == MEDIA_G729)
		return samples / G729_FRAME * G729_FRAME_LEN;
	return samples; /* G.711, and G.722 at 64 kbit/s */
}

int mcodec_init(struct mcodec *c, enum media_law pt, unsigned what)
{
	bool enc = what & MCODEC_ENC, dec = what & MCODEC_DEC;

	memset(c, 0, sizeof(*c));
	c->pt = pt;
	switch (pt) {
	case MEDIA_PCMU:
	case MEDIA_PCMA:
		return 0;
	case MEDIA_G722:
		pthread_once(&hb_once, hb_init);
		if (enc)
			c->g722_enc = g722_encode_init(NULL, 64000, 0);
		if (dec)
			c->g722_dec = g722_decode_init(NULL, 64000, 0);
		break;
	case MEDIA_G729:
		/* No VAD: we offer and answer annexb=no (RFC 7261). */
		if (enc)
			c->g729_enc = initBcg729EncoderChannel(0);
		if (dec)
			c->g729_dec = initBcg729DecoderChannel();
		break;
	default:
		return EINVAL;
	}
	if (enc != (c->g722_enc || c->g729_enc) ||
	    dec != (c->g722_dec || c->g729_dec)) {
		mcodec_free(c);
		return ENOMEM;
	}
	return 0;
}

void mcodec_free(struct mcodec *c)
{
	if (c->g722_enc)
		g722_encode_free(c->g722_enc);
	if (c->g722_dec)
		g722_decode_free(c->g722_dec);
	if (c->g729_enc)
		closeBcg729EncoderChannel(c->g729_enc);
	if (c->g729_dec)
		closeBcg729DecoderChannel(c->g729_dec);
	c->g722_enc = NULL;
	c->g722_dec = NULL;
	c->g729_enc = NULL;
	c->g729_dec = NULL;
}

#define G722_CHUNK 160          /* 8 kHz samples converted at a time */

size_t mcodec_encode(struct mcodec *c, uint8_t *out, const int16_t *pcm,
		     unsigned n)
{
	int16_t wide[2 * G722_CHUNK];
	size_t len = 0;
	unsigned i, k;
	uint8_t fl;

	switch (c->pt) {
	case MEDIA_PCMU:
	case MEDIA_PCMA:
		for (i = 0; i < n; i++)
			out[i] = media_g711_encode(c->pt, pcm[i]);
		return n;
	case MEDIA_G722:
		if (!c->g722_enc)
			return 0;
		for (i = 0; i < n; i += k) {
			k = n - i < G722_CHUNK ? n - i : G722_CHUNK;
			hb_up(&c->up, wide, pcm + i, k);
			len += (size_t)g722_encode(c->g722_enc, out + len, wide,
						   (int)(2 * k));
		}
		return len;
	case MEDIA_G729:
		if (!c->g729_enc)
			return 0;
		for (i = 0; i + G729_FRAME <= n; i += G729_FRAME) {
			fl = 0;
			bcg729Encoder(c->g729_enc, pcm + i, out + len, &fl);
			len += fl;
		}
		return len;
	default:
		return 0;
	}
}

static int g729_decode(struct mcodec *c, int16_t *pcm, unsigned max,
		       const uint8_t *pl, size_t len)
{
	size_t frames = len / G729_FRAME_LEN, rest = len % G729_FRAME_LEN;
	unsigned n = 0;
	size_t i;

	if ((rest != 0 && rest != G729_SID_LEN) ||
	    (frames + (rest != 0)) * G729_FRAME > max)
		return -1;
	for (i = 0; i < frames; i++, n += G729_FRAME)
		bcg729Decoder(c->g729_dec, pl + i * G729_FRAME_LEN,
			      G729_FRAME_LEN, 0, 0, 0, pcm + n);
	if (rest) {
		/* Annex B comfort noise, should a peer send it anyway. */
		bcg729Decoder(c->g729_dec, pl + len - rest, G729_SID_LEN, 0, 1,
			      0, pcm + n);
		n += G729_FRAME;
	}
	return (int)n;
}

int mcodec_decode(struct mcodec *c, int16_t *pcm, unsigned max,
		  const uint8_t *pl, size_t len)
{
	int16_t wide[2 * G722_CHUNK];
	size_t i, k;

	if (len > max && c->pt != MEDIA_G729)
		return -1;
	switch (c->pt) {
	case MEDIA_PCMU:
	case MEDIA_PCMA:
		for (i = 0; i < len; i++)
			pcm[i] = media_g711_decode(c->pt, pl[i]);
		return (int)len;
	case MEDIA_G722:
		if (!c->g722_dec)
			return -1;
		for (i = 0; i < len; i += k) {
			k = len - i < G722_CHUNK ? len - i : G722_CHUNK;
			/* 64 kbit/s: each octet gives two 16 kHz samples. */
			if (g722_decode(c->g722_dec, wide, pl + i, (int)k) !=
			    (int)(2 * k))
				return -1;
			hb_down(&c->down, pcm + i, wide, (unsigned)k);
		}
		return (int)len;
	case MEDIA_G729:
		if (!c->g729_dec)
			return -1;
		return g729_decode(c, pcm, max, pl, len);
	default:
		return -1;
	}
}
