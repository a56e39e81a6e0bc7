/* Incoming calls: a new INVITE becomes a call, the gateway's handler takes
 * or refuses it, and the owner answers with 18x, 2xx or an error status
 * (RFC 3261 section 13.3). Also re-INVITEs inside a call. Signalling thread.
 *
 * Every new INVITE gets a call object bound to its handle, even one we
 * refuse at once, so that all handles end the same way (nua_i_state
 * terminated, then tnd_sipcall_finish destroys the handle). A call refused
 * by the UA has no handlers: nothing is reported for it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <glib.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/url.h>

#include "gateway/base/log.h"
#include "sip/sip_int.h"

#define SDP_MAX (64 * 1024)

/* The errno -> status table of sip.h (R5, with SIP's own "offline"). */
static int errno_status(int err, const char **phrase)
{
	switch (err) {
	case ENOENT: *phrase = sip_404_Not_found; return 404;
	case EAGAIN:
	case EBUSY: *phrase = sip_480_Temporarily_unavailable; return 480;
	case EPERM:
	case EACCES: *phrase = sip_403_Forbidden; return 403;
	case ENOTSUP: *phrase = sip_488_Not_acceptable; return 488;
	case EINVAL: *phrase = sip_400_Bad_request; return 400;
	default: *phrase = sip_500_Internal_server_error; return 500;
	}
}

/* Strings of the INVITE copied out of Sofia's message (R3: copy at the edge) */
struct in_copy {
	char *ruri_user, *from_uri, *from_display, *to_uri, *sdp;
	char *hdr_text[TND_SIPCALL_MAX_HEADERS * 2];
	struct tnd_sip_header hdrs[TND_SIPCALL_MAX_HEADERS];
	size_t n_hdrs;
};

static void in_copy_free(struct in_copy *c)
{
	size_t i;

	free(c->ruri_user);
	free(c->from_uri);
	free(c->from_display);
	free(c->to_uri);
	free(c->sdp);
	for (i = 0; i < 2 * c->n_hdrs; i++)
		free(c->hdr_text[i]);
}

/* A URI as text, without a password (R6: they would reach logs) */
static char *url_str(const url_t *src)
{
	char buf[1024];
	url_t u;

	if (!src)
		return strdup("");
	u = *src;
	u.url_password = NULL;
	if (url_e(buf, sizeof(buf), &u) < 0 || strlen(buf) >= sizeof(buf) - 1)
		return NULL;
	return strdup(buf);
}

/* Strings from SIP end up in JSON, which must be UTF-8 (review M9: a
 * Latin-1 display name emptied the browser's `incoming`). Valid UTF-8
 * passes; anything else is taken as ISO-8859-1, the usual legacy charset
 * of PBX directories, which maps every byte. Takes `s` (malloc'd), returns
 * a malloc'd UTF-8 string or NULL. */
static char *utf8_of(char *s)
{
	char *g, *out;

	if (!s || g_utf8_validate(s, -1, NULL))
		return s;
	g = g_convert(s, -1, "UTF-8", "ISO-8859-1", NULL, NULL, NULL);
	free(s);
	if (!g)
		return NULL;
	out = strdup(g);
	g_free(g);
	return out;
}

/* A display-name without its quotes and backslash escapes (RFC 3261
 * 25.1 quoted-string); a token list is kept as it is. */
static char *unquote(const char *s)
{
	size_t n = strlen(s), i, o = 0;
	char *d;

	if (n < 2 || s[0] != '"' || s[n - 1] != '"')
		return strdup(s);
	d = malloc(n);
	if (!d)
		return NULL;
	for (i = 1; i < n - 1; i++) {
		if (s[i] == '\\' && i + 1 < n - 1)
			i++;
		d[o++] = s[i];
	}
	d[o] = '\0';
	return d;
}

