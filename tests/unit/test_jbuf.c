/* tests/unit/test_jbuf.c  Jitter buffer on simulated RTP streams: jitter,
 * loss, reordering, duplicates, new sources, timestamp jumps, clock drift */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "media/jbuf.h"

#define F JB_FRAME
#define AMP 8000.0
#define FREQ 700.0
#define NPEND 64

/* The largest step between two samples of the tone, and what we take for
 * a click: a dropped sample of it steps about twice as far. */
#define STEP_NOMINAL (2 * AMP * sin(M_PI * FREQ / 8000))
#define STEP_MAX (1.2 * STEP_NOMINAL)

struct sim {
	/* the far end */
	double ppm;          /* its clock over ours */
	double jitter_ms;    /* each packet late by uniform [0, jitter) */
	double loss;         /* random loss */
	unsigned burst_every, burst_len; /* and a burst every so often */
	double dup;          /* packets sent twice */
	unsigned ptime;      /* ms */
	uint32_t ts0;
	unsigned seconds;
	unsigned rebase_at;  /* packet: a new source, another timestamp base */
	unsigned jump_at;    /* packet: the timestamps jump (marker set) */
	unsigned spike_at;   /* packet: the path stalls spike_ms from when it
			      * is sent; what is sent meanwhile comes at
			      * the end, all at once */
	double spike_ms;
	/* the buffer */
	unsigned min_ms, max_ms;
	enum jb_mode mode;
	unsigned warm;       /* s before delays count (and fixed's octets) */
	bool spurts;         /* the tone 2 s on, 1 s off, as in speech */

	/* results */
	double dmin, dmax;   /* delay after warm-up, ms */
	double d_first, d_last; /* mean delay over the first and last 60 s
				 * after warm-up */
	double d_prev;       /* ... and the 60 s before the last */
	double step_max;     /* largest sample step played */
	uint64_t lost, late, conceal_expect, silent_expect;
	bool exact;          /* every frame as sent, octet for octet */
};

struct pend {
	double at;           /* arrival, s on our clock */
	uint32_t ts;
	uint32_t g;          /* first sample on the far timeline */
	bool marker;
	unsigned k;
	unsigned seg;        /* timestamp base in force when sent */
};

static struct jbuf jb;
static uint8_t ident[256];
static uint32_t rng = 1;

static double urand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return (double)rng / 4294967296.0;
}

static bool g_spurts;

static int16_t tone_at(uint32_t g)
{
	if (g_spurts && g % 24000 >= 16000)
		return 0;
	return (int16_t)lrint(AMP * sin(2 * M_PI * FREQ * (double)g / 8000));
}

static void sim_defaults(struct sim *s)
{
	memset(s, 0, sizeof(*s));
	s->ptime = 20;
	s->ts0 = 0x12345678;
	s->seconds = 60;
	s->warm = 2;
	s->rebase_at = s->jump_at = s->spike_at = ~0u;
}

/* Count what the buffer should conceal and silence for a run of lost
 * packets (no jitter, no drift: frames line up with packets). */
static void expect_gap(struct sim *s, unsigned run)
{
	unsigned samples = run * s->ptime * 8, conc;

	if (!run)
		return;
	conc = samples < JB_PLC_MAX ? samples : JB_PLC_MAX;
	s->conceal_expect += (conc + F - 1) / F;
	s->silent_expect += samples / F - (conc + F - 1) / F;
}

