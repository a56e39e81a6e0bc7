/* JSON-RPC 2.0 envelope (https://www.jsonrpc.org/specification, sections 4
 * and 5) for one frame of one connection: checks, dispatch, answers, and the
 * error table of style guide R5. Signalling thread.
 *
 * Protocol errors (-32700, -32600, -32601) are counted per connection;
 * any request with a valid envelope resets the count, and the tenth in a row
 * closes the socket with 1008 (protocol.md). Each connection has a token
 * bucket ([websocket] rate and burst): a request over it is answered 429
 * without running, and once refusals outnumber the requests let through
 * since by more than the burst, the socket is closed with 1008, so a flood
 * costs a parse per frame and no more. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gateway/api/api_int.h"
#include "gateway/base/log.h"
#include "gateway/conf.h"

static const struct {
	int err;
	int code;
} error_table[] = {
	{ EINVAL, 400 },   /* bad parameter value */
	{ EACCES, 401 },   /* not logged in, bad credentials */
	{ EPERM, 403 },    /* dial plan, account rights */
	{ ENOENT, 404 },   /* no such call or account */
	{ EALREADY, 409 }, /* wrong call state */
	{ EAGAIN, 429 },   /* rate limited */
	{ ENOTSUP, 488 },  /* nothing usable in an offer */
	{ EBUSY, 503 },    /* call limit, shutting down */
	{ ENOSYS, 503 },   /* a leg this build does not have yet */
};

int tnd_api_error_code(int err)
{
	if (err < 0)
		return err;
	for (size_t i = 0; i < sizeof(error_table) / sizeof(error_table[0]); i++)
		if (error_table[i].err == err)
			return error_table[i].code;
	return TND_RPC_INTERNAL_ERROR;
}

static const char *default_message(int code)
{
	switch (code) {
	case TND_RPC_PARSE_ERROR: return "parse error";
	case TND_RPC_INVALID_REQUEST: return "invalid request";
	case TND_RPC_METHOD_NOT_FOUND: return "method not found";
	case TND_RPC_INVALID_PARAMS: return "invalid params";
	case 400: return "bad parameter value";
	case 401: return "not logged in";
	case 403: return "forbidden";
	case 404: return "not found";
	case 409: return "wrong state";
	case 429: return "rate limited";
	case 488: return "not acceptable here";
	case 503: return "service unavailable";
	default: return "internal error";
	}
}

void tnd_api_req_msg(struct tnd_api_req *req, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(req->msg, sizeof(req->msg), fmt, ap);
	va_end(ap);
}

static void send_json(struct tnd_api_conn *conn, json_t *msg)
{
	char *text;

	if (!conn->api || !msg)
		goto out;
	text = json_dumps(msg, JSON_COMPACT);
	if (text) {
		conn->tp->send(conn->tp_arg, text, strlen(text));
		free(text);
	}
 out:
	json_decref(msg);
}

void tnd_api_reply(struct tnd_api_req *req, json_t *result)
{
	if (req->answered || !req->id) {
		json_decref(result);
		req->answered = true;
		return;
	}
	req->answered = true;
	send_json(req->conn, json_pack("{s:s, s:O, s:o}", "jsonrpc", "2.0", "id", req->id,
				       "result", result ? result : json_object()));
}

static void send_error(struct tnd_api_conn *conn, json_t *id, int code, const char *msg)
{
	send_json(conn, json_pack("{s:s, s:O, s:{s:i, s:s}}", "jsonrpc", "2.0", "id",
				  id ? id : json_null(), "error", "code", code, "message",
				  msg && *msg ? msg : default_message(code)));
}

void tnd_api_reply_error(struct tnd_api_req *req, int code)
{
	if (req->answered)
		return;
	req->answered = true;
	code = tnd_api_error_code(code);
	if (code == TND_RPC_INTERNAL_ERROR)
		TND_LOG_ERR(TND_LOG_API, "%s from %s failed: %s", req->method, req->conn->peer,
			    req->msg[0] ? req->msg : "internal error");
	if (req->id)
		send_error(req->conn, req->id, code, req->msg);
}

void tnd_api_reply_sip(struct tnd_api_req *req, int status, const char *phrase)
{
	if (req->answered)
		return;
	req->answered = true;
	if (req->id)
		send_json(req->conn, json_pack("{s:s, s:O, s:{s:i, s:s, s:{s:i, s:s}}}",
					       "jsonrpc", "2.0", "id", req->id, "error",
					       "code", status, "message", req->msg[0] ?
					       req->msg : "the SIP peer refused",
					       "data", "sip_status", status, "sip_reason",
					       phrase ? phrase : ""));
}

