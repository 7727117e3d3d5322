/* sip/options.c  OPTIONS probes outside any dialog (trunk keep-alive)
 *
 * One probe is one non-INVITE client transaction: libosip2 retransmits the
 * request (Timer E) and gives up at Timer F, which we shorten to the
 * caller's timeout so that a dead peer is noticed in seconds, not 32.
 * Any final response, whatever its status (404, 405, 503 too), proves the
 * peer alive: it has a SIP stack that answers, as the SBCs people compare
 * us with read it.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#define LOG_MODULE "sip"
#include "sip/sip_int.h"

struct sip_probe {
	struct sip_ua *ua;
	struct sip_tr *tr;
	sip_options_h *h;   /* NULL once reported or cancelled */
	void *arg;
	int64_t start_ms;   /* queued; sent within the loop's turn */
};

static void probe_report(struct sip_probe *p, int status)
{
	sip_options_h *h = p->h;
	int64_t rtt = tg_mono_ms() - p->start_ms;

	if (!h)
		return;
	p->h = NULL;
	h(status, rtt < 0 ? 0 : (unsigned)rtt, p->arg);
}

static void probe_msg(struct sip_tr *tr, int type, osip_message_t *msg)
{
	struct sip_probe *p = tr->h_arg;

	if (type == OSIP_NICT_STATUS_TIMEOUT)
		probe_report(p, 0);
	else if (msg && MSG_IS_RESPONSE(msg) && msg->status_code >= 200)
		probe_report(p, msg->status_code);
}

/* The transaction is over (answered and Timer K run out, timed out, a
 * transport error, or the UA going away): so is the probe. */
static void probe_killed(struct sip_tr *tr)
{
	struct sip_probe *p = tr->h_arg;

	probe_report(p, 0);
	free(p);
}

/* RFC 3261 11.1: Request-URI and To are the peer itself; From is us with
 * a tag; a Call-ID of its own (no dialog comes of it). */
static int probe_request(osip_message_t **mp, struct sip_ua *ua,
			 const struct sockaddr *dst, socklen_t dstlen,
			 uint32_t cseq)
{
	osip_message_t *m;
	char peer[80], us[80], a[64], buf[256], rnd[17], tag[17];
	const char *proto;
	uint16_t port = 0, our_port;

	sip_addr_str(dst, a, sizeof(a), &port);
	sip_host_fmt(peer, sizeof(peer), a, port);
	sip_ua_local_addr(ua, dst, dstlen, a, sizeof(a));
	proto = sip_ua_via_proto(ua, dst, &our_port);
	sip_host_fmt(us, sizeof(us), a, our_port);
	snprintf(buf, sizeof(buf), "sip:%s", peer);
	if (sip_msg_request_new(&m, "OPTIONS", buf, proto, us))
		return ENOMEM;
	sip_rand_hex(tag, 8);
	snprintf(buf, sizeof(buf), "<sip:tollgate@%s>;tag=%s", us, tag);
	if (osip_message_set_from(m, buf))
		goto fail;
	snprintf(buf, sizeof(buf), "<sip:%s>", peer);
	if (osip_message_set_to(m, buf))
		goto fail;
	sip_rand_hex(rnd, 8);
	snprintf(buf, sizeof(buf), "%s@%s", rnd, a);
	if (osip_message_set_call_id(m, buf))
		goto fail;
	snprintf(buf, sizeof(buf), "%u OPTIONS", cseq);
	if (osip_message_set_cseq(m, buf))
		goto fail;
	snprintf(buf, sizeof(buf), "<sip:%s%s>", us,
		 sip_ua_contact_param(ua, dst));
	if (osip_message_set_contact(m, buf) ||
	    osip_message_set_max_forwards(m, "70") ||
	    osip_message_set_user_agent(m, ua->user_agent) ||
	    osip_message_set_accept(m, "application/sdp") ||
	    osip_message_set_allow(m, SIP_ALLOW))
		goto fail;
	*mp = m;
	return 0;
 fail:
	osip_message_free(m);
	return ENOMEM;
}

int sip_options_probe(struct sip_probe **pp, struct sip_ua *ua,
		      const struct sockaddr *dst, socklen_t dstlen,
		      unsigned timeout_ms, sip_options_h *h, void *arg)
{
	static uint32_t cseq;
	osip_message_t *m = NULL;
	osip_nict_t *nict;
	struct sip_probe *p;
	int err;

	if (!ua || !dst || !h || dstlen > sizeof(struct sockaddr_storage))
		return EINVAL;
	if (ua->fd < 0)
		return ENOTCONN;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	err = probe_request(&m, ua, dst, dstlen, ++cseq);
	if (!err)
		err = sip_tr_new(&p->tr, ua, NICT, m, NULL, dst, dstlen);
	if (err) {
		if (m)
			osip_message_free(m);
		free(p);
		return err;
	}
	p->ua = ua;
	p->h = h;
	p->arg = arg;
	p->start_ms = tg_mono_ms();
	p->tr->msg_h = probe_msg;
	p->tr->kill_h = probe_killed;
	p->tr->h_arg = p;
	/* Timer F from now: our timeout instead of 64*T1 (osip set its
	 * start when the transaction was made, a moment ago). */
	nict = p->tr->otr->nict_context;
	if (nict && timeout_ms) {
		struct timeval tv;

		osip_gettimeofday(&tv, NULL);
		tv.tv_sec += timeout_ms / 1000;
		tv.tv_usec += (timeout_ms % 1000) * 1000;
		if (tv.tv_usec >= 1000000) {
			tv.tv_sec++;
			tv.tv_usec -= 1000000;
		}
		nict->timer_f_length = (int)timeout_ms;
		nict->timer_f_start = tv;
	}
	/* Sent from the loop in a moment, not from here: a transport
	 * error then cannot report (and free) the probe before the caller
	 * has it. */
	sip_tr_send(p->tr, m);
	event_active(ua->ev_deliver, EV_TIMEOUT, 0);
	*pp = p;
	return 0;
}

void sip_options_cancel(struct sip_probe *p)
{
	/* The transaction runs its course; only the report is off. */
	if (p)
		p->h = NULL;
}
