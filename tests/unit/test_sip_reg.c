/* tests/unit/test_sip_reg.c  REGISTER both ways (sip/reg.c) over loopback
 *
 * Client: sip_register() against a scripted registrar on a plain UDP
 * socket, which answers each REGISTER with the next canned response
 * (Via, From, To, Call-ID and CSeq copied from the request).  Registrar:
 * raw REGISTERs to a UA with a registrar hook.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "sip/sip.h"
#include "util/util.h"

struct fake {
	int fd;
	const char *const *script; /* extra header lines per answer */
	const int *status;
	unsigned nscript, n;       /* answers given */
	char req[4][2048];         /* the requests seen */
	struct sip_reg_result res;
	int calls;
	struct event_base *base;
	/* Set: the fake is the outbound proxy, REGISTERs name this
	 * registrar (never sent to) */
	const struct sockaddr_in *registrar;
	uint16_t port;             /* where the fake listens */
};

static void addr_of(struct sockaddr_in *sin, uint16_t port)
{
	memset(sin, 0, sizeof(*sin));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
}

/* Append the request's header line @p name ("Via:") to @p out. */
static size_t copy_line(char *out, size_t size, const char *req,
			const char *name)
{
	const char *p = strstr(req, name), *e;

	if (!p)
		return 0;
	e = strstr(p, "\r\n");
	return (size_t)snprintf(out, size, "%.*s\r\n", (int)(e - p), p);
}

/* @p line with %PORT% replaced by the port of the request's Contact. */
static size_t subst_port(char *out, size_t size, const char *line,
			 const char *req)
{
	const char *c = strstr(req, "Contact: <sip:gw1@127.0.0.1:");
	const char *p = strstr(line, "%PORT%");
	unsigned port = c ? (unsigned)atoi(c + 28) : 0;

	if (!p)
		return (size_t)snprintf(out, size, "%s", line);
	return (size_t)snprintf(out, size, "%.*s%u%s", (int)(p - line), line,
				port, p + 6);
}

static void on_fake(evutil_socket_t fd, short what, void *arg)
{
	struct fake *f = arg;
	struct sockaddr_in from;
	socklen_t flen = sizeof(from);
	char buf[2048], out[4096];
	ssize_t len;
	size_t n;

	(void)what;
	len = recvfrom(fd, buf, sizeof(buf) - 1, 0, (struct sockaddr *)&from,
		       &flen);
	if (len <= 0 || f->n >= f->nscript)
		return;
	buf[len] = '\0';
	/* A retransmission of the one answered: nothing new. */
	if (f->n && strstr(buf, "CSeq: ") &&
	    !strcmp(strstr(buf, "CSeq: "), strstr(f->req[f->n - 1], "CSeq: ")))
		return;
	snprintf(f->req[f->n], sizeof(f->req[0]), "%s", buf);
	n = (size_t)snprintf(out, sizeof(out), "SIP/2.0 %d X\r\n",
			     f->status[f->n]);
	n += copy_line(out + n, sizeof(out) - n, buf, "Via:");
	n += copy_line(out + n, sizeof(out) - n, buf, "From:");
	n += copy_line(out + n, sizeof(out) - n, buf, "To:");
	n += copy_line(out + n, sizeof(out) - n, buf, "Call-ID:");
	n += copy_line(out + n, sizeof(out) - n, buf, "CSeq:");
	n += subst_port(out + n, sizeof(out) - n, f->script[f->n], buf);
	n += (size_t)snprintf(out + n, sizeof(out) - n,
			      "Content-Length: 0\r\n\r\n");
	f->n++;
	sendto(fd, out, n, 0, (struct sockaddr *)&from, flen);
}

static void on_result(const struct sip_reg_result *r, void *arg)
{
	struct fake *f = arg;

	f->res = *r;
	f->calls++;
	event_base_loopbreak(f->base);
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	event_base_loopbreak(arg);
}

