/* media/media.h  Media engine: B-channel <-> RTP bridges on worker threads
 *
 * The media engine knows frames, codecs and clocks; it knows nothing of SIP
 * dialogs or Q.931 calls.  Every function here is called from the signalling
 * thread; the work happens on the engine's worker threads, which own the
 * span audio fds and the RTP sockets of running bridges.  Commands reach the
 * workers through a queue, so no call here waits for a worker.
 */
#ifndef TG_MEDIA_H
#define TG_MEDIA_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/* RTP audio formats, numbered by their static payload type (RFC 3551).
 * A span's law is one of the two G.711 laws; the RTP side of a bridge or
 * relay may be any of them (the engine transcodes, docs/media.md). */
enum media_law {
	MEDIA_PCMU = 0,
	MEDIA_PCMA = 8,
	MEDIA_G722 = 9,         /* 64 kbit/s; RTP clock 8000 (RFC 3551 4.5.2) */
	MEDIA_G729 = 18,        /* 8 kbit/s, 10 ms frames, no Annex B */
};

#define MEDIA_FRAME_SAMPLES 160 /* 20 ms at 8 kHz */

/**
 * A span's B-channel audio as the engine sees it.  The line delivers one
 * frame every 20 ms for all nchan timeslots; the engine must answer each
 * received frame with exactly one frame (same seq).  recv/send are called
 * only on the worker that owns the span.
 */
struct media_tdm_io {
	int fd;             /* readable when the line delivered a frame */
	unsigned nchan;     /* bearer timeslots, numbered 1..nchan */
	enum media_law law; /* the span's companding law */
	void *arg;
	/** Receive one frame.  On 0, *rx points at nchan*160 octets,
	 * channel 1 first, valid until the next recv.  EAGAIN: nothing
	 * queued.  Other errno: the line is gone. */
	int (*recv)(void *arg, const uint8_t **rx, uint32_t *seq);
	/** Send the answer to frame @p seq; @p tx holds nchan*160 octets. */
	int (*send)(void *arg, uint32_t seq, const uint8_t *tx);
};

struct media_engine;
struct media_rtp;

/* SRTP crypto suites (RFC 4568 6.2, RFC 7714 14.2), keyed by SDES. */
enum media_srtp_suite {
	MEDIA_SRTP_NONE = 0,            /* plain RTP */
	MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80,
	MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32,
	MEDIA_SRTP_AEAD_AES_128_GCM,
};

#define MEDIA_SRTP_KEY_MAX 30 /* master key + salt: 16 + 14 (GCM 16 + 12) */

/** The keys of one RTP leg: ours protect what we send, the far end's
 * (from its a=crypto) check what it sends.  suite NONE: plain RTP. */
struct media_srtp_keys {
	enum media_srtp_suite suite;
	uint8_t tx_key[MEDIA_SRTP_KEY_MAX];
	uint8_t rx_key[MEDIA_SRTP_KEY_MAX];
};

/**
 * Counters of one bridge, read when it stops.  A relay counts both
 * directions together and has no TDM counters; a TDM <-> TDM bridge has
 * only tdm_frames (both timeslots), underruns (frames played as silence
 * because the other side had nothing) and jb_drops (frames dropped: ring
 * full, or a standing extra frame of delay trimmed).
 */
/* The quality figures of one RTP leg, as RTCP terminated on it gives
 * them (the fields of the same names in media_stats, below). */
struct media_leg {
	bool rtcp;             /* this leg's figures are meaningful */
	uint64_t rtp_rx;       /* audio and events accepted from it */
	uint64_t rtp_lost;     /* ... never arrived */
	uint64_t rtcp_tx, rtcp_rx;
	unsigned jitter_us;
	int64_t rtt_us;        /* -1 unknown */
	bool remote_report;
	int64_t remote_lost;
	unsigned remote_fraction;
	unsigned remote_jitter_us;
	unsigned mos_rx, mos_tx; /* 0 unknown */
};

