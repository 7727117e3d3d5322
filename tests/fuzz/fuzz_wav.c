/* tests/fuzz/fuzz_wav.c  libFuzzer target: pstnsim's WAV reader */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "pstnsim/wav.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ps_wav w;
	char why[128];
	int64_t sum = 0;
	int err;

	why[0] = '\0';
	err = ps_wav_parse(&w, data, size, why, sizeof(why));
	if (err) {
		/* Refused: with a reason, and nothing to free. */
		if (err != EINVAL || !why[0] || !memchr(why, '\0', sizeof(why)) ||
		    w.samples)
			__builtin_trap();
		return 0;
	}
	/* Every sample came from a byte of the file. */
	if (!w.samples || !w.nsamples || w.nsamples > size ||
	    (w.format != 1 && w.format != 6 && w.format != 7) ||
	    (w.format == 1 && 2 * w.nsamples > size))
		__builtin_trap();
	for (size_t i = 0; i < w.nsamples; i++)
		sum += w.samples[i];
	ps_wav_free(&w);
	return sum == INT64_MIN;
}
