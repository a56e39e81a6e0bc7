/* The per-loop epoll set, deferred work and ticks: see poll.h. The GLib poll
 * function lives in poll_glib.c, the timer wheel in timer.c.
 *
 * One GSource per poller carries the pass. With our poll function installed
 * (worker loops) the packet batch is what that single epoll_wait returned,
 * stashed in p->ev; otherwise (the signalling loop) GLib polls epfd as one
 * descriptor and the dispatch reads the batch with epoll_wait(0). Either way
 * the pass runs: packets, deferred work, timers, deferred work. A handler
 * that iterates the context again does not re-enter the pass. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/base/poll_int.h"

static int has_work(const struct tnd_poller *p)
{
	return p->n > 0 || p->dq_head;
}

static gboolean src_prepare(GSource *s, gint *timeout)
{
	struct tnd_poller *p = ((struct tnd_poll_source *)s)->p;

	if (has_work(p)) {
		*timeout = 0;
		return TRUE;
	}
	*timeout = tnd_timer_timeout_ms(p, g_source_get_time(s));
	return *timeout == 0;
}

static gboolean src_check(GSource *s)
{
	struct tnd_poller *p = ((struct tnd_poll_source *)s)->p;

	if (has_work(p))
		return TRUE;
	if (p->epfd_tag && (g_source_query_unix_fd(s, p->epfd_tag) & G_IO_IN))
		return TRUE;
	return tnd_timer_timeout_ms(p, g_source_get_time(s)) == 0;
}

static void run_batch(struct tnd_poller *p)
{
	if (p->n <= 0)
		return;
	p->st.wakeups++;
	p->st.events += (uint64_t)p->n;
	for (p->i = 0; p->i < p->n; p->i++) {
		struct tnd_poll_reg *reg = p->ev[p->i].data.ptr;

		/* NULL: deleted by an earlier handler of this batch */
		if (reg)
			reg->fn(reg, p->ev[p->i].events);
	}
	p->n = 0;
	p->i = -1;
}

/* Runs the nodes queued before the drain began; those queued by them wait
 * for the next drain, so work that requeues itself cannot hold the pass. */
static void drain_defer(struct tnd_poller *p)
{
	p->dq_last = p->dq_tail;
	while (p->dq_last) {
		struct tnd_defer *d = p->dq_head;

		if (d == p->dq_last)
			p->dq_last = NULL;
		p->dq_head = d->next;
		if (!p->dq_head)
			p->dq_tail = NULL;
		d->next = NULL;
		d->queued = 0;
		p->st.deferred++;
		d->fn(d);
	}
}

static gboolean src_dispatch(GSource *s, GSourceFunc cb, gpointer data)
{
	struct tnd_poller *p = ((struct tnd_poll_source *)s)->p;
	int64_t now;

	(void)cb;
	(void)data;
	if (p->in_pass)
		return G_SOURCE_CONTINUE;
	p->in_pass = 1;
	/* GLib's time of this wake-up; never behind a clock read made since by a
	 * timer start from another source */
	now = g_source_get_time(s);
	if (now > p->now_us)
		p->now_us = now;
	if (p->epfd_tag && (g_source_query_unix_fd(s, p->epfd_tag) & G_IO_IN)) {
		int n = epoll_wait(p->epfd, p->ev, TND_POLL_BATCH, 0);

		p->n = n > 0 ? n : 0;
		p->i = -1;
	}
	run_batch(p);
	drain_defer(p);
	tnd_timer_run(p);
	drain_defer(p);
	p->in_pass = 0;
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs src_funcs = {
	.prepare = src_prepare,
	.check = src_check,
	.dispatch = src_dispatch,
};

int tnd_poller_alloc_n(struct tnd_poller **pp, GMainContext *ctx, unsigned pkts)
{
	struct tnd_poller *p;
	int err;

	if (!pp || !ctx || pkts < 1 || pkts > 65536)
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->slot = -1;
	p->i = -1;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0) {
		err = errno;
		free(p);
		return err;
	}
	err = tnd_pktpool_alloc(&p->pool, pkts);
	if (err) {
		close(p->epfd);
		free(p);
		return err;
	}
	p->ctx = ctx;
	p->now_us = g_get_monotonic_time();
	tnd_timer_wheel_init(p, p->now_us);
	p->src = (struct tnd_poll_source *)g_source_new(&src_funcs, sizeof(*p->src));
	p->src->p = p;
	g_source_set_name(&p->src->src, "tnd-epoll");
	/* a recursive source stays in the poll set across its own dispatch (no
	 * list walk per pass, GLib 2.74); src_dispatch guards re-entry itself */
	g_source_set_can_recurse(&p->src->src, TRUE);
	/* without our poll function GLib must see the epoll set itself */
	if (tnd_poll_glib_install(p))
		p->epfd_tag = g_source_add_unix_fd(&p->src->src, p->epfd, G_IO_IN);
	g_source_attach(&p->src->src, ctx);
	*pp = p;
	return 0;
}

