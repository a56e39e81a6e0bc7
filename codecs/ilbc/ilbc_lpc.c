/* iLBC linear prediction (RFC 3951 sections 3.2 and 4.1): Levinson-Durbin,
 * conversions between A(z) and line spectral frequencies (radians, 0..pi),
 * the split vector quantiser of the LSFs, their stability check, and the
 * per-sub-block interpolation both sides run from the quantised sets.
 * A(z) = (P(z) + Q(z)) / 2 with P(z) = A(z) + z^-11 A(1/z), whose roots are
 * the even-numbered LSFs (counting from 0), and Q(z) = A(z) - z^-11 A(1/z)
 * with the odd ones. Any thread; no state. */
#include <math.h>
#include <string.h>

#include "codecs/ilbc/ilbc_int.h"

#define PI_F 3.14159265f
#define GRID 256  /* root search steps over 0..pi */

/* out[0..deg+2] = in[0..deg] * (1 - 2c z^-1 + z^-2), in place allowed */
static void mul_quad(float *p, unsigned deg, float c)
{
	unsigned i;

	p[deg + 1] = 0;
	p[deg + 2] = 0;
	for (i = deg + 2; i >= 2; i--)
		p[i] += -2 * c * p[i - 1] + p[i - 2];
	p[1] += -2 * c * p[0];
}

void tnd_ilbc_lsf_to_a(const float *lsf, float *a)
{
	float p[TND_ILBC_ORDER + 3] = { 1 }, q[TND_ILBC_ORDER + 3] = { 1 };
	unsigned i;

	for (i = 0; i < TND_ILBC_ORDER / 2; i++) {
		mul_quad(p, 2 * i, cosf(lsf[2 * i]));
		mul_quad(q, 2 * i, cosf(lsf[2 * i + 1]));
	}
	/* P = p (1 + z^-1), Q = q (1 - z^-1); the z^-11 terms cancel in the sum */
	a[0] = 1;
	for (i = 1; i <= TND_ILBC_ORDER; i++)
		a[i] = 0.5f * ((p[i] + p[i - 1]) + (q[i] - q[i - 1]));
}

/* A symmetric polynomial of degree 10 on the unit circle, without its
 * linear-phase factor: c[5] + 2 sum c[5-k] T_k(x), x = cos(w) (Clenshaw). */
static float sym_eval(const float *c, float x)
{
	float b1 = 0, b2 = 0, t;
	int k;

	for (k = TND_ILBC_ORDER / 2; k >= 1; k--) {
		t = 2 * c[TND_ILBC_ORDER / 2 - k] + 2 * x * b1 - b2;
		b2 = b1;
		b1 = t;
	}
	return c[TND_ILBC_ORDER / 2] + x * b1 - b2;
}

/* The 5 roots in (0, pi) of a symmetric polynomial; their count. */
static unsigned roots(const float *c, float *w)
{
	float prev = sym_eval(c, 1.0f), lo, hi, mid, vlo, v;
	unsigned n = 0, i, it;

	for (i = 1; i <= GRID && n < TND_ILBC_ORDER / 2; i++) {
		hi = PI_F * (float)i / GRID;
		v = sym_eval(c, cosf(hi));
		if ((prev < 0) != (v < 0)) {
			lo = PI_F * (float)(i - 1) / GRID;
			vlo = prev;
			for (it = 0; it < 14; it++) {
				mid = 0.5f * (lo + hi);
				if ((sym_eval(c, cosf(mid)) < 0) == (vlo < 0)) {
					lo = mid;
					vlo = sym_eval(c, cosf(mid));
				} else {
					hi = mid;
				}
			}
			w[n++] = 0.5f * (lo + hi);
			hi = PI_F * (float)i / GRID;
		}
		prev = v;
	}
	return n;
}

bool tnd_ilbc_a_to_lsf(const float *a, float *lsf)
{
	float p[TND_ILBC_ORDER + 1], q[TND_ILBC_ORDER + 1], wp[5], wq[5];
	float ext[TND_ILBC_ORDER + 2];
	unsigned i;

	memcpy(ext, a, TND_ILBC_NA * sizeof(float));
	ext[TND_ILBC_NA] = 0;
	/* divide P by (1 + z^-1) and Q by (1 - z^-1) */
	p[0] = q[0] = 1;
	for (i = 1; i <= TND_ILBC_ORDER; i++) {
		p[i] = ext[i] + ext[TND_ILBC_NA - i] - p[i - 1];
		q[i] = ext[i] - ext[TND_ILBC_NA - i] + q[i - 1];
	}
	if (roots(p, wp) != 5 || roots(q, wq) != 5)
		return false;
	for (i = 0; i < 5; i++) {
		lsf[2 * i] = wp[i];
		lsf[2 * i + 1] = wq[i];
	}
	return true;
}

