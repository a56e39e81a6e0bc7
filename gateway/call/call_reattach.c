/* Calls that outlive their WebSocket (protocol.md "Reattaching calls",
 * issue 12 item 3). Signalling thread.
 *
 * When the owner's WebSocket goes, a call with a user that is past set-up
 * is detached: no owner, a grace timer of [calls] reattach_grace seconds,
 * and the browser leg's failure or silence ignored (the grace decides). A
 * new WebSocket of the same user may bind it again (`reattach`): with the
 * surviving RTCPeerConnection nothing else changes; with a new offer (the
 * page was reloaded) the bridge gets a new WebRTC leg (new ICE and DTLS,
 * tnd_bridge_swap_webrtc_leg) routed to the SIP leg's payload types, and
 * the SIP leg is never touched. Pass-through only: the new offer must hold
 * the codec the SIP leg carries (else 488; no re-INVITE).
 *
 * Invariant: detached == (owner == NULL && grace_timer != NULL) for a call
 * that has not ended. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/call/call_int.h"
#include "gateway/conf.h"

/* How long a call whose browser media closed or failed waits for its
 * WebSocket to go too (a page reload) before it ends as before. */
#define LOST_HOLD_MS 1000

static void stop_timer(GSource **t)
{
	if (*t) {
		g_source_destroy(*t);
		g_source_unref(*t);
		*t = NULL;
	}
}

void tnd_call_grace_stop(struct tnd_call *call)
{
	stop_timer(&call->grace_timer);
	stop_timer(&call->lost_timer);
	call->detached = false;
}

static gboolean on_lost(gpointer data)
{
	struct tnd_call *call = data;

	g_source_unref(call->lost_timer);
	call->lost_timer = NULL;
	/* the socket stayed: the browser really closed its pc (or lost it) */
	tnd_call_end(call, 0, call->lost_closed ? "browser media closed" :
		     "browser media failed");
	return G_SOURCE_REMOVE;
}

static bool detachable(const struct tnd_call *call)
{
	return call->calls->env.conf->calls_reattach_grace > 0 && call->use_user && call->br &&
	       call->owner && call->phase != CALL_SETUP && call->phase != CALL_ENDED;
}

static gboolean on_grace_end(gpointer data)
{
	struct tnd_call *call = data;
	char reason[64];

	g_source_unref(call->grace_timer);
	call->grace_timer = NULL;
	snprintf(reason, sizeof(reason), "browser gone for %d s",
		 call->calls->env.conf->calls_reattach_grace);
	TND_LOG_NOTICE(TND_LOG_MEDIA, "call %s: %s", call->id, reason);
	/* ending detaches the SIP dialog: BYE after the answer, CANCEL before
	 * (a call from SIP is detached only once answered by a browser) */
	tnd_call_end(call, call->phase == CALL_ANSWERED ? 200 : 487, reason);
	return G_SOURCE_REMOVE;
}

bool tnd_call_detach(struct tnd_call *call)
{
	const struct tnd_calls_env *env = &call->calls->env;
	int grace = env->conf->calls_reattach_grace;

	if (!detachable(call))
		return false;
	/* a reattach still waiting for its new leg: nobody is left to answer */
	if (call->done) {
		call->done = NULL;
		call->req = tnd_obj_put(call->req);
	}
	call->owner = tnd_obj_put(call->owner);
	tnd_call_count_conn(call, NULL);
	tnd_call_grace_stop(call);
	call->detached = true;
	/* milliseconds: a seconds source may fire up to a second early */
	call->grace_timer = g_timeout_source_new((guint)grace * 1000u);
	g_source_set_callback(call->grace_timer, on_grace_end, call, NULL);
	g_source_attach(call->grace_timer, tnd_loop_context(env->signal));
	TND_LOG_INFO(TND_LOG_MEDIA, "call %s: WebSocket gone, kept %d s for a reattach",
		     call->id, grace);
	return true;
}

bool tnd_call_media_grace(struct tnd_call *call, enum tnd_bridge_state state)
{
	if (state != TND_BRIDGE_FAILED && state != TND_BRIDGE_CLOSED &&
	    state != TND_BRIDGE_WEBRTC_SILENT)
		return false;
	if (!call->detached && !call->reattaching) {
		if (state == TND_BRIDGE_WEBRTC_SILENT || !detachable(call))
			return false;
		if (!call->lost_timer) {
			call->lost_closed = state == TND_BRIDGE_CLOSED;
			call->lost_timer = g_timeout_source_new(LOST_HOLD_MS);
			g_source_set_callback(call->lost_timer, on_lost, call, NULL);
			g_source_attach(call->lost_timer,
					tnd_loop_context(call->calls->env.signal));
		}
		return true;
	}
	/* the page went (or is coming back with a new pc): its old pc closing,
	 * failing consent or falling silent is expected, the grace decides */
	TND_LOG_INFO(TND_LOG_MEDIA, "call %s: browser media %s while %s: ignored", call->id,
		     state == TND_BRIDGE_CLOSED ? "closed" : state == TND_BRIDGE_FAILED ?
		     "failed" : "silent", call->detached ? "detached" : "reattaching");
	return true;
}

