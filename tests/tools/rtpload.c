/* tests/tools/rtpload.c  Many SIP calls with checked G.711 media, for load
 *
 * rtpload places N calls to a SIP peer (the gateway), one RTP socket and
 * SSRC each, sends G.711 every 20 ms on every answered call and checks
 * every frame that comes back.  It is made for a looped path: the gateway
 * bridges each call to a B-channel whose far end (pstnsim --media echo)
 * plays back what it hears, so each frame we send should come back once,
 * intact, after a steady delay.
 *
 * The first --settle-ms (1000) of each call's returning probes are not
 * judged: the gateway's jitter buffer finds its delay there.
 *
 * Each frame is a time-stamped probe (pstnsim/stamp.h: its number and
 * send time, twice, and a pattern made of them): one that comes back is
 * exactly ours, ours with a sample or two dropped or added (the gateway's
 * jitter buffer time-scaling its delay: "slipped", not heard, not a
 * failure), or damaged (silence played for a missing packet,
 * concealment, a law conversion).  The jitter buffer plays at a sample
 * offset of its own, so probes are found across two packets.  Counted
 * per call, from the first probe that came back (what went before was the
 * path filling up) to the last:
 *
 *   lost      sent and never came back
 *   dup       came back more than once
 *   late      came back more than --late-ms (30) over the call's smallest
 *             delay
 *   damaged   overwritten, or replaced by something else
 *   seq_gaps  gaps in the RTP sequence numbers of what the gateway sent
 *
 * and the round-trip delay of every probe (p50, p99, max).
 *
 * With --stamp the far end is pstnsim --media stamp instead: each side
 * sends time-stamped probe frames (pstnsim/stamp.h) and checks the
 * other's, so each direction has its own one-way delay and counts.
 * rtpload reports B-channel -> RTP (the "tdm_rtp" figures); pstnsim puts
 * RTP -> B-channel in its call records (stamp_*).
 *
 * With --srtp every call offers RTP/SAVP with an SDES key
 * (AES_CM_128_HMAC_SHA1_80, RFC 4568) and protects and checks its media
 * with libsrtp2 with the key of the answer; a packet that fails to
 * authenticate counts as damaged.
 *
 * Signalling is a plain UDP UAC written here (no code shared with sip/):
 * INVITE with an SDP offer of one law, ACK, and BYE after --hold seconds
 * of media.
 *
 *   rtpload --gw IP:PORT --local IP [--calls N] [--rate CPS] [--hold S]
 *           [--number NUM] [--law pcma|pcmu] [--rtp-port P] [--sip-port P]
 *           [--late-ms MS] [--max-time S] [--settle-ms MS] [--stamp]
 *           [--srtp] [--json]
 *
 * One thread, epoll, a 20 ms timerfd.  The exit status is 0 only if every
 * call connected and ended cleanly and no frame was lost, doubled, late or
 * damaged.  The summary goes to stdout (one JSON object with --json).
 */

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <srtp2/srtp.h>

#include "pstnsim/stamp.h"

#define FRAME 160             /* octets of G.711 per 20 ms */
#define TICK_NS 20000000L
#define MAX_CALLS 2048
#define T1_MS 500
#define TX_GIVEUP_MS 16000    /* 64*T1 would be 32 s; a loaded loopback
			       * peer that has not answered by then is gone */
#define DRAIN_MS 400          /* after the last frame, before BYE */

enum cstate {
	C_IDLE,
	C_INVITING,   /* INVITE out, no final answer */
	C_UP,         /* 200 ACKed, media running */
	C_DRAINING,   /* media stopped, waiting for the last frames */
	C_BYE,        /* BYE out */
	C_DONE,
	C_FAILED,
};

struct call {
	enum cstate st;
	int idx;
	int rtp_fd;
	uint16_t rtp_port;
	struct sockaddr_in remote;   /* where the gateway wants our RTP */
	bool have_remote;
	char to_tag[128];
	char contact[256];
	int64_t tx_next_ms;          /* signalling retransmission */
	int64_t tx_first_ms;
	unsigned tx_tries;
	int64_t t_end_ms;            /* stop media at */
	int64_t t_bye_ms;
	int fail_status;             /* SIP status, or 0 */
	const char *fail_why;

	/* sending */
	uint32_t ssrc;
	uint16_t seq;
	uint32_t ts;
	uint32_t next_k;             /* number of the next frame we send */

