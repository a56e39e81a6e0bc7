/* The end of a DTLS association once OpenSSL's state is gone.
 *
 * After the handshake a WebRTC DTLS association without data channels
 * carries one more thing at most: a close_notify (or a fatal alert) when
 * either side hangs up. Keeping OpenSSL's SSL for that costs some 45 KiB a
 * call (its handshake buffer stays for DTLS retransmission), most of a
 * relayed call's memory. So once the peer's SRTP proves its handshake done,
 * the pc keeps only the record keys of the AES-GCM suite (RFC 5246 6.3
 * key block, RFC 5288 records, RFC 6347 DTLS framing): enough to tell an
 * authentic alert from a forged one, and to send its own close_notify.
 * Runs only for DTLS datagrams after the hand-over and at hang-up, never
 * per media packet.
 *
 * What this file assumes, and what makes it true:
 * - Epoch 1 is the only epoch with keys: one handshake, never a second.
 *   cert.c sets SSL_OP_NO_RENEGOTIATION, so the peer cannot move records
 *   to epoch 2 behind our back.
 * - Records carry an 8-byte explicit nonce after the header (RFC 5288 3,
 *   AES-GCM). cert.c's cipher list allows only ECDHE-ECDSA-AES128-GCM-SHA256
 *   and -AES256-GCM-SHA384, so no ChaCha20 (RFC 7905: implicit nonce) or CBC
 *   (MAC keys, padding) association can exist; tnd_dtls_end_derive()
 *   still refuses anything else with ENOTSUP and the pc keeps the SSL.
 * - Our close_notify's explicit nonce, epoch 1 and sequence OUR_SEQ, is
 *   unique under our write key: OpenSSL's own GCM records use nonces from
 *   a counter that starts at a random 64-bit value, and ours goes once
 *   (e->sent). Repeating a GCM nonce under one key would give the key away.
 * - The handshake's digest (SSL_CIPHER_get_handshake_digest) is the PRF's,
 *   and the session's master secret is the one the key block came from
 *   (also with extended master secret). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/obj_mac.h>

#include "webrtc/webrtc_int.h"

#define REC_HDR 13                 /* type, version, epoch, sequence, length */
#define EXPLICIT 8                 /* RFC 5288 3: the record's nonce part */
#define TAG 16
#define SALT 4
#define ALERT 21
#define CLOSE_NOTIFY 0
#define FATAL 2
/* our close_notify's sequence number: ahead of anything the handshake
 * used, which the peer's replay window accepts (RFC 6347 4.1.2.6) */
#define OUR_SEQ 0x10000000ull

struct tnd_dtls_end {
	const EVP_CIPHER *cipher;      /* static OpenSSL object */
	size_t key_len;
	uint8_t rkey[32], rsalt[SALT]; /* the peer's write key and salt */
	uint8_t wkey[32], wsalt[SALT]; /* ours */
	uint16_t version;
	bool sent;
};

static void put16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* RFC 5246 5: PRF(master, "key expansion", server_random + client_random) */
static int key_block(SSL *ssl, const EVP_MD *md, uint8_t *out, size_t len)
{
	uint8_t master[SSL_MAX_MASTER_KEY_LENGTH], sr[SSL3_RANDOM_SIZE], cr[SSL3_RANDOM_SIZE];
	static const char label[] = "key expansion";
	size_t mlen = SSL_SESSION_get_master_key(SSL_get_session(ssl), master, sizeof(master));
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_TLS1_PRF, NULL);
	EVP_KDF_CTX *k = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM p[6];
	int err = EPROTO;

	if (!k || !mlen || SSL_get_server_random(ssl, sr, sizeof(sr)) != sizeof(sr) ||
	    SSL_get_client_random(ssl, cr, sizeof(cr)) != sizeof(cr))
		goto out;
	p[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						(char *)EVP_MD_get0_name(md), 0);
	p[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, master, mlen);
	/* TLS1-PRF joins its seeds in order: label, then the randoms */
	p[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, (void *)label,
						 sizeof(label) - 1);
	p[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, sr, sizeof(sr));
	p[4] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, cr, sizeof(cr));
	p[5] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(k, out, len, p) == 1)
		err = 0;
 out:
	/* a failed derive may have written part of the block */
	if (err)
		OPENSSL_cleanse(out, len);
	OPENSSL_cleanse(master, sizeof(master));
	EVP_KDF_CTX_free(k);
	EVP_KDF_free(kdf);
	return err;
}

int tnd_dtls_end_from_keys(size_t key_len, const uint8_t *rkey, const uint8_t *rsalt,
			   const uint8_t *wkey, const uint8_t *wsalt, struct tnd_dtls_end **out)
{
	struct tnd_dtls_end *e;

	if ((key_len != 16 && key_len != 32) || !rkey || !rsalt || !wkey || !wsalt || !out)
		return EINVAL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return ENOMEM;
	e->cipher = key_len == 16 ? EVP_aes_128_gcm() : EVP_aes_256_gcm();
	e->key_len = key_len;
	e->version = DTLS1_2_VERSION;
	memcpy(e->rkey, rkey, key_len);
	memcpy(e->wkey, wkey, key_len);
	memcpy(e->rsalt, rsalt, SALT);
	memcpy(e->wsalt, wsalt, SALT);
	*out = e;
	return 0;
}

