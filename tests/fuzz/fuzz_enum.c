/* tests/fuzz/fuzz_enum.c  libFuzzer target: ENUM NAPTR records from DNS
 *
 * The input is lines: a number, a domain, then groups of four lines
 * (flags, service, regexp, replacement) for up to four NAPTR records, the
 * kind of data a hostile ENUM zone can hand us.  Results must stay inside
 * their buffers, and a chosen URI must be a SIP URI.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/util.h"
#include "dialplan/enum.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Copy the next line (cut to @p cap - 1) into @p out. */
static void next_line(const char **p, const char *end, char *out, size_t cap)
{
	size_t n = 0;

	while (*p < end && **p != '\n') {
		if (n + 1 < cap)
			out[n++] = **p;
		(*p)++;
	}
	if (*p < end)
		(*p)++;
	out[n] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size;
	char num[32], dom[300], name[DP_ENUM_NAME_SIZE], uri[DP_ENUM_URI_SIZE];
	char err[160], order[8];
	struct dp_naptr r[4];
	size_t n = 0;

	if (size > 4096)
		return 0;
	memset(r, 0, sizeof(r));
	next_line(&p, end, num, sizeof(num));
	next_line(&p, end, dom, sizeof(dom));
	if (!dp_enum_name(num, dom, name, sizeof(name)) &&
	    strlen(name) >= sizeof(name))
		__builtin_trap();
	while (p < end && n < 4) {
		next_line(&p, end, order, sizeof(order));
		r[n].order = (unsigned)atoi(order);
		r[n].preference = (unsigned)n;
		next_line(&p, end, r[n].flags, sizeof(r[n].flags));
		next_line(&p, end, r[n].service, sizeof(r[n].service));
		next_line(&p, end, r[n].regexp, sizeof(r[n].regexp));
		next_line(&p, end, r[n].replacement, sizeof(r[n].replacement));
		/* Each regexp alone, against a fixed AUS too. */
		if (!dp_enum_regexp(r[n].regexp, "+12125551234", uri,
				    sizeof(uri), err, sizeof(err)) &&
		    strlen(uri) >= sizeof(uri))
			__builtin_trap();
		n++;
	}
	if (!dp_enum_select(num, r, n, uri, sizeof(uri), err, sizeof(err)) &&
	    strncasecmp(uri, "sip:", 4) && strncasecmp(uri, "sips:", 5))
		__builtin_trap();
	return 0;
}
