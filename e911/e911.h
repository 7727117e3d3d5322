/* e911/e911.h  Where an emergency caller is, and who the PSAP calls back
 *
 * Pure logic over an immutable snapshot, like dialplan/: location zones
 * (a civic address in RFC 5139 terms, a provider location id, the ELINs
 * that stand for the zone on the PSTN) and the rules that put a caller in
 * a zone (calling-number ranges, source subnets, source trunks).  The
 * snapshot is built from the database's e911_zone and e911_member rows;
 * the live state (which ELIN is in use, who last called from it) belongs
 * to call control and is handed in.
 */
#ifndef TG_E911_H
#define TG_E911_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define E911_NAME_SIZE 32
#define E911_MAX_ELINS 8
#define E911_NUM_SIZE  32

/** A zone as stored (table e911_zone).  Address fields are RFC 5139's. */
struct e911_zone_row {
	char name[E911_NAME_SIZE];
	char country[4];        /* ISO 3166 alpha-2, "US" */
	char a1[64], a2[64], a3[64], a4[64], a5[64], a6[64];
	char prd[16], pod[16], sts[32]; /* street prefix, suffix, type */
	char rd[96];            /* road */
	char hno[16], hns[16];  /* house number and suffix */
	char lmk[64], loc[64];  /* landmark, additional location */
	char flr[16], unit[16], room[16], bld[64];
	char nam[96];           /* name of the site */
	char pc[16];            /* postal code */
	char location_id[64];   /* the E911 provider's id, "" none */
	char elins[160];        /* comma-separated numbers in internal form */
	char callback_trunk[E911_NAME_SIZE]; /* a PSAP call to an ELIN after
					      * the window; "" = its DID */
	char callback_user[E911_NUM_SIZE];
};

/** Who belongs to a zone (table e911_member). */
struct e911_member_row {
	char zone[E911_NAME_SIZE];
	char kind[12];  /* "calling": a number or FIRST-LAST range of calling
			 * numbers (internal form); "subnet": a source
			 * address or CIDR; "trunk": a source trunk */
	char match[64];
	/* Per-caller refinement of the zone's address (RAY BAUM's Act:
	 * the floor, room or unit of these callers); "" = the zone's. */
	char flr[16], unit[16], room[16];
};

struct e911_snapshot;
struct e911_zone; /* opaque: in the snapshot */

/**
 * Build a snapshot.  Every zone needs a country, A1, A3, a road (or a
 * landmark) and a house number, or a provider location id, and at least
 * one ELIN of digits; members must name a zone and be well formed.
 * @param err  why it was refused, naming the zone or member.
 * @return 0, EINVAL or ENOMEM.  The snapshot is an obj (obj_deref).
 */
int e911_snapshot_build(struct e911_snapshot **out,
			const struct e911_zone_row *zones, size_t nzones,
			const struct e911_member_row *members, size_t nmembers,
			char *err, size_t errsize);
size_t e911_zone_count(const struct e911_snapshot *s);
const struct e911_zone *e911_zone_at(const struct e911_snapshot *s, size_t i);

/** What is known of an emergency caller. */
struct e911_caller {
	const char *calling;           /* internal form, "" unknown */
	const char *src_trunk;
	const struct sockaddr *src;    /* SIP source address, or NULL */
};

/**
 * The caller's zone: a calling-number member first (the most specific:
 * shortest range), then a subnet (longest prefix), then a source trunk,
 * then the zone named "default".  NULL when none applies.
 * @param why  if not NULL, one line: which member matched.
 */
const struct e911_zone *e911_locate(const struct e911_snapshot *s,
				    const struct e911_caller *c, char *why,
				    size_t whysize);
/**
 * The same, and the caller's own location in @p row: the zone's address
 * with the floor, unit and room of the member that placed the caller,
 * where it gives them.  @p row is untouched when NULL is returned.
 */
const struct e911_zone *e911_locate_row(const struct e911_snapshot *s,
					const struct e911_caller *c,
					struct e911_zone_row *row, char *why,
					size_t whysize);

const struct e911_zone_row *e911_zone_row(const struct e911_zone *z);
size_t e911_zone_nelins(const struct e911_zone *z);
const char *e911_zone_elin(const struct e911_zone *z, size_t i);
/** The zone called @p name, or NULL. */
const struct e911_zone *e911_zone_by_name(const struct e911_snapshot *s,
					  const char *name);
/** The zone whose ELINs include @p number, or NULL. */
const struct e911_zone *e911_zone_of_elin(const struct e911_snapshot *s,
					  const char *number);

/** Live use of one ELIN, kept by call control. */
struct e911_elin_use {
	unsigned active;     /* emergency calls using it now */
	int64_t last_end_ms; /* when its last call ended, 0 never */
};

/**
 * Which ELIN of @p z the next call uses: an idle one whose last call ended
 * longest ago (so calls rotate over the pool); when all are busy, the one
 * with the fewest calls, then the one idle longest.  @p use[i] describes
 * e911_zone_elin(z, i).  @return the index.
 */
size_t e911_pick_elin(const struct e911_zone *z,
		      const struct e911_elin_use *use);

/**
 * A PIDF-LO document (RFC 4119, civic address RFC 5139, RFC 5491 profile:
 * location in a dm:device, with method, timestamp and usage rules) for a
 * caller in zone @p z.
 * @param entity     the presentity, "pres:+12125550911@gw.example"
 * @param device_id  "tel:+12125550911" (the callback number)
 * @param device     the dm:device id (the Content-ID's local part)
 * @param now_ms     the timestamp (and retention: 24 hours later)
 * @return 0, or ENOSPC when @p size is too small.
 */
int e911_pidf(const struct e911_zone_row *z, const char *entity,
	      const char *device_id, const char *device, int64_t now_ms,
	      char *out, size_t size);

/**
 * Read the location in a PIDF-LO someone sent us (Teams, a PBX): the RFC
 * 4119/5139 civic address elements, by local name whatever the prefixes,
 * into @p out (name "incoming"; unknown elements ignored; entities
 * decoded; values cut to their fields).  @p elin gets the NAM element when
 * it is a telephone number (Microsoft's way of sending the ELIN), in
 * internal form (digits, no "+"), else "".
 * Bounded work for any input: no recursion, one pass.
 * @return 0 when a civicAddress was found, ENOENT when there is none,
 *         EBADMSG for text that is no XML element structure.
 */
int e911_pidf_read(const char *xml, size_t len, struct e911_zone_row *out,
		   char *elin, size_t esize);

/**
 * One-line civic address of a zone, for logs and notifications:
 * "1200 N Main St, Bldg A, Floor 3, Room 310, Denver, CO 80202, US".
 */
void e911_address_line(const struct e911_zone_row *z, char *out,
		       size_t size);

#endif
