/* Account and call methods (protocol.md "Sessions and accounts", "Calls")
 * and the notifications calls send back (call.state, candidate, incoming).
 * This file turns JSON into the call layer's typed requests and its events
 * back into JSON; the calls themselves live in gateway/call. Methods whose
 * parts are not built yet answer 503 naming what is missing. `info` and
 * `message` answer when the SIP peer has (sent_done). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway/api/api_int.h"

#define MAX_HEADERS 16

static int not_yet(struct tnd_api_req *req, const char *needs)
{
	tnd_api_req_msg(req, "%s is not available: it needs %s, which this version of the "
			"gateway does not have yet", req->method, needs);
	return ENOSYS;
}

static struct tnd_calls *calls_of(struct tnd_api_req *req)
{
	return req->conn->api->calls.calls;
}

static const struct tnd_api_calls *ops(struct tnd_api_req *req)
{
	return &req->conn->api->calls;
}

static int no_calls(struct tnd_api_req *req)
{
	return not_yet(req, "the WebRTC and SIP call legs");
}

/* ------------------------------------------------------------ call */

static void call_done(void *data, int err, const char *msg, const char *call, const char *sdp)
{
	struct tnd_api_req *req = data;

	if (err) {
		tnd_api_req_msg(req, "%s", msg ? msg : "call failed");
		tnd_api_reply_error(req, err);
		return;
	}
	tnd_api_reply(req, json_pack("{s:s, s:s}", "call", call, "sdp", sdp));
}

static int m_call(struct tnd_api_req *req, json_t *params)
{
	static const char *const allowed[] = { "to", "sdp", "from_display", "headers", "account",
		NULL };
	const char *names[MAX_HEADERS], *values[MAX_HEADERS];
	struct tnd_call_params p = { 0 };
	json_t *hdrs, *v;
	const char *key;
	char msg[256];
	int r;

	if (!calls_of(req))
		return no_calls(req);
	if ((r = tnd_api_params_only(req, params, allowed)) ||
	    (r = tnd_api_param_str(req, params, "to", true, &p.to)) ||
	    (r = tnd_api_param_str(req, params, "sdp", true, &p.sdp)) ||
	    (r = tnd_api_param_str(req, params, "from_display", false, &p.from_display)) ||
	    (r = tnd_api_param_str(req, params, "account", false, &p.account)))
		return r;
	hdrs = json_object_get(params, "headers");
	if (hdrs && !json_is_object(hdrs)) {
		tnd_api_req_msg(req, "params.headers must be an object of header: value");
		return TND_RPC_INVALID_PARAMS;
	}
	json_object_foreach(hdrs, key, v) {
		if (strncasecmp(key, "X-", 2) || !json_is_string(v)) {
			tnd_api_req_msg(req, "params.headers.%.64s: only X- headers with string "
					"values may be sent", key);
			return EINVAL;
		}
		if (p.n_hdrs == MAX_HEADERS) {
			tnd_api_req_msg(req, "params.headers: at most %d", MAX_HEADERS);
			return EINVAL;
		}
		names[p.n_hdrs] = key;
		values[p.n_hdrs++] = json_string_value(v);
	}
	p.hdr_names = names;
	p.hdr_values = values;
	p.from_user = req->conn->user;
	r = ops(req)->start(calls_of(req), req->conn, &p, call_done, req, msg, sizeof(msg));
	if (r)
		tnd_api_req_msg(req, "%s", msg);
	return r;
}

/* ------------------------------------------------------------ the rest */

/* What every per-call method checks first: the call legs exist, params
 * hold only `allowed`, and params.call is a string. 0 or the error. */
static int call_params(struct tnd_api_req *req, json_t *params, const char *const *allowed,
		       const char **call)
{
	int r;

	if (!calls_of(req))
		return no_calls(req);
	if ((r = tnd_api_params_only(req, params, allowed)))
		return r;
	return tnd_api_param_str(req, params, "call", true, call);
}

/* {call, sdp}: what answer, progress and renegotiate take; sdp optional
 * when !need_sdp (then NULL when absent). 0 or the error. */
static int call_sdp_params(struct tnd_api_req *req, json_t *params, bool need_sdp,
			   const char **call, const char **sdp)
{
	static const char *const allowed[] = { "call", "sdp", NULL };
	int r;

	*sdp = NULL;
	if ((r = call_params(req, params, allowed, call)))
		return r;
	return tnd_api_param_str(req, params, "sdp", need_sdp, sdp);
}

