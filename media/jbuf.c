/* media/jbuf.c  Adaptive jitter buffer: playout by RTP timestamp, loss
 * concealment, a delay that follows the network and the far clock */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "media/g711.h"
#include "media/jbuf.h"

#define JB_MASK (JB_RING - 1)
#define JB_LOOK (JB_FRAME / 4)   /* most a frame is shortened or stretched
				  * by (quiet frames) */
#define JB_DEAD 16               /* start correcting past 2 ms off target */
#define JB_DEAD_FIXED 80         /* fixed: 10 ms, to slip only for drift */
#define JB_QUIET 300             /* peak of a quiet frame (about -40 dBov) */
#define JB_JUMP 8000             /* a transit change over 1 s: the sender's
				  * timeline jumped */

_Static_assert((JB_RING & JB_MASK) == 0, "JB_RING must be a power of two");
/* Audio held lies in [head, head + jb_max + JB_FRAME + JB_MAX_PAYLOAD),
 * which must not alias in the ring. */
_Static_assert(JB_MAX_MS * 8 + JB_FRAME + JB_MAX_PAYLOAD + JB_LOOK <= JB_RING,
	       "the write window must not alias in the ring");
_Static_assert(JB_NWIN <= 8, "wused is a byte");

static int32_t tdiff(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

void jbuf_set_law(struct jbuf *jb, enum media_law law)
{
	jb->law = law;
	jb->dec = g711_decode_table(law);
	jb->silence = media_g711_silence(law);
}

void jbuf_init(struct jbuf *jb, enum media_law law, unsigned min_ms,
	       unsigned max_ms, enum jb_mode mode)
{
	memset(jb, 0, sizeof(*jb));
	jbuf_set_law(jb, law);
	if (!max_ms) {
		min_ms = JB_DEF_MIN_MS;
		max_ms = JB_DEF_MAX_MS;
	}
	if (max_ms > JB_MAX_MS)
		max_ms = JB_MAX_MS;
	if (max_ms < JB_FRAME / 8)
		max_ms = JB_FRAME / 8; /* the delay bound keeps a frame */
	if (min_ms > max_ms)
		min_ms = max_ms;
	jb->lo = min_ms * 8;
	jb->hi = max_ms * 8;
	jb->mode = mode;
	jb->quiet = true;
	plc_init(&jb->plc);
}

void jbuf_rebase(struct jbuf *jb)
{
	if (jb->sync)
		jb->rebase = true;
}

/* ---- transit window --------------------------------------------------- */

static void win_add(struct jbuf *jb, int32_t tr)
{
	unsigned w = jb->wcur;

	if (!(jb->wused & (1u << w))) {
		jb->wlo[w] = jb->whi[w] = tr;
		jb->wused |= (uint8_t)(1u << w);
	} else if (tr < jb->wlo[w]) {
		jb->wlo[w] = tr;
	} else if (tr > jb->whi[w]) {
		jb->whi[w] = tr;
	}
}

static void win_reset(struct jbuf *jb)
{
	jb->wused = 0;
	jb->wcur = 0;
	jb->wstart = jb->clock;
}

static void win_rotate(struct jbuf *jb)
{
	if (tdiff(jb->clock, jb->wstart) < JB_WIN_LEN)
		return;
	jb->wcur = (uint8_t)((jb->wcur + 1) % JB_NWIN);
	jb->wused &= (uint8_t)~(1u << jb->wcur);
	jb->wstart = jb->clock;
}

/* The highest of the seconds' smallest transits: when even that says
 * the delay is too long, every second of the window agrees. */
static int32_t win_lo_max(const struct jbuf *jb)
{
	int32_t m = INT32_MIN;
	unsigned w;

	for (w = 0; w < JB_NWIN; w++)
		if ((jb->wused & (1u << w)) && jb->wlo[w] > m)
			m = jb->wlo[w];
	return m;
}

static bool win_range(const struct jbuf *jb, int32_t *lo, int32_t *hi)
{
	bool any = false;
	unsigned w;

	for (w = 0; w < JB_NWIN; w++) {
		if (!(jb->wused & (1u << w)))
			continue;
		if (!any || jb->wlo[w] < *lo)
			*lo = jb->wlo[w];
		if (!any || jb->whi[w] > *hi)
			*hi = jb->whi[w];
		any = true;
	}
	return any;
}

/* The playout offset wanted: the latest packets wait jb_min, the earliest
 * at most jb_max (fixed: the earliest wait jb_min, whatever the rest do;
 * once settled, as long as they waited then). */
static int32_t target(const struct jbuf *jb, int32_t lo, int32_t hi)
{
	int32_t t;

	if (jb->mode == JB_FIXED)
		return lo + (int32_t)(jb->settled ? jb->hold : jb->lo);
	t = hi + (int32_t)jb->lo;
	if (t > lo + (int32_t)jb->hi)
		t = lo + (int32_t)jb->hi;
	return t;
}

/* ---- put -------------------------------------------------------------- */

/* Map @p ts onto our timeline: after what is still buffered, or jb_min
 * ahead when nothing is; the transit window starts afresh. */
static void place(struct jbuf *jb, uint32_t ts)
{
	uint32_t p = jb->head + jb->lo;

	if (jb->sync && tdiff(jb->end, jb->head) > 0)
		p = jb->end;
	jb->tsoff = p - ts;
	if (!jb->sync)
		jb->end = jb->head;
	jb->sync = true;
	jb->rebase = false;
	win_reset(jb);
	/* A new timeline: its fastest packets are not known yet. */
	jb->settled = false;
	jb->settle_at = jb->clock + JB_SETTLE;
}

/* Nothing buffered and nothing being concealed: the playout point may
 * move freely, since what plays meanwhile is silence either way. */
static bool idle(const struct jbuf *jb)
{
	uint32_t plc = jb->mode == JB_ADAPTIVE ? JB_PLC_MAX : 0;

	if (tdiff(jb->end, jb->head) > 0)
		return false;
	return !jb->started || (jb->in_gap && jb->gap_len >= plc);
}

/* A late packet while its samples are being concealed: play it after all,
 * from where the concealment began, unless the delay would pass jb_max.
 * The stretch it adds is the "grow fast" half of the adaptation. */
static void rewind_to(struct jbuf *jb, uint32_t t, size_t n, int32_t lo)
{
	uint32_t s = t;

	if (jb->mode != JB_ADAPTIVE || !jb->in_gap ||
	    tdiff(t + (uint32_t)n, jb->gap_from) <= 0)
		return;
	if (tdiff(jb->gap_from, s) > 0)
		s = jb->gap_from;
	if (tdiff(jb->clock, s) > lo + (int32_t)jb->hi ||
	    tdiff(jb->end, s) > JB_RING - JB_MAX_PAYLOAD)
		return;
	/* What plays again was concealed: SpanDSP blends the real audio
	 * into its synthetic cycle at the same point of the timeline. */
	if (jb->plc.missing_samples && jb->plc.pitch > 0) {
		int back = (int)((jb->head - s) % (uint32_t)jb->plc.pitch);

		jb->plc.pitch_offset = (jb->plc.pitch_offset - back +
					jb->plc.pitch) % jb->plc.pitch;
	}
	jb->head = s;
	jb->rewinds++;
}

static void clear_range(struct jbuf *jb, uint32_t from, uint32_t n)
{
	uint32_t i;

	if (n > JB_RING)
		n = JB_RING;
	for (i = 0; i < n; i++)
		jb->ring[(from + i) & JB_MASK] = 0;
}

int jbuf_put(struct jbuf *jb, uint32_t ts, const uint8_t *data, size_t n,
	     const uint8_t *conv, bool marker, unsigned since)
{
	uint32_t at = jb->clock - JB_FRAME;
	int32_t tr, lo = 0, hi = 0, lead, jump, wait;
	uint32_t t;
	size_t i, wrote = 0;

	if (n == 0 || n > JB_MAX_PAYLOAD)
		return EALREADY;
	at += since < JB_FRAME ? since : JB_FRAME;
	if (!jb->sync || jb->rebase)
		place(jb, ts);
	t = ts + jb->tsoff;
	tr = tdiff(at, t);

	/* A timeline that moved by far more than any jitter (a restart, a
	 * marked talkspurt out of line): follow it rather than drop
	 * everything from now on. */
	jump = marker ? (int32_t)(jb->hi + JB_FRAME) : JB_JUMP;
	if (win_range(jb, &lo, &hi) && (tr < lo - jump || tr > hi + jump)) {
		place(jb, ts);
		t = ts + jb->tsoff;
		tr = tdiff(at, t);
	}

	if (idle(jb)) {
		/* After a silence later than ever and than jb_max allows:
		 * the path got slower for good, the old transits no longer
		 * count. */
		if (win_range(jb, &lo, &hi) && tr > hi &&
		    tr > lo + (int32_t)jb->hi)
			win_reset(jb);
		win_add(jb, tr);
		win_range(jb, &lo, &hi);
		jb->head = jb->clock - (uint32_t)target(jb, lo, hi);
		jb->end = jb->head; /* nothing is held: the ring is empty */
	} else {
		win_add(jb, tr);
		win_range(jb, &lo, &hi);
	}

	lead = tdiff(t, jb->head);
	if (lead < 0) {
		rewind_to(jb, t, n, lo);
		lead = tdiff(t, jb->head);
	}
	if (lead + (int32_t)n <= 0)
		return EALREADY;
	if (lead < 0) {
		/* Partly played already: keep the part still to come. */
		data += -lead;
		n -= (size_t)-lead;
		t = jb->head;
		lead = 0;
	}

	/* Bound the delay: a burst that would wait over jb_max (and a frame
	 * of slack) pushes the oldest audio out; time-scaling would take
	 * seconds to absorb it. */
	wait = lead + tdiff(jb->clock, at);
	if (wait > (int32_t)(jb->hi + JB_FRAME)) {
		uint32_t adv = (uint32_t)wait - jb->hi;

		clear_range(jb, jb->head, adv);
		jb->head += adv;
		jb->drops++;
	}

	for (i = 0; i < n; i++) {
		uint16_t *cell = &jb->ring[(t + (uint32_t)i) & JB_MASK];

		if (!*cell) {
			*cell = (uint16_t)(0x100 | conv[data[i]]);
			wrote++;
		}
	}
	if (!wrote)
		return EALREADY;
	if (tdiff(t + (uint32_t)n, jb->end) > 0)
		jb->end = t + (uint32_t)n;
	return 0;
}

/* ---- get -------------------------------------------------------------- */

/*
 * Fixed mode: a modem or fax receiver is trained on the delay it hears,
 * so once settled the delay moves only when the window's every second
 * says the fastest packets wait over JB_DEAD_FIXED more or less than
 * they did then: the far clock drifting from ours.  The fastest packet
 * of the window leaving it, or one faster packet, is jitter, not a
 * trend.  Then one sample a frame until the error crosses 0.
 */
static unsigned consume_fixed(struct jbuf *jb, unsigned n, int32_t lo)
{
	int32_t off = tdiff(jb->clock, jb->head);
	/* > 0: even the window's fastest packets wait less than when the
	 * delay was set. */
	int32_t grow = lo + (int32_t)jb->hold - off;
	/* < 0: each second's fastest packets wait more. */
	int32_t shrink = win_lo_max(jb) + (int32_t)jb->hold - off;

	if (!jb->settled) {
		jb->adj = 0;
		return n; /* settle() sets the delay */
	}
	if (!jb->adj) {
		if (grow > JB_DEAD_FIXED)
			jb->adj = 1;
		else if (shrink < -JB_DEAD_FIXED)
			jb->adj = -1;
		else
			return n;
	}
	if ((jb->adj > 0 && grow <= 0) || (jb->adj < 0 && shrink >= 0)) {
		jb->adj = 0;
		return n;
	}
	return jb->adj > 0 ? n - 1 : n + 1;
}

/* Samples to consume for @p n played: fewer to let the delay grow, more
 * to let it shrink, as far as the frame hides it. */
static unsigned consume(struct jbuf *jb, unsigned n, bool quiet)
{
	int32_t lo, hi, err, k, lim;

	if (n < 2 || !win_range(jb, &lo, &hi) || idle(jb)) {
		jb->adj = 0;
		return n;
	}
	if (jb->mode == JB_FIXED)
		return consume_fixed(jb, n, lo);
	err = target(jb, lo, hi) - tdiff(jb->clock, jb->head);
	/* Growing starts at once: a packet may come at the very start of a
	 * frame, and the offset must not lag its transit. */
	if (!jb->adj) {
		if (err > 0)
			jb->adj = 1;
		else if (err < -JB_DEAD)
			jb->adj = -1;
		else
			return n;
	}
	if ((jb->adj > 0 && err <= 0) || (jb->adj < 0 && err >= 0)) {
		jb->adj = 0;
		return n;
	}
	/* While audio plays the delay shrinks only once the latest packets
	 * wait over twice jb_min: quiet frames come soon enough in speech,
	 * and a tone (which an echo canceller has trained on) keeps its
	 * pitch. */
	if (jb->adj < 0 && !quiet && err >= -(int32_t)(jb->lo + JB_DEAD))
		return n;
	if (quiet)
		lim = jb->adj > 0 ? JB_LOOK : JB_LOOK / 2;
	else
		lim = jb->adj > 0 ? 2 : 1;
	k = err < 0 ? -err : err;
	if (k > lim)
		k = lim;
	if (k > (int32_t)n / 4)
		k = (int32_t)n / 4;
	return jb->adj > 0 ? n - (unsigned)k : n + (unsigned)k;
}

/*
 * Fixed mode, JB_SETTLE into a stream: the delay the first packets set
 * is kept (how long the fastest packets so far wait is held from now
 * on), unless they wait under jb_min, or over twice that (the first
 * packets were held up): then it is set to jb_min over them in one jump
 * (one discontinuity, early, rather than a slip a frame for seconds):
 * growing replays as silence what was already played, shrinking skips
 * audio.
 */
static void settle(struct jbuf *jb)
{
	int32_t lo, hi, off, err;

	if (!win_range(jb, &lo, &hi))
		return;
	jb->settled = true;
	off = tdiff(jb->clock, jb->head);
	jb->hold = (uint32_t)(off - lo);
	if (off - lo >= (int32_t)jb->lo && off - lo <= 2 * (int32_t)jb->lo)
		return;
	jb->hold = jb->lo;
	err = lo + (int32_t)jb->lo - off;
	if (err < 0)
		clear_range(jb, jb->head, (uint32_t)-err);
	jb->head -= (uint32_t)err;
	jb->jumps++;
}

/*
 * A frame whose last few samples have not come (a packet a little late:
 * the far clock slow, some jitter) stretches what it has instead: the
 * delay grows by as much, without a blend into concealment and back when
 * the packet comes an instant later.
 */
static unsigned short_tail(const struct jbuf *jb, const bool *have,
			   unsigned n, unsigned m)
{
	unsigned f, i;

	if (jb->mode != JB_ADAPTIVE || n < 2 || !have[0])
		return m;
	for (f = 1; f < m && have[f]; f++)
		;
	if (f == m || m - f >= PLC_PITCH_OVERLAP_MAX || f + JB_LOOK < n)
		return m;
	for (i = f; i < m; i++)
		if (have[i])
			return m;
	return f;
}

/* Play @p m samples of x in @p n: linear interpolation, first and last
 * samples kept, so the frame joins its neighbours without a step. */
static void scale(int16_t *y, unsigned n, const int16_t *x, unsigned m)
{
	uint32_t step = ((uint32_t)(m - 1) << 16) / (n - 1), pos = 0;
	unsigned j;

	for (j = 0; j < n; j++, pos += step) {
		unsigned i = pos >> 16;
		int64_t f = pos & 0xffff;

		if (i + 1 >= m)
			y[j] = x[m - 1];
		else
			y[j] = (int16_t)(x[i] +
					 (((int64_t)(x[i + 1] - x[i]) * f) >> 16));
	}
}

/* Fixed mode: octets as received, one dropped or repeated for a slip. */
static void slip(uint8_t *out, unsigned n, const uint8_t *oct, unsigned m)
{
	unsigned half = n / 2;

	if (m == n) {
		memcpy(out, oct, n);
	} else if (m > n) {
		memcpy(out, oct, half);
		memcpy(out + half, oct + half + 1, n - half);
	} else {
		memcpy(out, oct, half + 1);
		memcpy(out + half + 1, oct + half, n - half - 1);
	}
}

/*
 * A gap's first fill-in puts SpanDSP's history ring in order, oldest
 * first, with a memcpy between overlapping halves (undefined; ASan stops
 * on it).  Doing it here first, with no overlap, leaves it nothing to do.
 */
static void history_unwrap(plc_state_t *s)
{
	int16_t tmp[PLC_HISTORY_LEN];
	size_t p = (size_t)s->buf_ptr, n = PLC_HISTORY_LEN - p;

	if (s->buf_ptr <= 0 || s->buf_ptr >= PLC_HISTORY_LEN)
		return;
	memcpy(tmp, s->history + p, n * sizeof(*tmp));
	memcpy(tmp + n, s->history, p * sizeof(*tmp));
	memcpy(s->history, tmp, sizeof(tmp));
	s->buf_ptr = 0;
}

/*
 * SpanDSP's first fill-in of a gap always writes a quarter pitch period
 * (up to PLC_PITCH_OVERLAP_MAX samples: its blend out of the real audio),
 * whatever @p c.  A shorter run is made in a buffer of that size, and the
 * state set back to where the samples used end, so that what follows
 * (more fill-in, or real audio blended in) joins on in phase.
 */
static void conceal(struct jbuf *jb, int16_t *x, unsigned c)
{
	int16_t tmp[PLC_PITCH_OVERLAP_MAX];

	if (!jb->plc.missing_samples)
		history_unwrap(&jb->plc);
	if (jb->plc.missing_samples || c >= PLC_PITCH_OVERLAP_MAX) {
		plc_fillin(&jb->plc, x, (int)c);
		return;
	}
	plc_fillin(&jb->plc, tmp, PLC_PITCH_OVERLAP_MAX);
	memcpy(x, tmp, c * sizeof(*x));
	jb->plc.pitch_offset = (int)c; /* c < 30 < PLC_PITCH_MAX */
	jb->plc.missing_samples = (int)c;
}

/* Conceal or silence the missing run x[i, i + len). */
static unsigned fill_gap(struct jbuf *jb, int16_t *x, unsigned i,
			 unsigned len)
{
	unsigned c = 0;

	if (!jb->in_gap) {
		jb->in_gap = true;
		jb->gap_from = jb->head + i;
		jb->gap_len = 0;
	}
	if (jb->mode == JB_ADAPTIVE && jb->started &&
	    jb->gap_len < JB_PLC_MAX) {
		c = JB_PLC_MAX - jb->gap_len;
		if (c > len)
			c = len;
		conceal(jb, x + i, c);
	}
	memset(x + i + c, 0, (len - c) * sizeof(*x));
	jb->gap_len += len;
	return c;
}

static void get_frame(struct jbuf *jb, uint8_t *out, unsigned n)
{
	int16_t x[JB_FRAME + JB_LOOK], y[JB_FRAME];
	uint8_t oct[JB_FRAME + JB_LOOK];
	bool have[JB_FRAME + JB_LOOK];
	bool any = false, changed = false, quiet = jb->quiet;
	unsigned i, j, m, conc = 0;
	int peak = 0;

	if (!jb->sync) {
		memset(out, jb->silence, n);
		jb->clock += n;
		return;
	}
	win_rotate(jb);
	if (jb->mode == JB_FIXED && jb->started && !jb->settled &&
	    tdiff(jb->clock, jb->settle_at) >= 0)
		settle(jb);
	for (i = 0; i < n + JB_LOOK; i++) {
		uint16_t cell = jb->ring[(jb->head + i) & JB_MASK];

		have[i] = cell != 0;
		oct[i] = have[i] ? (uint8_t)cell : jb->silence;
	}
	/* Fixed mode plays octets only. */
	for (i = 0; jb->mode == JB_ADAPTIVE && i < n + JB_LOOK; i++) {
		x[i] = jb->dec[oct[i]];
		if (i < n && have[i] && (x[i] > JB_QUIET || x[i] < -JB_QUIET))
			quiet = false;
	}
	m = consume(jb, n, quiet);
	m = short_tail(jb, have, n, m);
	if (m != n)
		jb->scaled++;

	if (jb->mode == JB_FIXED) {
		for (i = 0; i < m; i++) {
			if (have[i]) {
				any = true;
				jb->in_gap = false;
			} else {
				fill_gap(jb, x, i, 1);
			}
		}
		slip(out, n, oct, m);
		goto played;
	}

	for (i = 0; i < m; i = j) {
		for (j = i; j < m && have[j] == have[i]; j++)
			;
		if (have[i]) {
			/* After a gap SpanDSP blends the real audio in. */
			if (jb->in_gap)
				changed = true;
			jb->in_gap = false;
			plc_rx(&jb->plc, x + i, (int)(j - i));
			any = true;
		} else {
			conc += fill_gap(jb, x, i, j - i);
			changed = true;
		}
	}
	for (i = 0; i < m; i++)
		if (x[i] > peak || -x[i] > peak)
			peak = x[i] < 0 ? -x[i] : x[i];
	if (m != n) {
		scale(y, n, x, m);
		for (i = 0; i < n; i++)
			out[i] = media_g711_encode(jb->law, y[i]);
	} else if (changed) {
		for (i = 0; i < n; i++)
			out[i] = media_g711_encode(jb->law, x[i]);
	} else {
		memcpy(out, oct, n); /* as received, bit for bit */
	}
	jb->quiet = peak <= JB_QUIET;

played:
	clear_range(jb, jb->head, m);
	if (conc)
		jb->concealed++;
	if (any) {
		if (!jb->started)
			jb->settle_at = jb->clock + JB_SETTLE;
		jb->started = true;
	} else if (!conc && jb->started) {
		jb->underruns++;
	}
	jb->head += m;
	jb->clock += n;
}

void jbuf_get(struct jbuf *jb, uint8_t *out, size_t n)
{
	while (n > JB_FRAME) {
		get_frame(jb, out, JB_FRAME);
		out += JB_FRAME;
		n -= JB_FRAME;
	}
	if (n)
		get_frame(jb, out, (unsigned)n);
}
