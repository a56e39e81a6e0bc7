/* INFO of any type and MESSAGE (RFC 6086, RFC 3428) beyond DTMF (issue 11
 * item 6): MESSAGE in and out of dialogs, our INFOs and MESSAGEs with
 * their final answers reported to the owner, and the same admission for
 * an out-of-dialog MESSAGE as for a new INVITE (admit.c), so MESSAGE is
 * no way around "no open relay". sip/ reads no body beyond checking that
 * it is text (text.c); the owner decides where it goes.
 * A request in a dialog queues its owner's `done` on the call (FIFO per
 * method: nua reports answers of one method in order); a MESSAGE outside
 * any dialog has a handle of its own whose hmagic is a struct tnd_sipmsg;
 * sent as an account (its From, proxy and credentials), it carries
 * credentials from the account's cached challenge (authcache.c), and a
 * 401/407 is answered once: MD5 by nua on the handle, SHA-256 (RFC 8760)
 * by a new MESSAGE on it (nua has finished the first).
 * Every `done` runs exactly once: at the final answer, or with status 0
 * when the dialog ends or the UA stops first. Signalling thread. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sofia-sip/hostdomain.h>
#include <sofia-sip/nua.h>
#include <sofia-sip/nua_tag.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/sip_tag.h>
#include <sofia-sip/url.h>

#include "gateway/base/log.h"
#include "sip/sip_int.h"

/* One request awaiting its answer in a dialog. */
struct sipreq {
	tnd_sipreq_done_h *done;     /* NULL: nobody waits (DTMF INFO) */
	void *arg;                   /* ref (tnd_obj), with done */
	char *ctype, *body;          /* owned (g_malloc): sent again after a SHA-256
				      * challenge (auth.c) */
	int chal_status;             /* the 401/407 nua was asked to answer, or 0 */
};

/* An out-of-dialog MESSAGE of ours, or a call's BYE sent again outside
 * nua's dialog (tnd_sipmsg_bye_again). Refcounted; ua->msgs holds one
 * reference and the handle's hmagic borrows it (the list's reference is
 * dropped only after nua_handle_destroy). */
struct tnd_sipmsg {
	struct tnd_obj obj;
	struct tnd_sipua *ua;        /* borrowed */
	nua_handle_t *nh;            /* owned; NULL once destroyed */
	tnd_sipreq_done_h *done;     /* NULL once reported */
	void *arg;                   /* ref, with done */
	/* an account's MESSAGE: its credentials, and what a SHA-256 answer
	 * sends again (a new request on the handle) */
	struct tnd_sipauth auth;     /* owned; none without an account */
	char *ruri, *scope;          /* owned: Request-URI; first hop (authcache.c) */
	char *ctype, *body;          /* owned */
	int chal_status;             /* the 401/407 nua was asked to answer, or 0 */
	bool bye;                    /* a call's BYE sent again (no done) */
};

void tnd_sip_content_type(const sip_t *sip, char *buf, size_t size)
{
	const char *t = sip && sip->sip_content_type ? sip->sip_content_type->c_type : NULL;
	size_t i;

	buf[0] = '\0';
	if (!t)
		return;
	for (i = 0; t[i] && t[i] != ';' && t[i] != ' ' && i + 1 < size; i++)
		buf[i] = (char)((t[i] >= 'A' && t[i] <= 'Z') ? t[i] + 32 : t[i]);
	buf[i] = '\0';
}

void tnd_sipua_set_message(struct tnd_sipua *ua, tnd_sipua_message_h *h, void *arg)
{
	ua->message = h;
	ua->message_arg = h ? arg : NULL;
}

unsigned tnd_sipua_messages(const struct tnd_sipua *ua)
{
	return ua ? g_list_length(ua->msgs) : 0;
}

/* ------------------------------------------------------------ in a dialog */

