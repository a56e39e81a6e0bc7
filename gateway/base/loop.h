/* Event loops (style guide section 1).
 *
 * The signalling thread runs one GLib main context that carries Sofia-SIP,
 * libwebsockets and, later, libnice agents' control. Media workers will each
 * run a loop of their own on their own thread. The loops meet only through
 * tnd_loop_call(), which queues a function and an object reference onto
 * another loop; it is safe from any thread. Each loop has a poller (poll.h):
 * its epoll set, timers, deferred work and packet pool. */
#ifndef TND_BASE_LOOP_H
#define TND_BASE_LOOP_H

#include <glib.h>

struct tnd_poller;

/* Single owner: tnd_loop_alloc / tnd_loop_free. */
struct tnd_loop;

typedef void (tnd_loop_call_h)(void *obj);

/* A loop on the calling thread's default context when `own_context` is
 * false, else on a new context (for a worker). Its poller's packet pool has
 * TND_POLL_PKTS_DEFAULT buffers, or `pkts` (1..65536) with the _n form.
 * 0, EINVAL, ENOMEM or an errno of epoll_create1. */
int tnd_loop_alloc(struct tnd_loop **lp, const char *name, int own_context);
int tnd_loop_alloc_n(struct tnd_loop **lp, const char *name, int own_context, unsigned pkts);
void tnd_loop_free(struct tnd_loop *l);

GMainContext *tnd_loop_context(const struct tnd_loop *l);   /* borrowed */
GMainLoop *tnd_loop_gmain(const struct tnd_loop *l);         /* borrowed */
/* The loop's epoll set (poll.h), for sockets that are read often */
struct tnd_poller *tnd_loop_poller(const struct tnd_loop *l);  /* borrowed */
const char *tnd_loop_name(const struct tnd_loop *l);

/* Runs until tnd_loop_quit(). */
void tnd_loop_run(struct tnd_loop *l);
void tnd_loop_quit(struct tnd_loop *l);

/* Runs the loop on a thread of its own (a media worker); stop joins it.
 * Only for loops made with own_context. 0 or an errno. */
int tnd_loop_thread_start(struct tnd_loop *l);
void tnd_loop_thread_stop(struct tnd_loop *l);

/* True when called on the thread that runs l. */
int tnd_loop_is_current(const struct tnd_loop *l);

/* Queues fn(obj) onto loop l, from any thread, also l's own: fn never runs
 * inside this call, but later on l's thread, at G_PRIORITY_DEFAULT, after
 * the calls queued before it (review L5: GLib's invoke ran it at once when
 * the caller owned the context). Takes a reference on obj (a tnd_obj, or
 * NULL) that is dropped after fn returns, so the object outlives the
 * queueing. 0, EINVAL or ENOMEM. */
int tnd_loop_call(struct tnd_loop *l, tnd_loop_call_h *fn, void *obj);

#endif
