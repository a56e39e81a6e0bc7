/* libFuzzer target: the STUN framing check (RFC 5389), which guards the
 * pc's and the RTP sockets' counters against garbage in STUN's range, and
 * the Binding parser ICE consent reads the peer's checks with. A message
 * they accept must at least be framed as it claims. */
#include <stdlib.h>

#include "webrtc/webrtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tnd_stun_binding b;
	int err = tnd_stun_parse_binding(data, size, &b);

	/* what the ICE consent path reads: pointers inside the message */
	if (!err && ((b.user && (b.user < (const char *)data ||
				 b.user + b.user_len > (const char *)data + size)) ||
		     b.integrity_off + (b.integrity_off ? 24 : 0) > size))
		abort();
	if (tnd_stun_check(data, size)) {
		if (!err)
			abort();
		return 0;
	}
	if (size < 20 || (data[0] & 0xc0) || (size - 20) % 4 ||
	    (size_t)(data[2] << 8 | data[3]) != size - 20 ||
	    tnd_demux_classify(data, size) != TND_DEMUX_STUN)
		abort();
	return 0;
}