/* nua_info or nua_message in the call's dialog, with the account's
 * credentials: pre-emptive (authcache.c), or a SHA-256 answer (auth) */
static void req_send(struct tnd_sipcall *call, int which, const char *ctype, const char *body,
		     const struct tnd_sipauth_hdrs *auth)
{
	if (which == TND_SIPREQ_INFO)
		nua_info(call->nh, SIPTAG_CONTENT_TYPE_STR(ctype), SIPTAG_PAYLOAD_STR(body),
			 TND_SIPAUTH_TAGS(auth), TAG_END());
	else
		nua_message(call->nh, SIPTAG_CONTENT_TYPE_STR(ctype), SIPTAG_PAYLOAD_STR(body),
			    TND_SIPAUTH_TAGS(auth), TAG_END());
}

void tnd_sipreq_send(struct tnd_sipcall *call, int which, const char *ctype, const char *body,
		     tnd_sipreq_done_h *done, void *arg)
{
	struct sipreq *r = g_new0(struct sipreq, 1);
	struct tnd_sipauth_hdrs auth;

	tnd_sipcall_auth_hdrs(call, which == TND_SIPREQ_INFO ? "INFO" : "MESSAGE", &auth);
	req_send(call, which, ctype, body, &auth);
	explicit_bzero(&auth, sizeof(auth));
	r->done = done;
	r->arg = done ? tnd_obj_get(arg) : NULL;
	if (call->auth.user) {
		/* kept only when a challenge can be answered */
		r->ctype = g_strdup(ctype);
		r->body = g_strdup(body);
	}
	g_queue_push_tail(&call->pending[which], r);
}

bool tnd_sipreq_challenged(struct tnd_sipcall *call, int which, const sip_t *sip)
{
	const char *method = which == TND_SIPREQ_INFO ? "INFO" : "MESSAGE";
	struct sipreq *r = g_queue_peek_head(&call->pending[which]);
	struct tnd_sipauth_hdrs auth;
	char label[96];
	int err;

	if (!r || !r->body || !call->nh)
		return false;
	snprintf(label, sizeof(label), "call %s: %s", call->call_id, method);
	tnd_sipauth_learn(call, sip);
	err = tnd_sipcall_sha256_hdrs(call, sip, method, label, &auth);
	if (!err) {
		/* a new request: its answer comes after those already out */
		g_queue_pop_head(&call->pending[which]);
		req_send(call, which, r->ctype, r->body, &auth);
		g_queue_push_tail(&call->pending[which], r);
		explicit_bzero(&auth, sizeof(auth));
		return true;
	}
	if (err == ENOTSUP) {
		/* MD5: nua sends the same request again */
		err = tnd_sipauth_answer(&call->auth, call->nh, sip, label);
		if (!err)
			r->chal_status = sip && sip->sip_status ? sip->sip_status->st_status : 401;
	}
	if (err == EACCES)
		tnd_sipauth_forget(call);
	return !err;
}

/* Reports the request refused with a 401/407, then lets nua end it if it
 * keeps it waiting: a placeholder (no done) takes its 904. */
static void req_refused(struct tnd_sipcall *call, int which, int status, const char *phrase,
			const sip_t *sip)
{
	tnd_sipreq_pop(call, which, status, phrase);
	if (!call->nh || call->state == CS_ENDED)
		return;
	if (tnd_sipauth_drop(call->nh, sip))
		g_queue_push_head(&call->pending[which], g_new0(struct sipreq, 1));
}

bool tnd_sipreq_unauthorized(struct tnd_sipcall *call, int which, int status,
			     const char *phrase, const sip_t *sip)
{
	struct sipreq *r = g_queue_peek_head(&call->pending[which]);

	if (status >= 900 && r && r->chal_status) {
		/* nua could not use the credentials it was given (904: Sofia
		 * takes the same user and password again after a refusal as no
		 * change): the outcome is the challenge's */
		status = r->chal_status;
		tnd_sipreq_pop(call, which, status, status == 407 ?
			       sip_407_Proxy_auth_required : sip_401_Unauthorized);
		return true;
	}
	if (status != 401 && status != 407)
		return false;
	if (!tnd_sipreq_challenged(call, which, sip))
		req_refused(call, which, status, phrase, sip);
	return true;
}

