/* Packet-buffer pool: see buf.h. One calloc'd slab of n packets; packets
 * given back form a LIFO free list through `next`, so get and put are a
 * pointer swap and the packet just given back (still in cache) is the next
 * one taken. Packets never used yet are handed out from the slab's untouched
 * tail first (`fresh`), so a pool costs memory (RSS) only as deep as it was
 * ever used: calloc maps a large slab as zero pages, and a pass-through
 * worker, which holds no packet, touches none. Loop thread only: no atomics,
 * no lock. A packet on the free list has data == NULL, which lets a debug
 * build catch a double put. */
#include <assert.h>
#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>

#include "gateway/base/buf.h"

/* calloc's alignment is max_align_t's; the slab relies on it for buf */
_Static_assert(alignof(struct tnd_pkt) <= alignof(max_align_t), "slab alignment");

struct tnd_pktpool {
	struct tnd_pkt *slab;      /* owned: st.size packets */
	struct tnd_pkt *free;      /* free list through next */
	unsigned fresh;            /* slab[fresh..size) never handed out */
	struct tnd_pktpool_stats st;
};

int tnd_pktpool_alloc(struct tnd_pktpool **pp, unsigned n)
{
	struct tnd_pktpool *p;

	if (!pp || n < 1 || n > 65536)
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	p->slab = calloc(n, sizeof(*p->slab));
	if (!p->slab) {
		free(p);
		return ENOMEM;
	}
	p->st.size = n;
	*pp = p;
	return 0;
}

void tnd_pktpool_free(struct tnd_pktpool *p)
{
	if (!p)
		return;
	assert(p->st.out == 0 && "packet still out at pool free");
	free(p->slab);
	free(p);
}

struct tnd_pkt *tnd_pkt_get(struct tnd_pktpool *p)
{
	struct tnd_pkt *pkt = p->free;

	if (pkt) {
		p->free = pkt->next;
	} else if (p->fresh < p->st.size) {
		pkt = &p->slab[p->fresh++];
		pkt->pool = p;
	} else {
		p->st.exhausted++;
		return NULL;
	}
	pkt->next = NULL;
	pkt->data = pkt->buf + TND_PKT_HEADROOM;
	pkt->len = 0;
	p->st.gets++;
	if (++p->st.out > p->st.out_max)
		p->st.out_max = p->st.out;
	return pkt;
}

void tnd_pkt_put(struct tnd_pkt *pkt)
{
	struct tnd_pktpool *p;

	if (!pkt)
		return;
	p = pkt->pool;
	assert(pkt >= p->slab && pkt < p->slab + p->st.size && "packet of another pool");
	assert(pkt->data && "packet put twice");
	pkt->data = NULL;
	pkt->next = p->free;
	p->free = pkt;
	p->st.out--;
}

void tnd_pktpool_stats(const struct tnd_pktpool *p, struct tnd_pktpool_stats *st)
{
	*st = p->st;
}
