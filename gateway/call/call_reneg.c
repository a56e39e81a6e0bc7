/* The browser's `renegotiate` (issue 11 item 4): a new offer from the same
 * RTCPeerConnection on an answered call, either direction.
 *
 * The answer keeps the browser leg's transport (RFC 8829 5.3.2, RFC 8842
 * 5.5, RFC 8843 7.3): our ICE ufrag, pwd and candidates, our fingerprint and
 * the DTLS role already in use; no new DTLS handshake, no ICE restart. An
 * offer that restarts ICE (new ufrag) or asks for a new DTLS association
 * (new fingerprint, or a setup that forces the other role) is refused 488.
 *
 * What changed is applied: a direction other than sendrecv holds the call
 * as `hold` does (call_hold.c: both ways silent; held_local), and the SIP
 * peer gets a re-INVITE offering the browser's direction; sendrecv again
 * resumes. A different codec (or telephone-event) re-routes the bridge
 * (pass-through <-> transcoding) after a re-INVITE that offers the SIP
 * side's codecs with the browser's new one first, so the peer may keep
 * the call pass-through. Our answer goes to the browser once the peer
 * accepted; a refusal reports its status and the call stays as it was.
 * Glare is sip/reinvite.c's: the peer's crossing offer gets 491, ours
 * refused 491 goes again after the RFC 3261 14.1 interval. Nothing
 * material (the same codec and direction): the answer comes at once, no
 * re-INVITE. Signalling thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway/base/log.h"
#include "gateway/call/call_int.h"

struct call_reneg {
	char *ours;                  /* owned (g_): our last SDP on the browser leg */
	char *ufrag;                 /* owned (g_): the browser's ICE ufrag */
	char *fp;                    /* owned (g_): the browser's "alg value" */
	bool dtls_client;            /* our DTLS role: client (setup:active) */
	/* a renegotiation waiting for the SIP peer */
	tnd_call_done_h *done;       /* NULL: none */
	void *req;                   /* ref, with done */
	struct tnd_sdp *offer;       /* owned: the browser's new offer */
	struct tnd_sdp *answer;      /* owned: our answer to it */
	bool want_held;
	unsigned resent;             /* offers rebuilt after the peer's went first */
};

static void pending_clear(struct call_reneg *r)
{
	r->done = NULL;
	r->req = tnd_obj_put(r->req);
	tnd_sdp_free(r->offer);
	tnd_sdp_free(r->answer);
	r->offer = r->answer = NULL;
}

void tnd_call_reneg_free(struct tnd_call *call)
{
	struct call_reneg *r = call->reneg;

	if (!r)
		return;
	pending_clear(r);
	g_free(r->ours);
	g_free(r->ufrag);
	g_free(r->fp);
	g_free(r);
	call->reneg = NULL;
}

void tnd_call_reneg_keep(struct tnd_call *call, const struct tnd_sdp *ours,
			 const struct tnd_sdp_media *browser_m, bool dtls_client)
{
	struct call_reneg *r = call->reneg;
	char *text = tnd_call_sdp_text(ours);

	if (!text || !browser_m || !browser_m->ice.ufrag || !browser_m->fp.alg) {
		TND_LOG_WARN(TND_LOG_MEDIA, "call %s: browser leg not kept: no renegotiation",
			     call->id);
		g_free(text);
		return;
	}
	if (!r)
		r = call->reneg = g_new0(struct call_reneg, 1);
	/* a reloaded page's new pc (reattach): the old pc's offer is moot; its
	 * re-INVITE's answer goes the way of a `hold` (call_hold.c) */
	tnd_call_reneg_stop(call, "the browser leg was replaced (reattach)");
	g_free(r->ours);
	g_free(r->ufrag);
	g_free(r->fp);
	r->ours = text;
	r->ufrag = g_strdup(browser_m->ice.ufrag);
	r->fp = g_strdup_printf("%s %s", browser_m->fp.alg, browser_m->fp.value);
	r->dtls_client = dtls_client;
}

static int parse(const char *text, struct tnd_sdp **sdpp, char *why, size_t whylen)
{
	if (!text) {
		snprintf(why, whylen, "no SDP");
		return EINVAL;
	}
	return tnd_sdp_parse(sdpp, text, strlen(text), why, whylen);
}

