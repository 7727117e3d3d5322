/* gateway/cause.c  One table for Q.850 <-> SIP (RFC 3398, RFC 6432) */
#include <stddef.h>
#include <strings.h>

#include "util/util.h"
#include "cause.h"

/* ISDN cause -> SIP status, RFC 3398 section 7.2.4.1.  Cause 16 has no
 * response in the RFC (it becomes BYE/CANCEL); before answer we send 480,
 * as a normal clearing then means nobody took the call. */
static const struct {
	int cause;
	int status;
	const char *text;
} causes[] = {
	{1, 404, "Unallocated (unassigned) number"},
	{2, 404, "No route to specified transit network"},
	{3, 404, "No route to destination"},
	{8, 503, "Preemption"},
	{16, 480, "Normal call clearing"},
	{17, 486, "User busy"},
	{18, 408, "No user responding"},
	{19, 480, "No answer from user (user alerted)"},
	{20, 480, "Subscriber absent"},
	{21, 403, "Call rejected"},
	{22, 410, "Number changed"},
	{23, 410, "Redirection to new destination"},
	{25, 483, "Exchange routing error"},
	{26, 404, "Non-selected user clearing"},
	{27, 502, "Destination out of order"},
	{28, 484, "Invalid number format (address incomplete)"},
	{29, 501, "Facility rejected"},
	{31, 480, "Normal, unspecified"},
	{34, 503, "No circuit/channel available"},
	{38, 503, "Network out of order"},
	{41, 503, "Temporary failure"},
	{42, 503, "Switching equipment congestion"},
	{44, 503, "Requested circuit/channel not available"},
	{47, 503, "Resource unavailable, unspecified"},
	{55, 403, "Incoming calls barred within CUG"},
	{57, 403, "Bearer capability not authorized"},
	{58, 503, "Bearer capability not presently available"},
	{63, 503, "Service or option not available, unspecified"},
	{65, 488, "Bearer capability not implemented"},
	{70, 488, "Only restricted digital information bearer capability "
		  "is available"},
	{79, 501, "Service or option not implemented, unspecified"},
	{87, 403, "User not member of CUG"},
	{88, 503, "Incompatible destination"},
	{102, 504, "Recovery on timer expiry"},
	{111, 500, "Protocol error, unspecified"},
	{127, 500, "Interworking, unspecified"},
};

/* SIP status -> ISDN cause, RFC 3398 section 8.2.6.1. */
static const struct {
	int status;
	int cause;
} statuses[] = {
	{400, 41}, {401, 21}, {402, 21}, {403, 21}, {404, 1},   {405, 63},
	{406, 79}, {407, 21}, {408, 102}, {410, 22}, {413, 127}, {414, 127},
	{415, 79}, {416, 127}, {420, 127}, {421, 127}, {423, 127}, {480, 18},
	{481, 41}, {482, 25}, {483, 25}, {484, 28}, {485, 1},   {486, 17},
	{487, 16}, {488, 65}, {500, 41}, {501, 79}, {502, 38}, {503, 41},
	{504, 102}, {505, 127}, {513, 127}, {600, 17}, {603, 21}, {604, 1},
	{606, 65},
};

static const struct {
	int status;
	const char *phrase;
} phrases[] = {
	{100, "Trying"}, {180, "Ringing"}, {183, "Session Progress"},
	{200, "OK"}, {400, "Bad Request"}, {403, "Forbidden"},
	{404, "Not Found"}, {408, "Request Timeout"}, {410, "Gone"},
	{480, "Temporarily Unavailable"}, {483, "Too Many Hops"},
	{484, "Address Incomplete"}, {486, "Busy Here"},
	{487, "Request Terminated"}, {488, "Not Acceptable Here"},
	{500, "Server Internal Error"}, {501, "Not Implemented"},
	{502, "Bad Gateway"}, {503, "Service Unavailable"},
	{504, "Server Time-out"},
};

int gw_cause_to_sip(int cause)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(causes); i++)
		if (causes[i].cause == cause)
			return causes[i].status;
	/* RFC 3398 7.2.4.1: unlisted causes map by their class. */
	if (cause < 32)
		return 480;
	if (cause < 48)
		return 503;
	if (cause < 64)
		return 503;
	if (cause < 80)
		return 501;
	if (cause < 112)
		return 400;
	return 500;
}

int gw_sip_to_cause(int status)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(statuses); i++)
		if (statuses[i].status == status)
			return statuses[i].cause;
	if (status >= 600)
		return 21;
	if (status >= 500)
		return 38;
	if (status >= 400)
		return 21;
	return 31;
}

const char *gw_cause_text(int cause)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(causes); i++)
		if (causes[i].cause == cause)
			return causes[i].text;
	return "Unknown";
}

const char *gw_sip_phrase(int status)
{
	for (size_t i = 0; i < TG_ARRAY_SIZE(phrases); i++)
		if (phrases[i].status == status)
			return phrases[i].phrase;
	return status >= 500 ? "Server Error" : "Request Failed";
}

enum cdr_disposition gw_cause_disposition(int cause)
{
	switch (cause) {
	case 17:
		return CDR_BUSY;
	case 16: /* caller gave up before answer */
	case 18:
	case 19:
		return CDR_NO_ANSWER;
	case 34:
	case 38:
	case 41:
	case 42:
	case 44:
	case 47:
		return CDR_CONGESTION;
	default:
		return CDR_FAILED;
	}
}

/* Q.931 4.5.9 (reason for redirection) and RFC 5806 section 4 mean the
 * same events by different names; the rest have no counterpart. */
static const struct {
	int q931;
	const char *sip;
} redirect_reasons[] = {
	{0, "unknown"},        {1, "user-busy"},      {2, "no-answer"},
	{3, "deflection"},     {9, "out-of-service"}, {10, "follow-me"},
	{15, "unconditional"},
};

int gw_redirect_from_sip(const char *reason)
{
	if (!reason)
		return 0;
	for (size_t i = 0; i < sizeof(redirect_reasons) /
				       sizeof(redirect_reasons[0]); i++)
		if (!strcasecmp(reason, redirect_reasons[i].sip))
			return redirect_reasons[i].q931;
	return 0;
}

const char *gw_redirect_to_sip(int reason)
{
	for (size_t i = 0; i < sizeof(redirect_reasons) /
				       sizeof(redirect_reasons[0]); i++)
		if (redirect_reasons[i].q931 == reason)
			return redirect_reasons[i].sip;
	return "unknown";
}
