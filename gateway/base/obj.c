/* Reference-counted objects: see obj.h. The counters are C11 atomics because
 * an object may be released on a worker other than the one that made it. */
#include <stdatomic.h>
#include <stdlib.h>

#include "gateway/base/obj.h"

static atomic_long live;
static atomic_long fail_countdown;

void tnd_obj_fail_after(long n)
{
	atomic_store(&fail_countdown, n);
}

void *tnd_obj_zalloc(size_t size, tnd_obj_destroy_h *destroy)
{
	struct tnd_obj *h;

	if (size < sizeof(struct tnd_obj))
		return NULL;
	if (atomic_load(&fail_countdown) > 0 && atomic_fetch_sub(&fail_countdown, 1) == 1)
		return NULL;
	h = calloc(1, size);
	if (!h)
		return NULL;
	atomic_init(&h->refs, 1);
	h->destroy = destroy;
	atomic_fetch_add(&live, 1);
	return h;
}

void *tnd_obj_get(void *obj)
{
	struct tnd_obj *h = obj;

	if (h)
		atomic_fetch_add_explicit(&h->refs, 1, memory_order_relaxed);
	return obj;
}

void *tnd_obj_put(void *obj)
{
	struct tnd_obj *h = obj;

	if (!h)
		return NULL;
	if (atomic_fetch_sub_explicit(&h->refs, 1, memory_order_acq_rel) != 1)
		return NULL;
	if (h->destroy)
		h->destroy(obj);
	atomic_fetch_sub(&live, 1);
	free(h);
	return NULL;
}

long tnd_obj_live(void)
{
	return atomic_load(&live);
}