/* Answers {} on success, else the call layer's errno and message. */
static int finish(struct tnd_api_req *req, int r, const char *msg)
{
	if (r) {
		tnd_api_req_msg(req, "%s", msg);
		return r;
	}
	tnd_api_reply(req, json_object());
	return 0;
}

static json_t *leg_json(const char *side, const struct tnd_call_leg_stats *l)
{
	return json_pack("{s:s, s:s, s:i, s:b, s:I, s:I, s:I, s:i, s:i, s:f, s:i, s:I, s:I, "
			 "s:i, s:I, s:I, s:I}",
			 "side", side, "codec", l->codec, "clock", (int)l->clock,
			 "transcoded", l->transcoded,
			 "packets_in", (json_int_t)l->packets_in,
			 "packets_out", (json_int_t)l->packets_out,
			 "lost", (json_int_t)l->lost, "jitter_ms", (int)l->jitter_ms,
			 "rtt_ms", l->rtt_ms, "remote_loss", l->remote_loss,
			 "remote_jitter_ms", (int)l->remote_jitter_ms,
			 "rtcp_in", (json_int_t)l->rtcp_in, "rtcp_out", (json_int_t)l->rtcp_out,
			 "jb_delay_ms", (int)l->jb_delay_ms,
			 "frames_decoded", (json_int_t)l->frames_decoded,
			 "concealed", (json_int_t)l->concealed,
			 "fec_recovered", (json_int_t)l->fec_recovered);
}

static void stats_done(void *data, int err, const struct tnd_call_stats *st)
{
	struct tnd_api_req *req = data;

	if (err) {
		tnd_api_req_msg(req, "params.call: the call ended");
		tnd_api_reply_error(req, err);
		return;
	}
	tnd_api_reply(req, json_pack("{s:b, s:[o, o]}", "transcoded", st->transcoded, "legs",
				     leg_json("webrtc", &st->leg[0]), leg_json("sip", &st->leg[1])));
}

int tnd_api_call_stats(struct tnd_api_req *req, json_t *params)
{
	static const char *const allowed[] = { "call", NULL };
	const char *call;
	char msg[256];
	int r;

	if ((r = call_params(req, params, allowed, &call)))
		return r;
	if (!ops(req)->media_stats)
		return no_calls(req);
	r = ops(req)->media_stats(calls_of(req), req->conn, call, stats_done, req, msg,
				  sizeof(msg));
	if (r)
		tnd_api_req_msg(req, "%s", msg);
	return r;
}

static int m_answer(struct tnd_api_req *req, json_t *params)
{
	const char *call, *sdp;
	char msg[256];
	int r;

	/* sdp is optional after `progress`, which gave the answer already */
	if ((r = call_sdp_params(req, params, false, &call, &sdp)))
		return r;
	r = ops(req)->answer(calls_of(req), req->conn, call, sdp, msg, sizeof(msg));
	return finish(req, r, msg);
}

static int m_progress(struct tnd_api_req *req, json_t *params)
{
	const char *call, *sdp;
	char msg[256];
	int r;

	if ((r = call_sdp_params(req, params, true, &call, &sdp)))
		return r;
	if (!ops(req)->progress)
		return not_yet(req, "early media on the call legs");
	r = ops(req)->progress(calls_of(req), req->conn, call, sdp, msg, sizeof(msg));
	return finish(req, r, msg);
}

static int m_reject(struct tnd_api_req *req, json_t *params)
{
	static const char *const allowed[] = { "call", "code", NULL };
	json_t *code = json_object_get(params, "code");
	const char *call;
	char msg[256];
	int r;

	if ((r = call_params(req, params, allowed, &call)))
		return r;
	if (code && !json_is_integer(code)) {
		tnd_api_req_msg(req, "params.code must be an integer SIP status");
		return TND_RPC_INVALID_PARAMS;
	}
	r = ops(req)->reject(calls_of(req), req->conn, call,
			     code ? (int)json_integer_value(code) : 486, msg, sizeof(msg));
	return finish(req, r, msg);
}

static int m_hangup(struct tnd_api_req *req, json_t *params)
{
	static const char *const allowed[] = { "call", NULL };
	const char *call;
	char msg[256];
	int r;

	if ((r = call_params(req, params, allowed, &call)))
		return r;
	r = ops(req)->hangup(calls_of(req), req->conn, call, msg, sizeof(msg));
	return finish(req, r, msg);
}

