/* WebSocket transport for the API: libwebsockets on the signalling thread's
 * GLib main loop (LWS_SERVER_OPTION_GLIB with our GMainLoop as the foreign
 * loop). RFC 6455 framing is libwebsockets'; here we enforce the contract's
 * rules that sit on top: path, subprotocol tandem.v1, 64 KiB per message
 * (fragments included), text frames, one write per writeable callback, and a
 * cap on unsent data for clients that stop reading.
 *
 * Handshakes are guarded before any of that: a connection not yet upgraded
 * is "pending", one address may hold [websocket] max_handshakes_per_address
 * of them and each gets handshake_timeout seconds (a slowloris from one
 * address once held every descriptor), Sec-WebSocket-Version must be 13
 * (RFC 6455 section 4.4: 426 naming it) and the Origin must pass
 * tnd_api_ws_origin_ok (403). Each refusal is counted in stats and logged
 * through the rate limiter. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <libwebsockets.h>

#include "gateway/api/api_int.h"
#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/conf.h"

#define SUBPROTOCOL "tandem.v1"
#define STATUS_UPGRADE_REQUIRED 426   /* RFC 7231 section 6.5.15; lws names none */
/* libwebsockets 4.1 copies Sec-WebSocket-Protocol into a 128-byte buffer
 * to pick the protocol and hangs up without a status when it does not fit;
 * we answer 400 first so the client learns why. */
#define PROTOCOL_LIST_MAX 127

struct tnd_api_ws {
	struct tnd_api *api;           /* borrowed: our owner */
	struct lws_context *ctx;       /* owned */
	void *foreign_loops[1];
	GHashTable *pending;           /* owned: struct lws * -> struct pending */
	GHashTable *per_addr;          /* owned: address -> pending count */
	GSource *sweep;                /* owned: kills handshakes past the timeout */
};

/* A connection still in its HTTP handshake. */
struct pending {
	char addr[64];
	gint64 since_us;
};

struct out_msg {
	size_t len;
	unsigned char buf[];           /* LWS_PRE headroom, then the text */
};

/* lws per-session data: lives exactly as long as the wsi. */
struct ws_peer {
	struct lws *wsi;               /* borrowed */
	struct tnd_api_conn *conn;     /* ref until LWS_CALLBACK_CLOSED */
	GQueue out;                    /* owned out_msg */
	size_t out_bytes;
	struct tnd_api_wsrx rx;        /* owned: message being reassembled */
	int close_code;                /* 0, or close once out is flushed */
	char close_reason[64];
};

static void peer_send(void *arg, const char *text, size_t len)
{
	struct ws_peer *p = arg;
	const struct tnd_conf *conf = p->conn->api->conf;
	struct out_msg *m;

	if (p->close_code)
		return;
	if (p->out_bytes + len > (size_t)conf->ws_max_pending_kib * 1024) {
		/* a client that does not read would grow our memory forever */
		TND_LOG_NOTICE(TND_LOG_API, "closing %s: %zu bytes unread",
			       p->conn->peer, p->out_bytes);
		p->close_code = LWS_CLOSE_STATUS_POLICY_VIOLATION;
		snprintf(p->close_reason, sizeof(p->close_reason), "not reading");
		lws_callback_on_writable(p->wsi);
		return;
	}
	m = malloc(sizeof(*m) + LWS_PRE + len);
	if (!m)
		return;
	m->len = len;
	memcpy(m->buf + LWS_PRE, text, len);
	g_queue_push_tail(&p->out, m);
	p->out_bytes += len;
	lws_callback_on_writable(p->wsi);
}

static void peer_close(void *arg, int code, const char *reason)
{
	struct ws_peer *p = arg;

	if (p->close_code)
		return;
	p->close_code = code;
	snprintf(p->close_reason, sizeof(p->close_reason), "%s", reason);
	lws_callback_on_writable(p->wsi);
}

static const struct tnd_api_transport ws_transport = { peer_send, peer_close };

static bool offers_subprotocol(struct lws *wsi)
{
	int n = lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL);
	char *buf;
	bool found;

	/* the whole list, however long: browsers may offer many names */
	if (n <= 0)
		return false;
	buf = malloc((size_t)n + 1);
	if (!buf)
		return false;
	found = lws_hdr_copy(wsi, buf, n + 1, WSI_TOKEN_PROTOCOL) > 0 &&
		tnd_api_ws_offers(buf, SUBPROTOCOL);
	free(buf);
	return found;
}

/* Counts a refused handshake; the log line goes through the rate limiter,
 * since a flood produces one per connection. */
