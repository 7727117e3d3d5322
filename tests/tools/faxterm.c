/* tests/tools/faxterm.c  The SIP side's fax machine for fax.sh
 *
 *   faxterm --local IP:PORT --remote IP:PORT (--t38 | --g711)
 *           (--send FILE | --recv FILE) [--calling] [--timeout S]
 *
 * A SpanDSP T.38 terminal over UDPTL (our media/udptl.c framing, three
 * secondaries), or a SpanDSP audio fax terminal over plain PCMU RTP, on
 * one UDP socket.  The SIP signalling is fax_ua.py's; it starts us once
 * the session is agreed.  One line of JSON on stdout at the end; the
 * exit status is 0 only when T.30 ended well (phase E, T30_ERR_OK).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <tiffio.h> /* spandsp.h needs it first on Debian's 0.0.6 */
#include <spandsp.h>

#include "media/udptl.h"

#define FRAME 160
#define RTP_HDR 12

static struct {
	struct sockaddr_in local, remote;
	bool t38, calling, send;
	const char *file;
	int timeout_s;
} opt = { .timeout_s = 120 };

static int sock = -1;
static bool done;
static int result = -1, pages;
static struct udptl_tx utx;
static struct udptl_rx urx;
static t38_terminal_state_t *term;
static fax_state_t *fax;
static uint16_t rtp_seq;
static uint32_t rtp_ts, rtp_ssrc = 0x7a3c0001;
static unsigned long rtp_rx, rtp_tx;

static int parse_addr(struct sockaddr_in *sa, const char *s)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &sa->sin_addr) == 1 ? 0 : -1;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void send_dgram(const uint8_t *buf, size_t len)
{
	sendto(sock, buf, len, 0, (const struct sockaddr *)&opt.remote,
	       sizeof(opt.remote));
}

/* T.38: each IFP framed once, the copies t38_core asks for sent as the
 * same datagram (the gateway drops the ones it has). */
static int t38_tx(t38_core_state_t *s, void *arg, const uint8_t *buf,
		  int len, int count)
{
	uint8_t dg[UDPTL_DGRAM_MAX];
	size_t dlen;

	(void)s;
	(void)arg;
	if (udptl_tx_frame(&utx, dg, &dlen, buf, (size_t)len))
		return -1;
	while (count-- > 0)
		send_dgram(dg, dlen);
	return 0;
}

static void t38_ifp(const uint8_t *ifp, size_t len, uint16_t seq,
		    bool recovered, void *arg)
{
	(void)recovered;
	(void)arg;
	t38_core_rx_ifp_packet(t38_terminal_get_t38_core_state(term), ifp,
			       (int)len, seq);
}

static void phase_e(t30_state_t *t, void *arg, int code)
{
	t30_stats_t st;

	(void)arg;
	t30_get_transfer_statistics(t, &st);
	done = true;
	result = code;
	pages = opt.send ? st.pages_tx : st.pages_rx;
	fprintf(stderr, "faxterm: phase E: %s, %d page(s)\n",
		t30_completion_code_to_str(code), pages);
}

static void setup_t30(t30_state_t *t)
{
	t30_set_tx_ident(t, "faxterm");
	t30_set_ecm_capability(t, 1);
	t30_set_supported_modems(t, T30_SUPPORT_V27TER | T30_SUPPORT_V29 |
				 T30_SUPPORT_V17);
	t30_set_phase_e_handler(t, phase_e, NULL);
	if (opt.send)
		t30_set_tx_file(t, opt.file, -1, -1);
	else
		t30_set_rx_file(t, opt.file, -1);
}

/* G.711: one 20 ms PCMU packet of what the fax sends. */
static void g711_tick(void)
{
	uint8_t pkt[RTP_HDR + FRAME];
	int16_t pcm[FRAME];
	int n, i;

	n = fax_tx(fax, pcm, FRAME);
	for (i = 0; i < FRAME; i++)
		pkt[RTP_HDR + i] = linear_to_ulaw(i < n ? pcm[i] : 0);
	pkt[0] = 0x80;
	pkt[1] = 0; /* PCMU */
	pkt[2] = (uint8_t)(rtp_seq >> 8);
	pkt[3] = (uint8_t)rtp_seq;
	pkt[4] = (uint8_t)(rtp_ts >> 24);
	pkt[5] = (uint8_t)(rtp_ts >> 16);
	pkt[6] = (uint8_t)(rtp_ts >> 8);
	pkt[7] = (uint8_t)rtp_ts;
	pkt[8] = (uint8_t)(rtp_ssrc >> 24);
	pkt[9] = (uint8_t)(rtp_ssrc >> 16);
	pkt[10] = (uint8_t)(rtp_ssrc >> 8);
	pkt[11] = (uint8_t)rtp_ssrc;
	rtp_seq++;
	rtp_ts += FRAME;
	send_dgram(pkt, sizeof(pkt));
	rtp_tx++;
}

