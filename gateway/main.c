/* gateway/main.c  tollgated: start-up, signals, reload, drain, shut-down */
#define LOG_MODULE "main"

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <pthread.h>
#include <unistd.h>

#include <event2/event.h>

#include "util/util.h"
#include "gw.h"

#define STOP_GRACE_S 3

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tollgated [-c FILE] [-t] [-V]\n"
		"  -c FILE  configuration file (default "
		"/etc/tollgate/tollgate.conf)\n"
		"  -t       check the configuration and exit\n"
		"  -V       print the version and exit\n");
}

struct tdm_span *gw_span(struct gw *gw, int id)
{
	for (unsigned i = 0; i < gw->nspans; i++)
		if (tdm_span_id(gw->spans[i]) == id)
			return gw->spans[i];
	return NULL;
}

/* Parent directory of a path we will create a file in. */
static int make_parent(const char *path)
{
	char buf[512], *dir;

	tg_strlcpy(buf, path, sizeof(buf));
	dir = dirname(buf);
	if (mkdir(dir, 0750) && errno != EEXIST) {
		gw_err("cannot create directory %s: %s", dir, strerror(errno));
		return errno;
	}
	return 0;
}

/* ---- the routing snapshot -------------------------------------------------- */

/* Trunks and the [routing] outbound default route come from the
 * config; everything else from the database. */
/*
 * The routing and E911 snapshots from the config and the database.  Bad
 * E911 data never stops routing (911 must go out, with or without a
 * location): then *e911 is NULL and @p e911_err says why.
 */
static int build_snapshot(const struct gw_config *cfg, struct dp_lcr *old_lcr,
			  int64_t old_version, struct dp_snapshot **out,
			  struct e911_snapshot **e911, int64_t *version,
			  char *err, size_t errsize, char *e911_err,
			  size_t e911_errsize)
{
	struct dp_trunk_row trunks[GW_MAX_TRUNKS];
	struct dp_snapshot_rows rows;
	struct cdr_routing db;
	struct dp_route_row *routes = NULL;
	int rc;

	memset(&db, 0, sizeof(db));
	rc = cdr_db_load_routing(cfg->db_path, &db, err, errsize);
	if (rc)
		return rc;
	memset(trunks, 0, sizeof(trunks));
	for (unsigned i = 0; i < cfg->ntrunks; i++) {
		const struct gw_trunk_cfg *t = &cfg->trunks[i];

		tg_strlcpy(trunks[i].name, t->name, sizeof(trunks[i].name));
		trunks[i].kind = t->kind == GW_TRUNK_SIP ? DP_TRUNK_SIP
							 : DP_TRUNK_TDM;
		trunks[i].plan = t->plan;
		trunks[i].called_fmt = t->called_fmt;
		trunks[i].calling_fmt = t->calling_fmt;
		tg_strlcpy(trunks[i].allow, t->allow, sizeof(trunks[i].allow));
	}
	routes = calloc(db.nroutes + 1, sizeof(*routes));
	if (!routes) {
		cdr_routing_free(&db);
		snprintf(err, errsize, "out of memory");
		return ENOMEM;
	}
	if (db.nroutes)
		memcpy(routes, db.routes, db.nroutes * sizeof(*routes));
	if (*cfg->outbound) {
		/* Calls from SIP trunks that no database route takes. */
		struct dp_route_row *r = &routes[db.nroutes];
		size_t n = 0;

		tg_strlcpy(r->name, GW_DEFAULT_ROUTE, sizeof(r->name));
		r->priority = UINT32_MAX;
		tg_strlcpy(r->kind, "any", sizeof(r->kind));
		for (unsigned i = 0; i < cfg->ntrunks; i++) {
			const char *name = cfg->trunks[i].name;

			if (cfg->trunks[i].kind != GW_TRUNK_SIP)
				continue;
			if (n + strlen(name) + 2 > sizeof(r->src_trunks)) {
				snprintf(err, errsize, "[routing] outbound: "
					 "too many SIP trunks for one route; "
					 "add routes with tollgatectl instead");
				free(routes);
				cdr_routing_free(&db);
				return EINVAL;
			}
			n += (size_t)sprintf(r->src_trunks + n, "%s%s",
					     n ? "," : "", name);
		}
		tg_strlcpy(r->trunks, cfg->outbound, sizeof(r->trunks));
	}
	memset(&rows, 0, sizeof(rows));
	rows.trunks = trunks;
	rows.ntrunks = cfg->ntrunks;
	rows.ingress = db.ingress;
	rows.ningress = db.ningress;
	rows.egress = db.egress;
	rows.negress = db.negress;
	rows.ingress_calling = db.ingress_calling;
	rows.ningress_calling = db.ningress_calling;
	rows.egress_calling = db.egress_calling;
	rows.negress_calling = db.negress_calling;
	rows.ingress_diversion = db.ingress_diversion;
	rows.ningress_diversion = db.ningress_diversion;
	rows.egress_diversion = db.egress_diversion;
	rows.negress_diversion = db.negress_diversion;
	rows.routes = routes;
	rows.nroutes = db.nroutes + (*cfg->outbound ? 1 : 0);
	rows.dids = db.dids;
	rows.ndids = db.ndids;
	rows.rates = db.rates;
	rows.nrates = db.nrates;
	/* Rates unchanged: share the LCR snapshot, skip the long build. */
	if (old_lcr && old_version == db.rates_version)
		rows.lcr = old_lcr;
	rows.blocks = db.blocks;
	rows.nblocks = db.nblocks;
	rows.emergency = cfg->dial9 ? &dp_emergency_default_dial9 : NULL;
	rows.tz_resolve = dp_tz_zoneinfo;
	rows.t_trying_ms = cfg->t_trying_ms;
	rows.t_progress_ms = cfg->t_progress_ms;
	rc = dp_snapshot_build(out, &rows, err, errsize);
	*e911 = NULL;
	e911_err[0] = '\0';
	if (!rc && e911_snapshot_build(e911, db.zones, db.nzones, db.members,
				       db.nmembers, e911_err, e911_errsize))
		*e911 = obj_deref(*e911);
	/* A zone's callback destination should be a trunk we have; without
	 * it, callbacks after the window are routed as DIDs. */
	for (size_t i = 0; !rc && i < db.nzones; i++)
		if (*db.zones[i].callback_trunk &&
		    !gw_config_trunk(cfg, db.zones[i].callback_trunk))
			gw_warn("e911 zone '%s': callback_trunk '%s' is not a "
				"trunk; callbacks after the window are routed "
				"as DIDs", db.zones[i].name,
				db.zones[i].callback_trunk);
	if (rc) {
		*out = obj_deref(*out);
		*e911 = obj_deref(*e911);
	}
	*version = db.rates_version;
	free(routes);
	cdr_routing_free(&db);
	return rc;
}