static int refuse(struct tnd_api_ws *ws, struct lws *wsi, const char *why)
{
	char peer[64];

	ws->api->stats.ws_refused++;
	if (!lws_get_peer_simple(wsi, peer, sizeof(peer)))
		snprintf(peer, sizeof(peer), "?");
	TND_LOG_RL(TND_LOG_API, NOTICE, "refused a WebSocket from %s: %s", peer, why);
	return -1;
}

static int filter(struct tnd_api_ws *ws, struct lws *wsi)
{
	const struct tnd_conf *conf = ws->api->conf;
	char uri[256];

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
	    strcmp(uri, conf->ws_path))
		return refuse(ws, wsi, "wrong path");
	if (!offers_subprotocol(wsi))
		return refuse(ws, wsi, "no subprotocol " SUBPROTOCOL);
	if (ws->api->shutting_down)
		return refuse(ws, wsi, "shutting down");
	if (ws->api->stats.connections >= (unsigned long)conf->ws_max_connections)
		return refuse(ws, wsi, "connection limit");
	return 0;
}

/* Answers a refused upgrade with an HTTP status (426 names the version we
 * speak, RFC 6455 section 4.4); 1 tells lws the answer is sent. */
static int http_refuse(struct tnd_api_ws *ws, struct lws *wsi, unsigned status, const char *why)
{
	unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start;
	unsigned char *end = buf + sizeof(buf);

	refuse(ws, wsi, why);
	if (lws_add_http_header_status(wsi, status, &p, end) ||
	    (status == STATUS_UPGRADE_REQUIRED &&
	     lws_add_http_header_by_token(wsi, WSI_TOKEN_VERSION, (const unsigned char *)"13",
					  2, &p, end)) ||
	    lws_add_http_header_content_length(wsi, 0, &p, end) ||
	    lws_finalize_http_header(wsi, &p, end) ||
	    lws_write(wsi, start, (size_t)(p - start), LWS_WRITE_HTTP_HEADERS) < 0)
		return -1;
	return 1;
}

static int confirm_upgrade(struct tnd_api_ws *ws, struct lws *wsi)
{
	char ver[8], *origin = NULL;
	int n, r = 0;

	if (lws_hdr_copy(wsi, ver, sizeof(ver), WSI_TOKEN_VERSION) <= 0 || strcmp(ver, "13"))
		return http_refuse(ws, wsi, STATUS_UPGRADE_REQUIRED,
				   "Sec-WebSocket-Version is not 13");
	if (lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL) > PROTOCOL_LIST_MAX)
		return http_refuse(ws, wsi, HTTP_STATUS_BAD_REQUEST,
				   "Sec-WebSocket-Protocol longer than 127 bytes");
	n = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);
	if (n > 0) {
		origin = calloc(1, (size_t)n + 1);
		if (!origin || lws_hdr_copy(wsi, origin, n + 1, WSI_TOKEN_ORIGIN) < 0)
			r = -1;
	}
	if (!r && !tnd_api_ws_origin_ok(ws->api->conf, origin))
		r = http_refuse(ws, wsi, HTTP_STATUS_FORBIDDEN, "Origin not allowed");
	free(origin);
	return r;
}

/* At accept, before libwebsockets makes anything for the connection: an
 * address already at its limit of pending handshakes is hung up on at once,
 * so a flood of them costs a descriptor for microseconds only. */
static int filter_accept(struct tnd_api_ws *ws, const struct lws_filter_network_conn_args *a)
{
	char addr[64] = "?";
	const void *ip = NULL;
	int family = a->cli_addr.ss_family;

	if (family == AF_INET)
		ip = &((const struct sockaddr_in *)&a->cli_addr)->sin_addr;
	else if (family == AF_INET6)
		ip = &((const struct sockaddr_in6 *)&a->cli_addr)->sin6_addr;
	if (ip && !inet_ntop(family, ip, addr, sizeof(addr)))
		return 0;
	if (GPOINTER_TO_UINT(g_hash_table_lookup(ws->per_addr, addr)) <
	    (guint)ws->api->conf->ws_max_handshakes)
		return 0;
	ws->api->stats.ws_refused++;
	TND_LOG_RL(TND_LOG_API, NOTICE, "refused a WebSocket from %s: %s", addr,
		   "too many handshakes in progress from this address");
	return -1;
}

/* Ends a connection from outside its callbacks: lws_set_timeout's kill is
 * only noticed at lws' next timer run (up to timeout_secs later on an idle
 * loop), while a socket shut down here wakes lws at once and it closes the
 * connection as if the peer had left. */
static void hang_up(struct lws *wsi)
{
	int fd = lws_get_socket_fd(wsi);

	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
	lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
}

