/* media/core.h  Internal: engine, worker, span and bridge objects */
#ifndef TG_MEDIA_CORE_H
#define TG_MEDIA_CORE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

#include "media/codec.h"
#include "media/dtmf.h"
#include "media/echo.h"
#include "media/faxtone.h"
#include "media/jbuf.h"
#include "media/latch.h"
#include "media/media.h"
#include "media/rfc4733.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/srtp.h"
#include "media/t38gw.h"

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
	SRC_RELAY,              /* one endpoint of a relay */
	SRC_RTCP,               /* an RTCP port: a timeslot <-> RTP
				 * bridge's, or one of a relay's */
};

enum cmd_type {
	CMD_SPAN_ADD,
	CMD_SPAN_REMOVE,
	CMD_BRIDGE_START,
	CMD_BRIDGE_UPDATE,
	CMD_BRIDGE_STOP,
	CMD_BRIDGE_DTMF,        /* play a digit */
	CMD_XEND_START,         /* one timeslot of a TDM <-> TDM bridge */
	CMD_XEND_STOP,
};

enum bridge_type {
	BRIDGE_RTP,             /* timeslot <-> RTP (bridge.c) */
	BRIDGE_RELAY,           /* RTP <-> RTP (relay.c) */
	BRIDGE_TDM,             /* timeslot <-> timeslot (xconn.c) */
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
	struct xend *xend;
	unsigned side;          /* relay update: 0 = a, 1 = b */
	struct sockaddr_storage remote;
	socklen_t remote_len;
	enum media_law law;
	unsigned ptime;
	enum media_dtmf dtmf;
	int te_tx_pt, te_rx_pt;
	bool hold;              /* bridge update: send nothing */
	bool latch;             /* update: the stream may latch */
	uint8_t event;          /* CMD_BRIDGE_DTMF */
	uint32_t dur;           /* its samples */
	bool rekey;             /* update: srtp replaces the keys */
	struct msrtp *srtp;     /* ... the new ones (NULL: plain RTP); the
				 * worker frees whichever it lets go */
	bool t38_set;           /* update: t38gw replaces the gateway */
	struct t38gw *t38gw;    /* ... the new one (NULL: back to audio);
				 * the worker frees the one it lets go */
	bool fax_passthrough;   /* update: echo canceller off, jitter
				 * buffer fixed at jb_ms */
	unsigned jb_ms;
};

struct span {
	enum src_kind kind;     /* SRC_SPAN */
	struct media_tdm_io io;
	int span_id;
	bool polling;           /* fd in the worker's epoll set */
	struct bridge **chan;   /* [nchan + 1], by timeslot */
	uint8_t *tx;            /* the answer frame, nchan * 160 */
	struct span *next;      /* worker's span list, or its dead list */
	int64_t frame_us;       /* when its last frame was served
				 * (media_mono_us): RTP arrival times for
				 * the jitter buffers */
	struct cmd cmd_add;
	struct cmd cmd_remove;
};

static inline int64_t media_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- RTCP of one RTP leg (bridge_rtcp.c) --------------------------------- */

/* What the RTCP socket's epoll event points at. */
struct rtcp_src {
	enum src_kind kind;     /* SRC_RTCP */
	struct bridge *b;
	unsigned idx;           /* relay: the endpoint; else 0 */
};

/* RTCP terminated on one leg: a timeslot <-> RTP bridge has one, a
 * relay one per side.  Worker-owned once started, like the rest of the
 * bridge. */
