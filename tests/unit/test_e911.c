/* tests/unit/test_e911.c  Zones, caller placement, ELIN choice, addresses */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "util/util.h"
#include "e911/e911.h"

static struct e911_zone_row zones[] = {
	{.name = "hq-3", .country = "US", .a1 = "NY", .a3 = "New York",
	 .hno = "350", .rd = "5th", .sts = "Ave", .flr = "3",
	 .nam = "ACME HQ", .pc = "10118",
	 .elins = "12125550911, 12125550912", .callback_trunk = "pbx",
	 .callback_user = "2999"},
	{.name = "hq-3-east", .country = "US", .a1 = "NY", .a3 = "New York",
	 .hno = "350", .rd = "5th", .sts = "Ave", .flr = "3", .room = "E12",
	 .elins = "12125550913"},
	{.name = "lab", .location_id = "BW-LOC-7731", .elins = "+12125550921"},
	{.name = "default", .country = "US", .a1 = "NY", .a3 = "New York",
	 .hno = "350", .rd = "5th", .sts = "Ave", .elins = "12125550900"},
};

static struct e911_member_row members[] = {
	{"hq-3", "calling", "12125552000-12125552099", "", "", ""},
	{"hq-3-east", "calling", "12125552050-12125552059", "", "", ""},
	{"lab", "subnet", "10.20.0.0/16", "", "", ""},
	{"hq-3-east", "subnet", "10.20.30.0/24", "", "", ""},
	{"lab", "trunk", "labpbx", "", "", ""},
	{"hq-3", "subnet", "2001:db8:3::/48", "", "", ""},
	/* one caller's own floor and room in the zone (RAY BAUM's Act) */
	{"hq-3", "calling", "12125552042", "4", "", "410"},
};

static struct e911_snapshot *build(void)
{
	struct e911_snapshot *s = NULL;
	char err[256];

	if (e911_snapshot_build(&s, zones, TG_ARRAY_SIZE(zones), members,
				TG_ARRAY_SIZE(members), err, sizeof(err)))
		fail_msg("build: %s", err);
	return s;
}

static struct sockaddr_storage addr(const char *a)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, a, &((struct sockaddr_in *)&ss)->sin_addr))
		ss.ss_family = AF_INET;
	else if (inet_pton(AF_INET6, a,
			   &((struct sockaddr_in6 *)&ss)->sin6_addr))
		ss.ss_family = AF_INET6;
	return ss;
}

static void test_locate_row(void **state)
{
	struct e911_snapshot *s = build();
	struct e911_caller c = {"12125552042", "pbx", NULL};
	struct e911_zone_row row;
	const struct e911_zone *z;

	(void)state;
	/* The one-number member is the narrowest: its floor and room
	 * replace the zone's; what it leaves empty stays the zone's. */
	z = e911_locate_row(s, &c, &row, NULL, 0);
	assert_non_null(z);
	assert_string_equal(e911_zone_row(z)->name, "hq-3");
	assert_string_equal(row.flr, "4");
	assert_string_equal(row.room, "410");
	assert_string_equal(row.hno, "350");
	assert_string_equal(e911_zone_row(z)->flr, "3");
	/* A neighbour in the same range keeps the zone's own. */
	c.calling = "12125552043";
	z = e911_locate_row(s, &c, &row, NULL, 0);
	assert_non_null(z);
	assert_string_equal(row.flr, "3");
	assert_string_equal(row.room, "");
	/* The default zone, unrefined. */
	c.calling = "2001";
	z = e911_locate_row(s, &c, &row, NULL, 0);
	assert_non_null(z);
	assert_string_equal(row.name, "default");
	obj_deref(s);
}

