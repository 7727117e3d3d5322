/* gateway/conf.c  tollgate.conf: an INI reader with line numbers, keys */
#include <config.h>

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sip/sip.h"
#include "util/util.h"
#include "conf.h"

#define MAX_LINE 1024
#define MAX_FILE (1 << 20)

struct parser {
	struct gw_config *cfg;
	const char *name;
	int line;
	char section[64];
	char arg[64];          /* "[span 1]" -> section "span", arg "1" */
	void *cur;             /* the span or trunk being filled */
	char *err;
	size_t errsize;
};

static int fail(struct parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int fail(struct parser *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errsize, "%s:%d: %s", p->name, p->line, msg);
	return EINVAL;
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

static int parse_uint(struct parser *p, const char *key, const char *v,
		      unsigned long min, unsigned long max,
		      unsigned long *out)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (!*v || *end || errno || *v == '-' || x < min || x > max)
		return fail(p, "%s: '%s' is not a number from %lu to %lu", key,
			    v, min, max);
	*out = x;
	return 0;
}

/* parse_uint into an unsigned field, left as it was on error. */
static int parse_unsigned(struct parser *p, const char *key, const char *v,
			  unsigned long min, unsigned long max, unsigned *out)
{
	unsigned long n;
	int err = parse_uint(p, key, v, min, max, &n);

	if (!err)
		*out = (unsigned)n;
	return err;
}

static int parse_bool(struct parser *p, const char *key, const char *v,
		      bool *out)
{
	if (!strcasecmp(v, "yes") || !strcasecmp(v, "true") ||
	    !strcmp(v, "1") || !strcasecmp(v, "on"))
		*out = true;
	else if (!strcasecmp(v, "no") || !strcasecmp(v, "false") ||
		 !strcmp(v, "0") || !strcasecmp(v, "off"))
		*out = false;
	else
		return fail(p, "%s: '%s' is not yes or no", key, v);
	return 0;
}

static int parse_str(struct parser *p, const char *key, const char *v,
		     char *dst, size_t size)
{
	if (!*v)
		return fail(p, "%s: empty value", key);
	if (strlen(v) >= size)
		return fail(p, "%s: longer than %zu characters", key,
			    size - 1);
	tg_strlcpy(dst, v, size);
	return 0;
}

/* "1.2.3.4:5060", "1.2.3.4" (port 5060), "[::1]:5060". */
static int parse_hostport(const char *v, struct sockaddr_storage *ss,
			  socklen_t *len)
{
	char host[80];
	const char *port = NULL;
	unsigned long pn = 5060;
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	if (strlen(v) >= sizeof(host))
		return EINVAL;
	if (*v == '[') {
		const char *e = strchr(v, ']');

		if (!e)
			return EINVAL;
		snprintf(host, sizeof(host), "%.*s", (int)(e - v - 1), v + 1);
		if (e[1] == ':')
			port = e + 2;
		else if (e[1])
			return EINVAL;
	} else {
		const char *c = strchr(v, ':');

		if (c) {
			snprintf(host, sizeof(host), "%.*s", (int)(c - v), v);
			port = c + 1;
		} else {
			tg_strlcpy(host, v, sizeof(host));
		}
	}
	if (port) {
		char *end;

		pn = strtoul(port, &end, 10);
		if (!*port || *end || pn == 0 || pn > 65535)
			return EINVAL;
	}
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)pn);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)pn);
		*len = sizeof(*sin6);
		return 0;
	}
	return EINVAL;
}

/* A host name (RFC 1123 2.1 letters, digits, hyphens, dots; not all
 * digits and dots, which would be a bad address) and an optional :port. */
static int parse_dns_name(const char *v, char *host, size_t size,
			  uint16_t *port)
{
	const char *c = strchr(v, ':');
	size_t n = c ? (size_t)(c - v) : strlen(v);
	bool alpha = false;

	*port = 0;
	if (!n || n >= size || v[0] == '.' || v[0] == '-')
		return EINVAL;
	for (size_t i = 0; i < n; i++) {
		char ch = v[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    ch == '-')
			alpha = true;
		else if (!(ch >= '0' && ch <= '9') && ch != '.')
			return EINVAL;
		if (ch == '.' && v[i + 1] == '.')
			return EINVAL;
	}
	if (!alpha)
		return EINVAL;
	if (c) {
		char *end;
		unsigned long pn = strtoul(c + 1, &end, 10);

		if (!c[1] || *end || pn == 0 || pn > 65535)
			return EINVAL;
		*port = (uint16_t)pn;
	}
	memcpy(host, v, n);
	host[n] = '\0';
	/* A trailing dot (absolute name) is how DNS writes it anyway. */
	if (host[n - 1] == '.')
		host[n - 1] = '\0';
	return 0;
}

/* A comma- or space-separated list of addresses and CIDR blocks. */
static int parse_nets(struct parser *p, const char *k, const char *v,
		      struct sip_net *nets, unsigned max, unsigned *np)
{
	char buf[512], *save = NULL, *tok;

	if (strlen(v) >= sizeof(buf))
		return fail(p, "%s: too long", k);
	tg_strlcpy(buf, v, sizeof(buf));
	*np = 0;
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		if (*np == max)
			return fail(p, "%s: more than %u entries", k, max);
		if (sip_net_parse(&nets[*np], tok))
			return fail(p, "%s: '%s' is not an address or CIDR "
				    "block", k, tok);
		(*np)++;
	}
	return 0;
}

/* One accept_from entry: an address block (sip_net_parse), or one host
 * from one port only ("192.0.2.7:5070", "[2001:db8::7]:5070"). */
static int parse_net(const char *v, struct gw_net *net)
{
	struct sockaddr_storage *ss = &net->net.addr;
	socklen_t len;

	memset(net, 0, sizeof(*net));
	/* v4:port or [v6][:port]: one host (from that port only). */
	if (!strchr(v, '/') && (*v == '[' || (strchr(v, ':') &&
					      strchr(v, ':') == strrchr(v, ':')))) {
		bool with_port = *v == '[' ? strstr(v, "]:") != NULL : true;

		if (strlen(v) >= 80 || parse_hostport(v, ss, &len))
			return EINVAL;
		if (ss->ss_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

			net->port = with_port ? ntohs(s6->sin6_port) : 0;
			s6->sin6_port = 0;
			net->net.prefix = 128;
		} else {
			struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

			net->port = ntohs(s4->sin_port);
			s4->sin_port = 0;
			net->net.prefix = 32;
		}
		return 0;
	}
	return sip_net_parse(&net->net, v);
}

static bool net_match(const struct gw_net *net, const struct sockaddr *src)
{
	if (net->port &&
	    net->port != ntohs(src->sa_family == AF_INET
				       ? ((const struct sockaddr_in *)src)->sin_port
				       : ((const struct sockaddr_in6 *)src)
						 ->sin6_port))
		return false;
	return sip_net_match(&net->net, src);
}

const char *gw_media_addr(const struct gw_config *cfg, int family)
{
	/* media_addr of the other family would give a socket that cannot
	 * reach the far end. */
	if (family == AF_INET6 && *cfg->media_addr6)
		return cfg->media_addr6;
	if (family == AF_INET6 && *cfg->sip_bind6 &&
	    strcmp(cfg->sip_bind6, "::"))
		return cfg->sip_bind6;
	return cfg->media_addr;
}

bool gw_trunk_latch(const struct gw_trunk_cfg *t)
{
	return t && (t->rtp_latch >= 0 ? t->rtp_latch > 0 : t->nat);
}

static int parse_user_match(const char *tok, struct gw_user_match *m)
{
	const char *dash = strchr(tok, '-');
	size_t n = strlen(tok);

	memset(m, 0, sizeof(*m));
	if (!n || n >= sizeof(m->first))
		return EINVAL;
	if (tok[n - 1] == '*') {
		/* A prefix: first = last = the digits, matched as a prefix. */
		if (strspn(tok, "+0123456789") != n - 1)
			return EINVAL;
		memcpy(m->first, tok, n - 1);
		return 0;
	}
	if (!dash) {
		if (strspn(tok, "+0123456789") != n)
			return EINVAL;
		tg_strlcpy(m->first, tok, sizeof(m->first));
		tg_strlcpy(m->last, tok, sizeof(m->last));
		return 0;
	}
	if ((size_t)(dash - tok) != n - (size_t)(dash - tok) - 1 ||
	    strspn(tok, "+0123456789") != (size_t)(dash - tok) ||
	    strspn(dash + 1, "+0123456789") != strlen(dash + 1))
		return EINVAL;
	memcpy(m->first, tok, (size_t)(dash - tok));
	tg_strlcpy(m->last, dash + 1, sizeof(m->last));
	return strcmp(m->first, m->last) > 0 ? EINVAL : 0;
}

bool gw_trunk_matches_user(const struct gw_trunk_cfg *t, const char *user)
{
	size_t n = user ? strlen(user) : 0;

	if (!t->nmatch_user)
		return true;
	for (unsigned i = 0; n && i < t->nmatch_user; i++) {
		const struct gw_user_match *m = &t->match_user[i];

		if (!*m->last) {
			if (!strncmp(user, m->first, strlen(m->first)))
				return true;
		} else if (n == strlen(m->first) &&
			   strcmp(user, m->first) >= 0 &&
			   strcmp(user, m->last) <= 0) {
			return true;
		}
	}
	return false;
}

