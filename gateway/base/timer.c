/* The per-loop timer wheel: see poll.h.
 *
 * A hashed wheel of TND_WHEEL_SLOTS 1 ms slots: a timer due at millisecond d
 * (its due time rounded up, so it never fires early) sits in slot d % SLOTS,
 * and a pass walks the slots of the milliseconds that went by, firing the
 * timers whose d has come and skipping those of a later turn of the wheel.
 * Timers already due when started go to a ready list instead; there are two,
 * and a pass runs the one that was filling while new starts go to the other,
 * so a timer restarting itself for 0 ms runs once per pass, not forever.
 *
 * Invariants: every timer in a slot has d > wheel_ms; next_ms, when valid,
 * is <= every slot timer's d (starts lower it, stops leave it: at worst one
 * early wake-up, after which it is recomputed). Loop thread only. */
#include <limits.h>

#include "gateway/base/poll_int.h"

static int64_t due_ms(const struct tnd_timer *t)
{
	/* rounded up: firing at now_ms >= d means now_us >= due_us */
	return t->due_us >= 0 ? (t->due_us + 999) / 1000 : t->due_us / 1000;
}

static void unlink_timer(struct tnd_poller *p, struct tnd_timer *t)
{
	if (t->prev)
		t->prev->next = t->next;
	else
		p->head[t->slot] = t->next;
	if (t->next)
		t->next->prev = t->prev;
	else
		p->tail[t->slot] = t->prev;
	if (t->slot < TND_WHEEL_SLOTS)
		p->nwheel--;
	t->prev = t->next = NULL;
}

static void append(struct tnd_poller *p, struct tnd_timer *t, unsigned list)
{
	t->slot = list;
	t->next = NULL;
	t->prev = p->tail[list];
	if (t->prev)
		t->prev->next = t;
	else
		p->head[list] = t;
	p->tail[list] = t;
	if (list < TND_WHEEL_SLOTS)
		p->nwheel++;
}

void tnd_timer_wheel_init(struct tnd_poller *p, int64_t now_us)
{
	p->wheel_ms = now_us / 1000;
	p->next_valid = 0;
}

/* A handler of this pass shares its clock read; anyone else (another
 * GSource, a job) may run long after the wake-up and reads the clock. */
int64_t tnd_timer_clock_us(struct tnd_poller *p)
{
	if (!p->in_pass)
		p->now_us = g_get_monotonic_time();
	return p->now_us;
}

static void arm(struct tnd_poller *p, struct tnd_timer *t, int64_t due_us, tnd_timer_h *fn,
		int64_t now_us)
{
	int64_t d;

	tnd_timer_stop(p, t);
	t->fn = fn;
	t->due_us = due_us;
	d = due_ms(t);
	/* an empty wheel may skip ahead (after a long idle no walk over it);
	 * not during a walk, whose position wheel_ms is */
	if (!p->nwheel && !p->walking && now_us / 1000 > p->wheel_ms)
		p->wheel_ms = now_us / 1000;
	if (due_us <= now_us || d <= p->wheel_ms) {
		append(p, t, TND_WHEEL_READY + p->ready);
		return;
	}
	append(p, t, (unsigned)(d & (TND_WHEEL_SLOTS - 1)));
	if (p->next_valid && d < p->next_ms)
		p->next_ms = d;
}

void tnd_timer_start_at(struct tnd_poller *p, struct tnd_timer *t, int64_t due_us,
			tnd_timer_h *fn)
{
	arm(p, t, due_us, fn, tnd_timer_clock_us(p));
}

void tnd_timer_start(struct tnd_poller *p, struct tnd_timer *t, uint32_t ms, tnd_timer_h *fn)
{
	int64_t now = tnd_timer_clock_us(p);

	arm(p, t, now + (int64_t)ms * 1000, fn, now);
}

void tnd_timer_stop(struct tnd_poller *p, struct tnd_timer *t)
{
	if (!t->fn)
		return;
	if (p->cursor == t)
		p->cursor = t->next;
	unlink_timer(p, t);
	t->fn = NULL;
}

static void fire(struct tnd_poller *p, struct tnd_timer *t)
{
	tnd_timer_h *fn = t->fn;

	/* disarmed first: the handler may restart or free it */
	unlink_timer(p, t);
	t->fn = NULL;
	p->st.timers++;
	fn(t, p->now_us);
}

/* The slot of millisecond m: fires the timers due at m (d == m; a timer of
 * a later turn has d > m). */
static void walk_slot(struct tnd_poller *p, int64_t m)
{
	unsigned s = (unsigned)(m & (TND_WHEEL_SLOTS - 1));

	for (struct tnd_timer *t = p->head[s]; t; t = p->cursor) {
		p->cursor = t->next;
		if (due_ms(t) <= m)
			fire(p, t);
	}
	p->cursor = NULL;
}

/* The earliest slot timer's due ms: the first slot, from wheel_ms on, holding
 * a timer of this turn; failing that, the least of all (each was seen). */
static void find_next(struct tnd_poller *p)
{
	int64_t best = INT64_MAX;

	for (int64_t m = p->wheel_ms + 1; m <= p->wheel_ms + TND_WHEEL_SLOTS; m++) {
		for (struct tnd_timer *t = p->head[m & (TND_WHEEL_SLOTS - 1)]; t; t = t->next) {
			int64_t d = due_ms(t);

			if (d < best)
				best = d;
		}
		if (best == m)
			break;
	}
	p->next_ms = best;
	p->next_valid = 1;
}

void tnd_timer_run(struct tnd_poller *p)
{
	int64_t now_ms = p->now_us / 1000, m;
	unsigned r = TND_WHEEL_READY + p->ready;
	struct tnd_timer *t;

	p->ready ^= 1;
	while ((t = p->head[r]))
		fire(p, t);
	if (now_ms <= p->wheel_ms)
		return;
	if (!p->nwheel || (p->next_valid && now_ms < p->next_ms)) {
		p->wheel_ms = now_ms;   /* nothing due up to now: no walk */
		return;
	}
	/* nothing is due before next_ms: a long gap is skipped up to it */
	if (now_ms - p->wheel_ms > TND_WHEEL_SLOTS) {
		if (!p->next_valid)
			find_next(p);
		if (p->next_ms - 1 > p->wheel_ms)
			p->wheel_ms = p->next_ms - 1 < now_ms ? p->next_ms - 1 : now_ms;
	}
	/* Every millisecond in turn, also after a stall of several turns (a
	 * check of an empty slot costs next to nothing): each timer fires at
	 * m == d, so in due order. wheel_ms moves with the walk, so a handler's
	 * start for a time already walked goes to the ready list. */
	m = p->wheel_ms;
	p->walking = 1;
	while (m < now_ms) {
		p->wheel_ms = ++m;
		walk_slot(p, m);
	}
	p->walking = 0;
	p->next_valid = 0;
}

int tnd_timer_timeout_ms(struct tnd_poller *p, int64_t now_us)
{
	int64_t us;

	if (p->head[TND_WHEEL_READY] || p->head[TND_WHEEL_READY + 1])
		return 0;
	if (!p->nwheel)
		return -1;
	if (!p->next_valid)
		find_next(p);
	us = p->next_ms * 1000 - now_us;
	if (us <= 0)
		return 0;
	us = (us + 999) / 1000;
	return us > INT_MAX ? INT_MAX : (int)us;
}