static void test_locate(void **state)
{
	static const struct {
		const char *calling, *trunk, *src, *zone;
	} rows[] = {
		/* the narrowest calling range wins over a wider one */
		{"12125552001", "pbx", NULL, "hq-3"},
		{"12125552055", "pbx", NULL, "hq-3-east"},
		{"+12125552055", "pbx", NULL, "hq-3-east"},
		/* calling ranges beat subnets; subnets beat trunks */
		{"12125552001", "labpbx", "10.20.30.5", "hq-3"},
		{"19995550000", "labpbx", "10.20.30.5", "hq-3-east"},
		{"19995550000", "labpbx", "10.20.99.5", "lab"},
		{"19995550000", "labpbx", "10.21.0.1", "lab"},
		{"", "labpbx", NULL, "lab"},
		{"19995550000", "pbx", "2001:db8:3:1::5", "hq-3"},
		{"19995550000", "pbx", "2001:db8:4::5", "default"},
		/* nothing matches: the zone called "default" */
		{"2001", "pbx", "192.0.2.1", "default"},
		{NULL, NULL, NULL, "default"},
	};
	struct e911_snapshot *s = build();
	char why[128];

	(void)state;
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct sockaddr_storage ss;
		struct e911_caller c = {rows[i].calling, rows[i].trunk, NULL};
		const struct e911_zone *z;

		if (rows[i].src) {
			ss = addr(rows[i].src);
			c.src = (struct sockaddr *)&ss;
		}
		z = e911_locate(s, &c, why, sizeof(why));
		if (!z || strcmp(e911_zone_row(z)->name, rows[i].zone))
			fail_msg("row %zu: zone %s (%s), want %s", i,
				 z ? e911_zone_row(z)->name : "none", why,
				 rows[i].zone);
	}
	{
		struct e911_caller c = {"12125552055", "pbx", NULL};

		e911_locate(s, &c, why, sizeof(why));
		assert_string_equal(why, "zone hq-3-east: calling "
					 "12125552050-12125552059");
	}
	/* Without a default zone, an unknown caller has none. */
	{
		struct e911_snapshot *t = NULL;
		struct e911_caller c = {"2001", "pbx", NULL};
		char err[128];

		assert_int_equal(e911_snapshot_build(&t, zones, 2, members, 2,
						     err, sizeof(err)), 0);
		assert_null(e911_locate(t, &c, why, sizeof(why)));
		obj_deref(t);
	}
	assert_non_null(e911_zone_of_elin(s, "12125550912"));
	assert_string_equal(e911_zone_row(e911_zone_of_elin(s,
				"+12125550921"))->name, "lab");
	assert_null(e911_zone_of_elin(s, "12125550999"));
	assert_int_equal(e911_zone_nelins(e911_zone_of_elin(s,
				"12125550911")), 2);
	obj_deref(s);
}

static void test_pick_elin(void **state)
{
	struct e911_snapshot *s = build();
	const struct e911_zone *z = e911_zone_at(s, 0);
	struct e911_elin_use use[2];

	(void)state;
	memset(use, 0, sizeof(use));
	assert_int_equal(e911_pick_elin(z, use), 0);
	/* the first is busy: the idle one */
	use[0].active = 1;
	assert_int_equal(e911_pick_elin(z, use), 1);
	/* both idle: the one idle longest (they rotate) */
	use[0] = (struct e911_elin_use){0, 5000};
	use[1] = (struct e911_elin_use){0, 9000};
	assert_int_equal(e911_pick_elin(z, use), 0);
	use[0].last_end_ms = 9500;
	assert_int_equal(e911_pick_elin(z, use), 1);
	/* both busy: the fewest calls, then the one idle longest */
	use[0] = (struct e911_elin_use){2, 100};
	use[1] = (struct e911_elin_use){1, 900};
	assert_int_equal(e911_pick_elin(z, use), 1);
	use[0].active = 1;
	assert_int_equal(e911_pick_elin(z, use), 0);
	obj_deref(s);
}

