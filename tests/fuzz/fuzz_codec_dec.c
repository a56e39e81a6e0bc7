/* libFuzzer target: every decoder's RTP payload path (codecs/). The first
 * byte picks the codec (low 3 bits), the Opus decoder's rate (bits 3-5) and
 * channels (bit 6), or iLBC's mode (bit 3: 30 ms, else 20 ms); the rest is a run of packets, each a length byte and
 * that many payload bytes, fed to one decoder as a stream would be, with
 * concealment and Opus FEC mixed in. Every call must return 0, EBADMSG or
 * ENOSPC, and never write past the room it was given. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned rates[] = { 8000, 12000, 16000, 24000, 48000, 8000, 16000, 48000 };

/* room is exact: ASan catches a decoder writing past maxsamp */
static int16_t pcm[TND_CODEC_MAX_SAMPLES];

/* EINVAL: a loss length the codec cannot conceal in; ENOTSUP: no PLC/FEC */
static void check(int err)
{
	if (err != 0 && err != EBADMSG && err != ENOSPC && err != EINVAL && err != ENOTSUP)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tnd_codec_params p = { 0 };
	const struct tnd_codec *c;
	struct tnd_codec_dec *d;
	size_t at = 1, len, got, room;
	unsigned ch;
	int err;

	if (size < 1)
		return 0;
	c = tnd_codec_get((enum tnd_codec_id)(data[0] & 7));
	if (!c || !c->ops)
		return 0;
	if (c->id == TND_CODEC_OPUS) {
		p.rate = rates[(data[0] >> 3) & 7];
		p.channels = data[0] & 0x40 ? 2 : 1;
	}
	if (c->id == TND_CODEC_ILBC)
		p.mode_ms = data[0] & 0x08 ? 30 : 20;
	if (tnd_codec_dec_alloc(&d, c, &p) != 0)
		abort();
	ch = tnd_codec_dec_channels(d);
	while (at < size) {
		len = data[at++];
		if (len > size - at)
			len = size - at;
		/* a length byte's top bit asks for a loss first */
		room = TND_CODEC_MAX_SAMPLES / ch;
		if (data[at - 1] & 0x80) {
			size_t lost = tnd_codec_dec_rate(d) / 50;  /* 20 ms */

			check(tnd_codec_conceal(d, pcm, lost));
			if (len)
				check(tnd_codec_decode_fec(d, data + at, len, pcm, lost));
		}
		got = 0;
		err = tnd_codec_decode(d, data + at, len, pcm, room, &got);
		check(err);
		if (err == EINVAL || got > room)
			abort();
		at += len;
	}
	tnd_codec_dec_free(d);
	return 0;
}
