/* tdm/vframe.h  Wire format of the virtual span (shared with pstnsim)
 *
 * A virtual span is two Unix SOCK_SEQPACKET connections, made by the CPE or
 * NET gateway side to sockets the line provider listens on:
 *
 *   <dir>/span<N>.d   D-channel: one message = one raw libpri frame, passed
 *                     through unchanged (libpri's 2 placeholder FCS bytes
 *                     included).
 *   <dir>/span<N>.b   B-channel audio: one message = one 20 ms TDM frame for
 *                     every bearer timeslot of the span.
 *
 * TDM frame: 8-byte header, then nchan blocks of 160 G.711 octets, bearer
 * channel 1 first.  Header: magic "TGB1" (4 bytes), then the frame sequence
 * number (uint32, big endian).  The line side (the one that listens) owns the
 * clock: it sends one frame every 20 ms; the other side answers every frame
 * it receives with exactly one frame carrying the same sequence number.
 * An idle timeslot carries the law's silence (0xFF mu-law, 0xD5 A-law).
 */
#ifndef TG_TDM_VFRAME_H
#define TG_TDM_VFRAME_H

#include <stddef.h>
#include <stdint.h>

#define TDM_FRAME_SAMPLES 160
#define TDM_VFRAME_HDR 8
#define TDM_VFRAME_MAXCHAN 31
#define TDM_VFRAME_MAX (TDM_VFRAME_HDR + TDM_VFRAME_MAXCHAN * TDM_FRAME_SAMPLES)

/** Bytes of a frame for @p nchan timeslots. */
static inline size_t tdm_vframe_size(unsigned nchan)
{
	return TDM_VFRAME_HDR + (size_t)nchan * TDM_FRAME_SAMPLES;
}

/** Write the header of a frame into @p buf (at least TDM_VFRAME_HDR bytes). */
void tdm_vframe_put_hdr(uint8_t *buf, uint32_t seq);

/**
 * Check a received frame of @p len bytes for @p nchan timeslots.
 * @return 0 with *seqp set, or EBADMSG (bad magic or size).
 */
int tdm_vframe_check(const uint8_t *buf, size_t len, unsigned nchan,
		     uint32_t *seqp);

/** Samples of timeslot @p chan (1-based) inside a frame. */
static inline uint8_t *tdm_vframe_slot(uint8_t *frame, unsigned chan)
{
	return frame + TDM_VFRAME_HDR + (size_t)(chan - 1) * TDM_FRAME_SAMPLES;
}

#endif