/* Our transport on the browser leg: its audio m= line in our last SDP. */
static const struct tnd_sdp_media *our_media(const struct tnd_sdp *ours)
{
	for (unsigned i = 0; i < ours->n_media; i++)
		if (ours->media[i]->type == TND_SDP_MEDIA_AUDIO && ours->media[i]->ice.ufrag)
			return ours->media[i];
	return NULL;
}

/* Answers `offer` with our kept transport: the codec in use when the
 * offer still has it, else the browser's first one we serve. */
static int answer_offer(struct tnd_call *call, const struct tnd_sdp *offer,
			struct tnd_sdp **answerp, char *msg, size_t msglen)
{
	struct call_reneg *r = call->reneg;
	struct tnd_sdp *ours = NULL;
	const struct tnd_sdp_media *om;
	struct tnd_sdp_codec_pref want[2];
	struct tnd_sdp_codec cur, te;
	struct tnd_sdp_local l;
	char why[CALL_MSG];
	int err;

	err = parse(r->ours, &ours, why, sizeof(why));
	if (err || !(om = our_media(ours))) {
		snprintf(msg, msglen, "the browser leg's SDP is lost: %s", err ? why : "no ICE");
		err = EIO;
		goto out;
	}
	tnd_call_local(call, &l, true);
	l.sess_version = ours->sess_version + 1;
	l.ice_ufrag = om->ice.ufrag;
	l.ice_pwd = om->ice.pwd;
	l.cands = om->cands;
	l.n_cands = om->n_cands;
	l.cands_done = om->end_of_cands;
	l.ssrc = tnd_bridge_webrtc_ssrc(call->br);
	err = ENOTSUP;
	if (*call->route.codec) {
		memset(&cur, 0, sizeof(cur));
		memset(&te, 0, sizeof(te));
		cur.name = call->route.codec;
		cur.clock = call->route.clock;
		cur.channels = call->route.channels;
		te.name = "telephone-event";
		te.clock = call->route.webrtc_te_clock;
		l.codecs = want;
		l.n_codecs = tnd_call_prefs(want, &cur, te.clock ? &te : NULL, false);
		err = tnd_sdp_answer_webrtc(answerp, offer, &l, why, sizeof(why));
	}
	if (err == ENOTSUP) {
		/* the codec changes: the browser's preference among ours */
		tnd_call_local(call, &l, true);
		l.sess_version = ours->sess_version + 1;
		l.ice_ufrag = om->ice.ufrag;
		l.ice_pwd = om->ice.pwd;
		l.cands = om->cands;
		l.n_cands = om->n_cands;
		l.cands_done = om->end_of_cands;
		l.ssrc = tnd_bridge_webrtc_ssrc(call->br);
		l.offer_order = true;
		err = tnd_sdp_answer_webrtc(answerp, offer, &l, why, sizeof(why));
	}
	if (err)
		snprintf(msg, msglen, "params.sdp: %s", why);
	err = err == ENOTSUP ? ENOTSUP : err ? EINVAL : 0;
 out:
	tnd_sdp_free(ours);
	return err;
}

/* RFC 8842 5.5 / RFC 8839 4.4.1.1: the offer keeps the transport. Sets
 * our answer's setup to the role in use. ENOTSUP with msg otherwise. */
static int same_transport(struct tnd_call *call, const struct tnd_sdp_neg *wn,
			  char *msg, size_t msglen)
{
	struct call_reneg *r = call->reneg;
	const struct tnd_sdp_media *om = wn->offer_m;
	struct tnd_sdp_media *am = (struct tnd_sdp_media *)wn->answer_m;
	char fp[256];

	if (strcmp(om->ice.ufrag, r->ufrag)) {
		snprintf(msg, msglen, "params.sdp: an ICE restart (new ice-ufrag) is not "
			 "supported: offer the same ICE credentials");
		return ENOTSUP;
	}
	snprintf(fp, sizeof(fp), "%s %s", om->fp.alg, om->fp.value);
	if (strcasecmp(fp, r->fp)) {
		snprintf(msg, msglen, "params.sdp: a new DTLS fingerprint (a new DTLS "
			 "association) is not supported");
		return ENOTSUP;
	}
	if ((om->setup == TND_SDP_SETUP_ACTIVE && r->dtls_client) ||
	    (om->setup == TND_SDP_SETUP_PASSIVE && !r->dtls_client)) {
		snprintf(msg, msglen, "params.sdp: a=setup asks for a new DTLS association "
			 "(we are DTLS %s)", r->dtls_client ? "client" : "server");
		return ENOTSUP;
	}
	/* the role in use, whatever actpass would have picked */
	am->setup = r->dtls_client ? TND_SDP_SETUP_ACTIVE : TND_SDP_SETUP_PASSIVE;
	return 0;
}

