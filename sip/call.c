/* INVITE dialogs, both directions: the call object, how it ends, and the
 * Sofia events on its handle, one handler per nua event (table below).
 * RFC 3261 sections 13-15; Sofia's call model (nua_call_model.html).
 * Signalling thread only.
 *
 * Invariants: `ended` fires once, from tnd_sipcall_finish(), which runs on
 * nua_i_state/terminated (or when the UA cuts a call at shutdown) and is the
 * only place a call's handle is destroyed. A detached call (h == NULL) gets
 * no callback. Every callback runs with an extra reference held, so the
 * owner may drop its own inside. Sofia's API calls only queue work, so no
 * callback runs inside a tnd_sipcall_* call. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/msg_addr.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/su_tag.h>

#include "gateway/base/log.h"
#include "sip/sip_int.h"

typedef void (call_event_h)(struct tnd_sipcall *call, int status, const char *phrase,
			    const sip_t *sip, tagi_t tags[]);

static const char *const end_names[] = {
	[TND_SIPCALL_END_LOCAL] = "local",
	[TND_SIPCALL_END_REJECTED] = "rejected",
	[TND_SIPCALL_END_REMOTE_BYE] = "remote-bye",
	[TND_SIPCALL_END_REMOTE_CANCEL] = "remote-cancel",
	[TND_SIPCALL_END_NETWORK] = "network",
	[TND_SIPCALL_END_SHUTDOWN] = "shutdown",
	[TND_SIPCALL_END_ERROR] = "error",
};

const char *tnd_sipcall_end_name(enum tnd_sipcall_end why)
{
	if ((unsigned)why >= sizeof(end_names) / sizeof(end_names[0]))
		return "?";
	return end_names[why];
}

static void call_destroy(void *data)
{
	struct tnd_sipcall *call = data;

	/* the handle's hmagic reference kept us alive while the handle was;
	 * nothing of Sofia's can point here any more */
	free(call->call_id);
	free(call->local_sdp);
	free(call->remote_sdp);
	free(call->xhdr);
	free(call->xtags);
	free(call->route);
	free(call->refer_event);
	free(call->contact);
	tnd_sipcall_re_clear(call);
	free(call->ruri);
	free(call->from_hdr);
	free(call->to_hdr);
	free(call->next_hop);
	free(call->target);
	free(call->rroute);
	free(call->refer_to);
	tnd_sipauth_clear(&call->auth);
}

struct tnd_sipcall *tnd_sipcall_new(struct tnd_sipua *ua, bool outgoing)
{
	struct tnd_sipcall *call = tnd_obj_zalloc(sizeof(*call), call_destroy);

	if (!call)
		return NULL;
	call->ua = ua;
	call->outgoing = outgoing;
	call->state = outgoing ? CS_CALLING : CS_RECEIVED;
	return call;
}

const char *tnd_sipcall_id(const struct tnd_sipcall *call)
{
	return call && call->call_id ? call->call_id : "-";
}

bool tnd_sipcall_is_outgoing(const struct tnd_sipcall *call)
{
	return call && call->outgoing;
}

int tnd_sipcall_set_handlers(struct tnd_sipcall *call, const struct tnd_sipcall_handlers *h,
			     void *arg)
{
	if (!call || !h || !h->ended)
		return EINVAL;
	if (call->detached || call->state == CS_ENDED)
		return EALREADY;
	call->h = h;
	call->arg = arg;
	return 0;
}

char *tnd_sipcall_body(const sip_t *sip, int *err)
{
	char *s;

	*err = 0;
	if (!sip || !sip->sip_payload || !sip->sip_payload->pl_data || !sip->sip_payload->pl_len)
		return NULL;
	/* SDP is text (RFC 4566): a NUL inside would cut it short unseen */
	if (memchr(sip->sip_payload->pl_data, '\0', sip->sip_payload->pl_len)) {
		*err = EBADMSG;
		return NULL;
	}
	s = malloc(sip->sip_payload->pl_len + 1);
	if (!s) {
		*err = ENOMEM;
		return NULL;
	}
	memcpy(s, sip->sip_payload->pl_data, sip->sip_payload->pl_len);
	s[sip->sip_payload->pl_len] = '\0';
	return s;
}

