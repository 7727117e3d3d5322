/* pstnsim/call.c  Calls: rules, answering, originating, call records */
#define LOG_MODULE "pstnsim"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pstnsim/pstnsim.h"
#include "util/util.h"

#define MEASURE_SKIP_MS 100     /* let the far end's path settle first */
#define GUARD_MS 40000          /* longer than T305 + T308 twice */
#define ORIG_SETTLE_US 300000   /* first originated SETUP after span up */

static const struct {
	const char *name;
	enum ps_action act;
	int cause;
} actions[] = {
	{"answer", PS_ACT_ANSWER, 0},
	{"progress", PS_ACT_PROGRESS, 0},
	{"alert-inband", PS_ACT_ALERT_INBAND, 0},
	{"proceeding-inband", PS_ACT_PROCEEDING_INBAND, 0},
	{"noanswer", PS_ACT_NOANSWER, 0},
	{"ignore", PS_ACT_IGNORE, 0},
	{"busy", PS_ACT_REJECT, PRI_CAUSE_USER_BUSY},
	{"unallocated", PS_ACT_REJECT, PRI_CAUSE_UNALLOCATED},
	{"congestion", PS_ACT_REJECT, PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION},
};

/* The action word of a rule, up to its first ','. */
static int parse_action(struct ps_rule *rule, const char *act, size_t n)
{
	char word[32];

	if (n >= sizeof(word))
		return EINVAL;
	memcpy(word, act, n);
	word[n] = '\0';
	for (size_t i = 0; i < TG_ARRAY_SIZE(actions); i++) {
		if (!strcmp(word, actions[i].name)) {
			rule->act = actions[i].act;
			rule->cause = actions[i].cause;
			return 0;
		}
	}
	if (!strncmp(word, "reject:", 7) || !strncmp(word, "announce:", 9)) {
		bool ann = word[0] == 'a';
		const char *num = word + (ann ? 9 : 7);
		char *end;
		long v = strtol(num, &end, 10);

		if (end == num || *end || v < 1 || v > 127)
			return EINVAL;
		rule->act = ann ? PS_ACT_ANNOUNCE : PS_ACT_REJECT;
		rule->cause = (int)v;
		return 0;
	}
	return EINVAL;
}

/* ",ring=MS", ",hangup=MS", ",media=echo|tone|silence", and play.c's:
 * ",media=wav:PATH", ",dtmf=DIGITS", ... */
static int parse_option(struct ps_rule *rule, const char *opt, size_t n)
{
	char buf[512], *end;
	long v;
	int err;

	if (n >= sizeof(buf))
		return EINVAL;
	memcpy(buf, opt, n);
	buf[n] = '\0';
	err = ps_play_option(&rule->play, &rule->media, buf);
	if (err != ENOENT)
		return err;
	if (!strncmp(buf, "ring=", 5) || !strncmp(buf, "hangup=", 7)) {
		bool ring = buf[0] == 'r';
		const char *num = buf + (ring ? 5 : 7);

		v = strtol(num, &end, 10);
		if (end == num || *end || v < 0 || v > 86400000)
			return EINVAL;
		if (ring)
			rule->ring_ms = (int)v;
		else
			rule->hangup_ms = (int)v;
		return 0;
	}
	if (!strncmp(buf, "forget=", 7)) {
		v = strtol(buf + 7, &end, 10);
		if (end == buf + 7 || *end || v < 0 || v > 86400000)
			return EINVAL;
		rule->forget_ms = (int)v;
		return 0;
	}
	if (!strcmp(buf, "drop-release")) {
		rule->drop_release = true;
		return 0;
	}
	if (!strcmp(buf, "media=echo"))
		rule->media = PS_MEDIA_ECHO;
	else if (!strcmp(buf, "media=stamp"))
		rule->media = PS_MEDIA_STAMP;
	else if (!strcmp(buf, "media=tone"))
		rule->media = PS_MEDIA_TONE;
	else if (!strcmp(buf, "media=silence"))
		rule->media = PS_MEDIA_SILENCE;
	else
		return EINVAL;
	return 0;
}

int ps_rule_parse(struct ps_rule *rule, const char *arg)
{
	const char *eq = strchr(arg, '='), *act, *p;
	size_t plen;

	if (!eq)
		return EINVAL;
	plen = (size_t)(eq - arg);
	if (plen >= sizeof(rule->prefix))
		return EINVAL;
	memcpy(rule->prefix, arg, plen);
	rule->prefix[plen] = '\0';
	rule->ring_ms = rule->hangup_ms = rule->media = -1;
	rule->play.dtmf_at = rule->play.dtmf_on = rule->play.dtmf_off = -1;
	rule->forget_ms = -1;
	rule->drop_release = false;
	act = eq + 1;
	if (parse_action(rule, act, strcspn(act, ",")))
		return EINVAL;
	for (p = act + strcspn(act, ","); *p == ','; ) {
		size_t n;

		p++;
		n = strcspn(p, ",");
		if (parse_option(rule, p, n))
			return EINVAL;
		p += n;
	}
	return 0;
}

const struct ps_rule *ps_rule_find(const struct ps_conf *conf,
				   const char *num)
{
	const struct ps_rule *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < conf->nrules; i++) {
		const struct ps_rule *r = &conf->rules[i];
		size_t len = strlen(r->prefix);

		if (strncmp(num, r->prefix, len))
			continue;
		if (!best || len > best_len) {
			best = r;
			best_len = len;
		}
	}
	return best;
}

