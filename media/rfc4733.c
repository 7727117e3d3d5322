/* media/rfc4733.c  RFC 4733 telephone-events: payload, sender, receiver */
#include <errno.h>
#include <string.h>

#include "media/rfc4733.h"

static const char digits[] = "0123456789*#ABCD";

char te_digit(unsigned event)
{
	return event <= TE_MAX_EVENT ? digits[event] : 0;
}

int te_event_of(char digit)
{
	const char *p;

	if (digit >= 'a' && digit <= 'd')
		digit = (char)(digit - 'a' + 'A');
	p = digit ? strchr(digits, digit) : NULL;
	return p ? (int)(p - digits) : -1;
}

/* RFC 4733 2.3: event (8), E (1), R (1), volume (6), duration (16). */
int te_decode(struct te_event *ev, const uint8_t *p, size_t len)
{
	if (len < TE_PAYLOAD_LEN)
		return EBADMSG;
	ev->event = p[0];
	ev->end = (p[1] & 0x80) != 0;
	ev->volume = p[1] & 0x3f;
	ev->duration = (uint16_t)(p[2] << 8 | p[3]);
	return 0;
}

void te_encode(uint8_t *p, const struct te_event *ev)
{
	p[0] = ev->event;
	p[1] = (uint8_t)((ev->end ? 0x80 : 0) | (ev->volume & 0x3f));
	p[2] = (uint8_t)(ev->duration >> 8);
	p[3] = (uint8_t)ev->duration;
}

/* ---- sender ----------------------------------------------------------- */

void te_tx_start(struct te_tx *t, uint8_t event, uint8_t volume)
{
	memset(t, 0, sizeof(*t));
	t->active = true;
	t->event = event;
	t->volume = volume > 63 ? 63 : volume;
}

void te_tx_stop(struct te_tx *t)
{
	if (t->active)
		t->ending = true;
}

void te_tx_packet(struct te_tx *t, uint32_t pkt_ts, unsigned samples,
		  struct te_tx_pkt *out)
{
	struct te_event ev;
	uint32_t dur;

	memset(out, 0, sizeof(*out));
	if (!t->active)
		return;
	if (!t->started) {
		/* RFC 4733 2.5.1.1: the event's timestamp is where it began,
		 * its first packet has the marker. */
		t->ts = pkt_ts;
		t->started = true;
		out->marker = true;
	}
	dur = pkt_ts + samples - t->ts;
	if (dur > 0xffff) {
		/* 2.5.1.3: a long event goes on in a new segment, with the
		 * timestamp of this packet and no marker. */
		t->ts = pkt_ts;
		dur = samples;
	}
	ev.event = t->event;
	ev.volume = t->volume;
	ev.duration = (uint16_t)dur;
	ev.end = t->ending;
	te_encode(out->payload, &ev);
	out->ts = t->ts;
	/* 2.5.1.4: the end goes three times, all alike but for seq. */
	out->n = t->ending ? TE_END_COPIES : 1;
	if (t->ending)
		memset(t, 0, sizeof(*t));
}

/* ---- receiver --------------------------------------------------------- */

void te_rx_reset(struct te_rx *r)
{
	memset(r, 0, sizeof(*r));
}

static unsigned act_put(struct te_act *act, unsigned n, enum te_act_type type,
			uint8_t event, uint32_t dur)
{
	act[n].type = type;
	act[n].event = event;
	act[n].duration = dur;
	return n + 1;
}

/* A packet of the current segment: grow or end it. */
static unsigned rx_same(struct te_rx *r, const struct te_event *ev,
			struct te_act *act)
{
	unsigned n = 0;
	uint32_t dur;

	if (r->ended || ev->event != r->event)
		return 0; /* a repeated end, or garbage at this timestamp */
	r->idle = 0;
	if (ev->duration > r->seg_dur) {
		r->seg_dur = ev->duration;
		dur = r->seg_ts - r->ts + r->seg_dur;
		if (dur > r->dur) {
			r->dur = dur;
			if (!ev->end)
				n = act_put(act, n, TE_ACT_UPDATE, r->event,
					    r->dur);
		}
	}
	if (ev->end) {
		r->ended = true;
		n = act_put(act, n, TE_ACT_END, r->event, r->dur);
	}
	return n;
}

unsigned te_rx_packet(struct te_rx *r, uint32_t ts, const struct te_event *ev,
		      struct te_act *act)
{
	int32_t age;
	unsigned n = 0;

	if (ev->event > TE_MAX_EVENT)
		return 0; /* not DTMF (flash, fax tones): nothing to play */
	if (r->have) {
		if (ts == r->seg_ts)
			return rx_same(r, ev, act);
		age = (int32_t)(r->seg_ts - ts);
		if (age > 0 && age <= TE_RX_OLD)
			return 0; /* late: of an event already seen */
		/* The next segment of a long event (RFC 4733 2.5.1.3). */
		if (!r->ended && ev->event == r->event &&
		    r->seg_dur >= 0xffff - 2 * 480 &&
		    ts - r->seg_ts <= (uint32_t)r->seg_dur + 480) {
			r->seg_ts = ts;
			r->seg_dur = 0;
			return rx_same(r, ev, act);
		}
		/* A new timestamp is a new digit, whether or not the
		 * marker says so; an unfinished one lost its end. */
		if (!r->ended)
			n = act_put(act, n, TE_ACT_END, r->event, r->dur);
	}
	r->have = true;
	r->ended = ev->end;
	r->event = ev->event;
	r->ts = r->seg_ts = ts;
	r->seg_dur = ev->duration;
	r->dur = ev->duration;
	r->idle = 0;
	n = act_put(act, n, TE_ACT_START, r->event, r->dur);
	if (ev->end)
		n = act_put(act, n, TE_ACT_END, r->event, r->dur);
	return n;
}

unsigned te_rx_tick(struct te_rx *r, uint32_t samples, struct te_act *act)
{
	if (!r->have || r->ended)
		return 0;
	r->idle += samples;
	if (r->idle < TE_RX_TIMEOUT)
		return 0;
	r->ended = true;
	act_put(act, 0, TE_ACT_END, r->event, r->dur);
	return 1;
}
