/* tests/bench/bench_media.c  Media engine CPU per TDM<->RTP call on loopback
 *
 * 4 spans x 23 bridged timeslots.  A child process plays the network: it
 * clocks a 20 ms frame (a tone in every timeslot) into each span over
 * SEQPACKET and echoes every RTP packet back to its sender.  The parent runs
 * only the engine, so its utime+stime over the window is the engine's cost
 * (on loopback the sender is also charged the receive-side kernel work).
 *
 *   bench_media [-t seconds] [-w workers] [-d] [-e tail_ms]
 *               [-c pcmu|g722|g729] [-p ptime]
 *
 * -d runs the bridges with DTMF on (RFC 4733: the detector hears every
 * frame, one frame of look-ahead); -e with the echo canceller on, with
 * that tail (32-128 ms); -s with SRTP (AES_CM_128_HMAC_SHA1_80, one key
 * both ways so that the echoed packets authenticate): every packet is
 * protected going out and unprotected coming back.  -c puts that codec on
 * the RTP side (the echoed packets are decoded again: one encode and one
 * decode per call-frame), -p packets of that many ms (10-60).
 *
 * With -r N it measures RTP <-> RTP relays instead: N relayed calls, the
 * child plays both far ends of each (one 20 ms packet each way per tick,
 * PCMU on side a and PCMA on side b, so every packet is converted; -u keeps
 * one law), and drains what the relays send.
 *
 *   bench_media -r calls [-u] [-c g722|g729] [-t seconds] [-w workers]
 *
 * -l (both modes) turns RTP latching on: the far ends send from the
 * addresses the streams go to, so each decides on its first packet and
 * only the check of a decided latch is left per packet.
 *
 * -c puts that codec on side b, so every packet is transcoded both ways
 * (side b's far end sends payloads of the codec's 20 ms size).
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "media/media.h"
#include "util/util.h"

#define NSPANS 4
#define NCHAN 23
#define NCALLS (NSPANS * NCHAN)
#define SLOT MEDIA_FRAME_SAMPLES
#define FRAME_LEN (NCHAN * SLOT)
#define MSG_LEN (4 + FRAME_LEN)
#define BATCH 32

struct line {
	int fd[2];
	uint8_t rx[MSG_LEN];
	atomic_ulong frames;
	struct media_tdm_io io;
};

static struct line lines[NSPANS];
static int echo_fd[NCALLS];
static struct sockaddr_in echo_addr[NCALLS];
static struct media_stats total;
static int ndone;

static bool latch_on;           /* -l */

/* relay mode */
#define MAX_RELAYS 400
static int nrelays;
static int rfar[MAX_RELAYS][2];            /* far ends of sides a, b */
static struct sockaddr_in rfar_addr[MAX_RELAYS][2];
static struct sockaddr_in rep_addr[MAX_RELAYS][2]; /* relay endpoints */
static unsigned long relay_got;             /* child: packets received */