struct brtcp {
	struct rtcp_src src;
	int fd;                 /* the RTP port + 1, -1 none */
	char cname[24];         /* random per bridge (RFC 7022 5) */
	uint32_t rng;           /* xorshift state for the intervals */
	int64_t next_us;        /* monotonic: the next report is due */
	uint64_t tx_at_report;  /* st.rtp_tx at the last report: SR or RR */
	uint64_t tx_octets;     /* RTP payload octets sent */
	uint64_t rx_octets;     /* ... received (audio) */
	struct rtcp_rx rx;      /* about the source we receive */
	uint64_t rtt_sum_us;    /* round trips measured, summed */
	uint32_t rtt_n;
	bool have_rb;           /* the far end reported on our stream */
	struct rtcp_rb rb;      /* its last report block on it */
	uint32_t rb_jitter_max; /* the highest jitter it reported */
	uint64_t ntx, nrx;      /* reports sent, and understood */
	/* A latching stream's far end behind NAT: where its reports come
	 * from (the NAT maps its RTCP port anywhere, not to RTP + 1). */
	struct sockaddr_storage peer;
	socklen_t peer_len;
};

/* ---- RTP <-> RTP relay (relay.c) ----------------------------------------- */

/* What an endpoint's epoll event points at. */
struct relay_port {
	enum src_kind kind;     /* SRC_RELAY */
	struct bridge *b;
	unsigned idx;           /* 0 = endpoint a, 1 = endpoint b */
};

struct relay_side {
	struct sockaddr_storage remote;
	socklen_t remote_len;   /* 0: hold what would go there */
	enum media_law law;
	unsigned ptime;
	int te_rx_pt, te_tx_pt; /* telephone-event, 0 none */
	struct msrtp *srtp;     /* NULL: plain RTP to and from this side */
	struct latch latch;     /* remote learnt from what it sends */
};

/* One direction: packets in on endpoint i, out of endpoint 1 - i.  The
 * outgoing stream keeps its own SSRC; seq and ts are the incoming ones
 * plus offsets that are re-chosen (rebased) whenever the incoming
 * timeline breaks, so the outgoing one never does. */
struct relay_dir {
	/* incoming source */
	bool sync;
	uint32_t ssrc;
	uint16_t max_seq;       /* highest sequence number seen */
	uint32_t max_ts;        /* its timestamp */
	uint64_t win;           /* bit k: max_seq - k arrived (duplicates) */
	uint64_t in_ns;         /* when max_seq arrived */
	int64_t max_ext, base_ext;
	uint64_t seen;          /* packets of this source, duplicates not */
	uint64_t rx, lost, late; /* all sources: accepted, never arrived,
				 * duplicate or too late (media_stats) */

	/* outgoing stream */
	bool sent;              /* out_seq/out_ts hold a packet mapped */
	uint32_t out_ssrc;
	uint16_t seq_off;
	uint32_t ts_off;
	uint16_t out_seq;       /* of the newest packet mapped */
	uint32_t out_ts;
	uint32_t out_samples;   /* its length in samples (audio), else 160 */
	uint64_t out_ns;        /* when it was mapped */
	uint64_t out_pkts;      /* packets built for it (its SR's count) */

	/* Transcoding, only while the two sides' codecs differ and one is
	 * not G.711 (relay_codecs): the decoder of what comes in, the
	 * encoder of what goes out. */
	bool tc;
	struct mcodec dec, enc;
};

struct relay {
	struct relay_port port[2];
	struct media_rtp *rtp[2];
	int fd[2];
	struct relay_side side[2]; /* side i: remote of endpoint i */
	struct relay_dir dir[2];   /* dir i: in on endpoint i */
	struct brtcp rtcp[2];      /* rtcp i: with side i, about dir i
				    * and what we send it (dir 1 - i) */
};

/* ---- timeslot <-> timeslot (xconn.c) -------------------------------------- */

#define XC_RING 4               /* frames per direction; a power of two */
#define XC_WINDOW 25            /* frames over which a standing delay is
				 * measured before it is trimmed */

struct xframe {
	uint8_t law;            /* of the span that produced it */
	uint8_t pcm[MEDIA_FRAME_SAMPLES];
};

/* Single producer (the worker of one timeslot), single consumer (the
 * worker of the other).  head is written only by the producer, tail only
 * by the consumer; each publishes with release and reads the other's
 * index with acquire, so a frame's octets are complete before they are
 * read and not overwritten before they were. */
struct xring {
	atomic_uint head;
	struct xframe f[XC_RING];
	atomic_uint tail;
};