	/* receiving */
	bool rx_any;
	uint32_t rx_ssrc;
	uint16_t rx_seq;
	uint64_t seq_gaps, foreign;
	struct stamp_rx rx;          /* the probes that come back (or
				      * pstnsim's, --stamp) */
	uint8_t key[30];             /* --srtp: ours, AES-128 + salt */
	srtp_t srtp_tx, srtp_rx;
	uint64_t srtp_fail;          /* packets that did not unprotect */
};

static struct {
	struct sockaddr_in gw;
	char gw_str[80];
	char local[INET_ADDRSTRLEN];
	uint16_t sip_port;
	uint16_t rtp_port;
	int calls;
	double rate;
	double hold_s;
	const char *number;
	int law;                      /* payload type: 0 PCMU, 8 PCMA */
	unsigned late_ms;
	unsigned settle_ms;           /* not judged after a call's first */
	bool json;
	bool stamp;
	bool srtp;
	unsigned max_s;               /* whole run bound */
} opt = {
	.sip_port = 5090,
	.rtp_port = 40000,
	.calls = 10,
	.rate = 20,
	.hold_s = 10,
	.number = "5550100",
	.law = 8,
	.late_ms = 30,
	.settle_ms = 1000,
};

static struct call *calls;
static int sip_fd, ep_fd, tick_fd;
static uint64_t unknown_msgs, tx_total;
static volatile sig_atomic_t stop_signal;
static unsigned long run_id;

static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

static int64_t now_ms(void)
{
	return now_ns() / 1000000;
}

/* ---- frames --------------------------------------------------------- */

/* ---- SIP text -------------------------------------------------------- */

static void sip_send(const char *buf, size_t len)
{
	if (sendto(sip_fd, buf, len, 0, (const struct sockaddr *)&opt.gw,
		   sizeof(opt.gw)) < 0)
		fprintf(stderr, "rtpload: sendto: %s\n", strerror(errno));
}

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void b64_encode(char *out, const uint8_t *in, size_t n)
{
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | in[i + 1] << 8 | in[i + 2];

		*out++ = b64[v >> 18];
		*out++ = b64[v >> 12 & 63];
		*out++ = b64[v >> 6 & 63];
		*out++ = b64[v & 63];
	}
	if (i < n) {
		uint32_t v = (uint32_t)in[i] << 16 |
			     (i + 1 < n ? in[i + 1] << 8 : 0);

		*out++ = b64[v >> 18];
		*out++ = b64[v >> 12 & 63];
		*out++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
		*out++ = '=';
	}
	*out = 0;
}

/* Decode exactly @p n octets of base64 at @p in; false if it is not. */
static bool b64_decode(uint8_t *out, size_t n, const char *in)
{
	uint32_t v = 0;
	size_t got = 0;
	int bits = 0;

	for (; *in && *in != '|' && *in != '\r' && *in != '\n' && *in != ' ';
	     in++) {
		const char *p = strchr(b64, *in);

		if (*in == '=')
			break;
		if (!p)
			return false;
		v = v << 6 | (uint32_t)(p - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (got == n)
				return false;
			out[got++] = (uint8_t)(v >> bits);
		}
	}
	return got == n;
}

static int sdp_offer(char *buf, size_t size, const struct call *c)
{
	char key[48];

	if (opt.srtp) {
		b64_encode(key, c->key, sizeof(c->key));
		return snprintf(buf, size,
				"v=0\r\n"
				"o=rtpload %d 1 IN IP4 %s\r\n"
				"s=-\r\n"
				"c=IN IP4 %s\r\n"
				"t=0 0\r\n"
				"m=audio %u RTP/SAVP %d\r\n"
				"a=rtpmap:%d %s/8000\r\n"
				"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:%s\r\n"
				"a=ptime:20\r\n"
				"a=sendrecv\r\n",
				c->idx, opt.local, opt.local, c->rtp_port,
				opt.law, opt.law, opt.law ? "PCMA" : "PCMU",
				key);
	}
	return snprintf(buf, size,
			"v=0\r\n"
			"o=rtpload %d 1 IN IP4 %s\r\n"
			"s=-\r\n"
			"c=IN IP4 %s\r\n"
			"t=0 0\r\n"
			"m=audio %u RTP/AVP %d\r\n"
			"a=rtpmap:%d %s/8000\r\n"
			"a=ptime:20\r\n"
			"a=sendrecv\r\n",
			c->idx, opt.local, opt.local, c->rtp_port, opt.law,
			opt.law, opt.law ? "PCMA" : "PCMU");
}

