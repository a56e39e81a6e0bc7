/* codecs/ unit tests at signal level (style guide R11): each codec encodes
 * about a second of a 1 kHz tone at -10 dBFS in packets of every ptime it
 * allows, decodes it, and the result must keep the tone's frequency (the
 * strongest of a Goertzel scan) and level, with a tone-to-rest ratio fitting
 * the codec. G.711 is also checked sample by sample against G.711's tables
 * (known code words, every code word round trip). Decoders get garbage and
 * must refuse it or decode it without harm; the resampler keeps a tone
 * through 8k -> 48k -> 8k; the framer re-slices PCM without a seam. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codecs/codecs.h"
#include "codecs/codec_int.h"  /* the G.711 sample conversions */
#include "tests/unit/runner.h"

#define TONE_DBFS -10.0
#define PI 3.14159265358979323846

/* 1.1 s at 48 kHz stereo, room for any ptime's rounding */
#define SIG_MAX (48000 * 2 * 11 / 10)
static int16_t sig_in[SIG_MAX], sig_out[SIG_MAX];

static void tone(int16_t *x, size_t n, unsigned channels, unsigned rate, double freq,
		 double dbfs)
{
	double a = 32767.0 * pow(10.0, dbfs / 20.0);
	size_t i;
	unsigned c;

	for (i = 0; i < n; i++)
		for (c = 0; c < channels; c++)
			x[i * channels + c] = (int16_t)lrint(a * sin(2 * PI * freq * (double)i / rate));
}

/* Amplitude of the component at freq in n samples of channel ch
 * (Goertzel; n spans whole cycles of every frequency we scan). */
static double goertzel(const int16_t *x, size_t n, unsigned channels, unsigned ch,
		       unsigned rate, double freq)
{
	double w = 2 * PI * freq / rate, k = 2 * cos(w), s0, s1 = 0, s2 = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		s0 = x[i * channels + ch] + k * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	return 2 * sqrt(s1 * s1 + s2 * s2 - k * s1 * s2) / (double)n;
}

static double mean_power(const int16_t *x, size_t n, unsigned channels, unsigned ch)
{
	double p = 0;
	size_t i;

	for (i = 0; i < n; i++)
		p += (double)x[i * channels + ch] * x[i * channels + ch];
	return p / (double)n;
}

/* The strongest frequency between 100 Hz and Nyquist - 100, in 50 Hz steps */
static double peak_freq(const int16_t *x, size_t n, unsigned channels, unsigned ch,
			unsigned rate)
{
	double best = 0, bestf = 0, f, a;

	for (f = 100; f <= rate / 2.0 - 100; f += 50) {
		a = goertzel(x, n, channels, ch, rate, f);
		if (a > best) {
			best = a;
			bestf = f;
		}
	}
	return bestf;
}

struct tone_check {
	double freq_found;
	double level_db;   /* decoded tone amplitude over the input's, dB */
	double purity_db;  /* tone power over everything else, dB */
};

/* Analyses the last half second of channel ch of x (n samples per channel),
 * or all of it when shorter (then n must span whole 50 Hz cycles). */
static void analyse(const int16_t *x, size_t n, unsigned channels, unsigned ch, unsigned rate,
		    double freq, struct tone_check *tc)
{
	size_t win = n < rate / 2 ? n : rate / 2;
	const int16_t *w = x + (n - win) * channels;
	double a = goertzel(w, win, channels, ch, rate, freq);
	double pt = a * a / 2, pall = mean_power(w, win, channels, ch);
	double a_in = 32767.0 * pow(10.0, TONE_DBFS / 20.0);

	tc->freq_found = peak_freq(w, win, channels, ch, rate);
	tc->level_db = 20 * log10(a / a_in + 1e-12);
	tc->purity_db = 10 * log10(pt / (pall - pt > 1e-9 ? pall - pt : 1e-9));
}

/* Encodes ~1 s of tone in packets of ptime_us, decodes each, and checks
 * the result. Returns 0 or prints why not. */
