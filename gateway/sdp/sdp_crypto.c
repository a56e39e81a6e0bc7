/* SDES a=crypto values (RFC 4568 9.1; AES-GCM suites from RFC 7714 12):
 * "<tag> <suite> inline:<key||salt base64>[|<lifetime>][|<MKI>:<len>]
 * [<session-param> ...]" read into struct tnd_sdp_crypto, and our own lines
 * written. The parse is strict where a key is concerned (exact length for
 * the suite, canonical base64) and tells syntax errors (EBADMSG) from lines
 * that are valid but not usable by us (ENOTSUP: unknown suite, several keys,
 * a non-zero KDR, UNENCRYPTED_* or UNAUTHENTICATED_SRTP, an unknown session
 * parameter; RFC 4568 6.3 asks to skip such a line). An MKI is parsed and
 * reported: the caller decides (we send none, libsrtp2 would need it per
 * packet). Pure functions on caller memory: no allocation, any thread; the
 * fuzzer (tests/fuzz/fuzz_sdp_crypto.c) links this with base alone. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "gateway/sdp/sdp.h"
#include "gateway/sdp/sdp_int.h"

static const struct {
	const char *name;
	uint8_t key_len;   /* key || salt */
} suites[] = {
	[TND_SDP_CRYPTO_AES_CM_128_HMAC_SHA1_80] = { "AES_CM_128_HMAC_SHA1_80", 30 },
	[TND_SDP_CRYPTO_AES_CM_128_HMAC_SHA1_32] = { "AES_CM_128_HMAC_SHA1_32", 30 },
	[TND_SDP_CRYPTO_AEAD_AES_128_GCM] = { "AEAD_AES_128_GCM", 28 },
	[TND_SDP_CRYPTO_AEAD_AES_256_GCM] = { "AEAD_AES_256_GCM", 44 },
};

const char *tnd_sdp_crypto_suite_name(enum tnd_sdp_crypto_suite s)
{
	return s > TND_SDP_CRYPTO_NONE && s < TND_SDP_CRYPTO_N ? suites[s].name : "";
}

enum tnd_sdp_crypto_suite tnd_sdp_crypto_suite_by_name(const char *name, size_t n)
{
	for (int s = TND_SDP_CRYPTO_NONE + 1; s < TND_SDP_CRYPTO_N; s++)
		if (n == strlen(suites[s].name) && !memcmp(name, suites[s].name, n))
			return (enum tnd_sdp_crypto_suite)s;
	return TND_SDP_CRYPTO_NONE;
}

