/* tests/unit/test_enum.c  ENUM owner names, NAPTR regexps and selection */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "util/util.h"
#include "dialplan/dialplan.h"

static void test_name(void **state)
{
	static const struct {
		const char *num, *domain;
		int rc;
		const char *want;
	} rows[] = {
		/* RFC 6116 2.4's example */
		{"+441632960083", "e164.arpa", 0,
		 "3.8.0.0.6.9.2.3.6.1.4.4.e164.arpa"},
		{"12125551234", "e164.arpa", 0,
		 "4.3.2.1.5.5.5.2.1.2.1.e164.arpa"},
		{"+1", "e164.arpa.", 0, "1.e164.arpa"},
		{"123456789012345", "e164.example.net", 0,
		 "5.4.3.2.1.0.9.8.7.6.5.4.3.2.1.e164.example.net"},
		{"1234567890123456", "e164.arpa", EINVAL, ""},
		{"", "e164.arpa", EINVAL, ""},
		{"+", "e164.arpa", EINVAL, ""},
		{"12a4", "e164.arpa", EINVAL, ""},
		{"++1", "e164.arpa", EINVAL, ""},
		{"1", "", EINVAL, ""},
		{"1", ".", EINVAL, ""},
		{"1", "e164..arpa", EINVAL, ""},
		{"1", ".e164.arpa", EINVAL, ""},
		{"1", "e164.arpa..", EINVAL, ""},
		{"1", "-e164.arpa", EINVAL, ""},
		{"1", "e164-.arpa", EINVAL, ""},
		{"1", "e164_x.arpa", EINVAL, ""},
		{"1", "e164 .arpa", EINVAL, ""},
		{"1", "my-enum.example", 0, "1.my-enum.example"},
	};
	char out[DP_ENUM_NAME_SIZE], tiny[8];

	(void)state;
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		int rc = dp_enum_name(rows[i].num, rows[i].domain, out,
				      sizeof(out));

		if (rc != rows[i].rc || (!rc && strcmp(out, rows[i].want)))
			fail_msg("row %zu (%s, %s): rc %d '%s', want %d '%s'",
				 i, rows[i].num, rows[i].domain, rc,
				 rc ? "" : out, rows[i].rc, rows[i].want);
	}
	/* A 64-character label is too long; 63 is fine. */
	{
		char dom[80];

		memset(dom, 'a', 63);
		strcpy(dom + 63, ".arpa");
		assert_int_equal(dp_enum_name("1", dom, out, sizeof(out)), 0);
		memset(dom, 'a', 64);
		strcpy(dom + 64, ".arpa");
		assert_int_equal(dp_enum_name("1", dom, out, sizeof(out)),
				 EINVAL);
	}
	assert_int_equal(dp_enum_name("12125551234", "e164.arpa", tiny,
				      sizeof(tiny)), ENOSPC);
}

