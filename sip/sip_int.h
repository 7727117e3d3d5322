/* sip/sip_int.h  Internal types shared by the sip module's files */
#ifndef TG_SIP_INT_H
#define TG_SIP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
/* NOTE: osip2/osip.h needs these two first (NOTES.md). */
#include <sys/time.h>
#include <time.h>
#include <osip2/osip.h>

#include "sip/auth.h"
#include "sip/sip.h"
#include "util/util.h"

struct event;

/* Largest datagram we accept or send (the brief: 64 KiB). */
#define SIP_MAX_MSG 65535
/* RFC 3261 17.1.1.1 default timer values, in milliseconds. */
#define SIP_T1 500
#define SIP_T2 4000
#define SIP_ALLOW "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, PRACK, REFER"
/* osip appends and removes transactions by walking a linked list, so
 * with ~16k BYE server transactions alive (Timer J, 32 s at 500 calls/s)
 * one list costs a third of our CPU; spreading transactions over several
 * osip instances divides that walk. */
#define SIP_OSIP_SHARDS 16

/* ---- hash.c: chained string-keyed hash with intrusive nodes ------------ */

struct sip_hnode {
	struct sip_hnode *next;
	uint32_t hv;
	const char *key; /* owned by the object */
	void *obj;
};

struct sip_hash {
	struct sip_hnode **b;
	size_t nb; /* power of two */
	size_t n;
};

int sip_hash_init(struct sip_hash *h, size_t nb);
void sip_hash_close(struct sip_hash *h);
void sip_hash_add(struct sip_hash *h, struct sip_hnode *hn, const char *key,
		  void *obj);
void sip_hash_del(struct sip_hash *h, struct sip_hnode *hn);
/** First node with @p key, then sip_hash_next() for the others. */
struct sip_hnode *sip_hash_lookup(const struct sip_hash *h, const char *key);
struct sip_hnode *sip_hash_next(const struct sip_hnode *hn);

/* ---- stream.c, transport.c: SIP over TCP and TLS ------------------------ */

/**
 * Where the first message in the stream bytes @p buf ends (RFC 3261
 * 18.3: at its Content-Length past the blank line; none counts as 0).
 * Pure.  @p skip: CRLF keep-alives before it (RFC 5626 3.5.1), to drop;
 * @p msglen: its length after them.
 * @return 0; ENODATA incomplete (read more); EBADMSG not SIP (a start
 * line that is none, control octets, a Content-Length that is no number
 * or two that disagree); EMSGSIZE longer than @p max.
 */
int sip_stream_frame(const char *buf, size_t len, size_t max, size_t *skip,
		     size_t *msglen);

struct sip_tp;

/** Listen as @p cfg says (nothing to do when it wants no TCP/TLS). */
int sip_tp_alloc(struct sip_tp **tpp, struct sip_ua *ua,
		 const struct sip_ua_config *cfg);
/** Close every connection and listener (no up-calls). */
void sip_tp_free(struct sip_tp *tp);
/** How messages to @p dst go: over the open connection to it, else the
 *  transport set for it (sip_ua_set_transport), else UDP. */
enum sip_transport sip_tp_of(const struct sip_tp *tp,
			     const struct sockaddr *dst);
/** Send over TCP/TLS to @p dst, connecting first when no connection is
 *  open (the bytes wait in its buffer meanwhile). */
int sip_tp_send(struct sip_tp *tp, const struct sockaddr *dst,
		socklen_t dstlen, const char *buf, size_t len);
uint16_t sip_tp_port(const struct sip_tp *tp, enum sip_transport kind);
int sip_tp_set_peer(struct sip_tp *tp, const struct sockaddr *dst,
		    socklen_t dstlen, enum sip_transport kind,
		    const char *name);
/** The Route to outbound proxy @p proxy (RFC 3261 8.1.2, a loose router:
 *  "<sip:addr:port;lr>", with ;transport= over TCP/TLS) into @p buf. */
void sip_loose_route(const struct sip_ua *ua, const struct sockaddr *proxy,
		     char *buf, size_t size);
/** "UDP", "TCP" or "TLS" (Via, RFC 3261 20.42). */
const char *sip_tp_name(enum sip_transport kind);
/** The URI parameter for our Contact toward @p dst: "" over UDP, else
 *  ";transport=tcp" or ";transport=tls" (RFC 3261 19.1.1). */
const char *sip_ua_contact_param(const struct sip_ua *ua,
				 const struct sockaddr *dst);
