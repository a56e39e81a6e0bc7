/* Session methods: login, ping, stats (protocol.md "Sessions and accounts").
 *
 * A password login checks a PBKDF2 hash, tens of milliseconds of CPU, on the
 * hasher pool so the signalling thread keeps serving everyone else; the
 * answer comes back through the loop. Unknown users are checked against a
 * throw-away hash so that timing does not tell which names exist. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/api/api_int.h"
#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/conf.h"
#include "gateway/policy/policy.h"

struct verify {
	struct tnd_api_req *req;   /* ref */
	char *user;
	char *hash;                /* NULL: unknown user, burn the same time */
	char *password;
	int result;
};

static void verify_free(struct verify *v)
{
	tnd_obj_put(v->req);
	free(v->user);
	free(v->hash);
	if (v->password) {
		explicit_bzero(v->password, strlen(v->password));
		free(v->password);
	}
	free(v);
}

static void login_done(struct tnd_api_req *req, const char *user)
{
	struct tnd_api_conn *conn = req->conn;
	struct tnd_api *api = conn->api;
	char token[64];
	int expires, e;

	e = tnd_policy_token_issue(api->policy, user, token, sizeof(token), &expires);
	if (!e)
		e = tnd_api_conn_set_user(conn, user);
	if (e) {
		tnd_api_req_msg(req, "could not issue a login token");
		tnd_api_reply_error(req, e);
		return;
	}
	TND_LOG_INFO(TND_LOG_POLICY, "user %s logged in from %s", user, conn->peer);
	tnd_api_reply(req, json_pack("{s:s, s:i, s:s}", "user", user, "expires", expires,
				     "token", token));
	explicit_bzero(token, sizeof(token));
}

static void login_failed(struct tnd_api_req *req, const char *user, const char *why)
{
	struct tnd_api_conn *conn = req->conn;

	tnd_policy_login_result(conn->api->policy, conn->peer, false);
	TND_LOG_NOTICE(TND_LOG_POLICY, "login of %s from %s failed: %s", user, conn->peer, why);
	tnd_api_req_msg(req, "%s", why);
	tnd_api_reply_error(req, EACCES);
}

static gboolean verify_finish(gpointer data)
{
	struct verify *v = data;
	struct tnd_api_req *req = v->req;

	/* the socket may have gone while the hash was computed */
	if (req->conn->api) {
		if (v->result == 0 && v->hash) {
			tnd_policy_login_result(req->conn->api->policy, req->conn->peer, true);
			login_done(req, v->user);
		} else {
			login_failed(req, v->user, "wrong user name or password");
		}
	}
	verify_free(v);
	return G_SOURCE_REMOVE;
}

static void verify_job(gpointer data, gpointer pool_data)
{
	struct verify *v = data;
	struct tnd_api *api = pool_data;
	char burn[TND_PASSWD_HASH_MAX];

	if (v->hash)
		v->result = tnd_passwd_verify(v->hash, v->password);
	else if (tnd_passwd_hash(v->password, TND_PASSWD_ITERATIONS, burn, sizeof(burn)) == 0)
		v->result = EACCES;
	else
		v->result = EIO;
	g_main_context_invoke(tnd_loop_context(api->loop), verify_finish, v);
}

static int m_login(struct tnd_api_req *req, json_t *params)
{
	static const char *const allowed[] = { "user", "password", "token", NULL };
	struct tnd_api_conn *conn = req->conn;
	struct tnd_api *api = conn->api;
	const struct tnd_conf_user *u;
	const char *user, *password, *token;
	struct verify *v;
	int r, expires;


	if ((r = tnd_api_params_only(req, params, allowed)) ||
	    (r = tnd_api_param_str(req, params, "user", true, &user)) ||
	    (r = tnd_api_param_str(req, params, "password", false, &password)) ||
	    (r = tnd_api_param_str(req, params, "token", false, &token)))
		return r;
	if (tnd_policy_user_name_check(user)) {
		tnd_api_req_msg(req, "params.user must be 1 to 64 letters, digits, or . _ - +");
		return TND_RPC_INVALID_PARAMS;
	}
	if (password && token) {
		tnd_api_req_msg(req, "give params.password or params.token, not both");
		return TND_RPC_INVALID_PARAMS;
	}
	if (tnd_policy_check_login(api->policy, conn->peer)) {
		tnd_api_req_msg(req, "too many failed logins from %s: retry in %d s", conn->peer,
				api->conf->login_lockout);
		return EAGAIN;
	}
	if (token) {
		if (tnd_policy_token_check(api->policy, user, token, &expires)) {
			login_failed(req, user, "token unknown, expired or not this user's");
			return 0;
		}
		tnd_policy_login_result(api->policy, conn->peer, true);
		login_done(req, user);
		return 0;
	}
	if (api->conf->auth_mode == TND_AUTH_NONE) {
		login_done(req, user);
		return 0;
	}
	if (!password) {
		tnd_api_req_msg(req, "params.password or params.token is required");
		return TND_RPC_INVALID_PARAMS;
	}
	u = tnd_conf_user_find(api->conf, user);
	v = calloc(1, sizeof(*v));
	if (!v)
		return ENOMEM;
	v->req = tnd_obj_get(req);
	v->user = strdup(user);
	v->hash = u ? strdup(u->hash) : NULL;
	v->password = strdup(password);
	if (!v->user || !v->password || (u && !v->hash)) {
		verify_free(v);
		return ENOMEM;
	}
	g_thread_pool_push(tnd_api_hashers(api, verify_job), v, NULL);
	return 0;
}

static int m_ping(struct tnd_api_req *req, json_t *params)
{
	if (params && json_object_size(params)) {
		tnd_api_req_msg(req, "ping takes no params");
		return TND_RPC_INVALID_PARAMS;
	}
	tnd_api_reply(req, json_object());
	return 0;
}

static int m_stats(struct tnd_api_req *req, json_t *params)
{
	struct tnd_api_stats st;
	json_t *r;

	if (params && json_object_size(params)) {
		tnd_api_req_msg(req, "stats takes no params");
		return TND_RPC_INVALID_PARAMS;
	}
	tnd_api_get_stats(req->conn->api, &st);
	r = json_pack("{s:{s:I, s:I, s:I, s:I, s:I}}", "api",
		      "connections", (json_int_t)st.connections,
		      "connections_total", (json_int_t)st.connections_total,
		      "logged_in", (json_int_t)st.logged_in,
		      "requests", (json_int_t)st.requests,
		      "protocol_errors", (json_int_t)st.protocol_errors);
	if (req->conn->api->calls.calls) {
		struct tnd_calls_stats cs;

		req->conn->api->calls.stats(req->conn->api->calls.calls, &cs);
		json_object_set_new(r, "calls", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			"calls", (json_int_t)cs.calls, "calls_total", (json_int_t)cs.calls_total,
			"sip_dialogs", (json_int_t)cs.sip_dialogs,
			"bridges", (json_int_t)cs.bridges, "media_legs", (json_int_t)cs.media_legs,
			"media_ports", (json_int_t)cs.media_ports,
			"media_dropped", (json_int_t)cs.media_dropped));
	}
	tnd_api_reply(req, r);
	return 0;
}

const struct tnd_api_method tnd_api_session_methods[] = {
	{ "login", m_login, false },
	{ "ping", m_ping, false },
	{ "stats", m_stats, true },
	{ NULL, NULL, false },
};
