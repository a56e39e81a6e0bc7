/* An INVITE with Replaces (RFC 3891) takes a call's SIP leg over: the
 * other half of an attended transfer done by SIP phones (RFC 5589 section
 * 7), or a pickup of a call the browser placed that still rings.
 * Signalling thread.
 *
 * sip/ has matched the dialog (sip/replaces.c) and the source passed
 * admission as any INVITE does. The browser keeps its WebRTC leg and gets
 * no new offer: our answer to the new INVITE comes from the call's SIP RTP
 * socket, the bridge is routed to the new peer's offer (relayed or
 * transcoded, as for a new call), the old dialog gets BYE (CANCEL when it
 * was still ringing) and the browser `call.state` `answered` with reason
 * "replaced by <uri>". Refusals leave the old call as it was. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway/base/log.h"
#include "gateway/call/call_int.h"

static void on_refused_ended(void *arg, struct tnd_sipcall *sip, int status,
			     const char *phrase, enum tnd_sipcall_end why)
{
	(void)arg;
	(void)sip;
	(void)status;
	(void)phrase;
	(void)why;
}

static const struct tnd_sipcall_handlers refused_leg = {
	.ended = on_refused_ended,
};

static void on_ended(void *arg, struct tnd_sipcall *sip, int status, const char *phrase,
		     enum tnd_sipcall_end why)
{
	struct tnd_call *call = arg;

	if (sip != call->sip)
		return;
	tnd_call_by(call, CALL_BY_SIP);
	tnd_call_end(call, status, phrase && *phrase ? phrase : tnd_sipcall_end_name(why));
}

/* The new leg for the rest of the call: it holds and re-INVITEs as any
 * call's SIP leg (call_hold.c). */
static const struct tnd_sipcall_handlers new_leg = {
	.ended = on_ended, .info = tnd_call_on_info, .reoffer = tnd_call_on_reoffer,
	.reack = tnd_call_on_reack, .reanswered = tnd_call_on_reanswered,
};

/* Refuses the new INVITE with `status`; the old call goes on. */
static int refuse(struct tnd_sipcall *sip, int status, const char *call_id, const char *why)
{
	TND_LOG_NOTICE(TND_LOG_SIP, "INVITE replacing call %s refused (%d): %s", call_id, status,
		       why);
	tnd_sipcall_set_handlers(sip, &refused_leg, NULL);
	tnd_sipcall_reject(sip, status, NULL);
	return 0;
}

static struct tnd_call *owner_of(struct tnd_calls *calls, const struct tnd_sipcall *sip)
{
	GHashTableIter it;
	gpointer key, value;

	g_hash_table_iter_init(&it, calls->by_id);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		struct tnd_call *call = value;

		if (call->sip == sip && call->phase != CALL_ENDED)
			return call;
	}
	return NULL;
}

/* The browser leg as negotiated: from its SDPs while the call rings, from
 * what was routed once answered (the SDPs are gone then). */
struct webrtc_side {
	struct tnd_sdp_neg wn;
	struct tnd_sdp_codec codec, te;
	char name[sizeof(((struct call_route *)0)->codec)];
};

static int webrtc_side(const struct tnd_call *call, struct webrtc_side *w, char *msg,
		       size_t msglen)
{
	memset(w, 0, sizeof(*w));
	if (call->phase != CALL_ANSWERED)
		return tnd_sdp_negotiated(&w->wn, call->webrtc_offer, call->webrtc_answer, msg,
					  msglen);
	snprintf(w->name, sizeof(w->name), "%s", call->route.codec);
	w->codec = (struct tnd_sdp_codec){ .pt = call->route.webrtc_pt, .name = w->name,
					   .clock = call->route.clock,
					   .channels = call->route.channels };
	w->wn.codec = &w->codec;
	if (call->route.webrtc_te_clock) {
		w->te = (struct tnd_sdp_codec){ .pt = call->route.webrtc_te_pt, .channels = 1,
						.clock = call->route.webrtc_te_clock,
						.name = "telephone-event" };
		w->wn.dtmf = &w->te;
	}
	return 0;
}