enum ps_action ps_rule_lookup(const struct ps_conf *conf, const char *num,
			      int *causep)
{
	const struct ps_rule *best = ps_rule_find(conf, num);

	if (!best) {
		*causep = 0;
		return PS_ACT_ANSWER;
	}
	*causep = best->cause;
	return best->act;
}

/* ---- call objects ------------------------------------------------------ */

static void call_destroy(void *arg)
{
	struct ps_call *call = arg;

	if (call->tmr)
		event_free(call->tmr);
	if (call->dtmr)
		event_free(call->dtmr);
	if (call->ftmr)
		event_free(call->ftmr);
	if (call->t302)
		event_free(call->t302);
	free(call->stamp);
	ps_fax_free(call);
}

static void on_call_timer(evutil_socket_t fd, short what, void *arg);

static int call_alloc(struct ps_call **callp, struct ps_span *span,
		      q931_call *qc, unsigned chan, bool out)
{
	struct ps_call *call;

	call = obj_zalloc(sizeof(*call), call_destroy);
	if (!call)
		return ENOMEM;
	call->tmr = evtimer_new(ps.base, on_call_timer, call);
	if (!call->tmr) {
		obj_deref(call);
		return ENOMEM;
	}
	call->span = span;
	call->qc = qc;
	call->chan = chan;
	call->out = out;
	call->setup_ms = tg_time_ms();
	call->cause = -1;
	call->ring_ms = ps.conf.answer_after;
	call->hangup_ms = ps.conf.hangup_after;
	call->media_mode = (int)ps.conf.media;
	ps_play_setup(call, NULL);
	call->forget_ms = -1;
	/* --orig-chan may name a channel we hold: its owner keeps it. */
	if (chan && !span->chans[chan])
		span->chans[chan] = call;
	LIST_INSERT_HEAD(&span->calls, call, le);
	if (out)
		ps.stats.calls_out++;
	else
		ps.stats.calls_in++;
	*callp = call;
	return 0;
}

static struct ps_call *call_find(struct ps_span *span, const q931_call *qc)
{
	struct ps_call *call;

	if (!qc)
		return NULL;
	LIST_FOREACH(call, &span->calls, le)
		if (call->qc == qc)
			return call;
	return NULL;
}

static void call_timer(struct ps_call *call, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	evtimer_add(call->tmr, &tv);
}

static void emit_record(const struct ps_call *call)
{
	char calling[PS_NUMLEN * 6 + 1], called[PS_NUMLEN * 6 + 1];
	char redir[PS_NUMLEN * 6 + 1], cname[PS_NUMLEN * 6 + 1];
	char conn[PS_NUMLEN * 6 + 1], play[4096];

	ps_play_json(play, sizeof(play), call);
	ps_json_str(conn, sizeof(conn), call->connected);
	ps_json_str(cname, sizeof(cname), call->calling_name);
	ps_json_str(calling, sizeof(calling), call->calling);
	ps_json_str(called, sizeof(called), call->called);
	ps_json_str(redir, sizeof(redir), call->redirecting);
	ps_emit("{\"event\":\"call\",\"dir\":\"%s\",\"span\":%d,\"chan\":%u,"
		"\"calling\":\"%s\",\"called\":\"%s\",\"called_ton\":%d,"
		"\"calling_ton\":%d,\"called_plan\":%d,\"calling_plan\":%d,"
		"\"calling_restricted\":%s,"
		"\"calling_name\":\"%s\",\"connected\":\"%s\","
		"\"redirecting\":\"%s\","
		"\"redirecting_ton\":%d,\"redirect_reason\":%d,\"cause\":%d,"
		"\"cleared_by\":\"%s\",\"answered\":%s,\"setup_ms\":%lld,"
		"\"answer_ms\":%lld,\"end_ms\":%lld,\"frames_tx\":%u,"
		"\"frames_rx\":%u,\"rx_gap_frames\":%u,\"rx_tone_ratio\":%.3f,"
		"\"rx_level_dbfs\":%.1f%s,\"setup_complete\":%s,"
		"\"setup_digits\":%u,\"overlap\":%s,\"info_msgs\":%u,"
		"\"echo_slips\":%u}",
		call->out ? "out" : "in", call->span ? call->span->idx : 0,
		call->chan, calling, called, (call->called_plan >> 4) & 7,
		(call->calling_plan >> 4) & 7, call->called_plan & 0x0f,
		call->calling_plan & 0x0f,
		(call->calling_pres & 0x60) == 0x20 ? "true" : "false", cname,
		conn, redir,
		(call->redirecting_plan >> 4) & 7, call->redirect_reason,
		call->cause,
		call->cleared_local ? "local" : "remote",
		call->answered ? "true" : "false", (long long)call->setup_ms,
		(long long)call->answer_ms, (long long)call->end_ms,
		call->frames_tx, call->frames_rx, call->meter.gaps,
		ps_meter_ratio(&call->meter),
		ps_meter_dbfs(&call->meter), play,
		call->setup_complete ? "true" : "false", call->setup_digits,
		call->overlap ? "true" : "false", call->info_msgs,
		call->echo_slips);
}

