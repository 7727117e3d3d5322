/* tests/unit/test_rtcp.c  RTCP compound packets and quality figures */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "media/rtcp.h"

static const struct rtcp_rb some_rb = {
	.ssrc = 0x11223344, .fraction = 64, .lost = -2, .ext_seq = 0x1ffff,
	.jitter = 80, .lsr = 0xabcd1234, .dlsr = 65536,
};

static size_t full_report(uint8_t *buf, size_t cap)
{
	struct rtcp_report r = {
		.ssrc = 0xcafef00d, .sr = true, .ntp = 0xe0000001800000ffULL,
		.rtp_ts = 123456, .pkts = 250, .octets = 40000,
		.has_rb = true, .rb = some_rb, .cname = "tg-0123456789abcdef",
		.bye = true,
	};

	return rtcp_encode(buf, cap, &r);
}

static void test_roundtrip(void **state)
{
	uint8_t buf[256];
	struct rtcp_msg m;
	size_t len;

	(void)state;
	len = full_report(buf, sizeof(buf));
	/* SR 28 + block 24, SDES 4 + 4 + 2 + 19 + 1 (null) + 2 (pad), BYE 8 */
	assert_int_equal(len, 52 + 32 + 8);
	assert_int_equal(rtcp_decode(&m, buf, len), 0);
	assert_int_equal(m.ssrc, 0xcafef00d);
	assert_true(m.sr);
	assert_true(m.ntp == 0xe0000001800000ffULL);
	assert_int_equal(m.rtp_ts, 123456);
	assert_int_equal(m.pkts, 250);
	assert_int_equal(m.octets, 40000);
	assert_int_equal(m.nrb, 1);
	assert_memory_equal(&m.rb[0], &some_rb, sizeof(some_rb));
	assert_int_equal(m.cname_len, 19);
	assert_memory_equal(m.cname, "tg-0123456789abcdef", 19);
	assert_true(m.bye);
	/* Too little room, or no CNAME: nothing. */
	assert_int_equal(full_report(buf, len - 1), 0);
	{
		struct rtcp_report r = {.ssrc = 1, .cname = ""};

		assert_int_equal(rtcp_encode(buf, sizeof(buf), &r), 0);
		r.cname = "x"; /* an RR alone: 8, SDES 12 */
		assert_int_equal(rtcp_encode(buf, sizeof(buf), &r), 20);
		assert_int_equal(rtcp_decode(&m, buf, 20), 0);
		assert_false(m.sr);
		assert_int_equal(m.nrb, 0);
		assert_false(m.bye);
	}
}

/* RFC 3550 A.2's checks, and our bounds on SDES and BYE. */
static void test_malformed(void **state)
{
	uint8_t good[256], b[256];
	struct rtcp_msg m;
	size_t len;

	(void)state;
	len = full_report(good, sizeof(good));
#define BAD(mod, n)                                                      \
	do {                                                             \
		memcpy(b, good, len);                                    \
		mod;                                                     \
		assert_int_equal(rtcp_decode(&m, b, (n)), EBADMSG);      \
	} while (0)
	BAD((void)0, len - 4);          /* lengths do not add up */
	BAD((void)0, len - 1);          /* not whole words */
	BAD((void)0, 4);                /* too short */
	BAD(b[0] = 0x41, len);          /* version 1 */
	BAD(b[1] = 202, len);           /* SDES first */
	BAD(b[3]++, len);               /* SR longer than the datagram */
	BAD(b[0] |= 0x20, len);         /* padding on the first packet */
	BAD(b[0] = 0x9f, len);          /* 31 blocks in a 1-block SR */
	BAD(b[52 + 9] = 40, len);       /* CNAME runs past the SDES */
	BAD(b[52 + 31] = 'x', len);     /* padding after the null item */
	BAD(memset(b + 52 + 29, 'x', 3), len); /* no null item */
	BAD(b[52 + 32 + 3] = 0, len - 4); /* BYE of no words: SC past it */
#undef BAD
	assert_int_equal(rtcp_decode(&m, good, len), 0);
}

static void test_padding_and_unknown(void **state)
{
	/* RR, APP (skipped), then a BYE padded by 4 with a reason. */
	static const uint8_t p[] = {
		0x80, 201, 0, 1, 0, 0, 0, 9,
		0x80, 204, 0, 2, 0, 0, 0, 9, 'n', 'a', 'm', 'e',
		0xa1, 203, 0, 3, 0, 0, 0, 9, 3, 'b', 'y', 'e', 0, 0, 0, 4,
	};
	uint8_t b[sizeof(p)];
	struct rtcp_msg m;

	(void)state;
	assert_int_equal(rtcp_decode(&m, p, sizeof(p)), 0);
	assert_int_equal(m.ssrc, 9);
	assert_true(m.bye);
	assert_null(m.cname);
	/* A padding count larger than the packet, or a reason past it. */
	memcpy(b, p, sizeof(p));
	b[sizeof(b) - 1] = 16;
	assert_int_equal(rtcp_decode(&m, b, sizeof(b)), EBADMSG);
	memcpy(b, p, sizeof(p));
	b[28] = 8;
	assert_int_equal(rtcp_decode(&m, b, sizeof(b)), EBADMSG);
}

