/* gateway/ctl.c  Control socket: one command per connection, text or JSON
 *
 * Protocol (Unix stream socket): the client sends one line,
 * "<text|json> <command ...>\n"; we answer "OK\n" or "ERR\n", then the body,
 * and close.  tollgatectl is the client.
 */
#define LOG_MODULE "ctl"

#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "util/util.h"
#include "cause.h"
#include "gw.h"

#define MAX_REQUEST 512

struct gw_ctl {
	struct gw *gw;
	struct evconnlistener *lev;
	char path[108];
};

struct reply {
	struct evbuffer *out;
	struct bufferevent *bev;
	bool deferred;  /* the command answers later on bev itself */
	bool json;
	bool first;   /* first element of a JSON array */
};

/* ---- JSON and text helpers ---------------------------------------------- */

void gw_json_str(struct evbuffer *out, const char *s)
{
	evbuffer_add(out, "\"", 1);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			evbuffer_add_printf(out, "\\%c", c);
		else if (c < 0x20)
			evbuffer_add_printf(out, "\\u%04x", c);
		else
			evbuffer_add(out, s, 1);
	}
	evbuffer_add(out, "\"", 1);
}

static void json_sep(struct reply *r)
{
	if (!r->first)
		evbuffer_add(r->out, ",", 1);
	r->first = false;
}

static void fmt_duration(char *buf, size_t size, int64_t ms)
{
	int64_t s = ms / 1000;

	if (s >= 3600)
		snprintf(buf, size, "%lld:%02lld:%02lld",
			 (long long)(s / 3600), (long long)(s / 60 % 60),
			 (long long)(s % 60));
	else
		snprintf(buf, size, "%lld:%02lld", (long long)(s / 60),
			 (long long)(s % 60));
}

/* ---- commands ------------------------------------------------------------ */

static int cmd_version(struct gw *gw, struct reply *r, int argc, char **argv)
{
	if (r->json)
		evbuffer_add_printf(r->out, "{\"version\":\"%s\"}\n",
				    PACKAGE_VERSION);
	else
		evbuffer_add_printf(r->out, "tollgated %s\n", PACKAGE_VERSION);
	return 0;
}

static int cmd_status(struct gw *gw, struct reply *r, int argc, char **argv)
{
	unsigned up = 0, nreg, reg_up, reg_rej;
	int64_t uptime = tg_time_ms() - gw->started_ms;
	char dur[32];

	for (unsigned i = 0; i < gw->nspans; i++)
		up += tdm_span_dchan_up(gw->spans[i]);
	gw_reg_counts(gw, &nreg, &reg_up, &reg_rej);
	if (r->json) {
		evbuffer_add_printf(
			r->out,
			"{\"version\":\"%s\",\"uptime_s\":%lld,"
			"\"state\":\"%s\",\"sip_port\":%u,\"spans\":%u,"
			"\"spans_up\":%u,\"calls_active\":%u,"
			"\"calls_total\":%llu,\"calls_answered\":%llu,"
			"\"calls_failed\":%llu,\"cdr_written\":%llu,"
			"\"cdr_pending\":%llu,\"database\":",
			PACKAGE_VERSION, (long long)(uptime / 1000),
			gw->draining ? "draining" : "running",
			sip_ua_port(gw->ua), gw->nspans, up, gw->ncalls,
			(unsigned long long)gw->calls_total,
			(unsigned long long)gw->calls_answered,
			(unsigned long long)gw->calls_failed,
			(unsigned long long)cdr_writer_written(gw->cdr),
			(unsigned long long)cdr_writer_pending(gw->cdr));
		gw_json_str(r->out, gw->cfg.db_path);
		evbuffer_add_printf(r->out, ",\"registrations\":%u,"
				    "\"registrations_up\":%u,"
				    "\"registrations_rejected\":%u}\n",
				    nreg, reg_up, reg_rej);
		return 0;
	}
	fmt_duration(dur, sizeof(dur), uptime);
	evbuffer_add_printf(
		r->out,
		"tollgated %s, up %s, %s\n"
		"SIP:      %s:%u\n"
		"Spans:    %u configured, %u with D-channel up\n"
		"Calls:    %u active, %llu total, %llu answered, %llu failed\n"
		"CDRs:     %llu written, %llu pending, database %s\n",
		PACKAGE_VERSION, dur, gw->draining ? "DRAINING" : "running",
		gw->cfg.sip_bind, sip_ua_port(gw->ua), gw->nspans, up,
		gw->ncalls, (unsigned long long)gw->calls_total,
		(unsigned long long)gw->calls_answered,
		(unsigned long long)gw->calls_failed,
		(unsigned long long)cdr_writer_written(gw->cdr),
		(unsigned long long)cdr_writer_pending(gw->cdr),
		gw->cfg.db_path);
	if (nreg)
		evbuffer_add_printf(r->out, "Register: %u trunks, %u registered"
				    "%s%u rejected%s\n", nreg, reg_up,
				    reg_rej ? ", ALARM: " : ", ", reg_rej,
				    reg_rej ? " (show registrations)" : "");
	return 0;
}

static void chan_counts(struct tdm_span *span, unsigned *idle,
			unsigned *busy, unsigned *oos, unsigned *blocked)
{
	*idle = *busy = *oos = *blocked = 0;
	for (unsigned c = 1; c <= tdm_span_nchan(span); c++) {
		switch (tdm_span_chan_state(span, c)) {
		case TDM_CHAN_IDLE:
			(*idle)++;
			break;
		case TDM_CHAN_OOS:
			(*oos)++;
			break;
		case TDM_CHAN_BLOCKED:
			(*blocked)++;
			break;
		default:
			(*busy)++;
			break;
		}
	}
}

/* "t200":1000,... the Q.921/Q.931 timers in force (null: libpri's
 * default, while the line is not connected). */
static void span_timers_json(struct reply *r, const struct tdm_span *s)
{
	for (int t = 0; t < TDM_NTIMERS; t++) {
		int v = tdm_span_timer(s, (enum tdm_timer)t);

		if (v < 0)
			evbuffer_add_printf(r->out, "%s\"%s\":null",
					    t ? "," : "",
					    tdm_timer_name((enum tdm_timer)t));
		else
			evbuffer_add_printf(r->out, "%s\"%s\":%d",
					    t ? "," : "",
					    tdm_timer_name((enum tdm_timer)t), v);
	}
}