static int roundtrip(enum tnd_codec_id id, const struct tnd_codec_params *p, unsigned ptime_us,
		     double freq, double min_purity, double max_level_err)
{
	const struct tnd_codec *c = tnd_codec_get(id);
	struct tnd_codec_enc *e = NULL;
	struct tnd_codec_dec *d = NULL;
	uint8_t pkt[TND_CODEC_MAX_PAYLOAD];
	size_t per, npkt, i, len, got, out = 0;
	unsigned rate, ch, k;
	struct tone_check tc;
	int err;

	TEST_ASSERT(tnd_codec_enc_alloc(&e, c, p) == 0);
	TEST_ASSERT(tnd_codec_dec_alloc(&d, c, p) == 0);
	rate = tnd_codec_enc_rate(e);
	ch = tnd_codec_enc_channels(e);
	TEST_ASSERT(rate == tnd_codec_dec_rate(d) && ch == tnd_codec_dec_channels(d));
	per = (size_t)rate * ptime_us / 1000000;
	npkt = (rate + per - 1) / per;
	TEST_ASSERT(npkt * per * ch <= SIG_MAX);
	tone(sig_in, npkt * per, ch, rate, freq, TONE_DBFS);
	for (i = 0; i < npkt; i++) {
		err = tnd_codec_encode(e, sig_in + i * per * ch, per, pkt, sizeof(pkt), &len);
		if (err)
			printf("# %s encode %zu samples: %d\n", c->name, per, err);
		TEST_ASSERT(err == 0);
		TEST_ASSERT(len > 0);  /* a tone is never silence to VAD or DTX */
		if (id == TND_CODEC_G729)
			TEST_ASSERT(len == per / 8);  /* 10 bytes per 10 ms */
		err = tnd_codec_decode(d, pkt, len, sig_out + out * ch, SIG_MAX / ch - out, &got);
		TEST_ASSERT(err == 0);
		TEST_ASSERT(got == per);
		out += got;
	}
	for (k = 0; k < ch; k++) {
		analyse(sig_out, out, ch, k, rate, freq, &tc);
		if (fabs(tc.freq_found - freq) > 1 || fabs(tc.level_db) > max_level_err ||
		    tc.purity_db < min_purity) {
			printf("# %s %u Hz ptime %.1f ms ch %u: peak %.0f Hz, level %+.2f dB, "
			       "purity %.1f dB\n", c->name, rate, ptime_us / 1000.0, k,
			       tc.freq_found, tc.level_db, tc.purity_db);
			tnd_codec_enc_free(e);
			tnd_codec_dec_free(d);
			return 1;
		}
	}
	tnd_codec_enc_free(e);
	tnd_codec_dec_free(d);
	return 0;
}

static const unsigned ptimes[] = { 10, 20, 30, 40, 60 };

/* Every ptime the row accepts, through roundtrip() */
static int all_ptimes(enum tnd_codec_id id, const struct tnd_codec_params *p, double freq,
		      double min_purity, double max_level_err)
{
	const struct tnd_codec *c = tnd_codec_get(id);
	size_t i;

	for (i = 0; i < sizeof(ptimes) / sizeof(ptimes[0]); i++) {
		/* Opus sends no 30 ms packets (codecs/opus.c) */
		if (id == TND_CODEC_OPUS && ptimes[i] == 30) {
			TEST_ASSERT(!tnd_codec_ptime_ok(c, p, 30));
			continue;
		}
		TEST_ASSERT(tnd_codec_ptime_ok(c, p, ptimes[i]));
		if (roundtrip(id, p, ptimes[i] * 1000, freq, min_purity, max_level_err))
			return 1;
	}
	return 0;
}

static int test_table(void)
{
	const struct tnd_codec *g722 = tnd_codec_find("g722", 8000, 1);
	const struct tnd_codec *ilbc = tnd_codec_get(TND_CODEC_ILBC);
	struct tnd_codec_params p = { .mode_ms = 30 };
	struct tnd_codec_enc *e;

	TEST_ASSERT(tnd_codec_find("pcmu", 8000, 0) == tnd_codec_get(TND_CODEC_PCMU));
	TEST_ASSERT(tnd_codec_find("PCMA", 0, 1) == tnd_codec_get(TND_CODEC_PCMA));
	TEST_ASSERT(tnd_codec_find("opus", 48000, 2) == tnd_codec_get(TND_CODEC_OPUS));
	TEST_ASSERT(tnd_codec_find("opus", 8000, 2) == NULL);
	TEST_ASSERT(tnd_codec_find("G729", 8000, 1)->frame_ms == 10);
	/* RFC 3551's G.722 quirk: 8000 in SDP and timestamps, 16 kHz audio */
	TEST_ASSERT(g722 && g722->clock == 8000 && g722->native_rate == 16000);
	TEST_ASSERT(tnd_codec_ts_units(g722, 20) == 160);
	TEST_ASSERT(tnd_codec_ts_units(tnd_codec_get(TND_CODEC_OPUS), 20) == 960);
	TEST_ASSERT(tnd_codec_by_pt(0)->id == TND_CODEC_PCMU);
	TEST_ASSERT(tnd_codec_by_pt(8)->id == TND_CODEC_PCMA);
	TEST_ASSERT(tnd_codec_by_pt(9)->id == TND_CODEC_G722);
	TEST_ASSERT(tnd_codec_by_pt(18)->id == TND_CODEC_G729);
	TEST_ASSERT(tnd_codec_by_pt(96) == NULL && tnd_codec_by_pt(-1) == NULL);
	TEST_ASSERT(tnd_codec_get(TND_CODEC_COUNT) == NULL);
	TEST_ASSERT(!tnd_codec_ptime_ok(tnd_codec_get(TND_CODEC_G729), NULL, 25));
	TEST_ASSERT(!tnd_codec_ptime_ok(tnd_codec_get(TND_CODEC_G729), NULL, 70));
	/* iLBC: two modes in one row (codecs/ilbc/, tests/unit/test_ilbc.c) */
	TEST_ASSERT(tnd_codec_frame_ms(ilbc, NULL) == 20);
	TEST_ASSERT(tnd_codec_frame_ms(ilbc, &p) == 30);
	TEST_ASSERT(!tnd_codec_ptime_ok(ilbc, &p, 20) && tnd_codec_ptime_ok(ilbc, &p, 60));
	TEST_ASSERT(tnd_codec_find("iLBC", 8000, 1) == ilbc);
	TEST_ASSERT(tnd_codec_enc_alloc(&e, ilbc, &p) == 0);
	tnd_codec_enc_free(e);
	return 0;
}

