/* iLBC (codecs/ilbc/, our own RFC 3951) at signal level, and the G.729
 * checks against an independent decoder (issue 10 items 2 and 6). A 1 kHz
 * tone, a two-tone and a speech-like signal go through our encoder in both
 * modes and come back through our decoder and through FFmpeg's native ilbc
 * decoder (run with posix_spawn on the RFC 3951 storage format, "#!iLBC20"
 * or "#!iLBC30" then frames): frequency (Goertzel) and level must survive.
 * Garbage frames never crash our decoder, concealment of lost frames keeps
 * the tone and then fades to silence, and the bitstream packs and unpacks
 * every parameter. G.729: our encoder's tone decoded by FFmpeg's g729
 * decoder, and our decoder on our encoder's frames with an Annex B SID.
 * FFmpeg missing is a failure (contrib/install-deps.sh). */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "codecs/codecs.h"
#include "codecs/ilbc/ilbc_int.h"
#include "tests/unit/runner.h"

#define PI 3.14159265358979323846
#define RATE 8000
#define SECS 2
#define NSAMP (RATE * SECS)

extern char **environ;

static int16_t sig_in[NSAMP], sig_out[NSAMP + 480], ff_out[NSAMP + 480];
static uint8_t bits[NSAMP / 160 * 38 + 64];

/* ------------------------------------------------------------- signals */

static void tones(int16_t *x, size_t n, double f1, double a1, double f2, double a2)
{
	size_t i;

	for (i = 0; i < n; i++)
		x[i] = (int16_t)lrint(a1 * sin(2 * PI * f1 * (double)i / RATE) +
				      a2 * sin(2 * PI * f2 * (double)i / RATE));
}

/* A vowel-like signal: a glottal pulse train at 110..140 Hz through two
 * formant resonators (700 and 1200 Hz), in 200 ms syllables, about -23
 * dBFS while voiced. */
static void speechlike(int16_t *x, size_t n)
{
	double y1 = 0, y2 = 0, z1 = 0, z2 = 0, phase = 0;
	double r = 0.97, c1 = 2 * r * cos(2 * PI * 700 / RATE);
	double c2 = 2 * r * cos(2 * PI * 1200 / RATE);
	size_t i;

	for (i = 0; i < n; i++) {
		double f0 = 125 + 15 * sin(2 * PI * 2.0 * (double)i / RATE), e, u, v;

		phase += f0 / RATE;
		e = phase >= 1 ? 1.0 : 0.0;
		if (phase >= 1)
			phase -= 1;
		u = e + c1 * y1 - r * r * y2;
		y2 = y1;
		y1 = u;
		v = u + c2 * z1 - r * r * z2;
		z2 = z1;
		z1 = v;
		/* syllables: 160 ms of voice, 40 ms near silence */
		x[i] = (int16_t)lrint(v * 1500 * ((i % 1600) < 1280 ? 1.0 : 0.02));
	}
}

/* Amplitude of the component at freq (Goertzel over n samples). */
static double goertzel(const int16_t *x, size_t n, double freq)
{
	double k = 2 * cos(2 * PI * freq / RATE), s0, s1 = 0, s2 = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		s0 = x[i] + k * s1 - s2;
		s2 = s1;
		s1 = s0;
	}
	return 2 * sqrt(s1 * s1 + s2 * s2 - k * s1 * s2) / (double)n;
}

static double power(const int16_t *x, size_t n)
{
	double p = 0;
	size_t i;

	for (i = 0; i < n; i++)
		p += (double)x[i] * x[i];
	return p / (double)(n ? n : 1);
}

/* The strongest frequency from 100 to 3900 Hz in 50 Hz steps. */
static double peak_freq(const int16_t *x, size_t n)
{
	double best = 0, bf = 0, f, a;

	for (f = 100; f <= 3900; f += 50) {
		a = goertzel(x, n, f);
		if (a > best) {
			best = a;
			bf = f;
		}
	}
	return bf;
}

/* Checks the last second of x for a tone of amplitude amp at f: its
 * frequency is the peak, its level within lvl dB, and it carries at least
 * share of the power (the rest: other tones of the signal and noise). */
