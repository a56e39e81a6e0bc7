/* libFuzzer target: the WebSocket rules of gateway/api/ws_rules.c that see
 * client bytes. The first byte picks the rule:
 *   0: message reassembly. The rest is a sequence of pieces, each a flags
 *      byte (bit 0 first piece, bit 1 last piece, bit 2 binary), a length
 *      byte and that many payload bytes, fed as libwebsockets would; every
 *      delivered message must respect the 64 KiB limit.
 *   1: the Sec-WebSocket-Protocol list (the rest, as a string).
 *   2: the Origin rule, for auth none and for an allow-list.
 *   3: the RFC 6455 codec of gateway/api/wsproto.c at the byte level, as
 *      ws.c drives it: the next byte sets the read size (1 to 256 bytes),
 *      the rest is the stream, an HTTP upgrade request head then frames;
 *      after a 101 the frame bytes go through the frame parser and the
 *      message reassembly, and every answer is written out. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/api/api_int.h"
#include "gateway/api/ws_int.h"
#include "gateway/base/log.h"
#include "gateway/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct tnd_conf *conf_none, *conf_list;

static void setup(void)
{
	static const char none[] = "[log]\nlevel = error\n";
	static const char list[] = "[log]\nlevel = error\n[websocket]\n"
				   "origins = https://app.example, http://127.0.0.1:8080/\n";
	char err[256];

	if (tnd_conf_load_text(&conf_none, "fuzz", none, sizeof(none) - 1, err, sizeof(err)) ||
	    tnd_conf_load_text(&conf_list, "fuzz", list, sizeof(list) - 1, err, sizeof(err)))
		abort();
	tnd_log_parse_levels("error", false);
}

static void deliver(void *arg, enum tnd_api_frame kind, const char *msg, size_t len)
{
	size_t *total = arg;

	if (kind != TND_API_FRAME_TOO_BIG && len > TND_API_MAX_FRAME)
		abort();
	/* touch every byte handed over, so ASan sees a bad pointer or length */
	for (size_t i = 0; i < len; i++)
		*total += (unsigned char)msg[i];
}

static void reassemble(const uint8_t *p, size_t size)
{
	struct tnd_api_wsrx rx = { 0 };
	size_t total = 0;

	while (size >= 2) {
		uint8_t flags = p[0];
		size_t len = p[1];

		p += 2;
		size -= 2;
		if (len > size)
			len = size;
		/* a length byte of 255 stands for a big piece, to reach the limit */
		if (p[-1] == 255)
			for (int i = 0; i < 300; i++)
				tnd_api_wsrx_feed(&rx, false, false, false, p, len, deliver, &total);
		tnd_api_wsrx_feed(&rx, flags & 1, flags & 2, flags & 4, p, len, deliver, &total);
		p += len;
		size -= len;
	}
	tnd_api_wsrx_reset(&rx);
}

struct stream {
	struct tnd_api_wsrx msg;
	size_t total;
	bool closed;
};

static void st_data(void *arg, bool first, bool last, bool binary, const void *p, size_t len)
{
	struct stream *st = arg;

	tnd_api_wsrx_feed(&st->msg, first, last, binary, p, len, deliver, &st->total);
}

static void st_ping(void *arg, const void *p, size_t len)
{
	uint8_t h[TND_WS_FRAME_HEAD_MAX];

	(void)arg;
	(void)p;
	if (len > 125 || tnd_ws_frame_head(h, TND_WS_OP_PONG, len) != 2)
		abort();
}

static void st_close(void *arg, int code, const char *reason, size_t len)
{
	struct stream *st = arg;

	(void)reason;
	if (st->closed || len > 123 || (code && !tnd_ws_close_code_ok(code)))
		abort();
	st->closed = true;
}

static const struct tnd_ws_rx_h st_h = { st_data, st_ping, st_close };

static void codec(const uint8_t *p, size_t size)
{
	struct tnd_ws_hs *hs = calloc(1, sizeof(*hs));
	struct tnd_ws_rx rx = { 0 };
	struct stream st = { 0 };
	char resp[TND_WS_RESPONSE_MAX];
	uint8_t *buf;
	size_t step, pos = 0, used;
	int status = 0;

	if (!size || !hs)
		goto out;
	step = (size_t)p[0] + 1;
	buf = malloc(size);
	if (!buf)
		goto out;
	memcpy(buf, p + 1, size - 1);   /* the parser unmasks in place */
	size--;
	while (pos < size && !status) {
		size_t n = size - pos < step ? size - pos : step;

		status = tnd_ws_hs_feed(hs, conf_none, buf + pos, n, &used);
		if (used > n || (!status && used != n))
			abort();
		pos += used;
	}
	if (status && !tnd_ws_hs_response(hs, status, hs->why, resp, sizeof(resp)))
		abort();
	while (status == 101 && pos < size) {
		size_t n = size - pos < step ? size - pos : step;

		if (tnd_ws_rx_feed(&rx, buf + pos, n, &st_h, &st))
			break;
		pos += n;
	}
	free(buf);
 out:
	tnd_api_wsrx_reset(&st.msg);
	free(hs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s;

	if (!conf_none)
		setup();
	if (!size)
		return 0;
	if (data[0] == 0) {
		reassemble(data + 1, size - 1);
		return 0;
	}
	if (data[0] == 3) {
		codec(data + 1, size - 1);
		return 0;
	}
	s = malloc(size);
	if (!s)
		return 0;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (data[0] == 1) {
		(void)tnd_api_ws_offers(s, "tandem.v1");
	} else {
		(void)tnd_api_ws_origin_ok(conf_none, s);
		(void)tnd_api_ws_origin_ok(conf_list, s);
	}
	free(s);
	return 0;
}
