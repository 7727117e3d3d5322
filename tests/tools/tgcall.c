/* tests/tools/tgcall.c  SIP test phone: calls with real audio, measured */

/*
 * tgcall is the SIP end of Tollgate's integration tests.  It shares no code
 * with sip/ or media/ on purpose, so that it tests them independently: SIP
 * messages are written as text and parsed by hand, G.711 and the tone
 * detector are our own (in-band DTMF is pstnsim's, pstnsim/dtmf.c); G.722
 * is SpanDSP's in its 8 kHz mode (no resampler of ours) and G.729 is
 * bcg729, called directly.  It
 * offers no telephone-event: DTMF goes in-band, as audio.  One thread,
 * one poll() loop, IPv4 over UDP.
 *
 *   tgcall call sip:NUMBER@HOST[:PORT] --local IP[:PORT] [options]
 *   tgcall answer --local IP:PORT [options]
 *
 * Every finished call prints one JSON line on stdout; logs go to stderr.
 * The exit status is 0 only if every call ended as the options expect.
 */

#define LOG_MODULE "tgcall"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <tiffio.h> /* before spandsp.h (Debian's 0.0.6) */
#include <spandsp.h>
#include <bcg729/decoder.h>
#include <bcg729/encoder.h>

#include "pstnsim/dtmf.h"
#include "util/util.h"

#define SIP_MAX 4096       /* any message we build */
#define SIP_RX_MAX 65535   /* any datagram we accept */
#define MAX_HDRS 96
#define MAX_CALLS 64
#define MAX_PROV 16
#define T1 500             /* RFC 3261 17.1.1.1 */
#define T2 4000
#define LINGER_MS 4000     /* absorb retransmissions after a call ends */
#define FRAME 160          /* 20 ms at 8 kHz */
#define MAX_PKT 480        /* samples in a packet: 60 ms (--ptime) */
#define MEASURE_SKIP_MS 200
#define TONE_DBFS (-10.0)

/* Static payload types double as the codec identifiers. */
enum law {
	LAW_ULAW = 0,
	LAW_ALAW = 8,
	LAW_G722 = 9,
	LAW_G729 = 18,
};

/* ---- options ---------------------------------------------------------- */

static struct {
	bool uac;
	char target[256];        /* UAC request URI */
	char local_ip[64];
	int local_port;
	char from[64];
	char display[64];        /* UAC: From display name, "" none */
	int codecs[2];           /* laws to offer/accept, in order */
	int ncodecs;
	int ptime;               /* ms per packet we send and ask for */
	int tone_hz;
	int detect_hz;
	int hold_ms;             /* UAC: default 2000; UAS: 0 = wait BYE */
	int cancel_after;        /* -1: never */
	int count;
	int expect;              /* -1: derived */
	int timeout_s;
	int ring_ms;
	int reject;              /* 0: answer */
	char diversion[160];     /* UAC: a Diversion header value, "" none */
	char save_invite[256];   /* UAS: write the first INVITE here */
	char header[480];        /* UAC: more header lines ("\r\n"
				  * between them), "" none */
	char need[160];          /* UAS: answer only INVITEs with this
				  * header line ("Name: value"), "" all */
	char dtmf[PS_DTMF_MAX + 1]; /* in-band after answer, "" none */
	int dtmf_at;             /* ms after answer */
	char record[256];        /* received audio to this WAV, "" none */
	int incomplete;          /* UAS: 484 to a Request-URI user of fewer
				  * characters (RFC 3578); 0 never */
	char adv_ip[64];         /* --advertise: what Via, Contact and SDP
				  * say instead of local_ip (a phone
				  * behind NAT), "" = local_ip */
	int adv_port;            /* ... and Via/Contact's port, 0 = ours */
	bool no_rport;           /* --no-rport: no ;rport in our Vias */
} opt;

/* What we say we are: our address, or the private one we pretend to
 * have behind a NAT (--advertise). */
static const char *adv_ip(void)
{
	return *opt.adv_ip ? opt.adv_ip : opt.local_ip;
}

static int adv_port(void)
{
	return opt.adv_port ? opt.adv_port : opt.local_port;
}

static const char *via_rport(void)
{
	return opt.no_rport ? "" : ";rport";
}

static int incompletes;          /* UAS: 484s sent for short numbers */

static volatile sig_atomic_t stop_signal;

/* ---- G.711 (ITU-T G.711, the classic segment search) ------------------- */

static uint8_t ulaw_encode(int pcm)
{
	const int bias = 0x84, clip = 32635;
	int sign = 0, exp = 7, mant, mask;

	if (pcm < 0) {
		pcm = -pcm;
		sign = 0x80;
	}
	if (pcm > clip)
		pcm = clip;
	pcm += bias;
	for (mask = 0x4000; !(pcm & mask) && exp > 0; mask >>= 1)
		exp--;
	mant = (pcm >> (exp + 3)) & 0x0f;
	return (uint8_t)~(sign | (exp << 4) | mant);
}

static int ulaw_decode(uint8_t u)
{
	int t;

	u = (uint8_t)~u;
	t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
	return (u & 0x80) ? (0x84 - t) : (t - 0x84);
}

static uint8_t alaw_encode(int pcm)
{
	static const int seg_end[8] = {0x1f, 0x3f, 0x7f, 0xff,
				       0x1ff, 0x3ff, 0x7ff, 0xfff};
	int mask, seg, aval;

	pcm >>= 3; /* 13-bit magnitude */
	if (pcm >= 0) {
		mask = 0xd5;
	} else {
		mask = 0x55;
		pcm = -pcm - 1;
	}
	for (seg = 0; seg < 8 && pcm > seg_end[seg]; seg++)
		;
	if (seg >= 8)
		return (uint8_t)(0x7f ^ mask);
	aval = seg << 4;
	if (seg < 2)
		aval |= (pcm >> 1) & 0x0f;
	else
		aval |= (pcm >> seg) & 0x0f;
	return (uint8_t)(aval ^ mask);
}

static int alaw_decode(uint8_t a)
{
	int t, seg;

	a ^= 0x55;
	t = (a & 0x0f) << 4;
	seg = (a & 0x70) >> 4;
	if (seg == 0)
		t += 8;
	else
		t = (t + 0x108) << (seg - 1);
	return (a & 0x80) ? t : -t;
}

static const char *law_name(int law)
{
	return law == LAW_ALAW ? "PCMA" : law == LAW_G722 ? "G722" :
	       law == LAW_G729 ? "G729" : "PCMU";
}

/* ---- DTMF (--dtmf-*): RFC 4733 events, in-band tones, SIP INFO ---------- */

/*
 * Digits to send start 600 ms into the media and go one every 200 ms,
 * each on for 100 ms: as RFC 4733 events (--dtmf-send), as tones in the
 * audio (--dtmf-tones) or as INFO application/dtmf-relay (--dtmf-info).
 * Whatever comes back is recorded per call: events (checked against RFC
 * 4733: marker on the first packet, one timestamp per event, durations
 * that never shrink, exactly --dtmf-ends end packets), digits heard in
 * the audio by our own Goertzel detector, and INFO digits.
 */

#define DTMF_PT 101             /* what we offer and answer */
#define DTMF_START 30           /* packets (20 ms) before the first digit */
#define DTMF_PERIOD 10          /* packets per digit: 5 on, 5 off */
#define DTMF_ON 5
#define DTMF_MAX 32

static struct {
	bool te;                 /* telephone-event in our SDP */
	char send[DTMF_MAX];     /* as events */
	char tones[DTMF_MAX];    /* in-band */
	char info[DTMF_MAX];     /* as INFO */
	bool no_marker;          /* our events without the marker bit */
	int ends;                /* end packets per event we send (3) */
	int expect_ends;         /* ... and expect (3) */
} dtmf_opt = {.ends = 3, .expect_ends = 3};

struct dtmf_media {
	int remote_pt;           /* the far end's telephone-event, -1 */
	unsigned info_sent;
	/* received events */
	bool ev_have;
	uint32_t ev_ts;
	uint16_t ev_dur;
	int ev_ends;
	char events[DTMF_MAX];
	unsigned ev_errors;
	bool seq_have;
	uint16_t seq_last;
	unsigned seq_gaps;
	/* in-band detector */
	int16_t blk[FRAME];
	int nblk;
	int hit, hits, misses;   /* current block hit, run lengths */
	bool on;
	char inband[DTMF_MAX];
	char info_rx[DTMF_MAX];
};

/* ---- media: RTP, tone generator, Goertzel measurement ------------------- */

struct media {
	int fd;
	int port;
	bool have_remote;
	struct sockaddr_in remote;
	bool negotiated;
	int pt;                  /* payload type we send */
	int law;
	bool running;
	bool started;            /* media ran at some point */
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	bool first;
	int64_t next_tx;
	double phase;
	uint32_t noise;          /* --tone noise: xorshift state */
	int64_t measure_from;    /* 0: not measuring yet */
	int64_t tx_stop_at;      /* --media-stop-after: 0 never */
	bool tx_stopped;         /* ... and it has come */
	unsigned tx, rx;
	int16_t blk[FRAME];
	int nblk;
	double tone_e, block_e;  /* Goertzel and total energy, whole blocks */
	double sum_sq;           /* all measured samples */
	uint64_t nsamp;
	struct {                 /* --jitter: audio on its way */
		int64_t due;
		uint8_t pkt[12 + MAX_PKT];
		size_t len;
	} held[8];
	/* --codec g722 / g729: the coders' state, from media start. */
	g722_encode_state_t *g722_enc;
	g722_decode_state_t *g722_dec;
	bcg729EncoderChannelContextStruct *g729_enc;
	bcg729DecoderChannelContextStruct *g729_dec;
	unsigned nheld;
	uint32_t net_rng;        /* --jitter, --loss */
	int64_t dtmf_tx0;        /* m->tx where --dtmf starts; -1 none */
	size_t dtmf_sent;
	struct ps_dtmf_rx dtmf_rx; /* in-band digits heard */
	FILE *rec;               /* --record */
	uint32_t rec_samples;
	struct dtmf_media dtmf;
};

static const char dtmf_keys[] = "0123456789*#ABCD";
static const double dtmf_row[4] = {697, 770, 852, 941};
static const double dtmf_col[4] = {1209, 1336, 1477, 1633};

static void dtmf_append(char *s, char d)
{
	size_t n = strlen(s);

	if (n + 1 < DTMF_MAX) {
		s[n] = d;
		s[n + 1] = '\0';
	}
}

/* Row and column of a key (1 2 3 A / 4 5 6 B / 7 8 9 C / * 0 # D). */
static void dtmf_rc(char d, int *r, int *c)
{
	static const char pad[] = "123A456B789C*0#D";
	int i = (int)(strchr(pad, d) - pad);

	*r = i / 4;
	*c = i % 4;
}

/* The digit of --dtmf-send/--dtmf-tones on at packet @p k, with its
 * index in *idx and packets since its start in *pos; 0 if none. */
static char dtmf_at(const char *digits, unsigned k, unsigned *idx,
		    unsigned *pos)
{
	unsigned i;

	if (!*digits || k < DTMF_START)
		return 0;
	i = (k - DTMF_START) / DTMF_PERIOD;
	if (i >= strlen(digits))
		return 0;
	*idx = i;
	*pos = (k - DTMF_START) % DTMF_PERIOD;
	return digits[i];
}

/* In-band: the tone sample @p i of packet @p k, or @p s when none. */
static int dtmf_tone_sample(const struct media *m, int i, int s)
{
	unsigned idx, pos;
	char d = dtmf_at(dtmf_opt.tones, m->tx, &idx, &pos);
	double t;
	int r, c;

	if (!d || pos >= DTMF_ON)
		return s;
	dtmf_rc(d, &r, &c);
	t = (double)(pos * FRAME + (unsigned)i) / 8000.0;
	/* About -7 and -5 dBm0, as a telephone sends. */
	return (int)lrint(9900 * sin(2 * M_PI * dtmf_row[r] * t) +
			  12500 * sin(2 * M_PI * dtmf_col[c] * t));
}

static void dtmf_put_hdr(uint8_t *pkt, bool marker, int pt, uint16_t seq,
			 uint32_t ts, uint32_t ssrc)
{
	pkt[0] = 0x80;
	pkt[1] = (uint8_t)((marker ? 0x80 : 0) | (pt & 0x7f));
	pkt[2] = (uint8_t)(seq >> 8);
	pkt[3] = (uint8_t)seq;
	pkt[4] = (uint8_t)(ts >> 24);
	pkt[5] = (uint8_t)(ts >> 16);
	pkt[6] = (uint8_t)(ts >> 8);
	pkt[7] = (uint8_t)ts;
	pkt[8] = (uint8_t)(ssrc >> 24);
	pkt[9] = (uint8_t)(ssrc >> 16);
	pkt[10] = (uint8_t)(ssrc >> 8);
	pkt[11] = (uint8_t)ssrc;
}

/* --dtmf-send: packet slot m->tx carries an event instead of audio.
 * @return true when it did (sent and counted). */
