/* libFuzzer target: JSON-RPC frame handling. The input is split at 0xff
 * bytes into up to 32 frames sent in turn on one connection, so sequences
 * (the protocol error count, login state, admin requests after an admin's
 * login) are explored too. A frame's first
 * byte picks its kind: 0xfe binary, 0xfd too big, else text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/api/api.h"
#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/conf.h"
#include "gateway/policy/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void sink_send(void *arg, const char *text, size_t len)
{
	(void)arg;
	(void)text;
	(void)len;
}

static void sink_close(void *arg, int code, const char *reason)
{
	(void)arg;
	(void)code;
	(void)reason;
}

static const struct tnd_api_transport sink = { sink_send, sink_close };
static struct tnd_loop *loop;
static struct tnd_conf *conf;
static struct tnd_policy *policy;
static struct tnd_api *api;

static void setup(void)
{
	/* an admin, so a login as "root" reaches the admin methods too */
	static const char text[] = "[log]\nlevel = error\n[auth]\nadmins = root\n";
	char err[256];

	if (tnd_loop_alloc(&loop, "fuzz", 1) ||
	    tnd_conf_load_text(&conf, "fuzz", text, sizeof(text) - 1, err, sizeof(err)) ||
	    tnd_policy_alloc(&policy, conf) || tnd_api_alloc(&api, loop, conf, policy, false))
		abort();
	tnd_log_parse_levels("error", false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tnd_api_conn *conn;
	size_t start = 0;
	int frames = 0;

	if (!api)
		setup();
	if (tnd_api_conn_alloc(&conn, api, "127.0.0.1", &sink, NULL))
		abort();
	while (start <= size && frames++ < 32) {
		const uint8_t *end = memchr(data + start, 0xff, size - start);
		size_t len = end ? (size_t)(end - (data + start)) : size - start;
		const char *f = (const char *)data + start;

		if (len && (uint8_t)f[0] == 0xfe)
			tnd_api_conn_frame(conn, TND_API_FRAME_BINARY, f + 1, len - 1);
		else if (len && (uint8_t)f[0] == 0xfd)
			tnd_api_conn_frame(conn, TND_API_FRAME_TOO_BIG, NULL, 0);
		else
			tnd_api_conn_frame(conn, TND_API_FRAME_TEXT, f, len);
		if (!end)
			break;
		start += len + 1;
	}
	tnd_api_conn_detach(conn);
	while (g_main_context_iteration(tnd_loop_context(loop), FALSE))
		;
	return 0;
}
