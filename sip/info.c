/* SIP INFO inside a call's dialog (RFC 6086): what carries DTMF to and
 * from PBXs and trunks without RFC 4733 (application/dtmf-relay,
 * application/dtmf). sip/ reads no body: an INFO's Content-Type and body
 * go to the owner's typed `info` callback, whose verdict becomes the
 * response (200, 415 or 400); tnd_sipcall_info() sends one. nua answers
 * nothing itself (INFO is in APPL_METHODS, ua.c). Signalling thread. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>

#include "gateway/base/log.h"
#include "sip/sip_int.h"

/* a DTMF body is a few dozen bytes; other INFOs reach the browser */
#define INFO_MAX_BODY TND_SIP_TEXT_MAX

void tnd_sipcall_on_i_info(struct tnd_sipcall *call, int status, const char *phrase,
			   const sip_t *sip, tagi_t tags[])
{
	const struct tnd_sipcall_handlers *h = call->h;
	nua_t *nua = call->ua ? call->ua->nua : NULL;
	const char *body = "";
	char ctype[64];
	size_t len = 0;
	int err = ENOTSUP;

	(void)phrase;
	(void)tags;
	if (status >= 200 || !nua)
		return;
	tnd_sip_content_type(sip, ctype, sizeof(ctype));
	if (sip && sip->sip_payload) {
		body = sip->sip_payload->pl_data;
		len = sip->sip_payload->pl_len;
	}
	if (len > INFO_MAX_BODY) {
		err = EMSGSIZE;
	} else if (h && h->info) {
		tnd_obj_get(call);   /* the owner may drop its reference inside */
		err = h->info(call->arg, call, ctype, body, len);
		tnd_obj_put(call);
	}
	if (call->state == CS_ENDED || !call->nh)
		return;
	if (!err)
		nua_respond(call->nh, SIP_200_OK, NUTAG_WITH_CURRENT(nua), TAG_END());
	else if (err == ENOTSUP)
		nua_respond(call->nh, SIP_415_UNSUPPORTED_MEDIA,
			    SIPTAG_ACCEPT_STR("application/dtmf-relay, application/dtmf, text/*, "
					      "application/json, application/xml"),
			    NUTAG_WITH_CURRENT(nua), TAG_END());
	else if (err == EMSGSIZE)
		nua_respond(call->nh, SIP_413_REQUEST_TOO_LARGE, NUTAG_WITH_CURRENT(nua),
			    TAG_END());
	else
		nua_respond(call->nh, SIP_400_BAD_REQUEST, NUTAG_WITH_CURRENT(nua), TAG_END());
	TND_LOG_DEBUG(TND_LOG_SIP, "call %s: INFO %s (%zu bytes): %s", call->call_id,
		      ctype[0] ? ctype : "without body", len, err ? strerror(err) : "taken");
}

void tnd_sipcall_on_r_info(struct tnd_sipcall *call, int status, const char *phrase,
			   const sip_t *sip, tagi_t tags[])
{
	(void)tags;
	if (status < 200)
		return;
	if (tnd_sipreq_unauthorized(call, TND_SIPREQ_INFO, status, phrase, sip))
		return;
	tnd_sipauth_ok(&call->auth);
	if (status >= 300)
		TND_LOG_WARN(TND_LOG_SIP, "call %s: our INFO got %d %s", call->call_id, status,
			     phrase ? phrase : "");
	tnd_sipreq_pop(call, TND_SIPREQ_INFO, status, phrase);   /* message.c */
}

int tnd_sipcall_info(struct tnd_sipcall *call, const char *ctype, const char *body)
{
	if (!call || !ctype || !body || !*ctype || strlen(body) > INFO_MAX_BODY)
		return EINVAL;
	/* RFC 6086 section 4.2.1: in the dialog; DTMF matters once answered */
	if (!call->nh || (call->state != CS_CONFIRMED && call->state != CS_ANSWERED))
		return EALREADY;
	/* queued with no done: keeps the answers in step */
	tnd_sipreq_send(call, TND_SIPREQ_INFO, ctype, body, NULL, NULL);
	return 0;
}