static void req_report(struct sipreq *r, int status, const char *phrase)
{
	if (r->done)
		r->done(r->arg, status, phrase ? phrase : "");
	tnd_obj_put(r->arg);
	g_free(r->ctype);
	g_free(r->body);
	g_free(r);
}

void tnd_sipreq_pop(struct tnd_sipcall *call, int which, int status, const char *phrase)
{
	struct sipreq *r = g_queue_pop_head(&call->pending[which]);

	if (r)
		req_report(r, status, phrase);
}

void tnd_sipreq_flush(struct tnd_sipcall *call, const char *phrase)
{
	for (int i = 0; i < 2; i++) {
		struct sipreq *r;

		while ((r = g_queue_pop_head(&call->pending[i])))
			req_report(r, 0, phrase);
	}
}

static int dialog_req(struct tnd_sipcall *call, int which, const char *ctype, const char *body,
		      tnd_sipreq_done_h *done, void *arg)
{
	if (!call || !ctype || !body || (done && !arg) ||
	    tnd_sip_text_check(ctype, body, strlen(body)))
		return EINVAL;
	/* RFC 6086 section 4.2.1, RFC 3428 section 4: in the dialog, once
	 * there is one we answered or were answered in */
	if (!call->nh || (call->state != CS_CONFIRMED && call->state != CS_ANSWERED))
		return EALREADY;
	tnd_sipreq_send(call, which, ctype, body, done, arg);
	TND_LOG_DEBUG(TND_LOG_SIP, "call %s: %s %s (%zu bytes)", call->call_id,
		      which == TND_SIPREQ_INFO ? "INFO" : "MESSAGE", ctype, strlen(body));
	return 0;
}

int tnd_sipcall_info_req(struct tnd_sipcall *call, const char *ctype, const char *body,
			 tnd_sipreq_done_h *done, void *arg)
{
	return dialog_req(call, TND_SIPREQ_INFO, ctype, body, done, arg);
}

int tnd_sipcall_message(struct tnd_sipcall *call, const char *ctype, const char *body,
			tnd_sipreq_done_h *done, void *arg)
{
	return dialog_req(call, TND_SIPREQ_MESSAGE, ctype, body, done, arg);
}

void tnd_sipcall_on_r_message(struct tnd_sipcall *call, int status, const char *phrase,
			      const sip_t *sip, tagi_t tags[])
{
	(void)tags;
	if (status < 200)
		return;
	if (tnd_sipreq_unauthorized(call, TND_SIPREQ_MESSAGE, status, phrase, sip))
		return;
	tnd_sipauth_ok(&call->auth);
	if (status >= 300)
		TND_LOG_INFO(TND_LOG_SIP, "call %s: our MESSAGE got %d %s", call->call_id, status,
			     phrase ? phrase : "");
	tnd_sipreq_pop(call, TND_SIPREQ_MESSAGE, status, phrase);
}

/* ------------------------------------------------------------ incoming */

static int status_of(int err, const char **phrase)
{
	switch (err) {
	case 0: *phrase = sip_200_OK; return 200;
	case ENOENT: *phrase = sip_404_Not_found; return 404;
	case EAGAIN: case EBUSY: *phrase = sip_480_Temporarily_unavailable; return 480;
	case EPERM: case EACCES: *phrase = sip_403_Forbidden; return 403;
	case ENOTSUP: *phrase = sip_415_Unsupported_media; return 415;
	case EMSGSIZE: *phrase = sip_413_Request_too_large; return 413;
	case EBADMSG: case EINVAL: *phrase = sip_400_Bad_request; return 400;
	default: *phrase = sip_500_Internal_server_error; return 500;
	}
}

