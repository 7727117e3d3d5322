/* pstnsim/stamp.c  Time-stamped probe frames (see stamp.h) */
#include <string.h>
#include <time.h>

#include "pstnsim/stamp.h"

int64_t stamp_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static uint16_t check_word(uint32_t k, int64_t ns)
{
	uint32_t h = k * 2654435761u ^ (uint32_t)ns * 40503u ^
		     (uint32_t)((uint64_t)ns >> 32) ^ 0x5a17u;

	return (uint16_t)(h ^ h >> 16);
}

static uint8_t pattern(uint32_t k, unsigned j)
{
	return (uint8_t)(k * 7u + j * 29u + (k >> 8));
}

static void put_be(uint8_t *p, uint64_t v, unsigned n)
{
	while (n--) {
		p[n] = (uint8_t)v;
		v >>= 8;
	}
}

static uint64_t get_be(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | *p++;
	return v;
}

/* The header (tag, time, number, check word) is written twice, at the
 * start and in the middle, so a probe whose playout lost or gained a
 * sample in one copy is still known by the other. */
#define HDR 18
#define HDR2 80

static bool is_hdr(unsigned j)
{
	return j < HDR || (j >= HDR2 && j < HDR2 + HDR);
}

/* The copies differ in their tag's third octet ('S', then 's'): the
 * second copy is never taken for the first. */
static void put_hdr(uint8_t *p, char copy, enum stamp_sender who,
		    uint32_t k, int64_t ns)
{
	p[0] = 'T';
	p[1] = 'G';
	p[2] = (uint8_t)copy;
	p[3] = (uint8_t)who;
	put_be(p + 4, (uint64_t)ns, 8);
	put_be(p + 12, k, 4);
	put_be(p + 16, check_word(k, ns), 2);
}

static bool get_hdr(const uint8_t *p, char copy, enum stamp_sender who,
		    uint32_t *k, int64_t *ns)
{
	if (p[0] != 'T' || p[1] != 'G' || p[2] != copy || p[3] != who)
		return false;
	*ns = (int64_t)get_be(p + 4, 8);
	*k = (uint32_t)get_be(p + 12, 4);
	return get_be(p + 16, 2) == check_word(*k, *ns);
}

void stamp_fill(uint8_t *p, enum stamp_sender who, uint32_t k, int64_t ns)
{
	unsigned j;

	put_hdr(p, 'S', who, k, ns);
	put_hdr(p + HDR2, 's', who, k, ns);
	for (j = 0; j < STAMP_FRAME; j++)
		if (!is_hdr(j))
			p[j] = pattern(k, j);
}

bool stamp_parse(const uint8_t *p, enum stamp_sender who, uint32_t *k,
		 int64_t *ns)
{
	uint32_t k2;
	int64_t ns2;
	unsigned j;

	if (!get_hdr(p, 'S', who, k, ns) ||
	    !get_hdr(p + HDR2, 's', who, &k2, &ns2) ||
	    k2 != *k || ns2 != *ns)
		return false;
	for (j = 0; j < STAMP_FRAME; j++)
		if (!is_hdr(j) && p[j] != pattern(*k, j))
			return false;
	return true;
}

/*
 * The body of probe @p k starting at @p w (inside a window of @p room
 * octets): 0 intact, 1 intact but for a few samples dropped or repeated
 * one at a time (a jitter buffer slipping for drift, or time-scaling its
 * delay: not heard), 2 otherwise (silence or concealment played into it,
 * a law conversion).  The walk keeps the current shift and, at an octet
 * that does not match, tries a shift one or two samples off that matches
 * the next four.
 */
static int body_verdict(const uint8_t *w, size_t room, uint32_t k)
{
	static const int tries[] = {-1, 1, -2, 2};
	unsigned j, slips = 0;
	int sh = 0;

	for (j = 0; j < STAMP_FRAME - 4; j++) {
		long at = (long)j + sh;
		bool ok = false;

		if (is_hdr(j))
			continue;
		if (at >= 0 && (size_t)at < room && w[at] == pattern(k, j))
			continue;
		/* The slip is here: from the next octet on, another
		 * shift must hold. */
		for (unsigned i = 0; i < 4 && !ok; i++) {
			int s2 = sh + tries[i];

			ok = true;
			for (unsigned d = 1; d <= 4 && ok; d++) {
				long a2 = (long)(j + d) + s2;

				if (is_hdr(j + d))
					continue;
				ok = a2 >= 0 && (size_t)a2 < room &&
				     w[a2] == pattern(k, j + d);
			}
			if (ok)
				sh = s2;
		}
		if (!ok || ++slips > 4)
			return 2;
	}
	return slips ? 1 : 0;
}

void stamp_rx_init(struct stamp_rx *rx)
{
	memset(rx, 0, sizeof(*rx));
}

/* Forget frames that fall out of the duplicate window as the newest
 * frame number advances. */
static void advance(struct stamp_rx *rx, uint32_t k)
{
	if (k - rx->max_k >= STAMP_SEEN / 2) {
		memset(rx->seen, 0, sizeof(rx->seen));
		rx->max_k = k;
		return;
	}
	while (rx->max_k != k) {
		uint32_t b;

		rx->max_k++;
		b = (rx->max_k + STAMP_SEEN / 2) % STAMP_SEEN;
		rx->seen[b / 64] &= ~(1ull << (b % 64));
	}
}

/* One probe found (@p verdict: body_verdict's): counted, and its delay
 * to @p when. */
