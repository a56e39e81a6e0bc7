/* The media worker pool: a fixed set of threads, each running its own GLib
 * main context (style guide section 1: no thread per call, no thread per
 * user). A call's bridge is pinned to one worker for life, chosen as the one
 * carrying the fewest bridges when the call starts. */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include "gateway/base/log.h"
#include "gateway/media/media.h"
#include "gateway/base/obj.h"
#include "gateway/base/poll.h"
#include "gateway/media/media_int.h"

#define POOL_MAX 64
#define TRIM_SECONDS 2
#define LOAD_TICKS 10        /* load measured every 10 ticks: once a second */

struct worker {
	struct tnd_loop *loop;              /* owned, on its own thread */
	struct tnd_poll_tick tick;          /* OWNER: the worker */
	unsigned ticks;
	int64_t cpu_ns, wall_ns;            /* at the last measurement */
};

struct tnd_media_pool {
	unsigned n;
	struct worker w[POOL_MAX];
	guint trim_timer;                   /* on the signalling context */
	unsigned long seen_changes;
	bool dirty;
	unsigned max_load;                  /* percent, 0: none */
};

/* Bridges made or freed since start */
static atomic_ulong load_changes;
/* Per worker slot: live bridges, and CPU load in percent. Written by the
 * worker (load) or on call start/end (bridges); read by pick. */
static atomic_long worker_bridges[POOL_MAX];
static atomic_uint worker_pct[POOL_MAX];
/* The loops by slot, so a bridge finds its worker's counters by pointer
 * (review L9: not by parsing the thread's name). Written before the
 * workers take calls, read-only after. */
static const struct tnd_loop *slot_loop[POOL_MAX];

static void *trim_main(void *data)
{
	(void)data;
#ifdef __GLIBC__
	malloc_trim(0);
#endif
	return NULL;
}

/* A call's set-up needs several times the memory the call keeps: libnice's
 * agent and OpenSSL's handshake go once the pc owns its socket and has heard
 * SRTP (webrtc/direct.c, pc.c). glibc keeps what they leave between the
 * calls' longer-lived blocks; once set-ups pause, hand those pages back.
 * Only when nothing changed for a whole period (never continuously under
 * churn), once per quiet period, and on a thread of its own: malloc_trim
 * walks every arena under its lock and must not stall SIP and the
 * WebSocket (review M7). */
static gboolean trim_tick(gpointer data)
{
	struct tnd_media_pool *p = data;
	unsigned long c = atomic_load(&load_changes);
	GThread *t;

	if (c != p->seen_changes) {
		p->seen_changes = c;
		p->dirty = true;
		return G_SOURCE_CONTINUE;
	}
	if (!p->dirty)
		return G_SOURCE_CONTINUE;
	p->dirty = false;
	t = g_thread_try_new("tnd-trim", trim_main, NULL, NULL);
	if (t)
		g_thread_unref(t);
	return G_SOURCE_CONTINUE;
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* On the worker: its thread's CPU time over wall time, once a second. The
 * loop blocks in epoll while idle, so this is the share of a core the
 * worker's packets, ICE and DTLS really took. */
static void load_tick(struct tnd_poll_tick *t, int64_t now_us)
{
	struct worker *w = (struct worker *)((char *)t - offsetof(struct worker, tick));
	int64_t cpu, wall, dw;

	(void)now_us;
	if (++w->ticks % LOAD_TICKS)
		return;
	cpu = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	wall = clock_ns(CLOCK_MONOTONIC);
	dw = wall - w->wall_ns;
	if (w->wall_ns && dw > 0)
		atomic_store(&worker_pct[tnd_media_worker_slot(w->loop)],
			     (unsigned)((cpu - w->cpu_ns) * 100 / dw));
	w->cpu_ns = cpu;
	w->wall_ns = wall;
}

struct load_start {
	struct tnd_obj obj;
	struct worker *w;
};

static void start_load(void *data)
{
	struct load_start *ls = data;

	tnd_poller_tick_add(tnd_loop_poller(ls->w->loop), &ls->w->tick, load_tick);
}

static void stop_load(void *data)
{
	struct load_start *ls = data;

	tnd_poller_tick_del(tnd_loop_poller(ls->w->loop), &ls->w->tick);
}

static void on_worker(struct worker *w, tnd_loop_call_h *fn)
{
	struct load_start *ls = tnd_obj_zalloc(sizeof(*ls), NULL);

	if (!ls)
		return;
	ls->w = w;
	tnd_loop_call(w->loop, fn, ls);
	tnd_obj_put(ls);
}

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
		err = tnd_loop_alloc(&p->w[i].loop, name, 1);
		if (err)
			break;
		slot_loop[i] = p->w[i].loop;
		atomic_store(&worker_pct[i], 0);
		err = tnd_loop_thread_start(p->w[i].loop);
		if (!err) {
			p->n++;
			on_worker(&p->w[i], start_load);
		} else {
			tnd_loop_free(p->w[i].loop);
			slot_loop[i] = NULL;
		}
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
	for (unsigned i = 0; i < p->n; i++) {
		on_worker(&p->w[i], stop_load);
		tnd_loop_free(p->w[i].loop);   /* joins the thread after queued work */
		slot_loop[i] = NULL;
	}
	free(p);
}

void tnd_media_pool_set_max_load(struct tnd_media_pool *p, unsigned max_load_pct)
{
	p->max_load = max_load_pct;
}

unsigned tnd_media_pool_load(const struct tnd_media_pool *p, unsigned i)
{
	return i < p->n ? atomic_load(&worker_pct[i]) : 0;
}

unsigned tnd_media_pool_size(const struct tnd_media_pool *p)
{
	return p ? p->n : 0;
}

long tnd_media_pool_bridges(const struct tnd_media_pool *p, unsigned i)
{
	return p && i < p->n ? atomic_load(&worker_bridges[i]) : 0;
}

struct tnd_loop *tnd_media_pool_pick(struct tnd_media_pool *p)
{
	int best = -1;

	for (unsigned i = 0; i < p->n; i++) {
		if (p->max_load && atomic_load(&worker_pct[i]) >= p->max_load)
			continue;
		if (best < 0 || atomic_load(&worker_bridges[i]) <
				atomic_load(&worker_bridges[best]))
			best = (int)i;
	}
	return best < 0 ? NULL : p->w[best].loop;
}

unsigned tnd_media_worker_slot(const struct tnd_loop *worker)
{
	for (unsigned i = 0; i < POOL_MAX; i++)
		if (slot_loop[i] == worker)
			return i;
	return 0;
}

void tnd_media_worker_load(const struct tnd_loop *worker, int delta)
{
	for (unsigned i = 0; i < POOL_MAX; i++)
		if (slot_loop[i] == worker)
			atomic_fetch_add(&worker_bridges[i], delta);
	atomic_fetch_add(&load_changes, 1);
}
