/* tests/unit/test_sip.c  SDP, Reason and loopback calls between two UAs */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "sip/sip.h"
#include "util/util.h"

/* ---- SDP -------------------------------------------------------------- */

#define SDP_HEAD "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n"

struct sdp_case {
	const char *name;
	const char *body;
	int ours[4];
	unsigned nours;
	int err;
	int pt;
	const char *addr;
	uint16_t port;
	unsigned ptime;
};

static const struct sdp_case sdp_cases[] = {
	{ "PCMU only", SDP_HEAD "c=IN IP4 192.0.2.1\r\nt=0 0\r\n"
	  "m=audio 4000 RTP/AVP 0\r\n", { 0, 8 }, 2, 0, 0, "192.0.2.1",
	  4000, 20 },
	{ "PCMA only", SDP_HEAD "c=IN IP4 192.0.2.1\r\nt=0 0\r\n"
	  "m=audio 4000 RTP/AVP 8\r\na=ptime:30\r\n", { 0, 8 }, 2, 0, 8,
	  "192.0.2.1", 4000, 30 },
	{ "offer 0 8, ours 0 8", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
	  "m=audio 4000 RTP/AVP 0 8\r\n", { 0, 8 }, 2, 0, 0, "192.0.2.1",
	  4000, 20 },
	{ "offer 0 8, ours 8 0", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
	  "m=audio 4000 RTP/AVP 0 8\r\n", { 8, 0 }, 2, 0, 8, "192.0.2.1",
	  4000, 20 },
	{ "offer 8 0, ours 0 8", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
	  "m=audio 4000 RTP/AVP 8 0\r\n", { 0, 8 }, 2, 0, 0, "192.0.2.1",
	  4000, 20 },
	{ "offer 8 0, ours 8 0", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
	  "m=audio 4000 RTP/AVP 8 0\r\n", { 8, 0 }, 2, 0, 8, "192.0.2.1",
	  4000, 20 },
	{ "no common codec", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
	  "m=audio 4000 RTP/AVP 18 4\r\n", { 0, 8 }, 2, ENOENT, 0, NULL,
	  0, 0 },
	{ "PCMA wanted, PCMU offered", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
	  "m=audio 4000 RTP/AVP 0\r\n", { 8 }, 1, ENOENT, 0, NULL, 0, 0 },
	{ "PCMU by rtpmap name", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
	  "m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 PCMU/8000\r\n", { 0, 8 },
	  2, 0, 0, "192.0.2.1", 4000, 20 },
	{ "media-level c=", SDP_HEAD "t=0 0\r\nm=audio 5004 RTP/AVP 8\r\n"
	  "c=IN IP4 198.51.100.7\r\na=ptime:20\r\n", { 0, 8 }, 2, 0, 8,
	  "198.51.100.7", 5004, 20 },
	{ "port 0 (rejected stream)", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
	  "m=audio 0 RTP/AVP 0 8\r\n", { 0, 8 }, 2, ENOENT, 0, NULL, 0, 0 },
	{ "port 0 then a live stream", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
	  "m=audio 0 RTP/AVP 0\r\nm=audio 6000 RTP/AVP 8\r\n", { 0, 8 }, 2,
	  0, 8, "192.0.2.1", 6000, 20 },
	{ "video only", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
	  "m=video 4000 RTP/AVP 31\r\n", { 0, 8 }, 2, ENOENT, 0, NULL, 0, 0 },
	{ "missing c=", SDP_HEAD "t=0 0\r\nm=audio 4000 RTP/AVP 0\r\n",
	  { 0, 8 }, 2, EBADMSG, 0, NULL, 0, 0 },
	{ "garbage line", SDP_HEAD "c=IN IP4 192.0.2.1\r\nhello\r\n"
	  "m=audio 4000 RTP/AVP 0\r\n", { 0, 8 }, 2, EBADMSG, 0, NULL, 0, 0 },
	{ "no v= first", "c=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n",
	  { 0, 8 }, 2, EBADMSG, 0, NULL, 0, 0 },
	{ "bad port", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
	  "m=audio 70000 RTP/AVP 0\r\n", { 0, 8 }, 2, EBADMSG, 0, NULL, 0, 0 },
	{ "bad c= line", SDP_HEAD "c=IN\r\nm=audio 4000 RTP/AVP 0\r\n",
	  { 0, 8 }, 2, EBADMSG, 0, NULL, 0, 0 },
	{ "empty body", "", { 0, 8 }, 2, EBADMSG, 0, NULL, 0, 0 },
	{ "G722 first of ours", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
	  "m=audio 4000 RTP/AVP 0 8 9\r\n", { 9, 8, 0 }, 3, 0, 9,
	  "192.0.2.1", 4000, 20 },
	{ "G729 static, ours last", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
	  "m=audio 4000 RTP/AVP 18\r\na=ptime:40\r\n", { 9, 8, 0, 18 }, 4,
	  0, 18, "192.0.2.1", 4000, 40 },
	{ "G729 by rtpmap name", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
	  "m=audio 4000 RTP/AVP 97\r\na=rtpmap:97 G729/8000\r\n", { 18 },
	  1, 0, 18, "192.0.2.1", 4000, 20 },
	{ "G722 rtpmap at 8000", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
	  "m=audio 4000 RTP/AVP 9 0\r\na=rtpmap:9 G722/8000\r\n", { 9, 0 },
	  2, 0, 9, "192.0.2.1", 4000, 20 },
	{ "G722 not ours", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
	  "m=audio 4000 RTP/AVP 9\r\n", { 0, 8, 18 }, 3, ENOENT, 0, NULL,
	  0, 0 },
};

static void test_sdp_negotiate_table(void **state)
{
	size_t i;

	for (i = 0; i < TG_ARRAY_SIZE(sdp_cases); i++) {
		const struct sdp_case *c = &sdp_cases[i];
		struct sip_media m;
		int err;

		memset(&m, 0, sizeof(m));
		err = sip_sdp_negotiate(&m, c->body, strlen(c->body), c->ours,
					c->nours);
		if (err != c->err)
			fail_msg("%s: got %d, want %d", c->name, err, c->err);
		if (err)
			continue;
		if (m.pt != c->pt || m.port != c->port ||
		    strcmp(m.addr, c->addr) || m.ptime != c->ptime)
			fail_msg("%s: got pt %d %s:%u ptime %u", c->name, m.pt,
				 m.addr, m.port, m.ptime);
	}
}

/* ---- SDES (RFC 4568) ------------------------------------------------- */

#define RFC_KEY "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR"
#define GCM_KEY "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw=="

