/* pstnsim/span.c  Virtual span line side: sockets, libpri glue, 20 ms clock */
#define LOG_MODULE "pstnsim"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "pstnsim/pstnsim.h"
#include "util/util.h"

#define FRAME_US 20000
#define LATE_FRAMES 5           /* beyond this, skip ahead, don't burst */
#define D_BURST 64              /* D frames handled per wake-up */
#define B_BURST 16

/* A D-channel frame that did not fit into the socket yet. */
struct ps_dmsg {
	STAILQ_ENTRY(ps_dmsg) le;
	size_t len;
	uint8_t buf[];
};

static void d_close(struct ps_span *span);

/* libpri has no destructor for a controller: those of closed connections
 * are kept here, never used again, so they stay accounted for. */
static struct pri **retired;
static size_t nretired;

static void pri_retire(struct pri *pri)
{
	struct pri **r = realloc(retired, (nretired + 1) * sizeof(*r));

	if (!r)
		return;
	retired = r;
	retired[nretired++] = pri;
}

int ps_chan_to_bearer(const struct ps_span *span, int prichan)
{
	int ch = prichan & 0xff;

	if (prichan < 0 || ch == 0xff || ch == 0)
		return 0;
	if (span->nchan == 30) {
		/* E1: timeslot 16 is the D-channel; 17..31 are
		 * bearers 16..30 */
		if (ch == 16 || ch > 31)
			return -1;
		return ch > 16 ? ch - 1 : ch;
	}
	return ch <= (int)span->nchan ? ch : -1;
}

int ps_bearer_to_chan(const struct ps_span *span, unsigned bearer)
{
	if (span->nchan == 30 && bearer > 15)
		return (int)bearer + 1;
	return (int)bearer;
}

bool ps_span_ready(const struct ps_span *span)
{
	return span->pri && span->dchan_up && span->bfd >= 0;
}

static int listen_on(const char *path, int *fdp)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd, err = 0;

	if (strlen(path) >= sizeof(sa.sun_path))
		return ENAMETOOLONG;
	tg_strlcpy(sa.sun_path, path, sizeof(sa.sun_path));
	if (unlink(path) && errno != ENOENT)
		return errno;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return errno;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(fd, 4)) {
		err = errno;
		close(fd);
		goto out;
	}
	*fdp = fd;
 out:
	return err;
}

/* ---- libpri glue ------------------------------------------------------ */

static int pri_read_cb(struct pri *pri, void *buf, int len)
{
	struct ps_span *span = pri_get_userdata(pri);
	ssize_t n;

	if (!span || (span->pri && pri != span->pri) || span->dfd < 0)
		return 0;
	n = recv(span->dfd, buf, (size_t)len, MSG_DONTWAIT);
	if (n > 0) {
		span->d_got = true;
		/* A cut D-channel: the frame is lost on the way. */
		return ps.dcut ? 0 : (int)n;
	}
	if (n == 0 || (errno != EAGAIN && errno != EINTR))
		span->d_eof = true;
	return 0;
}

static int pri_write_cb(struct pri *pri, void *buf, int len)
{
	struct ps_span *span = pri_get_userdata(pri);
	struct ps_dmsg *m;
	ssize_t n;

	/* A replaced connection's pri must never write to the new one;
	 * span->pri is still NULL while pri_new_cb() sends its first frame. */
	if (!span || (span->pri && pri != span->pri) || span->dfd < 0 ||
	    ps.dcut)
		return len;
	if (STAILQ_EMPTY(&span->dq)) {
		n = send(span->dfd, buf, (size_t)len,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n == len)
			return len;
		if (n < 0 && errno != EAGAIN) {
			span->d_eof = true;
			return len;
		}
	}
	/* Keep the order: queue behind what is already waiting. */
	m = malloc(sizeof(*m) + (size_t)len);
	if (!m) {
		gw_err("span %d: out of memory, D frame dropped", span->idx);
		return len;
	}
	m->len = (size_t)len;
	memcpy(m->buf, buf, (size_t)len);
	STAILQ_INSERT_TAIL(&span->dq, m, le);
	event_add(span->ev_dw, NULL);
	return len;
}

