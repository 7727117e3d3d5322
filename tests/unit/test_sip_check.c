/* tests/unit/test_sip_check.c  The RFC 4475 / RFC 5118 torture messages
 * through sip_check_raw(), libosip2 and sip_check_reply()
 *
 * tests/unit/torture/EXPECT names each message and what the check must
 * say of it.  Beyond the verdict, every message we accept must be one
 * libosip2 can parse (else the gateway would drop a valid request), and
 * every refusal must come out as a response libosip2 reads back with the
 * request's Call-ID and our reason phrase.
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

#define TORTURE_MAX 70000

static unsigned raw_answers;

static const char *dir(void)
{
	static char path[4096];
	const char *src = getenv("srcdir");

	snprintf(path, sizeof(path), "%s/tests/unit/torture", src ? src : ".");
	return path;
}

/* The file as it goes on the wire: LF -> CRLF, <hex> octets, <repeat>. */
static size_t load(const char *name, char *out, size_t size)
{
	char path[4200], *text, *p;
	size_t n = 0, tlen;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s.sip", dir(), name);
	f = fopen(path, "rb");
	assert_non_null(f);
	text = malloc(TORTURE_MAX);
	assert_non_null(text);
	tlen = fread(text, 1, TORTURE_MAX - 1, f);
	fclose(f);
	text[tlen] = '\0';
	for (p = text; *p && n + 2 < size;) {
		if (!strncmp(p, "<hex>", 5)) {
			unsigned v;

			for (p += 5; strncmp(p, "</hex>", 6); p += 2) {
				assert_int_equal(sscanf(p, "%2x", &v), 1);
				out[n++] = (char)v;
			}
			p += 6;
		} else if (!strncmp(p, "<repeat count=", 14)) {
			int count = atoi(p + 14);
			char *s = strchr(p, '>') + 1, *e = strstr(s, "</repeat>");

			assert_non_null(e);
			while (count-- > 0 && n + (size_t)(e - s) + 2 < size) {
				memcpy(out + n, s, (size_t)(e - s));
				n += (size_t)(e - s);
			}
			p = e + 9;
		} else if (*p == '\n') {
			out[n++] = '\r';
			out[n++] = '\n';
			p++;
		} else {
			out[n++] = *p++;
		}
	}
	free(text);
	return n;
}

static void quiet(const char *fi, int li, osip_trace_level_t level,
		  const char *chfr, va_list ap)
{
	(void)fi, (void)li, (void)level, (void)chfr, (void)ap;
}

/* The Call-ID line's value, for comparing request and response. */
static void call_id(const osip_message_t *m, char *out, size_t size)
{
	snprintf(out, size, "%s%s%s", m->call_id->number,
		 m->call_id->host ? "@" : "",
		 m->call_id->host ? m->call_id->host : "");
}

