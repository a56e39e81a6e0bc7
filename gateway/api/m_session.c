/* Session methods: login, ping, stats (protocol.md "Sessions and accounts").
 *
 * A password login checks a PBKDF2 hash, tens of milliseconds of CPU, on the
 * hasher pool so the signalling thread keeps serving everyone else; the
 * answer comes back through the loop. Unknown users are checked against a
 * throw-away hash so that timing does not tell which names exist.
 *
 * The pool is a shared CPU budget, so it is rationed: one check at a time
 * per connection (the lock-out is checked again before each one starts and
 * when it ends, so pipelined guesses stop at max_failures), a few waiting
 * per connection and per address, a gateway-wide cap, and checks for a
 * socket that closed are dropped. Whatever does not fit gets 429. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/api/api_int.h"
#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/base/stats.h"
#include "gateway/conf.h"
#include "gateway/policy/policy.h"

struct verify {
	struct tnd_api *api;       /* borrowed: outlives the pool (tnd_api_free) */
	struct tnd_api_req *req;   /* ref */
	char *user;
	char *hash;                /* NULL: unknown user, burn the same time */
	char *password;
	int result;
};

static void verify_free(struct verify *v)
{
	struct tnd_api_conn *conn = v->req->conn;

	v->api->hash_jobs--;
	conn->logins_pending--;
	tnd_obj_put(v->req);
	free(v->user);
	free(v->hash);
	if (v->password) {
		explicit_bzero(v->password, strlen(v->password));
		free(v->password);
	}
	free(v);
}

static void add_call(void *arg, const struct tnd_call_brief *info)
{
	json_array_append_new(arg, json_pack("{s:s, s:s, s:s, s:s}", "call", info->call,
					     "state", info->state, "peer", info->peer ? info->peer :
					     "", "direction", info->incoming ? "in" : "out"));
}

/* The login result gets the user's detached calls, for `reattach`
 * (protocol.md "Reattaching calls"); an empty list when there are none. */
static json_t *with_calls(struct tnd_api *api, const char *user, json_t *result)
{
	json_t *list = json_array();

	if (api->calls.calls && api->calls.detached)
		api->calls.detached(api->calls.calls, user, add_call, list);
	json_object_set_new(result, "calls", list);
	return result;
}

static void login_done(struct tnd_api_req *req, const char *user)
{
	struct tnd_api_conn *conn = req->conn;
	struct tnd_api *api = conn->api;
	char token[64];
	int expires = api->conf->token_lifetime, e = 0;

	/* auth = none needs no token to come back: it would only fill the
	 * table for nothing (protocol.md, "login") */
	if (api->conf->auth_mode != TND_AUTH_NONE)
		e = tnd_policy_token_issue(api->policy, user, token, sizeof(token), &expires);
	if (!e)
		e = tnd_api_conn_set_user(conn, user);
	if (e) {
		tnd_api_req_msg(req, "could not issue a login token");
		tnd_api_reply_error(req, e);
		return;
	}
	tnd_stats_inc(tnd_stats_slab(0), TND_ST_LOGINS + TND_STATS_LOGIN_OK);
	TND_LOG_INFO(TND_LOG_POLICY, "user %s logged in from %s", user, conn->peer);
	if (api->conf->auth_mode == TND_AUTH_NONE) {
		tnd_api_reply(req, with_calls(api, user, json_pack("{s:s, s:i}", "user", user,
								   "expires", expires)));
		return;
	}
	tnd_api_reply(req, with_calls(api, user, json_pack("{s:s, s:i, s:s}", "user", user,
							   "expires", expires, "token", token)));
	explicit_bzero(token, sizeof(token));
}

static void login_failed(struct tnd_api_req *req, const char *user, const char *why)
{
	struct tnd_api_conn *conn = req->conn;

	tnd_policy_login_result(conn->api->policy, conn->peer, false);
	tnd_stats_inc(tnd_stats_slab(0), TND_ST_LOGINS + TND_STATS_LOGIN_FAILED);
	TND_LOG_NOTICE(TND_LOG_POLICY, "login of %s from %s failed: %s", user, conn->peer, why);
	tnd_api_req_msg(req, "%s", why);
	tnd_api_reply_error(req, EACCES);
}

/* 429 for a login the lock-out or a queue limit stops; counted, and logged
 * at a rate-limited level since a flood produces one per request. */
