/* gateway/maint.c  Maintenance without restarts: drain, restart, block
 *
 * `tollgatectl span drain|resume|restart N`, `channel block|unblock|reset
 * N/C` and `trunk drain|resume NAME` act on the running gateway.  A drain
 * stops new ordinary calls (live ones go on); a restart or reset clears
 * the calls of a span or channel and sends Q.931 RESTART.
 *
 * Emergency calls are protected (47 CFR 9.16 wants 911 to work whatever
 * the administrator is doing): a drain, restart or reset that would touch
 * a span or trunk carrying an emergency call or a PSAP callback waits
 * until that call has ended and [e911] holdoff seconds have passed (the
 * PSAP may call back on the same lines), then runs by itself.  Drains
 * never stop emergency calls or calls to an ELIN in any case.
 */
#define LOG_MODULE "maint"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "util/util.h"
#include "gw.h"

enum job_kind {
	JOB_SPAN_DRAIN,
	JOB_SPAN_RESTART,
	JOB_CHAN_RESET,
	JOB_CHAN_BLOCK,
	JOB_TRUNK_DRAIN,
};

struct gw_maint_job {
	struct gw_maint_job *next;
	enum job_kind kind;
	int span;
	unsigned chan;
	char trunk[32];
};

static const char *job_name(enum job_kind k)
{
	switch (k) {
	case JOB_SPAN_DRAIN:
	case JOB_TRUNK_DRAIN:
		return "drain";
	case JOB_SPAN_RESTART:
		return "restart";
	case JOB_CHAN_RESET:
		return "reset";
	case JOB_CHAN_BLOCK:
		return "block";
	}
	return "?";
}

static void job_target(const struct gw_maint_job *j, char *buf, size_t size)
{
	if (j->kind == JOB_TRUNK_DRAIN)
		snprintf(buf, size, "trunk %s", j->trunk);
	else if (j->chan)
		snprintf(buf, size, "channel %d/%u", j->span, j->chan);
	else
		snprintf(buf, size, "span %d", j->span);
}

struct gw_sadm *gw_sadm(struct gw *gw, int id)
{
	struct gw_sadm *free_slot = NULL;

	if (id <= 0)
		return NULL;
	for (unsigned i = 0; i < GW_MAX_SPANS; i++) {
		if (gw->sadm[i].id == id)
			return &gw->sadm[i];
		if (!gw->sadm[i].id && !free_slot)
			free_slot = &gw->sadm[i];
	}
	if (free_slot) {
		memset(free_slot, 0, sizeof(*free_slot));
		free_slot->id = id;
	}
	return free_slot;
}

bool gw_span_open(struct gw *gw, int id)
{
	for (unsigned i = 0; i < GW_MAX_SPANS; i++)
		if (gw->sadm[i].id == id)
			return !gw->sadm[i].drained;
	return true;
}

static bool in_holdoff(const struct gw *gw, int64_t end_ms, int64_t now,
		       char *why, size_t size, const char *what)
{
	int64_t left;

	if (!end_ms)
		return false;
	left = end_ms + (int64_t)gw->cfg.holdoff * 1000 - now;
	if (left <= 0)
		return false;
	snprintf(why, size, "an emergency call on %s ended %lld s ago; "
		 "hold-off %u s", what, (long long)((now - end_ms) / 1000),
		 gw->cfg.holdoff);
	return true;
}

/* Must a drain or restart of span @p id wait?  @p why says for what. */
static bool span_held(struct gw *gw, int id, char *why, size_t size)
{
	struct gw_sadm *sa = gw_sadm(gw, id);
	char callid[37], what[32];

	if (gw_call_emergency_on(gw, id, 0, NULL, callid, sizeof(callid))) {
		snprintf(why, size, "emergency call %.8s is up on span %d",
			 callid, id);
		return true;
	}
	snprintf(what, sizeof(what), "span %d", id);
	return sa && in_holdoff(gw, sa->emergency_end_ms, tg_mono_ms(), why,
				size, what);
}

static bool trunk_held(struct gw *gw, const char *name, char *why,
		       size_t size)
{
	const struct gw_trunk_cfg *t = gw_config_trunk(&gw->cfg, name);
	struct gw_tstat *ts = gw_tstat(gw, name);
	char callid[37], what[48];

	if (gw_call_emergency_on(gw, 0, 0, name, callid, sizeof(callid))) {
		snprintf(why, size, "emergency call %.8s is using trunk %s",
			 callid, name);
		return true;
	}
	snprintf(what, sizeof(what), "trunk %s", name);
	if (ts && in_holdoff(gw, ts->emergency_end_ms, tg_mono_ms(), why,
			     size, what))
		return true;
	for (unsigned i = 0; t && t->kind == GW_TRUNK_TDM && i < t->nspans;
	     i++)
		if (span_held(gw, t->spans[i], why, size))
			return true;
	return false;
}

