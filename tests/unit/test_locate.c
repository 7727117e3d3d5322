/* tests/unit/test_locate.c  RFC 3263 pieces: SRV order (RFC 2782), the
 * NAPTR choice per transport, and answer TTLs from raw DNS messages */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sip/sip.h"

/* ---- SRV order ---------------------------------------------------------- */

static uint32_t xorshift(void *arg)
{
	uint32_t *s = arg;

	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static uint32_t const_rnd(void *arg)
{
	return *(uint32_t *)arg;
}

static void set(struct sip_target *t, const char *host, unsigned prio,
		unsigned weight)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->host, sizeof(t->host), "%s", host);
	t->priority = prio;
	t->weight = weight;
}

static void test_srv_priority_first(void **state)
{
	struct sip_target t[4];
	uint32_t seed = 1;

	(void)state;
	for (int run = 0; run < 200; run++) {
		set(&t[0], "c", 30, 5);
		set(&t[1], "a", 10, 5);
		set(&t[2], "b", 20, 5);
		set(&t[3], "d", 40, 0);
		sip_srv_order(t, 4, xorshift, &seed);
		/* One target per priority: no draw can reorder them. */
		assert_string_equal(t[0].host, "a");
		assert_string_equal(t[1].host, "b");
		assert_string_equal(t[2].host, "c");
		assert_string_equal(t[3].host, "d");
	}
}

/* Weights 80/20 within one priority: the heavier one comes first about
 * 80% of the time (RFC 2782's draw), and both are always present; the
 * lower priority stays last. */
static void test_srv_weights(void **state)
{
	struct sip_target t[3];
	uint32_t seed = 12345;
	unsigned heavy_first = 0, runs = 20000;

	(void)state;
	for (unsigned run = 0; run < runs; run++) {
		set(&t[0], "light", 10, 20);
		set(&t[1], "heavy", 10, 80);
		set(&t[2], "backup", 20, 100);
		sip_srv_order(t, 3, xorshift, &seed);
		assert_string_equal(t[2].host, "backup");
		assert_string_not_equal(t[0].host, t[1].host);
		heavy_first += !strcmp(t[0].host, "heavy");
	}
	assert_in_range(heavy_first, runs * 77 / 100, runs * 83 / 100);
}

/* Three weights 60/30/10: each one's share of first place. */
static void test_srv_three_weights(void **state)
{
	struct sip_target t[3];
	uint32_t seed = 777;
	unsigned first[3] = {0, 0, 0}, runs = 30000;

	(void)state;
	for (unsigned run = 0; run < runs; run++) {
		set(&t[0], "0", 5, 10);
		set(&t[1], "1", 5, 30);
		set(&t[2], "2", 5, 60);
		sip_srv_order(t, 3, xorshift, &seed);
		first[t[0].host[0] - '0']++;
	}
	assert_in_range(first[0], runs * 8 / 100, runs * 12 / 100);
	assert_in_range(first[1], runs * 27 / 100, runs * 33 / 100);
	assert_in_range(first[2], runs * 57 / 100, runs * 63 / 100);
}

/* RFC 2782: zero-weight entries go first in the running sum, so a draw of
 * 0 picks one, any other draw skips it; all-zero keeps the order. */
static void test_srv_zero_weight(void **state)
{
	struct sip_target t[2];
	uint32_t r;

	(void)state;
	r = 0;
	set(&t[0], "weighted", 1, 100);
	set(&t[1], "zero", 1, 0);
	sip_srv_order(t, 2, const_rnd, &r);
	assert_string_equal(t[0].host, "zero");
	r = 100;
	set(&t[0], "weighted", 1, 100);
	set(&t[1], "zero", 1, 0);
	sip_srv_order(t, 2, const_rnd, &r);
	assert_string_equal(t[0].host, "weighted");
	assert_string_equal(t[1].host, "zero");
	r = 7;
	set(&t[0], "x", 1, 0);
	set(&t[1], "y", 1, 0);
	sip_srv_order(t, 2, const_rnd, &r);
	assert_string_equal(t[0].host, "x");
	assert_string_equal(t[1].host, "y");
	sip_srv_order(t, 0, const_rnd, &r);
}

/* ---- NAPTR -------------------------------------------------------------- */