static void test_sdes_parse(void **state)
{
	static const struct {
		const char *line;
		int err;
		int suite;
		unsigned tag;
	} cases[] = {
		{ "1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY, 0,
		  SIP_SRTP_AES_CM_128_HMAC_SHA1_80, 1 },
		{ "7 AES_CM_128_HMAC_SHA1_32 inline:" RFC_KEY "|2^20", 0,
		  SIP_SRTP_AES_CM_128_HMAC_SHA1_32, 7 },
		{ "123456789 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY
		  "|1048576", 0, SIP_SRTP_AES_CM_128_HMAC_SHA1_80, 123456789 },
		{ "2 AEAD_AES_128_GCM inline:" GCM_KEY, 0,
		  SIP_SRTP_AEAD_AES_128_GCM, 2 },
		/* valid, but not for us */
		{ "1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY "|2^20|1:32",
		  ENOTSUP, 0, 0 },
		{ "1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY " KDR=1",
		  ENOTSUP, 0, 0 },
		{ "1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY ";inline:"
		  RFC_KEY, ENOTSUP, 0, 0 },
		{ "1 AES_256_CM_HMAC_SHA1_80 inline:" RFC_KEY, ENOTSUP, 0, 0 },
		/* malformed */
		{ "", EBADMSG, 0, 0 },
		{ "x AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY, EBADMSG, 0, 0 },
		{ "1234567890 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY,
		  EBADMSG, 0, 0 },
		{ "1 AES_CM_128_HMAC_SHA1_80", EBADMSG, 0, 0 },
		{ "1 AES_CM_128_HMAC_SHA1_80 inline:", EBADMSG, 0, 0 },
		{ "1 AES_CM_128_HMAC_SHA1_80 uri:" RFC_KEY, EBADMSG, 0, 0 },
		{ "1 AES_CM_128_HMAC_SHA1_80 inline:" GCM_KEY, EBADMSG, 0, 0 },
		{ "1 AEAD_AES_128_GCM inline:" RFC_KEY, EBADMSG, 0, 0 },
		{ "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkp",
		  EBADMSG, 0, 0 },
		{ "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVm!jkpPywj"
		  "NWhcYD0mXXtxaVBR", EBADMSG, 0, 0 },
		{ "1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY "|2^x",
		  EBADMSG, 0, 0 },
		{ "1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY "|1:", EBADMSG,
		  0, 0 },
		{ "1 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY "|", EBADMSG,
		  0, 0 },
	};
	struct sip_crypto c;
	const char *why;
	size_t i;

	for (i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		int err;

		why = NULL;
		err = sip_sdes_parse(&c, cases[i].line,
				     strlen(cases[i].line), &why);
		if (err != cases[i].err)
			fail_msg("'%s': got %d, want %d", cases[i].line, err,
				 cases[i].err);
		if (err) {
			assert_non_null(why);
			continue;
		}
		assert_int_equal(c.suite, cases[i].suite);
		assert_int_equal(c.tag, cases[i].tag);
	}
	assert_int_equal(sip_sdes_parse(&c, cases[0].line,
					strlen(cases[0].line), &why), 0);
	assert_int_equal(c.key[0], 61);
	assert_int_equal(c.key[29], 81);
	assert_int_equal(sip_sdes_parse(&c, cases[3].line,
					strlen(cases[3].line), &why), 0);
	for (i = 0; i < 28; i++)
		assert_int_equal(c.key[i], i);
	assert_int_equal(c.key[28], 0);
}

static void test_sdp_crypto(void **state)
{
	static const int pcmu[] = {0};
	struct sip_crypto ours[2];
	struct sip_media m;
	char buf[1024];
	const char *body;
	unsigned i;

	/* The first line we can use wins, whatever the tag; malformed and
	 * foreign ones before it are skipped. */
	body = SDP_HEAD "c=IN IP4 192.0.2.1\r\nt=0 0\r\n"
	       "m=audio 4000 RTP/SAVP 0\r\n"
	       "a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:" RFC_KEY "\r\n"
	       "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:short\r\n"
	       "a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:" RFC_KEY "\r\n"
	       "a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY "\r\n";
	memset(&m, 0, sizeof(m));
	assert_int_equal(sip_sdp_negotiate(&m, body, strlen(body), pcmu, 1),
			 0);
	assert_true(m.savp);
	assert_int_equal(m.crypto.suite, SIP_SRTP_AES_CM_128_HMAC_SHA1_32);
	assert_int_equal(m.crypto.tag, 3);

	/* RTP/AVP with crypto (best-effort SRTP peers); a session-level
	 * line means nothing. */
	body = SDP_HEAD "c=IN IP4 192.0.2.1\r\nt=0 0\r\n"
	       "a=crypto:9 AES_CM_128_HMAC_SHA1_80 inline:" RFC_KEY "\r\n"
	       "m=audio 4000 RTP/AVP 0\r\n";
	memset(&m, 0, sizeof(m));
	assert_int_equal(sip_sdp_negotiate(&m, body, strlen(body), pcmu, 1),
			 0);
	assert_false(m.savp);
	assert_int_equal(m.crypto.suite, SIP_SRTP_NONE);
	body = SDP_HEAD "c=IN IP4 192.0.2.1\r\nt=0 0\r\n"
	       "m=audio 4000 RTP/AVP 0\r\n"
	       "a=crypto:9 AEAD_AES_128_GCM inline:" GCM_KEY "\r\n";
	memset(&m, 0, sizeof(m));
	assert_int_equal(sip_sdp_negotiate(&m, body, strlen(body), pcmu, 1),
			 0);
	assert_false(m.savp);
	assert_int_equal(m.crypto.suite, SIP_SRTP_AEAD_AES_128_GCM);
	assert_int_equal(m.crypto.tag, 9);
	/* Not an audio profile of ours. */
	body = SDP_HEAD "c=IN IP4 192.0.2.1\r\nt=0 0\r\n"
	       "m=audio 4000 RTP/SAVPF 0\r\n";
	assert_int_equal(sip_sdp_negotiate(&m, body, strlen(body), pcmu, 1),
			 ENOENT);

	/* Print: SAVP and our lines, which parse back. */
	for (i = 0; i < 2; i++) {
		memset(&ours[i], 0, sizeof(ours[i]));
		ours[i].suite = i ? SIP_SRTP_AES_CM_128_HMAC_SHA1_32
				  : SIP_SRTP_AES_CM_128_HMAC_SHA1_80;
		ours[i].tag = i + 1;
		memset(ours[i].key, (int)(0xa0 + i), 30);
	}
	assert_int_equal(sip_sdp_print(buf, sizeof(buf), "203.0.113.9", 30000,
				       pcmu, 1, 101, 20, 7), 0);
	assert_int_equal(sip_sdp_add_crypto(buf, sizeof(buf), true, ours, 2),
			 0);
	assert_non_null(strstr(buf, "m=audio 30000 RTP/SAVP 0 101\r\n"));
	assert_non_null(strstr(buf, "a=crypto:1 AES_CM_128_HMAC_SHA1_80 "
				    "inline:"));
	assert_non_null(strstr(buf, "a=crypto:2 AES_CM_128_HMAC_SHA1_32 "
				    "inline:"));
	memset(&m, 0, sizeof(m));
	assert_int_equal(sip_sdp_negotiate(&m, buf, strlen(buf), pcmu, 1), 0);
	assert_true(m.savp);
	assert_int_equal(m.te_pt, 101);
	assert_int_equal(m.crypto.suite, SIP_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(m.crypto.tag, 1);
	assert_memory_equal(m.crypto.key, ours[0].key, 30);
	/* AVP with crypto, GCM's padded key. */
	ours[0].suite = SIP_SRTP_AEAD_AES_128_GCM;
	assert_int_equal(sip_sdp_print(buf, sizeof(buf), "203.0.113.9", 30000,
				       pcmu, 1, -1, 20, 7), 0);
	assert_int_equal(sip_sdp_add_crypto(buf, sizeof(buf), false, ours, 1),
			 0);
	assert_non_null(strstr(buf, "m=audio 30000 RTP/AVP 0\r\n"));
	memset(&m, 0, sizeof(m));
	assert_int_equal(sip_sdp_negotiate(&m, buf, strlen(buf), pcmu, 1), 0);
	assert_false(m.savp);
	assert_int_equal(m.crypto.suite, SIP_SRTP_AEAD_AES_128_GCM);
	assert_memory_equal(m.crypto.key, ours[0].key, 28);
	/* No room; an unknown suite. */
	assert_int_equal(sip_sdp_print(buf, sizeof(buf), "203.0.113.9", 30000,
				       pcmu, 1, -1, 20, 7), 0);
	assert_int_equal(sip_sdp_add_crypto(buf, strlen(buf) + 20, true, ours,
					    1), ENOSPC);
	ours[0].suite = 42;
	assert_int_equal(sip_sdp_add_crypto(buf, sizeof(buf), true, ours, 1),
			 EINVAL);
}

/* Hold (RFC 3264 8.4, RFC 2543 c=0.0.0.0): the media level wins. */
static void test_sdp_hold(void **state)
{
	static const struct {
		const char *body;
		bool hold;
		enum sip_dir dir;
	} cases[] = {
		{SDP_HEAD "c=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n",
		 false, SIP_DIR_SENDRECV},
		{SDP_HEAD "c=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n"
		 "a=sendrecv\r\n", false, SIP_DIR_SENDRECV},
		{SDP_HEAD "c=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n"
		 "a=sendonly\r\n", true, SIP_DIR_SENDONLY},
		{SDP_HEAD "c=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n"
		 "a=inactive\r\n", true, SIP_DIR_INACTIVE},
		{SDP_HEAD "c=IN IP4 192.0.2.1\r\na=recvonly\r\n"
		 "m=audio 4000 RTP/AVP 0\r\n", true, SIP_DIR_RECVONLY},
		{SDP_HEAD "c=IN IP4 192.0.2.1\r\na=inactive\r\n"
		 "m=audio 4000 RTP/AVP 0\r\na=sendrecv\r\n", false,
		 SIP_DIR_SENDRECV},
		/* RFC 2543 hold: it takes nothing (RFC 6337 5.3). */
		{SDP_HEAD "c=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n",
		 true, SIP_DIR_SENDONLY},
		{SDP_HEAD "c=IN IP4 0.0.0.0\r\nm=audio 4000 RTP/AVP 0\r\n"
		 "a=recvonly\r\n", true, SIP_DIR_INACTIVE},
		/* A second audio stream's direction is not the first's. */
		{SDP_HEAD "c=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0\r\n"
		 "m=audio 4002 RTP/AVP 0\r\na=inactive\r\n", false,
		 SIP_DIR_SENDRECV},
	};
	const int ours[] = {0, 8};
	size_t i;

	(void)state;
	for (i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		struct sip_media m;

		memset(&m, 0, sizeof(m));
		assert_int_equal(sip_sdp_negotiate(&m, cases[i].body,
						   strlen(cases[i].body),
						   ours, 2), 0);
		if (m.hold != cases[i].hold || m.dir != cases[i].dir)
			fail_msg("case %zu: hold %d dir %d", i, m.hold, m.dir);
		assert_int_equal(sip_media_receives(&m),
				 cases[i].dir == SIP_DIR_SENDRECV ||
				 cases[i].dir == SIP_DIR_RECVONLY);
	}
}

/* Negotiate @p body against @p ours; it must succeed. */
static void sdp_take(struct sip_media *m, const char *body, const int *ours,
		     unsigned n)
{
	memset(m, 0, sizeof(*m));
	assert_int_equal(sip_sdp_negotiate(m, body, strlen(body), ours, n), 0);
}

/* RFC 4856 2.1.9: annexb is yes unless the offer says no; a=ptime and
 * a=maxptime at media or session level. */
static void test_sdp_g729_annexb_ptime(void **state)
{
	static const int g729[] = { 18 };
	static const struct {
		const char *body;
		bool annexb, ptime_set;
		unsigned ptime, maxptime;
	} cases[] = {
		{ SDP_HEAD "c=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 18\r\n",
		  true, false, 20, 0 },
		{ SDP_HEAD "c=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 18\r\n"
		  "a=fmtp:18 annexb=no\r\na=ptime:30\r\na=maxptime:40\r\n",
		  false, true, 30, 40 },
		{ SDP_HEAD "c=IN IP4 192.0.2.1\r\na=maxptime:60\r\n"
		  "m=audio 4000 RTP/AVP 18\r\na=fmtp:18 annexb=yes\r\n",
		  true, false, 20, 60 },
		{ SDP_HEAD "c=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 96\r\n"
		  "a=rtpmap:96 G729/8000\r\na=fmtp:96 annexb=NO\r\n",
		  false, false, 20, 0 },
	};
	struct sip_media m;
	char buf[512];
	size_t i;

	(void)state;
	for (i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		sdp_take(&m, cases[i].body, g729, 1);
		assert_int_equal(m.pt, 18);
		assert_int_equal(m.annexb, cases[i].annexb);
		assert_int_equal(m.ptime_set, cases[i].ptime_set);
		assert_int_equal(m.ptime, cases[i].ptime);
		assert_int_equal(m.maxptime, cases[i].maxptime);
	}
	/* Ours: no Annex B, the longest packets we take. */
	assert_int_equal(sip_sdp_print(buf, sizeof(buf), "203.0.113.9", 30000,
				       (const int[]){ 9, 18, 0 }, 3, 101, 30,
				       7), 0);
	assert_non_null(strstr(buf, "m=audio 30000 RTP/AVP 9 18 0 101\r\n"));
	assert_non_null(strstr(buf, "a=rtpmap:9 G722/8000\r\n"));
	assert_non_null(strstr(buf, "a=rtpmap:18 G729/8000\r\n"
				    "a=fmtp:18 annexb=no\r\n"));
	assert_non_null(strstr(buf, "a=maxptime:60\r\na=ptime:30\r\n"));
	sdp_take(&m, buf, g729, 1);
	assert_false(m.annexb);
	assert_int_equal(m.ptime, 30);
}

static void test_sdp_print_roundtrip(void **state)
{
	static const int both[] = { 8, 0 };
	static const int pcmu[] = { 0 };
	struct sip_media m;
	char buf[512];

	assert_int_equal(sip_sdp_print(buf, sizeof(buf), "203.0.113.9", 30000,
				       both, 2, -1, 20, 42), 0);
	assert_non_null(strstr(buf, "o=tollgate 42 42 IN IP4 203.0.113.9\r\n"));
	assert_non_null(strstr(buf, "c=IN IP4 203.0.113.9\r\n"));
	assert_non_null(strstr(buf, "m=audio 30000 RTP/AVP 8 0\r\n"));
	assert_true(strstr(buf, "a=rtpmap:8 PCMA/8000") <
		    strstr(buf, "a=rtpmap:0 PCMU/8000"));
	assert_non_null(strstr(buf, "a=ptime:20\r\na=sendrecv\r\n"));
	/* What we print, we accept, with the answerer's preference. */
	assert_int_equal(sip_sdp_negotiate(&m, buf, strlen(buf), pcmu, 1), 0);
	assert_int_equal(m.pt, 0);
	assert_int_equal(m.port, 30000);
	assert_string_equal(m.addr, "203.0.113.9");
	/* Too small a buffer is refused, not truncated. */
	assert_int_equal(sip_sdp_print(buf, 60, "203.0.113.9", 30000, both, 2,
				       -1, 20, 42), ENOSPC);
	assert_int_equal(m.te_pt, -1);
}

/* T.38 D.2.3: a re-INVITE to fax (audio port 0 beside m=image), what we
 * answer to it, and offers we refuse or tone down. */
static void test_sdp_t38(void **state)
{
	static const char offer[] =
		"v=0\r\no=- 1 2 IN IP4 198.51.100.7\r\ns=-\r\n"
		"c=IN IP4 198.51.100.7\r\nt=0 0\r\n"
		"m=audio 0 RTP/AVP 0\r\n"
		"m=image 40000 udptl t38\r\n"
		"c=IN IP4 198.51.100.8\r\n"
		"a=T38FaxVersion:3\r\n"
		"a=T38MaxBitRate:33600\r\n"
		"a=T38FaxFillBitRemoval\r\n"
		"a=T38FaxRateManagement:transferredTCF\r\n"
		"a=T38FaxMaxBuffer:262\r\n"
		"a=T38FaxMaxDatagram:176\r\n"
		"a=T38FaxUdpEC:t38UDPFEC\r\n";
	static const int pcmu[] = { 0 };
	struct sip_t38 ours = { .version = 0, .max_bitrate = 14400,
				.transferred_tcf = true,
				.max_datagram = 400,
				.ec = SIP_T38_EC_REDUNDANCY };
	struct sip_t38 t, back;
	struct sip_media m;
	char buf[1024];
	char *p;

	(void)state;
	assert_int_equal(sip_sdp_t38_negotiate(&t, offer, strlen(offer),
					       &ours), 0);
	assert_string_equal(t.addr, "198.51.100.8");
	assert_int_equal(t.port, 40000);
	assert_int_equal(t.version, 0);
	assert_int_equal(t.max_bitrate, 14400);
	assert_false(t.fill_bit_removal);
	assert_true(t.transferred_tcf);
	assert_int_equal(t.max_buffer, 262);
	assert_int_equal(t.max_datagram, 176);
	assert_int_equal(t.ec, SIP_T38_EC_REDUNDANCY);
	/* The audio stream is disabled: no audio to negotiate. */
	assert_int_equal(sip_sdp_negotiate(&m, offer, strlen(offer), pcmu, 1),
			 ENOENT);
	/* Our answer: our own sizes, the negotiated rest; it reads back
	 * and sip_sdp_amend() can version it. */
	t.max_datagram = ours.max_datagram;
	t.max_buffer = 0;
	assert_int_equal(sip_sdp_t38_print(buf, sizeof(buf), "192.0.2.1",
					   30002, &t, 9), 0);
	assert_non_null(strstr(buf, "\r\nm=image 30002 udptl t38\r\n"));
	assert_non_null(strstr(buf, "\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n"));
	assert_non_null(strstr(buf, "\r\na=T38FaxMaxDatagram:400\r\n"));
	assert_null(strstr(buf, "T38FaxMaxBuffer"));
	assert_null(strstr(buf, "FillBitRemoval"));
	assert_int_equal(sip_sdp_amend(buf, sizeof(buf), 10, SIP_DIR_SENDRECV),
			 0);
	ours.version = 3;
	ours.max_bitrate = 0;
	assert_int_equal(sip_sdp_t38_negotiate(&back, buf, strlen(buf),
					       &ours), 0);
	assert_string_equal(back.addr, "192.0.2.1");
	assert_int_equal(back.port, 30002);
	assert_int_equal(back.version, 0);
	assert_int_equal(back.max_bitrate, 14400);
	assert_int_equal(back.max_datagram, 400);
	assert_int_equal(back.ec, SIP_T38_EC_REDUNDANCY);
	/* No EC offered: none answered.  Lower-case names and localTCF. */
	strcpy(buf, offer);
	p = strstr(buf, "a=T38FaxUdpEC");
	strcpy(p, "a=t38faxratemanagement:localTCF\r\n");
	assert_int_equal(sip_sdp_t38_negotiate(&t, buf, strlen(buf), &ours),
			 0);
	assert_int_equal(t.ec, SIP_T38_EC_NONE);
	assert_false(t.transferred_tcf);
	/* A refused image stream (port 0), or none at all. */
	strcpy(buf, offer);
	p = strstr(buf, "40000");
	memcpy(p, "00000", 5);
	assert_int_equal(sip_sdp_t38_negotiate(&t, buf, strlen(buf), &ours),
			 ENOENT);
	assert_int_equal(sip_sdp_print(buf, sizeof(buf), "192.0.2.1", 30000,
				       pcmu, 1, -1, 20, 1), 0);
	assert_int_equal(sip_sdp_t38_negotiate(&t, buf, strlen(buf), &ours),
			 ENOENT);
	/* udptl without t38, and no c= anywhere. */
	assert_int_equal(sip_sdp_t38_negotiate(&t,
		"v=0\r\nc=IN IP4 192.0.2.1\r\nm=image 4 udptl x\r\n", 44,
		&ours), ENOENT);
	assert_int_equal(sip_sdp_t38_negotiate(&t,
		"v=0\r\nm=image 4 udptl t38\r\n", 26, &ours), EBADMSG);
	assert_int_equal(sip_sdp_t38_print(buf, 100, "192.0.2.1", 30000, &t,
					   1), ENOSPC);
}

/* A changed session: the o= version moves on, the direction changes in
 * place, and what comes out still parses (RFC 3264 8). */
static void test_sdp_amend(void **state)
{
	static const int pcmu[] = { 0 };
	struct sip_media m;
	char buf[512], small[512];
	size_t len;

	(void)state;
	assert_int_equal(sip_sdp_print(buf, sizeof(buf), "203.0.113.9", 30000,
				       pcmu, 1, 101, 20, 42), 0);
	len = strlen(buf);
	assert_int_equal(sip_sdp_amend(buf, sizeof(buf), 1234567890123ull,
				       SIP_DIR_RECVONLY), 0);
	assert_non_null(strstr(buf, "o=tollgate 42 1234567890123 IN IP4 "
				    "203.0.113.9\r\n"));
	assert_non_null(strstr(buf, "\r\na=recvonly\r\n"));
	assert_null(strstr(buf, "sendrecv"));
	assert_int_equal(strlen(buf), len + 11);
	memset(&m, 0, sizeof(m));
	assert_int_equal(sip_sdp_negotiate(&m, buf, strlen(buf), pcmu, 1), 0);
	assert_int_equal(m.dir, SIP_DIR_RECVONLY);
	assert_int_equal(m.te_pt, 101);
	/* Back to sendrecv, a shorter version. */
	assert_int_equal(sip_sdp_amend(buf, sizeof(buf), 43, SIP_DIR_SENDRECV),
			 0);
	assert_non_null(strstr(buf, "o=tollgate 42 43 IN"));
	assert_non_null(strstr(buf, "\r\na=sendrecv\r\n"));
	assert_int_equal(strlen(buf), len);
	/* No room for a longer version: refused, untouched. */
	memcpy(small, buf, len + 1);
	assert_int_equal(sip_sdp_amend(small, len + 1, 4300, SIP_DIR_INACTIVE),
			 ENOSPC);
	assert_string_equal(small, buf);
	/* Not one of ours. */
	strcpy(small, SDP_HEAD "c=IN IP4 192.0.2.1\r\nm=audio 4000 RTP/AVP 0"
		      "\r\na=sendrecv\r\n");
	assert_int_equal(sip_sdp_amend(small, sizeof(small), 2,
				       SIP_DIR_INACTIVE), EBADMSG);
}

/* RFC 4733: telephone-event offered, answered and read back. */
static void test_sdp_telephone_event(void **state)
{
	static const int both[] = { 0, 8 };
	static const struct {
		const char *name, *body;
		int te_pt;
	} cases[] = {
		{ "te 101, no fmtp", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
		  "m=audio 4000 RTP/AVP 0 101\r\n"
		  "a=rtpmap:101 telephone-event/8000\r\n", 101 },
		{ "te 96 0-16", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
		  "m=audio 4000 RTP/AVP 8 96\r\n"
		  "a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\n",
		  96 },
		{ "te list 0-9,10,11", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
		  "m=audio 4000 RTP/AVP 0 100\r\n"
		  "a=rtpmap:100 telephone-event/8000\r\n"
		  "a=fmtp:100 0-9,10,11\r\n", 100 },
		{ "te without '#'", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
		  "m=audio 4000 RTP/AVP 0 101\r\n"
		  "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-10\r\n",
		  -1 },
		{ "te at 16000 only", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
		  "m=audio 4000 RTP/AVP 0 101\r\n"
		  "a=rtpmap:101 telephone-event/16000\r\n", -1 },
		{ "rtpmap but not in m=", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
		  "m=audio 4000 RTP/AVP 0\r\n"
		  "a=rtpmap:101 telephone-event/8000\r\n", -1 },
		{ "garbled fmtp", SDP_HEAD "c=IN IP4 192.0.2.1\r\n"
		  "m=audio 4000 RTP/AVP 0 101\r\n"
		  "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 x-y\r\n",
		  -1 },
	};
	struct sip_media m;
	char buf[512];
	size_t i;

	(void)state;
	for (i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		sdp_take(&m, cases[i].body, both, 2);
		if (m.te_pt != cases[i].te_pt)
			fail_msg("%s: te_pt %d", cases[i].name, m.te_pt);
	}
	assert_int_equal(sip_sdp_print(buf, sizeof(buf), "203.0.113.9", 30000,
				       both, 2, 101, 20, 42), 0);
	assert_non_null(strstr(buf, "m=audio 30000 RTP/AVP 0 8 101\r\n"));
	assert_non_null(strstr(buf, "a=rtpmap:101 telephone-event/8000\r\n"
				    "a=fmtp:101 0-15\r\n"));
	assert_int_equal(sip_sdp_negotiate(&m, buf, strlen(buf), both, 2), 0);
	assert_int_equal(m.te_pt, 101);
	/* The audio codec's own payload type cannot double as events. */
	assert_int_equal(sip_sdp_print(buf, sizeof(buf), "203.0.113.9", 30000,
				       both, 2, 8, 20, 42), EINVAL);
}

static void test_dtmf_relay_decode(void **state)
{
	static const struct {
		const char *body;
		int err;
		char digit;
		unsigned ms;
	} cases[] = {
		{ "Signal=5\r\nDuration=160\r\n", 0, '5', 160 },
		{ "Duration=100\nSignal=#\n", 0, '#', 100 },
		{ "Signal = *\r\nDuration = 80", 0, '*', 80 },
		{ "signal=a\r\n", 0, 'A', 250 },
		{ "Signal=16\r\n", EBADMSG, 0, 0 },
		{ "Signal=\r\nDuration=160\r\n", EBADMSG, 0, 0 },
		{ "Signal=x\r\n", EBADMSG, 0, 0 },
		{ "Duration=160\r\n", EBADMSG, 0, 0 },
		{ "", EBADMSG, 0, 0 },
	};
	unsigned ms;
	size_t i;
	char d;

	(void)state;
	for (i = 0; i < TG_ARRAY_SIZE(cases); i++) {
		d = 0;
		ms = 0;
		assert_int_equal(sip_dtmf_relay_decode(cases[i].body,
						       strlen(cases[i].body),
						       &d, &ms), cases[i].err);
		if (cases[i].err)
			continue;
		assert_int_equal(d, cases[i].digit);
		assert_int_equal(ms, cases[i].ms);
	}
}

/* ---- Reason ----------------------------------------------------------- */

static void test_geolocation_decode(void **state)
{
	char uri[64];

	(void)state;
	assert_int_equal(sip_geolocation_decode(
				 "<https://lis.example/loc/8f2c>", uri,
				 sizeof(uri)), 0);
	assert_string_equal(uri, "https://lis.example/loc/8f2c");
	/* By value first, then a reference: the reference is what we pass
	 * on; parameters are skipped. */
	assert_int_equal(sip_geolocation_decode(
				 "<cid:a@b>;inserted-by=x, <sips:loc@lis.example>"
				 ";routing-allowed=yes", uri, sizeof(uri)), 0);
	assert_string_equal(uri, "sips:loc@lis.example");
	assert_int_equal(sip_geolocation_decode("<cid:a@b>", uri, sizeof(uri)),
			 ENOENT);
	assert_int_equal(sip_geolocation_decode("<ftp://x/y>", uri,
						sizeof(uri)), ENOENT);
	assert_int_equal(sip_geolocation_decode("https://no-brackets", uri,
						sizeof(uri)), EBADMSG);
	assert_int_equal(sip_geolocation_decode("<https://unterminated", uri,
						sizeof(uri)), EBADMSG);
	assert_int_equal(sip_geolocation_decode("<https://a b>", uri,
						sizeof(uri)), EBADMSG);
	assert_int_equal(sip_geolocation_decode("", uri, sizeof(uri)),
			 EBADMSG);
	/* A usable reference is kept whatever follows it, and one that
	 * cannot be carried gives way to the next. */
	assert_int_equal(sip_geolocation_decode("<https://a/b>, junk", uri,
						sizeof(uri)), 0);
	assert_string_equal(uri, "https://a/b");
	assert_int_equal(sip_geolocation_decode(
				 "<cid:x@y>;p=\"a,b\", <https://a/c>", uri,
				 sizeof(uri)), 0);
	assert_string_equal(uri, "https://a/c");
	assert_int_equal(sip_geolocation_decode("<https://a b>, <sip:l@x>",
						uri, sizeof(uri)), 0);
	assert_string_equal(uri, "sip:l@x");
	/* Longer than the buffer: refused, not cut. */
	assert_int_equal(sip_geolocation_decode(
				 "<https://lis.example/a-very-long-path/that/"
				 "does/not/fit/in/sixty-four/bytes>", uri,
				 sizeof(uri)), EBADMSG);
}

static void test_pai_decode(void **state)
{
	char out[64];
	bool num;

	(void)state;
	out[0] = '\0';
	num = false;
	assert_int_equal(sip_pai_decode("<sip:2125550042@pbx>", out,
					sizeof(out), &num), 0);
	assert_string_equal(out, "2125550042");
	assert_true(num);
	/* The tel: identity wins over the sip: one. */
	out[0] = '\0';
	num = false;
	assert_int_equal(sip_pai_decode("\"Al, <x>\" <sip:alice@pbx>, "
					"<tel:+12125550043;ext=1>", out,
					sizeof(out), &num), 1);
	assert_string_equal(out, "+12125550043");
	/* A numeric sip: user beats a name; anonymous is nobody. */
	out[0] = '\0';
	num = false;
	assert_int_equal(sip_pai_decode("<sip:alice@pbx>, <sip:2001@pbx>",
					out, sizeof(out), &num), 0);
	assert_string_equal(out, "2001");
	out[0] = '\0';
	num = false;
	assert_int_equal(sip_pai_decode("<sip:anonymous@anonymous.invalid>",
					out, sizeof(out), &num), ENOENT);
	assert_int_equal(sip_pai_decode("garbage", out, sizeof(out), &num),
			 ENOENT);
	/* Too long for the buffer: not taken, not cut. */
	assert_int_equal(sip_pai_decode("<sip:1234567890123456789012345@x>",
					out, 16, &num), ENOENT);
}

static void test_reason_decode(void **state)
{
	struct sip_reason r;
	char text[64];
	const char *v;

	v = "Q.850;cause=17;text=\"User busy\"";
	assert_int_equal(sip_reason_decode(&r, text, sizeof(text), v,
					   strlen(v)), 0);
	assert_int_equal(r.cause, 17);
	assert_string_equal(r.text, "User busy");

	v = "q.850 ; cause = 16 ; text = \"Normal \\\"clearing\\\"\"";
	assert_int_equal(sip_reason_decode(&r, text, sizeof(text), v,
					   strlen(v)), 0);
	assert_int_equal(r.cause, 16);
	assert_string_equal(r.text, "Normal \"clearing\"");

	v = "SIP;cause=200;text=\"Call completed elsewhere\", "
	    "Q.850;cause=26";
	assert_int_equal(sip_reason_decode(&r, text, sizeof(text), v,
					   strlen(v)), 0);
	assert_int_equal(r.cause, 26);
	assert_null(r.text);

	v = "SIP;cause=487";
	assert_int_equal(sip_reason_decode(&r, text, sizeof(text), v,
					   strlen(v)), ENOENT);
	assert_int_equal(r.cause, 0);

	/* RFC 4411: a preemption value alone reads as Q.850 cause 8; with
	 * a Q.850 value, that one's cause counts and the flag stays. */
	v = "preemption ;cause=4 ;text=\"Non-IP Preemption\"";
	assert_int_equal(sip_reason_decode(&r, text, sizeof(text), v,
					   strlen(v)), 0);
	assert_int_equal(r.cause, 8);
	assert_true(r.preemption);
	v = "preemption;cause=1, Q.850;cause=8;text=\"Preemption\"";
	assert_int_equal(sip_reason_decode(&r, text, sizeof(text), v,
					   strlen(v)), 0);
	assert_int_equal(r.cause, 8);
	assert_true(r.preemption);
	assert_string_equal(r.text, "Preemption");
	v = "preemption;cause=9";
	assert_int_equal(sip_reason_decode(&r, text, sizeof(text), v,
					   strlen(v)), ENOENT);
	v = "Q.850;cause=16";
	assert_int_equal(sip_reason_decode(&r, text, sizeof(text), v,
					   strlen(v)), 0);
	assert_false(r.preemption);

	v = "Q.850;cause=abc";
	assert_int_equal(sip_reason_decode(&r, text, sizeof(text), v,
					   strlen(v)), EBADMSG);
	v = "Q.850;cause=16;text=\"unterminated";
	assert_int_equal(sip_reason_decode(&r, text, sizeof(text), v,
					   strlen(v)), EBADMSG);
	/* Text longer than the buffer is cut, not overrun. */
	v = "Q.850;cause=34;text=\"No circuit/channel available\"";
	assert_int_equal(sip_reason_decode(&r, text, 8, v, strlen(v)), 0);
	assert_string_equal(r.text, "No circ");
}

/* ---- loopback calls ------------------------------------------------------ */

#define MAX_EV 16

enum b_mode {
	B_RING_ANSWER, /* 180, then 200 */
	B_BUSY,        /* 486 + Reason 17 */
	B_RING,        /* 180 and wait */
	B_EARLY,       /* 183 with SDP, then 200 */
	B_ANSWER_HUP,  /* 200, then hang up at once with cause 16 */
	B_TIMER,       /* a session timer of 2 s (Min-SE 1), then 200 */
};

/* ---- addressing behind NAT (sip/net.c) -------------------------------- */

static struct sockaddr_storage sa_of(const char *a)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(a, ':')) {
		ss.ss_family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, a,
			&((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
	} else {
		ss.ss_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, a,
			&((struct sockaddr_in *)&ss)->sin_addr), 1);
	}
	return ss;
}

