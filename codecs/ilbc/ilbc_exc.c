/* iLBC frame residual (RFC 3951 sections 3.5 to 3.6 and 4.2 to 4.3): the
 * start state first, then the codebook-coded rest of its two sub-blocks
 * (forward when the scalar part comes first, else backward in time), then
 * every later sub-block forward, then every earlier one backward in time,
 * each from a memory of what is already decoded. Encoder and decoder run
 * this same walk, the encoder choosing each segment's parameters from its
 * target just before decoding it, so both sides hold the same memory.
 * Any thread; the caller passes the scratch space. */
#include <string.h>

#include "codecs/ilbc/ilbc_int.h"

#define CHIRP_WEIGHT 0.4222f  /* perceptual weighting 1/A(z/0.4222) */

/* Encoder: the two sub-blocks of most energy hold the start state, and
 * its scalar part sits at their more energetic end (section 3.3). */
static void classify(const struct tnd_ilbc_mode *m, struct tnd_ilbc_frame *f, const float *x)
{
	float e[TND_ILBC_MAX_NSUB] = { 0 }, best = -1, head = 0, tail = 0;
	unsigned i, n, base, d = TND_ILBC_STATE_LEN - m->short_len;

	for (i = 0; i < m->nsub; i++)
		for (n = 0; n < TND_ILBC_SUBL; n++)
			e[i] += x[i * TND_ILBC_SUBL + n] * x[i * TND_ILBC_SUBL + n];
	for (i = 0; i + 1 < m->nsub; i++) {
		if (e[i] + e[i + 1] > best) {
			best = e[i] + e[i + 1];
			f->start = (int)i + 1;
		}
	}
	base = (unsigned)(f->start - 1) * TND_ILBC_SUBL;
	for (n = 0; n < d; n++) {
		head += x[base + n] * x[base + n];
		tail += x[base + TND_ILBC_STATE_LEN - 1 - n] * x[base + TND_ILBC_STATE_LEN - 1 - n];
	}
	/* the first and last `short_len` samples share all but these ends */
	f->state_first = head > tail;
}

static void shift_in(float *mem, const float *v)
{
	memmove(mem, mem + TND_ILBC_SUBL, (TND_ILBC_CB_MEM - TND_ILBC_SUBL) * sizeof(float));
	memcpy(mem + TND_ILBC_CB_MEM - TND_ILBC_SUBL, v, TND_ILBC_SUBL * sizeof(float));
}

/* One codebook-coded segment: searched first when there is a target. */
static void segment(const float *mem, unsigned lmem, const float *tgt, unsigned len,
		    const float *a, bool restrict7, float *scratch, int *idx, int *g, float *out)
{
	float aw[TND_ILBC_NA];

	if (tgt) {
		tnd_ilbc_bwexpand(a, aw, CHIRP_WEIGHT);
		tnd_ilbc_cb_search(mem, lmem, tgt, len, aw, restrict7, scratch, idx, g);
	}
	tnd_ilbc_cb_decode(mem, lmem, len, idx, g, out);
}

/* The rest of the start state's two sub-blocks. */
static void state_rest(const struct tnd_ilbc_mode *m, struct tnd_ilbc_frame *f,
		       float a[][TND_ILBC_NA], const float *target, float *scratch, float *res,
		       unsigned pos)
{
	unsigned s = m->short_len, d = TND_ILBC_STATE_LEN - s, k, first = (unsigned)f->start - 1;
	float mem[TND_ILBC_CB_MEM] = { 0 }, rev[TND_ILBC_SUBL], trev[TND_ILBC_SUBL];

	if (f->state_first) {
		memcpy(mem + TND_ILBC_CB_MEM - s, res + pos, s * sizeof(float));
		segment(mem + TND_ILBC_CB_MEM - TND_ILBC_CB_MEM_SHORT, TND_ILBC_CB_MEM_SHORT,
			target ? target + pos + s : NULL, d, a[first + 1], false, scratch,
			f->xcb, f->xgain, res + pos + s);
		return;
	}
	for (k = 0; k < s; k++)
		mem[TND_ILBC_CB_MEM - 1 - k] = res[pos + k];
	if (target)
		for (k = 0; k < d; k++)
			trev[k] = target[pos - 1 - k];
	segment(mem + TND_ILBC_CB_MEM - TND_ILBC_CB_MEM_SHORT, TND_ILBC_CB_MEM_SHORT,
		target ? trev : NULL, d, a[first], false, scratch, f->xcb, f->xgain, rev);
	for (k = 0; k < d; k++)
		res[pos - 1 - k] = rev[k];
}

void tnd_ilbc_excitation(const struct tnd_ilbc_mode *m, struct tnd_ilbc_frame *f,
			 float a[][TND_ILBC_NA], const float *target, float *scratch, float *res)
{
	float mem[TND_ILBC_CB_MEM], rev[TND_ILBC_MAX_BLOCK], trev[TND_ILBC_SUBL];
	unsigned start, pos, sub = 0, i, k, n, blk, got;

	if (target)
		classify(m, f, target);
	start = (unsigned)f->start;
	pos = (start - 1) * TND_ILBC_SUBL;
	if (!f->state_first)
		pos += TND_ILBC_STATE_LEN - m->short_len;
	if (target)
		tnd_ilbc_state_encode(target + pos, a[start - 1], m->short_len, &f->scale,
				      f->state);
	tnd_ilbc_state_decode(f->scale, f->state, a[start - 1], m->short_len, res + pos);
	state_rest(m, f, a, target, scratch, res, pos);

	/* later sub-blocks, forward in time */
	memset(mem, 0, sizeof(mem));
	memcpy(mem + TND_ILBC_CB_MEM - TND_ILBC_STATE_LEN, res + (start - 1) * TND_ILBC_SUBL,
	       TND_ILBC_STATE_LEN * sizeof(float));
	for (blk = start + 1; blk < m->nsub; blk++, sub++) {
		segment(mem, TND_ILBC_CB_MEM, target ? target + blk * TND_ILBC_SUBL : NULL,
			TND_ILBC_SUBL, a[blk], sub == 0, scratch, f->cb[sub], f->gain[sub],
			res + blk * TND_ILBC_SUBL);
		shift_in(mem, res + blk * TND_ILBC_SUBL);
	}

	/* earlier sub-blocks, backward in time from the start state */
	if (start < 2)
		return;
	memset(mem, 0, sizeof(mem));
	got = TND_ILBC_SUBL * (m->nsub + 1 - start);
	if (got > TND_ILBC_CB_MEM)
		got = TND_ILBC_CB_MEM;
	for (k = 0; k < got; k++)
		mem[TND_ILBC_CB_MEM - 1 - k] = res[(start - 1) * TND_ILBC_SUBL + k];
	for (i = 0; i + 1 < start; i++, sub++) {
		blk = start - 2 - i;
		if (target)
			for (n = 0; n < TND_ILBC_SUBL; n++)
				trev[n] = target[blk * TND_ILBC_SUBL + TND_ILBC_SUBL - 1 - n];
		segment(mem, TND_ILBC_CB_MEM, target ? trev : NULL, TND_ILBC_SUBL, a[blk], sub == 0,
			scratch, f->cb[sub], f->gain[sub], rev + i * TND_ILBC_SUBL);
		shift_in(mem, rev + i * TND_ILBC_SUBL);
	}
	for (n = 0; n < TND_ILBC_SUBL * (start - 1); n++)
		res[TND_ILBC_SUBL * (start - 1) - 1 - n] = rev[n];
}
