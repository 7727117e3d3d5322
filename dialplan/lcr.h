/* dialplan/lcr.h  Least-cost routing over carrier rate decks (pure logic)
 *
 * Rates arrive as struct dp_rate rows, from a CSV rate deck through
 * dp_ratedeck_parse_csv() or from the database.  dp_lcr_build() validates
 * them and builds an immutable snapshot (an obj) for longest-prefix
 * lookups across all carriers.  Every row keeps its effective dates and
 * the lookup takes the time as a parameter, so a new rate takes over on
 * its date without a rebuild.  Money is integer micro-units of the deck's
 * currency: 0.0125/min is 12500, and no float ever touches a bill.
 */
#ifndef TG_DIALPLAN_LCR_H
#define TG_DIALPLAN_LCR_H

#include <stddef.h>
#include <stdint.h>

#define DP_RATE_PREFIX_MAX   20      /* digits, E.164 without '+' */
#define DP_RATE_CARRIER_SIZE 32      /* trunk name, with its NUL */
#define DP_RATE_DESC_SIZE    64      /* description, with its NUL */
#define DP_RATE_MICRO        1000000 /* micro-units per currency unit */
/* Caps that keep dp_rate_cost() exact in 64 bits for any call length. */
#define DP_RATE_MAX      (INT64_C(1000) * DP_RATE_MICRO)
#define DP_RATE_INCR_MAX 3600
/* Effective dates end with year 9999. */
#define DP_RATE_TIME_MAX INT64_C(253402300799)

#define DP_LCR_MAX_CARRIERS 1024

#define DP_RATEDECK_MAX_BYTES  ((size_t)256 << 20)
#define DP_RATEDECK_LINE_MAX   4096 /* bytes of field data per record */
#define DP_RATEDECK_MAX_FIELDS 64

/** One rate: what @p carrier charges for numbers starting with @p prefix. */
struct dp_rate {
	char prefix[DP_RATE_PREFIX_MAX + 1];
	char carrier[DP_RATE_CARRIER_SIZE];
	int64_t rate;        /* micro-units per minute */
	int64_t conn_fee;    /* micro-units once per connected call */
	unsigned first_incr; /* seconds billed at least (60 in 60/6) */
	unsigned next_incr;  /* then billed in steps of (6 in 60/6) */
	int64_t from;        /* effective from, Unix seconds UTC, inclusive */
	int64_t until;       /* effective until, exclusive; 0 = open-ended */
	char desc[DP_RATE_DESC_SIZE];
};

/**
 * Check one row: prefix of 1-20 digits, a carrier name without control
 * characters, 0 <= rate and fee <= DP_RATE_MAX, increments 1-3600,
 * 0 <= from <= DP_RATE_TIME_MAX, until 0 or after from, strings
 * terminated.  @param why (may be NULL) receives the reason.
 * @return 0 or EINVAL.
 */
int dp_rate_check(const struct dp_rate *r, char *why, size_t whysize);

/**
 * Cost of a connected call of @p seconds at rate @p r, in micro-units:
 * the connection fee, plus the rate for the first increment and then for
 * whole next increments, the last one rounded up (61 s at 60/60 bills
 * 120 s), and the fraction of a micro-unit rounded up.  0 seconds means
 * the call never connected and costs nothing; round an answered call's
 * duration up to whole seconds before calling.
 * @param r a row dp_rate_check() accepts (others are clamped, not UB).
 */
int64_t dp_rate_cost(const struct dp_rate *r, unsigned seconds);

/* ---- CSV rate decks --------------------------------------------------- */

/**
 * Called for every accepted line.  @p line is where its record starts.
 * A non-zero return stops parsing, and dp_ratedeck_parse_csv returns it.
 */
typedef int(dp_rate_row_h)(const struct dp_rate *r, unsigned line,
			   void *arg);
/** Called for every rejected line, with why (a sentence without a
 *  trailing newline).  Line 0 means the deck as a whole.  Non-zero stops
 *  parsing, as above. */
