/* The poller's insides, shared by poll.c (the GSource, registrations,
 * deferred work, ticks), poll_glib.c (the GLib poll function that waits once
 * in epoll_wait) and timer.c (the timer wheel). Loop thread only, except the
 * trampoline table poll_glib.c guards with its lock. Not a front header. */
#ifndef TND_BASE_POLL_INT_H
#define TND_BASE_POLL_INT_H

#include <stdint.h>
#include <sys/epoll.h>

#include <glib.h>

#include "gateway/base/buf.h"
#include "gateway/base/poll.h"

#define TND_POLL_BATCH 128          /* events per pass; more stay ready */
#define TND_WHEEL_SLOTS 512         /* 1 ms each; a power of two */
#define TND_WHEEL_READY TND_WHEEL_SLOTS   /* two lists: due on the next pass */
#define TND_WHEEL_LISTS (TND_WHEEL_SLOTS + 2)

/* A GLib descriptor mirrored into the epoll set (sorted by fd) */
struct tnd_gfd {
	int fd;
	int idx;          /* its entry in this pass's GPollFD array, -1 none */
	uint32_t ev;      /* epoll events registered */
	int keep;         /* the context's wakeup: registered once, never checked */
};

struct tnd_poll_source {
	GSource src;
	struct tnd_poller *p;   /* borrowed: owns the source */
};

struct tnd_poller {
	int epfd;                       /* owned */
	GMainContext *ctx;              /* borrowed */
	struct tnd_poll_source *src;    /* owned */
	gpointer epfd_tag;              /* GLib-poll mode: epfd in GLib's set */
	int slot;                       /* trampoline of our poll function, -1 none */
	struct epoll_event ev[TND_POLL_BATCH];   /* the packet batch */
	int n, i;                       /* its size; position, -1 before the walk */
	int64_t now_us;                 /* read once per pass */
	int in_pass;                    /* inside our dispatch */

	struct tnd_gfd *gfd;            /* owned: GLib's descriptors in epfd */
	unsigned ngfd, capgfd;
	GPollFD *scratch;               /* owned: fallback poll(2) array */
	unsigned capscratch;

	struct tnd_timer *head[TND_WHEEL_LISTS], *tail[TND_WHEEL_LISTS];
	int64_t wheel_ms;               /* every wheel timer is due after it */
	int64_t next_ms;                /* <= every wheel timer's due ms */
	int next_valid;
	unsigned nwheel;                /* timers in the wheel slots */
	unsigned ready;                 /* ready list new starts go to (0, 1) */
	struct tnd_timer *cursor;       /* next of a slot walk */
	int walking;                    /* inside the wheel walk */

	struct tnd_defer *dq_head, *dq_tail;
	struct tnd_defer *dq_last;      /* last node of the running drain */

	struct tnd_poll_tick *ticks;    /* list head */
	struct tnd_poll_tick *tick_next;   /* cursor of a tick walk */
	struct tnd_timer tick_timer;

	struct tnd_pktpool *pool;       /* owned */
	struct tnd_poller_stats st;
	_Alignas(16) uint8_t rx[TND_POLL_BUF_SIZE];
	_Alignas(16) uint8_t tx[TND_POLL_BUF_SIZE];
};

/* timer.c */
void tnd_timer_wheel_init(struct tnd_poller *p, int64_t now_us);
/* The pass's clock read inside the poller's handlers, a fresh one outside
 * (tnd_poller_now_us). */
int64_t tnd_timer_clock_us(struct tnd_poller *p);
/* Runs the ready list, then the wheel up to p->now_us. */
void tnd_timer_run(struct tnd_poller *p);
/* ms until the next timer at `now_us` (0: one is due), -1 when none. */
int tnd_timer_timeout_ms(struct tnd_poller *p, int64_t now_us);

/* poll_glib.c */
/* Installs the poll function on p->ctx when p may have one (sets p->slot);
 * 0 or an errno (then p stays in GLib-poll mode). */
int tnd_poll_glib_install(struct tnd_poller *p);
void tnd_poll_glib_uninstall(struct tnd_poller *p);
/* Drops fd's mirror before a registration takes the same number. */
void tnd_poll_glib_forget(struct tnd_poller *p, int fd);

#endif
