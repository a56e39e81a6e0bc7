/* Opus (RFC 6716, RTP payload RFC 7587) through libopus. The RTP clock is
 * always 48000, but encoder and decoder run at the rate the caller asks
 * (8, 12, 16, 24 or 48 kHz): toward a narrowband leg the encoder takes 8 kHz
 * input and the decoder gives 8 kHz directly, with no resampler (issue 10:
 * about 2.4x cheaper than 48 kHz). We send packets of 2.5, 5, 10, 20, 40 or
 * 60 ms, the frame sizes libopus encodes in one call; a 30 ms packet would
 * join three 10 ms frames with the repacketizer, which fails whenever
 * libopus switches mode (SILK, hybrid, CELT) between them, so a 30 ms leg
 * gets its Opus at 20 ms through the framer. Any valid packet decodes.
 * Loss: libopus PLC (decode with no data) and in-band FEC (decode_fec on
 * the next packet). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include <opus/opus.h>

#include "codecs/codec_int.h"


struct opus_enc {
	OpusEncoder *enc;           /* owned */
	unsigned rate, channels;
};

static bool opus_format_ok(unsigned rate, unsigned channels)
{
	return (rate == 8000 || rate == 12000 || rate == 16000 || rate == 24000 ||
		rate == 48000) && (channels == 1 || channels == 2);
}

static opus_int32 max_bandwidth(unsigned maxplaybackrate)
{
	/* RFC 7587 section 6.1: the receiver's maxplaybackrate caps the
	 * audio bandwidth worth encoding */
	if (!maxplaybackrate || maxplaybackrate > 24000)
		return OPUS_BANDWIDTH_FULLBAND;
	if (maxplaybackrate > 16000)
		return OPUS_BANDWIDTH_SUPERWIDEBAND;
	if (maxplaybackrate > 12000)
		return OPUS_BANDWIDTH_WIDEBAND;
	if (maxplaybackrate > 8000)
		return OPUS_BANDWIDTH_MEDIUMBAND;
	return OPUS_BANDWIDTH_NARROWBAND;
}

static int enc_configure(OpusEncoder *enc, const struct tnd_codec_params *p)
{
	int complexity = p->complexity_set ? p->complexity : 10;
	int err;

	if (complexity < 0 || complexity > 10 || p->loss_pct > 100 ||
	    (p->bitrate && (p->bitrate < 6000 || p->bitrate > 510000)))
		return EINVAL;
	err = opus_encoder_ctl(enc, OPUS_SET_COMPLEXITY(complexity));
	if (!err && p->bitrate)
		err = opus_encoder_ctl(enc, OPUS_SET_BITRATE((opus_int32)p->bitrate));
	if (!err)
		err = opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(p->fec ? 1 : 0));
	/* FEC costs bits only when the encoder expects loss */
	if (!err && p->fec)
		err = opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(
						   p->loss_pct ? (int)p->loss_pct : 10));
	if (!err)
		err = opus_encoder_ctl(enc, OPUS_SET_DTX(p->dtx ? 1 : 0));
	if (!err)
		err = opus_encoder_ctl(enc, OPUS_SET_MAX_BANDWIDTH(max_bandwidth(p->maxplaybackrate)));
	return err ? EINVAL : 0;
}

static void opus_enc_free(void *st)
{
	struct opus_enc *o = st;

	if (!o)
		return;
	if (o->enc)
		opus_encoder_destroy(o->enc);
	free(o);
}

static int opus_enc_alloc(void **stp, const struct tnd_codec_params *p, unsigned rate,
			  unsigned channels)
{
	struct opus_enc *o;
	int oerr, err;

	o = calloc(1, sizeof(*o));
	if (!o)
		return ENOMEM;
	o->rate = rate;
	o->channels = channels;
	o->enc = opus_encoder_create((opus_int32)rate, (int)channels, OPUS_APPLICATION_VOIP, &oerr);
	if (!o->enc) {
		err = oerr == OPUS_ALLOC_FAIL ? ENOMEM : EINVAL;
		goto out;
	}
	err = enc_configure(o->enc, p);
 out:
	if (err)
		opus_enc_free(o);
	else
		*stp = o;
	return err;
}

static int opus_enc(void *st, const int16_t *pcm, size_t nsamp, uint8_t *out, size_t outsz,
		    size_t *outlen)
{
	struct opus_enc *o = st;
	size_t ms10 = o->rate / 100;
	opus_int32 r;

	r = opus_encode(o->enc, pcm, (int)nsamp, out, (opus_int32)(outsz > 4000 ? 4000 : outsz));
	if (r < 0)
		return r == OPUS_BUFFER_TOO_SMALL ? ENOSPC : EINVAL;
	/* DTX: a packet of 1 or 2 bytes means "nothing to send" (RFC 7587
	 * section 3.1.3) */
	*outlen = r <= 2 && nsamp >= ms10 ? 0 : (size_t)r;
	return 0;
}

static int opus_dec_alloc(void **stp, const struct tnd_codec_params *p, unsigned rate,
			  unsigned channels)
{
	int oerr;

	(void)p;
	*stp = opus_decoder_create((opus_int32)rate, (int)channels, &oerr);
	if (*stp)
		return 0;
	return oerr == OPUS_ALLOC_FAIL ? ENOMEM : EINVAL;
}

static void opus_dec_free(void *st)
{
	if (st)
		opus_decoder_destroy(st);
}

static int opus_dec(void *st, const uint8_t *payload, size_t len, int16_t *pcm, size_t maxsamp,
		    size_t *nsamp)
{
	int n;

	if (len > 65535)
		return EBADMSG;
	n = opus_decoder_get_nb_samples(st, payload, (opus_int32)len);
	if (n <= 0)
		return EBADMSG;
	if ((size_t)n > maxsamp)
		return ENOSPC;
	n = opus_decode(st, payload, (opus_int32)len, pcm, n, 0);
	if (n < 0)
		return EBADMSG;
	*nsamp = (size_t)n;
	return 0;
}

/* libopus conceals and recovers in multiples of 2.5 ms */
static bool plc_len_ok(void *st, size_t nsamp)
{
	opus_int32 rate;

	return opus_decoder_ctl(st, OPUS_GET_SAMPLE_RATE(&rate)) == OPUS_OK &&
	       nsamp * 400 % (size_t)rate == 0;
}

static int opus_conceal(void *st, int16_t *pcm, size_t nsamp)
{
	if (!plc_len_ok(st, nsamp))
		return EINVAL;
	return opus_decode(st, NULL, 0, pcm, (int)nsamp, 0) < 0 ? EINVAL : 0;
}

static int opus_fec(void *st, const uint8_t *payload, size_t len, int16_t *pcm, size_t nsamp)
{
	if (!plc_len_ok(st, nsamp))
		return EINVAL;
	if (len > 65535)
		return EBADMSG;
	return opus_decode(st, payload, (opus_int32)len, pcm, (int)nsamp, 1) < 0 ? EBADMSG : 0;
}

const struct tnd_codec_ops tnd_codec_ops_opus = {
	.format_ok = opus_format_ok,
	.enc_alloc = opus_enc_alloc,
	.enc_free = opus_enc_free,
	.encode = opus_enc,
	.dec_alloc = opus_dec_alloc,
	.dec_free = opus_dec_free,
	.decode = opus_dec,
	.conceal = opus_conceal,
	.decode_fec = opus_fec,
};