/* 0, or the status to answer with */
static int in_copy_make(struct in_copy *c, const sip_t *sip, const char **phrase)
{
	const sip_unknown_t *u;
	int err;

	*phrase = sip_500_Internal_server_error;
	/* no body: a late offer (RFC 3261 13.2.1), our 2xx offers and the
	 * ACK answers; c->sdp stays NULL */
	if (sip->sip_payload && sip->sip_payload->pl_len) {
		if (!sip->sip_content_type || !sip->sip_content_type->c_type ||
		    strcasecmp(sip->sip_content_type->c_type, "application/sdp")) {
			*phrase = sip_415_Unsupported_media;
			return 415;
		}
		if (sip->sip_payload->pl_len > SDP_MAX) {
			*phrase = sip_413_Request_too_large;
			return 413;
		}
		c->sdp = tnd_sipcall_body(sip, &err);
		if (err == EBADMSG) {
			*phrase = sip_400_Bad_request;
			return 400;
		}
		if (!c->sdp)
			return 500;
	}
	if (tnd_sipchk_peer_uri(sip->sip_from->a_url) || tnd_sipchk_peer_uri(sip->sip_to->a_url)) {
		*phrase = sip_400_Bad_request;      /* check.c: the malformed corpus */
		return 400;
	}
	c->ruri_user = strdup(sip->sip_request->rq_url->url_user ?
			      sip->sip_request->rq_url->url_user : "");
	c->from_uri = url_str(sip->sip_from->a_url);
	c->to_uri = url_str(sip->sip_to->a_url);
	if (sip->sip_from->a_display && *sip->sip_from->a_display) {
		c->from_display = utf8_of(unquote(sip->sip_from->a_display));
		if (!c->from_display)
			return 500;
	}
	if (!c->ruri_user || !c->from_uri || !c->to_uri)
		return 500;
	for (u = sip->sip_unknown; u; u = u->un_next) {
		if (!u->un_name || strncasecmp(u->un_name, "X-", 2))
			continue;
		if (c->n_hdrs == TND_SIPCALL_MAX_HEADERS) {
			TND_LOG_INFO(TND_LOG_SIP, "INVITE %s: more than %d X- headers, "
				     "the rest dropped", sip->sip_call_id->i_id,
				     TND_SIPCALL_MAX_HEADERS);
			break;
		}
		c->hdr_text[2 * c->n_hdrs] = utf8_of(strdup(u->un_name));
		c->hdr_text[2 * c->n_hdrs + 1] = utf8_of(strdup(u->un_value ? u->un_value : ""));
		c->hdrs[c->n_hdrs].name = c->hdr_text[2 * c->n_hdrs];
		c->hdrs[c->n_hdrs].value = c->hdr_text[2 * c->n_hdrs + 1];
		c->n_hdrs++;
		if (!c->hdr_text[2 * c->n_hdrs - 2] || !c->hdr_text[2 * c->n_hdrs - 1])
			return 500;
	}
	return 0;
}

/* Asks the gateway's handler; returns 0 when it took the call, else the
 * status to refuse with. */
static int offer_call(struct tnd_sipua *ua, struct tnd_sipcall *call, const sip_t *sip,
		      struct tnd_sipcall *replaced, const char **phrase)
{
	struct in_copy c = { 0 };
	struct tnd_sipcall_info info;
	int status, err;

	status = in_copy_make(&c, sip, phrase);
	if (status)
		goto out;
	if (!ua->incoming) {
		*phrase = sip_480_Temporarily_unavailable;
		status = 480;
		goto out;
	}
	/* kept to tell a session refresh from a new offer (re-INVITE) */
	call->remote_sdp = c.sdp;
	call->late_offer = !c.sdp;
	c.sdp = NULL;
	info = (struct tnd_sipcall_info){
		.ruri_user = c.ruri_user, .from_uri = c.from_uri, .from_display = c.from_display,
		.to_uri = c.to_uri, .sdp = call->remote_sdp,
		.headers = c.hdrs, .n_headers = c.n_hdrs,
		.reg_arg = tnd_sipreg_owner_arg(tnd_sipreg_find(ua, c.ruri_user)),
		.source = tnd_sipua_source(ua->nua),
		.replaces = replaced,
	};
	err = ua->incoming(ua->incoming_arg, call, &info);
	if (!err && !call->h) {
		TND_LOG_ERR(TND_LOG_SIP, "call %s: incoming handler kept no handlers",
			    call->call_id);
		err = EFAULT;
	}
	if (err) {
		/* refused: whatever the handler set up, it hears nothing more */
		call->h = NULL;
		call->arg = NULL;
		call->detached = true;
		status = errno_status(err, phrase);
	}
 out:
	in_copy_free(&c);
	return status;
}

