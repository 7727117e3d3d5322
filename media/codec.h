/* media/codec.h  Internal: G.722 and G.729 payloads <-> 8 kHz linear audio
 *
 * Every codec meets the rest of the engine at 8 kHz, 16-bit linear: the
 * B-channel's rate.  G.722 samples at 16 kHz, so its state carries a
 * half-band interpolator (toward the encoder) and decimator (from the
 * decoder); its RTP clock is 8000 all the same (RFC 3551 4.5.2), so one
 * payload octet is one 8 kHz sample period and timestamps advance as for
 * G.711.  G.729 codes 10 ms (80 samples) into 10 octets.
 *
 * State is allocated when a codec is set up (signalling thread, or the
 * worker on an update that changes codec), never per frame.
 */
#ifndef TG_MEDIA_CODEC_H
#define TG_MEDIA_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/media.h"

#define HB_TAPS 16              /* non-zero side taps of the half-band */

struct bcg729EncoderChannelContextStruct_struct;
struct bcg729DecoderChannelContextStruct_struct;
struct g722_encode_state_s;
struct g722_decode_state_s;

/* One direction of the 8 <-> 16 kHz conversion: the last HB_TAPS input
 * samples of each polyphase branch (each ring kept twice over). */
struct halfband {
	int16_t a[2 * HB_TAPS]; /* up: 8 kHz input; down: even samples */
	int16_t b[2 * HB_TAPS]; /* down: odd samples */
	unsigned pos;
};

struct mcodec {
	enum media_law pt;      /* MEDIA_PCMU/PCMA: nothing to code */
	struct g722_encode_state_s *g722_enc;
	struct g722_decode_state_s *g722_dec;
	struct halfband up, down;
	struct bcg729EncoderChannelContextStruct_struct *g729_enc;
	struct bcg729DecoderChannelContextStruct_struct *g729_dec;
};

#define G729_FRAME 80           /* samples per G.729 frame */
#define G729_FRAME_LEN 10       /* octets per G.729 frame */
#define G729_SID_LEN 2          /* an Annex B comfort noise frame */

/** A payload type the engine can send and receive. */
bool mcodec_valid(enum media_law pt);
/** G.711 (companded octets, converted per octet, no state). */
static inline bool mcodec_g711(enum media_law pt)
{
	return pt == MEDIA_PCMU || pt == MEDIA_PCMA;
}
/** Samples per packet must be a multiple of this (80 for G.729). */
unsigned mcodec_step(enum media_law pt);
/** Payload octets that carry @p samples 8 kHz samples. */
size_t mcodec_bytes(enum media_law pt, unsigned samples);

#define MCODEC_ENC 1u
#define MCODEC_DEC 2u

/** Set up @p c for @p pt, its encoder and/or decoder (@p what: MCODEC_*
 * bits), zeroed first; G.711 needs nothing.  @return 0, ENOMEM (then @p c
 * holds nothing), EINVAL for an unknown type. */
int mcodec_init(struct mcodec *c, enum media_law pt, unsigned what);
/** Free what mcodec_init allocated; @p c may be zeroed or already freed. */
void mcodec_free(struct mcodec *c);

/** Encode @p n samples (a multiple of mcodec_step) into @p out, which
 * holds mcodec_bytes(pt, n).  G.711 is companded (no state needed).
 * @return the octets written, 0 without an encoder set up. */
size_t mcodec_encode(struct mcodec *c, uint8_t *out, const int16_t *pcm,
		     unsigned n);
/** Samples (8 kHz) a payload of @p len octets stands for (a G.729 SID
 * frame counts as one frame). */
static inline unsigned mcodec_samples(enum media_law pt, size_t len)
{
	if (pt != MEDIA_G729)
		return (unsigned)len;
	return (unsigned)(len / G729_FRAME_LEN +
			  (len % G729_FRAME_LEN != 0)) * G729_FRAME;
}

/**
 * Decode one RTP payload into at most @p max samples.  G.729 takes whole
 * frames, optionally followed by one SID frame (RFC 3551 4.5.6); G.711
 * needs no state.  @return the samples written, or -1 when @p len is no
 * payload of the codec, would decode to more than @p max, or there is no
 * decoder set up.
 */
int mcodec_decode(struct mcodec *c, int16_t *pcm, unsigned max,
		  const uint8_t *pl, size_t len);

#endif
