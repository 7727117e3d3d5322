/* media/faxtone.c  CNG and CED detection (SpanDSP modem_connect_tones) */
#include <errno.h>
#include <string.h>

#include <tiffio.h> /* spandsp.h needs it first on Debian's 0.0.6 */
#include <spandsp.h>

#include "media/faxtone.h"

int faxtone_init(struct faxtone *f)
{
	unsigned d;

	memset(f, 0, sizeof(*f));
	for (d = 0; d < 2; d++) {
		f->cng[d] = modem_connect_tones_rx_init(
			NULL, MODEM_CONNECT_TONES_FAX_CNG, NULL, NULL);
		/* The plain 2100 Hz detector: the one that also takes the
		 * V.21 preamble costs six times as much (0.08% of a core
		 * per direction), on every call, for the rare answering fax
		 * that skips CED; its caller's CNG still triggers. */
		f->ced[d] = modem_connect_tones_rx_init(
			NULL, MODEM_CONNECT_TONES_FAX_CED, NULL, NULL);
		if (!f->cng[d] || !f->ced[d]) {
			faxtone_free(f);
			return ENOMEM;
		}
	}
	return 0;
}

void faxtone_free(struct faxtone *f)
{
	unsigned d;

	for (d = 0; d < 2; d++) {
		if (f->cng[d])
			modem_connect_tones_rx_free(f->cng[d]);
		if (f->ced[d])
			modem_connect_tones_rx_free(f->ced[d]);
		f->cng[d] = f->ced[d] = NULL;
	}
}

int faxtone_feed(struct faxtone *f, unsigned dir, const int16_t *pcm,
		 unsigned n)
{
	if (dir > 1 || !f->cng[dir])
		return 0;
	modem_connect_tones_rx(f->cng[dir], pcm, (int)n);
	modem_connect_tones_rx(f->ced[dir], pcm, (int)n);
	if (modem_connect_tones_rx_get(f->cng[dir]) ==
	    MODEM_CONNECT_TONES_FAX_CNG)
		return MEDIA_FAX_CNG;
	if (modem_connect_tones_rx_get(f->ced[dir]) ==
	    MODEM_CONNECT_TONES_FAX_CED)
		return MEDIA_FAX_CED;
	return 0;
}
