/* RTP header validation (RFC 3550 section 5.1, 5.3.1 and appendix A.1).
 *
 * A pure function over the caller's bytes: any thread, no allocation, no
 * state, so the fuzzer links it alone. It checks what a receiver must check
 * before trusting offsets: the version, that the CSRC list and the header
 * extension lie inside the packet, and that the padding count is at least
 * one and does not reach into the header. */
#include <errno.h>
#include <string.h>

#include "webrtc/webrtc.h"

int tnd_rtp_parse(const uint8_t *pkt, size_t len, struct tnd_rtp_hdr *h)
{
	struct tnd_rtp_hdr r;
	size_t off;

	if (!pkt || !h || len < TND_RTP_HDR_LEN)
		return EBADMSG;
	if ((pkt[0] >> 6) != 2)
		return EBADMSG;
	memset(&r, 0, sizeof(r));
	r.cc = pkt[0] & 0x0f;
	r.marker = tnd_rtp_marker(pkt);
	r.pt = tnd_rtp_pt(pkt);
	r.seq = tnd_rtp_seq(pkt);
	r.ts = tnd_rtp_ts(pkt);
	r.ssrc = tnd_rtp_ssrc(pkt);

	off = TND_RTP_HDR_LEN + 4u * r.cc;
	if (off > len)
		return EBADMSG;
	if (pkt[0] & 0x10) {
		size_t words;

		if (len - off < 4)
			return EBADMSG;
		r.ext = true;
		r.ext_profile = (uint16_t)(pkt[off] << 8 | pkt[off + 1]);
		words = (size_t)(pkt[off + 2] << 8 | pkt[off + 3]);
		off += 4;
		if (words * 4 > len - off)
			return EBADMSG;
		r.ext_off = off;
		r.ext_len = words * 4;
		off += words * 4;
	}
	r.hdr_len = off;
	r.payload_off = off;
	r.payload_len = len - off;
	if (pkt[0] & 0x20) {
		/* the last octet counts the padding, itself included (5.1) */
		uint8_t pad = pkt[len - 1];

		if (pad == 0 || pad > r.payload_len)
			return EBADMSG;
		r.pad_len = pad;
		r.payload_len -= pad;
	}
	*h = r;
	return 0;
}
