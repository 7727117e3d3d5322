/* media/worker.c  Media worker thread: epoll set, command queue, spans */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define LOG_MODULE "media"
#include "util/util.h"

#include "media/core.h"

#define EV_BATCH 64

static int epoll_add(struct worker *w, int fd, void *src)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = src};

	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return errno;
	return 0;
}

static void epoll_del(struct worker *w, int fd)
{
	/* The fd may already be closed by its owner (a line that went away):
	 * ignore the error, the kernel dropped it from the set then. */
	(void)epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
}

/* ---- spans ------------------------------------------------------------ */

static void span_unpoll(struct worker *w, struct span *sp)
{
	if (!sp->polling)
		return;
	epoll_del(w, sp->io.fd);
	sp->polling = false;
}

static void span_attach(struct span *sp, struct bridge *b)
{
	if (b->chan < 1 || b->chan > sp->io.nchan || sp->chan[b->chan]) {
		gw_warn("bridge %u: timeslot %d/%u unusable", b->id,
			sp->span_id, b->chan);
		return;
	}
	sp->chan[b->chan] = b;
	b->span = sp;
	bridge_set_laws(b, b->rtp_law, sp->io.law);
}

static void span_detach(struct bridge *b)
{
	if (!b->span)
		return;
	b->span->chan[b->chan] = NULL;
	b->span = NULL;
}

static void xend_attach(struct span *sp, struct xend *e)
{
	if (e->chan < 1 || e->chan > sp->io.nchan || sp->chan[e->chan]) {
		gw_warn("bridge %u: timeslot %d/%u unusable", e->b->id,
			sp->span_id, e->chan);
		return;
	}
	sp->chan[e->chan] = e->b;
	e->span = sp;
}

static void xend_detach(struct xend *e)
{
	if (!e->span)
		return;
	e->span->chan[e->chan] = NULL;
	e->span = NULL;
}

/* Whatever holds timeslot @p c lets go of it. */
static void slot_detach(struct span *sp, unsigned c)
{
	struct bridge *b = sp->chan[c];

	if (b->type == BRIDGE_TDM)
		xend_detach(xconn_end(b, sp->span_id, c));
	else
		span_detach(b);
}

static void span_frame(struct span *sp, const uint8_t *rx, uint32_t seq)
{
	const size_t slot = MEDIA_FRAME_SAMPLES;
	unsigned c;
	int err;

	sp->frame_us = media_mono_us();
	memset(sp->tx, media_g711_silence(sp->io.law), sp->io.nchan * slot);
	for (c = 1; c <= sp->io.nchan; c++) {
		struct bridge *b = sp->chan[c];

		if (!b)
			continue;
		if (b->type == BRIDGE_TDM)
			xconn_frame(b, sp, c, rx + (c - 1) * slot,
				    sp->tx + (c - 1) * slot);
		else
			bridge_frame(b, rx + (c - 1) * slot,
				     sp->tx + (c - 1) * slot);
	}
	err = sp->io.send(sp->io.arg, seq, sp->tx);
	if (err)
		gw_dbg(GW_DBG_MEDIA, "span %d: send frame %u: %s", sp->span_id,
		       seq, strerror(err));
}

/* RTP that arrived while we were busy with earlier frames is due before
 * the next one: read it first. */
static void span_rx_drain(struct worker *w, struct span *sp)
{
	unsigned c;

	for (c = 1; c <= sp->io.nchan; c++)
		if (sp->chan[c] && sp->chan[c]->type == BRIDGE_RTP)
			bridge_rx(w, sp->chan[c]);
}

static void span_serve(struct worker *w, struct span *sp)
{
	const uint8_t *rx;
	uint32_t seq;
	unsigned nframes = 0;
	int err;

	while (sp->polling) {
		err = sp->io.recv(sp->io.arg, &rx, &seq);
		if (err == EAGAIN)
			break;
		if (err == EINTR)
			continue;
		if (err) {
			/* Stop reading a dead line at once (a level-triggered
			 * error would spin); the bridges go silent until the
			 * span is removed or comes back. */
			gw_warn("span %d: line gone (%s), no more frames",
				sp->span_id, strerror(err));
			span_unpoll(w, sp);
			break;
		}
		/* Only a backlog (the worker was late) brings a second frame
		 * here, so the extra reads cost nothing in steady state. */
		if (nframes++)
			span_rx_drain(w, sp);
		span_frame(sp, rx, seq);
	}
}