size_t tnd_sdp_crypto_key_len(enum tnd_sdp_crypto_suite s)
{
	return s > TND_SDP_CRYPTO_NONE && s < TND_SDP_CRYPTO_N ? suites[s].key_len : 0;
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Standard base64 (RFC 4648 4), padding optional, unused bits zero: so one
 * key has one spelling. The decoded length goes to *lenp; false when bad
 * or longer than cap. */
static bool b64_decode(const char *s, size_t n, uint8_t *out, size_t cap, size_t *lenp)
{
	uint32_t acc = 0;
	size_t len = 0, pad = 0, bits = 0;

	while (pad < 2 && n && s[n - 1] == '=') {
		n--;
		pad++;
	}
	if (n % 4 == 1 || (pad && (n + pad) % 4))
		return false;
	for (size_t i = 0; i < n; i++) {
		int v = b64_val(s[i]);

		if (v < 0)
			return false;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (len == cap)
				return false;
			out[len++] = (uint8_t)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	if (acc)
		return false;   /* non-zero leftover bits */
	*lenp = len;
	return true;
}

static size_t b64_encode(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;

		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[(v >> 18) & 63];
		out[o++] = tab[(v >> 12) & 63];
		out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	return o;
}

/* A decimal of 1 to `max_digits` digits, the whole of [s, s + n). */
static bool dec(const char *s, size_t n, unsigned max_digits, uint64_t *v)
{
	if (!n || n > max_digits)
		return false;
	*v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return true;
}

/* "[2^]digits" (RFC 4568 9.1 lifetime). 2^n is kept up to 2^48, SRTP's
 * index space (RFC 3711 9.2); a larger one means "never", as 2^48. */
static bool lifetime(const char *s, size_t n, uint64_t *v)
{
	uint64_t e;

	if (n > 2 && s[0] == '2' && s[1] == '^') {
		if (!dec(s + 2, n - 2, 3, &e) || !e)
			return false;
		*v = (uint64_t)1 << (e > 48 ? 48 : e);
		return true;
	}
	return dec(s, n, 15, v) && *v;
}

/* "inline:<key||salt>[|lifetime][|MKI:len]" */
static int key_param(struct tnd_sdp_crypto *c, const char *s, size_t n)
{
	const char *bar, *end = s + n;
	size_t kn;
	uint64_t v;

	if (n < 7 || strncmp(s, "inline:", 7))
		return EBADMSG;
	s += 7;
	bar = memchr(s, '|', (size_t)(end - s));
	kn = (size_t)((bar ? bar : end) - s);
	if (!kn || !b64_decode(s, kn, c->key, sizeof(c->key), &c->key_len))
		return EBADMSG;
	while (bar) {
		const char *f = bar + 1, *colon;
		size_t fn;

		bar = memchr(f, '|', (size_t)(end - f));
		fn = (size_t)((bar ? bar : end) - f);
		colon = memchr(f, ':', fn);
		if (colon) {
			/* MKI value 1*DIGIT, length 1*3DIGIT in 1..128 (9.1) */
			if (c->mki_len || !dec(f, (size_t)(colon - f), 10, &v) || v > UINT32_MAX)
				return EBADMSG;
			c->mki = (uint32_t)v;
			if (!dec(colon + 1, fn - (size_t)(colon - f) - 1, 3, &v) || !v || v > 128)
				return EBADMSG;
			c->mki_len = (unsigned)v;
		} else if (c->lifetime || c->mki_len || !lifetime(f, fn, &c->lifetime)) {
			return EBADMSG;   /* lifetime comes once, and before the MKI */
		}
	}
	return 0;
}

/* One session parameter (RFC 4568 6.3, 9.1): ENOTSUP for those that change
 * the transform, which libsrtp2's policies here do not express. */
static int session_param(struct tnd_sdp_crypto *c, const char *s, size_t n)
{
	uint64_t v;

	if (n > 4 && !strncmp(s, "KDR=", 4))
		return dec(s + 4, n - 4, 2, &v) && v <= 24 ? (v ? ENOTSUP : 0) : EBADMSG;
	if (n > 4 && !strncmp(s, "WSH=", 4)) {
		if (!dec(s + 4, n - 4, 5, &v) || v < 64)
			return EBADMSG;
		c->wsh = (unsigned)v;   /* a hint: our window is 1024 anyway */
		return 0;
	}
	if (n > 10 && !strncmp(s, "FEC_ORDER=", 10))
		return 0;               /* no FEC here: ordering is moot */
	return ENOTSUP;                 /* UNENCRYPTED_SRT(C)P, UNAUTHENTICATED_SRTP,
					 * FEC_KEY, extensions */
}

/* The next run of non-blanks in [*p, end), or false. */
static bool next_field(const char **p, const char *end, const char **f, size_t *fn)
{
	const char *s = *p;

	while (s < end && (*s == ' ' || *s == '\t'))
		s++;
	*f = s;
	while (s < end && *s != ' ' && *s != '\t')
		s++;
	*fn = (size_t)(s - *f);
	*p = s;
	return *fn > 0;
}

int tnd_sdp_crypto_parse(struct tnd_sdp_crypto *c, const char *line, size_t len)
{
	struct tnd_sdp_crypto t;
	const char *p = line, *end = line + len, *f, *semi;
	size_t fn;
	uint64_t v;
	int err, unusable = 0;

	if (!c || !line)
		return EINVAL;
	memset(&t, 0, sizeof(t));
	if (!next_field(&p, end, &f, &fn) || !dec(f, fn, 9, &v))
		return EBADMSG;
	t.tag = (unsigned)v;
	if (!next_field(&p, end, &f, &fn))
		return EBADMSG;
	t.suite = tnd_sdp_crypto_suite_by_name(f, fn);
	if (!next_field(&p, end, &f, &fn))
		return EBADMSG;
	/* several keys (";inline:..."): each needs an MKI to tell them apart,
	 * and we install one; the syntax is still checked */
	semi = memchr(f, ';', fn);
	err = key_param(&t, f, semi ? (size_t)(semi - f) : fn);
	if (err)
		return err;
	if (semi) {
		struct tnd_sdp_crypto more;

		memset(&more, 0, sizeof(more));
		err = key_param(&more, semi + 1, fn - (size_t)(semi + 1 - f));
		if (err)
			return err;
		unusable = ENOTSUP;
	}
	while (next_field(&p, end, &f, &fn)) {
		err = session_param(&t, f, fn);
		if (err == EBADMSG)
			return err;
		if (err)
			unusable = err;
	}
	if (t.suite == TND_SDP_CRYPTO_NONE)
		unusable = ENOTSUP;
	else if (t.key_len != tnd_sdp_crypto_key_len(t.suite))
		return EBADMSG;
	*c = t;
	return unusable;
}

int tnd_sdp_crypto_write(char *buf, size_t cap, unsigned tag, enum tnd_sdp_crypto_suite suite,
			 const uint8_t *key, size_t key_len)
{
	char b64[64];
	size_t bn;
	int n;

	if (!buf || !key || tag > 999999999 || !tnd_sdp_crypto_key_len(suite) ||
	    key_len != tnd_sdp_crypto_key_len(suite))
		return EINVAL;
	bn = b64_encode(key, key_len, b64);
	n = snprintf(buf, cap, "%u %s inline:%.*s", tag, suites[suite].name, (int)bn, b64);
	memset(b64, 0, sizeof(b64));
	return n < 0 || (size_t)n >= cap ? ENOSPC : 0;
}
