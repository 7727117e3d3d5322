/* media/core.h  Internal: engine, worker, span and bridge objects */
#ifndef TG_MEDIA_CORE_H
#define TG_MEDIA_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "media/jbuf.h"
#include "media/media.h"
#include "media/rtp.h"

#define MEDIA_MAX_PTIME 60
#define MEDIA_MAX_PKT_SAMPLES (MEDIA_MAX_PTIME * 8)
#define MEDIA_HASH_SIZE 1024   /* bridge ids, signalling thread only */
#define RX_VLEN 16             /* recvmmsg batch */
#define RX_BUFSZ 2048

/* What an epoll event's data.ptr points at: each source starts with one. */
enum src_kind {
	SRC_CMD = 1,
	SRC_SPAN,
	SRC_BRIDGE,
};

enum cmd_type {
	CMD_SPAN_ADD,
	CMD_SPAN_REMOVE,
	CMD_BRIDGE_START,
	CMD_BRIDGE_UPDATE,
	CMD_BRIDGE_STOP,
};

/* A command for one worker.  Start/stop/add/remove are embedded in their
 * object so that posting them cannot fail; updates are allocated. */
struct cmd {
	struct cmd *next;
	enum cmd_type type;
	bool heap;              /* free after processing */
	bool *acked;            /* set under the queue lock when processed */
	struct span *span;
	struct bridge *bridge;
	struct sockaddr_storage remote;
	socklen_t remote_len;
	enum media_law law;
	unsigned ptime;
};

struct span {
	enum src_kind kind;     /* SRC_SPAN */
	struct media_tdm_io io;
	int span_id;
	bool polling;           /* fd in the worker's epoll set */
	struct bridge **chan;   /* [nchan + 1], by timeslot */
	uint8_t *tx;            /* the answer frame, nchan * 160 */
	struct span *next;      /* worker's span list, or its dead list */
	struct cmd cmd_add;
	struct cmd cmd_remove;
};

struct bridge {
	enum src_kind kind;     /* SRC_BRIDGE */

	/* Set on the signalling thread before the start command; read-only
	 * afterwards, except hnext which only that thread uses. */
	uint32_t id;
	unsigned widx;
	int span_id;
	unsigned chan;
	int family;             /* of the RTP socket */
	void *cookie;
	struct bridge *hnext;
	struct cmd cmd_start;
	struct cmd cmd_stop;

	/* Owned by the worker once started. */
	struct media_rtp *rtp;
	int fd;
	struct span *span;      /* NULL while its span is absent */
	struct bridge *prev, *next;
	struct bridge *znext;   /* worker's reap list, then the done list */
	bool stopped;

	struct sockaddr_storage remote;
	socklen_t remote_len;
	enum media_law rtp_law;
	enum media_law span_law;
	const uint8_t *tx_conv; /* span law -> RTP law */
	const uint8_t *rx_conv; /* RTP law -> span law */

	unsigned tx_samples;    /* per RTP packet */
	unsigned tx_fill;
	struct rtp_hdr tx;

	bool rx_sync;
	uint32_t rx_ssrc;
	uint16_t rx_last_seq;
	int64_t rx_max_ext;     /* extended highest sequence number */
	int64_t rx_base_ext;
	uint64_t rx_seen;       /* packets of this SSRC, late ones too */

	struct media_stats st;
	struct jbuf jb;
	uint8_t pkt[RTP_HDR_LEN + MEDIA_MAX_PKT_SAMPLES];
};

struct media_rtp {
	int fd;
	int rtcp_fd;
	uint16_t port;
	int family;
};

struct worker {
	enum src_kind kind;     /* SRC_CMD: the command eventfd */
	struct media_engine *me;
	unsigned idx;
	pthread_t thread;
	bool running;
	int epfd;
	int cmd_fd;
	atomic_bool quit;

	pthread_mutex_t cmd_lock;
	pthread_cond_t cmd_cond;
	struct cmd *cmd_head, *cmd_tail;

	struct span *spans;
	struct span *dead_spans;
	struct bridge *bridges;
	struct bridge *zombies;

	struct mmsghdr msgs[RX_VLEN];
	struct iovec iov[RX_VLEN];
	uint8_t rxbuf[RX_VLEN][RX_BUFSZ];
};

/* What the signalling thread knows of a span (kept after removal so a
 * re-added span returns to the worker that holds its bridges). */
struct span_ref {
	struct span_ref *next;
	int span_id;
	unsigned widx;
	unsigned nchan;         /* of the span as last added */
	unsigned busy_len;      /* timeslots in busy[], >= nchan */
	enum media_law law;
	struct span *sp;        /* NULL while removed */
	uint32_t *busy;         /* [busy_len + 1]: bridge id per timeslot */
};

struct media_engine {
	struct worker **workers;
	unsigned nworkers;
	unsigned span_rr;
	media_bridge_done_h *done;

	int done_fd;
	pthread_mutex_t done_lock;
	struct bridge *done_head, *done_tail;
	bool closing;

	struct span_ref *spans;
	struct bridge *hash[MEDIA_HASH_SIZE];
	uint32_t next_id;
	uint32_t port_cursor;
};

/* worker.c */
int worker_alloc(struct worker **wp, struct media_engine *me, unsigned idx);
int worker_start(struct worker *w);
void worker_stop(struct worker *w);
void worker_free(struct worker *w);
void worker_post(struct worker *w, struct cmd *c);
void worker_post_wait(struct worker *w, struct cmd *c);

/* bridge.c */
void bridge_set_laws(struct bridge *b, enum media_law rtp_law,
		     enum media_law span_law);
void bridge_update(struct bridge *b, const struct cmd *c);
void bridge_frame(struct bridge *b, const uint8_t *in, uint8_t *out);
void bridge_rx(struct worker *w, struct bridge *b);
void bridge_finish(struct bridge *b);
void bridge_free(struct bridge *b);

/* engine.c: the worker hands a finished bridge to the signalling side. */
void engine_done_push(struct media_engine *me, struct bridge *list);

#endif
