/* tests/unit/test_gateway.c  Cause mapping, config errors, DIDs, vframes */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "util/util.h"
#include "dialplan/dialplan.h"
#include "gateway/cause.h"
#include "gateway/conf.h"
#include "sip/sip.h"
#include "tdm/tdm.h"
#include "tdm/vframe.h"

/* RFC 3398 7.2.4.1 and 8.2.6.1, the rows the issue names and more. */
static void test_cause_to_sip(void **state)
{
	static const struct {
		int cause, status;
	} rows[] = {
		{1, 404}, {2, 404}, {3, 404}, {17, 486}, {18, 408}, {19, 480},
		{20, 480}, {21, 403}, {22, 410}, {27, 502}, {28, 484},
		{31, 480}, {34, 503}, {38, 503}, {41, 503}, {42, 503},
		{47, 503}, {55, 403}, {57, 403}, {58, 503}, {65, 488},
		{70, 488}, {79, 501}, {87, 403}, {88, 503}, {102, 504},
		{111, 500}, {127, 500},
		/* unlisted: by class */
		{4, 480}, {35, 503}, {50, 503}, {66, 501}, {95, 400},
		{100, 400}, {120, 500},
	};

	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		int got = gw_cause_to_sip(rows[i].cause);

		if (got != rows[i].status)
			fail_msg("cause %d -> %d, want %d", rows[i].cause, got,
				 rows[i].status);
	}
}

static void test_sip_to_cause(void **state)
{
	static const struct {
		int status, cause;
	} rows[] = {
		{400, 41}, {401, 21}, {402, 21}, {403, 21}, {404, 1},
		{405, 63}, {406, 79}, {407, 21}, {408, 102}, {410, 22},
		{413, 127}, {414, 127}, {415, 79}, {416, 127}, {420, 127},
		{421, 127}, {423, 127}, {480, 18}, {481, 41}, {482, 25},
		{483, 25}, {484, 28}, {485, 1}, {486, 17}, {500, 41},
		{501, 79}, {502, 38}, {503, 41}, {504, 102}, {505, 127},
		{513, 127}, {600, 17}, {603, 21}, {604, 1},
	};

	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		int got = gw_sip_to_cause(rows[i].status);

		if (got != rows[i].cause)
			fail_msg("SIP %d -> cause %d, want %d", rows[i].status,
				 got, rows[i].cause);
	}
	/* Round trips that matter to callers: busy stays busy. */
	assert_int_equal(gw_sip_to_cause(gw_cause_to_sip(17)), 17);
	assert_int_equal(gw_sip_to_cause(gw_cause_to_sip(1)), 1);
	assert_string_equal(gw_cause_text(17), "User busy");
}

static void test_disposition(void **state)
{
	assert_int_equal(gw_cause_disposition(17), CDR_BUSY);
	assert_int_equal(gw_cause_disposition(16), CDR_NO_ANSWER);
	assert_int_equal(gw_cause_disposition(19), CDR_NO_ANSWER);
	assert_int_equal(gw_cause_disposition(34), CDR_CONGESTION);
	assert_int_equal(gw_cause_disposition(1), CDR_FAILED);
	assert_int_equal(gw_cause_disposition(21), CDR_FAILED);
}

static const char good_conf[] =
	"; demo\n"
	"[general]\n"
	"log_level = info\n"
	"debug = sip-msg, q931\n"
	"[sip]\n"
	"bind = 127.0.0.1\n"
	"port = 5070  ; a comment\n"
	"realm = gw.example.net\n"
	"nonce_lifetime = 60\n"
	"codecs = pcma,pcmu\n"
	"[span 1]\n"
	"type = e1\n"
	"switch = euroisdn_e1\n"
	"side = network\n"
	"dir = /tmp/x\n"
	"audit = 5\n"
	"channel_select = preferred\n"
	"t303 = 1500\n"
	"overlap_send = yes\n"
	"overlap_send_digits = 3\n"
	"[trunk pbx]\n"
	"type = sip\n"
	"peer = 10.0.0.5:5080\n"
	"overlap = rfc3578\n"
	"accept_from = 10.0.0.0/24, 192.168.1.7, 172.16.0.1:5070, [2001:db8::1]:5062\n"
	"match_user = 5550100-5550199, +4420*, 2001\n"
	"dtmf = info\n"
	"t38 = yes\n"
	"options_interval = 15\n"
	"options_down = 4\n"
	"options_timeout = 1500\n"
	"auth_user = gw\n"
	"auth_password = gwpw\n"
	"inbound_user = pbx\n"
	"inbound_password = pbxpw\n"
	"inbound_digest = md5\n"
	"codecs = g722, pcma, pcmu, g729\n"
	"ptime = 30\n"
	"[trunk roam]\n"
	"type = sip\n"
	"peer = 10.0.0.6\n"
	"inbound_user = roamer\n"
	"inbound_password = rpw\n"
	"[trunk pstn]\n"
	"type = tdm\n"
	"spans = 1\n"
	"country_code = 1\n"
	"national_prefix = 1\n"
	"international_prefix = 011\n"
	"national_length = 10\n"
	"max_calls = 23\n"
	"cps = 5\n"
	"[routing]\n"
	"outbound = pstn, pbx\n"
	"attempt_trying_timeout = 1500\n"
	"[e911]\n"
	"notify = http://10.0.0.9:8080/e911\n"
	"notify = https://hooks.example.net/kari?site=hq\n"
	"notify_ca = /etc/tollgate/hook-ca.pem\n"
	"notify_cert = /etc/tollgate/gw.pem\n"
	"[dids]\n"
	"5550100-5550199 = pbx\n"
	"5551000 = pbx\n";