/* ITU-T G.711 code words: Table 1a/1b (mu-law), 2a/2b (A-law) */
static int test_g711_known_values(void)
{
	int v;

	TEST_ASSERT(tnd_g711_lin2ulaw(0) == 0xFF);
	TEST_ASSERT(tnd_g711_lin2alaw(0) == 0xD5);
	TEST_ASSERT(tnd_g711_lin2alaw(-1) == 0x55);
	TEST_ASSERT(tnd_g711_ulaw2lin(0xFF) == 0 && tnd_g711_ulaw2lin(0x7F) == 0);
	TEST_ASSERT(tnd_g711_ulaw2lin(0x80) == 32124 && tnd_g711_ulaw2lin(0x00) == -32124);
	TEST_ASSERT(tnd_g711_alaw2lin(0xD5) == 8 && tnd_g711_alaw2lin(0x55) == -8);
	TEST_ASSERT(tnd_g711_alaw2lin(0xAA) == 32256 && tnd_g711_alaw2lin(0x2A) == -32256);
	TEST_ASSERT(tnd_g711_lin2ulaw(32767) == 0x80 && tnd_g711_lin2ulaw(-32768) == 0x00);
	TEST_ASSERT(tnd_g711_lin2alaw(32767) == 0xAA && tnd_g711_lin2alaw(-32768) == 0x2A);
	/* every code word decodes to a value that encodes back to it (mu-law's
	 * negative zero 0x7F encodes as 0xFF) */
	for (v = 0; v < 256; v++) {
		TEST_ASSERT(tnd_g711_lin2alaw(tnd_g711_alaw2lin((uint8_t)v)) == v);
		if (v != 0x7F)
			TEST_ASSERT(tnd_g711_lin2ulaw(tnd_g711_ulaw2lin((uint8_t)v)) == v);
	}
	/* quantising is monotonic: a larger input never gets a smaller value */
	for (v = -32768; v < 32767; v++) {
		TEST_ASSERT(tnd_g711_ulaw2lin(tnd_g711_lin2ulaw((int16_t)v)) <=
			    tnd_g711_ulaw2lin(tnd_g711_lin2ulaw((int16_t)(v + 1))));
		TEST_ASSERT(tnd_g711_alaw2lin(tnd_g711_lin2alaw((int16_t)v)) <=
			    tnd_g711_alaw2lin(tnd_g711_lin2alaw((int16_t)(v + 1))));
	}
	return 0;
}

/* G.711's SNR for a -10 dBFS sine is about 38 dB; sample-aligned, since
 * the codec has no delay */
static int g711_snr(enum tnd_codec_id id)
{
	struct tnd_codec_enc *e;
	struct tnd_codec_dec *d;
	uint8_t pkt[160];
	size_t len, got, i;
	double sig = 0, noise = 0;

	TEST_ASSERT(tnd_codec_enc_alloc(&e, tnd_codec_get(id), NULL) == 0);
	TEST_ASSERT(tnd_codec_dec_alloc(&d, tnd_codec_get(id), NULL) == 0);
	tone(sig_in, 8000, 1, 8000, 1000, TONE_DBFS);
	for (i = 0; i < 8000; i += 160) {
		TEST_ASSERT(tnd_codec_encode(e, sig_in + i, 160, pkt, sizeof(pkt), &len) == 0);
		TEST_ASSERT(len == 160);
		TEST_ASSERT(tnd_codec_decode(d, pkt, len, sig_out + i, 160, &got) == 0);
	}
	for (i = 0; i < 8000; i++) {
		sig += (double)sig_in[i] * sig_in[i];
		noise += (double)(sig_out[i] - sig_in[i]) * (sig_out[i] - sig_in[i]);
	}
	tnd_codec_enc_free(e);
	tnd_codec_dec_free(d);
	TEST_ASSERT(10 * log10(sig / noise) > 35);
	return 0;
}

static int test_pcmu_tone(void)
{
	return g711_snr(TND_CODEC_PCMU) || all_ptimes(TND_CODEC_PCMU, NULL, 1000, 30, 0.2);
}

static int test_pcma_tone(void)
{
	return g711_snr(TND_CODEC_PCMA) || all_ptimes(TND_CODEC_PCMA, NULL, 1000, 30, 0.2);
}

static int test_g722_tone(void)
{
	/* a wideband tone too: 5 kHz only passes a 16 kHz codec */
	return all_ptimes(TND_CODEC_G722, NULL, 1000, 25, 1) ||
	       roundtrip(TND_CODEC_G722, NULL, 20000, 5000, 15, 2);
}

/* Annex B: silence becomes SID frames (2 bytes, only at a packet's end)
 * and untransmitted frames (nothing to send); both decode */
