/* Call transfer: the `transfer` method and a REFER from the SIP peer
 * (protocol.md; RFC 3515, RFC 3891, RFC 5589). Signalling thread.
 *
 * From the browser: blind (`to`, checked against the dial plan) or attended
 * (`replaces`: another answered call of the same user, named in Refer-To
 * with Replaces) send REFER in the call's dialog. The browser sees
 * `transferring` with each NOTIFY's sipfrag status; on a 2xx the call (and,
 * attended, the other one) ends with reason "transferred" (BYE from us),
 * on a failure it is `answered` again with that status.
 *
 * From the peer: a REFER whose target the dial plan lets the call's user
 * call is accepted (else 403), blind or attended (a Replaces in Refer-To,
 * RFC 5589 7: our INVITE carries it, and the target swaps its dialog with
 * the referrer for ours). The gateway INVITEs the target from the
 * call's SIP RTP socket with a fresh offer, tells the referrer the progress
 * in NOTIFYs, and once the target answers routes the bridge to it (pass-
 * through or transcoded, as for a new call: tnd_call_route) and BYEs the old
 * dialog. The browser keeps its WebRTC leg and sees `transferring`, then
 * `answered`; on failure `answered` again with the status (or `ended` when
 * the referrer hung up meanwhile).
 *
 * Invariants: xfer != XFER_NONE only while the call is answered; xfer_sip
 * is set only with XFER_IN, and is never call->sip. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/base/log.h"
#include "gateway/call/call_int.h"
#include "gateway/conf.h"
#include "gateway/policy/policy.h"

enum call_xfer {
	XFER_NONE,
	XFER_OUT,        /* our REFER awaits its outcome */
	XFER_IN,         /* carrying out the peer's REFER: xfer_sip rings */
};

/* ------------------------------------------------------------ our REFER */

static void transferred(struct tnd_call *call, int status)
{
	struct tnd_call *other = *call->xfer_with ? tnd_call_find(call->calls, call->xfer_with)
						  : NULL;

	tnd_call_emit(call, TND_CALL_EV_TRANSFERRED);
	tnd_call_by(call, CALL_BY_BROWSER);
	/* attended: the target took the other dialog over (Replaces), or will
	 * be told by our BYE that it is over */
	if (other && other->phase == CALL_ANSWERED) {
		tnd_call_emit(other, TND_CALL_EV_TRANSFERRED);
		tnd_call_by(other, CALL_BY_BROWSER);
		tnd_call_end(other, status, "transferred");
	}
	tnd_call_end(call, status, "transferred");
}

static void on_refer(void *arg, struct tnd_sipcall *sip, int status, const char *phrase,
		     bool final)
{
	struct tnd_call *call = arg;

	if (call->xfer != XFER_OUT || sip != call->sip)
		return;
	TND_LOG_INFO(TND_LOG_SIP, "call %s: transfer %s %d %s", call->id,
		     final ? "done:" : "progress:", status, phrase);
	if (!final) {
		tnd_call_notify(call, "transferring", status, phrase);
		return;
	}
	call->xfer = XFER_NONE;
	if (status >= 200 && status < 300) {
		transferred(call, status);
		return;
	}
	call->xfer_with[0] = '\0';
	tnd_call_notify(call, "answered", status, phrase);
}

/* The URI the other call's peer is reached at: what we called, or who
 * called us. */
static const char *peer_uri(const struct tnd_call *call)
{
	return call->dir == CALL_OUT ? call->to : call->from_uri;
}

static bool same_user(const struct tnd_call *a, const struct tnd_call *b)
{
	if (a->owner && a->owner == b->owner)
		return true;
	return a->use_user && b->use_user && !strcmp(a->use_user, b->use_user);
}

static bool can_transfer(const struct tnd_call *call)
{
	return call->phase == CALL_ANSWERED && call->sip && !call->is_test &&
	       call->xfer == XFER_NONE && tnd_sipcall_is_live(call->sip);
}