struct media_stats {
	uint64_t rtp_tx;       /* RTP packets sent */
	uint64_t rtp_rx;       /* RTP packets received and accepted */
	uint64_t rtp_lost;     /* gaps in received sequence numbers */
	uint64_t rtp_late;     /* arrived too late or duplicate, dropped */
	uint64_t tdm_frames;   /* 20 ms TDM frames seen while bridged */
	uint64_t underruns;    /* frames played as silence: nothing received
				* for them nor concealed (after the first
				* audio) */
	uint64_t concealed;    /* frames with audio synthesised for lost or
				* late packets (packet loss concealment) */
	uint64_t rtp_ignored;  /* valid RTP of another payload type (CN...);
				* relay: empty packets (keepalives) and
				* ones it cannot transcode */
	uint64_t rtp_bad;      /* malformed or oversized packets */
	uint64_t jb_drops;     /* times buffered audio was dropped to keep
				* the delay bounded (far clock fast, burst) */
	uint64_t rtp_held;     /* relay: valid RTP dropped because the
				* other side's remote was not known yet */
	uint64_t rtp_foreign;  /* relay: accepted from an address other
				* than the side's remote (not latched) */
	uint64_t dtmf_tx;      /* digits detected and sent as events */
	uint64_t dtmf_rx;      /* digits played toward the timeslot */
	uint64_t srtp_auth_fail; /* SRTP/SRTCP packets whose tag was
				* wrong (or plain RTP on an SRTP leg) */
	uint64_t srtp_replay;  /* SRTP packets seen before or too old */
	uint64_t latched;      /* times RTP latching re-pointed a stream */
	bool ec_disabled;      /* the echo canceller turned itself off on
				* a modem/fax answer tone */
	/* T.38 (while the bridge carried UDPTL; summed over its spells) */
	uint64_t udptl_tx;     /* datagrams sent */
	uint64_t udptl_rx;     /* datagrams accepted */
	uint64_t udptl_recovered; /* IFPs taken from secondaries */
	uint64_t udptl_lost;   /* IFPs neither came nor were recovered */
	uint64_t udptl_bad;    /* malformed datagrams (RTP among them) */
	unsigned fax_pages;    /* pages the T.38 gateway passed */
	unsigned fax_bit_rate; /* the last image data rate, bit/s */

	/* RTCP and call quality.  A relay terminates RTCP on each leg
	 * (leg[] below) and puts here the worse of its two legs' figures
	 * (docs/cdr.md). */
	uint32_t id;           /* the bridge these are of */
	uint64_t rtp_tx_octets; /* RTP payload octets sent */
	uint64_t rtp_rx_octets; /* ... received (audio) */
	uint64_t rtcp_tx;      /* RTCP compound packets sent */
	uint64_t rtcp_rx;      /* ... received and understood */
	uint64_t rtcp_bad;     /* ... malformed (SRTCP failures are in
				* srtp_auth_fail) */
	unsigned jitter_us;    /* highest interarrival jitter estimate
				* (RFC 3550 A.8) of the audio received */
	int64_t rtt_us;        /* mean round-trip time from the far end's
				* reports (LSR/DLSR), -1 unknown */
	bool remote_report;    /* the far end reported on our stream: */
	int64_t remote_lost;   /* ... cumulative packets it lost */
	unsigned remote_fraction; /* ... last fraction lost, 1/256 */
	unsigned remote_jitter_us; /* ... highest jitter it reported */
	unsigned mos_rx;       /* estimated MOS x100 of what we received,
				* 0 unknown (no audio) */
	unsigned mos_tx;       /* ... of what the far end received, from
				* its reports; 0 unknown (none came) */
	/* A relay's legs ([i]: the far end of endpoint i; zero for other
	 * bridges): each the figures above, about that leg alone. */
	struct media_leg leg[2];
};

/** Called on the signalling thread (via the engine's event fd) when a
 * stopped bridge has been torn down; @p cookie is the one given at start. */
typedef void(media_bridge_done_h)(void *cookie, const struct media_stats *st);

/**
 * Start the engine with @p workers threads (>= 1).  @p done is delivered
 * through media_engine_fd()/media_engine_poll() on the signalling thread.
 */
int media_engine_alloc(struct media_engine **mep, unsigned workers,
		       media_bridge_done_h *done);
/** Stop the workers, close every bridge and free the engine. */
void media_engine_free(struct media_engine *me);
/** An fd the signalling loop watches; when readable call media_engine_poll. */
int media_engine_fd(const struct media_engine *me);
/** Deliver queued completion callbacks (signalling thread). */
void media_engine_poll(struct media_engine *me);

/**
 * Hand a span's audio to the engine.  From now on a worker owns io->fd:
 * it reads every frame and answers it (idle timeslots carry silence).
 * @param span_id  our number for the span, used by bridges.
 */
