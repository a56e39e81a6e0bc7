/* The bridge's side of transcoding and of the `stats` request: installing
 * a transcoded call's two directions on the worker (each direction's
 * handler is a function pointer picked here, at negotiation, R7), freeing
 * them when the call closes, and reading every leg's figures: RFC 3550
 * receive statistics of what arrives, the peer's RTCP reports about what we
 * send (loss, jitter, RTT from LSR/DLSR), and the transcoder's jitter
 * buffer and concealment counters. Worker thread. */
#include <string.h>

#include <stdatomic.h>

#include "gateway/media/bridge_int.h"
#include "gateway/media/xcode.h"

void tnd_bridge_xc_install(struct tnd_bridge *br, struct tnd_xdir *xd[2])
{
	for (unsigned i = 0; i < 2; i++) {
		struct tnd_xdir *old = br->xc[i];

		br->xc[i] = xd[i];
		if (xd[i])
			tnd_xdir_attach(xd[i], br, i);
		else
			br->dir[i].handler = tnd_bridge_fwd_pass;
		/* a re-negotiation: the old direction's timer stops with it */
		tnd_xdir_free(old);
	}
	/* what /metrics counts this call as */
	atomic_store_explicit(&br->mode, xd[0] || xd[1] ? TND_MEDIA_TRANSCODED :
			      TND_MEDIA_PASSTHROUGH, memory_order_relaxed);
}

void tnd_bridge_xc_release(struct tnd_bridge *br)
{
	for (unsigned i = 0; i < 2; i++) {
		tnd_xdir_free(br->xc[i]);
		br->xc[i] = NULL;
		br->dir[i].handler = tnd_bridge_fwd_pass;
	}
}

/* RTP clock units to ms */
static uint32_t units_ms(uint32_t v, uint32_t clock)
{
	return clock ? (uint32_t)((uint64_t)v * 1000 / clock) : 0;
}

void tnd_bridge_stats_fill(struct tnd_bridge *br, struct tnd_bridge_leg_stats st[2])
{
	for (unsigned i = 0; i < 2; i++) {
		struct tnd_bridge_leg_stats *s = &st[i];
		struct tnd_mdir *in = &br->dir[i];        /* what arrives on leg i */
		struct tnd_mdir *out = &br->dir[!i];      /* what we send on it */
		struct tnd_leg *leg = &br->leg[i];
		const struct tnd_codec *c = NULL;
		uint32_t clock = in->n_pt ? in->pt[0].clock : 0;
		int64_t expected;

		memset(s, 0, sizeof(*s));
		if (br->xc[i]) {
			tnd_xdir_stats(br->xc[i], &s->xc);
			c = tnd_xdir_in_codec(br->xc[i]);
			clock = c->clock;
			s->transcoded = true;
		} else if (br->xc[!i]) {
			/* pass-through one way only cannot happen; the other's
			 * output codec is what this leg sends */
			c = tnd_xdir_out_codec(br->xc[!i]);
			clock = c->clock;
		}
		if (c)
			g_strlcpy(s->codec, c->name, sizeof(s->codec));
		s->clock = clock;
		s->packets_in = in->rx.packets;
		s->packets_out = out->tx.packets;
		expected = in->rx.received ? (int64_t)(in->rx.cycles + in->rx.max_seq) -
			   in->rx.base_seq + 1 : 0;
		s->lost = expected > in->rx.received ? (int32_t)(expected - in->rx.received) : 0;
		s->jitter_ms = units_ms(in->rx.jitter >> 4, clock);
		s->rtt_ms = leg->rtcp.rtt_ms;
		s->remote_fraction_lost = leg->rtcp.fraction;
		s->remote_jitter_ms = units_ms(leg->rtcp.jitter, out->n_pt ? out->pt[0].clock : clock);
		s->rtcp_in = leg->rtcp.sr_in + leg->rtcp.rr_in;
		s->rtcp_out = leg->rtcp.reports_out;
	}
}
