/* tests/unit/test_media.c  Media engine: G.711, RTP, bridges on a test line */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <tiffio.h> /* before spandsp.h (Debian's 0.0.6) */
#include <spandsp.h>

#include "media/latch.h"
#include "media/codec.h"
#include "media/media.h"
#include "media/rfc4733.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/srtp.h"
#include "media/udptl.h"
#include "tests/unit/faxpage.h"
#include "util/util.h"

#define NCHAN 23
#define SLOT MEDIA_FRAME_SAMPLES
#define FRAME_LEN (NCHAN * SLOT)
#define CHAN 5
#define PORT_MIN 30000
#define PORT_MAX 39999

/* ---- the line: the test plays the network side of a span -------------- */

/* Our own trivial framing over SEQPACKET: 4-octet seq, then the frame.
 * The engine sees only the media_tdm_io callbacks. */
struct line {
	int fd[2]; /* [0] the engine's side, [1] the test's */
	enum media_law law;
	uint8_t rx[4 + FRAME_LEN];
	struct media_tdm_io io;
};

static int line_recv(void *arg, const uint8_t **rx, uint32_t *seq)
{
	struct line *l = arg;
	ssize_t n = recv(l->fd[0], l->rx, sizeof(l->rx), MSG_DONTWAIT);

	if (n < 0)
		return errno == EWOULDBLOCK ? EAGAIN : errno;
	if (n != (ssize_t)sizeof(l->rx))
		return EPIPE;
	memcpy(seq, l->rx, 4);
	*rx = l->rx + 4;
	return 0;
}

static int line_send(void *arg, uint32_t seq, const uint8_t *tx)
{
	struct line *l = arg;
	struct iovec iov[2] = {
		{.iov_base = &seq, .iov_len = 4},
		{.iov_base = (void *)tx, .iov_len = FRAME_LEN},
	};
	struct msghdr mh = {.msg_iov = iov, .msg_iovlen = 2};

	return sendmsg(l->fd[0], &mh, MSG_DONTWAIT) < 0 ? errno : 0;
}

static void line_open(struct line *l, enum media_law law)
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, l->fd), 0);
	l->law = law;
	l->io.fd = l->fd[0];
	l->io.nchan = NCHAN;
	l->io.law = law;
	l->io.arg = l;
	l->io.recv = line_recv;
	l->io.send = line_send;
}

static void line_close(struct line *l)
{
	close(l->fd[0]);
	close(l->fd[1]);
}

static bool readable(int fd, int ms)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};

	return poll(&p, 1, ms) == 1;
}

/* Send frame @p seq and wait for the engine's answer to it. */
static bool line_step(struct line *l, uint32_t seq, const uint8_t *frame,
		      uint8_t *answer)
{
	uint8_t buf[4 + FRAME_LEN];
	uint32_t aseq;
	ssize_t n;

	memcpy(buf, &seq, 4);
	memcpy(buf + 4, frame, FRAME_LEN);
	assert_int_equal(send(l->fd[1], buf, sizeof(buf), 0), sizeof(buf));
	if (!readable(l->fd[1], 300))
		return false;
	n = recv(l->fd[1], buf, sizeof(buf), 0);
	assert_int_equal(n, sizeof(buf));
	memcpy(&aseq, buf, 4);
	assert_int_equal(aseq, seq);
	if (answer)
		memcpy(answer, buf + 4, FRAME_LEN);
	return true;
}

/* ---- signals ---------------------------------------------------------- */

static void tone(int16_t *out, size_t n, size_t start, double hz)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = (int16_t)(8000.0 *
				   sin(2 * M_PI * hz * (double)(start + i) /
				       8000.0));
}

static void encode(enum media_law law, uint8_t *out, const int16_t *in,
		   size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		out[i] = media_g711_encode(law, in[i]);
}

/* Share of the signal's energy at @p hz (Goertzel): ~1 for a pure tone. */
static double tone_share(enum media_law law, const uint8_t *x, size_t n,
			 double hz)
{
	double w = 2 * M_PI * hz / 8000.0, c = 2 * cos(w);
	double s1 = 0, s2 = 0, energy = 0, pw;
	size_t i;

	for (i = 0; i < n; i++) {
		double v = media_g711_decode(law, x[i]);
		double s0 = v + c * s1 - s2;

		s2 = s1;
		s1 = s0;
		energy += v * v;
	}
	if (energy < 1e6)
		return 0;
	pw = s1 * s1 + s2 * s2 - c * s1 * s2;
	return pw / (n * energy / 2);
}

static bool all_equal(const uint8_t *x, size_t n, uint8_t v)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (x[i] != v)
			return false;
	return true;
}

/* ---- fixture ---------------------------------------------------------- */

struct done_rec {
	int count;
	void *cookie;
	struct media_stats st;
};

static struct done_rec done_rec;

static void on_done(void *cookie, const struct media_stats *st)
{
	done_rec.count++;
	done_rec.cookie = cookie;
	done_rec.st = *st;
}

struct fx {
	struct media_engine *me;
	struct line line;
	int far;
	struct sockaddr_in far_addr;
	struct sockaddr_in rtp_addr; /* the engine's RTP socket */
	uint32_t id;
	uint16_t far_seq;
	uint32_t far_ts;
	uint32_t far_ssrc;
};

static int udp_open(struct sockaddr_in *addr)
{
	socklen_t len = sizeof(*addr);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	assert_true(fd >= 0);
	memset(addr, 0, sizeof(*addr));
	addr->sin_family = AF_INET;
	addr->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)addr, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &len), 0);
	return fd;
}

static void params(struct media_bridge_params *prm, unsigned chan,
		   const struct sockaddr_in *remote, enum media_law law,
		   unsigned ptime)
{
	memset(prm, 0, sizeof(*prm));
	prm->span_id = 1;
	prm->chan = chan;
	memcpy(&prm->remote, remote, sizeof(*remote));
	prm->remote_len = sizeof(*remote);
	prm->rtp_law = law;
	prm->ptime = ptime;
}

/* The fixture of the running test, closed by the teardown if an assertion
 * left it open (fixtures are static so that they outlive the longjmp). */
static struct fx *open_fx;

/* A bridge between the test line and a far RTP socket; @p tweak (NULL:
 * none) sets what a test needs beyond the law and ptime. */
static void fx_open_with(struct fx *f, unsigned workers,
			 enum media_law span_law, enum media_law rtp_law,
			 unsigned ptime,
			 void (*tweak)(struct media_bridge_params *, unsigned),
			 unsigned arg)
{
	struct media_bridge_params prm;
	struct media_rtp *rtp;

	memset(f, 0, sizeof(*f));
	open_fx = f;
	memset(&done_rec, 0, sizeof(done_rec));
	assert_int_equal(media_engine_alloc(&f->me, workers, on_done), 0);
	line_open(&f->line, span_law);
	assert_int_equal(media_engine_add_span(f->me, 1, &f->line.io), 0);
	f->far = udp_open(&f->far_addr);
	assert_int_equal(media_rtp_alloc(&rtp, f->me, "127.0.0.1", PORT_MIN,
					 PORT_MAX), 0);
	f->rtp_addr.sin_family = AF_INET;
	f->rtp_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->rtp_addr.sin_port = htons(media_rtp_port(rtp));
	params(&prm, CHAN, &f->far_addr, rtp_law, ptime);
	if (tweak)
		tweak(&prm, arg);
	assert_int_equal(media_bridge_start(f->me, &f->id, rtp, &prm, f), 0);
	assert_int_not_equal(f->id, 0);
	f->far_seq = 1000;
	f->far_ts = 50000;
	f->far_ssrc = 0x1234abcd;
}

static void fx_open(struct fx *f, enum media_law span_law,
		    enum media_law rtp_law, unsigned ptime)
{
	fx_open_with(f, 2, span_law, rtp_law, ptime, NULL, 0);
}

static void fx_close(struct fx *f)
{
	open_fx = NULL;
	media_engine_free(f->me);
	line_close(&f->line);
	close(f->far);
	assert_int_equal(obj_live_count(), 0);
}

static int fx_teardown(void **state)
{
	if (open_fx)
		fx_close(open_fx);
	return 0;
}

/* Stop the bridge and wait for its done callback through the engine fd. */
static void fx_stop(struct fx *f)
{
	assert_int_equal(media_bridge_stop(f->me, f->id), 0);
	assert_true(readable(media_engine_fd(f->me), 1000));
	media_engine_poll(f->me);
	assert_int_equal(done_rec.count, 1);
	assert_ptr_equal(done_rec.cookie, f);
}

static void far_send(struct fx *f, int sock, uint8_t pt, uint16_t seq,
		     uint32_t ts, const uint8_t *pl, size_t n)
{
	uint8_t pkt[RTP_HDR_LEN + 1024];
	struct rtp_hdr h = {.pt = pt, .seq = seq, .ts = ts,
			    .ssrc = f->far_ssrc};

	rtp_encode_hdr(pkt, &h);
	memcpy(pkt + RTP_HDR_LEN, pl, n);
	assert_int_equal(sendto(sock, pkt, RTP_HDR_LEN + n, 0,
				(struct sockaddr *)&f->rtp_addr,
				sizeof(f->rtp_addr)),
			 RTP_HDR_LEN + n);
}

/* Next far-end packet in sequence. */
static void far_next(struct fx *f, uint8_t pt, const uint8_t *pl, size_t n)
{
	far_send(f, f->far, pt, f->far_seq++, f->far_ts, pl, n);
	f->far_ts += (uint32_t)n;
}

/* Receive one RTP packet at the far end; returns its total length. */
static ssize_t far_recv(int sock, uint8_t *buf, size_t size, int ms)
{
	if (!readable(sock, ms))
		return -1;
	return recv(sock, buf, size, 0);
}

static void frame_silence(uint8_t *frame, enum media_law law)
{
	memset(frame, media_g711_silence(law), FRAME_LEN);
}

static void msleep(int ms)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};

	nanosleep(&ts, NULL);
}

/* ---- G.711 ------------------------------------------------------------ */

static void test_g711_known(void **state)
{
	/* Silence codes and the extremes of each law. */
	assert_int_equal(media_g711_silence(MEDIA_PCMU), 0xff);
	assert_int_equal(media_g711_silence(MEDIA_PCMA), 0xd5);
	assert_int_equal(media_g711_encode(MEDIA_PCMU, 0), 0xff);
	assert_int_equal(media_g711_encode(MEDIA_PCMA, 0), 0xd5);
	assert_int_equal(media_g711_decode(MEDIA_PCMU, 0xff), 0);
	assert_int_equal(media_g711_decode(MEDIA_PCMA, 0xd5), 8);
	assert_int_equal(media_g711_decode(MEDIA_PCMU, 0x80), 32124);
	assert_int_equal(media_g711_decode(MEDIA_PCMU, 0x00), -32124);
	assert_int_equal(media_g711_decode(MEDIA_PCMA, 0xaa), 32256);
	assert_int_equal(media_g711_decode(MEDIA_PCMA, 0x2a), -32256);
	/* Values SpanDSP's reference coder gives. */
	assert_int_equal(media_g711_encode(MEDIA_PCMU, 1000), 0xce);
	assert_int_equal(media_g711_encode(MEDIA_PCMU, -1000), 0x4e);
	assert_int_equal(media_g711_encode(MEDIA_PCMA, 1000), 0xfa);
	assert_int_equal(media_g711_encode(MEDIA_PCMA, -1000), 0x7a);
	assert_int_equal(media_g711_encode(MEDIA_PCMU, 32767), 0x80);
	assert_int_equal(media_g711_encode(MEDIA_PCMU, -32768), 0x00);
	assert_int_equal(media_g711_encode(MEDIA_PCMA, 32767), 0xaa);
	assert_int_equal(media_g711_encode(MEDIA_PCMA, -32768), 0x2a);
	/* Law conversion keeps silence silent and loud loud. */
	assert_int_equal(media_ulaw_to_alaw(0xff), 0xd5);
	assert_int_equal(media_alaw_to_ulaw(0xd5), 0xfe);
	assert_int_equal(media_ulaw_to_alaw(0x80), 0xaa);
	assert_int_equal(media_alaw_to_ulaw(0xaa), 0x80);
}

static void test_g711_roundtrip(void **state)
{
	static const enum media_law laws[] = {MEDIA_PCMU, MEDIA_PCMA};
	unsigned l;
	int s;

	for (l = 0; l < 2; l++) {
		int prev = -40000;

		for (s = -32768; s <= 32767; s++) {
			int d = media_g711_decode(laws[l],
				media_g711_encode(laws[l], (int16_t)s));
			int err = abs(d - s);

			/* 4-bit mantissa: error within 1/32 of the value
			 * plus the first segment's half step, and clipping
			 * beyond the largest code. */
			if (abs(s) <= 32124)
				assert_true(err <= abs(s) / 32 + 16);
			assert_true(d >= prev); /* monotonic */
			prev = d;
		}
	}
	/* Every code survives decode/encode, and law conversion there and
	 * back keeps the value within one step of the other law. */
	for (s = 0; s < 256; s++) {
		int u = media_g711_decode(MEDIA_PCMU, (uint8_t)s);
		int a = media_g711_decode(MEDIA_PCMA,
					  media_ulaw_to_alaw((uint8_t)s));

		/* 0x7f is mu-law's negative zero: it encodes back as 0xff. */
		if (s != 0x7f)
			assert_int_equal(media_g711_encode(MEDIA_PCMU,
							   (int16_t)u), s);
		assert_int_equal(media_g711_encode(MEDIA_PCMA,
			media_g711_decode(MEDIA_PCMA, (uint8_t)s)), s);
		assert_true(abs(u - a) <= abs(u) / 16 + 16);
	}
}

/* ---- RTP decoding ----------------------------------------------------- */

static void test_rtp_decode(void **state)
{
	uint8_t p[64] = {0x80, 0x88, 0x01, 0x02, 0, 0, 0x01, 0x00,
			 0xde, 0xad, 0xbe, 0xef};
	const uint8_t *pl;
	struct rtp_hdr h;
	size_t n;

	assert_int_equal(rtp_decode(&h, &pl, &n, p, 12 + 20), 0);
	assert_true(h.marker);
	assert_int_equal(h.pt, 8);
	assert_int_equal(h.seq, 0x0102);
	assert_int_equal(h.ts, 0x100);
	assert_int_equal(h.ssrc, 0xdeadbeef);
	assert_ptr_equal(pl, p + 12);
	assert_int_equal(n, 20);

	assert_int_equal(rtp_decode(&h, &pl, &n, p, 11), EBADMSG);
	p[0] = 0x40; /* version 1 */
	assert_int_equal(rtp_decode(&h, &pl, &n, p, 32), EBADMSG);

	p[0] = 0x82; /* two CSRCs */
	assert_int_equal(rtp_decode(&h, &pl, &n, p, 32), 0);
	assert_ptr_equal(pl, p + 20);
	assert_int_equal(n, 12);
	assert_int_equal(rtp_decode(&h, &pl, &n, p, 16), EBADMSG);

	p[0] = 0x91; /* one CSRC, then an extension of 2 words */
	p[16] = 0xbe;
	p[17] = 0xde;
	p[18] = 0;
	p[19] = 2;
	assert_int_equal(rtp_decode(&h, &pl, &n, p, 40), 0);
	assert_ptr_equal(pl, p + 28);
	assert_int_equal(n, 12);
	assert_int_equal(rtp_decode(&h, &pl, &n, p, 27), EBADMSG);

	p[0] = 0xa0; /* padding: the last octet counts it */
	p[31] = 4;
	assert_int_equal(rtp_decode(&h, &pl, &n, p, 32), 0);
	assert_int_equal(n, 16);
	p[31] = 21;
	assert_int_equal(rtp_decode(&h, &pl, &n, p, 32), EBADMSG);
	p[31] = 0;
	assert_int_equal(rtp_decode(&h, &pl, &n, p, 32), EBADMSG);
}

/* ---- bridges ---------------------------------------------------------- */

static void test_tdm_to_rtp(void **state)
{
	uint8_t frame[FRAME_LEN], answer[FRAME_LEN], pkt[2048];
	int16_t pcm[SLOT];
	struct rtp_hdr h, first = {0};
	const uint8_t *pl;
	static struct fx f;
	size_t n;
	uint32_t k;

	fx_open(&f, MEDIA_PCMU, MEDIA_PCMU, 20);
	frame_silence(frame, MEDIA_PCMU);
	for (k = 0; k < 50; k++) {
		ssize_t len;

		tone(pcm, SLOT, k * SLOT, 1000);
		encode(MEDIA_PCMU, frame + (CHAN - 1) * SLOT, pcm, SLOT);
		assert_true(line_step(&f.line, k, frame, answer));

		len = far_recv(f.far, pkt, sizeof(pkt), 300);
		assert_int_equal(len, RTP_HDR_LEN + SLOT);
		assert_int_equal(rtp_decode(&h, &pl, &n, pkt, (size_t)len), 0);
		assert_int_equal(h.pt, 0);
		assert_int_equal(n, SLOT);
		if (k == 0) {
			assert_true(h.marker);
			first = h;
		} else {
			assert_false(h.marker);
			assert_int_equal(h.ssrc, first.ssrc);
			assert_int_equal(h.seq, (uint16_t)(first.seq + k));
			assert_int_equal(h.ts, first.ts + k * SLOT);
		}
		assert_true(tone_share(MEDIA_PCMU, pl, n, 1000) > 0.9);
		assert_true(tone_share(MEDIA_PCMU, pl, n, 1500) < 0.05);
		/* Nothing came from the far end: the whole answer is
		 * silence. */
		assert_true(all_equal(answer, FRAME_LEN, 0xff));
	}
	fx_close(&f);
}

/* Far end sends a tone in step with the line; returns the answers. */
static void run_rtp_tone(struct fx *f, enum media_law span_law,
			 enum media_law rtp_law, unsigned frames,
			 uint8_t (*answers)[FRAME_LEN])
{
	uint8_t frame[FRAME_LEN], pl[SLOT], pkt[2048];
	int16_t pcm[SLOT];
	unsigned k;

	frame_silence(frame, span_law);
	for (k = 0; k < frames; k++) {
		tone(pcm, SLOT, k * SLOT, 1000);
		encode(rtp_law, pl, pcm, SLOT);
		far_next(f, (uint8_t)rtp_law, pl, SLOT);
		assert_true(line_step(&f->line, k, frame, answers[k]));
		/* Drain what the bridge sends, so the test socket never
		 * fills. */
		while (far_recv(f->far, pkt, sizeof(pkt), 0) > 0)
			;
	}
}

/* The best share of the signal's energy within 3% of @p hz: the adaptive
 * jitter buffer time-scales a frame to move its delay (by 2 samples of
 * 160 while audio plays: a 1.25% shift, which a one-frame Goertzel bin
 * sees as a fifth of the energy gone). */
static double tone_share_near(enum media_law law, const uint8_t *x, size_t n,
			      double hz)
{
	double best = 0;
	int d;

	for (d = -6; d <= 6; d++) {
		double v = tone_share(law, x, n, hz * (1 + d * 0.005));

		if (v > best)
			best = v;
	}
	return best;
}

/* Timeslot CHAN of @p answers [from, to) carries the 1 kHz tone, the
 * others silence.  The buffer follows the network, and the timing of a
 * loaded machine is one: a packet that comes late is concealed or
 * stretched over, so two frames may miss; crosstalk never may. */
static void assert_slot_tone(enum media_law law,
			     uint8_t (*answers)[FRAME_LEN], unsigned from,
			     unsigned to)
{
	unsigned k, c, clean = 0;

	for (k = from; k < to; k++) {
		for (c = 1; c <= NCHAN; c++) {
			const uint8_t *slot = answers[k] + (c - 1) * SLOT;

			if (c == CHAN)
				clean += tone_share_near(law, slot, SLOT,
							 1000) > 0.9;
			else
				assert_true(all_equal(slot, SLOT,
					media_g711_silence(law)));
		}
	}
	if (clean + 2 < to - from)
		fail_msg("%u of frames %u-%u carry the tone", clean, from,
			 to - 1);
}

static void test_rtp_to_tdm(void **state)
{
	static uint8_t answers[50][FRAME_LEN];
	static struct fx f;

	fx_open(&f, MEDIA_PCMU, MEDIA_PCMU, 20);
	run_rtp_tone(&f, MEDIA_PCMU, MEDIA_PCMU, 50, answers);
	assert_slot_tone(MEDIA_PCMU, answers, 5, 50);
	fx_close(&f);
}

