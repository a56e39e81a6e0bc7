/* [calls] limits, so no user, WebSocket or SIP caller can pile calls up
 * (review M1; abuse probe "INVITE flood to a logged-in user", "one user's
 * call flood"): browser calls at once per WebSocket and per user, call
 * attempts per second per user (a token bucket), incoming calls ringing at
 * once per user and in total; and the hard cap on how long an ended call's
 * SIP side may take to finish. Signalling thread.
 *
 * Refusals are cheap and come before any media port or SIP transaction is
 * taken. Limits are read from the live configuration at each use, so a
 * SIGHUP applies them to the next call. Entries of idle users are swept
 * once the table doubles, so memory stays bounded by active users. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/call/call_int.h"
#include "gateway/conf.h"

#define PRUNE_MIN 256

/* What one user or one WebSocket holds. */
struct call_use {
	unsigned out;            /* browser calls live */
	unsigned ringing;        /* incoming calls ringing */
	double tokens;           /* call attempts left in the bucket */
	gint64 last_us;          /* when tokens were last refilled */
};

/* A detached dialog waiting for the peer's last answer. */
struct call_linger {
	struct tnd_sipcall *sip;     /* ref */
	gint64 deadline_us;          /* monotonic: forgotten then */
};

#define LINGER_SWEEP_MS 500

int tnd_call_limits_init(struct tnd_calls *calls)
{
	calls->use_by_user = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	calls->use_by_conn = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	calls->lingering = g_ptr_array_new();
	calls->prune_at = PRUNE_MIN;
	return 0;
}

void tnd_call_limits_free(struct tnd_calls *calls)
{
	tnd_call_linger_free(calls);
	g_ptr_array_free(calls->lingering, TRUE);
	g_hash_table_destroy(calls->use_by_user);
	g_hash_table_destroy(calls->use_by_conn);
}

/* Refills the bucket for the time passed; true when it is full. */
static bool refill(const struct tnd_conf *conf, struct call_use *u, gint64 now)
{
	u->tokens += (double)(now - u->last_us) * conf->calls_rate / 1e6;
	if (u->tokens >= conf->calls_burst)
		u->tokens = conf->calls_burst;
	u->last_us = now;
	return u->tokens >= conf->calls_burst;
}

static gboolean idle_use(gpointer key, gpointer value, gpointer data)
{
	struct tnd_calls *calls = data;
	struct call_use *u = value;

	(void)key;
	return !u->out && !u->ringing && refill(calls->env.conf, u, g_get_monotonic_time());
}

static struct call_use *use_of(struct tnd_calls *calls, GHashTable *t, void *key, bool dup)
{
	struct call_use *u = g_hash_table_lookup(t, key);

	if (u)
		return u;
	if (t == calls->use_by_user && g_hash_table_size(t) >= calls->prune_at) {
		g_hash_table_foreach_remove(t, idle_use, calls);
		calls->prune_at = MAX(PRUNE_MIN, 2 * g_hash_table_size(t));
	}
	u = g_new0(struct call_use, 1);
	u->tokens = calls->env.conf->calls_burst;
	u->last_us = g_get_monotonic_time();
	g_hash_table_insert(t, dup ? g_strdup(key) : key, u);
	return u;
}

/* Drops an entry that holds nothing and whose bucket is full again. */
static void release_use(struct tnd_calls *calls, GHashTable *t, void *key)
{
	struct call_use *u = g_hash_table_lookup(t, key);

	if (u && idle_use(key, u, calls))
		g_hash_table_remove(t, key);
}

int tnd_call_limit_out(struct tnd_calls *calls, void *conn, const char *user, char *msg,
		       size_t msglen)
{
	const struct tnd_conf *conf = calls->env.conf;
	struct call_use *cu = use_of(calls, calls->use_by_conn, conn, false);
	/* without a login the WebSocket is the only identity there is */
	struct call_use *uu = user ? use_of(calls, calls->use_by_user, (void *)user, true) : cu;

	if (cu->out >= (unsigned)conf->calls_max_conn) {
		snprintf(msg, msglen, "this WebSocket has %u calls up: [calls] "
			 "max_per_connection is %d", cu->out, conf->calls_max_conn);
		goto refused;
	}
	if (user && uu->out >= (unsigned)conf->calls_max_user) {
		snprintf(msg, msglen, "user %.64s has %u calls up: [calls] max_per_user is %d",
			 user, uu->out, conf->calls_max_user);
		goto refused;
	}
	refill(conf, uu, g_get_monotonic_time());
	if (uu->tokens < 1) {
		snprintf(msg, msglen, "too many call attempts: [calls] rate is %d per second "
			 "(burst %d)", conf->calls_rate, conf->calls_burst);
		goto refused;
	}
	uu->tokens -= 1;
	return 0;
 refused:
	TND_LOG_RL(TND_LOG_API, NOTICE, "call refused (429): %s", msg);
	return EAGAIN;
}

void tnd_call_count_out(struct tnd_call *call, void *conn, const char *user)
{
	struct tnd_calls *calls = call->calls;

	call->use_conn = conn;
	use_of(calls, calls->use_by_conn, conn, false)->out++;
	if (user) {
		call->use_user = g_strdup(user);
		call->counted_out = true;
		use_of(calls, calls->use_by_user, call->use_user, true)->out++;
	}
}

