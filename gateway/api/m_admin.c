/* Admin methods (protocol.md "Admin requests", docs/operations.md): list
 * calls and registrations, show or end one call, reload the configuration,
 * set a module's log level, drain, and subscribe to call events. Only users named
 * in [auth] admins may use them, once logged in; anyone else gets 403
 * whatever the parameters. Signalling thread. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway/api/api_int.h"
#include "gateway/base/log.h"
#include "gateway/conf.h"

/* 0 for an admin's connection, else EPERM with the reason. */
static int admin_only(struct tnd_api_req *req)
{
	const struct tnd_api_conn *conn = req->conn;

	if (conn->user && tnd_api_list_has(conn->api->conf->auth_admins, conn->user, false))
		return 0;
	tnd_api_req_msg(req, "%s needs a login with the admin role ([auth] admins)",
			req->method);
	return EPERM;
}

static int no_params(struct tnd_api_req *req, json_t *params)
{
	static const char *const none[] = { NULL };

	return tnd_api_params_only(req, params, none);
}

static int needs_calls(struct tnd_api_req *req)
{
	if (req->conn->api->calls.calls && req->conn->api->calls.foreach &&
	    req->conn->api->calls.drain)
		return 0;
	tnd_api_req_msg(req, "%s is not available: this gateway has no call legs", req->method);
	return ENOSYS;
}

static void add_call(void *arg, const struct tnd_call_info *info)
{
	json_t *o = tnd_api_call_json(info);

	if (o)
		json_array_append_new(arg, o);
}

static int m_calls(struct tnd_api_req *req, json_t *params)
{
	struct tnd_api *api = req->conn->api;
	json_t *list;
	int r;

	if ((r = admin_only(req)) || (r = no_params(req, params)) || (r = needs_calls(req)))
		return r;
	list = json_array();
	api->calls.foreach(api->calls.calls, add_call, list);
	tnd_api_reply(req, json_pack("{s:o}", "calls", list));
	return 0;
}

static void add_reg(void *arg, const struct tnd_reg_info *info)
{
	json_t *o = tnd_api_reg_json(info);

	if (o)
		json_array_append_new(arg, o);
}

static int m_registrations(struct tnd_api_req *req, json_t *params)
{
	struct tnd_api *api = req->conn->api;
	json_t *list;
	int r;

	if ((r = admin_only(req)) || (r = no_params(req, params)))
		return r;
	list = json_array();
	/* without call legs nothing can register: the empty list is the truth */
	if (api->calls.calls && api->calls.reg_foreach)
		api->calls.reg_foreach(api->calls.calls, add_reg, list);
	tnd_api_reply(req, json_pack("{s:o}", "registrations", list));
	return 0;
}

static void add_trunk(void *arg, const struct tnd_trunk_info *t)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:I, s:I}", "name", t->name,
			      "address", t->address, "transport", t->transport, "srtp", t->srtp,
			      "up", t->up, "pinged", t->pinged, "fails", (json_int_t)t->fails,
			      "dids", (json_int_t)t->dids);

	/* register = true only: state, last SIP status, seconds granted */
	if (o && t->reg_state)
		json_object_set_new(o, "registration",
				    json_pack("{s:s, s:i, s:I}", "state", t->reg_state, "code",
					      t->reg_code, "expires", (json_int_t)t->reg_expires));
	if (o)
		json_array_append_new(arg, o);
}

/* admin.trunks: each [trunks] entry and whether its OPTIONS pings find it up */
static int m_trunks(struct tnd_api_req *req, json_t *params)
{
	struct tnd_api *api = req->conn->api;
	json_t *list;
	int r;

	if ((r = admin_only(req)) || (r = no_params(req, params)))
		return r;
	list = json_array();
	if (api->calls.calls && api->calls.trunk_foreach)
		api->calls.trunk_foreach(api->calls.calls, add_trunk, list);
	tnd_api_reply(req, json_pack("{s:o}", "trunks", list));
	return 0;
}

static void call_answer(void *arg, const struct tnd_call_info *info)
{
	struct tnd_api_req *req = arg;
	json_t *o = tnd_api_call_json(info);

	if (!o) {
		tnd_api_req_msg(req, "cannot encode call %s", info->id);
		tnd_api_reply_error(req, ENOMEM);
		return;
	}
	tnd_api_reply(req, json_pack("{s:o}", "call", o));
}

static int m_call(struct tnd_api_req *req, json_t *params)
{
	static const char *const allowed[] = { "call", NULL };
	struct tnd_api *api = req->conn->api;
	const char *call;
	char msg[256];
	int r;

	if ((r = admin_only(req)) || (r = tnd_api_params_only(req, params, allowed)) ||
	    (r = tnd_api_param_str(req, params, "call", true, &call)) || (r = needs_calls(req)))
		return r;
	r = api->calls.query(api->calls.calls, call, call_answer, req, msg, sizeof(msg));
	if (r)
		tnd_api_req_msg(req, "%s", msg);
	return r;
}

