/* iLBC encoder (RFC 3951 section 3): input high-pass, LPC analysis with
 * one (20 ms) or two (30 ms) windows per frame, split VQ of the LSFs,
 * residual through the quantised and interpolated analysis filters, then
 * the start state and codebook search of ilbc_exc.c, then packing. Our own
 * simplifications, which any RFC 3951 decoder decodes alike: unweighted LSF
 * quantisation, start state without noise feedback, and no gain
 * re-calculation after the search. The first frame of a stream is sent
 * silent: FFmpeg's decoder (5.1, Debian's) starts with an LSF memory of
 * zeros instead of the RFC's mean (section 4.1), and a loud first frame
 * through that filter drives its saturating synthesis into a full-scale
 * limit cycle (measured: a two-tone stream never recovered; a vowel took
 * 120 ms). One worker owns a state. */
#include <math.h>
#include <string.h>

#include "codecs/ilbc/ilbc_int.h"

#define LOOKBACK 60
#define HIST (LOOKBACK + TND_ILBC_MAX_BLOCK)
#define CHIRP_SYNT 0.9025f  /* bandwidth expansion before the LSFs */

void tnd_ilbc_enc_init(struct tnd_ilbc_enc *e, const struct tnd_ilbc_mode *m)
{
	memset(e, 0, sizeof(*e));
	e->m = m;
	memcpy(e->lsf_old, tnd_ilbc_lsf_mean, sizeof(e->lsf_old));
	memcpy(e->lsf_prev, tnd_ilbc_lsf_mean, sizeof(e->lsf_old));
	memcpy(e->lsf_prev + TND_ILBC_ORDER, tnd_ilbc_lsf_mean, sizeof(e->lsf_old));
}

static void highpass(struct tnd_ilbc_enc *e, const int16_t *pcm, float *x, unsigned n)
{
	const float *b = tnd_ilbc_hp_in_b, *a = tnd_ilbc_hp_in_a;
	unsigned i;

	for (i = 0; i < n; i++) {
		float in = pcm[i];
		float y = b[0] * in + b[1] * e->hp_x[0] + b[2] * e->hp_x[1] - a[1] * e->hp_y[0] -
			  a[2] * e->hp_y[1];

		e->hp_x[1] = e->hp_x[0];
		e->hp_x[0] = in;
		e->hp_y[1] = e->hp_y[0];
		e->hp_y[0] = y = TND_ILBC_FLUSH(y);
		x[i] = y;
	}
}

/* LSFs of one analysis window over 240 samples of the history. */
static void analyse(struct tnd_ilbc_enc *e, const float *win, const float *x, float *lsf,
		    unsigned set)
{
	float w[TND_ILBC_MAX_BLOCK], r[TND_ILBC_NA], a[TND_ILBC_NA], a2[TND_ILBC_NA];
	unsigned i, k;

	for (i = 0; i < TND_ILBC_MAX_BLOCK; i++)
		w[i] = win[i] * x[i];
	for (k = 0; k < TND_ILBC_NA; k++) {
		float acc = 0;

		for (i = k; i < TND_ILBC_MAX_BLOCK; i++)
			acc += w[i] * w[i - k];
		r[k] = acc * tnd_ilbc_win_lag[k];
	}
	tnd_ilbc_levinson(r, a);
	tnd_ilbc_bwexpand(a, a2, CHIRP_SYNT);
	/* a failed root search (silence, overflow) keeps the last good set */
	if (tnd_ilbc_a_to_lsf(a2, lsf))
		memcpy(e->lsf_prev + set * TND_ILBC_ORDER, lsf, TND_ILBC_ORDER * sizeof(float));
	else
		memcpy(lsf, e->lsf_prev + set * TND_ILBC_ORDER, TND_ILBC_ORDER * sizeof(float));
}

void tnd_ilbc_encode_frame(struct tnd_ilbc_enc *e, const int16_t *pcm, uint8_t *out)
{
	const struct tnd_ilbc_mode *m = e->m;
	float x[TND_ILBC_MAX_BLOCK], lsf[2 * TND_ILBC_ORDER], lsfq[2 * TND_ILBC_ORDER];
	float a[TND_ILBC_MAX_NSUB][TND_ILBC_NA], res[TND_ILBC_MAX_BLOCK], dec[TND_ILBC_MAX_BLOCK];
	struct tnd_ilbc_frame f;
	unsigned i, n, k;

	memset(&f, 0, sizeof(f));
	highpass(e, pcm, x, m->block);
	if (!e->started)
		memset(x, 0, m->block * sizeof(float));
	e->started = true;
	memmove(e->hist, e->hist + m->block, (HIST - m->block) * sizeof(float));
	memcpy(e->hist + HIST - m->block, x, m->block * sizeof(float));
	/* 30 ms: a symmetric window centred early in the frame, and the
	 * asymmetric one ending with it; 20 ms: the asymmetric one only */
	for (k = 0; k < m->nlsf; k++) {
		if (k + 1 < m->nlsf)
			analyse(e, tnd_ilbc_win_sym, e->hist, lsf + k * TND_ILBC_ORDER, k);
		else
			analyse(e, tnd_ilbc_win_asym, e->hist + LOOKBACK, lsf + k * TND_ILBC_ORDER,
				k);
		tnd_ilbc_lsf_quant(lsf + k * TND_ILBC_ORDER, f.lsf + k * TND_ILBC_LSF_SPLIT,
				   lsfq + k * TND_ILBC_ORDER);
		tnd_ilbc_lsf_stable(lsfq + k * TND_ILBC_ORDER);
	}
	tnd_ilbc_interp(m, e->lsf_old, lsfq, a);

	/* residual: each sub-block through its own quantised A(z) */
	for (i = 0; i < m->nsub; i++) {
		for (n = 0; n < TND_ILBC_SUBL; n++) {
			unsigned t = i * TND_ILBC_SUBL + n;
			float acc = x[t];

			for (k = 1; k < TND_ILBC_NA; k++)
				acc += a[i][k] *
				       (t >= k ? x[t - k] : e->ana_mem[TND_ILBC_ORDER + t - k]);
			res[t] = acc;
		}
	}
	memcpy(e->ana_mem, x + m->block - TND_ILBC_ORDER, sizeof(e->ana_mem));

	tnd_ilbc_excitation(m, &f, a, res, e->scratch, dec);
	tnd_ilbc_pack(m, &f, out);
}