static void test_refused(void **state)
{
	static const struct {
		int field;
		const char *value;
		const char *want;
	} rows[] = {
		{0, "", "e911 zone: no name"},
		{1, "USA", "the address needs country"},
		{2, "", "the address needs country"},
		{3, "", "the address needs country"},
		{4, "", "no ELIN"},
		{4, "12125550911,abc", "ELIN 'abc' is not a number"},
		{4, "1,2,3,4,5,6,7,8,9", "more than 8 ELINs"},
		{5, "", "the address needs country"},
		{6, "2999", "callback_user without callback_trunk"},
		/* a location id stands for the address */
		{7, "", NULL},
	};
	char err[256];

	(void)state;
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		struct e911_zone_row z = zones[1];
		struct e911_snapshot *s = NULL;
		int rc;

		switch (rows[i].field) {
		case 0: strcpy(z.name, rows[i].value); break;
		case 1: strcpy(z.country, "US");
			memcpy(z.country, rows[i].value, 3); break;
		case 2: strcpy(z.a1, rows[i].value); break;
		case 3: strcpy(z.rd, rows[i].value); break;
		case 4: strcpy(z.elins, rows[i].value); break;
		case 5: strcpy(z.hno, rows[i].value); break;
		case 6: strcpy(z.callback_user, rows[i].value); break;
		case 7: strcpy(z.location_id, "X-1");
			strcpy(z.rd, ""); break;
		}
		err[0] = '\0';
		rc = e911_snapshot_build(&s, &z, 1, NULL, 0, err, sizeof(err));
		if (!rows[i].want) {
			assert_int_equal(rc, 0);
			obj_deref(s);
			continue;
		}
		if (rc != EINVAL || !strstr(err, rows[i].want))
			fail_msg("row %zu: rc %d '%s', want '%s'", i, rc, err,
				 rows[i].want);
		assert_null(s);
	}
	/* Members and duplicates. */
	{
		static const struct {
			struct e911_member_row m;
			const char *want;
		} mrows[] = {
			{{"nowhere", "calling", "1", "", "", ""}, "unknown zone 'nowhere'"},
			{{"hq-3", "calling", "200-1999", "", "", ""}, "equal-length"},
			{{"hq-3", "calling", "2099-2000", "", "", ""}, "equal-length"},
			{{"hq-3", "calling", "20x", "", "", ""}, "equal-length"},
			{{"hq-3", "subnet", "10.0.0.0/33", "", "", ""}, "address or CIDR"},
			{{"hq-3", "subnet", "10.0.0/8", "", "", ""}, "address or CIDR"},
			{{"hq-3", "subnet", "10.0.0.0/", "", "", ""}, "address or CIDR"},
			{{"hq-3", "trunk", "", "", "", ""}, "a trunk name"},
			{{"hq-3", "mac", "00:11", "", "", ""}, "kind 'mac'"},
		};
		struct e911_snapshot *s = NULL;
		struct e911_zone_row two[2] = {zones[0], zones[1]};

		for (size_t i = 0; i < TG_ARRAY_SIZE(mrows); i++) {
			int rc = e911_snapshot_build(&s, zones, 1, &mrows[i].m,
						     1, err, sizeof(err));

			if (rc != EINVAL || !strstr(err, mrows[i].want))
				fail_msg("member row %zu: rc %d '%s', want "
					 "'%s'", i, rc, err, mrows[i].want);
		}
		strcpy(two[1].name, "hq-3");
		assert_int_equal(e911_snapshot_build(&s, two, 2, NULL, 0, err,
						     sizeof(err)), EINVAL);
		assert_non_null(strstr(err, "e911 zone 'hq-3' twice"));
		strcpy(two[1].name, "other");
		strcpy(two[1].elins, "12125550912");
		assert_int_equal(e911_snapshot_build(&s, two, 2, NULL, 0, err,
						     sizeof(err)), EINVAL);
		assert_non_null(strstr(err, "ELIN 12125550912 in zones 'hq-3' "
					    "and 'other'"));
		strcpy(two[0].elins, "1, 1");
		assert_int_equal(e911_snapshot_build(&s, two, 1, NULL, 0, err,
						     sizeof(err)), EINVAL);
	}
}

static void test_address(void **state)
{
	char line[256], tiny[16];

	(void)state;
	e911_address_line(&zones[1], line, sizeof(line));
	assert_string_equal(line, "350 5th Ave, Floor 3, Room E12, New York, "
				  "NY, US");
	e911_address_line(&zones[0], line, sizeof(line));
	assert_string_equal(line, "ACME HQ, 350 5th Ave, Floor 3, New York, "
				  "NY 10118, US");
	e911_address_line(&zones[2], line, sizeof(line));
	assert_string_equal(line, "location id BW-LOC-7731");
	e911_address_line(&zones[0], tiny, sizeof(tiny));
	assert_true(strlen(tiny) < sizeof(tiny));
}

