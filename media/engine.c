/* media/engine.c  Media engine API: spans, bridges, completion queue */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define LOG_MODULE "media"
#include "util/util.h"

#include "media/core.h"

/* ---- completion queue (worker -> signalling thread) ------------------- */

void engine_done_push(struct media_engine *me, struct bridge *list)
{
	uint64_t one = 1;
	struct bridge *b, *next;

	pthread_mutex_lock(&me->done_lock);
	for (b = list; b; b = next) {
		next = b->znext;
		b->znext = NULL;
		if (me->done_tail)
			me->done_tail->znext = b;
		else
			me->done_head = b;
		me->done_tail = b;
	}
	pthread_mutex_unlock(&me->done_lock);
	(void)!write(me->done_fd, &one, sizeof(one));
}

static bool report_push(struct media_engine *me,
			const struct dtmf_report *r)
{
	uint64_t one = 1;
	bool queued = false;

	/* Once per digit or tone, not per frame: the lock costs nothing
	 * here. */
	pthread_mutex_lock(&me->done_lock);
	if (me->nreports < DTMF_REPORTS) {
		me->reports[me->nreports++] = *r;
		queued = true;
	}
	pthread_mutex_unlock(&me->done_lock);
	if (queued)
		(void)!write(me->done_fd, &one, sizeof(one));
	return queued;
}

void engine_dtmf_push(struct media_engine *me, uint32_t id, char digit,
		      unsigned ms)
{
	struct dtmf_report r = { .id = id, .digit = digit, .ms = ms };

	if (!report_push(me, &r))
		gw_warn("bridge %u: digit %c lost: report queue full", id,
			digit);
}

void engine_fax_push(struct media_engine *me, uint32_t id,
		     enum media_fax_tone tone, bool from_tdm)
{
	struct dtmf_report r = { .id = id, .fax_tone = (uint8_t)tone,
				 .from_tdm = from_tdm };

	if (!report_push(me, &r))
		gw_warn("bridge %u: fax tone lost: report queue full", id);
}

void media_engine_set_fax_handler(struct media_engine *me, media_fax_h *h,
				  void *arg)
{
	if (!me)
		return;
	me->fax_h = h;
	me->fax_arg = arg;
}

void media_engine_set_dtmf_handler(struct media_engine *me, media_dtmf_h *h,
				   void *arg)
{
	if (!me)
		return;
	me->dtmf_h = h;
	me->dtmf_arg = arg;
}

int media_engine_fd(const struct media_engine *me)
{
	return me ? me->done_fd : -1;
}

void media_engine_poll(struct media_engine *me)
{
	struct dtmf_report rep[DTMF_REPORTS];
	struct bridge *b, *next;
	unsigned i, nrep;
	uint64_t val;

	if (!me)
		return;
	(void)!read(me->done_fd, &val, sizeof(val));
	pthread_mutex_lock(&me->done_lock);
	b = me->done_head;
	me->done_head = me->done_tail = NULL;
	nrep = me->nreports;
	memcpy(rep, me->reports, nrep * sizeof(rep[0]));
	me->nreports = 0;
	pthread_mutex_unlock(&me->done_lock);

	/* Digits before the bridges that may have ended after them. */
	for (i = 0; i < nrep; i++) {
		if (rep[i].fax_tone && me->fax_h)
			me->fax_h(me->fax_arg, rep[i].id,
				  (enum media_fax_tone)rep[i].fax_tone,
				  rep[i].from_tdm);
		else if (!rep[i].fax_tone && me->dtmf_h)
			me->dtmf_h(me->dtmf_arg, rep[i].id, rep[i].digit,
				   rep[i].ms);
	}

	for (; b; b = next) {
		next = b->znext;
		if (me->done)
			me->done(b->cookie, &b->st);
		bridge_free(b);
	}
}

/* ---- engine ----------------------------------------------------------- */