/* Trunk peers given by name (RFC 3263, gateway/targets.c). */
static void test_conf_names(void **state)
{
	static const char conf[] =
		"[trunk a]\ntype = sip\npeer = sip.Example.net\n"
		"[trunk b]\ntype = sip\nhost = sbc.example.net.:5080\n"
		"[trunk c]\ntype = sip\npeer = 10.0.0.1:5070\n"
		"[dns]\nttl_min = 5\nttl_max = 60\n";
	struct gw_config *cfg = malloc(sizeof(*cfg));
	const struct gw_trunk_cfg *t;
	char err[256] = "";

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(gw_config_parse(cfg, "t.conf", conf, strlen(conf),
					 err, sizeof(err)), 0);
	t = gw_config_trunk(cfg, "a");
	assert_string_equal(t->host, "sip.Example.net");
	assert_int_equal(t->host_port, 0);
	assert_int_equal(t->peer_len, 0);
	/* Its requests are known by its targets, not a fixed address. */
	assert_int_equal(t->naccept, 0);
	t = gw_config_trunk(cfg, "b");
	assert_string_equal(t->host, "sbc.example.net");
	assert_int_equal(t->host_port, 5080);
	t = gw_config_trunk(cfg, "c");
	assert_string_equal(t->host, "");
	assert_true(t->peer_len > 0);
	assert_int_equal(t->naccept, 1);
	assert_int_equal(cfg->dns_ttl_min, 5);
	assert_int_equal(cfg->dns_ttl_max, 60);
	free(cfg);
}

static void test_conf_good(void **state)
{
	struct gw_config *cfg = malloc(sizeof(*cfg));
	const struct gw_trunk_cfg *t;
	struct sockaddr_in in = {.sin_family = AF_INET};
	char err[256] = "";

	assert_non_null(cfg);
	assert_int_equal(gw_config_parse(cfg, "t.conf", good_conf,
					 strlen(good_conf), err, sizeof(err)),
			 0);
	assert_int_equal(cfg->log_level, GW_LOG_INFO);
	assert_int_equal(cfg->debug, GW_DBG_SIPMSG | GW_DBG_Q931);
	assert_int_equal(cfg->sip_port, 5070);
	assert_string_equal(cfg->sip_realm, "gw.example.net");
	assert_int_equal(cfg->nonce_lifetime, 60);
	assert_int_equal(cfg->ncodecs, 2);
	assert_int_equal(cfg->codecs[0], 8);
	{
		int c[GW_MAX_CODECS];

		/* A trunk's codecs and ptime, else [sip]'s. */
		t = gw_config_trunk(cfg, "pbx");
		assert_int_equal(gw_config_codecs(cfg, t, c), 4);
		assert_int_equal(c[0], 9);
		assert_int_equal(c[3], 18);
		assert_int_equal(gw_config_ptime(cfg, t), 30);
		t = gw_config_trunk(cfg, "roam");
		assert_int_equal(gw_config_codecs(cfg, t, c), 2);
		assert_int_equal(c[0], 8);
		assert_int_equal(gw_config_ptime(cfg, t), 20);
		assert_string_equal(gw_codec_name(18), "G729");
		assert_string_equal(gw_codec_name(3), "");
	}
	assert_int_equal(cfg->nspans, 1);
	assert_int_equal(cfg->spans[0].type, TDM_E1);
	assert_true(cfg->spans[0].network);
	assert_int_equal(cfg->spans[0].audit, 5);
	assert_true(cfg->spans[0].preferred);
	assert_int_equal(cfg->spans[0].timers[TDM_T303], 1500);
	assert_int_equal(cfg->spans[0].timers[TDM_T309], 0);
	assert_true(cfg->spans[0].overlap_send);
	assert_int_equal(cfg->spans[0].overlap_send_digits, 3);
	assert_int_equal(cfg->ndids, 2);
	assert_string_equal(cfg->dids[1].first, "5551000");
	assert_string_equal(cfg->dids[1].last, "5551000");
	t = gw_config_trunk(cfg, "pbx");
	assert_non_null(t);
	inet_pton(AF_INET, "10.0.0.77", &in.sin_addr);
	assert_true(gw_trunk_accepts(t, (struct sockaddr *)&in));
	assert_string_equal(t->auth_user, "gw");
	assert_string_equal(t->auth_password, "gwpw");
	assert_string_equal(t->inbound_user, "pbx");
	assert_int_equal(t->inbound_digest, SIP_DIGEST_OFFER_MD5);
	inet_pton(AF_INET, "10.0.1.77", &in.sin_addr);
	assert_false(gw_trunk_accepts(t, (struct sockaddr *)&in));
	inet_pton(AF_INET, "192.168.1.7", &in.sin_addr);
	assert_true(gw_trunk_accepts(t, (struct sockaddr *)&in));
	/* host:port: that port only. */
	inet_pton(AF_INET, "172.16.0.1", &in.sin_addr);
	in.sin_port = htons(5070);
	assert_true(gw_trunk_accepts(t, (struct sockaddr *)&in));
	in.sin_port = htons(5060);
	assert_false(gw_trunk_accepts(t, (struct sockaddr *)&in));
	{
		struct sockaddr_in6 in6 = {.sin6_family = AF_INET6};

		inet_pton(AF_INET6, "2001:db8::1", &in6.sin6_addr);
		in6.sin6_port = htons(5062);
		assert_true(gw_trunk_accepts(t, (struct sockaddr *)&in6));
		in6.sin6_port = htons(5060);
		assert_false(gw_trunk_accepts(t, (struct sockaddr *)&in6));
	}
	assert_true(gw_trunk_matches_user(t, "5550150"));
	assert_false(gw_trunk_matches_user(t, "55501500"));
	assert_true(gw_trunk_matches_user(t, "+442079460018"));
	assert_true(gw_trunk_matches_user(t, "2001"));
	assert_false(gw_trunk_matches_user(t, "2002"));
	assert_false(gw_trunk_matches_user(t, ""));
	assert_true(t->rfc3578);
	assert_int_equal(t->overlap_wait_ms, 2000);
	assert_int_equal(t->overlap_timeout_ms, 5000);
	/* Formats default by kind: SIP '+' E.164, PRI national. */
	assert_int_equal(t->called_fmt, DP_FMT_PLUS);
	assert_int_equal(t->calling_fmt, DP_FMT_PLUS);
	assert_string_equal(t->plan.cc, "");
	assert_int_equal(t->dtmf, GW_DTMF_INFO);
	assert_int_equal(t->srtp, GW_SRTP_OFF);
	assert_true(t->t38);
	assert_int_equal(t->options_interval, 15);
	assert_int_equal(t->options_down, 4);
	assert_int_equal(t->options_up, 2); /* the default */
	assert_int_equal(t->options_timeout_ms, 1500);
	/* Digest and no accept_from: from anywhere, known by the user
	 * (not even from its peer by address). */
	t = gw_config_trunk(cfg, "roam");
	assert_non_null(t);
	assert_false(t->t38); /* the default */
	assert_int_equal(t->naccept, 0);
	assert_int_equal(t->inbound_digest, 0);
	t = gw_config_trunk(cfg, "pstn");
	assert_non_null(t);
	assert_int_equal(t->dtmf, GW_DTMF_RFC4733); /* the default */
	assert_int_equal(t->called_fmt, DP_FMT_NATIONAL);
	assert_false(t->rfc3578);
	assert_string_equal(t->plan.cc, "1");
	assert_string_equal(t->plan.intl_prefix, "011");
	assert_int_equal(t->plan.nsn_len, 10);
	assert_int_equal(t->max_calls, 23);
	assert_int_equal(t->cps, 5);
	assert_int_equal(t->down_after, 2);
	/* Not probed unless asked: OPTIONS are off by default. */
	assert_int_equal(t->options_interval, 0);
	assert_int_equal(t->options_down, 3);
	assert_int_equal(t->options_timeout_ms, 2000);
	assert_string_equal(cfg->outbound, "pstn, pbx");
	assert_int_equal(cfg->t_trying_ms, 1500);
	assert_int_equal(cfg->nnotify, 2);
	assert_string_equal(cfg->notify[1],
			    "https://hooks.example.net/kari?site=hq");
	assert_string_equal(cfg->notify_ca, "/etc/tollgate/hook-ca.pem");
	assert_int_equal(cfg->notify_ca_line, 59);
	assert_string_equal(cfg->notify_cert, "/etc/tollgate/gw.pem");
	assert_string_equal(cfg->notify_key, "");
	{
		static const char srtp[] =
			"[trunk a]\ntype = sip\npeer = 10.0.0.5\n"
			"srtp = best-effort\n"
			"[trunk b]\ntype = sip\npeer = 10.0.0.6\n"
			"srtp = mandatory\n";

		assert_int_equal(gw_config_parse(cfg, "t.conf", srtp,
						 strlen(srtp), err,
						 sizeof(err)), 0);
		assert_int_equal(gw_config_trunk(cfg, "a")->srtp,
				 GW_SRTP_BEST_EFFORT);
		assert_int_equal(gw_config_trunk(cfg, "b")->srtp,
				 GW_SRTP_MANDATORY);
	}
	free(cfg);
}

