/* Per-direction stream: output numbering and RFC 3550 statistics. See
 * stream.h for the rules; worker thread, no allocation. */
#include <string.h>

#include "gateway/media/stream.h"
#include "webrtc/webrtc.h"

void tnd_mdir_init(struct tnd_mdir *d, uint32_t out_ssrc, uint16_t seq0, uint32_t ts0)
{
	tnd_mdir_h *h = d->handler;
	struct tnd_leg *out = d->out;
	struct tnd_mdtmf *dtmf = d->dtmf;

	memset(d, 0, sizeof(*d));
	d->handler = h;
	d->out = out;
	d->dtmf = dtmf;
	d->out_ssrc = out_ssrc;
	/* the output "was" at seq0 - 1 and ts0: the first packet continues
	 * from there exactly as a switch would */
	d->tx.last_seq = (uint16_t)(seq0 - 1);
	d->tx.last_ts = ts0;
}

void tnd_mdir_set_pts(struct tnd_mdir *d, const struct tnd_mdir_pt *pts, unsigned n)
{
	if (n > TND_MDIR_MAX_PT)
		n = TND_MDIR_MAX_PT;
	memcpy(d->pt, pts, n * sizeof(*pts));
	d->n_pt = (uint8_t)n;
}

void tnd_mdir_input_reset(struct tnd_mdir *d)
{
	d->started = false;
	d->rx.have_transit = false;
	d->rx.ssrc = 0;
}

/* RFC 3550 A.1's init_seq, for a new source */
static void rx_start(struct tnd_mdir_rx *rx, uint32_t ssrc, uint16_t seq)
{
	rx->ssrc = ssrc;
	rx->base_seq = seq;
	rx->max_seq = seq;
	rx->cycles = 0;
	rx->received = 0;
	rx->expected_prior = rx->received_prior = 0;
	rx->have_transit = false;
	rx->jitter = 0;
}

void tnd_mdir_account(struct tnd_mdir *d, const uint8_t *pkt, size_t len, uint32_t clock,
		      int64_t now_us)
{
	struct tnd_mdir_rx *rx = &d->rx;
	uint32_t ssrc = tnd_rtp_ssrc(pkt);
	uint16_t seq = tnd_rtp_seq(pkt);
	uint16_t delta;

	rx->packets++;
	rx->bytes += len;
	rx->last_us = now_us;
	if (ssrc != rx->ssrc || !rx->received) {
		rx_start(rx, ssrc, seq);
	} else {
		delta = (uint16_t)(seq - rx->max_seq);
		if (delta < TND_MDIR_MAX_DROPOUT) {
			if (seq < rx->max_seq)
				rx->cycles += 1u << 16;
			rx->max_seq = seq;
		} else if (delta <= 65536 - TND_MDIR_MAX_MISORDER) {
			/* a jump: the source restarted its numbering */
			rx_start(rx, ssrc, seq);
		}
		/* else a late or duplicate packet: counted, max unchanged */
	}
	rx->received++;
	if (clock) {
		/* A.8: arrival in the payload's clock; only differences matter,
		 * so the monotonic clock's origin does not */
		int64_t arrival = now_us * (int64_t)clock / 1000000;
		int64_t transit = arrival - (int64_t)tnd_rtp_ts(pkt);

		if (rx->have_transit) {
			int64_t dd = transit - rx->transit;

			if (dd < 0)
				dd = -dd;
			/* a timestamp jump (DTX, a new talk spurt source) must
			 * not poison the estimate: ignore implausible steps */
			if (dd < (int64_t)clock * 10) {
				int64_t j = (int64_t)rx->jitter;

				j += dd - ((j + 8) >> 4);
				rx->jitter = j < 0 ? 0 : (uint32_t)j;
			}
		}
		rx->transit = transit;
		rx->have_transit = true;
	}
}