static int cmd_spans(struct gw *gw, struct reply *r, int argc, char **argv)
{
	if (r->json)
		evbuffer_add(r->out, "[", 1);
	else
		evbuffer_add_printf(r->out, "%-5s %-4s %-12s %-8s %-5s %-6s "
				    "%5s %5s %5s %5s %s\n", "SPAN", "TYPE",
				    "SWITCH", "SIDE", "LINK", "DCHAN", "IDLE",
				    "BUSY", "OOS", "BLOCK", "STATE");
	for (unsigned i = 0; i < gw->nspans; i++) {
		struct tdm_span *s = gw->spans[i];
		unsigned idle, busy, oos, blocked;
		const char *adm = gw_span_open(gw, tdm_span_id(s))
			? "in-service" : "drained";
		int64_t last_alarm;
		unsigned alarms = tdm_span_alarms(s, &last_alarm);
		char line_alarms[64];

		chan_counts(s, &idle, &busy, &oos, &blocked);
		tdm_span_line_alarms(s, line_alarms, sizeof(line_alarms));
		if (r->json) {
			json_sep(r);
			evbuffer_add_printf(
				r->out,
				"{\"span\":%d,\"type\":\"%s\",\"switch\":"
				"\"%s\",\"side\":\"%s\",\"link\":\"%s\","
				"\"dchan\":\"%s\",\"channels\":%u,\"idle\":%u,"
				"\"in_use\":%u,\"out_of_service\":%u,"
				"\"blocked\":%u,\"state\":\"%s\","
				"\"alarms\":%u,\"last_alarm_ms\":%lld,"
				"\"audit\":%u,\"audit_resets\":%u,"
				"\"channel_select\":\"%s\","
				"\"backend\":\"%s\",\"line_alarms\":\"%s\","
				"\"timers\":{",
				tdm_span_id(s), tdm_span_type_name(s),
				tdm_span_switch_name(s),
				tdm_span_is_network(s) ? "network" : "cpe",
				tdm_span_link_up(s) ? "up" : "down",
				tdm_span_dchan_up(s) ? "up" : "down",
				tdm_span_nchan(s), idle, busy, oos, blocked,
				adm, alarms, (long long)last_alarm,
				tdm_span_audit_period(s),
				tdm_span_audit_resets(s),
				tdm_span_preferred(s) ? "preferred"
						      : "exclusive",
				tdm_span_backend_name(s), line_alarms);
			span_timers_json(r, s);
			evbuffer_add(r->out, "}}", 2);
		} else {
			evbuffer_add_printf(
				r->out,
				"%-5d %-4s %-12s %-8s %-5s %-6s %5u %5u %5u "
				"%5u %s\n",
				tdm_span_id(s), tdm_span_type_name(s),
				tdm_span_switch_name(s),
				tdm_span_is_network(s) ? "network" : "cpe",
				tdm_span_link_up(s) ? "up" : "down",
				tdm_span_dchan_up(s) ? "up" : "down", idle,
				busy, oos, blocked, adm);
		}
	}
	for (unsigned i = 0; !r->json && i < gw->nspans; i++)
		if (tdm_span_audit_resets(gw->spans[i]))
			evbuffer_add_printf(r->out, "span %d: the channel audit "
					    "reset %u channel(s)\n",
					    tdm_span_id(gw->spans[i]),
					    tdm_span_audit_resets(gw->spans[i]));
	/* The table stays as scripts parse it; hardware spans get a line
	 * each below it: the backend and what the card reports. */
	for (unsigned i = 0; !r->json && i < gw->nspans; i++) {
		struct tdm_span *s = gw->spans[i];
		char line_alarms[64];

		if (!strcmp(tdm_span_backend_name(s), "virtual"))
			continue;
		tdm_span_line_alarms(s, line_alarms, sizeof(line_alarms));
		evbuffer_add_printf(r->out, "span %d: %s backend, line "
				    "alarms: %s\n", tdm_span_id(s),
				    tdm_span_backend_name(s),
				    *line_alarms ? line_alarms : "none");
	}
	if (r->json)
		evbuffer_add(r->out, "]\n", 2);
	return 0;
}

/* One B-channel: state, maintenance, its call and the last cause. */
static void channel_row(struct gw *gw, struct reply *r, struct tdm_span *s,
			unsigned c)
{
	const char *st = tdm_chan_state_name(tdm_span_chan_state(s, c));
	const char *adm = tdm_chan_blocked(s, c)
		? (tdm_chan_far_blocked(s, c) ? "both" : "blocked")
		: tdm_chan_far_blocked(s, c) ? "far" : "-";
	int cause = tdm_chan_last_cause(s, c);
	struct gw_call_info ci;
	bool has = gw_call_info_of_tdm(gw, tdm_chan_call(s, c), &ci);
	long long secs = has ? (tg_time_ms() - ci.start_ms) / 1000 : 0;

	if (r->json) {
		json_sep(r);
		evbuffer_add_printf(r->out, "{\"span\":%d,\"chan\":%u,"
				    "\"state\":\"%s\",\"blocked\":%s,"
				    "\"far_blocked\":%s,\"last_cause\":%d,"
				    "\"audit_resets\":%u",
				    tdm_span_id(s), c, st,
				    tdm_chan_blocked(s, c) ? "true" : "false",
				    tdm_chan_far_blocked(s, c) ? "true"
							       : "false",
				    cause, tdm_chan_audit_resets(s, c));
		if (has) {
			evbuffer_add_printf(r->out, ",\"call\":\"%.8s\","
					    "\"seconds\":%lld,\"emergency\":%s,"
					    "\"calling\":", ci.id, secs,
					    ci.emergency ? "true" : "false");
			gw_json_str(r->out, ci.calling);
			evbuffer_add_printf(r->out, ",\"called\":");
			gw_json_str(r->out, ci.called);
		}
		evbuffer_add(r->out, "}", 1);
		return;
	}
	evbuffer_add_printf(r->out, "%-5d %-5u %-14s %-8s %-8.8s %5lld "
			    "%-16.16s %-16.16s %d%s\n", tdm_span_id(s), c, st,
			    adm, has ? ci.id : "-", secs,
			    has ? ci.calling : "-", has ? ci.called : "-",
			    cause, has && ci.emergency ? " EMERGENCY" : "");
}

static int cmd_channels(struct gw *gw, struct reply *r, int argc, char **argv)
{
	int only = argc > 0 ? atoi(argv[0]) : 0;

	if (argc > 0 && (only <= 0 || !gw_span(gw, only))) {
		evbuffer_add_printf(r->out, "no span '%s'\n", argv[0]);
		return EINVAL;
	}
	if (r->json)
		evbuffer_add(r->out, "[", 1);
	else
		evbuffer_add_printf(r->out, "%-5s %-5s %-14s %-8s %-8s %5s "
				    "%-16s %-16s %s\n", "SPAN", "CHAN",
				    "STATE", "ADMIN", "CALL", "SECS", "CALLING",
				    "CALLED", "LAST-CAUSE");
	for (unsigned i = 0; i < gw->nspans; i++) {
		struct tdm_span *s = gw->spans[i];

		if (only && tdm_span_id(s) != only)
			continue;
		for (unsigned c = 1; c <= tdm_span_nchan(s); c++)
			channel_row(gw, r, s, c);
	}
	if (r->json)
		evbuffer_add(r->out, "]\n", 2);
	return 0;
}

/* TDM trunk groups: their spans, hunting and channels. */
static int cmd_groups(struct gw *gw, struct reply *r, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (r->json)
		evbuffer_add(r->out, "[", 1);
	else
		evbuffer_add_printf(r->out, "%-16s %-12s %-16s %5s %5s %5s %5s "
				    "%s\n", "GROUP", "HUNT", "SPANS", "CHANS",
				    "IDLE", "BUSY", "BLOCK", "STATE");
	for (unsigned i = 0; i < gw->cfg.ntrunks; i++) {
		const struct gw_trunk_cfg *t = &gw->cfg.trunks[i];
		struct gw_tstat *ts = gw_tstat(gw, t->name);
		unsigned chans = 0, idle = 0, busy = 0, oos = 0, blk = 0;
		char list[96] = "";
		size_t n = 0;

		if (t->kind != GW_TRUNK_TDM)
			continue;
		for (unsigned k = 0; k < t->nspans; k++) {
			struct tdm_span *s = gw_span(gw, t->spans[k]);
			unsigned a, b, c, d;

			if (n < sizeof(list))
				n += (size_t)snprintf(list + n, sizeof(list) - n,
						      "%s%d", k ? "," : "",
						      t->spans[k]);
			if (!s)
				continue;
			chan_counts(s, &a, &b, &c, &d);
			chans += tdm_span_nchan(s);
			idle += a;
			busy += b;
			oos += c;
			blk += d;
		}
		if (r->json) {
			json_sep(r);
			evbuffer_add_printf(r->out, "{\"group\":");
			gw_json_str(r->out, t->name);
			evbuffer_add_printf(r->out, ",\"hunt\":\"%s\",\"spans\":"
					    "\"%s\",\"channels\":%u,\"idle\":%u,"
					    "\"in_use\":%u,\"out_of_service\":%u,"
					    "\"blocked\":%u,\"state\":\"%s\"}",
					    gw_hunt_name(t->hunt), list, chans,
					    idle, busy, oos, blk,
					    ts && ts->drained ? "drained"
							      : "in-service");
		} else {
			evbuffer_add_printf(r->out, "%-16s %-12s %-16s %5u %5u "
					    "%5u %5u %s\n", t->name,
					    gw_hunt_name(t->hunt), list, chans,
					    idle, busy, blk,
					    ts && ts->drained ? "drained"
							      : "in-service");
		}
	}
	if (r->json)
		evbuffer_add(r->out, "]\n", 2);
	return 0;
}

