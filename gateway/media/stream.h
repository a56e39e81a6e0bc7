/* One direction of a call's media (style guide section 4, review A1/C1):
 * what arrives on one leg and leaves on the other. The stream, not the
 * source, owns the output's SSRC, sequence number and timestamp, so what a
 * leg receives stays one continuous RTP stream whatever happens upstream:
 * early media from an announcement server then the phone's 200, a SIP peer
 * or PBX that switches its source, a transfer or a browser leg replaced
 * after a page reload. That is also what keeps SRTP safe: an index is never
 * protected twice with another payload (RFC 3711 9.1; libsrtp's
 * allow_repeat_tx stays off).
 *
 * Numbering (RFC 3550 5.1, A.1): the first packet fixes offsets from a
 * random start. A new input SSRC, or a sequence jump beyond MAX_DROPOUT
 * forward or MAX_MISORDER back, recomputes them so the output continues at
 * last+1, with the timestamp advanced by the wall time since the last packet
 * sent, and the marker bit set (a talk-spurt start for the receiver's
 * jitter buffer). Reordered packets inside the window keep the offsets, so
 * they stay reordered rather than renumbered; a duplicate maps onto the
 * index it had and SRTP refuses it.
 *
 * The stream also keeps RFC 3550's receive statistics of its input (A.1
 * sequence accounting, A.8 interarrival jitter) and send statistics of its
 * output: the reports each leg generates come from these (rtcp_term.c).
 *
 * Worker thread only; nothing here allocates. Pure logic over packet bytes,
 * so unit tests drive it without sockets. */
#ifndef TND_GATEWAY_MEDIA_STREAM_H
#define TND_GATEWAY_MEDIA_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TND_MDIR_MAX_PT 8          /* payload types one direction maps */
#define TND_MDIR_MAX_DROPOUT 3000  /* RFC 3550 A.1 */
#define TND_MDIR_MAX_MISORDER 100

struct tnd_mdir;
struct tnd_leg;
struct tnd_mdtmf;

/* The media handler, picked at negotiation (R7): pass-through now;
 * transcoding and DTMF plug in here. `pkt` is valid RTP of `len` bytes in
 * a buffer of `cap` bytes that the handler may rewrite and send in place. */
typedef void (tnd_mdir_h)(struct tnd_mdir *d, uint8_t *pkt, size_t len, size_t cap,
			  int64_t now_us);

struct tnd_mdir_pt {
	uint8_t in, out;
	uint32_t clock;            /* Hz, for the timestamp advance on a switch */
};

/* Receive side of RFC 3550 A.1 / A.8 for the current input source. */
struct tnd_mdir_rx {
	uint32_t ssrc;
	uint16_t max_seq;
	uint32_t cycles;           /* count of seq wraps, shifted << 16 */
	uint32_t base_seq;
	uint32_t received;
	uint32_t expected_prior, received_prior;
	int64_t transit;           /* last (arrival - ts) in clock units */
	uint32_t jitter;           /* RFC 3550 A.8, scaled by 16 */
	bool have_transit;
	uint64_t packets, bytes;   /* all sources, whole call */
	int64_t last_us;           /* last packet accepted from this leg */
};

/* Send side, for SR (RFC 3550 6.4.1). */
struct tnd_mdir_tx {
	uint64_t packets, octets;  /* octets: payload only, as SR counts */
	uint32_t last_ts;
	int64_t last_us;           /* when the packet with last_ts left */
	uint16_t last_seq;
	bool sent;
	bool sent_since_report;
};

struct tnd_mdir_stats {
	uint64_t drop_pt;          /* payload type not negotiated */
	uint64_t drop_not_ready;   /* output leg not up */
	uint64_t send_err;
	uint64_t switches;         /* input source changes or jumps renumbered */
};

struct tnd_mdir {
	/* hot: what every packet reads (first cache lines) */
	tnd_mdir_h *handler;
	struct tnd_leg *out;       /* borrowed: the leg packets leave on */
	uint32_t out_ssrc;         /* ours on the output leg, fixed for the call */
	uint32_t in_ssrc;          /* the input source being numbered */
	uint16_t seq_off;          /* out = in + off (mod 2^16) */
	uint32_t ts_off;
	uint16_t last_in_seq;
	bool started;
	bool mark_next;
	uint8_t n_pt;
	struct tnd_mdir_pt pt[TND_MDIR_MAX_PT];
	struct tnd_mdir_tx tx;
	struct tnd_mdir_stats st;
	/* warm: per packet, but not per decision */
	struct tnd_mdir_rx rx;
	/* borrowed: the bridge's DTMF state for this direction
	 * (dtmf_media.h); NULL when the call has none */
	struct tnd_mdtmf *dtmf;
};

/* Sets the fixed output SSRC and a random first sequence number and
 * timestamp; forgets any input. */
void tnd_mdir_init(struct tnd_mdir *d, uint32_t out_ssrc, uint16_t seq0, uint32_t ts0);
/* Replaces the payload type map (at negotiation; n <= TND_MDIR_MAX_PT). */
void tnd_mdir_set_pts(struct tnd_mdir *d, const struct tnd_mdir_pt *pts, unsigned n);
/* The map entry for an input payload type, or NULL (the packet drops). */
static inline const struct tnd_mdir_pt *tnd_mdir_pt_of(const struct tnd_mdir *d, uint8_t pt)
{
	for (unsigned i = 0; i < d->n_pt; i++)
		if (d->pt[i].in == pt)
			return &d->pt[i];
	return NULL;
}

/* Receive accounting of one valid input packet (RFC 3550 A.1, A.8); `clock`
 * of its payload type. Call before tnd_mdir_rewrite. */
void tnd_mdir_account(struct tnd_mdir *d, const uint8_t *pkt, size_t len, uint32_t clock,
		      int64_t now_us);

/* Rewrites a valid RTP packet in place to the output stream: payload type
 * mapped (`pt` from tnd_mdir_pt_of), SSRC, sequence and timestamp
 * renumbered, marker set after a switch. Records what was sent as if the
 * send succeeds (a failed send leaves a gap, which RTP tolerates). */
void tnd_mdir_rewrite(struct tnd_mdir *d, uint8_t *pkt, size_t len,
		      const struct tnd_mdir_pt *pt, int64_t now_us);

/* Forgets the input source (a leg was replaced): the next packet, from
 * whatever SSRC, continues the output at last+1 with the marker set. */
void tnd_mdir_input_reset(struct tnd_mdir *d);

/* RFC 3550 A.3: the report block figures for the current input. */
struct tnd_mdir_report {
	uint32_t ssrc;
	uint8_t fraction;          /* lost since the last report, /256 */
	int32_t cumulative;        /* 24-bit signed on the wire */
	uint32_t ext_max_seq;
	uint32_t jitter;           /* clock units */
};
/* Fills r and starts a new report interval; false when nothing was received. */
bool tnd_mdir_report(struct tnd_mdir *d, struct tnd_mdir_report *r);

#endif