static void run_sim(struct sim *s)
{
	static struct pend pend[NPEND];
	static uint8_t copies[NPEND], taken[NPEND]; /* by k % NPEND */
	static uint32_t base[3];
	double stall_end = -1;
	unsigned npend = 0, k = 0, run = 0, seg = 0, j, i, warm = s->warm;
	uint32_t n = s->ptime * 8, frames = s->seconds * 50;
	uint32_t last_min = (s->seconds >= 120 ? 60 : s->seconds / 4) * 50;
	double rate = 8000 * (1 + s->ppm * 1e-6), dsum1 = 0, dsum2 = 0;
	double dsum3 = 0;
	unsigned dn1 = 0, dn2 = 0, dn3 = 0, started = 0;
	int16_t last = 0;
	bool have_last = false;

	for (i = 0; i < 256; i++)
		ident[i] = (uint8_t)i;
	rng = 0x9e3779b9u;
	g_spurts = s->spurts;
	jbuf_init(&jb, MEDIA_PCMU, s->min_ms, s->max_ms, s->mode);
	base[0] = s->ts0;
	base[1] = s->ts0 + 0x40000000u; /* a new source's base */
	base[2] = s->ts0 + 0x00654321u; /* a jump */
	s->dmin = 1e9;
	s->dmax = -1e9;
	s->step_max = 0;
	s->exact = true;

	for (j = 0; j < frames; j++) {
		double now = (double)j * F / 8000;
		uint8_t out[F];

		/* Packets sent by now, on their way. */
		for (;;) {
			uint32_t g = k * n;
			double sent = (double)g / rate;
			bool drop;

			if (sent > now)
				break;
			if (k == s->rebase_at) {
				seg = 1;
				jbuf_rebase(&jb);
			}
			if (k == s->jump_at)
				seg = 2;
			drop = k > 0 && (urand() < s->loss ||
					 (s->burst_every &&
					  k % s->burst_every < s->burst_len));
			if (k == s->spike_at)
				stall_end = sent + s->spike_ms / 1000;
			if (drop) {
				s->lost++;
				run++;
			} else {
				expect_gap(s, run);
				run = 0;
				copies[k % NPEND] = urand() < s->dup ? 2 : 1;
				taken[k % NPEND] = 0;
				for (i = 0; i < copies[k % NPEND]; i++) {
					struct pend *p = &pend[npend++];

					assert_true(npend < NPEND);
					p->at = sent + urand() * s->jitter_ms /
						1000;
					if (p->at < stall_end)
						p->at = stall_end;
					p->g = g;
					p->seg = seg;
					p->ts = base[seg] + g;
					p->marker = k == s->jump_at;
					p->k = k;
				}
			}
			k++;
		}
		/* Those arrived before this frame, in arrival order. */
		for (;;) {
			unsigned best = npend, since, c;
			int16_t pcm;
			uint8_t pl[JB_MAX_PAYLOAD];
			int rc;

			for (i = 0; i < npend; i++)
				if (pend[i].at <= now &&
				    (best == npend || pend[i].at < pend[best].at))
					best = i;
			if (best == npend)
				break;
			for (i = 0; i < n; i++) {
				pcm = tone_at(pend[best].g + i);
				pl[i] = media_g711_encode(MEDIA_PCMU, pcm);
			}
			/* Since the last get, which was one frame ago. */
			since = (unsigned)lrint((pend[best].at - now) * 8000 +
						F);
			rc = jbuf_put(&jb, pend[best].ts, pl, n, ident,
				      pend[best].marker, since);
			c = pend[best].k % NPEND;
			taken[c] |= rc == 0;
			/* Late: no copy of it played. */
			if (!--copies[c] && !taken[c])
				s->late++;
			pend[best] = pend[--npend];
		}

		/* Where the far timeline is that plays now: the head's
		 * timestamp under the base of the stream now playing. */
		{
			uint32_t ts = jb.head - jb.tsoff;
			uint32_t g = ts - base[seg];
			double d = (now - (double)g / rate) * 1000;

			jbuf_get(&jb, out, F);
			if (j >= warm * 50 && started && g < 0x80000000u) {
				if (d < s->dmin)
					s->dmin = d;
				if (d > s->dmax)
					s->dmax = d;
				if (j < (warm + 60) * 50) {
					dsum1 += d;
					dn1++;
				}
				if (j >= frames - last_min) {
					dsum2 += d;
					dn2++;
				} else if (j >= frames - 2 * last_min) {
					dsum3 += d;
					dn3++;
				}
			}
			if (!jb.started)
				continue;
			if (!started)
				started = j;
			if (s->mode == JB_FIXED && j >= warm * 50) {
				for (i = 0; i < F; i++)
					if (out[i] != media_g711_encode(
						    MEDIA_PCMU, tone_at(g + i)))
						s->exact = false;
			}
		}
		for (i = 0; i < F; i++) {
			int16_t v = media_g711_decode(MEDIA_PCMU, out[i]);

			if (have_last && fabs((double)v - last) > s->step_max)
				s->step_max = fabs((double)v - last);
			last = v;
			have_last = true;
		}
		/* The stream starts with a step from silence. */
		if (j == started)
			s->step_max = 0;
	}
	expect_gap(s, run);
	s->d_first = dn1 ? dsum1 / dn1 : 0;
	s->d_last = dn2 ? dsum2 / dn2 : 0;
	s->d_prev = dn3 ? dsum3 / dn3 : 0;
}

