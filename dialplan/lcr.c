/* dialplan/lcr.c  Least-cost routing: rate checks, call cost, prefix trie
 *
 * Layout.  A digit trie whose nodes live in one array: a node names its
 * children with a 10-bit map and the index of the first child, and a
 * node's children are contiguous, so child d sits at
 * child + popcount(map below d).  That keeps a node at 12 bytes and a
 * million-prefix deck in a handful of allocations, not a malloc per node.
 * Each node owns a run of entries (the rates of its prefix) sorted by
 * carrier, then effective date.  An entry is 24 bytes: its dates and two
 * indices, into interned tariffs (carrier, rate, fee, increments) and
 * interned descriptions, because real decks repeat both across thousands
 * of prefixes.  The prefix itself is never stored: it is the path.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/util.h"
#include "dialplan/lcr.h"

struct node {
	uint32_t child; /* index of the first child */
	uint32_t ent;   /* index of the first entry */
	uint16_t map;   /* bit d: there is a child for digit d */
	uint16_t nent;
};

struct ent {
	int64_t from;
	int64_t until; /* INT64_MAX when open-ended */
	uint32_t tariff;
	uint32_t desc; /* offset in the string pool */
};

struct tariff {
	int64_t rate;
	int64_t conn_fee;
	uint16_t first_incr;
	uint16_t next_incr;
	uint16_t carrier; /* index in carriers[], which is sorted by name */
};

struct dp_lcr {
	struct node *nodes;
	size_t nnodes;
	struct ent *ents;
	size_t nents;
	struct tariff *tariffs;
	size_t ntariffs;
	char *pool;
	size_t poolsize;
	char (*carriers)[DP_RATE_CARRIER_SIZE];
	size_t ncarriers;
};