/* Note the end of the call once, when clearing starts. */
static void call_ended(struct ps_call *call, int cause, bool local)
{
	if (call->state == PS_CALL_CLEARING)
		return;
	call->state = PS_CALL_CLEARING;
	call->cause = cause;
	call->cleared_local = local;
	call->end_ms = tg_time_ms();
	call->media = false;
	evtimer_del(call->tmr);
	if (call->t302)
		evtimer_del(call->t302);
	call->collecting = false;
	/* Guard against a release libpri finishes without telling us. */
	call_timer(call, GUARD_MS);
}

/* The call is gone from libpri: report it and free the channel. */
static void call_finish(struct ps_call *call)
{
	struct ps_span *span = call->span;

	if (call->state != PS_CALL_CLEARING)
		call_ended(call, PRI_CAUSE_NORMAL_TEMPORARY_FAILURE, true);
	evtimer_del(call->tmr);
	if (call->dtmr)
		evtimer_del(call->dtmr);
	if (call->ftmr)
		evtimer_del(call->ftmr);
	emit_record(call);
	if (call->answered)
		ps.stats.answered++;
	else
		ps.stats.failed++;
	if (call->out)
		ps.orig_live--;
	if (call->chan && span->chans[call->chan] == call)
		span->chans[call->chan] = NULL;
	LIST_REMOVE(call, le);
	obj_deref(call);
	ps_check_done();
}

static bool qc_alive(struct ps_span *span, q931_call *qc)
{
	int mode;

	return span->pri && pri_get_crv(span->pri, qc, &mode) >= 0;
}

/* Clear from our side.  libpri frees the call at once when it answers
 * with RELEASE COMPLETE (some causes before any reply), so look. */
static void call_hangup(struct ps_call *call, int cause)
{
	struct ps_span *span = call->span;

	call_ended(call, cause, true);
	pri_hangup(span->pri, call->qc, cause);
	if (!qc_alive(span, call->qc))
		call_finish(call);
}

/* forget=MS: the call is dropped from libpri and from us without a
 * message, as a switch that lost its state would: the far end still
 * holds it (its channel audit should notice). */
static void on_forget(evutil_socket_t fd, short what, void *arg)
{
	struct ps_call *call = arg;
	struct ps_span *span = call->span;

	(void)fd;
	(void)what;
	if (call->state != PS_CALL_ACTIVE || !span->pri)
		return;
	gw_notice("span %d chan %u: call forgotten (forget=%d)", span->idx,
		  call->chan, call->forget_ms);
	ps_emit("{\"event\":\"forget\",\"span\":%d,\"chan\":%u}",
		span->idx, call->chan);
	call_ended(call, 0, true);
	pri_destroycall(span->pri, call->qc);
	call_finish(call);
}

void ps_call_hangup_after(struct ps_call *call, int ms)
{
	if (call->state == PS_CALL_ACTIVE)
		call_timer(call, ms);
}

static void call_answered(struct ps_call *call, int hold_ms)
{
	call->state = PS_CALL_ACTIVE;
	call->answered = true;
	call->answer_ms = tg_time_ms();
	call->answer_mono = ps_mono_us() / 1000;
	call->media = true;
	evtimer_del(call->tmr);
	if (hold_ms > 0)
		call_timer(call, hold_ms);
	if (call->forget_ms >= 0 && !call->ftmr &&
	    (call->ftmr = evtimer_new(ps.base, on_forget, call))) {
		struct timeval tv = {call->forget_ms / 1000,
				     (call->forget_ms % 1000) * 1000};

		evtimer_add(call->ftmr, &tv);
	}
}

static void on_call_timer(evutil_socket_t fd, short what, void *arg)
{
	struct ps_call *call = arg;
	struct ps_span *span = call->span;
	int chan = ps_bearer_to_chan(span, call->chan);

	switch (call->state) {
	case PS_CALL_SETUP:
		if (call->cause_after) {
			call_hangup(call, call->cause_after);
			break;
		}
		if (*ps.conf.connected) {
			/* COLP: who answered, in the CONNECT. */
			struct pri_party_connected_line cl;

			memset(&cl, 0, sizeof(cl));
			cl.id.number.valid = 1;
			cl.id.number.presentation =
				PRES_ALLOWED_USER_NUMBER_PASSED_SCREEN;
			tg_strlcpy(cl.id.number.str, ps.conf.connected,
				   sizeof(cl.id.number.str));
			tg_strlcpy(call->connected, ps.conf.connected,
				   sizeof(call->connected));
			pri_connected_line_update(span->pri, call->qc, &cl);
		}
		pri_answer(span->pri, call->qc, chan, 0);
		call_answered(call, call->hangup_ms);
		break;
	case PS_CALL_ACTIVE:
		call_hangup(call, PRI_CAUSE_NORMAL_CLEARING);
		break;
	case PS_CALL_CLEARING:
		if (!qc_alive(span, call->qc)) {
			call_finish(call);
			break;
		}
		gw_warn("span %d chan %u: release not completed, dropping it",
			span->idx, call->chan);
		pri_destroycall(span->pri, call->qc);
		call_finish(call);
		break;
	}
	ps_span_kick(span);
}

/* ---- events from libpri ------------------------------------------------ */

static unsigned pick_free(const struct ps_span *span)
{
	/* From the top down, away from a gateway hunting from the bottom. */
	for (unsigned ch = span->nchan; ch >= 1; ch--)
		if (!span->chans[ch])
			return ch;
	return 0;
}

/* Has --glare met a SETUP to @p num already?  If not, it is now. */
static bool glared(const char *num)
{
	unsigned n = ps.nglared < 64 ? ps.nglared : 64;

	for (unsigned i = 0; i < n; i++)
		if (!strcmp(ps.glared[i], num))
			return true;
	tg_strlcpy(ps.glared[ps.nglared++ % 64], num, PS_NUMLEN);
	return false;
}

