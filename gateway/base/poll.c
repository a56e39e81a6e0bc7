/* The per-loop epoll set: see poll.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "gateway/base/poll.h"

#define BATCH 128   /* events per dispatch; more stay ready for the next pass */

struct epoll_source {
	GSource src;
	struct tnd_poller *p;   /* borrowed: owns the source */
};

struct tnd_poller {
	int epfd;                       /* owned */
	GMainContext *ctx;              /* borrowed */
	struct epoll_source *src;       /* owned */
	struct epoll_event ev[BATCH];   /* the batch being dispatched */
	int n, i;                       /* its size and position */
	struct tnd_poll_tick *ticks;    /* list head */
	struct tnd_poll_tick *tick_next;   /* cursor of a tick walk */
	GSource *timer;                 /* owned while ticks exist */
	struct tnd_poller_stats st;
	_Alignas(16) uint8_t rx[TND_POLL_BUF_SIZE];
	_Alignas(16) uint8_t tx[TND_POLL_BUF_SIZE];
};

static gboolean src_dispatch(GSource *s, GSourceFunc cb, gpointer data)
{
	struct tnd_poller *p = ((struct epoll_source *)s)->p;
	int n;

	(void)cb;
	(void)data;
	n = epoll_wait(p->epfd, p->ev, BATCH, 0);
	if (n <= 0)
		return G_SOURCE_CONTINUE;
	p->st.wakeups++;
	p->st.events += (uint64_t)n;
	p->n = n;
	for (p->i = 0; p->i < p->n; p->i++) {
		struct tnd_poll_reg *reg = p->ev[p->i].data.ptr;

		/* NULL: deleted by an earlier handler of this batch */
		if (reg)
			reg->fn(reg, p->ev[p->i].events);
	}
	p->n = p->i = 0;
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs src_funcs = {
	.dispatch = src_dispatch,
};

int tnd_poller_alloc(struct tnd_poller **pp, GMainContext *ctx)
{
	struct tnd_poller *p;

	if (!pp || !ctx)
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (p->epfd < 0) {
		int err = errno;

		free(p);
		return err;
	}
	p->ctx = ctx;
	p->src = (struct epoll_source *)g_source_new(&src_funcs, sizeof(*p->src));
	p->src->p = p;
	g_source_set_name(&p->src->src, "tnd-epoll");
	/* nothing nests a loop here; a recursive source stays in the poll set
	 * across its own dispatch (no list walk per pass, GLib 2.74) */
	g_source_set_can_recurse(&p->src->src, TRUE);
	g_source_add_unix_fd(&p->src->src, p->epfd, G_IO_IN);
	g_source_attach(&p->src->src, ctx);
	*pp = p;
	return 0;
}

void tnd_poller_free(struct tnd_poller *p)
{
	if (!p)
		return;
	if (p->timer) {
		g_source_destroy(p->timer);
		g_source_unref(p->timer);
	}
	g_source_destroy(&p->src->src);
	g_source_unref(&p->src->src);
	close(p->epfd);
	free(p);
}

int tnd_poller_add(struct tnd_poller *p, struct tnd_poll_reg *reg, int fd, tnd_poll_h *fn)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = reg };

	if (!p || !reg || !fn || fd < 0)
		return EINVAL;
	reg->fn = fn;
	reg->fd = fd;
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
	 * an event left for the old registration must not reach anybody */
	for (int j = p->i + 1; j < p->n; j++)
		if (p->ev[j].data.ptr == reg)
			p->ev[j].data.ptr = NULL;
}

static gboolean on_timer(gpointer data)
{
	struct tnd_poller *p = data;
	int64_t now = g_get_monotonic_time();

	for (struct tnd_poll_tick *t = p->ticks; t; t = p->tick_next) {
		p->tick_next = t->next;
		t->fn(t, now);
	}
	p->tick_next = NULL;
	return G_SOURCE_CONTINUE;
}

void tnd_poller_tick_add(struct tnd_poller *p, struct tnd_poll_tick *t, tnd_poll_tick_h *fn)
{
	t->fn = fn;
	t->prev = NULL;
	t->next = p->ticks;
	if (p->ticks)
		p->ticks->prev = t;
	p->ticks = t;
	if (!p->timer) {
		p->timer = g_timeout_source_new(TND_POLL_TICK_MS);
		g_source_set_callback(p->timer, on_timer, p, NULL);
		g_source_attach(p->timer, p->ctx);
	}
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
	if (!p->ticks && p->timer) {
		g_source_destroy(p->timer);
		g_source_unref(p->timer);
		p->timer = NULL;
	}
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
