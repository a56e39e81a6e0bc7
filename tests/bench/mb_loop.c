/* media-bench: keeping the driver's GLib main loop lighter than the relay's.
 *
 * The driver does per call the same packet work as the relay (two sends,
 * two receives, one SRTP protect and one unprotect per 20 ms), on the same
 * libraries, so it saturates near where the relay does unless its event
 * loop is cheaper. Two costs of GLib 2.74's main loop grow with the number
 * of sockets in a context, and the driver removes both for itself:
 *
 * - Dispatch: a source that may not recurse is taken out of the poll set
 *   for the length of its dispatch and put back after (block_source() and
 *   unblock_source() in gmain.c): each a walk of the list of every
 *   descriptor of the context, plus an eventfd write, per packet burst.
 *   Sources made recursive avoid both; the driver never runs a nested loop.
 *   libnice's socket sources are private, but source ids are sequential and
 *   a lookup by id is a hash lookup, so every new id is visited.
 * - Polling: poll(2) of every descriptor on every iteration. A poll
 *   function backed by epoll keeps a registered set, updated from the
 *   array GLib passes only where it changed, and waits in epoll_wait(2).
 *   epoll forgets a socket when it closes; a new socket that got the same
 *   number before the next poll would look registered and never report.
 *   The driver closes no media socket while it runs (mb_call.c), and the
 *   others live for the whole run.
 *
 * --glib-block 1 turns both off (GLib as the relay runs it), to compare.
 * Main thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "tests/bench/media_bench.h"

#define MAX_EVENTS 1024

static struct {
	int epfd;
	int cap;               /* size of the per-descriptor arrays */
	uint32_t *reg;         /* fd -> events registered with epoll, 0 if none */
	unsigned *gen;         /* fd -> generation of the array it was last seen in */
	int *idx;              /* fd -> its index in that array */
	int *regd;             /* registered descriptors, unordered */
	int n_regd;
	unsigned cur;
	uint64_t iterations;
} ep = { .epfd = -1 };

void tnd_mb_sources_recurse(struct tnd_mb *mb)
{
	GMainContext *ctx = tnd_loop_context(mb->loop);
	GSource *probe;
	guint top;

	if (mb->o.glib_block)
		return;
	probe = g_idle_source_new();
	top = g_source_attach(probe, ctx);
	g_source_destroy(probe);
	g_source_unref(probe);
	for (guint id = mb->scan_id + 1; id < top; id++) {
		GSource *s = g_main_context_find_source_by_id(ctx, id);

		if (s)
			g_source_set_can_recurse(s, TRUE);
	}
	mb->scan_id = top;
}

static uint32_t to_epoll(gushort ev)
{
	return (ev & G_IO_IN ? EPOLLIN : 0) | (ev & G_IO_OUT ? EPOLLOUT : 0) |
	       (ev & G_IO_PRI ? EPOLLPRI : 0);
}

static gushort from_epoll(uint32_t ev)
{
	return (gushort)((ev & EPOLLIN ? G_IO_IN : 0) | (ev & EPOLLOUT ? G_IO_OUT : 0) |
			 (ev & EPOLLPRI ? G_IO_PRI : 0) | (ev & EPOLLERR ? G_IO_ERR : 0) |
			 (ev & EPOLLHUP ? G_IO_HUP : 0));
}

/* Grows the per-descriptor arrays to hold fd (g_realloc aborts on ENOMEM). */
static void fit(int fd)
{
	int n = ep.cap ? ep.cap : 4096;

	if (fd < ep.cap)
		return;
	while (n <= fd)
		n *= 2;
	ep.reg = g_realloc(ep.reg, (size_t)n * sizeof(*ep.reg));
	ep.gen = g_realloc(ep.gen, (size_t)n * sizeof(*ep.gen));
	ep.idx = g_realloc(ep.idx, (size_t)n * sizeof(*ep.idx));
	ep.regd = g_realloc(ep.regd, (size_t)n * sizeof(*ep.regd));
	memset(ep.reg + ep.cap, 0, (size_t)(n - ep.cap) * sizeof(*ep.reg));
	memset(ep.gen + ep.cap, 0, (size_t)(n - ep.cap) * sizeof(*ep.gen));
	ep.cap = n;
}

static void set_interest(int fd, uint32_t want)
{
	struct epoll_event e = { .events = want, .data.fd = fd };

	if (ep.reg[fd]) {
		/* a closed descriptor leaves epoll by itself; its number may
		 * come back as a new socket, which then needs adding */
		if (!epoll_ctl(ep.epfd, EPOLL_CTL_MOD, fd, &e) || errno != ENOENT)
			goto done;
	}
	if (epoll_ctl(ep.epfd, EPOLL_CTL_ADD, fd, &e) && errno == EEXIST)
		epoll_ctl(ep.epfd, EPOLL_CTL_MOD, fd, &e);
	if (!ep.reg[fd])
		ep.regd[ep.n_regd++] = fd;
 done:
	ep.reg[fd] = want;
}

/* GPollFunc: GLib passes every descriptor of the context each time (it
 * merges records of one descriptor into one GPollFD). */
static gint epoll_poll(GPollFD *fds, guint nfds, gint timeout)
{
	struct epoll_event evs[MAX_EVENTS];
	int n, ready = 0;

	ep.cur++;
	ep.iterations++;
	for (guint i = 0; i < nfds; i++) {
		int fd = fds[i].fd;
		uint32_t want = to_epoll(fds[i].events);

		fds[i].revents = 0;
		if (fd < 0)
			continue;
		fit(fd);
		ep.gen[fd] = ep.cur;
		ep.idx[fd] = (int)i;
		/* an empty interest set still reports errors: keep it out */
		if (ep.reg[fd] != want && want)
			set_interest(fd, want);
	}
	for (int i = 0; i < ep.n_regd;) {
		int fd = ep.regd[i];

		if (ep.gen[fd] == ep.cur && ep.reg[fd] == to_epoll(fds[ep.idx[fd]].events)) {
			i++;
			continue;
		}
		/* gone from GLib's set (or its interest emptied) */
		epoll_ctl(ep.epfd, EPOLL_CTL_DEL, fd, NULL);
		ep.reg[fd] = 0;
		ep.regd[i] = ep.regd[--ep.n_regd];
	}
	do
		n = epoll_wait(ep.epfd, evs, MAX_EVENTS, timeout);
	while (n < 0 && errno == EINTR);
	for (int i = 0; i < n; i++) {
		int fd = evs[i].data.fd;

		if (fd >= ep.cap || ep.gen[fd] != ep.cur)
			continue;
		fds[ep.idx[fd]].revents = from_epoll(evs[i].events);
		ready++;
	}
	return n < 0 ? -1 : ready;
}

/* GLib's own poll, counted, for --glib-block 1. */
static gint counting_poll(GPollFD *fds, guint nfds, gint timeout)
{
	ep.iterations++;
	return g_poll(fds, nfds, timeout);
}

int tnd_mb_loop_tune(struct tnd_mb *mb)
{
	if (mb->o.glib_block) {
		g_main_context_set_poll_func(tnd_loop_context(mb->loop), counting_poll);
		return 0;
	}
	ep.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ep.epfd < 0)
		return errno;
	g_main_context_set_poll_func(tnd_loop_context(mb->loop), epoll_poll);
	return 0;
}

uint64_t tnd_mb_loop_iterations(void)
{
	return ep.iterations;
}
