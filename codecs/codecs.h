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
	TND_CODEC_ILBC,  /* codecs/ilbc/: our own RFC 3951 */
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
	const struct tnd_codec_ops *ops;  /* NULL: listed but not built */
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

/* iLBC's mode from an fmtp string ("mode=20", RFC 3952 section 5), for
 * tnd_codec_params.mode_ms: 20 or 30, and 30 when fmtp is NULL or has no
 * mode (the RFC's default; the params' 0 means the row's 20 instead).
 * EBADMSG for another value, EINVAL for a NULL mode_ms. */
int tnd_codec_ilbc_mode(const char *fmtp, unsigned *mode_ms);

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
 * libopus PLC; G.729: the decoder's frame erasure (10 ms steps); iLBC: its
 * own concealment (20/30 ms steps, muted after 120 ms); PCMU/PCMA:
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
 * (codecs/dtmf.c, dtmf_inband.c, dtmf_info.c) */

/* DTMF every way (issue 10, item 5): RFC 4733 telephone-event payloads, a receiver that turns
 * event packets into digits exactly once and a sender that turns a digit into
 * packets; in-band tones detected and generated with spandsp; SIP INFO bodies
 * (application/dtmf-relay, application/dtmf).
 *
 * No sockets, threads or clocks: RTP timestamps and sample positions are
 * passed in. The receiver and sender are plain structs the caller embeds
 * (init, no allocation); the in-band detector and generator are made once per
 * call (alloc/free, one owner) and write into caller buffers. Everything here
 * runs on the media worker that owns the call. Digits are the characters
 * 0-9 * # A-D, RFC 4733 events 0-15. */

/* ------------------------------------------------------------------ digits */

/* RFC 4733 section 3.2 event code (0-15) of a digit ('a'-'d' accepted too);
 * -1 for anything else. */
int tnd_dtmf_digit_event(char digit);
/* Digit of an event code 0-15; 0 for any other code. */
char tnd_dtmf_event_digit(int event);

/* A digit as reported by the RFC 4733 receiver and the in-band detector:
 * once with end = false when it begins, once with end = true when it ends. */
struct tnd_dtmf_digit {
	char digit;
	bool end;
	uint8_t volume;      /* RFC 4733 volume: power in -dBm0 (0-63) */
	uint32_t start;      /* RTP timestamp (receiver) or sample position
			      * (detector) of the tone's beginning */
	uint32_t duration;   /* end only: in timestamp units / samples */
	uint32_t duration_ms;
};

typedef void (tnd_dtmf_h)(const struct tnd_dtmf_digit *d, void *arg);

/* ------------------------------------------------- RFC 4733 section 2.3 */

#define TND_DTMF_EV_SIZE 4           /* one event block on the wire */
#define TND_DTMF_EV_MAX_BLOCKS 16    /* blocks the receiver reads per packet */

struct tnd_dtmf_ev {
	uint8_t event;       /* 0-255; 0-15 are DTMF */
	bool end;            /* E bit */
	bool reserved;       /* R bit: written as 0, ignored on receipt */
	uint8_t volume;      /* 0-63, -dBm0 */
	uint16_t duration;   /* timestamp units since the (segment's) timestamp */
};

/* Reads the first event block of an RTP payload. EBADMSG when len < 4 or not
 * a multiple of 4 (RFC 4733 section 2.5.1.5 packs whole blocks only). */
int tnd_dtmf_ev_parse(const uint8_t *p, size_t len, struct tnd_dtmf_ev *ev);
/* Writes one block into p[0..3]; EINVAL if size < 4 or volume > 63. */
int tnd_dtmf_ev_write(uint8_t *p, size_t size, const struct tnd_dtmf_ev *ev);

/* ------------------------------------- RFC 4733 receiver (section 2.5.2) */

/* Counters: plain integers, read by the owning worker. */
struct tnd_dtmf_rx_stats {
	uint64_t packets;
	uint64_t bad;        /* payloads that did not parse */
	uint64_t late;       /* blocks of an event already ended or superseded */
	uint64_t reordered;  /* sequence number older than the highest seen */
	uint64_t ignored;    /* events other than 0-15 */
	uint64_t timeouts;   /* events ended by tnd_dtmf_rx_tick(), no E bit seen */
};

