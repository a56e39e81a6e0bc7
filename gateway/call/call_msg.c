/* INFO and MESSAGE between the browser and SIP (issue 11 item 6, RFC 6086,
 * RFC 3428). An INFO that is not DTMF (call_dtmf.c keeps those) becomes an
 * `info` notification to the call's owner; `info` and `message` requests
 * go out through sip/message.c and answer once the peer's final response
 * is in. A MESSAGE outside a dialog reaches every WebSocket of the user it
 * names (the Request-URI's user, or the user of the registration whose
 * Contact it was sent to); sip/ has already admitted its source as it
 * would an INVITE's. Bodies cross only as UTF-8 text (sip/text.c), so they
 * fit in JSON. A browser's `to` passes the dial plan as a call's would.
 * Signalling thread. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway/base/log.h"
#include "gateway/call/call_int.h"
#include "gateway/conf.h"
#include "gateway/policy/policy.h"

#define DEFAULT_CTYPE "text/plain;charset=UTF-8"

/* The browser's content_type and body: 0, or EINVAL with msg. */
static int check_text(const char *ctype, const char *body, char *msg, size_t msglen)
{
	int err = tnd_sip_text_check(ctype, body, strlen(body));

	if (err == EBADMSG || err == EINVAL)
		snprintf(msg, msglen, "params.content_type: type/subtype expected, printable, at "
			 "most 128 bytes");
	else if (err == EMSGSIZE)
		snprintf(msg, msglen, "params.body: at most %d bytes", TND_SIP_TEXT_MAX);
	else if (err)
		snprintf(msg, msglen, "params.body: text only (no control characters)");
	return err ? EINVAL : 0;
}

/* The conn's answered call with a SIP dialog: the call, or NULL with the
 * errno in *err and msg. */
static struct tnd_call *dialog_call(struct tnd_calls *calls, void *conn, const char *id,
				    int *err, char *msg, size_t msglen)
{
	struct tnd_call *call = tnd_call_find(calls, id);

	if (!call || call->owner != conn) {
		snprintf(msg, msglen, "params.call: no call '%.64s' on this connection", id);
		*err = ENOENT;
		return NULL;
	}
	if (call->phase != CALL_ANSWERED || !call->sip || call->is_test) {
		snprintf(msg, msglen, "params.call: needs an answered call with a SIP dialog");
		*err = EALREADY;
		return NULL;
	}
	return call;
}

int tnd_calls_info(struct tnd_calls *calls, void *conn, const char *id,
		   const char *content_type, const char *body, tnd_call_sent_h *done, void *req,
		   char *msg, size_t msglen)
{
	struct tnd_call *call;
	int err;

	if (!calls || !id || !content_type || !body || !done || !req) {
		snprintf(msg, msglen, "params.call, params.content_type and params.body are "
			 "required");
		return EINVAL;
	}
	err = check_text(content_type, body, msg, msglen);
	if (err)
		return err;
	call = dialog_call(calls, conn, id, &err, msg, msglen);
	if (!call)
		return err;
	err = tnd_sipcall_info_req(call->sip, content_type, body, done, req);
	if (err)
		snprintf(msg, msglen, "params.call: the dialog cannot take an INFO now (%s)",
			 strerror(err));
	return err == EINVAL ? EALREADY : err;
}