static unsigned trunk_active(struct gw *gw, const char *name);

static const char *state_word(enum dp_trunk_state st)
{
	switch (st) {
	case DP_TRUNK_AVAILABLE:
		return "available";
	case DP_TRUNK_DOWN:
		return "down";
	case DP_TRUNK_FULL:
		return "full";
	}
	return "?";
}

/* The live ELIN table: in use, and whom a PSAP callback reaches. */
static int cmd_e911(struct gw *gw, struct reply *r, int argc, char **argv)
{
	int64_t now = tg_time_ms();
	int64_t window = (int64_t)gw->cfg.callback_window * 60000;

	(void)argc;
	(void)argv;
	if (r->json)
		evbuffer_add(r->out, "[", 1);
	else
		evbuffer_add_printf(r->out, "%-14s %-12s %6s %-24s %s\n",
				    "ELIN", "ZONE", "ACTIVE", "CALLBACK TO",
				    "WINDOW LEFT");
	for (size_t i = 0; i < gw->nelins; i++) {
		const struct gw_elin *e = &gw->elins[i];
		int64_t left = e->party_ms ? e->party_ms + window - now : 0;
		char to[100];

		if (left < 0)
			left = 0;
		snprintf(to, sizeof(to), "%s/%s", e->party_trunk,
			 e->party_user);
		if (r->json) {
			json_sep(r);
			evbuffer_add_printf(r->out, "{\"elin\":");
			gw_json_str(r->out, e->elin);
			evbuffer_add_printf(r->out, ",\"zone\":");
			gw_json_str(r->out, e->zone);
			evbuffer_add_printf(r->out, ",\"active\":%u,"
					    "\"trunk\":", e->active);
			gw_json_str(r->out, e->party_trunk);
			evbuffer_add_printf(r->out, ",\"user\":");
			gw_json_str(r->out, e->party_user);
			evbuffer_add_printf(r->out, ",\"window_left_s\":%lld}",
					    (long long)(left / 1000));
		} else {
			evbuffer_add_printf(r->out, "%-14s %-12s %6u %-24s "
					    "%lld s\n", e->elin, e->zone,
					    e->active, to,
					    (long long)(left / 1000));
		}
	}
	if (r->json)
		evbuffer_add(r->out, "]\n", 2);
	return 0;
}

/* Where a caller would be placed, and what a PSAP would see. */
static int cmd_e911_test(struct gw *gw, struct reply *r, int argc,
			 char **argv)
{
	struct e911_zone_row loc;
	struct sockaddr_storage ss;
	struct e911_caller c = {NULL, "", NULL};
	const struct e911_zone *z = NULL;
	const char *elin = NULL;
	char why[160], addr[320];

	if (argc < 1) {
		evbuffer_add_printf(r->out, "usage: e911 test CALLING "
				    "[--from TRUNK] [--src IP]\n");
		return EINVAL;
	}
	c.calling = argv[0];
	memset(&ss, 0, sizeof(ss));
	for (int i = 1; i + 1 < argc; i += 2) {
		if (!strcmp(argv[i], "--from")) {
			c.src_trunk = argv[i + 1];
		} else if (!strcmp(argv[i], "--src") &&
			   (inet_pton(AF_INET, argv[i + 1],
				      &((struct sockaddr_in *)&ss)->sin_addr) ==
				    1 ||
			    inet_pton(AF_INET6, argv[i + 1],
				      &((struct sockaddr_in6 *)&ss)
					       ->sin6_addr) == 1)) {
			ss.ss_family = strchr(argv[i + 1], ':') ? AF_INET6
								: AF_INET;
			c.src = (struct sockaddr *)&ss;
		} else {
			evbuffer_add_printf(r->out, "bad option '%s'\n",
					    argv[i]);
			return EINVAL;
		}
	}
	if (!gw_e911_preview(gw, &c, &z, &loc, &elin, why, sizeof(why))) {
		evbuffer_add_printf(r->out, "no zone for %s: an emergency call "
				    "would leave with its own number and no "
				    "location\n", c.calling);
		return ENOENT;
	}
	e911_address_line(&loc, addr, sizeof(addr));
	if (r->json) {
		evbuffer_add_printf(r->out, "{\"zone\":");
		gw_json_str(r->out, e911_zone_row(z)->name);
		evbuffer_add_printf(r->out, ",\"why\":");
		gw_json_str(r->out, why);
		evbuffer_add_printf(r->out, ",\"elin\":");
		gw_json_str(r->out, elin);
		evbuffer_add_printf(r->out, ",\"address\":");
		gw_json_str(r->out, addr);
		evbuffer_add_printf(r->out, "}\n");
	} else {
		evbuffer_add_printf(r->out, "%s\nELIN %s\nlocation: %s\n",
				    why, elin, addr);
	}
	return 0;
}

/* Digest authentication counters (sip_ua_auth_stats). */
static int cmd_auth(struct gw *gw, struct reply *r, int argc, char **argv)
{
	struct sip_auth_stats st;

	(void)argc;
	(void)argv;
	memset(&st, 0, sizeof(st));
	if (gw->ua)
		sip_ua_auth_stats(gw->ua, &st);
	evbuffer_add_printf(r->out,
			    r->json ? "{\"challenged\":%lu,\"accepted\":%lu,"
				      "\"failed\":%lu,\"stale\":%lu,"
				      "\"replayed\":%lu,\"answered\":%lu}\n"
				    : "challenged %lu\naccepted %lu\n"
				      "failed %lu\nstale %lu\nreplayed %lu\n"
				      "answered %lu\n",
			    st.challenged, st.accepted, st.failed, st.stale,
			    st.replayed, st.answered);
	return 0;
}

static void conn_row(const struct sip_conn_info *ci, void *arg)
{
	struct reply *r = arg;
	const char *kind = ci->kind == SIP_TRANSPORT_TLS ? "tls" : "tcp";

	if (!r->json) {
		evbuffer_add_printf(r->out, "%-4s %-3s %-40s %-4s %6u %-8s %s\n",
				    kind, ci->outbound ? "out" : "in",
				    ci->peer, ci->up ? "up" : "wait",
				    ci->idle_s, *ci->tls_version ?
				    ci->tls_version : "-",
				    *ci->name ? ci->name : "-");
		return;
	}
	json_sep(r);
	evbuffer_add_printf(r->out, "{\"transport\":\"%s\",\"peer\":", kind);
	gw_json_str(r->out, ci->peer);
	evbuffer_add_printf(r->out, ",\"dir\":\"%s\",\"up\":%s,"
			    "\"idle_s\":%u,\"tls\":", ci->outbound ? "out" : "in",
			    ci->up ? "true" : "false", ci->idle_s);
	gw_json_str(r->out, ci->tls_version);
	evbuffer_add_printf(r->out, ",\"name\":");
	gw_json_str(r->out, ci->name);
	evbuffer_add_printf(r->out, "}");
}

