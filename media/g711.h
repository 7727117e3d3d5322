/* media/g711.h  Internal: per-octet law conversion tables */
#ifndef TG_MEDIA_G711_H
#define TG_MEDIA_G711_H

#include <stdint.h>

#include "media/media.h"

/** A 256-entry table mapping @p from octets to @p to octets (identity
 * when the laws match).  Thread-safe; the tables live forever. */
const uint8_t *g711_conv_table(enum media_law from, enum media_law to);
/** Linear value of each octet of @p law (the same tables' lifetime). */
const int16_t *g711_decode_table(enum media_law law);

#endif
