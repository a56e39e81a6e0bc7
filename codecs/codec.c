/* The codec table and the encoder/decoder wrappers every codec shares.
 * A row says what SDP says about a codec (name, RTP clock, static payload
 * type: RFC 3551 section 6) and what its audio is (native rate, frame
 * length); G.722 is the row where they differ (clock 8000 for 16 kHz audio,
 * RFC 3551 section 4.5.2). The wrappers check arguments once here, so the
 * per-codec code (g711.c, g722.c, g729.c, opus.c, ilbc/) sees only whole packets at
 * a rate it runs at. Any thread; a state is used by one worker at a time. */
#include <errno.h>
#include <stdlib.h>
#include <strings.h>

#include "codecs/codec_int.h"

static const struct tnd_codec table[TND_CODEC_COUNT] = {
	[TND_CODEC_PCMU] = { TND_CODEC_PCMU, "PCMU", 8000, 8000, 1, 0, 10, 0, 60, 0, true,
			     false, &tnd_codec_ops_pcmu },
	[TND_CODEC_PCMA] = { TND_CODEC_PCMA, "PCMA", 8000, 8000, 1, 8, 10, 0, 60, 0, true,
			     false, &tnd_codec_ops_pcma },
	[TND_CODEC_G722] = { TND_CODEC_G722, "G722", 8000, 16000, 1, 9, 10, 0, 60, 0, false,
			     false, &tnd_codec_ops_g722 },
	[TND_CODEC_G729] = { TND_CODEC_G729, "G729", 8000, 8000, 1, 18, 10, 0, 60, 0, true,
			     false, &tnd_codec_ops_g729 },
	/* RFC 7587: clock 48000 and "/2" in rtpmap whatever is sent; 10, 20,
	 * 40, 60 ms (see opus.c for 30) */
	[TND_CODEC_OPUS] = { TND_CODEC_OPUS, "opus", 48000, 48000, 2, -1, 10, 0, 60, 0x2B, true,
			     true, &tnd_codec_ops_opus },
	/* RFC 3952: 20 or 30 ms by mode= (codecs/ilbc/, our own RFC 3951) */
	[TND_CODEC_ILBC] = { TND_CODEC_ILBC, "iLBC", 8000, 8000, 1, -1, 20, 30, 60, 0, true,
			     false, &tnd_codec_ops_ilbc },
};

const struct tnd_codec *tnd_codec_get(enum tnd_codec_id id)
{
	if ((unsigned)id >= TND_CODEC_COUNT)
		return NULL;
	return &table[id];
}

const struct tnd_codec *tnd_codec_find(const char *name, unsigned clock, unsigned channels)
{
	size_t i;

	if (!name)
		return NULL;
	for (i = 0; i < TND_CODEC_COUNT; i++) {
		const struct tnd_codec *c = &table[i];

		if (!c->ops || strcasecmp(c->name, name) != 0)
			continue;
		if (clock && clock != c->clock)
			continue;
		/* rtpmap without channels means 1 (RFC 4566 section 6) */
		if (channels && channels != c->sdp_channels)
			continue;
		return c;
	}
	return NULL;
}

const struct tnd_codec *tnd_codec_by_pt(int pt)
{
	size_t i;

	if (pt < 0 || pt > 95)
		return NULL;
	for (i = 0; i < TND_CODEC_COUNT; i++)
		if (table[i].pt == pt && table[i].ops)
			return &table[i];
	return NULL;
}

unsigned tnd_codec_frame_ms(const struct tnd_codec *c, const struct tnd_codec_params *p)
{
	if (!c)
		return 0;
	if (p && c->frame_ms_alt && p->mode_ms == c->frame_ms_alt)
		return c->frame_ms_alt;
	return c->frame_ms;
}

bool tnd_codec_ptime_ok(const struct tnd_codec *c, const struct tnd_codec_params *p,
			unsigned ptime)
{
	unsigned f = tnd_codec_frame_ms(c, p);

	if (!f || !ptime || ptime > c->max_ptime || ptime % f != 0)
		return false;
	return !c->ptime_mask || (ptime % 10 == 0 && (c->ptime_mask >> (ptime / 10 - 1) & 1));
}

uint32_t tnd_codec_ts_units(const struct tnd_codec *c, unsigned ms)
{
	return c ? (uint32_t)((uint64_t)c->clock * ms / 1000) : 0;
}

/* Fills in the params' defaults: rate and channels. */
static int resolve_format(const struct tnd_codec *c, const struct tnd_codec_params *p,
			  unsigned *rate, unsigned *channels)
{
	*rate = p && p->rate ? p->rate : c->native_rate;
	*channels = p && p->channels ? p->channels : 1;
	return c->ops->format_ok(*rate, *channels) ? 0 : EINVAL;
}