static void dq_flush(struct ps_span *span)
{
	struct ps_dmsg *m;

	while ((m = STAILQ_FIRST(&span->dq))) {
		STAILQ_REMOVE_HEAD(&span->dq, le);
		free(m);
	}
}

static void on_d_writable(evutil_socket_t fd, short what, void *arg)
{
	struct ps_span *span = arg;
	struct ps_dmsg *m;
	ssize_t n;

	while ((m = STAILQ_FIRST(&span->dq))) {
		n = send(fd, m->buf, m->len, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n < 0) {
			d_close(span);
			return;
		}
		STAILQ_REMOVE_HEAD(&span->dq, le);
		free(m);
	}
	event_del(span->ev_dw);
}

static void set_dchan(struct ps_span *span, bool up)
{
	if (span->dchan_up == up)
		return;
	span->dchan_up = up;
	gw_notice("span %d: D-channel %s", span->idx, up ? "up" : "down");
	ps_emit("{\"event\":\"dchan\",\"span\":%d,\"up\":%s}", span->idx,
		up ? "true" : "false");
}

static void handle_event(struct ps_span *span, pri_event *e)
{
	switch (e->e) {
	case PRI_EVENT_DCHAN_UP:
		set_dchan(span, true);
		/* --oos: this bearer out of service (AT&T/NI-2 SERVICE). */
		if (ps.conf.oos_chan)
			pri_maintenance_service(span->pri, 0,
						ps_bearer_to_chan(span,
								  (unsigned)ps.conf.oos_chan),
						2);
		ps_orig_check_start();
		break;
	case PRI_EVENT_SERVICE:
	case PRI_EVENT_SERVICE_ACK:
		ps_emit("{\"event\":\"%s\",\"span\":%d,\"chan\":%d,"
			"\"status\":%d}",
			e->e == PRI_EVENT_SERVICE ? "service" : "service_ack",
			span->idx,
			ps_chan_to_bearer(span, e->service.channel & 0xff),
			e->service.changestatus);
		break;
	case PRI_EVENT_DCHAN_DOWN:
		set_dchan(span, false);
		break;
	default:
		ps_call_event(span, e);
		break;
	}
}

void ps_span_kick(struct ps_span *span)
{
	struct timeval *next, now, rel;

	if (!span->pri) {
		event_del(span->ev_pri);
		return;
	}
	next = pri_schedule_next(span->pri);
	if (!next) {
		event_del(span->ev_pri);
		return;
	}
	gettimeofday(&now, NULL);
	if (timercmp(next, &now, <))
		timerclear(&rel);
	else
		timersub(next, &now, &rel);
	evtimer_add(span->ev_pri, &rel);
}

static void on_pri_timer(evutil_socket_t fd, short what, void *arg)
{
	struct ps_span *span = arg;
	pri_event *e;

	while (span->pri && (e = pri_schedule_run(span->pri)))
		handle_event(span, e);
	ps_span_kick(span);
}

static void on_d_read(evutil_socket_t fd, short what, void *arg)
{
	struct ps_span *span = arg;
	pri_event *e;

	for (int i = 0; i < D_BURST && span->pri; i++) {
		span->d_got = false;
		e = pri_check_event(span->pri);
		if (e)
			handle_event(span, e);
		if (span->d_eof) {
			gw_notice("span %d: D-channel connection closed",
				  span->idx);
			d_close(span);
			break;
		}
		if (!span->d_got)
			break;
	}
	ps_span_kick(span);
}

static void d_close(struct ps_span *span)
{
	if (span->dfd < 0)
		return;
	event_del(span->ev_d);
	event_del(span->ev_dw);
	event_free(span->ev_d);
	event_free(span->ev_dw);
	span->ev_d = span->ev_dw = NULL;
	close(span->dfd);
	span->dfd = -1;
	dq_flush(span);
	set_dchan(span, false);
	/* libpri has no destructor: the old controller is only forgotten,
	 * and its calls are cleared here without touching it again. */
	ps_call_clear_span(span, PRI_CAUSE_NORMAL_TEMPORARY_FAILURE);
	if (span->pri)
		pri_retire(span->pri);
	span->pri = NULL;
	span->d_eof = false;
	event_del(span->ev_pri);
}