static void test_regexp(void **state)
{
	static const struct {
		const char *re, *aus;
		int rc;
		const char *want;
	} rows[] = {
		/* RFC 6116 and RFC 3402 style examples */
		{"!^.*$!sip:info@example.com!", "+441632960083", 0,
		 "sip:info@example.com"},
		{"!^\\+1(.*)$!sip:\\1@gw.example.net!", "+12125551234", 0,
		 "sip:2125551234@gw.example.net"},
		{"!^(\\+[0-9]+)$!sip:\\1@h!", "+4912", 0, "sip:+4912@h"},
		{"!^\\+(1)(212)(.*)$!sip:\\3-\\2-\\1@h!", "+12125551234", 0,
		 "sip:5551234-212-1@h"},
		/* other delimiters; an escaped delimiter in the replacement */
		{"/^.*$/sip:a@b/", "+1", 0, "sip:a@b"},
		{"#^.*$#sip:a\\#b@c#", "+1", 0, "sip:a#b@c"},
		{"!^.*$!sip:a\\!b@c!", "+1", 0, "sip:a!b@c"},
		/* an escaped backslash stays one backslash */
		{"!^.*$!sip:a\\\\b@c!", "+1", 0, "sip:a\\b@c"},
		/* flag i */
		{"!^\\+1(.*)$!sip:\\1@h!i", "+15", 0, "sip:5@h"},
		{"!^A$!sip:x@h!i", "a", 0, "sip:x@h"},
		{"!^A$!sip:x@h!", "a", ENOENT, ""},
		/* no match */
		{"!^\\+44!sip:x@h!", "+12125551234", ENOENT, ""},
		/* malformed */
		{"!^.*$!sip:x@h!x", "+1", EINVAL, ""},
		{"!^.*$!sip:x@h!ii", "+1", EINVAL, ""},
		{"!^.*$!sip:x@h", "+1", EINVAL, ""},
		{"!^.*$", "+1", EINVAL, ""},
		{"", "+1", EINVAL, ""},
		{"1^.*$1sip:x@h1", "+1", EINVAL, ""},
		{"\\^.*$\\sip:x@h\\", "+1", EINVAL, ""},
		{"i^.*$isip:x@hi", "+1", EINVAL, ""},
		{"!(!sip:x@h!", "+1", EINVAL, ""},
		{"!!sip:x@h!", "+1", EINVAL, ""},
		/* a back-reference to a group that is not there */
		{"!^(.*)$!sip:\\2@h!", "+1", EINVAL, ""},
		{"!^.*$!sip:\\1@h!", "+1", EINVAL, ""},
		/* what could stall the signalling thread is refused */
		{"!^(a*)*\\1$!sip:x@h!", "+1", EINVAL, ""},
		{"!^(.{99}){99}$!sip:x@h!", "+1", EINVAL, ""},
		{"!^.{1,2}.{1,2}.{1,2}$!sip:x@h!", "+12", EINVAL, ""},
		{"!^.{x}$!sip:x@h!", "+1", EINVAL, ""},
		{"!^\\+(.*+++++++++++++)!2!", "+1", EINVAL, ""},
		{"!^(((((a)))))$!sip:x@h!", "a", EINVAL, ""},
		{"!^[*+?{]+$!sip:brackets@h!", "+", 0, "sip:brackets@h"},
		{"!^[]x]$!sip:x@h!", "]", 0, "sip:x@h"},
		{"!^[x$!sip:x@h!", "+1", EINVAL, ""},
		{"!^\\+1[0-9]{10}$!sip:ok@h!", "+12125551234", 0, "sip:ok@h"},
		/* an optional group that did not take part: nothing */
		{"!^\\+(9)?(1.*)$!sip:\\1\\2@h!", "+12", 0, "sip:12@h"},
	};
	char out[DP_ENUM_URI_SIZE], err[160], tiny[10];

	(void)state;
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		int rc;

		err[0] = '\0';
		rc = dp_enum_regexp(rows[i].re, rows[i].aus, out, sizeof(out),
				    err, sizeof(err));
		if (rc != rows[i].rc || (!rc && strcmp(out, rows[i].want)))
			fail_msg("row %zu (%s on %s): rc %d '%s' (%s), want "
				 "%d '%s'", i, rows[i].re, rows[i].aus, rc,
				 rc ? "" : out, err, rows[i].rc, rows[i].want);
		if (rc == EINVAL && !*err)
			fail_msg("row %zu: EINVAL without a reason", i);
	}
	assert_int_equal(dp_enum_regexp("!^.*$!sip:info@example.com!", "+1",
					tiny, sizeof(tiny), err, sizeof(err)),
			 ENOSPC);
	assert_string_equal(tiny, "");
	/* A back-reference that would overflow. */
	assert_int_equal(dp_enum_regexp("!^(.*)$!sip:\\1\\1\\1@h!",
					"+123456789", tiny, sizeof(tiny), err,
					sizeof(err)),
			 ENOSPC);
}