int tnd_poller_alloc(struct tnd_poller **pp, GMainContext *ctx)
{
	return tnd_poller_alloc_n(pp, ctx, TND_POLL_PKTS_DEFAULT);
}

void tnd_poller_free(struct tnd_poller *p)
{
	if (!p)
		return;
	/* deferred releases still queued when the loop stopped run now, so
	 * what they free is not lost (off the loop's thread, which is gone;
	 * bounded, in case one keeps requeueing itself) */
	for (int i = 0; i < 16 && p->dq_head; i++)
		drain_defer(p);
	tnd_timer_stop(p, &p->tick_timer);
	g_source_destroy(&p->src->src);
	g_source_unref(&p->src->src);
	tnd_poll_glib_uninstall(p);
	close(p->epfd);
	tnd_pktpool_free(p->pool);
	free(p);
}

int tnd_poller_add(struct tnd_poller *p, struct tnd_poll_reg *reg, int fd, tnd_poll_h *fn)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = reg };

	if (!p || !reg || !fn || fd < 0)
		return EINVAL;
	reg->fn = fn;
	reg->fd = fd;
	/* a GLib descriptor mirrored on this number (a socket taken over from
	 * libnice, or a closed one's number reused) gives way */
	tnd_poll_glib_forget(p, fd);
	if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		reg->fd = -1;
		return errno;
	}
	p->st.regs++;
	return 0;
}

void tnd_poller_del(struct tnd_poller *p, struct tnd_poll_reg *reg)
{
	if (!p || !reg || reg->fd < 0)
		return;
	epoll_ctl(p->epfd, EPOLL_CTL_DEL, reg->fd, NULL);
	reg->fd = -1;
	p->st.regs--;
	/* the fd may be closed and its number reused before this batch ends;
	 * an event left for the old registration must not reach anybody. Also
	 * when the batch is stashed and not yet walked (i == -1). */
	for (int j = p->i + 1; j < p->n; j++)
		if (p->ev[j].data.ptr == reg)
			p->ev[j].data.ptr = NULL;
}

void tnd_defer_queue(struct tnd_poller *p, struct tnd_defer *d, tnd_defer_h *fn)
{
	d->fn = fn;
	if (d->queued)
		return;
	d->queued = 1;
	d->next = NULL;
	if (p->dq_tail)
		p->dq_tail->next = d;
	else
		p->dq_head = d;
	p->dq_tail = d;
}

void tnd_defer_cancel(struct tnd_poller *p, struct tnd_defer *d)
{
	struct tnd_defer *prev = NULL;

	if (!d->queued)
		return;
	for (struct tnd_defer *q = p->dq_head; q && q != d; q = q->next)
		prev = q;
	if (prev)
		prev->next = d->next;
	else
		p->dq_head = d->next;
	if (p->dq_tail == d)
		p->dq_tail = prev;
	/* the running drain ends where it would have */
	if (p->dq_last == d)
		p->dq_last = prev;
	d->next = NULL;
	d->queued = 0;
}

static void on_tick_timer(struct tnd_timer *tm, int64_t now)
{
	struct tnd_poller *p = (struct tnd_poller *)((char *)tm -
						     offsetof(struct tnd_poller, tick_timer));

	for (struct tnd_poll_tick *t = p->ticks; t; t = p->tick_next) {
		p->tick_next = t->next;
		t->fn(t, now);
	}
	p->tick_next = NULL;
	if (p->ticks)
		tnd_timer_start(p, &p->tick_timer, TND_POLL_TICK_MS, on_tick_timer);
}

void tnd_poller_tick_add(struct tnd_poller *p, struct tnd_poll_tick *t, tnd_poll_tick_h *fn)
{
	t->fn = fn;
	t->prev = NULL;
	t->next = p->ticks;
	if (p->ticks)
		p->ticks->prev = t;
	p->ticks = t;
	if (!tnd_timer_armed(&p->tick_timer))
		tnd_timer_start(p, &p->tick_timer, TND_POLL_TICK_MS, on_tick_timer);
}

void tnd_poller_tick_del(struct tnd_poller *p, struct tnd_poll_tick *t)
{
	if (!t->fn)
		return;
	if (p->tick_next == t)
		p->tick_next = t->next;
	if (t->prev)
		t->prev->next = t->next;
	else
		p->ticks = t->next;
	if (t->next)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
	t->fn = NULL;
	if (!p->ticks)
		tnd_timer_stop(p, &p->tick_timer);
}

int64_t tnd_poller_now_us(struct tnd_poller *p)
{
	return tnd_timer_clock_us(p);
}

struct tnd_pktpool *tnd_poller_pool(struct tnd_poller *p)
{
	return p->pool;
}

uint8_t *tnd_poller_rx_buf(struct tnd_poller *p)
{
	return p->rx;
}

uint8_t *tnd_poller_tx_buf(struct tnd_poller *p)
{
	return p->tx;
}

void tnd_poller_stats(const struct tnd_poller *p, struct tnd_poller_stats *st)
{
	*st = p->st;
}
