/* Outgoing calls: checks the request, builds From, To and the X- headers,
 * and sends the INVITE with the caller's SDP as an opaque
 * application/sdp body (Sofia's SOA is off: RFC 3264 offer/answer is the
 * gateway's business). RFC 3261 section 13.2.1. Signalling thread.
 * Everything is checked before anything is made, so a bad request fails
 * with EINVAL and no SIP leaves. A late offer (RFC 3261 13.2.1) sends no
 * body and turns nua's automatic ACK off for the call: the ACK carries the
 * owner's answer to the offer in the 2xx (tnd_sipcall_ack). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/url.h>

#include "gateway/base/log.h"
#include "sip/sip_int.h"

#define SDP_MAX (64 * 1024)
#define XFER_HDR_MAX 511

/* A header value of ours to send: one line, not empty, bounded. */
static bool hdr_value_ok(const char *v)
{
	size_t n = 0;

	for (; v[n]; n++) {
		if ((unsigned char)v[n] < 0x20 || v[n] == 0x7f || n >= XFER_HDR_MAX)
			return false;
	}
	return n > 0;
}

static int check_params(const struct tnd_sipua *ua, const struct tnd_sipcall_params *p)
{
	size_t i;

	if (tnd_sipchk_uri(p->to, ua->has_proxy || p->route) ||
	    (p->from_uri ? tnd_sipchk_uri(p->from_uri, false) : tnd_sipchk_user(p->from_user)) ||
	    tnd_sipchk_display(p->from_display))
		return EINVAL;
	if ((p->route && tnd_sipchk_uri(p->route, false)) ||
	    (p->cred && tnd_sip_cred_check(p->cred)))
		return EINVAL;
	if (p->late_offer ? p->sdp != NULL : (!p->sdp || !*p->sdp || strlen(p->sdp) > SDP_MAX))
		return EINVAL;
	if (p->n_headers > TND_SIPCALL_MAX_HEADERS || (p->n_headers && !p->headers))
		return EINVAL;
	for (i = 0; i < p->n_headers; i++) {
		if (tnd_sipchk_header(&p->headers[i]))
			return EINVAL;
	}
	if ((p->referred_by && tnd_sipchk_uri(p->referred_by, false)) ||
	    (p->replaces && !hdr_value_ok(p->replaces)))
		return EINVAL;
	return 0;
}

/* RFC 3261 8.1.1.4: a Call-ID that is globally unique and unguessable */
static char *new_call_id(void)
{
	unsigned char rnd[16];
	char *id;
	size_t i;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return NULL;
	id = malloc(sizeof(rnd) * 2 + 1);
	if (!id)
		return NULL;
	for (i = 0; i < sizeof(rnd); i++)
		snprintf(id + 2 * i, 3, "%02x", rnd[i]);
	return id;
}

/* "X-A: 1" lines in call->xhdr, their tags in call->xtags (ended by a zero
 * tag): kept on the call, since the INVITE may leave after a name lookup
 * (or again, with credentials). A REFER's Referred-By and Replaces ride
 * along the same way. */
static int header_tags(struct tnd_sipcall *call, const struct tnd_sipcall_params *p)
{
	const char *names[TND_SIPCALL_MAX_HEADERS + 2], *values[TND_SIPCALL_MAX_HEADERS + 2];
	bool angle[TND_SIPCALL_MAX_HEADERS + 2];   /* a URI: in <> */
	size_t i, n = 0, len = 1, o = 0;

	for (i = 0; i < p->n_headers; i++, n++) {
		names[n] = p->headers[i].name;
		values[n] = p->headers[i].value;
		angle[n] = false;
	}
	if (p->referred_by) {
		names[n] = "Referred-By";
		values[n] = p->referred_by;
		angle[n++] = true;
	}
	if (p->replaces) {
		names[n] = "Replaces";
		values[n] = p->replaces;
		angle[n++] = false;
	}
	for (i = 0; i < n; i++)
		len += strlen(names[i]) + strlen(values[i]) + 5;
	call->xhdr = malloc(len);
	call->xtags = calloc(n + 1, sizeof(*call->xtags));
	if (!call->xhdr || !call->xtags)
		return ENOMEM;
	for (i = 0; i < n; i++) {
		call->xtags[i].t_tag = siptag_header_str;
		call->xtags[i].t_value = (tag_value_t)(call->xhdr + o);
		o += (size_t)sprintf(call->xhdr + o, angle[i] ? "%s: <%s>" : "%s: %s",
				     names[i], values[i]) + 1;
	}
	call->xtags[i].t_tag = NULL;
	call->xtags[i].t_value = 0;
	return 0;
}