int media_engine_alloc(struct media_engine **mep, unsigned workers,
		       media_bridge_done_h *done)
{
	struct media_engine *me;
	unsigned i;
	int err = 0;

	if (!mep || workers == 0)
		return EINVAL;
	me = calloc(1, sizeof(*me));
	if (!me)
		return ENOMEM;
	me->done = done;
	pthread_mutex_init(&me->done_lock, NULL);
	me->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (me->done_fd < 0) {
		err = errno;
		goto out;
	}
	err = tg_random(&me->port_cursor, sizeof(me->port_cursor));
	if (err)
		goto out;

	me->workers = calloc(workers, sizeof(*me->workers));
	if (!me->workers) {
		err = ENOMEM;
		goto out;
	}
	for (i = 0; i < workers; i++) {
		err = worker_alloc(&me->workers[i], me, i);
		if (err)
			goto out;
		me->nworkers++;
	}
	for (i = 0; i < workers; i++) {
		err = worker_start(me->workers[i]);
		if (err)
			goto out;
	}
 out:
	if (err)
		media_engine_free(me);
	else
		*mep = me;
	return err;
}

void media_engine_free(struct media_engine *me)
{
	struct span_ref *ref;
	struct bridge *b;
	unsigned i;

	if (!me)
		return;
	for (i = 0; i < me->nworkers; i++)
		worker_stop(me->workers[i]);
	for (i = 0; i < me->nworkers; i++)
		worker_free(me->workers[i]);
	free(me->workers);

	/* Finished but not yet delivered: dropped without callbacks. */
	while ((b = me->done_head)) {
		me->done_head = b->znext;
		bridge_free(b);
	}
	while ((ref = me->spans)) {
		me->spans = ref->next;
		free(ref->busy);
		free(ref);
	}
	if (me->done_fd >= 0)
		close(me->done_fd);
	pthread_mutex_destroy(&me->done_lock);
	free(me);
}

/* ---- spans ------------------------------------------------------------ */

static struct span_ref *span_ref_find(struct media_engine *me, int span_id)
{
	struct span_ref *ref;

	for (ref = me->spans; ref; ref = ref->next)
		if (ref->span_id == span_id)
			return ref;
	return NULL;
}

static bool law_valid(enum media_law law)
{
	return law == MEDIA_PCMU || law == MEDIA_PCMA;
}

static int span_ref_get(struct span_ref **refp, struct media_engine *me,
			int span_id, unsigned nchan)
{
	struct span_ref *ref = span_ref_find(me, span_id);
	uint32_t *busy;

	if (ref && nchan <= ref->busy_len)
		goto out;
	busy = calloc(nchan + 1, sizeof(*busy));
	if (!busy)
		return ENOMEM;
	if (!ref) {
		ref = calloc(1, sizeof(*ref));
		if (!ref) {
			free(busy);
			return ENOMEM;
		}
		ref->span_id = span_id;
		ref->widx = me->span_rr++ % me->nworkers;
		ref->next = me->spans;
		me->spans = ref;
	} else {
		/* Bridges that outlived a removal keep their timeslots. */
		memcpy(busy, ref->busy, (ref->busy_len + 1) * sizeof(*busy));
		free(ref->busy);
	}
	ref->busy = busy;
	ref->busy_len = nchan;
 out:
	ref->nchan = nchan;
	*refp = ref;
	return 0;
}

