/* gateway/gw.h  The gateway object shared by gateway/'s files */
#ifndef TG_GATEWAY_GW_H
#define TG_GATEWAY_GW_H

#include <stdbool.h>
#include <stdint.h>

#include "cdr/cdr.h"
#include "dialplan/dialplan.h"
#include "media/media.h"
#include "sip/sip.h"
#include "tdm/tdm.h"
#include "conf.h"

struct event_base;
struct event;
struct gw_call;
struct gw_ctl;

struct gw {
	struct gw_config cfg;
	struct event_base *base;
	struct sip_ua *ua;
	struct media_engine *me;
	struct cdr_writer *cdr;
	struct dp_did_table *dids;       /* current snapshot (obj) */
	struct tdm_span *spans[GW_MAX_SPANS];
	unsigned nspans;
	struct gw_ctl *ctl;

	struct gw_call *calls;           /* live calls, newest first */
	unsigned ncalls;
	uint64_t next_serial;
	bool draining;
	bool stopping;
	int64_t started_ms;

	struct event *ev_media;
	struct event *ev_drain;
	struct event *ev_sig[4];

	/* counters for status */
	uint64_t calls_total;
	uint64_t calls_answered;
	uint64_t calls_failed;
	uint64_t cdr_submitted;
};

/* gateway/call.c */
void gw_call_on_invite(struct sip_leg *leg, const struct sip_invite_info *info,
		       void *arg);
bool gw_call_authorize(const struct sockaddr *src, socklen_t len,
		       const char *method, void *arg);
void gw_call_on_rejected(const struct sip_invite_info *info, int status,
			 void *arg);
void gw_call_on_tdm(struct tdm_span *span, const struct tdm_event *ev,
		    void *arg);
/** Clear every live call with @p cause. */
void gw_call_clear_all(struct gw *gw, int cause);
/** Shut-down: end every call and drop it without waiting for SIP. */
void gw_call_reap_all(struct gw *gw);

/** Description of a live call for `show calls`. */
struct gw_call_info {
	char id[37];
	const char *direction;
	const char *state;
	const char *calling;
	const char *called;
	const char *in_trunk;
	const char *out_trunk;
	int span, chan;
	const char *codec;
	int64_t start_ms, answer_ms;
	const char *call_id;
};
typedef void(gw_call_info_h)(const struct gw_call_info *ci, void *arg);
void gw_call_foreach(struct gw *gw, gw_call_info_h *h, void *arg);

/* gateway/main.c */
struct tdm_span *gw_span(struct gw *gw, int id);
/** Re-read the config's reloadable parts and the DID table.  On error
 * nothing changes and @p err says why. */
int gw_reload(struct gw *gw, char *err, size_t errsize);
/** A call ended: maybe finish draining. */
void gw_check_drained(struct gw *gw);

/* gateway/ctl.c */
int gw_ctl_open(struct gw_ctl **ctlp, struct gw *gw, const char *path);
void gw_ctl_close(struct gw_ctl *ctl);

#endif
