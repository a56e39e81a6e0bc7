/* RFC 6455 for the API socket, as a pure codec: the HTTP/1.1 upgrade
 * (section 4.2: request head, checks, 101 with Sec-WebSocket-Accept) and
 * the frame layer (section 5: masking, fragments, control frames, close
 * codes of section 7.4), plus the frame header a server writes. ws.c feeds
 * it the bytes of a raw libwebsockets socket; libwebsockets 4.1 neither
 * refuses an unmasked client frame (section 5.1 says the server MUST
 * close) nor accepts a Sec-WebSocket-Protocol list over 127 bytes, so the
 * protocol is ours and lws only carries bytes. No socket, no allocation
 * per frame; any thread, one state struct per connection.
 *
 * Invariants: the head is bounded (TND_WS_HEAD_MAX bytes, TND_WS_HEADERS_MAX
 * headers) and parsed once, when its empty line arrives; frame bytes are
 * unmasked in place and handed on without a copy. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <glib.h>

#include "gateway/api/api_int.h"
#include "gateway/api/ws_int.h"
#include "gateway/conf.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"   /* section 1.3 */

/* The parts of a request head the upgrade looks at; pointers into hs->head. */
struct req {
	const char *method, *target, *version;
	const char *host, *key, *ws_version, *origin;
	unsigned n_host, n_key, n_version, n_origin;
	bool upgrade;          /* Upgrade names websocket */
	bool conn_upgrade;     /* Connection names Upgrade */
	bool offers;           /* a Sec-WebSocket-Protocol names ours */
};

int tnd_ws_accept_key(const char *key, char out[TND_WS_ACCEPT_LEN])
{
	GChecksum *sha;
	guint8 digest[20];
	gsize n = sizeof(digest);
	gchar *b64;

	if (!key || !out)
		return EINVAL;
	sha = g_checksum_new(G_CHECKSUM_SHA1);
	if (!sha)
		return EINVAL;
	g_checksum_update(sha, (const guchar *)key, (gssize)strlen(key));
	g_checksum_update(sha, (const guchar *)WS_GUID, (gssize)strlen(WS_GUID));
	g_checksum_get_digest(sha, digest, &n);
	g_checksum_free(sha);
	b64 = g_base64_encode(digest, n);
	snprintf(out, TND_WS_ACCEPT_LEN, "%s", b64);
	g_free(b64);
	return 0;
}

/* Section 4.1: the key is the base64 of 16 bytes, so 24 characters ending
 * in "==" with the alphabet before. */
static bool key_ok(const char *key)
{
	size_t i;

	if (!key || strlen(key) != 24 || strcmp(key + 22, "=="))
		return false;
	for (i = 0; i < 22; i++)
		if (!g_ascii_isalnum(key[i]) && key[i] != '+' && key[i] != '/')
			return false;
	/* the last character carries 2 bits: the other 4 must be zero */
	return strchr("AQgw", key[21]) != NULL;
}

/* A comma-separated header value (Upgrade, Connection) holds tok, any case. */
static bool has_token(const char *list, const char *tok)
{
	return tnd_api_list_has(list, tok, true);
}

/* The next line of a NUL-terminated head, its CR and LF cut off. */
static char *next_line(char **pos)
{
	char *line = *pos, *nl;

	if (!line)
		return NULL;
	nl = strchr(line, '\n');
	if (nl) {
		*nl = '\0';
		*pos = nl + 1;
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
	} else {
		*pos = NULL;
	}
	return line;
}

/* "METHOD SP target SP version", single spaces (RFC 7230 section 3.1.1). */
static bool parse_request_line(char *line, struct req *r)
{
	char *sp1 = strchr(line, ' '), *sp2;

	if (!sp1 || sp1 == line)
		return false;
	*sp1 = '\0';
	sp2 = strchr(sp1 + 1, ' ');
	if (!sp2 || sp2 == sp1 + 1 || strchr(sp2 + 1, ' '))
		return false;
	*sp2 = '\0';
	r->method = line;
	r->target = sp1 + 1;
	r->version = sp2 + 1;
	return strncmp(r->version, "HTTP/", 5) == 0;
}