static int check_tone(const char *what, const int16_t *x, size_t n, double f, double amp,
		      double lvl, bool peak)
{
	const int16_t *w = x + n - RATE;
	double a = goertzel(w, RATE, f), db = 20 * log10(a / amp + 1e-12);

	if (fabs(db) > lvl || (peak && peak_freq(w, RATE) != f)) {
		printf("# %s: %.0f Hz at %+.1f dB, peak %.0f Hz\n", what, f, db,
		       peak_freq(w, RATE));
		return 1;
	}
	return 0;
}

/* Power of the part of y not explained by x (both n samples), over x's:
 * the "noise" of a waveform codec, in dB (lower is better). */
static double error_db(const int16_t *x, const int16_t *y, size_t n)
{
	double e = 0, p = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		e += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
		p += (double)x[i] * x[i];
	}
	return 10 * log10(e / (p + 1e-9) + 1e-12);
}

/* ------------------------------------------------------ codec plumbing */

/* Encodes n samples in packets of ptime ms; the packets' bytes go to bits,
 * their count to *nbytes. */
static int encode(const struct tnd_codec_params *p, unsigned ptime, const int16_t *x, size_t n,
		  size_t *nbytes)
{
	struct tnd_codec_enc *e;
	size_t per = RATE / 1000 * ptime, i, len, at = 0;

	TEST_ASSERT(tnd_codec_enc_alloc(&e, tnd_codec_get(TND_CODEC_ILBC), p) == 0);
	for (i = 0; i + per <= n; i += per) {
		size_t fs = p->mode_ms == 30 ? 240 : 160, fb = p->mode_ms == 30 ? 50 : 38;

		TEST_ASSERT(tnd_codec_encode(e, x + i, per, bits + at, sizeof(bits) - at,
					     &len) == 0);
		TEST_ASSERT(len == per / fs * fb);
		at += len;
	}
	tnd_codec_enc_free(e);
	*nbytes = at;
	return 0;
}

/* Decodes bits with our decoder, packets of ptime ms, into sig_out. */
static int decode(const struct tnd_codec_params *p, unsigned ptime, size_t nbytes, size_t *n)
{
	struct tnd_codec_dec *d;
	size_t fb = p->mode_ms == 30 ? 50 : 38, fs = p->mode_ms == 30 ? 240 : 160;
	size_t per = ptime / (p->mode_ms == 30 ? 30 : 20) * fb, i, got, out = 0;

	TEST_ASSERT(tnd_codec_dec_alloc(&d, tnd_codec_get(TND_CODEC_ILBC), p) == 0);
	for (i = 0; i + per <= nbytes; i += per) {
		TEST_ASSERT(tnd_codec_decode(d, bits + i, per, sig_out + out, NSAMP - out,
					     &got) == 0);
		TEST_ASSERT(got == per / fb * fs);
		out += got;
	}
	tnd_codec_dec_free(d);
	*n = out;
	return 0;
}

/* Runs ffmpeg (argv[0] "ffmpeg", found on PATH) with its output to
 * /dev/null; its exit status, or -1. */
