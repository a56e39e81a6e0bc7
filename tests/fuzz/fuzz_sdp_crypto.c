/* libFuzzer target: SDES a=crypto values (gateway/sdp/sdp_crypto.c), the
 * new input a SIP peer's SDP gives us a key through. The input, as bytes
 * (no NUL needed), goes through tnd_sdp_crypto_parse(). Properties: it
 * returns only 0, ENOTSUP or EBADMSG; on 0 or ENOTSUP with a known suite
 * the key has the suite's exact length; a usable line written back with
 * tnd_sdp_crypto_write() parses again to the same tag, suite and key (the
 * key spelling is canonical). A broken property aborts. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "gateway/sdp/sdp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tnd_sdp_crypto c, back;
	char line[TND_SDP_CRYPTO_LINE_MAX];
	int err;

	if (size > 4096)
		return 0;
	err = tnd_sdp_crypto_parse(&c, (const char *)data, size);
	if (err != 0 && err != ENOTSUP && err != EBADMSG)
		abort();
	if (err == EBADMSG)
		return 0;
	if (c.suite != TND_SDP_CRYPTO_NONE && c.key_len != tnd_sdp_crypto_key_len(c.suite))
		abort();
	if (err || c.suite == TND_SDP_CRYPTO_NONE)
		return 0;
	if (tnd_sdp_crypto_write(line, sizeof(line), c.tag, c.suite, c.key, c.key_len))
		abort();
	if (tnd_sdp_crypto_parse(&back, line, strlen(line)) || back.tag != c.tag ||
	    back.suite != c.suite || back.key_len != c.key_len ||
	    memcmp(back.key, c.key, c.key_len) || back.mki_len || back.lifetime)
		abort();
	return 0;
}