bool gw_trunk_accepts(const struct gw_trunk_cfg *t,
		      const struct sockaddr *src)
{
	for (unsigned i = 0; i < t->naccept; i++)
		if (net_match(&t->accept[i], src))
			return true;
	return false;
}

static int key_general(struct parser *p, const char *k, const char *v)
{
	struct gw_config *cfg = p->cfg;
	unsigned long n;
	int err = 0;

	if (!strcmp(k, "log_level")) {
		int lvl = gw_log_level_parse(v);

		if (lvl < 0)
			return fail(p, "log_level: '%s' is not one of error, "
				    "warning, notice, info, debug", v);
		cfg->log_level = lvl;
	} else if (!strcmp(k, "log_syslog")) {
		err = parse_bool(p, k, v, &cfg->log_syslog);
	} else if (!strcmp(k, "debug")) {
		if (gw_debug_parse(v, &cfg->debug))
			return fail(p, "debug: '%s' has a name other than "
				    "sip-msg, q921, q931, media, call, cdr, "
				    "all, none", v);
	} else if (!strcmp(k, "control_socket")) {
		err = parse_str(p, k, v, cfg->control, sizeof(cfg->control));
	} else if (!strcmp(k, "drain_timeout")) {
		err = parse_uint(p, k, v, 0, 86400, &n);
		cfg->drain_timeout = (unsigned)n;
	} else if (!strcmp(k, "media_workers")) {
		err = parse_uint(p, k, v, 1, 64, &n);
		cfg->media_workers = (unsigned)n;
	} else if (!strcmp(k, "ring_timeout")) {
		err = parse_uint(p, k, v, 1, 3600, &n);
		cfg->ring_timeout = (unsigned)n;
	} else {
		return fail(p, "unknown key '%s' in [general]", k);
	}
	return err;
}

static const struct {
	const char *name;
	int pt;
} codec_names[GW_MAX_CODECS] = {
	{"pcmu", 0}, {"pcma", 8}, {"g722", 9}, {"g729", 18},
};

int gw_codec_pt(const char *name)
{
	unsigned i;

	for (i = 0; i < GW_MAX_CODECS; i++)
		if (!strcasecmp(name, codec_names[i].name))
			return codec_names[i].pt;
	return -1;
}

const char *gw_codec_name(int pt)
{
	static const char *const upper[] = {"PCMU", "PCMA", "G722", "G729"};
	unsigned i;

	for (i = 0; i < GW_MAX_CODECS; i++)
		if (codec_names[i].pt == pt)
			return upper[i];
	return "";
}

/* "g722, pcma, pcmu, g729": codecs in order of preference ([sip] or a
 * trunk's). */
static int parse_codecs(struct parser *p, const char *v, int *codecs,
			unsigned *ncodecs)
{
	char buf[64], *save = NULL, *tok;
	unsigned n = 0;

	if (strlen(v) >= sizeof(buf))
		return fail(p, "codecs: too long");
	tg_strlcpy(buf, v, sizeof(buf));
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		int pt;

		pt = gw_codec_pt(tok);
		if (pt < 0)
			return fail(p, "codecs: '%s' is not pcmu, pcma, g722 "
				    "or g729", tok);
		for (unsigned i = 0; i < n; i++)
			if (codecs[i] == pt)
				return fail(p, "codecs: '%s' listed twice",
					    tok);
		codecs[n++] = pt; /* GW_MAX_CODECS distinct ones at most */
	}
	if (!n)
		return fail(p, "codecs: empty");
	*ncodecs = n;
	return 0;
}

/* ptime ([sip] or a trunk's): 10-60 ms in steps of 10, G.729's frame. */
static int parse_ptime(struct parser *p, const char *v, unsigned *ptime)
{
	unsigned long n;
	int err = parse_uint(p, "ptime", v, 10, 60, &n);

	if (!err && n % 10)
		err = fail(p, "ptime: %lu is not a multiple of 10", n);
	if (!err)
		*ptime = (unsigned)n;
	return err;
}

unsigned gw_config_codecs(const struct gw_config *cfg,
			  const struct gw_trunk_cfg *t, int *out)
{
	const int *c = t && t->ncodecs ? t->codecs : cfg->codecs;
	unsigned n = t && t->ncodecs ? t->ncodecs : cfg->ncodecs;

	memcpy(out, c, n * sizeof(*c));
	return n;
}

unsigned gw_config_ptime(const struct gw_config *cfg,
			 const struct gw_trunk_cfg *t)
{
	return t && t->ptime ? t->ptime : cfg->ptime;
}

/* "sha-256,md5", "md5": the digest algorithms a trunk is offered. */
static int parse_digest_algs(struct parser *p, const char *k, const char *v,
			     unsigned *out)
{
	char buf[64], *save = NULL, *tok;

	if (strlen(v) >= sizeof(buf))
		return fail(p, "%s: too long", k);
	tg_strlcpy(buf, v, sizeof(buf));
	*out = 0;
	for (tok = strtok_r(buf, ", ", &save); tok;
	     tok = strtok_r(NULL, ", ", &save)) {
		if (!strcasecmp(tok, "sha-256"))
			*out |= SIP_DIGEST_OFFER_SHA256;
		else if (!strcasecmp(tok, "md5"))
			*out |= SIP_DIGEST_OFFER_MD5;
		else
			return fail(p, "%s: '%s' is not sha-256 or md5", k,
				    tok);
	}
	if (!*out)
		return fail(p, "%s: empty", k);
	return 0;
}

/* jb_min, jb_max, jb_mode ([sip], [trunk]); ENOENT for another key. */
static int key_jb(struct parser *p, const char *k, const char *v,
		  struct gw_jb *jb)
{
	unsigned long n;
	int err;

	if (!strcmp(k, "jb_min")) {
		err = parse_uint(p, k, v, 0, 300, &n);
		if (!err)
			jb->min_ms = (int)n;
		return err;
	}
	if (!strcmp(k, "jb_max")) {
		err = parse_uint(p, k, v, 20, 300, &n);
		if (!err)
			jb->max_ms = (int)n;
		return err;
	}
	if (strcmp(k, "jb_mode"))
		return ENOENT;
	if (strcmp(v, "adaptive") && strcmp(v, "fixed"))
		return fail(p, "jb_mode: '%s' is not adaptive or fixed", v);
	jb->fixed = !strcmp(v, "fixed");
	return 0;
}

struct gw_jb gw_config_jb(const struct gw_config *cfg,
			  const struct gw_trunk_cfg *t)
{
	struct gw_jb jb = cfg->jb;

	if (t && t->jb.min_ms >= 0)
		jb.min_ms = t->jb.min_ms;
	if (t && t->jb.max_ms >= 0)
		jb.max_ms = t->jb.max_ms;
	if (t && t->jb.fixed >= 0)
		jb.fixed = t->jb.fixed;
	return jb;
}

/* A PEM file the TLS transport reads at start: there and readable now,
 * so that `tollgated -t` names the key and line of a wrong path. */
static int parse_file(struct parser *p, const char *key, const char *v,
		      char *dst, size_t size)
{
	/* access(), not open(): a FIFO named by mistake must not block. */
	if (parse_str(p, key, v, dst, size))
		return EINVAL;
	if (access(v, R_OK))
		return fail(p, "%s: %s: %s", key, v, strerror(errno));
	return 0;
}

/* [sip] keys of SIP over TCP and TLS; ENOENT: not one of them. */
static int key_sip_stream(struct parser *p, const char *k, const char *v)
{
	static const struct {
		const char *key;
		size_t off;
	} files[] = {
		{"tls_cert", offsetof(struct gw_config, tls_cert)},
		{"tls_key", offsetof(struct gw_config, tls_key)},
		{"tls_ca", offsetof(struct gw_config, tls_ca)},
		{"tls_client_cert", offsetof(struct gw_config, tls_client_cert)},
		{"tls_client_key", offsetof(struct gw_config, tls_client_key)},
	};
	struct gw_config *cfg = p->cfg;
	unsigned long n;
	int err;

	for (size_t i = 0; i < TG_ARRAY_SIZE(files); i++)
		if (!strcmp(k, files[i].key))
			return parse_file(p, k, v, (char *)cfg + files[i].off,
					  sizeof(cfg->tls_cert));
	if (!strcmp(k, "tcp"))
		return parse_bool(p, k, v, &cfg->sip_tcp);
	if (!strcmp(k, "tls"))
		return parse_bool(p, k, v, &cfg->sip_tls);
	if (!strcmp(k, "tls_verify"))
		return parse_bool(p, k, v, &cfg->tls_verify);
	if (!strcmp(k, "tls_verify_client"))
		return parse_bool(p, k, v, &cfg->tls_verify_client);
	if (!strcmp(k, "tls_ciphers"))
		return parse_str(p, k, v, cfg->tls_ciphers,
				 sizeof(cfg->tls_ciphers));
	if (!strcmp(k, "tls_port")) {
		err = parse_uint(p, k, v, 0, 65535, &n);
		cfg->tls_port = (uint16_t)n;
		return err;
	}
	if (!strcmp(k, "tcp_idle_timeout")) {
		err = parse_uint(p, k, v, 1, 86400, &n);
		cfg->tcp_idle_timeout = (unsigned)n;
		return err;
	}
	if (!strcmp(k, "tcp_max_connections")) {
		err = parse_uint(p, k, v, 1, 65536, &n);
		cfg->tcp_max_connections = (unsigned)n;
		return err;
	}
	return ENOENT;
}

