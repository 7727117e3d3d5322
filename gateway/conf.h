/* gateway/conf.h  tollgate.conf: parsing, validation, the config object */
#ifndef TG_GATEWAY_CONF_H
#define TG_GATEWAY_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sip/sip.h"
#include "tdm/tdm.h"
#include "dialplan/dialplan.h"

#define GW_MAX_SPANS 32
#define GW_MAX_TRUNKS 16
#define GW_MAX_ACCEPT 16
#define GW_MAX_DIDS 64
#define GW_MAX_CODECS 4       /* pcmu, pcma, g722, g729 */

/* An accept_from entry: an address block, maybe one port only. */
struct gw_net {
	struct sip_net net;           /* the address block */
	uint16_t port;                /* only from this port; 0 any */
};

enum gw_trunk_kind {
	GW_TRUNK_SIP,
	GW_TRUNK_TDM,
};

/* How a TDM trunk picks a B-channel for an outgoing call. */
enum gw_hunt {
	GW_HUNT_ASCENDING = 0, /* first span, lowest channel */
	GW_HUNT_DESCENDING,    /* last span, highest channel */
	GW_HUNT_ROUND_ROBIN,   /* the next channel after the last one used */
	GW_HUNT_LRU,           /* the channel idle for the longest time */
};
const char *gw_hunt_name(enum gw_hunt h);

/* When a PRI call's early audio reaches a SIP caller (183 with SDP). */
enum gw_early_media {
	GW_EM_PI = 0,   /* when a progress indicator says in-band (PI 8)
			 * on CALL PROCEEDING, PROGRESS or ALERTING */
	GW_EM_ALWAYS,   /* on PROGRESS or ALERTING whatever they say */
	GW_EM_NEVER,    /* never: 180 on ALERTING, the PBX rings */
};

/* How a SIP trunk carries DTMF ([trunk] dtmf). */
enum gw_dtmf {
	GW_DTMF_RFC4733 = 0,        /* telephone-events; in-band when the
				       peer has none */
	GW_DTMF_INFO,               /* SIP INFO application/dtmf-relay */
	GW_DTMF_INBAND,             /* tones in the audio, untouched */
};

/* SDES SRTP on a SIP trunk ([trunk] srtp; docs/media.md). */
enum gw_srtp {
	GW_SRTP_OFF = 0,            /* RTP/AVP only; RTP/SAVP offers: 488 */
	GW_SRTP_OPTIONAL,           /* SRTP when the other end wants it:
				       SAVP offers, AVP+crypto answers */
	GW_SRTP_MANDATORY,          /* SRTP or no call */
	GW_SRTP_BEST_EFFORT,        /* optional, and RTP/AVP offers with
				       a=crypto are answered with SRTP */
};

/* RTP -> B-channel jitter buffer ([sip] and [trunk] jb_min, jb_max,
 * jb_mode); in a trunk -1 takes [sip]'s. */
struct gw_jb {
	int min_ms;
	int max_ms;
	int fixed;                  /* jb_mode = fixed */
};