int media_engine_add_span(struct media_engine *me, int span_id,
			  const struct media_tdm_io *io)
{
	struct span_ref *ref;
	struct span *sp;
	int err;

	if (!me || !io || io->fd < 0 || io->nchan == 0 || io->nchan > 1024 ||
	    !io->recv || !io->send || !law_valid(io->law))
		return EINVAL;
	ref = span_ref_find(me, span_id);
	if (ref && ref->sp)
		return EEXIST;

	sp = calloc(1, sizeof(*sp));
	if (!sp)
		return ENOMEM;
	sp->kind = SRC_SPAN;
	sp->io = *io;
	sp->span_id = span_id;
	sp->chan = calloc(io->nchan + 1, sizeof(*sp->chan));
	sp->tx = malloc((size_t)io->nchan * MEDIA_FRAME_SAMPLES);
	if (!sp->chan || !sp->tx) {
		err = ENOMEM;
		goto out;
	}
	err = span_ref_get(&ref, me, span_id, io->nchan);
	if (err)
		goto out;
	ref->law = io->law;
	ref->sp = sp;
	sp->cmd_add.type = CMD_SPAN_ADD;
	sp->cmd_add.span = sp;
	sp->cmd_remove.type = CMD_SPAN_REMOVE;
	sp->cmd_remove.span = sp;
	worker_post(me->workers[ref->widx], &sp->cmd_add);
 out:
	if (err) {
		free(sp->chan);
		free(sp->tx);
		free(sp);
	}
	return err;
}

/* NOTE: this waits (microseconds) until the worker has let go of the
 * span, so the caller may close io->fd and free io->arg right after. */
int media_engine_remove_span(struct media_engine *me, int span_id)
{
	struct span_ref *ref;

	if (!me)
		return EINVAL;
	ref = span_ref_find(me, span_id);
	if (!ref || !ref->sp)
		return ENOENT;
	worker_post_wait(me->workers[ref->widx], &ref->sp->cmd_remove);
	ref->sp = NULL;
	return 0;
}

/* ---- bridges ---------------------------------------------------------- */

static struct bridge **hash_slot(struct media_engine *me, uint32_t id)
{
	return &me->hash[id & (MEDIA_HASH_SIZE - 1)];
}

static struct bridge *bridge_find(struct media_engine *me, uint32_t id)
{
	struct bridge *b;

	for (b = *hash_slot(me, id); b; b = b->hnext)
		if (b->id == id)
			return b;
	return NULL;
}

/* Bridge @p id when it is of @p type: ENOENT none, EINVAL another kind. */
static int bridge_typed(struct media_engine *me, uint32_t id,
			enum bridge_type type, struct bridge **bp)
{
	*bp = bridge_find(me, id);
	if (!*bp)
		return ENOENT;
	return (*bp)->type == type ? 0 : EINVAL;
}

/* A command for @p b that the worker frees when it has run it. */
static struct cmd *heap_cmd(struct bridge *b, enum cmd_type type)
{
	struct cmd *c = calloc(1, sizeof(*c));

	if (c) {
		c->type = type;
		c->heap = true;
		c->bridge = b;
	}
	return c;
}

static uint32_t bridge_new_id(struct media_engine *me)
{
	do {
		me->next_id++;
	} while (me->next_id == 0 || bridge_find(me, me->next_id));
	return me->next_id;
}

static bool srtp_valid(const struct media_srtp_keys *k)
{
	return k->suite == MEDIA_SRTP_NONE || msrtp_key_len(k->suite);
}

static bool keys_same(const struct media_srtp_keys *a,
		      const struct media_srtp_keys *b)
{
	size_t n = msrtp_key_len(a->suite);

	return a->suite == b->suite && !memcmp(a->tx_key, b->tx_key, n) &&
	       !memcmp(a->rx_key, b->rx_key, n);
}

/* The SRTP context for @p k, NULL for plain RTP (signalling thread: it
 * allocates). */
static int srtp_ctx(struct msrtp **cp, const struct media_srtp_keys *k)
{
	*cp = NULL;
	if (k->suite == MEDIA_SRTP_NONE)
		return 0;
	return msrtp_alloc(cp, k);
}

/* An update command re-keys when the keys differ from the last ones. */
static int rekey_cmd(struct cmd *c, struct media_srtp_keys *last,
		     const struct media_srtp_keys *k)
{
	int err;

	if (keys_same(last, k))
		return 0;
	err = srtp_ctx(&c->srtp, k);
	if (err)
		return err;
	c->rekey = true;
	*last = *k;
	return 0;
}

