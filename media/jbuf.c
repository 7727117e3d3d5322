/* media/jbuf.c  Fixed jitter buffer: samples placed by RTP timestamp */
#include <errno.h>
#include <string.h>

#include "media/jbuf.h"

#define JB_MASK (JB_RING - 1)

_Static_assert((JB_RING & JB_MASK) == 0, "JB_RING must be a power of two");
/* Audio held lies in [head, head + JB_MAX_AHEAD): no two samples share a
 * cell, and every cell outside that window is empty. */
_Static_assert(JB_MAX_PAYLOAD + JB_PREBUF <= JB_MAX_AHEAD &&
	       JB_MAX_AHEAD <= JB_RING,
	       "the write window must not alias in the ring");

void jbuf_init(struct jbuf *jb, uint8_t silence)
{
	memset(jb, 0, sizeof(*jb));
	jb->silence = silence;
}

void jbuf_reset(struct jbuf *jb)
{
	memset(jb->ring, 0, sizeof(jb->ring));
	jb->sync = false;
	jb->playing = false;
	jb->started = false;
}

static void clear_range(struct jbuf *jb, uint32_t from, uint32_t n)
{
	uint32_t i;

	if (n > JB_RING)
		n = JB_RING;
	for (i = 0; i < n; i++)
		jb->ring[(from + i) & JB_MASK] = 0;
}

/* Play @p ts JB_PREBUF samples from now.  The cells before it are empty:
 * they were played, or never written. */
static void anchor(struct jbuf *jb, uint32_t ts)
{
	jb->head = ts - JB_PREBUF;
	jb->end = ts;
	jb->anchor = ts;
	jb->playing = true;
}

int jbuf_put(struct jbuf *jb, uint32_t ts, const uint8_t *data, size_t n,
	     const uint8_t *conv)
{
	int32_t off;
	size_t i;

	if (n == 0 || n > JB_MAX_PAYLOAD)
		return EALREADY;

	if (!jb->sync) {
		anchor(jb, ts);
		jb->floor = jb->head;
		jb->sync = true;
	}
	off = (int32_t)(ts - jb->floor);

	/* Far outside the window either way: the sender's timeline jumped
	 * (restart, long silence suppression), so follow it rather than
	 * drop everything from now on. */
	if (off >= JB_RING || off + (int32_t)n <= -JB_RING) {
		jbuf_reset(jb);
		anchor(jb, ts);
		jb->floor = jb->head;
		jb->sync = true;
		off = 0;
	}

	if (off + (int32_t)n <= 0)
		return EALREADY;
	if (off < 0) {
		/* Partly played already: keep the part still to come. */
		data += -off;
		n -= (size_t)-off;
		ts = jb->floor;
	}
	if (jb->ring[ts & JB_MASK])
		return EALREADY;

	if (!jb->playing)
		anchor(jb, ts);

	/* Bound the delay: a faster far clock or a burst pushes the oldest
	 * audio out instead of letting the buffer grow. */
	off = (int32_t)(ts - jb->head);
	if (off + (int32_t)n > JB_MAX_AHEAD) {
		uint32_t adv = (uint32_t)(off + (int32_t)n - JB_MAX_AHEAD);

		clear_range(jb, jb->head, adv);
		jb->head += adv;
		if ((int32_t)(jb->head - jb->floor) > 0)
			jb->floor = jb->head;
		jb->drops++;
	}

	for (i = 0; i < n; i++)
		jb->ring[(ts + i) & JB_MASK] =
			(uint16_t)(0x100 | conv[data[i]]);
	if ((int32_t)(ts + (uint32_t)n - jb->end) > 0)
		jb->end = ts + (uint32_t)n;
	return 0;
}

void jbuf_get(struct jbuf *jb, uint8_t *out, size_t n)
{
	bool any = false;
	size_t i;

	if (!jb->playing) {
		memset(out, jb->silence, n);
		if (jb->started)
			jb->underruns++;
		return;
	}

	for (i = 0; i < n; i++) {
		uint16_t *cell = &jb->ring[(jb->head + i) & JB_MASK];

		if (*cell) {
			out[i] = (uint8_t)*cell;
			any = true;
			*cell = 0;
		} else {
			out[i] = jb->silence;
		}
	}
	if (any)
		jb->started = true;
	else if (jb->started && (int32_t)(jb->head - jb->anchor) >= 0)
		jb->underruns++; /* a gap, not the lead-in before a packet */
	jb->head += (uint32_t)n;
	if ((int32_t)(jb->head - jb->floor) > 0)
		jb->floor = jb->head;

	/* Ran dry: the next packet anchors the playout point again, so a
	 * stream that stalled resumes with its 40 ms of margin. */
	if ((int32_t)(jb->end - jb->head) <= 0)
		jb->playing = false;
}