static void note_header(struct req *r, const char *name, const char *value)
{
	if (!strcasecmp(name, "Host")) {
		r->host = value;
		r->n_host++;
	} else if (!strcasecmp(name, "Upgrade")) {
		r->upgrade |= has_token(value, "websocket");
	} else if (!strcasecmp(name, "Connection")) {
		r->conn_upgrade |= has_token(value, "Upgrade");
	} else if (!strcasecmp(name, "Sec-WebSocket-Key")) {
		r->key = value;
		r->n_key++;
	} else if (!strcasecmp(name, "Sec-WebSocket-Version")) {
		r->ws_version = value;
		r->n_version++;
	} else if (!strcasecmp(name, "Sec-WebSocket-Protocol")) {
		/* section 4.2.1 item 8: several headers make one list */
		r->offers |= tnd_api_ws_offers(value, TND_WS_SUBPROTOCOL);
	} else if (!strcasecmp(name, "Origin")) {
		r->origin = value;
		r->n_origin++;
	}
}

/* "name: value" (RFC 7230 section 3.2): a token, no space before the colon,
 * no obsolete line folding. Returns 0, or the status to refuse with. */
static int parse_headers(struct tnd_ws_hs *hs, char **pos, struct req *r)
{
	unsigned count = 0;
	char *line;

	while ((line = next_line(pos)) && *line) {
		char *colon = strchr(line, ':'), *value, *end;

		if (++count > TND_WS_HEADERS_MAX) {
			hs->why = "more than 64 header fields";
			return 431;
		}
		if (!colon || colon == line || strcspn(line, " \t") < (size_t)(colon - line)) {
			hs->why = "malformed header field";
			return 400;
		}
		*colon = '\0';
		value = colon + 1;
		while (*value == ' ' || *value == '\t')
			value++;
		end = value + strlen(value);
		while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		note_header(r, line, value);
	}
	return 0;
}

static bool path_is(const char *target, const char *path)
{
	size_t n = strcspn(target, "?");

	/* the query is not part of the resource we serve */
	return strlen(path) == n && !strncmp(target, path, n);
}

/* A request that is not a WebSocket upgrade: the load balancer's probes
 * and the Prometheus scrape (docs/operations.md). /healthz says the
 * signalling thread runs (it is this thread answering); /readyz whether a
 * new call would be taken; /metrics is only approved here, ws.c writes it.
 * Each has its own address allow-list. */
static int plain_request(struct tnd_ws_hs *hs, const struct tnd_conf *conf, const struct req *r)
{
	bool healthz = path_is(r->target, "/healthz"), readyz = path_is(r->target, "/readyz");
	bool metrics = path_is(r->target, "/metrics");

	if (strcmp(r->method, "GET") && strcmp(r->method, "HEAD")) {
		hs->why = "only GET and HEAD";
		return 405;
	}
	hs->head_only = !strcmp(r->method, "HEAD");
	if (metrics) {
		if (!tnd_api_ws_addr_allowed(conf->ws_metrics_allow, hs->peer)) {
			hs->why = "address not in [websocket] metrics_allow";
			return 403;
		}
		hs->metrics = true;
		hs->why = "metrics";
		return 200;
	}
	if (!healthz && !readyz) {
		/* the softphone page's files (web.c), served to anyone: they
		 * hold nothing secret and the WebSocket checks Origin itself */
		hs->file = hs->find ? hs->find(r->target) : NULL;
		if (hs->file) {
			hs->why = "ok";
			return 200;
		}
		hs->why = "not found: this port serves the softphone page, a WebSocket, "
			  "/healthz, /readyz and /metrics";
		return 404;
	}
	if (!tnd_api_ws_addr_allowed(conf->ws_health_allow, hs->peer)) {
		hs->why = "address not in [websocket] health_allow";
		return 403;
	}
	hs->health = true;
	if (healthz) {
		hs->why = "ok";
		return 200;
	}
	hs->why = hs->ready ? hs->ready(hs->ready_arg) : "not ready";
	if (hs->why)
		return 503;
	hs->why = "ready";
	return 200;
}

