/* Jitter buffer and generic loss concealment for the transcoding path
 * (issue 10 item 4). Temporary header: its sections move into
 * codecs/codecs.h, the module's only front header, at merge.
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
#ifndef TND_CODECS_JB_H
#define TND_CODECS_JB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

#endif
