/* G.729 (ITU-T G.729 with Annex A/B compatible bitstream, RFC 3551 section
 * 4.5.6) through libbcg729: 10 ms frames of 80 samples and 10 bytes. A
 * packet is whole frames, optionally ended by one 2-byte Annex B SID frame
 * (comfort noise); with Annex B on, the encoder's VAD may also send nothing
 * for a silent frame. annexb=no in the fmtp turns VAD off. Loss is concealed
 * by the decoder's own frame-erasure processing (G.729 section 4.4). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <bcg729/decoder.h>
#include <bcg729/encoder.h>

#include "codecs/codec_int.h"

#define G729_FRAME 80      /* samples in 10 ms */
#define G729_BYTES 10
#define G729_SID_BYTES 2

static bool g729_format_ok(unsigned rate, unsigned channels)
{
	return rate == 8000 && channels == 1;
}

static int g729_enc_alloc(void **stp, const struct tnd_codec_params *p, unsigned rate,
			  unsigned channels)
{
	(void)rate;
	(void)channels;
	*stp = initBcg729EncoderChannel(p->annexb ? 1 : 0);
	return *stp ? 0 : ENOMEM;
}

static void g729_enc_free(void *st)
{
	if (st)
		closeBcg729EncoderChannel(st);
}

static int g729_enc(void *st, const int16_t *pcm, size_t nsamp, uint8_t *out, size_t outsz,
		    size_t *outlen)
{
	uint8_t frame[G729_BYTES], n;
	size_t i, len = 0;

	if (outsz < nsamp / G729_FRAME * G729_BYTES)
		return ENOSPC;
	for (i = 0; i < nsamp; i += G729_FRAME) {
		bcg729Encoder(st, pcm + i, frame, &n);  /* 10 speech, 2 SID, 0 untransmitted */
		/* a SID may only end a packet (RFC 3551 section 4.5.6): a SID
		 * followed by speech, or by a newer SID, in the same packet is
		 * dropped; the decoder simply goes on with what follows */
		if (n && len % G729_BYTES == G729_SID_BYTES)
			len -= G729_SID_BYTES;
		memcpy(out + len, frame, n);
		len += n;
	}
	*outlen = len;
	return 0;
}

static int g729_dec_alloc(void **stp, const struct tnd_codec_params *p, unsigned rate,
			  unsigned channels)
{
	(void)p;
	(void)rate;
	(void)channels;
	*stp = initBcg729DecoderChannel();
	return *stp ? 0 : ENOMEM;
}

static void g729_dec_free(void *st)
{
	if (st)
		closeBcg729DecoderChannel(st);
}

static int g729_dec(void *st, const uint8_t *payload, size_t len, int16_t *pcm, size_t maxsamp,
		    size_t *nsamp)
{
	size_t frames = len / G729_BYTES, sid = len % G729_BYTES, i;

	if (sid != 0 && sid != G729_SID_BYTES)
		return EBADMSG;
	if (frames + (sid != 0) > 6)  /* more than max_ptime */
		return EBADMSG;
	if ((frames + (sid != 0)) * G729_FRAME > maxsamp)
		return ENOSPC;
	for (i = 0; i < frames; i++)
		bcg729Decoder(st, payload + i * G729_BYTES, G729_BYTES, 0, 0, 0,
			      pcm + i * G729_FRAME);
	if (sid)
		bcg729Decoder(st, payload + frames * G729_BYTES, G729_SID_BYTES, 0, 1, 0,
			      pcm + frames * G729_FRAME);
	*nsamp = (frames + (sid != 0)) * G729_FRAME;
	return 0;
}

static int g729_conceal(void *st, int16_t *pcm, size_t nsamp)
{
	static const uint8_t zero[G729_BYTES];  /* not read under erasure */
	int16_t frame[G729_FRAME];
	size_t i, n;

	/* erasure runs in whole frames; a partial last frame is cut */
	for (i = 0; i < nsamp; i += n) {
		n = nsamp - i < G729_FRAME ? nsamp - i : G729_FRAME;
		bcg729Decoder(st, zero, G729_BYTES, 1, 0, 0, frame);
		memcpy(pcm + i, frame, n * sizeof(*pcm));
	}
	return 0;
}

const struct tnd_codec_ops tnd_codec_ops_g729 = {
	.format_ok = g729_format_ok,
	.enc_alloc = g729_enc_alloc,
	.enc_free = g729_enc_free,
	.encode = g729_enc,
	.dec_alloc = g729_dec_alloc,
	.dec_free = g729_dec_free,
	.decode = g729_dec,
	.conceal = g729_conceal,
};
