/* media-bench: the calls' media. Every call that is up sends one RTP packet
 * each way every 20 ms: the browser's through its pc (SRTP), the phone's
 * through its rtpsock (plain RTP), both PCMU, 160 bytes of payload. Calls
 * are spread over TND_MB_SLOTS send phases 1 ms apart (call i in phase
 * i % 20), so the relay sees a steady stream, not one burst per 20 ms.
 *
 * The payload's first 14 bytes carry the send time (CLOCK_MONOTONIC, us),
 * the call's index and the driver's own sequence number, so the receiving
 * end of the same driver knows the one-way delay of every packet. A browser
 * packet that --fast 1 does not decrypt gets its send time from the P2B
 * stream's ring of recent send times, by the relay's sequence number minus
 * the offset the last decrypted packet showed (the relay may renumber, but
 * keeps the offset within a stream). Interarrival jitter is RFC 3550 A.8's
 * estimator, J += (|D| - J) / 16, with D taken from those send times rather
 * than the RTP timestamps: the driver's own pacing error (a late tick) then
 * does not count as the relay's jitter. Loss counts, per direction, packets
 * sent inside the measuring window that never came back, with a drain
 * after the window for those in flight. Main thread; per packet nothing is
 * allocated. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <glib-unix.h>

#include "tests/bench/media_bench.h"

/* A tick that finds its phase further behind than this jumps ahead rather
 * than sending the backlog in one burst; the jump shows as lateness. */
#define MAX_BACKLOG_US 200000

static uint8_t tmpl[TND_MB_PKT];   /* header and payload before the per-packet fields */

static void wr64(uint8_t *p, uint64_t v)
{
	tnd_rtp_wr32(p, (uint32_t)(v >> 32));
	tnd_rtp_wr32(p + 4, (uint32_t)v);
}

static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)tnd_rtp_rd32(p) << 32 | tnd_rtp_rd32(p + 4);
}

static void hist_add(struct tnd_mb_hist *h, int64_t us)
{
	uint64_t v = us < 0 ? 0 : (uint64_t)us;
	uint64_t b = v / TND_MB_HIST_US;

	h->b[b > TND_MB_HIST_N ? TND_MB_HIST_N : b]++;
	h->n++;
	if (v > h->max_us)
		h->max_us = v;
}

uint64_t tnd_mb_hist_pct(const struct tnd_mb_hist *h, double pct)
{
	uint64_t rank, seen = 0;

	if (!h->n)
		return 0;
	rank = (uint64_t)(pct / 100 * (double)h->n + 0.999999);
	if (!rank)
		rank = 1;
	for (size_t i = 0; i <= TND_MB_HIST_N; i++) {
		seen += h->b[i];
		if (seen >= rank)
			return i == TND_MB_HIST_N ? h->max_us : (uint64_t)(i + 1) * TND_MB_HIST_US;
	}
	return h->max_us;
}

/* Fills the per-packet fields of `p` (a copy of tmpl) for stream s. */
static void stamp(uint8_t *p, struct tnd_mb_stream *s, bool ring, unsigned idx, int64_t now)
{
	uint16_t seq = s->seq++;

	tnd_rtp_set_seq(p, seq);
	tnd_rtp_set_ts(p, s->ts);
	s->ts += TND_MB_PAYLOAD;
	tnd_rtp_set_ssrc(p, s->ssrc);
	wr64(p + TND_RTP_HDR_LEN, (uint64_t)now);
	tnd_rtp_wr32(p + TND_RTP_HDR_LEN + 8, idx);
	p[TND_RTP_HDR_LEN + TND_MB_PL_SEQ] = (uint8_t)(seq >> 8);
	p[TND_RTP_HDR_LEN + TND_MB_PL_SEQ + 1] = (uint8_t)seq;
	if (ring) {
		s->ring_t[seq % TND_MB_RING] = now;
		s->ring_seq[seq % TND_MB_RING] = seq;
	}
}

/* The browser sends stream B2P and the phone P2B; against the echo
 * (--target loop) each end hears itself, so there the browser sends P2B
 * (it is what the browser receives) and the phone B2P. */