/* One timeslot of a TDM <-> TDM bridge.  Immutable after start except the
 * worker-owned part, which only the worker of span_id touches. */
struct xend {
	struct bridge *b;
	unsigned idx;           /* produces into ring[idx] */
	int span_id;
	unsigned chan;
	unsigned widx;
	struct cmd cmd_start;
	struct cmd cmd_stop;

	/* Owned by the worker of span_id. */
	struct span *span;      /* NULL while its span is absent */
	struct xend *prev, *next; /* worker's list */
	bool started;           /* has played a frame from the other end */
	unsigned win_n;
	unsigned win_min;       /* fewest frames left after a pop */
	uint64_t frames;
	uint64_t underruns;
	uint64_t drops;
};

struct xconn {
	struct xend end[2];
	struct xring ring[2];   /* ring[i]: what end i hears, to end 1 - i */
	atomic_uint live;       /* ends not yet stopped by their worker */
};

struct bridge {
	enum src_kind kind;     /* SRC_BRIDGE */
	enum bridge_type type;

	/* Set on the signalling thread before the start command; read-only
	 * afterwards, except hnext which only that thread uses. */
	uint32_t id;
	unsigned widx;
	int span_id;            /* BRIDGE_RTP */
	unsigned chan;          /* BRIDGE_RTP */
	int family;             /* of the RTP socket */
	void *cookie;
	struct bridge *hnext;
	struct cmd cmd_start;   /* BRIDGE_RTP, BRIDGE_RELAY */
	struct cmd cmd_stop;
	/* The keys the worker was last told of ([i]: relay side i), so an
	 * update re-keys only when they change (signalling thread). */
	struct media_srtp_keys keys[2];
	bool t38_on;            /* BRIDGE_RTP: the worker was told T.38 */

	/* Owned by the worker once started (both workers' shares of a
	 * BRIDGE_TDM are in its xends). */
	struct bridge *prev, *next; /* worker's list (not BRIDGE_TDM) */
	struct bridge *znext;   /* worker's reap list, then the done list */
	bool stopped;
	struct media_stats st;
	/* When RTP last arrived (tg_mono_ms; [i]: on relay endpoint i,
	 * [0] for BRIDGE_RTP): stored by the worker once per read batch,
	 * read by the signalling thread (media_bridge_rx_idle). */
	_Atomic int64_t rx_ms[2];

	union {
		struct {        /* BRIDGE_RTP */
			struct media_rtp *rtp;
			int fd;
			struct span *span; /* NULL while its span is absent */

			struct sockaddr_storage remote;
			socklen_t remote_len;
			struct latch latch; /* remote learnt from its RTP */
			bool tx_hold;   /* the far end holds: send nothing */
			enum media_law rtp_law;
			enum media_law span_law;
			const uint8_t *tx_conv; /* span law -> RTP law */
			const uint8_t *rx_conv; /* RTP law -> span law */
			/* G.722/G.729 on the RTP side (else pt G.711 and
			 * nothing allocated): what goes out is gathered in
			 * tx_pcm and coded a packet at a time; what comes
			 * in is decoded on arrival into the span's law, so
			 * the jitter buffer holds the timeslot's octets
			 * whatever the far end sends. */
			struct mcodec codec;
			const int16_t *span_dec; /* span law -> linear */
			int16_t tx_pcm[MEDIA_MAX_PKT_SAMPLES];

			unsigned tx_samples; /* per RTP packet */
			unsigned tx_fill;
			struct rtp_hdr tx;

			bool rx_sync;
			uint32_t rx_ssrc;
			uint16_t rx_last_seq;
			int64_t rx_max_ext; /* extended highest seq */
			int64_t rx_base_ext;
			uint64_t rx_seen; /* this SSRC, late ones too */

			struct jbuf jb;
			int64_t frame_us; /* its last frame's span frame_us */
			uint8_t pkt[RTP_HDR_LEN + MEDIA_MAX_PKT_SAMPLES +
				    MSRTP_TRAILER];
			struct msrtp *srtp; /* NULL: plain RTP */