int media_engine_add_span(struct media_engine *me, int span_id,
			  const struct media_tdm_io *io);
/** Stop serving a span (its line went away); bridges on it go silent. */
int media_engine_remove_span(struct media_engine *me, int span_id);

/**
 * Bind an RTP socket (even port, RTCP port+1 reserved) on @p ip within
 * [port_min, port_max].  Signalling thread.  The endpoint is freed with
 * media_rtp_free, or handed to a bridge which then owns it.
 */
int media_rtp_alloc(struct media_rtp **rtpp, struct media_engine *me,
		    const char *ip, uint16_t port_min, uint16_t port_max);
uint16_t media_rtp_port(const struct media_rtp *rtp);
void media_rtp_free(struct media_rtp *rtp);

/* DTMF on a timeslot <-> RTP bridge (docs/media.md). */
enum media_dtmf {
	MEDIA_DTMF_INBAND = 0,  /* tones stay in the audio, both ways */
	MEDIA_DTMF_RFC4733,     /* detected tones go as telephone-events
				 * (muted from the audio); events received
				 * are played as tones */
	MEDIA_DTMF_REPORT,      /* detected tones are muted and reported
				 * (media_dtmf_h); media_bridge_dtmf plays
				 * tones (SIP INFO) */
};

/* T.38 on a timeslot <-> RTP bridge: what the two SDPs agreed.  With on,
 * the bridge's socket carries UDPTL to and from remote, and SpanDSP's
 * T.38 gateway replaces the audio path (docs/fax.md). */
struct media_t38 {
	bool on;
	unsigned version;       /* T38FaxVersion 0-3 */
	unsigned max_bitrate;   /* 0 or 2400-14400 */
	bool fill_bit_removal;
	bool transferred_tcf;   /* else localTCF */
	unsigned redundancy;    /* UDPTL secondaries per datagram, 0-8 */
	unsigned max_datagram;  /* the far end's T38FaxMaxDatagram, 0: 400 */
	bool ecm;               /* let the terminals use ECM */
};

/* Fax tones the bridge heard (media_fax_h). */
enum media_fax_tone {
	MEDIA_FAX_CNG = 1,      /* 1100 Hz calling tone: a fax calls */
	MEDIA_FAX_CED,          /* 2100 Hz answer tone: a fax answers */
};

struct media_bridge_params {
	int span_id;
	unsigned chan;                 /* 1-based timeslot */
	struct sockaddr_storage remote; /* where to send RTP */
	socklen_t remote_len;
	enum media_law rtp_law;        /* payload type toward the far end:
					* G.711, or G.722/G.729, coded and
					* decoded on the worker */
	unsigned ptime;                /* ms of the packets we send, 10-60
					* in 10 ms steps (repacketised from
					* the 20 ms frames); 0: 20 */
	enum media_dtmf dtmf;
	int te_tx_pt;                  /* RFC4733: telephone-event PT the far
					* end takes (its SDP) */
	int te_rx_pt;                  /* ... and the one in our SDP; events
					* with either are accepted */
	unsigned echo_tail_ms;         /* line echo canceller on the
					* timeslot's audio with this tail,
					* 32-128 ms; 0 none.  Fixed at
					* start (an update keeps it). */
	bool hold;                     /* send nothing: the far end takes
					* no RTP now (its SDP holds the
					* call, RFC 3264 8.4); timestamps
					* go on, so a resume continues the
					* stream (RFC 6337 5.3) */
	struct media_srtp_keys srtp;   /* SRTP on the RTP side; an update
					* with other keys re-keys the running
					* bridge (both directions at once) */
	unsigned jb_min_ms;            /* RTP -> timeslot playout delay:
					* the latest packets wait this
					* long, ... */
	unsigned jb_max_ms;            /* ... the earliest at most this
					* (20-300); 0: 20 and 200 */
	bool jb_fixed;                 /* hold the delay at jb_min_ms, no
					* concealment or time-scaling
					* (data, fax, modems).  These three
					* are fixed at start ... */
	bool fax_passthrough;          /* ... but an update with this set
					* turns the echo canceller off and
					* the jitter buffer fixed at
					* jb_min_ms (60 if 0), for a fax
					* over G.711; it stays so */
	bool fax_detect;               /* report CNG/CED heard either way
					* (media_fax_h), once per bridge;
					* fixed at start */
	struct media_t38 t38;          /* on: T.38 instead of RTP audio;
					* an update switches either way */
	bool latch;                    /* RTP latching (docs/media.md):
					* within 10 s of the remote being
					* set, 3 valid packets in a row
					* from one other source with one
					* SSRC turn the stream toward it,
					* unless the remote itself was
					* heard first.  An update with the
					* same remote keeps a latched one. */
};

