/* WebSocket transport for the API: libwebsockets on the signalling thread's
 * GLib main loop (LWS_SERVER_OPTION_GLIB with our GMainLoop as the foreign
 * loop) listens, accepts, does TLS for wss and buffers writes; every
 * accepted socket is adopted as a raw socket (listen_accept_role
 * "raw-skt"), and the HTTP/1.1 upgrade and RFC 6455 framing are ours
 * (wsproto.c): lws 4.1 accepts unmasked client frames (section 5.1 says
 * the server MUST close) and hangs up on a Sec-WebSocket-Protocol list over
 * 127 bytes. Here we add the contract's rules on top: 64 KiB per message
 * (fragments included, ws_rules.c), one write per writeable callback, and a
 * cap on unsent data for clients that stop reading.
 *
 * Handshakes are guarded before any of that: a connection not yet upgraded
 * is "pending", one address may hold [websocket] max_handshakes_per_address
 * of them and each gets handshake_timeout seconds (a slowloris from one
 * address once held every descriptor). Each refusal is answered with an
 * HTTP status, counted in stats and logged through the rate limiter. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <libwebsockets.h>

#include "gateway/api/api_int.h"
#include "gateway/api/web_int.h"
#include "gateway/api/ws_int.h"
#include "gateway/base/log.h"
#include "gateway/base/stats.h"
#include "gateway/base/loop.h"
#include "gateway/conf.h"

/* Seconds to wait for the peer's answer to our close frame (section 7.1.1:
 * the server closes the TCP connection first, once the close is done). */
#define CLOSE_WAIT_SECS 5

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

/* Bytes waiting to be written: a frame header and its payload, or an HTTP
 * response. */
struct out_msg {
	size_t len;                    /* bytes from buf + off */
	size_t off;                    /* >= LWS_PRE: lws_write's headroom */
	unsigned char buf[];
};

/* lws per-session data: lives exactly as long as the wsi. */
struct ws_peer {
	struct lws *wsi;               /* borrowed */
	struct tnd_api_ws *ws;         /* borrowed */
	struct tnd_ws_hs *hs;          /* owned while the handshake runs */
	struct tnd_api_conn *conn;     /* ref until LWS_CALLBACK_RAW_CLOSE */
	GQueue out;                    /* owned out_msg */
	size_t out_bytes;
	struct tnd_ws_rx rx;           /* frame parser */
	struct tnd_api_wsrx msg;       /* owned: message being reassembled */
	int close_code;                /* 0, or close once out is flushed */
	char close_reason[64];
	bool close_sent;               /* our close frame is written */
	bool peer_closed;              /* the client's close frame came */
	bool end_after_flush;          /* hang up once out is written */
};

static void want_write(struct ws_peer *p)
{
	lws_callback_on_writable(p->wsi);
}

/* Queues hlen bytes of hdr then len of data as one write. */
static int queue_out(struct ws_peer *p, const void *hdr, size_t hlen, const void *data,
		     size_t len)
{
	struct out_msg *m = malloc(sizeof(*m) + LWS_PRE + hlen + len);

	if (!m)
		return ENOMEM;
	m->off = LWS_PRE;
	m->len = hlen + len;
	memcpy(m->buf + LWS_PRE, hdr, hlen);
	if (len)
		memcpy(m->buf + LWS_PRE + hlen, data, len);
	g_queue_push_tail(&p->out, m);
	p->out_bytes += m->len;
	want_write(p);
	return 0;
}

static void queue_frame(struct ws_peer *p, enum tnd_ws_op op, const void *data, size_t len)
{
	uint8_t hdr[TND_WS_FRAME_HEAD_MAX];

	(void)queue_out(p, hdr, tnd_ws_frame_head(hdr, op, len), data, len);
}

static void peer_drop_queue(struct ws_peer *p)
{
	struct out_msg *m;

	while ((m = g_queue_pop_head(&p->out)))
		free(m);
	p->out_bytes = 0;
}

static void peer_send(void *arg, const char *text, size_t len)
{
	struct ws_peer *p = arg;
	const struct tnd_conf *conf = p->ws->api->conf;

	if (p->close_code)
		return;
	if (p->out_bytes + len > (size_t)conf->ws_max_pending_kib * 1024) {
		/* a client that does not read would grow our memory forever;
		 * what it has not read it never will: drop it, and give the
		 * close frame a bounded time to leave */
		TND_LOG_NOTICE(TND_LOG_API, "closing %s: %zu bytes unread",
			       p->conn->peer, p->out_bytes);
		peer_drop_queue(p);
		p->close_code = 1008;
		snprintf(p->close_reason, sizeof(p->close_reason), "not reading");
		lws_set_timeout(p->wsi, PENDING_TIMEOUT_CLOSE_SEND, CLOSE_WAIT_SECS);
		want_write(p);
		return;
	}
	queue_frame(p, TND_WS_OP_TEXT, text, len);
}