static void test_select(void **state)
{
	static const struct dp_naptr base[] = {
		/* 0: order 20: loses to order 10 */
		{20, 10, "u", "E2U+sip", "!^.*$!sip:second@h!", ""},
		/* 1: order 10, preference 20 */
		{10, 20, "u", "E2U+sip", "!^.*$!sip:pref20@h!", ""},
		/* 2: order 10, preference 10: the winner */
		{10, 10, "u", "E2U+sip", "!^\\+(.*)$!sip:\\1@best!", ""},
		/* 3: not SIP */
		{1, 1, "u", "E2U+mailto", "!^.*$!mailto:a@b!", ""},
		/* 4: non-terminal */
		{1, 1, "", "E2U+sip", "", "next.example."},
	};
	struct dp_naptr r[8];
	char uri[DP_ENUM_URI_SIZE], err[160];

	(void)state;
	memcpy(r, base, sizeof(base));
	assert_int_equal(dp_enum_select("+12125551234", r, 5, uri,
					sizeof(uri), err, sizeof(err)), 0);
	assert_string_equal(uri, "sip:12125551234@best");
	/* Without the '+' the AUS is the same. */
	assert_int_equal(dp_enum_select("12125551234", r, 5, uri,
					sizeof(uri), err, sizeof(err)), 0);
	assert_string_equal(uri, "sip:12125551234@best");
	/* The winner's regexp broken: the next by preference. */
	strcpy(r[2].regexp, "!(!x!");
	assert_int_equal(dp_enum_select("1", r, 5, uri, sizeof(uri), err,
					sizeof(err)), 0);
	assert_string_equal(uri, "sip:pref20@h");
	/* ... and a URI that is no SIP URI: the next by order. */
	strcpy(r[1].regexp, "!^.*$!http://example.com/!");
	assert_int_equal(dp_enum_select("1", r, 5, uri, sizeof(uri), err,
					sizeof(err)), 0);
	assert_string_equal(uri, "sip:second@h");
	/* A URI with a space or an angle bracket is refused too. */
	strcpy(r[0].regexp, "!^.*$!sip:a b@h!");
	assert_int_equal(dp_enum_select("1", r, 5, uri, sizeof(uri), err,
					sizeof(err)), ENOENT);
	assert_string_equal(uri, "");
	assert_non_null(strstr(err, "is not a SIP URI"));
	strcpy(r[0].regexp, "!^.*$!sip:a@h>x!");
	assert_int_equal(dp_enum_select("1", r, 5, uri, sizeof(uri), err,
					sizeof(err)), ENOENT);
	/* Only non-SIP and non-terminal records: nothing. */
	assert_int_equal(dp_enum_select("1", r + 3, 2, uri, sizeof(uri), err,
					sizeof(err)), ENOENT);
	assert_string_equal(err, "no E2U+sip record");
	assert_int_equal(dp_enum_select("1", r, 0, uri, sizeof(uri), err,
					sizeof(err)), ENOENT);
	/* Services and flags in any case, with subtypes, sips: URIs. */
	{
		static const struct {
			const char *flags, *service;
			int rc;
		} svc[] = {
			{"u", "E2U+sip", 0},       {"U", "e2u+SIP", 0},
			{"u", "E2U+sip:voice", 0}, {"u", "E2U+pstn:tel+sip", 0},
			{"u", "E2U+sipx", ENOENT}, {"u", "E2U+", ENOENT},
			{"u", "E2U", ENOENT},      {"u", "X2U+sip", ENOENT},
			{"s", "E2U+sip", ENOENT},  {"uu", "E2U+sip", ENOENT},
			{"u", "E2U+voice:sip", ENOENT},
		};

		for (size_t i = 0; i < TG_ARRAY_SIZE(svc); i++) {
			struct dp_naptr one = {1, 1, "", "",
					       "!^.*$!sips:x@h!", ""};
			int rc;

			strcpy(one.flags, svc[i].flags);
			strcpy(one.service, svc[i].service);
			rc = dp_enum_select("1", &one, 1, uri, sizeof(uri), err,
					    sizeof(err));
			if (rc != svc[i].rc)
				fail_msg("service '%s' flags '%s': rc %d, "
					 "want %d", svc[i].service,
					 svc[i].flags, rc, svc[i].rc);
		}
	}
	/* Bad numbers. */
	assert_int_equal(dp_enum_select("", r, 5, uri, sizeof(uri), err,
					sizeof(err)), EINVAL);
	assert_int_equal(dp_enum_select("12x", r, 5, uri, sizeof(uri), err,
					sizeof(err)), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_regexp),
		cmocka_unit_test(test_select),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
