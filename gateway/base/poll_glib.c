/* The GLib poll function of worker loops: one blocking epoll_wait per pass
 * (see poll.h; review item "one blocking wait per iteration").
 *
 * GLib hands the function the pass's descriptors (sorted by fd, merged) and
 * a timeout that already includes our source's next timer. Each descriptor
 * is mirrored into the poller's epoll set, tagged (fd << 1 | 1: registration
 * pointers are aligned, so their low bit is 0); the events of the one wait
 * fill GLib's revents, and the rest, the packet batch, is stashed for the
 * pass. A closed descriptor leaves epoll silently and its number may come
 * back, in the same pass, on another socket that GLib polls for the same
 * events; so every mirrored descriptor is re-armed (EPOLL_CTL_MOD, ADD on
 * ENOENT) each pass, except the context's own wakeup, which lives as long
 * as the context. A worker at rest polls nothing else; libnice's sockets
 * during a call's set-up cost one epoll_ctl each per pass, as poll(2) would.
 * A descriptor epoll refuses (a regular file, one a registration holds)
 * makes that pass fall back to poll(2) over GLib's set plus epfd.
 *
 * GPollFunc takes no user data: the poller is found through one of a fixed
 * set of trampolines, one per live poller, assigned under a lock at
 * creation. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/base/poll_int.h"

#define SLOTS 64
#define TAG(fd) (((uint64_t)(unsigned)(fd) << 1) | 1)
#define EV_MASK (EPOLLIN | EPOLLPRI | EPOLLOUT)

static struct tnd_poller *_Atomic slots[SLOTS];
static GMutex slots_lock;   /* LOCK: assignment of slots */

/* Binary search; the insertion point when absent. */
static unsigned gfd_find(const struct tnd_poller *p, int fd, int *found)
{
	unsigned lo = 0, hi = p->ngfd;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;

		if (p->gfd[mid].fd < fd)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < p->ngfd && p->gfd[lo].fd == fd;
	return lo;
}

static void gfd_remove(struct tnd_poller *p, unsigned k)
{
	memmove(&p->gfd[k], &p->gfd[k + 1], (p->ngfd - k - 1) * sizeof(p->gfd[0]));
	p->ngfd--;
}

static struct tnd_gfd *gfd_insert(struct tnd_poller *p, unsigned k, int fd)
{
	if (p->ngfd == p->capgfd) {
		unsigned cap = p->capgfd ? p->capgfd * 2 : 16;
		struct tnd_gfd *g = realloc(p->gfd, cap * sizeof(*g));

		if (!g)
			return NULL;
		p->gfd = g;
		p->capgfd = cap;
	}
	memmove(&p->gfd[k + 1], &p->gfd[k], (p->ngfd - k) * sizeof(p->gfd[0]));
	p->ngfd++;
	p->gfd[k] = (struct tnd_gfd){ .fd = fd, .idx = -1 };
	return &p->gfd[k];
}

static int arm(struct tnd_poller *p, struct tnd_gfd *g, uint32_t ev, int known)
{
	struct epoll_event e = { .events = ev, .data.u64 = TAG(g->fd) };

	if (known && epoll_ctl(p->epfd, EPOLL_CTL_MOD, g->fd, &e) == 0)
		return 0;
	if (known && errno != ENOENT)
		return errno;
	return epoll_ctl(p->epfd, EPOLL_CTL_ADD, g->fd, &e) < 0 ? errno : 0;
}

/* Mirrors this pass's descriptors into epfd; nonzero when one could not be
 * (the pass then falls back to poll(2)). */
