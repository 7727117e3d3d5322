/* tests/fuzz/fuzz_udptl.c  libFuzzer target: UDPTL datagrams (T.38 9.1)
 * and the receiver's sequence handling */
#include <stdint.h>
#include <string.h>

#include "media/udptl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	const uint8_t *lo, *hi;
	unsigned n;
	uint16_t last;
};

static void on_ifp(const uint8_t *ifp, size_t len, uint16_t seq,
		   bool recovered, void *arg)
{
	struct seen *s = arg;

	(void)recovered;
	/* IFPs are views inside the datagram, never empty or oversized. */
	if (!len || len > UDPTL_IFP_MAX || ifp < s->lo || ifp + len > s->hi)
		__builtin_trap();
	/* Within one datagram they come up in sequence order. */
	if (s->n && seq != (uint16_t)(s->last + 1))
		__builtin_trap();
	s->last = seq;
	s->n++;
}

static void same(const struct udptl_pkt *a, const struct udptl_pkt *b)
{
	unsigned i;

	if (a->seq != b->seq || a->nsec != b->nsec ||
	    a->primary.len != b->primary.len ||
	    memcmp(a->primary.p, b->primary.p, a->primary.len))
		__builtin_trap();
	for (i = 0; i < a->nsec; i++)
		if (a->secondary[i].len != b->secondary[i].len ||
		    memcmp(a->secondary[i].p, b->secondary[i].p,
			   a->secondary[i].len))
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[2 + 2 + (UDPTL_MAX_SEC + 1) * (2 + UDPTL_IFP_MAX)];
	struct udptl_pkt pkt, back;
	struct udptl_rx rx;
	struct seen s = { data, data + size, 0, 0 };
	size_t len;

	if (!udptl_decode(&pkt, data, size)) {
		/* Redundancy re-encodes to the same packet. */
		if (!pkt.fec) {
			if (udptl_encode(out, sizeof(out), &len, &pkt) ||
			    len > size || udptl_decode(&back, out, len))
				__builtin_trap();
			same(&pkt, &back);
		}
	}
	/* The receiver, fresh and then expecting sequence 0 onward. */
	udptl_rx_init(&rx);
	udptl_rx_datagram(&rx, data, size, on_ifp, &s);
	udptl_rx_init(&rx);
	rx.have = true;
	s.n = 0;
	if (!udptl_rx_datagram(&rx, data, size, on_ifp, &s) &&
	    rx.received + rx.late != 1)
		__builtin_trap();
	return 0;
}