static bool dtmf_send_event(struct media *m)
{
	unsigned idx, pos, n = 1, i;
	char d = dtmf_at(dtmf_opt.send, m->tx, &idx, &pos);
	int pt = m->dtmf.remote_pt >= 0 ? m->dtmf.remote_pt : DTMF_PT;
	uint8_t pkt[16];
	uint32_t ts;
	uint16_t dur;
	bool end;

	if (!d || pos > DTMF_ON || !dtmf_opt.te)
		return false;
	/* The event's timestamp is that of its first packet slot. */
	ts = m->ts - pos * FRAME;
	end = pos == DTMF_ON;
	dur = (uint16_t)((end ? DTMF_ON : pos + 1) * FRAME);
	if (end)
		n = (unsigned)dtmf_opt.ends;
	pkt[12] = (uint8_t)(strchr(dtmf_keys, d) - dtmf_keys);
	pkt[13] = (uint8_t)((end ? 0x80 : 0) | 10);
	pkt[14] = (uint8_t)(dur >> 8);
	pkt[15] = (uint8_t)dur;
	for (i = 0; i < n; i++) {
		dtmf_put_hdr(pkt, pos == 0 && !dtmf_opt.no_marker, pt, m->seq++,
			     ts, m->ssrc);
		if (sendto(m->fd, pkt, sizeof(pkt), 0,
			   (struct sockaddr *)&m->remote,
			   sizeof(m->remote)) < 0)
			gw_dbg(GW_DBG_MEDIA, "rtp send: %s", strerror(errno));
	}
	m->first = false;
	m->ts += FRAME;
	m->tx++;
	return true;
}

static void dtmf_ev_close(struct dtmf_media *d)
{
	if (d->ev_have && d->ev_ends != dtmf_opt.expect_ends) {
		gw_info("dtmf: event %c had %d end packets",
			d->events[strlen(d->events) - 1], d->ev_ends);
		d->ev_errors++;
	}
	d->ev_have = false;
}

/* A received packet of payload type @p pt: an event we take?  Checked
 * against RFC 4733 2.5.  @return true when it was one. */
static bool dtmf_rx_event(struct media *m, const uint8_t *buf, size_t hl,
			  size_t len)
{
	struct dtmf_media *d = &m->dtmf;
	int pt = buf[1] & 0x7f;
	bool marker = buf[1] & 0x80, end;
	uint32_t ts;
	uint16_t dur;

	if (!dtmf_opt.te || (pt != DTMF_PT && pt != d->remote_pt) ||
	    len < hl + 4)
		return false;
	ts = (uint32_t)buf[4] << 24 | (uint32_t)buf[5] << 16 |
	     (uint32_t)buf[6] << 8 | buf[7];
	end = buf[hl + 1] & 0x80;
	dur = (uint16_t)(buf[hl + 2] << 8 | buf[hl + 3]);
	if (!d->ev_have || ts != d->ev_ts) {
		dtmf_ev_close(d);
		if (buf[hl] > 15) {
			d->ev_errors++;
			return true;
		}
		dtmf_append(d->events, dtmf_keys[buf[hl]]);
		if (!marker) {
			gw_info("dtmf: event %c without marker",
				dtmf_keys[buf[hl]]);
			d->ev_errors++;
		}
		d->ev_have = true;
		d->ev_ts = ts;
		d->ev_dur = 0;
		d->ev_ends = 0;
	} else if (marker) {
		d->ev_errors++; /* only the first packet has it */
	}
	if (dur < d->ev_dur || (d->ev_ends && (!end || dur != d->ev_dur)))
		d->ev_errors++;
	d->ev_dur = dur;
	if (end)
		d->ev_ends++;
	return true;
}

/* Every packet we take (audio and events) is one step of the sender's
 * sequence: on loopback nothing is lost, so a gap is the sender's. */
static void dtmf_rx_seq(struct media *m, const uint8_t *buf)
{
	struct dtmf_media *d = &m->dtmf;
	uint16_t seq = (uint16_t)(buf[2] << 8 | buf[3]);

	if (d->seq_have && seq != (uint16_t)(d->seq_last + 1))
		d->seq_gaps++;
	d->seq_have = true;
	d->seq_last = seq;
}

static double dtmf_goertzel(const int16_t *x, double hz)
{
	const double coeff = 2.0 * cos(2.0 * M_PI * hz / 8000.0);
	double s1 = 0, s2 = 0;

	for (int i = 0; i < FRAME; i++) {
		double s = x[i] + coeff * s1 - s2;

		s2 = s1;
		s1 = s;
	}
	return 2.0 * (s1 * s1 + s2 * s2 - coeff * s1 * s2) / FRAME;
}

/* The key in a 20 ms block, or -1: one row and one column tone hold
 * most of its energy, each well above the others of its group. */
static int dtmf_block_key(const int16_t *x)
{
	double total = 0, pr[4], pc[4];
	int r = 0, c = 0, i;

	for (i = 0; i < FRAME; i++)
		total += (double)x[i] * x[i];
	if (total / FRAME < 100.0 * 100.0) /* below about -50 dBFS */
		return -1;
	for (i = 0; i < 4; i++) {
		pr[i] = dtmf_goertzel(x, dtmf_row[i]);
		pc[i] = dtmf_goertzel(x, dtmf_col[i]);
		if (pr[i] > pr[r])
			r = i;
		if (pc[i] > pc[c])
			c = i;
	}
	for (i = 0; i < 4; i++)
		if ((i != r && pr[i] * 8 > pr[r]) || (i != c && pc[i] * 8 > pc[c]))
			return -1;
	if ((pr[r] + pc[c]) < 0.6 * total)
		return -1;
	return (int)(strchr(dtmf_keys, "123A456B789C*0#D"[r * 4 + c]) -
		     dtmf_keys);
}

/* In-band digits in what we receive: a key in two blocks running is a
 * digit; two blocks without it end it. */
static void dtmf_rx_audio(struct media *m, const uint8_t *pl, size_t n,
			  int law)
{
	struct dtmf_media *d = &m->dtmf;

	for (size_t i = 0; i < n; i++) {
		int k;

		d->blk[d->nblk++] = (int16_t)(law == LAW_ALAW ?
					      alaw_decode(pl[i]) :
					      ulaw_decode(pl[i]));
		if (d->nblk < FRAME)
			continue;
		d->nblk = 0;
		k = dtmf_block_key(d->blk);
		if (k >= 0 && k == d->hit) {
			d->hits++;
		} else if (k >= 0) {
			d->hit = k;
			d->hits = 1;
		}
		if (k < 0) {
			if (++d->misses >= 2) {
				d->on = false;
				d->hit = -1;
			}
		} else {
			d->misses = 0;
		}
		if (!d->on && d->hits >= 2 && k >= 0) {
			d->on = true;
			dtmf_append(d->inband, dtmf_keys[k]);
		}
	}
}

/* The far end's telephone-event payload type in an SDP body, or -1. */
static int dtmf_sdp_pt(const char *body, size_t len)
{
	const char *p = body, *end = body + len;
	int pt;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char line[128];
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl ? nl + 1 : end;
		if (sscanf(line, "a=rtpmap:%d telephone-event/8000", &pt) == 1 &&
		    pt >= 96 && pt < 128)
			return pt;
	}
	return -1;
}

static void dtmf_json(FILE *f, const struct media *m)
{
	const struct dtmf_media *d = &m->dtmf;

	if (!dtmf_opt.te && !*dtmf_opt.tones && !*dtmf_opt.info &&
	    !*d->inband && !*d->info_rx)
		return;
	fprintf(f, ",\"dtmf_events\":\"%s\",\"dtmf_event_errors\":%u,"
		"\"dtmf_seq_gaps\":%u,\"dtmf_inband\":\"%s\","
		"\"dtmf_info\":\"%s\",\"dtmf_remote_pt\":%d",
		d->events, d->ev_errors + (d->ev_have &&
					   d->ev_ends != dtmf_opt.expect_ends),
		d->seq_gaps, d->inband, d->info_rx, d->remote_pt);
}

static int media_open(struct media *m)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);

	memset(m, 0, sizeof(*m));
	m->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0)
		return errno;
	inet_pton(AF_INET, opt.local_ip, &sa.sin_addr);
	if (bind(m->fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(m->fd, (struct sockaddr *)&sa, &len)) {
		int err = errno;

		close(m->fd);
		m->fd = -1;
		return err;
	}
	m->port = ntohs(sa.sin_port);
	m->dtmf_tx0 = -1;
	ps_dtmf_rx_init(&m->dtmf_rx);
	m->dtmf.remote_pt = m->dtmf.hit = -1;
	tg_random(&m->ssrc, sizeof(m->ssrc));
	tg_random(&m->seq, sizeof(m->seq));
	tg_random(&m->ts, sizeof(m->ts));
	m->first = true;
	return 0;
}

static void rec_open(struct media *m);
static void rec_close(struct media *m);

static void media_close(struct media *m)
{
	rec_close(m);
	if (m->g722_enc)
		g722_encode_free(m->g722_enc);
	if (m->g722_dec)
		g722_decode_free(m->g722_dec);
	if (m->g729_enc)
		closeBcg729EncoderChannel(m->g729_enc);
	if (m->g729_dec)
		closeBcg729DecoderChannel(m->g729_dec);
	m->g722_enc = NULL;
	m->g722_dec = NULL;
	m->g729_enc = NULL;
	m->g729_dec = NULL;
	if (m->fd >= 0)
		close(m->fd);
	m->fd = -1;
	m->running = false;
}

/* Measurement and media timing (--measure-after, --media-stop-after). */
static struct {
	int measure_after;       /* ms after media starts; -1 default */
	int stop_after;          /* ms after media starts we go silent (no
				  * RTP at all); -1 never */
	int jitter;              /* audio packets held 0..N-1 ms (reordered) */
	int loss;                /* ... and one in 100/N not sent; 0 none */
} media_opt = {-1, -1, 0, 0};

/* Start sending and measuring (on answer, or on early media). */
static void media_start(struct media *m, int64_t now)
{
	if (m->running || !m->negotiated)
		return;
	m->running = m->started = true;
	rec_open(m);
	if (m->law == LAW_G722 && !m->g722_enc) {
		m->g722_enc = g722_encode_init(NULL, 64000,
					       G722_SAMPLE_RATE_8000);
		m->g722_dec = g722_decode_init(NULL, 64000,
					       G722_SAMPLE_RATE_8000);
	} else if (m->law == LAW_G729 && !m->g729_enc) {
		m->g729_enc = initBcg729EncoderChannel(0);
		m->g729_dec = initBcg729DecoderChannel();
	}
	m->next_tx = now;
	m->measure_from = now + (media_opt.measure_after >= 0
				 ? media_opt.measure_after : MEASURE_SKIP_MS);
	if (media_opt.stop_after >= 0)
		m->tx_stop_at = now + media_opt.stop_after;
	gw_info("media %s pt %d from port %d to %s:%d", law_name(m->law),
		m->pt, m->port, inet_ntoa(m->remote.sin_addr),
		ntohs(m->remote.sin_port));
}

/* The call is answered: --dtmf starts --dtmf-at ms from now. */
static void media_answered(struct media *m)
{
	if (*opt.dtmf && m->dtmf_tx0 < 0)
		m->dtmf_tx0 = (int64_t)m->tx + opt.dtmf_at / 20;
}

/* The next frame of --dtmf into @p lin; false when not sending digits. */
static bool media_dtmf(struct media *m, int16_t *lin)
{
	uint64_t pos;

	if (m->dtmf_tx0 < 0 || (int64_t)m->tx < m->dtmf_tx0 ||
	    m->dtmf_sent >= strlen(opt.dtmf))
		return false;
	pos = (uint64_t)((int64_t)m->tx - m->dtmf_tx0) * FRAME;
	m->dtmf_sent = ps_dtmf_gen(lin, FRAME, opt.dtmf, pos, 100, 100);
	return true;
}

static uint32_t net_rand(struct media *m)
{
	m->net_rng = m->net_rng * 1103515245u + 12345u;
	return m->net_rng >> 8;
}

/* An audio packet goes out now, or later (--jitter), or never (--loss). */
static void media_emit(struct media *m, const uint8_t *pkt, size_t len,
		       int64_t now)
{
	if (media_opt.loss && net_rand(m) % 100 < (unsigned)media_opt.loss)
		return;
	if (media_opt.jitter && m->nheld < 8) {
		m->held[m->nheld].due = now + net_rand(m) % media_opt.jitter;
		m->held[m->nheld].len = len;
		memcpy(m->held[m->nheld++].pkt, pkt, len);
		return;
	}
	if (sendto(m->fd, pkt, len, 0, (struct sockaddr *)&m->remote,
		   sizeof(m->remote)) < 0)
		gw_dbg(GW_DBG_MEDIA, "rtp send: %s", strerror(errno));
}

static void media_flush_held(struct media *m, int64_t now)
{
	unsigned i = 0;

	while (i < m->nheld) {
		if (m->held[i].due > now) {
			i++;
			continue;
		}
		if (sendto(m->fd, m->held[i].pkt, m->held[i].len, 0,
			   (struct sockaddr *)&m->remote,
			   sizeof(m->remote)) < 0)
			gw_dbg(GW_DBG_MEDIA, "rtp send: %s", strerror(errno));
		m->held[i] = m->held[--m->nheld];
	}
}

static int64_t media_next_held(const struct media *m, int64_t t)
{
	for (unsigned i = 0; i < m->nheld; i++)
		if (m->held[i].due < t)
			t = m->held[i].due;
	return t;
}

/* Code @p n samples of @p lin as the media's codec into @p out. */
static size_t media_code(struct media *m, uint8_t *out, const int16_t *lin,
			 int n)
{
	uint8_t fl;
	size_t len = 0;
	int i;

	if (m->law == LAW_G722)
		return (size_t)g722_encode(m->g722_enc, out, lin, n);
	if (m->law == LAW_G729) {
		for (i = 0; i + 80 <= n; i += 80) {
			bcg729Encoder(m->g729_enc, lin + i, out + len, &fl);
			len += fl;
		}
		return len;
	}
	for (i = 0; i < n; i++)
		out[i] = m->law == LAW_ALAW ? alaw_encode(lin[i])
					    : ulaw_encode(lin[i]);
	return (size_t)n;
}

