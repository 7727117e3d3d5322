/* sip/info.c  INFO application/dtmf-relay bodies, pure code */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "sip/sip.h"

int sip_dtmf_relay_decode(const char *body, size_t len, char *digit,
			  unsigned *duration_ms)
{
	const char *p = body, *end = body + len;
	unsigned dur = 250;
	char sig = 0;

	/* "Signal=5\r\nDuration=160\r\n": name=value lines, any order,
	 * spaces around '=' seen in the wild, unknown names ignored. */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end, *eq, *v;
		size_t nlen;

		eq = memchr(p, '=', (size_t)(le - p));
		if (eq) {
			nlen = (size_t)(eq - p);
			while (nlen && p[nlen - 1] == ' ')
				nlen--;
			for (v = eq + 1; v < le && *v == ' '; v++)
				;
			/* One character: "Signal=16" (flash) is no digit. */
			if (nlen == 6 && !strncasecmp(p, "Signal", 6) &&
			    v < le && *v && strchr("0123456789*#ABCDabcd", *v) &&
			    (v + 1 == le || v[1] == '\r' || v[1] == ' ')) {
				sig = *v >= 'a' ? (char)(*v - 'a' + 'A') : *v;
			} else if (nlen == 8 &&
				   !strncasecmp(p, "Duration", 8)) {
				unsigned n = 0, k = 0;

				while (v < le && *v >= '0' && *v <= '9' &&
				       k++ < 6)
					n = n * 10 + (unsigned)(*v++ - '0');
				if (k)
					dur = n;
			}
		}
		p = nl ? nl + 1 : end;
	}
	if (!sig)
		return EBADMSG;
	*digit = sig;
	*duration_ms = dur;
	return 0;
}
