/* Calls from SIP to browsers: an INVITE for sip:alice@gateway rings every
 * WebSocket alice is logged in on (an `incoming` notification with our
 * offer); the first `answer` wins and the others get `ended` with "answered
 * elsewhere"; alice offline gets 480 (protocol.md). An INVITE to the Contact
 * of a registration (call_reg.c) rings the user who registered it. One
 * media bridge serves every alerted browser, since only the one that
 * answers uses it.
 *
 * The SIP caller offers; we pick the first of our codecs it offers and
 * offer the browsers that codec alone (pass-through), at the caller's
 * payload types. RFC 3261 13 (INVITE), RFC 3264 (offer/answer). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/call/call_int.h"
#include "gateway/conf.h"

static void answer_sip(struct tnd_call *call, int err, uint16_t rtp_port);

static void on_sip_ended(void *arg, struct tnd_sipcall *sip, int status, const char *phrase,
			 enum tnd_sipcall_end why)
{
	struct tnd_call *call = arg;

	(void)sip;
	tnd_call_by(call, CALL_BY_SIP);
	tnd_call_end(call, status, phrase ? phrase : tnd_sipcall_end_name(why));
}

static void on_sip_ack(void *arg, struct tnd_sipcall *sip)
{
	struct tnd_call *call = arg;

	(void)sip;
	if (call->late_offer)
		tnd_call_late_ack(call);
}

static const struct tnd_sipcall_handlers sip_handlers = {
	.ack = on_sip_ack, .ended = on_sip_ended, .info = tnd_call_on_info,
	/* call_hold.c */
	.reoffer = tnd_call_on_reoffer, .reack = tnd_call_on_reack,
	.reanswered = tnd_call_on_reanswered,
};

static void on_refused_ended(void *arg, struct tnd_sipcall *sip, int status,
			     const char *phrase, enum tnd_sipcall_end why)
{
	(void)arg;
	(void)sip;
	(void)status;
	(void)phrase;
	(void)why;
}

/* a call refused at once by a [calls] limit: nothing to tell anyone */
static const struct tnd_sipcall_handlers refused_handlers = {
	.ended = on_refused_ended,
};

/* No answer within [calls] ring_timeout: the caller gets 480 (RFC 3261
 * 21.4.18, "no answer"), the browsers `ended` 480. */
static gboolean on_ring_timeout(gpointer data)
{
	struct tnd_call *call = data;
	char reason[64];

	g_source_unref(call->ring_timer);
	call->ring_timer = NULL;
	if (call->owner && !call->early)
		return G_SOURCE_REMOVE;   /* answered: the SIP 200 is on its way */
	snprintf(reason, sizeof(reason), "no answer within %d s",
		 call->calls->env.conf->calls_ring_timeout);
	TND_LOG_INFO(TND_LOG_SIP, "call %s: %s (480)", call->id, reason);
	tnd_call_by(call, CALL_BY_GATEWAY);
	if (call->sip)
		tnd_sipcall_reject(call->sip, 480, NULL);
	tnd_call_end(call, 480, reason);
	return G_SOURCE_REMOVE;
}

static void start_ring_timer(struct tnd_call *call)
{
	const struct tnd_calls_env *env = &call->calls->env;

	/* the registry holds the call until it ends, and ending destroys the
	 * timer: the borrowed pointer cannot dangle */
	call->ring_timer = g_timeout_source_new((guint)env->conf->calls_ring_timeout * 1000u);
	g_source_set_callback(call->ring_timer, on_ring_timeout, call, NULL);
	g_source_attach(call->ring_timer, tnd_loop_context(env->signal));
}

/* The codec the SIP offer and we agree on, from a trial answer. */
static int pick_codec(struct tnd_call *call, struct tnd_sdp **answerp, struct tnd_sdp_neg *n,
		      char *msg, size_t msglen)
{
	struct tnd_sdp_local l;
	int err;

	tnd_call_local(call, &l, false);
	if (!l.port)
		l.port = 9;   /* trial only: the real port comes with the media */
	err = tnd_sdp_answer_sip(answerp, call->sip_offer, &l, msg, msglen);
	if (!err)
		err = tnd_sdp_negotiated(n, call->sip_offer, *answerp, msg, msglen);
	/* refused before any browser rings: media we could never send */
	if (!err)
		err = tnd_sdp_conn_check(tnd_sdp_media_conn(call->sip_offer, n->offer_m), msg,
					 msglen);
	return err;
}

/* Set-up failed before any browser heard of the call: the caller gets the
 * status (ending alone would detach the dialog, which answers 480). */