static int g729_annexb_silence(void)
{
	struct tnd_codec_params p = { .annexb = true };
	struct tnd_codec_enc *e;
	struct tnd_codec_dec *d;
	uint8_t pkt[64];
	size_t k, len, got, sids = 0, empty = 0;

	TEST_ASSERT(tnd_codec_enc_alloc(&e, tnd_codec_get(TND_CODEC_G729), &p) == 0);
	TEST_ASSERT(tnd_codec_dec_alloc(&d, tnd_codec_get(TND_CODEC_G729), &p) == 0);
	memset(sig_in, 0, 8000 * sizeof(*sig_in));
	for (k = 0; k < 8000; k += 240) {
		TEST_ASSERT(tnd_codec_encode(e, sig_in + k, 240, pkt, sizeof(pkt), &len) == 0);
		TEST_ASSERT(len <= 30 && (len % 10 == 0 || len % 10 == 2));
		sids += len % 10 == 2;
		empty += len == 0;
		if (len)
			TEST_ASSERT(tnd_codec_decode(d, pkt, len, sig_out, 240, &got) == 0);
	}
	TEST_ASSERT(sids > 0 && empty > 0);
	/* without Annex B, silence is still sent in full frames */
	tnd_codec_enc_free(e);
	TEST_ASSERT(tnd_codec_enc_alloc(&e, tnd_codec_get(TND_CODEC_G729), NULL) == 0);
	TEST_ASSERT(tnd_codec_encode(e, sig_in, 240, pkt, sizeof(pkt), &len) == 0 && len == 30);
	tnd_codec_enc_free(e);
	tnd_codec_dec_free(d);
	return 0;
}

static int test_g729_tone(void)
{
	struct tnd_codec_params p = { .annexb = true };

	return all_ptimes(TND_CODEC_G729, NULL, 1000, 10, 3) ||
	       roundtrip(TND_CODEC_G729, &p, 20000, 1000, 10, 3) || g729_annexb_silence();
}

static int test_opus_tone(void)
{
	static const unsigned rates[] = { 8000, 16000, 48000 };
	struct tnd_codec_params p = { 0 };
	size_t i;

	for (i = 0; i < 3; i++) {
		p.rate = rates[i];
		if (all_ptimes(TND_CODEC_OPUS, &p, 1000, 15, 2))
			return 1;
	}
	/* 2.5 and 5 ms packets; low complexity, a set bitrate, FEC and DTX on */
	p.rate = 48000;
	TEST_ASSERT(roundtrip(TND_CODEC_OPUS, &p, 2500, 1000, 15, 2) == 0);
	TEST_ASSERT(roundtrip(TND_CODEC_OPUS, &p, 5000, 1000, 15, 2) == 0);
	p = (struct tnd_codec_params){ .rate = 16000, .complexity = 2, .complexity_set = true,
				       .bitrate = 16000, .fec = true, .dtx = true };
	TEST_ASSERT(roundtrip(TND_CODEC_OPUS, &p, 20000, 1000, 10, 3) == 0);
	/* stereo (fmtp stereo=1): both channels carry the tone */
	p = (struct tnd_codec_params){ .rate = 48000, .channels = 2 };
	TEST_ASSERT(roundtrip(TND_CODEC_OPUS, &p, 20000, 1000, 15, 2) == 0);
	/* maxplaybackrate=8000 keeps a 48 kHz encoder narrowband: 1 kHz
	 * passes, 6 kHz does not */
	p = (struct tnd_codec_params){ .rate = 48000, .maxplaybackrate = 8000 };
	TEST_ASSERT(roundtrip(TND_CODEC_OPUS, &p, 20000, 1000, 15, 2) == 0);
	printf("# (expected failure follows: 6 kHz over narrowband)\n");
	TEST_ASSERT(roundtrip(TND_CODEC_OPUS, &p, 20000, 6000, 15, 2) != 0);
	return 0;
}