void tnd_api_notify(struct tnd_api_conn *conn, const char *method, json_t *params)
{
	/* a NULL here is a pack that failed (a string that is not UTF-8, say):
	 * a notification without its parameters would mislead the client
	 * (review M9), so nothing is sent and the cause is logged */
	if (!params) {
		TND_LOG_ERR(TND_LOG_API, "%s to %s not sent: its parameters could not be "
			    "encoded", method, conn->peer);
		return;
	}
	send_json(conn, json_pack("{s:s, s:s, s:o}", "jsonrpc", "2.0", "method", method,
				  "params", params));
}

int tnd_api_param_str(struct tnd_api_req *req, json_t *params, const char *key, bool required,
		      const char **out)
{
	json_t *v = params ? json_object_get(params, key) : NULL;

	*out = NULL;
	if (!v) {
		if (!required)
			return 0;
		tnd_api_req_msg(req, "params.%s is required", key);
		return TND_RPC_INVALID_PARAMS;
	}
	if (!json_is_string(v)) {
		tnd_api_req_msg(req, "params.%s must be a string", key);
		return TND_RPC_INVALID_PARAMS;
	}
	*out = json_string_value(v);
	return 0;
}

int tnd_api_params_only(struct tnd_api_req *req, json_t *params, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(params, key, v) {
		size_t i;

		(void)v;
		for (i = 0; allowed[i]; i++)
			if (!strcmp(key, allowed[i]))
				break;
		if (!allowed[i]) {
			tnd_api_req_msg(req, "params.%.64s is not a parameter of %s", key,
					req->method);
			return TND_RPC_INVALID_PARAMS;
		}
	}
	return 0;
}

static void req_destroy(void *data)
{
	struct tnd_api_req *req = data;

	json_decref(req->id);
	tnd_obj_put(req->conn);
}

static const struct tnd_api_method *find_method(const char *name)
{
	static const struct tnd_api_method *const groups[] = {
		tnd_api_session_methods, tnd_api_reg_methods, tnd_api_call_methods,
		tnd_api_admin_methods,
	};

	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
		for (const struct tnd_api_method *m = groups[g]; m->name; m++)
			if (!strcmp(m->name, name))
				return m;
	return NULL;
}

/* Counts a protocol error, answers it, and closes on the tenth in a row. */
static void proto_error(struct tnd_api_conn *conn, json_t *id, int code, const char *msg)
{
	conn->api->stats.protocol_errors++;
	if (id)
		send_error(conn, id, code, msg);
	if (++conn->proto_errors >= TND_API_MAX_PROTO_ERRORS && !conn->closing) {
		conn->closing = true;
		TND_LOG_INFO(TND_LOG_API, "closing %s after %u protocol errors in a row",
			     conn->peer, conn->proto_errors);
		conn->tp->close(conn->tp_arg, 1008, "too many protocol errors");
	}
}

/* Checks the envelope; returns the method or NULL after a protocol error. */
static const struct tnd_api_method *check_envelope(struct tnd_api_conn *conn, json_t *msg,
						   json_t **idp, json_t **paramsp)
{
	json_t *id = json_object_get(msg, "id");
	json_t *ver = json_object_get(msg, "jsonrpc");
	json_t *method = json_object_get(msg, "method");
	json_t *params = json_object_get(msg, "params");
	const struct tnd_api_method *m;
	const char *key;
	json_t *v;
	char why[160];

	/* an id we cannot echo is answered with null (section 5) */
	if (id && !json_is_string(id) && !json_is_number(id) && !json_is_null(id)) {
		proto_error(conn, json_null(), TND_RPC_INVALID_REQUEST,
			    "id must be a string, a number or null");
		return NULL;
	}
	if (!id)
		id = NULL;
	json_object_foreach(msg, key, v) {
		(void)v;
		if (strcmp(key, "jsonrpc") && strcmp(key, "id") && strcmp(key, "method") &&
		    strcmp(key, "params")) {
			snprintf(why, sizeof(why), "unknown member '%.64s' in the request", key);
			proto_error(conn, id ? id : json_null(), TND_RPC_INVALID_REQUEST, why);
			return NULL;
		}
	}
	if (!json_is_string(ver) || strcmp(json_string_value(ver), "2.0")) {
		proto_error(conn, id ? id : json_null(), TND_RPC_INVALID_REQUEST,
			    "jsonrpc must be \"2.0\"");
		return NULL;
	}
	if (!json_is_string(method)) {
		proto_error(conn, id ? id : json_null(), TND_RPC_INVALID_REQUEST,
			    "method must be a string");
		return NULL;
	}
	if (params && !json_is_object(params) && !json_is_array(params)) {
		proto_error(conn, id ? id : json_null(), TND_RPC_INVALID_REQUEST,
			    "params must be an object");
		return NULL;
	}
	m = find_method(json_string_value(method));
	if (!m) {
		snprintf(why, sizeof(why), "no method '%.64s'", json_string_value(method));
		/* a notification gets no answer, not even an error (section 4.1) */
		proto_error(conn, id, TND_RPC_METHOD_NOT_FOUND, why);
		return NULL;
	}
	*idp = id;
	*paramsp = params;
	return m;
}