struct gw_trunk_cfg {
	char name[32];
	enum gw_trunk_kind kind;
	int line;                   /* where it was defined */
	/* SIP */
	struct sockaddr_storage peer;
	socklen_t peer_len;
	char peer_str[80];
	char host[128];             /* peer/host given as a name: located
				       by RFC 3263 (targets.c); "" = peer */
	uint16_t host_port;         /* its :port (no NAPTR/SRV), 0 none */
	struct sockaddr_storage proxy; /* outbound proxy (RFC 3261 8.1.2):
					  requests go there, 0 len = none */
	socklen_t proxy_len;
	struct gw_net accept[GW_MAX_ACCEPT];
	unsigned naccept;
	/* Among trunks that accept an address, this one takes only calls
	 * to these numbers (Request-URI or To user): "FIRST-LAST" ranges
	 * of equal length, or prefixes ending in '*'. */
	struct gw_user_match {
		char first[24], last[24];
	} match_user[GW_MAX_ACCEPT];
	unsigned nmatch_user;
	unsigned accept_transports; /* bits 1 << enum sip_transport the
				       trunk's requests may come over; 0 any */
	char match_hdr[48];         /* ... and whose INVITE has this header */
	char match_hdr_text[80];    /* ... with this in its value ("" any) */
	unsigned max_calls;         /* calls both ways; 0 = unlimited */
	unsigned cps;               /* new outbound attempts per second */
	unsigned max_inbound;       /* calls arriving from it; 0 = no limit */
	unsigned inbound_cps;       /* calls arriving per second */
	unsigned down_after;        /* unanswered attempts in a row that
				       mark it down (0 = never) */
	unsigned down_time;         /* seconds it stays down before the
				       next call may try it again */
	char auth_user[64];         /* digest credentials we answer its
				       401/407 with; "" = none */
	char auth_password[64];
	char auth_realm[64];        /* only for this realm; "" = any */
	char inbound_user[64];      /* its requests must authenticate as
				       this user (digest); "" = no */
	char inbound_password[64];
	unsigned inbound_digest;    /* SIP_DIGEST_OFFER_* bits; 0 = both */
	unsigned options_interval;  /* s between OPTIONS probes, 0 = off */
	unsigned options_down;      /* unanswered probes in a row: down */
	unsigned options_up;        /* answered probes in a row: up again */
	unsigned options_timeout_ms; /* a probe's wait for an answer */
	/* numbering (dialplan) */
	struct dp_country_plan plan;
	enum dp_number_fmt called_fmt, calling_fmt;
	bool called_fmt_set, calling_fmt_set;
	char allow[64];
	bool nat;                   /* nat = yes: it sits behind NAT; its
				       requests are answered where they
				       came from (as if ;rport), and its
				       RTP is latched unless rtp_latch =
				       no */
	int rtp_latch;              /* rtp_latch: 1 yes, 0 no, -1 = nat's */
	bool trusted;               /* its Resource-Priority (and, later,
				       identity headers) are believed */
	enum gw_identity {
		GW_ID_PAI = 0,      /* P-Asserted-Identity (RFC 3325) */
		GW_ID_RPID,         /* Remote-Party-ID, as older peers want */
		GW_ID_NONE,         /* neither: From alone */
	} identity;                 /* SIP: the header that asserts who
				       calls, on calls to it */
	bool history_info;          /* SIP: who diverted a call goes to it in
				       History-Info (RFC 7044), not Diversion */
	bool transfer;              /* SIP: its REFERs (RFC 3515) may move
				       the other party to a new call */
	bool rfc3578;               /* SIP: overlap signalling (RFC 3578):
				       484 asks the caller for more digits */
	unsigned overlap_wait_ms;   /* a held INVITE waits this long for
				       the network to proceed, then 484 */
	unsigned overlap_timeout_ms; /* after a 484, the caller's next
				       INVITE must come within this */
	bool e911_pidf;             /* SIP: emergency INVITEs carry the
				       zone's PIDF-LO by value */
	bool e911_reference;        /* ... or its location_id (a URI) by
				       reference */
	int e911_pai;               /* enum sip_pai_form */
	enum gw_dtmf dtmf;
	enum gw_srtp srtp;
	bool t38;                   /* SIP: fax as T.38 (re-INVITE on CNG/CED,
				       take the far end's); else G.711
				       pass-through (docs/fax.md) */
	int transport;              /* SIP: enum sip_transport of our
				       requests to it */
	bool transport_set;         /* given: a named peer is located for
				       it alone, else NAPTR/SRV choose
				       among those we serve */
	char tls_name[128];         /* TLS: the name its certificate must
				       carry; "" = host, else its address */
	int rtp_timeout;            /* SIP: [sip] rtp_timeout for its calls,
				       -1 = that one */
	struct gw_jb jb;            /* SIP: its calls' jitter buffer */
	int codecs[GW_MAX_CODECS];  /* SIP: RTP payload types, preferred
				       first; ncodecs 0 = [sip]'s */
	unsigned ncodecs;
	unsigned ptime;             /* SIP: ms, 10-60; 0 = [sip]'s */
	int session_expires;        /* SIP: RFC 4028 session interval (s,
				       0 off), -1 = [sip]'s */
	int min_se;                 /* SIP: the least we accept, -1 = [sip]'s */
	bool e911_id_location;      /* From and PAI carry the zone's
				       location_id (an endpoint id) */
	unsigned e911_set;          /* keys given (they beat the profile) */
	/* REGISTER (gateway/reg.c) */
	bool reg;                   /* register = yes: we register with its
				       peer (RFC 3261 10.2) */
	unsigned reg_expires;       /* asked for, s */
	char reg_user[64];          /* address-of-record user; "" = auth_user */
	char reg_domain[64];        /* its domain (Request-URI); "" = peer */
	char reg_contact[64];       /* our Contact's user; "" = reg_user */
	unsigned reg_retry_min;     /* back-off after a failure, s: from */
	unsigned reg_retry_max;     /* ... doubling up to this */
	bool registrar;             /* registrar = yes: its PBX registers
				       with us; calls to it go to the binding */
	unsigned registrar_min;     /* expires it may ask for, s (423 below) */
	unsigned registrar_max;     /* ... above is cut to this */
	/* TDM */
	int spans[GW_MAX_SPANS];
	unsigned nspans;
	enum gw_hunt hunt;          /* B-channel hunting over the spans */
};