/* Parameters and lengths the codecs refuse */
static int test_refusals(void)
{
	struct tnd_codec_params p = { .rate = 44100 };
	struct tnd_codec_enc *e;
	struct tnd_codec_dec *d;
	uint8_t pkt[TND_CODEC_MAX_PAYLOAD];
	int16_t pcm[960] = { 0 };
	size_t len, got;

	TEST_ASSERT(tnd_codec_enc_alloc(&e, tnd_codec_get(TND_CODEC_OPUS), &p) == EINVAL);
	p.rate = 16000;
	TEST_ASSERT(tnd_codec_enc_alloc(&e, tnd_codec_get(TND_CODEC_PCMU), &p) == EINVAL);
	TEST_ASSERT(tnd_codec_dec_alloc(&d, tnd_codec_get(TND_CODEC_G729), &p) == EINVAL);
	p = (struct tnd_codec_params){ .complexity = 11, .complexity_set = true };
	TEST_ASSERT(tnd_codec_enc_alloc(&e, tnd_codec_get(TND_CODEC_OPUS), &p) == EINVAL);
	p = (struct tnd_codec_params){ .channels = 3 };
	TEST_ASSERT(tnd_codec_dec_alloc(&d, tnd_codec_get(TND_CODEC_OPUS), &p) == EINVAL);

	TEST_ASSERT(tnd_codec_enc_alloc(&e, tnd_codec_get(TND_CODEC_G729), NULL) == 0);
	TEST_ASSERT(tnd_codec_encode(e, pcm, 200, pkt, sizeof(pkt), &len) == EINVAL); /* 25 ms */
	TEST_ASSERT(tnd_codec_encode(e, pcm, 560, pkt, sizeof(pkt), &len) == EINVAL); /* 70 ms */
	TEST_ASSERT(tnd_codec_encode(e, pcm, 160, pkt, 19, &len) == ENOSPC);
	TEST_ASSERT(tnd_codec_encode(e, pcm, 160, pkt, sizeof(pkt), &len) == 0 && len == 20);
	tnd_codec_enc_free(e);

	TEST_ASSERT(tnd_codec_dec_alloc(&d, tnd_codec_get(TND_CODEC_PCMA), NULL) == 0);
	TEST_ASSERT(tnd_codec_decode(d, pkt, 0, pcm, 960, &got) == EBADMSG);
	TEST_ASSERT(tnd_codec_decode(d, pkt, 160, pcm, 159, &got) == ENOSPC);
	tnd_codec_dec_free(d);

	TEST_ASSERT(tnd_codec_dec_alloc(&d, tnd_codec_get(TND_CODEC_G729), NULL) == 0);
	TEST_ASSERT(tnd_codec_decode(d, pkt, 7, pcm, 960, &got) == EBADMSG);
	TEST_ASSERT(tnd_codec_decode(d, pkt, 15, pcm, 960, &got) == EBADMSG);
	TEST_ASSERT(tnd_codec_decode(d, pkt, 70, pcm, 960, &got) == EBADMSG);
	memset(pkt, 0, 22);
	TEST_ASSERT(tnd_codec_decode(d, pkt, 22, pcm, 960, &got) == 0 && got == 240);
	TEST_ASSERT(tnd_codec_decode(d, pkt, 20, pcm, 159, &got) == ENOSPC);
	tnd_codec_dec_free(d);

	TEST_ASSERT(tnd_codec_dec_alloc(&d, tnd_codec_get(TND_CODEC_OPUS), NULL) == 0);
	/* code 3 with a frame count of 0 (RFC 6716 section 3.2.5: invalid) */
	pkt[0] = 0x03;
	pkt[1] = 0x00;
	TEST_ASSERT(tnd_codec_decode(d, pkt, 2, pcm, 960, &got) == EBADMSG);
	/* a 60 ms packet does not fit 20 ms of room */
	pkt[0] = (uint8_t)(3 << 3 | 0);  /* SILK NB 60 ms, one frame */
	TEST_ASSERT(tnd_codec_decode(d, pkt, 1, pcm, 960, &got) == ENOSPC);
	tnd_codec_dec_free(d);
	return 0;
}

/* Garbage into every decoder: an error or audio, never a crash (ASan) */
static int test_garbage(void)
{
	static const enum tnd_codec_id ids[] = { TND_CODEC_PCMU, TND_CODEC_PCMA, TND_CODEC_G722,
						 TND_CODEC_G729, TND_CODEC_OPUS };
	uint8_t pkt[1500];
	uint32_t seed = 12345;
	size_t i, j, len, got;
	int err;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct tnd_codec_dec *d;

		TEST_ASSERT(tnd_codec_dec_alloc(&d, tnd_codec_get(ids[i]), NULL) == 0);
		for (j = 0; j < 2000; j++) {
			size_t k;

			len = j % 7 == 0 ? j % 1500 : j % 211;
			for (k = 0; k < len; k++) {
				seed = seed * 1103515245u + 12345u;
				pkt[k] = (uint8_t)(seed >> 16);
			}
			err = tnd_codec_decode(d, pkt, len, sig_out, SIG_MAX, &got);
			TEST_ASSERT(err == 0 || err == EBADMSG || err == ENOSPC);
			if (!err)
				TEST_ASSERT(got <= TND_CODEC_MAX_SAMPLES);
		}
		tnd_codec_dec_free(d);
	}
	return 0;
}

/* Concealment: G.711 (spandsp PLC) and Opus continue a tone over a lost
 * packet; G.729 erases; G.722 leaves it to the jitter buffer */
