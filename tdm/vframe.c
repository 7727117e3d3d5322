/* tdm/vframe.c  Virtual span TDM frame header */
#include <errno.h>
#include <string.h>

#include "vframe.h"

static const uint8_t magic[4] = {'T', 'G', 'B', '1'};

void tdm_vframe_put_hdr(uint8_t *buf, uint32_t seq)
{
	memcpy(buf, magic, sizeof(magic));
	buf[4] = (uint8_t)(seq >> 24);
	buf[5] = (uint8_t)(seq >> 16);
	buf[6] = (uint8_t)(seq >> 8);
	buf[7] = (uint8_t)seq;
}

int tdm_vframe_check(const uint8_t *buf, size_t len, unsigned nchan,
		     uint32_t *seqp)
{
	if (nchan == 0 || nchan > TDM_VFRAME_MAXCHAN)
		return EINVAL;
	if (len != tdm_vframe_size(nchan) || memcmp(buf, magic, 4))
		return EBADMSG;
	*seqp = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 |
		(uint32_t)buf[6] << 8 | buf[7];
	return 0;
}
