/* RTCP termination (RFC 3550 6.4; review A1): each leg gets reports that we
 * generate from what we really sent on it and received from it, instead of
 * the other side's reports with SSRCs rewritten. The reports a leg's peer
 * sends us end here: their figures about our stream (loss, jitter, and the
 * round trip from LSR/DLSR, RFC 3550 6.4.1) are kept for stats. Only
 * payload-specific feedback that asks the sender for something (PLI, FIR:
 * RFC 4585 6.3.1, RFC 5104 4.3.1) crosses to the other leg, SSRCs mapped,
 * since only the far sender can act on it.
 *
 * Reports go out every 5 s +- 50 % per leg (RFC 3550 6.2's minimum for
 * audio-sized sessions, randomised so calls set up together spread out),
 * driven by the bridge's tick; the same tick watches for legs that went
 * silent. Worker thread; no allocation. */
#include <string.h>

#include "gateway/base/log.h"
#include "gateway/base/loop.h"
#include "gateway/base/poll.h"
#include "gateway/media/bridge_int.h"

#define REPORT_US 5000000
#define CNAME "tandem"
#define NTP_UNIX_OFFSET 2208988800ULL

/* NTP timestamp of a wall-clock time in microseconds since 1970 */
static uint64_t ntp_of(int64_t wall_us)
{
	uint64_t sec = (uint64_t)(wall_us / 1000000) + NTP_UNIX_OFFSET;
	uint64_t frac = ((uint64_t)(wall_us % 1000000) << 32) / 1000000;

	return sec << 32 | frac;
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* One report block (RFC 3550 6.4.1) about what this leg's peer sends us. */
static size_t report_block(struct tnd_leg *leg, uint8_t *p, int64_t now_us)
{
	struct tnd_mdir *in = &leg->br->dir[leg->side];
	struct tnd_mdir_report r;
	uint32_t dlsr = 0;

	if (!tnd_mdir_report(in, &r))
		return 0;
	if (leg->rtcp.lsr_us && now_us > leg->rtcp.lsr_us)
		dlsr = (uint32_t)((uint64_t)(now_us - leg->rtcp.lsr_us) * 65536 / 1000000);
	tnd_rtp_wr32(p, r.ssrc);
	tnd_rtp_wr32(p + 4, (uint32_t)r.fraction << 24 | ((uint32_t)r.cumulative & 0xffffff));
	tnd_rtp_wr32(p + 8, r.ext_max_seq);
	tnd_rtp_wr32(p + 12, r.jitter);
	tnd_rtp_wr32(p + 16, leg->rtcp.lsr);
	tnd_rtp_wr32(p + 20, leg->rtcp.lsr ? dlsr : 0);
	return 24;
}

size_t tnd_bridge_rtcp_build(struct tnd_leg *leg, uint8_t *buf, size_t cap, int64_t now_us,
			     int64_t wall_us)
{
	struct tnd_bridge *br = leg->br;
	struct tnd_mdir *out = &br->dir[!leg->side];   /* what we send on this leg */
	uint32_t me = br->ssrc[leg->side];
	size_t n, blk, cn = strlen(CNAME), sdes;
	bool sr = out->tx.sent_since_report;

	if (cap < 28 + 24 + 12 + cn + 4)
		return 0;
	buf[0] = 0x80;
	tnd_rtp_wr32(buf + 4, me);
	if (sr) {
		uint64_t ntp = ntp_of(wall_us);
		uint32_t clock = out->n_pt ? out->pt[0].clock : 8000;
		uint32_t ts = out->tx.last_ts;

		/* the RTP time that corresponds to the NTP time (6.4.1) */
		if (now_us > out->tx.last_us)
			ts += (uint32_t)((uint64_t)(now_us - out->tx.last_us) * clock / 1000000);
		buf[1] = TND_RTCP_SR;
		tnd_rtp_wr32(buf + 8, (uint32_t)(ntp >> 32));
		tnd_rtp_wr32(buf + 12, (uint32_t)ntp);
		tnd_rtp_wr32(buf + 16, ts);
		tnd_rtp_wr32(buf + 20, (uint32_t)out->tx.packets);
		tnd_rtp_wr32(buf + 24, (uint32_t)out->tx.octets);
		n = 28;
		out->tx.sent_since_report = false;
	} else {
		buf[1] = TND_RTCP_RR;
		n = 8;
	}
	blk = report_block(leg, buf + n, now_us);
	if (blk)
		buf[0] |= 1;
	n += blk;
	wr16(buf + 2, (uint16_t)(n / 4 - 1));
	/* SDES with our CNAME: required in every compound (6.1) */
	sdes = 4 + 4 + 2 + cn + 1;
	sdes = (sdes + 3) & ~(size_t)3;
	memset(buf + n, 0, sdes);
	buf[n] = 0x81;
	buf[n + 1] = TND_RTCP_SDES;
	wr16(buf + n + 2, (uint16_t)(sdes / 4 - 1));
	tnd_rtp_wr32(buf + n + 4, me);
	buf[n + 8] = 1;   /* CNAME */
	buf[n + 9] = (uint8_t)cn;
	memcpy(buf + n + 10, CNAME, cn);
	return n + sdes;
}

/* ------------------------------------------------------------ input */

struct rtcp_walk {
	struct tnd_leg *leg;
	int64_t now_us, wall_us;
};

/* Report blocks about the stream we send on this leg. */
static void read_blocks(struct tnd_leg *leg, const uint8_t *p, unsigned count, size_t len,
			int64_t wall_us)
{
	uint32_t ours = leg->br->ssrc[leg->side];

	for (unsigned i = 0; i < count && (i + 1) * 24 <= len; i++, p += 24) {
		uint32_t lsr, dlsr, now_mid;
		int64_t rtt;

		if (tnd_rtp_rd32(p) != ours)
			continue;
		leg->rtcp.fraction = p[4];
		leg->rtcp.cumulative = (int32_t)(tnd_rtp_rd32(p + 4) << 8) >> 8;
		leg->rtcp.jitter = tnd_rtp_rd32(p + 12);
		lsr = tnd_rtp_rd32(p + 16);
		dlsr = tnd_rtp_rd32(p + 20);
		if (!lsr)
			continue;
		now_mid = (uint32_t)(ntp_of(wall_us) >> 16);
		rtt = (int64_t)(uint32_t)(now_mid - lsr - dlsr);
		/* a report older than 18 h, or a peer's clock step: no figure */
		if (rtt < 0x7fffffff / 2)
			leg->rtcp.rtt_ms = (int32_t)(rtt * 1000 / 65536);
	}
}

/* Feedback for the sender on the other leg (PLI, FIR). */
static void relay_feedback(struct tnd_leg *leg, const struct tnd_rtcp_pkt *p)
{
	struct tnd_bridge *br = leg->br;
	struct tnd_leg *other = &br->leg[!leg->side];
	struct tnd_poller *pl = tnd_loop_poller(br->worker);
	uint8_t *out = tnd_poller_tx_buf(pl);
	struct tnd_rtcp_ssrc_map map = {
		.set_sender = true, .sender = br->ssrc[other->side],
		.set_media = br->dir[other->side].rx.ssrc != 0,
		.media = br->dir[other->side].rx.ssrc,
	};

	if (p->pkt == out || p->len > TND_POLL_BUF_SIZE / 2 || !tnd_leg_up(other))
		return;
	memcpy(out, p->pkt, p->len);
	if (tnd_rtcp_rewrite_ssrc(out, p->len, &map))
		return;
	if (other->ops->send_rtcp(other->obj, out, p->len, TND_POLL_BUF_SIZE) == 0)
		leg->rtcp.fb_relayed++;
}

static int walk_one(void *arg, const struct tnd_rtcp_pkt *p)
{
	struct rtcp_walk *w = arg;
	struct tnd_leg *leg = w->leg;

	switch (p->pt) {
	case TND_RTCP_SR:
		if (p->len < 28)
			break;
		leg->rtcp.sr_in++;
		leg->rtcp.lsr = tnd_rtp_rd32(p->pkt + 10);
		leg->rtcp.lsr_us = w->now_us;
		read_blocks(leg, p->pkt + 28, p->count, p->len - 28, w->wall_us);
		break;
	case TND_RTCP_RR:
		if (p->len < 8)
			break;
		leg->rtcp.rr_in++;
		read_blocks(leg, p->pkt + 8, p->count, p->len - 8, w->wall_us);
		break;
	case TND_RTCP_PSFB:
		if (p->count == 1 || p->count == 4)
			relay_feedback(leg, p);
		break;
	default:
		break;   /* SDES, BYE, APP, XR, transport feedback: ours to end */
	}
	return 0;
}

void tnd_bridge_rtcp_in(struct tnd_leg *in, uint8_t *pkt, size_t len)
{
	struct rtcp_walk w = { in, 0, 0 };

	if (!in->br || in->br->closed)
		return;
	w.now_us = tnd_poller_now_us(tnd_loop_poller(in->br->worker));
	w.wall_us = g_get_real_time();
	in->last_rx_us = w.now_us;
	tnd_rtcp_parse(pkt, len, walk_one, &w);
}

/* ------------------------------------------------------------ tick */

/* 5 s +- 50 %, from a cheap per-leg generator: spreading reports needs no
 * unpredictability (and g_random takes a global lock) */
static int64_t next_interval(struct tnd_leg *leg, int64_t now_us)
{
	uint32_t x = leg->br->ssrc[leg->side] ^ (uint32_t)now_us;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return REPORT_US / 2 + (int64_t)(x % REPORT_US);
}

bool tnd_bridge_rtcp_tick(struct tnd_leg *leg, int64_t now_us)
{
	struct tnd_bridge *br = leg->br;
	int64_t since;

	if (!tnd_leg_up(leg))
		return false;
	if (!leg->up_us) {
		leg->up_us = now_us;
		leg->rtcp.next_us = now_us + next_interval(leg, now_us) / 5;
	}
	if (now_us >= leg->rtcp.next_us) {
		uint8_t *buf = tnd_poller_tx_buf(tnd_loop_poller(br->worker));
		size_t n = tnd_bridge_rtcp_build(leg, buf, TND_POLL_BUF_SIZE, now_us,
						 g_get_real_time());

		if (n && leg->ops->send_rtcp(leg->obj, buf, n, TND_POLL_BUF_SIZE) == 0)
			leg->rtcp.reports_out++;
		leg->rtcp.next_us = now_us + next_interval(leg, now_us);
	}
	if (!br->timeout_ms || leg->timed_out)
		return false;
	since = leg->last_rx_us > leg->up_us ? leg->last_rx_us : leg->up_us;
	if (now_us - since < (int64_t)br->timeout_ms * 1000)
		return false;
	leg->timed_out = true;
	return true;
}
