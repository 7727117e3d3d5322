/* pstnsim/dtmf.c  In-band DTMF (ITU-T Q.23/Q.24): generator and detector */
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "pstnsim/dtmf.h"

#define RATE 8000
#define TONE_AMP 7000.0         /* each tone about -13 dBFS: no clipping */
#define MIN_POWER 30000.0       /* mean square below this is no digit
				 * (about -45 dBFS) */
#define MIN_SHARE 0.55          /* the two tones hold this much of it */
#define MAX_TWIST 10.0          /* row/column power ratio, either way */
#define MAX_OTHER 0.15          /* any other row (column) against the best */
#define ON_BLOCKS 2             /* 40 ms of one digit: it is there */
#define OFF_BLOCKS 2            /* 40 ms without it: it has ended */

static const double row_hz[4] = {697, 770, 852, 941};
static const double col_hz[4] = {1209, 1336, 1477, 1633};
static const char keys[4][5] = {"123A", "456B", "789C", "*0#D"};

bool ps_dtmf_valid(char c)
{
	return (c >= '0' && c <= '9') || c == '*' || c == '#' ||
	       (toupper((unsigned char)c) >= 'A' &&
		toupper((unsigned char)c) <= 'D');
}

static bool find_key(char c, int *row, int *col)
{
	c = (char)toupper((unsigned char)c);
	for (int r = 0; r < 4; r++)
		for (int k = 0; k < 4; k++)
			if (keys[r][k] == c) {
				*row = r;
				*col = k;
				return true;
			}
	return false;
}

size_t ps_dtmf_gen(int16_t *out, size_t n, const char *digits,
		   uint64_t pos, int on_ms, int off_ms)
{
	const uint64_t on = (uint64_t)on_ms * RATE / 1000;
	const uint64_t period = on + (uint64_t)off_ms * RATE / 1000;
	const size_t nd = strlen(digits);
	uint64_t end = pos + n;
	size_t done;

	for (size_t i = 0; i < n; i++) {
		uint64_t s = pos + i, k = period ? s / period : nd, w;
		int row, col;
		double t;

		out[i] = 0;
		if (k >= nd || !find_key(digits[k], &row, &col))
			continue;
		w = s % period;
		if (w >= on)
			continue;
		t = (double)w / RATE;
		out[i] = (int16_t)lrint(TONE_AMP *
					(sin(2 * M_PI * row_hz[row] * t) +
					 sin(2 * M_PI * col_hz[col] * t)));
	}
	if (!period || end < on)
		return 0;
	done = (size_t)((end - on) / period + 1);
	return done < nd ? done : nd;
}

void ps_dtmf_rx_init(struct ps_dtmf_rx *d)
{
	memset(d, 0, sizeof(*d));
}

/* 2 |X(f)|^2 / N: the energy of a tone at f, comparable with sum x^2. */
static double goertzel(const int16_t *x, size_t n, double hz)
{
	const double c = 2.0 * cos(2.0 * M_PI * hz / RATE);
	double s1 = 0, s2 = 0;

	for (size_t i = 0; i < n; i++) {
		double s0 = x[i] + c * s1 - s2;

		s2 = s1;
		s1 = s0;
	}
	return 2.0 * (s1 * s1 + s2 * s2 - c * s1 * s2) / (double)n;
}

static int best_of(const double *p, double *second)
{
	int b = 0;

	for (int i = 1; i < 4; i++)
		if (p[i] > p[b])
			b = i;
	*second = 0;
	for (int i = 0; i < 4; i++)
		if (i != b && p[i] > *second)
			*second = p[i];
	return b;
}

/* The digit one block holds, 0 for none. */
static char classify(const int16_t *x, size_t n)
{
	double total = 0, rp[4], cp[4], r2, c2, pr, pc;
	int r, c;

	for (size_t i = 0; i < n; i++)
		total += (double)x[i] * x[i];
	if (total / (double)n < MIN_POWER)
		return 0;
	for (int i = 0; i < 4; i++) {
		rp[i] = goertzel(x, n, row_hz[i]);
		cp[i] = goertzel(x, n, col_hz[i]);
	}
	r = best_of(rp, &r2);
	c = best_of(cp, &c2);
	pr = rp[r];
	pc = cp[c];
	if (pr + pc < MIN_SHARE * total || pr > MAX_TWIST * pc ||
	    pc > MAX_TWIST * pr || r2 > MAX_OTHER * pr || c2 > MAX_OTHER * pc)
		return 0;
	return keys[r][c];
}

static void block(struct ps_dtmf_rx *d)
{
	char k = classify(d->blk, PS_DTMF_BLOCK);

	if (k && k == d->cand) {
		d->cand_run++;
	} else {
		d->cand = k;
		d->cand_run = k ? 1 : 0;
	}
	if (d->on && k != d->on) {
		if (++d->off_run >= OFF_BLOCKS)
			d->on = 0;
	} else {
		d->off_run = 0;
	}
	if (!d->on && k && d->cand_run >= ON_BLOCKS) {
		d->on = k;
		d->off_run = 0;
		if (d->ndigits < PS_DTMF_MAX)
			d->digits[d->ndigits++] = k;
		d->digits[d->ndigits] = '\0';
	}
}

void ps_dtmf_rx_feed(struct ps_dtmf_rx *d, const int16_t *x, size_t n)
{
	while (n) {
		size_t take = PS_DTMF_BLOCK - d->nblk;

		if (take > n)
			take = n;
		memcpy(d->blk + d->nblk, x, take * sizeof(*x));
		d->nblk += take;
		x += take;
		n -= take;
		if (d->nblk == PS_DTMF_BLOCK) {
			block(d);
			d->nblk = 0;
		}
	}
}
