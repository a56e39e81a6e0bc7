/* The media worker pool: a fixed set of threads, each running its own GLib
 * main context (style guide section 1: no thread per call, no thread per
 * user). A call's bridge is pinned to one worker for life, chosen as the one
 * carrying the fewest bridges when the call starts. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "gateway/base/log.h"
#include "gateway/media/media.h"
#include "gateway/media/media_int.h"

#define POOL_MAX 64
#define TRIM_SECONDS 2

struct tnd_media_pool {
	unsigned n;
	struct tnd_loop *loops[POOL_MAX];   /* owned, each on its own thread */
	guint trim_timer;                   /* on the signalling context */
	unsigned long seen_changes;
	int trims_left;
};

/* Bridges made or freed since start */
static atomic_ulong load_changes;

/* A call's set-up needs several times the memory the call keeps: libnice's
 * agent and OpenSSL's handshake go once the pc owns its socket and has heard
 * SRTP (webrtc/direct.c, pc.c). glibc keeps what they leave between the
 * calls' longer-lived blocks; after a wave of set-ups, hand those pages back
 * (malloc_trim returns free pages inside the heap, not only at its top).
 * Twice after the last change, since the hand-overs lag the set-ups.
 * Locks each arena briefly; the packet path allocates nothing, so it never
 * waits on that. */
static gboolean trim_tick(gpointer data)
{
	struct tnd_media_pool *p = data;
	unsigned long c = atomic_load(&load_changes);

	if (c != p->seen_changes) {
		p->seen_changes = c;
		p->trims_left = 2;
	}
	if (p->trims_left > 0) {
		p->trims_left--;
#ifdef __GLIBC__
		malloc_trim(0);
#endif
	}
	return G_SOURCE_CONTINUE;
}

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
	p->trim_timer = g_timeout_add_seconds(TRIM_SECONDS, trim_tick, p);
	TND_LOG_INFO(TND_LOG_MEDIA, "%u media worker thread(s)", n);
	*pp = p;
	return 0;
}

void tnd_media_pool_free(struct tnd_media_pool *p)
{
	if (!p)
		return;
	if (p->trim_timer)
		g_source_remove(p->trim_timer);
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
	atomic_fetch_add(&load_changes, 1);
}
