/* media/jbuf.h  Internal: adaptive jitter buffer for one G.711 RTP stream */
#ifndef TG_MEDIA_JBUF_H
#define TG_MEDIA_JBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <spandsp/telephony.h>
#include <spandsp/plc.h>

#include "media/media.h"

#define JB_RING 4096             /* samples; a power of two */
#define JB_MAX_PAYLOAD 960       /* largest packet accepted, samples */
#define JB_FRAME 160             /* what jbuf_get plays at a time, at most */
#define JB_MAX_MS 300            /* jb_max bound (ring room for it) */
#define JB_DEF_MIN_MS 20
#define JB_DEF_MAX_MS 200
#define JB_NWIN 8                /* transit window: JB_NWIN buckets ... */
#define JB_WIN_LEN 8000          /* ... of 1 s each */
#define JB_PLC_MAX 400           /* concealment per gap: 50 ms, then
				  * silence (SpanDSP has faded out by then) */
#define JB_SETTLE 16000          /* fixed: 2 s into a stream's audio its
				  * delay is set (held from then on) */

enum jb_mode {
	JB_ADAPTIVE = 0,  /* delay follows the jitter; losses concealed */
	JB_FIXED,         /* delay jb_min over the first packets (or more
			   * if the first was slow), held from JB_SETTLE
			   * into the stream on (one jump then if it is
			   * under jb_min or over twice); audio bit for
			   * bit but for single-sample slips when every
			   * second of the window says the delay moved: a
			   * drifting far clock (fax, modems, data) */
};

/*
 * Samples are placed by RTP timestamp (mapped onto our own timeline by
 * tsoff) relative to the playout point head: ring[ts & mask] holds
 * 0x100 | octet when a sample is present and 0 when it is missing, so
 * gaps, duplicates and reordering are visible per sample and packets of
 * any ptime interleave.
 *
 * clock counts the samples played.  A packet's transit is its arrival on
 * that clock (the last get plus the time since) less its timestamp; it
 * plays at the next get at the earliest, so it is on time when the
 * playout offset clock - head is at least its transit plus what was left
 * of that frame.  The smallest and largest transit over the last JB_NWIN
 * seconds give the
 * target offset (largest + jb_min, at most smallest + jb_max); head then
 * moves a little faster or slower than the clock to reach it: one or two
 * samples a frame by linear time-scaling while audio plays, up to a
 * quarter frame in quiet frames.  A far clock off ours shows as a slow
 * slide of the transits, which the same loop follows.
 */
struct jbuf {
	uint16_t ring[JB_RING];
	plc_state_t plc;
	enum media_law law;  /* of the octets stored and played */
	const int16_t *dec;  /* its decoding table */
	enum jb_mode mode;
	uint8_t silence;     /* played for missing samples */
	uint32_t lo, hi;     /* jb_min, jb_max in samples */

	uint32_t clock;      /* samples played */
	uint32_t head;       /* timeline position of the next sample */
	uint32_t end;        /* one past the newest sample stored */
	uint32_t tsoff;      /* RTP timestamp + tsoff = timeline position */
	bool sync;           /* tsoff set from a packet */
	bool rebase;         /* the next packet starts a new timeline */
	bool started;        /* played received audio at least once */
	bool quiet;          /* the last frame played was quiet */
	int adj;             /* correcting toward the target: +1 slower,
			      * -1 faster, 0 not */
	bool settled;        /* fixed: the delay is set, ... */
	uint32_t settle_at;  /* ... at this clock, ... */
	uint32_t hold;       /* ... to what the fastest packets waited */

	bool in_gap;         /* the last sample played was missing */
	uint32_t gap_from;   /* where that gap began */
	uint32_t gap_len;    /* samples missing in it so far */

	int32_t wlo[JB_NWIN], whi[JB_NWIN]; /* transit range per bucket */
	uint8_t wused;       /* buckets holding a range */
	uint8_t wcur;
	uint32_t wstart;     /* clock when bucket wcur began */

	uint64_t drops;      /* times the oldest audio was dropped for the
			      * delay bound (a burst over jb_max) */
	uint64_t underruns;  /* frames played as silence, nothing received */
	uint64_t concealed;  /* frames with audio synthesised for losses */
	uint64_t rewinds;    /* late packets played by growing the delay */
	uint64_t scaled;     /* frames played time-scaled (or slipped) */
	uint64_t jumps;      /* fixed: times the delay was set by a jump */
};

/** Delays in ms; @p max_ms 0 takes the defaults for both, else it is
 * 20-300 and @p min_ms at most that. */
void jbuf_init(struct jbuf *jb, enum media_law law, unsigned min_ms,
	       unsigned max_ms, enum jb_mode mode);
void jbuf_set_law(struct jbuf *jb, enum media_law law);
/** A new source (SSRC): its timestamps start a new timeline, which is
 * joined to what is still buffered, without a gap. */
void jbuf_rebase(struct jbuf *jb);
/**
 * Store @p n samples starting at RTP timestamp @p ts, each mapped through
 * @p conv; @p marker as in the packet; it arrived @p since samples after
 * the last get began (JB_FRAME or more: just before the next).  @return
 * 0, or EALREADY when the packet was too late or a duplicate and has been
 * dropped.
 */
int jbuf_put(struct jbuf *jb, uint32_t ts, const uint8_t *data, size_t n,
	     const uint8_t *conv, bool marker, unsigned since);
/** Play @p n samples into @p out. */
void jbuf_get(struct jbuf *jb, uint8_t *out, size_t n);

#endif