static struct span *span_find(struct worker *w, int span_id)
{
	struct span *sp;

	for (sp = w->spans; sp; sp = sp->next)
		if (sp->span_id == span_id)
			return sp;
	return NULL;
}

static void cmd_span_add(struct worker *w, struct span *sp)
{
	struct bridge *b;
	struct xend *e;
	int err;

	sp->next = w->spans;
	w->spans = sp;
	err = epoll_add(w, sp->io.fd, sp);
	if (err)
		gw_err("span %d: cannot poll fd %d: %s", sp->span_id,
		       sp->io.fd, strerror(err));
	else
		sp->polling = true;

	/* Bridges outlive a removal of their span: give them back their
	 * timeslots. */
	for (b = w->bridges; b; b = b->next)
		if (b->type == BRIDGE_RTP && b->span_id == sp->span_id &&
		    !b->span)
			span_attach(sp, b);
	for (e = w->xends; e; e = e->next)
		if (e->span_id == sp->span_id && !e->span)
			xend_attach(sp, e);
}

static void cmd_span_remove(struct worker *w, struct span *sp)
{
	struct span **pp;
	unsigned c;

	span_unpoll(w, sp);
	for (c = 1; c <= sp->io.nchan; c++)
		if (sp->chan[c])
			slot_detach(sp, c);
	for (pp = &w->spans; *pp; pp = &(*pp)->next) {
		if (*pp == sp) {
			*pp = sp->next;
			break;
		}
	}
	/* Events for it may still be in this epoll batch: free it later. */
	sp->next = w->dead_spans;
	w->dead_spans = sp;
}

static void span_free(struct span *sp)
{
	free(sp->chan);
	free(sp->tx);
	free(sp);
}

/* ---- bridges ---------------------------------------------------------- */

static void bridge_link(struct worker *w, struct bridge *b)
{
	b->next = w->bridges;
	if (w->bridges)
		w->bridges->prev = b;
	b->prev = NULL;
	w->bridges = b;
}

static void bridge_unlink(struct worker *w, struct bridge *b)
{
	if (b->prev)
		b->prev->next = b->next;
	else
		w->bridges = b->next;
	if (b->next)
		b->next->prev = b->prev;
}

static void cmd_bridge_start(struct worker *w, struct bridge *b)
{
	struct span *sp;
	unsigned i;
	int err;

	bridge_link(w, b);
	if (b->type == BRIDGE_RELAY) {
		/* Both endpoints on this worker: a packet goes out within
		 * the wake-up that read it, with no cross-thread hand-off. */
		for (i = 0; i < 2; i++) {
			struct brtcp *r = &b->relay.rtcp[i];

			err = epoll_add(w, b->relay.fd[i], &b->relay.port[i]);
			if (err)
				gw_err("relay %u: cannot poll RTP socket: %s",
				       b->id, strerror(err));
			err = r->fd >= 0 ? epoll_add(w, r->fd, &r->src) : 0;
			if (err) {
				gw_err("relay %u: cannot poll RTCP socket: %s",
				       b->id, strerror(err));
				r->fd = -1; /* no reports on that side */
			}
		}
		return;
	}
	err = epoll_add(w, b->fd, b);
	if (err)
		gw_err("bridge %u: cannot poll RTP socket: %s", b->id,
		       strerror(err));
	err = b->rtcp.fd >= 0 ? epoll_add(w, b->rtcp.fd, &b->rtcp.src) : 0;
	if (err) {
		gw_err("bridge %u: cannot poll RTCP socket: %s", b->id,
		       strerror(err));
		b->rtcp.fd = -1; /* no reports then */
	}
	sp = span_find(w, b->span_id);
	if (sp)
		span_attach(sp, b);
}

static void cmd_bridge_stop(struct worker *w, struct bridge *b)
{
	if (b->type == BRIDGE_RELAY) {
		for (unsigned i = 0; i < 2; i++) {
			epoll_del(w, b->relay.fd[i]);
			if (b->relay.rtcp[i].fd >= 0)
				epoll_del(w, b->relay.rtcp[i].fd);
		}
	} else {
		epoll_del(w, b->fd);
		if (b->rtcp.fd >= 0)
			epoll_del(w, b->rtcp.fd);
		span_detach(b);
	}
	bridge_unlink(w, b);
	b->stopped = true;
	b->znext = w->zombies;
	w->zombies = b;
}