static void test_alaw_span_ulaw_rtp(void **state)
{
	static uint8_t answers[30][FRAME_LEN];
	uint8_t frame[FRAME_LEN], pkt[2048];
	int16_t pcm[SLOT];
	struct rtp_hdr h;
	const uint8_t *pl;
	static struct fx f;
	size_t n;
	unsigned k;

	fx_open(&f, MEDIA_PCMA, MEDIA_PCMU, 20);
	/* RTP (mu-law) -> A-law timeslot; idle slots are A-law silence. */
	run_rtp_tone(&f, MEDIA_PCMA, MEDIA_PCMU, 30, answers);
	assert_slot_tone(MEDIA_PCMA, answers, 5, 30);

	/* A-law timeslot -> RTP with PT 0 carrying mu-law. */
	frame_silence(frame, MEDIA_PCMA);
	for (k = 30; k < 40; k++) {
		ssize_t len;

		tone(pcm, SLOT, k * SLOT, 1000);
		encode(MEDIA_PCMA, frame + (CHAN - 1) * SLOT, pcm, SLOT);
		assert_true(line_step(&f.line, k, frame, NULL));
		len = far_recv(f.far, pkt, sizeof(pkt), 300);
		assert_true(len > 0);
		assert_int_equal(rtp_decode(&h, &pl, &n, pkt, (size_t)len), 0);
		assert_int_equal(h.pt, MEDIA_PCMU);
		assert_true(tone_share(MEDIA_PCMU, pl, n, 1000) > 0.9);
	}
	fx_close(&f);
}

static void test_stop_reports_stats(void **state)
{
	static uint8_t answers[20][FRAME_LEN];
	uint8_t frame[FRAME_LEN], pkt[2048];
	struct sockaddr_in a;
	static struct fx f;
	int s;

	fx_open(&f, MEDIA_PCMU, MEDIA_PCMU, 20);
	run_rtp_tone(&f, MEDIA_PCMU, MEDIA_PCMU, 20, answers);
	msleep(20);
	fx_stop(&f);
	assert_int_equal(done_rec.st.rtp_tx, 20);
	assert_int_equal(done_rec.st.rtp_rx, 20);
	assert_int_equal(done_rec.st.tdm_frames, 20);
	assert_int_equal(done_rec.st.rtp_lost, 0);
	assert_int_equal(done_rec.st.rtp_late, 0);
	assert_int_equal(done_rec.st.rtp_bad, 0);
	assert_true(done_rec.st.underruns <= 1);

	/* The timeslot is idle again and nothing more is sent. */
	frame_silence(frame, MEDIA_PCMU);
	memset(frame + (CHAN - 1) * SLOT, 0x33, SLOT);
	assert_true(line_step(&f.line, 100, frame, answers[0]));
	assert_true(all_equal(answers[0], FRAME_LEN, 0xff));
	while (far_recv(f.far, pkt, sizeof(pkt), 0) > 0)
		;
	assert_true(line_step(&f.line, 101, frame, answers[0]));
	assert_true(far_recv(f.far, pkt, sizeof(pkt), 50) < 0);

	/* Both ports were released. */
	a = f.rtp_addr;
	s = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	close(s);
	a.sin_port = htons(ntohs(a.sin_port) + 1);
	s = socket(AF_INET, SOCK_DGRAM, 0);
	assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	close(s);

	assert_int_equal(media_bridge_stop(f.me, f.id), ENOENT);
	fx_close(&f);
}

/* Send packets carrying a constant code each (value = index) in the given
 * order, all at once, then collect what the timeslot plays: packets whole
 * and in order, then at most the loss concealer's fade-out. */
static unsigned play_burst(struct fx *f, const unsigned *order, size_t n,
			   uint8_t *played, unsigned frames)
{
	uint8_t frame[FRAME_LEN], answer[FRAME_LEN], pl[SLOT], pkt[2048];
	unsigned k, got = 0;
	bool tail = false;
	size_t i;

	for (i = 0; i < n; i++) {
		memset(pl, 0x10 + order[i], SLOT);
		far_send(f, f->far, 0, (uint16_t)(f->far_seq + order[i]),
			 f->far_ts + order[i] * SLOT, pl, SLOT);
	}
	msleep(30);
	frame_silence(frame, MEDIA_PCMU);
	for (k = 0; k < frames; k++) {
		const uint8_t *slot = answer + (CHAN - 1) * SLOT;

		assert_true(line_step(&f->line, k, frame, answer));
		while (far_recv(f->far, pkt, sizeof(pkt), 0) > 0)
			;
		if (all_equal(slot, SLOT, 0xff))
			continue;
		/* A frame never mixes two packets' audio; after the last
		 * one comes only what the concealer makes of it. */
		if (!all_equal(slot, SLOT, slot[0]) || tail) {
			tail = true;
			continue;
		}
		played[got++] = (uint8_t)(slot[0] - 0x10);
	}
	return got;
}

static void test_reorder_plays_in_order(void **state)
{
	static const unsigned order[] = {0, 1, 3, 2, 5, 4};
	uint8_t played[16];
	static struct fx f;
	unsigned i, got;

	fx_open(&f, MEDIA_PCMU, MEDIA_PCMU, 20);
	got = play_burst(&f, order, TG_ARRAY_SIZE(order), played, 10);
	assert_int_equal(got, 6);
	for (i = 0; i < got; i++)
		assert_int_equal(played[i], i);
	fx_stop(&f);
	assert_int_equal(done_rec.st.rtp_rx, 6);
	assert_int_equal(done_rec.st.rtp_late, 0);
	assert_int_equal(done_rec.st.rtp_lost, 0);
	fx_close(&f);
}

static void test_duplicates_dropped(void **state)
{
	static const unsigned order[] = {0, 1, 1, 2, 2, 2, 3};
	uint8_t played[16];
	static struct fx f;
	unsigned i, got;

	fx_open(&f, MEDIA_PCMU, MEDIA_PCMU, 20);
	got = play_burst(&f, order, TG_ARRAY_SIZE(order), played, 8);
	assert_int_equal(got, 4);
	for (i = 0; i < got; i++)
		assert_int_equal(played[i], i);
	fx_stop(&f);
	assert_int_equal(done_rec.st.rtp_rx, 4);
	assert_int_equal(done_rec.st.rtp_late, 3);
	fx_close(&f);
}

