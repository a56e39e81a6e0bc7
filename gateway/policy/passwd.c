/* Password hashes: PBKDF2-HMAC-SHA256 (RFC 8018 section 5.2) through OpenSSL,
 * with a 16-byte random salt. The hash string carries its iteration count so
 * that it can be raised later without breaking stored hashes. Comparison is
 * constant-time. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "gateway/policy/policy.h"

#define SALT_LEN 16
#define DK_LEN 32
#define PREFIX "pbkdf2-sha256$"
#define MAX_ITER 10000000u

int tnd_policy_user_name_check(const char *name)
{
	size_t n;

	if (!name)
		return EINVAL;
	n = strlen(name);
	if (n == 0 || n > 64)
		return EINVAL;
	for (; *name; name++) {
		char c = *name;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-' || c == '+'))
			return EINVAL;
	}
	return 0;
}

/* Splits a hash string; salt and dk are written when non-NULL. */
static int split(const char *hash, unsigned *iter, unsigned char *salt, unsigned char *dk)
{
	char **parts = NULL;
	unsigned char *raw;
	gsize len;
	char *end;
	unsigned long n;
	int e = EINVAL;

	if (!hash || strncmp(hash, PREFIX, strlen(PREFIX)))
		return EINVAL;
	parts = g_strsplit(hash + strlen(PREFIX), "$", 4);
	if (g_strv_length(parts) != 3 || !*parts[0] || !*parts[1] || !*parts[2])
		goto out;
	n = strtoul(parts[0], &end, 10);
	if (*end || n < 1000 || n > MAX_ITER)
		goto out;
	*iter = (unsigned)n;
	for (int i = 1; i <= 2; i++) {
		/* g_base64_decode accepts junk silently; insist on the alphabet */
		if (strspn(parts[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				     "0123456789+/=") != strlen(parts[i]))
			goto out;
		raw = g_base64_decode(parts[i], &len);
		if (len != (i == 1 ? SALT_LEN : DK_LEN)) {
			g_free(raw);
			goto out;
		}
		if (i == 1 && salt)
			memcpy(salt, raw, SALT_LEN);
		if (i == 2 && dk)
			memcpy(dk, raw, DK_LEN);
		g_free(raw);
	}
	e = 0;
 out:
	g_strfreev(parts);
	return e;
}

int tnd_passwd_check_format(const char *hash)
{
	unsigned iter;

	return split(hash, &iter, NULL, NULL);
}

int tnd_passwd_hash(const char *password, unsigned iterations, char *out, size_t outlen)
{
	unsigned char salt[SALT_LEN], dk[DK_LEN];
	gchar *s64, *d64;
	int n;

	if (!password || !out || iterations < 1000 || iterations > MAX_ITER)
		return EINVAL;
	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return EIO;
	if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof(salt), (int)iterations,
			      EVP_sha256(), sizeof(dk), dk) != 1)
		return EIO;
	s64 = g_base64_encode(salt, sizeof(salt));
	d64 = g_base64_encode(dk, sizeof(dk));
	n = snprintf(out, outlen, PREFIX "%u$%s$%s", iterations, s64, d64);
	g_free(s64);
	g_free(d64);
	OPENSSL_cleanse(dk, sizeof(dk));
	return n > 0 && (size_t)n < outlen ? 0 : ENOSPC;
}

int tnd_passwd_verify(const char *hash, const char *password)
{
	unsigned char salt[SALT_LEN], want[DK_LEN], got[DK_LEN];
	unsigned iter;
	int e;

	if (!password)
		return EINVAL;
	e = split(hash, &iter, salt, want);
	if (e)
		return e;
	if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof(salt), (int)iter,
			      EVP_sha256(), sizeof(got), got) != 1)
		return EIO;
	e = CRYPTO_memcmp(want, got, DK_LEN) ? EACCES : 0;
	OPENSSL_cleanse(got, sizeof(got));
	return e;
}
