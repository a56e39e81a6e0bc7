/* codecs/ private: the per-codec functions behind a table row, and the
 * encoder/decoder wrappers codec.c hands out. Each codec file (g711.c,
 * g722.c, g729.c, opus.c) defines one tnd_codec_ops; codec.c has checked
 * the arguments (lengths in whole frames, rates the row accepts) before any
 * of them runs, so they check only what depends on the codec's own data. */
#ifndef TND_CODECS_CODEC_INT_H
#define TND_CODECS_CODEC_INT_H

#include "codecs/codecs.h"

struct tnd_codec_ops {
	/* true when the codec runs at this PCM rate and channel count */
	bool (*format_ok)(unsigned rate, unsigned channels);
	int (*enc_alloc)(void **stp, const struct tnd_codec_params *p, unsigned rate,
			 unsigned channels);
	void (*enc_free)(void *st);
	/* nsamp per channel, already checked to be a packet the codec takes */
	int (*encode)(void *st, const int16_t *pcm, size_t nsamp, uint8_t *out, size_t outsz,
		      size_t *outlen);
	int (*dec_alloc)(void **stp, const struct tnd_codec_params *p, unsigned rate,
			 unsigned channels);
	void (*dec_free)(void *st);
	int (*decode)(void *st, const uint8_t *payload, size_t len, int16_t *pcm, size_t maxsamp,
		      size_t *nsamp);
	int (*conceal)(void *st, int16_t *pcm, size_t nsamp);  /* NULL: none */
	int (*decode_fec)(void *st, const uint8_t *payload, size_t len, int16_t *pcm,
			  size_t nsamp);                        /* NULL: none */
};

struct tnd_codec_enc {
	const struct tnd_codec *codec;  /* borrowed: a static table row */
	unsigned rate, channels;
	void *st;                       /* owned: the codec's state */
};

struct tnd_codec_dec {
	const struct tnd_codec *codec;  /* borrowed: a static table row */
	unsigned rate, channels;
	void *st;                       /* owned: the codec's state */
};

extern const struct tnd_codec_ops tnd_codec_ops_pcmu;
extern const struct tnd_codec_ops tnd_codec_ops_pcma;
extern const struct tnd_codec_ops tnd_codec_ops_g722;
extern const struct tnd_codec_ops tnd_codec_ops_g729;
extern const struct tnd_codec_ops tnd_codec_ops_opus;
extern const struct tnd_codec_ops tnd_codec_ops_ilbc;

/* G.711 sample conversions (ITU-T G.711), exposed for the tests and the
 * in-band DTMF code */
uint8_t tnd_g711_lin2ulaw(int16_t x);
int16_t tnd_g711_ulaw2lin(uint8_t u);
uint8_t tnd_g711_lin2alaw(int16_t x);
int16_t tnd_g711_alaw2lin(uint8_t a);

#endif
