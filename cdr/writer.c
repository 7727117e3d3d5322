/* cdr/writer.c  The CDR writer thread: queue, batched commits, retries */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LOG_MODULE "cdr"
#include "util/util.h"
#include "cdr/cdr_int.h"

/* Ids named in one log line before "and N more". */
#define LOG_IDS_MAX 10

struct cdr_writer {
	char *path;
	char *csv_path;
	struct cdr_writer_opts opts;
	pthread_t thread;

	pthread_mutex_t mu;     /* guards everything down to "diverted" */
	pthread_cond_t cond;    /* queue not empty, or stop */
	struct cdr_item *head;
	struct cdr_item **tailp;
	bool stop;
	uint64_t pending;       /* queued plus being written */
	uint64_t written;       /* committed */
	uint64_t diverted;      /* given up on: in the CSV file or the log */

	/* Used by the writer thread only (and by open/close around it). */
	sqlite3 *db;
	sqlite3_stmt *ins;
	sqlite3_stmt *ins_att;  /* cdr_attempt rows */
	unsigned backoff_ms;
	unsigned stop_fails;
};

/* Why a batch did not commit. */
struct fail {
	int rc;
	char msg[256];
	const struct cdr_item *bad; /* the record whose INSERT failed */
};

void cdr_writer_opts_default(struct cdr_writer_opts *o)
{
	o->busy_ms = CDR_DB_BUSY_MS;
	o->backoff_min_ms = 100;
	o->backoff_max_ms = 30000;
	o->stop_tries = 3;
}

static void list_free(struct cdr_item *it)
{
	while (it) {
		struct cdr_item *next = it->next;

		free(it);
		it = next;
	}
}

static struct cdr_item *list_last(struct cdr_item *it)
{
	while (it->next)
		it = it->next;
	return it;
}

/* Detach up to @p max records from the head of the queue.  Call locked. */
static struct cdr_item *queue_take(struct cdr_writer *w, size_t max,
				   size_t *np)
{
	struct cdr_item *batch = w->head, **pp = &w->head;
	size_t n = 0;

	while (*pp && n < max) {
		pp = &(*pp)->next;
		n++;
	}
	w->head = *pp;
	*pp = NULL;
	if (!w->head)
		w->tailp = &w->head;
	*np = n;
	return batch;
}

/* Put records that failed for the database's sake back at the head, in
 * their order, so they are retried before anything newer. */
static void queue_return(struct cdr_writer *w, struct cdr_item *list)
{
	struct cdr_item *last;

	if (!list)
		return;
	last = list_last(list);
	pthread_mutex_lock(&w->mu);
	last->next = w->head;
	if (!w->head)
		w->tailp = &last->next;
	w->head = list;
	pthread_mutex_unlock(&w->mu);
}

static void count_done(struct cdr_writer *w, uint64_t written,
		       uint64_t diverted)
{
	pthread_mutex_lock(&w->mu);
	w->written += written;
	w->diverted += diverted;
	w->pending -= written + diverted;
	pthread_mutex_unlock(&w->mu);
}

static void ids_fmt(char *buf, size_t size, const struct cdr_item *it)
{
	size_t len = 0, n = 0, more = 0;

	buf[0] = '\0';
	for (; it; it = it->next) {
		if (n++ >= LOG_IDS_MAX) {
			more++;
			continue;
		}
		len += (size_t)snprintf(buf + len, len < size ? size - len : 0,
					"%s%s", len ? " " : "", it->rec.id);
	}
	if (more && len < size)
		snprintf(buf + len, size - len, " and %zu more", more);
}