/* Takes one request from conn's bucket; false when it is empty. */
static bool take_token(struct tnd_api_conn *conn)
{
	const struct tnd_conf *conf = conn->api->conf;
	gint64 now = g_get_monotonic_time();

	conn->bucket += (double)(now - conn->bucket_us) * conf->ws_rate / G_USEC_PER_SEC;
	conn->bucket_us = now;
	if (conn->bucket > conf->ws_burst)
		conn->bucket = conf->ws_burst;
	if (conn->bucket >= 1) {
		conn->bucket -= 1;
		/* the refill lets one through now and then during a flood: that
		 * only pays back one refusal, so a flood still adds up to a close */
		if (conn->limited_run)
			conn->limited_run--;
		return true;
	}
	conn->api->stats.rate_limited++;
	conn->limited_run++;
	TND_LOG_RL(TND_LOG_API, INFO, "request from %s over the rate of %d/s: 429", conn->peer,
		   conf->ws_rate);
	return false;
}

static void dispatch(struct tnd_api_conn *conn, json_t *msg, bool over)
{
	const struct tnd_api_method *m;
	struct tnd_api_req *req;
	json_t *id = NULL, *params = NULL;
	int r;

	m = check_envelope(conn, msg, &id, &params);
	if (!m)
		return;
	conn->proto_errors = 0;
	conn->api->stats.requests++;

	req = tnd_obj_zalloc(sizeof(*req), req_destroy);
	if (!req) {
		send_error(conn, id, TND_RPC_INTERNAL_ERROR, "out of memory");
		return;
	}
	req->conn = tnd_obj_get(conn);
	req->id = json_incref(id);
	req->method = m->name;

	if (params && json_is_array(params)) {
		/* by-position params carry no names to check; only [] means "none" */
		if (json_array_size(params)) {
			tnd_api_req_msg(req, "params must be an object (by name)");
			tnd_api_reply_error(req, TND_RPC_INVALID_PARAMS);
			goto out;
		}
		params = NULL;
	}
	if (over) {
		tnd_api_req_msg(req, "more than %d requests per second: slow down",
				conn->api->conf->ws_rate);
		tnd_api_reply_error(req, EAGAIN);
		goto out;
	}
	if (m->needs_login && !conn->user && conn->api->conf->auth_mode != TND_AUTH_NONE) {
		tnd_api_req_msg(req, "%s needs a login first", m->name);
		tnd_api_reply_error(req, EACCES);
		goto out;
	}
	r = m->fn(req, params);
	if (r)
		tnd_api_reply_error(req, r);
 out:
	tnd_obj_put(req);
}

void tnd_api_conn_frame(struct tnd_api_conn *conn, enum tnd_api_frame kind, const char *data,
			size_t len)
{
	json_error_t jerr;
	const char *bad;
	json_t *msg;
	char why[240];
	bool over;

	if (!conn || !conn->api || conn->closing)
		return;
	over = !take_token(conn);
	if (over && conn->limited_run > (unsigned)conn->api->conf->ws_burst) {
		conn->closing = true;
		TND_LOG_RL(TND_LOG_API, NOTICE, "closing %s: request rate above %d/s kept up",
			   conn->peer, conn->api->conf->ws_rate);
		conn->tp->close(conn->tp_arg, 1008, "request rate too high");
		return;
	}
	switch (kind) {
	case TND_API_FRAME_BINARY:
		proto_error(conn, json_null(), TND_RPC_PARSE_ERROR,
			    "binary frames are not accepted: send JSON in a text frame");
		return;
	case TND_API_FRAME_TOO_BIG:
		proto_error(conn, json_null(), TND_RPC_PARSE_ERROR, "frame larger than 64 KiB");
		return;
	case TND_API_FRAME_TEXT:
		break;
	}
	if (len > TND_API_MAX_FRAME) {
		proto_error(conn, json_null(), TND_RPC_PARSE_ERROR, "frame larger than 64 KiB");
		return;
	}
	if (!g_utf8_validate(data, (gssize)len, &bad)) {
		snprintf(why, sizeof(why), "frame is not valid UTF-8 (byte %zu)",
			 (size_t)(bad - data));
		proto_error(conn, json_null(), TND_RPC_PARSE_ERROR, why);
		return;
	}
	msg = json_loadb(data, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
	if (!msg) {
		snprintf(why, sizeof(why), "invalid JSON at position %d: %s", jerr.position,
			 jerr.text);
		proto_error(conn, json_null(), TND_RPC_PARSE_ERROR, why);
		return;
	}
	if (json_is_array(msg))
		proto_error(conn, json_null(), TND_RPC_INVALID_REQUEST,
			    "batches are not supported: send one request per frame");
	else if (!json_is_object(msg))
		proto_error(conn, json_null(), TND_RPC_INVALID_REQUEST,
			    "a request must be a JSON object");
	else
		dispatch(conn, msg, over);
	json_decref(msg);
}