/* Receiver state; the caller embeds it. Fields are private to dtmf.c. */
struct tnd_dtmf_rx {
	tnd_dtmf_h *h;
	void *arg;
	uint32_t clock_rate;
	uint32_t timeout;       /* ts units without news before an event ends */
	bool active;            /* an event has begun and not ended */
	bool have_last;         /* last_ts is valid */
	bool have_seq;
	uint8_t event;
	uint8_t volume;
	uint32_t start_ts;      /* first segment's timestamp */
	uint32_t seg_ts;        /* current segment's timestamp */
	uint32_t base;          /* duration of the earlier segments */
	uint32_t seg_dur;       /* longest duration seen in this segment */
	uint32_t last_ts;       /* segment timestamp of the event ended last */
	uint16_t max_seq;
	struct tnd_dtmf_rx_stats stats;
};

/* Sets up a receiver for a telephone-event stream of `clock_rate` Hz (the
 * rtpmap rate: 8000, 16000, 48000...). `h` gets every digit begin and end.
 * EINVAL on a NULL argument or a rate outside 1000-192000. */
int tnd_dtmf_rx_init(struct tnd_dtmf_rx *rx, uint32_t clock_rate, tnd_dtmf_h *h, void *arg);
/* Forgets the current and last event (a new SSRC); an active event is ended
 * first, with the duration seen so far. Counters stay. */
void tnd_dtmf_rx_reset(struct tnd_dtmf_rx *rx);
/* One telephone-event packet: its payload (RTP padding removed), timestamp,
 * sequence number and marker bit. Calls the handler zero or more times.
 * EBADMSG for a payload tnd_dtmf_ev_parse() refuses (state unchanged). */
int tnd_dtmf_rx_packet(struct tnd_dtmf_rx *rx, const uint8_t *payload, size_t len,
		       uint32_t ts, uint16_t seq, bool marker);
/* Time passes: `now` is the current time on the event clock. An active event
 * whose last report ends more than rx->timeout before `now` is ended with the
 * duration seen (its end packets were all lost). */
void tnd_dtmf_rx_tick(struct tnd_dtmf_rx *rx, uint32_t now);

/* --------------------------------------- RFC 4733 sender (section 2.5.1) */

/* One packet to send: the caller adds the RTP header (its own SSRC and
 * sequence number) and sends it when `at` timestamp units have passed since
 * the digit started. */
struct tnd_dtmf_pkt {
	uint8_t payload[TND_DTMF_EV_SIZE];
	uint32_t ts;
	uint32_t at;
	bool marker;
};

/* Sender state; the caller embeds it. Fields are private to dtmf.c. */
struct tnd_dtmf_tx {
	uint32_t total;         /* event duration, ts units */
	uint32_t ptime;         /* packet interval, ts units */
	uint32_t done;          /* duration already reported */
	uint32_t seg_start;     /* offset of the current segment */
	uint32_t ts;            /* start timestamp of the event */
	uint8_t event;
	uint8_t volume;
	uint8_t ends_left;      /* end packets still to send */
	bool first;
};

/* Prepares the packets of one digit of `duration_ms` (1-600000) starting at
 * RTP timestamp `start_ts`, on a `clock_rate` Hz event clock, one update per
 * `ptime_ms` (10-100): the first with the marker bit, updates with growing
 * duration, then three end packets, all with the same timestamp. Events
 * longer than 0xFFFF units are cut into segments (section 2.5.1.3). EINVAL on
 * a bad digit or range. */
int tnd_dtmf_tx_start(struct tnd_dtmf_tx *tx, char digit, uint32_t duration_ms,
		      uint8_t volume, uint32_t clock_rate, uint32_t ptime_ms,
		      uint32_t start_ts);
/* Fills the next packet; false when the digit is finished. */
bool tnd_dtmf_tx_next(struct tnd_dtmf_tx *tx, struct tnd_dtmf_pkt *pkt);

/* --------------------------------------------- in-band tones (spandsp) */

/* Builds spandsp's lazily made DTMF tables. main() calls it once before the
 * media workers start, so two workers' first detectors do not race. */
void tnd_dtmf_warmup(void);

