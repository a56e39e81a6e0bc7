/* A call's media figures for /metrics, taken once when its bridge closes,
 * on the bridge's worker (its legs' state is the worker's): for each leg,
 * what its peer sent us (loss and jitter of RFC 3550 A.3 and A.8 from the
 * stream's receive side), the RTT its RTCP reports gave (rtcp_term.c), an
 * E-model MOS estimate from those (ITU-T G.107, simplified: stats.h), and
 * the leg's drops that only the transport counted (garbage, SRTP failures,
 * foreign sources). Everything goes into the worker's own slab; nothing
 * here runs per packet. */
#include "gateway/media/bridge_int.h"

/* Packetisation delay assumed in the E-model's one-way delay: the 20 ms
 * frames that WebRTC and SIP phones send by default. */
#define FRAME_MS 20.0

/* G.113 Appendix I's equipment impairment (Ie) and packet-loss robustness
 * (Bpl) for the codec behind a payload type. Only static types name their
 * codec here (the bridge sees numbers, not names): 18 is G.729(A), 0 and 8
 * G.711 with PLC; anything else, Opus at 48 kHz included, which G.113 does
 * not table, is given G.711's figures. */
static void codec_impairment(const struct tnd_mdir *d, double *ie, double *bpl)
{
	uint8_t pt = d->n_pt ? d->pt[0].in : 0;

	if (pt == 18) {
		*ie = 11;
		*bpl = 19;
	} else {
		*ie = 0;
		*bpl = 25.1;
	}
}

static void observe_leg(struct tnd_bridge *br, unsigned side)
{
	const struct tnd_mdir *d = &br->dir[side];   /* the stream leg `side` feeds */
	const struct tnd_mdir_rx *rx = &d->rx;
	uint32_t clock = d->n_pt ? d->pt[0].clock : 0;
	double loss = 0, jitter = 0, delay, ie, bpl;
	int64_t expected;
	int32_t rtt_ms = br->leg[side].rtcp.rtt_ms;

	if (!rx->packets || !rx->received)
		return;   /* the peer sent nothing: no quality to speak of */
	/* RFC 3550 A.3, for the source heard last */
	expected = (int64_t)(rx->cycles + rx->max_seq) - (int64_t)rx->base_seq + 1;
	if (expected > 0 && expected > (int64_t)rx->received)
		loss = (double)(expected - (int64_t)rx->received) / (double)expected;
	tnd_stats_observe(br->stats, TND_H_LOSS + side, loss);
	if (clock) {
		jitter = (double)rx->jitter / 16.0 / clock;   /* A.8 keeps it scaled by 16 */
		tnd_stats_observe(br->stats, TND_H_JITTER + side, jitter);
	}
	if (rtt_ms > 0)
		tnd_stats_observe(br->stats, TND_H_RTT + side, rtt_ms / 1000.0);
	/* one way: half the round trip, a jitter buffer of twice the jitter,
	 * and a frame */
	delay = (rtt_ms > 0 ? rtt_ms / 2.0 : 0) + 2000.0 * jitter + FRAME_MS;
	codec_impairment(d, &ie, &bpl);
	tnd_stats_observe(br->stats, TND_H_MOS + side, tnd_stats_mos(delay, loss, ie, bpl));
}

static void observe_drops(struct tnd_bridge *br)
{
	struct tnd_pc *pc;
	struct tnd_rtpsock *sock;
	uint64_t malformed = 0, srtp = 0, foreign = 0;

	for (unsigned i = 0; i < 2; i++) {
		if ((pc = tnd_leg_pc(&br->leg[i]))) {
			struct tnd_pc_stats ps;

			tnd_pc_stats(pc, &ps);
			malformed += ps.drop_stun + ps.drop_bad_stun + ps.drop_dtls +
				     ps.drop_bad_rtp + ps.drop_other;
			srtp += ps.srtp_err_in;
			foreign += ps.drop_foreign + ps.stun_refused;
		} else if ((sock = tnd_leg_sock(&br->leg[i]))) {
			struct tnd_rtpsock_stats ss;

			tnd_rtpsock_stats(sock, &ss);
			malformed += ss.drop_garbage + ss.drop_too_big;
			srtp += ss.drop_srtp;
			foreign += ss.drop_foreign;
		}
	}
	tnd_stats_add(br->stats, TND_ST_DROPS + TND_STATS_DROP_MALFORMED, malformed);
	tnd_stats_add(br->stats, TND_ST_DROPS + TND_STATS_DROP_SRTP, srtp);
	tnd_stats_add(br->stats, TND_ST_DROPS + TND_STATS_DROP_FOREIGN, foreign);
}

void tnd_bridge_observe(struct tnd_bridge *br)
{
	if (!br->stats)
		return;
	for (unsigned side = 0; side < 2; side++)
		observe_leg(br, side);
	observe_drops(br);
}
