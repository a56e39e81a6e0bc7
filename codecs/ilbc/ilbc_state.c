/* iLBC start state (RFC 3951 sections 3.5 and 4.2). The 57/58 samples of
 * residual that start a frame's decoding are sent as 3-bit scalars after a
 * circular all-pass filter A~(z)/A(z) (A~: A's coefficients reversed) that
 * spreads their energy evenly, scaled by one of 64 maximum amplitudes
 * (a log10 table). The decoder runs the transpose of that filter: the
 * same all-pass on the time-reversed samples, folded and reversed back;
 * the filter is nearly orthogonal, so the transpose is nearly its inverse.
 * The encoder here quantises each sample to the nearest level (no noise
 * feedback). Any thread; no state. */
#include <math.h>
#include <string.h>

#include "codecs/ilbc/ilbc_int.h"

/* y[0..2n) = all-pass A~/A of x[0..n) followed by n zeros, zero state;
 * returns y folded to n samples: y[k] + y[k + n]. */
static void allpass_fold(const float *x, const float *a, unsigned n, float *out)
{
	float y[2 * TND_ILBC_MAX_SHORT], xin[2 * TND_ILBC_MAX_SHORT];
	unsigned i, k;

	memset(xin, 0, sizeof(xin));
	memcpy(xin, x, n * sizeof(float));
	for (i = 0; i < 2 * n; i++) {
		float acc = 0;

		/* numerator: a[10], a[9], ..., a[0] */
		for (k = 0; k < TND_ILBC_NA && k <= i; k++)
			acc += a[TND_ILBC_ORDER - k] * xin[i - k];
		for (k = 1; k < TND_ILBC_NA && k <= i; k++)
			acc -= a[k] * y[i - k];
		y[i] = acc;
	}
	for (i = 0; i < n; i++)
		out[i] = y[i] + y[i + n];
}

void tnd_ilbc_state_decode(int scale, const int *q, const float *a, unsigned len, float *out)
{
	float amp = powf(10.0f, tnd_ilbc_state_frgq[scale & 63]) / 4.5f;
	float x[TND_ILBC_MAX_SHORT] = { 0 }, y[TND_ILBC_MAX_SHORT];
	unsigned k;

	for (k = 0; k < len; k++)
		x[k] = amp * tnd_ilbc_state_sq3[q[len - 1 - k] & 7];
	allpass_fold(x, a, len, y);
	for (k = 0; k < len; k++)
		out[k] = y[len - 1 - k];
}

void tnd_ilbc_state_encode(const float *res, const float *a, unsigned len, int *scale, int *q)
{
	float y[TND_ILBC_MAX_SHORT], peak = 0, lg, best = 1e30f, s;
	unsigned k, i;

	allpass_fold(res, a, len, y);
	for (k = 0; k < len; k++)
		if (fabsf(y[k]) > peak)
			peak = fabsf(y[k]);
	lg = log10f(peak < 10.0f ? 10.0f : peak);
	*scale = 0;
	for (i = 0; i < 64; i++) {
		if (fabsf(tnd_ilbc_state_frgq[i] - lg) < best) {
			best = fabsf(tnd_ilbc_state_frgq[i] - lg);
			*scale = (int)i;
		}
	}
	s = 4.5f / powf(10.0f, tnd_ilbc_state_frgq[*scale]);
	for (k = 0; k < len; k++) {
		float v = y[k] * s, bd = 1e30f;

		q[k] = 0;
		for (i = 0; i < 8; i++) {
			float d = fabsf(v - tnd_ilbc_state_sq3[i]);

			if (d < bd) {
				bd = d;
				q[k] = (int)i;
			}
		}
	}
}
