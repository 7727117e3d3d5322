/* tests/fuzz/fuzz_ratedeck.c  libFuzzer target: CSV rate decks to routes
 *
 * Parses the input as a rate deck, then builds a snapshot from the rows
 * it accepted and routes each row's own prefix, so the parser, the
 * builder and the lookup are fuzzed together.  Invariants that break
 * trap, so the fuzzer reports them as crashes.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "dialplan/lcr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ROWS 256

struct seen {
	struct dp_rate rows[MAX_ROWS];
	size_t n;
	unsigned errs;
	unsigned last_line;
};

static int on_row(const struct dp_rate *r, unsigned line, void *arg)
{
	struct seen *s = arg;

	/* Lines only move forward, and what is delivered is valid. */
	if (line < 1 || line < s->last_line || dp_rate_check(r, NULL, 0))
		__builtin_trap();
	s->last_line = line;
	if (dp_rate_cost(r, 61) < r->conn_fee)
		__builtin_trap();
	if (s->n < MAX_ROWS)
		s->rows[s->n++] = *r;
	return 0;
}

static int on_err(unsigned line, const char *why, void *arg)
{
	struct seen *s = arg;

	/* Every refusal says why. */
	if (!why || !*why || (line && line < s->last_line))
		__builtin_trap();
	if (line)
		s->last_line = line;
	s->errs++;
	return 0;
}

static void route_rows(const struct seen *s, const struct dp_lcr *l)
{
	struct dp_lcr_choice ch[8];

	for (size_t i = 0; i < s->n; i++) {
		const struct dp_rate *r = &s->rows[i];
		size_t n = dp_lcr_lookup(l, r->prefix, r->from, NULL, ch, 8);
		int listed = 0, same = 0;

		/* At its own start, a row is its carrier's longest match:
		 * its carrier is listed (unless cut off at 8) with it. */
		for (size_t j = 0; j < n; j++) {
			if (strcmp(ch[j].rate.carrier, r->carrier))
				continue;
			listed = 1;
			same = !strcmp(ch[j].rate.prefix, r->prefix) &&
			       ch[j].rate.rate == r->rate &&
			       ch[j].rate.from == r->from &&
			       !strcmp(ch[j].rate.desc, r->desc);
		}
		if ((listed && !same) || (!listed && n < 8))
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct seen s;
	struct dp_lcr *l = NULL;
	long live = obj_live_count();
	char err[256];
	int rc;

	memset(&s, 0, sizeof(s));
	rc = dp_ratedeck_parse_csv((const char *)data, size, "fuzz", on_row,
				   on_err, &s);
	if (rc != 0 && rc != EBADMSG)
		__builtin_trap();
	if (rc == EBADMSG && (s.errs != 1 || s.n))
		__builtin_trap();
	err[0] = '\0';
	rc = dp_lcr_build(&l, s.rows, s.n, err, sizeof(err));
	if (rc == 0) {
		if (dp_lcr_count(l) != s.n)
			__builtin_trap();
		route_rows(&s, l);
		obj_deref(l);
	} else if (rc != EINVAL || !err[0]) {
		/* Parsed rows fail the build only by overlapping dates. */
		__builtin_trap();
	}
	if (obj_live_count() != live)
		__builtin_trap();
	return 0;
}