/* SIP over TCP and TLS: the counters and each open connection. */
static int cmd_connections(struct gw *gw, struct reply *r, int argc,
			   char **argv)
{
	struct sip_tp_stats st;

	(void)argc;
	(void)argv;
	memset(&st, 0, sizeof(st));
	if (gw->ua)
		sip_ua_tp_stats(gw->ua, &st);
	evbuffer_add_printf(r->out,
			    r->json ? "{\"open\":%u,\"accepted\":%lu,"
				      "\"opened\":%lu,\"failed\":%lu,"
				      "\"bad\":%lu,\"connections\":["
				    : "open %u, accepted %lu, opened %lu, "
				      "failed %lu, bad %lu\n"
				      "kind dir peer                                     "
				      "state   idle tls      name\n",
			    st.conns, st.accepted, st.opened, st.failed,
			    st.bad);
	r->first = true;
	if (gw->ua)
		sip_ua_connections(gw->ua, conn_row, r);
	if (r->json)
		evbuffer_add_printf(r->out, "]}\n");
	return 0;
}

/* Why a SIP trunk is down, or what its health rests on. */
static const char *health_why(const struct gw_tstat *ts, char *buf,
			      size_t size)
{
	if (ts->down_until_ms && ts->down_until_ms > tg_mono_ms()) {
		snprintf(buf, size, "no response to %u calls in a row",
			 ts->fails_in_row);
		return buf;
	}
	return ts->health_why;
}

static void health_json(struct reply *r, const struct gw_tstat *ts)
{
	char why[64];

	if (!ts)
		return;
	evbuffer_add_printf(r->out, ",\"health\":\"%s\",\"why\":",
			    gw_health_word(ts->health));
	gw_json_str(r->out, health_why(ts, why, sizeof(why)));
	evbuffer_add_printf(r->out, ",\"probe_rtt_ms\":%u,\"probe_code\":%d,"
			    "\"probes\":%llu,\"probe_answers\":%llu,"
			    "\"probe_timeouts\":%llu,\"health_downs\":%llu,"
			    "\"health_ups\":%llu",
			    ts->probe_rtt_ms, ts->probe_code,
			    (unsigned long long)ts->probes,
			    (unsigned long long)ts->probe_answers,
			    (unsigned long long)ts->probe_timeouts,
			    (unsigned long long)ts->health_downs,
			    (unsigned long long)ts->health_ups);
}

static void health_text(struct reply *r, const struct gw_trunk_cfg *t,
			const struct gw_tstat *ts)
{
	char why[64];

	if (t->kind != GW_TRUNK_SIP || !ts || ts->health == GW_HEALTH_OFF) {
		evbuffer_add(r->out, "\n", 1);
		return;
	}
	evbuffer_add_printf(r->out, " %-7s %4ums %4d %s\n",
			    gw_health_word(ts->health), ts->probe_rtt_ms,
			    ts->probe_code, health_why(ts, why, sizeof(why)));
}

/* A named trunk's targets, one line each under the trunk's (text), or
 * its "targets" array (JSON; every SIP trunk has one). */
static void targets_out(struct reply *r, const struct gw_trunk_cfg *t,
			const struct gw_tstat *ts)
{
	const struct gw_tlist *tl = ts ? ts->tl : NULL;

	if (!tl)
		return;
	if (r->json) {
		const char *how = "none";

		if (*tl->host)
			how = tl->resolved_ms ? sip_locate_how_name(tl->how)
					      : "";

		evbuffer_add_printf(r->out, ",\"dns\":{\"how\":\"%s\","
				    "\"error\":", how);
		gw_json_str(r->out,
			    tl->last_err ? sip_dns_strerror(tl->last_err) : "");
		evbuffer_add_printf(r->out, ",\"ttl\":%u,\"lookups\":%llu,"
				    "\"lookup_fails\":%llu},\"targets\":[",
				    (unsigned)tl->ttl,
				    (unsigned long long)tl->lookups,
				    (unsigned long long)tl->lookup_fails);
		for (unsigned i = 0; i < tl->n; i++) {
			const struct gw_target *tg = tl->t[i];

			evbuffer_add_printf(r->out, "%s{\"target\":",
					    i ? "," : "");
			gw_json_str(r->out, tg->label);
			evbuffer_add_printf(r->out, ",\"priority\":%u,"
					    "\"weight\":%u,\"health\":\"%s\","
					    "\"why\":", tg->at.priority,
					    tg->at.weight,
					    gw_health_word(tg->health));
			gw_json_str(r->out, tg->why);
			evbuffer_add_printf(r->out, ",\"probe_code\":%d,"
					    "\"probes\":%llu,\"answers\":%llu,"
					    "\"tries\":%llu,\"fails\":%llu}",
					    tg->probe_code,
					    (unsigned long long)tg->probes,
					    (unsigned long long)tg->answers,
					    (unsigned long long)tg->tries,
					    (unsigned long long)tg->fails);
		}
		evbuffer_add(r->out, "]", 1);
		return;
	}
	if (!*t->host)
		return;
	if (tl->last_err || !tl->n)
		evbuffer_add_printf(r->out, "  dns %s (%s): %s\n", t->host,
				    tl->resolved_ms
					    ? sip_locate_how_name(tl->how)
					    : "never located",
				    tl->last_err
					    ? sip_dns_strerror(tl->last_err)
					    : "not resolved yet");
	for (unsigned i = 0; i < tl->n; i++) {
		const struct gw_target *tg = tl->t[i];

		evbuffer_add_printf(r->out, "  -> %-40s prio %-5u weight "
				    "%-5u %-7s %4d tries %llu fails %llu%s%s\n",
				    tg->label, tg->at.priority, tg->at.weight,
				    gw_health_word(tg->health), tg->probe_code,
				    (unsigned long long)tg->tries,
				    (unsigned long long)tg->fails,
				    *tg->why ? " " : "", tg->why);
	}
}

static int cmd_trunks(struct gw *gw, struct reply *r, int argc, char **argv)
{
	if (r->json)
		evbuffer_add(r->out, "[", 1);
	else
		evbuffer_add_printf(r->out, "%-12s %-4s %-24s %6s %-9s %8s "
				    "%8s %-7s %6s %4s\n", "TRUNK", "TYPE",
				    "WHERE", "CALLS", "STATE", "ATTEMPTS",
				    "ANSWERED", "HEALTH", "RTT", "CODE");
	for (unsigned i = 0; i < gw->cfg.ntrunks; i++) {
		const struct gw_trunk_cfg *t = &gw->cfg.trunks[i];
		struct gw_tstat *ts = gw_tstat(gw, t->name);
		const char *state = state_word(gw_trunk_state(t->name, gw));
		char where[160] = "";

		if (t->kind == GW_TRUNK_SIP) {
			snprintf(where, sizeof(where), "%s", t->peer_str);
		} else {
			size_t n = 0;

			n += (size_t)snprintf(where, sizeof(where), "spans ");
			for (unsigned s = 0; s < t->nspans && n < sizeof(where);
			     s++)
				n += (size_t)snprintf(where + n,
						      sizeof(where) - n, "%s%d",
						      s ? "," : "",
						      t->spans[s]);
		}
		if (r->json) {
			json_sep(r);
			evbuffer_add_printf(r->out, "{\"name\":");
			gw_json_str(r->out, t->name);
			evbuffer_add_printf(r->out, ",\"type\":\"%s\","
					    "\"where\":",
					    t->kind == GW_TRUNK_SIP ? "sip"
								    : "tdm");
			gw_json_str(r->out, where);
			evbuffer_add_printf(r->out, ",\"calls\":%u,"
					    "\"state\":\"%s\",\"attempts\":%llu,"
					    "\"answered\":%llu",
					    trunk_active(gw, t->name), state,
					    (unsigned long long)(ts ? ts->attempts
								   : 0),
					    (unsigned long long)(ts ? ts->answered
								   : 0));
			if (t->kind == GW_TRUNK_SIP) {
				health_json(r, ts);
				targets_out(r, t, ts);
			}
			evbuffer_add(r->out, "}", 1);
		} else {
			evbuffer_add_printf(r->out,
					    "%-12s %-4s %-24s %6u %-9s %8llu "
					    "%8llu",
					    t->name,
					    t->kind == GW_TRUNK_SIP ? "sip"
								    : "tdm",
					    where, trunk_active(gw, t->name),
					    state,
					    (unsigned long long)(ts ? ts->attempts
								   : 0),
					    (unsigned long long)(ts ? ts->answered
								   : 0));
			health_text(r, t, ts);
			if (t->kind == GW_TRUNK_SIP)
				targets_out(r, t, ts);
		}
	}
	if (r->json)
		evbuffer_add(r->out, "]\n", 2);
	return 0;
}

