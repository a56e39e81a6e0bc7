/* Call transfer inside a dialog: RFC 3515 (REFER and its implicit
 * subscription), RFC 3891 (Replaces) and RFC 5589 (the transfer flows).
 * A REFER we send for the browser's `transfer`, whose outcome comes back in
 * NOTIFYs with a message/sipfrag status line; and a REFER from the peer,
 * which the owner accepts (202, an initial NOTIFY 100 Trying, then its new
 * call's progress as sipfrags) or refuses. sip/ decides nothing: the
 * owner's typed callbacks say whether a target is allowed. REFER is in
 * nua's APPL_METHODS (ua.c), so nua leaves its answer to us; NOTIFYs for
 * our REFER's subscription are answered by nua. Signalling thread only. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/su_tag.h>
#include <sofia-sip/url.h>

#include "gateway/base/log.h"
#include "sip/referto_int.h"
#include "sip/sip_int.h"

#define REFER_TO_MAX 1024
#define REPLACES_MAX 512   /* tnd_sipcall_params' bound on header values */
/* ua.c's ALLOW and the transfer's methods: a call's handle only, so that
 * REFER or NOTIFY outside a dialog gets 405 from nua (else nua would make
 * a REFER's subscription and NOTIFY whatever address the request named) */
#define CALL_ALLOW TND_SIP_ALLOW ", REFER, NOTIFY"
#define SIPFRAG_CTYPE "message/sipfrag;version=2.0"

void tnd_sipua_set_xfer(struct tnd_sipua *ua, const struct tnd_sipcall_xfer_handlers *x)
{
	if (ua)
		ua->xfer = x;
}

void tnd_sipcall_allow_refer(struct tnd_sipcall *call)
{
	if (call->nh)
		nua_set_hparams(call->nh, SIPTAG_ALLOW_STR(CALL_ALLOW), TAG_END());
}

/* ------------------------------------------------------------ our REFER */

/* RFC 3986 2.3: everything but the unreserved characters percent-encoded,
 * so the Replaces value (";", "=", "@") sits inside a URI's headers part. */
static int escape(char *out, size_t size, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || strchr("-._~", c);

		if (n + (plain ? 1 : 3) >= size)
			return ENOSPC;
		if (plain) {
			out[n++] = (char)c;
			continue;
		}
		out[n++] = '%';
		out[n++] = hex[c >> 4];
		out[n++] = hex[c & 15];
	}
	out[n] = '\0';
	return 0;
}

/* "callid;from-tag=..;to-tag=.." of `other`'s dialog as the target will
 * see it (nua builds it from the dialog: RFC 3891 section 3), escaped. */
static int replaces_value(const struct tnd_sipcall *other, char *out, size_t size)
{
	su_home_t home[1] = { SU_HOME_INIT(home) };
	sip_replaces_t *rp = nua_handle_make_replaces(other->nh, home, 0);
	char *s = rp ? sip_header_as_string(home, (sip_header_t const *)rp) : NULL;
	int err = s ? escape(out, size, s) : ENOMEM;

	su_home_deinit(home);
	return err;
}

/* auth: a SHA-256 answer, or NULL for pre-emptive credentials */
static void send_refer(struct tnd_sipcall *call, const char *rt,
		       const struct tnd_sipauth_hdrs *auth)
{
	struct tnd_sipauth_hdrs pre;

	if (!auth) {
		tnd_sipcall_auth_hdrs(call, "REFER", &pre);
		auth = &pre;
	}
	/* nua adds Referred-By (our From) and makes the implicit subscription */
	nua_refer(call->nh, SIPTAG_REFER_TO_STR(rt), TND_SIPAUTH_TAGS(auth), TAG_END());
	explicit_bzero(&pre, sizeof(pre));
}

int tnd_sipcall_refer(struct tnd_sipcall *call, const char *target,
		      const struct tnd_sipcall *replaces)
{
	char rt[REFER_TO_MAX], esc[REFER_TO_MAX / 2];
	int n, err;

	if (!call || !target || replaces == call || tnd_sipchk_uri(target, false))
		return EINVAL;
	/* RFC 5589 6: a transfer needs the confirmed dialog; one at a time */
	if (!call->nh || !call->ua || call->state != CS_CONFIRMED || call->refer_out ||
	    call->detached)
		return EALREADY;
	if (replaces) {
		if (!replaces->nh || replaces->state != CS_CONFIRMED)
			return EALREADY;
		err = replaces_value(replaces, esc, sizeof(esc));
		if (err)
			return err == ENOSPC ? EINVAL : err;
		n = snprintf(rt, sizeof(rt), "<%s?Replaces=%s>", target, esc);
	} else {
		n = snprintf(rt, sizeof(rt), "<%s>", target);
	}
	if (n < 0 || (size_t)n >= sizeof(rt))
		return EINVAL;
	free(call->refer_to);
	call->refer_to = call->auth.user ? strdup(rt) : NULL;   /* for a SHA-256 retry */
	send_refer(call, rt, NULL);
	call->refer_out = true;
	TND_LOG_INFO(TND_LOG_SIP, "call %s: REFER to %s%s", call->call_id, target,
		     replaces ? " with Replaces" : "");
	return 0;
}

