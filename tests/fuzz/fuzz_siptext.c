/* libFuzzer target: sip/text.c, the check that decides which INFO and
 * MESSAGE bodies reach the browser as JSON strings. Besides crashes it
 * checks the promise: an accepted body is valid UTF-8 (GLib's validator
 * agrees) with no NUL or other C0 control but tab, CR and LF, and an
 * accepted type is type/subtype. A broken promise aborts.
 * Input: the Content-Type up to the first NUL, then the body. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>

#include "sip/sip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *nul = memchr(data, 0, size);
	size_t tlen = nul ? (size_t)(nul - (const char *)data) : size;
	const char *body = nul ? nul + 1 : "";
	size_t blen = nul ? size - tlen - 1 : 0;
	char *ctype = g_strndup((const char *)data, tlen);
	int err = tnd_sip_text_check(ctype, body, blen);

	if (!err) {
		if (!g_utf8_validate(body, (gssize)blen, NULL) || !strchr(ctype, '/') ||
		    blen > TND_SIP_TEXT_MAX)
			abort();
		for (size_t i = 0; i < blen; i++) {
			unsigned char c = (unsigned char)body[i];

			if ((c < 32 && c != '\t' && c != '\r' && c != '\n') || c == 127)
				abort();
		}
	}
	g_free(ctype);
	return 0;
}
