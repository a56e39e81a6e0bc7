/* RIFF/WAVE reading for hold music ([media] hold_music): the parts of the
 * RIFF layout (chunk id, little-endian size, data padded to an even length)
 * and of the WAVE fmt chunk (format tag, channels, rate, block align, bits,
 * and WAVE_FORMAT_EXTENSIBLE's subformat GUID) that 16-bit PCM needs. Input
 * is untrusted bytes from a file the operator named: every size is checked
 * against what is left before it is used, nothing is written to the input. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "codecs/codecs.h"

#define WAV_FORMAT_PCM 1
#define WAV_FORMAT_EXTENSIBLE 0xFFFE

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static int fail(int err, char *why, size_t whylen, const char *msg)
{
	if (why && whylen)
		snprintf(why, whylen, "%s", msg);
	return err;
}

/* The fmt chunk's fields we need; ENOTSUP for anything but 16-bit PCM. */
static int read_fmt(const uint8_t *p, uint32_t n, struct tnd_wav *w, char *why, size_t whylen)
{
	/* KSDATAFORMAT_SUBTYPE_PCM: its first two bytes are the format tag */
	static const uint8_t pcm_guid_tail[14] = { 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00,
						   0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71 };
	uint16_t tag, ch, align, bits;
	uint32_t rate;

	if (n < 16)
		return fail(EBADMSG, why, whylen, "the fmt chunk is shorter than 16 bytes");
	tag = le16(p);
	ch = le16(p + 2);
	rate = le32(p + 4);
	align = le16(p + 12);
	bits = le16(p + 14);
	if (tag == WAV_FORMAT_EXTENSIBLE) {
		if (n < 40)
			return fail(EBADMSG, why, whylen, "the extensible fmt chunk is too short");
		if (le16(p + 24) != WAV_FORMAT_PCM || memcmp(p + 26, pcm_guid_tail, 14))
			return fail(ENOTSUP, why, whylen,
				    "not linear PCM (the extensible subformat is another)");
	} else if (tag != WAV_FORMAT_PCM) {
		char m[96];

		snprintf(m, sizeof(m), "format tag %u is not linear PCM (1): convert the file "
			 "to 16-bit PCM", tag);
		return fail(ENOTSUP, why, whylen, m);
	}
	if (bits != 16)
		return fail(ENOTSUP, why, whylen, "not 16 bits a sample: convert the file to "
			    "16-bit PCM");
	if (ch != 1 && ch != 2)
		return fail(ENOTSUP, why, whylen, "only mono or stereo files are taken");
	if (rate < 8000 || rate > 48000)
		return fail(ENOTSUP, why, whylen, "the sample rate is outside 8000-48000 Hz");
	if (align != ch * 2)
		return fail(EBADMSG, why, whylen, "the block align does not match 16-bit samples");
	w->rate = rate;
	w->channels = ch;
	return 0;
}

int tnd_wav_parse(const uint8_t *buf, size_t len, struct tnd_wav *w, char *why, size_t whylen)
{
	struct tnd_wav out = { 0 };
	bool have_fmt = false;
	size_t off;
	int err;

	if (!buf || !w)
		return EINVAL;
	if (why && whylen)
		why[0] = '\0';
	if (len < 12 || memcmp(buf, "RIFF", 4) || memcmp(buf + 8, "WAVE", 4))
		return fail(EBADMSG, why, whylen, "not a WAV file (no RIFF/WAVE header)");
	/* the RIFF size is often wrong in files cut short or streamed: the
	 * chunks themselves are checked against the real length instead */
	for (off = 12; len - off >= 8;) {
		const uint8_t *id = buf + off;
		uint32_t n = le32(buf + off + 4);

		off += 8;
		if (n > len - off) {
			if (!memcmp(id, "data", 4) && have_fmt) {
				/* a truncated data chunk: take the samples that are there */
				n = (uint32_t)(len - off);
			} else {
				return fail(EBADMSG, why, whylen,
					    "a chunk runs past the end of the file");
			}
		}
		if (!memcmp(id, "fmt ", 4)) {
			err = read_fmt(buf + off, n, &out, why, whylen);
			if (err)
				return err;
			have_fmt = true;
		} else if (!memcmp(id, "data", 4)) {
			if (!have_fmt)
				return fail(EBADMSG, why, whylen,
					    "the data chunk comes before fmt");
			out.data = buf + off;
			out.frames = n / (out.channels * 2u);
			if (!out.frames)
				return fail(EBADMSG, why, whylen, "the file holds no samples");
			*w = out;
			return 0;
		}
		/* chunks are padded to an even size (RIFF) */
		if ((size_t)n + (n & 1) > len - off)
			break;
		off += (size_t)n + (n & 1);
	}
	return fail(EBADMSG, why, whylen, have_fmt ? "no data chunk" : "no fmt chunk");
}