static int m_hangup(struct tnd_api_req *req, json_t *params)
{
	static const char *const allowed[] = { "call", "reason", NULL };
	struct tnd_api *api = req->conn->api;
	const char *call, *why;
	char msg[256], reason[160];
	int r;

	if ((r = admin_only(req)) || (r = tnd_api_params_only(req, params, allowed)) ||
	    (r = tnd_api_param_str(req, params, "call", true, &call)) ||
	    (r = tnd_api_param_str(req, params, "reason", false, &why)) ||
	    (r = needs_calls(req)))
		return r;
	snprintf(reason, sizeof(reason), "%.120s", why ? why : "hung up by an administrator");
	TND_LOG_NOTICE(TND_LOG_API, "admin %s hangs up call %.64s", req->conn->user, call);
	r = api->calls.kill(api->calls.calls, call, reason, msg, sizeof(msg));
	if (r) {
		tnd_api_req_msg(req, "%s", msg);
		return r;
	}
	tnd_api_reply(req, json_object());
	return 0;
}

static int m_reload(struct tnd_api_req *req, json_t *params)
{
	const struct tnd_api_admin *a = &req->conn->api->admin;
	char msg[256] = "";
	int r;

	if ((r = admin_only(req)) || (r = no_params(req, params)))
		return r;
	if (!a->reload) {
		tnd_api_req_msg(req, "admin.reload is not available here");
		return ENOSYS;
	}
	TND_LOG_NOTICE(TND_LOG_API, "admin %s asks for a reload", req->conn->user);
	/* the reload may swap api->conf: nothing of the old one is kept here */
	r = a->reload(a->arg, msg, sizeof(msg));
	if (r) {
		tnd_api_req_msg(req, "%s", msg);
		return r;
	}
	tnd_api_reply(req, json_object());
	return 0;
}

static int m_log_level(struct tnd_api_req *req, json_t *params)
{
	static const char *const allowed[] = { "module", "level", NULL };
	const char *mod, *level;
	int r, m, l;

	if ((r = admin_only(req)) || (r = tnd_api_params_only(req, params, allowed)) ||
	    (r = tnd_api_param_str(req, params, "module", true, &mod)) ||
	    (r = tnd_api_param_str(req, params, "level", true, &level)))
		return r;
	for (m = 0; m < TND_LOG_MOD_COUNT; m++)
		if (!strcmp(mod, tnd_log_mod_name((enum tnd_log_mod)m)))
			break;
	if (m == TND_LOG_MOD_COUNT && strcmp(mod, "all")) {
		tnd_api_req_msg(req, "params.module: not a module (main conf api policy sip webrtc "
				"media codecs lib, or all)");
		return EINVAL;
	}
	for (l = TND_LOG_LEVEL_ERROR; l <= TND_LOG_LEVEL_DEBUG; l++)
		if (!strcmp(level, tnd_log_level_name((enum tnd_log_level)l)))
			break;
	if (l > TND_LOG_LEVEL_DEBUG) {
		tnd_api_req_msg(req, "params.level: error, warn, notice, info or debug");
		return EINVAL;
	}
	TND_LOG_NOTICE(TND_LOG_API, "admin %s sets log level %s=%s (until the next reload)",
		       req->conn->user, mod, level);
	if (m == TND_LOG_MOD_COUNT) {
		r = tnd_log_parse_levels(level, false);
	} else {
		/* the other modules keep theirs */
		atomic_store_explicit(&tnd_log_levels[m], l, memory_order_relaxed);
		r = 0;
	}
	if (r) {
		tnd_api_req_msg(req, "cannot set the level");
		return r;
	}
	tnd_api_reply(req, json_pack("{s:s, s:s}", "module", mod, "level", level));
	return 0;
}

static int m_drain(struct tnd_api_req *req, json_t *params)
{
	struct tnd_api *api = req->conn->api;
	int r;

	if ((r = admin_only(req)) || (r = no_params(req, params)) || (r = needs_calls(req)))
		return r;
	TND_LOG_NOTICE(TND_LOG_API, "admin %s starts a drain", req->conn->user);
	r = api->calls.drain(api->calls.calls);
	if (r == EALREADY) {
		tnd_api_req_msg(req, "the gateway is draining already");
		return r;
	}
	if (r)
		return r;
	tnd_api_reply(req, json_object());
	return 0;
}

static int m_subscribe(struct tnd_api_req *req, json_t *params)
{
	int r;

	if ((r = admin_only(req)) || (r = no_params(req, params)))
		return r;
	req->conn->events = true;
	/* events after this number come as `event` notifications */
	tnd_api_reply(req, json_pack("{s:I}", "seq", (json_int_t)req->conn->api->event_seq));
	return 0;
}

const struct tnd_api_method tnd_api_admin_methods[] = {
	{ "admin.calls", m_calls, true },
	{ "admin.registrations", m_registrations, true },
	{ "admin.trunks", m_trunks, true },
	{ "admin.call", m_call, true },
	{ "admin.hangup", m_hangup, true },
	{ "admin.reload", m_reload, true },
	{ "admin.log_level", m_log_level, true },
	{ "admin.drain", m_drain, true },
	{ "events.subscribe", m_subscribe, true },
	{ NULL, NULL, false },
};

void tnd_api_set_admin(struct tnd_api *api, const struct tnd_api_admin *ops)
{
	if (ops)
		api->admin = *ops;
	else
		memset(&api->admin, 0, sizeof(api->admin));
}
