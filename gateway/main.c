/* gateway/main.c  tollgated: start-up, signals, reload, drain, shut-down */
#define LOG_MODULE "main"

#include <config.h>

#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

static int load_dids(struct gw *gw, const struct gw_config *cfg,
		     struct dp_did_table **tp, char *err, size_t errsize)
{
	struct cdr_did_range *rows = NULL;
	struct dp_did_range *dp = NULL;
	size_t n = 0;
	int rc;

	rc = cdr_db_load_dids(cfg->db_path, &rows, &n);
	if (rc) {
		snprintf(err, errsize, "%s: cannot read the DID table: %s",
			 cfg->db_path, strerror(rc));
		return rc;
	}
	if (n) {
		dp = calloc(n, sizeof(*dp));
		if (!dp) {
			free(rows);
			snprintf(err, errsize, "out of memory reading DIDs");
			return ENOMEM;
		}
	}
	for (size_t i = 0; i < n; i++) {
		tg_strlcpy(dp[i].first, rows[i].first, sizeof(dp[i].first));
		tg_strlcpy(dp[i].last, rows[i].last, sizeof(dp[i].last));
		tg_strlcpy(dp[i].trunk, rows[i].trunk, sizeof(dp[i].trunk));
		tg_strlcpy(dp[i].user, rows[i].user, sizeof(dp[i].user));
	}
	rc = dp_did_table_build(tp, dp, n, err, errsize);
	free(rows);
	free(dp);
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

int gw_reload(struct gw *gw, char *err, size_t errsize)
{
	struct gw_config *cfg = malloc(sizeof(*cfg));
	struct dp_did_table *dids = NULL;
	int rc;

	if (!cfg) {
		snprintf(err, errsize, "out of memory");
		return ENOMEM;
	}
	rc = gw_config_load(cfg, gw->cfg.path, err, errsize);
	if (!rc)
		rc = load_dids(gw, cfg, &dids, err, errsize);
	if (rc) {
		gw_err("reload refused, nothing changed: %s", err);
		free(cfg);
		return rc;
	}
	if (cfg->nspans != gw->cfg.nspans ||
	    strcmp(cfg->sip_bind, gw->cfg.sip_bind) ||
	    cfg->sip_port != gw->cfg.sip_port ||
	    strcmp(cfg->db_path, gw->cfg.db_path) ||
	    strcmp(cfg->control, gw->cfg.control))
		gw_warn("reload: changes to spans, [sip] bind/port, the "
			"database or the control socket need a restart");
	/* The reloadable parts; live calls keep what they copied. */
	gw->cfg.log_level = cfg->log_level;
	gw->cfg.debug = cfg->debug;
	gw->cfg.ring_timeout = cfg->ring_timeout;
	gw->cfg.drain_timeout = cfg->drain_timeout;
	memcpy(gw->cfg.trunks, cfg->trunks, sizeof(cfg->trunks));
	gw->cfg.ntrunks = cfg->ntrunks;
	memcpy(gw->cfg.outbound, cfg->outbound, sizeof(cfg->outbound));
	memcpy(gw->cfg.codecs, cfg->codecs, sizeof(cfg->codecs));
	gw->cfg.ncodecs = cfg->ncodecs;
	sip_ua_set_codecs(gw->ua, gw->cfg.codecs, gw->cfg.ncodecs);
	gw_log_level = cfg->log_level;
	gw_debug_mask = cfg->debug;
	obj_deref(gw->dids);
	gw->dids = dids;
	free(cfg);
	gw_notice("reloaded: %zu DID ranges, %u trunks", dp_did_count(dids),
		  gw->cfg.ntrunks);
	snprintf(err, errsize, "reloaded: %zu DID ranges",
		 dp_did_count(dids));
	return 0;
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
		gw_reload(gw, msg, sizeof(msg));
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

static void on_bridge_done(void *cookie, const struct media_stats *st)
{
	gw_dbg(GW_DBG_MEDIA,
	       "bridge done: rtp tx %llu rx %llu lost %llu late %llu "
	       "underruns %llu",
	       (unsigned long long)st->rtp_tx, (unsigned long long)st->rtp_rx,
	       (unsigned long long)st->rtp_lost,
	       (unsigned long long)st->rtp_late,
	       (unsigned long long)st->underruns);
}

static int start(struct gw *gw)
{
	struct sip_ua_config sc;
	char err[512];
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
	if (!rc)
		rc = load_dids(gw, &gw->cfg, &gw->dids, err, sizeof(err));
	if (rc) {
		gw_err("%s", err);
		return rc;
	}
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
	gw->ev_media = event_new(gw->base, media_engine_fd(gw->me),
				 EV_READ | EV_PERSIST, on_media, gw);
	if (!gw->ev_media || event_add(gw->ev_media, NULL))
		return ENOMEM;

	memset(&sc, 0, sizeof(sc));
	sc.bind_addr = gw->cfg.sip_bind;
	sc.port = gw->cfg.sip_port;
	sc.user_agent = gw->cfg.user_agent;
	sc.codecs = gw->cfg.codecs;
	sc.ncodecs = gw->cfg.ncodecs;
	sc.ptime = gw->cfg.ptime;
	sc.invite = gw_call_on_invite;
	sc.authorize = gw_call_authorize;
	sc.rejected = gw_call_on_rejected;
	sc.arg = gw;
	rc = sip_ua_alloc(&gw->ua, gw->base, &sc);
	if (rc) {
		gw_err("SIP on %s:%u: %s", gw->cfg.sip_bind, gw->cfg.sip_port,
		       strerror(rc));
		return rc;
	}
	for (unsigned i = 0; i < gw->cfg.nspans; i++) {
		const struct gw_span_cfg *s = &gw->cfg.spans[i];
		struct tdm_span_config tc = {
			.id = s->id,
			.type = s->type,
			.switchtype = s->switchtype,
			.network = s->network,
			.dir = s->dir,
			.pcap = *s->pcap ? s->pcap : NULL,
		};

		rc = tdm_span_alloc(&gw->spans[gw->nspans], gw->base, &tc,
				    gw_call_on_tdm, gw);
		if (rc) {
			gw_err("span %d: %s", s->id, strerror(rc));
			return rc;
		}
		gw->nspans++;
	}
	rc = gw_ctl_open(&gw->ctl, gw, gw->cfg.control);
	if (rc)
		return rc;
	gw_notice("tollgated %s: SIP on %s:%u, %u span(s), %zu DID ranges, "
		  "database %s", PACKAGE_VERSION, gw->cfg.sip_bind,
		  sip_ua_port(gw->ua), gw->nspans, dp_did_count(gw->dids),
		  gw->cfg.db_path);
	return 0;
}

static int stop(struct gw *gw)
{
	int rc = 0;

	gw_call_clear_all(gw, 16);
	gw_ctl_close(gw->ctl);
	for (unsigned i = 0; i < gw->nspans; i++)
		tdm_span_free(gw->spans[i]);
	gw->nspans = 0;
	/* Calls still waiting on a SIP leg are over (their CDRs were queued
	 * when they ended); let go of them before the UA goes. */
	gw_call_reap_all(gw);
	sip_ua_free(gw->ua);
	if (gw->ev_media)
		event_free(gw->ev_media);
	media_engine_free(gw->me);
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
	obj_deref(gw->dids);
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
	if (rc) {
		fprintf(stderr, "tollgated: %s\n", err);
		free(gw);
		return 1;
	}
	if (check) {
		printf("tollgated: %s: configuration is valid\n", path);
		free(gw);
		return 0;
	}
	gw_log_open(gw->cfg.log_level, gw->cfg.log_syslog, "tollgated");
	gw_debug_mask = gw->cfg.debug;
	signal(SIGPIPE, SIG_IGN);
	gw->started_ms = tg_time_ms();
	gw->base = event_base_new();
	gw->ev_drain = gw->base ? evtimer_new(gw->base, on_drain_timer, gw)
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
	if (!rc)
		event_base_dispatch(gw->base);
	if (stop(gw))
		rc = rc ? rc : EIO;
	for (size_t i = 0; i < TG_ARRAY_SIZE(sigs); i++)
		if (gw->ev_sig[i])
			event_free(gw->ev_sig[i]);
	event_free(gw->ev_drain);
	event_base_free(gw->base);
	gw_notice("stopped%s", rc ? " after an error" : "");
	gw_log_close();
	free(gw);
	return rc ? 1 : 0;
}