/* A URI as text without a password (R6), into buf; "" when it does not fit. */
static void uri_text(const url_t *src, char *buf, size_t size)
{
	url_t u;

	buf[0] = '\0';
	if (!src)
		return;
	u = *src;
	u.url_password = NULL;
	if (url_e(buf, (isize_t)size, &u) < 0 || strlen(buf) >= size - 1)
		buf[0] = '\0';
}

/* Fills m from the request and asks the owner: the status to answer. */
static int deliver(struct tnd_sipua *ua, const sip_t *sip, struct tnd_sipcall *call)
{
	char ctype[64], from[512], to[512];
	const char *user = sip->sip_request->rq_url->url_user;
	struct tnd_sipmsg_in m = {
		.ruri_user = user ? user : "", .from_uri = from, .to_uri = to, .ctype = ctype,
		.body = "", .call = call, .call_arg = call ? call->arg : NULL,
	};
	int err;

	tnd_sip_content_type(sip, ctype, sizeof(ctype));
	if (sip->sip_payload) {
		m.body = sip->sip_payload->pl_data;
		m.len = sip->sip_payload->pl_len;
	}
	if (m.len > TND_SIP_TEXT_MAX)
		return EMSGSIZE;
	if (!sip->sip_from || !sip->sip_to || tnd_sipchk_peer_uri(sip->sip_from->a_url) ||
	    tnd_sipchk_peer_uri(sip->sip_to->a_url))
		return EBADMSG;
	if (call && !m.call_arg)
		return ENOENT;          /* the dialog's owner has left */
	if (!ua->message)
		return call ? ENOTSUP : EAGAIN;
	uri_text(sip->sip_from ? sip->sip_from->a_url : NULL, from, sizeof(from));
	uri_text(sip->sip_to ? sip->sip_to->a_url : NULL, to, sizeof(to));
	if (!call)
		m.reg_arg = tnd_sipreg_owner_arg(tnd_sipreg_find(ua, m.ruri_user));
	if (call)
		tnd_obj_get(call);      /* the owner may drop its reference inside */
	err = ua->message(ua->message_arg, &m);
	if (call)
		tnd_obj_put(call);
	return err;
}

