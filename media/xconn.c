/* media/xconn.c  Timeslot <-> timeslot: a frame ring per direction
 *
 * Each end runs on the worker that owns its span, which may not be the
 * other end's.  When a span's frame arrives, the end pushes its timeslot's
 * 20 ms into its ring and pops the other end's newest audio into its
 * answer, so a frame waits at most until the other span's next frame: no
 * more than 20 ms.  The rings are single-producer single-consumer and
 * lock-free (see struct xring), so neither worker ever waits for the other.
 *
 * Two free-running 20 ms clocks drift and stall: a frame pushed just
 * after the other side popped waits a whole frame, and a worker that was
 * late delivers two at once.  A frame left over after every pop of a
 * window is a standing delay, not jitter, and is dropped.
 */
#include <string.h>

#include "media/core.h"
#include "media/g711.h"

#define XC_MASK (XC_RING - 1)

_Static_assert((XC_RING & XC_MASK) == 0, "XC_RING must be a power of two");

struct xend *xconn_end(struct bridge *b, int span_id, unsigned chan)
{
	struct xend *e = &b->xc.end[0];

	/* span_id and chan are immutable: no race with the other worker. */
	if (e->span_id == span_id && e->chan == chan)
		return e;
	return &b->xc.end[1];
}

static void ring_push(struct xring *r, struct xend *e, enum media_law law,
		      const uint8_t *in)
{
	unsigned head = atomic_load_explicit(&r->head, memory_order_relaxed);
	unsigned tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	struct xframe *f;

	if (head - tail >= XC_RING) {
		/* The other end's span is absent or its worker stalled. */
		e->drops++;
		return;
	}
	f = &r->f[head & XC_MASK];
	f->law = (uint8_t)law;
	memcpy(f->pcm, in, MEDIA_FRAME_SAMPLES);
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
}

static void ring_pop(struct xring *r, struct xend *e, enum media_law law,
		     uint8_t *out)
{
	unsigned tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	unsigned head = atomic_load_explicit(&r->head, memory_order_acquire);
	unsigned left = head - tail;

	if (left == 0) {
		memset(out, media_g711_silence(law), MEDIA_FRAME_SAMPLES);
		if (e->started)
			e->underruns++;
	} else {
		const struct xframe *f = &r->f[tail & XC_MASK];
		const uint8_t *conv =
			g711_conv_table((enum media_law)f->law, law);
		unsigned i;

		for (i = 0; i < MEDIA_FRAME_SAMPLES; i++)
			out[i] = conv[f->pcm[i]];
		e->started = true;
		tail++;
		left--;
	}

	if (e->win_n == 0 || left < e->win_min)
		e->win_min = left;
	if (++e->win_n == XC_WINDOW) {
		if (e->win_min) {
			tail += e->win_min;
			e->drops++;
		}
		e->win_n = 0;
	}
	atomic_store_explicit(&r->tail, tail, memory_order_release);
}

void xconn_frame(struct bridge *b, const struct span *sp, unsigned chan,
		 const uint8_t *in, uint8_t *out)
{
	struct xend *e = xconn_end(b, sp->span_id, chan);

	e->frames++;
	ring_push(&b->xc.ring[e->idx], e, sp->io.law, in);
	ring_pop(&b->xc.ring[1 - e->idx], e, sp->io.law, out);
}

/* Both ends have let go (the last one's acq_rel decrement of live made
 * the other's counters visible here). */
void xconn_finish(struct bridge *b)
{
	unsigned i;

	for (i = 0; i < 2; i++) {
		const struct xend *e = &b->xc.end[i];

		b->st.tdm_frames += e->frames;
		b->st.underruns += e->underruns;
		b->st.jb_drops += e->drops;
	}
}