static void test_net_match(void **state)
{
	static const struct {
		const char *net, *addr;
		bool in;
	} cases[] = {
		{"10.0.0.0/8", "10.200.1.2", true},
		{"10.0.0.0/8", "11.0.0.1", false},
		{"192.168.1.0/24", "192.168.1.255", true},
		{"192.168.1.0/24", "192.168.2.1", false},
		{"172.16.0.0/12", "172.31.255.1", true},
		{"172.16.0.0/12", "172.32.0.1", false},
		{"192.0.2.7", "192.0.2.7", true},
		{"192.0.2.7", "192.0.2.8", false},
		{"0.0.0.0/0", "203.0.113.1", true},
		{"10.0.0.0/8", "::ffff:10.0.0.1", false}, /* family */
		{"fd00::/8", "fd12:3456::1", true},
		{"fd00::/8", "fe80::1", false},
		{"2001:db8::/33", "2001:db8:7fff::1", true},
		{"2001:db8::/33", "2001:db8:8000::1", false},
		{"::1", "::1", true},
		{"::1", "127.0.0.1", false},
	};
	static const char *const bad[] = {
		"", "10.0.0.0/33", "10.0.0.0/", "10.0.0/8", "fd00::/129",
		"example.com", "10.0.0.0/8x", "1.2.3.4:5060",
	};
	struct sip_net net;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct sockaddr_storage ss = sa_of(cases[i].addr);

		assert_int_equal(sip_net_parse(&net, cases[i].net), 0);
		if (sip_net_match(&net, (struct sockaddr *)&ss) != cases[i].in)
			fail_msg("%s in %s: want %d", cases[i].addr,
				 cases[i].net, cases[i].in);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (sip_net_parse(&net, bad[i]) != EINVAL)
			fail_msg("'%s' parsed", bad[i]);
}