/* An IPv4 or IPv6 address in numbers ("" clears it). */
static int parse_numeric(struct parser *p, const char *k, const char *v,
			 char *out, size_t size)
{
	struct sip_net net;

	if (*v && (strchr(v, '/') || sip_net_parse(&net, v)))
		return fail(p, "%s: '%s' is not a numeric IPv4 or IPv6 "
			    "address", k, v);
	return parse_str(p, k, v, out, size);
}

/* An IPv6 address in numbers ("" clears it). */
static int parse_ipv6(struct parser *p, const char *k, const char *v,
		      char *out, size_t size)
{
	if (*v && !strchr(v, ':'))
		return fail(p, "%s: '%s' is not an IPv6 address", k, v);
	return parse_numeric(p, k, v, out, size);
}

static int key_sip(struct parser *p, const char *k, const char *v)
{
	struct gw_config *cfg = p->cfg;
	unsigned long n;
	int err = 0;

	if (!strcmp(k, "bind")) {
		err = parse_str(p, k, v, cfg->sip_bind, sizeof(cfg->sip_bind));
	} else if (!strcmp(k, "realm")) {
		err = parse_str(p, k, v, cfg->sip_realm,
				sizeof(cfg->sip_realm));
	} else if (!strcmp(k, "nonce_lifetime")) {
		err = parse_uint(p, k, v, 1, 86400, &n);
		cfg->nonce_lifetime = (unsigned)n;
	} else if (!strcmp(k, "port")) {
		err = parse_uint(p, k, v, 0, 65535, &n);
		cfg->sip_port = (uint16_t)n;
	} else if (!strcmp(k, "media_addr")) {
		err = parse_str(p, k, v, cfg->media_addr,
				sizeof(cfg->media_addr));
	} else if (!strcmp(k, "rtp_port_min")) {
		err = parse_uint(p, k, v, 1024, 65534, &n);
		cfg->rtp_min = (uint16_t)n;
	} else if (!strcmp(k, "rtp_port_max")) {
		err = parse_uint(p, k, v, 1025, 65535, &n);
		cfg->rtp_max = (uint16_t)n;
	} else if (!strcmp(k, "codecs")) {
		err = parse_codecs(p, v, cfg->codecs, &cfg->ncodecs);
	} else if (!strcmp(k, "ptime")) {
		err = parse_ptime(p, v, &cfg->ptime);
	} else if (!strcmp(k, "rtp_timeout")) {
		err = parse_uint(p, k, v, 0, 3600, &n);
		cfg->rtp_timeout = (unsigned)n;
	} else if (!strcmp(k, "session_expires")) {
		err = parse_uint(p, k, v, 0, 86400, &n);
		cfg->session_expires = (unsigned)n;
	} else if (!strcmp(k, "min_se")) {
		err = parse_uint(p, k, v, 1, 86400, &n);
		cfg->min_se = (unsigned)n;
	} else if (!strcmp(k, "user_agent")) {
		err = parse_str(p, k, v, cfg->user_agent,
				sizeof(cfg->user_agent));
	} else if (!strcmp(k, "bind6")) {
		err = parse_ipv6(p, k, v, cfg->sip_bind6,
				 sizeof(cfg->sip_bind6));
	} else if (!strcmp(k, "media_addr6")) {
		err = parse_ipv6(p, k, v, cfg->media_addr6,
				 sizeof(cfg->media_addr6));
	} else if (!strcmp(k, "external_address")) {
		err = parse_numeric(p, k, v, cfg->external_addr,
				    sizeof(cfg->external_addr));
	} else if (!strcmp(k, "external_media_address")) {
		err = parse_numeric(p, k, v, cfg->external_media_addr,
				    sizeof(cfg->external_media_addr));
	} else if (!strcmp(k, "local_nets")) {
		err = parse_nets(p, k, v, cfg->local_nets, SIP_MAX_LOCAL_NETS,
				 &cfg->nlocal_nets);
	} else if ((err = key_jb(p, k, v, &cfg->jb)) != ENOENT) {
		return err;
	} else if ((err = key_sip_stream(p, k, v)) != ENOENT) {
		return err;
	} else {
		return fail(p, "unknown key '%s' in [sip]", k);
	}
	return err;
}

#define E911_SET_LOCATION 1u
#define E911_SET_PAI 2u
#define E911_SET_ID 4u

/*
 * What E911 providers want (REFERENCE.md), as defaults the trunk's own
 * e911_location / e911_pai / e911_id keys override, in any order:
 * - generic: PIDF-LO by value, one sip: PAI with the callback number;
 * - bandwidth: static 911, the address provisioned by callback number:
 *   no location in the INVITE, one sip: PAI;
 * - bandwidth-dlr: dynamic location routing: the endpoint id (the zone's
 *   location_id) in From and PAI, user=phone only on numbers, PIDF-LO.
 */
static int e911_profile(struct parser *p, struct gw_trunk_cfg *t,
			const char *v)
{
	bool pidf, dlr = !strcmp(v, "bandwidth-dlr");

	if (strcmp(v, "generic") && strcmp(v, "bandwidth") && !dlr)
		return fail(p, "e911_profile: '%s' is not generic, bandwidth "
			    "or bandwidth-dlr", v);
	pidf = strcmp(v, "bandwidth") != 0;
	if (!(t->e911_set & E911_SET_LOCATION)) {
		t->e911_pidf = pidf;
		t->e911_reference = false;
	}
	if (!(t->e911_set & E911_SET_PAI))
		t->e911_pai = dlr ? 1 : 0; /* sip-phone : sip */
	if (!(t->e911_set & E911_SET_ID))
		t->e911_id_location = dlr;
	return 0;
}

const char *gw_hunt_name(enum gw_hunt h)
{
	switch (h) {
	case GW_HUNT_ASCENDING:
		return "ascending";
	case GW_HUNT_DESCENDING:
		return "descending";
	case GW_HUNT_ROUND_ROBIN:
		return "round-robin";
	case GW_HUNT_LRU:
		return "lru";
	}
	return "?";
}

/* "t303" -> TDM_T303; -1 for any other key. */
static int span_timer_key(const char *k)
{
	for (int t = 0; t < TDM_NTIMERS; t++)
		if (!strcmp(k, tdm_timer_name((enum tdm_timer)t)))
			return t;
	return -1;
}

static int key_span(struct parser *p, const char *k, const char *v)
{
	struct gw_span_cfg *s = p->cur;

	if (!strcmp(k, "type")) {
		if (!strcasecmp(v, "t1"))
			s->type = TDM_T1;
		else if (!strcasecmp(v, "e1"))
			s->type = TDM_E1;
		else
			return fail(p, "type: '%s' is not t1 or e1", v);
	} else if (!strcmp(k, "switch")) {
		s->switchtype = tdm_switch_parse(v);
		if (s->switchtype < 0)
			return fail(p, "switch: unknown switch type '%s' (ni2, "
				    "ni1, dms100, lucent5e, att4ess, "
				    "euroisdn_e1, euroisdn_t1, qsig)", v);
	} else if (!strcmp(k, "side")) {
		if (!strcasecmp(v, "cpe") || !strcasecmp(v, "user"))
			s->network = false;
		else if (!strcasecmp(v, "network") || !strcasecmp(v, "net"))
			s->network = true;
		else
			return fail(p, "side: '%s' is not cpe or network", v);
	} else if (!strcmp(k, "backend")) {
		if (strcmp(v, "virtual") && strcmp(v, "dahdi"))
			return fail(p, "backend: '%s' is not virtual or dahdi",
				    v);
		if (!tdm_backend_available(v))
			return fail(p, "backend: '%s' is not available in this "
				    "build (no DAHDI headers at configure "
				    "time)", v);
		tg_strlcpy(s->backend, v, sizeof(s->backend));
	} else if (!strcmp(k, "dahdi_span")) {
		unsigned n;

		if (parse_unsigned(p, k, v, 1, 255, &n))
			return EINVAL;
		s->dahdi_span = (int)n;
	} else if (!strcmp(k, "dir")) {
		return parse_str(p, k, v, s->dir, sizeof(s->dir));
	} else if (!strcmp(k, "pcap")) {
		return parse_str(p, k, v, s->pcap, sizeof(s->pcap));
	} else if (!strcmp(k, "restart_on_up")) {
		return parse_bool(p, k, v, &s->restart_on_up);
	} else if (!strcmp(k, "early_media")) {
		if (!strcmp(v, "pi"))
			s->early_media = GW_EM_PI;
		else if (!strcmp(v, "always"))
			s->early_media = GW_EM_ALWAYS;
		else if (!strcmp(v, "never"))
			s->early_media = GW_EM_NEVER;
		else
			return fail(p, "early_media: '%s' is not pi, always or "
				    "never", v);
	} else if (!strcmp(k, "service_messages")) {
		return parse_bool(p, k, v, &s->service);
	} else if (!strcmp(k, "echo_cancel")) {
		return parse_bool(p, k, v, &s->echo_cancel);
	} else if (!strcmp(k, "echo_tail")) {
		return parse_unsigned(p, k, v, 32, 128, &s->echo_tail);
	} else if (!strcmp(k, "overlap")) {
		return parse_bool(p, k, v, &s->overlap);
	} else if (!strcmp(k, "t302")) {
		return parse_unsigned(p, k, v, 500, 60000, &s->t302_ms);
	} else if (!strcmp(k, "overlap_digits")) {
		return parse_unsigned(p, k, v, 0, 30, &s->overlap_digits);
	} else if (!strcmp(k, "overlap_send")) {
		return parse_bool(p, k, v, &s->overlap_send);
	} else if (!strcmp(k, "overlap_send_digits")) {
		return parse_unsigned(p, k, v, 0, 30, &s->overlap_send_digits);
	} else if (!strcmp(k, "e911_reserve")) {
		return parse_unsigned(p, k, v, 0, 29, &s->e911_reserve);
	} else if (!strcmp(k, "audit")) {
		return parse_unsigned(p, k, v, 0, 86400, &s->audit);
	} else if (!strcmp(k, "channel_select")) {
		if (strcmp(v, "exclusive") && strcmp(v, "preferred"))
			return fail(p, "channel_select: '%s' is not exclusive "
				    "or preferred", v);
		s->preferred = v[0] == 'p';
	} else if (span_timer_key(k) >= 0) {
		enum tdm_timer t = (enum tdm_timer)span_timer_key(k);
		unsigned lo, hi;

		tdm_timer_range(t, &lo, &hi);
		return parse_unsigned(p, k, v, lo, hi, &s->timers[t]);
	} else {
		return fail(p, "unknown key '%s' in [span %d]", k, s->id);
	}
	return 0;
}

