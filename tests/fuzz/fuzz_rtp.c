/* libFuzzer target: RTP header validation, RFC 7983 demux and the in-place
 * setters. A packet that parses must keep its offsets inside the input, and
 * must still parse, with the new values, after every field is rewritten. */
#include <stdlib.h>
#include <string.h>

#include "webrtc/webrtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tnd_rtp_hdr h, h2;
	uint8_t *copy;

	(void)tnd_demux_classify(data, size);
	if (tnd_rtp_parse(data, size, &h))
		return 0;
	if (h.hdr_len > size || h.payload_off != h.hdr_len ||
	    h.payload_off + h.payload_len + h.pad_len != size ||
	    (h.ext && h.ext_off + h.ext_len > h.hdr_len))
		abort();
	/* an exact-size copy so ASan sees any write past the end */
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	tnd_rtp_set_ssrc(copy, h.ssrc ^ 0x5a5a5a5a);
	tnd_rtp_set_seq(copy, (uint16_t)(h.seq + 1));
	tnd_rtp_set_ts(copy, h.ts + 160);
	tnd_rtp_set_pt(copy, (uint8_t)(h.pt + 1));
	tnd_rtp_set_marker(copy, !h.marker);
	if (tnd_rtp_parse(copy, size, &h2) || h2.ssrc != (h.ssrc ^ 0x5a5a5a5a) ||
	    h2.seq != (uint16_t)(h.seq + 1) || h2.ts != h.ts + 160 ||
	    h2.pt != ((h.pt + 1) & 0x7f) || h2.marker == h.marker ||
	    h2.payload_len != h.payload_len || h2.hdr_len != h.hdr_len)
		abort();
	free(copy);
	return 0;
}
