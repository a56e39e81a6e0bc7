/* Process-wide DTLS identity and library set-up (RFC 8827 section 6.5, RFC
 * 5763 section 5, RFC 8122 section 5).
 *
 * tnd_webrtc_init() runs once in main() before any worker starts: libsrtp2's
 * init, one ECDSA P-256 self-signed certificate, the shared SSL_CTX (DTLS 1.2,
 * ECDHE-ECDSA with AES-GCM only, no renegotiation, use_srtp with AES-128-GCM
 * offered first) and our fingerprint string. After
 * that everything here is read-only, so workers share it without a lock:
 * SSL_new() on a context that nobody modifies is thread safe. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <glib.h>

#include "gateway/base/log.h"
#include "webrtc/webrtc_int.h"

#define CERT_DAYS 30
#define SRTP_PROFILES "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"
/* Our key is ECDSA, and dtls_end.c can close only AES-GCM associations
 * (RFC 5288 records with an explicit nonce): a peer that offers nothing
 * else fails the handshake rather than keeping ~60 KiB of SSL a call.
 * Every browser offers the first. */
#define CIPHERS "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384"

static struct {
	EVP_PKEY *key;    /* owned */
	X509 *cert;       /* owned */
	SSL_CTX *ctx;     /* owned */
	char fp[8 + 3 * 32];
} g;

static void log_ssl_error(const char *what)
{
	char buf[256];

	ERR_error_string_n(ERR_get_error(), buf, sizeof(buf));
	TND_LOG_ERR(TND_LOG_WEBRTC, "%s: %s", what, buf);
	ERR_clear_error();
}

static int make_cert(void)
{
	X509_NAME *name;
	uint8_t serial[8];
	BIGNUM *bn;

	g.key = EVP_EC_gen("P-256");
	if (!g.key)
		return EPROTO;
	g.cert = X509_new();
	if (!g.cert)
		return ENOMEM;
	/* a random positive serial: browsers cache by issuer and serial */
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		return EPROTO;
	serial[0] &= 0x7f;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (!bn || !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(g.cert))) {
		BN_free(bn);
		return EPROTO;
	}
	BN_free(bn);
	name = X509_get_subject_name(g.cert);
	if (X509_set_version(g.cert, 2) != 1 ||
	    !X509_gmtime_adj(X509_getm_notBefore(g.cert), -24 * 3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(g.cert), CERT_DAYS * 24L * 3600) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"tandem",
					-1, -1, 0) ||
	    X509_set_issuer_name(g.cert, name) != 1 || X509_set_pubkey(g.cert, g.key) != 1 ||
	    !X509_sign(g.cert, g.key, EVP_sha256()))
		return EPROTO;
	return 0;
}

static int make_fingerprint(void)
{
	uint8_t md[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	size_t pos;

	if (X509_digest(g.cert, EVP_sha256(), md, &n) != 1 || n != 32)
		return EPROTO;
	pos = (size_t)snprintf(g.fp, sizeof(g.fp), "sha-256 ");
	for (unsigned i = 0; i < n; i++)
		pos += (size_t)snprintf(g.fp + pos, sizeof(g.fp) - pos, i ? ":%02X" : "%02X",
					 md[i]);
	return 0;
}

static int make_ctx(void)
{
	g.ctx = SSL_CTX_new(DTLS_method());
	if (!g.ctx)
		return ENOMEM;
	if (SSL_CTX_set_min_proto_version(g.ctx, DTLS1_2_VERSION) != 1 ||
	    SSL_CTX_use_certificate(g.ctx, g.cert) != 1 ||
	    SSL_CTX_use_PrivateKey(g.ctx, g.key) != 1 || SSL_CTX_check_private_key(g.ctx) != 1)
		return EPROTO;
	/* returns 0 on success, unlike its neighbours */
	if (SSL_CTX_set_tlsext_use_srtp(g.ctx, SRTP_PROFILES) != 0)
		return EPROTO;
	if (SSL_CTX_set_cipher_list(g.ctx, CIPHERS) != 1)
		return EPROTO;
	/* the server asks for the client's certificate: both ends must match
	 * their fingerprint (RFC 5763 section 5) */
	SSL_CTX_set_verify(g.ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* no chain, no CA: dtls.c compares the peer's certificate with the
	 * SDP fingerprint */
	SSL_CTX_set_cert_verify_callback(g.ctx, tnd_dtls_verify_cert, NULL);
	SSL_CTX_set_session_cache_mode(g.ctx, SSL_SESS_CACHE_OFF);
	/* no renegotiation: new keys would move records to epoch 2, where
	 * dtls_end.c (epoch 1 only) could no longer tell a close_notify; a
	 * DTLS-SRTP association has no use for it */
	SSL_CTX_set_options(g.ctx, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET |
			    SSL_OP_NO_RENEGOTIATION);
	return 0;
}

int tnd_webrtc_init(void)
{
	int err;

	if (g.ctx)
		return EALREADY;
	err = tnd_srtp_global_init();
	if (err)
		return err;
	err = tnd_dtls_global_init();
	if (!err)
		err = make_cert();
	if (!err)
		err = make_fingerprint();
	if (!err)
		err = make_ctx();
	if (err) {
		log_ssl_error("DTLS identity");
		tnd_webrtc_deinit();
		return err;
	}
	TND_LOG_INFO(TND_LOG_WEBRTC, "DTLS certificate %s", g.fp);
	return 0;
}

void tnd_webrtc_deinit(void)
{
	SSL_CTX_free(g.ctx);
	X509_free(g.cert);
	EVP_PKEY_free(g.key);
	memset(&g, 0, sizeof(g));
	tnd_dtls_global_deinit();
	tnd_srtp_global_deinit();
}

const char *tnd_webrtc_fingerprint(void)
{
	return g.fp;
}

SSL_CTX *tnd_webrtc_ssl_ctx(void)
{
	return g.ctx;
}

int tnd_webrtc_fp_parse(const char *s, struct tnd_fp *fp)
{
	static const struct {
		const char *name;
		const EVP_MD *(*md)(void);
	} hashes[] = {
		{ "sha-1", EVP_sha1 }, { "sha-224", EVP_sha224 }, { "sha-256", EVP_sha256 },
		{ "sha-384", EVP_sha384 }, { "sha-512", EVP_sha512 },
	};
	struct tnd_fp r;
	const char *sp;
	size_t nlen;

	if (!s || !fp)
		return EBADMSG;
	memset(&r, 0, sizeof(r));
	while (*s == ' ' || *s == '\t')
		s++;
	sp = strpbrk(s, " \t");
	if (!sp)
		return EBADMSG;
	nlen = (size_t)(sp - s);
	for (size_t i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++)
		if (strlen(hashes[i].name) == nlen && !strncasecmp(s, hashes[i].name, nlen))
			r.md = hashes[i].md();
	if (!r.md)
		return EBADMSG;
	while (*sp == ' ' || *sp == '\t')
		sp++;
	for (;;) {
		int hi = g_ascii_xdigit_value(sp[0]), lo = hi < 0 ? -1 : g_ascii_xdigit_value(sp[1]);

		if (lo < 0 || r.len >= sizeof(r.d))
			return EBADMSG;
		r.d[r.len++] = (uint8_t)(hi << 4 | lo);
		sp += 2;
		if (*sp != ':')
			break;
		sp++;
	}
	while (*sp == ' ' || *sp == '\t' || *sp == '\r' || *sp == '\n')
		sp++;
	if (*sp || r.len != (unsigned)EVP_MD_get_size(r.md))
		return EBADMSG;
	*fp = r;
	return 0;
}