/* RFC 4028 keys: [sip] defaults, the trunk's own, and Min-SE as the floor. */
static void test_conf_session_timer(void **state)
{
	static const char text[] =
		"[sip]\nmin_se = 120\n"
		"[trunk a]\ntype = sip\npeer = 10.0.0.5\nsession_expires = 0\n"
		"[trunk b]\ntype = sip\npeer = 10.0.0.6\nsession_expires = 60\n"
		"[trunk c]\ntype = sip\npeer = 10.0.0.7\nmin_se = 30\n"
		"session_expires = 45\n"
		"[trunk d]\ntype = sip\npeer = 10.0.0.8\n";
	struct gw_config *cfg = malloc(sizeof(*cfg));
	char err[256] = "";

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(gw_config_parse(cfg, "t.conf", text, strlen(text),
					 err, sizeof(err)), 0);
	assert_int_equal(cfg->session_expires, 1800);
	assert_int_equal(cfg->min_se, 120);
	assert_int_equal(gw_session_expires(cfg, NULL), 1800);
	assert_int_equal(gw_session_expires(cfg, gw_config_trunk(cfg, "a")), 0);
	/* Never under our own Min-SE. */
	assert_int_equal(gw_session_expires(cfg, gw_config_trunk(cfg, "b")),
			 120);
	assert_int_equal(gw_min_se(cfg, gw_config_trunk(cfg, "c")), 30);
	assert_int_equal(gw_session_expires(cfg, gw_config_trunk(cfg, "c")),
			 45);
	assert_int_equal(gw_session_expires(cfg, gw_config_trunk(cfg, "d")),
			 1800);
	assert_int_equal(gw_min_se(cfg, gw_config_trunk(cfg, "d")), 120);
	free(cfg);
}

