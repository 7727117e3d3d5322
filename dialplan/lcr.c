/* dialplan/lcr.c  Least-cost routing: rate checks, call cost, prefix table
 *
 * Layout.  A lookup's cost is memory latency, not instructions, so the
 * snapshot is laid out for few and independent cache misses:
 *
 *  - every distinct prefix is a key in one open-addressing hash table of
 *    16-byte slots: its digits as nibbles (digit + 1, left-aligned, 16 in
 *    a uint64 and digits 17-20 in a uint16, so length is part of the key)
 *    and the run of rows it owns.  A lookup computes the key of each
 *    prefix length the deck has (a bit mask of them) at once and prefetches
 *    all their slots before reading any, so the probes overlap instead of
 *    chaining one trie node after another;
 *  - a prefix's rows are contiguous 32-byte records, two to a cache line,
 *    sorted by carrier then effective date and prefetched as soon as their
 *    slot is read.  A record is the whole row: rate and fee fit in 32 bits
 *    (DP_RATE_MAX is 1e9), dates in 38 (DP_RATE_TIME_MAX), so the 12-bit
 *    increments ride in the top bits of the from date, and the description
 *    is an offset in a pool where each distinct one is kept once, because
 *    real decks repeat them across thousands of prefixes.
 *
 * The prefix itself is never stored apart from the key: it is the start
 * of the number.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util/util.h"
#include "dialplan/lcr.h"

struct slot {
	uint64_t hi;   /* digits 1-16 as nibbles; 0: an empty slot */
	uint16_t lo;   /* digits 17-20 */
	uint16_t nrec; /* rows of this prefix */
	uint32_t rec;  /* index of the first */
};

struct rec {
	uint64_t from;  /* bits 0-39 from, 40-51 first_incr, 52-63 next */
	int64_t until;  /* INT64_MAX when open-ended */
	uint32_t rate;
	uint32_t fee;
	uint32_t desc;    /* offset in the string pool */
	uint16_t carrier; /* index in carriers[], which is sorted by name */
	uint16_t pad;
};

#define REC_FROM(r)  ((int64_t)((r)->from & ((UINT64_C(1) << 40) - 1)))
#define REC_FIRST(r) ((unsigned)((r)->from >> 40) & 0xfff)
#define REC_NEXT(r)  ((unsigned)((r)->from >> 52))

struct dp_lcr {
	struct slot *slots;
	size_t nslots;
	size_t nprefixes;
	uint32_t lenmask; /* bit n: some prefix has n digits */
	struct rec *recs;
	size_t nrecs;
	char *pool;
	size_t poolsize;
	char (*carriers)[DP_RATE_CARRIER_SIZE];
	size_t ncarriers;
};

/* The slots and rows are read at random: back big arrays with huge pages
 * where the kernel gives them on request (THP "madvise"), which spares a
 * TLB miss and page walk on most probes.  Zeroed, freed with free(). */
static void *big_zalloc(size_t size)
{
	const size_t huge = (size_t)2 << 20;
	void *p;

	if (size < huge)
		return calloc(1, size);
	size = (size + huge - 1) & ~(huge - 1);
	if (posix_memalign(&p, huge, size))
		return NULL;
#ifdef MADV_HUGEPAGE
	madvise(p, size, MADV_HUGEPAGE); /* a hint: failure is harmless */
#endif
	memset(p, 0, size);
	return p;
}

static void destructor(void *arg)
{
	struct dp_lcr *l = arg;

	free(l->slots);
	free(l->recs);
	free(l->pool);
	free(l->carriers);
}

/* Slot of a key: a multiply-xorshift mix, then its high 32 bits scaled
 * to the table (nslots < 2^32), so the table needs no power-of-2 size. */
static inline size_t slot_of(uint64_t hi, uint16_t lo, size_t nslots)
{
	uint64_t h = (hi ^ (uint64_t)lo << 3) * UINT64_C(0x9e3779b97f4a7c15);

	h ^= h >> 31;
	h *= UINT64_C(0xbf58476d1ce4e5b9);
	return (size_t)(((h >> 32) * (uint64_t)nslots) >> 32);
}