static void send_invite(struct call *c)
{
	char sdp[768], buf[2048];
	int sl = sdp_offer(sdp, sizeof(sdp), c);
	int n = snprintf(buf, sizeof(buf),
		"INVITE sip:%s@%s SIP/2.0\r\n"
		"Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK-rl%lx-%d-i;rport\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:2125551234@%s>;tag=rl%d\r\n"
		"To: <sip:%s@%s>\r\n"
		"Call-ID: rl%lx-%d@%s\r\n"
		"CSeq: 1 INVITE\r\n"
		"Contact: <sip:rtpload@%s:%u>\r\n"
		"Content-Type: application/sdp\r\n"
		"Content-Length: %d\r\n\r\n%s",
		opt.number, opt.gw_str, opt.local, opt.sip_port, run_id, c->idx,
		opt.local, c->idx, opt.number, opt.gw_str, run_id, c->idx,
		opt.local, opt.local, opt.sip_port, sl, sdp);

	sip_send(buf, (size_t)n);
	tx_total++;
}

/* ACK: for a 2xx a new transaction to the Contact; for a failure the
 * INVITE's branch (RFC 3261 17.1.1.3).  Both are sent to the gateway. */
static void send_ack(struct call *c, bool ok)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf),
		"ACK %s SIP/2.0\r\n"
		"Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK-rl%lx-%d-%s;rport\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:2125551234@%s>;tag=rl%d\r\n"
		"To: <sip:%s@%s>%s%s\r\n"
		"Call-ID: rl%lx-%d@%s\r\n"
		"CSeq: 1 ACK\r\n"
		"Content-Length: 0\r\n\r\n",
		ok && c->contact[0] ? c->contact : "sip:x@x",
		opt.local, opt.sip_port, run_id, c->idx, ok ? "a" : "i",
		opt.local, c->idx, opt.number, opt.gw_str,
		c->to_tag[0] ? ";tag=" : "", c->to_tag, run_id, c->idx,
		opt.local);

	if (!ok || !c->contact[0]) {
		/* a failure's ACK copies the INVITE's Request-URI */
		n = snprintf(buf, sizeof(buf),
			"ACK sip:%s@%s SIP/2.0\r\n"
			"Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK-rl%lx-%d-i;rport\r\n"
			"Max-Forwards: 70\r\n"
			"From: <sip:2125551234@%s>;tag=rl%d\r\n"
			"To: <sip:%s@%s>%s%s\r\n"
			"Call-ID: rl%lx-%d@%s\r\n"
			"CSeq: 1 ACK\r\n"
			"Content-Length: 0\r\n\r\n",
			opt.number, opt.gw_str, opt.local, opt.sip_port,
			run_id, c->idx, opt.local, c->idx, opt.number,
			opt.gw_str, c->to_tag[0] ? ";tag=" : "", c->to_tag,
			run_id, c->idx, opt.local);
	}
	sip_send(buf, (size_t)n);
}

static void send_bye(struct call *c)
{
	char buf[1024];
	int n = snprintf(buf, sizeof(buf),
		"BYE %s SIP/2.0\r\n"
		"Via: SIP/2.0/UDP %s:%u;branch=z9hG4bK-rl%lx-%d-b;rport\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:2125551234@%s>;tag=rl%d\r\n"
		"To: <sip:%s@%s>;tag=%s\r\n"
		"Call-ID: rl%lx-%d@%s\r\n"
		"CSeq: 2 BYE\r\n"
		"Content-Length: 0\r\n\r\n",
		c->contact[0] ? c->contact : "sip:x@x", opt.local, opt.sip_port,
		run_id, c->idx, opt.local, c->idx, opt.number, opt.gw_str,
		c->to_tag, run_id, c->idx, opt.local);

	sip_send(buf, (size_t)n);
	tx_total++;
}

/* A response to a request of ours, or the 200 we owe a request of the
 * gateway's (a BYE: the call was cut). */
static void reply_200(const char *msg, size_t len)
{
	char buf[2048], *o = buf;
	const char *p = strchr(msg, '\n');
	size_t left = sizeof(buf);
	int n = snprintf(o, left, "SIP/2.0 200 OK\r\n");

	o += n;
	left -= (size_t)n;
	while (p && (size_t)(p - msg) < len) {
		const char *l = p + 1, *e = strchr(l, '\n');
		size_t ll;

		if (!e || e == l || (e == l + 1 && *l == '\r'))
			break;
		ll = (size_t)(e - l + 1);
		if ((!strncasecmp(l, "Via:", 4) || !strncasecmp(l, "From:", 5) ||
		     !strncasecmp(l, "To:", 3) ||
		     !strncasecmp(l, "Call-ID:", 8) ||
		     !strncasecmp(l, "CSeq:", 5)) && ll < left) {
			memcpy(o, l, ll);
			o += ll;
			left -= ll;
		}
		p = e;
	}
	if (left > 24) {
		n = snprintf(o, left, "Content-Length: 0\r\n\r\n");
		o += n;
	}
	sip_send(buf, (size_t)(o - buf));
}