static void test_naptr_pick(void **state)
{
	struct sip_naptr r[] = {
		{5, 10, "s", "SIP+D2T", "", "_sip._tcp.x.test"},
		{10, 20, "s", "SIP+D2U", "", "_sip._udp.second.test"},
		{10, 10, "S", "sip+d2u", "", "_sip._udp.first.test"},
		{1, 1, "", "SIP+D2U", "", "_sip._udp.noflag.test"},
		{1, 1, "a", "SIP+D2U", "", "a-flag.test"},
		{2, 1, "s", "SIPS+D2T", "", "_sips._tcp.x.test"},
		{0, 0, "s", "SIPS+D2U", "", "_sips._udp.x.test"},
	};
	const unsigned udp = SIP_TP_BIT(SIP_TRANSPORT_UDP),
		       tcp = SIP_TP_BIT(SIP_TRANSPORT_TCP),
		       tls = SIP_TP_BIT(SIP_TRANSPORT_TLS);
	enum sip_transport tp = SIP_TRANSPORT_TLS;
	char out[64];

	(void)state;
	/* UDP only: the best SIP+D2U with flag S; SIPS+D2U is nothing we
	 * speak, whatever its order. */
	assert_int_equal(sip_naptr_pick(r, 7, udp, out, sizeof(out), &tp), 0);
	assert_string_equal(out, "_sip._udp.first.test");
	assert_int_equal(tp, SIP_TRANSPORT_UDP);
	/* All three: the server's order decides, not ours. */
	assert_int_equal(sip_naptr_pick(r, 7, udp | tcp | tls, out,
					sizeof(out), &tp), 0);
	assert_string_equal(out, "_sips._tcp.x.test");
	assert_int_equal(tp, SIP_TRANSPORT_TLS);
	assert_int_equal(sip_naptr_pick(r, 7, udp | tcp, out, sizeof(out),
					&tp), 0);
	assert_string_equal(out, "_sip._tcp.x.test");
	assert_int_equal(tp, SIP_TRANSPORT_TCP);
	/* An explicit transport takes only its own records. */
	assert_int_equal(sip_naptr_pick(r, 7, tcp, out, sizeof(out), &tp), 0);
	assert_string_equal(out, "_sip._tcp.x.test");
	/* Only TCP and TLS: nothing for a UDP trunk. */
	assert_int_equal(sip_naptr_pick(r, 1, udp, out, sizeof(out), &tp),
			 ENOENT);
	assert_int_equal(sip_naptr_pick(r, 7, 0, out, sizeof(out), &tp),
			 ENOENT);
	/* A replacement that does not fit is skipped, never cut. */
	assert_int_equal(sip_naptr_pick(r + 1, 2, udp, out, 10, &tp), ENOENT);
	assert_int_equal(sip_naptr_pick(NULL, 0, udp, out, sizeof(out), &tp),
			 ENOENT);
}

/* ---- answer TTLs -------------------------------------------------------- */

/* A reply to "_sip._udp.t.test SRV" with @p n answers given as
 * {type, ttl}; each answer's name is a pointer to the question's. */
static size_t reply(unsigned char *b, const uint32_t (*ans)[2], unsigned n)
{
	static const unsigned char q[] = "\x04_sip\x04_udp\x01t\x04test";
	size_t p = 0;

	memset(b, 0, 12);
	b[2] = 0x81;
	b[3] = 0x80;
	b[5] = 1;
	b[7] = (unsigned char)n;
	p = 12;
	memcpy(b + p, q, sizeof(q)); /* with its terminating zero */
	p += sizeof(q);
	b[p++] = 0;
	b[p++] = 33;
	b[p++] = 0;
	b[p++] = 1;
	for (unsigned i = 0; i < n; i++) {
		b[p++] = 0xc0;
		b[p++] = 12;
		b[p++] = 0;
		b[p++] = (unsigned char)ans[i][0];
		b[p++] = 0;
		b[p++] = 1;
		b[p++] = (unsigned char)(ans[i][1] >> 24);
		b[p++] = (unsigned char)(ans[i][1] >> 16);
		b[p++] = (unsigned char)(ans[i][1] >> 8);
		b[p++] = (unsigned char)ans[i][1];
		b[p++] = 0;
		b[p++] = 4;
		memset(b + p, 0, 4);
		p += 4;
	}
	return p;
}

static void test_answer_ttl(void **state)
{
	static const uint32_t ans[][2] = {
		{33, 300},
		{1, 5},
		{33, 60},
		{33, 3600},
	};
	static const uint32_t neg[][2] = {{33, 0x80000010u}};
	unsigned char b[512];
	uint32_t ttl = 0;
	size_t n;

	(void)state;
	n = reply(b, ans, 4);
	assert_int_equal(sip_dns_answer_ttl(b, n, 33, &ttl), 0);
	assert_int_equal(ttl, 60);
	assert_int_equal(sip_dns_answer_ttl(b, n, 1, &ttl), 0);
	assert_int_equal(ttl, 5);
	assert_int_equal(sip_dns_answer_ttl(b, n, 35, &ttl), ENOENT);
	/* Every cut of the message is malformed (or, before the answers,
	 * too short to have a header). */
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(sip_dns_answer_ttl(b, cut, 33, &ttl), EBADMSG);
	/* An answer count beyond the data. */
	b[7] = 5;
	assert_int_equal(sip_dns_answer_ttl(b, n, 33, &ttl), EBADMSG);
	/* No answer at all. */
	n = reply(b, ans, 0);
	assert_int_equal(sip_dns_answer_ttl(b, n, 33, &ttl), ENOENT);
	/* RFC 2181 8: a TTL with the top bit set is zero. */
	n = reply(b, neg, 1);
	assert_int_equal(sip_dns_answer_ttl(b, n, 33, &ttl), 0);
	assert_int_equal(ttl, 0);
	/* A reserved label type (0x40) is malformed. */
	b[12] = 0x41;
	assert_int_equal(sip_dns_answer_ttl(b, n, 33, &ttl), EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_srv_priority_first),
		cmocka_unit_test(test_srv_weights),
		cmocka_unit_test(test_srv_three_weights),
		cmocka_unit_test(test_srv_zero_weight),
		cmocka_unit_test(test_naptr_pick),
		cmocka_unit_test(test_answer_ttl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