/* ---- row checks and cost ------------------------------------------------ */

static int terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static int why_set(char *why, size_t whysize, const char *text)
{
	if (why && whysize)
		tg_strlcpy(why, text, whysize);
	return EINVAL;
}

int dp_rate_check(const struct dp_rate *r, char *why, size_t whysize)
{
	size_t n;

	if (!terminated(r->prefix, sizeof(r->prefix)) ||
	    !terminated(r->carrier, sizeof(r->carrier)) ||
	    !terminated(r->desc, sizeof(r->desc)))
		return why_set(why, whysize, "unterminated string");
	n = strlen(r->prefix);
	if (!n || strspn(r->prefix, "0123456789") != n)
		return why_set(why, whysize, "prefix is not 1-20 digits");
	if (!r->carrier[0])
		return why_set(why, whysize, "no carrier");
	for (const unsigned char *c = (const unsigned char *)r->carrier; *c;
	     c++)
		if (*c < 0x20 || *c == 0x7f)
			return why_set(why, whysize,
				       "control character in carrier name");
	if (r->rate < 0 || r->rate > DP_RATE_MAX)
		return why_set(why, whysize, "rate out of range");
	if (r->conn_fee < 0 || r->conn_fee > DP_RATE_MAX)
		return why_set(why, whysize, "connection fee out of range");
	if (r->first_incr < 1 || r->first_incr > DP_RATE_INCR_MAX ||
	    r->next_incr < 1 || r->next_incr > DP_RATE_INCR_MAX)
		return why_set(why, whysize, "increment not 1-3600 seconds");
	if (r->from < 0 || r->from > DP_RATE_TIME_MAX || r->until < 0 ||
	    r->until > DP_RATE_TIME_MAX)
		return why_set(why, whysize, "effective date out of range");
	if (r->until && r->until <= r->from)
		return why_set(why, whysize,
			       "effective until is not after effective from");
	return 0;
}

static uint64_t clamp(int64_t v, int64_t max)
{
	return v < 0 ? 0 : v > max ? (uint64_t)max : (uint64_t)v;
}

int64_t dp_rate_cost(const struct dp_rate *r, unsigned seconds)
{
	uint64_t first, next, billed, rate;

	if (!seconds)
		return 0;
	first = clamp(r->first_incr, DP_RATE_INCR_MAX);
	next = clamp(r->next_incr, DP_RATE_INCR_MAX);
	first = first ? first : 1;
	next = next ? next : 1;
	billed = first;
	if (seconds > first)
		billed += (seconds - first + next - 1) / next * next;
	/* Exact: rate <= 1e9 and billed < 2^32 + 3600 keep this < 2^63. */
	rate = clamp(r->rate, DP_RATE_MAX) * billed;
	return (int64_t)(clamp(r->conn_fee, DP_RATE_MAX) + (rate + 59) / 60);
}

/* ---- build: carriers ------------------------------------------------------ */

static uint32_t hash_bytes(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t h = 2166136261u; /* FNV-1a */

	while (n--)
		h = (h ^ *s++) * 16777619u;
	return h;
}

/* An open-addressing set of uint32 ids (stored as id + 1) whose keys live
 * elsewhere; the owner passes the hash and compares.  Grown at half full. */
struct idset {
	uint32_t *slot;
	uint32_t *hash; /* per id, to rehash on growth */
	size_t mask;
	size_t count;
	size_t hcap;
};

static void idset_free(struct idset *s)
{
	free(s->slot);
	free(s->hash);
}

static int idset_grow(struct idset *s)
{
	size_t size = s->mask ? (s->mask + 1) * 2 : 1024;
	uint32_t *slot = calloc(size, sizeof(*slot));

	if (!slot)
		return ENOMEM;
	for (size_t id = 0; id < s->count; id++) {
		size_t i = s->hash[id] & (size - 1);

		while (slot[i])
			i = (i + 1) & (size - 1);
		slot[i] = (uint32_t)id + 1;
	}
	free(s->slot);
	s->slot = slot;
	s->mask = size - 1;
	return 0;
}

