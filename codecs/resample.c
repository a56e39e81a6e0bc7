/* Sample-rate conversion between the legs (8, 16 and 48 kHz) with speexdsp's
 * resampler: the filter state is made at alloc, and each call converts one
 * frame into the caller's buffer. speexdsp may keep up to a sample of a
 * frame for the next call, so an output frame can be one sample short or
 * long; the PCM framer (framer.c) downstream evens that out. */
#include <errno.h>
#include <stdlib.h>

#include <speex/speex_resampler.h>

#include "codecs/codecs.h"

struct tnd_resampler {
	SpeexResamplerState *st;  /* owned */
	unsigned in_rate, out_rate, channels;
};

int tnd_resampler_alloc(struct tnd_resampler **rp, unsigned in_rate, unsigned out_rate,
			unsigned channels, int quality)
{
	struct tnd_resampler *r;
	int serr;

	if (!rp || in_rate < 8000 || in_rate > 48000 || out_rate < 8000 || out_rate > 48000 ||
	    (channels != 1 && channels != 2) || quality < -1 || quality > 10)
		return EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return ENOMEM;
	r->in_rate = in_rate;
	r->out_rate = out_rate;
	r->channels = channels;
	r->st = speex_resampler_init(channels, in_rate, out_rate,
				     quality < 0 ? SPEEX_RESAMPLER_QUALITY_VOIP : quality, &serr);
	if (!r->st) {
		free(r);
		return serr == RESAMPLER_ERR_ALLOC_FAILED ? ENOMEM : EINVAL;
	}
	/* no ramp of zeros at the start: the first frame is audible at once */
	speex_resampler_skip_zeros(r->st);
	*rp = r;
	return 0;
}

void tnd_resampler_free(struct tnd_resampler *r)
{
	if (!r)
		return;
	speex_resampler_destroy(r->st);
	free(r);
}

size_t tnd_resampler_out_max(const struct tnd_resampler *r, size_t nin)
{
	/* the ratio rounded up, plus the sample speexdsp may carry over */
	return r ? (nin * r->out_rate + r->in_rate - 1) / r->in_rate + 2 : 0;
}

int tnd_resampler_process(struct tnd_resampler *r, const int16_t *in, size_t nin,
			  int16_t *out, size_t maxout, size_t *nout)
{
	spx_uint32_t ilen, olen;
	int err;

	if (!r || (!in && nin) || !out || !nout || nin > TND_CODEC_MAX_SAMPLES)
		return EINVAL;
	if (maxout < tnd_resampler_out_max(r, nin))
		return ENOSPC;
	ilen = (spx_uint32_t)nin;
	olen = (spx_uint32_t)maxout;
	if (r->channels == 1)
		err = speex_resampler_process_int(r->st, 0, in, &ilen, out, &olen);
	else
		err = speex_resampler_process_interleaved_int(r->st, in, &ilen, out, &olen);
	if (err != RESAMPLER_ERR_SUCCESS)
		return EINVAL;
	/* with room for the whole ratio, speexdsp consumes all input */
	*nout = olen;
	return 0;
}

unsigned tnd_resampler_delay(const struct tnd_resampler *r)
{
	return r ? (unsigned)speex_resampler_get_input_latency(r->st) : 0;
}
