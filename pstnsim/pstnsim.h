/* pstnsim/pstnsim.h  PSTN simulator: shared types of its files */
#ifndef TG_PSTNSIM_H
#define TG_PSTNSIM_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include <event2/event.h>
#include <libpri.h>

#include "pstnsim/dtmf.h"
#include "pstnsim/stamp.h"
#include "pstnsim/wav.h"
#include "tdm/vframe.h"

#define PS_MAXSPANS 32
#define PS_NUMLEN 64

enum ps_action {
	PS_ACT_ANSWER = 0,
	PS_ACT_PROGRESS,
	PS_ACT_ALERT_INBAND,
	PS_ACT_NOANSWER,
	PS_ACT_REJECT,
	PS_ACT_ANNOUNCE,     /* in-band PROGRESS, then clear with cause */
	PS_ACT_PROCEEDING_INBAND, /* CALL PROCEEDING with PI 8, answer */
	PS_ACT_IGNORE,       /* no reply to the SETUP at all (T303) */
};

/* --media echo: frames of round trip, and the most it holds */
#define PS_ECHO_DELAY 2
#define PS_ECHO_RING 4

enum ps_media {
	PS_MEDIA_ECHO = 0,
	PS_MEDIA_TONE,
	PS_MEDIA_SILENCE,
	PS_MEDIA_WAV,           /* play.c: a WAV file, looped or once */
	PS_MEDIA_STAMP,         /* time-stamped probe frames (stamp.h) */
	PS_MEDIA_FAX,           /* fax.c: a fax terminal sends or receives */
};

/* Scenario audio (play.c): what a rule, or the options, add to a call. */
struct ps_play_conf {
	struct ps_wav *wav;     /* media=wav:PATH; NULL none */
	char *wav_path;
	bool wav_loop;          /* wav: loops; wav-once: then silence */
	char dtmf[PS_DTMF_MAX + 1];  /* sent in-band after answer, "" none */
	int dtmf_at;            /* ms after answer; -1 = the default */
	int dtmf_on, dtmf_off;  /* ms; -1 = the defaults */
};

/* ... and what a call does with them. */
struct ps_play {
	const struct ps_wav *wav;
	const char *wav_path;
	bool wav_loop;
	size_t wav_pos;
	unsigned wav_loops;     /* times the file played to its end */
	const char *dtmf;
	int dtmf_at, dtmf_on, dtmf_off;
	int64_t dtmf_frame;     /* frames_tx where the digits start; -1 */
	size_t dtmf_sent;       /* digits whose tone has fully played */
	struct ps_dtmf_rx rx;   /* digits heard */
};

struct ps_rule {
	char prefix[PS_NUMLEN];
	enum ps_action act;
	int cause;              /* PS_ACT_REJECT, PS_ACT_ANNOUNCE */
	int ring_ms;            /* ring=MS: instead of --answer-after; -1 */
	int hangup_ms;          /* hangup=MS: instead of --hangup-after; -1 */
	int media;              /* media=...: enum ps_media; -1 = --media */
	struct ps_play_conf play;
	int forget_ms;          /* forget=MS: drop the answered call after
				 * MS without a word; -1 never */
	bool drop_release;      /* drop-release: never answer the far end's
				 * DISCONNECT or RELEASE */
};

struct ps_conf {
	const char *dir;
	int nspans;
	bool e1;
	int switchtype;
	int node;               /* PRI_NETWORK or PRI_CPE */
	struct ps_rule *rules;
	size_t nrules;
	int answer_after;       /* ms */
	int hangup_after;       /* ms, 0 = never */
	enum ps_media media;
	struct ps_play_conf play;    /* --media wav:, --dtmf */
	bool fax_send;               /* --media fax-send:PATH, or ... */
	const char *fax_path;        /* ... fax-recv:PATH */
	int tone_hz;
	double detect_hz;
	int originate;          /* calls to place */
	double rate;            /* calls per second */
	char to[PS_NUMLEN];
	char from[PS_NUMLEN];
	char from_name[PS_NUMLEN];   /* calling name on originated calls */
	bool from_restricted;        /* ... presentation restricted */
	bool service;                /* SERVICE messages (maintenance) */
	char connected[PS_NUMLEN];   /* Connected Number of our CONNECTs */
	int orig_chan;               /* originate on this bearer, whatever
				      * we think of it (glare); 0 = hunt */
	bool orig_preferred;         /* originated SETUPs name the channel
				      * preferred, not exclusive */
	int glare;                   /* the next N SETUPs we receive meet
				      * one of ours on their channel (one
				      * per called number: its re-hunt
				      * goes through) */
	bool pick_high;              /* a SETUP whose channel is only
				      * preferred gets our highest free one */
	int oos_chan;                /* bearer we take out of service at
				      * D-channel up (SERVICE); 0 none */
	char redirecting[PS_NUMLEN]; /* RDNIS on originated calls, "" none */
	int redirect_reason;
	int to_step;
	int from_step;               /* calling numbers FROM..FROM+K-1 */
	int to_plan, from_plan;      /* Q.931 TON/NPI of originated numbers */
	int overlap;                 /* originate: digits in the SETUP; the
				      * rest follow in INFORMATION; -1 off */
	int overlap_receive;         /* incoming SETUP without Sending
				      * Complete: SETUP ACKNOWLEDGE and
				      * collect to this many digits (0:
				      * Sending Complete or T302); -1 off */
	int t302;                    /* ms, overlap receiving */
	bool overlap_inband;         /* ... SETUP ACKNOWLEDGE with PI 8
				      * (dial tone: in-band information) */
	int hold;               /* ms */
	bool exit_when_done;
	int duration;           /* s, 0 = none */
	bool verbose;
};

