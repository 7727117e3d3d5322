/* dialplan/dialplan.h  Number routing over immutable snapshots (pure logic)
 *
 * Nothing here does I/O.  A snapshot is built from rows read elsewhere,
 * validated as a whole, then swapped in; calls keep the snapshot they
 * started with by holding a reference (obj_ref/obj_deref).
 */
#ifndef TG_DIALPLAN_H
#define TG_DIALPLAN_H

#include <stdbool.h>
#include <stddef.h>

/** A block of consecutive DIDs: equal-length digit strings, first<=last. */
struct dp_did_range {
	char first[32];
	char last[32];
	char trunk[32]; /* destination trunk name */
	char user[64];  /* Request-URI user to send: "" = the DID itself;
			 * "last:N[:PREFIX]" = PREFIX and the DID's last N
			 * digits (an extension derived from it); anything
			 * else = that user */
	char cid[32];   /* calling number shown to the destination; "" =
			 * the caller's own */
	char failover_trunk[32];  /* tried when the destination fails with
				   * a route-class cause; "" = none */
	char failover_number[32]; /* number sent there; "" = the DID */
};

struct dp_did_table;

/**
 * Build a table from @p n rows.  Rows are copied and sorted.
 * @param errbuf receives why a table was refused (bad digits, unequal
 *        lengths, first > last, overlapping ranges), naming the row.
 * @return 0, EINVAL (see errbuf) or ENOMEM.  The table is an obj.
 */
int dp_did_table_build(struct dp_did_table **tp,
		       const struct dp_did_range *rows, size_t n,
		       char *errbuf, size_t errsize);
/** The range holding @p number, or NULL.  O(log n). */
const struct dp_did_range *dp_did_lookup(const struct dp_did_table *t,
					 const char *number);
size_t dp_did_count(const struct dp_did_table *t);
/** The user to send for @p did (digits) by range @p d's user rule. */
int dp_did_user(const struct dp_did_range *d, const char *did, char *out,
		size_t size);
/** Is @p user a derived form ("last:N[:PREFIX]")? */
bool dp_did_user_derived(const char *user);

/** Is @p s a non-empty string of decimal digits? */
int dp_is_digits(const char *s);

/* Numbers, manipulation rules, failover classes, the emergency class. */
#include "dialplan/rules.h"
/* Rate decks and least-cost routing. */
#include "dialplan/lcr.h"
/* The snapshot and the routing decision. */
#include "dialplan/route.h"

#endif