/* --tone noise: white noise with the tone's power (a speech-wide
 * signal, which an echo canceller must learn across the band). */
static int noise_sample(struct media *m, double amp)
{
	uint32_t x = m->noise ? m->noise : 0x2545f491u;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	m->noise = x;
	/* uniform in [-a, a] has a mean square of a^2/3; a sine's is amp^2/2 */
	return (int)lrint(amp * sqrt(1.5) * ((double)x / 2147483648.0 - 1.0));
}

static void media_send_one(struct media *m, int64_t now)
{
	uint8_t pkt[12 + MAX_PKT];
	int16_t dtmf[FRAME], lin[MAX_PKT];
	bool digits = media_dtmf(m, dtmf);
	const double amp = 32767.0 * pow(10.0, TONE_DBFS / 20.0);
	const double step = 2.0 * M_PI * opt.tone_hz / 8000.0;
	int i, n = opt.ptime * 8;

	if (dtmf_send_event(m))
		return;
	pkt[0] = 0x80;
	pkt[1] = (uint8_t)((m->first ? 0x80 : 0) | (m->pt & 0x7f));
	pkt[2] = (uint8_t)(m->seq >> 8);
	pkt[3] = (uint8_t)m->seq;
	pkt[4] = (uint8_t)(m->ts >> 24);
	pkt[5] = (uint8_t)(m->ts >> 16);
	pkt[6] = (uint8_t)(m->ts >> 8);
	pkt[7] = (uint8_t)m->ts;
	pkt[8] = (uint8_t)(m->ssrc >> 24);
	pkt[9] = (uint8_t)(m->ssrc >> 16);
	pkt[10] = (uint8_t)(m->ssrc >> 8);
	pkt[11] = (uint8_t)m->ssrc;
	/* In-band digits are 20 ms frames: only with --ptime 20. */
	for (i = 0; i < n; i++) {
		int s = opt.tone_hz > 0 ? (int)lrint(amp * sin(m->phase)) :
			opt.tone_hz < 0 ? noise_sample(m, amp) : 0;

		if (digits && i < FRAME)
			s = dtmf[i];
		if (i < FRAME)
			s = dtmf_tone_sample(m, i, s);

		m->phase += step;
		if (m->phase > 2.0 * M_PI)
			m->phase -= 2.0 * M_PI;
		lin[i] = (int16_t)s;
	}
	/* RFC 3551 4.5.2: G.722 too counts 8000 a second. */
	media_emit(m, pkt, 12 + media_code(m, pkt + 12, lin, n), now);
	m->first = false;
	m->seq++;
	m->ts += (uint32_t)n;
	m->tx++;
}

static void media_tick(struct media *m, int64_t now)
{
	if (!m->running || !m->have_remote || m->tx_stopped)
		return;
	if (m->tx_stop_at && now >= m->tx_stop_at) {
		gw_info("media: no more RTP from us (--media-stop-after)");
		m->tx_stopped = true;
		return;
	}
	media_flush_held(m, now);
	while (now >= m->next_tx) {
		media_send_one(m, now);
		m->next_tx += opt.ptime;
		/* After a stall, resume the clock instead of bursting. */
		if (now - m->next_tx > 200)
			m->next_tx = now + 20;
	}
}

static void goertzel_block(struct media *m)
{
	const double coeff = 2.0 * cos(2.0 * M_PI * opt.detect_hz / 8000.0);
	double s1 = 0, s2 = 0, total = 0, power;
	int i;

	for (i = 0; i < FRAME; i++) {
		double x = m->blk[i], s = x + coeff * s1 - s2;

		s2 = s1;
		s1 = s;
		total += x * x;
	}
	power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
	/* A pure sine at the bin gives |X|^2 = (A N / 2)^2 and a total
	 * energy of N A^2 / 2, so 2 |X|^2 / N makes the ratio 1. */
	m->tone_e += 2.0 * power / FRAME;
	m->block_e += total;
}

static void media_measure(struct media *m, const uint8_t *pl, size_t n,
			  int law)
{
	size_t i;

	for (i = 0; i < n; i++) {
		int s = law == LAW_ALAW ? alaw_decode(pl[i])
					: ulaw_decode(pl[i]);

		m->sum_sq += (double)s * s;
		m->nsamp++;
		m->blk[m->nblk++] = (int16_t)s;
		if (m->nblk == FRAME) {
			if (opt.detect_hz > 0)
				goertzel_block(m);
			m->nblk = 0;
		}
	}
}

/* ---- --record: what we hear, as a 16-bit PCM WAV ------------------------ */

static void rec_header(FILE *f, uint32_t n)
{
	uint8_t h[44] = "RIFF....WAVEfmt \x10\0\0\0\x01\0\x01\0"
			"\x40\x1f\0\0\x80\x3e\0\0\x02\0\x10\0data";
	uint32_t riff = 36 + 2 * n, data = 2 * n;

	for (int i = 0; i < 4; i++) {
		h[4 + i] = (uint8_t)(riff >> (8 * i));
		h[40 + i] = (uint8_t)(data >> (8 * i));
	}
	fseek(f, 0, SEEK_SET);
	fwrite(h, 1, sizeof(h), f);
}

static void rec_open(struct media *m)
{
	if (!*opt.record || m->rec)
		return;
	m->rec = fopen(opt.record, "wb");
	if (!m->rec) {
		gw_warn("--record %s: %s", opt.record, strerror(errno));
		return;
	}
	rec_header(m->rec, 0);
}

static void rec_close(struct media *m)
{
	if (!m->rec)
		return;
	rec_header(m->rec, m->rec_samples);
	fclose(m->rec);
	m->rec = NULL;
}

static void media_hear(struct media *m, const uint8_t *pl, size_t n, int law)
{
	int16_t lin[FRAME];

	while (n) {
		size_t k = n < FRAME ? n : FRAME;

		for (size_t i = 0; i < k; i++)
			lin[i] = (int16_t)(law == LAW_ALAW ? alaw_decode(pl[i])
							   : ulaw_decode(pl[i]));
		ps_dtmf_rx_feed(&m->dtmf_rx, lin, k);
		if (m->rec) {
			for (size_t i = 0; i < k; i++) {
				uint8_t b[2] = {(uint8_t)lin[i],
						(uint8_t)((uint16_t)lin[i] >> 8)};

				fwrite(b, 1, 2, m->rec);
			}
			m->rec_samples += (uint32_t)k;
		}
		pl += k;
		n -= k;
	}
}

/* A G.722/G.729 payload @p pl of @p n octets, decoded, back into @p pl
 * as mu-law (room: the receive buffer); @return its samples. */
static size_t media_decode(struct media *m, int law, uint8_t *pl, size_t n)
{
	int16_t lin[1024];
	size_t k = 0, i;

	if (law == LAW_G722 && m->g722_dec) {
		if (n > sizeof(lin) / sizeof(lin[0]))
			n = sizeof(lin) / sizeof(lin[0]);
		k = (size_t)g722_decode(m->g722_dec, lin, pl, (int)n);
	} else if (law == LAW_G729 && m->g729_dec) {
		for (i = 0; i + 10 <= n && k + 80 <= 1024; i += 10, k += 80)
			bcg729Decoder(m->g729_dec, pl + i, 10, 0, 0, 0,
				      lin + k);
	}
	for (i = 0; i < k; i++)
		pl[i] = ulaw_encode(lin[i]);
	return k;
}

static void media_read(struct media *m, int64_t now)
{
	uint8_t buf[2048];
	ssize_t n;

	while ((n = recv(m->fd, buf, sizeof(buf), 0)) >= 0) {
		size_t hl = 12, len = (size_t)n;
		int pt, law;

		if (len < 12 || (buf[0] >> 6) != 2)
			continue;
		hl += 4u * (buf[0] & 0x0f);
		if ((buf[0] & 0x10) && len >= hl + 4)
			hl += 4 + 4u * ((buf[hl + 2] << 8) | buf[hl + 3]);
		if ((buf[0] & 0x20) && len > hl) {
			if (buf[len - 1] > len - hl)
				continue;
			len -= buf[len - 1];
		}
		if (len <= hl)
			continue;
		pt = buf[1] & 0x7f;
		if (dtmf_rx_event(m, buf, hl, len)) {
			dtmf_rx_seq(m, buf);
			continue;
		}
		if (m->negotiated && pt == m->pt)
			law = m->law;
		else if (pt == 0 || pt == 8)
			law = pt;
		else
			continue;
		if (law == LAW_G722 || law == LAW_G729) {
			/* Decoded, then heard as mu-law like the rest. */
			len = hl + media_decode(m, law, buf + hl, len - hl);
			law = LAW_ULAW;
		}
		m->rx++;
		media_hear(m, buf + hl, len - hl, law);
		dtmf_rx_seq(m, buf);
		dtmf_rx_audio(m, buf + hl, len - hl, law);
		if (m->measure_from && now >= m->measure_from)
			media_measure(m, buf + hl, len - hl, law);
	}
}

static double media_ratio(const struct media *m)
{
	double r;

	if (m->block_e <= 0)
		return 0;
	r = m->tone_e / m->block_e;
	return r > 1.0 ? 1.0 : r;
}

static double media_level(const struct media *m)
{
	double ref = 32767.0 * 32767.0 / 2.0; /* full-scale sine = 0 dBFS */
	double db;

	if (!m->nsamp)
		return -99;
	if (m->sum_sq <= 0)
		return -99;
	db = 10.0 * log10(m->sum_sq / (double)m->nsamp / ref);
	return db < -99 ? -99 : db;
}

/* ---- SDP ---------------------------------------------------------------- */

struct sdp {
	bool have_addr;
	struct in_addr addr;
	int port;
	int pts[32];
	int npts;
	int dyn_law[128];       /* rtpmap of dynamic types: law or -1 */
};

static int sdp_parse(struct sdp *s, const char *body, size_t len)
{
	const char *p = body, *end = body + len;
	bool in_audio = false, seen_audio = false;

	memset(s, 0, sizeof(*s));
	for (int i = 0; i < 128; i++)
		s->dyn_law[i] = -1;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char line[512];
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		char ip[64], name[32];
		int pt, rate, off;

		if (n >= sizeof(line))
			n = sizeof(line) - 1;
		memcpy(line, p, n);
		line[n] = '\0';
		if (n && line[n - 1] == '\r')
			line[n - 1] = '\0';
		p = nl ? nl + 1 : end;
		if (line[0] == 'm' && line[1] == '=') {
			in_audio = !seen_audio && !strncmp(line, "m=audio ", 8);
			if (!in_audio)
				continue;
			seen_audio = true;
			off = 0;
			if (sscanf(line, "m=audio %d %*s%n", &s->port,
				   &off) < 1 || !off)
				return EBADMSG;
			for (char *q = line + off; s->npts < 32;) {
				char *e;
				long v = strtol(q, &e, 10);

				if (e == q)
					break;
				s->pts[s->npts++] = (int)v;
				q = e;
			}
		} else if (line[0] == 'c' && (in_audio || !seen_audio) &&
			   sscanf(line, "c=IN IP4 %63[0-9.]", ip) == 1) {
			s->have_addr = inet_pton(AF_INET, ip, &s->addr) == 1;
		} else if (in_audio &&
			   sscanf(line, "a=rtpmap:%d %31[^/]/%d", &pt, name,
				  &rate) == 3 &&
			   pt >= 96 && pt < 128 && rate == 8000) {
			if (!strcasecmp(name, "PCMU"))
				s->dyn_law[pt] = LAW_ULAW;
			else if (!strcasecmp(name, "PCMA"))
				s->dyn_law[pt] = LAW_ALAW;
			else if (!strcasecmp(name, "G722"))
				s->dyn_law[pt] = LAW_G722;
			else if (!strcasecmp(name, "G729"))
				s->dyn_law[pt] = LAW_G729;
		}
	}
	return seen_audio ? 0 : ENODATA;
}

static int sdp_law(const struct sdp *s, int pt)
{
	if (pt == 0 || pt == 8 || pt == 9 || pt == 18)
		return pt;
	if (pt >= 96 && pt < 128)
		return s->dyn_law[pt];
	return -1;
}

static bool law_allowed(int law)
{
	for (int i = 0; i < opt.ncodecs; i++)
		if (opt.codecs[i] == law)
			return true;
	return false;
}

/* First payload type in the m= line that we have and is allowed. */
static bool sdp_choose(const struct sdp *s, int *pt, int *law)
{
	for (int i = 0; i < s->npts; i++) {
		int l = sdp_law(s, s->pts[i]);

		if (l >= 0 && law_allowed(l)) {
			*pt = s->pts[i];
			*law = l;
			return true;
		}
	}
	return false;
}

/* Apply an offer or answer to the media: codec and where to send. */
static bool media_apply_sdp(struct media *m, const char *body, size_t len)
{
	struct sdp s;

	if (sdp_parse(&s, body, len) || !sdp_choose(&s, &m->pt, &m->law))
		return false;
	m->negotiated = true;
	m->dtmf.remote_pt = dtmf_sdp_pt(body, len);
	m->have_remote = s.have_addr && s.port > 0 &&
			 s.addr.s_addr != htonl(INADDR_ANY);
	m->remote.sin_family = AF_INET;
	m->remote.sin_addr = s.addr;
	m->remote.sin_port = htons((uint16_t)s.port);
	return true;
}