static void cmd_bridge_update(struct bridge *b, const struct cmd *c)
{
	if (b->type == BRIDGE_RELAY)
		relay_update(b, c);
	else
		bridge_update(b, c);
}

/* ---- timeslot <-> timeslot ends --------------------------------------- */

static void cmd_xend_start(struct worker *w, struct xend *e)
{
	struct span *sp;

	e->next = w->xends;
	if (w->xends)
		w->xends->prev = e;
	e->prev = NULL;
	w->xends = e;
	sp = span_find(w, e->span_id);
	if (sp)
		xend_attach(sp, e);
}

/* After this the worker never touches the bridge again, so the worker of
 * the end that stops last owns it and reports it. */
static void cmd_xend_stop(struct worker *w, struct xend *e)
{
	struct bridge *b = e->b;

	xend_detach(e);
	if (e->prev)
		e->prev->next = e->next;
	else
		w->xends = e->next;
	if (e->next)
		e->next->prev = e->prev;
	if (atomic_fetch_sub_explicit(&b->xc.live, 1,
				      memory_order_acq_rel) != 1)
		return;
	b->stopped = true;
	b->znext = w->zombies;
	w->zombies = b;
}

/* ---- command queue ---------------------------------------------------- */

void worker_post(struct worker *w, struct cmd *c)
{
	uint64_t one = 1;

	c->next = NULL;
	pthread_mutex_lock(&w->cmd_lock);
	if (w->cmd_tail)
		w->cmd_tail->next = c;
	else
		w->cmd_head = c;
	w->cmd_tail = c;
	pthread_mutex_unlock(&w->cmd_lock);
	/* An eventfd counter cannot overflow at our rates; EAGAIN would
	 * mean it is already readable, which is all we need. */
	(void)!write(w->cmd_fd, &one, sizeof(one));
}

void worker_post_wait(struct worker *w, struct cmd *c)
{
	bool acked = false;

	c->acked = &acked;
	worker_post(w, c);
	pthread_mutex_lock(&w->cmd_lock);
	while (!acked)
		pthread_cond_wait(&w->cmd_cond, &w->cmd_lock);
	pthread_mutex_unlock(&w->cmd_lock);
}

static void worker_cmds(struct worker *w)
{
	struct cmd *c, *next;
	uint64_t val;
	bool ack = false;

	(void)!read(w->cmd_fd, &val, sizeof(val));
	pthread_mutex_lock(&w->cmd_lock);
	c = w->cmd_head;
	w->cmd_head = w->cmd_tail = NULL;
	pthread_mutex_unlock(&w->cmd_lock);

	for (; c; c = next) {
		/* NOTE: take what we need of the command before running it:
		 * the stop of a TDM end may be the other worker's cue to
		 * finish the bridge the command is embedded in, and the
		 * signalling thread frees it then. */
		bool *acked = c->acked;
		bool heap = c->heap;

		next = c->next;
		c->acked = NULL;
		switch (c->type) {
		case CMD_SPAN_ADD:
			cmd_span_add(w, c->span);
			break;
		case CMD_SPAN_REMOVE:
			cmd_span_remove(w, c->span);
			break;
		case CMD_BRIDGE_START:
			cmd_bridge_start(w, c->bridge);
			break;
		case CMD_BRIDGE_UPDATE:
			cmd_bridge_update(c->bridge, c);
			break;
		case CMD_BRIDGE_STOP:
			cmd_bridge_stop(w, c->bridge);
			break;
		case CMD_BRIDGE_DTMF:
			if (!c->bridge->stopped)
				bridge_dtmf(c->bridge, c);
			break;
		case CMD_XEND_START:
			cmd_xend_start(w, c->xend);
			break;
		case CMD_XEND_STOP:
			cmd_xend_stop(w, c->xend);
			break;
		}
		if (acked) {
			pthread_mutex_lock(&w->cmd_lock);
			*acked = true;
			pthread_mutex_unlock(&w->cmd_lock);
			ack = true;
		}
		if (heap)
			free(c);
	}
	if (ack)
		pthread_cond_broadcast(&w->cmd_cond);
}