/* Each bad file must be refused with file:line and the culprit named. */
static void test_conf_errors(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} rows[] = {
		{"[sip]\nport = 70000\n", "t.conf:2: port"},
		{"[sip]\nport = 50x\n", "t.conf:2: port"},
		{"[general]\nlog_level = loud\n", "t.conf:2: log_level"},
		{"[general]\nbogus = 1\n", "t.conf:2: unknown key 'bogus'"},
		{"[nope]\n", "t.conf:1: unknown section [nope]"},
		{"key = 1\n", "t.conf:1: key 'key' outside any section"},
		{"[sip\n", "t.conf:1: section header"},
		{"[sip]\njust words\n", "t.conf:2: expected 'key = value'"},
		{"[sip]\ncodecs = g723\n", "t.conf:2: codecs: 'g723'"},
		{"[sip]\ncodecs = g729, G729\n",
		 "t.conf:2: codecs: 'G729' listed twice"},
		{"[trunk x]\ncodecs = opus\n", "t.conf:2: codecs: 'opus'"},
		{"[trunk x]\nptime = 25\n",
		 "t.conf:2: ptime: 25 is not a multiple of 10"},
		{"[trunk x]\nptime = 70\n", "t.conf:2: ptime"},
		{"[span 1]\nswitch = bogus\n", "t.conf:2: switch"},
		{"[span 1]\n[span 1]\n", "t.conf:2: span 1 defined twice"},
		{"[span 1]\nt303 = 100\n",
		 "t.conf:2: t303: '100' is not a number from 500 to 30000"},
		{"[span 1]\nt309 = soon\n", "t.conf:2: t309: 'soon'"},
		{"[span 1]\nt316 = 0\n", "t.conf:2: t316: '0'"},
		{"[span 1]\nt200 = 2000\nt203 = 1500\n",
		 "t.conf:1: span 1: t203 must be longer than t200"},
		{"[span 1]\naudit = 100000\n", "t.conf:2: audit"},
		{"[span 1]\nchannel_select = any\n",
		 "t.conf:2: channel_select: 'any' is not exclusive or "
		 "preferred"},
		{"[trunk a]\ntype = sip\n", "t.conf:1: trunk 'a': a SIP trunk "
					    "needs peer"},
		{"[trunk a]\ntype = tdm\nspans = 4\n",
		 "t.conf:1: trunk 'a': span 4 is not defined"},
		{"[trunk a]\ntype = sip\npeer = no where\n", "t.conf:3: peer"},
		{"[trunk a]\ntype = sip\npeer = 1.2.3\n", "t.conf:3: peer"},
		{"[trunk a]\ntype = sip\npeer = a..test\n", "t.conf:3: peer"},
		{"[trunk a]\ntype = sip\nhost = a.test:0\n", "t.conf:3: host"},
		{"[dns]\nttl_min = 60\nttl_max = 5\n", "ttl_min must not be"},
		{"[routing]\noutbound = x\n", "no trunk 'x'"},
		{"[dids]\n555-5550 = pbx\n", "t.conf:2: DID range"},
		{"[trunk pbx]\ntype = sip\npeer = 1.2.3.4\n[dids]\n"
		 "10-19 = pstn\n",
		 "[dids] 10: no trunk 'pstn'"},
		{"[trunk a]\ntype = tdm\ncountry_code = 1x\n",
		 "t.conf:3: country_code: '1x' is not digits"},
		{"[trunk a]\ntype = sip\ncalled_format = weird\n",
		 "t.conf:3: called_format: 'weird'"},
		{"[trunk a]\ntype = sip\nnational_length = 16\n",
		 "t.conf:3: national_length"},
		{"[trunk a]\ntype = sip\ndown_time = 0\n",
		 "t.conf:3: down_time"},
		{"[trunk a]\ntype = sip\noverlap = yes\n",
		 "t.conf:3: overlap: 'yes' is not rfc3578 or no"},
		{"[trunk a]\ntype = sip\noverlap_wait = 5\n",
		 "t.conf:3: overlap_wait"},
		{"[span 1]\n[trunk a]\ntype = tdm\nspans = 1\n"
		 "overlap = rfc3578\n",
		 "t.conf:2: trunk 'a': overlap = rfc3578 is for SIP trunks"},
		{"[span 1]\noverlap_send_digits = 31\n",
		 "t.conf:2: overlap_send_digits"},
		{"[trunk a]\ntype = sip\ndtmf = 2833\n",
		 "t.conf:3: dtmf: '2833' is not rfc4733, info or inband"},
		{"[trunk a]\ntype = sip\nsrtp = yes\n",
		 "t.conf:3: srtp: 'yes' is not off, optional, mandatory or "
		 "best-effort"},
		{"[span 1]\n[trunk a]\ntype = tdm\nspans = 1\n"
		 "srtp = optional\n",
		 "t.conf:2: trunk 'a': srtp is for SIP trunks"},
		{"[trunk a]\ntype = sip\nt38 = maybe\n",
		 "t.conf:3: t38: 'maybe' is not yes or no"},
		{"[span 1]\n[trunk a]\ntype = tdm\nspans = 1\nt38 = yes\n",
		 "t.conf:2: trunk 'a': t38 is for SIP trunks"},
		{"[routing]\nattempt_trying_timeout = 5\n",
		 "t.conf:2: attempt_trying_timeout"},
		{"[trunk p]\ntype = sip\npeer = 1.2.3.4\n[routing]\n"
		 "outbound = p, q\n", "[routing] outbound: no trunk 'q'"},
		{"[e911]\nnotify = ftp://hook/\n",
		 "t.conf:2: notify: 'ftp://hook/' is not an http:// or "
		 "https:// URL"},
		{"[e911]\nnotify = https:///x\n", "t.conf:2: notify"},
		{"[e911]\nnotify_ca =\n", "t.conf:2: notify_ca: empty"},
		{"[e911]\nnotify = https://h/\nnotify_key = k.pem\n",
		 "t.conf:3: notify_key: no notify_cert to go with it"},
		{"[span 1]\nbackend = analog\n",
		 "t.conf:2: backend: 'analog' is not virtual or dahdi"},
		{"[span 1]\ndahdi_span = 0\n", "t.conf:2: dahdi_span"},
		{"[trunk a]\ntype = sip\npeer = 1.2.3.4\ninbound_user = u\n",
		 "trunk 'a': inbound_user and inbound_password go together"},
		{"[trunk a]\ntype = sip\npeer = 1.2.3.4\nauth_password = p\n",
		 "trunk 'a': auth_password without auth_user"},
		{"[trunk a]\ntype = sip\nmatch_header = X Bad: 1\n",
		 "match_header: 'X Bad: 1' is not 'Name: text'"},
		{"[trunk a]\ntype = sip\naccept_transport = udp, sctp\n",
		 "accept_transport: 'sctp' is not udp, tcp or tls"},
		{"[trunk a]\ntype = sip\nmatch_user = 12-3\n",
		 "match_user: '12-3' is not a number"},
		{"[trunk a]\ntype = sip\nmatch_user = 19-10\n",
		 "match_user: '19-10' is not a number"},
		{"[trunk a]\ntype = sip\naccept_from = 10.0.0.0/8:5060\n",
		 "accept_from: '10.0.0.0/8:5060' is not an address"},
		{"[trunk a]\ntype = sip\ninbound_digest = sha1\n",
		 "t.conf:3: inbound_digest: 'sha1' is not sha-256 or md5"},
		{"[trunk a]\ntype = sip\npeer = 1.2.3.4\nregister = yes\n",
		 "trunk 'a': register needs register_user or auth_user"},
		{"[trunk a]\ntype = sip\nregistrar = yes\n",
		 "trunk 'a': registrar needs inbound_user and inbound_password"},
		{"[trunk a]\ntype = sip\nregistrar = yes\ninbound_user = u\n"
		 "inbound_password = p\npeer = 1.2.3.4\n",
		 "trunk 'a': a registrar trunk's peer is its registered "
		 "contact"},
		{"[trunk a]\ntype = sip\nregistrar = yes\ninbound_user = u\n"
		 "inbound_password = p\naccept_from = 10.0.0.0/8\n",
		 "accept_from does not go with it"},
		{"[trunk a]\ntype = sip\nregistrar = yes\nregister = yes\n"
		 "inbound_user = u\ninbound_password = p\nauth_user = v\n",
		 "trunk 'a': register and registrar exclude each other"},
		{"[trunk a]\ntype = sip\npeer = 1.2.3.4\nregister = yes\n"
		 "auth_user = u\nregister_retry_min = 60\n"
		 "register_retry_max = 30\n",
		 "register_retry_min is above register_retry_max"},
		{"[trunk a]\ntype = sip\nregister_expires = 0\n",
		 "t.conf:3: register_expires"},
		{"[span 1]\n[trunk a]\ntype = tdm\nspans = 1\n"
		 "register = yes\n",
		 "trunk 'a': register and registrar are for SIP trunks"},
		{"[span 1]\n[trunk a]\ntype = tdm\nspans = 1\n"
		 "auth_user = u\n",
		 "trunk 'a': digest credentials are for SIP trunks"},
		{"[sip]\nnonce_lifetime = 0\n", "t.conf:2: nonce_lifetime"},
		{"[trunk a]\ntype = sip\noptions_interval = 3601\n",
		 "t.conf:3: options_interval"},
		{"[trunk a]\ntype = sip\noptions_down = 0\n",
		 "t.conf:3: options_down"},
		{"[trunk a]\ntype = sip\noptions_up = 0\n",
		 "t.conf:3: options_up"},
		{"[trunk a]\ntype = sip\noptions_timeout = 50\n",
		 "t.conf:3: options_timeout: '50' is not a number from 100 to "
		 "32000"},
		{"[span 1]\n[trunk a]\ntype = tdm\nspans = 1\n"
		 "options_interval = 5\n",
		 "t.conf:2: trunk 'a': options_interval is for SIP trunks"},
		/* SIP over TCP and TLS */
		{"[trunk a]\ntype = sip\npeer = 10.0.0.1\ntransport = sctp\n",
		 "t.conf:4: transport: 'sctp' is not udp, tcp or tls"},
		{"[trunk a]\ntype = sip\npeer = 10.0.0.1\ntransport = tcp\n",
		 "t.conf:1: trunk 'a': transport = tcp needs [sip] tcp = yes"},
		{"[trunk a]\ntype = sip\npeer = 10.0.0.1\ntransport = tls\n",
		 "trunk 'a': transport = tls needs [sip] tls = yes"},
		{"[trunk a]\ntype = sip\npeer = 10.0.0.1\n"
		 "tls_server_name = x.test\n",
		 "trunk 'a': tls_server_name without transport = tls"},
		{"[trunk a]\ntype = sip\npeer = sbc.example.net\n"
		 "tls_server_name = x.test\n",
		 "trunk 'a': tls_server_name without transport = tls (or a "
		 "peer name without transport and [sip] tls = yes)"},
		{"[sip]\ntls = yes\ntls_cert = /dev/null\n[trunk a]\n"
		 "type = sip\npeer = sbc.example.net\ntransport = udp\n"
		 "tls_server_name = x.test\n",
		 "trunk 'a': tls_server_name without transport = tls"},
		{"[span 1]\n[trunk a]\ntype = tdm\nspans = 1\n"
		 "transport = tcp\n",
		 "trunk 'a': transport is for SIP trunks"},
		{"[sip]\ntls = yes\n", "[sip] tls = yes needs tls_cert"},
		{"[sip]\ntls_cert = /nonexistent/gw.pem\n",
		 "t.conf:2: tls_cert: /nonexistent/gw.pem: No such file"},
		{"[sip]\ntls_ca = /dev/null\n",
		 "tls_cert, tls_ca and tls_client_cert need tls = yes"},
		{"[sip]\ntls_port = 65536\n", "t.conf:2: tls_port"},
		{"[sip]\ntcp_idle_timeout = 0\n", "t.conf:2: tcp_idle_timeout"},
		{"[sip]\ntcp_max_connections = 0\n",
		 "t.conf:2: tcp_max_connections"},
		{"[sip]\ntls_verify = maybe\n",
		 "t.conf:2: tls_verify: 'maybe' is not yes or no"},
		{"[sip]\ntcp = yes\ntls = yes\ntls_cert = /dev/null\n"
		 "tls_port = 5060\n", "[sip] tls_port 5060 is the TCP port"},
		{"[sip]\nexternal_address = gw.example.com\n",
		 "t.conf:2: external_address: 'gw.example.com' is not a "
		 "numeric IPv4 or IPv6 address"},
		{"[sip]\nexternal_media_address = 10.0.0.0/8\n",
		 "t.conf:2: external_media_address"},
		{"[sip]\nlocal_nets = 10.0.0.0/8, 192.168.0.0/33\n",
		 "t.conf:2: local_nets: '192.168.0.0/33' is not an address "
		 "or CIDR block"},
		{"[sip]\nlocal_nets = 1.0.0.0/8 2.0.0.0/8 3.0.0.0/8 4.0.0.0/8 "
		 "5.0.0.0/8 6.0.0.0/8 7.0.0.0/8 8.0.0.0/8 9.0.0.0/8 10.0.0.0/8 "
		 "11.0.0.0/8 12.0.0.0/8 13.0.0.0/8 14.0.0.0/8 15.0.0.0/8 "
		 "16.0.0.0/8 17.0.0.0/8\n",
		 "t.conf:2: local_nets: more than 16 entries"},
		{"[trunk a]\ntype = sip\nnat = maybe\n", "t.conf:3: nat"},
		{"[trunk a]\ntype = sip\nrtp_latch = 2\n",
		 "t.conf:3: rtp_latch"},
		{"[span 1]\n[trunk a]\ntype = tdm\nspans = 1\nnat = yes\n",
		 "trunk 'a': nat and rtp_latch are for SIP trunks"},
		{"[trunk a]\ntype = sip\npeer = [::1]:5070\n",
		 "t.conf:1: trunk 'a': peer [::1]:5070 is IPv6 but [sip] has "
		 "no IPv6 socket (bind6 or an IPv6 bind)"},
		{"[sip]\nbind = ::1\n[trunk a]\ntype = sip\n"
		 "peer = 10.0.0.1\n",
		 "trunk 'a': peer 10.0.0.1 is IPv4 but [sip] has no IPv4 "
		 "socket (an IPv4 bind)"},
		{"[sip]\nbind = ::1\nbind6 = ::2\n",
		 "[sip] bind6 is for an IPv4 bind"},
		{"[sip]\nbind6 = 127.0.0.1\n",
		 "t.conf:2: bind6: '127.0.0.1' is not an IPv6 address"},
	};
	struct gw_config *cfg = malloc(sizeof(*cfg));

	assert_non_null(cfg);
	for (size_t i = 0; i < TG_ARRAY_SIZE(rows); i++) {
		char err[256] = "";
		int rc = gw_config_parse(cfg, "t.conf", rows[i].text,
					 strlen(rows[i].text), err,
					 sizeof(err));

		if (rc != EINVAL || !strstr(err, rows[i].want))
			fail_msg("row %zu: rc %d, message '%s', want '%s'", i,
				 rc, err, rows[i].want);
	}
	free(cfg);
}

