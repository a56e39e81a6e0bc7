/* libFuzzer target: what the call events' webhook reads from outside
 * (gateway/api/webhook.c). The input is fed to the HTTP status-line parser
 * whole and in every prefix (the sender feeds it as bytes arrive), and,
 * as a string, to the URL parser that reads [events] webhook. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/api/api_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char host[256], port[8], *s;
	const char *path;
	int st, e;

	for (size_t n = 0; n <= size && n <= 1100; n++) {
		st = -1;
		e = tnd_webhook_status((const char *)data, n, &st);
		if (e == 0 && (st < 100 || st > 599))
			abort();
		if (e != 0 && e != EAGAIN && e != EBADMSG)
			abort();
	}
	s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (tnd_webhook_parse_url(s, host, sizeof(host), port, sizeof(port), &path) == 0) {
		if (!*host || atoi(port) < 1 || atoi(port) > 65535 || *path != '/')
			abort();
	}
	free(s);
	return 0;
}