struct count_arg {
	const char *name;
	unsigned n;
};

static void count_call(const struct gw_call_info *ci, void *arg)
{
	struct count_arg *ca = arg;

	if (strcmp(ci->state, "ended") && (!strcmp(ci->in_trunk, ca->name) ||
					   !strcmp(ci->out_trunk, ca->name)))
		ca->n++;
}

static unsigned trunk_active(struct gw *gw, const char *name)
{
	struct count_arg ca = {name, 0};

	gw_call_foreach(gw, count_call, &ca);
	return ca.n;
}

static void print_call(const struct gw_call_info *ci, void *arg)
{
	struct reply *r = arg;
	int64_t now = tg_time_ms();
	char dur[32];

	fmt_duration(dur, sizeof(dur), now - ci->start_ms);
	if (!r->json) {
		char where[32] = "-";

		if (ci->span)
			snprintf(where, sizeof(where), "%d/%d", ci->span,
				 ci->chan);
		evbuffer_add_printf(r->out,
				    "%-8.8s %-8s %-8s %-16s %-16s %-6s %-4s "
				    "%-8s %s>%s\n",
				    ci->id, ci->direction, ci->state,
				    ci->calling, ci->called, where,
				    *ci->codec ? ci->codec : "-", dur,
				    ci->in_trunk,
				    *ci->out_trunk ? ci->out_trunk : "-");
		return;
	}
	json_sep(r);
	evbuffer_add_printf(r->out, "{\"id\":\"%s\",\"direction\":\"%s\","
			    "\"state\":\"%s\",\"calling\":",
			    ci->id, ci->direction, ci->state);
	gw_json_str(r->out, ci->calling);
	evbuffer_add_printf(r->out, ",\"called\":");
	gw_json_str(r->out, ci->called);
	evbuffer_add_printf(r->out, ",\"in_trunk\":");
	gw_json_str(r->out, ci->in_trunk);
	evbuffer_add_printf(r->out, ",\"out_trunk\":");
	gw_json_str(r->out, ci->out_trunk);
	evbuffer_add_printf(r->out, ",\"span\":%d,\"chan\":%d,\"codec\":\"%s\","
			    "\"duration_ms\":%lld,\"answered\":%s,"
			    "\"sip_call_id\":",
			    ci->span, ci->chan, ci->codec,
			    (long long)(now - ci->start_ms),
			    ci->answer_ms ? "true" : "false");
	gw_json_str(r->out, ci->call_id);
	evbuffer_add(r->out, "}", 1);
}

static int cmd_calls(struct gw *gw, struct reply *r, int argc, char **argv)
{
	if (r->json)
		evbuffer_add(r->out, "[", 1);
	else
		evbuffer_add_printf(r->out,
				    "%-8s %-8s %-8s %-16s %-16s %-6s %-4s %-8s "
				    "%s\n",
				    "ID", "DIR", "STATE", "CALLING", "CALLED",
				    "CHAN", "CODEC", "TIME", "TRUNKS");
	gw_call_foreach(gw, print_call, r);
	if (r->json)
		evbuffer_add(r->out, "]\n", 2);
	else
		evbuffer_add_printf(r->out, "%u call(s)\n", gw->ncalls);
	return 0;
}

/* A MOS x100 as "4.32", "-" unknown. */
static const char *mos_str(char *buf, size_t size, int mos_x100)
{
	if (mos_x100 <= 0)
		return "-";
	snprintf(buf, size, "%d.%02d", mos_x100 / 100, mos_x100 % 100);
	return buf;
}

/* The CDR's media figures as JSON members (null when unknown). */
static void json_media(struct evbuffer *out, const struct cdr_media *m)
{
	char rx[16], tx[16];

	if (!m->set) {
		evbuffer_add_printf(out, ",\"media\":null");
		return;
	}
	evbuffer_add_printf(out, ",\"media\":{\"rtp_tx_packets\":%lld,"
			    "\"rtp_rx_packets\":%lld,\"rtp_rx_lost\":%lld,"
			    "\"rtp_late\":%lld",
			    (long long)m->tx_packets, (long long)m->rx_packets,
			    (long long)m->rx_lost, (long long)m->late);
	if (m->jitter_us >= 0)
		evbuffer_add_printf(out, ",\"rtp_jitter_ms\":%.3f",
				    (double)m->jitter_us / 1000.0);
	if (m->rtt_us >= 0)
		evbuffer_add_printf(out, ",\"rtt_ms\":%.3f",
				    (double)m->rtt_us / 1000.0);
	if (m->remote_lost >= 0)
		evbuffer_add_printf(out, ",\"remote_lost\":%lld",
				    (long long)m->remote_lost);
	evbuffer_add_printf(out, ",\"mos_rx\":%s,\"mos_tx\":%s}",
			    m->mos_rx > 0 ? mos_str(rx, sizeof(rx), m->mos_rx)
					  : "null",
			    m->mos_tx > 0 ? mos_str(tx, sizeof(tx), m->mos_tx)
					  : "null");
}

static void print_cdr(const struct cdr_record *c, void *arg)
{
	struct reply *r = arg;
	char start[32], rx[16], tx[16];

	tg_time_fmt(start, sizeof(start), c->start_ms);
	if (!r->json) {
		evbuffer_add_printf(
			r->out,
			"%-24s %-8s %-14s %-14s %-10s %5d %4d %6.1f %6s %6s\n",
			start, cdr_direction_name(c->direction), c->calling,
			c->called, cdr_disposition_name(c->disposition),
			c->q850_cause, c->sip_status,
			(double)(c->end_ms - c->start_ms) / 1000.0,
			mos_str(rx, sizeof(rx), c->media.mos_rx),
			mos_str(tx, sizeof(tx), c->media.mos_tx));
		return;
	}
	json_sep(r);
	evbuffer_add_printf(r->out, "{\"id\":\"%s\",\"start\":\"%s\","
			    "\"direction\":\"%s\",\"calling\":",
			    c->id, start, cdr_direction_name(c->direction));
	gw_json_str(r->out, c->calling);
	evbuffer_add_printf(r->out, ",\"called\":");
	gw_json_str(r->out, c->called);
	evbuffer_add_printf(r->out, ",\"in_trunk\":");
	gw_json_str(r->out, c->in_trunk);
	evbuffer_add_printf(r->out, ",\"out_trunk\":");
	gw_json_str(r->out, c->out_trunk);
	evbuffer_add_printf(r->out,
			    ",\"span\":%d,\"chan\":%d,\"disposition\":\"%s\","
			    "\"q850_cause\":%d,\"sip_status\":%d,"
			    "\"duration_ms\":%lld,\"answered\":%s,"
			    "\"codec\":\"%s\",\"sip_call_id\":",
			    c->span, c->chan,
			    cdr_disposition_name(c->disposition),
			    c->q850_cause, c->sip_status,
			    (long long)(c->end_ms - c->start_ms),
			    c->answer_ms ? "true" : "false", c->codec);
	gw_json_str(r->out, c->sip_call_id);
	json_media(r->out, &c->media);
	if (!*c->fax)
		evbuffer_add_printf(r->out, ",\"fax\":null");
	else if (c->fax_pages < 0)
		evbuffer_add_printf(r->out, ",\"fax\":{\"kind\":\"%s\"}",
				    c->fax);
	else
		evbuffer_add_printf(r->out,
				    ",\"fax\":{\"kind\":\"%s\",\"pages\":%d,"
				    "\"bit_rate\":%d}",
				    c->fax, c->fax_pages, c->fax_bit_rate);
	evbuffer_add(r->out, "}", 1);
}