/* Find the id whose key matches (eq), or add @p h as a new id count. */
static int idset_intern(struct idset *s, uint32_t h, uint32_t *idp,
			int (*eq)(uint32_t id, const void *key, void *ctx),
			const void *key, void *ctx)
{
	size_t i;

	if (s->count * 2 >= s->mask && idset_grow(s))
		return ENOMEM;
	if (s->count == s->hcap) {
		size_t cap = s->hcap ? s->hcap * 2 : 1024;
		uint32_t *hash = realloc(s->hash, cap * sizeof(*hash));

		if (!hash)
			return ENOMEM;
		s->hash = hash;
		s->hcap = cap;
	}
	for (i = h & s->mask; s->slot[i]; i = (i + 1) & s->mask) {
		if (s->hash[s->slot[i] - 1] == h && eq(s->slot[i] - 1, key, ctx)) {
			*idp = s->slot[i] - 1;
			return 0;
		}
	}
	s->slot[i] = (uint32_t)s->count + 1;
	s->hash[s->count] = h;
	*idp = (uint32_t)s->count++;
	return 0;
}

/* ---- build state ------------------------------------------------------ */

/* Sort key of a row: its prefix as nibbles (digit + 1, left-aligned, 0
 * past the end) so integer order is string order and a prefix sorts
 * before its extensions; digits 17-20 go in lo. */
struct skey {
	uint64_t hi;
	int64_t from;
	uint32_t row;
	uint16_t lo;
	uint16_t carrier; /* temporary id, then the sorted one */
};

struct builder {
	struct dp_lcr *l;
	const struct dp_rate *rows;
	struct skey *keys;
	struct idset descs, carriers;
	size_t pcap;
	uint32_t *carrier_row; /* temporary carrier id -> first row */
	char *err;
	size_t errsize;
};

static unsigned key_digit(const struct skey *k, unsigned d)
{
	if (d < 16)
		return (unsigned)(k->hi >> (60 - 4 * d)) & 0xf;
	return (k->lo >> (12 - 4 * (d - 16))) & 0xf;
}

static unsigned key_len(const struct skey *k)
{
	unsigned n = 0;

	while (n < DP_RATE_PREFIX_MAX && key_digit(k, n))
		n++;
	return n;
}

static void key_make(struct skey *k, const char *prefix)
{
	k->hi = 0;
	k->lo = 0;
	for (unsigned d = 0; prefix[d]; d++) {
		uint64_t nib = (uint64_t)(prefix[d] - '0' + 1);

		if (d < 16)
			k->hi |= nib << (60 - 4 * d);
		else
			k->lo |= (uint16_t)(nib << (12 - 4 * (d - 16)));
	}
}

static int key_cmp(const void *a, const void *b)
{
	const struct skey *x = a, *y = b;

	if (x->hi != y->hi)
		return x->hi < y->hi ? -1 : 1;
	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	if (x->carrier != y->carrier)
		return x->carrier < y->carrier ? -1 : 1;
	if (x->from != y->from)
		return x->from < y->from ? -1 : 1;
	return x->row < y->row ? -1 : x->row > y->row;
}