/* Audio (audio.c): G.711 and measurement, all on 160-sample blocks. */
struct ps_meter {
	double tone_energy;
	double total_energy;
	uint64_t nsamples;
	bool heard;          /* a frame with sound in it came */
	uint32_t quiet_run;  /* silent frames since the last with sound */
	uint32_t gaps;       /* silent frames between frames with sound */
};

int ps_audio_init(const struct ps_conf *conf);
void ps_audio_close(void);
uint8_t ps_audio_silence(void);
/** Fill @p out with 160 samples of the tone, starting at *phase. */
void ps_audio_tone(uint8_t *out, uint32_t *phase);
/** Add one received block to the meter. */
void ps_audio_measure(struct ps_meter *m, const uint8_t *blk);
double ps_meter_ratio(const struct ps_meter *m);
double ps_meter_dbfs(const struct ps_meter *m);
int16_t ps_audio_linear(uint8_t x);
uint8_t ps_audio_encode(int16_t s);

enum ps_call_state {
	PS_CALL_SETUP = 0,      /* SETUP sent or received, not answered */
	PS_CALL_ACTIVE,         /* answered */
	PS_CALL_CLEARING,       /* release started, waiting for libpri */
};

struct ps_span;

struct ps_call {
	LIST_ENTRY(ps_call) le;
	struct ps_span *span;
	q931_call *qc;
	unsigned chan;          /* bearer index 1..nchan, 0 = none */
	bool out;
	enum ps_call_state state;
	enum ps_action act;
	int cause_after;        /* ANNOUNCE: the cause it clears with */
	int ring_ms, hangup_ms; /* from its rule, or the options */
	int media_mode;         /* enum ps_media */
	struct event *dtmr;     /* overlap sending: the next digit */
	struct event *ftmr;     /* forget=MS */
	int forget_ms;
	bool drop_release;
	struct event *t302;     /* overlap receiving: inter-digit timer */
	bool collecting;        /* overlap receiving: digits still come */
	bool setup_complete;    /* the SETUP had Sending Complete */
	bool overlap;           /* we sent SETUP ACKNOWLEDGE */
	unsigned setup_digits;  /* digits in the SETUP */
	unsigned info_msgs;     /* INFORMATION messages with digits */
	size_t dsent;           /* digits of `called` sent so far */
	char calling[PS_NUMLEN];
	char called[PS_NUMLEN];
	int called_plan;        /* Q.931 TON << 4 | NPI as received */
	int calling_plan;
	int calling_pres;       /* PRES_* of the calling number */
	char calling_name[PS_NUMLEN];
	char connected[PS_NUMLEN];   /* who answered (Connected Number) */
	char redirecting[PS_NUMLEN]; /* Redirecting Number IE, "" none */
	int redirecting_plan;
	int redirect_reason;
	int cause;
	bool cleared_local;
	bool answered;
	bool media;             /* audio counted and played */
	int64_t setup_ms, answer_ms, end_ms;
	int64_t answer_mono;
	uint32_t frames_tx, frames_rx;
	struct ps_meter meter;
	/* --media echo: a line with a fixed round trip.  What the gateway
	 * sent waits here and goes back PS_ECHO_DELAY frames later; one
	 * frame of slack takes up a late reply without moving the echo. */
	uint8_t echo[PS_ECHO_RING][TDM_FRAME_SAMPLES];
	unsigned echo_head, echo_count;
	bool echo_primed;
	uint32_t echo_slips;     /* ... times that delay had to move */
	uint32_t tone_phase;
	struct ps_play play;
	struct ps_fax *fax;      /* --media fax-*: the terminal, once answered */
	struct stamp_rx *stamp;  /* --media stamp: the probes we hear */
	uint32_t stamp_k;        /* ... and the number of our next one */
	struct event *tmr;
};

LIST_HEAD(ps_call_list, ps_call);

