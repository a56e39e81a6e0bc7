/* The per-packet path on the bridge's worker (style guide R7: no
 * allocation, no lock, no unlimited logging). A packet from a leg goes to
 * the stream leaving on the other leg, whose handler was picked at
 * negotiation: pass-through here (payload type mapped, output SSRC,
 * sequence and timestamp owned by the stream, stream.h). Transcoding and
 * DTMF handlers take the same slot. */
#include <string.h>

#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/base/poll.h"
#include "gateway/media/bridge_int.h"
#include "gateway/media/dtmf_media.h"

/* Pass-through: both legs carry the same codec. */
static void fwd_pass(struct tnd_mdir *d, uint8_t *pkt, size_t len, size_t cap, int64_t now_us)
{
	const struct tnd_mdir_pt *pt;
	int err;

	/* telephone-event, and the SIP leg's audio for the tone detector */
	if (d->dtmf && tnd_mdtmf_in(d, pkt, len, now_us))
		return;
	pt = tnd_mdir_pt_of(d, tnd_rtp_pt(pkt));
	if (!pt) {
		d->st.drop_pt++;
		tnd_stats_inc(d->out->br->stats, TND_ST_DROPS + TND_STATS_DROP_PT);
		return;
	}
	tnd_mdir_account(d, pkt, len, pt->clock, now_us);
	if (!d->out->ops || !d->out->ops->up(d->out->obj)) {
		/* early media before the SIP side's SDP, or the browser's DTLS
		 * not done: dropped, and not numbered, so the output starts
		 * without a gap when the leg comes up */
		d->st.drop_not_ready++;
		tnd_stats_inc(d->out->br->stats, TND_ST_DROPS + TND_STATS_DROP_NOT_READY);
		return;
	}
	tnd_mdir_rewrite(d, pkt, len, pt, now_us);
	if (d->dtmf)
		len = tnd_mdtmf_out(d, pkt, len, pt->clock);
	err = d->out->ops->send_rtp(d->out->obj, pkt, len, cap);
	if (!err) {
		/* the worker's own slab: plain adds (stats.h) */
		tnd_stats_inc(d->out->br->stats, TND_ST_PACKETS + d->out->side * 2u + 1);
		tnd_stats_add(d->out->br->stats, TND_ST_BYTES + d->out->side * 2u + 1, len);
	} else {
		d->st.send_err++;
		tnd_stats_inc(d->out->br->stats, TND_ST_DROPS + TND_STATS_DROP_SEND);
		TND_LOG_RL(TND_LOG_MEDIA, DEBUG, "send on %s leg: %s", d->out->ops->kind,
			   strerror(err));
	}
}

tnd_mdir_h *const tnd_bridge_fwd_pass = fwd_pass;

void tnd_bridge_rtp_in(struct tnd_leg *in, uint8_t *pkt, size_t len)
{
	struct tnd_bridge *br = in->br;
	struct tnd_mdir *d;
	struct tnd_poller *p;
	uint8_t *buf = pkt;
	size_t cap;
	int64_t now;

	if (!br || br->closed || len < TND_RTP_HDR_LEN || len > TND_PC_MAX_PACKET ||
	    br->mute[in->side])   /* on hold (tnd_bridge_hold) */
		return;
	d = &br->dir[in->side];
	p = tnd_loop_poller(br->worker);
	now = tnd_poller_now_us(p);   /* the batch's clock read, not one per packet */
	in->last_rx_us = now;
	tnd_stats_inc(br->stats, TND_ST_PACKETS + in->side * 2u);
	tnd_stats_add(br->stats, TND_ST_BYTES + in->side * 2u, len);
	/* Every leg kind reads into the worker's receive buffer, which has room
	 * for SRTP's tag behind the largest packet: protect in place. Anything
	 * else is copied to the send buffer first. */
	if (pkt == tnd_poller_rx_buf(p)) {
		cap = TND_POLL_BUF_SIZE;
	} else {
		buf = tnd_poller_tx_buf(p);
		memcpy(buf, pkt, len);
		cap = TND_POLL_BUF_SIZE;
	}
	if (d->handler)
		d->handler(d, buf, len, cap, now);
}