static void print_sim(const char *name, const struct sim *s)
{
	printf("# %s: delay %.1f..%.1f ms (first min %.1f, last two %.1f "
	       "%.1f), "
	       "step %.0f (nominal %.0f), lost %llu late %llu, concealed "
	       "%llu underruns %llu drops %llu rewinds %llu scaled %llu\n",
	       name, s->dmin, s->dmax, s->d_first, s->d_prev, s->d_last,
	       s->step_max,
	       STEP_NOMINAL, (unsigned long long)s->lost,
	       (unsigned long long)s->late,
	       (unsigned long long)jb.concealed,
	       (unsigned long long)jb.underruns,
	       (unsigned long long)jb.drops,
	       (unsigned long long)jb.rewinds,
	       (unsigned long long)jb.scaled);
}

/* ---- tests ------------------------------------------------------------ */

/* A clean stream: jb_min of delay, bit for bit, nothing concealed. */
static void test_clean(void **state)
{
	static struct sim s;

	(void)state;
	sim_defaults(&s);
	s.ts0 = 0xffffff00u; /* the timestamp wraps at once */
	run_sim(&s);
	print_sim("clean", &s);
	assert_true(s.dmin >= 19.9 && s.dmax <= 20.1);
	assert_int_equal(jb.concealed, 0);
	assert_int_equal(jb.underruns, 0);
	assert_int_equal(jb.scaled, 0);
	assert_int_equal(s.late, 0);
	assert_true(s.step_max <= STEP_MAX);
}

/* Jitter 0-60 ms reorders packets; duplicates are dropped.  The delay
 * settles over the jitter, few packets come too late, no clicks. */
static void test_jitter_reorder_dups(void **state)
{
	static struct sim s;

	(void)state;
	sim_defaults(&s);
	s.jitter_ms = 60;
	s.dup = 0.05;
	run_sim(&s);
	print_sim("jitter", &s);
	assert_true(s.dmin >= 0 && s.dmax <= 130);
	assert_true(s.late * 200 <= 3000); /* under 0.5% of 3,000 */
	assert_true(jb.concealed <= s.late * 2 + 2);
	assert_true(s.step_max <= STEP_MAX);
}

/* 5% random loss and a burst of five every 4 s: each gap concealed for
 * up to 50 ms, then silence, counted exactly; no clicks in or out. */
static void test_loss_concealed(void **state)
{
	static struct sim s;

	(void)state;
	sim_defaults(&s);
	s.loss = 0.05;
	s.burst_every = 200;
	s.burst_len = 5;
	run_sim(&s);
	print_sim("loss", &s);
	printf("# expected: concealed %llu underruns %llu\n",
	       (unsigned long long)s.conceal_expect,
	       (unsigned long long)s.silent_expect);
	assert_true(s.lost > 150);
	assert_int_equal(jb.concealed, s.conceal_expect);
	assert_int_equal(jb.underruns, s.silent_expect);
	assert_true(s.step_max <= STEP_MAX);
	assert_true(s.dmax <= 40.5);
}

/* A far clock 300 ppm fast or slow over 10 minutes (180 ms of drift):
 * the delay does not grow, with no periodic clicks.  In speech (quiet
 * gaps) it stays where it was; a tone without a pause lets it rise by
 * up to jb_min before it shrinks (docs/media.md), then it holds. */
static void drift(double ppm, double jitter_ms, bool spurts)
{
	static struct sim s;
	char name[64];

	sim_defaults(&s);
	s.ppm = ppm;
	s.jitter_ms = jitter_ms;
	s.seconds = 600;
	s.spurts = spurts;
	run_sim(&s);
	snprintf(name, sizeof(name), "drift %+.0f ppm, jitter %.0f ms%s",
		 ppm, jitter_ms, spurts ? ", talkspurts" : "");
	print_sim(name, &s);
	assert_true(fabs(s.d_last - s.d_prev) <= 2);
	assert_true(fabs(s.d_last - s.d_first) <= (spurts ? 5 : 24));
	assert_true(s.dmin >= 0 && s.dmax <= 45 + 1.5 * jitter_ms + 22);
	assert_true(s.step_max <= STEP_MAX);
	assert_true(s.late <= 10);
	assert_int_equal(jb.drops, 0);
}

static void test_drift_fast(void **state)
{
	(void)state;
	drift(300, 0, false);
	drift(300, 30, false);
	drift(300, 30, true);
}

static void test_drift_slow(void **state)
{
	(void)state;
	drift(-300, 0, false);
	drift(-300, 30, false);
	drift(-300, 30, true);
}