static void test_pidf(void **state)
{
	struct e911_zone_row z = zones[0];
	char doc[4096], tiny[200];
	/* 2026-11-23 15:00:00 UTC */
	const int64_t t = INT64_C(1795446000000);

	(void)state;
	strcpy(z.nam, "Smith & <Sons> \"HQ\"");
	strcpy(z.room, "3\x01" "A");
	assert_int_equal(e911_pidf(&z, "pres:+12125550911@gw", "tel:+1212555"
				   "0911", "caller", t, doc, sizeof(doc)), 0);
	assert_non_null(strstr(doc, "<ca:NAM>Smith &amp; &lt;Sons&gt; &quot;"
				    "HQ&quot;</ca:NAM>"));
	/* A control character has no place in XML 1.0: dropped. */
	assert_non_null(strstr(doc, "<ca:ROOM>3A</ca:ROOM>"));
	/* RFC 5139's order: ... RD, STS, HNO ... FLR, NAM, PC ... ROOM. */
	assert_true(strstr(doc, "<ca:RD>") < strstr(doc, "<ca:STS>"));
	assert_true(strstr(doc, "<ca:STS>") < strstr(doc, "<ca:HNO>"));
	assert_true(strstr(doc, "<ca:FLR>") < strstr(doc, "<ca:NAM>"));
	assert_true(strstr(doc, "<ca:PC>") < strstr(doc, "<ca:ROOM>"));
	assert_non_null(strstr(doc, "<dm:timestamp>2026-11-23T15:00:00Z"));
	assert_non_null(strstr(doc, "<gbp:retention-expiry>2026-11-24T15:00:"
				    "00Z"));
	assert_non_null(strstr(doc, "<dm:deviceID>tel:+12125550911<"));
	assert_null(strstr(doc, "<ca:A2>")); /* empty elements left out */
	/* Only a provider's location id. */
	assert_int_equal(e911_pidf(&zones[2], "pres:x@y", "tel:+1", "d", t,
				   doc, sizeof(doc)), 0);
	assert_non_null(strstr(doc, "<ca:civicAddress xml:lang=\"en\"><ca:LOC>"
				    "BW-LOC-7731</ca:LOC></ca:civicAddress>"));
	/* RFC 5139 3.3: the country in upper case, or left out when it is
	 * no alpha-2 code. */
	z = zones[0];
	strcpy(z.country, "us");
	assert_int_equal(e911_pidf(&z, "pres:x@y", "tel:+1", "d", t, doc,
				   sizeof(doc)), 0);
	assert_non_null(strstr(doc, "<ca:country>US</ca:country>"));
	strcpy(z.country, "USA");
	assert_int_equal(e911_pidf(&z, "pres:x@y", "tel:+1", "d", t, doc,
				   sizeof(doc)), 0);
	assert_null(strstr(doc, "<ca:country>"));
	assert_non_null(strstr(doc, "<ca:A1>NY</ca:A1>"));
	/* UTF-8 kept; a byte that is no UTF-8 character becomes '?'
	 * (Latin-1, an overlong '/', a surrogate, U+FFFE, > U+10FFFF, a
	 * sequence cut short). */
	z = zones[0];
	strcpy(z.a3, "Z\xc3\xbcrich \xe2\x82\xac\xf0\x9f\x9a\x92");
	strcpy(z.rd, "Z\xfcrich \xc0\xaf \xed\xa0\x80 \xef\xbf\xbe "
		     "\xf4\x90\x80\x80 5\xe2\x82");
	assert_int_equal(e911_pidf(&z, "pres:x@y", "tel:+1", "d", t, doc,
				   sizeof(doc)), 0);
	assert_non_null(strstr(doc, "<ca:A3>Z\xc3\xbcrich \xe2\x82\xac"
				    "\xf0\x9f\x9a\x92</ca:A3>"));
	assert_non_null(strstr(doc, "<ca:RD>Z?rich ?? ??? ??? ???? 5??"
				    "</ca:RD>"));
	z = zones[0];
	assert_int_equal(e911_pidf(&z, "pres:x@y", "tel:+1", "d", t, tiny,
				   sizeof(tiny)), ENOSPC);
	assert_string_equal(tiny, "");
}