int tnd_dtls_end_derive(SSL *ssl, bool client, struct tnd_dtls_end **out)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(ssl);
	const EVP_MD *md = c ? SSL_CIPHER_get_handshake_digest(c) : NULL;
	uint8_t kb[2 * 32 + 2 * SALT];
	size_t klen;
	int nid, err;

	if (!c || !md || SSL_version(ssl) != DTLS1_2_VERSION)
		return ENOTSUP;
	nid = SSL_CIPHER_get_cipher_nid(c);
	if (nid != NID_aes_128_gcm && nid != NID_aes_256_gcm)
		return ENOTSUP;
	klen = nid == NID_aes_128_gcm ? 16 : 32;
	/* client_write_key, server_write_key, client_write_IV, server_write_IV
	 * (AEAD suites have no MAC keys) */
	err = key_block(ssl, md, kb, 2 * klen + 2 * SALT);
	if (!err)
		err = client ? tnd_dtls_end_from_keys(klen, kb + klen, kb + 2 * klen + SALT, kb,
						      kb + 2 * klen, out) :
			       tnd_dtls_end_from_keys(klen, kb, kb + 2 * klen, kb + klen,
						      kb + 2 * klen + SALT, out);
	OPENSSL_cleanse(kb, sizeof(kb));
	return err;
}

void tnd_dtls_end_free(struct tnd_dtls_end *e)
{
	if (!e)
		return;
	OPENSSL_cleanse(e, sizeof(*e));
	free(e);
}

/* AES-GCM over one record. `in` is the fragment (explicit nonce, ciphertext,
 * tag); `hdr` its 13-byte header. 0 and the plaintext, or EBADMSG. */
static int seal_open(const struct tnd_dtls_end *e, bool seal, const uint8_t *hdr,
		     const uint8_t *explicit_nonce, const uint8_t *in, size_t n, uint8_t *out,
		     uint8_t *tag)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	uint8_t nonce[SALT + EXPLICIT], aad[REC_HDR];
	int len = 0, ok;

	if (!x)
		return ENOMEM;
	memcpy(nonce, seal ? e->wsalt : e->rsalt, SALT);
	memcpy(nonce + SALT, explicit_nonce, EXPLICIT);
	/* RFC 5246 6.2.3.3 with DTLS's epoch and sequence: seq_num (8), type,
	 * version, plaintext length */
	memcpy(aad, hdr + 3, 8);
	memcpy(aad + 8, hdr, 3);
	put16(aad + 11, (unsigned)n);
	ok = EVP_CipherInit_ex(x, e->cipher, NULL, NULL, NULL, seal) == 1 &&
	     EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_IVLEN, sizeof(nonce), NULL) == 1 &&
	     EVP_CipherInit_ex(x, NULL, NULL, seal ? e->wkey : e->rkey, nonce, seal) == 1 &&
	     EVP_CipherUpdate(x, NULL, &len, aad, sizeof(aad)) == 1 &&
	     EVP_CipherUpdate(x, out, &len, in, (int)n) == 1;
	if (ok && !seal)
		ok = EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_SET_TAG, TAG, tag) == 1;
	ok = ok && EVP_CipherFinal_ex(x, out + len, &len) == 1;
	if (ok && seal)
		ok = EVP_CIPHER_CTX_ctrl(x, EVP_CTRL_GCM_GET_TAG, TAG, tag) == 1;
	EVP_CIPHER_CTX_free(x);
	return ok ? 0 : EBADMSG;
}

int tnd_dtls_end_input(const struct tnd_dtls_end *e, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	/* a datagram may carry several records (RFC 6347 4.1.1) */
	while (len - off >= REC_HDR) {
		const uint8_t *h = buf + off;
		size_t rl = (size_t)(h[11] << 8 | h[12]);
		uint8_t plain[2];

		if (rl > len - off - REC_HDR)
			return EBADMSG;
		/* an alert under the keys of epoch 1: level and description */
		if (h[0] == ALERT && (h[3] << 8 | h[4]) == 1 && rl == EXPLICIT + 2 + TAG &&
		    !seal_open(e, false, h, h + REC_HDR, h + REC_HDR + EXPLICIT, 2, plain,
			       (uint8_t *)(h + REC_HDR + EXPLICIT + 2)) &&
		    (plain[1] == CLOSE_NOTIFY || plain[0] == FATAL))
			return 0;
		off += REC_HDR + rl;
	}
	return EBADMSG;
}

size_t tnd_dtls_end_close_notify(struct tnd_dtls_end *e, uint8_t *buf, size_t cap)
{
	static const uint8_t alert[2] = { 1, CLOSE_NOTIFY };   /* warning, close_notify */
	uint64_t seq = OUR_SEQ;
	size_t n = REC_HDR + EXPLICIT + sizeof(alert) + TAG;

	if (e->sent || cap < n)
		return 0;
	buf[0] = ALERT;
	put16(buf + 1, e->version);
	put16(buf + 3, 1);                                   /* epoch */
	for (int i = 0; i < 6; i++)
		buf[5 + i] = (uint8_t)(seq >> (40 - 8 * i));
	put16(buf + 11, EXPLICIT + sizeof(alert) + TAG);
	/* the explicit nonce: epoch and sequence, unique under this key */
	memcpy(buf + REC_HDR, buf + 3, EXPLICIT);
	if (seal_open(e, true, buf, buf + REC_HDR, alert, sizeof(alert),
		      buf + REC_HDR + EXPLICIT, buf + REC_HDR + EXPLICIT + sizeof(alert)))
		return 0;
	e->sent = true;
	return n;
}
