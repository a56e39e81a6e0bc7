/* The STUN messages our own ICE consent needs once libnice has handed the
 * socket over (direct.c): Binding requests and success responses with
 * short-term credentials (RFC 8445 7.2.2, RFC 5389 10.1, 15.4 and 15.5), and
 * the MESSAGE-INTEGRITY check of what arrives. A few messages per call every
 * few seconds, never per packet. */
#include <errno.h>
#include <string.h>

#include <netinet/in.h>
#include <openssl/hmac.h>

#include "webrtc/webrtc_int.h"

#define HDR 20
#define MAGIC 0x2112A442u
#define ATTR_XOR_MAPPED 0x0020
#define ATTR_USERNAME 0x0006
#define ATTR_INTEGRITY 0x0008
#define ATTR_PRIORITY 0x0024
#define ATTR_CONTROLLED 0x8029
#define ATTR_CONTROLLING 0x802A
#define ATTR_FINGERPRINT 0x8028
#define FP_XOR 0x5354554eu

struct out {
	uint8_t *buf;
	size_t cap, len;
	bool full;
};

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static uint8_t *attr(struct out *o, uint16_t type, size_t len)
{
	size_t padded = (len + 3) & ~(size_t)3;
	uint8_t *v;

	if (o->full || o->cap - o->len < 4 + padded) {
		o->full = true;
		return NULL;
	}
	put16(o->buf + o->len, type);
	put16(o->buf + o->len + 2, (uint16_t)len);
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
	put16(o->buf, type);
	put16(o->buf + 2, 0);
	put32(o->buf + 4, MAGIC);
	memcpy(o->buf + 8, txid, 12);
	o->len = HDR;
}

/* HMAC-SHA1 over the message before the attribute at `off`, with the header's
 * length counting up to the end of a 24-byte MESSAGE-INTEGRITY there (RFC
 * 5389 15.4). The header is restored after. */
static int integrity(uint8_t *buf, size_t off, const char *pwd, uint8_t mac[20])
{
	uint8_t saved[2] = { buf[2], buf[3] };
	unsigned mlen = 0;
	uint8_t *ok;

	put16(buf + 2, (uint16_t)(off + 24 - HDR));
	ok = HMAC(EVP_sha1(), pwd, (int)strlen(pwd), buf, off, mac, &mlen);
	buf[2] = saved[0];
	buf[3] = saved[1];
	return ok && mlen == 20 ? 0 : EPROTO;
}

static void sign(struct out *o, const char *pwd)
{
	size_t off = o->len;
	uint8_t *v = attr(o, ATTR_INTEGRITY, 20);
	uint8_t *fp;

	if (!v || integrity(o->buf, off, pwd, v)) {
		o->full = true;
		return;
	}
	off = o->len;
	fp = attr(o, ATTR_FINGERPRINT, 4);
	if (!fp)
		return;
	put16(o->buf + 2, (uint16_t)(o->len - HDR));
	put32(fp, tnd_stun_crc32(o->buf, off) ^ FP_XOR);
}

size_t tnd_stun_build_request(uint8_t *buf, size_t cap, const uint8_t txid[12],
			      const char *user, const char *pwd, uint32_t priority,
			      bool controlling, uint64_t tiebreaker)
{
	struct out o = { .buf = buf, .cap = cap };
	size_t ulen = strlen(user);
	uint8_t *v;

	header(&o, TND_STUN_BINDING_REQUEST, txid);
	v = attr(&o, ATTR_USERNAME, ulen);
	if (v)
		memcpy(v, user, ulen);
	v = attr(&o, ATTR_PRIORITY, 4);
	if (v)
		put32(v, priority);
	v = attr(&o, controlling ? ATTR_CONTROLLING : ATTR_CONTROLLED, 8);
	if (v) {
		put32(v, (uint32_t)(tiebreaker >> 32));
		put32(v + 4, (uint32_t)tiebreaker);
	}
	sign(&o, pwd);
	return o.full ? 0 : o.len;
}

size_t tnd_stun_build_success(uint8_t *buf, size_t cap, const uint8_t txid[12],
			      const struct sockaddr_storage *from, const char *pwd)
{
	struct out o = { .buf = buf, .cap = cap };
	uint8_t *v;

	header(&o, TND_STUN_BINDING_SUCCESS, txid);
	if (from->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)from;

		v = attr(&o, ATTR_XOR_MAPPED, 8);
		if (v) {
			v[1] = 0x01;
			put16(v + 2, (uint16_t)(ntohs(a->sin_port) ^ (MAGIC >> 16)));
			put32(v + 4, ntohl(a->sin_addr.s_addr) ^ MAGIC);
		}
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)from;

		v = attr(&o, ATTR_XOR_MAPPED, 20);
		if (v) {
			v[1] = 0x02;
			put16(v + 2, (uint16_t)(ntohs(a->sin6_port) ^ (MAGIC >> 16)));
			/* XOR with the cookie, then the transaction id (15.2) */
			memcpy(v + 4, a->sin6_addr.s6_addr, 16);
			for (int i = 0; i < 16; i++)
				v[4 + i] ^= i < 4 ? (uint8_t)(MAGIC >> (24 - 8 * i)) : txid[i - 4];
		}
	}
	sign(&o, pwd);
	return o.full ? 0 : o.len;
}

int tnd_stun_verify(uint8_t *buf, size_t len, size_t integrity_off, const char *pwd)
{
	uint8_t mac[20];

	if (!integrity_off || integrity_off + 24 > len)
		return EACCES;
	if (integrity(buf, integrity_off, pwd, mac))
		return EACCES;
	/* constant time: the MAC is the only secret-derived thing compared */
	return CRYPTO_memcmp(mac, buf + integrity_off + 4, 20) ? EACCES : 0;
}
