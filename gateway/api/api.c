/* The API object: its connections, shutdown, and counters. Signalling thread.
 * A connection is listed in api->conns from alloc until its transport
 * detaches; the list holds one reference, requests in flight hold others. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/api/api_int.h"
#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/conf.h"

static void conn_destroy(void *data)
{
	struct tnd_api_conn *conn = data;

	free(conn->user);
}

int tnd_api_conn_alloc(struct tnd_api_conn **connp, struct tnd_api *api, const char *peer,
		       const struct tnd_api_transport *tp, void *arg)
{
	struct tnd_api_conn *conn;

	if (!connp || !api || !tp || !tp->send || !tp->close)
		return EINVAL;
	if (api->shutting_down)
		return EBUSY;
	if (api->stats.connections >= (unsigned long)api->conf->ws_max_connections)
		return EBUSY;
	conn = tnd_obj_zalloc(sizeof(*conn), conn_destroy);
	if (!conn)
		return ENOMEM;
	conn->api = api;
	conn->tp = tp;
	conn->tp_arg = arg;
	snprintf(conn->peer, sizeof(conn->peer), "%s", peer ? peer : "?");
	g_queue_init(&conn->logins);
	conn->bucket = api->conf->ws_burst;
	conn->bucket_us = g_get_monotonic_time();
	api->conns = g_list_prepend(api->conns, tnd_obj_get(conn));
	api->stats.connections++;
	api->stats.connections_total++;
	*connp = conn;
	return 0;
}

static void check_done(struct tnd_api *api)
{
	tnd_api_done_h *done = api->done;

	if (!api->shutting_down || api->conns || !done)
		return;
	api->done = NULL;
	if (api->done_timer)
		g_source_remove(api->done_timer);
	api->done_timer = 0;
	done(api->done_arg);
}

void tnd_api_conn_detach(struct tnd_api_conn *conn)
{
	struct tnd_api *api;

	if (!conn)
		return;
	api = conn->api;
	/* a password check still running for this socket is skipped, and the
	 * ones waiting are dropped: a closed flood costs no more CPU */
	g_atomic_int_set(&conn->gone, 1);
	if (api)
		tnd_api_logins_cancel(conn);
	if (api && api->calls.calls)
		api->calls.conn_gone(api->calls.calls, conn);
	if (api) {
		GList *link = g_list_find(api->conns, conn);

		if (link) {
			api->conns = g_list_delete_link(api->conns, link);
			tnd_obj_put(conn);
		}
		api->stats.connections--;
		if (conn->user)
			api->stats.logged_in--;
	}
	conn->api = NULL;
	tnd_obj_put(conn);
	if (api)
		check_done(api);
}

int tnd_api_conn_set_user(struct tnd_api_conn *conn, const char *user)
{
	char *copy = NULL;

	if (user) {
		copy = strdup(user);
		if (!copy)
			return ENOMEM;
	}
	if (conn->api && !conn->user && copy)
		conn->api->stats.logged_in++;
	if (conn->api && conn->user && !copy)
		conn->api->stats.logged_in--;
	free(conn->user);
	conn->user = copy;
	return 0;
}

int tnd_api_alloc(struct tnd_api **apip, struct tnd_loop *loop, const struct tnd_conf *conf,
		  struct tnd_policy *policy, bool listen)
{
	struct tnd_api *api;
	int err = 0;

	if (!apip || !loop || !conf || !policy)
		return EINVAL;
	api = calloc(1, sizeof(*api));
	if (!api)
		return ENOMEM;
	api->loop = loop;
	api->conf = conf;
	api->policy = policy;
	if (listen)
		err = tnd_api_ws_alloc(&api->ws, api);
	if (err)
		tnd_api_free(api);
	else
		*apip = api;
	return err;
}

void tnd_api_free(struct tnd_api *api)
{
	if (!api)
		return;
	/* finish password checks before the connections they answer go; the
	 * ones still waiting their turn are dropped */
	for (GList *l = api->conns; l; l = l->next)
		tnd_api_logins_cancel(l->data);
	if (api->hashers)
		g_thread_pool_free(api->hashers, FALSE, TRUE);
	api->hashers = NULL;
	/* their answers are queued on the loop; run them while api lives */
	while (g_main_context_iteration(tnd_loop_context(api->loop), FALSE))
		;
	tnd_api_ws_free(api->ws);
	while (api->conns) {
		struct tnd_api_conn *conn = api->conns->data;

		conn->api = NULL;
		api->conns = g_list_delete_link(api->conns, api->conns);
		tnd_obj_put(conn);
	}
	if (api->done_timer)
		g_source_remove(api->done_timer);
	free(api);
}

void tnd_api_set_calls(struct tnd_api *api, const struct tnd_api_calls *ops)
{
	if (ops)
		api->calls = *ops;
	else
		memset(&api->calls, 0, sizeof(api->calls));
}

void tnd_api_set_ready(struct tnd_api *api, tnd_api_ready_h *h, void *arg)
{
	api->ready = h;
	api->ready_arg = arg;
}

size_t tnd_api_lookup_user(void *arg, const char *user, void **conns, size_t max)
{
	struct tnd_api *api = arg;
	size_t n = 0;

	for (GList *l = api->conns; l && n < max; l = l->next) {
		struct tnd_api_conn *conn = l->data;

		if (conn->user && !conn->closing && !strcmp(conn->user, user))
			conns[n++] = conn;
	}
	return n;
}

void tnd_api_set_conf(struct tnd_api *api, const struct tnd_conf *conf)
{
	api->conf = conf;
}

static gboolean shutdown_timeout(gpointer data)
{
	struct tnd_api *api = data;
	tnd_api_done_h *done = api->done;

	api->done_timer = 0;
	api->done = NULL;
	TND_LOG_WARN(TND_LOG_API, "%u connection(s) did not close in time",
		     g_list_length(api->conns));
	if (done)
		done(api->done_arg);
	return G_SOURCE_REMOVE;
}

void tnd_api_shutdown(struct tnd_api *api, tnd_api_done_h *done, void *arg)
{
	api->shutting_down = true;
	api->done = done;
	api->done_arg = arg;
	if (api->ws)
		tnd_api_ws_stop_listening(api->ws);
	for (GList *l = api->conns; l; l = l->next) {
		struct tnd_api_conn *conn = l->data;

		if (!conn->closing) {
			conn->closing = true;
			conn->tp->close(conn->tp_arg, 1001, "gateway shutting down");
		}
	}
	api->done_timer = g_timeout_add(1000, shutdown_timeout, api);
	check_done(api);
}

void tnd_api_get_stats(const struct tnd_api *api, struct tnd_api_stats *st)
{
	*st = api->stats;
}

GThreadPool *tnd_api_hashers(struct tnd_api *api, GFunc job)
{
	/* two threads: password checks stay off the signalling thread and
	 * cannot take more than the machine's cores */
	if (!api->hashers)
		api->hashers = g_thread_pool_new(job, api, 2, FALSE, NULL);
	return api->hashers;
}
