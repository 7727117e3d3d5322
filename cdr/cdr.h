/* cdr/cdr.h  Call detail records and the gateway's SQLite database
 *
 * Records are immutable once submitted.  The writer thread batches them into
 * transactions; a record counts as written only after its COMMIT.  The other
 * functions here do blocking file I/O and are for start-up, reload and the
 * control socket, never for the call path.
 */
#ifndef TG_CDR_H
#define TG_CDR_H

#include <stddef.h>
#include <stdint.h>

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
};

const char *cdr_disposition_name(enum cdr_disposition d);
const char *cdr_direction_name(enum cdr_direction d);

/* ---- the database -------------------------------------------------------- */

/** Create the file and schema if missing (WAL mode).  Idempotent. */
int cdr_db_init(const char *path);

/** A block of consecutive DIDs (equal-length digit strings). */
struct cdr_did_range {
	char first[32];
	char last[32];
	char trunk[32];
	char user[64]; /* fixed Request-URI user, "" = the DID itself */
};

/** Insert @p n ranges, only if the did table is empty (first start). */
int cdr_db_seed_dids(const char *path, const struct cdr_did_range *r,
		     size_t n);
/** Read all DID ranges; *out is malloc'd (free()), *np its count. */
int cdr_db_load_dids(const char *path, struct cdr_did_range **out,
		     size_t *np);

typedef void(cdr_row_h)(const struct cdr_record *rec, void *arg);
/** The newest @p n CDRs, oldest first. */
int cdr_db_tail(const char *path, unsigned n, cdr_row_h *h, void *arg);

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