static void tell(struct tnd_call *call, bool held, int code, const char *reason)
{
	tnd_call_notify(call, held ? "held" : "resumed", code, reason);
	tnd_call_emit(call, held ? TND_CALL_EV_HELD : TND_CALL_EV_RESUMED);
}

/* Sends our answer to the browser and makes it the leg's last SDP. */
static void finish(struct tnd_call *call, tnd_call_done_h *done, void *req,
		   const struct tnd_sdp *answer)
{
	struct call_reneg *r = call->reneg;
	char *text = tnd_call_sdp_text(answer);

	if (!text) {
		done(req, ENOMEM, "cannot write the answer", NULL, NULL);
		return;
	}
	g_free(r->ours);
	r->ours = g_strdup(text);
	done(req, 0, NULL, call->id, text);
	g_free(text);
}

/* The re-INVITE's offer: our last SIP SDP, version + 1, with `dir`; on a
 * codec change a fresh one with the browser's new codec first when the SIP
 * side serves it. */
static int sip_offer(struct tnd_call *call, enum tnd_sdp_dir dir,
		     const struct tnd_sdp_codec *want, char **textp)
{
	struct tnd_sdp_codec_pref prefs[CALL_MAX_PREFS];
	struct tnd_sdp *last = NULL, *sdp = NULL;
	struct tnd_sdp_local l;
	char why[CALL_MSG];
	size_t n = 0;
	int err;

	err = parse(tnd_sipcall_local_sdp(call->sip), &last, why, sizeof(why));
	if (err)
		return err;
	if (!want) {
		last->sess_version++;
		for (unsigned i = 0; i < last->n_media; i++)
			if (last->media[i]->port)
				last->media[i]->dir = dir;
		*textp = tnd_call_sdp_text(last);
		tnd_sdp_free(last);
		return *textp ? 0 : ENOMEM;
	}
	for (size_t i = 0; i < call->calls->n_sip_prefs; i++) {
		const struct tnd_sdp_codec_pref *p = &call->calls->sip_prefs[i];

		if (!strcasecmp(p->name, want->name) && p->clock == want->clock)
			prefs[n++] = *p;
	}
	for (size_t i = 0; i < call->calls->n_sip_prefs; i++) {
		const struct tnd_sdp_codec_pref *p = &call->calls->sip_prefs[i];

		if (strcasecmp(p->name, want->name) || p->clock != want->clock)
			prefs[n++] = *p;
	}
	tnd_call_local(call, &l, false);
	l.codecs = prefs;
	l.n_codecs = n;
	l.sess_version = last->sess_version + 1;
	l.port = tnd_bridge_port(call->br, 1);
	l.rtcp_port = (uint16_t)(l.port + 1);
	l.dir = dir;
	err = tnd_sdp_offer_sip(&sdp, &l);
	*textp = err ? NULL : tnd_call_sdp_text(sdp);
	if (!err && !*textp)
		err = ENOMEM;
	tnd_sdp_free(sdp);
	tnd_sdp_free(last);
	return err;
}

/* Whether the browser's agreed codec (or telephone-event) differs from
 * what the bridge relays now. */
static bool codec_changed(const struct tnd_call *call, const struct tnd_sdp_neg *wn)
{
	return strcasecmp(wn->codec->name, call->route.codec) ||
	       wn->codec->clock != call->route.clock || wn->codec->pt != call->route.webrtc_pt ||
	       (wn->dtmf ? wn->dtmf->pt : 0) != call->route.webrtc_te_pt;
}

/* The re-INVITE for the browser's offer, built on the SIP session as it
 * stands, sent. 0 or an errno. */
static int send_offer(struct tnd_call *call, const struct tnd_sdp_neg *wn, bool held,
		      bool changed)
{
	char *text = NULL;
	int err;

	err = sip_offer(call, held ? wn->offer_m->dir : TND_SDP_SENDRECV,
			changed ? wn->codec : NULL, &text);
	if (!err)
		err = tnd_call_sip_reinvite(call, text);
	g_free(text);
	return err;
}