static int params_check(const struct media_bridge_params *prm, int family)
{
	if (!srtp_valid(&prm->srtp))
		return EINVAL;
	if (!mcodec_valid(prm->rtp_law))
		return EINVAL;
	if (prm->dtmf > MEDIA_DTMF_REPORT)
		return EINVAL;
	if (prm->dtmf == MEDIA_DTMF_RFC4733 &&
	    (prm->te_tx_pt < 96 || prm->te_tx_pt > 127 ||
	     prm->te_rx_pt < 96 || prm->te_rx_pt > 127))
		return EINVAL; /* RFC 3551 6: events have a dynamic type */
	if (prm->ptime && (prm->ptime % 10 || prm->ptime > MEDIA_MAX_PTIME))
		return EINVAL;
	if (prm->remote_len == 0 || prm->remote_len > sizeof(prm->remote))
		return EINVAL;
	if (prm->echo_tail_ms && (prm->echo_tail_ms < ECHO_TAIL_MIN ||
				  prm->echo_tail_ms > ECHO_TAIL_MAX))
		return EINVAL;
	if (prm->jb_max_ms && (prm->jb_max_ms > JB_MAX_MS ||
			       prm->jb_max_ms < JB_FRAME / 8 ||
			       prm->jb_min_ms > prm->jb_max_ms))
		return EINVAL;
	if (prm->t38.on && (prm->t38.version > 3 ||
			    prm->t38.redundancy > UDPTL_MAX_SEC))
		return EINVAL;
	if (prm->remote.ss_family != family)
		return EAFNOSUPPORT;
	return 0;
}

/* A T.38 gateway for bridge @p b as @p t says (signalling thread). */
static int t38_new(struct t38gw **gp, struct bridge *b,
		   const struct media_t38 *t)
{
	struct t38gw_params p = {
		.version = t->version,
		.max_bitrate = t->max_bitrate,
		.fill_bit_removal = t->fill_bit_removal,
		.transferred_tcf = t->transferred_tcf,
		.redundancy = t->redundancy,
		.max_datagram = t->max_datagram,
		.ecm = t->ecm,
	};

	return t38gw_alloc(gp, &p, bridge_t38_send, b);
}

