/* The STUN messages our own ICE needs once libnice has handed the socket
 * over (direct.c, ice_direct.c): Binding requests and success responses
 * with short-term credentials (RFC 8445 7.2.2, RFC 5389 10.1, 15.4 and
 * 15.5), and the MESSAGE-INTEGRITY check of what arrives.
 *
 * Anyone who knows our ufrag (it is in the SDP and on the wire) can make
 * us compute an HMAC, so the MAC must be cheap: the key's padded blocks
 * are hashed once per credential (RFC 2104 section 4's precomputation)
 * and every message then costs a struct copy and the message's own
 * SHA-1 blocks, with no allocation. OpenSSL 3.0's EVP_MAC and EVP_MD
 * re-initialisation allocate on every message (a dup of the provider
 * context, measured at one or two per message, and HMAC() about 13), so
 * this uses the low-level SHA-1 functions, deprecated in 3.0 but not
 * removed, whose context is plain memory. Any thread; no allocation after
 * tnd_stun_key_set. */
#define OPENSSL_SUPPRESS_DEPRECATED   /* SHA1_Init and friends: see above */

#include <errno.h>
#include <string.h>

#include <netinet/in.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "webrtc/webrtc_int.h"

#define HDR TND_STUN_HDR_LEN
#define MAGIC TND_STUN_MAGIC
#define SHA1_BLOCK 64

void tnd_stun_key_set(struct tnd_stun_key *k, const char *pwd)
{
	uint8_t block[SHA1_BLOCK] = { 0 }, pad[SHA1_BLOCK];
	size_t n = strlen(pwd);

	/* RFC 2104 2: a key longer than the block is hashed first */
	if (n > SHA1_BLOCK)
		SHA1((const uint8_t *)pwd, n, block);
	else
		memcpy(block, pwd, n);
	for (int i = 0; i < SHA1_BLOCK; i++)
		pad[i] = block[i] ^ 0x36;
	SHA1_Init(&k->inner);
	SHA1_Update(&k->inner, pad, SHA1_BLOCK);
	for (int i = 0; i < SHA1_BLOCK; i++)
		pad[i] = block[i] ^ 0x5c;
	SHA1_Init(&k->outer);
	SHA1_Update(&k->outer, pad, SHA1_BLOCK);
	OPENSSL_cleanse(block, sizeof(block));
	OPENSSL_cleanse(pad, sizeof(pad));
}

void tnd_stun_key_clear(struct tnd_stun_key *k)
{
	OPENSSL_cleanse(k, sizeof(*k));
}

static void hmac_sha1(const struct tnd_stun_key *k, const uint8_t *buf, size_t len,
		      uint8_t mac[20])
{
	SHA_CTX c = k->inner;
	uint8_t in[20];

	SHA1_Update(&c, buf, len);
	SHA1_Final(in, &c);
	c = k->outer;
	SHA1_Update(&c, in, sizeof(in));
	SHA1_Final(mac, &c);
	OPENSSL_cleanse(&c, sizeof(c));
}

struct out {
	uint8_t *buf;
	size_t cap, len;
	bool full;
};

static uint8_t *attr(struct out *o, uint16_t type, size_t len)
{
	size_t padded = (len + 3) & ~(size_t)3;
	uint8_t *v;

	if (o->full || o->cap - o->len < 4 + padded) {
		o->full = true;
		return NULL;
	}
	tnd_rtp_wr16(o->buf + o->len, type);
	tnd_rtp_wr16(o->buf + o->len + 2, (uint16_t)len);
	v = o->buf + o->len + 4;
	memset(v, 0, padded);
	o->len += 4 + padded;
	return v;
}

static void header(struct out *o, uint16_t type, const uint8_t txid[12])
{
	if (o->cap < HDR) {
		o->full = true;
		return;
	}
	tnd_rtp_wr16(o->buf, type);
	tnd_rtp_wr16(o->buf + 2, 0);
	tnd_rtp_wr32(o->buf + 4, MAGIC);
	memcpy(o->buf + 8, txid, 12);
	o->len = HDR;
}

/* HMAC-SHA1 over the message before the attribute at `off`, with the header's
 * length counting up to the end of a 24-byte MESSAGE-INTEGRITY there (RFC
 * 5389 15.4). The header is restored after. */
