/* sip/sip.h  SIP user agent: UDP, TCP and TLS transport, transactions, INVITE dialogs, SDP
 *
 * Everything here runs on the signalling thread's libevent loop.  The
 * gateway sees calls as legs: one INVITE dialog each, inbound (UAS) or
 * outbound (UAC).  The sip module does the protocol chores itself: 100
 * Trying, ACK for 2xx, retransmission of our 2xx until ACK (RFC 3261
 * 13.3.1.4), 200 for CANCEL and 487 for the INVITE, 200 for BYE, OPTIONS,
 * 481 for requests outside any dialog, 488 when an offer has no codec we
 * take, 200 for INFO (DTMF ones are reported as SIP_LEG_DTMF), answers
 * to re-INVITE and UPDATE (new media reported as SIP_LEG_MEDIA; 491 and
 * 500 for glare) and RFC 4028 session timers (docs/sip.md).
 */
#ifndef TG_SIP_H
#define TG_SIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct event_base;
struct sip_ua;
struct sip_leg;

/* An SDP stream's direction (RFC 3264 5.1), as its sender says it. */
enum sip_dir {
	SIP_DIR_SENDRECV = 0,
	SIP_DIR_SENDONLY,
	SIP_DIR_RECVONLY,
	SIP_DIR_INACTIVE,
};

/* SDES crypto suites (RFC 4568 6.2; AEAD_AES_128_GCM: RFC 7714 14.2). */
enum sip_srtp_suite {
	SIP_SRTP_NONE = 0,
	SIP_SRTP_AES_CM_128_HMAC_SHA1_80,
	SIP_SRTP_AES_CM_128_HMAC_SHA1_32,
	SIP_SRTP_AEAD_AES_128_GCM,
};

#define SIP_SRTP_KEY_MAX 30 /* master key + salt: 16 + 14 (GCM 16 + 12) */

/* One a=crypto line (RFC 4568 9.1) we can use: no MKI, one key, no
 * session parameters. */
struct sip_crypto {
	int suite;      /* enum sip_srtp_suite; SIP_SRTP_NONE: no line */
	unsigned tag;
	uint8_t key[SIP_SRTP_KEY_MAX]; /* master key, then salt */
};

#define SIP_MAX_PTIME 60 /* ms: the longest packets we send or take */

/* Audio description taken from or put into SDP (PCMU, PCMA, G722, G729). */
struct sip_media {
	char addr[64];  /* connection address */
	uint16_t port;
	int pt;         /* chosen payload type: 0 PCMU, 8 PCMA, 9 G722 or
			 * 18 G729 */
	bool annexb;    /* G729: the far end's SDP allows Annex B (RFC 4856
			 * 2.1.9; we never use it ourselves) */
	unsigned ptime; /* ms; 20 when its SDP has no a=ptime */
	bool ptime_set; /* ... it has one: the packets it wants */
	unsigned maxptime; /* its a=maxptime, 0 none */
	int te_pt;      /* its telephone-event/8000 payload type (RFC 4733,
			 * events 0-11 at least), -1 none */
	bool hold;      /* a=sendonly/recvonly/inactive or c=0.0.0.0: the
			 * far end holds the call (its RTP may stop) */
	enum sip_dir dir; /* its direction; c=0.0.0.0 takes away "recv"
			   * (RFC 3264 8.4, RFC 6337 5.3) */
	bool savp;      /* the stream's profile is RTP/SAVP */
	struct sip_crypto crypto; /* its first a=crypto line we can use (an
				   * offer's preference), suite NONE none */
};

/* T.38 fax over UDPTL: one m=image udptl t38 stream and its attributes
 * (T.38 Annex D.2.3).  Sizes are what the side that declares them can
 * receive: the far end's bound what we send. */
enum sip_t38_ec {
	SIP_T38_EC_NONE = 0,
	SIP_T38_EC_FEC,
	SIP_T38_EC_REDUNDANCY,
};

struct sip_t38 {
	char addr[64];          /* connection address */
	uint16_t port;
	unsigned version;       /* T38FaxVersion, 0-3 */
	unsigned max_bitrate;   /* T38MaxBitRate, bit/s (0: not given) */
	bool fill_bit_removal;  /* T38FaxFillBitRemoval */
	bool transferred_tcf;   /* T38FaxRateManagement: transferredTCF;
				 * false is localTCF */
	unsigned max_buffer;    /* T38FaxMaxBuffer, octets (0: not given) */
	unsigned max_datagram;  /* T38FaxMaxDatagram, octets (0: not given) */
	enum sip_t38_ec ec;     /* T38FaxUdpEC */
};

/** Does the far end of @p m take our RTP (sendrecv or recvonly)? */
static inline bool sip_media_receives(const struct sip_media *m)
{
	return m->dir == SIP_DIR_SENDRECV || m->dir == SIP_DIR_RECVONLY;
}

/* A Q.850 cause carried in a Reason header (RFC 3326 / RFC 6432). */
struct sip_reason {
	int cause;        /* 0 = no Reason header */
	const char *text; /* may be NULL */
	bool preemption;  /* decoded: an RFC 4411 "preemption" value came
			   * (alone it reads as Q.850 cause 8).  Cause 8
			   * is sent with "preemption;cause=4" too. */
};

/* How SIP messages travel to a peer (RFC 3261 18). */
enum sip_transport {
	SIP_TRANSPORT_UDP = 0,
	SIP_TRANSPORT_TCP,
	SIP_TRANSPORT_TLS,
};
/** "udp", "tcp" or "tls" (URI parameters, logs, config). */
const char *sip_transport_name(enum sip_transport tp);

