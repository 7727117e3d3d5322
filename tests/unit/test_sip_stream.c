/* tests/unit/test_sip_stream.c  Finding SIP messages in a TCP/TLS stream
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * sip_stream_frame() as the transport drives it: messages back to back,
 * split anywhere, keep-alive CRLFs between them, bodies by Content-Length
 * (long and compact form), and the refusals that close a connection:
 * something that is no SIP, a Content-Length that is no number or two
 * that disagree, messages over the cap.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sip/sip_int.h"

#define INVITE_HDR                                                          \
	"INVITE sip:5551234@127.0.0.1 SIP/2.0\r\n"                          \
	"Via: SIP/2.0/TCP 127.0.0.1:5080;branch=z9hG4bK1\r\n"               \
	"Call-ID: a@b\r\nCSeq: 1 INVITE\r\n"
#define BODY "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n"

static const char invite[] = INVITE_HDR "Content-Length: 36\r\n\r\n" BODY;
static const char ok[] = "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h\r\n"
			 "l: 0\r\n\r\n";

static int frame(const char *buf, size_t len, size_t *skip, size_t *mlen)
{
	return sip_stream_frame(buf, len, SIP_MAX_MSG, skip, mlen);
}

static void whole_messages(void **state)
{
	size_t skip, mlen;

	(void)state;
	assert_int_equal(strlen(BODY), 36);
	assert_int_equal(frame(invite, strlen(invite), &skip, &mlen), 0);
	assert_int_equal(skip, 0);
	assert_int_equal(mlen, strlen(invite));
	assert_int_equal(frame(ok, strlen(ok), &skip, &mlen), 0);
	assert_int_equal(mlen, strlen(ok));
}

/* Two messages in one read: the first ends at its body. */
static void back_to_back(void **state)
{
	char buf[1024];
	size_t skip, mlen, n;

	(void)state;
	n = (size_t)snprintf(buf, sizeof(buf), "%s%s", invite, ok);
	assert_int_equal(frame(buf, n, &skip, &mlen), 0);
	assert_int_equal(mlen, strlen(invite));
	assert_int_equal(frame(buf + mlen, n - mlen, &skip, &mlen), 0);
	assert_int_equal(mlen, strlen(ok));
}

/* Every prefix is incomplete, never malformed. */
static void split_anywhere(void **state)
{
	size_t skip, mlen;

	(void)state;
	for (size_t i = 0; i < strlen(invite); i++)
		assert_int_equal(frame(invite, i, &skip, &mlen), ENODATA);
}

/* RFC 5626 3.5.1: CRLFs before a message are skipped, alone they wait. */
static void keepalives(void **state)
{
	char buf[1024];
	size_t skip, mlen, n;

	(void)state;
	assert_int_equal(frame("\r\n\r\n", 4, &skip, &mlen), ENODATA);
	assert_int_equal(skip, 4);
	n = (size_t)snprintf(buf, sizeof(buf), "\r\n\r\n%s", ok);
	assert_int_equal(frame(buf, n, &skip, &mlen), 0);
	assert_int_equal(skip, 4);
	assert_int_equal(mlen, strlen(ok));
}

static void no_content_length_is_empty_body(void **state)
{
	static const char m[] = INVITE_HDR "\r\n" BODY;
	size_t skip, mlen;

	(void)state;
	assert_int_equal(frame(m, strlen(m), &skip, &mlen), 0);
	assert_int_equal(mlen, strlen(m) - strlen(BODY));
}

static void header_forms(void **state)
{
	static const char *ok_forms[] = {
		INVITE_HDR "content-length   :  36  \r\n\r\n" BODY,
		INVITE_HDR "L:36\r\n\r\n" BODY,
		/* A bare LF ends a line too, as libosip2 reads it. */
		"INVITE sip:x@h SIP/2.0\nl: 36\n\n" BODY,
		/* The same length twice is no contradiction. */
		INVITE_HDR "l: 36\r\nContent-Length: 36\r\n\r\n" BODY,
		/* A folded line is not a header of its own. */
		INVITE_HDR "Subject: a\r\n l: 99\r\nl: 36\r\n\r\n" BODY,
	};
	size_t skip, mlen;

	(void)state;
	for (size_t i = 0; i < sizeof(ok_forms) / sizeof(ok_forms[0]); i++) {
		assert_int_equal(frame(ok_forms[i], strlen(ok_forms[i]),
				       &skip, &mlen), 0);
		assert_int_equal(mlen, strlen(ok_forms[i]));
	}
}

static void garbage(void **state)
{
	static const char *bad[] = {
		/* A TLS ClientHello on the TCP port. */
		"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		" INVITE sip:x@h SIP/2.0\r\n\r\n",
		"INVITE sip:x@h SIP/2.0\r\nl: 12a\r\n\r\n",
		"INVITE sip:x@h SIP/2.0\r\nl: -1\r\n\r\n",
		"INVITE sip:x@h SIP/2.0\r\nl:\r\n\r\n",
		"INVITE sip:x@h SIP/2.0\r\nl: 1\r\nl: 2\r\n\r\nab",
		"INVITE sip:x@h SIP/2.0\r\nVia: a\rb\r\n\r\n",
	};
	size_t skip, mlen;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(frame(bad[i], strlen(bad[i]), &skip, &mlen),
				 EBADMSG);
	/* Known at the first line, before the blank line comes. */
	assert_int_equal(frame("HTTP/1.1 200 OK\r\n", 17, &skip, &mlen),
			 EBADMSG);
}

static void size_cap(void **state)
{
	char *big = malloc(SIP_MAX_MSG + 100);
	size_t skip, mlen, n;

	(void)state;
	assert_non_null(big);
	/* A body that would take it over the cap: refused at once. */
	n = (size_t)snprintf(big, 200, "%sContent-Length: %d\r\n\r\n",
			     INVITE_HDR, SIP_MAX_MSG);
	assert_int_equal(frame(big, n, &skip, &mlen), EMSGSIZE);
	n = (size_t)snprintf(big, 200, "%sl: 99999999999999999999\r\n\r\n",
			     INVITE_HDR);
	assert_int_equal(frame(big, n, &skip, &mlen), EMSGSIZE);
	/* Headers that never end. */
	n = (size_t)snprintf(big, 200, "%s", INVITE_HDR);
	while (n < SIP_MAX_MSG + 10) {
		memcpy(big + n, "X-Pad: aaaaaaaaaaaaaaaaaaaaaaa\r\n", 32);
		n += 32;
	}
	assert_int_equal(frame(big, n, &skip, &mlen), EMSGSIZE);
	/* Exactly at the cap is fine. */
	n = (size_t)snprintf(big, 200, "%sl: ", INVITE_HDR);
	{
		size_t hdr = n + 5 + 4, body = SIP_MAX_MSG - hdr;

		n += (size_t)snprintf(big + n, 20, "%05zu\r\n\r\n", body);
		assert_int_equal(n, hdr);
		memset(big + n, 'x', body);
		assert_int_equal(frame(big, n + body, &skip, &mlen), 0);
		assert_int_equal(mlen, SIP_MAX_MSG);
	}
	free(big);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(whole_messages),
		cmocka_unit_test(back_to_back),
		cmocka_unit_test(split_anywhere),
		cmocka_unit_test(keepalives),
		cmocka_unit_test(no_content_length_is_empty_body),
		cmocka_unit_test(header_forms),
		cmocka_unit_test(garbage),
		cmocka_unit_test(size_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