int tnd_calls_transfer(struct tnd_calls *calls, void *conn, const char *id, const char *to,
		       const char *replaces, char *msg, size_t msglen)
{
	struct tnd_call *call = calls && id ? tnd_call_find(calls, id) : NULL, *other = NULL;
	const char *target = to;
	int err;

	if (!call || call->owner != conn) {
		snprintf(msg, msglen, "params.call: no call '%.64s' on this connection",
			 id ? id : "");
		return ENOENT;
	}
	if (!to == !replaces) {
		snprintf(msg, msglen, "params: either to (blind transfer) or replaces (attended "
			 "transfer)");
		return EINVAL;
	}
	if (!can_transfer(call)) {
		snprintf(msg, msglen, "params.call: call %s is not answered, or is being "
			 "transferred", call->id);
		return EALREADY;
	}
	if (to && tnd_policy_check_call(calls->env.conf, to)) {
		snprintf(msg, msglen, "params.to: the dial plan does not allow calls to %.128s", to);
		return EPERM;
	}
	if (to && !call->account && tnd_call_trunk_bypass(calls, to, msg, msglen))
		return EPERM;
	if (replaces) {
		other = tnd_call_find(calls, replaces);
		if (!other || other == call || !same_user(call, other)) {
			snprintf(msg, msglen, "params.replaces: no other call '%.64s' of yours",
				 replaces);
			return ENOENT;
		}
		if (!can_transfer(other) || !peer_uri(other)) {
			snprintf(msg, msglen, "params.replaces: call %s is not answered, or is "
				 "being transferred", other->id);
			return EALREADY;
		}
		target = peer_uri(other);
	}
	err = tnd_sipcall_refer(call->sip, target, other ? other->sip : NULL);
	if (err) {
		if (err == EINVAL)
			snprintf(msg, msglen, "params.%s: not a sip: or sips: URI",
				 to ? "to" : "replaces");
		else
			snprintf(msg, msglen, "cannot send REFER: %s", strerror(err));
		return err;
	}
	call->xfer = XFER_OUT;
	snprintf(call->xfer_with, sizeof(call->xfer_with), "%s", other ? other->id : "");
	tnd_call_notify(call, "transferring", 0, other ? "attended transfer" : "blind transfer");
	return 0;
}

/* ------------------------------------------------------------ their REFER */

static void on_old_ended(void *arg, struct tnd_sipcall *sip, int status, const char *phrase,
			 enum tnd_sipcall_end why);
static void on_new_progress(void *arg, struct tnd_sipcall *sip, int status,
			    const char *phrase, const char *sdp);
static void on_new_answered(void *arg, struct tnd_sipcall *sip, int status,
			    const char *phrase, const char *sdp);
static void on_new_ended(void *arg, struct tnd_sipcall *sip, int status, const char *phrase,
			 enum tnd_sipcall_end why);

/* The referrer's dialog while (and after) the gateway carries out its REFER:
 * its end no longer ends the call while the new leg is being set up. */
static const struct tnd_sipcall_handlers old_leg = {
	.ended = on_old_ended, .info = tnd_call_on_info,
};
/* The referred call's leg, for good once it answers: it holds and
 * re-INVITEs as any call's SIP leg (call_hold.c). */
static const struct tnd_sipcall_handlers new_leg = {
	.progress = on_new_progress, .answered = on_new_answered, .ended = on_new_ended,
	.info = tnd_call_on_info, .reoffer = tnd_call_on_reoffer, .reack = tnd_call_on_reack,
	.reanswered = tnd_call_on_reanswered,
};

/* Drops the new leg (CANCEL or BYE if it lives), lingering until done. */
static void drop_new_leg(struct tnd_call *call)
{
	if (call->xfer_sip) {
		tnd_sipcall_detach(call->xfer_sip);
		if (call->calls)
			tnd_call_linger(call->calls, call->xfer_sip);
		call->xfer_sip = tnd_obj_put(call->xfer_sip);
	}
	tnd_sdp_free(call->xfer_offer);
	call->xfer_offer = NULL;
	g_free(call->xfer_to);
	call->xfer_to = NULL;
}

void tnd_call_xfer_stop(struct tnd_call *call)
{
	if (call->xfer == XFER_IN && call->sip)
		tnd_sipcall_refer_notify(call->sip, 487, "Request Terminated");
	call->xfer = XFER_NONE;
	drop_new_leg(call);
}

/* The transfer failed: the referrer hears it, the browser is back on the
 * old call, or the call ends when the referrer hung up meanwhile. */