/* A new TCP connection: pending until its upgrade. Over the per-address
 * limit (when filter_accept did not see it) it is closed at once, before
 * it costs a header buffer. */
static void pending_add(struct tnd_api_ws *ws, struct lws *wsi)
{
	struct pending *pd = g_new0(struct pending, 1);
	guint n;

	if (!lws_get_peer_simple(wsi, pd->addr, sizeof(pd->addr)))
		snprintf(pd->addr, sizeof(pd->addr), "?");
	pd->since_us = g_get_monotonic_time();
	n = GPOINTER_TO_UINT(g_hash_table_lookup(ws->per_addr, pd->addr));
	g_hash_table_replace(ws->per_addr, g_strdup(pd->addr), GUINT_TO_POINTER(n + 1));
	g_hash_table_replace(ws->pending, wsi, pd);
	if (n + 1 > (guint)ws->api->conf->ws_max_handshakes) {
		refuse(ws, wsi, "too many handshakes in progress from this address");
		hang_up(wsi);
	}
}

static void pending_del(struct tnd_api_ws *ws, struct lws *wsi)
{
	struct pending *pd = g_hash_table_lookup(ws->pending, wsi);
	guint n;

	if (!pd)
		return;
	n = GPOINTER_TO_UINT(g_hash_table_lookup(ws->per_addr, pd->addr));
	if (n > 1)
		g_hash_table_replace(ws->per_addr, g_strdup(pd->addr), GUINT_TO_POINTER(n - 1));
	else
		g_hash_table_remove(ws->per_addr, pd->addr);
	g_hash_table_remove(ws->pending, wsi);
}

static gboolean sweep(gpointer data)
{
	struct tnd_api_ws *ws = data;
	gint64 cutoff = g_get_monotonic_time() -
			(gint64)ws->api->conf->ws_handshake_timeout * G_USEC_PER_SEC;
	GHashTableIter it;
	gpointer key, value;

	g_hash_table_iter_init(&it, ws->pending);
	while (g_hash_table_iter_next(&it, &key, &value)) {
		struct pending *pd = value;

		if (pd->since_us < cutoff) {
			/* once: lws destroys it soon, and pending_del forgets it */
			pd->since_us = G_MAXINT64;
			refuse(ws, key, "handshake timed out");
			hang_up(key);
		}
	}
	return G_SOURCE_CONTINUE;
}

static void peer_drop_queue(struct ws_peer *p)
{
	struct out_msg *m;

	while ((m = g_queue_pop_head(&p->out)))
		free(m);
	p->out_bytes = 0;
	tnd_api_wsrx_reset(&p->rx);
}

static void deliver(void *arg, enum tnd_api_frame kind, const char *data, size_t len)
{
	struct ws_peer *p = arg;

	tnd_api_conn_frame(p->conn, kind, data, len);
}

/* Reassembles one message from lws' pieces (ws_rules.c). */
static void peer_receive(struct ws_peer *p, const void *in, size_t len)
{
	bool last = lws_is_final_fragment(p->wsi) && !lws_remaining_packet_payload(p->wsi);

	tnd_api_wsrx_feed(&p->rx, lws_is_first_fragment(p->wsi), last,
			  lws_frame_is_binary(p->wsi), in, len, deliver, p);
}

static int peer_writeable(struct ws_peer *p)
{
	struct out_msg *m = g_queue_pop_head(&p->out);

	if (m) {
		int n = lws_write(p->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);

		p->out_bytes -= m->len;
		free(m);
		if (n < 0)
			return -1;
		if (!g_queue_is_empty(&p->out) || p->close_code)
			lws_callback_on_writable(p->wsi);
		return 0;
	}
	if (p->close_code) {
		lws_close_reason(p->wsi, (enum lws_close_status)p->close_code,
				 (unsigned char *)p->close_reason, strlen(p->close_reason));
		return -1;
	}
	return 0;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	struct tnd_api_ws *ws = lws_context_user(lws_get_context(wsi));
	struct ws_peer *p = user;
	char peer[64];

	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		return user ? filter_accept(ws, user) : 0;
	case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
		pending_add(ws, wsi);
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	case LWS_CALLBACK_WSI_DESTROY:
		pending_del(ws, wsi);
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return confirm_upgrade(ws, wsi);
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return filter(ws, wsi);
	case LWS_CALLBACK_ESTABLISHED:
		pending_del(ws, wsi);
		memset(p, 0, sizeof(*p));
		p->wsi = wsi;
		g_queue_init(&p->out);
		if (!lws_get_peer_simple(wsi, peer, sizeof(peer)))
			snprintf(peer, sizeof(peer), "?");
		if (tnd_api_conn_alloc(&p->conn, ws->api, peer, &ws_transport, p))
			return -1;
		TND_LOG_DEBUG(TND_LOG_API, "WebSocket from %s", peer);
		return 0;
	case LWS_CALLBACK_RECEIVE:
		if (p->conn)
			peer_receive(p, in, len);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return p->conn ? peer_writeable(p) : -1;
	case LWS_CALLBACK_CLOSED:
		if (p->conn) {
			TND_LOG_DEBUG(TND_LOG_API, "WebSocket from %s closed", p->conn->peer);
			tnd_api_conn_detach(p->conn);
			p->conn = NULL;
		}
		peer_drop_queue(p);
		return 0;
	case LWS_CALLBACK_HTTP:
		/* plain HTTP on the signalling port: nothing to see here */
		if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, "use a WebSocket"))
			return -1;
		return lws_http_transaction_completed(wsi);
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

