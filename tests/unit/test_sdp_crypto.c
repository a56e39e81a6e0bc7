/* gateway/sdp/sdp_crypto.c: SDES a=crypto values (RFC 4568 9.1, RFC 7714
 * 12). A table of lines with the result each must give (usable, valid but
 * not for us, bad syntax) and what a usable one decodes to; our own lines
 * written and read back; and base64 spelled only one way. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway/sdp/sdp.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_sdp.h"

/* 30 bytes 0..29 (CM), 28 bytes 0..27 and 44 bytes 0..43 (GCM) */
#define K30 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
#define K28 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw=="
#define K44 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKis="

struct crypto_case {
	const char *line;
	int err;
	unsigned tag;
	enum tnd_sdp_crypto_suite suite;
	size_t key_len;
	uint64_t lifetime;
	uint32_t mki;
	unsigned mki_len;
};

#define BAD(line) { line, EBADMSG, 0, TND_SDP_CRYPTO_NONE, 0, 0, 0, 0 }

int test_crypto_parse(void)
{
	static const struct crypto_case cases[] = {
		{ "1 AES_CM_128_HMAC_SHA1_80 inline:" K30, 0, 1,
		  TND_SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80, 30, 0, 0, 0 },
		{ "2 AES_CM_128_HMAC_SHA1_32 inline:" K30 "|2^31", 0, 2,
		  TND_SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32, 30, 1ull << 31, 0, 0 },
		{ "3 AEAD_AES_128_GCM inline:" K28 "|1048576|7:2", 0, 3,
		  TND_SDP_CRYPTO_AEAD_AES_128_GCM, 28, 1048576, 7, 2 },
		{ "123456789 AEAD_AES_256_GCM  inline:" K44 " KDR=0 WSH=512 FEC_ORDER=FEC_SRTP", 0,
		  123456789, TND_SDP_CRYPTO_AEAD_AES_256_GCM, 44, 0, 0, 0 },
		{ "4\tAEAD_AES_256_GCM\tinline:" K44 "|2^64", 0, 4,
		  TND_SDP_CRYPTO_AEAD_AES_256_GCM, 44, 1ull << 48, 0, 0 },
		/* the AES-GCM key unpadded: the same bytes */
		{ "5 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw", 0, 5,
		  TND_SDP_CRYPTO_AEAD_AES_128_GCM, 28, 0, 0, 0 },
		/* valid, not for us (RFC 4568 6.3) */
		{ "1 AES_256_CM_HMAC_SHA1_80 inline:" K44, ENOTSUP, 1, TND_SDP_CRYPTO_NONE, 44,
		  0, 0, 0 },
		{ "1 aes_cm_128_hmac_sha1_80 inline:" K30, ENOTSUP, 1, TND_SDP_CRYPTO_NONE, 30,
		  0, 0, 0 },
		{ "1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " UNENCRYPTED_SRTP", ENOTSUP, 1,
		  TND_SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80, 30, 0, 0, 0 },
		{ "1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " UNAUTHENTICATED_SRTP", ENOTSUP, 1,
		  TND_SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80, 30, 0, 0, 0 },
		{ "1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " KDR=3", ENOTSUP, 1,
		  TND_SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80, 30, 0, 0, 0 },
		{ "1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " -X-VENDOR", ENOTSUP, 1,
		  TND_SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80, 30, 0, 0, 0 },
		{ "1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|1:4;inline:" K30 "|2:4", ENOTSUP, 1,
		  TND_SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80, 30, 0, 0, 0 },
		/* bad */
		BAD(""),
		BAD("x AES_CM_128_HMAC_SHA1_80 inline:" K30),
		BAD("1234567890 AES_CM_128_HMAC_SHA1_80 inline:" K30),
		BAD("1 AES_CM_128_HMAC_SHA1_80"),
		BAD("1 AES_CM_128_HMAC_SHA1_80 " K30),
		BAD("1 AES_CM_128_HMAC_SHA1_80 inline:"),
		BAD("1 AES_CM_128_HMAC_SHA1_80 inline:" K28),          /* 28 for 30 */
		BAD("1 AEAD_AES_256_GCM inline:" K30),
		BAD("1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "="),
		BAD("1 AES_CM_128_HMAC_SHA1_80 inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxw*"),
		/* unused low bits set: the same key spelt another way */
		BAD("1 AEAD_AES_128_GCM inline:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGx=="),
		BAD("1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|"),
		BAD("1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|0"),
		BAD("1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|2^"),
		BAD("1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|1:0"),
		BAD("1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|1:129"),
		BAD("1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|1:4|2^20"),
		BAD("1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|2^20|2^20"),
		BAD("1 AES_CM_128_HMAC_SHA1_80 inline:" K30 "|1:4|2:4"),
		BAD("1 AES_CM_128_HMAC_SHA1_80 inline:" K30 ";inline:"),
		BAD("1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " KDR=25"),
		BAD("1 AES_CM_128_HMAC_SHA1_80 inline:" K30 " WSH=10"),
	};
	int fails = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct crypto_case *k = &cases[i];
		struct tnd_sdp_crypto c;
		int err;

		memset(&c, 0xa5, sizeof(c));
		err = tnd_sdp_crypto_parse(&c, k->line, strlen(k->line));
		if (err != k->err) {
			printf("# case %zu \"%s\": err %d, want %d\n", i, k->line, err, k->err);
			fails++;
			continue;
		}
		if (err == EBADMSG)
			continue;
		if (c.tag != k->tag || c.suite != k->suite || c.key_len != k->key_len ||
		    (err == 0 && (c.lifetime != k->lifetime || c.mki != k->mki ||
				  c.mki_len != k->mki_len))) {
			printf("# case %zu \"%s\": tag %u suite %d key %zu life %llu mki %u:%u\n",
			       i,
			       k->line, c.tag, (int)c.suite, c.key_len,
			       (unsigned long long)c.lifetime, c.mki, c.mki_len);
			fails++;
			continue;
		}
		for (size_t j = 0; j < c.key_len; j++)
			if (c.key[j] != j) {
				printf("# case %zu: key byte %zu is %u\n", i, j, c.key[j]);
				fails++;
				break;
			}
	}
	return fails;
}

/* Our lines: every suite written with a key of its length reads back to
 * the same tag, suite and bytes; wrong lengths and small buffers fail. */
int test_crypto_write(void)
{
	uint8_t key[TND_SDP_CRYPTO_MAX_KEY];
	char line[TND_SDP_CRYPTO_LINE_MAX];
	struct tnd_sdp_crypto c;

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)(i * 37 + 11);
	for (int s = TND_SDP_CRYPTO_NONE + 1; s < TND_SDP_CRYPTO_N; s++) {
		size_t n = tnd_sdp_crypto_key_len(s);

		TEST_ASSERT(n == 30 || n == 28 || n == 44);
		TEST_ASSERT(tnd_sdp_crypto_write(line, sizeof(line), (unsigned)s, s, key, n) == 0);
		TEST_ASSERT(tnd_sdp_crypto_parse(&c, line, strlen(line)) == 0);
		TEST_ASSERT(c.tag == (unsigned)s && c.suite == (enum tnd_sdp_crypto_suite)s);
		TEST_ASSERT(c.key_len == n && !memcmp(c.key, key, n));
		TEST_ASSERT(!strncmp(line + 2, tnd_sdp_crypto_suite_name(s),
				     strlen(tnd_sdp_crypto_suite_name(s))));
		TEST_ASSERT((int)tnd_sdp_crypto_suite_by_name(line + 2,
							      strcspn(line + 2, " ")) == s);
		TEST_ASSERT(tnd_sdp_crypto_write(line, sizeof(line), 1, s, key, n - 1) == EINVAL);
		TEST_ASSERT(tnd_sdp_crypto_write(line, 40, 1, s, key, n) == ENOSPC);
	}
	TEST_ASSERT(tnd_sdp_crypto_write(line, sizeof(line), 1, TND_SDP_CRYPTO_NONE, key, 30) ==
		    EINVAL);
	TEST_ASSERT(tnd_sdp_crypto_write(line, sizeof(line), 1000000000,
					 TND_SDP_CRYPTO_AEAD_AES_128_GCM, key, 28) == EINVAL);
	TEST_ASSERT(!strcmp(tnd_sdp_crypto_suite_name(TND_SDP_CRYPTO_NONE), ""));
	TEST_ASSERT(tnd_sdp_crypto_parse(NULL, "1", 1) == EINVAL);
	/* nothing past len is read: a line cut before its key is bad */
	TEST_ASSERT(tnd_sdp_crypto_parse(&c, "1 AES_CM_128_HMAC_SHA1_80 inline:" K30, 33) ==
		    EBADMSG);
	return 0;
}