int media_bridge_start(struct media_engine *me, uint32_t *idp,
		       struct media_rtp *rtp,
		       const struct media_bridge_params *prm, void *cookie)
{
	struct span_ref *ref;
	struct bridge *b;
	struct {
		uint32_t ssrc, ts;
		uint32_t rtcp[2];
		uint16_t seq;
	} rnd;
	int err;

	if (!me || !idp || !rtp || !prm)
		return EINVAL;
	err = params_check(prm, rtp->family);
	if (err)
		return err;
	ref = span_ref_find(me, prm->span_id);
	if (!ref || !ref->sp)
		return ENOENT;
	if (prm->chan < 1 || prm->chan > ref->nchan)
		return EINVAL;
	if (ref->busy[prm->chan])
		return EBUSY;
	/* RFC 3550 5.1: random initial sequence, timestamp and SSRC. */
	err = tg_random(&rnd, sizeof(rnd));
	if (err)
		return err;

	b = calloc(1, sizeof(*b));
	if (!b)
		return ENOMEM;
	b->kind = SRC_BRIDGE;
	b->type = BRIDGE_RTP;
	b->id = bridge_new_id(me);
	b->widx = ref->widx;
	b->span_id = prm->span_id;
	b->chan = prm->chan;
	b->cookie = cookie;
	b->family = rtp->family;
	b->rtp = rtp;
	b->fd = rtp->fd;
	memcpy(&b->remote, &prm->remote, prm->remote_len);
	b->remote_len = prm->remote_len;
	latch_signal(&b->latch, prm->latch, &prm->remote, prm->remote_len,
		     tg_mono_ms());
	b->tx_hold = prm->hold;
	jbuf_init(&b->jb, ref->law, prm->jb_min_ms, prm->jb_max_ms,
		  prm->jb_fixed ? JB_FIXED : JB_ADAPTIVE);
	err = bridge_set_laws(b, prm->rtp_law, ref->law);
	if (err) {
		free(b);
		return err;
	}
	/* The detector whatever the mode, so an update may turn it on
	 * without allocating on the worker. */
	err = dtmf_det_init(&b->det);
	if (!err) {
		err = echo_init(&b->ec, prm->echo_tail_ms);
		if (err)
			dtmf_det_free(&b->det);
	}
	if (!err) {
		err = srtp_ctx(&b->srtp, &prm->srtp);
		if (err) {
			echo_free(&b->ec);
			dtmf_det_free(&b->det);
		}
	}
	if (!err && prm->fax_detect) {
		err = faxtone_init(&b->fax);
		b->fax_detect = !err;
	}
	if (!err && prm->t38.on) {
		err = t38_new(&b->t38, b, &prm->t38);
		b->t38_on = !err;
	}
	if (err) {
		mcodec_free(&b->codec);
		faxtone_free(&b->fax);
		msrtp_free(b->srtp);
		echo_free(&b->ec);
		dtmf_det_free(&b->det);
		free(b);
		return err;
	}
	b->keys[0] = prm->srtp;
	b->me = me;
	b->dtmf = prm->dtmf;
	b->te_tx_pt = prm->te_tx_pt;
	b->te_rx_pt = prm->te_rx_pt;
	bridge_dtmf_reset(b);
	b->tx_samples = (prm->ptime ? prm->ptime : 20) * 8;
	b->tx.marker = true;
	b->tx.ssrc = rnd.ssrc;
	b->tx.ts = rnd.ts;
	b->tx.seq = rnd.seq;
	brtcp_init(b, rnd.rtcp, media_mono_us());
	/* Until the first packet a bridge is as quiet as since now. */
	atomic_init(&b->rx_ms[0], tg_mono_ms());
	atomic_init(&b->rx_ms[1], tg_mono_ms());
	b->cmd_start.type = CMD_BRIDGE_START;
	b->cmd_start.bridge = b;
	b->cmd_stop.type = CMD_BRIDGE_STOP;
	b->cmd_stop.bridge = b;

	b->hnext = *hash_slot(me, b->id);
	*hash_slot(me, b->id) = b;
	ref->busy[b->chan] = b->id;
	*idp = b->id;
	gw_dbg(GW_DBG_MEDIA, "bridge %u: start span %d/%u port %u", b->id,
	       b->span_id, b->chan, rtp->port);
	worker_post(me->workers[b->widx], &b->cmd_start);
	return 0;
}

int media_bridge_update(struct media_engine *me, uint32_t id,
			const struct media_bridge_params *prm)
{
	struct media_srtp_keys keys;
	struct bridge *b;
	struct cmd *c;
	int err;

	if (!me || !prm)
		return EINVAL;
	err = bridge_typed(me, id, BRIDGE_RTP, &b);
	if (!err)
		err = params_check(prm, b->family);
	if (err)
		return err;
	c = heap_cmd(b, CMD_BRIDGE_UPDATE);
	if (!c)
		return ENOMEM;
	memcpy(&c->remote, &prm->remote, prm->remote_len);
	c->remote_len = prm->remote_len;
	c->law = prm->rtp_law;
	c->ptime = prm->ptime ? prm->ptime : 20;
	c->dtmf = prm->dtmf;
	c->te_tx_pt = prm->te_tx_pt;
	c->te_rx_pt = prm->te_rx_pt;
	c->hold = prm->hold;
	c->latch = prm->latch;
	c->fax_passthrough = prm->fax_passthrough;
	c->jb_ms = prm->jb_min_ms ? prm->jb_min_ms : 60;
	keys = b->keys[0];
	err = rekey_cmd(c, &b->keys[0], &prm->srtp);
	/* Only a change of mode touches the gateway: a session refresh or
	 * another re-INVITE during a fax keeps the running one. */
	if (!err && prm->t38.on != b->t38_on) {
		c->t38_set = true;
		if (prm->t38.on)
			err = t38_new(&c->t38gw, b, &prm->t38);
		if (err) {
			msrtp_free(c->srtp);
			b->keys[0] = keys;
		}
	}
	if (err) {
		free(c);
		return err;
	}
	if (c->t38_set)
		b->t38_on = prm->t38.on;
	worker_post(me->workers[b->widx], c);
	return 0;
}

