/* PCMU and PCMA (ITU-T G.711, RFC 3551 section 4.5.14): 8 kHz, one byte a
 * sample, so any whole number of samples is a valid payload. The
 * conversions follow G.711's segment tables directly (mu-law: bias 33 on the
 * 14-bit magnitude, A-law: 13-bit magnitude, even bits inverted); no lookup
 * table, so there is nothing to initialise lazily. Loss is concealed with
 * spandsp's plc_* (pitch repetition, G.711 Appendix I style), which needs
 * every decoded frame through plc_rx(). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* spandsp's headers expect the integer types declared first */
#include <stdint.h>
#include <spandsp/telephony.h>
#include <spandsp/plc.h>

#include "codecs/codec_int.h"

#define ULAW_BIAS 0x84   /* 33 on the 14-bit scale, shifted to 16 bits */
#define ULAW_CLIP 32635  /* keeps magnitude + bias within 15 bits */

uint8_t tnd_g711_lin2ulaw(int16_t x)
{
	int v = x, sign = 0, exp, mant;

	if (v < 0) {
		sign = 0x80;
		v = -v;
	}
	if (v > ULAW_CLIP)
		v = ULAW_CLIP;
	v += ULAW_BIAS;
	/* the segment is the position of the top bit above bit 7 */
	for (exp = 7; exp > 0 && !(v & (0x80 << exp)); exp--)
		;
	mant = (v >> (exp + 3)) & 0x0F;
	return (uint8_t)~(sign | (exp << 4) | mant);
}

int16_t tnd_g711_ulaw2lin(uint8_t u)
{
	int exp, mant, v;

	u = (uint8_t)~u;
	exp = (u >> 4) & 7;
	mant = u & 0x0F;
	v = (((mant << 3) + ULAW_BIAS) << exp) - ULAW_BIAS;
	return (int16_t)((u & 0x80) ? -v : v);
}

uint8_t tnd_g711_lin2alaw(int16_t x)
{
	int v = x, mask, seg;

	if (v >= 0) {
		mask = 0xD5;      /* sign bit set, even bits inverted */
	} else {
		mask = 0x55;
		v = -v - 1;       /* one's complement: -1 maps like 0 */
	}
	v >>= 3;                  /* 13-bit magnitude */
	for (seg = 0; seg < 8 && v >= (0x20 << seg); seg++)
		;
	if (seg >= 8)
		return (uint8_t)(0x7F ^ mask);
	v = seg < 2 ? (v >> 1) & 0x0F : (v >> seg) & 0x0F;
	return (uint8_t)(((seg << 4) | v) ^ mask);
}

int16_t tnd_g711_alaw2lin(uint8_t a)
{
	int seg, v;

	a ^= 0x55;
	v = (a & 0x0F) << 4;
	seg = (a >> 4) & 7;
	/* decision level mid-points: +8 in segment 0, +0x108 then shifted */
	v = seg == 0 ? v + 8 : (v + 0x108) << (seg - 1);
	return (int16_t)((a & 0x80) ? v : -v);
}

static bool g711_format_ok(unsigned rate, unsigned channels)
{
	return rate == 8000 && channels == 1;
}

static int g711_enc_alloc(void **stp, const struct tnd_codec_params *p, unsigned rate,
			  unsigned channels)
{
	(void)p;
	(void)rate;
	(void)channels;
	*stp = NULL;  /* stateless */
	return 0;
}

static void g711_enc_free(void *st)
{
	(void)st;
}

static int ulaw_encode(void *st, const int16_t *pcm, size_t nsamp, uint8_t *out, size_t outsz,
		       size_t *outlen)
{
	size_t i;

	(void)st;
	if (outsz < nsamp)
		return ENOSPC;
	for (i = 0; i < nsamp; i++)
		out[i] = tnd_g711_lin2ulaw(pcm[i]);
	*outlen = nsamp;
	return 0;
}