/* ------------------------------------------------------------ listing */

void tnd_calls_detached(struct tnd_calls *calls, const char *user, tnd_call_brief_h *h,
			void *arg)
{
	GHashTableIter it;
	gpointer v;

	if (!calls || !user || !h)
		return;
	g_hash_table_iter_init(&it, calls->by_id);
	while (g_hash_table_iter_next(&it, NULL, &v)) {
		const struct tnd_call *call = v;

		if (!call->detached || !call->use_user || strcmp(call->use_user, user))
			continue;
		h(arg, &(struct tnd_call_brief){
			.call = call->id,
			.state = *call->state ? call->state : "trying",
			.peer = call->dir == CALL_OUT ? call->to : call->from_uri,
			.incoming = call->dir == CALL_IN,
		});
	}
}

/* ------------------------------------------------------------ reattach */

/* The codec (and telephone-event) a new WebRTC leg must carry: the one
 * routed to the SIP leg, or before that the one the browser leg agreed on
 * (the SIP offer carries it alone). */
static int wanted(const struct tnd_call *call, struct tnd_sdp_codec *codec,
		  struct tnd_sdp_codec *dtmf, bool *has_dtmf)
{
	struct tnd_sdp_neg wn;
	char why[CALL_MSG];

	memset(codec, 0, sizeof(*codec));
	memset(dtmf, 0, sizeof(*dtmf));
	*has_dtmf = false;
	if (*call->route.codec) {
		codec->name = call->route.codec;
		codec->clock = call->route.clock;
		codec->channels = call->route.channels;
		*has_dtmf = call->route.dtmf;
		dtmf->name = "telephone-event";
		dtmf->clock = call->route.dtmf_clock;
		dtmf->channels = 1;
		return 0;
	}
	if (!call->webrtc_offer || !call->webrtc_answer ||
	    tnd_sdp_negotiated(&wn, call->webrtc_offer, call->webrtc_answer, why, sizeof(why)))
		return EALREADY;
	/* borrowed from the call's SDPs, which live until the leg is routed */
	*codec = *wn.codec;
	if (wn.dtmf) {
		*dtmf = *wn.dtmf;
		*has_dtmf = true;
	}
	return 0;
}

/* Our answer to the reloaded page's offer: the call's codec alone. ice
 * NULL: a probe with stand-in ICE values, before anything is torn down. */
static int answer_offer(struct tnd_call *call, const struct tnd_sdp *offer,
			const struct tnd_call_ice *ice, struct tnd_sdp **answerp, char *msg,
			size_t msglen)
{
	struct tnd_sdp_codec codec, dtmf;
	struct tnd_sdp_codec_pref want[2];
	struct tnd_sdp_local l;
	char why[CALL_MSG];
	bool has_dtmf;
	int err;

	err = wanted(call, &codec, &dtmf, &has_dtmf);
	if (err) {
		snprintf(msg, msglen, "call %s has no media to reattach to yet", call->id);
		return err;
	}
	if (ice) {
		tnd_call_local_webrtc(call, &l, ice);
	} else {
		tnd_call_local(call, &l, true);
		l.ice_ufrag = "probe";
		l.ice_pwd = "probeprobeprobeprobepr";
	}
	l.codecs = want;
	l.n_codecs = tnd_call_prefs(want, &codec, has_dtmf ? &dtmf : NULL, false);
	err = tnd_sdp_answer_webrtc(answerp, offer, &l, why, sizeof(why));
	if (err == ENOTSUP)
		snprintf(msg, msglen, "params.sdp: the call's SIP leg carries %s/%u, which the "
			 "new offer lacks (%s)", codec.name, codec.clock, why);
	else if (err)
		snprintf(msg, msglen, "params.sdp: %s", why);
	return err == ENOTSUP ? ENOTSUP : err ? EINVAL : 0;
}

/* Gives the new leg the browser's ICE and DTLS side and routes it to the
 * SIP leg's payload types. */
