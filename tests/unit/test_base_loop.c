/* gateway/base unit tests: tnd_loop_call always queues (review L5), and the
 * worker loops' GLib poll function (one epoll_wait per pass) still serves
 * GLib's sources beside epoll registrations, including the hazards of
 * mirroring GLib's descriptors into epoll: a number closed and reused
 * between passes, a descriptor epoll refuses, one socket watched by both. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>

#include "gateway/base/loop.h"
#include "gateway/base/obj.h"
#include "gateway/base/poll.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_base.h"

struct job {
	struct tnd_obj obj;
	int runs;
	int order[4];
	int n;
	GMutex lock;
	GCond cond;
};

static void job_destroy(void *data)
{
	struct job *j = data;

	g_mutex_clear(&j->lock);
	g_cond_clear(&j->cond);
}

static struct job *job_new(void)
{
	struct job *j = tnd_obj_zalloc(sizeof(*j), job_destroy);

	if (j) {
		g_mutex_init(&j->lock);
		g_cond_init(&j->cond);
	}
	return j;
}

static void job_first(void *obj)
{
	struct job *j = obj;

	g_mutex_lock(&j->lock);
	j->order[j->n++] = 1;
	j->runs++;
	g_cond_signal(&j->cond);
	g_mutex_unlock(&j->lock);
}

static void job_second(void *obj)
{
	struct job *j = obj;

	j->order[j->n++] = 2;
	j->runs++;
}

/* The caller owns the context (as a handler on the loop's thread does):
 * GLib's invoke ran the job inside tnd_loop_call; now it waits its turn. */
static int call_queues(int own)
{
	struct tnd_loop *l;
	struct job *j = job_new();
	GMainContext *ctx;

	TEST_ASSERT(j);
	TEST_ASSERT(tnd_loop_alloc(&l, "call", own) == 0);
	ctx = tnd_loop_context(l);
	TEST_ASSERT(g_main_context_acquire(ctx));
	if (!own)
		g_main_context_push_thread_default(ctx);
	TEST_ASSERT(tnd_loop_is_current(l));
	TEST_ASSERT(tnd_loop_call(l, job_first, j) == 0);
	TEST_ASSERT(tnd_loop_call(l, job_second, j) == 0);
	TEST_ASSERT(j->runs == 0);                /* not inside the call */
	for (int i = 0; i < 3; i++)
		g_main_context_iteration(ctx, FALSE);
	TEST_ASSERT(j->runs == 2 && j->order[0] == 1 && j->order[1] == 2);
	if (!own)
		g_main_context_pop_thread_default(ctx);
	g_main_context_release(ctx);
	tnd_obj_put(j);                           /* the queue's refs are gone */
	TEST_ASSERT(tnd_loop_call(NULL, job_first, NULL) == EINVAL);
	TEST_ASSERT(tnd_loop_call(l, NULL, NULL) == EINVAL);
	tnd_loop_free(l);
	return 0;
}

int test_loop_call_queues_on_own_thread(void)
{
	return call_queues(1);
}

int test_loop_call_default_context(void)
{
	return call_queues(0);
}

int test_pollfunc_installed_on_workers_only(void)
{
	struct tnd_loop *w, *s;

	TEST_ASSERT(tnd_loop_alloc(&w, "worker", 1) == 0);
	TEST_ASSERT(tnd_loop_alloc(&s, "signal", 0) == 0);
	TEST_ASSERT(g_main_context_get_poll_func(tnd_loop_context(w)) != g_poll);
	TEST_ASSERT(g_main_context_get_poll_func(tnd_loop_context(s)) == g_poll);
	tnd_loop_free(s);
	tnd_loop_free(w);
	/* GLib's own again once the poller is gone: nothing dangles */
	return 0;
}

struct fd_probe {
	struct tnd_poll_reg reg;     /* first */
	int fds[2];
	int calls;
	guint src;                   /* GLib unix fd source, or 0 */
};

static void on_reg(struct tnd_poll_reg *reg, uint32_t events)
{
	struct fd_probe *fp = (struct fd_probe *)reg;
	char b[64];

	(void)events;
	fp->calls++;
	while (read(fp->fds[0], b, sizeof(b)) > 0)
		;
}

