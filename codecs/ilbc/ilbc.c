/* iLBC's row of the codec table (RFC 3951 codec, RFC 3952 payload): 8 kHz
 * mono, frames of 20 ms (38 bytes) or 30 ms (50 bytes) by the mode the
 * call negotiated, whole frames per packet (RFC 3952 section 3.2); the
 * decoder follows a peer that sends the other mode. The
 * codec itself is codecs/ilbc/ilbc_*.c. States are sized for their mode at
 * alloc; nothing allocates per frame. One worker owns a state. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codecs/codec_int.h"
#include "codecs/ilbc/ilbc_int.h"

#define TND_ILBC_MAX_FRAMES 3  /* max_ptime 60 ms */

static bool ilbc_format_ok(unsigned rate, unsigned channels)
{
	return rate == 8000 && channels == 1;
}

static const struct tnd_ilbc_mode *mode_of(const struct tnd_codec_params *p)
{
	return tnd_ilbc_mode(p->mode_ms ? p->mode_ms : 20);
}

static int ilbc_enc_alloc(void **stp, const struct tnd_codec_params *p, unsigned rate,
			  unsigned channels)
{
	const struct tnd_ilbc_mode *m = mode_of(p);
	struct tnd_ilbc_enc *e;

	(void)rate;
	(void)channels;
	if (!m)
		return EINVAL;
	e = malloc(sizeof(*e));
	if (!e)
		return ENOMEM;
	tnd_ilbc_enc_init(e, m);
	*stp = e;
	return 0;
}

static void ilbc_enc_free(void *st)
{
	free(st);
}

static int ilbc_enc(void *st, const int16_t *pcm, size_t nsamp, uint8_t *out, size_t outsz,
		    size_t *outlen)
{
	struct tnd_ilbc_enc *e = st;
	size_t frames, i;

	/* codec.c let any multiple of 10 ms through: the mode decides */
	if (nsamp % e->m->block)
		return EINVAL;
	frames = nsamp / e->m->block;
	if (frames > TND_ILBC_MAX_FRAMES)
		return EINVAL;
	if (outsz < frames * e->m->bytes)
		return ENOSPC;
	for (i = 0; i < frames; i++)
		tnd_ilbc_encode_frame(e, pcm + i * e->m->block, out + i * e->m->bytes);
	*outlen = frames * e->m->bytes;
	return 0;
}

static int ilbc_dec_alloc(void **stp, const struct tnd_codec_params *p, unsigned rate,
			  unsigned channels)
{
	const struct tnd_ilbc_mode *m = mode_of(p);
	struct tnd_ilbc_dec *d;

	(void)rate;
	(void)channels;
	if (!m)
		return EINVAL;
	d = malloc(sizeof(*d));
	if (!d)
		return ENOMEM;
	tnd_ilbc_dec_init(d, m);
	*stp = d;
	return 0;
}

static void ilbc_dec_free(void *st)
{
	free(st);
}

/* Frames in a payload of len bytes for mode m; 0 if it is not whole
 * frames within max_ptime. */
static size_t frames_of(const struct tnd_ilbc_mode *m, size_t len)
{
	return len % m->bytes || len / m->bytes > TND_ILBC_MAX_FRAMES ? 0 : len / m->bytes;
}

static int ilbc_dec(void *st, const uint8_t *payload, size_t len, int16_t *pcm, size_t maxsamp,
		    size_t *nsamp)
{
	struct tnd_ilbc_dec *d = st;
	const struct tnd_ilbc_mode *other = tnd_ilbc_mode(d->m->ms == 20 ? 30 : 20);
	size_t frames = frames_of(d->m, len), i;

	/* RFC 3952 section 3.2: the length tells the mode (38, 76, 114 or
	 * 50, 100 bytes never collide); a peer that sends the other mode than
	 * the SDP said is followed, its first frame decoded from a fresh state */
	if (!frames && frames_of(other, len)) {
		if (frames_of(other, len) * other->block > maxsamp)
			return ENOSPC;
		tnd_ilbc_dec_init(d, other);
		frames = frames_of(other, len);
	}
	if (!frames)
		return EBADMSG;
	if (frames * d->m->block > maxsamp)
		return ENOSPC;
	/* a frame the RFC calls empty or corrupt is concealed in its place */
	for (i = 0; i < frames; i++)
		tnd_ilbc_decode_frame(d, payload + i * d->m->bytes, pcm + i * d->m->block);
	*nsamp = frames * d->m->block;
	return 0;
}

static int ilbc_conceal(void *st, int16_t *pcm, size_t nsamp)
{
	struct tnd_ilbc_dec *d = st;
	int16_t frame[TND_ILBC_MAX_BLOCK];
	size_t i, n;

	/* whole frames; a partial last one is cut */
	for (i = 0; i < nsamp; i += n) {
		n = nsamp - i < d->m->block ? nsamp - i : d->m->block;
		tnd_ilbc_decode_frame(d, NULL, frame);
		memcpy(pcm + i, frame, n * sizeof(*pcm));
	}
	return 0;
}

const struct tnd_codec_ops tnd_codec_ops_ilbc = {
	.format_ok = ilbc_format_ok,
	.enc_alloc = ilbc_enc_alloc,
	.enc_free = ilbc_enc_free,
	.encode = ilbc_enc,
	.dec_alloc = ilbc_dec_alloc,
	.dec_free = ilbc_dec_free,
	.decode = ilbc_dec,
	.conceal = ilbc_conceal,
};

int tnd_codec_ilbc_mode(const char *fmtp, unsigned *mode_ms)
{
	const char *p = fmtp;

	if (!mode_ms)
		return EINVAL;
	*mode_ms = 30;  /* RFC 3952 section 5: no mode= means 30 ms */
	while (p && *p) {
		while (*p == ' ' || *p == ';' || *p == '\t')
			p++;
		if (!strncasecmp(p, "mode", 4)) {
			const char *v = p + 4;

			while (*v == ' ')
				v++;
			if (*v == '=') {
				v++;
				while (*v == ' ')
					v++;
				bool end = v[0] && v[1] && strchr(" ;", v[2]);

				/* strchr finds the terminating NUL too */
				if (end && !strncmp(v, "20", 2))
					*mode_ms = 20;
				else if (end && !strncmp(v, "30", 2))
					*mode_ms = 30;
				else
					return EBADMSG;
				return 0;
			}
		}
		p = strchr(p, ';');
	}
	return 0;
}