static int login_refused(struct tnd_api_req *req, const char *why)
{
	struct tnd_api_conn *conn = req->conn;

	conn->api->stats.logins_refused++;
	tnd_stats_inc(tnd_stats_slab(0), TND_ST_LOGINS + TND_STATS_LOGIN_LOCKED);
	TND_LOG_RL(TND_LOG_POLICY, NOTICE, "login from %s refused: %s", conn->peer, why);
	tnd_api_req_msg(req, "%s", why);
	return EAGAIN;
}

static int locked_out(struct tnd_api_req *req, bool password)
{
	struct tnd_api_conn *conn = req->conn;
	struct tnd_api *api = conn->api;

	if (!tnd_policy_check_login(api->policy, conn->peer, password))
		return 0;
	return login_refused(req, "too many failed logins: retry later");
}

static void verify_job(gpointer data, gpointer pool_data);

/* Starts conn's next waiting login, answering 429 to those the lock-out
 * now stops without spending a hash on them. */
static void next_login(struct tnd_api_conn *conn)
{
	struct verify *v;

	while (!conn->hashing && (v = g_queue_pop_head(&conn->logins))) {
		int e = locked_out(v->req, true);

		if (!e) {
			conn->hashing = true;
			g_thread_pool_push(tnd_api_hashers(v->api, verify_job), v, NULL);
			return;
		}
		tnd_api_reply_error(v->req, e);
		verify_free(v);
	}
}

static gboolean verify_finish(gpointer data)
{
	struct verify *v = data;
	struct tnd_api_req *req = v->req;
	struct tnd_api_conn *conn = tnd_obj_get(req->conn);   /* past verify_free */
	int e;

	conn->hashing = false;
	/* the socket may have gone while the hash was computed */
	if (conn->api) {
		/* failures that ended while this one ran count against it too */
		if ((e = locked_out(req, true))) {
			tnd_api_reply_error(req, e);
		} else if (v->result == 0 && v->hash) {
			tnd_policy_login_result(conn->api->policy, conn->peer, true);
			login_done(req, v->user);
		} else {
			login_failed(req, v->user, "wrong user name or password");
		}
	}
	verify_free(v);
	if (conn->api)
		next_login(conn);
	tnd_obj_put(conn);
	return G_SOURCE_REMOVE;
}

static void verify_job(gpointer data, gpointer pool_data)
{
	struct verify *v = data;
	struct tnd_api *api = pool_data;
	char burn[TND_PASSWD_HASH_MAX];

	if (g_atomic_int_get(&v->req->conn->gone))
		v->result = ECANCELED;   /* nobody to answer: spend no CPU */
	else if (v->hash)
		v->result = tnd_passwd_verify(v->hash, v->password);
	else if (tnd_passwd_hash(v->password, TND_PASSWD_ITERATIONS, burn, sizeof(burn)) == 0)
		v->result = EACCES;
	else
		v->result = EIO;
	g_main_context_invoke(tnd_loop_context(api->loop), verify_finish, v);
}

void tnd_api_logins_cancel(struct tnd_api_conn *conn)
{
	struct verify *v;

	while ((v = g_queue_pop_head(&conn->logins)))
		verify_free(v);
}

/* 0 when one more password check fits the limits of conn, its address and
 * the gateway; else the 429 to answer. */
static int login_room(struct tnd_api_req *req)
{
	struct tnd_api_conn *conn = req->conn;
	struct tnd_api *api = conn->api;
	unsigned addr = 0;

	if (conn->logins_pending >= TND_API_LOGINS_PER_CONN)
		return login_refused(req, "too many logins in progress on this connection");
	for (GList *l = api->conns; l; l = l->next) {
		const struct tnd_api_conn *c = l->data;

		if (!strcmp(c->peer, conn->peer))
			addr += c->logins_pending;
	}
	if (addr >= TND_API_LOGINS_PER_ADDR)
		return login_refused(req, "too many logins in progress from this address");
	if (api->hash_jobs >= (unsigned)api->conf->login_max_pending)
		return login_refused(req, "password checks are busy: retry in a second");
	return 0;
}

