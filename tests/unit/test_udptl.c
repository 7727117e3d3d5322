/* tests/unit/test_udptl.c  UDPTL: wire format, redundancy under the far
 * end's datagram limit, and recovery of lost IFPs from later datagrams */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "media/udptl.h"

#define NIFP 4000

/* What the receiver handed up, in order. */
struct sink {
	unsigned n;
	uint16_t seq[NIFP * 2];
	bool recovered[NIFP * 2];
	bool intact;            /* every IFP's contents as sent */
};

/* IFP number i: a few octets whose contents name it. */
static size_t make_ifp(uint8_t *p, unsigned i)
{
	size_t len = 3 + i % 60, k;

	for (k = 0; k < len; k++)
		p[k] = (uint8_t)(i * 7 + k);
	return len;
}

static void on_ifp(const uint8_t *ifp, size_t len, uint16_t seq,
		   bool recovered, void *arg)
{
	struct sink *s = arg;
	uint8_t want[UDPTL_IFP_MAX];

	if (make_ifp(want, seq) != len || memcmp(want, ifp, len))
		s->intact = false;
	s->seq[s->n] = seq;
	s->recovered[s->n] = recovered;
	s->n++;
}

static void test_wire_format(void **state)
{
	/* seq 0x0102, primary 06 01 (CED indicator), redundancy with two
	 * secondaries: 05 00 and 06 07 08. */
	static const uint8_t dg[] = { 0x01, 0x02, 0x02, 0x06, 0x01, 0x00,
				      0x02, 0x02, 0x05, 0x00, 0x03, 0x06,
				      0x07, 0x08 };
	struct udptl_pkt pkt;
	uint8_t out[64];
	size_t len, i;

	(void)state;
	assert_int_equal(udptl_decode(&pkt, dg, sizeof(dg)), 0);
	assert_int_equal(pkt.seq, 0x0102);
	assert_false(pkt.fec);
	assert_int_equal(pkt.primary.len, 2);
	assert_memory_equal(pkt.primary.p, "\x06\x01", 2);
	assert_int_equal(pkt.nsec, 2);
	assert_int_equal(pkt.secondary[1].len, 3);
	assert_int_equal(udptl_encode(out, sizeof(out), &len, &pkt), 0);
	assert_int_equal(len, sizeof(dg));
	assert_memory_equal(out, dg, len);
	/* Every truncation is malformed, and so is a trailing octet. */
	for (i = 0; i < sizeof(dg); i++)
		assert_int_equal(udptl_decode(&pkt, dg, i), EBADMSG);
	memcpy(out, dg, sizeof(dg));
	out[sizeof(dg)] = 0;
	assert_int_equal(udptl_decode(&pkt, out, sizeof(dg) + 1), EBADMSG);
	assert_int_equal(udptl_encode(out, sizeof(dg) - 1, &len, &pkt),
			 EMSGSIZE);
}

static void test_long_and_fec(void **state)
{
	uint8_t ifp[300], dg[400], big[UDPTL_IFP_MAX + 1];
	struct udptl_pkt pkt, back;
	size_t len;

	(void)state;
	memset(ifp, 0x5a, sizeof(ifp));
	memset(&pkt, 0, sizeof(pkt));
	pkt.seq = 65535;
	pkt.primary.p = ifp;
	pkt.primary.len = sizeof(ifp);
	assert_int_equal(udptl_encode(dg, sizeof(dg), &len, &pkt), 0);
	/* X.691 10.9.3.7: a length of 128-16383 takes two octets. */
	assert_int_equal(dg[2], 0x81);
	assert_int_equal(dg[3], 300 - 256);
	assert_int_equal(len, 2 + 2 + 300 + 2);
	assert_int_equal(udptl_decode(&back, dg, len), 0);
	assert_int_equal(back.primary.len, 300);
	/* Fragmented lengths and IFPs over the cap are refused. */
	dg[2] = 0xc1;
	assert_int_equal(udptl_decode(&back, dg, len), EBADMSG);
	memset(big, 1, sizeof(big));
	pkt.primary.p = big;
	pkt.primary.len = sizeof(big);
	assert_int_equal(udptl_encode(dg, sizeof(dg), &len, &pkt), EINVAL);
	{
		/* FEC form: npackets 3, two parity strings. */
		static const uint8_t fec[] = { 0x00, 0x07, 0x01, 0x06,
					       0x80, 0x01, 0x03, 0x02,
					       0x01, 0xaa, 0x02, 0xbb,
					       0xcc };

		assert_int_equal(udptl_decode(&back, fec, sizeof(fec)), 0);
		assert_true(back.fec);
		assert_int_equal(back.seq, 7);
		assert_int_equal(back.nsec, 0);
		assert_int_equal(udptl_decode(&back, fec, sizeof(fec) - 1),
				 EBADMSG);
	}
	/* An empty primary is no IFP. */
	assert_int_equal(udptl_decode(&back, (const uint8_t *)"\0\0\0\0\0",
				      5), EBADMSG);
}