static int carrier_eq(uint32_t id, const void *key, void *ctx)
{
	struct builder *b = ctx;

	return !strcmp(b->rows[b->carrier_row[id]].carrier, key);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Give every row's key its carrier's index in the name-sorted table. */
static int carriers_index(struct builder *b, size_t n)
{
	struct dp_lcr *l = b->l;
	uint16_t *remap = NULL;
	int err;

	b->carrier_row = malloc(DP_LCR_MAX_CARRIERS * sizeof(uint32_t));
	if (!b->carrier_row)
		return ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *name = b->rows[i].carrier;
		uint32_t id;

		err = idset_intern(&b->carriers, hash_bytes(name, strlen(name)),
				   &id, carrier_eq, name, b);
		if (err)
			return err;
		if (id >= DP_LCR_MAX_CARRIERS) {
			snprintf(b->err, b->errsize,
				 "rate row %zu (%s): more than %d carriers",
				 i + 1, name, DP_LCR_MAX_CARRIERS);
			return EINVAL;
		}
		if (id + 1 == b->carriers.count)
			b->carrier_row[id] = (uint32_t)i;
		b->keys[i].carrier = (uint16_t)id;
	}
	l->ncarriers = b->carriers.count;
	l->carriers = calloc(l->ncarriers ? l->ncarriers : 1,
			     sizeof(*l->carriers));
	remap = malloc((l->ncarriers ? l->ncarriers : 1) * sizeof(*remap));
	if (!l->carriers || !remap) {
		free(remap);
		return ENOMEM;
	}
	for (size_t c = 0; c < l->ncarriers; c++)
		memcpy(l->carriers[c], b->rows[b->carrier_row[c]].carrier,
		       DP_RATE_CARRIER_SIZE);
	qsort(l->carriers, l->ncarriers, sizeof(*l->carriers), name_cmp);
	for (size_t c = 0; c < l->ncarriers; c++) {
		const char *name = b->rows[b->carrier_row[c]].carrier;
		char(*hit)[DP_RATE_CARRIER_SIZE] =
			bsearch(name, l->carriers, l->ncarriers,
				sizeof(*l->carriers), name_cmp);

		remap[c] = (uint16_t)(hit - l->carriers);
	}
	for (size_t i = 0; i < n; i++)
		b->keys[i].carrier = remap[b->keys[i].carrier];
	free(remap);
	return 0;
}

/* ---- build: interning ------------------------------------------------- */

struct desc_key {
	const char *s;
	struct builder *b;
};

static int desc_eq_off(uint32_t id, const void *key, void *ctx)
{
	const uint32_t *offs = ctx;
	const struct desc_key *k = key;

	return !strcmp(k->b->l->pool + offs[id], k->s);
}

static int desc_intern(struct builder *b, const char *s, uint32_t **offs,
		       size_t *ocap, uint32_t *offp)
{
	struct dp_lcr *l = b->l;
	struct desc_key k = {s, b};
	size_t len = strlen(s);
	uint32_t id;
	int err;

	if (!len) {
		*offp = 0; /* pool[0] is the empty string */
		return 0;
	}
	if (b->descs.count == *ocap) {
		size_t cap = *ocap ? *ocap * 2 : 256;
		uint32_t *v = realloc(*offs, cap * sizeof(*v));

		if (!v)
			return ENOMEM;
		*offs = v;
		*ocap = cap;
	}
	err = idset_intern(&b->descs, hash_bytes(s, len), &id, desc_eq_off,
			   &k, *offs);
	if (err)
		return err;
	if (id + 1 < b->descs.count) {
		*offp = (*offs)[id];
		return 0;
	}
	if (l->poolsize + len + 1 > UINT32_MAX)
		return ENOMEM;
	if (l->poolsize + len + 1 > b->pcap) {
		size_t cap = (b->pcap + len + 1) * 2;
		char *p = realloc(l->pool, cap);

		if (!p)
			return ENOMEM;
		l->pool = p;
		b->pcap = cap;
	}
	memcpy(l->pool + l->poolsize, s, len + 1);
	(*offs)[id] = (uint32_t)l->poolsize;
	*offp = (uint32_t)l->poolsize;
	l->poolsize += len + 1;
	return 0;
}

/* ---- build: table ------------------------------------------------------ */

static int same_prefix(const struct skey *a, const struct skey *b)
{
	return a->hi == b->hi && a->lo == b->lo;
}

/* Refuse overlapping dates of one carrier and prefix; count prefixes. */
static int keys_check(struct builder *b, size_t n, size_t *nprefixes)
{
	size_t run = 0;

	*nprefixes = 0;
	for (size_t i = 0; i < n; i++) {
		const struct skey *k = &b->keys[i], *p = i ? k - 1 : NULL;

		if (p && same_prefix(p, k)) {
			const struct dp_rate *pr = &b->rows[p->row];

			if (++run > UINT16_MAX) {
				snprintf(b->err, b->errsize,
					 "rate row %u (%s): more than %u rows "
					 "for one prefix",
					 k->row + 1, pr->prefix, UINT16_MAX);
				return EINVAL;
			}
			if (p->carrier == k->carrier &&
			    (!pr->until || pr->until > k->from)) {
				snprintf(b->err, b->errsize,
					 "rate rows %u and %u (prefix %s, "
					 "carrier %s): effective dates overlap",
					 p->row + 1, k->row + 1, pr->prefix,
					 pr->carrier);
				return EINVAL;
			}
			continue;
		}
		run = 1;
		(*nprefixes)++;
	}
	return 0;
}

