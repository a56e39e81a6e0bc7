/* Calls from the browser to SIP (the `call` method).
 *
 * The browser offers; we answer it as soon as our media legs are up, with
 * the first of our codecs it offers, and send the INVITE offering every
 * codec we relay or transcode ([media] sip_codecs): the SIP peer's choice
 * is relayed when it is the browser's, else transcoded. SIP progress becomes call.state: 100 trying, 180 ringing, 183 with
 * SDP early (media flows from then on), 2xx answered, failures ended with
 * their status. RFC 3264 for both offer/answer exchanges; RFC 8829 for the
 * browser's. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/base/log.h"
#include "gateway/call/call_int.h"
#include "gateway/conf.h"
#include "gateway/policy/dialplan.h"
#include "gateway/policy/policy.h"

/* ------------------------------------------------------------ SIP events */

static int sip_media(struct tnd_call *call, const char *sdp_text)
{
	struct tnd_sdp *answer = NULL;
	struct tnd_sdp_neg wn;
	char msg[CALL_MSG];
	int err;

	err = tnd_sdp_parse(&answer, sdp_text, strlen(sdp_text), msg, sizeof(msg));
	if (!err)
		err = tnd_sdp_negotiated(&wn, call->webrtc_offer, call->webrtc_answer, msg,
					 sizeof(msg));
	if (!err)
		err = tnd_call_route(call, call->sip_offer, answer, &wn, msg, sizeof(msg));
	if (err)
		TND_LOG_WARN(TND_LOG_SIP, "call %s: unusable SDP answer from SIP: %s", call->id,
			     msg);
	tnd_sdp_free(answer);
	return err;
}

static void on_progress(void *arg, struct tnd_sipcall *sip, int status, const char *phrase,
			const char *sdp)
{
	struct tnd_call *call = arg;

	(void)sip;
	/* after a late offer, SDP in a 1xx would be the peer's offer, which
	 * we answer in the ACK only: no early media then */
	if (sdp && !call->late_offer && !sip_media(call, sdp)) {
		tnd_call_notify(call, "early", status, phrase);
		return;
	}
	if (status == 100)
		tnd_call_notify(call, "trying", status, phrase);
	else if (status == 180 || status == 181 || status == 182)
		tnd_call_notify(call, "ringing", status, phrase);
	else
		tnd_call_notify(call, "early", status, phrase);
}

static void on_answered(void *arg, struct tnd_sipcall *sip, int status, const char *phrase,
			const char *sdp)
{
	struct tnd_call *call = arg;

	(void)sip;
	if (call->late_offer) {
		tnd_call_late_answered(call, status, phrase, sdp);
		return;
	}
	if (!sdp || sip_media(call, sdp)) {
		if (!call->sip_media_set) {
			tnd_call_end(call, 488, "SIP answer has no media we can relay");
			return;
		}
	}
	tnd_call_answered(call);
	tnd_call_notify(call, "answered", status, phrase);
}

static void on_ended(void *arg, struct tnd_sipcall *sip, int status, const char *phrase,
		     enum tnd_sipcall_end why)
{
	struct tnd_call *call = arg;

	(void)sip;
	tnd_call_by(call, CALL_BY_SIP);
	TND_LOG_DEBUG(TND_LOG_SIP, "call %s: SIP ended (%s)", call->id, tnd_sipcall_end_name(why));
	tnd_call_end(call, status, phrase ? phrase : tnd_sipcall_end_name(why));
}

static const struct tnd_sipcall_handlers sip_handlers = {
	.progress = on_progress, .answered = on_answered, .ended = on_ended,
	.info = tnd_call_on_info,
	/* call_hold.c */
	.reoffer = tnd_call_on_reoffer, .reack = tnd_call_on_reack,
	.reanswered = tnd_call_on_reanswered,
};

/* ------------------------------------------------------------ media events */

static void fail_request(struct tnd_call *call, int err, const char *msg)
{
	tnd_call_done_h *done = call->done;

	call->done = NULL;
	if (done)
		done(call->req, err, msg, NULL, NULL);
	call->req = tnd_obj_put(call->req);
	call->owner = tnd_obj_put(call->owner);   /* the caller knows: no `ended` */
	tnd_call_end(call, 0, msg);
}

