/* A bridge's per-leg media figures for CDRs and admin requests: the
 * signalling thread queues a query to the bridge's worker, which reads its
 * own counters (plain integers, R7: nothing on the packet path changes) and
 * posts the answer back to the signalling loop. Runs once per call end or
 * admin request, never per packet. RFC 3550 A.3 (loss), A.8 (jitter),
 * 6.4.1 (round trip from the peer's reports, rtcp_term.c). */
#include <errno.h>
#include <string.h>

#include "gateway/media/bridge_int.h"

struct query {
	struct tnd_obj obj;
	struct tnd_bridge *br;       /* ref */
	tnd_bridge_figs_h *h;
	void *arg;                   /* ref */
	struct tnd_bridge_figs st;  /* written on the worker, read on signal after */
};

static void query_destroy(void *data)
{
	struct query *q = data;

	tnd_obj_put(q->br);
	tnd_obj_put(q->arg);
}

/* Worker: what leg `side` sent us (dir[side]) and what we sent it. */
static void leg_figures(const struct tnd_bridge *br, unsigned side,
			struct tnd_bridge_leg_fig *ls)
{
	const struct tnd_mdir *in = &br->dir[side], *out = &br->dir[!side];
	const struct tnd_mdir_rx *rx = &in->rx;
	uint32_t clock = in->n_pt ? in->pt[0].clock : 8000;

	ls->packets_in = rx->packets;
	ls->bytes_in = rx->bytes;
	ls->packets_out = out->tx.packets;
	ls->lost = 0;
	if (rx->received) {
		uint32_t expected = rx->cycles + rx->max_seq - rx->base_seq + 1;

		ls->lost = (int64_t)expected - rx->received;
		if (ls->lost < 0)
			ls->lost = 0;   /* duplicates can outnumber the losses */
	}
	/* jitter is kept scaled by 16 in clock units (A.8) */
	ls->jitter_ms = clock ? (double)rx->jitter / 16.0 * 1000.0 / clock : 0;
	ls->rtt_ms = br->leg[side].ops ? br->leg[side].rtcp.rtt_ms : -1;
}

/* Signalling loop. The caller's object is released here, on its own
 * thread, whichever thread drops the query last. */
static void deliver(void *data)
{
	struct query *q = data;
	void *arg = q->arg;

	q->arg = NULL;
	q->h(arg, &q->st);
	tnd_obj_put(arg);
}

static void run(void *data)
{
	struct query *q = data;
	struct tnd_bridge *br = q->br;

	if (!br->closed) {
		q->st.valid = true;
		leg_figures(br, 0, &q->st.leg[0]);
		leg_figures(br, 1, &q->st.leg[1]);
	}
	/* only ENOMEM can stop it; the call layer then reports the call
	 * without figures when it is freed */
	tnd_loop_call(br->signal, deliver, q);
}

int tnd_bridge_stats_query(struct tnd_bridge *br, tnd_bridge_figs_h *h, void *arg)
{
	struct query *q;
	int err;

	if (!br || !h)
		return EINVAL;
	q = tnd_obj_zalloc(sizeof(*q), query_destroy);
	if (!q)
		return ENOMEM;
	q->br = tnd_obj_get(br);
	q->h = h;
	q->arg = tnd_obj_get(arg);
	q->st.leg[0].rtt_ms = q->st.leg[1].rtt_ms = -1;
	err = tnd_loop_call(br->worker, run, q);
	tnd_obj_put(q);
	return err;
}