/* Rows [lo, hi) of the sorted keys share one prefix: give it a slot. */
static int prefix_add(struct builder *b, size_t lo, size_t hi,
		      uint32_t **doffs, size_t *docap)
{
	struct dp_lcr *l = b->l;
	const struct skey *k = &b->keys[lo];
	size_t i = slot_of(k->hi, k->lo, l->nslots);
	int err;

	while (l->slots[i].hi)
		i = i + 1 == l->nslots ? 0 : i + 1;
	l->slots[i].hi = k->hi;
	l->slots[i].lo = k->lo;
	l->slots[i].rec = (uint32_t)lo;
	/* keys_check() capped rows per prefix at 65535. */
	l->slots[i].nrec = (uint16_t)(hi - lo);
	l->lenmask |= UINT32_C(1) << key_len(k);
	for (size_t j = lo; j < hi; j++) {
		const struct dp_rate *r = &b->rows[b->keys[j].row];
		struct rec *e = &l->recs[j];

		/* dp_rate_check() bounds the date to 38 bits and the
		 * increments to 12. */
		e->from = (uint64_t)r->from | (uint64_t)r->first_incr << 40 |
			  (uint64_t)r->next_incr << 52;
		e->until = r->until ? r->until : INT64_MAX;
		e->rate = (uint32_t)r->rate;
		e->fee = (uint32_t)r->conn_fee;
		e->carrier = b->keys[j].carrier;
		e->pad = 0;
		err = desc_intern(b, r->desc, doffs, docap, &e->desc);
		if (err)
			return err;
	}
	return 0;
}

static int build(struct builder *b, size_t n)
{
	struct dp_lcr *l = b->l;
	uint32_t *doffs = NULL;
	size_t docap = 0, nprefixes;
	int err;

	for (size_t i = 0; i < n; i++) {
		key_make(&b->keys[i], b->rows[i].prefix);
		b->keys[i].from = b->rows[i].from;
		b->keys[i].row = (uint32_t)i;
	}
	err = carriers_index(b, n);
	if (err)
		return err;
	qsort(b->keys, n, sizeof(*b->keys), key_cmp);
	err = keys_check(b, n, &nprefixes);
	if (err)
		return err;
	/* At most 2/3 full, so probes stay short; always one empty slot. */
	l->nprefixes = nprefixes;
	l->nslots = nprefixes + nprefixes / 2 + 1;
	if (l->nslots > UINT32_MAX)
		return ENOMEM;
	l->slots = big_zalloc(l->nslots * sizeof(*l->slots));
	l->recs = big_zalloc((n ? n : 1) * sizeof(*l->recs));
	b->pcap = 4096;
	l->pool = malloc(b->pcap);
	if (!l->slots || !l->recs || !l->pool)
		return ENOMEM;
	l->pool[0] = '\0';
	l->poolsize = 1;
	for (size_t i = 0; i < n && !err;) {
		size_t j = i + 1;

		while (j < n && same_prefix(&b->keys[i], &b->keys[j]))
			j++;
		err = prefix_add(b, i, j, &doffs, &docap);
		i = j;
	}
	free(doffs);
	l->nrecs = n;
	return err;
}