static int sync_gfds(struct tnd_poller *p, GPollFD *ufds, guint nfds)
{
	int bad = 0;

	for (unsigned k = 0; k < p->ngfd; k++)
		p->gfd[k].idx = -1;
	for (guint i = 0; i < nfds; i++) {
		uint32_t ev = ufds[i].events & EV_MASK;   /* G_IO_* == EPOLL* bits */
		struct tnd_gfd *g;
		unsigned k;
		int found;

		ufds[i].revents = 0;
		if (ufds[i].fd < 0)
			continue;
		k = gfd_find(p, ufds[i].fd, &found);
		if (found && p->gfd[k].idx >= 0) {
			bad = 1;        /* a descriptor twice: GLib merges them today */
			continue;
		}
		g = found ? &p->gfd[k] : gfd_insert(p, k, ufds[i].fd);
		if (!g) {
			bad = 1;
			continue;
		}
		if (!g->keep || g->ev != ev) {
			if (arm(p, g, ev, found)) {
				gfd_remove(p, k);
				bad = 1;
				continue;
			}
		}
		g->ev = ev;
		g->idx = (int)i;
	}
	for (unsigned k = p->ngfd; k-- > 0;) {
		if (p->gfd[k].idx >= 0 || p->gfd[k].keep)
			continue;
		epoll_ctl(p->epfd, EPOLL_CTL_DEL, p->gfd[k].fd, NULL);
		gfd_remove(p, k);
	}
	return bad;
}

/* Splits n events: GLib's into revents, the packet batch into p->ev[0..). */
static gint sort_events(struct tnd_poller *p, GPollFD *ufds, guint nfds, int n)
{
	gint ready = 0;
	int m = 0;

	for (int k = 0; k < n; k++) {
		uint64_t u = p->ev[k].data.u64;
		struct tnd_gfd *g;
		unsigned j;
		int found;

		if (!(u & 1)) {
			p->ev[m++] = p->ev[k];
			continue;
		}
		j = gfd_find(p, (int)(u >> 1), &found);
		g = found ? &p->gfd[j] : NULL;
		if (!g || g->idx < 0 || (guint)g->idx >= nfds || ufds[g->idx].fd != g->fd)
			continue;   /* not polled this pass */
		if (!ufds[g->idx].revents)
			ready++;
		ufds[g->idx].revents |= (gushort)(p->ev[k].events & (ufds[g->idx].events |
								 EPOLLERR | EPOLLHUP));
	}
	p->n = m;
	p->i = -1;
	return ready;
}

static gint fallback_poll(struct tnd_poller *p, GPollFD *ufds, guint nfds, gint timeout)
{
	gint r, ready = 0;
	int n;

	p->st.fallbacks++;
	if (p->capscratch < nfds + 1) {
		GPollFD *s = realloc(p->scratch, (nfds + 1) * sizeof(*s));

		/* no memory: GLib's set alone, and the packets a pass later */
		if (!s)
			return g_poll(ufds, nfds, timeout < 0 || timeout > 10 ? 10 : timeout);
		p->scratch = s;
		p->capscratch = nfds + 1;
	}
	memcpy(p->scratch, ufds, nfds * sizeof(*ufds));
	p->scratch[nfds] = (GPollFD){ .fd = p->epfd, .events = G_IO_IN };
	r = g_poll(p->scratch, nfds + 1, timeout);
	if (r <= 0)
		return r;
	for (guint i = 0; i < nfds; i++) {
		ufds[i].revents = p->scratch[i].revents;
		ready += ufds[i].revents != 0;
	}
	if (!(p->scratch[nfds].revents & G_IO_IN))
		return ready;
	/* descriptors mirrored before may report here too: merged */
	n = epoll_wait(p->epfd, p->ev, TND_POLL_BATCH, 0);
	return n > 0 ? ready + sort_events(p, ufds, nfds, n) : ready;
}

static gint epoll_poll(struct tnd_poller *p, GPollFD *ufds, guint nfds, gint timeout)
{
	int n;

	/* a handler iterating the context again: the stash is being walked */
	if (!p || p->in_pass)
		return g_poll(ufds, nfds, timeout);
	p->n = 0;
	p->i = -1;
	if (sync_gfds(p, ufds, nfds))
		return fallback_poll(p, ufds, nfds, timeout);
	n = epoll_wait(p->epfd, p->ev, TND_POLL_BATCH, timeout);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	return sort_events(p, ufds, nfds, n);
}

#define TRAMP(i) \
	static gint poll_##i(GPollFD *ufds, guint nfds, gint timeout) \
	{ \
		return epoll_poll(atomic_load_explicit(&slots[i], memory_order_acquire), \
				  ufds, nfds, timeout); \
	}
#define TRAMP8(a, b, c, d, e, f, g, h) TRAMP(a) TRAMP(b) TRAMP(c) TRAMP(d) \
	TRAMP(e) TRAMP(f) TRAMP(g) TRAMP(h)
