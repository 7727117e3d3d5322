/* dialplan/rules.h  Numbers, manipulation rules, failover classes, emergency
 *
 * Pure logic, like the rest of dialplan/: no I/O, no clock, no globals
 * beyond const tables.  Rule sets and failover override tables are
 * immutable snapshots (objs) built from rows and refused as a whole,
 * with a message naming the bad row, when one row is wrong.
 */
#ifndef TG_DIALPLAN_RULES_H
#define TG_DIALPLAN_RULES_H

#include <stdbool.h>
#include <stddef.h>

/* ---- numbers (dialplan/number.c) -------------------------------------- */

/** Type of number, with the Q.931 4.5.10 / 4.5.8 code points. */
enum dp_ton {
	DP_TON_UNKNOWN = 0,
	DP_TON_INTERNATIONAL = 1,
	DP_TON_NATIONAL = 2,
	DP_TON_NETWORK = 3,    /* network-specific */
	DP_TON_SUBSCRIBER = 4, /* local */
	DP_TON_ABBREVIATED = 6,
};

/** Numbering plan identification, Q.931 code points. */
enum dp_npi {
	DP_NPI_UNKNOWN = 0,
	DP_NPI_E164 = 1, /* ISDN/telephony, ITU-T E.164 */
	DP_NPI_PRIVATE = 9,
};

enum dp_pres {
	DP_PRES_ALLOWED = 0,
	DP_PRES_RESTRICTED = 1,
};

/* E.164 6.1: at most 15 digits.  The buffer also holds dialled forms
 * (international prefix + 15 digits, '+', '*', '#'). */
#define DP_E164_MAX   15
#define DP_NUMBER_MAX 32

struct dp_number {
	char digits[DP_NUMBER_MAX + 1];
	enum dp_ton ton;
	enum dp_npi npi;
	enum dp_pres pres;
};

/**
 * How one trunk writes numbers.  Strings are digits; "" means "none".
 * Example NANP: {"1", "1", "011", "212", 7, 10, false}.
 */
struct dp_country_plan {
	char cc[4];		 /* country code, E.164 (1-3 digits) */
	char national_prefix[4]; /* trunk prefix: "1" NANP, "0" Europe */
	char intl_prefix[8];	 /* "011" NANP, "00" Europe */
	char area_code[8];	 /* default area for local numbers */
	unsigned local_len;	 /* local number length; 0 = any */
	unsigned nsn_len;	 /* national significant number length
				  * when fixed (10 for NANP): then a bare
				  * number of that length is national */
	bool bare_is_e164;	 /* the trunk sends E.164 without '+' */
};

/** Egress formats of dp_number_format(). */
enum dp_number_fmt {
	DP_FMT_PLUS,		/* "+CCNSN", TON international */
	DP_FMT_E164,		/* "CCNSN", TON international (PRI) */
	DP_FMT_NATIONAL,	/* "NSN", TON national (PRI); foreign
				 * numbers stay international */
	DP_FMT_NATIONAL_PREFIX, /* dialled: "0NSN" / "00CCNSN", TON unknown */
	DP_FMT_LOCAL,		/* subscriber number within the default
				 * area, else as DP_FMT_NATIONAL */
};

/**
 * Turn what a trunk sent into the internal form: E.164 digits with the
 * country code and no '+', TON international, NPI E.164.
 * @param in   digits, "+digits", or a tel:/sip:/sips: URI (its user part);
 *             RFC 3966 visual separators "-", ".", "(", ")" and spaces
 *             are dropped.
 * @param ton  what the trunk said (Q.931 TON, or DP_TON_UNKNOWN for SIP).
 * Network-specific and abbreviated numbers are not E.164: they are
 * copied cleaned with their TON and NPI unknown.
 * @return 0; EINVAL for garbage (letters, empty, a number of no known
 *         form, leading 0 after the country code position); ERANGE if
 *         the result has more than 15 digits.
 */
int dp_number_normalize(struct dp_number *out, const char *in, enum dp_ton ton,
			const struct dp_country_plan *cp);

/**
 * Format an internal-form number (TON international) for a trunk.
 * Numbers of another TON are copied unchanged.
 * @return 0, or EINVAL when @p fmt is unknown or the number is not digits.
 */
int dp_number_format(struct dp_number *out, const struct dp_number *num,
		     enum dp_number_fmt fmt, const struct dp_country_plan *cp);

/** Name <-> enum, for rows and traces: "international", "isdn", ... */
const char *dp_ton_name(enum dp_ton ton);
const char *dp_npi_name(enum dp_npi npi);
int dp_ton_parse(enum dp_ton *ton, const char *name);
int dp_npi_parse(enum dp_npi *npi, const char *name);

/* ---- manipulation rules (dialplan/rules.c) ---------------------------- */

/**
 * One rule as stored.  @c kind is "any", "prefix", "pattern" (Asterisk
 * style: _NXXNXXXXXX, X Z N [1-5] digits * #, a trailing '.' = one or
 * more, '!' = zero or more; without '_' the pattern is a literal number)
 * or "regex" (PCRE2, unanchored unless written with ^ and $).
 * @c actions is a comma-separated list applied in this order whatever
 * the order written: replace (regex rules; @c replace is the PCRE2
 * substitution template, $1 or ${1}), strip=N, prepend=DIGITS,
 * ton=NAME, npi=NAME, pres=allowed|restricted, and "continue" to go on
 * with the rules below (each rule applies at most once, so a chain
 * ends after n rules).
 */