/* Who is told which address: the bound one inside local_nets, the
 * external one (SDP: the media one) outside, of the same family only. */
static void test_nat_addr(void **state)
{
	struct sip_net nets[2];
	struct sip_nat_cfg nc = {
		.external_addr = "198.51.100.7",
		.external_media_addr = "198.51.100.8",
		.local_nets = nets,
		.nlocal = 2,
	};
	struct sockaddr_storage lan = sa_of("192.168.1.20"),
				lan2 = sa_of("10.9.9.9"),
				wan = sa_of("203.0.113.5"),
				v6 = sa_of("2001:db8::5");
	const char *local = "192.168.1.2";

	assert_int_equal(sip_net_parse(&nets[0], "192.168.1.0/24"), 0);
	assert_int_equal(sip_net_parse(&nets[1], "10.0.0.0/8"), 0);
	assert_string_equal(sip_nat_addr(&nc, (struct sockaddr *)&lan, local,
					 false), local);
	assert_string_equal(sip_nat_addr(&nc, (struct sockaddr *)&lan2, local,
					 true), local);
	assert_string_equal(sip_nat_addr(&nc, (struct sockaddr *)&wan, local,
					 false), "198.51.100.7");
	assert_string_equal(sip_nat_addr(&nc, (struct sockaddr *)&wan, local,
					 true), "198.51.100.8");
	/* An IPv4 mapping means nothing to an IPv6 peer. */
	assert_string_equal(sip_nat_addr(&nc, (struct sockaddr *)&v6,
					 "2001:db8::1", false), "2001:db8::1");
	/* Media falls back on external_address. */
	nc.external_media_addr = "";
	assert_string_equal(sip_nat_addr(&nc, (struct sockaddr *)&wan, local,
					 true), "198.51.100.7");
	/* No external address: everyone gets the local one. */
	nc.external_addr = NULL;
	assert_string_equal(sip_nat_addr(&nc, (struct sockaddr *)&wan, local,
					 false), local);
	/* No local nets: everyone is outside. */
	nc.external_addr = "198.51.100.7";
	nc.nlocal = 0;
	assert_string_equal(sip_nat_addr(&nc, (struct sockaddr *)&lan, local,
					 false), "198.51.100.7");
}