void tnd_sipcall_set_why(struct tnd_sipcall *call, enum tnd_sipcall_end why, int status,
			 const char *phrase)
{
	if (!call->why_set) {
		call->why = why;
		call->why_set = true;
	}
	if (!call->end_status && status) {
		call->end_status = status;
		snprintf(call->end_phrase, sizeof(call->end_phrase), "%s", phrase ? phrase : "");
	}
}

void tnd_sipcall_bye(struct tnd_sipcall *call)
{
	struct tnd_sipauth_hdrs auth;

	/* nua ends the session at any final answer to a BYE, a 401/407 it
	 * could not answer included: SHA-256 credentials must go in it at once */
	tnd_sipcall_auth_hdrs(call, "BYE", &auth);
	nua_bye(call->nh, TND_SIPAUTH_TAGS(&auth), TAG_END());
	explicit_bzero(&auth, sizeof(auth));
}

int tnd_sipcall_end(struct tnd_sipcall *call, enum tnd_sipcall_end why)
{
	switch (call->state) {
	case CS_RESOLVING:
		/* no INVITE left yet: nothing to CANCEL; the lookup ends the
		 * call from the loop */
		tnd_sipcall_set_why(call, why, SIP_487_REQUEST_TERMINATED);
		tnd_sipres_abort(call->res);
		break;
	case CS_CALLING:
	case CS_PROCEEDING:
		/* CANCEL ends every fork; a 2xx that crosses it gets ACK+BYE in
		 * on_r_invite */
		nua_cancel(call->nh, TAG_END());
		tnd_sipcall_set_why(call, why, 0, NULL);
		break;
	case CS_RECEIVED:
	case CS_EARLY:
		if (why == TND_SIPCALL_END_SHUTDOWN) {
			nua_respond(call->nh, SIP_503_SERVICE_UNAVAILABLE, TAG_END());
			tnd_sipcall_set_why(call, why, 503, sip_503_Service_unavailable);
		} else {
			nua_respond(call->nh, SIP_480_TEMPORARILY_UNAVAILABLE, TAG_END());
			tnd_sipcall_set_why(call, why, 480, sip_480_Temporarily_unavailable);
		}
		break;
	case CS_ANSWERED:
		/* RFC 3261 15: no BYE before the ACK for our 2xx (or its
		 * timeout, when nua sends BYE itself); nua would send it at
		 * once, so on_i_ack does */
		call->bye_on_ack = true;
		tnd_sipcall_set_why(call, why, 0, NULL);
		break;
	case CS_CONFIRMED:
		tnd_sipcall_ack_due(call);
		tnd_sipcall_bye(call);
		tnd_sipcall_set_why(call, why, 0, NULL);
		break;
	case CS_ENDING:
	case CS_ENDED:
	default:
		return EALREADY;
	}
	TND_LOG_INFO(TND_LOG_SIP, "call %s: ending (%s)", call->call_id, tnd_sipcall_end_name(why));
	call->state = CS_ENDING;
	return 0;
}

int tnd_sipcall_hangup(struct tnd_sipcall *call)
{
	if (!call)
		return EINVAL;
	return tnd_sipcall_end(call, TND_SIPCALL_END_LOCAL);
}

void tnd_sipcall_detach(struct tnd_sipcall *call)
{
	if (!call || call->detached)
		return;
	call->detached = true;
	call->h = NULL;
	call->arg = NULL;
	if (call->state != CS_ENDING && call->state != CS_ENDED)
		tnd_sipcall_end(call, TND_SIPCALL_END_LOCAL);
}

bool tnd_sipcall_is_live(const struct tnd_sipcall *call)
{
	return call && call->state != CS_ENDED && call->nh;
}

void tnd_sipcall_forget(struct tnd_sipcall *call)
{
	if (!call || call->state == CS_ENDED)
		return;
	TND_LOG_RL(TND_LOG_SIP, NOTICE, "call %s: the peer did not finish the dialog in time: "
		   "forgotten", call->call_id ? call->call_id : "-");
	tnd_sipcall_set_why(call, TND_SIPCALL_END_NETWORK, 408, "Request Timeout");
	tnd_sipcall_finish(call, 408, "Request Timeout");
}

