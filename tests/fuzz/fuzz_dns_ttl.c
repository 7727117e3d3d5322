/* tests/fuzz/fuzz_dns_ttl.c  libFuzzer target: TTLs of a raw DNS answer
 *
 * The input is a DNS message as a server (or anyone who can spoof one)
 * sends it; sip_dns_answer_ttl must stay inside it and end, for every
 * record type asked about.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "sip/sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned types[] = {1, 28, 33, 35};
	uint32_t ttl;

	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		int e = sip_dns_answer_ttl(data, size, types[i], &ttl);

		if (e && e != ENOENT && e != EBADMSG)
			abort();
	}
	return 0;
}
