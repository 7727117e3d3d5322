/* cdr/cdr.h  Call detail records and the gateway's SQLite database
 *
 * Records are immutable once submitted.  The writer thread batches them into
 * transactions; a record counts as written only after its COMMIT.  The other
 * functions here do blocking file I/O and are for start-up, reload and the
 * control socket, never for the call path.
 */
#ifndef TG_CDR_H
#define TG_CDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dialplan/dialplan.h"
#include "e911/e911.h"

enum cdr_direction {
	CDR_OUTBOUND = 0, /* SIP -> PSTN */
	CDR_INBOUND = 1,  /* PSTN -> SIP */
};

enum cdr_disposition {
	CDR_ANSWERED = 0,
	CDR_BUSY,
	CDR_NO_ANSWER,
	CDR_FAILED,
	CDR_CONGESTION,
};

#define CDR_MAX_ATTEMPTS 8

/** One outbound attempt of a call, in the order tried. */
struct cdr_attempt {
	char trunk[32];
	char called[40];        /* the number sent */
	int64_t start_ms, end_ms;
	int sip_status, q850_cause;
	char outcome[32];       /* answered, final, failover, skipped: ... */
	char target[128];       /* where it went when not the trunk's peer:
				 * the SIP URI ENUM gave; a named trunk's
				 * target "HOST:PORT ADDR" (or "dns NAME:
				 * why" when it had none); "" otherwise */
};

/** Media figures of a call, from its last RTP bridge (docs/cdr.md). */
struct cdr_media {
	bool set;               /* a bridge ran: the figures below hold */
	int64_t tx_packets;     /* RTP packets sent */
	int64_t rx_packets;     /* ... received and accepted */
	int64_t rx_lost;        /* never arrived (sequence gaps) */
	int64_t late;           /* arrived too late to play, or twice */
	int64_t jitter_us;      /* highest interarrival jitter, -1 unknown
				 * (a SIP -> SIP relay does not measure) */
	int64_t rtt_us;         /* mean round trip from RTCP, -1 unknown */
	int64_t remote_lost;    /* the far end's RTCP: what it lost of our
				 * stream, -1 when it sent no report */
	int64_t remote_jitter_us; /* ... the highest jitter it saw, -1 */
	int mos_rx, mos_tx;     /* estimated MOS x100 each way, 0 unknown */
	int64_t concealed;      /* frames of packet loss concealment */
	int64_t jb_drops;       /* jitter buffer drops */
	int64_t srtp_auth_fail; /* SRTP/SRTCP packets that failed the tag */
};

struct cdr_record {
	char id[37];            /* UUID */
	int64_t start_ms;       /* UTC ms: call arrived */
	int64_t answer_ms;      /* 0 when never answered */
	int64_t end_ms;
	char calling[64];
	char called[64];
	enum cdr_direction direction;
	char in_trunk[32];
	char out_trunk[32];
	int span;               /* 0 when no B-channel was used */
	int chan;
	char sip_call_id[128];
	enum cdr_disposition disposition;
	int q850_cause;         /* 0 when none */
	int sip_status;         /* final SIP status we sent or got; 0 none */
	char codec[16];         /* "PCMU", "PCMA" or "" */
	char route[32];         /* the route that chose the trunk, "did" */
	char rate_prefix[24];   /* rate used; "" = none */
	int64_t rate, conn_fee; /* micro-units per minute / per call */
	int64_t cost;           /* micro-units, from the billing increments */
	int emergency;          /* 0 none, 1 emergency, 2 test call */
	char diversion[32];     /* who diverted the call to us (internal
				 * form), "" = not diverted */
	char e911_zone[32];     /* emergency calls and PSAP callbacks: */
	char elin[32];          /* the ELIN sent / called */
	char e911_trunk[32];    /* the party a callback to the ELIN */
	char e911_user[64];     /* reaches: trunk and user */
	char e911_ref[37];      /* a callback: the emergency call's CDR id */
	char transfer_to[40];   /* its party was transferred (RFC 3515) to
				 * this number, "" not */
	char transfer_ref[37];  /* this call is such a transfer: the CDR id
				 * of the call it came from, "" not */
	char fax[8];            /* "t38" (the T.38 gateway ran), "g711" (a
				 * fax passed as audio), "" no fax */
	int fax_pages;          /* pages the T.38 gateway passed, -1 not
				 * known (no T.38) */
	int fax_bit_rate;       /* its last image data rate, bit/s; 0 not
				 * known */
	int callback;           /* 1 a PSAP callback routed to the caller,
				 * 2 one after the window (to the zone's
				 * default destination) */
	struct cdr_media media;
	struct cdr_attempt attempts[CDR_MAX_ATTEMPTS];
	unsigned nattempts;
};

