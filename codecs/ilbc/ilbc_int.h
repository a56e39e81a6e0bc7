/* codecs/ilbc/ private: our implementation of iLBC (RFC 3951), shared by its
 * files. Frame parameters (what the bitstream carries), the per-mode
 * geometry, the encoder and decoder states (sized for the larger mode at
 * alloc, so no frame allocates), and the DSP steps both sides run. All
 * arithmetic is float; bit-exactness with the RFC's reference is not a goal,
 * decoding by any RFC 3951 decoder is (tests/unit/test_ilbc.c checks it
 * against FFmpeg's). A state belongs to one media worker; tables are
 * read-only. */
#ifndef TND_CODECS_ILBC_INT_H
#define TND_CODECS_ILBC_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TND_ILBC_ORDER 10              /* LPC order */
#define TND_ILBC_NA (TND_ILBC_ORDER + 1)   /* coefficients of A(z), a[0] = 1 */
#define TND_ILBC_SUBL 40               /* sub-block */
#define TND_ILBC_STATE_LEN 80          /* two sub-blocks hold the start state */
#define TND_ILBC_MAX_BLOCK 240         /* 30 ms */
#define TND_ILBC_MAX_NSUB 6
#define TND_ILBC_MAX_CBBLOCKS 4        /* 40-sample blocks coded by the codebook */
#define TND_ILBC_STAGES 3
#define TND_ILBC_CB_MEM 147            /* codebook memory of a 40-sample block */
#define TND_ILBC_CB_MEM_SHORT 85       /* ... of the rest of the start state */
#define TND_ILBC_CB_MAX 256            /* vectors in one codebook */
#define TND_ILBC_MAX_SHORT 58          /* scalar-coded start state samples */
#define TND_ILBC_LSF_SPLIT 3
#define TND_ILBC_MAX_BYTES 50

/* The two modes (section 2): 20 ms at 15.2 kbit/s, 30 ms at 13.33 kbit/s. */
struct tnd_ilbc_mode {
	unsigned ms;
	unsigned block;       /* samples per frame: 160 or 240 */
	unsigned nsub;        /* sub-blocks: 4 or 6 */
	unsigned ncb;         /* 40-sample blocks coded by the codebook: nsub - 2 */
	unsigned nlsf;        /* LSF sets per frame: 1 or 2 */
	unsigned short_len;   /* scalar-coded start state: 57 or 58 */
	unsigned bytes;       /* 38 or 50 */
};

const struct tnd_ilbc_mode *tnd_ilbc_mode(unsigned ms);

/* Everything one frame carries, with codebook indices as the codebook
 * numbers them (before the transmitted-index mapping of section 3.6.4.2). */
struct tnd_ilbc_frame {
	int lsf[2 * TND_ILBC_LSF_SPLIT];
	int start;                 /* 1..nsub-1: the state is in sub-blocks start-1, start */
	int state_first;           /* 1: scalar part first, codebook part after it */
	int scale;                 /* 0..63 */
	int state[TND_ILBC_MAX_SHORT]; /* 0..7 */
	int xcb[TND_ILBC_STAGES];      /* the rest of the start state (22/23 samples) */
	int xgain[TND_ILBC_STAGES];
	/* in coding order: forward, then backward */
	int cb[TND_ILBC_MAX_CBBLOCKS][TND_ILBC_STAGES];
	int gain[TND_ILBC_MAX_CBBLOCKS][TND_ILBC_STAGES];
};

/* ----------------------------------------------------------- ilbc_pack.c */

/* Writes m->bytes bytes (section 3.8: three classes, then a 0 bit). */
void tnd_ilbc_pack(const struct tnd_ilbc_mode *m, const struct tnd_ilbc_frame *f, uint8_t *out);
/* Reads a frame; EBADMSG for one the RFC tells to treat as lost (start out
 * of range, the empty-frame bit set). Indices are clamped to their
 * codebooks, so any input decodes safely. */
int tnd_ilbc_unpack(const struct tnd_ilbc_mode *m, const uint8_t *in, struct tnd_ilbc_frame *f);

/* ------------------------------------------------------------ ilbc_lpc.c */

void tnd_ilbc_lsf_to_a(const float *lsf, float *a);
/* false when the roots cannot be found (lsf left untouched) */
bool tnd_ilbc_a_to_lsf(const float *a, float *lsf);
/* Keeps LSFs ordered, apart and inside (0, pi) (section 4.1). */
void tnd_ilbc_lsf_stable(float *lsf);
void tnd_ilbc_lsf_dequant(const int *idx, float *lsf);
void tnd_ilbc_lsf_quant(const float *lsf, int *idx, float *lsfq);
/* Per sub-block synthesis filters from the previous frame's last LSF set
 * and this frame's (section 3.2.6 / 4.1); updates *old. */
void tnd_ilbc_interp(const struct tnd_ilbc_mode *m, float *old, const float *lsfq,
		     float a[][TND_ILBC_NA]);
void tnd_ilbc_bwexpand(const float *a, float *out, float chirp);
/* Levinson-Durbin on r[0..ORDER]; a[0] = 1. */
void tnd_ilbc_levinson(const float *r, float *a);

/* ------------------------------------------------------------- ilbc_cb.c */