/* An RTP packet from the gateway: its PCMU payload into the fax.  On
 * loopback packets come in order; none is concealed. */
static void g711_rx(const uint8_t *buf, size_t len)
{
	int16_t pcm[1024];
	size_t off, i, n;

	if (len < RTP_HDR || (buf[0] & 0xc0) != 0x80 || (buf[1] & 0x7f))
		return;
	off = RTP_HDR + 4u * (buf[0] & 0x0f);
	if (off >= len)
		return;
	n = len - off > 1024 ? 1024 : len - off;
	for (i = 0; i < n; i++)
		pcm[i] = ulaw_to_linear(buf[off + i]);
	fax_rx(fax, pcm, (int)n);
	rtp_rx++;
}

static int usage(void)
{
	fprintf(stderr, "usage: faxterm --local IP:PORT --remote IP:PORT "
		"(--t38|--g711) (--send FILE|--recv FILE) [--calling] "
		"[--timeout S]\n");
	return 2;
}

static int parse(int argc, char **argv)
{
	static const struct option lo[] = {
		{"local", required_argument, NULL, 'l'},
		{"remote", required_argument, NULL, 'r'},
		{"t38", no_argument, NULL, 't'},
		{"g711", no_argument, NULL, 'g'},
		{"send", required_argument, NULL, 's'},
		{"recv", required_argument, NULL, 'v'},
		{"calling", no_argument, NULL, 'c'},
		{"timeout", required_argument, NULL, 'T'},
		{NULL, 0, NULL, 0},
	};
	bool have_l = false, have_r = false, mode = false;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'l':
			if (parse_addr(&opt.local, optarg))
				return usage();
			have_l = true;
			break;
		case 'r':
			if (parse_addr(&opt.remote, optarg))
				return usage();
			have_r = true;
			break;
		case 't':
		case 'g':
			opt.t38 = c == 't';
			mode = true;
			break;
		case 's':
		case 'v':
			opt.send = c == 's';
			opt.file = optarg;
			break;
		case 'c':
			opt.calling = true;
			break;
		case 'T':
			opt.timeout_s = atoi(optarg);
			break;
		default:
			return usage();
		}
	}
	return have_l && have_r && mode && opt.file ? 0 : usage();
}

int main(int argc, char **argv)
{
	uint8_t buf[2048];
	int64_t next, end, linger = 0;
	ssize_t n;

	if (parse(argc, argv))
		return 2;
	sock = socket(AF_INET, SOCK_DGRAM, 0);
	if (sock < 0 || bind(sock, (struct sockaddr *)&opt.local,
			     sizeof(opt.local))) {
		perror("faxterm: bind");
		return 2;
	}
	if (opt.t38) {
		udptl_tx_init(&utx, 3, 400);
		udptl_rx_init(&urx);
		term = t38_terminal_init(NULL, opt.calling, t38_tx, NULL);
		if (!term)
			return 2;
		setup_t30(t38_terminal_get_t30_state(term));
	} else {
		fax = fax_init(NULL, opt.calling);
		if (!fax)
			return 2;
		fax_set_transmit_on_idle(fax, 1);
		setup_t30(fax_get_t30_state(fax));
	}
	next = now_ms();
	end = next + (int64_t)opt.timeout_s * 1000;
	/* After phase E a second more: the last frames and datagrams (the
	 * answer to DCN) still go out. */
	while (now_ms() < end && (!done || now_ms() < linger)) {
		struct pollfd p = { .fd = sock, .events = POLLIN };
		int64_t wait = next - now_ms();

		if (poll(&p, 1, wait > 0 ? (int)wait : 0) > 0) {
			while ((n = recv(sock, buf, sizeof(buf),
					 MSG_DONTWAIT)) > 0) {
				if (opt.t38)
					udptl_rx_datagram(&urx, buf, (size_t)n,
							  t38_ifp, NULL);
				else
					g711_rx(buf, (size_t)n);
			}
		}
		if (now_ms() < next)
			continue;
		next += 20;
		if (opt.t38)
			t38_terminal_send_timeout(term, FRAME);
		else
			g711_tick();
		if (done && !linger)
			linger = now_ms() + 1000;
	}
	printf("{\"result\":%d,\"pages\":%d,\"mode\":\"%s\",\"udptl_rx\":%llu,"
	       "\"recovered\":%llu,\"lost\":%llu,\"rtp_rx\":%lu,"
	       "\"rtp_tx\":%lu}\n", result, pages, opt.t38 ? "t38" : "g711",
	       (unsigned long long)urx.received,
	       (unsigned long long)urx.recovered,
	       (unsigned long long)urx.lost, rtp_rx, rtp_tx);
	if (term)
		t38_terminal_free(term);
	if (fax)
		fax_free(fax);
	return done && result == T30_ERR_OK ? 0 : 1;
}
