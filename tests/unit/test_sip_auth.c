/* tests/unit/test_sip_auth.c  sip/auth.c: digest hashes against the RFC
 * examples, header parsing, nonces (expiry, replay, forgery) */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sip/auth.h"

/* RFC 7616 3.9.1 */
#define U "Mufasa"
#define R7616 "http-auth@example.org"
#define PW7616 "Circle of Life"
#define N7616 "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
#define C7616 "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
#define O7616 "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"

static void test_rfc7616_md5(void **state)
{
	char out[SIP_DIGEST_HEX];

	(void)state;
	assert_int_equal(sip_digest_compute(out, SIP_DIGEST_MD5, U, R7616,
					    PW7616, "GET", "/dir/index.html",
					    N7616, "00000001", C7616, "auth"),
			 0);
	assert_string_equal(out, "8ca523f5e9506fed4657c9700eebdbec");
}

static void test_rfc7616_sha256(void **state)
{
	char out[SIP_DIGEST_HEX];

	(void)state;
	assert_int_equal(sip_digest_compute(out, SIP_DIGEST_SHA256, U, R7616,
					    PW7616, "GET", "/dir/index.html",
					    N7616, "00000001", C7616, "auth"),
			 0);
	assert_string_equal(out, "753927fa0e85d155564e2e272a28d180"
				 "2ca10daf4496794697cf8db5856cb6c1");
}

/* RFC 2617 3.5 */
static void test_rfc2617(void **state)
{
	char out[SIP_DIGEST_HEX];

	(void)state;
	assert_int_equal(sip_digest_compute(out, SIP_DIGEST_MD5, U,
					    "testrealm@host.com",
					    "Circle Of Life", "GET",
					    "/dir/index.html",
					    "dcd98b7102dd2f0e8b11d0f600bfb0c093",
					    "00000001", "0a4f113b", "auth"),
			 0);
	assert_string_equal(out, "6629fae49393a05397450978507c4ef1");
}

/* The RFC 7616 3.9.1 Authorization, parsed and checked. */
static void test_parse_check(void **state)
{
	static const char *h =
		"Digest username=\"Mufasa\",\r\n realm=\"" R7616 "\", "
		"uri=\"/dir/index.html\", algorithm=SHA-256, nonce=\"" N7616
		"\", nc=00000001, cnonce=\"" C7616 "\", qop=auth, response="
		"\"753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5"
		"856cb6c1\", opaque=\"" O7616 "\", foo=bar";
	struct sip_digest d;

	(void)state;
	assert_int_equal(sip_digest_parse(&d, h, strlen(h)), 0);
	assert_string_equal(d.username, "Mufasa");
	assert_string_equal(d.realm, R7616);
	assert_string_equal(d.nonce, N7616);
	assert_string_equal(d.nc, "00000001");
	assert_string_equal(d.opaque, O7616);
	assert_int_equal(d.alg, SIP_DIGEST_SHA256);
	assert_true(d.qop_auth);
	assert_true(sip_digest_check(&d, "GET", PW7616));
	assert_false(sip_digest_check(&d, "GET", "Circle of life"));
	assert_false(sip_digest_check(&d, "POST", PW7616));
}

static void test_parse_challenge(void **state)
{
	static const char *c1 = "Digest realm=\"a\\\"b\", qop=\"auth-int, "
				"auth\", nonce=\"n\", stale=TRUE, "
				"algorithm=MD5";
	static const char *c2 = "Digest realm=\"r\", qop=\"auth-int\", "
				"nonce=\"n\"";
	struct sip_digest d;

	(void)state;
	assert_int_equal(sip_digest_parse(&d, c1, strlen(c1)), 0);
	assert_string_equal(d.realm, "a\"b");
	assert_true(d.qop_auth);
	assert_true(d.stale);
	assert_int_equal(sip_digest_parse(&d, c2, strlen(c2)), 0);
	assert_false(d.qop_auth);
	assert_true(d.qop_other);
}

static void test_parse_bad(void **state)
{
	static const char *bad[] = {
		"Basic realm=\"x\"",
		"Digestrealm=\"x\"",
		"Digest realm=\"x",
		"Digest realm",
		"Digest =x",
		"Digest realm=x y=z",
		"Digest nc=123456789",
	};
	struct sip_digest d;
	const char *sess = "Digest realm=\"x\", algorithm=MD5-sess";

	(void)state;
	assert_int_equal(sip_digest_parse(&d, bad[0], strlen(bad[0])),
			 ENOTSUP);
	assert_int_equal(sip_digest_parse(&d, bad[1], strlen(bad[1])),
			 ENOTSUP);
	for (size_t i = 2; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sip_digest_parse(&d, bad[i], strlen(bad[i])),
				 EBADMSG);
	assert_int_equal(sip_digest_parse(&d, sess, strlen(sess)), ENOTSUP);
	/* Not NUL-terminated: the length is the end. */
	assert_int_equal(sip_digest_parse(&d, "Digest realm=\"x\"zzz", 16),
			 0);
	assert_string_equal(d.realm, "x");
}

