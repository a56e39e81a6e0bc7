/* libFuzzer target: our iLBC decoder (codecs/ilbc/, RFC 3951) on any
 * bytes. The first byte's low bit picks the mode (0: 20 ms, 38-byte
 * frames; 1: 30 ms, 50-byte frames); then each step is a control byte and
 * its payload: top bit set, a loss of ((c & 0x3f) + 1) * 8 samples is
 * concealed (partial frames too); else (c & 3) + 1 frames are decoded (4
 * is one too many), one byte short when bit 2 is set. Every call must
 * return 0, EBADMSG or ENOSPC and write no more samples than its room. */
#include <errno.h>
#include <stdlib.h>

#include "codecs/codecs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int16_t pcm[TND_CODEC_MAX_SAMPLES];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tnd_codec_params p = { 0 };
	struct tnd_codec_dec *d;
	size_t at = 1, len, got, fb;
	int err;

	if (size < 1)
		return 0;
	p.mode_ms = data[0] & 1 ? 30 : 20;
	fb = p.mode_ms == 30 ? 50 : 38;
	if (tnd_codec_dec_alloc(&d, tnd_codec_get(TND_CODEC_ILBC), &p) != 0)
		abort();
	while (at < size) {
		uint8_t c = data[at++];

		if (c & 0x80) {
			if (tnd_codec_conceal(d, pcm, ((size_t)(c & 0x3f) + 1) * 8) != 0)
				abort();
			continue;
		}
		len = ((size_t)(c & 3) + 1) * fb - (c & 4 ? 1 : 0);
		if (len > size - at)
			len = size - at;
		got = 0;
		/* room of 60 ms: 3 frames fit, 4 do not */
		err = tnd_codec_decode(d, data + at, len, pcm, 480, &got);
		if ((err != 0 && err != EBADMSG && err != ENOSPC) || got > 480)
			abort();
		at += len;
	}
	tnd_codec_dec_free(d);
	return 0;
}
