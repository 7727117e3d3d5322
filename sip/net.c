/* sip/net.c  Address blocks and which of our addresses a peer is told */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip.h"
#include "util/util.h"

int sip_net_parse(struct sip_net *net, const char *v)
{
	char host[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(v, '/');
	unsigned long bits;
	void *dst;
	int af;

	if (strlen(v) >= sizeof(host))
		return EINVAL;
	tg_strlcpy(host, v, sizeof(host));
	if (slash)
		host[slash - v] = '\0';
	memset(net, 0, sizeof(*net));
	if (strchr(host, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&net->addr;

		af = AF_INET6;
		dst = &s6->sin6_addr;
		bits = 128;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&net->addr;

		af = AF_INET;
		dst = &s4->sin_addr;
		bits = 32;
	}
	if (inet_pton(af, host, dst) != 1)
		return EINVAL;
	net->addr.ss_family = (sa_family_t)af;
	if (slash) {
		char *end;
		unsigned long b = strtoul(slash + 1, &end, 10);

		if (!slash[1] || *end || b > bits)
			return EINVAL;
		bits = b;
	}
	net->prefix = (unsigned)bits;
	return 0;
}

bool sip_net_match(const struct sip_net *net, const struct sockaddr *sa)
{
	const uint8_t *a, *b;
	unsigned full = net->prefix / 8, rest = net->prefix % 8;

	if (net->addr.ss_family != sa->sa_family)
		return false;
	if (sa->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)&net->addr)
			    ->sin_addr;
		b = (const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		a = ((const struct sockaddr_in6 *)&net->addr)->sin6_addr.s6_addr;
		b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
	} else {
		return false;
	}
	if (memcmp(a, b, full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));

		if ((a[full] & mask) != (b[full] & mask))
			return false;
	}
	return true;
}

bool sip_nets_match(const struct sip_net *nets, unsigned n,
		    const struct sockaddr *sa)
{
	for (unsigned i = 0; i < n; i++)
		if (sip_net_match(&nets[i], sa))
			return true;
	return false;
}

static int addr_family(const char *a)
{
	struct in6_addr x;

	if (inet_pton(AF_INET, a, &x) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, a, &x) == 1)
		return AF_INET6;
	return AF_UNSPEC;
}

const char *sip_nat_addr(const struct sip_nat_cfg *nc,
			 const struct sockaddr *peer, const char *local,
			 bool media)
{
	const char *ext = nc->external_addr;

	if (media && nc->external_media_addr && *nc->external_media_addr)
		ext = nc->external_media_addr;
	/* A peer in one of our own nets reaches the bound address; an
	 * external address of the other family means nothing to it (an
	 * IPv6 peer needs no NAT mapping of our IPv4 one). */
	if (!ext || !*ext || !peer ||
	    sip_nets_match(nc->local_nets, nc->nlocal, peer) ||
	    addr_family(ext) != peer->sa_family)
		return local;
	return ext;
}