static int seed_dids(const struct gw_config *cfg)
{
	struct cdr_did_range r[GW_MAX_DIDS];

	if (!cfg->ndids)
		return 0;
	memset(r, 0, sizeof(r));
	for (unsigned i = 0; i < cfg->ndids; i++) {
		tg_strlcpy(r[i].first, cfg->dids[i].first, sizeof(r[i].first));
		tg_strlcpy(r[i].last, cfg->dids[i].last, sizeof(r[i].last));
		tg_strlcpy(r[i].trunk, cfg->dids[i].trunk, sizeof(r[i].trunk));
	}
	return cdr_db_seed_dids(cfg->db_path, r, cfg->ndids);
}

/* A reload reads the database and builds the snapshot on its own thread:
 * a million-row rate deck takes seconds, and calls must not wait. */
struct reload_job {
	struct gw *gw;
	struct gw_config *cfg;
	struct dp_lcr *old_lcr;
	int64_t old_version;
	struct dp_snapshot *snap;
	struct e911_snapshot *e911;
	struct ssl_ctx_st *notify_tls;
	int64_t version;
	int rc;
	char err[512];
	char e911_err[256];
	bool joined;             /* the builder thread is done and joined */
	struct event *ev_hold;   /* built during an emergency call: waits */
	gw_reload_h *done;
	void *arg;
	pthread_t th;
	int pipe[2];
	struct event *ev;
};

static void *reload_thread(void *arg)
{
	struct reload_job *j = arg;
	char c = 1;

	j->rc = build_snapshot(j->cfg, j->old_lcr, j->old_version, &j->snap,
			       &j->e911, &j->version, j->err, sizeof(j->err),
			       j->e911_err, sizeof(j->e911_err));
	/* The loop thread learns it is done, and frees the job. */
	if (write(j->pipe[1], &c, 1) != 1)
		gw_err("reload: cannot wake the main loop");
	return NULL;
}

static int dns_open(struct gw *gw, const struct gw_config *cfg,
		    struct sip_dns **out)
{
	char err[320];
	int rc;

	rc = sip_dns_new(out, gw->base, cfg->dns_servers, cfg->dns_timeout_ms,
			 cfg->dns_tries, err, sizeof(err));
	if (rc)
		gw_err("[dns]: %s", err);
	return rc;
}

/* What a live span takes on reload without opening it again. */
static void span_tuning(struct tdm_span_config *tc,
			const struct gw_span_cfg *s)
{
	tc->audit_s = s->audit;
	tc->preferred = s->preferred;
	memcpy(tc->timers, s->timers, sizeof(tc->timers));
}

static int span_open(struct gw *gw, const struct gw_span_cfg *s,
		     struct tdm_span **out)
{
	struct tdm_span_config tc = {
		.id = s->id,
		.type = s->type,
		.switchtype = s->switchtype,
		.network = s->network,
		.backend = s->backend,
		.dir = s->dir,
		.dahdi_span = s->dahdi_span,
		.pcap = *s->pcap ? s->pcap : NULL,
		.restart_on_up = s->restart_on_up,
		.overlap = s->overlap,
		.overlap_send = s->overlap_send,
		.service = s->service,
	};
	int rc;

	span_tuning(&tc, s);
	rc = tdm_span_alloc(out, gw->base, &tc, gw_call_on_tdm, gw);

