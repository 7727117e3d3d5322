/* cdr/csv.c  Last-resort CSV file for records the database refused */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_MODULE "cdr"
#include "util/util.h"
#include "cdr/cdr_int.h"

/* RFC 4180: quote a field only when it holds a separator, a quote or a
 * line break, and double the quotes inside. */
static void put_text(FILE *f, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* Empty field for "none", as the table has NULL. */
static void put_opt(FILE *f, int64_t v)
{
	if (v)
		fprintf(f, "%lld", (long long)v);
	fputc(',', f);
}

/* The media columns, each after a comma; empty where the table has
 * NULL (no bridge, or the figure is unknown). */
static void put_media(FILE *f, const struct cdr_media *m)
{
	struct cdr_mval v[CDR_MEDIA_COLS];

	cdr_media_values(m, v);
	for (int i = 0; i < CDR_MEDIA_COLS; i++) {
		fputc(',', f);
		if (v[i].kind == CDR_MV_INT)
			fprintf(f, "%lld", (long long)v[i].i);
		else if (v[i].kind == CDR_MV_REAL)
			fprintf(f, "%.*f", v[i].decimals, v[i].r);
	}
}

static void put_record(FILE *f, const struct cdr_record *r)
{
	char start[32], answer[32] = "", end[32];

	tg_time_fmt(start, sizeof(start), r->start_ms);
	if (r->answer_ms)
		tg_time_fmt(answer, sizeof(answer), r->answer_ms);
	tg_time_fmt(end, sizeof(end), r->end_ms);

	put_text(f, r->id);
	fprintf(f, ",%s,%s,%s,%lld,", start, answer, end,
		(long long)r->start_ms);
	put_opt(f, r->answer_ms);
	fprintf(f, "%lld,%lld,%lld,", (long long)r->end_ms,
		(long long)(r->end_ms - r->start_ms),
		(long long)cdr_record_billsec(r));
	put_text(f, r->calling);
	fputc(',', f);
	put_text(f, r->called);
	fprintf(f, ",%s,", cdr_direction_name(r->direction));
	put_text(f, r->in_trunk);
	fputc(',', f);
	put_text(f, r->out_trunk);
	fputc(',', f);
	put_opt(f, r->span);
	put_opt(f, r->chan);
	put_text(f, r->sip_call_id);
	fprintf(f, ",%s,", cdr_disposition_name(r->disposition));
	put_opt(f, r->q850_cause);
	put_opt(f, r->sip_status);
	put_text(f, r->codec);
	/* The attempts of a call are not in this file: it is the last
	 * resort for the call records themselves. */
	fputc(',', f);
	put_text(f, r->route);
	fputc(',', f);
	put_text(f, r->rate_prefix);
	fputc(',', f);
	if (*r->rate_prefix)
		fprintf(f, "%lld,%lld,%lld,", (long long)r->rate,
			(long long)r->conn_fee, (long long)r->cost);
	else
		fputs(",,,", f);
	fprintf(f, "%d,", r->emergency);
	put_text(f, r->diversion);
	fputc(',', f);
	put_text(f, r->e911_zone);
	fputc(',', f);
	put_text(f, r->elin);
	fputc(',', f);
	put_text(f, r->e911_trunk);
	fputc(',', f);
	put_text(f, r->e911_user);
	fprintf(f, ",%d,", r->callback);
	put_text(f, r->e911_ref);
	put_media(f, &r->media);
	fputc(',', f);
	put_text(f, r->transfer_to);
	fputc(',', f);
	put_text(f, r->transfer_ref);
	fputc(',', f);
	put_text(f, r->fax);
	fputc(',', f);
	if (*r->fax && r->fax_pages >= 0)
		fprintf(f, "%d", r->fax_pages);
	fputc(',', f);
	if (*r->fax && r->fax_bit_rate > 0)
		fprintf(f, "%d", r->fax_bit_rate);
	fputc('\n', f);
}

int cdr_csv_append(const char *path, const struct cdr_item *head)
{
	struct stat sb;
	FILE *f = NULL;
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0 || fstat(fd, &sb)) {
		err = errno;
		goto out;
	}
	f = fdopen(fd, "a");
	if (!f) {
		err = errno;
		goto out;
	}
	fd = -1;
	if (sb.st_size == 0)
		fputs(CDR_COLUMNS "\n", f);
	for (; head; head = head->next)
		put_record(f, &head->rec);
	/* These records exist nowhere else: make sure they reach the disk
	 * before the caller frees them. */
	if (fflush(f) || fsync(fileno(f)))
		err = errno;
 out:
	if (f && fclose(f) && !err)
		err = errno;
	if (fd >= 0)
		close(fd);
	if (err)
		gw_err("%s: cannot append unwritten CDRs: %s", path,
		       strerror(err));
	return err;
}