static int m_candidate(struct tnd_api_req *req, json_t *params)
{
	static const char *const allowed[] = { "call", "candidate", "completed", NULL };
	json_t *cand = json_object_get(params, "candidate");
	json_t *completed = json_object_get(params, "completed");
	const char *call, *line = NULL;
	char msg[256];
	int r;

	if ((r = call_params(req, params, allowed, &call)))
		return r;
	if (completed && !json_is_true(completed)) {
		tnd_api_req_msg(req, "params.completed can only be true");
		return TND_RPC_INVALID_PARAMS;
	}
	if (!completed) {
		/* RTCIceCandidate.toJSON(): {candidate, sdpMid, sdpMLineIndex,
		 * usernameFragment}; a bare string is taken too */
		json_t *c = json_is_object(cand) ? json_object_get(cand, "candidate") : cand;

		if (!json_is_string(c)) {
			tnd_api_req_msg(req, "params.candidate must be RTCIceCandidate.toJSON() "
					"or params.completed true");
			return TND_RPC_INVALID_PARAMS;
		}
		line = json_string_value(c);
		/* browsers signal the end of candidates with an empty one */
		if (!*line)
			line = NULL;
	}
	r = ops(req)->candidate(calls_of(req), req->conn, call, line, msg, sizeof(msg));
	return finish(req, r, msg);
}

/* {call, to} blind, {call, replaces} attended (protocol.md "transfer"):
 * {} once the REFER is out; the outcome comes as call.state. */
static int m_transfer(struct tnd_api_req *req, json_t *params)
{
	static const char *const allowed[] = { "call", "to", "replaces", NULL };
	const char *call, *to, *replaces;
	char msg[256];
	int r;

	if ((r = call_params(req, params, allowed, &call)) ||
	    (r = tnd_api_param_str(req, params, "to", false, &to)) ||
	    (r = tnd_api_param_str(req, params, "replaces", false, &replaces)))
		return r;
	if (!ops(req)->transfer)
		return not_yet(req, "call transfer");
	r = ops(req)->transfer(calls_of(req), req->conn, call, to, replaces, msg, sizeof(msg));
	return finish(req, r, msg);
}

/* ------------------------------------------------------------ reattach */

static void reattach_done(void *data, int err, const char *msg, const char *call,
			  const char *sdp)
{
	struct tnd_api_req *req = data;

	(void)call;
	if (err) {
		tnd_api_req_msg(req, "%s", msg ? msg : "reattach failed");
		tnd_api_reply_error(req, err);
		return;
	}
	tnd_api_reply(req, sdp ? json_pack("{s:s}", "sdp", sdp) : json_object());
}

/* {call}: the client's RTCPeerConnection survived; {call, sdp}: a new
 * offer from a reloaded page, answered with {sdp} (protocol.md
 * "Reattaching calls"). */
static int m_reattach(struct tnd_api_req *req, json_t *params)
{
	static const char *const allowed[] = { "call", "sdp", NULL };
	const char *call, *sdp;
	char msg[256];
	int r;

	if ((r = call_params(req, params, allowed, &call)) ||
	    (r = tnd_api_param_str(req, params, "sdp", false, &sdp)))
		return r;
	if (!ops(req)->reattach)
		return not_yet(req, "calls that outlive their WebSocket");
	r = ops(req)->reattach(calls_of(req), req->conn, req->conn->user, call, sdp,
			       reattach_done, req, msg, sizeof(msg));
	if (r)
		tnd_api_req_msg(req, "%s", msg);
	return r;
}

/* An optional integer param in [lo, hi], else def. */
static int param_ms(struct tnd_api_req *req, json_t *params, const char *key, unsigned lo,
		    unsigned hi, unsigned def, unsigned *out)
{
	json_t *v = json_object_get(params, key);

	*out = def;
	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
		tnd_api_req_msg(req, "params.%s must be an integer from %u to %u", key, lo, hi);
		return TND_RPC_INVALID_PARAMS;
	}
	*out = (unsigned)json_integer_value(v);
	return 0;
}

static int m_dtmf(struct tnd_api_req *req, json_t *params)
{
	static const char *const allowed[] = { "call", "digits", "duration_ms", "gap_ms", NULL };
	const char *call, *digits;
	unsigned duration, gap;
	char msg[256];
	int r;

	if ((r = call_params(req, params, allowed, &call)) ||
	    (r = tnd_api_param_str(req, params, "digits", true, &digits)) ||
	    (r = param_ms(req, params, "duration_ms", 40, 2000, 100, &duration)) ||
	    (r = param_ms(req, params, "gap_ms", 0, 2000, 60, &gap)))
		return r;
	if (!ops(req)->dtmf)
		return not_yet(req, "DTMF on the call legs");
	r = ops(req)->dtmf(calls_of(req), req->conn, call, digits, duration, gap, msg,
			   sizeof(msg));
	return finish(req, r, msg);
}