void tnd_sipcall_finish(struct tnd_sipcall *call, int status, const char *phrase)
{
	const struct tnd_sipcall_handlers *h = call->h;
	struct tnd_sipua *ua = call->ua;
	void *arg = call->arg;

	if (call->state == CS_ENDED)
		return;
	if (call->res) {
		tnd_sipres_free(call->res);
		call->res = NULL;
	}
	if (!call->why_set) {
		enum tnd_sipcall_end why = TND_SIPCALL_END_ERROR;

		if (ua && ua->stopping)
			why = TND_SIPCALL_END_SHUTDOWN;
		else if (status == 408 || call->state == CS_ANSWERED)
			/* timeout, or no ACK for our 2xx (RFC 3261 13.3.1.4) */
			why = TND_SIPCALL_END_NETWORK;
		tnd_sipcall_set_why(call, why, status, phrase);
	}
	if (!call->end_status)
		tnd_sipcall_set_why(call, call->why, status ? status : 500, phrase);
	call->state = CS_ENDED;
	tnd_sipreq_flush(call, "the call ended");   /* message.c: no answer will come */
	call->h = NULL;
	call->arg = NULL;
	tnd_sipcall_re_clear(call);      /* its retry timer points here */
	TND_LOG_INFO(TND_LOG_SIP, "call %s: ended %d %s (%s)", call->call_id, call->end_status,
		     call->end_phrase, tnd_sipcall_end_name(call->why));

	tnd_obj_get(call);
	if (h && h->ended)
		h->ended(arg, call, call->end_status, call->end_phrase, call->why);
	if (call->nh) {
		/* clears nh_valid at once: Sofia drops every event still queued
		 * for this handle, so the reference below can go */
		nua_handle_bind(call->nh, NULL);
		nua_handle_destroy(call->nh);
		call->nh = NULL;
		call->ua = NULL;
		if (ua)
			tnd_sipua_unlink_call(ua, call);
		tnd_obj_put(call);         /* the hmagic reference */
	}
	tnd_obj_put(call);
}

/* ------------------------------------------------------------ events */

/* Whether the response being handled came from the peer. nta makes its own
 * responses for timeouts (408) and transport errors (503) and hands them
 * over as ordinary messages (with a To tag even); only the missing source
 * address (no transport protocol) tells them apart. */
static bool from_network(const struct tnd_sipcall *call, const sip_t *sip)
{
	msg_t *msg;
	su_addrinfo_t *ai;

	if (!sip || !call->ua)
		return false;
	msg = nua_current_request(call->ua->nua);
	ai = msg ? msg_addrinfo(msg) : NULL;
	return ai && ai->ai_protocol != 0;
}

/* A 401 or 407 to a request of ours. nua holds the transaction's dialog
 * open waiting for nua_authenticate() and would never end the call by
 * itself (an INVITE left stuck, issue 11): answer with the call's
 * credentials, or end the call here. true when the event is dealt with. */
