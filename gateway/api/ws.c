/* WebSocket transport for the API: libwebsockets on the signalling thread's
 * GLib main loop (LWS_SERVER_OPTION_GLIB with our GMainLoop as the foreign
 * loop). RFC 6455 framing is libwebsockets'; here we enforce the contract's
 * rules that sit on top: path, subprotocol tandem.v1, 64 KiB per message
 * (fragments included), text frames, one write per writeable callback, and a
 * cap on unsent data for clients that stop reading. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "gateway/api/api_int.h"
#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/conf.h"

#define SUBPROTOCOL "tandem.v1"

struct tnd_api_ws {
	struct tnd_api *api;           /* borrowed: our owner */
	struct lws_context *ctx;       /* owned */
	void *foreign_loops[1];
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
	unsigned char *rx;             /* owned: message being reassembled */
	size_t rx_len, rx_cap;
	bool rx_too_big, rx_binary;
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
	char buf[256];
	char **list;
	bool found = false;

	if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_PROTOCOL) <= 0)
		return false;
	list = g_strsplit(buf, ",", 0);
	for (char **s = list; *s; s++)
		if (!strcmp(g_strstrip(*s), SUBPROTOCOL))
			found = true;
	g_strfreev(list);
	return found;
}

static int filter(struct tnd_api_ws *ws, struct lws *wsi)
{
	const struct tnd_conf *conf = ws->api->conf;
	char uri[256];

	if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 ||
	    strcmp(uri, conf->ws_path)) {
		TND_LOG_INFO(TND_LOG_API, "refused a WebSocket on path %s", uri);
		return -1;
	}
	if (!offers_subprotocol(wsi)) {
		TND_LOG_INFO(TND_LOG_API, "refused a WebSocket without subprotocol " SUBPROTOCOL);
		return -1;
	}
	if (ws->api->shutting_down ||
	    ws->api->stats.connections >= (unsigned long)conf->ws_max_connections) {
		TND_LOG_NOTICE(TND_LOG_API, "refused a WebSocket: %s",
			       ws->api->shutting_down ? "shutting down" : "connection limit");
		return -1;
	}
	return 0;
}

static void peer_drop_queue(struct ws_peer *p)
{
	struct out_msg *m;

	while ((m = g_queue_pop_head(&p->out)))
		free(m);
	p->out_bytes = 0;
	free(p->rx);
	p->rx = NULL;
	p->rx_len = p->rx_cap = 0;
}

/* Reassembles one message from lws' pieces; hands it over when complete. */
static void peer_receive(struct ws_peer *p, const void *in, size_t len)
{
	bool first = lws_is_first_fragment(p->wsi);
	bool last = lws_is_final_fragment(p->wsi) && !lws_remaining_packet_payload(p->wsi);

	if (first && !p->rx_len && !p->rx_too_big)
		p->rx_binary = lws_frame_is_binary(p->wsi);
	if (first && last && !p->rx_len && !p->rx_too_big) {
		/* the usual case, a whole small message: no copy */
		tnd_api_conn_frame(p->conn, p->rx_binary ? TND_API_FRAME_BINARY :
				   len > TND_API_MAX_FRAME ? TND_API_FRAME_TOO_BIG :
				   TND_API_FRAME_TEXT, in, len);
		return;
	}
	if (!p->rx_too_big) {
		if (p->rx_len + len > TND_API_MAX_FRAME) {
			p->rx_too_big = true;
		} else {
			if (p->rx_len + len > p->rx_cap) {
				size_t cap = p->rx_cap ? p->rx_cap * 2 : 4096;
				unsigned char *n;

				while (cap < p->rx_len + len)
					cap *= 2;
				n = realloc(p->rx, cap);
				if (!n) {
					p->rx_too_big = true;
					goto check_last;
				}
				p->rx = n;
				p->rx_cap = cap;
			}
			memcpy(p->rx + p->rx_len, in, len);
			p->rx_len += len;
		}
	}
 check_last:
	if (!last)
		return;
	tnd_api_conn_frame(p->conn, p->rx_too_big ? TND_API_FRAME_TOO_BIG :
			   p->rx_binary ? TND_API_FRAME_BINARY : TND_API_FRAME_TEXT,
			   (const char *)p->rx, p->rx_len);
	p->rx_len = 0;
	p->rx_too_big = false;
	/* keep a small buffer for the next message; give back large ones */
	if (p->rx_cap > 16384) {
		free(p->rx);
		p->rx = NULL;
		p->rx_cap = 0;
	}
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
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return filter(ws, wsi);
	case LWS_CALLBACK_ESTABLISHED:
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
	if (level & LLL_ERR)
		TND_LOG_ERR(TND_LOG_LIB, "%s", msg);
	else if (level & LLL_WARN)
		TND_LOG_WARN(TND_LOG_LIB, "%s", msg);
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
		free(ws);
		return EADDRINUSE;
	}
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
	lws_context_destroy(ws->ctx);
	free(ws);
}