static void ring_act(struct ps_span *span, struct ps_call *call);

/* ---- overlap receiving (Q.931 5.1.3), --overlap-receive ---------------- */

static bool overlap_wanted(const struct ps_call *call, bool complete)
{
	int n = ps.conf.overlap_receive;

	return n >= 0 && !complete &&
	       (n == 0 || strlen(call->called) < (size_t)n);
}

static void overlap_arm(struct ps_call *call)
{
	struct timeval tv = {ps.conf.t302 / 1000, (ps.conf.t302 % 1000) * 1000};

	evtimer_add(call->t302, &tv);
}

/* The number is as complete as it gets: route it, or (fewer digits
 * than --overlap-receive N asks for) clear with cause 28. */
static void overlap_done(struct ps_call *call, bool timeout)
{
	int n = ps.conf.overlap_receive;

	call->collecting = false;
	evtimer_del(call->t302);
	gw_info("span %d chan %u: number %s complete (%s, %u INFORMATION)",
		call->span->idx, call->chan, call->called,
		timeout ? "T302" : "digits", call->info_msgs);
	if (timeout && (!*call->called ||
			(n > 0 && strlen(call->called) < (size_t)n))) {
		call_hangup(call, PRI_CAUSE_INVALID_NUMBER_FORMAT);
		return;
	}
	ring_act(call->span, call);
}

static void on_t302(evutil_socket_t fd, short what, void *arg)
{
	struct ps_call *call = arg;
	struct ps_span *span = call->span;

	(void)fd;
	(void)what;
	if (!call->collecting || call->state != PS_CALL_SETUP)
		return;
	/* NOTE: a clearing may free the call. */
	overlap_done(call, true);
	ps_span_kick(span);
}

/* SETUP ACKNOWLEDGE: the rest of the number comes in INFORMATION. */
static void overlap_start(struct ps_call *call)
{
	struct ps_span *span = call->span;

	call->t302 = evtimer_new(ps.base, on_t302, call);
	if (!call->t302) {
		call_hangup(call, PRI_CAUSE_NORMAL_TEMPORARY_FAILURE);
		return;
	}
	call->collecting = true;
	call->overlap = true;
	if (ps.conf.overlap_inband) {
		/* Dial tone while the digits come (Q.931 5.1.3, PI 8). */
		pri_setup_ack(span->pri, call->qc,
			      ps_bearer_to_chan(span, call->chan), 0, 1);
		call->media = true;
	} else {
		pri_need_more_info(span->pri, call->qc,
				   ps_bearer_to_chan(span, call->chan), 0);
	}
	gw_info("span %d chan %u: SETUP %s -> %s, overlap: SETUP "
		"ACKNOWLEDGE", span->idx, call->chan, call->calling,
		call->called);
	overlap_arm(call);
}

static void on_info(struct ps_span *span, const pri_event_ring *r)
{
	struct ps_call *call = call_find(span, r->call);
	size_t have, add;

	if (!call || call->out || !call->collecting)
		return;
	have = strlen(call->called);
	add = strlen(r->callednum);
	if (add && have + add < sizeof(call->called)) {
		memcpy(call->called + have, r->callednum, add + 1);
		call->info_msgs++;
	}
	if (r->complete || !overlap_wanted(call, false))
		overlap_done(call, false);
	else
		overlap_arm(call);
}

static void on_ring(struct ps_span *span, const pri_event_ring *r)
{
	q931_call *qc = r->call;
	int prichan = r->channel, bearer;
	bool flexible = r->flexible;
	struct ps_call *call, *stale;
	int err;

	/* A pointer we still hold was freed and reused by libpri. */
	stale = call_find(span, qc);
	if (stale)
		call_finish(stale);

	bearer = ps_chan_to_bearer(span, prichan);
	if (ps.conf.glare > 0 && bearer > 0 && !span->chans[bearer] &&
	    !ps.shutting_down && !glared(r->callednum)) {
		/* Glare: our SETUP for that channel goes out before we
		 * answer this one, as if the two had crossed on the line. */
		ps.conf.glare--;
		ps_emit("{\"event\":\"glare\",\"span\":%d,\"chan\":%d}",
			span->idx, bearer);
		ps.glare_span = span;
		ps.glare_chan = (unsigned)bearer;
		ps_call_place();
		ps.glare_span = NULL;
		ps.glare_chan = 0;
	}
	/* Only preferred: a busy one, or any with --pick-channel high, is
	 * exchanged for our choice (Q.931 5.2.3.1 b). */
	if (bearer > 0 && flexible &&
	    (span->chans[bearer] || ps.conf.pick_high))
		bearer = 0;
	if (bearer == 0)
		bearer = (int)pick_free(span);

	err = call_alloc(&call, span, qc,
			 bearer > 0 && !span->chans[bearer] ? (unsigned)bearer
							    : 0,
			 false);
	if (err) {
		pri_hangup(span->pri, qc, PRI_CAUSE_NORMAL_TEMPORARY_FAILURE);
		return;
	}
	tg_strlcpy(call->calling, r->callingnum, sizeof(call->calling));
	tg_strlcpy(call->called, r->callednum, sizeof(call->called));
	tg_strlcpy(call->calling_name, r->callingname,
		   sizeof(call->calling_name));
	call->calling_pres = r->callingpres;
	call->called_plan = r->calledplan & 0x7f;
	call->calling_plan = r->callingplan & 0x7f;
	tg_strlcpy(call->redirecting, r->redirectingnum,
		   sizeof(call->redirecting));
	call->redirecting_plan = r->callingplanrdnis & 0x7f;
	call->redirect_reason = call->redirecting[0] ? r->redirectingreason
						     : 0;
	if (bearer < 0) {
		call_hangup(call, PRI_CAUSE_IDENTIFIED_CHANNEL_NOTEXIST);
		return;
	}
	if (!call->chan) {
		call_hangup(call, bearer ? PRI_CAUSE_REQUESTED_CHAN_UNAVAIL
					 : PRI_CAUSE_NORMAL_CIRCUIT_CONGESTION);
		return;
	}
	if (ps.shutting_down) {
		call_hangup(call, PRI_CAUSE_NORMAL_TEMPORARY_FAILURE);
		return;
	}
	call->setup_complete = r->complete;
	call->setup_digits = (unsigned)strlen(call->called);
	if (overlap_wanted(call, r->complete)) {
		overlap_start(call);
		return;
	}
	ring_act(span, call);
}