/* Digits only, possibly empty ("" = none). */
static int parse_digits(struct parser *p, const char *key, const char *v,
			char *out, size_t size)
{
	if (strlen(v) >= size)
		return fail(p, "%s: longer than %zu digits", key, size - 1);
	if (*v && !dp_is_digits(v))
		return fail(p, "%s: '%s' is not digits", key, v);
	tg_strlcpy(out, v, size);
	return 0;
}

static int parse_fmt(struct parser *p, const char *key, const char *v,
		     enum dp_number_fmt *fmt)
{
	static const struct {
		const char *name;
		enum dp_number_fmt fmt;
	} tab[] = {
		{"plus", DP_FMT_PLUS},
		{"e164", DP_FMT_E164},
		{"national", DP_FMT_NATIONAL},
		{"national_prefix", DP_FMT_NATIONAL_PREFIX},
		{"local", DP_FMT_LOCAL},
	};

	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++)
		if (!strcasecmp(v, tab[i].name)) {
			*fmt = tab[i].fmt;
			return 0;
		}
	return fail(p, "%s: '%s' is not plus, e164, national, "
		    "national_prefix or local", key, v);
}

/* register = yes and registrar = yes: what each needs. */
static int check_registration(struct parser *p, struct gw_trunk_cfg *t)
{
	if ((t->reg || t->registrar) && t->kind != GW_TRUNK_SIP)
		return fail(p, "trunk '%s': register and registrar are for "
			    "SIP trunks", t->name);
	if (t->reg && t->registrar)
		return fail(p, "trunk '%s': register and registrar exclude "
			    "each other", t->name);
	if (t->reg && !*t->reg_user && !*t->auth_user)
		return fail(p, "trunk '%s': register needs register_user or "
			    "auth_user", t->name);
	if (t->reg_retry_min > t->reg_retry_max)
		return fail(p, "trunk '%s': register_retry_min is above "
			    "register_retry_max", t->name);
	if (t->registrar && !*t->inbound_user)
		return fail(p, "trunk '%s': registrar needs inbound_user and "
			    "inbound_password (REGISTER is authenticated)",
			    t->name);
	if (t->registrar && t->naccept)
		return fail(p, "trunk '%s': a registrar trunk takes requests "
			    "from anywhere (known by its digest user); "
			    "accept_from does not go with it", t->name);
	if (t->registrar_min > t->registrar_max)
		return fail(p, "trunk '%s': registrar_min_expires is above "
			    "registrar_max_expires", t->name);
	if (t->registrar && (t->peer_len || *t->host))
		return fail(p, "trunk '%s': a registrar trunk's peer is its "
			    "registered contact; no peer", t->name);
	if (t->registrar)
		tg_strlcpy(t->peer_str, "(registered)", sizeof(t->peer_str));
	return 0;
}

