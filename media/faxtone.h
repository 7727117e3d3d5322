/* media/faxtone.h  Internal: fax tone detection on a bridge's two directions
 *
 * SpanDSP's modem_connect_tones detectors for CNG (1100 Hz, T.30 calling
 * tone) and CED (2100 Hz answer tone), on the audio from the timeslot and
 * on the audio from RTP: about 0.05% of a core per call for all four.
 * Set up on the signalling thread, fed on the worker.
 */
#ifndef TG_MEDIA_FAXTONE_H
#define TG_MEDIA_FAXTONE_H

#include <stdint.h>

#include "media/media.h"

struct modem_connect_tones_rx_state_s;

struct faxtone {
	/* [0] the timeslot's audio, [1] the RTP side's */
	struct modem_connect_tones_rx_state_s *cng[2], *ced[2];
};

/** @return 0 or ENOMEM. */
int faxtone_init(struct faxtone *f);
void faxtone_free(struct faxtone *f);
/** @p n samples of direction @p dir (0 timeslot, 1 RTP).
 *  @return the tone once heard (MEDIA_FAX_CNG/CED), else 0. */
int faxtone_feed(struct faxtone *f, unsigned dir, const int16_t *pcm,
		 unsigned n);

#endif