typedef int(dp_rate_err_h)(unsigned line, const char *why, void *arg);

/**
 * Parse a CSV rate deck held in @p buf.  The first non-blank line names
 * the columns (any order, case, spacing or punctuation; unknown columns
 * are ignored); the separator is whichever of ',' ';' or TAB that line
 * uses most.  Fields may be quoted ("a, ""b""" with embedded separators,
 * quotes and newlines); CRLF, LF and CR line ends, a UTF-8 BOM, blank
 * lines and lines starting with '#' are accepted.
 *
 * Columns: prefix (or code, dial code...), rate (rate per minute, price,
 * cost...), connection fee (setup fee...), increment ("60/60", "6/6",
 * "60", or separate first/next increment columns), effective from and
 * effective until (YYYY-MM-DD, ISO 8601 date-time with Z or an offset,
 * or Unix seconds), description, and carrier (overrides @p carrier).
 * Defaults: fee 0, increments 60/60, effective since ever, open-ended.
 * Amounts take '.' or ',' as the decimal mark and at most 6 decimals.
 * A description longer than DP_RATE_DESC_SIZE - 1 bytes is cut at a
 * UTF-8 character boundary.
 *
 * @param carrier trunk name for rows without a carrier column; may be
 *        NULL or "" if the deck has that column.
 * @return 0 when every line was delivered to @p rowh or @p errh (some
 *         may have been rejected); EBADMSG if there is no usable header
 *         (reported to @p errh); EFBIG if @p len exceeds
 *         DP_RATEDECK_MAX_BYTES (reported at line 0); or what a handler
 *         returned to stop.
 */
int dp_ratedeck_parse_csv(const char *buf, size_t len, const char *carrier,
			  dp_rate_row_h *rowh, dp_rate_err_h *errh, void *arg);

/* ---- snapshot and lookup ------------------------------------------------ */

struct dp_lcr;

/** A carrier's recent answer-seizure ratio, used only to break ties. */
struct dp_lcr_asr {
	const char *carrier; /* NULL ends an array of these */
	unsigned permille;   /* 0-1000; higher ranks first */
};

/** One route choice: a copy of the rate row used, so a call can keep it
 *  for its CDR after the snapshot is gone. */
struct dp_lcr_choice {
	struct dp_rate rate; /* rate.prefix is the matched prefix */
};

/**
 * Build a snapshot from @p n rows (copied; the caller keeps @p rows).
 * Refused with the row named (1-based) in @p err: a row dp_rate_check()
 * rejects, two rows of one carrier and prefix whose dates overlap, more
 * than DP_LCR_MAX_CARRIERS carriers or 65535 rows for one prefix.
 * @return 0 and *@p out (an obj: obj_deref it), EINVAL or ENOMEM.
 */
int dp_lcr_build(struct dp_lcr **out, const struct dp_rate *rows, size_t n,
		 char *err, size_t errsize);

/**
 * Route @p number (digits only) at time @p t (Unix seconds UTC): for each
 * carrier, the longest prefix of @p number with a rate effective at t
 * (from <= t < until); then those carriers cheapest first: by rate per
 * minute, then connection fee, then ASR from @p asr (a NULL-terminated
 * array, or NULL; a carrier missing from it counts as 0), then carrier
 * name.  Writes at most @p max choices to @p out.
 * @return the number of choices written; 0 when nothing matches, the
 *         number is not digits, or @p l is NULL.  No allocation.
 */
size_t dp_lcr_lookup(const struct dp_lcr *l, const char *number, int64_t t,
		     const struct dp_lcr_asr *asr, struct dp_lcr_choice *out,
		     size_t max);

/** Rows in the snapshot. */
size_t dp_lcr_count(const struct dp_lcr *l);
/** Bytes the snapshot holds (its arrays and tables). */
size_t dp_lcr_memory(const struct dp_lcr *l);

#endif