	if (rc)
		gw_err("span %d: %s", s->id, strerror(rc));
	return rc;
}

/* What a span is made of: a change means opening it anew. */
static bool span_differs(const struct gw_span_cfg *a,
			 const struct gw_span_cfg *b)
{
	return a->type != b->type || a->switchtype != b->switchtype ||
	       a->network != b->network || strcmp(a->dir, b->dir) ||
	       strcmp(a->backend, b->backend) ||
	       a->dahdi_span != b->dahdi_span ||
	       a->service != b->service || a->overlap != b->overlap ||
	       a->overlap_send != b->overlap_send ||
	       a->restart_on_up != b->restart_on_up;
}

/*
 * Spans on reload, each alone: one that is gone is closed (its calls
 * cleared, cause 41), a new one opened, one whose line settings changed
 * closed and opened again; the calls of every other span go on.  (No
 * emergency call is up: reloads wait for them.)
 */
static void reload_spans(struct gw *gw, const struct gw_config *cfg)
{
	struct tdm_span *spans[GW_MAX_SPANS] = {NULL};
	unsigned n = 0;

	for (unsigned i = 0; i < gw->nspans; i++) {
		int id = tdm_span_id(gw->spans[i]);
		const struct gw_span_cfg *o = gw_config_span(&gw->cfg, id);
		const struct gw_span_cfg *s = gw_config_span(cfg, id);

		if (s && o && !span_differs(o, s)) {
			struct tdm_span_config tc = {.id = id};

			if (strcmp(o->pcap, s->pcap))
				tdm_span_trace(gw->spans[i],
					       *s->pcap ? s->pcap : NULL, false);
			span_tuning(&tc, s);
			tdm_span_retune(gw->spans[i], &tc);
			continue;
		}
		gw_notice("reload: span %d %s", id,
			  s ? "changed: opened again with its new settings"
			    : "removed");
		gw_call_clear_span(gw, id, 41);
		tdm_span_free(gw->spans[i]);
		gw->spans[i] = NULL;
	}
	for (unsigned i = 0; i < cfg->nspans; i++) {
		const struct gw_span_cfg *s = &cfg->spans[i];
		struct tdm_span *old = NULL;

		/* The span kept from before, if any (freed ones are NULL). */
		for (unsigned k = 0; k < gw->nspans && !old; k++)
			if (gw->spans[k] && tdm_span_id(gw->spans[k]) == s->id) {
				old = gw->spans[k];
				gw->spans[k] = NULL;
			}
		if (old) {
			spans[n++] = old;
			continue;
		}
		if (!gw_config_span(&gw->cfg, s->id))
			gw_notice("reload: span %d added", s->id);
		if (!span_open(gw, s, &spans[n]))
			n++;
	}
	memcpy(gw->spans, spans, sizeof(spans));
	gw->nspans = n;
	memcpy(gw->cfg.spans, cfg->spans, sizeof(cfg->spans));
	gw->cfg.nspans = cfg->nspans;
}

/* The [sip] keys of TCP and TLS: read at start only. */
static bool sip_stream_changed(const struct gw_config *a,
			       const struct gw_config *b)
{
	return a->sip_tcp != b->sip_tcp || a->sip_tls != b->sip_tls ||
	       a->tls_port != b->tls_port || a->tls_verify != b->tls_verify ||
	       a->tls_verify_client != b->tls_verify_client ||
	       a->tcp_idle_timeout != b->tcp_idle_timeout ||
	       a->tcp_max_connections != b->tcp_max_connections ||
	       strcmp(a->tls_cert, b->tls_cert) ||
	       strcmp(a->tls_key, b->tls_key) ||
	       strcmp(a->tls_ca, b->tls_ca) ||
	       strcmp(a->tls_client_cert, b->tls_client_cert) ||
	       strcmp(a->tls_client_key, b->tls_client_key) ||
	       strcmp(a->tls_ciphers, b->tls_ciphers);
}

/* [sip] external_address, external_media_address, local_nets. */
static const struct sip_nat_cfg *nat_cfg(const struct gw_config *cfg,
					 struct sip_nat_cfg *nc)
{
	nc->external_addr = cfg->external_addr;
	nc->external_media_addr = cfg->external_media_addr;
	nc->local_nets = cfg->local_nets;
	nc->nlocal = cfg->nlocal_nets;
	return nc;
}