struct ps_span {
	int idx;                /* 1-based */
	unsigned nchan;
	char dpath[108], bpath[108];
	int dlisten, blisten;
	int dfd, bfd;
	struct event *ev_dlisten, *ev_blisten, *ev_d, *ev_dw, *ev_b;
	struct event *ev_pri, *ev_clock;
	struct pri *pri;
	bool dchan_up;
	bool d_eof;             /* set by the read callback on EOF */
	bool d_got;             /* set by the read callback on a frame */
	/* frames libpri wrote while the socket was full */
	STAILQ_HEAD(, ps_dmsg) dq;
	/* 20 ms clock, from the time the B client connected */
	int64_t clock_start_us;
	uint64_t clock_n;
	uint32_t seq;
	uint64_t frames_dropped;
	struct ps_call *chans[TDM_VFRAME_MAXCHAN + 1];
	struct ps_call_list calls;
	uint8_t txbuf[TDM_VFRAME_MAX];
	uint8_t rxbuf[TDM_VFRAME_MAX + 16];
};

struct ps_stats {
	unsigned calls_in, calls_out, answered, failed;
};

/* The one program state: pstnsim is single-threaded. */
struct ps {
	struct ps_conf conf;
	struct event_base *base;
	struct ps_span spans[PS_MAXSPANS];
	struct ps_stats stats;
	/* originating */
	bool orig_started;
	int orig_placed;
	int orig_live;
	int64_t orig_start_us;
	int orig_rr;
	struct event *ev_orig;
	bool shutting_down;
	struct event *ev_exit;
	bool dcut;              /* SIGUSR1: D-channel cut (frames dropped
				 * both ways) until SIGUSR2 */
	struct ps_span *glare_span; /* place_call: this span and bearer */
	unsigned glare_chan;
	char glared[64][PS_NUMLEN]; /* called numbers met so (a ring) */
	unsigned nglared;
};

extern struct ps ps;

/* span.c */
int ps_span_open(struct ps_span *span, int idx);
void ps_span_close(struct ps_span *span);
void ps_span_kick(struct ps_span *span);
bool ps_span_ready(const struct ps_span *span);
int ps_chan_to_bearer(const struct ps_span *span, int prichan);
int ps_bearer_to_chan(const struct ps_span *span, unsigned bearer);

/* call.c */
void ps_call_event(struct ps_span *span, const pri_event *e);
void ps_call_clear_span(struct ps_span *span, int cause);
void ps_call_hangup_all(void);
unsigned ps_call_count(void);
void ps_orig_check_start(void);
/** Originate one call (--to ...): on ps.glare_span/glare_chan if set. */
void ps_call_place(void);
void ps_call_tx(struct ps_call *call, uint8_t *blk);
void ps_call_rx(struct ps_call *call, const uint8_t *blk);
/** The rule for @p num (longest prefix), or NULL: answer, defaults. */
const struct ps_rule *ps_rule_find(const struct ps_conf *conf,
				   const char *num);
enum ps_action ps_rule_lookup(const struct ps_conf *conf, const char *num,
			      int *causep);
int ps_rule_parse(struct ps_rule *rule, const char *arg);

/** An answered call clears (normal clearing) @p ms from now. */
void ps_call_hangup_after(struct ps_call *call, int ms);

/* fax.c */
struct ps_fax;
/** "fax-send:PATH" / "fax-recv:PATH": 0 taken, ENOENT not one, EINVAL
 *  bad (said). */
int ps_fax_media_arg(struct ps_conf *c, const char *arg);
void ps_fax_tx(struct ps_call *call, uint8_t *blk);
void ps_fax_rx(struct ps_call *call, const uint8_t *blk);
/** The call record's fax fields (fax_result: T.30 code, -1 unfinished). */
void ps_fax_json(char *out, size_t size, const struct ps_call *call);
void ps_fax_free(struct ps_call *call);

/* play.c */
/** A rule option of play.c: 0 taken, ENOENT not one, EINVAL bad (said). */
int ps_play_option(struct ps_play_conf *pc, int *media, const char *opt);
/** --media wav:PATH / wav-once:PATH: 0, ENOENT, or EINVAL (said). */
int ps_play_media_arg(struct ps_play_conf *pc, const char *arg);
void ps_play_conf_free(struct ps_play_conf *pc);
/** The call's audio from @p rule's settings over the options'. */
void ps_play_setup(struct ps_call *call, const struct ps_rule *rule);
/** Fill @p blk with the call's WAV; called for PS_MEDIA_WAV. */
void ps_play_wav(struct ps_call *call, uint8_t *blk);
/** After the media: DTMF digits over it once the call is answered. */
void ps_play_dtmf(struct ps_call *call, uint8_t *blk);
void ps_play_rx(struct ps_call *call, const uint8_t *blk);
/** The call record's audio fields, each starting with ','. */
void ps_play_json(char *out, size_t size, const struct ps_call *call);

/* main.c */
void ps_emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void ps_json_str(char *out, size_t size, const char *in);
void ps_check_done(void);
int64_t ps_mono_us(void);

#endif
