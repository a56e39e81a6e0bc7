/* Graceful drain (docs/operations.md): from tnd_calls_drain_start on, new
 * calls are refused both ways (`call` gets EBUSY, an INVITE 503 with
 * Retry-After), the calls up carry on, and the owner's drained callback
 * runs from the loop once the last one has ended, or once [calls]
 * drain_timeout has passed and the rest were ended as on SIGTERM.
 * Signalling thread only. Invariant: drained runs at most once. */
#include <errno.h>

#include "gateway/base/log.h"
#include "gateway/call/call_int.h"
#include "gateway/conf.h"

static gboolean on_drained(gpointer data)
{
	struct tnd_calls *calls = data;

	g_source_destroy(calls->drain_idle);
	g_source_unref(calls->drain_idle);
	calls->drain_idle = NULL;
	if (calls->drain_timer) {
		g_source_destroy(calls->drain_timer);
		g_source_unref(calls->drain_timer);
		calls->drain_timer = NULL;
	}
	calls->drain_done = true;
	TND_LOG_NOTICE(TND_LOG_MAIN, "drain finished: no calls left");
	if (calls->env.drained)
		calls->env.drained(calls->env.drained_arg);
	return G_SOURCE_REMOVE;
}

void tnd_call_drain_check(struct tnd_calls *calls)
{
	if (!calls->draining || calls->drain_done || calls->drain_idle ||
	    g_hash_table_size(calls->by_id))
		return;
	/* from the loop: we may be inside a call's own callback here */
	calls->drain_idle = g_idle_source_new();
	g_source_set_callback(calls->drain_idle, on_drained, calls, NULL);
	g_source_attach(calls->drain_idle, tnd_loop_context(calls->env.signal));
}

static gboolean on_drain_timeout(gpointer data)
{
	struct tnd_calls *calls = data;

	g_source_unref(calls->drain_timer);
	calls->drain_timer = NULL;
	TND_LOG_WARN(TND_LOG_MAIN, "drain: [calls] drain_timeout passed with %u call(s) up; "
		     "ending them", g_hash_table_size(calls->by_id));
	tnd_calls_hangup_all(calls);
	tnd_call_drain_check(calls);
	return G_SOURCE_REMOVE;
}

int tnd_calls_drain_start(struct tnd_calls *calls)
{
	unsigned secs;

	if (!calls)
		return EINVAL;
	if (calls->draining)
		return EALREADY;
	secs = (unsigned)calls->env.conf->calls_drain_timeout;
	calls->draining = true;
	TND_LOG_NOTICE(TND_LOG_MAIN, "draining: refusing new calls, waiting up to %u s for %u "
		       "call(s)", secs, g_hash_table_size(calls->by_id));
	/* not _seconds: its coarse timer may fire most of a second early */
	calls->drain_timer = g_timeout_source_new(secs * 1000u);
	g_source_set_callback(calls->drain_timer, on_drain_timeout, calls, NULL);
	g_source_attach(calls->drain_timer, tnd_loop_context(calls->env.signal));
	tnd_call_drain_check(calls);
	return 0;
}

bool tnd_calls_draining(const struct tnd_calls *calls)
{
	return calls && calls->draining;
}

void tnd_call_drain_free(struct tnd_calls *calls)
{
	GSource **s[] = { &calls->drain_timer, &calls->drain_idle };

	for (size_t i = 0; i < G_N_ELEMENTS(s); i++) {
		if (*s[i]) {
			g_source_destroy(*s[i]);
			g_source_unref(*s[i]);
			*s[i] = NULL;
		}
	}
}