static void refuse(struct tnd_call *call, int code, const char *reason)
{
	tnd_call_by(call, CALL_BY_GATEWAY);
	if (call->sip)
		tnd_sipcall_reject(call->sip, code, NULL);
	tnd_call_end(call, code, reason);
}

static void on_ready(void *arg, int err, const char *ufrag, const char *pwd,
		     const char *const *cands, bool complete, uint16_t rtp_port)
{
	struct tnd_call *call = arg;
	const struct tnd_call_sink *sink = call->calls->env.sink;
	struct tnd_sdp_codec_pref want[4];
	struct tnd_sdp *trial = NULL;
	struct tnd_sdp_local l;
	struct tnd_sdp_neg sn;
	char msg[CALL_MSG], *offer = NULL;

	if (call->reattaching) {
		tnd_call_reattach_ready(call, err, ufrag, pwd, cands, complete);
		return;
	}
	if (call->phase != CALL_SETUP) {
		/* the second `ready`: the SIP-side socket for our answer */
		answer_sip(call, err, rtp_port);
		return;
	}
	if (err) {
		TND_LOG_WARN(TND_LOG_MEDIA, "call %s: media set-up failed: %s", call->id,
			     strerror(err));
		refuse(call, 503, "Service Unavailable");
		return;
	}
	call->rtp_port = rtp_port;
	err = call->late_offer ? 0 : pick_codec(call, &trial, &sn, msg, sizeof(msg));
	if (err) {
		tnd_sdp_free(trial);
		refuse(call, 488, "Not Acceptable Here");
		return;
	}
	tnd_call_local_webrtc(call, &l, &(struct tnd_call_ice){ ufrag, pwd, cands, complete });
	/* the SIP side's codec when browsers have it, and Opus (call_codec.c) */
	l.codecs = want;
	l.n_codecs = call->late_offer ? tnd_call_late_webrtc_prefs(call, want) :
		     tnd_call_webrtc_offer_prefs(want, sn.codec, sn.dtmf);
	err = tnd_sdp_offer_webrtc(&call->webrtc_offer, &l);
	tnd_sdp_free(trial);
	offer = err ? NULL : tnd_call_sdp_text(call->webrtc_offer);
	if (!offer) {
		refuse(call, 500, "Server Internal Error");
		return;
	}
	call->phase = CALL_PROGRESS;
	for (unsigned i = 0; i < call->n_ringing; i++)
		sink->incoming(call->ringing[i], call->id, call->from_uri, call->from_display,
			       call->to, offer, (const char *const *)call->hdr_names,
			       (const char *const *)call->hdr_values,
			       g_strv_length(call->hdr_names));
	g_free(offer);
	tnd_call_emit(call, TND_CALL_EV_RINGING);
	if (call->sip)
		tnd_sipcall_ringing(call->sip, NULL);
}

static void on_candidate(void *arg, const char *cand)
{
	struct tnd_call *call = arg;
	const struct tnd_call_sink *sink = call->calls->env.sink;

	if (call->phase == CALL_SETUP)
		return;
	if (call->owner) {
		sink->candidate(call->owner, call->id, cand);
		return;
	}
	for (unsigned i = 0; i < call->n_ringing; i++)
		sink->candidate(call->ringing[i], call->id, cand);
}

static void on_state(void *arg, enum tnd_bridge_state state, int err)
{
	struct tnd_call *call = arg;

	if (state == TND_BRIDGE_CONNECTED) {
		TND_LOG_INFO(TND_LOG_MEDIA, "call %s: browser media connected", call->id);
		return;
	}
	if (tnd_call_media_grace(call, state))
		return;
	if (state == TND_BRIDGE_SIP_SILENT || state == TND_BRIDGE_WEBRTC_SILENT) {
		tnd_call_media_silent(call, state == TND_BRIDGE_SIP_SILENT);
		return;
	}
	TND_LOG_NOTICE(TND_LOG_MEDIA, "call %s: browser media %s: %s", call->id,
		       state == TND_BRIDGE_CLOSED ? "closed" : "failed", strerror(err));
	tnd_call_end(call, 0, state == TND_BRIDGE_CLOSED ? "browser media closed" :
		     "browser media failed");
}

static const struct tnd_bridge_events bridge_events = {
	.ready = on_ready, .candidate = on_candidate, .state = on_state,
	.dtmf = tnd_call_on_dtmf,
};

/* Over 80 lines: the admission steps (drain, lookup, limits, SDP, codec,
 * media) run in order with an early return each, which reads best as one. */