/* Our SIP offer: every codec we pass through or transcode, in [media]
 * sip_codecs order, plus telephone-event (call_codec.c). */
static int build_sip_offer(struct tnd_call *call, const struct tnd_sdp_neg *wn, char **textp)
{
	struct tnd_sdp_local l;
	int err;

	struct tnd_sdp_codec_pref prefs[CALL_MAX_PREFS];
	size_t n;

	(void)wn;
	if (call->calls->env.conf->sip_late_offer && !call->is_test) {
		/* [sip] late_offer: the peer offers in its 2xx (call_early.c) */
		call->late_offer = true;
		*textp = NULL;
		return 0;
	}
	tnd_call_local(call, &l, false);
	/* a trunk's own codec preference (call_trunk.c) */
	n = tnd_call_trunk_prefs(call, prefs);
	if (n) {
		l.codecs = prefs;
		l.n_codecs = n;
	}
	err = tnd_sdp_offer_sip(&call->sip_offer, &l);
	if (!err) {
		*textp = tnd_call_sdp_text(call->sip_offer);
		err = *textp ? 0 : ENOMEM;
	}
	return err;
}

static int send_invite(struct tnd_call *call, const char *sdp)
{
	struct tnd_sip_header hdrs[TND_SIPCALL_MAX_HEADERS];
	struct tnd_sipcall_params p = {
		.to = call->to, .from_user = call->from_user ? call->from_user : "anonymous",
		.from_display = call->from_display, .sdp = sdp, .headers = hdrs,
		.late_offer = call->late_offer,
	};
	struct tnd_sip_cred cred;
	char ubuf[128], msg[CALL_MSG];

	/* as the account: its From, proxy and digest credentials (checked
	 * again: the configuration may have been reloaded since `call`) */
	if (call->account && tnd_call_reg_identity(call->calls, call->account, call->from_user,
						   &p, &cred, ubuf, sizeof(ubuf), msg,
						   sizeof(msg)))
		return EACCES;
	/* through a trunk: its request URI and digest credentials */
	if (tnd_call_trunk_params(call, &p, &cred))
		return EBUSY;   /* the trunk left the configuration since `call` */

	for (size_t i = 0; call->hdr_names && call->hdr_names[i] &&
	     i < TND_SIPCALL_MAX_HEADERS; i++) {
		hdrs[i] = (struct tnd_sip_header){ call->hdr_names[i], call->hdr_values[i] };
		p.n_headers++;
	}
	return tnd_sipcall_invite(&call->sip, call->calls->env.sip, &p, &sip_handlers, call);
}