int media_bridge_rx_idle(struct media_engine *me, uint32_t id,
			 unsigned *ms)
{
	struct bridge *b;
	int64_t last, now = tg_mono_ms();

	if (!me || !ms)
		return EINVAL;
	b = bridge_find(me, id);
	if (!b)
		return ENOENT;
	if (b->type == BRIDGE_TDM)
		return EINVAL;
	last = atomic_load_explicit(&b->rx_ms[0], memory_order_relaxed);
	if (b->type == BRIDGE_RELAY) {
		int64_t l1 = atomic_load_explicit(&b->rx_ms[1],
						  memory_order_relaxed);

		if (l1 < last)
			last = l1;
	}
	*ms = now > last ? (unsigned)(now - last) : 0;
	return 0;
}

int media_bridge_dtmf(struct media_engine *me, uint32_t id, char digit,
		      unsigned duration_ms)
{
	int event = te_event_of(digit), err;
	struct bridge *b;
	struct cmd *c;

	if (!me || event < 0)
		return EINVAL;
	err = bridge_typed(me, id, BRIDGE_RTP, &b);
	if (err)
		return err;
	c = heap_cmd(b, CMD_BRIDGE_DTMF);
	if (!c)
		return ENOMEM;
	c->event = (uint8_t)event;
	/* At most 8 s, as one RFC 4733 event segment. */
	c->dur = (duration_ms > 8000 ? 8000 : duration_ms) * 8;
	worker_post(me->workers[b->widx], c);
	return 0;
}

static void busy_clear(struct media_engine *me, int span_id, unsigned chan,
		       uint32_t id)
{
	struct span_ref *ref = span_ref_find(me, span_id);

	if (ref && chan <= ref->busy_len && ref->busy[chan] == id)
		ref->busy[chan] = 0;
}

int media_bridge_stop(struct media_engine *me, uint32_t id)
{
	struct bridge **pp, *b;
	struct xend *e;

	if (!me)
		return EINVAL;
	for (pp = hash_slot(me, id); (b = *pp); pp = &b->hnext)
		if (b->id == id)
			break;
	if (!b)
		return ENOENT;
	*pp = b->hnext;
	gw_dbg(GW_DBG_MEDIA, "bridge %u: stop", id);
	/* A timeslot is free for a new bridge at once: a start for it goes
	 * to the same worker's queue behind this stop. */
	switch (b->type) {
	case BRIDGE_RTP:
		busy_clear(me, b->span_id, b->chan, id);
		/* fall through */
	case BRIDGE_RELAY:
		worker_post(me->workers[b->widx], &b->cmd_stop);
		break;
	case BRIDGE_TDM:
		for (e = b->xc.end; e < b->xc.end + 2; e++) {
			busy_clear(me, e->span_id, e->chan, id);
			worker_post(me->workers[e->widx], &e->cmd_stop);
		}
		break;
	}
	return 0;
}

/* ---- relays ----------------------------------------------------------- */

static int side_check(const struct media_relay_side *s, int family)
{
	if (!mcodec_valid(s->law))
		return EINVAL;
	if (s->ptime && (s->ptime % 10 || s->ptime > MEDIA_MAX_PTIME))
		return EINVAL;
	if (s->remote_len > sizeof(s->remote))
		return EINVAL;
	if (s->remote_len && s->remote.ss_family != family)
		return EAFNOSUPPORT;
	if (!srtp_valid(&s->srtp))
		return EINVAL;
	return 0;
}

static bool te_valid(int pt)
{
	return pt >= 96 && pt <= 127;
}