static void on_d_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct ps_span *span = arg;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN)
			gw_warn("span %d: D accept: %m", span->idx);
		return;
	}
	if (span->dfd >= 0) {
		gw_notice("span %d: new D-channel connection replaces the old",
			  span->idx);
		d_close(span);
	}
	span->dfd = fd;
	span->ev_d = event_new(ps.base, fd, EV_READ | EV_PERSIST, on_d_read,
			       span);
	span->ev_dw = event_new(ps.base, fd, EV_WRITE | EV_PERSIST,
				on_d_writable, span);
	if (!span->ev_d || !span->ev_dw)
		goto fail;
	/* Userdata is set at creation, so the first write finds the span. */
	span->pri = pri_new_cb(fd, ps.conf.node, ps.conf.switchtype,
			       pri_read_cb, pri_write_cb, span);
	if (!span->pri)
		goto fail;
	if (ps.conf.verbose)
		pri_set_debug(span->pri, PRI_DEBUG_Q931_STATE |
					 PRI_DEBUG_Q931_DUMP |
					 PRI_DEBUG_Q921_STATE);
	/* Overlap sending: otherwise libpri puts Sending Complete in every
	 * EuroISDN SETUP. */
	if (ps.conf.overlap >= 0)
		pri_set_overlapdial(span->pri, 1);
	if (ps.conf.service)
		pri_set_service_message_support(span->pri, 1);
	event_add(span->ev_d, NULL);
	gw_notice("span %d: D-channel connected", span->idx);
	ps_span_kick(span);
	return;
 fail:
	gw_err("span %d: cannot set up the D-channel connection", span->idx);
	d_close(span);
}

/* ---- B-channel audio -------------------------------------------------- */

static void clock_arm(struct ps_span *span)
{
	int64_t due = span->clock_start_us +
		      (int64_t)(span->clock_n + 1) * FRAME_US;
	int64_t rel = due - ps_mono_us();
	struct timeval tv;

	if (rel < 0)
		rel = 0;
	tv.tv_sec = rel / 1000000;
	tv.tv_usec = rel % 1000000;
	evtimer_add(span->ev_clock, &tv);
}

static void b_close(struct ps_span *span)
{
	if (span->bfd < 0)
		return;
	event_del(span->ev_b);
	event_free(span->ev_b);
	span->ev_b = NULL;
	event_del(span->ev_clock);
	close(span->bfd);
	span->bfd = -1;
}

static void on_clock(evutil_socket_t fd, short what, void *arg)
{
	struct ps_span *span = arg;
	int64_t now = ps_mono_us();
	uint64_t due_n = (uint64_t)((now - span->clock_start_us) / FRAME_US);
	uint8_t sil = ps_audio_silence();
	size_t len = tdm_vframe_size(span->nchan);
	ssize_t n;

	span->clock_n++;
	if (due_n > span->clock_n + LATE_FRAMES) {
		/* Far behind (stopped process, overloaded host): resume the
		 * grid at now instead of sending a burst of stale frames. */
		gw_warn("span %d: clock %llu frames late, skipping ahead",
			span->idx,
			(unsigned long long)(due_n - span->clock_n));
		span->clock_n = due_n;
	}

	tdm_vframe_put_hdr(span->txbuf, span->seq++);
	for (unsigned ch = 1; ch <= span->nchan; ch++) {
		uint8_t *blk = tdm_vframe_slot(span->txbuf, ch);
		struct ps_call *call = span->chans[ch];

		if (call && call->media)
			ps_call_tx(call, blk);
		else
			memset(blk, sil, TDM_FRAME_SAMPLES);
	}
	n = send(span->bfd, span->txbuf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == ENOBUFS) {
			span->frames_dropped++;
		} else {
			gw_notice("span %d: B connection closed (%m)",
				  span->idx);
			b_close(span);
			return;
		}
	}
	clock_arm(span);
}