struct sip_invite_info {
	const char *call_id;
	const char *from_tag;     /* "" if none */
	uint32_t cseq;            /* CSeq number (RFC 3578: a follow-up
				   * INVITE has a higher one) */
	const char *from_user;    /* From URI user part ("" if none) */
	const char *from_display; /* "" if none */
	const char *to_user;
	const char *ruri_user;    /* Request-URI user part */
	const char *diversion;    /* RFC 5806: who diverted the call here
				   * (newest Diversion's user), "" none */
	const char *diversion_reason; /* its reason token, "" none */
	bool diversion_privacy;   /* its privacy=full|name|uri (RFC 5806) */
	bool priority_emergency;  /* Priority: emergency (RFC 3261 20.26) */
	const char *pai_user;     /* P-Asserted-Identity's user (RFC 3325):
				   * believe it only from trusted trunks;
				   * "" none */
	bool privacy;             /* Privacy: id, user or header (RFC
				   * 3323/3325): do not show the caller */
	bool anonymous;           /* From is anonymous (RFC 3323 4.1.1.3) */
	const char *auth_user;    /* the digest username it authenticated
				   * with, "" none */
	bool esnet;               /* Resource-Priority: esnet.* (RFC 7135);
				   * to be believed from trusted trunks */
	const char *pidf;         /* a PIDF-LO that came with it (RFC 6442),
				   * not terminated; NULL none */
	size_t pidf_len;
	const char *geo_ref;      /* a location by reference that came with
				   * it (a Geolocation URI, RFC 6442), ""
				   * none */
	struct sockaddr_storage src;
	socklen_t src_len;
	const struct sip_media *offer; /* remote media, pt = codec we chose */
	unsigned max_forwards;    /* its Max-Forwards (70 when absent) */
	enum sip_transport transport; /* what it came over: the listener */
	const void *req;          /* the request itself, for
				   * sip_invite_header: only until the
				   * handler first answers it */
};

/**
 * The first value of header @p name (case-insensitive) of the INVITE
 * @p info describes, into @p out (cut to fit).  Only from the invite
 * handler, before it answers.  @return 0; ENOENT no such header.
 */
int sip_invite_header(const struct sip_invite_info *info, const char *name,
		      char *out, size_t size);

enum sip_leg_event_type {
	SIP_LEG_PROGRESS,  /* outbound: 1xx > 100; media set if it had SDP */
	SIP_LEG_ANSWERED,  /* outbound: 2xx (we ACKed it); inbound: ACK for our 2xx */
	SIP_LEG_FAILED,    /* outbound: final >= 300, or timeout (408) */
	SIP_LEG_BYE,       /* the far end sent BYE (we answered 200); or
			    * the session ended without it: its timer ran
			    * out (RFC 4028, we sent BYE with Q.850 cause
			    * 102) or a refresh got 408/481 */
	SIP_LEG_CANCELLED, /* inbound: CANCEL before answer (we sent 200+487) */
	SIP_LEG_CLOSED,    /* the dialog is gone; last event of a leg */
	SIP_LEG_TRYING,    /* outbound: 100 Trying (the next hop has it), or
			    * a 401/407 we answered (status says which) */
	SIP_LEG_DTMF,      /* an INFO with application/dtmf-relay (we
			    * answered 200): digit, duration_ms */
	SIP_LEG_MEDIA,     /* the far end changed the session: a re-INVITE
			    * or UPDATE offer we answered, or the answer in
			    * an ACK to our offer; media = its new SDP (new
			    * address, codec in pt, hold in dir).  With t38
			    * set the session is T.38 now (their offer, or
			    * the 2xx to ours) and media is NULL */
	SIP_LEG_T38_REFUSED, /* our T.38 re-INVITE got a final failure
			    * (status: 488, 415, 606 ... or 408): the
			    * session is still the audio one */
	SIP_LEG_REFER,     /* the far end asks for a blind transfer of the
			    * other party to refer_to (RFC 3515): we sent
			    * 202 and NOTIFY 100; report the new call with
			    * sip_leg_refer_notify, ending with a final one */
};

struct sip_leg_event {
	enum sip_leg_event_type type;
	int status;                  /* SIP status for PROGRESS/FAILED */
	struct sip_reason reason;    /* from a Reason header, cause 0 = none */
	const struct sip_media *media; /* remote SDP answer, or NULL */
	const char *pai_user;        /* ANSWERED, outbound: the 200 OK's
				      * P-Asserted-Identity user (who
				      * answered; believe it only from
				      * trusted trunks), "" none */
	bool transport;              /* FAILED 503: nothing came back, the
				      * INVITE could not be delivered (a
				      * transport error, ICMP unreachable) */
	char digit;                  /* DTMF: 0-9 * # A-D */
	unsigned duration_ms;        /* DTMF: Duration (250 if none) */
	const struct sip_t38 *t38;   /* MEDIA: the T.38 session agreed (the
				      * far end's address and sizes), or
				      * NULL: audio */
	const char *refer_to;        /* REFER: the number (Refer-To user or
				      * tel: URI, separators dropped) */
};

typedef void(sip_leg_event_h)(struct sip_leg *leg,
			      const struct sip_leg_event *ev, void *arg);

/**
 * A new INVITE outside any dialog.  The handler owns a reference to @p leg
 * (obj_deref when done) and must answer it with sip_leg_reply/answer, or
 * set up media and wait.  Offer-less INVITEs and INVITEs whose offer has no
 * codec in common never reach it (the UA answers 488 itself and calls
 * @p rejected so the gateway can log and record them).
 */
typedef void(sip_invite_h)(struct sip_leg *leg,
			   const struct sip_invite_info *info, void *arg);
/** Is a new out-of-dialog request from @p src acceptable?  false -> 403. */
typedef bool(sip_authorize_h)(const struct sockaddr *src, socklen_t len,
			      const char *method, void *arg);
/**
 * Digest authentication (RFC 7616, RFC 8760) of a new out-of-dialog
 * request from @p src: @p user is its Authorization's username, NULL
 * when it has none.  Return true when the request must authenticate
 * (then @p password gets the password for @p user, or "" when no trunk
 * has that user, and @p offer the algorithms to offer and accept,
 * preset to both), false when it need not (sip_authorize_h decides).
 */
#define SIP_DIGEST_OFFER_SHA256 1u
#define SIP_DIGEST_OFFER_MD5 2u
typedef bool(sip_digest_h)(const struct sockaddr *src, socklen_t len,
			   const char *user, char *password, size_t psize,
			   unsigned *offer, void *arg);
/* ---- the registrar's side (sip/reg.c) ---------------------------------- */

#define SIP_REG_MAX_BINDINGS 8

/** One Contact of a REGISTER, or one binding of the answer. */
struct sip_binding {
	char uri[256];
	int expires;     /* seconds; -1 = the REGISTER gave none */
};

