/* iLBC bitstream (RFC 3951 section 3.8): every parameter of a frame is cut
 * into up to three parts, most significant bits first, one per protection
 * class; the frame is class 1's parts in parameter order, then class 2's,
 * then class 3's, then one "empty frame" bit (0), MSB first in bytes.
 * The tables below are the bit counts per class of each parameter (the
 * RFC's table 3.2). Stages 2 and 3 of the first codebook block send 7 of
 * their 8 bits, through the index mapping of section 3.6.4.2 (map_down and
 * map_up). Any thread; no state. */
#include <errno.h>
#include <string.h>

#include "codecs/ilbc/ilbc_int.h"

struct tnd_ilbc_bits {
	uint8_t lsf[6][3], start[3], state_first[3], scale[3], state[3];
	uint8_t xcb[3][3], xgain[3][3], cb[4][3][3], gain[4][3][3];
};

static const struct tnd_ilbc_bits bits20 = {
	.lsf = { {6, 0, 0}, {7, 0, 0}, {7, 0, 0} },
	.start = {2, 0, 0}, .state_first = {1, 0, 0}, .scale = {6, 0, 0}, .state = {0, 1, 2},
	.xcb = { {6, 0, 1}, {0, 0, 7}, {0, 0, 7} },
	.xgain = { {2, 0, 3}, {1, 1, 2}, {0, 0, 3} },
	.cb = { { {7, 0, 1}, {0, 0, 7}, {0, 0, 7} }, { {0, 0, 8}, {0, 0, 8}, {0, 0, 8} } },
	.gain = { { {1, 2, 2}, {1, 1, 2}, {0, 0, 3} }, { {1, 1, 3}, {0, 2, 2}, {0, 0, 3} } },
};

static const struct tnd_ilbc_bits bits30 = {
	.lsf = { {6, 0, 0}, {7, 0, 0}, {7, 0, 0}, {6, 0, 0}, {7, 0, 0}, {7, 0, 0} },
	.start = {3, 0, 0}, .state_first = {1, 0, 0}, .scale = {6, 0, 0}, .state = {0, 1, 2},
	.xcb = { {4, 2, 1}, {0, 0, 7}, {0, 0, 7} },
	.xgain = { {1, 1, 3}, {1, 1, 2}, {0, 0, 3} },
	.cb = { { {6, 1, 1}, {0, 0, 7}, {0, 0, 7} }, { {0, 7, 1}, {0, 0, 8}, {0, 0, 8} },
		{ {0, 7, 1}, {0, 0, 8}, {0, 0, 8} }, { {0, 7, 1}, {0, 0, 8}, {0, 0, 8} } },
	.gain = { { {1, 2, 2}, {1, 2, 1}, {0, 0, 3} }, { {0, 2, 3}, {0, 2, 2}, {0, 0, 3} },
		  { {0, 1, 4}, {0, 1, 3}, {0, 0, 3} }, { {0, 1, 4}, {0, 1, 3}, {0, 0, 3} } },
};

/* One parameter: where its value lives and its bits per class. */
struct field {
	int *v;
	const uint8_t *bits;
};

#define MAX_FIELDS (6 + 3 + TND_ILBC_MAX_SHORT + 6 + 2 * 3 * TND_ILBC_MAX_CBBLOCKS)

/* The parameters in bitstream order. */
static unsigned list_fields(const struct tnd_ilbc_mode *m, struct tnd_ilbc_frame *f,
			    struct field *fl)
{
	const struct tnd_ilbc_bits *b = m->ms == 20 ? &bits20 : &bits30;
	unsigned n = 0, i, k;