/* NAT keys: the external addresses and local nets, and per trunk nat
 * with rtp_latch following it unless given. */
static void test_conf_nat(void **state)
{
	static const char text[] =
		"[sip]\nexternal_address = 198.51.100.7\n"
		"external_media_address = 198.51.100.8\n"
		"local_nets = 10.0.0.0/8, 192.168.0.0/16 fd00::/8\n"
		"[trunk a]\ntype = sip\npeer = 10.0.0.1\nnat = yes\n"
		"[trunk b]\ntype = sip\npeer = 10.0.0.2\nnat = yes\n"
		"rtp_latch = no\n"
		"[trunk c]\ntype = sip\npeer = 10.0.0.3\nrtp_latch = yes\n"
		"[trunk d]\ntype = sip\npeer = [::1]:5070\n"
		"[sip]\nbind6 = ::1\n";
	struct gw_config *cfg = malloc(sizeof(*cfg));
	struct sockaddr_in in = {.sin_family = AF_INET};
	char err[256] = "";

	assert_non_null(cfg);
	assert_int_equal(gw_config_parse(cfg, "t.conf", text, strlen(text),
					 err, sizeof(err)), 0);
	assert_string_equal(cfg->external_addr, "198.51.100.7");
	assert_string_equal(cfg->external_media_addr, "198.51.100.8");
	assert_int_equal(cfg->nlocal_nets, 3);
	inet_pton(AF_INET, "192.168.44.1", &in.sin_addr);
	assert_true(sip_nets_match(cfg->local_nets, cfg->nlocal_nets,
				   (struct sockaddr *)&in));
	inet_pton(AF_INET, "172.16.0.1", &in.sin_addr);
	assert_false(sip_nets_match(cfg->local_nets, cfg->nlocal_nets,
				    (struct sockaddr *)&in));
	assert_true(gw_config_trunk(cfg, "a")->nat);
	assert_true(gw_trunk_latch(gw_config_trunk(cfg, "a")));
	assert_false(gw_trunk_latch(gw_config_trunk(cfg, "b")));
	assert_false(gw_config_trunk(cfg, "c")->nat);
	assert_true(gw_trunk_latch(gw_config_trunk(cfg, "c")));
	assert_false(gw_trunk_latch(gw_config_trunk(cfg, "d")));
	assert_int_equal(gw_config_trunk(cfg, "d")->peer.ss_family, AF_INET6);
	free(cfg);
}