const char *cdr_disposition_name(enum cdr_disposition d);
const char *cdr_direction_name(enum cdr_direction d);

/* ---- the database -------------------------------------------------------- */

/** Create the file and schema if missing (WAL mode).  Idempotent. */
int cdr_db_init(const char *path);

/**
 * A block of consecutive DIDs (equal-length digit strings): the did
 * table's row, field for field as struct dp_did_range.
 */
struct cdr_did_range {
	char first[32];
	char last[32];
	char trunk[32];
	char user[64]; /* fixed Request-URI user, "" = the DID itself */
	char cid[32];             /* caller-ID shown; "" = the caller's */
	char failover_trunk[32];  /* "" = none */
	char failover_number[32]; /* "" = the DID */
};

/** Insert @p n ranges, only if the did table is empty (first start). */
int cdr_db_seed_dids(const char *path, const struct cdr_did_range *r,
		     size_t n);
/** Read all DID ranges; *out is malloc'd (free()), *np its count. */
int cdr_db_load_dids(const char *path, struct cdr_did_range **out,
		     size_t *np);

typedef void(cdr_row_h)(const struct cdr_record *rec, void *arg);
/** The newest @p n CDRs, oldest first, each with its attempts (the
 * cdr_attempt rows, by n) in rec->attempts. */
int cdr_db_tail(const char *path, unsigned n, cdr_row_h *h, void *arg);

typedef void(cdr_elin_h)(const char *elin, const char *zone,
			 const char *trunk, const char *user, int64_t end_ms,
			 const char *call_id, void *arg);
/** For each ELIN used since @p since_ms, its newest party (from the
 *  CDRs): the PSAP callback table after a restart. */
int cdr_db_elin_parties(const char *path, int64_t since_ms,
			cdr_elin_h *h, void *arg);

/* ---- routing tables (cdr/routing.c) -------------------------------------- */

/** Every routing row, read in one transaction; free with cdr_routing_free. */
struct cdr_routing {
	struct dp_route_row *routes;  /* by priority, name */
	size_t nroutes;
	struct dp_rule_row *ingress, *egress; /* by position, id */
	size_t ningress, negress;
	struct dp_rule_row *ingress_calling, *egress_calling;
	size_t ningress_calling, negress_calling;
	struct dp_rule_row *ingress_diversion, *egress_diversion;
	size_t ningress_diversion, negress_diversion;
	struct dp_rate *rates;
	size_t nrates;
	struct dp_block_row *blocks;
	size_t nblocks;
	struct dp_did_range *dids;
	size_t ndids;
	int64_t rates_version;        /* changes with every rate write */
	struct e911_zone_row *zones;
	size_t nzones;
	struct e911_member_row *members;
	size_t nmembers;
	size_t caps[12];              /* private */
};

/**
 * Read the route, number_rule, rate, block and did tables.  A row that
 * does not fit its struct fails the load, @p err naming the table and
 * the row's key.  @return 0 or an errno.
 */
int cdr_db_load_routing(const char *path, struct cdr_routing *out, char *err,
			size_t errsize);
void cdr_routing_free(struct cdr_routing *r);

/* ---- editing the routing tables (cdr/edit.c; tollgatectl) ---------------- */

/*
 * Checks run before a row is written: the daemon's own builders
 * (dp_snapshot_build, dp_rules_build, dp_did_table_build) over the one
 * row, with every trunk it names taken to exist (tollgatectl does not
 * read the config; the daemon checks the names at reload).  Each returns
 * 0, or EINVAL with @p err saying why, or ENOMEM.
 */
int cdr_route_check(const struct dp_route_row *r, char *err, size_t errsize);
int cdr_rule_check(const struct dp_rule_row *r, char *err, size_t errsize);
int cdr_block_check(const struct dp_block_row *b, char *err, size_t errsize);
int cdr_did_check(const struct dp_did_range *d, char *err, size_t errsize);