static bool job_held(struct gw *gw, const struct gw_maint_job *j, char *why,
		     size_t size)
{
	char callid[37];

	switch (j->kind) {
	case JOB_SPAN_DRAIN:
	case JOB_SPAN_RESTART:
		return span_held(gw, j->span, why, size);
	case JOB_TRUNK_DRAIN:
		return trunk_held(gw, j->trunk, why, size);
	case JOB_CHAN_RESET:
	case JOB_CHAN_BLOCK:
		/* Only the channel's own call matters here: resetting a
		 * stuck channel next to a 911 call does that call no harm. */
		if (gw_call_emergency_on(gw, j->span, j->chan, NULL, callid,
					 sizeof(callid))) {
			snprintf(why, size, "emergency call %.8s is on "
				 "channel %d/%u", callid, j->span, j->chan);
			return true;
		}
		return false;
	}
	return false;
}

/* Do it now.  @p msg says what was done or why it could not be. */
static int job_run(struct gw *gw, const struct gw_maint_job *j, char *msg,
		   size_t size)
{
	struct tdm_span *span = j->kind == JOB_TRUNK_DRAIN
		? NULL : gw_span(gw, j->span);
	struct gw_sadm *sa;
	struct gw_tstat *ts;
	char target[64];
	int err = 0;

	job_target(j, target, sizeof(target));
	switch (j->kind) {
	case JOB_SPAN_DRAIN:
		sa = gw_sadm(gw, j->span);
		if (!sa)
			return ENOMEM;
		sa->drained = true;
		sa->drain_logged = false;
		snprintf(msg, size, "%s: draining (%u call(s) up; no new "
			 "ordinary calls)", target,
			 gw_call_count_on_span(gw, j->span));
		gw_maint_call_ended(gw);
		break;
	case JOB_TRUNK_DRAIN:
		ts = gw_tstat(gw, j->trunk);
		if (!ts)
			return ENOMEM;
		ts->drained = true;
		snprintf(msg, size, "%s: draining (%u call(s) up; no new "
			 "ordinary calls)", target, ts->calls);
		break;
	case JOB_SPAN_RESTART:
		err = span ? tdm_span_restart(span) : ENOENT;
		snprintf(msg, size, "%s: %s", target,
			 err ? strerror(err)
			     : "restarted: calls cleared, RESTART sent");
		break;
	case JOB_CHAN_RESET:
		err = span ? tdm_chan_reset(span, j->chan) : ENOENT;
		snprintf(msg, size, "%s: %s", target,
			 err ? strerror(err)
			     : "reset: its call cleared, RESTART sent");
		break;
	case JOB_CHAN_BLOCK:
		err = span ? tdm_chan_block(span, j->chan, true) : ENOENT;
		snprintf(msg, size, "%s: %s", target,
			 err ? strerror(err)
			 : tdm_span_chan_state(span, j->chan) ==
				 TDM_CHAN_BLOCKED
			 ? "blocked"
			 : "blocked when its call has ended");
		break;
	}
	if (err == ENOTCONN)
		snprintf(msg, size, "%s: the D-channel is down; nothing sent",
			 target);
	return err;
}

static void on_maint(evutil_socket_t fd, short what, void *arg);

static void arm(struct gw *gw)
{
	struct timeval tv = {1, 0};

	if (!gw->ev_maint)
		gw->ev_maint = evtimer_new(gw->base, on_maint, gw);
	if (gw->ev_maint && !evtimer_pending(gw->ev_maint, NULL))
		evtimer_add(gw->ev_maint, &tv);
}

/* Deferred commands whose calls have gone run now, in the order given. */
static void on_maint(evutil_socket_t fd, short what, void *arg)
{
	struct gw *gw = arg;
	struct gw_maint_job **pp = &gw->maint;

	(void)fd;
	(void)what;
	while (*pp) {
		struct gw_maint_job *j = *pp;
		char why[160], msg[480], target[64];

		if (job_held(gw, j, why, sizeof(why))) {
			pp = &j->next;
			continue;
		}
		*pp = j->next;
		job_target(j, target, sizeof(target));
		if (job_run(gw, j, msg, sizeof(msg)))
			gw_err("deferred %s of %s failed: %s", job_name(j->kind),
			       target, msg);
		else
			gw_notice("deferred %s of %s runs now: %s",
				  job_name(j->kind), target, msg);
		free(j);
	}
	if (gw->maint)
		arm(gw);
}