static void xfer_failed(struct tnd_call *call, int status, const char *phrase)
{
	TND_LOG_NOTICE(TND_LOG_SIP, "call %s: transfer to %s failed: %d %s", call->id,
		       call->xfer_to ? call->xfer_to : "?", status, phrase);
	tnd_sipcall_refer_notify(call->sip, status, phrase);
	call->xfer = XFER_NONE;
	drop_new_leg(call);
	if (!tnd_sipcall_is_live(call->sip)) {
		tnd_call_by(call, CALL_BY_SIP);
		tnd_call_end(call, status, phrase);
		return;
	}
	tnd_call_notify(call, "answered", status, phrase);
}

static void on_old_ended(void *arg, struct tnd_sipcall *sip, int status, const char *phrase,
			 enum tnd_sipcall_end why)
{
	struct tnd_call *call = arg;

	if (sip != call->sip)
		return;
	if (call->xfer == XFER_IN) {
		/* RFC 5589 6: a referrer may hang up once we accepted */
		TND_LOG_INFO(TND_LOG_SIP, "call %s: the referrer's dialog ended (%s) during the "
			     "transfer", call->id, tnd_sipcall_end_name(why));
		return;
	}
	tnd_call_by(call, CALL_BY_SIP);
	tnd_call_end(call, status, phrase ? phrase : tnd_sipcall_end_name(why));
}

static void on_new_progress(void *arg, struct tnd_sipcall *sip, int status,
			    const char *phrase, const char *sdp)
{
	struct tnd_call *call = arg;

	(void)sdp;   /* the old party is heard until the new one answers */
	if (sip != call->xfer_sip)
		return;
	tnd_sipcall_refer_notify(call->sip, status, phrase);
	tnd_call_notify(call, "transferring", status, phrase);
}

/* Routes the bridge to the answer: the browser leg's codec as first
 * negotiated (call->route), the SIP side's from our offer and the answer. */
static int route_new(struct tnd_call *call, const char *sdp, char *msg, size_t msglen)
{
	struct tnd_sdp *answer = NULL;
	struct tnd_sdp_codec wc = { 0 }, wd = { 0 };
	struct tnd_sdp_neg wn = { 0 };
	enum call_dir dir = call->dir;
	char name[sizeof(call->route.codec)];
	int err;

	err = tnd_sdp_parse(&answer, sdp, strlen(sdp), msg, msglen);
	if (err)
		return err;
	/* a copy: tnd_call_route writes call->route from these */
	snprintf(name, sizeof(name), "%s", call->route.codec);
	wc = (struct tnd_sdp_codec){ .pt = call->route.webrtc_pt, .channels = call->route.channels,
				     .clock = call->route.clock, .name = name };
	wd = (struct tnd_sdp_codec){ .pt = call->route.webrtc_te_pt, .channels = 1,
				     .clock = call->route.webrtc_te_clock,
				     .name = "telephone-event" };
	wn.codec = &wc;
	wn.dtmf = call->route.webrtc_te_clock ? &wd : NULL;
	/* tnd_call_route takes the peer's address from the answer when we
	 * offered, which we did on this leg whatever way the call began */
	call->dir = CALL_OUT;
	err = tnd_call_route(call, call->xfer_offer, answer, &wn, msg, msglen);
	call->dir = dir;
	tnd_sdp_free(answer);
	return err;
}

static void on_new_answered(void *arg, struct tnd_sipcall *sip, int status,
			    const char *phrase, const char *sdp)
{
	struct tnd_call *call = arg;
	struct tnd_sipcall *old;
	char msg[CALL_MSG] = "no SDP answer";
	int err;

	if (sip != call->xfer_sip)
		return;
	err = sdp ? route_new(call, sdp, msg, sizeof(msg)) : ENOTSUP;
	if (err) {
		TND_LOG_WARN(TND_LOG_SIP, "call %s: transfer target's answer unusable: %s",
			     call->id, msg);
		xfer_failed(call, 488, "Not Acceptable Here");
		return;
	}
	old = call->sip;
	call->sip = call->xfer_sip;
	call->xfer_sip = NULL;
	call->xfer = XFER_NONE;
	/* RFC 3515 2.4.5: the referrer learns the outcome, then our BYE */
	tnd_sipcall_refer_notify(old, status, phrase);
	tnd_sipcall_detach(old);
	tnd_call_linger(call->calls, old);
	tnd_obj_put(old);
	TND_LOG_INFO(TND_LOG_SIP, "call %s: transferred to %s", call->id, call->xfer_to);
	g_free(call->to);
	call->to = call->xfer_to;
	call->xfer_to = NULL;
	tnd_sdp_free(call->xfer_offer);
	call->xfer_offer = NULL;
	tnd_call_emit(call, TND_CALL_EV_TRANSFERRED);
	tnd_call_notify(call, "answered", status, phrase);
}

