/* gateway/base unit tests: the packet pool (buf.h), the timer wheel and
 * deferred work (poll.h), log levels; the table and main. Timing tests
 * assert order and "not before due" only, never how late: the machine is
 * shared. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/base/buf.h"
#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/base/poll.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_base.h"

static gboolean set_flag(gpointer data)
{
	*(int *)data = 1;
	return G_SOURCE_REMOVE;
}

bool tnd_test_iterate_until(GMainContext *ctx, const int *flag, int ms)
{
	GSource *wd = g_timeout_source_new((guint)ms);
	int expired = 0;

	g_source_set_callback(wd, set_flag, &expired, NULL);
	g_source_attach(wd, ctx);
	while (!*flag && !expired)
		g_main_context_iteration(ctx, TRUE);
	g_source_destroy(wd);
	g_source_unref(wd);
	return *flag != 0;
}

/* ------------------------------------------------------------ pool */

static int test_pool_get_put(void)
{
	struct tnd_pktpool *pool = NULL;
	struct tnd_pktpool_stats st;
	struct tnd_pkt *pk[4], *again;

	TEST_ASSERT(tnd_pktpool_alloc(&pool, 0) == EINVAL && !pool);
	TEST_ASSERT(tnd_pktpool_alloc(&pool, 65537) == EINVAL && !pool);
	TEST_ASSERT(tnd_pktpool_alloc(NULL, 4) == EINVAL);
	TEST_ASSERT(tnd_pktpool_alloc(&pool, 4) == 0 && pool);
	for (int i = 0; i < 4; i++) {
		pk[i] = tnd_pkt_get(pool);
		TEST_ASSERT(pk[i]);
		TEST_ASSERT(pk[i]->data == pk[i]->buf + TND_PKT_HEADROOM && pk[i]->len == 0);
		TEST_ASSERT(tnd_pkt_cap(pk[i]) == TND_PKT_MAX + TND_PKT_TAILROOM);
		TEST_ASSERT(pk[i]->pool == pool);
		TEST_ASSERT(((uintptr_t)pk[i]->buf & 15) == 0);
		for (int j = 0; j < i; j++)
			TEST_ASSERT(pk[j] != pk[i]);
		/* the whole buffer is the holder's */
		memset(pk[i]->buf, 0xa5, sizeof(pk[i]->buf));
	}
	/* empty: NULL and counted, nothing allocated */
	TEST_ASSERT(tnd_pkt_get(pool) == NULL);
	TEST_ASSERT(tnd_pkt_get(pool) == NULL);
	tnd_pktpool_stats(pool, &st);
	TEST_ASSERT(st.size == 4 && st.out == 4 && st.out_max == 4);
	TEST_ASSERT(st.gets == 4 && st.exhausted == 2);
	tnd_pkt_put(pk[2]);
	tnd_pkt_put(NULL);
	again = tnd_pkt_get(pool);
	TEST_ASSERT(again == pk[2]);          /* the one just given back */
	TEST_ASSERT(again->data == again->buf + TND_PKT_HEADROOM && again->len == 0);
	for (int i = 0; i < 4; i++)
		tnd_pkt_put(pk[i]);
	tnd_pktpool_stats(pool, &st);
	TEST_ASSERT(st.out == 0 && st.out_max == 4 && st.gets == 5);
	tnd_pktpool_free(pool);
	tnd_pktpool_free(NULL);
	return 0;
}

/* Many get/put rounds through a small pool: every buffer comes back, the
 * pool never runs dry while fewer than its size are out. */
static int test_pool_no_leak(void)
{
	struct tnd_pktpool *pool;
	struct tnd_pktpool_stats st;
	struct tnd_pkt *held[16] = { 0 };
	unsigned seed = 1;

	TEST_ASSERT(tnd_pktpool_alloc(&pool, 16) == 0);
	for (int round = 0; round < 20000; round++) {
		unsigned k = (seed = seed * 1103515245 + 12345) >> 16 & 15;

		if (held[k]) {
			tnd_pkt_put(held[k]);
			held[k] = NULL;
		} else {
			held[k] = tnd_pkt_get(pool);
			TEST_ASSERT(held[k]);
			held[k]->len = k;
		}
	}
	for (int k = 0; k < 16; k++)
		tnd_pkt_put(held[k]);
	tnd_pktpool_stats(pool, &st);
	TEST_ASSERT(st.out == 0 && st.exhausted == 0 && st.out_max <= 16);
	/* all 16 still there */
	for (int k = 0; k < 16; k++)
		TEST_ASSERT((held[k] = tnd_pkt_get(pool)));
	TEST_ASSERT(!tnd_pkt_get(pool));
	for (int k = 0; k < 16; k++)
		tnd_pkt_put(held[k]);
	tnd_pktpool_free(pool);
	return 0;
}

