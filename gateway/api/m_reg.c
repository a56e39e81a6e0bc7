/* Registration methods (protocol.md "Registrations"): `register` and
 * `unregister` turn JSON into gateway/call's typed requests, and the
 * `registration` notification carries each change back. The registrations
 * themselves live in gateway/call/call_reg.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway/api/api_int.h"

static int m_register(struct tnd_api_req *req, json_t *params)
{
	static const char *const allowed[] = { "account", "uri", "auth_user", "password",
		"ha1", "registrar", "proxy", "transport", "expires", NULL };
	struct tnd_api *api = req->conn->api;
	struct tnd_reg_params p = { 0 };
	json_t *exp = json_object_get(params, "expires");
	const char *state = NULL;
	char id[300], msg[256];
	int r;

	if (!api->calls.calls || !api->calls.reg) {
		tnd_api_req_msg(req, "register is not available: no SIP leg");
		return ENOSYS;
	}
	if ((r = tnd_api_params_only(req, params, allowed)) ||
	    (r = tnd_api_param_str(req, params, "account", false, &p.account)) ||
	    (r = tnd_api_param_str(req, params, "uri", false, &p.uri)) ||
	    (r = tnd_api_param_str(req, params, "auth_user", false, &p.auth_user)) ||
	    (r = tnd_api_param_str(req, params, "password", false, &p.password)) ||
	    (r = tnd_api_param_str(req, params, "ha1", false, &p.ha1)) ||
	    (r = tnd_api_param_str(req, params, "registrar", false, &p.registrar)) ||
	    (r = tnd_api_param_str(req, params, "proxy", false, &p.proxy)) ||
	    (r = tnd_api_param_str(req, params, "transport", false, &p.transport)))
		return r;
	if (exp && (!json_is_integer(exp) || json_integer_value(exp) < 10 ||
		    json_integer_value(exp) > 86400)) {
		tnd_api_req_msg(req, "params.expires must be an integer 10..86400");
		return TND_RPC_INVALID_PARAMS;
	}
	if (p.password && p.ha1) {
		tnd_api_req_msg(req, "params: give password or ha1, not both");
		return TND_RPC_INVALID_PARAMS;
	}
	if (p.ha1 && (strlen(p.ha1) != 32 || strspn(p.ha1, "0123456789abcdefABCDEF") != 32)) {
		tnd_api_req_msg(req, "params.ha1 is 32 hex digits: MD5(auth_user:realm:password)");
		return TND_RPC_INVALID_PARAMS;
	}
	if (p.account && p.uri) {
		tnd_api_req_msg(req, "params: give account or uri, not both");
		return TND_RPC_INVALID_PARAMS;
	}
	if (!p.account && !p.uri) {
		tnd_api_req_msg(req, "params.account (or params.uri) is required");
		return TND_RPC_INVALID_PARAMS;
	}
	p.expires = exp ? (int)json_integer_value(exp) : 0;
	r = api->calls.reg(api->calls.calls, req->conn, req->conn->user, &p, id, sizeof(id),
			   &state, msg, sizeof(msg));
	if (r) {
		tnd_api_req_msg(req, "%s", msg);
		return r;
	}
	tnd_api_reply(req, json_pack("{s:s, s:s}", "registration", id, "state", state));
	return 0;
}

static int m_unregister(struct tnd_api_req *req, json_t *params)
{
	static const char *const allowed[] = { "registration", NULL };
	struct tnd_api *api = req->conn->api;
	const char *reg;
	char msg[256];
	int r;

	if (!api->calls.calls || !api->calls.unreg) {
		tnd_api_req_msg(req, "unregister is not available: no SIP leg");
		return ENOSYS;
	}
	if ((r = tnd_api_params_only(req, params, allowed)) ||
	    (r = tnd_api_param_str(req, params, "registration", true, &reg)))
		return r;
	r = api->calls.unreg(api->calls.calls, req->conn, req->conn->user, reg, msg,
			     sizeof(msg));
	if (r) {
		tnd_api_req_msg(req, "%s", msg);
		return r;
	}
	tnd_api_reply(req, json_object());
	return 0;
}

const struct tnd_api_method tnd_api_reg_methods[] = {
	{ "register", m_register, true },
	{ "unregister", m_unregister, true },
	{ NULL, NULL, false },
};

void tnd_api_sink_registration(void *conn, const char *reg, const char *state, int code,
			       const char *reason, unsigned expires, unsigned retry_in)
{
	json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "registration", reg, "state", state,
			      "code", code, "reason", reason ? reason : "");

	if (!strcmp(state, "registered"))
		json_object_set_new(p, "expires", json_integer(expires));
	if (!strcmp(state, "failed"))
		json_object_set_new(p, "retry_in", json_integer(retry_in));
	tnd_api_notify(conn, "registration", p);
}