struct gw_span_cfg {
	int id;
	int line;
	enum tdm_span_type type;
	int switchtype;
	bool network;
	char backend[16];           /* "virtual" or "dahdi" */
	int dahdi_span;             /* dahdi: DAHDI's span number, 0 = id */
	char dir[256];
	char pcap[256];             /* D-channel capture file, "" = none */
	unsigned e911_reserve;      /* idle channels ordinary calls leave
				       for emergency calls and callbacks */
	bool restart_on_up;         /* RESTART idle channels at D-channel up */
	bool overlap;               /* overlap receiving (Q.931 5.1.3) */
	bool service;               /* SERVICE messages for blocks */
	int early_media;            /* enum gw_early_media */
	unsigned t302_ms;           /* inter-digit timer while collecting */
	unsigned overlap_digits;    /* route at this many digits; 0 = T302
				       or Sending Complete only */
	unsigned audit;             /* channel audit period, s; 0 = off */
	bool preferred;             /* channel_select = preferred */
	unsigned timers[TDM_NTIMERS]; /* t200 ... ms; 0 = libpri default */
	bool overlap_send;          /* overlap sending (Q.931 5.1.3) */
	bool echo_cancel;           /* line echo canceller on its calls */
	unsigned echo_tail;         /* its tail, ms */
	unsigned overlap_send_digits; /* an en-bloc number: this many
				       digits in the SETUP, the rest in
				       INFORMATION; 0 = all in the SETUP */
};

struct gw_config {
	char path[256];
	/* [general] */
	int log_level;
	bool log_syslog;
	unsigned debug;
	char control[256];
	unsigned drain_timeout;     /* seconds */
	unsigned media_workers;
	unsigned ring_timeout;      /* seconds before an unanswered outbound
				       call is abandoned (cause 19) */
	/* [sip] */
	char sip_bind[64];
	char sip_bind6[64];          /* IPv6 address listened on too (the
					same port), "" none */
	char media_addr6[64];        /* RTP address toward IPv6 peers, "" =
					sip_bind6 (or media_addr) */
	char sip_realm[64];          /* our digest realm, "" = sip_bind */
	unsigned nonce_lifetime;     /* seconds; 0 = 300 */
	uint16_t sip_port;
	bool sip_tcp;               /* listen on TCP too, on sip_port */
	bool sip_tls;               /* listen for TLS on tls_port */
	uint16_t tls_port;
	char tls_cert[256];         /* PEM: our certificate (chain) */
	char tls_key[256];          /* its key; "" = in tls_cert */
	char tls_ca[256];           /* CAs of peers' certificates; "" =
				       the system store */
	char tls_client_cert[256];  /* shown to trunks that ask; "" none */
	char tls_client_key[256];
	char tls_ciphers[256];      /* TLS 1.2 cipher list; "" default */
	bool tls_verify;            /* trunks' certificates are checked */
	bool tls_verify_client;     /* TLS clients must show one */
	unsigned tcp_idle_timeout;  /* s before an idle connection of ours
				       is closed */
	unsigned tcp_max_connections;
	char media_addr[64];
	uint16_t rtp_min, rtp_max;
	int codecs[GW_MAX_CODECS];   /* RTP payload types, preferred first */
	unsigned ncodecs;
	unsigned ptime;
	unsigned rtp_timeout;       /* s without RTP from a SIP far end that
				       clear its call (cause 41); 0 off */
	struct gw_jb jb;
	unsigned session_expires;   /* RFC 4028 session interval, s; 0 off */
	unsigned min_se;            /* RFC 4028 Min-SE, s */
	char user_agent[64];
	char external_addr[64];     /* NAT's public address toward peers
				       outside local_nets; "" none */
	char external_media_addr[64]; /* ... for SDP only; "" = that one */
	struct sip_net local_nets[SIP_MAX_LOCAL_NETS];
	unsigned nlocal_nets;
	/* [database] */
	char db_path[256];
	/* [span N] */
	struct gw_span_cfg spans[GW_MAX_SPANS];
	unsigned nspans;
	/* [trunk NAME] */
	struct gw_trunk_cfg trunks[GW_MAX_TRUNKS];
	unsigned ntrunks;
	/* [routing] */
	char outbound[128];         /* trunks for calls from SIP trunks that
				       no database route takes, in order */
	unsigned t_trying_ms;       /* default per-attempt timers */
	unsigned t_progress_ms;
	bool dial9;                 /* 9911, 9112 are emergency numbers too */
	/* [e911] */
	unsigned callback_window;   /* minutes a PSAP callback to an ELIN
				       reaches its last caller (45) */
	bool prefer_incoming;       /* a PIDF-LO that came with the call wins
				       over the configured zone */
	unsigned holdoff;           /* seconds after the last emergency call
				       before a deferred reload runs (60) */
	char notify[4][256];        /* URLs told of every emergency call */
	unsigned nnotify;
	char notify_ca[256];        /* PEM CAs for https:// URLs; "" = the
				       system store */
	char notify_cert[256];      /* client certificate (mutual TLS); "" */
	char notify_key[256];       /* its key; "" = in notify_cert */
	int notify_ca_line, notify_cert_line, notify_key_line;
	char notify_sip_user[64];   /* a console told by SIP MESSAGE; "" */
	struct sockaddr_storage notify_sip;
	socklen_t notify_sip_len;
	/* [dns] */
	char dns_servers[256];      /* "" = /etc/resolv.conf; else
				       "addr[:port],..." */
	unsigned dns_timeout_ms;    /* per try; 0 = 1000 */
	unsigned dns_tries;         /* per server; 0 = 2 */
	unsigned dns_ttl_min;       /* s a trunk's located targets are kept
				       at least (30) ... */
	unsigned dns_ttl_max;       /* ... and at most (3600), whatever the
				       records' TTL */
	/* [dids]: seeded into the database on first start */
	struct dp_did_range dids[GW_MAX_DIDS];
	unsigned ndids;
};