static void log_lost(const struct cdr_record *r)
{
	gw_err("lost CDR id=%s start_ms=%lld answer_ms=%lld end_ms=%lld "
	       "calling=%s called=%s %s in=%s out=%s span=%d/%d callid=%s "
	       "%s cause=%d sip=%d codec=%s route=%s rate_prefix=%s rate=%lld "
	       "conn_fee=%lld cost=%lld emergency=%d diversion=%s "
	       "e911_zone=%s elin=%s e911_party=%s/%s callback=%d "
	       "attempts=%u rtp_rx=%lld lost=%lld mos=%d/%d", r->id,
	       (long long)r->start_ms, (long long)r->answer_ms,
	       (long long)r->end_ms, r->calling, r->called,
	       cdr_direction_name(r->direction), r->in_trunk, r->out_trunk,
	       r->span, r->chan, r->sip_call_id,
	       cdr_disposition_name(r->disposition), r->q850_cause,
	       r->sip_status, r->codec, r->route, r->rate_prefix,
	       (long long)r->rate, (long long)r->conn_fee, (long long)r->cost,
	       r->emergency, r->diversion, r->e911_zone, r->elin,
	       r->e911_trunk, r->e911_user, r->callback, r->nattempts,
	       (long long)r->media.rx_packets, (long long)r->media.rx_lost,
	       r->media.mos_rx, r->media.mos_tx);
}

/* Give up on @p list: into the CSV file, or failing that into the log, so
 * that an operator can still bill from it. */
static void divert(struct cdr_writer *w, struct cdr_item *list,
		   const char *why)
{
	char ids[LOG_IDS_MAX * 40 + 32];
	size_t n = 0;

	for (const struct cdr_item *it = list; it; it = it->next)
		n++;
	if (!n)
		return;
	ids_fmt(ids, sizeof(ids), list);
	gw_err("%s: %zu CDR(s) not written (%s), appending them to %s: %s",
	       w->path, n, why, w->csv_path, ids);
	if (cdr_csv_append(w->csv_path, list)) {
		for (const struct cdr_item *it = list; it; it = it->next)
			log_lost(&it->rec);
	}
	count_done(w, 0, n);
	list_free(list);
}

static void fail_set(struct fail *f, struct cdr_writer *w, int rc,
		     const struct cdr_item *bad)
{
	f->rc = rc;
	f->bad = bad;
	tg_strlcpy(f->msg, sqlite3_errmsg(w->db), sizeof(f->msg));
}

/* One transaction for the whole list.  @return a SQLite code, SQLITE_OK
 * when committed. */
static int commit_list(struct cdr_writer *w, const struct cdr_item *list,
		       struct fail *f)
{
	int rc;

