/* tests/fuzz/fuzz_rtcp.c  libFuzzer target: RTCP compound packet decoding */
#include <stdint.h>
#include <string.h>

#include "media/rtcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rtcp_report rep;
	struct rtcp_msg m, again;
	uint8_t buf[600];
	char cname[RTCP_CNAME_MAX + 1];
	size_t len;

	if (rtcp_decode(&m, data, size))
		return 0;
	if (m.nrb > RTCP_MAX_RB)
		__builtin_trap();
	/* The CNAME lies inside the packet. */
	if (m.cname && (m.cname < data || m.cname_len == 0 ||
			m.cname + m.cname_len > data + size))
		__builtin_trap();

	/* What we would send with what was decoded decodes to the same. */
	memset(&rep, 0, sizeof(rep));
	rep.ssrc = m.ssrc;
	rep.sr = m.sr;
	rep.ntp = m.ntp;
	rep.rtp_ts = m.rtp_ts;
	rep.pkts = m.pkts;
	rep.octets = m.octets;
	rep.has_rb = m.nrb > 0;
	if (m.nrb)
		rep.rb = m.rb[0];
	rep.bye = m.bye;
	/* An SDES text may hold a NUL: ours stops there, or is "x". */
	if (m.cname) {
		memcpy(cname, m.cname, m.cname_len);
		cname[m.cname_len] = '\0';
	}
	if (!m.cname || !cname[0])
		strcpy(cname, "x");
	rep.cname = cname;
	len = rtcp_encode(buf, sizeof(buf), &rep);
	if (!len || len % 4)
		__builtin_trap();
	if (rtcp_decode(&again, buf, len) || again.ssrc != m.ssrc ||
	    again.sr != m.sr || again.nrb != (m.nrb > 0) ||
	    again.bye != m.bye || !again.cname ||
	    again.cname_len != strlen(cname) ||
	    memcmp(again.cname, cname, again.cname_len))
		__builtin_trap();
	if (m.sr && (again.ntp != m.ntp || again.pkts != m.pkts ||
		     again.octets != m.octets || again.rtp_ts != m.rtp_ts))
		__builtin_trap();
	if (m.nrb && memcmp(&again.rb[0], &m.rb[0], sizeof(m.rb[0])))
		__builtin_trap();
	return 0;
}
