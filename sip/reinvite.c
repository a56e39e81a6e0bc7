/* Offers inside an established call, both ways: re-INVITE (RFC 3261 14)
 * and UPDATE (RFC 3311) from the peer, our own re-INVITE, and glare.
 * sip/ decides no media policy: a changed offer goes to the owner's
 * `reoffer` callback, whose tnd_sipcall_reanswer() becomes the response.
 * Only a byte-identical repeat of the peer's last SDP (a session-timer
 * refresh, RFC 4028) is answered here, with our last SDP.
 *
 * Glare (RFC 3261 14.1): our re-INVITE refused 491 is sent again after a
 * random 2.1-4 s when we own the Call-ID (we sent the initial INVITE), else
 * 0-2 s; an offer arriving while ours is out gets 491. When the peer's
 * offer is answered during that wait, ours is out of date (RFC 3264 8) and
 * is reported 491 instead of sent. Signalling thread.
 *
 * Invariant: at most one peer offer awaits our answer (re_req) and at most
 * one of ours is out (re_out); both are cleared before any callback runs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/msg.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>

#include "gateway/base/log.h"
#include "sip/sip_int.h"

#define SDP_MAX 65536
#define GLARE_TRIES 3

static bool same_sdp(const char *a, const sip_t *sip)
{
	const sip_payload_t *pl = sip ? sip->sip_payload : NULL;

	return a && pl && pl->pl_len == strlen(a) && !memcmp(a, pl->pl_data, pl->pl_len);
}

static bool has_body(const sip_t *sip)
{
	return sip && sip->sip_payload && sip->sip_payload->pl_len;
}

/* The status for an owner's refusal (sip.h, tnd_sipcall_reoffer_h). */
static int refusal(int err, const char **phrase)
{
	switch (err) {
	case ENOTSUP:
		*phrase = sip_488_Not_acceptable;
		return 488;
	case EBUSY:
	case EALREADY:
		*phrase = sip_491_Request_pending;
		return 491;
	case EINVAL:
	case EBADMSG:
		*phrase = sip_400_Bad_request;
		return 400;
	default:
		*phrase = sip_500_Internal_server_error;
		return 500;
	}
}