static int alaw_encode(void *st, const int16_t *pcm, size_t nsamp, uint8_t *out, size_t outsz,
		       size_t *outlen)
{
	size_t i;

	(void)st;
	if (outsz < nsamp)
		return ENOSPC;
	for (i = 0; i < nsamp; i++)
		out[i] = tnd_g711_lin2alaw(pcm[i]);
	*outlen = nsamp;
	return 0;
}

static int g711_dec_alloc(void **stp, const struct tnd_codec_params *p, unsigned rate,
			  unsigned channels)
{
	(void)p;
	(void)rate;
	(void)channels;
	*stp = plc_init(NULL);
	return *stp ? 0 : ENOMEM;
}

static void g711_dec_free(void *st)
{
	plc_free(st);
}

static int g711_decode(void *st, const uint8_t *payload, size_t len, int16_t *pcm,
		       size_t maxsamp, size_t *nsamp, int16_t (*conv)(uint8_t))
{
	size_t i;

	if (len > maxsamp)
		return ENOSPC;
	if (len > TND_CODEC_MAX_SAMPLES)
		return EBADMSG;
	for (i = 0; i < len; i++)
		pcm[i] = conv(payload[i]);
	/* the PLC keeps the recent signal to repeat, and fades back in after a
	 * concealed gap */
	plc_rx(st, pcm, (int)len);
	*nsamp = len;
	return 0;
}

static int ulaw_decode(void *st, const uint8_t *payload, size_t len, int16_t *pcm,
		       size_t maxsamp, size_t *nsamp)
{
	return g711_decode(st, payload, len, pcm, maxsamp, nsamp, tnd_g711_ulaw2lin);
}

static int alaw_decode(void *st, const uint8_t *payload, size_t len, int16_t *pcm,
		       size_t maxsamp, size_t *nsamp)
{
	return g711_decode(st, payload, len, pcm, maxsamp, nsamp, tnd_g711_alaw2lin);
}

/* spandsp 0.0.6's plc_fillin() starts a loss by rotating its history ring
 * with memcpy on overlapping ranges whenever the ring's position is below
 * half its length (undefined behaviour; ASan's memcpy-param-overlap, found
 * by fuzz_codec_dec). Rotating it here first leaves position 0, which
 * spandsp then copies onto itself unchanged. */
static void plc_rotate_history(plc_state_t *s)
{
	int16_t tmp[PLC_HISTORY_LEN];
	int tail;

	if (s->missing_samples || s->buf_ptr <= 0 || s->buf_ptr >= PLC_HISTORY_LEN)
		return;
	tail = PLC_HISTORY_LEN - s->buf_ptr;
	memcpy(tmp, s->history + s->buf_ptr, (size_t)tail * sizeof(*tmp));
	memcpy(tmp + tail, s->history, (size_t)s->buf_ptr * sizeof(*tmp));
	memcpy(s->history, tmp, sizeof(tmp));
	s->buf_ptr = 0;
}

static int g711_conceal(void *st, int16_t *pcm, size_t nsamp)
{
	plc_rotate_history(st);
	plc_fillin(st, pcm, (int)nsamp);
	return 0;
}

const struct tnd_codec_ops tnd_codec_ops_pcmu = {
	.format_ok = g711_format_ok,
	.enc_alloc = g711_enc_alloc,
	.enc_free = g711_enc_free,
	.encode = ulaw_encode,
	.dec_alloc = g711_dec_alloc,
	.dec_free = g711_dec_free,
	.decode = ulaw_decode,
	.conceal = g711_conceal,
};

const struct tnd_codec_ops tnd_codec_ops_pcma = {
	.format_ok = g711_format_ok,
	.enc_alloc = g711_enc_alloc,
	.enc_free = g711_enc_free,
	.encode = alaw_encode,
	.dec_alloc = g711_dec_alloc,
	.dec_free = g711_dec_free,
	.decode = alaw_decode,
	.conceal = g711_conceal,
};