static gboolean on_unix_fd(gint fd, GIOCondition cond, gpointer data)
{
	struct fd_probe *fp = data;
	char b[64];

	(void)cond;
	fp->calls++;
	while (read(fd, b, sizeof(b)) > 0)
		;
	return G_SOURCE_CONTINUE;
}

static gboolean on_channel(GIOChannel *ch, GIOCondition cond, gpointer data)
{
	struct fd_probe *fp = data;
	char b[64];

	(void)cond;
	fp->calls++;
	while (read(g_io_channel_unix_get_fd(ch), b, sizeof(b)) > 0)
		;
	return G_SOURCE_CONTINUE;
}

static int pair(struct fd_probe *fp)
{
	memset(fp, 0, sizeof(*fp));
	fp->reg.fd = -1;
	return socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fp->fds);
}

static guint add_unix_fd(GMainContext *ctx, struct fd_probe *fp, int fd)
{
	GSource *s = g_unix_fd_source_new(fd, G_IO_IN);
	guint id;

	g_source_set_callback(s, (GSourceFunc)(void (*)(void))on_unix_fd, fp, NULL);
	id = g_source_attach(s, ctx);
	g_source_unref(s);
	return id;
}

static void unpair(struct fd_probe *fp)
{
	close(fp->fds[0]);
	close(fp->fds[1]);
}

static gboolean set_flag(gpointer data)
{
	*(int *)data = 1;
	return G_SOURCE_REMOVE;
}

static void drop_source(GMainContext *ctx, guint id)
{
	g_source_destroy(g_main_context_find_source_by_id(ctx, id));
}

/* One blocking iteration serves a GLib unix fd source, a GIOChannel watch
 * and an epoll registration; a g_timeout ends a wait; no fallback to poll */
int test_pollfunc_serves_glib_and_epoll(void)
{
	struct tnd_loop *l;
	struct tnd_poller *p;
	GMainContext *ctx;
	struct fd_probe g1, g2, e;
	struct tnd_poller_stats st;
	GIOChannel *ch;
	GSource *s;
	guint watch;
	int fired = 0;

	TEST_ASSERT(tnd_loop_alloc(&l, "pollfunc", 1) == 0);
	ctx = tnd_loop_context(l);
	p = tnd_loop_poller(l);
	TEST_ASSERT(pair(&g1) == 0 && pair(&g2) == 0 && pair(&e) == 0);
	g1.src = add_unix_fd(ctx, &g1, g1.fds[0]);
	ch = g_io_channel_unix_new(g2.fds[0]);
	s = g_io_create_watch(ch, G_IO_IN);
	g_source_set_callback(s, (GSourceFunc)(void (*)(void))on_channel, &g2, NULL);
	watch = g_source_attach(s, ctx);
	g_source_unref(s);
	TEST_ASSERT(tnd_poller_add(p, &e.reg, e.fds[0], on_reg) == 0);
	g_main_context_iteration(ctx, FALSE);     /* the sources' first pass */
	TEST_ASSERT(write(g1.fds[1], "a", 1) == 1 && write(g2.fds[1], "b", 1) == 1 &&
		    write(e.fds[1], "c", 1) == 1);
	g_main_context_iteration(ctx, TRUE);
	TEST_ASSERT(g1.calls == 1 && g2.calls == 1 && e.calls == 1);
	/* nothing ready: a g_timeout ends the blocking wait */
	s = g_timeout_source_new(20);
	g_source_set_callback(s, set_flag, &fired, NULL);
	g_source_attach(s, ctx);
	g_source_unref(s);
	TEST_ASSERT(tnd_test_iterate_until(ctx, &fired, 2000));
	TEST_ASSERT(g1.calls == 1 && g2.calls == 1 && e.calls == 1);
	tnd_poller_stats(p, &st);
	TEST_ASSERT(st.fallbacks == 0 && st.events == 1 && st.wakeups == 1);
	tnd_poller_del(p, &e.reg);
	drop_source(ctx, g1.src);
	drop_source(ctx, watch);
	g_io_channel_unref(ch);
	unpair(&g1);
	unpair(&g2);
	unpair(&e);
	tnd_loop_free(l);
	return 0;
}