static int key_trunk(struct parser *p, const char *k, const char *v)
{
	struct gw_trunk_cfg *t = p->cur;
	unsigned long n;
	int err = 0;

	if (!strcmp(k, "type")) {
		if (!strcasecmp(v, "sip"))
			t->kind = GW_TRUNK_SIP;
		else if (!strcasecmp(v, "tdm"))
			t->kind = GW_TRUNK_TDM;
		else
			return fail(p, "type: '%s' is not sip or tdm", v);
	} else if (!strcmp(k, "peer") || !strcmp(k, "host")) {
		/* An address stays one peer; a name is located (RFC 3263)
		 * and may give several targets (gateway/targets.c). */
		t->peer_len = 0;
		t->host[0] = '\0';
		if (parse_hostport(v, &t->peer, &t->peer_len) &&
		    parse_dns_name(v, t->host, sizeof(t->host),
				   &t->host_port))
			return fail(p, "%s: '%s' is not an IP address or a "
				    "host name with an optional :port", k, v);
		tg_strlcpy(t->peer_str, v, sizeof(t->peer_str));
	} else if (!strcmp(k, "outbound_proxy")) {
		t->proxy_len = 0;
		if (*v && parse_hostport(v, &t->proxy, &t->proxy_len))
			return fail(p, "outbound_proxy: '%s' is not an IP "
				    "address with an optional :port", v);
	} else if (!strcmp(k, "accept_from")) {
		char buf[512], *save = NULL, *tok;

		if (strlen(v) >= sizeof(buf))
			return fail(p, "accept_from: too long");
		tg_strlcpy(buf, v, sizeof(buf));
		t->naccept = 0;
		for (tok = strtok_r(buf, ", ", &save); tok;
		     tok = strtok_r(NULL, ", ", &save)) {
			if (t->naccept == GW_MAX_ACCEPT)
				return fail(p, "accept_from: more than %d "
					    "entries", GW_MAX_ACCEPT);
			if (parse_net(tok, &t->accept[t->naccept]))
				return fail(p, "accept_from: '%s' is not an "
					    "address or CIDR block", tok);
			t->naccept++;
		}
	} else if (!strcmp(k, "accept_transport")) {
		char buf[64], *save = NULL, *tok;

		if (strlen(v) >= sizeof(buf))
			return fail(p, "accept_transport: too long");
		tg_strlcpy(buf, v, sizeof(buf));
		t->accept_transports = 0;
		for (tok = strtok_r(buf, ", ", &save); tok;
		     tok = strtok_r(NULL, ", ", &save)) {
			if (!strcasecmp(tok, "udp"))
				t->accept_transports |= 1u << SIP_TRANSPORT_UDP;
			else if (!strcasecmp(tok, "tcp"))
				t->accept_transports |= 1u << SIP_TRANSPORT_TCP;
			else if (!strcasecmp(tok, "tls"))
				t->accept_transports |= 1u << SIP_TRANSPORT_TLS;
			else
				return fail(p, "accept_transport: '%s' is not "
					    "udp, tcp or tls", tok);
		}
	} else if (!strcmp(k, "nat")) {
		err = parse_bool(p, k, v, &t->nat);
	} else if (!strcmp(k, "rtp_latch")) {
		bool on = false;

		err = parse_bool(p, k, v, &on);
		t->rtp_latch = on;
	} else if (!strcmp(k, "match_header")) {
		const char *c = strchr(v, ':');
		size_t len = c ? (size_t)(c - v) : strlen(v);

		while (len && v[len - 1] == ' ')
			len--;
		if (!len || len >= sizeof(t->match_hdr) ||
		    strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			   "0123456789-_.") < len)
			return fail(p, "match_header: '%s' is not 'Name: text' "
				    "or 'Name'", v);
		memcpy(t->match_hdr, v, len);
		t->match_hdr[len] = '\0';
		c = c ? c + 1 + strspn(c + 1, " ") : "";
		if (strlen(c) >= sizeof(t->match_hdr_text))
			return fail(p, "match_header: text too long");
		tg_strlcpy(t->match_hdr_text, c, sizeof(t->match_hdr_text));
	} else if (!strcmp(k, "match_user")) {
		char buf[512], *save = NULL, *tok;

		if (strlen(v) >= sizeof(buf))
			return fail(p, "match_user: too long");
		tg_strlcpy(buf, v, sizeof(buf));
		t->nmatch_user = 0;
		for (tok = strtok_r(buf, ", ", &save); tok;
		     tok = strtok_r(NULL, ", ", &save)) {
			if (t->nmatch_user == GW_MAX_ACCEPT)
				return fail(p, "match_user: more than %d "
					    "entries", GW_MAX_ACCEPT);
			if (parse_user_match(tok,
					     &t->match_user[t->nmatch_user]))
				return fail(p, "match_user: '%s' is not a "
					    "number, FIRST-LAST range or "
					    "prefix*", tok);
			t->nmatch_user++;
		}
	} else if (!strcmp(k, "max_calls")) {
		err = parse_uint(p, k, v, 0, 100000, &n);
		t->max_calls = (unsigned)n;
	} else if (!strcmp(k, "cps")) {
		err = parse_uint(p, k, v, 0, 100000, &n);
		t->cps = (unsigned)n;
	} else if (!strcmp(k, "max_inbound")) {
		err = parse_uint(p, k, v, 0, 100000, &n);
		t->max_inbound = (unsigned)n;
	} else if (!strcmp(k, "inbound_cps")) {
		err = parse_uint(p, k, v, 0, 100000, &n);
		t->inbound_cps = (unsigned)n;
	} else if (!strcmp(k, "down_after")) {
		err = parse_uint(p, k, v, 0, 100, &n);
		t->down_after = (unsigned)n;
	} else if (!strcmp(k, "down_time")) {
		err = parse_uint(p, k, v, 1, 3600, &n);
		t->down_time = (unsigned)n;
	} else if (!strcmp(k, "options_interval")) {
		err = parse_uint(p, k, v, 0, 3600, &n);
		t->options_interval = (unsigned)n;
	} else if (!strcmp(k, "options_down")) {
		err = parse_uint(p, k, v, 1, 100, &n);
		t->options_down = (unsigned)n;
	} else if (!strcmp(k, "options_up")) {
		err = parse_uint(p, k, v, 1, 100, &n);
		t->options_up = (unsigned)n;
	} else if (!strcmp(k, "options_timeout")) {
		err = parse_uint(p, k, v, 100, 32000, &n);
		t->options_timeout_ms = (unsigned)n;
	} else if (!strcmp(k, "country_code")) {
		err = parse_digits(p, k, v, t->plan.cc, sizeof(t->plan.cc));
	} else if (!strcmp(k, "national_prefix")) {
		err = parse_digits(p, k, v, t->plan.national_prefix,
				   sizeof(t->plan.national_prefix));
	} else if (!strcmp(k, "international_prefix")) {
		err = parse_digits(p, k, v, t->plan.intl_prefix,
				   sizeof(t->plan.intl_prefix));
	} else if (!strcmp(k, "area_code")) {
		err = parse_digits(p, k, v, t->plan.area_code,
				   sizeof(t->plan.area_code));
	} else if (!strcmp(k, "local_length")) {
		err = parse_uint(p, k, v, 0, 15, &n);
		t->plan.local_len = (unsigned)n;
	} else if (!strcmp(k, "national_length")) {
		err = parse_uint(p, k, v, 0, 15, &n);
		t->plan.nsn_len = (unsigned)n;
	} else if (!strcmp(k, "bare_e164")) {
		err = parse_bool(p, k, v, &t->plan.bare_is_e164);
	} else if (!strcmp(k, "called_format")) {
		err = parse_fmt(p, k, v, &t->called_fmt);
		t->called_fmt_set = true;
	} else if (!strcmp(k, "calling_format")) {
		err = parse_fmt(p, k, v, &t->calling_fmt);
		t->calling_fmt_set = true;
	} else if (!strcmp(k, "allow")) {
		err = parse_str(p, k, v, t->allow, sizeof(t->allow));
	} else if (!strcmp(k, "trusted")) {
		err = parse_bool(p, k, v, &t->trusted);
	} else if (!strcmp(k, "t38")) {
		err = parse_bool(p, k, v, &t->t38);
	} else if (!strcmp(k, "transfer")) {
		err = parse_bool(p, k, v, &t->transfer);
	} else if (!strcmp(k, "redirect_header")) {
		if (strcmp(v, "diversion") && strcmp(v, "history-info"))
			return fail(p, "redirect_header: '%s' is not diversion "
				    "or history-info", v);
		t->history_info = !strcmp(v, "history-info");
	} else if (!strcmp(k, "identity")) {
		if (!strcmp(v, "pai"))
			t->identity = GW_ID_PAI;
		else if (!strcmp(v, "rpid"))
			t->identity = GW_ID_RPID;
		else if (!strcmp(v, "none"))
			t->identity = GW_ID_NONE;
		else
			return fail(p, "identity: '%s' is not pai, rpid or "
				    "none", v);
	} else if (!strcmp(k, "auth_user")) {
		err = parse_str(p, k, v, t->auth_user, sizeof(t->auth_user));
	} else if (!strcmp(k, "auth_password")) {
		err = parse_str(p, k, v, t->auth_password,
				sizeof(t->auth_password));
	} else if (!strcmp(k, "auth_realm")) {
		err = parse_str(p, k, v, t->auth_realm, sizeof(t->auth_realm));
	} else if (!strcmp(k, "inbound_user")) {
		err = parse_str(p, k, v, t->inbound_user,
				sizeof(t->inbound_user));
	} else if (!strcmp(k, "inbound_password")) {
		err = parse_str(p, k, v, t->inbound_password,
				sizeof(t->inbound_password));
	} else if (!strcmp(k, "inbound_digest")) {
		err = parse_digest_algs(p, k, v, &t->inbound_digest);
	} else if (!strcmp(k, "register")) {
		err = parse_bool(p, k, v, &t->reg);
	} else if (!strcmp(k, "register_expires")) {
		err = parse_unsigned(p, k, v, 1, 86400, &t->reg_expires);
	} else if (!strcmp(k, "register_user")) {
		err = parse_str(p, k, v, t->reg_user, sizeof(t->reg_user));
	} else if (!strcmp(k, "register_domain")) {
		err = parse_str(p, k, v, t->reg_domain, sizeof(t->reg_domain));
	} else if (!strcmp(k, "register_contact_user")) {
		err = parse_str(p, k, v, t->reg_contact,
				sizeof(t->reg_contact));
	} else if (!strcmp(k, "register_retry_min")) {
		err = parse_unsigned(p, k, v, 1, 86400, &t->reg_retry_min);
	} else if (!strcmp(k, "register_retry_max")) {
		err = parse_unsigned(p, k, v, 1, 86400, &t->reg_retry_max);
	} else if (!strcmp(k, "registrar")) {
		err = parse_bool(p, k, v, &t->registrar);
	} else if (!strcmp(k, "registrar_min_expires")) {
		err = parse_unsigned(p, k, v, 1, 86400, &t->registrar_min);
	} else if (!strcmp(k, "registrar_max_expires")) {
		err = parse_unsigned(p, k, v, 1, 86400, &t->registrar_max);
	} else if (!strcmp(k, "overlap")) {
		if (strcmp(v, "rfc3578") && strcmp(v, "no"))
			return fail(p, "overlap: '%s' is not rfc3578 or no", v);
		t->rfc3578 = !strcmp(v, "rfc3578");
	} else if (!strcmp(k, "overlap_wait")) {
		err = parse_uint(p, k, v, 100, 60000, &n);
		t->overlap_wait_ms = (unsigned)n;
	} else if (!strcmp(k, "overlap_timeout")) {
		err = parse_uint(p, k, v, 500, 60000, &n);
		t->overlap_timeout_ms = (unsigned)n;
	} else if (!strcmp(k, "rtp_timeout")) {
		err = parse_uint(p, k, v, 0, 3600, &n);
		t->rtp_timeout = (int)n;

	} else if (!strcmp(k, "codecs")) {
		err = parse_codecs(p, v, t->codecs, &t->ncodecs);
	} else if (!strcmp(k, "ptime")) {
		err = parse_ptime(p, v, &t->ptime);
	} else if (!strcmp(k, "session_expires")) {
		err = parse_uint(p, k, v, 0, 86400, &n);
		t->session_expires = (int)n;
	} else if (!strcmp(k, "min_se")) {
		err = parse_uint(p, k, v, 1, 86400, &n);
		t->min_se = (int)n;
	} else if (!strcmp(k, "dtmf")) {
		if (!strcmp(v, "rfc4733"))
			t->dtmf = GW_DTMF_RFC4733;
		else if (!strcmp(v, "info"))
			t->dtmf = GW_DTMF_INFO;
		else if (!strcmp(v, "inband"))
			t->dtmf = GW_DTMF_INBAND;
		else
			return fail(p, "dtmf: '%s' is not rfc4733, info or "
				    "inband", v);
	} else if (!strcmp(k, "transport")) {
		t->transport_set = true;
		if (!strcasecmp(v, "udp"))
			t->transport = SIP_TRANSPORT_UDP;
		else if (!strcasecmp(v, "tcp"))
			t->transport = SIP_TRANSPORT_TCP;
		else if (!strcasecmp(v, "tls"))
			t->transport = SIP_TRANSPORT_TLS;
		else
			return fail(p, "transport: '%s' is not udp, tcp or tls",
				    v);
	} else if (!strcmp(k, "tls_server_name")) {
		err = parse_str(p, k, v, t->tls_name, sizeof(t->tls_name));
	} else if (!strcmp(k, "srtp")) {
		if (!strcmp(v, "off"))
			t->srtp = GW_SRTP_OFF;
		else if (!strcmp(v, "optional"))
			t->srtp = GW_SRTP_OPTIONAL;
		else if (!strcmp(v, "mandatory"))
			t->srtp = GW_SRTP_MANDATORY;
		else if (!strcmp(v, "best-effort"))
			t->srtp = GW_SRTP_BEST_EFFORT;
		else
			return fail(p, "srtp: '%s' is not off, optional, "
				    "mandatory or best-effort", v);
	} else if (!strcmp(k, "e911_location")) {
		if (strcmp(v, "none") && strcmp(v, "pidf") &&
		    strcmp(v, "reference"))
			return fail(p, "e911_location: '%s' is not none, "
				    "pidf or reference", v);
		t->e911_pidf = !strcmp(v, "pidf");
		t->e911_reference = !strcmp(v, "reference");
		t->e911_set |= E911_SET_LOCATION;
	} else if (!strcmp(k, "e911_pai")) {
		static const char *const forms[] = {"sip", "sip-phone", "tel",
						    "none"};
		size_t i;

		for (i = 0; i < TG_ARRAY_SIZE(forms); i++)
			if (!strcmp(v, forms[i]))
				break;
		if (i == TG_ARRAY_SIZE(forms))
			return fail(p, "e911_pai: '%s' is not sip, sip-phone, "
				    "tel or none", v);
		t->e911_pai = (int)i;
		t->e911_set |= E911_SET_PAI;
	} else if (!strcmp(k, "e911_id")) {
		if (strcmp(v, "callback") && strcmp(v, "location_id"))
			return fail(p, "e911_id: '%s' is not callback or "
				    "location_id", v);
		t->e911_id_location = !strcmp(v, "location_id");
		t->e911_set |= E911_SET_ID;
	} else if (!strcmp(k, "e911_profile")) {
		return e911_profile(p, t, v);
	} else if (!strcmp(k, "hunt")) {
		size_t i;

		for (i = 0; i <= GW_HUNT_LRU; i++)
			if (!strcmp(v, gw_hunt_name((enum gw_hunt)i)))
				break;
		if (i > GW_HUNT_LRU)
			return fail(p, "hunt: '%s' is not ascending, descending, "
				    "round-robin or lru", v);
		t->hunt = (enum gw_hunt)i;
	} else if (!strcmp(k, "spans")) {
		char buf[256], *save = NULL, *tok;

		if (strlen(v) >= sizeof(buf))
			return fail(p, "spans: too long");
		tg_strlcpy(buf, v, sizeof(buf));
		t->nspans = 0;
		for (tok = strtok_r(buf, ", ", &save); tok;
		     tok = strtok_r(NULL, ", ", &save)) {
			if (t->nspans == GW_MAX_SPANS)
				return fail(p, "spans: too many");
			err = parse_uint(p, k, tok, 1, 255, &n);
			if (err)
				return err;
			t->spans[t->nspans++] = (int)n;
		}
	} else if ((err = key_jb(p, k, v, &t->jb)) != ENOENT) {
		return err;
	} else {
		return fail(p, "unknown key '%s' in [trunk %s]", k, t->name);
	}
	return err;
}