static struct tnd_call *owned_call(struct tnd_calls *calls, void *conn, const char *id,
				   char *msg, size_t msglen, int *errp)
{
	struct tnd_call *call = tnd_call_find(calls, id);

	if (!call || call->owner != conn) {
		snprintf(msg, msglen, "params.call: no call '%.64s' on this connection", id);
		*errp = ENOENT;
		return NULL;
	}
	if (call->phase != CALL_ANSWERED || !call->br || (!call->is_test && !call->sip) ||
	    !call->reneg || call->reattaching) {
		snprintf(msg, msglen, "params.call: the call is not answered");
		*errp = EALREADY;
		return NULL;
	}
	if (call->reneg->done || call->hold_pending) {
		snprintf(msg, msglen, "params.call: an offer is under way on the call");
		*errp = EALREADY;
		return NULL;
	}
	return call;
}

int tnd_calls_renegotiate(struct tnd_calls *calls, void *conn, const char *id,
			  const char *sdp, tnd_call_done_h *done, void *req, char *msg,
			  size_t msglen)
{
	struct tnd_sdp *offer = NULL, *answer = NULL;
	struct tnd_call *call;
	struct tnd_sdp_neg wn;
	char why[CALL_MSG];
	bool held, changed;
	int err;

	if (!calls || !conn || !id || !sdp || !done) {
		snprintf(msg, msglen, "params.call and params.sdp are required");
		return EINVAL;
	}
	call = owned_call(calls, conn, id, msg, msglen, &err);
	if (!call)
		return err;
	err = parse(sdp, &offer, why, sizeof(why));
	if (err) {
		snprintf(msg, msglen, "params.sdp: %s", why);
		return err == ENOTSUP ? ENOTSUP : EINVAL;
	}
	err = answer_offer(call, offer, &answer, msg, msglen);
	if (!err && (err = tnd_sdp_negotiated(&wn, offer, answer, why, sizeof(why))))
		snprintf(msg, msglen, "params.sdp: %s", why);
	if (!err)
		err = same_transport(call, &wn, msg, msglen);
	if (err)
		goto out;
	held = wn.offer_m->dir != TND_SDP_SENDRECV;
	changed = codec_changed(call, &wn);
	TND_LOG_INFO(TND_LOG_MEDIA, "call %s: browser offers %s/%u %s%s", call->id,
		     wn.codec->name, wn.codec->clock, tnd_sdp_dir_name(wn.offer_m->dir),
		     changed ? " (codec changed)" : held != call->held_local ? "" :
		     " (nothing changed)");
	if (!changed && held == call->held_local) {
		finish(call, done, req, answer);
		goto out;
	}
	if (call->is_test) {
		if (changed) {
			snprintf(msg, msglen, "params.sdp: a test call keeps its codec (%s)",
				 call->route.codec);
			err = ENOTSUP;
			goto out;
		}
		call->held_local = held;
		tnd_bridge_hold(call->br, held, held);
		tell(call, held, 0, held ? "held" : "resumed");
		finish(call, done, req, answer);
		goto out;
	}
	err = send_offer(call, &wn, held, changed);
	if (err) {
		snprintf(msg, msglen, err == EBUSY || err == EALREADY ?
			 "params.call: an offer is under way on the SIP leg" :
			 "cannot send the re-INVITE: %s", strerror(err));
		err = err == EBUSY || err == EALREADY ? EALREADY : err;
		goto out;
	}
	call->reneg->done = done;
	call->reneg->req = tnd_obj_get(req);
	call->reneg->offer = offer;
	call->reneg->answer = answer;
	call->reneg->want_held = held;
	call->reneg->resent = 0;
	offer = answer = NULL;
 out:
	tnd_sdp_free(offer);
	tnd_sdp_free(answer);
	return err;
}

/* The SIP peer accepted: routes both legs' new agreement and holds or
 * resumes. 0 or an errno with msg. */