/* Jitter buffer keys: [sip] defaults, a trunk overrides key by key. */
static void test_conf_jb(void **state)
{
	static const char text[] =
		"[sip]\njb_max = 120\n"
		"[trunk a]\ntype = sip\npeer = 10.0.0.1\njb_min = 40\n"
		"jb_mode = fixed\n"
		"[trunk b]\ntype = sip\npeer = 10.0.0.2\n";
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"[sip]\njb_min = 301\n", "t.conf:2: jb_min"},
		{"[sip]\njb_max = 10\n", "t.conf:2: jb_max"},
		{"[sip]\njb_mode = fast\n",
		 "t.conf:2: jb_mode: 'fast' is not adaptive or fixed"},
		{"[sip]\njb_min = 100\njb_max = 50\n",
		 "[sip] jb_min must not be over jb_max"},
		{"[sip]\njb_max = 50\n[trunk a]\ntype = sip\n"
		 "peer = 10.0.0.1\njb_min = 60\n",
		 "t.conf:3: trunk 'a': jb_min must not be over jb_max"},
	};
	struct gw_config *cfg = malloc(sizeof(*cfg));
	struct gw_jb jb;
	char err[256] = "";

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(gw_config_parse(cfg, "t.conf", text, strlen(text),
					 err, sizeof(err)), 0);
	jb = gw_config_jb(cfg, NULL);
	assert_int_equal(jb.min_ms, 20);
	assert_int_equal(jb.max_ms, 120);
	assert_int_equal(jb.fixed, 0);
	jb = gw_config_jb(cfg, gw_config_trunk(cfg, "a"));
	assert_int_equal(jb.min_ms, 40);
	assert_int_equal(jb.max_ms, 120);
	assert_int_equal(jb.fixed, 1);
	jb = gw_config_jb(cfg, gw_config_trunk(cfg, "b"));
	assert_int_equal(jb.min_ms, 20);
	assert_int_equal(jb.fixed, 0);
	for (size_t i = 0; i < TG_ARRAY_SIZE(bad); i++) {
		int rc = gw_config_parse(cfg, "t.conf", bad[i].text,
					 strlen(bad[i].text), err,
					 sizeof(err));

		if (rc != EINVAL || !strstr(err, bad[i].want))
			fail_msg("row %zu: rc %d, message '%s', want '%s'", i,
				 rc, err, bad[i].want);
	}
	free(cfg);
}