int dp_lcr_build(struct dp_lcr **out, const struct dp_rate *rows, size_t n,
		 char *err, size_t errsize)
{
	struct builder b;
	char why[128];
	int rc;

	if (err && errsize)
		err[0] = '\0';
	if (n >= UINT32_MAX) {
		snprintf(err, errsize, "more than %u rate rows", UINT32_MAX - 1);
		return EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		if (dp_rate_check(&rows[i], why, sizeof(why))) {
			snprintf(err, errsize, "rate row %zu (%.20s %.31s): %s",
				 i + 1,
				 terminated(rows[i].prefix, 21) ?
					 rows[i].prefix : "?",
				 terminated(rows[i].carrier, 32) ?
					 rows[i].carrier : "?",
				 why);
			return EINVAL;
		}
	}
	memset(&b, 0, sizeof(b));
	b.rows = rows;
	b.err = err;
	b.errsize = errsize;
	b.l = obj_zalloc(sizeof(*b.l), destructor);
	b.keys = malloc((n ? n : 1) * sizeof(*b.keys));
	if (!b.l || !b.keys)
		rc = ENOMEM;
	else
		rc = build(&b, n);
	free(b.keys);
	free(b.carrier_row);
	idset_free(&b.descs);
	idset_free(&b.carriers);
	if (rc) {
		if (rc == ENOMEM && err && errsize)
			snprintf(err, errsize, "out of memory");
		obj_deref(b.l);
		return rc;
	}
	*out = b.l;
	return 0;
}

/* ---- lookup ---------------------------------------------------------------- */

struct cand {
	uint32_t rate;
	uint32_t fee;
	uint32_t rec;
	uint16_t carrier;
	uint8_t len;
	int16_t asr; /* -1 until a tie asks for it */
};

static int asr_of(const struct dp_lcr *l, struct cand *c,
		  const struct dp_lcr_asr *asr)
{
	const char *name;

	if (c->asr >= 0)
		return c->asr;
	c->asr = 0;
	name = l->carriers[c->carrier];
	for (; asr && asr->carrier; asr++) {
		if (!strcmp(asr->carrier, name)) {
			c->asr = (int16_t)(asr->permille > 1000 ? 1000 :
								  asr->permille);
			break;
		}
	}
	return c->asr;
}

/* Is candidate a to be tried before b? */
static int cand_before(const struct dp_lcr *l, struct cand *a,
		       struct cand *b, const struct dp_lcr_asr *asr)
{
	int ax, bx;

	if (a->rate != b->rate)
		return a->rate < b->rate;
	if (a->fee != b->fee)
		return a->fee < b->fee;
	ax = asr_of(l, a, asr);
	bx = asr_of(l, b, asr);
	if (ax != bx)
		return ax > bx;
	return a->carrier < b->carrier;
}

static void choice_fill(const struct dp_lcr *l, const struct cand *c,
			const char *number, struct dp_lcr_choice *out)
{
	const struct rec *e = &l->recs[c->rec];
	const char *desc = l->pool + e->desc;
	struct dp_rate *r = &out->rate;
	size_t dlen = strlen(desc);

	memcpy(r->prefix, number, c->len);
	r->prefix[c->len] = '\0';
	memcpy(r->carrier, l->carriers[c->carrier], sizeof(r->carrier));
	r->rate = e->rate;
	r->conn_fee = e->fee;
	r->first_incr = REC_FIRST(e);
	r->next_incr = REC_NEXT(e);
	r->from = REC_FROM(e);
	r->until = e->until == INT64_MAX ? 0 : e->until;
	/* Pooled descriptions passed dp_rate_check(): shorter than desc. */
	memcpy(r->desc, desc, dlen + 1);
}

/* A prefix of the number that the deck has. */
struct hit {
	uint32_t rec;
	uint16_t nrec;
	uint8_t len;
};

