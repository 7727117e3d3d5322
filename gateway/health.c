/* gateway/health.c  OPTIONS keep-alive of SIP trunks ([trunk] options_*)
 *
 * Each SIP trunk with options_interval > 0 is probed with an OPTIONS every
 * interval, one probe at a time.  Any answer means alive; options_down
 * probes in a row without one mark the trunk down, which routing honours
 * at once (gw_trunk_state); probing goes on, and options_up answers in a
 * row bring it back.  Until the first result the trunk is "unknown" and
 * routed as usual: a gateway just started blocks nothing on a guess.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define LOG_MODULE "health"
#include "gateway/gw.h"
#include "util/util.h"

struct gw_hprobe {
	struct gw *gw;
	struct gw_tstat *ts;
	struct event *ev;
	struct sip_probe *probe;      /* in flight, or NULL */
	struct sockaddr_storage peer; /* the target being probed */
	socklen_t peer_len;
	unsigned interval;            /* s, as the timer was armed */
};

static const struct gw_trunk_cfg *probed_cfg(struct gw *gw, const char *name)
{
	const struct gw_trunk_cfg *t = gw_config_trunk(&gw->cfg, name);

	return t && t->kind == GW_TRUNK_SIP && t->options_interval ? t : NULL;
}

static void arm(struct gw_hprobe *hp, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(hp->ev, &tv);
}

static void set_state(struct gw_tstat *ts, enum gw_health st,
		      const char *why)
{
	if (ts->health == st)
		return;
	ts->health = st;
	if (st == GW_HEALTH_DOWN) {
		ts->health_downs++;
		gw_notice("trunk %s: down: %s", ts->name, why);
	} else if (st == GW_HEALTH_UP) {
		ts->health_ups++;
		gw_notice("trunk %s: up: %s", ts->name, why);
	}
	tg_strlcpy(ts->health_why, why, sizeof(ts->health_why));
}

static void on_result(int status, unsigned rtt_ms, void *arg)
{
	struct gw_hprobe *hp = arg;
	struct gw_tstat *ts = hp->ts;
	const struct gw_trunk_cfg *t = probed_cfg(hp->gw, ts->name);
	char why[64];
	unsigned elapsed = rtt_ms, period;

	hp->probe = NULL;
	if (!t)
		return;
	if (status) {
		ts->probe_answers++;
		ts->probe_code = status;
		ts->probe_rtt_ms = rtt_ms;
		ts->probe_miss = 0;
		ts->probe_ok++;
		snprintf(why, sizeof(why), "OPTIONS answered %d", status);
		/* From unknown one answer is enough: nothing to doubt. */
		if (ts->health != GW_HEALTH_UP &&
		    (ts->health == GW_HEALTH_UNKNOWN ||
		     ts->probe_ok >= t->options_up))
			set_state(ts, GW_HEALTH_UP, why);
		else if (ts->health == GW_HEALTH_UP)
			tg_strlcpy(ts->health_why, why,
				   sizeof(ts->health_why));
	} else {
		ts->probe_timeouts++;
		ts->probe_ok = 0;
		ts->probe_miss++;
		snprintf(why, sizeof(why), "no answer to %u OPTIONS",
			 ts->probe_miss);
		if (ts->probe_miss >= t->options_down)
			set_state(ts, GW_HEALTH_DOWN, why);
		if (ts->health == GW_HEALTH_DOWN)
			tg_strlcpy(ts->health_why, why,
				   sizeof(ts->health_why));
	}
	/* Probes start an interval apart, or at once after one that took
	 * longer (options_timeout above the interval). */
	hp->interval = t->options_interval;
	period = t->options_interval * 1000;
	arm(hp, elapsed < period ? period - elapsed : 0);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct gw_hprobe *hp = arg;
	struct gw_tstat *ts = hp->ts;
	const struct gw_trunk_cfg *t = probed_cfg(hp->gw, ts->name);
	int err;

	(void)fd;
	(void)what;
	if (!t || hp->probe)
		return;
	ts->probes++;
	err = sip_options_probe(&hp->probe, hp->gw->ua,
				(const struct sockaddr *)&hp->peer,
				hp->peer_len, t->options_timeout_ms,
				on_result, hp);
	if (err) {
		/* Not sent is not answered. */
		hp->probe = NULL;
		gw_warn("trunk %s: cannot send OPTIONS: %s", ts->name,
			strerror(err));
		on_result(0, 0, hp);
	}
}

static void stop_one(struct gw_tstat *ts)
{
	struct gw_hprobe *hp = ts->hprobe;

	if (!hp)
		return;
	sip_options_cancel(hp->probe);
	event_free(hp->ev);
	free(hp);
	ts->hprobe = NULL;
	ts->health = GW_HEALTH_OFF;
	ts->health_why[0] = '\0';
	ts->probe_ok = ts->probe_miss = 0;
}

static void start_one(struct gw *gw, const struct gw_trunk_cfg *t)
{
	struct gw_tstat *ts = gw_tstat(gw, t->name);
	struct gw_hprobe *hp;

	if (!ts)
		return;
	hp = ts->hprobe;
	if (hp && (hp->peer_len != t->peer_len ||
		   memcmp(&hp->peer, &t->peer, t->peer_len))) {
		/* A new peer owes nothing to the old one's health. */
		stop_one(ts);
		hp = NULL;
	}
	if (hp) {
		/* A new interval counts from now, not after the old one. */
		if (hp->interval != t->options_interval && !hp->probe) {
			hp->interval = t->options_interval;
			arm(hp, 0);
		}
		return;
	}
	hp = calloc(1, sizeof(*hp));
	if (!hp)
		return;
	hp->gw = gw;
	hp->ts = ts;
	memcpy(&hp->peer, &t->peer, t->peer_len);
	hp->peer_len = t->peer_len;
	hp->interval = t->options_interval;
	hp->ev = evtimer_new(gw->base, on_timer, hp);
	if (!hp->ev) {
		free(hp);
		return;
	}
	ts->hprobe = hp;
	ts->health = GW_HEALTH_UNKNOWN;
	tg_strlcpy(ts->health_why, "not probed yet", sizeof(ts->health_why));
	ts->probe_ok = ts->probe_miss = 0;
	arm(hp, 0);
}

void gw_health_sync(struct gw *gw)
{
	for (unsigned i = 0; i < GW_MAX_TRUNKS; i++) {
		struct gw_tstat *ts = &gw->tstat[i];

		if (*ts->name && !probed_cfg(gw, ts->name))
			stop_one(ts);
	}
	if (!gw->ua)
		return;
	for (unsigned i = 0; i < gw->cfg.ntrunks; i++)
		if (probed_cfg(gw, gw->cfg.trunks[i].name))
			start_one(gw, &gw->cfg.trunks[i]);
}

void gw_health_stop(struct gw *gw)
{
	for (unsigned i = 0; i < GW_MAX_TRUNKS; i++)
		stop_one(&gw->tstat[i]);
}

const char *gw_health_word(enum gw_health st)
{
	switch (st) {
	case GW_HEALTH_OFF:
		return "off";
	case GW_HEALTH_UNKNOWN:
		return "unknown";
	case GW_HEALTH_UP:
		return "up";
	case GW_HEALTH_DOWN:
		return "down";
	}
	return "?";
}