/* A call our registrar delivers to a registration's Contact: that proxy
 * may challenge our BYE or re-INVITE in the dialog as it challenges the
 * account's own calls (a 407 left the peer's call up: linphone never
 * heard our BYE through Kamailio). Only the registrar's own delivery gets
 * them: another source could challenge us to learn a digest response. */
static void lend_reg_auth(struct tnd_sipua *ua, struct tnd_sipcall *call, const sip_t *sip)
{
	const char *user = sip->sip_request->rq_url->url_user;
	struct tnd_sipreg *reg = user ? tnd_sipreg_find(ua, user) : NULL;

	if (reg && tnd_sipreg_from_registrar(reg, tnd_sipua_source(ua->nua)) &&
	    tnd_sipreg_copy_auth(reg, &call->auth))
		TND_LOG_WARN(TND_LOG_SIP, "call %s: no memory for the registration's "
			     "credentials", call->call_id);
}

void tnd_sipcall_incoming(struct tnd_sipua *ua, nua_handle_t *nh, const sip_t *sip,
			  int refuse, const char *phrase, const char *challenge)
{
	struct tnd_sipcall *call = tnd_sipcall_new(ua, false);
	int status;

	if (!call || !sip || !sip->sip_call_id ||
	    !(call->call_id = strdup(sip->sip_call_id->i_id))) {
		/* nua answers 500 for a handle destroyed unanswered */
		TND_LOG_ERR(TND_LOG_SIP, "incoming INVITE: out of memory");
		nua_handle_destroy(nh);
		tnd_obj_put(call);
		return;
	}
	call->nh = nh;
	nua_handle_bind(nh, call);
	tnd_obj_get(call);                /* hmagic's, until tnd_sipcall_finish() */
	tnd_sipua_link_call(ua, call);
	call->contact = refuse ? NULL : tnd_siptls_contact(ua, NULL, NULL, sip);
	if (refuse) {
		/* not admitted: answered without a log line (a flood must not
		 * write one per request) and without asking who is called */
		if (refuse == 401 && challenge && *challenge)
			nua_respond(nh, refuse, phrase, SIPTAG_WWW_AUTHENTICATE_STR(challenge),
				    TAG_END());
		else
			nua_respond(nh, refuse, phrase, TAG_END());
		tnd_sipcall_set_why(call, TND_SIPCALL_END_LOCAL, refuse, phrase);
		call->state = CS_ENDING;
		tnd_obj_put(call);
		return;
	}
	TND_LOG_INFO(TND_LOG_SIP, "call %s: INVITE for %s from %s@%s", call->call_id,
		     sip->sip_request->rq_url->url_user ? sip->sip_request->rq_url->url_user : "",
		     sip->sip_from->a_url->url_user ? sip->sip_from->a_url->url_user : "",
		     sip->sip_from->a_url->url_host ? sip->sip_from->a_url->url_host : "");
	tnd_sipcall_allow_refer(call);    /* admitted: transfer in its dialog */
	lend_reg_auth(ua, call, sip);

	phrase = NULL;
	if (ua->stopping) {
		status = 503;
		phrase = sip_503_Service_unavailable;
	} else if (sip->sip_max_forwards && sip->sip_max_forwards->mf_count == 0) {
		/* nta lets Max-Forwards: 0 reach a UA; the gateway may place a
		 * new SIP call for this one, so it counts as a hop (RFC 3261
		 * 16.3 item 2, RFC 7332) and a loop stops here */
		status = 483;
		phrase = sip_483_Too_many_hops;
	} else {
		/* RFC 3891: a Replaces naming no dialog we may give up is
		 * answered here; the replaced call is held across the handler */
		struct tnd_sipcall *replaced = NULL;

		status = tnd_sipcall_replaced(ua, call, sip, &replaced, &phrase);
		if (!status) {
			tnd_obj_get(replaced);
			status = offer_call(ua, call, sip, replaced, &phrase);
			tnd_obj_put(replaced);
		}
	}
	if (status && (call->state == CS_RECEIVED || call->state == CS_EARLY)) {
		TND_LOG_INFO(TND_LOG_SIP, "call %s: refused %d %s", call->call_id, status, phrase);
		if (status == 415)
			nua_respond(nh, status, phrase, SIPTAG_ACCEPT_STR("application/sdp"),
				    TAG_END());
		else
			nua_respond(nh, status, phrase, TAG_END());
		tnd_sipcall_set_why(call, TND_SIPCALL_END_LOCAL, status, phrase);
		call->state = CS_ENDING;
	} else if (status) {
		/* the handler answered and then refused: end what it started */
		tnd_sipcall_end(call, TND_SIPCALL_END_LOCAL);
	}
	tnd_obj_put(call);                /* ours; the handler took its own */
}