			/* DTMF (bridge.c, dtmf.c): set up with the bridge,
			 * used whatever the mode so an update may change
			 * it. */
			struct media_engine *me; /* for reports */
			enum media_dtmf dtmf;
			int te_tx_pt, te_rx_pt;
			struct dtmf_det det;
			bool det_on;    /* the detected digit being sent */
			uint8_t det_event;
			uint32_t det_samples; /* its length so far */
			struct te_tx te_tx;
			struct te_rx te_rx;
			struct dtmf_gen gen;
			uint8_t held[MEDIA_FRAME_SAMPLES]; /* one frame of
					 * look-ahead for the detector */

			/* Echo canceller (echo.c), set up with the bridge:
			 * ec_ref is what went to the timeslot last frame,
			 * whose echo the next frame from it carries. */
			struct echo ec;
			int16_t ec_ref[MEDIA_FRAME_SAMPLES];

			/* Fax (t38gw.c, faxtone.c): while t38 is set the
			 * socket carries UDPTL and the gateway replaces
			 * all of the audio path above. */
			struct t38gw *t38;
			bool passthrough; /* G.711 fax: fixed, no EC */
			bool fax_detect;  /* faxtone set up, not heard */
			struct faxtone fax;
			struct brtcp rtcp;
		};
		struct relay relay;     /* BRIDGE_RELAY */
		struct xconn xc;        /* BRIDGE_TDM */
	};
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
	struct xend *xends;
	struct bridge *zombies;

	struct mmsghdr msgs[RX_VLEN];
	struct iovec iov[RX_VLEN];
	struct sockaddr_storage rxname[RX_VLEN]; /* senders, for relays */
	/* RX_BUFSZ is read; the rest is room for an SRTP trailer when a
	 * relay protects a packet in place. */
	uint8_t rxbuf[RX_VLEN][RX_BUFSZ + MSRTP_TRAILER];
	struct mmsghdr txmsgs[RX_VLEN];        /* relays: one batch out */
	struct iovec txiov[RX_VLEN];
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

/* A digit detected on a MEDIA_DTMF_REPORT bridge, for the signalling
 * thread. */
struct dtmf_report {
	uint32_t id;
	char digit;
	unsigned ms;
	uint8_t fax_tone;       /* not 0: a fax tone (enum media_fax_tone)
				 * instead of a digit */
	bool from_tdm;
};

#define DTMF_REPORTS 64

struct media_engine {
	struct worker **workers;
	unsigned nworkers;
	unsigned span_rr;
	unsigned relay_rr;      /* worker for the next relay */
	media_bridge_done_h *done;

