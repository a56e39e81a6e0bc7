/* One epoll set per loop, its timers, deferred work and packet pool (style
 * guide R7).
 *
 * GLib's own poll(2) walks every descriptor of a context on every pass and
 * takes a non-recursive source out of the poll set around each dispatch; with
 * thousands of media sockets on a worker that walk, not the packets, was the
 * cost (docs/benchmarks.md). Sockets registered here cost nothing until they
 * are readable.
 *
 * One blocking wait per pass: on a loop with its own context (a worker) the
 * poller installs itself as the context's poll function
 * (g_main_context_set_poll_func), mirrors GLib's descriptors of each pass
 * (the context's wakeup, libnice's sockets during set-up) into the same epoll
 * set, and blocks once in epoll_wait, for at most min(GLib's timeout, next
 * timer). The signalling loop (the default context: Sofia, libwebsockets,
 * many short-lived descriptors) keeps GLib's poll and sees the epoll set as
 * one descriptor; its timers and deferred work behave the same. So does a
 * worker loop beyond the first 64 alive at once (GLib's poll function takes
 * no user data: the poller is found through one of 64 fixed trampolines).
 *
 * Each pass runs: the packet batch, deferred work, due timers, deferred work.
 * Loop thread only, except where a function says otherwise. */
#ifndef TND_BASE_POLL_H
#define TND_BASE_POLL_H

#include <stdint.h>

#include <glib.h>

#define TND_POLL_TICK_MS 100
#define TND_POLL_PKTS_DEFAULT 1024   /* packet buffers per loop (buf.h) */

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

/* A poller on ctx with a pool of TND_POLL_PKTS_DEFAULT packets; the _n form
 * sets the pool's size (1..65536). 0, EINVAL, ENOMEM or an errno. Free only
 * when no thread iterates ctx, every packet is back, and its timers, ticks
 * and deferred work are stopped by their owners. */
int tnd_poller_alloc(struct tnd_poller **pp, GMainContext *ctx);
int tnd_poller_alloc_n(struct tnd_poller **pp, GMainContext *ctx, unsigned pkts);
void tnd_poller_free(struct tnd_poller *p);

/* Watches fd for reading (level-triggered) until tnd_poller_del. The fd
 * stays the caller's. 0 or an errno from epoll_ctl. */
int tnd_poller_add(struct tnd_poller *p, struct tnd_poll_reg *reg, int fd, tnd_poll_h *fn);
/* Safe from inside any handler, also for a registration whose event is
 * still pending in the batch being dispatched: that event is dropped. Call
 * it before closing the fd. A reg never added, or already deleted, is a
 * no-op. */
void tnd_poller_del(struct tnd_poller *p, struct tnd_poll_reg *reg);

/* Ticks, every TND_POLL_TICK_MS on one shared timer: safe to add or remove
 * from inside a tick handler; removing a tick never added is a no-op. */
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
	uint64_t timers;      /* timer callbacks run */
	uint64_t deferred;    /* deferred work run */
	uint64_t fallbacks;   /* passes that had to poll(2) GLib's descriptors */
};
void tnd_poller_stats(const struct tnd_poller *p, struct tnd_poller_stats *st);

/* ------------------------------------------------------------ timers
 *
 * A hashed timer wheel per loop with millisecond resolution: start and stop
 * are O(1) and allocate nothing (the timer is embedded in its owner), so a
 * jitter buffer's playout, a DTMF generator's 50 ms steps or an RTCP report
 * interval cost nothing until they fire. Expiry is checked after every wait,
 * and the loop's blocking wait never sleeps past the next timer. Loop thread
 * only. A timer may be started, restarted or stopped from any handler,
 * including its own. A timer never fires before its due time (it fires in
 * the first pass at or after the due millisecond); the timers of one pass
 * fire in due order, except those started already due (0 ms, or a due time
 * in the past), which run first, in start order. */
struct tnd_timer;
typedef void (tnd_timer_h)(struct tnd_timer *t, int64_t now_us);

struct tnd_timer {
	tnd_timer_h *fn;
	int64_t due_us;                    /* poller's fields from here */
	struct tnd_timer *prev, *next;
	unsigned slot;
};

/* (Re)arms t to fire once after `ms` (0: on the next pass). */
void tnd_timer_start(struct tnd_poller *p, struct tnd_timer *t, uint32_t ms, tnd_timer_h *fn);
/* Absolute form, in the poller's clock (tnd_poller_now_us); a due time in
 * the past fires on the next pass. */
void tnd_timer_start_at(struct tnd_poller *p, struct tnd_timer *t, int64_t due_us,
			tnd_timer_h *fn);
/* No-op when not armed. */
void tnd_timer_stop(struct tnd_poller *p, struct tnd_timer *t);
static inline int tnd_timer_armed(const struct tnd_timer *t)
{
	return t->fn != NULL;
}

/* g_get_monotonic_time() read once per wake-up: packet handlers and timers
 * of one batch share it (no clock read per packet). Called from elsewhere
 * (another GSource, a tnd_loop_call job), which may run long after the
 * wake-up, it reads the clock. */
int64_t tnd_poller_now_us(struct tnd_poller *p);

/* ------------------------------------------------------------ deferred work
 *
 * Work an owner must not do inside the handler that triggers it (drop the
 * last reference of an object whose callback is running, hand a socket over
 * from libnice) is queued here and run after the current epoll batch, at the
 * same priority as packets (review M6: idle-priority sources starved under
 * load). The node is embedded: queuing allocates nothing and a node already
 * queued is not queued twice. Loop thread only; cancel before freeing the
 * owner. */
struct tnd_defer;
typedef void (tnd_defer_h)(struct tnd_defer *d);

struct tnd_defer {
	tnd_defer_h *fn;
	struct tnd_defer *next;
	int queued;
};

void tnd_defer_queue(struct tnd_poller *p, struct tnd_defer *d, tnd_defer_h *fn);
/* O(queue length); a node not queued is a no-op. */
void tnd_defer_cancel(struct tnd_poller *p, struct tnd_defer *d);

/* The loop's packet pool (buf.h), made with the poller. */
struct tnd_pktpool *tnd_poller_pool(struct tnd_poller *p);

#endif