static int key_dids(struct parser *p, const char *k, const char *v)
{
	struct gw_config *cfg = p->cfg;
	struct dp_did_range *r;
	const char *dash = strchr(k, '-');

	if (cfg->ndids == GW_MAX_DIDS)
		return fail(p, "[dids]: more than %d ranges (use the database "
			    "for more)", GW_MAX_DIDS);
	r = &cfg->dids[cfg->ndids];
	memset(r, 0, sizeof(*r));
	if (dash) {
		if ((size_t)(dash - k) >= sizeof(r->first) ||
		    strlen(dash + 1) >= sizeof(r->last))
			return fail(p, "DID range '%s' too long", k);
		snprintf(r->first, sizeof(r->first), "%.*s", (int)(dash - k),
			 k);
		tg_strlcpy(r->last, dash + 1, sizeof(r->last));
	} else {
		if (strlen(k) >= sizeof(r->first))
			return fail(p, "DID '%s' too long", k);
		tg_strlcpy(r->first, k, sizeof(r->first));
		tg_strlcpy(r->last, k, sizeof(r->last));
	}
	if (!dp_is_digits(r->first) || !dp_is_digits(r->last) ||
	    strlen(r->first) != strlen(r->last) ||
	    strcmp(r->first, r->last) > 0)
		return fail(p, "DID range '%s': want DIGITS or FIRST-LAST of "
			    "equal length, first <= last", k);
	if (parse_str(p, "trunk", v, r->trunk, sizeof(r->trunk)))
		return EINVAL;
	cfg->ndids++;
	return 0;
}

static int on_key(struct parser *p, const char *k, const char *v)
{
	struct gw_config *cfg = p->cfg;

	if (!strcmp(p->section, "general"))
		return key_general(p, k, v);
	if (!strcmp(p->section, "sip"))
		return key_sip(p, k, v);
	if (!strcmp(p->section, "database")) {
		if (!strcmp(k, "path"))
			return parse_str(p, k, v, cfg->db_path,
					 sizeof(cfg->db_path));
		return fail(p, "unknown key '%s' in [database]", k);
	}
	if (!strcmp(p->section, "span"))
		return key_span(p, k, v);
	if (!strcmp(p->section, "trunk"))
		return key_trunk(p, k, v);
	if (!strcmp(p->section, "routing")) {
		unsigned long n;
		int err;

		if (!strcmp(k, "outbound"))
			return parse_str(p, k, v, cfg->outbound,
					 sizeof(cfg->outbound));
		if (!strcmp(k, "attempt_trying_timeout")) {
			err = parse_uint(p, k, v, 100, 120000, &n);
			cfg->t_trying_ms = (unsigned)n;
			return err;
		}
		if (!strcmp(k, "attempt_progress_timeout")) {
			err = parse_uint(p, k, v, 0, 600000, &n);
			cfg->t_progress_ms = (unsigned)n;
			return err;
		}
		if (!strcmp(k, "dial9_emergency"))
			return parse_bool(p, k, v, &cfg->dial9);
		return fail(p, "unknown key '%s' in [routing]", k);
	}
	if (!strcmp(p->section, "e911")) {
		unsigned long n;
		int err;

		if (!strcmp(k, "callback_window")) {
			err = parse_uint(p, k, v, 1, 1440, &n);
			cfg->callback_window = (unsigned)n;
			return err;
		}
		if (!strcmp(k, "location")) {
			if (strcmp(v, "prefer_configured") &&
			    strcmp(v, "prefer_incoming"))
				return fail(p, "location: '%s' is not "
					    "prefer_configured or "
					    "prefer_incoming", v);
			cfg->prefer_incoming = !strcmp(v, "prefer_incoming");
			return 0;
		}
		if (!strcmp(k, "holdoff")) {
			err = parse_uint(p, k, v, 0, 3600, &n);
			cfg->holdoff = (unsigned)n;
			return err;
		}
		if (!strcmp(k, "notify_sip")) {
			/* sip:USER@IP[:PORT] */
			const char *at = strchr(v, '@');

			if (strncmp(v, "sip:", 4) || !at || at == v + 4 ||
			    (size_t)(at - v - 4) >= sizeof(cfg->notify_sip_user) ||
			    parse_hostport(at + 1, &cfg->notify_sip,
					   &cfg->notify_sip_len))
				return fail(p, "notify_sip: '%s' is not "
					    "sip:USER@IP[:PORT]", v);
			snprintf(cfg->notify_sip_user,
				 sizeof(cfg->notify_sip_user), "%.*s",
				 (int)(at - v - 4), v + 4);
			return 0;
		}
		if (!strcmp(k, "notify")) {
			size_t h = !strncmp(v, "https://", 8) ? 8 : 7;

			if (cfg->nnotify == 4)
				return fail(p, "notify: at most 4 URLs");
			if ((strncmp(v, "http://", 7) && h == 7) || !v[h] ||
			    strchr("/:?#", v[h]) ||
			    strlen(v) >= sizeof(cfg->notify[0]))
				return fail(p, "notify: '%s' is not an "
					    "http:// or https:// URL", v);
			tg_strlcpy(cfg->notify[cfg->nnotify++], v,
				   sizeof(cfg->notify[0]));
			return 0;
		}
		/* The files are read when the TLS context is built
		 * (gw_notify_tls_new), with these lines in its errors. */
		if (!strcmp(k, "notify_ca")) {
			cfg->notify_ca_line = p->line;
			return parse_str(p, k, v, cfg->notify_ca,
					 sizeof(cfg->notify_ca));
		}
		if (!strcmp(k, "notify_cert")) {
			cfg->notify_cert_line = p->line;
			return parse_str(p, k, v, cfg->notify_cert,
					 sizeof(cfg->notify_cert));
		}
		if (!strcmp(k, "notify_key")) {
			cfg->notify_key_line = p->line;
			return parse_str(p, k, v, cfg->notify_key,
					 sizeof(cfg->notify_key));
		}
		return fail(p, "unknown key '%s' in [e911]", k);
	}
	if (!strcmp(p->section, "dns")) {
		unsigned long n;
		int err;

		if (!strcmp(k, "servers"))
			return parse_str(p, k, v, cfg->dns_servers,
					 sizeof(cfg->dns_servers));
		if (!strcmp(k, "timeout")) {
			err = parse_uint(p, k, v, 50, 30000, &n);
			cfg->dns_timeout_ms = (unsigned)n;
			return err;
		}
		if (!strcmp(k, "tries")) {
			err = parse_uint(p, k, v, 1, 10, &n);
			cfg->dns_tries = (unsigned)n;
			return err;
		}
		if (!strcmp(k, "ttl_min")) {
			err = parse_uint(p, k, v, 1, 86400, &n);
			cfg->dns_ttl_min = (unsigned)n;
			return err;
		}
		if (!strcmp(k, "ttl_max")) {
			err = parse_uint(p, k, v, 1, 86400, &n);
			cfg->dns_ttl_max = (unsigned)n;
			return err;
		}
		return fail(p, "unknown key '%s' in [dns]", k);
	}
	if (!strcmp(p->section, "dids"))
		return key_dids(p, k, v);
	return fail(p, "key '%s' outside any section", k);
}

