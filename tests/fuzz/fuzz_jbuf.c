/* tests/fuzz/fuzz_jbuf.c  libFuzzer target: the jitter buffer fed any
 * sequence of packets (timestamps, sizes, markers, arrival times, new
 * sources) and plays */
#include <stdint.h>
#include <string.h>

#include "media/jbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t payload[JB_MAX_PAYLOAD + 1];
static uint8_t ident[256];
static struct jbuf jb;

/*
 * The input is a byte code: the first two octets pick the law, the mode
 * and jb_min/jb_max; then each op is one octet:
 *   0x00-0x7f  a packet: 2 octets of timestamp step (signed, samples),
 *              1 octet size (x 4, 0 = 961: too long), the op's low bits
 *              the marker and the arrival within the frame
 *   0x80-0xef  play (op & 7) + 1 frames
 *   0xf0-0xff  a new source
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[JB_FRAME];
	uint32_t ts = 0x7fffff00u;
	size_t i = 2;
	unsigned k;

	if (size < 2)
		return 0;
	for (k = 0; k < 256; k++)
		ident[k] = (uint8_t)k;
	for (k = 0; k < sizeof(payload); k++)
		payload[k] = (uint8_t)(k * 37);
	jbuf_init(&jb, data[0] & 1 ? MEDIA_PCMA : MEDIA_PCMU,
		  data[1] % 301u, (data[0] >> 1) % 2 ? 20 + data[1] % 281u : 0,
		  data[0] & 4 ? JB_FIXED : JB_ADAPTIVE);
	while (i < size) {
		uint8_t op = data[i++];

		if (op < 0x80) {
			int16_t step;
			size_t n;

			if (i + 3 > size)
				break;
			step = (int16_t)(data[i] | data[i + 1] << 8);
			n = data[i + 2] ? (size_t)data[i + 2] * 4 : 961;
			i += 3;
			ts += (uint32_t)(int32_t)step;
			jbuf_put(&jb, ts, payload, n, ident, op & 1,
				 (op >> 1) * 4u);
		} else if (op < 0xf0) {
			for (k = 0; k <= (op & 7u); k++)
				jbuf_get(&jb, out, sizeof(out));
		} else {
			jbuf_rebase(&jb);
			ts += 0x01000000u * op;
		}
		/* What is held stays inside the ring's window. */
		if (jb.sync && (int32_t)(jb.end - jb.head) > JB_RING)
			__builtin_trap();
	}
	return 0;
}
