/* tests/fuzz/fuzz_sdp.c  libFuzzer target: SDP negotiation (audio and
 * T.38), Reason values and INFO dtmf-relay bodies */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sip/sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A T.38 stream we take answers back as itself (T.38 D.2.3). */
static void t38(const char *body, size_t size)
{
	static const struct sip_t38 ours = {
		.version = 3, .max_bitrate = 14400, .fill_bit_removal = true,
		.transferred_tcf = true, .ec = SIP_T38_EC_REDUNDANCY };
	struct sip_t38 t, back;
	char out[1024];

	if (sip_sdp_t38_negotiate(&t, body, size, &ours))
		return;
	if (t.version > 3 || t.max_bitrate > 14400 || !t.port ||
	    t.ec == SIP_T38_EC_FEC)
		__builtin_trap();
	if (sip_sdp_t38_print(out, sizeof(out), t.addr, t.port, &t, 1) ||
	    sip_sdp_t38_negotiate(&back, out, strlen(out), &ours) ||
	    strcmp(back.addr, t.addr) || back.port != t.port ||
	    back.version != t.version || back.max_bitrate != t.max_bitrate ||
	    back.fill_bit_removal != t.fill_bit_removal ||
	    back.transferred_tcf != t.transferred_tcf ||
	    back.max_buffer != t.max_buffer ||
	    back.max_datagram != t.max_datagram || back.ec != t.ec)
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int orders[][4] = { { 0, 8, 9, 18 }, { 18, 9, 8, 0 } };
	const char *body = (const char *)data;
	struct sip_reason rsn;
	struct sip_media m;
	char out[1024], text[64], digit;
	unsigned ms;
	size_t i;

	for (i = 0; i < 2; i++) {
		memset(&m, 0, sizeof(m));
		if (sip_sdp_negotiate(&m, body, size, orders[i], 4))
			continue;
		/* What we accept must print back as an answer. */
		if (!sip_codec_known(m.pt) || (m.annexb && m.pt != 18) ||
		    m.ptime < 10 || m.ptime > 200 ||
		    (m.maxptime && (m.maxptime < 10 || m.maxptime > 200)))
			__builtin_trap();
		if (sip_sdp_print(out, sizeof(out), m.addr, m.port, &m.pt, 1,
				  m.te_pt, m.ptime, 1))
			__builtin_trap();
		/* ... and our answer never allows Annex B. */
		{
			struct sip_media ours;

			memset(&ours, 0, sizeof(ours));
			if (sip_sdp_negotiate(&ours, out, strlen(out), &m.pt,
					      1) || ours.annexb)
				__builtin_trap();
		}
		/* A crypto line we took has a key of its suite's length
		 * and answers back (RFC 4568 7.1.2). */
		if (m.crypto.suite != SIP_SRTP_NONE) {
			struct sip_media back;

			if (!sip_srtp_key_len(m.crypto.suite) ||
			    sip_sdp_add_crypto(out, sizeof(out), m.savp,
					       &m.crypto, 1))
				__builtin_trap();
			memset(&back, 0, sizeof(back));
			if (sip_sdp_negotiate(&back, out, strlen(out),
					      &m.pt, 1) ||
			    back.savp != m.savp ||
			    back.crypto.suite != m.crypto.suite ||
			    back.crypto.tag != m.crypto.tag ||
			    memcmp(back.crypto.key, m.crypto.key,
				   sizeof(m.crypto.key)))
				__builtin_trap();
		}
	}
	memset(&m, 0, sizeof(m));
	sip_sdp_negotiate(&m, body, size, orders[1], 1);
	t38(body, size);
	if (!sip_reason_decode(&rsn, text, sizeof(text), body, size) &&
	    (rsn.cause <= 0 || rsn.cause > 127))
		__builtin_trap();
	/* A digit it takes is one we can play. */
	if (!sip_dtmf_relay_decode(body, size, &digit, &ms) &&
	    (!digit || !strchr("0123456789*#ABCD", digit)))
		__builtin_trap();
	return 0;
}