/* A new source mid-stream (another SSRC and timestamp base) carrying on
 * the same audio: it joins on without a gap or a step. */
static void test_new_source(void **state)
{
	static struct sim s;

	(void)state;
	sim_defaults(&s);
	s.seconds = 20;
	s.rebase_at = 500;
	run_sim(&s);
	print_sim("new source", &s);
	assert_int_equal(jb.concealed, 0);
	assert_int_equal(jb.underruns, 0);
	assert_int_equal(s.late, 0);
	assert_true(s.step_max <= STEP_MAX);
	assert_true(s.dmax <= 40.5);
}

/* The timestamps jump (same source, marker set): followed, not dropped. */
static void test_ts_jump(void **state)
{
	static struct sim s;

	(void)state;
	sim_defaults(&s);
	s.seconds = 20;
	s.jump_at = 300;
	run_sim(&s);
	print_sim("ts jump", &s);
	assert_int_equal(jb.concealed, 0);
	assert_int_equal(s.late, 0);
	assert_true(s.step_max <= STEP_MAX);
	assert_true(s.dmax <= 40.5);
}

/* The path stalls for 150 ms: what comes after plays after the
 * concealment, by growing the delay at once; the delay comes back down
 * once the window forgets the stall (in the pauses of speech; a tone
 * without one lets it down to jb_min over the target). */
static void test_spike_grows_then_shrinks(void **state)
{
	static struct sim s;

	(void)state;
	sim_defaults(&s);
	s.seconds = 90;
	s.spike_at = 600;
	s.spike_ms = 150;
	run_sim(&s);
	print_sim("stall 150 ms", &s);
	assert_int_equal(s.late, 0);
	assert_true(s.dmax >= 150);
	assert_true(s.d_last <= 20 + 20 + 3);
	assert_true(s.step_max <= STEP_MAX);

	sim_defaults(&s);
	s.seconds = 90;
	s.spike_at = 600;
	s.spike_ms = 150;
	s.spurts = true;
	run_sim(&s);
	print_sim("stall 150 ms, talkspurts", &s);
	assert_int_equal(s.late, 0);
	assert_true(s.dmax >= 150);
	assert_true(s.d_last <= 25);
	assert_true(s.step_max <= STEP_MAX);

	/* Shorter than the concealment: the first packet after it is late,
	 * and plays from where the concealment began. */
	sim_defaults(&s);
	s.seconds = 90;
	s.spike_at = 600;
	s.spike_ms = 35;
	s.spurts = true;
	run_sim(&s);
	print_sim("stall 35 ms", &s);
	assert_int_equal(jb.rewinds, 1);
	assert_int_equal(s.late, 0);
	assert_int_equal(jb.underruns, 0);
	assert_true(s.dmax >= 35);
	assert_true(s.d_last <= 25);
	assert_true(s.step_max <= STEP_MAX);
}

/* jb_max bounds the delay whatever the jitter. */
static void test_max_bound(void **state)
{
	static struct sim s;

	(void)state;
	sim_defaults(&s);
	s.jitter_ms = 200;
	s.min_ms = 20;
	s.max_ms = 60;
	run_sim(&s);
	print_sim("jb_max 60, jitter 200", &s);
	assert_true(s.dmax <= 60 + 20 + 20 + 1);
	assert_true(s.late > 0); /* the price of the bound */
}

/* A fixed-mode stream; its delay counts from 3 s (it is set 2 s in). */
static void fixed_sim(struct sim *s, unsigned min_ms, unsigned max_ms,
		      double jitter_ms, unsigned seconds)
{
	sim_defaults(s);
	s->mode = JB_FIXED;
	s->min_ms = min_ms;
	s->max_ms = max_ms;
	s->jitter_ms = jitter_ms;
	s->seconds = seconds;
	s->warm = 3;
}

/* Held: octets as sent, none late, no slip, a delay that moved under
 * 0.2 ms, at jb_min over the fastest packets (at most the jitter more). */
static void assert_held(const struct sim *s)
{
	assert_true(s->exact);
	assert_int_equal(s->late, 0);
	assert_int_equal(jb.scaled, 0);
	assert_true(s->dmin >= s->min_ms - 0.5 &&
		    s->dmax <= s->min_ms + s->jitter_ms + 0.5);
	assert_true(s->dmax - s->dmin < 0.2);
}

/* Fixed mode: the octets as sent, at jb_min over the first packets (at
 * most the jitter more), held: jitter moves it no more (no slip, no
 * jump in a minute of 0-30 ms); a drifting clock slips single samples
 * only. */