static void on_new_ended(void *arg, struct tnd_sipcall *sip, int status, const char *phrase,
			 enum tnd_sipcall_end why)
{
	struct tnd_call *call = arg;

	phrase = phrase && *phrase ? phrase : tnd_sipcall_end_name(why);
	if (sip == call->xfer_sip) {
		xfer_failed(call, status, phrase);
		return;
	}
	if (sip != call->sip)
		return;
	tnd_call_by(call, CALL_BY_SIP);
	tnd_call_end(call, status, phrase);
}

/* INVITE to the REFER's target, from the call's SIP RTP socket; with the
 * REFER's Referred-By and, attended, its Replaces (RFC 3891 section 5). */
static int start_new_leg(struct tnd_call *call, const char *target, const char *by,
			 const char *replaces)
{
	struct tnd_sipcall_params p = { 0 };
	struct tnd_sdp_local l;
	struct tnd_sip_cred cred;
	char ubuf[128], msg[CALL_MSG], *offer;
	int err;

	p.to = target;
	p.referred_by = by;
	p.replaces = replaces;
	p.from_user = call->use_user ? call->use_user : "anonymous";
	/* a call placed as an account refers as that account too */
	if (call->account && tnd_call_reg_identity(call->calls, call->account, call->use_user,
						   &p, &cred, ubuf, sizeof(ubuf), msg,
						   sizeof(msg)))
		return EPERM;
	tnd_call_local(call, &l, false);
	err = tnd_sdp_offer_sip(&call->xfer_offer, &l);
	offer = err ? NULL : tnd_call_sdp_text(call->xfer_offer);
	if (!err && !offer)
		err = ENOMEM;
	p.sdp = offer;
	if (!err)
		err = tnd_sipcall_invite(&call->xfer_sip, call->calls->env.sip, &p, &new_leg, call);
	g_free(offer);
	if (err) {
		tnd_sdp_free(call->xfer_offer);
		call->xfer_offer = NULL;
	}
	return err;
}

static int on_referred(void *arg, struct tnd_sipcall *sip, const char *refer_to,
		       const char *referred_by, const char *replaces)
{
	struct tnd_call *call = arg;
	char reason[160];
	int err;

	if (!call->calls || sip != call->sip || !can_transfer(call) || !call->br ||
	    !*call->route.codec)
		return EALREADY;
	/* the target is one this call's user could call (no open relay, issue
	 * 11 item 8) */
	if (tnd_policy_check_call(call->calls->env.conf, refer_to) ||
	    (!call->account && tnd_call_trunk_bypass(call->calls, refer_to, reason,
						     sizeof(reason)))) {
		TND_LOG_NOTICE(TND_LOG_SIP, "call %s: REFER from %s to %s refused by the dial "
			       "plan", call->id, referred_by ? referred_by : "the peer", refer_to);
		return EPERM;
	}
	if (call->calls->draining)
		return EBUSY;
	/* attended (Replaces) or not, the same checks: the Replaces only names
	 * a dialog the target has, which gives the referrer no more reach */
	err = start_new_leg(call, refer_to, referred_by, replaces);
	if (err)
		return err == EPERM ? EPERM : err == EINVAL ? EINVAL : EIO;
	call->xfer = XFER_IN;
	call->xfer_to = g_strdup(refer_to);
	tnd_sipcall_set_handlers(sip, &old_leg, call);
	snprintf(reason, sizeof(reason), "referred to %.120s%s", refer_to,
		 replaces ? " (attended)" : "");
	tnd_call_notify(call, "transferring", 0, reason);
	return 0;
}

static const struct tnd_sipcall_xfer_handlers xfer_handlers = { on_refer, on_referred };

void tnd_call_xfer_init(struct tnd_calls *calls)
{
	tnd_sipua_set_xfer(calls->env.sip, &xfer_handlers);
}