static bool challenged(struct tnd_sipcall *call, int status, const char *phrase,
		       const sip_t *sip, const char *what)
{
	char label[96];
	int err;

	snprintf(label, sizeof(label), "call %s: %s", call->call_id, what);
	tnd_sipauth_learn(call, sip);   /* the next requests' credentials */
	if (call->established && tnd_sipcall_reinvite_out(call) && call->state == CS_CONFIRMED) {
		struct tnd_sipauth_hdrs auth;

		err = tnd_sipcall_sha256_hdrs(call, sip, "INVITE", label, &auth);
		if (!err)
			err = tnd_sipcall_reinvite_again(call, &auth);
		explicit_bzero(&auth, sizeof(auth));
		if (!err)
			return true;
	}
	if (call->invite_preempted && !call->established && call->state != CS_ENDING &&
	    !strcmp(what, "INVITE")) {
		/* our pre-emptive credentials were refused (a new nonce, or a
		 * server that saw concurrent calls' nonce counts out of order):
		 * this challenge (cached above) is answered once, on an INVITE
		 * of its own, since nua would send the refused header again */
		struct tnd_sipauth_hdrs auth;

		call->invite_preempted = false;
		tnd_sipcall_auth_hdrs(call, "INVITE", &auth);
		err = auth.n == 1 ? tnd_sipcall_invite_again(call, auth.v[0], auth.proxy[0]) :
		      ENOENT;
		explicit_bzero(&auth, sizeof(auth));
		if (!err)
			return true;
	}
	if (!call->established && call->state != CS_ENDING && call->ruri &&
	    !strcmp(what, "INVITE")) {
		/* SHA-256 (RFC 8760), which Sofia cannot answer: ours */
		char hdr[1024];
		bool proxy;

		err = tnd_sipauth_sha256(&call->auth, sip, "INVITE", call->ruri, label, hdr,
					 sizeof(hdr), &proxy);
		if (!err)
			err = tnd_sipcall_invite_again(call, hdr, proxy);
		explicit_bzero(hdr, sizeof(hdr));
		if (!err)
			return true;
	}
	if (call->established && call->outgoing && !strcmp(what, "BYE")) {
		/* SHA-256 (RFC 8760): nua has ended the session at this answer,
		 * so the BYE goes again on its own (message.c); the call ends
		 * here all the same */
		struct tnd_sipauth_hdrs auth;

		err = tnd_sipcall_sha256_hdrs(call, sip, "BYE", label, &auth);
		if (!err)
			err = tnd_sipmsg_bye_again(call, sip, &auth);
		explicit_bzero(&auth, sizeof(auth));
		if (!err)
			TND_LOG_INFO(TND_LOG_SIP, "%s: sent again with SHA-256 credentials", label);
	}
	if (call->state != CS_ENDING || call->established) {
		err = tnd_sipauth_answer(&call->auth, call->nh, sip, label);
		if (!err)
			return true;
		if (err == EACCES)
			tnd_sipauth_forget(call);
	}
	if (call->established && strcmp(what, "BYE")) {
		/* a refused re-INVITE leaves the dialog as it was */
		TND_LOG_NOTICE(TND_LOG_SIP, "%s refused %d %s", label, status, phrase);
		/* nua keeps an MD5-challenged one waiting for credentials, and
		 * every later re-INVITE behind it: end it (auth.c says how)
		 * before the owner may send the next */
		if (call->nh && tnd_sipauth_abandon(&call->auth, call->nh, sip))
			call->re_abandon = true;
		tnd_sipcall_on_r_reinvite(call, status, phrase, NULL);
		return true;
	}
	tnd_sipcall_set_why(call, call->state == CS_ENDING ? TND_SIPCALL_END_LOCAL :
			    TND_SIPCALL_END_REJECTED, status, phrase);
	tnd_sipcall_finish(call, status, phrase);
	return true;
}

/* The final answer to a refused re-INVITE sent once more to end it
 * (tnd_sipauth_abandon): 420 from the first proxy, as wanted; a challenge
 * again means the peer itself challenged (or a proxy that skips the
 * Proxy-Require check), and nua still holds it. */
static void abandoned(struct tnd_sipcall *call, int status, const char *phrase)
{
	call->re_abandon = false;
	if (status != 401 && status != 407) {
		tnd_sipauth_ok(&call->auth);
		TND_LOG_DEBUG(TND_LOG_SIP, "call %s: refused re-INVITE ended (%d %s)",
			      call->call_id, status, phrase ? phrase : "");
		return;
	}
	call->re_stuck = true;
	TND_LOG_NOTICE(TND_LOG_SIP, "call %s: the refused re-INVITE could not be ended: no "
		       "re-INVITE can follow in this dialog", call->call_id);
	/* one the owner sent meanwhile waits behind it for ever */
	if (tnd_sipcall_reinvite_out(call))
		tnd_sipcall_on_r_reinvite(call, status, phrase, NULL);
}

