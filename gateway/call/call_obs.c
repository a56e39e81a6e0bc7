/* The call lifecycle as CDRs, call events and admin requests see it
 * (docs/operations.md): timestamps, who ended the call, the codecs, and the
 * media figures the call's worker counted, handed to the observer in
 * tnd_calls_env. Signalling thread.
 *
 * `ended` waits for the worker's figures: tnd_call_end queues a stats
 * query before it closes the bridge (commands run in order, so the query
 * sees the call's last packets), and the snapshot is reported when the
 * answer comes back. Snapshots still waiting when the registry is freed
 * (shutdown) are reported then, without figures, so no call is ever left
 * out of the CDRs. Invariant: each snapshot is reported at most once. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway/call/call_int.h"

/* A call frozen for a later report: its own copies of every string. */
struct call_snap {
	struct tnd_obj obj;
	struct tnd_calls *calls;       /* borrowed; NULL once reported or freed */
	tnd_call_info_h *h;            /* admin query; NULL: the `ended` report */
	void *arg;                     /* ref, with h */
	struct tnd_call_info info;     /* points into strs */
	char *strs[12];                /* owned */
};

static void snap_destroy(void *data)
{
	struct call_snap *s = data;

	for (size_t i = 0; i < G_N_ELEMENTS(s->strs); i++)
		g_free(s->strs[i]);
	tnd_obj_put(s->arg);
}

static const char *by_name(enum call_by by)
{
	switch (by) {
	case CALL_BY_BROWSER: return "browser";
	case CALL_BY_SIP: return "sip";
	case CALL_BY_GATEWAY: return "gateway";
	case CALL_BY_NONE: break;
	}
	return "";
}

static const char *state_name(const struct tnd_call *call)
{
	switch (call->phase) {
	case CALL_SETUP: return "setup";
	case CALL_PROGRESS: return call->ringing_us ? "ringing" : "trying";
	case CALL_ANSWERED: return "answered";
	case CALL_ENDED: break;
	}
	return "ended";
}

static const char *str(const char *s)
{
	return s ? s : "";
}

/* The call's borrowed view (valid while the call is unchanged). */
static void fill(const struct tnd_call *call, struct tnd_call_info *in)
{
	memset(in, 0, sizeof(*in));
	in->id = call->id;
	in->sip_call_id = call->sip_call_id ? call->sip_call_id :
		call->sip ? str(tnd_sipcall_id(call->sip)) : "";
	in->user = str(call->user ? call->user : call->use_user ? call->use_user :
		       call->from_user);
	if (call->dir == CALL_OUT)
		in->from = str(call->from_user);
	else
		in->from = str(call->from_uri);
	in->to = str(call->to);
	in->direction = call->dir == CALL_OUT ? "outbound" : "inbound";
	in->trunk = "";
	in->state = state_name(call);
	in->start_us = call->start_us;
	in->ringing_us = call->ringing_us;
	in->answer_us = call->answer_us;
	in->ended_by = call->phase == CALL_ENDED ? by_name(call->by) : "";
	in->reason = "";
	in->codec_webrtc = call->codec_webrtc;
	in->codec_sip = call->codec_sip;
	in->media_mode = !*call->codec_webrtc ? "" : call->transcoded ? "transcoded" : "pass-through";
	for (unsigned i = 0; i < 2; i++)
		in->leg[i].rtt_ms = -1;
}

static struct call_snap *snap_new(const struct tnd_call *call, const char *reason)
{
	struct call_snap *s = tnd_obj_zalloc(sizeof(*s), snap_destroy);
	struct tnd_call_info *in;
	const char **f[12];
	size_t n = 0;

	if (!s)
		return NULL;
	in = &s->info;
	fill(call, in);
	in->reason = str(reason);
	f[n++] = &in->id;
	f[n++] = &in->sip_call_id;
	f[n++] = &in->user;
	f[n++] = &in->from;
	f[n++] = &in->to;
	f[n++] = &in->reason;
	f[n++] = &in->codec_webrtc;
	f[n++] = &in->codec_sip;
	/* the rest are static strings */
	for (size_t i = 0; i < n; i++) {
		s->strs[i] = g_strdup(*f[i]);
		*f[i] = s->strs[i];
	}
	return s;
}

static void report(const struct tnd_calls *calls, enum tnd_call_event ev,
		   const struct tnd_call_info *info)
{
	const struct tnd_call_observer *o = calls->env.observer;

	if (o && o->event)
		o->event(calls->env.observer_arg, ev, info);
}

void tnd_call_emit(struct tnd_call *call, enum tnd_call_event ev)
{
	struct tnd_call_info info;
	int64_t now = g_get_real_time();

	if (!call->calls)
		return;
	switch (ev) {
	case TND_CALL_EV_CREATED:
		if (call->told_created)
			return;
		call->told_created = true;
		call->start_us = call->start_us ? call->start_us : now;
		/* the limits' copy goes when the call ends; the CDR needs it then */
		call->user = g_strdup(call->use_user ? call->use_user : call->from_user);
		break;
	case TND_CALL_EV_RINGING:
		if (call->ringing_us)
			return;   /* 180 then 183: the call rang once */
		call->ringing_us = now;
		break;
	case TND_CALL_EV_ANSWERED:
		call->answer_us = now;
		break;
	default:
		break;
	}
	fill(call, &info);
	report(call->calls, ev, &info);
}

