/* iLBC adaptive codebook (RFC 3951 sections 3.6 and 4.4). A codebook is
 * built from lmem samples of decoded residual (the memory): its base part
 * holds every len-sample stretch of the memory, newest first; for 40-sample
 * targets 20 augmented vectors follow, made by repeating the newest 20..39
 * samples (with a 5-sample cross-fade); then the same again over the memory
 * passed through the 8-tap expansion filter. A target takes three vectors
 * with successively quantised gains (5, 4 and 3 bits). The encoder's
 * search runs in the perceptually weighted domain: it filters memory and
 * target through 1/Aw(z) and builds the same codebook over the filtered
 * memory. Any thread; the caller passes the scratch space. */
#include <math.h>
#include <string.h>

#include "codecs/ilbc/ilbc_int.h"

#define MAX_GAIN 1.3f  /* largest first-stage gain the search takes */

/* vectors in the base part (plain stretches, then augmented ones) */
static unsigned base_size(unsigned lmem, unsigned len)
{
	return lmem - len + 1 + (len == TND_ILBC_SUBL ? TND_ILBC_SUBL / 2 : 0);
}

unsigned tnd_ilbc_cb_size(unsigned lmem, unsigned len)
{
	return 2 * base_size(lmem, len);
}

void tnd_ilbc_cb_expand(const float *mem, unsigned lmem, float *fmem)
{
	unsigned t, k;

	/* y[t] = sum_k h[k] x[t + 4 - k], the memory taken as 0 outside itself */
	for (t = 0; t < lmem; t++) {
		float acc = 0;

		for (k = 0; k < 8; k++) {
			int s = (int)t + 4 - (int)k;

			if (s >= 0 && s < (int)lmem)
				acc += tnd_ilbc_cb_filter[k] * mem[s];
		}
		fmem[t] = acc;
	}
}

/* One vector of one half of the codebook, idx counted inside that half. */
static void half_vec(const float *mem, unsigned lmem, unsigned len, unsigned idx, float *out)
{
	unsigned plain = lmem - len + 1, lag, n;

	if (idx < plain) {
		memcpy(out, mem + lmem - len - idx, len * sizeof(float));
		return;
	}
	/* augmented: the newest `lag` samples, then them again, with the
	 * 5 samples before the seam faded into the repetition */
	lag = idx - plain + len / 2;
	for (n = 0; n < len; n++) {
		if (n + 5 < lag) {
			out[n] = mem[lmem - lag + n];
		} else if (n < lag) {
			float f = 0.2f * (float)(n + 5 - lag);

			out[n] = (1 - f) * mem[lmem - lag + n] + f * mem[lmem - 2 * lag + n];
		} else {
			out[n] = mem[lmem - 2 * lag + n];
		}
	}
}

void tnd_ilbc_cb_vec(const float *mem, const float *fmem, unsigned lmem, unsigned len,
		     unsigned idx, float *out)
{
	unsigned b = base_size(lmem, len);

	if (idx >= 2 * b)
		idx = 2 * b - 1;  /* unpack clamps; this guards our own callers */
	if (idx < b)
		half_vec(mem, lmem, len, idx, out);
	else
		half_vec(fmem, lmem, len, idx - b, out);
}

void tnd_ilbc_gains(const int *g, float *gains)
{
	float s;

	gains[0] = tnd_ilbc_gain5[g[0] & 31];
	s = fabsf(gains[0]) < 0.1f ? 0.1f : fabsf(gains[0]);
	gains[1] = s * tnd_ilbc_gain4[g[1] & 15];
	s = fabsf(gains[1]) < 0.1f ? 0.1f : fabsf(gains[1]);
	gains[2] = s * tnd_ilbc_gain3[g[2] & 7];
}

void tnd_ilbc_cb_decode(const float *mem, unsigned lmem, unsigned len, const int *idx,
			const int *gidx, float *out)
{
	float fmem[TND_ILBC_CB_MEM], vec[TND_ILBC_SUBL], g[TND_ILBC_STAGES];
	unsigned k, n;

	tnd_ilbc_gains(gidx, g);
	tnd_ilbc_cb_expand(mem, lmem, fmem);
	memset(out, 0, len * sizeof(float));
	for (k = 0; k < TND_ILBC_STAGES; k++) {
		tnd_ilbc_cb_vec(mem, fmem, lmem, len, (unsigned)idx[k], vec);
		for (n = 0; n < len; n++)
			out[n] += g[k] * vec[n];
	}
}