struct dp_rule_row {
	char name[32]; /* for messages and traces; "" = its position */
	char kind[12];
	char match[128];
	char trunk[32]; /* only numbers from this trunk; "" = any */
	char ton[16];	/* only numbers of this TON; "" = any */
	char actions[128];
	char replace[64];
};

struct dp_rules;

/**
 * Build an immutable rule set (an obj) from @p n rows in order.
 * @param err receives why the set was refused, naming the row: an
 *        unknown kind, TON or action, a bad pattern, a PCRE2 compile
 *        error with its offset, a template naming a missing group.
 * @return 0, EINVAL (see @p err) or ENOMEM.
 */
int dp_rules_build(struct dp_rules **out, const struct dp_rule_row *rows,
		   size_t n, char *err, size_t errsize);

/**
 * Rewrite @p num with the first rule matching (and those after it
 * while matched rules say "continue").
 * @param trunk  source trunk name, or NULL.
 * @param trace  if not NULL, receives one line per rule that applied
 *               (or "no rule matched"), truncated to @p tracesize.
 * @return 0 (also when nothing matched); ERANGE if a result would not
 *         fit a number; ELOOP if a regex hit its match limit; ENOMEM.
 *         On error @p num is left as it was.
 */
int dp_rules_apply(const struct dp_rules *rules, const char *trunk,
		   struct dp_number *num, char *trace, size_t tracesize);

size_t dp_rules_count(const struct dp_rules *rules);

/**
 * Does @p number match the Asterisk-style @p pattern?  Patterns are
 * checked by dp_rules_build(); here an invalid pattern matches nothing.
 */
bool dp_pattern_match(const char *pattern, const char *number);

/* ---- failover classes (dialplan/failover.c) --------------------------- */

enum dp_failure_class {
	DP_FAIL_ROUTE, /* this trunk cannot carry the call: try the next */
	DP_FAIL_FINAL, /* the callee said no: stop and tell the caller */
};

/* The attempt got no final response at all (Timer B/F, transport
 * error, DNS failure, trunk down).  Not a real status code. */
#define DP_SIP_NO_RESPONSE 0

/** Built-in class of a SIP final status (0 = no response). */
enum dp_failure_class dp_failover_sip(int status);
/** Built-in class of a Q.850 cause. */
enum dp_failure_class dp_failover_q850(int cause);

struct dp_failover;

/**
 * Build a per-route override table (an obj) from items such as
 * "sip:503=final", "q850:1=route", or "wrong-number=route" (fail over
 * on SIP 404 / Q.850 1 like innovaphone does; off by default).
 * @param err names the bad item.  @return 0, EINVAL or ENOMEM.
 */
int dp_failover_build(struct dp_failover **out, const char *const *items,
		      size_t n, char *err, size_t errsize);

/** Class with overrides; @p fo NULL = built-in table. */
enum dp_failure_class dp_failover_class_sip(const struct dp_failover *fo,
					    int status);
enum dp_failure_class dp_failover_class_q850(const struct dp_failover *fo,
					     int cause);

/** How one attempt ended. */
struct dp_attempt_result {
	int sip_status; /* final status; DP_SIP_NO_RESPONSE if none */
	int q850_cause; /* cause (Q.931 or a Reason header); 0 if none */
};

/**
 * Class of an attempt: its Q.850 cause when it has one (the Reason
 * header carries the real cause end to end, RFC 3326/6432), else its
 * SIP status.
 */
enum dp_failure_class dp_failover_result(const struct dp_failover *fo,
					 const struct dp_attempt_result *r);

/**
 * When every attempt failed, the index of the failure to report to the
 * caller: the callee's own answer beats a trunk failure, whatever the
 * route overrides said.  @return an index < @p n, or @p n if n == 0.
 */
size_t dp_failure_pick(const struct dp_attempt_result *r, size_t n);

/* ---- emergency class (dialplan/number.c) ------------------------------- */

enum dp_emergency_class {
	DP_EMERG_NONE = 0,
	DP_EMERG_EMERGENCY,
	DP_EMERG_TEST, /* 933 style: same path, its own CDR flag */
};

struct dp_emergency_entry {
	char number[16];  /* what is dialled: "911", "9911" */
	char service[16]; /* canonical service number: "911" */
	enum dp_emergency_class cls;
};

struct dp_emergency {
	const struct dp_emergency_entry *entries;
	size_t n;
};

/** 911, 112, and 933 (test). */
extern const struct dp_emergency dp_emergency_default;
/** The defaults plus 9911, 9112, 9933 for sites that dial 9 out. */
extern const struct dp_emergency dp_emergency_default_dial9;

/**
 * Validate a site's table: digits, a service, a class, no duplicates.
 * @return 0 or EINVAL with @p err naming the entry.
 */
int dp_emergency_check(const struct dp_emergency *table, char *err,
		       size_t errsize);

/**
 * Class of a dialled @p number: an exact match in @p table (NULL = the
 * defaults; "9110" is not 911), or urn:service:sos* (RFC 5031), or
 * urn:service:test.sos* (RFC 6881 15) as a test call.
 * @param service if not NULL, receives the canonical service ("911",
 *        "urn:service:sos"), or NULL for DP_EMERG_NONE; it points into
 *        @p table or @p number.
 */
enum dp_emergency_class dp_emergency_match(const struct dp_emergency *table,
					   const char *number,
					   const char **service);

#endif