static int test_pool_per_loop(void)
{
	struct tnd_loop *l;
	struct tnd_pktpool_stats st;
	struct tnd_pkt *pk;

	TEST_ASSERT(tnd_loop_alloc(&l, "pool", 1) == 0);
	TEST_ASSERT(tnd_poller_pool(tnd_loop_poller(l)));
	tnd_pktpool_stats(tnd_poller_pool(tnd_loop_poller(l)), &st);
	TEST_ASSERT(st.size == TND_POLL_PKTS_DEFAULT && st.out == 0);
	tnd_loop_free(l);
	TEST_ASSERT(tnd_loop_alloc_n(&l, "pool", 1, 0) == EINVAL);
	TEST_ASSERT(tnd_loop_alloc_n(&l, "pool", 1, 3) == 0);
	pk = tnd_pkt_get(tnd_poller_pool(tnd_loop_poller(l)));
	TEST_ASSERT(pk);
	tnd_pktpool_stats(tnd_poller_pool(tnd_loop_poller(l)), &st);
	TEST_ASSERT(st.size == 3 && st.out == 1);
	tnd_pkt_put(pk);
	tnd_loop_free(l);
	return 0;
}

/* ------------------------------------------------------------ timers */

struct tprobe {
	struct tnd_timer t;          /* first */
	struct tnd_poller *p;
	int id;
	int64_t due_us;              /* the earliest it may fire, by our clock */
	int64_t fired_us;            /* the clock when it fired */
	int fired;
	int restarts;                /* restart itself this often, 1 ms apart */
	int zero_restarts;           /* restart itself this often for 0 ms */
	struct tprobe *stop;         /* stopped by this one's handler */
	int *order, *norder;
};

static void on_tprobe(struct tnd_timer *t, int64_t now)
{
	struct tprobe *tp = (struct tprobe *)t;

	tp->fired_us = g_get_monotonic_time();
	tp->fired++;
	if (now < tp->due_us || tnd_timer_armed(t))
		tp->fired = -1000;   /* early, or still armed in its handler */
	if (tp->order)
		tp->order[(*tp->norder)++] = tp->id;
	if (tp->stop)
		tnd_timer_stop(tp->p, &tp->stop->t);
	if (tp->restarts > 0) {
		tp->restarts--;
		tp->due_us = now + 1000;
		tnd_timer_start(tp->p, t, 1, on_tprobe);
	} else if (tp->zero_restarts > 0) {
		tp->zero_restarts--;
		tnd_timer_start(tp->p, t, 0, on_tprobe);
	}
}

static void tstart(struct tprobe *tp, struct tnd_poller *p, int id, uint32_t ms)
{
	tp->p = p;
	tp->id = id;
	tp->due_us = g_get_monotonic_time() + (int64_t)ms * 1000;
	tnd_timer_start(p, &tp->t, ms, on_tprobe);
}

/* on a worker loop (our poll function) and on the default context (GLib's) */
static int timer_order(int own)
{
	struct tnd_loop *l;
	struct tnd_poller *p;
	struct tprobe tp[5] = { 0 };
	int order[8], n = 0, last = 0;
	static const uint32_t ms[5] = { 30, 10, 20, 0, 3 };

	TEST_ASSERT(tnd_loop_alloc(&l, "timers", own) == 0);
	p = tnd_loop_poller(l);
	for (int i = 0; i < 5; i++) {
		tp[i].order = order;
		tp[i].norder = &n;
		tstart(&tp[i], p, (int)ms[i], ms[i]);
		TEST_ASSERT(tnd_timer_armed(&tp[i].t));
	}
	TEST_ASSERT(tnd_test_iterate_until(tnd_loop_context(l), &tp[0].fired, 5000));
	TEST_ASSERT(n == 5);
	for (int i = 0; i < 5; i++) {
		TEST_ASSERT(tp[i].fired == 1);            /* once, not early */
		TEST_ASSERT(tp[i].fired_us >= tp[i].due_us);
		TEST_ASSERT(!tnd_timer_armed(&tp[i].t));
		TEST_ASSERT(order[i] >= last);
		last = order[i];
	}
	TEST_ASSERT(order[0] == 0 && order[1] == 3 && order[4] == 30);
	tnd_loop_free(l);
	return 0;
}