struct peer {
	struct sip_ua *ua;
	struct sip_leg *leg;
	enum sip_leg_event_type ev[MAX_EV];
	int status[MAX_EV];
	int cause[MAX_EV];
	struct sip_media media[MAX_EV];
	bool has_media[MAX_EV];
	unsigned nev;
	unsigned trying; /* SIP_LEG_TRYING events, kept apart */
	bool closed;
	unsigned invites;
	int rejected;
	bool authorize;
	enum b_mode mode;
	int hangup_on;  /* A: hang up on this event type, -1 never */
	int hangup_cause;
	uint16_t media_port;
	struct sip_invite_info info;
	char from_user[64];
	char from_display[64];
	char ruri_user[64];
	char diversion[64], diversion_reason[32]; /* B: as received */
	const char *div_out, *div_reason_out;     /* A: to send */
	const char *to_uri;                       /* A: R-URI instead */
	unsigned session_expires;                 /* A: to ask for */
	const char *pidf;                         /* A: a PIDF-LO to send */
	int srtp_offer;                           /* A: enum sip_srtp_offer */
	bool srtp_answer;                         /* B: answer a=crypto */
	char offer_addr[64];                      /* B: the offer's c= */
};

struct harness {
	struct event_base *base;
	struct event *watchdog;
	struct event *poll;
	bool timed_out;
	bool (*done)(struct harness *);
	struct peer a, b;
	long live0;
};

static void on_leg_event(struct sip_leg *leg, const struct sip_leg_event *ev,
			 void *arg)
{
	struct peer *p = arg;
	unsigned i = p->nev;

	assert_ptr_equal(leg, p->leg);
	assert_false(p->closed); /* CLOSED is the last event */
	if (ev->type == SIP_LEG_TRYING) {
		/* Counted apart: the sequences below are of the others. */
		assert_int_equal(ev->status, 100);
		assert_int_equal(p->nev, 0);
		p->trying++;
		return;
	}
	if (i < MAX_EV) {
		p->ev[i] = ev->type;
		p->status[i] = ev->status;
		p->cause[i] = ev->reason.cause;
		p->has_media[i] = ev->media != NULL;
		if (ev->media)
			p->media[i] = *ev->media;
		p->nev++;
	}
	if (ev->type == SIP_LEG_CLOSED) {
		p->closed = true;
		return;
	}
	if ((int)ev->type == p->hangup_on) {
		struct sip_reason r = {p->hangup_cause, "test", false};

		/* Safe from inside a handler, and idempotent. */
		assert_int_equal(sip_leg_hangup(leg, 0, &r), 0);
		assert_int_equal(sip_leg_hangup(leg, 0, &r), 0);
	}
}

static void on_invite(struct sip_leg *leg, const struct sip_invite_info *info,
		      void *arg)
{
	struct peer *p = arg;
	struct sip_reason busy = {17, "User busy", false};

	p->invites++;
	p->leg = leg; /* the reference is ours now */
	p->info = *info;
	tg_strlcpy(p->offer_addr, info->offer ? info->offer->addr : "",
		   sizeof(p->offer_addr));
	tg_strlcpy(p->from_user, info->from_user, sizeof(p->from_user));
	tg_strlcpy(p->from_display, info->from_display,
		   sizeof(p->from_display));
	tg_strlcpy(p->ruri_user, info->ruri_user, sizeof(p->ruri_user));
	tg_strlcpy(p->diversion, info->diversion, sizeof(p->diversion));
	tg_strlcpy(p->diversion_reason, info->diversion_reason,
		   sizeof(p->diversion_reason));
	sip_leg_set_handler(leg, on_leg_event, p);
	sip_leg_set_local_media(leg, "127.0.0.1", p->media_port);
	if (p->srtp_answer)
		assert_int_equal(sip_leg_set_srtp(leg, true), 0);
	switch (p->mode) {
	case B_RING_ANSWER:
		assert_int_equal(sip_leg_reply(leg, 180, false, NULL), 0);
		assert_int_equal(sip_leg_answer(leg), 0);
		/* A second answer is a state error, not a second 200. */
		assert_int_equal(sip_leg_answer(leg), EPROTO);
		break;
	case B_BUSY:
		assert_int_equal(sip_leg_reply(leg, 486, false, &busy), 0);
		break;
	case B_RING:
		assert_int_equal(sip_leg_reply(leg, 180, false, NULL), 0);
		break;
	case B_EARLY:
		assert_int_equal(sip_leg_reply(leg, 183, true, NULL), 0);
		assert_int_equal(sip_leg_answer(leg), 0);
		break;
	case B_TIMER:
		assert_int_equal(sip_leg_set_timer(leg, 2, 1), 0);
		assert_int_equal(sip_leg_answer(leg), 0);
		break;
	case B_ANSWER_HUP: {
		struct sip_reason r = {16, "Normal call clearing", false};

		assert_int_equal(sip_leg_answer(leg), 0);
		/* Before the ACK: the BYE must wait for it (RFC 3261 15). */
		assert_int_equal(sip_leg_hangup(leg, 0, &r), 0);
		break;
	}
	}
}

static bool on_authorize(const struct sockaddr *src, socklen_t len,
			 const char *method, void *arg)
{
	struct peer *p = arg;

	return p->authorize;
}

static void on_rejected(const struct sip_invite_info *info, int status,
			void *arg)
{
	struct peer *p = arg;

	p->rejected = status;
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct harness *h = arg;

	h->timed_out = true;
	event_base_loopexit(h->base, NULL);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct harness *h = arg;

	if (h->done && h->done(h))
		event_base_loopbreak(h->base);
}

static int ua_open(struct peer *p, struct event_base *base, const int *codecs,
		   unsigned n)
{
	struct sip_ua_config cfg = {
		.bind_addr = "127.0.0.1",
		.port = 0,
		.user_agent = "Tollgate-test",
		.codecs = codecs,
		.ncodecs = n,
		.ptime = 20,
		.invite = on_invite,
		.authorize = on_authorize,
		.rejected = on_rejected,
		.arg = p,
	};

	p->authorize = true;
	p->hangup_on = -1;
	return sip_ua_alloc(&p->ua, base, &cfg);
}

static int setup(void **state)
{
	static const int a_codecs[] = { 0, 8 };
	static const int b_codecs[] = { 8, 0 };
	struct harness *h = calloc(1, sizeof(*h));
	struct timeval wd = { 5, 0 }, tick = { 0, 5000 };

	assert_non_null(h);
	h->live0 = obj_live_count();
	h->base = event_base_new();
	assert_non_null(h->base);
	h->watchdog = evtimer_new(h->base, on_watchdog, h);
	h->poll = event_new(h->base, -1, EV_PERSIST, on_poll, h);
	event_add(h->watchdog, &wd);
	event_add(h->poll, &tick);
	assert_int_equal(ua_open(&h->a, h->base, a_codecs, 2), 0);
	assert_int_equal(ua_open(&h->b, h->base, b_codecs, 2), 0);
	assert_int_not_equal(sip_ua_port(h->a.ua), 0);
	h->a.media_port = 40000;
	h->b.media_port = 40002;
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct harness *h = *state;

	obj_deref(h->a.leg);
	obj_deref(h->b.leg);
	sip_ua_free(h->a.ua);
	sip_ua_free(h->b.ua);
	event_free(h->watchdog);
	event_free(h->poll);
	event_base_free(h->base);
	/* Every leg and its transactions' references are gone. */
	assert_int_equal(obj_live_count(), h->live0);
	free(h);
	return 0;
}

static void run(struct harness *h, bool (*done)(struct harness *))
{
	h->done = done;
	event_base_dispatch(h->base);
	if (h->timed_out)
		fail_msg("watchdog: the exchange did not finish in 5 s");
}