static void report(struct tnd_sipcall *call, int status, const char *phrase, bool final)
{
	const struct tnd_sipcall_xfer_handlers *x = call->ua ? call->ua->xfer : NULL;

	if (final)
		call->refer_out = false;
	if (!call->h || !x || !x->refer)
		return;
	tnd_obj_get(call);   /* the owner may drop its reference inside */
	x->refer(call->arg, call, status, phrase ? phrase : "", final);
	tnd_obj_put(call);
}

void tnd_sipcall_on_r_refer(struct tnd_sipcall *call, int status, const char *phrase,
			    const sip_t *sip, tagi_t tags[])
{
	bool refused = false;
	char label[96];

	(void)tags;
	if (status < 200 || !call->refer_out)
		return;
	if (status == 401 || status == 407) {
		struct tnd_sipauth_hdrs auth;
		int err;

		snprintf(label, sizeof(label), "call %s: REFER", call->call_id);
		tnd_sipauth_learn(call, sip);
		err = tnd_sipcall_sha256_hdrs(call, sip, "REFER", label, &auth);
		if (!err && call->refer_to && call->nh) {
			send_refer(call, call->refer_to, &auth);
			explicit_bzero(&auth, sizeof(auth));
			return;
		}
		if (err == ENOTSUP && !tnd_sipauth_answer(&call->auth, call->nh, sip, label))
			return;
		refused = true;
	}
	tnd_sipauth_ok(&call->auth);
	/* 202: the NOTIFYs tell the rest; anything else is the outcome */
	report(call, status, phrase, status >= 300);
	if (refused && call->nh && call->state != CS_ENDED)
		tnd_sipauth_drop(call->nh, sip);   /* refer_out is off: its 904 is ignored */
}

void tnd_sipcall_on_i_notify(struct tnd_sipcall *call, int status, const char *phrase,
			     const sip_t *sip, tagi_t tags[])
{
	int substate = nua_substate_active, st = 0;
	char ph[64] = "";
	bool final;

	(void)status;
	(void)phrase;
	/* nua has answered it; only our REFER's subscription matters here */
	if (!call->refer_out || !sip || !sip->sip_event ||
	    strcasecmp(sip->sip_event->o_type, "refer"))
		return;
	tl_gets(tags, NUTAG_SUBSTATE_REF(substate), TAG_END());
	if (sip->sip_payload && sip->sip_payload->pl_data &&
	    tnd_sip_sipfrag_parse(sip->sip_payload->pl_data, sip->sip_payload->pl_len, &st, ph,
				  sizeof(ph)))
		TND_LOG_NOTICE(TND_LOG_SIP, "call %s: NOTIFY for our REFER without a sipfrag "
			       "status line", call->call_id);
	final = st >= 200 || substate == nua_substate_terminated;
	if (!st && !final)
		return;
	/* a subscription that ends without a final status: RFC 3515 2.4.7
	 * leaves the outcome unknown, which for the browser is a failure */
	report(call, st ? st : 487, st ? ph : "Transfer outcome unknown", final);
}

void tnd_sipcall_on_r_notify(struct tnd_sipcall *call, int status, const char *phrase,
			     const sip_t *sip, tagi_t tags[])
{
	(void)sip;
	(void)tags;
	if (status >= 300)
		TND_LOG_NOTICE(TND_LOG_SIP, "call %s: our NOTIFY got %d %s", call->call_id, status,
			       phrase ? phrase : "");
}

/* ------------------------------------------------------------ their REFER */

/* The Replaces a Refer-To's headers carry, checked by Sofia's parser and
 * written back in its canonical form: 0 with *out (in home) or NULL when
 * there is none, else EINVAL (a 400 for the REFER). */
static int refer_replaces(su_home_t *home, const char *hdrs, char **out)
{
	char buf[REPLACES_MAX];
	sip_replaces_t *rp;
	int err;

	*out = NULL;
	err = hdrs ? tnd_sip_referto_replaces(hdrs, strlen(hdrs), buf, sizeof(buf)) : ENOENT;
	if (err == ENOENT)
		return 0;
	if (err)
		return EINVAL;
	rp = sip_replaces_make(home, buf);
	/* RFC 3891 6.1: one Replaces, with all three parts */
	if (!rp || rp->rp_next || !rp->rp_call_id || !*rp->rp_call_id || !rp->rp_to_tag ||
	    !*rp->rp_to_tag || !rp->rp_from_tag || !*rp->rp_from_tag)
		return EINVAL;
	*out = sip_header_as_string(home, (sip_header_t const *)rp);
	return *out ? 0 : ENOMEM;
}

