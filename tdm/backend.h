/* tdm/backend.h  What carries a span: the line backends (tdm/ only)
 *
 * span.c runs libpri and the B-channel bookkeeping; a backend owns the
 * file descriptors of one span's line.  The virtual backend (virtual.c)
 * connects to pstnsim's sockets, the dahdi backend (dahdi.c) opens the
 * card's channels.  Every call is made on the signalling loop, except the
 * audio ones, which the media worker owning the span makes.
 */
#ifndef TG_TDM_BACKEND_H
#define TG_TDM_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "tdm.h"

struct tdm_backend {
	const char *name;
	/** Make the line's private state for @p cfg (no I/O yet). */
	int (*init)(void **linep, const struct tdm_span_config *cfg);
	void (*fini)(void *line);
	/**
	 * Bring the line up: 0 with *dfd (readable when the D-channel has a
	 * frame or the line news) and *afd (the B-channel audio fd), or an
	 * errno: tried again a second later.
	 */
	int (*up)(void *line, int *dfd, int *afd);
	/** The line is lost or the span closes: let go of the D-channel now;
	 *  the audio fd stays valid until the next up() or fini() (the media
	 *  worker may poll it until it has heard of the loss). */
	void (*down)(void *line);
	/** One D-channel frame into @p buf: its length, 0 none now, -1 the
	 *  line is lost. */
	int (*d_read)(void *line, void *buf, int len);
	/** Send one frame: @p len, or -1. */
	int (*d_write)(void *line, const void *buf, int len);
	/** tdm_span_audio_recv / send of the line (media worker), given the
	 *  audio fd up() returned (span.c hands it over atomically). */
	int (*audio_recv)(void *line, int afd, const uint8_t **rx,
			  uint32_t *seq);
	int (*audio_send)(void *line, int afd, uint32_t seq,
			  const uint8_t *tx);
	/** The line's alarms as the hardware reports them ("" none known). */
	void (*alarms)(void *line, char *buf, size_t len);
};

extern const struct tdm_backend tdm_backend_virtual;
/** NULL when the build has no DAHDI headers. */
extern const struct tdm_backend *const tdm_backend_dahdi;

#endif