/* Forget deferred jobs of @p kind on the target (resume / unblock). */
static bool cancel_jobs(struct gw *gw, enum job_kind kind, int span,
			unsigned chan, const char *trunk)
{
	struct gw_maint_job **pp = &gw->maint;
	bool any = false;

	while (*pp) {
		struct gw_maint_job *j = *pp;

		if (j->kind == kind && j->span == span && j->chan == chan &&
		    (!trunk || !strcmp(j->trunk, trunk))) {
			*pp = j->next;
			free(j);
			any = true;
			continue;
		}
		pp = &j->next;
	}
	return any;
}

/* Run @p tmpl now, or keep it for later when an emergency call says so. */
static int submit(struct gw *gw, const struct gw_maint_job *tmpl,
		  char *msg, size_t size)
{
	struct gw_maint_job *j, **pp;
	char why[160], target[64];

	job_target(tmpl, target, sizeof(target));
	if (!job_held(gw, tmpl, why, sizeof(why)))
		return job_run(gw, tmpl, msg, size);
	for (pp = &gw->maint; *pp; pp = &(*pp)->next) {
		j = *pp;
		if (j->kind == tmpl->kind && j->span == tmpl->span &&
		    j->chan == tmpl->chan && !strcmp(j->trunk, tmpl->trunk)) {
			snprintf(msg, size, "%s of %s already deferred: %s",
				 job_name(tmpl->kind), target, why);
			return EINPROGRESS;
		}
	}
	j = malloc(sizeof(*j));
	if (!j)
		return ENOMEM;
	*j = *tmpl;
	j->next = NULL;
	*pp = j;
	arm(gw);
	snprintf(msg, size, "%s of %s deferred: %s; it runs once that is "
		 "over", job_name(tmpl->kind), target, why);
	gw_warn("%s", msg);
	return EINPROGRESS;
}

static int parse_chan(struct gw *gw, const char *s, int *span,
		      unsigned *chan)
{
	char *end;
	long sp, ch;

	sp = strtol(s, &end, 10);
	if (end == s || *end != '/')
		return EINVAL;
	s = end + 1;
	ch = strtol(s, &end, 10);
	if (end == s || *end || sp <= 0 || ch <= 0 || sp > 1000 || ch > 1000)
		return EINVAL;
	if (!gw_span(gw, (int)sp) ||
	    (unsigned)ch > tdm_span_nchan(gw_span(gw, (int)sp)))
		return ENOENT;
	*span = (int)sp;
	*chan = (unsigned)ch;
	return 0;
}

static int parse_span(struct gw *gw, const char *s, int *span)
{
	char *end;
	long sp = strtol(s, &end, 10);

	if (end == s || *end || sp <= 0 || sp > 1000)
		return EINVAL;
	if (!gw_span(gw, (int)sp))
		return ENOENT;
	*span = (int)sp;
	return 0;
}

/* `resume`: back in service, or why there was nothing to do. */
static void resumed(bool *drained, bool cancelled, const char *target,
		    char *msg, size_t size)
{
	if (drained && *drained) {
		*drained = false;
		snprintf(msg, size, "%s: back in service", target);
	} else {
		snprintf(msg, size, "%s: %s", target,
			 cancelled ? "deferred drain cancelled"
				   : "was not drained");
	}
}

static int cmd_span(struct gw *gw, int argc, char **argv, char *msg,
		    size_t size)
{
	struct gw_maint_job j = {0};
	struct gw_sadm *sa;
	int err;

	if (argc != 2)
		return EINVAL;
	err = parse_span(gw, argv[1], &j.span);
	if (err)
		return err;
	if (!strcmp(argv[0], "resume")) {
		bool was = cancel_jobs(gw, JOB_SPAN_DRAIN, j.span, 0, NULL);
		char target[24];

		sa = gw_sadm(gw, j.span);
		snprintf(target, sizeof(target), "span %d", j.span);
		resumed(sa ? &sa->drained : NULL, was, target, msg, size);
		return 0;
	}
	if (!strcmp(argv[0], "drain"))
		j.kind = JOB_SPAN_DRAIN;
	else if (!strcmp(argv[0], "restart"))
		j.kind = JOB_SPAN_RESTART;
	else
		return EINVAL;
	return submit(gw, &j, msg, size);
}

static int cmd_chan(struct gw *gw, int argc, char **argv, char *msg,
		    size_t size)
{
	struct gw_maint_job j = {0};
	int err;

	if (argc != 2)
		return EINVAL;
	err = parse_chan(gw, argv[1], &j.span, &j.chan);
	if (err)
		return err;
	if (!strcmp(argv[0], "unblock")) {
		cancel_jobs(gw, JOB_CHAN_BLOCK, j.span, j.chan, NULL);
		err = tdm_chan_block(gw_span(gw, j.span), j.chan, false);
		snprintf(msg, size, "channel %d/%u: unblocked (%s)", j.span,
			 j.chan, tdm_chan_state_name(tdm_span_chan_state(
				 gw_span(gw, j.span), j.chan)));
		return err;
	}
	if (!strcmp(argv[0], "block"))
		j.kind = JOB_CHAN_BLOCK;
	else if (!strcmp(argv[0], "reset"))
		j.kind = JOB_CHAN_RESET;
	else
		return EINVAL;
	return submit(gw, &j, msg, size);
}