static int apply(struct tnd_call *call, const char *sip_answer, char *msg, size_t msglen)
{
	struct call_reneg *r = call->reneg;
	struct tnd_sdp *so = NULL, *sa = NULL;
	const struct tnd_sdp_media *am;
	struct tnd_sdp_neg wn, sn;
	enum call_dir dir = call->dir;
	bool late = call->late_offer, was = call->held_local, no_recv, no_send;
	int err;

	err = parse(call->hold_offer, &so, msg, msglen);
	if (!err)
		err = parse(sip_answer, &sa, msg, msglen);
	if (!err)
		err = tnd_sdp_negotiated(&sn, so, sa, msg, msglen);
	if (!err)
		err = tnd_sdp_negotiated(&wn, r->offer, r->answer, msg, msglen);
	if (err)
		goto out;
	/* tnd_call_route takes the peer's media from the answer when the
	 * call says we offered: this time we did */
	call->dir = CALL_OUT;
	call->late_offer = false;
	err = tnd_call_route(call, so, sa, &wn, msg, msglen);
	call->dir = dir;
	call->late_offer = late;
	if (err)
		goto out;
	am = sn.answer_m;
	no_send = am->dir == TND_SDP_RECVONLY || am->dir == TND_SDP_INACTIVE;
	no_recv = am->dir == TND_SDP_SENDONLY || am->dir == TND_SDP_INACTIVE;
	call->held_local = r->want_held;
	err = tnd_bridge_hold(call->br, call->held_local || no_recv, call->held_local || no_send);
	if (!err)   /* the held party hears the hold music, if any (call_moh.c) */
		tnd_call_moh_update(call, call->held_local && !no_recv,
				    call->held_remote && !call->held_local);
	if (was != call->held_local)
		tell(call, call->held_local, 200, call->held_local ? "held" : "resumed");
	TND_LOG_INFO(TND_LOG_MEDIA, "call %s: renegotiated: %s/%u to the browser, %s/%u to SIP%s",
		     call->id, wn.codec->name, wn.codec->clock, sn.codec->name, sn.codec->clock,
		     call->transcoded ? " (transcoded)" : "");
 out:
	tnd_sdp_free(so);
	tnd_sdp_free(sa);
	return err;
}

bool tnd_call_reneg_answered(struct tnd_call *call, int status, const char *phrase,
			     const char *sdp)
{
	struct call_reneg *r = call->reneg;
	tnd_call_done_h *done;
	char msg[CALL_MSG];
	void *req;
	int err;

	if (!r || !r->done)
		return false;
	call->hold_pending = false;
	if (status == 491 && !sdp && r->resent++ < 2) {
		struct tnd_sdp_neg wn;

		/* the peer's own offer went first while ours waited (sip/
		 * reinvite.c): ours again, on the session as it now stands */
		err = tnd_sdp_negotiated(&wn, r->offer, r->answer, msg, sizeof(msg));
		if (!err)
			err = send_offer(call, &wn, r->want_held, codec_changed(call, &wn));
		if (!err)
			return true;
		TND_LOG_NOTICE(TND_LOG_SIP, "call %s: renegotiation not sent again: %s", call->id,
			       strerror(err));
	}
	done = r->done;
	req = tnd_obj_get(r->req);
	if (status >= 300 || !sdp) {
		snprintf(msg, sizeof(msg), "the SIP peer answered the re-INVITE %d %s", status,
			 phrase ? phrase : "");
		TND_LOG_NOTICE(TND_LOG_SIP, "call %s: %s", call->id, msg);
		pending_clear(r);
		/* a refusal carries the peer's phrase (m_call.c reneg_done) */
		done(req, status >= 300 ? status : EPROTO, status >= 300 ? (phrase ? phrase : "") :
		     "the SIP peer's 2xx has no SDP", NULL, NULL);
		tnd_obj_put(req);
		return true;
	}
	err = apply(call, sdp, msg, sizeof(msg));
	if (err) {
		TND_LOG_WARN(TND_LOG_SIP, "call %s: renegotiation: %s", call->id, msg);
		done(req, EIO, msg, NULL, NULL);
	} else {
		finish(call, done, req, r->answer);
	}
	pending_clear(r);
	tnd_obj_put(req);
	return true;
}

void tnd_call_reneg_stop(struct tnd_call *call, const char *reason)
{
	struct call_reneg *r = call->reneg;
	tnd_call_done_h *done;
	void *req;

	if (!r || !r->done)
		return;
	done = r->done;
	req = tnd_obj_get(r->req);
	pending_clear(r);
	done(req, EIO, reason, NULL, NULL);
	tnd_obj_put(req);
}
