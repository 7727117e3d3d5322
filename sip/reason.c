/* sip/reason.c  Reason header values (RFC 3326, RFC 6432), pure code */
#include <errno.h>
#include <string.h>
#include <strings.h>

#include "sip/sip.h"

#define REASON_MAX_LEN 1024

struct rsn_cur {
	const char *p;
	const char *end;
};

static void skip_ws(struct rsn_cur *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
				 *c->p == '\r' || *c->p == '\n'))
		c->p++;
}

static bool is_tok(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || strchr("-.!%*_+`'~", ch);
}

/* RFC 3261 25.1 token; returns its length (0 = none). */
static size_t take_token(struct rsn_cur *c, const char **start)
{
	skip_ws(c);
	*start = c->p;
	while (c->p < c->end && *c->p && is_tok(*c->p))
		c->p++;
	return (size_t)(c->p - *start);
}

/* A quoted-string; the unescaped contents go to @p dst when it is set. */
static int take_quoted(struct rsn_cur *c, char *dst, size_t size)
{
	size_t n = 0;

	c->p++; /* the opening quote */
	while (c->p < c->end && *c->p != '"') {
		char ch = *c->p++;

		if (ch == '\\') {
			if (c->p >= c->end)
				return EBADMSG;
			ch = *c->p++;
		}
		if (dst && n + 1 < size)
			dst[n++] = ch;
	}
	if (c->p >= c->end)
		return EBADMSG;
	c->p++;
	if (dst && size)
		dst[n] = '\0';
	return 0;
}

/* One reason-value: protocol *(SEMI reason-params).  *is_q850 tells
 * whether it was the Q.850 one, *is_pre the RFC 4411 preemption one;
 * cause stays 0 if absent. */
static int take_value(struct rsn_cur *c, bool *is_q850, bool *is_pre,
		      int *cause, char *text, size_t tsize)
{
	const char *s;
	size_t n;
	int err;

	n = take_token(c, &s);
	if (!n)
		return EBADMSG;
	*is_q850 = n == 5 && !strncasecmp(s, "Q.850", 5);
	*is_pre = n == 10 && !strncasecmp(s, "preemption", 10);
	*cause = 0;
	for (;;) {
		const char *name;
		size_t nlen;

		skip_ws(c);
		if (c->p >= c->end || *c->p == ',')
			return 0;
		if (*c->p != ';')
			return EBADMSG;
		c->p++;
		nlen = take_token(c, &name);
		if (!nlen)
			return EBADMSG;
		skip_ws(c);
		if (c->p >= c->end || *c->p != '=')
			continue; /* a flag parameter */
		c->p++;
		skip_ws(c);
		if (c->p < c->end && *c->p == '"') {
			bool want = *is_q850 && nlen == 4 &&
				    !strncasecmp(name, "text", 4);

			err = take_quoted(c, want ? text : NULL, tsize);
			if (err)
				return err;
			continue;
		}
		n = take_token(c, &s);
		if (!n)
			return EBADMSG;
		if (nlen == 5 && !strncasecmp(name, "cause", 5)) {
			int v = 0;
			size_t i;

			if (n > 5)
				return EBADMSG;
			for (i = 0; i < n; i++) {
				if (s[i] < '0' || s[i] > '9')
					return EBADMSG;
				v = v * 10 + (s[i] - '0');
			}
			*cause = v;
		} else if (*is_q850 && nlen == 4 &&
			   !strncasecmp(name, "text", 4) && tsize) {
			/* Tolerate an unquoted token as the text. */
			size_t k = n < tsize - 1 ? n : tsize - 1;

			memcpy(text, s, k);
			text[k] = '\0';
		}
	}
}

int sip_reason_decode(struct sip_reason *out, char *text, size_t tsize,
		      const char *val, size_t len)
{
	struct rsn_cur c;
	int err;

	if (!out || (!val && len) || (!text && tsize))
		return EINVAL;
	out->cause = 0;
	out->text = NULL;
	out->preemption = false;
	if (len > REASON_MAX_LEN)
		return EBADMSG;
	c.p = val;
	c.end = val + len;
	/* Several reason-values may share one header, comma-separated. */
	for (;;) {
		bool q850, pre;
		int cause;

		if (tsize)
			text[0] = '\0';
		err = take_value(&c, &q850, &pre, &cause, text, tsize);
		if (err)
			return err;
		/* RFC 4411 6: causes 1-4 (UA, reserved resources, generic,
		 * non-IP preemption). */
		if (pre && cause >= 1 && cause <= 4)
			out->preemption = true;
		/* RFC 6432 3: at most one Q.850 value; the first wins. */
		if (q850 && cause > 0 && cause <= 127) {
			out->cause = cause;
			out->text = (tsize && text[0]) ? text : NULL;
			return 0;
		}
		skip_ws(&c);
		if (c.p >= c.end)
			break;
		c.p++; /* the comma */
	}
	if (tsize)
		text[0] = '\0';
	if (out->preemption) {
		out->cause = 8;
		return 0;
	}
	return ENOENT;
}