static void addr_of(struct sockaddr_in *sin, uint16_t port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

static void call_b(struct harness *h, const char *to)
{
	struct sockaddr_in dst;
	struct sip_call_params p = {
		.from_user = "5550123",
		.from_display = "Alice \"A\" Smith",
		.to_user = to,
		.to_uri = h->a.to_uri,
		.diversion = h->a.div_out,
		.diversion_reason = h->a.div_reason_out,
		.emergency = h->a.pidf != NULL,
		.pai_user = h->a.pidf ? "+12125550911" : NULL,
		.pidf = h->a.pidf,
		.pidf_id = "zone-hq",
		.media_addr = "127.0.0.1",
		.media_port = h->a.media_port,
		.session_expires = h->a.session_expires,
		.min_se = h->a.session_expires ? 1 : 0,
		.srtp = h->a.srtp_offer,
	};

	addr_of(&dst, sip_ua_port(h->b.ua));
	assert_int_equal(sip_leg_invite(&h->a.leg, h->a.ua,
					(struct sockaddr *)&dst, sizeof(dst),
					&p, on_leg_event, &h->a), 0);
	assert_int_equal(sip_leg_codec(h->a.leg), -1);
	assert_non_null(sip_leg_call_id(h->a.leg));
}

static bool both_closed(struct harness *h)
{
	return h->a.closed && h->b.closed;
}

static bool a_closed(struct harness *h)
{
	return h->a.closed;
}

static void expect_events(const struct peer *p,
			  const enum sip_leg_event_type *want, unsigned n)
{
	unsigned i;

	if (p->nev != n)
		fail_msg("got %u events, want %u (first %d)", p->nev, n,
			 p->nev ? (int)p->ev[0] : -1);
	for (i = 0; i < n; i++)
		if (p->ev[i] != want[i])
			fail_msg("event %u is %d, want %d", i, p->ev[i],
				 want[i]);
}

/* A hangs up @p tv after the answer (a session outlives refreshes). */
static void on_hup_timer(evutil_socket_t fd, short what, void *arg)
{
	struct harness *h = arg;
	struct sip_reason r = {16, "test", false};

	(void)fd;
	(void)what;
	assert_int_equal(sip_leg_hangup(h->a.leg, 0, &r), 0);
}

static void timer_call(struct harness *h, unsigned a_se)
{
	static const enum sip_leg_event_type a_want[] = {
		SIP_LEG_ANSWERED, SIP_LEG_CLOSED };
	static const enum sip_leg_event_type b_want[] = {
		SIP_LEG_ANSWERED, SIP_LEG_BYE, SIP_LEG_CLOSED };
	struct timeval tv = { 3, 500000 }, wd = { 6, 0 };
	struct event *hup = evtimer_new(h->base, on_hup_timer, h);

	h->b.mode = B_TIMER;
	h->a.session_expires = a_se;
	call_b(h, "5550100");
	event_add(hup, &tv);
	event_add(h->watchdog, &wd);
	run(h, both_closed);
	event_free(hup);
	/* Past the 2 s interval: the refreshes kept it up, and the call
	 * ended by A's BYE (cause 16), not a timer's (102). */
	expect_events(&h->a, a_want, 2);
	expect_events(&h->b, b_want, 3);
	assert_int_equal(h->b.cause[1], 16);
}

/* RFC 4028 between two of our UAs: A asks, B takes 2 s and leaves the
 * refresh to A (it supports timer), A refreshes with UPDATE. */
static void test_session_timer_uac_refreshes(void **state)
{
	timer_call(*state, 2);
}

/* A asks for nothing: B runs the timer and refreshes itself. */
static void test_session_timer_uas_refreshes(void **state)
{
	timer_call(*state, 0);
}

static void test_call_answer_bye(void **state)
{
	static const enum sip_leg_event_type a_want[] = {
		SIP_LEG_PROGRESS, SIP_LEG_ANSWERED, SIP_LEG_CLOSED };
	static const enum sip_leg_event_type b_want[] = {
		SIP_LEG_ANSWERED, SIP_LEG_BYE, SIP_LEG_CLOSED };
	struct harness *h = *state;

	h->b.mode = B_RING_ANSWER;
	h->a.hangup_on = SIP_LEG_ANSWERED;
	h->a.hangup_cause = 16;
	call_b(h, "5550100");
	run(h, both_closed);

	expect_events(&h->a, a_want, 3);
	/* B's UA sent 100 Trying before its 180: a call control's
	 * per-attempt timer hears of it. */
	assert_int_equal(h->a.trying, 1);
	assert_int_equal(h->a.status[0], 180);
	assert_false(h->a.has_media[0]);
	/* A offered 0 8; B prefers PCMA, so both sides run PCMA. */
	assert_true(h->a.has_media[1]);
	assert_int_equal(h->a.media[1].pt, 8);
	assert_int_equal(h->a.media[1].port, 40002);
	assert_string_equal(h->a.media[1].addr, "127.0.0.1");
	assert_int_equal(sip_leg_codec(h->a.leg), 8);

	assert_int_equal(h->b.invites, 1);
	assert_string_equal(h->b.ruri_user, "5550100");
	assert_string_equal(h->b.from_user, "5550123");
	assert_string_equal(h->b.from_display, "Alice \"A\" Smith");
	assert_string_equal(h->b.diversion, "");
	assert_int_equal(sip_leg_codec(h->b.leg), 8);
	expect_events(&h->b, b_want, 3);
	assert_int_equal(h->b.cause[1], 16);
	assert_string_equal(sip_leg_call_id(h->a.leg),
			    sip_leg_call_id(h->b.leg));
}

/* SDES: A offers RTP/SAVP with two lines, B answers the first with a
 * key of its own; each leg's tx key is the other's rx key. */
static void test_call_srtp(void **state)
{
	static const enum sip_leg_event_type a_want[] = {
		SIP_LEG_PROGRESS, SIP_LEG_ANSWERED, SIP_LEG_CLOSED };
	struct harness *h = *state;
	struct sip_crypto atx, arx, btx, brx;

	h->a.srtp_offer = SIP_SRTP_OFFER_SAVP;
	h->b.srtp_answer = true;
	h->b.mode = B_RING_ANSWER;
	h->a.hangup_on = SIP_LEG_ANSWERED;
	h->a.hangup_cause = 16;
	call_b(h, "5550100");
	run(h, both_closed);
	expect_events(&h->a, a_want, 3);
	assert_true(h->a.media[1].savp);
	assert_int_equal(h->a.media[1].crypto.suite,
			 SIP_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(sip_leg_srtp(h->a.leg, &atx, &arx), 0);
	assert_int_equal(sip_leg_srtp(h->b.leg, &btx, &brx), 0);
	assert_int_equal(atx.suite, SIP_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(atx.tag, 1);
	assert_int_equal(btx.tag, 1);
	assert_memory_equal(atx.key, brx.key, 30);
	assert_memory_equal(btx.key, arx.key, 30);
	assert_memory_not_equal(atx.key, btx.key, 30);
	/* B's leg got A's offer: SAVP, its first line. */
	assert_true(h->b.info.offer->savp);
	/* Only an inbound leg answers a=crypto. */
	assert_int_equal(sip_leg_set_srtp(h->a.leg, true), EINVAL);
}

/* A plain answer to RTP/SAVP fails the leg (488, and a BYE); to RTP/AVP
 * with a=crypto it is plain RTP. */
static void test_call_srtp_plain_answer(void **state)
{
	static const enum sip_leg_event_type a_want[] = {
		SIP_LEG_PROGRESS, SIP_LEG_FAILED, SIP_LEG_CLOSED };
	static const enum sip_leg_event_type b_want[] = {
		SIP_LEG_ANSWERED, SIP_LEG_BYE, SIP_LEG_CLOSED };
	struct harness *h = *state;
	struct sip_crypto tx, rx;

	h->a.srtp_offer = SIP_SRTP_OFFER_SAVP;
	h->b.mode = B_RING_ANSWER;
	call_b(h, "5550100");
	run(h, both_closed);
	expect_events(&h->a, a_want, 3);
	assert_int_equal(h->a.status[1], 488);
	expect_events(&h->b, b_want, 3);
	/* B had an offer it could answer, but was not told to. */
	assert_int_equal(sip_leg_srtp(h->b.leg, &tx, &rx), ENOENT);
}

static void test_call_srtp_best_effort_plain(void **state)
{
	static const enum sip_leg_event_type a_want[] = {
		SIP_LEG_PROGRESS, SIP_LEG_ANSWERED, SIP_LEG_CLOSED };
	struct harness *h = *state;
	struct sip_crypto tx, rx;

	h->a.srtp_offer = SIP_SRTP_OFFER_AVP;
	h->b.mode = B_RING_ANSWER;
	h->a.hangup_on = SIP_LEG_ANSWERED;
	h->a.hangup_cause = 16;
	call_b(h, "5550100");
	run(h, both_closed);
	expect_events(&h->a, a_want, 3);
	assert_false(h->b.info.offer->savp);
	assert_int_equal(h->b.info.offer->crypto.suite,
			 SIP_SRTP_AES_CM_128_HMAC_SHA1_80);
	assert_int_equal(sip_leg_srtp(h->a.leg, &tx, &rx), ENOENT);
}

/* A Diversion header goes out and comes back in as number and reason; a
 * whole R-URI (ENUM's) reaches the callee as its user. */
static void test_call_diversion_and_uri(void **state)
{
	struct harness *h = *state;
	char uri[96];

	snprintf(uri, sizeof(uri), "sip:+12125554005@127.0.0.1:%u",
		 (unsigned)sip_ua_port(h->b.ua));
	h->b.mode = B_RING_ANSWER;
	h->a.hangup_on = SIP_LEG_ANSWERED;
	h->a.hangup_cause = 16;
	h->a.div_out = "+12125551000";
	h->a.div_reason_out = "user-busy";
	h->a.to_uri = uri;
	call_b(h, NULL);
	run(h, both_closed);
	assert_int_equal(h->b.invites, 1);
	assert_string_equal(h->b.ruri_user, "+12125554005");
	assert_string_equal(h->b.diversion, "+12125551000");
	assert_string_equal(h->b.diversion_reason, "user-busy");
}

/* An emergency INVITE: SDP and PIDF-LO in a multipart body; the callee
 * still finds the SDP (its answer negotiates PCMA), and our own reader
 * takes the SDP out of such a body when we are the callee. */
static void test_call_emergency_multipart(void **state)
{
	struct harness *h = *state;

	h->b.mode = B_RING_ANSWER;
	h->a.hangup_on = SIP_LEG_ANSWERED;
	h->a.hangup_cause = 16;
	h->a.pidf = "<?xml version=\"1.0\"?><presence xmlns=\"urn:ietf:params:"
		    "xml:ns:pidf\" entity=\"pres:x@y\"/>";
	call_b(h, "911");
	run(h, both_closed);
	assert_int_equal(h->b.invites, 1);
	assert_string_equal(h->b.ruri_user, "911");
	assert_true(h->a.has_media[1]);
	assert_int_equal(h->a.media[1].pt, 8);
	assert_int_equal(sip_leg_codec(h->b.leg), 8);
}

/* ENUM URIs: host, port and transport. */
static void test_uri_target(void **state)
{
	static const struct {
		const char *uri;
		const char *host;
		uint16_t port;
		enum sip_transport tp;
	} rows[] = {
		{"sip:+1555@192.0.2.1", "192.0.2.1", 5060, SIP_TRANSPORT_UDP},
		{"sip:+1555@192.0.2.1:5070;transport=udp", "192.0.2.1", 5070,
		 SIP_TRANSPORT_UDP},
		{"sip:+1555@sbc.example.net;transport=TCP", "sbc.example.net",
		 5060, SIP_TRANSPORT_TCP},
		{"sip:+1555@sbc.example.net;transport=tls", "sbc.example.net",
		 5061, SIP_TRANSPORT_TLS},
		{"sip:+1555@[2001:db8::1]:5080;transport=tcp", "2001:db8::1",
		 5080, SIP_TRANSPORT_TCP},
	};
	char host[64];
	uint16_t port;
	enum sip_transport tp;

	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		tp = SIP_TRANSPORT_UDP;
		assert_int_equal(sip_uri_target(rows[i].uri, host,
						sizeof(host), &port, &tp),
				 0);
		assert_string_equal(host, rows[i].host);
		assert_int_equal(port, rows[i].port);
		assert_int_equal(tp, rows[i].tp);
	}
}

/* Neither sips: nor a transport we do not have. */
static void test_invite_uri_refused(void **state)
{
	struct harness *h = *state;
	struct sockaddr_in dst;
	struct sip_call_params p = {
		.media_addr = "127.0.0.1",
		.media_port = h->a.media_port,
	};
	static const struct {
		const char *uri;
		int err;
	} rows[] = {
		{"sips:+1555@127.0.0.1", EPROTONOSUPPORT},
		{"sip:+1555@127.0.0.1;transport=sctp", EPROTONOSUPPORT},
		{"mailto:info@example.com", EINVAL},
		{"sip:+1555@127.0.0.1:99999", EINVAL},
		{"not a uri", EINVAL},
	};

	addr_of(&dst, sip_ua_port(h->b.ua));
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		p.to_uri = rows[i].uri;
		assert_int_equal(sip_leg_invite(&h->a.leg, h->a.ua,
						(struct sockaddr *)&dst,
						sizeof(dst), &p, on_leg_event,
						&h->a),
				 rows[i].err);
	}
	assert_null(h->a.leg);
}

static void test_call_busy(void **state)
{
	static const enum sip_leg_event_type a_want[] = {
		SIP_LEG_FAILED, SIP_LEG_CLOSED };
	static const enum sip_leg_event_type b_want[] = { SIP_LEG_CLOSED };
	struct harness *h = *state;

	h->b.mode = B_BUSY;
	call_b(h, "5550101");
	run(h, both_closed);
	expect_events(&h->a, a_want, 2);
	assert_int_equal(h->a.status[0], 486);
	assert_int_equal(h->a.cause[0], 17);
	/* B closes once the ACK for its 486 arrives. */
	expect_events(&h->b, b_want, 1);
}

static void test_call_cancel(void **state)
{
	static const enum sip_leg_event_type a_want[] = {
		SIP_LEG_PROGRESS, SIP_LEG_CLOSED };
	static const enum sip_leg_event_type b_want[] = {
		SIP_LEG_CANCELLED, SIP_LEG_CLOSED };
	struct harness *h = *state;

	h->b.mode = B_RING;
	h->a.hangup_on = SIP_LEG_PROGRESS;
	h->a.hangup_cause = 31;
	call_b(h, "5550102");
	run(h, both_closed);
	/* Our own hangup ends in CLOSED alone: no FAILED for the 487. */
	expect_events(&h->a, a_want, 2);
	expect_events(&h->b, b_want, 2);
	assert_int_equal(h->b.cause[0], 31);
}

static void test_call_early_media(void **state)
{
	static const enum sip_leg_event_type a_want[] = {
		SIP_LEG_PROGRESS, SIP_LEG_ANSWERED, SIP_LEG_CLOSED };
	struct harness *h = *state;

	h->b.mode = B_EARLY;
	h->a.hangup_on = SIP_LEG_ANSWERED;
	call_b(h, "5550105");
	run(h, both_closed);
	expect_events(&h->a, a_want, 3);
	assert_int_equal(h->a.status[0], 183);
	assert_true(h->a.has_media[0]);
	assert_int_equal(h->a.media[0].port, 40002);
	assert_int_equal(h->a.media[0].pt, 8);
	assert_true(h->a.has_media[1]);
}

static void test_callee_hangs_up_before_ack(void **state)
{
	static const enum sip_leg_event_type a_want[] = {
		SIP_LEG_ANSWERED, SIP_LEG_BYE, SIP_LEG_CLOSED };
	static const enum sip_leg_event_type b_want[] = { SIP_LEG_CLOSED };
	struct harness *h = *state;

	h->b.mode = B_ANSWER_HUP;
	call_b(h, "5550106");
	run(h, both_closed);
	expect_events(&h->a, a_want, 3);
	assert_int_equal(h->a.cause[1], 16);
	expect_events(&h->b, b_want, 1);
}

static void test_hangup_before_provisional(void **state)
{
	static const enum sip_leg_event_type a_want[] = { SIP_LEG_CLOSED };
	static const enum sip_leg_event_type b_want[] = {
		SIP_LEG_CANCELLED, SIP_LEG_CLOSED };
	struct harness *h = *state;
	struct sip_reason r = {19, NULL, false};

	h->b.mode = B_RING;
	call_b(h, "5550107");
	/* No provisional yet: the CANCEL waits for one (RFC 3261 9.1). */
	assert_int_equal(sip_leg_hangup(h->a.leg, 0, &r), 0);
	run(h, both_closed);
	expect_events(&h->a, a_want, 1);
	expect_events(&h->b, b_want, 2);
	assert_int_equal(h->b.cause[0], 19);
}

static void test_cancel_crosses_2xx(void **state)
{
	static const enum sip_leg_event_type a_want[] = { SIP_LEG_CLOSED };
	static const enum sip_leg_event_type b_want[] = {
		SIP_LEG_ANSWERED, SIP_LEG_BYE, SIP_LEG_CLOSED };
	struct harness *h = *state;
	struct sip_reason r = {16, NULL, false};

	/* B answers inside its INVITE handler, so our CANCEL (sent on the
	 * 100) meets a 2xx: we ACK it and send a BYE. */
	h->b.mode = B_RING_ANSWER;
	call_b(h, "5550108");
	assert_int_equal(sip_leg_hangup(h->a.leg, 0, &r), 0);
	run(h, both_closed);
	expect_events(&h->a, a_want, 1);
	expect_events(&h->b, b_want, 3);
	assert_int_equal(h->b.cause[1], 16);
}

static void test_call_unauthorized(void **state)
{
	static const enum sip_leg_event_type a_want[] = {
		SIP_LEG_FAILED, SIP_LEG_CLOSED };
	struct harness *h = *state;

	h->b.authorize = false;
	call_b(h, "5550103");
	run(h, a_closed);
	expect_events(&h->a, a_want, 2);
	assert_int_equal(h->a.status[0], 403);
	assert_int_equal(h->b.invites, 0);
	assert_int_equal(h->b.rejected, 403);
}

static void test_call_no_common_codec(void **state)
{
	static const int pcma[] = { 8 };
	static const int pcmu[] = { 0 };
	static const enum sip_leg_event_type a_want[] = {
		SIP_LEG_FAILED, SIP_LEG_CLOSED };
	struct harness *h = *state;

	sip_ua_set_codecs(h->a.ua, pcmu, 1);
	sip_ua_set_codecs(h->b.ua, pcma, 1);
	call_b(h, "5550104");
	run(h, a_closed);
	expect_events(&h->a, a_want, 2);
	assert_int_equal(h->a.status[0], 488);
	assert_int_equal(h->b.invites, 0);
	assert_int_equal(h->b.rejected, 488);
}

/* ---- raw requests ----------------------------------------------------- */

struct raw {
	int fd;
	char buf[4096];
	ssize_t len;
	struct harness *h;
};

static void on_raw(evutil_socket_t fd, short what, void *arg)
{
	struct raw *r = arg;

	r->len = recv(fd, r->buf, sizeof(r->buf) - 1, 0);
	if (r->len >= 0)
		r->buf[r->len] = '\0';
	event_base_loopbreak(r->h->base);
}

/* Send @p msg (with %u for our port) to B and return B's answer. */
static void raw_exchange(struct harness *h, struct raw *r, const char *fmt)
{
	struct sockaddr_in me, dst;
	socklen_t len = sizeof(me);
	struct event *ev;
	char msg[2048];

	memset(r, 0, sizeof(*r));
	r->h = h;
	r->fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(r->fd >= 0);
	addr_of(&me, 0);
	assert_int_equal(bind(r->fd, (struct sockaddr *)&me, sizeof(me)), 0);
	assert_int_equal(getsockname(r->fd, (struct sockaddr *)&me, &len), 0);
	snprintf(msg, sizeof(msg), fmt, ntohs(me.sin_port));
	addr_of(&dst, sip_ua_port(h->b.ua));
	assert_true(sendto(r->fd, msg, strlen(msg), 0,
			   (struct sockaddr *)&dst, sizeof(dst)) > 0);
	ev = event_new(h->base, r->fd, EV_READ, on_raw, r);
	event_add(ev, NULL);
	h->done = NULL;
	event_base_dispatch(h->base);
	event_free(ev);
	close(r->fd);
	if (h->timed_out)
		fail_msg("watchdog: no answer to a raw request");
}

#define RAW_HDRS(method, branch)                                          \
	method " sip:5550100@127.0.0.1 SIP/2.0\r\n"                       \
	"Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bK" branch "\r\n" \
	"Max-Forwards: 70\r\n"                                            \
	"From: <sip:tester@127.0.0.1>;tag=t1\r\n"                         \
	"To: <sip:5550100@127.0.0.1>\r\n"

static void test_options(void **state)
{
	struct harness *h = *state;
	struct raw r;

	raw_exchange(h, &r, RAW_HDRS("OPTIONS", "opt1")
		     "Call-ID: opt1@test\r\nCSeq: 1 OPTIONS\r\n"
		     "Content-Length: 0\r\n\r\n");
	assert_true(r.len > 0);
	assert_memory_equal(r.buf, "SIP/2.0 200 ", 12);
	assert_non_null(strstr(r.buf, "INVITE"));
	assert_non_null(strstr(r.buf, "CANCEL"));
	assert_non_null(strcasestr(r.buf, "Accept: application/sdp"));
	assert_non_null(strstr(r.buf, "rport="));
}

/* A behind NAT with local nets @p net: the call of
 * test_call_answer_bye, A to B (at 127.0.0.1); @return the address A's
 * offer gave B. */
static const char *nat_call(struct harness *h, const char *net)
{
	struct sip_net lan;
	struct sip_nat_cfg nc = {
		.external_addr = "198.51.100.7",
		.external_media_addr = "198.51.100.8",
		.local_nets = &lan,
		.nlocal = 1,
	};

	assert_int_equal(sip_net_parse(&lan, net), 0);
	assert_int_equal(sip_ua_set_nat(h->a.ua, &nc), 0);
	test_call_answer_bye((void **)&h);
	return h->b.offer_addr;
}

/* Toward B (not in A's local nets) A's SDP carries the external media
 * address; the call still runs both ways, as B answers and sends
 * in-dialog requests where A's came from. */
static void test_call_external_address(void **state)
{
	struct harness *h = *state;
	struct sip_nat_cfg bad = {.external_addr = "not-an-address"};

	assert_int_equal(sip_ua_set_nat(h->a.ua, &bad), EINVAL);
	assert_string_equal(nat_call(h, "10.0.0.0/8"), "198.51.100.8");
}

/* ... and toward a peer in its local nets, its own address. */
static void test_call_local_net(void **state)
{
	assert_string_equal(nat_call(*state, "127.0.0.0/8"), "127.0.0.1");
}

/* An OPTIONS from a phone behind NAT: its Via names 10.1.2.3:5999 (with
 * @p rport, ";rport" or ""), it sends from a socket of ours; answered
 * there only if the UA answers the source. */
static void options_private_via(struct harness *h, struct raw *r,
				const char *rport)
{
	char fmt[512];

	snprintf(fmt, sizeof(fmt), "OPTIONS sip:5550100@127.0.0.1 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 10.1.2.3:5999%s;branch=z9hG4bKnat%s\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:tester@10.1.2.3:5999>;tag=t1\r\n"
		 "To: <sip:5550100@127.0.0.1>\r\n"
		 "Call-ID: nat%s@test\r\nCSeq: 1 OPTIONS\r\n"
		 "X-Port: %%u\r\nContent-Length: 0\r\n\r\n", rport,
		 *rport ? "1" : "2", *rport ? "1" : "2");
	raw_exchange(h, r, fmt);
	assert_true(r->len > 0);
	assert_memory_equal(r->buf, "SIP/2.0 200 ", 12);
	assert_non_null(strstr(r->buf, "received=127.0.0.1"));
	assert_non_null(strstr(r->buf, "rport="));
	assert_true(atoi(strstr(r->buf, "rport=") + 6) > 0);
}

/* RFC 3581: with ;rport it is answered at its source port, with
 * received= and rport= filled in. */
static void test_rport_answer(void **state)
{
	struct raw r;

	options_private_via(*state, &r, ";rport");
}

static bool sym_all(const struct sockaddr *src, socklen_t len, void *arg)
{
	return true;
}

/* A trunk with nat = yes whose requests lack ;rport: answered at the
 * source all the same (as if it had asked), not at its Via. */
static void test_rport_forced(void **state)
{
	static const int codecs[] = { 0 };
	struct harness *h = *state;
	struct sip_ua_config cfg = {
		.bind_addr = "127.0.0.1",
		.codecs = codecs,
		.ncodecs = 1,
		.invite = on_invite,
		.authorize = on_authorize,
		.symmetric = sym_all,
		.arg = &h->b,
	};
	struct raw r;

	sip_ua_free(h->b.ua);
	assert_int_equal(sip_ua_alloc(&h->b.ua, h->base, &cfg), 0);
	options_private_via(h, &r, "");
}

/* ---- OPTIONS probes (sip_options_probe) -------------------------------- */

struct probe_res {
	int calls;
	int status;
	unsigned rtt_ms;
};

static struct probe_res *probe_seen;

static void on_probe(int status, unsigned rtt_ms, void *arg)
{
	struct probe_res *pr = arg;

	pr->calls++;
	pr->status = status;
	pr->rtt_ms = rtt_ms;
}

static bool probe_done(struct harness *h)
{
	return probe_seen->calls > 0;
}

/* A answers B's probe 200: reported once, from the loop, not the call. */
static void test_options_probe_answered(void **state)
{
	struct harness *h = *state;
	struct probe_res pr = { 0 };
	struct sip_probe *p;
	struct sockaddr_in dst;

	addr_of(&dst, sip_ua_port(h->b.ua));
	assert_int_equal(sip_options_probe(&p, h->a.ua,
					   (struct sockaddr *)&dst,
					   sizeof(dst), 1000, on_probe, &pr),
			 0);
	assert_int_equal(pr.calls, 0);
	probe_seen = &pr;
	h->done = probe_done;
	event_base_dispatch(h->base);
	assert_false(h->timed_out);
	assert_int_equal(pr.calls, 1);
	assert_int_equal(pr.status, 200);
	assert_true(pr.rtt_ms < 1000);
}

/* A socket that reads and never answers: the probe is retransmitted
 * (Timer E, 500 ms) and reported unanswered (0) at its timeout, not at
 * Timer F's 32 s. */
static void test_options_probe_timeout(void **state)
{
	struct harness *h = *state;
	struct probe_res pr = { 0 };
	struct sip_probe *p;
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	char buf[2048];
	int fd = socket(AF_INET, SOCK_DGRAM, 0), n = 0;
	ssize_t r;

	assert_true(fd >= 0);
	addr_of(&me, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &len), 0);
	assert_int_equal(sip_options_probe(&p, h->a.ua,
					   (struct sockaddr *)&me, len, 800,
					   on_probe, &pr),
			 0);
	probe_seen = &pr;
	h->done = probe_done;
	event_base_dispatch(h->base);
	assert_false(h->timed_out);
	assert_int_equal(pr.calls, 1);
	assert_int_equal(pr.status, 0);
	assert_true(pr.rtt_ms >= 700 && pr.rtt_ms < 2000);
	while ((r = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		buf[r] = '\0';
		assert_memory_equal(buf, "OPTIONS sip:127.0.0.1:", 22);
		assert_non_null(strstr(buf, "Max-Forwards: 70"));
		assert_non_null(strstr(buf, ";tag="));
		n++;
	}
	assert_true(n >= 2); /* the first and a retransmission */
	close(fd);
}

/* Cancelled: no report; the UA freed with the transaction alive leaks
 * nothing (teardown counts objects, ASan the rest). */
static void test_options_probe_cancel(void **state)
{
	struct harness *h = *state;
	struct probe_res pr = { 0 };
	struct sip_probe *p;
	struct sockaddr_in dst;

	addr_of(&dst, sip_ua_port(h->b.ua));
	assert_int_equal(sip_options_probe(&p, h->a.ua,
					   (struct sockaddr *)&dst,
					   sizeof(dst), 1000, on_probe, &pr),
			 0);
	sip_options_cancel(p);
	probe_seen = &pr;
	h->done = NULL;
	{
		struct timeval tv = { 0, 300000 };

		event_base_loopexit(h->base, &tv);
	}
	event_base_dispatch(h->base);
	assert_int_equal(pr.calls, 0);
}

/* RFC 3261 17.2.2: a retransmitted non-INVITE request gets the very
 * response the first one got (same To tag), not a second answer. */
static void test_retransmitted_request(void **state)
{
	struct harness *h = *state;
	struct sockaddr_in me, dst;
	socklen_t len = sizeof(me);
	struct raw r[2];
	struct event *ev;
	char msg[1024];
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	assert_true(fd >= 0);
	addr_of(&me, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &len), 0);
	snprintf(msg, sizeof(msg), RAW_HDRS("BYE", "rtx1")
		 "Call-ID: rtx1@test\r\nCSeq: 2 BYE\r\n"
		 "Content-Length: 0\r\n\r\n", ntohs(me.sin_port));
	addr_of(&dst, sip_ua_port(h->b.ua));
	for (int i = 0; i < 2; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].h = h;
		assert_true(sendto(fd, msg, strlen(msg), 0,
				   (struct sockaddr *)&dst, sizeof(dst)) > 0);
		ev = event_new(h->base, fd, EV_READ, on_raw, &r[i]);
		event_add(ev, NULL);
		h->done = NULL;
		event_base_dispatch(h->base);
		event_free(ev);
		if (h->timed_out)
			fail_msg("watchdog: no answer to a retransmission");
	}
	close(fd);
	assert_memory_equal(r[0].buf, "SIP/2.0 481 ", 12);
	assert_int_equal(r[0].len, r[1].len);
	assert_memory_equal(r[0].buf, r[1].buf, (size_t)r[0].len);
}

