/* sip/nat.c  Behind NAT: the UA's external address, forced rport */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_int.h"

/* NULL, "", or an address in numbers ("" and NULL: none). */
static bool numeric(const char *a)
{
	struct sip_net net;

	return !a || !*a || (!strchr(a, '/') && !sip_net_parse(&net, a));
}

int sip_nat_cfg_copy(struct sip_nat *n, const struct sip_nat_cfg *c)
{
	/* Checked before anything is written: a bad one changes nothing. */
	if (c && (c->nlocal > SIP_MAX_LOCAL_NETS ||
		  !numeric(c->external_addr) ||
		  !numeric(c->external_media_addr)))
		return EINVAL;
	memset(n, 0, sizeof(*n));
	n->cfg.external_addr = n->ext;
	n->cfg.external_media_addr = n->ext_media;
	n->cfg.local_nets = n->nets;
	if (!c)
		return 0;
	tg_strlcpy(n->ext, c->external_addr ? c->external_addr : "",
		   sizeof(n->ext));
	tg_strlcpy(n->ext_media,
		   c->external_media_addr ? c->external_media_addr : "",
		   sizeof(n->ext_media));
	if (c->nlocal)
		memcpy(n->nets, c->local_nets, c->nlocal * sizeof(n->nets[0]));
	n->cfg.nlocal = c->nlocal;
	return 0;
}

int sip_ua_set_nat(struct sip_ua *ua, const struct sip_nat_cfg *nc)
{
	return sip_nat_cfg_copy(&ua->nat, nc);
}

void sip_nat_fix_via(const struct sip_ua *ua, osip_message_t *req,
		     const struct sockaddr *src, socklen_t srclen)
{
	osip_via_t *via = osip_list_get(&req->vias, 0);
	osip_generic_param_t *rport = NULL, *rcvd = NULL;
	char a[64];
	uint16_t port;

	if (!via || !via->host)
		return;
	sip_addr_str(src, a, sizeof(a), &port);
	osip_via_param_get_byname(via, "rport", &rport);
	/* A peer behind NAT that does not know it (no ;rport): its sent-by
	 * is an address we cannot reach, so do as if it had asked. */
	if (!rport && ua->symmetric && ua->symmetric(src, srclen, ua->arg)) {
		char *name = osip_strdup("rport");

		if (name && osip_via_param_add(via, name, NULL))
			osip_free(name);
		osip_via_param_get_byname(via, "rport", &rport);
	}
	/* libosip2 fills rport= and adds received= when the sent-by host
	 * is not the source address ... */
	osip_message_fix_last_via_header(req, a, port);
	/* ... and RFC 3581 4 wants received= with rport even when it is. */
	osip_via_param_get_byname(via, "received", &rcvd);
	if (rport && !rcvd)
		osip_via_set_received(via, osip_strdup(a));
}
