/* Process counters and histograms for /metrics (docs/operations.md),
 * without a lock or an atomic read-modify-write on the packet path (style
 * guide R7): every thread that counts owns a slab (slab 0: the signalling
 * thread; slab 1 + n: media worker n) and is its only writer, so an
 * increment is a relaxed load, an add and a relaxed store, which compiles
 * to a plain add. A scrape, on the signalling thread, sums the slabs with
 * relaxed loads: a value may be one packet behind, never torn.
 *
 * What is counted is fixed here (enum tnd_stat, enum tnd_hist); the text
 * exposition (Prometheus 0.0.4) of these families comes from
 * tnd_stats_write. Gauges that are states rather than counts (active
 * calls, worker load) are written by their owners at scrape time. */
#ifndef TND_BASE_STATS_H
#define TND_BASE_STATS_H

#include <stdatomic.h>
#include <stdint.h>

#include <glib.h>

#define TND_STATS_SLABS 65           /* the signalling thread and 64 workers */
#define TND_STATS_BUCKETS 16         /* most finite buckets of a histogram */

/* Label values, in index order. */
enum tnd_stats_dir { TND_STATS_OUT, TND_STATS_IN };            /* browser to SIP, SIP to browser */
enum tnd_stats_class {
	TND_STATS_2XX, TND_STATS_3XX, TND_STATS_4XX, TND_STATS_5XX, TND_STATS_6XX,
	TND_STATS_NONE,   /* ended before any final response: no SIP status */
	TND_STATS_CLASSES
};
enum tnd_stats_leg { TND_STATS_WEBRTC, TND_STATS_SIP };        /* bridge leg A, B */
enum tnd_stats_login { TND_STATS_LOGIN_OK, TND_STATS_LOGIN_FAILED, TND_STATS_LOGIN_LOCKED };
enum tnd_stats_drop {
	TND_STATS_DROP_PT,          /* payload type not negotiated */
	TND_STATS_DROP_NOT_READY,   /* the other leg not up yet */
	TND_STATS_DROP_SEND,        /* send failed */
	TND_STATS_DROP_MALFORMED,   /* bad STUN, DTLS, RTP or RTCP; too big */
	TND_STATS_DROP_SRTP,        /* SRTP authentication or replay failed */
	TND_STATS_DROP_FOREIGN,     /* from an address that is not the peer */
	TND_STATS_DROPS
};

/* Counters: the first index of each family; add the label indexes. */
enum tnd_stat {
	TND_ST_ATTEMPTS = 0,                            /* + dir */
	TND_ST_OUTCOMES = 2,                            /* + dir * CLASSES + class */
	TND_ST_WS_ACCEPTED = TND_ST_OUTCOMES + 2 * TND_STATS_CLASSES,
	TND_ST_WS_REFUSED,
	TND_ST_LOGINS,                                  /* + login */
	TND_ST_PACKETS = TND_ST_LOGINS + 3,             /* + leg * 2 + (0 rx, 1 tx) */
	TND_ST_BYTES = TND_ST_PACKETS + 4,              /* + leg * 2 + (0 rx, 1 tx) */
	TND_ST_DROPS = TND_ST_BYTES + 4,                /* + drop */
	TND_ST_COUNT = TND_ST_DROPS + TND_STATS_DROPS
};

/* Histograms: the first index of each family; add the leg. */
enum tnd_hist {
	TND_H_SETUP = 0,            /* + dir: seconds from start to answer */
	TND_H_LOSS = 2,             /* + leg: fraction of packets lost, per call */
	TND_H_JITTER = 4,           /* + leg: seconds, RFC 3550 A.8, per call */
	TND_H_RTT = 6,              /* + leg: seconds, from RTCP reports, per call */
	TND_H_MOS = 8,              /* + leg: E-model estimate, per call */
	TND_H_COUNT = 10
};

struct tnd_stats_hist {
	_Atomic uint64_t bucket[TND_STATS_BUCKETS];   /* not cumulative: per bucket */
	_Atomic uint64_t count;
	_Atomic int64_t sum_micro;                    /* sum of values * 1e6 */
};

/* One thread's slab. Cache-line aligned: two workers never share a line. */
struct tnd_stats {
	_Alignas(64) _Atomic uint64_t c[TND_ST_COUNT];
	struct tnd_stats_hist h[TND_H_COUNT];
};

/* Slab i (0: signalling thread, 1 + n: media worker n); NULL past the end.
 * Static storage: no set-up, valid for the process. */
struct tnd_stats *tnd_stats_slab(unsigned i);

/* Only the slab's owner thread calls these. */
static inline void tnd_stats_add(struct tnd_stats *s, unsigned i, uint64_t n)
{
	atomic_store_explicit(&s->c[i], atomic_load_explicit(&s->c[i], memory_order_relaxed) + n,
			      memory_order_relaxed);
}
static inline void tnd_stats_inc(struct tnd_stats *s, unsigned i)
{
	tnd_stats_add(s, i, 1);
}
/* Records one value (in the family's unit) into histogram h. */
void tnd_stats_observe(struct tnd_stats *s, unsigned h, double v);

/* The class index of a final SIP status (0: none). */
enum tnd_stats_class tnd_stats_class_of(int status);

/* ITU-T G.107 E-model, simplified (docs/operations.md): R = 93.2 - Id -
 * Ie,eff with Id from the one-way delay (ms) and Ie,eff from the codec's
 * Ie and Bpl and the random loss fraction (0..1); returns the MOS (1..4.5)
 * of R. */
double tnd_stats_mos(double delay_ms, double loss, double ie, double bpl);

/* Sum over all slabs of counter i, or of histogram h's count. Any thread. */
uint64_t tnd_stats_sum(unsigned i);
uint64_t tnd_stats_hist_count(unsigned h);
/* Appends every counter and histogram family in Prometheus text format
 * 0.0.4 (HELP, TYPE, samples) to out. */
void tnd_stats_write(GString *out);
/* Zeroes every slab (unit tests only: no thread may be counting). */
void tnd_stats_reset(void);

#endif