static int test_timer_order_worker(void)
{
	return timer_order(1);
}

static int test_timer_order_default_context(void)
{
	return timer_order(0);
}

static int test_timer_stop_and_restart_in_handlers(void)
{
	struct tnd_loop *l;
	struct tnd_poller *p;
	struct tprobe a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 }, e = { 0 };
	int64_t due;

	TEST_ASSERT(tnd_loop_alloc(&l, "timers", 1) == 0);
	p = tnd_loop_poller(l);
	/* a and b in the same millisecond slot, a first: a stops b */
	due = g_get_monotonic_time() + 5000;
	a.p = b.p = p;
	a.due_us = b.due_us = due;
	a.stop = &b;
	tnd_timer_start_at(p, &a.t, due, on_tprobe);
	tnd_timer_start_at(p, &b.t, due, on_tprobe);
	/* c, later, stops d, which is later still */
	tstart(&c, p, 1, 8);
	tstart(&d, p, 2, 12);
	c.stop = &d;
	/* e restarts itself five times, 1 ms apart */
	e.restarts = 5;
	tstart(&e, p, 3, 1);
	TEST_ASSERT(tnd_test_iterate_until(tnd_loop_context(l), &c.fired, 5000));
	while (e.restarts || tnd_timer_armed(&e.t))
		g_main_context_iteration(tnd_loop_context(l), TRUE);
	TEST_ASSERT(a.fired == 1 && b.fired == 0 && !tnd_timer_armed(&b.t));
	TEST_ASSERT(c.fired == 1 && d.fired == 0 && !tnd_timer_armed(&d.t));
	TEST_ASSERT(e.fired == 6);
	/* stopping a stopped timer is a no-op */
	tnd_timer_stop(p, &b.t);
	/* a restart of an armed timer moves it */
	tstart(&a, p, 4, 100000);
	a.stop = NULL;
	a.fired = 0;
	tstart(&a, p, 4, 2);
	TEST_ASSERT(tnd_test_iterate_until(tnd_loop_context(l), &a.fired, 5000) && a.fired == 1);
	tnd_loop_free(l);
	return 0;
}

/* 0 ms from its own handler: runs on the next pass, not again in this one */
static int test_timer_zero_restart_no_livelock(void)
{
	struct tnd_loop *l;
	struct tnd_poller *p;
	struct tprobe z = { 0 };

	TEST_ASSERT(tnd_loop_alloc(&l, "timers", 1) == 0);
	p = tnd_loop_poller(l);
	z.zero_restarts = 1000000;
	tstart(&z, p, 1, 0);
	for (int i = 1; i <= 3; i++) {
		g_main_context_iteration(tnd_loop_context(l), FALSE);
		TEST_ASSERT(z.fired == i);
	}
	tnd_timer_stop(p, &z.t);
	TEST_ASSERT(!tnd_timer_armed(&z.t));
	g_main_context_iteration(tnd_loop_context(l), FALSE);
	TEST_ASSERT(z.fired == 3);
	tnd_loop_free(l);
	return 0;
}

#define MANY 3000

/* Many timers over more than a turn of the wheel, a third stopped, the loop
 * stalled past them all: each live one fires once, in due order, never
 * early; the stopped ones never. */