/* The value of header @p name (no compact forms: the gateway sends long
 * names), trimmed, in @p out. */
static bool header(const char *msg, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	const char *p = msg;

	while ((p = strchr(p, '\n'))) {
		const char *e;
		size_t n;

		p++;
		if (*p == '\r' || *p == '\n')
			return false;
		if (strncasecmp(p, name, nl) || p[nl] != ':')
			continue;
		p += nl + 1;
		while (*p == ' ' || *p == '\t')
			p++;
		e = strpbrk(p, "\r\n");
		n = e ? (size_t)(e - p) : strlen(p);
		if (n >= size)
			n = size - 1;
		memcpy(out, p, n);
		out[n] = 0;
		return true;
	}
	return false;
}

/* Our outbound session with our key, the inbound one with the answer's. */
static int srtp_open(struct call *c, const uint8_t *their_key)
{
	srtp_policy_t pol;

	memset(&pol, 0, sizeof(pol));
	srtp_crypto_policy_set_rtp_default(&pol.rtp);
	srtp_crypto_policy_set_rtcp_default(&pol.rtcp);
	pol.window_size = 128;
	pol.ssrc.type = ssrc_any_outbound;
	pol.key = c->key;
	if (srtp_create(&c->srtp_tx, &pol) != srtp_err_status_ok)
		return -1;
	pol.ssrc.type = ssrc_any_inbound;
	pol.key = (uint8_t *)their_key;
	if (srtp_create(&c->srtp_rx, &pol) != srtp_err_status_ok)
		return -1;
	return 0;
}

static void parse_sdp(struct call *c, const char *msg)
{
	const char *body = strstr(msg, "\r\n\r\n");
	char addr[64] = "";
	unsigned port = 0;
	uint8_t key[30];
	bool have_key = false;
	const char *l;

	if (!body)
		return;
	for (l = body + 4; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
		if (!strncmp(l, "c=IN IP4 ", 9))
			sscanf(l + 9, "%63[0-9.]", addr);
		else if (!strncmp(l, "m=audio ", 8))
			sscanf(l + 8, "%u", &port);
		else if (opt.srtp && !strncmp(l, "a=crypto:", 9) &&
			 strstr(l, " AES_CM_128_HMAC_SHA1_80 inline:"))
			have_key = b64_decode(key, sizeof(key),
					      strstr(l, "inline:") + 7);
	}
	if (opt.srtp && (!have_key || srtp_open(c, key)))
		return;
	if (!addr[0] || !port || port > 65535)
		return;
	memset(&c->remote, 0, sizeof(c->remote));
	c->remote.sin_family = AF_INET;
	c->remote.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &c->remote.sin_addr) == 1)
		c->have_remote = true;
}

static void fail(struct call *c, int status, const char *why)
{
	if (c->st == C_FAILED)
		return;
	c->st = C_FAILED;
	c->fail_status = status;
	c->fail_why = why;
	fprintf(stderr, "rtpload: call %d failed: %d %s\n", c->idx, status,
		why);
}

static void on_response(struct call *c, int status, const char *msg)
{
	char cseq[64], tag[256];
	const char *t;

	if (!header(msg, "CSeq", cseq, sizeof(cseq)))
		return;
	if (strstr(cseq, "BYE")) {
		if (c->st == C_BYE && status >= 200)
			c->st = status < 300 ? C_DONE : C_FAILED;
		if (c->st == C_FAILED && !c->fail_why) {
			c->fail_status = status;
			c->fail_why = "BYE refused";
		}
		return;
	}
	if (!strstr(cseq, "INVITE"))
		return;
	if (header(msg, "To", tag, sizeof(tag)) && (t = strstr(tag, "tag="))) {
		size_t n = strcspn(t + 4, ";> \t");

		if (n >= sizeof(c->to_tag))
			n = sizeof(c->to_tag) - 1;
		memcpy(c->to_tag, t + 4, n);
		c->to_tag[n] = 0;
	}
	if (status < 200) {
		if (c->st == C_INVITING)
			c->tx_next_ms = INT64_MAX; /* 1xx: stop resending */
		return;
	}
	if (status >= 300) {
		send_ack(c, false);
		if (c->st == C_INVITING)
			fail(c, status, "INVITE refused");
		return;
	}
	if (header(msg, "Contact", tag, sizeof(tag))) {
		char *a = strchr(tag, '<'), *b = a ? strchr(a, '>') : NULL;

		if (a && b) {
			*b = 0;
			snprintf(c->contact, sizeof(c->contact), "%s", a + 1);
		}
	}
	send_ack(c, true); /* every 2xx, retransmissions too */
	if (c->st != C_INVITING)
		return;
	parse_sdp(c, msg);
	if (!c->have_remote) {
		fail(c, status, "200 without a usable SDP answer");
		return;
	}
	c->st = C_UP;
	c->t_end_ms = now_ms() + (int64_t)(opt.hold_s * 1000);
}