/** An authenticated (or admitted) REGISTER (RFC 3261 10.3). */
struct sip_register_req {
	const char *auth_user;   /* the digest username it proved, "" none */
	const char *aor_user;    /* To user */
	const char *call_id;
	uint32_t cseq;
	bool wildcard;           /* Contact: * with Expires: 0 */
	const struct sip_binding *contacts; /* none: a query */
	unsigned ncontacts;
	const struct sockaddr *src;
	socklen_t src_len;
};

struct sip_register_reply {
	int status;              /* 200; 423 (min_expires); 403, 500 ... */
	unsigned min_expires;
	/* 200: every binding now in force, expires = seconds left */
	struct sip_binding bindings[SIP_REG_MAX_BINDINGS];
	unsigned nbindings;
};

/** A REGISTER for us as registrar: fill @p rp (status preset to 500). */
typedef void(sip_registrar_h)(const struct sip_register_req *rq,
			      struct sip_register_reply *rp, void *arg);

/* ---- addressing behind NAT (sip/nat.c) ---------------------------------- */

#define SIP_MAX_LOCAL_NETS 16

/** An address block: "10.0.0.0/8", "fd00::/8", or one address. */
struct sip_net {
	struct sockaddr_storage addr; /* network address, port 0 */
	unsigned prefix;              /* CIDR bits */
};

/** Parse @p v ("192.0.2.0/24", "2001:db8::/32", "192.0.2.7").  Pure.
 *  @return 0 or EINVAL. */
int sip_net_parse(struct sip_net *net, const char *v);
/** Is @p sa inside @p net (same family, same first prefix bits)? */
bool sip_net_match(const struct sip_net *net, const struct sockaddr *sa);
/** ... inside any of the @p n nets? */
bool sip_nets_match(const struct sip_net *nets, unsigned n,
		    const struct sockaddr *sa);

/* What a gateway behind NAT tells peers outside its own nets. */
struct sip_nat_cfg {
	const char *external_addr;       /* NAT's public address for Via,
					  * Contact and SDP; NULL/"" none */
	const char *external_media_addr; /* for SDP c=/o= only; NULL/"" =
					  * external_addr */
	const struct sip_net *local_nets; /* peers here see our own */
	unsigned nlocal;                  /* addresses (<= SIP_MAX_LOCAL_NETS) */
};

/**
 * Which address of ours @p peer must be told of: @p local (bound or
 * media address) when there is no external address, when @p peer is in
 * a local net, or when it is of the other family; else the external
 * one (@p media: external_media_addr when set).  Pure.
 */
const char *sip_nat_addr(const struct sip_nat_cfg *nc,
			 const struct sockaddr *peer, const char *local,
			 bool media);

/** Does the peer at @p src sit behind NAT (a trunk with nat = yes)?  Its
 * requests are then answered where they came from even without ;rport
 * in their Via (RFC 3581 as if it had asked). */
typedef bool(sip_symmetric_h)(const struct sockaddr *src, socklen_t len,
			      void *arg);

/** Informational: the UA refused an INVITE itself (status, e.g. 488). */
typedef void(sip_rejected_h)(const struct sip_invite_info *info, int status,
			     void *arg);

/* SIP over TLS (RFC 3261 26.2.1, RFC 5630): TLS 1.2 or 1.3.  Paths are
 * PEM files; NULL or "" = none. */
struct sip_tls_config {
	const char *cert;        /* our certificate chain, shown to clients */
	const char *key;         /* its private key ("" = in cert) */
	const char *ca;          /* CAs that sign peers' certificates; ""
				  * = the system store */
	const char *client_cert; /* shown to trunks that ask for one; "" =
				  * none */
	const char *client_key;  /* its key ("" = in client_cert) */
	const char *ciphers;     /* TLS 1.2 cipher list; "" = OpenSSL's */
	bool verify;             /* outbound: the trunk's certificate must
				  * chain to ca and name its host */
	bool verify_client;      /* inbound: clients must show a certificate
				  * signed by ca */
};
#define SIP_MAX_CODECS 8

/**
 * The codec preference and ptime for a new INVITE (its trunk's), asked
 * before its offer is negotiated; @p info is what the invite handler will
 * see (offer and call_id not set yet).  @p codecs (SIP_MAX_CODECS room)
 * and @p ptime come preset with the UA's and may be overwritten.
 */
typedef void(sip_media_prefs_h)(const struct sip_invite_info *info,
				int *codecs, unsigned *ncodecs,
				unsigned *ptime, void *arg);

/** RTP payload types SDP offers and answers: PCMU, PCMA, G722, G729. */
static inline bool sip_codec_known(int pt)
{
	return pt == 0 || pt == 8 || pt == 9 || pt == 18;
}

struct sip_ua_config {
	const char *bind_addr;   /* "127.0.0.1" */
	const char *bind_addr2;  /* a second socket on the same port for
				  * peers of the other family ("::1"),
				  * NULL/"" none */
	uint16_t port;           /* 5060; 0 = any (tests) */
	bool tcp;                /* also listen on TCP, the same port */
	bool tls;                /* also listen for TLS, on tls_port */
	uint16_t tls_port;       /* 0 = any (tests) */
	struct sip_tls_config tls_cfg;
	unsigned tcp_idle;       /* s a connection we opened may stay idle
				  * (0 = 120); accepted ones that never
				  * brought a message too */
	unsigned tcp_max;        /* connections at most (0 = 1024) */
	const char *user_agent;  /* Server / User-Agent header */
	const int *codecs;       /* our preference order, e.g. {0, 8} */
	unsigned ncodecs;
	unsigned ptime;          /* 20 */
	sip_media_prefs_h *media_prefs; /* NULL: the above for every call */
	sip_invite_h *invite;
	sip_authorize_h *authorize;
	sip_rejected_h *rejected;
	sip_digest_h *digest;    /* NULL: nothing authenticates */
	sip_registrar_h *registrar; /* NULL: REGISTER gets 405 */
	const char *realm;       /* our digest realm; NULL/"" = bind_addr */
	unsigned nonce_ttl;      /* seconds a nonce of ours is good for
				  * (0 = SIP_NONCE_TTL, 300) */
	struct sip_nat_cfg nat;  /* copied; all zero: no external address */
	sip_symmetric_h *symmetric; /* NULL: only ;rport asks for it */
	void *arg;
};

