/* tests/bench/bench_route.c  One routing decision, as call control asks it
 *
 * usage: bench_route [DIDS [ROUTES [RATES [DECISIONS]]]]
 *        (default 200000 DIDs in ranges of 10, 1000 routes, 100000 rates
 *        over 5 carriers, 200000 decisions)
 *
 * Builds a carrier-sized snapshot (NANP PBX trunk with ingress
 * normalisation, two PRI trunks and five SIP carriers with egress
 * formats, a blocklist, DID ranges, prefix and pattern routes of which a
 * tenth use LCR, one with hours in a time zone) and times dp_decide() for
 * a mix of calls: DIDs, LCR routes, trunk-list routes, blocked and
 * unroutable numbers.  Prints the build time and µs per decision
 * (p50/p99/mean); decisions are what every call pays before its first
 * attempt.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/util.h"
#include "dialplan/dialplan.h"

#define NOW INT64_C(1795334400) /* 2026-11-22 00:00 UTC, a Sunday */

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)((rng >> 16) % n);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dbl_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static const char *const carriers[] = {"c1", "c2", "c3", "c4", "c5"};

int main(int argc, char **argv)
{
	size_t ndids = argc > 1 ? strtoul(argv[1], NULL, 10) : 200000;
	size_t nroutes = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
	size_t nrates = argc > 3 ? strtoul(argv[3], NULL, 10) : 100000;
	size_t ndec = argc > 4 ? strtoul(argv[4], NULL, 10) : 200000;
	struct dp_trunk_row trunks[8];
	struct dp_route_row *routes;
	struct dp_did_range *dids;
	struct dp_rate *rates;
	struct dp_block_row blocks[2];
	struct dp_snapshot_rows rows;
	struct dp_snapshot *snap = NULL;
	struct dp_decision d;
	char err[512];
	double t0, t1, *lat;
	const char **numbers;
	size_t routed = 0, refused = 0, nattempts = 0;

	memset(trunks, 0, sizeof(trunks));
	tg_strlcpy(trunks[0].name, "pbx", sizeof(trunks[0].name));
	trunks[0].kind = DP_TRUNK_SIP;
	trunks[0].plan = (struct dp_country_plan){"1", "1", "011", "212", 7,
						  10, false};
	trunks[0].called_fmt = DP_FMT_NATIONAL;
	trunks[0].calling_fmt = DP_FMT_NATIONAL;
	tg_strlcpy(trunks[0].allow, "international", sizeof(trunks[0].allow));
	for (int i = 1; i <= 2; i++) {
		snprintf(trunks[i].name, sizeof(trunks[i].name), "pri%d", i);
		trunks[i].kind = DP_TRUNK_TDM;
		trunks[i].plan = trunks[0].plan;
		trunks[i].called_fmt = DP_FMT_NATIONAL;
		trunks[i].calling_fmt = DP_FMT_NATIONAL;
	}
	for (int i = 0; i < 5; i++) {
		struct dp_trunk_row *t = &trunks[3 + i];

		tg_strlcpy(t->name, carriers[i], sizeof(t->name));
		t->kind = DP_TRUNK_SIP;
		t->plan = trunks[0].plan;
		t->called_fmt = i % 2 ? DP_FMT_E164 : DP_FMT_PLUS;
		t->calling_fmt = t->called_fmt;
	}

	/* DID ranges of 10 in 1212xxxxxx0-9, all to the PBX. */
	dids = calloc(ndids / 10 + 1, sizeof(*dids));
	for (size_t i = 0; i < ndids / 10; i++) {
		snprintf(dids[i].first, sizeof(dids[i].first), "1212%06zu0",
			 i);
		snprintf(dids[i].last, sizeof(dids[i].last), "1212%06zu9", i);
		tg_strlcpy(dids[i].trunk, "pri1", sizeof(dids[i].trunk));
	}
	/* Routes: 1NPA prefixes to the PRIs (and a carrier), a tenth by
	 * LCR, one pattern route and one night route in New York time. */
	routes = calloc(nroutes + 2, sizeof(*routes));
	for (size_t i = 0; i < nroutes; i++) {
		struct dp_route_row *r = &routes[i];

		snprintf(r->name, sizeof(r->name), "r%zu", i);
		r->priority = 10;
		tg_strlcpy(r->kind, "prefix", sizeof(r->kind));
		snprintf(r->match, sizeof(r->match), "1%03zu", 200 + i % 800);
		if (i >= 800)
			snprintf(r->match, sizeof(r->match), "%zu", 20 + i);
		tg_strlcpy(r->src_trunks, "pbx", sizeof(r->src_trunks));
		if (i % 10 == 0)
			r->lcr = true;
		snprintf(r->trunks, sizeof(r->trunks), "pri%zu,pri%zu,%s",
			 1 + i % 2, 2 - i % 2, carriers[i % 5]);
	}
	{
		struct dp_route_row *r = &routes[nroutes];

		tg_strlcpy(r->name, "night", sizeof(r->name));
		r->priority = 5;
		tg_strlcpy(r->kind, "pattern", sizeof(r->kind));
		tg_strlcpy(r->match, "_1800NXXXXXX", sizeof(r->match));
		tg_strlcpy(r->hours, "22:00-06:00", sizeof(r->hours));
		tg_strlcpy(r->tz, "EST5EDT,M3.2.0,M11.1.0", sizeof(r->tz));
		tg_strlcpy(r->trunks, "c1,c2", sizeof(r->trunks));
	}
	rates = calloc(nrates ? nrates : 1, sizeof(*rates));
	for (size_t i = 0; i < nrates; i++) {
		struct dp_rate *r = &rates[i];

		/* Distinct (carrier, prefix) pairs: prefix by i / 5. */
		snprintf(r->prefix, sizeof(r->prefix), "1%03zu%03zu",
			 200 + (i / 5) % 800, (i / 5) / 800 % 1000);
		tg_strlcpy(r->carrier, carriers[i % 5], sizeof(r->carrier));
		r->rate = 1000 + rnd(20000);
		r->first_incr = 6;
		r->next_incr = 6;
	}
	memset(blocks, 0, sizeof(blocks));
	tg_strlcpy(blocks[0].kind, "called", sizeof(blocks[0].kind));
	tg_strlcpy(blocks[0].match, "1900", sizeof(blocks[0].match));
	tg_strlcpy(blocks[0].category, "premium", sizeof(blocks[0].category));
	tg_strlcpy(blocks[1].kind, "calling", sizeof(blocks[1].kind));
	tg_strlcpy(blocks[1].match, "1555", sizeof(blocks[1].match));

	memset(&rows, 0, sizeof(rows));
	rows.trunks = trunks;
	rows.ntrunks = 8;
	rows.routes = routes;
	rows.nroutes = nroutes + 1;
	rows.dids = dids;
	rows.ndids = ndids / 10;
	rows.rates = rates;
	rows.nrates = nrates;
	rows.blocks = blocks;
	rows.nblocks = 2;
	t0 = now_s();
	if (dp_snapshot_build(&snap, &rows, err, sizeof(err))) {
		fprintf(stderr, "build: %s\n", err);
		return 1;
	}
	t1 = now_s();
	printf("snapshot: %zu DIDs in %zu ranges, %zu routes, %zu rates: "
	       "built in %.3f s\n", ndids, ndids / 10, nroutes + 1, nrates,
	       t1 - t0);

	/* The call mix: 40% DIDs, 50% routed out (a fifth by LCR), 5%
	 * blocked premium, 5% with no route. */
	numbers = calloc(ndec, sizeof(*numbers));
	lat = calloc(ndec, sizeof(*lat));
	for (size_t i = 0; i < ndec; i++) {
		char *n = malloc(24);
		uint32_t k = rnd(100);

		if (k < 40)
			snprintf(n, 24, "212%06u%u", rnd((uint32_t)(ndids / 10)
							   ? (uint32_t)(ndids / 10)
							   : 1),
				 rnd(10));
		else if (k < 90)
			snprintf(n, 24, "%03u%07u", 200 + rnd(800),
				 rnd(10000000));
		else if (k < 95)
			snprintf(n, 24, "900%07u", rnd(10000000));
		else
			snprintf(n, 24, "01199%09u", rnd(1000000000));
		numbers[i] = n;
	}
	for (size_t i = 0; i < ndec; i++) {
		struct dp_facts f = {
			.src_trunk = "pbx",
			.called = numbers[i],
			.calling = "2125550000",
			.now = NOW + (int64_t)(i % 86400),
		};
		double a = now_s();

		if (dp_decide(snap, &f, &d, NULL, 0)) {
			fprintf(stderr, "decide %s failed\n", numbers[i]);
			return 1;
		}
		lat[i] = (now_s() - a) * 1e6;
		if (d.cause) {
			refused++;
		} else {
			routed++;
			nattempts += d.nattempts;
		}
	}
	{
		double sum = 0;

		for (size_t i = 0; i < ndec; i++)
			sum += lat[i];
		qsort(lat, ndec, sizeof(*lat), dbl_cmp);
		printf("decisions: %zu (%zu routed, %.2f attempts each; %zu "
		       "refused)\n", ndec, routed,
		       routed ? (double)nattempts / (double)routed : 0.0,
		       refused);
		printf("us per decision: p50 %.2f  p99 %.2f  mean %.2f\n",
		       lat[ndec / 2], lat[ndec * 99 / 100], sum / (double)ndec);
	}
	for (size_t i = 0; i < ndec; i++)
		free((void *)numbers[i]);
	free(numbers);
	free(lat);
	obj_deref(snap);
	free(routes);
	free(dids);
	free(rates);
	return 0;
}