static int cmd_cdr(struct gw *gw, struct reply *r, int argc, char **argv)
{
	long n = 10;
	int err;

	if (argc < 1 || strcmp(argv[0], "tail")) {
		evbuffer_add_printf(r->out, "usage: cdr tail [N]\n");
		return EINVAL;
	}
	if (argc > 1) {
		char *end;

		n = strtol(argv[1], &end, 10);
		if (*end || n < 1 || n > 10000) {
			evbuffer_add_printf(r->out, "N must be 1 to 10000\n");
			return EINVAL;
		}
	}
	if (r->json)
		evbuffer_add(r->out, "[", 1);
	else
		evbuffer_add_printf(r->out,
				    "%-24s %-8s %-14s %-14s %-10s %5s %4s %6s "
				    "%6s %6s\n",
				    "START", "DIR", "CALLING", "CALLED",
				    "RESULT", "CAUSE", "SIP", "SECS", "MOS-RX",
				    "MOS-TX");
	err = cdr_db_tail(gw->cfg.db_path, (unsigned)n, print_cdr, r);
	if (r->json)
		evbuffer_add(r->out, "]\n", 2);
	if (err) {
		evbuffer_drain(r->out, evbuffer_get_length(r->out));
		evbuffer_add_printf(r->out, "cannot read CDRs: %s\n",
				    strerror(err));
	}
	return err;
}

/* A reply that waits for a reload: the connection outlives the command. */
struct pending {
	struct bufferevent *bev; /* NULL once the client went away */
	bool json;
};

static void on_pending_event(struct bufferevent *bev, short what, void *arg)
{
	struct pending *p = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		bufferevent_free(bev);
		p->bev = NULL;
	}
}

static void on_written(struct bufferevent *bev, void *arg);
static void on_conn_event(struct bufferevent *bev, short what, void *arg);

static void reload_done(int rc, const char *msg, void *arg)
{
	struct pending *p = arg;
	struct evbuffer *out;

	if (!p->bev) {
		free(p);
		return;
	}
	/* Deferred (an emergency call started meanwhile) is accepted. */
	if (rc == EINPROGRESS)
		rc = 0;
	out = bufferevent_get_output(p->bev);
	evbuffer_add_printf(out, "%s\n", rc ? "ERR" : "OK");
	if (p->json && !rc) {
		evbuffer_add_printf(out, "{\"result\":");
		gw_json_str(out, msg);
		evbuffer_add_printf(out, "}\n");
	} else {
		evbuffer_add_printf(out, "%s\n", msg);
	}
	bufferevent_disable(p->bev, EV_READ);
	bufferevent_setcb(p->bev, NULL, on_written, on_conn_event, NULL);
	free(p);
}

/* A snapshot of a million rates takes seconds to build. */
static const struct timeval reload_timeout = {300, 0};

static int cmd_reload(struct gw *gw, struct reply *r, int argc, char **argv)
{
	struct pending *p = calloc(1, sizeof(*p));
	char msg[512];
	int err;

	(void)argc;
	(void)argv;
	if (!p) {
		evbuffer_add_printf(r->out, "out of memory\n");
		return ENOMEM;
	}
	p->bev = r->bev;
	p->json = r->json;
	err = gw_reload_start(gw, reload_done, p, msg, sizeof(msg));
	if (err == EINPROGRESS) {
		/* Accepted, for later: not an error for the caller. */
		free(p);
		evbuffer_add_printf(r->out, "%s\n", msg);
		return 0;
	}
	if (err) {
		free(p);
		evbuffer_add_printf(r->out, "%s\n", msg);
		return err;
	}
	/* Reading stays on while the snapshot builds: it notices a client
	 * that went away (EOF) and bounds the wait (the read timeout). */
	bufferevent_setwatermark(r->bev, EV_READ, 0, MAX_REQUEST);
	bufferevent_set_timeouts(r->bev, &reload_timeout, &reload_timeout);
	bufferevent_setcb(r->bev, NULL, NULL, on_pending_event, p);
	r->deferred = true;
	return 0;
}

static struct tdm_span *span_arg(struct gw *gw, struct reply *r,
				  const char *s)
{
	char *end;
	long id = strtol(s, &end, 10);
	struct tdm_span *span = end != s && !*end && id > 0 && id < 1000
		? gw_span(gw, (int)id) : NULL;

	if (!span)
		evbuffer_add_printf(r->out, "no span '%s'\n", s);
	return span;
}

/* debug span N q931 on|off: its decoded Q.931 in the log. */
static int cmd_debug_span(struct gw *gw, struct reply *r, int argc,
			  char **argv)
{
	struct tdm_span *span;

	if (argc != 3 || strcmp(argv[1], "q931") ||
	    (strcmp(argv[2], "on") && strcmp(argv[2], "off"))) {
		evbuffer_add_printf(r->out, "usage: debug span N q931 on|off\n");
		return EINVAL;
	}
	span = span_arg(gw, r, argv[0]);
	if (!span)
		return ENOENT;
	tdm_span_debug(span, !strcmp(argv[2], "on"));
	evbuffer_add_printf(r->out, "span %d: Q.931 trace %s\n",
			    tdm_span_id(span), argv[2]);
	return 0;
}

/* trace span N FILE.pcap|off: the D-channel as pcap, from now on. */
static int cmd_trace_span(struct gw *gw, struct reply *r, int argc,
			  char **argv)
{
	struct tdm_span *span;
	bool off;
	int err;

	if (argc != 2) {
		evbuffer_add_printf(r->out, "usage: trace span N FILE.pcap|off\n");
		return EINVAL;
	}
	span = span_arg(gw, r, argv[0]);
	if (!span)
		return ENOENT;
	off = !strcmp(argv[1], "off");
	/* The daemon writes it: a path that says where, not relative to
	 * wherever tollgated happens to run. */
	if (!off && argv[1][0] != '/') {
		evbuffer_add_printf(r->out, "the capture file must be an "
				    "absolute path\n");
		return EINVAL;
	}
	err = tdm_span_trace(span, off ? NULL : argv[1], true);
	if (err) {
		evbuffer_add_printf(r->out, "%s: %s\n", argv[1], strerror(err));
		return err;
	}
	evbuffer_add_printf(r->out, off ? "span %d: capture off\n"
				       : "span %d: capturing to %s\n",
			    tdm_span_id(span), argv[1]);
	return 0;
}

static int cmd_maint_span(struct gw *gw, struct reply *r, int argc,
			  char **argv)
{
	return gw_maint_cmd(gw, r->out, r->json, "span", argc, argv);
}

static int cmd_maint_chan(struct gw *gw, struct reply *r, int argc,
			  char **argv)
{
	return gw_maint_cmd(gw, r->out, r->json, "channel", argc, argv);
}