static void on_ready(void *arg, int err, const char *ufrag, const char *pwd,
		     const char *const *cands, bool complete, uint16_t rtp_port)
{
	struct tnd_call *call = arg;
	const struct tnd_sdp_media *om;
	struct tnd_sdp_local l;
	struct tnd_sdp_neg wn;
	char msg[CALL_MSG] = "", *answer = NULL, *offer = NULL, fp[256];
	tnd_call_done_h *done;

	if (call->reattaching) {
		tnd_call_reattach_ready(call, err, ufrag, pwd, cands, complete);
		return;
	}
	if (err) {
		snprintf(msg, sizeof(msg), "media set-up failed: %s", strerror(err));
		fail_request(call, EBUSY, msg);
		return;
	}
	call->rtp_port = rtp_port;
	tnd_call_local_webrtc(call, &l, &(struct tnd_call_ice){ ufrag, pwd, cands, complete });
	err = tnd_sdp_answer_webrtc(&call->webrtc_answer, call->webrtc_offer, &l, msg,
				    sizeof(msg));
	if (!err)
		err = tnd_sdp_negotiated(&wn, call->webrtc_offer, call->webrtc_answer, msg,
					 sizeof(msg));
	if (err) {
		fail_request(call, err, msg);
		return;
	}
	om = wn.offer_m;
	tnd_call_reneg_keep(call, call->webrtc_answer, om, wn.answerer_dtls_client);
	snprintf(fp, sizeof(fp), "%s %s", om->fp.alg, om->fp.value);
	/* we answered: our DTLS role is what our answer's setup says */
	err = tnd_bridge_webrtc_remote(call->br, om->ice.ufrag, om->ice.pwd, fp,
				       wn.answerer_dtls_client);
	for (unsigned i = 0; !err && i < om->n_cands; i++)
		err = tnd_bridge_webrtc_candidate(call->br, om->cands[i]);
	if (!err && om->end_of_cands)
		err = tnd_bridge_webrtc_candidate(call->br, NULL);
	if (!err)
		err = build_sip_offer(call, &wn, &offer);
	if (!err && call->is_test) {
		if ((err = tnd_call_test_answer(call, &wn, msg, sizeof(msg)))) {
			fail_request(call, err, msg);
			goto out;
		}
	} else if (!err) {
		err = send_invite(call, offer);
	}
	if (err == EINVAL) {
		fail_request(call, EINVAL, "params.to: not a SIP or tel: URI the gateway can call");
		goto out;
	}
	if (err == EACCES) {
		fail_request(call, EACCES, "params.account: not one of your accounts");
		goto out;
	}
	answer = tnd_call_sdp_text(call->webrtc_answer);
	if (err || !answer) {
		fail_request(call, err ? err : ENOMEM, "cannot place the SIP call");
		goto out;
	}
	call->phase = CALL_PROGRESS;
	done = call->done;
	call->done = NULL;
	done(call->req, 0, NULL, call->id, answer);
	call->req = tnd_obj_put(call->req);
 out:
	g_free(offer);
	g_free(answer);
}

static void on_candidate(void *arg, const char *cand)
{
	struct tnd_call *call = arg;

	if (call->owner && call->phase != CALL_SETUP)
		call->calls->env.sink->candidate(call->owner, call->id, cand);
}

static void on_state(void *arg, enum tnd_bridge_state state, int err)
{
	struct tnd_call *call = arg;
	char reason[96];

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
	snprintf(reason, sizeof(reason), "browser media %s%s%s",
		 state == TND_BRIDGE_CLOSED ? "closed" : "failed", err ? ": " : "",
		 err ? strerror(err) : "");
	if (state == TND_BRIDGE_CLOSED)
		tnd_call_by(call, CALL_BY_BROWSER);
	if (call->sip)
		tnd_sipcall_hangup(call->sip);
	tnd_call_end(call, 0, reason);
}

static const struct tnd_bridge_events bridge_events = {
	.ready = on_ready, .candidate = on_candidate, .state = on_state,
	.dtmf = tnd_call_on_dtmf,
};

/* ------------------------------------------------------------ request */

static char **strv_copy(const char *const *v, size_t n)
{
	char **out = g_new0(char *, n + 1);

	for (size_t i = 0; i < n; i++)
		out[i] = g_strdup(v[i]);
	return out;
}

