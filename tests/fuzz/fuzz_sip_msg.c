/* tests/fuzz/fuzz_sip_msg.c  libFuzzer target: SIP parse and our readers */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sip/sip_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keep osip's parse-error trace off the fuzzer's output. */
static void quiet(const char *fi, int li, osip_trace_level_t level,
		  const char *chfr, va_list ap)
{
}

/* The same path a datagram takes in sip/ua.c before any state changes:
 * osip's parser, then every reader of ours that looks at the message. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int codecs[] = { 0, 8 };
	static bool inited;
	osip_message_t *msg;
	struct sip_reason rsn;
	struct sip_media m;
	const char *body;
	char text[96], *str;
	size_t len;

	if (!inited) {
		parser_init();
		osip_trace_initialize_func(TRACE_LEVEL0, quiet);
		inited = true;
	}
	if (size > SIP_MAX_MSG)
		return 0;
	{
		/* The raw check, and the raw answer to what it refuses:
		 * bounded by the message and our buffer. */
		struct sip_verdict vd;
		static char out[SIP_MAX_MSG + 512];
		size_t n;

		sip_check_raw((const char *)data, size, &vd);
		if (vd.len > size || (vd.status && !vd.phrase[0]))
			__builtin_trap();
		if (vd.status && !vd.drop) {
			n = sip_check_reply((const char *)data, vd.len, &vd,
					    "tag", out, sizeof(out));
			if (n >= sizeof(out) ||
			    (n && memcmp(out, "SIP/2.0 ", 8)))
				__builtin_trap();
		}
		/* sip/ua.c gives libosip2 only what passed. */
		if (vd.drop || vd.raw)
			return 0;
		size = vd.len;
	}
	/* What sip/ua.c refuses before osip sees it. */
	if (!sip_msg_raw_ok((const char *)data, size))
		return 0;
	if (osip_message_init(&msg))
		return 0;
	if (osip_message_parse(msg, (const char *)data, size))
		goto out;
	sip_msg_get_reason(msg, &rsn, text, sizeof(text));
	if (rsn.cause < 0 || rsn.cause > 127)
		__builtin_trap();
	{
		char geo[256];

		/* RFC 6442 references: bounded, and nothing a header could
		 * not carry. */
		if (!sip_msg_geolocation(msg, geo, sizeof(geo)) &&
		    (!*geo || strlen(geo) >= sizeof(geo) ||
		     strpbrk(geo, " <>\"\r\n")))
			__builtin_trap();
	}
	{
		osip_header_t *h = NULL;
		char pai[64] = "";
		bool num = false;

		/* RFC 3325 identities: bounded, never "anonymous". */
		for (int i = 0; (i = osip_message_header_get_byname(
					 msg, "p-asserted-identity", i, &h)) >= 0 &&
				h; i++)
			if (h->hvalue &&
			    sip_pai_decode(h->hvalue, pai, sizeof(pai), &num) == 1)
				break;
		if (strlen(pai) >= sizeof(pai) || !strcasecmp(pai, "anonymous"))
			__builtin_trap();
	}
	sip_msg_top_branch(msg);
	sip_msg_to_tag(msg);
	sip_msg_from_tag(msg);
	{
		char user[64], reason[32];
		bool dpriv;

		if (!sip_msg_diversion(msg, user, sizeof(user), reason,
				       sizeof(reason), &dpriv) &&
		    (!*user || strlen(user) >= sizeof(user) ||
		     strlen(reason) >= sizeof(reason)))
			__builtin_trap();
	}
	{
		char user[64], reason[32];
		bool hpriv;

		if (!sip_msg_history_info(msg, user, sizeof(user), reason,
					  sizeof(reason), &hpriv) &&
		    (!*user || strlen(user) >= sizeof(user)))
			__builtin_trap();
	}
	{
		char num[64];
		bool rpriv;

		if (!sip_msg_rpid(msg, num, sizeof(num), &rpriv) &&
		    (!*num || strlen(num) >= sizeof(num)))
			__builtin_trap();
	}
	{
		char num[40];

		/* A REFER's transfer target: a number, or nothing. */
		if (!sip_msg_refer_to(msg, num, sizeof(num)) &&
		    (!*num || strspn(num, "+0123456789*#") != strlen(num)))
			__builtin_trap();
	}
	{
		char host[256];
		uint16_t port;

		/* ENUM hands us URIs from DNS: the same reader. */
		if (size < 400) {
			char uri[400];

			memcpy(uri, data, size);
			uri[size] = '\0';
			if (!sip_uri_target(uri, host, sizeof(host), &port,
					    NULL) &&
			    (!*host || !port))
				__builtin_trap();
		}
	}
	if (!sip_msg_sdp(msg, &body, &len))
		sip_sdp_negotiate(&m, body, len, codecs, 2);
	if (MSG_IS_REQUEST(msg) && msg->from && msg->to && msg->call_id &&
	    msg->cseq && osip_list_size(&msg->vias)) {
		osip_message_t *resp = NULL;

		if (!sip_msg_response(&resp, msg, 486, NULL, "tag", NULL)) {
			sip_msg_set_reason(resp, &rsn);
			if (!osip_message_to_str(resp, &str, &len))
				osip_free(str);
			osip_message_free(resp);
		}
	}
 out:
	osip_message_free(msg);
	return 0;
}
