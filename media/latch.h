/* media/latch.h  Internal: RTP latching toward far ends behind NAT */
#ifndef TG_MEDIA_LATCH_H
#define TG_MEDIA_LATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* Latching is allowed only this long after the signalled address was
 * set (the call's start, or a new address in an update): a stranger
 * who learns our port later cannot take the stream over. */
#define LATCH_WINDOW_MS 10000
/* Valid packets in a row from one source with one SSRC before the
 * stream is turned toward it: one stray packet decides nothing. */
#define LATCH_PACKETS 3

/*
 * Symmetric RTP (RFC 4961) as a far end behind NAT needs: its SDP names
 * an address we cannot reach (its private one), while its packets come
 * from the NAT's mapping, which is where ours must go.
 */
struct latch {
	bool on;                /* this stream may latch */
	bool done;              /* decided: latched, window closed, or the
				 * far end was heard from its SDP address */
	bool latched;           /* the remote is a latched one */
	int64_t until_ms;       /* tg_mono_ms() the window closes */
	struct sockaddr_storage sdp; /* the signalled remote */
	socklen_t sdp_len;
	struct sockaddr_storage cand; /* the source being counted */
	socklen_t cand_len;
	uint32_t cand_ssrc;
	unsigned cand_n;
};

/** Same family, address and port? */
bool latch_same_addr(const struct sockaddr_storage *a,
		     const struct sockaddr_storage *b);

/**
 * Signalling says the far end is at @p sdp (start or update; @p len 0:
 * not known).  The same address again changes nothing (a refresh or
 * re-INVITE from a far end that still does not know its public one):
 * @return true when the stream must then keep its latched remote.  A
 * new address starts afresh, the window open from @p now_ms.
 */
bool latch_signal(struct latch *l, bool on, const struct sockaddr_storage *sdp,
		  socklen_t len, int64_t now_ms);

/** Is @p l still deciding (latch_rx worth a call)? */
static inline bool latch_pending(const struct latch *l)
{
	return l->on && !l->done;
}

/**
 * A valid RTP packet with @p ssrc came from @p from while the stream
 * goes to @p remote (@p remote_len 0: nowhere yet).  Pure.
 * @return true: turn the stream toward l->cand (l->cand_len long);
 * l->latched is set.
 */
bool latch_rx(struct latch *l, const struct sockaddr_storage *from,
	      uint32_t ssrc, const struct sockaddr_storage *remote,
	      socklen_t remote_len, int64_t now_ms);

/**
 * After latch_rx() said so: log it (bridge @p id, @p what it is) and
 * turn @p remote toward the latched source.
 */
void latch_apply(struct latch *l, uint32_t id, const char *what,
		 struct sockaddr_storage *remote, socklen_t *remote_len);

#endif
