/* STUN framing check (RFC 5389 sections 6 and 15, RFC 8489 section 14.7).
 *
 * Used to tell real STUN from garbage that happens to start with 0..3 before
 * counting it, on the pc's receive path and on plain RTP sockets. It checks
 * the frame only, never credentials: libnice does that for its own checks.
 * Any thread, no allocation. The CRC-32 is computed bitwise: STUN arrives a
 * few times a second per call, and a table would be static state to set up. */
#include <errno.h>

#include "webrtc/webrtc.h"

#define STUN_HDR_LEN 20
#define STUN_MAGIC 0x2112A442u
#define STUN_MESSAGE_INTEGRITY 0x0008
#define STUN_MESSAGE_INTEGRITY_SHA256 0x001C
#define STUN_FINGERPRINT 0x8028
#define STUN_FINGERPRINT_XOR 0x5354554eu

static uint32_t crc32_ieee(const uint8_t *p, size_t n)
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
	size_t off = STUN_HDR_LEN, msg_len;
	bool integrity = false;

	/* RFC 5389 only asks for the top two bits to be zero; RFC 7983 (5.1.2)
	 * narrows multiplexed STUN to a first byte of 0..3 (methods below
	 * 0x400), and that is all the demultiplexer hands over */
	if (!buf || len < STUN_HDR_LEN || buf[0] > 3)
		return EBADMSG;
	msg_len = (size_t)(buf[2] << 8 | buf[3]);
	if ((msg_len & 3) || msg_len != len - STUN_HDR_LEN)
		return EBADMSG;
	if (tnd_rtp_rd32(buf + 4) != STUN_MAGIC)
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
		if (type == STUN_FINGERPRINT) {
			/* last attribute; CRC over everything before it (15.5) */
			if (alen != 4 || off + 4 != len)
				return EBADMSG;
			if ((crc32_ieee(buf, off - 4) ^ STUN_FINGERPRINT_XOR) !=
			    tnd_rtp_rd32(buf + off))
				return EBADMSG;
		} else if (integrity && type != STUN_MESSAGE_INTEGRITY_SHA256) {
			/* after MESSAGE-INTEGRITY only FINGERPRINT may follow (15.4);
			 * RFC 8489 lets MESSAGE-INTEGRITY-SHA256 follow it too */
			return EBADMSG;
		}
		if (type == STUN_MESSAGE_INTEGRITY || type == STUN_MESSAGE_INTEGRITY_SHA256)
			integrity = true;
		off += (alen + 3) & ~(size_t)3;
	}
	return 0;
}