static void check_one(const char *name, const char *want, const char *phrase)
{
	char *msg = malloc(TORTURE_MAX), resp[TORTURE_MAX + 512], line[600];
	struct sip_verdict vd;
	osip_message_t *m = NULL, *r = NULL;
	size_t len, rlen;

	assert_non_null(msg);
	len = load(name, msg, TORTURE_MAX);
	msg[len] = '\0';
	sip_check_raw(msg, len, &vd);
	if (!strcmp(want, "ok")) {
		if (vd.status)
			fail_msg("%s: refused with %d %s", name, vd.status,
				 vd.phrase);
	} else if (!strcmp(want, "drop")) {
		if (!vd.drop)
			fail_msg("%s: not dropped (%d %s)", name, vd.status,
				 vd.phrase);
	} else if (vd.status != atoi(want) || vd.drop) {
		fail_msg("%s: wanted %s, got %d %s%s", name, want, vd.status,
			 vd.phrase, vd.drop ? " (dropped)" : "");
	}
	if (phrase && !strstr(vd.phrase, phrase))
		fail_msg("%s: phrase '%s', wanted '%s'", name, vd.phrase,
			 phrase);
	assert_true(vd.len <= len);

	if (vd.drop)
		goto out;
	if (!vd.raw) {
		/* What the gateway hands to libosip2: it must parse. */
		sip_check_fix_nul(msg, &vd);
		assert_int_equal(osip_message_init(&m), 0);
		if (!osip_message_parse(m, msg, vd.len))
			goto out; /* on to the gateway, or refused through osip */
		if (!vd.status)
			fail_msg("%s: passed, but libosip2 cannot parse it",
				 name);
		/* Refused, and unreadable to libosip2 (an odd Request-URI):
		 * the gateway answers from the raw lines. */
	}

	/* The answer built from the raw lines (what the gateway sends
	 * when libosip2 cannot parse the request) reads back right. */
	rlen = sip_check_reply(msg, vd.len, &vd, "t0g", resp, sizeof(resp));
	if (!rlen)
		goto out; /* no Via (or a broken one) to answer to */
	raw_answers++;
	snprintf(line, sizeof(line), "SIP/2.0 %d %s\r\n", vd.status,
		 vd.phrase);
	assert_memory_equal(resp, line, strlen(line));
	assert_int_equal(osip_message_init(&r), 0);
	if (osip_message_parse(r, resp, rlen)) {
		osip_message_free(r);
		r = NULL;
		/* The From or To it must echo is the broken part itself:
		 * the client still matches the answer by Via and CSeq. */
		if (!strstr(vd.phrase, " To") && !strstr(vd.phrase, " From"))
			fail_msg("%s: our raw answer does not parse:\n%.*s",
				 name, (int)rlen, resp);
		goto out;
	}
	assert_int_equal(r->status_code, vd.status);
	assert_string_equal(r->reason_phrase, vd.phrase);
	/* The request's Call-ID, as it came. */
	{
		const char *c = strstr(msg, "\r\nCall-ID: ");
		char a[512];

		if (c && r->call_id) {
			c += 11;
			snprintf(a, sizeof(a), "%.*s", (int)strcspn(c, "\r"), c);
			call_id(r, line, sizeof(line));
			assert_string_equal(a, line);
		}
	}
	if (vd.hname[0])
		assert_non_null(strstr(resp, vd.hname));
	osip_message_free(r);
 out:
	if (m)
		osip_message_free(m);
	free(msg);
}

static void torture_messages(void **state)
{
	char path[4200], line[256];
	unsigned n = 0;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/EXPECT", dir());
	f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		char name[64], want[16], *phrase;
		int off = 0;

		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = '\0';
		assert_int_equal(sscanf(line, "%63s %15s %n", name, want, &off),
				 2);
		phrase = off && line[off] ? line + off : NULL;
		check_one(name, want, phrase);
		n++;
	}
	fclose(f);
	/* Every case of both RFCs that a UAS can judge alone; and the
	 * refusals with a sound Via have answers. */
	assert_true(n >= 55);
	assert_true(raw_answers >= 15);
}

/* Cut every torture message short at each length: never a crash, never
 * a verdict that points past the end. */
static void truncations(void **state)
{
	static const char *const names[] = { "wsinv", "intmeth", "longreq",
					     "badinv01", "mpart01" };
	char *msg = malloc(TORTURE_MAX);
	struct sip_verdict vd;
	size_t i, len, cut;

	(void)state;
	assert_non_null(msg);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		len = load(names[i], msg, TORTURE_MAX);
		for (cut = 0; cut <= len; cut++) {
			sip_check_raw(msg, cut, &vd);
			assert_true(vd.len <= cut);
		}
	}
	free(msg);
}

