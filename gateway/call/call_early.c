/* Early media and offers on calls from SIP (issue 11 item 3).
 *
 * Early media from the browser (`progress`, protocol.md): the browser's answer goes to the caller as 183 Session
 * Progress with our SDP (RFC 3261 13.3.1.1, RFC 3960 gateway model), the
 * bridge is routed as for an answered call so media flows both ways, and a
 * later `answer` sends the 200 with the very same SDP: RFC 3264 allows one
 * answer per offer, and the 183's SDP was it. When the caller required
 * 100rel (RFC 3262) sip/ sends the 183 reliably. call_in.c takes the call
 * (take_call) and gets the SIP-side socket; this file sends what follows.
 *
 * Late offer (an INVITE without SDP, RFC 3261 13.2.1, RFC 3264 section 4):
 * the browser is offered the SIP side's first codec and Opus, its answer
 * makes our 200 carry an offer of every codec we relay or transcode, and
 * the ACK's answer routes the media (relayed when the legs agree, else
 * transcoded), as a call from the browser routes its SIP answer.
 * Signalling thread. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway/base/log.h"
#include "gateway/call/call_int.h"

static int send_200(struct tnd_call *call)
{
	int err = tnd_sipcall_answer(call->sip, call->early_sip_sdp);

	if (err)
		return err;
	tnd_call_answered(call);
	tnd_call_notify(call, "answered", 200, "OK");
	return 0;
}

int tnd_call_early_sent(struct tnd_call *call, char *sip_sdp)
{
	int err;

	g_free(call->early_sip_sdp);
	call->early_sip_sdp = sip_sdp;
	err = tnd_sipcall_ringing(call->sip, call->early_sip_sdp);
	if (err)
		return err;
	TND_LOG_INFO(TND_LOG_SIP, "call %s: early media from the browser (183)", call->id);
	tnd_call_notify(call, "early", 183, "Session Progress");
	if (call->early_then_answer)
		return send_200(call);
	return 0;
}

int tnd_call_early_answer(struct tnd_call *call, const char *sdp, char *msg, size_t msglen)
{
	int err;

	if (call->phase != CALL_PROGRESS || call->early_then_answer) {
		snprintf(msg, msglen, "call %s is answered already", call->id);
		return EALREADY;
	}
	/* one answer per offer (RFC 3264 section 4): the 183 carried it */
	if (sdp && call->early_webrtc_sdp && strcmp(sdp, call->early_webrtc_sdp)) {
		snprintf(msg, msglen, "params.sdp: differs from the answer given in progress "
			 "(leave it out, or send the same)");
		return EINVAL;
	}
	if (!call->early_sip_sdp) {
		/* the SIP-side socket is still being made: the 200 follows the 183 */
		call->early_then_answer = true;
		return 0;
	}
	err = send_200(call);
	if (err)
		snprintf(msg, msglen, "cannot answer the SIP caller: %s", strerror(err));
	return err;
}

size_t tnd_call_late_webrtc_prefs(const struct tnd_call *call, struct tnd_sdp_codec_pref *want)
{
	const struct tnd_sdp_codec_pref *p = call->calls->n_sip_prefs ?
					     &call->calls->sip_prefs[0] : NULL;
	struct tnd_sdp_codec first = { .pt = 0, .channels = 1, .clock = 8000, .name = "PCMU" };

	if (p && strcmp(p->name, "telephone-event"))
		first = (struct tnd_sdp_codec){ .pt = p->pt, .channels = p->channels ?
			p->channels : 1, .clock = p->clock, .name = p->name };
	return tnd_call_webrtc_offer_prefs(want, &first, NULL);
}