/* TCP and TLS keys: defaults and a trunk's transport (the refusals are
 * rows of the table above). */
static void test_conf_transport(void **state)
{
	static const char text[] =
		"[sip]\ntcp = yes\ntcp_idle_timeout = 30\n"
		"[trunk a]\ntype = sip\npeer = 10.0.0.1\ntransport = TCP\n"
		"[trunk b]\ntype = sip\npeer = 10.0.0.2\n";
	/* A name without transport: DNS chooses, maybe TLS, which the
	 * name is then for. */
	static const char named[] =
		"[sip]\ntls = yes\ntls_cert = /dev/null\n"
		"[trunk c]\ntype = sip\npeer = sbc.example.net\n"
		"tls_server_name = sbc.test\n";
	struct gw_config *cfg = malloc(sizeof(*cfg));
	char err[256] = "";

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(gw_config_parse(cfg, "t.conf", text, strlen(text),
					 err, sizeof(err)), 0);
	assert_true(cfg->sip_tcp);
	assert_false(cfg->sip_tls);
	assert_int_equal(cfg->tls_port, 5061);
	assert_true(cfg->tls_verify);
	assert_int_equal(cfg->tcp_idle_timeout, 30);
	assert_int_equal(cfg->tcp_max_connections, 1024);
	assert_int_equal(gw_config_trunk(cfg, "a")->transport,
			 SIP_TRANSPORT_TCP);
	assert_int_equal(gw_config_trunk(cfg, "b")->transport,
			 SIP_TRANSPORT_UDP);
	assert_true(gw_config_trunk(cfg, "a")->transport_set);
	assert_false(gw_config_trunk(cfg, "b")->transport_set);
	assert_int_equal(gw_config_parse(cfg, "t.conf", named, strlen(named),
					 err, sizeof(err)), 0);
	assert_false(gw_config_trunk(cfg, "c")->transport_set);
	assert_string_equal(gw_config_trunk(cfg, "c")->tls_name, "sbc.test");
	free(cfg);
}

/* register and registrar: the defaults, and a registrar trunk needs no
 * peer (its calls go where its PBX registered from). */
static void test_conf_registration(void **state)
{
	static const char text[] =
		"[trunk prov]\ntype = sip\npeer = 192.0.2.1\nregister = yes\n"
		"auth_user = acct\nauth_password = pw\n"
		"[trunk office]\ntype = sip\nregistrar = yes\n"
		"inbound_user = office\ninbound_password = pw\n"
		"registrar_min_expires = 30\n";
	struct gw_config *cfg = malloc(sizeof(*cfg));
	const struct gw_trunk_cfg *t;
	char err[256] = "";

	(void)state;
	assert_non_null(cfg);
	assert_int_equal(gw_config_parse(cfg, "t.conf", text, strlen(text),
					 err, sizeof(err)), 0);
	t = gw_config_trunk(cfg, "prov");
	assert_true(t->reg);
	assert_int_equal(t->reg_expires, 3600);
	assert_int_equal(t->reg_retry_min, 30);
	assert_int_equal(t->reg_retry_max, 1800);
	t = gw_config_trunk(cfg, "office");
	assert_true(t->registrar);
	assert_int_equal(t->peer_len, 0);
	assert_int_equal(t->naccept, 0);
	assert_int_equal(t->registrar_min, 30);
	assert_int_equal(t->registrar_max, 3600);
	free(cfg);
}

