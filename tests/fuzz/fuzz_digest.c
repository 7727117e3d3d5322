/* tests/fuzz/fuzz_digest.c  libFuzzer target: Authorization and
 * WWW-Authenticate values (sip/auth.c) */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sip/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_digest d, back;
	char v[2048];
	int err;

	err = sip_digest_parse(&d, (const char *)data, size);
	if (err && err != EBADMSG && err != ENOTSUP)
		__builtin_trap();
	if (err)
		return 0;
	/* Whatever we read as a challenge we answer with credentials we
	 * read back the same and that check out. */
	err = sip_digest_answer(v, sizeof(v), &d, d.username[0] ? d.username
								 : "u",
				"pw", "INVITE", "sip:1@h", 1, "cn");
	if (err == ENOTSUP && d.qop_other)
		return 0;
	if (err)
		__builtin_trap();
	if (sip_digest_parse(&back, v, strlen(v)) ||
	    strcmp(back.realm, d.realm) || strcmp(back.nonce, d.nonce) ||
	    back.alg != d.alg || !sip_digest_check(&back, "INVITE", "pw"))
		__builtin_trap();
	return 0;
}