static void reload_apply(struct gw *gw, struct gw_config *cfg,
			 struct dp_snapshot *snap, struct e911_snapshot *e911,
			 int64_t version)
{
	if (strcmp(cfg->sip_bind, gw->cfg.sip_bind) ||
	    strcmp(cfg->sip_bind6, gw->cfg.sip_bind6) ||
	    strcmp(cfg->media_addr6, gw->cfg.media_addr6) ||
	    cfg->sip_port != gw->cfg.sip_port ||
	    sip_stream_changed(cfg, &gw->cfg) ||
	    strcmp(cfg->db_path, gw->cfg.db_path) ||
	    strcmp(cfg->control, gw->cfg.control))
		gw_warn("reload: changes to [sip] bind/bind6/port/"
			"media_addr6, tcp/tls and their keys, the database or "
			"the control socket need a restart");
	reload_spans(gw, cfg);
	/* The reloadable parts; live calls keep the snapshot they hold. */
	gw->cfg.log_level = cfg->log_level;
	gw->cfg.debug = cfg->debug;
	gw->cfg.ring_timeout = cfg->ring_timeout;
	gw->cfg.rtp_timeout = cfg->rtp_timeout;
	gw->cfg.jb = cfg->jb; /* calls bridged from now on */
	gw->cfg.session_expires = cfg->session_expires;
	gw->cfg.min_se = cfg->min_se;
	gw->cfg.drain_timeout = cfg->drain_timeout;
	memcpy(gw->cfg.trunks, cfg->trunks, sizeof(cfg->trunks));
	gw->cfg.ntrunks = cfg->ntrunks;
	memcpy(gw->cfg.outbound, cfg->outbound, sizeof(cfg->outbound));
	gw->cfg.t_trying_ms = cfg->t_trying_ms;
	gw->cfg.t_progress_ms = cfg->t_progress_ms;
	gw->cfg.dial9 = cfg->dial9;
	if (strcmp(cfg->dns_servers, gw->cfg.dns_servers) ||
	    cfg->dns_timeout_ms != gw->cfg.dns_timeout_ms ||
	    cfg->dns_tries != gw->cfg.dns_tries) {
		struct sip_dns *dns;

		/* Lookups under way end with ECANCELED: their calls go on
		 * to their next attempt.  A bad [dns] keeps the old one. */
		if (!dns_open(gw, cfg, &dns)) {
			sip_dns_free(gw->dns);
			gw->dns = dns;
			memcpy(gw->cfg.dns_servers, cfg->dns_servers,
			       sizeof(cfg->dns_servers));
			gw->cfg.dns_timeout_ms = cfg->dns_timeout_ms;
			gw->cfg.dns_tries = cfg->dns_tries;
		}
	}
	gw->cfg.dns_ttl_min = cfg->dns_ttl_min;
	gw->cfg.dns_ttl_max = cfg->dns_ttl_max;
	memcpy(gw->cfg.codecs, cfg->codecs, sizeof(cfg->codecs));
	gw->cfg.ncodecs = cfg->ncodecs;
	sip_ua_set_codecs(gw->ua, gw->cfg.codecs, gw->cfg.ncodecs);
	{
		struct sip_nat_cfg nc;

		memcpy(gw->cfg.external_addr, cfg->external_addr,
		       sizeof(cfg->external_addr));
		memcpy(gw->cfg.external_media_addr, cfg->external_media_addr,
		       sizeof(cfg->external_media_addr));
		memcpy(gw->cfg.local_nets, cfg->local_nets,
		       sizeof(cfg->local_nets));
		gw->cfg.nlocal_nets = cfg->nlocal_nets;
		/* conf.c checked every field: this cannot fail. */
		(void)sip_ua_set_nat(gw->ua, nat_cfg(&gw->cfg, &nc));
	}
	gw_log_level = cfg->log_level;
	gw_debug_mask = cfg->debug;
	gw->cfg.callback_window = cfg->callback_window;
	gw->cfg.holdoff = cfg->holdoff;
	gw->cfg.prefer_incoming = cfg->prefer_incoming;
	memcpy(gw->cfg.notify, cfg->notify, sizeof(cfg->notify));
	gw->cfg.nnotify = cfg->nnotify;
	memcpy(gw->cfg.notify_sip_user, cfg->notify_sip_user,
	       sizeof(cfg->notify_sip_user));
	gw->cfg.notify_sip = cfg->notify_sip;
	gw->cfg.notify_sip_len = cfg->notify_sip_len;
	obj_deref(gw->snap);
	gw->snap = snap;
	obj_deref(gw->e911);
	gw->e911 = e911;
	gw->rates_version = version;
}

static void snapshot_summary(const struct gw *gw, char *buf, size_t size)
{
	const struct dp_snapshot *s = gw->snap;

	snprintf(buf, size, "%zu routes, %zu DID ranges, %zu rates, %zu "
		 "e911 zones", dp_snapshot_nroutes(s),
		 dp_did_count(dp_snapshot_dids(s)),
		 dp_lcr_count(dp_snapshot_lcr(s)), e911_zone_count(gw->e911));
}

static bool emergency_hold(const struct gw *gw);

