/* HTTP Digest for SIP computed by Tandem itself (digest.c): RFC 7616 with
 * the SHA-256 algorithm that RFC 8760 brings to SIP, which Sofia-SIP 1.12's
 * auth client lacks (it has MD5 only). Pure functions on GLib, no Sofia:
 * the unit tests and the fuzzer link them alone. Any thread. */
#ifndef TND_SIP_DIGEST_INT_H
#define TND_SIP_DIGEST_INT_H

#include <stdbool.h>
#include <stddef.h>

enum tnd_digest_alg {
	TND_DIGEST_MD5,
	TND_DIGEST_SHA256,
};

/* One Digest challenge (WWW- or Proxy-Authenticate), values unquoted. */
struct tnd_digest_chal {
	enum tnd_digest_alg alg;
	bool sess;                 /* "-sess" variant (RFC 7616 3.4.2) */
	bool qop_auth;             /* qop offered, and it lists "auth" */
	bool stale;
	char realm[128];
	char nonce[256];
	char opaque[256];          /* "" when none */
};

/* Reads a challenge from its auth-params, each "name=value" (value quoted
 * or a token), as Sofia splits them (au_params). 0; EBADMSG for a missing
 * realm or nonce, a bad or oversized value, or a quote, backslash or
 * control character inside one; ENOTSUP for an algorithm other than MD5,
 * SHA-256 and their -sess, or a qop without "auth". *c is written only on
 * success. */
int tnd_digest_parse(struct tnd_digest_chal *c, const char *const *params, size_t n);

/* The request-digest (RFC 7616 3.4.1) in lower-case hex, written to out
 * (65 bytes for SHA-256, 33 for MD5, NUL-terminated). With c->qop_auth the
 * qop=auth form with cnonce and nc, else the RFC 2069 form. A password
 * "HA1+<32 hex>" (Sofia's form, auth.c) is a stored MD5 A1 for an MD5
 * challenge. EINVAL. */
int tnd_digest_response(char *out, size_t outlen, const struct tnd_digest_chal *c,
			const char *user, const char *password, const char *method,
			const char *uri, const char *cnonce, unsigned nc);

/* The whole credentials value ("Digest username=..., response=...") for an
 * Authorization or Proxy-Authorization header, with a fresh random cnonce.
 * EINVAL for a user or uri with a quote, backslash or control character;
 * ENOSPC when buf is short. */
int tnd_digest_credentials(char *buf, size_t len, const struct tnd_digest_chal *c,
			   const char *user, const char *password, const char *method,
			   const char *uri, unsigned nc);

/* "SHA-256", "MD5-sess"... */
const char *tnd_digest_alg_name(const struct tnd_digest_chal *c);

#endif