static int line_recv(void *arg, const uint8_t **rx, uint32_t *seq)
{
	struct line *l = arg;
	ssize_t n = recv(l->fd[0], l->rx, sizeof(l->rx), MSG_DONTWAIT);

	if (n < 0)
		return errno == EWOULDBLOCK ? EAGAIN : errno;
	if (n != MSG_LEN)
		return EPIPE;
	memcpy(seq, l->rx, 4);
	*rx = l->rx + 4;
	atomic_fetch_add_explicit(&l->frames, 1, memory_order_relaxed);
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

static void on_done(void *cookie, const struct media_stats *st)
{
	total.rtp_tx += st->rtp_tx;
	total.rtp_rx += st->rtp_rx;
	total.rtp_lost += st->rtp_lost;
	total.rtp_late += st->rtp_late;
	total.tdm_frames += st->tdm_frames;
	total.underruns += st->underruns;
	total.rtp_bad += st->rtp_bad;
	total.rtp_held += st->rtp_held;
	total.srtp_auth_fail += st->srtp_auth_fail;
	total.srtp_replay += st->srtp_replay;
	ndone++;
}

/* ---- the network side (child process) ------------------------------------ */

static void echo_drain(int fd)
{
	static uint8_t buf[BATCH][512];
	struct sockaddr_in from[BATCH];
	struct mmsghdr m[BATCH];
	struct iovec iov[BATCH];
	int i, n;

	memset(m, 0, sizeof(m));
	for (i = 0; i < BATCH; i++) {
		iov[i].iov_base = buf[i];
		iov[i].iov_len = sizeof(buf[i]);
		m[i].msg_hdr.msg_iov = &iov[i];
		m[i].msg_hdr.msg_iovlen = 1;
		m[i].msg_hdr.msg_name = &from[i];
		m[i].msg_hdr.msg_namelen = sizeof(from[i]);
	}
	n = recvmmsg(fd, m, BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	for (i = 0; i < n; i++)
		iov[i].iov_len = m[i].msg_len;
	(void)sendmmsg(fd, m, (unsigned)n, MSG_DONTWAIT);
}

static void network_run(void)
{
	struct itimerspec its = {.it_interval = {0, 20000000},
				 .it_value = {0, 20000000}};
	struct epoll_event ev, evs[128];
	static uint8_t msg[MSG_LEN], ans[MSG_LEN];
	uint32_t seq = 0;
	int ep, tfd, i, n, s;

	/* Every timeslot carries a 1 kHz tone. */
	for (i = 0; i < SLOT; i++)
		msg[4 + i] = media_g711_encode(MEDIA_PCMU,
			(int16_t)(8000 * sin(2 * M_PI * i / 8.0)));
	for (s = 1; s < NCHAN; s++)
		memcpy(msg + 4 + s * SLOT, msg + 4, SLOT);

	ep = epoll_create1(0);
	tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	timerfd_settime(tfd, 0, &its, NULL);
	ev.events = EPOLLIN;
	ev.data.u32 = 1u << 30;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	for (s = 0; s < NSPANS; s++) {
		ev.data.u32 = (1u << 29) | (unsigned)s;
		epoll_ctl(ep, EPOLL_CTL_ADD, lines[s].fd[1], &ev);
	}
	for (i = 0; i < NCALLS; i++) {
		ev.data.u32 = (unsigned)i;
		epoll_ctl(ep, EPOLL_CTL_ADD, echo_fd[i], &ev);
	}
	for (;;) {
		n = epoll_wait(ep, evs, 128, -1);
		for (i = 0; i < n; i++) {
			uint32_t u = evs[i].data.u32;

			if (u & (1u << 30)) {
				uint64_t ticks;

				if (read(tfd, &ticks, sizeof(ticks)) < 0)
					continue;
				for (; ticks; ticks--, seq++) {
					memcpy(msg, &seq, 4);
					for (s = 0; s < NSPANS; s++)
						(void)!send(lines[s].fd[1], msg,
							    MSG_LEN,
							    MSG_DONTWAIT);
				}
			} else if (u & (1u << 29)) {
				while (recv(lines[u & 0xff].fd[1], ans,
					    sizeof(ans), MSG_DONTWAIT) > 0)
					;
			} else {
				echo_drain(echo_fd[u]);
			}
		}
	}
}

/* ---- relay mode: both far ends of every call (child process) ---------- */

static enum media_law relay_b = MEDIA_PCMA; /* side b's codec */

static void relay_tick(uint32_t k, bool same_law)
{
	static uint8_t pkt[2][12 + SLOT];
	size_t len[2];
	int i, side;

	for (side = 0; side < 2; side++) {
		uint8_t law = side && !same_law ? relay_b : MEDIA_PCMU;
		uint8_t *p = pkt[side];

		p[0] = 0x80;
		p[1] = law;
		p[2] = (uint8_t)(k >> 8);
		p[3] = (uint8_t)k;
		p[4] = (uint8_t)((k * SLOT) >> 24);
		p[5] = (uint8_t)((k * SLOT) >> 16);
		p[6] = (uint8_t)((k * SLOT) >> 8);
		p[7] = (uint8_t)(k * SLOT);
		/* G.722/G.729 decode whatever octets they are given: the
		 * tone's G.711 octets stand in for coded audio. */
		for (i = 0; i < SLOT; i++)
			p[12 + i] = media_g711_encode(MEDIA_PCMU,
				(int16_t)(8000 * sin(2 * M_PI * i / 8.0)));
		if (law == MEDIA_PCMA)
			for (i = 0; i < SLOT; i++)
				p[12 + i] = media_ulaw_to_alaw(p[12 + i]);
		len[side] = 12 + (law == MEDIA_G729 ? 20 : SLOT);
	}
	for (i = 0; i < nrelays; i++) {
		for (side = 0; side < 2; side++) {
			uint8_t *p = pkt[side];

			p[8] = (uint8_t)(i >> 8);
			p[9] = (uint8_t)i;
			p[10] = (uint8_t)side;
			p[11] = 0x5a;
			(void)!sendto(rfar[i][side], p, len[side],
				      MSG_DONTWAIT,
				      (struct sockaddr *)&rep_addr[i][side],
				      sizeof(rep_addr[i][side]));
		}
	}
}

static void relay_network_run(bool same_law, int report_fd)
{
	struct itimerspec its = {.it_interval = {0, 20000000},
				 .it_value = {0, 20000000}};
	struct epoll_event ev, evs[128];
	static uint8_t buf[2048];
	uint32_t seq = 0;
	int ep, tfd, i, n;

	ep = epoll_create1(0);
	tfd = timerfd_create(CLOCK_MONOTONIC, 0);
	timerfd_settime(tfd, 0, &its, NULL);
	ev.events = EPOLLIN;
	ev.data.u32 = 1u << 30;
	epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev);
	ev.data.u32 = 1u << 29;
	epoll_ctl(ep, EPOLL_CTL_ADD, report_fd, &ev);
	for (i = 0; i < nrelays; i++) {
		ev.data.u32 = (unsigned)i * 2;
		epoll_ctl(ep, EPOLL_CTL_ADD, rfar[i][0], &ev);
		ev.data.u32 = (unsigned)i * 2 + 1;
		epoll_ctl(ep, EPOLL_CTL_ADD, rfar[i][1], &ev);
	}
	for (;;) {
		n = epoll_wait(ep, evs, 128, -1);
		for (i = 0; i < n; i++) {
			uint32_t u = evs[i].data.u32;

			if (u & (1u << 30)) {
				uint64_t ticks;

				if (read(tfd, &ticks, sizeof(ticks)) < 0)
					continue;
				for (; ticks; ticks--)
					relay_tick(seq++, same_law);
			} else if (u & (1u << 29)) {
				/* The parent asks how many arrived. */
				if (read(report_fd, buf, 1) <= 0)
					return;
				(void)!write(report_fd, &relay_got,
					     sizeof(relay_got));
			} else {
				while (recv(rfar[u / 2][u % 2], buf,
					    sizeof(buf), MSG_DONTWAIT) > 0)
					relay_got++;
			}
		}
	}
}

/* ---- the engine (parent) ------------------------------------------------ */

static double cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long frames_total(void)
{
	unsigned long n = 0;
	int s;

	for (s = 0; s < NSPANS; s++)
		n += atomic_load(&lines[s].frames);
	return n;
}

static unsigned long ask_child(int fd)
{
	unsigned long got = 0;

	if (write(fd, "?", 1) != 1 || read(fd, &got, sizeof(got)) < 0)
		return 0;
	return got;
}

static int relay_bench(double secs, unsigned workers, bool same_law)
{
	struct media_engine *me;
	static uint32_t ids[MAX_RELAYS];
	double c0, c1, t0, t1, cpu, pct, pkts;
	unsigned long g0, g1;
	int sv[2], i, side, err = 0;
	struct rusage cru;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		return 1;
	for (i = 0; i < nrelays; i++) {
		for (side = 0; side < 2; side++) {
			socklen_t len = sizeof(rfar_addr[i][side]);
			struct sockaddr_in *a = &rfar_addr[i][side];

			rfar[i][side] = socket(AF_INET, SOCK_DGRAM, 0);
			a->sin_family = AF_INET;
			a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			if (bind(rfar[i][side], (struct sockaddr *)a, len) <
				    0 ||
			    getsockname(rfar[i][side], (struct sockaddr *)a,
					&len) < 0)
				return 1;
		}
	}
	/* The engine's endpoints exist before the fork so that the child
	 * knows where to send. */
	err = media_engine_alloc(&me, workers, on_done);
	for (i = 0; !err && i < nrelays; i++) {
		struct media_relay_side sd[2];
		struct media_rtp *ep[2] = {NULL, NULL};

		for (side = 0; !err && side < 2; side++) {
			memset(&sd[side], 0, sizeof(sd[side]));
			memcpy(&sd[side].remote, &rfar_addr[i][side],
			       sizeof(rfar_addr[i][side]));
			sd[side].remote_len = sizeof(rfar_addr[i][side]);
			sd[side].law = side && !same_law ? relay_b
							 : MEDIA_PCMU;
			sd[side].ptime = 20;
			sd[side].latch = latch_on;
			err = media_rtp_alloc(&ep[side], me, "127.0.0.1",
					      20000, 29999);
			if (!err) {
				rep_addr[i][side] = (struct sockaddr_in){
					.sin_family = AF_INET,
					.sin_port = htons(
						media_rtp_port(ep[side])),
					.sin_addr.s_addr =
						htonl(INADDR_LOOPBACK)};
			}
		}
		if (!err)
			err = media_relay_start(me, &ids[i], ep[0], &sd[0],
						ep[1], &sd[1], NULL);
		if (err) {
			media_rtp_free(ep[0]);
			media_rtp_free(ep[1]);
		}
	}
	if (err) {
		fprintf(stderr, "setup: %s\n", strerror(err));
		return 1;
	}

	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		/* The child must not touch the engine's threads (gone in
		 * the fork) or sockets. */
		close(sv[0]);
		relay_network_run(same_law, sv[1]);
		_exit(0);
	}
	close(sv[1]);
	for (i = 0; i < nrelays; i++) {
		close(rfar[i][0]);
		close(rfar[i][1]);
	}

	usleep(1000000);
	t0 = mono();
	c0 = cpu_seconds();
	g0 = ask_child(sv[0]);
	usleep((useconds_t)(secs * 1e6));
	t1 = mono();
	c1 = cpu_seconds();
	g1 = ask_child(sv[0]);

	for (i = 0; i < nrelays; i++)
		media_bridge_stop(me, ids[i]);
	while (ndone < nrelays) {
		usleep(10000);
		media_engine_poll(me);
	}
	close(sv[0]);
	kill(pid, SIGTERM);
	wait4(pid, NULL, 0, &cru);
	media_engine_free(me);

	cpu = c1 - c0;
	pkts = (double)(g1 - g0);
	pct = cpu / (t1 - t0) / nrelays * 100.0;
	printf("relayed calls %d (%s), workers %u, window %.1f s\n",
	       nrelays, same_law ? "PCMU both sides" :
	       relay_b == MEDIA_G722 ? "PCMU <-> G.722, every packet transcoded" :
	       relay_b == MEDIA_G729 ? "PCMU <-> G.729, every packet transcoded" :
	       "PCMU <-> PCMA, every packet converted", workers, t1 - t0);
	printf("engine CPU %.3f s: %.4f%% of a core per relayed call "
	       "(%.2f us per relayed packet)\n", cpu, pct,
	       pkts > 0 ? cpu / pkts * 1e6 : 0.0);
	printf("packets relayed/s %.0f (expected %d)\n", pkts / (t1 - t0),
	       nrelays * 100);
	printf("rtp rx %llu tx %llu lost %llu late %llu bad %llu held %llu\n",
	       (unsigned long long)total.rtp_rx,
	       (unsigned long long)total.rtp_tx,
	       (unsigned long long)total.rtp_lost,
	       (unsigned long long)total.rtp_late,
	       (unsigned long long)total.rtp_bad,
	       (unsigned long long)total.rtp_held);
	printf("network side (child, whole run) CPU %.3f s\n",
	       (double)cru.ru_utime.tv_sec + cru.ru_utime.tv_usec / 1e6 +
	       (double)cru.ru_stime.tv_sec + cru.ru_stime.tv_usec / 1e6);
	return 0;
}