static void on_r_invite(struct tnd_sipcall *call, int status, const char *phrase,
			const sip_t *sip, tagi_t tags[])
{
	const struct tnd_sipcall_handlers *h = call->h;
	char *sdp;
	int err;

	(void)tags;
	if (call->re_abandon && status >= 200) {
		abandoned(call, status, phrase);
		return;
	}
	if (status == 401 || status == 407) {
		if (challenged(call, status, phrase, sip, "INVITE"))
			return;
	} else if (status >= 200) {
		tnd_sipauth_ok(&call->auth);
	}
	if (call->established && tnd_sipcall_reinvite_out(call)) {
		tnd_sipcall_on_r_reinvite(call, status, phrase, sip);   /* reinvite.c */
		return;
	}
	if (!call->outgoing || call->established) {
		/* a refresh re-INVITE nua sent for session timers (RFC 4028);
		 * if it fails for good, nua ends the call and i_state says so */
		TND_LOG_DEBUG(TND_LOG_SIP, "call %s: re-INVITE answered %d %s", call->call_id,
			      status, phrase);
		return;
	}
	if (status < 200) {
		if (call->state == CS_CALLING)
			call->state = CS_PROCEEDING;
		tnd_sipcall_note_early(call, sip);   /* replaces.c */
		if (call->state != CS_PROCEEDING || !h || !h->progress)
			return;
		sdp = tnd_sipcall_body(sip, &err);
		tnd_obj_get(call);
		h->progress(call->arg, call, status, phrase, sdp);
		tnd_obj_put(call);
		free(sdp);
		return;
	}
	if (status < 300) {
		call->established = true;
		call->ack_due = call->late_offer;
		tnd_sipcall_set_target(call, sip);
		if (call->state == CS_ENDING) {
			/* the 2xx crossed our CANCEL (RFC 3261 9.1): nua ACKed it,
			 * the dialog exists, so end it with BYE */
			TND_LOG_INFO(TND_LOG_SIP, "call %s: %d crossed our CANCEL, sending BYE",
				     call->call_id, status);
			tnd_sipcall_ack_due(call);
			tnd_sipcall_bye(call);
			return;
		}
		call->state = CS_CONFIRMED;
		sdp = tnd_sipcall_body(sip, &err);
		if (err)
			TND_LOG_WARN(TND_LOG_SIP, "call %s: answer body unusable: %s",
				     call->call_id, strerror(err));
		free(call->remote_sdp);
		call->remote_sdp = sdp;       /* kept for re-INVITEs */
		if (!h || !h->answered)
			return;
		tnd_obj_get(call);
		h->answered(call->arg, call, status, phrase, sdp);
		tnd_obj_put(call);
		return;
	}
	/* 3xx-6xx: nua has ACKed it; nua_i_state/terminated follows */
	if (status >= 900)
		tnd_sipcall_set_why(call, TND_SIPCALL_END_ERROR, status, phrase);
	else if (!from_network(call, sip))
		tnd_sipcall_set_why(call, TND_SIPCALL_END_NETWORK, status, phrase);
	else
		tnd_sipcall_set_why(call, TND_SIPCALL_END_REJECTED, status, phrase);
}

static void on_i_state(struct tnd_sipcall *call, int status, const char *phrase,
		       const sip_t *sip, tagi_t tags[])
{
	int cs = -1;

	(void)sip;
	tl_gets(tags, NUTAG_CALLSTATE_REF(cs), TAG_END());
	TND_LOG_DEBUG(TND_LOG_SIP, "call %s: state %s (%d %s)", call->call_id,
		      cs >= 0 ? nua_callstate_name((enum nua_callstate)cs) : "?", status,
		      phrase ? phrase : "");
	if (cs == nua_callstate_terminated)
		tnd_sipcall_finish(call, status, phrase);
}

static void on_i_bye(struct tnd_sipcall *call, int status, const char *phrase,
		     const sip_t *sip, tagi_t tags[])
{
	(void)phrase;
	(void)sip;
	(void)tags;
	/* nua answered it (status is that answer); terminated follows */
	tnd_sipcall_set_why(call, TND_SIPCALL_END_REMOTE_BYE, status >= 200 ? status : 200, "BYE");
}

static void on_i_cancel(struct tnd_sipcall *call, int status, const char *phrase,
			const sip_t *sip, tagi_t tags[])
{
	(void)status;
	(void)phrase;
	(void)sip;
	(void)tags;
	/* nua answered 200 to the CANCEL and 487 to the INVITE */
	tnd_sipcall_set_why(call, TND_SIPCALL_END_REMOTE_CANCEL, SIP_487_REQUEST_TERMINATED);
}

static void on_i_ack(struct tnd_sipcall *call, int status, const char *phrase,
		     const sip_t *sip, tagi_t tags[])
{
	const struct tnd_sipcall_handlers *h = call->h;
	char *sdp;
	int err;

	(void)status;
	(void)phrase;
	(void)tags;
	if (call->late_offer && call->state == CS_ANSWERED) {
		/* the answer to the offer in our 2xx (RFC 3264 section 4);
		 * none, or an unusable one, leaves remote_sdp NULL and the
		 * owner ends the call */
		sdp = tnd_sipcall_body(sip, &err);
		free(call->remote_sdp);
		call->remote_sdp = sdp;
	}
	if (call->bye_on_ack) {
		call->bye_on_ack = false;
		tnd_sipcall_bye(call);
		return;
	}
	if (tnd_sipcall_on_reinvite_ack(call, sip))   /* reinvite.c: offerless re-INVITE */
		return;
	if (call->state != CS_ANSWERED)
		return;
	call->state = CS_CONFIRMED;
	if (h && h->ack) {
		tnd_obj_get(call);
		h->ack(call->arg, call);
		tnd_obj_put(call);
	}
}