static struct call *call_of(const char *msg)
{
	char cid[256];
	unsigned long r;
	int idx;

	if (!header(msg, "Call-ID", cid, sizeof(cid)) ||
	    sscanf(cid, "rl%lx-%d@", &r, &idx) != 2 || r != run_id ||
	    idx < 0 || idx >= opt.calls)
		return NULL;
	return &calls[idx];
}

static void on_sip(void)
{
	char buf[65536];
	ssize_t n;

	while ((n = recv(sip_fd, buf, sizeof(buf) - 1, MSG_DONTWAIT)) > 0) {
		struct call *c;
		int status;

		buf[n] = 0;
		c = call_of(buf);
		if (!c) {
			unknown_msgs++;
			continue;
		}
		if (sscanf(buf, "SIP/2.0 %d", &status) == 1) {
			on_response(c, status, buf);
		} else if (!strncmp(buf, "BYE ", 4)) {
			reply_200(buf, (size_t)n);
			if (c->st == C_UP || c->st == C_DRAINING)
				fail(c, 0, "the gateway hung up");
		} else if (!strncmp(buf, "OPTIONS ", 8) ||
			   !strncmp(buf, "INFO ", 5) ||
			   !strncmp(buf, "UPDATE ", 7)) {
			reply_200(buf, (size_t)n);
		} else {
			unknown_msgs++;
		}
	}
}

/* ---- RTP -------------------------------------------------------------- */

static void rtp_send(struct call *c, int64_t t)
{
	uint8_t pkt[12 + FRAME + SRTP_MAX_TRAILER_LEN];
	int len = 12 + FRAME;

	pkt[0] = 0x80;
	pkt[1] = (uint8_t)(opt.law | (c->next_k == 0 ? 0x80 : 0));
	pkt[2] = (uint8_t)(c->seq >> 8);
	pkt[3] = (uint8_t)c->seq;
	pkt[4] = (uint8_t)(c->ts >> 24);
	pkt[5] = (uint8_t)(c->ts >> 16);
	pkt[6] = (uint8_t)(c->ts >> 8);
	pkt[7] = (uint8_t)c->ts;
	pkt[8] = (uint8_t)(c->ssrc >> 24);
	pkt[9] = (uint8_t)(c->ssrc >> 16);
	pkt[10] = (uint8_t)(c->ssrc >> 8);
	pkt[11] = (uint8_t)c->ssrc;
	stamp_fill(pkt + 12, STAMP_RTP, c->next_k, t);
	if (c->srtp_tx && srtp_protect(c->srtp_tx, pkt, &len) !=
			  srtp_err_status_ok)
		len = 0;
	if (len && sendto(c->rtp_fd, pkt, (size_t)len, 0,
		   (const struct sockaddr *)&c->remote, sizeof(c->remote)) < 0 &&
	    errno != EAGAIN)
		fprintf(stderr, "rtpload: call %d: RTP send: %s\n", c->idx,
			strerror(errno));
	c->next_k++;
	c->seq++;
	c->ts += FRAME;
}

static void on_rtp_packet(struct call *c, const uint8_t *p, size_t n,
			  int64_t t)
{
	uint32_t ssrc;
	uint16_t seq;

	if (n < 12 || (p[0] & 0xc0) != 0x80)
		return;
	ssrc = (uint32_t)p[8] << 24 | (uint32_t)p[9] << 16 |
	       (uint32_t)p[10] << 8 | p[11];
	seq = (uint16_t)(p[2] << 8 | p[3]);
	if (c->rx_any && ssrc == c->rx_ssrc && seq != (uint16_t)(c->rx_seq + 1))
		c->seq_gaps++;
	c->rx_any = true;
	c->rx_ssrc = ssrc;
	c->rx_seq = seq;
	if ((p[1] & 0x7f) != opt.law || n != 12 + FRAME) {
		c->foreign++;
		return;
	}
	/* Looped: our own probes come back; --stamp: pstnsim's. */
	stamp_rx_frame(&c->rx, p + 12, opt.stamp ? STAMP_PSTN : STAMP_RTP, t);
}