/* One sip_register() against the fake; returns after its report. */
static void client_run(struct fake *f, const struct sip_reg_params *p)
{
	struct event_base *base = event_base_new();
	struct sip_ua_config cfg = {
		.bind_addr = "127.0.0.1",
		.user_agent = "Tollgate-test",
		.codecs = (const int[]){0},
		.ncodecs = 1,
	};
	struct sip_ua *ua;
	struct sip_regtx *rt;
	struct sockaddr_in me;
	socklen_t len = sizeof(me);
	struct event *ev, *wd;
	struct timeval five = {5, 0};
	struct sip_reg_params q = *p;
	const struct sockaddr *dst = (struct sockaddr *)&me;

	assert_non_null(base);
	f->base = base;
	f->fd = socket(AF_INET, SOCK_DGRAM, 0);
	addr_of(&me, 0);
	assert_int_equal(bind(f->fd, (struct sockaddr *)&me, sizeof(me)), 0);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&me, &len), 0);
	f->port = ntohs(me.sin_port);
	assert_int_equal(sip_ua_alloc(&ua, base, &cfg), 0);
	ev = event_new(base, f->fd, EV_READ | EV_PERSIST, on_fake, f);
	wd = evtimer_new(base, on_watchdog, base);
	event_add(ev, NULL);
	event_add(wd, &five);
	if (f->registrar) {
		q.proxy = (struct sockaddr *)&me;
		q.proxy_len = len;
		dst = (const struct sockaddr *)f->registrar;
	}
	assert_int_equal(sip_register(&rt, ua, dst, len, &q, 2000, on_result,
				      f),
			 0);
	assert_int_equal(f->calls, 0); /* from the loop, never the call */
	event_base_dispatch(base);
	assert_int_equal(f->calls, 1);
	event_free(ev);
	event_free(wd);
	sip_ua_free(ua);
	close(f->fd);
	event_base_free(base);
}

static const struct sip_reg_params params = {
	.user = "2125550000",
	.domain = "prov.test",
	.contact_user = "gw1",
	.expires = 120,
	.call_id = "reg-1@test",
	.cseq = 7,
	.auth_user = "reguser",
	.auth_password = "regpass",
};

#define CHALLENGE(n)                                                      \
	"WWW-Authenticate: Digest realm=\"prov.test\", nonce=\"" n "\", " \
	"qop=\"auth\", algorithm=MD5\r\n"

/* 401, then 200 listing another binding and ours: the grant is our
 * Contact's expires, the CSeq goes on, the Call-ID stays. */
static void test_register_challenge_granted(void **state)
{
	static const int st[] = {401, 200};
	static const char *const sc[] = {
		CHALLENGE("n1"),
		"Contact: <sip:other@192.0.2.1:5060>;expires=3000\r\n"
		"Contact: <sip:gw1@127.0.0.1:%PORT%>;expires=42\r\n"
		"Expires: 999\r\n",
	};
	struct fake f = {.script = sc, .status = st, .nscript = 2};

	(void)state;
	client_run(&f, &params);
	assert_int_equal(f.res.status, 200);
	assert_false(f.res.auth_refused);
	assert_int_equal(f.res.cseq, 9);
	assert_int_equal(f.n, 2);
	assert_memory_equal(f.req[0], "REGISTER sip:prov.test SIP/2.0\r\n", 32);
	assert_non_null(strstr(f.req[0], "To: <sip:2125550000@prov.test>"));
	assert_non_null(strstr(f.req[0], "Call-ID: reg-1@test"));
	assert_non_null(strstr(f.req[0], "CSeq: 8 REGISTER"));
	assert_non_null(strstr(f.req[0], "Expires: 120"));
	assert_non_null(strstr(f.req[0], "Contact: <sip:gw1@127.0.0.1:"));
	assert_null(strstr(f.req[0], "Authorization"));
	assert_non_null(strstr(f.req[1], "CSeq: 9 REGISTER"));
	assert_non_null(strstr(f.req[1], "Call-ID: reg-1@test"));
	assert_non_null(strstr(f.req[1],
			       "Authorization: Digest username=\"reguser\", "
			       "realm=\"prov.test\", nonce=\"n1\", "
			       "uri=\"sip:prov.test\""));
	assert_int_equal(f.res.expires, 42);
}

