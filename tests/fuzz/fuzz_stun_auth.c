/* libFuzzer target: STUN MESSAGE-INTEGRITY as ICE checks it after the
 * hand-over (tnd_stun_parse_binding, then tnd_stun_verify with a prepared
 * key, webrtc/stun_auth.c). Differential: the prepared-key HMAC must agree
 * with OpenSSL's one-shot HMAC() over the same bytes, and verifying must
 * leave the message as it was. The corpus holds messages signed with this
 * file's passwords, so mutations start from authentic ones. */
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "webrtc/webrtc.h"
#include "webrtc/webrtc_int.h"

#define LPWD "fuzzlocalpasswordfuzzlo"
#define RPWD "fuzzremotepasswordfuzzr"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* what tnd_stun_verify must answer, computed the plain way */
static int reference(const uint8_t *msg, size_t off, const char *pwd)
{
	uint8_t copy[1500], mac[20];
	unsigned ml = 0;

	memcpy(copy, msg, off);
	tnd_rtp_wr16(copy + 2, (uint16_t)(off + 24 - TND_STUN_HDR_LEN));
	if (!HMAC(EVP_sha1(), pwd, (int)strlen(pwd), copy, off, mac, &ml) || ml != 20)
		abort();
	return CRYPTO_memcmp(mac, msg + off + 4, 20) ? 1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tnd_stun_key lk, rk;
	static bool keyed;
	struct tnd_stun_binding b;
	uint8_t *buf;

	if (!keyed) {
		tnd_stun_key_set(&lk, LPWD);
		tnd_stun_key_set(&rk, RPWD);
		keyed = true;
	}
	if (size > 1500 || tnd_stun_parse_binding(data, size, &b) || !b.integrity_off)
		return 0;
	buf = malloc(size);
	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if ((tnd_stun_verify(buf, size, b.integrity_off, &lk) != 0) !=
	    reference(data, b.integrity_off, LPWD))
		abort();
	if ((tnd_stun_verify(buf, size, b.integrity_off, &rk) != 0) !=
	    reference(data, b.integrity_off, RPWD))
		abort();
	if (memcmp(buf, data, size))
		abort();
	free(buf);
	return 0;
}