/* @p pts / @p laws: the codecs to list, in order. */
static void sdp_build(char *out, size_t size, int port, uint32_t sess,
		      const int *pts, const int *laws, int n)
{
	size_t len;
	int i;

	len = (size_t)snprintf(out, size,
			       "v=0\r\n"
			       "o=tgcall %u 1 IN IP4 %s\r\n"
			       "s=tgcall\r\n"
			       "c=IN IP4 %s\r\n"
			       "t=0 0\r\n"
			       "m=audio %d RTP/AVP",
			       sess, adv_ip(), adv_ip(), port);
	for (i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(out + len, size - len, " %d", pts[i]);
	if (dtmf_opt.te && len < size)
		len += (size_t)snprintf(out + len, size - len, " %d", DTMF_PT);
	if (len < size)
		len += (size_t)snprintf(out + len, size - len, "\r\n");
	for (i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(out + len, size - len,
					"a=rtpmap:%d %s/8000\r\n%s", pts[i],
					law_name(laws[i]),
					laws[i] == LAW_G729
					? "a=fmtp:18 annexb=no\r\n" : "");
	if (dtmf_opt.te && len < size)
		len += (size_t)snprintf(out + len, size - len,
					"a=rtpmap:%d telephone-event/8000\r\n"
					"a=fmtp:%d 0-15\r\n", DTMF_PT,
					DTMF_PT);
	if (len < size)
		snprintf(out + len, size - len, "a=ptime:%d\r\na=sendrecv\r\n",
			 opt.ptime);
}

/* ---- SIP message parsing ------------------------------------------------ */

struct sip_hdr {
	const char *name;
	const char *val;
};

struct sip_msg {
	bool req;
	char method[32];
	char ruri[256];
	int status;
	struct sip_hdr hdrs[MAX_HDRS];
	int nhdrs;
	const char *body;
	size_t blen;
	char buf[SIP_RX_MAX + 1];
};

static const char *hdr_full_name(const char *name)
{
	static const char *const compact[][2] = {
		{"v", "Via"}, {"f", "From"}, {"t", "To"}, {"i", "Call-ID"},
		{"m", "Contact"}, {"l", "Content-Length"},
		{"c", "Content-Type"}, {"k", "Supported"},
	};

	if (name[0] && !name[1])
		for (size_t i = 0; i < TG_ARRAY_SIZE(compact); i++)
			if (tolower((unsigned char)name[0]) == compact[i][0][0])
				return compact[i][1];
	return name;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static const char *msg_hdr_n(const struct sip_msg *m, const char *name,
			     int idx)
{
	for (int i = 0; i < m->nhdrs; i++)
		if (!strcasecmp(m->hdrs[i].name, name) && idx-- == 0)
			return m->hdrs[i].val;
	return NULL;
}

static const char *msg_hdr(const struct sip_msg *m, const char *name)
{
	return msg_hdr_n(m, name, 0);
}

static int sip_start_line(struct sip_msg *m, char *line)
{
	char ver[16];

	if (!strncmp(line, "SIP/2.0 ", 8)) {
		m->req = false;
		m->status = atoi(line + 8);
		return m->status >= 100 && m->status < 700 ? 0 : EBADMSG;
	}
	m->req = true;
	if (sscanf(line, "%31s %255s %15s", m->method, m->ruri, ver) != 3 ||
	    strcmp(ver, "SIP/2.0"))
		return EBADMSG;
	return 0;
}

/* Decode one datagram.  ENODATA: truncated; EBADMSG: malformed. */
static int sip_decode(struct sip_msg *m, const char *data, size_t len)
{
	char *p, *end, *hend, *line;
	const char *cl;
	size_t avail;
	int err;

	if (len > SIP_RX_MAX)
		return EMSGSIZE;
	memcpy(m->buf, data, len);
	m->buf[len] = '\0';
	m->nhdrs = 0;
	end = m->buf + len;
	hend = strstr(m->buf, "\r\n\r\n");
	if (hend) {
		m->body = hend + 4;
	} else if ((hend = strstr(m->buf, "\n\n"))) {
		m->body = hend + 2;
	} else {
		return ENODATA;
	}
	*hend = '\0';
	/* RFC 3261 7.3.1: unfold continuation lines into spaces. */
	for (p = m->buf; (p = strchr(p, '\n')); p++)
		if (p[1] == ' ' || p[1] == '\t') {
			*p = ' ';
			if (p > m->buf && p[-1] == '\r')
				p[-1] = ' ';
		}
	line = strtok_r(m->buf, "\n", &p);
	if (!line)
		return EBADMSG;
	err = sip_start_line(m, trim(line));
	if (err)
		return err;
	while ((line = strtok_r(NULL, "\n", &p)) && m->nhdrs < MAX_HDRS) {
		char *colon = strchr(line, ':');

		if (!colon)
			continue;
		*colon = '\0';
		m->hdrs[m->nhdrs].name = hdr_full_name(trim(line));
		m->hdrs[m->nhdrs].val = trim(colon + 1);
		m->nhdrs++;
	}
	avail = (size_t)(end - m->body);
	cl = msg_hdr(m, "Content-Length");
	m->blen = cl ? strtoul(cl, NULL, 10) : avail;
	if (m->blen > avail)
		return ENODATA;
	if (!msg_hdr(m, "Call-ID") || !msg_hdr(m, "CSeq") ||
	    !msg_hdr(m, "From") || !msg_hdr(m, "To") || !msg_hdr(m, "Via"))
		return EBADMSG;
	return 0;
}

/*
 * Header parameter @p name of @p val (after the URI's '>' when there is
 * one).  Returns false if absent; a flag parameter gives "".
 */
static bool hdr_param(const char *val, const char *name, char *out,
		      size_t size)
{
	const char *p = strchr(val, '>');
	size_t nl = strlen(name);

	p = p ? p : val;
	while ((p = strchr(p, ';'))) {
		p++;
		while (*p == ' ')
			p++;
		if (strncasecmp(p, name, nl) ||
		    (p[nl] && p[nl] != '=' && p[nl] != ';' && p[nl] != ' ' &&
		     p[nl] != ','))
			continue;
		p += nl;
		if (*p == '=')
			p++;
		else
			p = "";
		size_t n = strcspn(p, ";, \t");

		if (n >= size)
			n = size - 1;
		memcpy(out, p, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

/* The URI inside a name-addr or addr-spec header value. */
static void hdr_uri(const char *val, char *out, size_t size)
{
	const char *lt = strchr(val, '<');
	size_t n;

	if (lt) {
		val = lt + 1;
		n = strcspn(val, ">");
	} else {
		n = strcspn(val, "; \t,");
	}
	if (n >= size)
		n = size - 1;
	memcpy(out, val, n);
	out[n] = '\0';
}

/* sip:user@host:port;params  ->  user, host, port (default 5060). */
static int uri_parse(const char *uri, char *user, size_t usize, char *host,
		     size_t hsize, int *port)
{
	const char *p = uri, *at, *hp;
	size_t n;

	if (!strncasecmp(p, "sip:", 4))
		p += 4;
	else if (!strncasecmp(p, "sips:", 5))
		p += 5;
	else
		return EINVAL;
	at = strchr(p, '@');
	n = at ? (size_t)(at - p) : 0;
	n = n < usize ? n : usize - 1;
	memcpy(user, p, n);
	user[n] = '\0';
	user[strcspn(user, ";:")] = '\0';
	hp = at ? at + 1 : p;
	n = strcspn(hp, ":;?>");
	if (!n || n >= hsize)
		return EINVAL;
	memcpy(host, hp, n);
	host[n] = '\0';
	*port = hp[n] == ':' ? atoi(hp + n + 1) : 5060;
	return *port > 0 && *port < 65536 ? 0 : EINVAL;
}

static int resolve(struct sockaddr_in *sa, const char *host, int port)
{
	struct addrinfo hints = {.ai_family = AF_INET,
				 .ai_socktype = SOCK_DGRAM};
	struct addrinfo *res;

	if (getaddrinfo(host, NULL, &hints, &res) || !res)
		return EHOSTUNREACH;
	memcpy(sa, res->ai_addr, sizeof(*sa));
	sa->sin_port = htons((uint16_t)port);
	freeaddrinfo(res);
	return 0;
}

static int uri_resolve(struct sockaddr_in *sa, const char *uri)
{
	char user[64], host[128];
	int port;

	if (uri_parse(uri, user, sizeof(user), host, sizeof(host), &port))
		return EINVAL;
	return resolve(sa, host, port);
}

static void hdr_user(const char *val, char *out, size_t size)
{
	char uri[256], host[128];
	int port;

	hdr_uri(val, uri, sizeof(uri));
	if (uri_parse(uri, out, size, host, sizeof(host), &port))
		out[0] = '\0';
}

/* Q.850 cause of any "Reason: Q.850;cause=N" header, else -1. */
static int msg_reason_cause(const struct sip_msg *m)
{
	const char *v;

	for (int i = 0; (v = msg_hdr_n(m, "Reason", i)); i++) {
		const char *p = v;

		while (p && *p) {
			char cause[16];

			while (*p == ' ' || *p == ',')
				p++;
			if (!strncasecmp(p, "Q.850", 5) &&
			    hdr_param(p, "cause", cause, sizeof(cause)))
				return atoi(cause);
			p = strchr(p, ',');
		}
	}
	return -1;
}

static void msg_cseq(const struct sip_msg *m, unsigned *num, char *method,
		     size_t size)
{
	char fmt[32];

	snprintf(fmt, sizeof(fmt), "%%u %%%zus", size - 1);
	*num = 0;
	method[0] = '\0';
	sscanf(msg_hdr(m, "CSeq"), fmt, num, method);
}

static void msg_branch(const struct sip_msg *m, char *out, size_t size)
{
	if (!hdr_param(msg_hdr(m, "Via"), "branch", out, size))
		out[0] = '\0';
}

/* ---- SIP message building ----------------------------------------------- */

static int sip_fd = -1;

static const char *reason_phrase(int status)
{
	static const struct {
		int status;
		const char *phrase;
	} tab[] = {
		{100, "Trying"}, {180, "Ringing"}, {183, "Session Progress"},
		{200, "OK"}, {400, "Bad Request"}, {403, "Forbidden"},
		{404, "Not Found"}, {408, "Request Timeout"},
		{480, "Temporarily Unavailable"},
		{481, "Call/Transaction Does Not Exist"},
		{486, "Busy Here"}, {487, "Request Terminated"},
		{488, "Not Acceptable Here"}, {500, "Server Internal Error"},
		{501, "Not Implemented"}, {503, "Service Unavailable"},
		{600, "Busy Everywhere"}, {603, "Decline"},
	};

	for (size_t i = 0; i < TG_ARRAY_SIZE(tab); i++)
		if (tab[i].status == status)
			return tab[i].phrase;
	return status < 200 ? "Progress" : status < 300 ? "OK" : "Failed";
}

static void sip_send(const char *buf, size_t len, const struct sockaddr_in *to)
{
	if (sendto(sip_fd, buf, len, 0, (const struct sockaddr *)to,
		   sizeof(*to)) < 0)
		gw_warn("send to %s:%d: %s", inet_ntoa(to->sin_addr),
			ntohs(to->sin_port), strerror(errno));
	gw_dbg(GW_DBG_SIPMSG, "sent to %s:%d:\n%.*s",
	       inet_ntoa(to->sin_addr), ntohs(to->sin_port), (int)len, buf);
}

static void rand_token(char *out, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[16];
	size_t i;

	tg_random(b, sizeof(b));
	for (i = 0; i < sizeof(b) && 2 * i + 2 < size; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * i] = '\0';
}

/* Append to @p out, tracking @p len; stops cleanly when full. */
static void appendf(char *out, size_t size, size_t *len, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));

static void appendf(char *out, size_t size, size_t *len, const char *fmt,
		    ...)
{
	va_list ap;
	int n;

	if (*len >= size)
		return;
	va_start(ap, fmt);
	n = vsnprintf(out + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n > 0)
		*len += (size_t)n;
	if (*len >= size)
		*len = size - 1;
}

static void append_body(char *out, size_t size, size_t *len,
			const char *body)
{
	size_t blen = body ? strlen(body) : 0;

	if (blen)
		appendf(out, size, len, "Content-Type: application/sdp\r\n");
	appendf(out, size, len, "Content-Length: %zu\r\n\r\n%s", blen,
		body ? body : "");
}

/* RFC 3581 4: add received= and fill rport= on the top Via. */
static void append_top_via(char *out, size_t size, size_t *len,
			   const char *via, const struct sockaddr_in *src)
{
	size_t first = strcspn(via, ",");
	const char *rp = NULL, *p = via;

	while ((p = strcasestr(p, ";rport")) && p < via + first) {
		if (p[6] != '=' && strchr(";, \t", p[6]))
			rp = p;
		p += 6;
	}
	if (!rp) {
		appendf(out, size, len, "Via: %s\r\n", via);
		return;
	}
	appendf(out, size, len, "Via: %.*s;rport=%d;received=%s%s\r\n",
		(int)(rp - via), via, ntohs(src->sin_port),
		inet_ntoa(src->sin_addr), rp + 6);
}

/*
 * The header block every response to @p req starts with: Vias, From, To
 * (with @p totag if To has none), Call-ID, CSeq.
 */
static void resp_headers(char *out, size_t size, const struct sip_msg *req,
			 const struct sockaddr_in *src, const char *totag)
{
	const char *to = msg_hdr(req, "To"), *v;
	size_t len = 0;
	char tag[128];

	out[0] = '\0';
	for (int i = 0; (v = msg_hdr_n(req, "Via", i)); i++) {
		if (i == 0)
			append_top_via(out, size, &len, v, src);
		else
			appendf(out, size, &len, "Via: %s\r\n", v);
	}
	appendf(out, size, &len, "From: %s\r\n", msg_hdr(req, "From"));
	if (totag && !hdr_param(to, "tag", tag, sizeof(tag)))
		appendf(out, size, &len, "To: %s;tag=%s\r\n", to, totag);
	else
		appendf(out, size, &len, "To: %s\r\n", to);
	appendf(out, size, &len, "Call-ID: %s\r\nCSeq: %s\r\n",
		msg_hdr(req, "Call-ID"), msg_hdr(req, "CSeq"));
}

static size_t build_response(char *out, size_t size, const char *hdrs,
			     int status, const char *extra, const char *body)
{
	size_t len = 0;

	appendf(out, size, &len, "SIP/2.0 %d %s\r\n%s", status,
		reason_phrase(status), hdrs);
	appendf(out, size, &len, "%sServer: tgcall\r\n", extra ? extra : "");
	append_body(out, size, &len, body);
	return len;
}

/* Reply statelessly to a request, to where it came from (rport). */
static void sip_reply(const struct sip_msg *req,
		      const struct sockaddr_in *src, int status,
		      const char *totag, const char *extra, const char *body)
{
	char hdrs[SIP_MAX], out[SIP_MAX], tag[20];
	size_t len;

	/* RFC 3261 8.2.6.2: a final response outside a dialog adds a tag. */
	if (!totag && status > 100) {
		rand_token(tag, 17);
		totag = tag;
	}
	resp_headers(hdrs, sizeof(hdrs), req, src, totag);
	len = build_response(out, sizeof(out), hdrs, status, extra, body);
	sip_send(out, len, src);
}

static size_t build_request(char *out, size_t size, const char *method,
			    const char *ruri, const char *branch,
			    const char *from, const char *to,
			    const char *call_id, unsigned cseq,
			    const char *extra, const char *body)
{
	size_t len = 0;

	appendf(out, size, &len,
		"%s %s SIP/2.0\r\n"
		"Via: SIP/2.0/UDP %s:%d;branch=%s%s\r\n"
		"Max-Forwards: 70\r\n"
		"From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %u %s\r\n"
		"%sUser-Agent: tgcall\r\n",
		method, ruri, adv_ip(), adv_port(), branch, via_rport(), from,
		to, call_id, cseq, method, extra ? extra : "");
	append_body(out, size, &len, body);
	return len;
}

/* ---- retransmitted messages --------------------------------------------- */

struct retx {
	char buf[SIP_MAX];
	size_t len;
	struct sockaddr_in to;
	bool active;
	int64_t next;
	int64_t interval;
	int64_t cap;             /* 0: no cap (Timer A) */
	int64_t give_up;
};

/*
 * Send @p r now and retransmit it: RFC 3261 17.1.1.2 Timer A doubles
 * without cap (cap 0); 17.1.2.2 Timer E and 13.3.1.4 cap at T2.  Every
 * one gives up after 64*T1 (Timers B, F, H).
 */
static void retx_start(struct retx *r, int64_t cap, int64_t now)
{
	sip_send(r->buf, r->len, &r->to);
	r->active = true;
	r->interval = T1;
	r->cap = cap;
	r->next = now + T1;
	r->give_up = now + 64 * T1;
}

/* Returns true when @p r has given up. */
static bool retx_run(struct retx *r, int64_t now)
{
	if (!r->active)
		return false;
	if (now >= r->give_up) {
		r->active = false;
		return true;
	}
	if (now >= r->next) {
		sip_send(r->buf, r->len, &r->to);
		r->interval *= 2;
		if (r->cap && r->interval > r->cap)
			r->interval = r->cap;
		r->next = now + r->interval;
	}
	return false;
}

/* ---- calls -------------------------------------------------------------- */

enum call_state {
	CS_CALLING,     /* UAC: INVITE sent, nothing back yet */
	CS_PROCEEDING,  /* UAC: provisional received; UAS: ringing */
	CS_ANSWERED,    /* 200 OK sent or received; media running */
	CS_FINAL,       /* UAS: non-2xx final sent, waiting for its ACK */
	CS_BYE,         /* our BYE sent, waiting for its response */
	CS_LINGER,      /* result printed; absorbing retransmissions */
};

struct call {
	bool uac;
	enum call_state state;
	char call_id[160];
	char branch[64];         /* of the INVITE */
	char from_hdr[512];      /* From of the requests we send */
	char to_hdr[512];        /* To of the requests we send */
	char ruri[256];          /* INVITE Request-URI (UAC) */
	char remote_target[256]; /* remote Contact URI */
	struct sockaddr_in dst;  /* where the INVITE went (UAC) */
	char local_tag[40];
	unsigned cseq;           /* our next in-dialog CSeq */
	uint32_t sess;
	struct retx inv;         /* UAC: INVITE */
	struct retx cancel;      /* UAC: CANCEL */
	struct retx bye;         /* our BYE */
	struct retx resp;        /* UAS: last response to the INVITE */
	char ack[SIP_MAX];       /* UAC: the ACK, resent on retransmissions */
	size_t ack_len;
	struct sockaddr_in ack_to;
	char inv_hdrs[SIP_MAX];  /* UAS: header block for INVITE responses */
	struct media media;
	int64_t cancel_at;       /* 0: none */
	bool cancel_sent;
	int64_t ring_at;         /* UAS: when to send 200 */
	int64_t hold_until;      /* when to send BYE; 0: never */
	int64_t deadline;        /* give up on the call */
	int64_t linger_until;
	bool acked;              /* UAS: ACK received */
	int status;              /* final status; 0: none */
	int reason_cause;
	char answer_pai[160];    /* UAC: the 200 OK's P-Asserted-Identity */
	int prov[MAX_PROV];
	int nprov;
	bool answered;
	const char *bye_by;
	const char *error;
	char to_user[64];
	char from_user[64];
	char diversion[64];      /* UAS: the Diversion user received */
	char diversion_reason[32];
};

static struct call *calls[MAX_CALLS];
static int calls_started, calls_done, calls_failed;

static struct call *call_find(const char *call_id)
{
	for (int i = 0; i < MAX_CALLS; i++)
		if (calls[i] && !strcmp(calls[i]->call_id, call_id))
			return calls[i];
	return NULL;
}

static struct call *call_alloc(bool uac)
{
	struct call *c;
	int i;

	for (i = 0; i < MAX_CALLS && calls[i]; i++)
		;
	if (i == MAX_CALLS) {
		/* Reap the oldest lingering call to make room. */
		for (i = 0; i < MAX_CALLS; i++)
			if (calls[i]->state == CS_LINGER)
				break;
		if (i == MAX_CALLS)
			return NULL;
		free(calls[i]);
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->uac = uac;
	c->reason_cause = -1;
	c->cseq = 1;
	c->media.fd = -1;
	tg_random(&c->sess, sizeof(c->sess));
	c->sess &= 0x7fffffff;
	rand_token(c->local_tag, 17);
	calls[i] = c;
	return c;
}

static void prov_add(struct call *c, int status)
{
	for (int i = 0; i < c->nprov; i++)
		if (c->prov[i] == status)
			return;
	if (c->nprov < MAX_PROV)
		c->prov[c->nprov++] = status;
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static bool call_ok(const struct call *c)
{
	int expect = opt.expect;

	if (c->error)
		return false;
	if (expect < 0) {
		if (c->uac)
			expect = opt.cancel_after >= 0 ? 487 : 200;
		else
			expect = opt.reject ? opt.reject : 200;
	}
	if (c->status != expect)
		return false;
	if (!c->uac && !c->acked)
		return false;
	/* An answered call must also have ended with a BYE. */
	return c->status != 200 || c->bye_by;
}

static void call_print(const struct call *c, bool ok)
{
	const struct media *m = &c->media;
	FILE *f = stdout;

	fprintf(f, "{\"call_id\":");
	json_str(f, c->call_id);
	if (c->status)
		fprintf(f, ",\"status\":%d", c->status);
	else
		fprintf(f, ",\"status\":null");
	if (c->reason_cause >= 0)
		fprintf(f, ",\"reason_cause\":%d", c->reason_cause);
	else
		fprintf(f, ",\"reason_cause\":null");
	fprintf(f, ",\"answer_pai\":");
	json_str(f, c->answer_pai);
	fprintf(f, ",\"provisional\":[");
	for (int i = 0; i < c->nprov; i++)
		fprintf(f, "%s%d", i ? "," : "", c->prov[i]);
	fprintf(f, "],\"answered\":%s,\"codec\":",
		c->answered ? "true" : "false");
	if (m->started)
		json_str(f, law_name(m->law));
	else
		fprintf(f, "null");
	fprintf(f,
		",\"rtp_tx\":%u,\"rtp_rx\":%u,\"rx_tone_ratio\":%.3f,"
		"\"rx_level_dbfs\":%.1f,\"dtmf_rx\":",
		m->tx, m->rx, media_ratio(m), media_level(m));
	json_str(f, m->dtmf_rx.digits);
	fprintf(f, ",\"dtmf_tx\":\"%.*s\",\"bye_by\":", (int)m->dtmf_sent,
		opt.dtmf);
	if (c->bye_by)
		json_str(f, c->bye_by);
	else
		fprintf(f, "null");
	if (!c->uac) {
		fprintf(f, ",\"to_user\":");
		json_str(f, c->to_user);
		fprintf(f, ",\"from_user\":");
		json_str(f, c->from_user);
		fprintf(f, ",\"diversion\":");
		json_str(f, c->diversion);
		fprintf(f, ",\"diversion_reason\":");
		json_str(f, c->diversion_reason);
	}
	dtmf_json(f, m);
	fprintf(f, ",\"error\":");
	if (c->error)
		json_str(f, c->error);
	else
		fprintf(f, "null");
	fprintf(f, ",\"ok\":%s}\n", ok ? "true" : "false");
	fflush(f);
}

/* Print the result and keep the call only to absorb retransmissions. */
static void call_end(struct call *c, const char *error, int64_t now)
{
	bool ok;

	if (c->state == CS_LINGER)
		return;
	if (error && !c->error)
		c->error = error;
	media_close(&c->media);
	c->inv.active = c->cancel.active = c->bye.active = false;
	c->resp.active = false;
	c->state = CS_LINGER;
	c->linger_until = now + LINGER_MS;
	ok = call_ok(c);
	calls_done++;
	if (!ok)
		calls_failed++;
	gw_notice("call %s ended: status %d%s%s%s", c->call_id, c->status,
		  c->error ? ", " : "", c->error ? c->error : "",
		  ok ? "" : " (not as expected)");
	call_print(c, ok);
}

static void call_free(int i)
{
	media_close(&calls[i]->media);
	free(calls[i]);
	calls[i] = NULL;
}

static void call_send_bye(struct call *c, int64_t now)
{
	char branch[40] = "z9hG4bK";

	rand_token(branch + 7, sizeof(branch) - 7);
	c->bye.len = build_request(c->bye.buf, sizeof(c->bye.buf), "BYE",
				   c->remote_target, branch, c->from_hdr,
				   c->to_hdr, c->call_id, c->cseq++, NULL,
				   NULL);
	c->media.running = false;
	retx_start(&c->bye, T2, now);
	c->state = CS_BYE;
	gw_info("call %s: BYE sent", c->call_id);
}

/* --dtmf-info: an INFO application/dtmf-relay when a digit's slot
 * comes (sent once: loopback does not lose it). */
static void dtmf_info_tick(struct call *c)
{
	struct media *m = &c->media;
	char d, branch[40] = "z9hG4bK", buf[SIP_MAX], body[64];
	unsigned idx, pos;
	size_t len = 0;

	if (c->state != CS_ANSWERED || !m->running)
		return;
	d = dtmf_at(dtmf_opt.info, m->tx, &idx, &pos);
	if (!d || idx < m->dtmf.info_sent)
		return;
	m->dtmf.info_sent = idx + 1;
	rand_token(branch + 7, sizeof(branch) - 7);
	snprintf(body, sizeof(body), "Signal=%c\r\nDuration=%d\r\n", d,
		 DTMF_ON * 20);
	appendf(buf, sizeof(buf), &len,
		"INFO %s SIP/2.0\r\n"
		"Via: SIP/2.0/UDP %s:%d;branch=%s%s\r\n"
		"Max-Forwards: 70\r\n"
		"From: %s\r\nTo: %s\r\nCall-ID: %s\r\nCSeq: %u INFO\r\n"
		"User-Agent: tgcall\r\n"
		"Content-Type: application/dtmf-relay\r\n"
		"Content-Length: %zu\r\n\r\n%s",
		c->remote_target, adv_ip(), adv_port(), branch, via_rport(),
		c->from_hdr, c->to_hdr, c->call_id, c->cseq++, strlen(body),
		body);
	sip_send(buf, len, &c->bye.to);
}

static void dtmf_info_rx(struct call *c, const struct sip_msg *m,
			 const struct sockaddr_in *src)
{
	const char *sig = m->blen ? strcasestr(m->body, "Signal=") : NULL;

	sip_reply(m, src, 200, NULL, NULL, NULL);
	if (sig && sig[7] && strchr(dtmf_keys, sig[7]))
		dtmf_append(c->media.dtmf.info_rx, sig[7]);
}

/* A re-INVITE inside the dialog: accept it with our current SDP. */
static void call_reinvite(struct call *c, const struct sip_msg *m,
			  const struct sockaddr_in *src)
{
	char sdp[1024], contact[160];
	int pt = c->media.pt, law = c->media.law;

	sdp_build(sdp, sizeof(sdp), c->media.port, c->sess, &pt, &law, 1);
	snprintf(contact, sizeof(contact), "Contact: <sip:%s:%d>\r\n",
		 adv_ip(), adv_port());
	sip_reply(m, src, 200, NULL, contact, sdp);
}

/* In-dialog requests common to both roles. */
static void call_request(struct call *c, const struct sip_msg *m,
			 const struct sockaddr_in *src, int64_t now)
{
	if (!strcmp(m->method, "BYE")) {
		int cause = msg_reason_cause(m);

		sip_reply(m, src, 200, NULL, NULL, NULL);
		if (c->state == CS_LINGER)
			return;
		if (cause >= 0 && c->reason_cause < 0)
			c->reason_cause = cause;
		/* Crossing BYEs: ours already counts as the hangup. */
		if (c->state != CS_BYE)
			c->bye_by = "remote";
		else if (!c->bye_by)
			c->bye_by = "local";
		if (c->state == CS_ANSWERED || c->state == CS_BYE)
			call_end(c, NULL, now);
		else
			call_end(c, "BYE before answer", now);
	} else if (!strcmp(m->method, "OPTIONS")) {
		sip_reply(m, src, 200, NULL,
			  "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n"
			  "Accept: application/sdp\r\n",
			  NULL);
	} else if (!strcmp(m->method, "INVITE")) {
		call_reinvite(c, m, src);
	} else if (!strcmp(m->method, "INFO")) {
		dtmf_info_rx(c, m, src);
	} else if (strcmp(m->method, "ACK")) {
		sip_reply(m, src, 501, NULL, NULL, NULL);
	}
}

/* ---- UAC ---------------------------------------------------------------- */

static int uac_start(int64_t now)
{
	char user[64], host[128], sdp[1024], contact[1280], branch[40];
	int pts[2], port, err;
	struct call *c;

	c = call_alloc(true);
	if (!c)
		return ENOMEM;
	calls_started++;
	err = media_open(&c->media);
	if (err) {
		gw_err("rtp socket: %s", strerror(err));
		c->error = "no RTP socket";
		call_end(c, NULL, now);
		return 0;
	}
	uri_parse(opt.target, user, sizeof(user), host, sizeof(host), &port);
	resolve(&c->dst, host, port);
	tg_strlcpy(c->ruri, opt.target, sizeof(c->ruri));
	tg_strlcpy(c->remote_target, opt.target, sizeof(c->remote_target));
	rand_token(c->call_id, 33);
	snprintf(c->call_id + 32, sizeof(c->call_id) - 32, "@%s",
		 opt.local_ip);
	strcpy(branch, "z9hG4bK");
	rand_token(branch + 7, sizeof(branch) - 7);
	tg_strlcpy(c->branch, branch, sizeof(c->branch));
	snprintf(c->from_hdr, sizeof(c->from_hdr), "%s%s%s<sip:%s@%s>;tag=%s",
		 *opt.display ? "\"" : "", opt.display,
		 *opt.display ? "\" " : "", opt.from, opt.local_ip,
		 c->local_tag);
	snprintf(c->to_hdr, sizeof(c->to_hdr), "<%s>", opt.target);
	snprintf(contact, sizeof(contact),
		 "Contact: <sip:%s@%s:%d>\r\n"
		 "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n%s%s%s%s%s",
		 opt.from, adv_ip(), adv_port(),
		 *opt.diversion ? "Diversion: " : "", opt.diversion,
		 *opt.diversion ? "\r\n" : "", opt.header,
		 *opt.header ? "\r\n" : "");
	for (int i = 0; i < opt.ncodecs; i++)
		pts[i] = opt.codecs[i];
	sdp_build(sdp, sizeof(sdp), c->media.port, c->sess, pts, opt.codecs,
		  opt.ncodecs);
	c->inv.to = c->dst;
	c->inv.len = build_request(c->inv.buf, sizeof(c->inv.buf), "INVITE",
				   c->ruri, c->branch, c->from_hdr,
				   c->to_hdr, c->call_id, c->cseq++, contact,
				   sdp);
	c->state = CS_CALLING;
	c->deadline = now + opt.timeout_s * 1000LL + opt.hold_ms;
	if (opt.cancel_after >= 0)
		c->cancel_at = now + opt.cancel_after;
	gw_notice("call %d/%d: INVITE %s (%s)", calls_started, opt.count,
		  opt.target, c->call_id);
	retx_start(&c->inv, 0, now);
	return 0;
}

static void uac_send_cancel(struct call *c, int64_t now)
{
	c->cancel.to = c->dst;
	/* RFC 3261 9.1: same Request-URI, Call-ID, From, To, branch. */
	c->cancel.len = build_request(c->cancel.buf, sizeof(c->cancel.buf),
				      "CANCEL", c->ruri, c->branch,
				      c->from_hdr, c->to_hdr, c->call_id, 1,
				      NULL, NULL);
	retx_start(&c->cancel, T2, now);
	c->cancel_sent = true;
	/* If no final response follows within 64*T1, give up (9.1). */
	if (c->deadline > now + 64 * T1)
		c->deadline = now + 64 * T1;
	gw_info("call %s: CANCEL sent", c->call_id);
}

/* RFC 3261 17.1.1.3: ACK a non-2xx final in the INVITE transaction. */
static void uac_ack_failure(struct call *c, const struct sip_msg *m)
{
	c->ack_to = c->dst;
	c->ack_len = build_request(c->ack, sizeof(c->ack), "ACK", c->ruri,
				   c->branch, c->from_hdr, msg_hdr(m, "To"),
				   c->call_id, 1, NULL, NULL);
	sip_send(c->ack, c->ack_len, &c->ack_to);
}

/* RFC 3261 13.2.2.4: ACK a 2xx end to end, to the remote target. */
static void uac_ack_2xx(struct call *c, const struct sip_msg *m)
{
	const char *contact = msg_hdr(m, "Contact");
	char branch[40] = "z9hG4bK";

	tg_strlcpy(c->to_hdr, msg_hdr(m, "To"), sizeof(c->to_hdr));
	if (contact)
		hdr_uri(contact, c->remote_target, sizeof(c->remote_target));
	if (uri_resolve(&c->ack_to, c->remote_target))
		c->ack_to = c->dst;
	rand_token(branch + 7, sizeof(branch) - 7);
	c->ack_len = build_request(c->ack, sizeof(c->ack), "ACK",
				   c->remote_target, branch, c->from_hdr,
				   c->to_hdr, c->call_id, 1, NULL, NULL);
	sip_send(c->ack, c->ack_len, &c->ack_to);
	c->bye.to = c->ack_to;
}

static void uac_invite_2xx(struct call *c, const struct sip_msg *m,
			   int64_t now)
{
	c->inv.active = false;
	c->status = m->status;
	c->answered = true;
	uac_ack_2xx(c, m);
	if (m->blen && !media_apply_sdp(&c->media, m->body, m->blen))
		gw_warn("call %s: unusable SDP answer", c->call_id);
	if (!c->media.negotiated) {
		c->error = "no usable SDP answer";
		call_send_bye(c, now);
		return;
	}
	if (c->cancel_sent) {
		/* The 200 crossed our CANCEL: hang up at once. */
		call_send_bye(c, now);
		return;
	}
	media_start(&c->media, now);
	media_answered(&c->media);
	c->state = CS_ANSWERED;
	c->hold_until = now + opt.hold_ms;
	gw_info("call %s: answered, %s", c->call_id,
		law_name(c->media.law));
}

static void uac_invite_response(struct call *c, const struct sip_msg *m,
				int64_t now)
{
	char branch[64];
	bool live = c->state == CS_CALLING || c->state == CS_PROCEEDING;

	msg_branch(m, branch, sizeof(branch));
	if (strcmp(branch, c->branch))
		return;
	if (m->status < 200) {
		if (!live)
			return;
		/* RFC 3261 17.1.1.2: a provisional stops Timers A and B. */
		c->inv.active = false;
		c->state = CS_PROCEEDING;
		prov_add(c, m->status);
		if (m->status > 100 && m->blen &&
		    media_apply_sdp(&c->media, m->body, m->blen))
			media_start(&c->media, now);
		if (c->cancel_at && now >= c->cancel_at && !c->cancel_sent)
			uac_send_cancel(c, now);
	} else if (m->status < 300) {
		if (live && msg_hdr(m, "P-Asserted-Identity"))
			snprintf(c->answer_pai, sizeof(c->answer_pai), "%s",
				 msg_hdr(m, "P-Asserted-Identity"));
		if (live)
			uac_invite_2xx(c, m, now);
		else if (c->ack_len)
			sip_send(c->ack, c->ack_len, &c->ack_to);
	} else if (live) {
		c->inv.active = false;
		c->status = m->status;
		c->reason_cause = msg_reason_cause(m);
		uac_ack_failure(c, m);
		call_end(c, NULL, now);
	} else if (c->ack_len) {
		sip_send(c->ack, c->ack_len, &c->ack_to);
	}
}

static void call_response(struct call *c, const struct sip_msg *m,
			  int64_t now)
{
	char method[32];
	unsigned num;

	msg_cseq(m, &num, method, sizeof(method));
	if (!strcmp(method, "INVITE")) {
		if (c->uac)
			uac_invite_response(c, m, now);
	} else if (!strcmp(method, "CANCEL")) {
		if (m->status >= 200)
			c->cancel.active = false;
	} else if (!strcmp(method, "BYE") && c->state == CS_BYE &&
		   m->status >= 200) {
		c->bye.active = false;
		if (!c->bye_by)
			c->bye_by = "local";
		call_end(c, m->status < 300 ? NULL : "BYE rejected", now);
	}
}

/* ---- UAS ---------------------------------------------------------------- */

/* Send a response to the INVITE; finals are retransmitted until ACK. */
static void uas_respond(struct call *c, int status, const char *extra,
			const char *body, int64_t now)
{
	c->resp.len = build_response(c->resp.buf, sizeof(c->resp.buf),
				     c->inv_hdrs, status, extra, body);
	if (status < 200) {
		sip_send(c->resp.buf, c->resp.len, &c->resp.to);
		prov_add(c, status);
		return;
	}
	c->status = status;
	/* RFC 3261 13.3.1.4 (2xx) and 17.2.1 Timer G (non-2xx). */
	retx_start(&c->resp, T2, now);
	c->state = status < 300 ? CS_ANSWERED : CS_FINAL;
}

static void uas_answer(struct call *c, int64_t now)
{
	char sdp[1024], contact[800];
	int pt = c->media.pt, law = c->media.law;

	sdp_build(sdp, sizeof(sdp), c->media.port, c->sess, &pt, &law, 1);
	/* --header lines go in our 200 OK too (answer mode). */
	snprintf(contact, sizeof(contact),
		 "Contact: <sip:%s@%s:%d>\r\n"
		 "Allow: INVITE, ACK, BYE, CANCEL, OPTIONS\r\n%s%s",
		 c->to_user[0] ? c->to_user : "tgcall", adv_ip(), adv_port(),
		 opt.header, *opt.header ? "\r\n" : "");
	uas_respond(c, 200, contact, sdp, now);
	c->answered = true;
	c->ring_at = 0;
	media_start(&c->media, now);
	media_answered(&c->media);
	gw_info("call %s: answered, %s", c->call_id,
		law_name(c->media.law));
}

static void uas_setup_dialog(struct call *c, const struct sip_msg *m,
			     const struct sockaddr_in *src)
{
	const char *contact = msg_hdr(m, "Contact");

	tg_strlcpy(c->call_id, msg_hdr(m, "Call-ID"), sizeof(c->call_id));
	msg_branch(m, c->branch, sizeof(c->branch));
	snprintf(c->from_hdr, sizeof(c->from_hdr), "%s;tag=%s",
		 msg_hdr(m, "To"), c->local_tag);
	tg_strlcpy(c->to_hdr, msg_hdr(m, "From"), sizeof(c->to_hdr));
	hdr_user(msg_hdr(m, "To"), c->to_user, sizeof(c->to_user));
	hdr_user(msg_hdr(m, "From"), c->from_user, sizeof(c->from_user));
	if (msg_hdr(m, "Diversion")) {
		const char *d = msg_hdr(m, "Diversion");
		const char *r = strstr(d, ";reason=");

		hdr_user(d, c->diversion, sizeof(c->diversion));
		if (r) {
			r += 8;
			r += *r == '"';
			snprintf(c->diversion_reason,
				 sizeof(c->diversion_reason), "%.*s",
				 (int)strcspn(r, "\";,"), r);
		}
	}
	if (contact)
		hdr_uri(contact, c->remote_target, sizeof(c->remote_target));
	else
		hdr_uri(msg_hdr(m, "From"), c->remote_target,
			sizeof(c->remote_target));
	if (uri_resolve(&c->bye.to, c->remote_target))
		c->bye.to = *src;
	c->resp.to = *src;
	resp_headers(c->inv_hdrs, sizeof(c->inv_hdrs), m, src, c->local_tag);
}

static void uas_invite(const struct sip_msg *m, const struct sockaddr_in *src,
		       int64_t now)
{
	struct call *c;
	int err;

	if (*opt.need) {
		/* Not the INVITE this test waits for (say, a retransmission
		 * of an earlier one): no answer at all. */
		size_t nl = strcspn(opt.need, ":");
		const char *want = opt.need + nl + 1;
		bool found = false;

		while (*want == ' ')
			want++;
		for (int i = 0; i < m->nhdrs && !found; i++)
			found = strlen(m->hdrs[i].name) == nl &&
				!strncasecmp(m->hdrs[i].name, opt.need, nl) &&
				!strcasecmp(m->hdrs[i].val, want);
		if (!found)
			return;
	}
	if (opt.incomplete) {
		/* RFC 3578: "sip:USER@...": too short a number is incomplete;
		 * the caller may send a longer one (no call of ours yet). */
		const char *u = strchr(m->ruri, ':');
		size_t ulen = u ? strcspn(u + 1, "@;>") : 0;

		if ((int)ulen < opt.incomplete) {
			incompletes++;
			gw_notice("INVITE for %.*s: 484 (%d so far)", (int)ulen,
				  u ? u + 1 : "", incompletes);
			sip_reply(m, src, 484, NULL, NULL, NULL);
			return;
		}
	}
	if (calls_started >= opt.count) {
		sip_reply(m, src, 503, NULL, NULL, NULL);
		return;
	}
	if (*opt.save_invite) {
		FILE *f = fopen(opt.save_invite, "w");

		/* Headers as decoded, then the body as it came. */
		if (f) {
			fprintf(f, "%s %s SIP/2.0\n", m->method, m->ruri);
			for (int i = 0; i < m->nhdrs; i++)
				fprintf(f, "%s: %s\n", m->hdrs[i].name,
					m->hdrs[i].val);
			fputc('\n', f);
			fwrite(m->body, 1, m->blen, f);
			fclose(f);
		}
		opt.save_invite[0] = '\0';
	}
	c = call_alloc(false);
	if (!c) {
		sip_reply(m, src, 503, NULL, NULL, NULL);
		return;
	}
	calls_started++;
	uas_setup_dialog(c, m, src);
	c->deadline = 0;
	gw_notice("call %d/%d: INVITE from %s to %s (%s)", calls_started,
		  opt.count, c->from_user, c->to_user, c->call_id);
	uas_respond(c, 100, NULL, NULL, now);
	err = media_open(&c->media);
	if (err) {
		gw_err("rtp socket: %s", strerror(err));
		uas_respond(c, 500, NULL, NULL, now);
		c->error = "no RTP socket";
		return;
	}
	if (opt.reject) {
		uas_respond(c, opt.reject, NULL, NULL, now);
		return;
	}
	if (!m->blen || !media_apply_sdp(&c->media, m->body, m->blen)) {
		/* RFC 3264 6: nothing we can answer. */
		uas_respond(c, 488, NULL, NULL, now);
		return;
	}
	uas_respond(c, 180, NULL, NULL, now);
	c->state = CS_PROCEEDING;
	c->ring_at = now + opt.ring_ms;
}

static void uas_ack(struct call *c, int64_t now)
{
	if (c->state == CS_FINAL) {
		c->acked = true;
		call_end(c, NULL, now);
	} else if (c->state == CS_ANSWERED && !c->acked) {
		c->acked = true;
		c->resp.active = false;
		if (opt.hold_ms > 0)
			c->hold_until = now + opt.hold_ms;
	}
}

static void uas_cancel(struct call *c, const struct sip_msg *m,
		       const struct sockaddr_in *src, int64_t now)
{
	char branch[64];

	msg_branch(m, branch, sizeof(branch));
	if (strcmp(branch, c->branch)) {
		sip_reply(m, src, 481, c->local_tag, NULL, NULL);
		return;
	}
	sip_reply(m, src, 200, c->local_tag, NULL, NULL);
	if (msg_reason_cause(m) >= 0)
		c->reason_cause = msg_reason_cause(m);
	/* RFC 3261 9.2: only a pending INVITE is terminated. */
	if (c->state == CS_PROCEEDING) {
		c->ring_at = 0;
		c->cancel_sent = true;
		uas_respond(c, 487, NULL, NULL, now);
		gw_info("call %s: cancelled", c->call_id);
	}
}

static void uas_request(const struct sip_msg *m,
			const struct sockaddr_in *src, int64_t now)
{
	struct call *c = call_find(msg_hdr(m, "Call-ID"));
	char tag[128];
	bool has_tag = hdr_param(msg_hdr(m, "To"), "tag", tag, sizeof(tag));

	if (!strcmp(m->method, "INVITE") && !has_tag) {
		if (!c)
			uas_invite(m, src, now);
		else if (c->resp.len)
			sip_send(c->resp.buf, c->resp.len, &c->resp.to);
		return;
	}
	if (!c) {
		if (!strcmp(m->method, "OPTIONS"))
			sip_reply(m, src, 200, NULL,
				  "Allow: INVITE, ACK, BYE, CANCEL, "
				  "OPTIONS\r\nAccept: application/sdp\r\n",
				  NULL);
		else if (!strcmp(m->method, "BYE") ||
			 !strcmp(m->method, "CANCEL"))
			sip_reply(m, src, 481, NULL, NULL, NULL);
		else if (strcmp(m->method, "ACK"))
			sip_reply(m, src, 501, NULL, NULL, NULL);
		return;
	}
	if (!strcmp(m->method, "ACK"))
		uas_ack(c, now);
	else if (!strcmp(m->method, "CANCEL"))
		uas_cancel(c, m, src, now);
	else if (!strcmp(m->method, "BYE") &&
		 (c->state == CS_PROCEEDING || c->state == CS_FINAL))
		sip_reply(m, src, 481, NULL, NULL, NULL);
	else
		call_request(c, m, src, now);
}

/* Give up on a call: one best-effort BYE or CANCEL, then the result. */
static void call_abort(struct call *c, const char *why, int64_t now)
{
	if (c->state == CS_LINGER)
		return;
	if (c->state == CS_ANSWERED)
		call_send_bye(c, now);
	else if (c->uac && c->state == CS_PROCEEDING && !c->cancel_sent)
		uac_send_cancel(c, now);
	call_end(c, why, now);
}

/* ---- timers ------------------------------------------------------------- */

static void call_tick(struct call *c, int64_t now)
{
	if (c->state == CS_LINGER)
		return;
	if (retx_run(&c->inv, now)) {
		c->status = 408; /* RFC 3261 8.1.3.1: Timer B */
		call_end(c, "no response to INVITE (Timer B)", now);
		return;
	}
	retx_run(&c->cancel, now);
	if (retx_run(&c->resp, now)) {
		if (c->state == CS_ANSWERED) {
			/* RFC 3261 13.3.1.4: no ACK, so end the dialog. */
			c->error = "no ACK for 200 OK";
			call_send_bye(c, now);
		} else {
			call_end(c, "no ACK for final response", now);
		}
		return;
	}
	if (retx_run(&c->bye, now)) {
		call_end(c, "no response to BYE", now);
		return;
	}
	if (c->uac && c->cancel_at && now >= c->cancel_at &&
	    !c->cancel_sent && c->state == CS_PROCEEDING)
		uac_send_cancel(c, now);
	if (!c->uac && c->ring_at && now >= c->ring_at &&
	    c->state == CS_PROCEEDING)
		uas_answer(c, now);
	media_tick(&c->media, now);
	dtmf_info_tick(c);
	if (c->state == CS_ANSWERED && c->hold_until && now >= c->hold_until)
		call_send_bye(c, now);
	if (c->deadline && now >= c->deadline)
		call_abort(c, "timeout", now);
}

static int64_t min_time(int64_t a, int64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

static int64_t call_next_time(const struct call *c)
{
	int64_t t = 0;

	if (c->state == CS_LINGER)
		return c->linger_until;
	if (c->inv.active)
		t = min_time(t, min_time(c->inv.next, c->inv.give_up));
	if (c->cancel.active)
		t = min_time(t, c->cancel.next);
	if (c->resp.active)
		t = min_time(t, min_time(c->resp.next, c->resp.give_up));
	if (c->bye.active)
		t = min_time(t, min_time(c->bye.next, c->bye.give_up));
	if (c->cancel_at && !c->cancel_sent)
		t = min_time(t, c->cancel_at);
	if (c->media.running && c->media.have_remote && !c->media.tx_stopped)
		t = min_time(t, media_next_held(&c->media,
						c->media.next_tx));
	if (c->state == CS_ANSWERED)
		t = min_time(t, c->hold_until);
	t = min_time(t, c->ring_at);
	return min_time(t, c->deadline);
}

/* ---- the loop ----------------------------------------------------------- */

static void sip_read(int64_t now)
{
	static struct sip_msg msg;
	char data[SIP_RX_MAX];
	struct sockaddr_in src;
	socklen_t slen = sizeof(src);
	ssize_t n;
	struct call *c;
	int err;

	while ((n = recvfrom(sip_fd, data, sizeof(data), 0,
			     (struct sockaddr *)&src, &slen)) >= 0) {
		slen = sizeof(src);
		if (n < 4 || (n == 4 && !memcmp(data, "\r\n\r\n", 4)))
			continue; /* keepalive */
		err = sip_decode(&msg, data, (size_t)n);
		if (err) {
			gw_warn("dropped bad message from %s:%d: %s",
				inet_ntoa(src.sin_addr), ntohs(src.sin_port),
				strerror(err));
			continue;
		}
		gw_dbg(GW_DBG_SIPMSG, "received from %s:%d:\n%.*s",
		       inet_ntoa(src.sin_addr), ntohs(src.sin_port), (int)n,
		       data);
		c = call_find(msg_hdr(&msg, "Call-ID"));
		if (!msg.req) {
			if (c)
				call_response(c, &msg, now);
		} else if (!opt.uac) {
			uas_request(&msg, &src, now);
		} else if (c) {
			call_request(c, &msg, &src, now);
		} else if (!strcmp(msg.method, "OPTIONS")) {
			sip_reply(&msg, &src, 200, NULL, NULL, NULL);
		} else if (!strcmp(msg.method, "INVITE")) {
			sip_reply(&msg, &src, 486, NULL, NULL, NULL);
		} else if (strcmp(msg.method, "ACK")) {
			sip_reply(&msg, &src, 481, NULL, NULL, NULL);
		}
	}
}

static int active_calls(void)
{
	int n = 0;

	for (int i = 0; i < MAX_CALLS; i++)
		if (calls[i] && calls[i]->state != CS_LINGER)
			n++;
	return n;
}

static void end_all(const char *why, int64_t now)
{
	for (int i = 0; i < MAX_CALLS; i++)
		if (calls[i])
			call_abort(calls[i], why, now);
}

static void loop_wait(int64_t now, int64_t global_deadline)
{
	struct pollfd pfd[MAX_CALLS + 1];
	struct call *owner[MAX_CALLS + 1];
	int64_t next = global_deadline;
	int n = 1, i, timeout;

	pfd[0].fd = sip_fd;
	pfd[0].events = POLLIN;
	for (i = 0; i < MAX_CALLS; i++) {
		struct call *c = calls[i];

		if (!c)
			continue;
		next = min_time(next, call_next_time(c));
		if (c->media.fd >= 0) {
			pfd[n].fd = c->media.fd;
			pfd[n].events = POLLIN;
			owner[n++] = c;
		}
	}
	timeout = next ? (int)(next > now ? next - now : 0) : 1000;
	if (timeout > 1000)
		timeout = 1000;
	if (poll(pfd, (nfds_t)n, timeout) <= 0)
		return;
	now = tg_mono_ms();
	if (pfd[0].revents)
		sip_read(now);
	for (i = 1; i < n; i++)
		if (pfd[i].revents && owner[i]->media.fd >= 0)
			media_read(&owner[i]->media, now);
}

static int run(void)
{
	int64_t now = tg_mono_ms(), global_deadline = 0;

	if (!opt.uac)
		global_deadline = now + opt.timeout_s * 1000LL;
	for (;;) {
		now = tg_mono_ms();
		if (opt.uac && active_calls() == 0 && calls_started < opt.count)
			if (uac_start(now))
				return 1;
		if (calls_done >= opt.count)
			break;
		if (stop_signal) {
			end_all("interrupted", now);
			return 1;
		}
		if (global_deadline && now >= global_deadline) {
			gw_err("timeout after %d s: %d of %d calls done",
			       opt.timeout_s, calls_done, opt.count);
			end_all("timeout", now);
			return 1;
		}
		for (int i = 0; i < MAX_CALLS; i++) {
			if (!calls[i])
				continue;
			call_tick(calls[i], now);
			if (calls[i]->state == CS_LINGER &&
			    now >= calls[i]->linger_until)
				call_free(i);
		}
		if (calls_done >= opt.count)
			break;
		loop_wait(now, global_deadline);
	}
	return calls_failed ? 1 : 0;
}

/* ---- command line ------------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: tgcall call sip:NUMBER@HOST[:PORT] --local IP[:PORT]\n"
		"              [--from NUMBER] [--codec pcmu|pcma|both|g722|g729]\n"
		"              [--tone HZ|noise] [--detect HZ] [--hold MS]\n"
		"              [--cancel-after MS] [--count N]\n"
		"              [--expect STATUS] [--timeout S] [-v]\n"
		"              [--diversion 'HEADER VALUE'] [--header 'Name: "
		"value'] (call)\n"
		"              [--display NAME] (call: From display name)\n"
		"              [--save-invite FILE] (answer: the first INVITE)\n"
		"              [--need 'Name: value'] (answer: only INVITEs\n"
		"              with that header; --header repeats)\n"
		"              [--dtmf DIGITS] [--dtmf-at MS] (in-band after\n"
		"              answer, 100 ms on/off; from 500 ms)\n"
		"              [--record FILE.wav] (what we hear, 16-bit PCM)\n"
		"              [--advertise IP[:PORT]] (Via, Contact and SDP\n"
		"              say this: a phone behind NAT) [--no-rport]\n"
		"       tgcall answer --local IP:PORT [--ring-ms MS]\n"
		"              [--tone HZ] [--detect HZ] [--reject STATUS]\n"
		"              [--codec pcmu|pcma|both|g722|g729] [--hold MS]\n"
		"              [--incomplete N] (484 to numbers shorter\n"
		"              than N)\n"
		"              [--expect STATUS] [--count N] [--timeout S] "
		"[-v]\n"
		"DTMF (both): [--dtmf-events] (telephone-event 101 in SDP)\n"
		"              [--dtmf-send DIGITS] [--dtmf-no-marker]\n"
		"              [--dtmf-ends N] (RFC 4733 events we send)\n"
		"              [--dtmf-tones DIGITS] (in-band) [--dtmf-info DIGITS]\n"
		"              [--dtmf-expect-ends N] (3; of events received)\n"
		"Media (both): [--measure-after MS] (rx level/tone from MS\n"
		"              after media starts; 200)\n"
		"              [--media-stop-after MS] (send no RTP after MS)\n"
		"              [--jitter MS] (hold each audio packet 0..MS-1 ms:\n"
		"              reordered) [--loss PCT] (drop PCT%% of them)\n"
		"              [--ptime MS] (10-60, 20; a=ptime too)\n"
		"One JSON line per call on stdout; exit 0 only if every call\n"
		"ended as expected.\n");
}

static int parse_int(const char *s, int min, int max, int *out)
{
	char *e;
	long v;

	errno = 0;
	v = strtol(s, &e, 10);
	if (errno || e == s || *e || v < min || v > max)
		return EINVAL;
	*out = (int)v;
	return 0;
}

/* "IP[:PORT]" (IPv4) into @p ip and @p port (untouched without one). */
static int parse_ip_port(const char *s, char *ip, size_t size, int *port,
			 int min_port)
{
	const char *colon = strrchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	struct in_addr a;

	if (n >= size)
		return EINVAL;
	memcpy(ip, s, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, &a) != 1)
		return EINVAL;
	if (colon && parse_int(colon + 1, min_port, 65535, port))
		return EINVAL;
	return 0;
}

static int parse_local(const char *s)
{
	return parse_ip_port(s, opt.local_ip, sizeof(opt.local_ip),
			     &opt.local_port, 0);
}

static int parse_advertise(const char *s)
{
	return parse_ip_port(s, opt.adv_ip, sizeof(opt.adv_ip), &opt.adv_port,
			     1);
}

static int parse_codec(const char *s)
{
	if (!strcasecmp(s, "pcmu")) {
		opt.codecs[0] = LAW_ULAW;
		opt.ncodecs = 1;
	} else if (!strcasecmp(s, "pcma")) {
		opt.codecs[0] = LAW_ALAW;
		opt.ncodecs = 1;
	} else if (!strcasecmp(s, "both")) {
		opt.codecs[0] = LAW_ULAW;
		opt.codecs[1] = LAW_ALAW;
		opt.ncodecs = 2;
	} else if (!strcasecmp(s, "g722")) {
		opt.codecs[0] = LAW_G722;
		opt.ncodecs = 1;
	} else if (!strcasecmp(s, "g729")) {
		opt.codecs[0] = LAW_G729;
		opt.ncodecs = 1;
	} else {
		return EINVAL;
	}
	return 0;
}

static int parse_opt(int ch, const char *arg)
{
	switch (ch) {
	case 'l':
		return parse_local(arg);
	case 'f':
		if (!*arg || strlen(arg) >= sizeof(opt.from))
			return EINVAL;
		tg_strlcpy(opt.from, arg, sizeof(opt.from));
		return 0;
	case 'P':
		if (strlen(arg) >= sizeof(opt.display) || strpbrk(arg, "\"\r\n"))
			return EINVAL;
		tg_strlcpy(opt.display, arg, sizeof(opt.display));
		return 0;
	case 'c':
		return parse_codec(arg);
	case 't':
		if (!strcmp(arg, "noise")) {
			opt.tone_hz = -1;
			return 0;
		}
		return parse_int(arg, 0, 3999, &opt.tone_hz);
	case 'd':
		return parse_int(arg, 1, 3999, &opt.detect_hz);
	case 'H':
		return parse_int(arg, 0, 3600000, &opt.hold_ms);
	case 'C':
		return parse_int(arg, 0, 3600000, &opt.cancel_after);
	case 'n':
		return parse_int(arg, 1, 1000000, &opt.count);
	case 'e':
		return parse_int(arg, 100, 699, &opt.expect);
	case 'X':
		/* Repeatable: each adds a header line. */
		if (strlen(opt.header) + strlen(arg) + 3 > sizeof(opt.header) ||
		    !strchr(arg, ':') || strpbrk(arg, "\r\n"))
			return EINVAL;
		if (*opt.header)
			strcat(opt.header, "\r\n");
		strcat(opt.header, arg);
		return 0;
	case 'N':
		if (strlen(arg) >= sizeof(opt.need) || !strchr(arg, ':'))
			return EINVAL;
		tg_strlcpy(opt.need, arg, sizeof(opt.need));
		return 0;
	case 'S':
		if (strlen(arg) >= sizeof(opt.save_invite))
			return EINVAL;
		tg_strlcpy(opt.save_invite, arg, sizeof(opt.save_invite));
		return 0;
	case 'D':
		if (strlen(arg) >= sizeof(opt.diversion) ||
		    strpbrk(arg, "\r\n"))
			return EINVAL;
		tg_strlcpy(opt.diversion, arg, sizeof(opt.diversion));
		return 0;
	case 'T':
		return parse_int(arg, 1, 86400, &opt.timeout_s);
	case 'r':
		return parse_int(arg, 0, 3600000, &opt.ring_ms);
	case 'R':
		return parse_int(arg, 300, 699, &opt.reject);
	case 'F':
		if (!*arg || strlen(arg) >= sizeof(opt.dtmf))
			return EINVAL;
		for (const char *p = arg; *p; p++)
			if (!ps_dtmf_valid(*p))
				return EINVAL;
		tg_strlcpy(opt.dtmf, arg, sizeof(opt.dtmf));
		return 0;
	case 'A':
		return parse_int(arg, 0, 3600000, &opt.dtmf_at);
	case 'W':
		if (!*arg || strlen(arg) >= sizeof(opt.record))
			return EINVAL;
		tg_strlcpy(opt.record, arg, sizeof(opt.record));
		return 0;
	case 'I':
		return parse_int(arg, 0, 64, &opt.incomplete);
	}
	return EINVAL;
}

static int dtmf_digits(char *dst, const char *arg)
{
	if (!*arg || strlen(arg) >= DTMF_MAX ||
	    strspn(arg, dtmf_keys) != strlen(arg))
		return EINVAL;
	tg_strlcpy(dst, arg, DTMF_MAX);
	return 0;
}

static int dtmf_parse_opt(int ch, const char *arg)
{
	switch (ch) {
	case 0x100:
		dtmf_opt.te = true;
		return 0;
	case 0x101:
		dtmf_opt.te = true;
		return dtmf_digits(dtmf_opt.send, arg);
	case 0x102:
		return dtmf_digits(dtmf_opt.tones, arg);
	case 0x103:
		return dtmf_digits(dtmf_opt.info, arg);
	case 0x104:
		dtmf_opt.no_marker = true;
		return 0;
	case 0x105:
		return parse_int(arg, 0, 10, &dtmf_opt.ends);
	case 0x106:
		return parse_int(arg, 0, 10, &dtmf_opt.expect_ends);
	}
	return EINVAL;
}

static int parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"local", required_argument, NULL, 'l'},
		{"from", required_argument, NULL, 'f'},
		{"codec", required_argument, NULL, 'c'},
		{"tone", required_argument, NULL, 't'},
		{"detect", required_argument, NULL, 'd'},
		{"hold", required_argument, NULL, 'H'},
		{"cancel-after", required_argument, NULL, 'C'},
		{"count", required_argument, NULL, 'n'},
		{"expect", required_argument, NULL, 'e'},
		{"timeout", required_argument, NULL, 'T'},
		{"ring-ms", required_argument, NULL, 'r'},
		{"reject", required_argument, NULL, 'R'},
		{"incomplete", required_argument, NULL, 'I'},
		{"diversion", required_argument, NULL, 'D'},
		{"save-invite", required_argument, NULL, 'S'},
		{"header", required_argument, NULL, 'X'},
		{"display", required_argument, NULL, 'P'},
		{"need", required_argument, NULL, 'N'},
		{"dtmf", required_argument, NULL, 'F'},
		{"dtmf-at", required_argument, NULL, 'A'},
		{"record", required_argument, NULL, 'W'},
		{"dtmf-events", no_argument, NULL, 0x100},
		{"dtmf-send", required_argument, NULL, 0x101},
		{"dtmf-tones", required_argument, NULL, 0x102},
		{"dtmf-info", required_argument, NULL, 0x103},
		{"dtmf-no-marker", no_argument, NULL, 0x104},
		{"dtmf-ends", required_argument, NULL, 0x105},
		{"dtmf-expect-ends", required_argument, NULL, 0x106},
		{"measure-after", required_argument, NULL, 0x200},
		{"media-stop-after", required_argument, NULL, 0x201},
		{"jitter", required_argument, NULL, 0x202},
		{"loss", required_argument, NULL, 0x203},
		{"advertise", required_argument, NULL, 0x300},
		{"no-rport", no_argument, NULL, 0x301},
		{"ptime", required_argument, NULL, 0x204},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	if (argc < 2)
		return EINVAL;
	if (!strcmp(argv[1], "call"))
		opt.uac = true;
	else if (strcmp(argv[1], "answer"))
		return EINVAL;
	tg_strlcpy(opt.from, "tgcall", sizeof(opt.from));
	parse_codec("both");
	opt.tone_hz = opt.detect_hz = 1000;
	opt.hold_ms = opt.uac ? 2000 : 0;
	opt.cancel_after = opt.expect = -1;
	opt.count = 1;
	opt.timeout_s = 30;
	opt.ring_ms = 100;
	opt.dtmf_at = 500;
	opt.ptime = 20;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		if (ch == 'v') {
			gw_log_level = GW_LOG_DEBUG;
			gw_debug_mask |= GW_DBG_SIPMSG | GW_DBG_MEDIA;
		} else if (ch == 'h') {
			usage(stdout);
			exit(0);
		} else if (ch == 0x204) {
			if (parse_int(optarg, 10, 60, &opt.ptime) ||
			    opt.ptime % 10) {
				fprintf(stderr, "tgcall: bad --ptime\n");
				return EINVAL;
			}
		} else if (ch == 0x202 || ch == 0x203) {
			if (parse_int(optarg, 0, ch == 0x202 ? 1000 : 100,
				      ch == 0x202 ? &media_opt.jitter
						  : &media_opt.loss)) {
				fprintf(stderr, "tgcall: bad value for %s\n",
					argv[optind - 1]);
				return EINVAL;
			}
		} else if (ch == 0x300) {
			if (parse_advertise(optarg)) {
				fprintf(stderr, "tgcall: bad value for %s\n",
					argv[optind - 1]);
				return EINVAL;
			}
		} else if (ch == 0x301) {
			opt.no_rport = true;
		} else if (ch == 0x200 || ch == 0x201) {
			if (parse_int(optarg, 0, 3600000, ch == 0x200
				      ? &media_opt.measure_after
				      : &media_opt.stop_after)) {
				fprintf(stderr, "tgcall: bad value for %s\n",
					argv[optind - 1]);
				return EINVAL;
			}
		} else if (ch >= 0x100 && ch < 0x110) {
			if (dtmf_parse_opt(ch, optarg)) {
				fprintf(stderr, "tgcall: bad value for %s\n",
					argv[optind - 1]);
				return EINVAL;
			}
		} else if (ch == '?' || parse_opt(ch, optarg)) {
			if (ch != '?')
				fprintf(stderr, "tgcall: bad value for %s\n",
					argv[optind - 1]);
			return EINVAL;
		}
	}
	if (!opt.local_ip[0]) {
		fprintf(stderr, "tgcall: --local is required\n");
		return EINVAL;
	}
	if (opt.uac) {
		char user[64], host[128];
		int port;

		if (optind != argc - 1 ||
		    uri_parse(argv[optind], user, sizeof(user), host,
			      sizeof(host), &port)) {
			fprintf(stderr, "tgcall: need one sip:USER@HOST[:PORT]"
					" target\n");
			return EINVAL;
		}
		tg_strlcpy(opt.target, argv[optind], sizeof(opt.target));
	} else if (optind != argc) {
		return EINVAL;
	}
	return 0;
}

static int sip_open(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);

	sip_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (sip_fd < 0)
		return errno;
	inet_pton(AF_INET, opt.local_ip, &sa.sin_addr);
	sa.sin_port = htons((uint16_t)opt.local_port);
	if (bind(sip_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(sip_fd, (struct sockaddr *)&sa, &len))
		return errno;
	opt.local_port = ntohs(sa.sin_port);
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_signal = 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa = {.sa_handler = on_signal};
	struct sockaddr_in probe;
	int err, rc;

	gw_log_open(GW_LOG_NOTICE, false, "tgcall");
	if (parse_args(argc, argv)) {
		usage(stderr);
		return 2;
	}
	if (opt.uac) {
		char user[64], host[128];
		int port;

		uri_parse(opt.target, user, sizeof(user), host, sizeof(host),
			  &port);
		if (resolve(&probe, host, port)) {
			gw_err("cannot resolve %s", host);
			return 2;
		}
	}
	err = sip_open();
	if (err) {
		gw_err("bind %s:%d: %s", opt.local_ip, opt.local_port,
		       strerror(err));
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	gw_notice("%s on %s:%d", opt.uac ? "calling" : "listening",
		  opt.local_ip, opt.local_port);
	rc = run();
	for (int i = 0; i < MAX_CALLS; i++)
		if (calls[i])
			call_free(i);
	close(sip_fd);
	return rc;
}