static void side_set(struct relay_side *rs, const struct media_relay_side *s)
{
	memcpy(&rs->remote, &s->remote, s->remote_len);
	rs->remote_len = s->remote_len;
	latch_signal(&rs->latch, s->latch, &s->remote, s->remote_len,
		     tg_mono_ms());
	rs->law = s->law;
	rs->ptime = s->ptime ? s->ptime : 20;
	/* Only a pair of dynamic types maps: 0 (PCMU) never is one. */
	if (te_valid(s->te_rx_pt) && te_valid(s->te_tx_pt)) {
		rs->te_rx_pt = s->te_rx_pt;
		rs->te_tx_pt = s->te_tx_pt;
	} else {
		rs->te_rx_pt = rs->te_tx_pt = 0;
	}
}

static void bridge_register(struct media_engine *me, struct bridge *b,
			    uint32_t *idp)
{
	b->id = bridge_new_id(me);
	b->hnext = *hash_slot(me, b->id);
	*hash_slot(me, b->id) = b;
	*idp = b->id;
}

int media_relay_start(struct media_engine *me, uint32_t *idp,
		      struct media_rtp *a, const struct media_relay_side *sa,
		      struct media_rtp *b, const struct media_relay_side *sb,
		      void *cookie)
{
	struct media_rtp *ep[2] = {a, b};
	const struct media_relay_side *sides[2] = {sa, sb};
	struct {
		uint32_t ssrc, ts;
		uint16_t seq;
	} rnd[2];
	uint32_t rtcp_rnd[4];
	struct bridge *br;
	struct relay *r;
	unsigned i;
	int err;

	if (!me || !idp || !a || !b || !sa || !sb || a == b)
		return EINVAL;
	err = side_check(sa, a->family);
	if (!err)
		err = side_check(sb, b->family);
	if (err)
		return err;
	/* RFC 3550 5.1: random initial sequence, timestamp and SSRC for
	 * each outgoing stream. */
	err = tg_random(rnd, sizeof(rnd));
	if (!err)
		err = tg_random(rtcp_rnd, sizeof(rtcp_rnd));
	if (err)
		return err;
	br = calloc(1, sizeof(*br));
	if (!br)
		return ENOMEM;
	br->kind = SRC_BRIDGE;
	br->type = BRIDGE_RELAY;
	br->widx = me->relay_rr++ % me->nworkers;
	br->cookie = cookie;
	br->family = a->family;
	r = &br->relay;
	for (i = 0; i < 2; i++) {
		err = srtp_ctx(&r->side[i].srtp, &sides[i]->srtp);
		if (err) {
			msrtp_free(r->side[0].srtp);
			free(br);
			return err;
		}
		br->keys[i] = sides[i]->srtp;
	}
	for (i = 0; i < 2; i++) {
		struct relay_dir *d = &r->dir[i];

		r->port[i] = (struct relay_port){SRC_RELAY, br, i};
		r->rtp[i] = ep[i];
		r->fd[i] = ep[i]->fd;
		side_set(&r->side[i], sides[i]);
		/* dir i leaves through endpoint 1 - i */
		d->out_ssrc = rnd[1 - i].ssrc;
		d->out_seq = rnd[1 - i].seq;
		d->out_ts = rnd[1 - i].ts;
		d->out_samples = MEDIA_FRAME_SAMPLES;
	}
	if (r->dir[0].out_ssrc == r->dir[1].out_ssrc)
		r->dir[0].out_ssrc ^= 0x5a5a5a5a;
	err = relay_codecs(r);
	if (err) {
		relay_codecs_free(r);
		msrtp_free(r->side[0].srtp);
		msrtp_free(r->side[1].srtp);
		free(br);
		return err;
	}
	relay_rtcp_init(br, rtcp_rnd, media_mono_us());
	atomic_init(&br->rx_ms[0], tg_mono_ms());
	atomic_init(&br->rx_ms[1], tg_mono_ms());
	br->cmd_start.type = CMD_BRIDGE_START;
	br->cmd_start.bridge = br;
	br->cmd_stop.type = CMD_BRIDGE_STOP;
	br->cmd_stop.bridge = br;
	bridge_register(me, br, idp);
	gw_dbg(GW_DBG_MEDIA, "relay %u: start ports %u <-> %u", br->id,
	       a->port, b->port);
	worker_post(me->workers[br->widx], &br->cmd_start);
	return 0;
}