	rc = sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		fail_set(f, w, rc, NULL);
		return rc;
	}
	for (; list; list = list->next) {
		rc = cdr_record_insert(w->ins, &list->rec);
		if (rc == SQLITE_DONE)
			rc = cdr_attempts_insert(w->ins_att, &list->rec);
		if (rc != SQLITE_DONE) {
			fail_set(f, w, rc, list);
			goto out;
		}
	}
	rc = sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		fail_set(f, w, rc, NULL);
 out:
	if (rc != SQLITE_OK && !sqlite3_get_autocommit(w->db))
		sqlite3_exec(w->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

static void log_fail(struct cdr_writer *w, const struct cdr_item *list,
		     size_t n, const struct fail *f, const char *next)
{
	char ids[LOG_IDS_MAX * 40 + 32];

	ids_fmt(ids, sizeof(ids), list);
	gw_err("%s: while committing %zu CDR(s) (%s): %s%s%s; %s", w->path, n,
	       ids, f->msg, f->bad ? ", at id " : "",
	       f->bad ? f->bad->rec.id : "", next);
}

/* Sleep for @p ms; a running writer wakes early when asked to stop, so
 * that close does not wait out a long backoff. */
static void pause_ms(struct cdr_writer *w, unsigned ms)
{
	struct timespec ts;
	bool stopping;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&w->mu);
	stopping = w->stop;
	while (stopping || !w->stop) {
		if (pthread_cond_timedwait(&w->cond, &w->mu, &ts) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&w->mu);
}

static unsigned backoff_next(struct cdr_writer *w)
{
	unsigned ms = w->backoff_ms ? w->backoff_ms : w->opts.backoff_min_ms;
	unsigned max = w->opts.backoff_max_ms;

	w->backoff_ms = ms * 2 < max ? ms * 2 : max;
	return ms;
}

/*
 * The database itself failed (busy past the timeout, disk full, I/O).
 * Keep the records and retry later; while closing, give up after a few
 * rounds and divert everything still queued.
 */
static void db_failed(struct cdr_writer *w, struct cdr_item *list,
		      size_t n, const struct fail *f, bool stopping)
{
	struct cdr_item *rest;
	char next[64];
	size_t nrest;
	unsigned ms;

	if (stopping && ++w->stop_fails >= w->opts.stop_tries) {
		log_fail(w, list, n, f, "closing, giving up");
		pthread_mutex_lock(&w->mu);
		rest = queue_take(w, SIZE_MAX, &nrest);
		pthread_mutex_unlock(&w->mu);
		if (n)
			list_last(list)->next = rest;
		else
			list = rest;
		divert(w, list, "database unavailable while closing");
		return;
	}
	ms = backoff_next(w);
	snprintf(next, sizeof(next), "retrying in %u ms", ms);
	log_fail(w, list, n, f, next);
	queue_return(w, list);
	pause_ms(w, ms);
}

/*
 * Some record was refused (a duplicate id, a trigger): commit the records
 * one at a time so the good ones are written and only the refused ones
 * are diverted.  A database failure on the way stops the isolation and
 * hands the rest back for a later retry.
 */
static void isolate(struct cdr_writer *w, struct cdr_item *list,
		    bool stopping)
{
	struct cdr_item *bad = NULL, **badp = &bad;
	uint64_t ok = 0;
	size_t n = 0, nbad = 0;
	struct fail f;
	int rc;

	while (list) {
		struct cdr_item *it = list;

		/* Alone, but with its attempts in the same transaction; an
		 * attempt refused is logged and the call record stays. */
		rc = sqlite3_exec(w->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
		if (rc == SQLITE_OK)
			rc = cdr_record_insert(w->ins, &it->rec);
		if (rc == SQLITE_DONE) {
			sqlite3_exec(w->db, "SAVEPOINT att", NULL, NULL, NULL);
			if (cdr_attempts_insert(w->ins_att, &it->rec) !=
			    SQLITE_DONE) {
				gw_warn("%s: attempts of CDR %s not written: "
					"%s", w->path, it->rec.id,
					sqlite3_errmsg(w->db));
				sqlite3_exec(w->db, "ROLLBACK TO att", NULL,
					     NULL, NULL);
			}
			sqlite3_exec(w->db, "RELEASE att", NULL, NULL, NULL);
			rc = sqlite3_exec(w->db, "COMMIT", NULL, NULL, NULL);
			if (rc == SQLITE_OK)
				rc = SQLITE_DONE;
		}
		if (rc != SQLITE_DONE) {
			fail_set(&f, w, rc, it);
			if (!sqlite3_get_autocommit(w->db))
				sqlite3_exec(w->db, "ROLLBACK", NULL, NULL,
					     NULL);
			if (!cdr_db_rc_is_row(rc))
				break;
			/* The divert line counts them all; name a few
			 * reasons without flooding the log. */
			if (nbad++ < LOG_IDS_MAX)
				gw_err("%s: CDR %s refused: %s", w->path,
				       it->rec.id, f.msg);
			list = it->next;
			it->next = NULL;
			*badp = it;
			badp = &it->next;
			continue;
		}
		list = it->next;
		free(it);
		ok++;
	}
	count_done(w, ok, 0);
	divert(w, bad, "refused by the database");
	if (list) {
		for (const struct cdr_item *it = list; it; it = it->next)
			n++;
		db_failed(w, list, n, &f, stopping);
	}
}

/* Write one batch taken from the queue; every record ends up committed,
 * diverted or back in the queue. */
static void write_batch(struct cdr_writer *w, struct cdr_item *batch,
			size_t n, bool stopping)
{
	struct fail f;
	int rc;

	rc = commit_list(w, batch, &f);
	if (rc == SQLITE_OK)
		goto done;
	if (!cdr_db_rc_is_row(f.rc)) {
		db_failed(w, batch, n, &f, stopping);
		return;
	}
	/* A refusal may come from a trigger or check that someone is
	 * changing right now: retry the batch once before splitting it. */
	log_fail(w, batch, n, &f, "retrying");
	pause_ms(w, w->opts.backoff_min_ms);
	rc = commit_list(w, batch, &f);
	if (rc == SQLITE_OK)
		goto done;
	if (!cdr_db_rc_is_row(f.rc)) {
		db_failed(w, batch, n, &f, stopping);
		return;
	}
	log_fail(w, batch, n, &f, "writing them one by one");
	isolate(w, batch, stopping);
	return;
 done:
	w->backoff_ms = 0;
	w->stop_fails = 0;
	list_free(batch);
	count_done(w, n, 0);
	gw_dbg(GW_DBG_CDR, "committed %zu CDR(s)", n);
}

static void *writer_main(void *arg)
{
	struct cdr_writer *w = arg;

	for (;;) {
		struct cdr_item *batch;
		bool stopping;
		size_t n;

		pthread_mutex_lock(&w->mu);
		while (!w->head && !w->stop)
			pthread_cond_wait(&w->cond, &w->mu);
		if (!w->stop && w->pending < CDR_BATCH_MAX) {
			/* Gather for a moment: a busy gateway then pays one
			 * transaction (and one wake-up) per batch, not one
			 * per call.  Stop or a full batch end the wait. */
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += CDR_GATHER_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			while (!w->stop && w->pending < CDR_BATCH_MAX &&
			       pthread_cond_timedwait(&w->cond, &w->mu,
						      &ts) != ETIMEDOUT)
				;
		}
		stopping = w->stop;
		batch = queue_take(w, CDR_BATCH_MAX, &n);
		pthread_mutex_unlock(&w->mu);
		if (!batch)
			break;
		write_batch(w, batch, n, stopping);
	}
	return NULL;
}

static void destroy(struct cdr_writer *w)
{
	sqlite3_finalize(w->ins);
	sqlite3_finalize(w->ins_att);
	sqlite3_close(w->db);
	list_free(w->head);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->mu);
	free(w->csv_path);
	free(w->path);
	free(w);
}

static int sync_init(struct cdr_writer *w)
{
	pthread_condattr_t ca;
	int err;

	err = pthread_condattr_init(&ca);
	if (err)
		return err;
	/* Backoff pauses must not stretch or shrink with wall-clock steps. */
	err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!err)
		err = pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (err)
		return err;
	err = pthread_mutex_init(&w->mu, NULL);
	if (err)
		pthread_cond_destroy(&w->cond);
	return err;
}

