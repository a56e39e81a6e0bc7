/* One epoll set per loop, dispatched from a single GSource (style guide R7).
 *
 * GLib's own poll(2) walks every descriptor of a context on every pass and
 * takes a non-recursive source out of the poll set around each dispatch; with
 * thousands of media sockets on a worker that walk, not the packets, was the
 * cost (docs/benchmarks.md). Sockets registered here cost nothing until they
 * are readable: the loop sees one descriptor, the epoll one.
 *
 * Also a coarse tick: owners that need a timer per call (ICE consent) hang a
 * tnd_poll_tick on the poller instead of adding one GSource each, and are
 * called every TND_POLL_TICK_MS. Loop thread only. */
#ifndef TND_BASE_POLL_H
#define TND_BASE_POLL_H

#include <stdint.h>

#include <glib.h>

#define TND_POLL_TICK_MS 100

struct tnd_poll_reg;
struct tnd_poll_tick;
/* `events` is epoll's mask (EPOLLIN, EPOLLERR, ...) */
typedef void (tnd_poll_h)(struct tnd_poll_reg *reg, uint32_t events);
typedef void (tnd_poll_tick_h)(struct tnd_poll_tick *t, int64_t now_us);

/* Embedded in its owner, who recovers itself with container-of arithmetic;
 * the fields are the poller's. */
struct tnd_poll_reg {
	tnd_poll_h *fn;
	int fd;
};

struct tnd_poll_tick {
	tnd_poll_tick_h *fn;
	struct tnd_poll_tick *prev, *next;
};

/* Single owner: the loop (tnd_loop_poller). */
struct tnd_poller;

int tnd_poller_alloc(struct tnd_poller **pp, GMainContext *ctx);
void tnd_poller_free(struct tnd_poller *p);

/* Watches fd for reading (level-triggered) until tnd_poller_del. The fd
 * stays the caller's. 0 or an errno from epoll_ctl. */
int tnd_poller_add(struct tnd_poller *p, struct tnd_poll_reg *reg, int fd, tnd_poll_h *fn);
/* Safe from inside any handler, also for a registration whose event is
 * still pending in the batch being dispatched: that event is dropped. Call
 * it before closing the fd. A reg never added, or already deleted, is a
 * no-op. */
void tnd_poller_del(struct tnd_poller *p, struct tnd_poll_reg *reg);

/* Ticks: safe to add or remove from inside a tick handler. */
void tnd_poller_tick_add(struct tnd_poller *p, struct tnd_poll_tick *t, tnd_poll_tick_h *fn);
void tnd_poller_tick_del(struct tnd_poller *p, struct tnd_poll_tick *t);

/* Two scratch buffers per loop for the packet path: one a packet is read
 * into, one a packet is written to when it cannot be changed in place.
 * Valid until the handler returns; no handler may read into one while a
 * handler up the stack still uses it (the media path never nests). */
#define TND_POLL_BUF_SIZE 2048
uint8_t *tnd_poller_rx_buf(struct tnd_poller *p);
uint8_t *tnd_poller_tx_buf(struct tnd_poller *p);

/* Counters, read on the loop's thread */
struct tnd_poller_stats {
	uint64_t wakeups, events, regs;
};
void tnd_poller_stats(const struct tnd_poller *p, struct tnd_poller_stats *st);

#endif
