/* Private to gateway/api: the RFC 6455 codec of wsproto.c, which ws.c drives
 * with the bytes of a raw libwebsockets socket. No socket, no main loop, no
 * libwebsockets: unit tests and the fuzzer feed it bytes directly. Any
 * thread; each state struct belongs to one connection. */
#ifndef TND_GATEWAY_API_WS_INT_H
#define TND_GATEWAY_API_WS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tnd_conf;

/* The one subprotocol we speak (docs/protocol.md). */
#define TND_WS_SUBPROTOCOL "tandem.v1"

/* Bounds of an HTTP request head: past them the answer is 431. */
#define TND_WS_HEAD_MAX    8192
#define TND_WS_HEADERS_MAX 64
/* Sec-WebSocket-Accept: base64 of a SHA-1, and its NUL. */
#define TND_WS_ACCEPT_LEN  29
/* Longest frame header a server writes: 2 + 8 bytes (no mask). */
#define TND_WS_FRAME_HEAD_MAX 10
/* Room for any response tnd_ws_hs_response writes. */
#define TND_WS_RESPONSE_MAX 512

/* RFC 6455 section 5.2 opcodes. */
enum tnd_ws_op {
	TND_WS_OP_CONT = 0x0,
	TND_WS_OP_TEXT = 0x1,
	TND_WS_OP_BINARY = 0x2,
	TND_WS_OP_CLOSE = 0x8,
	TND_WS_OP_PING = 0x9,
	TND_WS_OP_PONG = 0xa,
};

/* /readyz asks this: NULL when new calls would be accepted, else a static
 * one-line reason ("draining", "shutting down", ...). */
typedef const char *(tnd_ws_ready_h)(void *arg);

/* The opening handshake of one connection (RFC 6455 section 4.2), fed in
 * pieces. Zeroed to start; the caller may fill peer, ready and ready_arg
 * before the first feed (plain HTTP: /healthz, /readyz). Nothing to free. */
struct tnd_ws_hs {
	char peer[64];                   /* client address, for health_allow; "" = unknown */
	tnd_ws_ready_h *ready;           /* NULL: /readyz answers 503 */
	void *ready_arg;
	bool head_only;                  /* a HEAD request: the answer has no body */
	bool health;                     /* answered by /healthz or /readyz (200 or 503) */
	/* a plain GET or HEAD of any other path asks this (NULL: 404); a
	 * non-NULL answer is kept in `file` and the status is 200 */
	const void *(*find)(const char *target);
	const void *file;
	bool metrics;                    /* GET or HEAD /metrics, allowed: the caller writes it */
	char head[TND_WS_HEAD_MAX + 1];
	size_t len;                      /* bytes of head kept so far */
	int status;                      /* 0 while incomplete, then the answer */
	const char *why;                 /* static text: reason for a refusal */
	char accept[TND_WS_ACCEPT_LEN];  /* Sec-WebSocket-Accept, on 101 */
};

/* Feeds bytes of the request head. Returns 0 while the head is incomplete,
 * else the HTTP status to answer (101: upgrade accepted; 400, 403, 404, 405,
 * 426 or 431 with hs->why saying why), the same on every later call. A
 * plain GET or HEAD of /healthz gets 200, of /readyz 200 or 503 (hs->why:
 * the ready callback's reason), both with hs->health set, or 403 when
 * hs->peer is not in [websocket] health_allow; /metrics gets 200 with
 * hs->metrics set (the caller writes the answer, tnd_api_metrics_response)
 * or 403 outside [websocket] metrics_allow; other plain requests 200
 * when hs->find knows the target (hs->file set), else 404; other methods
 * 405.
 * *used is how many bytes of in belong to the head: the rest are the first
 * frame bytes. conf gives the path and the Origin rule (borrowed). */
int tnd_ws_hs_feed(struct tnd_ws_hs *hs, const struct tnd_conf *conf, const void *in,
		   size_t len, size_t *used);
/* Writes the complete HTTP response for status (hs->status, or a status the
 * caller decided instead, such as 503 with its own why) into buf; returns
 * its length, 0 when it does not fit. Anything but 101 carries a body
 * (none for HEAD: hs->head_only), Content-Length and Connection: close;
 * health answers also Cache-Control: no-store. */
size_t tnd_ws_hs_response(const struct tnd_ws_hs *hs, int status, const char *why, char *buf,
			  size_t size);
/* RFC 6455 section 4.2.2 item 5.4: base64(SHA-1(key + GUID)). 0 or EINVAL. */
int tnd_ws_accept_key(const char *key, char out[TND_WS_ACCEPT_LEN]);

/* What the frame parser hands on. data gets each piece of a text or binary
 * message as it arrives (first: the message's first piece; last: its
 * final one; a piece may be empty); ping and close get a whole control
 * payload. close's code is 0 when the frame had none. */
struct tnd_ws_rx_h {
	void (*data)(void *arg, bool first, bool last, bool binary, const void *p, size_t len);
	void (*ping)(void *arg, const void *p, size_t len);
	void (*close)(void *arg, int code, const char *reason, size_t len);
};

/* One connection's frame parser (RFC 6455 section 5). Zeroed to start;
 * holds no pointers. */
struct tnd_ws_rx {
	uint8_t hdr[14];                 /* frame header collected so far */
	unsigned hlen;
	bool in_payload;
	uint8_t op;
	bool fin;
	uint8_t key[4];
	uint64_t left;                   /* payload bytes still to come */
	uint64_t off;                    /* payload bytes seen: mask index */
	bool msg_open;                   /* a fragmented message is unfinished */
	bool msg_binary;
	bool first_piece;                /* next data piece starts a message */
	uint8_t ctl[125];                /* control payload being collected */
	size_t ctl_len;
	bool closed;                     /* a close frame came: ignore the rest */
};

/* Parses frame bytes, unmasking them in place. Returns 0, or the close code
 * with which the connection must fail (1002 protocol error: unmasked
 * frame, RSV bit, unknown opcode, bad control frame or fragment, bad
 * length or close code; 1007: close reason not UTF-8). After a failure or
 * a close frame, further bytes are ignored. */
int tnd_ws_rx_feed(struct tnd_ws_rx *rx, void *in, size_t len, const struct tnd_ws_rx_h *h,
		   void *arg);
/* true for a close code a peer may send (RFC 6455 section 7.4). */
bool tnd_ws_close_code_ok(int code);
/* Writes a server frame header (FIN set, no mask) for op and a payload of
 * len bytes; returns its length (2, 4 or 10). */
size_t tnd_ws_frame_head(uint8_t out[TND_WS_FRAME_HEAD_MAX], enum tnd_ws_op op, size_t len);

#endif