/* The called number is complete: what the rules say for it. */
static void ring_act(struct ps_span *span, struct ps_call *call)
{
	q931_call *qc = call->qc;
	int prichan, cause = 0;
	enum ps_action act;

	prichan = ps_bearer_to_chan(span, call->chan);
	act = ps_rule_lookup(&ps.conf, call->called, &cause);
	call->act = act;
	{
		const struct ps_rule *rl = ps_rule_find(&ps.conf, call->called);

		call->ring_ms = rl && rl->ring_ms >= 0 ? rl->ring_ms
						       : ps.conf.answer_after;
		call->hangup_ms = rl && rl->hangup_ms >= 0
			? rl->hangup_ms : ps.conf.hangup_after;
		call->media_mode = rl && rl->media >= 0 ? rl->media
							: (int)ps.conf.media;
		ps_play_setup(call, rl);
		call->forget_ms = rl ? rl->forget_ms : -1;
		call->drop_release = rl && rl->drop_release;
	}
	gw_info("span %d chan %u: SETUP %s -> %s", span->idx, call->chan,
		call->calling, call->called);
	switch (act) {
	case PS_ACT_ANSWER:
	case PS_ACT_NOANSWER:
		pri_proceeding(span->pri, qc, prichan, 0);
		pri_acknowledge(span->pri, qc, prichan, 0);
		break;
	case PS_ACT_PROGRESS:
	case PS_ACT_ANNOUNCE:
		/* An announcement ("all circuits are busy") is in-band
		 * progress; ANNOUNCE clears with its cause afterwards. */
		pri_proceeding(span->pri, qc, prichan, 0);
		pri_progress(span->pri, qc, prichan, 1);
		call->media = true;
		call->cause_after = act == PS_ACT_ANNOUNCE ? cause : 0;
		break;
	case PS_ACT_ALERT_INBAND:
		pri_acknowledge(span->pri, qc, prichan, 1);
		call->media = true;
		break;
	case PS_ACT_PROCEEDING_INBAND:
		/* In-band information from CALL PROCEEDING on (PI 8). */
		pri_proceeding(span->pri, qc, prichan, 1);
		call->media = true;
		break;
	case PS_ACT_IGNORE:
		/* As if the SETUP had been lost: the far end's T303 runs. */
		return;
	case PS_ACT_REJECT:
		/* libpri sends no DISCONNECT for a call it never answered
		 * (only RELEASE COMPLETE for a few causes): proceed first,
		 * as a network does before clearing with a cause. */
		pri_proceeding(span->pri, qc, prichan, 0);
		call_hangup(call, cause);
		return;
	}
	if (act != PS_ACT_NOANSWER)
		call_timer(call, call->ring_ms);
}

/* Our SETUP named its channel preferred: the far end's first reply may
 * put the call on another one (Q.931 5.2.3.1); audio follows. */
static void follow_channel(struct ps_span *span, struct ps_call *call,
			   int prichan)
{
	int b = ps_chan_to_bearer(span, prichan);

	if (!call || !call->out || b <= 0 || (unsigned)b == call->chan)
		return;
	gw_info("span %d: originated call moved from channel %u to %d",
		span->idx, call->chan, b);
	if (call->chan && span->chans[call->chan] == call)
		span->chans[call->chan] = NULL;
	call->chan = (unsigned)b;
	if (!span->chans[b])
		span->chans[b] = call;
}

static void on_early(struct ps_span *span, q931_call *qc, int progressmask)
{
	struct ps_call *call = call_find(span, qc);

	if (call && call->state == PS_CALL_SETUP &&
	    (progressmask & PRI_PROG_INBAND_AVAILABLE))
		call->media = true;
}

static void on_restart(struct ps_span *span, int prichan)
{
	struct ps_call *call, *next;
	int bearer = ps_chan_to_bearer(span, prichan);

	/* libpri has acknowledged it; say what was restarted (0: all). */
	ps_emit("{\"event\":\"restart\",\"span\":%d,\"chan\":%d}",
		span->idx, bearer > 0 ? bearer : 0);
	for (call = LIST_FIRST(&span->calls); call; call = next) {
		next = LIST_NEXT(call, le);
		if (bearer > 0 && call->chan != (unsigned)bearer)
			continue;
		call_ended(call, PRI_CAUSE_NORMAL_TEMPORARY_FAILURE, false);
		pri_destroycall(span->pri, call->qc);
		call_finish(call);
	}
}