static int cmd_trunk(struct gw *gw, int argc, char **argv, char *msg,
		     size_t size)
{
	struct gw_maint_job j = {.kind = JOB_TRUNK_DRAIN};
	struct gw_tstat *ts;

	if (argc != 2)
		return EINVAL;
	if (!gw_config_trunk(&gw->cfg, argv[1]))
		return ENOENT;
	tg_strlcpy(j.trunk, argv[1], sizeof(j.trunk));
	if (!strcmp(argv[0], "resume")) {
		bool was = cancel_jobs(gw, JOB_TRUNK_DRAIN, 0, 0, j.trunk);
		char target[48];

		ts = gw_tstat(gw, j.trunk);
		snprintf(target, sizeof(target), "trunk %s", j.trunk);
		resumed(ts ? &ts->drained : NULL, was, target, msg, size);
		return 0;
	}
	if (strcmp(argv[0], "drain"))
		return EINVAL;
	return submit(gw, &j, msg, size);
}

int gw_maint_cmd(struct gw *gw, struct evbuffer *out, bool json,
		 const char *word, int argc, char **argv)
{
	char msg[480] = "";
	int err;

	if (!strcmp(word, "span"))
		err = cmd_span(gw, argc, argv, msg, sizeof(msg));
	else if (!strcmp(word, "channel"))
		err = cmd_chan(gw, argc, argv, msg, sizeof(msg));
	else
		err = cmd_trunk(gw, argc, argv, msg, sizeof(msg));
	if (err == EINVAL) {
		snprintf(msg, sizeof(msg), "usage: span drain|resume|restart "
			 "N | channel block|unblock|reset N/C | trunk "
			 "drain|resume NAME");
	} else if (err == ENOENT) {
		snprintf(msg, sizeof(msg), "no such %s: %s", word,
			 argc > 1 ? argv[1] : "");
	} else if (err == ENOMEM) {
		snprintf(msg, sizeof(msg), "out of memory");
	} else if (!err || err == EINPROGRESS) {
		if (!err)
			gw_notice("%s", msg);
	}
	if (json) {
		evbuffer_add_printf(out, "{\"result\":\"%s\",\"message\":",
				    !err ? "done"
				    : err == EINPROGRESS ? "deferred"
							 : "error");
		gw_json_str(out, msg);
		evbuffer_add_printf(out, "}\n");
	} else {
		evbuffer_add_printf(out, "%s\n", msg);
	}
	/* Deferred is accepted: not an error for the caller. */
	return err == EINPROGRESS ? 0 : err;
}

void gw_maint_emergency_ended(struct gw *gw, int in_span, int out_span,
			      const char *in_trunk, const char *out_trunk)
{
	int64_t now = tg_mono_ms();
	struct gw_sadm *sa;
	struct gw_tstat *ts;

	if (in_span && (sa = gw_sadm(gw, in_span)))
		sa->emergency_end_ms = now;
	if (out_span && (sa = gw_sadm(gw, out_span)))
		sa->emergency_end_ms = now;
	if (in_trunk && *in_trunk && (ts = gw_tstat(gw, in_trunk)))
		ts->emergency_end_ms = now;
	if (out_trunk && *out_trunk && (ts = gw_tstat(gw, out_trunk)))
		ts->emergency_end_ms = now;
}

void gw_maint_call_ended(struct gw *gw)
{
	for (unsigned i = 0; i < GW_MAX_SPANS; i++) {
		struct gw_sadm *sa = &gw->sadm[i];

		if (!sa->id || !sa->drained || sa->drain_logged ||
		    gw_call_count_on_span(gw, sa->id))
			continue;
		sa->drain_logged = true;
		gw_notice("span %d drained: no calls left", sa->id);
	}
}

void gw_maint_stop(struct gw *gw)
{
	while (gw->maint) {
		struct gw_maint_job *j = gw->maint;
		char target[64];

		gw->maint = j->next;
		job_target(j, target, sizeof(target));
		gw_warn("deferred %s of %s dropped at shut-down",
			job_name(j->kind), target);
		free(j);
	}
	if (gw->ev_maint) {
		event_free(gw->ev_maint);
		gw->ev_maint = NULL;
	}
}