static void answer_refer(struct tnd_sipcall *call, nua_t *nua, int err)
{
	switch (err) {
	case 0:
		nua_respond(call->nh, SIP_202_ACCEPTED, NUTAG_WITH_CURRENT(nua), TAG_END());
		break;
	case EPERM:
	case EACCES:
		nua_respond(call->nh, SIP_403_FORBIDDEN, NUTAG_WITH_CURRENT(nua), TAG_END());
		break;
	case EINVAL:
		nua_respond(call->nh, SIP_400_BAD_REQUEST, NUTAG_WITH_CURRENT(nua), TAG_END());
		break;
	case EALREADY:
		nua_respond(call->nh, SIP_491_REQUEST_PENDING, NUTAG_WITH_CURRENT(nua), TAG_END());
		break;
	case ENOTSUP:
		nua_respond(call->nh, SIP_501_NOT_IMPLEMENTED, NUTAG_WITH_CURRENT(nua), TAG_END());
		break;
	default:
		nua_respond(call->nh, SIP_500_INTERNAL_SERVER_ERROR, NUTAG_WITH_CURRENT(nua),
			    TAG_END());
		break;
	}
}

/* The owner's verdict on a REFER whose target is `target`. */
static int ask_owner(struct tnd_sipcall *call, const char *target, const char *by,
		     const char *replaces)
{
	const struct tnd_sipcall_xfer_handlers *x = call->ua->xfer;
	int err;

	if (call->state != CS_CONFIRMED || call->refer_event)
		return EALREADY;
	if (!call->h || !x || !x->referred)
		return EPERM;
	tnd_obj_get(call);
	err = x->referred(call->arg, call, target, by, replaces);
	tnd_obj_put(call);
	return err;
}

void tnd_sipcall_on_i_refer(struct tnd_sipcall *call, int status, const char *phrase,
			    const sip_t *sip, tagi_t tags[])
{
	su_home_t home[1] = { SU_HOME_INIT(home) };
	sip_event_t const *ev = NULL;
	nua_t *nua = call->ua ? call->ua->nua : NULL;
	char *target = NULL, *by = NULL, *evs = NULL, *rps = NULL;
	url_t u;
	int err;

	(void)phrase;
	if (status >= 200 || !nua)
		return;
	tl_gets(tags, NUTAG_REFER_EVENT_REF(ev), TAG_END());
	if (!sip || !sip->sip_refer_to || !sip->sip_refer_to->r_url->url_host || !ev) {
		err = EINVAL;
	} else {
		/* RFC 5589 7: a Replaces among the URI's headers makes an
		 * attended transfer; other URI headers would become headers
		 * of our INVITE: dropped */
		u = *sip->sip_refer_to->r_url;
		err = refer_replaces(home, u.url_headers, &rps);
		u.url_headers = NULL;
		target = url_as_string(home, &u);
		if (sip->sip_referred_by)
			by = url_as_string(home, sip->sip_referred_by->b_url);
		/* only a plain URI goes on into our INVITE's Referred-By */
		if (by && tnd_sipchk_uri(by, false))
			by = NULL;
		evs = sip_header_as_string(home, (sip_header_t const *)ev);
		if (!err)
			err = target && evs ? 0 : ENOMEM;
		if (!err && tnd_sipchk_uri(target, false))
			err = EINVAL;
		if (!err)
			err = ask_owner(call, target, by, rps);
	}
	if (call->state == CS_ENDED || !call->nh) {
		su_home_deinit(home);
		return;
	}
	TND_LOG_INFO(TND_LOG_SIP, "call %s: REFER to %s%s: %s", call->call_id,
		     target ? target : "?", rps ? " with Replaces" : "",
		     err ? strerror(err) : "accepted");
	answer_refer(call, nua, err);
	if (!err) {
		call->refer_event = strdup(evs);
		/* RFC 3515 2.4.4: a NOTIFY at once; in a dialog nua sends none */
		if (call->refer_event)
			tnd_sipcall_refer_notify(call, 100, "Trying");
	}
	su_home_deinit(home);
}

int tnd_sipcall_refer_notify(struct tnd_sipcall *call, int status, const char *phrase)
{
	char frag[96];
	bool final = status >= 200;
	size_t i, n;

	if (!call || status < 100 || status > 699)
		return EINVAL;
	if (!call->refer_event || !call->nh || call->state == CS_ENDED)
		return EALREADY;
	n = (size_t)snprintf(frag, sizeof(frag), "SIP/2.0 %d ", status);
	/* the phrase is the new call's peer's: no control characters pass */
	for (i = 0; phrase && phrase[i] && n + 3 < sizeof(frag); i++) {
		unsigned char c = (unsigned char)phrase[i];

		if (c >= 0x20 && c != 0x7f)
			frag[n++] = (char)c;
	}
	memcpy(frag + n, "\r\n", 3);
	nua_notify(call->nh, NUTAG_SUBSTATE(final ? nua_substate_terminated : nua_substate_active),
		   SIPTAG_EVENT_STR(call->refer_event), SIPTAG_CONTENT_TYPE_STR(SIPFRAG_CTYPE),
		   SIPTAG_PAYLOAD_STR(frag), TAG_END());
	if (final) {
		free(call->refer_event);
		call->refer_event = NULL;
	}
	return 0;
}