/* A request with a good Content-Length and more octets after it. */
static void trailing_octets(void **state)
{
	static const char req[] =
		"OPTIONS sip:a@example.com SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKx\r\n"
		"From: <sip:b@example.com>;tag=1\r\n"
		"To: <sip:a@example.com>\r\n"
		"Call-ID: trail@1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
		"Content-Length: 4\r\n\r\nbodyGARBAGE";
	struct sip_verdict vd;

	(void)state;
	assert_int_equal(sip_check_raw(req, sizeof(req) - 1, &vd), 0);
	assert_int_equal(vd.len, sizeof(req) - 1 - strlen("GARBAGE"));
}

/* RFC 3515: the transfer target of a REFER, and the refusals a PBX
 * hears (one Refer-To, a number, no Replaces). */
static int refer_to(const char *hdrs, char *num, size_t size)
{
	char req[1024];
	osip_message_t *m;
	int err;

	snprintf(req, sizeof(req),
		 "REFER sip:gw@192.0.2.1 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKr1\r\n"
		 "From: <sip:pbx@192.0.2.2>;tag=a\r\n"
		 "To: <sip:gw@192.0.2.1>;tag=b\r\n"
		 "Call-ID: refer@1\r\nCSeq: 2 REFER\r\nMax-Forwards: 70\r\n"
		 "%sContent-Length: 0\r\n\r\n", hdrs);
	assert_int_equal(osip_message_init(&m), 0);
	assert_int_equal(osip_message_parse(m, req, strlen(req)), 0);
	err = sip_msg_refer_to(m, num, size);
	osip_message_free(m);
	return err;
}

static void refer_targets(void **state)
{
	char num[40];

	(void)state;
	assert_int_equal(refer_to("Refer-To: <sip:5551234@gw;user=phone>\r\n",
				  num, sizeof(num)), 0);
	assert_string_equal(num, "5551234");
	assert_int_equal(refer_to("Refer-To: sip:+1-212-555-0100@gw\r\n",
				  num, sizeof(num)), 0);
	assert_string_equal(num, "+12125550100");
	assert_int_equal(refer_to("r: <tel:+44(20)7946-0018>\r\n", num,
				  sizeof(num)), 0);
	assert_string_equal(num, "+442079460018");
	assert_int_equal(refer_to("Refer-To: \"Desk\" <sips:2001;ext=1@gw>"
				  "\r\n", num, sizeof(num)), 0);
	assert_string_equal(num, "2001");
	/* Refusals: none, two, a name, Replaces, other schemes, junk. */
	assert_int_equal(refer_to("", num, sizeof(num)), ENOENT);
	assert_int_equal(refer_to("Refer-To: <sip:1@gw>\r\n"
				  "Refer-To: <sip:2@gw>\r\n", num,
				  sizeof(num)), E2BIG);
	assert_int_equal(refer_to("Refer-To: <sip:1@gw>, <sip:2@gw>\r\n",
				  num, sizeof(num)), E2BIG);
	assert_int_equal(refer_to("Refer-To: <sip:alice@gw>\r\n", num,
				  sizeof(num)), ENOTSUP);
	assert_int_equal(refer_to("Refer-To: <sip:2001@gw?Replaces=abc%3Bto-"
				  "tag%3D1%3Bfrom-tag%3D2>\r\n", num,
				  sizeof(num)), ENOTSUP);
	assert_int_equal(refer_to("Refer-To: <mailto:a@b>\r\n", num,
				  sizeof(num)), EPROTONOSUPPORT);
	assert_int_equal(refer_to("Refer-To: <sip:+@gw>\r\n", num,
				  sizeof(num)), EBADMSG);
	assert_int_equal(refer_to("Refer-To: <sip:12+3@gw>\r\n", num,
				  sizeof(num)), ENOTSUP);
	assert_int_equal(refer_to("Refer-To: <sip:123456789@gw>\r\n", num,
				  8), E2BIG);
	assert_string_equal(num, "");
}