static const struct lws_protocols protocols[] = {
	{ SUBPROTOCOL, ws_callback, sizeof(struct ws_peer), 0, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 }
};

static void lws_log(int level, const char *line)
{
	char msg[512];
	size_t n;

	snprintf(msg, sizeof(msg), "libwebsockets: %s", line);
	n = strlen(msg);
	while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	/* rate-limited: lws logs one line per refused connection, and a flood
	 * of them would flood the log too */
	if (level & LLL_ERR)
		TND_LOG_RL(TND_LOG_LIB, ERROR, "%s", msg);
	else if (level & LLL_WARN)
		TND_LOG_RL(TND_LOG_LIB, WARN, "%s", msg);
	else
		TND_LOG_DEBUG(TND_LOG_LIB, "%s", msg);
}

int tnd_api_ws_alloc(struct tnd_api_ws **wsp, struct tnd_api *api)
{
	const struct tnd_conf *conf = api->conf;
	struct lws_context_creation_info info;
	struct tnd_api_ws *ws;

	ws = calloc(1, sizeof(*ws));
	if (!ws)
		return ENOMEM;
	ws->api = api;
	ws->foreign_loops[0] = tnd_loop_gmain(api->loop);
	ws->pending = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_free);
	ws->per_addr = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);

	lws_set_log_level(LLL_ERR | LLL_WARN, lws_log);
	memset(&info, 0, sizeof(info));
	info.port = conf->ws_port;
	info.iface = conf->ws_listen;
	info.protocols = protocols;
	info.user = ws;
	info.options = LWS_SERVER_OPTION_GLIB | LWS_SERVER_OPTION_DISABLE_IPV6;
	if (strchr(conf->ws_listen, ':'))
		info.options &= ~(uint64_t)LWS_SERVER_OPTION_DISABLE_IPV6;
	info.foreign_loops = ws->foreign_loops;
	info.count_threads = 1;
	info.fd_limit_per_thread = (unsigned)conf->ws_max_connections + 64;
	info.timeout_secs = 10;
	info.ka_time = 0;
	if (*conf->ws_cert) {
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
		info.ssl_cert_filepath = conf->ws_cert;
		info.ssl_private_key_filepath = conf->ws_key;
	}
	ws->ctx = lws_create_context(&info);
	if (!ws->ctx) {
		TND_LOG_ERR(TND_LOG_API, "cannot listen for WebSockets on %s port %d",
			    conf->ws_listen, conf->ws_port);
		g_hash_table_destroy(ws->pending);
		g_hash_table_destroy(ws->per_addr);
		free(ws);
		return EADDRINUSE;
	}
	ws->sweep = g_timeout_source_new_seconds(1);
	g_source_set_callback(ws->sweep, sweep, ws, NULL);
	g_source_attach(ws->sweep, tnd_loop_context(api->loop));
	TND_LOG_NOTICE(TND_LOG_API, "WebSocket on %s://%s:%d%s, subprotocol " SUBPROTOCOL,
		       *conf->ws_cert ? "wss" : "ws", conf->ws_listen, conf->ws_port,
		       conf->ws_path);
	*wsp = ws;
	return 0;
}

void tnd_api_ws_stop_listening(struct tnd_api_ws *ws)
{
	/* new handshakes are refused in filter() once the API is shutting down */
	(void)ws;
}

void tnd_api_ws_free(struct tnd_api_ws *ws)
{
	if (!ws)
		return;
	g_source_destroy(ws->sweep);
	g_source_unref(ws->sweep);
	lws_context_destroy(ws->ctx);
	g_hash_table_destroy(ws->pending);
	g_hash_table_destroy(ws->per_addr);
	free(ws);
}