/* RFC 3261 8.1.2 / 10.2: behind an outbound proxy the REGISTERs (the
 * first and the one answering the 401) go to the proxy with a loose Route
 * to it; the Request-URI and To stay the registrar's. */
static void test_register_via_proxy(void **state)
{
	static const int st[] = {401, 200};
	static const char *const sc[] = {CHALLENGE("n2"), ""};
	struct sockaddr_in reg;
	struct fake f = {.script = sc, .status = st, .nscript = 2,
			 .registrar = &reg};
	struct sip_reg_params p = params;
	char route[64];

	(void)state;
	addr_of(&reg, 5070);
	reg.sin_addr.s_addr = htonl(0xc000020a); /* 192.0.2.10 */
	p.domain = NULL;
	client_run(&f, &p);
	assert_int_equal(f.res.status, 200);
	assert_int_equal(f.n, 2);
	snprintf(route, sizeof(route), "Route: <sip:127.0.0.1:%u;lr>\r\n",
		 (unsigned)f.port);
	for (unsigned i = 0; i < 2; i++) {
		assert_memory_equal(f.req[i],
				    "REGISTER sip:192.0.2.10:5070 SIP/2.0\r\n",
				    38);
		assert_non_null(strstr(f.req[i],
				       "To: <sip:2125550000@192.0.2.10:5070>"));
		assert_non_null(strstr(f.req[i], route));
	}
	assert_non_null(strstr(f.req[1], "uri=\"sip:192.0.2.10:5070\""));
}

/* No expires for our Contact: the Expires header; none: what we asked. */
static void test_register_granted_default(void **state)
{
	static const int st[] = {200};
	static const char *const sc[] = {
		"Contact: <sip:other@127.0.0.1:%PORT%>;expires=5\r\n"
		"Expires: 999\r\n"};
	static const char *const none[] = {""};
	struct fake f = {.script = sc, .status = st, .nscript = 1};
	struct fake g = {.script = none, .status = st, .nscript = 1};

	(void)state;
	client_run(&f, &params);
	assert_int_equal(f.res.status, 200);
	assert_int_equal(f.res.expires, 999);
	client_run(&g, &params);
	assert_int_equal(g.res.expires, 120);
	assert_int_equal(g.res.cseq, 8);
}

static void test_register_423_and_retry_after(void **state)
{
	static const int st423[] = {423}, st503[] = {503};
	static const char *const sc423[] = {"Min-Expires: 3600\r\n"};
	static const char *const sc503[] = {
		"Retry-After: 18 (maintenance);duration=60\r\n"};
	struct fake a = {.script = sc423, .status = st423, .nscript = 1};
	struct fake b = {.script = sc503, .status = st503, .nscript = 1};

	(void)state;
	client_run(&a, &params);
	assert_int_equal(a.res.status, 423);
	assert_int_equal(a.res.min_expires, 3600);
	client_run(&b, &params);
	assert_int_equal(b.res.status, 503);
	assert_int_equal(b.res.retry_after, 18);
	assert_int_equal(b.res.expires, 0);
}

/* A second 401 that is not stale: the credentials are wrong. */
static void test_register_wrong_credentials(void **state)
{
	static const int st[] = {401, 401};
	static const char *const sc[] = {CHALLENGE("n1"), CHALLENGE("n2")};
	struct fake f = {.script = sc, .status = st, .nscript = 2};
	struct sip_reg_params p = params;

	(void)state;
	client_run(&f, &p);
	assert_int_equal(f.res.status, 401);
	assert_true(f.res.auth_refused);
	assert_int_equal(f.n, 2);
	/* No credentials at all: refused at the first. */
	{
		struct fake g = {.script = sc, .status = st, .nscript = 2};

		p.auth_user = NULL;
		client_run(&g, &p);
		assert_true(g.res.auth_refused);
		assert_int_equal(g.n, 1);
	}
}