static void on_rtp(struct call *c)
{
	uint8_t buf[2048];
	ssize_t n;

	while ((n = recv(c->rtp_fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0) {
		int len = (int)n;

		if (c->st != C_UP && c->st != C_DRAINING)
			continue;
		if (c->srtp_rx && srtp_unprotect(c->srtp_rx, buf, &len) !=
				  srtp_err_status_ok) {
			c->srtp_fail++;
			continue;
		}
		on_rtp_packet(c, buf, (size_t)len, now_ns());
	}
}

/* ---- the run ---------------------------------------------------------- */

static int open_udp(const char *ip, uint16_t port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int sz = 1 << 20;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	if (inet_pton(AF_INET, ip, &a.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void start_call(struct call *c, int64_t t)
{
	c->st = C_INVITING;
	c->tx_first_ms = t;
	c->tx_next_ms = t + T1_MS;
	c->tx_tries = 1;
	send_invite(c);
}

/* Retransmissions (doubling from T1, at most 4 s apart) and the ends of
 * media and of calls. */
static void call_timers(struct call *c, int64_t t)
{
	switch (c->st) {
	case C_INVITING:
	case C_BYE:
		if (t >= c->tx_first_ms + TX_GIVEUP_MS) {
			fail(c, 408, c->st == C_BYE ? "BYE not answered"
						    : "INVITE not answered");
			return;
		}
		if (t < c->tx_next_ms)
			return;
		if (c->st == C_INVITING)
			send_invite(c);
		else
			send_bye(c);
		c->tx_tries++;
		c->tx_next_ms = t + (T1_MS << (c->tx_tries < 4 ? c->tx_tries - 1
							       : 3));
		return;
	case C_UP:
		if (t >= c->t_end_ms) {
			c->st = C_DRAINING;
			c->t_bye_ms = t + DRAIN_MS;
		}
		return;
	case C_DRAINING:
		if (t >= c->t_bye_ms) {
			c->st = C_BYE;
			c->tx_first_ms = t;
			c->tx_next_ms = t + T1_MS;
			c->tx_tries = 1;
			send_bye(c);
		}
		return;
	default:
		return;
	}
}

static bool all_ended(void)
{
	int i;

	for (i = 0; i < opt.calls; i++)
		if (calls[i].st != C_DONE && calls[i].st != C_FAILED)
			return false;
	return true;
}

/*
 * All calls together: the probes of every call that ended well, their
 * delays in one histogram.  Looped, the delay is the round trip (both
 * directions and pstnsim's one-frame echo); with --stamp it is B-channel
 * -> RTP alone ("tdm_rtp").
 */
static int report(double elapsed)
{
	static struct stamp_rx all;
	uint64_t lost = 0, gaps = 0, foreign = 0;
	int ok = 0, failed = 0, silent = 0, i, j;
	const char *pf = opt.stamp ? "tdm_rtp_" : "";

	stamp_rx_init(&all);
	for (i = 0; i < opt.calls; i++) {
		const struct call *c = &calls[i];
		const struct stamp_rx *r = &c->rx;

		if (c->st != C_DONE) {
			failed++;
			continue;
		}
		ok++;
		if (!r->started) {
			silent++; /* connected, but no probe came */
			continue;
		}
		all.got += r->got;
		all.slipped += r->slipped;
		all.dup += r->dup;
		all.late += r->late;
		all.damaged += r->damaged + c->srtp_fail;
		lost += stamp_rx_lost(r);
		gaps += c->seq_gaps;
		foreign += c->foreign;
		for (j = 0; j <= STAMP_HIST_BINS; j++)
			all.hist[j] += r->hist[j];
		if (r->max_ns > all.max_ns)
			all.max_ns = r->max_ns;
	}
	if (opt.json) {
		printf("{\"calls\":%d,\"connected\":%d,\"failed\":%d,"
		       "\"silent\":%d,\"%sframes\":%" PRIu64
		       ",\"%slost\":%" PRIu64 ",\"%sdup\":%" PRIu64
		       ",\"%slate\":%" PRIu64 ",\"%sdamaged\":%" PRIu64
		       ",\"%sslipped\":%" PRIu64 ",\"seq_gaps\":%" PRIu64
		       ",\"foreign\":%" PRIu64 ",\"%sp50_ms\":%.2f,"
		       "\"%sp99_ms\":%.2f,\"%smax_ms\":%.2f,"
		       "\"elapsed_s\":%.1f}\n",
		       opt.calls, ok, failed, silent, pf, all.got, pf, lost, pf,
		       all.dup, pf, all.late, pf, all.damaged, pf, all.slipped,
		       gaps, foreign, pf, stamp_rx_pct_ms(&all, 0.5), pf,
		       stamp_rx_pct_ms(&all, 0.99), pf,
		       (double)all.max_ns / 1e6, elapsed);
	} else {
		printf("calls:          %d placed, %d ended cleanly, %d failed, "
		       "%d with no frame back\n", opt.calls, ok, failed,
		       silent);
		printf("frames:         %" PRIu64 " back%s (%" PRIu64
		       " with a sample or two time-scaled)\n", all.got,
		       opt.stamp ? " from pstnsim" : "", all.slipped);
		printf("lost, dup:      %" PRIu64 ", %" PRIu64 "\n", lost,
		       all.dup);
		printf("late, damaged:  %" PRIu64 ", %" PRIu64 " (late: > %u ms "
		       "over the call's smallest delay)\n", all.late,
		       all.damaged, opt.late_ms);
		printf("RTP seq gaps:   %" PRIu64 " (gateway -> us)\n", gaps);
		printf("%s p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
		       opt.stamp ? "B -> RTP:      " : "round trip:    ",
		       stamp_rx_pct_ms(&all, 0.5), stamp_rx_pct_ms(&all, 0.99),
		       (double)all.max_ns / 1e6);
	}
	return failed || silent || lost || all.dup || all.late ||
	       all.damaged || gaps;
}

static void on_signal(int sig)
{
	(void)sig;
	stop_signal = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: rtpload --gw IP:PORT --local IP [--calls N] [--rate CPS]\n"
		"               [--hold S] [--number NUM] [--law pcma|pcmu]\n"
		"               [--sip-port P] [--rtp-port P] [--late-ms MS]\n"
		"               [--max-time S] [--settle-ms MS] [--stamp] [--srtp]\n"
		"               [--json]\n");
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{"gw", 1, NULL, 'g'},       {"local", 1, NULL, 'l'},
		{"calls", 1, NULL, 'n'},    {"rate", 1, NULL, 'r'},
		{"hold", 1, NULL, 'd'},     {"number", 1, NULL, 'N'},
		{"law", 1, NULL, 'L'},      {"sip-port", 1, NULL, 's'},
		{"rtp-port", 1, NULL, 'p'}, {"late-ms", 1, NULL, 'x'},
		{"max-time", 1, NULL, 'm'}, {"json", 0, NULL, 'j'},
		{"stamp", 0, NULL, 'S'},     {"srtp", 0, NULL, 'K'},
		{"settle-ms", 1, NULL, 'T'},
		{NULL, 0, NULL, 0},
	};
	char host[64];
	unsigned port;
	int ch;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'g':
			if (sscanf(optarg, "%63[0-9.]:%u", host, &port) != 2 ||
			    !port || port > 65535 ||
			    inet_pton(AF_INET, host, &opt.gw.sin_addr) != 1)
				usage();
			opt.gw.sin_family = AF_INET;
			opt.gw.sin_port = htons((uint16_t)port);
			snprintf(opt.gw_str, sizeof(opt.gw_str), "%s:%u", host,
				 port);
			break;
		case 'l':
			snprintf(opt.local, sizeof(opt.local), "%s", optarg);
			break;
		case 'n':
			opt.calls = atoi(optarg);
			break;
		case 'r':
			opt.rate = atof(optarg);
			break;
		case 'd':
			opt.hold_s = atof(optarg);
			break;
		case 'N':
			opt.number = optarg;
			break;
		case 'L':
			if (!strcmp(optarg, "pcma"))
				opt.law = 8;
			else if (!strcmp(optarg, "pcmu"))
				opt.law = 0;
			else
				usage();
			break;
		case 's':
			opt.sip_port = (uint16_t)atoi(optarg);
			break;
		case 'p':
			opt.rtp_port = (uint16_t)atoi(optarg);
			break;
		case 'x':
			opt.late_ms = (unsigned)atoi(optarg);
			break;
		case 'm':
			opt.max_s = (unsigned)atoi(optarg);
			break;
		case 'j':
			opt.json = true;
			break;
		case 'S':
			opt.stamp = true;
			break;
		case 'K':
			opt.srtp = true;
			break;
		case 'T':
			opt.settle_ms = (unsigned)atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!opt.gw_str[0] || !opt.local[0] || opt.calls < 1 ||
	    opt.calls > MAX_CALLS || opt.rate <= 0 || opt.hold_s <= 0 ||
	    (unsigned)opt.rtp_port + 2u * (unsigned)opt.calls > 65535)
		usage();
	if (!opt.max_s)
		opt.max_s = (unsigned)(opt.calls / opt.rate + opt.hold_s) + 60;
}

int main(int argc, char **argv)
{
	struct itimerspec its = {.it_interval = {0, TICK_NS},
				 .it_value = {0, TICK_NS}};
	struct epoll_event ev;
	int64_t t0, next_start;
	int i, started = 0;

	parse_args(argc, argv);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	run_id = ((unsigned long)getpid() << 12) ^ (unsigned long)time(NULL);
	calls = calloc((size_t)opt.calls, sizeof(*calls));
	if (opt.srtp && srtp_init() != srtp_err_status_ok) {
		fprintf(stderr, "rtpload: srtp_init failed\n");
		return 2;
	}
	sip_fd = open_udp(opt.local, opt.sip_port);
	ep_fd = epoll_create1(EPOLL_CLOEXEC);
	tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!calls || sip_fd < 0 || ep_fd < 0 || tick_fd < 0) {
		fprintf(stderr, "rtpload: setup: %s\n", strerror(errno));
		return 2;
	}
	ev.events = EPOLLIN;
	ev.data.u32 = UINT32_MAX;
	epoll_ctl(ep_fd, EPOLL_CTL_ADD, sip_fd, &ev);
	ev.data.u32 = UINT32_MAX - 1;
	epoll_ctl(ep_fd, EPOLL_CTL_ADD, tick_fd, &ev);
	for (i = 0; i < opt.calls; i++) {
		struct call *c = &calls[i];

		c->idx = i;
		if (opt.srtp) {
			FILE *r = fopen("/dev/urandom", "rb");

			if (!r || fread(c->key, 1, sizeof(c->key), r) !=
					  sizeof(c->key)) {
				fprintf(stderr, "rtpload: no random key\n");
				return 2;
			}
			fclose(r);
		}
		stamp_rx_init(&c->rx);
		/* Looped, the delay should not move: late is a frame's
		 * worth over the smallest. */
		c->rx.late_ns = (int64_t)opt.late_ms * 1000000;
		c->rx.settle_ns = (int64_t)opt.settle_ms * 1000000;
		c->rtp_port = (uint16_t)(opt.rtp_port + 2 * i);
		c->rtp_fd = open_udp(opt.local, c->rtp_port);
		if (c->rtp_fd < 0) {
			fprintf(stderr, "rtpload: RTP port %u: %s\n",
				c->rtp_port, strerror(errno));
			return 2;
		}
		c->ssrc = (uint32_t)(0x10000000u + (uint32_t)i * 7919u) ^
			  (uint32_t)run_id;
		c->seq = (uint16_t)(i * 1000);
		c->ts = (uint32_t)i * 160000u;
		ev.data.u32 = (uint32_t)i;
		epoll_ctl(ep_fd, EPOLL_CTL_ADD, c->rtp_fd, &ev);
	}
	timerfd_settime(tick_fd, 0, &its, NULL);
	t0 = now_ms();
	next_start = t0;
	while (!stop_signal) {
		struct epoll_event evs[256];
		int n = epoll_wait(ep_fd, evs, 256, 100), j;
		int64_t t = now_ms();

		if (n < 0 && errno != EINTR)
			break;
		for (j = 0; j < n; j++) {
			uint32_t id = evs[j].data.u32;

			if (id == UINT32_MAX) {
				on_sip();
			} else if (id == UINT32_MAX - 1) {
				uint64_t ticks;
				int64_t tn = now_ns();

				if (read(tick_fd, &ticks, sizeof(ticks)) < 0)
					continue;
				/* A late tick sends what it owes, so our
				 * stream keeps the 20 ms clock on average. */
				while (ticks--)
					for (i = 0; i < opt.calls; i++)
						if (calls[i].st == C_UP)
							rtp_send(&calls[i], tn);
			} else if (id < (uint32_t)opt.calls) {
				on_rtp(&calls[id]);
			}
		}
		while (started < opt.calls && t >= next_start) {
			start_call(&calls[started++], t);
			next_start = t0 + (int64_t)(started * 1000.0 / opt.rate);
		}
		for (i = 0; i < started; i++)
			call_timers(&calls[i], t);
		if (started == opt.calls && all_ended())
			break;
		if (t - t0 > (int64_t)opt.max_s * 1000) {
			fprintf(stderr, "rtpload: --max-time reached\n");
			for (i = 0; i < opt.calls; i++)
				if (calls[i].st != C_DONE)
					fail(&calls[i], 0, "run timed out");
			break;
		}
	}
	if (stop_signal)
		for (i = 0; i < opt.calls; i++)
			if (calls[i].st != C_DONE)
				fail(&calls[i], 0, "interrupted");
	return report((double)(now_ms() - t0) / 1000.0);
}