static void test_pidf_read(void **state)
{
	struct e911_zone_row z, in;
	char doc[4096], elin[32];
	/* Teams' way: prefixes of its own, the ELIN in NAM. */
	static const char teams[] =
		"<?xml version=\"1.0\"?><presence xmlns=\"urn:ietf:params:xml:"
		"ns:pidf\" xmlns:cl=\"urn:ietf:params:xml:ns:pidf:geopriv10:"
		"civicAddr\" entity=\"pres:x@y\"><tuple id=\"t\"><status>"
		"<gp:geopriv xmlns:gp=\"urn:ietf:params:xml:ns:pidf:geopriv10"
		"\"><gp:location-info><cl:civicAddress><!-- a comment -->"
		"<cl:country>US</cl:country><cl:A1>WA</cl:A1><cl:A3>Redmond"
		"</cl:A3><cl:RD>Microsoft</cl:RD><cl:STS>Way</cl:STS>"
		"<cl:HNO>1</cl:HNO><cl:NAM>+14255550100</cl:NAM><cl:PC>98052"
		"</cl:PC><cl:A2/><cl:LOC>Bldg &amp; 4 &#x41;&#66;</cl:LOC>"
		"</cl:civicAddress></gp:location-info></gp:geopriv></status>"
		"</tuple></presence>";

	(void)state;
	/* What we send, we read back. */
	z = zones[0];
	strcpy(z.nam, "ACME <HQ> & co");
	assert_int_equal(e911_pidf(&z, "pres:x@y", "tel:+1", "d", 0, doc,
				   sizeof(doc)), 0);
	assert_int_equal(e911_pidf_read(doc, strlen(doc), &in, elin,
					sizeof(elin)), 0);
	assert_string_equal(in.name, "incoming");
	assert_string_equal(in.country, "US");
	assert_string_equal(in.a3, "New York");
	assert_string_equal(in.rd, "5th");
	assert_string_equal(in.hno, "350");
	assert_string_equal(in.flr, "3");
	assert_string_equal(in.nam, "ACME <HQ> & co");
	assert_string_equal(elin, "");
	/* Teams. */
	assert_int_equal(e911_pidf_read(teams, strlen(teams), &in, elin,
					sizeof(elin)), 0);
	assert_string_equal(in.a1, "WA");
	assert_string_equal(in.rd, "Microsoft");
	assert_string_equal(in.loc, "Bldg & 4 AB");
	assert_string_equal(in.a2, "");
	assert_string_equal(elin, "14255550100"); /* internal form */
	/* No civic address; not XML; cut short. */
	assert_int_equal(e911_pidf_read("<presence/>", 11, &in, elin,
					sizeof(elin)), ENOENT);
	assert_int_equal(e911_pidf_read("plain text", 10, &in, elin,
					sizeof(elin)), ENOENT);
	assert_int_equal(e911_pidf_read(teams, 200, &in, elin, sizeof(elin)),
			 EBADMSG);
	/* A value longer than its field is cut, not overrun. */
	{
		char big[600];
		int n = snprintf(big, sizeof(big), "<ca:civicAddress><ca:PC>");

		memset(big + n, '9', 300);
		strcpy(big + n + 300, "</ca:PC></ca:civicAddress>");
		assert_int_equal(e911_pidf_read(big, strlen(big), &in, elin,
						sizeof(elin)), 0);
		assert_int_equal(strlen(in.pc), sizeof(in.pc) - 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_locate),
		cmocka_unit_test(test_locate_row),
		cmocka_unit_test(test_pick_elin),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_address),
		cmocka_unit_test(test_pidf),
		cmocka_unit_test(test_pidf_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