/* Digest authentication counters (sip_ua_auth_stats). */
struct sip_auth_stats {
	unsigned long challenged;  /* 401s we sent */
	unsigned long accepted;    /* requests that authenticated */
	unsigned long failed;      /* wrong password, unknown user, forged
				    * nonce, wrong realm (403) */
	unsigned long stale;       /* expired or forgotten nonces (401 stale) */
	unsigned long replayed;    /* nonce-count reused or lower */
	unsigned long answered;    /* challenges to our requests we answered */
};

void sip_ua_auth_stats(const struct sip_ua *ua, struct sip_auth_stats *st);

/** Open the transport and start serving.  */
int sip_ua_alloc(struct sip_ua **uap, struct event_base *base,
		 const struct sip_ua_config *cfg);
/** Close the transport; legs still referenced stay valid but inert. */
void sip_ua_free(struct sip_ua *ua);
/** The bound port (useful when cfg->port was 0). */
uint16_t sip_ua_port(const struct sip_ua *ua);
/** Change the codec preference (reload). */
void sip_ua_set_codecs(struct sip_ua *ua, const int *codecs, unsigned n);
/* One TCP or TLS connection, for sip_ua_connections(). */
struct sip_conn_info {
	enum sip_transport kind;
	const char *peer;        /* "addr:port" */
	bool outbound;           /* we opened it */
	bool up;                 /* connected (TLS: handshake done) */
	unsigned idle_s;         /* since its last traffic */
	const char *tls_version; /* "TLSv1.3"; "" none yet or TCP */
	const char *name;        /* outbound TLS: the name it must carry */
};

typedef void(sip_conn_h)(const struct sip_conn_info *ci, void *arg);

/** Connection counters since start-up. */
struct sip_tp_stats {
	unsigned conns;          /* open now */
	unsigned long accepted;  /* peers' connections taken */
	unsigned long opened;    /* connections we opened */
	unsigned long failed;    /* refused, or their TLS handshake failed */
	unsigned long bad;       /* closed for garbage or an oversized
				  * message */
};

/** Call @p h for each open connection (none when TCP and TLS are off). */
void sip_ua_connections(const struct sip_ua *ua, sip_conn_h *h, void *arg);
void sip_ua_tp_stats(const struct sip_ua *ua, struct sip_tp_stats *st);
/** The bound port of @p tp (0: it is not served). */
uint16_t sip_ua_tp_port(const struct sip_ua *ua, enum sip_transport tp);
/**
 * Requests to @p dst go over @p tp from now on (a trunk's transport):
 * over TCP and TLS one connection per destination, opened when needed
 * and kept.  @p name is the host name a TLS peer's certificate must name
 * (NULL or "": its address).  Set again before each request that may be
 * the first to a destination; the last setting wins.
 * @return 0; ENOTSUP @p tp is not enabled; ENOMEM.
 */
int sip_ua_set_transport(struct sip_ua *ua, const struct sockaddr *dst,
			 socklen_t dstlen, enum sip_transport tp,
			 const char *name);
/** Change the external address and local nets (reload; copied).
 *  @return 0, EINVAL (not a numeric address, too many nets). */
int sip_ua_set_nat(struct sip_ua *ua, const struct sip_nat_cfg *nc);

/* ---- legs ---------------------------------------------------------------- */

/** Take REFERs on this leg (SIP_LEG_REFER); without it they get 403. */
void sip_leg_allow_refer(struct sip_leg *leg, bool on);
/**
 * Report the transfer asked by this leg's REFER (SIP_LEG_REFER): a NOTIFY
 * with "SIP/2.0 @p status @p phrase" as message/sipfrag.  A status >= 200
 * is the final one and ends the REFER's subscription.  ENOTCONN when no
 * transfer is under way or the dialog is gone.
 */
int sip_leg_refer_notify(struct sip_leg *leg, int status, const char *phrase);

/** Set the handler that receives this leg's events (inbound legs start
 * without one; set it in the invite handler). */
void sip_leg_set_handler(struct sip_leg *leg, sip_leg_event_h *h, void *arg);
/** Our media for the SDP we send: address and RTP port. */
void sip_leg_set_local_media(struct sip_leg *leg, const char *addr,
			     uint16_t port);
const char *sip_leg_call_id(const struct sip_leg *leg);
/** Outbound: our From tag and the INVITE's CSeq number (RFC 3578). */
const char *sip_leg_local_tag(const struct sip_leg *leg);
uint32_t sip_leg_invite_cseq(const struct sip_leg *leg);
/** The codec chosen for this leg (0/8/9/18), -1 before negotiation. */
int sip_leg_codec(const struct sip_leg *leg);

/* Our telephone-event payload type in offers (RFC 4733; any dynamic). */
#define SIP_TE_PT 101

/**
 * Take T.38 on this leg (@p ours: what we can do; NULL refuses it): a
 * re-INVITE to T.38 is answered with T.38 (else 488), and
 * sip_leg_offer_t38 may be used.  Our refreshes during T.38 offer the
 * T.38 SDP again; a re-INVITE back to audio is answered as any other.
 */
void sip_leg_set_t38(struct sip_leg *leg, const struct sip_t38 *ours);
/**
 * Re-INVITE the far end to T.38 (T.38 Annex D.3: m=image in place of the
 * audio).  The 2xx comes as SIP_LEG_MEDIA with t38, a failure as
 * SIP_LEG_T38_REFUSED.  @return 0; EINVAL T.38 not set; ENOTCONN not
 * confirmed; EALREADY T.38 already, or offered; EBUSY another re-INVITE
 * or UPDATE is open (try again on its end).
 */
int sip_leg_offer_t38(struct sip_leg *leg);
/** Is the leg's session T.38 now? */
bool sip_leg_t38(const struct sip_leg *leg);

/** Inbound, before any SDP of ours: answer telephone-event (when the
 * offer had it) or not. */
void sip_leg_set_dtmf_events(struct sip_leg *leg, bool on);
/** The telephone-event payload type in our SDP (the one the far end
 * sends events with), -1 none. */
int sip_leg_dtmf_pt(const struct sip_leg *leg);