/* A.8: steady transit is no jitter; |D| of 80 every packet tends to 80. */
static void test_jitter(void **state)
{
	struct rtcp_rx rx;
	uint32_t ts = 0xfffff000; /* across the wrap */
	unsigned i;

	(void)state;
	memset(&rx, 0, sizeof(rx));
	for (i = 0; i < 100; i++, ts += 160)
		rtcp_rx_jitter(&rx, ts + 5000, ts);
	assert_int_equal(rx.jitter_q4 >> 4, 0);
	for (i = 0; i < 400; i++, ts += 160)
		rtcp_rx_jitter(&rx, ts + 5000 + (i % 2 ? 80 : 0), ts);
	assert_in_range(rx.jitter_q4 >> 4, 78, 80);
	assert_int_equal(rx.jitter_max_q4, rx.jitter_q4 > rx.jitter_max_q4
						   ? 0 : rx.jitter_max_q4);
	/* A timeline jump is clamped, not overflowed. */
	rtcp_rx_jitter(&rx, ts + 0x7fffffff, ts);
	assert_true(rx.jitter_max_q4 < 0x2000000);
}

/* A.3: cumulative and interval loss, duplicates, the 24-bit clamp, DLSR. */
static void test_rx_block(void **state)
{
	struct rtcp_rx rx;
	struct rtcp_rb rb;

	(void)state;
	memset(&rx, 0, sizeof(rx));
	rtcp_rx_block(&rx, &rb, 5, 100, 90, 1099, 0);
	assert_int_equal(rb.ssrc, 5);
	assert_int_equal(rb.lost, 10);
	assert_int_equal(rb.fraction, 25); /* 10/100 * 256 */
	assert_int_equal(rb.ext_seq, 1099);
	assert_int_equal(rb.lsr, 0);
	assert_int_equal(rb.dlsr, 0);
	rx.lsr = 0x12345678;
	rx.lsr_us = 1000000;
	rtcp_rx_block(&rx, &rb, 5, 200, 190, 1199, 1500000);
	assert_int_equal(rb.lost, 10);
	assert_int_equal(rb.fraction, 0); /* none lost this interval */
	assert_int_equal(rb.lsr, 0x12345678);
	assert_int_equal(rb.dlsr, 32768); /* 0.5 s */
	/* Duplicates: more received than expected. */
	rtcp_rx_block(&rx, &rb, 5, 210, 215, 1209, 1500000);
	assert_int_equal(rb.lost, -5);
	assert_int_equal(rb.fraction, 0);
	rtcp_rx_block(&rx, &rb, 5, 20000000, 0, 0, 0);
	assert_int_equal(rb.lost, 0x7fffff);
	assert_int_equal(rb.fraction, 255);
}

static void test_rtt_and_ntp(void **state)
{
	uint32_t lsr = 0xfffff000; /* across the wrap */

	(void)state;
	assert_int_equal(rtcp_rtt_us(12345, 0, 0), -1);
	/* 0.1 s (6554/65536) after the far end's 1 s of holding it. */
	assert_in_range(rtcp_rtt_us(lsr + 65536 + 6554, lsr, 65536), 100000,
			100010);
	/* Rounding on the far end: a little below zero is zero. */
	assert_int_equal(rtcp_rtt_us(lsr + 65536 - 100, lsr, 65536), 0);
	assert_int_equal(rtcp_rtt_us(lsr + 65536 - 5000, lsr, 65536), -1);
	assert_int_equal(rtcp_rtt_us(lsr + 61 * 65536, lsr, 0), -1);

	assert_true(rtcp_ntp_from_unix(0, 0) == 2208988800ULL << 32);
	assert_true(rtcp_ntp_from_unix(1, 500000000) ==
		    ((2208988801ULL << 32) | 0x80000000u));
	assert_int_equal(rtcp_ntp_mid(0x0001234567890000ULL), 0x23456789);
}

static void test_interval(void **state)
{
	(void)state;
	assert_int_equal(rtcp_interval_ms(0, false), 2500);
	assert_int_equal(rtcp_interval_ms(0x80000000u, false), 5000);
	assert_int_equal(rtcp_interval_ms(0xffffffffu, false), 7499);
	assert_int_equal(rtcp_interval_ms(0, true), 1250);
	assert_int_equal(rtcp_interval_ms(0xffffffffu, true), 3749);
}

/* The E-model: best with no loss or delay, lower with either. */
static void test_mos(void **state)
{
	unsigned best = rtcp_mos_x100(0, 0, true);
	unsigned prev = best;

	(void)state;
	assert_in_range(best, 440, 442); /* R 93.2 */
	/* 1% random loss with concealment: Ie_eff 3.6, R 89.6. */
	assert_in_range(rtcp_mos_x100(0.01, 0, true), 432, 434);
	/* Without concealment loss hurts far more. */
	assert_true(rtcp_mos_x100(0.01, 0, false) <
		    rtcp_mos_x100(0.01, 0, true) - 20);
	for (double loss = 0.01; loss <= 0.5; loss += 0.01) {
		unsigned m = rtcp_mos_x100(loss, 40, true);

		assert_true(m < prev);
		prev = m;
	}
	assert_true(rtcp_mos_x100(0.05, 0, true) < 420);
	/* The knee at 177.3 ms one way. */
	assert_true(rtcp_mos_x100(0, 150, true) > 430);
	assert_true(rtcp_mos_x100(0, 400, true) < 360);
	assert_int_equal(rtcp_mos_x100(1, 0, false), 100);
	assert_int_equal(rtcp_mos_x100(-1, -5, true), best);
	assert_int_equal(rtcp_mos_x100(0.0 / 0.0, 0, true), best);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_padding_and_unknown),
		cmocka_unit_test(test_jitter),
		cmocka_unit_test(test_rx_block),
		cmocka_unit_test(test_rtt_and_ntp),
		cmocka_unit_test(test_interval),
		cmocka_unit_test(test_mos),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