size_t dp_lcr_lookup(const struct dp_lcr *l, const char *number, int64_t t,
		     const struct dp_lcr_asr *asr, struct dp_lcr_choice *out,
		     size_t max)
{
	uint64_t seen[DP_LCR_MAX_CARRIERS / 64];
	struct cand cand[DP_LCR_MAX_CARRIERS];
	struct {
		uint64_t hi;
		uint32_t slot;
		uint16_t lo;
		uint8_t len;
	} probe[DP_RATE_PREFIX_MAX];
	struct hit hit[DP_RATE_PREFIX_MAX];
	size_t ncand = 0, nseen = 0, nprobe = 0, nhit = 0, n;
	uint64_t hi = 0;
	unsigned len = 0, lo = 0;
	uint32_t lens;

	if (!l || !number)
		return 0;
	/* Digits only, anywhere, not only within the deepest prefix: a
	 * number with a bad tail must not be half-routed.  The first 20
	 * become the key, as nibbles. */
	for (const unsigned char *p = (const unsigned char *)number; *p;
	     p++, len++) {
		unsigned d = (unsigned)*p - '0';

		if (d > 9)
			return 0;
		if (len < 16)
			hi |= (uint64_t)(d + 1) << (60 - 4 * len);
		else if (len < DP_RATE_PREFIX_MAX)
			lo |= (d + 1) << (12 - 4 * (len - 16));
	}
	if (!len || !l->nprefixes)
		return 0;
	if (len > DP_RATE_PREFIX_MAX)
		len = DP_RATE_PREFIX_MAX;
	/* Every length the deck has, longest first; all slots prefetched
	 * before any is read, so their cache misses overlap. */
	lens = l->lenmask & ((UINT32_C(2) << len) - 1);
	while (lens) {
		unsigned k = 31 - (unsigned)__builtin_clz(lens);
		uint64_t khi = k >= 16 ? hi : hi & ~(UINT64_MAX >> (4 * k));
		uint16_t klo = 0;
		size_t s;

		if (k > 16)
			klo = (uint16_t)(lo & (0xffffu << (16 - 4 * (k - 16))));
		s = slot_of(khi, klo, l->nslots);
		__builtin_prefetch(&l->slots[s]);
		probe[nprobe].hi = khi;
		probe[nprobe].lo = klo;
		probe[nprobe].slot = (uint32_t)s;
		probe[nprobe++].len = (uint8_t)k;
		lens &= ~(UINT32_C(1) << k);
	}
	for (size_t i = 0; i < nprobe; i++) {
		const struct slot *s = &l->slots[probe[i].slot];

		for (;;) {
			if (s->hi == probe[i].hi && s->lo == probe[i].lo) {
				const struct rec *r = &l->recs[s->rec];

				__builtin_prefetch(r);
				__builtin_prefetch(r + s->nrec - 1);
				hit[nhit].rec = s->rec;
				hit[nhit].nrec = s->nrec;
				hit[nhit++].len = probe[i].len;
				break;
			}
			if (!s->hi)
				break;
			s = s + 1 == l->slots + l->nslots ? l->slots : s + 1;
		}
	}
	if (!nhit)
		return 0;
	memset(seen, 0, (l->ncarriers + 63) / 64 * sizeof(seen[0]));
	/* Longest first, so each carrier's first effective row is its
	 * longest prefix; rows are grouped by carrier, then date. */
	for (size_t h = 0; h < nhit && nseen < l->ncarriers; h++) {
		const struct rec *r = &l->recs[hit[h].rec];

		for (unsigned i = 0; i < hit[h].nrec; i++, r++) {
			unsigned c = r->carrier;
			uint64_t bit = UINT64_C(1) << (c % 64);

			if ((seen[c / 64] & bit) || t < REC_FROM(r) ||
			    t >= r->until)
				continue;
			seen[c / 64] |= bit;
			nseen++;
			cand[ncand++] = (struct cand){.rate = r->rate,
						      .fee = r->fee,
						      .rec = hit[h].rec + i,
						      .carrier = (uint16_t)c,
						      .len = hit[h].len,
						      .asr = -1};
		}
	}
	/* Insertion sort: a handful of carriers match a number. */
	for (size_t i = 1; i < ncand; i++) {
		struct cand c = cand[i];
		size_t j = i;

		while (j && cand_before(l, &c, &cand[j - 1], asr)) {
			cand[j] = cand[j - 1];
			j--;
		}
		cand[j] = c;
	}
	n = ncand < max ? ncand : max;
	for (size_t i = 0; i < n; i++)
		choice_fill(l, &cand[i], number, &out[i]);
	return n;
}

size_t dp_lcr_count(const struct dp_lcr *l)
{
	return l ? l->nrecs : 0;
}

size_t dp_lcr_memory(const struct dp_lcr *l)
{
	if (!l)
		return 0;
	return sizeof(*l) + l->nslots * sizeof(*l->slots) +
	       l->nrecs * sizeof(*l->recs) +
	       l->poolsize + l->ncarriers * sizeof(*l->carriers);
}