static void test_fixed(void **state)
{
	static struct sim s;

	(void)state;
	fixed_sim(&s, 60, 200, 30, 60);
	run_sim(&s);
	print_sim("fixed", &s);
	assert_held(&s);
	assert_int_equal(jb.concealed, 0);
	assert_int_equal(jb.jumps, 0);

	/* Two minutes: the fastest packet of the first seconds leaving the
	 * window is not a reason to move. */
	fixed_sim(&s, 80, 200, 60, 120);
	run_sim(&s);
	print_sim("fixed, jitter 60", &s);
	assert_held(&s);

	/* A stream that starts 300 ms late (a stall at its first packet):
	 * held, that would be over twice jb_min; one jump 2 s in sets it. */
	fixed_sim(&s, 40, 200, 0, 60);
	s.spike_at = 0;
	s.spike_ms = 300;
	run_sim(&s);
	print_sim("fixed, late start", &s);
	assert_int_equal(jb.jumps, 1);
	assert_int_equal(jb.scaled, 0);
	assert_true(s.exact); /* from then on: the stall's own are late */
	assert_true(s.dmin >= 39.5 && s.dmax <= 40.5);

	fixed_sim(&s, 40, 40, 0, 120);
	s.ppm = 300;
	run_sim(&s);
	print_sim("fixed, drift", &s);
	assert_true(fabs(s.d_last - s.d_first) <= 5);
	/* 120 s at 300 ppm: 288 samples. */
	assert_true(jb.scaled >= 200 && jb.scaled <= 300);
	assert_int_equal(jb.concealed, 0);

	/* A slow far clock with jitter: the delay grows by slips before
	 * packets come late. */
	fixed_sim(&s, 60, 200, 30, 120);
	s.ppm = -300;
	run_sim(&s);
	print_sim("fixed, drift -300 ppm, jitter 30", &s);
	assert_int_equal(s.late, 0);
	assert_true(jb.scaled >= 200 && jb.scaled <= 300);
	assert_true(s.dmax - s.dmin <= 14); /* dead zone + the window's lag */
}

/* Late and duplicate packets, partial overlaps, any ptime. */
static void test_put_edges(void **state)
{
	uint8_t pl[480], out[F];
	unsigned i;

	(void)state;
	for (i = 0; i < 256; i++)
		ident[i] = (uint8_t)i;
	memset(pl, 0x20, sizeof(pl));
	jbuf_init(&jb, MEDIA_PCMU, 0, 0, JB_ADAPTIVE);
	assert_int_equal(jbuf_put(&jb, 1000, pl, 0, ident, false, F), EALREADY);
	assert_int_equal(jbuf_put(&jb, 1000, pl, 961, ident, false, F),
			 EALREADY);
	assert_int_equal(jbuf_put(&jb, 1000, pl, 240, ident, false, F), 0);
	/* A duplicate, and one that only overlaps: the new part is kept. */
	assert_int_equal(jbuf_put(&jb, 1000, pl, 240, ident, false, F),
			 EALREADY);
	memset(pl, 0x21, sizeof(pl));
	assert_int_equal(jbuf_put(&jb, 1160, pl, 160, ident, false, F), 0);
	jbuf_get(&jb, out, F); /* lead-in: jb_min of silence */
	for (i = 0; i < F; i++)
		assert_int_equal(out[i], 0xff);
	jbuf_get(&jb, out, F);
	for (i = 0; i < F; i++)
		assert_int_equal(out[i], 0x20);
	jbuf_get(&jb, out, F);
	for (i = 0; i < 80; i++)
		assert_int_equal(out[i], 0x20);
	for (i = 80; i < F; i++)
		assert_int_equal(out[i], 0x21);
	/* Played already: too late, and no concealment is running. */
	assert_int_equal(jbuf_put(&jb, 1000, pl, 160, ident, false, F),
			 EALREADY);
	assert_int_equal(jb.concealed, 0);
	assert_int_equal(jb.underruns, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_edges),
		cmocka_unit_test(test_clean),
		cmocka_unit_test(test_jitter_reorder_dups),
		cmocka_unit_test(test_loss_concealed),
		cmocka_unit_test(test_drift_fast),
		cmocka_unit_test(test_drift_slow),
		cmocka_unit_test(test_new_source),
		cmocka_unit_test(test_ts_jump),
		cmocka_unit_test(test_spike_grows_then_shrinks),
		cmocka_unit_test(test_max_bound),
		cmocka_unit_test(test_fixed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