/* Indices a 7-bit stage 2 or 3 field can carry (section 3.6.4.2). */
static bool fits7(unsigned i)
{
	return i < 44 || (i >= 108 && i < 172) || i >= 236;
}

/* Nearest level of scale * tab[0..n); its index. */
static int quant_gain(float g, float scale, const float *tab, unsigned n, float *gq)
{
	unsigned i, best = 0;
	float d, bd = 1e30f;

	for (i = 0; i < n; i++) {
		d = (g - scale * tab[i]) * (g - scale * tab[i]);
		if (d < bd) {
			bd = d;
			best = i;
		}
	}
	*gq = scale * tab[best];
	return (int)best;
}

/* Weighting: x through 1/aw with zero state, in place. */
static void weight(float *x, unsigned n, const float *aw)
{
	unsigned i, k;

	for (i = 0; i < n; i++) {
		float acc = x[i];

		for (k = 1; k < TND_ILBC_NA && k <= i; k++)
			acc -= aw[k] * x[i - k];
		x[i] = acc;
	}
}

/* Dot product in four partial sums (the search's inner loop: without
 * -ffast-math the compiler keeps one sum's order and cannot vectorise). */
static float dot(const float *a, const float *b, unsigned n)
{
	float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	unsigned i;

	for (i = 0; i + 4 <= n; i += 4) {
		s0 += a[i] * b[i];
		s1 += a[i + 1] * b[i + 1];
		s2 += a[i + 2] * b[i + 2];
		s3 += a[i + 3] * b[i + 3];
	}
	for (; i < n; i++)
		s0 += a[i] * b[i];
	return (s0 + s1) + (s2 + s3);
}

void tnd_ilbc_cb_search(const float *mem, unsigned lmem, const float *target, unsigned len,
			const float *aw, bool restrict7, float *scratch, int *idx, int *gidx)
{
	float *aug = scratch, *ene = scratch + TND_ILBC_CB_MAX * TND_ILBC_SUBL;
	float buf[TND_ILBC_CB_MEM + TND_ILBC_SUBL], fmem[TND_ILBC_CB_MEM], t[TND_ILBC_SUBL];
	const float *vp[TND_ILBC_CB_MAX];
	float prev = 1.0f, gq, scale;
	unsigned size = tnd_ilbc_cb_size(lmem, len), plain = lmem - len + 1, i, n, k;

	memcpy(buf, mem, lmem * sizeof(float));
	memcpy(buf + lmem, target, len * sizeof(float));
	weight(buf, lmem + len, aw);
	memcpy(t, buf + lmem, len * sizeof(float));
	tnd_ilbc_cb_expand(buf, lmem, fmem);
	/* plain vectors are stretches of the (expanded) memory; only the
	 * augmented ones are built */
	for (i = 0; i < size; i++) {
		unsigned j = i < size / 2 ? i : i - size / 2;
		const float *m = i < size / 2 ? buf : fmem;

		if (j < plain) {
			vp[i] = m + lmem - len - j;
		} else {
			tnd_ilbc_cb_vec(buf, fmem, lmem, len, i, aug + i * len);
			vp[i] = aug + i * len;
		}
		ene[i] = dot(vp[i], vp[i], len);
	}
	for (k = 0; k < TND_ILBC_STAGES; k++) {
		float best = -1, bg = 0;
		unsigned bi = 0;

		for (i = 0; i < size; i++) {
			float c, g;

			if (ene[i] < 1e-6f || (k && restrict7 && !fits7(i)))
				continue;
			c = dot(t, vp[i], len);
			g = c / ene[i];
			/* the first stage's gain quantiser has positive levels only */
			if ((k == 0 && c <= 0) || fabsf(g) >= MAX_GAIN)
				continue;
			if (c * g > best) {
				best = c * g;
				bi = i;
				bg = g;
			}
		}
		/* later stages scale by the previous gain, at least 0.1 */
		scale = prev < 0.1f ? 0.1f : prev;
		idx[k] = (int)bi;
		if (k == 0)
			gidx[k] = quant_gain(bg < 0 ? 0 : bg, 1.0f, tnd_ilbc_gain5, 32, &gq);
		else if (k == 1)
			gidx[k] = quant_gain(bg, scale, tnd_ilbc_gain4, 16, &gq);
		else
			gidx[k] = quant_gain(bg, scale, tnd_ilbc_gain3, 8, &gq);
		prev = fabsf(gq);
		for (n = 0; n < len; n++)
			t[n] -= gq * vp[bi][n];
	}
}