/* Apply (or refuse) a built reload, answer whoever asked, free the job. */
static void reload_finish(struct reload_job *j)
{
	struct gw *gw = j->gw;
	char msg[1024];

	if (j->rc) {
		gw_err("reload refused, nothing changed: %s", j->err);
		snprintf(msg, sizeof(msg), "%s", j->err);
	} else {
		char sum[160], warn[400] = "";

		if (!j->e911) {
			/* Keep the zones in force rather than none. */
			gw_err("e911 zones not reloaded: %s; the previous "
			       "zones stay in force", j->e911_err);
			snprintf(warn, sizeof(warn), "; e911 zones not "
				 "reloaded: %s", j->e911_err);
			j->e911 = obj_ref(gw->e911);
		}
		reload_apply(gw, j->cfg, j->snap, j->e911, j->version);
		gw_health_sync(gw);
		gw_reg_sync(gw);
		/* Notifications under way keep the context they started
		 * with. */
		gw_notify_tls_free(gw->notify_tls);
		gw->notify_tls = j->notify_tls;
		j->notify_tls = NULL;
		snapshot_summary(gw, sum, sizeof(sum));
		gw_notice("reloaded: %s, %u trunks", sum, gw->cfg.ntrunks);
		snprintf(msg, sizeof(msg), "reloaded: %s%s", sum, warn);
	}
	gw->reload = NULL;
	if (j->done)
		j->done(j->rc, msg, j->arg);
	if (j->ev_hold)
		event_free(j->ev_hold);
	event_free(j->ev);
	close(j->pipe[0]);
	close(j->pipe[1]);
	obj_deref(j->old_lcr);
	gw_notify_tls_free(j->notify_tls);
	free(j->cfg);
	free(j);
}

static void on_reload_hold(evutil_socket_t fd, short what, void *arg)
{
	struct reload_job *j = arg;
	struct timeval tv = {1, 0};

	(void)fd;
	(void)what;
	if (emergency_hold(j->gw) && !j->gw->stopping) {
		evtimer_add(j->ev_hold, &tv);
		return;
	}
	gw_notice("no emergency call any more: applying the reload built "
		  "during one");
	reload_finish(j);
}

static void on_reload_done(evutil_socket_t fd, short what, void *arg)
{
	struct reload_job *j = arg;
	struct gw *gw = j->gw;
	struct timeval tv = {1, 0};
	char c;

	(void)what;
	if (read(fd, &c, 1) != 1)
		return;
	pthread_join(j->th, NULL);
	j->joined = true;
	/* An emergency call began while the snapshot was being built:
	 * nothing may change under it, so the result waits for it. */
	if (!j->rc && emergency_hold(gw) && !gw->stopping &&
	    (j->ev_hold = evtimer_new(gw->base, on_reload_hold, j))) {
		const char *m = "reload deferred: an emergency call started "
				"while it was prepared; it applies once the "
				"call has ended and the hold-off is over";

		gw_warn("%s", m);
		if (j->done)
			j->done(EINPROGRESS, m, j->arg);
		j->done = NULL;
		evtimer_add(j->ev_hold, &tv);
		return;
	}
	reload_finish(j);
}


/* Emergency calls hold reloads back: nothing that could disturb a 911
 * call changes under it, nor just after (a PSAP may call back). */
static bool emergency_hold(const struct gw *gw)
{
	return gw->emergency_live ||
	       (gw->emergency_end_ms &&
		tg_mono_ms() - gw->emergency_end_ms <
			(int64_t)gw->cfg.holdoff * 1000);
}

static void on_reload_wait(evutil_socket_t fd, short what, void *arg)
{
	struct gw *gw = arg;
	struct timeval tv = {1, 0};
	char msg[512];

	(void)fd;
	(void)what;
	if (emergency_hold(gw) || gw->reload) {
		evtimer_add(gw->ev_reload_wait, &tv);
		return;
	}
	gw->reload_waiting = false;
	gw_notice("no emergency call any more: running the deferred reload");
	gw_reload_start(gw, NULL, NULL, msg, sizeof(msg));
}

void gw_emergency_mark(struct gw *gw, bool up)
{
	if (up) {
		gw->emergency_live++;
		return;
	}
	if (gw->emergency_live)
		gw->emergency_live--;
	gw->emergency_end_ms = tg_mono_ms();
}

int gw_reload_start(struct gw *gw, gw_reload_h *done, void *arg, char *err,
		    size_t errsize)
{
	struct reload_job *j;
	int rc;

	if (emergency_hold(gw) && !gw->stopping) {
		struct timeval tv = {1, 0};

		snprintf(err, errsize, "reload deferred: %u emergency call(s) "
			 "up or one ended less than %u s ago; it runs then",
			 gw->emergency_live, gw->cfg.holdoff);
		gw_warn("%s", err);
		if (!gw->reload_waiting && gw->ev_reload_wait) {
			gw->reload_waiting = true;
			evtimer_add(gw->ev_reload_wait, &tv);
		}
		return EINPROGRESS;
	}

	if (gw->reload) {
		snprintf(err, errsize, "a reload is already in progress");
		return EBUSY;
	}
	j = calloc(1, sizeof(*j));
	if (!j || !(j->cfg = malloc(sizeof(*j->cfg)))) {
		free(j);
		snprintf(err, errsize, "out of memory");
		return ENOMEM;
	}
	rc = gw_config_load(j->cfg, gw->cfg.path, err, errsize);
	if (!rc)
		rc = gw_notify_tls_new(&j->notify_tls, j->cfg, err, errsize);
	if (rc) {
		gw_err("reload refused, nothing changed: %s", err);
		free(j->cfg);
		free(j);
		return rc;
	}
	j->gw = gw;
	j->done = done;
	j->arg = arg;
	j->old_lcr = obj_ref(dp_snapshot_lcr(gw->snap));
	j->old_version = gw->rates_version;
	if (pipe(j->pipe)) {
		rc = errno;
		goto fail;
	}
	j->ev = event_new(gw->base, j->pipe[0], EV_READ, on_reload_done, j);
	if (!j->ev || event_add(j->ev, NULL)) {
		rc = ENOMEM;
		goto fail_pipe;
	}
	rc = pthread_create(&j->th, NULL, reload_thread, j);
	if (rc)
		goto fail_ev;
	gw->reload = j;
	return 0;
 fail_ev:
	event_free(j->ev);
 fail_pipe:
	close(j->pipe[0]);
	close(j->pipe[1]);
 fail:
	snprintf(err, errsize, "cannot start the reload: %s", strerror(rc));
	obj_deref(j->old_lcr);
	gw_notify_tls_free(j->notify_tls);
	free(j->cfg);
	free(j);
	return rc;
}