static void test_tx_redundancy(void **state)
{
	struct udptl_tx tx;
	struct udptl_pkt pkt;
	uint8_t ifp[UDPTL_IFP_MAX], dg[UDPTL_DGRAM_MAX];
	size_t len, n;
	unsigned i;

	(void)state;
	udptl_tx_init(&tx, 3, 0);
	assert_int_equal(tx.max_dgram, UDPTL_DGRAM_DEFAULT);
	for (i = 0; i < 10; i++) {
		n = make_ifp(ifp, i);
		assert_int_equal(udptl_tx_frame(&tx, dg, &len, ifp, n), 0);
		assert_int_equal(udptl_decode(&pkt, dg, len), 0);
		assert_int_equal(pkt.seq, i);
		assert_int_equal(pkt.nsec, i < 3 ? i : 3);
		if (i >= 1) {
			/* secondary[0] is the IFP sent just before. */
			n = make_ifp(ifp, i - 1);
			assert_int_equal(pkt.secondary[0].len, n);
			assert_memory_equal(pkt.secondary[0].p, ifp, n);
		}
	}
	/* A small far end: as many secondaries as fit, never more. */
	udptl_tx_init(&tx, 8, 72);
	memset(ifp, 1, sizeof(ifp));
	for (i = 0; i < 10; i++) {
		assert_int_equal(udptl_tx_frame(&tx, dg, &len, ifp, 30), 0);
		assert_true(len <= 72);
	}
	assert_int_equal(udptl_decode(&pkt, dg, len), 0);
	assert_int_equal(pkt.nsec, 1);
	assert_int_equal(udptl_tx_frame(&tx, dg, &len, ifp, 80), EMSGSIZE);
	assert_int_equal(tx.seq, 10);
}

/* Send NIFP IFPs through a path that drops datagram i when drop(i). */
static void run_path(struct sink *s, unsigned redundancy,
		     bool (*drop)(unsigned), struct udptl_rx *rx)
{
	uint8_t ifp[UDPTL_IFP_MAX], dg[UDPTL_DGRAM_MAX];
	struct udptl_tx tx;
	size_t len, n;
	unsigned i;

	memset(s, 0, sizeof(*s));
	s->intact = true;
	udptl_tx_init(&tx, redundancy, UDPTL_DGRAM_MAX);
	udptl_rx_init(rx);
	for (i = 0; i < NIFP; i++) {
		n = make_ifp(ifp, (uint16_t)i);
		assert_int_equal(udptl_tx_frame(&tx, dg, &len, ifp, n), 0);
		if (!drop(i))
			assert_int_equal(udptl_rx_datagram(rx, dg, len,
							   on_ifp, s), 0);
	}
}

static bool drop_two_of_three(unsigned i)
{
	return i % 3 != 0;
}

static bool drop_bursts(unsigned i)
{
	return i % 50 >= 10 && i % 50 < 14; /* 4 in a row */
}