static int test_conceal(void)
{
	static const enum tnd_codec_id ids[] = { TND_CODEC_PCMU, TND_CODEC_OPUS, TND_CODEC_G729 };
	struct tnd_codec_params p = { .rate = 8000 };
	uint8_t pkt[TND_CODEC_MAX_PAYLOAD];
	struct tnd_codec_dec *d;
	size_t i, k, len, got;

	for (i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct tnd_codec_enc *e;
		struct tone_check tc;

		TEST_ASSERT(tnd_codec_enc_alloc(&e, tnd_codec_get(ids[i]), &p) == 0);
		TEST_ASSERT(tnd_codec_dec_alloc(&d, tnd_codec_get(ids[i]), &p) == 0);
		tone(sig_in, 8000, 1, 8000, 1000, TONE_DBFS);
		for (k = 0; k < 8000; k += 160) {
			TEST_ASSERT(tnd_codec_encode(e, sig_in + k, 160, pkt, sizeof(pkt), &len) == 0);
			TEST_ASSERT(tnd_codec_decode(d, pkt, len, sig_out, 160, &got) == 0);
		}
		/* 40 ms lost: concealed as two 20 ms frames */
		TEST_ASSERT(tnd_codec_conceal(d, sig_out, 160) == 0);
		TEST_ASSERT(tnd_codec_conceal(d, sig_out + 160, 160) == 0);
		analyse(sig_out, 320, 1, 0, 8000, 1000, &tc);
		printf("# %s concealed: %.0f Hz, %+.1f dB\n", tnd_codec_get(ids[i])->name,
		       tc.freq_found, tc.level_db);
		if (ids[i] != TND_CODEC_G729)  /* erasure fades: only its code runs */
			TEST_ASSERT(tc.freq_found == 1000 && tc.level_db > -12);
		tnd_codec_enc_free(e);
		tnd_codec_dec_free(d);
	}
	/* a loss after 10 ms: spandsp's history ring sits below half way, where
	 * its plc_fillin() memcpys overlapping ranges (caught by the -asan
	 * build; codecs/g711.c rotates the ring first) */
	TEST_ASSERT(tnd_codec_dec_alloc(&d, tnd_codec_get(TND_CODEC_PCMA), NULL) == 0);
	memset(pkt, 0x5A, 80);
	TEST_ASSERT(tnd_codec_decode(d, pkt, 80, sig_out, 80, &got) == 0);
	TEST_ASSERT(tnd_codec_conceal(d, sig_out, 160) == 0);
	TEST_ASSERT(tnd_codec_decode(d, pkt, 80, sig_out, 80, &got) == 0);
	tnd_codec_dec_free(d);

	TEST_ASSERT(tnd_codec_dec_alloc(&d, tnd_codec_get(TND_CODEC_G722), NULL) == 0);
	TEST_ASSERT(tnd_codec_conceal(d, sig_out, 320) == ENOTSUP);
	TEST_ASSERT(tnd_codec_decode_fec(d, pkt, 10, sig_out, 320) == ENOTSUP);
	tnd_codec_dec_free(d);
	return 0;
}

/* Opus in-band FEC: a lost packet recovered from the next one's LBRR data */
static int test_opus_fec(void)
{
	struct tnd_codec_params p = { .rate = 16000, .fec = true, .loss_pct = 20,
				      .bitrate = 24000 };
	uint8_t pkt[2][TND_CODEC_MAX_PAYLOAD];
	size_t len[2], k, got, at = 0;
	struct tnd_codec_enc *e;
	struct tnd_codec_dec *d;
	struct tone_check tc;

	TEST_ASSERT(tnd_codec_enc_alloc(&e, tnd_codec_get(TND_CODEC_OPUS), &p) == 0);
	TEST_ASSERT(tnd_codec_dec_alloc(&d, tnd_codec_get(TND_CODEC_OPUS), &p) == 0);
	tone(sig_in, 16000, 1, 16000, 1000, TONE_DBFS);
	for (k = 0; k < 50; k++) {
		TEST_ASSERT(tnd_codec_encode(e, sig_in + k * 320, 320, pkt[k & 1], sizeof(pkt[0]),
					     &len[k & 1]) == 0);
		if (k % 10 == 5)
			continue;  /* lost: the next packet recovers it */
		if (k % 10 == 6) {
			TEST_ASSERT(tnd_codec_decode_fec(d, pkt[k & 1], len[k & 1], sig_out + at,
							 320) == 0);
			at += 320;
		}
		TEST_ASSERT(tnd_codec_decode(d, pkt[k & 1], len[k & 1], sig_out + at, 320,
					     &got) == 0);
		at += got;
	}
	TEST_ASSERT(at == 16000);
	analyse(sig_out, at, 1, 0, 16000, 1000, &tc);
	TEST_ASSERT(tc.freq_found == 1000 && fabs(tc.level_db) < 3);
	/* a length libopus cannot conceal in (not a multiple of 2.5 ms) */
	TEST_ASSERT(tnd_codec_conceal(d, sig_out, 33) == EINVAL);
	tnd_codec_enc_free(e);
	tnd_codec_dec_free(d);
	return 0;
}

