/* Codec cost: nanoseconds per 20 ms frame to encode and to decode with each
 * codec in codecs/, and to resample, on a speech-like test signal (a 140 Hz
 * harmonic series under a 4 Hz envelope, plus a little noise). These are the
 * "encode+decode alone" ceilings that the transcoding benchmark of issue 10
 * item 7 compares calls per core against. Prints a table; no pass/fail.
 * iLBC's 30 ms mode runs in 30 ms packets, its times scaled to 20 ms.
 * Usage: codec-bench [seconds of audio per row, default 20]; with
 * CODEC_BENCH_CLOCK=cpu the times are process CPU time, not wall clock. */
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codecs/codecs.h"

#define PI 3.14159265358979323846
#define REPS 3

/* wall clock, or this process's CPU time with CODEC_BENCH_CLOCK=cpu (a
 * steadier figure on a machine shared with other work) */
static clockid_t bench_clock = CLOCK_MONOTONIC;

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(bench_clock, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void speechish(int16_t *x, size_t n, unsigned rate)
{
	uint32_t seed = 1;
	size_t i;
	int h;

	for (i = 0; i < n; i++) {
		double t = (double)i / rate, v = 0, env = 0.55 + 0.45 * sin(2 * PI * 4 * t);

		for (h = 1; h * 140 < (int)rate / 2 && h <= 25; h++)
			v += sin(2 * PI * 140 * h * t + h) / (1 + fabs(h * 140.0 - 700) / 300.0);
		seed = seed * 1103515245u + 12345u;
		v = v * 2500 * env + ((int)(seed >> 16 & 0xFF) - 128) * 2;
		x[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
	}
}

struct row {
	const char *label;
	enum tnd_codec_id id;
	struct tnd_codec_params p;
};

static int bench(const struct row *r, unsigned secs)
{
	struct tnd_codec_enc *e;
	struct tnd_codec_dec *d;
	/* packets of one frame: 30 ms for iLBC's 30 ms mode (times still
	 * per 20 ms), else 20 ms */
	unsigned ms = tnd_codec_frame_ms(tnd_codec_get(r->id), &r->p) == 30 ? 30 : 20;
	unsigned rate, frames = secs * 1000 / ms, k;
	size_t per, got;
	static uint8_t pkts[50 * 120][TND_CODEC_MAX_PAYLOAD / 4];
	static size_t lens[50 * 120];
	static int16_t out[960];
	int16_t *sig;
	double t0, t1, tenc, tdec, bytes = 0;
	int rep;

	size_t heap0 = mallinfo2().uordblks, state;

	if (tnd_codec_enc_alloc(&e, tnd_codec_get(r->id), &r->p) ||
	    tnd_codec_dec_alloc(&d, tnd_codec_get(r->id), &r->p))
		return 1;
	/* heap held by one encoder and one decoder (glibc's count) */
	state = mallinfo2().uordblks - heap0;
	rate = tnd_codec_enc_rate(e);
	per = rate * ms / 1000;
	sig = malloc((size_t)frames * per * sizeof(*sig));
	if (!sig)
		return 1;
	speechish(sig, (size_t)frames * per, rate);
	/* the best of REPS runs: the machine is shared, and the first run
	 * also pays the page faults of pkts[] */
	tenc = tdec = 1e18;
	for (rep = 0; rep < REPS; rep++) {
		bytes = 0;
		t0 = now_ns();
		for (k = 0; k < frames; k++) {
			if (tnd_codec_encode(e, sig + k * per, per, pkts[k], sizeof(pkts[k]),
					     &lens[k]))
				return 1;
			bytes += lens[k];
		}
		t1 = (now_ns() - t0) / frames * 20 / ms;
		tenc = t1 < tenc ? t1 : tenc;
		t0 = now_ns();
		for (k = 0; k < frames; k++)
			if (lens[k] && tnd_codec_decode(d, pkts[k], lens[k], out, 960, &got))
				return 1;
		t1 = (now_ns() - t0) / frames * 20 / ms;
		tdec = t1 < tdec ? t1 : tdec;
	}
	printf("%-28s %6u %9.0f %9.0f %9.0f %8.1f %7.1f\n", r->label, rate, tenc, tdec,
	       tenc + tdec, bytes * 8 / secs / 1000, state / 1024.0);
	free(sig);
	tnd_codec_enc_free(e);
	tnd_codec_dec_free(d);
	return 0;
}

static void bench_resampler(unsigned in, unsigned outr, unsigned secs)
{
	struct tnd_resampler *r;
	size_t per = in / 50, n, k, frames = secs * 50;
	static int16_t out[1000];
	int16_t *sig = malloc(frames * per * sizeof(*sig));
	double t0, t1, best = 1e18;
	int rep;

	size_t heap0 = mallinfo2().uordblks, state;

	if (!sig || tnd_resampler_alloc(&r, in, outr, 1, -1)) {
		free(sig);
		return;
	}
	state = mallinfo2().uordblks - heap0;
	speechish(sig, frames * per, in);
	for (rep = 0; rep < REPS; rep++) {
		t0 = now_ns();
		for (k = 0; k < frames; k++)
			tnd_resampler_process(r, sig + k * per, per, out, 1000, &n);
		t1 = (now_ns() - t0) / frames;
		best = t1 < best ? t1 : best;
	}
	printf("resample %5u -> %5u (q3)     %6u %9.0f %38.1f\n", in, outr, in, best,
	       state / 1024.0);
	tnd_resampler_free(r);
	free(sig);
}

int main(int argc, char **argv)
{
	unsigned secs = argc > 1 ? (unsigned)atoi(argv[1]) : 20;
	static const struct row rows[] = {
		{ "PCMU", TND_CODEC_PCMU, { 0 } },
		{ "PCMA", TND_CODEC_PCMA, { 0 } },
		{ "G722 64k", TND_CODEC_G722, { 0 } },
		{ "G729", TND_CODEC_G729, { 0 } },
		{ "G729 annexb", TND_CODEC_G729, { .annexb = true } },
		{ "opus 48k c10", TND_CODEC_OPUS, { .rate = 48000 } },
		{ "opus 48k c5", TND_CODEC_OPUS, { .rate = 48000, .complexity = 5,
						  .complexity_set = true } },
		{ "opus 16k c10", TND_CODEC_OPUS, { .rate = 16000 } },
		{ "opus 8k c10", TND_CODEC_OPUS, { .rate = 8000 } },
		{ "opus 8k c5", TND_CODEC_OPUS, { .rate = 8000, .complexity = 5,
						 .complexity_set = true } },
		{ "opus 8k c10 fec 24k", TND_CODEC_OPUS, { .rate = 8000, .fec = true,
							  .bitrate = 24000 } },
		/* one bitrate at every rate: libopus's automatic choice differs
		 * by rate (CELT at 48 kHz, SILK below), and so does the cost */
		{ "opus 48k c10 24k", TND_CODEC_OPUS, { .rate = 48000, .bitrate = 24000 } },
		{ "opus 16k c10 24k", TND_CODEC_OPUS, { .rate = 16000, .bitrate = 24000 } },
		{ "opus 8k c10 24k", TND_CODEC_OPUS, { .rate = 8000, .bitrate = 24000 } },
		{ "opus 48k c5 24k", TND_CODEC_OPUS, { .rate = 48000, .bitrate = 24000,
						      .complexity = 5, .complexity_set = true } },
		{ "opus 8k c5 24k", TND_CODEC_OPUS, { .rate = 8000, .bitrate = 24000,
						     .complexity = 5, .complexity_set = true } },
		/* our own RFC 3951 (codecs/ilbc/); the 30 ms mode in 30 ms packets */
		{ "iLBC 20 ms", TND_CODEC_ILBC, { .mode_ms = 20 } },
		{ "iLBC 30 ms", TND_CODEC_ILBC, { .mode_ms = 30 } },
	};
	size_t i;

	if (secs < 1 || secs > 120)
		secs = 20;
	if (getenv("CODEC_BENCH_CLOCK") && !strcmp(getenv("CODEC_BENCH_CLOCK"), "cpu"))
		bench_clock = CLOCK_PROCESS_CPUTIME_ID;
	printf("# KiB: heap of one encoder + decoder (or resampler)\n");
	printf("# ns per 20 ms frame (%s), %u s of speech-like audio per row, best of %d runs, "
	       "one thread\n", bench_clock == CLOCK_MONOTONIC ? "wall clock" : "CPU time", secs,
	       REPS);
	printf("%-28s %6s %9s %9s %9s %8s %7s\n", "codec", "rate", "encode", "decode", "enc+dec",
	       "kbit/s", "KiB");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (bench(&rows[i], secs))
			printf("%-28s failed\n", rows[i].label);
	bench_resampler(8000, 48000, secs);
	bench_resampler(48000, 8000, secs);
	bench_resampler(16000, 48000, secs);
	bench_resampler(48000, 16000, secs);
	return 0;
}