/*
 * Writers: check, then write in one transaction.  Each returns 0 or an
 * errno with @p err saying why (EINVAL: the row; EEXIST: a constraint;
 * EBUSY: the database stayed locked).
 */
/** Insert the route, or replace the one of the same name. */
int cdr_db_route_put(const char *path, const struct dp_route_row *r,
		     char *err, size_t errsize);
/**
 * Add a number rule.  @p direction "ingress" or "egress", @p number
 * "called" or "calling"; rules run by ascending @p position, then id.
 * @param idp if not NULL, receives the new row's id.
 */
int cdr_db_rule_add(const char *path, const char *direction,
		    const char *number, int64_t position,
		    const struct dp_rule_row *r, int64_t *idp, char *err,
		    size_t errsize);
/** Add a blocklist entry; *@p idp (if not NULL) its id. */
/** Insert or replace e911 zone @p z (checked as the daemon checks it). */
int cdr_db_zone_put(const char *path, const struct e911_zone_row *z,
		    char *err, size_t errsize);
typedef void(cdr_problem_h)(const char *what, void *arg);
/** Check the e911 tables: every problem goes to @p h (zones incomplete,
 *  members bad, ELINs that no DID range holds).  @return 0 when the
 *  tables could be read. */
int cdr_e911_validate(const char *path, cdr_problem_h *h, void *arg,
		      char *err, size_t errsize);
/** Add a member to an existing zone. */
int cdr_db_member_add(const char *path, const struct e911_member_row *m,
		      int64_t *idp, char *err, size_t errsize);
int cdr_db_block_add(const char *path, const struct dp_block_row *b,
		     int64_t *idp, char *err, size_t errsize);
/** Add a DID range; refused when it overlaps a range in the table. */
int cdr_db_did_add(const char *path, const struct dp_did_range *d, char *err,
		   size_t errsize);


/**
 * Run one writing statement with text parameters (NULL = SQL NULL).
 * An UPDATE or DELETE that changed nothing is ENOENT ("no such row").
 * @return 0 or an errno, @p err saying why.
 */
int cdr_db_write(const char *path, const char *sql, const char *const *args,
		 size_t nargs, char *err, size_t errsize);
/** One result row of cdr_db_query: its columns as text ("" for NULL). */
typedef void(cdr_query_h)(const char *const *cols, size_t n, void *arg);
int cdr_db_query(const char *path, const char *sql, const char *const *args,
		 size_t nargs, cdr_query_h *h, void *arg, char *err,
		 size_t errsize);

/** A rejected line of a rate deck import (line 0: the file as a whole). */
typedef void(cdr_import_err_h)(unsigned line, const char *why, void *arg);
/**
 * Import a CSV rate deck (dp_ratedeck_parse_csv) for @p carrier in one
 * transaction.  With @p replace the carrier's old rates all go; without,
 * the deck's rows for a prefix replace the carrier's old rows for that
 * prefix and the other prefixes stay.  Rejected lines go to @p errh and
 * are counted in *bad: what dp_ratedeck_parse_csv refuses, a row naming
 * another carrier, a row whose dates overlap an earlier line's for the
 * same prefix.  Nothing is written when no line was accepted or the
 * database failed.  Every write bumps rates_version.
 * @return 0 (*ok rows written) or an errno with @p err saying why.
 */
int cdr_db_rates_import(const char *path, const char *carrier,
			const char *buf, size_t len, bool replace,
			cdr_import_err_h *errh, void *arg, size_t *ok,
			size_t *bad, char *err, size_t errsize);

/* ---- the writer thread --------------------------------------------------- */

struct cdr_writer;

/** Open (creating if needed) the database and start the writer thread. */
int cdr_writer_open(struct cdr_writer **wp, const char *path);
/** Queue a copy of @p rec.  Never waits for the disk. */
int cdr_writer_submit(struct cdr_writer *w, const struct cdr_record *rec);
/** Commit every queued record, stop the thread, close.  Returns 0 when
 * everything submitted was committed. */
int cdr_writer_close(struct cdr_writer *w);
/** Records committed so far / waiting. */
uint64_t cdr_writer_written(struct cdr_writer *w);
uint64_t cdr_writer_pending(struct cdr_writer *w);

#endif