/**
 * Join timeslot (span, chan) to @p rtp.  Takes ownership of @p rtp.
 * @param cookie handed back to the done callback.
 * @return 0, or an errno; on error @p rtp is still the caller's.
 * The bridge id is written to *idp (never 0).
 */
int media_bridge_start(struct media_engine *me, uint32_t *idp,
		       struct media_rtp *rtp,
		       const struct media_bridge_params *prm, void *cookie);
/** Change the far end (remote address or law) of a running bridge.
 * SRTP keys other than the running ones re-key it: the worker swaps the
 * new context in between two packets.  EINVAL for a relay or a TDM <->
 * TDM bridge (or a bad suite), ENOMEM/EIO when the new keys cannot be
 * set up (the bridge keeps the old ones). */
int media_bridge_update(struct media_engine *me, uint32_t id,
			const struct media_bridge_params *prm);
/** Stop a bridge; its socket closes on the worker; done follows. */
int media_bridge_stop(struct media_engine *me, uint32_t id);

/**
 * How long RTP has not arrived on bridge @p id, in ms: on a timeslot <->
 * RTP bridge since its last packet, on a relay since the last packet of
 * the side that has been quiet longer; since the start when none came.
 * Any datagram counts (a media timeout is about a far end gone silent,
 * not about what it sends).  @return 0, ENOENT, EINVAL (TDM <-> TDM).
 */
int media_bridge_rx_idle(struct media_engine *me, uint32_t id,
			 unsigned *ms);

/** A digit detected on bridge @p id (MEDIA_DTMF_REPORT), once it ended:
 * @p digit one of 0-9 * # A-D, @p duration_ms how long it lasted. */
typedef void(media_dtmf_h)(void *arg, uint32_t id, char digit,
			   unsigned duration_ms);
/** Set the handler for reported digits (signalling thread, through
 * media_engine_poll like the done callback). */
void media_engine_set_dtmf_handler(struct media_engine *me, media_dtmf_h *h,
				   void *arg);
/** Play @p digit for @p duration_ms toward the timeslot of bridge @p id
 * (after any tone still playing).  EINVAL for a bad digit or another
 * kind of bridge, ENOENT. */
int media_bridge_dtmf(struct media_engine *me, uint32_t id, char digit,
		      unsigned duration_ms);

/** A fax tone on bridge @p id (fax_detect): @p from_tdm when the
 *  timeslot sent it, else the RTP side. */
typedef void(media_fax_h)(void *arg, uint32_t id, enum media_fax_tone tone,
			  bool from_tdm);
/** Set the handler for fax tones (signalling thread, through
 *  media_engine_poll like the done callback). */
void media_engine_set_fax_handler(struct media_engine *me, media_fax_h *h,
				  void *arg);

/* ---- RTP <-> RTP relays (SIP -> SIP calls) ------------------------------ */

/** One side of a relay: where its far end listens and what it takes. */
struct media_relay_side {
	struct sockaddr_storage remote; /* where to send this side's RTP */
	socklen_t remote_len;           /* 0 = not known yet: hold */
	enum media_law law;             /* payload type toward this side
					 * (any enum media_law) */
	unsigned ptime;                 /* ms; 20 */
	int te_rx_pt;                   /* telephone-event PT this side's far
					 * end sends (96-127; else none) */
	int te_tx_pt;                   /* ... and takes: events from the
					 * other side are relayed with it */
	struct media_srtp_keys srtp;    /* this side's SRTP: rx checks what
					 * its far end sends, tx protects
					 * what goes to it; an update with
					 * other keys re-keys it */
	bool latch;                     /* RTP latching, as the bridge's;
					 * a side not known yet (remote_len
					 * 0) latches too */
};

