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

void stamp_fill(uint8_t *p, enum stamp_sender who, uint32_t k, int64_t ns)
{
	unsigned j;

	p[0] = 'T';
	p[1] = 'G';
	p[2] = 'S';
	p[3] = (uint8_t)who;
	put_be(p + 4, (uint64_t)ns, 8);
	put_be(p + 12, k, 4);
	put_be(p + 16, check_word(k, ns), 2);
	for (j = 18; j < STAMP_FRAME; j++)
		p[j] = pattern(k, j);
}

bool stamp_parse(const uint8_t *p, enum stamp_sender who, uint32_t *k,
		 int64_t *ns)
{
	unsigned j;

	if (p[0] != 'T' || p[1] != 'G' || p[2] != 'S' || p[3] != who)
		return false;
	*ns = (int64_t)get_be(p + 4, 8);
	*k = (uint32_t)get_be(p + 12, 4);
	if (get_be(p + 16, 2) != check_word(*k, *ns))
		return false;
	for (j = 18; j < STAMP_FRAME; j++)
		if (p[j] != pattern(*k, j))
			return false;
	return true;
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

void stamp_rx_frame(struct stamp_rx *rx, const uint8_t *p,
		    enum stamp_sender who, int64_t now)
{
	uint32_t k, b;
	int64_t ns, bin;

	if (!stamp_parse(p, who, &k, &ns)) {
		if (rx->started)
			rx->pending_bad++;
		return;
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
	rx->got++;
	ns = now - ns;
	if (ns > rx->max_ns)
		rx->max_ns = ns;
	bin = ns / (STAMP_BIN_US * 1000);
	rx->hist[bin < 0 ? 0 : bin > STAMP_HIST_BINS ? STAMP_HIST_BINS : bin]++;
}

uint64_t stamp_rx_lost(const struct stamp_rx *rx)
{
	uint64_t span;

	if (!rx->started)
		return 0;
	span = (uint64_t)(rx->max_k - rx->first_k) + 1;
	return span > rx->got + rx->stale ? span - rx->got - rx->stale : 0;
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
