/* dialplan/did.c  DID ranges: validation, sorted table, binary search */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "dialplan.h"

struct dp_did_table {
	size_t n;
	struct dp_did_range *rows; /* sorted by (length, first) */
};

static void destructor(void *arg)
{
	struct dp_did_table *t = arg;

	free(t->rows);
}

int dp_is_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return 0;
	return 1;
}

/* Equal-length digit strings compare numerically as strings; shorter
 * numbers sort first so ranges of different lengths never interleave. */
static int key_cmp(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la != lb)
		return la < lb ? -1 : 1;
	return strcmp(a, b);
}

static int row_cmp(const void *a, const void *b)
{
	const struct dp_did_range *x = a, *y = b;

	return key_cmp(x->first, y->first);
}

/* "last:N" or "last:N:PREFIX": N from 1 to 15, PREFIX digits, '*', '#'. */
static bool parse_derived(const char *user, unsigned *n, const char **pfx)
{
	const char *p = user + 5;
	char *end;
	unsigned long v;

	if (strncmp(user, "last:", 5) || *p < '1' || *p > '9')
		return false;
	v = strtoul(p, &end, 10);
	if (v < 1 || v > 15 || (*end && *end != ':'))
		return false;
	*pfx = *end ? end + 1 : "";
	if (strspn(*pfx, "0123456789*#") != strlen(*pfx))
		return false;
	*n = (unsigned)v;
	return true;
}

bool dp_did_user_derived(const char *user)
{
	unsigned n;
	const char *pfx;

	return parse_derived(user, &n, &pfx);
}

int dp_did_user(const struct dp_did_range *d, const char *did, char *out,
		size_t size)
{
	const char *pfx;
	unsigned n;
	size_t len = strlen(did);

	if (!parse_derived(d->user, &n, &pfx)) {
		if (strlen(d->user) >= size)
			return ENOSPC;
		strcpy(out, d->user);
		return 0;
	}
	if (n > len)
		n = (unsigned)len;
	if (strlen(pfx) + n >= size)
		return ENOSPC;
	snprintf(out, size, "%s%s", pfx, did + len - n);
	return 0;
}

int dp_did_table_build(struct dp_did_table **tp,
		       const struct dp_did_range *rows, size_t n,
		       char *errbuf, size_t errsize)
{
	struct dp_did_table *t;

	for (size_t i = 0; i < n; i++) {
		const struct dp_did_range *r = &rows[i];

		if (!dp_is_digits(r->first) || !dp_is_digits(r->last) ||
		    strlen(r->first) != strlen(r->last) ||
		    strcmp(r->first, r->last) > 0) {
			snprintf(errbuf, errsize,
				 "DID range %zu (%s-%s): not equal-length "
				 "digit strings with first <= last",
				 i + 1, r->first, r->last);
			return EINVAL;
		}
		if (!*r->trunk) {
			snprintf(errbuf, errsize,
				 "DID range %zu (%s-%s): no trunk", i + 1,
				 r->first, r->last);
			return EINVAL;
		}
		if (!strncmp(r->user, "last:", 5) &&
		    !dp_did_user_derived(r->user)) {
			snprintf(errbuf, errsize,
				 "DID range %zu (%s-%s): user '%s' is not "
				 "last:N[:PREFIX] (N 1-15, PREFIX digits)",
				 i + 1, r->first, r->last, r->user);
			return EINVAL;
		}
	}
	t = obj_zalloc(sizeof(*t), destructor);
	if (!t)
		return ENOMEM;
	if (n) {
		t->rows = malloc(n * sizeof(*t->rows));
		if (!t->rows) {
			obj_deref(t);
			return ENOMEM;
		}
		memcpy(t->rows, rows, n * sizeof(*t->rows));
		qsort(t->rows, n, sizeof(*t->rows), row_cmp);
	}
	t->n = n;
	for (size_t i = 1; i < n; i++) {
		if (key_cmp(t->rows[i].first, t->rows[i - 1].last) <= 0) {
			snprintf(errbuf, errsize,
				 "DID ranges %s-%s and %s-%s overlap",
				 t->rows[i - 1].first, t->rows[i - 1].last,
				 t->rows[i].first, t->rows[i].last);
			obj_deref(t);
			return EINVAL;
		}
	}
	*tp = t;
	return 0;
}

const struct dp_did_range *dp_did_lookup(const struct dp_did_table *t,
					 const char *number)
{
	size_t lo = 0, hi;

	if (!t || !dp_is_digits(number))
		return NULL;
	/* Find the last range whose first <= number. */
	hi = t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (key_cmp(t->rows[mid].first, number) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	if (key_cmp(number, t->rows[lo - 1].last) <= 0)
		return &t->rows[lo - 1];
	return NULL;
}

size_t dp_did_count(const struct dp_did_table *t)
{
	return t ? t->n : 0;
}