void tnd_sipua_i_message(struct tnd_sipua *ua, nua_t *nua, nua_handle_t *nh, const sip_t *sip)
{
	char challenge[160];
	const char *phrase;
	int status, err;

	if (ua->stopping) {
		nua_respond(nh, SIP_503_SERVICE_UNAVAILABLE, NUTAG_WITH_THIS(nua), TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	/* the same gate as an INVITE: MESSAGE is no way around it */
	status = tnd_sipua_admit_invite(ua, nua, sip, &phrase, challenge, sizeof(challenge));
	if (status) {
		if (status == 401 && *challenge)
			nua_respond(nh, status, phrase, SIPTAG_WWW_AUTHENTICATE_STR(challenge),
				    NUTAG_WITH_THIS(nua), TAG_END());
		else
			nua_respond(nh, status, phrase, NUTAG_WITH_THIS(nua), TAG_END());
		nua_handle_destroy(nh);
		return;
	}
	err = deliver(ua, sip, NULL);
	status = status_of(err, &phrase);
	nua_respond(nh, status, phrase, NUTAG_WITH_THIS(nua), TAG_END());
	TND_LOG_INFO(TND_LOG_SIP, "MESSAGE for %s: %d", sip->sip_request->rq_url->url_user ?
		     sip->sip_request->rq_url->url_user : "-", status);
	nua_handle_destroy(nh);
}

void tnd_sipcall_on_i_message(struct tnd_sipcall *call, int status, const char *phrase,
			      const sip_t *sip, tagi_t tags[])
{
	nua_t *nua = call->ua ? call->ua->nua : NULL;
	int err;

	(void)phrase;
	(void)tags;
	if (status >= 200 || !nua || !sip)
		return;
	err = deliver(call->ua, sip, call);
	if (call->state == CS_ENDED || !call->nh)
		return;
	status = status_of(err, &phrase);
	nua_respond(call->nh, status, phrase, NUTAG_WITH_CURRENT(nua), TAG_END());
	TND_LOG_DEBUG(TND_LOG_SIP, "call %s: MESSAGE in dialog: %d", call->call_id, status);
}

/* ------------------------------------------------------------ out of dialog */

static void msg_destroy(void *data)
{
	struct tnd_sipmsg *msg = data;

	tnd_sipauth_clear(&msg->auth);
	free(msg->ruri);
	free(msg->scope);
	free(msg->ctype);
	free(msg->body);
}

bool tnd_sipmsg_is(const void *hmagic)
{
	return hmagic && ((const struct tnd_obj *)hmagic)->destroy == msg_destroy;
}

/* Reports (once), destroys the handle and leaves the UA's list. */
static void msg_finish(struct tnd_sipmsg *msg, int status, const char *phrase)
{
	struct tnd_sipua *ua = msg->ua;
	tnd_sipreq_done_h *done = msg->done;
	GList *link;

	msg->done = NULL;
	if (msg->nh && !(ua && ua->shut))
		nua_handle_destroy(msg->nh);
	msg->nh = NULL;     /* after shutdown nua_destroy() frees it */
	if (done)
		done(msg->arg, status, phrase ? phrase : "");
	msg->arg = tnd_obj_put(msg->arg);
	link = ua ? g_list_find(ua->msgs, msg) : NULL;
	if (link) {
		ua->msgs = g_list_delete_link(ua->msgs, link);
		tnd_obj_put(msg);
	}
}

/* nua_message on the handle, with the account's credentials: auth (a
 * SHA-256 answer), else pre-emptive from its cached challenges */
static void msg_send(struct tnd_sipmsg *msg, const struct tnd_sipauth_hdrs *auth)
{
	struct tnd_sipauth_hdrs pre;

	if (!auth) {
		tnd_sipauth_preempt(msg->ua, &msg->auth, msg->scope, "MESSAGE", msg->ruri, &pre);
		auth = &pre;
	}
	nua_message(msg->nh, SIPTAG_CONTENT_TYPE_STR(msg->ctype), SIPTAG_PAYLOAD_STR(msg->body),
		    TND_SIPAUTH_TAGS(auth), TAG_END());
	explicit_bzero(&pre, sizeof(pre));
}

/* A 401/407 to an account's MESSAGE: true when it was answered (sent
 * again with SHA-256 credentials, or by nua with MD5). */
static bool msg_challenged(struct tnd_sipmsg *msg, int status, const sip_t *sip)
{
	struct tnd_sipauth_hdrs h = { .n = 0 };
	int err;

	if (!msg->auth.user || !msg->nh || (msg->ua && msg->ua->stopping))
		return false;
	tnd_sipauth_learn_for(msg->ua, &msg->auth, msg->scope, sip);
	err = tnd_sipauth_sha256(&msg->auth, sip, "MESSAGE", msg->ruri, "MESSAGE", h.v[0],
				 sizeof(h.v[0]), &h.proxy[0]);
	if (!err) {
		/* nua could not parse the challenge and finished the request:
		 * a new one on the same handle (same Call-ID, next CSeq) */
		h.n = 1;
		msg_send(msg, &h);
		explicit_bzero(&h, sizeof(h));
		return true;
	}
	if (err == ENOTSUP) {
		err = tnd_sipauth_answer(&msg->auth, msg->nh, sip, "MESSAGE");
		if (!err)
			msg->chal_status = status;
	}
	if (err == EACCES)
		tnd_sipauth_forget_for(msg->ua, &msg->auth, msg->scope);
	return !err;
}

void tnd_sipmsg_event(void *hmagic, nua_event_t event, int status, const char *phrase,
		      const sip_t *sip)
{
	struct tnd_sipmsg *msg = hmagic;

	if (msg->bye && event == nua_r_method && status >= 200) {
		TND_LOG_INFO(TND_LOG_SIP, "BYE sent again with credentials got %d %s", status,
			     phrase ? phrase : "");
		tnd_obj_get(msg);
		msg_finish(msg, status, phrase);
		tnd_obj_put(msg);
		return;
	}
	if (event != nua_r_message || status < 200 || !msg->done)
		return;
	if ((status == 401 || status == 407) && msg_challenged(msg, status, sip))
		return;
	if (status >= 900 && msg->chal_status) {
		/* nua could not use the credentials (as in a dialog, above):
		 * the outcome is the challenge's */
		status = msg->chal_status;
		phrase = status == 407 ? sip_407_Proxy_auth_required : sip_401_Unauthorized;
	}
	if (status != 401 && status != 407)
		tnd_sipauth_ok(&msg->auth);
	TND_LOG_INFO(TND_LOG_SIP, "our MESSAGE got %d %s", status, phrase ? phrase : "");
	tnd_obj_get(msg);
	msg_finish(msg, status, phrase);
	tnd_obj_put(msg);
}

void tnd_sipmsg_cut_all(struct tnd_sipua *ua)
{
	while (ua->msgs)
		msg_finish(ua->msgs->data, 0, "the SIP user agent is stopping");
}

/* Without an outbound proxy the host must be an IP literal: Sofia's own
 * resolver runs on this thread (resolve.c says why calls avoid it). The
 * first hop is `route` (an account's proxy), else the UA's proxy, else
 * `to`. */
static int route_ok(const struct tnd_sipua *ua, const char *to, const char *route)
{
	su_home_t home[1] = { SU_HOME_INIT(home) };
	url_t *u;
	int err = 0;

	if (ua->has_proxy && !route)
		return 0;
	u = url_make(home, route ? route : to);
	if (!u || !u->url_host || !host_is_ip_address(u->url_host))
		err = EINVAL;
	su_home_deinit(home);
	return err;
}

static int msg_params_ok(const struct tnd_sipua *ua, const struct tnd_sipmsg_params *p)
{
	if (!p->to || !p->ctype || !p->body || (!p->from_user && !p->from_uri))
		return EINVAL;
	if (tnd_sipchk_uri(p->to, ua->has_proxy || p->route) ||
	    (p->from_uri ? tnd_sipchk_uri(p->from_uri, false) : tnd_sipchk_user(p->from_user)) ||
	    (p->route && tnd_sipchk_uri(p->route, false)) ||
	    (p->cred && tnd_sip_cred_check(p->cred)) ||
	    tnd_sip_text_check(p->ctype, p->body, strlen(p->body)) ||
	    route_ok(ua, p->to, p->route))
		return EINVAL;
	return 0;
}

/* The copies a challenge needs, for an account's MESSAGE. */
static int msg_keep(struct tnd_sipmsg *msg, const struct tnd_sipmsg_params *p)
{
	const char *scope = p->route ? p->route : msg->ua->proxy ? msg->ua->proxy : p->to;
	int err;

	if (!p->cred)
		return 0;
	err = tnd_sipauth_set(&msg->auth, p->cred);
	if (err)
		return err;
	msg->ruri = strdup(p->to);
	msg->scope = strdup(scope);
	return msg->ruri && msg->scope ? 0 : ENOMEM;
}

int tnd_sipua_message(struct tnd_sipua *ua, const struct tnd_sipmsg_params *p,
		      tnd_sipreq_done_h *done, void *arg)
{
	struct tnd_sipmsg *msg;
	char *from = NULL, *to = NULL;
	size_t n;
	int err;

	if (!ua || !ua->nua || !p || !done || !arg || msg_params_ok(ua, p))
		return EINVAL;
	if (ua->stopping)
		return EBUSY;
	msg = tnd_obj_zalloc(sizeof(*msg), msg_destroy);
	n = (p->from_uri ? strlen(p->from_uri) : strlen(p->from_user) + strlen(ua->from_host)) +
	    8;
	from = malloc(n);
	to = malloc(strlen(p->to) + 3);
	err = ENOMEM;
	if (!msg || !from || !to)
		goto out;
	if (p->from_uri)
		snprintf(from, n, "<%s>", p->from_uri);
	else
		snprintf(from, n, "<sip:%s@%s>", p->from_user, ua->from_host);
	sprintf(to, "<%s>", p->to);
	msg->ua = ua;
	msg->ctype = strdup(p->ctype);
	msg->body = strdup(p->body);
	if (!msg->ctype || !msg->body || (err = msg_keep(msg, p)) != 0)
		goto out;
	err = ENOMEM;
	/* NUTAG_PROXY on the handle: a request sent again goes there too */
	msg->nh = nua_handle(ua->nua, msg, NUTAG_URL(URL_STRING_MAKE(p->to)), SIPTAG_TO_STR(to),
			     SIPTAG_FROM_STR(from),
			     TAG_IF(p->route, NUTAG_PROXY(URL_STRING_MAKE(p->route))), TAG_END());
	if (!msg->nh)
		goto out;
	msg->done = done;
	msg->arg = tnd_obj_get(arg);
	ua->msgs = g_list_prepend(ua->msgs, tnd_obj_get(msg));
	msg_send(msg, NULL);
	TND_LOG_INFO(TND_LOG_SIP, "MESSAGE to %s from %s (%s, %zu bytes%s)", p->to, from,
		     p->ctype, strlen(p->body), p->cred ? ", as an account" : "");
	err = 0;
 out:
	free(from);
	free(to);
	tnd_obj_put(msg);
	return err;
}

int tnd_sipmsg_bye_again(struct tnd_sipcall *call, const sip_t *sip,
			 const struct tnd_sipauth_hdrs *auth)
{
	struct tnd_sipua *ua = call->ua;
	struct tnd_sipmsg *msg;
	char cseq[32];

	if (!ua || !ua->nua || ua->stopping || !call->outgoing || !call->target || !sip ||
	    !sip->sip_call_id || !sip->sip_from || !sip->sip_to || !sip->sip_cseq)
		return EINVAL;
	msg = tnd_obj_zalloc(sizeof(*msg), msg_destroy);
	if (!msg)
		return ENOMEM;
	msg->ua = ua;
	msg->bye = true;
	msg->nh = nua_handle(ua->nua, msg, TAG_END());
	if (!msg->nh) {
		tnd_obj_put(msg);
		return ENOMEM;
	}
	ua->msgs = g_list_prepend(ua->msgs, msg);       /* takes our reference */
	/* the refused BYE's From and To carry the dialog's tags; the next
	 * hop is where the dialog's requests went (NUTAG_PROXY, call_out.c) */
	snprintf(cseq, sizeof(cseq), "%u BYE", (unsigned)sip->sip_cseq->cs_seq + 1);
	nua_method(msg->nh, NUTAG_METHOD("BYE"), NUTAG_URL(URL_STRING_MAKE(call->target)),
		   SIPTAG_CALL_ID(sip->sip_call_id), SIPTAG_FROM(sip->sip_from),
		   SIPTAG_TO(sip->sip_to), SIPTAG_CSEQ_STR(cseq),
		   TAG_IF(call->rroute, SIPTAG_ROUTE_STR(call->rroute)),
		   TAG_IF(call->next_hop, NUTAG_PROXY(URL_STRING_MAKE(call->next_hop))),
		   TND_SIPAUTH_TAGS(auth), TAG_END());
	return 0;
}