/* A worker blocked in epoll_wait on its thread hears a tnd_loop_call from
 * another: the context's wakeup is in the epoll set. */
int test_pollfunc_wakeup_from_other_thread(void)
{
	struct tnd_loop *l;
	struct job *j = job_new();
	gint64 end;

	TEST_ASSERT(j);
	TEST_ASSERT(tnd_loop_alloc(&l, "wakeup", 1) == 0);
	TEST_ASSERT(tnd_loop_thread_start(l) == 0);
	/* most likely asleep by now; either way the call must arrive */
	g_usleep(50 * 1000);
	TEST_ASSERT(tnd_loop_call(l, job_first, j) == 0);
	end = g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND;
	g_mutex_lock(&j->lock);
	while (!j->runs && g_cond_wait_until(&j->cond, &j->lock, end))
		;
	g_mutex_unlock(&j->lock);
	TEST_ASSERT(j->runs == 1);
	tnd_loop_thread_stop(l);
	tnd_loop_free(l);
	tnd_obj_put(j);
	return 0;
}

/* GLib polls fd N; N is closed (epoll forgets it silently) and N comes back
 * as another socket that GLib polls for the same events. Without re-arming
 * each pass the new socket would never be heard. */
int test_pollfunc_fd_number_reused(void)
{
	struct tnd_loop *l;
	GMainContext *ctx;
	struct fd_probe a, b;
	int num;

	TEST_ASSERT(tnd_loop_alloc(&l, "reuse", 1) == 0);
	ctx = tnd_loop_context(l);
	TEST_ASSERT(pair(&a) == 0 && pair(&b) == 0);
	num = a.fds[0];
	a.src = add_unix_fd(ctx, &a, num);
	TEST_ASSERT(write(a.fds[1], "a", 1) == 1);
	TEST_ASSERT(tnd_test_iterate_until(ctx, &a.calls, 2000));   /* mirrored */
	drop_source(ctx, a.src);
	close(num);
	TEST_ASSERT(dup2(b.fds[0], num) == num);   /* N is now b's socket */
	close(b.fds[0]);
	b.fds[0] = num;
	b.src = add_unix_fd(ctx, &b, num);
	TEST_ASSERT(write(b.fds[1], "b", 1) == 1);
	TEST_ASSERT(tnd_test_iterate_until(ctx, &b.calls, 2000));
	TEST_ASSERT(a.calls == 1);
	drop_source(ctx, b.src);
	close(a.fds[1]);
	unpair(&b);
	tnd_loop_free(l);
	return 0;
}

static gboolean on_file(gint fd, GIOCondition cond, gpointer data)
{
	(void)fd;
	(void)cond;
	(*(int *)data)++;
	return G_SOURCE_REMOVE;
}

/* epoll refuses a regular file: that pass polls GLib's set with poll(2)
 * and still serves the epoll registrations, in the same iteration. */
int test_pollfunc_fallback_regular_file(void)
{
	struct tnd_loop *l;
	struct tnd_poller *p;
	GMainContext *ctx;
	struct fd_probe e;
	struct tnd_poller_stats st;
	GSource *s;
	char *path = NULL;
	int fd, calls = 0;

	TEST_ASSERT(tnd_loop_alloc(&l, "fallback", 1) == 0);
	ctx = tnd_loop_context(l);
	p = tnd_loop_poller(l);
	fd = g_file_open_tmp("tnd-test-XXXXXX", &path, NULL);
	TEST_ASSERT(fd >= 0);
	unlink(path);
	g_free(path);
	TEST_ASSERT(pair(&e) == 0);
	TEST_ASSERT(tnd_poller_add(p, &e.reg, e.fds[0], on_reg) == 0);
	TEST_ASSERT(write(e.fds[1], "c", 1) == 1);
	s = g_unix_fd_source_new(fd, G_IO_IN);
	g_source_set_callback(s, (GSourceFunc)(void (*)(void))on_file, &calls, NULL);
	g_source_attach(s, ctx);
	g_source_unref(s);
	g_main_context_iteration(ctx, TRUE);
	TEST_ASSERT(calls == 1 && e.calls == 1);
	tnd_poller_stats(p, &st);
	TEST_ASSERT(st.fallbacks >= 1);
	tnd_poller_del(p, &e.reg);
	unpair(&e);
	close(fd);
	tnd_loop_free(l);
	return 0;
}