static int test_timer_many(void)
{
	struct tnd_loop *l;
	struct tnd_poller *p;
	struct tprobe *tp = calloc(MANY, sizeof(*tp));
	int *order = calloc(MANY, sizeof(*order)), n = 0, live = 0, expired = 0;
	GSource *wd;
	unsigned seed = 7;
	struct tprobe far = { 0 };

	TEST_ASSERT(tp && order);
	TEST_ASSERT(tnd_loop_alloc(&l, "timers", 1) == 0);
	p = tnd_loop_poller(l);
	for (int i = 0; i < MANY; i++) {
		/* 1..1024: a 0 ms timer runs before all others of its pass */
		uint32_t ms = 1 + ((seed = seed * 1103515245 + 12345) >> 16 & 1023);

		tp[i].order = order;
		tp[i].norder = &n;
		tstart(&tp[i], p, i, ms);
	}
	for (int i = 0; i < MANY; i += 3)
		tnd_timer_stop(p, &tp[i].t);
	tstart(&far, p, -1, 60000);
	for (int i = 0; i < MANY; i++)
		live += tnd_timer_armed(&tp[i].t);
	/* half now, then a stall of more than one turn, then the rest */
	g_usleep(300 * 1000);
	g_main_context_iteration(tnd_loop_context(l), FALSE);
	g_usleep(900 * 1000);
	g_main_context_iteration(tnd_loop_context(l), FALSE);
	wd = g_timeout_source_new(5000);
	g_source_set_callback(wd, set_flag, &expired, NULL);
	g_source_attach(wd, tnd_loop_context(l));
	while (n < live && !expired)
		g_main_context_iteration(tnd_loop_context(l), TRUE);
	g_source_destroy(wd);
	g_source_unref(wd);
	TEST_ASSERT(n == live);
	for (int i = 0; i < MANY; i++) {
		TEST_ASSERT(tp[i].fired == (i % 3 ? 1 : 0));
		TEST_ASSERT(!tp[i].fired || tp[i].fired_us >= tp[i].due_us);
	}
	/* in order of due millisecond (the poller's own due time, kept) */
	for (int k = 1; k < n; k++)
		TEST_ASSERT((tp[order[k]].t.due_us + 999) / 1000 >=
			    (tp[order[k - 1]].t.due_us + 999) / 1000);
	TEST_ASSERT(tnd_timer_armed(&far.t) && !far.fired);
	tnd_timer_stop(p, &far.t);
	tnd_loop_free(l);
	free(tp);
	free(order);
	return 0;
}

/* The blocking wait ends for the timer: nothing else would wake it */
static int test_timer_bounds_the_wait(void)
{
	struct tnd_loop *l;
	struct tprobe t = { 0 };
	int64_t t0 = g_get_monotonic_time();

	TEST_ASSERT(tnd_loop_alloc(&l, "timers", 1) == 0);
	tstart(&t, tnd_loop_poller(l), 1, 50);
	/* the watchdog is 40 times the timer: only a sleep past the timer fails */
	TEST_ASSERT(tnd_test_iterate_until(tnd_loop_context(l), &t.fired, 2000));
	TEST_ASSERT(t.fired == 1 && t.fired_us >= t0 + 50000);
	tnd_loop_free(l);
	return 0;
}

/* ------------------------------------------------------------ deferred */

struct dprobe {
	struct tnd_defer d;          /* first */
	struct tnd_poller *p;
	int runs;
	int requeue;                 /* queue itself again from its handler */
	struct dprobe *cancel;       /* cancelled by this one's handler */
	struct dprobe *queue;        /* queued by this one's handler */
	int batch_seen;              /* packet handlers run when this ran */
	int *batch;
};

static void on_dprobe(struct tnd_defer *d)
{
	struct dprobe *dp = (struct dprobe *)d;

	dp->runs++;
	if (dp->batch)
		dp->batch_seen = *dp->batch;
	if (dp->cancel)
		tnd_defer_cancel(dp->p, &dp->cancel->d);
	if (dp->queue)
		tnd_defer_queue(dp->p, &dp->queue->d, on_dprobe);
	if (dp->requeue)
		tnd_defer_queue(dp->p, d, on_dprobe);
}