/* Detector of tones in 8 kHz 16-bit PCM (other rates: resample first). One
 * owner: tnd_dtmf_det_alloc() / tnd_dtmf_det_free(). */
struct tnd_dtmf_det;

/* ENOMEM, or EINVAL on a NULL argument. `h` gets each digit with its start
 * sample position and, at the end, its duration in samples. */
int tnd_dtmf_det_alloc(struct tnd_dtmf_det **detp, tnd_dtmf_h *h, void *arg);
/* NULL-safe. */
void tnd_dtmf_det_free(struct tnd_dtmf_det *det);
/* Feeds `n` samples, the first at sample position `pos` (8 kHz units). A
 * jump in pos is audio lost: skipped, so a tone with a lost frame stays one
 * digit, and starts and durations keep counting the caller's positions.
 * Calls the handler for digits confirmed within these samples. */
void tnd_dtmf_det_process(struct tnd_dtmf_det *det, const int16_t *pcm, size_t n, uint32_t pos);

/* Generator of tones into 8 kHz 16-bit PCM buffers. One owner. */
struct tnd_dtmf_gen;

#define TND_DTMF_GEN_QUEUE 64

int tnd_dtmf_gen_alloc(struct tnd_dtmf_gen **genp);
/* NULL-safe. */
void tnd_dtmf_gen_free(struct tnd_dtmf_gen *gen);
/* Queues a digit: `on_ms` of tone (10-10000) then `off_ms` of silence
 * (0-10000), each of its two tones at `level` dBm0 (-50 to 0). EINVAL on a
 * bad digit or range, ENOBUFS when TND_DTMF_GEN_QUEUE digits wait. */
int tnd_dtmf_gen_put(struct tnd_dtmf_gen *gen, char digit, uint32_t on_ms, uint32_t off_ms,
		     int level);
/* Writes up to `n` samples of the queued tones and gaps into `out`; returns
 * how many it wrote (fewer than n when the queue ran dry; the rest of `out`
 * is untouched). */
size_t tnd_dtmf_gen_fill(struct tnd_dtmf_gen *gen, int16_t *out, size_t n);
/* True while a digit or gap is still to be written. */
bool tnd_dtmf_gen_busy(const struct tnd_dtmf_gen *gen);

/* ------------------------------------------------------ SIP INFO bodies */

/* Duration when an application/dtmf-relay body has none (or 0), and for
 * application/dtmf bodies, which never carry one. */
#define TND_DTMF_INFO_DEFAULT_MS 250
#define TND_DTMF_INFO_MAX_MS 60000

/* application/dtmf-relay: "Signal=5\r\nDuration=160\r\n". Keys are matched
 * without case, spaces around keys and values are skipped, lines end in CRLF
 * or LF, other keys are ignored. Signal is a digit or its event number 0-15.
 * Reads at most `len` bytes (no NUL needed). EBADMSG on junk (no Signal, a
 * line without '=', a bad number, a NUL byte), ENOTSUP for a well-formed
 * event other than 0-15 (flash, 16). Duration above TND_DTMF_INFO_MAX_MS is
 * clamped to it. */
int tnd_dtmf_relay_parse(const char *body, size_t len, char *digit, uint32_t *duration_ms);
/* Writes "Signal=D\r\nDuration=N\r\n" into buf (NUL-terminated); its length
 * into *lenp. EINVAL on a bad digit, ENOSPC if buf is too small. */
int tnd_dtmf_relay_write(char *buf, size_t size, char digit, uint32_t duration_ms,
			 size_t *lenp);
/* application/dtmf: one digit (or event number 0-15), whitespace around it
 * allowed. EBADMSG otherwise, ENOTSUP for event numbers above 15. */
int tnd_dtmf_plain_parse(const char *body, size_t len, char *digit);
/* Writes the digit and CRLF; as tnd_dtmf_relay_write(). */
int tnd_dtmf_plain_write(char *buf, size_t size, char digit, size_t *lenp);

/* ===================================================== jitter buffer + PLC
 * (codecs/jb.c, codecs/plc.c) */

