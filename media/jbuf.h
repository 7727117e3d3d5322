/* media/jbuf.h  Internal: fixed jitter buffer for one G.711 RTP stream */
#ifndef TG_MEDIA_JBUF_H
#define TG_MEDIA_JBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JB_RING 2048             /* samples; a power of two */
#define JB_PREBUF 320            /* 40 ms buffered before playout */
#define JB_MAX_AHEAD (8 * 160)   /* delay bound: 8 frames */
#define JB_MAX_PAYLOAD 960       /* largest packet accepted, samples */

/*
 * Samples are placed by RTP timestamp relative to the playout point
 * (head): ring[ts & mask] holds 0x100 | octet when a sample is present and
 * 0 when it is missing, so gaps and duplicates are visible per sample and
 * packets of any ptime interleave correctly.
 *
 * The first packet anchors the playout point JB_PREBUF samples before its
 * timestamp: it plays 40 ms after it arrived, and packets up to 40 ms late
 * still play.  When the buffer runs dry the next packet anchors it again.
 */
struct jbuf {
	uint16_t ring[JB_RING];
	uint32_t head;    /* timestamp of the next sample to play */
	uint32_t end;     /* one past the newest sample written */
	uint32_t floor;   /* audio before this was played (or skipped) */
	uint32_t anchor;  /* timestamp of the packet that anchored head */
	bool sync;        /* head/end set from a packet */
	bool playing;     /* anchored: head advancing over buffered audio */
	bool started;     /* played at least once since the last reset */
	uint8_t silence;  /* played for missing samples */
	uint64_t drops;    /* times the oldest audio was dropped for delay */
	uint64_t underruns; /* frames played with no sample at all */
};

void jbuf_init(struct jbuf *jb, uint8_t silence);
/** Forget all audio (new SSRC); counters are kept. */
void jbuf_reset(struct jbuf *jb);
/**
 * Store @p n samples starting at RTP timestamp @p ts, each mapped through
 * @p conv.  @return 0, or EALREADY when the packet was late or a duplicate
 * and has been dropped.
 */
int jbuf_put(struct jbuf *jb, uint32_t ts, const uint8_t *data, size_t n,
	     const uint8_t *conv);
/** Play @p n samples into @p out (silence where missing). */
void jbuf_get(struct jbuf *jb, uint8_t *out, size_t n);

#endif