int tnd_call_incoming(void *arg, struct tnd_sipcall *sip, const struct tnd_sipcall_info *info)
{
	struct tnd_calls *calls = arg;
	/* from a trunk: only its DIDs (call_trunk.c), never any user by name;
	 * a call to a registered Contact rings the registration's user */
	int terr = 0;
	bool treg = false;   /* to a trunk's registered Contact (call_trunk_reg.c) */
	const struct tnd_trunk *trunk = NULL;
	const char *did = info->reg_arg ?
			  tnd_call_trunk_reg_inbound(calls, info, &treg, &terr, &trunk) :
			  tnd_call_trunk_inbound(calls, info->source, info->ruri_user, &terr,
						 &trunk);
	const char *user = did ? did : treg ? NULL :
			   info->reg_arg ? tnd_call_reg_user(calls, info->reg_arg) :
			   info->ruri_user;
	void *conns[CALL_MAX_RING];
	struct tnd_sdp *offer = NULL, *trial = NULL;
	struct tnd_sdp_neg sn;
	struct tnd_call *call;
	char msg[CALL_MSG];
	size_t n;
	int err;

	/* RFC 3891: not a new call but a new peer for one (call_replace.c),
	 * whoever the Request-URI names */
	if (info->replaces)
		return tnd_call_replace(calls, sip, info);
	if (terr)
		return terr;
	if (!user)
		return ENOENT;
	if (calls->draining) {
		/* RFC 3261 21.5.4: a proxy or client tries elsewhere; this
		 * gateway is gone within drain_timeout */
		TND_LOG_RL(TND_LOG_SIP, INFO, "INVITE for %s refused (503): draining",
			   user);
		tnd_sipcall_set_handlers(sip, &refused_handlers, NULL);
		tnd_sipcall_reject_retry(sip, 503, "Draining",
					 (unsigned)calls->env.conf->calls_drain_timeout);
		return 0;
	}
	n = calls->env.lookup(calls->env.lookup_arg, user, conns, CALL_MAX_RING);
	if (!n) {
		TND_LOG_INFO(TND_LOG_SIP, "INVITE for %s: not logged in (480)", user);
		return EAGAIN;
	}
	/* before any parsing or media: a flood must cost the least */
	err = tnd_call_limit_in(calls, user);
	if (err) {
		tnd_sipcall_set_handlers(sip, &refused_handlers, NULL);
		tnd_sipcall_reject(sip, err, NULL);
		return 0;
	}
	/* no SDP: a late offer, made by us in the 200 (call_early.c) */
	err = info->sdp ? tnd_sdp_parse(&offer, info->sdp, strlen(info->sdp), msg,
					sizeof(msg)) : 0;
	if (err) {
		TND_LOG_NOTICE(TND_LOG_SIP, "INVITE for %s: bad SDP: %s", user, msg);
		return err == ENOTSUP ? ENOTSUP : EINVAL;
	}
	err = tnd_call_new(&call, calls, CALL_IN);
	if (err) {
		tnd_sdp_free(offer);
		return EBUSY;
	}
	call->sip_offer = offer;
	call->late_offer = !offer;
	/* a trunk's codecs and SRTP policy, as for calls out through it */
	if (did && trunk && tnd_call_trunk_in_media(call, trunk)) {
		tnd_call_end(call, 503, "Service Unavailable");
		tnd_obj_put(call);
		return EBUSY;
	}
	err = call->late_offer ? 0 : pick_codec(call, &trial, &sn, msg, sizeof(msg));
	tnd_sdp_free(trial);
	if (err) {
		TND_LOG_NOTICE(TND_LOG_SIP, "INVITE for %s: %s (488)", user, msg);
		tnd_call_end(call, 488, "Not Acceptable Here");
		tnd_obj_put(call);
		return ENOTSUP;
	}
	call->sip = tnd_obj_get(sip);
	tnd_sipcall_set_handlers(sip, &sip_handlers, call);
	tnd_call_count_ring(call, user);
	start_ring_timer(call);
	for (size_t i = 0; i < n; i++)
		call->ringing[call->n_ringing++] = tnd_obj_get(conns[i]);
	call->from_uri = g_strdup(info->from_uri);
	call->from_display = g_strdup(info->from_display);
	call->to = g_strdup(info->to_uri);
	call->hdr_names = g_new0(char *, info->n_headers + 1);
	call->hdr_values = g_new0(char *, info->n_headers + 1);
	for (size_t i = 0; i < info->n_headers; i++) {
		call->hdr_names[i] = g_strdup(info->headers[i].name);
		call->hdr_values[i] = g_strdup(info->headers[i].value);
	}
	tnd_call_emit(call, TND_CALL_EV_CREATED);
	err = tnd_call_media(call, true, &bridge_events);
	if (err) {
		/* the dialog is ours now: end it ourselves, and keep handlers on
		 * it (detaching inside the incoming handler is an error to sip/) */
		tnd_sipcall_reject(sip, 503, NULL);
		tnd_sipcall_set_handlers(sip, &refused_handlers, NULL);
		call->sip = tnd_obj_put(call->sip);
		tnd_call_end(call, 503, "Service Unavailable");
		tnd_obj_put(call);
		return 0;
	}
	TND_LOG_INFO(TND_LOG_SIP, "call %s: %s calls %s on %zu WebSocket(s)", call->id,
		     info->from_uri, user, n);
	tnd_obj_put(call);
	return 0;
}

