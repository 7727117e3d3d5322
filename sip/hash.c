/* sip/hash.c  String-keyed hash with intrusive nodes (legs, transactions) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sip/sip_int.h"

/* FNV-1a: keys are Call-IDs and branches, short and already random. */
static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 16777619u;
	}
	return h;
}

int sip_hash_init(struct sip_hash *h, size_t nb)
{
	size_t n = 16;

	while (n < nb)
		n <<= 1;
	h->b = calloc(n, sizeof(*h->b));
	if (!h->b)
		return ENOMEM;
	h->nb = n;
	h->n = 0;
	return 0;
}

void sip_hash_close(struct sip_hash *h)
{
	free(h->b);
	h->b = NULL;
	h->nb = 0;
	h->n = 0;
}

/* Grow at load 2; if memory is short we keep longer chains instead. */
static void grow(struct sip_hash *h)
{
	struct sip_hnode **nb;
	size_t i, n = h->nb * 4;

	nb = calloc(n, sizeof(*nb));
	if (!nb)
		return;
	for (i = 0; i < h->nb; i++) {
		struct sip_hnode *hn = h->b[i], *next;

		for (; hn; hn = next) {
			next = hn->next;
			hn->next = nb[hn->hv & (n - 1)];
			nb[hn->hv & (n - 1)] = hn;
		}
	}
	free(h->b);
	h->b = nb;
	h->nb = n;
}

void sip_hash_add(struct sip_hash *h, struct sip_hnode *hn, const char *key,
		  void *obj)
{
	struct sip_hnode **slot;

	if (h->n >= h->nb * 2)
		grow(h);
	hn->key = key;
	hn->obj = obj;
	hn->hv = hash_str(key);
	slot = &h->b[hn->hv & (h->nb - 1)];
	hn->next = *slot;
	*slot = hn;
	h->n++;
}

void sip_hash_del(struct sip_hash *h, struct sip_hnode *hn)
{
	struct sip_hnode **pp;

	if (!h->b || !hn->key)
		return;
	for (pp = &h->b[hn->hv & (h->nb - 1)]; *pp; pp = &(*pp)->next) {
		if (*pp == hn) {
			*pp = hn->next;
			hn->next = NULL;
			hn->key = NULL;
			h->n--;
			return;
		}
	}
}

static struct sip_hnode *match(struct sip_hnode *hn, uint32_t hv,
			       const char *key)
{
	for (; hn; hn = hn->next)
		if (hn->hv == hv && !strcmp(hn->key, key))
			return hn;
	return NULL;
}

struct sip_hnode *sip_hash_lookup(const struct sip_hash *h, const char *key)
{
	uint32_t hv;

	if (!h->b || !key)
		return NULL;
	hv = hash_str(key);
	return match(h->b[hv & (h->nb - 1)], hv, key);
}

struct sip_hnode *sip_hash_next(const struct sip_hnode *hn)
{
	return match(hn->next, hn->hv, hn->key);
}