/* RFC 7044 History-Info read as a Diversion: who diverted, and why. */
static int history(const char *hdrs, char *user, char *reason, bool *priv)
{
	char req[1024];
	osip_message_t *m;
	int err;

	snprintf(req, sizeof(req),
		 "INVITE sip:1@192.0.2.1 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKh1\r\n"
		 "From: <sip:2@192.0.2.2>;tag=a\r\nTo: <sip:1@192.0.2.1>\r\n"
		 "Call-ID: hi@1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
		 "%sContent-Length: 0\r\n\r\n", hdrs);
	assert_int_equal(osip_message_init(&m), 0);
	assert_int_equal(osip_message_parse(m, req, strlen(req)), 0);
	err = sip_msg_history_info(m, user, 32, reason, 32, priv);
	osip_message_free(m);
	return err;
}

static void history_info(void **state)
{
	char user[32], reason[32];
	bool priv;

	(void)state;
	/* The newest redirection: 2002 (busy) after 2001 (no answer). */
	assert_int_equal(history("History-Info: <sip:2001@pbx>;index=1, "
				 "<sip:2002@pbx;cause=408>;index=1.1\r\n"
				 "History-Info: <sip:+15551@pbx;cause=486>;"
				 "index=1.1.1\r\n", user, reason, &priv), 0);
	assert_string_equal(user, "2002");
	assert_string_equal(reason, "user-busy");
	assert_false(priv);
	/* RFC 4244 style: the cause in an escaped Reason; private entry. */
	assert_int_equal(history("History-Info: <sip:2001@pbx?Privacy=history>"
				 ";index=1, <sip:3@pbx?Reason=SIP%3Bcause%3D302>"
				 ";index=1.1\r\n", user, reason, &priv), 0);
	assert_string_equal(user, "2001");
	assert_string_equal(reason, "unconditional");
	assert_true(priv);
	/* No cause anywhere: no redirection; junk: unreadable. */
	assert_int_equal(history("History-Info: <sip:1@pbx>;index=1\r\n", user,
				 reason, &priv), ENOENT);
	assert_int_equal(history("History-Info: <<>>;index=1\r\n", user,
				 reason, &priv), EBADMSG);
	assert_int_equal(sip_hi_cause("no-answer"), 408);
	assert_int_equal(sip_hi_cause("nonsense"), 404);
}

static void rpid_identity(void **state)
{
	char req[1024], num[32];
	osip_message_t *m;
	bool priv = true;
	static const char *const hdrs =
		"Remote-Party-ID: <sip:2001@pbx>;party=called\r\n"
		"Remote-Party-ID: \"Al\" <sip:+12125550044@pbx>;party=calling;"
		"screen=yes;privacy=full\r\n";

	(void)state;
	snprintf(req, sizeof(req),
		 "INVITE sip:1@192.0.2.1 SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 192.0.2.2;branch=z9hG4bKr2\r\n"
		 "From: <sip:anonymous@anonymous.invalid>;tag=a\r\n"
		 "To: <sip:1@192.0.2.1>\r\nCall-ID: rpid@1\r\n"
		 "CSeq: 1 INVITE\r\nMax-Forwards: 70\r\n%s"
		 "Content-Length: 0\r\n\r\n", hdrs);
	assert_int_equal(osip_message_init(&m), 0);
	assert_int_equal(osip_message_parse(m, req, strlen(req)), 0);
	/* The called party's one is skipped; the calling one's privacy. */
	assert_int_equal(sip_msg_rpid(m, num, sizeof(num), &priv), 0);
	assert_string_equal(num, "+12125550044");
	assert_true(priv);
	/* Too long for the buffer: not cut to something else. */
	assert_int_equal(sip_msg_rpid(m, num, 8, &priv), EBADMSG);
	assert_string_equal(num, "");
	osip_message_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(torture_messages),
		cmocka_unit_test(truncations),
		cmocka_unit_test(trailing_octets),
		cmocka_unit_test(refer_targets),
		cmocka_unit_test(rpid_identity),
		cmocka_unit_test(history_info),
	};

	parser_init();
	osip_trace_initialize_func(TRACE_LEVEL0, quiet);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