void gw_check_drained(struct gw *gw)
{
	if (gw->draining && gw->ncalls == 0 && !gw->stopping) {
		gw_notice("every call has ended; stopping");
		gw->stopping = true;
		event_base_loopexit(gw->base, NULL);
	}
}

static void on_drain_timer(evutil_socket_t fd, short what, void *arg)
{
	struct gw *gw = arg;
	struct timeval grace = {STOP_GRACE_S, 0};

	if (gw->ncalls) {
		gw_notice("drain time is up: clearing %u calls", gw->ncalls);
		gw_call_clear_all(gw, 16);
	}
	gw_check_drained(gw);
	/* Far ends that never confirm their BYE must not hold us forever. */
	if (!gw->stopping)
		event_base_loopexit(gw->base, &grace);
}

static void start_drain(struct gw *gw)
{
	struct timeval tv = {gw->cfg.drain_timeout, 0};

	if (gw->draining) {
		gw_notice("second stop request: clearing calls now");
		tv.tv_sec = 0;
	} else {
		gw_notice("draining: no new calls; %u live calls have %u s",
			  gw->ncalls, gw->cfg.drain_timeout);
	}
	gw->draining = true;
	event_add(gw->ev_drain, &tv);
	gw_check_drained(gw);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct gw *gw = arg;
	char msg[512];

	switch (sig) {
	case SIGHUP:
		gw_reload_start(gw, NULL, NULL, msg, sizeof(msg));
		break;
	case SIGTERM:
	case SIGINT:
		start_drain(gw);
		break;
	default:
		break;
	}
}

static void on_media(evutil_socket_t fd, short what, void *arg)
{
	struct gw *gw = arg;

	media_engine_poll(gw->me);
}

static void on_rtp_check(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	gw_call_rtp_check(arg);
}

static void on_bridge_done(void *cookie, const struct media_stats *st)
{
	gw_dbg(GW_DBG_MEDIA,
	       "bridge done: rtp tx %llu rx %llu lost %llu late %llu "
	       "underruns %llu concealed %llu jb_drops %llu srtp auth failed "
	       "%llu replayed %llu",
	       (unsigned long long)st->rtp_tx, (unsigned long long)st->rtp_rx,
	       (unsigned long long)st->rtp_lost,
	       (unsigned long long)st->rtp_late,
	       (unsigned long long)st->underruns,
	       (unsigned long long)st->concealed,
	       (unsigned long long)st->jb_drops,
	       (unsigned long long)st->srtp_auth_fail,
	       (unsigned long long)st->srtp_replay);
	/* Someone sends us packets that do not authenticate: worth more
	 * than a debug line (a wrong key, an attack, plain RTP). */
	if (st->srtp_auth_fail || st->srtp_replay)
		gw_notice("bridge done: %llu SRTP packets failed "
			  "authentication, %llu were replays",
			  (unsigned long long)st->srtp_auth_fail,
			  (unsigned long long)st->srtp_replay);
	gw_call_media_done(cookie, st);
}

/* The CDRs of the calls just ended wait for their bridges' figures: let
 * the workers hand them back (a frame or two each), for at most 1 s. */
static void media_settle(struct gw *gw)
{
	struct pollfd pfd = {.fd = media_engine_fd(gw->me), .events = POLLIN};

	for (int i = 0; i < 100 && gw->media_waits; i++)
		if (poll(&pfd, 1, 10) > 0)
			media_engine_poll(gw->me);
}