/* ------------------------------------------------------------ requests */

static struct tnd_call *ringing_call(struct tnd_calls *calls, void *conn, const char *id,
				     char *msg, size_t msglen, int *errp)
{
	struct tnd_call *call = tnd_call_find(calls, id);

	*errp = ENOENT;
	if (!call || call->dir != CALL_IN) {
		snprintf(msg, msglen, "params.call: no incoming call '%.64s'", id);
		return NULL;
	}
	for (unsigned i = 0; i < call->n_ringing; i++) {
		if (call->ringing[i] != conn)
			continue;
		if (call->owner || call->phase != CALL_PROGRESS) {
			snprintf(msg, msglen, "call %s is not ringing", id);
			*errp = EALREADY;
			return NULL;
		}
		return call;
	}
	snprintf(msg, msglen, call->owner ? "call %s was answered elsewhere" :
		 "params.call: call %s does not ring here", id);
	*errp = call->owner ? EALREADY : ENOENT;
	return NULL;
}

/* Our SDP answer to the SIP caller for the browser's negotiation `wn`, at
 * `port` (9 for a trial before the socket exists). 0 or an errno with why. */
static int sip_answer(struct tnd_call *call, const struct tnd_sdp_neg *wn, uint16_t port,
		      struct tnd_sdp **answerp, char *why, size_t whylen)
{
	struct tnd_sdp_local l;

	/* the offerer's first codec we serve, whatever the browser took: the
	 * bridge relays or transcodes (tnd_call_route) */
	(void)wn;
	tnd_call_local(call, &l, false);
	l.port = port;
	l.rtcp_port = (uint16_t)(port + 1);
	return tnd_sdp_answer_sip(answerp, call->sip_offer, &l, why, whylen);
}

/* The SIP-side socket asked for in tnd_calls_answer is up (or failed):
 * the SIP caller gets our 200, the browser `answered`, or both `ended`. */
static void answer_sip(struct tnd_call *call, int err, uint16_t rtp_port)
{
	struct tnd_sdp *answer = NULL;
	struct tnd_sdp_neg wn;
	char why[CALL_MSG] = "", *text = NULL;

	if (!err)
		err = tnd_sdp_negotiated(&wn, call->webrtc_offer, call->webrtc_answer, why,
					 sizeof(why));
	call->rtp_port = rtp_port;
	if (!err && call->late_offer) {
		/* 200 with our offer; answered once the ACK brings the answer */
		err = tnd_call_late_200(call, why, sizeof(why));
		if (!err)
			return;
	}
	if (!err)
		err = sip_answer(call, &wn, rtp_port, &answer, why, sizeof(why));
	if (!err)
		err = tnd_call_route(call, call->sip_offer, answer, &wn, why, sizeof(why));
	if (!err) {
		text = tnd_call_sdp_text(answer);
		if (!text)
			err = ENOMEM;
		else if (call->early)
			err = tnd_call_early_sent(call, g_steal_pointer(&text));
		else
			err = tnd_sipcall_answer(call->sip, text);
	}
	g_free(text);
	tnd_sdp_free(answer);
	if (!err && call->early)
		return;       /* the 183 went (call_early.c): the 200 waits for `answer` */
	if (err) {
		TND_LOG_WARN(TND_LOG_MEDIA, "call %s: cannot answer the SIP caller: %s", call->id,
			     *why ? why : strerror(err));
		refuse(call, 503, "cannot answer the SIP caller");
		return;
	}
	tnd_call_answered(call);
	tnd_call_notify(call, "answered", 200, "OK");
}

/* The browser's answer (`answer`, or `progress` when early) takes the
 * call: its WebRTC leg is set, and the SIP-side socket is asked for; its
 * `ready` sends the 200 or 183 (answer_sip). */