TRAMP8(0, 1, 2, 3, 4, 5, 6, 7)
TRAMP8(8, 9, 10, 11, 12, 13, 14, 15)
TRAMP8(16, 17, 18, 19, 20, 21, 22, 23)
TRAMP8(24, 25, 26, 27, 28, 29, 30, 31)
TRAMP8(32, 33, 34, 35, 36, 37, 38, 39)
TRAMP8(40, 41, 42, 43, 44, 45, 46, 47)
TRAMP8(48, 49, 50, 51, 52, 53, 54, 55)
TRAMP8(56, 57, 58, 59, 60, 61, 62, 63)

static GPollFunc const tramps[SLOTS] = {
	poll_0, poll_1, poll_2, poll_3, poll_4, poll_5, poll_6, poll_7,
	poll_8, poll_9, poll_10, poll_11, poll_12, poll_13, poll_14, poll_15,
	poll_16, poll_17, poll_18, poll_19, poll_20, poll_21, poll_22, poll_23,
	poll_24, poll_25, poll_26, poll_27, poll_28, poll_29, poll_30, poll_31,
	poll_32, poll_33, poll_34, poll_35, poll_36, poll_37, poll_38, poll_39,
	poll_40, poll_41, poll_42, poll_43, poll_44, poll_45, poll_46, poll_47,
	poll_48, poll_49, poll_50, poll_51, poll_52, poll_53, poll_54, poll_55,
	poll_56, poll_57, poll_58, poll_59, poll_60, poll_61, poll_62, poll_63,
};

/* A fresh context polls only its wakeup (an eventfd): mirrored once, for
 * good. Anything else is re-armed every pass. */
static void keep_wakeup(struct tnd_poller *p)
{
	GPollFD fds[2];
	char path[64], link[64];
	struct tnd_gfd *g;
	ssize_t len;
	gint timeout;
	int found;
	unsigned k;

	if (g_main_context_query(p->ctx, G_MAXINT, &timeout, fds, 2) != 1)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0].fd);
	len = readlink(path, link, sizeof(link) - 1);
	if (len < 0)
		return;
	link[len] = '\0';
	if (strcmp(link, "anon_inode:[eventfd]"))
		return;
	k = gfd_find(p, fds[0].fd, &found);
	g = found ? NULL : gfd_insert(p, k, fds[0].fd);
	if (!g)
		return;
	g->ev = fds[0].events & EV_MASK;
	if (arm(p, g, g->ev, 0))
		gfd_remove(p, k);
	else
		g->keep = 1;
}

int tnd_poll_glib_install(struct tnd_poller *p)
{
	int slot = -1;

	/* the default context carries Sofia and libwebsockets, whose many
	 * short-lived descriptors would each cost an epoll_ctl per pass */
	if (p->ctx == g_main_context_default() || g_main_context_get_poll_func(p->ctx) != g_poll)
		return EINVAL;
	g_mutex_lock(&slots_lock);
	for (int i = 0; i < SLOTS && slot < 0; i++)
		if (!atomic_load_explicit(&slots[i], memory_order_relaxed))
			slot = i;
	if (slot >= 0)
		atomic_store_explicit(&slots[slot], p, memory_order_release);
	g_mutex_unlock(&slots_lock);
	if (slot < 0)
		return EBUSY;
	p->slot = slot;
	keep_wakeup(p);
	g_main_context_set_poll_func(p->ctx, tramps[slot]);
	return 0;
}

void tnd_poll_glib_uninstall(struct tnd_poller *p)
{
	if (p->slot >= 0) {
		g_main_context_set_poll_func(p->ctx, NULL);
		g_mutex_lock(&slots_lock);
		atomic_store_explicit(&slots[p->slot], NULL, memory_order_release);
		g_mutex_unlock(&slots_lock);
		p->slot = -1;
	}
	free(p->gfd);
	free(p->scratch);
	p->gfd = NULL;
	p->scratch = NULL;
	p->ngfd = p->capgfd = p->capscratch = 0;
}

void tnd_poll_glib_forget(struct tnd_poller *p, int fd)
{
	int found;
	unsigned k = p->ngfd ? gfd_find(p, fd, &found) : 0;

	if (!p->ngfd || !found)
		return;
	epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
	gfd_remove(p, k);
}
