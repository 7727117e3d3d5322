/* sip/stream.c  Finding SIP messages in a TCP or TLS byte stream
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * RFC 3261 18.3: over a stream a message ends where its Content-Length
 * says, counted from the blank line after the headers.  This file only
 * measures; it keeps no state, makes no syscalls and copies nothing, so
 * the fuzzer calls it as the transport does (STYLE 6).
 */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "sip/sip_int.h"

/* A line of the start line or a header: any octet but NUL and the
 * controls other than HT (RFC 3261 25.1 allows UTF-8 above 0x7f). */
static bool text_ok(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/*
 * RFC 3261 7.1 and 7.2: a request line ends in " SIP/2.0", a status line
 * starts with "SIP/2.0 ".  Anything else (a TLS ClientHello on the TCP
 * port, HTTP, noise) is not SIP, and is known at the first line.
 */
static bool start_line_ok(const char *l, size_t n)
{
	if (n >= 8 && !memcmp(l, "SIP/2.0 ", 8))
		return true;
	return n >= 10 && !memcmp(l + n - 8, " SIP/2.0", 8) && l[0] != ' ';
}

/* Is the header line @p l (@p n octets) Content-Length (or its compact
 * form "l")?  @p v is set to its value. */
static bool is_clen(const char *l, size_t n, const char **v, size_t *vn)
{
	size_t i = 0, name;

	while (i < n && l[i] != ':' && l[i] != ' ' && l[i] != '\t')
		i++;
	name = i;
	while (i < n && (l[i] == ' ' || l[i] == '\t'))
		i++;
	if (i >= n || l[i] != ':')
		return false;
	if (!((name == 14 && !strncasecmp(l, "Content-Length", 14)) ||
	      (name == 1 && (l[0] == 'l' || l[0] == 'L'))))
		return false;
	for (i++; i < n && (l[i] == ' ' || l[i] == '\t'); i++)
		;
	*v = l + i;
	*vn = n - i;
	while (*vn && (l[i + *vn - 1] == ' ' || l[i + *vn - 1] == '\t'))
		(*vn)--;
	return true;
}

/* Its value: digits only, at most @p max.  @return 0, EBADMSG, EMSGSIZE */
static int clen_value(const char *v, size_t n, size_t max, size_t *out)
{
	size_t x = 0;

	if (!n)
		return EBADMSG;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return EBADMSG;
		x = x * 10 + (size_t)(v[i] - '0');
		if (x > max)
			return EMSGSIZE;
	}
	*out = x;
	return 0;
}

/*
 * The header section of the message at @p buf: the length up to and
 * including its blank line, and the body length its Content-Length says
 * (none: 0).  Lines are checked as they come, so garbage is refused at
 * its first line, long before @p max octets of it have been read.
 */
static int frame_headers(const char *buf, size_t len, size_t max,
			 size_t *hlen, size_t *blen)
{
	size_t pos = 0, line = 0, clen = 0;
	bool have_clen = false;

	for (;;) {
		const char *l = buf + pos, *v;
		size_t n = 0, vn, x;
		int err;

		while (pos + n < len && buf[pos + n] != '\n') {
			if (!text_ok((unsigned char)buf[pos + n]) &&
			    buf[pos + n] != '\r')
				return EBADMSG;
			n++;
		}
		if (pos + n >= len)
			return pos + n >= max ? EMSGSIZE : ENODATA;
		/* RFC 3261 7: lines end in CRLF; a bare LF is read too, as
		 * libosip2 does. */
		pos += n + 1;
		if (n && l[n - 1] == '\r')
			n--;
		if (memchr(l, '\r', n))
			return EBADMSG;
		if (pos > max)
			return EMSGSIZE;
		if (line++ == 0) {
			if (!start_line_ok(l, n))
				return EBADMSG;
			continue;
		}
		if (!n)
			break;
		/* A folded line (RFC 3261 7.3.1) continues a header. */
		if (l[0] == ' ' || l[0] == '\t' || !is_clen(l, n, &v, &vn))
			continue;
		err = clen_value(v, vn, max, &x);
		if (err)
			return err;
		/* Two that disagree: where the message ends is unknowable. */
		if (have_clen && x != clen)
			return EBADMSG;
		clen = x;
		have_clen = true;
	}
	*hlen = pos;
	*blen = clen;
	return 0;
}

int sip_stream_frame(const char *buf, size_t len, size_t max, size_t *skip,
		     size_t *msglen)
{
	size_t s = 0, hlen, blen;
	int err;

	/* RFC 5626 3.5.1 keep-alives: CRLFs between messages. */
	while (s < len && (buf[s] == '\r' || buf[s] == '\n'))
		s++;
	*skip = s;
	*msglen = 0;
	if (s == len)
		return ENODATA;
	err = frame_headers(buf + s, len - s, max, &hlen, &blen);
	if (err)
		return err;
	if (hlen + blen > max)
		return EMSGSIZE;
	if (len - s < hlen + blen)
		return ENODATA;
	*msglen = hlen + blen;
	return 0;
}
