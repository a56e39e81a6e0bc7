/* gateway/media hold music: the WAV loader's conversions and a relayed
 * call's music toward the held party, through a real bridge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gateway/base/obj.h"
#include "gateway/media/media.h"
#include "tests/unit/runner.h"
#include "tests/unit/test_media_fx.h"
#include "webrtc/webrtc.h"

/* ------------------------------------------------------------ hold music */

/* A 16-bit PCM WAV file of `frames` samples a channel (a 660 Hz square). */
static int write_wav(const char *path, unsigned rate, unsigned ch, unsigned bits,
		     unsigned frames)
{
	FILE *f = fopen(path, "wb");
	uint32_t data = frames * ch * bits / 8;
	uint8_t h[44] = "RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0";
	uint32_t v[] = { rate, rate * ch * bits / 8 };

	if (!f)
		return errno;
	h[22] = (uint8_t)ch;
	memcpy(h + 24, &v[0], 4);   /* little-endian host (x86, arm) */
	memcpy(h + 28, &v[1], 4);
	h[32] = (uint8_t)(ch * bits / 8);
	h[34] = (uint8_t)bits;
	memcpy(h + 36, "data", 4);
	memcpy(h + 40, &data, 4);
	fwrite(h, 1, sizeof(h), f);
	for (unsigned i = 0; i < frames * ch; i++) {
		int16_t s = (i / ch) * 660 * 2 / rate % 2 ? 8000 : -8000;

		fwrite(&s, 1, bits / 8, f);
	}
	return fclose(f) ? errno : 0;
}

int test_moh_load(void)
{
	char dir[] = "/tmp/tandem-moh-XXXXXX", path[64], why[256];
	struct tnd_moh *m = NULL;
	FILE *f;

	TEST_ASSERT(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/x.wav", dir);
	TEST_ASSERT(tnd_moh_load(&m, path, why, sizeof(why)) == ENOENT && !m);
	TEST_ASSERT_STR_CONTAINS(why, path);
	f = fopen(path, "w");
	TEST_ASSERT(f);
	fputs("not a wav file at all", f);
	fclose(f);
	TEST_ASSERT(tnd_moh_load(&m, path, why, sizeof(why)) == EBADMSG && !m);
	TEST_ASSERT_STR_CONTAINS(why, "not a WAV file");
	TEST_ASSERT(write_wav(path, 8000, 1, 8, 8000) == 0);
	TEST_ASSERT(tnd_moh_load(&m, path, why, sizeof(why)) == ENOTSUP && !m);
	TEST_ASSERT_STR_CONTAINS(why, "16 bits");
	TEST_ASSERT(write_wav(path, 16000, 1, 16, 800) == 0);   /* 50 ms */
	TEST_ASSERT(tnd_moh_load(&m, path, why, sizeof(why)) == ERANGE && !m);
	TEST_ASSERT_STR_CONTAINS(why, "shorter than");
	TEST_ASSERT(write_wav(path, 44100, 2, 16, 44100) == 0);
	TEST_ASSERT(tnd_moh_load(&m, path, why, sizeof(why)) == 0 && m);
	TEST_ASSERT(tnd_moh_ms(m) == 1000);
	m = tnd_obj_put(m);
	TEST_ASSERT(write_wav(path, 8000, 1, 16, 1600) == 0);   /* 200 ms, no resampling */
	TEST_ASSERT(tnd_moh_load(&m, path, why, sizeof(why)) == 0 && tnd_moh_ms(m) == 200);
	m = tnd_obj_put(m);
	unlink(path);
	rmdir(dir);
	return 0;
}

/* The browser holds a relayed call with music configured: leg B's peer gets
 * the music (660 Hz, in its codec, PCMA) as the continuation of the stream
 * it had (same SSRC, sequence + 1, timestamps on by 160), and after the
 * resume the relayed packets continue that numbering again. */
int test_bridge_hold_music(void)
{
	long live = tnd_obj_live();
	char dir[] = "/tmp/tandem-moh-XXXXXX", path[64], why[256];
	struct tnd_bridge_codec bc = { .pt = 8, .ptime = 20 };
	struct tnd_codec_params cp = { 0 };
	struct tnd_codec_dec *dec = NULL;
	struct tnd_moh *moh = NULL;
	struct fixture f;
	uint8_t r[2048];
	int16_t pcm[160], prev = 0;
	uint16_t next = 0;
	uint32_t ssrc = 0, ts = 0;
	bool have = false;
	int got = 0, flips = 0;

	TEST_ASSERT(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/m.wav", dir);
	TEST_ASSERT(write_wav(path, 16000, 1, 16, 16000) == 0);
	TEST_ASSERT(tnd_moh_load(&moh, path, why, sizeof(why)) == 0);
	unlink(path);
	rmdir(dir);
	bc.codec = tnd_codec_find("PCMA", 8000, 1);
	TEST_ASSERT(bc.codec && tnd_codec_dec_alloc(&dec, bc.codec, &cp) == 0);
	TEST_ASSERT(fixture_up(&f, 0) == 0);
	TEST_ASSERT(relay_run(&f.a, tnd_bridge_port(f.br, 0), &f.b, 0xa1, 100, 5, &next,
			      &have) == 5);
	TEST_ASSERT(tnd_bridge_hold(f.br, true, true) == 0);
	TEST_ASSERT(tnd_bridge_hold_music(f.br, 1, moh, &bc) == 0);
	while (got < 25) {
		ssize_t len = peer_recv(&f.b, r, sizeof(r), 1000);
		size_t n = 0;

		TEST_ASSERT(len > 0);
		if (tnd_demux_classify(r, (size_t)len) == TND_DEMUX_RTCP)
			continue;
		TEST_ASSERT(len == TND_RTP_HDR_LEN + 160 && tnd_rtp_pt(r) == 8);
		TEST_ASSERT(tnd_rtp_seq(r) == next);
		if (got) {
			TEST_ASSERT(tnd_rtp_ssrc(r) == ssrc && tnd_rtp_ts(r) == ts + 160);
		}
		ssrc = tnd_rtp_ssrc(r);
		ts = tnd_rtp_ts(r);
		next++;
		got++;
		TEST_ASSERT(tnd_codec_decode(dec, r + TND_RTP_HDR_LEN, 160, pcm, 160, &n) == 0);
		for (size_t i = 0; i < n; i++, prev = pcm[i - 1])
			flips += (pcm[i] < 0) != (prev < 0);
	}
	/* a 660 Hz square changes sign 1320 times a second: 0.5 s here */
	printf("# music: %d packets, %d sign changes\n", got, flips);
	TEST_ASSERT(flips >= 600 && flips <= 720);
	/* resume: music off first, then the relay, which continues after it
	 * although the browser's own numbering moved on while held */
	TEST_ASSERT(tnd_bridge_hold_music(f.br, 1, NULL, NULL) == 0);
	TEST_ASSERT(tnd_bridge_hold(f.br, false, false) == 0);
	for (int i = 0; i < 20 && peer_recv(&f.b, r, sizeof(r), 40) > 0; i++)
		next = tnd_demux_classify(r, 12) == TND_DEMUX_RTCP ? next :
		       (uint16_t)(tnd_rtp_seq(r) + 1);   /* music still in flight */
	TEST_ASSERT(relay_run(&f.a, tnd_bridge_port(f.br, 0), &f.b, 0xa1, 180, 5, &next,
			      &have) == 5);
	tnd_codec_dec_free(dec);
	moh = tnd_obj_put(moh);
	return fixture_down(&f, live);
}