static int check_incoming(const struct tnd_sipcall *call)
{
	if (!call)
		return EINVAL;
	if (call->outgoing)
		return EINVAL;
	if (call->state != CS_RECEIVED && call->state != CS_EARLY)
		return EALREADY;
	return 0;
}

int tnd_sipcall_ringing(struct tnd_sipcall *call, const char *sdp)
{
	int err = check_incoming(call);

	if (err)
		return err;
	if (sdp && (!*sdp || strlen(sdp) > SDP_MAX))
		return EINVAL;
	if (sdp)
		nua_respond(call->nh, SIP_183_SESSION_PROGRESS,
			    SIPTAG_CONTENT_TYPE_STR("application/sdp"), SIPTAG_PAYLOAD_STR(sdp),
			    TAG_IF(call->contact, SIPTAG_CONTACT_STR(call->contact)), TAG_END());
	else
		nua_respond(call->nh, SIP_180_RINGING,
			    TAG_IF(call->contact, SIPTAG_CONTACT_STR(call->contact)), TAG_END());
	call->state = CS_EARLY;
	return 0;
}

int tnd_sipcall_answer(struct tnd_sipcall *call, const char *sdp)
{
	char *copy;
	int err = check_incoming(call);

	if (err)
		return err;
	if (!sdp || !*sdp || strlen(sdp) > SDP_MAX)
		return EINVAL;
	copy = strdup(sdp);
	if (!copy)
		return ENOMEM;
	free(call->local_sdp);
	call->local_sdp = copy;
	/* NUTAG_UPDATE_REFRESH: should we have to refresh the session (RFC
	 * 4028, a peer without timer support), an UPDATE without SDP does it;
	 * nua's re-INVITE would go without an offer (sip/reinvite.c) */
	nua_respond(call->nh, SIP_200_OK, SIPTAG_CONTENT_TYPE_STR("application/sdp"),
		    SIPTAG_PAYLOAD_STR(call->local_sdp), NUTAG_UPDATE_REFRESH(1),
		    TAG_IF(call->contact, SIPTAG_CONTACT_STR(call->contact)), TAG_END());
	call->state = CS_ANSWERED;
	call->established = true;
	TND_LOG_INFO(TND_LOG_SIP, "call %s: answered", call->call_id);
	return 0;
}

int tnd_sipcall_reject_retry(struct tnd_sipcall *call, int status, const char *phrase,
			     unsigned retry_after)
{
	int err = check_incoming(call);
	char ra[16];

	if (err)
		return err;
	if (status < 400 || status > 699 || status == 401 || status == 407)
		return EINVAL;
	if (phrase && (tnd_sipchk_display(phrase) || strlen(phrase) > 60))
		return EINVAL;
	if (!phrase)
		phrase = sip_status_phrase(status);
	if (!phrase)
		phrase = "Rejected";
	snprintf(ra, sizeof(ra), "%u", retry_after);
	nua_respond(call->nh, status, phrase,
		    TAG_IF(retry_after, SIPTAG_RETRY_AFTER_STR(ra)), TAG_END());
	tnd_sipcall_set_why(call, TND_SIPCALL_END_LOCAL, status, phrase);
	call->state = CS_ENDING;
	TND_LOG_INFO(TND_LOG_SIP, "call %s: rejected %d %s", call->call_id, status, phrase);
	return 0;
}

int tnd_sipcall_reject(struct tnd_sipcall *call, int status, const char *phrase)
{
	return tnd_sipcall_reject_retry(call, status, phrase, 0);
}