static int test_defer_queue_once_and_cancel(void)
{
	struct tnd_loop *l;
	struct tnd_poller *p;
	struct dprobe a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 }, e = { 0 }, f = { 0 };
	struct tnd_poller_stats st;

	TEST_ASSERT(tnd_loop_alloc(&l, "defer", 1) == 0);
	p = tnd_loop_poller(l);
	a.p = b.p = c.p = d.p = e.p = f.p = p;
	tnd_defer_queue(p, &a.d, on_dprobe);
	tnd_defer_queue(p, &b.d, on_dprobe);
	tnd_defer_queue(p, &a.d, on_dprobe);      /* already queued: once */
	tnd_defer_queue(p, &c.d, on_dprobe);
	tnd_defer_cancel(p, &c.d);                /* the tail */
	tnd_defer_cancel(p, &c.d);                /* twice: a no-op */
	tnd_defer_cancel(p, &f.d);                /* never queued: a no-op */
	/* d cancels e, queued behind it in the same drain; d queues f,
	 * which runs in a later drain, not this one */
	tnd_defer_queue(p, &d.d, on_dprobe);
	tnd_defer_queue(p, &e.d, on_dprobe);
	d.cancel = &e;
	d.queue = &f;
	TEST_ASSERT(a.d.queued && !c.d.queued);
	g_main_context_iteration(tnd_loop_context(l), FALSE);
	TEST_ASSERT(a.runs == 1 && b.runs == 1 && c.runs == 0);
	TEST_ASSERT(d.runs == 1 && e.runs == 0 && !e.d.queued);
	/* f ran in the second drain of the same pass (after timers) */
	TEST_ASSERT(f.runs == 1);
	for (int i = 0; i < 3; i++)
		g_main_context_iteration(tnd_loop_context(l), FALSE);
	TEST_ASSERT(a.runs == 1 && b.runs == 1 && d.runs == 1 && f.runs == 1);
	tnd_poller_stats(p, &st);
	TEST_ASSERT(st.deferred == 4);
	/* a queued node cancelled before its owner goes */
	tnd_defer_queue(p, &a.d, on_dprobe);
	tnd_defer_cancel(p, &a.d);
	g_main_context_iteration(tnd_loop_context(l), FALSE);
	TEST_ASSERT(a.runs == 1);
	tnd_loop_free(l);
	return 0;
}

/* Work that queues itself again runs once per drain: a pass ends */
static int test_defer_requeue_no_livelock(void)
{
	struct tnd_loop *l;
	struct dprobe a = { 0 };

	TEST_ASSERT(tnd_loop_alloc(&l, "defer", 1) == 0);
	a.p = tnd_loop_poller(l);
	a.requeue = 1;
	tnd_defer_queue(a.p, &a.d, on_dprobe);
	g_main_context_iteration(tnd_loop_context(l), FALSE);
	TEST_ASSERT(a.runs == 2);           /* after the batch, after timers */
	g_main_context_iteration(tnd_loop_context(l), FALSE);
	TEST_ASSERT(a.runs == 4);
	tnd_defer_cancel(a.p, &a.d);
	tnd_loop_free(l);
	return 0;
}

struct sock_probe {
	struct tnd_poll_reg reg;     /* first */
	int fds[2];
	int *batch;                  /* packet handlers run, shared */
	int drain;                   /* read what is there */
	struct dprobe *queue;        /* queued from the handler */
	struct tnd_poller *p;
	int64_t now;                 /* tnd_poller_now_us in the handler */
};

static void on_sock(struct tnd_poll_reg *reg, uint32_t events)
{
	struct sock_probe *sp = (struct sock_probe *)reg;
	char b[64];

	(void)events;
	(*sp->batch)++;
	sp->now = tnd_poller_now_us(sp->p);
	if (sp->drain)
		while (read(sp->fds[0], b, sizeof(b)) > 0)
			;
	if (sp->queue)
		tnd_defer_queue(sp->queue->p, &sp->queue->d, on_dprobe);
}

/* Queued by the first handler of a batch, run after the whole batch; and
 * run while the epoll set stays busy (review M6: idle priority starved) */