static bool drop_random(unsigned i)
{
	(void)i;
	return rand() % 100 < 15;
}

static void test_recovery(void **state)
{
	struct sink *s = malloc(sizeof(*s));
	struct udptl_rx rx;
	unsigned i;

	(void)state;
	assert_non_null(s);
	/* Two thirds lost, two secondaries: every IFP arrives, in order. */
	run_path(s, 2, drop_two_of_three, &rx);
	assert_true(s->intact);
	assert_int_equal(s->n, NIFP);
	for (i = 0; i < s->n; i++)
		assert_int_equal(s->seq[i], i);
	assert_int_equal(rx.lost, 0);
	assert_true(rx.recovered > NIFP / 2);
	/* Bursts of 4 with 2 secondaries: 2 of each burst are gone, the
	 * rest is in order with no duplicates. */
	run_path(s, 2, drop_bursts, &rx);
	assert_true(s->intact);
	assert_int_equal(rx.lost, 2 * (NIFP / 50));
	assert_int_equal(s->n, NIFP - rx.lost);
	for (i = 1; i < s->n; i++)
		assert_true(s->seq[i] > s->seq[i - 1]);
	/* 15% random loss, three secondaries: under 1% lost. */
	srand(38);
	run_path(s, 3, drop_random, &rx);
	assert_true(s->intact);
	assert_true(rx.lost < NIFP / 100);
	for (i = 1; i < s->n; i++)
		assert_true(s->seq[i] > s->seq[i - 1]);
	free(s);
}

static void test_rx_order(void **state)
{
	uint8_t ifp[UDPTL_IFP_MAX], dg[5][64];
	size_t len[5], n;
	struct udptl_tx tx;
	struct udptl_rx rx;
	struct sink *s = calloc(1, sizeof(*s));
	unsigned i;

	(void)state;
	assert_non_null(s);
	s->intact = true;
	udptl_tx_init(&tx, 0, 64);
	tx.seq = 65533;         /* across the wrap */
	for (i = 0; i < 5; i++) {
		n = make_ifp(ifp, (uint16_t)(65533 + i));
		assert_int_equal(udptl_tx_frame(&tx, dg[i], &len[i], ifp, n),
				 0);
	}
	udptl_rx_init(&rx);
	assert_int_equal(udptl_rx_datagram(&rx, dg[0], len[0], on_ifp, s), 0);
	assert_int_equal(udptl_rx_datagram(&rx, dg[2], len[2], on_ifp, s), 0);
	/* late, then a duplicate: both dropped */
	assert_int_equal(udptl_rx_datagram(&rx, dg[1], len[1], on_ifp, s), 0);
	assert_int_equal(udptl_rx_datagram(&rx, dg[2], len[2], on_ifp, s), 0);
	assert_int_equal(udptl_rx_datagram(&rx, dg[4], len[4], on_ifp, s), 0);
	assert_int_equal(s->n, 3);
	assert_int_equal(s->seq[0], 65533);
	assert_int_equal(s->seq[1], 65535);
	assert_int_equal(s->seq[2], 1);
	assert_int_equal(rx.late, 2);
	assert_int_equal(rx.lost, 2);
	assert_true(s->intact);
	/* A sender that starts again far behind is heard. */
	tx.seq = 65000;
	n = make_ifp(ifp, 65000);
	assert_int_equal(udptl_tx_frame(&tx, dg[0], &len[0], ifp, n), 0);
	assert_int_equal(udptl_rx_datagram(&rx, dg[0], len[0], on_ifp, s), 0);
	assert_int_equal(s->n, 4);
	assert_int_equal(udptl_rx_datagram(&rx, dg[0], 2, on_ifp, s),
			 EBADMSG);
	assert_int_equal(rx.bad, 1);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wire_format),
		cmocka_unit_test(test_long_and_fec),
		cmocka_unit_test(test_tx_redundancy),
		cmocka_unit_test(test_recovery),
		cmocka_unit_test(test_rx_order),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