static int on_section(struct parser *p, char *name)
{
	struct gw_config *cfg = p->cfg;
	char *arg = strchr(name, ' ');

	p->arg[0] = '\0';
	if (arg) {
		*arg++ = '\0';
		arg = trim(arg);
		if (strlen(arg) >= sizeof(p->arg))
			return fail(p, "section name too long");
		tg_strlcpy(p->arg, arg, sizeof(p->arg));
	}
	tg_strlcpy(p->section, name, sizeof(p->section));
	p->cur = NULL;

	if (!strcmp(name, "span")) {
		unsigned long id;
		struct gw_span_cfg *s;

		if (parse_uint(p, "[span N]", p->arg, 1, 255, &id))
			return EINVAL;
		if (gw_config_span(cfg, (int)id))
			return fail(p, "span %lu defined twice", id);
		if (cfg->nspans == GW_MAX_SPANS)
			return fail(p, "more than %d spans", GW_MAX_SPANS);
		s = &cfg->spans[cfg->nspans++];
		memset(s, 0, sizeof(*s));
		s->id = (int)id;
		s->line = p->line;
		s->type = TDM_T1;
		s->switchtype = tdm_switch_parse("ni2");
		s->restart_on_up = true;
		s->t302_ms = 5000;
		s->audit = 60;
		s->echo_cancel = true;
		s->echo_tail = 64;
		tg_strlcpy(s->dir, "./run", sizeof(s->dir));
		tg_strlcpy(s->backend, "virtual", sizeof(s->backend));
		p->cur = s;
		return 0;
	}
	if (!strcmp(name, "trunk")) {
		struct gw_trunk_cfg *t;

		if (!*p->arg || strlen(p->arg) >= sizeof(t->name))
			return fail(p, "[trunk NAME]: a name of 1 to 31 "
				    "characters is needed");
		if (gw_config_trunk(cfg, p->arg))
			return fail(p, "trunk '%s' defined twice", p->arg);
		if (cfg->ntrunks == GW_MAX_TRUNKS)
			return fail(p, "more than %d trunks", GW_MAX_TRUNKS);
		t = &cfg->trunks[cfg->ntrunks++];
		memset(t, 0, sizeof(*t));
		tg_strlcpy(t->name, p->arg, sizeof(t->name));
		t->line = p->line;
		t->down_after = 2;
		t->down_time = 30;
		t->options_down = 3;
		t->options_up = 2;
		t->options_timeout_ms = 2000;
		t->overlap_wait_ms = 2000;
		t->overlap_timeout_ms = 5000;
		t->transfer = true;
		t->rtp_timeout = -1;
		t->rtp_latch = -1;
		t->session_expires = -1;
		t->min_se = -1;
		t->reg_expires = 3600;
		t->reg_retry_min = 30;
		t->reg_retry_max = 1800;
		t->registrar_min = 60;
		t->registrar_max = 3600;
		t->jb.min_ms = t->jb.max_ms = t->jb.fixed = -1;
		p->cur = t;
		return 0;
	}
	if (*p->arg)
		return fail(p, "section [%s] takes no argument", name);
	if (!strcmp(name, "general") || !strcmp(name, "sip") ||
	    !strcmp(name, "database") || !strcmp(name, "routing") ||
	    !strcmp(name, "dids") || !strcmp(name, "dns") ||
	    !strcmp(name, "e911"))
		return 0;
	return fail(p, "unknown section [%s]", name);
}

static void set_defaults(struct gw_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = GW_LOG_NOTICE;
	tg_strlcpy(cfg->control, "./run/tollgated.ctl", sizeof(cfg->control));
	cfg->drain_timeout = 30;
	cfg->media_workers = 1;
	cfg->ring_timeout = 120;
	cfg->dns_ttl_min = 30;
	cfg->dns_ttl_max = 3600;
	cfg->rtp_timeout = 60;
	cfg->jb.min_ms = 20;
	cfg->jb.max_ms = 200;
	cfg->session_expires = 1800;
	cfg->min_se = 90;
	cfg->t_trying_ms = 3000;
	cfg->callback_window = 45;
	cfg->holdoff = 60;
	tg_strlcpy(cfg->sip_bind, "127.0.0.1", sizeof(cfg->sip_bind));
	cfg->sip_port = 5060;
	cfg->tls_port = 5061;
	cfg->tls_verify = true;
	cfg->tcp_idle_timeout = 120;
	cfg->tcp_max_connections = 1024;
	tg_strlcpy(cfg->media_addr, "127.0.0.1", sizeof(cfg->media_addr));
	cfg->rtp_min = 20000;
	cfg->rtp_max = 29999;
	cfg->codecs[0] = 0;
	cfg->codecs[1] = 8;
	cfg->ncodecs = 2;
	cfg->ptime = 20;
	tg_strlcpy(cfg->user_agent, "Tollgate/" PACKAGE_VERSION,
		   sizeof(cfg->user_agent));
	tg_strlcpy(cfg->db_path, "./run/tollgate.db", sizeof(cfg->db_path));
}

/* A trunk's transport must be one we serve: its in-dialog requests
 * come back to our Contact (;transport=tcp|tls, our listening port). */
static int check_transport(struct parser *p, const struct gw_trunk_cfg *t)
{
	const struct gw_config *cfg = p->cfg;

	if (t->kind == GW_TRUNK_TDM &&
	    (t->transport != SIP_TRANSPORT_UDP || *t->tls_name))
		return fail(p, "trunk '%s': transport is for SIP trunks",
			    t->name);
	if (t->transport == SIP_TRANSPORT_TCP && !cfg->sip_tcp)
		return fail(p, "trunk '%s': transport = tcp needs [sip] tcp = "
			    "yes", t->name);
	if (t->transport == SIP_TRANSPORT_TLS && !cfg->sip_tls)
		return fail(p, "trunk '%s': transport = tls needs [sip] tls = "
			    "yes", t->name);
	/* A name without transport may be located to TLS targets (RFC
	 * 3263 4.1) when we serve TLS: the name is for them. */
	if (*t->tls_name && t->transport != SIP_TRANSPORT_TLS &&
	    (t->transport_set || !*t->host || !cfg->sip_tls))
		return fail(p, "trunk '%s': tls_server_name without "
			    "transport = tls (or a peer name without "
			    "transport and [sip] tls = yes)", t->name);
	return 0;
}

/* [sip] tls = yes needs a certificate; the TLS keys need tls. */
static int check_tls(struct parser *p)
{
	const struct gw_config *cfg = p->cfg;

	p->line = 0;
	if (cfg->sip_tls && !*cfg->tls_cert)
		return fail(p, "[sip] tls = yes needs tls_cert");
	if (!cfg->sip_tls && (*cfg->tls_cert || *cfg->tls_ca ||
			      *cfg->tls_client_cert))
		return fail(p, "[sip] tls_cert, tls_ca and tls_client_cert "
			    "need tls = yes");
	if (*cfg->tls_client_key && !*cfg->tls_client_cert)
		return fail(p, "[sip] tls_client_key without tls_client_cert");
	if (*cfg->tls_key && !*cfg->tls_cert)
		return fail(p, "[sip] tls_key without tls_cert");
	if (cfg->sip_tls && cfg->sip_tcp && cfg->tls_port &&
	    cfg->tls_port == cfg->sip_port)
		return fail(p, "[sip] tls_port %u is the TCP port",
			    cfg->tls_port);
	return 0;
}

/* Is there a SIP socket for peers of @p family (bind, bind6)? */
static bool sip_family_bound(const struct gw_config *cfg, int family)
{
	bool v6 = strchr(cfg->sip_bind, ':') != NULL;

	return family == AF_INET6 ? v6 || *cfg->sip_bind6 : !v6;
}