/* Section 4.2.1 and 4.2.2, in the order a client can best act on. */
static int check_upgrade(struct tnd_ws_hs *hs, const struct tnd_conf *conf, const struct req *r)
{
	if (strcmp(r->version, "HTTP/1.1")) {
		hs->why = "HTTP/1.1 required";
		return 400;
	}
	if (r->n_host != 1 || !*r->host) {
		hs->why = "one Host header required";
		return 400;
	}
	if (!r->upgrade)
		return plain_request(hs, conf, r);
	if (strcmp(r->method, "GET")) {
		hs->why = "only GET upgrades to a WebSocket";
		return 405;
	}
	if (!path_is(r->target, conf->ws_path)) {
		hs->why = "no WebSocket at this path";
		return 404;
	}
	if (!r->conn_upgrade) {
		hs->why = "Connection must name Upgrade";
		return 400;
	}
	if (r->n_version != 1 || strcmp(r->ws_version, "13")) {
		hs->why = "Sec-WebSocket-Version is not 13";
		return 426;
	}
	if (r->n_key != 1 || !key_ok(r->key)) {
		hs->why = "Sec-WebSocket-Key must be base64 of 16 bytes";
		return 400;
	}
	if (!r->offers) {
		hs->why = "no subprotocol " TND_WS_SUBPROTOCOL;
		return 400;
	}
	if (r->n_origin > 1 || !tnd_api_ws_origin_ok(conf, r->origin)) {
		hs->why = "Origin not allowed";
		return 403;
	}
	if (tnd_ws_accept_key(r->key, hs->accept)) {
		hs->why = "Sec-WebSocket-Key must be base64 of 16 bytes";
		return 400;
	}
	return 101;
}

static int parse_head(struct tnd_ws_hs *hs, const struct tnd_conf *conf)
{
	struct req r;
	char *pos = hs->head, *line;
	int status;

	memset(&r, 0, sizeof(r));
	if (memchr(hs->head, '\0', hs->len)) {
		hs->why = "NUL byte in the request";
		return 400;
	}
	line = next_line(&pos);
	if (!line || !parse_request_line(line, &r)) {
		hs->why = "malformed request line";
		return 400;
	}
	status = parse_headers(hs, &pos, &r);
	if (status)
		return status;
	return check_upgrade(hs, conf, &r);
}

/* The end of the head: the byte after its empty line (a lone LF is taken
 * as a line end too), or 0. Scans only what is new, from `from`. */