/* ------------------------------------------------------------ info, message */

/* The peer's final answer: {} on 2xx, else its status as the error code
 * (protocol.md "Errors": application errors use the SIP status). */
static void sent_done(void *data, int status, const char *phrase)
{
	struct tnd_api_req *req = data;

	if (status >= 200 && status < 300) {
		tnd_api_reply(req, json_object());
		return;
	}
	if (!status) {
		tnd_api_req_msg(req, "no answer from the SIP peer: %s", phrase);
		tnd_api_reply_error(req, EALREADY);
		return;
	}
	tnd_api_req_msg(req, "the SIP peer answered %d %s", status, phrase);
	tnd_api_reply_sip(req, status, phrase);
}

static int m_info(struct tnd_api_req *req, json_t *params)
{
	static const char *const allowed[] = { "call", "content_type", "body", NULL };
	const char *call, *ctype, *body;
	char msg[256];
	int r;

	if ((r = call_params(req, params, allowed, &call)) ||
	    (r = tnd_api_param_str(req, params, "content_type", true, &ctype)) ||
	    (r = tnd_api_param_str(req, params, "body", true, &body)))
		return r;
	if (!ops(req)->info)
		return not_yet(req, "INFO on the SIP leg");
	r = ops(req)->info(calls_of(req), req->conn, call, ctype, body, sent_done, req, msg,
			   sizeof(msg));
	if (r)
		tnd_api_req_msg(req, "%s", msg);
	return r;
}

static int m_message(struct tnd_api_req *req, json_t *params)
{
	static const char *const allowed[] = { "to", "call", "content_type", "body", "account",
					       NULL };
	struct tnd_msg_params p = { 0 };
	char msg[256];
	int r;

	if (!calls_of(req))
		return no_calls(req);
	if ((r = tnd_api_params_only(req, params, allowed)) ||
	    (r = tnd_api_param_str(req, params, "to", false, &p.to)) ||
	    (r = tnd_api_param_str(req, params, "call", false, &p.call)) ||
	    (r = tnd_api_param_str(req, params, "content_type", false, &p.content_type)) ||
	    (r = tnd_api_param_str(req, params, "body", true, &p.body)) ||
	    (r = tnd_api_param_str(req, params, "account", false, &p.account)))
		return r;
	if (!p.to == !p.call) {
		tnd_api_req_msg(req, "params: exactly one of to and call");
		return TND_RPC_INVALID_PARAMS;
	}
	if (p.account && p.call) {
		tnd_api_req_msg(req, "params.account: only with to (a call's dialog has its "
				"account already)");
		return TND_RPC_INVALID_PARAMS;
	}
	if (!ops(req)->message)
		return not_yet(req, "MESSAGE on the SIP leg");
	r = ops(req)->message(calls_of(req), req->conn, req->conn->user, &p, sent_done, req, msg,
			      sizeof(msg));
	if (r)
		tnd_api_req_msg(req, "%s", msg);
	return r;
}

/* hold and resume (issue 11 item 4): {} once the re-INVITE is out;
 * call.state held / resumed follows (gateway/call/call_hold.c). */
static int hold_or_resume(struct tnd_api_req *req, json_t *params, bool hold)
{
	static const char *const allowed[] = { "call", NULL };
	const char *call;
	char msg[256];
	int r;

	if ((r = call_params(req, params, allowed, &call)))
		return r;
	if (!ops(req)->hold)
		return not_yet(req, "hold on the SIP leg");
	r = ops(req)->hold(calls_of(req), req->conn, call, hold, msg, sizeof(msg));
	return finish(req, r, msg);
}

static int m_hold(struct tnd_api_req *req, json_t *params)
{
	return hold_or_resume(req, params, true);
}

static int m_resume(struct tnd_api_req *req, json_t *params)
{
	return hold_or_resume(req, params, false);
}

/* The answer to a renegotiation: {sdp}; a SIP peer's refusal of the
 * re-INVITE is the error with its status (protocol.md "Errors"). */