/** Our sent-by for a Via toward @p dst: the protocol name and the port
 *  of that transport. */
const char *sip_ua_via_proto(const struct sip_ua *ua,
			     const struct sockaddr *dst, uint16_t *port);

/* ---- ua.c: transport and transaction glue ------------------------------ */

enum sip_tr_kind {
	SIP_TR_OTHER,
	SIP_TR_INVITE, /* the INVITE transaction of a leg */
	SIP_TR_BYE,
	SIP_TR_CANCEL,
	SIP_TR_REINVITE, /* our re-INVITE or UPDATE in a dialog (leg.c) */
	SIP_TR_NOTIFY,   /* our NOTIFY of a transfer's progress (leg.c) */
};

/* Our side of one osip transaction (osip reserved1 points here). */
struct sip_tr {
	struct sip_hnode hn;  /* ua->trs by branch key */
	struct sip_ua *ua;
	osip_transaction_t *otr;
	struct sip_leg *leg;  /* a reference, or NULL */
	struct sip_tr *lnext; /* leg->trs */
	enum sip_tr_kind kind;
	char *key;
	struct sockaddr_storage dst; /* where everything it sends goes */
	socklen_t dstlen;
	struct sip_tr *rnext; /* ua run queue */
	bool queued;
	bool dead;
	struct sip_tr *dnext; /* ua dead list */
	/* A transaction without a leg that wants its responses
	 * (options.c): msg_h for each, kill_h when it is freed. */
	void (*msg_h)(struct sip_tr *tr, int type, osip_message_t *msg);
	void (*kill_h)(struct sip_tr *tr);
	void *h_arg;
};

struct sip_pev;

/*
 * A final response to a non-INVITE request, kept for Timer J (64*T1 over
 * UDP, RFC 3261 17.2.2) so that a retransmitted request gets it again.
 * This stands in for libosip2's NIST: every one of our non-INVITE server
 * transactions answers at once, and osip's per-transaction list walks cost
 * a third of our CPU at 500 calls/s with ~16k BYE transactions alive.
 * All entries live equally long, so a FIFO orders them by expiry.
 */
struct sip_rcache {
	struct sip_hnode hn;      /* ua->rcache by server transaction key */
	struct sip_rcache *next;  /* FIFO, oldest first */
	char *key;
	int64_t expires;          /* monotonic ms */
	struct sockaddr_storage dst;
	socklen_t dstlen;
	size_t len;
	char buf[];
};

/* The UA's own copy of its sip_nat_cfg (cfg points into it). */
struct sip_nat {
	struct sip_nat_cfg cfg;
	char ext[64];
	char ext_media[64];
	struct sip_net nets[SIP_MAX_LOCAL_NETS];
};

/** Copy @p c (NULL: none) into @p n.  EINVAL: not a numeric address,
 *  too many nets; @p n is then as it was. */
int sip_nat_cfg_copy(struct sip_nat *n, const struct sip_nat_cfg *c);

struct sip_ua {
	struct event_base *base;
	osip_t *osip[SIP_OSIP_SHARDS];
	unsigned next_shard;
	int fd;
	int family;    /* fd's */
	int fd2;       /* bind_addr2's socket, of the other family; -1 */
	int family2;
	char addr2[64]; /* its address, "" when wildcard */
	struct event *ev_read;
	struct sip_tp *tp; /* TCP and TLS (transport.c), or NULL */
	struct event *ev_read2;
	struct event *ev_tick;
	struct event *ev_deliver;
	char addr[64]; /* bound address, "" when wildcard */
	uint16_t port;
	char user_agent[128];
	int codecs[SIP_MAX_CODECS];
	unsigned ncodecs;
	unsigned ptime;
	sip_media_prefs_h *media_prefs;
	sip_invite_h *invite;
	sip_authorize_h *authorize;
	sip_rejected_h *rejected;
	sip_digest_h *digest;
	sip_registrar_h *registrar;
	sip_symmetric_h *symmetric;
	struct sip_nat nat;
	void *arg;
	char realm[128];
	unsigned nonce_ttl;
	struct sip_nonces *nonces; /* for digest challenges */
	struct sip_auth_stats astats;
	struct sip_hash legs; /* by Call-ID */
	struct sip_hash trs;  /* by transaction key */
	struct sip_hash rcache; /* non-INVITE final responses, by key */
	struct sip_rcache *rc_head, *rc_tail;
	uint64_t tag_secret;    /* keys the To tags of stateless answers */
	struct event *ev_rcache;
	struct sip_tr *runq, *runq_tail;
	struct sip_tr *dead;
	struct sip_pev *evq, *evq_tail;
	bool running;
	char *rbuf;
	char *sbuf; /* 200/ACK copies are kept by legs; this is scratch */
};