static void send_call(struct tnd_mb *mb, struct tnd_mb_call *c, int64_t now)
{
	uint8_t buf[TND_MB_PKT + TND_PC_SRTP_OVERHEAD];
	bool in_win = mb->window && now >= mb->win0 && now < mb->win1;
	bool loop = mb->o.target == TND_MB_LOOP;
	enum tnd_mb_dir bd = loop ? TND_MB_P2B : TND_MB_B2P, pd = loop ? TND_MB_B2P : TND_MB_P2B;
	int err;

	/* the pc protects in place: each packet starts from the template */
	memcpy(buf, tmpl, TND_MB_PKT);
	stamp(buf, &c->s[bd], bd == TND_MB_P2B, c->idx, now);
	err = mb->o.fast ? tnd_mb_fast_send_browser(c, buf, TND_MB_PKT, sizeof(buf)) :
	      tnd_pc_send_rtp(c->pc, buf, TND_MB_PKT, sizeof(buf));
	if (err)
		mb->send_err[bd]++;
	if (in_win)
		c->s[bd].sent_win++;

	memcpy(buf, tmpl, TND_MB_PKT);
	stamp(buf, &c->s[pd], pd == TND_MB_P2B, c->idx, now);
	err = mb->o.fast ? tnd_mb_fast_queue_phone(c, buf, TND_MB_PKT) :
	      tnd_rtpsock_send_rtp(c->sock, buf, TND_MB_PKT);
	if (err)
		mb->send_err[pd]++;
	if (in_win)
		c->s[pd].sent_win++;
}

static gboolean on_tick(gpointer data)
{
	struct tnd_mb *mb = data;
	int64_t now = g_get_monotonic_time();

	for (unsigned k = 0; k < TND_MB_SLOTS; k++) {
		while (mb->due[k] <= now) {
			if (mb->window && now >= mb->win0 && now < mb->win1)
				hist_add(&mb->late, now - mb->due[k]);
			if (now - mb->due[k] > MAX_BACKLOG_US) {
				mb->due[k] += (now - mb->due[k]) / TND_MB_PTIME_US *
					      TND_MB_PTIME_US;
				continue;
			}
			for (unsigned i = k; i < mb->n_calls; i += TND_MB_SLOTS) {
				struct tnd_mb_call *c = &mb->calls[i];

				if (c->state != TND_MB_C_UP)
					continue;
				if (mb->o.fast && !c->taken)
					tnd_mb_fast_take(c);
				send_call(mb, c, now);
			}
			/* one sendmmsg per phase for every phone in it */
			if (mb->o.fast)
				mb->send_err[mb->o.target == TND_MB_LOOP ? TND_MB_B2P :
					     TND_MB_P2B] += tnd_mb_fast_flush(mb);
			mb->due[k] += TND_MB_PTIME_US;
		}
	}
	/* what arrived since the last tick, stamped by the kernel on arrival */
	if (mb->o.fast)
		tnd_mb_fast_poll(mb);
	return G_SOURCE_CONTINUE;
}

/* The tick's timer, armed for the next phase due (absolute, CLOCK_MONOTONIC
 * as g_get_monotonic_time). GLib rounds its own timeouts up to whole
 * milliseconds, and once --fast 1 no longer wakes the loop for each packet,
 * a 1 ms timeout drifted late by up to a millisecond a tick. */
static void arm(int fd, const struct tnd_mb *mb)
{
	int64_t next = mb->due[0];
	struct itimerspec it = { { 0, 0 }, { 0, 0 } };

	for (unsigned k = 1; k < TND_MB_SLOTS; k++)
		if (mb->due[k] < next)
			next = mb->due[k];
	it.it_value.tv_sec = next / 1000000;
	it.it_value.tv_nsec = (long)(next % 1000000) * 1000;
	timerfd_settime(fd, TFD_TIMER_ABSTIME, &it, NULL);
}

static gboolean on_timer(gint fd, GIOCondition cond, gpointer data)
{
	uint64_t n;

	(void)cond;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return G_SOURCE_REMOVE;
	on_tick(data);
	arm(fd, data);
	return G_SOURCE_CONTINUE;
}

int tnd_mb_media_start(struct tnd_mb *mb)
{
	int64_t t0 = g_get_monotonic_time();
	int fd;

	memset(tmpl, 0xff, sizeof(tmpl));   /* PCMU silence */
	tmpl[0] = 0x80;                      /* V=2, no padding, extension or CSRC */
	tmpl[1] = 0;                         /* PT 0: PCMU */
	for (unsigned k = 0; k < TND_MB_SLOTS; k++)
		mb->due[k] = t0 + (int64_t)k * (TND_MB_PTIME_US / TND_MB_SLOTS);
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd >= 0) {
		arm(fd, mb);
		return g_unix_fd_add(fd, G_IO_IN, on_timer, mb) ? 0 : ENOMEM;
	}
	/* GLib's timeouts have 1 ms resolution, the phases' spacing */
	return g_timeout_add(1, on_tick, mb) ? 0 : ENOMEM;
}

void tnd_mb_media_call_init(struct tnd_mb_call *c)
{
	for (int d = 0; d < TND_MB_NDIR; d++) {
		struct tnd_mb_stream *s = &c->s[d];

		s->ssrc = g_random_int() | 1;
		s->seq = (uint16_t)g_random_int();
		s->ts = g_random_int();
		s->last_transit = INT64_MIN;
	}
}