static int start_leg(struct tnd_call *call, const struct tnd_sdp_neg *wn)
{
	const struct tnd_sdp_media *om = wn->offer_m;
	struct tnd_bridge_pt pts[2];
	char fp[256];
	unsigned n = 0;
	int err;

	snprintf(fp, sizeof(fp), "%s %s", om->fp.alg, om->fp.value);
	err = tnd_bridge_webrtc_remote(call->br, om->ice.ufrag, om->ice.pwd, fp,
				       wn->answerer_dtls_client);
	for (unsigned i = 0; !err && i < om->n_cands; i++)
		err = tnd_bridge_webrtc_candidate(call->br, om->cands[i]);
	if (!err && om->end_of_cands)
		err = tnd_bridge_webrtc_candidate(call->br, NULL);
	if (err || !*call->route.codec)
		return err;   /* not routed yet: the SIP answer routes the new offer */
	if (call->transcoded) {
		/* the transcoder stays; it sends the browser leg the PT it was
		 * set up with, which a reloaded page of the same browser keeps */
		if (wn->codec->pt != call->route.webrtc_pt) {
			TND_LOG_WARN(TND_LOG_MEDIA, "call %s: the new leg numbers %s %u, the "
				     "transcoder sends %u", call->id, wn->codec->name,
				     wn->codec->pt, call->route.webrtc_pt);
			return ENOTSUP;
		}
		return 0;
	}
	/* the reloaded page may number its payload types differently */
	pts[n++] = (struct tnd_bridge_pt){ wn->codec->pt, call->route.sip_pt, call->route.clock };
	if (call->route.dtmf && wn->dtmf)
		pts[n++] = (struct tnd_bridge_pt){ wn->dtmf->pt, call->route.dtmf_sip_pt,
						   call->route.dtmf_clock };
	return tnd_bridge_route(call->br, pts, n);
}

static void reattach_fail(struct tnd_call *call, tnd_call_done_h *done, void *req,
			  const char *msg)
{
	done(req, EBUSY, msg, NULL, NULL);
	tnd_obj_put(req);
	/* the old leg is gone and the new one is not usable: nothing carries
	 * the browser's side any more */
	tnd_call_end(call, call->phase == CALL_ANSWERED ? 200 : 487, msg);
}

void tnd_call_reattach_ready(struct tnd_call *call, int err, const char *ufrag,
			     const char *pwd, const char *const *cands, bool complete)
{
	tnd_call_done_h *done = call->done;
	void *req = call->req;
	struct tnd_sdp *offer = call->reattach_offer, *answer = NULL;
	struct tnd_sdp_neg wn;
	char msg[CALL_MSG] = "", *text = NULL;

	call->reattaching = false;
	call->reattach_offer = NULL;
	call->done = NULL;
	call->req = NULL;
	if (!done) {
		/* its WebSocket went meanwhile: the leg waits for the next one */
		tnd_sdp_free(offer);
		return;
	}
	tnd_obj_get(call);
	call->sess_version++;
	if (err)
		snprintf(msg, sizeof(msg), "new media leg failed: %s", strerror(err));
	else
		err = answer_offer(call, offer, &(struct tnd_call_ice){ ufrag, pwd, cands,
				   complete }, &answer, msg, sizeof(msg));
	if (!err)
		err = tnd_sdp_negotiated(&wn, offer, answer, msg, sizeof(msg));
	if (!err)
		err = start_leg(call, &wn);
	if (!err)
		tnd_call_reneg_keep(call, answer, wn.offer_m, wn.answerer_dtls_client);
	if (!err)
		text = tnd_call_sdp_text(answer);
	if (err || !text) {
		if (!*msg)
			snprintf(msg, sizeof(msg), "cannot start the new media leg: %s",
				 strerror(err ? err : ENOMEM));
		reattach_fail(call, done, req, msg);
		tnd_sdp_free(offer);
		tnd_sdp_free(answer);
		tnd_obj_put(call);
		return;
	}
	if (call->phase != CALL_ANSWERED && !*call->route.codec) {
		/* a SIP answer still to come negotiates against this leg */
		tnd_sdp_free(call->webrtc_offer);
		tnd_sdp_free(call->webrtc_answer);
		call->webrtc_offer = offer;
		call->webrtc_answer = answer;
	} else {
		tnd_sdp_free(offer);
		tnd_sdp_free(answer);
	}
	TND_LOG_INFO(TND_LOG_MEDIA, "call %s: new browser leg answered", call->id);
	done(req, 0, NULL, call->id, text);
	tnd_obj_put(req);
	g_free(text);
	tnd_obj_put(call);
}

/* The call on conn from now on; its earlier live WebSocket loses it. */
static void bind_conn(struct tnd_call *call, void *conn)
{
	const struct tnd_call_sink *sink = call->calls->env.sink;

	tnd_call_grace_stop(call);
	if (call->owner != conn) {
		if (call->owner) {
			TND_LOG_INFO(TND_LOG_MEDIA, "call %s: taken over by another WebSocket",
				     call->id);
			sink->state(call->owner, call->id, "ended", 0, "taken over");
			call->owner = tnd_obj_put(call->owner);
		}
		call->owner = tnd_obj_get(conn);
		tnd_call_count_conn(call, conn);
	}
}