int sip_tr_new(struct sip_tr **trp, struct sip_ua *ua, osip_fsm_type_t type,
	       osip_message_t *req, struct sip_leg *leg,
	       const struct sockaddr *dst, socklen_t dstlen);
/** Queue an outgoing message (owned from now on) on @p tr. */
void sip_tr_send(struct sip_tr *tr, osip_message_t *msg);
/** Queue an incoming event (owned from now on) on @p tr. */
void sip_tr_post(struct sip_tr *tr, osip_event_t *evt);
struct sip_tr *sip_tr_find_server(struct sip_ua *ua, const osip_message_t *req,
				  const char *method);
/** Run queued transaction events; a no-op inside an osip callback. */
void sip_ua_run(struct sip_ua *ua);
int sip_ua_send_buf(struct sip_ua *ua, const struct sockaddr *dst,
		    socklen_t len, const char *buf, size_t size);
int sip_ua_send_msg(struct sip_ua *ua, const struct sockaddr *dst,
		    socklen_t len, osip_message_t *msg);
/** Answer @p evt's request with a new server transaction (no leg). */
int sip_ua_reply_new(struct sip_ua *ua, osip_event_t *evt,
		     const struct sockaddr *src, socklen_t srclen, int status,
		     const char *phrase, bool allow);
/** The same with header @p hname, one per line of @p hvalue. */
int sip_ua_reply_hdr(struct sip_ua *ua, osip_event_t *evt,
		     const struct sockaddr *src, socklen_t srclen, int status,
		     const char *hname, const char *hvalue);
/** Send @p resp (owned from now on), a response built for @p evt's
 * request: an INVITE gets a server transaction without a leg (a 2xx
 * ends it: retransmitting that is the leg's job), anything else the
 * response cache. */
int sip_ua_reply_msg(struct sip_ua *ua, osip_event_t *evt,
		     const struct sockaddr *src, socklen_t srclen,
		     osip_message_t *resp);
/** The same for a refusal with no side effect (a digest challenge): a
 * non-INVITE one is answered without state, afresh for a retransmission
 * (RFC 3261 8.2.7), so a flood of them keeps nothing. */
int sip_ua_refuse_hdr(struct sip_ua *ua, osip_event_t *evt,
		      const struct sockaddr *src, socklen_t srclen, int status,
		      const char *hname, const char *hvalue);
/** Our address as seen from @p dst, for Via and Contact. */
void sip_ua_local_addr(const struct sip_ua *ua, const struct sockaddr *dst,
		       socklen_t dstlen, char *out, size_t size);
/** RFC 3581 4: received= and rport= on @p req's top Via (from @p src);
 *  ;rport is added first when the symmetric hook says @p src is behind
 *  NAT. */
void sip_nat_fix_via(const struct sip_ua *ua, osip_message_t *req,
		     const struct sockaddr *src, socklen_t srclen);
/** RFC 3261 18.2.2 / RFC 3581: where responses to @p req go. */
void sip_resp_dest(struct sockaddr_storage *out, socklen_t *outlen,
		   const osip_message_t *req, const struct sockaddr *src,
		   socklen_t srclen);
const char *sip_addr_str(const struct sockaddr *sa, char *buf, size_t size,
			 uint16_t *port);
/** @p bind_addr ("" or NULL: any IPv4) as a numeric address, or EINVAL. */
int sip_bind_addr(struct sockaddr_storage *ss, socklen_t *len,
		  const char *bind_addr, uint16_t port);
/** One message that came over a connection from @p src (transport.c):
 *  @p buf holds @p len octets and one more for a NUL. */
void sip_ua_receive(struct sip_ua *ua, char *buf, size_t len,
		    const struct sockaddr *src, socklen_t srclen);
/** @p dst cannot be reached (RFC 3261 18.4): its client transactions
 *  that had no response end now (the connection failed or closed). */
void sip_ua_dst_unreachable(struct sip_ua *ua, const struct sockaddr *dst,
			    int err);

/* ---- authz.c: digest authentication of requests, both ways ------------ */

/* How long a nonce of ours is good for, in seconds. */
#define SIP_NONCE_TTL 300