static int take_call(struct tnd_calls *calls, void *conn, const char *id, const char *sdp,
		     bool early, char *msg, size_t msglen)
{
	const struct tnd_call_sink *sink = calls->env.sink;
	struct tnd_sdp *answer = NULL, *trial = NULL;
	struct tnd_sdp_neg wn;
	struct tnd_call *call;
	char why[CALL_MSG] = "", fp[256];
	int err;

	call = ringing_call(calls, conn, id, msg, msglen, &err);
	if (!call)
		return err;
	if (!sdp) {
		snprintf(msg, msglen, "params.sdp: missing");
		return EINVAL;
	}
	if (early && call->late_offer) {
		/* a 183 would carry our offer, answered in a PRACK nua keeps */
		snprintf(msg, msglen, "no early media on a call whose INVITE had no SDP offer");
		return ENOTSUP;
	}
	err = tnd_sdp_parse(&answer, sdp, strlen(sdp), why, sizeof(why));
	if (!err)
		err = tnd_sdp_negotiated(&wn, call->webrtc_offer, answer, why, sizeof(why));
	if (err) {
		snprintf(msg, msglen, "params.sdp: %s", why);
		tnd_sdp_free(answer);
		return err == EBADMSG ? EINVAL : ENOTSUP;
	}
	/* the first answer wins */
	call->owner = tnd_obj_get(conn);
	for (unsigned i = 0; i < call->n_ringing; i++) {
		if (call->ringing[i] != conn)
			sink->state(call->ringing[i], call->id, "ended", 0, "answered elsewhere");
		tnd_obj_put(call->ringing[i]);
	}
	call->n_ringing = 0;
	call->webrtc_answer = answer;
	call->early = early;
	if (early)
		call->early_webrtc_sdp = g_strdup(sdp);

	tnd_call_reneg_keep(call, call->webrtc_offer, wn.answer_m, !wn.answerer_dtls_client);
	snprintf(fp, sizeof(fp), "%s %s", wn.answer_m->fp.alg, wn.answer_m->fp.value);
	/* the browser answered: our DTLS role is the opposite of its setup */
	err = tnd_bridge_webrtc_remote(call->br, wn.answer_m->ice.ufrag, wn.answer_m->ice.pwd,
				       fp, !wn.answerer_dtls_client);
	for (unsigned i = 0; !err && i < wn.answer_m->n_cands; i++)
		err = tnd_bridge_webrtc_candidate(call->br, wn.answer_m->cands[i]);
	if (!err && wn.answer_m->end_of_cands)
		err = tnd_bridge_webrtc_candidate(call->br, NULL);
	/* a trial now, so a browser answer we cannot relay fails this request;
	 * the real one waits for the SIP-side socket (answer_sip) */
	if (!err && !call->late_offer)
		err = sip_answer(call, &wn, 9, &trial, why, sizeof(why));
	tnd_sdp_free(trial);
	if (!err)
		err = tnd_bridge_swap_sip_leg(call->br);
	if (err) {
		/* the bridge and sip/ calls say nothing in `why` (review L7) */
		snprintf(msg, msglen, "cannot answer the SIP caller: %s",
			 *why ? why : strerror(err));
		tnd_sipcall_reject(call->sip, 488, NULL);
		return ENOTSUP;
	}
	return 0;
}

int tnd_calls_answer(struct tnd_calls *calls, void *conn, const char *id, const char *sdp,
		     char *msg, size_t msglen)
{
	struct tnd_call *call = tnd_call_find(calls, id);

	if (call && call->dir == CALL_IN && call->early && call->owner == conn)
		return tnd_call_early_answer(call, sdp, msg, msglen);
	return take_call(calls, conn, id, sdp, false, msg, msglen);
}

int tnd_calls_progress(struct tnd_calls *calls, void *conn, const char *id, const char *sdp,
		       char *msg, size_t msglen)
{
	return take_call(calls, conn, id, sdp, true, msg, msglen);
}

int tnd_calls_reject(struct tnd_calls *calls, void *conn, const char *id, int code,
		     char *msg, size_t msglen)
{
	struct tnd_call *call;
	int err;

	if (code < 400 || code > 699 || code == 401 || code == 407) {
		snprintf(msg, msglen, "params.code must be a SIP status 400-699 (not 401/407)");
		return EINVAL;
	}
	call = ringing_call(calls, conn, id, msg, msglen, &err);
	if (!call)
		return err;
	tnd_call_by(call, CALL_BY_BROWSER);
	return tnd_sipcall_reject(call->sip, code, NULL);
}
