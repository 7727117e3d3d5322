/* tests/tools/pidf_dump.c  Write e911_pidf() documents for schema tests */

/*
 * pidf_dump DIR writes one PIDF-LO per case below into DIR/NAME.xml, as
 * e911_pidf() builds it for that zone, for tests/integration/pidf_schema.sh
 * to validate against tests/schema/pidf-lo.xsd.  The cases cover what the
 * zone table can hold: every civic field, a provider's id alone, the least
 * address a zone may have, the XML specials, non-ASCII UTF-8, and values
 * the zone table accepts but the RFCs do not (a lower-case country, bytes
 * that are no UTF-8).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "e911/e911.h"

struct dump_case {
	const char *file, *entity, *device_id;
	struct e911_zone_row z;
};

static const struct dump_case cases[] = {
	{"full", "pres:+12125550911@gw.example", "tel:+12125550911",
	 {.name = "full", .country = "US", .a1 = "NY", .a2 = "New York",
	  .a3 = "New York", .a4 = "Manhattan", .a5 = "Midtown",
	  .a6 = "Koreatown", .prd = "W", .pod = "NE", .sts = "Ave",
	  .rd = "5th", .hno = "350", .hns = "A", .lmk = "Empire State",
	  .loc = "North lobby", .flr = "3", .unit = "Suite 300",
	  .room = "E12", .bld = "Tower 1", .nam = "ACME HQ", .pc = "10118",
	  .location_id = "BW-LOC-1", .elins = "12125550911"}},
	{"locid", "pres:+12125550921@gw.example", "tel:+12125550921",
	 {.name = "lab", .location_id = "BW-LOC-7731",
	  .elins = "12125550921"}},
	{"minimal", "pres:+12125550900@gw.example", "tel:+12125550900",
	 {.name = "default", .country = "US", .a1 = "NY", .a3 = "New York",
	  .rd = "5th", .hno = "350", .elins = "12125550900"}},
	{"landmark", "pres:+12125550901@gw.example", "tel:+12125550901",
	 {.name = "park", .country = "US", .a1 = "NY", .a3 = "New York",
	  .lmk = "Central Park Boathouse", .elins = "12125550901"}},
	{"specials", "pres:o'brien&co@gw.example", "tel:+12125550931",
	 {.name = "specials", .country = "US", .a1 = "NY", .a3 = "A<B>C",
	  .rd = "O'Brien & \"Sons\"", .hno = "1<2", .loc = "'>\"&<'",
	  .nam = "Smith & <Sons> \"HQ\" 'Ltd'", .pc = "&amp;",
	  .room = "3\001\037A", .elins = "12125550931"}},
	{"utf8", "pres:+41445550911@gw.example", "tel:+41445550911",
	 {.name = "utf8", .country = "CH", .a1 = "ZH",
	  .a3 = "Z\xc3\xbcrich", .rd = "Bahnhofstra\xc3\x9f" "e",
	  .hno = "1", .nam = "\xe6\x9d\xb1\xe4\xba\xac \xe2\x82\xac "
	  "\xf0\x9f\x9a\x92", .elins = "41445550911"}},
	{"lowercase", "pres:+12125550941@gw.example", "tel:+12125550941",
	 {.name = "lowercase", .country = "us", .a1 = "NY",
	  .a3 = "New York", .rd = "5th", .hno = "350",
	  .elins = "12125550941"}},
	{"badutf8", "pres:+12125550951@gw.example", "tel:+12125550951",
	 {.name = "badutf8", .country = "US", .a1 = "NY",
	  .a3 = "Z\xfcrich", .rd = "\xc0\xaf" "5th\xed\xa0\x80",
	  .hno = "35\xc3", .nam = "\xef\xbf\xbe" "ACME\xf4\x90\x80\x80",
	  .elins = "12125550951"}},
};

int main(int argc, char **argv)
{
	/* 2026-11-23 15:00:00 UTC */
	const int64_t now = INT64_C(1795446000000);
	static char doc[8192];

	if (argc != 2) {
		fprintf(stderr, "usage: pidf_dump DIR\n");
		return 2;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct dump_case *c = &cases[i];
		char path[4096];
		FILE *f;
		int err;

		err = e911_pidf(&c->z, c->entity, c->device_id, "caller", now,
				doc, sizeof(doc));
		if (err) {
			fprintf(stderr, "%s: e911_pidf: %s\n", c->file,
				strerror(err));
			return 1;
		}
		snprintf(path, sizeof(path), "%s/%s.xml", argv[1], c->file);
		f = fopen(path, "w");
		if (!f || fputs(doc, f) == EOF || fclose(f)) {
			perror(path);
			return 1;
		}
	}
	return 0;
}