static int test_defer_after_batch_under_load(void)
{
	struct tnd_loop *l;
	struct tnd_poller *p;
	struct sock_probe s1 = { 0 }, s2 = { 0 };
	struct dprobe d = { 0 };
	int batch = 0;

	TEST_ASSERT(tnd_loop_alloc(&l, "defer", 1) == 0);
	p = tnd_loop_poller(l);
	TEST_ASSERT(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, s1.fds) == 0);
	TEST_ASSERT(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, s2.fds) == 0);
	s1.batch = s2.batch = d.batch = &batch;
	d.p = p;
	s1.queue = s2.queue = &d;     /* whichever runs first queues it */
	s1.p = s2.p = p;
	/* never read: readable on every pass, like a busy worker */
	TEST_ASSERT(write(s1.fds[1], "x", 1) == 1 && write(s2.fds[1], "y", 1) == 1);
	TEST_ASSERT(tnd_poller_add(p, &s1.reg, s1.fds[0], on_sock) == 0);
	TEST_ASSERT(tnd_poller_add(p, &s2.reg, s2.fds[0], on_sock) == 0);
	g_main_context_iteration(tnd_loop_context(l), FALSE);
	TEST_ASSERT(batch == 2);                 /* one batch, both sockets */
	TEST_ASSERT(s1.now && s1.now == s2.now); /* one clock read per pass */
	TEST_ASSERT(d.runs == 1 && d.batch_seen == 2);
	for (int i = 0; i < 5; i++)
		g_main_context_iteration(tnd_loop_context(l), FALSE);
	TEST_ASSERT(d.runs == 6 && batch == 12);
	tnd_poller_del(p, &s1.reg);
	tnd_poller_del(p, &s2.reg);
	for (int i = 0; i < 2; i++) {
		close(s1.fds[i]);
		close(s2.fds[i]);
	}
	tnd_loop_free(l);
	return 0;
}

/* ------------------------------------------------------------ log */

static gpointer flip_levels(gpointer data)
{
	atomic_int *stop = data;

	while (!atomic_load(stop)) {
		tnd_log_parse_levels("debug", false);
		tnd_log_parse_levels("error", false);
	}
	return NULL;
}

/* Levels are C11 atomics (SIGHUP rewrites them while workers read); a reader
 * sees only whole values. */
static int test_log_levels_atomic(void)
{
	atomic_int stop = 0;
	GThread *t;
	int bad = 0;

	TEST_ASSERT(_Generic(&tnd_log_levels[0], atomic_int *: 1, default: 0));
	t = g_thread_new("flip", flip_levels, &stop);
	for (int i = 0; i < 200000; i++) {
		int v = tnd_log_level(TND_LOG_MEDIA);

		bad += v != TND_LOG_LEVEL_DEBUG && v != TND_LOG_LEVEL_ERROR &&
		       v != TND_LOG_LEVEL_WARN;
	}
	atomic_store(&stop, 1);
	g_thread_join(t);
	TEST_ASSERT(bad == 0);
	tnd_log_parse_levels("warn", false);
	TEST_ASSERT(tnd_log_level(TND_LOG_MEDIA) == TND_LOG_LEVEL_WARN);
	return 0;
}

static const struct tnd_test tests[] = {
	TND_TEST(test_pool_get_put),
	TND_TEST(test_pool_no_leak),
	TND_TEST(test_pool_per_loop),
	TND_TEST(test_timer_order_worker),
	TND_TEST(test_timer_order_default_context),
	TND_TEST(test_timer_stop_and_restart_in_handlers),
	TND_TEST(test_timer_zero_restart_no_livelock),
	TND_TEST(test_timer_many),
	TND_TEST(test_timer_bounds_the_wait),
	TND_TEST(test_defer_queue_once_and_cancel),
	TND_TEST(test_defer_requeue_no_livelock),
	TND_TEST(test_defer_after_batch_under_load),
	TND_TEST(test_loop_call_queues_on_own_thread),
	TND_TEST(test_loop_call_default_context),
	TND_TEST(test_pollfunc_installed_on_workers_only),
	TND_TEST(test_pollfunc_serves_glib_and_epoll),
	TND_TEST(test_pollfunc_wakeup_from_other_thread),
	TND_TEST(test_pollfunc_fd_number_reused),
	TND_TEST(test_pollfunc_fallback_regular_file),
	TND_TEST(test_pollfunc_handover_same_fd),
	TND_TEST(test_pollfunc_beyond_64_loops),
	TND_TEST(test_log_levels_atomic),
	TND_TEST(test_stats_mos_emodel),
	TND_TEST(test_stats_status_class),
	TND_TEST(test_stats_slabs_sum),
	TND_TEST(test_stats_text),
};

int main(int argc, char **argv)
{
	tnd_log_parse_levels(getenv("TND_TEST_LOG") ? getenv("TND_TEST_LOG") : "warn", false);
	return tnd_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
