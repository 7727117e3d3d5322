/* media/latch.c  RTP latching: send where the far end really sends from */
#include <netinet/in.h>
#include <string.h>

#define LOG_MODULE "media"
#include "util/util.h"

#include "media/latch.h"

bool latch_same_addr(const struct sockaddr_storage *a,
		     const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a;
		const struct sockaddr_in *y = (const void *)b;

		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a;
		const struct sockaddr_in6 *y = (const void *)b;

		return x->sin6_port == y->sin6_port &&
		       !memcmp(&x->sin6_addr, &y->sin6_addr,
			       sizeof(x->sin6_addr));
	}
	return false;
}

bool latch_signal(struct latch *l, bool on, const struct sockaddr_storage *sdp,
		  socklen_t len, int64_t now_ms)
{
	/* The same address again (a session refresh, a hold): nothing
	 * changes, and above all the window does not open again. */
	if (on == l->on && len && len == l->sdp_len &&
	    latch_same_addr(sdp, &l->sdp))
		return l->latched;
	memset(l, 0, sizeof(*l));
	l->on = on;
	l->until_ms = now_ms + LATCH_WINDOW_MS;
	if (len && len <= sizeof(l->sdp)) {
		memcpy(&l->sdp, sdp, len);
		l->sdp_len = len;
	}
	return false;
}

bool latch_rx(struct latch *l, const struct sockaddr_storage *from,
	      uint32_t ssrc, const struct sockaddr_storage *remote,
	      socklen_t remote_len, int64_t now_ms)
{
	socklen_t fromlen = from->ss_family == AF_INET
				    ? sizeof(struct sockaddr_in)
			    : from->ss_family == AF_INET6
				    ? sizeof(struct sockaddr_in6)
				    : 0;

	if (!latch_pending(l) || !fromlen)
		return false;
	if (now_ms > l->until_ms) {
		l->done = true;
		return false;
	}
	/* The far end can be reached where it said: nothing to learn, and
	 * nobody else may take the stream from it. */
	if (remote_len && latch_same_addr(from, remote)) {
		l->done = true;
		return false;
	}
	if (l->cand_n && l->cand_ssrc == ssrc &&
	    latch_same_addr(from, &l->cand)) {
		l->cand_n++;
	} else {
		memcpy(&l->cand, from, fromlen);
		l->cand_len = fromlen;
		l->cand_ssrc = ssrc;
		l->cand_n = 1;
	}
	if (l->cand_n < LATCH_PACKETS)
		return false;
	l->done = true;
	l->latched = true;
	return true;
}

static const char *addr_fmt(char *buf, size_t size,
			    const struct sockaddr_storage *ss, socklen_t len)
{
	if (len)
		tg_sockaddr_fmt((const struct sockaddr *)ss, buf, size);
	else
		tg_strlcpy(buf, "nowhere", size);
	return buf;
}

void latch_apply(struct latch *l, uint32_t id, const char *what,
		 struct sockaddr_storage *remote, socklen_t *remote_len)
{
	char a[64], b[64];

	/* Once per stream at most: a notice is worth it, as it tells who
	 * sits behind NAT (or who took a stream over). */
	gw_notice("%s %u: RTP latched to %s (SDP said %s)", what, id,
		  addr_fmt(b, sizeof(b), &l->cand, l->cand_len),
		  addr_fmt(a, sizeof(a), &l->sdp, l->sdp_len));
	memcpy(remote, &l->cand, l->cand_len);
	*remote_len = l->cand_len;
}