/* ---- the registrar's side ---------------------------------------------- */

struct seen {
	int calls;
	unsigned ncontacts;
	struct sip_binding c[SIP_REG_MAX_BINDINGS];
	bool wildcard;
	char aor[64];
	uint32_t cseq;
	struct sip_register_reply reply;
};

static struct seen seen;

static void on_registrar(const struct sip_register_req *rq,
			 struct sip_register_reply *rp, void *arg)
{
	(void)arg;
	seen.calls++;
	seen.ncontacts = rq->ncontacts;
	memcpy(seen.c, rq->contacts, rq->ncontacts * sizeof(seen.c[0]));
	seen.wildcard = rq->wildcard;
	snprintf(seen.aor, sizeof(seen.aor), "%s", rq->aor_user);
	seen.cseq = rq->cseq;
	*rp = seen.reply;
}

static bool yes(const struct sockaddr *src, socklen_t len,
		const char *method, void *arg)
{
	(void)src;
	(void)len;
	(void)method;
	(void)arg;
	return true;
}

/* Send @p msg (a %u for our port) to a registrar UA; its answer. */
static void registrar_exchange(const char *fmt, char *ans, size_t size)
{
	struct event_base *base = event_base_new();
	struct sip_ua_config cfg = {
		.bind_addr = "127.0.0.1",
		.user_agent = "Tollgate-test",
		.codecs = (const int[]){0},
		.ncodecs = 1,
		.authorize = yes,
		.registrar = on_registrar,
	};
	struct sip_ua *ua;
	struct sockaddr_in me, dst;
	socklen_t len = sizeof(me);
	char msg[2048];
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct timeval tv = {0, 10000};
	ssize_t n = -1;

	assert_int_equal(sip_ua_alloc(&ua, base, &cfg), 0);
	addr_of(&me, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&me, &len), 0);
	snprintf(msg, sizeof(msg), fmt, ntohs(me.sin_port));
	addr_of(&dst, sip_ua_port(ua));
	assert_true(sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&dst,
			   sizeof(dst)) > 0);
	for (int i = 0; i < 200 && n < 0; i++) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
		n = recv(fd, ans, size - 1, MSG_DONTWAIT);
	}
	assert_true(n > 0);
	ans[n] = '\0';
	close(fd);
	sip_ua_free(ua);
	event_base_free(base);
}

#define REG_HDRS(branch)                                                  \
	"REGISTER sip:127.0.0.1 SIP/2.0\r\n"                              \
	"Via: SIP/2.0/UDP 127.0.0.1:%u;rport;branch=z9hG4bK" branch "\r\n" \
	"Max-Forwards: 70\r\n"                                            \
	"From: <sip:office@127.0.0.1>;tag=t1\r\n"                         \
	"To: <sip:office@127.0.0.1>\r\n"                                  \
	"Call-ID: reg" branch "@test\r\nCSeq: 5 REGISTER\r\n"

