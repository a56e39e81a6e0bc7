/* Early media from the browser on a call from SIP (`progress`,
 * protocol.md): the browser's answer goes to the caller as 183 Session
 * Progress with our SDP (RFC 3261 13.3.1.1, RFC 3960 gateway model), the
 * bridge is routed as for an answered call so media flows both ways, and a
 * later `answer` sends the 200 with the very same SDP: RFC 3264 allows one
 * answer per offer, and the 183's SDP was it. When the caller required
 * 100rel (RFC 3262) sip/ sends the 183 reliably. call_in.c takes the call
 * (take_call) and gets the SIP-side socket; this file sends what follows.
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