int tnd_calls_message(struct tnd_calls *calls, void *conn, const char *user,
		      const struct tnd_msg_params *p, tnd_call_sent_h *done, void *req,
		      char *msg, size_t msglen)
{
	const char *ctype = p && p->content_type ? p->content_type : DEFAULT_CTYPE;
	struct tnd_sipmsg_params sp = { 0 };
	struct tnd_sip_cred cred;
	struct tnd_call *call;
	char ubuf[128];
	int err;

	if (!calls || !p || !p->body || !done || !req || !p->to == !p->call) {
		snprintf(msg, msglen, "params: one of to and call, and body, are required");
		return EINVAL;
	}
	if (p->account && p->call) {
		/* in a dialog the call's own identity and credentials serve */
		snprintf(msg, msglen, "params.account: only with to (a call's dialog has its "
			 "account already)");
		return EINVAL;
	}
	err = check_text(ctype, p->body, msg, msglen);
	if (err)
		return err;
	if (p->call) {
		call = dialog_call(calls, conn, p->call, &err, msg, msglen);
		if (!call)
			return err;
		err = tnd_sipcall_message(call->sip, ctype, p->body, done, req);
		if (err)
			snprintf(msg, msglen, "params.call: the dialog cannot take a MESSAGE now");
		return err == EINVAL ? EALREADY : err;
	}
	/* no open relay: the dial plan decides for messages as for calls */
	if (tnd_policy_check_call(calls->env.conf, p->to)) {
		snprintf(msg, msglen, "params.to: the dial plan does not allow messages to %.128s",
			 p->to);
		return EPERM;
	}
	if (!p->account && tnd_call_trunk_bypass(calls, p->to, msg, msglen))
		return EPERM;
	if (p->account) {
		struct tnd_sipcall_params cp = { 0 };

		/* the same rights check and identity as `call` with an account */
		err = tnd_call_reg_identity(calls, p->account, user, &cp, &cred, ubuf,
					    sizeof(ubuf), msg, msglen);
		if (err)
			return err;
		sp.from_uri = cp.from_uri;
		sp.route = cp.route;
		sp.cred = cp.cred;
	}
	sp.to = p->to;
	sp.from_user = user ? user : "anonymous";
	sp.ctype = ctype;
	sp.body = p->body;
	err = tnd_sipua_message(calls->env.sip, &sp, done, req);
	if (err == EINVAL && p->account)
		snprintf(msg, msglen, "params.to: not a URI the account can send to (a sip: "
			 "URI; tel: and host names need an outbound proxy with an IP address)");
	else if (err == EINVAL)
		snprintf(msg, msglen, "params.to: a sip: URI (tel: with an outbound proxy) whose "
			 "host is an IP address unless an outbound proxy is set");
	else if (err == EBUSY)
		snprintf(msg, msglen, "the gateway is shutting down");
	else if (err)
		snprintf(msg, msglen, "cannot send: %s", strerror(err));
	return err;
}

/* ------------------------------------------------------------ from SIP */

int tnd_call_info_in(struct tnd_call *call, const char *ctype, const char *body, size_t len)
{
	const struct tnd_call_sink *sink = call->calls ? call->calls->env.sink : NULL;
	char *text;
	int err = tnd_sip_text_check(ctype, body, len);

	if (err)
		return err == EMSGSIZE ? EMSGSIZE : err == ENOTSUP ? ENOTSUP : EBADMSG;
	/* nobody to tell (detached, ringing, ended): the peer learns it */
	if (!call->owner || call->phase == CALL_ENDED || !sink || !sink->info)
		return EAGAIN;
	text = g_strndup(body, len);
	sink->info(call->owner, call->id, ctype, text);
	g_free(text);
	return 0;
}

/* The user a MESSAGE outside a dialog is for, or NULL. */
static const char *msg_user(struct tnd_calls *calls, const struct tnd_sipmsg_in *m)
{
	if (m->reg_arg)
		return tnd_call_reg_user(calls, m->reg_arg);
	return m->ruri_user && *m->ruri_user ? m->ruri_user : NULL;
}

int tnd_call_message_in(void *arg, const struct tnd_sipmsg_in *m)
{
	struct tnd_calls *calls = arg;
	const struct tnd_call_sink *sink = calls->env.sink;
	void *conns[CALL_MAX_RING];
	const char *user;
	char *text;
	size_t n;
	int err = tnd_sip_text_check(m->ctype, m->body, m->len);

	if (err)
		return err == EMSGSIZE || err == ENOTSUP ? err : EBADMSG;
	if (!sink->message)
		return ENOTSUP;
	if (m->call) {
		struct tnd_call *call = m->call_arg;

		if (!call->owner || call->phase == CALL_ENDED)
			return EAGAIN;
		text = g_strndup(m->body, m->len);
		sink->message(call->owner, m->from_uri, m->to_uri, text, m->ctype, call->id);
		g_free(text);
		return 0;
	}
	user = msg_user(calls, m);
	if (!user)
		return ENOENT;
	n = calls->env.lookup(calls->env.lookup_arg, user, conns, CALL_MAX_RING);
	if (!n) {
		TND_LOG_INFO(TND_LOG_SIP, "MESSAGE for %s: not logged in (480)", user);
		return EAGAIN;
	}
	text = g_strndup(m->body, m->len);
	for (size_t i = 0; i < n; i++)
		sink->message(conns[i], m->from_uri, m->to_uri, text, m->ctype, NULL);
	g_free(text);
	return 0;
}