/* Whole-file checks, reported at the line that defined the culprit. */
static int validate(struct parser *p)
{
	struct gw_config *cfg = p->cfg;

	if (cfg->dns_ttl_min > cfg->dns_ttl_max) {
		p->line = 0;
		return fail(p, "[dns] ttl_min must not be above ttl_max");
	}
	if (cfg->rtp_min >= cfg->rtp_max) {
		p->line = 0;
		return fail(p, "[sip] rtp_port_min must be below rtp_port_max");
	}
	if (cfg->jb.min_ms > cfg->jb.max_ms) {
		p->line = 0;
		return fail(p, "[sip] jb_min must not be over jb_max");
	}
	if (check_tls(p))
		return EINVAL;
	if (*cfg->sip_bind6 && strchr(cfg->sip_bind, ':')) {
		p->line = 0;
		return fail(p, "[sip] bind6 is for an IPv4 bind (bind is "
			    "already IPv6)");
	}
	for (unsigned i = 0; i < cfg->ntrunks; i++) {
		struct gw_trunk_cfg *t = &cfg->trunks[i];
		struct gw_jb jb = gw_config_jb(cfg, t);

		p->line = t->line;
		if (t->kind == GW_TRUNK_SIP && t->peer_len &&
		    !sip_family_bound(cfg, t->peer.ss_family))
			return fail(p, "trunk '%s': peer %s is %s but [sip] "
				    "has no %s socket (%s)", t->name,
				    t->peer_str,
				    t->peer.ss_family == AF_INET6 ? "IPv6"
								  : "IPv4",
				    t->peer.ss_family == AF_INET6 ? "IPv6"
								  : "IPv4",
				    t->peer.ss_family == AF_INET6
					    ? "bind6 or an IPv6 bind"
					    : "an IPv4 bind");
		if (jb.min_ms > jb.max_ms)
			return fail(p, "trunk '%s': jb_min must not be over "
				    "jb_max", t->name);
		if (t->kind == GW_TRUNK_SIP && !t->peer_len && !*t->host &&
		    !t->registrar)
			return fail(p, "trunk '%s': a SIP trunk needs peer",
				    t->name);
		if (check_registration(p, t))
			return EINVAL;
		if (t->kind == GW_TRUNK_TDM && t->options_interval)
			return fail(p, "trunk '%s': options_interval is for "
				    "SIP trunks (a span's health is its "
				    "D-channel)", t->name);
		if (t->kind == GW_TRUNK_TDM && t->rfc3578)
			return fail(p, "trunk '%s': overlap = rfc3578 is for "
				    "SIP trunks (a span has overlap and "
				    "overlap_send)", t->name);
		if (t->kind == GW_TRUNK_TDM && (t->nat || t->rtp_latch >= 0))
			return fail(p, "trunk '%s': nat and rtp_latch are for "
				    "SIP trunks", t->name);
		if (t->kind == GW_TRUNK_TDM && t->t38)
			return fail(p, "trunk '%s': t38 is for SIP trunks",
				    t->name);
		if (t->kind == GW_TRUNK_TDM && t->srtp != GW_SRTP_OFF)
			return fail(p, "trunk '%s': srtp is for SIP trunks",
				    t->name);
		if (check_transport(p, t))
			return EINVAL;
		if (t->kind == GW_TRUNK_TDM &&
		    (*t->inbound_user || *t->auth_user))
			return fail(p, "trunk '%s': digest credentials are for "
				    "SIP trunks", t->name);
		if (!*t->inbound_user != !*t->inbound_password)
			return fail(p, "trunk '%s': inbound_user and "
				    "inbound_password go together", t->name);
		if (*t->auth_password && !*t->auth_user)
			return fail(p, "trunk '%s': auth_password without "
				    "auth_user", t->name);
		/* With digest and no accept_from, a trunk's requests come
		 * from anywhere and are known by the username. */
		/* A named peer's requests come from its targets, whatever
		 * DNS says they are now (gw_targets_has). */
		if (t->kind == GW_TRUNK_SIP && !t->naccept &&
		    !*t->inbound_user && !*t->host) {
			/* Default: accept requests from the peer's address. */
			struct sip_net *n = &t->accept[0].net;

			memset(&t->accept[0], 0, sizeof(t->accept[0]));
			memcpy(&n->addr, &t->peer, sizeof(t->peer));
			((struct sockaddr_in *)&n->addr)->sin_port = 0;
			n->prefix = t->peer.ss_family == AF_INET ? 32 : 128;
			if (t->peer.ss_family == AF_INET6)
				((struct sockaddr_in6 *)&n->addr)->sin6_port =
					0;
			t->naccept = 1;
		}
		/* PRI lines take national numbers with TON national;
		 * SIP trunks '+' E.164 (RFC 3966 global numbers). */
		if (!t->called_fmt_set)
			t->called_fmt = t->kind == GW_TRUNK_TDM
						? DP_FMT_NATIONAL
						: DP_FMT_PLUS;
		if (!t->calling_fmt_set)
			t->calling_fmt = t->called_fmt;
		if (t->kind == GW_TRUNK_TDM && !t->nspans)
			return fail(p, "trunk '%s': a TDM trunk needs spans",
				    t->name);
		for (unsigned s = 0; s < t->nspans; s++)
			if (!gw_config_span(cfg, t->spans[s]))
				return fail(p, "trunk '%s': span %d is not "
					    "defined", t->name, t->spans[s]);
	}
	for (unsigned i = 0; i < cfg->nspans; i++) {
		p->line = cfg->spans[i].line;
		if (cfg->spans[i].switchtype <= 0)
			return fail(p, "span %d: no switch type",
				    cfg->spans[i].id);
		if (cfg->spans[i].service &&
		    cfg->spans[i].switchtype != tdm_switch_parse("ni2") &&
		    cfg->spans[i].switchtype != tdm_switch_parse("lucent5e") &&
		    cfg->spans[i].switchtype != tdm_switch_parse("att4ess"))
			return fail(p, "span %d: service_messages needs switch "
				    "ni2, lucent5e or att4ess",
				    cfg->spans[i].id);
		if (cfg->spans[i].timers[TDM_T200] &&
		    cfg->spans[i].timers[TDM_T203] &&
		    cfg->spans[i].timers[TDM_T203] <=
			    cfg->spans[i].timers[TDM_T200])
			return fail(p, "span %d: t203 must be longer than t200",
				    cfg->spans[i].id);
		if (cfg->spans[i].e911_reserve >=
		    (cfg->spans[i].type == TDM_E1 ? 30u : 23u))
			return fail(p, "span %d: e911_reserve %u leaves no "
				    "channel for ordinary calls",
				    cfg->spans[i].id,
				    cfg->spans[i].e911_reserve);
	}
	if (*cfg->notify_key && !*cfg->notify_cert) {
		p->line = cfg->notify_key_line;
		return fail(p, "notify_key: no notify_cert to go with it");
	}
	p->line = 0;
	if (*cfg->outbound) {
		char buf[sizeof(cfg->outbound)], *save = NULL, *tok;

		tg_strlcpy(buf, cfg->outbound, sizeof(buf));
		for (tok = strtok_r(buf, ", ", &save); tok;
		     tok = strtok_r(NULL, ", ", &save))
			if (!gw_config_trunk(cfg, tok))
				return fail(p, "[routing] outbound: no trunk "
					    "'%s'", tok);
	}
	for (unsigned i = 0; i < cfg->ndids; i++) {
		const struct gw_trunk_cfg *t =
			gw_config_trunk(cfg, cfg->dids[i].trunk);

		if (!t)
			return fail(p, "[dids] %s: no trunk '%s'",
				    cfg->dids[i].first, cfg->dids[i].trunk);
	}
	return 0;
}

int gw_config_parse(struct gw_config *cfg, const char *name,
		    const char *buf, size_t len, char *err, size_t errsize)
{
	struct parser p = {
		.cfg = cfg, .name = name, .err = err, .errsize = errsize,
	};
	size_t pos = 0;
	int rc;

	set_defaults(cfg);
	tg_strlcpy(cfg->path, name, sizeof(cfg->path));
	while (pos < len) {
		char line[MAX_LINE + 1], *s, *eq;
		size_t end = pos, n;

		while (end < len && buf[end] != '\n')
			end++;
		n = end - pos;
		p.line++;
		if (n > MAX_LINE)
			return fail(&p, "line longer than %d characters",
				    MAX_LINE);
		memcpy(line, buf + pos, n);
		line[n] = '\0';
		pos = end + 1;
		if (memchr(line, '\0', n))
			return fail(&p, "NUL byte in line");

		s = trim(line);
		if (!*s || *s == ';' || *s == '#')
			continue;
		if (*s == '[') {
			char *close = strchr(s, ']');

			if (!close || trim(close + 1)[0])
				return fail(&p, "section header without ']'");
			*close = '\0';
			rc = on_section(&p, trim(s + 1));
			if (rc)
				return rc;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq)
			return fail(&p, "expected 'key = value'");
		*eq = '\0';
		if (!*trim(s))
			return fail(&p, "empty key");
		/* A ';' after whitespace starts a comment. */
		for (char *c = eq + 1; *c; c++) {
			if (*c == ';' && (c[-1] == ' ' || c[-1] == '\t')) {
				*c = '\0';
				break;
			}
		}
		if (!*p.section)
			return fail(&p, "key '%s' outside any section",
				    trim(s));
		rc = on_key(&p, trim(s), trim(eq + 1));
		if (rc)
			return rc;
	}
	return validate(&p);
}

int gw_config_load(struct gw_config *cfg, const char *path, char *err,
		   size_t errsize)
{
	FILE *f = fopen(path, "r");
	char *buf;
	size_t n;
	int rc;

	if (!f) {
		rc = errno;
		snprintf(err, errsize, "%s: %s", path, strerror(rc));
		return rc;
	}
	buf = malloc(MAX_FILE + 1);
	if (!buf) {
		fclose(f);
		return ENOMEM;
	}
	n = fread(buf, 1, MAX_FILE + 1, f);
	fclose(f);
	if (n > MAX_FILE) {
		snprintf(err, errsize, "%s: larger than %d bytes", path,
			 MAX_FILE);
		free(buf);
		return EFBIG;
	}
	rc = gw_config_parse(cfg, path, buf, n, err, errsize);
	free(buf);
	return rc;
}

const struct gw_trunk_cfg *gw_config_trunk(const struct gw_config *cfg,
					   const char *name)
{
	for (unsigned i = 0; i < cfg->ntrunks; i++)
		if (!strcmp(cfg->trunks[i].name, name))
			return &cfg->trunks[i];
	return NULL;
}

const struct gw_span_cfg *gw_config_span(const struct gw_config *cfg,
					 int id)
{
	for (unsigned i = 0; i < cfg->nspans; i++)
		if (cfg->spans[i].id == id)
			return &cfg->spans[i];
	return NULL;
}

unsigned gw_session_expires(const struct gw_config *cfg,
			    const struct gw_trunk_cfg *t)
{
	unsigned se = t && t->session_expires >= 0
		? (unsigned)t->session_expires : cfg->session_expires;
	unsigned min = gw_min_se(cfg, t);

	/* RFC 4028 4: an interval under our own Min-SE is never asked. */
	return se && se < min ? min : se;
}

unsigned gw_min_se(const struct gw_config *cfg, const struct gw_trunk_cfg *t)
{
	return t && t->min_se >= 0 ? (unsigned)t->min_se : cfg->min_se;
}
