/* media/g711.c  G.711 mu-law and A-law companding, law conversion tables */
#include <pthread.h>
#include <stdint.h>

#include "media/media.h"
#include "media/g711.h"

/*
 * Encoders follow the segment layout of ITU-T G.711: a sign bit, three
 * segment bits and four mantissa bits.  mu-law works on 14-bit magnitudes
 * with a bias of 33 so that every segment starts at a power of two; A-law
 * works on 13-bit magnitudes with a linear first segment.  Decoders return
 * the centre of the quantisation interval, scaled to 16 bits.
 */

#define ULAW_BIAS 33   /* in 14-bit units */
#define ULAW_CLIP 8158 /* largest 14-bit magnitude before the bias */

static uint8_t ulaw_encode(int16_t s)
{
	int v = s;
	uint8_t sign = 0;
	int seg = 0;
	int t;

	if (v < 0) {
		v = -v;
		sign = 0x80;
	}
	v >>= 2;
	if (v > ULAW_CLIP)
		v = ULAW_CLIP;
	v += ULAW_BIAS;
	for (t = v >> 6; t; t >>= 1)
		seg++;
	return (uint8_t)~(sign | (seg << 4) | ((v >> (seg + 1)) & 0x0f));
}

static int16_t ulaw_decode(uint8_t u)
{
	int t;

	u = (uint8_t)~u;
	t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
	return (int16_t)((u & 0x80) ? 0x84 - t : t - 0x84);
}

static uint8_t alaw_encode(int16_t s)
{
	int v = s >> 3; /* 13-bit */
	uint8_t mask = 0xd5;
	int seg;

	if (v < 0) {
		/* One's complement keeps the two signs symmetric. */
		v = -v - 1;
		mask = 0x55;
	}
	if (v > 0x0fff)
		v = 0x0fff;
	if (v < 32)
		return (uint8_t)((v >> 1) ^ mask);
	for (seg = 1; v >= (64 << (seg - 1)); seg++)
		;
	return (uint8_t)(((seg << 4) | ((v >> seg) & 0x0f)) ^ mask);
}

static int16_t alaw_decode(uint8_t a)
{
	int t;
	int seg;

	a ^= 0x55;
	t = (a & 0x0f) << 4;
	seg = (a & 0x70) >> 4;
	if (seg == 0)
		t += 8;
	else
		t = (t + 0x108) << (seg - 1);
	return (int16_t)((a & 0x80) ? t : -t);
}

uint8_t media_g711_encode(enum media_law law, int16_t s)
{
	return law == MEDIA_PCMA ? alaw_encode(s) : ulaw_encode(s);
}

int16_t media_g711_decode(enum media_law law, uint8_t x)
{
	return law == MEDIA_PCMA ? alaw_decode(x) : ulaw_decode(x);
}

uint8_t media_g711_silence(enum media_law law)
{
	return law == MEDIA_PCMA ? 0xd5 : 0xff;
}

/* Conversion picks the code of the other law nearest to the decoded value,
 * which is what SpanDSP's direct tables give as well. */
uint8_t media_ulaw_to_alaw(uint8_t u)
{
	return alaw_encode(ulaw_decode(u));
}

uint8_t media_alaw_to_ulaw(uint8_t a)
{
	return ulaw_encode(alaw_decode(a));
}

static uint8_t tab_ident[256];
static uint8_t tab_u2a[256];
static uint8_t tab_a2u[256];
static int16_t tab_dec[2][256]; /* [0] mu-law, [1] A-law */
static pthread_once_t tab_once = PTHREAD_ONCE_INIT;

static void tables_init(void)
{
	int i;

	for (i = 0; i < 256; i++) {
		tab_ident[i] = (uint8_t)i;
		tab_u2a[i] = media_ulaw_to_alaw((uint8_t)i);
		tab_a2u[i] = media_alaw_to_ulaw((uint8_t)i);
		tab_dec[0][i] = ulaw_decode((uint8_t)i);
		tab_dec[1][i] = alaw_decode((uint8_t)i);
	}
}

const int16_t *g711_decode_table(enum media_law law)
{
	pthread_once(&tab_once, tables_init);
	return tab_dec[law == MEDIA_PCMA];
}

const uint8_t *g711_conv_table(enum media_law from, enum media_law to)
{
	pthread_once(&tab_once, tables_init);
	if (from == to)
		return tab_ident;
	return from == MEDIA_PCMU ? tab_u2a : tab_a2u;
}