/* SDES SRTP in what an outbound leg offers (sip_call_params.srtp). */
enum sip_srtp_offer {
	SIP_SRTP_OFFER_NONE = 0, /* RTP/AVP, no crypto */
	SIP_SRTP_OFFER_AVP,      /* RTP/AVP with a=crypto: SRTP when the
				  * answer has a line for one of ours,
				  * plain RTP when it has none */
	SIP_SRTP_OFFER_SAVP,     /* RTP/SAVP: an answer without a line for
				  * one of ours fails the leg (488) */
};

/**
 * Inbound, before any SDP of ours: answer the offer's chosen a=crypto
 * line (its tag and suite, a fresh key of ours from the system's
 * CSPRNG, the offer's profile) or not.  EINVAL when the offer had no
 * usable line; a later call (a new offer) makes a new key.
 */
int sip_leg_set_srtp(struct sip_leg *leg, bool on);
/**
 * The SRTP keys of a leg once offer and answer agree: @p tx ours (what
 * we send is protected with it), @p rx the far end's.  @return 0;
 * ENOENT plain RTP.
 */
int sip_leg_srtp(const struct sip_leg *leg, struct sip_crypto *tx,
		 struct sip_crypto *rx);

/**
 * Inbound: send a provisional or final response.
 * 180/183: with_sdp adds our SDP answer (early media, 183).
 * >= 300: final failure, with a Reason header if reason->cause.
 */
int sip_leg_reply(struct sip_leg *leg, int status, bool with_sdp,
		  const struct sip_reason *reason);
/** Send @p digit as an INFO application/dtmf-relay ("Signal=5",
 * "Duration=160") in a confirmed dialog.  ENOTCONN otherwise. */
int sip_leg_send_dtmf(struct sip_leg *leg, char digit, unsigned duration_ms);

/**
 * Inbound, before sip_leg_answer: run a session timer (RFC 4028) of
 * @p session_expires s (0 = only if the caller asks for one), never
 * under @p min_se.  The caller's Session-Expires and refresher are
 * honoured; our 200 says who refreshes.  @return 0; ERANGE when the
 * caller's Session-Expires is below @p min_se: the leg has answered
 * 422 with our Min-SE (RFC 4028 8.1) and closes.
 */
int sip_leg_set_timer(struct sip_leg *leg, unsigned session_expires,
		      unsigned min_se);

/** Inbound: 200 OK with our SDP answer, retransmitted until ACK. */
int sip_leg_answer(struct sip_leg *leg);
/**
 * Inbound, before sip_leg_answer: who answered, for the 200 OK's
 * P-Asserted-Identity <sip:USER@our-address> (RFC 3325; connected line);
 * with @p privacy also Privacy: id.  NULL or "" = none.
 */
void sip_leg_set_answer_identity(struct sip_leg *leg, const char *user,
				 bool privacy);

/** How an emergency INVITE asserts the caller (RFC 3325). */
enum sip_pai_form {
	SIP_PAI_SIP = 0,    /* <sip:ID@our-address>: one sip: URI */
	SIP_PAI_SIP_PHONE,  /* ... ;user=phone when ID is a number only */
	SIP_PAI_TEL,        /* <tel:ID> (a sip: URI when ID is no number) */
	SIP_PAI_NONE,       /* no P-Asserted-Identity */
};

/** What an outbound INVITE says. */
struct sip_call_params {
	const char *from_user;    /* calling number ("" or NULL: none) */
	const char *from_display;
	const char *to_user;      /* called number: R-URI and To user at the
				   * peer's address; or */
	const char *to_uri;       /* a whole sip: URI for R-URI and To (ENUM) */
	const char *diversion;    /* number for a Diversion header, "" none */
	const char *diversion_reason; /* its reason, NULL/"" = unknown */
	bool diversion_privacy;   /* ;privacy=full on it (RFC 5806) */
	bool history_info;        /* ... as History-Info (RFC 7044) instead */
	unsigned max_forwards;    /* for a call passed on from SIP: the
				   * Max-Forwards its INVITE had; ours is one
				   * less, so that a loop through B2BUAs runs
				   * out (RFC 3261 16.6 step 3); 0 = 70 */
	/* Emergency calls (RFC 6442, RFC 3325): */
	bool emergency;           /* Priority: emergency */
	const char *pai_user;     /* P-Asserted-Identity <sip:USER@our
				   * address>: the callback number; NULL
				   * or "" = none */
	enum sip_pai_form pai_form;
	const struct sockaddr *proxy; /* an outbound proxy (RFC 3261 8.1.2):
				   * the INVITE and the dialog's requests
				   * go there, with a Route to it; the
				   * destination names the Request-URI's
				   * host.  NULL none */
	socklen_t proxy_len;
	const char *rpid_user;    /* Remote-Party-ID <sip:USER@our address>
				   * ;party=calling, NULL or "" none */
	bool rpid_screen;         /* ... screen=yes: we vouch for it */
	bool privacy;             /* the caller is not to be shown: From
				   * "Anonymous" <sip:anonymous@anonymous.
				   * invalid>, Privacy: id (RFC 3323/3325);
				   * pai_user, if any, carries who it is */
	const char *pidf;         /* a PIDF-LO to send by value (multipart
				   * body, Geolocation: <cid:...>,
				   * Geolocation-Routing: yes); NULL none */
	const char *pidf_id;      /* its Content-ID's local part */
	const char *geo_uri;      /* location by reference instead: a URI
				   * for the Geolocation header; NULL none */
	const char *media_addr;   /* our RTP address and port for the SDP */
	uint16_t media_port;
	/* RFC 3578 2: an INVITE that continues one answered 484 (the same
	 * number with more digits) keeps its Call-ID and From tag, with a
	 * higher CSeq (sip_leg_dialog_ids); NULL = new ones. */
	const char *call_id;
	const char *from_tag;
	uint32_t cseq;
	bool dtmf_events;         /* offer telephone-event (SIP_TE_PT) */
	/* Session timer (RFC 4028): Session-Expires we ask for (s, 0 =
	 * none) and our Min-SE. */
	unsigned session_expires;
	unsigned min_se;
	int srtp;                 /* enum sip_srtp_offer */
	/* Digest credentials for a 401/407 to the INVITE or our BYE (RFC
	 * 7616, MD5 or SHA-256); NULL or "" = we do not authenticate. */
	const char *auth_user;
	const char *auth_password;
	const char *auth_realm;   /* answer only this realm; NULL/"" any */
	/* Codecs to offer, preferred first, and our a=ptime (the trunk's);
	 * ncodecs 0 / ptime 0: the UA's. */
	const int *codecs;
	unsigned ncodecs;
	unsigned ptime;
};