/* One relayed packet of stream s, sent at `sent`, arrived at `now`. */
static void account(struct tnd_mb *mb, struct tnd_mb_stream *s, enum tnd_mb_dir d,
		    int64_t sent, int64_t now)
{
	int64_t transit = now - sent;

	s->recv_total++;
	if (s->last_transit != INT64_MIN) {
		double dd = (double)(transit - s->last_transit);

		s->jitter += ((dd < 0 ? -dd : dd) - s->jitter) / 16;   /* RFC 3550 A.8 */
	}
	s->last_transit = transit;
	if (!mb->window || sent < mb->win0 || sent >= mb->win1)
		return;
	s->recv_win++;
	hist_add(&mb->lat[d], transit);
	hist_add(&mb->jit[d], (int64_t)s->jitter);
	if (s->jitter > s->jitter_max)
		s->jitter_max = s->jitter;
}

int tnd_mb_media_rx(struct tnd_mb_call *c, enum tnd_mb_dir d, const uint8_t *pkt, size_t len,
		    int64_t now)
{
	struct tnd_mb_stream *s = &c->s[d];
	struct tnd_rtp_hdr h;
	const uint8_t *pl;

	if (tnd_rtp_parse(pkt, len, &h) || h.payload_len < TND_MB_PL_MIN ||
	    tnd_rtp_rd32(pkt + h.payload_off + 8) != c->idx) {
		s->bad++;
		return EBADMSG;
	}
	pl = pkt + h.payload_off;
	if (d == TND_MB_P2B) {
		uint16_t off = (uint16_t)(h.seq - (pl[TND_MB_PL_SEQ] << 8 | pl[TND_MB_PL_SEQ + 1]));

		if (c->seq_off_known && off != c->seq_off && c->mb->window)
			c->mb->rx_remap++;
		c->seq_off = off;
		c->seq_off_known = true;
	}
	account(c->mb, s, d, (int64_t)rd64(pl), now);
	return 0;
}

bool tnd_mb_media_rx_seq(struct tnd_mb_call *c, uint16_t relay_seq, int64_t now)
{
	struct tnd_mb_stream *s = &c->s[TND_MB_P2B];
	uint16_t seq = (uint16_t)(relay_seq - c->seq_off);
	unsigned k = seq % TND_MB_RING;

	if (!c->seq_off_known || s->ring_seq[k] != seq || !s->ring_t[k])
		return false;
	account(c->mb, s, TND_MB_P2B, s->ring_t[k], now);
	return true;
}

void tnd_mb_media_window(struct tnd_mb *mb, double seconds)
{
	for (unsigned i = 0; i < mb->n_calls; i++) {
		for (int d = 0; d < TND_MB_NDIR; d++) {
			mb->calls[i].s[d].sent_win = 0;
			mb->calls[i].s[d].recv_win = 0;
			mb->calls[i].s[d].jitter_max = 0;
		}
	}
	for (int d = 0; d < TND_MB_NDIR; d++) {
		memset(&mb->lat[d], 0, sizeof(mb->lat[d]));
		memset(&mb->jit[d], 0, sizeof(mb->jit[d]));
		mb->send_err[d] = 0;
	}
	memset(&mb->late, 0, sizeof(mb->late));
	mb->rx_decrypted = mb->rx_by_seq = mb->rx_unmatched = 0;
	mb->rx_auth_fail = mb->rx_remap = 0;
	mb->win0 = g_get_monotonic_time();
	mb->win1 = mb->win0 + (int64_t)(seconds * 1e6);
	mb->window = true;
}

/* Closes the window (late arrivals no longer count) and sums it up. */
void tnd_mb_media_tally(struct tnd_mb *mb, struct tnd_mb_tally *t)
{
	double jsum[TND_MB_NDIR] = { 0 };

	memset(t, 0, sizeof(*t));
	mb->window = false;
	for (unsigned i = 0; i < mb->n_calls; i++) {
		const struct tnd_mb_call *c = &mb->calls[i];

		if (!c->s[TND_MB_B2P].sent_win && !c->s[TND_MB_P2B].sent_win)
			continue;
		t->calls++;
		for (int d = 0; d < TND_MB_NDIR; d++) {
			const struct tnd_mb_stream *s = &c->s[d];
			double loss = s->sent_win ? 100.0 * (double)(s->sent_win > s->recv_win ?
					s->sent_win - s->recv_win : 0) / (double)s->sent_win : 0;

			t->sent[d] += s->sent_win;
			t->recv[d] += s->recv_win;
			jsum[d] += s->jitter;
			if (loss > t->worst_loss_pct[d]) {
				t->worst_loss_pct[d] = loss;
				t->worst_loss_call[d] = c->idx;
			}
			if (s->jitter_max > t->worst_jitter_us[d]) {
				t->worst_jitter_us[d] = s->jitter_max;
				t->worst_jitter_call[d] = c->idx;
			}
		}
	}
	for (int d = 0; d < TND_MB_NDIR; d++)
		t->mean_jitter_us[d] = t->calls ? jsum[d] / t->calls : 0;
}