/* Our answer to a challenge is what a server computes. */
static void test_answer_roundtrip(void **state)
{
	static const char *ch = "Digest realm=\"tollgate\", nonce=\"abc\", "
				"opaque=\"op\", qop=\"auth\", "
				"algorithm=SHA-256";
	static const char *old = "Digest realm=\"tollgate\", nonce=\"abc\"";
	struct sip_digest c, cr;
	char v[1024];

	(void)state;
	assert_int_equal(sip_digest_parse(&c, ch, strlen(ch)), 0);
	assert_int_equal(sip_digest_answer(v, sizeof(v), &c, "al\"ice", "pw",
					   "INVITE", "sip:1@h", 1, "cn"),
			 0);
	assert_int_equal(sip_digest_parse(&cr, v, strlen(v)), 0);
	assert_string_equal(cr.username, "al\"ice");
	assert_string_equal(cr.opaque, "op");
	assert_string_equal(cr.nc, "00000001");
	assert_int_equal(cr.alg, SIP_DIGEST_SHA256);
	assert_true(cr.qop_auth);
	assert_true(sip_digest_check(&cr, "INVITE", "pw"));
	assert_false(sip_digest_check(&cr, "INVITE", "pW"));
	/* RFC 2069: no qop, no cnonce / nc. */
	assert_int_equal(sip_digest_parse(&c, old, strlen(old)), 0);
	assert_int_equal(sip_digest_answer(v, sizeof(v), &c, "a", "pw", "BYE",
					   "sip:1@h", 1, "cn"),
			 0);
	assert_null(strstr(v, "qop"));
	assert_int_equal(sip_digest_parse(&cr, v, strlen(v)), 0);
	assert_false(cr.qop_auth);
	assert_true(sip_digest_check(&cr, "BYE", "pw"));
	assert_int_equal(sip_digest_answer(v, 40, &c, "a", "pw", "BYE",
					   "sip:1@h", 1, "cn"),
			 ENOSPC);
}

static void test_nonces(void **state)
{
	struct sip_nonces *ns = malloc(sizeof(*ns)), *other;
	char n[SIP_NONCE_LEN + 1], n2[SIP_NONCE_LEN + 1];

	(void)state;
	other = malloc(sizeof(*other));
	assert_int_equal(sip_nonces_init(ns), 0);
	assert_int_equal(sip_nonces_init(other), 0);
	sip_nonce_make(ns, 1000, n, sizeof(n));
	assert_int_equal(strlen(n), SIP_NONCE_LEN);
	sip_nonce_make(ns, 1000, n2, sizeof(n2));
	assert_string_not_equal(n, n2);
	assert_int_equal(sip_nonce_use(ns, n, "00000001", 1010, 300), 0);
	/* Replays: the same or a lower nonce-count. */
	assert_int_equal(sip_nonce_use(ns, n, "00000001", 1011, 300),
			 EALREADY);
	assert_int_equal(sip_nonce_use(ns, n, "00000002", 1012, 300), 0);
	assert_int_equal(sip_nonce_use(ns, n, "00000001", 1013, 300),
			 EALREADY);
	assert_int_equal(sip_nonce_use(ns, n, "0", 1013, 300), EALREADY);
	/* Expiry. */
	assert_int_equal(sip_nonce_use(ns, n2, "00000001", 1301, 300),
			 ESTALE);
	/* Another process's (or a forged) nonce. */
	assert_int_equal(sip_nonce_use(other, n, "00000009", 1010, 300),
			 EINVAL);
	n2[20] = n2[20] == 'a' ? 'b' : 'a';
	assert_int_equal(sip_nonce_use(ns, n2, "00000001", 1010, 300),
			 EINVAL);
	assert_int_equal(sip_nonce_use(ns, "xyz", "00000001", 1010, 300),
			 EINVAL);
	/* Once evicted from the table, a nonce is stale, not reusable. */
	for (unsigned i = 0; i < SIP_NONCE_SLOTS; i++) {
		sip_nonce_make(ns, 1001, n2, sizeof(n2));
		assert_int_equal(sip_nonce_use(ns, n2, "00000001", 1002, 300),
				 0);
	}
	assert_int_equal(sip_nonce_use(ns, n, "00000003", 1010, 300), ESTALE);
	sip_nonce_make(ns, 1005, n2, sizeof(n2));
	assert_int_equal(sip_nonce_use(ns, n2, "00000001", 1006, 300), 0);
	free(ns);
	free(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc7616_md5),
		cmocka_unit_test(test_rfc7616_sha256),
		cmocka_unit_test(test_rfc2617),
		cmocka_unit_test(test_parse_check),
		cmocka_unit_test(test_parse_challenge),
		cmocka_unit_test(test_parse_bad),
		cmocka_unit_test(test_answer_roundtrip),
		cmocka_unit_test(test_nonces),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