/**
 * Outbound: send an INVITE with an SDP offer of our codecs.
 * @param dst  where to send (the trunk's peer, or where a to_uri's host
 *             was resolved to)
 * The leg is returned with one reference for the caller.
 */
int sip_leg_invite(struct sip_leg **legp, struct sip_ua *ua,
		   const struct sockaddr *dst, socklen_t dstlen,
		   const struct sip_call_params *p, sip_leg_event_h *h,
		   void *arg);

/**
 * End a leg whatever its state: BYE when confirmed, CANCEL when an
 * outbound INVITE is unanswered, a final response (@p status, e.g. 480,
 * with @p reason) when an inbound INVITE is unanswered.  A Reason header
 * with the Q.850 cause goes on BYE/CANCEL/the response.  Idempotent.
 */
int sip_leg_hangup(struct sip_leg *leg, int status,
		   const struct sip_reason *reason);

/**
 * Send a MESSAGE (RFC 3428, text/plain) outside any dialog to @p to_user
 * at @p dst; the transaction retransmits it on its own and its answer is
 * not reported.
 */
int sip_ua_message(struct sip_ua *ua, const struct sockaddr *dst,
		   socklen_t dstlen, const char *from_user, const char *to_user,
		   const char *text);

/* ---- OPTIONS probes (sip/options.c) ------------------------------------ */

struct sip_probe;

/** A probe's result: the final status that came back (any status means
 * the peer is alive), or 0 when nothing did within the timeout;
 * @p rtt_ms from sending to that answer (or to giving up). */
typedef void(sip_options_h)(int status, unsigned rtt_ms, void *arg);

/**
 * Send an OPTIONS (RFC 3261 11) outside any dialog to @p dst: Request-URI
 * sip:ADDR:PORT, a fresh Call-ID, retransmitted as any non-INVITE request
 * (Timer E) until an answer or @p timeout_ms (0 = Timer F, 32 s).  @p h
 * runs exactly once, from the loop (never from this call), unless
 * sip_options_cancel() comes first; @p *pp is invalid after either.
 */
int sip_options_probe(struct sip_probe **pp, struct sip_ua *ua,
		      const struct sockaddr *dst, socklen_t dstlen,
		      unsigned timeout_ms, sip_options_h *h, void *arg);
/** No report for @p p (its transaction ends on its own). */
void sip_options_cancel(struct sip_probe *p);

/* ---- outbound registration (sip/reg.c) --------------------------------- */

struct sip_regtx;

/** What one REGISTER says (RFC 3261 10.2). */
struct sip_reg_params {
	const char *user;         /* address-of-record user (To, From) */
	const char *domain;       /* its host and the Request-URI; NULL or
				   * "" = the registrar's address */
	const char *contact_user; /* our Contact's user; NULL/"" = user */
	unsigned expires;         /* asked for; 0 removes the binding */
	const char *call_id;      /* the same for every REGISTER of one
				   * binding (RFC 3261 10.2.4) */
	uint32_t cseq;            /* the last CSeq sent with that Call-ID */
	const char *auth_user;    /* digest credentials for a 401/407; */
	const char *auth_password;/* NULL/"" = none */
	const char *auth_realm;   /* answer only this realm; NULL/"" any */
	const struct sockaddr *proxy; /* outbound proxy (RFC 3261 8.1.2):
				   * the REGISTER goes there with a loose
				   * Route to it; NULL none */
	socklen_t proxy_len;
};

struct sip_reg_result {
	int status;               /* the final status; 0: no answer (Timer
				   * F or the timeout, transport error) */
	unsigned expires;         /* 2xx: what was granted (our Contact's
				   * expires, else Expires, else asked) */
	unsigned min_expires;     /* 423: Min-Expires, 0 none */
	unsigned retry_after;     /* Retry-After seconds, 0 none */
	bool auth_refused;        /* a 401/407 we could not answer, or the
				   * same again for our credentials */
	uint32_t cseq;            /* the last CSeq sent */
};

typedef void(sip_reg_result_h)(const struct sip_reg_result *r, void *arg);

/**
 * Send a REGISTER to @p dst; a 401/407 is answered with the credentials
 * (once; a second challenge that is not stale means they are wrong).
 * @p h runs exactly once, from the loop, unless sip_register_cancel()
 * comes first; @p *rtp is invalid after either.  @p timeout_ms: no
 * answer within it is status 0 (0 = Timer F, 32 s).
 */
int sip_register(struct sip_regtx **rtp, struct sip_ua *ua,
		 const struct sockaddr *dst, socklen_t dstlen,
		 const struct sip_reg_params *p, unsigned timeout_ms,
		 sip_reg_result_h *h, void *arg);
/** No report for @p rt (its transaction ends on its own). */
void sip_register_cancel(struct sip_regtx *rt);

/**
 * Hang up as sip_leg_hangup() and give the caller's reference to the UA:
 * the leg hears no more events and is released when its dialog closes
 * (a CANCEL may still wait for a provisional) or when the UA is freed.
 */
void sip_leg_abandon(struct sip_leg *leg, int status,
		     const struct sip_reason *reason);

/**
 * Decode a Reason header value (RFC 3326; several comma-separated values
 * allowed) and take its Q.850 reason-value (RFC 6432: at most one).
 * The text parameter, unquoted, is copied into @p text (NUL-terminated,
 * truncated to @p tsize) and out->text points to it, or is NULL.  An
 * RFC 4411 "preemption" value sets out->preemption; without a Q.850
 * value it is taken as Q.850 cause 8 (preemption).
 * @return 0; ENOENT no Q.850 or preemption value with a cause; EBADMSG
 * malformed.
 */
int sip_reason_decode(struct sip_reason *out, char *text, size_t tsize,
		      const char *val, size_t len);