	for (i = 0; i < m->nlsf * TND_ILBC_LSF_SPLIT; i++)
		fl[n++] = (struct field){ &f->lsf[i], b->lsf[i] };
	fl[n++] = (struct field){ &f->start, b->start };
	fl[n++] = (struct field){ &f->state_first, b->state_first };
	fl[n++] = (struct field){ &f->scale, b->scale };
	for (i = 0; i < m->short_len; i++)
		fl[n++] = (struct field){ &f->state[i], b->state };
	for (k = 0; k < TND_ILBC_STAGES; k++)
		fl[n++] = (struct field){ &f->xcb[k], b->xcb[k] };
	for (k = 0; k < TND_ILBC_STAGES; k++)
		fl[n++] = (struct field){ &f->xgain[k], b->xgain[k] };
	for (i = 0; i < m->ncb; i++)
		for (k = 0; k < TND_ILBC_STAGES; k++)
			fl[n++] = (struct field){ &f->cb[i][k], b->cb[i][k] };
	for (i = 0; i < m->ncb; i++)
		for (k = 0; k < TND_ILBC_STAGES; k++)
			fl[n++] = (struct field){ &f->gain[i][k], b->gain[i][k] };
	return n;
}

/* Codebook index to the 7 bits sent (only indices the search allows). */
static int map_down(int i)
{
	if (i >= 108 && i < 172)
		return i - 64;
	if (i >= 236)
		return i - 128;
	return i;
}

static int map_up(int t)
{
	if (t >= 44 && t < 108)
		return t + 64;
	if (t >= 108)
		return t + 128;
	return t;
}

void tnd_ilbc_pack(const struct tnd_ilbc_mode *m, const struct tnd_ilbc_frame *f, uint8_t *out)
{
	struct field fl[MAX_FIELDS];
	struct tnd_ilbc_frame t = *f;
	unsigned n, c, i, pos = 0;

	t.cb[0][1] = map_down(t.cb[0][1]);
	t.cb[0][2] = map_down(t.cb[0][2]);
	n = list_fields(m, &t, fl);
	memset(out, 0, m->bytes);
	for (c = 0; c < 3; c++) {
		for (i = 0; i < n; i++) {
			unsigned nb = fl[i].bits[c], later = 0, b;

			for (b = c + 1; b < 3; b++)
				later += fl[i].bits[b];
			for (b = 0; b < nb; b++, pos++) {
				unsigned bit = (unsigned)*fl[i].v >> (later + nb - 1 - b) & 1;

				out[pos >> 3] |= (uint8_t)(bit << (7 - (pos & 7)));
			}
		}
	}
	/* the remaining bit is the empty-frame flag: 0 */
}

int tnd_ilbc_unpack(const struct tnd_ilbc_mode *m, const uint8_t *in, struct tnd_ilbc_frame *f)
{
	struct field fl[MAX_FIELDS];
	unsigned n, c, i, pos = 0, xmax;

	memset(f, 0, sizeof(*f));
	n = list_fields(m, f, fl);
	for (c = 0; c < 3; c++) {
		for (i = 0; i < n; i++) {
			unsigned nb = fl[i].bits[c], b;

			for (b = 0; b < nb; b++, pos++)
				*fl[i].v = *fl[i].v << 1 | (in[pos >> 3] >> (7 - (pos & 7)) & 1);
		}
	}
	if (in[pos >> 3] >> (7 - (pos & 7)) & 1)
		return EBADMSG;  /* the sender marked it empty (section 3.8) */
	if (f->start < 1 || f->start > (int)m->nsub - 1)
		return EBADMSG;
	f->cb[0][1] = map_up(f->cb[0][1]);
	f->cb[0][2] = map_up(f->cb[0][2]);
	/* 20 ms: 7 bits address a codebook of 126 vectors */
	xmax = tnd_ilbc_cb_size(TND_ILBC_CB_MEM_SHORT, TND_ILBC_STATE_LEN - m->short_len) - 1;
	for (i = 0; i < TND_ILBC_STAGES; i++)
		if (f->xcb[i] > (int)xmax)
			f->xcb[i] = (int)xmax;
	return 0;
}