/**
 * May the new out-of-dialog request in @p evt go on?  It consults the
 * digest hook, challenges (401, then @p evt is gone) or checks the
 * Authorization, and falls back on the authorize hook.
 * @return 0 yes (@p user: the digest username it proved, or ""); -1 the
 * UA answered it (401); 403 refuse it (the caller answers).
 */
int sip_ua_admit(struct sip_ua *ua, osip_event_t *evt,
		 const struct sockaddr *src, socklen_t srclen,
		 const char *method, char *user, size_t usize);
/**
 * Credentials for a 401/407 @p resp to our @p req, added to @p req (a
 * copy that is to be resent).  @p last_nonce is the nonce we answered
 * before (updated): the same one again without stale=true means the
 * credentials are wrong.  @p realm "" = any.
 * @return 0; EACCES do not retry; ENOMEM.
 */
int sip_auth_add(struct sip_ua *ua, const osip_message_t *resp,
		 osip_message_t *req, const char *user, const char *password,
		 const char *realm, char *last_nonce, size_t nsize);

/* ---- reg.c: REGISTER for us as registrar ------------------------------ */

/** A REGISTER that sip_ua_admit() let through (@p auth_user: who it
 *  proved to be, "" none): the registrar hook's answer is sent. */
void sip_reg_rx(struct sip_ua *ua, osip_event_t *evt,
		const struct sockaddr *src, socklen_t srclen,
		const char *auth_user);

/* ---- msg.c: building and reading messages ----------------------------- */

int sip_msg_response(osip_message_t **respp, const osip_message_t *req,
		     int status, const char *phrase, const char *to_tag,
		     const struct sip_ua *ua);
/** "host:port" ("[v6]:port"), or the host alone for port 0. */
void sip_host_fmt(char *out, size_t size, const char *host, unsigned port);
/**
 * A new out-of-dialog request: @p method to @p ruri, with a Via of
 * transport @p proto ("UDP") from @p via_hostport (ours) with rport
 * and a fresh RFC 3261 branch.  The caller adds the rest; on error
 * nothing is left allocated.
 */
int sip_msg_request_new(osip_message_t **mp, const char *method,
			const char *ruri, const char *proto,
			const char *via_hostport);
void sip_msg_set_reason(osip_message_t *msg, const struct sip_reason *rsn);
/** The Q.850 Reason of @p msg (cause 0 if none); text goes to @p text. */
void sip_msg_get_reason(const osip_message_t *msg, struct sip_reason *rsn,
			char *text, size_t tsize);
/** The application/sdp body of @p msg, or ENOENT. */
int sip_msg_sdp(const osip_message_t *msg, const char **body, size_t *len);
int sip_msg_attach_sdp(osip_message_t *msg, const char *sdp);
/** Random lowercase hex of 2 * @p nbytes characters, NUL-terminated. */
void sip_rand_hex(char *out, size_t nbytes);
const char *sip_msg_top_branch(const osip_message_t *msg);
const char *sip_msg_to_tag(const osip_message_t *msg);
#define SIP_CALLID_MAX 256

/** The full Call-ID of @p msg ("number@host") written into @p buf. */
const char *sip_msg_call_id(const osip_message_t *msg, char *buf,
			    size_t size);
const char *sip_msg_from_tag(const osip_message_t *msg);
/** Percent-encode @p in as a SIP URI user part (RFC 3261 25.1). */
void sip_uri_user_escape(char *out, size_t size, const char *in);
/** False for a datagram libosip2 would leak on (a MIME part with two
 *  Content-Type headers): refuse it before parsing. */
bool sip_msg_raw_ok(const char *buf, size_t len);

/* ---- check.c: what libosip2 lets through ------------------------------- */

struct sip_verdict {
	int status;       /* 0 acceptable, else the response to send */
	bool drop;        /* a bad response or ACK: nothing to answer */
	bool bad_scheme;  /* (internal) Request-URI scheme we do not serve */
	bool nul;         /* an escaped NUL in a quoted string */
	bool raw;         /* a syntax error: answer from the raw lines
			   * (sip_check_reply), never give it to libosip2 */
	char phrase[64];  /* the reason phrase: names the problem */
	char hname[16];   /* one header for the answer ("Unsupported", */
	char hvalue[64];  /* "Accept"), or "" */
	size_t len;       /* octets of the message proper: what follows its
			   * Content-Length in a datagram is not part of it */
};