/* 1 kHz at 8 kHz -> 48 kHz -> 8 kHz in 20 ms frames keeps frequency and level */
static int test_resampler(void)
{
	struct tnd_resampler *up, *down;
	int16_t mid[1000], back[200];
	size_t k, n, m, at48 = 0, at8 = 0;
	static int16_t out48[48000];
	struct tone_check tc;

	TEST_ASSERT(tnd_resampler_alloc(&up, 8000, 48000, 1, -1) == 0);
	TEST_ASSERT(tnd_resampler_alloc(&down, 48000, 8000, 1, -1) == 0);
	TEST_ASSERT(tnd_resampler_alloc(&up, 8000, 44, 1, -1) == EINVAL);
	tone(sig_in, 8000, 1, 8000, 1000, TONE_DBFS);
	TEST_ASSERT(tnd_resampler_process(up, sig_in, 160, mid, 900, &n) == ENOSPC);
	for (k = 0; k < 8000; k += 160) {
		TEST_ASSERT(tnd_resampler_process(up, sig_in + k, 160, mid, 1000, &n) == 0);
		if (k && (n < 958 || n > 962))
			printf("# 8k->48k frame %zu: %zu samples\n", k / 160, n);
		TEST_ASSERT(k == 0 || (n >= 958 && n <= 962));
		TEST_ASSERT(at48 + n <= 48000);
		memcpy(out48 + at48, mid, n * sizeof(*mid));
		at48 += n;
		TEST_ASSERT(tnd_resampler_process(down, mid, n, back, 200, &m) == 0);
		memcpy(sig_out + at8, back, m * sizeof(*back));
		at8 += m;
	}
	/* skip_zeros drops the filters' delay: close to 1 s comes out */
	TEST_ASSERT(at48 > 47500 && at8 > 7800);
	analyse(out48, at48, 1, 0, 48000, 1000, &tc);
	TEST_ASSERT(tc.freq_found == 1000 && fabs(tc.level_db) < 0.5 && tc.purity_db > 30);
	analyse(sig_out, at8, 1, 0, 8000, 1000, &tc);
	TEST_ASSERT(tc.freq_found == 1000 && fabs(tc.level_db) < 0.5 && tc.purity_db > 30);
	TEST_ASSERT(tnd_resampler_delay(up) > 0);
	tnd_resampler_free(up);
	tnd_resampler_free(down);
	return 0;
}

/* 30 ms in, 20 ms out: a counting ramp comes out whole and in order */
static int test_framer(void)
{
	struct tnd_framer *f;
	int16_t in[240], out[160];
	int16_t next_in = 0, next_out = 0;
	size_t k, i, pops = 0;

	TEST_ASSERT(tnd_framer_alloc(&f, 480, 1) == 0);
	for (k = 0; k < 40; k++) {
		for (i = 0; i < 240; i++)
			in[i] = next_in++;
		TEST_ASSERT(tnd_framer_push(f, in, 240) == 0);
		while (tnd_framer_pop(f, out, 160) == 0) {
			for (i = 0; i < 160; i++)
				TEST_ASSERT(out[i] == next_out++);
			pops++;
		}
		TEST_ASSERT(tnd_framer_level(f) < 160);
	}
	TEST_ASSERT(pops == 60);
	/* full: refused whole, and the queue is unchanged */
	TEST_ASSERT(tnd_framer_level(f) == 0);
	TEST_ASSERT(tnd_framer_push(f, in, 240) == 0);
	TEST_ASSERT(tnd_framer_push(f, in, 240) == 0);
	TEST_ASSERT(tnd_framer_push(f, in, 1) == ENOSPC);
	TEST_ASSERT(tnd_framer_level(f) == 480);
	tnd_framer_reset(f);
	TEST_ASSERT(tnd_framer_pop(f, out, 1) == EAGAIN);
	tnd_framer_free(f);
	return 0;
}

/* ------------------------------------------------------------ WAV */

struct wav_b {
	uint8_t b[512];
	size_t n;
};

static void wb_bytes(struct wav_b *w, const void *p, size_t n)
{
	memcpy(w->b + w->n, p, n);
	w->n += n;
}

static void wb_u32(struct wav_b *w, uint32_t v)
{
	uint8_t p[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };

	wb_bytes(w, p, 4);
}

