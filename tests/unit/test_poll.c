/* gateway/base/poll.c: the per-loop epoll set. Its one subtle promise is
 * that a registration deleted by a handler never hears an event still
 * pending in the same batch, even when its descriptor number is reused at
 * once; and that ticks may be added and removed from inside a tick. */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/base/loop.h"
#include "gateway/base/poll.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_webrtc.h"

struct probe {
	struct tnd_poll_reg reg;   /* first */
	struct tnd_poller *p;
	int fds[2];                /* socketpair: [0] registered, [1] written */
	int calls;
	struct probe *victim;      /* deleted and closed by this one's handler */
	struct probe *reuse;       /* registered on the victim's number at once */
};

static void on_probe(struct tnd_poll_reg *reg, uint32_t events)
{
	struct probe *pr = (struct probe *)reg;
	char b[16];

	(void)events;
	pr->calls++;
	while (read(pr->fds[0], b, sizeof(b)) > 0)
		;
	if (pr->victim && pr->victim->reg.fd >= 0) {
		int num = pr->victim->fds[0];

		tnd_poller_del(pr->p, &pr->victim->reg);
		close(pr->victim->fds[0]);
		/* the lowest free number: the one just closed */
		if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, pr->reuse->fds) == 0 &&
		    pr->reuse->fds[0] == num)
			tnd_poller_add(pr->p, &pr->reuse->reg, pr->reuse->fds[0], on_probe);
	}
}

static int make(struct probe *pr, struct tnd_poller *p)
{
	memset(pr, 0, sizeof(*pr));
	pr->p = p;
	pr->reg.fd = -1;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, pr->fds))
		return errno;
	return tnd_poller_add(p, &pr->reg, pr->fds[0], on_probe);
}

int test_poll_delete_in_batch(void)
{
	struct tnd_loop *l;
	struct tnd_poller *p;
	struct probe a, b, c;
	struct tnd_poller_stats st;

	TEST_ASSERT(tnd_loop_alloc(&l, "poll", 1) == 0);
	p = tnd_loop_poller(l);
	TEST_ASSERT(make(&a, p) == 0 && make(&b, p) == 0);
	memset(&c, 0, sizeof(c));
	c.p = p;
	c.reg.fd = -1;
	/* both readable, so one batch holds both events; whichever runs first
	 * deletes the other and reuses its number */
	a.victim = &b;
	a.reuse = &c;
	b.victim = &a;
	b.reuse = &c;
	TEST_ASSERT(write(a.fds[1], "x", 1) == 1 && write(b.fds[1], "y", 1) == 1);
	for (int i = 0; i < 5; i++)
		g_main_context_iteration(tnd_loop_context(l), FALSE);
	/* exactly one of a and b ran; the deleted one never did */
	TEST_ASSERT(a.calls + b.calls == 1);
	TEST_ASSERT(c.reg.fd >= 0);        /* the new registration took the number */
	TEST_ASSERT(c.calls == 0);         /* and heard nothing of the old event */
	/* it hears its own */
	TEST_ASSERT(write(c.fds[1], "z", 1) == 1);
	for (int i = 0; i < 5 && !c.calls; i++)
		g_main_context_iteration(tnd_loop_context(l), FALSE);
	TEST_ASSERT(c.calls == 1);
	tnd_poller_stats(p, &st);
	TEST_ASSERT(st.regs == 2 && st.events >= 2);
	{
		struct probe *left = a.reg.fd >= 0 ? &a : &b, *gone = left == &a ? &b : &a;

		tnd_poller_del(p, &left->reg);
		tnd_poller_del(p, &left->reg);   /* twice: a no-op */
		tnd_poller_del(p, &c.reg);
		close(left->fds[0]);
		close(left->fds[1]);
		close(gone->fds[1]);
		close(c.fds[0]);
		close(c.fds[1]);
	}
	tnd_poller_stats(p, &st);
	TEST_ASSERT(st.regs == 0);
	tnd_loop_free(l);
	return 0;
}

struct tick_probe {
	struct tnd_poll_tick t;
	struct tnd_poller *p;
	int n;
	struct tick_probe *drop;    /* removed by this one on its first tick */
	struct tick_probe *add;     /* added by this one on its first tick */
};

static void on_tick(struct tnd_poll_tick *t, int64_t now)
{
	struct tick_probe *tp = (struct tick_probe *)((char *)t - offsetof(struct tick_probe, t));

	(void)now;
	if (tp->n++ == 0) {
		if (tp->drop)
			tnd_poller_tick_del(tp->p, &tp->drop->t);
		if (tp->add)
			tnd_poller_tick_add(tp->p, &tp->add->t, on_tick);
	}
}

int test_poll_ticks(void)
{
	struct tnd_loop *l;
	struct tnd_poller *p;
	struct tick_probe x = { 0 }, y = { 0 }, z = { 0 };
	int64_t end;

	TEST_ASSERT(tnd_loop_alloc(&l, "tick", 1) == 0);
	p = tnd_loop_poller(l);
	x.p = y.p = z.p = p;
	/* added in this order, walked newest first: y, then x; y drops x
	 * before x's turn, and adds z */
	tnd_poller_tick_add(p, &x.t, on_tick);
	tnd_poller_tick_add(p, &y.t, on_tick);
	y.drop = &x;
	y.add = &z;
	end = g_get_monotonic_time() + 5 * TND_POLL_TICK_MS * 1000;
	while (g_get_monotonic_time() < end)
		g_main_context_iteration(tnd_loop_context(l), TRUE);
	TEST_ASSERT(x.n == 0);            /* removed before its first turn */
	TEST_ASSERT(y.n >= 3 && z.n >= 2);
	tnd_poller_tick_del(p, &y.t);
	tnd_poller_tick_del(p, &z.t);
	tnd_poller_tick_del(p, &z.t);     /* twice: a no-op */
	tnd_loop_free(l);
	return 0;
}