static void test_options_unauthorized(void **state)
{
	struct harness *h = *state;
	struct raw r;

	h->b.authorize = false;
	raw_exchange(h, &r, RAW_HDRS("OPTIONS", "opt2")
		     "Call-ID: opt2@test\r\nCSeq: 1 OPTIONS\r\n"
		     "Content-Length: 0\r\n\r\n");
	assert_memory_equal(r.buf, "SIP/2.0 403 ", 12);
}

static void test_bye_unknown_dialog(void **state)
{
	struct harness *h = *state;
	struct raw r;

	raw_exchange(h, &r, "BYE sip:5550100@127.0.0.1 SIP/2.0\r\n"
		     "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKbye1\r\n"
		     "From: <sip:tester@127.0.0.1>;tag=t1\r\n"
		     "To: <sip:5550100@127.0.0.1>;tag=nosuch\r\n"
		     "Call-ID: nosuch@test\r\nCSeq: 2 BYE\r\n"
		     "Content-Length: 0\r\n\r\n");
	assert_memory_equal(r.buf, "SIP/2.0 481 ", 12);
}

static void test_unknown_method(void **state)
{
	struct harness *h = *state;
	struct raw r;

	raw_exchange(h, &r, RAW_HDRS("MESSAGE", "msg1")
		     "Call-ID: msg1@test\r\nCSeq: 1 MESSAGE\r\n"
		     "Content-Length: 0\r\n\r\n");
	assert_memory_equal(r.buf, "SIP/2.0 405 ", 12);
	assert_non_null(strcasestr(r.buf, "Allow: "));
}