#define DIGIT_GAP_MS 100

/* Overlap sending: one more digit in INFORMATION, every 100 ms. */
static void on_digit(evutil_socket_t fd, short what, void *arg)
{
	struct ps_call *call = arg;
	struct timeval tv = {0, DIGIT_GAP_MS * 1000};

	(void)fd;
	(void)what;
	if (call->state != PS_CALL_SETUP || !call->called[call->dsent])
		return;
	pri_information(call->span->pri, call->qc,
			call->called[call->dsent++]);
	if (call->called[call->dsent])
		evtimer_add(call->dtmr, &tv);
}

static void on_setup_ack(struct ps_span *span, q931_call *qc)
{
	struct ps_call *call = call_find(span, qc);
	struct timeval tv = {0, DIGIT_GAP_MS * 1000};

	if (!call || !call->out || call->dtmr ||
	    !call->called[call->dsent])
		return;
	call->dtmr = evtimer_new(ps.base, on_digit, call);
	if (call->dtmr)
		evtimer_add(call->dtmr, &tv);
}

/* drop-release: the far end's clearing goes unanswered; the call stays
 * until a RESTART (or the guard) ends it. */
static void release_dropped(struct ps_call *call, const char *what)
{
	gw_notice("span %d chan %u: %s ignored (drop-release)",
		  call->span->idx, call->chan, what);
	ps_emit("{\"event\":\"release_dropped\",\"span\":%d,\"chan\":%u,"
		"\"message\":\"%s\"}", call->span->idx, call->chan, what);
}

void ps_call_event(struct ps_span *span, const pri_event *e)
{
	struct ps_call *call;
	q931_call *qc;
	int cause;

	switch (e->e) {
	case PRI_EVENT_RING:
		on_ring(span, &e->ring);
		break;
	case PRI_EVENT_PROCEEDING:
	case PRI_EVENT_PROGRESS:
		follow_channel(span, call_find(span, e->proceeding.call),
			       e->proceeding.channel);
		on_early(span, e->proceeding.call, e->proceeding.progressmask);
		break;
	case PRI_EVENT_RINGING:
		follow_channel(span, call_find(span, e->ringing.call),
			       e->ringing.channel);
		on_early(span, e->ringing.call, e->ringing.progressmask);
		break;
	case PRI_EVENT_ANSWER:
		call = call_find(span, e->answer.call);
		follow_channel(span, call, e->answer.channel);
		for (int i = 0; call && e->answer.subcmds &&
		     i < e->answer.subcmds->counter_subcmd; i++) {
			const struct pri_subcommand *sc =
				&e->answer.subcmds->subcmd[i];

			if (sc->cmd == PRI_SUBCMD_CONNECTED_LINE &&
			    sc->u.connected_line.id.number.valid)
				tg_strlcpy(call->connected,
					   sc->u.connected_line.id.number.str,
					   sizeof(call->connected));
		}
		if (call && call->state == PS_CALL_SETUP) {
			int hold = ps.conf.hold;

			if (ps.conf.hangup_after > 0 &&
			    ps.conf.hangup_after < hold)
				hold = ps.conf.hangup_after;
			call_answered(call, hold);
		}
		break;
	case PRI_EVENT_HANGUP_REQ:
		qc = e->hangup.call;
		cause = e->hangup.cause;
		call = call_find(span, qc);
		if (call)
			call_ended(call, cause, false);
		if (call && call->drop_release) {
			release_dropped(call, "DISCONNECT");
			break;
		}
		pri_hangup(span->pri, qc, cause);
		if (call && !qc_alive(span, qc))
			call_finish(call);
		break;
	case PRI_EVENT_HANGUP:
		qc = e->hangup.call;
		cause = e->hangup.cause;
		call = call_find(span, qc);
		if (call)
			call_ended(call, cause, false);
		if (call && call->drop_release) {
			release_dropped(call, "RELEASE");
			break;
		}
		/* After RELEASE or RELEASE COMPLETE, libpri waits for this to
		 * send RELEASE COMPLETE and free the call record. */
		pri_hangup(span->pri, qc, cause);
		if (call)
			call_finish(call);
		break;
	case PRI_EVENT_HANGUP_ACK:
		call = call_find(span, e->hangup.call);
		if (call) {
			call_ended(call, e->hangup.cause, false);
			call_finish(call);
		}
		break;
	case PRI_EVENT_RESTART:
		on_restart(span, e->restart.channel);
		break;
	case PRI_EVENT_SETUP_ACK:
		on_setup_ack(span, e->setup_ack.call);
		break;
	case PRI_EVENT_INFO_RECEIVED:
		on_info(span, &e->ring);
		break;
	default:
		break;
	}
}

/* ---- media ------------------------------------------------------------- */

/* The echo line: a frame goes back PS_ECHO_DELAY frames after it came
 * (a fixed echo path, as a hybrid on a real line has).  Running dry
 * plays silence until the delay is built up again; overflowing drops
 * the oldest frame. */