void tnd_call_by(struct tnd_call *call, enum call_by by)
{
	if (call->by == CALL_BY_NONE)
		call->by = by;
}

void tnd_call_set_codecs(struct tnd_call *call, const char *webrtc, unsigned wclock,
			 const char *sip, unsigned sclock)
{
	snprintf(call->codec_webrtc, sizeof(call->codec_webrtc), "%s/%u", webrtc, wclock);
	snprintf(call->codec_sip, sizeof(call->codec_sip), "%s/%u", sip, sclock);
}

static void copy_stats(struct tnd_call_info *in, const struct tnd_bridge_figs *st)
{
	in->has_media = st->valid;
	for (unsigned i = 0; st->valid && i < 2; i++) {
		in->leg[i].packets_in = st->leg[i].packets_in;
		in->leg[i].packets_out = st->leg[i].packets_out;
		in->leg[i].bytes_in = st->leg[i].bytes_in;
		in->leg[i].lost = st->leg[i].lost;
		in->leg[i].jitter_ms = st->leg[i].jitter_ms;
		in->leg[i].rtt_ms = st->leg[i].rtt_ms;
	}
}

/* Reports an ended call's snapshot once, and forgets it. */
static void snap_report(struct call_snap *s)
{
	struct tnd_calls *calls = s->calls;

	if (!calls)
		return;
	s->calls = NULL;
	report(calls, TND_CALL_EV_ENDED, &s->info);
	if (g_ptr_array_remove_fast(calls->ending, s))
		tnd_obj_put(s);
}

static void on_end_stats(void *arg, const struct tnd_bridge_figs *st)
{
	struct call_snap *s = arg;

	copy_stats(&s->info, st);
	snap_report(s);
}

void tnd_call_emit_ended(struct tnd_call *call, int code, const char *reason)
{
	struct tnd_calls *calls = call->calls;
	struct call_snap *s;

	if (!calls)
		return;
	tnd_call_by(call, CALL_BY_GATEWAY);
	/* refused before it was whole (a bad offer): still a call, in order */
	tnd_call_emit(call, TND_CALL_EV_CREATED);
	if (call->sip && !call->sip_call_id)
		call->sip_call_id = g_strdup(tnd_sipcall_id(call->sip));
	s = snap_new(call, reason);
	if (!s)
		return;
	s->info.code = code;
	s->info.end_us = g_get_real_time();
	s->info.state = "ended";
	s->info.ended_by = by_name(call->by);
	s->calls = calls;
	g_ptr_array_add(calls->ending, s);   /* takes the new reference */
	if (!call->br || tnd_bridge_stats_query(call->br, on_end_stats, s))
		snap_report(s);
}

void tnd_call_obs_init(struct tnd_calls *calls)
{
	calls->ending = g_ptr_array_new();
}

void tnd_call_obs_free(struct tnd_calls *calls)
{
	/* shutdown: the workers' answers would come too late; an `ended`
	 * without figures beats a call missing from the CDRs */
	while (calls->ending && calls->ending->len)
		snap_report(g_ptr_array_index(calls->ending, 0));
	if (calls->ending)
		g_ptr_array_free(calls->ending, TRUE);
	calls->ending = NULL;
}

/* ------------------------------------------------------------ admin */

void tnd_calls_foreach(struct tnd_calls *calls, tnd_call_info_h *h, void *arg)
{
	GHashTableIter it;
	gpointer v;

	g_hash_table_iter_init(&it, calls->by_id);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		struct tnd_call_info info;

		fill(v, &info);
		h(arg, &info);
	}
}

static void on_query_stats(void *arg, const struct tnd_bridge_figs *st)
{
	struct call_snap *s = arg;

	copy_stats(&s->info, st);
	s->h(s->arg, &s->info);
}

int tnd_calls_query(struct tnd_calls *calls, const char *id, tnd_call_info_h *h, void *arg,
		    char *msg, size_t msglen)
{
	struct tnd_call *call = tnd_call_find(calls, id);
	struct call_snap *s;
	int err = 0;

	if (!call) {
		snprintf(msg, msglen, "params.call: no call '%.64s'", id ? id : "");
		return ENOENT;
	}
	s = snap_new(call, "");
	if (!s)
		return ENOMEM;
	s->h = h;
	s->arg = tnd_obj_get(arg);
	if (!call->br || tnd_bridge_stats_query(call->br, on_query_stats, s))
		h(arg, &s->info);   /* no media yet: answer with what there is */
	tnd_obj_put(s);
	return err;
}

int tnd_calls_kill(struct tnd_calls *calls, const char *id, const char *reason, char *msg,
		   size_t msglen)
{
	struct tnd_call *call = tnd_call_find(calls, id);
	int code;

	if (!call) {
		snprintf(msg, msglen, "params.call: no call '%.64s'", id ? id : "");
		return ENOENT;
	}
	tnd_call_by(call, CALL_BY_GATEWAY);
	if (call->phase == CALL_ANSWERED)
		code = 200;
	else if (call->dir == CALL_OUT)
		code = call->phase == CALL_PROGRESS ? 487 : 0;
	else
		code = 480;
	/* an incoming call not yet answered: the SIP caller gets 480 too */
	if (call->dir == CALL_IN && call->phase != CALL_ANSWERED && call->sip)
		tnd_sipcall_reject(call->sip, 480, NULL);
	tnd_call_end(call, code, reason);
	return 0;
}
