/* STUN framing check (RFC 5389 sections 6 and 15, RFC 8489 section 14.7).
 *
 * Used to tell real STUN from garbage that happens to start with 0..3 before
 * counting it, on the pc's receive path and on plain RTP sockets. It checks
 * the frame only, never credentials: libnice does that for its own checks.
 * Any thread, no allocation. The CRC-32 is computed bitwise: STUN arrives a
 * few times a second per call, and a table would be static state to set up. */
#include <errno.h>

#include "webrtc/webrtc.h"


uint32_t tnd_stun_crc32(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
	}
	return ~c;
}

int tnd_stun_check(const uint8_t *buf, size_t len)
{
	size_t off = TND_STUN_HDR_LEN, msg_len;
	bool integrity = false;

	/* RFC 5389 only asks for the top two bits to be zero; RFC 7983 (5.1.2)
	 * narrows multiplexed STUN to a first byte of 0..3 (methods below
	 * 0x400), and that is all the demultiplexer hands over */
	if (!buf || len < TND_STUN_HDR_LEN || buf[0] > 3)
		return EBADMSG;
	msg_len = (size_t)(buf[2] << 8 | buf[3]);
	if ((msg_len & 3) || msg_len != len - TND_STUN_HDR_LEN)
		return EBADMSG;
	if (tnd_rtp_rd32(buf + 4) != TND_STUN_MAGIC)
		return EBADMSG;
	while (off < len) {
		uint16_t type;
		size_t alen;

		if (len - off < 4)
			return EBADMSG;
		type = (uint16_t)(buf[off] << 8 | buf[off + 1]);
		alen = (size_t)(buf[off + 2] << 8 | buf[off + 3]);
		off += 4;
		/* values are padded to 4 bytes (15) */
		if (alen > len - off || ((alen + 3) & ~(size_t)3) > len - off)
			return EBADMSG;
		if (type == TND_STUN_ATTR_FINGERPRINT) {
			/* last attribute; CRC over everything before it (15.5) */
			if (alen != 4 || off + 4 != len)
				return EBADMSG;
			if ((tnd_stun_crc32(buf, off - 4) ^ TND_STUN_FINGERPRINT_XOR) !=
			    tnd_rtp_rd32(buf + off))
				return EBADMSG;
		} else if (integrity && type != TND_STUN_ATTR_INTEGRITY_SHA256) {
			/* after MESSAGE-INTEGRITY only FINGERPRINT may follow (15.4);
			 * RFC 8489 lets MESSAGE-INTEGRITY-SHA256 follow it too */
			return EBADMSG;
		}
		if (type == TND_STUN_ATTR_INTEGRITY || type == TND_STUN_ATTR_INTEGRITY_SHA256)
			integrity = true;
		off += (alen + 3) & ~(size_t)3;
	}
	return 0;
}

int tnd_stun_parse_binding(const uint8_t *buf, size_t len, struct tnd_stun_binding *b)
{
	size_t off = TND_STUN_HDR_LEN;
	struct tnd_stun_binding r = { 0 };

	if (!b || tnd_stun_check(buf, len))
		return EBADMSG;
	r.type = (uint16_t)(buf[0] << 8 | buf[1]);
	if (r.type != TND_STUN_BINDING_REQUEST && r.type != TND_STUN_BINDING_SUCCESS &&
	    r.type != TND_STUN_BINDING_ERROR && r.type != TND_STUN_BINDING_INDICATION)
		return ENOTSUP;
	r.txid = buf + 8;
	/* tnd_stun_check() proved every TLV fits */
	while (off < len) {
		uint16_t type = (uint16_t)(buf[off] << 8 | buf[off + 1]);
		size_t alen = (size_t)(buf[off + 2] << 8 | buf[off + 3]);
		const uint8_t *v = buf + off + 4;

		switch (type) {
		case TND_STUN_ATTR_USERNAME:
			/* RFC 8489 14.3: under 509 bytes */
			if (alen == 0 || alen > 508)
				return EBADMSG;
			r.user = (const char *)v;
			r.user_len = alen;
			break;
		case TND_STUN_ATTR_INTEGRITY:
			if (alen != 20)
				return EBADMSG;
			r.integrity_off = off;
			break;
		case TND_STUN_ATTR_PRIORITY:
			if (alen != 4)
				return EBADMSG;
			r.priority = tnd_rtp_rd32(v);
			break;
		case TND_STUN_ATTR_USE_CANDIDATE:
			if (alen != 0)
				return EBADMSG;
			r.use_candidate = true;
			break;
		case TND_STUN_ATTR_CONTROLLING:
		case TND_STUN_ATTR_CONTROLLED:
			if (alen != 8)
				return EBADMSG;
			if (type == TND_STUN_ATTR_CONTROLLING)
				r.controlling = true;
			else
				r.controlled = true;
			break;
		case TND_STUN_ATTR_ERROR_CODE:
			if (alen < 4)
				return EBADMSG;
			r.error = (uint16_t)((v[2] & 7) * 100 + (v[3] % 100));
			break;
		default:
			break;
		}
		/* attributes after MESSAGE-INTEGRITY are not covered by it:
		 * only FINGERPRINT may follow, and tnd_stun_check() saw to it */
		off += 4 + ((alen + 3) & ~(size_t)3);
	}
	*b = r;
	return 0;
}