static void ps_echo_tx(struct ps_call *call, uint8_t *blk)
{
	if (!call->echo_primed && call->echo_count >= PS_ECHO_DELAY)
		call->echo_primed = true;
	if (!call->echo_primed || !call->echo_count) {
		if (call->echo_primed)
			call->echo_slips++;
		call->echo_primed = false;
		memset(blk, ps_audio_silence(), TDM_FRAME_SAMPLES);
		return;
	}
	memcpy(blk, call->echo[call->echo_head], TDM_FRAME_SAMPLES);
	call->echo_head = (call->echo_head + 1) % PS_ECHO_RING;
	call->echo_count--;
}

static void ps_echo_rx(struct ps_call *call, const uint8_t *blk)
{
	if (call->echo_count == PS_ECHO_RING) {
		call->echo_head = (call->echo_head + 1) % PS_ECHO_RING;
		call->echo_count--;
		call->echo_slips++;
	}
	memcpy(call->echo[(call->echo_head + call->echo_count) %
			  PS_ECHO_RING],
	       blk, TDM_FRAME_SAMPLES);
	call->echo_count++;
}

void ps_call_tx(struct ps_call *call, uint8_t *blk)
{
	call->frames_tx++;
	switch ((enum ps_media)call->media_mode) {
	case PS_MEDIA_ECHO:
		ps_echo_tx(call, blk);
		break;
	case PS_MEDIA_TONE:
		ps_audio_tone(blk, &call->tone_phase);
		break;
	case PS_MEDIA_SILENCE:
		memset(blk, ps_audio_silence(), TDM_FRAME_SAMPLES);
		break;
	case PS_MEDIA_WAV:
		ps_play_wav(call, blk);
		break;
	case PS_MEDIA_STAMP:
		stamp_fill(blk, STAMP_PSTN, call->stamp_k++, stamp_now_ns());
		break;
	case PS_MEDIA_FAX:
		ps_fax_tx(call, blk);
		break;
	}
	ps_play_dtmf(call, blk);
}

void ps_call_rx(struct ps_call *call, const uint8_t *blk)
{
	call->frames_rx++;
	if (call->media_mode == PS_MEDIA_ECHO) {
		ps_echo_rx(call, blk);
	} else if (call->media_mode == PS_MEDIA_STAMP) {
		if (!call->stamp &&
		    (call->stamp = malloc(sizeof(*call->stamp)))) {
			stamp_rx_init(call->stamp);
			/* as rtpload: the gateway's jitter buffer settles */
			call->stamp->settle_ns = 1000000000;
		}
		if (call->stamp)
			stamp_rx_frame(call->stamp, blk, STAMP_RTP,
				       stamp_now_ns());
	}
	if (call->media_mode == PS_MEDIA_FAX)
		ps_fax_rx(call, blk);
	ps_play_rx(call, blk);
	if (call->state == PS_CALL_ACTIVE &&
	    ps_mono_us() / 1000 >= call->answer_mono + MEASURE_SKIP_MS)
		ps_audio_measure(&call->meter, blk);
}

/* ---- whole-program operations ------------------------------------------ */

void ps_call_clear_span(struct ps_span *span, int cause)
{
	struct ps_call *call;

	while ((call = LIST_FIRST(&span->calls))) {
		call_ended(call, cause, true);
		call_finish(call);
	}
}

void ps_call_hangup_all(void)
{
	for (int i = 0; i < ps.conf.nspans; i++) {
		struct ps_span *span = &ps.spans[i];
		struct ps_call *call, *next;

		for (call = LIST_FIRST(&span->calls); call; call = next) {
			next = LIST_NEXT(call, le);
			if (call->state != PS_CALL_CLEARING)
				call_hangup(call, PRI_CAUSE_NORMAL_CLEARING);
		}
		ps_span_kick(span);
	}
}

unsigned ps_call_count(void)
{
	unsigned n = 0;

	for (int i = 0; i < ps.conf.nspans; i++) {
		struct ps_call *call;

		LIST_FOREACH(call, &ps.spans[i].calls, le)
			n++;
	}
	return n;
}

/* ---- originating ------------------------------------------------------- */

/* NUMBER + k with the same number of digits, wrapping like an odometer. */
static void number_add(char *out, size_t size, const char *base, int k)
{
	size_t len = tg_strlcpy(out, base, size);

	if (len >= size)
		len = size - 1;
	for (size_t i = len; i-- > 0 && k > 0;) {
		int d = out[i] - '0' + k % 10;

		k /= 10;
		if (d >= 10) {
			d -= 10;
			k++;
		}
		out[i] = (char)('0' + d);
	}
}