static int start(struct gw *gw)
{
	struct sip_ua_config sc;
	char err[512], e911_err[256];
	int rc;

	if (make_parent(gw->cfg.db_path) || make_parent(gw->cfg.control))
		return EIO;
	rc = cdr_db_init(gw->cfg.db_path);
	if (rc) {
		gw_err("%s: cannot open the database: %s", gw->cfg.db_path,
		       strerror(rc));
		return rc;
	}
	rc = seed_dids(&gw->cfg);
	if (rc) {
		gw_err("%s: cannot seed the DID table: %s", gw->cfg.db_path,
		       strerror(rc));
		return rc;
	}
	rc = build_snapshot(&gw->cfg, NULL, 0, &gw->snap, &gw->e911,
			    &gw->rates_version, err, sizeof(err), e911_err,
			    sizeof(e911_err));
	if (rc) {
		gw_err("routing: %s", err);
		return rc;
	}
	if (!gw->e911) {
		/* Start all the same: 911 goes out with the caller's own
		 * number until the zones are fixed and reloaded. */
		gw_err("e911 zones not loaded: %s; emergency calls go out "
		       "without a location until this is fixed", e911_err);
		rc = e911_snapshot_build(&gw->e911, NULL, 0, NULL, 0, e911_err,
					 sizeof(e911_err));
		if (rc)
			return rc;
	}
	/* A PSAP may call back after a restart; a database that cannot
	 * tell us is no reason to stay down. */
	rc = gw_e911_restore(gw);
	if (rc)
		gw_err("the PSAP callback table could not be rebuilt from the "
		       "CDRs: %s; callbacks go by the DID table", strerror(rc));
	rc = cdr_writer_open(&gw->cdr, gw->cfg.db_path);
	if (rc) {
		gw_err("%s: CDR writer: %s", gw->cfg.db_path, strerror(rc));
		return rc;
	}
	rc = media_engine_alloc(&gw->me, gw->cfg.media_workers,
				on_bridge_done);
	if (rc) {
		gw_err("media engine: %s", strerror(rc));
		return rc;
	}
	media_engine_set_dtmf_handler(gw->me, gw_call_on_dtmf, gw);
	media_engine_set_fax_handler(gw->me, gw_call_on_fax, gw);
	gw->ev_media = event_new(gw->base, media_engine_fd(gw->me),
				 EV_READ | EV_PERSIST, on_media, gw);
	if (!gw->ev_media || event_add(gw->ev_media, NULL))
		return ENOMEM;
	{
		/* A second's resolution is plenty for a timeout in s. */
		struct timeval sec = {1, 0};

		gw->ev_rtp_check = event_new(gw->base, -1, EV_PERSIST,
					     on_rtp_check, gw);
		if (!gw->ev_rtp_check ||
		    event_add(gw->ev_rtp_check, &sec))
			return ENOMEM;
	}

	memset(&sc, 0, sizeof(sc));
	sc.bind_addr = gw->cfg.sip_bind;
	sc.bind_addr2 = gw->cfg.sip_bind6;
	sc.port = gw->cfg.sip_port;
	sc.tcp = gw->cfg.sip_tcp;
	sc.tls = gw->cfg.sip_tls;
	sc.tls_port = gw->cfg.tls_port;
	sc.tls_cfg = (struct sip_tls_config){
		.cert = gw->cfg.tls_cert,
		.key = gw->cfg.tls_key,
		.ca = gw->cfg.tls_ca,
		.client_cert = gw->cfg.tls_client_cert,
		.client_key = gw->cfg.tls_client_key,
		.ciphers = gw->cfg.tls_ciphers,
		.verify = gw->cfg.tls_verify,
		.verify_client = gw->cfg.tls_verify_client,
	};
	sc.tcp_idle = gw->cfg.tcp_idle_timeout;
	sc.tcp_max = gw->cfg.tcp_max_connections;
	sc.user_agent = gw->cfg.user_agent;
	sc.codecs = gw->cfg.codecs;
	sc.ncodecs = gw->cfg.ncodecs;
	sc.ptime = gw->cfg.ptime;
	sc.media_prefs = gw_call_media_prefs;
	sc.invite = gw_call_on_invite;
	sc.authorize = gw_call_authorize;
	sc.digest = gw_call_digest;
	sc.registrar = gw_reg_on_register;
	sc.realm = gw->cfg.sip_realm;
	sc.nonce_ttl = gw->cfg.nonce_lifetime;
	sc.rejected = gw_call_on_rejected;
	nat_cfg(&gw->cfg, &sc.nat);
	sc.symmetric = gw_call_symmetric;
	sc.arg = gw;
	rc = sip_ua_alloc(&gw->ua, gw->base, &sc);
	if (rc) {
		gw_err("SIP on %s:%u: %s", gw->cfg.sip_bind, gw->cfg.sip_port,
		       strerror(rc));
		return rc;
	}
	rc = dns_open(gw, &gw->cfg, &gw->dns);
	if (rc)
		return rc;
	for (unsigned i = 0; i < gw->cfg.nspans; i++) {
		rc = span_open(gw, &gw->cfg.spans[i], &gw->spans[gw->nspans]);
		if (rc)
			return rc;
		gw->nspans++;
	}
	rc = gw_ctl_open(&gw->ctl, gw, gw->cfg.control);
	if (rc)
		return rc;
	gw_health_sync(gw);
	gw_reg_sync(gw);
	snapshot_summary(gw, err, sizeof(err));
	gw_notice("tollgated %s: SIP on %s:%u, %u span(s), %s, database %s",
		  PACKAGE_VERSION, gw->cfg.sip_bind, sip_ua_port(gw->ua),
		  gw->nspans, err, gw->cfg.db_path);
	return 0;
}