void tnd_sipcall_send_invite(struct tnd_sipcall *call, const char *next_hop)
{
	struct tnd_sipauth_hdrs auth;

	/* NUTAG_PROXY sticks to the handle: the dialog's later requests go the
	 * same way, as with the UA-wide outbound proxy */
	if (!next_hop)
		next_hop = call->route;
	if (next_hop && next_hop != call->next_hop) {
		free(call->next_hop);
		call->next_hop = strdup(next_hop);   /* NULL: the retry routes by URI */
	}
	/* NUTAG_EARLY_MEDIA: nta takes the peer's reliable 18x (RFC 3262) as
	 * such and nua PRACKs each (PRACK is not in APPL_METHODS, ua.c) */
	/* a late offer: no body, and the ACK waits for our answer
	 * (tnd_sipcall_ack) */
	/* the account's last challenge answered before it is sent again
	 * (authcache.c): no 401/407 round trip while the nonce lives */
	tnd_sipcall_auth_hdrs(call, "INVITE", &auth);
	nua_invite(call->nh, TAG_IF(next_hop, NUTAG_PROXY(URL_STRING_MAKE(next_hop))),
		   NUTAG_EARLY_MEDIA(1), TAG_IF(call->late_offer, NUTAG_AUTOACK(0)),
		   TAG_IF(call->contact, SIPTAG_CONTACT_STR(call->contact)),
		   SIPTAG_CALL_ID_STR(call->call_id), TND_SIPAUTH_TAGS(&auth),
		   TAG_IF(call->local_sdp, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
		   TAG_IF(call->local_sdp, SIPTAG_PAYLOAD_STR(call->local_sdp)),
		   TAG_NEXT(call->xtags));
	call->invite_preempted = auth.n > 0;
	explicit_bzero(&auth, sizeof(auth));
	call->state = CS_CALLING;
}

int tnd_sipcall_invite(struct tnd_sipcall **callp, struct tnd_sipua *ua,
		       const struct tnd_sipcall_params *p,
		       const struct tnd_sipcall_handlers *h, void *arg)
{
	char display[2 * 128 + 3] = "";
	struct tnd_sipcall *call = NULL;
	char *from = NULL, *to = NULL;
	bool lookup = false;
	nua_handle_t *nh;
	size_t n;
	int err;

	if (!callp || !ua || !p || !h || !h->ended)
		return EINVAL;
	err = check_params(ua, p);
	if (err)
		return err;
	if (ua->stopping)
		return EBUSY;
	if (p->from_display && *p->from_display &&
	    tnd_sipchk_quote(display, sizeof(display) - 1, p->from_display))
		return EINVAL;
	if (*display)
		strcat(display, " ");

	err = ENOMEM;
	n = strlen(display) + (p->from_uri ? strlen(p->from_uri) :
			       strlen(p->from_user) + strlen(ua->from_host)) + 8;
	from = malloc(n);
	to = malloc(strlen(p->to) + 3);
	call = tnd_sipcall_new(ua, true);
	if (!from || !to || !call || header_tags(call, p))
		goto out;
	if (p->from_uri)
		snprintf(from, n, "%s<%s>", display, p->from_uri);
	else
		snprintf(from, n, "%s<sip:%s@%s>", display, p->from_user, ua->from_host);
	if (tnd_sipauth_set(&call->auth, p->cred))
		goto out;
	if (p->route && !(call->route = strdup(p->route)))
		goto out;
	sprintf(to, "<%s>", p->to);
	call->call_id = new_call_id();
	call->late_offer = p->late_offer;
	call->ruri = strdup(p->to);
	call->from_hdr = strdup(from);
	call->to_hdr = strdup(to);
	call->local_sdp = p->sdp ? strdup(p->sdp) : NULL;
	if (!call->call_id || !call->ruri || !call->from_hdr || !call->to_hdr ||
	    (p->sdp && !call->local_sdp))
		goto out;
	call->h = h;
	call->arg = arg;
	/* NULL unless sip: over TLS (or out of memory: Sofia's then) */
	call->contact = tnd_siptls_contact(ua, NULL, p->route ? p->route : ua->proxy ? ua->proxy :
					   p->to, NULL);

	nh = nua_handle(ua->nua, call, NUTAG_URL(URL_STRING_MAKE(p->to)), SIPTAG_TO_STR(to),
			SIPTAG_FROM_STR(from), TAG_END());
	if (!nh)
		goto out;
	call->nh = nh;
	tnd_obj_get(call);           /* hmagic's, until tnd_sipcall_finish() */
	tnd_sipua_link_call(ua, call);
	tnd_sipcall_allow_refer(call);
	/* a host name is looked up here, not by Sofia (sip_int.h, resolve.c) */
	err = tnd_sipres_start(call, p->route ? p->route : ua->proxy ? ua->proxy : p->to,
			       &lookup);
	if (err) {
		call->h = NULL;      /* no callback inside this call: the caller has err */
		call->arg = NULL;
		tnd_sipcall_finish(call, 500, "Internal error");
		goto out;
	}
	if (lookup)
		call->state = CS_RESOLVING;
	else
		tnd_sipcall_send_invite(call, NULL);
	TND_LOG_INFO(TND_LOG_SIP, "call %s: INVITE %s from %s (%zu X- headers)%s", call->call_id,
		     p->to, from, p->n_headers, lookup ? ", looking up its next hop" : "");
	err = 0;
 out:
	free(from);
	free(to);
	if (err)
		tnd_obj_put(call);
	else
		*callp = call;
	return err;
}

void tnd_sipcall_ack_due(struct tnd_sipcall *call)
{
	if (!call->ack_due || !call->nh)
		return;
	call->ack_due = false;
	nua_ack(call->nh, TAG_END());
}

int tnd_sipcall_ack(struct tnd_sipcall *call, const char *sdp)
{
	char *copy = NULL;

	if (!call || !call->outgoing || !call->late_offer ||
	    (sdp && (!*sdp || strlen(sdp) > SDP_MAX)))
		return EINVAL;
	if (!call->ack_due || call->state != CS_CONFIRMED || !call->nh)
		return EALREADY;
	if (sdp && !(copy = strdup(sdp)))
		return ENOMEM;
	if (copy) {
		/* kept: a refresh re-INVITE gets it again */
		free(call->local_sdp);
		call->local_sdp = copy;
	}
	call->ack_due = false;
	nua_ack(call->nh, TAG_IF(sdp, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
		TAG_IF(sdp, SIPTAG_PAYLOAD_STR(call->local_sdp)), TAG_END());
	TND_LOG_INFO(TND_LOG_SIP, "call %s: ACK%s", call->call_id,
		     sdp ? " with our answer (late offer)" : " without an answer");
	return 0;
}

int tnd_sipcall_invite_again(struct tnd_sipcall *call, const char *hdr, bool proxy)
{
	nua_handle_t *nh;

	if (!call->ua)
		return EINVAL;
	nh = nua_handle(call->ua->nua, call, NUTAG_URL(URL_STRING_MAKE(call->ruri)),
			SIPTAG_TO_STR(call->to_hdr), SIPTAG_FROM_STR(call->from_hdr), TAG_END());
	if (!nh)
		return ENOMEM;
	/* unbound first, so Sofia drops what is queued for the old handle (the
	 * 407's terminated state); its hmagic reference passes to the new one */
	nua_handle_bind(call->nh, NULL);
	nua_handle_destroy(call->nh);
	call->nh = nh;
	nua_invite(nh, TAG_IF(call->next_hop, NUTAG_PROXY(URL_STRING_MAKE(call->next_hop))),
		   NUTAG_EARLY_MEDIA(1), TAG_IF(call->late_offer, NUTAG_AUTOACK(0)),
		   TAG_IF(call->contact, SIPTAG_CONTACT_STR(call->contact)),
		   SIPTAG_CALL_ID_STR(call->call_id),
		   TAG_IF(!proxy, SIPTAG_AUTHORIZATION_STR(hdr)),
		   TAG_IF(proxy, SIPTAG_PROXY_AUTHORIZATION_STR(hdr)),
		   TAG_IF(call->local_sdp, SIPTAG_CONTENT_TYPE_STR("application/sdp")),
		   TAG_IF(call->local_sdp, SIPTAG_PAYLOAD_STR(call->local_sdp)),
		   TAG_NEXT(call->xtags));
	call->state = CS_CALLING;
	return 0;
}