static int login_password(struct tnd_api_req *req, const char *user, const char *password)
{
	struct tnd_api_conn *conn = req->conn;
	struct tnd_api *api = conn->api;
	const struct tnd_conf_user *u;
	struct verify *v;
	int r;

	if ((r = locked_out(req, true)) || (r = login_room(req)))
		return r;
	u = tnd_conf_user_find(api->conf, user);
	v = calloc(1, sizeof(*v));
	if (!v)
		return ENOMEM;
	v->api = api;
	v->req = tnd_obj_get(req);
	v->user = strdup(user);
	v->hash = u ? strdup(u->hash) : NULL;
	v->password = strdup(password);
	api->hash_jobs++;
	conn->logins_pending++;
	if (!v->user || !v->password || (u && !v->hash)) {
		verify_free(v);
		return ENOMEM;
	}
	g_queue_push_tail(&conn->logins, v);
	next_login(conn);
	return 0;
}

static int m_login(struct tnd_api_req *req, json_t *params)
{
	static const char *const allowed[] = { "user", "password", "token", NULL };
	struct tnd_api_conn *conn = req->conn;
	struct tnd_api *api = conn->api;
	const char *user, *password, *token;
	int r;

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
	if (api->conf->auth_mode == TND_AUTH_NONE) {
		/* no credentials to check: a token kept from earlier is ignored */
		login_done(req, user);
		return 0;
	}
	if (token) {
		if ((r = locked_out(req, false)))
			return r;
		if (tnd_policy_token_take(api->policy, user, token)) {
			login_failed(req, user, "token unknown, expired or not this user's");
			return 0;
		}
		tnd_policy_login_result(api->policy, conn->peer, true);
		login_done(req, user);
		return 0;
	}
	if (!password) {
		tnd_api_req_msg(req, "params.password or params.token is required");
		return TND_RPC_INVALID_PARAMS;
	}
	return login_password(req, user, password);
}

/* Ends the socket's calls (unlike a closed socket, whose calls wait for a
 * reattach) and logs it out. */
static int m_logout(struct tnd_api_req *req, json_t *params)
{
	struct tnd_api_conn *conn = req->conn;
	struct tnd_api *api = conn->api;

	if (params && json_object_size(params)) {
		tnd_api_req_msg(req, "logout takes no params");
		return TND_RPC_INVALID_PARAMS;
	}
	if (api->calls.calls && api->calls.logout)
		api->calls.logout(api->calls.calls, conn);
	if (conn->user)
		TND_LOG_INFO(TND_LOG_POLICY, "user %s logged out from %s", conn->user, conn->peer);
	tnd_api_conn_set_user(conn, NULL);
	tnd_api_reply(req, json_object());
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

	if (params && json_object_get(params, "call"))
		return tnd_api_call_stats(req, params);
	if (params && json_object_size(params)) {
		tnd_api_req_msg(req, "stats takes no params but call");
		return TND_RPC_INVALID_PARAMS;
	}
	tnd_api_get_stats(req->conn->api, &st);
	r = json_pack("{s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}", "api",
		      "connections", (json_int_t)st.connections,
		      "connections_total", (json_int_t)st.connections_total,
		      "logged_in", (json_int_t)st.logged_in,
		      "requests", (json_int_t)st.requests,
		      "protocol_errors", (json_int_t)st.protocol_errors,
		      "rate_limited", (json_int_t)st.rate_limited,
		      "logins_refused", (json_int_t)st.logins_refused,
		      "ws_refused", (json_int_t)st.ws_refused);
	json_object_set_new(json_object_get(r, "api"), "tokens",
			    json_integer(tnd_policy_token_count(req->conn->api->policy)));
	if (req->conn->api->calls.calls) {
		struct tnd_calls_stats cs;

		req->conn->api->calls.stats(req->conn->api->calls.calls, &cs);
		json_object_set_new(r, "calls", json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
			"calls", (json_int_t)cs.calls, "calls_total", (json_int_t)cs.calls_total,
			"sip_dialogs", (json_int_t)cs.sip_dialogs,
			"bridges", (json_int_t)cs.bridges, "media_legs", (json_int_t)cs.media_legs,
			"media_ports", (json_int_t)cs.media_ports,
			"media_dropped", (json_int_t)cs.media_dropped));
		json_object_set_new(json_object_get(r, "calls"), "registrations",
				    json_integer((json_int_t)cs.registrations));
	}
	tnd_api_reply(req, r);
	return 0;
}

const struct tnd_api_method tnd_api_session_methods[] = {
	{ "login", m_login, false },
	{ "ping", m_ping, false },
	{ "logout", m_logout, true },
	{ "stats", m_stats, true },
	{ NULL, NULL, false },
};