static void destructor(void *arg)
{
	struct dp_lcr *l = arg;

	free(l->nodes);
	free(l->ents);
	free(l->tariffs);
	free(l->pool);
	free(l->carriers);
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
	size_t nodecap;
	struct idset tariffs, descs, carriers;
	size_t tcap, pcap;
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

static int tariff_eq(uint32_t id, const void *key, void *ctx)
{
	struct builder *b = ctx;

	return !memcmp(&b->l->tariffs[id], key, sizeof(struct tariff));
}

static int tariff_intern(struct builder *b, const struct dp_rate *r,
			 uint16_t carrier, uint32_t *idp)
{
	struct dp_lcr *l = b->l;
	struct tariff t;
	int err;

	/* memset, so padding bytes compare and hash equal. */
	memset(&t, 0, sizeof(t));
	t.rate = r->rate;
	t.conn_fee = r->conn_fee;
	t.first_incr = (uint16_t)r->first_incr;
	t.next_incr = (uint16_t)r->next_incr;
	t.carrier = carrier;
	if (l->ntariffs == b->tcap) {
		size_t cap = b->tcap ? b->tcap * 2 : 256;
		struct tariff *v = realloc(l->tariffs, cap * sizeof(*v));

		if (!v)
			return ENOMEM;
		l->tariffs = v;
		b->tcap = cap;
	}
	err = idset_intern(&b->tariffs, hash_bytes(&t, sizeof(t)), idp,
			   tariff_eq, &t, b);
	if (err)
		return err;
	if (*idp == l->ntariffs)
		memcpy(&l->tariffs[l->ntariffs++], &t, sizeof(t));
	return 0;
}

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

/* ---- build: trie -------------------------------------------------------- */

struct tstate {
	struct builder *b;
	uint32_t *doffs;
	size_t docap;
};

/* Fill node @p idx from keys [lo, hi), all of which extend its path of
 * @p depth digits.  Keys ending here sort first: they are its entries. */
static int trie_fill(struct tstate *ts, size_t idx, size_t lo, size_t hi,
		     unsigned depth)
{
	struct builder *b = ts->b;
	struct dp_lcr *l = b->l;
	struct node *nd = &l->nodes[idx];
	size_t i = lo, first;
	unsigned nkids = 0;
	int err;

	nd->ent = (uint32_t)l->nents;
	for (; i < hi && key_len(&b->keys[i]) == depth; i++) {
		const struct skey *k = &b->keys[i];
		const struct dp_rate *r = &b->rows[k->row];
		struct ent *e = &l->ents[l->nents++];

		e->from = r->from;
		e->until = r->until ? r->until : INT64_MAX;
		err = tariff_intern(b, r, k->carrier, &e->tariff);
		if (!err)
			err = desc_intern(b, r->desc, &ts->doffs, &ts->docap,
					  &e->desc);
		if (err)
			return err;
	}
	/* The overlap check already capped rows per prefix at 65535. */
	l->nodes[idx].nent = (uint16_t)(l->nents - l->nodes[idx].ent);
	for (size_t j = i; j < hi; j++)
		if (j == i || key_digit(&b->keys[j], depth) !=
				      key_digit(&b->keys[j - 1], depth))
			nkids++;
	if (!nkids)
		return 0;
	first = l->nnodes;
	l->nnodes += nkids;
	l->nodes[idx].child = (uint32_t)first;
	while (i < hi) {
		unsigned d = key_digit(&b->keys[i], depth) - 1;
		size_t j = i + 1;

		while (j < hi && key_digit(&b->keys[j], depth) - 1 == d)
			j++;
		l->nodes[idx].map |= (uint16_t)(1u << d);
		memset(&l->nodes[first], 0, sizeof(l->nodes[first]));
		err = trie_fill(ts, first++, i, j, depth + 1);
		if (err)
			return err;
		i = j;
	}
	return 0;
}

static int same_prefix(const struct skey *a, const struct skey *b)
{
	return a->hi == b->hi && a->lo == b->lo;
}

/* Refuse overlapping dates of one carrier and prefix; count trie nodes. */
static int keys_check(struct builder *b, size_t n, size_t *nnodes)
{
	size_t run = 0;

	*nnodes = 1;
	for (size_t i = 0; i < n; i++) {
		const struct skey *k = &b->keys[i], *p = i ? k - 1 : NULL;
		unsigned len = key_len(k), lcp = 0;

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
		while (p && lcp < len && key_digit(p, lcp) == key_digit(k, lcp))
			lcp++;
		*nnodes += len - lcp;
	}
	return 0;
}

static int build(struct builder *b, size_t n)
{
	struct dp_lcr *l = b->l;
	struct tstate ts = {b, NULL, 0};
	size_t nnodes;
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
	err = keys_check(b, n, &nnodes);
	if (err)
		return err;
	if (nnodes > UINT32_MAX)
		return ENOMEM;
	l->nodes = malloc(nnodes * sizeof(*l->nodes));
	l->ents = malloc((n ? n : 1) * sizeof(*l->ents));
	b->pcap = 4096;
	l->pool = malloc(b->pcap);
	if (!l->nodes || !l->ents || !l->pool)
		return ENOMEM;
	l->pool[0] = '\0';
	l->poolsize = 1;
	memset(&l->nodes[0], 0, sizeof(l->nodes[0]));
	l->nnodes = 1;
	err = trie_fill(&ts, 0, 0, n, 0);
	free(ts.doffs);
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
	idset_free(&b.tariffs);
	idset_free(&b.descs);
	idset_free(&b.carriers);
	if (rc) {
		if (rc == ENOMEM && err && errsize)
			snprintf(err, errsize, "out of memory");
		obj_deref(b.l);
		return rc;
	}
	b.l->nents = n;
	*out = b.l;
	return 0;
}

/* ---- lookup ---------------------------------------------------------------- */

struct cand {
	uint32_t ent;
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
	name = l->carriers[l->tariffs[l->ents[c->ent].tariff].carrier];
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
	const struct tariff *x = &l->tariffs[l->ents[a->ent].tariff];
	const struct tariff *y = &l->tariffs[l->ents[b->ent].tariff];
	int ax, bx;

	if (x->rate != y->rate)
		return x->rate < y->rate;
	if (x->conn_fee != y->conn_fee)
		return x->conn_fee < y->conn_fee;
	ax = asr_of(l, a, asr);
	bx = asr_of(l, b, asr);
	if (ax != bx)
		return ax > bx;
	return x->carrier < y->carrier;
}

static void choice_fill(const struct dp_lcr *l, const struct cand *c,
			const char *number, struct dp_lcr_choice *out)
{
	const struct ent *e = &l->ents[c->ent];
	const struct tariff *t = &l->tariffs[e->tariff];
	struct dp_rate *r = &out->rate;

	memcpy(r->prefix, number, c->len);
	r->prefix[c->len] = '\0';
	memcpy(r->carrier, l->carriers[t->carrier], sizeof(r->carrier));
	r->rate = t->rate;
	r->conn_fee = t->conn_fee;
	r->first_incr = t->first_incr;
	r->next_incr = t->next_incr;
	r->from = e->from;
	r->until = e->until == INT64_MAX ? 0 : e->until;
	tg_strlcpy(r->desc, l->pool + e->desc, sizeof(r->desc));
}

size_t dp_lcr_lookup(const struct dp_lcr *l, const char *number, int64_t t,
		     const struct dp_lcr_asr *asr, struct dp_lcr_choice *out,
		     size_t max)
{
	uint32_t path[DP_RATE_PREFIX_MAX + 1];
	uint64_t seen[DP_LCR_MAX_CARRIERS / 64];
	struct cand cand[DP_LCR_MAX_CARRIERS];
	size_t ncand = 0, n;
	unsigned depth = 0;

	if (!l || !number || !*number)
		return 0;
	/* Refuse junk anywhere, not only within the deepest prefix: a
	 * number with a bad tail must not be half-routed. */
	if (strspn(number, "0123456789") != strlen(number))
		return 0;
	path[0] = 0;
	for (const char *p = number; *p && depth < DP_RATE_PREFIX_MAX; p++) {
		const struct node *nd = &l->nodes[path[depth]];
		unsigned bit = 1u << (*p - '0');

		if (!(nd->map & bit))
			break;
		path[++depth] = nd->child + (uint32_t)__builtin_popcount(
						    nd->map & (bit - 1));
	}
	memset(seen, 0, sizeof(seen));
	/* Deepest first, so each carrier's first effective hit is its
	 * longest prefix; entries are grouped by carrier, then date. */
	for (unsigned d = depth + 1; d-- > 0;) {
		const struct node *nd = &l->nodes[path[d]];

		for (uint32_t i = nd->ent; i < nd->ent + nd->nent; i++) {
			const struct ent *e = &l->ents[i];
			unsigned c = l->tariffs[e->tariff].carrier;

			if (seen[c / 64] & (UINT64_C(1) << (c % 64)) ||
			    t < e->from || t >= e->until)
				continue;
			seen[c / 64] |= UINT64_C(1) << (c % 64);
			cand[ncand++] = (struct cand){i, (uint8_t)d, -1};
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
	return l ? l->nents : 0;
}

size_t dp_lcr_memory(const struct dp_lcr *l)
{
	if (!l)
		return 0;
	return sizeof(*l) + l->nnodes * sizeof(*l->nodes) +
	       l->nents * sizeof(*l->ents) +
	       l->ntariffs * sizeof(*l->tariffs) + l->poolsize +
	       l->ncarriers * sizeof(*l->carriers);
}