/**
 * Parse and validate @p path into @p cfg (defaults first).
 * @return 0, or an errno with @p err holding "file:line: what is wrong".
 */
int gw_config_load(struct gw_config *cfg, const char *path, char *err,
		   size_t errsize);
/** The same from a memory buffer (tests, fuzzing); @p name for messages. */
int gw_config_parse(struct gw_config *cfg, const char *name,
		    const char *buf, size_t len, char *err, size_t errsize);

/** The jitter buffer for calls on trunk @p t (NULL: [sip]'s). */
struct gw_jb gw_config_jb(const struct gw_config *cfg,
			  const struct gw_trunk_cfg *t);
const struct gw_trunk_cfg *gw_config_trunk(const struct gw_config *cfg,
					   const char *name);
const struct gw_span_cfg *gw_config_span(const struct gw_config *cfg,
					 int id);
/** The session timer (RFC 4028) of trunk @p t's calls (NULL: [sip]'s). */
unsigned gw_session_expires(const struct gw_config *cfg,
			    const struct gw_trunk_cfg *t);
unsigned gw_min_se(const struct gw_config *cfg, const struct gw_trunk_cfg *t);
/** Our RTP address toward a far end of @p family (media_addr or the
 *  IPv6 one). */
const char *gw_media_addr(const struct gw_config *cfg, int family);
/** Does trunk @p t latch its calls' RTP (rtp_latch, else nat)? */
bool gw_trunk_latch(const struct gw_trunk_cfg *t);
/** Trunk @p t's codec preference (NULL: [sip]'s) into @p out; @return
 * how many. */
unsigned gw_config_codecs(const struct gw_config *cfg,
			  const struct gw_trunk_cfg *t, int *out);
/** Trunk @p t's ptime in ms (NULL: [sip]'s). */
unsigned gw_config_ptime(const struct gw_config *cfg,
			 const struct gw_trunk_cfg *t);
/** The RTP payload type of codec @p name ("pcmu", "g729"...), -1 none. */
int gw_codec_pt(const char *name);
/** "PCMU", "PCMA", "G722", "G729" for payload type @p pt; "" another. */
const char *gw_codec_name(int pt);
/** Is @p src allowed to send requests on trunk @p t? */
/** Does trunk @p t take calls to @p user (its match_user; true when it
 * has none)? */
bool gw_trunk_matches_user(const struct gw_trunk_cfg *t, const char *user);
bool gw_trunk_accepts(const struct gw_trunk_cfg *t,
		      const struct sockaddr *src);

#endif