/* Jitter buffer and generic loss concealment for the transcoding path
 * (issue 10 item 4).
 *
 * Who calls what. The bridge's media worker owns one struct tnd_jb per
 * received stream of a transcoded call (OWNER: worker; no locks). For every
 * RTP packet it calls tnd_jb_put() with the payload and header fields and
 * the arrival time; at each of its own frame ticks it calls tnd_jb_get()
 * with the current time and then:
 *  - TND_JB_FRAME: decodes the frame (and, for G.711/G.722, feeds the PCM to
 *    tnd_plc_rx() so the concealer knows the recent signal);
 *  - TND_JB_MISSING: one packet is lost. Opus: tnd_jb_peek() and, when the
 *    next packet is there, decode its in-band FEC (decode_fec = 1), else the
 *    Opus PLC (NULL data). G.711/G.722: tnd_plc_fill() writes the frame;
 *  - TND_JB_EMPTY: nothing to play at this tick (filling, growing the delay,
 *    silence/DTX, or a gap whose loss is not yet known). Play comfort noise
 *    or silence, or let the codec PLC fade out for a frame or two.
 * codecs/ has no clocks: every time is passed in, in microseconds of one
 * monotonic clock of the caller's choice. */

/* ------------------------------------------------------------ jitter buffer */

struct tnd_jb;

struct tnd_jb_conf {
	uint32_t clock_rate;     /* RTP clock rate, Hz (8000 for G.722 too); required */
	unsigned capacity;       /* frames held, 0 = 64 (the delay can never exceed this) */
	size_t max_payload;      /* bytes per frame slot, 0 = 1500 */
	unsigned min_delay_ms;   /* lower bound of the target delay, 0 = 20 */
	unsigned max_delay_ms;   /* upper bound of the target delay, 0 = 200 */
};

/* One received packet, borrowed for the call to tnd_jb_put(). */
struct tnd_jb_pkt {
	const uint8_t *payload;  /* RTP payload (no header) */
	size_t len;
	uint16_t seq;
	uint32_t ts;
	uint32_t ssrc;
	bool marker;
	uint32_t samples;        /* RTP clock ticks the payload covers; 0 = derive
				  * from the next packet's timestamp */
};

/* One frame handed out by tnd_jb_get() or tnd_jb_peek(). */
struct tnd_jb_frame {
	const uint8_t *data;     /* borrowed: valid until the next tnd_jb_put() or
				  * tnd_jb_get() on this buffer */
	size_t len;
	uint16_t seq;
	uint32_t ts;
	uint32_t samples;        /* best known duration in RTP clock ticks */
	bool marker;
};

enum tnd_jb_res {
	TND_JB_EMPTY = 0,        /* nothing to play at this tick */
	TND_JB_FRAME,            /* *frame holds the next frame, in timestamp order */
	TND_JB_MISSING,          /* one frame is lost here: conceal it (FEC via peek) */
};

/* Plain counters (read with tnd_jb_stats(); summed into metrics later).
 * received = played + dropped + held, always. */
struct tnd_jb_stats {
	uint64_t received;       /* packets taken into the buffer */
	uint64_t played;         /* TND_JB_FRAME results */
	uint64_t lost;           /* sequence numbers never received that play-out passed */
	uint64_t concealed;      /* TND_JB_MISSING results (a part of lost) */
	uint64_t late;           /* arrived after their play-out: dropped */
	uint64_t duplicates;     /* already held or already played: dropped */
	uint64_t dropped;        /* held frames thrown away: delay shrink, resync, flush */
	uint64_t shrinks;        /* frames skipped to shrink the delay (a part of dropped) */
	uint64_t grows;          /* TND_JB_EMPTY ticks inserted to grow the delay */
	uint64_t resyncs;        /* SSRC change, sequence or timestamp jump, talkspurt restart */
	uint64_t invalid;        /* payload empty or larger than a slot: refused */
	uint32_t held;           /* frames in the buffer now */
	uint32_t delay_us;       /* play-out delay over the fastest recent packet, at the
				  * last frame played (the quantity the buffer steers) */
	uint32_t hold_us;        /* time the last played frame spent in the buffer */
	uint32_t target_us;      /* current target delay */
	uint32_t jitter_us;      /* RFC 3550 A.8 interarrival jitter */
};

/* Makes a buffer with all its slots (the only allocation; the buffer is
 * owned by the caller and released with tnd_jb_free()). EINVAL on a clock
 * rate of 0 or above 384000, min above max, max above 10000 ms, a capacity
 * below 4 or above 4096, or slots above 65536 bytes; ENOMEM. */