static void on_b_read(evutil_socket_t fd, short what, void *arg)
{
	struct ps_span *span = arg;
	uint32_t seq;
	ssize_t n;

	for (int i = 0; i < B_BURST; i++) {
		n = recv(fd, span->rxbuf, sizeof(span->rxbuf), MSG_DONTWAIT);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			gw_notice("span %d: B connection closed", span->idx);
			b_close(span);
			return;
		}
		if (tdm_vframe_check(span->rxbuf, (size_t)n, span->nchan,
				     &seq)) {
			gw_warn("span %d: bad B frame of %zd bytes", span->idx,
				n);
			continue;
		}
		for (unsigned ch = 1; ch <= span->nchan; ch++) {
			struct ps_call *call = span->chans[ch];

			if (call && call->media)
				ps_call_rx(call,
					   tdm_vframe_slot(span->rxbuf, ch));
		}
	}
}

static void on_b_accept(evutil_socket_t lfd, short what, void *arg)
{
	struct ps_span *span = arg;
	int fd;

	fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN)
			gw_warn("span %d: B accept: %m", span->idx);
		return;
	}
	if (span->bfd >= 0) {
		gw_notice("span %d: new B connection replaces the old",
			  span->idx);
		b_close(span);
	}
	span->ev_b = event_new(ps.base, fd, EV_READ | EV_PERSIST, on_b_read,
			       span);
	if (!span->ev_b) {
		close(fd);
		return;
	}
	span->bfd = fd;
	event_add(span->ev_b, NULL);
	span->clock_start_us = ps_mono_us();
	span->clock_n = 0;
	clock_arm(span);
	gw_notice("span %d: B connected", span->idx);
	ps_orig_check_start();
}

int ps_span_open(struct ps_span *span, int idx)
{
	int err, n;

	span->idx = idx;
	span->nchan = ps.conf.e1 ? 30 : 23;
	span->dlisten = span->blisten = span->dfd = span->bfd = -1;
	STAILQ_INIT(&span->dq);
	LIST_INIT(&span->calls);
	n = snprintf(span->dpath, sizeof(span->dpath), "%s/span%d.d",
		     ps.conf.dir, idx);
	if (n < 0 || (size_t)n >= sizeof(span->dpath))
		return ENAMETOOLONG;
	snprintf(span->bpath, sizeof(span->bpath), "%s/span%d.b", ps.conf.dir,
		 idx);
	err = listen_on(span->dpath, &span->dlisten);
	if (err) {
		gw_err("cannot listen on %s: %s", span->dpath, strerror(err));
		goto out;
	}
	err = listen_on(span->bpath, &span->blisten);
	if (err) {
		gw_err("cannot listen on %s: %s", span->bpath, strerror(err));
		goto out;
	}
	span->ev_dlisten = event_new(ps.base, span->dlisten,
				     EV_READ | EV_PERSIST, on_d_accept, span);
	span->ev_blisten = event_new(ps.base, span->blisten,
				     EV_READ | EV_PERSIST, on_b_accept, span);
	span->ev_pri = evtimer_new(ps.base, on_pri_timer, span);
	span->ev_clock = evtimer_new(ps.base, on_clock, span);
	if (!span->ev_dlisten || !span->ev_blisten || !span->ev_pri ||
	    !span->ev_clock) {
		err = ENOMEM;
		goto out;
	}
	event_add(span->ev_dlisten, NULL);
	event_add(span->ev_blisten, NULL);
 out:
	return err;
}

void ps_span_close(struct ps_span *span)
{
	/* At exit the summary is the last line: no D-channel event after. */
	span->dchan_up = false;
	d_close(span);
	b_close(span);
	if (span->ev_dlisten)
		event_free(span->ev_dlisten);
	if (span->ev_blisten)
		event_free(span->ev_blisten);
	if (span->ev_pri)
		event_free(span->ev_pri);
	if (span->ev_clock)
		event_free(span->ev_clock);
	span->ev_dlisten = span->ev_blisten = span->ev_pri = NULL;
	span->ev_clock = NULL;
	if (span->dlisten >= 0) {
		close(span->dlisten);
		unlink(span->dpath);
	}
	if (span->blisten >= 0) {
		close(span->blisten);
		unlink(span->bpath);
	}
	span->dlisten = span->blisten = -1;
}