static void test_registrar_contacts(void **state)
{
	char ans[4096];

	(void)state;
	memset(&seen, 0, sizeof(seen));
	seen.reply.status = 200;
	seen.reply.nbindings = 2;
	snprintf(seen.reply.bindings[0].uri, sizeof(seen.reply.bindings[0].uri),
		 "sip:a@192.0.2.1:5070");
	seen.reply.bindings[0].expires = 60;
	snprintf(seen.reply.bindings[1].uri, sizeof(seen.reply.bindings[1].uri),
		 "sip:b@192.0.2.2");
	seen.reply.bindings[1].expires = 300;
	registrar_exchange(REG_HDRS("r1")
			   "Contact: <sip:a@192.0.2.1:5070>;expires=60, "
			   "<sip:b@192.0.2.2>\r\n"
			   "Expires: 300\r\nContent-Length: 0\r\n\r\n",
			   ans, sizeof(ans));
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.ncontacts, 2);
	assert_string_equal(seen.c[0].uri, "sip:a@192.0.2.1:5070");
	assert_int_equal(seen.c[0].expires, 60);
	assert_string_equal(seen.c[1].uri, "sip:b@192.0.2.2");
	assert_int_equal(seen.c[1].expires, 300);
	assert_string_equal(seen.aor, "office");
	assert_int_equal(seen.cseq, 5);
	assert_false(seen.wildcard);
	assert_memory_equal(ans, "SIP/2.0 200 ", 12);
	assert_non_null(strstr(ans, "Contact: <sip:a@192.0.2.1:5070>;"
				    "expires=60\r\n"));
	assert_non_null(strstr(ans, "Contact: <sip:b@192.0.2.2>;"
				    "expires=300\r\n"));

	/* No Expires anywhere: -1, the registrar's default. */
	memset(&seen, 0, sizeof(seen));
	seen.reply.status = 423;
	seen.reply.min_expires = 60;
	registrar_exchange(REG_HDRS("r2")
			   "Contact: <sip:a@192.0.2.1>\r\n"
			   "Content-Length: 0\r\n\r\n", ans, sizeof(ans));
	assert_int_equal(seen.c[0].expires, -1);
	assert_memory_equal(ans, "SIP/2.0 423 ", 12);
	assert_non_null(strstr(ans, "Min-Expires: 60\r\n"));
}

static void test_registrar_wildcard(void **state)
{
	char ans[4096];

	(void)state;
	memset(&seen, 0, sizeof(seen));
	seen.reply.status = 200;
	registrar_exchange(REG_HDRS("w1") "Contact: *\r\nExpires: 0\r\n"
			   "Content-Length: 0\r\n\r\n", ans, sizeof(ans));
	assert_int_equal(seen.calls, 1);
	assert_true(seen.wildcard);
	assert_int_equal(seen.ncontacts, 0);
	assert_memory_equal(ans, "SIP/2.0 200 ", 12);
	assert_null(strstr(ans, "Contact:"));

	/* RFC 3261 10.3 6: "*" only with Expires: 0, and alone. */
	memset(&seen, 0, sizeof(seen));
	registrar_exchange(REG_HDRS("w2") "Contact: *\r\nExpires: 60\r\n"
			   "Content-Length: 0\r\n\r\n", ans, sizeof(ans));
	assert_memory_equal(ans, "SIP/2.0 400 ", 12);
	registrar_exchange(REG_HDRS("w3") "Contact: *\r\n"
			   "Contact: <sip:a@192.0.2.1>\r\nExpires: 0\r\n"
			   "Content-Length: 0\r\n\r\n", ans, sizeof(ans));
	assert_memory_equal(ans, "SIP/2.0 400 ", 12);
	/* An expires that is no delta-seconds is no removal: 400 (from
	 * the syntax check, or ours behind it). */
	registrar_exchange(REG_HDRS("w4")
			   "Contact: <sip:a@192.0.2.1>;expires=soon\r\n"
			   "Content-Length: 0\r\n\r\n", ans, sizeof(ans));
	assert_memory_equal(ans, "SIP/2.0 400 ", 12);
	registrar_exchange(REG_HDRS("w5") "Contact: <sip:a@192.0.2.1>\r\n"
			   "Expires: -1\r\nContent-Length: 0\r\n\r\n",
			   ans, sizeof(ans));
	assert_memory_equal(ans, "SIP/2.0 400 ", 12);
	assert_int_equal(seen.calls, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_challenge_granted),
		cmocka_unit_test(test_register_via_proxy),
		cmocka_unit_test(test_register_granted_default),
		cmocka_unit_test(test_register_423_and_retry_after),
		cmocka_unit_test(test_register_wrong_credentials),
		cmocka_unit_test(test_registrar_contacts),
		cmocka_unit_test(test_registrar_wildcard),
	};

	gw_log_level = GW_LOG_ERROR;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