static void on_r_bye(struct tnd_sipcall *call, int status, const char *phrase,
		     const sip_t *sip, tagi_t tags[])
{
	(void)tags;
	if ((status == 401 || status == 407) && challenged(call, status, phrase, sip, "BYE"))
		return;
	if (status >= 200)
		tnd_sipcall_set_why(call, TND_SIPCALL_END_LOCAL, status, phrase);
}

/* nua could not apply our credentials (no challenge it can answer): the
 * request stays unanswered, so the call ends here. */
static void on_r_authenticate(struct tnd_sipcall *call, int status, const char *phrase,
			      const sip_t *sip, tagi_t tags[])
{
	(void)sip;
	(void)tags;
	if (status < 300)
		return;
	TND_LOG_NOTICE(TND_LOG_SIP, "call %s: digest answer failed: %d %s", call->call_id,
		       status, phrase ? phrase : "");
	if (!call->established || call->state == CS_ENDING) {
		tnd_sipcall_set_why(call, TND_SIPCALL_END_REJECTED, call->end_status ?
				    call->end_status : 401, call->end_status ?
				    call->end_phrase : "Unauthorized");
		tnd_sipcall_finish(call, 401, "Unauthorized");
	}
}

static void on_i_invite(struct tnd_sipcall *call, int status, const char *phrase,
			const sip_t *sip, tagi_t tags[])
{
	(void)phrase;
	(void)tags;
	if (status < 200)
		tnd_sipcall_on_i_reinvite(call, sip);   /* reinvite.c */
}

static void on_i_error(struct tnd_sipcall *call, int status, const char *phrase,
		       const sip_t *sip, tagi_t tags[])
{
	(void)sip;
	(void)tags;
	TND_LOG_WARN(TND_LOG_SIP, "call %s: Sofia error %d %s", call->call_id, status,
		     phrase ? phrase : "");
}

/* One handler per nua event; the rest are logged and left to nua (it has
 * answered in-dialog UPDATE, PRACK, OPTIONS by the time we see them; INFO
 * is ours, info.c). */
static call_event_h *const call_events[] = {
	[nua_r_invite] = on_r_invite,
	[nua_i_state] = on_i_state,
	[nua_i_bye] = on_i_bye,
	[nua_i_cancel] = on_i_cancel,
	[nua_i_ack] = on_i_ack,
	[nua_r_bye] = on_r_bye,
	[nua_r_authenticate] = on_r_authenticate,
	[nua_i_invite] = on_i_invite,
	[nua_i_error] = on_i_error,
	[nua_i_media_error] = on_i_error,
	[nua_i_info] = tnd_sipcall_on_i_info,
	[nua_r_info] = tnd_sipcall_on_r_info,
	[nua_i_message] = tnd_sipcall_on_i_message,
	[nua_r_message] = tnd_sipcall_on_r_message,
	/* transfer: refer.c */
	[nua_r_refer] = tnd_sipcall_on_r_refer,
	[nua_i_refer] = tnd_sipcall_on_i_refer,
	[nua_i_notify] = tnd_sipcall_on_i_notify,
	[nua_r_notify] = tnd_sipcall_on_r_notify,
	[nua_i_update] = tnd_sipcall_on_i_update,       /* reinvite.c */
};

void tnd_sipcall_event(struct tnd_sipcall *call, nua_event_t event, int status,
		       const char *phrase, nua_handle_t *nh, const sip_t *sip, tagi_t tags[])
{
	call_event_h *fn = NULL;

	if (nh != call->nh || call->state == CS_ENDED) {
		/* cannot happen: a released call's handle is destroyed and
		 * Sofia delivers nothing more for it */
		TND_LOG_WARN(TND_LOG_SIP, "call %s: stray %s", call->call_id,
			     nua_event_name(event));
		return;
	}
	if (event >= 0 && (size_t)event < sizeof(call_events) / sizeof(call_events[0]))
		fn = call_events[event];
	TND_LOG_DEBUG(TND_LOG_SIP, "call %s: %s %d %s", call->call_id, nua_event_name(event),
		      status, phrase ? phrase : "");
	if (fn)
		fn(call, status, phrase, sip, tags);
}