void tnd_ilbc_lsf_stable(float *lsf)
{
	const float gap = 0.039f, half = 0.0195f, lo = 0.01f, hi = 3.14f;
	unsigned pass, i;

	/* section 4.1: two passes push close or crossed neighbours apart,
	 * then keep every LSF inside [0.01, 3.14] */
	for (pass = 0; pass < 2; pass++) {
		for (i = 0; i + 1 < TND_ILBC_ORDER; i++) {
			if (lsf[i + 1] - lsf[i] < gap) {
				if (lsf[i + 1] < lsf[i]) {
					lsf[i + 1] = lsf[i] + half;
				} else {
					lsf[i] -= half;
					lsf[i + 1] += half;
				}
			}
			if (lsf[i] < lo)
				lsf[i] = lo;
			if (lsf[i] > hi)
				lsf[i] = hi;
		}
	}
	/* our addition for garbage frames: strictly increasing inside the
	 * bounds, so A(z) is minimum phase (no change to any sane set) */
	for (i = 1; i < TND_ILBC_ORDER; i++)
		if (lsf[i] < lsf[i - 1] + lo)
			lsf[i] = lsf[i - 1] + lo;
	for (i = TND_ILBC_ORDER; i-- > 0;) {
		float top = hi - lo * (float)(TND_ILBC_ORDER - 1 - i);

		if (lsf[i] > top)
			lsf[i] = top;
	}
}

/* offsets of the three split codebooks in tnd_ilbc_lsf_cb */
static const unsigned split_dim[3] = { 3, 3, 4 }, split_size[3] = { 64, 128, 128 };
static const unsigned split_off[3] = { 0, 192, 576 };

void tnd_ilbc_lsf_dequant(const int *idx, float *lsf)
{
	unsigned s, pos = 0;

	for (s = 0; s < TND_ILBC_LSF_SPLIT; s++) {
		memcpy(lsf + pos, tnd_ilbc_lsf_cb + split_off[s] + (unsigned)idx[s] * split_dim[s],
		       split_dim[s] * sizeof(float));
		pos += split_dim[s];
	}
}

void tnd_ilbc_lsf_quant(const float *lsf, int *idx, float *lsfq)
{
	unsigned s, j, k, pos = 0;

	for (s = 0; s < TND_ILBC_LSF_SPLIT; s++) {
		const float *cb = tnd_ilbc_lsf_cb + split_off[s];
		float best = 1e30f;

		idx[s] = 0;
		for (j = 0; j < split_size[s]; j++, cb += split_dim[s]) {
			float d = 0;

			for (k = 0; k < split_dim[s]; k++)
				d += (lsf[pos + k] - cb[k]) * (lsf[pos + k] - cb[k]);
			if (d < best) {
				best = d;
				idx[s] = (int)j;
			}
		}
		pos += split_dim[s];
	}
	tnd_ilbc_lsf_dequant(idx, lsfq);
}

static void mix_to_a(const float *x, const float *y, float wx, float *a)
{
	float lsf[TND_ILBC_ORDER];
	unsigned i;

	for (i = 0; i < TND_ILBC_ORDER; i++)
		lsf[i] = wx * x[i] + (1 - wx) * y[i];
	tnd_ilbc_lsf_to_a(lsf, a);
}

void tnd_ilbc_interp(const struct tnd_ilbc_mode *m, float *old, const float *lsfq,
		     float a[][TND_ILBC_NA])
{
	/* weights of the older set per sub-block (sections 3.2.6, 4.1) */
	static const float w20[4] = { 0.75f, 0.5f, 0.25f, 0 };
	static const float w30[5] = { 1, 2.0f / 3, 1.0f / 3, 0, 0 };
	unsigned i;

	if (m->nlsf == 1) {
		for (i = 0; i < 4; i++)
			mix_to_a(old, lsfq, w20[i], a[i]);
		memcpy(old, lsfq, TND_ILBC_ORDER * sizeof(float));
		return;
	}
	mix_to_a(old, lsfq, 0.5f, a[0]);
	for (i = 1; i < 6; i++)
		mix_to_a(lsfq, lsfq + TND_ILBC_ORDER, w30[i - 1], a[i]);
	memcpy(old, lsfq + TND_ILBC_ORDER, TND_ILBC_ORDER * sizeof(float));
}

void tnd_ilbc_bwexpand(const float *a, float *out, float chirp)
{
	float c = chirp;
	unsigned i;

	out[0] = a[0];
	for (i = 1; i < TND_ILBC_NA; i++, c *= chirp)
		out[i] = a[i] * c;
}

void tnd_ilbc_levinson(const float *r, float *a)
{
	float tmp[TND_ILBC_NA], err = r[0], k, acc;
	unsigned i, j;

	memset(a, 0, TND_ILBC_NA * sizeof(float));
	a[0] = 1;
	if (r[0] <= 1e-9f)
		return;
	for (i = 1; i <= TND_ILBC_ORDER; i++) {
		acc = r[i];
		for (j = 1; j < i; j++)
			acc += a[j] * r[i - j];
		k = -acc / err;
		memcpy(tmp, a, sizeof(tmp));
		for (j = 1; j < i; j++)
			a[j] = tmp[j] + k * tmp[i - j];
		a[i] = k;
		err *= 1 - k * k;
		if (err <= 1e-9f)
			break;
	}
}