int tnd_codec_enc_alloc(struct tnd_codec_enc **ep, const struct tnd_codec *c,
			const struct tnd_codec_params *p)
{
	static const struct tnd_codec_params none;
	struct tnd_codec_enc *e;
	int err;

	if (!ep || !c)
		return EINVAL;
	if (!c->ops)
		return ENOTSUP;
	if (!p)
		p = &none;
	e = calloc(1, sizeof(*e));
	if (!e)
		return ENOMEM;
	e->codec = c;
	err = resolve_format(c, p, &e->rate, &e->channels);
	if (!err)
		err = c->ops->enc_alloc(&e->st, p, e->rate, e->channels);
	if (err)
		free(e);
	else
		*ep = e;
	return err;
}

void tnd_codec_enc_free(struct tnd_codec_enc *e)
{
	if (!e)
		return;
	e->codec->ops->enc_free(e->st);
	free(e);
}

/* A packet length the codec takes: whole frames up to max_ptime; Opus also
 * its 2.5 and 5 ms frames (RFC 6716 section 2.1.4). */
static bool length_ok(const struct tnd_codec *c, unsigned rate, size_t nsamp)
{
	if (!nsamp || nsamp > TND_CODEC_MAX_SAMPLES)
		return false;
	if (c->id == TND_CODEC_OPUS && (nsamp * 400 == rate || nsamp * 200 == rate))
		return true;
	if (nsamp * 1000 % rate != 0)
		return false;
	/* iLBC's mode is fixed at alloc; codecs/ilbc/ilbc.c checks it */
	return tnd_codec_ptime_ok(c, NULL, (unsigned)(nsamp * 1000 / rate)) ||
	       (c->frame_ms_alt && nsamp * 1000 / rate % c->frame_ms_alt == 0);
}

int tnd_codec_encode(struct tnd_codec_enc *e, const int16_t *pcm, size_t nsamp,
		     uint8_t *out, size_t outsz, size_t *outlen)
{
	if (!e || !pcm || !out || !outlen)
		return EINVAL;
	if (!length_ok(e->codec, e->rate, nsamp))
		return EINVAL;
	return e->codec->ops->encode(e->st, pcm, nsamp, out, outsz, outlen);
}

unsigned tnd_codec_enc_rate(const struct tnd_codec_enc *e)
{
	return e ? e->rate : 0;
}

unsigned tnd_codec_enc_channels(const struct tnd_codec_enc *e)
{
	return e ? e->channels : 0;
}

int tnd_codec_dec_alloc(struct tnd_codec_dec **dp, const struct tnd_codec *c,
			const struct tnd_codec_params *p)
{
	static const struct tnd_codec_params none;
	struct tnd_codec_dec *d;
	int err;

	if (!dp || !c)
		return EINVAL;
	if (!c->ops)
		return ENOTSUP;
	if (!p)
		p = &none;
	d = calloc(1, sizeof(*d));
	if (!d)
		return ENOMEM;
	d->codec = c;
	err = resolve_format(c, p, &d->rate, &d->channels);
	if (!err)
		err = c->ops->dec_alloc(&d->st, p, d->rate, d->channels);
	if (err)
		free(d);
	else
		*dp = d;
	return err;
}

void tnd_codec_dec_free(struct tnd_codec_dec *d)
{
	if (!d)
		return;
	d->codec->ops->dec_free(d->st);
	free(d);
}

int tnd_codec_decode(struct tnd_codec_dec *d, const uint8_t *payload, size_t len,
		     int16_t *pcm, size_t maxsamp, size_t *nsamp)
{
	if (!d || (!payload && len) || !pcm || !nsamp)
		return EINVAL;
	if (!len)
		return EBADMSG;
	return d->codec->ops->decode(d->st, payload, len, pcm, maxsamp, nsamp);
}

int tnd_codec_conceal(struct tnd_codec_dec *d, int16_t *pcm, size_t nsamp)
{
	if (!d || !pcm || !nsamp || nsamp > TND_CODEC_MAX_SAMPLES / d->channels)
		return EINVAL;
	if (!d->codec->ops->conceal)
		return ENOTSUP;
	return d->codec->ops->conceal(d->st, pcm, nsamp);
}

int tnd_codec_decode_fec(struct tnd_codec_dec *d, const uint8_t *payload, size_t len,
			 int16_t *pcm, size_t nsamp)
{
	if (!d || !payload || !len || !pcm || !nsamp ||
	    nsamp > TND_CODEC_MAX_SAMPLES / d->channels)
		return EINVAL;
	if (!d->codec->ops->decode_fec)
		return ENOTSUP;
	return d->codec->ops->decode_fec(d->st, payload, len, pcm, nsamp);
}

unsigned tnd_codec_dec_rate(const struct tnd_codec_dec *d)
{
	return d ? d->rate : 0;
}

unsigned tnd_codec_dec_channels(const struct tnd_codec_dec *d)
{
	return d ? d->channels : 0;
}
