/* The media worker pool: a fixed set of threads, each running its own GLib
 * main context (style guide section 1: no thread per call, no thread per
 * user). A call's bridge is pinned to one worker for life, chosen as the one
 * carrying the fewest bridges when the call starts. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "gateway/base/log.h"
#include "gateway/media/media.h"
#include "gateway/media/media_int.h"

#define POOL_MAX 64

struct tnd_media_pool {
	unsigned n;
	struct tnd_loop *loops[POOL_MAX];   /* owned, each on its own thread */
};

/* Live bridges per worker, indexed by the worker's position in its pool;
 * touched only when a call starts or ends. */
static atomic_long worker_load[POOL_MAX];

int tnd_media_pool_alloc(struct tnd_media_pool **pp, unsigned n)
{
	struct tnd_media_pool *p;
	int err = 0;

	if (!pp || n < 1 || n > POOL_MAX)
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	for (unsigned i = 0; i < n && !err; i++) {
		char name[16];

		snprintf(name, sizeof(name), "media%u", i);
		err = tnd_loop_alloc(&p->loops[i], name, 1);
		if (!err)
			err = tnd_loop_thread_start(p->loops[i]);
		if (!err)
			p->n++;
		else
			tnd_loop_free(p->loops[i]);
	}
	if (err) {
		tnd_media_pool_free(p);
		return err;
	}
	TND_LOG_INFO(TND_LOG_MEDIA, "%u media worker thread(s)", n);
	*pp = p;
	return 0;
}

void tnd_media_pool_free(struct tnd_media_pool *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->n; i++)
		tnd_loop_free(p->loops[i]);   /* joins the thread after queued work */
	free(p);
}

struct tnd_loop *tnd_media_pool_pick(struct tnd_media_pool *p)
{
	unsigned best = 0;

	for (unsigned i = 1; i < p->n; i++)
		if (atomic_load(&worker_load[i]) < atomic_load(&worker_load[best]))
			best = i;
	return p->loops[best];
}

/* The pool slot of a worker, so bridges can count themselves. */
static int slot_of(const struct tnd_loop *worker)
{
	const char *name = tnd_loop_name(worker);
	int i;

	return sscanf(name, "media%d", &i) == 1 && i >= 0 && i < POOL_MAX ? i : -1;
}

void tnd_media_worker_load(const struct tnd_loop *worker, int delta)
{
	int i = slot_of(worker);

	if (i >= 0)
		atomic_fetch_add(&worker_load[i], delta);
}