/* True when the packet cannot continue the current numbering. */
static bool discontinuity(const struct tnd_mdir *d, uint32_t ssrc, uint16_t seq)
{
	uint16_t delta;

	if (!d->started || ssrc != d->in_ssrc)
		return true;
	delta = (uint16_t)(seq - d->last_in_seq);
	return delta >= TND_MDIR_MAX_DROPOUT && delta <= 65536 - TND_MDIR_MAX_MISORDER;
}

void tnd_mdir_rewrite(struct tnd_mdir *d, uint8_t *pkt, size_t len,
		      const struct tnd_mdir_pt *pt, int64_t now_us)
{
	uint32_t ssrc = tnd_rtp_ssrc(pkt);
	uint16_t seq = tnd_rtp_seq(pkt);
	uint32_t ts = tnd_rtp_ts(pkt);
	uint16_t out_seq;
	uint32_t out_ts;

	if (discontinuity(d, ssrc, seq)) {
		uint32_t adv = 0;

		/* continue at last+1, the timestamp moved on by the time that
		 * passed (at least one sample, so it never repeats) */
		if (d->tx.sent && now_us > d->tx.last_us)
			adv = (uint32_t)((uint64_t)(now_us - d->tx.last_us) * pt->clock / 1000000);
		if (!adv)
			adv = 1;
		d->seq_off = (uint16_t)(d->tx.last_seq + 1 - seq);
		d->ts_off = d->tx.last_ts + adv - ts;
		if (d->started)
			d->st.switches++;
		d->in_ssrc = ssrc;
		d->started = true;
		d->mark_next = true;
		d->last_in_seq = seq;
	} else if ((uint16_t)(seq - d->last_in_seq) < TND_MDIR_MAX_DROPOUT) {
		d->last_in_seq = seq;
	}
	out_seq = (uint16_t)(seq + d->seq_off);
	out_ts = ts + d->ts_off;
	tnd_rtp_set_pt(pkt, pt->out);
	tnd_rtp_set_ssrc(pkt, d->out_ssrc);
	tnd_rtp_set_seq(pkt, out_seq);
	tnd_rtp_set_ts(pkt, out_ts);
	if (d->mark_next) {
		tnd_rtp_set_marker(pkt, true);
		d->mark_next = false;
	}
	/* newest output position: only forward moves count */
	if (!d->tx.sent || (uint16_t)(out_seq - d->tx.last_seq) < 0x8000) {
		d->tx.last_seq = out_seq;
		d->tx.last_ts = out_ts;
		d->tx.last_us = now_us;
	}
	d->tx.sent = true;
	d->tx.sent_since_report = true;
	d->tx.packets++;
	if (len > TND_RTP_HDR_LEN)
		d->tx.octets += len - TND_RTP_HDR_LEN;
}

bool tnd_mdir_report(struct tnd_mdir *d, struct tnd_mdir_report *r)
{
	struct tnd_mdir_rx *rx = &d->rx;
	uint32_t ext_max, expected, exp_int, rec_int;
	int64_t lost, lost_int;

	if (!rx->received)
		return false;
	ext_max = rx->cycles + rx->max_seq;
	expected = ext_max - rx->base_seq + 1;
	lost = (int64_t)expected - rx->received;
	if (lost > 0x7fffff)
		lost = 0x7fffff;
	else if (lost < -0x800000)
		lost = -0x800000;
	exp_int = expected - rx->expected_prior;
	rec_int = rx->received - rx->received_prior;
	rx->expected_prior = expected;
	rx->received_prior = rx->received;
	lost_int = (int64_t)exp_int - rec_int;
	r->ssrc = rx->ssrc;
	r->fraction = exp_int == 0 || lost_int <= 0 ? 0 :
		      lost_int >= exp_int ? 255 : (uint8_t)((lost_int << 8) / exp_int);
	r->cumulative = (int32_t)lost;
	r->ext_max_seq = ext_max;
	r->jitter = rx->jitter >> 4;
	return true;
}
