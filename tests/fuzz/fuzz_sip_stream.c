/* tests/fuzz/fuzz_sip_stream.c  libFuzzer target: the TCP/TLS framer
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The input is what a peer writes on a connection.  The transport's loop
 * is replayed: frame, drop the keep-alives, take a message, go on until
 * more is needed or the connection would be closed.  sip_stream_frame
 * must stay inside the bytes, return only its four codes, and every
 * message it finds must fit the cap and what was given.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "sip/sip_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	/* A small cap too, so that the fuzzer reaches its edges. */
	const size_t max = size & 1 ? 256 : SIP_MAX_MSG;

	while (size) {
		size_t skip, mlen;
		int e = sip_stream_frame(p, size, max, &skip, &mlen);

		if (skip > size)
			abort();
		if (skip) {
			p += skip;
			size -= skip;
			continue;
		}
		if (e == ENODATA || e == EBADMSG || e == EMSGSIZE)
			break;
		if (e || !mlen || mlen > size || mlen > max)
			abort();
		p += mlen;
		size -= mlen;
	}
	return 0;
}
