/* media-bench: the browsers' WebSocket to the gateway, RFC 6455 from the
 * client side, carrying JSON-RPC 2.0 (docs/protocol.md). One connection for
 * every call, as one signalling client serving many browsers would have.
 *
 * Written here rather than with libwebsockets so the driver shares no code
 * with the server it measures (as ws_ping_bench.c); SHA-1, base64 and the
 * masking keys come from OpenSSL, which the driver links anyway for DTLS.
 * The handshake is done blocking before the main loop runs; afterwards reads
 * are non-blocking from a GLib source and writes block, which is harmless:
 * the gateway reads everything we send, and what we send is small. Main
 * thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib-unix.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "tests/bench/media_bench.h"

#define SUBPROTOCOL "tandem.v1"
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"   /* RFC 6455 section 1.3 */
#define IN_MAX (4u << 20)    /* one message: answers are a few KiB */

struct tnd_mb_ws {
	int fd;
	guint src;
	tnd_mb_ws_msg_h *msgh;
	tnd_mb_ws_gone_h *goneh;
	void *arg;
	uint8_t *in;                 /* owned: bytes read, not yet framed */
	size_t in_len, in_cap;
	uint8_t *msg;                /* owned: a fragmented message being joined */
	size_t msg_len, msg_cap;
	bool dead;
};

static int write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Grows *buf to hold need bytes; 0 or ENOMEM/EMSGSIZE. */
static int reserve(uint8_t **buf, size_t *cap, size_t need)
{
	uint8_t *p;
	size_t c = *cap ? *cap : 65536;

	if (need > IN_MAX + 16)
		return EMSGSIZE;
	while (c < need)
		c *= 2;
	if (c == *cap)
		return 0;
	p = realloc(*buf, c);
	if (!p)
		return ENOMEM;
	*buf = p;
	*cap = c;
	return 0;
}

static void gone(struct tnd_mb_ws *ws, const char *why)
{
	if (ws->dead)
		return;
	ws->dead = true;
	if (ws->src)
		g_source_remove(ws->src);
	ws->src = 0;
	ws->goneh(ws->arg, why);
}