int media_relay_update(struct media_engine *me, uint32_t id, unsigned side,
		       const struct media_relay_side *s)
{
	struct bridge *b;
	struct cmd *c;
	int err;

	if (!me || !s || side > 1)
		return EINVAL;
	err = bridge_typed(me, id, BRIDGE_RELAY, &b);
	if (!err)
		err = side_check(s, b->relay.rtp[side]->family);
	if (err)
		return err;
	c = heap_cmd(b, CMD_BRIDGE_UPDATE);
	if (!c)
		return ENOMEM;
	c->side = side;
	memcpy(&c->remote, &s->remote, s->remote_len);
	c->remote_len = s->remote_len;
	c->law = s->law;
	c->ptime = s->ptime ? s->ptime : 20;
	c->latch = s->latch;
	if (te_valid(s->te_rx_pt) && te_valid(s->te_tx_pt)) {
		c->te_rx_pt = s->te_rx_pt;
		c->te_tx_pt = s->te_tx_pt;
	}
	err = rekey_cmd(c, &b->keys[side], &s->srtp);
	if (err) {
		free(c);
		return err;
	}
	worker_post(me->workers[b->widx], c);
	return 0;
}

/* ---- timeslot <-> timeslot -------------------------------------------- */

static int slot_check(struct span_ref **refp, struct media_engine *me,
		      int span_id, unsigned chan)
{
	struct span_ref *ref = span_ref_find(me, span_id);

	if (!ref || !ref->sp)
		return ENOENT;
	if (chan < 1 || chan > ref->nchan)
		return EINVAL;
	if (ref->busy[chan])
		return EBUSY;
	*refp = ref;
	return 0;
}

int media_tdm_bridge_start(struct media_engine *me, uint32_t *idp,
			   int span_a, unsigned chan_a, int span_b,
			   unsigned chan_b, void *cookie)
{
	struct span_ref *ref[2];
	const int span[2] = {span_a, span_b};
	const unsigned chan[2] = {chan_a, chan_b};
	struct bridge *b;
	unsigned i;
	int err;

	if (!me || !idp || (span_a == span_b && chan_a == chan_b))
		return EINVAL;
	for (i = 0; i < 2; i++) {
		err = slot_check(&ref[i], me, span[i], chan[i]);
		if (err)
			return err;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return ENOMEM;
	b->kind = SRC_BRIDGE;
	b->type = BRIDGE_TDM;
	b->cookie = cookie;
	atomic_init(&b->xc.live, 2);
	atomic_init(&b->xc.ring[0].head, 0);
	atomic_init(&b->xc.ring[0].tail, 0);
	atomic_init(&b->xc.ring[1].head, 0);
	atomic_init(&b->xc.ring[1].tail, 0);
	bridge_register(me, b, idp);
	for (i = 0; i < 2; i++) {
		struct xend *e = &b->xc.end[i];

		e->b = b;
		e->idx = i;
		e->span_id = span[i];
		e->chan = chan[i];
		e->widx = ref[i]->widx;
		e->cmd_start.type = CMD_XEND_START;
		e->cmd_start.xend = e;
		e->cmd_stop.type = CMD_XEND_STOP;
		e->cmd_stop.xend = e;
		ref[i]->busy[chan[i]] = b->id;
	}
	gw_dbg(GW_DBG_MEDIA, "bridge %u: start span %d/%u <-> %d/%u", b->id,
	       span_a, chan_a, span_b, chan_b);
	/* The mutex of each queue publishes the whole bridge to its
	 * worker. */
	for (i = 0; i < 2; i++)
		worker_post(me->workers[b->xc.end[i].widx],
			    &b->xc.end[i].cmd_start);
	return 0;
}