static int cmd_maint_trunk(struct gw *gw, struct reply *r, int argc,
			   char **argv)
{
	return gw_maint_cmd(gw, r->out, r->json, "trunk", argc, argv);
}

static int cmd_registrations(struct gw *gw, struct reply *r, int argc,
			     char **argv)
{
	(void)argc;
	(void)argv;
	gw_reg_show(gw, r->out, r->json);
	return 0;
}

static int cmd_trunk_register(struct gw *gw, struct reply *r, int argc,
			      char **argv)
{
	if (argc != 1) {
		evbuffer_add_printf(r->out, "usage: trunk register NAME\n");
		return EINVAL;
	}
	if (gw_reg_retry(gw, argv[0])) {
		evbuffer_add_printf(r->out, "trunk %s does not register\n",
				    argv[0]);
		return ENOENT;
	}
	if (!r->json) {
		evbuffer_add_printf(r->out, "trunk %s: registering\n",
				    argv[0]);
		return 0;
	}
	evbuffer_add_printf(r->out, "{\"trunk\":");
	gw_json_str(r->out, argv[0]);
	evbuffer_add_printf(r->out, ",\"registering\":true}\n");
	return 0;
}

static int cmd_db(struct gw *gw, struct reply *r, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (r->json) {
		evbuffer_add_printf(r->out, "{\"path\":");
		gw_json_str(r->out, gw->cfg.db_path);
		evbuffer_add_printf(r->out, "}\n");
	} else {
		evbuffer_add_printf(r->out, "%s\n", gw->cfg.db_path);
	}
	return 0;
}

/* "1767225600", "2026-11-22T14:05:00Z", "2026-11-22 14:05" (UTC). */
static int parse_when(const char *s, int64_t *t)
{
	struct tm tm;
	char *end;
	long long v;
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;

	v = strtoll(s, &end, 10);
	if (*s && !*end && v >= 0) {
		*t = v;
		return 0;
	}
	if (sscanf(s, "%d-%d-%d%n", &y, &mo, &d, &n) != 3)
		return EINVAL;
	s += n;
	if (*s == 'T' || *s == ' ') {
		n = 0;
		if (sscanf(s + 1, "%d:%d%n", &h, &mi, &n) != 2)
			return EINVAL;
		s += 1 + n;
		if (*s == ':') {
			n = 0;
			if (sscanf(s + 1, "%d%n", &sec, &n) != 1)
				return EINVAL;
			s += 1 + n;
		}
	}
	if (*s == 'Z')
		s++;
	if (*s || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60)
		return EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*t = (int64_t)timegm(&tm);
	return 0;
}

static const char *source_word(enum dp_source src)
{
	switch (src) {
	case DP_SRC_ROUTE:
		return "route";
	case DP_SRC_LCR:
		return "lcr";
	case DP_SRC_DID:
		return "did";
	case DP_SRC_DID_FAILOVER:
		return "did-failover";
	case DP_SRC_ENUM:
		return "enum";
	case DP_SRC_CALLBACK:
		return "callback";
	}
	return "?";
}

static void money(char *buf, size_t size, int64_t micro)
{
	snprintf(buf, size, "%lld.%06lld", (long long)(micro / DP_RATE_MICRO),
		 (long long)(micro % DP_RATE_MICRO));
}