static void uncount_conn(struct tnd_call *call)
{
	struct tnd_calls *calls = call->calls;
	struct call_use *u;

	if (!call->use_conn)
		return;
	u = g_hash_table_lookup(calls->use_by_conn, call->use_conn);
	if (u && u->out)
		u->out--;
	release_use(calls, calls->use_by_conn, call->use_conn);
	call->use_conn = NULL;
}

void tnd_call_count_conn(struct tnd_call *call, void *conn)
{
	struct tnd_calls *calls = call->calls;

	/* only calls placed from a WebSocket count against one */
	if (!calls || call->dir != CALL_OUT)
		return;
	uncount_conn(call);
	call->use_conn = conn;
	if (conn)
		use_of(calls, calls->use_by_conn, conn, false)->out++;
}

int tnd_call_limit_in(struct tnd_calls *calls, const char *user)
{
	const struct tnd_conf *conf = calls->env.conf;
	struct call_use *u = g_hash_table_lookup(calls->use_by_user, user);

	if (calls->ringing >= (unsigned)conf->calls_max_ringing) {
		TND_LOG_RL(TND_LOG_SIP, NOTICE, "INVITE for %s refused (503): %u calls ringing, "
			   "[calls] max_ringing is %d", user, calls->ringing,
			   conf->calls_max_ringing);
		return 503;
	}
	if (u && u->ringing >= (unsigned)conf->calls_max_ringing_user) {
		TND_LOG_RL(TND_LOG_SIP, NOTICE, "INVITE for %s refused (486): %u calls ringing "
			   "for the user, [calls] max_ringing_per_user is %d", user, u->ringing,
			   conf->calls_max_ringing_user);
		return 486;
	}
	return 0;
}

void tnd_call_count_ring(struct tnd_call *call, const char *user)
{
	struct tnd_calls *calls = call->calls;

	call->use_user = g_strdup(user);
	call->counted_ring = true;
	calls->ringing++;
	use_of(calls, calls->use_by_user, call->use_user, true)->ringing++;
}

void tnd_call_uncount_ring(struct tnd_call *call)
{
	struct tnd_calls *calls = call->calls;
	struct call_use *u;

	if (!call->counted_ring || !calls)
		return;
	call->counted_ring = false;
	calls->ringing--;
	u = g_hash_table_lookup(calls->use_by_user, call->use_user);
	if (u)
		u->ringing--;
	release_use(calls, calls->use_by_user, call->use_user);
}

void tnd_call_uncount(struct tnd_call *call)
{
	struct tnd_calls *calls = call->calls;
	struct call_use *u;

	if (!calls)
		return;
	tnd_call_uncount_ring(call);
	uncount_conn(call);
	/* a detached call counts against its user alone */
	if (call->counted_out && call->use_user) {
		u = g_hash_table_lookup(calls->use_by_user, call->use_user);
		if (u && u->out)
			u->out--;
		release_use(calls, calls->use_by_user, call->use_user);
	}
	call->counted_out = false;
	g_free(call->use_user);
	call->use_user = NULL;
}

/* ------------------------------------------------------------ linger */

/* One timer for all lingering dialogs, running only while there are any:
 * a dialog that ended is let go at the next sweep, one still there past
 * its deadline is forgotten (the peer ignores our CANCEL or BYE: abuse
 * probe "hangup before any SIP response"). */
static gboolean on_linger_sweep(gpointer data)
{
	struct tnd_calls *calls = data;
	GPtrArray *a = calls->lingering;
	gint64 now = g_get_monotonic_time();

	for (guint i = 0; i < a->len;) {
		struct call_linger *l = g_ptr_array_index(a, i);

		if (tnd_sipcall_is_live(l->sip) && now < l->deadline_us) {
			i++;
			continue;
		}
		tnd_sipcall_forget(l->sip);
		tnd_obj_put(l->sip);
		g_free(l);
		g_ptr_array_remove_index_fast(a, i);
	}
	if (a->len)
		return G_SOURCE_CONTINUE;
	g_source_unref(calls->linger_timer);
	calls->linger_timer = NULL;
	return G_SOURCE_REMOVE;
}

void tnd_call_linger(struct tnd_calls *calls, struct tnd_sipcall *sip)
{
	struct call_linger *l;

	if (!tnd_sipcall_is_live(sip))
		return;
	l = g_new0(struct call_linger, 1);
	l->sip = tnd_obj_get(sip);
	l->deadline_us = g_get_monotonic_time() +
			 (gint64)calls->env.conf->calls_linger * G_USEC_PER_SEC;
	g_ptr_array_add(calls->lingering, l);
	if (calls->linger_timer)
		return;
	calls->linger_timer = g_timeout_source_new(LINGER_SWEEP_MS);
	g_source_set_callback(calls->linger_timer, on_linger_sweep, calls, NULL);
	g_source_attach(calls->linger_timer, tnd_loop_context(calls->env.signal));
}

void tnd_call_limits_conn_gone(struct tnd_calls *calls, void *conn)
{
	/* its calls have ended: nothing is counted against it any more */
	g_hash_table_remove(calls->use_by_conn, conn);
}

void tnd_call_linger_free(struct tnd_calls *calls)
{
	GPtrArray *a = calls->lingering;

	if (calls->linger_timer) {
		g_source_destroy(calls->linger_timer);
		g_source_unref(calls->linger_timer);
		calls->linger_timer = NULL;
	}
	/* the user agent's shutdown ends what is left of these dialogs */
	for (guint i = 0; i < a->len; i++) {
		struct call_linger *l = g_ptr_array_index(a, i);

		tnd_obj_put(l->sip);
		g_free(l);
	}
	g_ptr_array_set_size(a, 0);
}
