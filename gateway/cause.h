/* gateway/cause.h  Q.850 cause <-> SIP status interworking (RFC 3398) */
#ifndef TG_GATEWAY_CAUSE_H
#define TG_GATEWAY_CAUSE_H

#include "cdr/cdr.h"

/** SIP final status for a call the ISDN side cleared with @p cause before
 * answer (RFC 3398 7.2.4.1, unknown causes by class). */
int gw_cause_to_sip(int cause);
/** Q.850 cause for a SIP final status (RFC 3398 8.2.6.1).  A Reason
 * header's cause, when present, is preferred by the caller. */
int gw_sip_to_cause(int status);
/** Q.850 cause text ("User busy"), "Unknown" if not listed. */
const char *gw_cause_text(int cause);
/** Reason phrase of a SIP status. */
const char *gw_sip_phrase(int status);
/** CDR disposition of an unanswered call that ended with @p cause. */
enum cdr_disposition gw_cause_disposition(int cause);

/** RFC 5806 diversion reason -> Q.931 reason for redirection (0 when
 *  NULL, empty or without a Q.931 counterpart). */
int gw_redirect_from_sip(const char *reason);
/** Q.931 reason for redirection -> RFC 5806 diversion reason. */
const char *gw_redirect_to_sip(int reason);

#endif