void ps_call_place(void)
{
	struct ps_span *span = NULL;
	struct ps_call *call;
	struct pri_sr *sr;
	char to[PS_NUMLEN], from[PS_NUMLEN];
	unsigned chan = 0;
	int idx = ps.orig_placed++;
	int err, law;
	q931_call *qc;

	if (ps.conf.to_step > 1)
		number_add(to, sizeof(to), ps.conf.to, idx % ps.conf.to_step);
	else
		tg_strlcpy(to, ps.conf.to, sizeof(to));
	if (ps.conf.from_step > 1)
		number_add(from, sizeof(from), ps.conf.from,
			   idx % ps.conf.from_step);
	else
		tg_strlcpy(from, ps.conf.from, sizeof(from));

	if (ps.glare_span) {
		span = ps.glare_span;
		chan = ps.glare_chan;
	}
	for (int i = 0; i < ps.conf.nspans && !chan; i++) {
		struct ps_span *s = &ps.spans[(ps.orig_rr + i) %
					     ps.conf.nspans];

		if (!ps_span_ready(s))
			continue;
		chan = ps.conf.orig_chan ? (unsigned)ps.conf.orig_chan
					 : pick_free(s);
		if (chan)
			span = s;
	}
	ps.orig_rr = (ps.orig_rr + 1) % ps.conf.nspans;

	qc = span ? pri_new_call(span->pri) : NULL;
	if (!qc) {
		/* Report a call we could not place like a congested one. */
		struct ps_call fail = {.out = true, .cause = 34,
				       .cleared_local = true};

		fail.setup_ms = fail.end_ms = tg_time_ms();
		tg_strlcpy(fail.calling, from, sizeof(fail.calling));
		tg_strlcpy(fail.called, to, sizeof(fail.called));
		emit_record(&fail);
		ps.stats.calls_out++;
		ps.stats.failed++;
		gw_warn("originate: no free B-channel for call %d", idx + 1);
		return;
	}
	err = call_alloc(&call, span, qc, chan, true);
	if (err) {
		pri_destroycall(span->pri, qc);
		ps.stats.calls_out++;
		ps.stats.failed++;
		return;
	}
	ps.orig_live++;
	tg_strlcpy(call->calling, from, sizeof(call->calling));
	tg_strlcpy(call->called, to, sizeof(call->called));
	call->called_plan = ps.conf.to_plan;
	call->calling_plan = ps.conf.from_plan;

	sr = pri_sr_new();
	if (!sr) {
		call_finish(call);
		return;
	}
	law = ps.conf.e1 ? PRI_LAYER_1_ALAW : PRI_LAYER_1_ULAW;
	pri_sr_set_channel(sr, ps_bearer_to_chan(span, chan),
			   ps.conf.orig_preferred ? 0 : 1, 0);
	pri_sr_set_bearer(sr, PRI_TRANS_CAP_SPEECH, law);
	if (ps.conf.overlap >= 0 &&
	    (size_t)ps.conf.overlap < strlen(call->called)) {
		/* Overlap sending (Q.931 5.1.3): the first digits now, no
		 * Sending Complete; the rest after SETUP ACKNOWLEDGE. */
		char part[PS_NUMLEN];

		snprintf(part, sizeof(part), "%.*s", ps.conf.overlap,
			 call->called);
		call->dsent = strlen(part);
		pri_sr_set_called(sr, part, ps.conf.to_plan, 0);
	} else {
		call->dsent = strlen(call->called);
		pri_sr_set_called(sr, call->called, ps.conf.to_plan, 1);
	}
	tg_strlcpy(call->calling_name, ps.conf.from_name,
		   sizeof(call->calling_name));
	call->calling_pres = ps.conf.from_restricted
		? PRES_PROHIB_USER_NUMBER_NOT_SCREENED
		: PRES_ALLOWED_USER_NUMBER_NOT_SCREENED;
	pri_sr_set_caller(sr, call->calling,
			  *call->calling_name ? call->calling_name : NULL,
			  ps.conf.from_plan, call->calling_pres);
	if (*ps.conf.redirecting) {
		tg_strlcpy(call->redirecting, ps.conf.redirecting,
			   sizeof(call->redirecting));
		call->redirect_reason = ps.conf.redirect_reason;
		pri_sr_set_redirecting(sr, call->redirecting, PRI_UNKNOWN,
				       PRES_ALLOWED_USER_NUMBER_NOT_SCREENED,
				       call->redirect_reason);
	}
	err = pri_setup(span->pri, qc, sr);
	pri_sr_free(sr);
	if (err) {
		gw_warn("span %d: SETUP failed", span->idx);
		pri_destroycall(span->pri, qc);
		call_finish(call);
		return;
	}
	ps_span_kick(span);
}

static void orig_arm(void)
{
	int64_t due = ps.orig_start_us +
		      (int64_t)((double)ps.orig_placed * 1e6 / ps.conf.rate);
	int64_t rel = due - ps_mono_us();
	struct timeval tv;

	if (rel < 0)
		rel = 0;
	tv.tv_sec = rel / 1000000;
	tv.tv_usec = rel % 1000000;
	evtimer_add(ps.ev_orig, &tv);
}

static void on_orig(evutil_socket_t fd, short what, void *arg)
{
	int64_t el = ps_mono_us() - ps.orig_start_us;
	int due = (int)((double)el * ps.conf.rate / 1e6) + 1;

	if (ps.shutting_down)
		return;
	if (due > ps.conf.originate)
		due = ps.conf.originate;
	while (ps.orig_placed < due)
		ps_call_place();
	if (ps.orig_placed < ps.conf.originate)
		orig_arm();
	else
		ps_check_done();
}

void ps_orig_check_start(void)
{
	if (ps.conf.originate <= 0 || ps.orig_started || ps.shutting_down)
		return;
	for (int i = 0; i < ps.conf.nspans; i++)
		if (!ps_span_ready(&ps.spans[i]))
			return;
	ps.ev_orig = evtimer_new(ps.base, on_orig, NULL);
	if (!ps.ev_orig) {
		gw_err("originate: out of memory");
		return;
	}
	ps.orig_started = true;
	/* As a network would, let the CPE's RESTARTs of a span that just
	 * came up (Q.931 5.5) settle before the first SETUP. */
	ps.orig_start_us = ps_mono_us() + ORIG_SETTLE_US;
	gw_notice("originating %d calls at %.1f/s", ps.conf.originate,
		  ps.conf.rate);
	orig_arm();
}
