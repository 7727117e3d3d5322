/* tests/fuzz/fuzz_codec.c  libFuzzer target: G.722 and G.729 payload
 * decoders (what a far end sends), and the encoders on what they give
 *
 * The first octet picks the codec (even: G.722, odd: G.729); then records
 * of one length octet and that many payload octets, decoded in turn by
 * one decoder, as a call's packets are.  A decoder must refuse what is no
 * payload of its codec, never write past the room it is given, and give
 * exactly the samples the payload stands for; its output, re-encoded,
 * must give exactly the octets that many samples take.
 */
#include <stdint.h>
#include <string.h>

#include "media/codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ROOM 960 /* what the bridge gives: JB_MAX_PAYLOAD */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int16_t pcm[ROOM + 16];
	static uint8_t out[ROOM];
	struct mcodec dec, enc;
	enum media_law pt;
	size_t off = 1;

	if (size < 1)
		return 0;
	pt = (data[0] & 1) ? MEDIA_G729 : MEDIA_G722;
	if (mcodec_init(&dec, pt, MCODEC_DEC) ||
	    mcodec_init(&enc, pt, MCODEC_ENC))
		__builtin_trap();
	while (off < size) {
		size_t len = data[off++];
		unsigned room = (data[0] >> 1) & 1 ? 80 : ROOM;
		int n;

		if (len > size - off)
			len = size - off;
		pcm[room] = 0x5a5a;
		n = mcodec_decode(&dec, pcm, room, data + off, len);
		if (pcm[room] != 0x5a5a)
			__builtin_trap(); /* wrote past the room */
		if (n >= 0 && (unsigned)n != mcodec_samples(pt, len))
			__builtin_trap();
		if (n > 0 && (unsigned)n % mcodec_step(pt) == 0 &&
		    mcodec_encode(&enc, out, pcm, (unsigned)n) !=
		    mcodec_bytes(pt, (unsigned)n))
			__builtin_trap();
		off += len;
	}
	mcodec_free(&dec);
	mcodec_free(&enc);
	return 0;
}
