/* Call events (docs/operations.md): each lifecycle event of a call, and each
 * change of a registration (registered, failed, unregistered), becomes
 * one JSON object with the gateway's sequence number and a timestamp, sent
 * as an `event` notification to every admin WebSocket that subscribed
 * (events.subscribe) and POSTed to [events] webhook through its thread.
 * Signalling thread; nothing here waits on the network. The sequence
 * number counts every event of the gateway's life from 1, so a receiver
 * sees both order and gaps (events dropped by a full webhook queue). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/api/api_int.h"
#include "gateway/base/log.h"
#include "gateway/conf.h"

#define FLUSH_GRACE_MS 1000

struct tnd_events {
	struct tnd_api *api;             /* borrowed */
	struct tnd_webhook *hook;        /* owned; NULL until a webhook is set */
};

static const char *const names[] = {
	[TND_CALL_EV_CREATED] = "call.created",
	[TND_CALL_EV_RINGING] = "call.ringing",
	[TND_CALL_EV_ANSWERED] = "call.answered",
	[TND_CALL_EV_HELD] = "call.held",
	[TND_CALL_EV_TRANSFERRED] = "call.transferred",
	[TND_CALL_EV_ENDED] = "call.ended",
	[TND_CALL_EV_RESUMED] = "call.resumed",
};

static int apply(struct tnd_events *ev, const struct tnd_conf *conf)
{
	int err;

	if (!ev->hook && *conf->events_webhook) {
		err = tnd_webhook_alloc(&ev->hook);
		if (err)
			return err;
	}
	if (ev->hook)
		tnd_webhook_set(ev->hook, conf->events_webhook, (unsigned)conf->events_queue,
				(unsigned)conf->events_timeout * 1000u,
				(unsigned)conf->events_retries);
	return 0;
}

int tnd_events_alloc(struct tnd_events **evp, struct tnd_api *api,
		     const struct tnd_conf *conf)
{
	struct tnd_events *ev;
	int err;

	if (!evp || !api || !conf)
		return EINVAL;
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return ENOMEM;
	ev->api = api;
	err = apply(ev, conf);
	if (err) {
		free(ev);
		return err;
	}
	*evp = ev;
	return 0;
}

void tnd_events_set_conf(struct tnd_events *ev, const struct tnd_conf *conf)
{
	if (ev && apply(ev, conf))
		TND_LOG_ERR(TND_LOG_API, "cannot start the webhook of [events]");
}

/* Numbers the event and sends it to subscribers and the webhook. `key`
 * names the subject (what) in the event object; `what` is stolen. */
static void deliver(struct tnd_events *ev, const char *name, const char *key, json_t *what,
		    const char *id)
{
	struct tnd_api *api = ev->api;
	json_t *o;

	o = json_pack("{s:I, s:o, s:s, s:o*}", "seq", (json_int_t)++api->event_seq,
		      "time", tnd_api_iso_time(g_get_real_time()), "event", name, key, what);
	if (!o) {
		/* the number stays used: receivers see the gap */
		TND_LOG_ERR(TND_LOG_API, "event %s of %s lost: cannot encode it", name, id);
		return;
	}
	for (GList *l = api->conns; l; l = l->next) {
		struct tnd_api_conn *conn = l->data;

		/* a reload may have taken the admin role away since */
		if (conn->events && !conn->closing && conn->user &&
		    tnd_api_list_has(api->conf->auth_admins, conn->user, false))
			tnd_api_notify(conn, "event", json_incref(o));
	}
	if (ev->hook) {
		char *body = json_dumps(o, JSON_COMPACT);

		if (body)
			tnd_webhook_post(ev->hook, body);
	}
	json_decref(o);
}

void tnd_events_get_stats(struct tnd_events *ev, struct tnd_events_stats *st)
{
	struct tnd_webhook_stats ws = { 0 };

	memset(st, 0, sizeof(*st));
	if (!ev)
		return;
	if (ev->hook)
		tnd_webhook_get_stats(ev->hook, &ws);
	st->seq = (unsigned long)ev->api->event_seq;
	st->posted = ws.posted;
	st->dropped = ws.dropped;
	st->failed = ws.failed;
	st->queued = ws.queued;
}

void tnd_events_call(struct tnd_events *ev, enum tnd_call_event e,
		     const struct tnd_call_info *info)
{
	if (!ev || !info || (unsigned)e >= G_N_ELEMENTS(names))
		return;
	deliver(ev, names[e], "call", tnd_api_call_json(info), info->id);
}

json_t *tnd_api_reg_json(const struct tnd_reg_info *in)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:I, s:I, s:s, s:o, s:I, s:o}",
			 "registration", in->id, "user", in->user, "aor", in->aor,
			 "registrar", in->registrar, "state", in->state, "code", in->code,
			 "reason", in->reason, "expires", (json_int_t)in->expires,
			 "retry_in", (json_int_t)in->retry_in, "contact", in->contact,
			 "changed", tnd_api_iso_time(in->changed_us),
			 "sockets", (json_int_t)in->sockets,
			 "grace_left", in->grace_left < 0 ? json_null() :
			 json_integer(in->grace_left));
}

void tnd_events_registration(struct tnd_events *ev, const struct tnd_reg_info *info)
{
	char name[48];

	if (!ev || !info)
		return;
	snprintf(name, sizeof(name), "registration.%s", info->state);
	deliver(ev, name, "registration", tnd_api_reg_json(info), info->id);
}

void tnd_events_free(struct tnd_events *ev)
{
	if (!ev)
		return;
	tnd_webhook_free(ev->hook, FLUSH_GRACE_MS);
	free(ev);
}
