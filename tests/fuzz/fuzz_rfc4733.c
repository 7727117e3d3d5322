/* tests/fuzz/fuzz_rfc4733.c  libFuzzer target: RFC 4733 event decoder and
 * receiver
 *
 * The input is a stream of 9-octet records: RTP timestamp (4), event
 * payload (4), and samples of time to pass before the next (1, in 20 ms
 * steps).  Whatever a provider sends, the receiver must start and end
 * each digit exactly once, in turn, and never report more than it heard.
 */
#include <stdint.h>
#include <string.h>

#include "media/rfc4733.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const struct te_act *act, unsigned n, bool *on,
		  uint8_t *event)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		if (act[i].event > TE_MAX_EVENT)
			__builtin_trap();
		switch (act[i].type) {
		case TE_ACT_START:
			if (*on)
				__builtin_trap(); /* two tones at once */
			*on = true;
			*event = act[i].event;
			break;
		case TE_ACT_UPDATE:
		case TE_ACT_END:
			if (!*on || act[i].event != *event)
				__builtin_trap();
			if (act[i].type == TE_ACT_END)
				*on = false;
			break;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct te_act act[3];
	struct te_event ev, back;
	struct te_rx r;
	uint8_t p[TE_PAYLOAD_LEN], event = 0;
	bool on = false;
	unsigned n, k;

	te_rx_reset(&r);
	for (; size >= 9; data += 9, size -= 9) {
		uint32_t ts = (uint32_t)data[0] << 24 |
			      (uint32_t)data[1] << 16 |
			      (uint32_t)data[2] << 8 | data[3];

		if (te_decode(&ev, data + 4, size - 4))
			__builtin_trap(); /* 4 octets are always enough */
		/* The payload re-encodes to itself but for the R bit. */
		te_encode(p, &ev);
		if (te_decode(&back, p, sizeof(p)) || back.event != ev.event ||
		    back.end != ev.end || back.volume != ev.volume ||
		    back.duration != ev.duration ||
		    p[1] != (data[5] & 0xbf))
			__builtin_trap();
		n = te_rx_packet(&r, ts, &ev, act);
		if (n > 3)
			__builtin_trap();
		check(act, n, &on, &event);
		for (k = 0; k < data[8]; k++) {
			n = te_rx_tick(&r, 160, act);
			if (n > 1)
				__builtin_trap();
			check(act, n, &on, &event);
		}
	}
	if (te_decode(&ev, data, size) == 0 && size < TE_PAYLOAD_LEN)
		__builtin_trap();
	return 0;
}