static int cmd_route(struct gw *gw, struct reply *r, int argc, char **argv)
{
	struct dp_lcr_asr asr[GW_MAX_TRUNKS + 1];
	struct dp_decision *d;
	struct dp_facts f;
	const char *from = NULL, *calling = "";
	char *trace;
	int64_t at = tg_time_ms() / 1000;
	int err;

	if (argc < 2 || strcmp(argv[0], "explain")) {
		evbuffer_add_printf(r->out, "usage: route explain NUMBER "
				    "[--from TRUNK] [--at TIME] "
				    "[--calling NUMBER]\n");
		return EINVAL;
	}
	for (int i = 2; i < argc; i++) {
		if (i + 1 < argc && !strcmp(argv[i], "--from")) {
			from = argv[++i];
		} else if (i + 1 < argc && !strcmp(argv[i], "--calling")) {
			calling = argv[++i];
		} else if (i + 1 < argc && !strcmp(argv[i], "--at")) {
			if (parse_when(argv[++i], &at)) {
				evbuffer_add_printf(r->out, "--at: '%s' is not "
						    "Unix seconds or "
						    "YYYY-MM-DD[THH:MM[:SS]]"
						    "[Z] (UTC)\n", argv[i]);
				return EINVAL;
			}
		} else {
			evbuffer_add_printf(r->out, "unknown option '%s'\n",
					    argv[i]);
			return EINVAL;
		}
	}
	if (!from) {
		/* The first SIP trunk: usually the PBX. */
		for (unsigned i = 0; i < gw->cfg.ntrunks && !from; i++)
			if (gw->cfg.trunks[i].kind == GW_TRUNK_SIP)
				from = gw->cfg.trunks[i].name;
	}
	if (!from || !gw_config_trunk(&gw->cfg, from)) {
		evbuffer_add_printf(r->out, "no trunk '%s'\n",
				    from ? from : "(none)");
		return EINVAL;
	}
	d = calloc(1, sizeof(*d));
	trace = malloc(16384);
	if (!d || !trace) {
		free(d);
		free(trace);
		evbuffer_add_printf(r->out, "out of memory\n");
		return ENOMEM;
	}
	gw_trunk_asr(gw, asr, TG_ARRAY_SIZE(asr));
	memset(&f, 0, sizeof(f));
	f.src_trunk = from;
	f.called = argv[1];
	f.calling = calling;
	f.now = at;
	f.asr = asr;
	f.state = gw_trunk_state;
	f.state_arg = gw;
	err = dp_decide(gw->snap, &f, d, trace, 16384);
	if (err) {
		evbuffer_add_printf(r->out, "cannot route '%s' from %s: %s\n",
				    argv[1], from, strerror(err));
		goto out;
	}
	if (r->json) {
		char *line, *save = NULL;
		bool first = true;

		evbuffer_add_printf(r->out, "{\"number\":");
		gw_json_str(r->out, argv[1]);
		evbuffer_add_printf(r->out, ",\"from\":");
		gw_json_str(r->out, from);
		evbuffer_add_printf(r->out, ",\"at\":%lld,\"cause\":%d,"
				    "\"reason\":", (long long)at, d->cause);
		gw_json_str(r->out, d->reason);
		evbuffer_add_printf(r->out, ",\"route\":");
		gw_json_str(r->out, d->route);
		evbuffer_add_printf(r->out, ",\"called\":");
		gw_json_str(r->out, d->called.digits);
		evbuffer_add_printf(r->out, ",\"emergency\":%d,\"attempts\":[",
				    (int)d->emergency);
		for (size_t i = 0; i < d->nattempts; i++) {
			const struct dp_attempt *a = &d->attempts[i];

			evbuffer_add_printf(r->out, "%s{\"trunk\":",
					    i ? "," : "");
			gw_json_str(r->out, a->trunk);
			evbuffer_add_printf(r->out, ",\"source\":\"%s\","
					    "\"called\":",
					    source_word(a->source));
			gw_json_str(r->out, a->called.digits);
			evbuffer_add_printf(r->out, ",\"calling\":");
			gw_json_str(r->out, a->calling.digits);
			evbuffer_add_printf(r->out, ",\"user\":");
			gw_json_str(r->out, a->user);
			evbuffer_add_printf(r->out, ",\"state\":\"%s\"",
					    state_word(a->state));
			if (a->source == DP_SRC_ENUM) {
				evbuffer_add_printf(r->out, ",\"enum_name\":");
				gw_json_str(r->out, d->enum_name);
			}
			if (a->has_rate) {
				evbuffer_add_printf(r->out, ",\"rate_prefix\":");
				gw_json_str(r->out, a->rate.prefix);
				evbuffer_add_printf(r->out, ",\"rate\":%lld",
						    (long long)a->rate.rate);
			}
			evbuffer_add(r->out, "}", 1);
		}
		evbuffer_add_printf(r->out, "],\"trace\":[");
		for (line = strtok_r(trace, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			if (!first)
				evbuffer_add(r->out, ",", 1);
			first = false;
			gw_json_str(r->out, line);
		}
		evbuffer_add_printf(r->out, "]}\n");
		goto out;
	}
	evbuffer_add_printf(r->out, "%s", trace);
	if (*trace && trace[strlen(trace) - 1] != '\n')
		evbuffer_add(r->out, "\n", 1);
	if (d->cause) {
		evbuffer_add_printf(r->out, "=> refused: cause %d (%s): %s\n",
				    d->cause, gw_cause_text(d->cause),
				    d->reason);
		goto out;
	}
	evbuffer_add_printf(r->out, "=> %zu attempt(s) by route '%s':\n",
			    d->nattempts, d->route);
	for (size_t i = 0; i < d->nattempts; i++) {
		const struct dp_attempt *a = &d->attempts[i];
		char rate[32] = "";

		if (a->has_rate) {
			money(rate, sizeof(rate), a->rate.rate);
		}
		evbuffer_add_printf(r->out, "  %zu. %-12s %-12s called %-16s "
				    "calling %-16s %s%s%s%s\n", i + 1,
				    a->trunk, source_word(a->source),
				    a->user, a->calling.digits,
				    state_word(a->state),
				    a->has_rate ? " rate " : "", rate,
				    a->has_rate ? "/min" : "");
	}
 out:
	free(d);
	free(trace);
	return err;
}

static const struct {
	const char *word1, *word2;
	int (*fn)(struct gw *, struct reply *, int, char **);
	const char *help;
} commands[] = {
	{"status", NULL, cmd_status, "status"},
	{"version", NULL, cmd_version, "version"},
	{"show", "spans", cmd_spans, "show spans"},
	{"show", "channels", cmd_channels, "show channels [SPAN]"},
	{"show", "trunks", cmd_trunks, "show trunks"},
	{"show", "auth", cmd_auth, "show auth"},
	{"show", "connections", cmd_connections, "show connections"},
	{"show", "registrations", cmd_registrations, "show registrations"},
	{"show", "groups", cmd_groups, "show groups"},
	{"show", "e911", cmd_e911, "show e911"},
	{"e911", "callbacks", cmd_e911, "e911 callbacks"},
	{"e911", "test", cmd_e911_test,
	 "e911 test CALLING [--from TRUNK] [--src IP]"},
	{"show", "calls", cmd_calls, "show calls"},
	{"cdr", NULL, cmd_cdr, "cdr tail [N]"},
	{"span", NULL, cmd_maint_span, "span drain|resume|restart N"},
	{"debug", "span", cmd_debug_span, "debug span N q931 on|off"},
	{"trace", "span", cmd_trace_span, "trace span N FILE.pcap|off"},
	{"channel", NULL, cmd_maint_chan, "channel block|unblock|reset N/C"},
	{"trunk", "register", cmd_trunk_register, "trunk register NAME"},
	{"trunk", NULL, cmd_maint_trunk, "trunk drain|resume NAME"},
	{"reload", NULL, cmd_reload, "reload"},
	{"db", NULL, cmd_db, "db"},
	{"route", NULL, cmd_route,
	 "route explain NUMBER [--from TRUNK] [--at TIME] [--calling N]"},
};

static int dispatch(struct gw *gw, struct reply *r, char *line)
{
	char *argv[16], *save = NULL, *tok;
	int argc = 0;

	for (tok = strtok_r(line, " \t\r\n", &save); tok && argc < 16;
	     tok = strtok_r(NULL, " \t\r\n", &save))
		argv[argc++] = tok;
	if (argc < 2 || (strcmp(argv[0], "json") && strcmp(argv[0], "text"))) {
		evbuffer_add_printf(r->out, "bad request\n");
		return EINVAL;
	}
	r->json = !strcmp(argv[0], "json");
	r->first = true;
	for (size_t i = 0; i < TG_ARRAY_SIZE(commands); i++) {
		int skip = commands[i].word2 ? 3 : 2;

		if (strcmp(argv[1], commands[i].word1))
			continue;
		if (commands[i].word2 &&
		    (argc < 3 || strcmp(argv[2], commands[i].word2)))
			continue;
		return commands[i].fn(gw, r, argc - skip, argv + skip);
	}
	evbuffer_add_printf(r->out, "unknown command; commands are:\n");
	for (size_t i = 0; i < TG_ARRAY_SIZE(commands); i++)
		evbuffer_add_printf(r->out, "  %s\n", commands[i].help);
	return EINVAL;
}

/* ---- connections --------------------------------------------------------- */

static void on_written(struct bufferevent *bev, void *arg)
{
	bufferevent_free(bev);
}

static const struct timeval ctl_timeout = {5, 0};

static void on_conn_event(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		bufferevent_free(bev);
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct gw_ctl *ctl = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct reply r = {0};
	char *line;
	size_t len;
	int err;

	line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
	if (!line) {
		if (evbuffer_get_length(in) > MAX_REQUEST)
			bufferevent_free(bev);
		return;
	}
	r.out = evbuffer_new();
	if (!r.out) {
		free(line);
		bufferevent_free(bev);
		return;
	}
	r.bev = bev;
	err = dispatch(ctl->gw, &r, line);
	free(line);
	if (r.deferred) {
		evbuffer_free(r.out);
		return;
	}
	bufferevent_write(bev, err ? "ERR\n" : "OK\n", err ? 4 : 3);
	bufferevent_write_buffer(bev, r.out);
	evbuffer_free(r.out);
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, on_written, on_conn_event, ctl);
}

static void on_accept(struct evconnlistener *lev, evutil_socket_t fd,
		      struct sockaddr *sa, int socklen, void *arg)
{
	struct gw_ctl *ctl = arg;
	struct bufferevent *bev;

	bev = bufferevent_socket_new(evconnlistener_get_base(lev), fd,
				     BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		close(fd);
		return;
	}
	/* A client that never sends its line (or never reads the answer)
	 * must not hold a descriptor for ever. */
	bufferevent_set_timeouts(bev, &ctl_timeout, &ctl_timeout);
	bufferevent_setcb(bev, on_read, NULL, on_conn_event, ctl);
	bufferevent_enable(bev, EV_READ);
}

int gw_ctl_open(struct gw_ctl **ctlp, struct gw *gw, const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	struct gw_ctl *ctl;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		gw_err("control socket path %s is too long", path);
		return ENAMETOOLONG;
	}
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return ENOMEM;
	ctl->gw = gw;
	tg_strlcpy(ctl->path, path, sizeof(ctl->path));
	tg_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
	/* A socket file left by a crashed daemon would block bind. */
	unlink(path);
	ctl->lev = evconnlistener_new_bind(
		gw->base, on_accept, ctl,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 16,
		(struct sockaddr *)&sun, sizeof(sun));
	if (!ctl->lev) {
		int err = errno;

		gw_err("control socket %s: %s", path, strerror(err));
		free(ctl);
		return err ? err : EIO;
	}
	chmod(path, 0660);
	*ctlp = ctl;
	return 0;
}

void gw_ctl_close(struct gw_ctl *ctl)
{
	if (!ctl)
		return;
	evconnlistener_free(ctl->lev);
	unlink(ctl->path);
	free(ctl);
}