static void wb_u16(struct wav_b *w, uint16_t v)
{
	uint8_t p[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

	wb_bytes(w, p, 2);
}

/* A WAV file: fmt (tag, channels, rate, bits; ext: WAVE_FORMAT_EXTENSIBLE
 * with subformat `tag`), an odd-sized LIST chunk, and `frames` samples
 * counting 1, 2, 3 ... per channel value */
static void wav_make(struct wav_b *w, uint16_t tag, uint16_t ch, uint32_t rate, uint16_t bits,
		     bool ext, unsigned frames)
{
	static const uint8_t guid_tail[14] = { 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00,
					       0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71 };

	w->n = 0;
	wb_bytes(w, "RIFF", 4);
	wb_u32(w, 0);   /* a wrong RIFF size is common and ignored */
	wb_bytes(w, "WAVE", 4);
	wb_bytes(w, "fmt ", 4);
	wb_u32(w, ext ? 40 : 16);
	wb_u16(w, ext ? 0xFFFE : tag);
	wb_u16(w, ch);
	wb_u32(w, rate);
	wb_u32(w, rate * ch * bits / 8);
	wb_u16(w, (uint16_t)(ch * bits / 8));
	wb_u16(w, bits);
	if (ext) {
		wb_u16(w, 22);
		wb_u16(w, bits);
		wb_u32(w, ch == 2 ? 3 : 4);
		wb_u16(w, tag);
		wb_bytes(w, guid_tail, sizeof(guid_tail));
	}
	wb_bytes(w, "LIST", 4);
	wb_u32(w, 3);
	wb_bytes(w, "abc\0", 4);   /* 3 bytes and the pad */
	wb_bytes(w, "data", 4);
	wb_u32(w, frames * ch * bits / 8);
	for (unsigned i = 0; i < frames * ch; i++)
		wb_u16(w, (uint16_t)(i + 1));
}

static int test_wav(void)
{
	struct wav_b w;
	struct tnd_wav v;
	char why[128];

	wav_make(&w, 1, 1, 8000, 16, false, 10);
	TEST_ASSERT(tnd_wav_parse(w.b, w.n, &v, why, sizeof(why)) == 0);
	TEST_ASSERT(v.rate == 8000 && v.channels == 1 && v.frames == 10);
	TEST_ASSERT(tnd_wav_sample(&v, 0, 0) == 1 && tnd_wav_sample(&v, 9, 0) == 10);
	wav_make(&w, 1, 2, 44100, 16, true, 6);
	TEST_ASSERT(tnd_wav_parse(w.b, w.n, &v, why, sizeof(why)) == 0);
	TEST_ASSERT(v.rate == 44100 && v.channels == 2 && v.frames == 6);
	TEST_ASSERT(tnd_wav_sample(&v, 1, 0) == 3 && tnd_wav_sample(&v, 1, 1) == 4);
	/* a data chunk cut short: the whole frames that are there */
	TEST_ASSERT(tnd_wav_parse(w.b, w.n - 5, &v, why, sizeof(why)) == 0 && v.frames == 4);
	/* every shorter prefix parses or fails cleanly (ASan watches the reads) */
	for (size_t n = 0; n < w.n; n++) {
		int e = tnd_wav_parse(w.b, n, &v, why, sizeof(why));

		TEST_ASSERT(e == 0 || ((e == EBADMSG || e == ENOTSUP) && why[0]));
	}

	/* refusals, each with its reason */
	TEST_ASSERT(tnd_wav_parse((const uint8_t *)"RIFX....WAVE", 12, &v, why,
				  sizeof(why)) == EBADMSG);
	TEST_ASSERT_STR_CONTAINS(why, "not a WAV file");
	wav_make(&w, 1, 1, 8000, 8, false, 10);
	TEST_ASSERT(tnd_wav_parse(w.b, w.n, &v, why, sizeof(why)) == ENOTSUP);
	TEST_ASSERT_STR_CONTAINS(why, "16 bits");
	wav_make(&w, 3, 1, 8000, 16, false, 10);   /* IEEE float */
	TEST_ASSERT(tnd_wav_parse(w.b, w.n, &v, why, sizeof(why)) == ENOTSUP);
	TEST_ASSERT_STR_CONTAINS(why, "format tag 3");
	wav_make(&w, 3, 1, 8000, 16, true, 10);
	TEST_ASSERT(tnd_wav_parse(w.b, w.n, &v, why, sizeof(why)) == ENOTSUP);
	wav_make(&w, 1, 3, 8000, 16, false, 10);
	TEST_ASSERT(tnd_wav_parse(w.b, w.n, &v, why, sizeof(why)) == ENOTSUP);
	TEST_ASSERT_STR_CONTAINS(why, "mono or stereo");
	wav_make(&w, 1, 1, 96000, 16, false, 10);
	TEST_ASSERT(tnd_wav_parse(w.b, w.n, &v, why, sizeof(why)) == ENOTSUP);
	TEST_ASSERT_STR_CONTAINS(why, "8000-48000");
	wav_make(&w, 1, 1, 8000, 16, false, 0);
	TEST_ASSERT(tnd_wav_parse(w.b, w.n, &v, why, sizeof(why)) == EBADMSG);
	TEST_ASSERT_STR_CONTAINS(why, "no samples");
	/* the fmt chunk's size says more than the file holds */
	wav_make(&w, 1, 1, 8000, 16, false, 10);
	w.b[16] = 0xFF;
	TEST_ASSERT(tnd_wav_parse(w.b, w.n, &v, why, sizeof(why)) == EBADMSG);
	TEST_ASSERT_STR_CONTAINS(why, "past the end");
	/* no fmt: "fmt " renamed */
	wav_make(&w, 1, 1, 8000, 16, false, 10);
	memcpy(w.b + 12, "junk", 4);
	TEST_ASSERT(tnd_wav_parse(w.b, w.n, &v, why, sizeof(why)) == EBADMSG);
	TEST_ASSERT_STR_CONTAINS(why, "before fmt");
	TEST_ASSERT(tnd_wav_parse(w.b, 36, &v, why, sizeof(why)) == EBADMSG);
	TEST_ASSERT_STR_CONTAINS(why, "no fmt chunk");
	TEST_ASSERT(tnd_wav_parse(NULL, 0, &v, why, sizeof(why)) == EINVAL);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct tnd_test tests[] = {
		TND_TEST(test_table),
		TND_TEST(test_g711_known_values),
		TND_TEST(test_pcmu_tone),
		TND_TEST(test_pcma_tone),
		TND_TEST(test_g722_tone),
		TND_TEST(test_g729_tone),
		TND_TEST(test_opus_tone),
		TND_TEST(test_refusals),
		TND_TEST(test_garbage),
		TND_TEST(test_conceal),
		TND_TEST(test_opus_fec),
		TND_TEST(test_resampler),
		TND_TEST(test_framer),
		TND_TEST(test_wav),
	};

	return tnd_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