int cdr_writer_open_opts(struct cdr_writer **wp, const char *path,
			 const struct cdr_writer_opts *o)
{
	struct cdr_writer *w;
	int err, rc;

	if (!wp || !path || !o)
		return EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return ENOMEM;
	w->opts = *o;
	w->tailp = &w->head;
	w->path = strdup(path);
	if (!w->path || asprintf(&w->csv_path, "%s.unwritten.csv", path) < 0) {
		w->csv_path = NULL;
		free(w->path);
		free(w);
		return ENOMEM;
	}
	err = sync_init(w);
	if (err) {
		free(w->csv_path);
		free(w->path);
		free(w);
		return err;
	}
	err = cdr_db_open(&w->db, path, true, o->busy_ms);
	if (err)
		goto out;
	rc = sqlite3_prepare_v3(w->db, cdr_insert_sql, -1,
				SQLITE_PREPARE_PERSISTENT, &w->ins, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v3(w->db, cdr_attempt_insert_sql, -1,
					SQLITE_PREPARE_PERSISTENT, &w->ins_att,
					NULL);
	if (rc != SQLITE_OK) {
		gw_err("%s: cannot prepare the CDR insert: %s", path,
		       sqlite3_errmsg(w->db));
		err = cdr_db_errno(w->db, rc);
		goto out;
	}
	err = pthread_create(&w->thread, NULL, writer_main, w);
	if (err)
		gw_err("%s: cannot start the CDR writer thread: %s", path,
		       strerror(err));
 out:
	if (err)
		destroy(w);
	else
		*wp = w;
	return err;
}

int cdr_writer_open(struct cdr_writer **wp, const char *path)
{
	struct cdr_writer_opts o;

	cdr_writer_opts_default(&o);
	return cdr_writer_open_opts(wp, path, &o);
}

int cdr_writer_submit(struct cdr_writer *w, const struct cdr_record *rec)
{
	struct cdr_item *it;
	struct cdr_record *r;
	bool was_empty;

	if (!w || !rec)
		return EINVAL;
	it = malloc(sizeof(*it));
	if (!it)
		return ENOMEM;
	it->next = NULL;
	it->rec = *rec;
	r = &it->rec;
	/* The caller's strings may fill their arrays: terminate our copy. */
	r->id[sizeof(r->id) - 1] = '\0';
	r->calling[sizeof(r->calling) - 1] = '\0';
	r->called[sizeof(r->called) - 1] = '\0';
	r->in_trunk[sizeof(r->in_trunk) - 1] = '\0';
	r->out_trunk[sizeof(r->out_trunk) - 1] = '\0';
	r->sip_call_id[sizeof(r->sip_call_id) - 1] = '\0';
	r->codec[sizeof(r->codec) - 1] = '\0';
	r->route[sizeof(r->route) - 1] = '\0';
	r->rate_prefix[sizeof(r->rate_prefix) - 1] = '\0';
	r->diversion[sizeof(r->diversion) - 1] = '\0';
	r->e911_zone[sizeof(r->e911_zone) - 1] = '\0';
	r->elin[sizeof(r->elin) - 1] = '\0';
	r->e911_trunk[sizeof(r->e911_trunk) - 1] = '\0';
	r->e911_user[sizeof(r->e911_user) - 1] = '\0';
	r->e911_ref[sizeof(r->e911_ref) - 1] = '\0';
	r->transfer_to[sizeof(r->transfer_to) - 1] = '\0';
	r->transfer_ref[sizeof(r->transfer_ref) - 1] = '\0';
	r->fax[sizeof(r->fax) - 1] = '\0';
	if (r->nattempts > CDR_MAX_ATTEMPTS)
		r->nattempts = CDR_MAX_ATTEMPTS;
	for (unsigned i = 0; i < r->nattempts; i++) {
		struct cdr_attempt *a = &r->attempts[i];

		a->trunk[sizeof(a->trunk) - 1] = '\0';
		a->called[sizeof(a->called) - 1] = '\0';
		a->outcome[sizeof(a->outcome) - 1] = '\0';
		a->target[sizeof(a->target) - 1] = '\0';
	}
	if (!r->id[0])
		tg_uuid(r->id);

	pthread_mutex_lock(&w->mu);
	assert(!w->stop); /* submit after close is a caller bug */
	was_empty = !w->head;
	*w->tailp = it;
	w->tailp = &it->next;
	w->pending++;
	/* The writer needs a wake-up only for the first record of a batch,
	 * or to cut its gathering short when a batch is full. */
	if (was_empty || w->pending >= CDR_BATCH_MAX)
		pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

int cdr_writer_close(struct cdr_writer *w)
{
	uint64_t diverted, written;
	int err;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->mu);
	err = pthread_join(w->thread, NULL);
	if (err) {
		gw_err("%s: cannot join the CDR writer: %s", w->path,
		       strerror(err));
		return err;
	}
	diverted = w->diverted;
	written = w->written;
	if (diverted)
		gw_err("%s: %llu CDR(s) could not be written; they are in %s",
		       w->path, (unsigned long long)diverted, w->csv_path);
	else
		gw_info("%s: CDR writer closed, %llu record(s) written",
			w->path, (unsigned long long)written);
	destroy(w);
	return diverted ? EIO : 0;
}

uint64_t cdr_writer_written(struct cdr_writer *w)
{
	uint64_t v;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	v = w->written;
	pthread_mutex_unlock(&w->mu);
	return v;
}

uint64_t cdr_writer_pending(struct cdr_writer *w)
{
	uint64_t v;

	if (!w)
		return 0;
	pthread_mutex_lock(&w->mu);
	v = w->pending;
	pthread_mutex_unlock(&w->mu);
	return v;
}
