/* gateway/health.c  OPTIONS keep-alive of SIP trunks ([trunk] options_*)
 *
 * Each target of a SIP trunk with options_interval > 0 (its peer, or every
 * address its name was located at) is probed with an OPTIONS every
 * interval, one probe at a time.  Any answer means alive; options_down
 * probes in a row without one mark the target down, and options_up
 * answers in a row bring it back.  The trunk is up while any target is
 * up, down when every target is, which routing honours at once
 * (gw_trunk_state), and requests skip down targets (gw_trunk_targets).
 * Until the first result a target is "unknown" and used as usual: a
 * gateway just started blocks nothing on a guess.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define LOG_MODULE "health"
#include "gateway/gw.h"
#include "util/util.h"

static const struct gw_trunk_cfg *probed_cfg(struct gw *gw, const char *name)
{
	const struct gw_trunk_cfg *t = gw_config_trunk(&gw->cfg, name);

	return t && t->kind == GW_TRUNK_SIP && t->options_interval ? t : NULL;
}

static void arm(struct gw_target *tg, unsigned ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(tg->ev, &tv);
}

static void set_state(struct gw_tstat *ts, enum gw_health st,
		      const char *why)
{
	if (ts->health == st) {
		tg_strlcpy(ts->health_why, why, sizeof(ts->health_why));
		return;
	}
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

void gw_tlist_health(struct gw_tlist *tl, const char *why)
{
	struct gw_tstat *ts = tl->ts;
	unsigned up = 0, unknown = 0, down = 0;
	char buf[48];

	if (!probed_cfg(tl->gw, ts->name)) {
		ts->health = GW_HEALTH_OFF;
		ts->health_why[0] = '\0';
		return;
	}
	for (unsigned i = 0; i < tl->n; i++) {
		up += tl->t[i]->health == GW_HEALTH_UP;
		unknown += tl->t[i]->health == GW_HEALTH_UNKNOWN;
		down += tl->t[i]->health == GW_HEALTH_DOWN;
	}
	/* One target: its words are the trunk's, as before names. */
	if (tl->n == 1) {
		set_state(ts, tl->t[0]->health, tl->t[0]->why);
		return;
	}
	if (up)
		snprintf(buf, sizeof(buf), "%u of %u targets up", up, tl->n);
	else if (down && !unknown)
		snprintf(buf, sizeof(buf), "every target down (%s)",
			 why ? why : "OPTIONS");
	else
		snprintf(buf, sizeof(buf), "%s", tl->n ? "not probed yet"
						       : "no target");
	set_state(ts, up ? GW_HEALTH_UP
			 : down && !unknown ? GW_HEALTH_DOWN
					    : GW_HEALTH_UNKNOWN, buf);
}

static void target_state(struct gw_target *tg, enum gw_health st,
			 const char *why)
{
	struct gw_tlist *tl = tg->tl;

	tg_strlcpy(tg->why, why, sizeof(tg->why));
	if (tg->health == st)
		return;
	tg->health = st;
	if (tl->n > 1 && (st == GW_HEALTH_UP || st == GW_HEALTH_DOWN))
		gw_notice("trunk %s: target %s: %s: %s", tl->ts->name,
			  tg->label, gw_health_word(st), why);
}