int tnd_calls_start(struct tnd_calls *calls, void *conn, const struct tnd_call_params *p,
		    tnd_call_done_h *done, void *req, char *msg, size_t msglen)
{
	struct tnd_sdp *offer = NULL, *probe = NULL;
	struct tnd_sdp_local l;
	struct tnd_call *call;
	char why[CALL_MSG];
	bool dialplan;
	int err, test;

	if (!calls || !p || !p->to || !p->sdp || !done) {
		snprintf(msg, msglen, "params.to and params.sdp are required");
		return EINVAL;
	}
	if (calls->draining) {
		snprintf(msg, msglen, "the gateway is draining: it takes no new calls");
		return EBUSY;
	}
	/* first: a flood of `call`s is refused before it costs anything */
	err = tnd_call_limit_out(calls, conn, p->from_user, msg, msglen);
	if (err)
		return err;
	if (p->account) {
		struct tnd_sipcall_params sp = { 0 };
		struct tnd_sip_cred cred;
		char ubuf[128];

		err = tnd_call_reg_identity(calls, p->account, p->from_user, &sp, &cred, ubuf,
					    sizeof(ubuf), msg, msglen);
		if (err)
			return err;
	}
	test = tnd_call_test_kind(calls->env.conf, p->to);
	/* dial strings and tel: URIs go by [dialplan] when it has rules */
	dialplan = test < 0 && !p->account && tnd_dialplan_is_number(p->to) &&
		   calls->env.conf->dialplan && calls->env.conf->dialplan->n_rules;
	if (test < 0 && tnd_policy_check_call(calls->env.conf, p->to)) {
		snprintf(msg, msglen, "params.to: the dial plan does not allow calls to %.128s",
			 p->to);
		return EPERM;
	}
	if (test < 0 && !p->account && tnd_call_trunk_bypass(calls, p->to, msg, msglen))
		return EPERM;
	err = tnd_sdp_parse(&offer, p->sdp, strlen(p->sdp), why, sizeof(why));
	if (err) {
		snprintf(msg, msglen, "params.sdp: %s", why);
		return err == ENOTSUP ? ENOTSUP : EINVAL;
	}
	err = tnd_call_new(&call, calls, CALL_OUT);
	if (err) {
		snprintf(msg, msglen, err == EBUSY ? "the gateway is at its call limit" :
			 "out of memory");
		tnd_sdp_free(offer);
		return err;
	}
	call->webrtc_offer = offer;
	call->is_test = test >= 0;
	call->test_kind = test >= 0 ? (enum tnd_testpeer_kind)test : TND_TESTPEER_ECHO;
	tnd_call_count_out(call, conn, p->from_user);
	/* answer once with stand-in ICE values: an offer we cannot use gets
	 * its 488 now, before any port is taken */
	tnd_call_local(call, &l, true);
	l.ice_ufrag = "probe";
	l.ice_pwd = "probeprobeprobeprobepr";
	err = tnd_sdp_answer_webrtc(&probe, offer, &l, why, sizeof(why));
	tnd_sdp_free(probe);
	if (err) {
		snprintf(msg, msglen, "params.sdp: %s", why);
		goto fail;
	}
	call->to = g_strdup(p->to);
	if (dialplan) {
		const struct tnd_trunk *t;

		err = tnd_call_trunk_route(call, p->from_user, msg, msglen);
		if (err)
			goto fail;
		/* the trunk's SDES policy replaces [media] sip_srtp (new keys) */
		t = tnd_trunk_for_call(call);
		if (t && t->srtp_set && (err = tnd_call_sdes_init(call, t->srtp))) {
			snprintf(msg, msglen, "no SDES keys for the trunk (%s)", strerror(err));
			goto fail;
		}
	}
	call->owner = tnd_obj_get(conn);
	call->from_user = g_strdup(p->from_user);
	call->from_display = g_strdup(p->from_display);
	call->account = g_strdup(p->account);
	call->hdr_names = strv_copy(p->hdr_names, p->n_hdrs);
	call->hdr_values = strv_copy(p->hdr_values, p->n_hdrs);
	call->done = done;
	call->req = tnd_obj_get(req);
	tnd_call_emit(call, TND_CALL_EV_CREATED);
	err = tnd_call_media(call, false, &bridge_events);
	if (err) {
		/* EBUSY here is admission control: no worker under max_load */
		if (err == EBUSY)
			snprintf(msg, msglen, "the gateway is at capacity: every media worker is "
				 "past [media] max_load");
		else
			snprintf(msg, msglen, "media set-up failed: %s", strerror(err));
		call->done = NULL;
		call->req = tnd_obj_put(call->req);
		goto fail;
	}
	TND_LOG_INFO(TND_LOG_MEDIA, "call %s: %s to %s", call->id,
		     p->from_user ? p->from_user : "anonymous", p->to);
	tnd_obj_put(call);
	return 0;
 fail:
	call->owner = tnd_obj_put(call->owner);
	tnd_call_end(call, 0, msg);
	tnd_obj_put(call);
	return err;
}