static void count_probe(struct stamp_rx *rx, uint32_t k, int64_t ns,
			int64_t when, int verdict)
{
	uint32_t b;
	int64_t bin;

	/* The first settle_ns after the first probe are not judged: a
	 * jitter buffer finds its delay there (slips, a first packet late). */
	if (rx->settle_ns) {
		if (!rx->t0_set) {
			rx->t0 = when;
			rx->t0_set = true;
		}
		if (when < rx->t0 + rx->settle_ns) {
			rx->settling++;
			rx->pending_bad = 0;
			return;
		}
	}
	/* Something else between two probes replaced a probe (silence for
	 * a missing packet, concealment): damage.  Before the first probe
	 * and after the last it is the path filling up or running on. */
	rx->damaged += rx->pending_bad;
	rx->pending_bad = 0;
	if (!rx->started) {
		rx->started = true;
		rx->first_k = rx->max_k = k;
	}
	if (k < rx->first_k) {
		rx->early++;
		return;
	}
	if (k < rx->max_k && rx->max_k - k >= STAMP_SEEN / 2) {
		rx->stale++;
		return;
	}
	if (k > rx->max_k)
		advance(rx, k);
	b = k % STAMP_SEEN;
	if (rx->seen[b / 64] & 1ull << (b % 64)) {
		rx->dup++;
		return;
	}
	rx->seen[b / 64] |= 1ull << (b % 64);
	if (verdict == 2) {
		rx->damaged++;
		rx->got_damaged++;
		return;
	}
	rx->got++;
	rx->slipped += verdict == 1;
	ns = when - ns;
	if (!rx->base_ns || ns < rx->base_ns)
		rx->base_ns = ns;
	if (rx->late_ns && ns > rx->base_ns + rx->late_ns)
		rx->late++;
	if (ns > rx->max_ns)
		rx->max_ns = ns;
	bin = ns / (STAMP_BIN_US * 1000);
	rx->hist[bin < 0 ? 0 : bin > STAMP_HIST_BINS ? STAMP_HIST_BINS : bin]++;
}

/*
 * A jitter buffer may play a stream out at any sample offset from the
 * frames it came in (its delay is set in samples), so a probe can lie
 * across two received frames.  Each frame is looked at with the one
 * before it: the probe that starts in the earlier one (at most one can)
 * is found whole, once, and its delay counts from that frame's arrival.
 */
void stamp_rx_frame(struct stamp_rx *rx, const uint8_t *p,
		    enum stamp_sender who, int64_t now)
{
	uint8_t win[2 * STAMP_FRAME];
	uint32_t k;
	int64_t ns;

	if (rx->have_prev) {
		uint32_t ks[4];
		unsigned nk = 0;
		bool found = false, late_start = false, held = false;
		struct stamp_held h2 = {0};

		memcpy(win, rx->prev, STAMP_FRAME);
		memcpy(win + STAMP_FRAME, p, STAMP_FRAME);
		/* A probe starts at off: its first header there, or (that
		 * one slipped) its second one HDR2 further.  A dropped
		 * sample can put two starts in one frame; a probe found by
		 * both its headers counts once. */
		for (unsigned off = 0; off < STAMP_FRAME; off++) {
			const uint8_t *w = win + off;
			bool dup = false, first;

			first = w[0] == 'T' && get_hdr(w, 'S', who, &k, &ns);
			if (!first && !(w[HDR2] == 'T' &&
					get_hdr(w + HDR2, 's', who, &k, &ns)))
				continue;
			for (unsigned i = 0; i < nk; i++)
				dup |= ks[i] == k;
			if (dup || nk == 4)
				continue;
			ks[nk++] = k;
			found = true;
			late_start = off >= STAMP_FRAME - 4;
			/* Known by its second header alone: a sample dropped
			 * before that one makes it look a sample early, and
			 * the next frame may find it by its first header
			 * after all.  Held one frame to see. */
			if (!first) {
				held = true;
				h2 = (struct stamp_held){k, ns, rx->prev_t,
					body_verdict(w, sizeof(win) - off, k)};
				continue;
			}
			if (rx->held && rx->h.k == k)
				rx->held = false; /* the same one, better */
			count_probe(rx, k, ns, rx->prev_t,
				    body_verdict(w, sizeof(win) - off, k));
		}
		if (rx->held)
			count_probe(rx, rx->h.k, rx->h.ns, rx->h.when,
				    rx->h.verdict);
		rx->held = held;
		rx->h = h2;
		/* A probe that began at the very end of the last frame
		 * (a sample dropped before it) leaves none to begin in
		 * this one. */
		if (!found && rx->started && !rx->late_start)
			rx->pending_bad++;
		rx->late_start = late_start;
	}
	memcpy(rx->prev, p, STAMP_FRAME);
	rx->prev_t = now;
	rx->have_prev = true;
}

uint64_t stamp_rx_lost(const struct stamp_rx *rx)
{
	uint64_t span;

	if (!rx->started)
		return 0;
	span = (uint64_t)(rx->max_k - rx->first_k) + 1;
	span -= rx->stale + rx->got_damaged;
	return span > rx->got ? span - rx->got : 0;
}

double stamp_rx_pct_ms(const struct stamp_rx *rx, double q)
{
	uint64_t want = (uint64_t)(q * (double)rx->got), acc = 0;
	unsigned i;

	if (!rx->got)
		return 0;
	for (i = 0; i <= STAMP_HIST_BINS; i++) {
		acc += rx->hist[i];
		if (acc > want)
			return (i + 0.5) * STAMP_BIN_US / 1000.0;
	}
	return STAMP_HIST_BINS * STAMP_BIN_US / 1000.0;
}
