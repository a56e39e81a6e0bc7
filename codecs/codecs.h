/* codecs/: the media core's front header, the only one other modules include
 * (style guide section 2). A codec is a table row (struct tnd_codec); its
 * encoder and decoder states are made once when a call negotiates and write
 * into caller buffers, so no frame allocates (R7). No sockets, threads or
 * clocks here: time is passed in. Sections: codec table, encoder/decoder,
 * resampler, PCM framer (ptime conversion); the DTMF and jitter-buffer
 * sections follow at the end. Library headers (libopus, spandsp, bcg729,
 * speexdsp) stay inside codecs/: callers see opaque types only. */
#ifndef TND_CODECS_H
#define TND_CODECS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ================================================================ codec table */

/* Every codec we can encode or decode; the index of its table row. */
enum tnd_codec_id {
	TND_CODEC_PCMU,
	TND_CODEC_PCMA,
	TND_CODEC_G722,
	TND_CODEC_G729,
	TND_CODEC_OPUS,
	TND_CODEC_ILBC,  /* reserved: codecs/ilbc/ (RFC 3951) is a later task */
	TND_CODEC_COUNT
};

/* Largest PCM frame any codec takes or gives in one call: 60 ms at 48 kHz
 * stereo. Callers size their buffers with it. */
#define TND_CODEC_MAX_SAMPLES (48 * 60 * 2)
/* Largest encoded packet we produce (Opus: 60 ms at 510 kbit/s fits). */
#define TND_CODEC_MAX_PAYLOAD 4000

/* Negotiation-time options (from configuration and the peer's fmtp). Zero
 * means "the codec's default" for every field, so `{0}` is valid. */
struct tnd_codec_params {
	unsigned rate;            /* PCM rate of the caller's audio; 0: native_rate.
				   * Opus: 8000, 12000, 16000, 24000 or 48000;
				   * others: their native rate only (resample first) */
	unsigned channels;        /* 1 or 2 (Opus stereo fmtp); 0: 1 */
	int complexity;           /* Opus 0..10; 0 with complexity_set false: 10 */
	bool complexity_set;
	unsigned bitrate;         /* Opus bit/s (6000..510000); 0: libopus's choice */
	bool fec;                 /* Opus in-band FEC (peer's useinbandfec=1) */
	unsigned loss_pct;        /* Opus expected loss for FEC (0..100); 0 with fec: 10 */
	bool dtx;                 /* Opus DTX (usedtx=1) */
	unsigned maxplaybackrate; /* Opus fmtp: caps the encoded bandwidth; 0: none */
	bool annexb;              /* G.729 Annex B (VAD/DTX/CNG); SDP annexb=no clears */
	unsigned mode_ms;         /* iLBC mode= 20 or 30; 0: the row's frame_ms */
};

struct tnd_codec_enc;
struct tnd_codec_dec;

/* Per-codec functions of a row; codecs/codec_int.h defines them. */
struct tnd_codec_ops;

/* One row of the table: what SDP says and what the audio is. Immutable. */
struct tnd_codec {
	enum tnd_codec_id id;
	const char *name;          /* SDP encoding name, as in rtpmap: "PCMU", "opus" */
	unsigned clock;            /* RTP clock as written in SDP (G.722: 8000) */
	unsigned native_rate;      /* sample rate of its audio (G.722: 16000) */
	unsigned sdp_channels;     /* channels in rtpmap: Opus always says 2 */
	int pt;                    /* static payload type (RFC 3551), or -1: dynamic */
	unsigned frame_ms;         /* a packet holds a whole number of these */
	unsigned frame_ms_alt;     /* a second mode (iLBC 30), 0: none */
	unsigned max_ptime;        /* longest packet we make, ms */
	uint8_t ptime_mask;        /* bit n: (n + 1) * 10 ms may be sent; 0: any
				    * whole number of frames up to max_ptime */
	bool has_plc;              /* conceal() is the codec's own PLC */
	bool has_fec;              /* decode_fec() recovers a lost frame */
	const struct tnd_codec_ops *ops;  /* NULL: listed but not built (iLBC) */
};

/* The row for an id; NULL when out of range. */
const struct tnd_codec *tnd_codec_get(enum tnd_codec_id id);

/* Finds a row by rtpmap encoding name (case-insensitive, RFC 4855), clock
 * and channels (0 matches any); NULL when we have no such codec or it is
 * not built. */
const struct tnd_codec *tnd_codec_find(const char *name, unsigned clock, unsigned channels);

/* The row of a static payload type (0 PCMU, 8 PCMA, 9 G722, 18 G729). */
const struct tnd_codec *tnd_codec_by_pt(int pt);

/* The frame length in ms with these params (iLBC: mode_ms when valid). */
unsigned tnd_codec_frame_ms(const struct tnd_codec *c, const struct tnd_codec_params *p);

/* True when a packet of ptime ms is one this codec's encoder makes with
 * these params: a whole number of frames, at most max_ptime, and in
 * ptime_mask (Opus: 10, 20, 40, 60; Opus also takes 2.5 and 5 ms below the
 * SDP's whole milliseconds). Decoders take any valid packet. */
bool tnd_codec_ptime_ok(const struct tnd_codec *c, const struct tnd_codec_params *p,
			unsigned ptime);

/* RTP timestamp units in ms of audio: clock * ms / 1000 (G.722: 8 per ms,
 * although it carries 16 samples per ms). */
uint32_t tnd_codec_ts_units(const struct tnd_codec *c, unsigned ms);

/* ======================================================== encoder / decoder */

