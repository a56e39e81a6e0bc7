/* libFuzzer target: a plain HTTP request for the softphone page's files
 * (gateway/api/web.c) through the handshake parser that ws.c drives
 * (wsproto.c with its `find` hook). The input is the request head. Only
 * the table's names may be found, the answer's headers must fit, and a
 * found file's bytes are all touched so ASan sees a bad length. A small
 * table of its own stands in for the generated web_files.c, so the target
 * builds without the build tree. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/api/web_int.h"
#include "gateway/api/ws_int.h"
#include "gateway/base/log.h"
#include "gateway/conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char page[] = "<!doctype html><title>t</title>";
static const unsigned char script[] = "export const x = 1;";

const struct tnd_web_file tnd_web_files[] = {
	{ "/index.html", "text/html; charset=utf-8", page, sizeof(page) - 1 },
	{ "/tandem.js", "text/javascript; charset=utf-8", script, sizeof(script) - 1 },
	{ NULL, NULL, NULL, 0 },
};

static struct tnd_conf *conf;

static const void *find(const char *target)
{
	return tnd_web_find(target);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tnd_ws_hs hs;
	char head[TND_WEB_HEAD_MAX];
	size_t used, sum = 0;
	int status;

	if (!conf) {
		static const char text[] = "[log]\nlevel = error\n";
		char err[256];

		if (tnd_conf_load_text(&conf, "fuzz", text, sizeof(text) - 1, err, sizeof(err)))
			abort();
		tnd_log_parse_levels("error", false);
	}
	memset(&hs, 0, sizeof(hs));
	hs.find = find;
	status = tnd_ws_hs_feed(&hs, conf, data, size, &used);
	if (used > size)
		abort();
	if (hs.file) {
		const struct tnd_web_file *f = hs.file;

		if (status != 200 || (f != &tnd_web_files[0] && f != &tnd_web_files[1]))
			abort();
		if (!tnd_web_head(f, head, sizeof(head)))
			abort();
		for (size_t i = 0; i < f->len; i++)
			sum += f->data[i];
	}
	return (int)(sum & 0);
}