/**
 * Relay RTP between @p a and @p b: what side a's far end sends to @p a
 * goes out of @p b to side b's remote, and back.  Each side has its own
 * SSRC, sequence and timestamp (a B2BUA hides one leg from the other);
 * payloads are converted when the codecs differ; gaps and marker
 * bits carry over.  Takes ownership of both endpoints; on error both
 * are still the caller's.  Stopped with media_bridge_stop().
 *
 * Packet by packet, with no buffering and no repacketising (ptime is
 * checked and kept, not used):
 * - PT 0/8 payloads are converted to the receiving side's law (whatever
 *   the sender negotiated); when one side's codec is G.722 or G.729 and
 *   the other's another, audio is transcoded packet for packet (decode,
 *   encode; same samples, same timestamps; a packet G.729 cannot code
 *   whole, or of a codec the side did not negotiate, is rtp_ignored);
 *   the same codec on both sides passes untouched; telephone-events with the sending side's
 *   te_rx_pt go out with the receiving side's te_tx_pt when both sides
 *   have them (dynamic types); any other PT (CN) passes with PT and
 *   payload unchanged.  CSRCs, extensions and padding are
 *   not forwarded.
 * - Outgoing seq/ts are the incoming ones plus per-direction offsets, so
 *   loss gaps, reordering and silence-suppression timing carry over.
 *   When the incoming timeline breaks (new SSRC, a sequence jump of 3000
 *   or more, a timestamp that moved over 1 s more or less than the wall
 *   clock) the offsets are rebased: the next seq, a timestamp as far on
 *   as the wall clock went (at least one packet), and the marker set.
 * - Duplicates and packets over 64 behind are dropped (rtp_late);
 *   malformed ones are rtp_bad; empty ones rtp_ignored.
 * - RTCP is terminated on each side (docs/media.md): reports go to its RTP
 *   port + 1 under the SSRC of the stream we send it, with a block on the
 *   stream it sends us, SDES CNAME and at the end BYE; its reports are
 *   read on our RTP port + 1 and multiplexed on the RTP port (RFC 5761
 *   PT 64-95, never relayed).  The figures per side are in the done
 *   stats' leg[], the worse of the two in its quality fields.
 * - A side with SRTP keys (suite not NONE): what it sends is unprotected
 *   before all of the above (failures and replays dropped and counted;
 *   its RTCP is SRTCP both ways), what goes to it is protected last; so
 *   one side may be SRTP and the other plain RTP.
 * - A side whose remote_len is 0 holds: what would go to it is read and
 *   dropped (rtp_held).  Packets from an address other than a side's
 *   remote are relayed all the same and counted (rtp_foreign); with
 *   latch, that side's RTP goes to their source once it latched.
 * Both endpoints are served by one worker.
 */
int media_relay_start(struct media_engine *me, uint32_t *idp,
		      struct media_rtp *a, const struct media_relay_side *sa,
		      struct media_rtp *b, const struct media_relay_side *sb,
		      void *cookie);
/** Change side @p side (0 = a, 1 = b) of a running relay: remote (0 =
 * hold again), law, ptime.  The outgoing streams go on unbroken.
 * @return 0, ENOENT, or EINVAL (also when @p id is not a relay). */
int media_relay_update(struct media_engine *me, uint32_t id, unsigned side,
		       const struct media_relay_side *s);

/* ---- B-channel <-> B-channel (TDM -> TDM calls) ------------------------- */

/**
 * Join timeslot (span_a, chan_a) to (span_b, chan_b): each hears the
 * other, converted when the spans' laws differ, with at most one frame
 * (20 ms) of added delay, whichever workers own the spans.  Stopped
 * with media_bridge_stop(); done follows once both spans' workers have
 * let go.  Both spans must be present and both timeslots free (ENOENT,
 * EINVAL, EBUSY as media_bridge_start).
 *
 * NOTE: after a worker stall a frame of extra delay may stand for up to
 * half a second before it is trimmed; until the other side's first frame
 * (and while its span is absent) a timeslot hears silence.
 */
int media_tdm_bridge_start(struct media_engine *me, uint32_t *idp,
			   int span_a, unsigned chan_a, int span_b,
			   unsigned chan_b, void *cookie);

/* G.711 helpers (also used by tests and pstnsim). */
uint8_t media_ulaw_to_alaw(uint8_t u);
uint8_t media_alaw_to_ulaw(uint8_t a);
int16_t media_g711_decode(enum media_law law, uint8_t x);
uint8_t media_g711_encode(enum media_law law, int16_t s);
uint8_t media_g711_silence(enum media_law law);

#endif