/* After each epoll batch nothing refers to the removed objects any more. */
static void worker_reap(struct worker *w)
{
	struct bridge *b, *list = w->zombies;
	struct span *sp;

	while ((sp = w->dead_spans)) {
		w->dead_spans = sp->next;
		span_free(sp);
	}
	if (!list)
		return;
	w->zombies = NULL;
	for (b = list; b; b = b->znext)
		bridge_finish(b);
	engine_done_push(w->me, list);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct epoll_event evs[EV_BATCH];
	int i, n;

	while (!atomic_load(&w->quit)) {
		n = epoll_wait(w->epfd, evs, EV_BATCH, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			gw_err("worker %u: epoll_wait: %s", w->idx,
			       strerror(errno));
			break;
		}
		for (i = 0; i < n; i++) {
			void *src = evs[i].data.ptr;

			switch (*(enum src_kind *)src) {
			case SRC_CMD:
				worker_cmds(w);
				break;
			case SRC_SPAN:
				span_serve(w, src);
				break;
			case SRC_BRIDGE:
				bridge_rx(w, src);
				break;
			case SRC_RTCP:
				brtcp_rx(w, src);
				break;
			case SRC_RELAY:
				relay_rx(w, src);
				break;
			}
		}
		worker_reap(w);
	}
	return NULL;
}

/* ---- life cycle ------------------------------------------------------- */

int worker_alloc(struct worker **wp, struct media_engine *me, unsigned idx)
{
	struct worker *w;
	int err = 0;
	int i;

	w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	w->kind = SRC_CMD;
	w->me = me;
	w->idx = idx;
	w->epfd = -1;
	w->cmd_fd = -1;
	atomic_init(&w->quit, false);
	pthread_mutex_init(&w->cmd_lock, NULL);
	pthread_cond_init(&w->cmd_cond, NULL);

	for (i = 0; i < RX_VLEN; i++) {
		w->iov[i].iov_base = w->rxbuf[i];
		w->iov[i].iov_len = RX_BUFSZ;
		w->msgs[i].msg_hdr.msg_iov = &w->iov[i];
		w->msgs[i].msg_hdr.msg_iovlen = 1;
		w->msgs[i].msg_hdr.msg_name = &w->rxname[i];
		w->msgs[i].msg_hdr.msg_namelen = sizeof(w->rxname[i]);
	}

	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->cmd_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->epfd < 0 || w->cmd_fd < 0) {
		err = errno;
		goto out;
	}
	err = epoll_add(w, w->cmd_fd, w);
 out:
	if (err)
		worker_free(w);
	else
		*wp = w;
	return err;
}

int worker_start(struct worker *w)
{
	int err = pthread_create(&w->thread, NULL, worker_main, w);

	if (!err)
		w->running = true;
	return err;
}

void worker_stop(struct worker *w)
{
	uint64_t one = 1;

	if (!w->running)
		return;
	atomic_store(&w->quit, true);
	(void)!write(w->cmd_fd, &one, sizeof(one));
	pthread_join(w->thread, NULL);
	w->running = false;
}

/* The thread is gone: settle the queue as the worker would have, then
 * free everything without telling the signalling side. */
void worker_free(struct worker *w)
{
	struct bridge *b;
	struct span *sp;

	if (!w)
		return;
	if (w->cmd_fd >= 0)
		worker_cmds(w);
	while ((b = w->bridges))
		cmd_bridge_stop(w, b);
	/* A TDM bridge whose other end is on a worker freed later is
	 * freed there. */
	while (w->xends)
		cmd_xend_stop(w, w->xends);
	while ((sp = w->spans))
		cmd_span_remove(w, sp);
	while ((sp = w->dead_spans)) {
		w->dead_spans = sp->next;
		span_free(sp);
	}
	while ((b = w->zombies)) {
		w->zombies = b->znext;
		bridge_free(b);
	}
	if (w->epfd >= 0)
		close(w->epfd);
	if (w->cmd_fd >= 0)
		close(w->cmd_fd);
	pthread_cond_destroy(&w->cmd_cond);
	pthread_mutex_destroy(&w->cmd_lock);
	free(w);
}
