/* Packet buffers from a per-worker pool (style guide R7: per-packet code
 * allocates nothing).
 *
 * A jitter buffer, a NACK history, a DTMF generator or a packetiser holds
 * packets past the handler that read them; they take them from the worker's
 * pool and give them back. The pool is made with its loop, filled once, and
 * never grows on the packet path: when it is empty tnd_pkt_get() returns
 * NULL and counts it, and the caller drops (a full jitter buffer must degrade,
 * not allocate). Single thread: the pool, and every packet taken from it, is
 * used only on its loop's thread.
 *
 * Layout: each buffer has TND_PKT_HEADROOM bytes before `data` (room to
 * prepend a header, e.g. a TURN channel or an RTP header in front of a
 * payload) and at least TND_PKT_TAILROOM after data + TND_PKT_MAX, so SRTP's
 * tag and index always fit behind the largest packet we accept. */
#ifndef TND_BASE_BUF_H
#define TND_BASE_BUF_H

#include <stddef.h>
#include <stdint.h>

#define TND_PKT_HEADROOM 64
#define TND_PKT_MAX 1500          /* largest datagram we accept */
#define TND_PKT_TAILROOM 64       /* >= SRTP tag + SRTCP index */
#define TND_PKT_SIZE (TND_PKT_HEADROOM + TND_PKT_MAX + TND_PKT_TAILROOM)

struct tnd_pktpool;

/* One buffer. `data` points into `buf`; `len` bytes are valid. The owner of
 * a taken packet may set data anywhere in buf as long as it stays inside. */
struct tnd_pkt {
	uint8_t *data;
	size_t len;
	struct tnd_pkt *next;         /* free to use by the holder (queues) */
	uint64_t ts_us;               /* free to use: e.g. arrival time */
	uint32_t user;                /* free to use: e.g. extended seq */
	struct tnd_pktpool *pool;     /* borrowed: where it goes back */
	_Alignas(16) uint8_t buf[TND_PKT_SIZE];
};

/* Room from data to the end of the buffer (what tnd_pc_send_rtp's cap is). */
static inline size_t tnd_pkt_cap(const struct tnd_pkt *p)
{
	return (size_t)(p->buf + sizeof(p->buf) - p->data);
}

/* Single owner: tnd_pktpool_alloc / tnd_pktpool_free. `n` buffers made at
 * once (1..65536). 0, EINVAL or ENOMEM. Free only when every packet is back
 * (tnd_pktpool_stats().out == 0); a packet still out at free is a bug and
 * aborts in debug builds. */
int tnd_pktpool_alloc(struct tnd_pktpool **pp, unsigned n);
void tnd_pktpool_free(struct tnd_pktpool *p);

/* A packet with data = buf + TND_PKT_HEADROOM, len 0; NULL when the pool
 * is empty (counted in `exhausted`). O(1), no allocation. */
struct tnd_pkt *tnd_pkt_get(struct tnd_pktpool *p);
/* Back to its pool; NULL-safe. O(1). */
void tnd_pkt_put(struct tnd_pkt *pkt);

struct tnd_pktpool_stats {
	unsigned size;           /* buffers made */
	unsigned out;            /* taken and not yet put back */
	unsigned out_max;        /* high-water mark of out */
	uint64_t gets, exhausted;
};
void tnd_pktpool_stats(const struct tnd_pktpool *p, struct tnd_pktpool_stats *st);

#endif