/* Codebook size for a target of len samples over lmem memory samples. */
unsigned tnd_ilbc_cb_size(unsigned lmem, unsigned len);
/* The expanded memory (section 3.6.3) of mem. */
void tnd_ilbc_cb_expand(const float *mem, unsigned lmem, float *fmem);
/* Vector idx of the codebook over mem (and its expansion fmem). */
void tnd_ilbc_cb_vec(const float *mem, const float *fmem, unsigned lmem, unsigned len,
		     unsigned idx, float *out);
/* The three gains of indices g (section 4.4.2). */
void tnd_ilbc_gains(const int *g, float *gains);
/* Decodes len samples from three indices and gains (section 4.4). */
void tnd_ilbc_cb_decode(const float *mem, unsigned lmem, unsigned len, const int *idx,
			const int *gidx, float *out);
/* Encoder: picks indices and gains for target over mem, searching in the
 * domain of the weighting filter aw (section 3.6.4); restrict: stages 2
 * and 3 may use only the indices a 7-bit field carries. scratch holds
 * TND_ILBC_CB_MAX * TND_ILBC_SUBL + TND_ILBC_CB_MAX floats. */
void tnd_ilbc_cb_search(const float *mem, unsigned lmem, const float *target, unsigned len,
			const float *aw, bool restrict7, float *scratch, int *idx, int *gidx);

/* ---------------------------------------------------------- ilbc_state.c */

/* Decodes the scalar start state (section 4.2) into out[0..len). */
void tnd_ilbc_state_decode(int scale, const int *q, const float *a, unsigned len, float *out);
/* Encoder: quantises the residual res[0..len) (section 3.5). */
void tnd_ilbc_state_encode(const float *res, const float *a, unsigned len, int *scale, int *q);

/* ------------------------------------------------------------ ilbc_exc.c */

/* Decodes a frame's residual (section 4.3 to 4.5) into res[0..block).
 * With target (the encoder's residual), first chooses every start state
 * and codebook parameter in f from it, so both sides rebuild the same;
 * only that search uses scratch (NULL when decoding). */
void tnd_ilbc_excitation(const struct tnd_ilbc_mode *m, struct tnd_ilbc_frame *f,
			 float a[][TND_ILBC_NA], const float *target, float *scratch, float *res);

/* ---------------------------------------------------- encoder / decoder */

/* Scratch floats tnd_ilbc_excitation and the codebook search need. */
#define TND_ILBC_SCRATCH (TND_ILBC_CB_MAX * TND_ILBC_SUBL + TND_ILBC_CB_MAX + 4 * TND_ILBC_CB_MEM)

struct tnd_ilbc_enc {
	const struct tnd_ilbc_mode *m;
	bool started;                        /* the first frame has gone */
	float hp_x[2], hp_y[2];              /* input high-pass memory */
	float hist[60 + TND_ILBC_MAX_BLOCK];     /* LPC analysis look-back and frame */
	float ana_mem[TND_ILBC_ORDER];           /* analysis filter: past inputs */
	float lsf_old[TND_ILBC_ORDER];           /* quantised LSF set of the last frame */
	float lsf_prev[2 * TND_ILBC_ORDER];      /* unquantised, for a failed root search */
	float scratch[TND_ILBC_SCRATCH];
};

struct tnd_ilbc_dec {
	const struct tnd_ilbc_mode *m;
	float lsf_old[TND_ILBC_ORDER];
	float syn_mem[TND_ILBC_ORDER];
	float hp_x[2], hp_y[2];
	float last_a[TND_ILBC_NA];               /* the last sub-block's filter, for PLC */
	float last_res[TND_ILBC_MAX_BLOCK];      /* residual of the last frame */
	unsigned lag;                        /* its pitch lag */
	float periodicity;                   /* 0..1 */
	unsigned lost;                       /* consecutive concealed frames */
	uint32_t seed;
};

void tnd_ilbc_enc_init(struct tnd_ilbc_enc *e, const struct tnd_ilbc_mode *m);
void tnd_ilbc_encode_frame(struct tnd_ilbc_enc *e, const int16_t *pcm, uint8_t *out);
void tnd_ilbc_dec_init(struct tnd_ilbc_dec *d, const struct tnd_ilbc_mode *m);
/* in NULL: a lost frame, concealed (section 4.5). */
void tnd_ilbc_decode_frame(struct tnd_ilbc_dec *d, const uint8_t *in, int16_t *pcm);

/* Filter memories that decay after the signal stops (silence, a muted
 * concealment) would reach denormal floats, which cost about 100 times a
 * normal operation on x86: they are flushed to 0 instead. */
#define TND_ILBC_FLUSH(v) ((v) > -1e-20f && (v) < 1e-20f ? 0.0f : (v))

/* ------------------------------------------------------------- tables */

extern const float tnd_ilbc_hp_in_b[3], tnd_ilbc_hp_in_a[3];
extern const float tnd_ilbc_hp_out_b[3], tnd_ilbc_hp_out_a[3];
extern const float tnd_ilbc_state_sq3[8];
extern const float tnd_ilbc_state_frgq[64];
extern const float tnd_ilbc_cb_filter[8];
extern const float tnd_ilbc_gain3[8], tnd_ilbc_gain4[16], tnd_ilbc_gain5[32];
extern const float tnd_ilbc_lsf_mean[TND_ILBC_ORDER];
extern const float tnd_ilbc_win_sym[240], tnd_ilbc_win_asym[240], tnd_ilbc_win_lag[11];
extern const float tnd_ilbc_lsf_cb[1088];

#endif