static void respond(struct tnd_sipcall *call, msg_t *req, int status, const char *phrase,
		    const char *sdp)
{
	nua_respond(call->nh, status, phrase, TAG_IF(req, NUTAG_WITH(req)),
		    TAG_IF(sdp, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
		    TAG_IF(sdp, SIPTAG_PAYLOAD_STR(sdp)), TAG_END());
}

/* RFC 3311 in an early dialog (after a reliable 18x): a refresh (no body,
 * or the session's SDP again, RFC 4028) keeps the early session; a change
 * is refused with 488 and the early session stays as it was, since only a
 * confirmed dialog is renegotiated (gateway/call answers those). */
static void early_update(struct tnd_sipcall *call, const sip_t *sip, msg_t *cur)
{
	if (!has_body(sip))
		respond(call, cur, SIP_200_OK, NULL);
	else if (call->local_sdp && call->remote_sdp && same_sdp(call->remote_sdp, sip))
		respond(call, cur, SIP_200_OK, call->local_sdp);
	else
		respond(call, cur, SIP_488_NOT_ACCEPTABLE, NULL);
}

/* A peer offer (re-INVITE or UPDATE); `update` tells which. */
static void peer_offer(struct tnd_sipcall *call, const sip_t *sip, bool update)
{
	const struct tnd_sipcall_handlers *h = call->h;
	nua_t *nua = call->ua ? call->ua->nua : NULL;
	msg_t *cur = nua ? nua_current_request(nua) : NULL;
	const char *phrase;
	char *sdp = NULL;
	int err, status;

	if (update && (call->state == CS_PROCEEDING || call->state == CS_EARLY) &&
	    !call->re_req && !call->re_out) {
		early_update(call, sip, cur);
		return;
	}
	if (call->state != CS_CONFIRMED || !call->local_sdp || call->re_req || call->re_out) {
		/* RFC 3261 14.2 / RFC 3311 5.2: an offer crossing ours, or one
		 * while the last is unanswered */
		respond(call, cur, SIP_491_REQUEST_PENDING, NULL);
		return;
	}
	if (!has_body(sip) ? update : same_sdp(call->remote_sdp, sip)) {
		/* a refresh (RFC 4028 section 9): the session stays as it is */
		respond(call, cur, SIP_200_OK, update && !has_body(sip) ? NULL : call->local_sdp);
		return;
	}
	if (!h || !h->reoffer) {
		TND_LOG_INFO(TND_LOG_SIP, "call %s: %s changes the session, nobody to ask: 488",
			     call->call_id, update ? "UPDATE" : "re-INVITE");
		respond(call, cur, SIP_488_NOT_ACCEPTABLE, NULL);
		return;
	}
	sdp = tnd_sipcall_body(sip, &err);
	if (err || (sdp && strlen(sdp) > SDP_MAX)) {
		respond(call, cur, SIP_400_BAD_REQUEST, NULL);
		free(sdp);
		return;
	}
	call->re_req = cur ? msg_ref_create(cur) : NULL;
	call->re_update = update;
	call->re_offerless = !sdp;
	free(call->re_offer);
	call->re_offer = sdp;
	tnd_obj_get(call);
	err = h->reoffer(call->arg, call, sdp, update);
	if (err && call->re_req) {
		/* refused before any answer: the dialog stays as it was */
		status = refusal(err, &phrase);
		TND_LOG_INFO(TND_LOG_SIP, "call %s: %s refused %d (%s)", call->call_id,
			     update ? "UPDATE" : "re-INVITE", status, strerror(err));
		tnd_sipcall_reanswer(call, status, NULL);
	}
	tnd_obj_put(call);
}

void tnd_sipcall_on_i_reinvite(struct tnd_sipcall *call, const sip_t *sip)
{
	peer_offer(call, sip, false);
}

void tnd_sipcall_on_i_update(struct tnd_sipcall *call, int status, const char *phrase,
			     const sip_t *sip, tagi_t tags[])
{
	(void)phrase;
	(void)tags;
	if (status < 200)
		peer_offer(call, sip, true);
}

int tnd_sipcall_reanswer(struct tnd_sipcall *call, int status, const char *sdp)
{
	msg_t *req;
	char *copy = NULL;

	if (!call || (status < 200 || status > 699) || (status < 300 && !sdp) ||
	    (sdp && (!*sdp || strlen(sdp) > SDP_MAX)))
		return EINVAL;
	if (!call->re_req || !call->nh || call->state == CS_ENDED)
		return EALREADY;
	if (status < 300) {
		copy = strdup(sdp);
		if (!copy)
			return ENOMEM;
	}
	req = call->re_req;
	call->re_req = NULL;
	respond(call, req, status, status < 300 ? sip_status_phrase(status) : NULL,
		status < 300 ? copy : NULL);
	msg_destroy(req);
	if (status >= 300) {
		free(call->re_offer);
		call->re_offer = NULL;
		call->re_offerless = false;
		return 0;
	}
	/* the session is now what this exchange says */
	free(call->local_sdp);
	call->local_sdp = copy;
	if (call->re_offer) {
		free(call->remote_sdp);
		call->remote_sdp = call->re_offer;
		call->re_offer = NULL;
	}
	TND_LOG_INFO(TND_LOG_SIP, "call %s: %s answered %d", call->call_id,
		     call->re_update ? "UPDATE" : call->re_offerless ? "offerless re-INVITE" :
		     "re-INVITE", status);
	/* RFC 3264 8: our waiting offer was made on the session before this
	 * exchange (its o= version is now taken): not to be sent as it is */
	if (call->re_timer)
		call->re_stale = true;
	return 0;
}

bool tnd_sipcall_on_reinvite_ack(struct tnd_sipcall *call, const sip_t *sip)
{
	const struct tnd_sipcall_handlers *h = call->h;
	char *sdp;
	int err;

	if (!call->re_offerless || call->state != CS_CONFIRMED)
		return false;
	call->re_offerless = false;
	sdp = tnd_sipcall_body(sip, &err);
	if (sdp) {
		free(call->remote_sdp);
		call->remote_sdp = strdup(sdp);
	} else {
		TND_LOG_NOTICE(TND_LOG_SIP, "call %s: the ACK to our offer has no answer",
			       call->call_id);
	}
	if (h && h->reack) {
		tnd_obj_get(call);
		h->reack(call->arg, call, sdp);
		tnd_obj_put(call);
	}
	free(sdp);
	return true;
}

/* ------------------------------------------------------------ ours */

/* auth: a SHA-256 answer to the last one's challenge, or NULL for the
 * account's pre-emptive credentials (authcache.c) */
static void send_reinvite(struct tnd_sipcall *call, const struct tnd_sipauth_hdrs *auth)
{
	struct tnd_sipauth_hdrs pre;

	if (!auth) {
		tnd_sipcall_auth_hdrs(call, "INVITE", &pre);
		auth = &pre;
	}
	call->re_out = true;
	nua_invite(call->nh, SIPTAG_CONTENT_TYPE_STR("application/sdp"),
		   SIPTAG_PAYLOAD_STR(call->re_sdp), TND_SIPAUTH_TAGS(auth), TAG_END());
	explicit_bzero(&pre, sizeof(pre));
}

int tnd_sipcall_reinvite_again(struct tnd_sipcall *call, const struct tnd_sipauth_hdrs *auth)
{
	if (!call->re_out || !call->re_sdp || !call->nh)
		return EALREADY;
	send_reinvite(call, auth);
	return 0;
}

static gboolean glare_retry(gpointer data)
{
	struct tnd_sipcall *call = data;
	const struct tnd_sipcall_handlers *h = call->h;

	g_source_unref(call->re_timer);
	call->re_timer = NULL;
	if (call->re_stale) {
		/* the peer's offer went first (RFC 3261 14.1): the owner decides
		 * whether a new offer is still wanted */
		call->re_stale = false;
		free(call->re_sdp);
		call->re_sdp = NULL;
		TND_LOG_INFO(TND_LOG_SIP, "call %s: the peer's offer went first: our re-INVITE "
			     "is not sent again", call->call_id);
		if (h && h->reanswered) {
			tnd_obj_get(call);
			h->reanswered(call->arg, call, 491, sip_491_Request_pending, NULL);
			tnd_obj_put(call);
		}
		return G_SOURCE_REMOVE;
	}
	if (call->state == CS_CONFIRMED && call->nh && call->re_sdp) {
		TND_LOG_INFO(TND_LOG_SIP, "call %s: re-INVITE again after 491", call->call_id);
		send_reinvite(call, NULL);
	}
	return G_SOURCE_REMOVE;
}

int tnd_sipcall_reinvite(struct tnd_sipcall *call, const char *sdp)
{
	char *copy;

	if (!call || !sdp || !*sdp || strlen(sdp) > SDP_MAX)
		return EINVAL;
	if (call->state != CS_CONFIRMED || !call->nh || !call->ua)
		return EALREADY;
	if (call->re_out || call->re_req || call->re_timer)
		return EBUSY;
	if (call->re_stuck)
		return EPERM;
	copy = strdup(sdp);
	if (!copy)
		return ENOMEM;
	free(call->re_sdp);
	call->re_sdp = copy;
	call->re_tries = 0;
	call->re_stale = false;
	send_reinvite(call, NULL);
	TND_LOG_INFO(TND_LOG_SIP, "call %s: re-INVITE sent", call->call_id);
	return 0;
}

void tnd_sipcall_on_r_reinvite(struct tnd_sipcall *call, int status, const char *phrase,
			       const sip_t *sip)
{
	const struct tnd_sipcall_handlers *h = call->h;
	char *sdp = NULL;
	int err = 0;

	if (status < 200 || !call->re_out)
		return;
	call->re_out = false;
	if (status == 491 && ++call->re_tries < GLARE_TRIES && call->ua) {
		/* RFC 3261 14.1: we own the Call-ID when we sent the INVITE */
		guint ms = call->outgoing ? (guint)g_random_int_range(2100, 4001) :
			   (guint)g_random_int_range(0, 2001);

		TND_LOG_INFO(TND_LOG_SIP, "call %s: re-INVITE met glare (491): again in %u ms",
			     call->call_id, ms);
		call->re_timer = g_timeout_source_new(ms);
		g_source_set_callback(call->re_timer, glare_retry, call, NULL);
		g_source_attach(call->re_timer, call->ua->ctx);
		return;
	}
	if (status < 300) {
		sdp = tnd_sipcall_body(sip, &err);
		free(call->local_sdp);
		call->local_sdp = call->re_sdp;
		call->re_sdp = NULL;
		if (sdp) {
			free(call->remote_sdp);
			call->remote_sdp = strdup(sdp);
		}
	}
	TND_LOG_INFO(TND_LOG_SIP, "call %s: our re-INVITE answered %d %s", call->call_id, status,
		     phrase ? phrase : "");
	if (h && h->reanswered) {
		tnd_obj_get(call);
		h->reanswered(call->arg, call, status, phrase, sdp);
		tnd_obj_put(call);
	}
	free(sdp);
}

bool tnd_sipcall_reinvite_out(const struct tnd_sipcall *call)
{
	return call->re_out;
}

void tnd_sipcall_re_clear(struct tnd_sipcall *call)
{
	if (call->re_timer) {
		g_source_destroy(call->re_timer);
		g_source_unref(call->re_timer);
		call->re_timer = NULL;
	}
	if (call->re_req) {
		msg_destroy(call->re_req);
		call->re_req = NULL;
	}
	free(call->re_sdp);
	free(call->re_offer);
	call->re_sdp = call->re_offer = NULL;
	call->re_out = call->re_offerless = call->re_stale = false;
	call->re_abandon = call->re_stuck = false;
}

const char *tnd_sipcall_local_sdp(const struct tnd_sipcall *call)
{
	return call ? call->local_sdp : NULL;
}

const char *tnd_sipcall_remote_sdp(const struct tnd_sipcall *call)
{
	return call ? call->remote_sdp : NULL;
}