static void on_result(int status, unsigned rtt_ms, void *arg)
{
	struct gw_target *tg = arg;
	struct gw_tstat *ts = tg->tl->ts;
	const struct gw_trunk_cfg *t = probed_cfg(tg->tl->gw, ts->name);
	char why[48];
	unsigned elapsed = rtt_ms, period;

	tg->probe = NULL;
	if (!t)
		return;
	if (status) {
		ts->probe_answers++;
		ts->probe_code = tg->probe_code = status;
		ts->probe_rtt_ms = tg->probe_rtt_ms = rtt_ms;
		tg->answers++;
		tg->probe_miss = 0;
		tg->probe_ok++;
		snprintf(why, sizeof(why), "OPTIONS answered %d", status);
		/* From unknown one answer is enough: nothing to doubt. */
		if (tg->health != GW_HEALTH_UP &&
		    (tg->health == GW_HEALTH_UNKNOWN ||
		     tg->probe_ok >= t->options_up))
			target_state(tg, GW_HEALTH_UP, why);
		else if (tg->health == GW_HEALTH_UP)
			tg_strlcpy(tg->why, why, sizeof(tg->why));
	} else {
		ts->probe_timeouts++;
		tg->timeouts++;
		tg->probe_ok = 0;
		tg->probe_miss++;
		snprintf(why, sizeof(why), "no answer to %u OPTIONS",
			 tg->probe_miss);
		if (tg->probe_miss >= t->options_down)
			target_state(tg, GW_HEALTH_DOWN, why);
		if (tg->health == GW_HEALTH_DOWN)
			tg_strlcpy(tg->why, why, sizeof(tg->why));
	}
	gw_tlist_health(tg->tl, why);
	/* Probes start an interval apart, or at once after one that took
	 * longer (options_timeout above the interval). */
	tg->interval = t->options_interval;
	period = t->options_interval * 1000;
	arm(tg, elapsed < period ? period - elapsed : 0);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct gw_target *tg = arg;
	struct gw *gw = tg->tl->gw;
	struct gw_tstat *ts = tg->tl->ts;
	const struct gw_trunk_cfg *t = probed_cfg(gw, ts->name);
	const struct sockaddr *hop;
	socklen_t hoplen;
	int err;

	(void)fd;
	(void)what;
	if (!t || tg->probe)
		return;
	ts->probes++;
	tg->probes++;
	/* Behind an outbound proxy the next hop is what can be probed:
	 * the proxy answers for the path. */
	hop = t->proxy_len ? (const struct sockaddr *)&t->proxy
			   : (const struct sockaddr *)&tg->at.sa;
	hoplen = t->proxy_len ? t->proxy_len : tg->at.len;
	err = gw_trunk_transport(gw, t, hop, hoplen,
				 t->proxy_len ? (enum sip_transport)t->transport
					      : tg->at.transport);
	if (!err)
		err = sip_options_probe(&tg->probe, gw->ua, hop, hoplen,
					t->options_timeout_ms, on_result, tg);
	if (err) {
		/* Not sent is not answered. */
		tg->probe = NULL;
		gw_warn("trunk %s: cannot send OPTIONS to %s: %s", ts->name,
			tg->label, strerror(err));
		on_result(0, 0, tg);
	}
}

void gw_target_probe_stop(struct gw_target *tg)
{
	sip_options_cancel(tg->probe);
	tg->probe = NULL;
	if (tg->ev)
		event_free(tg->ev);
	tg->ev = NULL;
	tg->health = GW_HEALTH_OFF;
	tg->why[0] = '\0';
	tg->probe_ok = tg->probe_miss = 0;
}

static void start_one(struct gw_target *tg, const struct gw_trunk_cfg *t)
{
	if (tg->ev) {
		/* A new interval counts from now, not after the old one. */
		if (tg->interval != t->options_interval && !tg->probe) {
			tg->interval = t->options_interval;
			arm(tg, 0);
		}
		return;
	}
	tg->ev = evtimer_new(tg->tl->gw->base, on_timer, tg);
	if (!tg->ev)
		return;
	tg->interval = t->options_interval;
	tg->health = GW_HEALTH_UNKNOWN;
	tg_strlcpy(tg->why, "not probed yet", sizeof(tg->why));
	tg->probe_ok = tg->probe_miss = 0;
	arm(tg, 0);
}

void gw_health_list(struct gw_tlist *tl)
{
	struct gw *gw = tl->gw;
	const struct gw_trunk_cfg *t = probed_cfg(gw, tl->ts->name);

	if (!t || !gw->ua) {
		for (unsigned k = 0; k < tl->n; k++)
			gw_target_probe_stop(tl->t[k]);
		tl->ts->health = GW_HEALTH_OFF;
		tl->ts->health_why[0] = '\0';
		return;
	}
	for (unsigned k = 0; k < tl->n; k++)
		start_one(tl->t[k], t);
	gw_tlist_health(tl, NULL);
}

void gw_health_sync(struct gw *gw)
{
	gw_targets_sync(gw);
	for (unsigned i = 0; i < GW_MAX_TRUNKS; i++) {
		struct gw_tstat *ts = &gw->tstat[i];

		if (!*ts->name)
			continue;
		if (ts->tl) {
			gw_health_list(ts->tl);
		} else {
			ts->health = GW_HEALTH_OFF;
			ts->health_why[0] = '\0';
		}
	}
}

void gw_health_stop(struct gw *gw)
{
	gw_targets_stop(gw);
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