static void test_missing_call_id(void **state)
{
	struct harness *h = *state;
	struct raw r;

	raw_exchange(h, &r, RAW_HDRS("OPTIONS", "bad1")
		     "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n");
	assert_memory_equal(r.buf, "SIP/2.0 400 ", 12);
	assert_non_null(strstr(r.buf, "Call-ID"));
}

static void test_invite_without_sdp(void **state)
{
	struct harness *h = *state;
	struct raw r;

	raw_exchange(h, &r, RAW_HDRS("INVITE", "inv1")
		     "Call-ID: inv1@test\r\nCSeq: 1 INVITE\r\n"
		     "Contact: <sip:tester@127.0.0.1>\r\n"
		     "Content-Length: 0\r\n\r\n");
	assert_memory_equal(r.buf, "SIP/2.0 488 ", 12);
	assert_int_equal(h->b.rejected, 488);
	assert_int_equal(h->b.invites, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sdp_hold),
		cmocka_unit_test(test_sdp_negotiate_table),
		cmocka_unit_test(test_sdp_print_roundtrip),
		cmocka_unit_test(test_sdp_g729_annexb_ptime),
		cmocka_unit_test(test_sdp_amend),
		cmocka_unit_test(test_sdp_t38),
		cmocka_unit_test(test_sdp_telephone_event),
		cmocka_unit_test(test_sdes_parse),
		cmocka_unit_test(test_sdp_crypto),
		cmocka_unit_test(test_dtmf_relay_decode),
		cmocka_unit_test(test_reason_decode),
		cmocka_unit_test(test_geolocation_decode),
		cmocka_unit_test(test_pai_decode),
		cmocka_unit_test_setup_teardown(test_call_answer_bye, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_call_diversion_and_uri,
						setup, teardown),
		cmocka_unit_test(test_uri_target),
		cmocka_unit_test_setup_teardown(test_invite_uri_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_call_emergency_multipart,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_busy, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_session_timer_uac_refreshes, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_session_timer_uas_refreshes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_cancel, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_call_early_media, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_callee_hangs_up_before_ack,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_hangup_before_provisional,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel_crosses_2xx, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_call_unauthorized, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_call_no_common_codec,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_options, setup, teardown),
		cmocka_unit_test(test_net_match),
		cmocka_unit_test(test_nat_addr),
		cmocka_unit_test_setup_teardown(test_call_external_address,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_call_local_net, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rport_answer, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_rport_forced, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_options_probe_answered,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_options_probe_timeout,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_options_probe_cancel,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_retransmitted_request,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_options_unauthorized,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_bye_unknown_dialog, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_unknown_method, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_missing_call_id, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_call_srtp, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_call_srtp_plain_answer,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_call_srtp_best_effort_plain, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invite_without_sdp, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