/* Our answer to the new INVITE's offer, and the bridge routed to it. */
static int route_to(struct tnd_call *call, const char *sdp, char **textp, char *msg,
		    size_t msglen)
{
	struct tnd_sdp *offer = NULL, *answer = NULL;
	struct webrtc_side w;
	struct tnd_sdp_local l;
	enum call_dir dir = call->dir;
	bool late = call->late_offer;
	int err;

	err = tnd_sdp_parse(&offer, sdp, strlen(sdp), msg, msglen);
	if (!err)
		err = webrtc_side(call, &w, msg, msglen);
	if (err)
		goto out;
	tnd_call_local(call, &l, false);
	l.port = call->rtp_port;
	l.rtcp_port = (uint16_t)(call->rtp_port + 1);
	call->sess_version++;
	l.sess_version = call->sess_version;
	/* the browser's hold stays; the old peer's hold went with its dialog */
	l.dir = call->held_local ? TND_SDP_SENDONLY : TND_SDP_SENDRECV;
	err = tnd_sdp_answer_sip(&answer, offer, &l, msg, msglen);
	if (err)
		goto out;
	/* tnd_call_route reads the peer's media from the offer when the
	 * call's direction says the peer offered, as this one did */
	call->dir = CALL_IN;
	call->late_offer = false;
	err = tnd_call_route(call, offer, answer, &w.wn, msg, msglen);
	call->dir = dir;
	call->late_offer = late;
	if (err)
		goto out;
	call->held_remote = false;
	err = tnd_bridge_hold(call->br, call->held_local, call->held_local);
	if (!err)
		/* hold music: to C while the browser holds; none to the
		 * browser now that B's hold is gone (call_moh.c) */
		tnd_call_moh_update(call, call->held_local, false);
	if (!err) {
		*textp = tnd_call_sdp_text(answer);
		err = *textp ? 0 : ENOMEM;
	}
 out:
	tnd_sdp_free(offer);
	tnd_sdp_free(answer);
	return err;
}

int tnd_call_replace(struct tnd_calls *calls, struct tnd_sipcall *sip,
		     const struct tnd_sipcall_info *info)
{
	struct tnd_call *call = owner_of(calls, info->replaces);
	struct tnd_sipcall *old;
	char msg[CALL_MSG] = "", reason[160], *text = NULL;
	bool ringing;
	int err;

	if (!call)
		/* a dialog no call owns any more (lingering): gone for us */
		return refuse(sip, 481, "-", "no call holds that dialog");
	ringing = call->phase == CALL_PROGRESS && call->dir == CALL_OUT;
	if (call->is_test || !call->br || call->xfer || call->hold_pending || call->early ||
	    call->reattaching || !(ringing || call->phase == CALL_ANSWERED) ||
	    (ringing && (call->late_offer || call->done || !call->webrtc_answer)) ||
	    (!ringing && !*call->route.codec))
		/* mid-way through another change of its SIP leg */
		return refuse(sip, 486, call->id, "the call is busy with another change");
	if (!info->sdp)
		return refuse(sip, 488, call->id, "no SDP offer (a late offer is not taken here)");
	if (call->sdes.installed)
		/* the SIP socket holds the old peer's SDES keys; a new peer
		 * would need a new socket and keys (RFC 4568 7.1.4) */
		return refuse(sip, 488, call->id, "the call's SIP leg uses SDES-SRTP");
	err = route_to(call, info->sdp, &text, msg, sizeof(msg));
	if (err)
		return refuse(sip, err == ENOMEM ? 500 : 488, call->id, msg);
	tnd_sipcall_set_handlers(sip, &new_leg, call);
	err = tnd_sipcall_answer(sip, text);
	g_free(text);
	if (err) {
		/* the bridge already points at the new peer: the call cannot
		 * go back, so it ends */
		TND_LOG_WARN(TND_LOG_SIP, "call %s: cannot answer the replacing INVITE: %s",
			     call->id, strerror(err));
		tnd_sipcall_set_handlers(sip, &refused_leg, NULL);
		tnd_call_by(call, CALL_BY_GATEWAY);
		tnd_call_end(call, 500, "replacement failed");
		return EIO;
	}
	old = call->sip;
	call->sip = tnd_obj_get(sip);
	/* BYE, or CANCEL while it rang (RFC 3891 section 3); the old peer's
	 * dialog finishes on its own */
	tnd_sipcall_detach(old);
	tnd_call_linger(calls, old);
	tnd_obj_put(old);
	/* the new remote identity: who called us, or whom we reach now */
	if (call->dir == CALL_IN) {
		g_free(call->from_uri);
		g_free(call->from_display);
		call->from_uri = g_strdup(info->from_uri);
		call->from_display = g_strdup(info->from_display);
	} else {
		g_free(call->to);
		call->to = g_strdup(info->from_uri);
	}
	TND_LOG_INFO(TND_LOG_SIP, "call %s: SIP leg replaced by %s (RFC 3891)", call->id,
		     info->from_uri);
	if (ringing)
		tnd_call_answered(call);
	tnd_call_emit(call, TND_CALL_EV_TRANSFERRED);
	snprintf(reason, sizeof(reason), "replaced by %.140s", info->from_uri);
	tnd_call_notify(call, "answered", 200, reason);
	return 0;
}