/**
 * One Geolocation header value (RFC 6442 4.1): the first location by
 * reference we can pass on (a sip:, sips:, pres:, http: or https: URI;
 * cid: values point at a body) into @p uri.
 * @return 0; ENOENT only cid: or other schemes; EBADMSG malformed, or a
 * URI longer than @p size or with characters a header cannot carry.
 */
int sip_geolocation_decode(const char *val, char *uri, size_t size);

/**
 * One P-Asserted-Identity header value (RFC 3325 9.1: a sip: and/or a
 * tel: identity, comma-separated): the caller's number into @p out.  A
 * tel: identity wins (returns 1); else a sip: user that is a number
 * (@p have_number set), else the first sip: user, "anonymous" never.
 * Call again for the next header with the same @p out / @p have_number.
 * @return 1 a tel: number (final); 0 @p out holds the best so far;
 * ENOENT none.
 */
int sip_pai_decode(const char *val, char *out, size_t size,
		   bool *have_number);

/* ---- SDP (pure; exposed for tests and fuzzing) -------------------------- */

/**
 * Parse an SDP body and pick the first payload type of ours (in our order,
 * @p codecs) the offer also has.  @return 0; EBADMSG malformed; ENOENT
 * no audio stream or no codec in common.
 */
int sip_sdp_negotiate(struct sip_media *out, const char *body, size_t len,
		      const int *codecs, unsigned ncodecs);
/** Write an SDP body offering @p codecs (or answering with one) to buf;
 * with telephone-event 0-15 as payload type @p te_pt when >= 0. */
int sip_sdp_print(char *buf, size_t size, const char *addr, uint16_t port,
		  const int *codecs, unsigned ncodecs, int te_pt, unsigned ptime,
		  uint64_t sess_id);

/**
 * Parse an SDP body for its first T.38 stream (m=image <port> udptl t38,
 * port not 0) and negotiate it against what we can do, @p ours (T.38
 * D.2.3): the lower version and bit rate, fill bit removal only if both
 * take it, the offer's rate management, redundancy for redundancy or
 * FEC (we repair from redundancy only), the far end's buffer and
 * datagram sizes.  @return 0; EBADMSG malformed; ENOENT no T.38 stream.
 */
int sip_sdp_t38_negotiate(struct sip_t38 *out, const char *body, size_t len,
			  const struct sip_t38 *ours);
/** Write an SDP body offering (or answering with) the T.38 stream @p t
 *  at @p addr:@p port.  sip_sdp_amend() works on it.  @return 0, EINVAL,
 *  ENOSPC. */
int sip_sdp_t38_print(char *buf, size_t size, const char *addr,
		      uint16_t port, const struct sip_t38 *t,
		      uint64_t sess_id);

/** Give an SDP body that sip_sdp_print() wrote the o= version @p version
 *  and direction @p dir (RFC 3264 8: a changed SDP has a higher
 *  version).  @return 0, EBADMSG not one of ours, ENOSPC. */
int sip_sdp_amend(char *buf, size_t size, uint64_t version,
		  enum sip_dir dir);

/**
 * One a=crypto value, after "crypto:" (RFC 4568 9.1).  @return 0 usable
 * (in @p c); ENOTSUP valid but not for us (an unknown suite, MKI,
 * several keys, session parameters); EBADMSG malformed.  @p why names
 * the field either way.
 */
int sip_sdes_parse(struct sip_crypto *c, const char *p, size_t len,
		   const char **why);
/** The master key + salt length of @p suite, 0 unknown. */
size_t sip_srtp_key_len(int suite);
/** Its RFC 4568 name ("AES_CM_128_HMAC_SHA1_80"), NULL unknown. */
const char *sip_srtp_suite_name(int suite);
/**
 * Add SDES to an SDP body sip_sdp_print wrote in @p buf: with @p savp
 * the m= line's profile becomes RTP/SAVP, and one a=crypto line per
 * entry of @p c (tag, suite, inline:base64 key) is appended.
 * @return 0, EINVAL (an unknown suite), ENOSPC.
 */
int sip_sdp_add_crypto(char *buf, size_t size, bool savp,
		       const struct sip_crypto *c, unsigned n);

/**
 * An application/dtmf-relay body: its Signal (one of 0-9 * # A-D, letters
 * upper-cased) and Duration in ms (250 when absent).  Pure.
 * @return 0, or EBADMSG without a usable Signal.
 */
int sip_dtmf_relay_decode(const char *body, size_t len, char *digit,
			  unsigned *duration_ms);

/* ---- DNS (sip/dns.c): asynchronous, on the signalling loop -------------- */

struct sip_dns;

#define SIP_DNS_MAX_NAPTR 32

/** One NAPTR record (RFC 3403); the strings live for the callback only. */
struct sip_naptr {
	unsigned order, preference;
	const char *flags, *service, *regexp, *replacement;
};

/**
 * A resolver on @p base.  @p servers: "" or NULL = /etc/resolv.conf, else
 * "addr[:port],..." (c-ares CSV form; IPv6 as [addr]:port).  @p timeout_ms
 * per try (0 = 1000), @p tries per server (0 = 2).
 */
int sip_dns_new(struct sip_dns **dnsp, struct event_base *base,
		const char *servers, unsigned timeout_ms, unsigned tries,
		char *err, size_t errsize);
/** Free it; pending lookups get their callback with ECANCELED first. */
void sip_dns_free(struct sip_dns *dns);

/**
 * The callbacks below run exactly once, maybe before the call returns:
 * err 0 with the answer, ENOENT (no such name, no record of the type),
 * ETIMEDOUT, EIO (server failure, unreadable reply), ECANCELED, ENOMEM.
 */
typedef void(sip_dns_naptr_h)(int err, const struct sip_naptr *recs,
			      size_t n, void *arg);
void sip_dns_naptr(struct sip_dns *dns, const char *name, sip_dns_naptr_h *h,
		   void *arg);

typedef void(sip_dns_addr_h)(int err, const struct sockaddr *sa,
			     socklen_t len, void *arg);
/** A/AAAA of @p host (or a literal address) with @p port filled in. */
void sip_dns_addr(struct sip_dns *dns, const char *host, uint16_t port,
		  sip_dns_addr_h *h, void *arg);