static int stop(struct gw *gw)
{
	int rc = 0;

	gw_call_clear_all(gw, 16);
	gw_notify_stop(gw);
	gw_maint_stop(gw);
	gw_ctl_close(gw->ctl);
	for (unsigned i = 0; i < gw->nspans; i++)
		tdm_span_free(gw->spans[i]);
	gw->nspans = 0;
	/* Calls still waiting on a SIP leg are over (their CDRs were queued
	 * when they ended); let go of them before the UA goes. */
	gw_call_reap_all(gw);
	/* ENUM lookups still waiting end (ECANCELED) while the UA lives. */
	sip_dns_free(gw->dns);
	gw->dns = NULL;
	gw_call_reap_all(gw);
	gw_health_stop(gw);
	gw_reg_free(gw);
	sip_ua_free(gw->ua);
	if (gw->ev_media)
		event_free(gw->ev_media);
	if (gw->ev_rtp_check)
		event_free(gw->ev_rtp_check);
	media_settle(gw);
	media_engine_free(gw->me);
	gw_call_media_flush(gw);
	if (gw->cdr) {
		rc = cdr_writer_close(gw->cdr);
		if (rc)
			gw_err("some CDRs could not be written to %s (see "
			       "%s.unwritten.csv)", gw->cfg.db_path,
			       gw->cfg.db_path);
		else
			gw_notice("%llu CDRs written",
				  (unsigned long long)gw->cdr_submitted);
	}
	if (gw->reload) {
		/* Let the builder finish; its result is dropped. */
		struct reload_job *j = gw->reload;

		if (!j->joined)
			pthread_join(j->th, NULL);
		if (j->ev_hold)
			event_free(j->ev_hold);
		/* A tollgatectl waiting for the outcome gets one. */
		if (j->done)
			j->done(ECANCELED, "tollgated is stopping; the reload "
				"was not applied", j->arg);
		event_free(j->ev);
		close(j->pipe[0]);
		close(j->pipe[1]);
		obj_deref(j->snap);
		obj_deref(j->e911);
		obj_deref(j->old_lcr);
		gw_notify_tls_free(j->notify_tls);
		free(j->cfg);
		free(j);
		gw->reload = NULL;
	}
	obj_deref(gw->snap);
	obj_deref(gw->e911);
	gw_e911_free(gw);
	return rc;
}

int main(int argc, char **argv)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
	const char *path = "/etc/tollgate/tollgate.conf";
	bool check = false;
	struct gw *gw;
	char err[512];
	int c, rc;

	while ((c = getopt(argc, argv, "c:tVh")) != -1) {
		switch (c) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = true;
			break;
		case 'V':
			printf("tollgated %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	gw = calloc(1, sizeof(*gw));
	if (!gw)
		return 1;
	rc = gw_config_load(&gw->cfg, path, err, sizeof(err));
	if (!rc)
		rc = gw_notify_tls_new(&gw->notify_tls, &gw->cfg, err,
				       sizeof(err));
	if (rc) {
		fprintf(stderr, "tollgated: %s\n", err);
		free(gw);
		return 1;
	}
	if (check) {
		printf("tollgated: %s: configuration is valid\n", path);
		gw_notify_tls_free(gw->notify_tls);
		free(gw);
		return 0;
	}
	gw_log_open(gw->cfg.log_level, gw->cfg.log_syslog, "tollgated");
	gw_debug_mask = gw->cfg.debug;
	signal(SIGPIPE, SIG_IGN);
	gw->started_ms = tg_time_ms();
	gw->base = event_base_new();
	/* Three levels: I/O and deliveries at the default (1); call timers
	 * at 2, so libevent runs them only when nothing more urgent is
	 * active in the same pass (event_process_active stops at the first
	 * priority that ran a callback). */
	if (gw->base && event_base_priority_init(gw->base, 3)) {
		fprintf(stderr, "tollgated: event priorities unavailable\n");
		return 1;
	}
	gw->ev_drain = gw->base ? evtimer_new(gw->base, on_drain_timer, gw)
				: NULL;
	gw->ev_reload_wait = gw->base ? evtimer_new(gw->base, on_reload_wait,
						    gw)
				      : NULL;
	if (!gw->ev_drain) {
		fprintf(stderr, "tollgated: out of memory\n");
		return 1;
	}
	for (size_t i = 0; i < TG_ARRAY_SIZE(sigs); i++) {
		gw->ev_sig[i] = evsignal_new(gw->base, sigs[i], on_signal, gw);
		event_add(gw->ev_sig[i], NULL);
	}
	rc = start(gw);
	if (!rc) {
		event_base_dispatch(gw->base);
		gw_reg_unregister_all(gw);
	}
	if (stop(gw))
		rc = rc ? rc : EIO;
	for (size_t i = 0; i < TG_ARRAY_SIZE(sigs); i++)
		if (gw->ev_sig[i])
			event_free(gw->ev_sig[i]);
	event_free(gw->ev_drain);
	if (gw->ev_reload_wait)
		event_free(gw->ev_reload_wait);
	event_base_free(gw->base);
	gw_notify_tls_free(gw->notify_tls);
	gw_notice("stopped%s", rc ? " after an error" : "");
	gw_log_close();
	free(gw);
	return rc ? 1 : 0;
}
