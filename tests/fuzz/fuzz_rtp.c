/* tests/fuzz/fuzz_rtp.c  libFuzzer target: RTP packet decoding */
#include <stdint.h>
#include <string.h>

#include "media/rtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *payload = NULL;
	struct rtp_hdr hdr, again;
	uint8_t buf[RTP_HDR_LEN];
	size_t plen = 0;

	if (rtp_decode(&hdr, &payload, &plen, data, size))
		return 0;
	/* The payload lies inside the packet, after the fixed header. */
	if (payload < data + RTP_HDR_LEN || payload + plen > data + size)
		__builtin_trap();
	/* The fixed header re-encodes to what was decoded. */
	rtp_encode_hdr(buf, &hdr);
	if (rtp_decode(&again, &payload, &plen, buf, sizeof(buf)) ||
	    again.seq != hdr.seq || again.ts != hdr.ts ||
	    again.ssrc != hdr.ssrc || again.pt != hdr.pt ||
	    again.marker != hdr.marker)
		__builtin_trap();
	return 0;
}
