/* Event loops: see loop.h. tnd_loop_call() attaches a one-shot GSource at
 * default priority to the target context: g_source_attach is thread-safe,
 * wakes the context, and same-priority sources dispatch in attach order. Not
 * g_main_context_invoke_full, which runs the job at once when the caller
 * owns the context. */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "gateway/base/loop.h"
#include "gateway/base/obj.h"
#include "gateway/base/poll.h"

struct tnd_loop {
	GMainContext *ctx;   /* owned ref */
	GMainLoop *main;     /* owned */
	GThread *thread;     /* owned: a worker's thread, NULL for the signalling loop */
	struct tnd_poller *poller;   /* owned */
	char name[32];
};

struct loop_job {
	tnd_loop_call_h *fn;
	void *obj;           /* ref */
};

int tnd_loop_alloc_n(struct tnd_loop **lp, const char *name, int own_context, unsigned pkts)
{
	struct tnd_loop *l;
	int err;

	if (!lp || !name || pkts < 1 || pkts > 65536)
		return EINVAL;
	l = calloc(1, sizeof(*l));
	if (!l)
		return ENOMEM;
	l->ctx = own_context ? g_main_context_new() : g_main_context_ref(g_main_context_default());
	l->main = g_main_loop_new(l->ctx, FALSE);
	err = tnd_poller_alloc_n(&l->poller, l->ctx, pkts);
	if (err) {
		g_main_loop_unref(l->main);
		g_main_context_unref(l->ctx);
		free(l);
		return err;
	}
	snprintf(l->name, sizeof(l->name), "%s", name);
	*lp = l;
	return 0;
}

int tnd_loop_alloc(struct tnd_loop **lp, const char *name, int own_context)
{
	return tnd_loop_alloc_n(lp, name, own_context, TND_POLL_PKTS_DEFAULT);
}

void tnd_loop_free(struct tnd_loop *l)
{
	if (!l)
		return;
	tnd_loop_thread_stop(l);
	tnd_poller_free(l->poller);
	g_main_loop_unref(l->main);
	g_main_context_unref(l->ctx);
	free(l);
}

GMainContext *tnd_loop_context(const struct tnd_loop *l)
{
	return l->ctx;
}

struct tnd_poller *tnd_loop_poller(const struct tnd_loop *l)
{
	return l->poller;
}

GMainLoop *tnd_loop_gmain(const struct tnd_loop *l)
{
	return l->main;
}

const char *tnd_loop_name(const struct tnd_loop *l)
{
	return l->name;
}

void tnd_loop_run(struct tnd_loop *l)
{
	g_main_loop_run(l->main);
}

void tnd_loop_quit(struct tnd_loop *l)
{
	g_main_loop_quit(l->main);
}

static void queue(struct tnd_loop *l, GSourceFunc fn, gpointer data, GDestroyNotify done)
{
	GSource *s = g_idle_source_new();

	g_source_set_priority(s, G_PRIORITY_DEFAULT);
	g_source_set_callback(s, fn, data, done);
	g_source_attach(s, l->ctx);
	g_source_unref(s);
}

static gboolean run_job(gpointer data)
{
	struct loop_job *j = data;

	j->fn(j->obj);
	return G_SOURCE_REMOVE;
}

static void free_job(gpointer data)
{
	struct loop_job *j = data;

	tnd_obj_put(j->obj);
	free(j);
}

int tnd_loop_call(struct tnd_loop *l, tnd_loop_call_h *fn, void *obj)
{
	struct loop_job *j;

	if (!l || !fn)
		return EINVAL;
	j = malloc(sizeof(*j));
	if (!j)
		return ENOMEM;
	j->fn = fn;
	j->obj = tnd_obj_get(obj);
	queue(l, run_job, j, free_job);
	return 0;
}

static gpointer thread_main(gpointer data)
{
	struct tnd_loop *l = data;

	g_main_context_push_thread_default(l->ctx);
	g_main_loop_run(l->main);
	g_main_context_pop_thread_default(l->ctx);
	return NULL;
}

int tnd_loop_thread_start(struct tnd_loop *l)
{
	if (!l || l->thread || l->ctx == g_main_context_default())
		return EINVAL;
	l->thread = g_thread_try_new(l->name, thread_main, l, NULL);
	return l->thread ? 0 : EAGAIN;
}

static gboolean quit_cb(gpointer data)
{
	g_main_loop_quit(data);
	return G_SOURCE_REMOVE;
}

void tnd_loop_thread_stop(struct tnd_loop *l)
{
	if (!l || !l->thread)
		return;
	/* queued, so work already on the loop runs first */
	queue(l, quit_cb, l->main, NULL);
	g_thread_join(l->thread);
	l->thread = NULL;
}

int tnd_loop_is_current(const struct tnd_loop *l)
{
	return g_main_context_is_owner(l->ctx);
}