static struct tnd_call *reattachable(struct tnd_calls *calls, const char *user, const char *id,
				     char *msg, size_t msglen, int *errp)
{
	struct tnd_call *call = tnd_call_find(calls, id);

	if (!call || call->phase == CALL_ENDED) {
		snprintf(msg, msglen, "params.call: no call '%.64s'", id);
		*errp = ENOENT;
		return NULL;
	}
	if (!user || !call->use_user || strcmp(user, call->use_user)) {
		snprintf(msg, msglen, "params.call: call %s is another user's", call->id);
		*errp = EPERM;
		return NULL;
	}
	/* a call from SIP between `answer` and our 200 waits for its SIP-side
	 * socket's `ready`, which a new leg's would be mistaken for */
	if (call->phase == CALL_SETUP || call->reattaching || call->done ||
	    (!call->owner && !call->detached) ||
	    (call->dir == CALL_IN && call->phase != CALL_ANSWERED)) {
		snprintf(msg, msglen, "call %s cannot be reattached now: it is %s", call->id,
			 call->reattaching || call->done ? "getting a new media leg" :
			 call->phase == CALL_SETUP ? "being set up" :
			 !call->owner && !call->detached ? "ringing (answer it)" :
			 "being answered");
		*errp = EALREADY;
		return NULL;
	}
	return call;
}

int tnd_calls_reattach(struct tnd_calls *calls, void *conn, const char *user, const char *id,
		       const char *sdp, tnd_call_done_h *done, void *req, char *msg,
		       size_t msglen)
{
	struct tnd_sdp *offer = NULL, *probe = NULL;
	struct tnd_call *call;
	char why[CALL_MSG];
	int err;

	if (!calls || !conn || !id || !done) {
		snprintf(msg, msglen, "params.call is required");
		return EINVAL;
	}
	call = reattachable(calls, user, id, msg, msglen, &err);
	if (!call)
		return err;
	if (!sdp) {
		bind_conn(call, conn);
		TND_LOG_INFO(TND_LOG_MEDIA, "call %s: reattached", call->id);
		done(req, 0, NULL, call->id, NULL);
		return 0;
	}
	err = tnd_sdp_parse(&offer, sdp, strlen(sdp), why, sizeof(why));
	if (err) {
		snprintf(msg, msglen, "params.sdp: %s", why);
		return err == ENOTSUP ? ENOTSUP : EINVAL;
	}
	/* an offer we cannot use gets its 488 before the old leg goes */
	err = answer_offer(call, offer, NULL, &probe, msg, msglen);
	tnd_sdp_free(probe);
	if (err) {
		tnd_sdp_free(offer);
		return err;
	}
	bind_conn(call, conn);
	call->reattach_offer = offer;
	call->reattaching = true;
	call->done = done;
	call->req = tnd_obj_get(req);
	err = tnd_bridge_swap_webrtc_leg(call->br);
	if (err) {
		call->reattaching = false;
		call->done = NULL;
		call->req = tnd_obj_put(call->req);
		tnd_sdp_free(call->reattach_offer);
		call->reattach_offer = NULL;
		snprintf(msg, msglen, "cannot make a new media leg: %s", strerror(err));
		return err == ENOMEM ? ENOMEM : EBUSY;
	}
	TND_LOG_INFO(TND_LOG_MEDIA, "call %s: reattaching with a new browser leg", call->id);
	return 0;
}

/* ------------------------------------------------------------ logout */

void tnd_calls_logout(struct tnd_calls *calls, void *conn)
{
	GList *all = g_hash_table_get_values(calls->by_id);

	for (GList *l = all; l; l = l->next) {
		struct tnd_call *call = l->data;

		if (call->owner == conn) {
			/* as hangup: the owner is told, CANCEL or BYE goes out */
			tnd_call_end(call, call->phase == CALL_ANSWERED ? 200 :
				     call->phase == CALL_PROGRESS ? 487 : 0, "logged out");
			continue;
		}
		for (unsigned i = 0; !call->owner && i < call->n_ringing; i++) {
			if (call->ringing[i] != conn)
				continue;
			call->calls->env.sink->state(conn, call->id, "ended", 0, "logged out");
			tnd_obj_put(call->ringing[i]);
			call->ringing[i] = call->ringing[--call->n_ringing];
			if (!call->n_ringing)
				tnd_call_end(call, 480, "Temporarily Unavailable");
			break;
		}
	}
	g_list_free(all);
	/* the user's registrations outlive a logout by the same grace as a
	 * closed socket, then go unless another socket of the user is open */
	tnd_call_regs_conn_gone(calls, conn);
}