/* backend = dahdi: parsed when the build has it, refused as not available
 * (not as unknown) when it has not. */
static void test_conf_dahdi(void **state)
{
	static const char text[] = "[span 2]\nbackend = dahdi\n"
				   "dahdi_span = 3\n[span 1]\n";
	struct gw_config *cfg = malloc(sizeof(*cfg));
	char err[256] = "";
	int rc;

	assert_non_null(cfg);
	rc = gw_config_parse(cfg, "t.conf", text, strlen(text), err,
			     sizeof(err));
	if (tdm_backend_available("dahdi")) {
		assert_int_equal(rc, 0);
		assert_string_equal(cfg->spans[0].backend, "dahdi");
		assert_int_equal(cfg->spans[0].dahdi_span, 3);
		assert_string_equal(cfg->spans[1].backend, "virtual");
		assert_int_equal(cfg->spans[1].dahdi_span, 0);
	} else {
		assert_int_equal(rc, EINVAL);
		assert_non_null(strstr(err, "t.conf:2: backend: 'dahdi' is "
					    "not available in this build"));
	}
	assert_true(tdm_backend_available("virtual"));
	assert_false(tdm_backend_available("analog"));
	free(cfg);
}

static void test_did_lookup(void **state)
{
	struct dp_did_range rows[] = {
		{"5550100", "5550199", "pbx", "", "", "", ""},
		{"5551000", "5551000", "fax", "fax1", "", "", ""},
		{"4440", "4449", "short", "", "", "", ""},
	};
	struct dp_did_table *t = NULL;
	const struct dp_did_range *r;
	long live = obj_live_count();
	char err[256];

	assert_int_equal(dp_did_table_build(&t, rows, 3, err, sizeof(err)),
			 0);
	assert_int_equal(dp_did_count(t), 3);
	r = dp_did_lookup(t, "5550100");
	assert_non_null(r);
	assert_string_equal(r->trunk, "pbx");
	assert_non_null(dp_did_lookup(t, "5550199"));
	assert_null(dp_did_lookup(t, "5550200"));
	assert_null(dp_did_lookup(t, "5550099"));
	r = dp_did_lookup(t, "5551000");
	assert_non_null(r);
	assert_string_equal(r->user, "fax1");
	assert_string_equal(dp_did_lookup(t, "4445")->trunk, "short");
	assert_null(dp_did_lookup(t, "44450"));
	assert_null(dp_did_lookup(t, "555010a"));
	assert_null(dp_did_lookup(t, ""));
	obj_deref(t);
	assert_int_equal(obj_live_count(), live);
}

static void test_did_refused(void **state)
{
	struct dp_did_range overlap[] = {
		{"5550100", "5550199", "pbx", "", "", "", ""},
		{"5550150", "5550250", "pbx", "", "", "", ""},
	};
	struct dp_did_range bad[] = {{"55501", "5550199", "pbx", "", "", "", ""}};
	struct dp_did_table *t = NULL;
	char err[256];

	assert_int_equal(dp_did_table_build(&t, overlap, 2, err, sizeof(err)),
			 EINVAL);
	assert_non_null(strstr(err, "overlap"));
	assert_int_equal(dp_did_table_build(&t, bad, 1, err, sizeof(err)),
			 EINVAL);
	assert_non_null(strstr(err, "55501"));
	assert_null(t);
}

static void test_vframe(void **state)
{
	uint8_t f[TDM_VFRAME_MAX];
	uint32_t seq = 0;

	memset(f, 0xff, sizeof(f));
	tdm_vframe_put_hdr(f, 0x01020304);
	assert_int_equal(tdm_vframe_check(f, tdm_vframe_size(23), 23, &seq),
			 0);
	assert_int_equal(seq, 0x01020304);
	/* Wrong size for the span, or a frame of another span type. */
	assert_int_equal(tdm_vframe_check(f, tdm_vframe_size(23) - 1, 23,
					  &seq),
			 EBADMSG);
	assert_int_equal(tdm_vframe_check(f, tdm_vframe_size(30), 23, &seq),
			 EBADMSG);
	f[0] = 'X';
	assert_int_equal(tdm_vframe_check(f, tdm_vframe_size(23), 23, &seq),
			 EBADMSG);
	/* Timeslot 2 starts 160 octets after timeslot 1. */
	assert_ptr_equal(tdm_vframe_slot(f, 2) - tdm_vframe_slot(f, 1), 160);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cause_to_sip),
		cmocka_unit_test(test_sip_to_cause),
		cmocka_unit_test(test_disposition),
		cmocka_unit_test(test_conf_good),
		cmocka_unit_test(test_conf_session_timer),
		cmocka_unit_test(test_conf_names),
		cmocka_unit_test(test_conf_errors),
		cmocka_unit_test(test_conf_jb),
		cmocka_unit_test(test_conf_transport),
		cmocka_unit_test(test_conf_nat),
		cmocka_unit_test(test_conf_dahdi),
		cmocka_unit_test(test_conf_registration),
		cmocka_unit_test(test_did_lookup),
		cmocka_unit_test(test_did_refused),
		cmocka_unit_test(test_vframe),
	};

	gw_log_level = GW_LOG_ERROR;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