/* An encoder (one owner: tnd_codec_enc_alloc / tnd_codec_enc_free). Made at
 * negotiation, used on one media worker. EINVAL for params the codec
 * refuses (a rate it cannot run at, bad channels), ENOTSUP for a row that
 * is not built, ENOMEM. */
int tnd_codec_enc_alloc(struct tnd_codec_enc **ep, const struct tnd_codec *c,
			const struct tnd_codec_params *p);
void tnd_codec_enc_free(struct tnd_codec_enc *e);

/* Encodes one packet from nsamp samples per channel (interleaved when
 * stereo) at the encoder's rate; nsamp must make a ptime that
 * tnd_codec_ptime_ok accepts. Writes at most outsz
 * bytes to out and their count to *outlen, which may be 0 under DTX/VAD
 * (send nothing). EINVAL for a bad length, ENOSPC when out is too small. */
int tnd_codec_encode(struct tnd_codec_enc *e, const int16_t *pcm, size_t nsamp,
		     uint8_t *out, size_t outsz, size_t *outlen);

/* The encoder's PCM rate and channels (params after defaults). */
unsigned tnd_codec_enc_rate(const struct tnd_codec_enc *e);
unsigned tnd_codec_enc_channels(const struct tnd_codec_enc *e);

/* A decoder (one owner), as for the encoder. */
int tnd_codec_dec_alloc(struct tnd_codec_dec **dp, const struct tnd_codec *c,
			const struct tnd_codec_params *p);
void tnd_codec_dec_free(struct tnd_codec_dec *d);

/* Decodes one RTP payload into pcm (at most maxsamp samples per channel),
 * writing the count per channel to *nsamp. EBADMSG for a payload the codec
 * cannot carry (bad length, corrupt Opus packet), ENOSPC when it would not
 * fit; the decoder state stays usable either way. */
int tnd_codec_decode(struct tnd_codec_dec *d, const uint8_t *payload, size_t len,
		     int16_t *pcm, size_t maxsamp, size_t *nsamp);

/* Makes nsamp samples per channel to fill a lost packet's place. Opus:
 * libopus PLC; G.729: the decoder's frame erasure (10 ms steps); PCMU/PCMA:
 * spandsp's plc_*, fed by every decode. ENOTSUP for G.722, whose loss the
 * jitter buffer's generic PLC conceals (has_plc false). */
int tnd_codec_conceal(struct tnd_codec_dec *d, int16_t *pcm, size_t nsamp);

/* Opus in-band FEC: recovers the lost packet before `payload` from the
 * redundancy it carries (nsamp per channel: the lost packet's length).
 * Without FEC data in it, libopus conceals instead. ENOTSUP for others. */
int tnd_codec_decode_fec(struct tnd_codec_dec *d, const uint8_t *payload, size_t len,
			 int16_t *pcm, size_t nsamp);

unsigned tnd_codec_dec_rate(const struct tnd_codec_dec *d);
unsigned tnd_codec_dec_channels(const struct tnd_codec_dec *d);

/* ================================================================ resampler */

/* Converts between 8, 16 and 48 kHz (speexdsp; any rates 8000..48000
 * work). One owner; state made at alloc. quality 0..10 (speexdsp's scale;
 * 3 is its VoIP setting), -1 for that default. */
struct tnd_resampler;
int tnd_resampler_alloc(struct tnd_resampler **rp, unsigned in_rate, unsigned out_rate,
			unsigned channels, int quality);
void tnd_resampler_free(struct tnd_resampler *r);

/* Resamples all of in (nin samples per channel) into out (room for maxout
 * per channel), writing the count made to *nout. A 20 ms frame at in_rate
 * gives 20 ms at out_rate, give or take one sample carried to the next
 * call. ENOSPC when out would overflow (nothing is consumed then). */
int tnd_resampler_process(struct tnd_resampler *r, const int16_t *in, size_t nin,
			  int16_t *out, size_t maxout, size_t *nout);

/* The filter's delay, in input samples. */
unsigned tnd_resampler_delay(const struct tnd_resampler *r);

/* Room to give tnd_resampler_process for nin input samples. */
size_t tnd_resampler_out_max(const struct tnd_resampler *r, size_t nin);

/* ================================================== PCM framer (ptime change) */

/* A fixed FIFO of PCM that turns frames of one length into frames of
 * another: decoded 30 ms iLBC into 20 ms Opus frames, 10 ms G.729 frames
 * into 20 or 30 ms packets, any ptime to any (issue 10 item 3). Sits after
 * the resampler, so both sides are at one rate. One owner; capacity fixed
 * at alloc (in samples per channel). */
struct tnd_framer;
int tnd_framer_alloc(struct tnd_framer **fp, size_t capacity, unsigned channels);
void tnd_framer_free(struct tnd_framer *f);

/* Appends n samples per channel. ENOSPC (and nothing appended) when they
 * do not fit: the consumer fell behind. */
int tnd_framer_push(struct tnd_framer *f, const int16_t *pcm, size_t n);

/* Takes exactly n samples per channel when that many are queued; EAGAIN
 * (nothing taken) otherwise. */
int tnd_framer_pop(struct tnd_framer *f, int16_t *pcm, size_t n);

/* Samples per channel queued. */
size_t tnd_framer_level(const struct tnd_framer *f);
void tnd_framer_reset(struct tnd_framer *f);

/* ================================================================ DTMF
 * (RFC 4733, in-band, SIP INFO bodies: codecs/dtmf*.c, merged here) */

/* ===================================================== jitter buffer + PLC
 * (codecs/jb.c, merged here) */

#endif