int tnd_jb_alloc(struct tnd_jb **jbp, const struct tnd_jb_conf *conf);
/* NULL-safe; returns NULL. */
struct tnd_jb *tnd_jb_free(struct tnd_jb *jb);

/* Takes a copy of one packet that arrived at now_us. Returns 0 when it was
 * stored, EALREADY for a duplicate, ETIME for a late packet, EMSGSIZE for an
 * empty or oversized payload, EINVAL for bad arguments. Each refusal is
 * counted; none is an error the caller must act on. Allocates nothing. */
int tnd_jb_put(struct tnd_jb *jb, const struct tnd_jb_pkt *pkt, uint64_t now_us);

/* The caller's frame tick at now_us: what to play next (see the top). */
enum tnd_jb_res tnd_jb_get(struct tnd_jb *jb, uint64_t now_us, struct tnd_jb_frame *frame);

/* The next frame held after the play-out point, not removed: after
 * TND_JB_MISSING, the packet following the lost one (Opus FEC). false when
 * none is held. */
bool tnd_jb_peek(const struct tnd_jb *jb, struct tnd_jb_frame *frame);

/* Counters and the current delays. */
void tnd_jb_stats(const struct tnd_jb *jb, struct tnd_jb_stats *st);

/* Forgets the stream (new call leg, re-INVITE): empties the buffer, keeps
 * the counters. */
void tnd_jb_reset(struct tnd_jb *jb);

/* ------------------------------------------ generic concealment (spandsp) */

/* Loss concealment for codecs without their own (G.711, G.722) on 16-bit
 * PCM, built on spandsp's plc_* (G.711 Appendix I-like pitch repetition
 * with fade-out). One per decoded stream, owned by the caller. At 16 kHz
 * the same algorithm runs on 16 kHz samples: its pitch search then covers
 * 133-400 Hz instead of 66-200 Hz, and its per-sample fade reaches silence
 * after 25 ms instead of 50 ms (a 20 ms hole keeps about 45 % of the energy
 * instead of 65 %). */
struct tnd_plc;

/* rate: 8000 or 16000, else EINVAL. */
int tnd_plc_alloc(struct tnd_plc **plcp, unsigned rate);
struct tnd_plc *tnd_plc_free(struct tnd_plc *plc);
/* A good decoded frame: remembered (and, right after a concealed stretch,
 * cross-faded in place so the join has no step). */
void tnd_plc_rx(struct tnd_plc *plc, int16_t *pcm, size_t n);
/* Writes n concealment samples for a missing frame. */
void tnd_plc_fill(struct tnd_plc *plc, int16_t *pcm, size_t n);

/* ================================================================ WAV files
 * (codecs/wav.c) */

/* The PCM of a RIFF/WAVE file held in memory, for hold music ([media]
 * hold_music): 16-bit linear PCM (WAVE_FORMAT_PCM, or WAVE_FORMAT_EXTENSIBLE
 * with the PCM subformat), 1 or 2 channels, 8000 to 48000 Hz. A parser over
 * bytes only: the caller reads the file. */
struct tnd_wav {
	unsigned rate;          /* Hz */
	unsigned channels;      /* 1 or 2, interleaved */
	const uint8_t *data;    /* borrowed from the input: little-endian samples */
	size_t frames;          /* samples per channel */
};

/* Reads a WAV file's header and finds its samples; chunks it does not need
 * (LIST, fact...) are skipped. EBADMSG (not RIFF/WAVE, a chunk running past
 * the end, no fmt or data chunk, no samples) or ENOTSUP (a format, sample
 * size, channel count or rate we do not take), with why (NUL-terminated)
 * naming the problem; EINVAL for NULL arguments. */
int tnd_wav_parse(const uint8_t *buf, size_t len, struct tnd_wav *w, char *why, size_t whylen);
/* Sample i (0-based, per channel) of channel ch, as int16. */
static inline int16_t tnd_wav_sample(const struct tnd_wav *w, size_t i, unsigned ch)
{
	const uint8_t *p = w->data + (i * w->channels + ch) * 2;

	return (int16_t)(uint16_t)(p[0] | p[1] << 8);
}

#endif