static gboolean on_peek(gint fd, GIOCondition cond, gpointer data)
{
	(void)fd;
	(void)cond;
	((struct fd_probe *)data)->calls += 100;
	return G_SOURCE_REMOVE;
}

/* A socket still in a GLib source when a registration takes it (libnice's
 * hand-over): the registration wins the epoll slot, both are served, and
 * once GLib lets go the fast path is back. */
int test_pollfunc_handover_same_fd(void)
{
	struct tnd_loop *l;
	struct tnd_poller *p;
	GMainContext *ctx;
	struct fd_probe e;
	struct tnd_poller_stats st, st2;
	GSource *s;
	int calls0;

	TEST_ASSERT(tnd_loop_alloc(&l, "handover", 1) == 0);
	ctx = tnd_loop_context(l);
	p = tnd_loop_poller(l);
	TEST_ASSERT(pair(&e) == 0);
	s = g_unix_fd_source_new(e.fds[0], G_IO_IN);
	g_source_set_callback(s, (GSourceFunc)(void (*)(void))on_peek, &e, NULL);
	g_source_attach(s, ctx);
	g_source_unref(s);
	g_main_context_iteration(ctx, FALSE);     /* mirrored */
	TEST_ASSERT(tnd_poller_add(p, &e.reg, e.fds[0], on_reg) == 0);
	TEST_ASSERT(write(e.fds[1], "x", 1) == 1);
	g_main_context_iteration(ctx, TRUE);
	/* GLib's source (100) and the registration (1), one iteration */
	TEST_ASSERT(e.calls == 101);
	tnd_poller_stats(p, &st);
	TEST_ASSERT(st.fallbacks >= 1);
	calls0 = e.calls;
	TEST_ASSERT(write(e.fds[1], "y", 1) == 1);
	g_main_context_iteration(ctx, TRUE);
	TEST_ASSERT(e.calls == calls0 + 1);
	tnd_poller_stats(p, &st2);
	TEST_ASSERT(st2.fallbacks == st.fallbacks);
	tnd_poller_del(p, &e.reg);
	unpair(&e);
	tnd_loop_free(l);
	return 0;
}

/* Past the 64 trampolines a worker loop keeps GLib's poll, and its epoll
 * set, timers and deferred work still run */
int test_pollfunc_beyond_64_loops(void)
{
	struct tnd_loop *l[66] = { 0 };
	struct fd_probe e;
	int n, ok = 1;

	for (n = 0; n < 66; n++)
		if (tnd_loop_alloc_n(&l[n], "many", 1, 1))
			break;
	TEST_ASSERT(n == 66);
	TEST_ASSERT(g_main_context_get_poll_func(tnd_loop_context(l[0])) != g_poll);
	TEST_ASSERT(g_main_context_get_poll_func(tnd_loop_context(l[65])) == g_poll);
	TEST_ASSERT(pair(&e) == 0);
	TEST_ASSERT(tnd_poller_add(tnd_loop_poller(l[65]), &e.reg, e.fds[0], on_reg) == 0);
	TEST_ASSERT(write(e.fds[1], "x", 1) == 1);
	ok = tnd_test_iterate_until(tnd_loop_context(l[65]), &e.calls, 2000);
	tnd_poller_del(tnd_loop_poller(l[65]), &e.reg);
	unpair(&e);
	/* a freed slot is taken again */
	tnd_loop_free(l[3]);
	TEST_ASSERT(tnd_loop_alloc_n(&l[3], "again", 1, 1) == 0);
	TEST_ASSERT(g_main_context_get_poll_func(tnd_loop_context(l[3])) != g_poll);
	for (int i = 0; i < n; i++)
		tnd_loop_free(l[i]);
	TEST_ASSERT(ok);
	return 0;
}