/**
 * Read a datagram as RFC 3261's ABNF says (the cases of RFC 4475 and RFC
 * 5118 that libosip2 accepts or repairs): start line, the headers we act
 * on, Content-Length; then for requests that get answers, what a UAS
 * refuses (416, 420, 415, 406, 483).  Pure.  @return vd->status.
 */
int sip_check_raw(const char *buf, size_t len, struct sip_verdict *vd);
/** libosip2 reads header lines as C strings: the escaped NULs that
 *  sip_check_raw() found (vd->nul) become spaces before it parses. */
void sip_check_fix_nul(char *buf, const struct sip_verdict *vd);
/**
 * The response to a request with broken syntax (vd->raw), built without
 * libosip2: status line, the request's Via, From, To (with @p tag, or
 * one derived from the request when NULL, when it has none), Call-ID and
 * CSeq lines as they came, @p vd's header.  @return its length, 0 when
 * the request has no sound Via or no CSeq, or @p size is too small.
 */
size_t sip_check_reply(const char *req, size_t len,
		       const struct sip_verdict *vd, const char *tag,
		       char *out, size_t size);
/** The PIDF-LO of a message (its body, or a part of a multipart one). */
int sip_msg_pidf(const osip_message_t *msg, const char **body, size_t *len);
/** A multipart/mixed body: the SDP and a PIDF-LO with Content-ID @p cid
 *  (RFC 6442 location by value). */
int sip_msg_attach_sdp_pidf(osip_message_t *msg, const char *sdp,
			    const char *pidf, const char *cid);
/** A location by reference in the Geolocation headers (RFC 6442 4.1):
 *  the first sip:, sips:, pres:, http: or https: URI (cid: ones point at
 *  a body) into @p uri.  ENOENT none; EBADMSG unreadable or too long. */
int sip_msg_geolocation(const osip_message_t *msg, char *uri, size_t size);
/** The number and reason of the newest Diversion (RFC 5806): ENOENT none,
 *  EBADMSG unreadable (the caller carries on without it). */
int sip_msg_diversion(const osip_message_t *msg, char *user, size_t usize,
		      char *reason, size_t rsize, bool *privacy);

/** The end of one value of a comma-separated header: the comma outside
 *  quotes and <>, or the terminating NUL. */
const char *sip_value_end(const char *v);
/** The newest redirection in History-Info (RFC 7044, causes of RFC 4458)
 *  as Diversion gives it: who diverted, the reason token, and whether it
 *  is private.  ENOENT none; EBADMSG unreadable. */
int sip_msg_history_info(const osip_message_t *msg, char *user, size_t usize,
			 char *reason, size_t rsize, bool *privacy);
/** The RFC 4458 cause for a Diversion reason token (404 when unknown). */
int sip_hi_cause(const char *reason);
/** The calling party's Remote-Party-ID: its number into @p user and
 *  whether it asks for privacy.  ENOENT none; EBADMSG unreadable. */
int sip_msg_rpid(const osip_message_t *msg, char *user, size_t size,
		 bool *privacy);
/** The transfer target of a REFER (RFC 3515): the number of its one
 *  Refer-To (a sip:/sips: user or a tel: URI) into @p number.  ENOENT
 *  none; E2BIG more than one, or too long; ENOTSUP not a number, or an
 *  attended transfer (Replaces); EPROTONOSUPPORT another scheme; EBADMSG
 *  unreadable. */
int sip_msg_refer_to(const osip_message_t *msg, char *number, size_t size);

/* ---- leg.c: dialogs ------------------------------------------------------ */

void sip_leg_rx_invite(struct sip_ua *ua, osip_event_t *evt,
		       const struct sockaddr *src, socklen_t srclen);
void sip_leg_rx_cancel(struct sip_ua *ua, osip_event_t *evt,
		       const struct sockaddr *src, socklen_t srclen);
void sip_leg_rx_ack(struct sip_ua *ua, osip_message_t *ack);
void sip_leg_rx_indialog(struct sip_ua *ua, osip_event_t *evt,
			 const struct sockaddr *src, socklen_t srclen);
void sip_leg_rx_stray_2xx(struct sip_ua *ua, const osip_message_t *resp);
void sip_leg_tr_msg(struct sip_tr *tr, int type, osip_message_t *msg);
void sip_leg_tr_killed(struct sip_tr *tr);
void sip_ua_deliver(struct sip_ua *ua);
void sip_ua_drop_legs(struct sip_ua *ua);

#endif