/** One SRV record (RFC 2782); target lives for the callback only. */
struct sip_srv {
	unsigned priority, weight;
	uint16_t port;
	const char *target;
};

/**
 * SRV records of @p name, as they came; @p ttl is the smallest TTL of
 * the answer's SRV records.  Same error rules as the others.
 */
typedef void(sip_dns_srv_h)(int err, const struct sip_srv *recs, size_t n,
			    uint32_t ttl, void *arg);
void sip_dns_srv(struct sip_dns *dns, const char *name, sip_dns_srv_h *h,
		 void *arg);

/** A DNS callback's err in words: "no such name or record", "timed
 *  out", "server failure"... (strerror for the others). */
const char *sip_dns_strerror(int err);

/** An address of a host, port filled in. */
struct sip_dns_ip {
	struct sockaddr_storage sa;
	socklen_t len;
};

#define SIP_DNS_MAX_ADDRS 8

/**
 * Every address of @p host (IPv4 ones only when it has any: the UA's
 * socket is IPv4), at most SIP_DNS_MAX_ADDRS, with @p ttl the smallest
 * of their TTLs.
 */
typedef void(sip_dns_addrs_h)(int err, const struct sip_dns_ip *ips,
			      size_t n, uint32_t ttl, void *arg);
void sip_dns_addrs(struct sip_dns *dns, const char *host, uint16_t port,
		   sip_dns_addrs_h *h, void *arg);

/**
 * The smallest TTL of the answer records of @p type in the DNS message
 * @p buf (RFC 1035 4.1).  Pure: a decoder, fuzzed.
 * @return 0; ENOENT no answer of that type; EBADMSG malformed.
 */
int sip_dns_answer_ttl(const unsigned char *buf, size_t len, unsigned type,
		       uint32_t *ttl);

/* ---- RFC 3263 server location (sip/locate.c) ---------------------------- */

#define SIP_MAX_TARGETS 8
#define SIP_HOST_MAX 128

/** One place a request may go, with its SRV rank (0/0 without SRV). */
struct sip_target {
	struct sockaddr_storage sa;
	socklen_t len;
	char host[SIP_HOST_MAX]; /* the SRV target, or the name itself */
	uint16_t port;
	unsigned priority, weight;
	enum sip_transport transport; /* what NAPTR/SRV chose for it */
};

/** A set of transports to locate a name for: bits 1 << sip_transport. */
#define SIP_TP_BIT(tp) (1u << (unsigned)(tp))

/** How a name was located. */
enum sip_locate_how {
	SIP_LOCATE_A = 0,  /* A/AAAA only (a port given, or no SRV) */
	SIP_LOCATE_SRV,    /* _sips._tcp, _sip._tcp or _sip._udp SRV */
	SIP_LOCATE_NAPTR,  /* NAPTR SIP+D2U/D2T, SIPS+D2T, then its SRV */
};
const char *sip_locate_how_name(enum sip_locate_how how);

struct sip_locate;

/**
 * The outcome: @p n targets sorted by SRV priority (weights are for the
 * caller's draw, sip_srv_order), @p ttl how long they may be kept (the
 * smallest TTL on the way).  err as the DNS callbacks; ENOENT also when
 * the SRV records all say "." (no SIP service there, RFC 2782).  NOTE:
 * err may come with targets (n > 0): some SRV target could not be
 * resolved (a timeout, not "no such host"), so the list is partial.
 */
typedef void(sip_locate_h)(int err, const struct sip_target *t, size_t n,
			   uint32_t ttl, enum sip_locate_how how, void *arg);

/**
 * RFC 3263 4 for the transports in @p transports (SIP_TP_BIT; 0 = UDP):
 * with @p port (non-zero) A/AAAA of @p host on it; without, NAPTR of
 * @p host, the best record for one of them (sip_naptr_pick, RFC 3263
 * 4.1), else SRV of each of them in our order of preference, TLS
 * (_sips._tcp), TCP (_sip._tcp), UDP (_sip._udp), the first that has
 * records, else A/AAAA on 5060 (5061 for TLS) over UDP when it is in
 * the set (else TCP, else TLS).  A NAPTR step that fails in any way
 * goes on to SRV (servers that know nothing of NAPTR time out or fail
 * on it); an SRV step goes on to the next transport, then A/AAAA, when
 * there are none or the server fails, not when it timed out (then err
 * ETIMEDOUT).  Every target carries its transport.
 * @return the lookup (for sip_locate_cancel), or NULL when @p h has
 * already run (it ran with ECANCELED or ENOMEM at once).
 */
struct sip_locate *sip_locate(struct sip_dns *dns, const char *host,
			      uint16_t port, unsigned transports,
			      sip_locate_h *h, void *arg);
/** @p h will not run; the lookup ends in the background. */
void sip_locate_cancel(struct sip_locate *l);

/**
 * RFC 2782 order, in place: ascending priority; within one priority a
 * weighted random draw (zero weights first in the running sum, so they
 * are picked rarely but can be).  @p rnd gives uniform 32-bit numbers.
 * Pure.
 */
void sip_srv_order(struct sip_target *t, size_t n,
		   uint32_t (*rnd)(void *arg), void *arg);

/**
 * RFC 3263 4.1: the replacement of the best NAPTR (lowest order, then
 * preference) with flags "s" whose service is SIP+D2U, SIP+D2T or
 * SIPS+D2T for a transport in @p transports (SIP_TP_BIT), into @p out,
 * and that transport into @p tp.
 * @return 0; ENOENT none (or none that fits).  Pure.
 */
int sip_naptr_pick(const struct sip_naptr *recs, size_t n,
		   unsigned transports, char *out, size_t size,
		   enum sip_transport *tp);

/**
 * Split a sip: URI (as ENUM gives it) into host, port and transport: its
 * `transport` parameter (udp, tcp, tls; UDP when absent) into @p tp (may
 * be NULL), the port 5060 when absent (5061 over TLS).  EINVAL for
 * anything else; EPROTONOSUPPORT for sips: (a sips: Request-URI would
 * bind every hop to TLS, RFC 5630, which we do not promise) or another
 * transport.
 */
int sip_uri_target(const char *uri, char *host, size_t hostsize,
		   uint16_t *port, enum sip_transport *tp);

#endif
