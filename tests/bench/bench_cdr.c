/* tests/bench/bench_cdr.c  CDRs committed per second through the writer
 *
 * usage: bench_cdr [N [DIR]]   (default 100000 records, a fresh mkdtemp
 * directory under /tmp that is removed afterwards)
 *
 * Submits N records as fast as the caller can, then closes the writer,
 * which returns only when every record is committed.  The figure is N
 * divided by the time from the first submit to the end of close.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/util.h"
#include "cdr/cdr.h"

static double cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void rec_fill(struct cdr_record *r, unsigned i, int64_t now)
{
	memset(r, 0, sizeof(*r));
	tg_uuid(r->id);
	r->start_ms = now + i;
	r->answer_ms = i % 4 ? r->start_ms + 3000 : 0;
	r->end_ms = r->start_ms + 60000 + i % 1000;
	snprintf(r->calling, sizeof(r->calling), "21255%05u", i % 100000);
	snprintf(r->called, sizeof(r->called), "1555%07u", i);
	r->direction = i % 2 ? CDR_INBOUND : CDR_OUTBOUND;
	tg_strlcpy(r->in_trunk, "pbx", sizeof(r->in_trunk));
	tg_strlcpy(r->out_trunk, "span1", sizeof(r->out_trunk));
	r->span = 1 + (int)(i % 4);
	r->chan = 1 + (int)(i % 23);
	snprintf(r->sip_call_id, sizeof(r->sip_call_id),
		 "%08x-%u@192.0.2.10", i * 2654435761u, i);
	r->disposition = r->answer_ms ? CDR_ANSWERED : CDR_BUSY;
	r->q850_cause = r->answer_ms ? 16 : 17;
	r->sip_status = r->answer_ms ? 200 : 486;
	tg_strlcpy(r->codec, "PCMU", sizeof(r->codec));
	/* Routed calls: a route, a rate, and one attempt, or two after a
	 * failover, each a cdr_attempt row in the same transaction. */
	tg_strlcpy(r->route, "national", sizeof(r->route));
	tg_strlcpy(r->rate_prefix, "1555", sizeof(r->rate_prefix));
	r->rate = 12500;
	r->conn_fee = 0;
	r->cost = r->answer_ms ? 12500 : 0;
	r->nattempts = i % 5 ? 1 : 2;
	for (unsigned k = 0; k < r->nattempts; k++) {
		struct cdr_attempt *a = &r->attempts[k];
		bool last = k + 1 == r->nattempts;

		tg_strlcpy(a->trunk, k ? "span2" : "span1", sizeof(a->trunk));
		tg_strlcpy(a->called, r->called, sizeof(a->called));
		a->start_ms = r->start_ms + k * 1000;
		a->end_ms = last ? r->end_ms : a->start_ms + 1000;
		a->sip_status = last ? r->sip_status : 503;
		a->q850_cause = last ? r->q850_cause : 34;
		tg_strlcpy(a->outcome, !last ? "failover"
				       : r->answer_ms ? "answered" : "final",
			   sizeof(a->outcome));
	}
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 100000;
	char tmpl[] = "/tmp/bench_cdr.XXXXXX", path[512], cmd[600];
	const char *dir = argc > 2 ? argv[2] : NULL;
	struct cdr_writer *w = NULL;
	int64_t now = tg_time_ms();
	double cpu0, cpu1, sub_s, all_s;
	struct cdr_record r;
	int64_t t0, t1, t2;
	int err;

	if (!n) {
		fprintf(stderr, "usage: %s [N [DIR]]\n", argv[0]);
		return 2;
	}
	if (!dir && !(dir = mkdtemp(tmpl))) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/bench.db", dir);
	err = cdr_writer_open(&w, path);
	if (err) {
		fprintf(stderr, "%s: %s\n", path, strerror(err));
		return 1;
	}
	cpu0 = cpu_s();
	t0 = tg_mono_ms();
	for (unsigned i = 0; i < n; i++) {
		rec_fill(&r, i, now);
		err = cdr_writer_submit(w, &r);
		if (err) {
			fprintf(stderr, "submit: %s\n", strerror(err));
			return 1;
		}
	}
	t1 = tg_mono_ms();
	err = cdr_writer_close(w);
	t2 = tg_mono_ms();
	cpu1 = cpu_s();
	if (err) {
		fprintf(stderr, "close: %s\n", strerror(err));
		return 1;
	}
	sub_s = (double)(t1 - t0) / 1000.0;
	all_s = (double)(t2 - t0) / 1000.0;
	printf("cdr writer: %u records committed in %.3f s: %.0f records/s "
	       "(submit %.0f/s, %.2f us CPU per record)\n", n, all_s,
	       all_s > 0 ? n / all_s : 0.0, sub_s > 0 ? n / sub_s : 0.0,
	       (cpu1 - cpu0) * 1e6 / n);
	if (dir == tmpl) {
		static const char *const sfx[] = {"", "-wal", "-shm"};

		for (size_t i = 0; i < TG_ARRAY_SIZE(sfx); i++) {
			snprintf(cmd, sizeof(cmd), "%s%s", path, sfx[i]);
			unlink(cmd);
		}
		rmdir(tmpl);
	}
	return 0;
}