static void reneg_done(void *data, int err, const char *msg, const char *call, const char *sdp)
{
	struct tnd_api_req *req = data;

	(void)call;
	if (err >= 300 && err <= 699) {
		/* msg is the peer's reason phrase then */
		tnd_api_req_msg(req, "the SIP peer refused the re-INVITE: %d %s", err, msg);
		tnd_api_reply_sip(req, err, msg);
		return;
	}
	if (err) {
		tnd_api_req_msg(req, "%s", msg ? msg : "renegotiation failed");
		tnd_api_reply_error(req, err);
		return;
	}
	tnd_api_reply(req, json_pack("{s:s}", "sdp", sdp));
}

/* renegotiate (issue 11 item 4): {call, sdp} a new offer from the same
 * pc, answered {sdp} once the SIP side agreed (gateway/call/call_reneg.c). */
static int m_renegotiate(struct tnd_api_req *req, json_t *params)
{
	const char *call, *sdp;
	char msg[256];
	int r;

	if ((r = call_sdp_params(req, params, true, &call, &sdp)))
		return r;
	if (!ops(req)->renegotiate)
		return not_yet(req, "renegotiation of the WebRTC leg");
	r = ops(req)->renegotiate(calls_of(req), req->conn, call, sdp, reneg_done, req, msg,
				  sizeof(msg));
	if (r)
		tnd_api_req_msg(req, "%s", msg);
	return r;
}

const struct tnd_api_method tnd_api_call_methods[] = {
	{ "call", m_call, true },
	{ "answer", m_answer, true },
	{ "progress", m_progress, true },
	{ "reject", m_reject, true },
	{ "hangup", m_hangup, true },
	{ "candidate", m_candidate, true },
	{ "reattach", m_reattach, true },
	{ "dtmf", m_dtmf, true },
	{ "hold", m_hold, true },
	{ "resume", m_resume, true },
	{ "transfer", m_transfer, true },
	{ "renegotiate", m_renegotiate, true },
	{ "info", m_info, true },
	{ "message", m_message, true },
	{ NULL, NULL, false },
};

/* ------------------------------------------------------------ notifications */

static void sink_state(void *conn, const char *call, const char *state, int code,
		       const char *reason)
{
	json_t *p = json_pack("{s:s, s:s, s:s}", "call", call, "state", state, "reason",
			      reason ? reason : "");

	if (code)
		json_object_set_new(p, "code", json_integer(code));
	tnd_api_notify(conn, "call.state", p);
}

static void sink_candidate(void *conn, const char *call, const char *cand)
{
	if (!cand) {
		tnd_api_notify(conn, "candidate", json_pack("{s:s, s:b}", "call", call,
							    "completed", 1));
		return;
	}
	/* the shape of RTCIceCandidateInit, so a browser can pass it as is;
	 * BUNDLE: everything rides on the first m= line, mid "0" */
	tnd_api_notify(conn, "candidate", json_pack("{s:s, s:{s:s, s:s, s:i}}", "call", call,
						    "candidate", "candidate", cand,
						    "sdpMid", "0", "sdpMLineIndex", 0));
}

static void sink_incoming(void *conn, const char *call, const char *from,
			  const char *from_display, const char *to, const char *sdp,
			  const char *const *names, const char *const *values, size_t n)
{
	json_t *hdrs = json_object();

	for (size_t i = 0; i < n; i++)
		json_object_set_new(hdrs, names[i], json_string(values[i]));
	tnd_api_notify(conn, "incoming", json_pack("{s:s, s:s, s:s?, s:s, s:s, s:o}", "call",
						   call, "from", from, "from_display",
						   from_display, "to", to, "sdp", sdp,
						   "headers", hdrs));
}

static void sink_dtmf(void *conn, const char *call, char digit, unsigned duration_ms,
		      const char *source)
{
	char d[2] = { digit, '\0' };

	tnd_api_notify(conn, "dtmf", json_pack("{s:s, s:s, s:I, s:s}", "call", call, "digit", d,
					       "duration_ms", (json_int_t)duration_ms,
					       "source", source));
}

static void sink_info(void *conn, const char *call, const char *ctype, const char *body)
{
	tnd_api_notify(conn, "info", json_pack("{s:s, s:s, s:s}", "call", call, "content_type",
					       ctype, "body", body));
}

static void sink_message(void *conn, const char *from, const char *to, const char *body,
			 const char *ctype, const char *call)
{
	tnd_api_notify(conn, "message", json_pack("{s:s, s:s, s:s, s:s, s:s*}", "from", from,
						  "to", to, "body", body, "content_type",
						  ctype, "call", call));
}

const struct tnd_call_sink tnd_api_call_sink = {
	sink_state, sink_candidate, sink_incoming, tnd_api_sink_registration, sink_dtmf,
	.info = sink_info, .message = sink_message,
};
