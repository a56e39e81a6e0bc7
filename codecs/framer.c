/* The PCM framer: a fixed ring of samples between a decoder (or resampler)
 * and an encoder whose packet times differ, e.g. 30 ms iLBC in and 20 ms
 * Opus out, or 10 ms G.729 frames gathered into 20 or 30 ms packets. It
 * allocates only at alloc; push and pop copy at most twice (the wrap). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"

struct tnd_framer {
	size_t cap;        /* samples (all channels) */
	size_t head, len;  /* read position and fill, in samples */
	unsigned channels;
	int16_t buf[];     /* cap samples */
};

int tnd_framer_alloc(struct tnd_framer **fp, size_t capacity, unsigned channels)
{
	struct tnd_framer *f;

	if (!fp || !capacity || capacity > 48000 * 2 || (channels != 1 && channels != 2))
		return EINVAL;
	f = calloc(1, sizeof(*f) + capacity * channels * sizeof(int16_t));
	if (!f)
		return ENOMEM;
	f->cap = capacity * channels;
	f->channels = channels;
	*fp = f;
	return 0;
}

void tnd_framer_free(struct tnd_framer *f)
{
	free(f);
}

int tnd_framer_push(struct tnd_framer *f, const int16_t *pcm, size_t n)
{
	size_t tail, first;

	if (!f || (!pcm && n))
		return EINVAL;
	if (!n)
		return 0;
	n *= f->channels;
	if (n > f->cap - f->len)
		return ENOSPC;
	tail = (f->head + f->len) % f->cap;
	first = f->cap - tail < n ? f->cap - tail : n;
	memcpy(f->buf + tail, pcm, first * sizeof(*pcm));
	memcpy(f->buf, pcm + first, (n - first) * sizeof(*pcm));
	f->len += n;
	return 0;
}

int tnd_framer_pop(struct tnd_framer *f, int16_t *pcm, size_t n)
{
	size_t first;

	if (!f || (!pcm && n))
		return EINVAL;
	if (!n)
		return 0;
	n *= f->channels;
	if (n > f->len)
		return EAGAIN;
	first = f->cap - f->head < n ? f->cap - f->head : n;
	memcpy(pcm, f->buf + f->head, first * sizeof(*pcm));
	memcpy(pcm + first, f->buf, (n - first) * sizeof(*pcm));
	f->head = (f->head + n) % f->cap;
	f->len -= n;
	return 0;
}

size_t tnd_framer_level(const struct tnd_framer *f)
{
	return f ? f->len / f->channels : 0;
}

void tnd_framer_reset(struct tnd_framer *f)
{
	if (f)
		f->head = f->len = 0;
}
