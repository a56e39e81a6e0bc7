/* iLBC decoder (RFC 3951 section 4): unpack, LSFs to per-sub-block
 * synthesis filters, the residual walk of ilbc_exc.c, synthesis and the
 * output high-pass. A lost or empty frame is concealed (section 4.5, our
 * own design): the last pitch period of residual repeats, mixed with noise
 * as the last frame was less periodic, fading by 0.8 per further lost
 * frame and muted after 120 ms, through the last good filter. The enhancer
 * of section 4.6 is not run (the RFC leaves the postfilter to the
 * decoder's choice of quality and delay). One worker owns a state. */
#include <math.h>
#include <string.h>

#include "codecs/ilbc/ilbc_int.h"

#define PLC_MUTE_SAMPLES 960   /* 120 ms */
#define PLC_FADE 0.8f
#define LAG_MIN 20
#define LAG_MAX 119
#define LAG_WIN 80

static const struct tnd_ilbc_mode modes[2] = {
	{ 20, 160, 4, 2, 1, 57, 38 },
	{ 30, 240, 6, 4, 2, 58, 50 },
};

const struct tnd_ilbc_mode *tnd_ilbc_mode(unsigned ms)
{
	return ms == 20 ? &modes[0] : ms == 30 ? &modes[1] : NULL;
}

void tnd_ilbc_dec_init(struct tnd_ilbc_dec *d, const struct tnd_ilbc_mode *m)
{
	memset(d, 0, sizeof(*d));
	d->m = m;
	memcpy(d->lsf_old, tnd_ilbc_lsf_mean, sizeof(d->lsf_old));
	d->last_a[0] = 1;
	d->lag = LAG_MIN;
	d->seed = 777;
}

/* The pitch lag and periodicity of the residual history (for PLC). */
static void find_lag(struct tnd_ilbc_dec *d)
{
	const float *h = d->last_res, *x = h + TND_ILBC_MAX_BLOCK - LAG_WIN;
	float best = -1, ex = 0;
	unsigned lag, n;

	for (n = 0; n < LAG_WIN; n++)
		ex += x[n] * x[n];
	d->lag = LAG_MIN;
	d->periodicity = 0;
	for (lag = LAG_MIN; lag <= LAG_MAX; lag++) {
		float c = 0, ey = 0, r;

		const float *y = x - lag;

		for (n = 0; n < LAG_WIN; n++) {
			c += x[n] * y[n];
			ey += y[n] * y[n];
		}
		r = ex > 0 && ey > 0 ? c / sqrtf(ex * ey) : 0;
		if (r > best) {
			best = r;
			d->lag = lag;
		}
	}
	d->periodicity = best < 0 ? 0 : best > 1 ? 1 : best;
}

static void conceal(struct tnd_ilbc_dec *d, float *res)
{
	const unsigned B = d->m->block;
	const float *h = d->last_res + TND_ILBC_MAX_BLOCK;
	float rms = 0, g, p = d->periodicity;
	unsigned n;

	d->lost++;
	g = d->lost == 1 ? 1.0f : PLC_FADE;
	if (d->lost * B > PLC_MUTE_SAMPLES)
		g = 0;
	for (n = 0; n < TND_ILBC_MAX_BLOCK; n++)
		rms += d->last_res[n] * d->last_res[n];
	rms = sqrtf(rms / TND_ILBC_MAX_BLOCK);
	for (n = 0; n < B; n++) {
		float noise;

		d->seed = d->seed * 1103515245u + 12345u;
		noise = ((float)(d->seed >> 16 & 0x7fff) / 16384.0f - 1.0f) * 1.7f * rms;
		res[n] = g * (p * h[(int)(n % d->lag) - (int)d->lag] + (1 - p) * noise);
	}
}

static void synth(struct tnd_ilbc_dec *d, const float *a, float *x, unsigned n)
{
	unsigned i, k;

	for (i = 0; i < n; i++) {
		float acc = x[i];

		for (k = 1; k < TND_ILBC_NA; k++)
			acc -= a[k] * (i >= k ? x[i - k] : d->syn_mem[TND_ILBC_ORDER + i - k]);
		x[i] = TND_ILBC_FLUSH(acc);
	}
	memcpy(d->syn_mem, x + n - TND_ILBC_ORDER, sizeof(d->syn_mem));
	/* a filter that garbage made ring past any sample value must not
	 * poison the frames after it */
	for (i = 0; i < TND_ILBC_ORDER; i++)
		if (!(fabsf(d->syn_mem[i]) < 1e7f))
			memset(d->syn_mem, 0, sizeof(d->syn_mem));
}

static void output(struct tnd_ilbc_dec *d, const float *x, int16_t *pcm, unsigned n)
{
	const float *b = tnd_ilbc_hp_out_b, *a = tnd_ilbc_hp_out_a;
	unsigned i;

	for (i = 0; i < n; i++) {
		float y = b[0] * x[i] + b[1] * d->hp_x[0] + b[2] * d->hp_x[1] -
			  a[1] * d->hp_y[0] - a[2] * d->hp_y[1];

		d->hp_x[1] = d->hp_x[0];
		d->hp_x[0] = x[i];
		d->hp_y[1] = d->hp_y[0];
		d->hp_y[0] = y = TND_ILBC_FLUSH(y);
		/* keeps the filter state finite whatever the input */
		if (!(y > -40000.0f && y < 40000.0f))
			d->hp_y[0] = y = y > 0 ? 40000.0f : -40000.0f;
		pcm[i] = y >= 32767.0f ? 32767 : y <= -32768.0f ? -32768 : (int16_t)lrintf(y);
	}
}

void tnd_ilbc_decode_frame(struct tnd_ilbc_dec *d, const uint8_t *in, int16_t *pcm)
{
	const struct tnd_ilbc_mode *m = d->m;
	float a[TND_ILBC_MAX_NSUB][TND_ILBC_NA], lsfq[2 * TND_ILBC_ORDER], res[TND_ILBC_MAX_BLOCK];
	float x[TND_ILBC_MAX_BLOCK];
	struct tnd_ilbc_frame f;
	unsigned i, k;

	if (in && tnd_ilbc_unpack(m, in, &f) == 0) {
		for (k = 0; k < m->nlsf; k++) {
			float *set = lsfq + k * TND_ILBC_ORDER;

			tnd_ilbc_lsf_dequant(f.lsf + k * TND_ILBC_LSF_SPLIT, set);
			tnd_ilbc_lsf_stable(set);
		}
		tnd_ilbc_interp(m, d->lsf_old, lsfq, a);
		tnd_ilbc_excitation(m, &f, a, NULL, NULL, res);
		d->lost = 0;
		memcpy(x, res, m->block * sizeof(float));
		for (i = 0; i < m->nsub; i++)
			synth(d, a[i], x + i * TND_ILBC_SUBL, TND_ILBC_SUBL);
		memcpy(d->last_a, a[m->nsub - 1], sizeof(d->last_a));
	} else {
		conceal(d, res);
		memcpy(x, res, m->block * sizeof(float));
		synth(d, d->last_a, x, m->block);
	}
	memmove(d->last_res, d->last_res + m->block,
		(TND_ILBC_MAX_BLOCK - m->block) * sizeof(float));
	memcpy(d->last_res + TND_ILBC_MAX_BLOCK - m->block, res, m->block * sizeof(float));
	if (!d->lost)
		find_lag(d);
	output(d, x, pcm, m->block);
}
