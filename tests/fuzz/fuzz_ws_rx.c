/* libFuzzer target: the WebSocket rules of gateway/api/ws_rules.c that see
 * client bytes. The first byte picks the rule:
 *   0: message reassembly. The rest is a sequence of pieces, each a flags
 *      byte (bit 0 first piece, bit 1 last piece, bit 2 binary), a length
 *      byte and that many payload bytes, fed as libwebsockets would; every
 *      delivered message must respect the 64 KiB limit.
 *   1: the Sec-WebSocket-Protocol list (the rest, as a string).
 *   2: the Origin rule, for auth none and for an allow-list. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/api/api_int.h"
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
