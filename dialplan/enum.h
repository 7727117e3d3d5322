/* dialplan/enum.h  ENUM (RFC 6116): owner names and NAPTR selection
 *
 * Pure functions: the DNS lookup itself is sip/'s (c-ares on the loop);
 * what to ask for and what to make of the answer is here.
 */
#ifndef TG_DIALPLAN_ENUM_H
#define TG_DIALPLAN_ENUM_H

#include <stddef.h>

#define DP_ENUM_NAME_SIZE 256
#define DP_ENUM_URI_SIZE  256

/**
 * The owner name of an E.164 number under @p domain (RFC 6116 2.4):
 * "+12125551234" (the '+' is optional) and "e164.arpa" give
 * "4.3.2.1.5.5.5.2.1.2.1.e164.arpa".
 * @return 0; EINVAL when the number is not 1 to 15 digits or the domain
 *         is not a host name (letters, digits, '-', dots between labels of
 *         1-63 characters; one trailing dot is dropped); ENOSPC.
 */
int dp_enum_name(const char *e164, const char *domain, char *out, size_t size);

/** One NAPTR record as DNS gave it (RFC 3403 4.1). */
struct dp_naptr {
	unsigned order, preference;
	char flags[16];
	char service[64];
	char regexp[256];
	char replacement[256];
};

/**
 * Apply a NAPTR regexp field (RFC 3402 3.2: DELIM ERE DELIM REPL DELIM
 * [i]) to the application-unique string @p aus.  The delimiter is any
 * character but a digit, a flag or '\'; in REPL, \1 to \9 stand for the
 * ERE's groups and '\' escapes the next character (the delimiter among
 * them).  A back-reference to a group the ERE does not have is an error.
 * @return 0 with the result in @p out; ENOENT when the ERE does not
 *         match; EINVAL for a malformed field (why in @p err); ENOSPC.
 */
int dp_enum_regexp(const char *regexp, const char *aus, char *out, size_t size,
		   char *err, size_t errsize);

/**
 * Choose the SIP URI for @p e164 among @p n records (RFC 6116 3.4): only
 * terminal records (flags "u") whose service is "E2U" with an enumservice
 * of type "sip" ("E2U+sip", "E2U+sip:voice", any case); lowest order,
 * then lowest preference, first; the first whose regexp turns the AUS
 * ("+" and the digits) into a "sip:" or "sips:" URI without spaces,
 * control characters, '<', '>' or '"' wins.  Other records are skipped;
 * @p err says why the last one was.
 * @return 0 with the URI in @p uri; ENOENT when no record gives one;
 *         EINVAL when @p e164 is not a number.
 */
int dp_enum_select(const char *e164, const struct dp_naptr *recs, size_t n,
		   char *uri, size_t size, char *err, size_t errsize);

#endif
