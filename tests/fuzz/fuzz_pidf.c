/* tests/fuzz/fuzz_pidf.c  libFuzzer target: PIDF-LO bodies from SIP
 *
 * A PIDF-LO arrives in an INVITE from whoever sends one; the reader must
 * stay inside its fields, and what it read must survive our own writer
 * (every field terminated, the document well within its buffer).
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "util/util.h"
#include "e911/e911.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct e911_zone_row z;
	char elin[32], doc[8192];
	int rc;

	if (size > 65536)
		return 0;
	rc = e911_pidf_read((const char *)data, size, &z, elin, sizeof(elin));
	if (rc && rc != ENOENT && rc != EBADMSG)
		__builtin_trap();
	if (strlen(elin) >= sizeof(elin))
		__builtin_trap();
	if (!rc) {
		if (memchr(z.rd, '\0', sizeof(z.rd)) == NULL ||
		    memchr(z.nam, '\0', sizeof(z.nam)) == NULL)
			__builtin_trap();
		if (e911_pidf(&z, "pres:x@y", "tel:+1", "d", 0, doc,
			      sizeof(doc)))
			__builtin_trap();
	}
	return 0;
}
