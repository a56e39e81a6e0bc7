/* libFuzzer target: the STUN framing check (RFC 5389), which guards the
 * pc's and the RTP sockets' counters against garbage in STUN's range. A
 * message it accepts must at least be framed as it claims. */
#include <stdlib.h>

#include "webrtc/webrtc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (tnd_stun_check(data, size))
		return 0;
	if (size < 20 || (data[0] & 0xc0) || (size - 20) % 4 ||
	    (size_t)(data[2] << 8 | data[3]) != size - 20 ||
	    tnd_demux_classify(data, size) != TND_DEMUX_STUN)
		abort();
	return 0;
}