static void peer_close(void *arg, int code, const char *reason)
{
	struct ws_peer *p = arg;

	if (p->close_code)
		return;
	p->close_code = code;
	snprintf(p->close_reason, sizeof(p->close_reason), "%s", reason);
	want_write(p);
}

static const struct tnd_api_transport ws_transport = { peer_send, peer_close };

/* Counts a refused handshake; the log line goes through the rate limiter,
 * since a flood produces one per connection. */
static void refuse(struct tnd_api_ws *ws, struct lws *wsi, const char *why)
{
	char peer[64];

	ws->api->stats.ws_refused++;
	tnd_stats_inc(tnd_stats_slab(0), TND_ST_WS_REFUSED);
	if (!lws_get_peer_simple(wsi, peer, sizeof(peer)))
		snprintf(peer, sizeof(peer), "?");
	TND_LOG_RL(TND_LOG_API, NOTICE, "refused a WebSocket from %s: %s", peer, why);
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
	tnd_stats_inc(tnd_stats_slab(0), TND_ST_WS_REFUSED);
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

static void deliver(void *arg, enum tnd_api_frame kind, const char *data, size_t len)
{
	struct ws_peer *p = arg;

	if (p->conn)
		tnd_api_conn_frame(p->conn, kind, data, len);
}

static void rx_data(void *arg, bool first, bool last, bool binary, const void *data, size_t len)
{
	struct ws_peer *p = arg;

	tnd_api_wsrx_feed(&p->msg, first, last, binary, data, len, deliver, p);
}

static void rx_ping(void *arg, const void *data, size_t len)
{
	struct ws_peer *p = arg;

	/* section 5.5.2: a pong with the same payload, unless we are closing */
	if (!p->close_code)
		queue_frame(p, TND_WS_OP_PONG, data, len);
}

static void rx_close(void *arg, int code, const char *reason, size_t len)
{
	struct ws_peer *p = arg;

	(void)reason;
	(void)len;
	p->peer_closed = true;
	if (p->close_sent)
		return;
	/* section 5.5.1: echo the code (1005 stands for "none": an empty
	 * close) unless our own close is already queued, then end the TCP
	 * connection once it is written */
	if (!p->close_code) {
		p->close_code = code ? code : 1005;
		p->close_reason[0] = '\0';
	}
	p->end_after_flush = true;
	want_write(p);
}

static const struct tnd_ws_rx_h rx_handlers = { rx_data, rx_ping, rx_close };

/* Frame bytes of an open connection. -1 ends it. */
static int frames_rx(struct ws_peer *p, void *in, size_t len)
{
	int err = tnd_ws_rx_feed(&p->rx, in, len, &rx_handlers, p);

	if (err) {
		/* section 7.1.7, fail the connection: a close with the code,
		 * then the TCP connection ends; queued answers are dropped */
		TND_LOG_RL(TND_LOG_API, NOTICE, "closing %s: WebSocket protocol error (%d)",
			   p->conn ? p->conn->peer : "?", err);
		p->ws->api->stats.protocol_errors++;
		peer_drop_queue(p);
		p->close_code = err;
		snprintf(p->close_reason, sizeof(p->close_reason), "%s",
			 err == 1007 ? "close reason is not UTF-8" : "protocol error");
		p->end_after_flush = true;
		want_write(p);
		return 0;
	}
	/* our close was answered: the closing handshake is done */
	return p->peer_closed && p->close_sent ? -1 : 0;
}

static void answer_http(struct ws_peer *p, int status, const char *why)
{
	char buf[TND_WS_RESPONSE_MAX];
	size_t n = tnd_ws_hs_response(p->hs, status, why, buf, sizeof(buf));

	if (n)
		(void)queue_out(p, buf, n, NULL, 0);
	p->end_after_flush = true;
	want_write(p);
}

/* A file of the softphone page (web.c): headers, then the body unless
 * HEAD; the connection ends once both are written. */
static void answer_file(struct ws_peer *p)
{
	const struct tnd_web_file *f = p->hs->file;
	char buf[TND_WEB_HEAD_MAX];
	size_t n = tnd_web_head(f, buf, sizeof(buf));

	if (n)
		(void)queue_out(p, buf, n, f->data, p->hs->head_only ? 0 : f->len);
	p->end_after_flush = true;
	want_write(p);
}

/* GET /metrics, allowed: the whole answer queued at once, then the end. */
static void answer_metrics(struct ws_peer *p)
{
	GString *r = tnd_api_metrics_response(p->ws->api, p->hs->head_only);

	(void)queue_out(p, r->str, r->len, NULL, 0);
	g_string_free(r, TRUE);
	p->end_after_flush = true;
	want_write(p);
}

static const void *find_file(const char *target)
{
	return tnd_web_find(target);
}

static void refuse_http(struct ws_peer *p, int status, const char *why)
{
	refuse(p->ws, p->wsi, why);
	answer_http(p, status, why);
}

/* Handshake bytes; after a 101 the rest of `in` is frame bytes. -1 ends
 * the connection. */
static int handshake_rx(struct ws_peer *p, unsigned char *in, size_t len)
{
	struct tnd_api_ws *ws = p->ws;
	const struct tnd_conf *conf = ws->api->conf;
	char buf[TND_WS_RESPONSE_MAX], peer[64];
	size_t used, n;
	int status = tnd_ws_hs_feed(p->hs, conf, in, len, &used);

	if (!status)
		return 0;
	if (p->hs->metrics && status == 200)
		answer_metrics(p);
	else if (p->hs->file)
		answer_file(p);
	else if (p->hs->health)
		answer_http(p, status, p->hs->why);   /* a probe, not a refusal */
	else if (status != 101)
		refuse_http(p, status, p->hs->why);
	else if (ws->api->shutting_down)
		refuse_http(p, 503, "shutting down");
	else if (ws->api->stats.connections >= (unsigned long)conf->ws_max_connections)
		refuse_http(p, 503, "connection limit");
	if (status != 101 || p->end_after_flush) {
		free(p->hs);
		p->hs = NULL;
		return 0;
	}
	n = tnd_ws_hs_response(p->hs, 101, NULL, buf, sizeof(buf));
	free(p->hs);
	p->hs = NULL;
	pending_del(ws, p->wsi);
	if (!lws_get_peer_simple(p->wsi, peer, sizeof(peer)))
		snprintf(peer, sizeof(peer), "?");
	if (!n || queue_out(p, buf, n, NULL, 0) ||
	    tnd_api_conn_alloc(&p->conn, ws->api, peer, &ws_transport, p))
		return -1;
	tnd_stats_inc(tnd_stats_slab(0), TND_ST_WS_ACCEPTED);
	TND_LOG_DEBUG(TND_LOG_API, "WebSocket from %s", peer);
	return frames_rx(p, in + used, len - used);
}

static int peer_write_close(struct ws_peer *p)
{
	unsigned char buf[LWS_PRE + TND_WS_FRAME_HEAD_MAX + 125], body[125];
	size_t blen = 0, hlen;

	if (p->close_code != 1005) {
		size_t r = strnlen(p->close_reason, sizeof(body) - 2);

		body[0] = (uint8_t)(p->close_code >> 8);
		body[1] = (uint8_t)p->close_code;
		memcpy(body + 2, p->close_reason, r);
		blen = 2 + r;
	}
	hlen = tnd_ws_frame_head(buf + LWS_PRE, TND_WS_OP_CLOSE, blen);
	memcpy(buf + LWS_PRE + hlen, body, blen);
	p->close_sent = true;
	if (lws_write(p->wsi, buf + LWS_PRE, hlen + blen, LWS_WRITE_RAW) < 0)
		return -1;
	if (p->end_after_flush || p->peer_closed) {
		p->end_after_flush = true;
		want_write(p);   /* comes once the close frame has left */
	} else {
		lws_set_timeout(p->wsi, PENDING_TIMEOUT_CLOSE_ACK, CLOSE_WAIT_SECS);
	}
	return 0;
}

static int peer_writeable(struct ws_peer *p)
{
	struct out_msg *m = g_queue_pop_head(&p->out);

	if (m) {
		int n = lws_write(p->wsi, m->buf + m->off, m->len, LWS_WRITE_RAW);

		p->out_bytes -= m->len;
		free(m);
		if (n < 0)
			return -1;
		if (!g_queue_is_empty(&p->out) || p->close_code || p->end_after_flush)
			want_write(p);
		return 0;
	}
	if (p->close_code && !p->close_sent)
		return peer_write_close(p);
	return p->end_after_flush ? -1 : 0;
}

/* GET /readyz: what the gateway says, and our own shutdown first. */
static const char *ws_ready(void *arg)
{
	struct tnd_api *api = arg;

	if (api->shutting_down)
		return "shutting down";
	return api->ready ? api->ready(api->ready_arg) : NULL;
}

static void peer_open(struct tnd_api_ws *ws, struct ws_peer *p, struct lws *wsi)
{
	memset(p, 0, sizeof(*p));
	p->wsi = wsi;
	p->ws = ws;
	g_queue_init(&p->out);
	p->hs = calloc(1, sizeof(*p->hs));
	pending_add(ws, wsi);
	if (!p->hs) {
		hang_up(wsi);
		return;
	}
	/* a numeric address: health_allow matches IP literals only */
	if (!lws_get_peer_simple(wsi, p->hs->peer, sizeof(p->hs->peer)))
		p->hs->peer[0] = '\0';
	p->hs->ready = ws_ready;
	p->hs->ready_arg = ws->api;
	p->hs->find = find_file;
}

/* Idempotent: lws may report the end twice (RAW_CLOSE, WSI_DESTROY). */
static void peer_gone(struct tnd_api_ws *ws, struct ws_peer *p, struct lws *wsi)
{
	pending_del(ws, wsi);
	if (!p || !p->ws)
		return;
	free(p->hs);
	p->hs = NULL;
	if (p->conn) {
		TND_LOG_DEBUG(TND_LOG_API, "WebSocket from %s closed", p->conn->peer);
		tnd_api_conn_detach(p->conn);
		p->conn = NULL;
	}
	peer_drop_queue(p);
	tnd_api_wsrx_reset(&p->msg);
	p->ws = NULL;
}

static int ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	struct tnd_api_ws *ws = lws_context_user(lws_get_context(wsi));
	struct ws_peer *p = user;

	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
		return user ? filter_accept(ws, user) : 0;
	case LWS_CALLBACK_RAW_ADOPT:
		if (!p)
			return -1;
		peer_open(ws, p, wsi);
		return 0;
	case LWS_CALLBACK_RAW_RX:
		if (!p || !p->ws || p->end_after_flush)
			return 0;   /* refused or failing: the rest is not read */
		if (p->hs)
			return handshake_rx(p, in, len);
		return frames_rx(p, in, len);
	case LWS_CALLBACK_RAW_WRITEABLE:
		return p && p->ws ? peer_writeable(p) : -1;
	case LWS_CALLBACK_RAW_CLOSE:
	case LWS_CALLBACK_WSI_DESTROY:
		peer_gone(ws, p, wsi);
		return 0;
	default:
		return 0;
	}
}
static const struct lws_protocols protocols[] = {
	{ TND_WS_SUBPROTOCOL, ws_callback, sizeof(struct ws_peer), 0, 0, NULL, 0 },
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

/* The one line a newcomer needs (README): where the page is. A wildcard
 * listen is reachable on loopback; IPv6 needs brackets. */
static void log_page_url(const struct tnd_conf *conf)
{
	const char *host = conf->ws_listen;
	bool v6 = strchr(host, ':') != NULL;

	if (!strcmp(host, "0.0.0.0"))
		host = "127.0.0.1";
	else if (!strcmp(host, "::"))
		host = "::1";
	TND_LOG_NOTICE(TND_LOG_API, "softphone page: open %s://%s%s%s:%d/ in a browser",
		       *conf->ws_cert ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "",
		       conf->ws_port);
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
	info.options = LWS_SERVER_OPTION_GLIB | LWS_SERVER_OPTION_DISABLE_IPV6 |
		       LWS_SERVER_OPTION_ADOPT_APPLY_LISTEN_ACCEPT_CONFIG;
	/* every accepted socket is ours from its first byte (wsproto.c) */
	info.listen_accept_role = "raw-skt";
	info.listen_accept_protocol = TND_WS_SUBPROTOCOL;
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
	TND_LOG_NOTICE(TND_LOG_API, "WebSocket on %s://%s:%d%s, subprotocol " TND_WS_SUBPROTOCOL,
		       *conf->ws_cert ? "wss" : "ws", conf->ws_listen, conf->ws_port,
		       conf->ws_path);
	log_page_url(conf);
	*wsp = ws;
	return 0;
}

void tnd_api_ws_stop_listening(struct tnd_api_ws *ws)
{
	/* new handshakes are answered 503 once the API is shutting down */
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