static void integrity(uint8_t *buf, size_t off, const struct tnd_stun_key *k, uint8_t mac[20])
{
	uint8_t saved[2] = { buf[2], buf[3] };

	tnd_rtp_wr16(buf + 2, (uint16_t)(off + 24 - HDR));
	hmac_sha1(k, buf, off, mac);
	buf[2] = saved[0];
	buf[3] = saved[1];
}

static void sign(struct out *o, const struct tnd_stun_key *k)
{
	size_t off = o->len;
	uint8_t *v = attr(o, TND_STUN_ATTR_INTEGRITY, 20);
	uint8_t *fp;

	if (!v)
		return;
	integrity(o->buf, off, k, v);
	off = o->len;
	fp = attr(o, TND_STUN_ATTR_FINGERPRINT, 4);
	if (!fp)
		return;
	tnd_rtp_wr16(o->buf + 2, (uint16_t)(o->len - HDR));
	tnd_rtp_wr32(fp, tnd_stun_crc32(o->buf, off) ^ TND_STUN_FINGERPRINT_XOR);
}

size_t tnd_stun_build_request(uint8_t *buf, size_t cap, const uint8_t txid[12],
			      const struct tnd_stun_req *r, const struct tnd_stun_key *k)
{
	struct out o = { .buf = buf, .cap = cap };
	size_t ulen = strlen(r->user);
	uint8_t *v;

	header(&o, TND_STUN_BINDING_REQUEST, txid);
	v = attr(&o, TND_STUN_ATTR_USERNAME, ulen);
	if (v)
		memcpy(v, r->user, ulen);
	v = attr(&o, TND_STUN_ATTR_PRIORITY, 4);
	if (v)
		tnd_rtp_wr32(v, r->priority);
	if (r->use_candidate)
		attr(&o, TND_STUN_ATTR_USE_CANDIDATE, 0);
	v = attr(&o, r->controlling ? TND_STUN_ATTR_CONTROLLING : TND_STUN_ATTR_CONTROLLED, 8);
	if (v) {
		tnd_rtp_wr32(v, (uint32_t)(r->tiebreaker >> 32));
		tnd_rtp_wr32(v + 4, (uint32_t)r->tiebreaker);
	}
	sign(&o, k);
	return o.full ? 0 : o.len;
}

size_t tnd_stun_build_success(uint8_t *buf, size_t cap, const uint8_t txid[12],
			      const struct sockaddr_storage *from, const struct tnd_stun_key *k)
{
	struct out o = { .buf = buf, .cap = cap };
	uint8_t *v;

	header(&o, TND_STUN_BINDING_SUCCESS, txid);
	if (from->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)from;

		v = attr(&o, TND_STUN_ATTR_XOR_MAPPED, 8);
		if (v) {
			v[1] = 0x01;
			tnd_rtp_wr16(v + 2, (uint16_t)(ntohs(a->sin_port) ^ (MAGIC >> 16)));
			tnd_rtp_wr32(v + 4, ntohl(a->sin_addr.s_addr) ^ MAGIC);
		}
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)from;

		v = attr(&o, TND_STUN_ATTR_XOR_MAPPED, 20);
		if (v) {
			v[1] = 0x02;
			tnd_rtp_wr16(v + 2, (uint16_t)(ntohs(a->sin6_port) ^ (MAGIC >> 16)));
			/* XOR with the cookie, then the transaction id (15.2) */
			memcpy(v + 4, a->sin6_addr.s6_addr, 16);
			for (int i = 0; i < 16; i++)
				v[4 + i] ^= i < 4 ? (uint8_t)(MAGIC >> (24 - 8 * i)) : txid[i - 4];
		}
	}
	sign(&o, k);
	return o.full ? 0 : o.len;
}

int tnd_stun_verify(uint8_t *buf, size_t len, size_t integrity_off, const struct tnd_stun_key *k)
{
	uint8_t mac[20];

	if (!integrity_off || integrity_off < HDR || integrity_off + 24 > len)
		return EACCES;
	integrity(buf, integrity_off, k, mac);
	/* constant time: the MAC is the only secret-derived thing compared */
	return CRYPTO_memcmp(mac, buf + integrity_off + 4, 20) ? EACCES : 0;
}