int tnd_call_late_200(struct tnd_call *call, char *why, size_t whylen)
{
	struct tnd_sdp_local l;
	char *text;
	int err;

	tnd_call_local(call, &l, false);
	err = tnd_sdp_offer_sip(&call->sip_offer, &l);
	if (err) {
		snprintf(why, whylen, "cannot write our SIP offer");
		return err;
	}
	text = tnd_call_sdp_text(call->sip_offer);
	err = text ? tnd_sipcall_answer(call->sip, text) : ENOMEM;
	g_free(text);
	if (!err)
		TND_LOG_INFO(TND_LOG_SIP, "call %s: late offer: our offer in the 200", call->id);
	return err;
}

void tnd_call_late_ack(struct tnd_call *call)
{
	const char *text = tnd_sipcall_remote_sdp(call->sip);
	struct tnd_sdp *answer = NULL;
	struct tnd_sdp_neg wn;
	char why[CALL_MSG] = "no SDP answer in the ACK";
	int err = EPROTO;

	if (call->phase != CALL_PROGRESS || !call->sip_offer)
		return;
	if (text)
		err = tnd_sdp_parse(&answer, text, strlen(text), why, sizeof(why));
	if (!err)
		err = tnd_sdp_negotiated(&wn, call->webrtc_offer, call->webrtc_answer, why,
					 sizeof(why));
	if (!err)
		err = tnd_call_route(call, call->sip_offer, answer, &wn, why, sizeof(why));
	tnd_sdp_free(answer);
	if (err) {
		/* RFC 3261 13.3.1.4: a 2xx offer needs its answer in the ACK;
		 * without one the session cannot start: BYE */
		TND_LOG_NOTICE(TND_LOG_SIP, "call %s: late offer unanswered: %s", call->id, why);
		tnd_call_by(call, CALL_BY_GATEWAY);
		tnd_call_end(call, 488, "no usable SDP answer in the ACK");
		return;
	}
	tnd_call_answered(call);
	tnd_call_notify(call, "answered", 200, "OK");
}

/* The peer's offer and our answer to it, at our SIP-side port. */
static int late_answer(struct tnd_call *call, const char *sdp, struct tnd_sdp **answerp,
		       char **textp, char *why, size_t whylen)
{
	struct tnd_sdp_local l;
	int err;

	if (!sdp) {
		snprintf(why, whylen, "no SDP offer in the 2xx");
		return EPROTO;
	}
	err = tnd_sdp_parse(&call->sip_offer, sdp, strlen(sdp), why, whylen);
	if (err)
		return err;
	tnd_call_local(call, &l, false);
	err = tnd_sdp_answer_sip(answerp, call->sip_offer, &l, why, whylen);
	if (!err) {
		*textp = tnd_call_sdp_text(*answerp);
		err = *textp ? 0 : ENOMEM;
	}
	return err;
}

void tnd_call_late_answered(struct tnd_call *call, int status, const char *phrase,
			    const char *sdp)
{
	struct tnd_sdp *answer = NULL;
	struct tnd_sdp_neg wn;
	char why[CALL_MSG] = "", *text = NULL;
	int err;

	err = late_answer(call, sdp, &answer, &text, why, sizeof(why));
	if (!err)
		err = tnd_sdp_negotiated(&wn, call->webrtc_offer, call->webrtc_answer, why,
					 sizeof(why));
	if (!err)
		err = tnd_call_route(call, call->sip_offer, answer, &wn, why, sizeof(why));
	if (!err)
		err = tnd_sipcall_ack(call->sip, text);
	g_free(text);
	tnd_sdp_free(answer);
	if (err) {
		/* the ACK goes bare before the BYE (sip/ sees to it) */
		TND_LOG_NOTICE(TND_LOG_SIP, "call %s: cannot answer the offer in the %d: %s",
			       call->id, status, *why ? why : strerror(err));
		tnd_call_by(call, CALL_BY_GATEWAY);
		tnd_call_end(call, 488, "SIP offer has no media we can relay");
		return;
	}
	tnd_call_answered(call);
	tnd_call_notify(call, "answered", status, phrase);
}
