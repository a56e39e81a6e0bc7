/* G.722 at 64 kbit/s (ITU-T G.722, RFC 3551 section 4.5.2) through spandsp:
 * 16 kHz audio, one byte per two samples, so any byte string decodes. The
 * RTP clock is 8000 although the audio is 16 kHz (an error in RFC 1890 kept
 * for compatibility); the table row carries both, and this file sees only
 * 16 kHz samples. spandsp's G.722 has no PLC: the jitter buffer's generic
 * concealment covers a lost G.722 packet (the row's has_plc is false). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

/* spandsp's headers expect the integer types declared first */
#include <stdint.h>
#include <spandsp/telephony.h>
#include <spandsp/g722.h>

#include "codecs/codec_int.h"

static bool g722_format_ok(unsigned rate, unsigned channels)
{
	return rate == 16000 && channels == 1;
}

static int g722_enc_alloc(void **stp, const struct tnd_codec_params *p, unsigned rate,
			  unsigned channels)
{
	(void)p;
	(void)rate;
	(void)channels;
	/* options 0: 16 kHz samples in, one byte per pair out (unpacked) */
	*stp = g722_encode_init(NULL, 64000, 0);
	return *stp ? 0 : ENOMEM;
}

static void g722_enc_free(void *st)
{
	g722_encode_free(st);
}

static int g722_enc(void *st, const int16_t *pcm, size_t nsamp, uint8_t *out, size_t outsz,
		    size_t *outlen)
{
	if (outsz < nsamp / 2)
		return ENOSPC;
	*outlen = (size_t)g722_encode(st, out, pcm, (int)nsamp);
	return 0;
}

static int g722_dec_alloc(void **stp, const struct tnd_codec_params *p, unsigned rate,
			  unsigned channels)
{
	(void)p;
	(void)rate;
	(void)channels;
	*stp = g722_decode_init(NULL, 64000, 0);
	return *stp ? 0 : ENOMEM;
}

static void g722_dec_free(void *st)
{
	g722_decode_free(st);
}

static int g722_dec(void *st, const uint8_t *payload, size_t len, int16_t *pcm, size_t maxsamp,
		    size_t *nsamp)
{
	if (len > TND_CODEC_MAX_SAMPLES / 2)
		return EBADMSG;
	if (len * 2 > maxsamp)
		return ENOSPC;
	*nsamp = (size_t)g722_decode(st, pcm, payload, (int)len);
	return 0;
}

const struct tnd_codec_ops tnd_codec_ops_g722 = {
	.format_ok = g722_format_ok,
	.enc_alloc = g722_enc_alloc,
	.enc_free = g722_enc_free,
	.encode = g722_enc,
	.dec_alloc = g722_dec_alloc,
	.dec_free = g722_dec_free,
	.decode = g722_dec,
};