static int run_ffmpeg(char *const argv[])
{
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st, err;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	err = posix_spawnp(&pid, "ffmpeg", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (err) {
		printf("# cannot run ffmpeg: %s (contrib/install-deps.sh installs it)\n",
		       strerror(err));
		return -1;
	}
	if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* FFmpeg decodes head + data (format fmt) to 8 kHz s16le into sig_out. */
static int ffmpeg_decode(const char *fmt, const char *head, const uint8_t *data, size_t len,
			 size_t *n)
{
	char in[] = "/tmp/tnd-test-ilbc-XXXXXX", out[] = "/tmp/tnd-test-pcm-XXXXXX";
	/* posix_spawn takes char *const[]: writable copies of the words */
	char a0[] = "ffmpeg", a1[] = "-nostdin", a2[] = "-hide_banner", a3[] = "-y", a4[] = "-f";
	char a6[] = "-i", a9[] = "s16le", a10[] = "-ac", a11[] = "1", a12[] = "-ar";
	char a13[] = "8000", f_in[16];
	char *argv[] = { a0, a1, a2, a3, a4, f_in, a6, in, a4, a9, a10, a11, a12, a13, out, NULL };
	int fi = mkstemp(in), fo = mkstemp(out), rc;
	FILE *f;

	TEST_ASSERT(fi >= 0 && fo >= 0);
	snprintf(f_in, sizeof(f_in), "%s", fmt);
	close(fo);
	f = fdopen(fi, "wb");
	TEST_ASSERT(f);
	TEST_ASSERT(fwrite(head, 1, strlen(head), f) == strlen(head));
	TEST_ASSERT(fwrite(data, 1, len, f) == len);
	fclose(f);
	rc = run_ffmpeg(argv);
	f = fopen(out, "rb");
	*n = f ? fread(sig_out, 2, NSAMP + 480, f) : 0;
	if (f)
		fclose(f);
	unlink(in);
	unlink(out);
	if (rc != 0)
		printf("# ffmpeg -f %s exited %d\n", fmt, rc);
	TEST_ASSERT(rc == 0);
	return 0;
}

/* ------------------------------------------------------------- iLBC */

#define AMP 10362.0  /* -10 dBFS */

/* 1 kHz through our encoder and decoder, each mode, every ptime it takes */
static int test_tone_own(void)
{
	static const unsigned cfg[][2] = { { 20, 20 }, { 20, 40 }, { 20, 60 }, { 30, 30 },
					   { 30, 60 } };
	size_t i, nb, n;

	tones(sig_in, NSAMP, 1000, AMP, 0, 0);
	for (i = 0; i < sizeof(cfg) / sizeof(cfg[0]); i++) {
		struct tnd_codec_params p = { .mode_ms = cfg[i][0] };
		char what[64];

		snprintf(what, sizeof(what), "own %u ms mode, ptime %u", cfg[i][0], cfg[i][1]);
		TEST_ASSERT(encode(&p, cfg[i][1], sig_in, NSAMP, &nb) == 0);
		TEST_ASSERT(decode(&p, cfg[i][1], nb, &n) == 0);
		TEST_ASSERT(n == NSAMP / (cfg[i][1] * 8) * cfg[i][1] * 8);
		TEST_ASSERT(check_tone(what, sig_out, n, 1000, AMP, 1.5, true) == 0);
		/* a waveform coder: the tone comes back sample by sample */
		TEST_ASSERT(error_db(sig_in + n - RATE, sig_out + n - RATE, RATE) < -10);
	}
	return 0;
}

/* The 1 kHz tone and a loud two-tone through FFmpeg's decoder (the
 * two-tone is the stream its zero start-up state once locked into a
 * full-scale limit cycle: ilbc_enc.c), and the two-tone through ours */
static int tones_ffmpeg(unsigned mode)
{
	struct tnd_codec_params p = { .mode_ms = mode };
	const char *head = mode == 20 ? "#!iLBC20\n" : "#!iLBC30\n";
	size_t nb, n, nff;

	tones(sig_in, NSAMP, 1000, AMP, 0, 0);
	TEST_ASSERT(encode(&p, mode, sig_in, NSAMP, &nb) == 0);
	TEST_ASSERT(ffmpeg_decode("ilbc", head, bits, nb, &n) == 0);
	TEST_ASSERT(n >= NSAMP - 240 && n <= NSAMP + 240);
	TEST_ASSERT(check_tone("ffmpeg 1 kHz", sig_out, n, 1000, AMP, 1.5, true) == 0);

	tones(sig_in, NSAMP, 450, 8000, 1300, 5000);
	TEST_ASSERT(encode(&p, mode, sig_in, NSAMP, &nb) == 0);
	TEST_ASSERT(ffmpeg_decode("ilbc", head, bits, nb, &n) == 0);
	TEST_ASSERT(check_tone("ffmpeg 450", sig_out, n, 450, 8000, 2, true) == 0);
	TEST_ASSERT(check_tone("ffmpeg 1300", sig_out, n, 1300, 5000, 3, false) == 0);
	TEST_ASSERT(power(sig_out + n - RATE, RATE) < 2 * power(sig_in, RATE));
	nff = n;
	memcpy(ff_out, sig_out, n * sizeof(*ff_out));
	TEST_ASSERT(decode(&p, mode, nb, &n) == 0);
	n = n < nff ? n : nff;
	TEST_ASSERT(check_tone("own 450", sig_out, n, 450, 8000, 2, true) == 0);
	TEST_ASSERT(check_tone("own 1300", sig_out, n, 1300, 5000, 3, false) == 0);
	/* the same frames through both decoders: sample by sample alike, but
	 * for FFmpeg's fixed-point rounding (no enhancer there: no delay) */
	printf("# %u ms two-tone: ours - FFmpeg's %.1f dB\n", mode,
	       error_db(ff_out + n - RATE, sig_out + n - RATE, RATE));
	TEST_ASSERT(error_db(ff_out + n - RATE, sig_out + n - RATE, RATE) < -30);
	return 0;
}

static int test_tones_ffmpeg_20(void)
{
	return tones_ffmpeg(20);
}

static int test_tones_ffmpeg_30(void)
{
	return tones_ffmpeg(30);
}

/* The vowel-like signal: its level and its syllables (voice, then a near
 * silence) survive our decoder and FFmpeg's. */
static int check_speech(const char *what, const int16_t *y, size_t n)
{
	double pin = 0, pout = 0, voiced = 0, gaps = 0, db;
	size_t s;

	for (s = 0; s + 1600 <= n && s + 1600 <= NSAMP; s += 1600) {
		pin += power(sig_in + s + 200, 1000);
		pout += power(y + s + 200, 1000);
		voiced += power(y + s + 200, 1000);
		gaps += power(y + s + 1400, 160);  /* inside the gap despite FFmpeg's delay */
	}
	db = 10 * log10(pout / pin);
	if (fabs(db) > 3 || 10 * log10(voiced / (gaps + 1e-9)) < 20) {
		printf("# %s: level %+.1f dB, voice over gaps %.1f dB\n", what, db,
		       10 * log10(voiced / (gaps + 1e-9)));
		return 1;
	}
	return 0;
}

static int test_speechlike(void)
{
	static const unsigned modes[] = { 20, 30 };
	size_t i, nb, n, nown;

	speechlike(sig_in, NSAMP);
	for (i = 0; i < 2; i++) {
		struct tnd_codec_params p = { .mode_ms = modes[i] };

		TEST_ASSERT(encode(&p, modes[i], sig_in, NSAMP, &nb) == 0);
		TEST_ASSERT(decode(&p, modes[i], nb, &n) == 0);
		TEST_ASSERT(check_speech("own", sig_out, n) == 0);
		printf("# speech-like, %u ms mode: error %.1f dB\n", modes[i],
		       error_db(sig_in, sig_out, n));
		TEST_ASSERT(error_db(sig_in, sig_out, n) < -4);
		nown = n;
		memcpy(ff_out, sig_out, n * sizeof(*ff_out));
		TEST_ASSERT(ffmpeg_decode("ilbc", modes[i] == 20 ? "#!iLBC20\n" : "#!iLBC30\n",
					  bits, nb, &n) == 0);
		TEST_ASSERT(check_speech("ffmpeg", sig_out, n) == 0);
		/* ours and FFmpeg's on the same frames (every codebook section
		 * is used): alike but for FFmpeg's fixed-point rounding */
		n = n < nown ? n : nown;
		printf("# %u ms speech-like: ours - FFmpeg's %.1f dB\n", modes[i],
		       error_db(ff_out + n - RATE, sig_out + n - RATE, RATE));
		TEST_ASSERT(error_db(ff_out + n - RATE, sig_out + n - RATE, RATE) < -20);
	}
	return 0;
}

/* Garbage frames: decoded or concealed, never a crash (ASan build), and
 * the decoder still decodes a tone right after. */
static int test_garbage(void)
{
	static const unsigned modes[] = { 20, 30 };
	uint32_t seed = 4242;
	size_t i, j, k, got, nb, n;
	uint8_t pkt[200];

	for (i = 0; i < 2; i++) {
		struct tnd_codec_params p = { .mode_ms = modes[i] };
		size_t fb = modes[i] == 20 ? 38 : 50;
		struct tnd_codec_dec *d;
		int err;

		TEST_ASSERT(tnd_codec_dec_alloc(&d, tnd_codec_get(TND_CODEC_ILBC), &p) == 0);
		for (j = 0; j < 3000; j++) {
			size_t len = j % 5 == 0 ? j % 200 : fb * (1 + j % 3);

			for (k = 0; k < len; k++) {
				seed = seed * 1103515245u + 12345u;
				pkt[k] = (uint8_t)(seed >> 16);
			}
			if (j % 11 == 0)
				memset(pkt, j % 2 ? 0xFF : 0, len);
			err = tnd_codec_decode(d, pkt, len, sig_out, NSAMP, &got);
			TEST_ASSERT(err == 0 || err == EBADMSG || err == ENOSPC);
			/* whole frames of either mode (the decoder follows the length) */
			if (!err)
				TEST_ASSERT((len % 38 == 0 && got == len / 38 * 160) ||
					    (len % 50 == 0 && got == len / 50 * 240));
		}
		/* then a good stream: the tone is back within a second */
		tones(sig_in, NSAMP, 1000, AMP, 0, 0);
		TEST_ASSERT(encode(&p, modes[i], sig_in, NSAMP, &nb) == 0);
		for (j = 0, n = 0; j + fb <= nb; j += fb, n += got)
			TEST_ASSERT(tnd_codec_decode(d, bits + j, fb, sig_out + n, NSAMP,
						     &got) == 0);
		TEST_ASSERT(check_tone("after garbage", sig_out, n, 1000, AMP, 1.5, true) == 0);
		tnd_codec_dec_free(d);
	}
	return 0;
}

/* RFC 3952 section 3.2: a decoder made for one mode follows a peer that
 * sends the other (the payload length tells), and back */
static int test_mode_follow(void)
{
	struct tnd_codec_params p20 = { .mode_ms = 20 }, p30 = { .mode_ms = 30 };
	struct tnd_codec_dec *d;
	size_t nb, j, got, n = 0;

	tones(sig_in, NSAMP, 1000, AMP, 0, 0);
	TEST_ASSERT(encode(&p20, 40, sig_in, NSAMP, &nb) == 0);
	TEST_ASSERT(tnd_codec_dec_alloc(&d, tnd_codec_get(TND_CODEC_ILBC), &p30) == 0);
	for (j = 0; j + 76 <= nb; j += 76, n += got) {
		TEST_ASSERT(tnd_codec_decode(d, bits + j, 76, sig_out + n, NSAMP - n, &got) == 0);
		TEST_ASSERT(got == 320);
	}
	TEST_ASSERT(check_tone("30 ms decoder, 20 ms stream", sig_out, n, 1000, AMP, 1.5,
			       true) == 0);
	TEST_ASSERT(encode(&p30, 60, sig_in, NSAMP, &nb) == 0);
	for (j = 0, n = 0; j + 100 <= nb; j += 100, n += got)
		TEST_ASSERT(tnd_codec_decode(d, bits + j, 100, sig_out + n, NSAMP - n, &got) == 0 &&
			    got == 480);
	TEST_ASSERT(check_tone("and back to 30 ms", sig_out, n, 1000, AMP, 1.5, true) == 0);
	/* no room for the other mode's samples: refused, mode kept */
	TEST_ASSERT(tnd_codec_decode(d, bits, 114, sig_out, 479, &got) == ENOSPC);
	TEST_ASSERT(tnd_codec_decode(d, bits, 50, sig_out, 240, &got) == 0 && got == 240);
	tnd_codec_dec_free(d);
	return 0;
}

/* Loss: the first concealed frame keeps the tone, a long loss fades to
 * silence and never exceeds the signal, good frames bring the tone back */
static int test_conceal(void)
{
	static const unsigned modes[] = { 20, 30 };
	size_t i, j, k, got, nb, fb, fs, at;

	tones(sig_in, NSAMP, 1000, AMP, 0, 0);
	for (i = 0; i < 2; i++) {
		struct tnd_codec_params p = { .mode_ms = modes[i] };
		struct tnd_codec_dec *d;
		int16_t lost[240];
		double a;

		fb = modes[i] == 20 ? 38 : 50;
		fs = modes[i] == 20 ? 160 : 240;
		TEST_ASSERT(encode(&p, modes[i], sig_in, NSAMP, &nb) == 0);
		TEST_ASSERT(tnd_codec_dec_alloc(&d, tnd_codec_get(TND_CODEC_ILBC), &p) == 0);
		for (at = 0; at < nb / 2; at += fb)
			TEST_ASSERT(tnd_codec_decode(d, bits + at, fb, sig_out, fs, &got) == 0);
		TEST_ASSERT(tnd_codec_conceal(d, lost, fs) == 0);
		a = goertzel(lost, fs, 1000);
		printf("# %u ms: first concealed frame %+.1f dB\n", modes[i], 20 * log10(a / AMP));
		TEST_ASSERT(a > AMP / 2 && peak_freq(lost, fs) == 1000);
		for (j = 1; j < 12; j++) {
			TEST_ASSERT(tnd_codec_conceal(d, lost, fs) == 0);
			for (k = 0; k < fs; k++)
				TEST_ASSERT(abs(lost[k]) <= 1.2 * AMP);
		}
		/* 12 frames (240 or 360 ms) lost: muted since 120 ms */
		TEST_ASSERT(power(lost, fs) < 1e-6 * AMP * AMP);
		/* the packets after the loss: the tone again from the 2nd frame on */
		at += 12 * fb;
		for (j = 0; j < 4; j++, at += fb)
			TEST_ASSERT(tnd_codec_decode(d, bits + at, fb, sig_out + j * fs, fs,
						     &got) == 0);
		TEST_ASSERT(goertzel(sig_out + fs, 3 * fs, 1000) > AMP / 1.5);
		/* a partial frame is cut from a whole concealed one */
		TEST_ASSERT(tnd_codec_conceal(d, lost, fs / 2) == 0);
		tnd_codec_dec_free(d);
	}
	return 0;
}

static int test_refusals(void)
{
	const struct tnd_codec *c = tnd_codec_get(TND_CODEC_ILBC);
	struct tnd_codec_params p = { .mode_ms = 25 };
	struct tnd_codec_enc *e;
	struct tnd_codec_dec *d;
	int16_t pcm[480] = { 0 };
	uint8_t pkt[200] = { 0 };
	size_t len, got;
	unsigned ms;

	TEST_ASSERT(tnd_codec_find("ilbc", 8000, 1) == c);
	TEST_ASSERT(tnd_codec_enc_alloc(&e, c, &p) == EINVAL);
	TEST_ASSERT(tnd_codec_dec_alloc(&d, c, &p) == EINVAL);
	p = (struct tnd_codec_params){ .rate = 16000 };
	TEST_ASSERT(tnd_codec_enc_alloc(&e, c, &p) == EINVAL);
	p = (struct tnd_codec_params){ .mode_ms = 30 };
	TEST_ASSERT(tnd_codec_enc_alloc(&e, c, &p) == 0);
	TEST_ASSERT(tnd_codec_encode(e, pcm, 160, pkt, sizeof(pkt), &len) == EINVAL);  /* 20 ms */
	TEST_ASSERT(tnd_codec_encode(e, pcm, 320, pkt, sizeof(pkt), &len) == EINVAL);  /* 40 ms */
	TEST_ASSERT(tnd_codec_encode(e, pcm, 240, pkt, 49, &len) == ENOSPC);
	TEST_ASSERT(tnd_codec_encode(e, pcm, 480, pkt, sizeof(pkt), &len) == 0 && len == 100);
	tnd_codec_enc_free(e);
	TEST_ASSERT(tnd_codec_dec_alloc(&d, c, &p) == 0);
	TEST_ASSERT(tnd_codec_decode(d, pkt, 37, pcm, 480, &got) == EBADMSG);
	TEST_ASSERT(tnd_codec_decode(d, pkt, 200, pcm, 480, &got) == EBADMSG);  /* 4 frames */
	TEST_ASSERT(tnd_codec_decode(d, pkt, 152, pcm, 480, &got) == EBADMSG);  /* 4 x 38 */
	TEST_ASSERT(tnd_codec_decode(d, pkt, 100, pcm, 479, &got) == ENOSPC);
	TEST_ASSERT(tnd_codec_decode(d, pkt, 100, pcm, 480, &got) == 0 && got == 480);
	tnd_codec_dec_free(d);

	TEST_ASSERT(tnd_codec_ilbc_mode("mode=20", &ms) == 0 && ms == 20);
	TEST_ASSERT(tnd_codec_ilbc_mode("maxptime=60; mode = 30", &ms) == 0 && ms == 30);
	TEST_ASSERT(tnd_codec_ilbc_mode(NULL, &ms) == 0 && ms == 30);
	TEST_ASSERT(tnd_codec_ilbc_mode("annexb=no", &ms) == 0 && ms == 30);
	TEST_ASSERT(tnd_codec_ilbc_mode("modes=20", &ms) == 0 && ms == 30);
	TEST_ASSERT(tnd_codec_ilbc_mode("mode=25", &ms) == EBADMSG);
	TEST_ASSERT(tnd_codec_ilbc_mode("mode=200", &ms) == EBADMSG);
	TEST_ASSERT(tnd_codec_ilbc_mode("mode=20", NULL) == EINVAL);
	return 0;
}

static int rnd(uint32_t *s, int n)
{
	*s = *s * 1103515245u + 12345u;
	return (int)((*s >> 8) % (uint32_t)n);
}

/* Section 3.8: every parameter packs and unpacks to itself; the trailing
 * empty-frame bit is 0 and, when set, makes the frame one to conceal */
static int test_pack(void)
{
	static const int seven[] = { 0, 43, 108, 171, 236, 255 };
	uint32_t s = 99;
	unsigned ms, t, i, k;

	for (ms = 20; ms <= 30; ms += 10) {
		const struct tnd_ilbc_mode *m = tnd_ilbc_mode(ms);
		int xsize = ms == 20 ? 126 : 128;

		for (t = 0; t < 200; t++) {
			struct tnd_ilbc_frame f, g;
			uint8_t out[TND_ILBC_MAX_BYTES];

			memset(&f, 0, sizeof(f));
			for (i = 0; i < m->nlsf * 3; i++)
				f.lsf[i] = rnd(&s, i % 3 ? 128 : 64);
			f.start = 1 + rnd(&s, (int)m->nsub - 1);
			f.state_first = rnd(&s, 2);
			f.scale = rnd(&s, 64);
			for (i = 0; i < m->short_len; i++)
				f.state[i] = rnd(&s, 8);
			for (k = 0; k < 3; k++) {
				f.xcb[k] = rnd(&s, xsize);
				f.xgain[k] = rnd(&s, 32 >> k);
				for (i = 0; i < m->ncb; i++) {
					f.cb[i][k] = i == 0 && k ? seven[rnd(&s, 6)] : rnd(&s, 256);
					f.gain[i][k] = rnd(&s, 32 >> k);
				}
			}
			tnd_ilbc_pack(m, &f, out);
			TEST_ASSERT((out[m->bytes - 1] & 1) == 0);
			TEST_ASSERT(tnd_ilbc_unpack(m, out, &g) == 0);
			TEST_ASSERT(memcmp(&f, &g, sizeof(f)) == 0);
			out[m->bytes - 1] |= 1;
			TEST_ASSERT(tnd_ilbc_unpack(m, out, &g) == EBADMSG);
		}
		/* start 0 is no frame (the top bits of byte 5 and 4 hold it) */
		{
			struct tnd_ilbc_frame f, g;
			uint8_t out[TND_ILBC_MAX_BYTES];

			memset(&f, 0, sizeof(f));
			tnd_ilbc_pack(m, &f, out);
			TEST_ASSERT(tnd_ilbc_unpack(m, out, &g) == EBADMSG);
		}
	}
	return 0;
}

/* ------------------------------------------------------------- G.729 */

/* Our G.729 encoder (bcg729) decoded by FFmpeg's g729 decoder */
static int test_g729_ffmpeg(void)
{
	struct tnd_codec_enc *e;
	size_t i, len, at = 0, n;

	tones(sig_in, NSAMP, 1000, AMP, 0, 0);
	TEST_ASSERT(tnd_codec_enc_alloc(&e, tnd_codec_get(TND_CODEC_G729), NULL) == 0);
	for (i = 0; i + 160 <= NSAMP; i += 160) {
		TEST_ASSERT(tnd_codec_encode(e, sig_in + i, 160, bits + at, 20, &len) == 0);
		TEST_ASSERT(len == 20);
		at += len;
	}
	tnd_codec_enc_free(e);
	TEST_ASSERT(ffmpeg_decode("g729", "", bits, at, &n) == 0);
	TEST_ASSERT(n >= NSAMP - 160 && n <= NSAMP + 160);
	TEST_ASSERT(check_tone("ffmpeg g729", sig_out, n, 1000, AMP, 2, true) == 0);
	return 0;
}

/* Our G.729 decoder on our encoder's frames with Annex B: the tone, then
 * comfort noise from a SID frame that ends a packet (RFC 3551 4.5.6) */
static int test_g729_sid(void)
{
	struct tnd_codec_params p = { .annexb = true };
	struct tnd_codec_enc *e;
	struct tnd_codec_dec *d;
	uint8_t pkt[64], sid[2] = { 0 }, speech[10] = { 0 };
	size_t i, len, got, n = 0, sids = 0;
	uint32_t s = 7;

	TEST_ASSERT(tnd_codec_enc_alloc(&e, tnd_codec_get(TND_CODEC_G729), &p) == 0);
	TEST_ASSERT(tnd_codec_dec_alloc(&d, tnd_codec_get(TND_CODEC_G729), &p) == 0);
	tones(sig_in, NSAMP, 1000, AMP, 0, 0);
	/* the second half: faint noise, which Annex B's VAD sends as SID */
	for (i = NSAMP / 2; i < NSAMP; i++)
		sig_in[i] = (int16_t)(rnd(&s, 41) - 20);
	for (i = 0; i + 160 <= NSAMP; i += 160) {
		TEST_ASSERT(tnd_codec_encode(e, sig_in + i, 160, pkt, sizeof(pkt), &len) == 0);
		if (len % 10 == 2) {
			sids++;
			memcpy(sid, pkt + len - 2, 2);
		}
		if (i < NSAMP / 2) {
			TEST_ASSERT(len == 20);
			memcpy(speech, pkt + 10, 10);
			TEST_ASSERT(tnd_codec_decode(d, pkt, len, sig_out + n, 160, &got) == 0);
			n += got;
		}
	}
	TEST_ASSERT(n == NSAMP / 2);
	TEST_ASSERT(check_tone("own g729", sig_out, n, 1000, AMP, 2, true) == 0);
	printf("# g729 annex b: %zu SID frames from the encoder\n", sids);
	TEST_ASSERT(sids > 0);
	/* a speech frame then the encoder's SID in one packet: 20 ms decoded,
	 * the comfort noise far below the tone and finite */
	memcpy(pkt, speech, 10);
	memcpy(pkt + 10, sid, 2);
	tones(sig_in, 80, 1000, AMP, 0, 0);
	TEST_ASSERT(tnd_codec_decode(d, pkt, 12, sig_out, 160, &got) == 0 && got == 160);
	for (i = 0; i < 10; i++)
		TEST_ASSERT(tnd_codec_decode(d, sid, 2, sig_out + 160 + i * 80, 80, &got) == 0 &&
			    got == 80);
	TEST_ASSERT(power(sig_out + 560, 400) < power(sig_in, 80) / 100);
	tnd_codec_enc_free(e);
	tnd_codec_dec_free(d);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct tnd_test tests[] = {
		TND_TEST(test_pack),
		TND_TEST(test_refusals),
		TND_TEST(test_tone_own),
		TND_TEST(test_tones_ffmpeg_20),
		TND_TEST(test_tones_ffmpeg_30),
		TND_TEST(test_speechlike),
		TND_TEST(test_garbage),
		TND_TEST(test_conceal),
		TND_TEST(test_mode_follow),
		TND_TEST(test_g729_ffmpeg),
		TND_TEST(test_g729_sid),
	};

	return tnd_test_main(tests, sizeof(tests) / sizeof(tests[0]), argc, argv);
}