	int done_fd;
	pthread_mutex_t done_lock;
	struct bridge *done_head, *done_tail;
	struct dtmf_report reports[DTMF_REPORTS]; /* under done_lock */
	unsigned nreports;
	media_dtmf_h *dtmf_h;
	void *dtmf_arg;
	media_fax_h *fax_h;
	void *fax_arg;
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
int bridge_set_laws(struct bridge *b, enum media_law rtp_law,
		    enum media_law span_law);
void bridge_update(struct bridge *b, const struct cmd *c);
void bridge_dtmf(struct bridge *b, const struct cmd *c);
void bridge_dtmf_reset(struct bridge *b);
void bridge_frame(struct bridge *b, const uint8_t *in, uint8_t *out);
void bridge_rx(struct worker *w, struct bridge *b);
void bridge_finish(struct bridge *b);
void bridge_free(struct bridge *b);
/* The T.38 gateway's datagrams out of the bridge's socket (worker). */
void bridge_t38_send(const uint8_t *dgram, size_t len, void *arg);

/* bridge_rtcp.c: one leg's RTCP, for bridges and relays alike. */

/* Where a leg's streams stand now, for its next report. */
struct rtcp_leg_now {
	uint32_t ssrc;          /* our stream toward the leg */
	uint64_t tx_pkts;       /* its packets so far */
	uint32_t tx_ts;         /* its timestamp of this instant */
	bool rx_sync;           /* we receive a source from the leg: */
	uint32_t rx_ssrc;
	int64_t rx_max_ext, rx_base_ext;
	uint64_t rx_seen;
};

/* What the quality estimate of a leg starts from. */
struct rtcp_q_in {
	uint64_t rx, lost, late; /* of the stream from the leg */
	uint64_t tx;            /* packets we sent it */
	double ptime_ms;
	double jb_ms;           /* the listener's playout delay, < 0:
				 * unknown (twice the jitter, >= 20 ms) */
	bool plc;               /* ... with loss concealment */
	enum media_law law;     /* the leg's codec */
};

void brtcp_setup(struct brtcp *r, struct bridge *b, unsigned idx, int fd,
		 const uint32_t rnd[2], int64_t now_us);
/* A report is due now (the next one is scheduled). */
bool brtcp_due(struct brtcp *r, int64_t now_us);
void brtcp_send(struct brtcp *r, struct media_stats *st,
		const struct rtcp_leg_now *v,
		const struct sockaddr_storage *remote, socklen_t remote_len,
		struct msrtp *srtp, int64_t now_us, bool bye);
/* A compound packet from the leg (decrypted): its SR for LSR, its
 * blocks on our stream @p our_ssrc. */
bool brtcp_read(struct brtcp *r, struct media_stats *st, uint32_t our_ssrc,
		bool rx_sync, uint32_t rx_ssrc, const uint8_t *buf,
		size_t len, int64_t now_us);
/* SRTCP in place; false (counted) when it does not authenticate. */
bool brtcp_unprotect(struct msrtp *srtp, struct media_stats *st,
		     uint8_t *buf, size_t *len);
void brtcp_quality(const struct brtcp *r, const struct rtcp_q_in *in,
		   struct media_leg *q);
/* The RTCP port of a bridge or of a relay's side is readable. */
void brtcp_rx(struct worker *w, struct rtcp_src *src);

/* ... and their use by a timeslot <-> RTP bridge. */
void brtcp_init(struct bridge *b, const uint32_t rnd[2], int64_t now_us);
void brtcp_tick(struct bridge *b, int64_t now_us);
bool brtcp_packet(struct bridge *b, const uint8_t *buf, size_t len,
		  int64_t now_us);
/* The last report, with BYE (before the counters are folded) ... */
void brtcp_bye(struct bridge *b);
/* ... then the quality figures into b->st. */
void brtcp_finish(struct bridge *b);

/* relay.c */
void relay_rx(struct worker *w, struct relay_port *p);
void relay_update(struct bridge *b, const struct cmd *c);
int relay_codecs(struct relay *r);
void relay_codecs_free(struct relay *r);
void relay_finish(struct bridge *b);
/* RTCP of relay side @p side: a compound packet from it (decrypted), and
 * the reports due (relay_rx calls it for both sides). */
bool relay_rtcp_packet(struct bridge *b, unsigned side, const uint8_t *buf,
		       size_t len, int64_t now_us);
void relay_rtcp_init(struct bridge *b, const uint32_t rnd[4],
		     int64_t now_us);

/* xconn.c: the timeslot's frame in, its answer out (span's worker). */
void xconn_frame(struct bridge *b, const struct span *sp, unsigned chan,
		 const uint8_t *in, uint8_t *out);
struct xend *xconn_end(struct bridge *b, int span_id, unsigned chan);
void xconn_finish(struct bridge *b);

/* engine.c: the worker hands a finished bridge to the signalling side. */
void engine_done_push(struct media_engine *me, struct bridge *list);
/* ... and a digit detected on a reporting bridge (once per digit). */
void engine_dtmf_push(struct media_engine *me, uint32_t id, char digit,
		      unsigned ms);
/* ... and a fax tone (once per bridge). */
void engine_fax_push(struct media_engine *me, uint32_t id,
		     enum media_fax_tone tone, bool from_tdm);

#endif
