/* libFuzzer target: sip/referto.c, the Replaces header embedded in the
 * Refer-To URI of a REFER from the peer (RFC 3891 5, RFC 5589 7). The
 * input is the URI's headers part, exactly its length, so ASan sees a read
 * past it. Besides crashes it checks the parser's promise: a value it
 * returns is non-empty, fits, and has no control character (it becomes a
 * header line of our INVITE); written back percent-encoded as the only
 * field, it decodes to the same; a refused input leaves the output
 * untouched. A broken promise aborts. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sip/referto_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[128] = "untouched", again[128], enc[3 * 128 + 16];
	size_t n = 0, len;
	int err;

	err = tnd_sip_referto_replaces((const char *)data, size, out, sizeof(out));
	if (err) {
		if ((err != ENOENT && err != EBADMSG) || strcmp(out, "untouched"))
			abort();
		return 0;
	}
	len = strlen(out);
	if (!len || len >= sizeof(out))
		abort();
	n = (size_t)snprintf(enc, sizeof(enc), "Replaces=");
	for (const char *c = out; *c; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			abort();
		n += (size_t)snprintf(enc + n, sizeof(enc) - n, "%%%02X", (unsigned char)*c);
	}
	if (tnd_sip_referto_replaces(enc, n, again, sizeof(again)) || strcmp(again, out))
		abort();
	return 0;
}
