/* util/obj.c  Reference-counted allocations */
#include <assert.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "util.h"

struct obj_hdr {
	atomic_uint nrefs;
	obj_destroy_h *dh;
	alignas(max_align_t) unsigned char data[];
};

static atomic_long live;

static struct obj_hdr *hdr(const void *obj)
{
	return (struct obj_hdr *)((const char *)obj -
				  offsetof(struct obj_hdr, data));
}

void *obj_zalloc(size_t size, obj_destroy_h *dh)
{
	struct obj_hdr *h = calloc(1, sizeof(*h) + size);

	if (!h)
		return NULL;
	atomic_init(&h->nrefs, 1);
	h->dh = dh;
	atomic_fetch_add(&live, 1);
	return h->data;
}

void *obj_ref(void *obj)
{
	if (obj)
		atomic_fetch_add(&hdr(obj)->nrefs, 1);
	return obj;
}

void *obj_deref(void *obj)
{
	struct obj_hdr *h;

	if (!obj)
		return NULL;
	h = hdr(obj);
	assert(atomic_load(&h->nrefs) > 0);
	if (atomic_fetch_sub(&h->nrefs, 1) != 1)
		return NULL;
	if (h->dh)
		h->dh(obj);
	atomic_fetch_sub(&live, 1);
	free(h);
	return NULL;
}

unsigned obj_nrefs(const void *obj)
{
	return obj ? atomic_load(&hdr(obj)->nrefs) : 0;
}

long obj_live_count(void)
{
	return atomic_load(&live);
}