static size_t head_end(const char *h, size_t len, size_t from)
{
	for (size_t i = from >= 2 ? from - 2 : 0; i < len; i++) {
		if (h[i] != '\n')
			continue;
		if (i + 1 < len && h[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && h[i + 1] == '\r' && h[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

int tnd_ws_hs_feed(struct tnd_ws_hs *hs, const struct tnd_conf *conf, const void *in,
		   size_t len, size_t *used)
{
	size_t start, take, end;

	*used = 0;
	if (hs->status)
		return hs->status;
	start = hs->len;
	take = len < TND_WS_HEAD_MAX - start ? len : TND_WS_HEAD_MAX - start;
	memcpy(hs->head + start, in, take);
	hs->len += take;
	end = head_end(hs->head, hs->len, start);
	if (!end) {
		*used = take;
		if (hs->len >= TND_WS_HEAD_MAX) {
			hs->why = "request head larger than 8 KiB";
			hs->status = 431;
		}
		return hs->status;
	}
	*used = end - start;
	hs->len = end;
	hs->head[end] = '\0';
	hs->status = parse_head(hs, conf);
	return hs->status;
}

static const char *reason_phrase(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

size_t tnd_ws_hs_response(const struct tnd_ws_hs *hs, int status, const char *why, char *buf,
			  size_t size)
{
	int n;

	if (status == 101) {
		n = snprintf(buf, size, "HTTP/1.1 101 Switching Protocols\r\n"
			     "Upgrade: websocket\r\nConnection: Upgrade\r\n"
			     "Sec-WebSocket-Accept: %s\r\n"
			     "Sec-WebSocket-Protocol: " TND_WS_SUBPROTOCOL "\r\n\r\n", hs->accept);
	} else {
		bool head = hs && hs->head_only;

		why = why ? why : "refused";
		/* 426 names the version we speak (section 4.4); 405 the method;
		 * a probe's answer must never come from a cache. HEAD gets the
		 * Content-Length a GET would (RFC 7231 section 4.3.2), no body. */
		n = snprintf(buf, size, "HTTP/1.1 %d %s\r\n%s%s"
			     "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
			     "Connection: close\r\n\r\n%s%s", status, reason_phrase(status),
			     status == 426 ? "Sec-WebSocket-Version: 13\r\n" :
			     status == 405 ? "Allow: GET, HEAD\r\n" : "",
			     hs && hs->health ? "Cache-Control: no-store\r\n" : "",
			     strlen(why) + 1, head ? "" : why, head ? "" : "\n");
	}
	return n > 0 && (size_t)n < size ? (size_t)n : 0;
}

bool tnd_ws_close_code_ok(int code)
{
	/* 1004-1006 and 1015 are reserved and never sent; 1012-1014 were
	 * registered with IANA after RFC 6455; 3000-4999 are for libraries
	 * and applications */
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

size_t tnd_ws_frame_head(uint8_t out[TND_WS_FRAME_HEAD_MAX], enum tnd_ws_op op, size_t len)
{
	out[0] = (uint8_t)(0x80 | op);
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

/* ------------------------------------------------------------ frames */

static size_t header_need(const struct tnd_ws_rx *rx)
{
	unsigned n = rx->hdr[1] & 0x7f;

	if (rx->hlen < 2)
		return 2;
	/* the mask key is always there: an unmasked frame failed already */
	return 2 + (n == 126 ? 2 : n == 127 ? 8 : 0) + 4;
}

/* Section 5.2 rules that the first two bytes decide. 0 or 1002. */
static int check_start(struct tnd_ws_rx *rx)
{
	uint8_t b0 = rx->hdr[0], b1 = rx->hdr[1];
	uint8_t op = b0 & 0x0f;

	if (b0 & 0x70)
		return 1002;   /* RSV bits: we negotiated no extension */
	if (!(b1 & 0x80))
		return 1002;   /* section 5.1: a client MUST mask every frame */
	switch (op) {
	case TND_WS_OP_CONT:
		return rx->msg_open ? 0 : 1002;
	case TND_WS_OP_TEXT:
	case TND_WS_OP_BINARY:
		return rx->msg_open ? 1002 : 0;   /* section 5.4: no interleaving */
	case TND_WS_OP_CLOSE:
	case TND_WS_OP_PING:
	case TND_WS_OP_PONG:
		/* section 5.5: control frames are whole and short */
		return (b0 & 0x80) && (b1 & 0x7f) <= 125 ? 0 : 1002;
	default:
		return 1002;
	}
}

/* The header is complete: set up its payload. 0 or 1002. */
static int start_payload(struct tnd_ws_rx *rx)
{
	unsigned n = rx->hdr[1] & 0x7f, k = 2;
	uint64_t len = n;

	if (n == 126) {
		len = (uint64_t)rx->hdr[2] << 8 | rx->hdr[3];
		k = 4;
	} else if (n == 127) {
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | rx->hdr[2 + i];
		if (len >> 63)
			return 1002;   /* section 5.2: the top bit MUST be 0 */
		k = 10;
	}
	memcpy(rx->key, rx->hdr + k, 4);
	rx->op = rx->hdr[0] & 0x0f;
	rx->fin = rx->hdr[0] & 0x80;
	rx->left = len;
	rx->off = 0;
	rx->ctl_len = 0;
	rx->in_payload = true;
	if (rx->op == TND_WS_OP_TEXT || rx->op == TND_WS_OP_BINARY) {
		rx->msg_open = true;
		rx->msg_binary = rx->op == TND_WS_OP_BINARY;
		rx->first_piece = true;
	}
	return 0;
}

/* A close frame (section 5.5.1, 7.4): no body, or a valid code and a
 * UTF-8 reason. 0, 1002 or 1007. */
static int on_close(struct tnd_ws_rx *rx, const struct tnd_ws_rx_h *h, void *arg)
{
	int code = 0;

	if (rx->ctl_len == 1)
		return 1002;
	if (rx->ctl_len >= 2) {
		code = rx->ctl[0] << 8 | rx->ctl[1];
		if (!tnd_ws_close_code_ok(code))
			return 1002;
		if (!g_utf8_validate((const char *)rx->ctl + 2, (gssize)rx->ctl_len - 2, NULL))
			return 1007;
	}
	rx->closed = true;
	h->close(arg, code, (const char *)rx->ctl + (code ? 2 : 0),
		 rx->ctl_len - (code ? 2 : 0));
	return 0;
}

static int end_frame(struct tnd_ws_rx *rx, const struct tnd_ws_rx_h *h, void *arg)
{
	rx->in_payload = false;
	rx->hlen = 0;
	switch (rx->op) {
	case TND_WS_OP_CLOSE:
		return on_close(rx, h, arg);
	case TND_WS_OP_PING:
		h->ping(arg, rx->ctl, rx->ctl_len);
		return 0;
	case TND_WS_OP_PONG:
		return 0;   /* we send no pings of our own to match it with */
	default:
		if (rx->fin)
			rx->msg_open = false;
		return 0;
	}
}

/* Unmasks and hands on up to `len` bytes of the current payload; returns
 * how many it took. */
static size_t take_payload(struct tnd_ws_rx *rx, uint8_t *p, size_t len,
			   const struct tnd_ws_rx_h *h, void *arg)
{
	size_t n = len < rx->left ? len : (size_t)rx->left;

	for (size_t i = 0; i < n; i++)
		p[i] ^= rx->key[(rx->off + i) & 3];
	rx->off += n;
	rx->left -= n;
	if (rx->op & 0x8) {
		memcpy(rx->ctl + rx->ctl_len, p, n);   /* at most 125 bytes: checked */
		rx->ctl_len += n;
	} else {
		h->data(arg, rx->first_piece, rx->fin && !rx->left, rx->msg_binary, p, n);
		rx->first_piece = false;
	}
	return n;
}

static int fail(struct tnd_ws_rx *rx, int code)
{
	rx->closed = true;
	return code;
}

int tnd_ws_rx_feed(struct tnd_ws_rx *rx, void *in, size_t len, const struct tnd_ws_rx_h *h,
		   void *arg)
{
	uint8_t *p = in;
	int err;

	while (!rx->closed && (len || (rx->in_payload && !rx->left))) {
		if (rx->in_payload) {
			size_t n = rx->left ? take_payload(rx, p, len, h, arg) : 0;

			p += n;
			len -= n;
			if (!rx->left && (err = end_frame(rx, h, arg)))
				return fail(rx, err);
			continue;
		}
		rx->hdr[rx->hlen++] = *p++;
		len--;
		if (rx->hlen == 2 && (err = check_start(rx)))
			return fail(rx, err);
		if (rx->hlen < 2 || rx->hlen < header_need(rx))
			continue;
		if ((err = start_payload(rx)))
			return fail(rx, err);
		if (!rx->left && !(rx->op & 0x8))
			/* an empty data frame still starts or ends a message */
			take_payload(rx, p, 0, h, arg);
	}
	return 0;
}