/* Sends one masked frame (RFC 6455 section 5.2, 5.3). */
static int send_frame(struct tnd_mb_ws *ws, int opcode, const uint8_t *data, size_t len)
{
	uint8_t hdr[14], *frame;
	uint8_t mask[4];
	size_t h = 2;
	int err;

	if (RAND_bytes(mask, sizeof(mask)) != 1)
		return EIO;
	hdr[0] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		hdr[1] = (uint8_t)(0x80 | len);
	} else if (len <= 0xffff) {
		hdr[1] = 0x80 | 126;
		hdr[2] = (uint8_t)(len >> 8);
		hdr[3] = (uint8_t)len;
		h = 4;
	} else {
		hdr[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			hdr[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
		h = 10;
	}
	memcpy(hdr + h, mask, 4);
	h += 4;
	frame = malloc(h + len);
	if (!frame)
		return ENOMEM;
	memcpy(frame, hdr, h);
	for (size_t i = 0; i < len; i++)
		frame[h + i] = data[i] ^ mask[i % 4];
	err = write_all(ws->fd, frame, h + len);
	free(frame);
	return err;
}

int tnd_mb_ws_request(struct tnd_mb_ws *ws, json_int_t id, const char *method, json_t *params)
{
	json_t *req;
	char *text;
	int err;

	if (!ws || ws->dead || !method) {
		json_decref(params);
		return ENOTCONN;
	}
	req = json_pack("{s:s, s:I, s:s}", "jsonrpc", "2.0", "id", id, "method", method);
	if (req && params)
		json_object_set_new(req, "params", params);
	else
		json_decref(params);
	text = req ? json_dumps(req, JSON_COMPACT) : NULL;
	json_decref(req);
	if (!text)
		return ENOMEM;
	err = send_frame(ws, 1, (const uint8_t *)text, strlen(text));
	free(text);
	return err;
}

static void deliver(struct tnd_mb_ws *ws, const uint8_t *text, size_t len)
{
	json_error_t jerr;
	json_t *msg = json_loadb((const char *)text, len, 0, &jerr);

	if (!msg) {
		fprintf(stderr, "media-bench: unreadable JSON from the gateway: %s\n", jerr.text);
		return;
	}
	ws->msgh(ws->arg, msg);
	json_decref(msg);
}

/* One whole frame at p; its size, or 0 when not all here yet (or the
 * connection failed: ws->dead). */
static size_t frame(struct tnd_mb_ws *ws, const uint8_t *p, size_t avail)
{
	size_t hdr = 2;
	uint64_t len;
	int opcode;
	bool fin;

	if (avail < 2)
		return 0;
	fin = p[0] & 0x80;
	opcode = p[0] & 0x0f;
	len = p[1] & 0x7f;
	if (p[1] & 0x80) {
		gone(ws, "server frame masked (RFC 6455 section 5.1)");
		return 0;
	}
	if (len >= 126) {
		hdr += len == 126 ? 2 : 8;
		if (avail < hdr)
			return 0;
		len = 0;
		for (size_t i = 2; i < hdr; i++)
			len = len << 8 | p[i];
	}
	if (len > IN_MAX) {
		gone(ws, "message larger than the bench takes");
		return 0;
	}
	if (avail < hdr + len)
		return 0;
	p += hdr;
	if (opcode == 1 || opcode == 0) {
		if (opcode == 1)
			ws->msg_len = 0;
		if (fin && opcode == 1) {
			deliver(ws, p, (size_t)len);
		} else if (reserve(&ws->msg, &ws->msg_cap, ws->msg_len + len)) {
			gone(ws, "out of memory");
			return 0;
		} else {
			memcpy(ws->msg + ws->msg_len, p, (size_t)len);
			ws->msg_len += (size_t)len;
			if (fin)
				deliver(ws, ws->msg, ws->msg_len);
		}
	} else if (opcode == 9) {
		if (send_frame(ws, 10, p, (size_t)len))
			gone(ws, "cannot answer a ping");
	} else if (opcode == 8) {
		char why[64];

		snprintf(why, sizeof(why), "closed by the gateway with code %d",
			 len >= 2 ? p[0] << 8 | p[1] : 1005);
		gone(ws, why);
		return 0;
	}
	return hdr + (size_t)len;
}

static gboolean on_readable(gint fd, GIOCondition cond, gpointer data)
{
	struct tnd_mb_ws *ws = data;
	size_t off = 0, used;

	(void)cond;
	for (;;) {
		ssize_t n;

		if (reserve(&ws->in, &ws->in_cap, ws->in_len + 65536)) {
			ws->src = 0;
			gone(ws, "input buffer full");
			return G_SOURCE_REMOVE;
		}
		n = recv(fd, ws->in + ws->in_len, ws->in_cap - ws->in_len, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			ws->src = 0;
			gone(ws, n ? g_strerror(errno) : "closed by the gateway");
			return G_SOURCE_REMOVE;
		}
		ws->in_len += (size_t)n;
	}
	while (!ws->dead && (used = frame(ws, ws->in + off, ws->in_len - off)))
		off += used;
	if (ws->dead) {
		ws->src = 0;
		return G_SOURCE_REMOVE;
	}
	memmove(ws->in, ws->in + off, ws->in_len - off);
	ws->in_len -= off;
	return G_SOURCE_CONTINUE;
}

/* Value of header `name` in a NUL-terminated response head, or false. */
static bool header(const char *head, const char *name, char *val, size_t cap)
{
	size_t nl = strlen(name);

	for (const char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
		const char *v = l + 2, *e;

		if (strncasecmp(v, name, nl) || v[nl] != ':')
			continue;
		for (v += nl + 1; *v == ' ' || *v == '\t'; v++)
			;
		e = strstr(v, "\r\n");
		if (!e)
			return false;
		snprintf(val, cap, "%.*s", (int)(e - v), v);
		return true;
	}
	return false;
}

/* RFC 6455 section 4.1: the opening handshake and the client's checks. */
static int handshake(struct tnd_mb_ws *ws, int port)
{
	unsigned char key[16], digest[SHA_DIGEST_LENGTH];
	char b64[32], accept[40], both[64], req[512], head[4096], val[128];
	size_t len = 0;
	int n, err;

	if (RAND_bytes(key, sizeof(key)) != 1)
		return EIO;
	EVP_EncodeBlock((unsigned char *)b64, key, sizeof(key));
	n = snprintf(both, sizeof(both), "%s%s", b64, WS_GUID);
	SHA1((const unsigned char *)both, (size_t)n, digest);
	EVP_EncodeBlock((unsigned char *)accept, digest, sizeof(digest));
	n = snprintf(req, sizeof(req),
		     "GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
		     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
		     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: " SUBPROTOCOL
		     "\r\n\r\n", port, b64);
	err = write_all(ws->fd, req, (size_t)n);
	if (err)
		return err;
	/* byte by byte: nothing after the head may be swallowed */
	while (len < sizeof(head) - 1 && (len < 4 || memcmp(head + len - 4, "\r\n\r\n", 4))) {
		ssize_t r = recv(ws->fd, head + len, 1, 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r ? errno : ECONNRESET;
		len++;
	}
	head[len] = '\0';
	if (strncmp(head, "HTTP/1.1 101 ", 13) ||
	    !header(head, "Sec-WebSocket-Accept", val, sizeof(val)) || strcmp(val, accept) ||
	    !header(head, "Sec-WebSocket-Protocol", val, sizeof(val)) ||
	    strcmp(val, SUBPROTOCOL)) {
		fprintf(stderr, "media-bench: WebSocket handshake refused: %.*s\n",
			(int)strcspn(head, "\r\n"), head);
		return EPROTO;
	}
	return 0;
}

int tnd_mb_ws_open(struct tnd_mb_ws **wsp, int port, tnd_mb_ws_msg_h *msgh,
		   tnd_mb_ws_gone_h *goneh, void *arg)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct tnd_mb_ws *ws;
	int one = 1, err = 0;

	if (!wsp || !msgh || !goneh)
		return EINVAL;
	ws = calloc(1, sizeof(*ws));
	if (!ws)
		return ENOMEM;
	ws->msgh = msgh;
	ws->goneh = goneh;
	ws->arg = arg;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ws->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ws->fd < 0) {
		err = errno;
		goto out;
	}
	setsockopt(ws->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(ws->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = errno;
		goto out;
	}
	err = handshake(ws, port);
	if (!err)
		ws->src = g_unix_fd_add(ws->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, on_readable, ws);
 out:
	if (err)
		tnd_mb_ws_close(ws);
	else
		*wsp = ws;
	return err;
}

void tnd_mb_ws_close(struct tnd_mb_ws *ws)
{
	if (!ws)
		return;
	if (ws->src)
		g_source_remove(ws->src);
	if (ws->fd >= 0) {
		static const uint8_t bye[2] = { 0x03, 0xe8 };   /* 1000 */

		if (!ws->dead)
			send_frame(ws, 8, bye, sizeof(bye));
		close(ws->fd);
	}
	free(ws->in);
	free(ws->msg);
	free(ws);
}