static void test_burst_bounded_delay(void **state)
{
	static const unsigned order[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
	uint8_t played[16];
	static struct fx f;
	unsigned i, got;

	fx_open(&f, MEDIA_PCMU, MEDIA_PCMU, 20);
	/* 240 ms at once: what would wait over jb_max (200 ms) is
	 * dropped, the oldest first. */
	got = play_burst(&f, order, TG_ARRAY_SIZE(order), played, 14);
	assert_int_equal(got, 10);
	for (i = 0; i < got; i++)
		assert_int_equal(played[i], i + 2);
	fx_stop(&f);
	assert_true(done_rec.st.jb_drops >= 1);
	fx_close(&f);
}

static void tweak_jb_fixed(struct media_bridge_params *prm, unsigned on)
{
	prm->jb_min_ms = 40;
	prm->jb_max_ms = 200;
	prm->jb_fixed = on;
}

/* Two packets lost after sequence and timestamp wrap: the adaptive buffer
 * conceals them (the timeslot never goes silent, the bridge's stats count
 * it); the fixed one plays silence and leaves the octets alone. */
static void run_loss(struct fx *f, unsigned *silent)
{
	static uint8_t answers[40][FRAME_LEN];
	uint8_t frame[FRAME_LEN], pl[SLOT], pkt[2048];
	int16_t pcm[SLOT];
	unsigned k;

	frame_silence(frame, MEDIA_PCMU);
	*silent = 0;
	/* The sequence number wraps, and the timestamp, before the loss. */
	f->far_seq = 65530;
	f->far_ts = 0xffffffffu - 3 * SLOT;
	for (k = 0; k < 40; k++) {
		tone(pcm, SLOT, k * SLOT, 1000);
		encode(MEDIA_PCMU, pl, pcm, SLOT);
		if (k == 15 || k == 16) {
			f->far_seq++;
			f->far_ts += SLOT;
		} else {
			far_next(f, MEDIA_PCMU, pl, SLOT);
		}
		assert_true(line_step(&f->line, k, frame, answers[k]));
		while (far_recv(f->far, pkt, sizeof(pkt), 0) > 0)
			;
		if (k >= 5 && all_equal(answers[k] + (CHAN - 1) * SLOT, SLOT,
					0xff))
			(*silent)++;
	}
	msleep(10);
	fx_stop(f);
}

static void test_loss_concealed(void **state)
{
	static struct fx f;
	unsigned silent;

	fx_open(&f, MEDIA_PCMU, MEDIA_PCMU, 20);
	run_loss(&f, &silent);
	assert_int_equal(silent, 0);
	assert_int_equal(done_rec.st.rtp_lost, 2);
	assert_true(done_rec.st.concealed >= 2 &&
		    done_rec.st.concealed <= 3);
	assert_int_equal(done_rec.st.underruns, 0);
	fx_close(&f);

	fx_open_with(&f, 1, MEDIA_PCMU, MEDIA_PCMU, 20, tweak_jb_fixed, 1);
	run_loss(&f, &silent);
	assert_true(silent >= 1);
	assert_int_equal(done_rec.st.rtp_lost, 2);
	assert_int_equal(done_rec.st.concealed, 0);
	assert_true(done_rec.st.underruns >= 1);
	fx_close(&f);
}

static void test_ptime_10_out_30_in(void **state)
{
	static uint8_t answers[30][FRAME_LEN];
	uint8_t frame[FRAME_LEN], pl[240], pkt[2048];
	int16_t pcm[240];
	uint32_t sent = 0, first_ts = 0;
	struct rtp_hdr h;
	const uint8_t *p;
	static struct fx f;
	unsigned k, npkt = 0;
	size_t n;

	fx_open(&f, MEDIA_PCMU, MEDIA_PCMU, 10);
	frame_silence(frame, MEDIA_PCMU);
	for (k = 0; k < 30; k++) {
		ssize_t len;

		/* 30 ms packets, ahead of the line by up to one packet. */
		while (sent < (k + 1) * SLOT) {
			tone(pcm, 240, sent, 1000);
			encode(MEDIA_PCMU, pl, pcm, 240);
			far_next(&f, 0, pl, 240);
			sent += 240;
		}
		assert_true(line_step(&f.line, k, frame, answers[k]));
		while ((len = far_recv(f.far, pkt, sizeof(pkt), 50)) > 0) {
			assert_int_equal(rtp_decode(&h, &p, &n, pkt,
						    (size_t)len), 0);
			assert_int_equal(n, 80);
			if (npkt == 0)
				first_ts = h.ts;
			assert_int_equal(h.ts, first_ts + npkt * 80);
			npkt++;
			if (npkt == 2 * (k + 1))
				break;
		}
	}
	assert_int_equal(npkt, 60);
	assert_slot_tone(MEDIA_PCMU, answers, 5, 30);
	fx_close(&f);
}

/* ---- G.722 / G.729 on the RTP side ------------------------------------ */

/* Share of linear audio's energy at @p hz (Goertzel). */
static double pcm_share(const int16_t *x, size_t n, double hz)
{
	double w = 2 * M_PI * hz / 8000.0, c = 2 * cos(w);
	double s1 = 0, s2 = 0, energy = 0, pw;
	size_t i;

	for (i = 0; i < n; i++) {
		double s0 = x[i] + c * s1 - s2;

		s2 = s1;
		s1 = s0;
		energy += (double)x[i] * x[i];
	}
	if (energy < 1e6)
		return 0;
	pw = s1 * s1 + s2 * s2 - c * s1 * s2;
	return pw / (n * energy / 2);
}

/*
 * A bridge whose RTP side is @p codec with packets of @p ptime ms: the
 * timeslot's tone goes out coded, one packet per ptime (repacketised
 * from the 20 ms frames), timestamps at 8 kHz; the far end's coded tone,
 * in packets of the same ptime, is heard on the timeslot.
 */
static void codec_bridge(enum media_law codec, unsigned ptime, double hz)
{
	static uint8_t answers[40][FRAME_LEN];
	uint8_t frame[FRAME_LEN], pl[960], pkt[2048];
	unsigned spp = ptime * 8, k, c, npkt = 0, clean = 0;
	int16_t pcm[480], got[480];
	uint32_t sent = 0, first_ts = 0;
	struct mcodec far_enc, far_dec;
	const uint8_t *p;
	struct rtp_hdr h;
	static struct fx f;
	size_t n;

	assert_int_equal(mcodec_init(&far_enc, codec, MCODEC_ENC), 0);
	assert_int_equal(mcodec_init(&far_dec, codec, MCODEC_DEC), 0);
	fx_open_with(&f, 2, MEDIA_PCMA, codec, ptime, tweak_jb_fixed, 1);
	frame_silence(frame, MEDIA_PCMA);
	for (k = 0; k < 40; k++) {
		ssize_t len;

		tone(pcm, SLOT, k * SLOT, hz);
		encode(MEDIA_PCMA, frame + (CHAN - 1) * SLOT, pcm, SLOT);
		while (sent < (k + 1) * SLOT) {
			tone(pcm, spp, sent, hz);
			far_next(&f, (uint8_t)codec, pl,
				 mcodec_encode(&far_enc, pl, pcm, spp));
			f.far_ts += spp - (uint32_t)mcodec_bytes(codec, spp);
			sent += spp;
		}
		assert_true(line_step(&f.line, k, frame, answers[k]));
		while ((len = far_recv(f.far, pkt, sizeof(pkt), 10)) > 0) {
			assert_int_equal(rtp_decode(&h, &p, &n, pkt,
						    (size_t)len), 0);
			assert_int_equal(h.pt, codec);
			assert_int_equal(n, mcodec_bytes(codec, spp));
			if (npkt == 0)
				first_ts = h.ts;
			/* RFC 3551 4.5.2: G.722 too counts at 8000. */
			assert_int_equal(h.ts, first_ts + npkt * spp);
			assert_int_equal(mcodec_decode(&far_dec, got, 480, p,
						       n), (int)spp);
			if (npkt >= 2)
				assert_true(pcm_share(got, spp, hz) > 0.8);
			npkt++;
		}
	}
	/* 40 frames of 20 ms went out as 800 ms of packets. */
	assert_int_equal(npkt, 40 * SLOT / spp);
	/* The timeslot hears the tone (a fixed buffer: time-scaling would
	 * shift a high tone off a one-frame Goertzel bin); on a loaded
	 * machine a packet may still come late, so nearly every frame
	 * rather than every one. */
	for (k = 8; k < 40; k++) {
		for (c = 1; c <= NCHAN; c++) {
			const uint8_t *slot = answers[k] + (c - 1) * SLOT;

			if (c == CHAN)
				clean += tone_share(MEDIA_PCMA, slot, SLOT,
						    hz) > 0.8;
			else
				assert_true(all_equal(slot, SLOT,
					media_g711_silence(MEDIA_PCMA)));
		}
	}
	fx_stop(&f);
	assert_true(clean >= 29);
	assert_int_equal(done_rec.st.rtp_bad, 0);
	assert_int_equal(done_rec.st.rtp_ignored, 0);
	fx_close(&f);
	mcodec_free(&far_enc);
	mcodec_free(&far_dec);
}

static void test_g722_ptime_30(void **state)
{
	codec_bridge(MEDIA_G722, 30, 1000);
}

static void test_g722_ptime_20(void **state)
{
	codec_bridge(MEDIA_G722, 20, 2500);
}

static void test_g729_ptime_40(void **state)
{
	codec_bridge(MEDIA_G729, 40, 400);
}

static void test_g729_ptime_10(void **state)
{
	codec_bridge(MEDIA_G729, 10, 600);
}

static void test_update_remote_and_law(void **state)
{
	uint8_t frame[FRAME_LEN], pkt[2048];
	struct media_bridge_params prm;
	struct sockaddr_in far2_addr;
	struct rtp_hdr h, before;
	const uint8_t *pl;
	static struct fx f;
	size_t n;
	ssize_t len;
	int far2;

	fx_open(&f, MEDIA_PCMU, MEDIA_PCMU, 20);
	far2 = udp_open(&far2_addr);
	frame_silence(frame, MEDIA_PCMU);
	assert_true(line_step(&f.line, 0, frame, NULL));
	len = far_recv(f.far, pkt, sizeof(pkt), 300);
	assert_int_equal(rtp_decode(&before, &pl, &n, pkt, (size_t)len), 0);

	params(&prm, CHAN, &far2_addr, MEDIA_PCMA, 20);
	assert_int_equal(media_bridge_update(f.me, f.id, &prm), 0);
	msleep(20);
	/* The very next frame goes to the new address, as A-law. */
	assert_true(line_step(&f.line, 1, frame, NULL));
	len = far_recv(far2, pkt, sizeof(pkt), 300);
	assert_int_equal(len, RTP_HDR_LEN + SLOT);
	assert_int_equal(rtp_decode(&h, &pl, &n, pkt, (size_t)len), 0);
	assert_int_equal(h.pt, MEDIA_PCMA);
	assert_int_equal(h.ssrc, before.ssrc);
	assert_int_equal(h.seq, (uint16_t)(before.seq + 1));
	assert_true(all_equal(pl, n, 0xd5));
	assert_true(far_recv(f.far, pkt, sizeof(pkt), 20) < 0);

	prm.rtp_law = 3; /* not G.711 */
	assert_int_equal(media_bridge_update(f.me, f.id, &prm), EINVAL);
	assert_int_equal(media_bridge_update(f.me, f.id + 1, &prm), ENOENT);
	close(far2);
	fx_close(&f);
}

static void test_channels_isolated(void **state)
{
	uint8_t frame[FRAME_LEN], answer[FRAME_LEN], pl[SLOT], pkt[2048];
	struct media_bridge_params prm;
	struct sockaddr_in far7_addr;
	struct media_rtp *rtp;
	struct rtp_hdr h;
	const uint8_t *p;
	uint32_t id7;
	static struct fx f;
	size_t n;
	ssize_t len;
	unsigned k;
	int far7;

	fx_open(&f, MEDIA_PCMU, MEDIA_PCMU, 20);
	far7 = udp_open(&far7_addr);
	assert_int_equal(media_rtp_alloc(&rtp, f.me, "127.0.0.1", PORT_MIN,
					 PORT_MAX), 0);
	params(&prm, CHAN, &far7_addr, MEDIA_PCMU, 20);
	assert_int_equal(media_bridge_start(f.me, &id7, rtp, &prm, NULL),
			 EBUSY);
	prm.chan = 0;
	assert_int_equal(media_bridge_start(f.me, &id7, rtp, &prm, NULL),
			 EINVAL);
	prm.chan = NCHAN + 1;
	assert_int_equal(media_bridge_start(f.me, &id7, rtp, &prm, NULL),
			 EINVAL);
	prm.chan = 7;
	prm.span_id = 9;
	assert_int_equal(media_bridge_start(f.me, &id7, rtp, &prm, NULL),
			 ENOENT);
	prm.span_id = 1;
	assert_int_equal(media_bridge_start(f.me, &id7, rtp, &prm, NULL), 0);
	assert_int_not_equal(id7, f.id);

	/* Audio into timeslot 5 reaches only bridge 5's far end; audio
	 * from bridge 5's far end plays only in timeslot 5. */
	frame_silence(frame, MEDIA_PCMU);
	memset(frame + (CHAN - 1) * SLOT, 0x42, SLOT);
	memset(pl, 0x24, SLOT);
	for (k = 0; k < 6; k++) {
		far_next(&f, 0, pl, SLOT);
		assert_true(line_step(&f.line, k, frame, answer));
		len = far_recv(far7, pkt, sizeof(pkt), 300);
		assert_int_equal(rtp_decode(&h, &p, &n, pkt, (size_t)len), 0);
		assert_true(all_equal(p, n, 0xff));
		len = far_recv(f.far, pkt, sizeof(pkt), 300);
		assert_int_equal(rtp_decode(&h, &p, &n, pkt, (size_t)len), 0);
		assert_true(all_equal(p, n, 0x42));
	}
	assert_true(all_equal(answer + (CHAN - 1) * SLOT, SLOT, 0x24));
	assert_true(all_equal(answer, (CHAN - 1) * SLOT, 0xff));
	assert_true(all_equal(answer + CHAN * SLOT, (NCHAN - CHAN) * SLOT,
			      0xff));
	close(far7);
	fx_close(&f);
}

static void test_ignored_and_new_ssrc(void **state)
{
	uint8_t frame[FRAME_LEN], answer[FRAME_LEN], pl[SLOT], pkt[2048];
	const uint8_t *slot = answer + (CHAN - 1) * SLOT;
	static struct fx f;
	unsigned k;

	fx_open(&f, MEDIA_PCMU, MEDIA_PCMU, 20);
	frame_silence(frame, MEDIA_PCMU);
	memset(pl, 0x30, SLOT);
	/* Comfort noise (PT 13) and garbage play nothing. */
	for (k = 0; k < 5; k++) {
		far_next(&f, 13, pl, 1);
		assert_int_equal(sendto(f.far, "junk", 4, 0,
					(struct sockaddr *)&f.rtp_addr,
					sizeof(f.rtp_addr)), 4);
		assert_true(line_step(&f.line, k, frame, answer));
		assert_true(all_equal(slot, SLOT, 0xff));
	}
	for (k = 5; k < 10; k++) {
		far_next(&f, 0, pl, SLOT);
		assert_true(line_step(&f.line, k, frame, answer));
	}
	assert_true(all_equal(slot, SLOT, 0x30));
	/* A new source with an unrelated timeline takes over. */
	f.far_ssrc ^= 0xffff;
	f.far_ts += 123456789;
	f.far_seq += 30000;
	memset(pl, 0x31, SLOT);
	for (k = 10; k < 16; k++) {
		far_next(&f, 0, pl, SLOT);
		assert_true(line_step(&f.line, k, frame, answer));
	}
	assert_true(all_equal(slot, SLOT, 0x31));
	while (far_recv(f.far, pkt, sizeof(pkt), 0) > 0)
		;
	msleep(10);
	fx_stop(&f);
	assert_int_equal(done_rec.st.rtp_ignored, 5);
	assert_int_equal(done_rec.st.rtp_bad, 5);
	assert_int_equal(done_rec.st.rtp_rx, 11);
	assert_int_equal(done_rec.st.rtp_lost, 0);
	fx_close(&f);
}

static void test_remove_span(void **state)
{
	uint8_t frame[FRAME_LEN], answer[FRAME_LEN], pkt[2048];
	uint8_t buf[4 + FRAME_LEN];
	static struct fx f;

	fx_open(&f, MEDIA_PCMU, MEDIA_PCMU, 20);
	frame_silence(frame, MEDIA_PCMU);
	assert_true(line_step(&f.line, 0, frame, answer));
	assert_true(far_recv(f.far, pkt, sizeof(pkt), 300) > 0);

	assert_int_equal(media_engine_remove_span(f.me, 1), 0);
	assert_int_equal(media_engine_remove_span(f.me, 1), ENOENT);
	/* No answer, no RTP: the engine no longer reads the line. */
	assert_false(line_step(&f.line, 1, frame, answer));
	assert_true(far_recv(f.far, pkt, sizeof(pkt), 50) < 0);
	/* Drain the unread frame so the line starts clean again. */
	assert_int_equal(recv(f.line.fd[0], buf, sizeof(buf), MSG_DONTWAIT),
			 sizeof(buf));

	/* Back again: the bridge picks up its timeslot. */
	assert_int_equal(media_engine_add_span(f.me, 1, &f.line.io), 0);
	assert_int_equal(media_engine_add_span(f.me, 1, &f.line.io), EEXIST);
	assert_true(line_step(&f.line, 2, frame, answer));
	assert_true(far_recv(f.far, pkt, sizeof(pkt), 300) > 0);
	fx_close(&f);
}

static void test_free_with_live_bridges(void **state)
{
	uint8_t frame[FRAME_LEN];
	static struct fx f;

	fx_open(&f, MEDIA_PCMU, MEDIA_PCMU, 20);
	frame_silence(frame, MEDIA_PCMU);
	assert_true(line_step(&f.line, 0, frame, NULL));
	/* A stop still queued and a running bridge: freed, never
	 * reported. */
	assert_int_equal(media_bridge_stop(f.me, f.id), 0);
	fx_close(&f);
	assert_int_equal(done_rec.count, 0);
}

static bool port_free(uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
				.sin_port = htons(port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	bool ok = bind(s, (struct sockaddr *)&a, sizeof(a)) == 0;

	close(s);
	return ok;
}

/* An even port whose pair is free now (other programs may hold ports; a
 * random start keeps parallel runs of this test apart). */
static uint16_t free_pair(void)
{
	uint16_t r, p;
	int i;

	assert_int_equal(tg_random(&r, sizeof(r)), 0);
	for (i = 0; i < 5000; i++) {
		p = (uint16_t)(40000 + 2 * ((r + i) % 5000));
		if (port_free(p) && port_free((uint16_t)(p + 1)))
			return p;
	}
	fail_msg("no free port pair");
	return 0;
}

static void test_rtp_ports(void **state)
{
	struct media_engine *me;
	struct media_rtp *a, *b;
	uint16_t p = free_pair(), pa, pb;

	assert_int_equal(media_engine_alloc(&me, 1, on_done), 0);
	/* An odd lower bound rounds up to the even port. */
	assert_int_equal(media_rtp_alloc(&a, me, "127.0.0.1", p - 1, p + 1),
			 0);
	assert_int_equal(media_rtp_port(a), p);
	/* RTCP's port is held too. */
	assert_false(port_free((uint16_t)(p + 1)));
	/* The only pair is taken. */
	assert_int_equal(media_rtp_alloc(&b, me, "127.0.0.1", p, p + 1),
			 EADDRINUSE);
	media_rtp_free(a);
	assert_true(port_free(p) && port_free((uint16_t)(p + 1)));

	/* Consecutive allocations rotate through the range. */
	assert_int_equal(media_rtp_alloc(&a, me, "127.0.0.1", 30000, 39999),
			 0);
	assert_int_equal(media_rtp_alloc(&b, me, "127.0.0.1", 30000, 39999),
			 0);
	pa = media_rtp_port(a);
	pb = media_rtp_port(b);
	assert_true(pa % 2 == 0 && pb % 2 == 0 && pa != pb);
	assert_true(pa >= 30000 && pa < 39999 && pb >= 30000 && pb < 39999);
	media_rtp_free(a);
	media_rtp_free(b);
	assert_int_equal(media_rtp_alloc(&b, me, "nonsense", 30000, 39999),
			 EINVAL);
	assert_int_equal(media_rtp_alloc(&b, me, "127.0.0.1", 30001, 30001),
			 EINVAL);
	media_engine_free(me);
	assert_int_equal(obj_live_count(), 0);
}

/* ---- RTP <-> RTP relays ---------------------------------------------- */

struct rfx {
	struct media_engine *me;
	int far[2];                     /* side a's and side b's far ends */
	struct sockaddr_in far_addr[2];
	struct sockaddr_in ep_addr[2];  /* the relay's endpoints a and b */
	uint32_t id;
};

static struct rfx *open_rfx;

static void relay_side(struct media_relay_side *s,
		       const struct sockaddr_in *remote, enum media_law law)
{
	memset(s, 0, sizeof(*s));
	if (remote) {
		memcpy(&s->remote, remote, sizeof(*remote));
		s->remote_len = sizeof(*remote);
	}
	s->law = law;
	s->ptime = 20;
}

static void rfx_open(struct rfx *f, enum media_law law_a,
		     enum media_law law_b, bool hold_b)
{
	struct media_relay_side sa, sb;
	struct media_rtp *ep[2];
	unsigned i;

	memset(f, 0, sizeof(*f));
	open_rfx = f;
	memset(&done_rec, 0, sizeof(done_rec));
	assert_int_equal(media_engine_alloc(&f->me, 2, on_done), 0);
	for (i = 0; i < 2; i++) {
		f->far[i] = udp_open(&f->far_addr[i]);
		assert_int_equal(media_rtp_alloc(&ep[i], f->me, "127.0.0.1",
						 PORT_MIN, PORT_MAX), 0);
		f->ep_addr[i].sin_family = AF_INET;
		f->ep_addr[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		f->ep_addr[i].sin_port = htons(media_rtp_port(ep[i]));
	}
	relay_side(&sa, &f->far_addr[0], law_a);
	relay_side(&sb, hold_b ? NULL : &f->far_addr[1], law_b);
	assert_int_equal(media_relay_start(f->me, &f->id, ep[0], &sa, ep[0],
					   &sb, f), EINVAL);
	sb.law = 3;
	assert_int_equal(media_relay_start(f->me, &f->id, ep[0], &sa, ep[1],
					   &sb, f), EINVAL);
	sb.law = law_b;
	assert_int_equal(media_relay_start(f->me, &f->id, ep[0], &sa, ep[1],
					   &sb, f), 0);
	assert_int_not_equal(f->id, 0);
}

static void rfx_close(struct rfx *f)
{
	open_rfx = NULL;
	media_engine_free(f->me);
	close(f->far[0]);
	close(f->far[1]);
	assert_int_equal(obj_live_count(), 0);
}

static void rfx_stop(struct rfx *f)
{
	msleep(20); /* let the worker finish what is in flight */
	assert_int_equal(media_bridge_stop(f->me, f->id), 0);
	assert_true(readable(media_engine_fd(f->me), 1000));
	media_engine_poll(f->me);
	assert_int_equal(done_rec.count, 1);
	assert_ptr_equal(done_rec.cookie, f);
}

/* Far end of @p side sends one packet to its endpoint (from @p sock). */
static void rsend_from(struct rfx *f, int sock, unsigned side,
		       const struct rtp_hdr *h, const void *pl, size_t n)
{
	uint8_t pkt[RTP_HDR_LEN + 1024];

	rtp_encode_hdr(pkt, h);
	memcpy(pkt + RTP_HDR_LEN, pl, n);
	assert_int_equal(sendto(sock, pkt, RTP_HDR_LEN + n, 0,
				(struct sockaddr *)&f->ep_addr[side],
				sizeof(f->ep_addr[side])),
			 RTP_HDR_LEN + n);
}

static void rsend(struct rfx *f, unsigned side, const struct rtp_hdr *h,
		  const void *pl, size_t n)
{
	rsend_from(f, f->far[side], side, h, pl, n);
}

/* What the far end of @p side receives: from that side's endpoint. */
static bool rrecv(struct rfx *f, unsigned side, struct rtp_hdr *h,
		  uint8_t *pl, size_t *n, int ms)
{
	uint8_t pkt[2048];
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	const uint8_t *p;
	ssize_t len;

	if (!readable(f->far[side], ms))
		return false;
	len = recvfrom(f->far[side], pkt, sizeof(pkt), 0,
		       (struct sockaddr *)&from, &flen);
	assert_true(len > 0);
	assert_int_equal(from.sin_port, f->ep_addr[side].sin_port);
	assert_int_equal(rtp_decode(h, &p, n, pkt, (size_t)len), 0);
	memcpy(pl, p, *n);
	return true;
}

/* Side @p from sends 10 audio packets of every code in its law; the other
 * side gets them converted, under its own SSRC, seq and timestamps. */
static void relay_codes(struct rfx *f, unsigned from, enum media_law in,
			enum media_law out, struct rtp_hdr *firstp)
{
	uint8_t pl[SLOT], got[2048];
	struct rtp_hdr h, o, first = {0};
	size_t n, i;
	unsigned k;

	for (k = 0; k < 10; k++) {
		for (i = 0; i < SLOT; i++)
			pl[i] = (uint8_t)(k * SLOT + i);
		h = (struct rtp_hdr){.pt = (uint8_t)in,
				     .seq = (uint16_t)(65530 + k),
				     .ts = 4294967000u + k * SLOT,
				     .ssrc = 0xaaaa0000 + from + in * 16,
				     .marker = k == 5};
		rsend(f, from, &h, pl, SLOT);
		assert_true(rrecv(f, 1 - from, &o, got, &n, 300));
		assert_int_equal(o.pt, out);
		assert_int_equal(n, SLOT);
		for (i = 0; i < SLOT; i++)
			assert_int_equal(got[i],
				in == out ? pl[i] :
				in == MEDIA_PCMU ? media_ulaw_to_alaw(pl[i]) :
				media_alaw_to_ulaw(pl[i]));
		assert_int_not_equal(o.ssrc, h.ssrc);
		if (k == 0) {
			first = o;
			continue;
		}
		assert_int_equal(o.ssrc, first.ssrc);
		assert_int_equal(o.seq, (uint16_t)(first.seq + k));
		assert_int_equal(o.ts, first.ts + k * SLOT);
		assert_int_equal(o.marker, k == 5);
	}
	*firstp = first;
}

static void test_relay_convert(void **state)
{
	struct rtp_hdr ab, ba;
	static struct rfx f;

	rfx_open(&f, MEDIA_PCMU, MEDIA_PCMA, false);
	relay_codes(&f, 0, MEDIA_PCMU, MEDIA_PCMA, &ab);
	relay_codes(&f, 1, MEDIA_PCMA, MEDIA_PCMU, &ba);
	/* Each side has a stream of its own. */
	assert_int_not_equal(ab.ssrc, ba.ssrc);
	/* A side sending the other law is converted all the same. */
	relay_codes(&f, 0, MEDIA_PCMA, MEDIA_PCMA, &ab);
	rfx_stop(&f);
	assert_int_equal(done_rec.st.rtp_rx, 30);
	assert_int_equal(done_rec.st.rtp_tx, 30);
	assert_int_equal(done_rec.st.rtp_lost, 0);
	assert_int_equal(done_rec.st.rtp_late, 0);
	assert_int_equal(done_rec.st.rtp_bad, 0);
	assert_int_equal(done_rec.st.rtp_held, 0);
	assert_int_equal(done_rec.st.rtp_foreign, 0);
	assert_int_equal(done_rec.st.tdm_frames, 0);
	rfx_close(&f);
}

/* Send (seq, ts) from side a under @p ssrc; return what side b got. */
static struct rtp_hdr relay_one(struct rfx *f, uint32_t ssrc, uint16_t seq,
				uint32_t ts)
{
	uint8_t pl[SLOT], got[2048];
	struct rtp_hdr h = {.pt = 0, .seq = seq, .ts = ts, .ssrc = ssrc};
	struct rtp_hdr o;
	size_t n;

	memset(pl, seq & 0x7f, SLOT);
	rsend(f, 0, &h, pl, SLOT);
	assert_true(rrecv(f, 1, &o, got, &n, 300));
	assert_int_equal(n, SLOT);
	assert_true(all_equal(got, n, seq & 0x7f));
	return o;
}

static void test_relay_timeline(void **state)
{
	const uint32_t x = 0x11111111, y = 0x22222222;
	uint8_t pl[SLOT], got[2048];
	struct rtp_hdr o0, o, prev;
	static struct rfx f;
	size_t n;
	int32_t dts;
	unsigned k;

	rfx_open(&f, MEDIA_PCMU, MEDIA_PCMU, false);
	o0 = relay_one(&f, x, 1000, 50000);
	assert_true(o0.marker); /* the stream starts */
	for (k = 1; k < 5; k++) {
		o = relay_one(&f, x, (uint16_t)(1000 + k), 50000 + k * SLOT);
		assert_false(o.marker);
		assert_int_equal(o.seq, (uint16_t)(o0.seq + k));
		assert_int_equal(o.ts, o0.ts + k * SLOT);
	}
	/* A gap carries over in seq and ts; the late packet takes its
	 * place; a duplicate is dropped; 1007 is lost. */
	o = relay_one(&f, x, 1006, 50000 + 6 * SLOT);
	assert_int_equal(o.seq, (uint16_t)(o0.seq + 6));
	assert_int_equal(o.ts, o0.ts + 6 * SLOT);
	o = relay_one(&f, x, 1005, 50000 + 5 * SLOT);
	assert_int_equal(o.seq, (uint16_t)(o0.seq + 5));
	assert_int_equal(o.ts, o0.ts + 5 * SLOT);
	memset(pl, 1006 & 0x7f, SLOT);
	rsend(&f, 0, &(struct rtp_hdr){.seq = 1006, .ts = 50000 + 6 * SLOT,
				       .ssrc = x}, pl, SLOT);
	o = relay_one(&f, x, 1008, 50000 + 8 * SLOT);
	assert_int_equal(o.seq, (uint16_t)(o0.seq + 8));
	assert_int_equal(o.ts, o0.ts + 8 * SLOT);
	prev = o;

	/* The far end changes SSRC, sequence and clock: our stream goes on
	 * unbroken, marked, a packet's worth (or the wall clock's) later. */
	for (k = 0; k < 3; k++) {
		o = relay_one(&f, y, (uint16_t)(7 + k), 999999 + k * SLOT);
		assert_int_equal(o.ssrc, o0.ssrc);
		assert_int_equal(o.seq, (uint16_t)(prev.seq + 1));
		dts = (int32_t)(o.ts - prev.ts);
		if (k == 0) {
			assert_true(o.marker);
			assert_true(dts >= SLOT && dts < 8000);
		} else {
			assert_false(o.marker);
			assert_int_equal(dts, SLOT);
		}
		prev = o;
	}
	/* Same SSRC, a clock jump: rebased the same way. */
	o = relay_one(&f, y, 10, 5000000);
	assert_true(o.marker);
	assert_int_equal(o.seq, (uint16_t)(prev.seq + 1));
	dts = (int32_t)(o.ts - prev.ts);
	assert_true(dts >= SLOT && dts < 8000);
	prev = o;
	/* Half a second of silence suppression is timing, kept as is. */
	o = relay_one(&f, y, 11, 5000000 + 4000);
	assert_int_equal(o.seq, (uint16_t)(prev.seq + 1));
	assert_int_equal(o.ts, prev.ts + 4000);
	assert_false(o.marker);

	/* Nothing else came out (the duplicate). */
	assert_false(rrecv(&f, 1, &o, got, &n, 20));
	rfx_stop(&f);
	assert_int_equal(done_rec.st.rtp_rx, 13);
	assert_int_equal(done_rec.st.rtp_tx, 13);
	assert_int_equal(done_rec.st.rtp_late, 1);
	assert_int_equal(done_rec.st.rtp_lost, 1);
	rfx_close(&f);
}

/* Each leg has its own telephone-event type: the relay maps them. */
static void test_relay_te_map(void **state)
{
	static const uint8_t ev[4] = {5, 0x0a, 0x01, 0x40};
	struct media_relay_side sa, sb;
	uint8_t pl[SLOT], got[2048];
	struct rtp_hdr h, o;
	static struct rfx f;
	size_t n;

	(void)state;
	rfx_open(&f, MEDIA_PCMU, MEDIA_PCMU, false);
	relay_side(&sa, &f.far_addr[0], MEDIA_PCMU);
	sa.te_rx_pt = sa.te_tx_pt = 96;
	relay_side(&sb, &f.far_addr[1], MEDIA_PCMU);
	sb.te_rx_pt = 101;
	sb.te_tx_pt = 100;
	assert_int_equal(media_relay_update(f.me, f.id, 0, &sa), 0);
	assert_int_equal(media_relay_update(f.me, f.id, 1, &sb), 0);
	msleep(50);
	memset(pl, 0x55, SLOT);
	h = (struct rtp_hdr){.pt = 0, .seq = 1, .ts = 1000, .ssrc = 7};
	rsend(&f, 0, &h, pl, SLOT);
	assert_true(rrecv(&f, 1, &o, got, &n, 300));
	assert_int_equal(o.pt, 0);
	h = (struct rtp_hdr){.pt = 96, .seq = 2, .ts = 1160, .ssrc = 7,
			     .marker = true};
	rsend(&f, 0, &h, ev, sizeof(ev));
	assert_true(rrecv(&f, 1, &o, got, &n, 300));
	assert_int_equal(o.pt, 100);
	assert_memory_equal(got, ev, sizeof(ev));
	h = (struct rtp_hdr){.pt = 101, .seq = 9, .ts = 5000, .ssrc = 8,
			     .marker = true};
	rsend(&f, 1, &h, ev, sizeof(ev));
	assert_true(rrecv(&f, 0, &o, got, &n, 300));
	assert_int_equal(o.pt, 96);
	/* A type that is not the sender's telephone-event passes as is. */
	h = (struct rtp_hdr){.pt = 13, .seq = 10, .ts = 5160, .ssrc = 8};
	rsend(&f, 1, &h, "\x40", 1);
	assert_true(rrecv(&f, 0, &o, got, &n, 300));
	assert_int_equal(o.pt, 13);
	rfx_close(&f);
}

/* Side @p from sends 20 ms of a tone in @p in; the other side takes
 * @p out: what it gets is the tone, recoded, on its own timeline. */
static void relay_tone(struct rfx *f, unsigned from, enum media_law in,
		       enum media_law out, unsigned npkt)
{
	struct mcodec enc, dec;
	uint8_t pl[SLOT], got[2048];
	int16_t pcm[SLOT], back[SLOT];
	struct rtp_hdr h, o, first = {0};
	size_t n, len;
	unsigned k;

	assert_int_equal(mcodec_init(&enc, in, MCODEC_ENC), 0);
	assert_int_equal(mcodec_init(&dec, out, MCODEC_DEC), 0);
	for (k = 0; k < npkt; k++) {
		tone(pcm, SLOT, k * SLOT, 500);
		len = mcodec_encode(&enc, pl, pcm, SLOT);
		h = (struct rtp_hdr){.pt = (uint8_t)in, .seq = (uint16_t)k,
				     .ts = 1000 + k * SLOT,
				     .ssrc = 0xbbbb0000 + from + in * 16};
		rsend(f, from, &h, pl, len);
		assert_true(rrecv(f, 1 - from, &o, got, &n, 300));
		assert_int_equal(o.pt, out);
		assert_int_equal(n, mcodec_bytes(out, SLOT));
		assert_int_equal(mcodec_decode(&dec, back, SLOT, got, n), SLOT);
		if (k >= 3)
			assert_true(pcm_share(back, SLOT, 500) > 0.8);
		if (k == 0)
			first = o;
		else
			assert_int_equal(o.ts, first.ts + k * SLOT);
	}
	mcodec_free(&enc);
	mcodec_free(&dec);
}

/* No codec in common: the relay transcodes, both ways, packet for
 * packet; a side sending G.711 of the other law still gets through. */
static void test_relay_transcode(void **state)
{
	static struct rfx f;

	rfx_open(&f, MEDIA_G729, MEDIA_PCMU, false);
	relay_tone(&f, 0, MEDIA_G729, MEDIA_PCMU, 20);
	relay_tone(&f, 1, MEDIA_PCMU, MEDIA_G729, 20);
	relay_tone(&f, 1, MEDIA_PCMA, MEDIA_G729, 10);
	rfx_stop(&f);
	assert_int_equal(done_rec.st.rtp_rx, 50);
	assert_int_equal(done_rec.st.rtp_tx, 50);
	assert_int_equal(done_rec.st.rtp_bad, 0);
	assert_int_equal(done_rec.st.rtp_ignored, 0);
	rfx_close(&f);

	rfx_open(&f, MEDIA_G722, MEDIA_G729, false);
	relay_tone(&f, 0, MEDIA_G722, MEDIA_G729, 15);
	relay_tone(&f, 1, MEDIA_G729, MEDIA_G722, 15);
	rfx_stop(&f);
	rfx_close(&f);
}

/* The same codec on both sides: relayed octet for octet, no codec. */
static void test_relay_same_codec(void **state)
{
	uint8_t pl[20], got[2048];
	struct rtp_hdr h, o;
	static struct rfx f;
	size_t n;
	unsigned k;

	rfx_open(&f, MEDIA_G729, MEDIA_G729, false);
	for (k = 0; k < 5; k++) {
		memset(pl, (int)(0x40 + k), sizeof(pl));
		h = (struct rtp_hdr){.pt = MEDIA_G729, .seq = (uint16_t)k,
				     .ts = k * SLOT, .ssrc = 77};
		rsend(&f, 0, &h, pl, sizeof(pl));
		assert_true(rrecv(&f, 1, &o, got, &n, 300));
		assert_int_equal(o.pt, MEDIA_G729);
		assert_int_equal(n, sizeof(pl));
		assert_memory_equal(got, pl, sizeof(pl));
	}
	rfx_stop(&f);
	rfx_close(&f);
}

static void test_relay_passthrough(void **state)
{
	static const uint8_t ev[4] = {5, 0x0a, 0x01, 0x40};
	uint8_t pl[SLOT], got[2048], rtcp[28] = {0x80, 200, 0, 6};
	struct rtp_hdr h, o, a0, e0;
	static struct rfx f;
	size_t n;
	unsigned k;

	rfx_open(&f, MEDIA_PCMU, MEDIA_PCMA, false);
	memset(pl, 0x55, SLOT);
	h = (struct rtp_hdr){.pt = 0, .seq = 1, .ts = 1000, .ssrc = 7};
	rsend(&f, 0, &h, pl, SLOT);
	assert_true(rrecv(&f, 1, &a0, got, &n, 300));
	assert_int_equal(a0.pt, MEDIA_PCMA);

	/* RFC 4733 telephone-event: every packet of the event carries its
	 * start timestamp; PT and payload pass unchanged. */
	for (k = 0; k < 3; k++) {
		h = (struct rtp_hdr){.pt = 101, .seq = (uint16_t)(2 + k),
				     .ts = 1160, .ssrc = 7, .marker = k == 0};
		rsend(&f, 0, &h, ev, sizeof(ev));
		assert_true(rrecv(&f, 1, &o, got, &n, 300));
		assert_int_equal(o.pt, 101);
		assert_int_equal(n, sizeof(ev));
		assert_memory_equal(got, ev, sizeof(ev));
		assert_int_equal(o.ssrc, a0.ssrc);
		assert_int_equal(o.seq, (uint16_t)(a0.seq + 1 + k));
		assert_int_equal(o.ts, a0.ts + SLOT);
		assert_int_equal(o.marker, k == 0);
		if (k == 0)
			e0 = o;
	}
	(void)e0;
	/* Comfort noise too. */
	h = (struct rtp_hdr){.pt = 13, .seq = 5, .ts = 1640, .ssrc = 7};
	rsend(&f, 0, &h, "\x40", 1);
	assert_true(rrecv(&f, 1, &o, got, &n, 300));
	assert_int_equal(o.pt, 13);
	assert_int_equal(n, 1);
	assert_int_equal(got[0], 0x40);
	assert_int_equal(o.ts, a0.ts + 640);

	/* RTCP on the RTP port (the side's, RFC 5761: read, not relayed),
	 * and garbage: dropped. */
	assert_int_equal(sendto(f.far[0], rtcp, sizeof(rtcp), 0,
				(struct sockaddr *)&f.ep_addr[0],
				sizeof(f.ep_addr[0])), sizeof(rtcp));
	assert_int_equal(sendto(f.far[0], "junk", 4, 0,
				(struct sockaddr *)&f.ep_addr[0],
				sizeof(f.ep_addr[0])), 4);
	h = (struct rtp_hdr){.pt = 0, .seq = 6, .ts = 1800, .ssrc = 7};
	rsend(&f, 0, &h, pl, SLOT);
	assert_true(rrecv(&f, 1, &o, got, &n, 300));
	assert_int_equal(o.pt, MEDIA_PCMA);
	assert_int_equal(o.seq, (uint16_t)(a0.seq + 5));
	assert_true(all_equal(got, n, media_ulaw_to_alaw(0x55)));
	rfx_stop(&f);
	assert_int_equal(done_rec.st.rtp_rx, 6);
	assert_int_equal(done_rec.st.rtp_tx, 6);
	assert_int_equal(done_rec.st.rtp_ignored, 0);
	assert_int_equal(done_rec.st.rtcp_rx, 1);
	assert_int_equal(done_rec.st.rtp_bad, 1);
	rfx_close(&f);
}

/* ---- SRTP ------------------------------------------------------------- */

static void keys_fill(struct media_srtp_keys *k, enum media_srtp_suite suite,
		      uint8_t tx, uint8_t rx)
{
	unsigned i;

	memset(k, 0, sizeof(*k));
	k->suite = suite;
	for (i = 0; i < MEDIA_SRTP_KEY_MAX; i++) {
		k->tx_key[i] = (uint8_t)(tx + i * 7);
		k->rx_key[i] = (uint8_t)(rx + i * 13);
	}
}

/* The far end's view of @p k: what we send it checks, and back. */
static void keys_mirror(struct media_srtp_keys *far,
			const struct media_srtp_keys *k)
{
	far->suite = k->suite;
	memcpy(far->tx_key, k->rx_key, sizeof(far->tx_key));
	memcpy(far->rx_key, k->tx_key, sizeof(far->rx_key));
}

static void srtp_suite_roundtrip(enum media_srtp_suite suite, size_t tag)
{
	struct media_srtp_keys ka, kb, kw;
	struct msrtp *a, *b, *wrong;
	uint8_t pkt[RTP_HDR_LEN + SLOT + MSRTP_TRAILER], copy[sizeof(pkt)];
	uint8_t rtcp[8 + 20 + MSRTP_TRAILER] = {0x80, 200, 0, 6, 0, 0, 0, 9};
	struct rtp_hdr h = {.pt = 0, .ssrc = 0x01020304};
	size_t len, clen;
	unsigned k;

	keys_fill(&ka, suite, 1, 2);
	keys_mirror(&kb, &ka);
	keys_fill(&kw, suite, 1, 3);
	assert_int_equal(msrtp_alloc(&a, &ka), 0);
	assert_int_equal(msrtp_alloc(&b, &kb), 0);
	assert_int_equal(msrtp_alloc(&wrong, &kw), 0);
	for (k = 0; k < 5; k++) {
		h.seq = (uint16_t)(65533 + k); /* across the wrap (ROC) */
		h.ts = 160 * k;
		rtp_encode_hdr(pkt, &h);
		memset(pkt + RTP_HDR_LEN, (int)(0x40 + k), SLOT);
		len = RTP_HDR_LEN + SLOT;
		assert_int_equal(msrtp_protect(a, pkt, &len, sizeof(pkt)), 0);
		assert_int_equal(len, RTP_HDR_LEN + SLOT + tag);
		/* The payload is encrypted. */
		assert_false(all_equal(pkt + RTP_HDR_LEN, SLOT,
				       (uint8_t)(0x40 + k)));
		memcpy(copy, pkt, len);
		clen = len;
		assert_int_equal(msrtp_unprotect(b, pkt, &len), 0);
		assert_int_equal(len, RTP_HDR_LEN + SLOT);
		assert_true(all_equal(pkt + RTP_HDR_LEN, SLOT,
				      (uint8_t)(0x40 + k)));
		/* The same packet again is a replay. */
		memcpy(pkt, copy, clen);
		len = clen;
		assert_int_equal(msrtp_unprotect(b, pkt, &len), MSRTP_REPLAY);
	}
	/* Tampered, or under another key: refused. */
	h.seq = 10;
	rtp_encode_hdr(pkt, &h);
	len = RTP_HDR_LEN + SLOT;
	assert_int_equal(msrtp_protect(a, pkt, &len, sizeof(pkt)), 0);
	memcpy(copy, pkt, len);
	clen = len;
	pkt[RTP_HDR_LEN + 3] ^= 0x10;
	assert_int_equal(msrtp_unprotect(b, pkt, &len), MSRTP_AUTH);
	memcpy(pkt, copy, clen);
	len = clen;
	assert_int_equal(msrtp_unprotect(wrong, pkt, &len), MSRTP_AUTH);
	/* A plain packet is no SRTP packet. */
	h.seq = 11;
	rtp_encode_hdr(pkt, &h);
	len = RTP_HDR_LEN + SLOT;
	assert_int_equal(msrtp_unprotect(b, pkt, &len), MSRTP_AUTH);
	/* ... and the genuine one still passes after all that. */
	memcpy(pkt, copy, clen);
	len = clen;
	assert_int_equal(msrtp_unprotect(b, pkt, &len), 0);
	/* Too little room for the trailer. */
	len = RTP_HDR_LEN + SLOT;
	assert_int_equal(msrtp_protect(a, pkt, &len, len + 4), EINVAL);

	/* SRTCP: index and E bit, then the tag (80-bit for _32 too). */
	len = 28;
	assert_int_equal(msrtp_protect_rtcp(a, rtcp, &len, sizeof(rtcp)), 0);
	assert_int_equal(len, 28 + 4 + (tag == 4 ? 10 : tag));
	memcpy(copy, rtcp, len);
	clen = len;
	assert_int_equal(msrtp_unprotect_rtcp(b, rtcp, &len), 0);
	assert_int_equal(len, 28);
	memcpy(rtcp, copy, clen);
	len = clen;
	assert_int_equal(msrtp_unprotect_rtcp(b, rtcp, &len), MSRTP_REPLAY);
	len = 28;
	assert_int_equal(msrtp_protect_rtcp(a, rtcp, &len, sizeof(rtcp)), 0);
	rtcp[10] ^= 1;
	assert_int_equal(msrtp_unprotect_rtcp(b, rtcp, &len), MSRTP_AUTH);
	msrtp_free(a);
	msrtp_free(b);
	msrtp_free(wrong);
}

static void test_srtp_roundtrip(void **state)
{
	struct media_srtp_keys k;
	struct msrtp *c;

	srtp_suite_roundtrip(MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, 10);
	srtp_suite_roundtrip(MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32, 4);
	srtp_suite_roundtrip(MEDIA_SRTP_AEAD_AES_128_GCM, 16);
	keys_fill(&k, MEDIA_SRTP_NONE, 1, 2);
	assert_int_equal(msrtp_alloc(&c, &k), EINVAL);
	k.suite = (enum media_srtp_suite)9;
	assert_int_equal(msrtp_alloc(&c, &k), EINVAL);
	assert_int_equal(msrtp_key_len(MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80), 30);
	assert_int_equal(msrtp_key_len(MEDIA_SRTP_AEAD_AES_128_GCM), 28);
}

static struct media_srtp_keys bridge_keys;

static void tweak_srtp(struct media_bridge_params *prm, unsigned suite)
{
	keys_fill(&bridge_keys, (enum media_srtp_suite)suite, 0x11, 0x22);
	prm->srtp = bridge_keys;
}

/* The last packet far_send_srtp sent, to replay. */
static uint8_t last_srtp[RTP_HDR_LEN + SLOT + MSRTP_TRAILER];
static size_t last_srtp_len;

/* Far end of an SRTP bridge: protect with @p far what far_send would
 * send. */
static void far_send_srtp(struct fx *f, struct msrtp *far, uint16_t seq,
			  uint32_t ts, const uint8_t *pl, size_t n)
{
	uint8_t *pkt = last_srtp;
	struct rtp_hdr h = {.pt = 0, .seq = seq, .ts = ts,
			    .ssrc = f->far_ssrc};
	size_t len = RTP_HDR_LEN + n;

	rtp_encode_hdr(pkt, &h);
	memcpy(pkt + RTP_HDR_LEN, pl, n);
	assert_int_equal(msrtp_protect(far, pkt, &len, sizeof(last_srtp)), 0);
	last_srtp_len = len;
	assert_int_equal(sendto(f->far, pkt, len, 0,
				(struct sockaddr *)&f->rtp_addr,
				sizeof(f->rtp_addr)), (ssize_t)len);
}

/* One packet the far end got: does it decrypt to the 1 kHz tone? */
static bool srtp_tone_packet(struct msrtp *far_rx, uint8_t *pkt, size_t n)
{
	struct rtp_hdr h;
	const uint8_t *p;
	size_t plen;

	if (!far_rx || msrtp_unprotect(far_rx, pkt, &n))
		return false;
	assert_int_equal(rtp_decode(&h, &p, &plen, pkt, n), 0);
	return plen == SLOT && tone_share(MEDIA_PCMU, p, plen, 1000) > 0.9;
}

/* @p frames of a 1 kHz tone both ways through an SRTP bridge; the far
 * end checks each packet it gets (@p far_rx, NULL: expects none it can
 * read) and returns how many carried the tone.  Packets a loaded machine
 * delivers late are still counted: the backlog is read at the end. */
static unsigned srtp_exchange(struct fx *f, struct msrtp *far_tx,
			      struct msrtp *far_rx, unsigned from,
			      unsigned frames, uint8_t (*answers)[FRAME_LEN])
{
	uint8_t frame[FRAME_LEN], pl[SLOT], pkt[2048];
	int16_t pcm[SLOT];
	unsigned k, good = 0;
	ssize_t len;

	frame_silence(frame, MEDIA_PCMU);
	for (k = from; k < from + frames; k++) {
		tone(pcm, SLOT, k * SLOT, 1000);
		encode(MEDIA_PCMU, pl, pcm, SLOT);
		encode(MEDIA_PCMU, frame + (CHAN - 1) * SLOT, pcm, SLOT);
		far_send_srtp(f, far_tx, f->far_seq++, f->far_ts, pl, SLOT);
		f->far_ts += SLOT;
		assert_true(line_step(&f->line, k, frame, answers[k - from]));
		while ((len = far_recv(f->far, pkt, sizeof(pkt), 50)) > 0)
			if (srtp_tone_packet(far_rx, pkt, (size_t)len)) {
				good++;
				break;
			}
	}
	while (good < frames &&
	       (len = far_recv(f->far, pkt, sizeof(pkt), 200)) > 0)
		if (srtp_tone_packet(far_rx, pkt, (size_t)len))
			good++;
	return good;
}

static void test_srtp_bridge(void **state)
{
	static uint8_t answers[40][FRAME_LEN];
	struct media_bridge_params prm;
	struct media_srtp_keys far_k, new_k;
	struct msrtp *far, *far2;
	uint8_t pl[SLOT];
	static struct fx f;
	unsigned good;

	fx_open_with(&f, 2, MEDIA_PCMU, MEDIA_PCMU, 20, tweak_srtp,
		     MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80);
	keys_mirror(&far_k, &bridge_keys);
	assert_int_equal(msrtp_alloc(&far, &far_k), 0);
	good = srtp_exchange(&f, far, far, 0, 30, answers);
	/* What the bridge sent decrypts to the timeslot's tone ... */
	assert_true(good >= 28);
	/* ... and the far end's SRTP plays on the timeslot. */
	assert_slot_tone(MEDIA_PCMU, answers, 5, 30);

	/* A plain packet, a forged one and a replay are not played. */
	memset(pl, 0x11, SLOT);
	far_send(&f, f.far, 0, f.far_seq++, f.far_ts, pl, SLOT);
	f.far_ts += SLOT;
	assert_int_equal(sendto(f.far, last_srtp, last_srtp_len, 0,
				(struct sockaddr *)&f.rtp_addr,
				sizeof(f.rtp_addr)), (ssize_t)last_srtp_len);

	/* Re-key the running bridge: both directions at once. */
	params(&prm, CHAN, &f.far_addr, MEDIA_PCMU, 20);
	keys_fill(&new_k, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_32, 0x55, 0x66);
	prm.srtp = new_k;
	assert_int_equal(media_bridge_update(f.me, f.id, &prm), 0);
	keys_mirror(&far_k, &new_k);
	assert_int_equal(msrtp_alloc(&far2, &far_k), 0);
	msleep(20);
	good = srtp_exchange(&f, far2, far2, 30, 30, answers);
	assert_true(good >= 28);
	assert_slot_tone(MEDIA_PCMU, answers, 5, 30);
	/* The old key no longer opens what the bridge sends. */
	good = srtp_exchange(&f, far2, far, 60, 5, answers);
	assert_int_equal(good, 0);
	/* An update with the same keys does not re-key (the stream's
	 * replay state goes on). */
	assert_int_equal(media_bridge_update(f.me, f.id, &prm), 0);
	good = srtp_exchange(&f, far2, far2, 65, 5, answers);
	assert_true(good >= 4);
	/* SRTCP multiplexed on the port (RFC 5761) is checked and read
	 * as RTCP. */
	{
		uint8_t rtcp[28 + MSRTP_TRAILER] = {0x80, 200, 0, 6};
		size_t len = 28;

		assert_int_equal(msrtp_protect_rtcp(far2, rtcp, &len,
						    sizeof(rtcp)), 0);
		assert_int_equal(sendto(f.far, rtcp, len, 0,
					(struct sockaddr *)&f.rtp_addr,
					sizeof(f.rtp_addr)), (ssize_t)len);
	}
	msleep(20);
	fx_stop(&f);
	/* The plain packet and (right after the re-key, until the far end
	 * switched) nothing else failed; the replay was caught. */
	assert_int_equal(done_rec.st.srtp_auth_fail, 1);
	assert_int_equal(done_rec.st.srtp_replay, 1);
	assert_int_equal(done_rec.st.rtp_ignored, 0);
	assert_int_equal(done_rec.st.rtcp_rx, 1);
	msrtp_free(far);
	msrtp_free(far2);
	fx_close(&f);
}

/* Side a speaks SRTP (GCM), side b plain RTP: the relay unprotects one
 * way and protects the other. */
static void test_relay_srtp(void **state)
{
	struct media_relay_side sa, sb;
	struct media_srtp_keys ka, far_k;
	struct media_rtp *ep[2];
	struct msrtp *far;
	uint8_t pkt[RTP_HDR_LEN + SLOT + MSRTP_TRAILER], got[2048], pl[SLOT];
	struct rtp_hdr h, o;
	static struct rfx f;
	size_t n, len;
	unsigned i, k;

	memset(&f, 0, sizeof(f));
	open_rfx = &f;
	memset(&done_rec, 0, sizeof(done_rec));
	assert_int_equal(media_engine_alloc(&f.me, 1, on_done), 0);
	for (i = 0; i < 2; i++) {
		f.far[i] = udp_open(&f.far_addr[i]);
		assert_int_equal(media_rtp_alloc(&ep[i], f.me, "127.0.0.1",
						 PORT_MIN, PORT_MAX), 0);
		f.ep_addr[i].sin_family = AF_INET;
		f.ep_addr[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		f.ep_addr[i].sin_port = htons(media_rtp_port(ep[i]));
	}
	relay_side(&sa, &f.far_addr[0], MEDIA_PCMU);
	relay_side(&sb, &f.far_addr[1], MEDIA_PCMA);
	keys_fill(&ka, MEDIA_SRTP_AEAD_AES_128_GCM, 0x31, 0x42);
	sa.srtp = ka;
	sa.srtp.suite = (enum media_srtp_suite)7;
	assert_int_equal(media_relay_start(f.me, &f.id, ep[0], &sa, ep[1],
					   &sb, &f), EINVAL);
	sa.srtp = ka;
	assert_int_equal(media_relay_start(f.me, &f.id, ep[0], &sa, ep[1],
					   &sb, &f), 0);
	keys_mirror(&far_k, &ka);
	assert_int_equal(msrtp_alloc(&far, &far_k), 0);
	memset(pl, 0x55, SLOT);
	for (k = 0; k < 5; k++) {
		/* a -> b: SRTP in, plain RTP (A-law) out. */
		h = (struct rtp_hdr){.pt = 0, .seq = (uint16_t)(100 + k),
				     .ts = 160 * k, .ssrc = 9};
		rtp_encode_hdr(pkt, &h);
		memcpy(pkt + RTP_HDR_LEN, pl, SLOT);
		len = RTP_HDR_LEN + SLOT;
		assert_int_equal(msrtp_protect(far, pkt, &len, sizeof(pkt)),
				 0);
		assert_int_equal(sendto(f.far[0], pkt, len, 0,
					(struct sockaddr *)&f.ep_addr[0],
					sizeof(f.ep_addr[0])), (ssize_t)len);
		assert_true(rrecv(&f, 1, &o, got, &n, 300));
		assert_int_equal(o.pt, MEDIA_PCMA);
		assert_int_equal(n, SLOT);
		assert_true(all_equal(got, n, media_ulaw_to_alaw(0x55)));

		/* b -> a: plain in, SRTP out that the far end opens. */
		h = (struct rtp_hdr){.pt = 8, .seq = (uint16_t)(500 + k),
				     .ts = 160 * k, .ssrc = 10};
		rsend(&f, 1, &h, pl, SLOT);
		assert_true(readable(f.far[0], 300));
		len = (size_t)recv(f.far[0], got, sizeof(got), 0);
		assert_int_equal(len, RTP_HDR_LEN + SLOT + 16);
		assert_int_equal(msrtp_unprotect(far, got, &len), 0);
		assert_int_equal(len, RTP_HDR_LEN + SLOT);
		assert_true(all_equal(got + RTP_HDR_LEN, SLOT,
				      media_alaw_to_ulaw(0x55)));
	}
	/* Plain RTP from side a's far end is refused. */
	h = (struct rtp_hdr){.pt = 0, .seq = 200, .ts = 8000, .ssrc = 9};
	rsend(&f, 0, &h, pl, SLOT);
	assert_false(rrecv(&f, 1, &o, got, &n, 100));

	/* Side a re-keyed (its re-INVITE): the old key no longer opens
	 * what goes to it, the new one does, and it may send with it. */
	msrtp_free(far);
	keys_fill(&ka, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, 0x77, 0x88);
	sa.srtp = ka;
	assert_int_equal(media_relay_update(f.me, f.id, 0, &sa), 0);
	keys_mirror(&far_k, &ka);
	assert_int_equal(msrtp_alloc(&far, &far_k), 0);
	msleep(20);
	h = (struct rtp_hdr){.pt = 8, .seq = 600, .ts = 8000, .ssrc = 10};
	rsend(&f, 1, &h, pl, SLOT);
	assert_true(readable(f.far[0], 300));
	len = (size_t)recv(f.far[0], got, sizeof(got), 0);
	assert_int_equal(len, RTP_HDR_LEN + SLOT + 10);
	assert_int_equal(msrtp_unprotect(far, got, &len), 0);
	h = (struct rtp_hdr){.pt = 0, .seq = 201, .ts = 8160, .ssrc = 9};
	rtp_encode_hdr(pkt, &h);
	memcpy(pkt + RTP_HDR_LEN, pl, SLOT);
	len = RTP_HDR_LEN + SLOT;
	assert_int_equal(msrtp_protect(far, pkt, &len, sizeof(pkt)), 0);
	assert_int_equal(sendto(f.far[0], pkt, len, 0,
				(struct sockaddr *)&f.ep_addr[0],
				sizeof(f.ep_addr[0])), (ssize_t)len);
	assert_true(rrecv(&f, 1, &o, got, &n, 300));
	rfx_stop(&f);
	assert_int_equal(done_rec.st.srtp_auth_fail, 1);
	assert_int_equal(done_rec.st.rtp_rx, 12);
	msrtp_free(far);
	rfx_close(&f);
}

static void test_relay_hold_until_remote(void **state)
{
	struct media_relay_side s;
	struct media_bridge_params prm;
	struct sockaddr_in other_addr;
	uint8_t pl[SLOT], got[2048];
	struct rtp_hdr h, o;
	static struct rfx f;
	size_t n;
	unsigned k;
	int other;

	rfx_open(&f, MEDIA_PCMU, MEDIA_PCMU, true);
	memset(pl, 0x21, SLOT);
	for (k = 0; k < 5; k++) {
		h = (struct rtp_hdr){.seq = (uint16_t)k, .ts = k * SLOT,
				     .ssrc = 1};
		rsend(&f, 0, &h, pl, SLOT);
	}
	assert_false(rrecv(&f, 1, &o, got, &n, 50));
	/* Side a is known: b's far end is heard already. */
	h = (struct rtp_hdr){.seq = 77, .ts = 0, .ssrc = 2};
	rsend(&f, 1, &h, pl, SLOT);
	assert_true(rrecv(&f, 0, &o, got, &n, 300));

	assert_int_equal(media_relay_update(f.me, f.id, 2, &s), EINVAL);
	assert_int_equal(media_relay_update(f.me, f.id + 1, 1, &s), ENOENT);
	params(&prm, CHAN, &f.far_addr[1], MEDIA_PCMU, 20);
	assert_int_equal(media_bridge_update(f.me, f.id, &prm), EINVAL);
	relay_side(&s, &f.far_addr[1], 3);
	assert_int_equal(media_relay_update(f.me, f.id, 1, &s), EINVAL);
	relay_side(&s, &f.far_addr[1], MEDIA_PCMA);
	assert_int_equal(media_relay_update(f.me, f.id, 1, &s), 0);
	msleep(20);

	for (k = 5; k < 8; k++) {
		h = (struct rtp_hdr){.seq = (uint16_t)k, .ts = k * SLOT,
				     .ssrc = 1};
		rsend(&f, 0, &h, pl, SLOT);
		assert_true(rrecv(&f, 1, &o, got, &n, 300));
		assert_int_equal(o.pt, MEDIA_PCMA);
		assert_int_equal(o.marker, k == 5);
		assert_true(all_equal(got, n, media_ulaw_to_alaw(0x21)));
	}
	/* A stranger on side a's endpoint is relayed, and counted. */
	other = udp_open(&other_addr);
	h = (struct rtp_hdr){.seq = 8, .ts = 8 * SLOT, .ssrc = 1};
	rsend_from(&f, other, 0, &h, pl, SLOT);
	assert_true(rrecv(&f, 1, &o, got, &n, 300));
	close(other);

	rfx_stop(&f);
	assert_int_equal(done_rec.st.rtp_held, 5);
	assert_int_equal(done_rec.st.rtp_foreign, 1);
	assert_int_equal(done_rec.st.rtp_rx, 5);
	assert_int_equal(done_rec.st.rtp_tx, 5);
	assert_int_equal(media_bridge_stop(f.me, f.id), ENOENT);
	rfx_close(&f);
}

/* ---- RTP latching ------------------------------------------------------ */

static struct sockaddr_storage ss_in(uint32_t ip, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;

	memset(&ss, 0, sizeof(ss));
	s->sin_family = AF_INET;
	s->sin_addr.s_addr = htonl(ip);
	s->sin_port = htons(port);
	return ss;
}

/* The rule itself, on a fake clock. */
static void test_latch_rule(void **state)
{
	struct sockaddr_storage sdp = ss_in(0x0a000005, 4000); /* 10.0.0.5 */
	struct sockaddr_storage nat = ss_in(0xc6336407, 31000);
	struct sockaddr_storage other = ss_in(0xc6336408, 31000);
	socklen_t len = sizeof(struct sockaddr_in);
	struct latch l = {0};

	/* Off: never. */
	assert_false(latch_signal(&l, false, &sdp, len, 0));
	for (int i = 0; i < 5; i++)
		assert_false(latch_rx(&l, &nat, 7, &sdp, len, 10));

	/* Three in a row from one source with one SSRC; a change of SSRC
	 * or of source starts the count again. */
	assert_false(latch_signal(&l, true, &sdp, len, 0));
	assert_false(latch_rx(&l, &nat, 7, &sdp, len, 10));
	assert_false(latch_rx(&l, &nat, 8, &sdp, len, 20));
	assert_false(latch_rx(&l, &other, 8, &sdp, len, 30));
	assert_false(latch_rx(&l, &nat, 8, &sdp, len, 40));
	assert_false(latch_rx(&l, &nat, 8, &sdp, len, 50));
	assert_true(latch_rx(&l, &nat, 8, &sdp, len, 60));
	assert_true(latch_same_addr(&l.cand, &nat));
	assert_int_equal(l.cand_len, len);
	/* Once only: nobody takes it over afterwards. */
	for (int i = 0; i < 5; i++)
		assert_false(latch_rx(&l, &other, 9, &nat, len, 70));
	/* The same SDP address again keeps the latched remote; a new one
	 * opens the window again. */
	assert_true(latch_signal(&l, true, &sdp, len, 100));
	assert_false(latch_signal(&l, true, &other, len, 200));
	assert_false(l.latched);

	/* Heard from its SDP address first: reachable, no latching. */
	latch_signal(&l, true, &sdp, len, 0);
	assert_false(latch_rx(&l, &sdp, 7, &sdp, len, 10));
	for (int i = 0; i < 5; i++)
		assert_false(latch_rx(&l, &nat, 7, &sdp, len, 20));

	/* Only within the window ... */
	latch_signal(&l, true, &other, len, 0);
	assert_false(latch_rx(&l, &nat, 7, &other, len, 10));
	assert_false(latch_rx(&l, &nat, 7, &other, len, LATCH_WINDOW_MS - 1));
	assert_false(latch_rx(&l, &nat, 7, &other, len, LATCH_WINDOW_MS + 1));
	assert_false(latch_rx(&l, &nat, 7, &other, len, LATCH_WINDOW_MS + 2));
	/* ... which a refresh with the same address does not open again. */
	assert_false(latch_signal(&l, true, &other, len, 2 * LATCH_WINDOW_MS));
	for (int i = 0; i < 5; i++)
		assert_false(latch_rx(&l, &nat, 7, &other, len,
				      2 * LATCH_WINDOW_MS + 10));

	/* A side with no remote yet latches too. */
	latch_signal(&l, true, &sdp, 0, 0);
	assert_false(latch_rx(&l, &nat, 7, &sdp, 0, 10));
	assert_false(latch_rx(&l, &nat, 7, &sdp, 0, 10));
	assert_true(latch_rx(&l, &nat, 7, &sdp, 0, 10));
}

/* Where the SDP said: a socket nobody reads (a far end's private
 * address, as far as the bridge can tell). */
static struct sockaddr_in latch_sdp_addr;

static void latch_tweak(struct media_bridge_params *prm, unsigned on)
{
	memcpy(&prm->remote, &latch_sdp_addr, sizeof(latch_sdp_addr));
	prm->remote_len = sizeof(latch_sdp_addr);
	prm->latch = on;
}

/* A far end behind NAT: its SDP names one address, its RTP comes from
 * another.  After three packets the bridge sends where they come from;
 * without latching it never does. */
static void test_bridge_latch(void **state)
{
	uint8_t frame[FRAME_LEN], pl[SLOT], pkt[2048];
	static struct fx f;
	int sdp_sock;

	for (unsigned on = 0; on < 2; on++) {
		sdp_sock = udp_open(&latch_sdp_addr);
		fx_open_with(&f, 1, MEDIA_PCMU, MEDIA_PCMU, 20, latch_tweak,
			     on);
		frame_silence(frame, MEDIA_PCMU);
		memset(pl, 0x55, SLOT);
		for (unsigned k = 0; k < 3; k++) {
			far_next(&f, MEDIA_PCMU, pl, SLOT);
			msleep(5);
		}
		msleep(20);
		for (unsigned k = 0; k < 5; k++)
			assert_true(line_step(&f.line, k, frame, NULL));
		if (on) {
			assert_true(far_recv(f.far, pkt, sizeof(pkt), 300) > 0);
		} else {
			assert_true(far_recv(f.far, pkt, sizeof(pkt), 50) < 0);
			assert_true(far_recv(sdp_sock, pkt, sizeof(pkt), 300) >
				    0);
		}
		fx_stop(&f);
		assert_int_equal(done_rec.st.latched, on);
		assert_int_equal(done_rec.st.rtp_rx, 3);
		fx_close(&f);
		close(sdp_sock);
	}
}

/* The far end is heard from its SDP address first: a stranger who sends
 * to the port afterwards takes nothing over. */
static void latch_only(struct media_bridge_params *prm, unsigned on)
{
	prm->latch = on;
}

static void test_bridge_latch_hijack(void **state)
{
	uint8_t frame[FRAME_LEN], pl[SLOT], pkt[2048];
	static struct fx f;
	struct sockaddr_in stranger_addr;
	int stranger;

	fx_open_with(&f, 1, MEDIA_PCMU, MEDIA_PCMU, 20, latch_only, 1);
	stranger = udp_open(&stranger_addr);
	frame_silence(frame, MEDIA_PCMU);
	memset(pl, 0x55, SLOT);
	far_next(&f, MEDIA_PCMU, pl, SLOT);
	msleep(10);
	for (unsigned k = 0; k < 5; k++) {
		far_send(&f, stranger, MEDIA_PCMU, f.far_seq++, f.far_ts, pl,
			 SLOT);
		f.far_ts += SLOT;
	}
	msleep(20);
	for (unsigned k = 0; k < 3; k++)
		assert_true(line_step(&f.line, k, frame, NULL));
	assert_true(far_recv(f.far, pkt, sizeof(pkt), 300) > 0);
	assert_true(far_recv(stranger, pkt, sizeof(pkt), 50) < 0);
	fx_stop(&f);
	assert_int_equal(done_rec.st.latched, 0);
	close(stranger);
	fx_close(&f);
}

/* A relay side whose far end sits behind NAT: side b's RTP goes where
 * its far end sends from once it latched. */
static void test_relay_latch(void **state)
{
	struct media_relay_side s;
	struct sockaddr_in nat_addr;
	uint8_t pl[SLOT], got[2048];
	struct rtp_hdr h, o;
	static struct rfx f;
	size_t n;
	unsigned k;
	int nat;

	rfx_open(&f, MEDIA_PCMU, MEDIA_PCMU, false);
	/* b's SDP names far[1]; its packets come from nat. */
	relay_side(&s, &f.far_addr[1], MEDIA_PCMU);
	s.latch = true;
	assert_int_equal(media_relay_update(f.me, f.id, 1, &s), 0);
	msleep(20);
	nat = udp_open(&nat_addr);
	memset(pl, 0x33, SLOT);
	for (k = 0; k < 3; k++) {
		h = (struct rtp_hdr){.seq = (uint16_t)k, .ts = k * SLOT,
				     .ssrc = 9};
		rsend_from(&f, nat, 1, &h, pl, SLOT);
		assert_true(rrecv(&f, 0, &o, got, &n, 300));
	}
	msleep(10);
	h = (struct rtp_hdr){.seq = 1, .ts = 0, .ssrc = 4};
	rsend(&f, 0, &h, pl, SLOT);
	assert_true(readable(nat, 300));
	assert_false(rrecv(&f, 1, &o, got, &n, 30));
	/* The same SDP again (a refresh) keeps the latched address. */
	assert_int_equal(media_relay_update(f.me, f.id, 1, &s), 0);
	msleep(20);
	recv(nat, got, sizeof(got), 0);
	h = (struct rtp_hdr){.seq = 2, .ts = SLOT, .ssrc = 4};
	rsend(&f, 0, &h, pl, SLOT);
	assert_true(readable(nat, 300));
	close(nat);
	rfx_stop(&f);
	assert_int_equal(done_rec.st.latched, 1);
	assert_int_equal(done_rec.st.rtp_foreign, 2);
	rfx_close(&f);
}

/* ---- timeslot <-> timeslot -------------------------------------------- */

struct tfx {
	struct media_engine *me;
	struct line line[2];
};

static struct tfx *open_tfx;

static void tfx_open(struct tfx *f, enum media_law law1, enum media_law law2)
{
	memset(f, 0, sizeof(*f));
	open_tfx = f;
	memset(&done_rec, 0, sizeof(done_rec));
	/* Spans go to the workers in turn: span 1 on one, span 2 on the
	 * other. */
	assert_int_equal(media_engine_alloc(&f->me, 2, on_done), 0);
	line_open(&f->line[0], law1);
	line_open(&f->line[1], law2);
	assert_int_equal(media_engine_add_span(f->me, 1, &f->line[0].io), 0);
	assert_int_equal(media_engine_add_span(f->me, 2, &f->line[1].io), 0);
}

static void tfx_close(struct tfx *f)
{
	open_tfx = NULL;
	media_engine_free(f->me);
	line_close(&f->line[0]);
	line_close(&f->line[1]);
	assert_int_equal(obj_live_count(), 0);
}

static uint8_t *slot_of(uint8_t *frame, unsigned chan)
{
	return frame + (chan - 1) * SLOT;
}

/* A pattern no two frames or timeslots share. */
static void pattern(uint8_t *slot, unsigned k, unsigned tag)
{
	unsigned i;

	for (i = 0; i < SLOT; i++)
		slot[i] = (uint8_t)(tag * 37 + k * 11 + i);
}

static void assert_conv(const uint8_t *got, const uint8_t *sent,
			enum media_law from, enum media_law to)
{
	unsigned i;

	for (i = 0; i < SLOT; i++)
		assert_int_equal(got[i],
			from == to ? sent[i] :
			from == MEDIA_PCMU ? media_ulaw_to_alaw(sent[i]) :
			media_alaw_to_ulaw(sent[i]));
}

static void test_tdm_bridge(void **state)
{
	static uint8_t fr[2][FRAME_LEN], ans[2][FRAME_LEN], prev[2][FRAME_LEN];
	const enum media_law ul = MEDIA_PCMU, al = MEDIA_PCMA;
	static struct tfx f;
	uint32_t id, id2, idx;
	unsigned k, c;

	tfx_open(&f, ul, al);
	assert_int_equal(media_tdm_bridge_start(f.me, &id, 1, 5, 1, 5, NULL),
			 EINVAL);
	assert_int_equal(media_tdm_bridge_start(f.me, &id, 1, 5, 3, 9, NULL),
			 ENOENT);
	assert_int_equal(media_tdm_bridge_start(f.me, &id, 1, 5, 2, NCHAN + 1,
						NULL), EINVAL);
	/* Across spans (and workers), and within span 1. */
	assert_int_equal(media_tdm_bridge_start(f.me, &id, 1, 5, 2, 9, &f), 0);
	assert_int_equal(media_tdm_bridge_start(f.me, &idx, 2, 9, 1, 6, NULL),
			 EBUSY);
	assert_int_equal(media_tdm_bridge_start(f.me, &id2, 1, 3, 1, 7, NULL),
			 0);
	msleep(10);

	for (k = 0; k < 20; k++) {
		frame_silence(fr[0], ul);
		frame_silence(fr[1], al);
		pattern(slot_of(fr[0], 5), k, 1);
		pattern(slot_of(fr[0], 3), k, 2);
		pattern(slot_of(fr[0], 7), k, 3);
		pattern(slot_of(fr[1], 9), k, 4);
		/* Span 1's frame k, then span 2's: 2/9 hears 1/5's frame
		 * k, 1/5 hears 2/9's frame k - 1; within span 1, timeslot
		 * 7 (served after 3) hears 3 at once, 3 hears 7 one frame
		 * late. */
		assert_true(line_step(&f.line[0], k, fr[0], ans[0]));
		assert_true(line_step(&f.line[1], k, fr[1], ans[1]));
		assert_conv(slot_of(ans[1], 9), slot_of(fr[0], 5), ul, al);
		assert_conv(slot_of(ans[0], 7), slot_of(fr[0], 3), ul, ul);
		if (k == 0) {
			assert_true(all_equal(slot_of(ans[0], 5), SLOT, 0xff));
			assert_true(all_equal(slot_of(ans[0], 3), SLOT, 0xff));
		} else {
			assert_conv(slot_of(ans[0], 5), slot_of(prev[1], 9),
				    al, ul);
			assert_conv(slot_of(ans[0], 3), slot_of(prev[0], 7),
				    ul, ul);
		}
		for (c = 1; c <= NCHAN; c++) {
			if (c != 3 && c != 5 && c != 7)
				assert_true(all_equal(slot_of(ans[0], c),
						      SLOT, 0xff));
			if (c != 9)
				assert_true(all_equal(slot_of(ans[1], c),
						      SLOT, 0xd5));
		}
		memcpy(prev, fr, sizeof(prev));
	}

	assert_int_equal(media_bridge_stop(f.me, id), 0);
	assert_true(readable(media_engine_fd(f.me), 1000));
	/* The done callback follows once both workers let go. */
	for (k = 0; k < 100 && done_rec.count == 0; k++) {
		media_engine_poll(f.me);
		if (!done_rec.count)
			msleep(2);
	}
	assert_int_equal(done_rec.count, 1);
	assert_ptr_equal(done_rec.cookie, &f);
	assert_int_equal(done_rec.st.tdm_frames, 40);
	assert_int_equal(done_rec.st.underruns, 0);
	assert_int_equal(done_rec.st.jb_drops, 0);
	assert_int_equal(done_rec.st.rtp_tx, 0);

	/* Both timeslots are idle again, and free for new bridges. */
	pattern(slot_of(fr[0], 5), 99, 1);
	pattern(slot_of(fr[1], 9), 99, 4);
	assert_true(line_step(&f.line[0], 20, fr[0], ans[0]));
	assert_true(line_step(&f.line[1], 20, fr[1], ans[1]));
	assert_true(all_equal(slot_of(ans[0], 5), SLOT, 0xff));
	assert_true(all_equal(slot_of(ans[1], 9), SLOT, 0xd5));
	assert_int_equal(media_tdm_bridge_start(f.me, &id, 2, 9, 1, 5, NULL),
			 0);
	/* Freed with the engine, running: no callback. */
	tfx_close(&f);
	assert_int_equal(done_rec.count, 1);
}

/* Both lines clocked at once from two threads, so the two workers push and
 * pop the rings concurrently: every frame heard must be whole (one
 * frame's pattern, never a torn mix) and in order. */
/* Real spans share one clock: the threads take each 20 ms step together
 * (and then race within it), so neither runs a ring full by running
 * ahead when the machine is loaded. */
static pthread_barrier_t clock_bar;

struct clocker {
	struct line *line;
	unsigned chan;
	unsigned frames;
	unsigned torn, disorder, heard;
	bool failed;
};

/* Frame @p k's pattern: its number in the first two octets, the rest
 * derived from it; never 0xff, which is silence. */
static void numbered(uint8_t *slot, unsigned k)
{
	unsigned i;

	slot[0] = (uint8_t)((k & 0x7f) + 1);
	slot[1] = (uint8_t)(((k >> 7) & 0x7f) + 1);
	for (i = 2; i < SLOT; i++)
		slot[i] = (uint8_t)((k * 7 + i) % 250 + 1);
}

static void *clock_line(void *arg)
{
	struct clocker *c = arg;
	static __thread uint8_t fr[FRAME_LEN], ans[FRAME_LEN];
	uint8_t want[SLOT];
	unsigned k, got, last = 0;

	frame_silence(fr, MEDIA_PCMU);
	for (k = 0; k < c->frames; k++) {
		const uint8_t *in = slot_of(ans, c->chan);

		pthread_barrier_wait(&clock_bar);
		/* After a failure keep meeting the barrier, so the other
		 * thread never waits for ever; the test then fails. */
		if (c->failed)
			continue;
		numbered(slot_of(fr, c->chan), k);
		if (!line_step(c->line, k, fr, ans)) {
			c->failed = true;
			continue;
		}
		if (all_equal(in, SLOT, 0xff))
			continue;
		got = (in[0] - 1u) | (in[1] - 1u) << 7;
		numbered(want, got);
		if (memcmp(in, want, SLOT)) {
			c->torn++;
			continue;
		}
		if (c->heard && got <= last)
			c->disorder++;
		last = got;
		c->heard++;
	}
	return NULL;
}

static void test_tdm_bridge_concurrent(void **state)
{
	struct clocker ck[2];
	pthread_t th[2];
	static struct tfx f;
	uint32_t id;
	unsigned i;

	tfx_open(&f, MEDIA_PCMU, MEDIA_PCMU);
	assert_int_equal(media_tdm_bridge_start(f.me, &id, 1, 4, 2, 11, &f),
			 0);
	msleep(10);
	assert_int_equal(pthread_barrier_init(&clock_bar, NULL, 2), 0);
	for (i = 0; i < 2; i++) {
		ck[i] = (struct clocker){.line = &f.line[i],
					 .chan = i ? 11 : 4, .frames = 2000};
		assert_int_equal(pthread_create(&th[i], NULL, clock_line,
						&ck[i]), 0);
	}
	for (i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&clock_bar);
	for (i = 0; i < 2; i++) {
		assert_false(ck[i].failed);
		assert_int_equal(ck[i].torn, 0);
		assert_int_equal(ck[i].disorder, 0);
		assert_true(ck[i].heard > 1000);
	}
	assert_int_equal(media_bridge_stop(f.me, id), 0);
	for (i = 0; i < 100 && done_rec.count == 0; i++) {
		media_engine_poll(f.me);
		if (!done_rec.count)
			msleep(2);
	}
	assert_int_equal(done_rec.count, 1);
	assert_int_equal(done_rec.st.tdm_frames, 4000);
	tfx_close(&f);
}

/* ---- RTCP on a timeslot <-> RTP bridge ----------------------------------- */

/* A far end with an RTP and an RTCP socket on consecutive ports. */
static void far_pair(int *rtp, int *rtcp, struct sockaddr_in *addr)
{
	for (uint16_t port = 41000; port < 42000; port += 2) {
		struct sockaddr_in a = {.sin_family = AF_INET,
					.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};

		*rtp = socket(AF_INET, SOCK_DGRAM, 0);
		*rtcp = socket(AF_INET, SOCK_DGRAM, 0);
		a.sin_port = htons(port);
		if (!bind(*rtp, (struct sockaddr *)&a, sizeof(a))) {
			*addr = a;
			a.sin_port = htons((uint16_t)(port + 1));
			if (!bind(*rtcp, (struct sockaddr *)&a, sizeof(a)))
				return;
		}
		close(*rtp);
		close(*rtcp);
	}
	fail_msg("no free port pair for the far end");
}

/* The bridge's SR (it sends RTP) with a block on the far end's stream
 * and a CNAME, within 3.75 s (RFC 3550 6.2: half the 5 s interval, times
 * 0.5-1.5); the far end's RR on it gives the round trip and what it lost;
 * the stop sends BYE; the figures come in the done stats. */
static void test_rtcp_bridge(void **state)
{
	static struct fx f;
	struct media_bridge_params prm;
	struct sockaddr_in far_pair_addr = {0};
	uint8_t frame[FRAME_LEN], pl[SLOT], buf[2048];
	struct rtcp_msg m;
	int far_rtp, far_rtcp;
	uint32_t our_ssrc = 0;
	uint64_t sr_ntp = 0;
	bool got_sr = false;
	ssize_t n;
	uint32_t k;

	(void)state;
	fx_open(&f, MEDIA_PCMU, MEDIA_PCMU, 20);
	far_pair(&far_rtp, &far_rtcp, &far_pair_addr);
	params(&prm, CHAN, &far_pair_addr, MEDIA_PCMU, 20);
	assert_int_equal(media_bridge_update(f.me, f.id, &prm), 0);
	frame_silence(frame, MEDIA_PCMU);
	memset(pl, 0xff, sizeof(pl));
	for (k = 0; k < 250 && !got_sr; k++) {
		far_send(&f, f.far, 0, f.far_seq++, f.far_ts, pl, SLOT);
		f.far_ts += SLOT;
		assert_true(line_step(&f.line, k, frame, NULL));
		while (readable(far_rtp, 0)) {
			struct rtp_hdr h;
			const uint8_t *p;
			size_t plen;

			n = recv(far_rtp, buf, sizeof(buf), 0);
			if (!rtp_decode(&h, &p, &plen, buf, (size_t)n))
				our_ssrc = h.ssrc;
		}
		if (readable(far_rtcp, 0)) {
			n = recv(far_rtcp, buf, sizeof(buf), 0);
			assert_int_equal(rtcp_decode(&m, buf, (size_t)n), 0);
			got_sr = true;
		}
		msleep(18);
	}
	assert_true(got_sr);
	assert_true(m.sr);
	assert_int_equal(m.ssrc, our_ssrc);
	assert_true(m.pkts > 0 && m.octets == m.pkts * SLOT);
	assert_int_equal(m.nrb, 1);
	assert_int_equal(m.rb[0].ssrc, f.far_ssrc);
	assert_int_equal(m.rb[0].lost, 0);
	assert_int_equal(m.rb[0].ext_seq, (uint32_t)(f.far_seq - 1));
	assert_non_null(m.cname);
	assert_memory_equal(m.cname, "tg-", 3);
	sr_ntp = m.ntp;

	/* The far end answers at once: lost 7 of ours, 10 ms of jitter. */
	{
		struct rtcp_report rep = {
			.ssrc = f.far_ssrc, .has_rb = true, .cname = "far",
			.rb = {.ssrc = our_ssrc, .fraction = 12, .lost = 7,
			       .jitter = 80, .lsr = rtcp_ntp_mid(sr_ntp)}};
		size_t len = rtcp_encode(buf, sizeof(buf), &rep);
		struct sockaddr_in to = f.rtp_addr;

		to.sin_port = htons((uint16_t)(ntohs(to.sin_port) + 1));
		assert_int_not_equal(len, 0);
		assert_int_equal(sendto(far_rtcp, buf, len, 0,
					(struct sockaddr *)&to, sizeof(to)),
				 (ssize_t)len);
		/* The same multiplexed on the RTP port (RFC 5761), and a
		 * malformed one there. */
		assert_int_equal(sendto(far_rtp, buf, len, 0,
					(struct sockaddr *)&f.rtp_addr,
					sizeof(f.rtp_addr)), (ssize_t)len);
		buf[3]++;
		assert_int_equal(sendto(far_rtp, buf, len, 0,
					(struct sockaddr *)&f.rtp_addr,
					sizeof(f.rtp_addr)), (ssize_t)len);
	}
	msleep(20);
	fx_stop(&f);
	/* Its last report says BYE. */
	assert_true(readable(far_rtcp, 500));
	do {
		n = recv(far_rtcp, buf, sizeof(buf), 0);
		assert_int_equal(rtcp_decode(&m, buf, (size_t)n), 0);
	} while (!m.bye && readable(far_rtcp, 100));
	assert_true(m.bye);
	assert_int_equal(m.nrb, 1);

	assert_true(done_rec.st.rtcp_tx >= 2);
	assert_int_equal(done_rec.st.rtcp_rx, 2);
	assert_int_equal(done_rec.st.rtcp_bad, 1);
	assert_int_equal(done_rec.st.rtp_bad, 0);
	assert_int_equal(done_rec.st.rtp_ignored, 0);
	assert_true(done_rec.st.remote_report);
	assert_int_equal(done_rec.st.remote_lost, 7);
	assert_int_equal(done_rec.st.remote_fraction, 12);
	assert_int_equal(done_rec.st.remote_jitter_us, 10000);
	/* Loopback, answered at once (DLSR 0): well under 50 ms. */
	assert_true(done_rec.st.rtt_us >= 0 && done_rec.st.rtt_us < 50000);
	assert_int_equal(done_rec.st.rtp_rx_octets, done_rec.st.rtp_rx * SLOT);
	assert_true(done_rec.st.mos_rx >= 420);
	assert_true(done_rec.st.mos_tx > 100 &&
		    done_rec.st.mos_tx < done_rec.st.mos_rx);
	close(far_rtp);
	close(far_rtcp);
	fx_close(&f);
}

/* ---- RTCP on a relay ------------------------------------------------------ */

/* One far end of a relay: RTP and RTCP sockets, its stream, and (side
 * b) SRTP keys. */
struct rleg {
	int rtp, rtcp;
	struct sockaddr_in addr;
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts;
	struct msrtp *srtp;
	uint32_t our_ssrc;      /* the relay's stream toward it */
	bool got_sr;
	uint64_t sr_ntp;
	struct rtcp_msg m;      /* the relay's last report to it */
};

/* A report from the relay on @p l's RTCP port, SRTCP opened. */
static bool rleg_report(struct rleg *l, int ms)
{
	uint8_t buf[2048];
	ssize_t n;
	size_t len;

	if (!readable(l->rtcp, ms))
		return false;
	n = recv(l->rtcp, buf, sizeof(buf), 0);
	assert_true(n > 0);
	len = (size_t)n;
	if (l->srtp)
		assert_int_equal(msrtp_unprotect_rtcp(l->srtp, buf, &len), 0);
	assert_int_equal(rtcp_decode(&l->m, buf, len), 0);
	if (l->m.sr) {
		l->got_sr = true;
		l->sr_ntp = l->m.ntp;
	}
	return true;
}

/* Far end @p l sends its next packet to @p ep (skipping a sequence
 * number every @p gap packets: loss) and takes what the relay sent it. */
static void rleg_step(struct rleg *l, const struct sockaddr_in *ep,
		      unsigned gap)
{
	uint8_t pkt[RTP_HDR_LEN + SLOT + MSRTP_TRAILER], got[2048];
	struct rtp_hdr h = {.pt = 0, .seq = l->seq, .ts = l->ts,
			    .ssrc = l->ssrc};
	size_t len = RTP_HDR_LEN + SLOT;
	ssize_t n;

	rtp_encode_hdr(pkt, &h);
	memset(pkt + RTP_HDR_LEN, 0x55, SLOT);
	if (l->srtp)
		assert_int_equal(msrtp_protect(l->srtp, pkt, &len,
					       sizeof(pkt)), 0);
	if (!gap || l->seq % gap)
		assert_int_equal(sendto(l->rtp, pkt, len, 0,
					(const struct sockaddr *)ep,
					sizeof(*ep)), (ssize_t)len);
	l->seq++;
	l->ts += SLOT;
	while (readable(l->rtp, 0)) {
		n = recv(l->rtp, got, sizeof(got), 0);
		assert_true(n >= RTP_HDR_LEN);
		len = (size_t)n;
		if (l->srtp)
			assert_int_equal(msrtp_unprotect(l->srtp, got, &len),
					 0);
		assert_int_equal(rtp_decode(&h, &(const uint8_t *){0},
					    &(size_t){0}, got, len), 0);
		l->our_ssrc = h.ssrc;
	}
	while (rleg_report(l, 0))
		;
}

/* Far end @p l answers the relay's SR: lost @p lost of its stream,
 * 10 ms of jitter, sent to @p to (its RTCP or RTP port). */
static void rleg_answer(struct rleg *l, const struct sockaddr_in *to,
			int32_t lost)
{
	uint8_t buf[512 + MSRTP_TRAILER];
	struct rtcp_report rep = {
		.ssrc = l->ssrc, .has_rb = true, .cname = "far",
		.rb = {.ssrc = l->our_ssrc, .lost = lost, .jitter = 80,
		       .lsr = rtcp_ntp_mid(l->sr_ntp)}};
	size_t len = rtcp_encode(buf, 512, &rep);

	assert_int_not_equal(len, 0);
	if (l->srtp)
		assert_int_equal(msrtp_protect_rtcp(l->srtp, buf, &len,
						    sizeof(buf)), 0);
	assert_int_equal(sendto(l->rtcp, buf, len, 0,
				(const struct sockaddr *)to, sizeof(*to)),
			 (ssize_t)len);
}

/*
 * A relay terminates RTCP on both sides: each far end gets our SR about
 * the stream we send it (our SSRC toward it) with a block on the stream
 * it sends us, SRTCP on the SRTP side (b); their reports, one on the
 * RTCP port and one multiplexed on the RTP port, give each leg its RTT,
 * remote loss and MOS; side a loses 1 packet in 10 on its way to us;
 * the stop sends BYE both ways; the CDR figures are the worse leg's.
 */
static void test_relay_rtcp(void **state)
{
	struct media_relay_side sa, sb;
	struct media_srtp_keys kb, far_k;
	struct media_rtp *ep[2];
	struct sockaddr_in ep_rtcp[2];
	static struct rleg leg[2];
	static struct rfx f;
	const struct media_leg *q = done_rec.st.leg;
	bool answered[2] = {false, false};
	unsigned i, k;

	(void)state;
	memset(&f, 0, sizeof(f));
	memset(leg, 0, sizeof(leg));
	open_rfx = &f;
	memset(&done_rec, 0, sizeof(done_rec));
	assert_int_equal(media_engine_alloc(&f.me, 1, on_done), 0);
	for (i = 0; i < 2; i++) {
		far_pair(&leg[i].rtp, &leg[i].rtcp, &leg[i].addr);
		f.far[i] = -1;
		leg[i].ssrc = 0x1000 + i;
		leg[i].seq = (uint16_t)(100 * i + 1);
		assert_int_equal(media_rtp_alloc(&ep[i], f.me, "127.0.0.1",
						 PORT_MIN, PORT_MAX), 0);
		f.ep_addr[i].sin_family = AF_INET;
		f.ep_addr[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		f.ep_addr[i].sin_port = htons(media_rtp_port(ep[i]));
		ep_rtcp[i] = f.ep_addr[i];
		ep_rtcp[i].sin_port = htons(media_rtp_port(ep[i]) + 1);
	}
	relay_side(&sa, &leg[0].addr, MEDIA_PCMU);
	relay_side(&sb, &leg[1].addr, MEDIA_PCMU);
	keys_fill(&kb, MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80, 0x21, 0x52);
	sb.srtp = kb;
	keys_mirror(&far_k, &kb);
	assert_int_equal(msrtp_alloc(&leg[1].srtp, &far_k), 0);
	assert_int_equal(media_relay_start(f.me, &f.id, ep[0], &sa, ep[1],
					   &sb, &f), 0);

	/* RFC 3550 6.2: the first reports within 3.75 s; each far end
	 * answers its first SR at once (side b multiplexed on the RTP
	 * port, RFC 5761, as SRTCP). */
	for (k = 0; k < 250 && !(answered[0] && answered[1]); k++) {
		rleg_step(&leg[0], &f.ep_addr[0], 10);
		rleg_step(&leg[1], &f.ep_addr[1], 0);
		for (i = 0; i < 2; i++) {
			const struct rtcp_msg *m = &leg[i].m;

			if (!leg[i].got_sr || answered[i])
				continue;
			assert_true(m->sr);
			assert_int_equal(m->ssrc, leg[i].our_ssrc);
			assert_true(m->pkts > 0 &&
				    m->octets == m->pkts * SLOT);
			assert_int_equal(m->nrb, 1);
			assert_int_equal(m->rb[0].ssrc, leg[i].ssrc);
			assert_non_null(m->cname);
			assert_memory_equal(m->cname, "tg-", 3);
			/* Side a's block counts what it skipped. */
			if (i == 0)
				assert_true(m->rb[0].lost > 0);
			else
				assert_int_equal(m->rb[0].lost, 0);
			rleg_answer(&leg[i], i ? &f.ep_addr[1] : &ep_rtcp[0],
				    i ? 0 : 3);
			answered[i] = true;
		}
		msleep(18);
	}
	assert_true(answered[0] && answered[1]);
	assert_int_not_equal(leg[0].our_ssrc, leg[1].our_ssrc);
	msleep(20);
	rfx_stop(&f);
	for (i = 0; i < 2; i++) {
		leg[i].m.bye = false;
		while (!leg[i].m.bye && rleg_report(&leg[i], 500))
			;
		assert_true(leg[i].m.bye);
	}

	assert_int_equal(done_rec.st.rtcp_rx, 2);
	assert_true(done_rec.st.rtcp_tx >= 4);
	assert_int_equal(done_rec.st.rtcp_bad, 0);
	assert_int_equal(done_rec.st.srtp_auth_fail, 0);
	assert_int_equal(done_rec.st.rtp_ignored, 0);
	for (i = 0; i < 2; i++) {
		assert_true(q[i].rtcp);
		assert_int_equal(q[i].rtcp_rx, 1);
		assert_true(q[i].rtcp_tx >= 2);
		assert_true(q[i].remote_report);
		assert_int_equal(q[i].remote_jitter_us, 10000);
		/* Loopback, answered at once (DLSR 0). */
		assert_true(q[i].rtt_us >= 0 && q[i].rtt_us < 50000);
		assert_true(q[i].rtp_rx > 50);
		assert_true(q[i].mos_rx > 100 && q[i].mos_tx > 100);
	}
	assert_int_equal(q[0].remote_lost, 3);
	assert_int_equal(q[1].remote_lost, 0);
	assert_true(q[0].rtp_lost >= q[0].rtp_rx / 12);
	assert_int_equal(q[1].rtp_lost, 0);
	assert_true(q[1].mos_rx >= 420);
	assert_true(q[0].mos_rx < q[1].mos_rx);
	assert_true(q[0].mos_tx < q[1].mos_tx);
	/* The bridge's figures: the worse leg's. */
	assert_int_equal(done_rec.st.mos_rx, q[0].mos_rx);
	assert_int_equal(done_rec.st.mos_tx, q[0].mos_tx);
	assert_int_equal(done_rec.st.remote_lost, 3);
	assert_true(done_rec.st.remote_report);
	assert_int_equal(done_rec.st.rtt_us, q[0].rtt_us > q[1].rtt_us
						     ? q[0].rtt_us
						     : q[1].rtt_us);
	assert_int_equal(done_rec.st.jitter_us,
			 q[0].jitter_us > q[1].jitter_us ? q[0].jitter_us
							 : q[1].jitter_us);
	assert_int_equal(done_rec.st.rtp_rx_octets,
			 done_rec.st.rtp_rx * SLOT);
	for (i = 0; i < 2; i++) {
		close(leg[i].rtp);
		close(leg[i].rtcp);
		msrtp_free(leg[i].srtp);
	}
	rfx_close(&f);
}

static int all_teardown(void **state)
{
	if (open_rfx)
		rfx_close(open_rfx);
	if (open_tfx)
		tfx_close(open_tfx);
	return fx_teardown(state);
}

/* Bridge tests: the teardown closes a fixture a failed assertion left. */
#define T(test) cmocka_unit_test_teardown(test, all_teardown)


/* ---- RFC 4733 (pure) ----------------------------------------------------- */

static void test_te_payload(void **state)
{
	struct te_event ev = {.event = 5, .end = true, .volume = 10,
			      .duration = 800}, back;
	uint8_t p[4];

	(void)state;
	te_encode(p, &ev);
	assert_int_equal(p[0], 5);
	assert_int_equal(p[1], 0x8a);
	assert_int_equal(p[2], 0x03);
	assert_int_equal(p[3], 0x20);
	assert_int_equal(te_decode(&back, p, 4), 0);
	assert_int_equal(back.event, 5);
	assert_true(back.end);
	assert_int_equal(back.volume, 10);
	assert_int_equal(back.duration, 800);
	/* The R bit is ignored; E alone sets end. */
	p[1] = 0x40 | 3;
	assert_int_equal(te_decode(&back, p, 4), 0);
	assert_false(back.end);
	assert_int_equal(back.volume, 3);
	assert_int_equal(te_decode(&back, p, 3), EBADMSG);
	assert_int_equal(te_digit(11), '#');
	assert_int_equal(te_digit(16), 0);
	assert_int_equal(te_event_of('*'), 10);
	assert_int_equal(te_event_of('d'), 15);
	assert_int_equal(te_event_of('x'), -1);
}

static void test_te_tx_packets(void **state)
{
	struct te_tx t;
	struct te_tx_pkt p;
	struct te_event ev;
	uint32_t ts = 0xfffffe00; /* the event crosses the timestamp wrap */
	unsigned k;

	(void)state;
	memset(&t, 0, sizeof(t));
	te_tx_packet(&t, ts, 160, &p);
	assert_int_equal(p.n, 0); /* nothing on: audio */
	te_tx_start(&t, 1, 12);
	for (k = 0; k < 5; k++, ts += 160) {
		te_tx_packet(&t, ts, 160, &p);
		assert_int_equal(p.n, 1);
		assert_int_equal(p.marker, k == 0);
		assert_int_equal(p.ts, 0xfffffe00);
		assert_int_equal(te_decode(&ev, p.payload, 4), 0);
		assert_int_equal(ev.event, 1);
		assert_false(ev.end);
		assert_int_equal(ev.volume, 12);
		assert_int_equal(ev.duration, (k + 1) * 160);
	}
	te_tx_stop(&t);
	te_tx_packet(&t, ts, 160, &p);
	assert_int_equal(p.n, 3);
	assert_false(p.marker);
	assert_int_equal(p.ts, 0xfffffe00);
	assert_int_equal(te_decode(&ev, p.payload, 4), 0);
	assert_true(ev.end);
	assert_int_equal(ev.duration, 6 * 160);
	te_tx_packet(&t, ts + 160, 160, &p);
	assert_int_equal(p.n, 0);

	/* Longer than 16 bits of duration: a new segment, no marker. */
	te_tx_start(&t, 9, 0);
	ts = 1000;
	for (k = 0; k < 410; k++, ts += 160) {
		te_tx_packet(&t, ts, 160, &p);
		assert_int_equal(te_decode(&ev, p.payload, 4), 0);
		if (k < 409) {
			assert_int_equal(p.ts, 1000);
			assert_int_equal(ev.duration, (k + 1) * 160);
		}
	}
	assert_false(p.marker);
	assert_int_equal(p.ts, 1000 + 409 * 160);
	assert_int_equal(ev.duration, 160);
}

/* Feed @p n packets (ts, event, end, duration) and collect the actions
 * as a string: S<d> start, E<d> end (U updates are left out). */
struct te_in {
	uint32_t ts;
	uint8_t event;
	bool end;
	uint16_t dur;
};

static void te_run(struct te_rx *r, const struct te_in *in, size_t n,
		   char *out, size_t size, uint32_t *last_dur)
{
	struct te_act act[3];
	size_t i, len = strlen(out);
	unsigned k, na;

	for (i = 0; i < n; i++) {
		struct te_event ev = {.event = in[i].event, .end = in[i].end,
				      .duration = in[i].dur};

		na = te_rx_packet(r, in[i].ts, &ev, act);
		assert_true(na <= 3);
		for (k = 0; k < na; k++) {
			if (act[k].type == TE_ACT_UPDATE)
				continue;
			assert_true(len + 3 < size);
			out[len++] = act[k].type == TE_ACT_START ? 'S' : 'E';
			out[len++] = te_digit(act[k].event);
			out[len] = '\0';
			if (act[k].type == TE_ACT_END && last_dur)
				*last_dur = act[k].duration;
		}
	}
}

static void test_te_rx_providers(void **state)
{
	static const struct te_in normal[] = {
		{8000, 4, false, 160}, {8000, 4, false, 320},
		{8000, 4, false, 480}, {8000, 4, true, 640},
		{8000, 4, true, 640}, {8000, 4, true, 640},
	};
	/* Five repeated ends, no marker (the marker is not even an
	 * input), then the same digit again at a new timestamp. */
	static const struct te_in repeats[] = {
		{9000, 5, false, 160}, {9000, 5, false, 320},
		{9000, 5, true, 400}, {9000, 5, true, 400},
		{9000, 5, true, 400}, {9000, 5, true, 400},
		{9000, 5, true, 400},
		{10000, 5, false, 160}, {10000, 5, true, 320},
		{10000, 5, true, 320}, {10000, 5, true, 320},
	};
	/* End lost: the next digit's first packet ends it. */
	static const struct te_in lost_end[] = {
		{20000, 6, false, 160}, {20000, 6, false, 480},
		{21000, 7, false, 160}, {21000, 7, true, 480},
	};
	/* Only the end packets arrived; then a late update of it. */
	static const struct te_in only_end[] = {
		{30000, 11, true, 800}, {30000, 11, true, 800},
		{30000, 11, false, 320},
	};
	/* A late packet of the previous digit after the next began. */
	static const struct te_in late[] = {
		{40000, 1, false, 160}, {40000, 1, true, 640},
		{41000, 2, false, 160}, {40000, 1, true, 640},
		{41000, 2, true, 480},
	};
	/* Across the timestamp wrap, and a non-DTMF event (16, flash). */
	static const struct te_in wrap[] = {
		{0xffffff00, 3, false, 160}, {0xffffff00, 3, true, 480},
		{0x00000200, 16, false, 160},
		{0x00000400, 0, false, 160}, {0x00000400, 0, true, 320},
	};
	struct te_rx r;
	char out[64];
	uint32_t dur = 0;

	(void)state;
	te_rx_reset(&r);
	out[0] = '\0';
	te_run(&r, normal, TG_ARRAY_SIZE(normal), out, sizeof(out), &dur);
	assert_string_equal(out, "S4E4");
	assert_int_equal(dur, 640);

	out[0] = '\0';
	te_run(&r, repeats, TG_ARRAY_SIZE(repeats), out, sizeof(out), &dur);
	assert_string_equal(out, "S5E5S5E5");
	assert_int_equal(dur, 320);

	out[0] = '\0';
	te_run(&r, lost_end, TG_ARRAY_SIZE(lost_end), out, sizeof(out), NULL);
	assert_string_equal(out, "S6E6S7E7");

	out[0] = '\0';
	te_run(&r, only_end, TG_ARRAY_SIZE(only_end), out, sizeof(out), &dur);
	assert_string_equal(out, "S#E#");
	assert_int_equal(dur, 800);

	out[0] = '\0';
	te_run(&r, late, TG_ARRAY_SIZE(late), out, sizeof(out), NULL);
	assert_string_equal(out, "S1E1S2E2");

	te_rx_reset(&r); /* a stream of its own: 0xffffff00 is "before" */
	out[0] = '\0';
	te_run(&r, wrap, TG_ARRAY_SIZE(wrap), out, sizeof(out), NULL);
	assert_string_equal(out, "S3E3S0E0");
}

static void test_te_rx_timeout(void **state)
{
	static const struct te_in start[] = {
		{5000, 8, false, 160}, {5000, 8, false, 320},
	};
	struct te_act act;
	struct te_rx r;
	char out[16] = "";
	unsigned k;

	(void)state;
	te_rx_reset(&r);
	assert_int_equal(te_rx_tick(&r, 160, &act), 0);
	te_run(&r, start, TG_ARRAY_SIZE(start), out, sizeof(out), NULL);
	assert_string_equal(out, "S8");
	for (k = 0; k < TE_RX_TIMEOUT / 160 - 1; k++)
		assert_int_equal(te_rx_tick(&r, 160, &act), 0);
	assert_int_equal(te_rx_tick(&r, 160, &act), 1);
	assert_int_equal(act.type, TE_ACT_END);
	assert_int_equal(act.event, 8);
	assert_int_equal(act.duration, 320);
	/* Its end packets arriving after all change nothing. */
	out[0] = '\0';
	te_run(&r, (const struct te_in[]){{5000, 8, true, 800}}, 1, out,
	       sizeof(out), NULL);
	assert_string_equal(out, "");
	assert_int_equal(te_rx_tick(&r, 160, &act), 0);
}

/* ---- DTMF on a bridge ------------------------------------------------------ */

#define TE_PT 101

static void tweak_dtmf(struct media_bridge_params *prm, unsigned mode)
{
	prm->dtmf = (enum media_dtmf)mode;
	prm->te_tx_pt = TE_PT;
	prm->te_rx_pt = TE_PT;
}

static void fx_open_dtmf(struct fx *f, enum media_dtmf mode)
{
	fx_open_with(f, 1, MEDIA_PCMU, MEDIA_PCMU, 20, tweak_dtmf,
		     (unsigned)mode);
}

struct digits {
	char s[32];
};

static void on_digits(void *arg, const char *d, int len)
{
	struct digits *ds = arg;
	size_t n = strlen(ds->s);

	if (n + (size_t)len < sizeof(ds->s)) {
		memcpy(ds->s + n, d, (size_t)len);
		ds->s[n + (size_t)len] = '\0';
	}
}

/* What a SpanDSP receiver hears in @p n mu-law octets. */
static void detect(const uint8_t *x, size_t n, struct digits *ds)
{
	dtmf_rx_state_t *rx = dtmf_rx_init(NULL, on_digits, ds);
	int16_t pcm[SLOT];
	size_t i, k;

	for (i = 0; i + SLOT <= n; i += SLOT) {
		for (k = 0; k < SLOT; k++)
			pcm[k] = media_g711_decode(MEDIA_PCMU, x[i + k]);
		dtmf_rx(rx, pcm, SLOT);
	}
	dtmf_rx_free(rx);
}

#define DT_FRAMES 60

/* PSTN in-band "1#" (SpanDSP's generator, 100 ms on / 100 ms off) ->
 * exactly two RFC 4733 events, each with the marker on its first packet,
 * one timestamp, growing durations and three ends; sequence numbers go
 * on from the audio; the audio carries no detectable digit.  The tones
 * start @p offset samples into a frame: without the detector's frame of
 * look-ahead, 60 and 120 leave enough of '#' in the audio for a
 * receiver to hear it. */
static void run_pstn_to_events(unsigned offset)
{
	static uint8_t audio[DT_FRAMES * SLOT];
	static struct fx f;
	uint8_t frame[FRAME_LEN], pkt[2048];
	dtmf_tx_state_t *gen = dtmf_tx_init(NULL);
	struct digits heard = {""};
	struct te_event ev = {0};
	struct rtp_hdr h;
	const uint8_t *pl;
	size_t n, alen = 0;
	unsigned k, npkt = 0, ends = 0, starts = 0, events = 0;
	uint16_t last_seq = 0;
	uint32_t ev_ts = 0, last_dur = 0, audio_ts = 0;
	char seen[8] = "";
	int16_t pcm[SLOT];
	ssize_t len;

	memset(audio, 0, sizeof(audio));
	fx_open_dtmf(&f, MEDIA_DTMF_RFC4733);
	dtmf_tx_set_timing(gen, 100, 100);
	dtmf_tx_put(gen, "1#", -1);
	frame_silence(frame, MEDIA_PCMU);
	for (k = 0; k < DT_FRAMES; k++) {
		int m = k ? 0 : (int)offset;

		memset(pcm, 0, sizeof(pcm));
		m += dtmf_tx(gen, pcm + m, SLOT - m);
		while (m < SLOT)
			pcm[m++] = 0;
		encode(MEDIA_PCMU, frame + (CHAN - 1) * SLOT, pcm, SLOT);
		assert_true(line_step(&f.line, k, frame, NULL));
		while ((len = far_recv(f.far, pkt, sizeof(pkt), 5)) > 0) {
			assert_int_equal(rtp_decode(&h, &pl, &n, pkt,
						    (size_t)len), 0);
			if (npkt++)
				assert_int_equal(h.seq,
						 (uint16_t)(last_seq + 1));
			last_seq = h.seq;
			if (h.pt == 0) {
				assert_int_equal(n, SLOT);
				assert_false(ev_ts && !ends);
				assert_true(alen + SLOT <= sizeof(audio));
				memcpy(audio + alen, pl, n);
				alen += n;
				audio_ts = h.ts;
				continue;
			}
			assert_int_equal(h.pt, TE_PT);
			assert_int_equal(te_decode(&ev, pl, n), 0);
			events++;
			if (h.marker) {
				/* A new event, on the audio's timeline. */
				assert_true(ends == 0 || ends == 3);
				assert_int_equal(h.ts, audio_ts + SLOT);
				starts++;
				ends = 0;
				ev_ts = h.ts;
				last_dur = 0;
				seen[strlen(seen)] = te_digit(ev.event);
			}
			assert_int_equal(h.ts, ev_ts);
			assert_true(ev.duration >= last_dur);
			last_dur = ev.duration;
			if (ev.end)
				ends++;
			else
				assert_int_equal(ends, 0);
			/* The audio stands in silence under the event (one
			 * frame per packet; the end copies are one). */
			if (ends <= 1) {
				assert_true(alen + SLOT <= sizeof(audio));
				memset(audio + alen, 0xff, SLOT);
				alen += SLOT;
			}
			if (ends == 3)
				audio_ts = ev_ts + last_dur - SLOT;
		}
		if (ev.end && ends == 3 && last_dur) {
			/* 100 ms of tone, +-40 ms for the detector. */
			assert_in_range(last_dur, 60 * 8, 140 * 8);
			last_dur = 0;
		}
	}
	assert_string_equal(seen, "1#");
	assert_int_equal(starts, 2);
	assert_int_equal(ends, 3);
	detect(audio, alen, &heard);
	assert_string_equal(heard.s, "");
	dtmf_tx_free(gen);
	fx_stop(&f);
	assert_int_equal(done_rec.st.dtmf_tx, 2);
	fx_close(&f);
}

static void test_dtmf_pstn_to_events(void **state)
{
	(void)state;
	run_pstn_to_events(0);
	run_pstn_to_events(60);
	run_pstn_to_events(120);
}

/* One event as a provider sends it. */
struct far_ev {
	uint8_t event;
	unsigned frames;        /* updates, one per 20 ms */
	unsigned ends;          /* end packets (0: all lost) */
	bool marker;
};

/* SIP events "4567" (normal; no marker and five ends; end lost; normal)
 * -> the B-channel carries exactly 4567 in-band, each tone about as long
 * as signalled. */
/* One line frame; what the timeslot answered is appended to @p heard;
 * what the bridge sent the far end is dropped. */
static size_t step_heard(struct fx *f, uint32_t k, const uint8_t *frame,
			 uint8_t *heard, size_t hlen)
{
	uint8_t answer[FRAME_LEN], pkt[2048];

	assert_true(line_step(&f->line, k, frame, answer));
	memcpy(heard + hlen, answer + (CHAN - 1) * SLOT, SLOT);
	while (far_recv(f->far, pkt, sizeof(pkt), 0) > 0)
		;
	return hlen + SLOT;
}

static void test_dtmf_events_to_pstn(void **state)
{
	static const struct far_ev evs[] = {
		{4, 5, 3, true}, {5, 5, 5, false}, {6, 5, 0, true},
		{7, 5, 3, false},
	};
	static uint8_t heard[100 * SLOT];
	static struct fx f;
	uint8_t frame[FRAME_LEN], pl[SLOT];
	struct digits ds = {""};
	unsigned k = 0, i, j, tone_frames = 0;
	size_t hlen = 0;

	(void)state;
	fx_open_dtmf(&f, MEDIA_DTMF_RFC4733);
	frame_silence(frame, MEDIA_PCMU);
	memset(pl, 0xff, sizeof(pl));
	for (i = 0; i < TG_ARRAY_SIZE(evs); i++) {
		uint32_t ts = f.far_ts;

		/* 120 ms of audio between digits (and before the first). */
		for (j = 0; j < 6; j++, k++) {
			far_next(&f, 0, pl, SLOT);
			hlen = step_heard(&f, k, frame, heard, hlen);
		}
		ts = f.far_ts;
		for (j = 0; j < evs[i].frames + evs[i].ends; j++, k++) {
			struct te_event ev = {
				.event = evs[i].event, .volume = 10,
				.end = j >= evs[i].frames,
				.duration = (uint16_t)((j < evs[i].frames ?
							j + 1 :
							evs[i].frames) * SLOT),
			};
			uint8_t te[4];

			te_encode(te, &ev);
			far_send(&f, f.far, TE_PT | (evs[i].marker && !j ?
						     0x80 : 0),
				 f.far_seq++, ts, te, 4);
			f.far_ts += j < evs[i].frames ? SLOT : 0;
			hlen = step_heard(&f, k, frame, heard, hlen);
		}
	}
	/* Time for the last tone and the lost end's timeout. */
	for (j = 0; j < 12; j++, k++) {
		far_next(&f, 0, pl, SLOT);
		hlen = step_heard(&f, k, frame, heard, hlen);
	}
	assert_true(hlen <= sizeof(heard));
	detect(heard, hlen, &ds);
	assert_string_equal(ds.s, "4567");
	/* Four tones of 100 ms (the lost end's a little longer). */
	for (i = 0; i < hlen; i += SLOT)
		if (!all_equal(heard + i, SLOT, 0xff))
			tone_frames++;
	assert_in_range(tone_frames, 4 * 5, 4 * 5 + 8);
	fx_stop(&f);
	assert_int_equal(done_rec.st.dtmf_rx, 4);
	fx_close(&f);
}

/* A later SDP without telephone-event, mid-digit: the event ends at
 * once (three ends, no gap in seq), and the rest goes as audio. */
static void test_dtmf_mode_change(void **state)
{
	static struct fx f;
	uint8_t frame[FRAME_LEN], pkt[2048];
	dtmf_tx_state_t *gen = dtmf_tx_init(NULL);
	struct media_bridge_params prm;
	struct te_event ev;
	struct rtp_hdr h;
	const uint8_t *pl;
	size_t n;
	unsigned k, ends = 0, events = 0, audio_after = 0, npkt = 0;
	uint16_t last_seq = 0;
	bool changed = false;
	int16_t pcm[SLOT];
	ssize_t len;

	(void)state;
	fx_open_dtmf(&f, MEDIA_DTMF_RFC4733);
	dtmf_tx_set_timing(gen, 400, 100);
	dtmf_tx_put(gen, "7", -1);
	frame_silence(frame, MEDIA_PCMU);
	for (k = 0; k < 30; k++) {
		int m = dtmf_tx(gen, pcm, SLOT);

		while (m < SLOT)
			pcm[m++] = 0;
		encode(MEDIA_PCMU, frame + (CHAN - 1) * SLOT, pcm, SLOT);
		if (k == 10) {
			/* 200 ms into the tone: events go away. */
			params(&prm, CHAN, &f.far_addr, MEDIA_PCMU, 20);
			assert_int_equal(media_bridge_update(f.me, f.id, &prm),
					 0);
			changed = true;
		}
		assert_true(line_step(&f.line, k, frame, NULL));
		while ((len = far_recv(f.far, pkt, sizeof(pkt), 5)) > 0) {
			assert_int_equal(rtp_decode(&h, &pl, &n, pkt,
						    (size_t)len), 0);
			if (npkt++)
				assert_int_equal(h.seq,
						 (uint16_t)(last_seq + 1));
			last_seq = h.seq;
			if (h.pt == 0) {
				if (changed && ends)
					audio_after++;
				continue;
			}
			assert_int_equal(h.pt, TE_PT);
			assert_int_equal(te_decode(&ev, pl, n), 0);
			assert_int_equal(ev.event, 7);
			events++;
			if (ev.end) {
				assert_true(changed);
				assert_in_range(ev.duration, 120 * 8,
						200 * 8);
				ends++;
			}
		}
	}
	assert_int_equal(ends, 3);
	assert_true(events > 3);
	assert_true(audio_after >= 18);
	dtmf_tx_free(gen);
	fx_close(&f);
}

struct reported {
	uint32_t id;
	char digits[8];
	unsigned ms;
};

static void on_dtmf(void *arg, uint32_t id, char digit, unsigned ms)
{
	struct reported *r = arg;
	size_t n = strlen(r->digits);

	r->id = id;
	if (n + 1 < sizeof(r->digits))
		r->digits[n] = digit;
	r->ms = ms;
}

/* dtmf=info: a detected digit is muted and reported once with its
 * length; media_bridge_dtmf plays one. */
static void test_dtmf_report_mode(void **state)
{
	static uint8_t audio[40 * SLOT], heard[40 * SLOT];
	static struct fx f;
	uint8_t frame[FRAME_LEN], answer[FRAME_LEN], pkt[2048];
	dtmf_tx_state_t *gen = dtmf_tx_init(NULL);
	struct digits in_audio = {""}, played = {""};
	struct reported rep = {0, "", 0};
	struct rtp_hdr h;
	const uint8_t *pl;
	size_t n, alen = 0, hlen = 0;
	int16_t pcm[SLOT];
	unsigned k;
	ssize_t len;

	(void)state;
	fx_open_dtmf(&f, MEDIA_DTMF_REPORT);
	media_engine_set_dtmf_handler(f.me, on_dtmf, &rep);
	dtmf_tx_set_timing(gen, 120, 100);
	dtmf_tx_put(gen, "9", -1);
	assert_int_equal(media_bridge_dtmf(f.me, f.id, '3', 120), 0);
	assert_int_equal(media_bridge_dtmf(f.me, f.id, 'x', 120), EINVAL);
	assert_int_equal(media_bridge_dtmf(f.me, f.id + 1, '3', 120), ENOENT);
	frame_silence(frame, MEDIA_PCMU);
	for (k = 0; k < 40; k++) {
		int m = dtmf_tx(gen, pcm, SLOT);

		while (m < SLOT)
			pcm[m++] = 0;
		encode(MEDIA_PCMU, frame + (CHAN - 1) * SLOT, pcm, SLOT);
		assert_true(line_step(&f.line, k, frame, answer));
		memcpy(heard + hlen, answer + (CHAN - 1) * SLOT, SLOT);
		hlen += SLOT;
		while ((len = far_recv(f.far, pkt, sizeof(pkt), 5)) > 0) {
			assert_int_equal(rtp_decode(&h, &pl, &n, pkt,
						    (size_t)len), 0);
			assert_int_equal(h.pt, 0);
			memcpy(audio + alen, pl, n);
			alen += n;
		}
	}
	assert_true(readable(media_engine_fd(f.me), 500));
	media_engine_poll(f.me);
	assert_string_equal(rep.digits, "9");
	assert_int_equal(rep.id, f.id);
	assert_in_range(rep.ms, 80, 160);
	detect(audio, alen, &in_audio);
	assert_string_equal(in_audio.s, "");
	detect(heard, hlen, &played);
	assert_string_equal(played.s, "3");
	dtmf_tx_free(gen);
	fx_close(&f);
}

/* ---- echo canceller on a bridge ------------------------------------------ */

#define EC_FRAMES 500           /* 10 s */
#define EC_MEASURE 150          /* the last 3 s */
#define EC_DELAY 240            /* 30 ms: the hybrid's bulk delay */

/* The line's echo path: a few taps about 9 dB down in all. */
static const struct {
	unsigned delay;
	double gain;
} ec_path[] = {
	{EC_DELAY, 0.30}, {EC_DELAY + 1, -0.15}, {EC_DELAY + 3, 0.08},
	{EC_DELAY + 10, 0.05},
};

/* A fixed buffer: the adaptive one time-scales when a loaded machine
 * delays packets, and a tone that shifts pitch is a moving target for
 * the canceller, which this test does not measure. */
static void tweak_ec(struct media_bridge_params *prm, unsigned tail_ms)
{
	prm->echo_tail_ms = tail_ms;
	prm->jb_min_ms = 40;
	prm->jb_fixed = true;
}

static void fx_open_ec(struct fx *f, unsigned tail_ms)
{
	fx_open_with(f, 1, MEDIA_PCMU, MEDIA_PCMU, 20, tweak_ec, tail_ms);
}

enum far_sig {
	FAR_NOISE,      /* speech-like: low-passed noise, ~-15 dBm0 */
	FAR_ANS,        /* 2100 Hz, phase reversed every 450 ms */
	FAR_2100,       /* 2100 Hz, no reversals */
};

static uint32_t ec_rng = 12345;

static void far_signal(enum far_sig sig, int16_t *pcm, unsigned k)
{
	static double lp;
	unsigned i;

	for (i = 0; i < SLOT; i++) {
		size_t t = (size_t)k * SLOT + i;
		double v;

		if (sig == FAR_NOISE) {
			ec_rng = ec_rng * 1103515245u + 12345u;
			v = ((double)(ec_rng >> 16 & 0x7fff) - 16384) / 16384;
			lp = 0.6 * lp + 0.4 * v;
			v = lp * 9000;
		} else {
			/* -12 dBm0, 2 Hz off nominal as a real modem may
			 * be, reversed every 450 ms for FAR_ANS. */
			v = 4000 * sin(2 * M_PI * 2102.0 * (double)t / 8000);
			if (sig == FAR_ANS && (t / 3600) % 2)
				v = -v;
		}
		pcm[i] = (int16_t)v;
	}
}

/*
 * The far end sends @p sig over RTP; the line returns what the bridge
 * played to it through ec_path (answer frame k is played while frame
 * k + 1 is taken); the RTP that comes back is the echo left over.
 * @return the echo return loss enhancement over the last EC_MEASURE
 * frames, dB.
 */
static double run_echo(struct fx *f, enum far_sig sig)
{
	static int16_t played[(EC_FRAMES + 1) * SLOT];
	uint8_t frame[FRAME_LEN], answer[FRAME_LEN], pl[SLOT], pkt[2048];
	int16_t pcm[SLOT];
	double echo_e = 0, res_e = 0;
	unsigned k, i, j;

	memset(played, 0, sizeof(played));
	frame_silence(frame, MEDIA_PCMU);
	for (k = 0; k < EC_FRAMES; k++) {
		ssize_t len;

		far_signal(sig, pcm, k);
		encode(MEDIA_PCMU, pl, pcm, SLOT);
		far_next(f, MEDIA_PCMU, pl, SLOT);
		for (i = 0; i < SLOT; i++) {
			size_t t = (size_t)k * SLOT + i;
			double e = 0;

			for (j = 0; j < sizeof(ec_path) / sizeof(ec_path[0]);
			     j++)
				if (t >= ec_path[j].delay)
					e += ec_path[j].gain *
					     played[t - ec_path[j].delay];
			pcm[i] = (int16_t)e;
			if (k >= EC_FRAMES - EC_MEASURE)
				echo_e += e * e;
		}
		encode(MEDIA_PCMU, frame + (CHAN - 1) * SLOT, pcm, SLOT);
		assert_true(line_step(&f->line, k, frame, answer));
		for (i = 0; i < SLOT; i++)
			played[(size_t)(k + 1) * SLOT + i] = media_g711_decode(
				MEDIA_PCMU, answer[(CHAN - 1) * SLOT + i]);
		len = far_recv(f->far, pkt, sizeof(pkt), 300);
		assert_int_equal(len, RTP_HDR_LEN + SLOT);
		if (k >= EC_FRAMES - EC_MEASURE)
			for (i = 0; i < SLOT; i++) {
				double v = media_g711_decode(
					MEDIA_PCMU, pkt[RTP_HDR_LEN + i]);

				res_e += v * v;
			}
	}
	assert_true(echo_e > 1e6); /* there was an echo to cancel */
	return 10 * log10(echo_e / (res_e + 1));
}

static void test_echo_cancelled(void **state)
{
	static struct fx f;
	double erle;

	fx_open_ec(&f, 64);
	erle = run_echo(&f, FAR_NOISE);
	print_message("echo removed by %.1f dB\n", erle);
	assert_true(erle >= 30);
	fx_stop(&f);
	assert_false(done_rec.st.ec_disabled);
	fx_close(&f);

	/* Without a canceller the same path gives its echo back. */
	fx_open_ec(&f, 0);
	erle = run_echo(&f, FAR_NOISE);
	assert_true(erle < 3);
	fx_close(&f);
}

static void test_echo_answer_tone(void **state)
{
	static struct fx f;

	/* ANS with phase reversals (V.25, G.165 4): off for the rest of
	 * the call, the echo goes through. */
	fx_open_ec(&f, 64);
	assert_true(run_echo(&f, FAR_ANS) < 3);
	fx_stop(&f);
	assert_true(done_rec.st.ec_disabled);
	fx_close(&f);

	/* A plain 2100 Hz disables echo suppressors, not cancellers. */
	fx_open_ec(&f, 64);
	assert_true(run_echo(&f, FAR_2100) > 20);
	fx_stop(&f);
	assert_false(done_rec.st.ec_disabled);
	fx_close(&f);
}

static void test_echo_params(void **state)
{
	struct media_bridge_params prm;
	struct media_engine *me;
	struct media_rtp *rtp;
	struct sockaddr_in far;
	struct line l;
	uint32_t id;
	int fd;

	assert_int_equal(media_engine_alloc(&me, 1, on_done), 0);
	line_open(&l, MEDIA_PCMU);
	assert_int_equal(media_engine_add_span(me, 1, &l.io), 0);
	fd = udp_open(&far);
	assert_int_equal(media_rtp_alloc(&rtp, me, "127.0.0.1", PORT_MIN,
					 PORT_MAX), 0);
	params(&prm, CHAN, &far, MEDIA_PCMU, 20);
	prm.echo_tail_ms = 16;
	assert_int_equal(media_bridge_start(me, &id, rtp, &prm, NULL), EINVAL);
	prm.echo_tail_ms = 256;
	assert_int_equal(media_bridge_start(me, &id, rtp, &prm, NULL), EINVAL);
	prm.echo_tail_ms = 128;
	assert_int_equal(media_bridge_start(me, &id, rtp, &prm, NULL), 0);
	media_engine_free(me);
	line_close(&l);
	close(fd);
}

/* ---- fax: tone detection and T.38 on a bridge ------------------------- */

/* A fax call between a SpanDSP fax terminal on the test line's timeslot
 * and a SpanDSP T.38 terminal at the far socket, with our UDPTL. */
struct faxcall {
	struct fx *f;
	fax_state_t *fax;
	t38_terminal_state_t *term;
	struct udptl_tx tx;
	struct udptl_rx rx;
	bool done_fax, done_term;
	int code_fax, code_term;
	unsigned tones;
	enum media_fax_tone tone;
	bool tone_from_tdm;
};

static int fc_tx(t38_core_state_t *core, void *arg, const uint8_t *buf,
		 int len, int count)
{
	struct faxcall *c = arg;
	uint8_t dg[UDPTL_DGRAM_MAX];
	size_t dlen;

	(void)core;
	if (udptl_tx_frame(&c->tx, dg, &dlen, buf, (size_t)len))
		return -1;
	while (count-- > 0)
		assert_int_equal(sendto(c->f->far, dg, dlen, 0,
					(struct sockaddr *)&c->f->rtp_addr,
					sizeof(c->f->rtp_addr)), dlen);
	return 0;
}

static void fc_ifp(const uint8_t *ifp, size_t len, uint16_t seq,
		   bool recovered, void *arg)
{
	struct faxcall *c = arg;

	(void)recovered;
	t38_core_rx_ifp_packet(t38_terminal_get_t38_core_state(c->term), ifp,
			       (int)len, seq);
}

static void fc_phase_e_fax(t30_state_t *t, void *arg, int code)
{
	struct faxcall *c = arg;

	(void)t;
	c->done_fax = true;
	c->code_fax = code;
}

static void fc_phase_e_term(t30_state_t *t, void *arg, int code)
{
	struct faxcall *c = arg;

	(void)t;
	c->done_term = true;
	c->code_term = code;
}

static void fc_tone(void *arg, uint32_t id, enum media_fax_tone tone,
		    bool from_tdm)
{
	struct faxcall *c = arg;

	assert_int_equal(id, c->f->id);
	c->tones++;
	c->tone = tone;
	c->tone_from_tdm = from_tdm;
}

static void tweak_fax(struct media_bridge_params *prm, unsigned arg)
{
	(void)arg;
	prm->fax_detect = true;
}

static void t38_params(struct media_bridge_params *prm, const struct fx *f)
{
	params(prm, CHAN, &f->far_addr, MEDIA_PCMA, 20);
	prm->t38.on = true;
	prm->t38.max_bitrate = 14400;
	prm->t38.transferred_tcf = true;
	prm->t38.redundancy = 3;
	prm->t38.max_datagram = 400;
}

/*
 * A fax on the timeslot calls, the bridge hears its CNG and says so; the
 * test moves the bridge to T.38, as the gateway does after its re-INVITE,
 * and the page reaches the T.38 terminal.  Half-way, an update with the
 * same T.38 session (a session refresh) must not disturb it.
 */
static void test_bridge_fax_t38(void **state)
{
	static struct fx f;
	struct media_bridge_params prm;
	struct faxcall c;
	char dir[] = "/tmp/test_media_fax.XXXXXX", txf[64], rxf[64];
	uint8_t frame[FRAME_LEN], answer[FRAME_LEN], dg[2048];
	int16_t a[SLOT];
	unsigned step, i, t38_at = 0;
	ssize_t n;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(txf, sizeof(txf), "%s/page.tif", dir);
	snprintf(rxf, sizeof(rxf), "%s/rx.tif", dir);
	assert_int_equal(faxpage_write(txf), 0);
	fx_open_with(&f, 1, MEDIA_PCMA, MEDIA_PCMA, 20, tweak_fax, 0);
	memset(&c, 0, sizeof(c));
	c.f = &f;
	media_engine_set_fax_handler(f.me, fc_tone, &c);
	udptl_tx_init(&c.tx, 3, 400);
	udptl_rx_init(&c.rx);
	c.fax = fax_init(NULL, 1);
	c.term = t38_terminal_init(NULL, 0, fc_tx, &c);
	assert_non_null(c.fax);
	assert_non_null(c.term);
	fax_set_transmit_on_idle(c.fax, 1);
	t30_set_tx_file(fax_get_t30_state(c.fax), txf, -1, -1);
	t30_set_rx_file(t38_terminal_get_t30_state(c.term), rxf, -1);
	t30_set_phase_e_handler(fax_get_t30_state(c.fax), fc_phase_e_fax, &c);
	t30_set_phase_e_handler(t38_terminal_get_t30_state(c.term),
				fc_phase_e_term, &c);
	for (step = 0; step < 120 * 50 && !(c.done_fax && c.done_term);
	     step++) {
		frame_silence(frame, MEDIA_PCMA);
		n = fax_tx(c.fax, a, SLOT);
		for (i = (unsigned)(n < 0 ? 0 : n); i < SLOT; i++)
			a[i] = 0;
		encode(MEDIA_PCMA, frame + (CHAN - 1) * SLOT, a, SLOT);
		assert_true(line_step(&f.line, step, frame, answer));
		for (i = 0; i < SLOT; i++)
			a[i] = media_g711_decode(MEDIA_PCMA,
						 answer[(CHAN - 1) * SLOT + i]);
		fax_rx(c.fax, a, SLOT);
		if (readable(media_engine_fd(f.me), 0))
			media_engine_poll(f.me);
		if (c.tones && !t38_at) {
			t38_params(&prm, &f);
			assert_int_equal(media_bridge_update(f.me, f.id, &prm),
					 0);
			t38_at = step;
		}
		if (t38_at && step == t38_at + 400) {
			/* A refresh: the same session again. */
			t38_params(&prm, &f);
			prm.t38.redundancy = 2;
			assert_int_equal(media_bridge_update(f.me, f.id, &prm),
					 0);
		}
		/* The engine sends within the frame; what the terminal
		 * sends reaches it before the next. */
		while ((n = recv(f.far, dg, sizeof(dg), MSG_DONTWAIT)) > 0)
			if (t38_at)
				udptl_rx_datagram(&c.rx, dg, (size_t)n, fc_ifp,
						  &c);
		if (t38_at)
			t38_terminal_send_timeout(c.term, SLOT);
		msleep(1);
	}
	print_message("CNG after %u ms; fax done after %u s; %llu IFPs "
		      "in\n", t38_at * 20, step / 50,
		      (unsigned long long)c.rx.received);
	assert_int_equal(c.tones, 1);
	assert_int_equal(c.tone, MEDIA_FAX_CNG);
	assert_true(c.tone_from_tdm);
	assert_true(t38_at > 0 && t38_at < 100);
	assert_true(c.done_fax && c.done_term);
	assert_int_equal(c.code_fax, T30_ERR_OK);
	assert_int_equal(c.code_term, T30_ERR_OK);
	fx_stop(&f);
	assert_true(done_rec.st.udptl_tx > 50);
	assert_true(done_rec.st.udptl_rx > 20);
	assert_int_equal(done_rec.st.fax_pages, 1);
	assert_int_equal(done_rec.st.fax_bit_rate, 14400);
	fax_free(c.fax);
	t38_terminal_free(c.term);
	fx_close(&f);
	assert_int_equal(faxpage_check(rxf), 0);
	unlink(txf);
	unlink(rxf);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_g711_known),
		cmocka_unit_test(test_g711_roundtrip),
		cmocka_unit_test(test_rtp_decode),
		cmocka_unit_test(test_rtp_ports),
		cmocka_unit_test(test_te_payload),
		cmocka_unit_test(test_te_tx_packets),
		cmocka_unit_test(test_te_rx_providers),
		cmocka_unit_test(test_te_rx_timeout),
		T(test_dtmf_pstn_to_events),
		T(test_dtmf_events_to_pstn),
		T(test_dtmf_report_mode),
		T(test_dtmf_mode_change),
		T(test_echo_cancelled),
		T(test_echo_answer_tone),
		cmocka_unit_test(test_echo_params),
		cmocka_unit_test(test_srtp_roundtrip),
		T(test_srtp_bridge),
		T(test_rtcp_bridge),
		T(test_relay_srtp),
		T(test_relay_rtcp),
		T(test_tdm_to_rtp),
		T(test_rtp_to_tdm),
		T(test_alaw_span_ulaw_rtp),
		T(test_stop_reports_stats),
		T(test_reorder_plays_in_order),
		T(test_duplicates_dropped),
		T(test_burst_bounded_delay),
		T(test_loss_concealed),
		T(test_ptime_10_out_30_in),
		T(test_g722_ptime_30),
		T(test_g722_ptime_20),
		T(test_g729_ptime_40),
		T(test_g729_ptime_10),
		T(test_update_remote_and_law),
		T(test_channels_isolated),
		T(test_ignored_and_new_ssrc),
		T(test_remove_span),
		T(test_free_with_live_bridges),
		T(test_relay_convert),
		T(test_relay_timeline),
		T(test_relay_passthrough),
		T(test_relay_transcode),
		T(test_relay_same_codec),
		T(test_relay_te_map),
		T(test_relay_hold_until_remote),
		cmocka_unit_test(test_latch_rule),
		T(test_bridge_latch),
		T(test_bridge_latch_hijack),
		T(test_relay_latch),
		T(test_tdm_bridge),
		T(test_tdm_bridge_concurrent),
		T(test_bridge_fax_t38),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