int main(int argc, char **argv)
{
	struct media_engine *me;
	uint32_t ids[NCALLS];
	double secs = 10, c0, c1, t0, t1, cpu, pct;
	unsigned workers = 2;
	bool same_law = false, dtmf = false, srtp = false;
	unsigned echo_tail = 0, ptime = 20;
	enum media_law codec = MEDIA_PCMU;
	unsigned long f0, f1;
	struct rusage cru;
	pid_t pid;
	int i, s, opt, status, err;

	while ((opt = getopt(argc, argv, "t:w:r:ude:slc:p:")) != -1) {
		if (opt == 't')
			secs = atof(optarg);
		else if (opt == 'w')
			workers = (unsigned)atoi(optarg);
		else if (opt == 'r')
			nrelays = atoi(optarg);
		else if (opt == 'u')
			same_law = true;
		else if (opt == 'd')
			dtmf = true;
		else if (opt == 'e')
			echo_tail = (unsigned)atoi(optarg);
		else if (opt == 's')
			srtp = true;
		else if (opt == 'l')
			latch_on = true;
		else if (opt == 'c')
			relay_b = codec = !strcmp(optarg, "g722") ? MEDIA_G722 :
				!strcmp(optarg, "g729") ? MEDIA_G729 :
				MEDIA_PCMU;
		else if (opt == 'p')
			ptime = (unsigned)atoi(optarg);
		else
			return 2;
	}
	if (nrelays < 0 || nrelays > MAX_RELAYS)
		return 2;
	if (nrelays)
		return relay_bench(secs, workers, same_law);

	for (s = 0; s < NSPANS; s++) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, lines[s].fd) < 0)
			return 1;
		lines[s].io = (struct media_tdm_io){
			.fd = lines[s].fd[0], .nchan = NCHAN,
			.law = MEDIA_PCMU, .arg = &lines[s],
			.recv = line_recv, .send = line_send};
	}
	for (i = 0; i < NCALLS; i++) {
		socklen_t len = sizeof(echo_addr[i]);

		echo_fd[i] = socket(AF_INET, SOCK_DGRAM, 0);
		echo_addr[i].sin_family = AF_INET;
		echo_addr[i].sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (bind(echo_fd[i], (struct sockaddr *)&echo_addr[i],
			 len) < 0 ||
		    getsockname(echo_fd[i], (struct sockaddr *)&echo_addr[i],
				&len) < 0)
			return 1;
	}

	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		for (s = 0; s < NSPANS; s++)
			close(lines[s].fd[0]);
		network_run();
		_exit(0);
	}
	for (s = 0; s < NSPANS; s++)
		close(lines[s].fd[1]);
	for (i = 0; i < NCALLS; i++)
		close(echo_fd[i]);

	err = media_engine_alloc(&me, workers, on_done);
	for (s = 0; !err && s < NSPANS; s++)
		err = media_engine_add_span(me, s + 1, &lines[s].io);
	for (i = 0; !err && i < NCALLS; i++) {
		struct media_bridge_params prm = {
			.span_id = i / NCHAN + 1, .chan = i % NCHAN + 1,
			.remote_len = sizeof(echo_addr[i]),
			.rtp_law = codec, .ptime = ptime,
			.dtmf = dtmf ? MEDIA_DTMF_RFC4733 : MEDIA_DTMF_INBAND,
			.te_tx_pt = 101, .te_rx_pt = 101,
			.echo_tail_ms = echo_tail, .latch = latch_on};
		struct media_rtp *rtp;

		memcpy(&prm.remote, &echo_addr[i], sizeof(echo_addr[i]));
		if (srtp) {
			prm.srtp.suite = MEDIA_SRTP_AES_CM_128_HMAC_SHA1_80;
			memset(prm.srtp.tx_key, 0x5a + i, MEDIA_SRTP_KEY_MAX);
			memcpy(prm.srtp.rx_key, prm.srtp.tx_key,
			       MEDIA_SRTP_KEY_MAX);
		}
		err = media_rtp_alloc(&rtp, me, "127.0.0.1", 20000, 29999);
		if (!err) {
			err = media_bridge_start(me, &ids[i], rtp, &prm, NULL);
			if (err)
				media_rtp_free(rtp);
		}
	}
	if (err) {
		fprintf(stderr, "setup: %s\n", strerror(err));
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return 1;
	}

	usleep(1000000); /* warm up: jitter buffers filled, caches hot */
	t0 = mono();
	c0 = cpu_seconds();
	f0 = frames_total();
	usleep((useconds_t)(secs * 1e6));
	t1 = mono();
	c1 = cpu_seconds();
	f1 = frames_total();

	for (i = 0; i < NCALLS; i++)
		media_bridge_stop(me, ids[i]);
	while (ndone < NCALLS) {
		usleep(10000);
		media_engine_poll(me);
	}
	for (s = 0; s < NSPANS; s++)
		media_engine_remove_span(me, s + 1);
	kill(pid, SIGTERM);
	wait4(pid, &status, 0, &cru);
	media_engine_free(me);

	cpu = c1 - c0;
	pct = cpu / (t1 - t0) / NCALLS * 100.0;
	printf("calls %d (%d spans x %d), workers %u, window %.1f s\n",
	       NCALLS, NSPANS, NCHAN, workers, t1 - t0);
	printf("engine CPU %.3f s: %.4f%% of a core per call "
	       "(%.1f us per call-frame)\n", cpu, pct,
	       cpu / ((double)(f1 - f0) * NCHAN) * 1e6);
	printf("frames/s %.1f (expected %d)\n", (f1 - f0) / (t1 - t0),
	       NSPANS * 50);
	printf("rtp tx %llu rx %llu lost %llu late %llu underruns %llu "
	       "srtp auth failed %llu replayed %llu\n",
	       (unsigned long long)total.rtp_tx,
	       (unsigned long long)total.rtp_rx,
	       (unsigned long long)total.rtp_lost,
	       (unsigned long long)total.rtp_late,
	       (unsigned long long)total.underruns,
	       (unsigned long long)total.srtp_auth_fail,
	       (unsigned long long)total.srtp_replay);
	printf("network side (child, whole run) CPU %.3f s\n",
	       (double)cru.ru_utime.tv_sec + cru.ru_utime.tv_usec / 1e6 +
	       (double)cru.ru_stime.tv_sec + cru.ru_stime.tv_usec / 1e6);
	return 0;
}
