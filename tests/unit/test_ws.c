/* The RFC 6455 codec of gateway/api/wsproto.c without a socket: the
 * opening handshake (section 4.2) with every refusal, the accept key of
 * section 1.3, the 200-name subprotocol list libwebsockets refused, and the
 * frame parser (section 5) split at every byte boundary, with each rule
 * that fails the connection, above all the unmasked client frame
 * (section 5.1); and the plain HTTP probes /healthz and /readyz with
 * their address allow-list. The same rules run end to end in
 * tests/integration. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "gateway/api/api_int.h"
#include "gateway/api/ws_int.h"
#include "gateway/base/log.h"
#include "gateway/conf.h"
#include "tests/unit/runner.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="
#define REQ_TAIL "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: tandem.v1\r\n\r\n"
#define GOOD "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" \
	     "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n" REQ_TAIL

static struct tnd_conf *conf_load(void)
{
	static const char text[] = "[log]\nlevel = error\n";
	struct tnd_conf *conf = NULL;
	char err[256];

	tnd_log_parse_levels("error", false);
	if (tnd_conf_load_text(&conf, "t.conf", text, sizeof(text) - 1, err, sizeof(err)))
		return NULL;
	return conf;
}

static int hs_status(const struct tnd_conf *conf, const char *req, size_t *used)
{
	struct tnd_ws_hs *hs = calloc(1, sizeof(*hs));
	size_t u;
	int st;

	if (!hs)
		return -1;
	st = tnd_ws_hs_feed(hs, conf, req, strlen(req), used ? used : &u);
	free(hs);
	return st;
}

static int test_accept_key_rfc_example(void)
{
	char out[TND_WS_ACCEPT_LEN];

	/* RFC 6455 section 1.3 */
	TEST_ASSERT(tnd_ws_accept_key(KEY, out) == 0);
	TEST_ASSERT(!strcmp(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
	TEST_ASSERT(tnd_ws_accept_key(NULL, out) == EINVAL);
	return 0;
}

static int test_handshake_101(void)
{
	struct tnd_conf *conf = conf_load();
	struct tnd_ws_hs *hs = calloc(1, sizeof(*hs));
	char req[sizeof(GOOD) + 4], resp[TND_WS_RESPONSE_MAX];
	size_t used, n, total = strlen(GOOD) + 3;

	TEST_ASSERT(conf && hs);
	/* frame bytes in the same read as the head are not part of it */
	snprintf(req, sizeof(req), "%sabc", GOOD);
	TEST_ASSERT(tnd_ws_hs_feed(hs, conf, req, total, &used) == 101);
	TEST_ASSERT(used == strlen(GOOD));
	n = tnd_ws_hs_response(hs, 101, NULL, resp, sizeof(resp));
	TEST_ASSERT(n == strlen(resp));
	TEST_ASSERT_STR_CONTAINS(resp, "HTTP/1.1 101 ");
	TEST_ASSERT_STR_CONTAINS(resp, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n");
	TEST_ASSERT_STR_CONTAINS(resp, "Sec-WebSocket-Protocol: tandem.v1\r\n");
	TEST_ASSERT(!strcmp(resp + n - 4, "\r\n\r\n"));
	/* decided once: later bytes are not read as head */
	TEST_ASSERT(tnd_ws_hs_feed(hs, conf, "x", 1, &used) == 101 && used == 0);
	free(hs);

	/* the same request one byte at a time, each split point */
	for (size_t cut = 1; cut < total; cut++) {
		hs = calloc(1, sizeof(*hs));
		TEST_ASSERT(hs);
		TEST_ASSERT(tnd_ws_hs_feed(hs, conf, req, cut, &used) ==
			    (cut < strlen(GOOD) ? 0 : 101));
		if (cut < strlen(GOOD)) {
			TEST_ASSERT(used == cut);
			TEST_ASSERT(tnd_ws_hs_feed(hs, conf, req + cut, total - cut, &used) == 101);
			TEST_ASSERT(used == strlen(GOOD) - cut);
		}
		free(hs);
	}
	hs = calloc(1, sizeof(*hs));
	TEST_ASSERT(hs);
	for (size_t i = 0; i < strlen(GOOD); i++)
		TEST_ASSERT(tnd_ws_hs_feed(hs, conf, req + i, 1, &used) ==
			    (i + 1 < strlen(GOOD) ? 0 : 101));
	free(hs);
	tnd_conf_free(conf);
	return 0;
}

static int test_handshake_long_protocol_list(void)
{
	struct tnd_conf *conf = conf_load();
	GString *req = g_string_new("GET /ws HTTP/1.1\r\nhost: x\r\nUPGRADE: WebSocket\r\n"
				    "connection: keep-alive, upgrade\r\nsec-websocket-key: " KEY
				    "\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ");

	TEST_ASSERT(conf);
	/* probe: 200 names (~1.2 KB) with tandem.v1 were refused by lws */
	for (int i = 0; i < 199; i++)
		g_string_append_printf(req, "x-proto-%d, ", i);
	g_string_append(req, "tandem.v1\r\n\r\n");
	TEST_ASSERT(req->len > 1200);
	TEST_ASSERT(hs_status(conf, req->str, NULL) == 101);
	g_string_free(req, TRUE);
	/* several headers make one list (section 4.2.1 item 8) */
	TEST_ASSERT(hs_status(conf, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
			      "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
			      "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, b\r\n"
			      "Sec-WebSocket-Protocol: tandem.v1\r\n\r\n", NULL) == 101);
	/* a query string does not change the resource; a bare LF ends lines */
	TEST_ASSERT(hs_status(conf, "GET /ws?x=1 HTTP/1.1\nHost: x\nUpgrade: websocket\n"
			      "Connection: Upgrade\nSec-WebSocket-Key: " KEY "\n"
			      "Sec-WebSocket-Version: 13\nSec-WebSocket-Protocol: tandem.v1\n\n",
			      NULL) == 101);
	tnd_conf_free(conf);
	return 0;
}

static const struct {
	const char *req;
	int status;
	const char *why;
} refusals[] = {
	{ "POST /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	  "Sec-WebSocket-Key: " KEY "\r\n" REQ_TAIL, 405, "GET" },
	{ "GET /ws HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	  "Sec-WebSocket-Key: " KEY "\r\n" REQ_TAIL, 400, "HTTP/1.1" },
	{ "GET /nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	  "Sec-WebSocket-Key: " KEY "\r\n" REQ_TAIL, 404, "path" },
	{ "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 404, "not found" },
	{ "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	  "Sec-WebSocket-Key: " KEY "\r\n" REQ_TAIL, 400, "Host" },
	{ "GET /ws HTTP/1.1\r\nHost: x\r\nHost: y\r\nUpgrade: websocket\r\n"
	  "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n" REQ_TAIL, 400, "Host" },
	{ "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
	  "Sec-WebSocket-Key: " KEY "\r\n" REQ_TAIL, 400, "Upgrade" },
	{ "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	  "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 8\r\n"
	  "Sec-WebSocket-Protocol: tandem.v1\r\n\r\n", 426, "13" },
	{ "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	  "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Protocol: tandem.v1\r\n\r\n", 426, "13" },
	{ "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	  "Sec-WebSocket-Key: c2hvcnQ=\r\n" REQ_TAIL, 400, "Key" },
	{ "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZR==\r\n" REQ_TAIL, 400, "Key" },
	{ "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	  REQ_TAIL, 400, "Key" },
	{ "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	  "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"
	  "Sec-WebSocket-Protocol: chat, tandem.v10\r\n\r\n", 400, "tandem.v1" },
	{ "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	  "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n\r\n", 400, "tandem.v1" },
	{ "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	  "Origin: http://evil.example\r\nSec-WebSocket-Key: " KEY "\r\n" REQ_TAIL, 403,
	  "Origin" },
	{ "GET /ws HTTP/1.1\r\nHost : x\r\n\r\n", 400, "header" },
	{ "GET /ws HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400, "header" },
	{ "GET  /ws HTTP/1.1\r\nHost: x\r\n\r\n", 400, "request line" },
	{ "\r\n\r\n", 400, "request line" },
	{ "GET /ws\r\nHost: x\r\n\r\n", 400, "request line" },
};

static int test_handshake_refusals(void)
{
	struct tnd_conf *conf = conf_load();
	char resp[TND_WS_RESPONSE_MAX];

	TEST_ASSERT(conf);
	for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
		struct tnd_ws_hs *hs = calloc(1, sizeof(*hs));
		size_t used;
		int st;

		TEST_ASSERT(hs);
		st = tnd_ws_hs_feed(hs, conf, refusals[i].req, strlen(refusals[i].req), &used);
		if (st != refusals[i].status)
			printf("# case %zu: %d\n", i, st);
		TEST_ASSERT(st == refusals[i].status);
		TEST_ASSERT_STR_CONTAINS(hs->why, refusals[i].why);
		/* a complete response: status line, length of the body, close */
		TEST_ASSERT(tnd_ws_hs_response(hs, st, hs->why, resp, sizeof(resp)) > 0);
		TEST_ASSERT(!strncmp(resp, "HTTP/1.1 ", 9) && atoi(resp + 9) == st);
		TEST_ASSERT_STR_CONTAINS(resp, "Connection: close\r\n");
		TEST_ASSERT(atoi(strstr(resp, "Content-Length: ") + 16) ==
			    (int)strlen(strstr(resp, "\r\n\r\n") + 4));
		if (st == 426)
			TEST_ASSERT_STR_CONTAINS(resp, "\r\nSec-WebSocket-Version: 13\r\n");
		free(hs);
	}
	tnd_conf_free(conf);
	return 0;
}

static int test_handshake_head_limits(void)
{
	struct tnd_conf *conf = conf_load();
	GString *req = g_string_new("GET /ws HTTP/1.1\r\n");

	TEST_ASSERT(conf);
	for (int i = 0; i < TND_WS_HEADERS_MAX + 1; i++)
		g_string_append_printf(req, "X-%d: y\r\n", i);
	g_string_append(req, "\r\n");
	TEST_ASSERT(hs_status(conf, req->str, NULL) == 431);
	/* 8 KiB without an empty line: refused without waiting for more */
	g_string_assign(req, "GET /ws HTTP/1.1\r\nX: ");
	while (req->len < TND_WS_HEAD_MAX + 100)
		g_string_append_c(req, 'a');
	TEST_ASSERT(hs_status(conf, req->str, NULL) == 431);
	g_string_free(req, TRUE);
	/* a NUL in the head */
	{
		struct tnd_ws_hs *hs = calloc(1, sizeof(*hs));
		static const char nul[] = "GET /ws HTTP/1.1\r\nHost: x\0y\r\n\r\n";
		size_t used;

		TEST_ASSERT(hs);
		TEST_ASSERT(tnd_ws_hs_feed(hs, conf, nul, sizeof(nul) - 1, &used) == 400);
		free(hs);
	}
	tnd_conf_free(conf);
	return 0;
}

/* ---------------------------------------------------------------- frames */

struct col {
	GString *text;       /* messages, each followed by '|' (binary ones '#') */
	GString *pings;      /* ping payloads, each followed by '|' */
	int close_code, closes;
	bool in_msg, bad_flags;
};

static void col_data(void *arg, bool first, bool last, bool binary, const void *p, size_t len)
{
	struct col *c = arg;

	if (first == c->in_msg)
		c->bad_flags = true;
	c->in_msg = !last;
	g_string_append_len(c->text, p, (gssize)len);
	if (last)
		g_string_append_c(c->text, binary ? '#' : '|');
}

static void col_ping(void *arg, const void *p, size_t len)
{
	struct col *c = arg;

	g_string_append_len(c->pings, p, (gssize)len);
	g_string_append_c(c->pings, '|');
}

static void col_close(void *arg, int code, const char *reason, size_t len)
{
	struct col *c = arg;

	(void)reason;
	(void)len;
	c->close_code = code;
	c->closes++;
}

static const struct tnd_ws_rx_h col_h = { col_data, col_ping, col_close };

/* Appends a client frame: b0 (FIN, RSV, opcode), masked unless told. */
static void put_frame(GByteArray *out, uint8_t b0, const void *payload, size_t len, bool mask)
{
	static const uint8_t key[4] = { 0x37, 0xfa, 0x21, 0x3d };
	uint8_t h[14];
	size_t k = 2;

	h[0] = b0;
	if (len < 126) {
		h[1] = (uint8_t)len;
	} else if (len <= 0xffff) {
		h[1] = 126;
		h[2] = (uint8_t)(len >> 8);
		h[3] = (uint8_t)len;
		k = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
		k = 10;
	}
	if (mask) {
		h[1] |= 0x80;
		memcpy(h + k, key, 4);
		k += 4;
	}
	g_byte_array_append(out, h, (guint)k);
	for (size_t i = 0; i < len; i++) {
		uint8_t b = ((const uint8_t *)payload)[i] ^ (mask ? key[i & 3] : 0);

		g_byte_array_append(out, &b, 1);
	}
}

static void col_init(struct col *c)
{
	memset(c, 0, sizeof(*c));
	c->text = g_string_new("");
	c->pings = g_string_new("");
}

static void col_free(struct col *c)
{
	g_string_free(c->text, TRUE);
	g_string_free(c->pings, TRUE);
}

/* Feeds `in` cut into pieces at `cut` (0: whole; 1: a byte at a time). */
static int feed_cut(struct tnd_ws_rx *rx, const GByteArray *in, size_t cut, struct col *c)
{
	uint8_t *copy = g_memdup2(in->data, in->len);
	size_t pos = 0;
	int err = 0;

	while (!err && pos < in->len) {
		size_t n = cut == 0 ? in->len : cut == 1 ? 1 : pos < cut ? cut - pos : in->len - pos;

		err = tnd_ws_rx_feed(rx, copy + pos, n, &col_h, c);
		pos += n;
	}
	g_free(copy);
	return err;
}

static int test_frames_split_everywhere(void)
{
	GByteArray *in = g_byte_array_new();
	char *big = g_malloc(70000), *mid = g_malloc(300);
	GString *want = g_string_new("");

	memset(big, 'b', 70000);
	memset(mid, 'm', 300);
	/* a message in three fragments with a ping and a pong between them */
	put_frame(in, 0x01, "{\"a\":", 5, true);
	put_frame(in, 0x89, "p1", 2, true);
	put_frame(in, 0x00, "1", 1, true);
	put_frame(in, 0x8a, "pong", 4, true);
	put_frame(in, 0x80, "}", 1, true);
	put_frame(in, 0x82, "\x01\x02", 2, true);      /* binary */
	put_frame(in, 0x81, "", 0, true);              /* empty text */
	put_frame(in, 0x81, mid, 300, true);           /* 16-bit length */
	put_frame(in, 0x81, big, 70000, true);         /* 64-bit length */
	put_frame(in, 0x89, "", 0, true);
	put_frame(in, 0x88, "\x03\xe8" "bye", 5, true);
	put_frame(in, 0x81, "after", 5, true);         /* ignored after the close */
	g_string_append(want, "{\"a\":1}|\x01\x02#|");
	g_string_append_len(want, mid, 300);
	g_string_append_c(want, '|');
	g_string_append_len(want, big, 70000);
	g_string_append_c(want, '|');
	/* whole, a byte at a time, and cut in two at every boundary */
	for (size_t cut = 0; cut < in->len; cut++) {
		struct tnd_ws_rx rx = { 0 };
		struct col c;

		if (cut > 40 && cut < in->len - 80 && cut % 97)
			continue;   /* inside the big payload the cuts are all alike */
		col_init(&c);
		TEST_ASSERT(feed_cut(&rx, in, cut, &c) == 0);
		TEST_ASSERT(!c.bad_flags && !c.in_msg);
		TEST_ASSERT(c.text->len == want->len && !memcmp(c.text->str, want->str, want->len));
		TEST_ASSERT(!strcmp(c.pings->str, "p1||"));
		TEST_ASSERT(c.closes == 1 && c.close_code == 1000);
		col_free(&c);
	}
	g_byte_array_free(in, TRUE);
	g_string_free(want, TRUE);
	g_free(big);
	g_free(mid);
	return 0;
}

/* The connection fails with `code` on the stream, and nothing after. */
static int expect_fail(const GByteArray *in, int code)
{
	for (size_t cut = 0; cut < 3; cut++) {
		struct tnd_ws_rx rx = { 0 };
		struct col c;
		int err;

		col_init(&c);
		err = feed_cut(&rx, in, cut, &c);
		if (err != code)
			printf("# got %d, wanted %d\n", err, code);
		TEST_ASSERT(err == code && c.closes == 0);
		TEST_ASSERT(tnd_ws_rx_feed(&rx, (char[]){ 0x81 }, 1, &col_h, &c) == 0);
		col_free(&c);
	}
	return 0;
}

static int test_frame_unmasked_1002(void)
{
	GByteArray *in = g_byte_array_new();

	/* RFC 6455 section 5.1: the server MUST close on an unmasked frame */
	put_frame(in, 0x81, "{}", 2, false);
	TEST_ASSERT(expect_fail(in, 1002) == 0);
	g_byte_array_set_size(in, 0);
	put_frame(in, 0x81, "ok", 2, true);
	put_frame(in, 0x89, "", 0, false);
	TEST_ASSERT(expect_fail(in, 1002) == 0);
	g_byte_array_free(in, TRUE);
	return 0;
}

static int test_frame_refusals(void)
{
	static const struct {
		uint8_t b0;
		size_t len;
		bool open_first;      /* after an unfinished text frame */
		int code;
	} cases[] = {
		{ 0xc1, 2, false, 1002 },   /* RSV1 */
		{ 0xa1, 2, false, 1002 },   /* RSV2 */
		{ 0x91, 2, false, 1002 },   /* RSV3 */
		{ 0x83, 2, false, 1002 },   /* reserved data opcode */
		{ 0x8b, 2, false, 1002 },   /* reserved control opcode */
		{ 0x89, 126, false, 1002 }, /* control over 125 bytes */
		{ 0x09, 2, false, 1002 },   /* fragmented control */
		{ 0x80, 2, false, 1002 },   /* continuation without a start */
		{ 0x81, 2, true, 1002 },    /* new text inside a message */
		{ 0x82, 2, true, 1002 },    /* new binary inside a message */
	};
	static const uint8_t huge[] = { 0x81, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4 };
	static const int bad_codes[] = { 0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535 };
	GByteArray *in = g_byte_array_new();
	char pad[200] = { 0 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		g_byte_array_set_size(in, 0);
		if (cases[i].open_first)
			put_frame(in, 0x01, "x", 1, true);
		put_frame(in, cases[i].b0, pad, cases[i].len, true);
		TEST_ASSERT(expect_fail(in, cases[i].code) == 0);
	}
	/* 64-bit length with the top bit set */
	g_byte_array_set_size(in, 0);
	g_byte_array_append(in, huge, sizeof(huge));
	TEST_ASSERT(expect_fail(in, 1002) == 0);
	/* close: one byte of body, codes of section 7.4, a reason not UTF-8 */
	g_byte_array_set_size(in, 0);
	put_frame(in, 0x88, "\x03", 1, true);
	TEST_ASSERT(expect_fail(in, 1002) == 0);
	for (size_t i = 0; i < sizeof(bad_codes) / sizeof(bad_codes[0]); i++) {
		uint8_t b[2] = { (uint8_t)(bad_codes[i] >> 8), (uint8_t)bad_codes[i] };

		g_byte_array_set_size(in, 0);
		put_frame(in, 0x88, b, 2, true);
		TEST_ASSERT(expect_fail(in, 1002) == 0);
	}
	g_byte_array_set_size(in, 0);
	put_frame(in, 0x88, "\x03\xe8\xc3\x28", 4, true);
	TEST_ASSERT(expect_fail(in, 1007) == 0);
	g_byte_array_free(in, TRUE);
	return 0;
}

static int test_close_codes_echoed(void)
{
	static const int good[] = { 1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 4999 };
	GByteArray *in = g_byte_array_new();

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint8_t b[2] = { (uint8_t)(good[i] >> 8), (uint8_t)good[i] };
		struct tnd_ws_rx rx = { 0 };
		struct col c;

		TEST_ASSERT(tnd_ws_close_code_ok(good[i]));
		col_init(&c);
		g_byte_array_set_size(in, 0);
		put_frame(in, 0x88, b, 2, true);
		TEST_ASSERT(feed_cut(&rx, in, 1, &c) == 0 && c.close_code == good[i]);
		col_free(&c);
	}
	{
		/* an empty close has no code */
		struct tnd_ws_rx rx = { 0 };
		struct col c;

		col_init(&c);
		g_byte_array_set_size(in, 0);
		put_frame(in, 0x88, "", 0, true);
		TEST_ASSERT(feed_cut(&rx, in, 0, &c) == 0 && c.closes == 1 && c.close_code == 0);
		col_free(&c);
	}
	g_byte_array_free(in, TRUE);
	return 0;
}

static int test_frame_head_writer(void)
{
	static const struct {
		size_t len, hlen;
		uint8_t b1;
	} cases[] = {
		{ 0, 2, 0 }, { 125, 2, 125 }, { 126, 4, 126 }, { 65535, 4, 126 },
		{ 65536, 10, 127 }, { 5000000, 10, 127 },
	};
	uint8_t h[TND_WS_FRAME_HEAD_MAX];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t got = 0;

		TEST_ASSERT(tnd_ws_frame_head(h, TND_WS_OP_TEXT, cases[i].len) == cases[i].hlen);
		TEST_ASSERT(h[0] == 0x81 && h[1] == cases[i].b1);   /* FIN, unmasked */
		for (size_t k = 2; k < cases[i].hlen; k++)
			got = got << 8 | h[k];
		TEST_ASSERT(cases[i].hlen == 2 ? h[1] == cases[i].len : got == cases[i].len);
	}
	TEST_ASSERT(tnd_ws_frame_head(h, TND_WS_OP_CLOSE, 2) == 2 && h[0] == 0x88);
	TEST_ASSERT(tnd_ws_frame_head(h, TND_WS_OP_PONG, 0) == 2 && h[0] == 0x8a);
	return 0;
}

/* ------------------------------------------------------------ health */

static const char *ready_yes(void *arg)
{
	(void)arg;
	return NULL;
}

static const char *ready_no(void *arg)
{
	return arg;
}

struct health_case {
	const char *req;
	const char *peer;
	bool ready;               /* what the state callback says */
	int status;
	const char *body;         /* NULL: no body (HEAD) */
};

#define H_GET(path) "GET " path " HTTP/1.1\r\nHost: gw\r\n\r\n"

static const struct health_case health_cases[] = {
	{ H_GET("/healthz"), "127.0.0.1", true, 200, "ok\n" },
	{ H_GET("/healthz"), "127.0.0.1", false, 200, "ok\n" },   /* alive while draining */
	{ H_GET("/healthz?probe=1"), "::1", true, 200, "ok\n" },
	{ H_GET("/healthz"), "::ffff:127.0.0.9", true, 200, "ok\n" },
	{ H_GET("/readyz"), "127.0.0.1", true, 200, "ready\n" },
	{ H_GET("/readyz"), "127.0.0.1", false, 503, "draining\n" },
	{ "HEAD /healthz HTTP/1.1\r\nHost: gw\r\n\r\n", "127.0.0.1", true, 200, NULL },
	{ "HEAD /readyz HTTP/1.1\r\nHost: gw\r\n\r\n", "127.0.0.1", false, 503, NULL },
	/* [websocket] health_allow is loopback by default */
	{ H_GET("/healthz"), "10.1.2.3", true, 403, "health_allow\n" },
	{ H_GET("/readyz"), "2001:db8::1", true, 403, "health_allow\n" },
	{ H_GET("/readyz"), "", true, 403, "health_allow\n" },
	{ "POST /healthz HTTP/1.1\r\nHost: gw\r\nContent-Length: 0\r\n\r\n", "127.0.0.1", true,
	  405, "only GET and HEAD\n" },
	{ "DELETE /readyz HTTP/1.1\r\nHost: gw\r\n\r\n", "127.0.0.1", true, 405, "GET" },
	{ H_GET("/metric"), "127.0.0.1", true, 404, "not found" },   /* /metrics: test_metrics_route */
	{ H_GET("/healthzz"), "127.0.0.1", true, 404, "not found" },
	{ "HEAD /nope HTTP/1.1\r\nHost: gw\r\n\r\n", "127.0.0.1", true, 404, NULL },
};

static int health_one(const struct tnd_conf *conf, const struct health_case *c)
{
	struct tnd_ws_hs *hs = calloc(1, sizeof(*hs));
	char resp[TND_WS_RESPONSE_MAX];
	const char *body;
	size_t used, n;
	int st;

	TEST_ASSERT(hs);
	snprintf(hs->peer, sizeof(hs->peer), "%s", c->peer);
	hs->ready = c->ready ? ready_yes : ready_no;
	hs->ready_arg = (void *)"draining";
	st = tnd_ws_hs_feed(hs, conf, c->req, strlen(c->req), &used);
	if (st != c->status)
		printf("# %s from '%s': %d\n", c->req, c->peer, st);
	TEST_ASSERT(st == c->status);
	n = tnd_ws_hs_response(hs, st, hs->why, resp, sizeof(resp));
	TEST_ASSERT(n > 0 && n == strlen(resp));
	TEST_ASSERT(!strncmp(resp, "HTTP/1.1 ", 9) && atoi(resp + 9) == st);
	TEST_ASSERT_STR_CONTAINS(resp, "Content-Type: text/plain\r\n");
	TEST_ASSERT_STR_CONTAINS(resp, "Connection: close\r\n");
	body = strstr(resp, "\r\n\r\n") + 4;
	if (c->body) {
		TEST_ASSERT_STR_CONTAINS(body, c->body);
		TEST_ASSERT(atoi(strstr(resp, "Content-Length: ") + 16) == (int)strlen(body));
	} else {
		/* HEAD: the length a GET would get, and no body */
		TEST_ASSERT(!*body);
		TEST_ASSERT(atoi(strstr(resp, "Content-Length: ") + 16) > 0);
	}
	if (st == 200 || st == 503)
		TEST_ASSERT_STR_CONTAINS(resp, "Cache-Control: no-store\r\n");
	if (st == 405)
		TEST_ASSERT_STR_CONTAINS(resp, "Allow: GET, HEAD\r\n");
	if (!strncmp(c->req, "GET /healthz", 12) && st == 200)
		TEST_ASSERT(!strcmp(body, "ok\n"));
	free(hs);
	return 0;
}

static int test_health_routes(void)
{
	struct tnd_conf *conf = conf_load();

	TEST_ASSERT(conf);
	for (size_t i = 0; i < sizeof(health_cases) / sizeof(health_cases[0]); i++)
		if (health_one(conf, &health_cases[i])) {
			tnd_conf_free(conf);
			return 1;
		}
	tnd_conf_free(conf);
	return 0;
}

/* No state callback at all: not ready (a codec without its gateway). */
static int test_health_ready_unset(void)
{
	struct tnd_conf *conf = conf_load();
	struct tnd_ws_hs *hs = calloc(1, sizeof(*hs));
	const char *req = H_GET("/readyz");
	size_t used;

	TEST_ASSERT(conf && hs);
	snprintf(hs->peer, sizeof(hs->peer), "127.0.0.1");
	TEST_ASSERT(tnd_ws_hs_feed(hs, conf, req, strlen(req), &used) == 503);
	free(hs);
	tnd_conf_free(conf);
	return 0;
}

static int test_health_allow_list(void)
{
	static const struct {
		const char *list, *addr;
		bool ok;
	} cases[] = {
		{ "127.0.0.0/8, ::1", "127.255.0.1", true },
		{ "127.0.0.0/8, ::1", "128.0.0.1", false },
		{ "127.0.0.0/8, ::1", "::1", true },
		{ "127.0.0.0/8, ::1", "::2", false },
		{ "127.0.0.0/8, ::1", "::ffff:127.0.0.1", true },
		{ "127.0.0.0/8, ::1", "not-an-ip", false },
		{ "*", "192.0.2.7", true },
		{ " * ", "2001:db8::9", true },
		{ "*", "", true },
		{ "", "127.0.0.1", false },
		{ "10.0.0.0/8,192.0.2.64/26", "192.0.2.127", true },
		{ "10.0.0.0/8,192.0.2.64/26", "192.0.2.128", false },
		{ "10.0.0.0/8,192.0.2.64/26", "192.0.2.63", false },
		{ "192.0.2.5", "192.0.2.5", true },
		{ "192.0.2.5", "192.0.2.4", false },
		{ "0.0.0.0/0", "198.51.100.1", true },
		{ "0.0.0.0/0", "2001:db8::1", false },
		{ "2001:db8::/33", "2001:db8:7fff::1", true },
		{ "2001:db8::/33", "2001:db8:8000::1", false },
		{ "10.0.0.1", "::ffff:10.0.0.1", true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool ok = tnd_api_ws_addr_allowed(cases[i].list, cases[i].addr);

		if (ok != cases[i].ok)
			printf("# '%s' has '%s': %d\n", cases[i].list, cases[i].addr, ok);
		TEST_ASSERT(ok == cases[i].ok);
	}
	return 0;
}

/* The key reaches the codec: "*" opens the probes to anyone, a prefix
 * list to its members, and a bad value stops start-up. */
static int test_health_allow_conf(void)
{
	static const char any[] = "[websocket]\nhealth_allow = *\n";
	static const char net[] = "[websocket]\nhealth_allow = 10.0.0.0/8\n";
	static const char bad[] = "[websocket]\nhealth_allow = lb.example\n";
	struct tnd_conf *conf = NULL;
	struct health_case c = { H_GET("/healthz"), "10.1.2.3", true, 200, "ok\n" };
	char err[256];

	TEST_ASSERT(!tnd_conf_load_text(&conf, "t.conf", any, sizeof(any) - 1, err, sizeof(err)));
	TEST_ASSERT(!health_one(conf, &c));
	tnd_conf_free(conf);
	TEST_ASSERT(!tnd_conf_load_text(&conf, "t.conf", net, sizeof(net) - 1, err, sizeof(err)));
	TEST_ASSERT(!health_one(conf, &c));
	c.peer = "127.0.0.1";
	c.status = 403;
	c.body = "health_allow";
	TEST_ASSERT(!health_one(conf, &c));
	tnd_conf_free(conf);
	conf = NULL;
	TEST_ASSERT(tnd_conf_load_text(&conf, "t.conf", bad, sizeof(bad) - 1, err, sizeof(err)));
	TEST_ASSERT_STR_CONTAINS(err, "health_allow");
	tnd_conf_free(conf);
	return 0;
}

/* /metrics: approved (hs->metrics, 200) for [websocket] metrics_allow,
 * loopback by default, apart from health_allow; 403 outside; GET and HEAD
 * only. The answer itself is ws.c's (metrics_http.c). */
static int metrics_status(const char *text, const char *req, const char *peer, bool *metrics)
{
	struct tnd_conf *conf = NULL;
	struct tnd_ws_hs *hs = calloc(1, sizeof(*hs));
	char err[256];
	size_t used;
	int st = -1;

	if (hs && !tnd_conf_load_text(&conf, "t.conf", text, strlen(text), err, sizeof(err))) {
		snprintf(hs->peer, sizeof(hs->peer), "%s", peer);
		st = tnd_ws_hs_feed(hs, conf, req, strlen(req), &used);
		*metrics = hs->metrics;
	}
	tnd_conf_free(conf);
	free(hs);
	return st;
}

static int test_metrics_route(void)
{
	static const char dflt[] = "[websocket]\nhealth_allow = 10.0.0.0/8\n";
	static const char only2[] = "[websocket]\nmetrics_allow = 127.0.0.2, 2001:db8::/32\n";
	static const char none[] = "[websocket]\nmetrics_allow =\n";
	static const char bad[] = "[websocket]\nmetrics_allow = prom.example\n";
	struct tnd_conf *conf = NULL;
	char err[256];
	bool m = false;

	TEST_ASSERT(metrics_status(dflt, H_GET("/metrics"), "127.0.0.1", &m) == 200 && m);
	TEST_ASSERT(metrics_status(dflt, H_GET("/metrics?x=1"), "::1", &m) == 200 && m);
	TEST_ASSERT(metrics_status(dflt, H_GET("/metrics"), "10.1.2.3", &m) == 403 && !m);
	TEST_ASSERT(metrics_status(dflt, "HEAD /metrics HTTP/1.1\r\nHost: gw\r\n\r\n",
				   "127.0.0.1", &m) == 200 && m);
	TEST_ASSERT(metrics_status(dflt, "POST /metrics HTTP/1.1\r\nHost: gw\r\n"
				   "Content-Length: 0\r\n\r\n", "127.0.0.1", &m) == 405 && !m);
	TEST_ASSERT(metrics_status(only2, H_GET("/metrics"), "127.0.0.1", &m) == 403 && !m);
	TEST_ASSERT(metrics_status(only2, H_GET("/metrics"), "127.0.0.2", &m) == 200 && m);
	TEST_ASSERT(metrics_status(only2, H_GET("/metrics"), "2001:db8::5", &m) == 200 && m);
	TEST_ASSERT(metrics_status(only2, H_GET("/metrics"), "", &m) == 403 && !m);
	/* the probes keep their own list */
	TEST_ASSERT(metrics_status(only2, H_GET("/healthz"), "127.0.0.1", &m) == 200 && !m);
	TEST_ASSERT(metrics_status(none, H_GET("/metrics"), "127.0.0.1", &m) == 403 && !m);
	TEST_ASSERT(metrics_status(dflt, H_GET("/metricsx"), "127.0.0.1", &m) == 404 && !m);
	TEST_ASSERT(tnd_conf_load_text(&conf, "t.conf", bad, sizeof(bad) - 1, err, sizeof(err)));
	TEST_ASSERT_STR_CONTAINS(err, "metrics_allow");
	tnd_conf_free(conf);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct tnd_test tests[] = {
		TND_TEST(test_accept_key_rfc_example),
		TND_TEST(test_handshake_101),
		TND_TEST(test_handshake_long_protocol_list),
		TND_TEST(test_handshake_refusals),
		TND_TEST(test_handshake_head_limits),
		TND_TEST(test_frames_split_everywhere),
		TND_TEST(test_frame_unmasked_1002),
		TND_TEST(test_frame_refusals),
		TND_TEST(test_close_codes_echoed),
		TND_TEST(test_frame_head_writer),
		TND_TEST(test_health_routes),
		TND_TEST(test_health_ready_unset),
		TND_TEST(test_health_allow_list),
		TND_TEST(test_health_allow_conf),
		TND_TEST(test_metrics_route),
	};

	return tnd_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
